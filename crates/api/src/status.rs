//! The `meta/v1` Status that every error is answered with, and the constructors that build it
//! with kube-apiserver's exact reasons, codes and messages.
//!
//! Clients print `message` as it is (`Error from server (NotFound): pods "web" not found`) and
//! branch on `reason` and `code`, so each constructor mirrors one function of
//! `k8s.io/apimachinery/pkg/api/errors` (named in its doc) byte for byte, including Go's `%q`
//! quoting of names ([`go_quote`]). Field validation errors ([`FieldError`]) render as
//! `k8s.io/apimachinery/pkg/util/validation/field.Error` does, since a 422's message and its
//! `details.causes` are built from them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `Status.status` of an error.
pub const STATUS_FAILURE: &str = "Failure";
/// `Status.status` of a success (a delete that answers with a Status).
pub const STATUS_SUCCESS: &str = "Success";

/// `Status.reason` values, spelled as `metav1.StatusReason*`.
pub mod reason {
    pub const UNAUTHORIZED: &str = "Unauthorized";
    pub const FORBIDDEN: &str = "Forbidden";
    pub const NOT_FOUND: &str = "NotFound";
    pub const ALREADY_EXISTS: &str = "AlreadyExists";
    pub const CONFLICT: &str = "Conflict";
    pub const GONE: &str = "Gone";
    pub const EXPIRED: &str = "Expired";
    pub const INVALID: &str = "Invalid";
    pub const BAD_REQUEST: &str = "BadRequest";
    pub const METHOD_NOT_ALLOWED: &str = "MethodNotAllowed";
    pub const NOT_ACCEPTABLE: &str = "NotAcceptable";
    pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLarge";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UnsupportedMediaType";
    pub const TOO_MANY_REQUESTS: &str = "TooManyRequests";
    pub const INTERNAL_ERROR: &str = "InternalError";
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
    pub const TIMEOUT: &str = "Timeout";
}

/// The text kube-apiserver puts after `Operation cannot be fulfilled on …:` when an update
/// carries a stale resourceVersion (`registry.OptimisticLockErrorMsg`).
pub const OPTIMISTIC_LOCK_ERROR_MSG: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// A `meta/v1` Status. Serialized with kube-apiserver's key order: `kind`, `apiVersion`,
/// `metadata` (always `{}`), `status`, `message`, `reason`, `details`, `code`; empty strings,
/// absent details and a zero code are left out, as Go's `omitempty` does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Status {
    /// [`STATUS_FAILURE`] or [`STATUS_SUCCESS`].
    pub status: String,
    /// What clients print.
    pub message: String,
    /// What clients branch on: one of [`reason`].
    pub reason: String,
    /// Which object, and for a 422 which fields; `Some(default)` serializes as `{}`, which is
    /// what kube-apiserver sends for a timeout without `retryAfterSeconds`.
    pub details: Option<StatusDetails>,
    /// The HTTP status code, repeated in the body.
    pub code: u16,
    /// `metadata.continue`: for a 410 on a compacted continue token, kube-apiserver's token
    /// for the rest of the list at the latest revision. Empty otherwise (`metadata: {}`).
    #[serde(skip)]
    pub continue_token: String,
}

/// `meta/v1` StatusDetails; every field is left out of the JSON when empty or zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// The resource (`pods`) for most errors, the kind (`Pod`) for a 422: kube-apiserver fills
    /// it from whichever it had at hand.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Sent together with a `Retry-After` header.
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_after_seconds: i32,
}

/// `meta/v1` StatusCause: one reason for a failure, for a 422 one invalid field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusCause {
    /// The cause type (`FieldValueRequired`, …); Kubernetes calls the JSON key `reason`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The field path (`spec.containers[0].name`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// A resource qualified by its API group, as errors name it: `pods` for the core group,
