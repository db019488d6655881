//! Keeps a request's body alive until its response has been sent.
//!
//! With HTTP/2, dropping a request body that the client is still sending makes hyper reset
//! the stream (RST_STREAM). A stage that refuses a request early (401, 403, 413, 429) drops the
//! request, and if the reset goes out before the response, the client sees a stream error
//! instead of the Status (curl: "Stream error in the HTTP/2 framing layer"). Go's server, and
//! so kube-apiserver, answers first and resets after. The chain therefore puts the body in a
//! [`SharedBody`] slot and hands the slot to the response body ([`HoldUntilSent`]), which lets
//! go of it only once the response's last frame has been handed to hyper.
//!
//! Holding is not enough when the refusal is quicker than the client: the answer then ends
//! the stream while the client is still uploading, hyper resets the rest, and some clients
//! (curl 7.88) report the reset instead of the answer they already have. So before a refusal
//! is sent, [`drain`] reads what is left of a small body, within a bound of bytes and time.

use std::any::Any;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use crate::response::Body;

/// A request body read through a slot the chain also holds.
pub struct SharedBody<B> {
    slot: Arc<Mutex<Option<B>>>,
}

impl<B> SharedBody<B> {
    /// The body, and the slot to keep it alive with.
    pub fn new(body: B) -> (SharedBody<B>, Arc<Mutex<Option<B>>>) {
        let slot = Arc::new(Mutex::new(Some(body)));
        (SharedBody { slot: slot.clone() }, slot)
    }
}

impl<B: HttpBody + Unpin> HttpBody for SharedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().is_none_or(|body| body.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .map(|body| body.size_hint())
            .unwrap_or_default()
    }
}

/// Bytes and time [`drain`] spends at most: enough for any refused API object a client
/// sends at once; a larger or slower body is reset as before.
const DRAIN_MAX_BYTES: usize = 64 * 1024;
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and drops what is left of the body in `slot` (see the module's doc), at most
/// [`DRAIN_MAX_BYTES`] within [`DRAIN_TIMEOUT`].
pub async fn drain<B: HttpBody + Unpin>(slot: &Mutex<Option<B>>) {
    let body = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some(body) = body else { return };
    if body.is_end_stream() || body.size_hint().lower() > DRAIN_MAX_BYTES as u64 {
        return;
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, read_and_drop(body)).await;
}

/// Reads frames until the body ends, fails or passes [`DRAIN_MAX_BYTES`].
async fn read_and_drop<B: HttpBody + Unpin>(mut body: B) {
    use bytes::Buf;
    let mut read = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        read += frame.data_ref().map_or(0, |data| data.remaining());
        if read > DRAIN_MAX_BYTES {
            return;
        }
    }
}

/// A response body that owns `held` (the request's body slot) until its last frame.
struct HoldUntilSent {
    inner: Body,
    held: Option<Box<dyn Any + Send>>,
}

impl HttpBody for HoldUntilSent {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            self.held = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `body`, holding `held` until it has been sent (or dropped).
pub fn hold_until_sent(body: Body, held: Box<dyn Any + Send>) -> Body {
    HoldUntilSent {
        inner: body,
        held: Some(held),
    }
    .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn the_request_body_lives_until_the_response_is_read() {
        let (shared, slot) = SharedBody::new(Full::new(Bytes::from_static(b"request")));
        drop(shared);
        let weak = Arc::downgrade(&slot);
        let response = hold_until_sent(crate::response::full("answer"), Box::new(slot));
        assert!(
            weak.upgrade().is_some(),
            "released before the response was sent"
        );
        let bytes = response.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "answer");
        assert!(
            weak.upgrade().is_none(),
            "still held after the response was sent"
        );
    }

    #[tokio::test]
    async fn a_shared_body_reads_like_the_body() {
        let (shared, _slot) = SharedBody::new(Full::new(Bytes::from_static(b"request")));
        assert_eq!(shared.collect().await.unwrap().to_bytes(), "request");
    }
}
