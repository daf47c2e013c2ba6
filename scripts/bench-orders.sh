#!/usr/bin/env bash
# Benchmark: orders end to end, from placement through the Shop to SHIPPED in CRM, on a real
# stack on this machine, and the bound the same machine sets, measured in the same run.
#
# usage: scripts/bench-orders.sh [--duration SECONDS] [--warmup SECONDS] [--connections N]
#                                [--rate ORDERS_PER_SECOND] [--status-connections N]
#                                [--status-rate READS_PER_SECOND]
#                                [--printers N] [--no-record]
#
# 1. Starts release builds of the telemetry gate, CRM, Shop and MES on ports of their own
#    (18380-18392), on the infrastructure of scripts/infra.sh (started if needed), with the
#    production phases at zero duration (MES_TIME_SCALE=0) and --printers printers, every
#    service tracing 100 % through the gate to Jaeger as in the stack. The stack's own services
#    must not run (they share the databases): stop them with `scripts/stack.sh down`.
# 2. printflow-bench-orders: --connections customers place orders back to back (closed loop)
#    (with --rate, paced to that many orders per second together: the pipeline after placement
#    is slower than placement, and unpaced customers measure an overloaded system whose backlog
#    only grows) and --status-connections read recent orders' statuses, a warm-up, then the
#    measured window. The status readers are a probe, paced to --status-rate reads per second
#    together (default 20; 0 reads back to back), so they measure the latency under the order
#    load without becoming a load of their own that grows as reads get faster. The processes'
#    CPU use over the run says where the time went.
# 3. From the databases: orders that reached SHIPPED in the window; write transactions per
#    order (transaction ids used: read-only transactions, such as the MES scheduler's idle
#    ticks, take none, so they neither count nor dilute the bound).
# 4. Spans lost: spans the services' SDKs ended but never exported (queue full) or failed to
#    export, batches and spans the gate refused or dropped, spans Jaeger refused; then a sample
#    of the window's orders whose trace in Jaeger is checked complete.
# 5. The bound: pgbench running config/bench/order-transactions.sql (one order's transactions)
#    and RabbitMQ PerfTest publishing persistent messages with confirms to a quorum queue,
#    divided by the messages one order sends.
# 6. With Jaeger started with JAEGER_SAMPLING=tail (scripts/infra.sh down jaeger first), also
#    the storage tail sampling saved at this load (scripts/bench-sampling.sh, spans received vs
#    stored), and the trace check counts the sampled orders Jaeger kept (each must be complete).
# Prints the table and appends it, with the date and the machine, to docs/benchmarks.md.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

DURATION=60
WARMUP=15
# Four customers: on the 2-core machine eight placed orders faster (about 60/s) than the rest of
# the pipeline, sharing the same cores, could carry them on, and the backlog only grew.
CONNECTIONS=4
STATUS_CONNECTIONS=2
STATUS_RATE=20
RATE=""
PRINTERS=200
RECORD=1
usage() { die "usage: scripts/bench-orders.sh [--duration S] [--warmup S] [--connections N] [--rate N] [--status-connections N] [--status-rate N] [--printers N] [--no-record]"; }
while (($#)); do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --status-connections) STATUS_CONNECTIONS=$2; shift 2 ;;
        --status-rate) STATUS_RATE=$2; shift 2 ;;
        --printers) PRINTERS=$2; shift 2 ;;
        --no-record) RECORD=0; shift ;;
        *) usage ;;
    esac
done
# Messages one order sends through the broker: order.created and six order.status_changed.
MESSAGES_PER_ORDER=7
GATE_PORT=18380
PORT_CRM=18391 PORT_SHOP=18390 PORT_MES=18392

for name in shop crm mes traffic; do
    daemon_running "$name" && die "the stack's $name runs and shares the databases: stop the stack first (scripts/stack.sh down)"
done
apt_install jq
bash "$ROOT/scripts/infra.sh" install
bash "$ROOT/scripts/infra.sh" up
log "building the services, the gate and the benchmark client (release)"
(cd "$ROOT" && cargo build --release --locked -p printflow-shop -p printflow-crm -p printflow-mes \
    -p printflow-gate -p printflow-traffic)

SAMPLING="$(cat "$RUN_DIR/jaeger.sampling" 2>/dev/null || echo all)"
WORK="$(mktemp -d /tmp/printflow-bench-orders.XXXXXX)"
cleanup() {
    local name
    for name in bench-shop bench-crm bench-mes bench-gate; do daemon_stop "$name" 20 || true; done
    rm -rf -- "$WORK"
}
trap cleanup EXIT
bench_gate_start "$GATE_PORT" "$WORK"

