//! The RBAC authorizer (kube's `plugin/pkg/auth/authorizer/rbac`): Roles, ClusterRoles,
//! RoleBindings and ClusterRoleBindings, allow-only.
//!
//! - this file: [`Rbac`], the [`crate::Authorizer`], which keeps one compiled snapshot of
//!   the objects and rebuilds it when the source's generation changes; the rules a user
//!   has (SelfSubjectRulesReview) and escalation checks.
//! - [`source`]: where the objects come from ([`RbacSource`], [`StaticRbacSource`]).
//! - `parse`: reading stored objects; `snapshot`: the index and kube's rule resolution;
//!   [`matching`]: whether a rule allows a request.
//! - [`escalation`]: `Covers` and `ConfirmNoEscalation`'s message.
//! - [`bootstrap`]: kube's default ClusterRoles and bindings; [`aggregation`]: aggregated
//!   ClusterRoles.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use kubesim_api::user::UserInfo;
use serde_json::Value;

use crate::{Attributes, Authorizer, Decision, DecisionKind, PolicyRule, RuleSet};

pub mod aggregation;
pub mod bootstrap;
pub mod escalation;
pub mod matching;
mod parse;
mod snapshot;
pub mod source;

#[cfg(test)]
mod tests;

pub use escalation::covers;
pub use source::{RbacObjects, RbacSource, StaticRbacSource};

use snapshot::{Snapshot, Visit};

/// The RBAC authorizer over an [`RbacSource`].
pub struct Rbac {
    source: Arc<dyn RbacSource>,
    /// The snapshot compiled for a generation of the source. One entry: a new generation
    /// replaces it. Held only to clone the `Arc` or to store a new one.
    compiled: Mutex<Option<(u64, Arc<Snapshot>)>>,
}

impl Rbac {
    pub fn new(source: Arc<dyn RbacSource>) -> Rbac {
        Rbac {
            source,
            compiled: Mutex::new(None),
        }
    }

    /// The snapshot of the source's current generation, compiled if it is not yet.
    fn snapshot(&self) -> Arc<Snapshot> {
        // The generation is read before the objects: if they change in between, the
        // snapshot is stored under the older generation and rebuilt on the next call.
        let generation = self.source.generation();
        if let Some((cached, snapshot)) = self.lock_compiled().as_ref()
            && *cached == generation
        {
            return Arc::clone(snapshot);
        }
        // Compiled without the lock so that no request waits on it; two requests racing
        // here compile twice, and the last one stored wins.
        let snapshot = Arc::new(Snapshot::compile(&self.source.objects()));
        *self.lock_compiled() = Some((generation, Arc::clone(&snapshot)));
        snapshot
    }

    fn lock_compiled(&self) -> std::sync::MutexGuard<'_, Option<(u64, Arc<Snapshot>)>> {
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// kube's `RBACAuthorizer.Authorize`: Allow with the binding that allowed as the path
    /// (`RBAC: allowed by ClusterRoleBinding "…" of ClusterRole "…" to Group "…"`), which
    /// is also kube's reason; otherwise NoOpinion, whose reason is empty unless roles could
    /// not be resolved (`RBAC: <errors>`).
    pub fn decide(&self, attributes: &Attributes) -> Decision {
        let snapshot = self.snapshot();
        let mut allowed_by = None;
        let mut errors = Vec::new();
        let user = &attributes.user;
        snapshot.visit_rules_for(user, &attributes.namespace, &mut |visit| match visit {
            Visit::Rule(source, rule) if matching::rule_allows(attributes, rule) => {
                allowed_by = Some(format!("RBAC: allowed by {source}"));
                ControlFlow::Break(())
            }
            Visit::Rule(..) => ControlFlow::Continue(()),
            Visit::Error(error) => {
                errors.push(error);
                ControlFlow::Continue(())
            }
        });
        match allowed_by {
            Some(path) => Decision::new(DecisionKind::Allow, path.clone(), path),
            None if errors.is_empty() => Decision::no_opinion(""),
            None => Decision::no_opinion(format!("RBAC: {}", aggregate_message(&errors))),
        }
    }

    /// kube's `RulesFor`: every rule `user` holds in `namespace` (cluster-wide ones too),
    /// and the errors met resolving them. The rules are complete except for roles that
    /// could not be resolved.
    pub fn rules_for_user(
        &self,
        user: &UserInfo,
        namespace: &str,
    ) -> (Vec<PolicyRule>, Vec<String>) {
        let snapshot = self.snapshot();
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        snapshot.visit_rules_for(user, namespace, &mut |visit| {
            match visit {
                Visit::Rule(_, rule) => rules.push(rule.clone()),
                Visit::Error(error) => errors.push(error),
            }
            ControlFlow::Continue(())
        });
        (rules, errors)
    }

    /// The rules as SelfSubjectRulesReview answers them: resource and non-resource rules
    /// apart, and the resolution errors as kube's aggregate error text.
    pub fn rule_set(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        let (rules, errors) = self.rules_for_user(user, namespace);
        let mut set = RuleSet {
            evaluation_error: aggregate_message(&errors),
            ..RuleSet::default()
        };
        for rule in rules {
            if !rule.resources.is_empty() {
                set.resource_rules.push(PolicyRule {
                    non_resource_urls: Vec::new(),
                    ..rule.clone()
                });
            }
            if !rule.non_resource_urls.is_empty() {
                set.non_resource_rules.push(PolicyRule {
                    verbs: rule.verbs,
                    non_resource_urls: rule.non_resource_urls,
                    ..PolicyRule::default()
                });
            }
        }
        set
    }

    /// kube's `ConfirmNoEscalation`: whether `user` already holds every rule of `rules` in
    /// `namespace` (empty for a ClusterRole); the 403's message when not.
    pub fn confirm_no_escalation(
        &self,
        user: &UserInfo,
        namespace: &str,
        rules: &[PolicyRule],
    ) -> Result<(), String> {
        let (owner_rules, errors) = self.rules_for_user(user, namespace);
        escalation::confirm_no_escalation(user, &owner_rules, &errors, rules)
    }

    /// kube's `GetRoleReferenceRules`: the rules of the Role (of `namespace`, the binding's)
    /// or ClusterRole that a binding's `roleRef` names, for the `bind` check.
    pub fn role_rules(&self, namespace: &str, role_ref: &Value) -> Result<Vec<PolicyRule>, String> {
        let role_ref = parse::role_ref(role_ref)?;
        let snapshot = self.snapshot();
        snapshot
            .role_ref_rules(&role_ref, namespace)
            .map(<[PolicyRule]>::to_vec)
    }
}

impl Authorizer for Rbac {
    fn name(&self) -> &str {
        "RBAC"
    }

    fn authorize<'a>(&'a self, attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        Box::pin(async move { self.decide(attributes) })
    }

    fn rules_for<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>> {
        Box::pin(async move { Some(self.rule_set(user, namespace)) })
    }
}

/// apimachinery's aggregate error text: empty for none, the error for one, else the
/// distinct errors as `[a, b]` (one distinct error is shown bare).
pub fn aggregate_message(errors: &[String]) -> String {
    if let [only] = errors {
        return only.clone();
    }
    let mut distinct: Vec<&str> = Vec::with_capacity(errors.len());
    for error in errors {
        if !distinct.contains(&error.as_str()) {
            distinct.push(error);
        }
    }
    match distinct.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}
