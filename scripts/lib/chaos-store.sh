# The store scenarios of scripts/chaos.sh (sourced after chaos-common.sh, not run).
#
#   scenario_stop_leader        docker stop the Raft leader under writes; nothing acked is lost
#   scenario_disconnect_member  docker network disconnect a follower under writes; it catches up
#
# Helpers:
#   member_status EP            REPLY="endpoint member_id leader_id revision raft_term" (hex ids)
#   store_discover              EP_OF_ID, NAME_OF_ID, LEADER_ID and RAFT_TERM for
#                               STORE_ENDPOINTS
#   store_writer LOG PREFIX EPS STOP   puts PREFIX/000001… one at a time until STOP exists,
#                               logging each acknowledgement (with its revision) and each failure
#   store_converged             every member at one revision with one hashkv at it, and a leader
#   check_acked LOG PREFIX      reads PREFIX linearizably from every member: all acked writes there
#
# Members are found by what they say (endpoint status, member list), never assumed: the
# leader's name in `member list` is its compose service (--name store-N).

# Short bounds: a poll that waits on a dead member must not hide when the new leader came.
ETCDCTL=(env ETCDCTL_API=3 etcdctl --dial-timeout=1s --command-timeout=1s)

declare -A EP_OF_ID=() NAME_OF_ID=()
LEADER_ID=""

member_status() {
    local out
    out=$("${ETCDCTL[@]}" --endpoints="$1" endpoint status -w json 2>/dev/null) || return 1
    REPLY=$(python3 "$CHECK" status <<<"$out" 2>/dev/null) || return 1
    [[ -n $REPLY ]]
}

