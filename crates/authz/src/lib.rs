//! Authorization: may this user do this (K8S-FACTS.md, "Authorization"). An ordered chain of
//! authorizers; the first that allows or denies decides, and when every one has no opinion
//! the request is refused (403).
//!
//! Map of the crate:
//! - this file: what every authorizer shares: [`Attributes`] (kube's `authorizer.Attributes`,
//!   built from a request's `RequestInfo`), [`Decision`], the [`Authorizer`] trait, and the
//!   rule types of RBAC and the review APIs ([`PolicyRule`], [`RuleSet`]).
//! - [`chain`]: [`chain::AuthorizerChain`], `--authorization-mode` in order, with
//!   `system:masters` always allowed; [`mode`]: the mode list and kube's
//!   AuthorizationConfiguration file.
//! - [`rbac`]: Role/ClusterRole/RoleBinding/ClusterRoleBinding evaluation, the rules a user
//!   has (SelfSubjectRulesReview, escalation checks), bootstrap policy, and aggregated
//!   ClusterRoles.
//! - [`abac`], [`node`], [`always`]: the other built-in authorizers.
//! - [`webhook`]: the Webhook authorizer: a gRPC client of the authz service with a timeout,
//!   a decision cache and a failure policy; [`service`]: the authz service's gRPC server.
//!
//! Decisions carry `decided_by`, the decision path kubesim shows (which authorizer, which
//! rule or binding), beside kube's `reason`, which is what a 403 says.

use std::fmt;

use futures::future::BoxFuture;
use kubesim_api::RequestInfo;
use kubesim_api::user::UserInfo;
use serde::{Deserialize, Serialize};

pub mod abac;
pub mod always;
pub mod chain;
pub mod mode;
pub mod node;
pub mod rbac;
pub mod service;
pub mod webhook;

/// kube's `authorizer.Attributes`: who asks to do what. A resource request has
/// `resource_request` set and the resource fields; a non-resource request has `path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Attributes {
    pub user: UserInfo,
    pub verb: String,
    pub resource_request: bool,
    pub namespace: String,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub path: String,
}

impl Attributes {
    /// kube's `GetAuthorizerAttributes`: the request's verb, and its resource or its path.
    pub fn from_request_info(user: UserInfo, info: &RequestInfo) -> Attributes {
        Attributes {
            user,
            verb: info.verb.clone(),
            resource_request: info.is_resource_request,
            namespace: info.namespace.clone(),
            api_group: info.api_group.clone(),
            api_version: info.api_version.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone(),
            name: info.name.clone(),
            path: info.path.clone(),
        }
    }

    /// `pods`, or `pods/log` for a subresource: the form RBAC rules name.
    pub fn resource_and_subresource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecisionKind {
    Allow,
    Deny,
    NoOpinion,
}

/// One authorizer's answer (or the chain's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    /// kube's reason: what follows `: ` in a 403's message; often empty (RBAC gives none).
    pub reason: String,
    /// kubesim's decision path: the authorizer and the rule, binding or policy line that
    /// decided, e.g. `RBAC: RoleBinding "production/deploy-bot" of Role "deployer"`. Empty
    /// when nothing matched. Logged and traced, never sent in a 403.
    pub decided_by: String,
    /// The name of the authorizer that answered (`RBAC`, `Webhook`, `Node`, …); the chain
    /// fills it in.
    pub authorizer: String,
    /// Why an authorizer could not decide (an authz service that failed or timed out); empty
    /// when none. A request that is not allowed and carries an error is answered 500, as
    /// kube's authorization filter answers an authorizer error, not 403.
    pub error: String,
}

impl Decision {
    pub fn allow(decided_by: impl Into<String>) -> Decision {
        Decision::new(DecisionKind::Allow, "", decided_by)
    }

    pub fn deny(reason: impl Into<String>, decided_by: impl Into<String>) -> Decision {
        Decision::new(DecisionKind::Deny, reason, decided_by)
    }

    pub fn no_opinion(reason: impl Into<String>) -> Decision {
        Decision::new(DecisionKind::NoOpinion, reason, "")
    }

    pub fn new(
        kind: DecisionKind,
        reason: impl Into<String>,
        decided_by: impl Into<String>,
    ) -> Decision {
        Decision {
            kind,
            reason: reason.into(),
            decided_by: decided_by.into(),
            authorizer: String::new(),
            error: String::new(),
        }
    }

    /// This decision, made because an authorizer failed with `error`.
    pub fn with_error(mut self, error: impl Into<String>) -> Decision {
        self.error = error.into();
        self
    }

    pub fn is_allowed(&self) -> bool {
        self.kind == DecisionKind::Allow
    }
}

/// rbac.authorization.k8s.io/v1 `PolicyRule`, as stored; also what the review APIs answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(
        default,
        rename = "nonResourceURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
}

impl fmt::Display for PolicyRule {
    /// kube's `PolicyRule.CompactString`-like form, used in escalation messages:
    /// `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|item| format!("{item:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut parts = Vec::new();
        if !self.api_groups.is_empty() {
            parts.push(format!("APIGroups:[{}]", list(&self.api_groups)));
        }
        if !self.resources.is_empty() {
            parts.push(format!("Resources:[{}]", list(&self.resources)));
        }
        if !self.resource_names.is_empty() {
            parts.push(format!("ResourceNames:[{}]", list(&self.resource_names)));
        }
        if !self.non_resource_urls.is_empty() {
            parts.push(format!(
                "NonResourceURLs:[{}]",
                list(&self.non_resource_urls)
            ));
        }
        parts.push(format!("Verbs:[{}]", list(&self.verbs)));
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// What a user may do in a namespace, as SelfSubjectRulesReview answers
/// (`status.resourceRules`, `status.nonResourceRules`, `incomplete`, `evaluationError`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    pub resource_rules: Vec<PolicyRule>,
    pub non_resource_rules: Vec<PolicyRule>,
    /// Some authorizer in the chain cannot list its rules, so there may be more.
    pub incomplete: bool,
    pub evaluation_error: String,
}

/// One authorizer of the chain.
pub trait Authorizer: Send + Sync {
    /// As `--authorization-mode` names it (`RBAC`, `Webhook`, `Node`, `ABAC`, …), or the
    /// configured name of a webhook.
    fn name(&self) -> &str;

    fn authorize<'a>(&'a self, attributes: &'a Attributes) -> BoxFuture<'a, Decision>;

    /// The rules `user` has in `namespace` (kube's `RuleResolver.RulesFor`); `None` when this
    /// authorizer cannot list rules (Webhook, Node), which makes the review `incomplete`.
    fn rules_for<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>>;
}
