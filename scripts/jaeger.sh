#!/usr/bin/env bash
# Local Jaeger (v2, built from source by us) for printflow tracing.
#
# usage: scripts/jaeger.sh build|up|down|status
#
#   build   compile the Jaeger pinned in tools/jaeger/go.mod into
#           $DATA_DIR/bin/jaeger (skipped when that exact build exists)
#   up      build if needed, start Jaeger in the background (idempotent) and
#           wait until its health check and query API answer
#   down    stop Jaeger (SIGTERM, SIGKILL after a deadline; idempotent)
#   status  one line; exit 0 only if running and healthy
#
# Env: JAEGER_STORAGE=memory (default: traces are lost on stop) or badger
# (on disk under $DATA_DIR/jaeger/badger, survives restarts).
# Ports (loopback only, fixed in config/jaeger/*.yaml): OTLP gRPC 4317,
# OTLP HTTP 4318, query HTTP API 16686, query gRPC 16685, health 13133,
# Jaeger's own metrics 8888.

set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
BIN_DIR="$DATA_DIR/bin"
JAEGER_DIR="$DATA_DIR/jaeger"
JAEGER_BIN="$BIN_DIR/jaeger"
JAEGER_STAMP="$BIN_DIR/jaeger.stamp"
JAEGER_CONF="$JAEGER_DIR/config.yaml"
JAEGER_PID="$RUN_DIR/jaeger.pid"
# Storage the running instance was started with (for status and `up`).
JAEGER_STORAGE_FILE="$RUN_DIR/jaeger.storage"
JAEGER_LOG="$LOG_DIR/jaeger.log"
JAEGER_BUILD_LOG="$LOG_DIR/jaeger-build.log"

# Our go.mod that pins Jaeger as a tool dependency (plus go.sum: the build
# is reproducible and never resolves versions on its own).
TOOL_DIR="$ROOT/tools/jaeger"
JAEGER_MODULE=github.com/jaegertracing/jaeger
JAEGER_PKG="$JAEGER_MODULE/cmd/jaeger"
# Same as upstream's release builds: static binary, no local paths in it.
# Part of the build stamp, so changing them triggers a rebuild.
BUILD_ENV=(CGO_ENABLED=0)
BUILD_FLAGS=(-mod=readonly -trimpath)

# Must match config/jaeger/*.yaml.
OTLP_GRPC_PORT=4317
OTLP_HTTP_PORT=4318
QUERY_HTTP_PORT=16686
QUERY_GRPC_PORT=16685
HEALTH_PORT=13133
METRICS_PORT=8888
ALL_PORTS=("$OTLP_GRPC_PORT" "$OTLP_HTTP_PORT" "$QUERY_HTTP_PORT" "$QUERY_GRPC_PORT" "$HEALTH_PORT" "$METRICS_PORT")

START_DEADLINE=60
# Set by cmd_build when it produced a new binary.
JAEGER_REBUILT=0
STOP_DEADLINE=30

# -------------------------------------------------------------------- build

# Version of the Jaeger module pinned in tools/jaeger/go.mod (e.g. v1.76.0,
# which is the Go module version of the Jaeger v2.13.0 release).
jaeger_pinned_version() {
    local v
    v="$(awk -v m="$JAEGER_MODULE" '$1 == m { print $2; exit }' "$TOOL_DIR/go.mod")"
    [[ -n "$v" ]] || die "$TOOL_DIR/go.mod does not require $JAEGER_MODULE"
    printf '%s\n' "$v"
}

# Identifies one exact build: any change to the pins or flags differs.
jaeger_wanted_stamp() {
    printf '%s %s\ngo.mod %s\ngo.sum %s\nbuild %s %s\n' \
        "$JAEGER_MODULE" "$(jaeger_pinned_version)" \
        "$(sha256sum <"$TOOL_DIR/go.mod" | cut -d' ' -f1)" \
        "$(sha256sum <"$TOOL_DIR/go.sum" | cut -d' ' -f1)" \
        "${BUILD_ENV[*]}" "${BUILD_FLAGS[*]}"
}

jaeger_built() {
    [[ -x "$JAEGER_BIN" && -f "$JAEGER_STAMP" ]] &&
        [[ "$(<"$JAEGER_STAMP")" == "$(jaeger_wanted_stamp)" ]]
}

# Go is only needed to build. Debian 12's golang-go (1.19) is far too old
# for Jaeger's go.mod, so a missing/old Go is an error, not an apt install.
require_go() {
    local need have
    need="$(awk '$1 == "go" { print $2; exit }' "$TOOL_DIR/go.mod")"
    # sudo's secure_path drops the usual install location from PATH.
    if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
        PATH="/usr/local/go/bin:$PATH"
    fi
    command -v go >/dev/null 2>&1 ||
        die "Go is not installed, but Jaeger is built from source (tools/jaeger) and needs Go >= $need; Debian's golang-go is too old: install a current Go toolchain and put its bin/ on PATH"
    have="$(GOTOOLCHAIN=local go env GOVERSION)"
    have="${have#go}"
    if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]]; then
        die "Go $have is too old to build Jaeger (tools/jaeger/go.mod needs Go >= $need); install a newer Go toolchain"
    fi
}

