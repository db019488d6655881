//! kube's audit Policy (`audit.k8s.io/v1` Policy), from `--audit-policy-file`.
//!
//! Read as kube-apiserver reads it (`k8s.io/apiserver/pkg/audit/policy/reader.go`): YAML or
//! JSON; only `audit.k8s.io/v1` (kube dropped v1alpha1 and v1beta1 in 1.24); fields kube does
//! not know are a warning, not an error (kube decodes strictly, then falls back to lenient
//! decoding); then kube's validation (`pkg/apis/audit/validation`), every error at once; and a
//! policy with no rules is refused.
//!
//! Evaluated as kube's policy checker does it (`pkg/audit/policy/checker.go`): the first rule
//! that matches the request gives its level; no rule matching means level None. A rule's
//! omitted stages are the policy's plus its own; its `omitManagedFields`, when set, overrides
//! the policy's.
//!
//! Without `--audit-policy-file` kube-apiserver audits nothing: that is [`Policy::none`].

use std::io::Read;
use std::path::Path;

use kubesim_api::RequestInfo;
use kubesim_api::status::{FieldError, go_quote};
use kubesim_api::user::UserInfo;
use kubesim_api::validation::name_is_dns_subdomain;
use serde::Deserialize;
use serde_json::Value;

use crate::event::{API_VERSION, Level, Stage};

const KIND: &str = "Policy";
/// The largest policy file read. kube sets none; a policy is a few kilobytes, and this keeps a
/// wrong path (a disk image, `/dev/zero`) from filling memory.
const MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The levels by their names on the wire, in kube's order (its error lists them so).
const LEVELS: [(&str, Level); 4] = [
    ("None", Level::None),
    ("Metadata", Level::Metadata),
    ("Request", Level::Request),
    ("RequestResponse", Level::RequestResponse),
];

/// The stages by their names on the wire, in kube's order; also the order of
/// [`RequestAuditConfig::omit_stages`].
const STAGES: [(&str, Stage); 4] = [
    ("RequestReceived", Stage::RequestReceived),
    ("ResponseStarted", Stage::ResponseStarted),
    ("ResponseComplete", Stage::ResponseComplete),
    ("Panic", Stage::Panic),
];

// The fields kube's types have, for the unknown-field warning.
const POLICY_FIELDS: [&str; 6] = [
    "apiVersion",
    "kind",
    "metadata",
    "rules",
    "omitStages",
    "omitManagedFields",
];
const RULE_FIELDS: [&str; 9] = [
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_RESOURCES_FIELDS: [&str; 3] = ["group", "resources", "resourceNames"];

/// A parsed and validated Policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Tried in order; the first that matches decides.
    pub rules: Vec<PolicyRule>,
    /// Stages no request is recorded at, whatever rule matches.
    pub omit_stages: Vec<Stage>,
    /// Drop `metadata.managedFields` from recorded objects, unless a rule says otherwise.
    pub omit_managed_fields: bool,
}

/// One rule (`audit.PolicyRule`). An empty list matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    pub level: Level,
    /// User names, exactly.
    pub users: Vec<String>,
    /// Matches a user in any of these groups.
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    /// Resource requests only.
    pub resources: Vec<GroupResources>,
    /// Resource requests only; `""` is a cluster-scoped resource (or a list across all
    /// namespaces, which has no namespace either).
    pub namespaces: Vec<String>,
    /// Non-resource requests only: a path, `*`, or a prefix ending in `*`.
    pub non_resource_urls: Vec<String>,
    /// Added to the policy's.
    pub omit_stages: Vec<Stage>,
    /// `None`: the policy's.
    pub omit_managed_fields: Option<bool>,
}

impl PolicyRule {
    /// A rule at `level` that matches every request.
    pub fn catch_all(level: Level) -> PolicyRule {
        PolicyRule {
            level,
            users: Vec::new(),
            user_groups: Vec::new(),
            verbs: Vec::new(),
            resources: Vec::new(),
            namespaces: Vec::new(),
            non_resource_urls: Vec::new(),
            omit_stages: Vec::new(),
            omit_managed_fields: None,
        }
    }
}

/// Resources of one API group (`audit.GroupResources`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupResources {
    /// `""` is the core group, `*` any group.
    pub group: String,
    /// `pods`, `pods/log`, `*`, `*/status`, `pods/*`; empty is every resource of the group.
    pub resources: Vec<String>,
    /// Object names; empty is every name.
    pub resource_names: Vec<String>,
}

/// What the policy says of one request: its level and the stages not to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuditConfig {
    pub level: Level,
    pub omit_stages: Vec<Stage>,
    /// The policy's `omitManagedFields` (or the rule's): drop `metadata.managedFields`
    /// from request and response objects.
    pub omit_managed_fields: bool,
}

impl Policy {
    /// No policy file: every request at level None, so no events (kube-apiserver's behaviour).
    pub fn none() -> Policy {
        Policy::default()
    }

