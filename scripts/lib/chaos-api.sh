# The API server scenarios of scripts/chaos.sh (sourced after chaos-common.sh, not run).
#
#   scenario_pause_webhook   docker pause each webhook: Fail refuses within timeoutSeconds,
#                            Ignore admits (without the mutation) within timeoutSeconds
#   scenario_kill_apiserver  docker kill apiserver-1 while creating and watching through
#                            apiserver-2: every create is delivered once; apiserver-1 returns
#
# Helpers:
#   api_credentials          the kubeconfig's CA, client certificate and key (or token) as
#                            curl flags in CURL_AUTH
#   api METHOD URL [BODY]    one request: API_CODE, API_MS, the body in $WORK/resp
#   api_ready URL            GET /readyz answers 200
#   pod_json NAME [PRIV]     a pod manifest in $WORK/pod-NAME.json (privileged when PRIV=1)
#
# curl, not kubectl, makes the requests: the checks need the exact status code, the Status
# body and the time of each request.

CURL_AUTH=()

api_credentials() {
    [[ -r $KUBECONFIG ]] || fail "no kubeconfig at $KUBECONFIG (set KUBECONFIG)"
    local view=(kubectl --kubeconfig "$KUBECONFIG" config view --raw --minify --flatten -o) token
    "${view[@]}" 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$WORK/ca.crt"
    [[ -s $WORK/ca.crt ]] || fail "no certificate authority in $KUBECONFIG"
    CURL_AUTH=(--cacert "$WORK/ca.crt")
    token=$("${view[@]}" 'jsonpath={.users[0].user.token}')
    if [[ -n $token ]]; then
        CURL_AUTH+=(-H "Authorization: Bearer $token")
        return
    fi
    "${view[@]}" 'jsonpath={.users[0].user.client-certificate-data}' | base64 -d >"$WORK/client.crt"
    "${view[@]}" 'jsonpath={.users[0].user.client-key-data}' | base64 -d >"$WORK/client.key"
    [[ -s $WORK/client.crt && -s $WORK/client.key ]] || fail "no client certificate or token in $KUBECONFIG"
    CURL_AUTH+=(--cert "$WORK/client.crt" --key "$WORK/client.key")
}

api() {
    local method=$1 url=$2 body=${3:-} start
    local args=(-sS -X "$method" --max-time "$REQUEST_TIMEOUT_S" "${CURL_AUTH[@]}" -o "$WORK/resp" -w '%{http_code}')
    [[ -z $body ]] || args+=(-H 'Content-Type: application/json' --data-binary "@$body")
    now_ms
    start=$REPLY
    API_CODE=$(curl "${args[@]}" "$url" 2>"$WORK/curl-err") || true
    now_ms
    API_MS=$((REPLY - start))
}

api_ready() {
    api GET "$1/readyz"
    [[ $API_CODE == 200 ]]
}

# The Status body of the last response, as "code reason message".
status_line() { python3 "$CHECK" status-body "$WORK/resp"; }

pod_json() {
    local privileged=false
    [[ ${2:-0} == 1 ]] && privileged=true
    cat >"$WORK/pod-$1.json" <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","labels":{"app":"chaos"}},
 "spec":{"containers":[{"name":"app","image":"registry.k8s.io/pause:3.9",
  "securityContext":{"privileged":$privileged}}]}}
EOF
    REPLY=$WORK/pod-$1.json
}

create_namespace() {
    local server=$1 ns=$2
    printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$ns" >"$WORK/ns.json"
    api POST "$server/api/v1/namespaces" "$WORK/ns.json"
    [[ $API_CODE == 201 ]] || fail "creating namespace $ns: $API_CODE $(status_line)"
    on_cleanup curl -sS -o /dev/null -X DELETE --max-time 10 "${CURL_AUTH[@]}" "$server/api/v1/namespaces/$ns"
}

