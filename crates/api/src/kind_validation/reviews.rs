//! The bodies of the review APIs and of TokenRequest. They are not stored, so kube checks them
//! in their REST handlers rather than in a strategy: the access reviews with
//! `ValidateSubjectAccessReview`, `ValidateSelfSubjectAccessReview` and
//! `ValidateLocalSubjectAccessReview` (`pkg/apis/authorization/validation`, 1.33 wording),
//! TokenRequest with `ValidateTokenRequest`.

use serde_json::{Map, Value};

use crate::status::FieldError;

/// The shortest and longest lifetimes a TokenRequest may ask for.
pub const MIN_TOKEN_EXPIRATION_SECONDS: i64 = 10 * 60;
pub const MAX_TOKEN_EXPIRATION_SECONDS: i64 = 1 << 32;

/// Which access review a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessReview {
    SubjectAccessReview,
    SelfSubjectAccessReview,
    LocalSubjectAccessReview,
}

impl AccessReview {
    pub fn from_kind(kind: &str) -> Option<AccessReview> {
        match kind {
            "SubjectAccessReview" => Some(AccessReview::SubjectAccessReview),
            "SelfSubjectAccessReview" => Some(AccessReview::SelfSubjectAccessReview),
            "LocalSubjectAccessReview" => Some(AccessReview::LocalSubjectAccessReview),
            _ => None,
        }
    }
}

/// The errors kube reports for an access review `object` (v1 JSON, its namespace already set
/// from the URL for a LocalSubjectAccessReview); empty when valid.
pub fn validate_access_review(review: AccessReview, object: &Value) -> Vec<FieldError> {
    let empty = Value::Object(Map::new());
    let spec = object
        .get("spec")
        .filter(|s| s.is_object())
        .unwrap_or(&empty);
    let mut errs = spec_errors(spec, review != AccessReview::SelfSubjectAccessReview);
    let metadata = object.get("metadata").unwrap_or(&Value::Null);
    match review {
        AccessReview::LocalSubjectAccessReview => {
            if has_set_fields(metadata, &["managedFields", "namespace"]) {
                errs.push(FieldError::invalid(
                    "metadata",
                    metadata.clone(),
                    "must be empty except for namespace",
                ));
            }
            local_namespace(object, spec, &mut errs);
        }
        _ => {
            if has_set_fields(metadata, &["managedFields"]) {
                errs.push(FieldError::invalid(
                    "metadata",
                    metadata.clone(),
                    "must be empty",
                ));
            }
        }
    }
    errs
}

/// `ValidateSubjectAccessReviewSpec` (`with_subject`) or `ValidateSelfSubjectAccessReviewSpec`.
fn spec_errors(spec: &Value, with_subject: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let resource = present(spec, "resourceAttributes");
    let non_resource = present(spec, "nonResourceAttributes");
    match (resource, non_resource) {
        (Some(_), Some(non_resource)) => errs.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            non_resource.clone(),
            "cannot be specified in combination with resourceAttributes",
        )),
        // Go prints the nil pointer it was given as the quoted string "null".
        (None, None) => errs.push(FieldError::invalid(
            "spec.resourceAttributes",
            Value::from("null"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if with_subject {
        let user = text(spec, "user");
        let no_groups = spec
            .get("groups")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if user.is_empty() && no_groups {
            errs.push(FieldError::invalid(
                "spec.user",
                Value::from(user),
                "at least one of user or group must be specified",
            ));
        }
    }
    if let Some(resource) = resource {
        for selector in ["fieldSelector", "labelSelector"] {
            if let Some(attributes) = present(resource, selector) {
                selector_errors(attributes, selector, &mut errs);
            }
        }
    }
    errs
}

/// A selector's attributes: its raw text or its requirements, exactly one.
fn selector_errors(attributes: &Value, selector: &str, errs: &mut Vec<FieldError>) {
    let path = format!("spec.resourceAttributes.{selector}");
    let raw = text(attributes, "rawSelector");
    let has_requirements = attributes
        .get("requirements")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    if !raw.is_empty() && has_requirements {
        errs.push(FieldError::invalid(
            &format!("{path}.rawSelector"),
            Value::from(raw),
            "may not specified at the same time as requirements",
        ));
    }
    if raw.is_empty() && !has_requirements {
        errs.push(FieldError::required(
            &format!("{path}.requirements"),
            &format!("when {path} is specified, requirements or rawSelector is required"),
        ));
    }
}

/// A LocalSubjectAccessReview asks about its own namespace, and only about resources.
fn local_namespace(object: &Value, spec: &Value, errs: &mut Vec<FieldError>) {
    let namespace = object
        .get("metadata")
        .map(|m| text(m, "namespace"))
        .unwrap_or("");
    if let Some(resource) = present(spec, "resourceAttributes") {
        let asked = text(resource, "namespace");
        if asked != namespace {
            errs.push(FieldError::invalid(
                "spec.resourceAttributes.namespace",
                Value::from(asked),
                "must match metadata.namespace",
            ));
        }
    }
    if let Some(non_resource) = present(spec, "nonResourceAttributes") {
        errs.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            non_resource.clone(),
            "disallowed on this kind of request",
        ));
    }
}

