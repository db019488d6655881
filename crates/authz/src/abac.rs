//! `--authorization-mode=ABAC`: kube's attribute-based policy file
//! (`--authorization-policy-file`), one JSON policy per line, matched as kube's `abac.go`
//! matches.
//!
//! A line is `{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
//! "spec": {...}}`, or the unversioned (v0) form `{"user": "alice", "readonly": true}` that
//! kube converts on reading: there an absent user and group mean every authenticated user,
//! an absent namespace or resource means all of them, any API group matches, and a line with
//! neither namespace nor resource also matches every non-resource path. In both forms a user
//! or group of `*` means `system:authenticated`. Blank lines and lines starting with `#` are
//! skipped.

use futures::future::BoxFuture;
use kubesim_api::status::go_quote;
use kubesim_api::user::{ALL_AUTHENTICATED, UserInfo};
use serde::Deserialize;

use crate::{Attributes, Authorizer, Decision, PolicyRule, RuleSet};

const API_VERSION_V1BETA1: &str = "abac.authorization.kubernetes.io/v1beta1";
const API_VERSION_V0: &str = "abac.authorization.kubernetes.io/v0";
/// kube's reason when no line matches.
pub const NO_POLICY_MATCHED: &str = "No policy matched.";

/// A parsed policy file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Abac {
    policies: Vec<Policy>,
}

/// One line, converted to kube's internal `abac.PolicySpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Policy {
    /// 1-based line number in the file, for `decided_by`.
    line: usize,
    user: String,
    group: String,
    readonly: bool,
    api_group: String,
    resource: String,
    namespace: String,
    non_resource_path: String,
}

/// `abac.authorization.kubernetes.io/v1beta1` `PolicySpec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SpecV1beta1 {
    user: String,
    group: String,
    readonly: bool,
    api_group: String,
    resource: String,
    namespace: String,
    non_resource_path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyV1beta1 {
    spec: SpecV1beta1,
}

/// The unversioned (v0) policy.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyV0 {
    user: String,
    group: String,
    readonly: bool,
    resource: String,
    namespace: String,
}

impl Abac {
    /// Reads a policy file. An error names the line (1-based), its text and what is wrong
    /// with it, as kube's `policyLoadError` does.
    pub fn parse(policy_file_text: &str) -> Result<Abac, String> {
        let mut policies = Vec::new();
        for (index, text) in policy_file_text.lines().enumerate() {
            let trimmed = text.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let line = index + 1;
            let policy = parse_line(text, line).map_err(|error| {
                format!("error reading policy file, line {line}: {text}: {error}")
            })?;
            policies.push(policy);
        }
        Ok(Abac { policies })
    }

    /// Number of policies read.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    fn decide(&self, attributes: &Attributes) -> Decision {
        match self.policies.iter().find(|p| p.matches(attributes)) {
            Some(policy) => Decision::allow(format!("ABAC: policy line {}", policy.line)),
            None => Decision::no_opinion(NO_POLICY_MATCHED),
        }
    }

    /// kube's `RulesFor`: every line whose subject matches and whose namespace is `*` or
    /// `namespace` gives a resource rule (when it names a resource) and a non-resource rule
    /// (when it names a path); read-only lines give `get`, `list`, `watch`, others `*`.
    fn rules(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        let mut rules = RuleSet::default();
        for policy in &self.policies {
            if !policy.subject_matches(user) {
                continue;
            }
            if policy.namespace != "*" && policy.namespace != namespace {
                continue;
            }
            if !policy.resource.is_empty() {
                rules.resource_rules.push(PolicyRule {
                    verbs: verbs(policy.readonly),
                    api_groups: vec![policy.api_group.clone()],
                    resources: vec![policy.resource.clone()],
                    ..PolicyRule::default()
                });
            }
            if !policy.non_resource_path.is_empty() {
                rules.non_resource_rules.push(PolicyRule {
                    verbs: verbs(policy.readonly),
                    non_resource_urls: vec![policy.non_resource_path.clone()],
                    ..PolicyRule::default()
                });
            }
        }
        rules
    }
}

impl Authorizer for Abac {
    fn name(&self) -> &str {
        "ABAC"
    }

    fn authorize<'a>(&'a self, attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        let decision = self.decide(attributes);
        Box::pin(async move { decision })
    }

    fn rules_for<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>> {
        let rules = self.rules(user, namespace);
        Box::pin(async move { Some(rules) })
    }
}

