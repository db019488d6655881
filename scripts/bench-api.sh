#!/usr/bin/env bash
# Benchmarks the API server end to end with `kubesim bench api`: starts `kubesim up` (a
# 3-member store and the API server in one process) in a temporary data dir on free ports,
# or, with LAYOUT=split, three `kubesim store` processes and one `kubesim apiserver`, each
# pinned to its own CPUs, waits for /readyz, then runs
#   create  (API creates beside raw store puts of the same pod bodies),
#   create --dry-run (everything but the store write), get, update
#                                      for C in $CLIENTS, each with --total $TOTAL,
#   list    ($PODS pods, $LISTS lists from the watch cache and from the store),
#   watch   ($WATCHERS watchers, $EVENTS writes),
# prints markdown tables, and stops the cluster.
#
# Usage: scripts/bench-api.sh        (builds target/perf/kubesim first if it is missing)
# Environment:
#   KUBESIM=target/perf/kubesim   the binary to run (built with --profile perf if missing)
#   CLIENTS="1 16 64"             client counts for create, get and update
#   TOTAL=5000                    requests per create/get/update run
#   CONNS=1                       HTTP/2 connections, as client-go keeps one
#   PODS=10000 LISTS=10           list: pods in the namespace, lists of each kind
#   WATCHERS=1000 EVENTS=200      watch: watchers, writes (half creates, half updates)
#   WATCH_CLIENTS=1               writers in the watch run
#   OPS="create get update list watch"
#                                 which runs to make (create includes create --dry-run);
#                                 the tables show "-" for the rest
#   BASE_PORT=14379 SECURE_PORT=16443
#                                 store client ports BASE, BASE+20000, BASE+30000 (peers +1);
#                                 moved up until free
#   BENCH_DIR=target              where the temporary data dir goes (not /tmp: it may be
#                                 tmpfs, where fsync costs nothing)
#   KEEP=1                        keep data, logs and the JSON results afterwards
#   LAYOUT=up                     up: one `kubesim up` process on every core, sharing them
#                                 with the benchmark. split: the store members and the API
#                                 server as separate processes, as kube-apiserver runs beside
#                                 etcd, pinned with taskset: the members to STORE_CPUS (0),
#                                 the API server to API_CPUS (1) and the benchmark to
#                                 BENCH_CPUS (1, beside the API server: the raw puts get no
#                                 core the creates do not). On its one CPU the API server
#                                 runs on tokio's current-thread scheduler (run 22 in
#                                 docs/benchmarks.md); in `up`, multi-thread
#   WRITE_TO=first                split only. first: the API server and the raw puts use
#                                 store-1's endpoint, leader or not (a follower forwards
#                                 every write, so rates swing between clusters with where
#                                 the leader lands). leader: wait for the election (etcdctl
#                                 endpoint status) and put the leader's endpoint first,
#                                 for runs that compare builds
#
# Everything it starts is stopped on exit, error or Ctrl-C (trap), by pid.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBESIM=${KUBESIM:-$ROOT/target/perf/kubesim}
CLIENTS=${CLIENTS:-"1 16 64"}
TOTAL=${TOTAL:-5000}
CONNS=${CONNS:-1}
PODS=${PODS:-10000}
LISTS=${LISTS:-10}
WATCHERS=${WATCHERS:-1000}
EVENTS=${EVENTS:-200}
WATCH_CLIENTS=${WATCH_CLIENTS:-1}
OPS=${OPS:-create get update list watch}
BASE_PORT=${BASE_PORT:-14379}
SECURE_PORT=${SECURE_PORT:-16443}
BENCH_DIR=${BENCH_DIR:-$ROOT/target}
READY_TIMEOUT_S=90
STOP_TIMEOUT_S=20
PORT_TRIES=50

PIDS=()
UP_PID=""
FAILED_RUNS=0

log() { echo "[bench-api] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=scripts/lib/up-cluster.sh
source "$ROOT/scripts/lib/up-cluster.sh"

make_work bench-api
UP_LOG=$WORK/logs/up.log
DATA=$WORK/data

LAYOUT=${LAYOUT:-up}
STORE_CPUS=${STORE_CPUS:-0}
API_CPUS=${API_CPUS:-1}
BENCH_CPUS=${BENCH_CPUS:-1}
WRITE_TO=${WRITE_TO:-first}
LEADER_TIMEOUT_S=30
# The store endpoints in the order the API server and the benchmark get them.
ORDERED_ENDPOINTS=""
# The processes whose CPU time is the server's (comma list for --server-pid), and the command
# prefix that pins the benchmark (empty for LAYOUT=up).
SERVER_PIDS=""
BENCH_PIN=()

start_cluster() {
    case $LAYOUT in
    up) start_up ;;
    split) start_split ;;
    *) die "unknown LAYOUT $LAYOUT (up or split)" ;;
    esac
}

