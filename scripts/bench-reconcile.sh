#!/usr/bin/env bash
# Reconcile benchmark: how long from "I asked for containers" until Docker runs them, for
# minicloud (`mini apply` of an App → its containers started by the node agent) and, in the same
# run on the same engine, two peers doing the same job: a plain `docker run -d` loop and Docker
# Swarm services. Two sizes: 1 container (repeated, fresh app and tenant each time) and 100
# containers (10 tenants × 10 replicas, one `mini apply` of 10 Apps). Swarm does the 100 twice:
# 10 × `docker service create --replicas 10`, and one `docker service scale` of 10 services
# created beforehand with 0 replicas (its scheduler alone, no network or service to create).
#
# "Running" is the Docker `start` event of each container (its daemon timestamp, read from one
# `docker events` stream); the clock starts just before the first command (`mini apply`,
# `docker network create`, ...). For minicloud it also reports when the API first shows every
# Instance in phase Running (from a watch on the REST API). Every setup creates its tenant
# networks inside the timed span: minicloud a bridge network per tenant, `docker run` the same,
# Swarm an overlay network per tenant. The peers get minicloud's container defaults (see
# agent/src/container_config.rs) as far as each supports them; the 100 containers get a cpu
# limit of 20m each on 2 cores, so that 100 fit on one minicloud node (see bulk_cpu below).
#
#   scripts/bench-reconcile.sh [--repeats N] [--out FILE] [--tenants N --replicas N] [--no-build]
#
# --repeats: rounds of the 1-container case (5); --tenants × --replicas: the bulk case (10 × 10);
# --no-build: use the `mini` already built (in $CARGO_TARGET_DIR when set, as the build).
#
# Needs a running Docker Engine (started if missing), builds `mini` in release mode and `hello:1`
# (scripts/images.sh). Swarm: the engine joins a single-node swarm on 127.0.0.1 for the Swarm
# rows and leaves it afterwards; those rows are skipped when the engine is already in a swarm.
# Everything it creates (containers, networks, services, swarm membership, the server and its
# data directory) is removed on exit, also on failure; if the engine does not answer then (it
# may be restarting), the cleanup waits for it up to 2 minutes. A run fails, rather than waits,
# when the engine restarts under it (its event stream ends). One exception dockerd 20.10 can
# force: a docker_gwbridge (created by `docker swarm init`) whose endpoint count stays above 0
# after every endpoint is gone cannot be removed until dockerd restarts; the run warns about it.
# Prints a Markdown table (also to FILE).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

repeats=5
out_file=""
build=true
bulk_tenants=10
bulk_replicas=10
while [ $# -gt 0 ]; do
    case $1 in
        --repeats) repeats=$2; shift 2 ;;
        --out) out_file=$2; shift 2 ;;
        --tenants) bulk_tenants=$2; shift 2 ;;
        --replicas) bulk_replicas=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        *)
            echo "usage: scripts/bench-reconcile.sh [--repeats N] [--out FILE]" \
                "[--tenants N --replicas N] [--no-build]" >&2
            exit 2
            ;;
    esac
done

source scripts/lib.sh

run_id=$(printf '%04x%02x' $((RANDOM)) $((RANDOM % 256)))
prefix="bench-$run_id"       # tenants, networks and names all start with it
node="bench-$run_id"         # the minicloud node name: its agent touches only its own containers
image=hello:1
cmd=(httpd -f -p 8080 -h /www)
bulk_total=$((bulk_tenants * bulk_replicas))
# cpu limits in millicores. minicloud's scheduler reserves each container's cpu limit on its node
# and does not overcommit: a 2-core node holds 8 containers of the default 250m. So each of the
# 100 containers asks for the node's allocatable cpu / 100 (20m on 2 cores; set once the node
# has registered), and the peers get the same limit; the single containers keep the default.
single_cpu=250
bulk_cpu=""

server_pid=""
events_pid=""
api_watch_pid=""
swarm_joined=false
gwbridge_existed=true

log() { echo "bench-reconcile: $*" >&2; }
now_ns() { date +%s%N; }
cores() { awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }'; }
ms_between() { echo $((($2 - $1) / 1000000)); }

