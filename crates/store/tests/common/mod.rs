//! What the store's integration tests share.

/// A free port on loopback, below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`, 32768-60999 by default). A test picks its members' ports
/// before it starts them (peers must know each other's addresses), and members restart on
/// the ports they had; in between, an ephemeral port may be given to any test's outgoing
/// connection or port-0 listener, and the start fails with "Address already in use" (the
/// metrics test did so in `.ci/run` on 2026-12-02). Ports below the range are never handed
/// out by the kernel, only by this function, which hands each out once per process and
/// checks that nobody else holds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20000;
    const SPAN: u16 = 12000;
    // Start where the process id points, so two test processes rarely probe the same ports.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = FIRST + (start + offset) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN)
}
