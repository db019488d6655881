//! The PATCH verb's patch kinds as pure functions over JSON: what kube-apiserver's
//! `endpoints/handlers/patch.go` does to the stored object before the result is validated
//! and stored, and the Status it answers when that fails.
//!
//! Map of the module:
//! - this file: [`PatchType`] from a request's Content-Type, [`PatchError`] with the status
//!   kube-apiserver answers for each failure ([`PatchError::to_status`]), and the limits every
//!   patch is held to.
//! - [`json_patch`]: RFC 6902 JSON patch as kube-apiserver applies it with
//!   `evanphx/json-patch` v4 ([`apply_json_patch`]).
//! - [`merge_patch`]: RFC 7386 JSON merge patch, same library ([`apply_merge_patch`]).
//! - [`strategic`]: strategic merge patch and its directives, after apimachinery's
//!   `util/strategicpatch` ([`apply_strategic_merge_patch`]).
//! - [`meta`]: which lists of which kinds merge, and by what key: Kubernetes' `patchStrategy`
//!   and `patchMergeKey` Go struct tags as a table.
//! - [`go_fmt`]: Go's `%v` of decoded JSON, which strategicpatch's error messages embed.
//!
//! Server-side apply (`application/apply-patch+yaml`) is recognised by [`patch_type`] only: it
//! is a merge of managed fields, not a function of the object and the patch alone.
//!
//! Object keys keep the original's order, and keys a patch adds come after them in the
//! patch's order, as a user reading `kubectl get -o yaml` expects. (kube-apiserver's own order
//! is its Go structs'; its patch code works on unordered Go maps.) That is why RFC 6902 and 7386
//! are written here rather than taken from the `json-patch` crate: it removes keys with
//! serde_json's `Map::remove`, which under `preserve_order` moves the last key into the hole,
//! it follows RFC 6902 where kube-apiserver's library does not (negative indices, `replace` of
//! a missing key), and it has no bound on what `copy` may add.
//!
//! Bounds: the body is at most 3 MiB before it gets here (the HTTP layer's limit). Patches
//! nest at most [`MAX_DEPTH`] levels (400), and a JSON patch may not make the object deeper
//! (422); a JSON patch has at most [`MAX_JSON_PATCH_OPERATIONS`] operations (413, as
//! kube-apiserver), its copies add at most [`MAX_JSON_PATCH_COPY_BYTES`] (kube-apiserver's
//! `--json-patch-max-copy-bytes`), and its inserts and removals shift at most
//! [`MAX_JSON_PATCH_WORK`] array elements or object keys (413). Merging never scans a list once
//! per item: list merges index items by merge key, so they stay near-linear in the object's
//! size.

pub mod go_fmt;
pub mod json_patch;
pub mod merge_patch;
pub mod meta;
pub mod strategic;

use std::fmt;

use serde_json::Value;

use crate::resources::Resource;
use crate::status::{FieldError, GroupKind, Status, StatusDetails, reason};

pub use json_patch::apply_json_patch;
pub use merge_patch::apply_merge_patch;
pub use strategic::apply_strategic_merge_patch;

/// Deepest nesting of objects and arrays a patch may have, and a JSON patch may give the
/// object (`{}` is 1 deep, `{"a":[{}]}` 3). Kubernetes objects nest about 15 deep
/// (`managedFields`); serde_json refuses more than 128 while parsing.
pub const MAX_DEPTH: usize = 100;

/// Most operations one JSON patch may have (kube-apiserver's `maxJSONPatchOperations`).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Most bytes the `copy` operations of one JSON patch may add together, counted as the JSON of
/// what they copy (kube-apiserver's default `--json-patch-max-copy-bytes`, 3 MiB).
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Most array elements and object keys the operations of one JSON patch may shift or walk
/// (inserting at the front of an array moves every element, removing a key moves every key
/// after it). 10000 inserts at the front of a 1.5 MiB array would otherwise move terabytes.
pub const MAX_JSON_PATCH_WORK: usize = 1 << 24;

/// The media types kube-apiserver accepts for PATCH on built-in resources, as its 415 lists
/// them.
pub const PATCH_MEDIA_TYPES: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// What kube-apiserver says for every failed JSON patch operation and for lists of lists in a
/// strategic merge patch: `NewGenericServerResponse(422, …)` keeps its own text, not the
/// cause.
pub const GENERIC_UNPROCESSABLE_MESSAGE: &str =
    "the server rejected our request due to an error in our request";

