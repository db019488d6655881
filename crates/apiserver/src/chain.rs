//! The handler chain: every request passes these stages in this order, as in BRIEF.md's
//! request flow, and the first stage that refuses it answers with a `Status`:
//!
//! | # | stage | refuses with | state |
//! |---|---|---|---|
//! | 1 | panic guard | 500 InternalError | done |
//! | 2 | request info (`kubesim_api::request_info`) | 400, 500 | done |
//! | 3 | size limit | 413 RequestEntityTooLarge | done |
//! | 4 | in-flight limit | 429 TooManyRequests + `Retry-After` | done (watches and health probes exempt) |
//! | 5 | authentication (`kubesim_authn`) | 401 | done |
//! | 6 | audit ([`crate::audit`], `--audit-policy-file`) | — | `Audit-Id` on every response; events at each stage |
//! | 7 | impersonation (`Impersonate-*`, verb `impersonate`) | 400, 403 | done |
//! | 8 | priority and fairness ([`crate::flowcontrol`]) | 429 TooManyRequests + `Retry-After` | done |
//! | 9 | authorization (`kubesim_authz`, `--authorization-mode`) | 403 | done |
//! | 10 | request timeout | 504 Timeout | done (long-running requests exempt) |
//! | 11 | dispatch ([`crate::routes`]) | 404, 405, 503 | discovery, health, version |
//!
//! Flow control is two stages. Stage 4 is BRIEF.md's limit before authentication: it holds
//! for everyone, so a flood of bad credentials is bounded like any other load. With API
//! Priority and Fairness on (`--enable-priority-and-fairness`, the default) its permit is
//! held only until the request is classified: stage 8 runs where kube-apiserver runs
//! `WithPriorityAndFairness`, after impersonation (it needs the user) and before
//! authorization, and bounds the request from there on, so that a flooding user's queued
//! requests do not hold the permits an administrator needs. With APF off, stage 4 is kube's
//! `WithMaxInFlightLimit` and holds its permit until the response.
//!
//! Stages 5-8 share one bound, the request timeout: a token lookup or an authz service that
//! hangs answers 504, never holds the request forever. Each request's decision path (which
//! authenticator, who it acted as, which authorizer and rule) is logged at `debug` and kept
//! in `security::trace::TraceLog` under its `Audit-Id`.
//!
//! Each stage is one short function; [`Chain::handle`] calls them in order, and records the
//! stages passed ([`Stage`]) so a test can assert the order. Each request is a `request`
//! span and each stage a span in it ([`crate::trace`]); a request slower than
//! `--trace-slow-threshold` gets kube's one-line stage breakdown in the log.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use http_body_util::Limited;
use hyper::body::Body as HttpBody;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response};
use kubesim_api::{RequestInfo, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{Instrument, Span};

use kubesim_admission::planted::PlantedBug;
use kubesim_api::user::UserInfo;
use kubesim_authn::AuthnRequest;
use kubesim_authz::Attributes;
use kubesim_authz::chain::forbidden_status;
use kubesim_net::Entropy;
use rustls::pki_types::CertificateDer;

use kubesim_audit::Stage as AuditStage;
use kubesim_flowcontrol::{Controller, RequestDigest, Seat};

use crate::ApiServerConfig;
use crate::audit::{Auditor, RequestAudit, RequestMeta};
use crate::context::{RequestContext, RequestDeadline, Security, Timings};
use crate::held_body::{SharedBody, drain, hold_until_sent};
use crate::metrics::{GaugeGuard, Metrics, RequestLabels};
use crate::response::{self, Body};
use crate::routes::Routes;
use crate::security::trace::RequestTrace;
use crate::trace::{Finished, SlowRequestLog, stage_span};

/// The stages, in the order a request passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    PanicGuard,
    RequestInfo,
    SizeLimit,
    InFlight,
    Authentication,
    Audit,
    Impersonation,
    PriorityAndFairness,
    Authorization,
    Timeout,
    Dispatch,
}

/// Every stage, in order: what a request that nobody refuses passes.
pub const STAGES: [Stage; 11] = [
    Stage::PanicGuard,
    Stage::RequestInfo,
    Stage::SizeLimit,
    Stage::InFlight,
    Stage::Authentication,
    Stage::Audit,
    Stage::Impersonation,
    Stage::PriorityAndFairness,
    Stage::Authorization,
    Stage::Timeout,
    Stage::Dispatch,
];

