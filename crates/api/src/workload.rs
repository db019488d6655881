//! The pod `kubesim bench api` writes, defined once: the benchmark sends it, the API server's
//! instruction count (`crates/apiserver/examples/create_cost.rs`) sends it, and the
//! managedFields tests pin what a create records for it, so all three speak of the same
//! object. About 1 KiB of JSON: a web server container with ports, env, resources, a
//! probe and a volume mount, as a Deployment would stamp it out.

use serde_json::{Value, json};

/// The benchmark's pod called `name` in `namespace`; `run` goes into an annotation, so the
/// objects of one run can be told from another's.
pub fn bench_pod(namespace: &str, name: &str, run: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "bench-web",
                "app.kubernetes.io/component": "frontend",
                "pod-template-hash": "7d9c5b8f6d",
            },
            "annotations": {"kubesim.io/bench-run": run},
        },
        "spec": {
            "containers": [bench_container()],
            "volumes": [{"name": "config", "configMap": {"name": "bench-web-config"}}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }],
        },
    })
}

fn bench_container() -> Value {
    json!({
        "name": "web",
        "image": "registry.k8s.io/e2e-test-images/nginx:1.14-4",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080},
            "periodSeconds": 10,
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/bench-web", "readOnly": true}],
    })
}
