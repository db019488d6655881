//! AdmissionReview v1 over HTTPS, kube's wire format: a POST of the review's JSON to the
//! webhook's URL with `?timeout=<N>s`, over HTTP/1.1 (as kube's webhook client, which turns
//! HTTP/2 off) on connections kept in a bounded idle pool between calls; a 200 with an
//! AdmissionReview body is the only answer, anything else a failure worded as client-go
//! words it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use kubesim_net::Network;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::client::{CallError, CallErrorKind, ConnKey, Lru, MAX_RESPONSE_BYTES, lock, tls};
use super::review::{API_VERSION, AdmissionRequest, AdmissionReview, KIND};

/// Targets with idle connections kept.
const MAX_TARGETS: usize = 64;
/// Idle connections kept per target: client-go's `MaxIdleConnsPerHost`.
const MAX_IDLE_PER_TARGET: usize = 25;
/// An idle connection older than this is closed rather than reused: Go's `IdleConnTimeout`
/// as client-go sets it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// What a failed status's message quotes of the body: client-go's
/// `maxUnstructuredResponseTextBytes`.
const MAX_ERROR_TEXT_BYTES: usize = 2048;
/// kube-apiserver's user agent for webhook calls.
const USER_AGENT: &str = "kube-apiserver-admission";

type Sender = SendRequest<Full<Bytes>>;

/// Idle HTTP/1.1 connections by target.
pub(crate) struct Pool {
    idle: Mutex<Lru<ConnKey, Vec<Idle>>>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

impl Pool {
    pub(crate) fn new() -> Pool {
        Pool {
            idle: Mutex::new(Lru::new(MAX_TARGETS)),
        }
    }

    /// The most recently used open connection to `key` (the least likely to have been closed
    /// by the server meanwhile).
    fn checkout(&self, key: &ConnKey) -> Option<Sender> {
        let mut idle = lock(&self.idle);
        let conns = idle.get_mut(key)?;
        while let Some(conn) = conns.pop() {
            if !conn.sender.is_closed() && conn.since.elapsed() < IDLE_TIMEOUT {
                return Some(conn.sender);
            }
        }
        None
    }

    /// Keeps a connection whose response was read to the end for the next call.
    fn checkin(&self, key: ConnKey, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let conn = Idle {
            sender,
            since: Instant::now(),
        };
        let mut idle = lock(&self.idle);
        match idle.get_mut(&key) {
            Some(conns) if conns.len() < MAX_IDLE_PER_TARGET => conns.push(conn),
            Some(_) => {}
            None => idle.insert(key, vec![conn]),
        }
    }

    #[cfg(test)]
    pub(crate) fn idle_count(&self, key: &ConnKey) -> usize {
        lock(&self.idle).get_mut(key).map_or(0, |conns| conns.len())
    }
}

/// One POST: where it goes and how errors name it.
pub(crate) struct Post<'a> {
    pub key: ConnKey,
    /// The `Host` header.
    pub authority: &'a str,
    /// The path with `?timeout=`.
    pub path_and_query: &'a str,
    /// `Post "<url>"`, the prefix of transport errors.
    pub described: &'a str,
}

/// The review kube sends, serialized from a borrowed request (the object is not copied).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutgoingReview<'a> {
    api_version: &'static str,
    kind: &'static str,
    request: &'a AdmissionRequest,
}

/// POSTs `AdmissionReview{request}` and decodes the AdmissionReview answered. The caller
/// bounds the time.
pub(crate) async fn post(
    pool: &Pool,
    net: &dyn Network,
    tls: Arc<rustls::ClientConfig>,
    post: Post<'_>,
    request: &AdmissionRequest,
) -> Result<AdmissionReview, CallError> {
    let review = OutgoingReview {
        api_version: API_VERSION,
        kind: KIND,
        request,
    };
    let body = serde_json::to_vec(&review).map(Bytes::from).map_err(|e| {
        CallError::call_failed(
            CallErrorKind::Malformed,
            format!("encoding the review: {e}"),
        )
    })?;
    let (sender, response) = send(pool, net, tls, &post, body).await?;
    let status = response.status();
    let text = is_text(&response);
    let body = read_body(response, post.described).await?;
    // Read to the end: the connection is ready for the next call.
    pool.checkin(post.key, sender);
    if status != StatusCode::OK {
        return Err(bad_status(status, text, &body));
    }
    decode(&body)
}

