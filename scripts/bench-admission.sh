#!/usr/bin/env bash
# Benchmarks admission webhooks: pod creates through the API server's whole chain (`kubesim
# bench api create`) under five webhook set-ups, one after another in ONE `kubesim up`
# (so every set-up writes to the same store members, whose leader placement would otherwise
# differ from cluster to cluster and move write throughput by more than a webhook does):
#   none         no webhook configuration,
#   grpc         one mutating webhook, kubesim's gRPC transport
#                (annotation admission.kubesim.io/transport: grpc),
#   https        one mutating webhook, AdmissionReview v1 JSON over HTTPS (kube's),
#   chain5       five mutating webhooks, called one after another (each sees the previous
#                one's patch),
#   validating5  five validating webhooks, called all at once,
# and then `none` again, to show how much the cluster drifted (it holds more pods each time).
# Each webhook is its own `kubesim webhook` process on a free port, serving the cluster's
# apiserver.crt (SAN 127.0.0.1; caBundle = ca.crt): the mutating ones are label-injector
# with a label of their own (so every patch changes something), the validating ones
# audit-sink (allows everything). Each set-up is one configuration (failurePolicy Fail,
# timeoutSeconds 10, sideEffects None, pods CREATE). After swapping configurations the
# script waits until a dry-run create shows exactly the new set's labels (and, for
# validating5, until every sink has recorded it), so the API server's webhook set has the
# change; then one unmeasured create run (WARMUP, at the largest client count) opens the
# webhook connections, and the measured runs follow.
#
# Usage: scripts/bench-admission.sh   (builds target/perf/kubesim first if it is missing)
# Environment:
#   KUBESIM=target/perf/kubesim   the binary to run (built with --profile perf if missing)
#   CLIENTS="1 16"                concurrent creates
#   TOTAL=3000                    creates per measured run
#   WARMUP=300                    unmeasured creates after each swap
#   CONFIGS="none grpc https chain5 validating5 none"
#                                 the set-ups, in order; ratios are to the first `none`
#   CHAIN_TRANSPORT=https         transport of chain5 and validating5 (https or grpc)
#   BASE_PORT=14379 SECURE_PORT=16443 WEBHOOK_PORT=19443
#                                 store client ports BASE, BASE+20000, BASE+30000 (peers +1),
#                                 the API server, the first webhook; moved up until free
#   BENCH_DIR=target              where the temporary data dir goes (not /tmp: it may be tmpfs)
#   KEEP=1                        keep data, logs and the JSON results afterwards
#
# Everything it starts is stopped on exit, error or Ctrl-C (trap), by pid.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBESIM=${KUBESIM:-$ROOT/target/perf/kubesim}
CLIENTS=${CLIENTS:-"1 16"}
TOTAL=${TOTAL:-3000}
WARMUP=${WARMUP:-300}
CONFIGS=${CONFIGS:-"none grpc https chain5 validating5 none"}
CHAIN_TRANSPORT=${CHAIN_TRANSPORT:-https}
BASE_PORT=${BASE_PORT:-14379}
SECURE_PORT=${SECURE_PORT:-16443}
WEBHOOK_PORT=${WEBHOOK_PORT:-19443}
BENCH_DIR=${BENCH_DIR:-$ROOT/target}
NAMESPACE=bench-admission
CHAIN=5
READY_TIMEOUT_S=90
WEBHOOK_READY_TIMEOUT_S=20
SWAP_TIMEOUT_S=30
STOP_TIMEOUT_S=20
PORT_TRIES=50
START_TRIES=3
ADMISSION_API=/apis/admissionregistration.k8s.io/v1

PIDS=()
UP_PID=""
WEBHOOK_PIDS=()
WEBHOOK_PORTS=()
FAILED_RUNS=0
PROBES=0