/// The client certificate chain of a request's connection (leaf first), as the TLS
/// handshake received it; the server puts it in every request's extensions.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// The response header kube-apiserver names each request by.
pub const AUDIT_ID_HEADER: &str = "audit-id";

/// A request with this header (any value but `0` or `false`) is answered with a
/// `Server-Timing` header: how long each stage of the chain, each admission plugin and
/// webhook, and the handler took, in milliseconds (the W3C format curl and browsers show).
pub const TRACE_HEADER: &str = "x-kubesim-trace";

/// kube-apiserver's `nonMutatingRequestVerbs`: every other verb counts as mutating.
const NON_MUTATING_VERBS: [&str; 3] = ["get", "list", "watch"];
/// kube-apiserver's default long-running check: such requests are exempt from the
/// in-flight limit and the request timeout (a watch lasts as long as the client wants).
const LONG_RUNNING_VERBS: [&str; 2] = ["watch", "proxy"];
const LONG_RUNNING_SUBRESOURCES: [&str; 5] = ["attach", "exec", "proxy", "log", "portforward"];
/// kube-apiserver's answer to a request over the in-flight limit, and its `Retry-After`.
const TOO_MANY_REQUESTS_MESSAGE: &str = "Too many requests, please try again later.";
const RETRY_AFTER_SECONDS: i32 = 1;

/// The chain with its bounds; shared by every connection.
pub struct Chain {
    in_flight: InFlight,
    /// Bodies over this are refused with 413.
    max_request_body_bytes: usize,
    /// Requests that are not long-running are answered 504 past this.
    request_timeout: Duration,
    routes: Routes,
    security: Arc<Security>,
    /// Audit-Ids, through the seam.
    entropy: Arc<dyn Entropy>,
    /// API Priority and Fairness; `None` with `--enable-priority-and-fairness=false`.
    flow_control: Option<Arc<Controller>>,
    /// The longest a request waits in an APF queue.
    apf_wait_limit: Duration,
    /// `None` when nothing is audited.
    auditor: Option<Arc<Auditor>>,
    /// Request counts and latencies, per stage too (`/metrics`).
    metrics: Arc<Metrics>,
    /// kube's "Trace[...]" line for requests over `--trace-slow-threshold`.
    slow_requests: SlowRequestLog,
    /// A known bug the simulation plants (`kubesim_admission::planted`); none in real runs.
    planted_bug: PlantedBug,
}

/// What the stages leave for the end of the request: its audit, its APF seat (released as
/// soon as the handler is done) and the response headers they add.
#[derive(Default)]
struct Progress {
    audit: Option<Arc<RequestAudit>>,
    /// Stage 4's permit: with APF on, given back as the request is classified (before it
    /// waits in a queue); without, held until the response.
    in_flight: Option<OwnedSemaphorePermit>,
    seat: Option<Seat>,
    headers: Vec<(&'static str, String)>,
    long_running: bool,
    /// The request's metric labels, once its info is known.
    labels: Option<RequestLabels>,
    /// `apiserver_current_inflight_requests`, or for a watch `apiserver_longrunning_requests`,
    /// counted while this is held (a watch's until its stream ends).
    gauge: Option<GaugeGuard>,
    /// Each stage's and each admission step's time, kept when the request asked for them
    /// ([`TRACE_HEADER`]) or the slow-request line may want them.
    timings: Option<Timings>,
    /// The request asked for its stage breakdown in a `Server-Timing` header.
    server_timing: bool,
    /// Who the request acted as, for the slow-request line (kept only with `timings`).
    user: Option<String>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("in_flight", &self.in_flight)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Chain {
    pub fn new(
        config: &ApiServerConfig,
        routes: Routes,
        security: Arc<Security>,
        entropy: Arc<dyn Entropy>,
    ) -> Chain {
        Chain {
            in_flight: InFlight::new(
                config.max_requests_inflight,
                config.max_mutating_requests_inflight,
            ),
            max_request_body_bytes: config.max_request_body_bytes,
            request_timeout: config.request_timeout,
            metrics: routes.metrics.clone(),
            routes,
            security,
            entropy,
            flow_control: None,
            apf_wait_limit: crate::flowcontrol::wait_limit(config.request_timeout),
            auditor: None,
            slow_requests: SlowRequestLog {
                threshold: config.trace_slow_threshold,
            },
            planted_bug: config.admission.planted_bug,
        }
    }

    /// Stage 8 with this controller (without it, stage 4 alone bounds requests).
    pub fn with_flow_control(mut self, controller: Arc<Controller>) -> Chain {
        self.flow_control = Some(controller);
        self
    }

    /// Stage 6 with this auditor.
    pub fn with_auditor(mut self, auditor: Option<Arc<Auditor>>) -> Chain {
        self.auditor = auditor;
        self
    }

    /// Runs a request through every stage. Never fails: a refusal, a timeout or a panic is
    /// a `Status` response, never a dropped connection.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut trace = Vec::with_capacity(STAGES.len());
        self.handle_traced(request, &mut trace).await
    }

    /// [`Chain::handle`], recording each stage the request entered in `trace`; the whole
    /// request is its `request` span.
    pub(crate) async fn handle_traced<B>(
        &self,
        request: Request<B>,
        trace: &mut Vec<Stage>,
    ) -> Response<Body>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let audit_id = crate::registry::meta::new_uid(|| self.entropy.next_u64());
        let span =
            crate::trace::request_span(&audit_id, request.method().as_str(), request.uri().path());
        let response = self
            .respond(request, trace, &audit_id, &span)
            .instrument(span.clone())
            .await;
        span.record("code", response.status().as_u16());
        response
    }

