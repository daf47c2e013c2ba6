#!/usr/bin/env bash
# The whole printflow system on this machine: infrastructure, the three services and live demo
# traffic.
#
# usage: scripts/stack.sh [up|down|status] [--detach]
#
#   up (default)  install what is missing, build the workspace while the infrastructure starts
#                 (scripts/infra.sh), start CRM, Shop and MES, wait until each is ready, start the
#                 traffic generator, print where everything is, then stay in the foreground:
#                 Ctrl-C stops everything. With --detach it returns once everything is up (stop
#                 with `down`). Running it again restarts the services (data is kept).
#   down          stop traffic, services and infrastructure.
#   status        what is running.
#
# Settings are environment variables with local defaults (README lists them); every port is one.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# Each service finds the others, the databases, the broker and Jaeger at their configured ports.
export SHOP_CRM_URL="${SHOP_CRM_URL:-http://127.0.0.1:$CRM_HTTP_PORT}"
export MES_SHOP_URL="${MES_SHOP_URL:-http://127.0.0.1:$SHOP_HTTP_PORT}"
export TRAFFIC_SHOP_URL="${TRAFFIC_SHOP_URL:-http://127.0.0.1:$SHOP_HTTP_PORT}"
export SHOP_MODEL_STORE_DIR="${SHOP_MODEL_STORE_DIR:-$DATA_DIR/models}"
# Each service as its own database role, owning only its database (scripts/infra.sh).
export SHOP_DATABASE_URL="${SHOP_DATABASE_URL:-$(service_db_url shop)}"
export CRM_DATABASE_URL="${CRM_DATABASE_URL:-$(service_db_url crm)}"
export MES_DATABASE_URL="${MES_DATABASE_URL:-$(service_db_url mes)}"
export CRM_AMQP_URL="${CRM_AMQP_URL:-$(service_amqp_url crm)}"
export MES_AMQP_URL="${MES_AMQP_URL:-$(service_amqp_url mes)}"
# Every service trusts the dev realm; Shop, MES and the traffic generator call with their own
# client credentials (the dev realm's secrets unless set, see docs/security.md).
ISSUER="http://127.0.0.1:$KEYCLOAK_PORT/realms/printflow"
export SHOP_AUTH_ISSUER_URL="${SHOP_AUTH_ISSUER_URL:-$ISSUER}"
export CRM_AUTH_ISSUER_URL="${CRM_AUTH_ISSUER_URL:-$ISSUER}"
export MES_AUTH_ISSUER_URL="${MES_AUTH_ISSUER_URL:-$ISSUER}"
export GATE_AUTH_ISSUER_URL="${GATE_AUTH_ISSUER_URL:-$ISSUER}"
export GATE_JAEGER_OTLP_URL="${GATE_JAEGER_OTLP_URL:-http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT/v1/traces}"
export GATE_JAEGER_QUERY_URL="${GATE_JAEGER_QUERY_URL:-http://127.0.0.1:$JAEGER_QUERY_PORT}"
# The console's other sources (its overview, failure points and order journeys).
export GATE_PROMETHEUS_URL="${GATE_PROMETHEUS_URL:-http://127.0.0.1:$PROMETHEUS_PORT}"
export GATE_ALERTMANAGER_URL="${GATE_ALERTMANAGER_URL:-http://127.0.0.1:$ALERTMANAGER_PORT}"
# CRM's reconciler reads MES's jobs.
export CRM_MES_URL="${CRM_MES_URL:-http://127.0.0.1:$MES_HTTP_PORT}"
export GATE_CRM_URL="${GATE_CRM_URL:-http://127.0.0.1:$CRM_HTTP_PORT}"
# Browser login at the gate (the realm's telemetry-console client) and its audit trail of trace reads.
GATE_OIDC_CLIENT_SECRET="${GATE_OIDC_CLIENT_SECRET:-$(realm_client_secret telemetry-console)}"
export GATE_OIDC_CLIENT_SECRET GATE_AUDIT_LOG="${GATE_AUDIT_LOG:-$LOG_DIR/gate-audit.jsonl}"
export GATE_PUBLIC_URL="${GATE_PUBLIC_URL:-${PRINTFLOW_CONSOLE_URL:-http://127.0.0.1:$GATE_HTTP_PORT}}"
export TRAFFIC_TOKEN_URL="${TRAFFIC_TOKEN_URL:-$ISSUER/protocol/openid-connect/token}"
SHOP_AUTH_CLIENT_SECRET="${SHOP_AUTH_CLIENT_SECRET:-$(realm_client_secret shop-api)}"
MES_AUTH_CLIENT_SECRET="${MES_AUTH_CLIENT_SECRET:-$(realm_client_secret mes-api)}"
CRM_AUTH_CLIENT_SECRET="${CRM_AUTH_CLIENT_SECRET:-$(realm_client_secret crm-api)}"
TRAFFIC_CLIENT_SECRET="${TRAFFIC_CLIENT_SECRET:-$(realm_client_secret traffic)}"
export SHOP_AUTH_CLIENT_SECRET MES_AUTH_CLIENT_SECRET CRM_AUTH_CLIENT_SECRET TRAFFIC_CLIENT_SECRET
export OTEL_EXPORTER_OTLP_PROTOCOL="${OTEL_EXPORTER_OTLP_PROTOCOL:-http/protobuf}"
# Each protocol has its port, at the gate (the services) and at Jaeger (the gate's own spans).
if [[ "$OTEL_EXPORTER_OTLP_PROTOCOL" == grpc ]]; then
    GATE_OTLP_PORT=$GATE_OTLP_GRPC_PORT JAEGER_OTLP_PORT=$JAEGER_OTLP_GRPC_PORT