/// What the decoder says when a JSON or merge patch leaves something that is not an object
/// (it reads `apiVersion` and `kind` first).
pub const NOT_AN_OBJECT_DETAIL: &str = "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";

/// The kind of a PATCH request (`types.PatchType`), from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json`: RFC 6902.
    Json,
    /// `application/merge-patch+json`: RFC 7386.
    Merge,
    /// `application/strategic-merge-patch+json`: Kubernetes' strategic merge patch.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

impl PatchType {
    /// The media type, as a Content-Type names it.
    pub fn media_type(self) -> &'static str {
        match self {
            PatchType::Json => PATCH_MEDIA_TYPES[0],
            PatchType::Merge => PATCH_MEDIA_TYPES[1],
            PatchType::StrategicMerge => PATCH_MEDIA_TYPES[2],
            PatchType::Apply => PATCH_MEDIA_TYPES[3],
        }
    }
}

/// From the Content-Type of a PATCH (`application/json-patch+json`,
/// `application/merge-patch+json`, `application/strategic-merge-patch+json`,
/// `application/apply-patch+yaml`; parameters like `; charset=utf-8` ignored). `None` is a 415.
///
/// As kube-apiserver: everything from the first `;` on is dropped (unless the header starts
/// with it), and the rest must match exactly, so case and spaces count.
pub fn patch_type(content_type: &str) -> Option<PatchType> {
    let media_type = match content_type.find(';') {
        Some(end) if end > 0 => &content_type[..end],
        _ => content_type,
    };
    [
        PatchType::Json,
        PatchType::Merge,
        PatchType::StrategicMerge,
        PatchType::Apply,
    ]
    .into_iter()
    .find(|t| t.media_type() == media_type)
}

/// Why a patch could not be applied. Each variant says what kube-apiserver answers for it;
/// [`PatchError::to_status`] builds that answer. `Display` gives the full cause, for logs,
/// where kube-apiserver's answer hides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// 400 BadRequest with this message: the body is not JSON, or not the shape its patch
    /// kind needs (a JSON patch that is not a list of operations, a merge patch that is not an
    /// object or list, a strategic merge patch that is not an object). Type errors are worded
    /// as Go's decoder words them; syntax errors as serde_json does.
    Malformed(String),
    /// 400 BadRequest: the patch nests deeper than [`MAX_DEPTH`].
    PatchTooDeep,
    /// 413 RequestEntityTooLarge: a JSON patch with more than [`MAX_JSON_PATCH_OPERATIONS`]
    /// operations (this many).
    TooManyOperations(usize),
    /// 413 RequestEntityTooLarge: a JSON patch whose operations would shift more than
    /// [`MAX_JSON_PATCH_WORK`] elements (kubesim's own bound).
    TooMuchWork,
    /// 422 Invalid with [`GENERIC_UNPROCESSABLE_MESSAGE`]: a JSON patch operation failed (a
    /// `test` that did not match, a missing path, a bad index, copies over
    /// [`MAX_JSON_PATCH_COPY_BYTES`]). The text is evanphx/json-patch's, which kube-apiserver
    /// does not send.
    JsonPatchFailed(String),
    /// 422 Invalid: the patched document is not an object (a merge patch that is a list, a
    /// JSON patch that replaced the root with one); holds that document as JSON.
    NotAnObject(String),
    /// 422 Invalid: a JSON patch would nest the object deeper than [`MAX_DEPTH`] (kubesim's
    /// own bound).
    ResultTooDeep,
    /// 400 BadRequest with this message: a strategic merge patch directive in the wrong form
    /// (`mergepatch.ErrBadPatchFormatFor…`: `$setElementOrder`, `$retainKeys`,
    /// `$deleteFromPrimitiveList`).
    BadDirective(&'static str),
    /// 422 Invalid with [`GENERIC_UNPROCESSABLE_MESSAGE`]: a list of lists in a strategic
    /// merge patch (`mergepatch.ErrNoListOfLists`).
    ListOfLists,
    /// 500 with an empty reason and this message: any other failure of strategicpatch (an
    /// unknown `$patch` value, a list item without its merge key, mixed item types),
    /// which kube-apiserver passes through unconverted.
    Strategic(String),
    /// 415 UnsupportedMediaType: strategic merge patch of a resource without patch metadata
    /// (kube-apiserver does not offer it for custom resources).
    StrategicMergeUnsupported,
}