# Every endpoint answers and all name the same, non-zero leader.
store_discover() {
    local ep id name leader term leaders=() out
    EP_OF_ID=() NAME_OF_ID=()
    for ep in ${STORE_ENDPOINTS//,/ }; do
        member_status "$ep" || return 1
        read -r _ id leader _ term <<<"$REPLY"
        [[ $leader != 0 ]] || return 1
        EP_OF_ID[$id]=$ep
        leaders+=("$leader")
        RAFT_TERM=$term
    done
    [[ $(printf '%s\n' "${leaders[@]}" | sort -u | wc -l) == 1 ]] || return 1
    LEADER_ID=${leaders[0]}
    out=$("${ETCDCTL[@]}" --endpoints="$STORE_ENDPOINTS" member list 2>/dev/null) || return 1
    # member list: ID, status, name, peer URLs, client URLs, is learner (ids in hex)
    while IFS=', ' read -r id _ name _; do
        NAME_OF_ID[$id]=$name
    done <<<"$out"
    [[ -n ${NAME_OF_ID[$LEADER_ID]:-} ]]
}

store_wait_healthy() {
    wait_until "$HEALTHY_TIMEOUT_S" "every store member to answer and agree on a leader" store_discover
    log "leader ${NAME_OF_ID[$LEADER_ID]} ($LEADER_ID) at ${EP_OF_ID[$LEADER_ID]}"
}

store_writer() {
    local log=$1 prefix=$2 eps=$3 stop=$4 seq=0 key value out sent
    while [[ ! -e $stop ]] && ((seq < WRITER_MAX_PUTS)); do
        seq=$((seq + 1))
        printf -v key '%s/%06d' "$prefix" "$seq"
        value="v$seq-$RUN_ID"
        now_ms
        sent=$REPLY
        if out=$("${ETCDCTL[@]}" --command-timeout="${WRITE_TIMEOUT_S}s" --endpoints="$eps" \
            put "$key" "$value" -w json 2>&1); then
            [[ $out =~ \"revision\":([0-9]+) ]] || BASH_REMATCH=(x 0)
            now_ms
            echo "ack $sent $REPLY $key $value ${BASH_REMATCH[1]}" >>"$log"
        else
            now_ms
            echo "err $sent $REPLY $key $value ${out//$'\n'/ }" >>"$log"
            sleep 0.05 # no member answered at once: do not spin
        fi
    done
}

# key=value numbers of the writer's log (chaos_check.py writes) into W_* variables.
W_acked=0 W_failed=0 W_max_gap_ms=0 W_acked_after_mark=0 W_pause_ms=0
writes_stats() {
    local k v out
    out=$(python3 "$CHECK" writes "$1" "$2") || fail "the writer's history: $out"
    while IFS='=' read -r k v; do printf -v "W_$k" '%s' "$v"; done <<<"$out"
}

acked_since() {
    writes_stats "$1" "$2"
    ((W_acked_after_mark >= $3))
}

# All members at the same revision (no writer running) and the same hashkv at it.
store_converged() {
    local ep revs=() hashes=() out
    for ep in ${STORE_ENDPOINTS//,/ }; do
        member_status "$ep" || return 1
        revs+=("$(cut -d' ' -f4 <<<"$REPLY")")
    done
    [[ $(printf '%s\n' "${revs[@]}" | sort -u | wc -l) == 1 ]] || return 1
    for ep in ${STORE_ENDPOINTS//,/ }; do
        out=$("${ETCDCTL[@]}" --endpoints="$ep" endpoint hashkv --rev="${revs[0]}" -w json 2>/dev/null) || return 1
        hashes+=("$(python3 "$CHECK" hashkv <<<"$out" | cut -d' ' -f2)")
        [[ ${hashes[-1]} =~ ^[0-9]+$ ]] || return 1
    done
    [[ $(printf '%s\n' "${hashes[@]}" | sort -u | wc -l) == 1 ]] || return 1
    CONVERGED="revision ${revs[0]}, hashkv ${hashes[0]} on all ${#revs[@]}"
    store_discover
}

# A linearizable range (etcdctl's default) from each member in turn: served only after the
# member has applied up to the leader's commit index, so it shows what that member holds.
check_acked() {
    local log=$1 prefix=$2 ep got report
    for ep in ${STORE_ENDPOINTS//,/ }; do
        got=$WORK/get-${ep//[:.]/_}
        "${ETCDCTL[@]}" --command-timeout=10s --endpoints="$ep" get --prefix "$prefix/" >"$got" ||
            fail "linearizable get --prefix from $ep failed"
        if ! report=$(python3 "$CHECK" acked "$log" "$got"); then
            printf '%s\n' "$report" >&2
            fail "acknowledged writes missing on $ep: ${report%%$'\n'*} (RELIABILITY.md property 3)"
        fi
        log "$ep (linearizable): $report"
    done
}

stop_writer() {
    : >"$1"
    local waited=0
    while kill -0 "$2" 2>/dev/null && ((waited < WRITER_STOP_TIMEOUT_S * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -0 "$2" 2>/dev/null && fail "the writer did not stop within ${WRITER_STOP_TIMEOUT_S}s"
    wait "$2" 2>/dev/null || true
}

# The members other than $1 answer and agree on a leader that is not $1. One etcdctl call
# for all of them: on a loaded machine each call costs tens of milliseconds of resolution.
new_leader_elected() {
    local old=$1 out leaders
    shift
    local IFS=,
    out=$("${ETCDCTL[@]}" --endpoints="$*" endpoint status -w json 2>/dev/null) || return 1
    leaders=$(python3 "$CHECK" status <<<"$out" | cut -d' ' -f3 | sort -u) || return 1
    [[ $leaders != *$'\n'* && -n $leaders && $leaders != 0 && $leaders != "$old" ]] || return 1
    NEW_LEADER_ID=$leaders
}

member_at_least() {
    member_status "$1" || return 1
    (($(cut -d' ' -f4 <<<"$REPLY") >= $2))
}

other_endpoints() {
    local ep out=()
    for ep in ${STORE_ENDPOINTS//,/ }; do [[ $ep == "$1" ]] || out+=("$ep"); done
    REPLY="${out[*]}"
}

# docker stop (SIGTERM, SIGKILL after STOP_GRACE_S) or, with LEADER_FAULT=kill, docker kill.
stop_container() {
    if [[ $LEADER_FAULT == kill ]]; then
        docker_ kill "$1"
    else
        docker_ stop -t "$STOP_GRACE_S" "$1"
    fi
}

scenario_stop_leader() {
    store_wait_healthy
    local old_id=$LEADER_ID old_ep=${EP_OF_ID[$LEADER_ID]} name=${NAME_OF_ID[$LEADER_ID]}
    local prefix="/chaos/stop-leader/$RUN_ID" wlog=$WORK/writes-stop-leader stop=$WORK/stop-writer-1
    local cid others writer stopper t_stop t_elected exit_ms election_ms t_start back_ms new_name
    local term_before=$RAFT_TERM
    container "$name"
    cid=$REPLY
    on_cleanup docker start "$cid"
    other_endpoints "$old_ep"
    read -r -a others <<<"$REPLY"

    : >"$wlog"
    spawn writer store_writer "$wlog" "$prefix" "$STORE_ENDPOINTS" "$stop"
    wait_until "$WRITES_TIMEOUT_S" "$WARMUP_PUTS acknowledged writes" acked_since "$wlog" 0 "$WARMUP_PUTS"

    log "docker $LEADER_FAULT $name (the leader)"
    now_ms
    t_stop=$REPLY
    spawn_fault stopper stop_container "$cid"
    wait_until "$ELECTION_TIMEOUT_S" "a new leader among ${others[*]}" \
        new_leader_elected "$old_id" "${others[@]}"
    now_ms
    t_elected=$REPLY
    wait "$stopper" || fail "docker $LEADER_FAULT $name failed"
    exited_ms "$cid"
    exit_ms=$((REPLY - t_stop))
    election_ms=$((t_elected - REPLY))
    new_name=${NAME_OF_ID[$NEW_LEADER_ID]:-$NEW_LEADER_ID}
    log "$name exited $(secs "$exit_ms")s after docker $LEADER_FAULT; $new_name leads $(secs "$election_ms")s after that (polled every ${POLL_S}s)"
    wait_until "$WRITES_TIMEOUT_S" "writes to resume" acked_since "$wlog" "$t_stop" "$RESUME_PUTS"
    sleep "$HOLD_S"

    log "docker start $name"
    now_ms
    t_start=$REPLY
    docker_ start "$cid" >/dev/null || fail "docker start $name failed"
    wait_until "$CATCHUP_TIMEOUT_S" "$name to answer again" member_status "$old_ep"
    now_ms
    back_ms=$((REPLY - t_start))
    sleep "$HOLD_S"
    stop_writer "$stop" "$writer"

    writes_stats "$wlog" "$t_stop"
    log "writes: $W_acked acknowledged, $W_failed without acknowledgement (${WRITE_TIMEOUT_S}s timeout), longest gap between acknowledgements $(secs "$W_max_gap_ms")s, since the fault $(secs "$W_pause_ms")s"
    wait_until "$CATCHUP_TIMEOUT_S" "every member at one revision and hashkv" store_converged
    log "converged: $CONVERGED; raft term $term_before → $RAFT_TERM, leader ${NAME_OF_ID[$LEADER_ID]}"
    check_acked "$wlog" "$prefix"
    ok "docker $LEADER_FAULT leader $name (exited after $(secs "$exit_ms")s): $new_name elected $(secs "$election_ms")s after it exited, writes paused $(secs "$W_pause_ms")s; after restart (answering in $(secs "$back_ms")s) all $W_acked acknowledged writes read linearizably on every member, $CONVERGED, term $term_before → $RAFT_TERM; $W_failed unacknowledged"
}

scenario_disconnect_member() {
    store_wait_healthy
    local id name ep cid net aliases=() alias_flags=() others writer a
    local prefix="/chaos/disconnect-member/$RUN_ID" wlog=$WORK/writes-disconnect stop=$WORK/stop-writer-2
    local t_disc t_conn target_rev catchup_ms leader_ep=${EP_OF_ID[$LEADER_ID]}
    local term_before=$RAFT_TERM leader_before=${NAME_OF_ID[$LEADER_ID]}
    for id in "${!EP_OF_ID[@]}"; do [[ $id == "$LEADER_ID" ]] || break; done
    name=${NAME_OF_ID[$id]} ep=${EP_OF_ID[$id]}
    container "$name"
    cid=$REPLY
    # shellcheck disable=SC2016 # a Go template, not a shell expansion
    net=$(docker_ inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{"\n"}}{{end}}' "$cid" | head -n 1)
    [[ -n $net ]] || fail "$name is on no docker network"
    # compose resolves members by service name: the alias must come back with the connection.
    read -r -a aliases <<<"$(docker_ inspect -f "{{range (index .NetworkSettings.Networks \"$net\").Aliases}}{{.}} {{end}}" "$cid")"
    for a in $(printf '%s\n' "${aliases[@]}" "$name" | sort -u); do alias_flags+=(--alias "$a"); done
    other_endpoints "$ep"
    others=${REPLY// /,}

    : >"$wlog"
    spawn writer store_writer "$wlog" "$prefix" "$others" "$stop"
    wait_until "$WRITES_TIMEOUT_S" "$WARMUP_PUTS acknowledged writes" acked_since "$wlog" 0 "$WARMUP_PUTS"

    log "docker network disconnect $net $name (a follower)"
    now_ms
    t_disc=$REPLY
    on_cleanup docker network connect "${alias_flags[@]}" "$net" "$cid"
    docker_ network disconnect "$net" "$cid" || fail "docker network disconnect failed"
    sleep "$DISCONNECT_S"
    writes_stats "$wlog" "$t_disc"
    ((W_acked_after_mark >= RESUME_PUTS)) ||
        fail "only $W_acked_after_mark writes acknowledged in ${DISCONNECT_S}s with $name disconnected"
    local during=$W_acked_after_mark during_pause=$W_pause_ms
    member_status "$leader_ep" || fail "the leader stopped answering while $name was disconnected"
    target_rev=$(cut -d' ' -f4 <<<"$REPLY")

    log "docker network connect $net $name (the leader is at revision $target_rev)"
    docker_ network connect "${alias_flags[@]}" "$net" "$cid" || fail "docker network connect failed"
    unset 'CLEANUPS[-1]'
    now_ms
    t_conn=$REPLY
    wait_until "$CATCHUP_TIMEOUT_S" "$name to reach revision $target_rev" member_at_least "$ep" "$target_rev"
    now_ms
    catchup_ms=$((REPLY - t_conn))
    sleep "$HOLD_S"
    stop_writer "$stop" "$writer"

    writes_stats "$wlog" "$t_conn"
    local catchup_pause=$W_pause_ms
    writes_stats "$wlog" "$t_disc"
    log "writes: $W_acked acknowledged ($during while $name was cut off for ${DISCONNECT_S}s), $W_failed without acknowledgement, longest gap $(secs "$W_max_gap_ms")s (since the reconnect: $(secs "$catchup_pause")s)"
    log "$name caught up to revision $target_rev $(secs "$catchup_ms")s after reconnecting"
    wait_until "$CATCHUP_TIMEOUT_S" "every member at one revision and hashkv" store_converged
    # Without pre-vote, a member cut off keeps starting elections; rejoining with its higher
    # term makes the leader step down (the term jumps and writes stall): reported, not failed.
    log "converged: $CONVERGED; raft term $term_before → $RAFT_TERM, leader $leader_before → ${NAME_OF_ID[$LEADER_ID]}"
    check_acked "$wlog" "$prefix"
    ok "follower $name cut off ${DISCONNECT_S}s: $during writes acknowledged meanwhile (longest gap $(secs "$during_pause")s; $(secs "$catchup_pause")s after the reconnect), caught up $(secs "$catchup_ms")s after reconnect, $CONVERGED, term $term_before → $RAFT_TERM, all $W_acked acknowledged writes on every member"
}
