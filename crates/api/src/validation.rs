//! The generic checks that kube-apiserver's per-kind validation is made of: names (DNS-1123
//! subdomain and label, DNS-1035 label), qualified names (label and annotation keys), label
//! values, annotation size, ports, environment variable names, and the create-time checks of
//! `metadata` (apimachinery's `ValidateObjectMeta`).
//!
//! Each `is_*` check returns the error *details* exactly as apimachinery words them
//! (`k8s.io/apimachinery/pkg/util/validation`), empty when the value is valid; the caller turns
//! each into a field error (`metadata.name: Invalid value: "Foo": <detail>`) in a 422's
//! `details.causes`. Lengths are in bytes and the patterns are ASCII-only, as in Go, so the
//! matchers work on bytes: a string that is not ASCII never matches, whatever its characters.
//!
//! Wording: the messages are those of Kubernetes 1.33, the version `/version` reports. Older
//! releases (1.27-1.31) said `must have at most 262144 bytes` for the annotation size limit;
//! 1.35 moved label keys and values to apimachinery's `content` package, where a too-long name
//! part or value is `must be no more than 63 bytes` and a key with two slashes starts
//! `a valid label key` instead of `a qualified name`.

use std::borrow::Cow;

use crate::status::FieldErrorType;
use serde_json::Value;

/// Longest DNS-1123 label (RFC 1123): namespace names, among others.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain (RFC 1123): most object names.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest DNS-1035 label: service names.
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
/// Longest name part of a qualified name (the part after the optional `prefix/`).
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Longest port name (an IANA_SVC_NAME, RFC 6335).
pub const PORT_NAME_MAX_LENGTH: usize = 15;
/// Most bytes all of an object's annotation keys and values may take together (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

// The patterns as apimachinery writes them: the messages quote them.
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const ENV_VAR_NAME_FMT: &str = "[-._a-zA-Z][-._a-zA-Z0-9]*";

const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const ENV_VAR_NAME_ERR_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";

/// One field error's parts: field path (`metadata.name`), kind, the bad value when the
/// message shows it (apimachinery omits it for Required, Forbidden and TooLong), detail.
pub type MetaFieldError = (String, FieldErrorType, Option<Value>, String);

/// kube-apiserver's `ValidateNameFunc`: checks an object name, or with `prefix` a
/// `generateName` prefix. Each kind picks one ([`name_is_dns_subdomain`] for most).
pub type ValidateNameFunc = fn(name: &str, prefix: bool) -> Vec<String>;

// ---------------------------------------------------------------------------------------------
// Names

/// A DNS-1123 subdomain: at most 253 bytes of dot-separated DNS-1123 labels. Most object names.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain_errors(value.as_bytes())
}

/// A DNS-1123 label: at most 63 bytes of `[-a-z0-9]`, alphanumeric at both ends. Namespaces.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    dns1123_label_errors(value.as_bytes())
}

/// A DNS-1035 label: a DNS-1123 label that starts with a letter. Services.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    dns1035_label_errors(value.as_bytes())
}

/// `ValidateNameFunc` for names that must be DNS-1123 subdomains.
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    dns1123_subdomain_errors(&name_to_check(name, prefix))
}

/// `ValidateNameFunc` for names that must be DNS-1123 labels (namespaces).
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    dns1123_label_errors(&name_to_check(name, prefix))
}

/// `ValidateNameFunc` for names that must be DNS-1035 labels (services).
pub fn name_is_dns1035_label(name: &str, prefix: bool) -> Vec<String> {
    dns1035_label_errors(&name_to_check(name, prefix))
}

/// A `generateName` prefix is checked as the start of a name: a random suffix will follow, so
/// a trailing '-' is fine. apimachinery's `maskTrailingDash` drops the last *two* bytes and
/// appends 'a' (so `abc-` is checked as `aba`), which also makes a 254-byte prefix ending in
/// '-' pass the 253-byte limit; kubesim keeps that quirk so it accepts and rejects the same
/// prefixes. Bytes, not `str`: the cut may split a multi-byte character, as Go's does. Only a
/// masked prefix is copied: names are checked in place.
fn name_to_check(name: &str, prefix: bool) -> Cow<'_, [u8]> {
    let bytes = name.as_bytes();
    if prefix && bytes.len() > 1 && bytes.ends_with(b"-") {
        let mut masked = bytes[..bytes.len() - 2].to_vec();
        masked.push(b'a');
        return Cow::Owned(masked);
    }
    Cow::Borrowed(bytes)
}

fn dns1123_subdomain_errors(value: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

fn dns1123_label_errors(value: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        // A valid subdomain that is not a valid label can only be one with dots.
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

fn dns1035_label_errors(value: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Labels and annotations

/// A qualified name: label keys, annotation keys (lower-cased first), finalizers. An optional
/// DNS-1123 subdomain prefix and '/', then a name of at most 63 bytes of `[-A-Za-z0-9_.]`,
/// alphanumeric at both ends.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    // Nearly every key is valid: say so without building the parts or any message.
    if is_valid_qualified_name(value.as_bytes(), false) {
        return Vec::new();
    }
    let parts: Vec<&[u8]> = value.as_bytes().split(|&b| b == b'/').collect();
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                let prefix_errs = dns1123_subdomain_errors(prefix);
                errs.extend(
                    prefix_errs
                        .into_iter()
                        .map(|msg| format!("prefix part {msg}")),
                );
            }
            *name
        }
        _ => {
            let regex = regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            );
            return vec![format!(
                "a qualified name {regex} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name(name) {
        let regex = regex_error(
            QUALIFIED_NAME_ERR_MSG,
            QUALIFIED_NAME_FMT,
            &["MyName", "my.name", "123-abc"],
        );
        errs.push(format!("name part {regex}"));
    }
    errs
}

/// Whether `value` is a qualified name, without building messages; with `fold_case`, whether
/// its ASCII lower-casing is one (upper-case letters are then also fine in the prefix).
fn is_valid_qualified_name(value: &[u8], fold_case: bool) -> bool {
    let (prefix, name) = match value.iter().position(|&b| b == b'/') {
        Some(slash) => (Some(&value[..slash]), &value[slash + 1..]),
        None => (None, value),
    };
    let name_ok = name.len() <= QUALIFIED_NAME_MAX_LENGTH && matches_qualified_name(name);
    name_ok
        && prefix.is_none_or(|prefix| {
            prefix.len() <= DNS1123_SUBDOMAIN_MAX_LENGTH
                && if fold_case {
                    matches_folded_dns1123_subdomain(prefix)
                } else {
                    matches_dns1123_subdomain(prefix)
                }
        })
}

/// A label value: empty, or at most 63 bytes of `[-A-Za-z0-9_.]`, alphanumeric at both ends.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut errs = Vec::new();
    if bytes.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !(bytes.is_empty() || matches_qualified_name(bytes)) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// apimachinery's `ValidateLabels`: every key a qualified name, every value a label value.
/// All errors are Invalid at `fld_path` itself (`metadata.labels`, not `metadata.labels[k]`),
/// with the bad key or the bad value as the value, in the order the labels come.
pub fn validate_labels<K, V>(
    labels: impl IntoIterator<Item = (K, V)>,
    fld_path: &str,
) -> Vec<MetaFieldError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut errs = Vec::new();
    for (key, value) in labels {
        let (key, value) = (key.as_ref(), value.as_ref());
        for msg in is_qualified_name(key) {
            errs.push(invalid(fld_path, key, msg));
        }
        for msg in is_valid_label_value(value) {
            errs.push(invalid(fld_path, value, msg));
        }
    }
    errs
}

