//! [`EtcdStorage`]: get, create, update, delete and list over etcd's KV service, each one
//! request (a Txn where there is a precondition), as kube-apiserver's `etcd3/store.go` does.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use kubesim_net::Env;
use kubesim_net::network::{ChannelConfig, UnaryChannel, channel_to_any};
use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::request_op::Request as Op;
use kubesim_proto::etcdserverpb::response_op::Response as OpResponse;
use kubesim_proto::etcdserverpb::watch_client::WatchClient;
use kubesim_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use tonic::transport::Channel;

use crate::continue_token;
use crate::error::{INCONSISTENT_CONTINUE, StorageError};

/// The largest response accepted from etcd, as kube-apiserver's etcd client
/// (`MaxCallRecvMsgSize: math.MaxInt32`). gRPC's default of 4 MiB is less than a list page of
/// 1000 ordinary pods, or a watch response of 1000 events.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// How to list: kube-apiserver's `resourceVersion`, `limit` and `continue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Read at this revision; `None` or 0 reads the latest (a linearizable read).
    pub revision: Option<i64>,
    /// At most this many items; 0 means all.
    pub limit: i64,
    /// A continue token from an earlier page. Its revision wins over `revision` (the API
    /// server refuses both together with a 400 before calling).
    pub continue_key: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListResult {
    /// (key, value, mod_revision), in key order.
    pub items: Vec<(String, Vec<u8>, i64)>,
    /// The revision the page was read at: the list's resourceVersion.
    pub revision: i64,
    /// Whether keys remain after this page.
    pub more: bool,
    /// How many keys remain after this page (`remainingItemCount`).
    pub remaining: i64,
    /// The token for the next page, when `more`.
    pub continue_key: Option<String>,
}

/// The API server's handle on etcd (or the kubesim store). Cheap to clone: the clients share
/// one HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct EtcdStorage {
    /// Unary calls only, each request in one frame ([`UnaryChannel`]).
    pub(crate) kv: KvClient<UnaryChannel>,
    pub(crate) watch: WatchClient<Channel>,
    observer: ObserverSlot,
}

/// Told of each request to the store once it is answered: kube's operation name (`get`,
/// `list`, `create`, `update`, `delete`), the key or prefix, and how long it took (the API
/// server's `etcd_request_duration_seconds`).
pub type Observer = Arc<dyn Fn(&'static str, &str, Duration) + Send + Sync>;

#[derive(Clone, Default)]
struct ObserverSlot(Option<Observer>);

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(observer)"
        } else {
            "None"
        })
    }
}