    async fn respond<B>(
        &self,
        request: Request<B>,
        trace: &mut Vec<Stage>,
        audit_id: &str,
        span: &Span,
    ) -> Response<Body>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        trace.push(Stage::PanicGuard);
        let started = tokio::time::Instant::now();
        // The body stays alive until the response is sent, however early a stage refuses
        // (`held_body`: else HTTP/2 may reset the stream before the answer goes out).
        let (parts, body) = request.into_parts();
        let (body, slot) = SharedBody::new(body);
        let request = Request::from_parts(parts, body);
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let mut progress = Progress {
            server_timing: wants_timings(&request),
            ..Progress::default()
        };
        progress.timings =
            (progress.server_timing || self.slow_requests.enabled()).then(Timings::default);
        let timings = progress.timings.clone();
        // AssertUnwindSafe: after a panic only the response is built; nothing the panicking
        // future touched is used again (the in-flight permit is released by its drop).
        let stages = AssertUnwindSafe(self.stages(request, trace, audit_id, &mut progress, span));
        let outcome = crate::trace::in_request(timings, stages.catch_unwind()).await;
        // The handler is done: its seats go to the next request in its priority level.
        drop(progress.seat.take());
        drop(progress.in_flight.take());
        let audit = progress.audit.take();
        let (result, audit_stage) = match outcome {
            Ok(result) => (result, AuditStage::ResponseComplete),
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(%method, %path, panic = %what, "handler panicked");
                let status = Status::internal_error(&format!(
                    "the server panicked while serving {method} {path}"
                ));
                (Err(status), AuditStage::Panic)
            }
        };
        let response = match result {
            Ok(response) => response,
            Err(status) => {
                if let Some(audit) = &audit {
                    audit.set_status(status.code, Some(&status));
                    audit.complete(audit_stage);
                }
                drain(&slot).await;
                response::status(&status)
            }
        };
        let (mut parts, body) = response.into_parts();
        if let Some(timings) = &progress.timings {
            let total = started.elapsed();
            timings.add("total", total);
            if progress.server_timing
                && let Ok(value) = hyper::header::HeaderValue::from_str(&timings.server_timing())
            {
                parts.headers.insert("server-timing", value);
            }
            let finished = Finished {
                audit_id,
                method: method.as_str(),
                path: &path,
                verb: progress.labels.as_ref().map_or("", |l| l.verb.as_str()),
                user: progress.user.as_deref().unwrap_or(""),
                code: parts.status.as_u16(),
                total,
            };
            self.slow_requests.finish(&finished, timings);
        }
        if let Some(labels) = &progress.labels {
            self.metrics
                .observe_request(labels, parts.status.as_u16(), started.elapsed());
        }
        // A watch's gauge rides on its body; anything else's stops counting here.
        let gauge = progress.gauge.take().filter(|_| progress.long_running);
        if let Ok(value) = hyper::header::HeaderValue::from_str(audit_id) {
            parts.headers.insert(AUDIT_ID_HEADER, value);
        }
        for (name, value) in &progress.headers {
            if let Ok(value) = hyper::header::HeaderValue::from_str(value) {
                parts.headers.insert(*name, value);
            }
        }
        let Some(audit) = audit else {
            return Response::from_parts(parts, hold_until_sent(body, Box::new((slot, gauge))));
        };
        let body = audit_response(&audit, parts.status.as_u16(), body, progress.long_running).await;
        Response::from_parts(
            parts,
            hold_until_sent(body, Box::new((slot, gauge, CompleteOnDrop(audit)))),
        )
    }

    async fn stages<B>(
        &self,
        request: Request<B>,
        trace: &mut Vec<Stage>,
        audit_id: &str,
        progress: &mut Progress,
        span: &Span,
    ) -> Result<Response<Body>, Status>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        trace.push(Stage::RequestInfo);
        let info = request_info(&request)?;
        span.record("verb", info.verb.as_str());
        span.record("resource", info.resource.as_str());
        progress.long_running = is_long_running(&info);
        let labels = request_labels(&request, &info);
        progress.gauge = Some(if progress.long_running {
            self.metrics.longrunning(&labels)
        } else {
            self.metrics
                .inflight(!NON_MUTATING_VERBS.contains(&info.verb.as_str()))
        });
        progress.labels = Some(labels);
        trace.push(Stage::SizeLimit);
        let mut request = size_limit(request, self.max_request_body_bytes)?;
        trace.push(Stage::InFlight);
        // Held until the request is classified by APF, or without APF until the response
        // is built; dropped on every path out, panics included.
        progress.in_flight = self.in_flight.admit(&info)?;
        let mut path = RequestTrace::new(audit_id, &info);
        let user = match tokio::time::timeout(
            self.request_timeout,
            self.identify(&request, &info, trace, &mut path, progress),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(Status::timeout(
                "request did not complete within requested timeout - authentication and \
                 authorization did not finish",
                0,
            )),
        };
        log_decision(&path);
        self.security.trace.record(path);
        let user = user?;
        span.record("user", user.username.as_str());
        if progress.timings.is_some() {
            progress.user = Some(user.username.clone());
        }
        request.extensions_mut().insert(RequestContext {
            user,
            audit_id: audit_id.to_string(),
            security: self.security.clone(),
            audit: progress.audit.clone(),
            timings: progress.timings.clone(),
        });
        trace.push(Stage::Timeout);
        let timeout = request_timeout(&request, self.request_timeout)?;
        request
            .extensions_mut()
            .insert(RequestDeadline(tokio::time::Instant::now() + timeout));
        let timings = progress.timings.clone();
        let dispatch = async {
            trace.push(Stage::Dispatch);
            let started = tokio::time::Instant::now();
            // Boxed: the handlers' futures (registry, admission, webhooks) nest deep enough
            // that, with the spans' wrappers, the server's future passes rustc's type-layout
            // depth limit; one allocation per request cuts it here.
            let handler = Box::pin(self.routes.dispatch(request, &info));
            let result = handler.instrument(stage_span("handler")).await;
            if let Some(timings) = &timings {
                timings.add("handler", started.elapsed());
            }
            result
        };
        if is_long_running(&info) {
            return dispatch.await;
        }
        match tokio::time::timeout(timeout, dispatch).await {
            Ok(result) => result,
            // kube-apiserver's timeout filter, word for word.
            Err(_) => Err(Status::timeout(
                "request did not complete within requested timeout - context deadline exceeded",
                0,
            )),
        }
    }

    /// Stages 5-9: who is asking, whom they act as, when they may run, and whether they
    /// may. Records the decision path in `path`, the audit and the seat in `progress`.
    async fn identify<B>(
        &self,
        request: &Request<B>,
        info: &RequestInfo,
        trace: &mut Vec<Stage>,
        path: &mut RequestTrace,
        progress: &mut Progress,
    ) -> Result<Arc<UserInfo>, Status> {
        trace.push(Stage::Authentication);
        let mut timer = StageTimer::start(&self.metrics, progress.timings.clone());
        let authenticated = self
            .authenticate(request, path)
            .instrument(stage_span("authentication"))
            .await;
        timer.lap("authentication");
        let user = match authenticated {
            Ok(user) => user,
            Err(status) => {
                if let Some(auditor) = &self.auditor {
                    let attempted = auth_methods(request);
                    auditor.failed_authentication(
                        RequestMeta::of(request, &path.audit_id),
                        info,
                        &attempted,
                    );
                }
                return Err(status);
            }
        };
        trace.push(Stage::Audit);
        if let Some(auditor) = &self.auditor {
            let meta = RequestMeta::of(request, &path.audit_id);
            progress.audit = stage_span("audit").in_scope(|| auditor.begin(meta, &user, info));
        } else {
            // Empty, so that every request's trace has the same stages as its timings.
            drop(stage_span("audit").entered());
        }
        timer.lap("audit");
        trace.push(Stage::Impersonation);
        let impersonated = self
            .impersonate(request, &user, path)
            .instrument(stage_span("impersonation"))
            .await;
        timer.lap("impersonation");
        let user = impersonated?.unwrap_or(user);
        if let (Some(audit), Some(impersonated)) = (&progress.audit, &path.impersonated) {
            audit.set_impersonated_user(impersonated);
        }
        trace.push(Stage::PriorityAndFairness);
        let admitted = self
            .prioritize(&user, info, request.uri(), path, progress)
            .instrument(stage_span("priorityandfairness"))
            .await;
        timer.lap("priorityandfairness");
        admitted?;
        trace.push(Stage::Authorization);
        let authorized = self
            .authorize(&user, info, request.uri(), path, progress.audit.as_deref())
            .instrument(stage_span("authorization"))
            .await;
        timer.lap("authorization");
        authorized?;
        Ok(user)
    }

    /// Stage 8: API Priority and Fairness classifies the request and waits for its seats
    /// (at most a quarter of the request timeout), or rejects it with 429.
    async fn prioritize(
        &self,
        user: &Arc<UserInfo>,
        info: &RequestInfo,
        uri: &hyper::Uri,
        path: &mut RequestTrace,
        progress: &mut Progress,
    ) -> Result<(), Status> {
        let Some(controller) = &self.flow_control else {
            return Ok(());
        };
        // From here APF bounds the request: a request waiting in a queue must not hold a
        // permit an exempt administrator needs.
        drop(progress.in_flight.take());
        let digest = RequestDigest {
            info: info.clone(),
            user: Arc::clone(user),
        };
        let work =
            crate::flowcontrol::work_estimate(info, self.routes.registry.as_ref(), list_limit(uri));
        let outcome = controller.admit(&digest, work, self.apf_wait_limit).await;
        let classification = match &outcome {
            Ok(seat) => &seat.classification,
            Err(rejection) => &rejection.classification,
        };
        progress.headers = crate::flowcontrol::headers(classification);
        path.flow_schema = classification.flow_schema.clone();
        path.priority_level = classification.priority_level.clone();
        match outcome {
            Ok(seat) => {
                progress.seat = Some(seat);
                Ok(())
            }
            Err(rejection) => {
                path.decision = format!(
                    "Rejected by priority and fairness ({})",
                    rejection.reason.as_str()
                );
                Err(crate::flowcontrol::rejection_status(&rejection))
            }
        }
    }

    /// Stage 5: the first authenticator that recognises the request decides; a presented
    /// credential that fails is a 401, never anonymous. The user is shared from here on, by
    /// the trace and the request's context, rather than copied for each.
    async fn authenticate<B>(
        &self,
        request: &Request<B>,
        path: &mut RequestTrace,
    ) -> Result<Arc<UserInfo>, Status> {
        let empty = PeerCertificates::default();
        let peer = request
            .extensions()
            .get::<PeerCertificates>()
            .unwrap_or(&empty);
        let asked = AuthnRequest {
            headers: request.headers(),
            peer_certificates: &peer.0,
        };
        match self.security.authenticator.authenticate(asked).await {
            Ok(authenticated) => {
                path.authenticator = authenticated.method.as_str().to_string();
                path.authentication = authenticated.detail;
                let user = Arc::new(authenticated.user);
                path.user = Some(Arc::clone(&user));
                Ok(user)
            }
            Err(error) => {
                path.authentication = error.detail.clone();
                path.decision = "Unauthorized".to_string();
                let message = error.client_message.as_deref().unwrap_or("Unauthorized");
                Err(Status::unauthorized(message))
            }
        }
    }

    /// Stage 7: `Impersonate-*` headers, each asked of the authorizer with verb
    /// `impersonate` in kube's order; the first refusal is the 403. The user impersonated,
    /// or `None` when the request asks for no one (it acts as itself).
    async fn impersonate<B>(
        &self,
        request: &Request<B>,
        authenticated: &UserInfo,
        path: &mut RequestTrace,
    ) -> Result<Option<Arc<UserInfo>>, Status> {
        let asked = kubesim_authn::impersonation::requested(request.headers())
            .map_err(|message| Status::bad_request(&message))?;
        let Some(asked) = asked else {
            return Ok(None);
        };
        for check in asked.checks() {
            let attributes = Attributes {
                user: authenticated.clone(),
                verb: check.verb.to_string(),
                resource_request: true,
                namespace: check.namespace.clone(),
                api_group: check.api_group.to_string(),
                resource: check.resource.to_string(),
                subresource: check.subresource.clone(),
                name: check.name.clone(),
                ..Attributes::default()
            };
            let decision = self.security.authorizer.authorize(&attributes).await;
            if !decision.is_allowed() {
                path.record_decision(&decision);
                return Err(refusal(request.uri(), &attributes, &decision));
            }
        }
        let user = Arc::new(asked.user_info());
        path.impersonated = Some(Arc::clone(&user));
        Ok(Some(user))
    }

    /// Stage 8: the chain of `--authorization-mode`; anything but Allow is a 403 with the
    /// deciding authorizer's reason (a 500 when an authorizer failed: [`refusal`]).
    async fn authorize(
        &self,
        user: &UserInfo,
        info: &RequestInfo,
        uri: &hyper::Uri,
        path: &mut RequestTrace,
        audit: Option<&RequestAudit>,
    ) -> Result<(), Status> {
        let attributes = Attributes::from_request_info(user.clone(), info);
        let decision = self.security.authorizer.authorize(&attributes).await;
        path.record_decision(&decision);
        if let Some(audit) = audit {
            annotate_decision(audit, &decision);
        }
        // Planted (simulation only): an authorizer that failed is taken as Allow.
        let fail_open =
            self.planted_bug.is(PlantedBug::AuthzFailOpen) && !decision.error.is_empty();
        if decision.is_allowed() || fail_open {
            return Ok(());
        }
        Err(refusal(uri, &attributes, &decision))
    }
}

