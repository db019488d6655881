//! Dispatch, the last stage of the chain: which handler answers a path.
//!
//! | path | answer |
//! |---|---|
//! | `/version` | [`crate::version`] |
//! | `/livez`, `/readyz`, `/healthz`, `/<endpoint>/<check>` | [`crate::health`] |
//! | `/api`, `/apis`, `/apis/<g>`, `/api/v1`, `/apis/<g>/<v>` | [`crate::discovery`] |
//! | `/openapi/v2` (protobuf or JSON) | [`kubesim_api::openapi_v2`] |
//! | `/openapi/v3`, `/openapi/v3/<group version>` | [`kubesim_api::openapi`] |
//! | a review (SubjectAccessReview, ...), `serviceaccounts/<name>/token` | [`crate::reviews`] |
//! | a served resource | [`crate::rest`] (503 when the server runs without storage) |
//! | anything else | 404 `the server could not find the requested resource` |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Limited;
use hyper::body::Body as HttpBody;
use hyper::header::ACCEPT;
use hyper::{Method, Request, Response};
use kubesim_api::status::{GroupResource, StatusDetails, reason};
use kubesim_api::{RequestInfo, Status};

use crate::chain::read_body;
use crate::context::RequestContext;
use crate::health::{self, Endpoint, HealthState};
use crate::registry::Registry;
use crate::response::{self, APPLICATION_JSON, Body};
use crate::rest::{Call, Query};
use crate::reviews::{self, Review};
use crate::{discovery, version};

/// The answer to a resource request when the server runs without storage (unit tests of
/// the chain).
pub const NO_STORAGE: &str = "this API server runs without storage (no --etcd-servers)";

/// What the handlers need to know about the server.
#[derive(Clone)]
pub struct Routes {
    /// `host:port` clients are told to use (`/api`'s `serverAddressByClientCIDRs`).
    pub server_address: String,
    /// Set when shutdown begins; `/readyz` fails from then on.
    pub shutting_down: Arc<AtomicBool>,
    /// For reading request bodies: the size limit stage's bound.
    pub max_request_body_bytes: usize,
    /// The resources' REST semantics over the store; `None` without `--etcd-servers`.
    pub registry: Option<Arc<Registry>>,
    /// The bootstrap RBAC policy's progress (`/readyz`); `None` without storage.
    pub policy: Option<Arc<crate::security::policy::PolicyState>>,
    /// API Priority and Fairness, for `/debug/api_priority_and_fairness/*` and `/metrics`.
    pub flow_control: Option<Arc<kubesim_flowcontrol::Controller>>,
    /// The audit backends' counters, for `/metrics`.
    pub auditor: Option<Arc<crate::audit::Auditor>>,
    /// Wall-clock time for the APF dumps.
    pub clock: Arc<dyn kubesim_net::Clock>,
    /// The server's metrics (`/metrics`); the chain and the handlers record into them.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("server_address", &self.server_address)
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// Routes without storage, APF or audit, for the chain's unit tests.
    #[cfg(test)]
    pub(crate) fn without_storage(max_request_body_bytes: usize) -> Routes {
        Routes {
            server_address: "127.0.0.1:6443".to_string(),
            shutting_down: Arc::new(AtomicBool::new(false)),
            max_request_body_bytes,
            registry: None,
            policy: None,
            flow_control: None,
            auditor: None,
            clock: Arc::new(kubesim_net::SystemClock),
            metrics: Arc::new(crate::metrics::Metrics::new()),
        }
    }

    pub async fn dispatch<B>(
        &self,
        request: Request<Limited<B>>,
        info: &RequestInfo,
    ) -> Result<Response<Body>, Status>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if info.is_resource_request {
            return self.resource(request, info).await;
        }
        #[cfg(test)]
        if let Some(answer) = test_hooks::answer(info).await {
            return answer;
        }
        let segments: Vec<&str> = info.path.trim_matches('/').split('/').collect();
        if let Some(endpoint) = Endpoint::from_segment(segments[0]) {
            return self
                .health(
                    request.method(),
                    endpoint,
                    &segments[1..],
                    request.uri().query(),
                )
                .await;
        }
        let accept = request
            .headers()
            .get(ACCEPT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let answer = match segments.as_slice() {
            ["version"] => Some(response::json(APPLICATION_JSON, &version::info())),
            ["api"] => Some(self.api(accept)),
            ["apis"] => Some(apis(accept)),
            ["apis", group] => discovery::api_group(group).map(|doc| json(&doc)),
            ["api", version] => discovery::api_resource_list("", version).map(|doc| json(&doc)),
            ["apis", group, version] => {
                discovery::api_resource_list(group, version).map(|doc| json(&doc))
            }
            ["openapi", "v2"] => Some(openapi_v2(accept)?),
            ["openapi", "v3"] => Some(json(&kubesim_api::openapi::v3_root())),
            ["openapi", "v3", rest @ ..] => openapi_v3(&rest.join("/")),
            ["debug", "kubesim", "trace", audit_id] => trace(&request, audit_id),
            ["debug", "api_priority_and_fairness", dump] => {
                self.apf_dump(dump, request.uri().query())
            }
            ["metrics"] => Some(self.metrics()),
            _ => None,
        };
        let answer = answer.ok_or_else(not_found)?;
        get_only(request.method())?;
        Ok(answer)
    }

