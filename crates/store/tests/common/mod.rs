//! What the store's integration tests share.

/// A free port on loopback, below the kernel's ephemeral range
/// ([`kubesim_net::ports::free_local_port`]): a test picks its members' ports before it
/// starts them, and members restart on the ports they had.
pub fn free_port() -> u16 {
    kubesim_net::ports::free_local_port().expect("a free port")
}
