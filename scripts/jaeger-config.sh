#!/usr/bin/env bash
# Jaeger's configuration, rendered: the base file for the storage, and for tail sampling the
# fragment the collector merges over it. Used by scripts/infra.sh (up jaeger) and by the tail
# sampling tests, which run their own Jaeger on free ports.
#
# usage: scripts/jaeger-config.sh render DIR STORAGE SAMPLING
#        scripts/jaeger-config.sh describe SAMPLING
#
#   render    writes DIR/config.yaml (config/jaeger/config.yaml, or config-badger.yaml for
#             STORAGE badger) and, for SAMPLING tail, DIR/tail-sampling.yaml; prints the files
#             to pass to Jaeger, in order, one `--config=FILE` argument per line
#   describe  prints one line naming the sampling and its settings (what infra.sh records)
#
# STORAGE: memory|badger. SAMPLING: all (every span stored) | tail (config/jaeger/tail-sampling.yaml).
# Ports and @DATA_DIR@ as every rendered config (scripts/lib.sh render_config); tail sampling's
# settings from JAEGER_TAIL_LATENCY_MS (500), JAEGER_TAIL_SHARE_PERCENT (10, may have decimals)
# and JAEGER_TAIL_DECISION_WAIT_SECONDS (30).

set -euo pipefail
# Prints only its result; errors go to stderr.
QUIET=1
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

TAIL_LATENCY_MS="${JAEGER_TAIL_LATENCY_MS:-500}"
TAIL_SHARE_PERCENT="${JAEGER_TAIL_SHARE_PERCENT:-10}"
TAIL_DECISION_WAIT_SECONDS="${JAEGER_TAIL_DECISION_WAIT_SECONDS:-30}"

usage() {
    sed -n '6,7s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

check_sampling() {
    case "$1" in
    all) ;;
    tail)
        [[ "$TAIL_LATENCY_MS" =~ ^[1-9][0-9]{0,6}$ ]] ||
            die "JAEGER_TAIL_LATENCY_MS must be a whole number of milliseconds (1..9999999), got '$TAIL_LATENCY_MS'"
        if [[ ! "$TAIL_SHARE_PERCENT" =~ ^[0-9]{1,3}(\.[0-9]{1,6})?$ ]] ||
            ! awk -v p="$TAIL_SHARE_PERCENT" 'BEGIN { exit !(p <= 100) }'; then
            die "JAEGER_TAIL_SHARE_PERCENT must be a percentage from 0 to 100, got '$TAIL_SHARE_PERCENT'"
        fi
        [[ "$TAIL_DECISION_WAIT_SECONDS" =~ ^[1-9][0-9]{0,4}$ ]] ||
            die "JAEGER_TAIL_DECISION_WAIT_SECONDS must be a whole number of seconds (1..99999), got '$TAIL_DECISION_WAIT_SECONDS'"
        ;;
    *) die "JAEGER_SAMPLING must be 'all' or 'tail', got '$1'" ;;
    esac
}

describe() {
    if [[ "$1" == all ]]; then
        printf 'all\n'
    else
        printf 'tail (errors, failed orders, spans >= %s ms, %s %% of the rest; decided %s s after the first span)\n' \
            "$TAIL_LATENCY_MS" "$TAIL_SHARE_PERCENT" "$TAIL_DECISION_WAIT_SECONDS"
    fi
}

render() {
    local dir=$1 storage=$2 sampling=$3 template
    case "$storage" in
    memory) template="$ROOT/config/jaeger/config.yaml" ;;
    badger) template="$ROOT/config/jaeger/config-badger.yaml" ;;
    *) die "JAEGER_STORAGE must be 'memory' or 'badger', got '$storage'" ;;
    esac
    # The path goes into a double-quoted YAML string.
    [[ "$DATA_DIR" != *[\"\\$'\n']* ]] || die "DATA_DIR must not contain quotes, backslashes or newlines"
    mkdir -p -- "$dir"
    render_config "$template" "$dir/config.yaml"
    printf -- '--config=%s\n' "$dir/config.yaml"
    if [[ "$sampling" != tail ]]; then
        # Not in use: an earlier run's would only mislead whoever reads DIR.
        rm -f -- "$dir/tail-sampling.yaml"
        return 0
    fi
    sed -e "s/@JAEGER_TAIL_LATENCY_MS@/$TAIL_LATENCY_MS/g" \
        -e "s/@JAEGER_TAIL_SHARE_PERCENT@/$TAIL_SHARE_PERCENT/g" \
        -e "s/@JAEGER_TAIL_DECISION_WAIT_SECONDS@/$TAIL_DECISION_WAIT_SECONDS/g" \
        "$ROOT/config/jaeger/tail-sampling.yaml" >"$dir/tail-sampling.src.yaml"
    # Ports (none today) and the check that no placeholder is left.
    render_config "$dir/tail-sampling.src.yaml" "$dir/tail-sampling.yaml"
    rm -f -- "$dir/tail-sampling.src.yaml"
    printf -- '--config=%s\n' "$dir/tail-sampling.yaml"
}

case "${1:-}" in
render)
    (($# == 4)) || usage
    check_sampling "$4"
    render "$2" "$3" "$4"
    ;;
describe)
    (($# == 2)) || usage
    check_sampling "$2"
    describe "$2"
    ;;
*) usage ;;
esac
