//! rbac.authorization.k8s.io/v1: roles (sets of rules) and bindings (who gets a role).

use super::{API_VERSION, KIND, METADATA, STRINGS, Type, TypeDef, f, list, meta, obj};

/// A type name in rbac/v1.
macro_rules! rbac_type {
    ($name:literal) => {
        concat!("io.k8s.api.rbac.v1.", $name)
    };
}

pub const ROLE: TypeDef = TypeDef::new(
    rbac_type!("Role"),
    "A namespaced set of policy rules that a RoleBinding can grant.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f("rules", list!(POLICY_RULE), "The rules of the role.")
            .tag(2)
            .atomic(),
    ],
);

pub const CLUSTER_ROLE: TypeDef = TypeDef::new(
    rbac_type!("ClusterRole"),
    "A cluster-wide set of policy rules that a RoleBinding or ClusterRoleBinding can grant.",
    &[
        f(
            "aggregationRule",
            obj!(AGGREGATION_RULE),
            "Build the rules from other ClusterRoles; the controller then owns rules.",
        )
        .tag(3),
        API_VERSION,
        KIND,
        METADATA,
        f("rules", list!(POLICY_RULE), "The rules of the role.")
            .tag(2)
            .atomic(),
    ],
);

pub const POLICY_RULE: TypeDef = TypeDef::new(
    rbac_type!("PolicyRule"),
    "Verbs allowed on resources or non-resource URLs; `*` matches all.",
    &[
        f(
            "apiGroups",
            STRINGS,
            "API groups of the resources; `\"\"` is the core group.",
        )
        .tag(2)
        .atomic(),
        f(
            "nonResourceURLs",
            STRINGS,
            "URL paths like `/healthz`, a trailing `*` matching the rest; ClusterRoles only.",
        )
        .tag(5)
        .atomic(),
        f(
            "resourceNames",
            STRINGS,
            "Names of the objects the rule is limited to; empty means all.",
        )
        .tag(4)
        .atomic(),
        f(
            "resources",
            STRINGS,
            "Resources, with `/subresource` for subresources (`pods/log`).",
        )
        .tag(3)
        .atomic(),
        f(
            "verbs",
            STRINGS,
            "Verbs allowed (`get`, `list`, `create`, ...).",
        )
        .tag(1)
        .req()
        .atomic(),
    ],
);

pub const AGGREGATION_RULE: TypeDef = TypeDef::new(
    rbac_type!("AggregationRule"),
    "Which ClusterRoles are aggregated into this one.",
    &[f(
        "clusterRoleSelectors",
        list!(meta::LABEL_SELECTOR),
        "Label selectors; a ClusterRole matching any contributes its rules.",
    )
    .tag(1)
    .atomic()],
);

pub const ROLE_BINDING: TypeDef = TypeDef::new(
    rbac_type!("RoleBinding"),
    "Grants a Role, or a ClusterRole within this namespace, to subjects.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "roleRef",
            obj!(ROLE_REF),
            "The Role or ClusterRole granted; immutable.",
        )
        .tag(3)
        .req(),
        f("subjects", list!(SUBJECT), "Who is granted the role.")
            .tag(2)
            .atomic(),
    ],
);

pub const CLUSTER_ROLE_BINDING: TypeDef = TypeDef::new(
    rbac_type!("ClusterRoleBinding"),
    "Grants a ClusterRole to subjects across the whole cluster.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "roleRef",
            obj!(ROLE_REF),
            "The ClusterRole granted; immutable.",
        )
        .tag(3)
        .req(),
        f("subjects", list!(SUBJECT), "Who is granted the role.")
            .tag(2)
            .atomic(),
    ],
);

pub const ROLE_REF: TypeDef = TypeDef::new(
    rbac_type!("RoleRef"),
    "The role a binding grants.",
    &[
        f(
            "apiGroup",
            Type::String,
            "Group of the role: `rbac.authorization.k8s.io`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f("kind", Type::String, "`Role` or `ClusterRole`.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("name", Type::String, "Name of the role.")
            .tag(3)
            .keeps_zero()
            .req(),
    ],
)
.atomic();

pub const SUBJECT: TypeDef = TypeDef::new(
    rbac_type!("Subject"),
    "Who a binding grants a role to: a user, a group or a service account.",
    &[
        f(
            "apiGroup",
            Type::String,
            "`rbac.authorization.k8s.io` for users and groups, empty for service accounts.",
        )
        .tag(2),
        f("kind", Type::String, "`User`, `Group` or `ServiceAccount`.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("name", Type::String, "Name of the subject.")
            .tag(3)
            .keeps_zero()
            .req(),
        f(
            "namespace",
            Type::String,
            "Namespace of a service account; empty for users and groups.",
        )
        .tag(4),
    ],
)
.atomic();
