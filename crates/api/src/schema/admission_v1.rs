//! admissionregistration.k8s.io/v1: mutating and validating webhook configurations.

use super::{API_VERSION, KIND, METADATA, STRINGS, Type, TypeDef, f, list, meta, obj};

/// A type name in admissionregistration/v1.
macro_rules! admission_type {
    ($name:literal) => {
        concat!("io.k8s.api.admissionregistration.v1.", $name)
    };
}

pub const MUTATING_WEBHOOK_CONFIGURATION: TypeDef = TypeDef::new(
    admission_type!("MutatingWebhookConfiguration"),
    "Admission webhooks that may change an object before it is stored.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "webhooks",
            list!(MUTATING_WEBHOOK),
            "The webhooks, with the requests each applies to.",
        )
        .tag(2)
        .keyed(&["name"]),
    ],
);

pub const VALIDATING_WEBHOOK_CONFIGURATION: TypeDef = TypeDef::new(
    admission_type!("ValidatingWebhookConfiguration"),
    "Admission webhooks that may accept or reject an object without changing it.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "webhooks",
            list!(VALIDATING_WEBHOOK),
            "The webhooks, with the requests each applies to.",
        )
        .tag(2)
        .keyed(&["name"]),
    ],
);

pub const MUTATING_WEBHOOK: TypeDef = TypeDef::new(
    admission_type!("MutatingWebhook"),
    "One mutating admission webhook and the requests it is called for.",
    &[
        f(
            "admissionReviewVersions",
            STRINGS,
            "AdmissionReview versions the webhook accepts, preferred first (`v1`).",
        ).tag(8)
        .req()
        .atomic(),
        f(
            "clientConfig",
            obj!(WEBHOOK_CLIENT_CONFIG),
            "How to reach the webhook.",
        ).tag(2)
        .req(),
        f(
            "failurePolicy",
            Type::String,
            "`Fail` (default) or `Ignore` when the call fails.",
        ).tag(4).keeps_zero(),
        f(
            "matchConditions",
            list!(MATCH_CONDITION),
            "CEL conditions that must all hold for the webhook to be called.",
        ).tag(12)
        .keyed(&["name"]),
        f(
            "matchPolicy",
            Type::String,
            "`Equivalent` (default) also matches other versions of a rule's resources; `Exact` does not.",
        ).tag(9).keeps_zero(),
        f(
            "name",
            Type::String,
            "Fully qualified name of the webhook (`imagepolicy.example.com`).",
        ).tag(1).keeps_zero()
        .req(),
        f(
            "namespaceSelector",
            obj!(meta::LABEL_SELECTOR),
            "Labels the object's namespace must have; default all.",
        ).tag(5),
        f(
            "objectSelector",
            obj!(meta::LABEL_SELECTOR),
            "Labels the object (old or new) must have; default all.",
        ).tag(11),
        f(
            "reinvocationPolicy",
            Type::String,
            "`Never` (default) or `IfNeeded`: call again if later webhooks change the object.",
        ).tag(10).keeps_zero(),
        f(
            "rules",
            list!(RULE_WITH_OPERATIONS),
            "The operations on resources the webhook is called for.",
        ).tag(3)
        .atomic(),
        f(
            "sideEffects",
            Type::String,
            "`None` or `NoneOnDryRun`; others are rejected for dry-run requests.",
        ).tag(6).keeps_zero()
        .req(),
        f(
            "timeoutSeconds",
            Type::Int32,
            "Seconds to wait for the webhook, 1-30. Default 10.",
        ).tag(7).keeps_zero(),
    ],
);