/// apimachinery's `ValidateAnnotations`: every key a qualified name once lower-cased (case
/// does not matter in annotation keys), Invalid at `fld_path` with the key as written; then
/// keys and values together at most [`TOTAL_ANNOTATION_SIZE_LIMIT_BYTES`], else TooLong.
pub fn validate_annotations<K, V>(
    annotations: impl IntoIterator<Item = (K, V)>,
    fld_path: &str,
) -> Vec<MetaFieldError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut errs = Vec::new();
    let mut total_bytes: usize = 0;
    for (key, value) in annotations {
        let (key, value) = (key.as_ref(), value.as_ref());
        // An ASCII key's lower-casing is ASCII lower-casing, which the check can do byte by
        // byte; other keys may lower-case to ASCII (the Kelvin sign to 'k'): those are copied.
        if !(key.is_ascii() && is_valid_qualified_name(key.as_bytes(), true)) {
            for msg in is_qualified_name(&go_to_lower(key)) {
                errs.push(invalid(fld_path, key, msg));
            }
        }
        total_bytes = total_bytes
            .saturating_add(key.len())
            .saturating_add(value.len());
    }
    if total_bytes > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push((
            fld_path.to_string(),
            FieldErrorType::TooLong,
            None,
            format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT_BYTES} bytes"),
        ));
    }
    errs
}

/// Go's `strings.ToLower`: each character's simple lower case. Rust's `to_lowercase` uses the
/// full mapping, which differs only for 'İ' (U+0130): "i̇" in Rust, 'i' in Go. That matters
/// here because Go then accepts 'İ' as an annotation key (as it accepts the Kelvin sign 'K',
/// which both lower-case to 'k').
fn go_to_lower(value: &str) -> String {
    let mut lower = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '\u{130}' {
            lower.push('i');
        } else {
            lower.extend(c.to_lowercase());
        }
    }
    lower
}

fn invalid(fld_path: &str, bad_value: &str, detail: String) -> MetaFieldError {
    (
        fld_path.to_string(),
        FieldErrorType::Invalid,
        Some(Value::String(bad_value.to_string())),
        detail,
    )
}

// ---------------------------------------------------------------------------------------------
// Ports and environment variables

/// A port number: 1 to 65535.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        return Vec::new();
    }
    vec!["must be between 1 and 65535, inclusive".to_string()]
}

/// A port name (IANA_SVC_NAME): at most 15 bytes of `[-a-z0-9]` with at least one letter, no
/// '-' at either end and no "--". Lower case only, although RFC 6335 is case-insensitive.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let bytes = port.as_bytes();
    let mut errs = Vec::new();
    if bytes.len() > PORT_NAME_MAX_LENGTH {
        errs.push(max_len_error(PORT_NAME_MAX_LENGTH));
    }
    if bytes.is_empty() || !bytes.iter().all(|&b| is_lower_alnum(b) || b == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !bytes.iter().any(u8::is_ascii_lowercase) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if bytes.windows(2).any(|pair| pair == b"--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// An environment variable name: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and not `.`, `..` or `..*`
/// (a name a shell or a volume path could mistake for a directory).
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if !matches_env_var_name(value.as_bytes()) {
        errs.push(regex_error(
            ENV_VAR_NAME_ERR_MSG,
            ENV_VAR_NAME_FMT,
            &["my.env-name", "MY_ENV.NAME", "MyEnvName1"],
        ));
    }
    if value == "." {
        errs.push("must not be '.'".to_string());
    } else if value == ".." {
        errs.push("must not be '..'".to_string());
    } else if value.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// ObjectMeta on create

/// What apimachinery's `ValidateObjectMeta` checks on create, on the object's `metadata` as
/// JSON, in its order: `generateName` (as a prefix) and `name` with `name_fn`, name required,
/// namespace required and a DNS-1123 label for `namespaced` kinds and forbidden otherwise,
/// generation not negative, labels, annotations. Call it after the name has been generated
/// from `generateName`, as kube-apiserver does: an empty name is an error even with a
/// `generateName`. Owner references, finalizers and managed fields are not checked here.
///
/// A field of the wrong JSON type (a number for `name`, a list for `labels`) is TypeInvalid;
/// kube-apiserver's decoder rejects those before validation, with a 400.
pub fn validate_object_meta_basics(
    meta: &Value,
    namespaced: bool,
    name_fn: impl Fn(&str, bool) -> Vec<String>,
) -> Vec<MetaFieldError> {
    let fields = match meta {
        Value::Object(meta) => MetaFields::of(meta),
        Value::Null => MetaFields::default(),
        other => return vec![type_invalid("metadata", other, "must be of type object")],
    };
    let mut errs = Vec::new();
    // A generateName of the wrong type is reported once, then treated as none.
    let generate_name =
        string_field(fields.generate_name, "generateName", &mut errs).unwrap_or_default();
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errs.push(invalid("metadata.generateName", generate_name, msg));
        }
    }
    if let Some(name) = string_field(fields.name, "name", &mut errs) {
        if name.is_empty() {
            errs.push(required(
                "metadata.name",
                "name or generateName is required",
            ));
        } else {
            for msg in name_fn(name, false) {
                errs.push(invalid("metadata.name", name, msg));
            }
        }
    }
    if let Some(namespace) = string_field(fields.namespace, "namespace", &mut errs) {
        errs.extend(check_namespace(namespace, namespaced));
    }
    errs.extend(check_generation(fields.generation));
    if let Some(labels) = string_map_field(fields.labels, "labels", &mut errs) {
        errs.extend(validate_labels(string_entries(labels), "metadata.labels"));
    }
    if let Some(annotations) = string_map_field(fields.annotations, "annotations", &mut errs) {
        errs.extend(validate_annotations(
            string_entries(annotations),
            "metadata.annotations",
        ));
    }
    errs
}

/// The `metadata` fields checked on create, found in one pass over `metadata`: six lookups
/// would hash six keys (SipHash) on every create.
#[derive(Default)]
struct MetaFields<'a> {
    generate_name: Option<&'a Value>,
    name: Option<&'a Value>,
    namespace: Option<&'a Value>,
    generation: Option<&'a Value>,
    labels: Option<&'a Value>,
    annotations: Option<&'a Value>,
}

impl<'a> MetaFields<'a> {
    fn of(meta: &'a serde_json::Map<String, Value>) -> Self {
        let mut fields = MetaFields::default();
        for (key, value) in meta {
            let slot = match key.as_str() {
                "generateName" => &mut fields.generate_name,
                "name" => &mut fields.name,
                "namespace" => &mut fields.namespace,
                "generation" => &mut fields.generation,
                "labels" => &mut fields.labels,
                "annotations" => &mut fields.annotations,
                _ => continue,
            };
            *slot = Some(value);
        }
        fields
    }
}

