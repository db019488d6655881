#!/usr/bin/env bash
# CI check of kubesim as separate containers (docker-compose.yml), with real kubectl:
#   1. builds the image (scripts/docker-image.sh) and prints its size;
#   2. starts the deployment under its own project name, ports and certs folder, and prints
#      the time from `docker-compose up` to both API servers ready;
#   3. a configmap created through apiserver-1 is read through apiserver-2;
#   4. a watch through apiserver-2 sees a create done through apiserver-1;
#   5. the webhooks over TLS: a pod gets label-injector's label, a privileged pod is denied
#      by no-privileged (failurePolicy Fail); the authz service answers for jane;
#   6. `kubesim demo` (the compose `demo` profile) passes its nine steps;
#   7. `docker-compose restart` keeps every object (read back through apiserver-2);
# and tears everything down (`down -v`, the certs folder) on exit, whatever happened.
# Every wait is bounded.
#
# Usage: scripts/compose-check.sh      (SKIP_BUILD=1: use the kubesim:dev image as it is)
# Environment: CHECK_APISERVER_1_PORT=36443 CHECK_APISERVER_2_PORT=36444
#   CHECK_STORE_PORT_BASE=42379 (+0, +1, +2): host ports, away from a `kubesim up` on 6443.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "[compose-check] $*" >&2; }
die() { log "FAIL: $*"; exit 1; }
# shellcheck source=scripts/lib/compose.sh
source "$ROOT/scripts/lib/compose.sh"

WATCH_TIMEOUT_S=30
RESTART_TIMEOUT_S=180
NS=default

export COMPOSE_PROJECT_NAME=kubesim-check
export KUBESIM_APISERVER_1_PORT=${CHECK_APISERVER_1_PORT:-36443}
export KUBESIM_APISERVER_2_PORT=${CHECK_APISERVER_2_PORT:-36444}
store_base=${CHECK_STORE_PORT_BASE:-42379}
export KUBESIM_STORE_1_PORT=$store_base
export KUBESIM_STORE_2_PORT=$((store_base + 1))
export KUBESIM_STORE_3_PORT=$((store_base + 2))
KUBESIM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kubesim-compose-check.XXXXXX")
export KUBESIM_DIR
WATCH_PID=""

cleanup() {
    local status=$?
    if [[ -n $WATCH_PID ]]; then
        kill "$WATCH_PID" 2>/dev/null || true
    fi
    if ((status != 0)); then
        log "logs of the deployment (last 30 lines each):"
        compose logs --no-color --tail 30 >&2 || true
    fi
    compose down -v --remove-orphans >/dev/null 2>&1 || log "docker-compose down failed"
    rm -rf "$KUBESIM_DIR"
    exit "$status"
}
trap cleanup EXIT

k1() { kubectl_at "$KUBESIM_APISERVER_1_PORT" "$@"; }
k2() { kubectl_at "$KUBESIM_APISERVER_2_PORT" "$@"; }

# expect_eq WHAT GOT WANT
expect_eq() {
    [[ $2 == "$3" ]] || die "$1: got '$2', want '$3'"
    log "ok: $1 = '$3'"
}

# --- build and start ------------------------------------------------------------------

[[ ${SKIP_BUILD:-} == 1 ]] || scripts/docker-image.sh
image_bytes=$(docker image inspect -f '{{.Size}}' kubesim:dev)
compose_env
started_ms=$(now_ms)
compose up -d 2>&1 | sed 's/^/  /' >&2
wait_deployment
ready_s=$(seconds_since "$started_ms")
log "both API servers ready ${ready_s}s after docker-compose up"

# --- two replicas over one store ------------------------------------------------------

k1 create configmap compose-check -n "$NS" --from-literal=written-through=apiserver-1 >/dev/null
expect_eq "configmap read through apiserver-2" \
    "$(k2 get configmap compose-check -n "$NS" -o jsonpath='{.data.written-through}')" apiserver-1

# The watch lists first (so compose-check shows once it is established), then streams.
watch_out="$KUBESIM_DIR/watch.out"
timeout "$WATCH_TIMEOUT_S" kubectl --kubeconfig "$KUBESIM_DIR/kubeconfig" --context kubesim \
    --server "https://127.0.0.1:$KUBESIM_APISERVER_2_PORT" \
    get configmaps -n "$NS" --watch -o name >"$watch_out" 2>&1 &