impl PatchError {
    /// The Status kube-apiserver answers. `resource` and `name` are the object patched; only
    /// kubesim's own depth bound names them, kube-apiserver's patch errors never do.
    pub fn to_status(&self, resource: &Resource, name: &str) -> Status {
        match self {
            PatchError::Malformed(message) => Status::bad_request(message),
            PatchError::PatchTooDeep => Status::bad_request(&self.to_string()),
            PatchError::TooManyOperations(count) => Status::request_entity_too_large(&format!(
                "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {count}"
            )),
            PatchError::TooMuchWork => Status::request_entity_too_large(&self.to_string()),
            PatchError::JsonPatchFailed(_) | PatchError::ListOfLists => generic_unprocessable(),
            PatchError::NotAnObject(document) => {
                let cause = FieldError::invalid(
                    "patch",
                    Value::String(document.clone()),
                    NOT_AN_OBJECT_DETAIL,
                );
                Status::invalid(&GroupKind::default(), "", &[cause])
            }
            PatchError::ResultTooDeep => {
                let kind = GroupKind::new(resource.group, resource.kind);
                let cause = FieldError::forbidden("patch", &self.to_string());
                Status::invalid(&kind, name, &[cause])
            }
            PatchError::BadDirective(message) => Status::bad_request(message),
            PatchError::Strategic(message) => Status::failure(500, "", message.clone()),
            PatchError::StrategicMergeUnsupported => Status::unsupported_media_type(&[
                PatchType::Json.media_type(),
                PatchType::Merge.media_type(),
                PatchType::Apply.media_type(),
            ]),
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Malformed(message)
            | PatchError::JsonPatchFailed(message)
            | PatchError::Strategic(message) => f.write_str(message),
            PatchError::PatchTooDeep => {
                write!(f, "the patch is nested more than {MAX_DEPTH} levels deep")
            }
            PatchError::TooManyOperations(count) => write!(
                f,
                "a JSON patch may have {MAX_JSON_PATCH_OPERATIONS} operations, this one has {count}"
            ),
            PatchError::TooMuchWork => write!(
                f,
                "the JSON patch would move more than {MAX_JSON_PATCH_WORK} array elements or object keys"
            ),
            PatchError::NotAnObject(document) => {
                write!(f, "the patched document is not an object: {document}")
            }
            PatchError::ResultTooDeep => write!(
                f,
                "the patched object would be nested more than {MAX_DEPTH} levels deep"
            ),
            PatchError::BadDirective(message) => f.write_str(message),
            PatchError::ListOfLists => f.write_str(strategic::ERR_NO_LIST_OF_LISTS),
            PatchError::StrategicMergeUnsupported => {
                f.write_str("strategic merge patch format is not supported")
            }
        }
    }
}

impl std::error::Error for PatchError {}

/// `NewGenericServerResponse(422, "", GroupResource{}, "", …)`: kube's text, empty details.
fn generic_unprocessable() -> Status {
    let mut status = Status::failure(
        422,
        reason::INVALID,
        GENERIC_UNPROCESSABLE_MESSAGE.to_string(),
    );
    status.details = Some(StatusDetails::default());
    status
}

/// Parses a patch body and checks its depth. A syntax error becomes what `on_syntax_error`
/// says (each patch kind words it differently); serde_json's own depth limit (128) and ours
/// both become [`PatchError::PatchTooDeep`].
fn parse_patch(
    body: &[u8],
    on_syntax_error: impl FnOnce(serde_json::Error) -> PatchError,
) -> Result<Value, PatchError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        // serde_json has no error kind for this; its message is stable and tested below.
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            return Err(PatchError::PatchTooDeep);
        }
        Err(e) => return Err(on_syntax_error(e)),
    };
    if depth(&value) > MAX_DEPTH {
        return Err(PatchError::PatchTooDeep);
    }
    Ok(value)
}

