#!/usr/bin/env bash
# Builds the `kubesim:dev` image used by docker-compose.yml: a statically linked kubesim in a
# FROM scratch image (no image is pulled). Then: docker-compose up -d
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
# crt-static links glibc statically. Container names are resolved through glibc's built-in
# `files` and `dns` lookups (no NSS modules are loaded from the empty image).
RUSTFLAGS="--cfg tokio_unstable -C target-feature=+crt-static" \
    cargo build --release -p kubesim --target "$target"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "target/$target/release/kubesim" "$ctx/kubesim"
cp docker/Dockerfile "$ctx/Dockerfile"
docker build -q -t kubesim:dev "$ctx"
echo "built kubesim:dev; start it with: docker-compose up -d"
