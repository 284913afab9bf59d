#!/usr/bin/env bash
# Shared by scripts/test.sh and scripts/bench.sh: a work directory removed on exit, and services
# (etcd, dockerd) started on loopback and stopped on exit. Source it; don't run it.

work_dir=$(mktemp -d /tmp/minicloud.XXXXXX)
started_pids=()
started_dockerd=false
cleanup() {
    for pid in "${started_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # A test may have restarted the engine (scripts/restart-dockerd.sh), so stop it by name.
    if $started_dockerd; then
        pkill -x dockerd 2>/dev/null || true
        for _ in $(seq 1 100); do pgrep -x dockerd >/dev/null || break; sleep 0.2; done
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a private etcd on free loopback ports and exports MINICLOUD_TEST_ETCD.
start_etcd() {
    local client_port peer_port
    client_port=$(free_port)
    peer_port=$(free_port)
    etcd --name test --data-dir "$work_dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$client_port" \
        --advertise-client-urls "http://127.0.0.1:$client_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "test=http://127.0.0.1:$peer_port" \
        --logger zap --log-level error >"$work_dir/etcd.log" 2>&1 &
    started_pids+=($!)
    export MINICLOUD_TEST_ETCD="http://127.0.0.1:$client_port"
    for _ in $(seq 1 100); do
        if curl -fsS "$MINICLOUD_TEST_ETCD/health" 2>/dev/null | grep -q '"health":"true"'; then
            echo "etcd ready at $MINICLOUD_TEST_ETCD"
            return
        fi
        sleep 0.2
    done
    echo "etcd did not start; its log:" >&2
    cat "$work_dir/etcd.log" >&2
    exit 1
}

# Starts dockerd unless a Docker Engine already answers.
start_dockerd_if_needed() {
    if docker info >/dev/null 2>&1; then
        return
    fi
    dockerd >"$work_dir/dockerd.log" 2>&1 &
    started_dockerd=true
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            echo "started dockerd"
            return
        fi
        sleep 0.5
    done
    echo "dockerd did not start; its log:" >&2
    tail -20 "$work_dir/dockerd.log" >&2
    exit 1
}
