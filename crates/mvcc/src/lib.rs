//! etcd's MVCC key-value model as pure code: no I/O, no clock, no async.
//!
//! The store's Raft state machine owns one [`Mvcc`] and feeds it committed [`Command`]s in log
//! order; every member applies the same commands and so holds the same state at the same
//! revision (RELIABILITY.md property 7). Reads ([`Mvcc::range`], [`Mvcc::read_txn`],
//! [`Mvcc::events_since`]) are served from the same structure.
//!
//! Map of the crate:
//! - [`command`]: what goes through the Raft log ([`Command`]) and what applying it returns.
//! - [`store`]: [`Mvcc`]: revision history, apply of each command, compaction, watch events,
//!   the HashKV hash.
//! - `index`: the key index (each key's revisions) and etcd's key-range encoding.
//! - `range`: Range at a revision (count, filters, sort, limit).
//! - `txn`: Txn (compares, branches, nested txns, all at one revision).
//! - [`check`]: the request checks etcd makes before proposing ([`check_txn`], ...); the
//!   service calls them on arrival and `apply` again defensively.
//! - [`lease`]: the lease table (IDs, granted TTLs, attached keys). Expiry *time* is not here:
//!   the leader decides a lease has expired and proposes [`Command::LeaseRevoke`].
//! - `hash`: CRC-32C for HashKV.
//! - [`error`]: [`MvccError`], mapped to etcd's gRPC errors at the service edge.
//!
//! Names follow etcd: revision, create_revision, mod_revision, version, compact revision.
//! Response headers are left `None`; the service fills them.

pub mod check;
pub mod command;
pub mod error;
mod hash;
mod index;
pub mod lease;
mod range;
pub mod store;
mod txn;

#[cfg(test)]
mod tests;

pub use check::{check_delete_range, check_put, check_range, check_txn};
pub use command::{Applied, Command, CommandResponse};
pub use error::MvccError;
pub use lease::Lease;
pub use store::Mvcc;
pub use txn::is_read_only_txn;
