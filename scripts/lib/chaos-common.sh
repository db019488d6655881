# What every chaos scenario shares (sourced by scripts/chaos.sh, not run).
#
#   log MSG / fail MSG      a timestamped line on stderr / the scenario's [FAIL] line, then exit 1
#   ok MSG                  the scenario's [ok] line
#   now_ms                  wall-clock milliseconds in REPLY (no fork: EPOCHREALTIME)
#   secs MS                 milliseconds as seconds with 3 decimals
#   wait_until S DESC CMD…  runs CMD every POLL_S until it succeeds; fails after S seconds
#   dc ARGS…                docker-compose with the scenario's file and project, bounded
#   container SERVICE       the id of the service's container (stopped ones too) in REPLY
#   on_cleanup CMD…         pushes a command that the EXIT trap runs, newest first, each bounded
#   spawn VAR CMD…          runs CMD in the background, its pid in VAR; the EXIT trap stops it
#   spawn_fault VAR CMD…    runs a (bounded) docker fault in the background; the EXIT trap
#                           waits for it before undoing faults
#   exited_ms CONTAINER     when the container's process exited (docker's FinishedAt), in REPLY
#
# Each scenario runs in its own subshell (scripts/chaos.sh), so its trap, cleanup stack and
# background pids are its own, and a failing scenario cannot leave a paused or disconnected
# container behind for the next one.

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${SCENARIO:-chaos}" "$*" >&2; }

# The verdict lines are the script's interface (CI greps for them): one per scenario.
ok() {
    printf '[ok] %s: %s\n' "$SCENARIO" "$*"
    : >"$VERDICT_FILE"
}

fail() {
    printf '[FAIL] %s: %s\n' "$SCENARIO" "$*"
    : >"$VERDICT_FILE"
    exit 1
}

now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    REPLY=$((t / 1000))
}

secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

wait_until() {
    local limit_s=$1 desc=$2 start
    shift 2
    now_ms
    start=$REPLY
    until "$@"; do
        now_ms
        if ((REPLY - start > limit_s * 1000)); then
            fail "timed out after ${limit_s}s waiting for $desc"
        fi
        sleep "$POLL_S"
    done
}

dc() {
    local project=()
    [[ -n $COMPOSE_PROJECT ]] && project=(-p "$COMPOSE_PROJECT")
    timeout "$DOCKER_TIMEOUT_S" docker-compose "${project[@]}" -f "$COMPOSE_FILE" "$@"
}

# Containers are found through docker-compose, never by guessing names: the project name is
# the directory's in CI and kubesim-chaos (or anything) when testing beside it.
container() {
    REPLY=$(dc ps -a -q "$1" 2>/dev/null | head -n 1) || true
    [[ -n $REPLY ]] || fail "no container for service $1 (is the compose project up? COMPOSE_PROJECT=$COMPOSE_PROJECT)"
}

docker_() { timeout "$DOCKER_TIMEOUT_S" docker "$@"; }

running() { [[ $(docker_ inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }

CLEANUPS=()
BACKGROUND_PIDS=()

on_cleanup() {
    local quoted
    printf -v quoted '%q ' "$@"
    CLEANUPS+=("$quoted")
}

# stdout is for verdict lines only: a background job's (docker stop prints the id) is dropped.
spawn() {
    local var=$1
    shift
    "$@" >/dev/null &
    BACKGROUND_PIDS+=($!)
    printf -v "$var" '%s' "$!"
}

# Killing the docker client does not cancel what it asked the daemon to do: a `docker stop`
# still running when the trap starts the container again would stop it after the start.
FAULT_PIDS=()

spawn_fault() {
    local var=$1
    shift
    "$@" >/dev/null &
    FAULT_PIDS+=($!)
    printf -v "$var" '%s' "$!"
}

# Stops what this scenario started, by pid, lets faults in flight finish (each is bounded
# by DOCKER_TIMEOUT_S), then undoes them (unpause, reconnect, start) newest first. Runs on
# every exit of the scenario's subshell, failed or not.
run_cleanup() {
    local status=$? pid i
    trap - EXIT
    for pid in "${BACKGROUND_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BACKGROUND_PIDS[@]}" "${FAULT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        log "cleanup: ${CLEANUPS[i]}"
        eval "timeout $DOCKER_TIMEOUT_S ${CLEANUPS[i]}" >/dev/null 2>&1 ||
            log "cleanup step failed: ${CLEANUPS[i]}"
    done
    if [[ ! -e $VERDICT_FILE ]]; then
        printf '[FAIL] %s: stopped with status %d before a verdict (see the log above)\n' \
            "$SCENARIO" "$status"
        status=1
    fi
    exit "$status"
}

exited_ms() {
    local at
    at=$(docker_ inspect -f '{{.State.FinishedAt}}' "$1") || fail "docker inspect $1 failed"
    REPLY=$(python3 "$CHECK" epoch-ms "$at") || fail "FinishedAt $at: $REPLY"
}
