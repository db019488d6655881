#!/usr/bin/env bash
# Builds the `kubesim:dev` image used by docker-compose.yml: a statically linked kubesim in a
# FROM scratch image (no image is pulled). Then: docker-compose up -d, or the one command that
# does both and waits for the API servers: scripts/compose-up.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
# crt-static links glibc statically. Name resolution, measured (glibc 2.36, Debian 12, Docker
# 20.10, 2026-11): every kubesim dial (tokio's lookup_host, tonic, hyper) goes through
# getaddrinfo, and in the static binary inside the FROM scratch image it resolves container
# names and network aliases (through the /etc/resolv.conf Docker mounts, its DNS at
# 127.0.0.11) in 0.2-0.6 ms, and localhost (the /etc/hosts Docker mounts); unknown names fail
# at once with "Name or service not known". No NSS module is loaded from the empty image:
# since glibc 2.34 `files` and `dns` are built into libc, and with no /etc/nsswitch.conf it
# uses them. So no resolver of our own (hickory) is needed. scripts/compose-check.sh
# exercises it: the API servers reach store-1 and authz, the seed apiserver-1, the API
# servers the webhooks, all by name. (A glibc before 2.34 would need NSS's shared modules at
# run time; a musl target would be the way out then.)
# Its own target directory: nothing is shared with a plain `cargo build --release` anyway
# (crt-static changes every crate, and with --target the build scripts and proc-macros get
# no RUSTFLAGS, where a plain build gives them .cargo's --cfg tokio_unstable), and in one
# target directory each build waits for the other's lock.
target_dir=${KUBESIM_IMAGE_TARGET_DIR:-target/image}
RUSTFLAGS="--cfg tokio_unstable -C target-feature=+crt-static" CARGO_TARGET_DIR="$target_dir" \
    cargo build --release -p kubesim --target "$target"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$target_dir/$target/release/kubesim" "$ctx/kubesim"
# The release profile's line tables are three quarters of the binary (162 MB -> 38 MB
# without them); a backtrace still names each function. KUBESIM_IMAGE_DEBUG=1 keeps them.
if [[ ${KUBESIM_IMAGE_DEBUG:-} != 1 ]] && command -v strip >/dev/null; then
    strip --strip-debug "$ctx/kubesim"
fi
cp docker/Dockerfile "$ctx/Dockerfile"
docker build -q -t kubesim:dev "$ctx"
echo "built kubesim:dev; start it with: docker-compose up -d"
