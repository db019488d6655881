//! The resources kubesim serves: for each, what discovery says of it (group, version, kind,
//! names, scope, verbs, subresources) and where its objects live in the store.
//!
//! Store keys follow kube-apiserver's layout, so a real kube-apiserver and kubesim could read
//! each other's data: `/registry/<prefix>/<namespace>/<name>`, or `/registry/<prefix>/<name>`
//! for cluster-scoped kinds. The prefix is the resource's plural name except for services,
//! which kube-apiserver keeps under `services/specs` (its `services/endpoints` sibling held
//! endpoints once).

/// Whether a resource's objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// API group; "" is the legacy core group, served under `/api`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The resource name in URLs (plural, lower case).
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub scope: Scope,
    pub verbs: &'static [&'static str],
    /// Subresources served (`status` for pods).
    pub subresources: &'static [&'static str],
    /// `all` for the kinds `kubectl get all` lists.
    pub categories: &'static [&'static str],
    /// Below `/registry/`, before the namespace and name.
    pub key_prefix: &'static str,
}

/// What most resources allow.
const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Namespaces cannot be deleted as a collection.
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

const CORE: &str = "";
const APPS: &str = "apps";
const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";

/// Every served resource, in discovery order: core, then the named groups.
pub const RESOURCES: &[Resource] = &[
    Resource {
        group: CORE,
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        short_names: &["ns"],
        scope: Scope::Cluster,
        verbs: NAMESPACE_VERBS,
        subresources: &["status", "finalize"],
        categories: &[],
        key_prefix: "namespaces",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        short_names: &["po"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &["status"],
        categories: &["all"],
        key_prefix: "pods",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        short_names: &["cm"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "configmaps",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        short_names: &[],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "secrets",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        short_names: &["sa"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "serviceaccounts",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        short_names: &["svc"],
        scope: Scope::Namespaced,
        // kube-apiserver serves no deletecollection for services.
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        subresources: &["status"],
        categories: &["all"],
        key_prefix: "services/specs",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        short_names: &["ev"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "events",
    },
    Resource {
        group: APPS,
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        short_names: &["deploy"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &["status"],
        categories: &["all"],
        key_prefix: "deployments",
    },
    Resource {
        group: RBAC,
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        short_names: &[],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "roles",
    },
    Resource {
        group: RBAC,
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        short_names: &[],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "rolebindings",
    },
    Resource {
        group: RBAC,
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "clusterroles",
    },
    Resource {
        group: RBAC,
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "clusterrolebindings",
    },
    Resource {
        group: ADMISSION,
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        singular: "mutatingwebhookconfiguration",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &["api-extensions"],
        key_prefix: "mutatingwebhookconfigurations",
    },
    Resource {
        group: ADMISSION,
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        singular: "validatingwebhookconfiguration",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &["api-extensions"],
        key_prefix: "validatingwebhookconfigurations",
    },
];

impl Resource {
    pub fn is_namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// `v1` for core, `apps/v1` for a named group: the `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` for core, `deployments.apps` for a named group: how kube-apiserver names a
    /// resource in messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `verb` is served on this resource.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// The store key of one object. `namespace` is ignored for cluster-scoped kinds.
    pub fn key(&self, prefix: &str, namespace: &str, name: &str) -> String {
        format!("{}{name}", self.collection_key(prefix, namespace))
    }

    /// The store key prefix of a collection: every object of this resource in `namespace`,
    /// or in every namespace when `namespace` is empty. Ends with `/`, so `pods/ns` does not
    /// also match `pods/ns-2`.
    pub fn collection_key(&self, prefix: &str, namespace: &str) -> String {
        let base = format!("{}/{}/", prefix.trim_end_matches('/'), self.key_prefix);
        match self.scope {
            Scope::Namespaced if !namespace.is_empty() => format!("{base}{namespace}/"),
            _ => base,
        }
    }
}

/// kube-apiserver's default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/registry";

/// The resource served at `group`/`version`/`plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of a kind (for `apiVersion` + `kind` in a request body).
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Every (group, version) served, in discovery order, core first.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kube_apiservers_layout() {
        let pods = lookup("", "v1", "pods").unwrap();
        assert_eq!(
            pods.key("/registry", "default", "web"),
            "/registry/pods/default/web"
        );
        assert_eq!(
            pods.collection_key("/registry", "default"),
            "/registry/pods/default/"
        );
        assert_eq!(pods.collection_key("/registry/", ""), "/registry/pods/");
        let ns = lookup("", "v1", "namespaces").unwrap();
        assert_eq!(
            ns.key("/registry", "ignored", "kube-system"),
            "/registry/namespaces/kube-system"
        );
        let svc = lookup("", "v1", "services").unwrap();
        assert_eq!(
            svc.key("/registry", "ns", "db"),
            "/registry/services/specs/ns/db"
        );
        let roles = lookup("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        assert_eq!(
            roles.key("/kubesim", "", "admin"),
            "/kubesim/clusterroles/admin"
        );
    }

    #[test]
    fn names_and_versions() {
        let deploy = by_kind("apps", "v1", "Deployment").unwrap();
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(deploy.group_resource(), "deployments.apps");
        assert_eq!(lookup("", "v1", "pods").unwrap().group_resource(), "pods");
        assert!(lookup("apps", "v1", "pods").is_none());
        assert!(lookup("", "v2", "pods").is_none());
        assert_eq!(
            group_versions(),
            [
                ("", "v1"),
                ("apps", "v1"),
                ("rbac.authorization.k8s.io", "v1"),
                ("admissionregistration.k8s.io", "v1")
            ]
        );
    }

    #[test]
    fn the_table_is_consistent() {
        for (i, a) in RESOURCES.iter().enumerate() {
            assert!(a.key_prefix.starts_with(a.plural), "{}", a.plural);
            assert_eq!(a.singular, a.kind.to_lowercase(), "{}", a.kind);
            assert!(a.allows("get") && a.allows("list") && a.allows("watch"));
            for b in &RESOURCES[i + 1..] {
                assert!(
                    (a.group, a.version, a.plural) != (b.group, b.version, b.plural),
                    "{} twice",
                    a.plural
                );
                for short in a.short_names {
                    assert!(!b.short_names.contains(short), "short name {short} twice");
                }
            }
        }
        assert!(
            !lookup("", "v1", "namespaces")
                .unwrap()
                .allows("deletecollection")
        );
    }
}
