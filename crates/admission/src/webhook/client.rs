//! One call to an admission webhook, over either transport: kube's `webhookutil.ClientManager`
//! and the dispatchers' `r.Do(ctx).Into(response)` plus `VerifyAdmissionResponse`.
//!
//! - [`WebhookClient::call`]: where the webhook is (`clientConfig.url`, or a Service resolved
//!   through [`ClusterState`]), TLS trusting exactly `caBundle`, the exchange (`https`: POST of
//!   AdmissionReview JSON; `grpc`: `AdmissionWebhook.Review`), all of it bounded by one
//!   timeout, then the checks kube makes of the answer.
//! - [`CallError`]: each failure classified ([`CallErrorKind`]) and worded as kube words it,
//!   without the `failed calling webhook "<name>": ` prefix the dispatcher adds.
//! - Connections outlive calls: HTTP/1.1 connections in a bounded idle pool (`https`), one
//!   lazily connecting gRPC channel per target (`grpc`), TLS configurations per `caBundle`
//!   (`tls`); every map is bounded by [`Lru`].

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kubesim_net::Network;
use serde_json::Value;

use super::review::{API_VERSION, AdmissionRequest, AdmissionResponse, AdmissionReview, KIND};
use super::{Endpoint, Transport, Webhook, WebhookKind, grpc, https};
use crate::ClusterState;

pub(crate) mod tls;

#[cfg(test)]
mod tests;

/// The largest response body (HTTPS) or message (gRPC) read from a webhook: an object of up
/// to 3 MiB (kube's request body limit) comes back patched, plus the review around it.
pub const MAX_RESPONSE_BYTES: usize = 3 * 1024 * 1024 + 512 * 1024;

/// What kind of failure a call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallErrorKind {
    /// No connection: refused, reset, no address for the Service, or it broke mid-call.
    Unreachable,
    /// The TLS handshake failed (the certificate does not chain to `caBundle`, names another
    /// host, ...), or `caBundle` is empty or unreadable.
    Tls,
    /// The call's time ran out.
    Timeout,
    /// An HTTP status other than 200, or a gRPC status other than OK.
    BadStatus,
    /// An answer that is not a valid AdmissionReview response.
    Malformed,
    /// A response whose `uid` is not the request's.
    WrongUid,
    /// A webhook kubesim cannot call: no `v1` in `admissionReviewVersions`, an unusable URL.
    Unsupported,
}

/// A failed call, in kube's words (`failed to call webhook: Post "...": ...`, `received
/// invalid webhook response: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub kind: CallErrorKind,
    pub message: String,
}

impl CallError {
    pub fn new(kind: CallErrorKind, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: message.into(),
        }
    }

    /// A failure of the exchange itself (kube's `failed to call webhook: %w` around the REST
    /// client's error).
    pub(crate) fn call_failed(kind: CallErrorKind, detail: impl std::fmt::Display) -> CallError {
        CallError::new(kind, format!("failed to call webhook: {detail}"))
    }

    /// A failure before any call: the webhook's client configuration cannot be used (kube's
    /// `could not get REST client: %w`).
    pub(crate) fn no_client(kind: CallErrorKind, detail: impl std::fmt::Display) -> CallError {
        CallError::new(kind, format!("could not get REST client: {detail}"))
    }

    fn invalid_response(kind: CallErrorKind, detail: impl std::fmt::Display) -> CallError {
        CallError::new(kind, format!("received invalid webhook response: {detail}"))
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// Where one webhook's calls go, derived from its `clientConfig` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `https://host[:port]/path`, as kube prints it in errors (before `?timeout=`).
    pub url: String,
    /// The `Host` header and gRPC's `:authority`.
    pub authority: String,
    /// The name the certificate must carry, sent in SNI.
    pub server_name: String,
    /// The path, cleaned as kube's REST client cleans it, with the URL's query if any.
    pub path_and_query: String,
    pub dial: Dial,
}

/// What to dial for a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dial {
    /// `host:port` from the URL.
    Addr(String),
    /// Looked up at each call: the Service's `spec.externalName` (or first
    /// `spec.externalIPs` entry) and `port`.
    Service {
        namespace: String,
        name: String,
        port: u16,
    },
}

