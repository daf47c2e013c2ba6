#!/usr/bin/env bash
# Local Prometheus + Alertmanager (Debian packages) for printflow monitoring.
#
# usage: scripts/monitoring.sh install|up|down|status|reload
#
#   install  apt-get prometheus + prometheus-alertmanager (only if missing) without letting
#            the packages start their own instances, and stop/disable those if they run
#   up       install if needed, render the configs, start Alertmanager and Prometheus
#            (idempotent: when running, re-render and reload them) and wait for /-/ready
#   down     stop both (SIGTERM, SIGKILL after a deadline; idempotent)
#   status   one line each; exit 0 only if both are running and ready
#   reload   re-render the configs and make the running instances reload them
#
# Prometheus http://127.0.0.1:9090 (classic UI /classic/graph), Alertmanager
# http://127.0.0.1:9093; both loopback only, run as the packages' `prometheus` user.
# Configs: config/prometheus/ (prometheus.yml, rules/), config/alertmanager/alertmanager.yml,
# rendered into $DATA_DIR/prometheus and $DATA_DIR/alertmanager (data in their data/).
# Env: SHOP_HTTP_PORT, CRM_HTTP_PORT, MES_HTTP_PORT, RABBITMQ_PROMETHEUS_PORT (scrape target
# ports), ALERT_WEBHOOK_URL (Alertmanager's webhook receivers, default
# http://127.0.0.1:9099/alerts). Tests add scrape targets as file_sd JSON files in
# $DATA_DIR/prometheus/targets/ (see config/prometheus/prometheus.yml).

set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(prometheus prometheus-alertmanager)
SERVICE_USER=prometheus

PROM_BIN=/usr/bin/prometheus
PROMTOOL=/usr/bin/promtool
AM_BIN=/usr/bin/prometheus-alertmanager
AMTOOL=/usr/bin/amtool

# Fixed, like Jaeger's: must match config/prometheus/prometheus.yml (alerting, self-scrape)
# and config/jaeger/*.yaml (SPM metrics backend).
PROM_PORT=9090
AM_PORT=9093
PROM_URL="http://127.0.0.1:$PROM_PORT"
AM_URL="http://127.0.0.1:$AM_PORT"
RETENTION=7d

# Defaults of the services' own variables (scripts/stack.sh, README).
SHOP_HTTP_PORT="${SHOP_HTTP_PORT:-8080}"
CRM_HTTP_PORT="${CRM_HTTP_PORT:-8081}"
MES_HTTP_PORT="${MES_HTTP_PORT:-8082}"
DEFAULT_WEBHOOK_URL=http://127.0.0.1:9099/alerts
ALERT_WEBHOOK_URL="${ALERT_WEBHOOK_URL:-$DEFAULT_WEBHOOK_URL}"
# Survive ensure_root's sudo re-exec.
PRINTFLOW_ENV_VARS="$PRINTFLOW_ENV_VARS,SHOP_HTTP_PORT,CRM_HTTP_PORT,MES_HTTP_PORT,ALERT_WEBHOOK_URL"

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
PROM_DIR="$DATA_DIR/prometheus"
PROM_DATA="$PROM_DIR/data"
PROM_CONF="$PROM_DIR/prometheus.yml"
PROM_RULES="$PROM_DIR/rules"
PROM_TARGETS="$PROM_DIR/targets"
PROM_PID="$RUN_DIR/prometheus.pid"
PROM_LOG="$LOG_DIR/prometheus.log"
AM_DIR="$DATA_DIR/alertmanager"
AM_DATA="$AM_DIR/data"
AM_CONF="$AM_DIR/alertmanager.yml"
AM_PID="$RUN_DIR/alertmanager.pid"
AM_LOG="$LOG_DIR/alertmanager.log"

PROM_TEMPLATE="$ROOT/config/prometheus/prometheus.yml"
PROM_RULES_SRC="$ROOT/config/prometheus/rules"
AM_TEMPLATE="$ROOT/config/alertmanager/alertmanager.yml"

# Prometheus replays its WAL on start; generous for a week of dev data on a slow disk.
START_DEADLINE=60
STOP_DEADLINE=30

