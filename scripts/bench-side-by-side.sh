#!/usr/bin/env bash
# Benchmarks a 3-member real etcd 3.4 cluster and a 3-member kubesim store cluster with the same
# load generator (`kubesim bench kv`, which speaks only the etcd v3 API), and prints a markdown
# table side by side with kubesim/etcd ratios.
#
# Workload, after etcd's op-guide (performance.md): put with --key-size 8 --val-size 256
# --sequential-keys, here over a key space of 100000 keys; then range of one of those keys,
# linearizable (l) and serializable (s). Each at 1, 16, 64 and 256 clients, with one gRPC
# connection per 8 clients (etcd's guide uses 100 conns for 1000 clients), spread over all
# three members. Both clusters keep their data on the same disk with fsync on (the defaults).
#
# Usage: scripts/bench-side-by-side.sh          (after `cargo build --profile perf -p kubesim`)
# Environment:
#   TOTAL=10000             requests per run
#   CLIENTS="1 16 64 256"   client counts
#   TARGETS="etcd kubesim"  which clusters to run (e.g. TARGETS=etcd)
#   KUBESIM=target/perf/kubesim
#   BENCH_DIR=target        where the temporary data dirs go (not /tmp: it may be tmpfs,
#                           where fsync costs nothing)
#   KEEP=1                  keep data and logs afterwards
#
# Everything it starts is stopped on exit, error or Ctrl-C (trap). Ports: etcd 12379/22379/32379
# (peers +1), kubesim 13379/23379/33379 (peers +1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBESIM=${KUBESIM:-$ROOT/target/perf/kubesim}
TOTAL=${TOTAL:-10000}
CLIENTS=${CLIENTS:-"1 16 64 256"}
TARGETS=${TARGETS:-"etcd kubesim"}
BENCH_DIR=${BENCH_DIR:-$ROOT/target}
READY_TIMEOUT_S=60
STOP_TIMEOUT_S=15

ETCD_CLIENT_PORTS=(12379 22379 32379)
KUBESIM_CLIENT_PORTS=(13379 23379 33379)

PIDS=()
FAILED_RUNS=0

