//! Escalation prevention: whether the rules a user holds cover the rules they try to grant
//! (component-helpers' `Covers`, `BreakdownRule`), and kube's 403 text when they do not
//! (`ConfirmNoEscalation`, `CompactRules`, `CompactString`).

use std::collections::HashMap;

use kubesim_api::status::go_quote;
use kubesim_api::user::UserInfo;

use super::aggregate_message;
use super::matching::url_prefix_matches;
use crate::PolicyRule;

const ALL: &str = "*";

/// kube's `Covers`: breaks every requested rule into pieces of one group, resource, verb and
/// name (or one URL and verb) and returns the pieces no owner rule covers alone.
pub fn covers(owner: &[PolicyRule], requested: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let uncovered: Vec<PolicyRule> = requested
        .iter()
        .flat_map(breakdown_rule)
        .filter(|piece| !owner.iter().any(|rule| rule_covers(rule, piece)))
        .collect();
    (uncovered.is_empty(), uncovered)
}

/// kube's `BreakdownRule`: the rule as rules of at most one verb, group, resource and name,
/// then one rule per URL and verb.
pub fn breakdown_rule(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |item: &String| vec![item.clone()];
    let mut pieces = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let piece = PolicyRule {
                    verbs: one(verb),
                    api_groups: one(group),
                    resources: one(resource),
                    ..PolicyRule::default()
                };
                if rule.resource_names.is_empty() {
                    pieces.push(piece);
                    continue;
                }
                for name in &rule.resource_names {
                    pieces.push(PolicyRule {
                        resource_names: one(name),
                        ..piece.clone()
                    });
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            pieces.push(PolicyRule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..PolicyRule::default()
            });
        }
    }
    pieces
}

/// kube's `ruleCovers`: an owner rule covers a piece when it has every verb, group,
/// resource, URL and name of it (or `*`). An owner rule limited to names never covers a
/// piece without names.
fn rule_covers(owner: &PolicyRule, piece: &PolicyRule) -> bool {
    let has_all_or_star = |set: &[String], wanted: &[String]| has(set, ALL) || has_all(set, wanted);
    let names = if piece.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &piece.resource_names)
    };
    has_all_or_star(&owner.verbs, &piece.verbs)
        && has_all_or_star(&owner.api_groups, &piece.api_groups)
        && resources_cover_all(&owner.resources, &piece.resources)
        && non_resource_urls_cover_all(&owner.non_resource_urls, &piece.non_resource_urls)
        && names
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

/// `*` covers everything; `*/scale` covers every resource's `scale`; otherwise exact.
fn resources_cover_all(set: &[String], wanted: &[String]) -> bool {
    if has(set, ALL) {
        return true;
    }
    wanted.iter().all(|resource| {
        has(set, resource)
            || resource
                .split_once('/')
                .is_some_and(|(_, sub)| has(set, &format!("*/{sub}")))
    })
}

fn non_resource_urls_cover_all(set: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|path| set.iter().any(|owner| non_resource_url_covers(owner, path)))
}

/// kube's `nonResourceURLCovers`: exact, or a trailing-`*` prefix.
fn non_resource_url_covers(owner: &str, path: &str) -> bool {
    owner == path || url_prefix_matches(owner, path)
}

/// kube's `CompactRules`: rules of exactly one group and one resource and nothing but verbs
/// are merged per (group, resource), their verbs appended in order; the rest are kept.
pub fn compact_rules(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut compacted = Vec::with_capacity(rules.len());
    let mut simple: Vec<PolicyRule> = Vec::new();
    let mut positions: HashMap<(&str, &str), usize> = HashMap::new();
    for rule in rules {
        let Some(key) = simple_resource(rule) else {
            compacted.push(rule.clone());
            continue;
        };
        match positions.get(&key) {
            Some(&position) => {
                if let Some(existing) = simple.get_mut(position) {
                    existing.verbs.extend(rule.verbs.iter().cloned());
                }
            }
            None => {
                positions.insert(key, simple.len());
                simple.push(rule.clone());
            }
        }
    }
    compacted.extend(simple);
    compacted
}

/// The (group, resource) of a rule with exactly one of each and no names or URLs.
fn simple_resource(rule: &PolicyRule) -> Option<(&str, &str)> {
    if !rule.resource_names.is_empty() || !rule.non_resource_urls.is_empty() {
        return None;
    }
    match (rule.api_groups.as_slice(), rule.resources.as_slice()) {
        ([group], [resource]) => Some((group, resource)),
        _ => None,
    }
}

