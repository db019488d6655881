//! The admission chain (`kubesim_admission::chain::Admission::build`) dispatching to the
//! sample webhooks served in this process on 127.0.0.1 with certificates from a test CA, over
//! AdmissionReview/HTTPS and kubesim's gRPC transport, with webhook configurations read from an
//! in-memory cluster: the order of mutating webhooks, reinvocation, validating webhooks in
//! parallel, failure policies, the request's deadline, dry runs, denials, DELETE,
//! matchConditions and Service endpoints, each compared with what kube-apiserver does
//! (`k8s.io/apiserver/pkg/admission/plugin/webhook/{mutating,validating}/dispatcher.go`).
//!
//! Not covered: warnings and webhook audit annotations (no sample sends either).

#[path = "dispatch/support.rs"]
mod support;

use std::time::Duration;

use kubesim_admission::webhook::{Transport, WebhookKind};
use kubesim_webhooks::FailureMode;
use kubesim_webhooks::samples::{EnvGuard, ImagePolicy, NoPrivileged, Sample, SidecarInjector};
use serde_json::{Value, json};
use tokio::time::Instant;

use support::*;

const MUTATING: WebhookKind = WebhookKind::Mutating;
const VALIDATING: WebhookKind = WebhookKind::Validating;
const FAILED_OPEN_MUTATION: &str = "failed-open.mutation.webhook.admission.k8s.io/";
/// kube's `ValidatingAuditAnnotationFailedOpenKeyPrefix`.
const FAILED_OPEN_VALIDATING: &str = "failed-open.validating.webhook.admission.k8s.io/";

fn sidecar() -> Sample {
    Sample::SidecarInjector(SidecarInjector::default())
}

/// The pod with the labels label-injector adds by default, so it has nothing to add.
fn labelled_pod() -> Value {
    let mut pod = pod();
    pod["metadata"]["labels"] = json!({"env": "production", "managed-by": "kubesim"});
    pod
}

/// The pod with the sidecar already in it, so sidecar-injector has nothing to add.
fn pod_with_sidecar(mut pod: Value) -> Value {
    pod["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "kubesim-proxy", "image": "registry.k8s.io/pause:3.10"}));
    pod
}

// ---------------------------------------------------------------------------------------
// Mutating order

/// Configurations created "b-…" then "a-…" run sorted by name, and within one in list order.
/// Both label-injectors set `order`, which only the first may add: `order=a` proves a's ran
/// first. Every change lands in the object.
#[tokio::test]
async fn mutating_webhooks_run_by_configuration_name_then_list_order() {
    let h = Harness::new();
    let labels_b = h
        .serve(
            label_injector(&[("order", "b"), ("second", "b")]),
            Default::default(),
        )
        .await;
    let labels_a = h
        .serve(
            label_injector(&[("order", "a"), ("first", "a")]),
            Default::default(),
        )
        .await;
    let sidecar = h.serve(sidecar(), Default::default()).await;
    h.cluster.add(
        MUTATING,
        configuration(
            MUTATING,
            "b-labels",
            Transport::Https,
            vec![webhook(
                "labels-b.kubesim.io",
                labels_b.client_config(&h.ca),
                json!({}),
            )],
        ),
    );
    h.cluster.add(
        MUTATING,
        configuration(
            MUTATING,
            "a-first",
            Transport::Https,
            vec![
                webhook(
                    "labels-a.kubesim.io",
                    labels_a.client_config(&h.ca),
                    json!({}),
                ),
                webhook(
                    "sidecar.kubesim.io",
                    sidecar.client_config(&h.ca),
                    json!({}),
                ),
            ],
        ),
    );
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("labels-a.kubesim.io", "mutating", "patched"),
            step("sidecar.kubesim.io", "mutating", "patched"),
            step("labels-b.kubesim.io", "mutating", "patched"),
            // The object changed: kube's reinvoker runs the phase again, the built-ins with
            // it; no webhook is IfNeeded, so none is called again.
            lifecycle(),
        ]
    );
    let object = outcome.object.expect("an object");
    assert_eq!(
        object["metadata"]["labels"],
        json!({"order": "a", "first": "a", "second": "b"})
    );
    assert_eq!(
        object["spec"]["containers"],
        json!([
            {"name": "web", "image": "registry.k8s.io/pause:3.10"},
            {"name": "kubesim-proxy", "image": "registry.k8s.io/pause:3.10"},
        ])
    );
}

