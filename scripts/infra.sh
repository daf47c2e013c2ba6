#!/usr/bin/env bash
# Local PostgreSQL + RabbitMQ + Jaeger + Prometheus/Alertmanager for printflow development
# and tests.
#
# usage: scripts/infra.sh install|up|down|status|rabbitmqctl [ARGS...]
#
#   install      apt-get the packages (only if missing; Prometheus and
#                Alertmanager via scripts/monitoring.sh), check that Go is
#                there (Jaeger is built from source) and stop/disable the
#                Debian-packaged default instances so ours get the ports
#   up           start all services (idempotent), create role + databases
#   down         stop all services cleanly (idempotent)
#   status       one line per component; exit 0 only if all are healthy
#   rabbitmqctl  run rabbitmqctl against our node (e.g. `list_queues`)
#
# Instances are private to this checkout: data under $DATA_DIR (default
# <repo>/.data), loopback only, run as the postgres/rabbitmq/prometheus users.
# Config comes from env vars (see scripts/lib.sh): PG_PORT, PG_USER,
# PG_PASSWORD, RABBITMQ_PORT, RABBITMQ_MANAGEMENT_PORT,
# RABBITMQ_PROMETHEUS_PORT, PRINTFLOW_DATA_DIR; Jaeger (scripts/jaeger.sh):
# JAEGER_STORAGE=memory|badger; monitoring (scripts/monitoring.sh):
# ALERT_WEBHOOK_URL and the services' *_HTTP_PORT (scrape targets).

set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(postgresql rabbitmq-server curl jq)
DATABASES=(printflow_shop printflow_crm printflow_mes)

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
PG_DATA="$DATA_DIR/postgres"
PG_LOG="$LOG_DIR/postgres.log"
RMQ_BASE="$DATA_DIR/rabbitmq"
# Node names must be unique per host (epmd), so a second checkout running
# on other ports (CI) gets its own name; the default stays printflow@localhost.
if [[ "$RABBITMQ_PORT" == 5672 ]]; then
    RMQ_NODE="printflow@localhost"
else
    RMQ_NODE="printflow-$RABBITMQ_PORT@localhost"
fi
RMQ_PID="$RUN_DIR/rabbitmq.pid"
RMQ_OUT="$LOG_DIR/rabbitmq.out"
RMQ_LOG="$RMQ_BASE/log/$RMQ_NODE.log"
RMQ_TEMPLATE="$ROOT/config/rabbitmq/rabbitmq.conf"
RMQ_START_DEADLINE=90
STOP_DEADLINE=60
# Jaeger has its own script (build from source, start/stop); we delegate.
JAEGER_SH="$ROOT/scripts/jaeger.sh"
# Prometheus + Alertmanager (Debian packages, configs in config/): own script too.
MONITORING_SH="$ROOT/scripts/monitoring.sh"

# ------------------------------------------------------------------ install

# Debian's maintainer scripts start a default instance on installation
# (postgres cluster 15/main on 5432, rabbit@<host> on 5672), which would
# take our ports. A policy-rc.d that exits 101 is the standard Debian way
# to tell invoke-rc.d/deb-systemd-invoke "do not start services now".
install_packages() {
    apt_install_no_start "scripts/infra.sh install" "${PACKAGES[@]}"
}

# Make sure the packaged default instances are neither running nor started
# again later (at boot or by a future package upgrade).
stop_default_instances() {
    if [[ -d /run/systemd/system ]]; then
        log "disabling the packaged postgresql/rabbitmq-server systemd units"
        systemctl disable --now postgresql.service rabbitmq-server.service >/dev/null 2>&1 || true
    fi
    stop_default_postgres
    stop_default_rabbitmq
}

stop_default_postgres() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    local ver name port status _rest start_conf
    while read -r ver name port status _rest; do
        [[ -n "$ver" ]] || continue
        if [[ "$status" == online* ]]; then
            log "stopping Debian's default PostgreSQL cluster $ver/$name (port $port)"
            pg_ctlcluster "$ver" "$name" stop -m fast || warn "could not stop cluster $ver/$name"
        fi
        start_conf="/etc/postgresql/$ver/$name/start.conf"
        if [[ -f "$start_conf" ]] && grep -qx 'auto' "$start_conf"; then
            log "setting $start_conf to 'manual' so it never auto-starts on port $port"
            sed -i 's/^auto$/manual/' "$start_conf"
        fi
    done < <(pg_lsclusters -h 2>/dev/null || true)
}