log() { echo "[bench-admission] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=scripts/lib/up-cluster.sh
source "$ROOT/scripts/lib/up-cluster.sh"

make_work bench-admission
UP_LOG=$WORK/logs/up.log
DATA=$WORK/data
PKI=$DATA/pki

# --- the cluster -------------------------------------------------------------------------

start_cluster() {
    pick_free_ports
    rm -rf "$DATA"
    mkdir -p "$DATA"
    log "kubesim up: store $(endpoints), API server 127.0.0.1:$SECURE_PORT"
    # Warnings only: per-request info logs would be measured as server latency.
    RUST_LOG="${RUST_LOG:-warn}" "$KUBESIM" up --data-dir "$DATA" --base-port "$BASE_PORT" \
        --secure-port "$SECURE_PORT" >"$WORK/logs/up.log" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
}

# curl_admin ARGS...: a request to the API server with the admin's client certificate.
curl_admin() {
    curl -s --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
        --key "$PKI/admin.key" "$@"
}

api() { echo "https://127.0.0.1:$SECURE_PORT$1"; }

# Ready when /readyz answers 200 (it checks the store too). Fails (status 1) if `up` exited.
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until [[ -f $PKI/admin.key && -f $DATA/kubeconfig ]] &&
        curl_admin -f -o /dev/null "$(api /readyz)"; do
        if ! kill -0 "$UP_PID" 2>/dev/null; then
            stop_started
            return 1
        fi
        ((SECONDS < deadline)) || die "API server not ready after ${READY_TIMEOUT_S}s"
        sleep 0.5
    done
}

# start_ready: start_cluster until it is ready. A port taken between the check and the bind
# moves the ports up and tries again.
start_ready() {
    local tries=0
    until start_cluster && wait_ready; do
        grep -q "Address already in use" "$WORK/logs/up.log" || die "kubesim up exited"
        ((tries < START_TRIES)) || die "kubesim up found a port taken $START_TRIES times"
        log "a port was taken; moving up"
        BASE_PORT=$((BASE_PORT + 2))
        SECURE_PORT=$((SECURE_PORT + 1))
        tries=$((tries + 1))
    done
}

# The member the API server writes to is the first endpoint; whether it leads changes the
# cost of every write (a follower forwards), so the log says.
log_leader() {
    command -v etcdctl >/dev/null || return 0
    local leader
    leader=$(timeout 10 etcdctl --endpoints "$(endpoints)" endpoint status 2>/dev/null |
        awk -F', ' '$5 == "true" { print $1 }' || true)
    log "store leader: ${leader:-unknown}; the API server writes to 127.0.0.1:$BASE_PORT"
}

ensure_namespace() {
    local code
    code=$(curl_admin -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NAMESPACE\"}}" \
        "$(api /api/v1/namespaces)" || true)
    [[ $code == 201 || $code == 409 ]] || die "creating namespace $NAMESPACE answered $code"
}

# --- the webhooks ------------------------------------------------------------------------

# start_webhook NAME SAMPLE-FLAGS...: `kubesim webhook` on the next free port from
# WEBHOOK_PORT, until /healthz answers; its port appended to WEBHOOK_PORTS.
start_webhook() {
    local name=$1 tries=0 pid deadline
    shift
    while :; do
        while port_in_use "$WEBHOOK_PORT"; do
            ((tries < PORT_TRIES)) || die "no free port near WEBHOOK_PORT; set another"
            WEBHOOK_PORT=$((WEBHOOK_PORT + 1))
            tries=$((tries + 1))
        done
        RUST_LOG="${RUST_LOG:-warn}" "$KUBESIM" webhook "$@" \
            --bind-address "127.0.0.1:$WEBHOOK_PORT" --tls-cert-file "$PKI/apiserver.crt" \
            --tls-private-key-file "$PKI/apiserver.key" --seed 1 \
            >"$WORK/logs/webhook.$name.log" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        WEBHOOK_PIDS+=("$pid")
        deadline=$((SECONDS + WEBHOOK_READY_TIMEOUT_S))
        until [[ $(curl -s --max-time 2 --cacert "$PKI/ca.crt" \
            "https://127.0.0.1:$WEBHOOK_PORT/healthz" || true) == ok ]]; do
            kill -0 "$pid" 2>/dev/null || break
            ((SECONDS < deadline)) || die "webhook $name not healthy after ${WEBHOOK_READY_TIMEOUT_S}s"
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            WEBHOOK_PORTS+=("$WEBHOOK_PORT")
            WEBHOOK_PORT=$((WEBHOOK_PORT + 1))
            return
        fi
        # Exited: a port taken between the check and the bind gets another try.
        grep -q "Address already in use" "$WORK/logs/webhook.$name.log" ||
            die "webhook $name exited: $(tail -n 3 "$WORK/logs/webhook.$name.log")"
        ((tries < PORT_TRIES)) || die "webhook $name found its port taken $PORT_TRIES times"
        WEBHOOK_PORT=$((WEBHOOK_PORT + 1))
        tries=$((tries + 1))
    done
}

