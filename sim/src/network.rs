//! [`TurmoilNetwork`]: the simulated side of the network seam (`kubesim_net::Network`).
//!
//! Every listener and connection of a simulated actor is a `turmoil::net` socket, so turmoil
//! decides latency, loss, partitions and crashes. Addresses are `host:port` strings; the host
//! is a turmoil host name (`store-1`) or an IP address, and turmoil's DNS resolves it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_net::network::{Conn, Listener, Network};

/// How long a channel remembers a stream it reset: h2 counts it in real time, so a day, far
/// beyond any run's wall-clock limit, makes "remembered" the only case a run sees (up to h2's
/// count of 50 per connection, which is the same on every replay).
/// See `Network::http2_reset_stream_duration`.
pub const RESET_STREAM_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The turmoil network. Stateless: turmoil keeps the network in a thread-local of the running
/// simulation, so every call must come from a task on a simulated host.
#[derive(Debug, Default, Clone, Copy)]
pub struct TurmoilNetwork;

struct TurmoilListener(turmoil::net::TcpListener);

impl Listener for TurmoilListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (stream, _) = self.0.accept().await?;
            Ok(Conn::new(stream))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Network for TurmoilNetwork {
    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = turmoil::net::TcpListener::bind(bind_addr(addr)?).await?;
            Ok(Box::new(TurmoilListener(listener)) as Box<dyn Listener>)
        })
    }

    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Conn>> {
        Box::pin(async move {
            let (host, port) = split_host_port(addr)?;
            let host = if host == "localhost" {
                "127.0.0.1"
            } else {
                host
            };
            let stream = turmoil::net::TcpStream::connect((host, port)).await?;
            Ok(Conn::new(stream))
        })
    }

    fn http2_reset_stream_duration(&self) -> Option<Duration> {
        Some(RESET_STREAM_DURATION)
    }
}

/// Where to bind for `addr`. turmoil only binds the unspecified or the loopback address, and a
/// simulated host owns exactly one IP, so `store-1:2379` (the host's own name, as a config
/// written for real machines says it) means "this host, port 2379".
fn bind_addr(addr: &str) -> io::Result<SocketAddr> {
    let (host, port) = split_host_port(addr)?;
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => ip,
        _ if host == "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    Ok(SocketAddr::new(ip, port))
}

/// `host:port` (or `[v6]:port`) -> (host, port), with a clear error for anything else.
fn split_host_port(addr: &str) -> io::Result<(&str, u16)> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {addr:?} is not host:port"),
        )
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(invalid)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid());
    }
    let port = port.parse::<u16>().map_err(|_| invalid())?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_and_port() {
        assert_eq!(split_host_port("store-1:2379").unwrap(), ("store-1", 2379));
        assert_eq!(split_host_port("[::1]:80").unwrap(), ("::1", 80));
        assert!(split_host_port("store-1").is_err());
        assert!(split_host_port(":2379").is_err());
        assert!(split_host_port("store-1:http").is_err());
        assert!(split_host_port("store-1:70000").is_err());
    }

    #[test]
    fn binds_own_name_as_unspecified() {
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 2380));
        assert_eq!(bind_addr("store-2:2380").unwrap(), unspecified);
        assert_eq!(bind_addr("0.0.0.0:2380").unwrap(), unspecified);
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 2380));
        assert_eq!(bind_addr("localhost:2380").unwrap(), loopback);
        assert_eq!(bind_addr("127.0.0.1:2380").unwrap(), loopback);
    }
}
