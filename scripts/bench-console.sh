#!/usr/bin/env bash
# Benchmark: how long the console takes to answer its two heaviest pages on this machine, with
# the stack and its demo traffic running (`scripts/stack.sh up`): the overview (about twenty
# Prometheus queries, Alertmanager and CRM, at once) and the journey of a shipped order (CRM's
# order, history and events, and the order's whole trace from Jaeger, filtered and drawn).
# The pages are rendered on the server and load nothing else (no script library, no style sheet,
# no image), so the time to the last byte of the HTML is the time to a readable page, less the
# browser's own parse and layout of a few dozen kilobytes.
#
# usage: scripts/bench-console.sh [--requests N] [--no-record]
#
# Signs in as sam (support) with a bearer token, picks the shipped order with the largest trace
# among the latest hundred, loads each page N times one after another (after 3 warm-up loads) and
# prints p50, p95 and the slowest, the span count and the page sizes; appends them with the date
# and the machine to docs/benchmarks.md. Targets 127.0.0.1 only.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

REQUESTS=30
RECORD=1
usage="usage: scripts/bench-console.sh [--requests N] [--no-record]"
while (($#)); do
    case "$1" in
        --requests) REQUESTS=$2; shift 2 ;;
        --no-record) RECORD=0; shift ;;
        *) die "$usage" ;;
    esac
done

GATE="http://127.0.0.1:$GATE_HTTP_PORT"
CRM="http://127.0.0.1:$CRM_HTTP_PORT"
http_ok "$GATE/readyz" || die "the console does not answer on $GATE: start the stack first (scripts/stack.sh up)"
TOKEN="$(bash "$ROOT/scripts/token.sh" sam)"
AUTH="Authorization: Bearer $TOKEN"

# The latest 100 shipped orders; the one whose journey shows the most spans.
orders=$(curl -sf -H "$AUTH" "$CRM/orders?status=SHIPPED&per_page=100" | jq -r '.items[].order_id')
[[ -n "$orders" ]] || die "no shipped order yet: let the demo traffic run a few minutes"
best="" best_spans=0
for id in $orders; do
    spans=$(curl -sf -H "$AUTH" -H 'Accept: text/html' "$GATE/orders/$id" |
        grep -Eo 'in all, [0-9]+ spans' | grep -Eo '[0-9]+' || echo 0)
    if ((spans > best_spans)); then best=$id best_spans=$spans; fi
done
[[ -n "$best" ]] || die "no shipped order's trace is stored yet"

# times URL -> "p50 p95 max bytes" in milliseconds over REQUESTS loads
times() {
    local url=$1 i
    for i in 1 2 3; do curl -sf -o /dev/null -H "$AUTH" -H 'Accept: text/html' "$url"; done
    for ((i = 0; i < REQUESTS; i++)); do
        curl -sf -o /dev/null -w '%{time_total} %{size_download}\n' -H "$AUTH" -H 'Accept: text/html' "$url"
    done | sort -n | awk '{ t[NR] = $1 * 1000; b = $2 }
        END { printf "%.0f %.0f %.0f %.0f\n", t[int(NR * 0.5 + 0.5)], t[int(NR * 0.95 + 0.5)], t[NR], b / 1024 }'
}

log "overview, $REQUESTS loads"
read -r o50 o95 omax okb <<<"$(times "$GATE/overview")"
log "journey of order $best ($best_spans spans), $REQUESTS loads"
read -r j50 j95 jmax jkb <<<"$(times "$GATE/orders/$best")"

table=$(cat <<TABLE

### Console pages ($(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD))

Machine: $(machine_summary); the whole
stack (scripts/stack.sh up, debug builds) with its demo traffic running on the same machine;
$REQUESTS loads of each page one after another as sam (support), after 3 warm-up loads; time to
the last byte of the HTML (curl), which is the whole page (nothing else is loaded).

| page | p50 | p95 | slowest | size |
|---|---|---|---|---|
| overview | $o50 ms | $o95 ms | $omax ms | $okb KiB |
| journey of a shipped order, $best_spans-span trace | $j50 ms | $j95 ms | $jmax ms | $jkb KiB |
TABLE
)
printf '%s\n' "$table"
if ((RECORD)); then
    printf '%s\n' "$table" >>"$ROOT/docs/benchmarks.md"
    log "appended to docs/benchmarks.md"
fi
