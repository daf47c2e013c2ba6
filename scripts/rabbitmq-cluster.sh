#!/usr/bin/env bash
# Private, throwaway three-node RabbitMQ cluster on this machine, for failover tests and
# benchmarks of quorum queues (the shared single-node broker of scripts/infra.sh is untouched).
#
# usage: scripts/rabbitmq-cluster.sh start DIR [BASE_PORT]
#        scripts/rabbitmq-cluster.sh stop|status DIR
#        scripts/rabbitmq-cluster.sh kill|restart-node DIR NODE_INDEX
#        scripts/rabbitmq-cluster.sh leader DIR QUEUE [VHOST]
#        scripts/rabbitmq-cluster.sh ctl DIR NODE_INDEX TOOL [ARGS...]
#
#   start         runs nodes pfc1-BASE_PORT@localhost, pfc2-... and pfc3-... (NODE_INDEX 1, 2, 3)
#                 as one cluster. The first time, node 1 boots first and 2 and 3 join it while
#                 they boot (classic config peer discovery); should one boot alone, it joins with
#                 stop_app, join_cluster, start_app. Later starts boot the three in parallel from
#                 their databases. Returns once all three accept AMQP and `rabbitmqctl
#                 cluster_status` lists three running nodes. Idempotent: running nodes are left
#                 alone. Prints one line per node on stdout: INDEX NODE AMQP_URL.
#   stop          stops the three nodes (SIGTERM, in parallel) and waits for their processes.
#   status        one line per node and the cluster's running nodes; exit 0 only if all three run
#                 and are clustered.
#   kill          SIGKILL to one node's Erlang VM (its whole process group): a crash, for failover
#                 tests. Returns once its processes are gone.
#   restart-node  starts a stopped or killed node again and returns once it has rejoined (the
#                 cluster's running nodes include it).
#   leader        prints "INDEX NODE" of the node leading quorum queue QUEUE of VHOST (default /),
#                 asked of a running node through `rabbitmq-queues quorum_status` (Ra's own view);
#                 fails if there is no leader at the moment (e.g. during an election).
#   ctl           runs TOOL (rabbitmqctl, rabbitmq-queues or rabbitmq-diagnostics) against node
#                 NODE_INDEX, e.g. `... ctl DIR 2 rabbitmq-queues quorum_status QUEUE`.
#
# Ports, for node i in 1..3: AMQP on 127.0.0.1:BASE_PORT+i-1, Erlang distribution on
# 127.0.0.1:BASE_PORT+i-1+20000 (as scripts/rabbitmq-node.sh). BASE_PORT defaults to 5681:
# AMQP 5681-5683, distribution 25681-25683, next to the shared broker's 5672/25672 without
# touching them. Refused: any of these ports being a port of the shared broker (RABBITMQ_PORT,
# its management and Prometheus ports, its distribution port RABBITMQ_PORT+20000), epmd's 4369 or
# the CLI tools' distribution range 35672-35682 (so BASE_PORT 35670-35682 is refused too). Tests
# pick a random BASE_PORT in 30000-45000 (like tests/e2e/tests/broker_restart.rs) so parallel
# clusters do not collide. No plugins (faster boot, no HTTP ports): the CLI answers cluster and
# queue questions.
#
# Reaching node i: amqp://guest:guest@127.0.0.1:BASE_PORT+i-1/%2f (guest works from loopback;
# no other user is created); `scripts/rabbitmq-cluster.sh ctl DIR i rabbitmqctl ...`.
#
# State, all under DIR: nodeI/ (mnesia = message store and quorum queue logs, RabbitMQ's logs
# in nodeI/log/, rabbitmq.conf, advanced.config, the cookie); nodeI.pid, nodeI.log and nodeI.env
# (the daemon's pid, console and environment); base_port; .erlang.cookie (generated once, shared
# by the three nodes and the CLI; never commit it). `rm -rf DIR` after `stop` removes it all.
#
# Quorum queues get one member per node: 3.10's default initial group size is 3 (of all cluster
# nodes), set explicitly in advanced.config (quorum_cluster_size). A queue's members are fixed
# when it is declared (a node that is down then still gets its member), so declare queues after
# `start` returned. Memory watermark 0.15 of RAM per node, disk free limit 50MB. Progress goes to
# stderr (QUIET=1 silences it); errors too, with the tail of the node's log.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '5,9s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