/// `ValidateTokenRequest`: a lifetime of at least 10 minutes and at most 2^32 seconds.
/// `expiration_seconds` is after defaulting (3600 when absent).
pub fn validate_token_request(expiration_seconds: i64) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if expiration_seconds < MIN_TOKEN_EXPIRATION_SECONDS {
        errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            Value::from(expiration_seconds),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration_seconds > MAX_TOKEN_EXPIRATION_SECONDS {
        errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            Value::from(expiration_seconds),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    errs
}

/// A field that Go would decode to a non-nil pointer: present and not `null`.
fn present<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Whether `metadata` differs from Go's zero ObjectMeta in a field other than `ignored`:
/// `null`, `""`, `0`, `false`, `{}` and `[]` are all zero (apimachinery's semantic
/// equality takes empty and nil maps and slices as equal).
fn has_set_fields(metadata: &Value, ignored: &[&str]) -> bool {
    let Some(fields) = metadata.as_object() else {
        return !metadata.is_null();
    };
    fields
        .iter()
        .any(|(key, value)| !ignored.contains(&key.as_str()) && !is_zero(value))
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(review: AccessReview, object: Value) -> Vec<String> {
        validate_access_review(review, &object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_subject_access_review_needs_one_kind_of_attributes_and_a_subject() {
        let sar = AccessReview::SubjectAccessReview;
        assert_eq!(
            messages(
                sar,
                json!({"metadata": {"creationTimestamp": null}, "spec": {}})
            ),
            [
                "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
                "spec.user: Invalid value: \"\": at least one of user or group must be specified",
            ]
        );
        let both = json!({"spec": {"user": "jane",
            "resourceAttributes": {"verb": "get"},
            "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}});
        assert_eq!(
            messages(sar, both),
            [
                "spec.nonResourceAttributes: Invalid value: {\"path\":\"/healthz\",\"verb\":\"get\"}: cannot be specified in combination with resourceAttributes"
            ]
        );
        let groups_only = json!({"spec": {"groups": ["dev"], "resourceAttributes": {}}});
        assert_eq!(messages(sar, groups_only), Vec::<String>::new());
        let named =
            json!({"metadata": {"name": "x"}, "spec": {"user": "u", "resourceAttributes": {}}});
        assert_eq!(
            messages(sar, named),
            ["metadata: Invalid value: {\"name\":\"x\"}: must be empty"]
        );
    }

    #[test]
    fn a_self_review_has_no_subject_and_selectors_are_one_of_two_forms() {
        let ssar = AccessReview::SelfSubjectAccessReview;
        let ok = json!({"metadata": {"creationTimestamp": null, "labels": {}},
                        "spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}});
        assert_eq!(messages(ssar, ok), Vec::<String>::new());
        let selectors = json!({"spec": {"resourceAttributes": {
            "fieldSelector": {},
            "labelSelector": {"rawSelector": "a=b", "requirements": [{"key": "a", "operator": "In", "values": ["b"]}]}
        }}});
        assert_eq!(
            messages(ssar, selectors),
            [
                "spec.resourceAttributes.fieldSelector.requirements: Required value: when spec.resourceAttributes.fieldSelector is specified, requirements or rawSelector is required",
                "spec.resourceAttributes.labelSelector.rawSelector: Invalid value: \"a=b\": may not specified at the same time as requirements",
            ]
        );
    }

    #[test]
    fn a_local_review_stays_in_its_namespace() {
        let local = AccessReview::LocalSubjectAccessReview;
        let ok = json!({"metadata": {"namespace": "dev"},
                        "spec": {"user": "u", "resourceAttributes": {"namespace": "dev", "verb": "get"}}});
        assert_eq!(messages(local, ok), Vec::<String>::new());
        let elsewhere = json!({"metadata": {"namespace": "dev", "name": "n"},
                               "spec": {"user": "u", "resourceAttributes": {"namespace": "prod"}}});
        assert_eq!(
            messages(local, elsewhere),
            [
                "metadata: Invalid value: {\"name\":\"n\",\"namespace\":\"dev\"}: must be empty except for namespace",
                "spec.resourceAttributes.namespace: Invalid value: \"prod\": must match metadata.namespace",
            ]
        );
        let path = json!({"metadata": {"namespace": "dev"},
                          "spec": {"user": "u", "nonResourceAttributes": {"path": "/x"}}});
        assert_eq!(
            messages(local, path),
            [
                "spec.nonResourceAttributes: Invalid value: {\"path\":\"/x\"}: disallowed on this kind of request"
            ]
        );
    }

    #[test]
    fn token_lifetimes_are_bounded() {
        assert!(validate_token_request(600).is_empty());
        assert!(validate_token_request(1 << 32).is_empty());
        let short: Vec<String> = validate_token_request(599)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            short,
            [
                "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
            ]
        );
        let long: Vec<String> = validate_token_request((1 << 32) + 1)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            long,
            [
                "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"
            ]
        );
    }
}
