#!/usr/bin/env bash
# The infrastructure of printflow on this machine: PostgreSQL, RabbitMQ, Jaeger (built from
# source), Prometheus and Alertmanager, private to this checkout (data under .data/, loopback
# only, run as the postgres/rabbitmq/prometheus users).
#
# usage: scripts/infra.sh install|up|down|status [COMPONENT...] | reload | rabbitmqctl ARGS...
#
#   install      apt-get what is missing without letting the packages start their default
#                instances, and stop/disable those if they run (they would take our ports)
#   up           start (idempotent; Jaeger is built first when needed), create role + databases;
#                Prometheus and Alertmanager, when already running, re-render and reload configs
#   down         stop (SIGTERM, SIGKILL after a deadline; idempotent)
#   status       one line per component; exit 0 only if all are running and ready
#   reload       re-render the Prometheus and Alertmanager configs and reload them
#   rabbitmqctl  rabbitmqctl against our node (e.g. `list_queues`)
#
# COMPONENT: postgres, rabbitmq, jaeger, monitoring (Prometheus + Alertmanager), keycloak;
# default all.
# Settings (README): every *_PORT, PG_USER, PG_PASSWORD, PG_{SHOP,CRM,MES}_PASSWORD, PRINTFLOW_DATA_DIR, PRINTFLOW_CACHE_DIR,
# JAEGER_STORAGE=memory|badger, JAEGER_SAMPLING=all|tail (JAEGER_TAIL_LATENCY_MS, JAEGER_TAIL_SHARE_PERCENT,
# JAEGER_TAIL_DECISION_WAIT_SECONDS; docs/monitoring.md), ALERT_WEBHOOK_URL, KEYCLOAK_ADMIN_PASSWORD and the realm's
# PRINTFLOW_DEV_PASSWORD_* / PRINTFLOW_*_CLIENT_SECRET overrides (docs/security.md).

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(postgresql rabbitmq-server curl jq unzip prometheus prometheus-alertmanager)
COMPONENTS=(postgres rabbitmq jaeger monitoring keycloak)

PG_DATA="$DATA_DIR/postgres"
RMQ_BASE="$DATA_DIR/rabbitmq"
# Node names are unique per host (epmd): a second checkout on other ports gets its own.
RMQ_NODE="printflow@localhost"
[[ "$RABBITMQ_PORT" == 5672 ]] || RMQ_NODE="printflow-$RABBITMQ_PORT@localhost"
JAEGER_DIR="$DATA_DIR/jaeger"
JAEGER_BIN="$DATA_DIR/bin/jaeger"
# Our go.mod pins Jaeger as a tool dependency (with go.sum: the build never resolves versions).
JAEGER_TOOL_DIR="$ROOT/tools/jaeger"
JAEGER_PKG=github.com/jaegertracing/jaeger/cmd/jaeger
# Static, no local paths and no symbol/DWARF tables (smaller, links faster; Go panics still
# print file:line). Part of the build stamp: changing them rebuilds.
JAEGER_BUILD=(env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off go build -mod=readonly -trimpath -ldflags=-s\ -w)
PROM_DIR="$DATA_DIR/prometheus"
AM_DIR="$DATA_DIR/alertmanager"
PROM_URL="http://127.0.0.1:$PROMETHEUS_PORT"
AM_URL="http://127.0.0.1:$ALERTMANAGER_PORT"
DEFAULT_WEBHOOK_URL=http://127.0.0.1:9099/alerts
ALERT_WEBHOOK_URL="${ALERT_WEBHOOK_URL:-$DEFAULT_WEBHOOK_URL}"
KEYCLOAK_VERSION=26.7.3
# The downloaded zip stays in Maven's local repository and the unpacked, built distribution in
# the cache dir, both outside the checkout: a fresh clone neither downloads nor rebuilds it.
CACHE_DIR="${PRINTFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/printflow}"
# `kc.sh build` options: part of the cached distribution's name, so changing them rebuilds.
KEYCLOAK_BUILD_OPTS=(--db=dev-file --health-enabled=false --metrics-enabled=false)
KEYCLOAK_DIST="$CACHE_DIR/keycloak-$KEYCLOAK_VERSION-$(printf '%s' "${KEYCLOAK_BUILD_OPTS[*]}" | sha256sum | cut -c1-8)"
KEYCLOAK_HOME="$DATA_DIR/keycloak"
KEYCLOAK_URL="http://127.0.0.1:$KEYCLOAK_PORT"

