#!/usr/bin/env bash
# A multi-node Ray cluster on one machine, for development and the multi-node tests.
#
#   cluster/local.sh up N [CPUS_PER_NODE]   head + N worker nodes on 127.0.0.1
#   cluster/local.sh down                   stop exactly those processes
#   cluster/local.sh status                 addresses and node pids
#
# Each node is its own `ray start --block` process (through ray_start_loopback.py, which
# keeps every server on 127.0.0.1) in a session of its own (so `down`
# ends exactly this cluster; `ray stop` would end every Ray on the machine), with its
# own CPU count, its own temp dir and its own agent/metrics ports. The head has
# --num-cpus=0, as on KubeRay: no training worker lands on it, so workers are spread
# over the worker nodes. State (pids, logs, addresses) lives in $GENEN_LOCAL_CLUSTER
# (default /tmp/genen-local-cluster): kept short, as Ray's unix socket paths under it
# are limited to ~107 bytes.
#
# After `up`, submit jobs with:
#   RAY_AUTH_MODE=token ray job submit --address "$(cat $GENEN_LOCAL_CLUSTER/dashboard)" \
#       --working-dir . -- python -m genen_scale.train ...
set -euo pipefail

STATE=${GENEN_LOCAL_CLUSTER:-/tmp/genen-local-cluster}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python}
RAY_BIN=$(dirname "$(command -v "$PY")")/ray
[[ -x $RAY_BIN ]] || RAY_BIN=ray
# Every node must agree on the auth mode; the token is the machine's ~/.ray/auth_token
# (generated below when missing), which all nodes on this machine read.
export RAY_AUTH_MODE=token
# A killed node is noticed in ~3 s instead of Ray's default ~30 s, so that a restarted
# worker group is not scheduled onto a dead node for long (the fault-tolerance test).
export RAY_health_check_period_ms=1000 RAY_health_check_failure_threshold=3
export RAY_health_check_timeout_ms=1000

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_node() {  # start_node NAME ARGS...: one `ray start --block` in a new session
    local name=$1
    shift
    mkdir -p "$STATE/$name"
    setsid "$PY" "$HERE/ray_start_loopback.py" start --block --node-ip-address=127.0.0.1 \
        --disable-usage-stats \
        --temp-dir="$STATE/$name" \
        --dashboard-agent-listen-port="$(free_port)" --dashboard-agent-grpc-port="$(free_port)" \
        --metrics-export-port="$(free_port)" --runtime-env-agent-port="$(free_port)" \
        "$@" >"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

wait_for_nodes() {  # until the cluster reports $1 alive nodes
    local want=$1 deadline=$((SECONDS + 180))
    while ((SECONDS < deadline)); do
        for f in "$STATE"/*.pid; do
            kill -0 "$(cat "$f")" 2>/dev/null || { echo "node $(basename "$f" .pid) exited; see $STATE/$(basename "$f" .pid).log" >&2; return 1; }
        done
        # A driver, too, needs the variable to keep 127.0.0.1 (see ray_start_loopback.py).
        if RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 "$PY" - "$(cat "$STATE/address")" "$want" \
            <<'EOF' 2>/dev/null; then return 0; fi
import sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
alive = sum(n["Alive"] for n in ray.nodes())
sys.exit(0 if alive >= int(sys.argv[2]) else 1)
EOF
        sleep 2
    done
    echo "the cluster did not reach $want nodes in 180 s" >&2
    return 1
}

up() {
    local n=${1:?usage: local.sh up N [CPUS_PER_NODE]} cpus=${2:-1}
    if [[ -e $STATE/head.pid ]] && kill -0 "$(cat "$STATE/head.pid")" 2>/dev/null; then
        echo "a local cluster is already up in $STATE (local.sh down first)" >&2
        return 1
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE"
    [[ -s ~/.ray/auth_token ]] || "$RAY_BIN" get-auth-token --generate >/dev/null
    local gcs dash
    gcs=$(free_port)
    dash=$(free_port)
    echo "127.0.0.1:$gcs" >"$STATE/address"
    # Ray's own helpers inside the cluster (Ray Train's placement-group cleaner) look the
    # cluster up as "auto", which fails when other Ray clusters run on this machine.
    export RAY_ADDRESS="127.0.0.1:$gcs"
    echo "http://127.0.0.1:$dash" >"$STATE/dashboard"
start_node head --head --port="$gcs" --num-cpus=0 --include-dashboard=true \
        --dashboard-host=127.0.0.1 --dashboard-port="$dash" \
        --ray-client-server-port="$(free_port)"
    wait_for_nodes 1
    for i in $(seq 1 "$n"); do
        # One log monitor per machine is enough (the head's); more would duplicate logs.
        start_node "worker$i" --address="127.0.0.1:$gcs" --num-cpus="$cpus" \
            --include-log-monitor=false
    done
    wait_for_nodes $((n + 1))
    echo "local Ray cluster up: head + $n worker node(s) x $cpus CPU(s)"
    status
}

down() {
    [[ -d $STATE ]] || return 0
    local f pid
    # Workers first, then the head: a worker that loses its GCS first only logs errors.
    for f in $(ls "$STATE"/worker*.pid 2>/dev/null) "$STATE/head.pid"; do
        [[ -e $f ]] || continue
        pid=$(cat "$f")
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for f in "$STATE"/*.pid; do
        pid=$(cat "$f")
        for _ in $(seq 1 30); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$f"
    done
    echo "local Ray cluster in $STATE stopped"
}

status() {
    echo "GCS:       $(cat "$STATE/address")"
    echo "dashboard: $(cat "$STATE/dashboard")"
    for f in "$STATE"/*.pid; do echo "node $(basename "$f" .pid): pid $(cat "$f")"; done
}

case ${1:-} in
up) shift; up "$@" ;;
down) down ;;
status) status ;;
*) echo "usage: local.sh up N [CPUS_PER_NODE] | down | status" >&2; exit 2 ;;
esac