# Stops this set-up's webhooks by pid (SIGTERM, SIGKILL after STOP_TIMEOUT_S) and forgets
# them; the cluster keeps running.
stop_webhooks() {
    local pid waited=0 kept=() p stopped
    for pid in "${WEBHOOK_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${WEBHOOK_PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT_S * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        stopped=0
        for pid in "${WEBHOOK_PIDS[@]}"; do [[ $p == "$pid" ]] && stopped=1; done
        ((stopped)) || kept+=("$p")
    done
    PIDS=("${kept[@]}")
    WEBHOOK_PIDS=()
    WEBHOOK_PORTS=()
}

# The webhooks' CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
webhook_ticks() {
    local pid total=0 stat rest fields
    for pid in "${WEBHOOK_PIDS[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${stat##*) }
        read -r -a fields <<<"$rest"
        # After "pid (comm) ": field 3 is the state, so utime (14) and stime (15) are 11, 12.
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# --- the configurations ------------------------------------------------------------------

# webhook_json NAME PORT: one webhook entry of a configuration.
webhook_json() {
    printf '{"name":"%s","clientConfig":{"url":"https://127.0.0.1:%s/","caBundle":"%s"},' \
        "$1" "$2" "$CA_BUNDLE"
    printf '"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],'
    printf '"resources":["pods"]}],"failurePolicy":"Fail","sideEffects":"None",'
    printf '"timeoutSeconds":10,"admissionReviewVersions":["v1"]}'
}

# configuration_json KIND NAME TRANSPORT WEBHOOK-NAMES...: a Mutating- or
# ValidatingWebhookConfiguration whose webhooks use WEBHOOK_PORTS in order.
configuration_json() {
    local kind=$1 name=$2 transport=$3 i=0 hook sep=""
    shift 3
    printf '{"apiVersion":"admissionregistration.k8s.io/v1","kind":"%s",' "$kind"
    printf '"metadata":{"name":"%s","annotations":{"admission.kubesim.io/transport":"%s"}},' \
        "$name" "$transport"
    printf '"webhooks":['
    for hook in "$@"; do
        printf '%s%s' "$sep" "$(webhook_json "$hook" "${WEBHOOK_PORTS[$i]}")"
        sep=,
        i=$((i + 1))
    done
    printf ']}'
}

# create_configuration KIND-PLURAL JSON
create_configuration() {
    local code
    code=$(curl_admin -o "$WORK/logs/configuration.answer" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' --data "$2" "$(api "$ADMISSION_API/$1")" || true)
    [[ $code == 201 ]] || die "creating a $1 answered $code: $(head -c 400 "$WORK/logs/configuration.answer")"
}

# Deletes the script's configurations, whichever exist.
delete_configurations() {
    local plural code
    for plural in mutatingwebhookconfigurations validatingwebhookconfigurations; do
        code=$(curl_admin -o /dev/null -w '%{http_code}' -X DELETE \
            "$(api "$ADMISSION_API/$plural/bench-admission")" || true)
        [[ $code == 200 || $code == 404 ]] || die "deleting $plural/bench-admission answered $code"
    done
}

# The labels each set-up's mutating webhooks add, one key=value a line ("" for none).
expected_labels() {
    local i
    case $1 in
    grpc) echo "bench-grpc=added" ;;
    https) echo "bench-https=added" ;;
    chain5) for i in $(seq 1 "$CHAIN"); do echo "bench-chain-$i=added"; done ;;
    esac
}

