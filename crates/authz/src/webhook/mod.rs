//! The Webhook authorizer (kube's `plugin/pkg/authorizer/webhook`), asking the authz service
//! over gRPC instead of POSTing a SubjectAccessReview: the same request, a decision cache
//! (allowed answers for `authorizedTTL`, the others for `unauthorizedTTL`), a timeout, and
//! a failure policy for calls that fail.
//!
//! - this file: [`WebhookConfig`], [`WebhookAuthorizer`], and [`request_from_attributes`]
//!   (the `AuthorizeRequest` kube would send as a SubjectAccessReview spec);
//! - `cache.rs`: the bounded expiring LRU cache;
//! - `tls.rs`: TLS to an `https://` authz service ([`WebhookTls`]), done on the network seam.
//!
//! Unlike kube, a failed call is not retried with backoff: one call bounded by the timeout,
//! so a slow authz service costs each uncached request at most `timeout`.

mod cache;
#[cfg(test)]
mod tests;
mod tls;
#[cfg(test)]
mod tls_tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::status::go_quote;
use kubesim_api::user::UserInfo;
use kubesim_net::Network;
use kubesim_net::network::ChannelConfig;
use kubesim_proto::authzpb::authorizer_client::AuthorizerClient;
use kubesim_proto::authzpb::{
    AuthorizeRequest, AuthorizeResponse, ExtraValue, NonResourceAttributes, ResourceAttributes,
};
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::{Attributes, Authorizer, Decision, DecisionKind, RuleSet};
use cache::DecisionCache;
pub use tls::WebhookTls;

/// kube's decision cache size (`cache.NewLRUExpireCache(8192)`).
pub const DEFAULT_CACHE_SIZE: usize = 8192;
/// The longest timeout kube's AuthorizationConfiguration accepts.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests whose requester-controlled attributes are this long or longer are never cached
/// (kube's `maxControlledAttrCacheSize`): a flood of huge distinct requests would otherwise
/// fill the cache with garbage.
const MAX_CACHED_ATTRIBUTES_BYTES: usize = 10_000;
/// Bound on an answer from the authz service; a SubjectAccessReview status is tiny.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// What to decide when the authz service cannot be asked (kube's `failurePolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Fail open to the next authorizer of the chain.
    #[default]
    NoOpinion,
    /// Fail closed: refuse the request without asking the rest of the chain.
    Deny,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::NoOpinion => "NoOpinion",
            FailurePolicy::Deny => "Deny",
        }
    }
}

/// One Webhook authorizer: where the authz service is and how to treat its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The authorizer's name in the chain and in `decided_by` (AuthorizationConfiguration's
    /// `name`; `Webhook` for `--authorization-mode=Webhook`).
    pub name: String,
    /// `host:port` of the authz service's gRPC listener.
    pub endpoint: String,
    /// TLS to the service, for an `https://` server in the kubeconfig; plain gRPC (the
    /// simulation, `kubesim up`) when none.
    pub tls: Option<WebhookTls>,
    /// Bound on one call, connecting included. kube's legacy flags use 30 s, the most the
    /// AuthorizationConfiguration accepts.
    pub timeout: Duration,
    /// How long an allowed answer is reused; zero caches none (kube's default 5 min).
    pub authorized_ttl: Duration,
    /// How long a denied or no-opinion answer is reused; zero caches none (kube's 30 s).
    pub unauthorized_ttl: Duration,
    pub failure_policy: FailurePolicy,
    /// Most cached answers.
    pub cache_size: usize,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            name: "Webhook".to_string(),
            endpoint: String::new(),
            tls: None,
            timeout: MAX_TIMEOUT,
            authorized_ttl: Duration::from_secs(5 * 60),
            unauthorized_ttl: Duration::from_secs(30),
            failure_policy: FailurePolicy::NoOpinion,
            cache_size: DEFAULT_CACHE_SIZE,
        }
    }
}

