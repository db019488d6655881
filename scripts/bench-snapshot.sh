#!/usr/bin/env bash
# Puts through a 3-member kubesim store across its snapshots: starts three `kubesim store`
# members pinned to STORE_CPUS, waits for a leader, then runs RUNS rounds one after another of
#   kubesim bench kv --endpoints LEADER --clients 64 --total $TOTAL put --val-size 1024 ...
# pinned to BENCH_CPUS, and prints one line per round: puts/s, p99 and max latency, failures
# and their errors. With the default --snapshot-count (100,000) and TOTAL=20000, a snapshot
# falls after every fifth round; a member that stops while it snapshots shows up as a slow
# round with failures (`leader changed`, timeouts) and a max latency of seconds.
#
# Usage: scripts/bench-snapshot.sh        (builds target/perf/kubesim first if it is missing)
# Environment:
#   KUBESIM=target/perf/kubesim   the binary to run
#   RUNS=12 TOTAL=20000 CLIENTS=64 VAL_SIZE=1024
#   STORE_CPUS=0 BENCH_CPUS=1      taskset CPU lists for the members and the benchmark
#   BASE_PORT=14379                client ports BASE, BASE+20000, BASE+30000 (peers +1);
#                                  moved up until free
#   BENCH_DIR=target KEEP=1        where the data dir goes; keep it and the logs afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBESIM=${KUBESIM:-$ROOT/target/perf/kubesim}
RUNS=${RUNS:-12}
TOTAL=${TOTAL:-20000}
CLIENTS=${CLIENTS:-64}
VAL_SIZE=${VAL_SIZE:-1024}
STORE_CPUS=${STORE_CPUS:-0}
BENCH_CPUS=${BENCH_CPUS:-1}
BASE_PORT=${BASE_PORT:-14379}
SECURE_PORT=${SECURE_PORT:-16443} # unused; pick_free_ports checks it too
BENCH_DIR=${BENCH_DIR:-$ROOT/target}
STOP_TIMEOUT_S=20
PORT_TRIES=50
LEADER_TIMEOUT_S=30

PIDS=()
log() { echo "[bench-snapshot] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=scripts/lib/up-cluster.sh
source "$ROOT/scripts/lib/up-cluster.sh"

command -v etcdctl >/dev/null || die "needs etcdctl (Debian's etcd-client) to find the leader"
ensure_kubesim
make_work bench-snapshot
DATA=$WORK/data

leader() {
    local deadline=$((SECONDS + LEADER_TIMEOUT_S)) found=""
    while [[ -z $found ]]; do
        ((SECONDS < deadline)) || die "no leader after ${LEADER_TIMEOUT_S}s"
        sleep 0.5
        found=$(etcdctl --endpoints "$(endpoints)" endpoint status 2>/dev/null |
            awk -F', ' '$5 == "true" { print $1 }' | head -n 1 || true)
    done
    echo "$found"
}

# One round's JSON line as "puts/s p99 max failed errors".
summary() {
    python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("%8.0f puts/s  p99 %7.1f ms  max %8.1f ms  failed %d  %s" % (
    r["requests_per_s"], r["latency_ms_p99"], r["latency_ms_max"],
    r["requests_failed"], json.dumps(r.get("errors") or {})))'
}

pick_free_ports
start_members s bench-snapshot "$STORE_CPUS"
LEADER=$(leader)
log "leader $LEADER; $RUNS rounds of $TOTAL puts of $VAL_SIZE bytes by $CLIENTS clients"
for round in $(seq 1 "$RUNS"); do
    out=$(run_waited taskset -c "$BENCH_CPUS" "$KUBESIM" bench kv --endpoints "$LEADER" \
        --clients "$CLIENTS" --total "$TOTAL" --json put --val-size "$VAL_SIZE" \
        --key-size 40 --key-space-size 1000000 --sequential-keys) || die "round $round failed to run"
    echo "round $round: $(summary <<<"$out")"
done
echo "leader at the end: $(leader) (at the start: $LEADER)"