log() { echo "[bench] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/bench-side-by-side.XXXXXX")

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_started
    if ((status != 0)); then
        for f in "$WORK"/logs/*.log; do
            [[ -f $f ]] || continue
            log "last lines of $f:"
            tail -n 5 "$f" >&2
        done
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        log "kept data and logs in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_etcd() {
    command -v etcd >/dev/null && return
    log "etcd not found: installing Debian's etcd-server"
    local sudo=""
    ((EUID == 0)) || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq etcd-server >/dev/null
    command -v etcd >/dev/null || die "etcd-server did not install an etcd binary"
}

check_ports_free() {
    local port
    for port in "$@"; do
        port_in_use "$port" && die "port $port is in use; stop what listens there first"
        port_in_use "$((port + 1))" && die "port $((port + 1)) is in use; stop what listens there first"
    done
    return 0
}

# start_cluster NAME PORT1 PORT2 PORT3 COMMAND...: three members named NAME-1..3, each running
# COMMAND (etcd, or kubesim store: both take etcd's flags) with the client port PORTn.
start_cluster() {
    local name=$1 ports=("$2" "$3" "$4") cluster="" i
    shift 4
    local command=("$@")
    check_ports_free "${ports[@]}"
    for i in 0 1 2; do
        cluster+="${cluster:+,}$name-$((i + 1))=http://127.0.0.1:$((ports[i] + 1))"
    done
    mkdir -p "$WORK/logs"
    for i in 0 1 2; do
        local member="$name-$((i + 1))" client="http://127.0.0.1:${ports[i]}"
        local peer="http://127.0.0.1:$((ports[i] + 1))"
        "${command[@]}" --name "$member" --data-dir "$WORK/$member" \
            --listen-client-urls "$client" --advertise-client-urls "$client" \
            --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
            --initial-cluster "$cluster" --initial-cluster-token "$name-bench" \
            --initial-cluster-state new >"$WORK/logs/$member.log" 2>&1 &
        PIDS+=($!)
    done
}

endpoints_of() {
    local ports=("$@")
    echo "127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
}

# Ready when every member answers and a linearizable read (which needs a leader) succeeds.
wait_ready() {
    local endpoints=$1 deadline=$((SECONDS + READY_TIMEOUT_S))
    until "$KUBESIM" bench kv --endpoints "$endpoints" --conns 3 --total 1 --json \
        --dial-timeout 1s --command-timeout 2s range health >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "cluster at $endpoints not ready after ${READY_TIMEOUT_S}s"
        sleep 0.5
    done
}

conns_for() { echo $((($1 + 7) / 8)); }

# run_bench TARGET ENDPOINTS OP CLIENTS ARGS...: one run, its JSON kept in $WORK/results.
run_bench() {
    local target=$1 endpoints=$2 op=$3 clients=$4
    shift 4
    local out="$WORK/results/$target.$op.$clients.json"
    mkdir -p "$WORK/results"
    log "$target: $op, $clients clients"
    if ! run_waited "$KUBESIM" bench kv --endpoints "$endpoints" --conns "$(conns_for "$clients")" \
        --clients "$clients" --total "$TOTAL" --json "$@" >"$out"; then
        log "$target: $op at $clients clients failed"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
}

bench_target() {
    local target=$1 endpoints=$2 clients
    for clients in $CLIENTS; do
        run_bench "$target" "$endpoints" put "$clients" \
            put --key-size 8 --val-size 256 --key-space-size 100000 --sequential-keys
    done
    for clients in $CLIENTS; do
        run_bench "$target" "$endpoints" range-l "$clients" range 00000000 --consistency l
        run_bench "$target" "$endpoints" range-s "$clients" range 00000000 --consistency s
    done
}

# field FILE NAME: a number from a one-line JSON report, or "-" if the run left none.
field() {
    local value=""
    [[ -s $1 ]] && value=$(grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2 || true)
    echo "${value:--}"
}

ratio() {
    if [[ $1 == - || $2 == - ]]; then echo -; else awk -v a="$1" -v b="$2" \
        'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }'; fi
}

fmt() { if [[ $1 == - ]]; then echo -; else printf "%.${2}f" "$1"; fi; }

print_table() {
    local op clients e k
    echo
    echo "3 members each, $TOTAL requests per run; ratio = kubesim / etcd"
    echo
    echo "| op | clients | etcd req/s | kubesim req/s | ratio | etcd p50 ms | kubesim p50 ms | etcd p99 ms | kubesim p99 ms | ratio p99 | failed etcd/kubesim |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for op in put range-l range-s; do
        for clients in $CLIENTS; do
            e="$WORK/results/etcd.$op.$clients.json"
            k="$WORK/results/kubesim.$op.$clients.json"
            local e_rps k_rps e_p99 k_p99
            e_rps=$(field "$e" requests_per_s)
            k_rps=$(field "$k" requests_per_s)
            e_p99=$(field "$e" latency_ms_p99)
            k_p99=$(field "$k" latency_ms_p99)
            echo "| $op | $clients | $(fmt "$e_rps" 0) | $(fmt "$k_rps" 0) | $(ratio "$e_rps" "$k_rps") |" \
                "$(fmt "$(field "$e" latency_ms_p50)" 2) | $(fmt "$(field "$k" latency_ms_p50)" 2) |" \
                "$(fmt "$e_p99" 2) | $(fmt "$k_p99" 2) | $(ratio "$e_p99" "$k_p99") |" \
                "$(field "$e" requests_failed)/$(field "$k" requests_failed) |"
        done
    done
}

main() {
    ensure_kubesim
    local target endpoints
    for target in $TARGETS; do
        case $target in
        etcd)
            ensure_etcd
            log "etcd: $(etcd --version | head -n 1)"
            start_cluster etcd "${ETCD_CLIENT_PORTS[@]}" etcd
            endpoints=$(endpoints_of "${ETCD_CLIENT_PORTS[@]}")
            ;;
        kubesim)
            # Warnings only: per-request info logs would be measured as store latency.
            start_cluster kubesim "${KUBESIM_CLIENT_PORTS[@]}" \
                env RUST_LOG="${RUST_LOG:-warn}" "$KUBESIM" store
            endpoints=$(endpoints_of "${KUBESIM_CLIENT_PORTS[@]}")
            ;;
        *) die "unknown target $target (etcd or kubesim)" ;;
        esac
        wait_ready "$endpoints"
        bench_target "$target" "$endpoints"
        # One cluster at a time: the machine's cores go to the cluster being measured.
        stop_started
    done
    print_table
    ((FAILED_RUNS == 0)) || die "$FAILED_RUNS benchmark runs failed (see above)"
}

main "$@"