/// kube's annotator is keyed by the webhook's position in the whole sorted list
/// (`for i, hook := range hooks` in the mutating dispatcher), not within its configuration.
#[tokio::test]
async fn mutation_annotations_are_indexed_across_configurations() {
    let h = Harness::new();
    let labels = h
        .serve(label_injector(&[("a", "1")]), Default::default())
        .await;
    let sidecar = h.serve(sidecar(), Default::default()).await;
    h.add_one(
        MUTATING,
        "b-sidecar",
        Transport::Https,
        webhook(
            "sidecar.kubesim.io",
            sidecar.client_config(&h.ca),
            json!({}),
        ),
    );
    h.add_one(
        MUTATING,
        "a-labels",
        Transport::Https,
        webhook("labels.kubesim.io", labels.client_config(&h.ca), json!({})),
    );
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    let value = |configuration: &str, webhook: &str| {
        json!({"configuration": configuration, "webhook": webhook, "mutated": true}).to_string()
    };
    assert_eq!(
        outcome.annotations("mutation.webhook.admission.k8s.io/"),
        [
            (
                "mutation.webhook.admission.k8s.io/round_0_index_0".to_string(),
                value("a-labels", "labels.kubesim.io")
            ),
            (
                "mutation.webhook.admission.k8s.io/round_0_index_1".to_string(),
                value("b-sidecar", "sidecar.kubesim.io")
            ),
        ]
        .into()
    );
}

/// kube records `{"mutated": false}` for a call that changed nothing (the annotator's
/// `defer addMutationAnnotation(changed)` in `callAttrMutatingHook`).
#[tokio::test]
async fn every_mutating_call_is_annotated() {
    let h = Harness::new();
    let labels = h
        .serve(label_injector(&[("env", "production")]), Default::default())
        .await;
    h.add_one(
        MUTATING,
        "labels",
        Transport::Https,
        webhook("labels.kubesim.io", labels.client_config(&h.ca), json!({})),
    );
    let outcome = h.run(&create(&labelled_pod()), Some(labelled_pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.annotations("mutation.webhook.admission.k8s.io/"),
        [(
            "mutation.webhook.admission.k8s.io/round_0_index_0".to_string(),
            json!({"configuration": "labels", "webhook": "labels.kubesim.io", "mutated": false})
                .to_string()
        )]
        .into()
    );
}

// ---------------------------------------------------------------------------------------
// Reinvocation (kube's webhookReinvokeContext)

/// "a-labels" (label-injector on a pod that has its labels: no change) and then "b-sidecar"
/// (sidecar-injector: a change), with a-labels' reinvocationPolicy as given.
async fn reinvocation_case(policy: &str) -> Outcome {
    let h = Harness::new();
    let labels = h
        .serve(label_injector(&[("env", "production")]), Default::default())
        .await;
    let sidecar = h.serve(sidecar(), Default::default()).await;
    h.add_one(
        MUTATING,
        "a-labels",
        Transport::Https,
        webhook(
            "labels.kubesim.io",
            labels.client_config(&h.ca),
            json!({"reinvocationPolicy": policy}),
        ),
    );
    h.add_one(
        MUTATING,
        "b-sidecar",
        Transport::Https,
        webhook(
            "sidecar.kubesim.io",
            sidecar.client_config(&h.ca),
            json!({}),
        ),
    );
    h.run(&create(&labelled_pod()), Some(labelled_pod())).await
}

#[tokio::test]
async fn an_if_needed_webhook_is_called_again_when_a_later_one_changes_the_object() {
    let outcome = reinvocation_case("IfNeeded").await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("labels.kubesim.io", "mutating", "admitted"),
            step("sidecar.kubesim.io", "mutating", "patched"),
            lifecycle(),
            step("labels.kubesim.io", "mutating", "admitted"),
        ]
    );
}

#[tokio::test]
async fn a_never_webhook_is_called_once_though_the_object_changed_after_it() {
    let outcome = reinvocation_case("Never").await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("labels.kubesim.io", "mutating", "admitted"),
            step("sidecar.kubesim.io", "mutating", "patched"),
            // kube's SetShouldReinvoke follows any change: the built-ins run again.
            lifecycle(),
        ]
    );
}

/// No webhook changed the object: no second pass at all, built-ins included.
#[tokio::test]
async fn webhooks_that_change_nothing_cause_no_second_pass() {
    let h = Harness::new();
    let labels = h
        .serve(label_injector(&[("env", "production")]), Default::default())
        .await;
    let sidecar = h.serve(sidecar(), Default::default()).await;
    for (configuration, name, server) in [
        ("a-labels", "labels.kubesim.io", &labels),
        ("b-sidecar", "sidecar.kubesim.io", &sidecar),
    ] {
        h.add_one(
            MUTATING,
            configuration,
            Transport::Https,
            webhook(
                name,
                server.client_config(&h.ca),
                json!({"reinvocationPolicy": "IfNeeded"}),
            ),
        );
    }
    let object = pod_with_sidecar(labelled_pod());
    let outcome = h.run(&create(&object), Some(object.clone())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("labels.kubesim.io", "mutating", "admitted"),
            step("sidecar.kubesim.io", "mutating", "admitted"),
        ]
    );
    assert_eq!(outcome.object, Some(object));
}

/// kube adds a webhook to the previously invoked ones *after* requiring the reinvocation its
/// own change causes, so an IfNeeded webhook is reinvoked only for changes made after it.
#[tokio::test]
async fn an_if_needed_webhook_is_not_called_again_for_its_own_change() {
    let h = Harness::new();
    let labels = h
        .serve(label_injector(&[("env", "production")]), Default::default())
        .await;
    h.add_one(
        MUTATING,
        "labels",
        Transport::Https,
        webhook(
            "labels.kubesim.io",
            labels.client_config(&h.ca),
            json!({"reinvocationPolicy": "IfNeeded"}),
        ),
    );
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("labels.kubesim.io", "mutating", "patched"),
            lifecycle(),
        ]
    );
}

