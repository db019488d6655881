//! The small core kinds: ConfigMaps and Secrets (valid keys, 1 MiB of data, immutability,
//! Secret types), Namespaces (DNS-label names, finalizers), ServiceAccounts (metadata only)
//! and Events (core/v1's legacy rules on the involved object's namespace and the newer
//! fields; kube runs no metadata validation of its own for `v1` events, only the generic
//! registry's).

use serde_json::Value;

use super::base64;
use super::fields::{
    Errs, FIELD_IMMUTABLE, Obj, Path, forbidden, invalid, name_errors, required, too_long,
    type_invalid,
};
use super::meta::{self, MetaRules, kube_finalizer_name};
use super::rules::is_config_map_key;
use crate::status::FieldError;
use crate::validation::{
    is_dns1123_subdomain, is_qualified_name, name_is_dns_label, name_is_dns_subdomain,
};

/// `core.MaxSecretSize`: the most bytes of data a ConfigMap or Secret may hold.
pub(crate) const MAX_SECRET_SIZE: usize = 1024 * 1024;
const SERVICE_ACCOUNT_NAME_KEY: &str = "kubernetes.io/service-account.name";

pub(crate) const NAMESPACED_SUBDOMAIN: MetaRules = MetaRules {
    namespaced: true,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: true,
};

pub(crate) const NAMESPACE_RULES: MetaRules = MetaRules {
    namespaced: false,
    name_fn: name_is_dns_label,
    kube_finalizers: true,
};

// ---------------------------------------------------------------------------------------------
// ConfigMaps