NODES=(1 2 3)
DEFAULT_BASE_PORT=5681
# Generous: three Erlang VMs booting at once on a two-core machine.
BOOT_DEADLINE=120

cmd="${1:-}"
case "$cmd" in
start) (($# == 2 || $# == 3)) || usage ;;
stop | status) (($# == 2)) || usage ;;
kill | restart-node) (($# == 3)) || usage ;;
leader) (($# == 3 || $# == 4)) || usage ;;
ctl) (($# >= 4)) || usage ;;
*) usage ;;
esac
if [[ "$cmd" =~ ^(kill|restart-node|ctl)$ && ! "$3" =~ ^[1-3]$ ]]; then
    die "NODE_INDEX must be 1, 2 or 3, got '$3'"
fi
ensure_root "$@"

if [[ "$cmd" != start && ! -s "$2/base_port" ]]; then
    # Nothing to stop; anything else needs a cluster that was started once.
    [[ "$cmd" == stop ]] && exit 0
    die "no cluster in $2 (run: $0 start $2 [BASE_PORT])"
fi
# The on-disk databases belong to node names, which contain BASE_PORT: another port would
# silently start an empty cluster.
BASE_PORT=""
[[ ! -s "$2/base_port" ]] || BASE_PORT="$(<"$2/base_port")"
if [[ "$cmd" == start && $# == 3 ]]; then
    [[ -z "$BASE_PORT" || "$BASE_PORT" == "$3" ]] ||
        die "$2 belongs to a cluster on BASE_PORT $BASE_PORT, not $3 (its data is keyed by node name)"
    BASE_PORT=$3
fi
BASE_PORT=${BASE_PORT:-$DEFAULT_BASE_PORT}
# Checked before any arithmetic on it.
if [[ ! "$BASE_PORT" =~ ^[1-9][0-9]{3,4}$ ]] || ((BASE_PORT < 1024 || BASE_PORT + 2 + 20000 > 65535)); then
    die "BASE_PORT must be a port number in 1024..43533 (the nodes use BASE_PORT..+2 and those +20000), got '$BASE_PORT'"
fi

node_name() { printf 'pfc%s-%s@localhost\n' "$1" "$BASE_PORT"; }
amqp_port() { printf '%s\n' $((BASE_PORT + $1 - 1)); }
dist_port() { printf '%s\n' $((BASE_PORT + $1 - 1 + 20000)); }
node_dir() { printf '%s/node%s\n' "$RUN_DIR" "$1"; }
amqp_url() { printf 'amqp://guest:guest@127.0.0.1:%s/%%2f\n' "$(amqp_port "$1")"; }
# Readiness of daemon nodeI (daemon_wait, daemon_status): AMQP accepts connections, i.e. the
# rabbit application has booted (it is also closed between stop_app and start_app).
for i in "${NODES[@]}"; do
    eval "ready_node$i() { port_open $((BASE_PORT + i - 1)); }"
done

# check_ports: none of the cluster's ports is one of the shared broker's, epmd's or in the CLI
# tools' distribution range (those may be free right now, and taken later).
check_ports() {
    local reserved=(4369 "$RABBITMQ_PORT" "$RABBITMQ_MANAGEMENT_PORT" "$RABBITMQ_PROMETHEUS_PORT"
        $((RABBITMQ_PORT + 20000))) i p r
    for i in "${NODES[@]}"; do
        for p in "$(amqp_port "$i")" "$(dist_port "$i")"; do
            for r in "${reserved[@]}"; do
                ((p != r)) || die "BASE_PORT $BASE_PORT would use port $p of the shared broker or epmd; pick another (default $DEFAULT_BASE_PORT)"
            done
            ((p < 35672 || p > 35682)) ||
                die "BASE_PORT $BASE_PORT would use port $p, in the RabbitMQ CLI tools' range 35672-35682; pick another"
        done
    done
}

# Refused before anything is created.
[[ ! "$cmd" =~ ^(start|restart-node)$ ]] || check_ports
mkdir -p -- "$2"
# Everything of the cluster lives in DIR, the daemons' pid files and console logs included.
RUN_DIR="$(cd -- "$2" && pwd -P)"
LOG_DIR="$RUN_DIR"

# cli I TOOL ARGS...: a RabbitMQ CLI tool against node I, as rabbitmq, in the environment node I
# was started with (DIR/nodeI.env, written by prepare_node: HOME with the shared cookie, the
# distribution on loopback). Not rmq_prepare: its `chown -R` can fail on a running node's files
# that vanish meanwhile (Ra's WAL and segments).
cli() {
    local i=$1 tool=$2 env=()
    shift 2
    mapfile -t env <"$RUN_DIR/node$i.env" || die "missing $RUN_DIR/node$i.env (run: $0 start $RUN_DIR)"
    run_as rabbitmq "${env[@]}" "$RMQ_BIN/$tool" -n "$(node_name "$i")" "$@"
}

# cluster_json I: `cluster_status` as node I sees it (JSON).
cluster_json() { cli "$1" rabbitmqctl -q cluster_status --formatter json 2>/dev/null; }

# running_daemons: the indexes of the nodes whose VM runs (whatever RabbitMQ thinks).
running_daemons() {
    local i
    for i in "${NODES[@]}"; do
        if daemon_running "node$i"; then printf '%s\n' "$i"; fi
    done
}

# first_running: the index of the first node whose VM runs; fails if none does.
first_running() {
    local i
    for i in "${NODES[@]}"; do
        if daemon_running "node$i"; then
            printf '%s\n' "$i"
            return 0
        fi
    done
    return 1
}

# anchor_for I: the running node (lowest index first) other than I that node I joins and whose
# view of the cluster is asked; fails if none runs.
anchor_for() {
    local j
    for j in "${NODES[@]}"; do
        if ((j != $1)) && daemon_running "node$j"; then
            printf '%s\n' "$j"
            return 0
        fi
    done
    return 1
}

# cluster_complete ASKED: the running nodes of cluster_status, as node ASKED sees them, are
# exactly the nodes whose VM runs.
cluster_complete() {
    local i want=() names
    mapfile -t want < <(running_daemons)
    names="$(for i in "${want[@]}"; do node_name "$i"; done | jq -R . | jq -sc .)"
    cluster_json "$1" | jq -e --argjson want "$names" '(.running_nodes | sort) == ($want | sort)' >/dev/null
}

# join_node I ANCHOR: node I (running) leaves whatever cluster it is in and joins ANCHOR's. The
# CLI's chatter (3.10 logs harmless "tracked connection table" errors on a join) only shows on
# failure.
join_node() {
    local out
    log "$(node_name "$1") joins $(node_name "$2")"
    out="$({ cli "$1" rabbitmqctl -q stop_app &&
        cli "$1" rabbitmqctl -q join_cluster "$(node_name "$2")" &&
        cli "$1" rabbitmqctl -q start_app; } 2>&1)" || {
        printf '%s\n' "$out" >&2
        show_logs "$(node_dir "$1")/log/$(node_name "$1").log"
        die "$(node_name "$1") could not join $(node_name "$2")"
    }
}

# prepare_node I: node I's directory, configuration and the cluster's cookie.
prepare_node() {
    local i=$1 dir
    dir="$(node_dir "$i")"
    mkdir -p -- "$dir"
    cmp -s -- "$RUN_DIR/.erlang.cookie" "$dir/.erlang.cookie" ||
        install -m 0400 -o rabbitmq -g rabbitmq -- "$RUN_DIR/.erlang.cookie" "$dir/.erlang.cookie"
    rmq_prepare "$dir" "$(node_name "$i")" "$(amqp_port "$i")"
    printf '%s\n' "${RMQ_ENV[@]}" >"$RUN_DIR/node$i.env"
    cat >"$dir/rabbitmq.conf" <<EOF
# Generated by scripts/rabbitmq-cluster.sh (private test cluster, node $i of 3).
cluster_name = pfc-$BASE_PORT
listeners.tcp.default = 127.0.0.1:$(amqp_port "$i")
vm_memory_high_watermark.relative = 0.15
disk_free_limit.absolute = 50MB
log.console = false
log.file.level = info
EOF
    # Nodes 2 and 3 join node 1 while they boot the first time (a blank node only; later boots
    # use their database). Should node 1 not answer then, they boot alone and bring_up has them
    # join explicitly.
    if ((i != 1)); then
        printf '%s\n' "cluster_formation.peer_discovery_backend = classic_config" \
            "cluster_formation.classic_config.nodes.1 = $(node_name 1)" >>"$dir/rabbitmq.conf"
    fi
    # A quorum queue gets a member on each node (3 is also 3.10's default; explicit on purpose).
    printf '[{rabbit, [{quorum_cluster_size, 3}]}].\n' >"$dir/advanced.config"
    printf '[].\n' >"$dir/enabled_plugins"
    chown rabbitmq:rabbitmq -- "$dir/rabbitmq.conf" "$dir/advanced.config" "$dir/enabled_plugins"
}

# start_nodes I...: starts those of the nodes that do not run, in parallel, and waits until all
# of them accept AMQP.
start_nodes() {
    local i
    for i in "$@"; do
        daemon_running "node$i" && continue
        ports_free "RabbitMQ node $(node_name "$i")" "$(amqp_port "$i")" "$(dist_port "$i")"
        prepare_node "$i"
        # From the first start on, DIR holds databases of these node names.
        printf '%s\n' "$BASE_PORT" >"$RUN_DIR/base_port"
        log "starting $(node_name "$i") on 127.0.0.1:$(amqp_port "$i")"
        daemon_start "node$i" rabbitmq "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server"
    done
    for i in "$@"; do
        "ready_node$i" || daemon_wait "node$i" "$BOOT_DEADLINE" "$(node_dir "$i")/log/$(node_name "$i").log"
    done
}

# bring_up I...: starts those of the nodes that do not run, has each of them that is not a
# member of the cluster join it, then waits for cluster_status to list every running node as
# running.
bring_up() {
    local i start_us anchor asked="" json=""
    start_us=$(now_us)
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] || die "RabbitMQ is not installed; run: scripts/infra.sh install"
    [[ -s "$RUN_DIR/.erlang.cookie" ]] ||
        (umask 0377 && head -c 20 /dev/urandom | base32 | tr -d '=\n' >"$RUN_DIR/.erlang.cookie")
    ensure_traversable rabbitmq "$RUN_DIR"
    if [[ " $* " == *" 1 "* && ! -d "$(node_dir 1)/mnesia/$(node_name 1)" ]]; then
        # The very first start: node 1 first, so that 2 and 3 find it while they boot. (Never
        # otherwise: a node that was not the last to stop waits for the others' tables.)
        start_nodes 1
    fi
    start_nodes "$@"
    for i in "$@"; do
        ((i != 1)) || continue
        anchor="$(anchor_for "$i")" || die "no other node runs: $(node_name "$i") has no cluster to join (run: $0 start $RUN_DIR)"
        if [[ "$anchor" != "$asked" ]]; then
            json="$(cluster_json "$anchor")" || die "$(node_name "$anchor") does not answer rabbitmqctl cluster_status"
            asked=$anchor
        fi
        jq -e --arg n "$(node_name "$i")" '.disk_nodes | index($n) != null' <<<"$json" >/dev/null ||
            join_node "$i" "$anchor"
    done
    i="$(first_running)"
    wait_for --log "$(node_dir "$i")/log/$(node_name "$i").log" 60 \
        "cluster_status of $(node_name "$i") to list every running node" cluster_complete "$i"
    log "cluster ready in $(elapsed_since "$start_us"): $(running_daemons | while read -r i; do node_name "$i"; done | paste -sd ' ')"
}

case "$cmd" in
start)
    lock_dir "$RUN_DIR"
    bring_up "${NODES[@]}"
    # Contract of start: all three nodes, as cluster_status sees them.
    (($(running_daemons | wc -l) == 3)) || die "not all three nodes are running"
    for i in "${NODES[@]}"; do printf '%s %s %s\n' "$i" "$(node_name "$i")" "$(amqp_url "$i")"; done
    ;;
stop)
    lock_dir "$RUN_DIR"
    for i in "${NODES[@]}"; do daemon_stop "node$i" 60 & done
    wait
    ;;
status)
    rc=0
    for i in "${NODES[@]}"; do
        daemon_status "node$i" "$(node_name "$i") amqp 127.0.0.1:$(amqp_port "$i") dist $(dist_port "$i")" || rc=1
    done
    if asked="$(first_running)" && json="$(cluster_json "$asked")"; then
        printf 'cluster       %s  running: %s (asked %s)\n' "$(jq -r '.cluster_name' <<<"$json")" \
            "$(jq -r '.running_nodes | sort | join(" ")' <<<"$json")" "$(node_name "$asked")"
        (($(jq '.running_nodes | length' <<<"$json") == 3)) || rc=1
    else
        printf 'cluster       no running node answers\n'
        rc=1
    fi
    exit "$rc"
    ;;