impl EtcdStorage {
    /// A client of `endpoints` (`host:port` or `http://host:port`, kube-apiserver's
    /// `--etcd-servers`) over `env.net`, connecting lazily to one member at a time (a
    /// kubesim member forwards writes to the leader) and to the next when that connection
    /// breaks ([`channel_to_any`]). No TLS yet: `https://` is refused.
    pub fn new(env: &Env, endpoints: &[String]) -> Result<EtcdStorage, StorageError> {
        if endpoints.is_empty() {
            return Err(StorageError::InvalidArgument(
                "no etcd endpoint given".into(),
            ));
        }
        let mut addrs = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            if endpoint.starts_with("https://") {
                return Err(StorageError::InvalidArgument(format!(
                    "etcd endpoint {endpoint}: TLS to etcd is not supported yet"
                )));
            }
            addrs.push(
                endpoint
                    .strip_prefix("http://")
                    .unwrap_or(endpoint)
                    .to_string(),
            );
        }
        // Every member, as etcd's client: a connection that breaks reconnects to the next.
        // One connection carries every request of the API server: its writes are coalesced,
        // so the Txns of a burst of creates leave in one write (kubesim_net::coalesce).
        let config = ChannelConfig {
            coalesce_writes: true,
            ..ChannelConfig::default()
        };
        let chan = channel_to_any(env.net.clone(), &addrs, config).map_err(|e| {
            StorageError::InvalidArgument(format!("etcd endpoints {endpoints:?}: {e}"))
        })?;
        Ok(EtcdStorage::from_channel(chan))
    }

    /// A client over an existing channel (tests, or a caller with its own channel).
    pub fn from_channel(chan: Channel) -> EtcdStorage {
        EtcdStorage {
            kv: KvClient::new(UnaryChannel::new(chan.clone()))
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: WatchClient::new(chan).max_decoding_message_size(MAX_RESPONSE_BYTES),
            observer: ObserverSlot::default(),
        }
    }

    /// This client, telling `observer` of every request it makes (and its clones).
    pub fn with_observer(mut self, observer: Observer) -> EtcdStorage {
        self.observer = ObserverSlot(Some(observer));
        self
    }

    fn observe(&self, operation: &'static str, key: &str, started: Instant) {
        if let Some(observer) = &self.observer.0 {
            observer(operation, key, started.elapsed());
        }
    }

    /// The value and mod_revision of `key`, read linearizably; `None` when it is absent.
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, i64)>, StorageError> {
        let started = Instant::now();
        let resp = self.kv.clone().range(range(key)).await;
        self.observe("get", key, started);
        let resp = resp?.into_inner();
        Ok(resp
            .kvs
            .into_iter()
            .next()
            .map(|kv| (kv.value, kv.mod_revision)))
    }

    /// Creates `key`; [`StorageError::AlreadyExists`] if it exists. Returns the new
    /// revision (the object's resourceVersion).
    pub async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64, StorageError> {
        let txn = TxnRequest {
            compare: vec![compare(
                key,
                CompareTarget::Create,
                TargetUnion::CreateRevision(0),
            )],
            success: vec![op(Op::RequestPut(put(key, value)))],
            failure: vec![],
        };
        let resp = self.txn(txn, "create", key).await?;
        if !resp.succeeded {
            return Err(StorageError::AlreadyExists);
        }
        header_revision(&resp)
    }

    /// Replaces `key`'s value if its mod_revision is `expected_revision`; otherwise
    /// [`StorageError::NotFound`] if it is absent, or [`StorageError::Conflict`] with its
    /// current revision. Returns the new revision.
    pub async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
    ) -> Result<i64, StorageError> {
        positive(expected_revision)?;
        let txn = TxnRequest {
            compare: vec![mod_revision_is(key, expected_revision)],
            success: vec![op(Op::RequestPut(put(key, value)))],
            // kube-apiserver reads the current state in the failure branch: one round trip.
            failure: vec![op(Op::RequestRange(range(key)))],
        };
        let resp = self.txn(txn, "update", key).await?;
        if !resp.succeeded {
            return Err(precondition_failed(&resp));
        }
        header_revision(&resp)
    }

    /// Deletes `key`, if its mod_revision is `expected_revision` when given. Returns its
    /// last value and the revision of the deletion (the resourceVersion recent
    /// kube-apiserver gives the deleted object). NotFound and Conflict as for
    /// [`EtcdStorage::update`].
    pub async fn delete(
        &self,
        key: &str,
        expected_revision: Option<i64>,
    ) -> Result<(Vec<u8>, i64), StorageError> {
        let compare = match expected_revision {
            Some(rev) => vec![mod_revision_is(key, positive(rev)?)],
            None => vec![],
        };
        let delete = DeleteRangeRequest {
            key: key.as_bytes().to_vec(),
            prev_kv: true,
            ..Default::default()
        };
        let txn = TxnRequest {
            compare,
            success: vec![op(Op::RequestDeleteRange(delete))],
            failure: vec![op(Op::RequestRange(range(key)))],
        };
        let resp = self.txn(txn, "delete", key).await?;
        if !resp.succeeded {
            return Err(precondition_failed(&resp));
        }
        let revision = header_revision(&resp)?;
        match resp.responses.into_iter().next().and_then(|r| r.response) {
            Some(OpResponse::ResponseDeleteRange(d)) => match d.prev_kvs.into_iter().next() {
                Some(prev) => Ok((prev.value, revision)),
                None => Err(StorageError::NotFound),
            },
            other => Err(unexpected("DeleteRange", &other)),
        }
    }

    /// One page of the keys under `prefix` (a `/` is appended if missing, as kube-apiserver
    /// does, so `/registry/pods/a` does not list `/registry/pods/ab/..`). See [`ListOptions`].
    pub async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StorageError> {
        let prefix = if prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        let (start, revision) = match &opts.continue_key {
            Some(token) => {
                let (start, rv) = continue_token::decode(token, &prefix)?;
                // rv -1: the token of a compacted list, which continues at the latest.
                (start, rv.max(0))
            }
            None => (prefix.clone(), opts.revision.unwrap_or(0)),
        };
        if revision < 0 || opts.limit < 0 {
            return Err(StorageError::InvalidArgument(
                "revision and limit must not be negative".into(),
            ));
        }
        let req = RangeRequest {
            key: start.as_bytes().to_vec(),
            range_end: kubesim_proto::prefix_range_end(prefix.as_bytes()),
            limit: opts.limit,
            revision,
            ..Default::default()
        };
        let started = Instant::now();
        let resp = self.kv.clone().range(req).await;
        self.observe("list", &prefix, started);
        let resp = match resp {
            Ok(resp) => resp.into_inner(),
            Err(status) if StorageError::is_compacted(&status) && opts.continue_key.is_some() => {
                return Err(StorageError::Expired {
                    message: INCONSISTENT_CONTINUE.to_owned(),
                    continue_key: Some(continue_token::encode(&start, &prefix, -1)?),
                });
            }
            Err(status) => return Err(status.into()),
        };
        // A later page reads at the first page's revision: the header's when it read latest.
        let revision = if revision > 0 {
            revision
        } else {
            resp.header.as_ref().map(|h| h.revision).unwrap_or(0)
        };
        let items: Vec<(String, Vec<u8>, i64)> = resp
            .kvs
            .into_iter()
            .map(|kv| {
                let key = String::from_utf8_lossy(&kv.key).into_owned();
                (key, kv.value, kv.mod_revision)
            })
            .collect();
        let continue_key = match (resp.more, items.last()) {
            // The next page starts right after the last key returned.
            (true, Some((last, _, _))) => Some(continue_token::encode(
                &format!("{last}\0"),
                &prefix,
                revision,
            )?),
            _ => None,
        };
        Ok(ListResult {
            remaining: (resp.count - items.len() as i64).max(0),
            more: resp.more,
            revision,
            items,
            continue_key,
        })
    }

    async fn txn(
        &self,
        txn: TxnRequest,
        operation: &'static str,
        key: &str,
    ) -> Result<TxnResponse, StorageError> {
        let started = Instant::now();
        let resp = self.kv.clone().txn(txn).await;
        self.observe(operation, key, started);
        Ok(resp?.into_inner())
    }
}

