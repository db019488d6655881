//! Impersonation (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-<key>`), as kube's
//! `WithImpersonation` filter reads it: which identity a request asks to act as, which
//! `impersonate` checks the authorizer must allow first (in kube's order), and the user the
//! request then becomes. The checks themselves are the authorizer's; the API server's chain
//! runs them.

use std::collections::BTreeMap;

use http::HeaderMap;
use kubesim_api::user::{
    ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, SERVICE_ACCOUNT_USER_PREFIX, UserInfo,
    service_account_groups,
};
use kubesim_api::validation::{is_dns1123_label, is_dns1123_subdomain};

use crate::path_unescape;

pub const IMPERSONATE_USER: &str = "impersonate-user";
pub const IMPERSONATE_GROUP: &str = "impersonate-group";
pub const IMPERSONATE_UID: &str = "impersonate-uid";
pub const IMPERSONATE_EXTRA_PREFIX: &str = "impersonate-extra-";

/// The API group of the `userextras` and `uids` checks.
const AUTHENTICATION_GROUP: &str = "authentication.k8s.io";

/// The identity a request asks to act as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImpersonationRequest {
    /// `Impersonate-User`; a `system:serviceaccount:<ns>:<name>` is checked as that
    /// ServiceAccount.
    pub user: String,
    /// `Impersonate-Uid`; empty when not asked for.
    pub uid: String,
    /// Every `Impersonate-Group` value, in order.
    pub groups: Vec<String>,
    /// `Impersonate-Extra-<key>`: the key lower-cased and percent-decoded.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// One thing the requester must be allowed: verb `impersonate` on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpersonationCheck {
    /// Always `impersonate`.
    pub verb: &'static str,
    /// `""` (core) for users, serviceaccounts and groups; `authentication.k8s.io` for
    /// userextras and uids.
    pub api_group: &'static str,
    /// `users`, `serviceaccounts`, `groups`, `userextras` or `uids`.
    pub resource: &'static str,
    /// The extra's key for `userextras` (RBAC names it `userextras/<key>`); empty otherwise.
    pub subresource: String,
    /// The ServiceAccount's namespace; empty for the others.
    pub namespace: String,
    /// The user, ServiceAccount, group, extra value or UID.
    pub name: String,
}

impl ImpersonationCheck {
    fn new(api_group: &'static str, resource: &'static str, name: &str) -> ImpersonationCheck {
        ImpersonationCheck {
            verb: "impersonate",
            api_group,
            resource,
            subresource: String::new(),
            namespace: String::new(),
            name: name.to_string(),
        }
    }

    /// `userextras/scopes`: the form RBAC rules name.
    pub fn resource_and_subresource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// The impersonation a request asks for; `Ok(None)` when it asks for none. The error is the
/// 400's message, kube's: groups, extras or a UID without a user.
pub fn requested(headers: &HeaderMap) -> Result<Option<ImpersonationRequest>, String> {
    let user = match headers.get(IMPERSONATE_USER) {
        Some(value) => text(IMPERSONATE_USER, value)?,
        None => String::new(),
    };
    let groups = headers
        .get_all(IMPERSONATE_GROUP)
        .iter()
        .map(|value| text(IMPERSONATE_GROUP, value))
        .collect::<Result<Vec<_>, _>>()?;
    let extra = extras(headers)?;
    let uid = match headers.get(IMPERSONATE_UID) {
        Some(value) => text(IMPERSONATE_UID, value)?,
        None => String::new(),
    };
    let request = ImpersonationRequest {
        user,
        uid,
        groups,
        extra,
    };
    if request.user.is_empty() {
        if request.groups.is_empty() && request.extra.is_empty() && request.uid.is_empty() {
            return Ok(None);
        }
        return Err(format!(
            "requested [{}] without impersonating a user",
            request.references().join(" ")
        ));
    }
    Ok(Some(request))
}

/// `Impersonate-Extra-<key>` headers by decoded key, sorted by key (kube reads them from a
/// Go map, in no order).
fn extras(headers: &HeaderMap) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in headers.keys() {
        let Some(encoded) = name.as_str().strip_prefix(IMPERSONATE_EXTRA_PREFIX) else {
            continue;
        };
        let key = path_unescape(encoded).unwrap_or_else(|| encoded.to_string());
        for value in headers.get_all(name) {
            extra
                .entry(key.clone())
                .or_default()
                .push(text(name.as_str(), value)?);
        }
    }
    Ok(extra)
}

