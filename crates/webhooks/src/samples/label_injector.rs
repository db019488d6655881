//! `label-injector` (mutating): adds labels the object lacks, by default `env=production` and
//! `managed-by=kubesim` (`--labels`). A label already there keeps its value, whatever it is;
//! an object with every label gets no patch, so a reinvocation changes nothing.
//!
//! The patch: one `add /metadata/labels {..}` with all of them when the object has no labels
//! (JSON Patch cannot add into a member that does not exist), else one
//! `add /metadata/labels/<key>` per missing label, the key escaped as a JSON Pointer token
//! (`a.io/b` → `a.io~1b`). It applies to any kind it is sent; a request without an object (a
//! DELETE) is allowed untouched.

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use serde_json::{Map, Value};

use crate::patch::{Operation, escape};

pub const NAME: &str = "label-injector";

/// `--labels` when not given.
pub const DEFAULT_LABELS: [(&str, &str); 2] = [("env", "production"), ("managed-by", "kubesim")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelInjector {
    /// The labels to add, in the order they are patched in.
    pub labels: Vec<(String, String)>,
}

impl Default for LabelInjector {
    fn default() -> Self {
        LabelInjector {
            labels: DEFAULT_LABELS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

impl LabelInjector {
    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        let operations = match &request.object {
            Some(object) => self.patch(object),
            None => Vec::new(),
        };
        super::mutate(request, &operations)
    }

    /// The operations that add the missing labels to `object`.
    fn patch(&self, object: &Value) -> Vec<Operation> {
        let Some(metadata) = object.get("metadata") else {
            let mut labels = Map::new();
            labels.insert("labels".into(), Value::Object(self.missing(&Map::new())));
            return vec![Operation::add("/metadata".into(), Value::Object(labels))];
        };
        match metadata.get("labels") {
            // Not maps: the API server's validation will refuse the object anyway.
            _ if !metadata.is_object() => Vec::new(),
            Some(labels) if !labels.is_object() && !labels.is_null() => Vec::new(),
            Some(Value::Object(labels)) => self
                .missing(labels)
                .into_iter()
                .map(|(key, value)| {
                    Operation::add(format!("/metadata/labels/{}", escape(&key)), value)
                })
                .collect(),
            // Absent or null: the whole map at once.
            _ => vec![Operation::add(
                "/metadata/labels".into(),
                Value::Object(self.missing(&Map::new())),
            )],
        }
    }

    /// The configured labels whose key is not in `present`.
    fn missing(&self, present: &Map<String, Value>) -> Map<String, Value> {
        self.labels
            .iter()
            .filter(|(key, _)| !present.contains_key(key))
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{patch_of, pod_create};
    use super::*;

    #[test]
    fn missing_labels_are_added_one_by_one() {
        let request = pod_create(
            "default",
            json!({"metadata": {"name": "web", "labels": {"env": "staging", "app": "web"}}}),
        );
        let response = LabelInjector::default().review(&request);
        assert!(response.allowed);
        assert_eq!(response.uid, request.uid);
        assert_eq!(
            patch_of(&response),
            json!([{"op": "add", "path": "/metadata/labels/managed-by", "value": "kubesim"}]),
            "env keeps its value"
        );
    }

    #[test]
    fn without_labels_the_map_is_added_whole() {
        for metadata in [
            json!({"name": "web"}),
            json!({"name": "web", "labels": null}),
        ] {
            let request = pod_create("default", json!({ "metadata": metadata }));
            let response = LabelInjector::default().review(&request);
            assert_eq!(
                patch_of(&response),
                json!([{"op": "add", "path": "/metadata/labels",
                        "value": {"env": "production", "managed-by": "kubesim"}}])
            );
        }
        let request = pod_create("default", json!({"kind": "Pod"}));
        assert_eq!(
            patch_of(&LabelInjector::default().review(&request)),
            json!([{"op": "add", "path": "/metadata",
                    "value": {"labels": {"env": "production", "managed-by": "kubesim"}}}])
        );
    }

    #[test]
    fn keys_with_a_slash_or_tilde_are_escaped() {
        let injector = LabelInjector {
            labels: vec![
                ("app.kubernetes.io/managed-by".into(), "kubesim".into()),
                ("odd~key".into(), "x".into()),
            ],
        };
        let request = pod_create("default", json!({"metadata": {"labels": {}}}));
        assert_eq!(
            patch_of(&injector.review(&request)),
            json!([
                {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1managed-by", "value": "kubesim"},
                {"op": "add", "path": "/metadata/labels/odd~0key", "value": "x"},
            ])
        );
    }

    #[test]
    fn nothing_to_add_means_no_patch() {
        let request = pod_create(
            "default",
            json!({"metadata": {"labels": {"env": "dev", "managed-by": "me"}}}),
        );
        let response = LabelInjector::default().review(&request);
        assert!(response.allowed);
        assert_eq!((response.patch, response.patch_type), (None, None));
        let mut delete = pod_create("default", json!({}));
        delete.object = None;
        assert_eq!(LabelInjector::default().review(&delete).patch, None);
    }
}
