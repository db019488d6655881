//! One request, from its first line to its answer: which route it takes, the fate the knobs
//! draw for a review (delay, then perhaps a failure), and the answer.
//!
//! | request | route |
//! |---|---|
//! | `content-type: application/grpc*` | the gRPC service (`crate::grpc`), any method and path |
//! | `GET /healthz` | `200 ok` |
//! | `GET /records` (audit-sink only) | the recorded pod creates and audit events, JSON |
//! | `POST /audit` (audit-sink only) | an audit.k8s.io/v1 EventList to record |
//! | `POST` of `application/json`, any path | an AdmissionReview (`crate::https`) |
//! | another `POST` | 415 |
//! | anything else | 404 |
//!
//! Both review transports end in [`Reviewer::answer`], the sample's `review` and nothing else.

use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use kubesim_proto::admissionpb::admission_webhook_server::AdmissionWebhookServer;
use tokio::sync::{Notify, watch};
use tonic::body::Body;

use crate::faults::{FailureMode, Faults};
use crate::samples::Sample;
use crate::samples::audit_sink::{AUDIT_PATH, MAX_EVENT_LIST_BYTES, RECORDS_PATH};
use crate::server::Limits;
use crate::{grpc, https};

/// The sample and its knobs: what both transports call.
#[derive(Debug)]
pub struct Reviewer {
    pub sample: Sample,
    pub faults: Faults,
}

impl Reviewer {
    /// The sample's answer, its `uid` replaced when the call's fate is `wrong-uid`.
    pub fn answer(&self, request: &AdmissionRequest, wrong_uid: bool) -> AdmissionResponse {
        let mut response = self.sample.review(request);
        if wrong_uid {
            response.uid = self.faults.wrong_uid(&request.uid);
        }
        response
    }
}

/// Tells a connection to drop itself (`close`, and `hang` once it gives up): each connection
/// waits on its own, and its requests hold a clone.
#[derive(Debug, Clone, Default)]
pub struct Closer(Arc<Notify>);

impl Closer {
    pub fn close(&self) {
        // Stores a permit if the connection is not waiting yet, so the close is never lost.
        self.0.notify_one();
    }

    pub async fn closed(&self) {
        self.0.notified().await;
    }
}

/// What serves requests, shared by every connection of one server.
pub struct Routes {
    reviewer: Arc<Reviewer>,
    grpc: AdmissionWebhookServer<grpc::Service>,
    limits: Limits,
    /// Turns true when the server stops, ending hangs.
    stopping: watch::Receiver<bool>,
}

/// The route of a request, decided from its head alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Grpc,
    Healthz,
    Records,
    AuditEvents,
    Review,
    UnsupportedMediaType,
    NotFound,
}

impl Routes {
    pub fn new(
        sample: Sample,
        faults: Faults,
        limits: Limits,
        stopping: watch::Receiver<bool>,
    ) -> Routes {
        let reviewer = Arc::new(Reviewer { sample, faults });
        let grpc = AdmissionWebhookServer::new(grpc::Service::new(reviewer.clone()))
            .max_decoding_message_size(limits.max_request_body_bytes);
        Routes {
            reviewer,
            grpc,
            limits,
            stopping,
        }
    }

