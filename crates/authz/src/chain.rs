//! The authorizer chain (kube's `union` authorizer behind the privileged-groups one), the
//! rules a user has across the chain, and the message of the 403 a refusal becomes.
//!
//! Order matters: the chain asks its authorizers in `--authorization-mode` order and the first
//! Allow or Deny ends it, so a Deny from an early webhook cannot be overridden by RBAC, and an
//! Allow from an early authorizer is never second-guessed by a later one.

use std::sync::Arc;

use kubesim_api::RequestInfo;
use kubesim_api::status::Status;
use kubesim_api::user::{SYSTEM_PRIVILEGED_GROUP, UserInfo};

use crate::{Attributes, Authorizer, Decision, DecisionKind, RuleSet};

/// `decided_by` of a request from a `system:masters` member.
pub const PRIVILEGED_GROUP_DECIDED_BY: &str = "system:masters group";

/// The authorizers of `--authorization-mode` (or the AuthorizationConfiguration), in order.
pub struct AuthorizerChain {
    authorizers: Vec<Arc<dyn Authorizer>>,
}

impl AuthorizerChain {
    pub fn new(authorizers: Vec<Arc<dyn Authorizer>>) -> AuthorizerChain {
        AuthorizerChain { authorizers }
    }

    /// The authorizers' names, in order (`["Node", "RBAC"]`).
    pub fn names(&self) -> Vec<&str> {
        self.authorizers.iter().map(|a| a.name()).collect()
    }

    /// `system:masters` is allowed without asking anyone (kube's privileged-groups
    /// authorizer, first in every chain); then the first Allow or Deny decides. When every
    /// authorizer has no opinion the answer is NoOpinion, whose reason is every non-empty
    /// reason joined by a newline, as kube's union joins them.
    pub async fn authorize(&self, attributes: &Attributes) -> Decision {
        if attributes.user.in_group(SYSTEM_PRIVILEGED_GROUP) {
            let mut decision = Decision::allow(PRIVILEGED_GROUP_DECIDED_BY);
            decision.authorizer = SYSTEM_PRIVILEGED_GROUP.to_string();
            return decision;
        }
        let mut reasons: Vec<String> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        for authorizer in &self.authorizers {
            let mut decision = authorizer.authorize(attributes).await;
            if decision.kind != DecisionKind::NoOpinion {
                decision.authorizer = authorizer.name().to_string();
                return decision;
            }
            if !decision.reason.is_empty() {
                reasons.push(decision.reason);
            }
            if !decision.error.is_empty() {
                errors.push(decision.error);
            }
        }
        // kube's union returns the errors of those that had no opinion with its NoOpinion.
        Decision::no_opinion(reasons.join("\n")).with_error(aggregate(&errors))
    }

    /// The union of every authorizer's rules (kube's `NewRuleResolvers`). Incomplete when any
    /// authorizer cannot list its rules or says its list is incomplete; the evaluation
    /// errors are joined as kube's error aggregate joins them.
    pub async fn rules_for(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        let mut union = RuleSet::default();
        let mut errors: Vec<String> = Vec::new();
        for authorizer in &self.authorizers {
            match authorizer.rules_for(user, namespace).await {
                Some(rules) => {
                    union.resource_rules.extend(rules.resource_rules);
                    union.non_resource_rules.extend(rules.non_resource_rules);
                    union.incomplete |= rules.incomplete;
                    if !rules.evaluation_error.is_empty() {
                        errors.push(rules.evaluation_error);
                    }
                }
                None => {
                    union.incomplete = true;
                    errors.push(format!(
                        "{} authorizer does not support user rule resolution",
                        authorizer.name().to_lowercase()
                    ));
                }
            }
        }
        union.evaluation_error = aggregate(&errors);
        union
    }
}

/// The message of the 403 kube-apiserver's authorization filter answers
/// (`responsewriters.Forbidden`): `pods "web" is forbidden: User "x" cannot get resource
/// "pods" in API group "" in the namespace "ns"`, `… at the cluster scope`, subresources as
/// `pods/log`, non-resource requests as `forbidden: User "x" cannot get path "/foo"`, and
/// `: <reason>` when there is a reason.
pub fn forbidden_message(attributes: &Attributes, reason: &str) -> String {
    forbidden_status(attributes, reason).message
}