    /// Every request at level Metadata: a one-rule policy for tests and for a quick look at
    /// the traffic.
    pub fn default_metadata() -> Policy {
        Policy {
            rules: vec![PolicyRule::catch_all(Level::Metadata)],
            ..Policy::default()
        }
    }

    /// Reads `--audit-policy-file`, with kube's messages (`... : from file <path>`).
    pub fn from_file(path: &Path) -> Result<Policy, String> {
        let text = read_bounded(path).map_err(|e| {
            format!(
                "failed to read file path {}: {e}",
                go_quote(&path.display().to_string())
            )
        })?;
        Policy::parse(&text).map_err(|e| format!("{e}: from file {}", path.display()))
    }

    /// Parses a policy from YAML or JSON. Unknown fields are logged as a warning, as kube does.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let (policy, warnings) = parse_with_warnings(text)?;
        if !warnings.is_empty() {
            tracing::warn!(
                "Audit policy contains errors, falling back to lenient decoding: strict decoding error: {}",
                warnings.join(", ")
            );
        }
        Ok(policy)
    }

    /// The level and stages of a request made by `user` (the authenticated user, before
    /// impersonation, as kube's audit filter sees it).
    pub fn evaluate(&self, user: &UserInfo, request: &RequestInfo) -> RequestAuditConfig {
        match self
            .rules
            .iter()
            .find(|rule| rule_matches(rule, user, request))
        {
            Some(rule) => RequestAuditConfig {
                level: rule.level,
                omit_stages: union_stages(&self.omit_stages, &rule.omit_stages),
                omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
            },
            None => RequestAuditConfig {
                level: Level::None,
                omit_stages: union_stages(&self.omit_stages, &[]),
                omit_managed_fields: self.omit_managed_fields,
            },
        }
    }
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_POLICY_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_POLICY_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_POLICY_FILE_BYTES} bytes"
        )));
    }
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// Evaluation (checker.go)

/// Both lists' stages once each, in the stages' own order (kube's order is a Go map's, so
/// any order is kube's).
fn union_stages(policy: &[Stage], rule: &[Stage]) -> Vec<Stage> {
    STAGES
        .iter()
        .map(|&(_, stage)| stage)
        .filter(|stage| policy.contains(stage) || rule.contains(stage))
        .collect()
}

fn rule_matches(rule: &PolicyRule, user: &UserInfo, request: &RequestInfo) -> bool {
    if !rule.users.is_empty() && !rule.users.contains(&user.username) {
        return false;
    }
    if !rule.user_groups.is_empty() && !user.groups.iter().any(|g| rule.user_groups.contains(g)) {
        return false;
    }
    if !rule.verbs.is_empty() && !rule.verbs.contains(&request.verb) {
        return false;
    }
    // Validation keeps nonResourceURLs apart from resources and namespaces, so at most one
    // of these two applies.
    if !rule.namespaces.is_empty() || !rule.resources.is_empty() {
        return resource_matches(rule, request);
    }
    if !rule.non_resource_urls.is_empty() {
        return !request.is_resource_request
            && rule
                .non_resource_urls
                .iter()
                .any(|spec| path_matches(&request.path, spec));
    }
    true
}

/// `*`, the path itself, or a prefix ending in `*` (`/healthz*` matches `/healthz/etcd`).
fn path_matches(path: &str, spec: &str) -> bool {
    if spec == "*" || spec == path {
        return true;
    }
    match spec.strip_suffix('*') {
        Some(_) => path.starts_with(spec.trim_end_matches('*')),
        None => false,
    }
}

fn resource_matches(rule: &PolicyRule, request: &RequestInfo) -> bool {
    if !request.is_resource_request {
        return false;
    }
    if !rule.namespaces.is_empty() && !rule.namespaces.contains(&request.namespace) {
        return false;
    }
    if rule.resources.is_empty() {
        return true;
    }
    rule.resources
        .iter()
        .filter(|gr| gr.group == request.api_group || gr.group == "*")
        .any(|gr| group_resources_match(gr, request))
}

fn group_resources_match(gr: &GroupResources, request: &RequestInfo) -> bool {
    if gr.resources.is_empty() {
        return true;
    }
    if !gr.resource_names.is_empty() && !gr.resource_names.contains(&request.name) {
        return false;
    }
    gr.resources
        .iter()
        .any(|spec| resource_spec_matches(spec, &request.resource, &request.subresource))
}

/// `pods` matches pods but not its subresources; `pods/log` the one subresource; `*` anything;
/// `*/status` that subresource of any resource; `pods/*` pods and every subresource of pods
/// (kube's checker does not ask for a subresource there).
fn resource_spec_matches(spec: &str, resource: &str, subresource: &str) -> bool {
    if spec == "*" {
        return true;
    }
    let exact = if subresource.is_empty() {
        spec == resource
    } else {
        // `resource/subresource`, without building it.
        spec.strip_prefix(resource)
            .and_then(|rest| rest.strip_prefix('/'))
            == Some(subresource)
    };
    if exact {
        return true;
    }
    if !subresource.is_empty() && spec.strip_prefix("*/") == Some(subresource) {
        return true;
    }
    spec.strip_suffix("/*") == Some(resource)
}

