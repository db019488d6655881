//! The resources kubesim serves: for each, what discovery says of it (group, version, kind,
//! names, scope, verbs, subresources) and where its objects live in the store.
//!
//! Store keys follow kube-apiserver's layout, so a real kube-apiserver and kubesim could read
//! each other's data: `/registry/<prefix>/<namespace>/<name>`, or `/registry/<prefix>/<name>`
//! for cluster-scoped kinds. The prefix is the resource's plural name except for services,
//! which kube-apiserver keeps under `services/specs` (its `services/endpoints` sibling held
//! endpoints once), and nodes, kept under `minions` (their name before 1.0).
//!
//! The review APIs (SelfSubjectReview, TokenReview, the SubjectAccessReviews,
//! SelfSubjectRulesReview) serve `create` alone and store nothing ([`Resource::is_stored`]);
//! a group may serve a resource in several versions (SelfSubjectReview in `v1`, `v1beta1`
//! and `v1alpha1`), the first listed being the group's preferred version. A subresource may
//! answer with a kind of another group ([`subresource`]: `serviceaccounts/token` takes and
//! answers an `authentication.k8s.io/v1` TokenRequest).

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

/// The review APIs: computed on each POST, never stored.
const CREATE_ONLY: &[&str] = &["create"];

const CORE: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const FLOWCONTROL: &str = "flowcontrol.apiserver.k8s.io";

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
        kind: "Node",
        plural: "nodes",
        singular: "node",
        short_names: &["no"],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &["status"],
        categories: &[],
        key_prefix: "minions",
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
        subresources: &["token"],
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
        group: CORE,
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        singular: "limitrange",
        short_names: &["limits"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &[],
        categories: &[],
        key_prefix: "limitranges",
    },
    Resource {
        group: CORE,
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        singular: "resourcequota",
        short_names: &["quota"],
        scope: Scope::Namespaced,
        verbs: ALL_VERBS,
        subresources: &["status"],
        categories: &[],
        key_prefix: "resourcequotas",
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
        group: AUTHENTICATION,
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "selfsubjectreviews",
    },
    Resource {
        group: AUTHENTICATION,
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "tokenreviews",
    },
    Resource {
        group: AUTHENTICATION,
        version: "v1beta1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "selfsubjectreviews",
    },
    Resource {
        group: AUTHENTICATION,
        version: "v1alpha1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "selfsubjectreviews",
    },
    Resource {
        group: AUTHORIZATION,
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        singular: "localsubjectaccessreview",
        short_names: &[],
        scope: Scope::Namespaced,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "localsubjectaccessreviews",
    },
    Resource {
        group: AUTHORIZATION,
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "selfsubjectaccessreviews",
    },
    Resource {
        group: AUTHORIZATION,
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "selfsubjectrulesreviews",
    },
    Resource {
        group: AUTHORIZATION,
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: CREATE_ONLY,
        subresources: &[],
        categories: &[],
        key_prefix: "subjectaccessreviews",
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
    // API Priority and Fairness: kube-apiserver serves both kinds without short names, each
    // with a `status` its APF controller writes (a FlowSchema's `Dangling` condition).
    Resource {
        group: FLOWCONTROL,
        version: "v1",
        kind: "FlowSchema",
        plural: "flowschemas",
        singular: "flowschema",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &["status"],
        categories: &[],
        key_prefix: "flowschemas",
    },
    Resource {
        group: FLOWCONTROL,
        version: "v1",
        kind: "PriorityLevelConfiguration",
        plural: "prioritylevelconfigurations",
        singular: "prioritylevelconfiguration",
        short_names: &[],
        scope: Scope::Cluster,
        verbs: ALL_VERBS,
        subresources: &["status"],
        categories: &[],
        key_prefix: "prioritylevelconfigurations",
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

    /// Whether objects of this resource live in the store (and so have a watch cache). The
    /// review APIs serve `create` alone: each POST is answered and forgotten.
    pub fn is_stored(&self) -> bool {
        self.verbs != CREATE_ONLY
    }

    /// The store key of one object. `namespace` is ignored for cluster-scoped kinds.
    pub fn key(&self, prefix: &str, namespace: &str, name: &str) -> String {
        let mut key = self.collection_key_with_room(prefix, namespace, name.len());
        key.push_str(name);
        key
    }

    /// The store key prefix of a collection: every object of this resource in `namespace`,
    /// or in every namespace when `namespace` is empty. Ends with `/`, so `pods/ns` does not
    /// also match `pods/ns-2`.
    pub fn collection_key(&self, prefix: &str, namespace: &str) -> String {
        self.collection_key_with_room(prefix, namespace, 0)
    }

    /// [`Resource::collection_key`] with `room` more bytes of capacity, for a name.
    fn collection_key_with_room(&self, prefix: &str, namespace: &str, room: usize) -> String {
        // Concatenated, not `format!`ed: every request makes one.
        let prefix = prefix.trim_end_matches('/');
        let mut key = String::with_capacity(
            prefix.len() + self.key_prefix.len() + namespace.len() + 3 + room,
        );
        key.push_str(prefix);
        key.push('/');
        key.push_str(self.key_prefix);
        key.push('/');
        if self.scope == Scope::Namespaced && !namespace.is_empty() {
            key.push_str(namespace);
            key.push('/');
        }
        key
    }
}

/// What a subresource takes and answers, and the verbs it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    /// The kind of its requests and answers: the parent's for `status` and `finalize`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

impl Subresource {
    /// `authentication.k8s.io/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `name` of `resource`, if served: `status` and `scale` are read and written with the
/// parent's kind, `finalize` (namespaces) only written, and `token` (serviceaccounts)
/// creates an `authentication.k8s.io/v1` TokenRequest.
pub fn subresource(resource: &Resource, name: &str) -> Option<Subresource> {
    let name: &'static str = resource.subresources.iter().find(|s| **s == name)?;
    let (group, version, kind, verbs): (_, _, _, &'static [&'static str]) = match name {
        "token" => (AUTHENTICATION, "v1", "TokenRequest", CREATE_ONLY),
        "finalize" => (resource.group, resource.version, resource.kind, &["update"]),
        _ => (
            resource.group,
            resource.version,
            resource.kind,
            &["get", "patch", "update"],
        ),
    };
    Some(Subresource {
        name,
        group,
        version,
        kind,
        verbs,
    })
}

/// kube-apiserver's default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/registry";

/// The resource served at `group`/`version`/`plural`.
///
/// The plural is compared first: it tells most resources apart by its length alone, where
/// the group ("" for most) and version ("v1") would compare every byte of nearly every entry
/// (this runs several times per request; the comparisons were 2.5% of a create's CPU).
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.plural == plural && r.group == group && r.version == version)
}

