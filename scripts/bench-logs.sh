#!/usr/bin/env bash
# Kept-logs benchmark: what keeping instances' output costs, and how fast it is searched.
#
# Ingest: a standalone `mini agent` (release build) runs one App of N instances, each printing
# L numbered lines of about 100 bytes as fast as busybox can (seq | sed), then "done". From
# all instances running until every instance's last kept line is "done", it reports the
# agent's CPU (user + system, from /proc) and the Docker Engine's meanwhile, as lines per
# CPU-second. The peer, in the same run, on the same image, command and json-file rotation:
# the same N containers started with `docker run`, each followed by `docker logs -f
# --timestamps C > file`, with the CLI processes' and the engine's CPU until every file ends
# with "done".
#
# Search: every kept line read back (`mini logs APP > file`), then `mini logs APP --grep RE`
# beside `grep -E RE` over that same file, for a pattern matching one line in a thousand.
#
#   scripts/bench-logs.sh [--instances N] [--lines L] [--no-build]
#
# The defaults (4 × 2,500,000 lines) keep about 1 GB. Needs a running Docker Engine (started if
# missing) and `hello:1` (scripts/images.sh). The server, the agent, every container and the
# work directory are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

instances=4
lines=2500000
build=true
while [ $# -gt 0 ]; do
    case $1 in
        --instances) instances=$2; shift 2 ;;
        --lines) lines=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        *) echo "usage: scripts/bench-logs.sh [--instances N] [--lines L] [--no-build]" >&2; exit 2 ;;
    esac
done

source scripts/lib.sh
start_dockerd_if_needed
scripts/images.sh >/dev/null

log() { echo "bench-logs: $*" >&2; }
if $build; then
    cargo build --release --locked --quiet --bin mini
fi
mini="${CARGO_TARGET_DIR:-target}/release/mini"
node="bench-logs-$$"
tenant="bl$$"
peer_label="minicloud.bench-logs=$$"
agent_pid=""
server_pid=""
followers=()

stop_all() {
    for pid in "${followers[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    local ids
    ids=$(docker ps -aq --filter "label=minicloud.node=$node"; docker ps -aq --filter "label=$peer_label")
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
    docker network ls -q --filter "label=minicloud.tenant=$tenant" | xargs -r docker network rm >/dev/null 2>&1 || true
    cleanup
}
trap stop_all EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
dockerd=$(pgrep -o -x dockerd)
now_ns() { date +%s%N; }

# Each instance waits for the measurement to start, prints its lines, and stays up (busybox sh
# execs its last command, so a loop keeps the shell).
script="sleep 5; seq 1 $lines | sed 's|.*|GET /api/items/& HTTP/1.1 200 1234 bytes in 5 ms; the quick brown fox jumps over the lazy dog|'; echo done; while true; do sleep 3600; done"
# A pattern of one line in a thousand, that Rust's regex and grep -E read alike.
pattern='items/[0-9]*999 HTTP'

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
    --log-dir "$work_dir/logs" --log-retention-size 8Gi --ingress-listen off \
    >"$work_dir/agent.out" 2>"$work_dir/agent.log" &
agent_pid=$!

python3 - "$tenant" "$instances" "$script" >"$work_dir/app.yaml" <<'PY'
import json, sys
tenant, instances, script = sys.argv[1:4]
print(f"""apiVersion: minicloud/v1
kind: App
metadata:
  name: flood
  tenant: {tenant}
spec:
  image: hello:1
  replicas: {instances}
  command: ["sh", "-c", {json.dumps(script)}]
  resources: {{cpu: 500m, memory: 64Mi}}""")
PY
for _ in $(seq 50); do
    "$mini" apply -f "$work_dir/app.yaml" >/dev/null 2>&1 && break
    sleep 0.2
done
for _ in $(seq 200); do
    running=$(docker ps -q --filter "label=minicloud.node=$node" | wc -l)
    [ "$running" -ge "$instances" ] && break
    sleep 0.1
done
[ "$running" -ge "$instances" ] || { log "only $running of $instances run"; tail "$work_dir/agent.log" >&2; exit 1; }
a0=$(ticks "$agent_pid"); d0=$(ticks "$dockerd"); t0=$(now_ns)
log "$instances instances print $lines lines each; waiting until every one's last kept line is done"
names=$("$mini" get instances -t "$tenant" -o json | python3 -c 'import json,sys; print(" ".join(i["metadata"]["name"] for i in json.load(sys.stdin)["items"]))')
for name in $names; do
    for _ in $(seq 3600); do
        "$mini" logs flood -t "$tenant" --instance "$name" --tail 1 2>/dev/null | grep -q '] done$' && break
        sleep 0.5
    done
done
a1=$(ticks "$agent_pid"); d1=$(ticks "$dockerd"); t1=$(now_ns)

log "reading every kept line back"
r0=$(now_ns)
"$mini" logs flood -t "$tenant" >"$work_dir/kept.txt"
r1=$(now_ns)
kept=$(wc -l <"$work_dir/kept.txt")
kept_bytes=$(stat -c %s "$work_dir/kept.txt")
store_bytes=$(du -sb "$work_dir/logs" | cut -f1)

