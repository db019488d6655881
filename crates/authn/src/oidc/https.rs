//! One HTTPS GET over the network seam: `Network::connect`, rustls with the configured CA
//! (SNI = the URL's host), hyper's HTTP/1.1 client, a bounded body. The caller bounds the
//! time. Used for the issuer's discovery document and JWKS.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use kubesim_net::Network;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// Where a URL points: what to dial, what to name in SNI, what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `host:port` for `Network::connect` (an IPv6 host keeps its brackets).
    pub addr: String,
    /// The host as the certificate must name it (no brackets).
    pub server_name: String,
    /// The `Host` header.
    pub authority: String,
    pub path_and_query: String,
}

/// An `https://host[:port][/path][?query]` URL, without user info or fragment.
pub(crate) fn parse_https_url(url: &str) -> Result<Target, String> {
    if url.contains('#') {
        return Err(format!("{url:?} has a fragment"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{url:?} is not an https URL"));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{url:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{url:?} has user info"));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let port = authority.port_u16().unwrap_or(443);
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    Ok(Target {
        addr: format!("{host}:{port}"),
        server_name: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        authority: authority.as_str().to_string(),
        path_and_query: path_and_query.to_string(),
    })
}

/// GETs `url` and returns the body of a 200 answer, at most `max_body_bytes` of it.
pub(crate) async fn get(
    net: &dyn Network,
    tls: &Arc<rustls::ClientConfig>,
    url: &str,
    max_body_bytes: usize,
) -> Result<Bytes, String> {
    let target = parse_https_url(url)?;
    let server_name = ServerName::try_from(target.server_name.clone())
        .map_err(|e| format!("{url}: {:?} is not a server name: {e}", target.server_name))?;
    let tcp = net
        .connect(&target.addr)
        .await
        .map_err(|e| format!("{url}: connect to {}: {e}", target.addr))?;
    let tls_stream = TlsConnector::from(tls.clone())
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("{url}: TLS handshake: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls_stream))
        .await
        .map_err(|e| format!("{url}: HTTP/1.1 handshake: {e}"))?;
    let request = Request::get(target.path_and_query.as_str())
        .header(hyper::header::HOST, target.authority.as_str())
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        // With the request answered, dropping the sender lets the connection task end.
        drop(sender);
        read_body(url, response, max_body_bytes).await
    };
    // The connection is driven here rather than spawned, so the caller's timeout ends it too.
    let (_, body) = tokio::join!(connection, exchange);
    body
}

async fn read_body(
    url: &str,
    response: hyper::Response<hyper::body::Incoming>,
    max_body_bytes: usize,
) -> Result<Bytes, String> {
    let status = response.status();
    if status != StatusCode::OK {
        return Err(format!("{url}: {status}"));
    }
    let body = Limited::new(response.into_body(), max_body_bytes)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                format!("{url}: the response body is larger than {max_body_bytes} bytes")
            } else {
                format!("{url}: reading the response body: {e}")
            }
        })?;
    Ok(body.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_split_into_what_to_dial_and_what_to_verify() {
        assert_eq!(
            parse_https_url("https://issuer.example/realms/k8s"),
            Ok(Target {
                addr: "issuer.example:443".into(),
                server_name: "issuer.example".into(),
                authority: "issuer.example".into(),
                path_and_query: "/realms/k8s".into(),
            })
        );
        assert_eq!(
            parse_https_url("https://[::1]:8443"),
            Ok(Target {
                addr: "[::1]:8443".into(),
                server_name: "::1".into(),
                authority: "[::1]:8443".into(),
                path_and_query: "/".into(),
            })
        );
        assert_eq!(
            parse_https_url("https://127.0.0.1:5556/keys?x=1")
                .unwrap()
                .path_and_query,
            "/keys?x=1"
        );
        assert_eq!(
            parse_https_url("http://issuer.example"),
            Err("\"http://issuer.example\" is not an https URL".into())
        );
        assert_eq!(
            parse_https_url("https://user:pw@issuer.example"),
            Err("\"https://user:pw@issuer.example\" has user info".into())
        );
        assert_eq!(
            parse_https_url("https://issuer.example#x"),
            Err("\"https://issuer.example#x\" has a fragment".into())
        );
        assert!(parse_https_url("issuer.example").is_err());
    }
}
