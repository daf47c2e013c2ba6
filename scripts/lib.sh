# shellcheck shell=bash
# Shared helpers of the printflow scripts: settings and ports, logging, polling, apt, running as
# a service user, config rendering, the one daemon supervisor every long-running process uses,
# the shared workspace build and the RabbitMQ node set-up (main node and private test nodes).
#
# Everything is loopback-only and keeps its state under $DATA_DIR, so a checkout can be wiped
# with `rm -rf .data` without touching system services.

set -euo pipefail

# Repo root from this file's location, never from $PWD: CI clones into arbitrary folders.
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
DATA_DIR="${PRINTFLOW_DATA_DIR:-$ROOT/.data}"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"

# Every TCP port of the system as VARIABLE=DEFAULT. Each is overridable from the environment
# (so a second instance can run next to the first) and exported for child processes. The files
# in config/ are working configs for the defaults; render_config rewrites them for overrides.
PORTS=(
    PG_PORT=5432
    RABBITMQ_PORT=5672 RABBITMQ_MANAGEMENT_PORT=15672 RABBITMQ_PROMETHEUS_PORT=15692
    # Jaeger's own ports are internal: the telemetry gate takes over the well-known ones (OTLP
    # 4317/4318, query 16686) and is the only way in for services and people.
    JAEGER_OTLP_GRPC_PORT=14317 JAEGER_OTLP_HTTP_PORT=14318 JAEGER_QUERY_PORT=16687
    JAEGER_QUERY_GRPC_PORT=16688 JAEGER_HEALTH_PORT=13133 JAEGER_METRICS_PORT=8888
    JAEGER_SPANMETRICS_PORT=8889
    PROMETHEUS_PORT=9090 ALERTMANAGER_PORT=9093
    KEYCLOAK_PORT=8180
    SHOP_HTTP_PORT=8080 CRM_HTTP_PORT=8081 MES_HTTP_PORT=8082
    GATE_HTTP_PORT=16686 GATE_OTLP_GRPC_PORT=4317 GATE_OTLP_HTTP_PORT=4318
)

# Debian's RabbitMQ scripts, and the minimal PATH of processes started with a clean environment
# (nothing from the caller's shell -- PGOPTIONS, RABBITMQ_*, OTEL_* -- leaks into a daemon).
RMQ_BIN=/usr/lib/rabbitmq/bin
SERVICE_PATH="$RMQ_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Short enough to notice readiness quickly, long enough not to burn CPU during an Erlang boot.
POLL_INTERVAL="${POLL_INTERVAL:-0.2}"
# Set by scripts that must only print errors (rabbitmq-node.sh).
QUIET="${QUIET:-0}"