fn verbs(readonly: bool) -> Vec<String> {
    let verbs: &[&str] = if readonly {
        &["get", "list", "watch"]
    } else {
        &["*"]
    };
    verbs.iter().map(|v| v.to_string()).collect()
}

/// Decodes one line as kube's ABAC codec does: a registered apiVersion and kind decode as
/// that version; without apiVersion or kind, the line is the unversioned form.
fn parse_line(text: &str, line: usize) -> Result<Policy, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let object = value
        .as_object()
        .ok_or_else(|| "a policy must be a JSON object".to_string())?;
    let type_meta = |field: &str| object.get(field).and_then(|v| v.as_str()).unwrap_or("");
    let (api_version, kind) = (type_meta("apiVersion"), type_meta("kind"));
    let mut policy = match (api_version, kind) {
        ("", _) | (_, "") => from_v0(decode::<PolicyV0>(value)?),
        (API_VERSION_V0, "Policy") => from_v0(decode::<PolicyV0>(value)?),
        (API_VERSION_V1BETA1, "Policy") => from_v1beta1(decode::<PolicyV1beta1>(value)?.spec),
        (version, kind) => {
            return Err(format!(
                "no kind {} is registered for version {}",
                go_quote(kind),
                go_quote(version)
            ));
        }
    };
    policy.line = line;
    Ok(policy)
}

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// kube's v1beta1 → internal conversion: `*` as user or group means every authenticated
/// user.
fn from_v1beta1(spec: SpecV1beta1) -> Policy {
    let mut policy = Policy {
        line: 0,
        user: spec.user,
        group: spec.group,
        readonly: spec.readonly,
        api_group: spec.api_group,
        resource: spec.resource,
        namespace: spec.namespace,
        non_resource_path: spec.non_resource_path,
    };
    if policy.user == "*" || policy.group == "*" {
        policy.group = ALL_AUTHENTICATED.to_string();
        policy.user = String::new();
    }
    policy
}

/// kube's v0 → internal conversion (`pkg/apis/abac/v0/conversion.go`).
fn from_v0(old: PolicyV0) -> Policy {
    let everything = |field: &str| {
        if field.is_empty() {
            "*".to_string()
        } else {
            field.to_string()
        }
    };
    let mut policy = Policy {
        line: 0,
        user: old.user.clone(),
        group: old.group.clone(),
        readonly: old.readonly,
        api_group: "*".to_string(),
        resource: everything(&old.resource),
        namespace: everything(&old.namespace),
        non_resource_path: String::new(),
    };
    if (old.user.is_empty() && old.group.is_empty()) || old.user == "*" || old.group == "*" {
        policy.group = ALL_AUTHENTICATED.to_string();
    }
    if old.user == "*" || old.group == "*" {
        policy.user = String::new();
    }
    if old.namespace.is_empty() && old.resource.is_empty() {
        policy.non_resource_path = "*".to_string();
    }
    policy
}

impl Policy {
    fn matches(&self, attributes: &Attributes) -> bool {
        self.subject_matches(&attributes.user)
            && self.verb_matches(attributes)
            && (self.resource_matches(attributes) || self.non_resource_matches(attributes))
    }

    /// kube's `subjectMatches`: a set user must be the user (or `*`), a set group must be
    /// one of the user's groups (or `*`); a policy with neither matches no one.
    fn subject_matches(&self, user: &UserInfo) -> bool {
        let mut matched = false;
        if !self.user.is_empty() {
            if self.user != "*" && self.user != user.username {
                return false;
            }
            matched = true;
        }
        if !self.group.is_empty() {
            if self.group != "*" && !user.in_group(&self.group) {
                return false;
            }
            matched = true;
        }
        matched
    }

    /// Every policy allows read-only requests; a read-only policy allows nothing else.
    fn verb_matches(&self, attributes: &Attributes) -> bool {
        is_read_only(&attributes.verb) || !self.readonly
    }

    fn resource_matches(&self, attributes: &Attributes) -> bool {
        attributes.resource_request
            && wildcard_or(&self.namespace, &attributes.namespace)
            && wildcard_or(&self.resource, &attributes.resource)
            && wildcard_or(&self.api_group, &attributes.api_group)
    }

    /// `*`, the exact path, or a prefix ending in `*` (`/apis/*`).
    fn non_resource_matches(&self, attributes: &Attributes) -> bool {
        if attributes.resource_request {
            return false;
        }
        let pattern = self.non_resource_path.as_str();
        let path = attributes.path.as_str();
        if pattern == "*" || pattern == path {
            return true;
        }
        pattern.ends_with('*') && path.starts_with(pattern.trim_end_matches('*'))
    }
}