else
    GATE_OTLP_PORT=$GATE_OTLP_HTTP_PORT JAEGER_OTLP_PORT=$JAEGER_OTLP_HTTP_PORT
fi
export OTEL_EXPORTER_OTLP_ENDPOINT="${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:$JAEGER_OTLP_PORT}"

# In start order: the gate first (every other service exports through it); the outbox and durable
# queues cover a consumer that starts late, but CRM before Shop makes Shop's readiness meaningful.
SERVICES=(gate crm shop mes)
ready_crm() { http_ok "http://127.0.0.1:$CRM_HTTP_PORT/readyz"; }
ready_shop() { http_ok "http://127.0.0.1:$SHOP_HTTP_PORT/readyz"; }
ready_mes() { http_ok "http://127.0.0.1:$MES_HTTP_PORT/readyz"; }
ready_gate() { http_ok "http://127.0.0.1:$GATE_HTTP_PORT/readyz"; }
ready_traffic() { :; }

# start_service NAME: Shop, CRM and MES send their spans through the telemetry gate with their own
# token (client credentials as <name>-api, the gate's writer role); the gate itself exports
# straight to Jaeger (OTEL_EXPORTER_OTLP_ENDPOINT above). The gate starts first, so no span of
# the others' start-up is refused for want of it.
start_service() {
    (
        if [[ "$1" != gate ]]; then
            export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$GATE_OTLP_PORT"
            export TELEMETRY_TOKEN_URL="$ISSUER/protocol/openid-connect/token" TELEMETRY_CLIENT_ID="$1-api"
            TELEMETRY_CLIENT_SECRET="$(realm_client_secret "$1-api")"
            export TELEMETRY_CLIENT_SECRET
        fi
        daemon_start "$1" - "$BIN_DIR/printflow-$1"
    )
}

# SIGTERM: the services drain and flush on it.
stop_services() {
    local name
    for name in traffic "${SERVICES[@]}"; do daemon_stop "$name" 20; done
}

stop_all() {
    stop_services
    bash "$ROOT/scripts/infra.sh" down
}

up() {
    local started name
    started=$(now_us)
    infra_and_build
    # Running twice is safe: a previous stack's processes are replaced, their data kept.
    stop_services
    mkdir -p -- "$SHOP_MODEL_STORE_DIR"
    for name in "${SERVICES[@]}"; do start_service "$name"; done
    for name in "${SERVICES[@]}"; do daemon_wait "$name" 90; done
    daemon_start traffic - "$BIN_DIR/printflow-traffic"
    print_endpoints
    cat <<INFO
  Shop API   http://127.0.0.1:$SHOP_HTTP_PORT, CRM API http://127.0.0.1:$CRM_HTTP_PORT, MES API http://127.0.0.1:$MES_HTTP_PORT (each: /openapi.json)
  Demo       traffic is running (TRAFFIC_RATE=${TRAFFIC_RATE:-2.0} journeys/s); to order by hand see "Try it" in README.md
printflow is up.
INFO
    log "started in $(elapsed_since "$started")"
    [[ "$1" == 1 ]] && return 0
    trap 'echo; log "stopping everything"; stop_all; exit 0' INT TERM
    log "press Ctrl-C to stop everything (or run: scripts/stack.sh down)"
    # Watch the processes: if one dies, say so instead of pretending all is well.
    while :; do
        for name in "${SERVICES[@]}" traffic; do
            if ! daemon_running "$name"; then
                warn "$name exited"
                show_logs "$LOG_DIR/$name.log"
                stop_all
                exit 1
            fi
        done
        sleep 2 &
        wait $! || true
    done
}

status() {
    bash "$ROOT/scripts/infra.sh" status || true
    daemon_status crm "http://127.0.0.1:$CRM_HTTP_PORT" || true
    daemon_status shop "http://127.0.0.1:$SHOP_HTTP_PORT" || true
    daemon_status mes "http://127.0.0.1:$MES_HTTP_PORT" || true
    daemon_status gate "telemetry gate: console http://127.0.0.1:$GATE_HTTP_PORT/ (sign in as sam, riley, ada, pat), OTLP 127.0.0.1:$GATE_OTLP_GRPC_PORT (gRPC) and 127.0.0.1:$GATE_OTLP_HTTP_PORT (HTTP), query http://127.0.0.1:$GATE_HTTP_PORT/api/..." || true
    daemon_status traffic "demo traffic to Shop" || true
}

cmd=up detach=0
for arg in "$@"; do
    case "$arg" in
    up | down | status) cmd=$arg ;;
    --detach | -d) detach=1 ;;
    *) die "usage: scripts/stack.sh [up|down|status] [--detach]" ;;
    esac
done
case "$cmd" in
up) up "$detach" ;;
down) stop_all ;;
status) status ;;
esac