fn check_namespace(namespace: &str, namespaced: bool) -> Vec<MetaFieldError> {
    const PATH: &str = "metadata.namespace";
    match (namespaced, namespace.is_empty()) {
        (true, true) => vec![required(PATH, "")],
        (true, false) => name_is_dns_label(namespace, false)
            .into_iter()
            .map(|msg| invalid(PATH, namespace, msg))
            .collect(),
        (false, true) => Vec::new(),
        (false, false) => vec![(
            PATH.to_string(),
            FieldErrorType::Forbidden,
            None,
            "not allowed on this type".to_string(),
        )],
    }
}

fn check_generation(generation: Option<&Value>) -> Vec<MetaFieldError> {
    const PATH: &str = "metadata.generation";
    match generation {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => match value.as_i64() {
            Some(g) if g < 0 => vec![(
                PATH.to_string(),
                FieldErrorType::Invalid,
                Some(value.clone()),
                "must be greater than or equal to 0".to_string(),
            )],
            Some(_) => Vec::new(),
            None => vec![type_invalid(PATH, value, "must be of type integer")],
        },
    }
}

/// `metadata.<key>` (`field`) as a string: "" when absent or null; None (and a TypeInvalid
/// error) when it is something else.
fn string_field<'a>(
    field: Option<&'a Value>,
    key: &str,
    errs: &mut Vec<MetaFieldError>,
) -> Option<&'a str> {
    match field {
        None | Some(Value::Null) => Some(""),
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            errs.push(type_invalid(
                &format!("metadata.{key}"),
                other,
                "must be of type string",
            ));
            None
        }
    }
}

/// `metadata.<key>` (`field`) as a map of strings: empty when absent or null; each entry whose
/// value is not a string is a TypeInvalid error at `metadata.<key>[<entry>]` (and
/// [`string_entries`] leaves it out); anything but an object is a TypeInvalid error and None.
fn string_map_field<'a>(
    field: Option<&'a Value>,
    key: &str,
    errs: &mut Vec<MetaFieldError>,
) -> Option<Option<&'a serde_json::Map<String, Value>>> {
    let entries = match field {
        None | Some(Value::Null) => return Some(None),
        Some(Value::Object(entries)) => entries,
        Some(other) => {
            errs.push(type_invalid(
                &format!("metadata.{key}"),
                other,
                "must be of type object",
            ));
            return None;
        }
    };
    for (entry, value) in entries {
        if !value.is_string() {
            errs.push(type_invalid(
                &format!("metadata.{key}[{entry}]"),
                value,
                "must be of type string",
            ));
        }
    }
    Some(Some(entries))
}

/// The entries of a [`string_map_field`] whose values are strings, in order.
fn string_entries(
    entries: Option<&serde_json::Map<String, Value>>,
) -> impl Iterator<Item = (&str, &str)> {
    entries
        .into_iter()
        .flatten()
        .filter_map(|(entry, value)| Some((entry.as_str(), value.as_str()?)))
}

fn required(fld_path: &str, detail: &str) -> MetaFieldError {
    (
        fld_path.to_string(),
        FieldErrorType::Required,
        None,
        detail.to_string(),
    )
}

