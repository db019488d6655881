//! The server over real TLS on loopback, with hyper's client: both HTTP versions by ALPN,
//! the body limit on the wire, a plain-HTTP client, and shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubesim_apiserver::{ApiServer, ApiServerConfig};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

/// A server on a free loopback port with a fresh self-signed certificate, and what a client
/// needs to trust it.
struct Fixture {
    server: ApiServer,
    connector: TlsConnector,
    /// Holds the PEM files.
    _dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("apiserver.crt");
    let key_file = dir.path().join("apiserver.key");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
    let config = ApiServerConfig::new("127.0.0.1:0", cert_file, key_file);
    let env = kubesim_net::Env::production(dir.path());
    let server = ApiServer::start(env, config).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(certified.cert.der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Fixture {
        server,
        connector: TlsConnector::from(Arc::new(client)),
        _dir: dir,
    }
}

impl Fixture {
    /// A TLS connection offering one ALPN protocol; returns the stream and what was agreed.
    async fn connect(
        &self,
        alpn: &[u8],
    ) -> (
        tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
        Option<Vec<u8>>,
    ) {
        let mut config = (*self.connector.config().clone()).clone();
        config.alpn_protocols = vec![alpn.to_vec()];
        let connector = TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(self.server.local_addr())
            .await
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let agreed = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        (tls, agreed)
    }

    /// One request over HTTP/2; returns the code and the body.
    async fn h2(&self, request: Request<Full<Bytes>>) -> (u16, Bytes) {
        let (tls, agreed) = self.connect(b"h2").await;
        assert_eq!(agreed.as_deref(), Some(&b"h2"[..]));
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection);
        let response = sender.send_request(request).await.unwrap();
        let code = response.status().as_u16();
        (
            code,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    /// One request over HTTP/1.1.
    async fn h1(&self, request: Request<Full<Bytes>>) -> (u16, Bytes) {
        let (tls, agreed) = self.connect(b"http/1.1").await;
        assert_eq!(agreed.as_deref(), Some(&b"http/1.1"[..]));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let response = sender.send_request(request).await.unwrap();
        let code = response.status().as_u16();
        (
            code,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("https://localhost{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn serves_http2_and_http1_by_alpn() {
    let fixture = start().await;
    let (code, body) = fixture.h2(get("/version")).await;
    assert_eq!(code, 200);
    assert_eq!(json(&body)["gitVersion"], "v1.33.0+kubesim");
    let (code, body) = fixture.h1(get("/readyz?verbose")).await;
    assert_eq!(code, 200);
    assert!(body.ends_with(b"readyz check passed\n"), "{body:?}");
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn a_body_over_3_mib_is_413_on_both_versions() {
    let fixture = start().await;
    let oversized = Bytes::from(vec![b'x'; 3 * 1024 * 1024 + 1]);
    let post = || {
        Request::post("https://localhost/api/v1/namespaces/default/configmaps")
            .header("content-type", "application/json")
            .body(Full::new(oversized.clone()))
            .unwrap()
    };
    let (code, body) = fixture.h1(post()).await;
    assert_eq!(code, 413);
    assert_eq!(json(&body)["reason"], "RequestEntityTooLarge");
    let (code, body) = fixture.h2(post()).await;
    assert_eq!(code, 413);
    assert_eq!(
        json(&body)["message"],
        "Request entity too large: limit is 3145728"
    );
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_is_answered_400_and_the_server_goes_on() {
    let fixture = start().await;
    let mut tcp = tokio::net::TcpStream::connect(fixture.server.local_addr())
        .await
        .unwrap();
    tcp.write_all(b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // The server answers as Go does and closes the connection; it never hangs.
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a plain-HTTP connection open");
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    // Bytes that are neither TLS nor HTTP: the handshake fails, the connection closes.
    let mut tcp = tokio::net::TcpStream::connect(fixture.server.local_addr())
        .await
        .unwrap();
    tcp.write_all(&[0u8; 64]).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a garbage connection open");
    let (code, _) = fixture.h2(get("/version")).await;
    assert_eq!(code, 200);
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_nothing_listens() {
    let fixture = start().await;
    let address = fixture.server.local_addr();
    fixture.server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}
