#!/usr/bin/env bash
# minicloud's whole gate, from a fresh Debian machine: installs what is missing, starts a
# private etcd on a loopback port (and dockerd when it is not running), checks that no file of a
# crate imports its way back to itself, runs rustfmt, clippy and every test with nextest, and
# stops what it started — also when a step fails.
#
#   scripts/test.sh [extra nextest arguments, e.g. a test filter]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
source scripts/lib.sh
start_etcd
start_dockerd_if_needed
scripts/images.sh

echo "test: no import circles between files"
python3 scripts/import-cycles.py --check
echo "test: cargo fmt --check"
cargo fmt --all --check
echo "test: cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "test: cargo nextest run"
cargo nextest run --workspace --locked --no-fail-fast "$@"