/// `deployments.apps` otherwise (`schema.GroupResource.String()`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> GroupResource {
        GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }

    /// True for the empty group and resource, which errors about non-resource paths carry.
    pub fn is_empty(&self) -> bool {
        self.group.is_empty() && self.resource.is_empty()
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A kind qualified by its API group, as a 422 names it: `Pod`, `Deployment.apps`
/// (`schema.GroupKind.String()`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl GroupKind {
    pub fn new(group: &str, kind: &str) -> GroupKind {
        GroupKind {
            group: group.to_string(),
            kind: kind.to_string(),
        }
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

impl Status {
    /// A failure with no details; the building block of the constructors below.
    pub fn failure(code: u16, reason: &str, message: String) -> Status {
        Status {
            status: STATUS_FAILURE.to_string(),
            message,
            reason: reason.to_string(),
            details: None,
            code,
            continue_token: String::new(),
        }
    }

    fn with_details(mut self, details: StatusDetails) -> Status {
        self.details = Some(details);
        self
    }

    /// `NewNotFound`: 404 `pods "web" not found`.
    pub fn not_found(gr: &GroupResource, name: &str) -> Status {
        let message = format!("{gr} {} not found", go_quote(name));
        Status::failure(404, reason::NOT_FOUND, message).with_details(object_details(gr, name))
    }

    /// `NewAlreadyExists`: 409 `pods "web" already exists`.
    pub fn already_exists(gr: &GroupResource, name: &str) -> Status {
        let message = format!("{gr} {} already exists", go_quote(name));
        Status::failure(409, reason::ALREADY_EXISTS, message).with_details(object_details(gr, name))
    }

    /// `NewConflict`: 409 `Operation cannot be fulfilled on pods "web": <reason_text>`.
    pub fn conflict(gr: &GroupResource, name: &str, reason_text: &str) -> Status {
        let message = format!(
            "Operation cannot be fulfilled on {gr} {}: {reason_text}",
            go_quote(name)
        );
        Status::failure(409, reason::CONFLICT, message).with_details(object_details(gr, name))
    }

    /// The 409 for an update whose resourceVersion is stale (`NewConflict` with
    /// [`OPTIMISTIC_LOCK_ERROR_MSG`]).
    pub fn conflict_stale(gr: &GroupResource, name: &str) -> Status {
        Status::conflict(gr, name, OPTIMISTIC_LOCK_ERROR_MSG)
    }

    /// `NewResourceExpired`: 410 `Expired`, for a compacted resourceVersion or an expired
    /// continue token; the caller supplies the storage layer's wording
    /// (`too old resource version: 5 (10)`).
    pub fn resource_expired(message: &str) -> Status {
        Status::failure(410, reason::EXPIRED, message.to_string())
    }

    /// `NewGone`: 410 `Gone` (deprecated upstream in favour of `Expired`, still sent by a few
    /// paths).
    pub fn gone(message: &str) -> Status {
        Status::failure(410, reason::GONE, message.to_string())
    }

    /// `NewInvalid`: 422 `Pod "web" is invalid: <errors>`, one cause per field error. The
    /// message lists each distinct error once: bare when there is one, in brackets and
    /// comma-separated when there are several (`utilerrors.Aggregate`).
    pub fn invalid(gk: &GroupKind, name: &str, errors: &[FieldError]) -> Status {
        let causes = errors.iter().map(FieldError::to_cause).collect();
        let mut message = format!("{gk} {} is invalid", go_quote(name));
        if !errors.is_empty() {
            message.push_str(": ");
            message.push_str(&aggregate_message(errors));
        }
        let details = StatusDetails {
            name: name.to_string(),
            group: gk.group.clone(),
            kind: gk.kind.clone(),
            causes,
            ..StatusDetails::default()
        };
        Status::failure(422, reason::INVALID, message).with_details(details)
    }

    /// `NewBadRequest`: 400 with the message as given.
    pub fn bad_request(message: &str) -> Status {
        Status::failure(400, reason::BAD_REQUEST, message.to_string())
    }

    /// `NewUnauthorized`: 401 with the message as given. kube-apiserver's authentication
    /// filter always sends `Unauthorized`, so that is what an empty message becomes (Go's own
    /// default, `not authorized`, never reaches a client).
    pub fn unauthorized(message: &str) -> Status {
        let message = if message.is_empty() {
            "Unauthorized"
        } else {
            message
        };
        Status::failure(401, reason::UNAUTHORIZED, message.to_string())
    }

    /// The 403 kube-apiserver's authorization filter answers for a resource request
    /// (`responsewriters.Forbidden`): `pods is forbidden: User "x" cannot list resource "pods"
    /// in API group "" in the namespace "ns"`, `pods "web" is forbidden: …` when the request
    /// names an object, `… at the cluster scope` without a namespace, and the authorizer's
    /// reason, if any, after `: `. For subresources and non-resource paths use
    /// [`Status::forbidden_request`].
    pub fn forbidden(
        user: &str,
        verb: &str,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        reason: &str,
    ) -> Status {
        let attributes =
            resource_attributes_message(user, verb, &gr.resource, &gr.group, namespace);
        Status::forbidden_with_message(gr, name, &append_reason(attributes, reason))
    }

    /// The authorization filter's 403 for any request, read from its [`RequestInfo`]: the
    /// resource named with its subresource (`cannot get resource "pods/log"`), and for a
    /// non-resource request `forbidden: User "x" cannot get path "/metrics"`.
    ///
    /// [`RequestInfo`]: crate::RequestInfo
    pub fn forbidden_request(user: &str, info: &crate::RequestInfo, reason: &str) -> Status {
        if !info.is_resource_request {
            let attributes = format!(
                "User {} cannot {} path {}",
                go_quote(user),
                info.verb,
                go_quote(&info.path)
            );
            let message = append_reason(attributes, reason);
            return Status::forbidden_with_message(&GroupResource::default(), "", &message);
        }
        let mut resource = info.resource.clone();
        if !info.subresource.is_empty() {
            resource = format!("{resource}/{}", info.subresource);
        }
        let attributes = resource_attributes_message(
            user,
            &info.verb,
            &resource,
            &info.api_group,
            &info.namespace,
        );
        let gr = GroupResource::new(&info.api_group, &info.resource);
        Status::forbidden_with_message(&gr, &info.name, &append_reason(attributes, reason))
    }

    /// `NewForbidden` with a message of the caller's (admission plugins use it:
    /// `pods "web" is forbidden: exceeded quota: …`); `forbidden: <message>` when there is no
    /// resource.
    pub fn forbidden_with_message(gr: &GroupResource, name: &str, message: &str) -> Status {
        let message = if gr.is_empty() {
            format!("forbidden: {message}")
        } else if name.is_empty() {
            format!("{gr} is forbidden: {message}")
        } else {
            format!("{gr} {} is forbidden: {message}", go_quote(name))
        };
        Status::failure(403, reason::FORBIDDEN, message).with_details(object_details(gr, name))
    }

    /// `NewMethodNotSupported`: 405 `watch is not supported on resources of kind "bindings"`.
    pub fn method_not_supported(gr: &GroupResource, verb: &str) -> Status {
        let message = format!(
            "{verb} is not supported on resources of kind {}",
            go_quote(&gr.to_string())
        );
        let details = StatusDetails {
            group: gr.group.clone(),
            kind: gr.resource.clone(),
            ..StatusDetails::default()
        };
        Status::failure(405, reason::METHOD_NOT_ALLOWED, message).with_details(details)
    }

    /// `negotiation.NewNotAcceptableError`: 406 when no offered media type matches `Accept`.
    pub fn not_acceptable(accepted: &[&str]) -> Status {
        let message = format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        );
        Status::failure(406, reason::NOT_ACCEPTABLE, message)
    }

    /// `NewRequestEntityTooLargeError`: 413 `Request entity too large: <message>`
    /// (kube-apiserver's body limit says `limit is 3145728`).
    pub fn request_entity_too_large(message: &str) -> Status {
        let message = format!("Request entity too large: {message}");
        Status::failure(413, reason::REQUEST_ENTITY_TOO_LARGE, message)
    }

    /// `negotiation.NewUnsupportedMediaTypeError`: 415. kube-apiserver's message lists the
    /// media types it accepts, not the one it was sent.
    pub fn unsupported_media_type(accepted: &[&str]) -> Status {
        let message = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        );
        Status::failure(415, reason::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// `NewTooManyRequests`: 429 with the message as given and `details.retryAfterSeconds`.
    pub fn too_many_requests(message: &str, retry_after_seconds: i32) -> Status {
        let details = StatusDetails {
            retry_after_seconds,
            ..StatusDetails::default()
        };
        Status::failure(429, reason::TOO_MANY_REQUESTS, message.to_string()).with_details(details)
    }

    /// `NewInternalError`: 500 `Internal error occurred: <message>`, the bare message repeated
    /// as the one cause.
    pub fn internal_error(message: &str) -> Status {
        let details = StatusDetails {
            causes: vec![StatusCause {
                message: message.to_string(),
                ..StatusCause::default()
            }],
            ..StatusDetails::default()
        };
        let text = format!("Internal error occurred: {message}");
        Status::failure(500, reason::INTERNAL_ERROR, text).with_details(details)
    }

    /// `NewServiceUnavailable`: 503 with the message as given.
    pub fn service_unavailable(message: &str) -> Status {
        Status::failure(503, reason::SERVICE_UNAVAILABLE, message.to_string())
    }

    /// `NewTimeoutError`: 504 `Timeout: <message>`. Details are always present, so a zero
    /// `retry_after_seconds` serializes as `"details":{}`, as kube-apiserver sends it.
    pub fn timeout(message: &str, retry_after_seconds: i32) -> Status {
        let details = StatusDetails {
            retry_after_seconds,
            ..StatusDetails::default()
        };
        let text = format!("Timeout: {message}");
        Status::failure(504, reason::TIMEOUT, text).with_details(details)
    }

    /// Compact JSON, as kube-apiserver writes it.
    pub fn to_json(&self) -> String {
        // Invariant: a Status holds only strings and integers, which always serialize.
        serde_json::to_string(self).expect("a Status always serializes")
    }

    /// True when `reason` is `r` (one of [`reason`]).
    pub fn is_reason(&self, r: &str) -> bool {
        self.reason == r
    }
}

impl fmt::Display for Status {
    /// The message, as Go's `StatusError.Error()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Status {}

/// The wire form: a Go struct's field order, its `TypeMeta` inlined and `omitempty` applied.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusWire<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    status: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a StatusDetails>,
    #[serde(skip_serializing_if = "is_zero_code")]
    code: u16,
}

/// A Status's `metadata` is a ListMeta, which Go's `omitempty` never drops: `{}`, or
/// `{"continue": …}` for an expired continue token.
#[derive(Serialize)]
struct ListMeta<'a> {
    #[serde(rename = "continue", skip_serializing_if = "str::is_empty")]
    continue_token: &'a str,
}

fn is_zero_code(code: &u16) -> bool {
    *code == 0
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StatusWire {
            kind: "Status",
            api_version: "v1",
            metadata: ListMeta {
                continue_token: &self.continue_token,
            },
            status: &self.status,
            message: &self.message,
            reason: &self.reason,
            details: self.details.as_ref(),
            code: self.code,
        }
        .serialize(serializer)
    }
}

