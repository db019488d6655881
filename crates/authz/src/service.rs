//! The authz service's gRPC server (`kubesim.authz.v1.Authorizer`): the other end of the
//! Webhook authorizer. It reads the request as kube-apiserver reads a SubjectAccessReview
//! spec, asks its authorizer (RBAC against the store, in `kubesim authz`) and answers
//! allowed, denied, the reason and the decision path.
//!
//! An optional injected delay makes it slow on purpose, for the slow-authz-service
//! experiment: the API server's webhook timeout and failure policy then decide. An optional
//! latency hook ([`AuthzService::with_latency`]) draws each answer's delay instead, for the
//! simulated experiments (a seeded distribution per call).
//!
//! `tls.rs`: the same service over TLS (the handshake on each accepted connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kubesim_api::user::UserInfo;
use kubesim_proto::authzpb::authorizer_server::{self, AuthorizerServer};
use kubesim_proto::authzpb::{AuthorizeRequest, AuthorizeResponse};
use tonic::{Request, Response, Status};

use crate::{Attributes, Authorizer, Decision, DecisionKind};

pub mod tls;

/// Bound on an injected delay, whatever the experiment sets.
pub const MAX_INJECTED_DELAY: Duration = Duration::from_secs(300);
/// Bound on one request; a SubjectAccessReview spec is a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Draws the extra delay of one answer (called once per request).
pub type LatencyHook = Arc<dyn Fn() -> Duration + Send + Sync>;

pub struct AuthzService {
    authorizer: Arc<dyn Authorizer>,
    /// Milliseconds to wait before each answer, changeable while serving; none when unset.
    delay_ms: Option<Arc<AtomicU64>>,
    /// A delay drawn per answer, added to `delay_ms`; none when unset.
    latency: Option<LatencyHook>,
}

impl AuthzService {
    pub fn new(authorizer: Arc<dyn Authorizer>) -> AuthzService {
        AuthzService {
            authorizer,
            delay_ms: None,
            latency: None,
        }
    }

    /// Waits what `latency` draws (called once per request; the sum with any `with_delay`
    /// is at most [`MAX_INJECTED_DELAY`]) before answering.
    pub fn with_latency(mut self, latency: LatencyHook) -> AuthzService {
        self.latency = Some(latency);
        self
    }

    /// Waits `delay` milliseconds (read on each request, at most [`MAX_INJECTED_DELAY`])
    /// before answering.
    pub fn with_delay(mut self, delay: Arc<AtomicU64>) -> AuthzService {
        self.delay_ms = Some(delay);
        self
    }

    pub fn into_server(self) -> AuthorizerServer<AuthzService> {
        AuthorizerServer::new(self).max_decoding_message_size(MAX_REQUEST_BYTES)
    }