# remove_containers ID...: one at a time. dockerd 20.10 removing many containers of one network
# at once (`docker rm -f ID...` runs them in parallel) can leave the network with an endpoint
# count that never drops back to 0: "has active endpoints" until dockerd restarts.
remove_containers() {
    local id
    for id in "$@"; do docker rm -f "$id" >/dev/null 2>&1 || true; done
}

# remove_networks NAME...: a few tries each; warns about any left.
remove_networks() {
    local network
    for network in "$@"; do
        for _ in $(seq 1 60); do
            docker network rm "$network" >/dev/null 2>&1 && continue 2
            docker network inspect "$network" >/dev/null 2>&1 || continue 2
            sleep 0.5
        done
        log "warning: could not remove network $network"
    done
}

# wait_for_engine SECONDS: until the Docker Engine answers; fails after SECONDS.
wait_for_engine() {
    local deadline=$(($(now_ns) + $1 * 1000000000))
    until docker info >/dev/null 2>&1; do
        [ "$(now_ns)" -gt "$deadline" ] && return 1
        sleep 1
    done
}

bench_cleanup() {
    local status=$?
    set +e
    trap - INT TERM
    if ! wait_for_engine 120; then
        log "the Docker Engine does not answer: remove what is left of this run by hand:" \
            "containers, networks and services labelled bench.run=$run_id or" \
            "minicloud.node=$node$($swarm_joined && echo ", then docker swarm leave --force")"
    fi
    if [ "$status" -ne 0 ] && [ -n "$server_pid" ]; then
        log "failed; minicloud's Instances and the end of the server's log:"
        "$mini" get instances -A 2>&1 | head -40 >&2
        tail -20 "$work_dir/server.log" >&2
    fi
    # The server first: with it gone nothing recreates what is removed below. It finishes the
    # plan in hand before it stops, which can take minutes: 10 s, then SIGKILL.
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    for pid in $api_watch_pid $events_pid; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if $swarm_joined; then
        local services
        services=$(docker service ls -q --filter "label=bench.run=$run_id" 2>/dev/null)
        # shellcheck disable=SC2046 # one id per word
        remove_containers $(docker ps -aq --filter "label=bench.run=$run_id")
        [ -n "$services" ] && docker service rm $services >/dev/null 2>&1
        for _ in $(seq 1 300); do
            [ -z "$(docker ps -aq --filter "label=bench.run=$run_id")" ] && break
            sleep 0.1
        done
        swarm_leave 2>/dev/null && log "left the swarm"
    fi
    local containers networks
    containers=$(
        docker ps -aq --filter "label=minicloud.node=$node"
        docker ps -aq --filter "label=bench.run=$run_id"
    )
    # shellcheck disable=SC2086 # one id per word
    remove_containers $containers
    networks=$(
        docker network ls -q --filter "label=minicloud.node=$node"
        docker network ls -q --filter "label=bench.run=$run_id"
    )
    # shellcheck disable=SC2086 # one name per word
    remove_networks $networks
    # `docker swarm init` creates docker_gwbridge and leaving keeps it.
    $gwbridge_existed || remove_networks docker_gwbridge
    cleanup # scripts/lib.sh: the work directory (the server's data directory is in it)
    exit "$status"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- events: one stream for the whole run -------------------------------------------------------

# Lines "TIME_NS TENANT NAME" for every container start on the engine; TENANT is the
# minicloud.tenant label (minicloud) or the bench.tenant label (the peers), empty for others.
events_file="$work_dir/starts"
start_events() {
    docker events --filter type=container --filter event=start --format \
        '{{.TimeNano}} {{index .Actor.Attributes "minicloud.tenant"}}{{index .Actor.Attributes "bench.tenant"}} {{.Actor.Attributes.name}}' \
        >"$events_file" 2>"$work_dir/events.err" &
    events_pid=$!
    # The stream is live once it reports a start: run one throwaway container.
    local probe="$prefix-probe"
    docker run -d --rm --name "$probe" --label "bench.run=$run_id" --label "bench.tenant=$probe" \
        "$image" true >/dev/null
    wait_started 1 30 "$probe" >/dev/null || { log "the docker events stream does not work"; exit 1; }
}

# wait_started N TIMEOUT_S TENANT...: once N distinct containers of these tenants have started,
# prints the time (ns) of the last of their first starts; fails after TIMEOUT_S, or at once when
# the event stream has ended (the engine stopped or restarted: its starts would go unseen).
wait_started() {
    local n=$1 timeout=$2 result deadline
    shift 2
    deadline=$(($(now_ns) + timeout * 1000000000))
    while :; do
        result=$(awk -v n="$n" -v list="$*" '
            BEGIN { split(list, t, " "); for (i in t) want[t[i]] = 1; max = "" }
            ($2 in want) && !($3 in seen) {
                seen[$3] = 1; count++; time = $1 ""
                if (length(time) > length(max) || (length(time) == length(max) && time > max)) max = time
            }
            END { if (count >= n) print max }' "$events_file")
        if [ -n "$result" ]; then
            echo "$result"
            return 0
        fi
        if [ "$(now_ns)" -gt "$deadline" ]; then
            log "timed out: fewer than $n containers of $* started within ${timeout}s"
            return 1
        fi
        if ! kill -0 "$events_pid" 2>/dev/null; then
            log "the docker events stream ended (was the Docker Engine restarted?)" \
                "$(cat "$work_dir/events.err")"
            return 1
        fi
        sleep 0.05
    done
}

# first_of FILE TENANT...: the earliest time in FILE (the starts, or the Instances: then the first
# in phase Running) of these tenants.
first_of() {
    local file=$1
    shift
    awk -v list="$*" '
        BEGIN { split(list, t, " "); for (i in t) want[t[i]] = 1; min = "" }
        ($2 in want) && (NF == 3 || $4 == "Running") {
            time = $1 ""
            if (min == "" || length(time) < length(min) || (length(time) == length(min) && time < min)) min = time
        }
        END { print min }' "$file"
}

# --- minicloud ----------------------------------------------------------------------------------

mini=${CARGO_TARGET_DIR:-target}/release/mini

start_server() {
    local ingress=()
    # A server with an ingress proxy listens on 0.0.0.0:8080 unless told otherwise.
    if "$mini" server --help | grep -q -- --ingress-listen; then
        ingress=(--ingress-listen 127.0.0.1:0)
    fi
    "$mini" server --data-dir "$work_dir/data" --listen 127.0.0.1:0 --node-name "$node" \
        "${ingress[@]}" >"$work_dir/server.out" 2>"$work_dir/server.log" &
    server_pid=$!
    for _ in $(seq 1 200); do
        if grep -q '^minicloud API listening on ' "$work_dir/server.out" 2>/dev/null; then
            MINI_SERVER=$(sed -n 's/^minicloud API listening on //p' "$work_dir/server.out" | head -1)
            MINI_KEY=$(sed -n 's/^minicloud admin key .*: //p' "$work_dir/server.out" | head -1)
            export MINI_SERVER MINI_KEY
            log "mini server at $MINI_SERVER, node $node"
            return
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    log "mini server did not start; its log:"
    tail -20 "$work_dir/server.log" >&2
    exit 1
}

# Sets bulk_cpu from the allocatable cpu of this server's Node, once it has registered.
set_bulk_cpu() {
    local millis=""
    for _ in $(seq 1 200); do
        millis=$(curl -fsS -H "Authorization: Bearer $MINI_KEY" "$MINI_SERVER/api/v1/nodes/$node" 2>/dev/null | python3 -c '
import json, sys
cpu = json.load(sys.stdin)["status"]["allocatable"]["cpu"]
print(int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000))' 2>/dev/null) && break
        sleep 0.1
    done
    if [ -z "$millis" ]; then
        log "node $node did not register"
        exit 1
    fi
    bulk_cpu=$((millis / bulk_total))
    [ "$bulk_cpu" -gt "$single_cpu" ] && bulk_cpu=$single_cpu
    log "node $node has ${millis}m cpu allocatable: ${bulk_cpu}m for each of the $bulk_total containers"
}

# Lines "TIME_NS TENANT NAME PHASE" for every Instance event the API streams, stamped on receipt.
api_file="$work_dir/instances"
start_api_watch() {
    python3 -u - "$MINI_SERVER" "$MINI_KEY" >"$api_file" 2>"$work_dir/api-watch.err" <<'EOF' &
import http.client, json, sys, time, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port)
conn.request("GET", "/api/v1/instances?tenant=*&watch=true",
             headers={"Authorization": f"Bearer {sys.argv[2]}"})
response = conn.getresponse()
if response.status != 200:
    sys.exit(f"watch failed: {response.status} {response.read()[:200]!r}")
print("0 - - READY", flush=True)
while True:
    line = response.readline()
    if not line:
        break
    stamp = time.time_ns()
    event = json.loads(line)
    if event.get("type") not in ("ADDED", "MODIFIED"):
        continue
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    phase = (obj.get("status") or {}).get("phase", "Pending")
    print(stamp, meta.get("tenant", "-"), meta.get("name", "-"), phase, flush=True)
EOF
    api_watch_pid=$!
    for _ in $(seq 1 100); do
        grep -q READY "$api_file" 2>/dev/null && return
        sleep 0.05
    done
    log "the API watch did not start:"
    cat "$work_dir/api-watch.err" >&2
    exit 1
}

# wait_api_running N TIMEOUT_S TENANT...: once N Instances of these tenants have been seen in
# phase Running, prints the time (ns) the last of them first was; fails after TIMEOUT_S, or at
# once when the watch has ended.
wait_api_running() {
    local n=$1 timeout=$2 result deadline
    shift 2
    deadline=$(($(now_ns) + timeout * 1000000000))
    while :; do
        result=$(awk -v n="$n" -v list="$*" '
            BEGIN { split(list, t, " "); for (i in t) want[t[i]] = 1; max = "" }
            ($2 in want) && $4 == "Running" && !(($2 "/" $3) in seen) {
                seen[$2 "/" $3] = 1; count++; time = $1 ""
                if (length(time) > length(max) || (length(time) == length(max) && time > max)) max = time
            }
            END { if (count >= n) print max }' "$api_file")
        if [ -n "$result" ]; then
            echo "$result"
            return 0
        fi
        if [ "$(now_ns)" -gt "$deadline" ]; then
            log "timed out: fewer than $n Instances of $* Running within ${timeout}s"
            return 1
        fi
        if ! kill -0 "$api_watch_pid" 2>/dev/null; then
            log "the watch on the API ended: $(cat "$work_dir/api-watch.err")"
            return 1
        fi
        sleep 0.05
    done
}

# app_manifest TENANT APP REPLICAS MILLICORES: one App document.
app_manifest() {
    cat <<EOF
---
apiVersion: minicloud/v1
kind: App
metadata:
  name: $2
  tenant: $1
spec:
  image: $image
  replicas: $3
  command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
  resources:
    cpu: ${4}m
  ports:
    - name: http
      port: 8080
EOF
}

# The number of Instances in the API, all tenants.
instance_count() {
    curl -fsS -H "Authorization: Bearer $MINI_KEY" "$MINI_SERVER/api/v1/instances?tenant=*" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))'
}

