//! The AdmissionReview transport, as kube-apiserver calls a webhook: a POST of
//! `application/json` to any path (kube appends `?timeout=<N>s`, which the samples do not
//! need: they answer at once unless told otherwise), answered 200 with the review's
//! `response`. What is not a v1 review is a 400 that says why, a body over the limit a 413.
//!
//! Also the failure answers this transport gives for `--timeout-behaviour error` and
//! `garbage` (see `crate::faults`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use kubesim_admission::webhook::review::{
    API_VERSION, AdmissionRequest, AdmissionResponse, AdmissionReview, KIND,
};
use tonic::body::Body;

/// The JSON media type kube sends and expects.
pub const JSON: &str = "application/json";

/// Whether a request's `content-type` is JSON (parameters such as `charset` aside).
pub fn is_json(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON))
}

/// The review's request, read within `max_body_bytes`, or the error answer.
pub async fn read_request(
    request: Request<Incoming>,
    max_body_bytes: usize,
) -> Result<AdmissionRequest, Response<Body>> {
    let body = match Limited::new(request.into_body(), max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {max_body_bytes} bytes"),
            ));
        }
        Err(error) => {
            return Err(text(
                StatusCode::BAD_REQUEST,
                format!("reading the request body: {error}"),
            ));
        }
    };
    decode(&body).map_err(|message| text(StatusCode::BAD_REQUEST, message))
}

/// The `request` of a v1 AdmissionReview, or why there is none.
pub fn decode(body: &[u8]) -> Result<AdmissionRequest, String> {
    let review: AdmissionReview = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not an AdmissionReview: {e}"))?;
    if review.api_version != API_VERSION || review.kind != KIND {
        return Err(format!(
            "expected {API_VERSION}, Kind={KIND}, got {}, Kind={}",
            review.api_version, review.kind
        ));
    }
    review
        .request
        .ok_or_else(|| "the AdmissionReview has no request".to_string())
}

/// 200 with the review carrying `response`.
pub fn respond(response: AdmissionResponse) -> Response<Body> {
    let review = AdmissionReview::for_response(response);
    // Serializing strings, maps and `Value`s cannot fail.
    let body = serde_json::to_vec(&review).unwrap_or_default();
    with_body(StatusCode::OK, JSON, body.into())
}

/// `--timeout-behaviour error`.
pub fn injected_error() -> Response<Body> {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "injected failure (--fail-rate, --timeout-behaviour error)".to_string(),
    )
}

/// What `--timeout-behaviour garbage` answers: JSON's media type, a body that is not JSON.
pub const GARBAGE: &[u8] = b"this is not an AdmissionReview\n";

/// `--timeout-behaviour garbage`.
pub fn garbage() -> Response<Body> {
    with_body(StatusCode::OK, JSON, Bytes::from_static(GARBAGE))
}

/// A plain-text answer.
pub fn text(status: StatusCode, message: String) -> Response<Body> {
    with_body(status, "text/plain; charset=utf-8", (message + "\n").into())
}

pub fn with_body(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::new(Full::new(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_v1_reviews_with_a_request_decode() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "operation": "CREATE", "userInfo": {"username": "alice"}}});
        let request = decode(review.to_string().as_bytes()).unwrap();
        assert_eq!(
            (request.uid.as_str(), request.operation.as_str()),
            ("u1", "CREATE")
        );

        let v1beta1 = json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"});
        assert_eq!(
            decode(v1beta1.to_string().as_bytes()),
            Err("expected admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1, Kind=AdmissionReview".into())
        );
        let empty = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"});
        assert_eq!(
            decode(empty.to_string().as_bytes()),
            Err("the AdmissionReview has no request".into())
        );
        assert!(
            decode(b"{")
                .unwrap_err()
                .starts_with("the body is not an AdmissionReview: "),
            "not JSON"
        );
    }

    #[test]
    fn garbage_is_not_a_review() {
        assert!(serde_json::from_slice::<AdmissionReview>(GARBAGE).is_err());
    }
}