start_up() {
    pick_free_ports
    # Warnings only: per-request info logs would be measured as server latency.
    RUST_LOG="${RUST_LOG:-warn}" "$KUBESIM" up --data-dir "$DATA" --base-port "$BASE_PORT" \
        --secure-port "$SECURE_PORT" >"$WORK/logs/up.log" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
    SERVER_PIDS=$UP_PID
}

# Three `kubesim store` members (etcd's flags) on STORE_CPUS and `kubesim apiserver` on
# API_CPUS, with certificates from `kubesim certs`; the API server gets kube-apiserver's
# defaults (admission plugins included), as `kubesim up`'s does, but authorizes with RBAC
# only: the benchmark's admin is in system:masters, which no authorizer is asked about.
start_split() {
    pick_free_ports
    "$KUBESIM" certs --out "$DATA/pki" >"$WORK/logs/certs.log" 2>&1 || die "kubesim certs failed"
    start_members store bench-api "$STORE_CPUS"
    local pids=("${MEMBER_PIDS[@]}")
    local pki=$DATA/pki servers
    [[ $WRITE_TO == leader ]] && leader_first
    servers=$(ordered_endpoints | sed -e 's|^|http://|' -e 's|,|,http://|g')
    RUST_LOG="${RUST_LOG:-warn}" taskset -c "$API_CPUS" "$KUBESIM" apiserver \
        --bind-address 127.0.0.1 --secure-port "$SECURE_PORT" \
        --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
        --client-ca-file "$pki/ca.crt" --etcd-servers "$servers" \
        --authorization-mode RBAC >"$UP_LOG" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
    pids+=("$UP_PID")
    SERVER_PIDS=$(IFS=,; echo "${pids[*]}")
    BENCH_PIN=(taskset -c "$BENCH_CPUS")
    log "split: store members on CPUs $STORE_CPUS, API server on $API_CPUS, benchmark on $BENCH_CPUS"
}

ordered_endpoints() { echo "${ORDERED_ENDPOINTS:-$(endpoints)}"; }

# WRITE_TO=leader: the elected member's endpoint first, the others after it.
leader_first() {
    command -v etcdctl >/dev/null || die "WRITE_TO=leader needs etcdctl"
    local deadline=$((SECONDS + LEADER_TIMEOUT_S)) leader="" ep rest=""
    while [[ -z $leader ]]; do
        ((SECONDS < deadline)) || die "no store leader after ${LEADER_TIMEOUT_S}s"
        sleep 0.5
        leader=$(etcdctl --endpoints "$(endpoints)" endpoint status 2>/dev/null |
            awk -F', ' '$5 == "true" { print $1 }' | head -n 1 || true)
    done
    for ep in $(endpoints | tr , ' '); do
        [[ $ep == "$leader" ]] || rest+=",$ep"
    done
    ORDERED_ENDPOINTS="$leader$rest"
    log "WRITE_TO=leader: endpoints $ORDERED_ENDPOINTS"
}

# Ready when /readyz answers 200 with the admin certificate (it checks the store too).
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S)) pki=$DATA/pki
    until [[ -f $pki/admin.key ]] && curl -sf --max-time 2 --cacert "$pki/ca.crt" \
        --cert "$pki/admin.crt" --key "$pki/admin.key" \
        "https://127.0.0.1:$SECURE_PORT/readyz" >/dev/null 2>&1; do
        kill -0 "${PIDS[0]}" 2>/dev/null || die "kubesim up exited"
        ((SECONDS < deadline)) || die "API server not ready after ${READY_TIMEOUT_S}s"
        sleep 0.5
    done
}

# The member the API server (and the raw puts, over one connection) writes to is the first
# endpoint; whether it is the leader changes the cost of every write (a follower forwards).
log_leader() {
    command -v etcdctl >/dev/null || return 0
    local leader
    leader=$(etcdctl --endpoints "$(endpoints)" endpoint status 2>/dev/null |
        awk -F', ' '$5 == "true" { print $1 }' || true)
    log "store leader: ${leader:-unknown}; the API server and the raw puts use $(ordered_endpoints | cut -d, -f1)"
}

