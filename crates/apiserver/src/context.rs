//! What the handler chain learned about a request, handed to the handlers behind it in the
//! request's extensions: who is asking (after impersonation), the request's `Audit-Id`, and
//! the server's security parts the review APIs and TokenRequest need.

use std::sync::Arc;

use kubesim_api::user::UserInfo;
use kubesim_authn::Authenticator;
use kubesim_authn::service_account::TokenIssuer;
use kubesim_authz::chain::AuthorizerChain;
use kubesim_authz::rbac::Rbac;

use crate::security::trace::TraceLog;

/// Inserted by the chain into every request that passes authorization:
/// `request.extensions().get::<RequestContext>()`.
#[derive(Clone)]
pub struct RequestContext {
    /// The identity the request acts as: the authenticated user, or the impersonated one.
    /// Shared: the handlers and admission take it without copying it.
    pub user: Arc<UserInfo>,
    /// The `Audit-Id` the response carries; keys the request's trace.
    pub audit_id: String,
    pub security: Arc<Security>,
    /// The request's audit, when it is audited: handlers add the request body and
    /// admission's annotations to it.
    pub audit: Option<Arc<crate::audit::RequestAudit>>,
    /// Where the request's stage times go when it asked for them
    /// (`crate::chain::TRACE_HEADER`) or the slow-request line may want them: admission
    /// adds each plugin's and webhook's.
    pub timings: Option<Timings>,
}

/// How long each stage of one request took, in order; answered as `Server-Timing`, and
/// logged for a slow request (`crate::trace::SlowRequestLog`). Bounded:
/// a request has a few stages and at most one step per admission plugin and webhook
/// (capped at [`Timings::MAX`] all the same).
#[derive(Debug, Clone, Default)]
pub struct Timings(Arc<std::sync::Mutex<Vec<(String, std::time::Duration)>>>);

impl Timings {
    pub const MAX: usize = 256;

    pub fn add(&self, name: &str, elapsed: std::time::Duration) {
        let mut timings = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if timings.len() < Self::MAX {
            timings.push((name.to_string(), elapsed));
        }
    }

    /// Each stage's name and time, in the order they were added (the slow-request line).
    pub fn entries(&self) -> Vec<(String, std::time::Duration)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `authentication;dur=0.213, audit;dur=0.004, ...`: names as `Server-Timing` tokens
    /// (anything else becomes `_`), durations in milliseconds.
    pub fn server_timing(&self) -> String {
        let timings = self.0.lock().unwrap_or_else(|p| p.into_inner());
        timings
            .iter()
            .map(|(name, elapsed)| {
                let token: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-._".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("{token};dur={:.3}", elapsed.as_secs_f64() * 1000.0)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// When a request that is not long-running must be answered (its request timeout from when
/// the chain started timing it), in its extensions; admission webhooks get what is left.
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub tokio::time::Instant);

/// The server's authentication and authorization parts, built from the flags by
/// `crate::security::build`; the chain and the handlers share them.
pub struct Security {
    /// The configured authenticators, in kube's order (TokenReview asks it too).
    pub authenticator: Authenticator,
    /// `--authorization-mode` in order (SubjectAccessReviews ask it).
    pub authorizer: AuthorizerChain,
    /// RBAC over the caches, whether or not it is in the chain: writes of roles and
    /// bindings are checked for escalation with it, as kube's RBAC storage does.
    pub rbac: Arc<Rbac>,
    /// The decision path of recent requests, by `Audit-Id`.
    pub trace: TraceLog,
    /// Signs ServiceAccount tokens (TokenRequest); `None` without
    /// `--service-account-signing-key-file`.
    pub token_issuer: Option<TokenIssuer>,
    /// `--api-audiences`: a TokenRequest without audiences gets these.
    pub api_audiences: Vec<String>,
    /// `--service-account-max-token-expiration`; `None` is no maximum.
    pub max_token_expiration: Option<std::time::Duration>,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("user", &self.user)
            .field("audit_id", &self.audit_id)
            .finish_non_exhaustive()
    }
}