/// The details most errors carry: the object's name, its group, and its resource as `kind`.
fn object_details(gr: &GroupResource, name: &str) -> StatusDetails {
    StatusDetails {
        name: name.to_string(),
        group: gr.group.clone(),
        kind: gr.resource.clone(),
        ..StatusDetails::default()
    }
}

/// `forbiddenMessage` for a resource request, HTML-sanitized as kube-apiserver does before
/// the authorizer's reason is appended.
fn resource_attributes_message(
    user: &str,
    verb: &str,
    resource: &str,
    group: &str,
    namespace: &str,
) -> String {
    let scope = if namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {}", go_quote(namespace))
    };
    format!(
        "User {} cannot {verb} resource {} in API group {} {scope}",
        go_quote(user),
        go_quote(resource),
        go_quote(group)
    )
}

/// The authorization filter's final message: the sanitized attributes, then `: <reason>`.
fn append_reason(attributes: String, reason: &str) -> String {
    let attributes = sanitize_html(&attributes);
    if reason.is_empty() {
        attributes
    } else {
        format!("{attributes}: {reason}")
    }
}

/// kube-apiserver escapes `&`, `<` and `>` in the forbidden message so that it never looks
/// like HTML; quotes stay.
fn sanitize_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// `utilerrors.Aggregate`'s message over a field error list: each distinct message once, in
/// order; bare if only one is left, else `[a, b]`.
fn aggregate_message(errors: &[FieldError]) -> String {
    let mut distinct: Vec<String> = Vec::new();
    for error in errors {
        let text = error.to_string();
        if !distinct.contains(&text) {
            distinct.push(text);
        }
    }
    if distinct.len() == 1 {
        return distinct.remove(0);
    }
    format!("[{}]", distinct.join(", "))
}

