# shellcheck shell=bash
# Shared helpers for the printflow dev/test infrastructure scripts.
# Sourced (not executed) by scripts/infra.sh and scripts/rabbitmq-node.sh.
#
# Everything here is loopback-only and keeps its state under $DATA_DIR so a
# checkout can be wiped with `rm -rf .data` without touching system services.

set -euo pipefail

# Repo root derived from this file's location, never from $PWD or a fixed
# path: CI clones the repo into arbitrary folders.
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
DATA_DIR="${PRINTFLOW_DATA_DIR:-$ROOT/.data}"

# Defaults, overridable from the environment (exported so child processes
# such as test runners see the same values).
export PG_PORT="${PG_PORT:-5432}"
export PG_USER="${PG_USER:-printflow}"
export PG_PASSWORD="${PG_PASSWORD:-printflow}"
export RABBITMQ_PORT="${RABBITMQ_PORT:-5672}"
export RABBITMQ_MANAGEMENT_PORT="${RABBITMQ_MANAGEMENT_PORT:-15672}"
export RABBITMQ_PROMETHEUS_PORT="${RABBITMQ_PROMETHEUS_PORT:-15692}"
export ROOT DATA_DIR

# Fixed locations of the Debian packages' binaries. We call the server
# binaries directly instead of going through Debian's cluster wrappers
# (pg_ctlcluster, /etc/init.d/...) because our instances live in $DATA_DIR.
RMQ_BIN=/usr/lib/rabbitmq/bin
# Minimal PATH for processes run as service users: we start them with an
# empty environment so nothing from the caller's shell (PGOPTIONS,
# RABBITMQ_*, ERL_*) leaks in and changes behaviour between machines.
SERVICE_PATH="$RMQ_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Poll interval for wait_for: short enough to notice readiness quickly,
# long enough not to burn CPU during a multi-second Erlang boot.
POLL_INTERVAL="${POLL_INTERVAL:-0.2}"

# Set by scripts that must only print errors (rabbitmq-node.sh).
QUIET="${QUIET:-0}"

log() {
    [[ "$QUIET" == 1 ]] && return 0
    printf '==> %s\n' "$*" >&2
}

warn() {
    printf 'WARNING: %s\n' "$*" >&2
}

die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# Microseconds since the epoch (bash 5 EPOCHREALTIME, no fork of `date`).
now_us() {
    local t="$EPOCHREALTIME"
    printf '%s\n' "${t/./}"
}

# Human readable duration since a now_us timestamp, e.g. "4.3s".
elapsed_since() {
    local start_us=$1 ms
    ms=$(( ($(now_us) - start_us) / 1000 ))
    printf '%d.%ds\n' $((ms / 1000)) $((ms % 1000 / 100))
}

# Print the tail of one or more log files, so a failure explains itself
# instead of sending the reader hunting for the right file.
show_logs() {
    local f
    for f in "$@"; do
        [[ -n "$f" ]] || continue
        if [[ -s "$f" ]]; then
            printf -- '----- last lines of %s -----\n' "$f" >&2
            tail -n 30 -- "$f" >&2 || true
        else
            printf -- '----- %s: (missing or empty) -----\n' "$f" >&2
        fi
    done
}

# wait_for [--log FILE]... DEADLINE_SECONDS DESCRIPTION CMD [ARGS...]
#
# Polls CMD until it succeeds or the deadline passes. CMD returning 3 means
# "this can never succeed" (e.g. the server process died), which fails fast
# instead of waiting out the deadline. On failure shows the given logs and
# exits via die.
wait_for() {
    local logs=()
    while [[ "${1:-}" == --log ]]; do
        logs+=("$2")
        shift 2
    done
    local deadline_s=$1 what=$2
    shift 2
    local start_us deadline_us rc
    start_us=$(now_us)
    deadline_us=$((start_us + deadline_s * 1000000))
    while :; do
        rc=0
        "$@" || rc=$?
        if ((rc == 0)); then
            return 0
        fi
        if ((rc == 3)); then
            show_logs "${logs[@]}"
            die "gave up waiting for $what: the process exited (see logs above)"
        fi
        if (($(now_us) >= deadline_us)); then
            show_logs "${logs[@]}"
            die "timed out after ${deadline_s}s waiting for $what"
        fi
        sleep "$POLL_INTERVAL"
    done
}