stop_default_rabbitmq() {
    # epmd knows every Erlang node on the host; "rabbit" is the packaged
    # node's name. Cheaper and more precise than matching process names.
    command -v epmd >/dev/null 2>&1 || return 0
    epmd -names 2>/dev/null | grep -q '^name rabbit at port' || return 0
    log "stopping Debian's default RabbitMQ node rabbit@$(hostname -s)"
    # Plain environment => the packaged node's HOME (/var/lib/rabbitmq),
    # cookie and /etc/rabbitmq config, i.e. exactly that node.
    run_as rabbitmq HOME=/var/lib/rabbitmq rabbitmqctl -q -n rabbit stop >/dev/null ||
        warn "could not stop the default RabbitMQ node; it may hold port 5672"
}

# Jaeger is built from source with Go. Debian 12's golang-go (1.19) is too
# old for Jaeger's go.mod, so installing it would not help: insist on a
# preinstalled toolchain instead (jaeger.sh checks the exact minimum).
ensure_go() {
    if command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]]; then
        return 0
    fi
    die "Go is not installed (or not on PATH): Jaeger is built from source (tools/jaeger/go.mod) and needs a current Go toolchain; Debian's golang-go is too old, so install Go and put its bin/ on PATH"
}

cmd_install() {
    install_packages
    ensure_go
    user_exists postgres || die "system user 'postgres' missing after installing postgresql"
    user_exists rabbitmq || die "system user 'rabbitmq' missing after installing rabbitmq-server"
    stop_default_instances
    bash "$MONITORING_SH" install
    log "install done"
}

# Let `up` work on a fresh machine without a separate `install` step.
ensure_installed() {
    local p
    for p in "${PACKAGES[@]}"; do
        if ! pkg_installed "$p"; then
            log "package $p missing: running install first"
            cmd_install
            return 0
        fi
    done
}

# ---------------------------------------------------------------- data dir

prepare_data_dir() {
    mkdir -p -- "$DATA_DIR"
    # Both service users need to reach their subdirectories.
    ensure_traversable postgres "$DATA_DIR"
    ensure_traversable rabbitmq "$DATA_DIR"
    mkdir -p -- "$LOG_DIR" "$RUN_DIR"
    # RUN_DIR holds postgres' unix socket. Local socket auth is "trust", so
    # keep it away from other local users (0750); root can still use it.
    chown postgres:postgres -- "$RUN_DIR"
    chmod 0750 -- "$RUN_DIR"
    # pg_ctl opens its log file as postgres; LOG_DIR itself stays root's.
    touch -- "$PG_LOG"
    chown postgres:postgres -- "$PG_LOG"
}

# --------------------------------------------------------------- PostgreSQL

