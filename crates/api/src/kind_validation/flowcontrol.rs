//! FlowSchemas and PriorityLevelConfigurations (`flowcontrol.apiserver.k8s.io/v1`; kube's
//! `pkg/apis/flowcontrol/validation`): `ValidateFlowSchema` and
//! `ValidatePriorityLevelConfiguration`, which kube runs unchanged on update (its update
//! functions validate the new object again and compare nothing with the old one).
//!
//! Names are DNS subdomains. A schema's precedence is 1 to 10000 (1 only for `exempt`), it
//! names a priority level, and each rule has subjects of a known kind with the matching
//! member set and resource or non-resource rules whose lists are non-empty, with `*` alone
//! when present. A level is `Exempt` exactly when it is named `exempt`, carries only the
//! member of its type, and a `Queue` response has queues kube's shuffle sharding can deal
//! from. The mandatory objects (`exempt` and `catch-all` of each kind) must keep the spec
//! kube-apiserver creates them with, except the `exempt` level's `spec.exempt` numbers.
//!
//! One place differs from kube on purpose: where kube puts a Go struct or slice in an
//! error's bad value (printed with `%#v`, pointers as addresses), kubesim puts the JSON the
//! client sent. The field paths and details are kube's.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::fields::{
    Errs, Obj, Path, duplicate, forbidden, invalid, name_errors, not_supported, objects_of,
    required, semantic_eq,
};
use super::meta::{self, MetaRules};
use crate::validation::{name_is_dns_label, name_is_dns_subdomain};

/// `ValidateFlowSchemaName` / `ValidatePriorityLevelConfigurationName`, through core's
/// `ValidateObjectMeta` (so finalizers without a domain must be kube's own).
const RULES: MetaRules = MetaRules {
    namespaced: false,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: true,
};

/// `FlowSchemaMaxMatchingPrecedence`.
const MAX_MATCHING_PRECEDENCE: i64 = 10_000;
/// `supportedDistinguisherMethods`, as `sets.String.List()` sorts them.
const DISTINGUISHER_METHODS: [&str; 2] = ["ByNamespace", "ByUser"];
/// `supportedSubjectKinds`, sorted.
const SUBJECT_KINDS: [&str; 3] = ["Group", "ServiceAccount", "User"];
/// `supportedVerbs`, sorted: the verbs a rule may name besides `*`.
const VERBS: [&str; 9] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "proxy",
    "update",
    "watch",
];
/// `supportedPriorityLevelEnablement`, sorted.
const ENABLEMENTS: [&str; 2] = ["Exempt", "Limited"];
/// `supportedLimitResponseType`, sorted.
const LIMIT_RESPONSE_TYPES: [&str; 2] = ["Queue", "Reject"];
/// `priorityLevelConfigurationQueuingMaxQueues`: 10^7.
const MAX_QUEUES: i64 = 10_000_000;
/// `shufflesharding.MaxHashBits`: the hash bits a flow's hand may consume.
const MAX_HASH_BITS: i64 = 60;
/// The v1beta3 round-trip annotation, which only conversion from v1beta3 may carry.
const PRESERVE_ZERO_SHARES_ANNOTATION: &str =
    "flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares";
/// `nsErrIntro`: what a bad namespace in a resource rule is told first.
const NAMESPACE_ERROR_INTRO: &str = "each member of this list must be '*' or a DNS-1123 label; ";
/// The names of the mandatory objects (`exempt` is also the one name allowed precedence 1
/// and the one level that must be `Exempt`).
const EXEMPT: &str = "exempt";
const CATCH_ALL: &str = "catch-all";

// ---------------------------------------------------------------------------------------------
// FlowSchemas

/// `ValidateFlowSchema` (and `ValidateFlowSchemaUpdate`, which is the same).
pub(crate) fn validate_flow_schema(schema: &Obj, errs: &mut Errs) {
    meta::validate_create(schema, &RULES, errs);
    let name = object_name(schema);
    if let Some(spec) = schema.obj("spec", errs) {
        flow_schema_spec(name, &spec, errs);
        if let Some(fixed) = mandatory_flow_schema_spec(name) {
            fixed_spec(&spec, &fixed, name, errs);
        }
    }
    conditions(schema, errs);
}

