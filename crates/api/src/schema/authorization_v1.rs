//! authorization.k8s.io/v1: the access reviews (`kubectl auth can-i`): SubjectAccessReview,
//! LocalSubjectAccessReview and SelfSubjectAccessReview ask whether someone may do something,
//! SelfSubjectRulesReview (`can-i --list`) what the caller may do in a namespace. None is
//! stored: the server fills `status` and answers. Field numbers:
//! `k8s.io/api/authorization/v1/generated.proto`.

use super::{API_VERSION, KIND, METADATA, STRINGS, Type, TypeDef, f, list, meta, obj};

/// A type name in authorization/v1.
macro_rules! authz_type {
    ($name:literal) => {
        concat!("io.k8s.api.authorization.v1.", $name)
    };
}

pub const SUBJECT_ACCESS_REVIEW: TypeDef = TypeDef::new(
    authz_type!("SubjectAccessReview"),
    "Asks whether a user or group may perform an action, in any namespace.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(SUBJECT_ACCESS_REVIEW_SPEC),
            "The subject and the action to check.",
        )
        .tag(2)
        .req(),
        f(
            "status",
            obj!(SUBJECT_ACCESS_REVIEW_STATUS),
            "Filled in by the server: whether the action is allowed.",
        )
        .tag(3),
    ],
);

pub const LOCAL_SUBJECT_ACCESS_REVIEW: TypeDef = TypeDef::new(
    authz_type!("LocalSubjectAccessReview"),
    "Asks whether a user or group may perform an action in this namespace.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(SUBJECT_ACCESS_REVIEW_SPEC),
            "The subject and the action; resourceAttributes.namespace must be this namespace.",
        )
        .tag(2)
        .req(),
        f(
            "status",
            obj!(SUBJECT_ACCESS_REVIEW_STATUS),
            "Filled in by the server: whether the action is allowed.",
        )
        .tag(3),
    ],
);

pub const SELF_SUBJECT_ACCESS_REVIEW: TypeDef = TypeDef::new(
    authz_type!("SelfSubjectAccessReview"),
    "Asks whether the caller may perform an action (`kubectl auth can-i`).",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(SELF_SUBJECT_ACCESS_REVIEW_SPEC),
            "The action to check; the subject is the caller.",
        )
        .tag(2)
        .req(),
        f(
            "status",
            obj!(SUBJECT_ACCESS_REVIEW_STATUS),
            "Filled in by the server: whether the action is allowed.",
        )
        .tag(3),
    ],
);

pub const SELF_SUBJECT_RULES_REVIEW: TypeDef = TypeDef::new(
    authz_type!("SelfSubjectRulesReview"),
    "Lists what the caller may do in a namespace (`kubectl auth can-i --list`); for display, not for decisions.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(SELF_SUBJECT_RULES_REVIEW_SPEC),
            "The namespace to list the rules of.",
        )
        .tag(2)
        .req(),
        f(
            "status",
            obj!(SUBJECT_RULES_REVIEW_STATUS),
            "Filled in by the server: the rules, and whether the list is complete.",
        )
        .tag(3),
    ],
);

pub const SUBJECT_ACCESS_REVIEW_SPEC: TypeDef = TypeDef::new(
    authz_type!("SubjectAccessReviewSpec"),
    "A subject and an action: exactly one of resourceAttributes and nonResourceAttributes.",
    &[
        f(
            "extra",
            Type::Map(&STRINGS),
            "The subject's extra attributes, as an authenticator would give them.",
        )
        .tag(5),
        f("groups", STRINGS, "The groups of the subject.")
            .tag(4)
            .atomic(),
        f(
            "nonResourceAttributes",
            obj!(NON_RESOURCE_ATTRIBUTES),
            "A request to a path that is not a resource.",
        )
        .tag(2),
        f(
            "resourceAttributes",
            obj!(RESOURCE_ATTRIBUTES),
            "A request for a resource.",
        )
        .tag(1),
        f("uid", Type::String, "The uid of the subject.").tag(6),
        f(
            "user",
            Type::String,
            "The user; with groups empty, a user of no group.",
        )
        .tag(3),
    ],
);

pub const SELF_SUBJECT_ACCESS_REVIEW_SPEC: TypeDef = TypeDef::new(
    authz_type!("SelfSubjectAccessReviewSpec"),
    "An action: exactly one of resourceAttributes and nonResourceAttributes.",
    &[
        f(
            "nonResourceAttributes",
            obj!(NON_RESOURCE_ATTRIBUTES),
            "A request to a path that is not a resource.",
        )
        .tag(2),
        f(
            "resourceAttributes",
            obj!(RESOURCE_ATTRIBUTES),
            "A request for a resource.",
        )
        .tag(1),
    ],
);