/// The metric labels of a request ([`RequestLabels::of`]).
fn request_labels<B>(request: &Request<B>, info: &RequestInfo) -> RequestLabels {
    let content_type = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let query = request.uri().query().unwrap_or("");
    RequestLabels::of(request.method().as_str(), info, query, content_type)
}

/// Times the chain's stages one after another (`apiserver_request_filter_duration_seconds`,
/// and the request's `Server-Timing` when it asked).
struct StageTimer<'a> {
    metrics: &'a Metrics,
    timings: Option<Timings>,
    since: tokio::time::Instant,
}

impl<'a> StageTimer<'a> {
    fn start(metrics: &'a Metrics, timings: Option<Timings>) -> StageTimer<'a> {
        StageTimer {
            metrics,
            timings,
            since: tokio::time::Instant::now(),
        }
    }

    /// Records the stage that just ended, and starts the next.
    fn lap(&mut self, filter: &str) {
        let now = tokio::time::Instant::now();
        let elapsed = now - self.since;
        self.metrics.observe_filter(filter, elapsed);
        if let Some(timings) = &self.timings {
            timings.add(filter, elapsed);
        }
        self.since = now;
    }
}

/// Whether the request asked for its stage breakdown ([`TRACE_HEADER`]).
fn wants_timings<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(TRACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false"))
}

/// kube's `getAuthMethods`: the credentials a request carried, for the audit of a 401.
fn auth_methods<B>(request: &Request<B>) -> String {
    let mut methods = Vec::new();
    let authorization = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    let mut words = authorization.split(' ');
    let scheme = words.next().unwrap_or("").to_ascii_lowercase();
    if scheme == "basic" {
        methods.push("basic");
    }
    if scheme == "bearer" && words.next().is_some() {
        methods.push("bearer");
    }
    let access_token = request.uri().query().is_some_and(|query| {
        kubesim_api::request_info::query_pairs(query)
            .iter()
            .any(|(key, value)| key == "access_token" && !value.trim().is_empty())
    });
    if access_token {
        methods.push("access_token");
    }
    let certificates = request.extensions().get::<PeerCertificates>();
    if certificates.is_some_and(|peer| !peer.0.is_empty()) {
        methods.push("x509");
    }
    if methods.is_empty() {
        return "no credentials provided".to_string();
    }
    methods.join(",")
}

/// kube's authorization filter's audit annotations: the decision and its reason; an
/// authorizer's failure is only the reason `internal error`.
fn annotate_decision(audit: &RequestAudit, decision: &kubesim_authz::Decision) {
    const DECISION: &str = "authorization.k8s.io/decision";
    const REASON: &str = "authorization.k8s.io/reason";
    if decision.is_allowed() {
        audit.annotate(DECISION, "allow");
        audit.annotate(REASON, &decision.reason);
    } else if !decision.error.is_empty() {
        audit.annotate(REASON, "internal error");
    } else {
        audit.annotate(DECISION, "forbid");
        audit.annotate(REASON, &decision.reason);
    }
}

/// The `limit` of a list, for its APF work estimate.
fn list_limit(uri: &hyper::Uri) -> Option<u64> {
    let query = uri.query()?;
    kubesim_api::request_info::query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "limit")
        .and_then(|(_, value)| value.parse().ok())
        .filter(|limit| *limit > 0)
}