# ------------------------------------------------------------------------------------ install

# The packages' default instances (started by an earlier install or at boot) hold our ports and
# listen on every interface: stop them and keep them from starting again.
stop_default_instances() {
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now postgresql rabbitmq-server prometheus prometheus-alertmanager >/dev/null 2>&1 || true
    fi
    local ver name _port status _rest
    while read -r ver name _port status _rest; do
        if [[ "$status" == online* ]]; then
            log "stopping Debian's default PostgreSQL cluster $ver/$name"
            pg_ctlcluster "$ver" "$name" stop -m fast || warn "could not stop cluster $ver/$name"
        fi
        sed -i 's/^auto$/manual/' "/etc/postgresql/$ver/$name/start.conf" 2>/dev/null || true
    done < <(pg_lsclusters -h 2>/dev/null || true)
    # epmd knows every Erlang node on the host; "rabbit" is the packaged node.
    if epmd -names 2>/dev/null | grep -q '^name rabbit at port'; then
        log "stopping Debian's default RabbitMQ node"
        run_as rabbitmq HOME=/var/lib/rabbitmq rabbitmqctl -q -n rabbit stop >/dev/null ||
            warn "could not stop the default RabbitMQ node; it may hold port 5672"
    fi
    for name in prometheus prometheus-alertmanager; do
        if start-stop-daemon --status --pidfile "/run/prometheus/$name.pid" --exec "/usr/bin/$name" 2>/dev/null; then
            log "stopping Debian's default $name"
            "/etc/init.d/$name" stop >/dev/null 2>&1 || warn "could not stop the default $name"
        fi
        update-rc.d "$name" disable >/dev/null 2>&1 || true
    done
}

cmd_install() {
    apt_install "${PACKAGES[@]}"
    # Go builds Jaeger. Debian 12's golang-go (1.19) is too old for Jaeger's go.mod, so a missing
    # or old Go is an error, not an apt install.
    require_go "$JAEGER_TOOL_DIR/go.mod" Jaeger
    local user
    for user in postgres rabbitmq prometheus; do
        getent passwd "$user" >/dev/null || die "system user '$user' missing after installing the packages"
    done
    stop_default_instances
}

# ----------------------------------------------------------------------------------- postgres

# PG_BIN: an existing cluster pins the major version that created it; otherwise the newest.
pg_find_bin() {
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        PG_BIN="/usr/lib/postgresql/$(<"$PG_DATA/PG_VERSION")/bin"
        [[ -x "$PG_BIN/postgres" ]] || die "$PG_DATA needs $PG_BIN/postgres (install that version or remove $PG_DATA)"
    else
        PG_BIN="$(dirname -- "$(printf '%s\n' /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1)")"
        [[ -x "$PG_BIN/postgres" ]] || die "no PostgreSQL server under /usr/lib/postgresql (run: $0 install)"
    fi
}

ready_postgres() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

# A cluster started by pg_ctl (earlier versions of this script) is adopted through its lock file.
pg_adopt() {
    [[ -s "$RUN_DIR/postgres.pid" || ! -s "$PG_DATA/postmaster.pid" ]] ||
        printf '%s\npostgres\n' "$(head -n 1 "$PG_DATA/postmaster.pid")" >"$RUN_DIR/postgres.pid"
}

