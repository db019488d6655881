//! A listener's connections with a bound on how many are open at once, for the gRPC servers
//! this binary starts itself (`kubesim authz`): past the bound, the next accept waits until a
//! connection closes, and new clients queue in the kernel's backlog instead of exhausting file
//! descriptors.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kubesim_net::network::{Conn, Listener, incoming};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Pause after a failed accept (out of file descriptors, ...) so that tonic's accept loop does
/// not spin on an error that persists.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// `listener`'s connections, at most `max_connections` open at once.
pub fn bounded_incoming(
    listener: Box<dyn Listener>,
    max_connections: usize,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(max_connections));
    let accepted = Box::pin(incoming(listener));
    futures::stream::unfold((accepted, permits), |(mut accepted, permits)| async move {
        // The semaphore is never closed; if that changed, serving would stop here.
        let permit = permits.clone().acquire_owned().await.ok()?;
        let conn = match accepted.next().await? {
            Ok(conn) => Ok(Conn::new(PermittedConn {
                conn,
                _permit: permit,
            })),
            Err(e) => {
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                Err(e)
            }
        };
        Some((conn, (accepted, permits)))
    })
}

/// A connection that holds one of the listener's permits until it is dropped.
struct PermittedConn {
    conn: Conn,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for PermittedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.conn).poll_read(cx, buf)
    }
}

impl AsyncWrite for PermittedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.conn).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.conn).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.conn).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.conn).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.conn.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use futures::future::BoxFuture;
    use tokio::sync::mpsc;

    use super::*;

    /// A listener whose connections are handed in by the test.
    struct FakeListener(mpsc::Receiver<Conn>);

    impl Listener for FakeListener {
        fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
            Box::pin(async move {
                self.0
                    .recv()
                    .await
                    .ok_or_else(|| io::Error::other("listener closed"))
            })
        }

        fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
            Ok(([127, 0, 0, 1], 0).into())
        }
    }

    #[tokio::test]
    async fn a_connection_past_the_bound_waits_for_one_to_close() {
        let (tx, rx) = mpsc::channel(4);
        let mut conns = Box::pin(bounded_incoming(Box::new(FakeListener(rx)), 1));
        for _ in 0..2 {
            let (a, _b) = tokio::io::duplex(64);
            tx.send(Conn::new(a)).await.unwrap();
        }
        let first = conns.next().await.unwrap().unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(50), conns.next()).await;
        assert!(waiting.is_err(), "the second connection must wait");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), conns.next()).await;
        assert!(matches!(second, Ok(Some(Ok(_)))));
    }
}