fn positive(revision: i64) -> Result<i64, StorageError> {
    if revision <= 0 {
        return Err(StorageError::InvalidArgument(format!(
            "a precondition revision must be positive, not {revision}"
        )));
    }
    Ok(revision)
}

/// NotFound or Conflict, from the Range in a failed Txn's failure branch.
fn precondition_failed(resp: &TxnResponse) -> StorageError {
    match resp.responses.first().and_then(|r| r.response.as_ref()) {
        Some(OpResponse::ResponseRange(r)) => match r.kvs.first() {
            Some(kv) => StorageError::Conflict {
                current_revision: kv.mod_revision,
            },
            None => StorageError::NotFound,
        },
        other => unexpected("Range", &other.cloned()),
    }
}

fn unexpected(wanted: &str, got: &Option<OpResponse>) -> StorageError {
    StorageError::Internal(format!("txn answered {got:?} where {wanted} was expected"))
}

fn header_revision(resp: &TxnResponse) -> Result<i64, StorageError> {
    resp.header
        .as_ref()
        .map(|h| h.revision)
        .ok_or_else(|| StorageError::Internal("txn response without a header".into()))
}

fn range(key: &str) -> RangeRequest {
    RangeRequest {
        key: key.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn put(key: &str, value: Vec<u8>) -> PutRequest {
    PutRequest {
        key: key.as_bytes().to_vec(),
        value,
        ..Default::default()
    }
}

fn op(request: Op) -> RequestOp {
    RequestOp {
        request: Some(request),
    }
}

fn compare(key: &str, target: CompareTarget, value: TargetUnion) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: target as i32,
        key: key.as_bytes().to_vec(),
        range_end: vec![],
        target_union: Some(value),
    }
}

fn mod_revision_is(key: &str, revision: i64) -> Compare {
    compare(key, CompareTarget::Mod, TargetUnion::ModRevision(revision))
}