/// What kind of field validation error (`field.ErrorType`): the cause's `reason` and the words
/// its message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    Required,
    Invalid,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TypeInvalid,
}

impl FieldErrorType {
    /// The `details.causes[].reason` (`metav1.CauseType`).
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The words the message starts with (`ErrorType.String()`).
    pub fn description(self) -> &'static str {
        match self {
            FieldErrorType::Required => "Required value",
            FieldErrorType::Invalid | FieldErrorType::TypeInvalid => "Invalid value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
        }
    }

    /// Whether the message shows the bad value; required, forbidden and too-long errors
    /// never do.
    fn shows_value(self) -> bool {
        !matches!(
            self,
            FieldErrorType::Required | FieldErrorType::Forbidden | FieldErrorType::TooLong
        )
    }
}

/// One field validation error (`field.Error`). Displays as kube-apiserver prints it:
/// `spec.x: Invalid value: "abc": detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field path, `spec.containers[0].name`.
    pub field: String,
    pub kind: FieldErrorType,
    /// The offending value as JSON; shown only for the kinds that show one.
    pub bad_value: serde_json::Value,
    /// Why, after the value; may be empty.
    pub detail: String,
}

impl FieldError {
    fn new(field: &str, kind: FieldErrorType, bad_value: serde_json::Value, detail: &str) -> Self {
        FieldError {
            field: field.to_string(),
            kind,
            bad_value,
            detail: detail.to_string(),
        }
    }

    /// `field.Required`: `spec.x: Required value`.
    pub fn required(field: &str, detail: &str) -> FieldError {
        FieldError::new(field, FieldErrorType::Required, "".into(), detail)
    }

    /// `field.Invalid`: `spec.x: Invalid value: "abc": detail`.
    pub fn invalid(field: &str, value: serde_json::Value, detail: &str) -> FieldError {
        FieldError::new(field, FieldErrorType::Invalid, value, detail)
    }

    /// `field.Duplicate`: `spec.x: Duplicate value: "a"`.
    pub fn duplicate(field: &str, value: serde_json::Value) -> FieldError {
        FieldError::new(field, FieldErrorType::Duplicate, value, "")
    }

