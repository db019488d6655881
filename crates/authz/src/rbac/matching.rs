//! Whether one PolicyRule allows a request: kube's `RuleAllows` and the matchers of
//! `pkg/apis/rbac/v1/evaluation_helpers.go`.

use crate::{Attributes, PolicyRule};

/// Matches every verb, API group, resource or non-resource URL.
const ALL: &str = "*";

/// `RuleAllows`: verb, group, `resource[/subresource]` and name for a resource request;
/// verb and path for a non-resource request.
pub fn rule_allows(attributes: &Attributes, rule: &PolicyRule) -> bool {
    if !verb_matches(rule, &attributes.verb) {
        return false;
    }
    if !attributes.resource_request {
        return non_resource_url_matches(rule, &attributes.path);
    }
    api_group_matches(rule, &attributes.api_group)
        && resource_matches(
            rule,
            &attributes.resource_and_subresource(),
            &attributes.subresource,
        )
        && resource_name_matches(rule, &attributes.name)
}

pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// `""` is the core group and only matches it; `*` matches every group.
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == ALL || g == group)
}

/// `combined` is `pods` or `pods/log`. A rule's `*` matches every resource and subresource,
/// `pods/*` nothing but itself, and `*/scale` the `scale` subresource of every resource.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

/// A rule without resourceNames matches every name (and none); one with names matches only
/// those.
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `*` matches every path; a URL ending in `*` matches every path it is a prefix of (after
/// dropping the trailing stars); anything else matches only itself.
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .any(|url| url == ALL || url == path || url_prefix_matches(url, path))
}