# mini_remove TENANT APP...: deletes the apps and waits until their containers and the tenant
# network are gone.
mini_remove() {
    local tenant app deadline
    for spec in "$@"; do
        tenant=${spec%%/*} app=${spec#*/}
        "$mini" delete app "$app" -t "$tenant" >/dev/null
    done
    # Until the containers, the networks and the Instances (which the scheduler counts against
    # the node until they are gone) are.
    deadline=$(($(now_ns) + 300 * 1000000000))
    until [ -z "$(docker ps -aq --filter "label=minicloud.node=$node")" ] &&
        [ -z "$(docker network ls -q --filter "label=minicloud.node=$node")" ] &&
        [ "$(instance_count)" = 0 ]; do
        if [ "$(now_ns)" -gt "$deadline" ]; then
            log "minicloud did not remove its containers and Instances within 300 s"
            exit 1
        fi
        sleep 0.1
    done
}

# mini_one I: prints "DOCKER_MS API_MS" for one App of 1 replica in a fresh tenant.
mini_one() {
    local tenant="$prefix-m$1" app="one$1" t0 t_docker t_api
    app_manifest "$tenant" "$app" 1 "$single_cpu" >"$work_dir/one.yaml"
    t0=$(now_ns)
    "$mini" apply -f "$work_dir/one.yaml" >/dev/null
    t_docker=$(wait_started 1 120 "$tenant")
    t_api=$(wait_api_running 1 120 "$tenant")
    mini_remove "$tenant/$app"
    echo "$(ms_between "$t0" "$t_docker") $(ms_between "$t0" "$t_api")"
}