// ---------------------------------------------------------------------------------------------
// Decoding (reader.go)

/// The policy as written, before validation: levels and stages stay strings so that bad ones
/// get kube's validation messages rather than a decoding error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyFile {
    #[serde(default)]
    rules: Option<Vec<RuleFile>>,
    #[serde(default)]
    omit_stages: Option<Vec<String>>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleFile {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    users: Option<Vec<String>>,
    #[serde(default)]
    user_groups: Option<Vec<String>>,
    #[serde(default)]
    verbs: Option<Vec<String>>,
    #[serde(default)]
    resources: Option<Vec<GroupResourcesFile>>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Option<Vec<String>>,
    #[serde(default)]
    omit_stages: Option<Vec<String>>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupResourcesFile {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    resources: Option<Vec<String>>,
    #[serde(default)]
    resource_names: Option<Vec<String>>,
}

/// [`Policy::parse`], returning the unknown-field warnings instead of logging them.
fn parse_with_warnings(text: &str) -> Result<(Policy, Vec<String>), String> {
    let value: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        yaml_serde::from_str(text).map_err(|e| format!("failed decoding: {e}"))?
    };
    check_type_meta(&value)?;
    let mut warnings = Vec::new();
    unknown_fields(&value, &POLICY_FIELDS, "", &mut warnings);
    let file: PolicyFile = match value {
        Value::Null => PolicyFile::default(),
        value => serde_json::from_value(value).map_err(|e| format!("failed decoding: {e}"))?,
    };
    let errors = validate(&file);
    if !errors.is_empty() {
        return Err(aggregate(&errors));
    }
    let policy = convert(file);
    if policy.rules.is_empty() {
        return Err("loaded illegal policy with 0 rules".to_string());
    }
    Ok((policy, warnings))
}

/// apiVersion and kind: only `audit.k8s.io/v1` Policy. kube's decoder fills a missing kind or
/// version from the type it decodes into (the internal `audit.k8s.io/__internal` Policy),
/// which its reader then refuses as an unknown group version.
fn check_type_meta(value: &Value) -> Result<(), String> {
    let field = |name: &str| -> Result<String, String> {
        match value.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!(
                "failed decoding: couldn't get version/kind; json parse error: {name} must be a string, not {other}"
            )),
        }
    };
    if !matches!(value, Value::Object(_) | Value::Null) {
        return Err(format!(
            "failed decoding: couldn't get version/kind; json parse error: expected an object, not {value}"
        ));
    }
    let (api_version, kind) = (field("apiVersion")?, field("kind")?);
    let kind = if kind.is_empty() { KIND } else { &kind };
    if api_version.is_empty() {
        return Err(format!(
            "unknown group version field audit.k8s.io/__internal, Kind={kind} in policy"
        ));
    }
    if api_version != API_VERSION || kind != KIND {
        return Err(format!(
            "failed decoding: no kind {} is registered for version {}",
            go_quote(kind),
            go_quote(&api_version)
        ));
    }
    Ok(())
}

/// kube's strict decoding errors (`unknown field "rules[0].levle"`), which it only warns of.
fn unknown_fields(value: &Value, known: &[&str], path: &str, out: &mut Vec<String>) {
    let Value::Object(map) = value else {
        return;
    };
    for (key, child) in map {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if !known.contains(&key.as_str()) {
            out.push(format!("unknown field {}", go_quote(&child_path)));
            continue;
        }
        let child_known: &[&str] = match key.as_str() {
            "rules" if path.is_empty() => &RULE_FIELDS,
            "resources" if !path.is_empty() => &GROUP_RESOURCES_FIELDS,
            _ => continue,
        };
        for (index, item) in child.as_array().into_iter().flatten().enumerate() {
            unknown_fields(item, child_known, &format!("{child_path}[{index}]"), out);
        }
    }
}

/// kube's `ValidatePolicy`, in its order: the policy's omitStages, then each rule.
fn validate(file: &PolicyFile) -> Vec<FieldError> {
    let mut errors = validate_omit_stages(file.omit_stages.as_deref(), "omitStages");
    for (index, rule) in file.rules.iter().flatten().enumerate() {
        errors.extend(validate_rule(rule, &format!("rules[{index}]")));
    }
    errors
}

fn validate_rule(rule: &RuleFile, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(validate_level(
        rule.level.as_deref(),
        &format!("{path}.level"),
    ));
    let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
    let urls_path = format!("{path}.nonResourceURLs");
    errors.extend(validate_non_resource_urls(urls, &urls_path));
    let resources = rule.resources.as_deref().unwrap_or_default();
    errors.extend(validate_resources(resources, &format!("{path}.resources")));
    let stages_path = format!("{path}.omitStages");
    errors.extend(validate_omit_stages(
        rule.omit_stages.as_deref(),
        &stages_path,
    ));
    let namespaces = rule.namespaces.as_deref().unwrap_or_default();
    if !urls.is_empty() && (!resources.is_empty() || !namespaces.is_empty()) {
        errors.push(FieldError::invalid(
            &urls_path,
            strings_value(urls),
            "rules cannot apply to both regular resources and non-resource URLs",
        ));
    }
    errors
}