/// The Webhook authorizer: a gRPC client of the authz service with a decision cache.
pub struct WebhookAuthorizer {
    config: WebhookConfig,
    net: Arc<dyn Network>,
    /// Made on first use: a tonic channel spawns its worker task, which needs a runtime.
    channel: OnceLock<Result<Channel, String>>,
    cache: Mutex<DecisionCache<AuthorizeResponse>>,
    /// RPCs attempted (failed ones included).
    calls: AtomicU64,
    /// Answers served from the cache.
    cache_hits: AtomicU64,
}

impl WebhookAuthorizer {
    pub fn new(config: WebhookConfig, net: Arc<dyn Network>) -> WebhookAuthorizer {
        let cache = Mutex::new(DecisionCache::new(config.cache_size));
        WebhookAuthorizer {
            config,
            net,
            channel: OnceLock::new(),
            cache,
            calls: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Authorize RPCs attempted so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Decisions answered from the cache so far.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    async fn decide(&self, attributes: &Attributes) -> Decision {
        let key = cache_key(attributes);
        if let Some(answer) = self.cached(&key) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return self.decision_from(&answer);
        }
        // Built only for a call: a cache hit needs just the key.
        match self.call(request_from_attributes(attributes)).await {
            Ok(answer) => {
                if should_cache(attributes) {
                    self.remember(key, &answer);
                }
                self.decision_from(&answer)
            }
            Err(error) => self.failure(&error),
        }
    }

    fn cached(&self, key: &str) -> Option<AuthorizeResponse> {
        let mut cache = self.cache.lock().ok()?;
        cache.get(key, Instant::now())
    }

    fn remember(&self, key: String, answer: &AuthorizeResponse) {
        let ttl = if answer.allowed {
            self.config.authorized_ttl
        } else {
            self.config.unauthorized_ttl
        };
        if ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, answer.clone(), Instant::now() + ttl);
        }
    }

    async fn call(&self, request: AuthorizeRequest) -> Result<AuthorizeResponse, String> {
        let channel = self.channel()?;
        // Authorize is unary: the request goes out as one frame.
        let mut client = AuthorizerClient::new(kubesim_net::network::UnaryChannel::new(channel))
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, client.authorize(request)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
            Err(_) => Err(format!("the call timed out after {timeout:?}")),
        }
    }

    fn channel(&self) -> Result<Channel, String> {
        let channel = self.channel.get_or_init(|| {
            // The channel's own request timeout is only a backstop: `call` times out first
            // and says so in its own words.
            let config = ChannelConfig {
                connect_timeout: self.config.timeout,
                request_timeout: self.config.timeout * 2,
                ..ChannelConfig::default()
            };
            let net = match &self.config.tls {
                Some(tls) => tls.network(self.net.clone())?,
                None => self.net.clone(),
            };
            kubesim_net::network::channel(net, &self.config.endpoint, config)
                .map_err(|e| format!("bad endpoint {}: {e}", go_quote(&self.config.endpoint)))
        });
        channel.clone()
    }

    /// kube's mapping of a SubjectAccessReview status: denied (even with allowed) → Deny,
    /// allowed → Allow, neither → NoOpinion; the reason as the service gave it.
    fn decision_from(&self, answer: &AuthorizeResponse) -> Decision {
        let kind = if answer.denied {
            DecisionKind::Deny
        } else if answer.allowed {
            DecisionKind::Allow
        } else {
            DecisionKind::NoOpinion
        };
        let mut path = answer.decided_by.clone();
        if answer.denied && answer.allowed {
            path = format!("returned both allow and deny; {path}");
        }
        let decided_by = match (kind, path.is_empty()) {
            (DecisionKind::NoOpinion, true) => String::new(),
            (_, true) => self.decided_by_prefix(),
            (_, false) => format!("{}: {path}", self.decided_by_prefix()),
        };
        Decision::new(kind, answer.reason.clone(), decided_by)
    }

    /// The failure policy's decision for a call that failed or timed out. Never cached, so
    /// the next request asks again.
    fn failure(&self, error: &str) -> Decision {
        let name = &self.config.name;
        tracing::warn!(webhook = %name, %error, "authorization webhook call failed");
        let reason = format!(
            "failed calling authorization webhook {}: {error}",
            go_quote(name)
        );
        let policy = self.config.failure_policy;
        let decided_by = format!(
            "{}: call failed, failurePolicy {}",
            self.decided_by_prefix(),
            policy.as_str()
        );
        let kind = match policy {
            FailurePolicy::NoOpinion => DecisionKind::NoOpinion,
            FailurePolicy::Deny => DecisionKind::Deny,
        };
        Decision::new(kind, reason.clone(), decided_by).with_error(reason)
    }

    fn decided_by_prefix(&self) -> String {
        format!("Webhook {}", go_quote(&self.config.name))
    }
}