# NAME POLICY TIMEOUT of the KIND (validating|mutating) webhook that calls SERVICE.
webhook_info() {
    api GET "$APISERVER_1/apis/admissionregistration.k8s.io/v1/${1}webhookconfigurations"
    [[ $API_CODE == 200 ]] || fail "listing ${1}webhookconfigurations: $API_CODE"
    REPLY=$(python3 "$CHECK" webhook "$1" "$2" <"$WORK/resp" 2>&1) || fail "$REPLY"
}

# Labels the object in the last response has that the manifest $1 did not.
added_labels() {
    python3 "$CHECK" labels "$WORK/resp" >"$WORK/labels-got"
    python3 "$CHECK" labels "$1" >"$WORK/labels-sent"
    REPLY=$(comm -23 "$WORK/labels-got" "$WORK/labels-sent" | paste -sd, -)
}

pause_service() {
    container "$1"
    PAUSED=$REPLY
    on_cleanup docker unpause "$PAUSED"
    docker_ pause "$PAUSED" >/dev/null || fail "docker pause $1 failed"
}

unpause_service() {
    docker_ unpause "$PAUSED" >/dev/null || fail "docker unpause failed"
    unset 'CLEANUPS[-1]'
}

# V_NAME V_POLICY V_TIMEOUT and M_NAME M_POLICY M_TIMEOUT: the webhooks the deployment
# registered for the two services; the scenario is about Fail and Ignore, so check them.
read_webhooks() {
    webhook_info validating "$VALIDATING_WEBHOOK_SERVICE"
    read -r V_NAME V_POLICY V_TIMEOUT <<<"$REPLY"
    webhook_info mutating "$MUTATING_WEBHOOK_SERVICE"
    read -r M_NAME M_POLICY M_TIMEOUT <<<"$REPLY"
    log "validating $V_NAME: failurePolicy $V_POLICY, timeoutSeconds $V_TIMEOUT; mutating $M_NAME: failurePolicy $M_POLICY, timeoutSeconds $M_TIMEOUT"
    [[ $V_POLICY == Fail && $M_POLICY == Ignore ]] ||
        fail "expected $V_NAME with Fail and $M_NAME with Ignore (the deployment's configuration)"
}

# Both webhooks up: INJECTED is what the mutating one adds, and the validating one really is
# in the path (it denies a privileged pod).
webhooks_baseline() {
    pod_json before
    api POST "$PODS_URL" "$REPLY"
    [[ $API_CODE == 201 ]] || fail "create with both webhooks up: $API_CODE $(status_line)"
    added_labels "$WORK/pod-before.json"
    INJECTED=$REPLY
    [[ -n $INJECTED ]] || fail "$M_NAME added no label with everything up: nothing to miss under Ignore"
    pod_json privileged 1
    api POST "$PODS_URL" "$REPLY"
    [[ $API_CODE == 403 && $(status_line) == *"admission webhook \"$V_NAME\" denied the request"* ]] ||
        fail "a privileged pod with $V_NAME up: expected 403 from it, got $API_CODE $(status_line)"
    log "both up: $M_NAME added $INJECTED; $V_NAME denied a privileged pod ($API_CODE)"
}

# The validating webhook (Fail) frozen: kube's 500 within its timeout, and nothing stored.
create_with_fail_paused() {
    local code reason message
    log "docker pause $VALIDATING_WEBHOOK_SERVICE"
    pause_service "$VALIDATING_WEBHOOK_SERVICE"
    pod_json during-fail
    api POST "$PODS_URL" "$REPLY"
    FAIL_MS=$API_MS
    read -r code reason message <<<"$(status_line)"
    log "create with $V_NAME paused: $API_CODE in $(secs "$FAIL_MS")s: $code $reason $message"
    [[ $API_CODE == 500 && $reason == InternalError && $message == *"failed calling webhook \"$V_NAME\""*"context deadline exceeded"* ]] ||
        fail "expected kube's 500 InternalError 'failed calling webhook \"$V_NAME\": … context deadline exceeded' under Fail, got $API_CODE $code $reason $message"
    ((FAIL_MS <= (V_TIMEOUT + WEBHOOK_MARGIN_S) * 1000)) ||
        fail "refused after $(secs "$FAIL_MS")s, over timeoutSeconds $V_TIMEOUT + ${WEBHOOK_MARGIN_S}s (RELIABILITY.md property 11)"
    api GET "$PODS_URL/during-fail"
    [[ $API_CODE == 404 ]] || fail "the refused pod is stored ($API_CODE; RELIABILITY.md property 10)"
    unpause_service
}

