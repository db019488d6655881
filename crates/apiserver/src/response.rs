//! The one conversion to the wire at the HTTP edge: a [`Status`] becomes a response with its
//! code and JSON body, and the few other shapes the front answers with (JSON documents, plain
//! text for health checks).

use std::convert::Infallible;

use bytes::Bytes;
use futures::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use kubesim_api::Status;

/// Every response body: complete ([`full`]) for everything but watches, which stream
/// ([`streaming`]).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A body that is complete before it is sent.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A body sent chunk by chunk as `chunks` yields them (a watch: one JSON event per chunk).
pub fn streaming<S>(chunks: S) -> Body
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    use futures::StreamExt;
    BodyExt::boxed_unsync(StreamBody::new(chunks.map(|chunk| Ok(Frame::data(chunk)))))
}

pub const APPLICATION_JSON: &str = "application/json";
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A `Status` with its own code as the HTTP status, and `Retry-After` when it asks for a
/// retry (429, and a 504 with `retryAfterSeconds`), so client-go waits and retries as it does
/// against kube-apiserver.
pub fn status(status: &Status) -> Response<Body> {
    let mut response = with_type(status.code, APPLICATION_JSON, status.to_json().into_bytes());
    let retry_after = status
        .details
        .as_ref()
        .map_or(0, |details| details.retry_after_seconds);
    if retry_after > 0 {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    }
    response
}

/// A JSON document with 200 and `content_type` (discovery sends a media type with
/// parameters).
pub fn json(content_type: &str, value: &serde_json::Value) -> Response<Body> {
    // Invariant: a `serde_json::Value` always serializes.
    let body = serde_json::to_vec(value).expect("a JSON value always serializes");
    with_type(200, content_type, body)
}

/// Plain text, as the health endpoints answer.
pub fn text(code: u16, body: String) -> Response<Body> {
    let mut response = with_type(code, TEXT_PLAIN, body.into_bytes());
    // kube-apiserver sends it with every plain-text answer, so a browser never sniffs HTML.
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn with_type(code: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    with_body(code, content_type, full(body))
}

/// A response with `code`, `content_type` and `body`.
pub fn with_body(code: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    // A code outside 100..=999 can only come from a bug in a Status constructor.
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static(APPLICATION_JSON));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_requests_carries_retry_after() {
        let response = status(&Status::too_many_requests("busy", 1));
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(response.headers()[CONTENT_TYPE], APPLICATION_JSON);
    }

    #[test]
    fn not_found_has_no_retry_after() {
        let response = status(&Status::service_unavailable("later"));
        assert_eq!(response.status(), 503);
        assert!(response.headers().get(RETRY_AFTER).is_none());
    }
}
