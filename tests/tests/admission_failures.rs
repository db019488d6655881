//! Issue 6's failure matrix: what a pod create gets when its admission webhook fails, for
//! both transports (AdmissionReview over HTTPS, kube's; kubesim's gRPC, by the
//! `admission.kubesim.io/transport: grpc` annotation) × both failure policies × five ways to
//! fail:
//!
//! | failure | how |
//! |---|---|
//! | down | nothing listens on the webhook's port |
//! | slow | `kubesim webhook --latency 5s` against `timeoutSeconds: 2` |
//! | hang | `--fail-rate 1 --timeout-behaviour hang`: no answer until the API server gives up |
//! | garbage | `--fail-rate 1 --timeout-behaviour garbage`: 200 with a body that is no review |
//! | wrong uid | `--fail-rate 1 --timeout-behaviour wrong-uid`: a valid answer for another uid |
//! | TLS | a healthy webhook whose `caBundle` is another CA's |
//!
//! Under `Fail` the create is refused with kube's 500 (`Internal error occurred: failed
//! calling webhook "<name>": <why>`) within about `timeoutSeconds`, and nothing is stored;
//! under `Ignore` the pod is created. Either way the request's trace shows the webhook's call
//! failing with the same reason (`failed (Fail): ...` / `failed (Ignore): ...`), so an
//! `Ignore` pass cannot come from a webhook that was never called.
//!
//! One API server and one process per failure serve every case; each case has its own
//! namespace and a validating configuration whose webhook matches pods there only, and the
//! cases run at once.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::future::join_all;
use kubesim_tests::admission::{
    Hook, Kind, ServingCa, Transport, WebhookProcess, configuration, create_configuration,
    create_pod, pod, pods_path, trace_steps, wait_for_webhooks,
};
use kubesim_tests::apiserver::{ApiServer, curl_or_skip, free_port};
use kubesim_tests::auth::{admin, create, get, namespace};
use kubesim_tests::bounded;

/// Every webhook's `timeoutSeconds`.
const TIMEOUT_SECONDS: u32 = 2;
/// Slack on top of `timeoutSeconds` for a refusal (curl, the server, a busy machine).
const SLACK: Duration = Duration::from_secs(5);
/// How much sooner than `timeoutSeconds` the slow webhook's refusal may come (timer
/// granularity).
const EARLY: Duration = Duration::from_millis(200);
/// The path every webhook is called on.
const PATH: &str = "/admit";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Down,
    Slow,
    Hang,
    Garbage,
    WrongUid,
    Tls,
}

impl Failure {
    const ALL: [Failure; 6] = [
        Failure::Down,
        Failure::Slow,
        Failure::Hang,
        Failure::Garbage,
        Failure::WrongUid,
        Failure::Tls,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Failure::Down => "down",
            Failure::Slow => "slow",
            Failure::Hang => "hang",
            Failure::Garbage => "garbage",
            Failure::WrongUid => "wrong-uid",
            Failure::Tls => "tls",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    transport: Transport,
    /// `Fail` or `Ignore`.
    policy: &'static str,
    failure: Failure,
}

impl Case {
    fn all() -> Vec<Case> {
        let mut cases = Vec::new();
        for transport in [Transport::Https, Transport::Grpc] {
            for policy in ["Fail", "Ignore"] {
                for failure in Failure::ALL {
                    cases.push(Case {
                        transport,
                        policy,
                        failure,
                    });
                }
            }
        }
        cases
    }

    /// `https-fail-down`: the namespace and the configuration's name.
    fn id(&self) -> String {
        format!(
            "{}-{}-{}",
            self.transport.as_str(),
            self.policy.to_ascii_lowercase(),
            self.failure.as_str()
        )
    }