# mini_bulk: prints "DOCKER_MS API_MS" for one apply of 10 Apps × 10 replicas in 10 tenants.
mini_bulk() {
    local tenants=() apps=() t0 t_docker t_api tenant
    : >"$work_dir/bulk.yaml"
    for i in $(seq 0 $((bulk_tenants - 1))); do
        tenant="$prefix-mb$i"
        tenants+=("$tenant")
        apps+=("$tenant/web")
        app_manifest "$tenant" web "$bulk_replicas" "$bulk_cpu" >>"$work_dir/bulk.yaml"
    done
    t0=$(now_ns)
    "$mini" apply -f "$work_dir/bulk.yaml" >/dev/null
    t_docker=$(wait_started "$bulk_total" 900 "${tenants[@]}")
    t_api=$(wait_api_running "$bulk_total" 900 "${tenants[@]}")
    log "$bulk_total containers, minicloud: the first container started after" \
        "$(ms_between "$t0" "$(first_of "$events_file" "${tenants[@]}")") ms," \
        "the first Instance was Running in the API after" \
        "$(ms_between "$t0" "$(first_of "$api_file" "${tenants[@]}")") ms"
    mini_remove "${apps[@]}"
    echo "$(ms_between "$t0" "$t_docker") $(ms_between "$t0" "$t_api")"
}

