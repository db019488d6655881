#!/usr/bin/env bash
# One command for kubesim as separate containers (docker-compose.yml): builds the static
# binary and the `kubesim:dev` image (scripts/docker-image.sh), starts the deployment
# (`docker-compose up -d`: certs, three store members, authz, two webhooks, two API servers,
# seed), waits until the seed is done and both API servers answer /readyz, and prints the
# KUBECONFIG line and the time from `up` to ready.
#
# Usage: scripts/compose-up.sh
# Environment: SKIP_BUILD=1 uses the kubesim:dev image as it is; the KUBESIM_* variables of
# docker-compose.yml (ports, KUBESIM_DIR) and the bounds of scripts/lib/compose.sh.
# Afterwards: docker-compose logs -f | restart | down (keeps the store's volumes and the
# certs folder; `down -v` drops the volumes, `rm -rf kubesim-compose` the certs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "[compose-up] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/compose.sh
source "$ROOT/scripts/lib/compose.sh"

command -v docker-compose >/dev/null || die "docker-compose is not installed"
command -v kubectl >/dev/null || die "kubectl is not installed (the readiness check uses it)"
[[ ${SKIP_BUILD:-} == 1 ]] || scripts/docker-image.sh
compose_env

started_ms=$(now_ms)
log "docker-compose up -d (certs first; the others start once it has finished)"
compose up -d
wait_deployment
ready_s=$(seconds_since "$started_ms")

compose ps
cat <<EOT

kubesim is up as separate containers: from 'docker-compose up' to both API servers ready in ${ready_s}s.
  apiserver-1  https://127.0.0.1:$KUBESIM_APISERVER_1_PORT   apiserver-2  https://127.0.0.1:$KUBESIM_APISERVER_2_PORT

for kubectl (contexts kubesim, jane@kubesim, deploy-bot@kubesim; apiserver-1):
  export KUBECONFIG=$KUBESIM_DIR/kubeconfig
  kubectl get namespaces
  kubectl --server https://127.0.0.1:$KUBESIM_APISERVER_2_PORT get namespaces   # the other replica
EOT
