//! The two admission webhooks the demo shows, run inside the demo process: the samples
//! `label-injector` (mutating) and `no-privileged` (validating) from `crates/webhooks`, each
//! on its own loopback HTTPS port with a serving certificate from a throwaway CA, and their
//! Mutating-/ValidatingWebhookConfiguration, which send the API server there for pod CREATEs
//! in the demo's namespace only (a `namespaceSelector` on `kubernetes.io/metadata.name`), so
//! nothing else on the cluster meets them. The configurations are deleted at the end.
//!
//! `kubesim up` runs no webhooks of its own; the demo brings them so it works against any
//! API server that can reach 127.0.0.1 on the demo's machine.

use std::time::Duration;

use base64::Engine as _;
use kubesim_net::Network as _;
use kubesim_webhooks::faults::Knobs;
use kubesim_webhooks::samples::{LabelInjector, NoPrivileged, Sample};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The webhooks' names (fully qualified, as kube requires), as the API server's trace and
/// error messages name them.
pub const LABEL_INJECTOR: &str = "label-injector.demo.kubesim.io";
pub const NO_PRIVILEGED: &str = "no-privileged.demo.kubesim.io";
/// How long the API server waits for either (`timeoutSeconds`).
const TIMEOUT_SECONDS: u32 = 5;
/// How long the servers get to finish their connections when the demo ends.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The names of the webhooks the demo shows, as traces and refusals name them: the demo's
/// own, or those the cluster already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub label_injector: String,
    pub no_privileged: String,
}

impl Names {
    /// The webhooks the demo runs itself.
    pub fn demo() -> Names {
        Names {
            label_injector: LABEL_INJECTOR.to_string(),
            no_privileged: NO_PRIVILEGED.to_string(),
        }
    }
}

/// The sample webhooks' configuration collections.
pub const MUTATING: &str = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
pub const VALIDATING: &str =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";

/// The name of a webhook of `sample` (`label-injector.kubesim.io`, as `kubesim seed` registers
/// it for docker-compose) in a list of configurations; the demo's own (left by a run that was
/// killed) do not count.
pub fn cluster_webhook(list: &Value, sample: &str) -> Option<String> {
    let prefix = format!("{sample}.");
    list["items"]
        .as_array()?
        .iter()
        .flat_map(|item| item["webhooks"].as_array().into_iter().flatten())
        .filter_map(|hook| hook["name"].as_str())
        .find(|name| name.starts_with(&prefix) && !name.ends_with(".demo.kubesim.io"))
        .map(str::to_string)
}

/// The two running webhook servers.
pub struct DemoWebhooks {
    servers: Vec<Server>,
    /// The configurations to create, then delete.
    pub configurations: Vec<Configuration>,
}

/// One sample's server: its stop signal and its task.
struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
}

/// A webhook configuration: where it is created and its body.
#[derive(Debug, Clone)]
pub struct Configuration {
    /// `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations`.
    pub collection: String,
    pub name: String,
    pub body: Value,
}

impl Configuration {
    pub fn path(&self) -> String {
        format!("{}/{}", self.collection, self.name)
    }
}

/// Starts both samples on 127.0.0.1 and returns them with the configurations that point at
/// them, scoped to `namespace`.
pub async fn start(namespace: &str) -> Result<DemoWebhooks, String> {
    let (tls, ca_pem) = serving_tls()?;
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut webhooks = DemoWebhooks {
        servers: Vec::new(),
        configurations: Vec::new(),
    };
    let samples = [
        (Sample::LabelInjector(LabelInjector::default()), true),
        (Sample::NoPrivileged(NoPrivileged), false),
    ];
    for (sample, mutating) in samples {
        let listener = kubesim_net::network::TokioNetwork
            .bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding a port for {}: {e}", sample.name()))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(kubesim_webhooks::serve(
            sample,
            Knobs::default(),
            listener,
            tls.clone(),
            shutdown,
        ));
        webhooks.servers.push(Server { stop, task });
        let url = format!("https://{addr}/");
        webhooks
            .configurations
            .push(configuration(namespace, mutating, &url, &ca_bundle));
    }
    Ok(webhooks)
}

impl DemoWebhooks {
    /// Stops both servers, each within [`STOP_TIMEOUT`].
    pub async fn stop(self) {
        for server in self.servers {
            let _ = server.stop.send(());
            match tokio::time::timeout(STOP_TIMEOUT, server.task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!("demo webhook: {e}"),
                Ok(Err(e)) => tracing::warn!("demo webhook task: {e}"),
                Err(_) => tracing::warn!("demo webhook did not stop within {STOP_TIMEOUT:?}"),
            }
        }
    }
}