    /// kube's `/debug/api_priority_and_fairness/dump_{priority_levels,queues,requests}`
    /// (`dump_requests?includeRequestDetails=1` adds the request columns).
    fn apf_dump(&self, dump: &str, query: Option<&str>) -> Option<Response<Body>> {
        use kubesim_flowcontrol::dump;
        let controller = self.flow_control.as_ref()?;
        let text = match dump {
            "dump_priority_levels" => dump::priority_levels(controller),
            "dump_queues" => dump::queues(controller),
            "dump_requests" => {
                let details = kubesim_api::request_info::query_pairs(query.unwrap_or(""))
                    .into_iter()
                    .any(|(key, value)| key == "includeRequestDetails" && value == "1");
                dump::requests(controller, self.clock.now_since_epoch(), details)
            }
            _ => return None,
        };
        Some(response::text(200, text))
    }

    /// `/metrics` in Prometheus' text format, under kube's names: requests, stages,
    /// admission, etcd ([`crate::metrics`]), API Priority and Fairness, the audit backends.
    fn metrics(&self) -> Response<Body> {
        let mut text = self.metrics.encode();
        if let Some(controller) = &self.flow_control {
            text.push_str(&kubesim_flowcontrol::dump::metrics(&controller.stats()));
        }
        if let Some(auditor) = &self.auditor {
            text.push_str(&auditor.metrics());
        }
        // Prometheus' text exposition format, version 0.0.4.
        response::with_body(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            response::full(text),
        )
    }

    /// A resource request: checked against the resource table, then served by
    /// [`crate::reviews`] (the create-only reviews, TokenRequest) or [`crate::rest`]. The body
    /// is read (and size-limited) before anything else.
    async fn resource<B>(
        &self,
        request: Request<Limited<B>>,
        info: &RequestInfo,
    ) -> Result<Response<Body>, Status>
    where
        B: HttpBody<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let resource =
            kubesim_api::resources::lookup(&info.api_group, &info.api_version, &info.resource)
                .ok_or_else(not_found)?;
        if !info.subresource.is_empty() {
            if !resource.subresources.contains(&info.subresource.as_str()) {
                return Err(not_found());
            }
        } else if !resource.allows(&info.verb) {
            let gr = GroupResource::new(resource.group, resource.plural);
            return Err(Status::method_not_supported(&gr, &info.verb));
        }
        let (parts, body) = request.into_parts();
        let body = read_body(body, self.max_request_body_bytes).await?;
        if reviews::handles(resource, &info.subresource) {
            let review = Review {
                resource,
                info,
                headers: &parts.headers,
                query: Query::parse(parts.uri.query().unwrap_or("")),
                context: parts.extensions.get::<RequestContext>(),
                registry: self.registry.as_ref(),
            };
            return review.serve(body).await;
        }
        let registry = self
            .registry
            .as_ref()
            .ok_or_else(|| Status::service_unavailable(NO_STORAGE))?;
        let context = parts.extensions.get::<crate::context::RequestContext>();
        let call = Call {
            registry,
            resource,
            info,
            headers: &parts.headers,
            query: Query::parse(parts.uri.query().unwrap_or("")),
            requester: context.map(|context| Arc::clone(&context.user)),
            audit_id: context.map(|context| context.audit_id.clone()),
            security: context.map(|context| context.security.clone()),
            audit: context.and_then(|context| context.audit.clone()),
            metrics: Some(self.metrics.clone()),
            timings: context.and_then(|context| context.timings.clone()),
            deadline: parts
                .extensions
                .get::<crate::context::RequestDeadline>()
                .map(|deadline| deadline.0),
        };
        call.serve(body).await
    }

    async fn health(
        &self,
        method: &Method,
        endpoint: Endpoint,
        rest: &[&str],
        query: Option<&str>,
    ) -> Result<Response<Body>, Status> {
        // Check names may have slashes: `poststarthook/rbac/bootstrap-roles`.
        let joined = rest.join("/");
        let check = (!rest.is_empty()).then_some(joined.as_str());
        let (etcd_ok, caches_synced) = match &self.registry {
            None => (None, None),
            Some(registry) => (
                Some(etcd_answers(registry).await),
                Some(registry.caches_ready()),
            ),
        };
        let state = HealthState {
            shutting_down: self.shutting_down.load(Ordering::Relaxed),
            etcd_ok,
            caches_synced,
            rbac_bootstrapped: self
                .policy
                .as_ref()
                .map(|policy| policy.bootstrapped.load(Ordering::Relaxed)),
            apf_config_produced: self
                .registry
                .as_ref()
                .and(self.flow_control.as_ref())
                .map(|controller| controller.config_produced()),
        };
        let (code, text) =
            health::answer(endpoint, check, query.unwrap_or(""), state).ok_or_else(not_found)?;
        get_only(method)?;
        Ok(response::text(code, text))
    }

    /// `/api`: aggregated when asked for, else APIVersions.
    fn api(&self, accept: &str) -> Response<Body> {
        match discovery::negotiate_aggregated(accept) {
            Some(media_type) => {
                response::json(&media_type, &discovery::aggregated(true, &media_type))
            }
            None => json(&discovery::api_versions(&self.server_address)),
        }
    }
}