# --- peer A: docker run -------------------------------------------------------------------------

# minicloud's container defaults (agent/src/container_config.rs, agent/src/runtime/docker.rs).
docker_run_flags=(
    --memory 128m --memory-swap 128m --pids-limit 256
    --cap-drop ALL --security-opt no-new-privileges --read-only
    --tmpfs /tmp:rw,noexec,nosuid,nodev,size=64m --init --user 65534:65534 --expose 8080
    --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 --restart always
)

# docker_tenant TENANT REPLICAS MILLICORES: a bridge network and REPLICAS containers, one after another.
docker_tenant() {
    local tenant=$1
    docker network create --label "bench.run=$run_id" "$tenant" >/dev/null
    for r in $(seq 1 "$2"); do
        docker run -d --name "$tenant-web-$r" --hostname "web-$r" \
            --label "bench.run=$run_id" --label "bench.tenant=$tenant" \
            --network "$tenant" --network-alias web --network-alias "web.$tenant.internal" \
            --cpus "$(cores "$3")" "${docker_run_flags[@]}" "$image" "${cmd[@]}" >/dev/null
    done
}

# docker_remove TENANT...: each tenant's containers one at a time (see remove_containers), the
# tenants side by side (each has its own network), then the networks.
docker_remove() {
    local tenant pids=()
    for tenant in "$@"; do
        # shellcheck disable=SC2046 # one id per word
        remove_containers $(docker ps -aq --filter "label=bench.tenant=$tenant") &
        pids+=($!)
    done
    wait "${pids[@]}"
    remove_networks "$@"
}

# docker_one I: prints the ms from `docker network create` until the container started.
docker_one() {
    local tenant="$prefix-d$1" t0 t
    t0=$(now_ns)
    docker_tenant "$tenant" 1 "$single_cpu"
    t=$(wait_started 1 60 "$tenant")
    docker_remove "$tenant"
    ms_between "$t0" "$t"
}

# docker_bulk seq|par: 10 tenants × 10 containers, one loop, or a loop per tenant.
docker_bulk() {
    local tenants=() t0 t pids=()
    for i in $(seq 0 $((bulk_tenants - 1))); do tenants+=("$prefix-d$1$i"); done
    t0=$(now_ns)
    for tenant in "${tenants[@]}"; do
        if [ "$1" = par ]; then
            docker_tenant "$tenant" "$bulk_replicas" "$bulk_cpu" &
            pids+=($!)
        else
            docker_tenant "$tenant" "$bulk_replicas" "$bulk_cpu"
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    t=$(wait_started "$bulk_total" 900 "${tenants[@]}")
    docker_remove "${tenants[@]}"
    ms_between "$t0" "$t"
}

# --- peer B: Docker Swarm -----------------------------------------------------------------------

# minicloud's defaults as far as `docker service create` (20.10) has them: no
# --security-opt no-new-privileges and no --memory-swap. --restart-condition none (nothing exits
# during the measurement) lets swarm_remove take the containers down one at a time.
swarm_flags=(
    --limit-memory 128m --limit-pids 256 --cap-drop ALL --read-only
    --mount type=tmpfs,destination=/tmp,tmpfs-size=67108864 --init --user 65534:65534
    --log-driver json-file --log-opt max-size=10m --log-opt max-file=3
    --restart-condition none
)

