# Helpers for scripts/compose-up.sh and scripts/compose-check.sh: the compose deployment's
# environment, bounded docker-compose calls, and bounded waits for the seed one-shot and the
# API servers' /readyz. Sourced from the repository root; the caller sets `log` and `die`.
#
# Environment (docker-compose.yml reads the KUBESIM_* ones; defaults as there):
#   KUBESIM_DIR                    the certs, keys and kubeconfigs on the host
#   KUBESIM_APISERVER_1_PORT=6443  KUBESIM_APISERVER_2_PORT=6444
#   COMPOSE_CALL_TIMEOUT_S=300     bound on each docker-compose call (up -d waits for certs)
#   READY_TIMEOUT_S=180            bound on each wait for the seed and for /readyz

COMPOSE_CALL_TIMEOUT_S=${COMPOSE_CALL_TIMEOUT_S:-300}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-180}
POLL_S=0.5

# compose_env: exports what docker-compose.yml reads, with the host's user owning the files
# the certs and seed services write (keys are 0600: root-owned ones would be unreadable).
compose_env() {
    export KUBESIM_DIR=${KUBESIM_DIR:-$PWD/kubesim-compose}
    export KUBESIM_APISERVER_1_PORT=${KUBESIM_APISERVER_1_PORT:-6443}
    export KUBESIM_APISERVER_2_PORT=${KUBESIM_APISERVER_2_PORT:-6444}
    KUBESIM_UID=$(id -u)
    KUBESIM_GID=$(id -g)
    export KUBESIM_UID KUBESIM_GID
    # Made here, by this user: a folder docker makes for a bind mount belongs to root.
    mkdir -p "$KUBESIM_DIR"
}

# compose ARGS...: docker-compose, bounded.
compose() {
    timeout "$COMPOSE_CALL_TIMEOUT_S" docker-compose "$@"
}

now_ms() { date +%s%3N; }

# seconds_since MS: the time since a now_ms, as seconds with a decimal.
seconds_since() {
    local elapsed_ms=$(($(now_ms) - $1))
    printf '%d.%03d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
}

# seed_finished_at: when the seed container last exited ("" while it never has), or "none".
seed_finished_at() {
    local id
    id=$(compose ps -q seed 2>/dev/null || true)
    [[ -n $id ]] || { echo none; return; }
    docker inspect -f '{{.State.FinishedAt}}' "$id"
}

# wait_seeded [AFTER]: waits until the seed one-shot has exited, and exited since AFTER (a
# seed_finished_at value) when given; fails with its logs if it exited non-zero.
wait_seeded() {
    local after=${1:-} deadline=$((SECONDS + READY_TIMEOUT_S)) id state
    while :; do
        id=$(compose ps -q seed 2>/dev/null || true)
        if [[ -n $id ]]; then
            state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}' "$id")
            read -r status code finished <<<"$state"
            if [[ $status == exited && $finished != "$after" ]]; then
                if [[ $code != 0 ]]; then
                    compose logs --no-color seed >&2 || true
                    die "the seed service exited with $code"
                fi
                return 0
            fi
        fi
        ((SECONDS < deadline)) || die "the seed service did not finish within ${READY_TIMEOUT_S}s"
        sleep "$POLL_S"
    done
}

# kubectl_at PORT ARGS...: kubectl as the admin, through the API server published on PORT.
kubectl_at() {
    local port=$1
    shift
    kubectl --kubeconfig "$KUBESIM_DIR/kubeconfig" --context kubesim \
        --server "https://127.0.0.1:$port" --request-timeout=10s "$@"
}

# wait_ready PORT: until that API server's /readyz answers ok (its store and watch caches).
wait_ready() {
    local port=$1 deadline=$((SECONDS + READY_TIMEOUT_S))
    until [[ $(kubectl_at "$port" get --raw /readyz 2>/dev/null) == ok ]]; do
        ((SECONDS < deadline)) || die "127.0.0.1:$port /readyz not ok within ${READY_TIMEOUT_S}s"
        sleep "$POLL_S"
    done
}

# wait_deployment [SEED_AFTER]: the seed done (since SEED_AFTER), then both API servers ready.
wait_deployment() {
    wait_seeded "${1:-}"
    wait_ready "$KUBESIM_APISERVER_1_PORT"
    wait_ready "$KUBESIM_APISERVER_2_PORT"
}
