//! kube's bootstrap APF objects (`k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap`).
//!
//! CONTRACT (the lead's skeleton; the config helper fills it in).

use serde_json::Value;

/// The mandatory objects (the `exempt` and `catch-all` levels and schemas), as the JSON the
/// API server stores.
pub fn mandatory() -> (Vec<Value>, Vec<Value>) {
    (Vec::new(), Vec::new())
}

/// The suggested objects, as the JSON the API server stores: `(flow_schemas, levels)`.
pub fn suggested() -> (Vec<Value>, Vec<Value>) {
    (Vec::new(), Vec::new())
}