log "searching: mini logs --grep and grep -E, 3 runs each"
best() { sort -n | head -1; }
mini_grep=$(for _ in 1 2 3; do
    s=$(now_ns); found=$("$mini" logs flood -t "$tenant" --grep "$pattern" | wc -l); e=$(now_ns)
    echo "$((e - s)) $found"
done | best)
grep_grep=$(for _ in 1 2 3; do
    s=$(now_ns); found=$(grep -cE "$pattern" "$work_dir/kept.txt"); e=$(now_ns)
    echo "$((e - s)) $found"
done | best)

# The peer: the same containers under `docker run`, followed into files by the engine's CLI.
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""
docker rm -f $(docker ps -aq --filter "label=minicloud.node=$node") >/dev/null
log "peer: $instances containers under docker run, each followed by docker logs -f > file"
peer_ids=()
for i in $(seq "$instances"); do
    peer_ids+=("$(docker run -d --init --label "$peer_label" --cpus 0.5 --memory 64m \
        --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 \
        hello:1 sh -c "$script")")
done
d2=$(ticks "$dockerd"); t2=$(now_ns)
for i in "${!peer_ids[@]}"; do
    docker logs -f --timestamps "${peer_ids[$i]}" >"$work_dir/peer-$i.txt" 2>&1 &
    followers+=($!)
done
for i in "${!peer_ids[@]}"; do
    for _ in $(seq 36000); do
        [ "$(tail -c 5 "$work_dir/peer-$i.txt" 2>/dev/null)" = "done" ] && break
        sleep 0.1
    done
done
d3=$(ticks "$dockerd"); t3=$(now_ns)
peer_ticks=0
for pid in "${followers[@]}"; do peer_ticks=$((peer_ticks + $(ticks "$pid"))); done
peer_lines=$(cat "$work_dir"/peer-*.txt | wc -l)
for pid in "${followers[@]}"; do kill "$pid" 2>/dev/null || true; done
followers=()

python3 - "$hz" "$instances" "$lines" "$a0" "$a1" "$d0" "$d1" "$t0" "$t1" "$r0" "$r1" "$kept" \
    "$kept_bytes" "$store_bytes" "$mini_grep" "$grep_grep" "$d2" "$d3" "$t2" "$t3" "$peer_ticks" \
    "$peer_lines" <<'PY'
import sys
a = sys.argv[1:]
hz, instances, lines = float(a[0]), int(a[1]), int(a[2])
a0, a1, d0, d1 = (float(x) for x in a[3:7])
t0, t1, r0, r1 = (int(x) for x in a[7:11])
kept, kept_bytes, store_bytes = int(a[11]), int(a[12]), int(a[13])
mini_ns, mini_found = (int(x) for x in a[14].split())
grep_ns, grep_found = (int(x) for x in a[15].split())
d2, d3 = float(a[16]), float(a[17])
t2, t3 = int(a[18]), int(a[19])
peer_ticks, peer_lines = float(a[20]), int(a[21])
printed = instances * (lines + 1)
cpu = lambda ticks: ticks / hz
ours_cpu, ours_engine = cpu(a1 - a0), cpu(d1 - d0)
peer_cpu, peer_engine = cpu(peer_ticks), cpu(d3 - d2)
print(f"{instances} instances × {lines:,} lines of ~100 bytes ({printed:,} lines printed), json-file 10 MiB × 3 on both sides.\n")
print("| collector | lines kept | wall s | collector CPU s | lines per collector CPU-s | dockerd CPU s | lines per CPU-s, collector + dockerd |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
print(f"| minicloud agent → redb | {kept:,} | {(t1 - t0) / 1e9:.1f} | {ours_cpu:.1f} | {kept / ours_cpu:,.0f} | {ours_engine:.1f} | {kept / (ours_cpu + ours_engine):,.0f} |")
print(f"| `docker logs -f --timestamps > file` | {peer_lines:,} | {(t3 - t2) / 1e9:.1f} | {peer_cpu:.1f} | {peer_lines / peer_cpu:,.0f} | {peer_engine:.1f} | {peer_lines / (peer_cpu + peer_engine):,.0f} |")
print(f"\nKept: {kept_bytes / 1e9:.2f} GB of text as printed by `mini logs` in a {store_bytes / 1e9:.2f} GB store; "
      f"read back in {(r1 - r0) / 1e9:.1f} s ({kept_bytes / 1e6 / ((r1 - r0) / 1e9):.0f} MB/s, {kept / ((r1 - r0) / 1e9):,.0f} lines/s).\n")
print("| search over the same kept text | matches | best of 3 (s) | MB/s |")
print("| --- | ---: | ---: | ---: |")
print(f"| `mini logs flood --grep '…'` | {mini_found:,} | {mini_ns / 1e9:.2f} | {kept_bytes / 1e6 / (mini_ns / 1e9):.0f} |")
print(f"| `grep -cE '…' kept.txt` | {grep_found:,} | {grep_ns / 1e9:.2f} | {kept_bytes / 1e6 / (grep_ns / 1e9):.0f} |")
PY
