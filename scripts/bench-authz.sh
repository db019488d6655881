#!/usr/bin/env bash
# Benchmarks authorization: the same GET of a pod, by a user who is not in system:masters
# (jane, bound to ClusterRole edit in namespace dev by `kubesim up`), decided by
#   rbac            --authorization-mode Node,RBAC: RBAC inside the API server,
#   webhook-cached  --authorization-mode Node,Webhook: the authz service over gRPC, with the
#                   Webhook authorizer's decision cache (kube's TTLs, 5m allowed / 30s denied),
#   webhook-cold    the same with both TTLs 0s: every request is an Authorize call.
# Each runs in a fresh `kubesim up` (temporary data dir, free ports): the GETs as jane for C
# in $CLIENTS (each after one unmeasured GET of every pod, which fills the cache), and under
# rbac the same GETs as the admin too (system:masters: no authorizer is asked), which shows
# what authorization itself costs. Prints one markdown table with the ratios to in-process
# RBAC, and stops every cluster it started, by pid.
#
# Usage: scripts/bench-authz.sh      (builds target/perf/kubesim first if it is missing)
# Environment:
#   KUBESIM=target/perf/kubesim   the binary to run (built with --profile perf if missing)
#   CLIENTS="1 16"                concurrent GETs
#   TOTAL=20000                   GETs per run
#   PODS=1000                     pods in the namespace; the GETs cycle over them
#   ROUNDS=1                      times the three clusters are run, one after another
#   ADMIN_ROW=1                   0 leaves out the admin's GETs
#   BASE_PORT=14379 SECURE_PORT=16443
#                                 store client ports BASE, BASE+20000, BASE+30000 (peers +1),
#                                 the authz service BASE+10000; moved up until free
#   BENCH_DIR=target              where the temporary data dirs go (not /tmp: it may be tmpfs)
#   KEEP=1                        keep data, logs and the JSON results afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBESIM=${KUBESIM:-$ROOT/target/perf/kubesim}
CLIENTS=${CLIENTS:-"1 16"}
TOTAL=${TOTAL:-20000}
PODS=${PODS:-1000}
ROUNDS=${ROUNDS:-1}
ADMIN_ROW=${ADMIN_ROW:-1}
BASE_PORT=${BASE_PORT:-14379}
SECURE_PORT=${SECURE_PORT:-16443}
BENCH_DIR=${BENCH_DIR:-$ROOT/target}
# What `kubesim up` makes: the example user, its namespace, the admin's name in reports.
BENCH_USER=jane
NAMESPACE=dev
CONFIGS="rbac webhook-cached webhook-cold"
READY_TIMEOUT_S=90
AUTHORIZED_TIMEOUT_S=30
STOP_TIMEOUT_S=20
PORT_TRIES=50
START_TRIES=3

PIDS=()
UP_PID=""
DATA=""
FAILED_RUNS=0

log() { echo "[bench-authz] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=scripts/lib/up-cluster.sh
source "$ROOT/scripts/lib/up-cluster.sh"

# The authz service listens on BASE_PORT+10000.
EXTRA_PORT_OFFSETS=10000
make_work bench-authz

# The `kubesim up` flags of each authorizer set-up.
config_flags() {
    case $1 in
    rbac) echo "--authorization-mode Node,RBAC" ;;
    webhook-cached) echo "--authorization-mode Node,Webhook" ;;
    webhook-cold)
        echo "--authorization-mode Node,Webhook" \
            "--authorization-webhook-cache-authorized-ttl 0s" \
            "--authorization-webhook-cache-unauthorized-ttl 0s"
        ;;
    *) die "unknown config $1" ;;
    esac
}

# start_cluster NAME: a fresh `kubesim up` in its own data dir.
start_cluster() {
    local name=$1 flags
    pick_free_ports
    DATA=$WORK/$name/data
    UP_LOG=$WORK/logs/$name.up.log
    rm -rf "$DATA"
    mkdir -p "$DATA"
    read -r -a flags <<<"$(config_flags "$name")"
    log "$name: kubesim up ${flags[*]} (store 127.0.0.1:$BASE_PORT, authz" \
        "127.0.0.1:$((BASE_PORT + 10000)), API server 127.0.0.1:$SECURE_PORT)"
    # Warnings only: per-request info logs would be measured as server latency.
    RUST_LOG="${RUST_LOG:-warn}" "$KUBESIM" up --data-dir "$DATA" --base-port "$BASE_PORT" \
        --secure-port "$SECURE_PORT" "${flags[@]}" >"$UP_LOG" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
}

# curl_as USER ARGS...: a request with USER's client certificate from the cluster's pki.
curl_as() {
    local user=$1 pki=$DATA/pki
    shift
    curl -s --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/$user.crt" --key "$pki/$user.key" "$@"
}