# swarm_tenant TENANT REPLICAS MILLICORES: an overlay network and a service of REPLICAS tasks.
swarm_tenant() {
    local tenant=$1
    docker network create --driver overlay --label "bench.run=$run_id" "$tenant" >/dev/null
    # --no-resolve-image: there is no registry; the node has the image.
    docker service create --detach --quiet --no-resolve-image --name "$tenant-web" \
        --replicas "$2" --network "name=$tenant,alias=web.$tenant.internal" \
        --label "bench.run=$run_id" --container-label "bench.run=$run_id" \
        --container-label "bench.tenant=$tenant" \
        --limit-cpu "$(cores "$3")" "${swarm_flags[@]}" "$image" "${cmd[@]}" >/dev/null
}

# swarm_remove TENANT...: the containers one at a time (see remove_containers: `docker service
# rm` removes them all at once, and leaked endpoints in docker_gwbridge), then the services.
swarm_remove() {
    local tenant
    # shellcheck disable=SC2046 # one id per word
    remove_containers $(docker ps -aq --filter "label=bench.run=$run_id")
    for tenant in "$@"; do docker service rm "$tenant-web" >/dev/null; done
    for _ in $(seq 1 1200); do
        [ -z "$(docker ps -aq --filter "label=bench.run=$run_id")" ] && break
        sleep 0.1
    done
    # An overlay network can be busy for a moment after its last task is gone.
    remove_networks "$@"
}

# swarm_leave: leaves the swarm once docker_gwbridge holds no endpoint but the ingress sandbox's
# (up to 30 s), so that leaving, which removes that endpoint, does not race the removal of the
# tasks' endpoints: on dockerd 20.10 endpoint removals racing on one network can leave its
# endpoint count stuck above 0 ("has active endpoints" until dockerd restarts).
swarm_leave() {
    for _ in $(seq 1 60); do
        [ "$(docker network inspect docker_gwbridge --format '{{len .Containers}}' 2>/dev/null ||
            echo 0)" -le 1 ] && break
        sleep 0.5
    done
    docker swarm leave --force >/dev/null
}

swarm_one() {
    local tenant="$prefix-s$1" t0 t
    t0=$(now_ns)
    swarm_tenant "$tenant" 1 "$single_cpu"
    t=$(wait_started 1 120 "$tenant")
    swarm_remove "$tenant"
    ms_between "$t0" "$t"
}

swarm_bulk() {
    local tenants=() t0 t
    for i in $(seq 0 $((bulk_tenants - 1))); do tenants+=("$prefix-sb$i"); done
    t0=$(now_ns)
    for tenant in "${tenants[@]}"; do swarm_tenant "$tenant" "$bulk_replicas" "$bulk_cpu"; done
    t=$(wait_started "$bulk_total" 900 "${tenants[@]}")
    swarm_remove "${tenants[@]}"
    ms_between "$t0" "$t"
}

# swarm_scale: 10 services of 0 replicas created beforehand (not timed), then one
# `docker service scale` of all of them to 10.
swarm_scale() {
    local tenants=() scales=() t0 t tenant
    for i in $(seq 0 $((bulk_tenants - 1))); do
        tenant="$prefix-sc$i"
        tenants+=("$tenant")
        scales+=("$tenant-web=$bulk_replicas")
        swarm_tenant "$tenant" 0 "$bulk_cpu"
    done
    t0=$(now_ns)
    docker service scale --detach "${scales[@]}" >/dev/null
    t=$(wait_started "$bulk_total" 900 "${tenants[@]}")
    swarm_remove "${tenants[@]}"
    ms_between "$t0" "$t"
}

# --- figures ------------------------------------------------------------------------------------

# summary MS...: "median ms (min–max)".
summary() {
    printf '%s\n' "$@" | sort -n | awk '
        { v[NR] = $1 }
        END {
            median = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%d ms (%d–%d)\n", median, v[1], v[NR]
        }'
}
seconds() { awk -v ms="$1" -v n="$bulk_total" 'BEGIN { printf "%.1f s (%.1f containers/s)", ms / 1000, n * 1000 / ms }'; }

# --- the run ------------------------------------------------------------------------------------

