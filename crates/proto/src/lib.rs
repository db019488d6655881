//! Generated protobuf and gRPC code, and etcd's one range idiom every client needs.
//!
//! - [`etcdserverpb`], [`mvccpb`]: etcd's v3 API, from `proto/etcd/*.proto`. The store serves it
//!   and every client of the store (the API server, `kubesim bench`, tests) speaks it, so a real
//!   etcd can stand in for the kubesim store and the other way round.
//! - [`raftpb`]: the peer protocol between store members (`proto/kubesim/raft.proto`).
//! - [`authzpb`]: the authz service's Authorize call (`proto/kubesim/authz.proto`), the API
//!   server's Webhook authorizer over gRPC.
//! - [`admissionpb`]: kubesim's gRPC transport for admission webhooks
//!   (`proto/kubesim/admission.proto`), AdmissionReview v1 as an RPC.
//!
//! - [`prefix_range_end`]: the `range_end` that makes a Range, DeleteRange or Watch cover every
//!   key with a prefix (etcd's `clientv3.GetPrefixRangeEnd`).
//!
//! The etcd messages also derive serde: a store command is an etcd request carried as-is
//! through the Raft log, so there is no second copy of the request types to keep in sync.

pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

pub mod raftpb {
    tonic::include_proto!("kubesim.raft.v1");
}

pub mod authzpb {
    tonic::include_proto!("kubesim.authz.v1");
}

pub mod admissionpb {
    tonic::include_proto!("kubesim.admission.v1");
}

/// etcd's range end for "every key starting with `prefix`" (`clientv3.GetPrefixRangeEnd`):
/// the prefix with its last byte below 0xff incremented and what follows it cut off. A prefix
/// of only 0xff bytes (or an empty one) ranges to the end of the keyspace, which etcd spells
/// `"\0"`.
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::prefix_range_end;

    #[test]
    fn prefix_range_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_range_end(b"/registry/pods/"), b"/registry/pods0");
        assert_eq!(prefix_range_end(b"a\xff"), b"b");
        assert_eq!(prefix_range_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_range_end(b""), b"\0");
    }
}