# Ready when /readyz answers 200 and `up` has written the kubeconfig (after the examples:
# jane's RoleBinding). Fails (status 1) if `up` exited.
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until [[ -f $DATA/pki/admin.key && -f $DATA/kubeconfig ]] &&
        curl_as admin -f -o /dev/null "https://127.0.0.1:$SECURE_PORT/readyz"; do
        if ! kill -0 "$UP_PID" 2>/dev/null; then
            stop_started
            return 1
        fi
        ((SECONDS < deadline)) || die "API server not ready after ${READY_TIMEOUT_S}s"
        sleep 0.5
    done
}

# start_ready NAME: start_cluster until it is ready. A port taken between the check and the
# bind (a client socket's ephemeral port) moves the ports up and tries again.
start_ready() {
    local tries=0
    until start_cluster "$1" && wait_ready; do
        grep -q "Address already in use" "$UP_LOG" || die "kubesim up exited"
        ((tries < START_TRIES)) || die "kubesim up found a port taken $START_TRIES times"
        log "a port was taken; moving up"
        BASE_PORT=$((BASE_PORT + 2))
        SECURE_PORT=$((SECURE_PORT + 1))
        tries=$((tries + 1))
    done
}

# Until the authorizer lets jane read pods in dev: a GET of a pod that does not exist
# answers 404 once allowed, 403 before. Each try names another pod, so a denial the Webhook
# authorizer cached cannot answer the next try. Logs the authorizer that decided (the
# decision path of that request, by its Audit-Id).
wait_authorized() {
    local deadline=$((SECONDS + AUTHORIZED_TIMEOUT_S)) tries=0 headers code audit_id
    headers=$WORK/logs/probe.headers
    while :; do
        code=$(curl_as "$BENCH_USER" -D "$headers" -o /dev/null -w '%{http_code}' \
            "https://127.0.0.1:$SECURE_PORT/api/v1/namespaces/$NAMESPACE/pods/bench-authz-probe-$tries" ||
            true)
        [[ $code == 404 ]] && break
        ((SECONDS < deadline)) || die "$BENCH_USER may not get pods in $NAMESPACE (last answer $code)"
        tries=$((tries + 1))
        sleep 0.2
    done
    audit_id=$(tr -d '\r' <"$headers" | awk -F': ' 'tolower($1) == "audit-id" { print $2 }')
    log "$BENCH_USER's GET decided by: $(curl_as admin \
        "https://127.0.0.1:$SECURE_PORT/debug/kubesim/trace/$audit_id" |
        grep -o '"authorizer":"[^"]*"\|"decided_by":"[^"]*"' | tr '\n' ' ')"
}

# bench NAME USER CLIENTS: one `bench api get` run, its JSON line in $RESULTS/NAME.json and
# the load average at its start in $RESULTS/NAME.load.
bench() {
    local name=$1 user=$2 clients=$3 load
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "$load" >"$RESULTS/$name.load"
    log "$name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if ! run_waited "$KUBESIM" bench api --server "https://127.0.0.1:$SECURE_PORT" \
        --certs-dir "$DATA/pki" --endpoints "127.0.0.1:$BASE_PORT" --user "$user" \
        --namespace "$NAMESPACE" --server-pid "$UP_PID" --clients "$clients" \
        --total "$TOTAL" --json get --pods "$PODS" >"$RESULTS/$name.json"; then
        log "$name failed"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
}

run_config() {
    local round=$1 config=$2 c
    start_ready "$config"
    wait_authorized
    for c in $CLIENTS; do
        if [[ $config == rbac && $ADMIN_ROW == 1 ]]; then
            bench "r$round.$config.admin.$c" admin "$c"
        fi
        bench "r$round.$config.$BENCH_USER.$c" "$BENCH_USER" "$c"
    done
    stop_started
}

# field FILE NAME: a number from the run's JSON line, or "-" if the run left none.
field() {
    local value=""
    [[ -s $1 ]] && value=$(grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2 || true)
    echo "${value:--}"
}

# ratio A B: A / B to two decimals, "-" when either is unknown or B is 0.
ratio() {
    if [[ $1 == - || $2 == - ]]; then
        echo -
    else
        awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
    fi
}

# values ROUND CONFIG USER CLIENTS: "req/s p50 p99 cpu req/s-ratio p99-ratio cpu-ratio", the
# ratios to jane under in-process RBAC in the same round ("-" for what the run left out).
values() {
    local f base name
    f=$RESULTS/r$1.$2.$3.$4.json
    base=$RESULTS/r$1.rbac.$BENCH_USER.$4.json
    for name in requests_per_s latency_ms_p50 latency_ms_p99 server_cpu_us_per_request; do
        printf '%s ' "$(field "$f" "$name")"
    done
    for name in requests_per_s latency_ms_p99 server_cpu_us_per_request; do
        printf '%s ' "$(ratio "$(field "$f" "$name")" "$(field "$base" "$name")")"
    done
    echo
}

