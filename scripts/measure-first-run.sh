#!/usr/bin/env bash
# Measures the first run of printflow the way issue 7 asks: a clean clone of this repository's
# HEAD into a temporary folder, an empty cargo home (no registry index, no downloaded crates) and
# empty Go caches (GOCACHE, GOMODCACHE, GOPATH), then `scripts/stack.sh --detach` timed, then a
# second run with nothing changed timed, then `scripts/stack.sh down`. Prints both figures.
#
# usage: scripts/measure-first-run.sh [--keep]
#
# The clone runs on the default ports with its own .data, so the stack of this checkout (and any
# other on those ports) must be down. Debian packages and the Rust and Go toolchains stay
# installed, and so does the machine's Keycloak distribution (Maven's ~/.m2 and the printflow
# cache dir, like apt's packages): the figure is the build and start-up, not downloads of those. --keep leaves the folder (several GB)
# for a look; by default it is removed.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

[[ "${1:-}" == --keep || -z "${1:-}" ]] || die "usage: scripts/measure-first-run.sh [--keep]"
ports_free "the measured stack (stop the running one first: scripts/stack.sh down)" \
    "$PG_PORT" "$RABBITMQ_PORT" "$JAEGER_QUERY_PORT" "$PROMETHEUS_PORT" "$KEYCLOAK_PORT" "$SHOP_HTTP_PORT" \
    "$GATE_HTTP_PORT" "$GATE_OTLP_GRPC_PORT" "$GATE_OTLP_HTTP_PORT"
TMP="$(mktemp -d /tmp/printflow-first-run.XXXXXX)"
[[ "${1:-}" == --keep ]] || trap 'bash "$TMP/printflow/scripts/stack.sh" down >/dev/null 2>&1 || true; rm -rf -- "$TMP"' EXIT
git clone -q "$ROOT" "$TMP/printflow"
# The toolchain's own cargo (not rustup's proxy in the old cargo home); only caches are emptied.
PATH="$(dirname -- "$(rustup which cargo 2>/dev/null || command -v cargo)"):$PATH"
export CARGO_HOME="$TMP/cargo" GOCACHE="$TMP/go/cache" GOMODCACHE="$TMP/go/mod" GOPATH="$TMP/go/path"
mkdir -p -- "$CARGO_HOME" "$GOCACHE" "$GOMODCACHE" "$GOPATH"

# timed LABEL: runs the stack once, prints and records the wall time in seconds.
timed() {
    local start_us rc=0
    log "$1: scripts/stack.sh --detach in $TMP/printflow (output in $TMP/$1.log)"
    start_us=$(now_us)
    bash "$TMP/printflow/scripts/stack.sh" --detach >"$TMP/$1.log" 2>&1 || rc=$?
    FIGURES+=("$1: $(elapsed_since "$start_us")")
    ((rc == 0)) || { show_logs "$TMP/$1.log" && die "$1 failed"; }
}
FIGURES=()
timed first-run
timed second-run
bash "$TMP/printflow/scripts/stack.sh" down >/dev/null 2>&1
printf '\nFirst run on %s (%s cores, %s), commit %s:\n' "$(hostname)" "$(nproc)" \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" "$(git -C "$ROOT" rev-parse --short HEAD)"
printf '  %s\n' "${FIGURES[@]}"
