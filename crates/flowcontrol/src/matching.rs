//! Which FlowSchema a request matches, and its flow: kube's `matchesFlowSchema` and the
//! matchers under it (`k8s.io/apiserver/pkg/util/flowcontrol/rule.go`), and
//! `computeFlowDistinguisher` (`apf_controller.go`).
//!
//! A schema matches when one of its `rules` does; a rule matches when one of its subjects
//! is the user and, for a resource request, one of its resource rules, or for a
//! non-resource request, one of its non-resource rules, matches the request.

use kubesim_api::RequestInfo;
use kubesim_api::user::{SERVICE_ACCOUNT_USER_PREFIX, UserInfo};

use crate::config::{
    CATCH_ALL, Config, Distinguisher, FlowSchema, LevelKind, LimitResponse, NonResourcePolicyRule,
    PolicyRulesWithSubjects, PriorityLevel, ResourcePolicyRule, Subject,
};
use crate::{Classification, RequestDigest};

/// Every wildcard of the API (`VerbAll`, `APIGroupAll`, `ResourceAll`, `NonResourceAll`,
/// `NameAll`, `NamespaceEvery`) is spelled `*`.
const ALL: &str = "*";

/// The first FlowSchema (by precedence, then name) whose rules match the request, with its
/// level and the request's flow distinguisher. When none matches (a user in neither
/// `system:authenticated` nor `system:unauthenticated`), kube falls back to `catch-all`, and
/// so does this; `None` only when the config has no `catch-all` either, which cannot happen
/// to a config from [`Config::from_objects`].
pub fn classify(config: &Config, digest: &RequestDigest) -> Option<Classification> {
    let (schema, level) = config
        .flow_schemas
        .iter()
        .filter(|schema| matches_flow_schema(digest, schema))
        .find_map(|schema| with_level(config, schema))
        .or_else(|| {
            let catch_all = config.flow_schemas.iter().find(|s| s.name == CATCH_ALL)?;
            with_level(config, catch_all)
        })?;
    Some(Classification {
        flow_schema: schema.name.clone(),
        flow_schema_uid: schema.uid.clone(),
        priority_level: level.name.clone(),
        priority_level_uid: level.uid.clone(),
        flow_distinguisher: flow_distinguisher(digest, schema, level),
    })
}

/// The schema with its level; `None` for a schema whose level is missing, which
/// [`Config::from_objects`] never keeps but a hand-built config might.
fn with_level<'a>(
    config: &'a Config,
    schema: &'a FlowSchema,
) -> Option<(&'a FlowSchema, &'a PriorityLevel)> {
    Some((schema, config.levels.get(&schema.priority_level)?))
}

/// kube computes the distinguisher only where it picks a queue, a level that queues in
/// more than one; elsewhere (exempt, rejecting, one queue) the flow is `""` whatever the
/// schema's method, and the debug dumps and logs show it so.
fn flow_distinguisher(
    digest: &RequestDigest,
    schema: &FlowSchema,
    level: &PriorityLevel,
) -> String {
    let queues = match level.kind {
        LevelKind::Limited {
            limit_response: LimitResponse::Queue { queues, .. },
            ..
        } => queues,
        _ => 0,
    };
    if queues <= 1 {
        return String::new();
    }
    match schema.distinguisher {
        None => String::new(),
        Some(Distinguisher::ByUser) => digest.user.username.clone(),
        // Empty for cluster-scoped requests and lists across namespaces.
        Some(Distinguisher::ByNamespace) => digest.info.namespace.clone(),
    }
}

/// kube's `matchesFlowSchema`.
fn matches_flow_schema(digest: &RequestDigest, schema: &FlowSchema) -> bool {
    schema
        .rules
        .iter()
        .any(|rule| matches_policy_rule(digest, rule))
}