/// The audit of a response the handler made: its code, then for a long-running request
/// the `ResponseStarted` event now (`ResponseComplete` comes when its stream ends, through
/// [`CompleteOnDrop`]); for any other the response body at level RequestResponse (read
/// whole: such a body is already complete) and `ResponseComplete`.
async fn audit_response(audit: &RequestAudit, code: u16, body: Body, long_running: bool) -> Body {
    audit.set_status(code, None);
    if long_running {
        audit.emit(AuditStage::ResponseStarted);
        return body;
    }
    let body = if audit.wants_response() {
        use http_body_util::BodyExt;
        match body.collect().await {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                audit.response_body(&bytes);
                response::full(bytes)
            }
            Err(never) => match never {},
        }
    } else {
        body
    };
    audit.complete(AuditStage::ResponseComplete);
    body
}

/// Sends a request's `ResponseComplete` event when its response body is done (or dropped):
/// for a watch, when the stream ends. A request already completed sends nothing more.
struct CompleteOnDrop(Arc<RequestAudit>);

impl Drop for CompleteOnDrop {
    fn drop(&mut self) {
        self.0.complete(AuditStage::ResponseComplete);
    }
}

/// A request the chain did not allow: kube's 403, or, when an authorizer failed (the authz
/// service down or slow), the 500 kube's authorization filter answers with the error
/// (`responsewriters.InternalError`: `Internal Server Error: "<uri>": <error>`; kube writes it
/// as plain text, kubesim as a Status with the same words).
fn refusal(
    uri: &hyper::Uri,
    attributes: &Attributes,
    decision: &kubesim_authz::Decision,
) -> Status {
    if decision.error.is_empty() {
        return forbidden_status(attributes, &decision.reason);
    }
    let request_uri = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    Status::failure(
        500,
        kubesim_api::status::reason::INTERNAL_ERROR,
        format!(
            "Internal Server Error: {}: {}",
            kubesim_api::status::go_quote(request_uri),
            decision.error
        ),
    )
}