/// A serving certificate for 127.0.0.1 from a new CA (kept in memory only), as the rustls
/// configuration the samples serve with, and the CA's PEM for `caBundle`.
fn serving_tls() -> Result<(std::sync::Arc<rustls::ServerConfig>, String), String> {
    use kubesim_net::Clock as _;
    let opts = crate::certs::CertOptions {
        hosts: crate::certs::parse_hosts("127.0.0.1").map_err(|e| e.to_string())?,
        server: crate::certs::DEFAULT_SERVER.to_string(),
        webhook_hosts: Vec::new(),
        now_since_epoch: kubesim_net::SystemClock.now_since_epoch(),
    };
    let certs = crate::certs::generate(&opts)?;
    let chain = CertificateDer::pem_slice_iter(certs.apiserver_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the webhooks' certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(certs.apiserver_key_pem.as_bytes())
        .map_err(|e| format!("the webhooks' key: {e}"))?;
    let tls = kubesim_webhooks::tls::server_config(chain, key)?;
    Ok((tls, certs.ca_cert_pem))
}

/// The configuration of one sample: pod CREATEs in `namespace`, failurePolicy Fail (a
/// webhook that cannot be reached refuses the pod rather than letting it through unchecked).
fn configuration(namespace: &str, mutating: bool, url: &str, ca_bundle: &str) -> Configuration {
    let (kind, collection, hook_name) = if mutating {
        ("MutatingWebhookConfiguration", MUTATING, LABEL_INJECTOR)
    } else {
        ("ValidatingWebhookConfiguration", VALIDATING, NO_PRIVILEGED)
    };
    let mut hook = json!({
        "name": hook_name,
        "clientConfig": {"url": url, "caBundle": ca_bundle},
        "rules": [{
            "operations": ["CREATE"],
            "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
            "scope": "Namespaced",
        }],
        "namespaceSelector": {"matchExpressions": [{
            "key": "kubernetes.io/metadata.name", "operator": "In", "values": [namespace],
        }]},
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "timeoutSeconds": TIMEOUT_SECONDS,
        "admissionReviewVersions": ["v1"],
    });
    if mutating {
        hook["reinvocationPolicy"] = json!("Never");
    }
    let sample = hook_name.split('.').next().unwrap_or(hook_name);
    let name = format!("{namespace}-{sample}");
    Configuration {
        collection: collection.to_string(),
        name: name.clone(),
        body: json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": name},
            "webhooks": [hook],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_configuration_matches_pod_creates_in_the_demo_namespace_only() {
        let mutating = configuration("demo-7", true, "https://127.0.0.1:1/", "Q0E=");
        assert_eq!(mutating.name, "demo-7-label-injector");
        assert_eq!(
            mutating.path(),
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/demo-7-label-injector"
        );
        let hook = &mutating.body["webhooks"][0];
        assert_eq!(hook["name"], LABEL_INJECTOR);
        assert_eq!(hook["reinvocationPolicy"], "Never");
        assert_eq!(
            hook["namespaceSelector"]["matchExpressions"][0]["values"],
            json!(["demo-7"])
        );
        assert_eq!(hook["rules"][0]["operations"], json!(["CREATE"]));
        let validating = configuration("demo-7", false, "https://127.0.0.1:2/", "Q0E=");
        assert_eq!(validating.body["kind"], "ValidatingWebhookConfiguration");
        assert_eq!(validating.body["webhooks"][0]["name"], NO_PRIVILEGED);
        assert_eq!(validating.body["webhooks"][0]["failurePolicy"], "Fail");
        assert!(validating.body["webhooks"][0]["reinvocationPolicy"].is_null());
    }

    #[test]
    fn the_clusters_own_samples_are_found_by_name_but_not_the_demos() {
        let list = json!({"items": [
            {"webhooks": [{"name": "label-injector.demo.kubesim.io"}]},
            {"webhooks": [{"name": "sidecar-injector.kubesim.io"},
                          {"name": "label-injector.kubesim.io"}]},
        ]});
        assert_eq!(
            cluster_webhook(&list, "label-injector").as_deref(),
            Some("label-injector.kubesim.io")
        );
        assert_eq!(cluster_webhook(&list, "no-privileged"), None);
        let only_demo = json!({"items": [{"webhooks": [{"name": LABEL_INJECTOR}]}]});
        assert_eq!(cluster_webhook(&only_demo, "label-injector"), None);
        assert_eq!(cluster_webhook(&json!({}), "label-injector"), None);
    }

    /// Both samples answer `GET /healthz` over HTTPS to a client that trusts only the
    /// configuration's `caBundle`, at its `url`: what the API server will do.
    #[tokio::test]
    async fn each_sample_answers_https_at_its_url_with_its_ca_bundle() {
        let webhooks = start("demo-1").await.unwrap();
        let mut ports = Vec::new();
        for configuration in &webhooks.configurations {
            let client_config = &configuration.body["webhooks"][0]["clientConfig"];
            let url = client_config["url"].as_str().unwrap();
            let addr = url.strip_prefix("https://").unwrap().trim_end_matches('/');
            let pem = base64::engine::general_purpose::STANDARD
                .decode(client_config["caBundle"].as_str().unwrap())
                .unwrap();
            assert_eq!(healthz(addr, &pem).await, (200, "ok".to_string()), "{url}");
            ports.push(addr.to_string());
        }
        assert_eq!(ports.len(), 2);
        assert_ne!(ports[0], ports[1]);
        webhooks.stop().await;
    }

    async fn healthz(addr: &str, ca_pem: &[u8]) -> (u16, String) {
        use http_body_util::BodyExt as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let io = hyper_util::rt::TokioIo::new(tls);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::get("/healthz")
            .header("host", addr)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let code = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (code, String::from_utf8_lossy(&body).trim().to_string())
    }
}