/// `ValidateFlowSchemaSpec`.
fn flow_schema_spec(name: &str, spec: &Obj, errs: &mut Errs) {
    if let Some(precedence) = spec.int("matchingPrecedence", errs) {
        matching_precedence(name, precedence, &spec.at_key("matchingPrecedence"), errs);
    }
    if let Some(method) = spec.obj("distinguisherMethod", errs).filter(Obj::is_set)
        && let Some(kind) = method.str("type", errs)
        && !DISTINGUISHER_METHODS.contains(&kind)
    {
        let path = method.at_key("type");
        errs.push(not_supported(
            &path,
            method.to_value(),
            &DISTINGUISHER_METHODS,
        ));
    }
    if let Some(level) = spec.obj("priorityLevelConfiguration", errs) {
        match level.str("name", errs) {
            Some("") => errs.push(required(
                &level.at_key("name"),
                "must reference a priority level",
            )),
            Some(level_name) => name_errors(
                &level.at_key("name"),
                level_name,
                name_is_dns_subdomain(level_name, false),
                errs,
            ),
            None => {}
        }
    }
    for rule in spec.objects("rules", errs) {
        policy_rules_with_subjects(&rule, errs);
    }
}

fn matching_precedence(name: &str, precedence: i64, path: &Path, errs: &mut Errs) {
    if precedence <= 0 {
        errs.push(invalid(path, precedence, "must be a positive value"));
    }
    if precedence > MAX_MATCHING_PRECEDENCE {
        let detail = format!("must not be greater than {MAX_MATCHING_PRECEDENCE}");
        errs.push(invalid(path, precedence, &detail));
    }
    if precedence == 1 && name != EXEMPT {
        let detail = "only the schema named 'exempt' may have matchingPrecedence 1";
        errs.push(invalid(path, precedence, detail));
    }
}

/// `ValidateFlowSchemaPolicyRulesWithSubjects`.
fn policy_rules_with_subjects(rule: &Obj, errs: &mut Errs) {
    if let Some(subjects) = rule.list("subjects", errs) {
        let path = rule.at_key("subjects");
        if subjects.is_empty() {
            errs.push(required(&path, "subjects must contain at least one value"));
        }
        for subject in objects_of(subjects, &path, errs) {
            flow_subject(&subject, errs);
        }
    }
    let resource_rules = rule.objects("resourceRules", errs);
    let non_resource_rules = rule.objects("nonResourceRules", errs);
    if rule.peek_list("resourceRules").is_empty() && rule.peek_list("nonResourceRules").is_empty() {
        let detail = "at least one of resourceRules and nonResourceRules has to be non-empty";
        errs.push(required(rule.path(), detail));
    }
    for resource_rule in &resource_rules {
        resource_policy_rule(resource_rule, errs);
    }
    for non_resource_rule in &non_resource_rules {
        non_resource_policy_rule(non_resource_rule, errs);
    }
}

/// `ValidateFlowSchemaSubject`: the member named by `kind` is checked, the other two must be
/// unset.
fn flow_subject(subject: &Obj, errs: &mut Errs) {
    let Some(kind) = subject.str("kind", errs) else {
        return;
    };
    let (own, others): (&str, [&str; 2]) = match kind {
        "ServiceAccount" => ("serviceAccount", ["user", "group"]),
        "User" => ("user", ["serviceAccount", "group"]),
        "Group" => ("group", ["serviceAccount", "user"]),
        _ => {
            errs.push(not_supported(&subject.at_key("kind"), kind, &SUBJECT_KINDS));
            return;
        }
    };
    if let Some(member) = subject.obj(own, errs) {
        subject_member(kind, &member, errs);
    }
    for other in others {
        if subject.has(other) {
            errs.push(forbidden(
                &subject.at_key(other),
                other_member_detail(other),
            ));
        }
    }
}

/// What kube says of a member set for another kind of subject.
fn other_member_detail(member: &str) -> &'static str {
    match member {
        "user" => "user is forbidden when subject kind is not 'User'",
        "group" => "group is forbidden when subject kind is not 'Group'",
        _ => "serviceAccount is forbidden when subject kind is not 'ServiceAccount'",
    }
}

