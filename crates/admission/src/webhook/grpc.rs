//! kubesim's gRPC transport for admission webhooks: the AdmissionReview exchange as
//! `AdmissionWebhook.Review` (`proto/kubesim/admission.proto`), over TLS done in the
//! connector on the network seam (ALPN `h2`), one lazily connecting, reconnecting channel per
//! target.
//!
//! The mapping between the review types and the proto messages is public, both ways, so a
//! webhook server (`kubesim-webhooks`) maps the same way: objects travel as their JSON bytes,
//! empty bytes and empty strings stand for what is absent.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use kubesim_api::user::UserInfo;
use kubesim_net::Network;
use kubesim_net::network::Conn;
use kubesim_proto::admissionpb as pb;
use kubesim_proto::admissionpb::admission_webhook_client::AdmissionWebhookClient;
use serde_json::Value;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

use super::client::{CallError, CallErrorKind, ConnKey, Lru, MAX_RESPONSE_BYTES, lock, tls};
use super::review::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, GroupVersionKind, GroupVersionResource,
    ResponseStatus,
};

/// gRPC targets with a channel kept.
const MAX_CHANNELS: usize = 64;
/// How long one connection attempt (TCP and TLS) may take. A channel connects once for all
/// the calls waiting on it, each of which has its own, usually shorter, timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 PINGs while calls are under way, so a connection whose peer vanished is dropped
/// and the channel reconnects rather than stalling every later call.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// kube-apiserver's user agent for webhook calls (tonic appends its own).
const USER_AGENT: &str = "kube-apiserver-admission";

/// One channel per target, bounded.
pub(crate) struct Channels {
    channels: Mutex<Lru<ConnKey, Channel>>,
}

impl Channels {
    pub(crate) fn new() -> Channels {
        Channels {
            channels: Mutex::new(Lru::new(MAX_CHANNELS)),
        }
    }

    /// The channel to `key`, made (without connecting) on first use. `authority` is the
    /// `:authority` of its requests.
    pub(crate) fn channel(
        &self,
        net: &Arc<dyn Network>,
        tls: Arc<rustls::ClientConfig>,
        key: ConnKey,
        authority: &str,
    ) -> Result<Channel, CallError> {
        let mut channels = lock(&self.channels);
        if let Some(channel) = channels.get_mut(&key) {
            return Ok(channel.clone());
        }
        let channel = connect_lazy(net.clone(), tls, &key, authority)?;
        channels.insert(key, channel.clone());
        Ok(channel)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.channels).len()
    }
}

fn connect_lazy(
    net: Arc<dyn Network>,
    tls: Arc<rustls::ClientConfig>,
    key: &ConnKey,
    authority: &str,
) -> Result<Channel, CallError> {
    let unusable = |e: &dyn std::fmt::Display| {
        CallError::no_client(CallErrorKind::Unsupported, format!("{authority:?}: {e}"))
    };
    let origin: Uri = format!("https://{authority}")
        .parse()
        .map_err(|e| unusable(&e))?;
    // `http` here: the TLS is this connector's, and tonic must not try its own.
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| unusable(&e))?
        .origin(origin)
        .user_agent(USER_AGENT)
        .map_err(|e| unusable(&e))?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    let dialer = TlsDialer {
        net,
        tls,
        addr: key.addr.clone(),
        server_name: key.server_name.clone(),
    };
    Ok(endpoint.connect_with_connector_lazy(dialer))
}

/// tonic's connector: TCP over the network seam, then TLS naming the webhook's server name.
#[derive(Clone)]
struct TlsDialer {
    net: Arc<dyn Network>,
    tls: Arc<rustls::ClientConfig>,
    addr: String,
    server_name: String,
}