# port_open HOST PORT: true if something accepts TCP connections there.
# Uses bash's /dev/tcp so no netcat is needed; the subshell closes the fd.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# apt_install PKG...: only touches apt (slow, needs network) when at least
# one package is actually missing, so it is cheap to call on every run.
apt_install() {
    local todo=() p
    for p in "$@"; do
        pkg_installed "$p" || todo+=("$p")
    done
    ((${#todo[@]} == 0)) && return 0
    log "installing: ${todo[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends: keeps CI images lean (e.g. skips sysstat).
    apt-get install -y -qq --no-install-recommends "${todo[@]}" >/dev/null
}

# apt_install_no_start TAG PKG...: like apt_install, but the packages' postinst may not
# start their default instances (they would take our ports, listening on every interface):
# a temporary policy-rc.d that exits 101 is Debian's standard way to tell invoke-rc.d
# "do not start services now". TAG names the caller in that file, so only our own copy is
# removed afterwards.
apt_install_no_start() {
    local tag=$1 p missing=0
    shift
    for p in "$@"; do
        pkg_installed "$p" || missing=1
    done
    if ((missing == 0)); then
        log "packages already installed: $*"
        return 0
    fi
    local policy=/usr/sbin/policy-rc.d
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\n# temporary, from printflow %s\nexit 101\n' "$tag" >"$policy"
        chmod 0755 "$policy"
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt_install "$@"
    if grep -q "printflow $tag" "$policy" 2>/dev/null; then
        rm -f "$policy"
        trap - EXIT
    fi
}

# Vars that must survive a sudo re-exec (sudo resets the environment).
PRINTFLOW_ENV_VARS="PRINTFLOW_DATA_DIR,PG_PORT,PG_USER,PG_PASSWORD,RABBITMQ_PORT,RABBITMQ_MANAGEMENT_PORT,RABBITMQ_PROMETHEUS_PORT,POLL_INTERVAL"

# ensure_root "$@": the scripts switch to the postgres/rabbitmq users, which
# needs root. CI runners are often a normal user with passwordless sudo, so
# re-exec through sudo (non-interactively) when possible.
ensure_root() {
    ((EUID == 0)) && return 0
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n --preserve-env="$PRINTFLOW_ENV_VARS" bash "$0" "$@"
    fi
    die "must run as root (it starts services as the postgres/rabbitmq users); try: sudo bash $0 $*"
}

# validate_port NAME VALUE: ports end up in sed expressions and configs.
validate_port() {
    if [[ ! "$2" =~ ^[0-9]+$ ]] || (("$2" < 1 || "$2" > 65535)); then
        die "$1 must be a TCP port number, got '$2'"
    fi
}

# lock_dir DIR: serialize concurrent invocations (two test jobs running
# `up` at once) on a lock file in DIR. Held until the script exits.
lock_dir() {
    local dir=$1
    mkdir -p -- "$dir"
    exec 9>"$dir/.lock"
    flock -w 300 9 || die "another invocation holds $dir/.lock for over 300s"
}

user_exists() {
    getent passwd "$1" >/dev/null
}

# run_as USER [VAR=VALUE...] CMD [ARGS...]
#
# Runs CMD as the system user with a clean environment. setpriv (util-linux,
# always present on Debian) execs in place: no PAM session, no extra
# process, works for users with a nologin shell, and a background `run_as`
# keeps the real server pid. cd / because service users usually cannot
# read the caller's cwd (pg_ctl refuses to run in that case).
run_as() {
    local user=$1
    shift
    local home
    home="$(getent passwd "$user" | cut -d: -f6)"
    # 9>&-: never leak the lock_dir fd into daemons (pg_ctl start would
    # otherwise keep the lock held for the server's whole lifetime).
    (
        cd / &&
            exec 9>&- setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
                env -i PATH="$SERVICE_PATH" HOME="$home" LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"
    )
}

# ensure_traversable USER DIR: the service users must be able to reach
# their data dirs under the repo. If an ancestor (e.g. /root or a 0700 home)
# blocks them, add o+x (search only, not read) to just that component.
ensure_traversable() {
    local user=$1 target=$2 path="" comp parts=()
    IFS=/ read -r -a parts <<<"$target"
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

# ---------------------------------------------------------------- RabbitMQ
# Shared by the main node (infra.sh) and private test nodes
# (rabbitmq-node.sh). A node is fully described by BASE (its directory),
# its node name and its AMQP port; everything else is derived.

# rmq_set_env BASE NODENAME AMQP_PORT: fills the RMQ_ENV array with the
# environment for rabbitmq-server/rabbitmqctl for that node.
rmq_set_env() {
    local base=$1 node=$2 port=$3
    # Pin distribution (node-to-node/CLI) traffic to loopback too; by
    # default Erlang listens on all interfaces.
    local loopback_dist='-kernel inet_dist_use_interface {127,0,0,1}'
    RMQ_ENV=(
        # The Erlang cookie lives in $HOME: a per-node HOME means the server
        # and rabbitmqctl run with the same HOME share it, and nothing in
        # /var/lib/rabbitmq is touched.
        HOME="$base"
        RABBITMQ_NODENAME="$node"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$port"
        # Fixed dist port (instead of AMQP+20000 default range luck) so
        # several nodes never collide.
        RABBITMQ_DIST_PORT="$((port + 20000))"
        RABBITMQ_MNESIA_BASE="$base/mnesia"
        RABBITMQ_LOG_BASE="$base/log"
        RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins"
        RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf"
        # Keep /etc/rabbitmq out of the picture: its env file, advanced
        # config and conf.d would otherwise be merged into our node.
        RABBITMQ_CONF_ENV_FILE="$base/rabbitmq-env.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$base/advanced.config"
        RABBITMQ_CONFIG_FILES="$base/conf.d"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$loopback_dist"
        RABBITMQ_CTL_ERL_ARGS="$loopback_dist"
        # epmd is shared by all Erlang nodes on the host; if we are the first
        # to start it, keep it on loopback.
        ERL_EPMD_ADDRESS=127.0.0.1
    )
}

# rmq_prepare_base BASE: directories owned by rabbitmq plus a stable cookie.
# The cookie is created up front because the server and the first
# rabbitmqctl call would otherwise race to create it.
rmq_prepare_base() {
    local base=$1
    mkdir -p -- "$base" "$base/mnesia" "$base/log" "$base/conf.d"
    [[ -f "$base/rabbitmq-env.conf" ]] ||
        printf '# intentionally empty: overrides /etc/rabbitmq/rabbitmq-env.conf\n' >"$base/rabbitmq-env.conf"
    if [[ ! -s "$base/.erlang.cookie" ]]; then
        # base32 of random bytes: only [A-Z2-7], valid cookie characters.
        head -c 20 /dev/urandom | base32 | tr -d '=\n' >"$base/.erlang.cookie"
    fi
    chown rabbitmq:rabbitmq -- "$base" "$base/mnesia" "$base/log" "$base/conf.d" \
        "$base/rabbitmq-env.conf" "$base/.erlang.cookie"
    chmod 0400 -- "$base/.erlang.cookie"
    chmod 0750 -- "$base"
}

# rmq_read_pid PIDFILE: prints the pid if it belongs to a live
# rabbitmq-server wrapper (guards against stale files and pid reuse).
rmq_read_pid() {
    local pidfile=$1 pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'rabbitmq-server' || return 1
    printf '%s\n' "$pid"
}

# rmq_spawn BASE NODENAME AMQP_PORT PIDFILE OUTFILE: starts the node in the
# background, in its own session (so Ctrl-C in the caller's terminal or the
# caller exiting does not kill it). The started shell writes its own pid
# before exec'ing into setpriv -> rabbitmq-server, so the pid is right even
# if setsid has to fork. That pid is also the process group id of the
# whole node (wrapper sh + beam.smp + helpers), which rmq_stop relies on.
rmq_spawn() {
    local base=$1 node=$2 port=$3 pidfile=$4 outfile=$5
    local user_uid user_gid
    user_uid="$(id -u rabbitmq)"
    user_gid="$(id -g rabbitmq)"
    rmq_set_env "$base" "$node" "$port"
    rm -f -- "$pidfile"
    # shellcheck disable=SC2016 # $$/$0/$@ belong to the inner bash
    (
        cd / &&
            exec 9>&- setsid bash -c 'echo "$$" >"$0"; exec "$@"' "$pidfile" \
                setpriv --reuid="$user_uid" --regid="$user_gid" --init-groups \
                env -i PATH="$SERVICE_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 "${RMQ_ENV[@]}" \
                "$RMQ_BIN/rabbitmq-server" </dev/null >>"$outfile" 2>&1
    ) &
    # The pid file appears within milliseconds; wait so callers can rely on it.
    wait_for --log "$outfile" 10 "RabbitMQ pid file $pidfile" test -s "$pidfile"
}

# pgid_alive PGID: true while any non-zombie process is in the group.
# Plain `kill -0 -PGID` is not enough: our daemons are reparented to PID 1,
# and in containers PID 1 may be slow (or fail) to reap, leaving zombies
# that kill -0 still reports as alive.
pgid_alive() {
    local want=$1 f line state _ppid pgrp _rest
    for f in /proc/[0-9]*/stat; do
        # `read` (not $(<file)): the process may vanish between the glob and
        # the read, and that must just skip the entry.
        { read -r line <"$f"; } 2>/dev/null || continue
        # Fields after "(comm) ": state ppid pgrp ... (comm may contain spaces).
        read -r state _ppid pgrp _rest <<<"${line##*) }"
        [[ "$pgrp" == "$want" && "$state" != Z ]] && return 0
    done
    return 1
}

# stop_process_group PID DEADLINE_SECONDS WHAT: SIGTERM to the leader, wait for the
# whole process group to exit (so data dirs and ports are really released when we
# return), SIGKILL the group after the deadline. Prints nothing on a clean stop.
stop_process_group() {
    local pid=$1 deadline_s=$2 what=$3 start_us
    kill -TERM "$pid" 2>/dev/null || true
    start_us=$(now_us)
    while pgid_alive "$pid"; do
        if (($(now_us) - start_us >= deadline_s * 1000000)); then
            warn "$what (pgid $pid) did not stop within ${deadline_s}s; sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || true
            break
        fi
        sleep "$POLL_INTERVAL"
    done
    # After SIGKILL, give the kernel a moment to reap before callers reuse ports.
    local tries=10
    while ((tries-- > 0)) && pgid_alive "$pid"; do
        sleep "$POLL_INTERVAL"
    done
}

# rmq_stop PIDFILE DEADLINE_SECONDS: graceful stop, escalating to KILL.
# SIGTERM to the wrapper script makes it forward TERM to the Erlang VM,
# which RabbitMQ handles as a clean shutdown (flushes queues to disk).
rmq_stop() {
    local pidfile=$1 deadline_s=$2 pid
    pid="$(rmq_read_pid "$pidfile")" || {
        rm -f -- "$pidfile"
        return 0
    }
    stop_process_group "$pid" "$deadline_s" RabbitMQ
    rm -f -- "$pidfile"
}
