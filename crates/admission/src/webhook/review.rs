//! The AdmissionReview v1 exchange (`admission.k8s.io/v1`), as JSON: what kube-apiserver
//! POSTs to a webhook and what the webhook answers. Field names and omissions are kube's, so
//! any real webhook reads and writes these unchanged. The gRPC transport (`grpc`) carries the
//! same two messages as protobuf.

use std::collections::BTreeMap;

use kubesim_api::user::UserInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `apiVersion` of every review kubesim sends and accepts.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// Its `kind`.
pub const KIND: &str = "AdmissionReview";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionResource {
    pub group: String,
    pub version: String,
    pub resource: String,
}

/// `AdmissionReview`: a request going out, a response coming back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<AdmissionRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<AdmissionResponse>,
}

/// `AdmissionRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub uid: String,
    pub kind: GroupVersionKind,
    pub resource: GroupVersionResource,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<GroupVersionResource>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_sub_resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub operation: String,
    pub user_info: UserInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_object: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

/// `AdmissionResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    /// Why a request was denied (a `metav1.Status`; `code`, `message` and `reason` are read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResponseStatus>,
    /// A base64 JSON patch in the JSON form; raw bytes here, (de)coded by [`patch_base64`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "patch_base64"
    )]
    pub patch: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The part of `metav1.Status` a denial uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseStatus {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

fn is_zero(code: &i32) -> bool {
    *code == 0
}

/// `patch` is `[]byte` in Go, base64 in JSON.
pub mod patch_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(patch: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match patch {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => STANDARD
                .decode(text.as_bytes())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl AdmissionReview {
    /// A review carrying `request`, as kube-apiserver sends it.
    pub fn for_request(request: AdmissionRequest) -> AdmissionReview {
        AdmissionReview {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            request: Some(request),
            response: None,
        }
    }

    /// A review carrying `response`, as a webhook answers.
    pub fn for_response(response: AdmissionResponse) -> AdmissionReview {
        AdmissionReview {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            request: None,
            response: Some(response),
        }
    }
}
