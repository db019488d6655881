//! The KV benchmark's engine: open the connections, run `clients` request loops that share
//! one request counter, and record the latency of every answer.
//!
//! Layout as in etcd's benchmark: connection `i` dials endpoint `i % endpoints`, and client `j`
//! sends over connection `j % conns`. A gRPC connection multiplexes its clients' requests as
//! HTTP/2 streams, so `--clients` is the number of requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kubesim_net::network::{ChannelConfig, TokioNetwork};
use kubesim_net::{Entropy, SeededEntropy};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::{PutRequest, RangeRequest};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::report::Outcome;

/// A checked benchmark: everything the run needs, nothing left to parse.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `host:port` of each member to dial.
    pub endpoints: Vec<String>,
    /// gRPC connections to open.
    pub conns: usize,
    /// Request loops, i.e. requests in flight at once.
    pub clients: usize,
    /// Requests to send in all.
    pub total: u64,
    /// Dial timeout and the per-request timeout.
    pub channel: ChannelConfig,
    pub workload: Workload,
}

#[derive(Debug, Clone)]
pub enum Workload {
    Put(PutWorkload),
    Range(RangeWorkload),
}

#[derive(Debug, Clone)]
pub struct PutWorkload {
    /// Keys are decimal numbers zero-padded to this many bytes (readable with etcdctl).
    pub key_size: usize,
    /// The one value every put writes, drawn once, as etcd's benchmark does.
    pub value: Vec<u8>,
    /// Keys are numbers below this.
    pub key_space_size: u64,
    /// Request i writes key i modulo the key space, instead of a random key.
    pub sequential_keys: bool,
}

#[derive(Debug, Clone)]
pub struct RangeWorkload {
    pub key: Vec<u8>,
    /// Empty for a single key.
    pub range_end: Vec<u8>,
    /// `--consistency=s`.
    pub serializable: bool,
}

impl PutWorkload {
    /// The key of request `index`.
    pub fn key(&self, index: u64, entropy: &dyn Entropy) -> Vec<u8> {
        let number = if self.sequential_keys {
            index % self.key_space_size
        } else {
            entropy.next_u64() % self.key_space_size
        };
        format!("{number:0width$}", width = self.key_size).into_bytes()
    }
}

impl Workload {
    /// A short description for the report, e.g. `val-size=256 key-space-size=1`.
    pub fn detail(&self) -> String {
        match self {
            Workload::Put(put) => format!(
                "key-size={} val-size={} key-space-size={}{}",
                put.key_size,
                put.value.len(),
                put.key_space_size,
                if put.sequential_keys {
                    " sequential-keys"
                } else {
                    ""
                }
            ),
            Workload::Range(range) => format!(
                "key={} consistency={}",
                String::from_utf8_lossy(&range.key),
                if range.serializable { "s" } else { "l" }
            ),
        }
    }

    pub fn op(&self) -> &'static str {
        match self {
            Workload::Put(_) => "put",
            Workload::Range(_) => "range",
        }
    }

    /// Sends request `index` and waits for its answer.
    async fn send(
        &self,
        client: &mut KvClient<Channel>,
        index: u64,
        entropy: &dyn Entropy,
    ) -> Result<(), tonic::Status> {
        match self {
            Workload::Put(put) => {
                let request = PutRequest {
                    key: put.key(index, entropy),
                    value: put.value.clone(),
                    ..PutRequest::default()
                };
                client.put(request).await.map(drop)
            }
            Workload::Range(range) => {
                let request = RangeRequest {
                    key: range.key.clone(),
                    range_end: range.range_end.clone(),
                    serializable: range.serializable,
                    ..RangeRequest::default()
                };
                client.range(request).await.map(drop)
            }
        }
    }
}

/// `size` lowercase letters: random, but printable when someone looks with etcdctl.
pub fn random_value(size: usize, entropy: &dyn Entropy) -> Vec<u8> {
    (0..size)
        .map(|_| b'a' + (entropy.next_u64() % 26) as u8)
        .collect()
}

