#!/usr/bin/env bash
# Runs every test of printflow against real PostgreSQL, RabbitMQ and Jaeger, starting them first.
#
# usage: scripts/test.sh [extra cargo test arguments]
#
# Works on a fresh machine: installs what is missing (Debian packages), starts the
# infrastructure (idempotent; a running dev stack is reused, tests are isolated in their own
# databases and vhosts), then runs the whole Cargo workspace's tests.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

started=$(now_us)
bash "$ROOT/scripts/infra.sh" install
bash "$ROOT/scripts/infra.sh" up

# Leftovers of earlier runs: each test creates a database and a vhost and does not wait to drop
# them, so clear them here (best effort; a test run in progress elsewhere keeps its own).
log "removing test databases and vhosts left by earlier runs"
run_as postgres psql -h "$DATA_DIR/run" -p "$PG_PORT" -d postgres -qAt -c \
    "SELECT format('DROP DATABASE IF EXISTS %I;', datname) FROM pg_database
     WHERE datname LIKE 'test\_%' AND datname NOT LIKE 'tmpl\_%'" 2>/dev/null |
    run_as postgres psql -h "$DATA_DIR/run" -p "$PG_PORT" -d postgres -q >/dev/null 2>&1 || true
# (None to remove on a fresh machine: grep then finds nothing, which must not end the script.)
{ curl -fsS -u guest:guest "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/vhosts" 2>/dev/null |
    grep -o '"name":"test-[0-9a-f]*"' | cut -d'"' -f4 || true; } |
    while read -r vhost; do
        curl -fsS -o /dev/null -u guest:guest -X DELETE \
            "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/vhosts/$vhost" || true
    done

export PRINTFLOW_TEST_DATABASE_URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
export PRINTFLOW_TEST_AMQP_URL_BASE="amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT"
export PRINTFLOW_TEST_RABBITMQ_API="http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT"
export PRINTFLOW_RABBITMQ_NODE_SCRIPT="$ROOT/scripts/rabbitmq-node.sh"
export PRINTFLOW_TEST_JAEGER_API="http://127.0.0.1:16686"
export PRINTFLOW_TEST_OTLP_ENDPOINT="http://127.0.0.1:4318"

log "checking the monitoring configuration and unit-testing every alert rule"
(cd "$ROOT/config/prometheus" && promtool check rules rules/*.yml && promtool test rules tests/*.yml)
promtool check config --syntax-only "$ROOT/config/prometheus/prometheus.yml"
for f in "$ROOT"/config/alertmanager/alertmanager.yml "$ROOT"/config/alertmanager/examples/*.yml; do
    amtool check-config "$f" >/dev/null || die "amtool check-config failed for $f"
done

log "running cargo test (workspace)"
cd "$ROOT"
# Library, binary and integration tests; no doc tests (there are none, and their empty result
# lines would close the output).
# The tracing tests run the real binaries (each its own process, tracer and service.name).
cargo build --workspace --locked --bins
out="$DATA_DIR/logs/cargo-test.log"
mkdir -p -- "$(dirname -- "$out")"
rc=0
cargo test --workspace --locked --no-fail-fast --lib --bins --tests "$@" 2>&1 | tee "$out" || rc=$?
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$out" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$out" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
log "finished in $(elapsed_since "$started")"
echo "tests: $passed passed, $failed failed"
exit "$rc"
