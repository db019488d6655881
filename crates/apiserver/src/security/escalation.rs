//! RBAC's escalation prevention (kube's `pkg/registry/rbac/*/policybased`): a user may
//! create or change a Role or ClusterRole only with rules they already hold (or with the
//! `escalate` verb on it), and bind a role only if they hold its rules (or have `bind` on
//! it). `system:masters` and the API server's own writes pass. An aggregated ClusterRole
//! (`aggregationRule`) needs `escalate`, as its rules come from others.
//!
//! [`RbacGuard`] is the registry's [`WriteGuard`]: it runs after validation, before a role
//! or binding is stored, dry runs included.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::status::GroupResource;
use kubesim_api::user::{SYSTEM_PRIVILEGED_GROUP, UserInfo};
use kubesim_authz::{Attributes, PolicyRule};
use serde_json::Value;

use crate::context::Security;
use crate::registry::{WriteGuard, WriteOptions};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The registry's write guard for the four RBAC kinds; other kinds pass untouched.
pub struct RbacGuard {
    /// Weak: the security parts own the chain, which owns the routes, which own the
    /// registry that holds this guard.
    security: Weak<Security>,
}

impl RbacGuard {
    pub fn new(security: &Arc<Security>) -> RbacGuard {
        RbacGuard {
            security: Arc::downgrade(security),
        }
    }
}

impl WriteGuard for RbacGuard {
    fn check<'a>(
        &'a self,
        resource: &'static Resource,
        object: &'a Value,
        old: Option<&'a Value>,
        opts: &'a WriteOptions,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(user) = opts.requester.as_ref() else {
                return Ok(());
            };
            if resource.group != RBAC_GROUP || user.in_group(SYSTEM_PRIVILEGED_GROUP) {
                return Ok(());
            }
            let Some(security) = self.security.upgrade() else {
                return Err(Status::service_unavailable(
                    "the API server is shutting down",
                ));
            };
            let write = Write {
                security: &security,
                resource,
                user,
                object,
                old,
            };
            match resource.kind {
                "Role" | "ClusterRole" => write.check_role().await,
                "RoleBinding" | "ClusterRoleBinding" => write.check_binding().await,
                _ => Ok(()),
            }
        })
    }
}

/// One write of a role or binding by `user`.
struct Write<'a> {
    security: &'a Security,
    resource: &'static Resource,
    user: &'a UserInfo,
    object: &'a Value,
    old: Option<&'a Value>,
}

impl Write<'_> {
    /// Roles: unchanged rules pass (kube compares them on update); then `escalate`, then
    /// the user's own rules must cover the role's.
    async fn check_role(&self) -> Result<(), Status> {
        let aggregated = self
            .object
            .get("aggregationRule")
            .is_some_and(|r| !r.is_null());
        if !aggregated
            && self
                .old
                .is_some_and(|old| old.get("rules") == self.object.get("rules"))
        {
            return Ok(());
        }
        if self
            .allowed("escalate", self.resource.plural, self.name())
            .await
        {
            return Ok(());
        }
        if aggregated {
            return Err(
                self.forbidden("must have cluster-admin privileges to use the aggregationRule")
            );
        }
        let rules = rules_of(self.object).map_err(|e| self.forbidden(&e))?;
        self.security
            .rbac
            .confirm_no_escalation(self.user, self.namespace(), &rules)
            .map_err(|message| self.forbidden(&message))
    }

    /// Bindings: `bind` on the referenced role, or the user holds its rules.
    async fn check_binding(&self) -> Result<(), Status> {
        let role_ref = self.object.get("roleRef").cloned().unwrap_or(Value::Null);
        let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
        let role_name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
        let role_plural = if kind == "Role" {
            "roles"
        } else {
            "clusterroles"
        };
        if self
            .allowed_in(self.namespace(), "bind", role_plural, role_name)
            .await
        {
            return Ok(());
        }
        let rules = self
            .security
            .rbac
            .role_rules(self.namespace(), &role_ref)
            .map_err(|e| self.forbidden(&e))?;
        self.security
            .rbac
            .confirm_no_escalation(self.user, self.namespace(), &rules)
            .map_err(|message| self.forbidden(&message))
    }

    async fn allowed(&self, verb: &str, plural: &str, name: &str) -> bool {
        self.allowed_in(self.namespace(), verb, plural, name).await
    }

    /// kube's `RoleEscalationAuthorized` / `BindingAuthorized`: asks the chain whether the
    /// user may `verb` the role `name`.
    async fn allowed_in(&self, namespace: &str, verb: &str, plural: &str, name: &str) -> bool {
        let attributes = Attributes {
            user: self.user.clone(),
            verb: verb.to_string(),
            resource_request: true,
            namespace: namespace.to_string(),
            api_group: RBAC_GROUP.to_string(),
            api_version: "v1".to_string(),
            resource: plural.to_string(),
            name: name.to_string(),
            ..Attributes::default()
        };
        self.security
            .authorizer
            .authorize(&attributes)
            .await
            .is_allowed()
    }

    fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn namespace(&self) -> &str {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// kube's `NewForbidden(groupResource, name, err)`.
    fn forbidden(&self, message: &str) -> Status {
        let gr = GroupResource::new(self.resource.group, self.resource.plural);
        Status::forbidden_with_message(&gr, self.name(), message)
    }
}

/// A role's `rules`, as stored (validation has checked their shape).
fn rules_of(object: &Value) -> Result<Vec<PolicyRule>, String> {
    match object.get("rules") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(rules) => serde_json::from_value(rules.clone())
            .map_err(|e| format!("the role's rules cannot be read: {e}")),
    }
}
