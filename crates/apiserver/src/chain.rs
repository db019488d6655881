//! The handler chain: every request passes these stages in this order, as in BRIEF.md's
//! request flow, and the first stage that refuses it answers with a `Status`:
//!
//! | # | stage | refuses with | state |
//! |---|---|---|---|
//! | 1 | panic guard | 500 InternalError | done |
//! | 2 | request info (`kubesim_api::request_info`) | 400, 500 | done |
//! | 3 | size limit | 413 RequestEntityTooLarge | done |
//! | 4 | in-flight limit | 429 TooManyRequests + `Retry-After` | done (watches and health probes exempt) |
//! | 5 | authentication | 401 | **PLACEHOLDER**: everyone is `kubesim-admin` |
//! | 6 | audit | — | **PLACEHOLDER**: records nothing |
//! | 7 | impersonation | 403 | **PLACEHOLDER**: refuses every `Impersonate-*` header |
//! | 8 | authorization | 403 | **PLACEHOLDER**: AlwaysAllow |
//! | 9 | request timeout | 504 Timeout | done (long-running requests exempt) |
//! | 10 | dispatch ([`crate::routes`]) | 404, 405, 503 | discovery, health, version |
//!
//! kube-apiserver runs the in-flight limit after authentication and exempts `system:masters`
//! from it; kubesim follows BRIEF.md's order (limit before authentication), so the limit
//! holds for everyone, which is what a placeholder authenticator that makes everyone a
//! master needs anyway.
//!
//! Each stage is one short function; [`Chain::handle`] calls them in order, and records the
//! stages passed ([`Stage`]) so a test can assert the order.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use http_body_util::Limited;
use hyper::body::Body as HttpBody;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response};
use kubesim_api::status::reason;
use kubesim_api::{RequestInfo, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiServerConfig;
use crate::response::{self, Body};
use crate::routes::Routes;

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
    Authorization,
    Timeout,
    Dispatch,
}

/// Every stage, in order: what a request that nobody refuses passes.
pub const STAGES: [Stage; 10] = [
    Stage::PanicGuard,
    Stage::RequestInfo,
    Stage::SizeLimit,
    Stage::InFlight,
    Stage::Authentication,
    Stage::Audit,
    Stage::Impersonation,
    Stage::Authorization,
    Stage::Timeout,
    Stage::Dispatch,
];

/// Who made a request, as authentication decides (`user.Info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

/// PLACEHOLDER (until the authentication issue): the identity every request gets.
pub const PLACEHOLDER_USER: &str = "kubesim-admin";
/// PLACEHOLDER groups: `system:masters` is what kube-apiserver's authorizers always allow.
pub const PLACEHOLDER_GROUPS: [&str; 2] = ["system:masters", "system:authenticated"];

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
#[derive(Debug)]
pub struct Chain {
    in_flight: InFlight,
    /// Bodies over this are refused with 413.
    max_request_body_bytes: usize,
    /// Requests that are not long-running are answered 504 past this.
    request_timeout: Duration,
    routes: Routes,
}

impl Chain {
    pub fn new(config: &ApiServerConfig, routes: Routes) -> Chain {
        Chain {
            in_flight: InFlight::new(
                config.max_requests_inflight,
                config.max_mutating_requests_inflight,
            ),
            max_request_body_bytes: config.max_request_body_bytes,
            request_timeout: config.request_timeout,
            routes,
        }
    }

    /// Runs a request through every stage. Never fails: a refusal, a timeout or a panic is
    /// a `Status` response, never a dropped connection.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut trace = Vec::with_capacity(STAGES.len());
        self.handle_traced(request, &mut trace).await
    }

    /// [`Chain::handle`], recording each stage the request entered in `trace`.
    pub(crate) async fn handle_traced<B>(
        &self,
        request: Request<B>,
        trace: &mut Vec<Stage>,
    ) -> Response<Body>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        trace.push(Stage::PanicGuard);
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        // AssertUnwindSafe: after a panic only the response is built; nothing the panicking
        // future touched is used again (the in-flight permit is released by its drop).
        let outcome = AssertUnwindSafe(self.stages(request, trace))
            .catch_unwind()
            .await;
        let result = match outcome {
            Ok(result) => result,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(%method, %path, panic = %what, "handler panicked");
                Err(Status::internal_error(&format!(
                    "the server panicked while serving {method} {path}"
                )))
            }
        };
        result.unwrap_or_else(|status| response::status(&status))
    }

    async fn stages<B>(
        &self,
        request: Request<B>,
        trace: &mut Vec<Stage>,
    ) -> Result<Response<Body>, Status>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        trace.push(Stage::RequestInfo);
        let info = request_info(&request)?;
        trace.push(Stage::SizeLimit);
        let request = size_limit(request, self.max_request_body_bytes)?;
        trace.push(Stage::InFlight);
        // Held until the response is built; dropped on every path out, panics included.
        let _permit = self.in_flight.admit(&info)?;
        trace.push(Stage::Authentication);
        let user = authenticate(&request)?;
        trace.push(Stage::Audit);
        audit(&info, &user);
        trace.push(Stage::Impersonation);
        impersonate(&request, &user)?;
        trace.push(Stage::Authorization);
        authorize(&user, &info)?;
        trace.push(Stage::Timeout);
        let timeout = request_timeout(&request, self.request_timeout)?;
        let dispatch = async {
            trace.push(Stage::Dispatch);
            self.routes.dispatch(request, &info).await
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

/// Stage 5. PLACEHOLDER until the authentication issue lands: every request, with or
/// without credentials, is [`PLACEHOLDER_USER`] in [`PLACEHOLDER_GROUPS`].
fn authenticate<B>(_request: &Request<B>) -> Result<UserInfo, Status> {
    Ok(UserInfo {
        name: PLACEHOLDER_USER.to_string(),
        groups: PLACEHOLDER_GROUPS.iter().map(|g| g.to_string()).collect(),
    })
}

/// Stage 6. PLACEHOLDER until the audit issue lands: records nothing.
fn audit(_info: &RequestInfo, _user: &UserInfo) {}

/// Stage 7. PLACEHOLDER until the impersonation issue lands: a request asking to act as
/// someone else is refused, never served as the caller (which would silently grant the
/// caller's rights to a request meant to run with fewer).
fn impersonate<B>(request: &Request<B>, user: &UserInfo) -> Result<(), Status> {
    let asked = request
        .headers()
        .keys()
        .find(|name| name.as_str().starts_with("impersonate-"));
    match asked {
        None => Ok(()),
        Some(header) => Err(Status::failure(
            403,
            reason::FORBIDDEN,
            format!(
                "impersonation is not supported yet: the {header} header of user {:?} \
                 was refused (kubesim has no impersonation filter until its issue lands)",
                user.name
            ),
        )),
    }
}

/// Stage 8. PLACEHOLDER until the authorization issue lands: AlwaysAllow.
fn authorize(_user: &UserInfo, _info: &RequestInfo) -> Result<(), Status> {
    Ok(())
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