    /// `field.NotSupported`: `spec.x: Unsupported value: "a": supported values: "b", "c"`.
    pub fn not_supported(field: &str, value: serde_json::Value, supported: &[&str]) -> FieldError {
        let mut detail = String::new();
        if !supported.is_empty() {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            detail = format!("supported values: {}", quoted.join(", "));
        }
        FieldError::new(field, FieldErrorType::NotSupported, value, &detail)
    }

    /// `field.Forbidden`: `spec.x: Forbidden: detail`.
    pub fn forbidden(field: &str, detail: &str) -> FieldError {
        FieldError::new(field, FieldErrorType::Forbidden, "".into(), detail)
    }

    /// `field.TooLong`: `spec.x: Too long: may not be more than 63 bytes`; the value itself is
    /// never shown.
    pub fn too_long(field: &str, max_bytes: usize) -> FieldError {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        let detail = format!("may not be more than {max_bytes} {unit}");
        FieldError::new(
            field,
            FieldErrorType::TooLong,
            "<value omitted>".into(),
            &detail,
        )
    }

    /// `field.TypeInvalid`: `spec.x: Invalid value: "abc": must be an integer`.
    pub fn type_invalid(field: &str, value: serde_json::Value, detail: &str) -> FieldError {
        FieldError::new(field, FieldErrorType::TypeInvalid, value, detail)
    }

    /// The message without the field path (`ErrorBody`), which is a cause's `message`.
    pub fn body(&self) -> String {
        let mut body = self.kind.description().to_string();
        if self.kind.shows_value() {
            body.push_str(": ");
            body.push_str(&go_value(&self.bad_value));
        }
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }

    /// The `details.causes` entry kube-apiserver makes of this error.
    pub fn to_cause(&self) -> StatusCause {
        StatusCause {
            reason: self.kind.reason().to_string(),
            message: self.body(),
            field: self.field.clone(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A bad value as `field.Error` prints it: strings with `%q`, numbers and booleans bare,
/// anything else as Go's `json.Marshal` writes it (keys sorted, `<`, `>`, `&` escaped).
fn go_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => go_quote(s),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Null => "null".to_string(),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => go_json(value),
    }
}

/// Go's `json.Marshal` of a decoded JSON value: object keys sorted, HTML-safe escapes.
fn go_json(value: &serde_json::Value) -> String {
    let text = serde_json::to_string(&sorted(value)).unwrap_or_default();
    // `<`, `>`, `&`, U+2028 and U+2029 only ever occur inside JSON strings, so replacing them
    // everywhere is the same as escaping them in strings, as Go does.
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

/// Go's `%q` (`strconv.Quote`): double quotes, `\"` and `\\`, C escapes for `\a\b\f\n\r\t\v`,
/// `\xNN` for other ASCII controls, `\uNNNN`/`\UNNNNNNNN` for other non-printable runes.
/// Printable Unicode stays as it is. Go decides "printable" from the Unicode tables; here
/// controls, spaces other than U+0020, format characters and private use count as not
/// printable, which agrees with Go on everything but unassigned code points.
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `strconv.IsPrint` without Unicode tables (see [`go_quote`]).
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xE000..=0xF8FF
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xFFFE..=0xFFFF
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..=0x10FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> GroupResource {
        GroupResource::new("", "pods")
    }

    fn deployments() -> GroupResource {
        GroupResource::new("apps", "deployments")
    }

    #[test]
    fn group_resource_and_kind_display_as_kube_apiserver_qualifies_them() {
        assert_eq!(pods().to_string(), "pods");
        assert_eq!(deployments().to_string(), "deployments.apps");
        assert_eq!(GroupKind::new("", "Pod").to_string(), "Pod");
        assert_eq!(
            GroupKind::new("apps", "Deployment").to_string(),
            "Deployment.apps"
        );
    }

    #[test]
    fn not_found_json_is_byte_exact() {
        assert_eq!(
            Status::not_found(&pods(), "web").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}"#
        );
        assert_eq!(
            Status::not_found(&deployments(), "web").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" not found","reason":"NotFound","details":{"name":"web","group":"apps","kind":"deployments"},"code":404}"#
        );
    }

    #[test]
    fn invalid_json_is_byte_exact() {
        let errors = [
            FieldError::required("spec.containers[0].name", ""),
            FieldError::invalid(
                "metadata.name",
                json!("A"),
                "a lowercase RFC 1123 subdomain",
            ),
        ];
        assert_eq!(
            Status::invalid(&GroupKind::new("", "Pod"), "web", &errors).to_json(),
            concat!(
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#,
                r#""message":"Pod \"web\" is invalid: [spec.containers[0].name: Required value, metadata.name: Invalid value: \"A\": a lowercase RFC 1123 subdomain]","#,
                r#""reason":"Invalid","details":{"name":"web","kind":"Pod","causes":["#,
                r#"{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].name"},"#,
                r#"{"reason":"FieldValueInvalid","message":"Invalid value: \"A\": a lowercase RFC 1123 subdomain","field":"metadata.name"}"#,
                r#"]},"code":422}"#
            )
        );
    }

