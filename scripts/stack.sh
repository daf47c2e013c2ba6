#!/usr/bin/env bash
# The whole printflow system on this machine: infrastructure, the three services and live demo
# traffic.
#
# usage: scripts/stack.sh [up|down|status] [--detach]
#
#   up (default)  install what is missing, start PostgreSQL and RabbitMQ, build and start Shop,
#                 CRM and MES, wait until each is ready, start the traffic generator, print where
#                 everything is, then stay in the foreground: Ctrl-C stops everything.
#                 With --detach it returns once everything is up (stop with `down`).
#                 Running it again while a stack is up restarts the services (data is kept).
#   down          stop traffic, services and infrastructure.
#   status        what is running.
#
# Settings are environment variables with local defaults (README lists them): SHOP_HTTP_PORT,
# CRM_HTTP_PORT, MES_HTTP_PORT, MES_TIME_SCALE, TRAFFIC_RATE, ... are passed through unchanged.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
BIN_DIR="$ROOT/target/release"
export SHOP_HTTP_PORT="${SHOP_HTTP_PORT:-8080}"
export CRM_HTTP_PORT="${CRM_HTTP_PORT:-8081}"
export MES_HTTP_PORT="${MES_HTTP_PORT:-8082}"
# Each service finds the others on loopback at their configured ports.
export SHOP_CRM_URL="${SHOP_CRM_URL:-http://127.0.0.1:$CRM_HTTP_PORT}"
export MES_SHOP_URL="${MES_SHOP_URL:-http://127.0.0.1:$SHOP_HTTP_PORT}"
export TRAFFIC_SHOP_URL="${TRAFFIC_SHOP_URL:-http://127.0.0.1:$SHOP_HTTP_PORT}"
export SHOP_MODEL_STORE_DIR="${SHOP_MODEL_STORE_DIR:-$DATA_DIR/models}"
export SHOP_DATABASE_URL="${SHOP_DATABASE_URL:-postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/printflow_shop}"
export CRM_DATABASE_URL="${CRM_DATABASE_URL:-postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/printflow_crm}"
export MES_DATABASE_URL="${MES_DATABASE_URL:-postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/printflow_mes}"
export CRM_AMQP_URL="${CRM_AMQP_URL:-amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2f}"
export MES_AMQP_URL="${MES_AMQP_URL:-amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2f}"
# Traces go to the local Jaeger over OTLP/HTTP (any standard OTEL_* variable can override).
export OTEL_EXPORTER_OTLP_ENDPOINT="${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4318}"
export OTEL_EXPORTER_OTLP_PROTOCOL="${OTEL_EXPORTER_OTLP_PROTOCOL:-http/protobuf}"

# name:port, in start order. Order does not matter for correctness (the outbox and durable
# queues cover a consumer that starts late) but CRM first lets Shop's readiness be meaningful.
SERVICES=("crm:$CRM_HTTP_PORT" "shop:$SHOP_HTTP_PORT" "mes:$MES_HTTP_PORT")