/// `ValidateServiceAccountSubject`, `ValidateUserSubject`, `ValidateGroupSubject`.
fn subject_member(kind: &str, member: &Obj, errs: &mut Errs) {
    if !member.is_set() {
        let detail = match kind {
            "ServiceAccount" => "serviceAccount is required when subject kind is 'ServiceAccount'",
            "User" => "user is required when subject kind is 'User'",
            _ => "group is required when subject kind is 'Group'",
        };
        errs.push(required(member.path(), detail));
        return;
    }
    match member.str("name", errs) {
        Some("") => errs.push(required(&member.at_key("name"), "")),
        // `ValidateServiceAccountName` is `NameIsDNSSubdomain`; users and groups are free text.
        Some(name) if kind == "ServiceAccount" && name != "*" => name_errors(
            &member.at_key("name"),
            name,
            name_is_dns_subdomain(name, false),
            errs,
        ),
        _ => {}
    }
    if kind != "ServiceAccount" {
        return;
    }
    match member.str("namespace", errs) {
        Some("") => errs.push(required(
            &member.at_key("namespace"),
            "must specify namespace for service account",
        )),
        Some(namespace) => name_errors(
            &member.at_key("namespace"),
            namespace,
            name_is_dns_label(namespace, false),
            errs,
        ),
        None => {}
    }
}

/// A list of strings as read for a rule, with the JSON the client sent for error values.
struct Strings<'a> {
    items: Vec<(usize, &'a str)>,
    raw: Value,
    path: Path,
}

impl Strings<'_> {
    fn has_wildcard(&self) -> bool {
        self.items.iter().any(|(_, s)| *s == "*")
    }
}

/// The list at `key`; `None`, after a type error, when it is not a list.
fn strings<'a>(rule: &Obj<'a>, key: &str, errs: &mut Errs) -> Option<Strings<'a>> {
    let items = rule.strings(key, errs)?;
    Some(Strings {
        items,
        raw: rule.raw(key).cloned().unwrap_or(Value::Null),
        path: rule.at_key(key),
    })
}

/// The verbs of either kind of rule: `*` alone, or verbs kube knows.
fn rule_verbs(rule: &Obj, errs: &mut Errs) {
    let Some(verbs) = strings(rule, "verbs", errs) else {
        return;
    };
    if verbs.items.is_empty() {
        errs.push(required(
            &verbs.path,
            "verbs must contain at least one value",
        ));
    } else if verbs.has_wildcard() {
        if verbs.items.len() > 1 {
            let detail = "if '*' is present, must not specify other verbs";
            errs.push(invalid(&verbs.path, verbs.raw, detail));
        }
    } else if !verbs.items.iter().all(|(_, v)| VERBS.contains(v)) {
        errs.push(not_supported(&verbs.path, verbs.raw, &VERBS));
    }
}

/// A list that must be non-empty and may hold `*` only alone (`apiGroups`, `resources`).
fn wildcard_alone(rule: &Obj, key: &str, what: &str, errs: &mut Errs) {
    let Some(list) = strings(rule, key, errs) else {
        return;
    };
    if list.items.is_empty() {
        let detail = format!("resource rules must supply at least one {what}");
        errs.push(required(&list.path, &detail));
    } else if list.items.len() > 1 && list.has_wildcard() {
        let detail = format!("if '*' is present, must not specify other {what}s");
        errs.push(invalid(&list.path, list.raw, &detail));
    }
}

/// `ValidateFlowSchemaResourcePolicyRule`.
fn resource_policy_rule(rule: &Obj, errs: &mut Errs) {
    rule_verbs(rule, errs);
    wildcard_alone(rule, "apiGroups", "api group", errs);
    wildcard_alone(rule, "resources", "resource", errs);
    let cluster_scope = rule.bool("clusterScope", errs).unwrap_or(false);
    let Some(namespaces) = strings(rule, "namespaces", errs) else {
        return;
    };
    if namespaces.items.is_empty() && !cluster_scope {
        let detail =
            "resource rules that are not cluster scoped must supply at least one namespace";
        errs.push(required(&namespaces.path, detail));
    } else if namespaces.has_wildcard() {
        if namespaces.items.len() > 1 {
            let detail = "if '*' is present, must not specify other namespaces";
            errs.push(invalid(&namespaces.path, namespaces.raw, detail));
        }
    } else {
        for (i, namespace) in &namespaces.items {
            let path = namespaces.path.index(*i);
            for msg in name_is_dns_label(namespace, false) {
                let detail = format!("{NAMESPACE_ERROR_INTRO}{msg}");
                errs.push(invalid(&path, *namespace, &detail));
            }
        }
    }
}