/// How deeply objects and arrays nest in `value`: 0 for a scalar, 1 for `{}` or `[]`. Recurses
/// only into values parsed by serde_json (at most 128 deep) or kept within [`MAX_DEPTH`].
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The patched document, which must be an object to be decoded as one.
fn into_object(document: Value) -> Result<Value, PatchError> {
    match document {
        Value::Object(_) => Ok(document),
        other => Err(PatchError::NotAnObject(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    fn pods() -> &'static Resource {
        lookup("", "v1", "pods").expect("pods are served")
    }

    #[test]
    fn patch_type_reads_the_media_type_and_ignores_parameters() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::StrategicMerge),
            ),
            ("application/apply-patch+yaml", Some(PatchType::Apply)),
            (
                "application/merge-patch+json; charset=utf-8",
                Some(PatchType::Merge),
            ),
            (
                "application/strategic-merge-patch+json;charset=UTF-8",
                Some(PatchType::StrategicMerge),
            ),
            ("application/json", None),
            ("application/apply-patch+cbor", None),
            ("Application/Merge-Patch+JSON", None),
            (" application/merge-patch+json", None),
            (";application/merge-patch+json", None),
            ("", None),
        ];
        for (content_type, expected) in cases {
            assert_eq!(patch_type(content_type), expected, "{content_type:?}");
        }
    }

    #[test]
    fn statuses_match_kube_apiserver() {
        let pods = pods();
        let cases = [
            (
                PatchError::Malformed("bad".into()),
                400,
                "BadRequest",
                "bad",
            ),
            (
                PatchError::TooManyOperations(10_001),
                413,
                "RequestEntityTooLarge",
                "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
            ),
            (
                PatchError::JsonPatchFailed("testing value /a failed: test failed".into()),
                422,
                "Invalid",
                GENERIC_UNPROCESSABLE_MESSAGE,
            ),
            (
                PatchError::ListOfLists,
                422,
                "Invalid",
                GENERIC_UNPROCESSABLE_MESSAGE,
            ),
            (
                PatchError::BadDirective(strategic::ERR_BAD_RETAIN_KEYS),
                400,
                "BadRequest",
                "invalid patch format of retainKeys",
            ),
            (
                PatchError::Strategic("unknown patch type: x in map: map[$patch:x]".into()),
                500,
                "",
                "unknown patch type: x in map: map[$patch:x]",
            ),
            (
                PatchError::PatchTooDeep,
                400,
                "BadRequest",
                "the patch is nested more than 100 levels deep",
            ),
            (
                PatchError::ResultTooDeep,
                422,
                "Invalid",
                r#"Pod "web" is invalid: patch: Forbidden: the patched object would be nested more than 100 levels deep"#,
            ),
            (
                PatchError::StrategicMergeUnsupported,
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ),
        ];
        for (error, code, why, message) in cases {
            let status = error.to_status(pods, "web");
            assert_eq!(
                (status.code, status.reason.as_str(), status.message.as_str()),
                (code, why, message)
            );
        }
    }

    #[test]
    fn failed_operations_answer_kube_apiservers_generic_422() {
        let status = PatchError::JsonPatchFailed("x".into()).to_status(pods(), "web");
        assert_eq!(
            status.to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server rejected our request due to an error in our request","reason":"Invalid","details":{},"code":422}"#
        );
        let internal = PatchError::Strategic("boom".into()).to_status(pods(), "web");
        assert_eq!(
            internal.to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"boom","code":500}"#
        );
    }

    #[test]
    fn a_document_that_is_not_an_object_is_invalid() {
        let status = PatchError::NotAnObject("[1]".into()).to_status(pods(), "web");
        assert_eq!(status.code, 422);
        assert_eq!(
            status.message,
            format!(r#" "" is invalid: patch: Invalid value: "[1]": {NOT_AN_OBJECT_DETAIL}"#)
        );
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": [{}], "b": 1})), 3);
    }

    #[test]
    fn parse_patch_bounds_nesting() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let syntax = |e: serde_json::Error| PatchError::Malformed(e.to_string());
        assert_eq!(
            parse_patch(nested(MAX_DEPTH).as_bytes(), syntax).map(|v| depth(&v)),
            Ok(MAX_DEPTH)
        );
        for levels in [MAX_DEPTH + 1, 128, 129, 100_000] {
            assert_eq!(
                parse_patch(nested(levels).as_bytes(), syntax),
                Err(PatchError::PatchTooDeep),
                "{levels}"
            );
        }
        assert_eq!(
            parse_patch(b"{", syntax),
            Err(PatchError::Malformed(
                "EOF while parsing an object at line 1 column 1".into()
            ))
        );
    }
}
