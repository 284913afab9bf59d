#!/usr/bin/env bash
# Installs what minicloud needs on a Debian machine and is missing: python3 and git (the gate
# and `mini server`'s data-directory check), protoc and its well-known types (etcd-client's
# build), etcd, the Docker Engine, the static busybox that example and test images are built
# from, the ext4 and loop-device tools volumes are made of, cargo-nextest, and moto's S3
# server for the snapshot-store tests. Safe to run repeatedly; does nothing when
# everything is present.
set -euo pipefail

missing=()
command -v curl >/dev/null || missing+=(curl)
# The gate's import-circle check and the scripts' free-port helper.
command -v python3 >/dev/null || missing+=(python3)
# `mini server` asks git whether its data directory would be committed.
command -v git >/dev/null || missing+=(git)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/*.proto), which etcd-client's protos import.
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v dockerd >/dev/null || missing+=(docker.io)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
# Volumes: sparse ext4 images (mkfs.ext4, resize2fs) on loop devices (losetup, fsfreeze); zstd
# for the snapshot benchmark's baseline.
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v fsfreeze >/dev/null || missing+=(util-linux)
command -v zstd >/dev/null || missing+=(zstd)

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing ${missing[*]}; run as root or install them: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "deps: installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

# The S3-compatible server the agent's snapshot-store tests run against (moto's, from PyPI),
# in its own virtualenv so the system Python stays untouched.
moto_venv=/opt/minicloud/moto-venv
if [ ! -x "$moto_venv/bin/moto_server" ]; then
    echo "deps: installing moto's S3 server into $moto_venv"
    if ! python3 -m venv "$moto_venv" >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "deps: python3-venv is missing; run as root or install it: apt-get install python3-venv" >&2
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        python3 -m venv "$moto_venv"
    fi
    "$moto_venv/bin/pip" install --quiet 'moto[server]'
fi
