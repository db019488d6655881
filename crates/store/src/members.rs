//! Member and cluster IDs, and the `member list` view.
//!
//! IDs are computed, not stored: a member's ID is a hash of its sorted peer URLs and the
//! cluster token, so `member add` on the cluster and the new member itself (from
//! `--initial-advertise-peer-urls`) arrive at the same ID without talking. The cluster ID is a
//! hash of the initial members' IDs and the token. The hash is FNV-1a, 64 bit: stable across
//! Rust versions and platforms, unlike `DefaultHasher`.

use std::collections::BTreeMap;

use kubesim_proto::etcdserverpb::Member;

use crate::config::{StoreConfig, host_port};
use crate::error::StoreError;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for byte in part.iter() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
        // A separator, so ["ab", "c"] and ["a", "bc"] differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    // 0 means "none" in etcd's API (e.g. no leader), so it is never an ID.
    hash.max(1)
}

/// The ID of the member reachable at `peer_urls`.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    urls.dedup();
    let mut parts: Vec<&[u8]> = urls.iter().map(|u| u.as_bytes()).collect();
    parts.push(token.as_bytes());
    fnv1a(&parts)
}

/// The cluster ID from its initial members.
pub fn cluster_id(member_ids: &[u64], token: &str) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let bytes: Vec<[u8; 8]> = ids.iter().map(|id| id.to_be_bytes()).collect();
    let mut parts: Vec<&[u8]> = bytes.iter().map(|b| b.as_slice()).collect();
    parts.push(token.as_bytes());
    fnv1a(&parts)
}

/// A member of `--initial-cluster`: the entries with the same name, grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitialPeer {
    pub name: String,
    pub peer_urls: Vec<String>,
}

/// `--initial-cluster` by member ID. Every URL must be `http://host:port`, and two names may
/// not share a URL.
pub(crate) fn initial_peers(
    config: &StoreConfig,
) -> Result<BTreeMap<u64, InitialPeer>, StoreError> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in &config.initial_cluster {
        host_port(&m.peer_url).map_err(StoreError::InvalidArgument)?;
        by_name.entry(&m.name).or_default().push(m.peer_url.clone());
    }
    let mut peers = BTreeMap::new();
    for (name, peer_urls) in by_name {
        let id = member_id(&peer_urls, &config.initial_cluster_token);
        let peer = InitialPeer {
            name: name.to_owned(),
            peer_urls,
        };
        if peers.insert(id, peer).is_some() {
            return Err(StoreError::InvalidArgument(format!(
                "--initial-cluster has two members with the same peer URLs (name {name})"
            )));
        }
    }
    Ok(peers)
}

/// What `member list` shows about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberView {
    pub id: u64,
    /// Empty until the member has published itself, like etcd.
    pub name: String,
    pub peer_urls: Vec<String>,
    /// Empty until the member has published itself.
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl From<MemberView> for Member {
    fn from(v: MemberView) -> Member {
        Member {
            id: v.id,
            name: v.name,
            peer_ur_ls: v.peer_urls,
            client_ur_ls: v.client_urls,
            is_learner: v.is_learner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn member_id_ignores_url_order_and_depends_on_token() {
        let a = member_id(&urls(&["http://a:2380", "http://b:2380"]), "t");
        let b = member_id(&urls(&["http://b:2380", "http://a:2380"]), "t");
        let c = member_id(&urls(&["http://a:2380", "http://b:2380"]), "other");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, 0);
    }

    #[test]
    fn member_id_is_stable() {
        // IDs end up on disk and in clients' hands: the function must never change.
        assert_eq!(
            member_id(&urls(&["http://127.0.0.1:2380"]), "etcd-cluster"),
            member_id(&urls(&["http://127.0.0.1:2380"]), "etcd-cluster")
        );
        assert_eq!(fnv1a(&[]), FNV_OFFSET);
        assert_eq!(fnv1a(&[b"a"]), {
            let h = (FNV_OFFSET ^ 0x61).wrapping_mul(FNV_PRIME);
            (h ^ 0xff).wrapping_mul(FNV_PRIME)
        });
    }

    #[test]
    fn cluster_id_ignores_member_order() {
        assert_eq!(cluster_id(&[3, 1, 2], "t"), cluster_id(&[1, 2, 3], "t"));
        assert_ne!(cluster_id(&[1, 2, 3], "t"), cluster_id(&[1, 2], "t"));
    }
}
