#!/usr/bin/env bash
# Snapshot and restore throughput of the agent on a real 1 GiB volume of mixed files, beside
# `tar | zstd -T0 -3` and `zstd -d -T0 | tar -x` on the same data, as a markdown table.
# Needs root, loop devices, mkfs.ext4, fsfreeze, tar and zstd (scripts/deps.sh). Scratch space
# goes under $BENCH_DIR (default /var/tmp; about 2.5 GB at the peak).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -q -p minicloud-agent --bench snapshot