ISSUER="http://127.0.0.1:$KEYCLOAK_PORT/realms/printflow"
TOKEN_URL="$ISSUER/protocol/openid-connect/token"
# start_bench NAME PORT: one service as daemon bench-NAME, exporting through the bench gate with
# its own token, configured as scripts/stack.sh configures it.
start_bench() {
    local name=$1 port=$2 upper=${1^^} secret amqp=""
    secret=$(realm_client_secret "$name-api")
    [[ "$name" == shop ]] || amqp=$(service_amqp_url "$name")
    (
        # Batches leave every second (default 5 s), so what a look at the span counters finds
        # still queued is at most a second's worth: see queued() below.
        export RUST_LOG=info OTEL_TRACES_SAMPLER=always_on OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
            OTEL_BSP_SCHEDULE_DELAY=1000 \
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$((GATE_PORT + 2))" \
            TELEMETRY_TOKEN_URL="$TOKEN_URL" TELEMETRY_CLIENT_ID="$name-api" TELEMETRY_CLIENT_SECRET="$secret"
        export "${upper}_HTTP_PORT=$port" "${upper}_AUTH_ISSUER_URL=$ISSUER" \
            "${upper}_DATABASE_URL=$(service_db_url "$name")" "${upper}_AUTH_CLIENT_SECRET=$secret"
        case "$name" in
            crm) export CRM_AMQP_URL="$amqp" CRM_MES_URL="http://127.0.0.1:$PORT_MES" ;;
            shop) export SHOP_CRM_URL="http://127.0.0.1:$PORT_CRM" SHOP_MODEL_STORE_DIR="$DATA_DIR/models" ;;
            mes) export MES_AMQP_URL="$amqp" MES_SHOP_URL="http://127.0.0.1:$PORT_SHOP" \
                MES_TIME_SCALE=0 MES_PRINTERS="$PRINTERS" MES_TICK_MS=50 ;;
        esac
        daemon_start "bench-$name" - "$ROOT/target/release/printflow-$name"
    )
    eval "ready_bench-$name() { http_ok http://127.0.0.1:$port/readyz; }"
    daemon_wait "bench-$name" 60
}
mkdir -p -- "$DATA_DIR/models"
start_bench crm "$PORT_CRM"
start_bench shop "$PORT_SHOP"
start_bench mes "$PORT_MES"

