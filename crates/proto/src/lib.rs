//! Generated protobuf and gRPC code, and nothing else.
//!
//! - [`etcdserverpb`], [`mvccpb`]: etcd's v3 API, from `proto/etcd/*.proto`. The store serves it
//!   and every client of the store (the API server, `kubesim bench`, tests) speaks it, so a real
//!   etcd can stand in for the kubesim store and the other way round.
//! - [`raftpb`]: the peer protocol between store members (`proto/kubesim/raft.proto`).
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
