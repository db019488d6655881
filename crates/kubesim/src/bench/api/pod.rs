//! The pods the benchmark writes: one realistic body of about 1 KiB (a web server container
//! with ports, env, resources, a probe and a volume, as a Deployment would stamp out), and the
//! names and store keys they go under.
//!
//! The body is rendered once around a marker and then only spliced with each name, so making
//! a request body costs a copy, the same for the API creates and for the raw puts.

/// Where the raw puts of `create` go: kube-apiserver's key layout under a prefix of its own,
/// so the API server's watch on `/registry/pods/` never sees them.
pub const RAW_PREFIX: &str = "/kubesim-bench";

/// Stands in for the name while the template is rendered; no JSON escaping changes it.
const NAME_MARKER: &str = "NAME-MARKER-8c1f";

/// A pod body with a hole for its name.
#[derive(Debug, Clone)]
pub struct PodTemplate {
    before_name: String,
    after_name: String,
}

impl PodTemplate {
    /// The template of pods in `namespace`. `run` goes into an annotation, so the objects
    /// of one run can be told from another's.
    pub fn new(namespace: &str, run: &str) -> PodTemplate {
        let text = kubesim_api::workload::bench_pod(namespace, NAME_MARKER, run).to_string();
        // The marker occurs exactly once: in metadata.name (labels use fixed values).
        let (before, after) = text.split_once(NAME_MARKER).unwrap_or((text.as_str(), ""));
        assert!(!after.contains(NAME_MARKER), "the name marker occurs twice");
        PodTemplate {
            before_name: before.to_string(),
            after_name: after.to_string(),
        }
    }

    /// The JSON body of the pod called `name` (a DNS name: nothing in it needs escaping).
    pub fn body(&self, name: &str) -> Vec<u8> {
        let mut body =
            Vec::with_capacity(self.before_name.len() + name.len() + self.after_name.len());
        body.extend_from_slice(self.before_name.as_bytes());
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(self.after_name.as_bytes());
        body
    }
}

/// Names of pods a `create` run makes: unique per run (`run` is random), numbered.
pub fn created_name(run: &str, index: u64) -> String {
    format!("bench-{run}-{index:07}")
}

/// Names of the pods get, update and list work on: the same in every run, so a second run
/// finds them already there.
pub fn prepared_name(index: u64) -> String {
    format!("bench-pod-{index:06}")
}

/// Names of the pods a watch run writes.
pub fn watched_name(run: &str, index: u64) -> String {
    format!("watch-{run}-{index:06}")
}

/// The raw put's key for a pod: `/registry/pods/<ns>/<name>` under [`RAW_PREFIX`].
pub fn raw_key(namespace: &str, name: &str) -> Vec<u8> {
    format!("{RAW_PREFIX}/registry/pods/{namespace}/{name}").into_bytes()
}

/// The path of the namespace's pod collection.
pub fn pods_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// The path of one pod.
pub fn pod_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{name}")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn body_is_the_pod_with_its_name_and_about_1_kib() {
        let template = PodTemplate::new("bench", "a1b2c3d4");
        let body = template.body("bench-a1b2c3d4-0000042");
        let pod: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            pod,
            kubesim_api::workload::bench_pod("bench", "bench-a1b2c3d4-0000042", "a1b2c3d4")
        );
        assert_eq!(pod["kind"], "Pod");
        assert_eq!(pod["metadata"]["namespace"], "bench");
        assert_eq!(
            pod["metadata"]["annotations"]["kubesim.io/bench-run"],
            "a1b2c3d4"
        );
        assert_eq!(pod["spec"]["containers"][0]["name"], "web");
        assert!(
            (900..=1200).contains(&body.len()),
            "a realistic pod is about 1 KiB, this one is {}",
            body.len()
        );
    }

    #[test]
    fn bodies_differ_only_in_the_name() {
        let template = PodTemplate::new("ns", "r");
        let a = template.body("a");
        let b = template.body("bbb");
        assert_eq!(a.len() + 2, b.len());
        let text = String::from_utf8(b).unwrap();
        assert_eq!(
            text.replace("\"bbb\"", "\"a\""),
            String::from_utf8(a).unwrap()
        );
        assert!(!text.contains(NAME_MARKER));
    }

    #[test]
    fn names_keys_and_paths() {
        assert_eq!(created_name("0f0f0f0f", 12), "bench-0f0f0f0f-0000012");
        assert_eq!(prepared_name(9999), "bench-pod-009999");
        assert_eq!(watched_name("ab", 3), "watch-ab-000003");
        assert_eq!(
            raw_key("bench", "bench-pod-000001"),
            b"/kubesim-bench/registry/pods/bench/bench-pod-000001"
        );
        assert_eq!(pods_path("bench"), "/api/v1/namespaces/bench/pods");
        assert_eq!(pod_path("b", "p"), "/api/v1/namespaces/b/pods/p");
    }
}