# cells "req/s p50 p99 cpu ratios...": the table cells of those numbers.
cells() {
    local v
    read -r -a v <<<"$1"
    echo "$(fmt "${v[0]}" 0) | $(fmt "${v[1]}" 2) | $(fmt "${v[2]}" 2) | $(fmt "${v[3]}" 0) |" \
        "$(fmt "${v[4]}" 2) | $(fmt "${v[5]}" 2) | $(fmt "${v[6]}" 2) |"
}

# row ROUND CONFIG USER CLIENTS: one run's line.
row() {
    local f=$RESULTS/r$1.$2.$3.$4
    echo "| $1 | $(label "$2" "$3") | $3 | $4 | $(cells "$(values "$@")")" \
        "$(field "$f.json" requests_failed) | $(cat "$f.load" 2>/dev/null || echo -) |"
}

# median: the median of the numbers on stdin, one a line ("-" lines left out).
median() {
    grep -v '^-$' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median_row CONFIG USER CLIENTS: each column's median over the rounds (ratios paired within
# a round, so a machine that got busier between rounds moves both sides).
median_row() {
    local round column all="" medians=""
    for round in $(seq 1 "$ROUNDS"); do all+="$(values "$round" "$@")"$'\n'; done
    for column in 1 2 3 4 5 6 7; do
        medians+="$(awk -v c="$column" 'NF { print $c }' <<<"$all" | median) "
    done
    echo "| $(label "$1" "$2") | $2 | $3 | $(cells "$medians")"
}

label() {
    case $1/$2 in
    rbac/admin) echo "none (system:masters)" ;;
    rbac/*) echo "RBAC in-process" ;;
    webhook-cached/*) echo "Webhook, cached" ;;
    webhook-cold/*) echo "Webhook, cold (TTLs 0s)" ;;
    esac
}

# for_each_row FUNCTION ARGS...: FUNCTION ARGS... CONFIG USER CLIENTS for every row, in
# table order.
for_each_row() {
    local c config
    for c in $CLIENTS; do
        if [[ $ADMIN_ROW == 1 ]]; then "$@" rbac admin "$c"; fi
        for config in $CONFIGS; do "$@" "$config" "$BENCH_USER" "$c"; done
    done
}

print_table() {
    local round
    echo
    echo "GET of a pod in namespace $NAMESPACE, $TOTAL per run over $PODS pods, one HTTP/2"
    echo "connection; server CPU = CPU time of the kubesim up process (store, authz service, API"
    echo "server) per request; ratios to $BENCH_USER under in-process RBAC at the same clients"
    echo "in the same round (req/s: higher is better; p99 and CPU: lower is better); load ="
    echo "1-minute load average at the start of the run"
    echo
    echo "| round | authorizer | user | clients | req/s | p50 ms | p99 ms | server CPU us | req/s ratio | p99 ratio | CPU ratio | failed | load |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for round in $(seq 1 "$ROUNDS"); do for_each_row row "$round"; done
    if ((ROUNDS > 1)); then
        echo
        echo "Medians over the $ROUNDS rounds:"
        echo
        echo "| authorizer | user | clients | req/s | p50 ms | p99 ms | server CPU us | req/s ratio | p99 ratio | CPU ratio |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for_each_row median_row
    fi
    echo
    print_errors
}

# The non-empty "errors" objects (the last field of each JSON line), by run.
print_errors() {
    local f errors any=0
    echo "errors by run:"
    for f in "$RESULTS"/*.json; do
        [[ -s $f ]] || continue
        errors=$(grep -o '"errors":{.*}}$' "$f" | sed -e 's/^"errors"://' -e 's/}$//' || true)
        if [[ -n $errors && $errors != "{}" ]]; then
            echo "  $(basename "$f" .json): $errors"
            any=1
        fi
    done
    ((any)) || echo "  none"
}

main() {
    local round config
    ensure_kubesim
    "$KUBESIM" bench api --help 2>/dev/null | grep -q -- --user ||
        die "$KUBESIM's bench api has no --user (rebuild it)"
    "$KUBESIM" up --help 2>/dev/null | grep -q -- --authorization-webhook-cache-authorized-ttl ||
        die "$KUBESIM's up has no --authorization-webhook-cache-authorized-ttl (rebuild it)"
    log "kubesim: $KUBESIM; work dir $WORK; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for round in $(seq 1 "$ROUNDS"); do
        for config in $CONFIGS; do run_config "$round" "$config"; done
    done
    log "done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    print_table
    ((FAILED_RUNS == 0)) || die "$FAILED_RUNS benchmark runs failed (see above)"
}

main "$@"