/// One `debug` line per request with its decision path (never a credential).
fn log_decision(path: &RequestTrace) {
    tracing::debug!(
        audit_id = %path.audit_id,
        verb = %path.verb,
        path = %path.path,
        authenticator = %path.authenticator,
        authentication = %path.authentication,
        user = path.user.as_ref().map(|u| u.username.as_str()).unwrap_or(""),
        impersonated = path.impersonated.as_ref().map(|u| u.username.as_str()).unwrap_or(""),
        decision = %path.decision,
        authorizer = %path.authorizer,
        decided_by = %path.decided_by,
        reason = %path.reason,
        error = %path.error,
        "request decision path"
    );
}

/// Stage 9's bound: the server's, or the request's `?timeout=` when shorter (kube's
/// `WithRequestDeadline`: a malformed one is a 400).
fn request_timeout<B>(request: &Request<B>, server: Duration) -> Result<Duration, Status> {
    let query = request.uri().query().unwrap_or("");
    let asked = kubesim_api::request_info::query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "timeout")
        .map(|(_, value)| value);
    match asked.as_deref() {
        None | Some("") => Ok(server),
        Some(text) => match kubesim_api::time::parse_go_duration(text) {
            // "a timeout of 0s implies no timeout on the user's part": the server's bound.
            Some(asked) if asked.is_zero() => Ok(server),
            Some(asked) => Ok(asked.min(server)),
            None => Err(Status::bad_request(&format!(
                "invalid timeout specified in the request URL - time: invalid duration {}",
                kubesim_api::status::go_quote(text)
            ))),
        },
    }
}

