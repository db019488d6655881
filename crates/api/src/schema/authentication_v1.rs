//! authentication.k8s.io: SelfSubjectReview (`kubectl auth whoami`; v1, and the v1beta1 and
//! v1alpha1 that kubectl 1.27 asks first), TokenReview, and TokenRequest, the body of the
//! `serviceaccounts/token` subresource (`kubectl create token`). None is stored: the server
//! fills `status` and answers. Field numbers: `k8s.io/api/authentication/v1/generated.proto`
//! (v1beta1 and v1alpha1 number SelfSubjectReview the same).

use super::{API_VERSION, KIND, METADATA, STRINGS, Type, TypeDef, f, obj};

/// A type name in authentication/v1.
macro_rules! authn_type {
    ($name:literal) => {
        concat!("io.k8s.api.authentication.v1.", $name)
    };
}

pub const SELF_SUBJECT_REVIEW: TypeDef = TypeDef::new(
    authn_type!("SelfSubjectReview"),
    "Who the server takes the caller to be; after impersonation, the impersonated user.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "status",
            obj!(SELF_SUBJECT_REVIEW_STATUS),
            "Filled in by the server with the caller's user attributes.",
        )
        .tag(2),
    ],
);

pub const SELF_SUBJECT_REVIEW_STATUS: TypeDef = TypeDef::new(
    authn_type!("SelfSubjectReviewStatus"),
    "The caller's user attributes, as authentication found them.",
    &[f(
        "userInfo",
        obj!(USER_INFO),
        "The user attributes of the caller.",
    )
    .tag(1)],
);

/// v1beta1's SelfSubjectReview: the same fields, its own type names.
pub const SELF_SUBJECT_REVIEW_V1BETA1: TypeDef = TypeDef::new(
    "io.k8s.api.authentication.v1beta1.SelfSubjectReview",
    "Who the server takes the caller to be; after impersonation, the impersonated user.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "status",
            obj!(SELF_SUBJECT_REVIEW_STATUS_V1BETA1),
            "Filled in by the server with the caller's user attributes.",
        )
        .tag(2),
    ],
);

pub const SELF_SUBJECT_REVIEW_STATUS_V1BETA1: TypeDef = TypeDef::new(
    "io.k8s.api.authentication.v1beta1.SelfSubjectReviewStatus",
    "The caller's user attributes, as authentication found them.",
    &[f(
        "userInfo",
        obj!(USER_INFO),
        "The user attributes of the caller.",
    )
    .tag(1)],
);

/// v1alpha1's SelfSubjectReview.
pub const SELF_SUBJECT_REVIEW_V1ALPHA1: TypeDef = TypeDef::new(
    "io.k8s.api.authentication.v1alpha1.SelfSubjectReview",
    "Who the server takes the caller to be; after impersonation, the impersonated user.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "status",
            obj!(SELF_SUBJECT_REVIEW_STATUS_V1ALPHA1),
            "Filled in by the server with the caller's user attributes.",
        )
        .tag(2),
    ],
);

pub const SELF_SUBJECT_REVIEW_STATUS_V1ALPHA1: TypeDef = TypeDef::new(
    "io.k8s.api.authentication.v1alpha1.SelfSubjectReviewStatus",
    "The caller's user attributes, as authentication found them.",
    &[f(
        "userInfo",
        obj!(USER_INFO),
        "The user attributes of the caller.",
    )
    .tag(1)],
);

pub const USER_INFO: TypeDef = TypeDef::new(
    authn_type!("UserInfo"),
    "A user as authentication decided it: name, uid, groups and extra attributes.",
    &[
        f(
            "extra",
            Type::Map(&STRINGS),
            "Further attributes the authenticator provided (scopes, credential ids).",
        )
        .tag(4),
        f("groups", STRINGS, "The groups the user belongs to.")
            .tag(3)
            .atomic(),
        f(
            "uid",
            Type::String,
            "A value that tells apart users of the same name over time.",
        )
        .tag(2),
        f(
            "username",
            Type::String,
            "The name that identifies the user among all active users.",
        )
        .tag(1),
    ],
);

pub const TOKEN_REVIEW: TypeDef = TypeDef::new(
    authn_type!("TokenReview"),
    "Asks the server to authenticate a token; the answer says who it belongs to.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(TOKEN_REVIEW_SPEC),
            "The token and the audiences it must be valid for.",
        )
        .tag(2)
        .req(),
        f(
            "status",
            obj!(TOKEN_REVIEW_STATUS),
            "Filled in by the server: whether the token is valid, and whose it is.",
        )
        .tag(3),
    ],
);

pub const TOKEN_REVIEW_SPEC: TypeDef = TypeDef::new(
    authn_type!("TokenReviewSpec"),
    "What to authenticate.",
    &[
        f(
            "audiences",
            STRINGS,
            "Audiences the token must be valid for; empty means the API server's own.",
        )
        .tag(2)
        .atomic(),
        f("token", Type::String, "The opaque bearer token.").tag(1),
    ],
);

pub const TOKEN_REVIEW_STATUS: TypeDef = TypeDef::new(
    authn_type!("TokenReviewStatus"),
    "The result of authenticating a token.",
    &[
        f(
            "audiences",
            STRINGS,
            "The audiences, among those asked for, that the token is valid for.",
        )
        .tag(4)
        .atomic(),
        f(
            "authenticated",
            Type::Boolean,
            "Whether the token is associated with a known user.",
        )
        .tag(1),
        f("error", Type::String, "Why the token could not be checked.").tag(3),
        f("user", obj!(USER_INFO), "The user the token belongs to.").tag(2),
    ],
);

pub const TOKEN_REQUEST: TypeDef = TypeDef::new(
    authn_type!("TokenRequest"),
    "Asks for a token of a ServiceAccount (the `serviceaccounts/token` subresource).",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(TOKEN_REQUEST_SPEC),
            "The token wanted: audiences, lifetime, the object it is bound to.",
        )
        .tag(2)
        .req(),
        f(
            "status",
            obj!(TOKEN_REQUEST_STATUS),
            "Filled in by the server: the token and when it expires.",
        )
        .tag(3),
    ],
);

pub const TOKEN_REQUEST_SPEC: TypeDef = TypeDef::new(
    authn_type!("TokenRequestSpec"),
    "The token wanted.",
    &[
        f(
            "audiences",
            STRINGS,
            "Who the token is for; a recipient must find itself here. Empty: the API server's audiences.",
        )
        .tag(1)
        .atomic()
        .req(),
        f(
            "boundObjectRef",
            obj!(BOUND_OBJECT_REFERENCE),
            "A Pod or Secret the token is bound to: it is valid only while that object exists.",
        )
        .tag(3),
        f(
            "expirationSeconds",
            Type::Int64,
            "Requested lifetime in seconds (at least 600; the server may shorten it).",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const TOKEN_REQUEST_STATUS: TypeDef = TypeDef::new(
    authn_type!("TokenRequestStatus"),
    "The issued token.",
    &[
        f("expirationTimestamp", Type::Time, "When the token expires.")
            .tag(2)
            .req(),
        f("token", Type::String, "The opaque bearer token.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const BOUND_OBJECT_REFERENCE: TypeDef = TypeDef::new(
    authn_type!("BoundObjectReference"),
    "The object a token is bound to.",
    &[
        f(
            "apiVersion",
            Type::String,
            "API version of the referent (`v1`).",
        )
        .tag(2),
        f("kind", Type::String, "`Pod` or `Secret`.").tag(1),
        f("name", Type::String, "Name of the referent.").tag(3),
        f("uid", Type::String, "UID of the referent.").tag(4),
    ],
);
