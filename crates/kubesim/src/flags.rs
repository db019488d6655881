//! Parsing and checking of flag values the way etcd spells them: `http://host:port` URLs,
//! comma lists, `--initial-cluster name=url,...`, and durations such as `2s`.
//!
//! Everything here is a pure function from strings to values, so it is tested without a
//! network. A bad value is a [`FlagError`], which `main` turns into exit code 2.

use std::collections::BTreeSet;
use std::time::Duration;

use kubesim_store::InitialMember;

/// A flag value that cannot be used. The message names the flag, so the user knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{flag}: {reason}")]
pub struct FlagError {
    /// The flag's name without the leading dashes, as the user typed it.
    pub flag: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

impl FlagError {
    pub fn new(flag: &'static str, reason: impl Into<String>) -> Self {
        FlagError {
            flag,
            reason: reason.into(),
        }
    }
}

/// A checked `http://host:port` URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HttpUrl {
    /// `host:port`, what a socket binds or dials (`[::1]:2379` for IPv6).
    pub host_port: String,
}

impl HttpUrl {
    /// The URL written back in its normal form, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.host_port)
    }
}

/// Checks one URL. Only plain `http://host:port` is served: no TLS yet, no path.
pub fn parse_url(flag: &'static str, url: &str) -> Result<HttpUrl, FlagError> {
    if url.starts_with("https://") {
        return Err(FlagError::new(
            flag,
            format!("{url:?}: https is not supported yet, use http://host:port"),
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| FlagError::new(flag, format!("{url:?} must be http://host:port")))?;
    let host_port = parse_host_port(rest.strip_suffix('/').unwrap_or(rest))
        .map_err(|reason| FlagError::new(flag, format!("{url:?}: {reason}")))?;
    Ok(HttpUrl { host_port })
}

/// Checks `host:port` (or `[v6]:port`) and returns it unchanged.
pub fn parse_host_port(s: &str) -> Result<String, String> {
    if s.contains(['/', '?', '#', '@']) {
        return Err("only scheme://host:port is allowed, no path, query or user".into());
    }
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("IPv6 host is missing its closing ']'")?;
        let port = after.strip_prefix(':').ok_or("port is missing")?;
        (host, port)
    } else {
        s.rsplit_once(':').ok_or("port is missing")?
    };
    if host.is_empty() {
        return Err("host is missing".into());
    }
    if !s.starts_with('[') && host.contains(':') {
        return Err("an IPv6 host must be written in brackets: [::1]:2379".into());
    }
    port.parse::<u16>()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    Ok(s.to_owned())
}

/// A comma list of URLs, as etcd takes them (`http://a:2379,http://b:2379`). At least one;
/// no duplicates.
pub fn parse_url_list(flag: &'static str, list: &str) -> Result<Vec<HttpUrl>, FlagError> {
    let mut urls = Vec::new();
    for item in split_list(flag, list)? {
        let url = parse_url(flag, item)?;
        if urls.contains(&url) {
            return Err(FlagError::new(flag, format!("duplicate URL {item:?}")));
        }
        urls.push(url);
    }
    Ok(urls)
}

/// `--initial-cluster`: `name=http://host:port,...`. Names and URLs must be unique: each member
/// has one peer URL here.
pub fn parse_initial_cluster(list: &str) -> Result<Vec<InitialMember>, FlagError> {
    const FLAG: &str = "initial-cluster";
    let mut members: Vec<InitialMember> = Vec::new();
    for item in split_list(FLAG, list)? {
        let (name, url) = item.split_once('=').ok_or_else(|| {
            FlagError::new(FLAG, format!("{item:?} must be name=http://host:port"))
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(FlagError::new(FLAG, format!("{item:?} has an empty name")));
        }
        let peer_url = parse_url(FLAG, url.trim())?.url();
        if members.iter().any(|m| m.name == name) {
            return Err(FlagError::new(
                FLAG,
                format!("member {name:?} appears twice (one peer URL per member)"),
            ));
        }
        if members.iter().any(|m| m.peer_url == peer_url) {
            return Err(FlagError::new(FLAG, format!("duplicate URL {peer_url:?}")));
        }
        members.push(InitialMember {
            name: name.to_owned(),
            peer_url,
        });
    }
    Ok(members)
}

/// etcd's rule: this member is in `--initial-cluster` under `--name`, with exactly the URLs of
/// `--initial-advertise-peer-urls`; otherwise the cluster would not know how to reach it.
pub fn check_local_member(
    name: &str,
    advertise_peer_urls: &[HttpUrl],
    cluster: &[InitialMember],
) -> Result<(), FlagError> {
    let listed: BTreeSet<&str> = cluster
        .iter()
        .filter(|m| m.name == name)
        .map(|m| m.peer_url.as_str())
        .collect();
    if listed.is_empty() {
        return Err(FlagError::new(
            "initial-cluster",
            format!("couldn't find local name {name:?} in the initial cluster configuration"),
        ));
    }
    let advertised: Vec<String> = advertise_peer_urls.iter().map(HttpUrl::url).collect();
    let advertised_set: BTreeSet<&str> = advertised.iter().map(String::as_str).collect();
    if listed != advertised_set {
        let listed: Vec<&str> = listed.into_iter().collect();
        return Err(FlagError::new(
            "initial-cluster",
            format!(
                "has {name}={} but --initial-advertise-peer-urls is {}",
                listed.join(","),
                advertised.join(",")
            ),
        ));
    }
    Ok(())
}

/// etcd's rule: the election timeout is at least five heartbeats (else followers start
/// elections while the leader is healthy) and below 50 s.
pub fn check_timing(heartbeat_ms: u64, election_ms: u64) -> Result<(), FlagError> {
    if heartbeat_ms == 0 {
        return Err(FlagError::new(
            "heartbeat-interval",
            "must be at least 1 ms",
        ));
    }
    if election_ms < heartbeat_ms.saturating_mul(5) {
        return Err(FlagError::new(
            "election-timeout",
            format!(
                "{election_ms} ms should be at least 5 times --heartbeat-interval ({heartbeat_ms} ms)"
            ),
        ));
    }
    if election_ms > 50_000 {
        return Err(FlagError::new(
            "election-timeout",
            format!("{election_ms} ms is too long, and should be set less than 50000 ms"),
        ));
    }
    Ok(())
}

/// A duration as etcdctl writes them: `500ms`, `2s`, `1m`.
pub fn parse_duration(flag: &'static str, s: &str) -> Result<Duration, FlagError> {
    let bad = || {
        FlagError::new(
            flag,
            format!("{s:?} must be a duration such as 500ms, 2s or 1m"),
        )
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = s.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(FlagError::new(flag, "must be longer than zero"));
    }
    Ok(duration)
}

/// Splits a comma list, trimming spaces. An empty list or an empty item is an error, since it
/// is almost always a typo (`a,,b`).
fn split_list<'a>(flag: &'static str, list: &'a str) -> Result<Vec<&'a str>, FlagError> {
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.iter().any(|item| item.is_empty()) {
        return Err(FlagError::new(flag, format!("{list:?} has an empty item")));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> HttpUrl {
        HttpUrl {
            host_port: s.to_owned(),
        }
    }

    #[test]
    fn url_list_accepts_etcd_style() {
        let urls = parse_url_list(
            "listen-client-urls",
            "http://127.0.0.1:2379, http://[::1]:2379/",
        )
        .unwrap();
        assert_eq!(urls, vec![url("127.0.0.1:2379"), url("[::1]:2379")]);
        assert_eq!(urls[1].url(), "http://[::1]:2379");
    }

    #[test]
    fn url_list_rejects_bad_urls() {
        for bad in [
            "",
            "127.0.0.1:2379",
            "https://a:2379",
            "http://a",
            "http://:2379",
            "http://a:http",
            "http://a:70000",
            "http://a:2379/v3",
            "http://::1:2379",
            "http://[::1]2379",
            "http://a:1,,http://b:2",
            "http://a:1,http://a:1",
            "unix://sock",
        ] {
            let err = parse_url_list("listen-client-urls", bad);
            assert!(err.is_err(), "{bad:?} was accepted");
            assert_eq!(err.unwrap_err().flag, "listen-client-urls");
        }
    }

    #[test]
    fn initial_cluster_parses_members_in_order() {
        let members =
            parse_initial_cluster("s1=http://127.0.0.1:2380,s2=http://127.0.0.1:22380/").unwrap();
        assert_eq!(
            members,
            vec![
                InitialMember {
                    name: "s1".into(),
                    peer_url: "http://127.0.0.1:2380".into()
                },
                InitialMember {
                    name: "s2".into(),
                    peer_url: "http://127.0.0.1:22380".into()
                },
            ]
        );
    }

    #[test]
    fn initial_cluster_rejects_bad_lists() {
        for bad in [
            "",
            "s1",
            "=http://a:1",
            "s1=a:1",
            "s1=http://a:1,s1=http://a:2",
            "s1=http://a:1,s2=http://a:1",
            "s1=http://a:1,",
        ] {
            let err = parse_initial_cluster(bad).expect_err(bad);
            assert_eq!(err.flag, "initial-cluster");
        }
    }

    #[test]
    fn local_member_must_be_listed_with_its_advertised_url() {
        let cluster = parse_initial_cluster("a=http://h:1,b=http://h:2").unwrap();
        assert_eq!(check_local_member("a", &[url("h:1")], &cluster), Ok(()));
        let missing = check_local_member("c", &[url("h:3")], &cluster).unwrap_err();
        assert!(missing.reason.contains("couldn't find local name \"c\""));
        let mismatch = check_local_member("a", &[url("h:2")], &cluster).unwrap_err();
        assert!(mismatch.reason.contains("a=http://h:1"), "{mismatch}");
        let extra = check_local_member("a", &[url("h:1"), url("h:9")], &cluster);
        assert!(extra.is_err());
    }

    #[test]
    fn election_timeout_is_at_least_five_heartbeats() {
        assert_eq!(check_timing(100, 1000), Ok(()));
        assert_eq!(check_timing(100, 500), Ok(()));
        assert_eq!(check_timing(100, 499).unwrap_err().flag, "election-timeout");
        assert_eq!(
            check_timing(0, 1000).unwrap_err().flag,
            "heartbeat-interval"
        );
        assert_eq!(
            check_timing(100, 50_001).unwrap_err().flag,
            "election-timeout"
        );
        assert!(check_timing(u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn durations_like_etcdctl() {
        assert_eq!(parse_duration("t", "500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("t", "2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("t", "1m"), Ok(Duration::from_secs(60)));
        for bad in [
            "",
            "2",
            "s",
            "0s",
            "2h",
            "-1s",
            "1.5s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration("t", bad).is_err(), "{bad:?} was accepted");
        }
    }
}