pid_of() {
    local f="$RUN_DIR/$1.pid" pid
    [[ -s "$f" ]] || return 1
    pid="$(<"$f")"
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# stop_process NAME: SIGTERM (the services drain and flush on it), SIGKILL after 20 s.
stop_process() {
    local name=$1 pid
    pid="$(pid_of "$name")" || {
        rm -f -- "$RUN_DIR/$name.pid"
        return 0
    }
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local tries=100
    while kill -0 "$pid" 2>/dev/null && ((tries-- > 0)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name did not stop within 20 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f -- "$RUN_DIR/$name.pid"
}

# start_process NAME BINARY: runs it in its own session (so a terminal Ctrl-C reaches only this
# script, which then stops everything in order), output to $LOG_DIR/NAME.log.
start_process() {
    local name=$1 bin=$2
    mkdir -p -- "$RUN_DIR" "$LOG_DIR"
    (cd "$ROOT" && exec setsid "$bin" >>"$LOG_DIR/$name.log" 2>&1 </dev/null) &
    echo $! >"$RUN_DIR/$name.pid"
}

ready() {
    local name=$1 port=$2
    pid_of "$name" >/dev/null || return 3
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null
}

stop_all() {
    stop_process traffic
    local entry
    for entry in "${SERVICES[@]}"; do stop_process "${entry%%:*}"; done
    bash "$ROOT/scripts/infra.sh" down
}

build() {
    log "building the services (release; the first build takes a few minutes)"
    (cd "$ROOT" && cargo build --release --locked -p printflow-shop -p printflow-crm \
        -p printflow-mes -p printflow-traffic)
}

summary() {
    cat <<INFO

printflow is up.
  Shop API   http://127.0.0.1:$SHOP_HTTP_PORT   (OpenAPI: /openapi.json)
  CRM API    http://127.0.0.1:$CRM_HTTP_PORT   (OpenAPI: /openapi.json)
  MES API    http://127.0.0.1:$MES_HTTP_PORT   (OpenAPI: /openapi.json)
  RabbitMQ   amqp://127.0.0.1:$RABBITMQ_PORT, management UI http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT (guest/guest)
  PostgreSQL 127.0.0.1:$PG_PORT (user $PG_USER), databases printflow_shop / printflow_crm / printflow_mes
  Jaeger     query API http://127.0.0.1:16686/api/services (no UI in this build; see README),
             OTLP in on 127.0.0.1:4317 (gRPC) and 127.0.0.1:4318 (HTTP)
  Prometheus http://127.0.0.1:9090 (classic UI /classic/graph), Alertmanager http://127.0.0.1:9093
  Logs       $LOG_DIR/{shop,crm,mes,traffic}.log
  Demo traffic is running (TRAFFIC_RATE=${TRAFFIC_RATE:-2.0} journeys/s).
  Place an order by hand: see "Try it" in README.md.
INFO
}

up() {
    local detach=$1 started entry name port
    started=$(now_us)
    bash "$ROOT/scripts/infra.sh" install
    bash "$ROOT/scripts/infra.sh" up
    build
    # Running twice is safe: a previous stack's processes are replaced, their data kept.
    stop_process traffic
    for entry in "${SERVICES[@]}"; do stop_process "${entry%%:*}"; done
    mkdir -p -- "$SHOP_MODEL_STORE_DIR"
    for entry in "${SERVICES[@]}"; do
        name=${entry%%:*}
        port=${entry##*:}
        log "starting $name on 127.0.0.1:$port"
        start_process "$name" "$BIN_DIR/printflow-$name"
    done
    for entry in "${SERVICES[@]}"; do
        name=${entry%%:*}
        port=${entry##*:}
        wait_for --log "$LOG_DIR/$name.log" 90 "$name to be ready" ready "$name" "$port"
        log "$name is ready"
    done
    log "starting the traffic generator"
    start_process traffic "$BIN_DIR/printflow-traffic"
    summary
    log "started in $(elapsed_since "$started")"
    if [[ "$detach" == 1 ]]; then
        return 0
    fi
    trap 'echo; log "stopping everything"; stop_all; exit 0' INT TERM
    log "press Ctrl-C to stop everything (or run: scripts/stack.sh down)"
    # Watch the processes: if one dies, say so instead of pretending all is well.
    while :; do
        for entry in "${SERVICES[@]}" "traffic:0"; do
            name=${entry%%:*}
            if ! pid_of "$name" >/dev/null; then
                warn "$name exited; last lines of its log:"
                show_logs "$LOG_DIR/$name.log"
                stop_all
                exit 1
            fi
        done
        sleep 2 &
        wait $! || true
    done
}

status() {
    bash "$ROOT/scripts/infra.sh" status || true
    local entry name port
    for entry in "${SERVICES[@]}" "traffic:0"; do
        name=${entry%%:*}
        port=${entry##*:}
        if pid_of "$name" >/dev/null; then
            if [[ "$port" != 0 ]]; then
                echo "$name: running on http://127.0.0.1:$port"
            else
                echo "$name: running"
            fi
        else
            echo "$name: stopped"
        fi
    done
}

main() {
    local cmd=up detach=0 arg
    for arg in "$@"; do
        case "$arg" in
            up | down | status) cmd=$arg ;;
            --detach | -d) detach=1 ;;
            *) die "usage: scripts/stack.sh [up|down|status] [--detach]" ;;
        esac
    done
    case "$cmd" in
        up) up "$detach" ;;
        down) stop_all ;;
        status) status ;;
    esac
}

main "$@"