# ------------------------------------------------------------------ install

# Like infra.sh: a policy-rc.d that exits 101 keeps the packages' postinst (invoke-rc.d
# prometheus start) from starting Debian's default instances on *:9090 / *:9093.
install_packages() {
    apt_install_no_start "scripts/monitoring.sh install" "${PACKAGES[@]}"
}

# Debian's instances (if a previous install or a boot started them) would hold our ports
# and listen on all interfaces: stop them and keep them from starting again.
stop_default_instances() {
    local name
    if [[ -d /run/systemd/system ]]; then
        log "disabling the packaged prometheus/prometheus-alertmanager systemd units"
        systemctl disable --now prometheus.service prometheus-alertmanager.service >/dev/null 2>&1 || true
        return 0
    fi
    for name in prometheus prometheus-alertmanager; do
        [[ -x "/etc/init.d/$name" ]] || continue
        # The init scripts' pid files; start-stop-daemon checks the pid really is that binary.
        if start-stop-daemon --status --pidfile "/run/prometheus/$name.pid" --exec "/usr/bin/$name" 2>/dev/null; then
            log "stopping Debian's default $name instance"
            "/etc/init.d/$name" stop >/dev/null 2>&1 || warn "could not stop the default $name instance"
        fi
        # No start at boot (sysv runlevel links); harmless where there is no init.
        update-rc.d "$name" disable >/dev/null 2>&1 || true
    done
}

cmd_install() {
    install_packages
    user_exists "$SERVICE_USER" || die "system user '$SERVICE_USER' missing after installing prometheus"
    stop_default_instances
    log "monitoring install done"
}

ensure_installed() {
    local p
    for p in "${PACKAGES[@]}"; do
        if ! pkg_installed "$p"; then
            log "package $p missing: running install first"
            cmd_install
            return 0
        fi
    done
    [[ -x "$PROM_BIN" && -x "$AM_BIN" && -x "$PROMTOOL" && -x "$AMTOOL" ]] ||
        die "prometheus/promtool/prometheus-alertmanager/amtool missing from /usr/bin (reinstall: apt-get install --reinstall ${PACKAGES[*]})"
}

# ------------------------------------------------------------------- config

prepare_dirs() {
    mkdir -p -- "$DATA_DIR" "$RUN_DIR" "$LOG_DIR" "$PROM_DIR" "$PROM_DATA" "$PROM_TARGETS" \
        "$AM_DIR" "$AM_DATA"
    # The service user writes only its data dirs; configs, rules and targets are root's and
    # world-readable (tests write target files as root).
    chown "$SERVICE_USER:$SERVICE_USER" -- "$PROM_DATA" "$AM_DATA"
    chmod 0750 -- "$PROM_DATA" "$AM_DATA"
    chmod 0755 -- "$PROM_DIR" "$PROM_TARGETS" "$AM_DIR"
    ensure_traversable "$SERVICE_USER" "$PROM_DIR"
    ensure_traversable "$SERVICE_USER" "$AM_DIR"
}

