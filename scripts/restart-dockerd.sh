#!/usr/bin/env bash
# Restarts the running dockerd with the command line it was started with, and waits until the
# engine answers again. The reconcile tests use it to check that minicloud converges after the
# engine restarts (as after a host reboot or an engine upgrade).
set -euo pipefail

pid=$(pgrep -x -o dockerd) || { echo "restart-dockerd: dockerd is not running" >&2; exit 1; }
mapfile -d '' command </proc/"$pid"/cmdline
kill -TERM "$pid"
for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
    echo "restart-dockerd: dockerd ($pid) did not stop within 30 s" >&2
    exit 1
fi
setsid "${command[@]}" >>"${TMPDIR:-/tmp}/dockerd-restarted.log" 2>&1 </dev/null &
for _ in $(seq 1 150); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 0.2
done
echo "restart-dockerd: dockerd did not answer within 30 s; see ${TMPDIR:-/tmp}/dockerd-restarted.log" >&2
exit 1