/// What a connection is reused for: same address, same server name, same trusted CAs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ConnKey {
    pub addr: String,
    pub server_name: String,
    pub ca_bundle: Vec<u8>,
}

/// Calls admission webhooks; one per API server, shared by both dispatchers.
pub struct WebhookClient {
    net: Arc<dyn Network>,
    /// Where Service endpoints are looked up.
    state: Arc<dyn ClusterState>,
    /// Parsed `caBundle`s: building a rustls configuration is far slower than a call.
    tls: tls::TlsConfigs,
    /// Idle HTTP/1.1 connections, reused by the next call to the same target.
    https: https::Pool,
    /// One gRPC channel per target.
    grpc: grpc::Channels,
}

impl WebhookClient {
    pub fn new(net: Arc<dyn Network>, state: Arc<dyn ClusterState>) -> WebhookClient {
        WebhookClient {
            net,
            state,
            tls: tls::TlsConfigs::new(),
            https: https::Pool::new(),
            grpc: grpc::Channels::new(),
        }
    }

    /// Sends `request` to `webhook` and returns its checked response. Everything from the
    /// Service lookup to the decoded answer shares `timeout`.
    pub async fn call(
        &self,
        webhook: &Webhook,
        request: &AdmissionRequest,
        timeout: Duration,
    ) -> Result<AdmissionResponse, CallError> {
        if !webhook.admission_review_versions.iter().any(|v| v == "v1") {
            return Err(CallError::new(
                CallErrorKind::Unsupported,
                "could not create admission objects: webhook does not accept known \
                 AdmissionReview versions (v1)",
            ));
        }
        let target = Target::of(&webhook.endpoint)?;
        let tls = self
            .tls
            .client_config(&webhook.ca_bundle, webhook.transport)?;
        let described = describe(webhook.transport, &target, timeout);
        let exchange = self.exchange(webhook, &target, tls, request, timeout, &described);
        let deadline = tokio::time::Instant::now() + timeout;
        let review = match tokio::time::timeout_at(deadline, exchange).await {
            // tonic's channel enforces the `grpc-timeout` it sends, and may fire in the same
            // tick as the bound here (`Cancelled: Timeout expired`): it is the same timeout.
            Ok(Err(_)) if tokio::time::Instant::now() >= deadline => {
                return Err(timed_out(webhook.transport, &described));
            }
            Ok(review) => review?,
            Err(_) => return Err(timed_out(webhook.transport, &described)),
        };
        verify_response(&request.uid, webhook.kind, review)
    }

    async fn exchange(
        &self,
        webhook: &Webhook,
        target: &Target,
        tls: Arc<rustls::ClientConfig>,
        request: &AdmissionRequest,
        timeout: Duration,
        described: &str,
    ) -> Result<AdmissionReview, CallError> {
        let key = ConnKey {
            addr: self.resolve(target, described).await?,
            server_name: target.server_name.clone(),
            ca_bundle: webhook.ca_bundle.clone(),
        };
        match webhook.transport {
            Transport::Https => {
                let path = with_timeout_query(&target.path_and_query, timeout);
                let post = https::Post {
                    key,
                    authority: &target.authority,
                    path_and_query: &path,
                    described,
                };
                https::post(&self.https, &*self.net, tls, post, request).await
            }
            Transport::Grpc => {
                let channel = self.grpc.channel(&self.net, tls, key, &target.authority)?;
                grpc::review(channel, request, timeout, described).await
            }
        }
    }

    /// The `host:port` to dial. For a Service, kube resolves `<name>.<namespace>.svc` through
    /// cluster DNS; kubesim has none and dials the Service's external name instead.
    async fn resolve(&self, target: &Target, described: &str) -> Result<String, CallError> {
        let (namespace, name, port) = match &target.dial {
            Dial::Addr(addr) => return Ok(addr.clone()),
            Dial::Service {
                namespace,
                name,
                port,
            } => (namespace, name, *port),
        };
        let unreachable = |detail: String| {
            CallError::call_failed(CallErrorKind::Unreachable, format!("{described}: {detail}"))
        };
        let services = kubesim_api::resources::lookup("", "v1", "services")
            .ok_or_else(|| unreachable("the services resource is not served".to_string()))?;
        let service = self
            .state
            .get(services, namespace, name)
            .await
            .map_err(|status| unreachable(status.message))?
            .ok_or_else(|| unreachable(format!("services {name:?} not found")))?;
        service_address(&service, port).ok_or_else(|| {
            unreachable(format!(
                "service {namespace}/{name} has neither spec.externalName nor \
                 spec.externalIPs: kubesim has no cluster DNS, so set spec.externalName to \
                 the host that serves the webhook"
            ))
        })
    }
}

