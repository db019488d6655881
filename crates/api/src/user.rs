//! Who made a request: `user.Info` as authentication decides it, and the well-known names
//! kube-apiserver gives to groups and users (K8S-FACTS.md, "Authentication").
//!
//! Serialized as authentication.k8s.io/v1 `UserInfo` (`username`, `uid`, `groups`, `extra`),
//! the shape SelfSubjectReview, SubjectAccessReview and AdmissionReview carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every authenticated user is in this group.
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
/// The anonymous user's group.
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of a request without credentials, when anonymous requests are allowed.
pub const ANONYMOUS: &str = "system:anonymous";
/// Members are allowed everything by every authorizer chain.
pub const SYSTEM_PRIVILEGED_GROUP: &str = "system:masters";
/// Nodes' group; nodes are users `system:node:<name>`.
pub const NODES_GROUP: &str = "system:nodes";
pub const NODE_USER_PREFIX: &str = "system:node:";
/// ServiceAccounts are users `system:serviceaccount:<namespace>:<name>`, in group
/// `system:serviceaccounts` and `system:serviceaccounts:<namespace>`.
pub const SERVICE_ACCOUNT_USER_PREFIX: &str = "system:serviceaccount:";
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
pub const SERVICE_ACCOUNT_GROUP_PREFIX: &str = "system:serviceaccounts:";

/// `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn new(username: impl Into<String>, groups: &[&str]) -> UserInfo {
        UserInfo {
            username: username.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// `system:anonymous` in `system:unauthenticated`.
    pub fn anonymous() -> UserInfo {
        UserInfo::new(ANONYMOUS, &[ALL_UNAUTHENTICATED])
    }

    /// Adds `system:authenticated` unless it is there, or the user is anonymous (kube's
    /// `AuthenticatedGroupAdder`).
    pub fn with_authenticated_group(mut self) -> UserInfo {
        if self.username != ANONYMOUS && !self.in_group(ALL_AUTHENTICATED) {
            self.groups.push(ALL_AUTHENTICATED.to_string());
        }
        self
    }
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}")
}

/// `(namespace, name)` of a ServiceAccount username; `None` for any other user.
pub fn split_service_account_username(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// The groups every ServiceAccount of `namespace` is in (without `system:authenticated`).
pub fn service_account_groups(namespace: &str) -> Vec<String> {
    vec![
        ALL_SERVICE_ACCOUNTS_GROUP.to_string(),
        format!("{SERVICE_ACCOUNT_GROUP_PREFIX}{namespace}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_names_round_trip() {
        let name = service_account_username("production", "deploy-bot");
        assert_eq!(name, "system:serviceaccount:production:deploy-bot");
        assert_eq!(
            split_service_account_username(&name),
            Some(("production", "deploy-bot"))
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:a"),
            None
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:a:b:c"),
            None
        );
        assert_eq!(split_service_account_username("jane"), None);
    }

    #[test]
    fn authenticated_group_is_added_once_and_never_to_anonymous() {
        let user = UserInfo::new("jane", &["dev"]).with_authenticated_group();
        assert_eq!(user.groups, ["dev", ALL_AUTHENTICATED]);
        assert_eq!(user.clone().with_authenticated_group(), user);
        let anonymous = UserInfo::anonymous().with_authenticated_group();
        assert_eq!(anonymous.groups, [ALL_UNAUTHENTICATED]);
    }

    #[test]
    fn serializes_as_authentication_v1_user_info() {
        let user = UserInfo::new("jane", &["dev"]);
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"username": "jane", "groups": ["dev"]})
        );
    }
}
