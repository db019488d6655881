//! Write coalescing: many HTTP/2 frames in one socket write.
//!
//! h2 writes a DATA frame whose payload is over 256 bytes (1 KiB without vectored writes)
//! without copying it into its buffer, and so flushes before it can take the next frame:
//! over a plain socket every such frame is one `writev`, however many streams have frames
//! ready (`h2::codec::FramedWrite`). Under load that is one system call per request or
//! response; on loopback each also runs the peer's TCP receive path in the sender's context.
//! Go's HTTP/2 server (kube-apiserver's) and grpc-go (etcd's server, and kube-apiserver's
//! client to etcd) write frames into a buffer and flush it once their queue of frames is
//! empty.
//!
//! [`coalesced`] does the same below any HTTP/2 implementation. Writes are copied into a
//! buffer; a flush only wakes this connection's writer task, which runs after the tasks
//! already queued on the runtime (the responses of a Raft batch that the store answered
//! together, say), and writes what has gathered by then in one call. So a burst of frames
//! from one poll of the connection, or from several tasks in a row, leaves as one write.
//!
//! What it costs: one task per connection; a copy of each byte written (cheaper than the
//! system call it saves for any frame over a few hundred bytes); and a flush is done a
//! moment after `poll_flush` returns, once the runtime gets to the writer (on an idle
//! runtime, at once).
//!
//! Bounds: at most [`MAX_PENDING`] bytes wait for the writer (past that `poll_write` waits
//! for room, so a peer that stops reading holds back the writer as a plain socket would).
//! Once the connection is dropped, what is still pending gets [`DRAIN_TIMEOUT`] to be
//! written, then the socket is closed.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::Notify;

use crate::network::Conn;

/// The most bytes accepted and not yet written; past it `poll_write` waits for the writer.
pub const MAX_PENDING: usize = 256 * 1024;

/// The most buffer a connection keeps between bursts.
const KEPT_CAPACITY: usize = 64 * 1024;

/// How long a dropped connection's last bytes (a GOAWAY, say) may take to be written.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// `conn` with its writes coalesced by a writer task (module doc). Must be called within a
/// tokio runtime (the writer is spawned on it).
pub fn coalesced(conn: Conn) -> Conn {
    let (read, write) = tokio::io::split(conn);
    let shared = Arc::new(Shared::default());
    tokio::spawn(write_loop(write, shared.clone()));
    Conn::new(Coalesced { read, shared })
}

/// The connection as its user sees it: reads go straight to the socket, writes to the
/// shared buffer.
struct Coalesced {
    read: ReadHalf<Conn>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified when the connection is dropped: bounds the writer's last write.
    dropped: Notify,
}

#[derive(Default)]
struct State {
    /// Bytes accepted by `poll_write`, not yet taken by the writer.
    pending: Vec<u8>,
    /// The writer, parked until there is something to do.
    writer: Option<Waker>,
    /// A `poll_write` waiting for room, or a `poll_shutdown` waiting for the writer.
    waiting: Option<Waker>,
    /// A write failed: every later write, flush and shutdown fails the same way.
    failed: Option<(io::ErrorKind, String)>,
    /// `poll_flush` asked for the pending bytes to go out.
    flush: bool,
    shutdown: Shutdown,
    dropped: bool,
}

#[derive(Default, PartialEq, Eq)]
enum Shutdown {
    #[default]
    NotAsked,
    /// Asked: the writer writes what is pending, then shuts the socket's write side.
    Asked,
    Done,
}

