#!/usr/bin/env bash
# Ingress benchmark: requests per second and p50/p99 latency of minicloud's ingress proxy beside
# nginx proxying the same backend in the same run, all on loopback, measured with wrk; and how
# long after a scale-up (replicas 1 → 2) the new instance receives traffic through the ingress.
#
# One App of the example image (busybox httpd, 1 cpu) runs under a `mini server` (release
# build) whose ingress listens on a free loopback port; wrk then loads, for the same duration
# and connections: the container directly (the backend's own ceiling), the ingress (by host name
# `web.<tenant>.localhost`), and nginx (an upstream with keep-alive connections to the same
# container). busybox httpd closes every connection after one response and listens with a
# backlog of 9, so beyond about 8 concurrent connections its dropped SYNs (retransmitted after
# 1 s) dominate the tail of both proxies: the rows at 8 connections compare the proxies, those
# at 32 show the backend saturated. Each of its closed connections leaves the client side (wrk,
# or the proxy) a TIME-WAIT socket towards the container for 60 s, and a 10 s row leaves
# thousands: a row started while the previous one's are there gets a fraction of the throughput
# (the host runs short of ports to the container), so each row waits until they have drained.
# The scale-up rounds apply replicas 2 and request `/id` (the answering instance's name) through
# the ingress until a new name answers; the clock starts just before `mini apply`.
# A watch on the Instances splits that time at the moment the API first shows the new instance
# ready: the rest is the ingress following the change, plus the app's own start where readiness
# is only "the container runs" (no health check: the shell copies files before httpd listens;
# meanwhile requests the new instance refuses go to the old one).
#
#   scripts/bench-ingress.sh [--seconds N] [--connections "N ..."] [--rounds N] [--out FILE]
#
# Installs wrk and nginx (Debian packages) when missing, starts dockerd when Docker is not
# running, builds `mini` in release mode and `hello:1` (scripts/images.sh). Everything it starts
# or creates (server, nginx, watcher, the tenant's containers and network, data directory) is
# removed on exit, also on failure. Prints Markdown tables, also written to FILE (default
# /tmp/bench-ingress-result.md).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

seconds=10
connections="8 32"
rounds=5
out_file=/tmp/bench-ingress-result.md
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --out) out_file=$2; shift 2 ;;
        *) echo "usage: scripts/bench-ingress.sh [--seconds N] [--connections \"N ...\"] [--rounds N] [--out FILE]" >&2; exit 2 ;;
    esac
done

log() { echo "bench-ingress: $*" >&2; }
now_ns() { date +%s%N; }

# --- tools --------------------------------------------------------------------------------------

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "missing ${missing[*]}; run as root or install them: apt-get install ${missing[*]}"
        exit 1
    fi
    log "installing ${missing[*]}"
    apt-get update -qq
    # RUNLEVEL=1: install nginx without starting the system's nginx service on port 80.
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

source scripts/lib.sh
start_dockerd_if_needed
scripts/images.sh
log "building mini (release)"
cargo build --release --locked --quiet --bin mini
mini=${CARGO_TARGET_DIR:-target}/release/mini

run_id=$(printf '%04x%02x' $((RANDOM)) $((RANDOM % 256)))
tenant="bench-$run_id"
node="bench-$run_id"
server_pid=""

# Stops the server first (so nothing recreates containers), then removes the tenant's Docker
# objects, then lets scripts/lib.sh stop the rest and remove the work directory.
bench_cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    local ids
    ids=$(docker ps -aq --filter "label=minicloud.tenant=$tenant" 2>/dev/null || true)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    ids=$(docker network ls -q --filter "label=minicloud.tenant=$tenant" 2>/dev/null || true)
    [ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1 || true
    cleanup
}
trap bench_cleanup EXIT

# --- minicloud ----------------------------------------------------------------------------------

"$mini" server --data-dir "$work_dir/data" --listen 127.0.0.1:0 \
    --ingress-listen 127.0.0.1:0 --node-name "$node" \
    >"$work_dir/server.out" 2>"$work_dir/server.log" &
