//! The measured requests: one [`Workload`] per operation, each a few HTTP calls a client-go
//! program would make, plus the raw store puts `create` is compared with and the unmeasured
//! set-up (the namespace, the prepared pods).
//!
//! Client `c` always uses connection `c % conns`, so with `--conns 1` every request shares
//! one HTTP/2 connection as in client-go.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use kubesim_net::network::UnaryChannel;
use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::request_op::Request as Op;
use kubesim_proto::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use serde_json::{Value, json};

use super::client::ApiClient;
use super::driver::{self, Workload};
use super::plan::Plan;
use super::pod::{self, PodTemplate};
use crate::bench::report::Outcome;

/// The label an update changes, so every PUT is a real change (a new resourceVersion).
pub const UPDATE_LABEL: &str = "kubesim.io/bench-update";
/// Clients that create the prepared pods, whatever `--clients` is: set-up is not measured.
const PREPARE_CLIENTS: usize = 16;
/// A pause after creating prepared pods: right after thousands of writes the first lists
/// were several times slower (the store and the watch cache still busy with them).
const PREPARE_SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// POST of pods with fresh names.
pub struct Create {
    pub api: ApiClient,
    pub template: PodTemplate,
    pub namespace: String,
    /// Makes the names of this run unique.
    pub run: String,
    /// `?dryRun=All`: the server does everything but write.
    pub dry_run: bool,
}

impl Workload for Create {
    async fn send(&self, client: usize, _round: u64, index: u64) -> Result<(), String> {
        let name = pod::created_name(&self.run, index);
        let body = Bytes::from(self.template.body(&name));
        let mut path = pod::pods_path(&self.namespace);
        if self.dry_run {
            path.push_str("?dryRun=All");
        }
        self.api
            .send(client, Method::POST, &path, Some(body))
            .await?
            .expect(&[201])
            .map(drop)
    }
}

/// The same bodies as [`Create`], put straight into the store under [`pod::RAW_PREFIX`];
/// or, with `stored`, the bytes the API server stored for a created pod (defaults and
/// managedFields make them about three times the request body), as a plain put or, with
/// `create_txn`, as the API server writes them: a Txn that puts only if the key is new.
pub struct RawPuts {
    pub channels: Vec<UnaryChannel>,
    pub template: PodTemplate,
    pub namespace: String,
    pub run: String,
    pub stored: Option<Arc<Vec<u8>>>,
    pub create_txn: bool,
}

impl Workload for RawPuts {
    async fn send(&self, client: usize, _round: u64, index: u64) -> Result<(), String> {
        let name = pod::created_name(&self.run, index);
        let key = pod::raw_key(&self.namespace, &name);
        let value = match &self.stored {
            Some(bytes) => bytes.as_ref().clone(),
            None => self.template.body(&name),
        };
        let mut kv = KvClient::new(self.channels[client % self.channels.len()].clone());
        let put = PutRequest {
            key: key.clone(),
            value,
            ..PutRequest::default()
        };
        let done = if self.create_txn {
            kv.txn(create_txn(key, put)).await.map(drop)
        } else {
            kv.put(put).await.map(drop)
        };
        done.map_err(|status| format!("{:?}: {}", status.code(), status.message()))
    }
}

/// The Txn of a create: put if the key's create_revision is 0 (kube's `etcd3` store).
fn create_txn(key: Vec<u8>, put: PutRequest) -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Create as i32,
            key,
            range_end: Vec::new(),
            target_union: Some(TargetUnion::CreateRevision(0)),
        }],
        success: vec![RequestOp {
            request: Some(Op::RequestPut(put)),
        }],
        failure: Vec::new(),
    }
}