/// The whole 403 [`Status`] (message, reason `Forbidden`, details) of [`forbidden_message`].
pub fn forbidden_status(attributes: &Attributes, reason: &str) -> Status {
    let info = RequestInfo {
        is_resource_request: attributes.resource_request,
        path: attributes.path.clone(),
        verb: attributes.verb.clone(),
        api_group: attributes.api_group.clone(),
        api_version: attributes.api_version.clone(),
        namespace: attributes.namespace.clone(),
        resource: attributes.resource.clone(),
        subresource: attributes.subresource.clone(),
        name: attributes.name.clone(),
        ..RequestInfo::default()
    };
    Status::forbidden_request(&attributes.user.username, &info, reason)
}

/// `utilerrors.NewAggregate(errs).Error()`: empty for none, the message itself for one
/// distinct message, `[a, b]` for more.
pub(crate) fn aggregate(errors: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for error in errors {
        if !distinct.contains(&error.as_str()) {
            distinct.push(error);
        }
    }
    match distinct.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use futures::future::BoxFuture;

    use super::*;

    /// An authorizer that always answers `decision` and counts how often it was asked.
    struct Fixed {
        name: &'static str,
        decision: Decision,
        rules: Option<RuleSet>,
        asked: std::sync::atomic::AtomicU64,
    }

    fn fixed(name: &'static str, decision: Decision) -> Arc<Fixed> {
        Arc::new(Fixed {
            name,
            decision,
            rules: Some(RuleSet::default()),
            asked: Default::default(),
        })
    }

    impl Authorizer for Fixed {
        fn name(&self) -> &str {
            self.name
        }

        fn authorize<'a>(&'a self, _attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { self.decision.clone() })
        }

        fn rules_for<'a>(
            &'a self,
            _user: &'a UserInfo,
            _namespace: &'a str,
        ) -> BoxFuture<'a, Option<RuleSet>> {
            Box::pin(async { self.rules.clone() })
        }
    }

    fn asked(authorizer: &Fixed) -> u64 {
        authorizer.asked.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn chain(authorizers: &[&Arc<Fixed>]) -> AuthorizerChain {
        AuthorizerChain::new(
            authorizers
                .iter()
                .map(|a| Arc::clone(a) as Arc<dyn Authorizer>)
                .collect(),
        )
    }

    #[tokio::test]
    async fn errors_of_those_without_an_opinion_travel_with_the_no_opinion() {
        let failed = fixed(
            "Webhook",
            Decision::no_opinion("call failed").with_error("call failed"),
        );
        let silent = fixed("RBAC", Decision::no_opinion(""));
        let decision = chain(&[&failed, &silent])
            .authorize(&list_pods(UserInfo::new("jane", &[])))
            .await;
        assert_eq!(decision.kind, DecisionKind::NoOpinion);
        assert_eq!(decision.error, "call failed");
        // An allow after a failure is an allow, error or not.
        let allows = fixed("RBAC", Decision::allow("rule"));
        let decision = chain(&[&failed, &allows])
            .authorize(&list_pods(UserInfo::new("jane", &[])))
            .await;
        assert!(decision.is_allowed());
        assert_eq!(decision.error, "");
    }

    fn list_pods(user: UserInfo) -> Attributes {
        Attributes {
            user,
            verb: "list".into(),
            resource_request: true,
            namespace: "ns".into(),
            api_version: "v1".into(),
            resource: "pods".into(),
            ..Attributes::default()
        }
    }

    #[tokio::test]
    async fn first_allow_wins_and_later_authorizers_are_not_asked() {
        let node = fixed("Node", Decision::no_opinion("not a node"));
        let rbac = fixed(
            "RBAC",
            Decision::allow("RBAC: RoleBinding \"ns/b\" of Role \"r\""),
        );
        let webhook = fixed("Webhook", Decision::deny("no", "Webhook \"w\": policy 7"));
        let decision = chain(&[&node, &rbac, &webhook])
            .authorize(&list_pods(UserInfo::new("jane", &[])))
            .await;
        assert_eq!(decision.kind, DecisionKind::Allow);
        assert_eq!(decision.authorizer, "RBAC");
        assert_eq!(
            decision.decided_by,
            "RBAC: RoleBinding \"ns/b\" of Role \"r\""
        );
        assert_eq!(decision.reason, "");
        assert_eq!((asked(&node), asked(&rbac), asked(&webhook)), (1, 1, 0));
    }

    #[tokio::test]
    async fn first_deny_wins_over_a_later_allow() {
        let webhook = fixed(
            "Webhook",
            Decision::deny("production is frozen", "Webhook \"w\": freeze"),
        );
        let rbac = fixed("RBAC", Decision::allow("RBAC: admin"));
        let decision = chain(&[&webhook, &rbac])
            .authorize(&list_pods(UserInfo::new("jane", &[])))
            .await;
        assert_eq!(decision.kind, DecisionKind::Deny);
        assert_eq!(decision.authorizer, "Webhook");
        assert_eq!(decision.reason, "production is frozen");
        assert_eq!(asked(&rbac), 0);
    }

    #[tokio::test]
    async fn all_no_opinion_joins_the_non_empty_reasons() {
        let node = fixed("Node", Decision::no_opinion(""));
        let abac = fixed("ABAC", Decision::no_opinion("No policy matched."));
        let deny = fixed(
            "AlwaysDeny",
            Decision::no_opinion("Everything is forbidden."),
        );
        let decision = chain(&[&node, &abac, &deny])
            .authorize(&list_pods(UserInfo::new("jane", &[])))
            .await;
        assert_eq!(decision.kind, DecisionKind::NoOpinion);
        assert_eq!(
            decision.reason,
            "No policy matched.\nEverything is forbidden."
        );
        assert_eq!(decision.authorizer, "");
        assert_eq!(decision.decided_by, "");
        assert_eq!((asked(&node), asked(&abac), asked(&deny)), (1, 1, 1));
    }

    #[tokio::test]
    async fn an_empty_chain_has_no_opinion() {
        let decision = chain(&[])
            .authorize(&list_pods(UserInfo::new("jane", &[])))
            .await;
        assert_eq!(decision, Decision::no_opinion(""));
    }

    #[tokio::test]
    async fn system_masters_is_allowed_without_asking_anyone() {
        let webhook = fixed("Webhook", Decision::deny("no", "Webhook \"w\""));
        let user = UserInfo::new("root", &["system:masters", "system:authenticated"]);
        let decision = chain(&[&webhook]).authorize(&list_pods(user)).await;
        assert_eq!(decision.kind, DecisionKind::Allow);
        assert_eq!(decision.decided_by, "system:masters group");
        assert_eq!(decision.authorizer, "system:masters");
        assert_eq!(asked(&webhook), 0);
    }

    fn listing(name: &'static str, rules: Option<RuleSet>) -> Arc<dyn Authorizer> {
        Arc::new(Fixed {
            name,
            decision: Decision::no_opinion(""),
            rules,
            asked: Default::default(),
        })
    }

    #[tokio::test]
    async fn rules_are_the_union_and_incomplete_when_an_authorizer_cannot_list_them() {
        let rule = |verb: &str| crate::PolicyRule {
            verbs: vec![verb.to_string()],
            api_groups: vec![String::new()],
            resources: vec!["pods".into()],
            ..crate::PolicyRule::default()
        };
        let rbac = RuleSet {
            resource_rules: vec![rule("get")],
            evaluation_error: "role.rbac.authorization.k8s.io \"gone\" not found".into(),
            ..RuleSet::default()
        };
        let abac = RuleSet {
            resource_rules: vec![rule("list")],
            ..RuleSet::default()
        };
        let chain = AuthorizerChain::new(vec![
            listing("Node", None),
            listing("RBAC", Some(rbac)),
            listing("ABAC", Some(abac)),
            listing("Webhook", None),
        ]);
        assert_eq!(chain.names(), ["Node", "RBAC", "ABAC", "Webhook"]);
        let rules = chain.rules_for(&UserInfo::new("jane", &[]), "ns").await;
        assert_eq!(rules.resource_rules, vec![rule("get"), rule("list")]);
        assert!(rules.incomplete);
        assert_eq!(
            rules.evaluation_error,
            "[node authorizer does not support user rule resolution, \
             role.rbac.authorization.k8s.io \"gone\" not found, \
             webhook authorizer does not support user rule resolution]"
        );
    }

    #[tokio::test]
    async fn an_incomplete_rule_set_makes_the_union_incomplete() {
        let partial = RuleSet {
            incomplete: true,
            ..RuleSet::default()
        };
        let chain = AuthorizerChain::new(vec![listing("RBAC", Some(partial))]);
        let rules = chain.rules_for(&UserInfo::new("jane", &[]), "ns").await;
        assert!(rules.incomplete);
        assert_eq!(rules.evaluation_error, "");
    }

    #[tokio::test]
    async fn complete_rules_have_no_error() {
        let allow = Arc::new(crate::always::AlwaysAllow);
        let chain = AuthorizerChain::new(vec![allow]);
        let rules = chain.rules_for(&UserInfo::new("jane", &[]), "").await;
        assert!(!rules.incomplete);
        assert_eq!(rules.evaluation_error, "");
        assert_eq!(rules.resource_rules.len(), 1);
    }

    #[test]
    fn aggregate_is_kubes_error_aggregate() {
        assert_eq!(aggregate(&[]), "");
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }

    fn resource(verb: &str, namespace: &str, group: &str, resource: &str) -> Attributes {
        Attributes {
            user: UserInfo::new("x", &["dev"]),
            verb: verb.into(),
            resource_request: true,
            namespace: namespace.into(),
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            ..Attributes::default()
        }
    }

    #[test]
    fn forbidden_message_in_a_namespace_and_at_the_cluster_scope() {
        assert_eq!(
            forbidden_message(&resource("list", "ns", "", "pods"), ""),
            r#"pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "ns""#
        );
        assert_eq!(
            forbidden_message(&resource("list", "", "", "nodes"), ""),
            r#"nodes is forbidden: User "x" cannot list resource "nodes" in API group "" at the cluster scope"#
        );
        assert_eq!(
            forbidden_message(&resource("create", "ns", "apps", "deployments"), ""),
            r#"deployments.apps is forbidden: User "x" cannot create resource "deployments" in API group "apps" in the namespace "ns""#
        );
    }

    #[test]
    fn forbidden_message_names_the_object_and_the_subresource() {
        let mut log = resource("get", "ns", "", "pods");
        log.subresource = "log".into();
        log.name = "web".into();
        assert_eq!(
            forbidden_message(&log, ""),
            r#"pods "web" is forbidden: User "x" cannot get resource "pods/log" in API group "" in the namespace "ns""#
        );
        let mut role = resource("delete", "", "rbac.authorization.k8s.io", "clusterroles");
        role.name = "admin".into();
        assert_eq!(
            forbidden_message(&role, ""),
            r#"clusterroles.rbac.authorization.k8s.io "admin" is forbidden: User "x" cannot delete resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope"#
        );
    }

    #[test]
    fn forbidden_message_for_a_path_and_with_a_reason() {
        let path = Attributes {
            user: UserInfo::new("x", &[]),
            verb: "get".into(),
            path: "/foo".into(),
            ..Attributes::default()
        };
        assert_eq!(
            forbidden_message(&path, ""),
            r#"forbidden: User "x" cannot get path "/foo""#
        );
        assert_eq!(
            forbidden_message(
                &resource("list", "ns", "", "pods"),
                "Everything is forbidden."
            ),
            r#"pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "ns": Everything is forbidden."#
        );
        let status = forbidden_status(&path, "");
        assert_eq!(status.code, 403);
    }
}
