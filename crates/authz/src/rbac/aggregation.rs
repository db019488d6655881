//! Aggregated ClusterRoles (kube's `clusterroleaggregation` controller): a ClusterRole with
//! an `aggregationRule` has the rules of every ClusterRole its `clusterRoleSelectors` select.
//! This file decides the rules; the API server's controller writes them.

use kubesim_api::selectors::{LabelSelector, label_selector_from_object};
use serde_json::{Map, Value};

use super::parse;
use crate::PolicyRule;

/// A ClusterRole as aggregation sees it.
struct ClusterRole {
    name: String,
    labels: Option<Map<String, Value>>,
    rules: Vec<PolicyRule>,
    /// `Some` for a ClusterRole with an `aggregationRule`.
    selectors: Option<Vec<LabelSelector>>,
}

/// For each ClusterRole with an `aggregationRule` whose rules should change, its name and
/// the rules it should have: the union, without duplicates, of the rules of every other
/// ClusterRole matching any of its selectors, selector by selector and role by role in name
/// order, as kube's controller builds it.
///
/// Aggregated roles can select each other (`admin` gathers `edit`, which gathers `view`).
/// kube's controller gets there over several passes, each write waking it again; this
/// runs those passes at once, updating roles in name order as the controller's queue does,
/// until nothing changes (at most one pass per aggregated role, and one more), so the
/// caller writes each role once. Roles that cannot be read are skipped with a warning.
pub fn aggregate(cluster_roles: &[Value]) -> Vec<(String, Vec<PolicyRule>)> {
    let mut roles: Vec<ClusterRole> = cluster_roles.iter().filter_map(read).collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let original: Vec<Vec<PolicyRule>> = roles.iter().map(|r| r.rules.clone()).collect();
    let targets: Vec<usize> = (0..roles.len())
        .filter(|&i| roles.get(i).is_some_and(|r| r.selectors.is_some()))
        .collect();
    for _pass in 0..=targets.len() {
        let mut changed = false;
        for &target in &targets {
            let rules = aggregated_rules(&roles, target);
            if let Some(role) = roles.get_mut(target).filter(|r| r.rules != rules) {
                role.rules = rules;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    roles
        .into_iter()
        .zip(original)
        .filter(|(role, before)| role.selectors.is_some() && role.rules != *before)
        .map(|(role, _)| (role.name, role.rules))
        .collect()
}

/// Replaces the `rules` of the ClusterRole named `name` in `cluster_roles`.
pub fn set_rules(cluster_roles: &mut [Value], name: &str, rules: &[PolicyRule]) {
    let Ok(rules) = serde_json::to_value(rules) else {
        return;
    };
    let role = cluster_roles
        .iter_mut()
        .find(|role| parse::name_and_namespace(role).is_ok_and(|(role_name, _)| role_name == name));
    if let Some(fields) = role.and_then(Value::as_object_mut) {
        fields.insert("rules".to_string(), rules);
    }
}

fn aggregated_rules(roles: &[ClusterRole], target: usize) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    let selectors = roles.get(target).and_then(|r| r.selectors.as_deref());
    for selector in selectors.unwrap_or_default() {
        for (i, role) in roles.iter().enumerate() {
            if i == target || !selector.matches(role.labels.as_ref()) {
                continue;
            }
            for rule in &role.rules {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    rules
}

fn read(object: &Value) -> Option<ClusterRole> {
    match try_read(object) {
        Ok(role) => Some(role),
        Err(error) => {
            tracing::warn!(%error, "aggregation skips a ClusterRole it cannot read");
            None
        }
    }
}

fn try_read(object: &Value) -> Result<ClusterRole, String> {
    let role = parse::role(object)?;
    let labels = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned();
    let selectors = match object.get("aggregationRule") {
        None | Some(Value::Null) => None,
        Some(rule) => Some(selectors(rule).map_err(|e| format!("{}: {e}", role.name))?),
    };
    Ok(ClusterRole {
        name: role.name,
        labels,
        rules: role.rules,
        selectors,
    })
}

/// `clusterRoleSelectors`; a `null` entry decodes as Go's zero LabelSelector, which
/// selects everything.
fn selectors(rule: &Value) -> Result<Vec<LabelSelector>, String> {
    let items = match rule.get("clusterRoleSelectors") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("aggregationRule.clusterRoleSelectors: must be a list".into()),
    };
    items
        .iter()
        .map(|item| match item {
            Value::Null => Ok(LabelSelector::everything()),
            other => label_selector_from_object(other),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::slice;

    use serde_json::json;

    use super::super::bootstrap;
    use super::*;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: strings(verbs),
            api_groups: vec![String::new()],
            resources: strings(resources),
            ..PolicyRule::default()
        }
    }

    fn role(name: &str, labels: Value, rules: &[PolicyRule]) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "rules": rules})
    }

    fn aggregated(name: &str, selectors: Value, rules: &[PolicyRule]) -> Value {
        json!({
            "metadata": {"name": name},
            "aggregationRule": {"clusterRoleSelectors": selectors},
            "rules": rules,
        })
    }

    #[test]
    fn unions_matching_roles_by_selector_then_name_without_duplicates() {
        let pods = rule(&["get"], &["pods"]);
        let secrets = rule(&["get"], &["secrets"]);
        let nodes = rule(&["list"], &["nodes"]);
        let roles = [
            role("zeta", json!({"a": "1"}), &[secrets.clone(), pods.clone()]),
            role("alpha", json!({"a": "1"}), slice::from_ref(&pods)),
            role("beta", json!({"b": "x"}), slice::from_ref(&nodes)),
            role("gamma", json!({"a": "2"}), &[rule(&["*"], &["*"])]),
            aggregated(
                "reader",
                json!([
                    {"matchLabels": {"a": "1"}},
                    {"matchExpressions": [{"key": "b", "operator": "In", "values": ["x"]}]}
                ]),
                &[],
            ),
        ];
        assert_eq!(
            aggregate(&roles),
            vec![("reader".to_string(), vec![pods, secrets, nodes])]
        );
    }

    #[test]
    fn excludes_itself() {
        let pods = rule(&["get"], &["pods"]);
        let secrets = rule(&["get"], &["secrets"]);
        let selector = json!([{"matchLabels": {"a": "1"}}]);
        let mut me = aggregated("me", selector, &[pods.clone(), secrets]);
        me["metadata"]["labels"] = json!({"a": "1"});
        let roles = [me, role("other", json!({"a": "1"}), slice::from_ref(&pods))];
        assert_eq!(aggregate(&roles), vec![("me".to_string(), vec![pods])]);
    }

    #[test]
    fn answers_nothing_when_up_to_date() {
        let pods = rule(&["get"], &["pods"]);
        let roles = [
            aggregated(
                "me",
                json!([{"matchLabels": {"a": "1"}}]),
                slice::from_ref(&pods),
            ),
            role("other", json!({"a": "1"}), &[pods]),
        ];
        assert_eq!(aggregate(&roles), vec![]);
    }

    #[test]
    fn an_empty_selector_list_empties_the_role() {
        let roles = [aggregated("empty", json!([]), &[rule(&["get"], &["pods"])])];
        assert_eq!(aggregate(&roles), vec![("empty".to_string(), vec![])]);
    }

    #[test]
    fn roles_that_cannot_be_read_are_skipped() {
        let pods = rule(&["get"], &["pods"]);
        let roles = [
            json!({"metadata": {"name": "bad", "labels": {"a": "1"}}, "rules": "all"}),
            json!({"metadata": {"name": "bad-selector"}, "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "a", "operator": "Gt"}]}]}}),
            role("good", json!({"a": "1"}), slice::from_ref(&pods)),
            aggregated("target", json!([{"matchLabels": {"a": "1"}}]), &[]),
        ];
        assert_eq!(aggregate(&roles), vec![("target".to_string(), vec![pods])]);
    }

    #[test]
    fn bootstrap_admin_edit_view_aggregate_through_each_other() {
        let mut roles = bootstrap::cluster_roles();
        let result = aggregate(&roles);
        let names: Vec<&str> = result.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["admin", "edit", "view"]);
        let rules = |name: &str| {
            result
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, rules)| rules.clone())
                .unwrap_or_default()
        };
        let view_pods = PolicyRule {
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            ..rule(
                &[],
                &[
                    "configmaps",
                    "endpoints",
                    "persistentvolumeclaims",
                    "persistentvolumeclaims/status",
                    "pods",
                    "replicationcontrollers",
                    "replicationcontrollers/scale",
                    "serviceaccounts",
                    "services",
                    "services/status",
                ],
            )
        };
        assert_eq!(rules("view").first(), Some(&view_pods));
        assert_eq!(rules("view").len(), 10);
        // edit = system:aggregate-to-edit (13 rules), then view's.
        assert_eq!(rules("edit").len(), 23);
        assert_eq!(rules("edit").get(13), Some(&view_pods));
        // admin = edit's, then system:aggregate-to-admin's ("edit" < "system:…").
        assert_eq!(rules("admin").len(), 25);
        assert_eq!(rules("admin")[..23], rules("edit")[..]);

        for (name, new_rules) in &result {
            set_rules(&mut roles, name, new_rules);
        }
        assert_eq!(aggregate(&roles), vec![]);
    }
}