impl Authorizer for WebhookAuthorizer {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn authorize<'a>(&'a self, attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        Box::pin(self.decide(attributes))
    }

    /// A webhook cannot list rules (kube: "webhook authorizer does not support user rule
    /// resolution").
    fn rules_for<'a>(
        &'a self,
        _user: &'a UserInfo,
        _namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>> {
        Box::pin(async { None })
    }
}

/// The request kube's webhook authorizer sends (a SubjectAccessReview spec): the user, and
/// the resource attributes or, for a non-resource request, the path and verb.
pub fn request_from_attributes(attributes: &Attributes) -> AuthorizeRequest {
    let user = &attributes.user;
    let mut request = AuthorizeRequest {
        user: user.username.clone(),
        uid: user.uid.clone(),
        groups: user.groups.clone(),
        extra: user
            .extra
            .iter()
            .map(|(key, values)| {
                let values = ExtraValue {
                    values: values.clone(),
                };
                (key.clone(), values)
            })
            .collect(),
        ..AuthorizeRequest::default()
    };
    if attributes.resource_request {
        request.resource_attributes = Some(ResourceAttributes {
            namespace: attributes.namespace.clone(),
            verb: attributes.verb.clone(),
            group: attributes.api_group.clone(),
            version: attributes.api_version.clone(),
            resource: attributes.resource.clone(),
            subresource: attributes.subresource.clone(),
            name: attributes.name.clone(),
        });
    } else {
        request.non_resource_attributes = Some(NonResourceAttributes {
            path: attributes.path.clone(),
            verb: attributes.verb.clone(),
        });
    }
    request
}

/// The whole request as one string, as kube keys its cache with the JSON of the spec. The
/// extra map is ordered, so equal requests give equal keys.
fn cache_key(attributes: &Attributes) -> String {
    let user = &attributes.user;
    let extra: BTreeMap<&String, &Vec<String>> = user.extra.iter().collect();
    let key = if attributes.resource_request {
        serde_json::json!([
            user.username,
            user.uid,
            user.groups,
            extra,
            attributes.namespace,
            attributes.verb,
            attributes.api_group,
            attributes.api_version,
            attributes.resource,
            attributes.subresource,
            attributes.name,
        ])
    } else {
        serde_json::json!([
            user.username,
            user.uid,
            user.groups,
            extra,
            attributes.path,
            attributes.verb,
        ])
    };
    key.to_string()
}

/// kube's `shouldCache`: only when what the requester controls is under 10 000 bytes.
fn should_cache(attributes: &Attributes) -> bool {
    let controlled = [
        &attributes.namespace,
        &attributes.verb,
        &attributes.api_group,
        &attributes.api_version,
        &attributes.resource,
        &attributes.subresource,
        &attributes.name,
        &attributes.path,
    ];
    controlled.iter().map(|s| s.len()).sum::<usize>() < MAX_CACHED_ATTRIBUTES_BYTES
}