kill)
    lock_dir "$RUN_DIR"
    if ! pid="$(daemon_pid "node$3")"; then
        log "$(node_name "$3") is not running"
        exit 0
    fi
    # The pid is rabbitmq-server's shell, whose group holds the VM (beam.smp) and its helpers.
    kill -KILL -- "-$pid" 2>/dev/null || true
    while pgid_alive "$pid"; do sleep 0.05; done
    rm -f -- "$RUN_DIR/node$3.pid"
    log "killed $(node_name "$3") (SIGKILL to process group $pid)"
    ;;
restart-node)
    lock_dir "$RUN_DIR"
    bring_up "$3"
    ;;
leader)
    queue=$3 vhost=${4:-/} json="" asked=""
    # The first running node that answers (one may still be booting).
    for i in $(running_daemons); do
        if json="$(cli "$i" rabbitmq-queues -q quorum_status "$queue" --vhost "$vhost" --formatter json)"; then
            asked=$i
            break
        fi
    done
    [[ -n "$asked" ]] || die "no running node of $RUN_DIR gave the quorum status of queue '$queue' in vhost '$vhost'"
    leader="$(jq -r '[.[] | select(."Raft State" == "leader") | ."Node Name"] | first // empty' <<<"$json")"
    [[ -n "$leader" ]] || die "queue '$queue' has no leader right now (asked $(node_name "$asked"))"
    for i in "${NODES[@]}"; do
        if [[ "$(node_name "$i")" == "$leader" ]]; then
            printf '%s %s\n' "$i" "$leader"
            exit 0
        fi
    done
    die "the leader of '$queue' is $leader, not a node of this cluster"
    ;;
ctl)
    [[ "$4" =~ ^(rabbitmqctl|rabbitmq-queues|rabbitmq-diagnostics)$ ]] ||
        die "ctl runs rabbitmqctl, rabbitmq-queues or rabbitmq-diagnostics, not '$4'"
    node=$3 tool=$4
    shift 4
    cli "$node" "$tool" "$@"
    ;;
esac