# Every label any set-up adds, for telling the current set from a stale one.
ALL_LABELS="bench-grpc bench-https $(for i in $(seq 1 "$CHAIN"); do printf 'bench-chain-%s ' "$i"; done)"

# start_set NAME: the webhooks and the configuration of one set-up.
start_set() {
    local i hooks=()
    case $1 in
    none) ;;
    grpc | https)
        start_webhook "$1" label-injector --labels "$(expected_labels "$1")"
        create_configuration mutatingwebhookconfigurations \
            "$(configuration_json MutatingWebhookConfiguration bench-admission "$1" \
                "label-$1.bench.kubesim.io")"
        ;;
    chain5)
        for i in $(seq 1 "$CHAIN"); do
            start_webhook "chain-$i" label-injector --labels "bench-chain-$i=added"
            hooks+=("label-$i.bench.kubesim.io")
        done
        create_configuration mutatingwebhookconfigurations \
            "$(configuration_json MutatingWebhookConfiguration bench-admission \
                "$CHAIN_TRANSPORT" "${hooks[@]}")"
        ;;
    validating5)
        for i in $(seq 1 "$CHAIN"); do
            start_webhook "sink-$i" audit-sink
            hooks+=("audit-$i.bench.kubesim.io")
        done
        create_configuration validatingwebhookconfigurations \
            "$(configuration_json ValidatingWebhookConfiguration bench-admission \
                "$CHAIN_TRANSPORT" "${hooks[@]}")"
        ;;
    *) die "unknown configuration $1" ;;
    esac
}

# webhook_count NAME
webhook_count() {
    case $1 in
    none) echo 0 ;;
    grpc | https) echo 1 ;;
    *) echo "$CHAIN" ;;
    esac
}

# probe_matches NAME: one dry-run create of a new pod; true when it was admitted with
# exactly NAME's labels added and, for validating5, every sink recorded it.
probe_matches() {
    local name=$1 pod answer code label port key
    PROBES=$((PROBES + 1))
    pod=bench-admission-probe-$PROBES
    answer=$WORK/logs/probe.answer
    code=$(curl_admin -o "$answer" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$pod\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"registry.k8s.io/pause:3.10\"}]}}" \
        "$(api "/api/v1/namespaces/$NAMESPACE/pods?dryRun=All")" || true)
    [[ $code == 201 ]] || return 1
    for key in $ALL_LABELS; do
        if expected_labels "$name" | grep -q "^$key="; then
            grep -Eq "\"$key\": *\"added\"" "$answer" || return 1
        else
            grep -Eq "\"$key\":" "$answer" && return 1
        fi
    done
    if [[ $name == validating5 ]]; then
        for port in "${WEBHOOK_PORTS[@]}"; do
            curl -s --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$port/records" |
                grep -q "\"name\": *\"$pod\"" || return 1
        done
    fi
    return 0
}

# Until the API server's webhook set is NAME's (it compiles the configurations from its
# watch, so a change shows after a moment): a stale configuration either adds the wrong
# labels or, its webhook stopped, fails the probe (failurePolicy Fail).
wait_swapped() {
    local deadline=$((SECONDS + SWAP_TIMEOUT_S)) start=$SECONDS
    until probe_matches "$1"; do
        ((SECONDS < deadline)) ||
            die "$1: the webhook set did not change within ${SWAP_TIMEOUT_S}s (last probe: $(head -c 300 "$WORK/logs/probe.answer"))"
        sleep 0.2
    done
    log "$1: in effect after $((SECONDS - start))s ($PROBES probes so far)"
}

