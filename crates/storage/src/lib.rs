//! The API server's etcd v3 client, with Kubernetes' storage semantics: the Rust counterpart
//! of kube-apiserver's `storage.Interface` (`k8s.io/apiserver/pkg/storage/etcd3`). It speaks
//! only etcd's public v3 gRPC API, so it works against the kubesim store and a real etcd.
//!
//! Values are raw bytes (the caller serializes objects); keys are full keys
//! (`/registry/pods/<ns>/<name>`); revisions are etcd mod_revisions, which are Kubernetes'
//! resourceVersions.
//!
//! Map of the crate:
//! - [`storage`]: [`EtcdStorage`] (connect through `Env.net`, get, create, update, delete,
//!   list with paging) and [`ListOptions`], [`ListResult`].
//! - [`watch`]: [`EtcdStorage::watch`], a running [`EtcdWatch`] of [`WatchItem`]s: a
//!   [`WatchEvent`] (Added, Modified, Deleted) or etcd's progress, which can be asked for.
//! - [`cacher`]: the watch cache ([`Cacher`]), kube-apiserver's `Cacher`: one resource's
//!   objects and recent history in memory, lists and watches served from it.
//! - [`continue_token`]: kube-apiserver's list continue token, byte for byte.
//! - [`error`]: [`StorageError`], each variant with its HTTP status, and the mapping from
//!   etcd's gRPC errors.
//!
//! Tests: `tests/storage.rs` runs every call against an in-process kubesim store, and
//! `tests/cacher.rs` the watch cache.

pub mod cacher;
pub mod continue_token;
pub mod error;
pub mod storage;
pub mod watch;

pub use cacher::{
    CacheError, CacheEvent, CacheEventType, CacheWatcher, CachedObject, Cacher, CacherConfig,
    WatchOptions,
};
pub use error::StorageError;
pub use storage::{EtcdStorage, ListOptions, ListResult};
pub use watch::{EtcdWatch, WatchEvent, WatchEventKind, WatchItem};