/// `ValidateFlowSchemaNonResourcePolicyRule`.
fn non_resource_policy_rule(rule: &Obj, errs: &mut Errs) {
    rule_verbs(rule, errs);
    let Some(urls) = strings(rule, "nonResourceURLs", errs) else {
        return;
    };
    if urls.items.is_empty() {
        errs.push(required(
            &urls.path,
            "nonResourceURLs must contain at least one value",
        ));
    } else if urls.has_wildcard() {
        if urls.items.len() > 1 {
            let detail = "if '*' is present, must not specify other non-resource URLs";
            errs.push(invalid(&urls.path, urls.raw, detail));
        }
    } else {
        for (i, url) in &urls.items {
            if let Some(detail) = non_resource_url_problem(url) {
                errs.push(invalid(&urls.path.index(*i), *url, detail));
            }
        }
    }
}

/// `ValidateNonResourceURLPath`: an absolute path without spaces or `//`, whose only
/// wildcard is a trailing `/*`.
fn non_resource_url_problem(url: &str) -> Option<&'static str> {
    if url.is_empty() {
        return Some("must not be empty");
    }
    if url == "/" {
        return None;
    }
    if !url.starts_with('/') {
        return Some("must start with slash");
    }
    if url.contains(' ') {
        return Some("must not contain white-space");
    }
    if url.contains("//") {
        return Some("must not contain double slash");
    }
    let wildcards = url.matches('*').count();
    if wildcards > 1 || (wildcards == 1 && !url.ends_with("/*")) {
        return Some("wildcard can only do suffix matching");
    }
    None
}

/// The spec kube-apiserver gives a mandatory FlowSchema (`bootstrap.MandatoryFlowSchema*`,
/// after defaulting).
fn mandatory_flow_schema_spec(name: &str) -> Option<Value> {
    let (level, precedence, groups): (_, _, &[&str]) = match name {
        EXEMPT => (EXEMPT, 1, &["system:masters"]),
        CATCH_ALL => (
            CATCH_ALL,
            MAX_MATCHING_PRECEDENCE,
            &["system:unauthenticated", "system:authenticated"],
        ),
        _ => return None,
    };
    let subjects: Vec<Value> = groups
        .iter()
        .map(|group| json!({"kind": "Group", "group": {"name": group}}))
        .collect();
    let mut spec = json!({
        "priorityLevelConfiguration": {"name": level},
        "matchingPrecedence": precedence,
        "rules": [{
            "subjects": subjects,
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                               "clusterScope": true, "namespaces": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        }],
    });
    if name == CATCH_ALL {
        spec["distinguisherMethod"] = json!({"type": "ByUser"});
    }
    Some(spec)
}

/// A mandatory object's spec must equal the fixed one (`Semantic.DeepEqual`: an absent
/// field and its zero value are the same).
fn fixed_spec(spec: &Obj, fixed: &Value, name: &str, errs: &mut Errs) {
    let actual = spec.to_value();
    if !semantic_eq(Some(&actual), Some(fixed)) {
        let detail = format!("spec of '{name}' must equal the fixed value");
        errs.push(invalid(spec.path(), actual, &detail));
    }
}

// ---------------------------------------------------------------------------------------------
// PriorityLevelConfigurations