    async fn injected_delay(&self) {
        let fixed = self.delay_ms.as_ref().map_or(Duration::ZERO, |d| {
            Duration::from_millis(d.load(Ordering::Relaxed))
        });
        let drawn = self.latency.as_ref().map_or(Duration::ZERO, |draw| draw());
        let delay = fixed.saturating_add(drawn).min(MAX_INJECTED_DELAY);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[tonic::async_trait]
impl authorizer_server::Authorizer for AuthzService {
    async fn authorize(
        &self,
        request: Request<AuthorizeRequest>,
    ) -> Result<Response<AuthorizeResponse>, Status> {
        let attributes =
            attributes_from_request(request.get_ref()).map_err(Status::invalid_argument)?;
        let decision = self.authorizer.authorize(&attributes).await;
        self.injected_delay().await;
        Ok(Response::new(response_from_decision(&decision)))
    }
}

// kube's SubjectAccessReview validation messages.
const NO_SUBJECT: &str =
    "spec.user: Invalid value: \"\": at least one of user or group must be specified";
const BOTH_ATTRIBUTES: &str = "spec.nonResourceAttributes: Invalid value: \
     cannot be specified in combination with resourceAttributes";
const NO_ATTRIBUTES: &str = "spec.resourceAttributes: Invalid value: \
     exactly one of nonResourceAttributes or resourceAttributes must be specified";

/// kube's reading of a SubjectAccessReview spec, with its validation messages: exactly one
/// of the two attribute kinds, and a user or a group.
pub fn attributes_from_request(request: &AuthorizeRequest) -> Result<Attributes, String> {
    let user = UserInfo {
        username: request.user.clone(),
        uid: request.uid.clone(),
        groups: request.groups.clone(),
        extra: request
            .extra
            .iter()
            .map(|(key, value)| (key.clone(), value.values.clone()))
            .collect(),
    };
    if user.username.is_empty() && user.groups.is_empty() {
        return Err(NO_SUBJECT.into());
    }
    match (
        &request.resource_attributes,
        &request.non_resource_attributes,
    ) {
        (Some(_), Some(_)) => Err(BOTH_ATTRIBUTES.into()),
        (None, None) => Err(NO_ATTRIBUTES.into()),
        (Some(resource), None) => Ok(Attributes {
            user,
            verb: resource.verb.clone(),
            resource_request: true,
            namespace: resource.namespace.clone(),
            api_group: resource.group.clone(),
            api_version: resource.version.clone(),
            resource: resource.resource.clone(),
            subresource: resource.subresource.clone(),
            name: resource.name.clone(),
            path: String::new(),
        }),
        (None, Some(path)) => Ok(Attributes {
            user,
            verb: path.verb.clone(),
            path: path.path.clone(),
            ..Attributes::default()
        }),
    }
}

/// A SubjectAccessReview status of the decision, with kubesim's decision path.
pub fn response_from_decision(decision: &Decision) -> AuthorizeResponse {
    AuthorizeResponse {
        allowed: decision.kind == DecisionKind::Allow,
        denied: decision.kind == DecisionKind::Deny,
        reason: decision.reason.clone(),
        evaluation_error: String::new(),
        decided_by: decision.decided_by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use kubesim_proto::authzpb::{ExtraValue, NonResourceAttributes, ResourceAttributes};

    use super::*;
    use crate::webhook::request_from_attributes;

    fn get_pod() -> Attributes {
        let mut user = UserInfo::new("jane", &["dev", "system:authenticated"]);
        user.uid = "42".into();
        user.extra
            .insert("scopes".into(), vec!["a".into(), "b".into()]);
        Attributes {
            user,
            verb: "get".into(),
            resource_request: true,
            namespace: "ns".into(),
            api_group: "".into(),
            api_version: "v1".into(),
            resource: "pods".into(),
            subresource: "log".into(),
            name: "web".into(),
            path: String::new(),
        }
    }

    #[test]
    fn a_resource_request_round_trips_through_the_wire() {
        let request = request_from_attributes(&get_pod());
        assert_eq!(
            request.resource_attributes,
            Some(ResourceAttributes {
                namespace: "ns".into(),
                verb: "get".into(),
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
                subresource: "log".into(),
                name: "web".into(),
            })
        );
        assert_eq!(request.non_resource_attributes, None);
        assert_eq!(
            request.extra["scopes"],
            ExtraValue {
                values: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(attributes_from_request(&request), Ok(get_pod()));
    }

    #[test]
    fn a_path_request_round_trips_through_the_wire() {
        let healthz = Attributes {
            user: UserInfo::new("system:anonymous", &["system:unauthenticated"]),
            verb: "get".into(),
            path: "/healthz".into(),
            ..Attributes::default()
        };
        let request = request_from_attributes(&healthz);
        assert_eq!(
            request.non_resource_attributes,
            Some(NonResourceAttributes {
                path: "/healthz".into(),
                verb: "get".into()
            })
        );
        assert_eq!(request.resource_attributes, None);
        assert_eq!(attributes_from_request(&request), Ok(healthz));
    }

    #[test]
    fn a_request_needs_exactly_one_kind_of_attributes_and_a_subject() {
        let mut request = request_from_attributes(&get_pod());
        request.non_resource_attributes = Some(NonResourceAttributes::default());
        assert_eq!(
            attributes_from_request(&request),
            Err("spec.nonResourceAttributes: Invalid value: cannot be specified in combination with resourceAttributes".into())
        );
        request.non_resource_attributes = None;
        request.resource_attributes = None;
        assert_eq!(
            attributes_from_request(&request),
            Err("spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into())
        );
        let anonymous = AuthorizeRequest {
            non_resource_attributes: Some(NonResourceAttributes::default()),
            ..AuthorizeRequest::default()
        };
        assert_eq!(
            attributes_from_request(&anonymous),
            Err(
                "spec.user: Invalid value: \"\": at least one of user or group must be specified"
                    .into()
            )
        );
    }

    #[test]
    fn decisions_become_subject_access_review_statuses() {
        let allow = response_from_decision(&Decision::allow("RBAC: binding b"));
        assert!(allow.allowed && !allow.denied);
        assert_eq!(allow.decided_by, "RBAC: binding b");
        let deny = response_from_decision(&Decision::deny("frozen", "policy 3"));
        assert!(!deny.allowed && deny.denied);
        assert_eq!(deny.reason, "frozen");
        let none = response_from_decision(&Decision::no_opinion("no RBAC policy matched"));
        assert!(!none.allowed && !none.denied);
        assert_eq!(none.reason, "no RBAC policy matched");
    }

    #[tokio::test]
    async fn the_service_refuses_a_request_without_attributes() {
        use authorizer_server::Authorizer as _;
        let service = AuthzService::new(Arc::new(crate::always::AlwaysAllow));
        let request = Request::new(AuthorizeRequest {
            user: "jane".into(),
            ..AuthorizeRequest::default()
        });
        let status = service.authorize(request).await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
        );
    }
}
