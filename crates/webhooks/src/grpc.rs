//! kubesim's gRPC transport (`kubesim.admission.v1.AdmissionWebhook`,
//! proto/kubesim/admission.proto) on the same port: the tonic service, which maps the message
//! to the AdmissionReview types with the admission crate's own mapping and calls the same
//! [`Reviewer::answer`] as the HTTPS transport; and the failure answers this transport gives
//! for `--timeout-behaviour error` (status `Internal`) and `garbage` (status OK around a
//! message that is not protobuf).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Request, Response};
use kubesim_admission::webhook::grpc as mapping;
use kubesim_proto::admissionpb;
use kubesim_proto::admissionpb::admission_webhook_server::{
    AdmissionWebhook, AdmissionWebhookServer,
};
use tonic::body::Body;
use tower::ServiceExt;

use crate::routes::Reviewer;

/// The path of `AdmissionWebhook.Review`.
pub const REVIEW_PATH: &str = "/kubesim.admission.v1.AdmissionWebhook/Review";

/// Marks a call whose fate is `wrong-uid` (a request extension, read by the service).
#[derive(Debug, Clone, Copy)]
pub struct WrongUid;

/// The tonic service.
#[derive(Debug)]
pub struct Service {
    reviewer: Arc<Reviewer>,
}

impl Service {
    pub fn new(reviewer: Arc<Reviewer>) -> Service {
        Service { reviewer }
    }
}

#[tonic::async_trait]
impl AdmissionWebhook for Service {
    async fn review(
        &self,
        request: tonic::Request<admissionpb::AdmissionRequest>,
    ) -> Result<tonic::Response<admissionpb::AdmissionResponse>, tonic::Status> {
        let wrong_uid = request.extensions().get::<WrongUid>().is_some();
        let admission = mapping::request_from_proto(request.into_inner())
            .map_err(tonic::Status::invalid_argument)?;
        let response = self.reviewer.answer(&admission, wrong_uid);
        Ok(tonic::Response::new(mapping::response_to_proto(&response)))
    }
}

/// Hands a call to tonic.
pub async fn call(
    server: &AdmissionWebhookServer<Service>,
    request: Request<Incoming>,
) -> Response<Body> {
    match server.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `--timeout-behaviour error`: status `Internal`.
pub fn injected_error() -> Response<Body> {
    tonic::Status::internal("injected failure (--fail-rate, --timeout-behaviour error)").into_http()
}

/// What `--timeout-behaviour garbage` sends as the message: field number 0, which no
/// protobuf message may have, so no decoder takes it for an AdmissionResponse.
pub const GARBAGE: &[u8] = b"\x00this is not an AdmissionResponse";

/// `--timeout-behaviour garbage`: a well-formed gRPC answer, status OK, around [`GARBAGE`].
pub fn garbage() -> Response<Body> {
    let mut frame = Vec::with_capacity(5 + GARBAGE.len());
    frame.push(0); // not compressed
    frame.extend_from_slice(&(GARBAGE.len() as u32).to_be_bytes());
    frame.extend_from_slice(GARBAGE);
    let mut trailers = HeaderMap::new();
    trailers.insert(tonic::Status::GRPC_STATUS, HeaderValue::from_static("0"));
    let frames = [
        Ok::<_, Infallible>(Frame::data(Bytes::from(frame))),
        Ok(Frame::trailers(trailers)),
    ];
    let mut response = Response::new(Body::new(StreamBody::new(futures::stream::iter(frames))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn garbage_does_not_decode() {
        assert!(admissionpb::AdmissionResponse::decode(GARBAGE).is_err());
    }
}