/// `ValidatePriorityLevelConfiguration` (and its update, the same), with zero
/// `nominalConcurrencyShares` allowed as kube-apiserver 1.30+ allows it.
pub(crate) fn validate_priority_level(level: &Obj, errs: &mut Errs) {
    meta::validate_create(level, &RULES, errs);
    let annotations = level
        .raw("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object);
    if annotations.is_some_and(|a| a.contains_key(PRESERVE_ZERO_SHARES_ANNOTATION)) {
        let detail = format!("annotation '{PRESERVE_ZERO_SHARES_ANNOTATION}' is forbidden");
        errs.push(forbidden(
            &Path::new("metadata").child("annotations"),
            &detail,
        ));
    }
    let name = object_name(level);
    if let Some(spec) = level.obj("spec", errs) {
        priority_level_spec(name, &spec, errs);
        mandatory_priority_level(name, &spec, errs);
    }
    conditions(level, errs);
}

/// `ValidatePriorityLevelConfigurationSpec`.
fn priority_level_spec(name: &str, spec: &Obj, errs: &mut Errs) {
    let Some(kind) = spec.str("type", errs) else {
        return;
    };
    if (name == EXEMPT) != (kind == "Exempt") {
        let detail = "type must be 'Exempt' if and only if name is 'exempt'";
        errs.push(invalid(&spec.at_key("type"), kind, detail));
    }
    match kind {
        "Exempt" => {
            if spec.has("limited") {
                let detail = "must be nil if the type is not Limited";
                errs.push(forbidden(&spec.at_key("limited"), detail));
            }
            if let Some(exempt) = spec.obj("exempt", errs).filter(Obj::is_set) {
                exempt_level(&exempt, errs);
            }
        }
        "Limited" => {
            if spec.has("exempt") {
                let detail = "must be nil if the type is Limited";
                errs.push(forbidden(&spec.at_key("exempt"), detail));
            }
            match spec.obj("limited", errs) {
                Some(limited) if limited.is_set() => limited_level(&limited, errs),
                Some(limited) => errs.push(required(
                    limited.path(),
                    "must not be empty when type is Limited",
                )),
                None => {}
            }
        }
        _ => errs.push(not_supported(&spec.at_key("type"), kind, &ENABLEMENTS)),
    }
}

/// `ValidateLimitedPriorityLevelConfiguration`.
fn limited_level(limited: &Obj, errs: &mut Errs) {
    if let Some(Some(shares)) = limited.opt_int("nominalConcurrencyShares", errs)
        && shares < 0
    {
        let path = limited.at_key("nominalConcurrencyShares");
        errs.push(invalid(&path, shares, "must be a non-negative integer"));
    }
    if let Some(response) = limited.obj("limitResponse", errs) {
        limit_response(&response, errs);
    }
    lendable_percent(limited, errs);
    if let Some(Some(percent)) = limited.opt_int("borrowingLimitPercent", errs)
        && percent < 0
    {
        let path = limited.at_key("borrowingLimitPercent");
        errs.push(invalid(
            &path,
            percent,
            "if specified, must be a non-negative integer",
        ));
    }
}

/// `ValidateExemptPriorityLevelConfiguration`.
fn exempt_level(exempt: &Obj, errs: &mut Errs) {
    if let Some(Some(shares)) = exempt.opt_int("nominalConcurrencyShares", errs)
        && shares < 0
    {
        let path = exempt.at_key("nominalConcurrencyShares");
        errs.push(invalid(&path, shares, "must be a non-negative integer"));
    }
    lendable_percent(exempt, errs);
}

fn lendable_percent(level: &Obj, errs: &mut Errs) {
    if let Some(Some(percent)) = level.opt_int("lendablePercent", errs)
        && !(0..=100).contains(&percent)
    {
        let path = level.at_key("lendablePercent");
        errs.push(invalid(
            &path,
            percent,
            "must be between 0 and 100, inclusive",
        ));
    }
}

/// `ValidateLimitResponse`. (kube's messages say "Limited" where they mean "Queue".)
fn limit_response(response: &Obj, errs: &mut Errs) {
    let Some(kind) = response.str("type", errs) else {
        return;
    };
    match kind {
        "Reject" => {
            if response.has("queuing") {
                let detail = "must be nil if limited.limitResponse.type is not Limited";
                errs.push(forbidden(&response.at_key("queuing"), detail));
            }
        }
        "Queue" => match response.obj("queuing", errs) {
            Some(queuing) if queuing.is_set() => queuing_configuration(&queuing, errs),
            Some(queuing) => errs.push(required(
                queuing.path(),
                "must not be empty if limited.limitResponse.type is Limited",
            )),
            None => {}
        },
        _ => errs.push(not_supported(
            &response.at_key("type"),
            kind,
            &LIMIT_RESPONSE_TYPES,
        )),
    }
}

/// `ValidatePriorityLevelQueuingConfiguration`.
fn queuing_configuration(queuing: &Obj, errs: &mut Errs) {
    if let Some(limit) = queuing.int("queueLengthLimit", errs)
        && limit <= 0
    {
        let path = queuing.at_key("queueLengthLimit");
        errs.push(invalid(&path, limit, "must be positive"));
    }
    let queues = queuing.int("queues", errs);
    if let Some(queues) = queues {
        let path = queuing.at_key("queues");
        if queues <= 0 {
            errs.push(invalid(&path, queues, "must be positive"));
        } else if queues > MAX_QUEUES {
            let detail = format!("must not be greater than {MAX_QUEUES}");
            errs.push(invalid(&path, queues, &detail));
        }
    }
    let (Some(hand_size), Some(queues)) = (queuing.int("handSize", errs), queues) else {
        return;
    };
    let path = queuing.at_key("handSize");
    if hand_size <= 0 {
        errs.push(invalid(&path, hand_size, "must be positive"));
    } else if hand_size > queues {
        let detail = format!("should not be greater than queues ({queues})");
        errs.push(invalid(&path, hand_size, &detail));
    } else if required_entropy_bits(queues, hand_size) > MAX_HASH_BITS {
        let detail = format!(
            "required entropy bits of deckSize {queues} and handSize {hand_size} should not be greater than {MAX_HASH_BITS}"
        );
        errs.push(invalid(&path, hand_size, &detail));
    }
}

/// `shufflesharding.RequiredEntropyBits`: `ceil(log2(deck) * hand)`, the hash bits dealing
/// a hand of `hand_size` from `deck_size` queues consumes. Called with
/// `1 <= hand_size <= deck_size`. log2 is taken as Go's `math.Log2` takes it (the exponent
/// exact, the fraction through the natural log), so powers of two give whole numbers.
fn required_entropy_bits(deck_size: i64, hand_size: i64) -> i64 {
    let deck = deck_size.max(1).unsigned_abs();
    // Go's `Frexp`: deck = frac * 2^exp with frac in [0.5, 1).
    let exp = i64::from(u64::BITS - deck.leading_zeros());
    let frac = deck as f64 / 2f64.powi(exp as i32);
    let log2 = if frac == 0.5 {
        (exp - 1) as f64
    } else {
        frac.ln() * (1.0 / std::f64::consts::LN_2) + exp as f64
    };
    (log2 * hand_size as f64).ceil() as i64
}

/// `ValidateIfMandatoryPriorityLevelConfigurationObject`: `catch-all` keeps its whole spec;
/// `exempt` may change the numbers of `spec.exempt` and nothing else.
fn mandatory_priority_level(name: &str, spec: &Obj, errs: &mut Errs) {
    let actual = spec.to_value();
    let (compared, fixed, detail) = match name {
        EXEMPT => {
            let mut without_exempt = actual.clone();
            if let Some(fields) = without_exempt.as_object_mut() {
                fields.remove("exempt");
            }
            (
                without_exempt,
                json!({"type": "Exempt"}),
                "spec of 'exempt' except the 'spec.exempt' field must equal the fixed value",
            )
        }
        CATCH_ALL => (
            actual.clone(),
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 5,
                   "lendablePercent": 0, "limitResponse": {"type": "Reject"}}}),
            "spec of 'catch-all' must equal the fixed value",
        ),
        _ => return,
    };
    if !semantic_eq(Some(&compared), Some(&fixed)) {
        errs.push(invalid(spec.path(), actual, detail));
    }
}

// ---------------------------------------------------------------------------------------------
// Shared

/// `metadata.name`, "" when absent or not a string (metadata checks report those).
fn object_name<'a>(object: &Obj<'a>) -> &'a str {
    object
        .raw("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `ValidateFlowSchemaStatus` / `ValidatePriorityLevelConfigurationStatus`: each condition
/// has a type, and no type comes twice.
fn conditions(object: &Obj, errs: &mut Errs) {
    let Some(status) = object.obj("status", errs) else {
        return;
    };
    let mut seen = BTreeSet::new();
    for condition in status.objects("conditions", errs) {
        let Some(kind) = condition.str("type", errs) else {
            continue;
        };
        let path = condition.at_key("type");
        if !seen.insert(kind) {
            errs.push(duplicate(&path, kind));
        }
        if kind.is_empty() {
            errs.push(required(&path, "must not be empty"));
        }
    }
}

#[cfg(test)]
#[path = "flowcontrol_tests.rs"]
mod tests;