# --- the runs ----------------------------------------------------------------------------

# bench NAME CLIENTS TOTAL: one `bench api create`, its JSON lines in $RESULTS/NAME.json,
# the webhooks' CPU ticks in NAME.wticks, the load average at its start in NAME.load.
bench() {
    local name=$1 clients=$2 total=$3 before
    cut -d' ' -f1 /proc/loadavg >"$RESULTS/$name.load"
    log "$name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    before=$(webhook_ticks)
    if ! run_waited "$KUBESIM" bench api --server "$(api "")" --certs-dir "$PKI" \
        --endpoints "$(endpoints)" --server-pid "$UP_PID" --namespace "$NAMESPACE" \
        --clients "$clients" --total "$total" --json create >"$RESULTS/$name.json"; then
        log "$name failed"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
    echo $(($(webhook_ticks) - before)) >"$RESULTS/$name.wticks"
}

# Connections from the API server to each webhook, after a run: one per gRPC target, up
# to the concurrency for HTTPS (HTTP/1.1), which shows which transport was used.
log_connections() {
    local port counts=""
    for port in "${WEBHOOK_PORTS[@]}"; do
        counts+="$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l) "
    done
    [[ -z $counts ]] || log "$1: connections to each webhook: $counts"
}

# The pod creates each sink has recorded (records kept + dropped), after the runs.
log_records() {
    local port answer counts=""
    for port in "${WEBHOOK_PORTS[@]}"; do
        answer=$(curl -s --max-time 5 --cacert "$PKI/ca.crt" "https://127.0.0.1:$port/records" || true)
        counts+="$(($(grep -o '"name":' <<<"$answer" | wc -l) + $(grep -o '"dropped": *[0-9]*' <<<"$answer" | grep -o '[0-9]*$' || echo 0))) "
    done
    log "$1: pod creates recorded by each sink: $counts"
}

# run_config INDEX NAME
run_config() {
    local index=$1 name=$2 c max=0
    delete_configurations
    stop_webhooks
    start_set "$name"
    wait_swapped "$name"
    for c in $CLIENTS; do ((c > max)) && max=$c; done
    log "$name: warm-up, $WARMUP creates at $max clients"
    if ! run_waited "$KUBESIM" bench api --server "$(api "")" --certs-dir "$PKI" \
        --endpoints "$(endpoints)" --namespace "$NAMESPACE" --clients "$max" \
        --total "$WARMUP" --json create >"$RESULTS/$index.$name.warmup.json"; then
        die "$name: the warm-up failed"
    fi
    for c in $CLIENTS; do bench "$index.$name.$c" "$c" "$TOTAL"; done
    log_connections "$name"
    [[ $name != validating5 ]] || log_records "$name"
}

# --- the table ---------------------------------------------------------------------------

# field FILE ROW NAME: a number from the JSON line of ROW, or "-" if the run left none.
field() {
    local value=""
    [[ -s $1 ]] && value=$(grep "\"row\":\"$2\"" "$1" | grep -o "\"$3\":[0-9.]*" | head -n 1 |
        cut -d: -f2 || true)
    echo "${value:--}"
}

# calc EXPR A B: awk's A EXPR B, "-" when either is unknown.
calc() {
    if [[ $2 == - || $3 == - ]]; then echo -; else awk -v a="$2" -v b="$3" "BEGIN { print $1 }"; fi
}

label() {
    case $1 in
    none) echo "(a) no webhooks" ;;
    grpc) echo "(b) 1 mutating, gRPC" ;;
    https) echo "(c) 1 mutating, HTTPS AdmissionReview" ;;
    chain5) echo "(d) 5 mutating, sequential ($CHAIN_TRANSPORT)" ;;
    validating5) echo "(e) 5 validating, parallel ($CHAIN_TRANSPORT)" ;;
    esac
}