# sed replacement text: escape the delimiter, & and backslashes.
sed_repl() {
    local s=${1//\\/\\\\}
    s=${s//&/\\&}
    printf '%s\n' "${s//|/\\|}"
}

# The repo's prometheus.yml is a working config for the default ports; only target ports that
# were overridden are rewritten. Rules are copied next to it (rule_files: rules/*.yml is
# relative to the config file), so the running set is exactly what was validated here.
render_prometheus() {
    [[ -f "$PROM_TEMPLATE" ]] || die "missing $PROM_TEMPLATE"
    local tmp="$PROM_CONF.tmp" rules_tmp="$PROM_DIR/.rules.tmp"
    sed -e "s|\"127\\.0\\.0\\.1:8080\"|\"127.0.0.1:$SHOP_HTTP_PORT\"|" \
        -e "s|\"127\\.0\\.0\\.1:8081\"|\"127.0.0.1:$CRM_HTTP_PORT\"|" \
        -e "s|\"127\\.0\\.0\\.1:8082\"|\"127.0.0.1:$MES_HTTP_PORT\"|" \
        -e "s|\"127\\.0\\.0\\.1:15692\"|\"127.0.0.1:$RABBITMQ_PROMETHEUS_PORT\"|" \
        "$PROM_TEMPLATE" >"$tmp"
    rm -rf -- "$rules_tmp"
    mkdir -p -- "$rules_tmp"
    cp -- "$PROM_RULES_SRC"/*.yml "$rules_tmp"/
    chmod 0755 -- "$rules_tmp"
    chmod 0644 -- "$tmp" "$rules_tmp"/*.yml
    # Validate before anything running sees it: promtool resolves rules/*.yml relative to the
    # config file, so check with the new rules in place of the old ones under a temp name.
    local check_dir="$PROM_DIR/.check"
    rm -rf -- "$check_dir"
    mkdir -p -- "$check_dir"
    cp -- "$tmp" "$check_dir/prometheus.yml"
    cp -r -- "$rules_tmp" "$check_dir/rules"
    mkdir -p -- "$check_dir/targets"
    local out
    if ! out="$("$PROMTOOL" check config "$check_dir/prometheus.yml" 2>&1)"; then
        rm -rf -- "$check_dir" "$rules_tmp" "$tmp"
        printf '%s\n' "$out" >&2
        die "invalid Prometheus config or rules (config/prometheus/): see promtool output above"
    fi
    rm -rf -- "$check_dir"
    rm -rf -- "$PROM_RULES.old"
    [[ -d "$PROM_RULES" ]] && mv -- "$PROM_RULES" "$PROM_RULES.old"
    mv -- "$rules_tmp" "$PROM_RULES"
    rm -rf -- "$PROM_RULES.old"
    mv -f -- "$tmp" "$PROM_CONF"
}

render_alertmanager() {
    [[ -f "$AM_TEMPLATE" ]] || die "missing $AM_TEMPLATE"
    [[ "$ALERT_WEBHOOK_URL" =~ ^https?://[^[:space:]\"\'\\]+$ ]] ||
        die "ALERT_WEBHOOK_URL must be an http(s) URL without spaces or quotes, got '$ALERT_WEBHOOK_URL'"
    local tmp="$AM_CONF.tmp" from to
    from="$(sed_repl "$DEFAULT_WEBHOOK_URL")"
    to="$(sed_repl "$ALERT_WEBHOOK_URL")"
    sed -e "s|url: $from\$|url: $to|" "$AM_TEMPLATE" >"$tmp"
    chmod 0644 -- "$tmp"
    local out
    if ! out="$("$AMTOOL" check-config "$tmp" 2>&1)"; then
        rm -f -- "$tmp"
        printf '%s\n' "$out" >&2
        die "invalid Alertmanager config (config/alertmanager/alertmanager.yml): see amtool output above"
    fi
    mv -f -- "$tmp" "$AM_CONF"
}

# ---------------------------------------------------------------- lifecycle

# read_pid PIDFILE BINARY: prints the pid if it is a live process of that binary (guards
# against stale files and pid reuse).
read_pid() {
    local pidfile=$1 bin=$2 pid exe
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    exe="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)" || return 1
    [[ "$exe" == "$bin" ]] || return 1
    printf '%s\n' "$pid"
}

prom_read_pid() { read_pid "$PROM_PID" "$PROM_BIN"; }
am_read_pid() { read_pid "$AM_PID" "$AM_BIN"; }

http_ok() {
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

# Probes for wait_for: 3 (= give up) once the process is gone.
prom_probe() {
    prom_read_pid >/dev/null || return 3
    http_ok "$PROM_URL/-/ready"
}

am_probe() {
    am_read_pid >/dev/null || return 3
    http_ok "$AM_URL/-/ready"
}

# spawn PIDFILE LOGFILE BINARY ARGS...: runs the binary as the service user, in its own
# session (Ctrl-C in the caller's terminal or the caller exiting does not stop it), with a
# clean environment. The inner bash writes its pid and execs (setpriv, env, the server all
# exec in place), so the pid file holds the server's pid, which is also its process group.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    local uid gid
    uid="$(id -u "$SERVICE_USER")"
    gid="$(id -g "$SERVICE_USER")"
    rm -f -- "$pidfile"
    printf '\n===== %s: starting %s =====\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >>"$logfile"
    # shellcheck disable=SC2016 # $$/$0/$@ belong to the inner bash
    (
        cd / &&
            exec 9>&- setsid bash -c 'echo "$$" >"$0"; exec "$@"' "$pidfile" \
                setpriv --reuid="$uid" --regid="$gid" --init-groups \
                env -i PATH="$SERVICE_PATH" HOME=/var/lib/prometheus LANG=C.UTF-8 LC_ALL=C.UTF-8 \
                "$@" </dev/null >>"$logfile" 2>&1
    ) &
    wait_for --log "$logfile" 10 "pid file $pidfile" test -s "$pidfile"
}

check_port_free() {
    local port=$1 what=$2
    if port_open 127.0.0.1 "$port"; then
        die "port 127.0.0.1:$port is taken by another process, $what needs it (Debian's default instance? run '$0 install' to stop it)"
    fi
}

# reload URL WHAT: POST /-/reload; a rejected config keeps the old one running, so fail loudly.
reload_instance() {
    local url=$1 what=$2 out
    if ! out="$(curl -sS --max-time 30 -X POST -w '\n%{http_code}' "$url/-/reload" 2>&1)" ||
        [[ "${out##*$'\n'}" != 200 ]]; then
        die "$what did not accept the new config: ${out%$'\n'*}"
    fi
}

am_up() {
    local pid
    if pid="$(am_read_pid)"; then
        wait_for --log "$AM_LOG" "$START_DEADLINE" "Alertmanager ($AM_URL/-/ready)" am_probe
        reload_instance "$AM_URL" Alertmanager
        log "Alertmanager already running (pid $pid) on $AM_URL; config reloaded"
        return 0
    fi
    check_port_free "$AM_PORT" Alertmanager
    log "starting Alertmanager on $AM_URL"
    local start_us
    start_us=$(now_us)
    # --cluster.listen-address= (empty): no gossip port, no peers; a single local instance.
    spawn "$AM_PID" "$AM_LOG" "$AM_BIN" \
        --config.file="$AM_CONF" \
        --storage.path="$AM_DATA" \
        --web.listen-address="127.0.0.1:$AM_PORT" \
        --web.external-url="$AM_URL" \
        --cluster.listen-address= \
        --log.level=info
    wait_for --log "$AM_LOG" "$START_DEADLINE" "Alertmanager ($AM_URL/-/ready)" am_probe
    log "Alertmanager ready in $(elapsed_since "$start_us") (pid $(<"$AM_PID"))"
}

prom_up() {
    local pid
    if pid="$(prom_read_pid)"; then
        wait_for --log "$PROM_LOG" "$START_DEADLINE" "Prometheus ($PROM_URL/-/ready)" prom_probe
        reload_instance "$PROM_URL" Prometheus
        log "Prometheus already running (pid $pid) on $PROM_URL; config reloaded"
        return 0
    fi
    check_port_free "$PROM_PORT" Prometheus
    log "starting Prometheus on $PROM_URL (data $PROM_DATA, retention $RETENTION)"
    local start_us
    start_us=$(now_us)
    # Exemplars: the services' and Jaeger's span-metrics histograms carry trace ids.
    # Lifecycle API: `reload` (and tests) use POST /-/reload.
    spawn "$PROM_PID" "$PROM_LOG" "$PROM_BIN" \
        --config.file="$PROM_CONF" \
        --storage.tsdb.path="$PROM_DATA" \
        --storage.tsdb.retention.time="$RETENTION" \
        --web.listen-address="127.0.0.1:$PROM_PORT" \
        --web.external-url="$PROM_URL" \
        --enable-feature=exemplar-storage \
        --web.enable-lifecycle \
        --web.console.templates=/etc/prometheus/consoles \
        --web.console.libraries=/etc/prometheus/console_libraries \
        --log.level=info
    wait_for --log "$PROM_LOG" "$START_DEADLINE" "Prometheus ($PROM_URL/-/ready)" prom_probe
    log "Prometheus ready in $(elapsed_since "$start_us") (pid $(<"$PROM_PID"))"
}

# stop_instance PIDFILE BINARY WHAT: SIGTERM (both flush to disk on it), KILL after a deadline.
stop_instance() {
    local pidfile=$1 bin=$2 what=$3 pid
    if ! pid="$(read_pid "$pidfile" "$bin")"; then
        rm -f -- "$pidfile"
        log "$what not running"
        return 0
    fi
    log "stopping $what (pid $pid)"
    local start_us
    start_us=$(now_us)
    stop_process_group "$pid" "$STOP_DEADLINE" "$what"
    rm -f -- "$pidfile"
    log "$what stopped in $(elapsed_since "$start_us")"
}

# ----------------------------------------------------------------- commands

cmd_up() {
    ensure_installed
    prepare_dirs
    render_alertmanager
    render_prometheus
    # Alertmanager first, so Prometheus can deliver from its first rule evaluation.
    am_up
    prom_up
}

cmd_reload() {
    prom_read_pid >/dev/null || die "Prometheus is not running (use '$0 up')"
    am_read_pid >/dev/null || die "Alertmanager is not running (use '$0 up')"
    prepare_dirs
    render_alertmanager
    render_prometheus
    reload_instance "$AM_URL" Alertmanager
    reload_instance "$PROM_URL" Prometheus
    log "Prometheus and Alertmanager reloaded their configs"
}

cmd_down() {
    stop_instance "$PROM_PID" "$PROM_BIN" Prometheus
    stop_instance "$AM_PID" "$AM_BIN" Alertmanager
}

# "N/M targets up" from the targets API (jq is one of infra.sh's packages).
targets_summary() {
    command -v jq >/dev/null 2>&1 || return 0
    curl -fsS --max-time 2 "$PROM_URL/api/v1/targets?state=active" 2>/dev/null |
        jq -r '.data.activeTargets | "\(map(select(.health == "up")) | length)/\(length) targets up"' 2>/dev/null ||
        true
}

cmd_status() {
    local ok=0 pid
    if pid="$(prom_read_pid)"; then
        if http_ok "$PROM_URL/-/ready"; then
            printf 'prometheus    running  %s/classic/graph  %s  (pid %s)\n' "$PROM_URL" "$(targets_summary)" "$pid"
        else
            printf 'prometheus    running (pid %s) but not ready on %s yet\n' "$pid" "$PROM_URL"
            ok=1
        fi
    else
        printf 'prometheus    stopped\n'
        ok=1
    fi
    if pid="$(am_read_pid)"; then
        if http_ok "$AM_URL/-/ready"; then
            printf 'alertmanager  running  %s/  (pid %s)\n' "$AM_URL" "$pid"
        else
            printf 'alertmanager  running (pid %s) but not ready on %s yet\n' "$pid" "$AM_URL"
            ok=1
        fi
    else
        printf 'alertmanager  stopped\n'
        ok=1
    fi
    return "$ok"
}

usage() {
    sed -n '2,21s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

main() {
    local cmd="${1:-}"
    [[ -n "$cmd" ]] || usage
    shift
    case "$cmd" in
    install | up | down | reload) ;;
    status)
        cmd_status
        return
        ;;
    *) usage ;;
    esac
    ensure_root "$cmd" "$@"
    validate_port SHOP_HTTP_PORT "$SHOP_HTTP_PORT"
    validate_port CRM_HTTP_PORT "$CRM_HTTP_PORT"
    validate_port MES_HTTP_PORT "$MES_HTTP_PORT"
    validate_port RABBITMQ_PROMETHEUS_PORT "$RABBITMQ_PROMETHEUS_PORT"
    case "$cmd" in
    install) cmd_install ;;
    *)
        # Own lock (not $DATA_DIR/.lock): infra.sh calls us while holding that one.
        lock_dir "$PROM_DIR"
        "cmd_$cmd"
        ;;
    esac
}

main "$@"