/// kube adds an IfNeeded webhook to the previously invoked ones whether its call succeeded
/// or failed open, so a later change reinvokes it.
#[tokio::test]
async fn an_if_needed_webhook_that_failed_open_is_called_again() {
    let h = Harness::new();
    let closed = closed_port().await;
    let sidecar = h.serve(sidecar(), Default::default()).await;
    h.add_one(
        MUTATING,
        "a-broken",
        Transport::Https,
        webhook(
            "broken.kubesim.io",
            url_client_config(&format!("https://127.0.0.1:{closed}{PATH}"), &h.ca),
            json!({"reinvocationPolicy": "IfNeeded", "failurePolicy": "Ignore"}),
        ),
    );
    h.add_one(
        MUTATING,
        "b-sidecar",
        Transport::Https,
        webhook(
            "sidecar.kubesim.io",
            sidecar.client_config(&h.ca),
            json!({}),
        ),
    );
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.step_names(),
        [
            "NamespaceLifecycle",
            "broken.kubesim.io",
            "sidecar.kubesim.io",
            "NamespaceLifecycle",
            "broken.kubesim.io",
        ]
    );
    assert_eq!(
        outcome.annotations(FAILED_OPEN_MUTATION),
        [
            (
                format!("{FAILED_OPEN_MUTATION}round_0_index_0"),
                "broken.kubesim.io".to_string()
            ),
            (
                format!("{FAILED_OPEN_MUTATION}round_1_index_0"),
                "broken.kubesim.io".to_string()
            ),
        ]
        .into()
    );
}

// ---------------------------------------------------------------------------------------
// Validating webhooks

/// Two validating webhooks of 300 ms each take about 300 ms together, not 600.
#[tokio::test]
async fn validating_webhooks_are_called_at_once() {
    let h = Harness::new();
    let first = h.serve(audit_sink(), slow(300)).await;
    let second = h.serve(audit_sink(), slow(300)).await;
    for (configuration, server) in [("a-first", &first), ("b-second", &second)] {
        h.add_one(
            VALIDATING,
            configuration,
            Transport::Https,
            webhook(
                &format!("{configuration}.kubesim.io"),
                server.client_config(&h.ca),
                json!({}),
            ),
        );
    }
    let started = Instant::now();
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    let took = started.elapsed();
    outcome.assert_admitted();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(550),
        "both webhooks took {took:?}"
    );
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("a-first.kubesim.io", "validating", "admitted"),
            step("b-second.kubesim.io", "validating", "admitted"),
        ]
    );
}

