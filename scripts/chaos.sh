#!/usr/bin/env bash
# Chaos on real processes: faults injected with docker into the docker-compose deployment, and
# what RELIABILITY.md promises checked from the outside with etcdctl and curl.
#
#   scripts/chaos.sh stop-leader|disconnect-member|pause-webhook|kill-apiserver|all
#
#   stop-leader        docker stop the store's Raft leader while a writer puts keys; a new
#                      leader is elected, writes resume, and after the old leader restarts
#                      every acknowledged write is read back linearizably from each member
#   disconnect-member  docker network disconnect a follower while writes go on; after the
#                      reconnect it catches up (same revision and hashkv as the others)
#   pause-webhook      docker pause the validating webhook (failurePolicy Fail): a pod create
#                      is refused with kube's 500 within its timeoutSeconds; pause the mutating
#                      one (Ignore): the pod is admitted, without its label, within its timeout
#   kill-apiserver     docker kill apiserver-1 while pods are created through apiserver-2 and
#                      watched there: the watch delivers every create once; apiserver-1 comes back
#
# Each scenario prints its numbers and one line `[ok] <scenario>: …` or `[FAIL] <scenario>: …`;
# the script exits 1 if any failed. Every wait has a timeout, and each scenario's faults are
# undone by a trap (unpause, reconnect, start) however it ends. docs/chaos.md has the numbers.
#
# Against the compose project in the repo root (scripts/compose-up.sh) the defaults fit.
# Another project: set COMPOSE_FILE, COMPOSE_PROJECT and the endpoints below to match its
# published ports. KEEP=1 keeps the logs (writer history, watch stream, responses) in the
# work directory it names.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export LC_ALL=C