fn validate_level(level: Option<&str>, path: &str) -> Option<FieldError> {
    match level.unwrap_or_default() {
        "" => Some(FieldError::required(path, "")),
        level if level_named(level).is_some() => None,
        level => {
            let names = LEVELS.map(|(name, _)| name);
            Some(FieldError::not_supported(path, level.into(), &names))
        }
    }
}

fn validate_non_resource_urls(urls: &[String], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, url) in urls.iter().enumerate() {
        if url == "*" {
            continue;
        }
        let url_path = format!("{path}[{index}]");
        if !url.starts_with('/') {
            let detail = "non-resource URL rules must begin with a '/' character";
            errors.push(FieldError::invalid(&url_path, url.as_str().into(), detail));
        }
        // Any `*` but the last byte.
        let wildcard_inside = url
            .as_bytes()
            .split_last()
            .is_some_and(|(_, head)| head.contains(&b'*'));
        if wildcard_inside {
            let detail = "non-resource URL wildcards '*' must be the final character of the rule";
            errors.push(FieldError::invalid(&url_path, url.as_str().into(), detail));
        }
    }
    errors
}

/// kube names the paths `rules[i].resources.group`, without the index: kept.
fn validate_resources(resources: &[GroupResourcesFile], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for gr in resources {
        let group = gr.group.as_deref().unwrap_or_default();
        if !group.is_empty() && group != "*" {
            let messages = name_is_dns_subdomain(group, false);
            if !messages.is_empty() {
                let field = format!("{path}.group");
                errors.push(FieldError::invalid(
                    &field,
                    group.into(),
                    &messages.join(","),
                ));
            }
        }
        let names = gr.resource_names.as_deref().unwrap_or_default();
        if !names.is_empty() && gr.resources.as_deref().unwrap_or_default().is_empty() {
            errors.push(FieldError::invalid(
                &format!("{path}.resourceNames"),
                strings_value(names),
                "using resourceNames requires at least one resource",
            ));
        }
    }
    errors
}

fn validate_omit_stages(stages: Option<&[String]>, path: &str) -> Vec<FieldError> {
    let allowed = STAGES.map(|(name, _)| name).join(",");
    let mut errors = Vec::new();
    for (index, stage) in stages.unwrap_or_default().iter().enumerate() {
        if stage_named(stage).is_none() {
            errors.push(FieldError::invalid(
                &format!("{path}[{index}]"),
                stage.as_str().into(),
                &format!("allowed stages are {allowed}"),
            ));
        }
    }
    errors
}

fn strings_value(strings: &[String]) -> Value {
    Value::Array(strings.iter().map(|s| Value::String(s.clone())).collect())
}

/// `field.ErrorList.ToAggregate().Error()`: one message alone, several as `[a, b]`, each
/// distinct message once.
fn aggregate(errors: &[FieldError]) -> String {
    let mut distinct: Vec<String> = Vec::new();
    for error in errors {
        let message = error.to_string();
        if !distinct.contains(&message) {
            distinct.push(message);
        }
    }
    match distinct.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn level_named(name: &str) -> Option<Level> {
    LEVELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, level)| level)
}

fn stage_named(name: &str) -> Option<Stage> {
    STAGES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, stage)| stage)
}

/// The validated file as a [`Policy`]: every level and stage is known by now.
fn convert(file: PolicyFile) -> Policy {
    Policy {
        rules: file
            .rules
            .unwrap_or_default()
            .into_iter()
            .map(convert_rule)
            .collect(),
        omit_stages: stages(file.omit_stages),
        omit_managed_fields: file.omit_managed_fields.unwrap_or(false),
    }
}

fn convert_rule(rule: RuleFile) -> PolicyRule {
    PolicyRule {
        // Validation refused a missing or unknown level.
        level: rule
            .level
            .as_deref()
            .and_then(level_named)
            .unwrap_or(Level::None),
        users: rule.users.unwrap_or_default(),
        user_groups: rule.user_groups.unwrap_or_default(),
        verbs: rule.verbs.unwrap_or_default(),
        resources: (rule.resources.unwrap_or_default().into_iter())
            .map(|gr| GroupResources {
                group: gr.group.unwrap_or_default(),
                resources: gr.resources.unwrap_or_default(),
                resource_names: gr.resource_names.unwrap_or_default(),
            })
            .collect(),
        namespaces: rule.namespaces.unwrap_or_default(),
        non_resource_urls: rule.non_resource_urls.unwrap_or_default(),
        omit_stages: stages(rule.omit_stages),
        omit_managed_fields: rule.omit_managed_fields,
    }
}