server_pid=$!
for _ in $(seq 1 200); do
    grep -q '^minicloud ingress listening on ' "$work_dir/server.out" 2>/dev/null && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "mini server exited; its log:"
        tail -20 "$work_dir/server.log" >&2
        exit 1
    fi
    sleep 0.05
done
MINI_SERVER=$(sed -n 's/^minicloud API listening on //p' "$work_dir/server.out")
ingress=$(sed -n 's/^minicloud ingress listening on http:\/\///p' "$work_dir/server.out")
[ -n "$MINI_SERVER" ] && [ -n "$ingress" ] || { log "mini server did not start"; exit 1; }
MINI_KEY=$(sed -n 's/^minicloud admin key .*: //p' "$work_dir/server.out")
export MINI_SERVER MINI_KEY XDG_CONFIG_HOME="$work_dir/config"
ingress_port=${ingress##*:}
host="web.$tenant.localhost"
log "mini server at $MINI_SERVER, ingress on port $ingress_port, app at http://$host:$ingress_port"

apply_web() {
    "$mini" apply -f - >/dev/null <<EOF
apiVersion: minicloud/v1
kind: App
metadata: {name: web, tenant: $tenant}
spec:
  image: hello:1
  replicas: $1
  command: ["sh", "-c", "mkdir -p /tmp/www && cp -r /www/* /tmp/www/ && hostname > /tmp/www/id && exec httpd -f -p 8080 -h /tmp/www"]
  ports: [{name: http, port: 8080}]
  ingress: {port: http}
  resources: {cpu: "1", memory: 64Mi}
EOF
}

# Lines "NAME IP" of the tenant's ready, live Instances.
ready_instances() {
    "$mini" get instances -t "$tenant" -o json | python3 -c '
import json, sys
for i in json.load(sys.stdin)["items"]:
    s = i.get("status") or {}
    if s.get("ready") and s.get("ip") and not i["metadata"].get("deletionTimestamp"):
        print(i["metadata"]["name"], s["ip"])'
}

# Waits until exactly $1 instances are ready and the ingress answers.
wait_ready() {
    local deadline=$(($(now_ns) + 120 * 1000000000))
    while true; do
        local count
        count=$(ready_instances | wc -l)
        if [ "$count" -eq "$1" ] && [ "$("$mini" get instances -t "$tenant" -o json |
            python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" -eq "$1" ] &&
            curl -fsS -o /dev/null --max-time 2 "http://$host:$ingress_port/"; then
            return
        fi
        if [ "$(now_ns)" -gt "$deadline" ]; then
            log "timed out waiting for $1 ready instances; server log:"
            tail -20 "$work_dir/server.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

apply_web 1
wait_ready 1
backend_ip=$(ready_instances | awk '{print $2}')
log "backend container at $backend_ip:8080"

# --- nginx --------------------------------------------------------------------------------------

nginx_port=$(free_port)
mkdir -p "$work_dir/nginx"
cat >"$work_dir/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work_dir/nginx/nginx.pid;
error_log $work_dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work_dir/nginx/body;
    proxy_temp_path $work_dir/nginx/proxy;
    fastcgi_temp_path $work_dir/nginx/fastcgi;
    uwsgi_temp_path $work_dir/nginx/uwsgi;
    scgi_temp_path $work_dir/nginx/scgi;
    upstream web { server $backend_ip:8080; keepalive 64; }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
EOF
"$nginx_bin" -p "$work_dir/nginx" -c "$work_dir/nginx/nginx.conf" -g 'daemon off;' &
started_pids+=($!)
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 2 -H "Host: $host" "http://127.0.0.1:$nginx_port/" 2>/dev/null && break
    sleep 0.1
done
nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')

# --- throughput and latency ---------------------------------------------------------------------

# Waits (up to 90 s) until the previous row's TIME-WAIT sockets towards the backend are gone.
wait_time_wait_drained() {
    local deadline=$(($(now_ns) + 90 * 1000000000))
    while [ "$(ss -Htan state time-wait dst "$backend_ip" | wc -l)" -gt 100 ]; do
        if [ "$(now_ns)" -gt "$deadline" ]; then
            log "warning: the TIME-WAIT sockets towards the backend did not drain within 90 s"
            return
        fi
        sleep 1
    done
}

# One wrk run with C connections against URL with the Host header, once the previous run's
# sockets have drained; prints a Markdown row for LABEL. Errors are non-2xx responses plus
# socket errors (wrk times a request out after 2 s).
load() {
    local label=$1 c=$2 url=$3 out
    wait_time_wait_drained
    out=$(wrk -t2 -c"$c" -d"${seconds}s" --latency -H "Host: $host" "$url")
    echo "$out" | awk -v label="$label" -v c="$c" '
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = $2 }
        $1 == "99%" { p99 = $2 }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ { gsub(",", ""); bad += $4 + $6 + $8 + $10 }
        END { printf "| %s | %d | %.0f | %s | %s | %d |\n", label, c, rps, p50, p99, bad }'
}

throughput="| path (same backend container) | connections | requests/s | p50 | p99 | errors |
|---|---:|---:|---:|---:|---:|"
for c in $connections; do
    log "wrk: ${seconds}s each, 2 threads, $c connections (each after the sockets have drained)"
    throughput+="
$(load "direct to the container" "$c" "http://$backend_ip:8080/")
$(load "minicloud ingress" "$c" "http://127.0.0.1:$ingress_port/")
$(load "$nginx_version, keep-alive upstream" "$c" "http://127.0.0.1:$nginx_port/")"
done
echo "$throughput" >&2

# --- scale-up to traffic ------------------------------------------------------------------------

# Every Instance event, stamped on receipt: "TIME_NS NAME READY".
"$mini" get instances -t "$tenant" -w -o json | python3 -u -c '
import json, sys, time
for line in sys.stdin:
    event = json.loads(line)
    i = event["object"]
    s = i.get("status") or {}
    print(time.time_ns(), i["metadata"]["name"], bool(s.get("ready")), flush=True)' \
    >"$work_dir/instances.log" &
started_pids+=($!)

scale_rows=""
for round in $(seq 1 "$rounds"); do
    known=$(ready_instances | awk '{print $1}')
    start=$(now_ns)
    apply_web 2
    deadline=$((start + 60 * 1000000000))
    while true; do
        answer=$(curl -fsS --max-time 2 -H "Host: $host" "http://127.0.0.1:$ingress_port/id" 2>/dev/null || true)
        if [ -n "$answer" ] && ! grep -qx "$answer" <<<"$known"; then
            served=$(now_ns)
            break
        fi
        if [ "$(now_ns)" -gt "$deadline" ]; then
            log "round $round: the new instance never answered"
            exit 1
        fi
    done
    ready_at=$(awk -v name="$answer" '$2 == name && $3 == "True" { print $1; exit }' "$work_dir/instances.log")
    total_ms=$(((served - start) / 1000000))
    routed_ms=$([ -n "$ready_at" ] && echo $(((served - ready_at) / 1000000)) || echo "?")
    log "round $round: new instance $answer served after ${total_ms} ms (${routed_ms} ms after ready)"
    scale_rows+="| $round | $total_ms | $routed_ms |"$'\n'
    apply_web 1
    wait_ready 1
done

scaleup="| round | apply → new instance answers (ms) | API shows it ready → it answers through the ingress (ms) |
|---:|---:|---:|
${scale_rows%$'\n'}"

result="## Ingress

$(date -u +%Y-%m-%d), $(nproc) cores ($(uname -r)), loopback; backend: busybox httpd in one
container (1 cpu); wrk 2 threads, ${seconds}s per row.

$throughput

Scale-up 1 → 2 replicas, until the new instance answers through the ingress:

$scaleup"
echo "$result"
echo "$result" >"$out_file"
log "written to $out_file"
