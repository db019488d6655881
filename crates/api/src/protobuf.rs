//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! decoded into the JSON object the rest of kubesim works with. kubectl 1.32+ sends every
//! typed create (`kubectl create namespace|configmap|deployment|...`) this way and gives up
//! on a 415; answering in JSON is fine with it.
//!
//! The body is the 4-byte magic `k8s\0`, then a `runtime.Unknown` message
//! {1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType} whose
//! `raw` is the object's own message (`k8s.io/api/<group>/<version>/generated.proto`). The
//! field numbers come from the [`crate::schema`] description of each kind ([`Proto`]).
//!
//! Map of the module:
//! - [`decode`], [`decode_reporting`]: the envelope, and which kind's schema reads `raw`.
//! - `object`: a message to JSON by the schema, with proto2's merge rules and Go's
//!   `omitempty` (which zero values JSON leaves out).
//! - `apimachinery`: Time, MicroTime, Quantity, IntOrString, FieldsV1, whose messages differ
//!   from their JSON.
//! - `wire`: records, varints and lengths, every read bounded by the bytes left.
//!
//! Errors are strings for a 400 (`BadRequest`), worded as kube-apiserver's decoder words
//! them. Nothing here panics on any input: lengths are checked before slicing, and the
//! nesting depth is bounded (`object::MAX_DEPTH`).
//!
//! [`Proto`]: crate::schema::Proto

mod apimachinery;
mod object;
mod wire;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use object::UnknownField;

use crate::resources::Resource;
use crate::schema;

/// The media type of Kubernetes' protobuf encoding.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// What every body starts with: `k8s`, then 0 for "a `runtime.Unknown` follows".
const MAGIC: [u8; 4] = *b"k8s\0";

/// A decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The object, as the JSON kubectl would have sent.
    pub object: Value,
    /// Field numbers the schema does not know, at most `object::MAX_UNKNOWN_REPORTED`;
    /// skipped, as kube-apiserver skips them, but `fieldValidation=Strict` may want to say so.
    pub unknown_fields: Vec<UnknownField>,
}

/// The object in a protobuf body, as the JSON kube would have decoded (apiVersion and kind
/// from the envelope). Err(message) for a body that is not a valid envelope/message (the
/// server answers 400 with it), or a kind the schema has no field numbers for.
pub fn decode(resource: &Resource, body: &[u8]) -> Result<Value, String> {
    decode_reporting(resource, body).map(|decoded| decoded.object)
}

/// [`decode`], also naming the fields it skipped.
///
/// The envelope's apiVersion and kind choose the schema, defaulted from `resource` where
/// empty (as kube-apiserver defaults them from the URL). A different served kind is decoded
/// as that kind, so the handler's apiVersion/kind check answers as it does for JSON.
pub fn decode_reporting(resource: &Resource, body: &[u8]) -> Result<Decoded, String> {
    let envelope = Envelope::parse(body)?;
    let (api_version, kind) = envelope.type_meta(resource);
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version.as_str()),
    };
    let def = schema::kind_type_of(group, version, &kind)
        .ok_or_else(|| not_registered(&kind, &api_version))?;
    let (fields, unknown_fields) = object::decode(def, envelope.raw)?;
    let mut object = Map::new();
    // Go writes TypeMeta first, kind before apiVersion.
    object.insert("kind".to_owned(), Value::from(kind));
    object.insert("apiVersion".to_owned(), Value::from(api_version));
    object.extend(fields);
    Ok(Decoded {
        object: Value::Object(object),
        unknown_fields,
    })
}

/// `runtime.NewNotRegisteredErrForKind` as kube-apiserver's scheme words it.
fn not_registered(kind: &str, api_version: &str) -> String {
    format!(
        "no kind \"{kind}\" is registered for version \"{api_version}\" in scheme \
         \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\""
    )
}

/// The `runtime.Unknown` around the object.
#[derive(Debug, Default, PartialEq, Eq)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    /// The object's message.
    raw: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// kube-apiserver's protobuf serializer's checks and messages, then the message itself.
    /// contentEncoding and contentType are ignored, as that serializer ignores them.
    fn parse(body: &'a [u8]) -> Result<Envelope<'a>, String> {
        let message = match body {
            [] => return Err("empty data".to_owned()),
            [b'k', b'8', b's', 0] => return Err("empty body".to_owned()),
            _ => body.strip_prefix(&MAGIC).ok_or(
                "provided data does not appear to be a protobuf message, expected prefix \
                 [107 56 115 0]",
            )?,
        };
        let mut envelope = Envelope::default();
        let mut type_meta = Vec::new();
        for record in wire::records(message, "Unknown")? {
            match record.number {
                // A message field given twice is merged: its bytes concatenated.
                1 => type_meta.extend_from_slice(record.value.bytes("TypeMeta")?),
                2 => envelope.raw = record.value.bytes("Raw")?,
                3 => {
                    record.value.bytes("ContentEncoding")?;
                }
                4 => {
                    record.value.bytes("ContentType")?;
                }
                _ => {}
            }
        }
        for record in wire::records(&type_meta, "TypeMeta")? {
            match record.number {
                1 => envelope.api_version = record.value.string("APIVersion")?,
                2 => envelope.kind = record.value.string("Kind")?,
                _ => {}
            }
        }
        Ok(envelope)
    }

    /// apiVersion and kind, each defaulted from the resource when empty (`copyKindDefaults`).
    fn type_meta(&self, resource: &Resource) -> (String, String) {
        let api_version = if self.api_version.is_empty() {
            resource.api_version()
        } else {
            self.api_version.clone()
        };
        let kind = if self.kind.is_empty() {
            resource.kind.to_owned()
        } else {
            self.kind.clone()
        };
        (api_version, kind)
    }
}
