#!/usr/bin/env bash
# Runs minicloud's benchmarks (release builds) with the peers they are compared against, started
# here on loopback: the watch fan-out of the API server beside etcd's own.
#
#   scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
source scripts/lib.sh
start_etcd

cargo bench --locked -p minicloud-apiserver --bench watch_fanout