/// Stage 2: what the request is about. A path kube-apiserver cannot read is refused here.
fn request_info<B>(request: &Request<B>) -> Result<RequestInfo, Status> {
    let query = request.uri().query().unwrap_or("");
    kubesim_api::request_info::try_parse(request.method().as_str(), request.uri().path(), query)
        .map_err(|error| match error {
            kubesim_api::request_info::RequestInfoError::InvalidPathEscape { .. } => {
                Status::bad_request(&error.to_string())
            }
            kubesim_api::request_info::RequestInfoError::NoResource { .. } => {
                Status::internal_error(&format!("failed to create RequestInfo: {error}"))
            }
        })
}

/// Stage 3: a declared body over the limit is refused before it is read; an undeclared one
/// (chunked, HTTP/2 without content-length) is cut off at the limit while it is read
/// ([`read_body`] answers 413 then).
fn size_limit<B>(request: Request<B>, limit: usize) -> Result<Request<Limited<B>>, Status> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large(limit));
    }
    Ok(request.map(|body| Limited::new(body, limit)))
}

/// The 413 kube-apiserver answers for a body over its limit.
pub fn too_large(limit: usize) -> Status {
    Status::request_entity_too_large(&format!("limit is {limit}"))
}

/// Reads a whole body admitted by [`size_limit`]; 413 when it runs over the limit.
pub async fn read_body<B>(body: Limited<B>, limit: usize) -> Result<bytes::Bytes, Status>
where
    B: HttpBody<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(error) => Err(Status::bad_request(&format!(
            "unable to read the request body: {error}"
        ))),
    }
}

