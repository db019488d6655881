//! Mutating and validating webhook configurations (`admissionregistration.k8s.io/v1`;
//! kube's `pkg/apis/admissionregistration/validation`): per webhook a fully qualified name,
//! rules, policies, side effects, timeout, selectors, client config and match conditions,
//! then its AdmissionReview versions and a unique name.
//!
//! On update, kube only enforces the newer rules (no side effects, a recognized review
//! version, unique names) if the old configuration already met them, so an object stored
//! before a rule existed can still be edited. Match conditions are checked for names and a
//! non-empty expression; kubesim does not compile the CEL.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{
    Errs, Obj, Path, duplicate, invalid, name_errors, not_supported, required, too_many,
};
use super::meta::{self, MetaRules};
use super::rules::fully_qualified_name;
use super::selector;
use crate::validation::{
    is_dns1035_label, is_dns1123_subdomain, is_qualified_name, is_valid_port_num,
};

const RULES: MetaRules = MetaRules {
    namespaced: false,
    name_fn: crate::validation::name_is_dns_subdomain,
    kube_finalizers: false,
};

const FAILURE_POLICIES: [&str; 2] = ["Fail", "Ignore"];
const MATCH_POLICIES: [&str; 2] = ["Equivalent", "Exact"];
const REINVOCATION_POLICIES: [&str; 2] = ["IfNeeded", "Never"];
const ALL_SIDE_EFFECTS: [&str; 4] = ["None", "NoneOnDryRun", "Some", "Unknown"];
const NO_SIDE_EFFECTS: [&str; 2] = ["None", "NoneOnDryRun"];
const OPERATIONS: [&str; 5] = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const SCOPES: [&str; 3] = ["*", "Cluster", "Namespaced"];
/// The AdmissionReview versions kube accepts in a webhook configuration.
const REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];
const MAX_MATCH_CONDITIONS: usize = 64;
/// kubesim's annotation on a webhook configuration naming its webhooks' transport
/// (`crates/admission`, docs/admission.md), and the values it takes: a misspelt one is refused
/// here rather than leaving the configuration unused.
pub const ADMISSION_TRANSPORT_ANNOTATION: &str = "admission.kubesim.io/transport";
pub const ADMISSION_TRANSPORTS: [&str; 2] = ["grpc", "https"];
const URL_FORMAT: &str = "; desired format: https://host[/path]";

/// Which of the newer rules apply (all of them on create).
#[derive(Clone, Copy)]
struct Options {
    mutating: bool,
    require_no_side_effects: bool,
    require_recognized_version: bool,
    require_unique_names: bool,
}

/// `ValidateMutatingWebhookConfiguration` / `ValidateValidatingWebhookConfiguration`.
pub(crate) fn validate_create(config: &Obj, mutating: bool, errs: &mut Errs) {
    let options = Options {
        mutating,
        require_no_side_effects: true,
        require_recognized_version: true,
        require_unique_names: true,
    };
    validate(config, options, errs);
}

/// The update variants: the newer rules hold only if the old object met them.
pub(crate) fn validate_update(config: &Obj, old: &Obj, mutating: bool, errs: &mut Errs) {
    let old_hooks = old.peek_list("webhooks");
    let options = Options {
        mutating,
        require_no_side_effects: old_hooks.iter().all(|h| {
            h.get("sideEffects")
                .and_then(Value::as_str)
                .is_some_and(|s| NO_SIDE_EFFECTS.contains(&s))
        }),
        require_recognized_version: old_hooks.iter().all(has_recognized_version),
        require_unique_names: unique_names(old_hooks),
    };
    validate(config, options, errs);
}

