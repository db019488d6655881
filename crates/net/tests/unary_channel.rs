//! [`UnaryChannel`] sends a unary call's message as one HTTP/2 DATA frame that ends the
//! stream, where a plain tonic `Channel` sends the message and then an empty END_STREAM
//! frame. Read off the wire: a listener that speaks just enough HTTP/2 (its SETTINGS) and
//! reports the client's DATA frames of the first stream.

use std::sync::Arc;
use std::time::Duration;

use kubesim_net::network::{ChannelConfig, TokioNetwork, UnaryChannel, channel};
use kubesim_proto::etcdserverpb::RangeRequest;
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const SETTINGS: u8 = 0x4;
const END_STREAM: u8 = 0x1;
const BOUND: Duration = Duration::from_secs(10);

/// One frame's header: (length, type, flags, stream).
type FrameHead = (usize, u8, u8, u32);

/// Accepts one connection, answers its SETTINGS and returns the (length, flags) of every
/// DATA frame of the first stream, up to and including the one that ends it.
async fn data_frames_of_first_stream(listener: TcpListener) -> Vec<(usize, u8)> {
    let (mut conn, _) = listener.accept().await.expect("a connection");
    let mut preface = [0u8; PREFACE.len()];
    conn.read_exact(&mut preface).await.expect("the preface");
    assert_eq!(preface, PREFACE);
    // Our (empty) SETTINGS; its ACK of the client's follows when that arrives.
    conn.write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])
        .await
        .expect("write");
    let mut frames = Vec::new();
    let mut first_stream = None;
    loop {
        let (length, kind, flags, stream) = read_head(&mut conn).await;
        let mut payload = vec![0u8; length];
        conn.read_exact(&mut payload).await.expect("a payload");
        if kind == SETTINGS && flags & 0x1 == 0 {
            conn.write_all(&[0, 0, 0, SETTINGS, 0x1, 0, 0, 0, 0])
                .await
                .expect("write");
        }
        if kind != DATA || stream == 0 {
            continue;
        }
        if *first_stream.get_or_insert(stream) != stream {
            continue;
        }
        frames.push((length, flags));
        if flags & END_STREAM != 0 {
            return frames;
        }
    }
}

async fn read_head(conn: &mut tokio::net::TcpStream) -> FrameHead {
    let mut head = [0u8; 9];
    conn.read_exact(&mut head).await.expect("a frame header");
    let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    (length, head[3], head[4], stream)
}

fn request() -> RangeRequest {
    RangeRequest {
        key: b"/registry/pods/default/web".to_vec(),
        ..RangeRequest::default()
    }
}

/// The gRPC message as framed on the wire: a 5-byte prefix and the encoded request.
fn framed_len() -> usize {
    5 + prost::Message::encoded_len(&request())
}

/// Sends one Range through `unary` (or a plain channel) to a fake server and returns the
/// DATA frames the server saw. The call itself is never answered; it is dropped.
async fn frames_sent(unary: bool) -> Vec<(usize, u8)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address").to_string();
    let seen = tokio::spawn(data_frames_of_first_stream(listener));
    let chan = channel(Arc::new(TokioNetwork), &addr, ChannelConfig::default()).expect("chan");
    let call = tokio::spawn(async move {
        if unary {
            KvClient::new(UnaryChannel::new(chan))
                .range(request())
                .await
        } else {
            KvClient::new(chan).range(request()).await
        }
    });
    let frames = tokio::time::timeout(BOUND, seen)
        .await
        .expect("the frames within the bound")
        .expect("the listener task");
    call.abort();
    frames
}

#[tokio::test]
async fn a_unary_channel_sends_the_message_in_one_frame_that_ends_the_stream() {
    assert_eq!(frames_sent(true).await, vec![(framed_len(), END_STREAM)]);
}

/// Why [`UnaryChannel`] exists: if tonic ever sends a unary message with END_STREAM by
/// itself, this fails and the wrapper can go.
#[tokio::test]
async fn a_plain_channel_ends_the_stream_with_an_empty_second_frame() {
    assert_eq!(
        frames_sent(false).await,
        vec![(framed_len(), 0), (0, END_STREAM)]
    );
}

/// A message over the client's encoding limit fails as tonic fails it (OutOfRange), before
/// anything is sent: the channel points at a port nobody listens on, which would answer
/// Unavailable.
#[tokio::test]
async fn a_message_over_the_encoding_limit_fails_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address").to_string();
    drop(listener);
    let chan = channel(Arc::new(TokioNetwork), &addr, ChannelConfig::default()).expect("chan");
    let mut client = KvClient::new(UnaryChannel::new(chan)).max_encoding_message_size(8);
    let status = tokio::time::timeout(BOUND, client.range(request()))
        .await
        .expect("an answer within the bound")
        .expect_err("over the limit");
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
}