log() { [[ "$QUIET" == 1 ]] || printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

for entry in "${PORTS[@]}"; do
    var=${entry%%=*}
    export "$var=${!var:-${entry#*=}}"
    if [[ ! "${!var}" =~ ^[0-9]+$ ]] || ((${!var} < 1 || ${!var} > 65535)); then
        die "$var must be a TCP port number, got '${!var}'"
    fi
done
unset entry var
# PG_USER: the administrative role of the scripts and the tests (creates databases, not a
# superuser). Each service logs in as its own role owning only its database (least privilege,
# docs/security.md); the passwords are dev-only defaults, overridable like everything here.
export PG_USER="${PG_USER:-printflow}" PG_PASSWORD="${PG_PASSWORD:-printflow}" ROOT DATA_DIR
# RabbitMQ: an administrator for the scripts and the tests (the well-known guest is removed), and
# one user per service with the permissions of config/rabbitmq/permissions.
export RABBITMQ_ADMIN_USER="${RABBITMQ_ADMIN_USER:-printflow-admin}"
export RABBITMQ_ADMIN_PASSWORD="${RABBITMQ_ADMIN_PASSWORD:-rabbit-admin-dev-only}"
export RABBITMQ_CRM_PASSWORD="${RABBITMQ_CRM_PASSWORD:-crm-rabbit-dev-only}"
export RABBITMQ_MES_PASSWORD="${RABBITMQ_MES_PASSWORD:-mes-rabbit-dev-only}"
export PG_SHOP_PASSWORD="${PG_SHOP_PASSWORD:-shop-db-dev-only}"
export PG_CRM_PASSWORD="${PG_CRM_PASSWORD:-crm-db-dev-only}"
export PG_MES_PASSWORD="${PG_MES_PASSWORD:-mes-db-dev-only}"

# service_amqp_url SERVICE: the AMQP URL a service (crm, mes) connects with, as its own user.
service_amqp_url() {
    local pass_var="RABBITMQ_${1^^}_PASSWORD"
    printf 'amqp://printflow-%s:%s@127.0.0.1:%s/%%2f\n' "$1" "${!pass_var}" "$RABBITMQ_PORT"
}

# service_db_url SERVICE: the URL a service (shop, crm, mes) connects with, as its own role.
service_db_url() {
    local pass_var="PG_${1^^}_PASSWORD"
    printf 'postgres://printflow_%s:%s@127.0.0.1:%s/printflow_%s\n' "$1" "${!pass_var}" "$PG_PORT" "$1"
}

# Microseconds since the epoch (bash 5 EPOCHREALTIME, no fork of `date`).
now_us() { printf '%s\n' "${EPOCHREALTIME/./}"; }

# Human readable duration since a now_us timestamp, e.g. "4.3s".
elapsed_since() {
    local ms=$((($(now_us) - $1) / 1000))
    printf '%d.%ds\n' $((ms / 1000)) $((ms % 1000 / 100))
}

# The tail of each log file, so a failure explains itself.
show_logs() {
    local f
    for f in "$@"; do
        printf -- '----- last lines of %s -----\n' "$f" >&2
        tail -n 30 -- "$f" >&2 2>/dev/null || printf '(missing)\n' >&2
    done
}

# require_go GO_MOD WHAT: Go on PATH (or in /usr/local/go/bin, which sudo's secure_path drops),
# new enough for GO_MOD; WHAT says what is built with it, for the error.
require_go() {
    [[ -x /usr/local/go/bin/go && ":$PATH:" != *:/usr/local/go/bin:* ]] && PATH="$PATH:/usr/local/go/bin"
    local need have
    need="$(awk '$1 == "go" { print $2; exit }' "$1")"
    command -v go >/dev/null 2>&1 ||
        die "Go is not installed: $2 is built from source and needs Go >= $need; Debian's golang-go is too old, so install a current Go and put its bin/ on PATH"
    have="$(GOTOOLCHAIN=local go env GOVERSION)"
    [[ "$(printf '%s\n%s\n' "$need" "${have#go}" | sort -V | head -n 1)" == "$need" ]] ||
        die "Go ${have#go} is too old to build $2 ($1 needs Go >= $need)"
}

# go_build_cached OUT STAMP DIR PACKAGE WHAT BUILD_COMMAND...: builds PACKAGE of the Go module in
# DIR with BUILD_COMMAND (go build ...) into OUT, unless OUT is there and OUT.stamp holds STAMP
# (any change to the pins, sources or command differs). Sets GO_BUILT=1 if it built. The log is
# $LOG_DIR/<name of OUT>-build.log; GOCACHE and GOMODCACHE stay as set (default ~/.cache, ~/go),
# so rebuilds reuse them. The new binary replaces OUT by mv, so a running one keeps its inode.
# shellcheck disable=SC2034 # GO_BUILT is read by the callers of go_build_cached
GO_BUILT=0
# shellcheck disable=SC2034
go_build_cached() {
    local out=$1 stamp=$2 dir=$3 pkg=$4 what=$5 name start_us
    shift 5
    GO_BUILT=0
    [[ -x "$out" && "$(cat "$out.stamp" 2>/dev/null)" == "$stamp" ]] && return 0
    require_go "$dir/go.mod" "$what"
    name="$(basename -- "$out")"
    mkdir -p -- "$(dirname -- "$out")" "$LOG_DIR"
    log "building $what ($dir) into $out: a first, uncached build takes minutes (log $LOG_DIR/$name-build.log)"
    start_us=$(now_us)
    (cd -- "$dir" && "$@" -o "$out.tmp" "$pkg") >"$LOG_DIR/$name-build.log" 2>&1 ||
        { show_logs "$LOG_DIR/$name-build.log" && die "building $what failed"; }
    mv -f -- "$out.tmp" "$out"
    printf '%s\n' "$stamp" >"$out.stamp"
    GO_BUILT=1
    log "built $what in $(elapsed_since "$start_us")"
}

# wait_for [--log FILE]... DEADLINE_SECONDS DESCRIPTION CMD [ARGS...]: polls CMD until it
# succeeds. CMD returning 3 means "this can never succeed" (the process died) and fails at once.
# On failure shows the logs and dies.
wait_for() {
    local logs=()
    while [[ "${1:-}" == --log ]]; do
        logs+=("$2")
        shift 2
    done
    local deadline_us=$(($(now_us) + $1 * 1000000)) what=$2 rc
    shift 2
    while :; do
        rc=0
        "$@" || rc=$?
        ((rc == 0)) && return 0
        if ((rc == 3)) || (($(now_us) >= deadline_us)); then
            show_logs "${logs[@]}"
            ((rc == 3)) && die "gave up waiting for $what: the process exited (see logs above)"
            die "timed out waiting for $what"
        fi
        sleep "$POLL_INTERVAL"
    done
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT (bash's /dev/tcp).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ports_free WHAT PORT...: dies naming the first port another process holds.
ports_free() {
    local what=$1 p
    shift
    for p in "$@"; do
        ! port_open "$p" ||
            die "port 127.0.0.1:$p is taken by another process and $what needs it (a Debian default instance? run 'scripts/infra.sh install'; or override the port, see README)"
    done
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; }

# machine_summary: "N cores (CPU model), M GiB, OS", for the benchmark and drill reports.
machine_summary() {
    local cpu mem
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
    mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
    printf '%s cores (%s), %s, %s' "$(nproc)" "$cpu" "$mem" "$(. /etc/os-release && echo "$PRETTY_NAME")"
}

pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# apt_install PKG...: touches apt (slow, needs network) only when a package is missing. The
# packages' postinst must not start their default instances (they would take our ports,
# listening on every interface): a temporary policy-rc.d exiting 101 is Debian's way to say so.
apt_install() {
    local todo=() p policy=/usr/sbin/policy-rc.d
    for p in "$@"; do pkg_installed "$p" || todo+=("$p"); done
    ((${#todo[@]} == 0)) && return 0
    log "installing: ${todo[*]}"
    [[ -e "$policy" ]] || printf '#!/bin/sh\n# temporary, from printflow\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${todo[@]}" >/dev/null || rc=$?
    ! grep -q '^# temporary, from printflow$' "$policy" || rm -f "$policy"
    ((rc == 0)) || die "apt-get install ${todo[*]} failed"
}

# ensure_root "$@": starting daemons as the postgres/rabbitmq/prometheus users needs root. CI
# runners are often a normal user with passwordless sudo: re-exec through it, keeping settings.
ensure_root() {
    ((EUID == 0)) && return 0
    local keep="PRINTFLOW_DATA_DIR,PRINTFLOW_CACHE_DIR,PG_USER,PG_PASSWORD,PG_SHOP_PASSWORD,PG_CRM_PASSWORD,PG_MES_PASSWORD"
    keep+=",RABBITMQ_ADMIN_USER,RABBITMQ_ADMIN_PASSWORD,RABBITMQ_CRM_PASSWORD,RABBITMQ_MES_PASSWORD"
    keep+=",POLL_INTERVAL,JAEGER_STORAGE,JAEGER_SAMPLING,JAEGER_TAIL_LATENCY_MS,JAEGER_TAIL_SHARE_PERCENT,JAEGER_TAIL_DECISION_WAIT_SECONDS,ALERT_WEBHOOK_URL"
    keep+=",KEYCLOAK_ADMIN_PASSWORD,$(compgen -e | grep -E '^PRINTFLOW_(DEV_PASSWORD_|[A-Z_]+_CLIENT_SECRET$)' | tr '\n' ',' || true)"
    keep+=",GOCACHE,GOMODCACHE,GOPATH,GOPROXY,GOFLAGS,$(printf '%s,' "${PORTS[@]%%=*}")"
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n --preserve-env="${keep%,}" bash "$0" "$@"
    fi
    die "must run as root (it starts daemons as service users); try: sudo bash $0 $*"
}

# lock_dir DIR: serialises concurrent invocations (two test jobs running `up` at once) on
# DIR/.lock, held until the script exits.
lock_dir() {
    mkdir -p -- "$1"
    exec 9>"$1/.lock"
    flock -w 300 9 || die "another invocation holds $1/.lock for over 300s"
}

# as_user USER: sets AS_USER to the command prefix that runs a command as the system user with a
# clean environment (VAR=VALUE words may follow). setpriv execs in place: no PAM session, no
# extra process, works with a nologin shell.
as_user() {
    AS_USER=(setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups env -i PATH="$SERVICE_PATH"
        HOME="$(getent passwd "$1" | cut -d: -f6)" LANG=C.UTF-8 LC_ALL=C.UTF-8)
}

# run_as USER CMD...: CMD as the user, from / (service users usually cannot read our cwd).
run_as() {
    as_user "$1"
    shift
    (cd / && exec 9>&- "${AS_USER[@]}" "$@")
}

# ensure_traversable USER DIR: the service users must reach their data dirs under the repo. If
# an ancestor (e.g. a 0700 home) blocks them, add o+x (search only) to that component.
ensure_traversable() {
    local user=$1 path="" comp parts=()
    IFS=/ read -r -a parts <<<"$2"
    for comp in "${parts[@]}"; do
        [[ -n "$comp" ]] || continue
        path="$path/$comp"
        [[ -d "$path" ]] || return 0
        if ! run_as "$user" test -x "$path"; then
            warn "user '$user' cannot traverse $path; running: chmod o+x $path"
            chmod o+x -- "$path"
        fi
    done
}

# sed replacement text: escapes the delimiter |, & and backslashes.
sed_repl() {
    local s=${1//\\/\\\\}
    s=${s//&/\\&}
    printf '%s\n' "${s//|/\\|}"
}

# render_config SRC DST: SRC with @DATA_DIR@ and @VAR@ (VAR from PORTS) filled in and every
# default port after "127.0.0.1:" or on a "port: N" line replaced by its variable's value, written
# atomically. Defaults become placeholders first, so overrides that swap ports cannot chain.
render_config() {
    local src=$1 dst=$2 entry var first=() second=()
    [[ -f "$src" ]] || die "missing $src"
    for entry in "${PORTS[@]}"; do
        var=${entry%%=*}
        first+=(-e "s/127\\.0\\.0\\.1:${entry#*=}\\b/127.0.0.1:@$var@/g"
            -e "s/^(\\s*port: )${entry#*=}\$/\\1@$var@/")
        second+=(-e "s/@$var@/${!var}/g")
    done
    sed -E "${first[@]}" "${second[@]}" -e "s|@DATA_DIR@|$(sed_repl "$DATA_DIR")|g" "$src" >"$dst.tmp"
    if grep -q '@[A-Z_]*@' "$dst.tmp"; then
        die "unsubstituted placeholder in $src: $(grep -o '@[A-Z_]*@' "$dst.tmp" | head -n 1)"
    fi
    mv -f -- "$dst.tmp" "$dst"
}

# ------------------------------------------------------------------------------------- daemons
# Every long-running process (PostgreSQL, RabbitMQ, Jaeger, Prometheus, Alertmanager, the
# services, the traffic generator, private test brokers) is started, checked and stopped here.
# Daemon NAME has the pid file $RUN_DIR/NAME.pid (its pid, then a word of its command line that
# tells it from a recycled pid) and the log $LOG_DIR/NAME.log. It runs in its own session: a
# Ctrl-C in the caller's terminal does not reach it, and its pid is its process group. Each
# daemon's readiness check is the function ready_NAME.

# daemon_start NAME USER CMD [ARGS...]: USER "-" runs CMD as the caller, in $ROOT, with the
# caller's environment; any other USER gets a clean environment (VAR=VALUE words may precede
# CMD). The inner bash writes its own pid and execs, as do setpriv and env, so the pid file names
# the daemon itself. 9>&-: a daemon never inherits lock_dir's lock.
daemon_start() {
    local name=$1 user=$2 dir=/ word
    shift 2
    local pidfile="$RUN_DIR/$name.pid" logfile="$LOG_DIR/$name.log" argv=("$@")
    for word in "$@"; do [[ "$word" == *=* ]] || break; done
    if [[ "$user" == - ]]; then
        dir=$ROOT
    else
        as_user "$user"
        argv=("${AS_USER[@]}" "$@")
    fi
    mkdir -p -- "$RUN_DIR" "$LOG_DIR"
    rm -f -- "$pidfile"
    printf '\n===== %s: starting %s =====\n' "$(date -u +%FT%TZ)" "$*" >>"$logfile"
    # shellcheck disable=SC2016 # $$, $0 and $1 belong to the inner bash
    (cd "$dir" && exec 9>&- setsid bash -c 'printf "%s\n%s\n" "$$" "$1" >"$0"; shift; exec "$@"' \
        "$pidfile" "${word##*/}" "${argv[@]}" </dev/null >>"$logfile" 2>&1) &
    wait_for --log "$logfile" 10 "$name's pid file" test -s "$pidfile"
}

# daemon_pid NAME: prints the pid if NAME runs (the process is alive, not a zombie -- those have
# an empty command line -- and its command line has the recorded word).
daemon_pid() {
    local lines=() cmdline
    mapfile -t lines 2>/dev/null <"$RUN_DIR/$1.pid" || return 1
    [[ "${lines[0]:-}" =~ ^[0-9]+$ ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/${lines[0]}/cmdline" 2>/dev/null)" || return 1
    [[ -n "$cmdline" && "$cmdline" == *"${lines[1]:-}"* ]] || return 1
    printf '%s\n' "${lines[0]}"
}

daemon_running() { daemon_pid "$1" >/dev/null; }

# Probe for wait_for: 3 (= give up) once the daemon is gone. Looked at twice: while a process
# execs (bash -> setpriv -> env -> daemon) its /proc cmdline can read empty for an instant.
daemon_probe() {
    daemon_running "$1" || { sleep 0.2 && daemon_running "$1"; } || return 3
    "ready_$1"
}

# daemon_wait NAME DEADLINE_SECONDS [EXTRA_LOG...]: until ready_NAME succeeds.
daemon_wait() {
    local name=$1 deadline=$2 start_us logs=(--log "$LOG_DIR/$1.log") f
    shift 2
    for f in "$@"; do logs+=(--log "$f"); done
    start_us=$(now_us)
    wait_for "${logs[@]}" "$deadline" "$name to be ready" daemon_probe "$name"
    log "$name ready in $(elapsed_since "$start_us") (pid $(daemon_pid "$name"))"
}

# pgid_alive PGID: any non-zombie process in the group. (`kill -0 -PGID` is not enough: our
# daemons are reparented to PID 1, which in containers may be slow to reap zombies.)
pgid_alive() {
    local f line state _ppid pgrp _rest
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        read -r state _ppid pgrp _rest <<<"${line##*) }"
        [[ "$pgrp" == "$1" && "$state" != Z ]] && return 0
    done
    return 1
}

# daemon_stop NAME [DEADLINE_SECONDS [SIGNAL]]: SIGNAL (default TERM: every daemon here shuts
# down cleanly on it) to the daemon, then waits for its whole process group to exit, so ports and
# data dirs are free on return; SIGKILL to the group after the deadline (default 30 s).
daemon_stop() {
    local name=$1 deadline_s=${2:-30} pid start_us
    if pid="$(daemon_pid "$name")"; then
        log "stopping $name (pid $pid)"
        start_us=$(now_us)
        kill "-${3:-TERM}" "$pid" 2>/dev/null || true
        while pgid_alive "$pid"; do
            if (($(now_us) - start_us >= deadline_s * 1000000)); then
                warn "$name did not stop within ${deadline_s}s; sending SIGKILL"
                kill -KILL -- "-$pid" 2>/dev/null || true
                start_us=$(now_us) deadline_s=2
            fi
            sleep "$POLL_INTERVAL"
        done
    fi
    rm -f -- "$RUN_DIR/$name.pid"
}

# daemon_status NAME DETAIL: one line; fails unless NAME runs and is ready.
daemon_status() {
    local pid
    if ! pid="$(daemon_pid "$1")"; then
        printf '%-13s stopped\n' "$1"
        return 1
    elif ! "ready_$1"; then
        printf '%-13s running (pid %s) but not ready\n' "$1" "$pid"
        return 1
    fi
    printf '%-13s running  %s  (pid %s)\n' "$1" "$2" "$pid"
}

print_endpoints() {
    cat <<EOF

  PostgreSQL 127.0.0.1:$PG_PORT, databases printflow_shop / printflow_crm / printflow_mes, each owned by the
             service's own role (printflow_shop, ...); admin role $PG_USER
  RabbitMQ   amqp://127.0.0.1:$RABBITMQ_PORT (users printflow-crm, printflow-mes), management UI
             http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT ($RABBITMQ_ADMIN_USER, password \$RABBITMQ_ADMIN_PASSWORD)
  Traces     through the telemetry gate (scripts/stack.sh starts it): query API
             http://127.0.0.1:$GATE_HTTP_PORT/api/services with a token (scripts/token.sh sre), OTLP in on
             127.0.0.1:$GATE_OTLP_GRPC_PORT (gRPC) and 127.0.0.1:$GATE_OTLP_HTTP_PORT (HTTP); Jaeger itself (internal)
             on 127.0.0.1:$JAEGER_QUERY_PORT and OTLP 127.0.0.1:$JAEGER_OTLP_HTTP_PORT
  Prometheus http://127.0.0.1:$PROMETHEUS_PORT (classic UI /classic/graph), Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT
  Keycloak   http://127.0.0.1:$KEYCLOAK_PORT/realms/printflow (tokens: scripts/token.sh ROLE; admin console /admin)
  Data, logs $DATA_DIR, $LOG_DIR
EOF
}

# ------------------------------------------------------------------------------ dev realm
# Dev-only passwords and client secrets are written once, in config/keycloak's realm file, as
# ${VAR:default} placeholders that Keycloak resolves at import. The scripts read them the same
# way: VAR from the environment when set, else the default.

REALM_FILE="$ROOT/config/keycloak/printflow-realm.json"

# realm_placeholder JQ_FILTER: prints the value the placeholder selected by JQ_FILTER resolves to.
realm_placeholder() {
    local raw inner var
    raw="$(jq -er "$1" "$REALM_FILE")" || die "nothing in $REALM_FILE matches $1"
    [[ "$raw" =~ ^\$\{([A-Z0-9_]+):(.*)\}$ ]] || die "not a \${VAR:default} placeholder in $REALM_FILE: $1"
    var=${BASH_REMATCH[1]}
    printf '%s\n' "${!var:-${BASH_REMATCH[2]}}"
}
realm_client_secret() { realm_placeholder ".clients[] | select(.clientId == \"$1\") | .secret"; }
realm_password() { realm_placeholder ".users[] | select(.username == \"$1\") | .credentials[0].value"; }

# ------------------------------------------------------------------------------- the build
# Both README commands share one build: the dev profile (Cargo.toml explains its settings), every
# binary of the workspace. It starts in the background so it overlaps with the Jaeger build and
# the infrastructure start-up, which do not need it.
BUILD_PID=""
build_start() {
    log "building the workspace (dev profile; the first build takes several minutes)"
    (cd "$ROOT" && exec cargo build --workspace --locked --bins) &
    BUILD_PID=$!
    trap '[[ -z "$BUILD_PID" ]] || kill "$BUILD_PID" 2>/dev/null || true' EXIT
}
build_wait() {
    local rc=0
    wait "$BUILD_PID" || rc=$?
    BUILD_PID=""
    ((rc == 0)) || die "cargo build failed (see its output above)"
}
# shellcheck disable=SC2034 # used by the scripts that source this file
BIN_DIR="$ROOT/target/debug"

# infra_and_build: what both README commands start with; the build overlaps the package
# installation, the Jaeger build and the infrastructure start-up, none of which it needs.
infra_and_build() {
    build_start
    bash "$ROOT/scripts/infra.sh" install
    bash "$ROOT/scripts/infra.sh" up
    build_wait
}

# -------------------------------------------------------------------------------- RabbitMQ
# Shared by the main node (infra.sh) and private test nodes (rabbitmq-node.sh). A node is
# described by BASE (its directory), its node name and its AMQP port.

# rmq_prepare BASE NODENAME AMQP_PORT: directories owned by rabbitmq, a stable cookie (created up
# front: the server and the first rabbitmqctl would race to create it) and the node's
# environment in RMQ_ENV, for rabbitmq-server and rabbitmqctl alike.
rmq_prepare() {
    local base=$1 dist='-kernel inet_dist_use_interface {127,0,0,1}'
    mkdir -p -- "$base/mnesia" "$base/log" "$base/conf.d"
    printf '# intentionally empty: overrides /etc/rabbitmq/rabbitmq-env.conf\n' >"$base/rabbitmq-env.conf"
    [[ -s "$base/.erlang.cookie" ]] || head -c 20 /dev/urandom | base32 | tr -d '=\n' >"$base/.erlang.cookie"
    chown -R rabbitmq:rabbitmq -- "$base"
    chmod 0400 -- "$base/.erlang.cookie"
    chmod 0750 -- "$base"
    # shellcheck disable=SC2034 # used by the callers
    RMQ_ENV=(
        # The cookie lives in $HOME: server and rabbitmqctl share it, /var/lib/rabbitmq is untouched.
        HOME="$base" RABBITMQ_NODENAME="$2" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$3"
        # A fixed distribution port (AMQP + 20000), so several nodes never collide.
        RABBITMQ_DIST_PORT="$(($3 + 20000))"
        RABBITMQ_MNESIA_BASE="$base/mnesia" RABBITMQ_LOG_BASE="$base/log"
        RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf"
        # Keep /etc/rabbitmq out: its env file, advanced config and conf.d would be merged in.
        RABBITMQ_CONF_ENV_FILE="$base/rabbitmq-env.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$base/advanced.config"
        RABBITMQ_CONFIG_FILES="$base/conf.d"
        # Distribution (node-to-node, CLI) on loopback too; epmd, shared by every Erlang node on
        # the host, as well if we are the first to start it.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$dist" RABBITMQ_CTL_ERL_ARGS="$dist" ERL_EPMD_ADDRESS=127.0.0.1
    )
}

# ------------------------------------------------------------------------------ benchmarks
# bench_gate_start PORT WORKDIR: a release build of the telemetry gate as daemon bench-gate, on
# PORT (query), PORT+1 (OTLP/gRPC) and PORT+2 (OTLP/HTTP), in front of the running Jaeger and
# Keycloak, configured as scripts/stack.sh configures the stack's (its own tracing on). The
# caller builds it (`cargo build --release -p printflow-gate`) and stops it (daemon_stop).
bench_gate_start() {
    local port=$1 work=$2
    ready_bench-gate() { http_ok "http://127.0.0.1:$BENCH_GATE_PORT/readyz"; }
    BENCH_GATE_PORT=$port
    (
        export GATE_HTTP_PORT=$port GATE_OTLP_GRPC_PORT=$((port + 1)) GATE_OTLP_HTTP_PORT=$((port + 2)) \
            RUST_LOG=warn GATE_AUTH_ISSUER_URL="http://127.0.0.1:$KEYCLOAK_PORT/realms/printflow" \
            GATE_JAEGER_OTLP_URL="http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT/v1/traces" \
            GATE_JAEGER_QUERY_URL="http://127.0.0.1:$JAEGER_QUERY_PORT" GATE_AUDIT_LOG="$work/audit.jsonl" \
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
        daemon_start bench-gate - "$ROOT/target/release/printflow-gate"
    )
    daemon_wait bench-gate 60
}

