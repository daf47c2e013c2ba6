#!/usr/bin/env bash
# Benchmark: the telemetry gate's ingestion rate on this machine. wrk posts one OTLP/HTTP batch
# (SPANS spans shaped like a Shop server span, written by the gate's `otlp_batch` example) over and
# over with the Shop's own token to a release build of the gate in front of the running Jaeger;
# the gate checks, redacts, buffers and forwards every batch as in the stack.
#
# usage: scripts/bench-gate.sh [--duration SECONDS] [--spans N] [--connections N] [--no-record]
#
# Prints POSTs/s answered (and how many were told to retry later because the buffer to Jaeger was
# full), batches/s and spans/s accepted, POST latency, spans/s Jaeger stored (until the gate's
# buffer is empty again) and spans dropped, and appends them with the date and the machine to
# docs/benchmarks.md. Targets 127.0.0.1 only; every run is bounded in time.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

DURATION=20
SPANS=100
CONNECTIONS=4
RECORD=1
usage="usage: scripts/bench-gate.sh [--duration SECONDS] [--spans N] [--connections N] [--no-record]"
while (($#)); do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --spans) SPANS=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --no-record) RECORD=0; shift ;;
        *) die "$usage" ;;
    esac
done

BENCH_PORT=18190
apt_install wrk
bash "$ROOT/scripts/infra.sh" install
bash "$ROOT/scripts/infra.sh" up
log "building the gate (release)"
(cd "$ROOT" && cargo build --release --locked -p printflow-gate --bin printflow-gate --example otlp_batch)

WORK="$(mktemp -d /tmp/printflow-bench-gate.XXXXXX)"
trap 'daemon_stop bench-gate; rm -rf -- "$WORK"' EXIT
"$ROOT/target/release/examples/otlp_batch" shop-api "$SPANS" >"$WORK/batch.pb"
cat >"$WORK/post.lua" <<'LUA'
local f = assert(io.open(os.getenv("BENCH_BATCH"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/x-protobuf"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
LUA

bench_gate_start "$BENCH_PORT" "$WORK"

SCRAPE_TOKEN="$(bash "$ROOT/scripts/token.sh" prometheus)"
# metric NAME_AND_LABELS -> the sum of the matching series (0 when absent)
metric() {
    curl -sf -H "Authorization: Bearer $SCRAPE_TOKEN" "http://127.0.0.1:$BENCH_PORT/metrics" |
        awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%.0f\n", s }'
}

export BENCH_BATCH="$WORK/batch.pb" BENCH_TOKEN
BENCH_TOKEN="$(bash "$ROOT/scripts/token.sh" shop-api)"
# Warm-up: connections, the key set, allocations.
wrk -t1 -c2 -d3s -s "$WORK/post.lua" "http://127.0.0.1:$BENCH_PORT/v1/traces" >/dev/null
accepted0=$(metric 'gate_ingest_spans_total{client="shop-api",outcome="accepted"}')
stored0=$(metric 'gate_stored_spans_total')
started=$(now_us)
out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$BENCH_PORT/v1/traces")
# Until Jaeger has taken everything the gate accepted (bounded: a stuck buffer is a result too).
deadline=$(($(date +%s) + 120))
while (($(metric 'gate_buffered_spans') > 0)) && (($(date +%s) < deadline)); do sleep 0.2; done
drained_s=$(awk -v a="$started" -v b="$(now_us)" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
accepted=$(($(metric 'gate_ingest_spans_total{client="shop-api",outcome="accepted"}') - accepted0))
stored=$(($(metric 'gate_stored_spans_total') - stored0))
dropped=$(metric 'gate_spans_dropped_total')
left=$(metric 'gate_buffered_spans')

read -r rps p50 p99 bad < <(awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad == "" ? 0 : bad) }
' <<<"$out")
in_rate=$(awk -v n="$accepted" -v d="$DURATION" 'BEGIN {printf "%.0f", n / d}')
batch_rate=$(awk -v n="$accepted" -v d="$DURATION" -v s="$SPANS" 'BEGIN {printf "%.0f", n / s / d}')
stored_rate=$(awk -v n="$stored" -v d="$drained_s" 'BEGIN {printf "%.0f", n / d}')

table=$(cat <<TABLE

### Telemetry gate ingestion ($(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD))

Machine: $(machine_summary); wrk -t2
-c$CONNECTIONS, ${DURATION} s, one OTLP/HTTP batch of $SPANS spans posted with the Shop's token to
a release build of the gate (its own tracing on), in front of Jaeger (memory storage); Keycloak,
Jaeger, the gate and wrk on the same machine.

| figure | value |
|---|---|
| POSTs answered per second (of them "retry later", 503) | $rps ($bad in ${DURATION} s) |
| batches accepted per second | $batch_rate |
| spans accepted per second | $in_rate |
| POST /v1/traces p50 / p99 | $p50 ms / $p99 ms |
| spans stored by Jaeger per second (run + drain, ${drained_s} s) | $stored_rate |
| spans dropped / still buffered at the end | $dropped / $left |
TABLE
)
printf '%s\n' "$table"
if ((RECORD)); then
    printf '%s\n' "$table" >>"$ROOT/docs/benchmarks.md"
    log "appended to docs/benchmarks.md"
fi
