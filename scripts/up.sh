#!/usr/bin/env bash
# Runs minicloud on this machine: installs what is missing (as root on Debian), starts the Docker
# Engine when it is not running (it keeps running afterwards, logging to
# ${TMPDIR:-/tmp}/minicloud-dockerd.log), builds the example image, and runs the all-in-one
# server in the foreground. Arguments go to `mini server`.
#
#   scripts/up.sh [--data-dir DIR] [--listen ADDR] ...
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
if ! docker info >/dev/null 2>&1; then
    log="${TMPDIR:-/tmp}/minicloud-dockerd.log"
    setsid dockerd >>"$log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { echo "up: dockerd did not start; see $log" >&2; exit 1; }
    echo "up: started dockerd (log: $log)"
fi
scripts/images.sh
exec cargo run --release --locked --bin mini -- server "$@"