start_dockerd_if_needed
scripts/images.sh
if $build; then
    log "building mini (release)"
    cargo build --release --locked --bin mini
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

start_events
start_server
set_bulk_cpu
start_api_watch

log "warming up (not measured)"
mini_one 0 >/dev/null
docker_one 0 >/dev/null

mini_docker=() mini_api=() docker_single=()
for i in $(seq 1 "$repeats"); do
    result=$(mini_one "$i")
    read -r d a <<<"$result"
    mini_docker+=("$d") mini_api+=("$a")
    docker_single+=("$(docker_one "$i")")
    log "1 container, round $i: minicloud ${d} ms (API Running ${a} ms), docker run ${docker_single[-1]} ms"
done

log "$bulk_total containers: minicloud"
result=$(mini_bulk)
read -r mini_bulk_docker mini_bulk_api <<<"$result"
log "$bulk_total containers: minicloud ${mini_bulk_docker} ms (API Running ${mini_bulk_api} ms)"
log "$bulk_total containers: docker run, one loop"
docker_bulk_seq=$(docker_bulk seq)
log "$bulk_total containers: docker run, one loop: ${docker_bulk_seq} ms"
log "$bulk_total containers: docker run, one loop per tenant in parallel"
docker_bulk_par=$(docker_bulk par)
log "$bulk_total containers: docker run, parallel loops: ${docker_bulk_par} ms"

swarm_single=() swarm_bulk_ms="" swarm_scale_ms=""
swarm_state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$swarm_state" = inactive ]; then
    docker network inspect docker_gwbridge >/dev/null 2>&1 || gwbridge_existed=false
    swarm_joined=true # before init: a failed init may still have joined
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    log "swarm: warming up (not measured)"
    swarm_one 0 >/dev/null
    for i in $(seq 1 "$repeats"); do
        swarm_single+=("$(swarm_one "$i")")
        log "1 container, round $i: swarm ${swarm_single[-1]} ms"
    done
    log "$bulk_total containers: swarm"
    swarm_bulk_ms=$(swarm_bulk)
    log "$bulk_total containers: swarm ${swarm_bulk_ms} ms"
    log "$bulk_total containers: swarm, one \`docker service scale\` of existing services"
    swarm_scale_ms=$(swarm_scale)
    log "$bulk_total containers: swarm scale ${swarm_scale_ms} ms"
    swarm_leave
    swarm_joined=false
    $gwbridge_existed || remove_networks docker_gwbridge
    gwbridge_existed=true
else
    log "the engine is already in a swarm ($swarm_state): skipping the Swarm rows"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "Reconcile benchmark, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores," \
        "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
        "dockerd $(docker version --format '{{.Server.Version}}')," \
        "cgroup v$(docker info --format '{{.CgroupVersion}}');" \
        "minicloud $(git describe --always --dirty 2>/dev/null || echo unknown);" \
        "load average $load_before before, $load_after after."
    echo
    echo "| setup | 1 container (cpu ${single_cpu}m): median (min–max) of $repeats | $bulk_total containers ($bulk_tenants tenants × $bulk_replicas, cpu ${bulk_cpu}m each) |"
    echo "|---|---|---|"
    echo "| minicloud: \`mini apply\` → container started | $(summary "${mini_docker[@]}") | $(seconds "$mini_bulk_docker") |"
    echo "| minicloud: \`mini apply\` → every Instance Running in the API | $(summary "${mini_api[@]}") | $(seconds "$mini_bulk_api") |"
    echo "| peer A: \`docker network create\` + \`docker run -d\` loop | $(summary "${docker_single[@]}") | $(seconds "$docker_bulk_seq") |"
    echo "| peer A': the same, one loop per tenant, $bulk_tenants in parallel | — | $(seconds "$docker_bulk_par") |"
    if [ ${#swarm_single[@]} -gt 0 ]; then
        echo "| peer B: Docker Swarm, overlay network + \`docker service create\` | $(summary "${swarm_single[@]}") | $(seconds "$swarm_bulk_ms") |"
        echo "| peer B': Docker Swarm, one \`docker service scale\` of $bulk_tenants existing services 0 → $bulk_replicas | — | $(seconds "$swarm_scale_ms") |"
    else
        echo "| peer B: Docker Swarm | skipped | skipped |"
    fi
} | tee ${out_file:+"$out_file"}