pub const RESOURCE_ATTRIBUTES: TypeDef = TypeDef::new(
    authz_type!("ResourceAttributes"),
    "The attributes of a resource request, as an authorizer sees them.",
    &[
        f(
            "fieldSelector",
            obj!(FIELD_SELECTOR_ATTRIBUTES),
            "The field selector of a list or watch.",
        )
        .tag(8),
        f("group", Type::String, "API group; `*` means all.").tag(3),
        f(
            "labelSelector",
            obj!(LABEL_SELECTOR_ATTRIBUTES),
            "The label selector of a list or watch.",
        )
        .tag(9),
        f(
            "name",
            Type::String,
            "Name of the object; empty means all (list, create).",
        )
        .tag(7),
        f(
            "namespace",
            Type::String,
            "Namespace of the request; empty means all namespaces for namespaced resources.",
        )
        .tag(1),
        f("resource", Type::String, "A resource type; `*` means all.").tag(5),
        f(
            "subresource",
            Type::String,
            "A subresource; `\"\"` means none.",
        )
        .tag(6),
        f(
            "verb",
            Type::String,
            "A verb (`get`, `list`, `watch`, `create`, ...); `*` means all.",
        )
        .tag(2),
        f("version", Type::String, "API version; `*` means all.").tag(4),
    ],
);

pub const FIELD_SELECTOR_ATTRIBUTES: TypeDef = TypeDef::new(
    authz_type!("FieldSelectorAttributes"),
    "A field selector, as text or as requirements (not both).",
    &[
        f(
            "rawSelector",
            Type::String,
            "The selector as a list or watch query sends it.",
        )
        .tag(1),
        f(
            "requirements",
            list!(meta::FIELD_SELECTOR_REQUIREMENT),
            "The selector as parsed requirements.",
        )
        .tag(2)
        .atomic(),
    ],
);

pub const LABEL_SELECTOR_ATTRIBUTES: TypeDef = TypeDef::new(
    authz_type!("LabelSelectorAttributes"),
    "A label selector, as text or as requirements (not both).",
    &[
        f(
            "rawSelector",
            Type::String,
            "The selector as a list or watch query sends it.",
        )
        .tag(1),
        f(
            "requirements",
            list!(meta::LABEL_SELECTOR_REQUIREMENT),
            "The selector as parsed requirements.",
        )
        .tag(2)
        .atomic(),
    ],
);

pub const NON_RESOURCE_ATTRIBUTES: TypeDef = TypeDef::new(
    authz_type!("NonResourceAttributes"),
    "The attributes of a request to a path that is not a resource.",
    &[
        f("path", Type::String, "The URL path (`/healthz`).").tag(1),
        f("verb", Type::String, "The lower-case HTTP method.").tag(2),
    ],
);

pub const SUBJECT_ACCESS_REVIEW_STATUS: TypeDef = TypeDef::new(
    authz_type!("SubjectAccessReviewStatus"),
    "The answer to an access review.",
    &[
        f("allowed", Type::Boolean, "Whether the action is allowed.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "denied",
            Type::Boolean,
            "Whether an authorizer denied the action outright; allowed and denied are never both true.",
        )
        .tag(4),
        f(
            "evaluationError",
            Type::String,
            "What went wrong while authorizing; an answer may still have been reached.",
        )
        .tag(3),
        f("reason", Type::String, "Why, if an authorizer said.").tag(2),
    ],
);

pub const SELF_SUBJECT_RULES_REVIEW_SPEC: TypeDef = TypeDef::new(
    authz_type!("SelfSubjectRulesReviewSpec"),
    "Where to list the caller's rules.",
    &[f(
        "namespace",
        Type::String,
        "The namespace to evaluate rules in.",
    )
    .tag(1)],
);

pub const SUBJECT_RULES_REVIEW_STATUS: TypeDef = TypeDef::new(
    authz_type!("SubjectRulesReviewStatus"),
    "The rules a subject has in a namespace.",
    &[
        f(
            "evaluationError",
            Type::String,
            "Why the list may be incomplete.",
        )
        .tag(4),
        f(
            "incomplete",
            Type::Boolean,
            "Whether an authorizer in the chain cannot list its rules, so there may be more.",
        )
        .tag(3)
        .keeps_zero()
        .req(),
        f(
            "nonResourceRules",
            list!(NON_RESOURCE_RULE),
            "What the subject may do on paths that are not resources.",
        )
        .tag(2)
        .atomic()
        .req(),
        f(
            "resourceRules",
            list!(RESOURCE_RULE),
            "What the subject may do on resources.",
        )
        .tag(1)
        .atomic()
        .req(),
    ],
);

pub const RESOURCE_RULE: TypeDef = TypeDef::new(
    authz_type!("ResourceRule"),
    "Verbs allowed on resources; `*` matches all.",
    &[
        f("apiGroups", STRINGS, "API groups of the resources.")
            .tag(2)
            .atomic(),
        f(
            "resourceNames",
            STRINGS,
            "Names the rule is limited to; empty means all.",
        )
        .tag(4)
        .atomic(),
        f(
            "resources",
            STRINGS,
            "Resources, with `/subresource` for subresources.",
        )
        .tag(3)
        .atomic(),
        f("verbs", STRINGS, "The verbs allowed.")
            .tag(1)
            .atomic()
            .req(),
    ],
);

pub const NON_RESOURCE_RULE: TypeDef = TypeDef::new(
    authz_type!("NonResourceRule"),
    "Verbs allowed on paths that are not resources.",
    &[
        f(
            "nonResourceURLs",
            STRINGS,
            "Paths, a trailing `*` matching the rest.",
        )
        .tag(2)
        .atomic(),
        f("verbs", STRINGS, "The verbs allowed.")
            .tag(1)
            .atomic()
            .req(),
    ],
);