/// The value the API server stored for `name` (a pod created through it), read straight
/// from the store under kube-apiserver's default `/registry` prefix.
pub async fn stored_value(
    channel: &UnaryChannel,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Vec<u8>> {
    let key = format!("/registry/pods/{namespace}/{name}");
    let mut kv = KvClient::new(channel.clone());
    let answer = kv
        .range(RangeRequest {
            key: key.clone().into_bytes(),
            ..RangeRequest::default()
        })
        .await
        .map_err(|status| anyhow::anyhow!("reading {key}: {}", status.message()))?
        .into_inner();
    answer
        .kvs
        .into_iter()
        .next()
        .map(|kv| kv.value)
        .ok_or_else(|| anyhow::anyhow!("{key} is not in the store (is --etcd-prefix /registry?)"))
}

/// GET of the prepared pods, round robin.
pub struct Get {
    pub api: ApiClient,
    pub namespace: String,
    pub pods: u64,
}

impl Workload for Get {
    async fn send(&self, client: usize, _round: u64, index: u64) -> Result<(), String> {
        let name = pod::prepared_name(index % self.pods);
        self.api
            .send(
                client,
                Method::GET,
                &pod::pod_path(&self.namespace, &name),
                None,
            )
            .await?
            .expect(&[200])
            .map(drop)
    }
}

/// One unmeasured GET of each of the `pods` prepared pods, on [`PREPARE_CLIENTS`] clients;
/// fails if any read did (a user not allowed to read them is told here, once).
pub async fn warm_up(gets: Arc<Get>, pods: u64) -> anyhow::Result<()> {
    let namespace = gets.namespace.clone();
    let outcome = driver::drive(gets, PREPARE_CLIENTS, pods).await?;
    if outcome.error_count() > 0 {
        anyhow::bail!(
            "reading the {pods} prepared pods in namespace {namespace} once before measuring: {}",
            describe_errors(&outcome)
        );
    }
    Ok(())
}

/// GET, change a label, PUT with the resourceVersion read: kubectl's `replace`, client-go's
/// `Update`. Client `c` owns the pods `c, c + clients, c + 2 clients, ...`, so its updates never
/// race another client's.
pub struct Update {
    pub api: ApiClient,
    pub namespace: String,
    pub clients: usize,
    /// Pods each client cycles over (at least 1).
    pub pods_per_client: u64,
}

impl Workload for Update {
    async fn send(&self, client: usize, round: u64, index: u64) -> Result<(), String> {
        let pod_index = client as u64 + self.clients as u64 * (round % self.pods_per_client);
        let path = pod::pod_path(&self.namespace, &pod::prepared_name(pod_index));
        let reply = self
            .api
            .send(client, Method::GET, &path, None)
            .await?
            .expect(&[200])?;
        let mut object: Value =
            serde_json::from_slice(&reply.body).map_err(|e| format!("GET body: {e}"))?;
        set_label(&mut object, UPDATE_LABEL, &index.to_string())?;
        let body = serde_json::to_vec(&object).map_err(|e| format!("PUT body: {e}"))?;
        self.api
            .send(client, Method::PUT, &path, Some(Bytes::from(body)))
            .await?
            .expect(&[200])
            .map(drop)
    }
}

/// Sets `metadata.labels[key]`, creating the map if the object has none.
pub fn set_label(object: &mut Value, key: &str, value: &str) -> Result<(), String> {
    let metadata = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or("the object has no metadata")?;
    let labels = metadata.entry("labels").or_insert_with(|| json!({}));
    if labels.is_null() {
        *labels = json!({});
    }
    labels
        .as_object_mut()
        .ok_or("metadata.labels is not a map")?
        .insert(key.to_string(), Value::String(value.to_string()));
    Ok(())
}

/// A full list of the namespace's pods at `path` (with or without `resourceVersion=0`).
pub struct List {
    pub api: ApiClient,
    pub path: String,
}

impl Workload for List {
    async fn send(&self, client: usize, _round: u64, _index: u64) -> Result<(), String> {
        self.api
            .send(client, Method::GET, &self.path, None)
            .await?
            .expect(&[200])
            .map(drop)
    }
}

/// The pods get, update and list work on: `bench-pod-000000 ...`; those already there (from
/// an earlier run) are kept, so only a first run pays for them.
struct Prepare {
    api: ApiClient,
    template: PodTemplate,
    namespace: String,
    /// The numbers of the pods still missing; request `i` creates `missing[i]`.
    missing: Vec<u64>,
}

impl Workload for Prepare {
    async fn send(&self, client: usize, _round: u64, index: u64) -> Result<(), String> {
        let number = usize::try_from(index)
            .ok()
            .and_then(|i| self.missing.get(i))
            .ok_or("no such prepared pod")?;
        let name = pod::prepared_name(*number);
        let body = Bytes::from(self.template.body(&name));
        self.api
            .send(
                client,
                Method::POST,
                &pod::pods_path(&self.namespace),
                Some(body),
            )
            .await?
            // 409: made meanwhile (the cache the names came from may lag the store).
            .expect(&[201, 409])
            .map(drop)
    }
}

/// Makes sure pods `0..pods` exist (creating only those a list does not show); fails if any
/// could not be made. After creating some it waits [`PREPARE_SETTLE`], so what the writes
/// leave behind is not measured as the first requests' latency.
pub async fn prepare_pods(api: &ApiClient, plan: &Plan, pods: u64) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let existing = pod_names(api, &plan.namespace).await?;
    let missing: Vec<u64> = (0..pods)
        .filter(|&i| !existing.contains(&pod::prepared_name(i)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let count = missing.len() as u64;
    let workload = Arc::new(Prepare {
        api: api.clone(),
        template: PodTemplate::new(&plan.namespace, "prepared"),
        namespace: plan.namespace.clone(),
        missing,
    });
    let outcome = driver::drive(workload, PREPARE_CLIENTS, count).await?;
    if outcome.error_count() > 0 {
        anyhow::bail!(
            "preparing {pods} pods in namespace {}: {}",
            plan.namespace,
            describe_errors(&outcome)
        );
    }
    tracing::info!(
        "bench api: created {count} of {pods} pods in namespace {} ({:.1} s)",
        plan.namespace,
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(PREPARE_SETTLE).await;
    Ok(())
}

/// The names of the namespace's pods, from the watch cache.
async fn pod_names(api: &ApiClient, namespace: &str) -> anyhow::Result<HashSet<String>> {
    let path = format!("{}?resourceVersion=0", pod::pods_path(namespace));
    let reply = api
        .send(0, Method::GET, &path, None)
        .await
        .and_then(|reply| reply.expect(&[200]))
        .map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
    list_names(&reply.body).ok_or_else(|| anyhow::anyhow!("GET {path}: not a pod list"))
}

/// The `metadata.name` of each item of a `<Kind>List` body.
pub fn list_names(body: &[u8]) -> Option<HashSet<String>> {
    #[derive(serde::Deserialize)]
    struct List {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        metadata: Metadata,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(default)]
        name: String,
    }
    let list: List = serde_json::from_slice(body).ok()?;
    Some(
        list.items
            .into_iter()
            .map(|item| item.metadata.name)
            .collect(),
    )
}

/// Creates the namespace unless it exists.
pub async fn ensure_namespace(api: &ApiClient, namespace: &str) -> anyhow::Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    api.send(
        0,
        Method::POST,
        "/api/v1/namespaces",
        Some(Bytes::from(body.to_string())),
    )
    .await
    .and_then(|reply| reply.expect(&[201, 409]))
    .map(drop)
    .map_err(|e| anyhow::anyhow!("creating namespace {namespace}: {e}"))
}

/// Opens `plan.conns` gRPC connections to the store, spread over the endpoints, each checked
/// with one cheap read. Unary channels, as the API server's store client uses: each put in
/// one HTTP/2 frame, so the raw puts cost the store what a create's Txn does.
pub async fn store_channels(plan: &Plan) -> anyhow::Result<Vec<UnaryChannel>> {
    let net: Arc<dyn kubesim_net::Network> = Arc::new(kubesim_net::network::TokioNetwork);
    let config = kubesim_net::network::ChannelConfig {
        connect_timeout: plan.dial_timeout,
        request_timeout: plan.request_timeout,
        ..Default::default()
    };
    let mut channels = Vec::with_capacity(plan.conns);
    for i in 0..plan.conns {
        let endpoint = &plan.endpoints[i % plan.endpoints.len()];
        let channel = kubesim_net::network::channel(net.clone(), endpoint, config)
            .map(UnaryChannel::new)
            .map_err(|e| anyhow::anyhow!("endpoint {endpoint}: {e}"))?;
        let probe = RangeRequest {
            key: pod::RAW_PREFIX.as_bytes().to_vec(),
            serializable: true,
            count_only: true,
            ..RangeRequest::default()
        };
        KvClient::new(channel.clone())
            .range(probe)
            .await
            .map_err(|s| anyhow::anyhow!("endpoint {endpoint}: {:?}: {}", s.code(), s.message()))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// `409 AlreadyExists x3, timeout x1`.
pub fn describe_errors(outcome: &Outcome) -> String {
    let parts: Vec<String> = outcome
        .errors
        .iter()
        .map(|(error, count)| format!("{error} x{count}"))
        .collect();
    parts.join(", ")
}

/// How many `items` a `<Kind>List` body holds, if it is one.
pub fn list_items(body: &[u8]) -> Option<usize> {
    #[derive(serde::Deserialize)]
    struct List {
        items: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<List>(body)
        .ok()
        .map(|list| list.items.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_label_adds_or_replaces_one_label() {
        let mut pod = json!({"metadata": {"name": "p", "labels": {"app": "web"}}});
        set_label(&mut pod, UPDATE_LABEL, "7").unwrap();
        assert_eq!(
            pod,
            json!({"metadata": {"name": "p", "labels": {"app": "web", UPDATE_LABEL: "7"}}})
        );
        set_label(&mut pod, UPDATE_LABEL, "8").unwrap();
        assert_eq!(pod["metadata"]["labels"][UPDATE_LABEL], "8");
        let mut bare = json!({"metadata": {"labels": null}});
        set_label(&mut bare, "a", "b").unwrap();
        assert_eq!(bare, json!({"metadata": {"labels": {"a": "b"}}}));
    }

    #[test]
    fn set_label_refuses_odd_objects_without_panicking() {
        for mut odd in [
            json!([]),
            json!({"metadata": 3}),
            json!({"metadata": {"labels": "x"}}),
        ] {
            assert!(set_label(&mut odd, "a", "b").is_err(), "{odd}");
        }
    }

    #[test]
    fn list_items_counts_without_keeping_them() {
        let body =
            br#"{"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[{"a":1},{},{}]}"#;
        assert_eq!(list_items(body), Some(3));
        assert_eq!(list_items(br#"{"kind":"Status"}"#), None);
        assert_eq!(list_items(b"not json"), None);
    }

    #[test]
    fn list_names_reads_every_item_name() {
        let body = br#"{"kind":"PodList","items":[{"metadata":{"name":"a","uid":"1"}},{"metadata":{"name":"b"}}]}"#;
        let names = list_names(body).unwrap();
        assert_eq!(names, HashSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(list_names(br#"{"items":[{}]}"#), None);
        assert_eq!(list_names(br#"{"kind":"Status"}"#), None);
    }

    #[test]
    fn errors_are_described_in_order() {
        let mut outcome = Outcome::default();
        outcome.errors.insert("timeout".into(), 1);
        outcome.errors.insert("409 AlreadyExists".into(), 3);
        assert_eq!(
            describe_errors(&outcome),
            "409 AlreadyExists x3, timeout x1"
        );
    }
}
