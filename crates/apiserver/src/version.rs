//! `/version`: the `version.Info` kube-apiserver answers, which `kubectl version` prints and
//! client-go reads to check version skew.

use serde_json::{Value, json};

/// The Kubernetes minor version whose API kubesim serves.
pub const MAJOR: &str = "1";
pub const MINOR: &str = "33";
/// Semantic version with kubesim as build metadata, so a user sees which server answered.
pub const GIT_VERSION: &str = "v1.33.0+kubesim";

/// The `version.Info` document. Fields kube-apiserver fills from its Go build are filled
/// with what is true of this Rust build: `compiler` is rustc, and the Go version is `n/a`.
pub fn info() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": GIT_VERSION,
        // Set by CI when it builds from a known commit; a local build says so.
        "gitCommit": option_env!("KUBESIM_GIT_COMMIT").unwrap_or("unknown"),
        "gitTreeState": option_env!("KUBESIM_GIT_TREE_STATE").unwrap_or("unknown"),
        // kube-apiserver's value when the build date was not stamped.
        "buildDate": option_env!("KUBESIM_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
        "goVersion": "n/a",
        "compiler": "rustc",
        "platform": platform(),
    })
}

/// `GOOS/GOARCH`, with Rust's architecture names mapped to Go's.
fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_has_what_kubectl_version_reads() {
        let info = info();
        assert_eq!(info["major"], "1");
        assert_eq!(info["minor"], "33");
        assert_eq!(info["gitVersion"], "v1.33.0+kubesim");
        assert_eq!(info["compiler"], "rustc");
        let platform = info["platform"].as_str().unwrap();
        assert!(platform.contains('/'), "{platform}");
        assert!(!platform.contains("x86_64"), "Go's arch names: {platform}");
    }
}