pub(crate) fn url_prefix_matches(url: &str, path: &str) -> bool {
    url.ends_with('*') && path.starts_with(url.trim_end_matches('*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: strings(verbs),
            api_groups: strings(groups),
            resources: strings(resources),
            ..PolicyRule::default()
        }
    }

    fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            non_resource_urls: urls.iter().map(|s| s.to_string()).collect(),
            ..rule(verbs, &[], &[])
        }
    }

    fn request(verb: &str, group: &str, resource: &str, subresource: &str) -> Attributes {
        Attributes {
            verb: verb.to_string(),
            resource_request: true,
            namespace: "default".to_string(),
            api_group: group.to_string(),
            api_version: "v1".to_string(),
            resource: resource.to_string(),
            subresource: subresource.to_string(),
            ..Attributes::default()
        }
    }

    fn path_request(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.to_string(),
            path: path.to_string(),
            ..Attributes::default()
        }
    }

    #[test]
    fn verbs_match_exactly_or_by_star() {
        let pods = request("get", "", "pods", "");
        assert!(rule_allows(&pods, &rule(&["get"], &[""], &["pods"])));
        assert!(rule_allows(&pods, &rule(&["list", "*"], &[""], &["pods"])));
        assert!(!rule_allows(
            &pods,
            &rule(&["list", "watch"], &[""], &["pods"])
        ));
        assert!(!rule_allows(&pods, &rule(&[], &[""], &["pods"])));
        assert!(!rule_allows(&pods, &rule(&["GET"], &[""], &["pods"])));
    }

    #[test]
    fn empty_group_is_core_only_and_star_is_every_group() {
        let core = request("get", "", "pods", "");
        let apps = request("get", "apps", "deployments", "");
        assert!(rule_allows(&core, &rule(&["get"], &[""], &["pods"])));
        assert!(!rule_allows(
            &apps,
            &rule(&["get"], &[""], &["deployments"])
        ));
        assert!(rule_allows(
            &apps,
            &rule(&["get"], &["*"], &["deployments"])
        ));
        assert!(rule_allows(&core, &rule(&["get"], &["*"], &["pods"])));
        assert!(!rule_allows(&core, &rule(&["get"], &["apps"], &["pods"])));
        assert!(!rule_allows(&core, &rule(&["get"], &[], &["pods"])));
    }

    #[test]
    fn resource_star_matches_resources_and_subresources() {
        let all = rule(&["get"], &[""], &["*"]);
        assert!(rule_allows(&request("get", "", "pods", ""), &all));
        assert!(rule_allows(&request("get", "", "pods", "log"), &all));
    }

    #[test]
    fn subresources_need_their_own_entry() {
        let pods = rule(&["get"], &[""], &["pods"]);
        assert!(!rule_allows(&request("get", "", "pods", "log"), &pods));
        let log = rule(&["get"], &[""], &["pods/log"]);
        assert!(rule_allows(&request("get", "", "pods", "log"), &log));
        assert!(!rule_allows(&request("get", "", "pods", ""), &log));
        assert!(!rule_allows(&request("get", "", "pods", "exec"), &log));
    }

    #[test]
    fn resource_slash_star_is_not_a_wildcard() {
        let slash_star = rule(&["get"], &[""], &["pods/*"]);
        assert!(!rule_allows(
            &request("get", "", "pods", "log"),
            &slash_star
        ));
        assert!(!rule_allows(&request("get", "", "pods", ""), &slash_star));
    }

    #[test]
    fn star_slash_subresource_matches_that_subresource_of_any_resource() {
        let scale = rule(&["update"], &["*"], &["*/scale"]);
        assert!(rule_allows(
            &request("update", "apps", "deployments", "scale"),
            &scale
        ));
        assert!(rule_allows(
            &request("update", "", "replicationcontrollers", "scale"),
            &scale
        ));
        assert!(!rule_allows(
            &request("update", "apps", "deployments", ""),
            &scale
        ));
        assert!(!rule_allows(
            &request("update", "apps", "deployments", "status"),
            &scale
        ));
        assert!(!rule_allows(
            &request("update", "apps", "deployments", "xscale"),
            &scale
        ));
    }

    #[test]
    fn resource_names_restrict_to_those_names() {
        let mut named = rule(&["get", "delete"], &[""], &["configmaps"]);
        named.resource_names = vec!["app-config".to_string()];
        let mut get = request("get", "", "configmaps", "");
        get.name = "app-config".to_string();
        assert!(rule_allows(&get, &named));
        get.name = "other".to_string();
        assert!(!rule_allows(&get, &named));
        // A list has no name, so a rule with resourceNames never allows it.
        assert!(!rule_allows(&request("list", "", "configmaps", ""), &named));
        let unnamed = rule(&["get"], &[""], &["configmaps"]);
        assert!(rule_allows(&get, &unnamed));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_trailing_star() {
        let version = url_rule(&["get"], &["/version"]);
        assert!(rule_allows(&path_request("get", "/version"), &version));
        assert!(!rule_allows(&path_request("get", "/version/"), &version));
        assert!(!rule_allows(&path_request("post", "/version"), &version));
        let apis = url_rule(&["get"], &["/apis/*"]);
        assert!(rule_allows(&path_request("get", "/apis/apps/v1"), &apis));
        assert!(rule_allows(&path_request("get", "/apis/"), &apis));
        assert!(!rule_allows(&path_request("get", "/apis"), &apis));
        let prefix = url_rule(&["get"], &["/healthz*"]);
        assert!(rule_allows(&path_request("get", "/healthz"), &prefix));
        assert!(rule_allows(&path_request("get", "/healthz/etcd"), &prefix));
        let everything = url_rule(&["*"], &["*"]);
        assert!(rule_allows(
            &path_request("delete", "/anything"),
            &everything
        ));
    }

    #[test]
    fn resource_rules_never_match_paths_and_url_rules_never_match_resources() {
        let url = url_rule(&["*"], &["*"]);
        assert!(!rule_allows(&request("get", "", "pods", ""), &url));
        let resources = rule(&["*"], &["*"], &["*"]);
        assert!(!rule_allows(&path_request("get", "/version"), &resources));
    }
}