    fn webhook(&self) -> String {
        format!("{}.failures.kubesim.io", self.id())
    }
}

/// The server and the webhook processes every case shares.
struct Fixture {
    server: ApiServer,
    /// Signed every serving certificate.
    ca: ServingCa,
    /// Signed nothing the webhooks serve: the TLS case's `caBundle`.
    other_ca: ServingCa,
    /// A port nothing listens on.
    down_port: u16,
    slow: WebhookProcess,
    hang: WebhookProcess,
    garbage: WebhookProcess,
    wrong_uid: WebhookProcess,
    healthy: WebhookProcess,
}

impl Fixture {
    async fn start() -> anyhow::Result<Fixture> {
        let server = ApiServer::start().await?;
        let ca = ServingCa::new("webhook-ca")?;
        let other_ca = ServingCa::new("another-ca")?;
        let sample = "no-privileged";
        let fixture = Fixture {
            slow: WebhookProcess::sample(sample, &["--latency=5s"], &ca).await?,
            hang: WebhookProcess::sample(
                sample,
                &["--fail-rate=1", "--timeout-behaviour=hang"],
                &ca,
            )
            .await?,
            garbage: WebhookProcess::sample(
                sample,
                &["--fail-rate=1", "--timeout-behaviour=garbage"],
                &ca,
            )
            .await?,
            wrong_uid: WebhookProcess::sample(
                sample,
                &["--fail-rate=1", "--timeout-behaviour=wrong-uid"],
                &ca,
            )
            .await?,
            healthy: WebhookProcess::sample(sample, &[], &ca).await?,
            down_port: free_port()?,
            server,
            ca,
            other_ca,
        };
        Ok(fixture)
    }

    /// The URL and `caBundle` of a case's webhook.
    fn client_config(&self, failure: Failure) -> (String, String) {
        let bundle = self.ca.ca_bundle();
        match failure {
            Failure::Down => (
                format!("https://127.0.0.1:{}{PATH}", self.down_port),
                bundle,
            ),
            Failure::Slow => (self.slow.url(PATH), bundle),
            Failure::Hang => (self.hang.url(PATH), bundle),
            Failure::Garbage => (self.garbage.url(PATH), bundle),
            Failure::WrongUid => (self.wrong_uid.url(PATH), bundle),
            Failure::Tls => (self.healthy.url(PATH), self.other_ca.ca_bundle()),
        }
    }