# ---------------------------------------------------------------------------- observations
METRICS_TOKEN=""
metrics_token() {
    METRICS_TOKEN=$(curl -fsS "$TOKEN_URL" -d grant_type=client_credentials -d client_id=prometheus \
        --data-urlencode "client_secret=$(realm_client_secret prometheus)" | jq -r .access_token)
}
# scrape PORT: a service's /metrics.
scrape() { curl -fsS -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$1/metrics"; }
# sum_of TEXT METRIC [FILTER-REGEX]: the sum of a metric's samples (whose line matches FILTER).
sum_of() {
    awk -v m="$2" -v f="${3:-.}" '$1 ~ "^"m"({|$)" && $0 ~ f && $1 !~ /^#/ { s += $NF } END { printf "%.0f\n", s }' <<<"$1"
}
# span_counts: "ended exported_ok exported_failed" summed over the three services.
span_counts() {
    local port text ended=0 ok=0 failed=0
    for port in "$PORT_CRM" "$PORT_SHOP" "$PORT_MES"; do
        text=$(scrape "$port")
        ended=$((ended + $(sum_of "$text" otel_sdk_span_ended_total)))
        ok=$((ok + $(sum_of "$text" otel_sdk_exporter_span_exported_total 'outcome="success"')))
        failed=$((failed + $(sum_of "$text" otel_sdk_exporter_span_exported_total 'outcome="failure"')))
    done
    echo "$ended $ok $failed"
}
# gate_counts: "refused_batches buffer_full_spans dropped_spans".
gate_counts() {
    local text all accepted full
    text=$(scrape "$GATE_PORT")
    all=$(sum_of "$text" gate_ingest_batches_total)
    accepted=$(sum_of "$text" gate_ingest_batches_total 'outcome="accepted"')
    full=$(sum_of "$text" gate_ingest_batches_total 'outcome="buffer_full"')
    echo "$((all - accepted - full)) $(sum_of "$text" gate_ingest_spans_total 'outcome="buffer_full"') $(sum_of "$text" gate_spans_dropped_total)"
}
jaeger_refused() { sum_of "$(curl -fsS "http://127.0.0.1:$JAEGER_METRICS_PORT/metrics")" otelcol_receiver_refused_spans; }
# write_xacts: transaction ids handed out so far, cluster-wide: one per transaction that wrote.
# Only printflow writes to this PostgreSQL during a run (Keycloak keeps a file database).
write_xacts() { psql "$(service_db_url crm)" -XAtc "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"; }
crm_sql() { psql "$(service_db_url crm)" -XAtc "$1"; }
# cpu_ticks: "name ticks" per process name (comm, 15 characters at most), user + system time of
# every live process. Two looks around the window give where the machine's CPU went.
cpu_ticks() {
    local f
    for f in /proc/[0-9]*/stat; do cat -- "$f" 2>/dev/null || true; done |
        awk '{ i = index($0, "("); j = index($0, ") "); name = substr($0, i + 1, j - i - 1)
               split(substr($0, j + 2), f, " "); t[name] += f[12] + f[13] }
             END { for (n in t) print n, t[n] }'
}

metrics_token
# "ended - exported" over the three services, the smallest of a few looks 1.5 s apart: what
# sits in the batch queues (or was dropped). Each look's own /metrics requests end a span per
# service after the counters were read; the next look, 1.5 s later, finds them exported.
queued() {
    local best="" e o f d
    for _ in $(seq 1 "$1"); do
        read -r e o f < <(span_counts)
        d=$((e - o - f))
        [[ -z "$best" || $d -lt $best ]] && best=$d
        ((best == 0)) && break
        sleep 1.5
    done
    echo "$best"
}
queued0=$(queued 6)
read -r ended0 _ failed0 < <(span_counts)
read -r gref0 gfull0 gdrop0 < <(gate_counts)
jref0=$(jaeger_refused)
bash "$ROOT/scripts/bench-sampling.sh" snapshot "$WORK/sampling0"

log "placing orders: $CONNECTIONS customers, ${WARMUP} s warm-up, ${DURATION} s measured"
run_start=$(date +%s.%N)
writes_start=$(write_xacts)
cpu_ticks >"$WORK/cpu0"
# The second look is taken just before the client ends (its own CPU counts too).
(sleep "$((WARMUP + DURATION - 1))"; cpu_ticks >"$WORK/cpu1") &
cpu_sampler=$!
REPORT=$(TRAFFIC_CLIENT_SECRET="$(realm_client_secret traffic)" TRAFFIC_TOKEN_URL="$TOKEN_URL" \
    "$ROOT/target/release/printflow-bench-orders" --shop-url "http://127.0.0.1:$PORT_SHOP" \
    --connections "$CONNECTIONS" ${RATE:+--rate "$RATE"} --status-connections "$STATUS_CONNECTIONS" \
    $( ((STATUS_RATE > 0)) && echo --status-rate "$STATUS_RATE") \
    --warmup-seconds "$WARMUP" --duration-seconds "$DURATION")
wait "$cpu_sampler"
run_seconds=$((WARMUP + DURATION - 1))
printf '%s\n' "$REPORT" >"$WORK/report.json"
# Cores used per process name over warm-up and window, the busiest first: where the time went.
hz=$(getconf CLK_TCK)
cpu_table=$(awk -v hz="$hz" -v s="$run_seconds" 'NR == FNR { a[$1] = $2; next }
    { d = $2 - a[$1]; if (d > 0) printf "%s %.2f\n", $1, d / hz / s }' "$WORK/cpu0" "$WORK/cpu1" |
    sort -k2 -rn | head -12 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
log "cores used per process during the run: $cpu_table"
log "client report: $REPORT"
jf() { jq -r "$1" <<<"$REPORT"; }
start=$(jf .window_start) end=$(jf .window_end) placed=$(jf .placed)

shipped=$(crm_sql "SELECT count(*) FROM orders WHERE status = 'SHIPPED' AND status_since >= to_timestamp($start) AND status_since < to_timestamp($end)")
window=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
shipped_rate=$(awk -v n="$shipped" -v w="$window" 'BEGIN {printf "%.1f", n / w}')

log "waiting for the window's orders to ship and their spans to be exported"
all_shipped() {
    [[ $(crm_sql "SELECT count(*) FROM orders WHERE created_at >= to_timestamp($start) AND created_at < to_timestamp($end) AND status NOT IN ('SHIPPED', 'FAILED', 'CANCELLED')") == 0 ]]
}
wait_for 180 "the window's orders to ship" all_shipped
metrics_token
# Every order of the run is done: the write transactions it took, per order.
writes_end=$(write_xacts)
run_orders=$(crm_sql "SELECT count(*) FROM orders WHERE created_at >= to_timestamp($run_start)")
per_order=$(awk -v a="$writes_start" -v b="$writes_end" -v n="$run_orders" 'BEGIN {printf "%.1f", (b - a) / n}')
# Spans still queued look like drops until the next export (every 5 s), and the services'
# background work keeps ending spans: the SDK's loss is the growth of the smallest
# "ended - exported" of a few looks (0 once a batch left with nothing behind).
sdk_dropped=$(($(queued 12) - queued0))
read -r ended1 _ failed1 < <(span_counts)
read -r gref1 gfull1 gdrop1 < <(gate_counts)
jref1=$(jaeger_refused)
ended=$((ended1 - ended0)) sdk_failed=$((failed1 - failed0))
gate_refused=$((gref1 - gref0)) gate_lost=$((gfull1 - gfull0 + gdrop1 - gdrop0))
jaeger_lost=$((jref1 - jref0))
spans_lost=$((sdk_dropped + sdk_failed + gate_lost + jaeger_lost))

# A sample of the window's orders: each trace must hold the whole journey, with no span whose
# parent is missing.
# With tail sampling, every trace is decided (and stored or dropped) first; a sampled order whose
# trace was not kept is then no loss, a kept one must still be whole.
tries=30 not_kept=0
if [[ "$SAMPLING" != all ]]; then
    sampling_table=$(bash "$ROOT/scripts/bench-sampling.sh" report "$WORK/sampling0")
    tries=1
fi
complete=0 checked=0 incomplete=()
for id in $(jf '.sample[]'); do
    checked=$((checked + 1))
    ok=0
    for _ in $(seq 1 "$tries"); do
        verdict=$(curl -fsS -G "http://127.0.0.1:$JAEGER_QUERY_PORT/api/traces" --data-urlencode service=shop-api \
            --data-urlencode operation=order.place --data-urlencode "tags={\"order.id\":\"$id\"}" --data-urlencode limit=1 --data-urlencode lookback=1h | jq -r '
            (.data[0] // {spans: [], processes: {}}) as $t
            | ($t.spans | map(.spanID)) as $ids
            | [$t.spans[] | {name: .operationName, svc: $t.processes[.processID].serviceName,
                             orphan: ([.references[]? | select(.refType == "CHILD_OF") | .spanID | IN($ids[]) | not] | any)}] as $s
            | if ([$s[] | select(.name == "process crm.order_status_changed" and .svc == "crm-api")] | length) >= 6
                 and ([$s[] | select(.name == "publish order.status_changed" and .svc == "mes-api")] | length) >= 6
                 and ([$s[] | select(.name == "process mes.order_created")] | length) >= 1
                 and ([$s[] | select(.name == "order.place" and .svc == "shop-api")] | length) == 1
                 and ([$s[] | select(.orphan)] | length) == 0
              then "complete" else "incomplete \($s | length) spans" end' 2>/dev/null || echo "unreadable")
        [[ "$verdict" == complete ]] && { ok=1; break; }
        sleep 1
    done
    if ((ok)); then
        complete=$((complete + 1))
    elif [[ "$SAMPLING" != all && "$verdict" == "incomplete 0 spans" ]]; then
        checked=$((checked - 1)) not_kept=$((not_kept + 1))
    else
        incomplete+=("$id ($verdict)")
    fi
done

# ------------------------------------------------------------------------------- the bound
log "the bound: pgbench with one order's transactions"
PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -XAtq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'printflow_bench'" | grep -q 1 ||
    PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -Xq -c "CREATE DATABASE printflow_bench"
PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d printflow_bench -Xq \
    -v ON_ERROR_STOP=1 -f "$ROOT/config/bench/order-tables.sql" 2>/dev/null
pg_clients=$((CONNECTIONS * 2))
pg_before=$(write_xacts)
pg_start=$(date +%s.%N)
# Prepared statements (-M prepared), as the services' database driver sends them.
pg_tps=$(PGPASSWORD="$PG_PASSWORD" pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -c "$pg_clients" -j 2 \
    -M prepared -T 30 -f "$ROOT/config/bench/order-transactions.sql" printflow_bench 2>&1 | awk '/^tps/ {printf "%.1f", $3}')
pg_commit_rate=$(awk -v a="$pg_before" -v b="$(write_xacts)" -v s="$pg_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", (b - a) / (e - s)}')
# What PostgreSQL alone could carry: its rate of order-shaped write transactions over the write
# transactions one order really takes.
pg_orders=$(awk -v r="$pg_commit_rate" -v n="$per_order" 'BEGIN {printf "%.1f", r / n}')

log "the bound: RabbitMQ PerfTest, persistent messages with confirms to a quorum queue"
(cd "$ROOT/tools/perf-test" && mvn -q dependency:build-classpath -Dmdep.outputFile="$WORK/cp.txt" >/dev/null)
queue="printflow-bench-bound-$$"
rmq_rate=$(java -cp "$(<"$WORK/cp.txt")" com.rabbitmq.perf.PerfTest \
    --uri "amqp://$RABBITMQ_ADMIN_USER:$RABBITMQ_ADMIN_PASSWORD@127.0.0.1:$RABBITMQ_PORT/%2f" \
    --queue "$queue" --queue-args x-queue-type=quorum --auto-delete false --flag persistent \
    --confirm 64 --producers 4 --consumers 4 --time 30 2>&1 | awk '/sending rate avg/ {print $(NF-1)}')
curl -fsS -o /dev/null -X DELETE -u "$RABBITMQ_ADMIN_USER:$RABBITMQ_ADMIN_PASSWORD" \
    "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/queues/%2F/$queue" || warn "could not delete queue $queue"
rmq_orders=$(awk -v r="$rmq_rate" -v m="$MESSAGES_PER_ORDER" 'BEGIN {printf "%.1f", r / m}')
bound=$(awk -v a="$pg_orders" -v b="$rmq_orders" 'BEGIN {printf "%.1f", (a < b ? a : b)}')
bound_by=$(awk -v a="$pg_orders" -v b="$rmq_orders" 'BEGIN {print (a < b ? "PostgreSQL" : "RabbitMQ")}')
ratio=$(awk -v s="$shipped_rate" -v b="$bound" 'BEGIN {printf "%.0f", s / b * 100}')

when=$(date -u +%Y-%m-%d)
table=$(cat <<TABLE

### Orders end to end, and the bound ($when)

Machine: $(machine_summary); release builds; PostgreSQL, RabbitMQ, Keycloak, the gate, Jaeger
and the load on the same machine. $CONNECTIONS closed-loop customers placing orders${RATE:+ (paced to $RATE orders/s together)} and
$STATUS_CONNECTIONS reading statuses$( ((STATUS_RATE > 0)) && echo " (paced to $STATUS_RATE reads/s together)") through one Shop; MES at zero production time with
$PRINTERS printers; every span sampled and exported through the gate. ${WARMUP} s warm-up,
${window} s measured.

| figure | value |
|---|---|
| orders placed | $(jf .placed_per_second | xargs printf '%.1f') /s ($placed, $(jf .placement_errors) failed) |
| orders reaching SHIPPED | $shipped_rate /s ($shipped) |
| placement p50 / p99 | $(jf .placement_p50_ms | xargs printf '%.1f') / $(jf .placement_p99_ms | xargs printf '%.1f') ms |
| status query p50 / p99 | $(jf .status_p50_ms | xargs printf '%.1f') / $(jf .status_p99_ms | xargs printf '%.1f') ms ($(jf .status_reads) reads, $(jf .status_errors) failed) |
| write transactions per order (transaction ids, over the $run_orders orders of the run) | $per_order |
| bound: PostgreSQL, order-shaped transactions (pgbench, $pg_clients clients, config/bench/order-transactions.sql) | $pg_commit_rate write transactions/s ($pg_tps scripts/s of 21 writes and 1 read) = $pg_orders orders/s at $per_order per order |
| bound: RabbitMQ, confirmed persistent publishes to a quorum queue | $rmq_rate msg/s = $rmq_orders orders/s at $MESSAGES_PER_ORDER messages per order |
| printflow / bound ($bound_by) | $ratio % (goal: at least 50 %) |
| spans ended in the services | $ended |
| spans lost: SDK queue full / export failed / gate / Jaeger | $sdk_dropped / $sdk_failed / $gate_lost / $jaeger_lost (total $spans_lost; goal 0); batches refused at the gate: $gate_refused |
| sampled traces complete | $complete of $checked$( ((not_kept)) && echo " kept by tail sampling ($not_kept more not kept)") |
| Jaeger sampling | $SAMPLING |
| cores used during warm-up and window (of $(nproc)), busiest processes | $cpu_table |
TABLE
)
if [[ "$SAMPLING" != all ]]; then
    table+=$'\n\nTail sampling at this load (scripts/bench-sampling.sh, over the whole run):\n\n'"$sampling_table"
fi
printf '%s\n' "$table"
((${#incomplete[@]} == 0)) || warn "incomplete traces: ${incomplete[*]}"
if ((RECORD)); then
    printf '%s\n' "$table" >>"$ROOT/docs/benchmarks.md"
    log "appended to docs/benchmarks.md"
fi
