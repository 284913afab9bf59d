#!/usr/bin/env bash
# minicloud's whole gate, from a fresh Debian machine: installs what is missing, starts a
# private etcd on a loopback port (and dockerd when it is not running), runs rustfmt, clippy and
# every test with nextest, and stops what it started — also when a step fails.
#
#   scripts/test.sh [extra nextest arguments, e.g. a test filter]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

work_dir=$(mktemp -d /tmp/minicloud-test.XXXXXX)
started_pids=()
cleanup() {
    for pid in "${started_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work_dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

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
            echo "test: etcd ready at $MINICLOUD_TEST_ETCD"
            return
        fi
        sleep 0.2
    done
    echo "test: etcd did not start; its log:" >&2
    cat "$work_dir/etcd.log" >&2
    exit 1
}

start_dockerd_if_needed() {
    if docker info >/dev/null 2>&1; then
        return
    fi
    dockerd >"$work_dir/dockerd.log" 2>&1 &
    started_pids+=($!)
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            echo "test: started dockerd"
            return
        fi
        sleep 0.5
    done
    echo "test: dockerd did not start; its log:" >&2
    tail -20 "$work_dir/dockerd.log" >&2
    exit 1
}

start_etcd
start_dockerd_if_needed

echo "test: cargo fmt --check"
cargo fmt --all --check
echo "test: cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "test: cargo nextest run"
cargo nextest run --workspace --locked --no-fail-fast "$@"