    /// The case's namespace and configuration, and the wait until the server calls its
    /// webhook.
    async fn set_up(&self, case: Case) -> anyhow::Result<()> {
        let id = case.id();
        create(&self.server, "/api/v1/namespaces", &namespace(&id)).await?;
        let (url, bundle) = self.client_config(case.failure);
        let hook = Hook::new(&case.webhook(), &url, &bundle)
            .failure_policy(case.policy)
            .timeout_seconds(TIMEOUT_SECONDS)
            .in_namespaces(&[&id]);
        let config = configuration(Kind::Validating, &id, case.transport, &[hook]);
        create_configuration(&self.server, &config).await?;
        wait_for_webhooks(&self.server, &id, &[&case.webhook()]).await
    }
}

/// What the failed call's reason must be: the text after `failed calling webhook "<name>": `.
#[derive(Debug)]
enum Reason {
    Exact(String),
    /// Starts with the first, and contains the second.
    Prefix(String, &'static str),
    /// `received invalid webhook response: expected response.uid="<a>", got "<b>"`, a ≠ b.
    WrongUid,
}

impl Reason {
    fn check(&self, reason: &str) -> anyhow::Result<()> {
        match self {
            Reason::Exact(want) => ensure!(reason == want, "reason {reason:?}, wanted {want:?}"),
            Reason::Prefix(prefix, part) => ensure!(
                reason.starts_with(prefix.as_str()) && reason.contains(part),
                "reason {reason:?}, wanted {prefix:?}... with {part:?} in it"
            ),
            Reason::WrongUid => {
                let uids = reason
                    .strip_prefix("received invalid webhook response: expected response.uid=\"")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .and_then(|rest| rest.split_once("\", got \""));
                let Some((expected, got)) = uids else {
                    anyhow::bail!("reason {reason:?} is not kube's wrong-uid reason");
                };
                ensure!(
                    !expected.is_empty() && !got.is_empty() && expected != got,
                    "reason {reason:?}: the uids must differ"
                );
            }
        }
        Ok(())
    }
}

/// The reason kube gives for each failure over HTTPS (client-go's and Go's words), and
/// kubesim's over gRPC (grpc-go's `rpc error: code = ... desc = ...`). HTTPS garbage is
/// checked by its prefix (kubesim words the JSON error in serde_json's terms, not Go's, as
/// docs/admission.md says); gRPC timeouts are exact in
/// [`grpc_timeouts_read_as_deadline_exceeded`].
fn expected_reason(case: Case, url: &str) -> Reason {
    let post = format!("failed to call webhook: Post \"{url}?timeout={TIMEOUT_SECONDS}s\": ");
    let review = format!("failed to call webhook: Review \"{url}\": rpc error: code = ");
    let addr = url
        .trim_start_matches("https://")
        .trim_end_matches(PATH)
        .to_string();
    match (case.transport, case.failure) {
        (_, Failure::WrongUid) => Reason::WrongUid,
        (Transport::Https, Failure::Down) => Reason::Exact(format!(
            "{post}dial tcp {addr}: connect: connection refused"
        )),
        (Transport::Https, Failure::Slow | Failure::Hang) => {
            Reason::Exact(format!("{post}context deadline exceeded"))
        }
        (Transport::Https, Failure::Garbage) => Reason::Prefix(
            "failed to call webhook: couldn't get version/kind; json parse error: ".into(),
            "",
        ),
        (Transport::Https, Failure::Tls) => Reason::Exact(format!(
            "{post}tls: failed to verify certificate: x509: certificate signed by unknown \
             authority"
        )),
        (Transport::Grpc, Failure::Down) => Reason::Exact(format!(
            "{review}Unavailable desc = dial tcp {addr}: connect: connection refused"
        )),
        (Transport::Grpc, Failure::Slow | Failure::Hang) => Reason::Exact(format!(
            "{review}DeadlineExceeded desc = context deadline exceeded"
        )),
        (Transport::Grpc, Failure::Garbage) => Reason::Exact(format!(
            "{review}Internal desc = failed to decode Protobuf message: invalid tag value: 0"
        )),
        (Transport::Grpc, Failure::Tls) => Reason::Exact(format!(
            "{review}Unavailable desc = tls: failed to verify certificate: x509: certificate \
             signed by unknown authority"
        )),
    }
}

/// One case: the create, its answer and time, what is stored, and the trace.
async fn run_case(fixture: &Fixture, case: Case) -> anyhow::Result<()> {
    let server = &fixture.server;
    let id = case.id();
    let webhook = case.webhook();
    let (url, _) = fixture.client_config(case.failure);
    let expected = expected_reason(case, &url);
    let started = Instant::now();
    let reply = create_pod(
        server,
        &id,
        &pod("web", "registry.k8s.io/pause:3.10", &[]),
        false,
    )
    .await?;
    let elapsed = started.elapsed();
    let timeout = Duration::from_secs(TIMEOUT_SECONDS.into());
    ensure!(
        elapsed < timeout + SLACK,
        "the create took {elapsed:?}, more than timeoutSeconds + {SLACK:?}"
    );
    if matches!(case.failure, Failure::Slow | Failure::Hang) {
        ensure!(
            elapsed >= timeout - EARLY,
            "the create took {elapsed:?}: the webhook's timeout cannot have passed"
        );
    }
    let stored = get(server, &admin(server), &format!("{}/web", pods_path(&id))).await?;
    let steps = trace_steps(server, &reply).await?;
    let step = steps
        .iter()
        .find(|step| step.name == webhook)
        .with_context(|| format!("no step of {webhook} in the trace: {steps:?}"))?;
    // Shown with a failed test: what each case got.
    eprintln!("{id}: HTTP {} in {elapsed:?}: {}", reply.code, step.outcome);
    let outcome_prefix = format!("failed ({}): ", case.policy);
    let reason = step
        .outcome
        .strip_prefix(&outcome_prefix)
        .with_context(|| {
            format!(
                "step outcome {:?}, wanted {outcome_prefix:?}...",
                step.outcome
            )
        })?;
    expected.check(reason).context("the trace's step")?;
    if case.policy == "Ignore" {
        reply.expect_code(201, "a create whose webhook failed under Ignore")?;
        stored.expect_code(200, "the pod a create under Ignore stored")?;
        return Ok(());
    }
    reply.expect_code(500, "a create whose webhook failed under Fail")?;
    stored.expect_code(404, "the pod a create refused under Fail left behind")?;
    let status = reply.json()?;
    let message = status["message"].as_str().unwrap_or_default();
    let prefix = format!("Internal error occurred: failed calling webhook \"{webhook}\": ");
    let reason = message
        .strip_prefix(&prefix)
        .with_context(|| format!("message {message:?}, wanted {prefix:?}..."))?;
    expected.check(reason).context("the 500's message")?;
    ensure!(
        (
            status["kind"].as_str(),
            status["status"].as_str(),
            status["reason"].as_str(),
            status["code"].as_u64()
        ) == (
            Some("Status"),
            Some("Failure"),
            Some("InternalError"),
            Some(500)
        ),
        "the 500's Status: {status}"
    );
    ensure!(
        status["details"]["causes"][0]["message"].as_str()
            == Some(&format!("failed calling webhook \"{webhook}\": {reason}")[..]),
        "the 500's cause: {status}"
    );
    Ok(())
}

/// The whole matrix on one server: every case set up and run at once; the failures of all
/// cases are listed together.
#[tokio::test]
async fn webhook_failures_follow_the_failure_policy() -> anyhow::Result<()> {
    bounded(async {
        if !curl_or_skip("webhook_failures_follow_the_failure_policy")? {
            return Ok(());
        }
        let fixture = Fixture::start().await?;
        let cases = Case::all();
        let set_up = join_all(cases.iter().map(|case| fixture.set_up(*case))).await;
        for (case, result) in cases.iter().zip(set_up) {
            result.with_context(|| format!("setting up {}", case.id()))?;
        }
        let results = join_all(cases.iter().map(|case| run_case(&fixture, *case))).await;
        let failed: Vec<String> = cases
            .iter()
            .zip(results)
            .filter_map(|(case, result)| result.err().map(|e| format!("{}: {e:#}", case.id())))
            .collect();
        ensure!(
            failed.is_empty(),
            "{} of {} cases failed:\n\n{}\n\n{}",
            failed.len(),
            cases.len(),
            failed.join("\n\n"),
            fixture.server.log()
        );
        Ok(())
    })
    .await
}

/// A create refused under `Fail` through the case's webhook; the 500's message after
/// `Internal error occurred: failed calling webhook "<name>": `.
async fn refused_reason(fixture: &Fixture, case: Case, name: &str) -> anyhow::Result<String> {
    let id = case.id();
    let pod = pod(name, "registry.k8s.io/pause:3.10", &[]);
    let reply = create_pod(&fixture.server, &id, &pod, false).await?;
    reply.expect_code(500, &format!("{id}: create {name}"))?;
    let status = reply.json()?;
    let message = status["message"].as_str().unwrap_or_default();
    let prefix = format!(
        "Internal error occurred: failed calling webhook \"{}\": ",
        case.webhook()
    );
    message
        .strip_prefix(&prefix)
        .map(str::to_string)
        .with_context(|| format!("{id}: message {message:?}"))
}

/// A gRPC call whose `timeoutSeconds` passes is always reported as grpc-go reports a passed
/// deadline, whichever timer fires first: kubesim's own, or the one tonic's channel sets from
/// the `grpc-timeout` header it sends (then tonic answers `Cancelled: Timeout expired`).
/// Ten creates at once, twice, against the slow and the hanging webhook.
#[tokio::test]
async fn grpc_timeouts_read_as_deadline_exceeded() -> anyhow::Result<()> {
    bounded(async {
        if !curl_or_skip("grpc_timeouts_read_as_deadline_exceeded")? {
            return Ok(());
        }
        let fixture = Fixture::start().await?;
        for failure in [Failure::Slow, Failure::Hang] {
            let case = Case {
                transport: Transport::Grpc,
                policy: "Fail",
                failure,
            };
            fixture.set_up(case).await?;
            let (url, _) = fixture.client_config(failure);
            let want = format!(
                "failed to call webhook: Review \"{url}\": rpc error: code = DeadlineExceeded \
                 desc = context deadline exceeded"
            );
            for round in 0..2 {
                let names: Vec<String> = (0..10).map(|i| format!("web-{round}-{i}")).collect();
                let creates = names
                    .iter()
                    .map(|name| refused_reason(&fixture, case, name));
                for reason in join_all(creates).await {
                    let reason = reason?;
                    ensure!(
                        reason == want,
                        "{}: reason {reason:?}, wanted {want:?}",
                        case.id()
                    );
                }
            }
        }
        Ok(())
    })
    .await
}