    pub async fn handle(&self, request: Request<Incoming>, closer: Closer) -> Response<Body> {
        match self.route(&request) {
            Route::Grpc => self.review_grpc(request, closer).await,
            Route::Review => self.review_json(request, closer).await,
            Route::Healthz => https::text(StatusCode::OK, "ok".into()),
            Route::Records => self.records(),
            Route::AuditEvents => self.audit_events(request).await,
            Route::UnsupportedMediaType => https::text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "an AdmissionReview is application/json".into(),
            ),
            Route::NotFound => https::text(StatusCode::NOT_FOUND, "not found".into()),
        }
    }

    fn route(&self, request: &Request<Incoming>) -> Route {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("application/grpc") {
            return Route::Grpc;
        }
        let path = request.uri().path();
        match *request.method() {
            Method::GET if path == "/healthz" => Route::Healthz,
            Method::GET if path == RECORDS_PATH && self.audit_sink() => Route::Records,
            // Before the catch-all review: an EventList is JSON too.
            Method::POST if path == AUDIT_PATH && self.audit_sink() => Route::AuditEvents,
            Method::POST if https::is_json(request) => Route::Review,
            Method::POST => Route::UnsupportedMediaType,
            _ => Route::NotFound,
        }
    }

    fn audit_sink(&self) -> bool {
        matches!(self.reviewer.sample, Sample::AuditSink(_))
    }

    fn records(&self) -> Response<Body> {
        let Sample::AuditSink(sink) = &self.reviewer.sample else {
            return https::text(StatusCode::NOT_FOUND, "not found".into());
        };
        let body = serde_json::to_vec(&sink.records()).unwrap_or_default();
        https::with_body(StatusCode::OK, https::JSON, body.into())
    }

    /// An audit EventList for the audit-sink: recorded and answered at once (no knobs), or
    /// 415 / 413 / 400 saying what is wrong with it.
    async fn audit_events(&self, request: Request<Incoming>) -> Response<Body> {
        let Sample::AuditSink(sink) = &self.reviewer.sample else {
            return https::text(StatusCode::NOT_FOUND, "not found".into());
        };
        if !https::is_json(&request) {
            return https::text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "an EventList is application/json".into(),
            );
        }
        let limited = Limited::new(request.into_body(), MAX_EVENT_LIST_BYTES);
        let body = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                let message =
                    format!("the request body is larger than {MAX_EVENT_LIST_BYTES} bytes");
                return https::text(StatusCode::PAYLOAD_TOO_LARGE, message);
            }
            Err(error) => {
                let message = format!("reading the request body: {error}");
                return https::text(StatusCode::BAD_REQUEST, message);
            }
        };
        match sink.receive_event_list(&body) {
            Ok(received) => {
                let body = serde_json::json!({ "received": received }).to_string();
                https::with_body(StatusCode::OK, https::JSON, body.into())
            }
            Err(message) => https::text(StatusCode::BAD_REQUEST, message),
        }
    }

    /// An AdmissionReview over HTTPS, with its fate.
    async fn review_json(&self, request: Request<Incoming>, closer: Closer) -> Response<Body> {
        let fate = self.reviewer.faults.draw();
        tokio::time::sleep(fate.delay).await;
        let wrong_uid = match fate.failure {
            None => false,
            Some(FailureMode::WrongUid) => true,
            Some(FailureMode::Error) => return https::injected_error(),
            Some(FailureMode::Garbage) => return https::garbage(),
            Some(FailureMode::Hang) => return self.hang(closer).await,
            Some(FailureMode::Close) => return self.close(closer).await,
        };
        match https::read_request(request, self.limits.max_request_body_bytes).await {
            Ok(admission) => https::respond(self.reviewer.answer(&admission, wrong_uid)),
            Err(error) => error,
        }
    }

    /// A gRPC call, with its fate when it is `Review` (anything else is tonic's
    /// `Unimplemented`).
    async fn review_grpc(&self, mut request: Request<Incoming>, closer: Closer) -> Response<Body> {
        if request.uri().path() == grpc::REVIEW_PATH {
            let fate = self.reviewer.faults.draw();
            tokio::time::sleep(fate.delay).await;
            match fate.failure {
                None => {}
                Some(FailureMode::WrongUid) => {
                    request.extensions_mut().insert(grpc::WrongUid);
                }
                Some(FailureMode::Error) => return grpc::injected_error(),
                Some(FailureMode::Garbage) => return grpc::garbage(),
                Some(FailureMode::Hang) => return self.hang(closer).await,
                Some(FailureMode::Close) => return self.close(closer).await,
            }
        }
        grpc::call(&self.grpc, request).await
    }

    /// `hang`: no answer until the client gives up (hyper then drops this future with its
    /// stream or connection), the server stops, or the hang limit passes; then the connection
    /// is dropped, so the client never gets an answer.
    async fn hang(&self, closer: Closer) -> Response<Body> {
        let mut stopping = self.stopping.clone();
        tokio::select! {
            _ = tokio::time::sleep(self.limits.hang_limit) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
        self.close(closer).await
    }

    /// `close`: the connection drops itself. This future then waits to be dropped with it
    /// (answering would race the close and might get a response out); the wait is bounded
    /// all the same.
    async fn close(&self, closer: Closer) -> Response<Body> {
        closer.close();
        tokio::time::sleep(self.limits.hang_limit).await;
        https::text(StatusCode::INTERNAL_SERVER_ERROR, "closing".into())
    }
}