/// `/debug/kubesim/trace/<audit-id>`: the decision path of a recent request (who, how
/// authenticated, which authorizer and rule), as JSON; 404 once it has left the bounded log.
fn trace<B>(request: &Request<B>, audit_id: &str) -> Option<Response<Body>> {
    let context = request
        .extensions()
        .get::<crate::context::RequestContext>()?;
    let trace = context.security.trace.get(audit_id)?;
    Some(json(&serde_json::to_value(trace).ok()?))
}

/// `/openapi/v2`: Swagger 2.0, as gnostic protobuf for kubectl 1.27/1.28 (which read only
/// that) or JSON, by the Accept header; 406 for neither.
fn openapi_v2(accept: &str) -> Result<Response<Body>, Status> {
    let (bytes, content_type) =
        kubesim_api::openapi_v2::v2_for_accept(accept).ok_or_else(|| {
            Status::not_acceptable(&[
                kubesim_api::openapi_v2::JSON_MEDIA_TYPE,
                kubesim_api::openapi_v2::PROTOBUF_MEDIA_TYPE,
            ])
        })?;
    let mut response = response::with_body(200, content_type, response::full(bytes));
    let headers = response.headers_mut();
    let etag = format!("\"{}\"", kubesim_api::openapi_v2::v2_etag());
    if let Ok(etag) = hyper::header::HeaderValue::from_str(&etag) {
        headers.insert(hyper::header::ETAG, etag);
    }
    headers.insert(
        hyper::header::VARY,
        hyper::header::HeaderValue::from_static("Accept"),
    );
    Ok(response)
}

/// `/openapi/v3/<group version>`: the cached document, immutable for its hash (kube sends
/// `Cache-Control` so clients keep it until the hash in `/openapi/v3` changes).
fn openapi_v3(path: &str) -> Option<Response<Body>> {
    let (bytes, hash) = kubesim_api::openapi::v3_group_version_bytes(path)?;
    let mut response = response::with_body(200, APPLICATION_JSON, response::full(bytes));
    let headers = response.headers_mut();
    if let Ok(etag) = hyper::header::HeaderValue::from_str(&format!("\"{hash}\"")) {
        headers.insert(hyper::header::ETAG, etag);
    }
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("public, immutable"),
    );
    Some(response)
}

/// kube's etcd health check: a read that answers (even "not found") within the bound.
async fn etcd_answers(registry: &Registry) -> bool {
    const ETCD_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
    let read = registry.storage().get("/registry/health");
    matches!(
        tokio::time::timeout(ETCD_CHECK_TIMEOUT, read).await,
        Ok(Ok(_))
    )
}

/// `/apis`: aggregated when asked for, else APIGroupList.
fn apis(accept: &str) -> Response<Body> {
    match discovery::negotiate_aggregated(accept) {
        Some(media_type) => response::json(&media_type, &discovery::aggregated(false, &media_type)),
        None => json(&discovery::api_group_list()),
    }
}

fn json(value: &serde_json::Value) -> Response<Body> {
    response::json(APPLICATION_JSON, value)
}

/// The non-resource endpoints are read-only.
fn get_only(method: &Method) -> Result<(), Status> {
    if method == Method::GET {
        return Ok(());
    }
    Err(Status::failure(
        405,
        reason::METHOD_NOT_ALLOWED,
        "the server does not allow this method on the requested resource".to_string(),
    ))
}

/// kube-apiserver's 404 for a path or resource nobody serves (`NewGenericServerResponse`
/// with `details: {}`).
pub fn not_found() -> Status {
    let mut status = Status::failure(
        404,
        reason::NOT_FOUND,
        "the server could not find the requested resource".to_string(),
    );
    status.details = Some(StatusDetails::default());
    status
}

/// Paths that exist only in unit tests, to make a handler panic or overrun its timeout.
#[cfg(test)]
pub(crate) mod test_hooks {
    use super::*;

    pub const PANIC: &str = "/__test/panic";
    pub const SLOW: &str = "/__test/slow";

    pub async fn answer(info: &RequestInfo) -> Option<Result<Response<Body>, Status>> {
        match info.path.as_str() {
            PANIC => panic!("a handler bug"),
            SLOW => {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                Some(Ok(response::text(200, "late".to_string())))
            }
            _ => None,
        }
    }
}