/// What the writer does next.
enum Work {
    /// Write the bytes just taken.
    Write,
    Shutdown,
    /// Nothing more will be written: the connection is gone or broken.
    Stop,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; go on with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The writer's wait: swaps the pending bytes into `batch` once a flush asked for them
    /// (or they fill the buffer), or says to shut down or stop.
    fn next_work(&self, cx: &mut Context<'_>, batch: &mut Vec<u8>) -> Poll<Work> {
        let mut state = self.lock();
        if state.failed.is_some() {
            return Poll::Ready(Work::Stop);
        }
        let due = state.flush
            || state.dropped
            || state.shutdown == Shutdown::Asked
            || state.pending.len() >= MAX_PENDING;
        if due && !state.pending.is_empty() {
            std::mem::swap(&mut state.pending, batch);
            state.flush = false;
            // Room again for a writer that waited for it.
            if let Some(waiting) = state.waiting.take() {
                waiting.wake();
            }
            return Poll::Ready(Work::Write);
        }
        state.flush = false;
        if state.shutdown == Shutdown::Asked {
            return Poll::Ready(Work::Shutdown);
        }
        if state.dropped || state.shutdown == Shutdown::Done {
            return Poll::Ready(Work::Stop);
        }
        state.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Records how a write or the shutdown ended, and wakes whoever waits on it.
    fn finished(&self, result: io::Result<()>, shutdown: bool) {
        let mut state = self.lock();
        match result {
            Err(error) => state.failed = Some((error.kind(), error.to_string())),
            Ok(()) if shutdown => state.shutdown = Shutdown::Done,
            Ok(()) => {}
        }
        if let Some(waiting) = state.waiting.take() {
            waiting.wake();
        }
    }

    /// Resolves once the connection is dropped and then [`DRAIN_TIMEOUT`] has passed.
    async fn abandoned(&self) {
        if !self.lock().dropped {
            self.dropped.notified().await;
        }
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    }
}

fn failure((kind, message): &(io::ErrorKind, String)) -> io::Error {
    io::Error::new(*kind, message.clone())
}

fn wake_writer(state: &mut State) {
    if let Some(writer) = state.writer.take() {
        writer.wake();
    }
}

async fn write_loop(mut write: WriteHalf<Conn>, shared: Arc<Shared>) {
    let mut batch = Vec::new();
    loop {
        let work = std::future::poll_fn(|cx| shared.next_work(cx, &mut batch)).await;
        let (result, shutdown) = match work {
            Work::Stop => return,
            Work::Write => {
                let written = async {
                    write.write_all(&batch).await?;
                    write.flush().await
                };
                let result = tokio::select! {
                    result = written => result,
                    () = shared.abandoned() => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the connection was dropped and its last writes did not finish",
                    )),
                };
                batch.clear();
                // An idle connection keeps little: a burst's buffer goes back.
                batch.shrink_to(KEPT_CAPACITY);
                (result, false)
            }
            Work::Shutdown => (write.shutdown().await, true),
        };
        shared.finished(result, shutdown);
    }
}

impl AsyncRead for Coalesced {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl Coalesced {
    /// Copies as much of `bufs` as there is room for; waits if there is none.
    fn accept(&self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let mut state = self.shared.lock();
        if let Some(failed) = &state.failed {
            return Poll::Ready(Err(failure(failed)));
        }
        if state.shutdown != Shutdown::NotAsked {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        let mut room = MAX_PENDING.saturating_sub(state.pending.len());
        if room == 0 {
            state.waiting = Some(cx.waker().clone());
            wake_writer(&mut state);
            return Poll::Pending;
        }
        let mut accepted = 0;
        for buf in bufs {
            let take = buf.len().min(room);
            state.pending.extend_from_slice(&buf[..take]);
            accepted += take;
            room -= take;
            if room == 0 {
                // Full: the writer need not wait for a flush.
                wake_writer(&mut state);
                break;
            }
        }
        Poll::Ready(Ok(accepted))
    }
}

impl AsyncWrite for Coalesced {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.accept(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.accept(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Hands the pending bytes to the writer and returns at once (module doc).
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        if let Some(failed) = &state.failed {
            return Poll::Ready(Err(failure(failed)));
        }
        if !state.pending.is_empty() {
            state.flush = true;
            wake_writer(&mut state);
        }
        Poll::Ready(Ok(()))
    }

    /// Waits until what is pending is written and the socket's write side is shut.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        if let Some(failed) = &state.failed {
            return Poll::Ready(Err(failure(failed)));
        }
        match state.shutdown {
            Shutdown::Done => return Poll::Ready(Ok(())),
            Shutdown::NotAsked => state.shutdown = Shutdown::Asked,
            Shutdown::Asked => {}
        }
        state.waiting = Some(cx.waker().clone());
        wake_writer(&mut state);
        Poll::Pending
    }
}

impl Drop for Coalesced {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.dropped = true;
        wake_writer(&mut state);
        drop(state);
        self.shared.dropped.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use tokio::io::AsyncReadExt;

    /// A loopback TCP pair: the coalesced side and the plain peer.
    async fn pair() -> (Conn, tokio::net::TcpStream) {
        let (conn, peer, _) = counted_pair().await;
        (conn, peer)
    }