fn stages(names: Option<Vec<String>>) -> Vec<Stage> {
    names
        .iter()
        .flatten()
        .filter_map(|name| stage_named(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use kubesim_api::request_info;

    use super::*;

    /// The example policy of kubernetes.io's "Auditing" page
    /// (`content/en/examples/audit/audit-policy.yaml`), as published.
    const DOCUMENTED_POLICY: &str = r#"
apiVersion: audit.k8s.io/v1 # This is required.
kind: Policy
# Don't generate audit events for all requests in RequestReceived stage.
omitStages:
  - "RequestReceived"
rules:
  # Log pod changes at RequestResponse level
  - level: RequestResponse
    resources:
    - group: ""
      # Resource "pods" doesn't match requests to any subresource of pods,
      # which is consistent with the RBAC policy.
      resources: ["pods"]
  # Log "pods/log", "pods/status" at Metadata level
  - level: Metadata
    resources:
    - group: ""
      resources: ["pods/log", "pods/status"]

  # Don't log requests to a configmap called "controller-leader"
  - level: None
    resources:
    - group: ""
      resources: ["configmaps"]
      resourceNames: ["controller-leader"]

  # Don't log watch requests by the "system:kube-proxy" on endpoints or services
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
    - group: "" # core API group
      resources: ["endpoints", "services"]

  # Don't log authenticated requests to certain non-resource URL paths.
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs:
    - "/api*" # Wildcard matching.
    - "/version"

  # Log the request body of configmap changes in kube-system.
  - level: Request
    resources:
    - group: "" # core API group
      resources: ["configmaps"]
    # This rule only applies to resources in the "kube-system" namespace.
    # The empty string "" can be used to select non-namespaced resources.
    namespaces: ["kube-system"]

  # Log configmap and secret changes in all other namespaces at the Metadata level.
  - level: Metadata
    resources:
    - group: "" # core API group
      resources: ["secrets", "configmaps"]

  # Log all other resources in core and extensions at the Request level.
  - level: Request
    resources:
    - group: "" # core API group
    - group: "extensions" # Version of group should NOT be included.

  # A catch-all rule to log all other requests at the Metadata level.
  - level: Metadata
    # Long-running requests like watches that fall under this rule will not
    # generate an audit event in RequestReceived.
    omitStages:
      - "RequestReceived"
"#;

    fn request(method: &str, url: &str) -> RequestInfo {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        request_info::parse(method, path, query)
    }

    fn alice() -> UserInfo {
        UserInfo::new("alice", &["dev", "system:authenticated"])
    }

    fn level(policy: &Policy, user: &UserInfo, method: &str, url: &str) -> Level {
        policy.evaluate(user, &request(method, url)).level
    }

    #[test]
    fn documented_example_policy_parses() {
        let (policy, warnings) = parse_with_warnings(DOCUMENTED_POLICY).expect("valid policy");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(policy.rules.len(), 9);
        assert_eq!(policy.omit_stages, [Stage::RequestReceived]);
        assert!(!policy.omit_managed_fields);
        let proxy_rule = &policy.rules[3];
        assert_eq!(proxy_rule.level, Level::None);
        assert_eq!(proxy_rule.users, ["system:kube-proxy"]);
        assert_eq!(proxy_rule.verbs, ["watch"]);
        assert_eq!(proxy_rule.resources[0].resources, ["endpoints", "services"]);
        assert_eq!(policy.rules[4].non_resource_urls, ["/api*", "/version"]);
        assert_eq!(policy.rules[5].namespaces, ["kube-system"]);
        assert_eq!(policy.rules[7].resources.len(), 2);
        assert_eq!(policy.rules[7].resources[1].group, "extensions");
        assert_eq!(policy.rules[8].omit_stages, [Stage::RequestReceived]);
    }

    /// Requests and the level the documented policy gives them: user (alice is in
    /// `system:authenticated`), method, URL, level.
    #[rustfmt::skip]
    const DOCUMENTED_CASES: &[(&str, &str, &str, Level)] = &[
        ("alice", "GET", "/api/v1/namespaces/web/pods/a", Level::RequestResponse),
        ("alice", "POST", "/api/v1/namespaces/web/pods", Level::RequestResponse),
        ("alice", "GET", "/api/v1/namespaces/web/pods/a/log", Level::Metadata),
        ("alice", "PUT", "/api/v1/namespaces/web/pods/a/status", Level::Metadata),
        // Not pods, not pods/log or pods/status: the core group's Request rule.
        ("alice", "POST", "/api/v1/namespaces/web/pods/a/exec", Level::Request),
        ("alice", "PUT", "/api/v1/namespaces/kube-system/configmaps/controller-leader", Level::None),
        ("alice", "PUT", "/api/v1/namespaces/kube-system/configmaps/other", Level::Request),
        ("alice", "PUT", "/api/v1/namespaces/web/configmaps/other", Level::Metadata),
        ("alice", "GET", "/api/v1/namespaces/kube-system/secrets/s", Level::Metadata),
        ("system:kube-proxy", "GET", "/api/v1/endpoints?watch=true", Level::None),
        ("system:kube-proxy", "GET", "/api/v1/namespaces/web/services?watch=1", Level::None),
        // A list, not a watch: not the kube-proxy rule.
        ("system:kube-proxy", "GET", "/api/v1/services", Level::Request),
        ("alice", "GET", "/api/v1/nodes", Level::Request),
        ("alice", "GET", "/apis/extensions/v1beta1/namespaces/web/ingresses", Level::Request),
        ("alice", "GET", "/apis/apps/v1/namespaces/web/deployments", Level::Metadata),
        ("alice", "GET", "/api", Level::None),
        ("alice", "GET", "/apis/apps/v1", Level::None),
        ("alice", "GET", "/version", Level::None),
        ("alice", "GET", "/healthz", Level::Metadata),
        ("alice", "GET", "/version/", Level::Metadata),
        // Not authenticated: not the non-resource None rule.
        ("system:anonymous", "GET", "/version", Level::Metadata),
    ];

    #[test]
    fn documented_example_policy_decides_as_its_comments_say() {
        let policy = Policy::parse(DOCUMENTED_POLICY).expect("valid policy");
        for &(name, method, url, expected) in DOCUMENTED_CASES {
            let user = match name {
                "alice" => alice(),
                "system:anonymous" => UserInfo::anonymous(),
                name => UserInfo::new(name, &["system:authenticated"]),
            };
            let config = policy.evaluate(&user, &request(method, url));
            assert_eq!(config.level, expected, "{name} {method} {url}");
            assert_eq!(
                config.omit_stages,
                [Stage::RequestReceived],
                "{method} {url}"
            );
            assert!(!config.omit_managed_fields);
        }
    }

    #[test]
    fn no_match_is_level_none_with_the_policys_stages() {
        let policy = Policy::parse(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Panic]\nrules:\n- level: Metadata\n  users: [bob]\n",
        )
        .expect("valid policy");
        let config = policy.evaluate(&alice(), &request("GET", "/api/v1/pods"));
        let expected = RequestAuditConfig {
            level: Level::None,
            omit_stages: vec![Stage::Panic],
            omit_managed_fields: false,
        };
        assert_eq!(config, expected);
        assert_eq!(
            level(&policy, &UserInfo::new("bob", &[]), "GET", "/x"),
            Level::Metadata
        );
    }

    #[test]
    fn none_audits_nothing_and_default_metadata_everything() {
        for url in ["/api/v1/pods", "/healthz", "/apis/apps/v1/deployments"] {
            assert_eq!(level(&Policy::none(), &alice(), "GET", url), Level::None);
            let metadata = Policy::default_metadata();
            assert_eq!(level(&metadata, &alice(), "GET", url), Level::Metadata);
        }
        assert_eq!(Policy::none(), Policy::default());
    }

    #[test]
    fn stages_are_unioned_once_and_managed_fields_overridden_by_the_rule() {
        let policy = Policy::parse(
            r#"{"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                "omitStages": ["RequestReceived", "Panic"], "omitManagedFields": true,
                "rules": [
                  {"level": "Request", "verbs": ["create"], "omitManagedFields": false,
                   "omitStages": ["Panic", "ResponseStarted"]},
                  {"level": "RequestResponse"}]}"#,
        )
        .expect("valid JSON policy");
        let create = policy.evaluate(&alice(), &request("POST", "/api/v1/namespaces/a/pods"));
        assert_eq!(create.level, Level::Request);
        assert_eq!(
            create.omit_stages,
            [Stage::RequestReceived, Stage::ResponseStarted, Stage::Panic]
        );
        assert!(!create.omit_managed_fields, "the rule's false wins");
        let get = policy.evaluate(&alice(), &request("GET", "/api/v1/namespaces/a/pods"));
        assert_eq!(get.level, Level::RequestResponse);
        assert_eq!(get.omit_stages, [Stage::RequestReceived, Stage::Panic]);
        assert!(get.omit_managed_fields, "no rule setting: the policy's");
    }

    /// resources, resourceNames, group, URL, whether the rule matches.
    type ResourceCase = (
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
        &'static str,
        bool,
    );

    #[test]
    fn resource_forms_match_as_kubes_checker() {
        let rule = |resources: &[&str], names: &[&str], group: &str| Policy {
            rules: vec![PolicyRule {
                resources: vec![GroupResources {
                    group: group.to_string(),
                    resources: resources.iter().map(|s| s.to_string()).collect(),
                    resource_names: names.iter().map(|s| s.to_string()).collect(),
                }],
                ..PolicyRule::catch_all(Level::Metadata)
            }],
            ..Policy::default()
        };
        let pod = "/api/v1/namespaces/a/pods/p";
        let pod_log = "/api/v1/namespaces/a/pods/p/log";
        let pod_status = "/api/v1/namespaces/a/pods/p/status";
        let deployment_status = "/apis/apps/v1/namespaces/a/deployments/d/status";
        let service_status = "/api/v1/namespaces/a/services/s/status";
        // (resources, resourceNames, group, url, matches)
        let cases: &[ResourceCase] = &[
            (&["pods"], &[], "", pod, true),
            (&["pods"], &[], "", pod_log, false),
            (&["pods/log"], &[], "", pod_log, true),
            (&["pods/log"], &[], "", pod, false),
            (&["pods/log"], &[], "", pod_status, false),
            (&["*"], &[], "", pod_status, true),
            (&["*/status"], &[], "", pod_status, true),
            (&["*/status"], &[], "", pod, false),
            (&["*/status"], &[], "apps", deployment_status, true),
            (&["*/status"], &[], "", deployment_status, false),
            (&["*/status"], &[], "*", deployment_status, true),
            (&["pods/*"], &[], "", pod_log, true),
            // kube's `resource/*` does not ask for a subresource.
            (&["pods/*"], &[], "", pod, true),
            (&["pods/*"], &[], "", service_status, false),
            (&[], &[], "", pod_log, true),
            (&[], &[], "apps", pod, false),
            (&["pods"], &["p"], "", pod, true),
            (&["pods"], &["q"], "", pod, false),
            (&["pods"], &["p"], "", "/api/v1/namespaces/a/pods", false),
            (&["pods"], &[], "", "/healthz", false),
        ];
        for &(resources, names, group, url, matches) in cases {
            let expected = if matches {
                Level::Metadata
            } else {
                Level::None
            };
            assert_eq!(
                level(&rule(resources, names, group), &alice(), "GET", url),
                expected,
                "{resources:?} {names:?} group {group:?}: {url}"
            );
        }
    }

    #[test]
    fn namespaces_and_non_resource_urls_match_as_kubes_checker() {
        let policy = Policy::parse(
            r#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Request
  namespaces: [""]
- level: RequestResponse
  namespaces: ["web"]
- level: Metadata
  nonResourceURLs: ["/healthz*", "/version"]
"#,
        )
        .expect("valid policy");
        let cases = [
            ("/api/v1/nodes/n", Level::Request),
            ("/api/v1/pods", Level::Request),
            ("/api/v1/namespaces/web/pods", Level::RequestResponse),
            // A namespace's own path has the namespace set to its name.
            ("/api/v1/namespaces/web", Level::RequestResponse),
            ("/api/v1/namespaces/other/pods", Level::None),
            ("/healthz", Level::Metadata),
            ("/healthz/etcd", Level::Metadata),
            ("/healthzz", Level::Metadata),
            ("/version", Level::Metadata),
            ("/version/x", Level::None),
            ("/livez", Level::None),
        ];
        for (url, expected) in cases {
            assert_eq!(level(&policy, &alice(), "GET", url), expected, "{url}");
        }
        let star = Policy::parse(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  nonResourceURLs: ['*']\n",
        )
        .expect("valid policy");
        assert_eq!(level(&star, &alice(), "GET", "/anything"), Level::Metadata);
        assert_eq!(level(&star, &alice(), "GET", "/api/v1/pods"), Level::None);
    }

    #[test]
    fn users_groups_and_verbs_all_have_to_match() {
        let policy = Policy::parse(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  users: [alice, bob]\n  userGroups: [dev]\n  verbs: [delete]\n",
        )
        .expect("valid policy");
        let bob_ops = UserInfo::new("bob", &["ops"]);
        let url = "/api/v1/namespaces/a/pods/p";
        assert_eq!(level(&policy, &alice(), "DELETE", url), Level::Request);
        assert_eq!(level(&policy, &alice(), "GET", url), Level::None);
        assert_eq!(level(&policy, &bob_ops, "DELETE", url), Level::None);
        let carol = UserInfo::new("carol", &["dev"]);
        assert_eq!(level(&policy, &carol, "DELETE", url), Level::None);
    }

    fn refusal(text: &str) -> String {
        Policy::parse(text).expect_err("an invalid policy")
    }

    const HEADER: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";

    #[test]
    fn bad_rules_are_refused_with_kubes_validation_messages() {
        let cases = [
            (
                "rules:\n- level: Everything\n",
                r#"rules[0].level: Unsupported value: "Everything": supported values: "None", "Metadata", "Request", "RequestResponse""#,
            ),
            ("rules:\n- users: [a]\n", "rules[0].level: Required value"),
            (
                "rules:\n- level: None\n  omitStages: [RequestReceived, Started]\n",
                r#"rules[0].omitStages[1]: Invalid value: "Started": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"#,
            ),
            (
                "omitStages: [Done]\nrules:\n- level: None\n",
                r#"omitStages[0]: Invalid value: "Done": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"#,
            ),
            (
                "rules:\n- level: None\n  nonResourceURLs: [/healthz]\n  resources: [{group: ''}]\n",
                r#"rules[0].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and non-resource URLs"#,
            ),
            (
                "rules:\n- level: None\n  nonResourceURLs: [/healthz]\n  namespaces: [a]\n",
                r#"rules[0].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and non-resource URLs"#,
            ),
            (
                "rules:\n- level: None\n  nonResourceURLs: ['/a/*/b']\n",
                r#"rules[0].nonResourceURLs[0]: Invalid value: "/a/*/b": non-resource URL wildcards '*' must be the final character of the rule"#,
            ),
            (
                "rules:\n- level: None\n  nonResourceURLs: [healthz]\n",
                r#"rules[0].nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules must begin with a '/' character"#,
            ),
            (
                "rules:\n- level: None\n  resources: [{group: apps/v1}]\n",
                r#"rules[0].resources.group: Invalid value: "apps/v1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            ),
            (
                "rules:\n- level: None\n  resources: [{group: '', resourceNames: [x]}]\n",
                r#"rules[0].resources.resourceNames: Invalid value: ["x"]: using resourceNames requires at least one resource"#,
            ),
            ("rules: []\n", "loaded illegal policy with 0 rules"),
            ("", "loaded illegal policy with 0 rules"),
        ];
        for (body, expected) in cases {
            assert_eq!(refusal(&format!("{HEADER}{body}")), expected, "{body}");
        }
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let text = format!(
            "{HEADER}rules:\n- level: Sometimes\n- level: None\n  nonResourceURLs: ['x*y']\n"
        );
        assert_eq!(
            refusal(&text),
            r#"[rules[0].level: Unsupported value: "Sometimes": supported values: "None", "Metadata", "Request", "RequestResponse", rules[1].nonResourceURLs[0]: Invalid value: "x*y": non-resource URL rules must begin with a '/' character, rules[1].nonResourceURLs[0]: Invalid value: "x*y": non-resource URL wildcards '*' must be the final character of the rule]"#
        );
    }

    #[test]
    fn only_audit_k8s_io_v1_policy_is_read() {
        assert_eq!(
            refusal("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: None\n"),
            r#"failed decoding: no kind "Policy" is registered for version "audit.k8s.io/v1beta1""#
        );
        assert_eq!(
            refusal("apiVersion: audit.k8s.io/v1\nkind: Event\nrules:\n- level: None\n"),
            r#"failed decoding: no kind "Event" is registered for version "audit.k8s.io/v1""#
        );
        assert!(
            refusal("rules:\n- level: None\n").starts_with("unknown group version field"),
            "no apiVersion nor kind"
        );
        assert!(refusal("- a\n- b\n").starts_with("failed decoding: "));
        assert!(refusal("apiVersion: [x]\nkind: Policy\n").starts_with("failed decoding: "));
        assert!(
            refusal(&format!("{HEADER}rules:\n- level: None\n  users: bob\n"))
                .starts_with("failed decoding: ")
        );
        assert!(refusal("apiVersion: : :\n").starts_with("failed decoding: "));
    }

    #[test]
    fn unknown_fields_are_warnings_as_in_kubes_lenient_fallback() {
        // kube's own reader test: `verbs` indented under `resources` by mistake.
        let text = format!(
            "{HEADER}metadata:\n  name: p\nlevle: x\nrules:\n- level: None\n  resources:\n  - group: coordination.k8s.io\n    resources: [leases]\n    verbs: [watch, get, list]\n"
        );
        let (policy, warnings) = parse_with_warnings(&text).expect("lenient decoding");
        assert_eq!(
            warnings,
            [
                r#"unknown field "levle""#,
                r#"unknown field "rules[0].resources[0].verbs""#
            ]
        );
        assert!(
            policy.rules[0].verbs.is_empty(),
            "the stray field is ignored"
        );
        assert_eq!(policy.rules[0].resources[0].resources, ["leases"]);
    }

    #[test]
    fn from_file_names_the_file_in_its_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, format!("{HEADER}rules:\n- level: Metadata\n")).expect("write");
        assert_eq!(
            Policy::from_file(&path).expect("valid file"),
            Policy::default_metadata()
        );
        std::fs::write(&path, HEADER).expect("write");
        assert_eq!(
            Policy::from_file(&path).expect_err("no rules"),
            format!(
                "loaded illegal policy with 0 rules: from file {}",
                path.display()
            )
        );
        let missing = dir.path().join("missing.yaml");
        let error = Policy::from_file(&missing).expect_err("no file");
        assert!(
            error.starts_with(&format!(
                "failed to read file path \"{}\": ",
                missing.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn odd_policies_never_panic() {
        // Multi-byte characters next to the `*` check, nulls where lists belong, deep nesting.
        let bodies = [
            "rules:\n- level: None\n  nonResourceURLs: ['/é*', '*é', '', '**']\n",
            "rules:\n- level: None\n  nonResourceURLs: ~\n  resources: ~\n  users: ~\n",
            "rules:\n- ~\n",
            "rules: ~\nomitStages: ~\nomitManagedFields: ~\n",
            "rules:\n- level: None\n  resources: [{}, {group: ~, resources: ~}]\n",
            "rules:\n- level: None\n  resources: [[[[]]]]\n",
            "rules: {a: b}\n",
        ];
        for body in bodies {
            // Either answer is fine; no panic is the property.
            let _ = Policy::parse(&format!("{HEADER}{body}"));
        }
        let error = refusal(&format!(
            "{HEADER}rules:\n- level: None\n  nonResourceURLs: ['/é*', '*é', '']\n"
        ));
        assert!(error.contains(r#"Invalid value: "*é""#), "{error}");
        assert!(
            error.contains(r#"Invalid value: "": non-resource"#),
            "{error}"
        );
    }
}