up_postgres() {
    pg_find_bin
    pg_adopt
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        log "initialising a PostgreSQL cluster in $PG_DATA"
        mkdir -p -- "$PG_DATA"
        chown postgres:postgres -- "$PG_DATA"
        chmod 0700 -- "$PG_DATA"
        # trust on the (0750) unix socket lets the scripts administer as postgres without a
        # password; TCP always requires a SCRAM password.
        run_as postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 ||
            { show_logs "$LOG_DIR/initdb.log" && die "initdb failed"; }
    fi
    # Our settings, rewritten on every `up` (a changed PG_PORT applies at the next start) and
    # included last, so they win over initdb's. The socket dir is 0750: local auth is "trust".
    cat >"$PG_DATA/printflow.conf" <<EOF
# Generated by scripts/infra.sh on every 'up' -- edit the script instead.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '${RUN_DIR//\'/\'\'}'
# Integration tests open many pools in parallel.
max_connections = 500
shared_buffers = 256MB
# Kept on deliberately: tests should see real durability semantics.
fsync = on
EOF
    grep -qx "include_if_exists = 'printflow.conf'" "$PG_DATA/postgresql.conf" ||
        printf "\ninclude_if_exists = 'printflow.conf'\n" >>"$PG_DATA/postgresql.conf"
    chown postgres:postgres -- "$PG_DATA/printflow.conf" "$RUN_DIR"
    chmod 0750 -- "$RUN_DIR"
    if ! daemon_running postgres; then
        ports_free PostgreSQL "$PG_PORT"
        daemon_start postgres postgres "$PG_BIN/postgres" -D "$PG_DATA"
    fi
    daemon_wait postgres 60
    # The admin role, idempotently; psql variables do the quoting.
    run_as postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PG_PORT" -d postgres \
        -v user="$PG_USER" -v pass="$PG_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD :'pass';
SQL
    local svc pass_var
    for svc in shop crm mes; do
        pass_var="PG_${svc^^}_PASSWORD"
        pg_service_role "printflow_$svc" "${!pass_var}"
    done
}

# pg_service_role NAME PASSWORD: login role NAME (not a superuser, cannot create databases or
# roles) owning database NAME and everything in it. Objects an earlier version created as the
# admin role are handed over, so the service can still run its migrations.
pg_service_role() {
    run_as postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PG_PORT" -d postgres \
        -v role="$1" -v pass="$2" -v admin="$PG_USER" <<'SQL'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD :'pass';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'role', :'role', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
ALTER DATABASE :"role" OWNER TO :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"role" TO :"role";
SQL
    run_as postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PG_PORT" -d "$1" \
        -v role="$1" <<'SQL'
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> :'role'::regrole \gexec
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S' AND c.relowner <> :'role'::regrole
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'role')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND p.proowner <> :'role'::regrole \gexec
SQL
}

# SIGINT is PostgreSQL's fast shutdown: open transactions roll back, still a clean checkpoint.
down_postgres() {
    pg_adopt
    daemon_stop postgres 60 INT
}

status_postgres() {
    pg_adopt
    daemon_status postgres "127.0.0.1:$PG_PORT"
}

# ----------------------------------------------------------------------------------- rabbitmq

ready_rabbitmq() {
    # Any answer of the management API (401 included: the admin is created once it runs).
    port_open "$RABBITMQ_PORT" && curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/overview" 2>/dev/null
}

rabbitmqctl_local() {
    rmq_prepare "$RMQ_BASE" "$RMQ_NODE" "$RABBITMQ_PORT"
    run_as rabbitmq "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmqctl" "$@"
}

up_rabbitmq() {
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] || die "RabbitMQ not installed (run: $0 install)"
    rmq_prepare "$RMQ_BASE" "$RMQ_NODE" "$RABBITMQ_PORT"
    if ! daemon_running rabbitmq; then
        ports_free RabbitMQ "$RABBITMQ_PORT" "$RABBITMQ_MANAGEMENT_PORT" "$RABBITMQ_PROMETHEUS_PORT" "$((RABBITMQ_PORT + 20000))"
        render_config "$ROOT/config/rabbitmq/rabbitmq.conf" "$RMQ_BASE/rabbitmq.conf"
        printf '[rabbitmq_management,rabbitmq_prometheus].\n' >"$RMQ_BASE/enabled_plugins"
        chown rabbitmq:rabbitmq -- "$RMQ_BASE/rabbitmq.conf" "$RMQ_BASE/enabled_plugins"
        log "starting RabbitMQ node $RMQ_NODE on 127.0.0.1:$RABBITMQ_PORT"
        daemon_start rabbitmq rabbitmq "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server"
    fi
    daemon_wait rabbitmq 90 "$RMQ_BASE/log/$RMQ_NODE.log"
    # Proves the CLI path (cookie, HOME, node name), so `infra.sh rabbitmqctl` can be relied on.
    rabbitmqctl_local -q await_startup --timeout 30 >/dev/null ||
        die "rabbitmqctl cannot reach $RMQ_NODE (needed to set up its users)"
    rmq_users
}