/// Sends the request on an idle connection, or a new one. A reused connection the server
/// closed before the request went out is replaced once; a request that went out is never
/// sent again (a POST is not idempotent, and Go's client does not resend it either).
async fn send(
    pool: &Pool,
    net: &dyn Network,
    tls: Arc<rustls::ClientConfig>,
    post: &Post<'_>,
    body: Bytes,
) -> Result<(Sender, Response<hyper::body::Incoming>), CallError> {
    if let Some(mut sender) = pool.checkout(&post.key) {
        match send_on(&mut sender, post, body.clone()).await {
            Ok(response) => return Ok((sender, response)),
            Err(SendError::NotSent(_)) => {}
            Err(SendError::Failed(e)) => return Err(transport_error(post.described, e)),
        }
    }
    let mut sender = connect(net, tls, post).await?;
    match send_on(&mut sender, post, body).await {
        Ok(response) => Ok((sender, response)),
        Err(SendError::NotSent(e) | SendError::Failed(e)) => {
            Err(transport_error(post.described, e))
        }
    }
}

enum SendError {
    /// The connection was closed before the request went out.
    NotSent(String),
    /// The request may have reached the server.
    Failed(String),
}

async fn send_on(
    sender: &mut Sender,
    post: &Post<'_>,
    body: Bytes,
) -> Result<Response<hyper::body::Incoming>, SendError> {
    sender
        .ready()
        .await
        .map_err(|e| SendError::NotSent(e.to_string()))?;
    let request = Request::post(post.path_and_query)
        .header(header::HOST, post.authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, */*")
        .header(header::USER_AGENT, USER_AGENT)
        .body(Full::new(body))
        .map_err(|e| SendError::Failed(e.to_string()))?;
    sender.send_request(request).await.map_err(|e| {
        if e.is_canceled() {
            SendError::NotSent(e.to_string())
        } else {
            SendError::Failed(e.to_string())
        }
    })
}

/// A new TLS connection with HTTP/1.1 on it, its connection task spawned: the task ends
/// when the last sender for it is dropped or the server closes it.
async fn connect(
    net: &dyn Network,
    tls: Arc<rustls::ClientConfig>,
    post: &Post<'_>,
) -> Result<Sender, CallError> {
    let stream = tls::dial(net, tls, &post.key.addr, &post.key.server_name)
        .await
        .map_err(|(kind, detail)| {
            CallError::call_failed(kind, format!("{}: {detail}", post.described))
        })?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport_error(post.described, e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "admission webhook connection ended");
        }
    });
    Ok(sender)
}

fn transport_error(described: &str, e: impl std::fmt::Display) -> CallError {
    CallError::call_failed(CallErrorKind::Unreachable, format!("{described}: {e}"))
}

/// Whether client-go would quote the body in a failed status's message: `text/*`, or no
/// content type at all.
fn is_text(response: &Response<hyper::body::Incoming>) -> bool {
    let Some(content_type) = response.headers().get(header::CONTENT_TYPE) else {
        return true;
    };
    let media = content_type.to_str().unwrap_or_default();
    let media = media.split(';').next().unwrap_or_default().trim();
    media.to_ascii_lowercase().starts_with("text/")
}

async fn read_body(
    response: Response<hyper::body::Incoming>,
    described: &str,
) -> Result<Bytes, CallError> {
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                CallError::call_failed(
                    CallErrorKind::Malformed,
                    format!("the webhook's response is larger than {MAX_RESPONSE_BYTES} bytes"),
                )
            } else {
                CallError::call_failed(CallErrorKind::Unreachable, format!("{described}: {e}"))
            }
        })?;
    Ok(body.to_bytes())
}

/// A status other than 200, as client-go's REST client reports it: a `Status` object in the
/// body speaks for itself; otherwise a sentence per status code (`NewGenericServerResponse`),
/// quoting the body when it is text.
fn bad_status(status: StatusCode, text: bool, body: &[u8]) -> CallError {
    if let Some(message) = failure_status_message(body) {
        return CallError::call_failed(CallErrorKind::BadStatus, message);
    }
    let server_message = if text {
        let cut = &body[..body.len().min(MAX_ERROR_TEXT_BYTES)];
        String::from_utf8_lossy(cut).trim().to_string()
    } else {
        "unknown".to_string()
    };
    let message = generic_server_response(status.as_u16(), &server_message);
    CallError::call_failed(CallErrorKind::BadStatus, message)
}

/// The message of a `{"kind":"Status","status":"Failure",...}` body (`apiVersion` `v1` or
/// none, as client-go decodes it).
fn failure_status_message(body: &[u8]) -> Option<String> {
    let status: Value = serde_json::from_slice(body).ok()?;
    let api_version = status.get("apiVersion").and_then(Value::as_str);
    let is_status = status.get("kind").and_then(Value::as_str) == Some("Status")
        && matches!(api_version, None | Some("v1"))
        && status.get("status").and_then(Value::as_str) == Some("Failure");
    if !is_status {
        return None;
    }
    let message = status.get("message").and_then(Value::as_str);
    Some(message.unwrap_or_default().to_string())
}

/// apimachinery's `NewGenericServerResponse` for a POST without a resource.
fn generic_server_response(code: u16, server_message: &str) -> String {
    match code {
        409 => "the server reported a conflict".into(),
        404 => "the server could not find the requested resource".into(),
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 | 415 => server_message.into(),
        406 if server_message.is_empty() || server_message == "unknown" => {
            "the server was unable to respond with a content type that the client supports".into()
        }
        406 => server_message.into(),
        405 => "the server does not allow this method on the requested resource".into(),
        422 => "the server rejected our request due to an error in our request".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may \
                still be processing the request"
            .into(),
        429 => {
            "the server has received too many requests and has asked us to try again later".into()
        }
        500.. => format!(
            "an error on the server ({server_message:?}) has prevented the request from \
             succeeding"
        ),
        _ => format!(
            "the server responded with the status code {code} but did not return more \
             information"
        ),
    }
}

/// A 200's body as an AdmissionReview. Unparsable JSON fails as apimachinery's JSON
/// serializer fails; the checks of what it says are the caller's.
fn decode(body: &[u8]) -> Result<AdmissionReview, CallError> {
    serde_json::from_slice(body).map_err(|e| {
        let detail = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("couldn't get version/kind; json parse error: {e}")
            }
            _ => e.to_string(),
        };
        CallError::call_failed(CallErrorKind::Malformed, detail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_statuses_read_as_client_go_reports_them() {
        let status = |code: u16, text: bool, body: &str| {
            let code = StatusCode::from_u16(code).unwrap();
            bad_status(code, text, body.as_bytes()).message
        };
        assert_eq!(
            status(500, true, " boom\n"),
            "failed to call webhook: an error on the server (\"boom\") has prevented the \
             request from succeeding"
        );
        assert_eq!(
            status(502, false, "{\"x\":1}"),
            "failed to call webhook: an error on the server (\"unknown\") has prevented the \
             request from succeeding"
        );
        assert_eq!(
            status(404, true, "nope"),
            "failed to call webhook: the server could not find the requested resource"
        );
        assert_eq!(
            status(403, true, "go away"),
            "failed to call webhook: go away"
        );
        assert_eq!(
            status(201, true, ""),
            "failed to call webhook: the server responded with the status code 201 but did \
             not return more information"
        );
        assert_eq!(
            status(
                400,
                false,
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"bad pod"}"#
            ),
            "failed to call webhook: bad pod"
        );
        let long = "x".repeat(3000);
        let quoted = status(500, true, &long);
        assert!(
            quoted.contains(&format!("(\"{}\")", "x".repeat(2048))),
            "{quoted}"
        );
        assert!(!quoted.contains(&"x".repeat(2049)));
    }

    #[test]
    fn bodies_that_are_not_json_fail_as_the_json_serializer_fails() {
        let error = decode(b"garbage").unwrap_err();
        assert_eq!(error.kind, CallErrorKind::Malformed);
        assert!(
            error.message.starts_with(
                "failed to call webhook: couldn't get version/kind; json parse error: "
            ),
            "{}",
            error.message
        );
        let error = decode(br#"{"response":{"uid":"u","allowed":"yes"}}"#).unwrap_err();
        assert_eq!(error.kind, CallErrorKind::Malformed);
        assert!(error.message.contains("invalid type"), "{}", error.message);
    }
}