/// Runs the plan to the end. Fails only if an endpoint cannot be reached at all; failed
/// requests during the run are counted in the outcome.
pub async fn run(plan: &Plan, entropy: &dyn Entropy) -> anyhow::Result<Outcome> {
    let channels = connect(plan).await?;
    let next_index = Arc::new(AtomicU64::new(0));
    let workload = Arc::new(plan.workload.clone());
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for i in 0..plan.clients {
        let client = KvClient::new(channels[i % channels.len()].clone());
        let loop_state = ClientLoop {
            workload: workload.clone(),
            next_index: next_index.clone(),
            total: plan.total,
            entropy: SeededEntropy::from_seed(entropy.next_u64()),
        };
        clients.spawn(loop_state.run(client));
    }
    let mut outcome = Outcome::default();
    while let Some(joined) = clients.join_next().await {
        outcome.merge(joined.map_err(|e| anyhow::anyhow!("a benchmark client failed: {e}"))?);
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Opens every connection and sends one cheap read on each, so connection set-up is not
/// measured and a wrong endpoint is reported at once rather than as `total` failures.
async fn connect(plan: &Plan) -> anyhow::Result<Vec<Channel>> {
    let net: Arc<dyn kubesim_net::Network> = Arc::new(TokioNetwork);
    let mut channels = Vec::with_capacity(plan.conns);
    for i in 0..plan.conns {
        let endpoint = &plan.endpoints[i % plan.endpoints.len()];
        let channel = kubesim_net::network::channel(net.clone(), endpoint, plan.channel)
            .map_err(|e| anyhow::anyhow!("endpoint {endpoint}: {e}"))?;
        let probe = RangeRequest {
            key: b"kubesim-bench-probe".to_vec(),
            serializable: true,
            count_only: true,
            ..RangeRequest::default()
        };
        KvClient::new(channel.clone())
            .range(probe)
            .await
            .map_err(|status| {
                anyhow::anyhow!(
                    "endpoint {endpoint} does not answer: {:?}: {}",
                    status.code(),
                    status.message()
                )
            })?;
        channels.push(channel);
    }
    Ok(channels)
}

/// One client: takes the next request number until `total` is reached.
struct ClientLoop {
    /// Shared by all clients; read-only.
    workload: Arc<Workload>,
    /// The next request number, shared so that exactly `total` requests are sent however
    /// fast each client is.
    next_index: Arc<AtomicU64>,
    total: u64,
    /// This client's own random keys, so clients do not contend on one lock.
    entropy: SeededEntropy,
}

impl ClientLoop {
    async fn run(self, mut client: KvClient<Channel>) -> Outcome {
        let mut outcome = Outcome::default();
        loop {
            let index = self.next_index.fetch_add(1, Ordering::Relaxed);
            if index >= self.total {
                return outcome;
            }
            let started = Instant::now();
            match self.workload.send(&mut client, index, &self.entropy).await {
                Ok(()) => outcome.latencies.push(started.elapsed()),
                Err(status) => {
                    let error = format!("{:?}: {}", status.code(), status.message());
                    *outcome.errors.entry(error).or_default() += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(sequential_keys: bool, key_space_size: u64) -> PutWorkload {
        PutWorkload {
            key_size: 8,
            value: b"v".to_vec(),
            key_space_size,
            sequential_keys,
        }
    }

    #[test]
    fn sequential_keys_wrap_around_the_key_space() {
        let entropy = SeededEntropy::from_seed(1);
        let workload = put(true, 100);
        assert_eq!(workload.key(0, &entropy), b"00000000");
        assert_eq!(workload.key(42, &entropy), b"00000042");
        assert_eq!(workload.key(142, &entropy), b"00000042");
    }

    #[test]
    fn random_keys_stay_in_the_key_space() {
        let entropy = SeededEntropy::from_seed(1);
        let workload = put(false, 10);
        let keys: std::collections::BTreeSet<Vec<u8>> =
            (0..200).map(|i| workload.key(i, &entropy)).collect();
        assert_eq!(keys.len(), 10, "200 draws over 10 keys hit them all");
        assert!(
            keys.iter()
                .all(|k| k.len() == 8 && k.starts_with(b"0000000"))
        );
        assert_eq!(put(false, 1).key(7, &entropy), b"00000000");
    }

    #[test]
    fn value_has_the_asked_size_and_is_printable() {
        let value = random_value(256, &SeededEntropy::from_seed(3));
        assert_eq!(value.len(), 256);
        assert!(value.iter().all(u8::is_ascii_lowercase));
    }
}