# rmq_users: the administrator, one user per service with config/rabbitmq/permissions on "/",
# and no guest. Idempotent (passwords and permissions are set again on every `up`).
rmq_users() {
    rmq_user "$RABBITMQ_ADMIN_USER" "$RABBITMQ_ADMIN_PASSWORD" administrator
    rabbitmqctl_local -q set_permissions -p / "$RABBITMQ_ADMIN_USER" '.*' '.*' '.*' >/dev/null
    local user conf write read pass_var
    # Read on fd 3: rabbitmqctl would swallow the rest of the file from stdin.
    while read -r user conf write read <&3; do
        [[ -z "$user" || "$user" == \#* ]] && continue
        pass_var="RABBITMQ_$(tr 'a-z' 'A-Z' <<<"${user#printflow-}")_PASSWORD"
        rmq_user "$user" "${!pass_var}" ""
        rabbitmqctl_local -q set_permissions -p / "$user" "$conf" "$write" "$read" >/dev/null
    done 3<"$ROOT/config/rabbitmq/permissions"
    # Listed first, then searched: `grep -q` closing the pipe early would fail rabbitmqctl
    # (SIGPIPE) and, with pipefail, the test.
    if grep -q '^guest\b' <<<"$(rabbitmqctl_local -q list_users --no-table-headers)"; then
        rabbitmqctl_local -q delete_user guest >/dev/null
        log "RabbitMQ: removed the default guest user"
    fi
}

# rmq_user NAME PASSWORD TAGS: creates the user or resets its password, and sets its tags.
rmq_user() {
    if grep -q "^$1\b" <<<"$(rabbitmqctl_local -q list_users --no-table-headers)"; then
        rabbitmqctl_local -q change_password "$1" "$2" >/dev/null
    else
        rabbitmqctl_local -q add_user "$1" "$2" >/dev/null
    fi
    # shellcheck disable=SC2086 # TAGS: none or one word
    rabbitmqctl_local -q set_user_tags "$1" $3 >/dev/null
}

down_rabbitmq() {
    if daemon_running rabbitmq || ! port_open "$RABBITMQ_PORT" || [[ ! -s "$RMQ_BASE/.erlang.cookie" ]]; then
        # SIGTERM to the wrapper script: RabbitMQ shuts down cleanly (flushes queues to disk).
        daemon_stop rabbitmq 60
    else
        # Pid file lost but something listens: only our node accepts our cookie.
        log "RabbitMQ pid file missing; asking $RMQ_NODE to stop via rabbitmqctl"
        rabbitmqctl_local -q stop >/dev/null 2>&1 || true
    fi
}

status_rabbitmq() {
    daemon_status rabbitmq "amqp 127.0.0.1:$RABBITMQ_PORT  ui http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/  metrics http://127.0.0.1:$RABBITMQ_PROMETHEUS_PORT/metrics"
}

# ------------------------------------------------------------------------------------- jaeger

# One exact build: any change to the pins or the build command differs.
jaeger_stamp() {
    printf '%s\n' "$(sha256sum "$JAEGER_TOOL_DIR/go.mod" "$JAEGER_TOOL_DIR/go.sum" | cut -d' ' -f1)" "${JAEGER_BUILD[*]}"
}

build_jaeger() {
    go_build_cached "$JAEGER_BIN" "$(jaeger_stamp)" "$JAEGER_TOOL_DIR" "$JAEGER_PKG" Jaeger "${JAEGER_BUILD[@]}"
    ((GO_BUILT == 0)) || ! daemon_running jaeger ||
        warn "the running Jaeger is the previous build: run '$0 down jaeger' and '$0 up jaeger' to switch"
}

ready_jaeger() {
    port_open "$JAEGER_OTLP_GRPC_PORT" && port_open "$JAEGER_OTLP_HTTP_PORT" &&
        http_ok "http://127.0.0.1:$JAEGER_HEALTH_PORT/status" && http_ok "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services"
}

up_jaeger() {
    local storage="${JAEGER_STORAGE:-memory}" sampling running rendered configs
    [[ "$storage" == memory || "$storage" == badger ]] || die "JAEGER_STORAGE must be 'memory' or 'badger', got '$storage'"
    # all (every span stored) or tail (config/jaeger/tail-sampling.yaml, its JAEGER_TAIL_* settings).
    sampling="$(bash "$ROOT/scripts/jaeger-config.sh" describe "${JAEGER_SAMPLING:-all}")"
    build_jaeger
    if daemon_running jaeger; then
        # Only an explicit request for the other storage or sampling is an error.
        running="$(cat "$RUN_DIR/jaeger.storage" 2>/dev/null || echo unknown)"
        [[ -z "${JAEGER_STORAGE:-}" || "$running" == "$storage" ]] ||
            die "Jaeger runs with $running storage, JAEGER_STORAGE=$storage was requested: run '$0 down jaeger' first"
        running="$(cat "$RUN_DIR/jaeger.sampling" 2>/dev/null || echo all)"
        [[ -z "${JAEGER_SAMPLING:-}" || "$running" == "$sampling" ]] ||
            die "Jaeger runs with sampling $running, JAEGER_SAMPLING=$JAEGER_SAMPLING requests $sampling: run '$0 down jaeger' first"
    else
        ports_free Jaeger "$JAEGER_OTLP_GRPC_PORT" "$JAEGER_OTLP_HTTP_PORT" "$JAEGER_QUERY_PORT" \
            "$JAEGER_QUERY_GRPC_PORT" "$JAEGER_HEALTH_PORT" "$JAEGER_METRICS_PORT" "$JAEGER_SPANMETRICS_PORT"
        mkdir -p -- "$JAEGER_DIR/badger/keys" "$JAEGER_DIR/badger/values"
        # One --config=FILE per line: the base file, then the fragments merged over it.
        rendered="$(bash "$ROOT/scripts/jaeger-config.sh" render "$JAEGER_DIR" "$storage" "${JAEGER_SAMPLING:-all}")"
        mapfile -t configs <<<"$rendered"
        printf '%s\n' "$storage" >"$RUN_DIR/jaeger.storage"
        printf '%s\n' "$sampling" >"$RUN_DIR/jaeger.sampling"
        log "starting Jaeger ($storage storage, sampling $sampling)"
        daemon_start jaeger root HOME="$JAEGER_DIR" "$JAEGER_BIN" "${configs[@]}"
    fi
    daemon_wait jaeger 60
}

# SIGTERM: the collector drains its pipelines and closes storage (Badger flushes to disk).
down_jaeger() { daemon_stop jaeger; }

status_jaeger() {
    daemon_status jaeger "otlp grpc 127.0.0.1:$JAEGER_OTLP_GRPC_PORT http 127.0.0.1:$JAEGER_OTLP_HTTP_PORT  api http://127.0.0.1:$JAEGER_QUERY_PORT/  ($(cat "$RUN_DIR/jaeger.storage" 2>/dev/null) storage, sampling $(cat "$RUN_DIR/jaeger.sampling" 2>/dev/null || echo all))"
}

# --------------------------------------------------------------------------------- monitoring

ready_prometheus() { http_ok "$PROM_URL/-/ready"; }
ready_alertmanager() { http_ok "$AM_URL/-/ready"; }

# Both configs, validated before anything running sees them. Prometheus' rules are copied next
# to its config (rule_files: rules/*.yml is relative to it), so what runs is what was checked.
render_monitoring() {
    [[ "$ALERT_WEBHOOK_URL" =~ ^https?://[^[:space:]\"\'\\]+$ ]] ||
        die "ALERT_WEBHOOK_URL must be an http(s) URL without spaces or quotes, got '$ALERT_WEBHOOK_URL'"
    mkdir -p -- "$PROM_DIR/data" "$PROM_DIR/targets" "$AM_DIR/data" "$PROM_DIR/.new/rules"
    # The service user writes only its data dirs; configs and targets are root's (tests write
    # target files as root) and world-readable.
    chown prometheus:prometheus -- "$PROM_DIR/data" "$AM_DIR/data"
    chmod 0750 -- "$PROM_DIR/data" "$AM_DIR/data"
    ensure_traversable prometheus "$PROM_DIR"
    # The scrape client's secret (dev realm's unless PRINTFLOW_PROMETHEUS_CLIENT_SECRET is set),
    # readable by Prometheus only.
    mkdir -p -- "$PROM_DIR/secrets"
    (umask 027 && printf '%s' "$(realm_client_secret prometheus)" >"$PROM_DIR/secrets/prometheus-client-secret.new")
    chown -R root:prometheus -- "$PROM_DIR/secrets"
    chmod 0750 -- "$PROM_DIR/secrets"
    mv -f -- "$PROM_DIR/secrets/prometheus-client-secret.new" "$PROM_DIR/secrets/prometheus-client-secret"
    render_config "$ROOT/config/prometheus/prometheus.yml" "$PROM_DIR/.new/prometheus.yml"
    cp -- "$ROOT"/config/prometheus/rules/*.yml "$PROM_DIR/.new/rules/"
    render_config "$ROOT/config/alertmanager/alertmanager.yml" "$AM_DIR/alertmanager.yml.new"
    sed -i "s|url: $(sed_repl "$DEFAULT_WEBHOOK_URL")\$|url: $(sed_repl "$ALERT_WEBHOOK_URL")|" "$AM_DIR/alertmanager.yml.new"
    chmod -R a+rX -- "$PROM_DIR/.new" "$PROM_DIR/targets" "$AM_DIR/alertmanager.yml.new"
    local out
    out="$(promtool check config "$PROM_DIR/.new/prometheus.yml" 2>&1 && amtool check-config "$AM_DIR/alertmanager.yml.new" 2>&1)" ||
        { printf '%s\n' "$out" >&2 && rm -rf -- "$PROM_DIR/.new" && die "invalid Prometheus or Alertmanager config (config/): see above"; }
    rm -rf -- "$PROM_DIR/rules"
    mv -- "$PROM_DIR/.new/rules" "$PROM_DIR/rules"
    mv -f -- "$PROM_DIR/.new/prometheus.yml" "$PROM_DIR/prometheus.yml"
    mv -f -- "$AM_DIR/alertmanager.yml.new" "$AM_DIR/alertmanager.yml"
    rm -rf -- "$PROM_DIR/.new"
}

# reload_monitoring: POST /-/reload; a rejected config keeps the old one running, so fail loudly.
reload_monitoring() {
    local url out
    for url in "$AM_URL" "$PROM_URL"; do
        out="$(curl -sS --max-time 30 -X POST -w '\n%{http_code}' "$url/-/reload" 2>&1)" || true
        [[ "${out##*$'\n'}" == 200 ]] || die "$url did not accept the new config: ${out%$'\n'*}"
    done
    log "Prometheus and Alertmanager reloaded their configs"
}

up_monitoring() {
    local was_running=0
    render_monitoring
    # Alertmanager first, so Prometheus can deliver from its first rule evaluation.
    # --cluster.listen-address= (empty): no gossip port, a single local instance.
    if daemon_running alertmanager; then
        was_running=1
    else
        ports_free Alertmanager "$ALERTMANAGER_PORT"
        daemon_start alertmanager prometheus /usr/bin/prometheus-alertmanager \
            --config.file="$AM_DIR/alertmanager.yml" --storage.path="$AM_DIR/data" \
            --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --web.external-url="$AM_URL" \
            --cluster.listen-address= --log.level=info
    fi
    daemon_wait alertmanager 60
    # Exemplars: histograms carry trace ids. Lifecycle API: POST /-/reload (reload, tests).
    if daemon_running prometheus; then
        was_running=1
    else
        ports_free Prometheus "$PROMETHEUS_PORT"
        daemon_start prometheus prometheus /usr/bin/prometheus \
            --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
            --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
            --web.external-url="$PROM_URL" --enable-feature=exemplar-storage --web.enable-lifecycle \
            --web.console.templates=/etc/prometheus/consoles \
            --web.console.libraries=/etc/prometheus/console_libraries --log.level=info
    fi
    # Prometheus replays its WAL on start: generous for a week of data on a slow disk.
    daemon_wait prometheus 60
    ((was_running == 0)) || reload_monitoring
}

down_monitoring() {
    daemon_stop prometheus
    daemon_stop alertmanager
}

status_monitoring() {
    local targets ok=0
    targets="$(curl -fsS --max-time 2 "$PROM_URL/api/v1/targets?state=active" 2>/dev/null |
        jq -r '.data.activeTargets | "\(map(select(.health == "up")) | length)/\(length) targets up"' 2>/dev/null)" || true
    daemon_status prometheus "$PROM_URL/classic/graph  $targets" || ok=1
    daemon_status alertmanager "$AM_URL/" || ok=1
    return "$ok"
}

# ----------------------------------------------------------------------------------- keycloak

# Java and Maven come with the machine; on one without them, Debian's packages do.
require_java() {
    command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 && return 0
    apt_install openjdk-17-jre-headless maven
}

# The built distribution, once per machine: Maven fetches the zip (or finds it in ~/.m2), then
# `kc.sh build` fixes the build-time options. Built in a temporary dir and renamed, so an
# interrupted build never looks finished.
keycloak_dist() {
    [[ -x "$KEYCLOAK_DIST/bin/kc.sh" && -f "$KEYCLOAK_DIST/.built" ]] && return 0
    require_java
    local tmp start_us
    start_us=$(now_us)
    mkdir -p -- "$CACHE_DIR"
    tmp="$(mktemp -d "$CACHE_DIR/.keycloak.XXXXXX")"
    log "fetching Keycloak $KEYCLOAK_VERSION (Maven; about 180 MB the first time on this machine)"
    mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
        -DoutputDirectory="$tmp" >"$tmp/mvn.log" 2>&1 ||
        { show_logs "$tmp/mvn.log" && rm -rf -- "$tmp" && die "could not fetch Keycloak $KEYCLOAK_VERSION with Maven"; }
    unzip -q "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$tmp" && rm -f -- "$tmp"/*.zip
    log "building Keycloak ($(printf '%s ' "${KEYCLOAK_BUILD_OPTS[@]}")) -- about a minute"
    "$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" build "${KEYCLOAK_BUILD_OPTS[@]}" >"$tmp/build.log" 2>&1 ||
        { show_logs "$tmp/build.log" && rm -rf -- "$tmp" && die "kc.sh build failed"; }
    touch "$tmp/keycloak-$KEYCLOAK_VERSION/.built"
    rm -rf -- "$KEYCLOAK_DIST"
    mv -- "$tmp/keycloak-$KEYCLOAK_VERSION" "$KEYCLOAK_DIST"
    rm -rf -- "$tmp"
    log "Keycloak ready to run in $(elapsed_since "$start_us")"
}

# The realm files decide what is imported; a change means a fresh import (see up_keycloak).
realm_stamp() { cat "$ROOT"/config/keycloak/*-realm.json | sha256sum | cut -d' ' -f1; }

ready_keycloak() { http_ok "$KEYCLOAK_URL/realms/printflow/.well-known/openid-configuration"; }

# The realm's ${VAR:default} placeholders read the environment of the Keycloak process, which
# starts with a clean one: pass on the overrides that are set.
keycloak_env() {
    KEYCLOAK_ENV=(JAVA_OPTS_KC_HEAP="-Xms64m -Xmx384m"
        KC_BOOTSTRAP_ADMIN_USERNAME=admin
        KC_BOOTSTRAP_ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-admin-dev-only}"
        # Where browsers reach the telemetry gate: the console client's redirect URIs.
        PRINTFLOW_CONSOLE_URL="${PRINTFLOW_CONSOLE_URL:-http://127.0.0.1:$GATE_HTTP_PORT}")
    local var
    while read -r var; do
        KEYCLOAK_ENV+=("$var=${!var}")
    done < <(compgen -e | grep -E '^PRINTFLOW_(DEV_PASSWORD_[A-Z]+|[A-Z_]+_CLIENT_SECRET)$' || true)
}

up_keycloak() {
    keycloak_dist
    id -u keycloak >/dev/null 2>&1 ||
        useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin keycloak
    if daemon_running keycloak; then
        [[ "$(cat "$KEYCLOAK_HOME/realm.stamp" 2>/dev/null)" == "$(realm_stamp)" ]] ||
            warn "config/keycloak changed since Keycloak started: run '$0 down keycloak' and '$0 up keycloak' to re-import"
    else
        ports_free Keycloak "$KEYCLOAK_PORT"
        # A private copy per checkout: the dev-file database and Quarkus' work files live in the
        # distribution's data/. Refreshed when the cached distribution is newer.
        if [[ ! -f "$KEYCLOAK_HOME/dist/.built" || "$KEYCLOAK_DIST/.built" -nt "$KEYCLOAK_HOME/dist/.built" ]]; then
            rm -rf -- "$KEYCLOAK_HOME/dist"
            mkdir -p -- "$KEYCLOAK_HOME"
            cp -a -- "$KEYCLOAK_DIST" "$KEYCLOAK_HOME/dist"
        fi
        # --import-realm skips a realm that exists: a changed realm file starts from an empty
        # (dev-only) database, so what runs is what config/keycloak says.
        if [[ "$(cat "$KEYCLOAK_HOME/realm.stamp" 2>/dev/null)" != "$(realm_stamp)" ]]; then
            [[ ! -d "$KEYCLOAK_HOME/dist/data/h2" ]] || log "config/keycloak changed: Keycloak starts from a fresh import"
            rm -rf -- "$KEYCLOAK_HOME/dist/data"
        fi
        mkdir -p -- "$KEYCLOAK_HOME/dist/data/import"
        cp -- "$ROOT"/config/keycloak/*-realm.json "$KEYCLOAK_HOME/dist/data/import/"
        realm_stamp >"$KEYCLOAK_HOME/realm.stamp"
        chown -R keycloak:keycloak -- "$KEYCLOAK_HOME/dist/data"
        ensure_traversable keycloak "$KEYCLOAK_HOME/dist"
        keycloak_env
        log "starting Keycloak $KEYCLOAK_VERSION on $KEYCLOAK_URL"
        # --hostname pins the issuer (otherwise it follows the request's Host header);
        # --cache=local is a run-time option (build does not keep it) and without it Keycloak
        # opens cluster ports on the external interface; --http-host keeps it on loopback.
        # Dev only: brute-force detection stays on (failed logins lock a user), but two logins of
        # one dev user at the same moment, which parallel tests make, are not taken for an
        # attack (Keycloak 26 answers the second "user_temporarily_disabled" by default).
        daemon_start keycloak keycloak "${KEYCLOAK_ENV[@]}" "$KEYCLOAK_HOME/dist/bin/kc.sh" start --optimized \
            --http-enabled=true --http-host=127.0.0.1 --http-port="$KEYCLOAK_PORT" \
            --hostname="$KEYCLOAK_URL" --cache=local --import-realm \
            --spi-brute-force-protector--default-brute-force-detector--allow-concurrent-requests=true
    fi
    daemon_wait keycloak 120
}

down_keycloak() { daemon_stop keycloak 60; }

status_keycloak() {
    daemon_status keycloak "$KEYCLOAK_URL/realms/printflow  admin console $KEYCLOAK_URL/admin"
}

# ----------------------------------------------------------------------------------- commands

main() {
    local cmd="${1:-}" c ok=0
    [[ "$cmd" =~ ^(install|up|down|status|reload|rabbitmqctl)$ ]] || {
        sed -n '2,19s/^# \{0,1\}//p' "$0" >&2
        exit 2
    }
    shift
    ensure_root "$cmd" "$@"
    local components=("$@")
    ((${#components[@]})) || components=("${COMPONENTS[@]}")
    [[ "$cmd" == rabbitmqctl ]] || for c in "${components[@]}"; do
        [[ " ${COMPONENTS[*]} " == *" $c "* ]] || die "unknown component '$c' (${COMPONENTS[*]})"
    done
    case "$cmd" in
    install) cmd_install ;;
    status) for c in "${components[@]}"; do "status_$c" || ok=1; done ;;
    rabbitmqctl) rabbitmqctl_local "$@" ;;
    reload)
        lock_dir "$DATA_DIR"
        render_monitoring
        reload_monitoring
        ;;
    up)
        lock_dir "$DATA_DIR"
        for c in "${PACKAGES[@]}"; do pkg_installed "$c" || { cmd_install && break; }; done
        mkdir -p -- "$RUN_DIR" "$LOG_DIR"
        # The service users reach their subdirectories.
        ensure_traversable postgres "$DATA_DIR"
        ensure_traversable rabbitmq "$DATA_DIR"
        for c in "${components[@]}"; do "up_$c"; done
        print_endpoints
        ;;
    down)
        lock_dir "$DATA_DIR"
        for ((c = ${#components[@]} - 1; c >= 0; c--)); do "down_${components[c]}"; done
        ;;
    esac
    return "$ok"
}

main "$@"