# row INDEX NAME CLIENTS BASE-INDEX
row() {
    local f=$RESULTS/$1.$2.$3 base=$RESULTS/$4.none.$3 rps p50 p99 brps bp50 bp99 n
    local added wticks wcpu cpu
    rps=$(field "$f.json" api-create requests_per_s)
    p50=$(field "$f.json" api-create latency_ms_p50)
    p99=$(field "$f.json" api-create latency_ms_p99)
    brps=$(field "$base.json" api-create requests_per_s)
    bp50=$(field "$base.json" api-create latency_ms_p50)
    bp99=$(field "$base.json" api-create latency_ms_p99)
    cpu=$(field "$f.json" api-create server_cpu_us_per_request)
    n=$(webhook_count "$2")
    added=$(calc 'a - b' "$p50" "$bp50")
    wticks=$(cat "$f.wticks" 2>/dev/null || echo -)
    wcpu=$(calc "a * 1e6 / $(getconf CLK_TCK) / b" "$wticks" "$TOTAL")
    local name
    name=$(label "$2")
    [[ $1 == "$4" || $2 != none ]] || name="$name, again"
    echo "| $name | $3 | $(fmt "$rps" 0) | $(fmt "$p50" 2) | $(fmt "$p99" 2) |" \
        "$(fmt "$(calc 'b == 0 ? "-" : a / b' "$rps" "$brps")" 2) |" \
        "$(fmt "$(calc 'b == 0 ? "-" : a / b' "$p50" "$bp50")" 2) |" \
        "$(fmt "$(calc 'b == 0 ? "-" : a / b' "$p99" "$bp99")" 2) |" \
        "$(fmt "$added" 2) |" \
        "$(if ((n > 0)); then fmt "$(calc "a / $n" "$added" 0)" 2; else echo -; fi) |" \
        "$(fmt "$cpu" 0) | $(if ((n > 0)); then fmt "$wcpu" 0; else echo -; fi) |" \
        "$(field "$f.json" api-create requests_failed) | $(cat "$f.load" 2>/dev/null || echo -) |"
}

print_table() {
    local c index base="" name
    index=0
    for name in $CONFIGS; do
        index=$((index + 1))
        [[ $name == none && -z $base ]] && base=$index
    done
    echo
    echo "Pod creates (POST, ~1 KiB body) as the admin over one HTTP/2 connection, $TOTAL per run,"
    echo "after $WARMUP unmeasured; one cluster, the set-ups in the order listed. Ratios are to"
    echo "(a) at the same clients (creates/s: higher is better; latency: lower is better);"
    echo "added = p50 minus (a)'s; server CPU = the kubesim up process's per create (store and"
    echo "API server); webhook CPU = all the set-up's webhook processes' per create; load = 1-min"
    echo "load average at the start of the run"
    echo
    echo "| set-up | clients | creates/s | p50 ms | p99 ms | creates/s ratio | p50 ratio | p99 ratio | added p50 ms | added p50 ms per webhook | server CPU us | webhook CPU us | failed | load |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CLIENTS; do
        index=0
        for name in $CONFIGS; do
            index=$((index + 1))
            row "$index" "$name" "$c" "${base:-0}"
        done
    done
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
    local index=0 name
    [[ $CHAIN_TRANSPORT == https || $CHAIN_TRANSPORT == grpc ]] ||
        die "CHAIN_TRANSPORT must be https or grpc"
    ensure_kubesim
    "$KUBESIM" webhook --help >/dev/null 2>&1 || die "$KUBESIM has no 'webhook' (rebuild it)"
    log "kubesim: $KUBESIM; work dir $WORK; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    start_ready
    CA_BUNDLE=$(base64 -w0 <"$PKI/ca.crt")
    log "cluster ready"
    log_leader
    ensure_namespace
    for name in $CONFIGS; do
        index=$((index + 1))
        run_config "$index" "$name"
    done
    delete_configurations
    log_leader
    stop_started
    log "done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    print_table
    ((FAILED_RUNS == 0)) || die "$FAILED_RUNS benchmark runs failed (see above)"
}

main "$@"
