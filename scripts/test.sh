#!/usr/bin/env bash
# Runs every test of printflow against real PostgreSQL, RabbitMQ, Jaeger, Prometheus,
# Alertmanager and Keycloak, starting them first.
#
# usage: scripts/test.sh [extra cargo test arguments]
#
# Works on a fresh machine: installs what is missing, builds the workspace (the same build
# scripts/stack.sh uses) while the infrastructure starts (idempotent; a running stack is reused,
# tests are isolated in their own databases and vhosts), then runs the workspace's tests.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

started=$(now_us)
# The tests read back every span they cause: a Jaeger that samples (JAEGER_SAMPLING=tail, e.g.
# left by scripts/stack.sh) is refused by infra.sh instead of failing them one by one.
export JAEGER_SAMPLING=all
infra_and_build
# The console's browser tests drive Debian's Chromium through its WebDriver (headless).
apt_install chromium chromium-driver

export PRINTFLOW_TEST_DATABASE_URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
export PRINTFLOW_TEST_AMQP_URL_BASE="amqp://$RABBITMQ_ADMIN_USER:$RABBITMQ_ADMIN_PASSWORD@127.0.0.1:$RABBITMQ_PORT"
export PRINTFLOW_TEST_RABBITMQ_USER="$RABBITMQ_ADMIN_USER" PRINTFLOW_TEST_RABBITMQ_PASSWORD="$RABBITMQ_ADMIN_PASSWORD"
export PRINTFLOW_TEST_RABBITMQ_API="http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT"
export PRINTFLOW_TEST_RABBITMQ_PROMETHEUS_PORT="$RABBITMQ_PROMETHEUS_PORT"
export PRINTFLOW_RABBITMQ_NODE_SCRIPT="$ROOT/scripts/rabbitmq-node.sh"
export PRINTFLOW_RABBITMQ_CLUSTER_SCRIPT="$ROOT/scripts/rabbitmq-cluster.sh"
# The tail sampling tests run their own Jaeger from the binary infra.sh built.
export PRINTFLOW_JAEGER_BIN="$DATA_DIR/bin/jaeger"
export PRINTFLOW_TEST_JAEGER_API="http://127.0.0.1:$JAEGER_QUERY_PORT"
export PRINTFLOW_TEST_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT"
export PRINTFLOW_TEST_KEYCLOAK_URL="http://127.0.0.1:$KEYCLOAK_PORT"

# Databases and vhosts of earlier runs whose test process is gone (crates/test-support).
"$BIN_DIR/remove-test-leftovers"

log "checking the monitoring configuration and unit-testing every alert rule"
(cd "$ROOT/config/prometheus" && promtool check rules rules/*.yml && promtool test rules tests/*.yml)
promtool check config --syntax-only "$ROOT/config/prometheus/prometheus.yml"
for f in "$ROOT"/config/alertmanager/alertmanager.yml "$ROOT"/config/alertmanager/examples/*.yml; do
    amtool check-config "$f" >/dev/null || die "amtool check-config failed for $f"
done
log "checking the container deployments offline: Helm chart, Compose file, Dockerfile (scripts/deploy-check.sh)"
bash "$ROOT/scripts/deploy-check.sh"

log "running cargo test (workspace)"
cd "$ROOT"
# Library, binary and integration tests; no doc tests (there are none, and their empty result
# lines would close the output). The tracing tests run the binaries built above.
out="$LOG_DIR/cargo-test.log"
mkdir -p -- "$LOG_DIR"
rc=0
cargo test --workspace --locked --no-fail-fast --lib --bins --tests "$@" 2>&1 | tee "$out" || rc=$?
log "fuzzing each service's API against its OpenAPI document (scripts/conformance.sh)"
conformance=passed
bash "$ROOT/scripts/conformance.sh" 2>&1 | tee "$LOG_DIR/conformance.log" || { rc=1; conformance=failed; }
count() { grep -Eo "^test result: .* [0-9]+ $1" "$out" | grep -Eo "[0-9]+ $1" | awk '{s+=$1} END {print s+0}'; }
log "finished in $(elapsed_since "$started")"
echo "tests: $(count passed) passed, $(count failed) failed; API conformance: $conformance"
exit "$rc"