WATCH_PID=$!
deadline=$((SECONDS + WATCH_TIMEOUT_S))
until grep -qx 'configmap/compose-check' "$watch_out"; do
    ((SECONDS < deadline)) || die "the watch through apiserver-2 never listed: $(cat "$watch_out")"
    sleep 0.2
done
watch_started_ms=$(now_ms)
k1 create configmap compose-check-watched -n "$NS" --from-literal=a=b >/dev/null
until grep -qx 'configmap/compose-check-watched' "$watch_out"; do
    ((SECONDS < deadline)) || die "the watch through apiserver-2 did not see the create through apiserver-1: $(cat "$watch_out")"
    sleep 0.05
done
watch_s=$(seconds_since "$watch_started_ms")
log "ok: the watch through apiserver-2 saw the create through apiserver-1 (${watch_s}s)"
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=""

# --- webhooks (TLS, by container name) and the authz service ------------------------

k2 run compose-check-pod -n "$NS" --image=registry.k8s.io/pause:3.10 --restart=Never >/dev/null
expect_eq "label-injector's label on a pod created through apiserver-2" \
    "$(k1 get pod compose-check-pod -n "$NS" -o jsonpath='{.metadata.labels.managed-by}')" kubesim
privileged='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"compose-check-privileged"},
  "spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10",
  "securityContext":{"privileged":true}}]}}'
if denial=$(echo "$privileged" | k1 create -n "$NS" -f - 2>&1); then
    die "a privileged pod was admitted"
fi
[[ $denial == *no-privileged.kubesim.io* ]] || die "a privileged pod was refused, but not by no-privileged: $denial"
log "ok: no-privileged denied a privileged pod: $denial"
expect_eq "jane may create deployments in dev (RBAC, by the authz service)" \
    "$(k1 --context jane@kubesim auth can-i create deployments -n dev 2>&1 || true)" yes
expect_eq "jane may not create deployments in production" \
    "$(k1 --context jane@kubesim auth can-i create deployments -n production 2>&1 || true)" no

# --- the guided demo, as a newcomer runs it ------------------------------------------

demo_out=$(compose --profile demo run --rm -T demo 2>&1) || die "kubesim demo failed:
$demo_out"
for line in \
    "[ok] step 1: a ServiceAccount token was authenticated as its ServiceAccount" \
    "[ok] step 2: RBAC allowed and denied the seed identities as their bindings say" \
    "[ok] step 3: a bad token got 401 Unauthorized, an authenticated user without a rule got 403 Forbidden" \
    "[ok] step 5: label-injector added" \
    "[ok] step 6: the watch delivered ADDED for the pod at its resourceVersion" \
    "[ok] step 8: no-privileged refused the privileged pod (403 Forbidden)" \
    "[ok] step 9: an update with a stale resourceVersion got 409 Conflict" \
    "[ok] demo finished: 9 steps passed"; do
    grep -qF "$line" <<<"$demo_out" || die "the demo's output lacks '$line':
$demo_out"
done
log "ok: kubesim demo passed its 9 steps through apiserver-1"

# --- restart keeps every object ------------------------------------------------------

seed_before=$(seed_finished_at)
restart_ms=$(now_ms)
timeout "$RESTART_TIMEOUT_S" docker-compose restart 2>&1 | sed 's/^/  /' >&2
wait_deployment "$seed_before"
restart_s=$(seconds_since "$restart_ms")
log "both API servers ready ${restart_s}s after docker-compose restart"
expect_eq "configmap after restart, through apiserver-2" \
    "$(k2 get configmap compose-check -n "$NS" -o jsonpath='{.data.written-through}')" apiserver-1
expect_eq "watched configmap after restart, through apiserver-1" \
    "$(k1 get configmap compose-check-watched -n "$NS" -o jsonpath='{.data.a}')" b
expect_eq "pod after restart, through apiserver-2" \
    "$(k2 get pod compose-check-pod -n "$NS" -o jsonpath='{.metadata.labels.managed-by}')" kubesim

cat <<EOT
compose-check: PASS
  image kubesim:dev size: $image_bytes bytes ($((image_bytes / 1024 / 1024)) MiB)
  docker-compose up -> both API servers ready: ${ready_s}s
  watch through apiserver-2 saw a create through apiserver-1 after: ${watch_s}s
  docker-compose restart -> both API servers ready: ${restart_s}s
EOT