impl Target {
    pub(crate) fn of(endpoint: &Endpoint) -> Result<Target, CallError> {
        match endpoint {
            Endpoint::Url(url) => Target::of_url(url),
            Endpoint::Service {
                namespace,
                name,
                port,
                path,
            } => {
                let server_name = format!("{name}.{namespace}.svc");
                let authority = format!("{server_name}:{port}");
                let path = clean_path(path);
                Ok(Target {
                    url: format!("https://{authority}{path}"),
                    authority,
                    server_name,
                    path_and_query: path,
                    dial: Dial::Service {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        port: *port,
                    },
                })
            }
        }
    }

    /// `https://host[:port][/path][?query]`; kube's configuration validation refuses anything
    /// else, so this only guards against what slipped past it.
    fn of_url(url: &str) -> Result<Target, CallError> {
        let unparsable = |detail: String| {
            CallError::no_client(
                CallErrorKind::Unsupported,
                format!("Unparsable URL: {detail}"),
            )
        };
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| unparsable(format!("parse {url:?}: {e}")))?;
        if uri.scheme_str() != Some("https") {
            return Err(unparsable(format!("{url:?}: the scheme must be https")));
        }
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
            .ok_or_else(|| unparsable(format!("{url:?}: no host, or user info")))?;
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(443);
        let path = clean_path(uri.path());
        let path_and_query = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        Ok(Target {
            url: format!("https://{}{path}", authority.as_str()),
            authority: authority.as_str().to_string(),
            server_name: host.trim_start_matches('[').trim_end_matches(']').into(),
            path_and_query,
            dial: Dial::Addr(format!("{host}:{port}")),
        })
    }
}

/// The request as kube's REST client names it in errors: `Post "<url>?timeout=10s"`. gRPC
/// calls name the method and the target the same way.
fn describe(transport: Transport, target: &Target, timeout: Duration) -> String {
    match transport {
        Transport::Https => {
            let url = with_timeout_query(&target.url, timeout);
            format!("Post {url:?}")
        }
        Transport::Grpc => format!("Review {:?}", target.url),
    }
}

/// A call whose time ran out: the context's error, as Go's HTTP client or gRPC reports it.
fn timed_out(transport: Transport, described: &str) -> CallError {
    let detail = match transport {
        Transport::Https => "context deadline exceeded",
        Transport::Grpc => "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
    };
    CallError::call_failed(CallErrorKind::Timeout, format!("{described}: {detail}"))
}

/// Appends `timeout=<N>s`, the call's time rounded up to whole seconds, as kube does so the
/// webhook knows how long it has. Nothing when there is no time left.
pub(crate) fn with_timeout_query(path_or_url: &str, timeout: Duration) -> String {
    if timeout.is_zero() {
        return path_or_url.to_string();
    }
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    let separator = if path_or_url.contains('?') { '&' } else { '?' };
    format!("{path_or_url}{separator}timeout={}", go_seconds(seconds))
}

/// Whole seconds as Go's `time.Duration.String` prints them: `10s`, `1m30s`, `1h0m0s`.
fn go_seconds(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// A path as kube's REST client sends it (`path.Join("/", p)`): rooted, `.`, `..` and empty
/// segments resolved, no trailing slash.
fn clean_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    format!("/{}", segments.join("/"))
}