# bench NAME ARGS...: one run, its JSON lines kept in $RESULTS/NAME.json.
bench() {
    local name=$1
    shift
    log "$name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if ! run_waited "${BENCH_PIN[@]}" "$KUBESIM" bench api --server "https://127.0.0.1:$SECURE_PORT" \
        --certs-dir "$DATA/pki" --endpoints "$(ordered_endpoints)" --conns "$CONNS" \
        --server-pid "$SERVER_PIDS" --json "$@" >"$RESULTS/$name.json"; then
        log "$name failed"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
}

wanted() { [[ " $OPS " == *" $1 "* ]]; }

run_all() {
    local c
    for c in $CLIENTS; do
        wanted create || break
        bench "create.$c" --namespace bench-create --clients "$c" --total "$TOTAL" create
        bench "create-dry.$c" --namespace bench-create --clients "$c" --total "$TOTAL" \
            create --dry-run
    done
    for c in $CLIENTS; do
        wanted get && bench "get.$c" --namespace bench-rw --clients "$c" --total "$TOTAL" \
            get --pods 1000
        wanted update && bench "update.$c" --namespace bench-rw --clients "$c" \
            --total "$TOTAL" update --pods 1000
    done
    wanted list && bench list --namespace bench-list --clients 1 --total "$LISTS" list --pods "$PODS"
    wanted watch && bench watch --namespace bench-watch --clients "$WATCH_CLIENTS" \
        --total "$EVENTS" watch --watchers "$WATCHERS"
    return 0
}

# The API server's resident memory (the watch cache holds every object it has seen).
log_memory() {
    local rss
    rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$UP_PID/status" 2>/dev/null || true)
    log "API server process ($LAYOUT) resident: ${rss:-unknown}"
}

# field FILE ROW NAME: a number from the JSON line of ROW, or "-" if the run left none.
field() {
    local value=""
    [[ -s $1 ]] && value=$(grep "\"row\":\"$2\"" "$1" | grep -o "\"$3\":[0-9.]*" | head -n 1 |
        cut -d: -f2 || true)
    echo "${value:--}"
}

us_to_ms() { if [[ $1 == - ]]; then echo -; else awk -v us="$1" 'BEGIN { print us / 1000 }'; fi; }

row_cells() {
    local file=$1 row=$2
    echo "$(fmt "$(field "$file" "$row" requests_per_s)" 0) |" \
        "$(fmt "$(field "$file" "$row" latency_ms_p50)" 2) |" \
        "$(fmt "$(field "$file" "$row" latency_ms_p90)" 2) |" \
        "$(fmt "$(field "$file" "$row" latency_ms_p99)" 2) |" \
        "$(field "$file" "$row" requests_failed) |" \
        "$(fmt "$(field "$file" "$row" server_cpu_us_per_request)" 0) |" \
        "$(fmt "$(field "$file" "$row" client_cpu_us_per_request)" 0)"
}