/// kube's `matchesPolicyRule`.
fn matches_policy_rule(digest: &RequestDigest, rule: &PolicyRulesWithSubjects) -> bool {
    if !rule
        .subjects
        .iter()
        .any(|s| matches_subject(&digest.user, s))
    {
        return false;
    }
    let info = &digest.info;
    if info.is_resource_request {
        rule.resource_rules
            .iter()
            .any(|r| matches_resource_rule(info, r))
    } else {
        rule.non_resource_rules
            .iter()
            .any(|r| matches_non_resource_rule(info, r))
    }
}

fn matches_subject(user: &UserInfo, subject: &Subject) -> bool {
    match subject {
        Subject::User(name) => name == ALL || *name == user.username,
        Subject::Group(name) => name == ALL || user.in_group(name),
        Subject::ServiceAccount { namespace, name } => {
            let Some(account) = service_account_in(namespace, &user.username) else {
                return false;
            };
            name == ALL || account == name
        }
    }
}

/// The account name when `username` is `system:serviceaccount:<namespace>:<name>`: the
/// namespace must be followed by `:`, so `kube-system` does not take in
/// `kube-system-extra`'s accounts. As kube's `MatchesUsername`, the rest is the name as it
/// is, colons and all.
fn service_account_in<'a>(namespace: &str, username: &'a str) -> Option<&'a str> {
    username
        .strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)?
        .strip_prefix(namespace)?
        .strip_prefix(':')
}

/// kube's `matchesResourcePolicyRule`: a request without a namespace (a cluster-scoped
/// resource, or a list across all namespaces) matches only with `clusterScope`; `*` in
/// `namespaces` matches every namespace but not that.
fn matches_resource_rule(info: &RequestInfo, rule: &ResourcePolicyRule) -> bool {
    if !contains_or_all(&rule.verbs, &info.verb)
        || !matches_resource(&rule.resources, info)
        || !contains_or_all(&rule.api_groups, &info.api_group)
    {
        return false;
    }
    if info.namespace.is_empty() {
        return rule.cluster_scope;
    }
    contains_or_all(&rule.namespaces, &info.namespace)
}

/// kube's `matchesNonResourcePolicyRule`.
fn matches_non_resource_rule(info: &RequestInfo, rule: &NonResourcePolicyRule) -> bool {
    contains_or_all(&rule.verbs, &info.verb)
        && rule
            .non_resource_urls
            .iter()
            .any(|url| url_matches(url, &info.path))
}

