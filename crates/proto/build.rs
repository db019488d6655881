//! Compiles `proto/` with the protoc that ships inside the `protoc-bin-vendored` crate, so a
//! fresh machine with only the Rust toolchain can build kubesim (no system `protoc`).

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let protoc = protoc_bin_vendored::protoc_bin_path().map_err(std::io::Error::other)?;
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);

    let serde = "#[derive(serde::Serialize, serde::Deserialize)]";
    tonic_prost_build::configure()
        .type_attribute(".etcdserverpb", serde)
        .type_attribute(".mvccpb", serde)
        .compile_with_config(
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
