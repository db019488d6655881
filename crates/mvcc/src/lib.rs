//! etcd's MVCC key-value model as pure code: no I/O, no clock, no async.
//!
//! The store's Raft state machine owns one [`Mvcc`] and feeds it committed [`Command`]s in log
//! order; every member applies the same commands and so holds the same state at the same
//! revision (RELIABILITY.md property 7). Reads ([`Mvcc::range`], [`Mvcc::events_since`]) are
//! served from the same structure.
//!
//! Map of the crate:
//! - [`command`]: what goes through the Raft log ([`Command`]) and what applying it returns.
//! - [`store`]: [`Mvcc`], the key index and revision history (etcd's `mvcc` package), apply,
//!   range at a revision, compaction, the HashKV hash.
//! - [`lease`]: the lease table (IDs, granted TTLs, attached keys). Expiry *time* is not here:
//!   the leader decides a lease has expired and proposes [`Command::LeaseRevoke`].
//! - [`error`]: [`MvccError`], mapped to etcd's gRPC errors at the service edge.
//!
//! Names follow etcd: revision, create_revision, mod_revision, version, compact revision.

pub mod command;
pub mod error;
pub mod lease;
pub mod store;

pub use command::{Applied, Command, CommandResponse};
pub use error::MvccError;
pub use store::Mvcc;