/// kube's `matchPolicyRuleNonResourceURL`: `*`, the path itself, or a prefix of it that
/// ends at a `/`. A trailing `*` is dropped and a missing trailing `/` added before the
/// prefix test, so `/apis/*` matches `/apis/apps` but not `/apis`, and `/healthz` matches
/// `/healthz/etcd` as well as itself.
fn url_matches(rule_url: &str, path: &str) -> bool {
    if rule_url == ALL || rule_url == path {
        return true;
    }
    let prefix = rule_url.strip_suffix('*').unwrap_or(rule_url);
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// kube's `matchPolicyRuleResource`: `*` alone, or an entry equal to `resource` or
/// `resource/subresource` (so `pods` is not `pods/log`, and `*/scale` is nothing special).
/// Compared in place: this runs for every rule of every schema tried on every request.
fn matches_resource(resources: &[String], info: &RequestInfo) -> bool {
    let equals_request = |entry: &str| {
        let rest = entry.strip_prefix(info.resource.as_str());
        if info.subresource.is_empty() {
            rest == Some("")
        } else {
            rest.and_then(|r| r.strip_prefix('/')) == Some(info.subresource.as_str())
        }
    };
    match resources {
        [only] if only == ALL => true,
        _ => resources.iter().any(|entry| equals_request(entry)),
    }
}

/// kube's `containsString`: `*` is a wildcard only as the list's one entry (kube's
/// validation allows it nowhere else), otherwise an entry must equal `value`.
fn contains_or_all(list: &[String], value: &str) -> bool {
    match list {
        [only] if only == ALL => true,
        _ => list.iter().any(|entry| entry == value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap;
    use kubesim_api::user::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED};
    use serde_json::{Value, json};
    use std::sync::Arc;

    /// kube-apiserver's configuration: mandatory and suggested objects.
    fn kube_config() -> Config {
        let (schemas, levels) = objects_without(&[]);
        config(&schemas, &levels)
    }

    fn objects_without(schema_names: &[&str]) -> (Vec<Value>, Vec<Value>) {
        let (mut schemas, mut levels) = bootstrap::mandatory();
        let (suggested_schemas, suggested_levels) = bootstrap::suggested();
        schemas.extend(suggested_schemas);
        levels.extend(suggested_levels);
        schemas.retain(|s| !schema_names.iter().any(|n| s["metadata"]["name"] == *n));
        (schemas, levels)
    }

    fn config(schemas: &[Value], levels: &[Value]) -> Config {
        let (config, problems) = Config::from_objects(schemas, levels);
        assert_eq!(problems, Vec::<String>::new());
        config
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo::new(name, groups).with_authenticated_group()
    }

    fn resource(
        user: UserInfo,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: &str,
    ) -> RequestDigest {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        RequestDigest {
            info: RequestInfo {
                is_resource_request: true,
                verb: verb.into(),
                api_group: group.into(),
                resource: resource.into(),
                subresource: subresource.into(),
                namespace: namespace.into(),
                ..RequestInfo::default()
            },
            user: Arc::new(user),
        }
    }

    fn non_resource(user: UserInfo, verb: &str, path: &str) -> RequestDigest {
        RequestDigest {
            info: RequestInfo {
                verb: verb.into(),
                path: path.into(),
                ..RequestInfo::default()
            },
            user: Arc::new(user),
        }
    }

    /// `(flow schema, level, distinguisher)`.
    fn classified(config: &Config, digest: &RequestDigest) -> (String, String, String) {
        let c = classify(config, digest).unwrap_or_default();
        (c.flow_schema, c.priority_level, c.flow_distinguisher)
    }

    fn triple(schema: &str, level: &str, distinguisher: &str) -> (String, String, String) {
        (schema.into(), level.into(), distinguisher.into())
    }

    #[test]
    fn system_masters_are_exempt() {
        let admin = user("admin", &["system:masters"]);
        let config = kube_config();
        let digest = resource(admin.clone(), "delete", "apps", "deployments", "default");
        assert_eq!(classified(&config, &digest), triple("exempt", "exempt", ""));
        let digest = non_resource(admin, "get", "/metrics");
        assert_eq!(classified(&config, &digest), triple("exempt", "exempt", ""));
    }

    #[test]
    fn an_ordinary_users_list_of_pods_is_global_default_by_user() {
        let digest = resource(user("jane", &[]), "list", "", "pods", "default");
        assert_eq!(
            classified(&kube_config(), &digest),
            triple("global-default", "global-default", "jane")
        );
    }

    #[test]
    fn kube_system_service_accounts_are_workload_high_by_namespace() {
        let sa = user(
            "system:serviceaccount:kube-system:replicaset-controller",
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
            ],
        );
        let config = kube_config();
        let digest = resource(sa.clone(), "update", "apps", "replicasets/status", "web");
        assert_eq!(
            classified(&config, &digest),
            triple("kube-system-service-accounts", "workload-high", "web")
        );
        // Cluster-scoped: no namespace, so the one flow of the empty distinguisher.
        let digest = resource(sa, "list", "", "nodes", "");
        assert_eq!(
            classified(&config, &digest),
            triple("kube-system-service-accounts", "workload-high", "")
        );
    }

    #[test]
    fn other_service_accounts_are_workload_low_by_user() {
        let name = "system:serviceaccount:kube-system-extra:builder";
        let sa = user(name, &["system:serviceaccounts"]);
        let digest = resource(sa, "get", "", "configmaps", "kube-system-extra");
        assert_eq!(
            classified(&kube_config(), &digest),
            triple("service-accounts", "workload-low", name)
        );
    }

    #[test]
    fn probes_are_exempt_for_everyone_but_only_for_get() {
        let config = kube_config();
        for who in [UserInfo::anonymous(), user("jane", &[])] {
            for path in ["/healthz", "/readyz", "/livez", "/readyz/etcd"] {
                let digest = non_resource(who.clone(), "get", path);
                assert_eq!(
                    classified(&config, &digest),
                    triple("probes", "exempt", ""),
                    "{path}"
                );
            }
            let digest = non_resource(who.clone(), "post", "/healthz");
            assert_eq!(classified(&config, &digest).0, "global-default");
            let digest = non_resource(who, "get", "/healthzz");
            assert_eq!(classified(&config, &digest).0, "global-default");
        }
    }

    #[test]
    fn nodes_heartbeats_are_node_high_and_the_rest_system() {
        let node = user("system:node:n1", &["system:nodes"]);
        let config = kube_config();
        let digest = resource(node.clone(), "patch", "", "nodes/status", "");
        assert_eq!(
            classified(&config, &digest),
            triple("system-node-high", "node-high", "system:node:n1")
        );
        let digest = resource(
            node.clone(),
            "update",
            "coordination.k8s.io",
            "leases",
            "kube-node-lease",
        );
        assert_eq!(classified(&config, &digest).0, "system-node-high");
        // Leases are namespaced only in the rule: a cluster-wide list is not a heartbeat.
        let digest = resource(node.clone(), "list", "coordination.k8s.io", "leases", "");
        assert_eq!(classified(&config, &digest).0, "system-nodes");
        let digest = resource(node, "get", "", "pods", "default");
        assert_eq!(
            classified(&config, &digest),
            triple("system-nodes", "system", "system:node:n1")
        );
    }

    #[test]
    fn leader_election_goes_before_the_controllers_own_schema() {
        let kcm = user("system:kube-controller-manager", &[]);
        let config = kube_config();
        let digest = resource(
            kcm.clone(),
            "update",
            "coordination.k8s.io",
            "leases",
            "kube-system",
        );
        assert_eq!(
            classified(&config, &digest),
            triple(
                "system-leader-election",
                "leader-election",
                "system:kube-controller-manager"
            )
        );
        let digest = resource(kcm.clone(), "update", "", "endpoints", "default");
        assert_eq!(classified(&config, &digest).0, "endpoint-controller");
        let digest = resource(kcm, "list", "", "pods", "default");
        assert_eq!(
            classified(&config, &digest),
            triple("kube-controller-manager", "workload-high", "default")
        );
    }

    #[test]
    fn a_request_nothing_else_matches_is_catch_all() {
        let (schemas, levels) = objects_without(&["global-default"]);
        let config = config(&schemas, &levels);
        // catch-all is ByUser, but its level rejects rather than queues: one flow.
        let digest = resource(user("jane", &[]), "list", "", "pods", "default");
        assert_eq!(
            classified(&config, &digest),
            triple("catch-all", "catch-all", "")
        );
        let digest = non_resource(UserInfo::anonymous(), "get", "/version");
        assert_eq!(
            classified(&config, &digest),
            triple("catch-all", "catch-all", "")
        );
    }

    #[test]
    fn a_user_in_no_group_falls_back_to_catch_all() {
        let digest = resource(UserInfo::new("loner", &[]), "get", "", "pods", "default");
        assert_eq!(classified(&kube_config(), &digest).0, "catch-all");
    }

    #[test]
    fn classification_carries_the_uids() {
        let (mut schemas, mut levels) = objects_without(&[]);
        for object in schemas.iter_mut().chain(levels.iter_mut()) {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            object["metadata"]["uid"] = json!(format!(
                "uid-{}-{name}",
                object["kind"].as_str().unwrap_or("")
            ));
        }
        let config = config(&schemas, &levels);
        let digest = resource(user("jane", &[]), "list", "", "pods", "default");
        let c = classify(&config, &digest).unwrap_or_default();
        assert_eq!(c.flow_schema_uid, "uid-FlowSchema-global-default");
        assert_eq!(
            c.priority_level_uid,
            "uid-PriorityLevelConfiguration-global-default"
        );
    }

    fn schema(name: &str, precedence: i32, distinguisher: Option<&str>, rule: Value) -> Value {
        let mut spec = json!({
            "priorityLevelConfiguration": {"name": "global-default"},
            "matchingPrecedence": precedence,
            "rules": [rule],
        });
        if let Some(method) = distinguisher {
            spec["distinguisherMethod"] = json!({"type": method});
        }
        json!({"metadata": {"name": name}, "spec": spec})
    }

    fn everyone(resource_rule: Value) -> Value {
        json!({
            "subjects": [{"kind": "Group", "group": {"name": ALL_AUTHENTICATED}}],
            "resourceRules": [resource_rule],
        })
    }

    fn all_resources() -> Value {
        json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": true, "namespaces": ["*"]})
    }

    #[test]
    fn precedence_ties_go_to_the_first_name() {
        let (mut schemas, levels) = objects_without(&[]);
        schemas.push(schema(
            "tenant-b",
            500,
            Some("ByUser"),
            everyone(all_resources()),
        ));
        schemas.push(schema(
            "tenant-a",
            500,
            Some("ByNamespace"),
            everyone(all_resources()),
        ));
        let config = config(&schemas, &levels);
        let digest = resource(user("jane", &[]), "get", "", "secrets", "team-1");
        // Both match at 500 (as does nothing else: system-nodes is for nodes): by name.
        assert_eq!(
            classified(&config, &digest),
            triple("tenant-a", "global-default", "team-1")
        );
        let schemas_b: Vec<Value> = schemas
            .into_iter()
            .filter(|s| s["metadata"]["name"] != "tenant-a")
            .collect();
        let config = self::config(&schemas_b, &levels);
        assert_eq!(
            classified(&config, &digest),
            triple("tenant-b", "global-default", "jane")
        );
    }

    #[test]
    fn a_level_with_one_queue_has_one_flow_whatever_the_method() {
        let (mut schemas, mut levels) = objects_without(&[]);
        levels.push(json!({"metadata": {"name": "single"}, "spec": {"type": "Limited",
            "limited": {"limitResponse": {"type": "Queue", "queuing": {"queues": 1, "handSize": 1}}}}}));
        let mut single = schema("single", 100, Some("ByUser"), everyone(all_resources()));
        single["spec"]["priorityLevelConfiguration"]["name"] = json!("single");
        schemas.push(single);
        let config = config(&schemas, &levels);
        let digest = resource(user("jane", &[]), "get", "", "pods", "ns");
        assert_eq!(classified(&config, &digest), triple("single", "single", ""));
    }

    #[test]
    fn resource_rules_match_kubes_way() {
        let rule = |resources: Value, namespaces: Value, cluster_scope: bool| {
            let (mut schemas, levels) = objects_without(&[]);
            schemas.push(schema(
                "probe-rule",
                100,
                None,
                everyone(json!({
                    "verbs": ["get", "list"],
                    "apiGroups": ["", "apps"],
                    "resources": resources,
                    "clusterScope": cluster_scope,
                    "namespaces": namespaces,
                })),
            ));
            config(&schemas, &levels)
        };
        let jane = || user("jane", &[]);
        let hit =
            |config: &Config, digest: RequestDigest| classified(config, &digest).0 == "probe-rule";

        let pods = rule(json!(["pods"]), json!(["*"]), false);
        assert!(hit(&pods, resource(jane(), "get", "", "pods", "ns")));
        assert!(hit(&pods, resource(jane(), "list", "", "pods", "ns")));
        assert!(
            !hit(&pods, resource(jane(), "watch", "", "pods", "ns")),
            "verb"
        );
        assert!(
            !hit(&pods, resource(jane(), "get", "batch", "pods", "ns")),
            "group"
        );
        assert!(
            !hit(&pods, resource(jane(), "get", "", "pods/log", "ns")),
            "subresource"
        );
        assert!(
            !hit(&pods, resource(jane(), "list", "", "pods", "")),
            "all namespaces"
        );

        let status = rule(json!(["pods/status"]), json!(["ns"]), true);
        assert!(hit(
            &status,
            resource(jane(), "get", "", "pods/status", "ns")
        ));
        assert!(!hit(&status, resource(jane(), "get", "", "pods", "ns")));
        assert!(
            !hit(&status, resource(jane(), "get", "", "pods/status", "other")),
            "namespace"
        );
        assert!(
            hit(&status, resource(jane(), "get", "", "pods/status", "")),
            "clusterScope"
        );

        let scale = rule(json!(["*/scale"]), json!(["*"]), false);
        assert!(!hit(
            &scale,
            resource(jane(), "get", "apps", "deployments/scale", "ns")
        ));
        let bare = rule(json!(["pods/"]), json!(["*"]), false);
        assert!(!hit(&bare, resource(jane(), "get", "", "pods", "ns")));

        let all = rule(json!(["*"]), json!(["*"]), false);
        assert!(hit(
            &all,
            resource(jane(), "get", "apps", "deployments/scale", "ns")
        ));
        // `*` is a wildcard only alone in its list.
        let mixed = rule(json!(["*", "pods"]), json!(["*"]), false);
        assert!(hit(&mixed, resource(jane(), "get", "", "pods", "ns")));
        assert!(!hit(&mixed, resource(jane(), "get", "", "secrets", "ns")));
    }

    #[test]
    fn non_resource_urls_match_kubes_way() {
        assert!(url_matches("*", "/anything"));
        assert!(url_matches("/apis/*", "/apis/apps/v1"));
        assert!(!url_matches("/apis/*", "/apis"));
        assert!(url_matches("/apis", "/apis"));
        assert!(url_matches("/apis", "/apis/apps"));
        assert!(!url_matches("/apis", "/apisx"));
        assert!(url_matches("/metrics/", "/metrics/slis"));
        assert!(!url_matches("/metrics/", "/metrics"));
    }

    #[test]
    fn subjects_match_kubes_way() {
        let jane = user("jane", &["dev"]);
        assert!(matches_subject(&jane, &Subject::User("jane".into())));
        assert!(matches_subject(&jane, &Subject::User("*".into())));
        assert!(!matches_subject(&jane, &Subject::User("joe".into())));
        assert!(matches_subject(&jane, &Subject::Group("dev".into())));
        assert!(matches_subject(
            &jane,
            &Subject::Group(ALL_AUTHENTICATED.into())
        ));
        assert!(!matches_subject(
            &jane,
            &Subject::Group(ALL_UNAUTHENTICATED.into())
        ));
        assert!(matches_subject(
            &UserInfo::new("nobody", &[]),
            &Subject::Group("*".into())
        ));

        let sa = |namespace: &str, name: &str| Subject::ServiceAccount {
            namespace: namespace.into(),
            name: name.into(),
        };
        let builder = UserInfo::new("system:serviceaccount:ci:builder", &[]);
        assert!(matches_subject(&builder, &sa("ci", "builder")));
        assert!(matches_subject(&builder, &sa("ci", "*")));
        assert!(!matches_subject(&builder, &sa("ci", "deployer")));
        assert!(
            !matches_subject(&builder, &sa("c", "*")),
            "namespace prefix"
        );
        assert!(!matches_subject(&jane, &sa("ci", "*")));
    }
}