/// `host:port` of a Service for kubesim: its `spec.externalName`, else its first
/// `spec.externalIPs` entry.
fn service_address(service: &Value, port: u16) -> Option<String> {
    let spec = service.get("spec")?;
    let external_name = spec
        .get("externalName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty());
    let host = match external_name {
        Some(name) => name,
        None => spec
            .get("externalIPs")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .find(|ip| !ip.is_empty())?,
    };
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// kube's `VerifyAdmissionResponse` for v1, then the mutating dispatcher's patch type check.
pub(crate) fn verify_response(
    uid: &str,
    kind: WebhookKind,
    review: AdmissionReview,
) -> Result<AdmissionResponse, CallError> {
    use CallErrorKind::{Malformed, WrongUid};
    let Some(response) = review.response else {
        return Err(CallError::invalid_response(
            Malformed,
            "webhook response was absent",
        ));
    };
    if response.uid != uid {
        return Err(CallError::invalid_response(
            WrongUid,
            format!("expected response.uid={uid:?}, got {:?}", response.uid),
        ));
    }
    let got = go_group_version_kind(&review.api_version, &review.kind);
    let want = go_group_version_kind(API_VERSION, KIND);
    if got != want {
        return Err(CallError::invalid_response(
            Malformed,
            format!("expected webhook response of {want}, got {got}"),
        ));
    }
    verify_patch(kind, &response).map_err(|e| CallError::invalid_response(Malformed, e))?;
    let patched = response.patch.as_ref().is_some_and(|p| !p.is_empty());
    match response.patch_type.as_deref() {
        Some("JSONPatch") | None => Ok(response),
        // A denial's patch is never applied, so kube never looks at its type.
        Some(_) if !response.allowed || !patched => Ok(response),
        Some(other) => Err(CallError::new(
            Malformed,
            format!("unsupported patch type {other:?}"),
        )),
    }
}

/// A mutating webhook sends `patch` and `patchType` together or neither; a validating one
/// sends neither.
fn verify_patch(kind: WebhookKind, response: &AdmissionResponse) -> Result<(), String> {
    let has_patch = response.patch.as_ref().is_some_and(|p| !p.is_empty());
    let patch_type = response.patch_type.as_deref();
    match (kind, has_patch, patch_type) {
        (WebhookKind::Mutating, true, None) => {
            Err("webhook returned response.patch but not response.patchType".into())
        }
        (WebhookKind::Mutating, false, Some(_)) => {
            Err("webhook returned response.patchType but not response.patch".into())
        }
        (WebhookKind::Mutating, true, Some("")) => {
            Err("webhook returned invalid response.patchType of \"\"".into())
        }
        (WebhookKind::Validating, true, _) => {
            Err("validating webhook may not return response.patch".into())
        }
        (WebhookKind::Validating, false, Some(_)) => {
            Err("validating webhook may not return response.patchType".into())
        }
        _ => Ok(()),
    }
}

/// Go's `schema.GroupVersionKind.String()` of an `apiVersion` and `kind` as sent
/// (`admission.k8s.io/v1, Kind=AdmissionReview`; `/, Kind=` when both are missing).
fn go_group_version_kind(api_version: &str, kind: &str) -> String {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) if !version.contains('/') => (group, version),
        // Go's ParseGroupVersion fails on a second slash, and the kind keeps no version.
        Some(_) => ("", ""),
        None => ("", api_version),
    };
    format!("{group}/{version}, Kind={kind}")
}

/// A map bounded to `capacity` entries that evicts the least recently used one.
pub(crate) struct Lru<K, V> {
    entries: HashMap<K, (V, u64)>,
    /// Bumped on every use; an entry's stamp says when it was last used.
    clock: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub(crate) fn new(capacity: usize) -> Lru<K, V> {
        assert!(capacity > 0, "an Lru holds at least one entry");
        Lru {
            entries: HashMap::new(),
            clock: 0,
            capacity,
        }
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.clock += 1;
        let now = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = now;
            value
        })
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.evict_oldest();
        }
        self.clock += 1;
        self.entries.insert(key, (value, self.clock));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn evict_oldest(&mut self) {
        let oldest = self.entries.iter().min_by_key(|(_, (_, used))| *used);
        if let Some(key) = oldest.map(|(key, _)| key.clone()) {
            self.entries.remove(&key);
        }
    }
}

/// Locks a cache; a panic elsewhere while holding it leaves plain data behind, so go on.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
