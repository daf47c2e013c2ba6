#!/usr/bin/env bash
# Benchmark: catalog search throughput and latency with tracing on (100% sampling, exporting with
# the Shop's own token through the telemetry gate to Jaeger, as in the stack) against the same
# release build with OTEL_SDK_DISABLED=true, in one run on this machine.
#
# usage: scripts/bench-search.sh [--duration SECONDS] [--rounds N] [--connections N] [--no-record]
#
# Runs the two variants alternately (A B A B ...) so drift on the machine hits both equally,
# prints the figures and appends them, with the date and the machine, to docs/benchmarks.md.
# Load comes from wrk (Debian) and targets 127.0.0.1 only; every run is bounded in time.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

DURATION=20
ROUNDS=2
# Four connections reach the same rate on this 2-core machine as sixteen (about 1,200 searches/s)
# without queueing behind each other, so p99 is the cost of a request, not the length of a queue
# whose noise is larger than the 1 ms budget (docs/benchmarks.md, 2026-12-01).
CONNECTIONS=4
RECORD=1
while (($#)); do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --no-record) RECORD=0; shift ;;
        *) die "usage: scripts/bench-search.sh [--duration SECONDS] [--rounds N] [--connections N] [--no-record]" ;;
    esac
done

QUERY="/catalog/products?q=organizer&category=office&sort=price_asc&per_page=20"
PORT_ON=18180
PORT_OFF=18181
GATE_PORT=18190

apt_install wrk
bash "$ROOT/scripts/infra.sh" install
bash "$ROOT/scripts/infra.sh" up
# Release, unlike the shared dev build of the two README commands: figures of optimised code.
log "building the Shop and the gate (release)"
(cd "$ROOT" && cargo build --release --locked -p printflow-shop -p printflow-gate)

WORK="$(mktemp -d /tmp/printflow-bench-search.XXXXXX)"
trap 'daemon_stop bench-shop; daemon_stop bench-gate; rm -rf -- "$WORK"' EXIT
bench_gate_start "$GATE_PORT" "$WORK"
ready_bench-shop() { http_ok "http://127.0.0.1:$SHOP_HTTP_PORT/readyz"; }

# start_shop PORT on|off
start_shop() {
    # info, as in the stack, for both variants: RUST_LOG filters spans too, and at warn the
    # Shop's spans (all info) would never be created, so "tracing on" would trace nothing.
    export SHOP_HTTP_PORT=$1 RUST_LOG=info SHOP_MODEL_STORE_DIR="$DATA_DIR/models"
    export SHOP_DATABASE_URL="$(service_db_url shop)"
    # The Shop will not start without its client credentials (it calls CRM with its own token).
    export SHOP_AUTH_CLIENT_SECRET="$(realm_client_secret shop-api)"
    if [[ "$2" == on ]]; then
        # The gate takes spans from shop-api only as shop-api.
        export OTEL_SDK_DISABLED=false OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=shop-api \
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$((GATE_PORT + 2))" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
            TELEMETRY_TOKEN_URL="http://127.0.0.1:$KEYCLOAK_PORT/realms/printflow/protocol/openid-connect/token" \
            TELEMETRY_CLIENT_ID=shop-api TELEMETRY_CLIENT_SECRET="$(realm_client_secret shop-api)"
    else
        export OTEL_SDK_DISABLED=true
    fi
    daemon_start bench-shop - "$ROOT/target/release/printflow-shop"
    daemon_wait bench-shop 60
}

# run_wrk PORT -> prints "rps p50_ms p99_ms"
run_wrk() {
    local out
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$1$QUERY")
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad == "" ? 0 : bad) }
    ' <<<"$out"
}

declare -a ON OFF
for ((r = 1; r <= ROUNDS; r++)); do
    for mode in on off; do
        port=$PORT_OFF
        [[ "$mode" == on ]] && port=$PORT_ON
        start_shop "$port" "$mode"
        # Warm-up: connections, plan cache, page cache.
        wrk -t1 -c4 -d3s "http://127.0.0.1:$port$QUERY" >/dev/null
        result=$(run_wrk "$port")
        daemon_stop bench-shop
        log "round $r, tracing $mode: $result (req/s, p50 ms, p99 ms, non-2xx)"
        if [[ "$mode" == on ]]; then ON+=("$result"); else OFF+=("$result"); fi
    done
done

# Medians over rounds of each figure.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { local i=$1; shift; printf '%s\n' "$@" | awk -v i="$i" '{print $i}' | median; }
on_rps=$(col 1 "${ON[@]}"); off_rps=$(col 1 "${OFF[@]}")
on_p50=$(col 2 "${ON[@]}"); off_p50=$(col 2 "${OFF[@]}")
on_p99=$(col 3 "${ON[@]}"); off_p99=$(col 3 "${OFF[@]}")
lost=$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN {printf "%.1f", (b - a) / b * 100}')
added=$(awk -v a="$on_p99" -v b="$off_p99" 'BEGIN {printf "%.3f", a - b}')

when=$(date -u +%Y-%m-%d)
table=$(cat <<TABLE

### Catalog search, tracing on vs off ($when)

Machine: $(machine_summary); wrk -t2 -c$CONNECTIONS,
${DURATION} s per run, $ROUNDS rounds each, medians; query \`$QUERY\`; release builds; PostgreSQL,
Keycloak, the gate, Jaeger and wrk on the same machine.

| variant | requests/s | p50 ms | p99 ms |
|---|---|---|---|
| tracing on (100% sampled, OTLP/HTTP through the telemetry gate to Jaeger) | $on_rps | $on_p50 | $on_p99 |
| OTEL_SDK_DISABLED=true | $off_rps | $off_p50 | $off_p99 |

Throughput lost: $lost % (goal: at most 5 %). p99 added: $added ms (goal: at most 1 ms).
Per-round figures (req/s p50 p99 non-2xx): on: ${ON[*]}; off: ${OFF[*]}.
TABLE
)
printf '%s\n' "$table"
if ((RECORD)); then
    [[ -f "$ROOT/docs/benchmarks.md" ]] || printf '# Benchmarks\n\nFigures printed by the scripts in `scripts/bench-*.sh`, newest last.\n' >"$ROOT/docs/benchmarks.md"
    printf '%s\n' "$table" >>"$ROOT/docs/benchmarks.md"
    log "appended to docs/benchmarks.md"
fi
