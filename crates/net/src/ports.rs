//! Loopback ports for servers that must be told their address before they start: test
//! clusters whose members need each other's addresses, members restarted on the ports they
//! had, an `openssl s_server` a test points a client at.
//!
//! Binding port 0 and closing the listener is not enough: between the close and the
//! server's own bind, the kernel may hand the same port to any outgoing connection or
//! port-0 listener on the machine (it is in the ephemeral range,
//! `net.ipv4.ip_local_port_range`, 32768-60999 by default), and the start fails with
//! "Address already in use" (the store's metrics test did so in `.ci/run` on 2026-12-02).
//! Ports below that range are never handed out by the kernel; [`free_local_port`] hands
//! each out once per process, starting where the process id points (so two test processes
//! rarely probe the same ports), and checks that nobody holds it.

use std::sync::atomic::{AtomicU16, Ordering};

/// The first port handed out, and how many there are (20000-31999).
const FIRST: u16 = 20000;
const SPAN: u16 = 12000;

/// A port on 127.0.0.1 that nobody held a moment ago and that this process has not handed
/// out before; an error when every port of the span is taken.
pub fn free_local_port() -> std::io::Result<u16> {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = FIRST + (start + offset) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free port in 127.0.0.1:{FIRST}..{}", FIRST + SPAN),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_distinct_and_bindable() {
        let ports: Vec<u16> = (0..50).map(|_| free_local_port().unwrap()).collect();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!((FIRST..FIRST + SPAN).contains(&port), "{port}");
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }
}