    #[test]
    fn timeout_json_keeps_empty_details_and_retry_after() {
        assert_eq!(
            Status::timeout("request did not complete within the allotted timeout", 0).to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: request did not complete within the allotted timeout","reason":"Timeout","details":{},"code":504}"#
        );
        assert_eq!(
            Status::too_many_requests("storage is (re)initializing", 1).to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"storage is (re)initializing","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}"#
        );
    }

    #[test]
    fn internal_error_and_gone_json_are_byte_exact() {
        assert_eq!(
            Status::internal_error("failed calling webhook \"x.example.com\": timeout").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: failed calling webhook \"x.example.com\": timeout","reason":"InternalError","details":{"causes":[{"message":"failed calling webhook \"x.example.com\": timeout"}]},"code":500}"#
        );
        assert_eq!(
            Status::resource_expired("too old resource version: 5 (10)").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (10)","reason":"Expired","code":410}"#
        );
    }

    #[test]
    fn empty_fields_are_omitted_but_metadata_is_not() {
        let status = Status::default();
        assert_eq!(
            status.to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{}}"#
        );
        let success = Status {
            status: STATUS_SUCCESS.to_string(),
            details: Some(StatusDetails {
                name: "web".into(),
                kind: "pods".into(),
                uid: "u-1".into(),
                ..StatusDetails::default()
            }),
            ..Status::default()
        };
        assert_eq!(
            success.to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"web","kind":"pods","uid":"u-1"}}"#
        );
    }

    #[test]
    fn every_constructor_has_kube_apiserver_reason_code_and_message() {
        let ns = "ns";
        let cases: Vec<(Status, u16, &str, &str)> = vec![
            (
                Status::not_found(&pods(), "web"),
                404,
                reason::NOT_FOUND,
                r#"pods "web" not found"#,
            ),
            (
                Status::already_exists(&pods(), "web"),
                409,
                reason::ALREADY_EXISTS,
                r#"pods "web" already exists"#,
            ),
            (
                Status::conflict(&deployments(), "web", "precondition failed"),
                409,
                reason::CONFLICT,
                r#"Operation cannot be fulfilled on deployments.apps "web": precondition failed"#,
            ),
            (
                Status::conflict_stale(&pods(), "web"),
                409,
                reason::CONFLICT,
                r#"Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again"#,
            ),
            (
                Status::resource_expired("too old"),
                410,
                reason::EXPIRED,
                "too old",
            ),
            (Status::gone("gone away"), 410, reason::GONE, "gone away"),
            (
                Status::invalid(
                    &GroupKind::new("", "Namespace"),
                    "Bad",
                    &[FieldError::invalid(
                        "metadata.name",
                        json!("Bad"),
                        "must be lower case",
                    )],
                ),
                422,
                reason::INVALID,
                r#"Namespace "Bad" is invalid: metadata.name: Invalid value: "Bad": must be lower case"#,
            ),
            (
                Status::invalid(&GroupKind::new("apps", "Deployment"), "web", &[]),
                422,
                reason::INVALID,
                r#"Deployment.apps "web" is invalid"#,
            ),
            (Status::bad_request("bad"), 400, reason::BAD_REQUEST, "bad"),
            (
                Status::unauthorized(""),
                401,
                reason::UNAUTHORIZED,
                "Unauthorized",
            ),
            (
                Status::unauthorized("token expired"),
                401,
                reason::UNAUTHORIZED,
                "token expired",
            ),
            (
                Status::forbidden("x", "list", &pods(), ns, "", ""),
                403,
                reason::FORBIDDEN,
                r#"pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "ns""#,
            ),
            (
                Status::method_not_supported(&GroupResource::new("", "bindings"), "watch"),
                405,
                reason::METHOD_NOT_ALLOWED,
                r#"watch is not supported on resources of kind "bindings""#,
            ),
            (
                Status::not_acceptable(&["application/json", "application/yaml"]),
                406,
                reason::NOT_ACCEPTABLE,
                "only the following media types are accepted: application/json, application/yaml",
            ),
            (
                Status::request_entity_too_large("limit is 3145728"),
                413,
                reason::REQUEST_ENTITY_TOO_LARGE,
                "Request entity too large: limit is 3145728",
            ),
            (
                Status::unsupported_media_type(&[
                    "application/json",
                    "application/yaml",
                    "application/vnd.kubernetes.protobuf",
                ]),
                415,
                reason::UNSUPPORTED_MEDIA_TYPE,
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
            ),
            (
                Status::too_many_requests("slow down", 3),
                429,
                reason::TOO_MANY_REQUESTS,
                "slow down",
            ),
            (
                Status::internal_error("boom"),
                500,
                reason::INTERNAL_ERROR,
                "Internal error occurred: boom",
            ),
            (
                Status::service_unavailable("not ready"),
                503,
                reason::SERVICE_UNAVAILABLE,
                "not ready",
            ),
            (
                Status::timeout("request did not complete within requested timeout", 0),
                504,
                reason::TIMEOUT,
                "Timeout: request did not complete within requested timeout",
            ),
        ];
        for (status, code, why, message) in cases {
            assert_eq!(status.code, code, "{message}");
            assert!(status.is_reason(why), "{message}: reason {}", status.reason);
            assert_eq!(status.message, message);
            assert_eq!(status.status, STATUS_FAILURE);
            assert_eq!(status.to_string(), message, "Display is the message");
        }
    }

    #[test]
    fn forbidden_messages_match_the_authorization_filter() {
        let named = Status::forbidden("jane", "get", &pods(), "ns", "web", "");
        assert_eq!(
            named.message,
            r#"pods "web" is forbidden: User "jane" cannot get resource "pods" in API group "" in the namespace "ns""#
        );
        assert_eq!(
            named.details,
            Some(StatusDetails {
                name: "web".into(),
                kind: "pods".into(),
                ..StatusDetails::default()
            })
        );
        let cluster = Status::forbidden(
            "jane",
            "list",
            &GroupResource::new("rbac.authorization.k8s.io", "clusterroles"),
            "",
            "",
            "",
        );
        assert_eq!(
            cluster.message,
            r#"clusterroles.rbac.authorization.k8s.io is forbidden: User "jane" cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope"#
        );
        let with_reason = Status::forbidden(
            "system:serviceaccount:ns:sa",
            "delete",
            &deployments(),
            "ns",
            "web",
            "RBAC: role.rbac.authorization.k8s.io \"r\" not found",
        );
        assert_eq!(
            with_reason.message,
            r#"deployments.apps "web" is forbidden: User "system:serviceaccount:ns:sa" cannot delete resource "deployments" in API group "apps" in the namespace "ns": RBAC: role.rbac.authorization.k8s.io "r" not found"#
        );
    }

    #[test]
    fn forbidden_request_names_subresources_and_paths() {
        let log = crate::request_info::parse("GET", "/api/v1/namespaces/ns/pods/web/log", "");
        assert_eq!(
            Status::forbidden_request("jane", &log, "").message,
            r#"pods "web" is forbidden: User "jane" cannot get resource "pods/log" in API group "" in the namespace "ns""#
        );
        let metrics = crate::request_info::parse("GET", "/metrics", "");
        let status =
            Status::forbidden_request("system:anonymous", &metrics, "no RBAC policy matched");
        assert_eq!(
            status.message,
            r#"forbidden: User "system:anonymous" cannot get path "/metrics": no RBAC policy matched"#
        );
        assert_eq!(
            status.to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/metrics\": no RBAC policy matched","reason":"Forbidden","details":{},"code":403}"#
        );
    }

    #[test]
    fn forbidden_sanitizes_attributes_but_not_the_reason() {
        let status = Status::forbidden("<b>&", "get", &pods(), "ns", "", "a<b");
        assert_eq!(
            status.message,
            r#"pods is forbidden: User "&lt;b&gt;&amp;" cannot get resource "pods" in API group "" in the namespace "ns": a<b"#
        );
    }

    #[test]
    fn forbidden_with_message_is_new_forbidden() {
        assert_eq!(
            Status::forbidden_with_message(&pods(), "web", "exceeded quota: q").message,
            r#"pods "web" is forbidden: exceeded quota: q"#
        );
        assert_eq!(
            Status::forbidden_with_message(&pods(), "", "nope").message,
            "pods is forbidden: nope"
        );
        assert_eq!(
            Status::forbidden_with_message(&GroupResource::default(), "", "nope").message,
            "forbidden: nope"
        );
    }

    #[test]
    fn field_errors_display_as_field_error_does() {
        let cases = [
            (
                FieldError::invalid("spec.x", json!("abc"), "detail"),
                r#"spec.x: Invalid value: "abc": detail"#,
            ),
            (
                FieldError::invalid("spec.x", json!(5), ""),
                "spec.x: Invalid value: 5",
            ),
            (
                FieldError::invalid("spec.x", json!(true), "no"),
                "spec.x: Invalid value: true: no",
            ),
            (
                FieldError::invalid("spec.x", json!(null), ""),
                "spec.x: Invalid value: null",
            ),
            (
                FieldError::invalid("spec.x", json!({"b": 1, "a": "<&>"}), ""),
                r#"spec.x: Invalid value: {"a":"\u003c\u0026\u003e","b":1}"#,
            ),
            (
                FieldError::invalid("spec.x", json!(["a", "b"]), ""),
                r#"spec.x: Invalid value: ["a","b"]"#,
            ),
            (FieldError::required("spec.x", ""), "spec.x: Required value"),
            (
                FieldError::required("spec.x", "name or generateName is required"),
                "spec.x: Required value: name or generateName is required",
            ),
            (
                FieldError::duplicate("spec.x", json!("a")),
                r#"spec.x: Duplicate value: "a""#,
            ),
            (
                FieldError::not_supported("spec.x", json!("a"), &["b", "c"]),
                r#"spec.x: Unsupported value: "a": supported values: "b", "c""#,
            ),
            (
                FieldError::not_supported("spec.x", json!("a"), &[]),
                r#"spec.x: Unsupported value: "a""#,
            ),
            (
                FieldError::forbidden("spec.x", "detail"),
                "spec.x: Forbidden: detail",
            ),
            (
                FieldError::too_long("spec.x", 63),
                "spec.x: Too long: may not be more than 63 bytes",
            ),
            (
                FieldError::too_long("spec.x", 1),
                "spec.x: Too long: may not be more than 1 byte",
            ),
            (
                FieldError::type_invalid("spec.x", json!("abc"), "must be of type integer"),
                r#"spec.x: Invalid value: "abc": must be of type integer"#,
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn field_error_causes_carry_reason_body_and_field() {
        let reasons = [
            (FieldError::required("a", ""), "FieldValueRequired"),
            (FieldError::invalid("a", json!(1), ""), "FieldValueInvalid"),
            (FieldError::duplicate("a", json!(1)), "FieldValueDuplicate"),
            (
                FieldError::not_supported("a", json!(1), &[]),
                "FieldValueNotSupported",
            ),
            (FieldError::forbidden("a", ""), "FieldValueForbidden"),
            (FieldError::too_long("a", 2), "FieldValueTooLong"),
            (
                FieldError::type_invalid("a", json!(1), ""),
                "FieldValueTypeInvalid",
            ),
        ];
        for (error, reason) in reasons {
            let cause = error.to_cause();
            assert_eq!(cause.reason, reason);
            assert_eq!(cause.field, "a");
            assert_eq!(cause.message, error.body());
            assert!(
                !cause.message.starts_with("a:"),
                "the cause message has no field path"
            );
        }
    }

    #[test]
    fn invalid_lists_each_distinct_error_once_but_keeps_every_cause() {
        let twice = FieldError::required("spec.a", "");
        let status = Status::invalid(&GroupKind::new("", "Pod"), "p", &[twice.clone(), twice]);
        assert_eq!(
            status.message,
            r#"Pod "p" is invalid: spec.a: Required value"#
        );
        let causes = status.details.map(|d| d.causes.len());
        assert_eq!(causes, Some(2));
    }

    #[test]
    fn go_quote_matches_strconv_quote() {
        let cases = [
            ("web", r#""web""#),
            ("", r#""""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("a\nb\tc\r", r#""a\nb\tc\r""#),
            ("\u{7}\u{8}\u{c}\u{b}", r#""\a\b\f\v""#),
            ("\u{0}\u{1f}\u{7f}", r#""\x00\x1f\x7f""#),
            (
                "\u{85}\u{a0}\u{200b}\u{feff}",
                r#""\u0085\u00a0\u200b\ufeff""#,
            ),
            ("\u{f0000}", r#""\U000f0000""#),
            ("héllo 世界 🚀", "\"héllo 世界 🚀\""),
        ];
        for (input, quoted) in cases {
            assert_eq!(go_quote(input), quoted, "{input:?}");
        }
        assert_eq!(
            Status::not_found(&pods(), "a\"b").message,
            r#"pods "a\"b" not found"#
        );
    }

    #[test]
    fn deserializes_a_kube_apiserver_status() {
        let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Pod \"p\" is invalid: spec.a: Required value","reason":"Invalid",
            "details":{"name":"p","kind":"Pod","causes":[{"reason":"FieldValueRequired",
            "message":"Required value","field":"spec.a"}],"retryAfterSeconds":2},"code":422}"#;
        let status: Status = serde_json::from_str(body).expect("valid Status");
        let expected = Status {
            details: Some(StatusDetails {
                retry_after_seconds: 2,
                ..Status::invalid(
                    &GroupKind::new("", "Pod"),
                    "p",
                    &[FieldError::required("spec.a", "")],
                )
                .details
                .unwrap_or_default()
            }),
            ..Status::invalid(
                &GroupKind::new("", "Pod"),
                "p",
                &[FieldError::required("spec.a", "")],
            )
        };
        assert_eq!(status, expected);
        let round_trip: Status = serde_json::from_str(&expected.to_json()).expect("own JSON");
        assert_eq!(round_trip, expected);
    }
}
