#!/usr/bin/env bash
# Benchmark figure: how much storage Jaeger's tail sampling saves (JAEGER_SAMPLING=tail,
# config/jaeger/tail-sampling.yaml) -- spans received vs spans stored over a window of traffic,
# and why the kept traces were kept, from Jaeger's own metrics (127.0.0.1:$JAEGER_METRICS_PORT,
# default 8888). On a Jaeger without tail sampling it reports the baseline: everything stored.
#
# usage: scripts/bench-sampling.sh measure SECONDS   the next SECONDS of whatever traffic runs
#        scripts/bench-sampling.sh snapshot FILE     before a benchmark's run: the counters now
#        scripts/bench-sampling.sh report FILE       after it: the figures since FILE
#
# measure and report first wait (up to SETTLE_SECONDS, default 40: the 30 s decision wait and
# some) until every trace seen is decided and stored, so the spans of the window count as stored
# or dropped; with traffic still running they report how many traces still wait.
# Read only; touches nothing. Figures (deltas over the window):
#   spans received   otelcol_receiver_accepted_spans_total{receiver="otlp"}
#   spans stored     otelcol_exporter_sent_spans_total{exporter="jaeger_storage_exporter"}
#   store failures   otelcol_exporter_send_failed_spans_total{exporter="jaeger_storage_exporter"}
#   traces kept / dropped
#                    otelcol_processor_tail_sampling_global_count_traces_sampled_total{sampled}
#   per policy       otelcol_processor_tail_sampling_count_traces_sampled_total{policy,sampled="true"}
#                    (each policy is evaluated for every trace: what it alone would keep)
#   late spans       otelcol_processor_tail_sampling_early_releases_from_cache_decision_total{sampled}
#   lost unjudged    otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total
#   still waiting    otelcol_processor_tail_sampling_new_trace_id_received_total minus the decided
#                    ones and the lost ones

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

METRICS_URL="http://127.0.0.1:$JAEGER_METRICS_PORT/metrics"
SETTLE_SECONDS="${SETTLE_SECONDS:-40}"
TS=otelcol_processor_tail_sampling
TMP="$(mktemp -d /tmp/printflow-bench-sampling.XXXXXX)"
trap 'rm -rf -- "$TMP"' EXIT

usage() {
    sed -n '7,9s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

scrape() {
    curl -fsS --max-time 5 "$METRICS_URL" | grep '^otelcol_' ||
        die "no metrics from Jaeger at $METRICS_URL (is it running? JAEGER_METRICS_PORT)"
}

# sum FILE NAME [LABEL=\"VALUE\"]...: the sum of the series NAME carrying every label (0 if none).
sum() {
    local file=$1 name=$2
    shift 2
    awk -v name="$name" -v filters="$*" '
        BEGIN { n = split(filters, f, " ") }
        $1 == name || index($1, name "{") == 1 {
            for (i = 1; i <= n; i++) if (index($1, f[i]) == 0) next
            s += $NF
        }
        END { printf "%.0f\n", s }' "$file"
}

# delta NAME [LABEL...]: NAME now minus NAME in the snapshot.
delta() { echo $(($(sum "$NOW" "$@") - $(sum "$BEFORE" "$@"))); }

# pending FILE: traces seen but not decided yet (each new trace id is decided, or dropped unjudged
# when num_traces overflows).
pending() {
    echo $(($(sum "$1" "${TS}_new_trace_id_received_total") - $(sum "$1" "${TS}_global_count_traces_sampled_total") -
        $(sum "$1" "${TS}_sampling_trace_dropped_too_early_total")))
}

# Until no trace waits for a decision and the storage writer has caught up (its count holds
# still between two scrapes), or SETTLE_SECONDS.
settle() {
    local deadline=$(($(date +%s) + SETTLE_SECONDS)) stored=-1 now
    while :; do
        scrape >"$TMP/settle"
        now=$(sum "$TMP/settle" otelcol_exporter_sent_spans_total 'exporter="jaeger_storage_exporter"')
        (($(pending "$TMP/settle") == 0 && now == stored)) && return 0
        stored=$now
        if (($(date +%s) >= deadline)); then
            warn "$(pending "$TMP/settle") traces still wait for a decision after ${SETTLE_SECONDS}s (traffic still running?): their spans count as neither stored nor dropped"
            return 0
        fi
        sleep 0.5
    done
}

report() {
    BEFORE=$1
    settle
    NOW="$TMP/now"
    scrape >"$NOW"
    local received stored failed kept dropped late_kept late_dropped too_early held saving policies=""
    received=$(delta otelcol_receiver_accepted_spans_total 'receiver="otlp"')
    stored=$(delta otelcol_exporter_sent_spans_total 'exporter="jaeger_storage_exporter"')
    failed=$(delta otelcol_exporter_send_failed_spans_total 'exporter="jaeger_storage_exporter"')
    kept=$(delta "${TS}_global_count_traces_sampled_total" 'sampled="true"')
    dropped=$(delta "${TS}_global_count_traces_sampled_total" 'sampled="false"')
    late_kept=$(delta "${TS}_early_releases_from_cache_decision_total" 'sampled="true"')
    late_dropped=$(delta "${TS}_early_releases_from_cache_decision_total" 'sampled="false"')
    too_early=$(delta "${TS}_sampling_trace_dropped_too_early_total")
    held=$(pending "$NOW")
    saving=$(awk -v r="$received" -v s="$stored" 'BEGIN { if (r > 0) printf "%.1f %%", 100 * (r - s) / r; else print "n/a (no spans received)" }')
    local policy
    while read -r policy; do
        [[ -n "$policy" ]] || continue
        policies+="${policies:+, }$policy $(delta "${TS}_count_traces_sampled_total" "policy=\"$policy\"" 'sampled="true"')"
    done < <(grep -o "^${TS}_count_traces_sampled_total{[^}]*policy=\"[^\"]*\"" "$NOW" | sed 's/.*policy="\([^"]*\)"/\1/' | sort -u)
    if ! grep -q "^${TS}_" "$NOW"; then
        policies="none: this Jaeger stores every span (JAEGER_SAMPLING=all)"
    fi
    cat <<TABLE
| figure | value |
|---|---|
| spans received (OTLP) | $received |
| spans stored | $stored |
| storage saved (spans not stored) | $saving |
| traces kept / dropped by tail sampling | $kept / $dropped |
| traces each policy would keep alone | ${policies:-n/a} |
| late spans (after their trace's decision) kept / dropped | $late_kept / $late_dropped |
| traces lost before a decision (num_traces too small) | $too_early |
| spans the storage refused | $failed |
| traces still waiting for a decision at the end | $held |
TABLE
}

case "${1:-}" in
snapshot)
    (($# == 2)) || usage
    scrape >"$2"
    ;;
report)
    (($# == 2)) || usage
    [[ -f "$2" ]] || die "no snapshot $2 (run: $0 snapshot $2)"
    report "$2"
    ;;
measure)
    [[ $# == 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage
    scrape >"$TMP/before"
    log "measuring $2 s of traffic into Jaeger (metrics $METRICS_URL)"
    sleep "$2"
    report "$TMP/before"
    ;;
*) usage ;;
esac