fn text(name: &str, value: &http::HeaderValue) -> Result<String, String> {
    std::str::from_utf8(value.as_bytes())
        .map(str::to_string)
        .map_err(|_| format!("{name} header is not UTF-8"))
}

impl ImpersonationRequest {
    /// The ServiceAccount `(namespace, name)` when the user is one, by kube's
    /// `serviceaccount.SplitUsername`: exactly two parts, a valid namespace and name.
    pub fn service_account(&self) -> Option<(&str, &str)> {
        let rest = self.user.strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)?;
        let (namespace, name) = rest.split_once(':')?;
        let valid = !name.contains(':')
            && is_dns1123_label(namespace).is_empty()
            && is_dns1123_subdomain(name).is_empty();
        valid.then_some((namespace, name))
    }

    /// What the authorizer must allow, in kube's order: the user (or ServiceAccount), each
    /// group, each extra value, the UID. The first denial answers the request with 403.
    pub fn checks(&self) -> Vec<ImpersonationCheck> {
        let mut checks = Vec::new();
        match self.service_account() {
            Some((namespace, name)) => {
                let mut check = ImpersonationCheck::new("", "serviceaccounts", name);
                check.namespace = namespace.to_string();
                checks.push(check);
            }
            None => checks.push(ImpersonationCheck::new("", "users", &self.user)),
        }
        for group in &self.groups {
            checks.push(ImpersonationCheck::new("", "groups", group));
        }
        for (key, values) in &self.extra {
            for value in values {
                let mut check = ImpersonationCheck::new(AUTHENTICATION_GROUP, "userextras", value);
                check.subresource = key.clone();
                checks.push(check);
            }
        }
        if !self.uid.is_empty() {
            checks.push(ImpersonationCheck::new(
                AUTHENTICATION_GROUP,
                "uids",
                &self.uid,
            ));
        }
        checks
    }

    /// The user the request acts as once every check passed. A ServiceAccount without
    /// requested groups gets its ServiceAccount groups; everyone but `system:anonymous` is in
    /// `system:authenticated` (unless the groups already say authenticated or
    /// unauthenticated), and `system:anonymous` in `system:unauthenticated`.
    pub fn user_info(&self) -> UserInfo {
        let mut groups = self.groups.clone();
        if groups.is_empty()
            && let Some((namespace, _)) = self.service_account()
        {
            groups = service_account_groups(namespace);
        }
        let has = |groups: &[String], g: &str| groups.iter().any(|x| x == g);
        if self.user != ANONYMOUS {
            if !has(&groups, ALL_AUTHENTICATED) && !has(&groups, ALL_UNAUTHENTICATED) {
                groups.push(ALL_AUTHENTICATED.to_string());
            }
        } else if !has(&groups, ALL_UNAUTHENTICATED) {
            groups.push(ALL_UNAUTHENTICATED.to_string());
        }
        UserInfo {
            username: self.user.clone(),
            uid: self.uid.clone(),
            groups,
            extra: self.extra.clone(),
        }
    }

    /// The requests as kube prints its `[]ObjectReference` (`%v`) in the 400's message:
    /// `{Kind Namespace Name UID APIVersion ResourceVersion FieldPath}`.
    fn references(&self) -> Vec<String> {
        let reference = |kind: &str, name: &str, api_version: &str, field_path: &str| {
            format!("{{{kind}  {name}  {api_version}  {field_path}}}")
        };
        let mut references = Vec::new();
        for group in &self.groups {
            references.push(reference("Group", group, "", ""));
        }
        for (key, values) in &self.extra {
            for value in values {
                references.push(reference(
                    "UserExtra",
                    value,
                    "authentication.k8s.io/v1",
                    key,
                ));
            }
        }
        if !self.uid.is_empty() {
            references.push(reference("UID", &self.uid, "authentication.k8s.io/v1", ""));
        }
        references
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn check(
        api_group: &'static str,
        resource: &'static str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> ImpersonationCheck {
        ImpersonationCheck {
            verb: "impersonate",
            api_group,
            resource,
            subresource: subresource.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    #[test]
    fn no_headers_is_no_impersonation() {
        assert_eq!(requested(&HeaderMap::new()), Ok(None));
        assert_eq!(requested(&headers(&[("Impersonate-User", "")])), Ok(None));
    }

    #[test]
    fn a_user_with_groups_extras_and_uid() {
        let request = requested(&headers(&[
            ("Impersonate-User", "jane"),
            ("Impersonate-Group", "dev"),
            ("Impersonate-Group", "ops,qa"),
            ("Impersonate-Extra-Scopes", "view"),
            ("Impersonate-Extra-Scopes", "edit"),
            ("Impersonate-Extra-Example.com%2fTeam", "blue"),
            ("Impersonate-Uid", "1234"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(request.user, "jane");
        assert_eq!(request.groups, ["dev", "ops,qa"]);
        assert_eq!(request.uid, "1234");
        assert_eq!(
            request.checks(),
            [
                check("", "users", "", "", "jane"),
                check("", "groups", "", "", "dev"),
                check("", "groups", "", "", "ops,qa"),
                check(
                    "authentication.k8s.io",
                    "userextras",
                    "example.com/team",
                    "",
                    "blue"
                ),
                check("authentication.k8s.io", "userextras", "scopes", "", "view"),
                check("authentication.k8s.io", "userextras", "scopes", "", "edit"),
                check("authentication.k8s.io", "uids", "", "", "1234"),
            ]
        );
        assert_eq!(
            request.checks()[3].resource_and_subresource(),
            "userextras/example.com/team"
        );
        let user = request.user_info();
        assert_eq!(user.username, "jane");
        assert_eq!(user.uid, "1234");
        assert_eq!(user.groups, ["dev", "ops,qa", ALL_AUTHENTICATED]);
        assert_eq!(user.extra["scopes"], ["view", "edit"]);
        assert_eq!(user.extra["example.com/team"], ["blue"]);
    }

    #[test]
    fn a_service_account_is_checked_as_one_and_gets_its_groups() {
        let request = requested(&headers(&[(
            "Impersonate-User",
            "system:serviceaccount:prod:deploy-bot",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(
            request.checks(),
            [check("", "serviceaccounts", "", "prod", "deploy-bot")]
        );
        let user = request.user_info();
        assert_eq!(user.username, "system:serviceaccount:prod:deploy-bot");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:prod",
                ALL_AUTHENTICATED
            ]
        );
    }

    #[test]
    fn a_service_account_with_groups_gets_only_those() {
        let request = requested(&headers(&[
            ("Impersonate-User", "system:serviceaccount:prod:deploy-bot"),
            ("Impersonate-Group", "system:authenticated"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(request.user_info().groups, [ALL_AUTHENTICATED]);
    }

    #[test]
    fn a_malformed_service_account_name_is_a_user() {
        for user in [
            "system:serviceaccount:prod",
            "system:serviceaccount:prod:a:b",
            "system:serviceaccount:Prod:bot",
            "system:serviceaccount::bot",
        ] {
            let request = requested(&headers(&[("Impersonate-User", user)]))
                .unwrap()
                .unwrap();
            assert_eq!(
                request.checks(),
                [check("", "users", "", "", user)],
                "{user}"
            );
            assert_eq!(request.user_info().groups, [ALL_AUTHENTICATED], "{user}");
        }
    }

    #[test]
    fn anonymous_is_unauthenticated() {
        let request = requested(&headers(&[("Impersonate-User", "system:anonymous")]))
            .unwrap()
            .unwrap();
        assert_eq!(request.user_info().groups, [ALL_UNAUTHENTICATED]);
        let request = requested(&headers(&[
            ("Impersonate-User", "jane"),
            ("Impersonate-Group", "system:unauthenticated"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(request.user_info().groups, [ALL_UNAUTHENTICATED]);
    }

    #[test]
    fn groups_extras_or_uid_without_a_user_is_kubes_400() {
        assert_eq!(
            requested(&headers(&[("Impersonate-Group", "system:masters")])),
            Err("requested [{Group  system:masters    }] without impersonating a user".to_string())
        );
        assert_eq!(
            requested(&headers(&[
                ("Impersonate-Group", "a"),
                ("Impersonate-Extra-Scopes", "view"),
                ("Impersonate-Uid", "42"),
            ])),
            Err(
                "requested [{Group  a    } {UserExtra  view  authentication.k8s.io/v1  scopes} \
                 {UID  42  authentication.k8s.io/v1  }] without impersonating a user"
                    .to_string()
            )
        );
    }

    #[test]
    fn an_extra_key_that_does_not_decode_is_kept_as_sent() {
        let request = requested(&headers(&[
            ("Impersonate-User", "jane"),
            ("Impersonate-Extra-Bad%zz", "x"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(request.extra["bad%zz"], ["x"]);
    }
}