/// Stage 4: the two in-flight limits of kube-apiserver's `WithMaxInFlightLimit`.
#[derive(Debug)]
struct InFlight {
    /// `None` when the limit is 0 (no limit).
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl InFlight {
    fn new(max_read_only: usize, max_mutating: usize) -> InFlight {
        let semaphore = |max: usize| (max > 0).then(|| Arc::new(Semaphore::new(max)));
        InFlight {
            read_only: semaphore(max_read_only),
            mutating: semaphore(max_mutating),
        }
    }

    /// A permit held while the request is served, or 429 when its kind is at the limit.
    /// Long-running requests and health probes take none.
    fn admit(&self, info: &RequestInfo) -> Result<Option<OwnedSemaphorePermit>, Status> {
        if is_long_running(info) || is_health_probe(info) {
            return Ok(None);
        }
        let limit = if NON_MUTATING_VERBS.contains(&info.verb.as_str()) {
            &self.read_only
        } else {
            &self.mutating
        };
        let Some(semaphore) = limit else {
            return Ok(None);
        };
        match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(_) => Err(Status::too_many_requests(
                TOO_MANY_REQUESTS_MESSAGE,
                RETRY_AFTER_SECONDS,
            )),
        }
    }
}

/// kube-apiserver's `BasicLongRunningRequestCheck` with its default verbs and subresources.
fn is_long_running(info: &RequestInfo) -> bool {
    LONG_RUNNING_VERBS.contains(&info.verb.as_str())
        || (info.is_resource_request
            && LONG_RUNNING_SUBRESOURCES.contains(&info.subresource.as_str()))
}

/// `/livez`, `/readyz`, `/healthz` and their checks. Exempt from the in-flight limit, as
/// kube-apiserver's `probes` FlowSchema exempts them: a busy server answering its liveness
/// probe with 429 gets restarted by the kubelet, which makes it busier still.
fn is_health_probe(info: &RequestInfo) -> bool {
    if info.is_resource_request {
        return false;
    }
    let first = info.path.trim_start_matches('/').split('/').next();
    first.is_some_and(|segment| crate::health::Endpoint::from_segment(segment).is_some())
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