    /// [`pair`], and how many writes the coalesced side made to its socket.
    async fn counted_pair() -> (Conn, tokio::net::TcpStream, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialled, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), async {
            listener.accept().await.unwrap().0
        });
        let writes = Arc::new(AtomicUsize::new(0));
        let counted = Counted {
            inner: dialled.unwrap(),
            writes: writes.clone(),
        };
        (coalesced(Conn::new(counted)), accepted, writes)
    }

    /// A socket that counts the writes made to it.
    struct Counted {
        inner: tokio::net::TcpStream,
        writes: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let written = Pin::new(&mut self.inner).poll_write(cx, buf);
            if matches!(written, Poll::Ready(Ok(_))) {
                self.writes.fetch_add(1, Ordering::Relaxed);
            }
            written
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn writes_arrive_whole_and_in_order_and_reads_pass_through() {
        let (mut conn, mut peer) = pair().await;
        let mut sent = Vec::new();
        for i in 0..200u32 {
            let frame = vec![(i % 251) as u8; 1 + (i as usize * 37) % 5000];
            conn.write_all(&frame).await.unwrap();
            if i % 7 == 0 {
                conn.flush().await.unwrap();
            }
            sent.extend_from_slice(&frame);
        }
        conn.shutdown().await.unwrap();
        let mut received = Vec::new();
        peer.read_to_end(&mut received).await.unwrap();
        assert_eq!(received.len(), sent.len());
        assert!(received == sent, "the bytes arrive as written, in order");

        peer.write_all(b"answer").await.unwrap();
        let mut answer = [0u8; 6];
        conn.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"answer");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn frames_flushed_before_the_writer_runs_leave_in_one_write() {
        // On this runtime the writer runs only when this task yields: ten frames, each
        // flushed as h2 flushes a large DATA frame, are one batch by then.
        let (mut conn, mut peer, writes) = counted_pair().await;
        for i in 0..10u8 {
            conn.write_all(&[i; 3000]).await.unwrap();
            conn.flush().await.unwrap();
        }
        let mut received = vec![0u8; 30_000];
        peer.read_exact(&mut received).await.unwrap();
        let expected: Vec<u8> = (0..10u8).flat_map(|i| [i; 3000]).collect();
        assert!(received == expected, "the frames arrive in order");
        // One write, unless the kernel took the batch in parts.
        let writes = writes.load(Ordering::Relaxed);
        assert!(
            (1..=2).contains(&writes),
            "{writes} writes for ten flushed frames"
        );
    }

    #[tokio::test]
    async fn a_flush_sends_what_is_pending_without_more_writes() {
        let (mut conn, mut peer) = pair().await;
        conn.write_all(b"ping").await.unwrap();
        conn.flush().await.unwrap();
        let mut got = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(5), peer.read_exact(&mut got))
            .await
            .expect("the flushed bytes arrive without another write")
            .unwrap();
        assert_eq!(&got, b"ping");
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_holds_writes_at_the_bound() {
        let (mut conn, _peer) = pair().await;
        let chunk = vec![1u8; 64 * 1024];
        // The socket's buffers take some megabytes; past them and MAX_PENDING, writes wait.
        let mut written = 0usize;
        let stalled = loop {
            match tokio::time::timeout(Duration::from_millis(500), conn.write(&chunk)).await {
                Ok(n) => {
                    written += n.unwrap();
                    conn.flush().await.unwrap();
                }
                Err(_) => break true,
            }
            if written > 512 << 20 {
                break false;
            }
        };
        assert!(stalled, "writes must wait once the peer stops reading");
    }

    #[tokio::test]
    async fn after_the_peer_is_gone_writes_fail() {
        let (mut conn, peer) = pair().await;
        drop(peer);
        let mut failed = None;
        for _ in 0..200 {
            let result = async {
                conn.write_all(&[0u8; 4096]).await?;
                conn.flush().await
            }
            .await;
            if let Err(error) = result {
                failed = Some(error);
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let error = failed.expect("a write to a closed peer fails within 200 tries");
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn dropping_the_connection_writes_what_is_pending_then_closes() {
        let (mut conn, mut peer) = pair().await;
        conn.write_all(b"last words").await.unwrap();
        drop(conn);
        let mut received = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), peer.read_to_end(&mut received))
            .await
            .expect("the socket closes after the last bytes")
            .unwrap();
        assert_eq!(received, b"last words");
    }
}
