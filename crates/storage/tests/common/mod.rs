//! The fixture every test file shares: an in-process single-member kubesim store on
//! loopback, and a storage client of it through the same `Env.net` seam and etcd v3 API the
//! API server uses.

use std::time::Duration;

use kubesim_net::Env;
use kubesim_net::network::{ChannelConfig, channel};
use kubesim_proto::etcdserverpb::CompactionRequest;
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_storage::EtcdStorage;
use kubesim_store::{InitialMember, StoreConfig, StoreNode};
use tempfile::TempDir;
use tonic::transport::Channel;

/// A started store, its data dir, and a storage client of it.
pub struct Fixture {
    node: StoreNode,
    _dir: TempDir,
    env: Env,
    pub storage: EtcdStorage,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Env::production(dir.path());
        let peer = "http://127.0.0.1:12380".to_string();
        let initial = vec![InitialMember {
            name: "s1".into(),
            peer_url: peer.clone(),
        }];
        let mut config =
            StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "storage-test");
        // Listen on any free port; advertise the fixed peer URL the member ID is computed from.
        config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
        config.advertise_client_urls = vec![];
        let node = StoreNode::start(env.clone(), config).await.expect("start");
        let endpoint = format!("http://{}", node.client_addr());
        let storage = EtcdStorage::new(&env, &[endpoint]).expect("storage");
        let fixture = Fixture {
            node,
            _dir: dir,
            env,
            storage,
        };
        fixture.wait_ready().await;
        fixture
    }

    /// Until the member has elected itself and answers a linearizable read (bounded).
    async fn wait_ready(&self) {
        for _ in 0..100 {
            if self.storage.get("/ready").await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the store did not become ready in 10s");
    }

    /// The store's client address, `host:port`.
    pub fn client_addr(&self) -> String {
        self.node.client_addr().to_string()
    }

    /// A raw etcd KV client of the store, for what is not a storage call.
    pub fn kv(&self) -> KvClient<Channel> {
        let chan = channel(
            self.env.net.clone(),
            &self.client_addr(),
            ChannelConfig::default(),
        )
        .expect("chan");
        KvClient::new(chan)
    }

    /// Compacts history up to `revision` (not a storage call: the API server's compactor
    /// will do it).
    pub async fn compact(&self, revision: i64) {
        self.kv()
            .compact(CompactionRequest {
                revision,
                physical: false,
            })
            .await
            .expect("compact");
    }

    pub async fn stop(self) {
        self.node.shutdown().await;
    }
}