print_tables() {
    local c f
    echo
    echo "$TOTAL requests per run, $CONNS HTTP/2 connection(s); ratio = API creates / raw puts"
    echo "of the request bodies; stored put / stored txn = raw puts of the bytes the API server"
    echo "stored for a pod (plain, and in the create Txn it sends), with the creates' ratio to each;"
    echo "server CPU = CPU time of the store and the API server (LAYOUT=$LAYOUT) per request;"
    echo "bench CPU = the benchmark's own"
    echo
    echo "| op | clients | req/s | p50 ms | p90 ms | p99 ms | failed | server CPU us | bench CPU us | raw put req/s | raw put p99 ms | raw put server CPU us | ratio | stored put req/s | ratio | stored txn req/s | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CLIENTS; do
        f=$RESULTS/create.$c.json
        echo "| create | $c | $(row_cells "$f" api-create) |" \
            "$(fmt "$(field "$f" store-put requests_per_s)" 0) |" \
            "$(fmt "$(field "$f" store-put latency_ms_p99)" 2) |" \
            "$(fmt "$(field "$f" store-put server_cpu_us_per_request)" 0) |" \
            "$(fmt "$(field "$f" api-create ratio_to_store_put)" 2) |" \
            "$(fmt "$(field "$f" store-put-stored requests_per_s)" 0) |" \
            "$(fmt "$(field "$f" api-create ratio_to_stored_put)" 2) |" \
            "$(fmt "$(field "$f" store-txn-stored requests_per_s)" 0) |" \
            "$(fmt "$(field "$f" api-create ratio_to_stored_txn)" 2) |"
    done
    for c in $CLIENTS; do
        echo "| create (dryRun=All) | $c |" \
            "$(row_cells "$RESULTS/create-dry.$c.json" api-create-dry-run) | | | | | | | | |"
    done
    for c in $CLIENTS; do
        echo "| get | $c | $(row_cells "$RESULTS/get.$c.json" api-get) | | | | | | | | |"
    done
    for c in $CLIENTS; do
        echo "| update (GET+PUT) | $c | $(row_cells "$RESULTS/update.$c.json" api-update) | | | | | | | | |"
    done
    echo
    f=$RESULTS/list.json
    echo "list: $LISTS lists of each kind, one at a time"
    echo
    echo "| list | items | MB | p50 ms | p90 ms | p99 ms | max ms | failed | server CPU ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    local row
    for row in list-cache list-store; do
        local bytes
        bytes=$(field "$f" "$row" bytes)
        echo "| $row | $(field "$f" "$row" items) |" \
            "$(if [[ $bytes == - ]]; then echo -; else awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }'; fi) |" \
            "$(fmt "$(field "$f" "$row" latency_ms_p50)" 1) | $(fmt "$(field "$f" "$row" latency_ms_p90)" 1) |" \
            "$(fmt "$(field "$f" "$row" latency_ms_p99)" 1) | $(fmt "$(field "$f" "$row" latency_ms_max)" 1) |" \
            "$(field "$f" "$row" requests_failed) |" \
            "$(fmt "$(us_to_ms "$(field "$f" "$row" server_cpu_us_per_request)")" 0) |"
    done
    echo
    f=$RESULTS/watch.json
    echo "watch: $WATCHERS watchers, $EVENTS writes by $WATCH_CLIENTS client(s)"
    echo
    echo "| watchers opened | writes acked | deliveries | p50 ms | p90 ms | p99 ms | max ms | missed | incomplete watchers | write p99 ms | server CPU us per write |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $(field "$f" watch-delivery watchers_opened) | $(field "$f" watch-delivery writes_acked) |" \
        "$(field "$f" watch-delivery requests_ok) |" \
        "$(fmt "$(field "$f" watch-delivery latency_ms_p50)" 2) | $(fmt "$(field "$f" watch-delivery latency_ms_p90)" 2) |" \
        "$(fmt "$(field "$f" watch-delivery latency_ms_p99)" 2) | $(fmt "$(field "$f" watch-delivery latency_ms_max)" 2) |" \
        "$(field "$f" watch-delivery missed) | $(field "$f" watch-delivery watchers_incomplete) |" \
        "$(fmt "$(field "$f" watch-writes latency_ms_p99)" 2) |" \
        "$(fmt "$(field "$f" watch-writes server_cpu_us_per_request)" 0) |"
    echo
    print_errors
}

# The non-empty "errors" objects (the last field of each JSON line), by run and row.
print_errors() {
    local f line row errors any=0
    echo "errors by run and row:"
    for f in "$RESULTS"/*.json; do
        [[ -s $f ]] || continue
        while IFS= read -r line; do
            row=$(grep -o '"row":"[a-z-]*"' <<<"$line" | cut -d'"' -f4 || true)
            errors=$(grep -o '"errors":{.*}}$' <<<"$line" | sed -e 's/^"errors"://' -e 's/}$//' || true)
            if [[ -n $errors && $errors != "{}" ]]; then
                echo "  $(basename "$f" .json) $row: $errors"
                any=1
            fi
        done <"$f"
    done
    ((any)) || echo "  none"
}

main() {
    ensure_kubesim
    "$KUBESIM" bench api --help >/dev/null 2>&1 ||
        die "$KUBESIM has no 'bench api' (crates/kubesim/src/main.rs must dispatch BenchCommand::Api)"
    log "kubesim: $KUBESIM; work dir $WORK"
    start_cluster
    wait_ready
    log "cluster ready"
    log_leader
    run_all
    log_leader
    log_memory
    stop_started
    print_tables
    ((FAILED_RUNS == 0)) || die "$FAILED_RUNS benchmark runs failed (see above)"
}

main "$@"
