#!/usr/bin/env bash
# Metrics benchmark: what sampling costs. A standalone `mini agent` (release build) runs 100
# instances (one App, 100 replicas of the example image) and samples them every 10 s; over a
# measured minute it reports the agent's CPU (user + system, from /proc) as a share of one core,
# its resident memory, and the Docker Engine's CPU meanwhile (it answers the stats readings).
# The peer, on the same 100 containers in the same run: `docker stats --no-stream` every 10 s
# (the engine's own CLI collecting the same readings), with the engine's CPU while it runs.
#
#   scripts/bench-metrics.sh [--instances N] [--seconds S] [--no-build]
#
# Needs a running Docker Engine (started if missing) and `hello:1` (scripts/images.sh). The
# server, the agent, the App's containers and the work directory are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

instances=100
seconds=60
build=true
while [ $# -gt 0 ]; do
    case $1 in
        --instances) instances=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        *) echo "usage: scripts/bench-metrics.sh [--instances N] [--seconds S] [--no-build]" >&2; exit 2 ;;
    esac
done

source scripts/lib.sh
start_dockerd_if_needed
scripts/images.sh >/dev/null

log() { echo "bench-metrics: $*" >&2; }
if $build; then
    cargo build --release --locked --quiet --bin mini
fi
mini="${CARGO_TARGET_DIR:-target}/release/mini"
node="bench-metrics-$$"
tenant="bm$$"
agent_pid=""
server_pid=""

stop_all() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    local ids
    ids=$(docker ps -aq --filter "label=minicloud.node=$node")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
    docker network ls -q --filter "label=minicloud.tenant=$tenant" | xargs -r docker network rm >/dev/null 2>&1 || true
    cleanup
}
trap stop_all EXIT

# CPU ticks (user + system) of a process, and its resident memory in KiB.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
dockerd_pid() { pgrep -o -x dockerd; }
hz=$(getconf CLK_TCK)

"$mini" server --data-dir "$work_dir/data" --listen 127.0.0.1:0 --no-agent \
    >"$work_dir/server.out" 2>"$work_dir/server.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^minicloud admin key' "$work_dir/server.out" 2>/dev/null && break
    sleep 0.1
done
MINI_SERVER=$(sed -n 's/^minicloud API listening on //p' "$work_dir/server.out" | head -1)
MINI_KEY=$(sed -n 's/^minicloud admin key .*: //p' "$work_dir/server.out" | head -1)
export MINI_SERVER MINI_KEY
[ -n "$MINI_SERVER" ] && [ -n "$MINI_KEY" ] || { log "mini server did not start"; tail "$work_dir/server.log" >&2; exit 1; }

"$mini" agent --listen 127.0.0.1:0 --node-name "$node" --storage-dir "$work_dir/storage" \
    --ingress-listen off --metrics-interval 10s \
    >"$work_dir/agent.out" 2>"$work_dir/agent.log" &
agent_pid=$!

cat >"$work_dir/app.yaml" <<YAML
apiVersion: minicloud/v1
kind: App
metadata:
  name: fleet
  tenant: $tenant
spec:
  image: hello:1
  replicas: $instances
  command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
  resources: {cpu: 10m, memory: 16Mi}
  update: {maxSurge: 0, maxUnavailable: 1}
YAML
for _ in $(seq 50); do
    "$mini" apply -f "$work_dir/app.yaml" >/dev/null 2>&1 && break
    sleep 0.2
done
log "waiting for $instances running containers"
for _ in $(seq 600); do
    running=$(docker ps -q --filter "label=minicloud.node=$node" | wc -l)
    [ "$running" -ge "$instances" ] && break
    sleep 0.5
done
[ "$running" -ge "$instances" ] || { log "only $running of $instances run"; tail "$work_dir/agent.log" >&2; exit 1; }
log "$running running; settling for 20 s"
sleep 20

log "measuring the agent for $seconds s"
dockerd=$(dockerd_pid)
a0=$(ticks "$agent_pid"); d0=$(ticks "$dockerd")
sleep "$seconds"
a1=$(ticks "$agent_pid"); d1=$(ticks "$dockerd")
agent_rss=$(rss_kib "$agent_pid")
sampled=$("$mini" top instances --once -o json -t "$tenant" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')

# The peer: the agent stops sampling while the engine's own CLI reads the same containers.
kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""
log "measuring docker stats --no-stream every 10 s for $seconds s"
ids=$(docker ps -q --filter "label=minicloud.node=$node")
d2=$(ticks "$dockerd")
peer_start=$(date +%s%N)
peer_cpu_ns=0
peer_rounds=0
while [ $(( ($(date +%s%N) - peer_start) / 1000000000 )) -lt "$seconds" ]; do
    round=$( { /usr/bin/time -f '%U %S' docker stats --no-stream $ids >/dev/null; } 2>&1 | tail -1)
    peer_cpu_ns=$(python3 -c "u,s='$round'.split(); print($peer_cpu_ns + int((float(u)+float(s))*1e9))")
    peer_rounds=$((peer_rounds + 1))
    sleep 10
done
d3=$(ticks "$dockerd")
peer_elapsed_ns=$(( $(date +%s%N) - peer_start ))

python3 - "$hz" "$seconds" "$instances" "$sampled" "$a0" "$a1" "$agent_rss" "$d0" "$d1" \
    "$d2" "$d3" "$peer_cpu_ns" "$peer_elapsed_ns" "$peer_rounds" <<'PY'
import sys
hz, seconds, instances, sampled = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
a0, a1, rss, d0, d1, d2, d3 = (float(x) for x in sys.argv[5:12])
peer_ns, peer_elapsed_ns, rounds = float(sys.argv[12]), float(sys.argv[13]), int(sys.argv[14])
share = lambda ticks, span: 100 * ticks / hz / span
peer_span = peer_elapsed_ns / 1e9
print(f"{instances} instances of busybox httpd on one node; sampling every 10 s; {seconds:.0f} s measured each; "
      f"{sampled} instances in `mini top`.\n")
print("| collector | collector CPU (% of one core) | collector RSS (MB) | dockerd CPU meanwhile (% of one core) |")
print("| --- | ---: | ---: | ---: |")
print(f"| minicloud agent (everything it does: sampling, health, events, heartbeat) | {share(a1 - a0, seconds):.2f} | {rss / 1024:.1f} | {share(d1 - d0, seconds):.2f} |")
print(f"| `docker stats --no-stream` every 10 s ({rounds} rounds) | {100 * peer_ns / 1e9 / peer_span:.2f} | – | {share(d3 - d2, peer_span):.2f} |")
PY
