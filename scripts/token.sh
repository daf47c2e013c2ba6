#!/usr/bin/env bash
# Prints an access token of the dev realm for curl:
#
#   curl -H "Authorization: Bearer $(scripts/token.sh customer)" http://127.0.0.1:8080/designs/...
#
# usage: scripts/token.sh ROLE_OR_USER_OR_CLIENT
#
#   customer, support, production, sre, admin   a person with that role (alice, sam, pat, riley, ada)
#   alice, bob, chen, sam, pat, riley, ada      that person (alice, bob and chen are customers)
#   shop-api, crm-api, mes-api, traffic, prometheus
#                                               that client's service account (client credentials)
#
# Dev-only passwords and secrets (docs/security.md): the defaults of config/keycloak's realm file,
# overridden by the same variables Keycloak read at import (PRINTFLOW_DEV_PASSWORD_ALICE,
# PRINTFLOW_SHOP_API_CLIENT_SECRET, ...). Needs Keycloak up (scripts/infra.sh up keycloak).

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

who="${1:-}"
case "$who" in
customer) who=alice ;;
support) who=sam ;;
production) who=pat ;;
sre) who=riley ;;
admin) who=ada ;;
esac

endpoint="http://127.0.0.1:$KEYCLOAK_PORT/realms/printflow/protocol/openid-connect/token"
case "$who" in
alice | bob | chen | sam | pat | riley | ada)
    # --data-urlencode NAME@- reads stdin: the password never appears on a command line.
    form=(-d grant_type=password -d client_id=printflow-cli -d "username=$who"
        --data-urlencode "password@-")
    secret="$(realm_password "$who")"
    ;;
shop-api | crm-api | mes-api | traffic | prometheus)
    form=(-d grant_type=client_credentials -d "client_id=$who" --data-urlencode "client_secret@-")
    secret="$(realm_client_secret "$who")"
    ;;
*)
    sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac

body="$(printf '%s' "$secret" | curl -sS --max-time 10 "${form[@]}" "$endpoint")" ||
    die "Keycloak did not answer at $endpoint (is it up? scripts/infra.sh up keycloak)"
token="$(jq -r '.access_token // empty' <<<"$body" 2>/dev/null || true)"
[[ -n "$token" ]] || die "Keycloak refused a token for '$who': $(jq -r '.error_description // .error // .' <<<"$body" 2>/dev/null || printf '%s' "$body")"
printf '%s\n' "$token"