fn wildcard_or(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

/// kube's `IsReadOnly`.
fn is_read_only(verb: &str) -> bool {
    matches!(verb, "get" | "list" | "watch")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecisionKind;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo::new(name, groups)
    }

    fn resource(who: UserInfo, verb: &str, ns: &str, group: &str, resource: &str) -> Attributes {
        Attributes {
            user: who,
            verb: verb.into(),
            resource_request: true,
            namespace: ns.into(),
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            ..Attributes::default()
        }
    }

    fn path(who: UserInfo, verb: &str, path: &str) -> Attributes {
        Attributes {
            user: who,
            verb: verb.into(),
            path: path.into(),
            ..Attributes::default()
        }
    }

    fn line(spec: &str) -> String {
        format!(
            r#"{{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {spec}}}"#
        )
    }

    /// The examples of kube's ABAC documentation, one policy per line.
    fn documented_policy() -> Abac {
        let lines = [
            "# Alice can do anything to all resources:".to_string(),
            line(r#"{"user": "alice", "namespace": "*", "resource": "*", "apiGroup": "*"}"#),
            "".to_string(),
            "# The kubelet can read any pods, and read and write events:".to_string(),
            line(r#"{"user": "kubelet", "namespace": "*", "resource": "pods", "readonly": true}"#),
            line(r#"{"user": "kubelet", "namespace": "*", "resource": "events"}"#),
            "   # Bob can just read pods in namespace projectCaribou:".to_string(),
            line(
                r#"{"user": "bob", "namespace": "projectCaribou", "resource": "pods", "readonly": true}"#,
            ),
            "# Anyone can make read-only requests to all non-resource paths:".to_string(),
            line(r#"{"group": "system:authenticated", "readonly": true, "nonResourcePath": "*"}"#),
            line(
                r#"{"group": "system:unauthenticated", "readonly": true, "nonResourcePath": "*"}"#,
            ),
        ];
        Abac::parse(&lines.join("\n")).expect("the documented policy parses")
    }

    fn decide(abac: &Abac, attributes: Attributes) -> Decision {
        abac.decide(&attributes)
    }

    #[test]
    fn the_documented_examples() {
        let abac = documented_policy();
        assert_eq!(abac.len(), 6);
        let alice = || user("alice", &["system:authenticated"]);
        let kubelet = || user("kubelet", &["system:authenticated"]);
        let bob = || user("bob", &["system:authenticated"]);

        assert_eq!(
            decide(
                &abac,
                resource(alice(), "delete", "prod", "apps", "deployments")
            ),
            Decision::allow("ABAC: policy line 2")
        );
        assert_eq!(
            decide(&abac, resource(kubelet(), "list", "any", "", "pods")),
            Decision::allow("ABAC: policy line 5")
        );
        assert_eq!(
            decide(&abac, resource(kubelet(), "create", "any", "", "events")),
            Decision::allow("ABAC: policy line 6")
        );
        assert_eq!(
            decide(&abac, resource(kubelet(), "create", "any", "", "pods")),
            Decision::no_opinion("No policy matched.")
        );
        assert_eq!(
            decide(&abac, resource(bob(), "get", "projectCaribou", "", "pods")),
            Decision::allow("ABAC: policy line 8")
        );
        let denied = [
            resource(bob(), "update", "projectCaribou", "", "pods"),
            resource(bob(), "get", "other", "", "pods"),
            resource(bob(), "get", "projectCaribou", "", "secrets"),
            // apiGroup unset means the core group only.
            resource(kubelet(), "get", "any", "batch", "pods"),
            path(bob(), "post", "/api"),
        ];
        for attributes in denied {
            assert_eq!(
                decide(&abac, attributes.clone()).kind,
                DecisionKind::NoOpinion,
                "{attributes:?}"
            );
        }
        assert_eq!(
            decide(&abac, path(bob(), "get", "/version")),
            Decision::allow("ABAC: policy line 10")
        );
        let anonymous = user("system:anonymous", &["system:unauthenticated"]);
        assert_eq!(
            decide(&abac, path(anonymous, "get", "/healthz")),
            Decision::allow("ABAC: policy line 11")
        );
    }

    #[test]
    fn wildcard_subjects_mean_every_authenticated_user() {
        let abac = Abac::parse(&line(r#"{"user": "*", "namespace": "*", "resource": "*", "apiGroup": "*", "readonly": true}"#)).unwrap();
        let jane = user("jane", &["system:authenticated"]);
        assert!(decide(&abac, resource(jane, "get", "ns", "", "pods")).is_allowed());
        let anonymous = user("system:anonymous", &["system:unauthenticated"]);
        assert!(!decide(&abac, resource(anonymous, "get", "ns", "", "pods")).is_allowed());
    }

    #[test]
    fn user_and_group_must_both_match_when_both_are_set() {
        let abac = Abac::parse(&line(r#"{"user": "jane", "group": "ops", "namespace": "*", "resource": "*", "apiGroup": "*"}"#)).unwrap();
        assert!(
            decide(
                &abac,
                resource(user("jane", &["ops"]), "get", "n", "", "pods")
            )
            .is_allowed()
        );
        assert!(
            !decide(
                &abac,
                resource(user("jane", &["dev"]), "get", "n", "", "pods")
            )
            .is_allowed()
        );
        assert!(
            !decide(
                &abac,
                resource(user("joe", &["ops"]), "get", "n", "", "pods")
            )
            .is_allowed()
        );
        let nobody = Abac::parse(&line(
            r#"{"namespace": "*", "resource": "*", "apiGroup": "*"}"#,
        ))
        .unwrap();
        assert!(
            !decide(
                &nobody,
                resource(user("jane", &["ops"]), "get", "n", "", "pods")
            )
            .is_allowed()
        );
    }

    #[test]
    fn namespace_resource_and_group_match_exactly_or_by_wildcard() {
        let abac = Abac::parse(&line(
            r#"{"user": "jane", "resource": "nodes", "apiGroup": ""}"#,
        ))
        .unwrap();
        let jane = || user("jane", &[]);
        // No namespace in the policy: only cluster-scoped requests.
        assert!(decide(&abac, resource(jane(), "get", "", "", "nodes")).is_allowed());
        assert!(!decide(&abac, resource(jane(), "get", "ns", "", "nodes")).is_allowed());
        // A resource policy never matches a path, whatever its namespace.
        assert!(!decide(&abac, path(jane(), "get", "nodes")).is_allowed());
    }

    #[test]
    fn non_resource_paths_match_exactly_or_by_a_trailing_star() {
        let text = [
            line(r#"{"user": "jane", "nonResourcePath": "/healthz"}"#),
            line(r#"{"user": "jane", "nonResourcePath": "/apis/*"}"#),
        ]
        .join("\n");
        let abac = Abac::parse(&text).unwrap();
        let jane = || user("jane", &[]);
        assert_eq!(
            decide(&abac, path(jane(), "get", "/healthz")),
            Decision::allow("ABAC: policy line 1")
        );
        assert!(!decide(&abac, path(jane(), "get", "/healthz/etcd")).is_allowed());
        assert_eq!(
            decide(&abac, path(jane(), "post", "/apis/apps/v1")),
            Decision::allow("ABAC: policy line 2")
        );
        assert_eq!(
            decide(&abac, path(jane(), "get", "/apis/")),
            Decision::allow("ABAC: policy line 2")
        );
        assert!(!decide(&abac, path(jane(), "get", "/api")).is_allowed());
        // A path policy never matches a resource request.
        assert!(!decide(&abac, resource(jane(), "get", "", "", "healthz")).is_allowed());
    }

    #[test]
    fn kubes_example_unversioned_file() {
        // kube's pkg/auth/authorizer/abac/example_policy_file.jsonl
        let text = r#"{"user":"admin"}
{"user":"scheduler", "readonly": true, "resource": "pods"}
{"user":"scheduler", "resource": "bindings"}
{"user":"kubelet",  "readonly": true, "resource": "pods"}
{"user":"kubelet",  "readonly": true, "resource": "services"}
{"user":"kubelet",  "readonly": true, "resource": "endpoints"}
{"user":"kubelet", "resource": "events"}
{"user":"alice", "namespace": "projectCaribou"}
{"user":"bob", "readonly": true, "namespace": "projectCaribou"}"#;
        let abac = Abac::parse(text).unwrap();
        assert_eq!(abac.len(), 9);
        let admin = || user("admin", &[]);
        // v0: any namespace, resource and group, and every path.
        assert_eq!(
            decide(
                &abac,
                resource(admin(), "delete", "x", "apps", "deployments")
            ),
            Decision::allow("ABAC: policy line 1")
        );
        assert_eq!(
            decide(&abac, path(admin(), "post", "/anything")),
            Decision::allow("ABAC: policy line 1")
        );
        let scheduler = || user("scheduler", &[]);
        assert_eq!(
            decide(&abac, resource(scheduler(), "create", "x", "", "bindings")),
            Decision::allow("ABAC: policy line 3")
        );
        assert!(!decide(&abac, resource(scheduler(), "create", "x", "", "pods")).is_allowed());
        // A resource named in v0 does not open paths.
        assert!(!decide(&abac, path(scheduler(), "get", "/healthz")).is_allowed());
        let alice = || user("alice", &[]);
        assert_eq!(
            decide(
                &abac,
                resource(alice(), "create", "projectCaribou", "apps", "deployments")
            ),
            Decision::allow("ABAC: policy line 8")
        );
        assert!(!decide(&abac, resource(alice(), "create", "other", "", "pods")).is_allowed());
        assert!(
            !decide(
                &abac,
                resource(user("bob", &[]), "delete", "projectCaribou", "", "pods")
            )
            .is_allowed()
        );
    }

    #[test]
    fn unversioned_lines_without_a_subject_mean_every_authenticated_user() {
        let abac = Abac::parse(r#"{"readonly": true}"#).unwrap();
        let jane = user("jane", &["system:authenticated"]);
        assert!(decide(&abac, resource(jane.clone(), "list", "ns", "", "pods")).is_allowed());
        assert!(!decide(&abac, resource(jane, "delete", "ns", "", "pods")).is_allowed());
        let anonymous = user("system:anonymous", &["system:unauthenticated"]);
        assert!(!decide(&abac, path(anonymous, "get", "/healthz")).is_allowed());
        let v0 = r#"{"apiVersion": "abac.authorization.kubernetes.io/v0", "kind": "Policy", "user": "*"}"#;
        let abac = Abac::parse(v0).unwrap();
        assert!(
            decide(
                &abac,
                path(user("x", &["system:authenticated"]), "get", "/x")
            )
            .is_allowed()
        );
        assert!(!decide(&abac, path(user("x", &[]), "get", "/x")).is_allowed());
    }

    #[test]
    fn errors_name_the_line() {
        let text = format!(
            "# comment\n{}\n{{\"user\": \"jane\"",
            line(r#"{"user": "a"}"#)
        );
        assert_eq!(
            Abac::parse(&text),
            Err("error reading policy file, line 3: {\"user\": \"jane\": EOF while parsing an object at line 1 column 15".into())
        );
        assert_eq!(
            Abac::parse("[1]"),
            Err("error reading policy file, line 1: [1]: a policy must be a JSON object".into())
        );
        let unknown = r#"{"apiVersion": "abac.authorization.kubernetes.io/v2", "kind": "Policy", "spec": {}}"#;
        assert_eq!(
            Abac::parse(unknown),
            Err(format!(
                "error reading policy file, line 1: {unknown}: no kind \"Policy\" is registered for version \"abac.authorization.kubernetes.io/v2\""
            ))
        );
        let bad_type = line(r#"{"user": "a", "readonly": "yes"}"#);
        let error = Abac::parse(&bad_type).unwrap_err();
        assert_eq!(
            error,
            format!(
                "error reading policy file, line 1: {bad_type}: invalid type: string \"yes\", expected a boolean"
            )
        );
    }

    #[test]
    fn rules_are_kubes_rules_for() {
        let abac = documented_policy();
        let kubelet = user("kubelet", &["system:authenticated"]);
        let rules = abac.rules(&kubelet, "ns");
        let shown: Vec<String> = rules.resource_rules.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            [
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list" "watch"]}"#,
                r#"{APIGroups:[""], Resources:["events"], Verbs:["*"]}"#,
            ]
        );
        assert!(!rules.incomplete);
        // As in kube, a line without a namespace only shows in the rules of namespace "".
        assert_eq!(rules.non_resource_rules, []);
        let cluster = abac.rules(&kubelet, "");
        let shown: Vec<String> = cluster
            .non_resource_rules
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            shown,
            [r#"{NonResourceURLs:["*"], Verbs:["get" "list" "watch"]}"#]
        );
        let bob = user("bob", &[]);
        assert_eq!(abac.rules(&bob, "other"), RuleSet::default());
        assert_eq!(abac.rules(&bob, "projectCaribou").resource_rules.len(), 1);
    }
}
