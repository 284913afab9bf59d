#!/usr/bin/env bash
# Runs minicloud's benchmarks (release builds) with the peers they are compared against, started
# here on loopback: the watch fan-out of the API server beside etcd's own; the write path (a
# create through authentication, quota accounting and the audit log) beside a bare etcd
# transaction; the reconcile benchmark (apply → running containers) beside `docker run` and
# Docker Swarm on the local Docker Engine (scripts/bench-reconcile.sh); then the ingress proxy
# beside nginx in front of the same container, with wrk (scripts/bench-ingress.sh); then
# snapshot and restore of a 1 GiB volume beside tar | zstd (scripts/bench-snapshot.sh); then the
# agent's cost of sampling 100 instances beside `docker stats` (scripts/bench-metrics.sh). Each prints
# its tables; BENCHMARKS.md says how to read them.
#
#   scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
source scripts/lib.sh
start_etcd
start_dockerd_if_needed

cargo bench --locked -p minicloud-apiserver --bench watch_fanout
cargo bench --locked -p minicloud-apiserver --bench writes
scripts/bench-reconcile.sh
scripts/bench-ingress.sh
scripts/bench-snapshot.sh
scripts/bench-metrics.sh --no-build