# The defaults follow docker-compose.yml's own variables (KUBESIM_STORE_1_PORT, …,
# KUBESIM_APISERVER_1_PORT, KUBESIM_DIR), so one set of them serves both.
COMPOSE_FILE=${COMPOSE_FILE:-$ROOT/docker-compose.yml}
# Empty: docker-compose's default (the directory's name).
COMPOSE_PROJECT=${COMPOSE_PROJECT:-${COMPOSE_PROJECT_NAME:-}}
STORE_ENDPOINTS=${STORE_ENDPOINTS:-127.0.0.1:${KUBESIM_STORE_1_PORT:-2379},127.0.0.1:${KUBESIM_STORE_2_PORT:-22379},127.0.0.1:${KUBESIM_STORE_3_PORT:-32379}}
KUBESIM_DIR=${KUBESIM_DIR:-$ROOT/kubesim-compose}
[[ $KUBESIM_DIR == /* ]] || KUBESIM_DIR=$ROOT/$KUBESIM_DIR # compose reads it relative to the repo
KUBECONFIG=${KUBECONFIG:-$KUBESIM_DIR/kubeconfig}
APISERVER_1=${APISERVER_1:-https://127.0.0.1:${KUBESIM_APISERVER_1_PORT:-6443}}
APISERVER_2=${APISERVER_2:-https://127.0.0.1:${KUBESIM_APISERVER_2_PORT:-6444}}
APISERVER_1_SERVICE=${APISERVER_1_SERVICE:-apiserver-1}
APISERVER_2_SERVICE=${APISERVER_2_SERVICE:-apiserver-2}
VALIDATING_WEBHOOK_SERVICE=${VALIDATING_WEBHOOK_SERVICE:-no-privileged}
MUTATING_WEBHOOK_SERVICE=${MUTATING_WEBHOOK_SERVICE:-label-injector}

# Bounds, in seconds unless named otherwise.
POLL_S=${POLL_S:-0.2}
DOCKER_TIMEOUT_S=${DOCKER_TIMEOUT_S:-60}
HEALTHY_TIMEOUT_S=${HEALTHY_TIMEOUT_S:-60}
ELECTION_TIMEOUT_S=${ELECTION_TIMEOUT_S:-30}
WRITES_TIMEOUT_S=${WRITES_TIMEOUT_S:-30}
CATCHUP_TIMEOUT_S=${CATCHUP_TIMEOUT_S:-60}
WRITER_STOP_TIMEOUT_S=${WRITER_STOP_TIMEOUT_S:-15}
STOP_GRACE_S=${STOP_GRACE_S:-10}        # docker stop's SIGTERM → SIGKILL grace
LEADER_FAULT=${LEADER_FAULT:-stop}      # stop-leader: stop (SIGTERM) or kill (SIGKILL)
WRITE_TIMEOUT_S=${WRITE_TIMEOUT_S:-1}   # the writer's --command-timeout: the pause's resolution
HOLD_S=${HOLD_S:-3}                     # writes go on this long in each phase
DISCONNECT_S=${DISCONNECT_S:-8}         # how long the follower stays cut off
WARMUP_PUTS=${WARMUP_PUTS:-20}          # acknowledged writes before the fault
RESUME_PUTS=${RESUME_PUTS:-10}          # acknowledged writes after it that prove progress
WRITER_MAX_PUTS=${WRITER_MAX_PUTS:-100000}
WEBHOOK_MARGIN_S=${WEBHOOK_MARGIN_S:-2} # a refused/admitted create may take timeoutSeconds + this
REQUEST_TIMEOUT_S=${REQUEST_TIMEOUT_S:-70} # curl's bound on one API request (kube's is 60s)
PODS=${PODS:-60}                        # pods created in kill-apiserver
KILL_AFTER=${KILL_AFTER:-20}            # ... apiserver-1 is killed after this many
CREATE_INTERVAL_S=${CREATE_INTERVAL_S:-0.05}
WATCH_TIMEOUT_S=${WATCH_TIMEOUT_S:-30}  # for the watch to deliver the last create
READY_TIMEOUT_S=${READY_TIMEOUT_S:-60}  # for a restarted API server to serve

SCENARIOS=(stop-leader disconnect-member pause-webhook kill-apiserver)
CHECK=$ROOT/scripts/lib/chaos_check.py
RUN_ID=$(date -u +%H%M%S)-$$

# shellcheck source=scripts/lib/chaos-common.sh
source "$ROOT/scripts/lib/chaos-common.sh"
# shellcheck source=scripts/lib/chaos-store.sh
source "$ROOT/scripts/lib/chaos-store.sh"
# shellcheck source=scripts/lib/chaos-api.sh
source "$ROOT/scripts/lib/chaos-api.sh"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

require() {
    local tool
    for tool in docker docker-compose etcdctl curl python3 timeout; do
        command -v "$tool" >/dev/null || { echo "chaos.sh needs $tool on PATH" >&2; exit 2; }
    done
}

# One scenario in its own subshell: its own trap, cleanup stack and background pids; its
# status in SCENARIO_STATUS. Never call this in a condition (`if`, `||`): bash would then
# ignore set -e inside the scenario too. set -e is off around the subshell only.
run_scenario() {
    SCENARIO=$1
    VERDICT_FILE=$WORK/verdict-$1
    set +e
    (
        set -euo pipefail
        trap run_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        log "start (run $RUN_ID)"
        "scenario_${SCENARIO//-/_}"
    )
    SCENARIO_STATUS=$?
    set -e
}

main() {
    (($# == 1)) || usage
    local selected=() name failed=()
    case $1 in
    all) selected=("${SCENARIOS[@]}") ;;
    stop-leader | disconnect-member | pause-webhook | kill-apiserver) selected=("$1") ;;
    *) usage ;;
    esac
    require
    [[ $LEADER_FAULT == stop || $LEADER_FAULT == kill ]] || { echo "LEADER_FAULT: stop or kill" >&2; exit 2; }
    ((KILL_AFTER < PODS)) || { echo "KILL_AFTER must be below PODS" >&2; exit 2; }
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/chaos.XXXXXX")
    trap 'if [[ ${KEEP:-0} == 1 ]]; then echo "chaos: kept $WORK" >&2; else rm -rf "$WORK"; fi' EXIT
    for name in "${selected[@]}"; do
        run_scenario "$name"
        ((SCENARIO_STATUS == 0)) || failed+=("$name")
    done
    if ((${#failed[@]})); then
        echo "chaos: ${#failed[@]} of ${#selected[@]} failed: ${failed[*]}" >&2
        exit 1
    fi
    echo "chaos: all ${#selected[@]} passed" >&2
}

main "$@"
