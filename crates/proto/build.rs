//! Compiles `proto/` with the protoc that ships inside the `protoc-bin-vendored` crate, so a
//! fresh machine with only the Rust toolchain can build kubesim (no system `protoc`).

/// The `bytes` fields of etcd's messages that carry keys and values.
const BYTES_FIELDS: &[&str] = &[
    ".mvccpb.KeyValue.key",
    ".mvccpb.KeyValue.value",
    ".etcdserverpb.RangeRequest.key",
    ".etcdserverpb.RangeRequest.range_end",
    ".etcdserverpb.PutRequest.key",
    ".etcdserverpb.PutRequest.value",
    ".etcdserverpb.DeleteRangeRequest.key",
    ".etcdserverpb.DeleteRangeRequest.range_end",
    ".etcdserverpb.Compare.key",
    ".etcdserverpb.Compare.range_end",
];

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let protoc = protoc_bin_vendored::protoc_bin_path().map_err(std::io::Error::other)?;
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);

    let serde = "#[derive(serde::Serialize, serde::Deserialize)]";
    let mut builder = tonic_prost_build::configure()
        .type_attribute(".etcdserverpb", serde)
        .type_attribute(".mvccpb", serde);
    // Keys and values cross the Raft log, the peer protocol and the state machine's tables
    // postcard-encoded. serde treats a plain `Vec<u8>` as a sequence and encodes it byte by
    // byte; as bytes it is one length and one copy, in the very same encoding (postcard
    // writes both as a varint length and the raw bytes), so stored data reads unchanged.
    for field in BYTES_FIELDS {
        builder = builder.field_attribute(field, "#[serde(with = \"serde_bytes\")]");
    }
    builder.compile_with_config(
        config,
        &[
            root.join("etcd/kv.proto"),
            root.join("etcd/rpc.proto"),
            root.join("kubesim/raft.proto"),
            root.join("kubesim/authz.proto"),
            root.join("kubesim/admission.proto"),
        ],
        std::slice::from_ref(&root),
    )?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
