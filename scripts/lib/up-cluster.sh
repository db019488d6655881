# The work directory, clean-up and ports of a benchmark that runs `kubesim up` (sourced after
# processes.sh, not run). Shared by bench-api.sh, bench-authz.sh and bench-admission.sh.
#
# The caller sets BENCH_DIR, BASE_PORT, SECURE_PORT, PORT_TRIES, and UP_LOG (the log of the
# `kubesim up` it starts, shown when the script fails); EXTRA_PORT_OFFSETS (default none)
# names more ports, as offsets from BASE_PORT, that must be free (the authz service's).
#   make_work NAME      WORK (a fresh dir under BENCH_DIR), RESULTS and WORK/logs; traps
#                       that stop what was started and remove WORK (kept with KEEP=1)
#   pick_free_ports     moves BASE_PORT and SECURE_PORT up until every port is free
#   endpoints           the store's client URLs for BASE_PORT
#   start_members NAME TOKEN CPUS
#                       three `kubesim store` members NAME-1..3 on those URLs (peers +1,
#                       /metrics +2),
#                       pinned to CPUS, data in $DATA/NAME-n, logs in $WORK/logs/NAME-n.log;
#                       their pids appended to PIDS and set in MEMBER_PIDS
#   fmt VALUE DIGITS    a number with DIGITS decimals, or `-`

make_work() {
    mkdir -p "$BENCH_DIR"
    WORK=$(mktemp -d "$BENCH_DIR/$1.XXXXXX")
    RESULTS=$WORK/results
    mkdir -p "$WORK/logs" "$RESULTS"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_started
    if ((status != 0)) && [[ -f ${UP_LOG:-} ]]; then
        log "last lines of $UP_LOG:"
        tail -n 10 "$UP_LOG" >&2
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        log "kept data, logs and results in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}

# The store's client and peer ports (BASE, BASE+20000, BASE+30000, each +1 for peers), the
# API server's, and the caller's extra ones.
ports_free() {
    local port offset
    for offset in 0 1 2 20000 20001 20002 30000 30001 30002 ${EXTRA_PORT_OFFSETS:-}; do
        port_in_use $((BASE_PORT + offset)) && return 1
    done
    port_in_use "$SECURE_PORT" && return 1
    return 0
}

# Moves BASE_PORT and SECURE_PORT up (by 2 and 1) until all are free: the machine may be
# running other clusters.
pick_free_ports() {
    local tries=0
    until ports_free; do
        ((tries < PORT_TRIES)) || die "no free ports near BASE_PORT / SECURE_PORT; set others"
        BASE_PORT=$((BASE_PORT + 2))
        SECURE_PORT=$((SECURE_PORT + 1))
        tries=$((tries + 1))
    done
    log "ports: store $(endpoints), API server 127.0.0.1:$SECURE_PORT"
}

endpoints() {
    echo "127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 20000)),127.0.0.1:$((BASE_PORT + 30000))"
}

start_members() {
    local name=$1 token=$2 cpus=$3 offsets=(0 20000 30000) cluster="" i
    MEMBER_PIDS=()
    for i in 0 1 2; do
        cluster+="${cluster:+,}$name-$((i + 1))=http://127.0.0.1:$((BASE_PORT + offsets[i] + 1))"
    done
    for i in 0 1 2; do
        local member=$name-$((i + 1))
        local client="http://127.0.0.1:$((BASE_PORT + offsets[i]))"
        local peer="http://127.0.0.1:$((BASE_PORT + offsets[i] + 1))"
        local metrics="http://127.0.0.1:$((BASE_PORT + offsets[i] + 2))"
        RUST_LOG="${RUST_LOG:-warn}" taskset -c "$cpus" "$KUBESIM" store \
            --name "$member" --data-dir "$DATA/$member" \
            --listen-client-urls "$client" --advertise-client-urls "$client" \
            --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
            --initial-cluster "$cluster" --initial-cluster-token "$token" \
            --initial-cluster-state new --listen-metrics-urls "$metrics" \
            >"$WORK/logs/$member.log" 2>&1 &
        PIDS+=($!)
        MEMBER_PIDS+=($!)
    done
}

fmt() { if [[ $1 == - ]]; then echo -; else printf "%.${2}f" "$1"; fi; }