/// The resource of a kind (for `apiVersion` + `kind` in a request body).
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.group == group && r.version == version)
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
        let nodes = lookup("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key("/registry", "", "n1"), "/registry/minions/n1");
        assert_eq!(nodes.collection_key("/registry", "x"), "/registry/minions/");
    }

    #[test]
    fn reviews_are_create_only_and_not_stored() {
        let sar = lookup("authorization.k8s.io", "v1", "subjectaccessreviews").unwrap();
        assert_eq!(sar.verbs, ["create"]);
        assert!(!sar.is_stored() && !sar.allows("get"));
        assert!(!sar.is_namespaced());
        let local = lookup("authorization.k8s.io", "v1", "localsubjectaccessreviews").unwrap();
        assert!(local.is_namespaced());
        for version in ["v1", "v1beta1", "v1alpha1"] {
            let ssr = lookup("authentication.k8s.io", version, "selfsubjectreviews").unwrap();
            assert_eq!(ssr.kind, "SelfSubjectReview");
        }
        assert!(lookup("authentication.k8s.io", "v1beta1", "tokenreviews").is_none());
        assert!(lookup("", "v1", "pods").unwrap().is_stored());
    }

    #[test]
    fn subresources_name_their_kind_and_verbs() {
        let sa = lookup("", "v1", "serviceaccounts").unwrap();
        let token = subresource(sa, "token").unwrap();
        assert_eq!(
            (token.api_version(), token.kind, token.verbs),
            (
                "authentication.k8s.io/v1".to_string(),
                "TokenRequest",
                &["create"][..]
            )
        );
        let nodes = lookup("", "v1", "nodes").unwrap();
        let status = subresource(nodes, "status").unwrap();
        assert_eq!(
            (status.api_version(), status.kind, status.verbs),
            ("v1".to_string(), "Node", &["get", "patch", "update"][..])
        );
        let ns = lookup("", "v1", "namespaces").unwrap();
        assert_eq!(subresource(ns, "finalize").unwrap().verbs, ["update"]);
        assert_eq!(subresource(sa, "status"), None);
        assert_eq!(subresource(nodes, "token"), None);
    }

    #[test]
    fn limit_ranges_and_quotas_are_served_as_kube_serves_them() {
        let limits = lookup("", "v1", "limitranges").unwrap();
        assert_eq!(
            (
                limits.kind,
                limits.short_names,
                limits.verbs,
                limits.subresources
            ),
            ("LimitRange", &["limits"][..], ALL_VERBS, &[][..])
        );
        assert_eq!(
            limits.key("/registry", "ns", "lr"),
            "/registry/limitranges/ns/lr"
        );
        let quotas = lookup("", "v1", "resourcequotas").unwrap();
        assert_eq!(
            (quotas.kind, quotas.short_names, quotas.verbs),
            ("ResourceQuota", &["quota"][..], ALL_VERBS)
        );
        assert!(quotas.is_namespaced() && limits.is_namespaced());
        assert_eq!(
            quotas.key("/registry", "ns", "q"),
            "/registry/resourcequotas/ns/q"
        );
        let status = subresource(quotas, "status").unwrap();
        assert_eq!(
            (status.kind, status.verbs),
            ("ResourceQuota", &["get", "patch", "update"][..])
        );
    }

    #[test]
    fn flow_schemas_and_priority_levels_are_served_as_kube_serves_them() {
        for (plural, kind) in [
            ("flowschemas", "FlowSchema"),
            ("prioritylevelconfigurations", "PriorityLevelConfiguration"),
        ] {
            let r = lookup("flowcontrol.apiserver.k8s.io", "v1", plural).unwrap();
            assert_eq!(
                (r.kind, r.short_names, r.verbs, r.subresources),
                (kind, &[][..], ALL_VERBS, &["status"][..])
            );
            assert!(!r.is_namespaced() && r.is_stored());
            assert_eq!(r.api_version(), "flowcontrol.apiserver.k8s.io/v1");
            assert_eq!(
                r.group_resource(),
                format!("{plural}.flowcontrol.apiserver.k8s.io")
            );
            assert_eq!(
                r.key("/registry", "ignored", "exempt"),
                format!("/registry/{plural}/exempt")
            );
            assert_eq!(
                r.collection_key("/registry", "ns"),
                format!("/registry/{plural}/")
            );
            let status = subresource(r, "status").unwrap();
            assert_eq!(
                (status.api_version(), status.kind, status.verbs),
                (
                    "flowcontrol.apiserver.k8s.io/v1".to_string(),
                    kind,
                    &["get", "patch", "update"][..]
                )
            );
        }
        assert!(lookup("flowcontrol.apiserver.k8s.io", "v1beta3", "flowschemas").is_none());
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
                ("authentication.k8s.io", "v1"),
                ("authentication.k8s.io", "v1beta1"),
                ("authentication.k8s.io", "v1alpha1"),
                ("authorization.k8s.io", "v1"),
                ("rbac.authorization.k8s.io", "v1"),
                ("admissionregistration.k8s.io", "v1"),
                ("flowcontrol.apiserver.k8s.io", "v1")
            ]
        );
    }

    #[test]
    fn the_table_is_consistent() {
        for (i, a) in RESOURCES.iter().enumerate() {
            assert!(
                a.key_prefix.starts_with(a.plural) || a.plural == "nodes",
                "{}",
                a.plural
            );
            assert_eq!(a.singular, a.kind.to_lowercase(), "{}", a.kind);
            if a.is_stored() {
                assert!(a.allows("get") && a.allows("list") && a.allows("watch"));
            } else {
                assert!(a.subresources.is_empty(), "{}", a.plural);
            }
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