fn type_invalid(fld_path: &str, bad_value: &Value, detail: &str) -> MetaFieldError {
    (
        fld_path.to_string(),
        FieldErrorType::TypeInvalid,
        Some(bad_value.clone()),
        detail.to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// Messages, as apimachinery builds them

/// `MaxLenError`.
pub(crate) fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `EmptyError`.
fn empty_error() -> &'static str {
    "must be non-empty"
}

/// `RegexError`: the message, the examples, the pattern. Each example is followed by "', "
/// and the next one preceded by " or ", hence the double space in `'a',  or 'b'` that
/// kube-apiserver's messages have.
pub(crate) fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(example);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

// ---------------------------------------------------------------------------------------------
// Matchers: each is the anchored pattern named in its comment, written out by hand.

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_dns_char(b: u8) -> bool {
    is_lower_alnum(b) || b == b'-'
}

/// `[-A-Za-z0-9_.]`: qualified names, label values and environment variable names.
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Non-empty, first byte in `first`, last in `last`, every byte in `all` (which holds both).
fn matches_shape(
    value: &[u8],
    first: fn(u8) -> bool,
    last: fn(u8) -> bool,
    all: fn(u8) -> bool,
) -> bool {
    match (value.first(), value.last()) {
        (Some(&f), Some(&l)) => first(f) && last(l) && value.iter().all(|&b| all(b)),
        _ => false,
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1123_label(value: &[u8]) -> bool {
    matches_shape(value, is_lower_alnum, is_lower_alnum, is_dns_char)
}

/// `^label(\.label)*$`: every dot-separated part a label (so no empty part).
fn matches_dns1123_subdomain(value: &[u8]) -> bool {
    value.split(|&b| b == b'.').all(matches_dns1123_label)
}

/// [`matches_dns1123_subdomain`] of the value's ASCII lower-casing.
fn matches_folded_dns1123_subdomain(value: &[u8]) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    let dns_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    value
        .split(|&b| b == b'.')
        .all(|label| matches_shape(label, alnum, alnum, dns_char))
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1035_label(value: &[u8]) -> bool {
    matches_shape(
        value,
        |b| b.is_ascii_lowercase(),
        is_lower_alnum,
        is_dns_char,
    )
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name(value: &[u8]) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    matches_shape(value, alnum, alnum, is_name_char)
}

/// `^[-._a-zA-Z][-._a-zA-Z0-9]*$`
fn matches_env_var_name(value: &[u8]) -> bool {
    matches_shape(
        value,
        |b| !b.is_ascii_digit() && is_name_char(b),
        is_name_char,
        is_name_char,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    // The messages written out in full, not built with the helpers above, so a change in a
    // helper shows up here.
    const SUBDOMAIN_MSG: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const QUALIFIED_NAME_MSG: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const ENV_VAR_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
    const PORT_CHARSET_MSG: &str =
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    const PORT_LETTER_MSG: &str = "must contain at least one letter (a-z)";
    const PORT_HYPHENS_MSG: &str = "must not contain consecutive hyphens";
    const PORT_ENDS_MSG: &str = "must not begin or end with a hyphen";

    fn a(n: usize) -> String {
        "a".repeat(n)
    }

    /// Runs `check` on each case and compares the whole list of messages.
    fn assert_cases(check: fn(&str) -> Vec<String>, cases: &[(&str, &[&str])]) {
        for (value, want) in cases {
            assert_eq!(check(value), *want, "value {value:?}");
        }
    }

    fn assert_valid(check: fn(&str) -> Vec<String>, values: &[&str]) {
        for value in values {
            assert_eq!(check(value), Vec::<String>::new(), "value {value:?}");
        }
    }

    fn assert_invalid(check: fn(&str) -> Vec<String>, values: &[&str]) {
        for value in values {
            assert!(!check(value).is_empty(), "value {value:?} passed");
        }
    }

    // Good and bad values from apimachinery's validation_test.go.
    const LABEL_GOOD: &[&str] = &[
        "a",
        "ab",
        "abc",
        "a1",
        "a-1",
        "a--1--2--b",
        "0",
        "01",
        "012",
        "1a",
        "1-a",
        "1--a--b--2",
    ];
    const LABEL_BAD: &[&str] = &[
        "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a",
        "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a",
        "a b", "1 ", " 1", "1 2",
    ];

    #[test]
    fn dns1123_subdomain_accepts_apimachinerys_good_values() {
        assert_valid(is_dns1123_subdomain, LABEL_GOOD);
        assert_valid(
            is_dns1123_subdomain,
            &[
                "a.a",
                "ab.a",
                "abc.a",
                "a1.a",
                "a-1.a",
                "a--1--2--b.a",
                "a.1",
                "ab.1",
                "abc.1",
                "a1.1",
                "a-1.1",
                "a--1--2--b.1",
                "0.a",
                "01.a",
                "012.a",
                "1a.a",
                "1-a.a",
                "0.1",
                "01.1",
                "012.1",
                "1a.1",
                "1-a.1",
                "1--a--b--2.1",
                "a.b.c.d.e",
                "aa.bb.cc.dd.ee",
                "1.2.3.4.5",
                "11.22.33.44.55",
                &a(253),
                &format!("{}.{}", a(63), a(189)),
            ],
        );
    }

    #[test]
    fn dns1123_subdomain_rejects_apimachinerys_bad_values() {
        assert_invalid(
            is_dns1123_subdomain,
            &[
                "",
                "A",
                "ABC",
                "aBc",
                "A1",
                "A-1",
                "1-A",
                "-",
                "a-",
                "-a",
                "1-",
                "-1",
                "_",
                "a_",
                "_a",
                "a_b",
                "1_",
                "_1",
                "1_2",
                ".",
                "a.",
                ".a",
                "a..b",
                "1.",
                ".1",
                "1..2",
                " ",
                "a ",
                " a",
                "a b",
                "1 ",
                " 1",
                "1 2",
                "A.a",
                "aB.a",
                "ab.A",
                "A1.a",
                "a1.A",
                "A.1",
                "aB.1",
                "A1.1",
                "1A.1",
                "0.A",
                "01.A",
                "012.A",
                "1A.a",
                "1a.A",
                "A.B.C.D.E",
                "AA.BB.CC.DD.EE",
                "a.B.c.d.e",
                "aa.bB.cc.dd.ee",
                "a@b",
                "a,b",
                "a;b",
                "a:b",
                "a%b",
                "a?b",
                "a$b",
                &a(254),
            ],
        );
    }

    #[test]
    fn dns1123_subdomain_messages() {
        let too_long_upper = "A".repeat(254);
        assert_cases(
            is_dns1123_subdomain,
            &[
                ("", &[SUBDOMAIN_MSG]),
                ("Web", &[SUBDOMAIN_MSG]),
                ("web.", &[SUBDOMAIN_MSG]),
                ("wéb", &[SUBDOMAIN_MSG]),
                ("web\n", &[SUBDOMAIN_MSG]),
                (&a(253), &[]),
                (&a(254), &["must be no more than 253 characters"]),
                (
                    &too_long_upper,
                    &["must be no more than 253 characters", SUBDOMAIN_MSG],
                ),
            ],
        );
        // Length is in bytes: 127 two-byte characters are 254 bytes.
        assert_eq!(
            is_dns1123_subdomain(&"é".repeat(127)),
            vec!["must be no more than 253 characters", SUBDOMAIN_MSG]
        );
    }

    #[test]
    fn dns1123_label_accepts_good_and_rejects_bad() {
        assert_valid(is_dns1123_label, LABEL_GOOD);
        assert_valid(is_dns1123_label, &[&a(63)]);
        assert_invalid(is_dns1123_label, LABEL_BAD);
        assert_invalid(is_dns1123_label, &[&a(64)]);
    }

    #[test]
    fn dns1123_label_messages() {
        let long_with_dots = format!("{}.a", a(63));
        assert_cases(
            is_dns1123_label,
            &[
                ("", &[LABEL_MSG]),
                ("Default", &[LABEL_MSG]),
                ("a_b", &[LABEL_MSG]),
                ("ü", &[LABEL_MSG]),
                ("a.b", &["must not contain dots"]),
                ("a..b", &[LABEL_MSG]),
                (&a(63), &[]),
                (&a(64), &["must be no more than 63 characters"]),
                (
                    &long_with_dots,
                    &[
                        "must be no more than 63 characters",
                        "must not contain dots",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn dns1035_label_messages() {
        assert_valid(
            is_dns1035_label,
            &["a", "ab", "abc", "a1", "a-1", "a--1--2--b", &a(63)],
        );
        assert_invalid(
            is_dns1035_label,
            &["0", "01", "012", "1a", "1-a", "1--a--b--2", &a(64)],
        );
        assert_invalid(is_dns1035_label, LABEL_BAD);
        assert_cases(
            is_dns1035_label,
            &[
                ("1web", &[DNS1035_MSG]),
                ("", &[DNS1035_MSG]),
                ("my.svc", &[DNS1035_MSG]),
                (&a(64), &["must be no more than 63 characters"]),
            ],
        );
    }

    #[test]
    fn generate_name_prefix_is_masked_like_apimachinery() {
        // apimachinery's TestMaskTrailingDash.
        for (before, after) in [
            ("", ""),
            ("-", "-"),
            ("-foo", "-foo"),
            ("-foo-", "-foa"),
            ("b-", "a"),
            ("ab", "ab"),
        ] {
            assert_eq!(name_to_check(before, true), after.as_bytes(), "{before:?}");
        }
        assert_eq!(*name_to_check("b-", false), *b"b-");
        // The cut can split a character: 'é' is two bytes, and only its first is kept.
        assert_eq!(*name_to_check("é-", true), [0xc3, b'a']);
    }

    #[test]
    fn name_functions_allow_a_trailing_dash_only_in_a_prefix() {
        let fns: [ValidateNameFunc; 3] = [
            name_is_dns_subdomain,
            name_is_dns_label,
            name_is_dns1035_label,
        ];
        for name_fn in fns {
            assert_eq!(name_fn("web-", true), Vec::<String>::new());
            assert_eq!(name_fn("web", false), Vec::<String>::new());
            assert!(!name_fn("web-", false).is_empty());
            assert!(!name_fn("-", true).is_empty());
            assert!(!name_fn("", true).is_empty());
            assert!(!name_fn("é-", true).is_empty());
        }
        assert_eq!(name_is_dns_subdomain("web-", false), vec![SUBDOMAIN_MSG]);
        assert_eq!(
            name_is_dns_label("a.b-", true),
            vec!["must not contain dots"]
        );
        assert_eq!(name_is_dns1035_label("1a-", true), vec![DNS1035_MSG]);
        // The mask drops the byte before the '-' too, so this prefix passes although every
        // name made from it will fail.
        assert_eq!(name_is_dns1035_label("1-", true), Vec::<String>::new());
        // The mask shortens the prefix by one byte, so 254 bytes ending in '-' pass.
        let prefix = format!("{}-", a(253));
        assert_eq!(name_is_dns_subdomain(&prefix, true), Vec::<String>::new());
        assert_eq!(
            name_is_dns_subdomain(&prefix, false),
            vec!["must be no more than 253 characters", SUBDOMAIN_MSG]
        );
        let prefix = format!("{}-", a(63));
        assert_eq!(name_is_dns_label(&prefix, true), Vec::<String>::new());
    }

    #[test]
    fn qualified_name_accepts_apimachinerys_good_values() {
        assert_valid(
            is_qualified_name,
            &[
                "simple",
                "now-with-dashes",
                "1-starts-with-num",
                "1234",
                "simple/simple",
                "now-with-dashes/simple",
                "now-with-dashes/now-with-dashes",
                "now.with.dots/simple",
                "now-with.dashes-and.dots/simple",
                "1-num.2-num/3-num",
                "1234/5678",
                "1.2.3.4/5678",
                "Uppercase_Is_OK_123",
                "example.com/Uppercase_Is_OK_123",
                "requests.storage-foo",
                "a",
                &a(63),
                &format!("{}/{}", a(253), "b".repeat(63)),
            ],
        );
    }

    #[test]
    fn qualified_name_messages() {
        let long_prefix = format!("{}/abc", a(254));
        assert_cases(
            is_qualified_name,
            &[
                ("nospecialchars%^=@", &[NAME_PART_MSG]),
                ("cantendwithadash-", &[NAME_PART_MSG]),
                ("-cantstartwithadash-", &[NAME_PART_MSG]),
                ("ümlaut", &[NAME_PART_MSG]),
                ("only/one/slash", &[QUALIFIED_NAME_MSG]),
                ("//", &[QUALIFIED_NAME_MSG]),
                (
                    "Example.com/abc",
                    &[&format!("prefix part {SUBDOMAIN_MSG}")],
                ),
                (
                    "example_com/abc",
                    &[&format!("prefix part {SUBDOMAIN_MSG}")],
                ),
                (
                    "example.com/",
                    &["name part must be non-empty", NAME_PART_MSG],
                ),
                ("/simple", &["prefix part must be non-empty"]),
                (
                    "/",
                    &[
                        "prefix part must be non-empty",
                        "name part must be non-empty",
                        NAME_PART_MSG,
                    ],
                ),
                ("", &["name part must be non-empty", NAME_PART_MSG]),
                (&a(64), &["name part must be no more than 63 characters"]),
                (
                    &long_prefix,
                    &["prefix part must be no more than 253 characters"],
                ),
            ],
        );
    }

    #[test]
    fn label_value_messages() {
        assert_valid(
            is_valid_label_value,
            &[
                "simple",
                "now-with-dashes",
                "1-starts-with-num",
                "end-with-num-1",
                "1234",
                "Mixed_Case.and-dots",
                "a",
                &a(63),
                "",
            ],
        );
        let long_bad = format!("{}-", a(63));
        assert_cases(
            is_valid_label_value,
            &[
                ("nospecialchars%^=@", &[LABEL_VALUE_MSG]),
                ("Tama-nui-te-rā.is.Māori.sun", &[LABEL_VALUE_MSG]),
                ("\\backslashes\\are\\bad", &[LABEL_VALUE_MSG]),
                ("-starts-with-dash", &[LABEL_VALUE_MSG]),
                ("ends-with-dash-", &[LABEL_VALUE_MSG]),
                (".starts.with.dot", &[LABEL_VALUE_MSG]),
                ("ends.with.dot.", &[LABEL_VALUE_MSG]),
                ("with/slash", &[LABEL_VALUE_MSG]),
                (" ", &[LABEL_VALUE_MSG]),
                (&a(64), &["must be no more than 63 characters"]),
                (
                    &long_bad,
                    &["must be no more than 63 characters", LABEL_VALUE_MSG],
                ),
            ],
        );
    }

    fn invalid_at(path: &str, value: &str, detail: &str) -> MetaFieldError {
        (
            path.to_string(),
            FieldErrorType::Invalid,
            Some(json!(value)),
            detail.to_string(),
        )
    }

    #[test]
    fn labels_report_the_bad_key_or_value_at_the_labels_field() {
        let labels = BTreeMap::from([
            ("app".to_string(), "web".to_string()),
            ("Bad Key".to_string(), "ok".to_string()),
            ("tier".to_string(), "-front".to_string()),
            ("Example.com/x".to_string(), "".to_string()),
        ]);
        assert_eq!(
            validate_labels(&labels, "metadata.labels"),
            vec![
                invalid_at("metadata.labels", "Bad Key", NAME_PART_MSG),
                invalid_at(
                    "metadata.labels",
                    "Example.com/x",
                    &format!("prefix part {SUBDOMAIN_MSG}")
                ),
                invalid_at("metadata.labels", "-front", LABEL_VALUE_MSG),
            ]
        );
        let none: [(&str, &str); 0] = [];
        assert_eq!(validate_labels(none, "metadata.labels"), vec![]);
        assert_eq!(
            validate_labels([("ok", "")], "spec.selector.matchLabels"),
            vec![]
        );
    }

    #[test]
    fn annotation_keys_are_checked_lower_cased() {
        let valid_keys = [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "1234",
            "simple/simple",
            "now-with-dashes/now-with-dashes",
            "now.with.dots/simple",
            "1.2.3.4/5678",
            "UpperCase123",
            // A label key may not have an upper-case prefix; an annotation key may.
            "Example.com/abc",
            // Go lower-cases 'İ' to 'i' and the Kelvin sign to 'k'.
            "\u{130}",
            "\u{212a}",
        ];
        for key in valid_keys {
            assert_eq!(
                validate_annotations([(key, "v")], "metadata.annotations"),
                vec![],
                "{key:?}"
            );
        }
        assert_eq!(
            validate_annotations(
                [
                    ("nospecialchars^=@", "bar"),
                    ("cantendwithadash-", "bar"),
                    ("only/one/slash", "bar"),
                    ("Ä", "bar"),
                ],
                "metadata.annotations"
            ),
            vec![
                invalid_at("metadata.annotations", "nospecialchars^=@", NAME_PART_MSG),
                invalid_at("metadata.annotations", "cantendwithadash-", NAME_PART_MSG),
                invalid_at("metadata.annotations", "only/one/slash", QUALIFIED_NAME_MSG),
                invalid_at("metadata.annotations", "Ä", NAME_PART_MSG),
            ]
        );
        let long_key = a(254);
        assert_eq!(
            validate_annotations([(long_key.as_str(), "bar")], "metadata.annotations"),
            vec![invalid_at(
                "metadata.annotations",
                &long_key,
                "name part must be no more than 63 characters"
            )]
        );
    }

    #[test]
    fn annotations_may_take_256_kib_in_all() {
        let limit = TOTAL_ANNOTATION_SIZE_LIMIT_BYTES;
        assert_eq!(limit, 262144);
        let too_long = vec![(
            "metadata.annotations".to_string(),
            FieldErrorType::TooLong,
            None,
            "may not be more than 262144 bytes".to_string(),
        )];
        let check = |pairs: &[(&str, String)]| {
            validate_annotations(pairs.iter().map(|(k, v)| (*k, v)), "metadata.annotations")
        };
        // apimachinery's cases: one key, and two keys sharing the limit.
        assert_eq!(check(&[("a", "b".repeat(limit - 1))]), vec![]);
        assert_eq!(check(&[("a", "b".repeat(limit))]), too_long);
        assert_eq!(
            check(&[
                ("a", "b".repeat(limit / 2 - 1)),
                ("c", "d".repeat(limit / 2 - 1))
            ]),
            vec![]
        );
        assert_eq!(
            check(&[("a", "b".repeat(limit / 2)), ("c", "d".repeat(limit / 2))]),
            too_long
        );
        // Bytes, not characters: 'é' is two.
        assert_eq!(check(&[("a", "é".repeat(limit / 2))]), too_long);
    }

    #[test]
    fn port_numbers() {
        for port in [1, 2, 1000, 16384, 32768, 65535] {
            assert_eq!(is_valid_port_num(port), Vec::<String>::new(), "{port}");
        }
        for port in [0, -1, 65536, 100000, i64::MIN, i64::MAX] {
            assert_eq!(
                is_valid_port_num(port),
                vec!["must be between 1 and 65535, inclusive"],
                "{port}"
            );
        }
    }

    #[test]
    fn port_names() {
        assert_valid(
            is_valid_port_name,
            &[
                "telnet",
                "re-mail-ck",
                "pop3",
                "a",
                "a-1",
                "1-a",
                "a-1-b-2-c",
                "1-a-2-b-3",
                "http",
                &a(15),
            ],
        );
        let sixteen = a(16);
        assert_cases(
            is_valid_port_name,
            &[
                (
                    "longerthan15characters",
                    &["must be no more than 15 characters"],
                ),
                (&sixteen, &["must be no more than 15 characters"]),
                ("", &[PORT_CHARSET_MSG, PORT_LETTER_MSG]),
                ("12345", &[PORT_LETTER_MSG]),
                ("1-2-3-4", &[PORT_LETTER_MSG]),
                ("-begin", &[PORT_ENDS_MSG]),
                ("end-", &[PORT_ENDS_MSG]),
                ("two--hyphens", &[PORT_HYPHENS_MSG]),
                ("whois++", &[PORT_CHARSET_MSG]),
                ("HTTP", &[PORT_CHARSET_MSG, PORT_LETTER_MSG]),
                ("-", &[PORT_LETTER_MSG, PORT_ENDS_MSG]),
                ("--", &[PORT_LETTER_MSG, PORT_HYPHENS_MSG, PORT_ENDS_MSG]),
                ("ünïcode", &[PORT_CHARSET_MSG]),
            ],
        );
    }

    #[test]
    fn env_var_names() {
        assert_valid(
            is_env_var_name,
            &[
                "ABC",
                "AbC123",
                "_abc",
                "_",
                "a.b.c",
                "-abc",
                "a-b",
                ".abc",
                "my.env-name",
                "MY_ENV.NAME",
                "MyEnvName1",
            ],
        );
        assert_cases(
            is_env_var_name,
            &[
                ("", &[ENV_VAR_MSG]),
                ("1abc", &[ENV_VAR_MSG]),
                ("a=b", &[ENV_VAR_MSG]),
                ("a b", &[ENV_VAR_MSG]),
                ("ä", &[ENV_VAR_MSG]),
                (".", &["must not be '.'"]),
                ("..", &["must not be '..'"]),
                ("..abc", &["must not start with '..'"]),
                ("..a=b", &[ENV_VAR_MSG, "must not start with '..'"]),
            ],
        );
    }

    #[test]
    fn error_kinds_use_apimachinerys_reasons_and_descriptions() {
        let kinds = [
            (
                FieldErrorType::Required,
                "FieldValueRequired",
                "Required value",
            ),
            (
                FieldErrorType::Invalid,
                "FieldValueInvalid",
                "Invalid value",
            ),
            (
                FieldErrorType::Duplicate,
                "FieldValueDuplicate",
                "Duplicate value",
            ),
            (
                FieldErrorType::NotSupported,
                "FieldValueNotSupported",
                "Unsupported value",
            ),
            (
                FieldErrorType::Forbidden,
                "FieldValueForbidden",
                "Forbidden",
            ),
            (FieldErrorType::TooLong, "FieldValueTooLong", "Too long"),
            (
                FieldErrorType::TypeInvalid,
                "FieldValueTypeInvalid",
                "Invalid value",
            ),
        ];
        for (kind, reason, description) in kinds {
            assert_eq!(kind.reason(), reason);
            assert_eq!(kind.description(), description);
        }
    }

    fn meta_errors(meta: Value, namespaced: bool) -> Vec<MetaFieldError> {
        validate_object_meta_basics(&meta, namespaced, name_is_dns_subdomain)
    }

    fn required_at(path: &str, detail: &str) -> MetaFieldError {
        (
            path.to_string(),
            FieldErrorType::Required,
            None,
            detail.to_string(),
        )
    }

    #[test]
    fn object_meta_valid() {
        assert_eq!(
            meta_errors(json!({"name": "web", "namespace": "default"}), true),
            vec![]
        );
        assert_eq!(
            meta_errors(json!({"name": "node-1.example.com"}), false),
            vec![]
        );
        assert_eq!(
            meta_errors(
                json!({
                    "name": "web-x7k2p",
                    "generateName": "web-",
                    "namespace": "kube-system",
                    "generation": 1,
                    "labels": {"app": "web", "app.kubernetes.io/name": "web", "empty": ""},
                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                    "uid": "anything: not checked on create",
                }),
                true
            ),
            vec![]
        );
        // An explicit null is the same as an absent field.
        assert_eq!(
            meta_errors(
                json!({"name": "web", "namespace": "default", "labels": null, "annotations": null, "generation": null, "generateName": null}),
                true
            ),
            vec![]
        );
    }

    #[test]
    fn object_meta_requires_a_name_and_a_namespace() {
        let both = vec![
            required_at("metadata.name", "name or generateName is required"),
            required_at("metadata.namespace", ""),
        ];
        assert_eq!(meta_errors(json!({}), true), both);
        assert_eq!(meta_errors(Value::Null, true), both);
        assert_eq!(
            meta_errors(json!({"name": "", "namespace": ""}), true),
            both
        );
        assert_eq!(
            meta_errors(json!({}), false),
            vec![required_at(
                "metadata.name",
                "name or generateName is required"
            )]
        );
        // Validation runs after the name is generated: a generateName alone is not enough.
        assert_eq!(
            meta_errors(json!({"generateName": "web-", "namespace": "ns"}), true),
            vec![required_at(
                "metadata.name",
                "name or generateName is required"
            )]
        );
    }

    #[test]
    fn object_meta_checks_names_with_the_kinds_function() {
        assert_eq!(
            meta_errors(
                json!({"name": "Web_1", "generateName": "Web_", "namespace": "default"}),
                true
            ),
            vec![
                invalid_at("metadata.generateName", "Web_", SUBDOMAIN_MSG),
                invalid_at("metadata.name", "Web_1", SUBDOMAIN_MSG),
            ]
        );
        let namespace_errors = |meta| validate_object_meta_basics(&meta, false, name_is_dns_label);
        assert_eq!(
            namespace_errors(json!({"name": "team.a"})),
            vec![invalid_at(
                "metadata.name",
                "team.a",
                "must not contain dots"
            )]
        );
        // apimachinery's TestValidateObjectMetaCustomName: the prefix is checked too.
        let custom = |name: &str, _prefix: bool| {
            if name == "test" {
                Vec::new()
            } else {
                vec!["name-gen".to_string()]
            }
        };
        assert_eq!(
            validate_object_meta_basics(
                &json!({"name": "test", "generateName": "foo"}),
                false,
                custom
            ),
            vec![invalid_at("metadata.generateName", "foo", "name-gen")]
        );
    }

    #[test]
    fn object_meta_namespace_is_a_label_or_forbidden() {
        assert_eq!(
            meta_errors(json!({"name": "test", "namespace": "foo.bar"}), true),
            vec![invalid_at(
                "metadata.namespace",
                "foo.bar",
                "must not contain dots"
            )]
        );
        let long = format!("A{}", a(63));
        assert_eq!(
            meta_errors(json!({"name": "test", "namespace": long}), true),
            vec![
                invalid_at(
                    "metadata.namespace",
                    &long,
                    "must be no more than 63 characters"
                ),
                invalid_at("metadata.namespace", &long, LABEL_MSG),
            ]
        );
        assert_eq!(
            meta_errors(json!({"name": "node-1", "namespace": "default"}), false),
            vec![(
                "metadata.namespace".to_string(),
                FieldErrorType::Forbidden,
                None,
                "not allowed on this type".to_string(),
            )]
        );
    }

    #[test]
    fn object_meta_checks_generation_labels_and_annotations() {
        let huge = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
        assert_eq!(
            meta_errors(
                json!({
                    "name": "web",
                    "generation": -1,
                    "labels": {"app": "web", "bad key": "x"},
                    "annotations": {"a": huge, "bad/key/x": "y"},
                }),
                false
            ),
            vec![
                (
                    "metadata.generation".to_string(),
                    FieldErrorType::Invalid,
                    Some(json!(-1)),
                    "must be greater than or equal to 0".to_string(),
                ),
                invalid_at("metadata.labels", "bad key", NAME_PART_MSG),
                invalid_at("metadata.annotations", "bad/key/x", QUALIFIED_NAME_MSG),
                (
                    "metadata.annotations".to_string(),
                    FieldErrorType::TooLong,
                    None,
                    "may not be more than 262144 bytes".to_string(),
                ),
            ]
        );
    }

    #[test]
    fn object_meta_reports_wrong_json_types() {
        let type_invalid_at = |path: &str, value: Value, detail: &str| {
            (
                path.to_string(),
                FieldErrorType::TypeInvalid,
                Some(value),
                detail.to_string(),
            )
        };
        assert_eq!(
            meta_errors(json!("web"), true),
            vec![type_invalid_at(
                "metadata",
                json!("web"),
                "must be of type object"
            )]
        );
        assert_eq!(
            meta_errors(
                json!({
                    "name": 5,
                    "namespace": ["default"],
                    "generation": "1",
                    "labels": {"app": 1, "tier": "web"},
                    "annotations": "a=b",
                }),
                true
            ),
            vec![
                type_invalid_at("metadata.name", json!(5), "must be of type string"),
                type_invalid_at(
                    "metadata.namespace",
                    json!(["default"]),
                    "must be of type string"
                ),
                type_invalid_at("metadata.generation", json!("1"), "must be of type integer"),
                type_invalid_at("metadata.labels[app]", json!(1), "must be of type string"),
                type_invalid_at(
                    "metadata.annotations",
                    json!("a=b"),
                    "must be of type object"
                ),
            ]
        );
        assert_eq!(
            meta_errors(json!({"name": "web", "generation": 1.5}), false),
            vec![type_invalid_at(
                "metadata.generation",
                json!(1.5),
                "must be of type integer"
            )]
        );
    }

    /// Strings that have broken hand-written matchers elsewhere: empty, separators alone,
    /// separators at the ends, non-ASCII (multi-byte, combining, right-to-left, emoji), control
    /// characters, and lengths around every limit.
    pub(super) fn odd_strings() -> Vec<String> {
        let mut odd: Vec<String> = [
            "",
            "-",
            ".",
            "_",
            "/",
            "//",
            "a/",
            "/a",
            "a//b",
            "..",
            "...",
            "-.",
            ".-",
            "a.-b",
            "a-.b",
            "\0",
            "\n",
            "a\n",
            "\t",
            " ",
            "=",
            "%",
            "é",
            "é-",
            "-é",
            "e\u{301}",
            "\u{130}",
            "\u{212a}",
            "ß",
            "Σ",
            "\u{202e}abc",
            "🦀",
            "🦀-",
            "a🦀",
            "\u{feff}",
            "\u{10ffff}",
            "ǅ",
            "ﬃ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in [15, 16, 62, 63, 64, 252, 253, 254, 255, 1000] {
            odd.push(a(n));
            odd.push(format!("{}-", a(n)));
            odd.push("é".repeat(n));
            odd.push(format!("{}/{}", a(n), a(n)));
            odd.push(".".repeat(n));
            odd.push("/".repeat(n));
        }
        odd
    }

    #[test]
    fn no_input_panics() {
        let checks: [fn(&str) -> Vec<String>; 8] = [
            is_dns1123_subdomain,
            is_dns1123_label,
            is_dns1035_label,
            is_qualified_name,
            is_valid_label_value,
            is_valid_port_name,
            is_env_var_name,
            go_to_lower_as_check,
        ];
        for s in odd_strings() {
            for check in checks {
                let _ = check(&s);
            }
            for prefix in [false, true] {
                let _ = name_is_dns_subdomain(&s, prefix);
                let _ = name_is_dns_label(&s, prefix);
                let _ = name_is_dns1035_label(&s, prefix);
            }
            let _ = validate_labels([(s.as_str(), s.as_str())], "metadata.labels");
            let _ = validate_annotations([(s.as_str(), s.as_str())], "metadata.annotations");
            let meta = json!({
                "name": s, "generateName": s, "namespace": s,
                "labels": {s.as_str(): s}, "annotations": {s.as_str(): s},
            });
            let _ = validate_object_meta_basics(&meta, true, name_is_dns_subdomain);
            let _ = validate_object_meta_basics(&meta, false, name_is_dns_label);
            let _ = validate_object_meta_basics(&json!(s), true, name_is_dns_subdomain);
        }
        for value in [
            json!(null),
            json!(true),
            json!(0),
            json!([]),
            json!({"generation": u64::MAX}),
            json!({"generation": i64::MIN}),
            json!({"labels": [], "annotations": 3}),
            json!({"labels": {"": ""}, "annotations": {"": ""}}),
        ] {
            let _ = validate_object_meta_basics(&value, true, name_is_dns_subdomain);
        }
    }

    fn go_to_lower_as_check(s: &str) -> Vec<String> {
        vec![go_to_lower(s)]
    }

    #[test]
    fn lower_casing_matches_go() {
        assert_eq!(go_to_lower("ABC/Déf"), "abc/déf");
        assert_eq!(go_to_lower("\u{130}"), "i");
        assert_eq!(go_to_lower("\u{212a}"), "k");
        assert_eq!(go_to_lower(""), "");
    }
}

/// Pins every message, field path and their order for many bad (and good) inputs, as the
/// allocating implementation produced them before the success paths were made allocation-free.
/// The rendered output is too long to keep in the source, so its length and FNV-1a hash are
/// pinned; on a mismatch the test prints the output to compare with the old code's.
#[cfg(test)]
mod pinned_output {
    use std::fmt::Write;

    use serde_json::{Value, json};

    use super::*;

    const WANT_LEN: usize = 4_034_047;
    const WANT_HASH: u64 = 11_981_779_155_403_507_324;

    fn inputs() -> Vec<String> {
        let mut values = super::tests::odd_strings();
        let extra = [
            "a",
            "A",
            "Ab",
            "abc-",
            "-abc",
            "a.b",
            "a..b",
            "a_b",
            "ab_",
            "MyName",
            "my.name",
            "123-abc",
            "example.com/MyName",
            "Example.com/MyName",
            "EXAMPLE.COM/x",
            "a/b/c",
            "/",
            "a/",
            "/a",
            "-a/b",
            "a-/b",
            "a.-b/c",
            "example.com/",
            "example.com/-x",
            "example.com/x-",
            "example.com/x_y",
            "ex_ample.com/x",
            "ex ample/x",
            "é/x",
            "x/é",
            "\u{130}/x",
            "x/\u{130}",
            "\u{212a}ey",
            "x/\u{212a}",
            "KEY",
            "Key/Value",
            "k8s.io/x",
            "kubernetes.io/metadata.name",
            "app",
            "app.kubernetes.io/name",
            "1",
            "1a",
            "a1",
        ];
        values.extend(extra.iter().map(|s| s.to_string()));
        for n in [62, 63, 64, 252, 253, 254] {
            let long = "a".repeat(n);
            values.push(format!("{long}/x"));
            values.push(format!("x/{long}"));
            values.push(format!("{long}/{long}"));
            values.push(format!("{}.b/x", "a".repeat(n)));
            values.push(format!("{}/x", "A".repeat(n)));
            values.push(format!("{}-/x", "a".repeat(n)));
            values.push(format!("x/{}_", "a".repeat(n)));
        }
        values
    }

    type Check = fn(&str) -> Vec<String>;

    fn fnv1a(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    fn render_checks(out: &mut String, values: &[String]) {
        let checks: [(&str, Check); 7] = [
            ("subdomain", is_dns1123_subdomain),
            ("label", is_dns1123_label),
            ("dns1035", is_dns1035_label),
            ("qualified", is_qualified_name),
            ("label_value", is_valid_label_value),
            ("port_name", is_valid_port_name),
            ("env", is_env_var_name),
        ];
        let name_fns: [(&str, ValidateNameFunc); 3] = [
            ("name_subdomain", name_is_dns_subdomain),
            ("name_label", name_is_dns_label),
            ("name_dns1035", name_is_dns1035_label),
        ];
        for value in values {
            for (what, check) in checks {
                let _ = writeln!(out, "{what} {value:?} {:?}", check(value));
            }
            for (what, name_fn) in name_fns {
                for prefix in [false, true] {
                    let _ = writeln!(
                        out,
                        "{what} {prefix} {value:?} {:?}",
                        name_fn(value, prefix)
                    );
                }
            }
        }
    }

    fn render_maps(out: &mut String, values: &[String]) {
        // Each value as key and as value, next to a good one, so the order is pinned too.
        let pairs: Vec<(&str, &str)> = values
            .iter()
            .flat_map(|v| {
                [
                    (v.as_str(), "ok"),
                    ("ok", v.as_str()),
                    (v.as_str(), v.as_str()),
                ]
            })
            .collect();
        let _ = writeln!(
            out,
            "labels {:?}",
            validate_labels(pairs.clone(), "metadata.labels")
        );
        let _ = writeln!(out, "annotations {:?}", validate_annotations(pairs, "a.b"));
        for value in values {
            let meta = json!({
                "name": value, "generateName": value, "namespace": value,
                "labels": {value.as_str(): value, "ok": value},
                "annotations": {value.as_str(): value, "Ok/Key": "x"},
            });
            for namespaced in [true, false] {
                let errs = validate_object_meta_basics(&meta, namespaced, name_is_dns_subdomain);
                let _ = writeln!(out, "meta {namespaced} {value:?} {errs:?}");
                let errs = validate_object_meta_basics(&meta, namespaced, name_is_dns1035_label);
                let _ = writeln!(out, "meta1035 {namespaced} {value:?} {errs:?}");
            }
        }
    }

    fn render_metas(out: &mut String) {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
        let metas: Vec<Value> = vec![
            json!(null),
            json!(3),
            json!("x"),
            json!([]),
            json!({}),
            json!({"name": "ok", "namespace": "default"}),
            json!({"name": "", "namespace": ""}),
            json!({"name": 1, "generateName": 2, "namespace": 3, "generation": "x"}),
            json!({"name": "ok", "generation": -1, "labels": 1, "annotations": []}),
            json!({"name": "ok", "generation": 1.5, "labels": {"a": 1, "b": null, "C_": "x"}}),
            json!({"name": "ok", "annotations": {"a": 1, "B": {"c": 2}, "-": "x"}}),
            json!({"name": "ok", "annotations": {"a": big}}),
            json!({"name": "ok", "annotations": {"a": big.clone(), "-": "", "b": 1}}),
            json!({"name": "ok", "annotations": {"": &big[1..]}}),
            json!({"name": "ok", "annotations": {"a": &big[1..]}}),
            json!({"name": "ok", "annotations": {"a": &big[2..]}}),
            json!({"name": "ok", "labels": null, "annotations": null, "generation": null}),
            json!({"generateName": "abc-", "name": "abc-x1"}),
            json!({"generateName": "-", "name": "Abc"}),
            json!({"generateName": "a".repeat(254) + "-", "name": "a".repeat(254)}),
        ];
        for meta in &metas {
            for namespaced in [true, false] {
                let errs = validate_object_meta_basics(meta, namespaced, name_is_dns_label);
                let rendered = format!("{errs:?}");
                // The 256 KiB value would make the output huge: its hash stands in for it.
                let _ = writeln!(
                    out,
                    "meta {namespaced} {:x} {}",
                    fnv1a(&rendered),
                    rendered.len()
                );
            }
        }
    }

    #[test]
    fn fast_checks_agree_with_the_messages() {
        for value in inputs() {
            let lower = go_to_lower(&value);
            let valid = is_qualified_name(&value).is_empty();
            assert_eq!(
                is_valid_qualified_name(value.as_bytes(), false),
                valid,
                "{value:?}"
            );
            if value.is_ascii() {
                let valid_lower = is_qualified_name(&lower).is_empty();
                let folded = is_valid_qualified_name(value.as_bytes(), true);
                assert_eq!(folded, valid_lower, "{value:?}");
            }
        }
    }

    #[test]
    fn output_is_unchanged() {
        let values = inputs();
        let mut out = String::new();
        render_checks(&mut out, &values);
        render_maps(&mut out, &values);
        render_metas(&mut out);
        let (len, hash) = (out.len(), fnv1a(&out));
        if (len, hash) != (WANT_LEN, WANT_HASH) {
            let _ = std::fs::write("/tmp/validation-pinned-output.txt", &out);
        }
        assert_eq!(
            (len, hash),
            (WANT_LEN, WANT_HASH),
            "output in /tmp/validation-pinned-output.txt"
        );
    }
}