/// `ValidateConfigMap`: keys of `data` and `binaryData`, no key in both, 1 MiB in all (an
/// error at the empty path: kube means the whole object).
pub(crate) fn validate_config_map(cm: &Obj, errs: &mut Errs) {
    meta::validate_create(cm, &NAMESPACED_SUBDOMAIN, errs);
    let data = cm.string_map("data", errs).unwrap_or_default();
    let binary = bytes_map(cm, "binaryData", errs);
    let data_path = cm.at_key("data");
    let mut total = 0usize;
    for (key, value) in &data {
        name_errors(&data_path.key(key), key, is_config_map_key(key), errs);
        if binary.iter().any(|(k, _)| k == key) {
            errs.push(invalid(
                &data_path.key(key),
                *key,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(value.len());
    }
    let binary_path = cm.at_key("binaryData");
    for (key, bytes) in &binary {
        name_errors(&binary_path.key(key), key, is_config_map_key(key), errs);
        total = total.saturating_add(bytes.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
}

/// `ValidateConfigMapUpdate`.
pub(crate) fn validate_config_map_update(cm: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(cm, old, true, errs);
    immutable_contents(cm, old, &["data", "binaryData"], errs);
    validate_config_map(cm, errs);
}

/// Once `immutable: true`, it stays, and so do the listed fields.
fn immutable_contents(new: &Obj, old: &Obj, fields: &[&str], errs: &mut Errs) {
    if old.raw("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    let detail = "field is immutable when `immutable` is set";
    if new.raw("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(forbidden(&new.at_key("immutable"), detail));
    }
    for field in fields {
        let (a, b) = (new.raw(field), old.raw(field));
        let empty =
            |v: Option<&Value>| v.is_none_or(|v| v.as_object().is_some_and(|m| m.is_empty()));
        if a != b && !(empty(a) && empty(b)) {
            errs.push(forbidden(&new.at_key(field), detail));
        }
    }
}

/// A `map[string][]byte` field (base64 in JSON), decoded; undecodable values are reported.
fn bytes_map<'a>(obj: &Obj<'a>, key: &str, errs: &mut Errs) -> Vec<(&'a str, Vec<u8>)> {
    let path = obj.at_key(key);
    let Some(entries) = obj.raw(key) else {
        return Vec::new();
    };
    let Some(entries) = entries.as_object() else {
        errs.push(type_invalid(&path, entries, "object"));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match v {
            Value::Null => out.push((k.as_str(), Vec::new())),
            Value::String(s) => match base64::decode(s) {
                Ok(bytes) => out.push((k.as_str(), bytes)),
                Err(at) => errs.push(bad_base64(&path.key(k), v, at)),
            },
            other => errs.push(type_invalid(&path.key(k), other, "string")),
        }
    }
    out
}

fn bad_base64(path: &Path, value: &Value, at: usize) -> FieldError {
    let mut error = type_invalid(path, value, "string");
    error.detail = format!("illegal base64 data at input byte {at}");
    error
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// `ValidateSecret`: keys, size, then what the secret's type requires. `stringData` is
/// folded into `data` first, as kube's conversion does.
pub(crate) fn validate_secret(secret: &Obj, errs: &mut Errs) {
    meta::validate_create(secret, &NAMESPACED_SUBDOMAIN, errs);
    let data = secret_data(secret, errs);
    let data_path = secret.at_key("data");
    let mut total = 0usize;
    for (key, bytes) in &data {
        name_errors(&data_path.key(key), key, is_config_map_key(key), errs);
        total = total.saturating_add(bytes.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(too_long(&data_path, MAX_SECRET_SIZE));
    }
    let kind = secret.str("type", errs).unwrap_or_default();
    secret_type_rules(secret, kind, &data, errs);
}

/// `data` decoded, with `stringData` entries added or overriding.
fn secret_data<'a>(secret: &Obj<'a>, errs: &mut Errs) -> Vec<(&'a str, Vec<u8>)> {
    let mut data = bytes_map(secret, "data", errs);
    for (key, value) in secret.string_map("stringData", errs).unwrap_or_default() {
        data.retain(|(k, _)| *k != key);
        data.push((key, value.as_bytes().to_vec()));
    }
    data
}

fn secret_type_rules(secret: &Obj, kind: &str, data: &[(&str, Vec<u8>)], errs: &mut Errs) {
    let data_path = secret.at_key("data");
    let get = |key: &str| data.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    let require = |key: &str, errs: &mut Errs| {
        if get(key).is_none() {
            errs.push(required(&data_path.key(key), ""));
        }
    };
    match kind {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .raw("metadata")
                .and_then(|m| {
                    m.pointer(&format!(
                        "/annotations/{}",
                        SERVICE_ACCOUNT_NAME_KEY.replace('/', "~1")
                    ))
                })
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() {
                let path = Path::new("metadata")
                    .child("annotations")
                    .key(SERVICE_ACCOUNT_NAME_KEY);
                errs.push(required(&path, ""));
            }
        }
        "kubernetes.io/dockercfg" => {
            docker_config(&data_path, ".dockercfg", get(".dockercfg"), errs)
        }
        "kubernetes.io/dockerconfigjson" => {
            docker_config(
                &data_path,
                ".dockerconfigjson",
                get(".dockerconfigjson"),
                errs,
            );
        }
        "kubernetes.io/basic-auth" if get("username").is_none() && get("password").is_none() => {
            require("username", errs);
            require("password", errs);
        }
        "kubernetes.io/ssh-auth" if get("ssh-privatekey").is_none_or(Vec::is_empty) => {
            errs.push(required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            require("tls.crt", errs);
            require("tls.key", errs);
        }
        _ => {}
    }
}

/// A Docker config key must be there and hold a JSON object; kube redacts the contents in
/// its message and appends Go's JSON error (kubesim appends serde's).
fn docker_config(data_path: &Path, key: &str, contents: Option<&Vec<u8>>, errs: &mut Errs) {
    let path = data_path.key(key);
    let Some(contents) = contents else {
        errs.push(required(&path, ""));
        return;
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(contents) {
        errs.push(invalid(&path, "<secret contents redacted>", &e.to_string()));
    }
}

/// `ValidateSecretUpdate`.
pub(crate) fn validate_secret_update(secret: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(secret, old, true, errs);
    let (new_type, old_type) = (secret.peek_str("type"), old.peek_str("type"));
    if new_type != old_type {
        errs.push(invalid(&secret.at_key("type"), new_type, FIELD_IMMUTABLE));
    }
    immutable_contents(secret, old, &["data"], errs);
    validate_secret(secret, errs);
}

// ---------------------------------------------------------------------------------------------
// Namespaces and ServiceAccounts

/// `ValidateNamespace`: metadata, then each `spec.finalizers` entry (reported at the list's
/// path, unindexed, as kube does).
pub(crate) fn validate_namespace(ns: &Obj, errs: &mut Errs) {
    meta::validate_create(ns, &NAMESPACE_RULES, errs);
    let Some(spec) = ns.obj("spec", errs) else {
        return;
    };
    let path = spec.at_key("finalizers");
    for (_, name) in spec.strings("finalizers", errs).unwrap_or_default() {
        name_errors(&path, name, is_qualified_name(name), errs);
        kube_finalizer_name(&path, name, errs);
    }
}

/// `ValidateServiceAccount`: metadata only.
pub(crate) fn validate_service_account(sa: &Obj, errs: &mut Errs) {
    meta::validate_create(sa, &NAMESPACED_SUBDOMAIN, errs);
}

// ---------------------------------------------------------------------------------------------
// Events

const REPORTING_INSTANCE_LIMIT: usize = 128;
const ACTION_LIMIT: usize = 128;
const REASON_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

/// core's `legacyValidateEvent`: what a `v1` event must satisfy on create and update.
pub(crate) fn validate_event(event: &Obj, errs: &mut Errs) {
    let mut quiet = Errs::new();
    let namespace = event
        .obj("metadata", &mut quiet)
        .map(|m| m.peek_str("namespace"))
        .unwrap_or_default();
    let involved = event
        .obj("involvedObject", errs)
        .map(|o| o.str("namespace", errs).unwrap_or_default())
        .unwrap_or_default();
    let mismatch = Path::new("involvedObject").child("namespace");
    let mismatch_msg = "does not match event.namespace";
    if !has_event_time(event) {
        let allowed = if involved.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == involved
        };
        if !allowed {
            errs.push(invalid(&mismatch, involved, mismatch_msg));
        }
    } else {
        if involved.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.push(invalid(&mismatch, involved, mismatch_msg));
        }
        new_event_fields(event, errs);
    }
    name_errors(
        &Path::new("namespace"),
        namespace,
        is_dns1123_subdomain(namespace),
        errs,
    );
}

/// Events written with `eventTime` (events.k8s.io style) must also say who reported what.
fn new_event_fields(event: &Obj, errs: &mut Errs) {
    let controller = event.str("reportingComponent", errs).unwrap_or_default();
    let controller_path = Path::new("reportingController");
    if controller.is_empty() {
        errs.push(required(&controller_path, ""));
    }
    name_errors(
        &controller_path,
        controller,
        is_qualified_name(controller),
        errs,
    );
    for (key, path_name, limit) in [
        (
            "reportingInstance",
            "reportingInstance",
            REPORTING_INSTANCE_LIMIT,
        ),
        ("action", "action", ACTION_LIMIT),
        ("reason", "reason", REASON_LIMIT),
    ] {
        let value = event.str(key, errs).unwrap_or_default();
        let path = Path::new(path_name);
        if value.is_empty() {
            errs.push(required(&path, ""));
        }
        if value.len() > limit {
            errs.push(invalid(
                &path,
                "",
                &format!("can have at most {limit} characters"),
            ));
        }
    }
    if event.str("message", errs).unwrap_or_default().len() > NOTE_LIMIT {
        let detail = format!("can have at most {NOTE_LIMIT} characters");
        errs.push(invalid(&Path::new("message"), "", &detail));
    }
}

/// Whether `eventTime` is set (Go's zero time reads as unset).
fn has_event_time(event: &Obj) -> bool {
    match event.raw("eventTime") {
        Some(Value::String(t)) => !t.is_empty() && !t.starts_with("0001-01-01T00:00:00"),
        Some(_) => true,
        None => false,
    }
}