/// Why a connection could not be made; found again in the failed call's status.
#[derive(Debug)]
struct DialError {
    kind: CallErrorKind,
    message: String,
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DialError {}

type DialFuture = Pin<Box<dyn Future<Output = Result<TokioIo<TlsStream<Conn>>, DialError>> + Send>>;

impl tonic::codegen::Service<Uri> for TlsDialer {
    type Response = TokioIo<TlsStream<Conn>>;
    type Error = DialError;
    type Future = DialFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> DialFuture {
        let dialer = self.clone();
        Box::pin(async move {
            let stream = tls::dial(&*dialer.net, dialer.tls, &dialer.addr, &dialer.server_name)
                .await
                .map_err(|(kind, message)| DialError { kind, message })?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// One `Review` call on `channel`. The caller bounds the time; `grpc-timeout` tells the
/// webhook, as `?timeout=` does over HTTPS.
pub(crate) async fn review(
    channel: Channel,
    request: &AdmissionRequest,
    timeout: Duration,
    described: &str,
) -> Result<AdmissionReview, CallError> {
    // Review is unary: the request goes out as one frame.
    let mut client = AdmissionWebhookClient::new(kubesim_net::network::UnaryChannel::new(channel))
        .max_decoding_message_size(MAX_RESPONSE_BYTES);
    let mut rpc = tonic::Request::new(request_to_proto(request));
    rpc.set_timeout(timeout);
    match client.review(rpc).await {
        Ok(response) => Ok(AdmissionReview::for_response(response_from_proto(
            response.into_inner(),
        ))),
        Err(status) => Err(status_error(&status, described)),
    }
}

/// A failed call's status, as grpc-go words it (`rpc error: code = ... desc = ...`). A
/// connection that could not be made keeps its own classification (TLS or unreachable).
fn status_error(status: &tonic::Status, described: &str) -> CallError {
    let kind = match (dial_error(status), status.code()) {
        (Some(dial), _) => dial.kind,
        (None, tonic::Code::DeadlineExceeded) => CallErrorKind::Timeout,
        (None, tonic::Code::Unavailable) => CallErrorKind::Unreachable,
        (None, _) => CallErrorKind::BadStatus,
    };
    let detail = format!(
        "{described}: rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    );
    CallError::call_failed(kind, detail)
}

fn dial_error(status: &tonic::Status) -> Option<&DialError> {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if let Some(dial) = error.downcast_ref::<DialError>() {
            return Some(dial);
        }
        source = error.source();
    }
    None
}

/// The review's request as the proto message.
pub fn request_to_proto(request: &AdmissionRequest) -> pb::AdmissionRequest {
    pb::AdmissionRequest {
        uid: request.uid.clone(),
        kind: Some(gvk_to_proto(&request.kind)),
        resource: Some(gvr_to_proto(&request.resource)),
        sub_resource: request.sub_resource.clone(),
        request_kind: request.request_kind.as_ref().map(gvk_to_proto),
        request_resource: request.request_resource.as_ref().map(gvr_to_proto),
        request_sub_resource: request.request_sub_resource.clone(),
        name: request.name.clone(),
        namespace: request.namespace.clone(),
        operation: request.operation.clone(),
        user_info: Some(user_to_proto(&request.user_info)),
        object: json_bytes(request.object.as_ref()),
        old_object: json_bytes(request.old_object.as_ref()),
        dry_run: request.dry_run.unwrap_or(false),
        options: json_bytes(request.options.as_ref()),
    }
}

/// The proto message as the review's request; fails when an object is not JSON.
pub fn request_from_proto(request: pb::AdmissionRequest) -> Result<AdmissionRequest, String> {
    Ok(AdmissionRequest {
        uid: request.uid,
        kind: request.kind.map(gvk_from_proto).unwrap_or_default(),
        resource: request.resource.map(gvr_from_proto).unwrap_or_default(),
        sub_resource: request.sub_resource,
        request_kind: request.request_kind.map(gvk_from_proto),
        request_resource: request.request_resource.map(gvr_from_proto),
        request_sub_resource: request.request_sub_resource,
        name: request.name,
        namespace: request.namespace,
        operation: request.operation,
        user_info: request.user_info.map(user_from_proto).unwrap_or_default(),
        object: json_value("object", &request.object)?,
        old_object: json_value("oldObject", &request.old_object)?,
        // kube always sends dryRun.
        dry_run: Some(request.dry_run),
        options: json_value("options", &request.options)?,
    })
}

/// The review's response as the proto message.
pub fn response_to_proto(response: &AdmissionResponse) -> pb::AdmissionResponse {
    pb::AdmissionResponse {
        uid: response.uid.clone(),
        allowed: response.allowed,
        status: response.status.as_ref().map(|status| pb::Status {
            code: status.code,
            message: status.message.clone(),
            reason: status.reason.clone(),
        }),
        patch: response.patch.clone().unwrap_or_default(),
        patch_type: response.patch_type.clone().unwrap_or_default(),
        audit_annotations: response
            .audit_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        warnings: response.warnings.clone(),
    }
}

/// The proto message as the review's response.
pub fn response_from_proto(response: pb::AdmissionResponse) -> AdmissionResponse {
    AdmissionResponse {
        uid: response.uid,
        allowed: response.allowed,
        status: response.status.map(|status| ResponseStatus {
            code: status.code,
            message: status.message,
            reason: status.reason,
        }),
        patch: Some(response.patch).filter(|p| !p.is_empty()),
        patch_type: Some(response.patch_type).filter(|t| !t.is_empty()),
        audit_annotations: response
            .audit_annotations
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        warnings: response.warnings,
    }
}

fn gvk_to_proto(gvk: &GroupVersionKind) -> pb::GroupVersionKind {
    pb::GroupVersionKind {
        group: gvk.group.clone(),
        version: gvk.version.clone(),
        kind: gvk.kind.clone(),
    }
}

fn gvk_from_proto(gvk: pb::GroupVersionKind) -> GroupVersionKind {
    GroupVersionKind {
        group: gvk.group,
        version: gvk.version,
        kind: gvk.kind,
    }
}

fn gvr_to_proto(gvr: &GroupVersionResource) -> pb::GroupVersionResource {
    pb::GroupVersionResource {
        group: gvr.group.clone(),
        version: gvr.version.clone(),
        resource: gvr.resource.clone(),
    }
}

fn gvr_from_proto(gvr: pb::GroupVersionResource) -> GroupVersionResource {
    GroupVersionResource {
        group: gvr.group,
        version: gvr.version,
        resource: gvr.resource,
    }
}

fn user_to_proto(user: &UserInfo) -> pb::UserInfo {
    pb::UserInfo {
        username: user.username.clone(),
        uid: user.uid.clone(),
        groups: user.groups.clone(),
        extra: user
            .extra
            .iter()
            .map(|(k, values)| {
                let values = pb::ExtraValue {
                    values: values.clone(),
                };
                (k.clone(), values)
            })
            .collect(),
    }
}

fn user_from_proto(user: pb::UserInfo) -> UserInfo {
    UserInfo {
        username: user.username,
        uid: user.uid,
        groups: user.groups,
        extra: user
            .extra
            .into_iter()
            .map(|(k, values)| (k, values.values))
            .collect(),
    }
}

/// An object's JSON; empty when there is none.
fn json_bytes(value: Option<&Value>) -> Vec<u8> {
    // A `Value` always serializes (its keys are strings), so the default is never taken.
    value
        .map(|v| serde_json::to_vec(v).unwrap_or_default())
        .unwrap_or_default()
}

fn json_value(field: &str, bytes: &[u8]) -> Result<Option<Value>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| format!("{field} is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn full_request() -> AdmissionRequest {
        AdmissionRequest {
            uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
            kind: GroupVersionKind {
                group: "".into(),
                version: "v1".into(),
                kind: "Pod".into(),
            },
            resource: GroupVersionResource {
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
            },
            sub_resource: "status".into(),
            request_kind: Some(GroupVersionKind {
                group: "".into(),
                version: "v1".into(),
                kind: "Pod".into(),
            }),
            request_resource: Some(GroupVersionResource {
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
            }),
            request_sub_resource: "status".into(),
            name: "web".into(),
            namespace: "default".into(),
            operation: "UPDATE".into(),
            user_info: UserInfo {
                username: "alice".into(),
                uid: "42".into(),
                groups: vec!["dev".into(), "system:authenticated".into()],
                extra: BTreeMap::from([("scopes".into(), vec!["a".into(), "b".into()])]),
            },
            object: Some(json!({"kind": "Pod", "metadata": {"name": "web"}})),
            old_object: Some(json!({"kind": "Pod", "metadata": {"name": "web", "x": 1}})),
            dry_run: Some(true),
            options: Some(json!({"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"})),
        }
    }

    #[test]
    fn requests_survive_the_trip_through_proto() {
        let request = full_request();
        let back = request_from_proto(request_to_proto(&request)).unwrap();
        assert_eq!(back, request);

        let create = AdmissionRequest {
            old_object: None,
            options: None,
            request_kind: None,
            request_resource: None,
            dry_run: Some(false),
            ..full_request()
        };
        let proto = request_to_proto(&create);
        assert!(proto.old_object.is_empty() && proto.options.is_empty());
        assert_eq!(request_from_proto(proto).unwrap(), create);
    }

    #[test]
    fn a_request_whose_object_is_not_json_is_refused() {
        let mut proto = request_to_proto(&full_request());
        proto.object = b"{not json".to_vec();
        let error = request_from_proto(proto).unwrap_err();
        assert!(error.starts_with("object is not JSON: "), "{error}");
    }

    #[test]
    fn responses_survive_the_trip_through_proto() {
        let response = AdmissionResponse {
            uid: "u".into(),
            allowed: false,
            status: Some(ResponseStatus {
                code: 403,
                message: "no".into(),
                reason: "Forbidden".into(),
            }),
            patch: Some(br#"[{"op":"add","path":"/a","value":1}]"#.to_vec()),
            patch_type: Some("JSONPatch".into()),
            audit_annotations: BTreeMap::from([("k".into(), "v".into())]),
            warnings: vec!["careful".into()],
        };
        assert_eq!(response_from_proto(response_to_proto(&response)), response);

        let bare = AdmissionResponse {
            uid: "u".into(),
            allowed: true,
            ..AdmissionResponse::default()
        };
        let proto = response_to_proto(&bare);
        assert!(proto.patch.is_empty() && proto.patch_type.is_empty() && proto.status.is_none());
        assert_eq!(response_from_proto(proto), bare);
    }
}