fn transport_annotation(config: &Obj, errs: &mut Errs) {
    let value = config
        .raw("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(ADMISSION_TRANSPORT_ANNOTATION));
    let Some(value) = value else {
        return;
    };
    if !value
        .as_str()
        .is_some_and(|v| ADMISSION_TRANSPORTS.contains(&v))
    {
        let path = config
            .at_key("metadata")
            .child("annotations")
            .key(ADMISSION_TRANSPORT_ANNOTATION);
        errs.push(not_supported(&path, value.clone(), &ADMISSION_TRANSPORTS));
    }
}

fn has_recognized_version(hook: &Value) -> bool {
    let versions = hook
        .get("admissionReviewVersions")
        .and_then(Value::as_array);
    versions.is_none_or(|vs| {
        vs.is_empty()
            || vs
                .iter()
                .any(|v| v.as_str().is_some_and(|v| REVIEW_VERSIONS.contains(&v)))
    })
}

fn unique_names(hooks: &[Value]) -> bool {
    let mut seen = BTreeSet::new();
    hooks
        .iter()
        .all(|h| seen.insert(h.get("name").and_then(Value::as_str).unwrap_or_default()))
}

fn validate(config: &Obj, options: Options, errs: &mut Errs) {
    meta::validate_create(config, &RULES, errs);
    transport_annotation(config, errs);
    let mut names = BTreeSet::new();
    for hook in config.objects("webhooks", errs) {
        webhook(&hook, options, errs);
        review_versions(&hook, options.require_recognized_version, errs);
        let name = hook.peek_str("name");
        if options.require_unique_names && !name.is_empty() && !names.insert(name) {
            errs.push(duplicate(&hook.at_key("name"), name));
        }
    }
}

/// `validateMutatingWebhook` / `validateValidatingWebhook`.
fn webhook(hook: &Obj, options: Options, errs: &mut Errs) {
    let name = hook.str("name", errs).unwrap_or_default();
    fully_qualified_name(&hook.at_key("name"), name, errs);
    for rule in hook.objects("rules", errs) {
        rule_with_operations(&rule, errs);
    }
    optional_one_of(hook, "failurePolicy", &FAILURE_POLICIES, errs);
    optional_one_of(hook, "matchPolicy", &MATCH_POLICIES, errs);
    side_effects(hook, options.require_no_side_effects, errs);
    if let Some(Some(timeout)) = hook.opt_int("timeoutSeconds", errs)
        && !(1..=30).contains(&timeout)
    {
        let detail = "the timeout value must be between 1 and 30 seconds";
        errs.push(invalid(&hook.at_key("timeoutSeconds"), timeout, detail));
    }
    for key in ["namespaceSelector", "objectSelector"] {
        if let Some(s) = hook.obj(key, errs) {
            selector::validate(&s, errs);
        }
    }
    if options.mutating {
        optional_one_of(hook, "reinvocationPolicy", &REINVOCATION_POLICIES, errs);
    }
    client_config(hook, errs);
    match_conditions(hook, errs);
}

/// A `*string` enum: when set, one of `values`.
fn optional_one_of(hook: &Obj, key: &str, values: &[&str], errs: &mut Errs) {
    if let Some(Some(value)) = hook.opt_str(key, errs)
        && !values.contains(&value)
    {
        errs.push(not_supported(&hook.at_key(key), value, values));
    }
}

fn side_effects(hook: &Obj, require_none: bool, errs: &mut Errs) {
    let allowed: &[&str] = if require_none {
        &NO_SIDE_EFFECTS
    } else {
        &ALL_SIDE_EFFECTS
    };
    let path = hook.at_key("sideEffects");
    match hook.opt_str("sideEffects", errs) {
        Some(None) => errs.push(required(
            &path,
            &format!("must specify one of {}", allowed.join(", ")),
        )),
        Some(Some(value)) if !allowed.contains(&value) => {
            errs.push(not_supported(&path, value, allowed))
        }
        _ => {}
    }
}

/// `validateRuleWithOperations` then `validateRule`.
fn rule_with_operations(rule: &Obj, errs: &mut Errs) {
    let operations = rule.strings("operations", errs).unwrap_or_default();
    let ops_path = rule.at_key("operations");
    if operations.is_empty() {
        errs.push(required(&ops_path, ""));
    }
    let as_value =
        |items: &[(usize, &str)]| Value::from(items.iter().map(|(_, s)| *s).collect::<Vec<_>>());
    if operations.len() > 1 && operations.iter().any(|(_, o)| *o == "*") {
        let detail = "if '*' is present, must not specify other operations";
        errs.push(invalid(&ops_path, as_value(&operations), detail));
    }
    for (i, op) in &operations {
        if !OPERATIONS.contains(op) {
            errs.push(not_supported(&ops_path.index(*i), *op, &OPERATIONS));
        }
    }
    for (key, noun) in [("apiGroups", "API groups"), ("apiVersions", "API versions")] {
        let items = rule.strings(key, errs).unwrap_or_default();
        if items.is_empty() {
            errs.push(required(&rule.at_key(key), ""));
        }
        if items.len() > 1 && items.iter().any(|(_, g)| *g == "*") {
            let detail = format!("if '*' is present, must not specify other {noun}");
            errs.push(invalid(&rule.at_key(key), as_value(&items), &detail));
        }
        if key == "apiVersions" {
            for (i, _) in items.iter().filter(|(_, v)| v.is_empty()) {
                errs.push(required(&rule.at_key(key).index(*i), ""));
            }
        }
    }
    resources(rule, errs);
    if let Some(Some(scope)) = rule.opt_str("scope", errs)
        && !SCOPES.contains(&scope)
    {
        errs.push(not_supported(&rule.at_key("scope"), scope, &SCOPES));
    }
}

/// `validateResources`: resources with subresources and their wildcards.
fn resources(rule: &Obj, errs: &mut Errs) {
    let path = rule.at_key("resources");
    let items = rule.strings("resources", errs).unwrap_or_default();
    if items.is_empty() {
        errs.push(required(&path, ""));
    }
    let mut wildcard_sub: BTreeSet<&str> = BTreeSet::new();
    let mut wildcard_res: BTreeSet<&str> = BTreeSet::new();
    let (mut double, mut single, mut plain) = (false, false, false);
    for (i, item) in &items {
        if item.is_empty() {
            errs.push(required(&path.index(*i), ""));
            continue;
        }
        double |= *item == "*/*";
        single |= *item == "*";
        let Some((res, sub)) = item.split_once('/') else {
            plain = *item != "*";
            continue;
        };
        if wildcard_sub.contains(res) {
            let detail = format!("if '{res}/*' is present, must not specify {item}");
            errs.push(invalid(&path.index(*i), *item, &detail));
        }
        if wildcard_res.contains(sub) {
            let detail = format!("if '*/{sub}' is present, must not specify {item}");
            errs.push(invalid(&path.index(*i), *item, &detail));
        }
        if sub == "*" {
            wildcard_sub.insert(res);
        }
        if res == "*" {
            wildcard_res.insert(sub);
        }
    }
    let all = || Value::from(items.iter().map(|(_, s)| *s).collect::<Vec<_>>());
    if items.len() > 1 && double {
        errs.push(invalid(
            &path,
            all(),
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single && plain {
        let detail = "if '*' is present, must not specify other resources without subresources";
        errs.push(invalid(&path, all(), detail));
    }
}

/// `validateAdmissionReviewVersions`.
fn review_versions(hook: &Obj, require_recognized: bool, errs: &mut Errs) {
    let path = hook.at_key("admissionReviewVersions");
    let versions = hook
        .strings("admissionReviewVersions", errs)
        .unwrap_or_default();
    if versions.is_empty() {
        let detail = format!("must specify one of {}", REVIEW_VERSIONS.join(", "));
        errs.push(required(&path, &detail));
        return;
    }
    let mut seen = BTreeSet::new();
    for (i, v) in &versions {
        if !seen.insert(*v) {
            errs.push(invalid(&path.index(*i), *v, "duplicate version"));
            continue;
        }
        name_errors(&path.index(*i), v, is_dns1035_label(v), errs);
    }
    if require_recognized && !versions.iter().any(|(_, v)| REVIEW_VERSIONS.contains(v)) {
        let all: Vec<&str> = versions.iter().map(|(_, v)| *v).collect();
        let detail = format!(
            "must include at least one of {}",
            REVIEW_VERSIONS.join(", ")
        );
        errs.push(invalid(&path, all, &detail));
    }
}

/// Exactly one of `url` (https, with a host, no user info, query or fragment) or `service`.
fn client_config(hook: &Obj, errs: &mut Errs) {
    let config = hook
        .obj("clientConfig", errs)
        .unwrap_or_else(|| Obj::absent(hook.at_key("clientConfig")));
    let url = config.opt_str("url", errs).flatten();
    let service = config.obj("service", errs).filter(Obj::is_set);
    match (url, service) {
        (Some(url), None) => webhook_url(&config.at_key("url"), url, errs),
        (None, Some(service)) => webhook_service(&service, errs),
        _ => errs.push(required(
            config.path(),
            "exactly one of url or service is required",
        )),
    }
}

/// `ValidateWebhookURL` with https required. URLs are split as Go's `url.Parse` splits them;
/// of its parse errors only the missing scheme and control characters are recognized.
fn webhook_url(path: &Path, url: &str, errs: &mut Errs) {
    if url.starts_with(':') || url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        let reason = if url.starts_with(':') {
            "missing protocol scheme"
        } else {
            "net/url: invalid control character in URL"
        };
        let detail = format!(
            "url must be a valid URL: parse {}: {reason}{URL_FORMAT}",
            crate::status::go_quote(url)
        );
        errs.push(required(path, &detail));
        return;
    }
    let parts = UrlParts::parse(url);
    if parts.scheme != "https" {
        let detail = format!("'https' is the only allowed URL scheme{URL_FORMAT}");
        errs.push(invalid(path, parts.scheme.as_str(), &detail));
    }
    if parts.host.is_empty() {
        errs.push(invalid(
            path,
            parts.host,
            &format!("host must be provided{URL_FORMAT}"),
        ));
    }
    if let Some(user) = parts.user {
        errs.push(invalid(
            path,
            user,
            "user information is not permitted in the URL",
        ));
    }
    if !parts.fragment.is_empty() {
        errs.push(invalid(
            path,
            parts.fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !parts.query.is_empty() {
        errs.push(invalid(
            path,
            parts.query,
            "query parameters are not permitted in the URL",
        ));
    }
}

/// The pieces of a URL that webhook validation looks at.
struct UrlParts<'a> {
    /// Lower-cased, as Go stores it.
    scheme: String,
    host: &'a str,
    user: Option<&'a str>,
    query: &'a str,
    fragment: &'a str,
}

impl<'a> UrlParts<'a> {
    fn parse(url: &'a str) -> UrlParts<'a> {
        let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let scheme_len = rest.find(':').filter(|&i| valid_scheme(&rest[..i]));
        let (scheme, rest) = match scheme_len {
            Some(i) => (rest[..i].to_ascii_lowercase(), &rest[i + 1..]),
            None => (String::new(), rest),
        };
        let mut parts = UrlParts {
            scheme,
            host: "",
            user: None,
            query,
            fragment,
        };
        if let Some(authority_and_path) = rest.strip_prefix("//") {
            let authority = authority_and_path.split('/').next().unwrap_or_default();
            match authority.rsplit_once('@') {
                Some((user, host)) => {
                    parts.user = Some(user);
                    parts.host = host;
                }
                None => parts.host = authority,
            }
        }
        parts
    }
}

/// A URL scheme: a letter, then letters, digits, '+', '-' or '.'.
fn valid_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `ValidateWebhookService`.
fn webhook_service(service: &Obj, errs: &mut Errs) {
    if service.str("name", errs) == Some("") {
        errs.push(required(
            &service.at_key("name"),
            "service name is required",
        ));
    }
    if service.str("namespace", errs) == Some("") {
        errs.push(required(
            &service.at_key("namespace"),
            "service namespace is required",
        ));
    }
    let port = service.int("port", errs).unwrap_or_default();
    let problems = is_valid_port_num(port);
    if !problems.is_empty() {
        let detail = format!("port is not valid: {}", problems.join(", "));
        errs.push(invalid(&service.at_key("port"), port, &detail));
    }
    if let Some(Some(path)) = service.opt_str("path", errs) {
        service_path(&service.at_key("path"), path, errs);
    }
}

fn service_path(at: &Path, path: &str, errs: &mut Errs) {
    if path.is_empty() || path == "/" {
        return;
    }
    if path == "//" {
        errs.push(invalid(at, path, "segment[0] may not be empty"));
        return;
    }
    if !path.starts_with('/') {
        errs.push(invalid(at, path, "must start with a '/'"));
    }
    let inner = path.get(1..).unwrap_or_default();
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    for (i, step) in inner.split('/').enumerate() {
        if step.is_empty() {
            errs.push(invalid(at, path, &format!("segment[{i}] may not be empty")));
            continue;
        }
        for failure in is_dns1123_subdomain(step) {
            errs.push(invalid(at, path, &format!("segment[{i}]: {failure}")));
        }
    }
}

/// `validateMatchConditions` without compiling the expressions.
fn match_conditions(hook: &Obj, errs: &mut Errs) {
    let path = hook.at_key("matchConditions");
    let conditions = hook.objects("matchConditions", errs);
    if conditions.len() > MAX_MATCH_CONDITIONS {
        errs.push(too_many(&path, conditions.len(), MAX_MATCH_CONDITIONS));
    }
    let mut names = BTreeSet::new();
    for condition in &conditions {
        let expression = condition.str("expression", errs).unwrap_or_default();
        if expression.trim().is_empty() {
            errs.push(required(&condition.at_key("expression"), ""));
        }
        let name = condition.str("name", errs).unwrap_or_default();
        if name.is_empty() {
            errs.push(required(&condition.at_key("name"), ""));
        } else {
            name_errors(
                &condition.at_key("name"),
                name,
                is_qualified_name(name),
                errs,
            );
            if !names.insert(name) {
                errs.push(duplicate(&condition.at_key("name"), name));
            }
        }
    }
}
