#!/usr/bin/env bash
# Drill faults that live outside the services, on the local stack: the database, the broker, a
# process, the model store. The faults inside the services are armed over their admin-only API
# (`PUT /admin/faults/{name}`, docs/architecture.md#drill-faults); scripts/drill.sh uses both.
#
# usage: scripts/fault.sh ACTION [ARGS]
#
#   lock-catalog SECONDS          hold an exclusive lock on the Shop's catalog table (seed point 1:
#                                 searches wait for it until their statement timeout answers 503)
#   purge-queue QUEUE             drop every ready message of a queue of vhost / (seed points 5 and
#                                 7: mes.order_created, crm.order_status_changed; the reconciler
#                                 reports the orders, an admin repairs them)
#   pause SERVICE SECONDS         stop a service's process (SIGSTOP) and continue it (SIGCONT)
#                                 after SECONDS (seed point 8 for crm: the Shop's deadline answers)
#   delete-model DESIGN VERSION   delete a saved model file from the model store (seed point 3)
#
# Targets 127.0.0.1 only. Credentials: the dev defaults of scripts/lib.sh (overridable there).

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage="usage: scripts/fault.sh lock-catalog SECONDS | purge-queue QUEUE | pause SERVICE SECONDS | delete-model DESIGN VERSION"
number() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" >= 1 && "$1" <= 3600)) || die "$2 takes a whole number of seconds, 1 to 3600"; }

case "${1:-}" in
    lock-catalog)
        number "${2:-}" lock-catalog
        command -v psql >/dev/null || apt_install postgresql-client
        log "locking the catalog (products) for $2 s"
        # As the Shop's own role: only it may connect to the Shop's database.
        psql -q "${SHOP_DATABASE_URL:-$(service_db_url shop)}" -v ON_ERROR_STOP=1 \
            -c "BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($2); COMMIT;" >/dev/null
        log "catalog unlocked"
        ;;
    purge-queue)
        [[ "${2:-}" =~ ^[a-z_.]+$ ]] || die "$usage"
        curl -fsS -X DELETE -u "$RABBITMQ_ADMIN_USER:$RABBITMQ_ADMIN_PASSWORD" \
            "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/queues/%2f/$2/contents" ||
            die "RabbitMQ refused to purge $2"
        log "purged $2"
        ;;
    pause)
        [[ "${2:-}" =~ ^(shop|crm|mes)$ ]] || die "$usage"
        number "${3:-}" pause
        pid=$(daemon_pid "$2") || die "$2 is not running (scripts/stack.sh up)"
        trap 'kill -CONT "$pid" 2>/dev/null || true' EXIT
        kill -STOP "$pid"
        log "$2 (pid $pid) paused for $3 s"
        sleep "$3"
        kill -CONT "$pid"
        log "$2 continued"
        ;;
    delete-model)
        [[ "${2:-}" =~ ^[0-9a-f-]{36}$ && "${3:-}" =~ ^[0-9]+$ ]] || die "$usage"
        file="${SHOP_MODEL_STORE_DIR:-$DATA_DIR/models}/designs/$2/v$3.stl"
        [[ -f "$file" ]] || die "no model file $file"
        rm -- "$file"
        log "deleted $file"
        ;;
    *) die "$usage" ;;
esac