# The mutating webhook (Ignore) frozen: admitted within its timeout, without its labels.
create_with_ignore_paused() {
    log "docker pause $MUTATING_WEBHOOK_SERVICE"
    pause_service "$MUTATING_WEBHOOK_SERVICE"
    pod_json during-ignore
    api POST "$PODS_URL" "$REPLY"
    IGNORE_MS=$API_MS
    [[ $API_CODE == 201 ]] || fail "create with $M_NAME (Ignore) paused: $API_CODE $(status_line) (RELIABILITY.md property 10)"
    added_labels "$WORK/pod-during-ignore.json"
    log "create with $M_NAME paused: 201 in $(secs "$IGNORE_MS")s, labels added: ${REPLY:-none}"
    [[ -z $REPLY ]] || fail "$M_NAME was paused, yet the pod got the labels $REPLY"
    ((IGNORE_MS <= (M_TIMEOUT + WEBHOOK_MARGIN_S) * 1000)) ||
        fail "admitted after $(secs "$IGNORE_MS")s, over timeoutSeconds $M_TIMEOUT + ${WEBHOOK_MARGIN_S}s (RELIABILITY.md property 11)"
    unpause_service
}

scenario_pause_webhook() {
    api_credentials
    wait_until "$READY_TIMEOUT_S" "$APISERVER_1/readyz" api_ready "$APISERVER_1"
    read_webhooks
    local ns=chaos-webhook-$RUN_ID
    create_namespace "$APISERVER_1" "$ns"
    PODS_URL=$APISERVER_1/api/v1/namespaces/$ns/pods
    webhooks_baseline
    create_with_fail_paused
    create_with_ignore_paused
    pod_json after
    api POST "$PODS_URL" "$REPLY"
    [[ $API_CODE == 201 ]] || fail "create after unpausing both: $API_CODE $(status_line)"
    added_labels "$WORK/pod-after.json"
    [[ $REPLY == "$INJECTED" ]] || fail "after unpausing, $M_NAME added '${REPLY}', not '$INJECTED'"
    ok "$V_NAME (Fail, ${V_TIMEOUT}s) paused: 500 in $(secs "$FAIL_MS")s, nothing stored; $M_NAME (Ignore, ${M_TIMEOUT}s) paused: 201 in $(secs "$IGNORE_MS")s without $INJECTED; both back after unpause"
}

# Creates PODS pods through apiserver-2, killing apiserver-1 after KILL_AFTER of them; the
# names of the acknowledged ones go to $WORK/created, the codes of the others to $WORK/refused;
# MAX_CREATE_MS_AFTER is the slowest create after the kill.
create_pods_killing() {
    local pods_url=$1 cid=$2 i name
    : >"$WORK/created"
    : >"$WORK/refused"
    MAX_CREATE_MS_AFTER=0
    for ((i = 1; i <= PODS; i++)); do
        if ((i == KILL_AFTER + 1)); then
            log "docker kill $APISERVER_1_SERVICE"
            spawn_fault KILLER docker_ kill "$cid"
        fi
        printf -v name 'pod-%03d' "$i"
        pod_json "$name"
        api POST "$pods_url" "$REPLY"
        if [[ $API_CODE == 201 ]]; then
            echo "$name" >>"$WORK/created"
            ((i <= KILL_AFTER)) || ((API_MS <= MAX_CREATE_MS_AFTER)) || MAX_CREATE_MS_AFTER=$API_MS
        else
            echo "$name $API_CODE $(status_line)" >>"$WORK/refused"
        fi
        sleep "$CREATE_INTERVAL_S"
    done
}