cmd_build() {
    local version
    version="$(jaeger_pinned_version)"
    if jaeger_built; then
        log "Jaeger $version already built ($JAEGER_BIN)"
        return 0
    fi
    require_go
    mkdir -p -- "$BIN_DIR" "$LOG_DIR"
    log "building Jaeger $version ($JAEGER_PKG) into $JAEGER_BIN (a first, uncached build takes ~5 min on 2 cores; log $JAEGER_BUILD_LOG)"
    local start_us
    start_us=$(now_us)
    # GOTOOLCHAIN=local: never fetch another toolchain behind our back;
    # GOWORK=off: a go.work in a parent folder must not change the build.
    # GOPATH/GOCACHE stay default so rebuilds reuse the module and build caches.
    if ! (
        cd -- "$TOOL_DIR" &&
            env GOTOOLCHAIN=local GOWORK=off "${BUILD_ENV[@]}" \
                go build "${BUILD_FLAGS[@]}" -o "$JAEGER_BIN.tmp" "$JAEGER_PKG"
    ) >"$JAEGER_BUILD_LOG" 2>&1; then
        rm -f -- "$JAEGER_BIN.tmp"
        show_logs "$JAEGER_BUILD_LOG"
        die "building Jaeger failed"
    fi
    # mv, not overwriting in place: a running instance keeps its old inode.
    mv -f -- "$JAEGER_BIN.tmp" "$JAEGER_BIN"
    jaeger_wanted_stamp >"$JAEGER_STAMP"
    JAEGER_REBUILT=1
    log "built Jaeger $version in $(elapsed_since "$start_us")"
}

# ---------------------------------------------------------------- lifecycle

# Prints the pid if the pid file names a live process running our binary
# (guards against stale files and pid reuse).
jaeger_read_pid() {
    local pid exe
    [[ -s "$JAEGER_PID" ]] || return 1
    pid="$(<"$JAEGER_PID")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    exe="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)" || return 1
    [[ "$exe" == "$JAEGER_BIN" ]] || return 1
    printf '%s\n' "$pid"
}

jaeger_healthy() {
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$HEALTH_PORT/status" 2>/dev/null &&
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$QUERY_HTTP_PORT/api/services" 2>/dev/null
}

# Probe for wait_for: 3 (= give up) once the process is gone.
jaeger_probe() {
    jaeger_read_pid >/dev/null || return 3
    port_open 127.0.0.1 "$OTLP_GRPC_PORT" && port_open 127.0.0.1 "$OTLP_HTTP_PORT" && jaeger_healthy
}

jaeger_storage() {
    local s="${JAEGER_STORAGE:-memory}"
    case "$s" in
    memory | badger) printf '%s\n' "$s" ;;
    *) die "JAEGER_STORAGE must be 'memory' or 'badger', got '$s'" ;;
    esac
}

