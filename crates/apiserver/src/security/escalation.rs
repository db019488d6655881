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
    /// Roles: an update that only changes what the garbage collector manages passes (kube's
    /// `IsOnlyMutatingGCFields`); then `escalate`, then the user's own rules must cover the
    /// role's. Any other change is checked, labels included: a label can pull a ClusterRole's
    /// rules into an aggregated one.
    async fn check_role(&self) -> Result<(), Status> {
        let aggregated = self
            .object
            .get("aggregationRule")
            .is_some_and(|r| !r.is_null());
        if self.only_gc_fields_changed() {
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

    /// Bindings: an update of only what the garbage collector manages passes; then `bind` on
    /// the referenced role, or the user holds its rules.
    async fn check_binding(&self) -> Result<(), Status> {
        if self.only_gc_fields_changed() {
            return Ok(());
        }
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

    /// kube's `IsOnlyMutatingGCFields`: an update whose only changes are
    /// `metadata.ownerReferences` and `metadata.finalizers` (and what the server sets on every
    /// write: resourceVersion, managedFields, generation).
    fn only_gc_fields_changed(&self) -> bool {
        let Some(old) = self.old else {
            return false;
        };
        without_gc_fields(old) == without_gc_fields(self.object)
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

/// The object without the metadata [`Write::only_gc_fields_changed`] ignores.
fn without_gc_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(Value::Object(metadata)) = copy.get_mut("metadata") {
        for field in [
            "ownerReferences",
            "finalizers",
            "resourceVersion",
            "managedFields",
            "generation",
        ] {
            metadata.shift_remove(field);
        }
    }
    copy
}

/// A role's `rules`, as stored (validation has checked their shape).
fn rules_of(object: &Value) -> Result<Vec<PolicyRule>, String> {
    match object.get("rules") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(rules) => serde_json::from_value(rules.clone())
            .map_err(|e| format!("the role's rules cannot be read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use kubesim_api::resources;
    use serde_json::json;

    use super::*;
    use crate::config::AuthOptions;

    /// RBAC over kube's bootstrap policy only (no storage): `jane` holds nothing but the
    /// discovery and self-review rules every authenticated user has.
    fn guard() -> (RbacGuard, Arc<Security>) {
        let options = AuthOptions {
            authorization_modes: "RBAC".to_string(),
            ..AuthOptions::default()
        };
        let env = kubesim_net::Env::production(std::env::temp_dir());
        let security = Arc::new(crate::security::build(&options, None, &env, None).unwrap());
        (RbacGuard::new(&security), security)
    }

    fn rbac(plural: &str) -> &'static Resource {
        resources::lookup(RBAC_GROUP, "v1", plural).unwrap()
    }

    fn by(username: &str, groups: &[&str]) -> WriteOptions {
        WriteOptions {
            requester: Some(Arc::new(UserInfo::new(username, groups))),
            ..WriteOptions::default()
        }
    }

    fn pod_reader() -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "pod-reader", "namespace": "dev", "resourceVersion": "5"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    }

    fn jane() -> WriteOptions {
        by("jane", &["system:authenticated"])
    }

    #[tokio::test]
    async fn a_role_with_rules_the_writer_lacks_is_refused_with_kubes_message() {
        let (guard, _security) = guard();
        let status = guard
            .check(rbac("roles"), &pod_reader(), None, &jane())
            .await
            .unwrap_err();
        assert_eq!(status.code, 403);
        assert_eq!(
            status.message,
            "roles.rbac.authorization.k8s.io \"pod-reader\" is forbidden: user \"jane\" \
             (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not \
             currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}"
        );
    }

    #[tokio::test]
    async fn masters_and_the_servers_own_writes_pass() {
        let (guard, _security) = guard();
        let role = pod_reader();
        let master = by("admin", &["system:masters"]);
        assert!(
            guard
                .check(rbac("roles"), &role, None, &master)
                .await
                .is_ok()
        );
        let own = WriteOptions::default();
        assert!(guard.check(rbac("roles"), &role, None, &own).await.is_ok());
    }

    #[tokio::test]
    async fn only_garbage_collector_fields_may_change_without_the_rules() {
        let (guard, _security) = guard();
        let old = pod_reader();
        let mut finalized = old.clone();
        finalized["metadata"]["finalizers"] = json!(["example.com/keep"]);
        finalized["metadata"]["resourceVersion"] = json!("6");
        assert!(
            guard
                .check(rbac("roles"), &finalized, Some(&old), &jane())
                .await
                .is_ok()
        );
        // A label is not a GC field: it could pull the rules into an aggregated role.
        let mut labelled = old.clone();
        labelled["metadata"]["labels"] =
            json!({"rbac.authorization.k8s.io/aggregate-to-admin": "true"});
        let status = guard
            .check(rbac("roles"), &labelled, Some(&old), &jane())
            .await
            .unwrap_err();
        assert_eq!(status.code, 403);
    }

    #[tokio::test]
    async fn binding_a_role_the_writer_does_not_hold_is_refused() {
        let (guard, _security) = guard();
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "jane-admin", "namespace": "dev"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "cluster-admin"},
            "subjects": [{"kind": "User", "name": "jane"}]});
        let status = guard
            .check(rbac("rolebindings"), &binding, None, &jane())
            .await
            .unwrap_err();
        assert_eq!(status.code, 403);
        assert!(
            status.message.starts_with(
                "rolebindings.rbac.authorization.k8s.io \"jane-admin\" is forbidden: user \"jane\""
            ),
            "{}",
            status.message
        );
        // Binding the rules every authenticated user has is no escalation.
        let mut basic = binding.clone();
        basic["roleRef"]["name"] = json!("system:basic-user");
        assert!(
            guard
                .check(rbac("rolebindings"), &basic, None, &jane())
                .await
                .is_ok()
        );
    }
}
