# Process and port handling shared by the benchmark scripts (sourced, not run).
#
# The caller sets STOP_TIMEOUT_S and an array PIDS=(), and defines `log` and `die`.
#   stop_started       stops the processes the script started, and only those, by pid
#   run_waited CMD...  runs CMD in the background (its pid in PIDS) and waits for it
#   port_in_use PORT   whether a listener or any connection holds 127.0.0.1:PORT
#   ensure_kubesim     builds $KUBESIM (target/perf/kubesim) when it is missing

# Stops the processes this script started, and only those, by pid: SIGTERM, then SIGKILL
# after STOP_TIMEOUT_S. Each is reaped (wait), so its pid is never signalled again.
stop_started() {
    local pid waited=0
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT_S * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

# Runs a command in the background and waits for it: bash runs a trap only between commands,
# so a SIGTERM to this script would otherwise wait for a long benchmark to end.
run_waited() {
    "$@" &
    PIDS+=($!)
    local status=0
    wait "$!" || status=$?
    unset 'PIDS[-1]'
    return "$status"
}

# In use by a listener, or as the local port of any connection (TIME_WAIT included): ports
# above 32768 lie in Linux's ephemeral range, so a client socket may hold one, and then a
# member cannot bind it. Without `ss`, only listeners are seen.
port_in_use() {
    if command -v ss >/dev/null; then
        [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

ensure_kubesim() {
    [[ -x $KUBESIM ]] && return
    log "$KUBESIM not found: running cargo build --profile perf -p kubesim"
    (cd "$ROOT" && cargo build --profile perf -p kubesim)
}