watch_delivered() { python3 "$CHECK" watch "$WORK/watch" "$WORK/created" >/dev/null 2>&1; }

# apiserver-1, started again, is ready within READY_TIMEOUT_S and lists every pod created
# while it was down (it reads the store, not a cache it had). READY_MS: from docker start.
apiserver_comes_back() {
    local cid=$1 ns=$2 start
    log "docker start $APISERVER_1_SERVICE"
    now_ms
    start=$REPLY
    docker_ start "$cid" >/dev/null || fail "docker start $APISERVER_1_SERVICE failed"
    wait_until "$READY_TIMEOUT_S" "$APISERVER_1_SERVICE to be ready again" api_ready "$APISERVER_1"
    now_ms
    READY_MS=$((REPLY - start))
    api GET "$APISERVER_1/api/v1/namespaces/$ns/pods"
    [[ $API_CODE == 200 ]] || fail "listing through the restarted apiserver-1: $API_CODE $(status_line)"
    python3 "$CHECK" names "$WORK/resp" | sort >"$WORK/listed"
    [[ -z $(comm -23 <(sort "$WORK/created") "$WORK/listed") ]] ||
        fail "apiserver-1 lists $(wc -l <"$WORK/listed") pods, missing some of the $(wc -l <"$WORK/created") created"
}

scenario_kill_apiserver() {
    api_credentials
    wait_until "$READY_TIMEOUT_S" "$APISERVER_1/readyz" api_ready "$APISERVER_1"
    wait_until "$READY_TIMEOUT_S" "$APISERVER_2/readyz" api_ready "$APISERVER_2"
    local ns=chaos-kill-$RUN_ID cid rv watcher report created
    container "$APISERVER_1_SERVICE"
    cid=$REPLY
    on_cleanup docker start "$cid"
    create_namespace "$APISERVER_2" "$ns"
    local pods_url=$APISERVER_2/api/v1/namespaces/$ns/pods
    api GET "$pods_url"
    [[ $API_CODE == 200 ]] || fail "listing pods through apiserver-2: $API_CODE"
    rv=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])' <"$WORK/resp")

    spawn watcher curl -sS -N --max-time $((REQUEST_TIMEOUT_S + PODS)) "${CURL_AUTH[@]}" \
        -o "$WORK/watch" "$pods_url?watch=1&resourceVersion=$rv"
    create_pods_killing "$pods_url" "$cid"
    wait "$KILLER" || fail "docker kill $APISERVER_1_SERVICE failed"
    # docker kill counts as a manual stop: the restart policy (unless-stopped) leaves it down.
    ! running "$cid" || fail "$APISERVER_1_SERVICE is running after docker kill (restarted?)"
    ! api_ready "$APISERVER_1" || fail "$APISERVER_1 still answers after docker kill"
    created=$(wc -l <"$WORK/created")
    if [[ -s $WORK/refused ]]; then
        head -n 5 "$WORK/refused" >&2
        fail "$(wc -l <"$WORK/refused") of $PODS creates through apiserver-2 failed while apiserver-1 was killed"
    fi
    log "$created/$PODS creates acknowledged by apiserver-2, $((PODS - KILL_AFTER)) after the kill (the slowest of those $(secs "$MAX_CREATE_MS_AFTER")s)"

    wait_until "$WATCH_TIMEOUT_S" "the watch on apiserver-2 to deliver every create" watch_delivered
    kill -0 "$watcher" 2>/dev/null || fail "the watch on apiserver-2 ended (curl exited)"
    report=$(python3 "$CHECK" watch "$WORK/watch" "$WORK/created") || fail "watch: $report"
    log "watch through apiserver-2: $report"
    apiserver_comes_back "$cid" "$ns"
    ok "apiserver-1 killed after $KILL_AFTER of $PODS creates: all $created acknowledged by apiserver-2 (slowest after the kill $(secs "$MAX_CREATE_MS_AFTER")s), the watch there delivered each once ($report); apiserver-1 ready $(secs "$READY_MS")s after docker start and lists all $created"
}