pub const VALIDATING_WEBHOOK: TypeDef = TypeDef::new(
    admission_type!("ValidatingWebhook"),
    "One validating admission webhook and the requests it is called for.",
    &[
        f(
            "admissionReviewVersions",
            STRINGS,
            "AdmissionReview versions the webhook accepts, preferred first (`v1`).",
        ).tag(8)
        .req()
        .atomic(),
        f(
            "clientConfig",
            obj!(WEBHOOK_CLIENT_CONFIG),
            "How to reach the webhook.",
        ).tag(2)
        .req(),
        f(
            "failurePolicy",
            Type::String,
            "`Fail` (default) or `Ignore` when the call fails.",
        ).tag(4).keeps_zero(),
        f(
            "matchConditions",
            list!(MATCH_CONDITION),
            "CEL conditions that must all hold for the webhook to be called.",
        ).tag(11)
        .keyed(&["name"]),
        f(
            "matchPolicy",
            Type::String,
            "`Equivalent` (default) also matches other versions of a rule's resources; `Exact` does not.",
        ).tag(9).keeps_zero(),
        f(
            "name",
            Type::String,
            "Fully qualified name of the webhook (`imagepolicy.example.com`).",
        ).tag(1).keeps_zero()
        .req(),
        f(
            "namespaceSelector",
            obj!(meta::LABEL_SELECTOR),
            "Labels the object's namespace must have; default all.",
        ).tag(5),
        f(
            "objectSelector",
            obj!(meta::LABEL_SELECTOR),
            "Labels the object (old or new) must have; default all.",
        ).tag(10),
        f(
            "rules",
            list!(RULE_WITH_OPERATIONS),
            "The operations on resources the webhook is called for.",
        ).tag(3)
        .atomic(),
        f(
            "sideEffects",
            Type::String,
            "`None` or `NoneOnDryRun`; others are rejected for dry-run requests.",
        ).tag(6).keeps_zero()
        .req(),
        f(
            "timeoutSeconds",
            Type::Int32,
            "Seconds to wait for the webhook, 1-30. Default 10.",
        ).tag(7).keeps_zero(),
    ],
);

pub const WEBHOOK_CLIENT_CONFIG: TypeDef = TypeDef::new(
    admission_type!("WebhookClientConfig"),
    "How to reach a webhook over TLS: a URL or a service, and the CA to trust.",
    &[
        f(
            "caBundle",
            Type::Bytes,
            "PEM CA bundle to verify the webhook's serving certificate; default the system roots.",
        )
        .tag(2),
        f(
            "service",
            obj!(SERVICE_REFERENCE),
            "A service in the cluster that serves the webhook.",
        )
        .tag(1),
        f(
            "url",
            Type::String,
            "`https://host[:port]/path` of the webhook, without user info, query or fragment.",
        )
        .tag(3)
        .keeps_zero(),
    ],
);

pub const SERVICE_REFERENCE: TypeDef = TypeDef::new(
    admission_type!("ServiceReference"),
    "A service that serves a webhook.",
    &[
        f("name", Type::String, "Name of the service.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("namespace", Type::String, "Namespace of the service.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("path", Type::String, "URL path requests are sent to.")
            .tag(3)
            .keeps_zero(),
        f(
            "port",
            Type::Int32,
            "Port of the service, 1-65535. Default 443.",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const MATCH_CONDITION: TypeDef = TypeDef::new(
    admission_type!("MatchCondition"),
    "A CEL expression a request must satisfy for the webhook to be called.",
    &[
        f(
            "expression",
            Type::String,
            "The CEL expression; it sees object, oldObject, request and authorizer.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "name",
            Type::String,
            "Identifies the condition in logs and errors.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const RULE_WITH_OPERATIONS: TypeDef = TypeDef::new(
    admission_type!("RuleWithOperations"),
    "Operations on resources of API groups and versions; `*` matches all.",
    &[
        f("apiGroups", STRINGS, "API groups; `\"\"` is core.")
            .tag_in(2, 1)
            .atomic(),
        f("apiVersions", STRINGS, "API versions.")
            .tag_in(2, 2)
            .atomic(),
        f(
            "operations",
            STRINGS,
            "`CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.",
        )
        .tag(1)
        .atomic(),
        f(
            "resources",
            STRINGS,
            "Resources, with `/subresource` (`pods/status`, `*/scale`).",
        )
        .tag_in(2, 3)
        .atomic(),
        f(
            "scope",
            Type::String,
            "`Cluster`, `Namespaced` or `*` (default).",
        )
        .tag_in(2, 4)
        .keeps_zero(),
    ],
);
