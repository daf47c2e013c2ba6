#!/bin/bash
# One-shot set-up of the containerised RabbitMQ: the service users of config/rabbitmq/permissions
# (mounted at /etc/printflow/rabbitmq/permissions) with those permissions on vhost "/", as
# scripts/infra.sh sets them natively. Runs in the rabbitmq management image (rabbitmqadmin)
# against the broker's management API; idempotent (users and permissions are declared again).
# The administrator is the broker's default user (RABBITMQ_DEFAULT_USER / _PASS), so there is no
# guest. Passwords: RABBITMQ_CRM_PASSWORD, RABBITMQ_MES_PASSWORD (user printflow-NAME takes
# RABBITMQ_NAME_PASSWORD). Also used by the Helm chart's in-cluster dev RabbitMQ.

set -euo pipefail

PERMISSIONS=${PERMISSIONS_FILE:-/etc/printflow/rabbitmq/permissions}
admin=(rabbitmqadmin --host="${RABBITMQ_HOST:-rabbitmq}" --port="${RABBITMQ_MANAGEMENT_PORT:-15672}"
    --username="$RABBITMQ_ADMIN_USER" --password="$RABBITMQ_ADMIN_PASSWORD")

for _ in $(seq 60); do
    "${admin[@]}" list vhosts name >/dev/null 2>&1 && break
    sleep 2
done
"${admin[@]}" list vhosts name >/dev/null

while read -r user conf write read <&3; do
    [[ -z "$user" || "$user" == \#* ]] && continue
    name=${user#printflow-}
    pass_var="RABBITMQ_${name^^}_PASSWORD"
    [[ -n "${!pass_var:-}" ]] || { echo "service-users.sh: $pass_var is not set" >&2; exit 1; }
    "${admin[@]}" declare user name="$user" password="${!pass_var}" tags= >/dev/null
    "${admin[@]}" declare permission vhost=/ user="$user" configure="$conf" write="$write" read="$read" >/dev/null
    echo "RabbitMQ user $user: permissions of $PERMISSIONS on vhost /"
done 3<"$PERMISSIONS"