# render_config STORAGE: the template with @DATA_DIR@ filled in, written
# atomically to $JAEGER_CONF.
render_config() {
    local storage=$1 template
    if [[ "$storage" == badger ]]; then
        template="$ROOT/config/jaeger/config-badger.yaml"
    else
        template="$ROOT/config/jaeger/config.yaml"
    fi
    [[ -f "$template" ]] || die "missing $template"
    # The path goes into a double-quoted YAML string and a sed replacement.
    [[ "$DATA_DIR" != *[\"\\$'\n']* ]] ||
        die "DATA_DIR ($DATA_DIR) must not contain quotes, backslashes or newlines"
    local repl="${DATA_DIR//&/\\&}"
    repl="${repl//|/\\|}"
    sed -e "s|@DATA_DIR@|$repl|g" "$template" >"$JAEGER_CONF.tmp"
    if grep -q '@[A-Z_]*@' "$JAEGER_CONF.tmp"; then
        die "unsubstituted placeholder in $template: $(grep -o '@[A-Z_]*@' "$JAEGER_CONF.tmp" | head -n 1)"
    fi
    mv -f -- "$JAEGER_CONF.tmp" "$JAEGER_CONF"
}

check_ports_free() {
    local p
    for p in "${ALL_PORTS[@]}"; do
        if port_open 127.0.0.1 "$p"; then
            die "port 127.0.0.1:$p is taken by another process; Jaeger needs ${ALL_PORTS[*]} (see config/jaeger/config.yaml)"
        fi
    done
}

cmd_up() {
    local storage pid running
    storage="$(jaeger_storage)"
    cmd_build
    if pid="$(jaeger_read_pid)"; then
        running="$(cat -- "$JAEGER_STORAGE_FILE" 2>/dev/null || echo unknown)"
        # Only an explicit request for the other storage is an error: plain
        # `up` (e.g. from infra.sh) accepts whatever is running.
        if [[ -n "${JAEGER_STORAGE:-}" && "$running" != "$storage" ]]; then
            die "Jaeger is already running with $running storage (pid $pid), JAEGER_STORAGE=$storage was requested: run '$0 down' first"
        fi
        wait_for --log "$JAEGER_LOG" "$START_DEADLINE" "Jaeger (health check + query API)" jaeger_probe
        log "Jaeger already running (pid $pid, $running storage) on 127.0.0.1:$QUERY_HTTP_PORT"
        if ((JAEGER_REBUILT)); then
            warn "the running Jaeger is the previous build; run '$0 down' and '$0 up' to switch"
        fi
        return 0
    fi
    check_ports_free
    mkdir -p -- "$JAEGER_DIR" "$RUN_DIR" "$LOG_DIR"
    if [[ "$storage" == badger ]]; then
        mkdir -p -- "$JAEGER_DIR/badger/keys" "$JAEGER_DIR/badger/values"
    fi
    render_config "$storage"
    rm -f -- "$JAEGER_PID"
    printf '%s\n' "$storage" >"$JAEGER_STORAGE_FILE"
    printf '\n===== %s: starting %s (%s storage) =====\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" \
        "$JAEGER_BIN" "$storage" >>"$JAEGER_LOG"
    log "starting Jaeger ($storage storage): OTLP 127.0.0.1:$OTLP_GRPC_PORT/$OTLP_HTTP_PORT, API 127.0.0.1:$QUERY_HTTP_PORT"
    local start_us
    start_us=$(now_us)
    # Own session (Ctrl-C in the caller's terminal or the caller exiting
    # does not kill it); the inner bash writes its pid and execs Jaeger, so
    # the pid file holds Jaeger's pid, which is also its process group id.
    # env -i: nothing from the caller's shell (OTEL_*, GOMAXPROCS...) leaks
    # in. 9>&-: never hold a caller's lock_dir lock for Jaeger's lifetime.
    # shellcheck disable=SC2016 # $$/$0/$@ belong to the inner bash
    (
        cd / &&
            exec 9>&- setsid env -i PATH="$SERVICE_PATH" HOME="$JAEGER_DIR" LANG=C.UTF-8 \
                bash -c 'echo "$$" >"$0"; exec "$@"' "$JAEGER_PID" \
                "$JAEGER_BIN" --config "$JAEGER_CONF" </dev/null >>"$JAEGER_LOG" 2>&1
    ) &
    wait_for --log "$JAEGER_LOG" 10 "Jaeger pid file $JAEGER_PID" test -s "$JAEGER_PID"
    wait_for --log "$JAEGER_LOG" "$START_DEADLINE" "Jaeger (health check + query API)" jaeger_probe
    log "Jaeger ready in $(elapsed_since "$start_us") (pid $(<"$JAEGER_PID")): http://127.0.0.1:$QUERY_HTTP_PORT/api/services"
}

cmd_down() {
    local pid
    if ! pid="$(jaeger_read_pid)"; then
        rm -f -- "$JAEGER_PID" "$JAEGER_STORAGE_FILE"
        log "Jaeger not running"
        return 0
    fi
    log "stopping Jaeger (pid $pid)"
    # SIGTERM: the collector shuts down its pipelines and closes storage
    # (Badger flushes to disk).
    local start_us
    start_us=$(now_us)
    stop_process_group "$pid" "$STOP_DEADLINE" Jaeger
    rm -f -- "$JAEGER_PID" "$JAEGER_STORAGE_FILE"
    log "Jaeger stopped in $(elapsed_since "$start_us")"
}

cmd_status() {
    local pid storage
    if ! pid="$(jaeger_read_pid)"; then
        printf 'jaeger    stopped\n'
        return 1
    fi
    storage="$(cat -- "$JAEGER_STORAGE_FILE" 2>/dev/null || echo unknown)"
    if jaeger_healthy; then
        printf 'jaeger    running  otlp grpc 127.0.0.1:%s http 127.0.0.1:%s  api http://127.0.0.1:%s/  (%s storage, pid %s)\n' \
            "$OTLP_GRPC_PORT" "$OTLP_HTTP_PORT" "$QUERY_HTTP_PORT" "$storage" "$pid"
    else
        printf 'jaeger    running (pid %s) but not healthy on 127.0.0.1:%s / :%s yet\n' \
            "$pid" "$HEALTH_PORT" "$QUERY_HTTP_PORT"
        return 1
    fi
}

usage() {
    sed -n '2,18s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

main() {
    local cmd="${1:-}"
    [[ -n "$cmd" ]] || usage
    shift
    case "$cmd" in
    build | up | down)
        # Own lock file (not $DATA_DIR/.lock): infra.sh calls us while
        # holding that one.
        lock_dir "$JAEGER_DIR"
        "cmd_$cmd"
        ;;
    status) cmd_status ;;
    *) usage ;;
    esac
}

main "$@"
