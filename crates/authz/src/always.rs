//! `--authorization-mode=AlwaysAllow` and `AlwaysDeny` (kube's `authorizerfactory` builtins).
//!
//! AlwaysDeny answers *no opinion*, not deny, as kube's does: in `AlwaysDeny,Webhook` the
//! webhook still decides, and only when nothing allows is the request refused.

use futures::future::BoxFuture;
use kubesim_api::user::UserInfo;

use crate::{Attributes, Authorizer, Decision, PolicyRule, RuleSet};

/// Allows everything; its rules are `*` on every resource and every path.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysAllow;

/// Has no opinion on anything, with kube's reason `Everything is forbidden.`; no rules.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysDeny;

/// The reason kube's AlwaysDeny gives, which a 403 then shows.
pub const ALWAYS_DENY_REASON: &str = "Everything is forbidden.";

impl Authorizer for AlwaysAllow {
    fn name(&self) -> &str {
        "AlwaysAllow"
    }

    fn authorize<'a>(&'a self, _attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        Box::pin(async { Decision::allow("AlwaysAllow") })
    }

    fn rules_for<'a>(
        &'a self,
        _user: &'a UserInfo,
        _namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>> {
        Box::pin(async { Some(allow_everything()) })
    }
}

impl Authorizer for AlwaysDeny {
    fn name(&self) -> &str {
        "AlwaysDeny"
    }

    fn authorize<'a>(&'a self, _attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        Box::pin(async { Decision::no_opinion(ALWAYS_DENY_REASON) })
    }

    fn rules_for<'a>(
        &'a self,
        _user: &'a UserInfo,
        _namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>> {
        Box::pin(async { Some(RuleSet::default()) })
    }
}

fn allow_everything() -> RuleSet {
    let all = || vec!["*".to_string()];
    RuleSet {
        resource_rules: vec![PolicyRule {
            verbs: all(),
            api_groups: all(),
            resources: all(),
            ..PolicyRule::default()
        }],
        non_resource_rules: vec![PolicyRule {
            verbs: all(),
            non_resource_urls: all(),
            ..PolicyRule::default()
        }],
        incomplete: false,
        evaluation_error: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecisionKind;

    fn attributes() -> Attributes {
        Attributes {
            user: UserInfo::new("jane", &[]),
            verb: "delete".into(),
            resource_request: true,
            namespace: "ns".into(),
            resource: "pods".into(),
            ..Attributes::default()
        }
    }

    #[tokio::test]
    async fn always_allow_allows_and_lists_every_rule() {
        let decision = AlwaysAllow.authorize(&attributes()).await;
        assert_eq!(decision, Decision::allow("AlwaysAllow"));
        let rules = AlwaysAllow.rules_for(&UserInfo::default(), "ns").await;
        let rules = rules.expect("AlwaysAllow lists its rules");
        assert_eq!(
            rules.resource_rules[0].to_string(),
            r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#
        );
        assert_eq!(
            rules.non_resource_rules[0].to_string(),
            r#"{NonResourceURLs:["*"], Verbs:["*"]}"#
        );
        assert!(!rules.incomplete);
    }

    #[tokio::test]
    async fn always_deny_has_no_opinion_with_kubes_reason() {
        let decision = AlwaysDeny.authorize(&attributes()).await;
        assert_eq!(decision.kind, DecisionKind::NoOpinion);
        assert_eq!(decision.reason, "Everything is forbidden.");
        let rules = AlwaysDeny.rules_for(&UserInfo::default(), "ns").await;
        assert_eq!(rules, Some(RuleSet::default()));
    }
}