# PG_BIN: server binaries. An existing cluster pins the major version it was
# created with (a newer postgres cannot open it); otherwise use the newest.
pg_find_bin() {
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        local ver
        ver="$(<"$PG_DATA/PG_VERSION")"
        PG_BIN="/usr/lib/postgresql/$ver/bin"
        [[ -x "$PG_BIN/postgres" ]] ||
            die "$PG_DATA was created by PostgreSQL $ver, but $PG_BIN/postgres is missing (install postgresql-$ver or remove $PG_DATA)"
        return 0
    fi
    local dirs=(/usr/lib/postgresql/*/bin/postgres)
    [[ -x "${dirs[0]}" ]] || die "no PostgreSQL server under /usr/lib/postgresql (run: $0 install)"
    PG_BIN="$(dirname -- "$(printf '%s\n' "${dirs[@]}" | sort -V | tail -n 1)")"
}

pg_is_running() {
    [[ -f "$PG_DATA/PG_VERSION" ]] || return 1
    run_as postgres "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_ready() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

pg_init() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
    log "initializing PostgreSQL cluster in $PG_DATA ($PG_BIN)"
    mkdir -p -- "$PG_DATA"
    chown postgres:postgres -- "$PG_DATA"
    chmod 0700 -- "$PG_DATA"
    # trust on the (0750) unix socket lets the scripts administer as
    # postgres without a password; TCP always requires a SCRAM password.
    if ! run_as postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres \
        --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1; then
        show_logs "$LOG_DIR/initdb.log"
        die "initdb failed"
    fi
}

# Our settings live in a generated file included at the end of
# postgresql.conf (so they win over initdb's defaults) and are rewritten on
# every `up`: changing PG_PORT etc. takes effect on the next start without
# hand-editing the cluster config.
pg_write_conf() {
    local conf="$PG_DATA/printflow.conf"
    local sock_dir="${RUN_DIR//\'/\'\'}"
    cat >"$conf" <<EOF
# Generated by scripts/infra.sh on every 'up' -- edit the script instead.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock_dir'
# Integration tests open many pools in parallel.
max_connections = 500
shared_buffers = 256MB
# Kept on deliberately: tests should see real durability semantics.
fsync = on
EOF
    chown postgres:postgres -- "$conf"
    if ! grep -qx "include_if_exists = 'printflow.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\n# printflow settings (scripts/infra.sh)\ninclude_if_exists = 'printflow.conf'\n" \
            >>"$PG_DATA/postgresql.conf"
    fi
}

pg_start() {
    if port_open 127.0.0.1 "$PG_PORT"; then
        die "port 127.0.0.1:$PG_PORT is taken by another process (Debian's default cluster? run '$0 install' to stop it, or set PG_PORT)"
    fi
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # pg_ctl -w waits until the postmaster reports "ready" (and notices if
    # it dies early); pg_ctl puts the server in its own session.
    if ! run_as postgres "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 >/dev/null; then
        show_logs "$PG_LOG"
        die "PostgreSQL failed to start"
    fi
    wait_for --log "$PG_LOG" 60 "PostgreSQL on 127.0.0.1:$PG_PORT (pg_isready)" pg_ready
}

# Role and databases, idempotently. psql variables (:'x' / :"x") do the
# quoting, so unusual names/passwords cannot break the SQL.
pg_provision() {
    local dbs
    dbs="$(
        IFS=,
        printf '%s' "${DATABASES[*]}"
    )"
    run_as postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$RUN_DIR" -p "$PG_PORT" -U postgres -d postgres \
        -v user="$PG_USER" -v pass="$PG_PASSWORD" -v dbs="$dbs" <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN CREATEDB PASSWORD :'pass';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', d, :'user', 'UTF8')
  FROM unnest(string_to_array(:'dbs', ',')) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
SQL
}

pg_up() {
    pg_find_bin
    pg_init
    pg_write_conf
    if pg_is_running; then
        wait_for --log "$PG_LOG" 60 "PostgreSQL on 127.0.0.1:$PG_PORT (pg_isready)" pg_ready
        log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    else
        pg_start
    fi
    pg_provision
}

pg_down() {
    if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        log "PostgreSQL not running"
        return 0
    fi
    pg_find_bin
    if ! pg_is_running; then
        log "PostgreSQL not running"
        return 0
    fi
    log "stopping PostgreSQL"
    # fast = roll back open transactions and disconnect clients, but still a
    # clean shutdown checkpoint (no crash recovery on next start).
    if ! run_as postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$STOP_DEADLINE" >/dev/null; then
        show_logs "$PG_LOG"
        die "PostgreSQL did not stop within ${STOP_DEADLINE}s"
    fi
}

# ----------------------------------------------------------------- RabbitMQ

# rabbitmqctl against our node: same user, HOME (cookie) and env as the
# server, so it finds the node and authenticates.
rabbitmqctl_local() {
    rmq_set_env "$RMQ_BASE" "$RMQ_NODE" "$RABBITMQ_PORT"
    run_as rabbitmq "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmqctl" "$@"
}

rmq_render_config() {
    local conf="$RMQ_BASE/rabbitmq.conf"
    [[ -f "$RMQ_TEMPLATE" ]] || die "missing $RMQ_TEMPLATE"
    sed -e "s/@RABBITMQ_PORT@/$RABBITMQ_PORT/g" \
        -e "s/@RABBITMQ_MANAGEMENT_PORT@/$RABBITMQ_MANAGEMENT_PORT/g" \
        -e "s/@RABBITMQ_PROMETHEUS_PORT@/$RABBITMQ_PROMETHEUS_PORT/g" \
        "$RMQ_TEMPLATE" >"$conf"
    if grep -q '@[A-Z_]*@' "$conf"; then
        die "unsubstituted placeholder in $RMQ_TEMPLATE: $(grep -o '@[A-Z_]*@' "$conf" | head -n 1)"
    fi
    printf '[rabbitmq_management,rabbitmq_prometheus].\n' >"$RMQ_BASE/enabled_plugins"
    chown rabbitmq:rabbitmq -- "$conf" "$RMQ_BASE/enabled_plugins"
}

rmq_mgmt_ok() {
    curl -fsS -o /dev/null --max-time 2 -u guest:guest \
        "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/overview" 2>/dev/null
}

# Probe for wait_for: 3 (= give up) once the server process is gone.
rmq_probe() {
    rmq_read_pid "$RMQ_PID" >/dev/null || return 3
    port_open 127.0.0.1 "$RABBITMQ_PORT" && rmq_mgmt_ok
}

rmq_check_ports_free() {
    local p
    for p in "$RABBITMQ_PORT" "$RABBITMQ_MANAGEMENT_PORT" "$RABBITMQ_PROMETHEUS_PORT" "$((RABBITMQ_PORT + 20000))"; do
        if port_open 127.0.0.1 "$p"; then
            die "port 127.0.0.1:$p is taken by another process (Debian's default rabbit node? run '$0 install' to stop it, or set RABBITMQ_*PORT)"
        fi
    done
}

rmq_up() {
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] || die "RabbitMQ not installed (run: $0 install)"
    local pid
    if pid="$(rmq_read_pid "$RMQ_PID")"; then
        wait_for --log "$RMQ_OUT" --log "$RMQ_LOG" "$RMQ_START_DEADLINE" \
            "RabbitMQ (AMQP port + management API)" rmq_probe
        log "RabbitMQ already running (pid $pid) on 127.0.0.1:$RABBITMQ_PORT"
        return 0
    fi
    rmq_check_ports_free
    rmq_prepare_base "$RMQ_BASE"
    rmq_render_config
    log "starting RabbitMQ node $RMQ_NODE on 127.0.0.1:$RABBITMQ_PORT"
    local start_us
    start_us=$(now_us)
    rmq_spawn "$RMQ_BASE" "$RMQ_NODE" "$RABBITMQ_PORT" "$RMQ_PID" "$RMQ_OUT"
    wait_for --log "$RMQ_OUT" --log "$RMQ_LOG" "$RMQ_START_DEADLINE" \
        "RabbitMQ (AMQP port + management API)" rmq_probe
    log "RabbitMQ ready in $(elapsed_since "$start_us") (pid $(<"$RMQ_PID"))"
    # Proves the CLI path (cookie, HOME, node name) works, so
    # `infra.sh rabbitmqctl ...` can be relied on.
    rabbitmqctl_local -q await_startup --timeout 30 >/dev/null ||
        warn "rabbitmqctl cannot reach $RMQ_NODE (the broker itself is up)"
}

rmq_down() {
    if rmq_read_pid "$RMQ_PID" >/dev/null; then
        log "stopping RabbitMQ"
        rmq_stop "$RMQ_PID" "$STOP_DEADLINE"
    elif [[ -x "$RMQ_BIN/rabbitmqctl" ]] && port_open 127.0.0.1 "$RABBITMQ_PORT" &&
        [[ -s "$RMQ_BASE/.erlang.cookie" ]]; then
        # Pid file lost but something listens: only our node accepts our
        # cookie, so this cannot stop anybody else's broker.
        log "RabbitMQ pid file missing; asking $RMQ_NODE to stop via rabbitmqctl"
        rabbitmqctl_local -q stop >/dev/null 2>&1 || log "RabbitMQ ($RMQ_NODE) not running"
    else
        log "RabbitMQ not running"
    fi
}

# ------------------------------------------------------------------ summary

print_summary() {
    cat <<EOF

PrintFlow infrastructure is up:
  PostgreSQL       127.0.0.1:$PG_PORT  user $PG_USER / $PG_PASSWORD
                   databases: ${DATABASES[*]}
                   e.g. postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/printflow_crm
  RabbitMQ AMQP    amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2f
  Management UI    http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/  (guest / guest)
  RabbitMQ metrics http://127.0.0.1:$RABBITMQ_PROMETHEUS_PORT/metrics
  Jaeger OTLP      grpc 127.0.0.1:4317, http http://127.0.0.1:4318/v1/traces
  Jaeger API       http://127.0.0.1:16686/api/services  (no UI in this build)
  Prometheus       http://127.0.0.1:9090/classic/graph  (docs/monitoring.md)
  Alertmanager     http://127.0.0.1:9093/  (alerts: docs/alerts.md)
  Data dir         $DATA_DIR
  Logs             $PG_LOG, $RMQ_LOG, $LOG_DIR/{jaeger,prometheus,alertmanager}.log
EOF
}

# ----------------------------------------------------------------- commands

cmd_up() {
    ensure_installed
    prepare_data_dir
    pg_up
    rmq_up
    bash "$JAEGER_SH" up
    # After Jaeger: Prometheus scrapes it and Jaeger's SPM queries Prometheus.
    bash "$MONITORING_SH" up
    print_summary
}

cmd_down() {
    bash "$MONITORING_SH" down
    bash "$JAEGER_SH" down
    rmq_down
    pg_down
}

cmd_status() {
    local ok=0
    if [[ -f "$PG_DATA/PG_VERSION" ]] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
        pg_find_bin
    fi
    if [[ -n "${PG_BIN:-}" ]] && pg_is_running; then
        if pg_ready; then
            printf 'postgres  running  127.0.0.1:%s\n' "$PG_PORT"
        else
            printf 'postgres  running but not accepting connections on 127.0.0.1:%s\n' "$PG_PORT"
            ok=1
        fi
    else
        printf 'postgres  stopped\n'
        ok=1
    fi
    local pid
    if pid="$(rmq_read_pid "$RMQ_PID")"; then
        if port_open 127.0.0.1 "$RABBITMQ_PORT" && rmq_mgmt_ok; then
            printf 'rabbitmq  running  amqp 127.0.0.1:%s  ui http://127.0.0.1:%s/  metrics http://127.0.0.1:%s/metrics  (pid %s)\n' \
                "$RABBITMQ_PORT" "$RABBITMQ_MANAGEMENT_PORT" "$RABBITMQ_PROMETHEUS_PORT" "$pid"
        else
            printf 'rabbitmq  running (pid %s) but not answering on 127.0.0.1:%s / :%s yet\n' \
                "$pid" "$RABBITMQ_PORT" "$RABBITMQ_MANAGEMENT_PORT"
            ok=1
        fi
    else
        printf 'rabbitmq  stopped\n'
        ok=1
    fi
    bash "$JAEGER_SH" status || ok=1
    bash "$MONITORING_SH" status || ok=1
    return "$ok"
}

usage() {
    sed -n '2,22s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

main() {
    local cmd="${1:-}"
    [[ -n "$cmd" ]] || usage
    shift
    case "$cmd" in
    install | up | down | status | rabbitmqctl) ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
    ensure_root "$cmd" "$@"
    validate_port PG_PORT "$PG_PORT"
    validate_port RABBITMQ_PORT "$RABBITMQ_PORT"
    validate_port RABBITMQ_MANAGEMENT_PORT "$RABBITMQ_MANAGEMENT_PORT"
    validate_port RABBITMQ_PROMETHEUS_PORT "$RABBITMQ_PROMETHEUS_PORT"
    case "$cmd" in
    install) cmd_install ;;
    up)
        lock_dir "$DATA_DIR"
        cmd_up
        ;;
    down)
        lock_dir "$DATA_DIR"
        cmd_down
        ;;
    status) cmd_status ;;
    rabbitmqctl) rabbitmqctl_local "$@" ;;
    esac
}

main "$@"
