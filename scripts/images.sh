#!/usr/bin/env bash
# Builds the images the examples and tests use, offline: no registry is needed. Each image is
# `FROM scratch` plus Debian's static busybox; an image that already exists is left alone unless
# --rebuild is given.
#
#   scripts/images.sh [--rebuild]
set -euo pipefail
cd "$(dirname "$0")/.."

rebuild=false
[ "${1:-}" = "--rebuild" ] && rebuild=true

build() {
    local tag=$1 context=$2
    if ! $rebuild && docker image inspect "$tag" >/dev/null 2>&1; then
        return
    fi
    local dir
    dir=$(mktemp -d)
    cp -r "$context"/. "$dir"/
    cp /bin/busybox "$dir/busybox"
    # The legacy builder: dockerd 20.10 here has no BuildKit front end; its notice is noise.
    if ! DOCKER_BUILDKIT=0 docker build --quiet --tag "$tag" "$dir" >"$dir.log" 2>&1; then
        cat "$dir.log" >&2
        exit 1
    fi
    rm -rf "$dir" "$dir.log"
    echo "images: built $tag"
}

build hello:1 examples/hello
