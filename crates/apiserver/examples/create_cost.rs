//! The API server's CPU per pod create, counted in instructions (callgrind) rather than
//! time, so it is repeatable on a busy machine.
//!
//! `create_cost <creates> [--dry-run]` starts a single-member kubesim store in a child
//! process (this same binary with `store <dir>`, so callgrind, which does not follow
//! children by default, counts only the API server), builds the API server's handler chain
//! in-process over it (`kubesim_apiserver::server::build_chain`: every stage, admission, the
//! watch caches; no TLS or sockets), then sends `<creates>` POSTs of the pod `kubesim bench
//! api` sends, as the admin's client certificate (x509, `system:masters`) would, and waits
//! until the pods' watch cache has every one of them.
//!
//! Instructions per create: run it twice under callgrind with different counts and divide
//! the difference of the totals by the difference of the counts, e.g.
//!
//! ```text
//! cargo build --release -p kubesim-apiserver --example create_cost
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.200 target/release/examples/create_cost 200
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.1200 target/release/examples/create_cost 1200
//! ```

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use kubesim_apiserver::ApiServerConfig;
use kubesim_apiserver::chain::{Chain, PeerCertificates};
use kubesim_net::Env;
use kubesim_store::{InitialMember, StoreConfig, StoreNode};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::CertificateDer;
use serde_json::json;

const NAMESPACE: &str = "bench";
/// How long the set-up may take (the store electing itself, the caches listing), under
/// callgrind's slowdown included.
const SETUP_POLLS: usize = 600;
const POLL: Duration = Duration::from_millis(200);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, dir] = args.as_slice()
        && role == "store"
    {
        run_store(dir);
        return;
    }
    let creates: u64 = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .expect("usage: create_cost <creates> [--dry-run]");
    let dry_run = args.iter().any(|a| a == "--dry-run");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(measure(creates, dry_run));
}

/// The child: a store on a free port; prints its client address, runs until stdin closes
/// (the parent exited).
fn run_store(dir: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let node = runtime.block_on(async {
        let peer = "http://127.0.0.1:12390".to_string();
        let initial = vec![InitialMember {
            name: "s1".into(),
            peer_url: peer.clone(),
        }];
        let mut config =
            StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "create-cost");
        config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
        config.advertise_client_urls = vec![];
        StoreNode::start(Env::production(dir), config)
            .await
            .expect("start the store")
    });
    println!("{}", node.client_addr());
    std::io::stdout().flush().expect("flush");
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    drop(node);
}

async fn measure(creates: u64, dry_run: bool) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut store, store_addr) = spawn_store(dir.path());
    let (chain, admin) = start_chain(dir.path(), &store_addr);
    wait_ready(&chain, &admin).await;
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    let code = send(
        &chain,
        &admin,
        Method::POST,
        "/api/v1/namespaces",
        namespace.to_string(),
    )
    .await;
    assert!(code == 201 || code == 409, "creating the namespace: {code}");
    let template = pod_body();
    let path = match dry_run {
        true => format!("/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All"),
        false => format!("/api/v1/namespaces/{NAMESPACE}/pods"),
    };
    let mut last = String::new();
    for index in 0..creates {
        last = format!("bench-cost-{index:07}");
        let body = template.replace("NAME-MARKER", &last);
        let code = send(&chain, &admin, Method::POST, &path, body).await;
        assert_eq!(code, 201, "create {index}");
    }
    if !dry_run && creates > 0 {
        // The watch cache decodes each event in the background: count that work too.
        let get = format!("/api/v1/namespaces/{NAMESPACE}/pods/{last}?resourceVersion=0");
        for _ in 0..SETUP_POLLS {
            if send(&chain, &admin, Method::GET, &get, String::new()).await == 200 {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    eprintln!("{creates} creates done (dry run: {dry_run})");
    drop(store.stdin.take());
    let _ = store.wait();
}

/// Starts the child store and reads its address.
fn spawn_store(dir: &std::path::Path) -> (std::process::Child, String) {
    let exe = std::env::current_exe().expect("this binary's path");
    let mut child = std::process::Command::new(exe)
        .arg("store")
        .arg(dir.join("store"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the store");
    let stdout = child.stdout.take().expect("the store's stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the store's address");
    (child, line.trim().to_string())
}

/// The chain over the store, trusting a fresh CA; and the admin's certificate from it.
fn start_chain(dir: &std::path::Path, store_addr: &str) -> (Arc<Chain>, PeerCertificates) {
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "create-cost CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("a key");
    let ca = ca_params.self_signed(&ca_key).expect("the CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "kubernetes-admin");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let admin = params
        .signed_by(&KeyPair::generate().expect("a key"), &issuer)
        .expect("the admin certificate");
    let served = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("a cert");
    let (ca_file, cert_file, key_file) = (dir.join("ca.crt"), dir.join("s.crt"), dir.join("s.key"));
    std::fs::write(&ca_file, ca.pem()).expect("write");
    std::fs::write(&cert_file, served.cert.pem()).expect("write");
    std::fs::write(&key_file, served.signing_key.serialize_pem()).expect("write");
    let mut config = ApiServerConfig::new("127.0.0.1:0", cert_file, key_file);
    config.etcd_servers = vec![format!("http://{store_addr}")];
    config.client_ca_file = Some(ca_file);
    let env = Env::production(dir);
    let address = "127.0.0.1:6443".parse().expect("an address");
    let chain = kubesim_apiserver::server::build_chain(
        &env,
        &config,
        address,
        Arc::new(AtomicBool::new(false)),
    )
    .expect("the chain");
    let der: CertificateDer<'static> = admin.der().clone();
    (chain, PeerCertificates(Arc::new(vec![der])))
}

async fn wait_ready(chain: &Chain, admin: &PeerCertificates) {
    for _ in 0..SETUP_POLLS {
        if send(chain, admin, Method::GET, "/readyz", String::new()).await == 200 {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("the API server did not become ready");
}

async fn send(
    chain: &Chain,
    admin: &PeerCertificates,
    method: Method,
    path: &str,
    body: String,
) -> u16 {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a request");
    request.extensions_mut().insert(admin.clone());
    let response = chain.handle(request).await;
    let code = response.status().as_u16();
    // Read the body as the connection would.
    let _ = response.into_body().collect().await;
    code
}

/// `kubesim bench api`'s pod, with a marker for its name.
fn pod_body() -> String {
    kubesim_api::workload::bench_pod(NAMESPACE, "NAME-MARKER", "create-cost").to_string()
}