/// kube's `CompactString`: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`, fields in
/// kube's order (URLs before names), empty ones left out, each list as Go's `%q` prints it.
pub fn compact_string(rule: &PolicyRule) -> String {
    let fields = [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ];
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(name, items)| format!("{name}:{}", go_list(items)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| go_quote(item)).collect();
    format!("[{}]", quoted.join(" "))
}

/// kube's `ConfirmNoEscalation` once the user's rules are known: `Ok` when `owner_rules`
/// cover `requested`, else the 403's message, with the resolution errors met while finding
/// the owner's rules.
pub fn confirm_no_escalation(
    user: &UserInfo,
    owner_rules: &[PolicyRule],
    resolution_errors: &[String],
    requested: &[PolicyRule],
) -> Result<(), String> {
    let (covered, missing) = covers(owner_rules, requested);
    if covered {
        return Ok(());
    }
    let mut descriptions: Vec<String> =
        compact_rules(&missing).iter().map(compact_string).collect();
    descriptions.sort();
    descriptions.dedup();
    let mut message = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.username),
        go_list(&user.groups),
        descriptions.join("\n")
    );
    if !resolution_errors.is_empty() {
        let errors = aggregate_message(resolution_errors);
        message.push_str(&format!("; resolution errors: [{errors}]"));
    }
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn rule(groups: &[&str], verbs: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            api_groups: strings(groups),
            resources: strings(resources),
            ..PolicyRule::default()
        }
    }

    fn named(mut rule: PolicyRule, names: &[&str]) -> PolicyRule {
        rule.resource_names = strings(names);
        rule
    }

    fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            non_resource_urls: strings(urls),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn covers_exact_match_and_subresource_wildcard() {
        let owner = [rule(&["v1"], &["get"], &["builds"])];
        assert_eq!(covers(&owner, &owner), (true, vec![]));
        let scale = [rule(&["v1"], &["get"], &["*/scale"])];
        let wanted = [rule(&["v1"], &["get"], &["foo/scale"])];
        assert_eq!(covers(&scale, &wanted), (true, vec![]));
    }

    #[test]
    fn covers_a_rule_with_several_owner_rules() {
        let owner = [
            rule(&["v1"], &["delete"], &["deployments"]),
            rule(&["v1"], &["delete"], &["builds"]),
            rule(&["v1"], &["update"], &["builds", "deployments"]),
        ];
        let wanted = [rule(
            &["v1"],
            &["delete", "update"],
            &["builds", "deployments"],
        )];
        assert_eq!(covers(&owner, &wanted), (true, vec![]));
    }

    #[test]
    fn reports_the_missing_verb_resource_pieces() {
        let owner = [
            rule(&["v1"], &["delete", "update"], &["builds", "deployments"]),
            rule(&["v1"], &["delete"], &["pods"]),
        ];
        let wanted = [rule(
            &["v1"],
            &["delete", "update"],
            &["builds", "deployments", "pods"],
        )];
        assert_eq!(
            covers(&owner, &wanted),
            (false, vec![rule(&["v1"], &["update"], &["pods"])])
        );
    }

    #[test]
    fn stars_cover_lists_but_lists_never_cover_stars() {
        let group_star = [rule(&["*"], &["get"], &["roles"])];
        let groups = [rule(&["group1", "group2"], &["get"], &["roles"])];
        assert_eq!(covers(&group_star, &groups), (true, vec![]));
        let only_dummy = [rule(&["dummy-group"], &["get"], &["roles"])];
        assert_eq!(
            covers(&only_dummy, &group_star),
            (false, group_star.to_vec())
        );

        let verbs = [rule(
            &["v1"],
            &["get", "list", "watch", "create", "update", "delete"],
            &["roles"],
        )];
        let verb_star = [rule(&["v1"], &["*"], &["roles"])];
        assert_eq!(covers(&verbs, &verb_star), (false, verb_star.to_vec()));
        assert_eq!(covers(&verb_star, &verb_star), (true, vec![]));

        let resources = [rule(
            &["v1"],
            &["get"],
            &["roles", "resourcegroup:deployments"],
        )];
        let resource_star = [rule(&["v1"], &["get"], &["*"])];
        assert_eq!(
            covers(&resources, &resource_star),
            (false, resource_star.to_vec())
        );
    }

    #[test]
    fn resource_names_cover_only_named_pieces() {
        let any_name = [rule(&["v1"], &["get"], &["pods"])];
        let two_names = [named(rule(&["v1"], &["get"], &["pods"]), &["foo", "bar"])];
        assert_eq!(covers(&any_name, &two_names), (true, vec![]));
        assert_eq!(covers(&two_names, &any_name), (false, any_name.to_vec()));
    }

    #[test]
    fn non_resource_urls_cover_by_trailing_star() {
        let apis_star = [urls(&["*"], &["/apis/*"])];
        let wanted = [urls(&["get"], &["/apis", "/apis/v1"])];
        assert_eq!(
            covers(&apis_star, &wanted),
            (false, vec![urls(&["get"], &["/apis"])])
        );
        let below = [urls(&["get"], &["/apis/v1/foo", "/apis/v1"])];
        assert_eq!(covers(&apis_star, &below), (true, vec![]));
        let star = [urls(&["*"], &["*"])];
        assert_eq!(
            covers(&star, &[urls(&["*"], &["/apis", "/"])]),
            (true, vec![])
        );
        let cases = [
            ("*", "", true),
            ("/*", "", false),
            ("/*", "/", true),
            ("/api/*", "/api", false),
            ("/api/*/*", "/api/v1", false),
            ("/apis", "/api", false),
        ];
        for (owner, path, want) in cases {
            assert_eq!(non_resource_url_covers(owner, path), want, "{owner} {path}");
        }
    }

    #[test]
    fn a_rule_mixing_resources_and_urls_needs_both_covered() {
        let owner = [rule(&["v1"], &["get"], &["builds"])];
        let mut wanted = rule(&["v1"], &["get"], &["builds"]);
        wanted.non_resource_urls = strings(&["/apis"]);
        assert_eq!(
            covers(&owner, &[wanted]),
            (false, vec![urls(&["get"], &["/apis"])])
        );
    }

    #[test]
    fn compact_string_is_kubes() {
        assert_eq!(
            compact_string(&rule(&[""], &["get"], &["pods"])),
            r#"{APIGroups:[""], Resources:["pods"], Verbs:["get"]}"#
        );
        let mut both = named(
            rule(&["apps"], &["get", "list"], &["deployments"]),
            &["web"],
        );
        both.non_resource_urls = strings(&["/x"]);
        assert_eq!(
            compact_string(&both),
            r#"{APIGroups:["apps"], Resources:["deployments"], NonResourceURLs:["/x"], ResourceNames:["web"], Verbs:["get" "list"]}"#
        );
        assert_eq!(
            compact_string(&urls(&[], &["/a\"b"])),
            r#"{NonResourceURLs:["/a\"b"]}"#
        );
    }

    #[test]
    fn compact_rules_merges_verbs_of_simple_rules() {
        let pieces = [
            rule(&[""], &["get"], &["pods"]),
            named(rule(&[""], &["get"], &["secrets"]), &["a"]),
            rule(&[""], &["list"], &["pods"]),
        ];
        assert_eq!(
            compact_rules(&pieces),
            vec![
                named(rule(&[""], &["get"], &["secrets"]), &["a"]),
                rule(&[""], &["get", "list"], &["pods"]),
            ]
        );
    }

    #[test]
    fn escalation_message_is_kubes() {
        let user = UserInfo::new("x", &["a", "b"]);
        let owner = [rule(&[""], &["list"], &["pods"])];
        let wanted = [
            rule(&[""], &["get", "list"], &["pods"]),
            rule(&["apps"], &["create"], &["deployments"]),
        ];
        assert_eq!(
            confirm_no_escalation(&user, &owner, &[], &wanted),
            Err("user \"x\" (groups=[\"a\" \"b\"]) is attempting to grant RBAC permissions not currently held:\n\
                 {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}\n\
                 {APIGroups:[\"apps\"], Resources:[\"deployments\"], Verbs:[\"create\"]}"
                .to_string())
        );
        assert_eq!(confirm_no_escalation(&user, &owner, &[], &owner), Ok(()));
    }

    #[test]
    fn escalation_message_carries_resolution_errors() {
        let user = UserInfo::new("jane", &[]);
        let wanted = [rule(&[""], &["get"], &["pods"])];
        let one = ["role.rbac.authorization.k8s.io \"gone\" not found".to_string()];
        assert_eq!(
            confirm_no_escalation(&user, &[], &one, &wanted),
            Err("user \"jane\" (groups=[]) is attempting to grant RBAC permissions not currently held:\n\
                 {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}; \
                 resolution errors: [role.rbac.authorization.k8s.io \"gone\" not found]"
                .to_string())
        );
        let two = ["e1".to_string(), "e2".to_string(), "e1".to_string()];
        let message = confirm_no_escalation(&user, &[], &two, &wanted).unwrap_err();
        assert!(
            message.ends_with("; resolution errors: [[e1, e2]]"),
            "{message}"
        );
    }
}