/// Both refuse; the first in webhook order is the answer, though it answers last.
#[tokio::test]
async fn the_first_refusal_in_webhook_order_wins() {
    let h = Harness::new();
    let privileged = h.serve(Sample::NoPrivileged(NoPrivileged), slow(200)).await;
    let images = h
        .serve(
            Sample::ImagePolicy(ImagePolicy::default()),
            Default::default(),
        )
        .await;
    h.add_one(
        VALIDATING,
        "b-images",
        Transport::Https,
        webhook("images.kubesim.io", images.client_config(&h.ca), json!({})),
    );
    h.add_one(
        VALIDATING,
        "a-privileged",
        Transport::Https,
        webhook(
            "privileged.kubesim.io",
            privileged.client_config(&h.ca),
            json!({}),
        ),
    );
    let mut object = pod();
    object["spec"]["containers"] = json!([{"name": "web", "image": "quay.io/web:1",
                                           "securityContext": {"privileged": true}}]);
    let outcome = h.run(&create(&object), Some(object.clone())).await;
    let refusal = outcome.refusal();
    assert_eq!((refusal.code, refusal.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        refusal.message,
        r#"admission webhook "privileged.kubesim.io" denied the request: container "web" is privileged; privileged containers are not allowed"#
    );
    // Both were called; each step says what it did.
    let mut validating: Vec<_> = outcome
        .steps()
        .into_iter()
        .filter(|(_, phase, _)| phase == "validating")
        .collect();
    validating.sort();
    assert_eq!(
        validating,
        [
            step(
                "images.kubesim.io",
                "validating",
                r#"denied: admission webhook "images.kubesim.io" denied the request: images from registries that are not allowed: "quay.io/web:1" (allowed registries: registry.k8s.io, docker.io)"#
            ),
            step(
                "privileged.kubesim.io",
                "validating",
                r#"denied: admission webhook "privileged.kubesim.io" denied the request: container "web" is privileged; privileged containers are not allowed"#
            ),
        ]
    );
}

/// A denial is kube's ToStatusErr of the webhook's status (403 here), whatever the failure
/// policy: policies are for failed calls, not refusals.
#[tokio::test]
async fn a_denial_keeps_the_webhooks_code_and_message() {
    for transport in [Transport::Https, Transport::Grpc] {
        for policy in ["Fail", "Ignore"] {
            let h = Harness::new();
            let server = h
                .serve(Sample::NoPrivileged(NoPrivileged), Default::default())
                .await;
            h.add_one(
                VALIDATING,
                "privileged",
                transport,
                webhook(
                    "no-privileged.kubesim.io",
                    server.client_config(&h.ca),
                    json!({"failurePolicy": policy}),
                ),
            );
            let mut object = pod();
            object["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
            let outcome = h.run(&create(&object), Some(object.clone())).await;
            let refusal = outcome.refusal();
            assert_eq!(
                (
                    refusal.code,
                    refusal.reason.as_str(),
                    refusal.message.as_str()
                ),
                (
                    403,
                    "Forbidden",
                    r#"admission webhook "no-privileged.kubesim.io" denied the request: container "web" is privileged; privileged containers are not allowed"#
                ),
                "{transport:?} {policy}"
            );
            assert_eq!(outcome.annotations("failed-open."), Default::default());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Failure policies

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    /// Nothing listens on the port.
    Unreachable,
    /// The webhook never answers; timeoutSeconds 1.
    Timeout,
    /// An answer that is not an AdmissionReview.
    Garbage,
    /// An answer for another request.
    WrongUid,
    /// A certificate from a CA other than caBundle's.
    UnknownAuthority,
}

const BROKEN: [Broken; 5] = [
    Broken::Unreachable,
    Broken::Timeout,
    Broken::Garbage,
    Broken::WrongUid,
    Broken::UnknownAuthority,
];

/// One failure case: kind × transport × how × policy, with a cluster of its own. Returns
/// what is wrong with the outcome, if anything.
async fn failure_case(
    kind: WebhookKind,
    transport: Transport,
    broken: Broken,
    policy: &str,
) -> Result<(), String> {
    let h = Harness::new();
    let other_ca = Ca::new("another CA");
    let (server, port, bundle_ca) = match broken {
        Broken::Unreachable => (None, closed_port().await, &h.ca),
        Broken::Timeout | Broken::Garbage | Broken::WrongUid => {
            let mode = match broken {
                Broken::Timeout => FailureMode::Hang,
                Broken::Garbage => FailureMode::Garbage,
                _ => FailureMode::WrongUid,
            };
            let server = h.serve(audit_sink(), failing(mode)).await;
            let port = server.port;
            (Some(server), port, &h.ca)
        }
        Broken::UnknownAuthority => {
            let server = h.serve(audit_sink(), Default::default()).await;
            let port = server.port;
            (Some(server), port, &other_ca)
        }
    };
    let timeout_seconds = if broken == Broken::Timeout { 1 } else { 5 };
    let url = format!("https://127.0.0.1:{port}{PATH}");
    let name = "broken.kubesim.io";
    h.add_one(
        kind,
        "broken",
        transport,
        webhook(
            name,
            url_client_config(&url, bundle_ca),
            json!({"failurePolicy": policy, "timeoutSeconds": timeout_seconds}),
        ),
    );
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    drop(server);
    let expected = expected_failure(transport, broken, &url, timeout_seconds);
    let steps = outcome.steps();
    let webhook_step = steps.iter().find(|(n, _, _)| n == name);
    let Some((_, phase, step_outcome)) = webhook_step else {
        return Err(format!("no step for the webhook: {steps:?}"));
    };
    if phase != kind.as_str() {
        return Err(format!("the step's phase is {phase}"));
    }
    let failed = format!("failed ({policy}): ");
    match step_outcome.strip_prefix(&failed) {
        Some(detail) if expected.matches(detail) => {}
        _ => {
            return Err(format!(
                "step {step_outcome:?}, expected {failed}{expected:?}"
            ));
        }
    }
    let failed_open = outcome.annotations("failed-open.");
    match (policy, &outcome.result) {
        ("Fail", Err(status)) => {
            let prefix = format!("Internal error occurred: failed calling webhook \"{name}\": ");
            let detail = status.message.strip_prefix(&prefix).unwrap_or("");
            if (status.code, status.reason.as_str()) != (500, "InternalError")
                || !expected.matches(detail)
            {
                return Err(format!(
                    "refused with {status:?}, expected {prefix}{expected:?}"
                ));
            }
            if !failed_open.is_empty() {
                return Err(format!("annotated {failed_open:?}"));
            }
        }
        ("Ignore", Ok(())) => {
            // The validating key's spelling is checked on its own (a known bug); here, one
            // failed-open annotation of this round and index naming the webhook.
            let one = failed_open.len() == 1
                && failed_open.iter().all(|(key, value)| {
                    key.ends_with(".webhook.admission.k8s.io/round_0_index_0") && value == name
                });
            let mutation_key = format!("{FAILED_OPEN_MUTATION}round_0_index_0");
            if !one || (kind == MUTATING && !failed_open.contains_key(&mutation_key)) {
                return Err(format!("failed-open annotations {failed_open:?}"));
            }
            if outcome.object != Some(pod()) {
                return Err(format!("the object changed: {:?}", outcome.object));
            }
        }
        (_, result) => return Err(format!("{policy}: {result:?}")),
    }
    Ok(())
}

/// What the failed call's message says (after `failed calling webhook "<name>": `).
#[derive(Debug)]
enum Expected {
    Exact(String),
    /// This, then a uid other than the request's, quoted.
    OtherUid(String),
}

impl Expected {
    fn matches(&self, detail: &str) -> bool {
        match self {
            Expected::Exact(text) => detail == text,
            Expected::OtherUid(prefix) => detail
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix('"'))
                .is_some_and(|uid| uid.len() == UID.len() && uid != UID),
        }
    }
}

/// kube's words for each failure over HTTPS (Go's HTTP client and the REST client's
/// decoding), kubesim's over gRPC (grpc-go's `rpc error: code = … desc = …`).
fn expected_failure(transport: Transport, broken: Broken, url: &str, seconds: u64) -> Expected {
    let addr = url
        .trim_start_matches("https://")
        .trim_end_matches(PATH)
        .to_string();
    let described = match transport {
        Transport::Https => format!("Post \"{url}?timeout={seconds}s\""),
        Transport::Grpc => format!("Review \"{url}\""),
    };
    let call = |detail: &str| format!("failed to call webhook: {described}: {detail}");
    let grpc = |code: &str, desc: &str| call(&format!("rpc error: code = {code} desc = {desc}"));
    let unknown_authority =
        "tls: failed to verify certificate: x509: certificate signed by unknown authority";
    match (transport, broken) {
        (Transport::Https, Broken::Unreachable) => Expected::Exact(call(&format!(
            "dial tcp {addr}: connect: connection refused"
        ))),
        (Transport::Grpc, Broken::Unreachable) => Expected::Exact(grpc(
            "Unavailable",
            &format!("dial tcp {addr}: connect: connection refused"),
        )),
        (Transport::Https, Broken::Timeout) => Expected::Exact(call("context deadline exceeded")),
        (Transport::Grpc, Broken::Timeout) => {
            Expected::Exact(grpc("DeadlineExceeded", "context deadline exceeded"))
        }
        // kube's words are Go's JSON decoder's; the part after `json parse error: ` is
        // serde_json's here.
        (Transport::Https, Broken::Garbage) => Expected::Exact(
            "failed to call webhook: couldn't get version/kind; json parse error: \
             expected ident at line 1 column 2"
                .into(),
        ),
        (Transport::Grpc, Broken::Garbage) => Expected::Exact(grpc(
            "Internal",
            "failed to decode Protobuf message: invalid tag value: 0",
        )),
        // The uid it got is the sample's random one.
        (_, Broken::WrongUid) => Expected::OtherUid(format!(
            "received invalid webhook response: expected response.uid=\"{UID}\", got \""
        )),
        (Transport::Https, Broken::UnknownAuthority) => Expected::Exact(call(unknown_authority)),
        (Transport::Grpc, Broken::UnknownAuthority) => {
            Expected::Exact(grpc("Unavailable", unknown_authority))
        }
    }
}

/// Every failure over both transports, mutating and validating, under both policies: `Fail`
/// refuses with 500 `failed calling webhook "<name>": …`; `Ignore` admits, the object
/// untouched, with kube's failed-open audit annotation. All cases run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_follow_the_failure_policy() {
    let mut cases = Vec::new();
    for kind in [MUTATING, VALIDATING] {
        for transport in [Transport::Https, Transport::Grpc] {
            for broken in BROKEN {
                for policy in ["Fail", "Ignore"] {
                    cases.push(async move {
                        let result = failure_case(kind, transport, broken, policy).await;
                        result
                            .map_err(|e| format!("{kind:?} {transport:?} {broken:?} {policy}: {e}"))
                    });
                }
            }
        }
    }
    let started = Instant::now();
    let errors: Vec<String> = futures::future::join_all(cases)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// kube's validating dispatcher keys a fail-open as
/// `failed-open.validating.webhook.admission.k8s.io/round_0_index_<i>`, `i` the webhook's
/// position among those that matched the request.
#[tokio::test]
async fn validating_fail_opens_are_annotated_as_kube_does() {
    let h = Harness::new();
    let closed = closed_port().await;
    let broken = url_client_config(&format!("https://127.0.0.1:{closed}{PATH}"), &h.ca);
    // a-skipped does not match (a false condition), so b and c are the 0th and 1st.
    h.add_one(
        VALIDATING,
        "a-skipped",
        Transport::Https,
        webhook(
            "skipped.kubesim.io",
            broken.clone(),
            json!({"matchConditions": [{"name": "never", "expression": "false"}]}),
        ),
    );
    for name in ["b-broken", "c-broken"] {
        h.add_one(
            VALIDATING,
            name,
            Transport::Https,
            webhook(
                &format!("{name}.kubesim.io"),
                broken.clone(),
                json!({"failurePolicy": "Ignore"}),
            ),
        );
    }
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.annotations("failed-open."),
        [
            (
                format!("{FAILED_OPEN_VALIDATING}round_0_index_0"),
                "b-broken.kubesim.io".to_string()
            ),
            (
                format!("{FAILED_OPEN_VALIDATING}round_0_index_1"),
                "c-broken.kubesim.io".to_string()
            ),
        ]
        .into()
    );
}

/// kube's mutating annotator takes the position in the whole sorted list.
#[tokio::test]
async fn mutating_fail_opens_are_indexed_across_configurations() {
    let h = Harness::new();
    let closed = closed_port().await;
    let broken = url_client_config(&format!("https://127.0.0.1:{closed}{PATH}"), &h.ca);
    for name in ["a-broken", "b-broken"] {
        h.add_one(
            MUTATING,
            name,
            Transport::Https,
            webhook(
                &format!("{name}.kubesim.io"),
                broken.clone(),
                json!({"failurePolicy": "Ignore"}),
            ),
        );
    }
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.annotations(FAILED_OPEN_MUTATION),
        [
            (
                format!("{FAILED_OPEN_MUTATION}round_0_index_0"),
                "a-broken.kubesim.io".to_string()
            ),
            (
                format!("{FAILED_OPEN_MUTATION}round_0_index_1"),
                "b-broken.kubesim.io".to_string()
            ),
        ]
        .into()
    );
}

// ---------------------------------------------------------------------------------------
// The request's deadline

/// The request has 300 ms left; the webhook's timeoutSeconds is 10 and it hangs: the call
/// fails when the request's time is up (`?timeout=1s`, rounded up as kube does).
#[tokio::test]
async fn the_request_deadline_bounds_every_call() {
    for kind in [MUTATING, VALIDATING] {
        for transport in [Transport::Https, Transport::Grpc] {
            let h = Harness::new();
            let server = h.serve(audit_sink(), failing(FailureMode::Hang)).await;
            h.add_one(
                kind,
                "hang",
                transport,
                webhook(
                    "hang.kubesim.io",
                    server.client_config(&h.ca),
                    json!({"timeoutSeconds": 10}),
                ),
            );
            let mut attrs = create(&pod());
            let started = Instant::now();
            attrs.deadline = Some(started + Duration::from_millis(300));
            let outcome = h.run(&attrs, Some(pod())).await;
            let took = started.elapsed();
            assert!(
                took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
                "{kind:?} {transport:?} took {took:?}"
            );
            let described = match transport {
                Transport::Https => format!(
                    "Post \"{}?timeout=1s\": context deadline exceeded",
                    server.url()
                ),
                Transport::Grpc => format!(
                    "Review \"{}\": rpc error: code = DeadlineExceeded desc = context deadline exceeded",
                    server.url()
                ),
            };
            let refusal = outcome.refusal();
            assert_eq!(
                (refusal.code, refusal.message.as_str()),
                (
                    500,
                    format!(
                        "Internal error occurred: failed calling webhook \"hang.kubesim.io\": failed to call webhook: {described}"
                    )
                    .as_str()
                ),
                "{kind:?} {transport:?}"
            );
        }
    }
}

/// kube's mutating dispatcher, after a call failed open, stops when the request's own
/// context is done: 504 `Timeout: request did not complete within requested timeout`.
#[tokio::test]
async fn a_fail_open_past_the_deadline_times_the_request_out() {
    let h = Harness::new();
    let server = h
        .serve(label_injector(&[]), failing(FailureMode::Hang))
        .await;
    h.add_one(
        MUTATING,
        "hang",
        Transport::Https,
        webhook(
            "hang.kubesim.io",
            server.client_config(&h.ca),
            json!({"timeoutSeconds": 10, "failurePolicy": "Ignore"}),
        ),
    );
    let mut attrs = create(&pod());
    attrs.deadline = Some(Instant::now() + Duration::from_millis(300));
    let outcome = h.run(&attrs, Some(pod())).await;
    let refusal = outcome.refusal();
    assert_eq!(
        (
            refusal.code,
            refusal.reason.as_str(),
            refusal.message.as_str()
        ),
        (
            504,
            "Timeout",
            "Timeout: request did not complete within requested timeout"
        )
    );
}

/// kube's validating dispatcher checks the request's context before it calls anything: a
/// request whose time is already up is 504, whatever the failure policy.
#[tokio::test]
async fn validating_past_the_deadline_times_the_request_out() {
    for policy in ["Fail", "Ignore"] {
        let h = Harness::new();
        let sink = h.serve(audit_sink(), Default::default()).await;
        h.add_one(
            VALIDATING,
            "sink",
            Transport::Https,
            webhook(
                "sink.kubesim.io",
                sink.client_config(&h.ca),
                json!({"failurePolicy": policy}),
            ),
        );
        let mut attrs = create(&pod());
        attrs.deadline = Some(Instant::now());
        let record = kubesim_admission::Record::new();
        let status = h
            .chain
            .validate(&attrs, Some(&pod()), &record)
            .await
            .expect_err("timed out");
        assert_eq!(
            (status.code, status.reason.as_str(), status.message.as_str()),
            (
                504,
                "Timeout",
                "Timeout: request did not complete within requested timeout"
            ),
            "{policy}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Dry run

/// A webhook with side effects refuses a dry run with 400; one without is called, and sees
/// `dryRun: true` (its match condition requires it).
#[tokio::test]
async fn dry_runs_call_only_webhooks_without_side_effects() {
    for kind in [MUTATING, VALIDATING] {
        for side_effects in ["Some", "Unknown"] {
            let h = Harness::new();
            let closed = closed_port().await;
            h.add_one(
                kind,
                "effects",
                Transport::Https,
                webhook(
                    "effects.kubesim.io",
                    url_client_config(&format!("https://127.0.0.1:{closed}{PATH}"), &h.ca),
                    json!({"sideEffects": side_effects}),
                ),
            );
            let mut attrs = create(&pod());
            attrs.dry_run = true;
            let outcome = h.run(&attrs, Some(pod())).await;
            let refusal = outcome.refusal();
            assert_eq!(
                (
                    refusal.code,
                    refusal.reason.as_str(),
                    refusal.message.as_str()
                ),
                (
                    400,
                    "BadRequest",
                    r#"admission webhook "effects.kubesim.io" does not support dry run"#
                ),
                "{kind:?} {side_effects}"
            );
        }
    }
    for side_effects in ["None", "NoneOnDryRun"] {
        let h = Harness::new();
        let labels = h
            .serve(label_injector(&[("dry", "run")]), Default::default())
            .await;
        let sink = h.serve(audit_sink(), Default::default()).await;
        let only_dry_runs = json!({
            "sideEffects": side_effects,
            "matchConditions": [{"name": "dry-run", "expression": "request.dryRun == true"}],
        });
        h.add_one(
            MUTATING,
            "labels",
            Transport::Https,
            webhook(
                "labels.kubesim.io",
                labels.client_config(&h.ca),
                only_dry_runs.clone(),
            ),
        );
        h.add_one(
            VALIDATING,
            "sink",
            Transport::Grpc,
            webhook("sink.kubesim.io", sink.client_config(&h.ca), only_dry_runs),
        );
        let mut attrs = create(&pod());
        attrs.dry_run = true;
        let outcome = h.run(&attrs, Some(pod())).await;
        outcome.assert_admitted();
        assert_eq!(
            outcome.steps(),
            [
                lifecycle(),
                step("labels.kubesim.io", "mutating", "patched"),
                lifecycle(),
                step("sink.kubesim.io", "validating", "admitted"),
            ],
            "{side_effects}"
        );
        assert_eq!(
            outcome.object.expect("an object")["metadata"]["labels"],
            json!({"dry": "run"})
        );
        let request = kubesim_admission::webhook::dispatch::admission_request(&attrs, None);
        assert_eq!(request.dry_run, Some(true));
    }
}

// ---------------------------------------------------------------------------------------
// DELETE

/// A DELETE has no object: a validating webhook sees the old object and `object: null`
/// (its match condition says so, or it would not be called), and a mutating one is called
/// with nothing to patch.
#[tokio::test]
async fn deletes_send_the_old_object_and_no_object() {
    let h = Harness::new();
    let guard = h
        .serve(Sample::EnvGuard(EnvGuard::default()), Default::default())
        .await;
    let labels = h
        .serve(label_injector(&[("env", "production")]), Default::default())
        .await;
    let deletes_of_web = json!({
        "rules": [{"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
                   "resources": ["pods"]}],
        "matchConditions": [{
            "name": "old-object-only",
            "expression": "object == null && oldObject.metadata.name == 'web' && request.operation == 'DELETE'",
        }],
    });
    h.add_one(
        VALIDATING,
        "guard",
        Transport::Https,
        webhook(
            "env-guard.kubesim.io",
            guard.client_config(&h.ca),
            deletes_of_web.clone(),
        ),
    );
    h.add_one(
        MUTATING,
        "labels",
        Transport::Grpc,
        webhook(
            "labels.kubesim.io",
            labels.client_config(&h.ca),
            deletes_of_web,
        ),
    );
    let mut old = pod();
    old["metadata"]["namespace"] = json!("production");
    old["metadata"]["labels"] = json!({"env": "development"});
    let mut attrs = delete(&old);
    attrs.namespace = "production".into();
    h.cluster.put(
        "namespaces",
        "",
        json!({"metadata": {"name": "production"}, "status": {"phase": "Active"}}),
    );
    let outcome = h.run(&attrs, None).await;
    outcome.assert_admitted();
    assert_eq!(outcome.object, None);
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("labels.kubesim.io", "mutating", "admitted"),
            step("env-guard.kubesim.io", "validating", "admitted"),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// matchConditions

/// A false condition: not called (the webhook is unreachable and `Fail`, so a call would
/// refuse). An erroring one: skipped under `Ignore`, 403 under `Fail` (kube's matcher).
#[tokio::test]
async fn match_conditions_decide_whether_a_webhook_is_called() {
    let erroring = "object.metadata.annotations.x == 'y'";
    let cases = [
        ("false", "Fail", None),
        ("object.metadata.name == 'other'", "Fail", None),
        (erroring, "Ignore", None),
        (
            erroring,
            "Fail",
            Some(format!(
                "pods \"web\" is forbidden: expression '{erroring}' resulted in error: no such key: annotations"
            )),
        ),
    ];
    for kind in [MUTATING, VALIDATING] {
        for (expression, policy, refusal) in &cases {
            let h = Harness::new();
            let closed = closed_port().await;
            h.add_one(
                kind,
                "conditional",
                Transport::Https,
                webhook(
                    "conditional.kubesim.io",
                    url_client_config(&format!("https://127.0.0.1:{closed}{PATH}"), &h.ca),
                    json!({
                        "failurePolicy": policy,
                        "matchConditions": [
                            {"name": "first", "expression": "true"},
                            {"name": "second", "expression": expression},
                        ],
                    }),
                ),
            );
            let outcome = h.run(&create(&pod()), Some(pod())).await;
            let context = format!("{kind:?} {expression} {policy}");
            let webhook_steps: Vec<_> = outcome
                .steps()
                .into_iter()
                .filter(|(name, _, _)| name == "conditional.kubesim.io")
                .collect();
            match refusal {
                None if *policy == "Ignore" => {
                    outcome.assert_admitted();
                    let skipped = format!(
                        "skipped (Ignore): expression '{erroring}' resulted in error: no such key: annotations"
                    );
                    assert_eq!(
                        webhook_steps,
                        [step("conditional.kubesim.io", kind.as_str(), &skipped)],
                        "{context}"
                    );
                    assert_eq!(outcome.annotations("failed-open."), Default::default());
                }
                None => {
                    outcome.assert_admitted();
                    assert_eq!(webhook_steps, [], "{context}");
                }
                Some(message) => {
                    let status = outcome.refusal();
                    assert_eq!(
                        (status.code, status.reason.as_str(), status.message.as_str()),
                        (403, "Forbidden", message.as_str()),
                        "{context}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Service endpoints and configuration changes

/// `clientConfig.service`: kubesim dials the Service's externalName and checks the
/// certificate for `<name>.<namespace>.svc`, over both transports; a missing Service fails
/// the call.
#[tokio::test]
async fn service_endpoints_are_reached_through_the_service() {
    for transport in [Transport::Https, Transport::Grpc] {
        let h = Harness::new();
        let server =
            h.ca.serve_as(sidecar(), Default::default(), &["policy.webhooks.svc"])
                .await;
        h.cluster.put(
            "services",
            "webhooks",
            json!({"metadata": {"name": "policy", "namespace": "webhooks"},
                   "spec": {"type": "ExternalName", "externalName": "127.0.0.1"}}),
        );
        let by_service = |name: &str| {
            json!({
                "service": {"namespace": "webhooks", "name": name, "port": server.port,
                            "path": PATH},
                "caBundle": h.ca.bundle(),
            })
        };
        h.add_one(
            MUTATING,
            "sidecar",
            transport,
            webhook("sidecar.kubesim.io", by_service("policy"), json!({})),
        );
        let outcome = h.run(&create(&pod()), Some(pod())).await;
        outcome.assert_admitted();
        assert_eq!(
            outcome.object.expect("an object")["spec"]["containers"][1]["name"],
            "kubesim-proxy",
            "{transport:?}"
        );

        h.add_one(
            VALIDATING,
            "missing",
            transport,
            webhook("missing.kubesim.io", by_service("missing"), json!({})),
        );
        let outcome = h.run(&create(&pod()), Some(pod())).await;
        let described = match transport {
            Transport::Https => format!(
                "Post \"https://missing.webhooks.svc:{}{PATH}?timeout=5s\"",
                server.port
            ),
            Transport::Grpc => format!(
                "Review \"https://missing.webhooks.svc:{}{PATH}\"",
                server.port
            ),
        };
        assert_eq!(
            outcome.refusal().message,
            format!(
                "Internal error occurred: failed calling webhook \"missing.kubesim.io\": failed to call webhook: {described}: services \"missing\" not found"
            ),
            "{transport:?}"
        );
    }
}

/// The chain reads the configurations per request: one added later (the list's revision
/// moved) is called from the next request on.
#[tokio::test]
async fn configurations_added_later_are_called() {
    let h = Harness::new();
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(outcome.steps(), [lifecycle()]);
    let labels = h
        .serve(label_injector(&[("late", "yes")]), Default::default())
        .await;
    h.add_one(
        MUTATING,
        "late",
        Transport::Grpc,
        webhook("late.kubesim.io", labels.client_config(&h.ca), json!({})),
    );
    let outcome = h.run(&create(&pod()), Some(pod())).await;
    outcome.assert_admitted();
    assert_eq!(
        outcome.steps(),
        [
            lifecycle(),
            step("late.kubesim.io", "mutating", "patched"),
            lifecycle()
        ]
    );
}
