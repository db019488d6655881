//! core/v1's policy kinds for a namespace's resources: LimitRange (defaults and bounds for
//! containers, pods and claims) and ResourceQuota (hard limits on what a namespace may use,
//! with the usage the quota controller and admission keep in its status).
//!
//! Field numbers are those of `k8s.io/api/core/v1/generated.proto`.

use super::{
    API_VERSION, KIND, METADATA, RESOURCE_LIST, STRINGS, Type, TypeDef, core_type, f, list, obj,
};

pub const LIMIT_RANGE: TypeDef = TypeDef::new(
    core_type!("LimitRange"),
    "Resource limits for each kind of object in a namespace, enforced by the LimitRanger admission plugin.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f("spec", obj!(LIMIT_RANGE_SPEC), "The limits enforced.").tag(2),
    ],
);

pub const LIMIT_RANGE_SPEC: TypeDef = TypeDef::new(
    core_type!("LimitRangeSpec"),
    "The limits a LimitRange enforces, one item per kind of object.",
    &[f(
        "limits",
        list!(LIMIT_RANGE_ITEM),
        "The limits, at most one item per type.",
    )
    .tag(1)
    .atomic()
    .req()],
);

pub const LIMIT_RANGE_ITEM: TypeDef = TypeDef::new(
    core_type!("LimitRangeItem"),
    "Min, max, defaults and burst ratio of each resource for one kind of object.",
    &[
        f(
            "default",
            RESOURCE_LIST,
            "The limit a container gets for a resource it sets no limit for.",
        )
        .tag(4),
        f(
            "defaultRequest",
            RESOURCE_LIST,
            "The request a container gets for a resource it sets no request for.",
        )
        .tag(5),
        f("max", RESOURCE_LIST, "The most of each resource allowed.").tag(2),
        f(
            "maxLimitRequestRatio",
            RESOURCE_LIST,
            "The largest limit / request ratio allowed for each resource (its burst).",
        )
        .tag(6),
        f("min", RESOURCE_LIST, "The least of each resource allowed.").tag(3),
        f(
            "type",
            Type::String,
            "The kind of object limited: `Container`, `Pod` or `PersistentVolumeClaim`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const RESOURCE_QUOTA: TypeDef = TypeDef::new(
    core_type!("ResourceQuota"),
    "Hard limits on the aggregate resource use of a namespace, enforced at admission.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f("spec", obj!(RESOURCE_QUOTA_SPEC), "The hard limits wanted.").tag(2),
        f(
            "status",
            obj!(RESOURCE_QUOTA_STATUS),
            "The limits enforced and the current usage. Read-only.",
        )
        .tag(3),
    ],
);

pub const RESOURCE_QUOTA_SPEC: TypeDef = TypeDef::new(
    core_type!("ResourceQuotaSpec"),
    "The hard limits a quota enforces, and which objects it tracks.",
    &[
        f(
            "hard",
            RESOURCE_LIST,
            "The hard limit of each named resource (`pods`, `requests.cpu`, `count/deployments.apps`, ...).",
        )
        .tag(1),
        f(
            "scopeSelector",
            obj!(SCOPE_SELECTOR),
            "Scopes as expressions; an object must match them and `scopes` to be tracked.",
        )
        .tag(3),
        f(
            "scopes",
            STRINGS,
            "Filters every tracked object must match (`Terminating`, `BestEffort`, ...); all when empty.",
        )
        .tag(2)
        .atomic(),
    ],
);

pub const RESOURCE_QUOTA_STATUS: TypeDef = TypeDef::new(
    core_type!("ResourceQuotaStatus"),
    "The limits a quota enforces and what the namespace uses of them.",
    &[
        f(
            "hard",
            RESOURCE_LIST,
            "The hard limits enforced, copied from the spec by the quota controller.",
        )
        .tag(1),
        f(
            "used",
            RESOURCE_LIST,
            "The current usage of each resource in the namespace.",
        )
        .tag(2),
    ],
);

pub const SCOPE_SELECTOR: TypeDef = TypeDef::new(
    core_type!("ScopeSelector"),
    "The AND of scoped-resource selector requirements.",
    &[f(
        "matchExpressions",
        list!(SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
        "The requirements, by scope.",
    )
    .tag(1)
    .atomic()],
)
.atomic();

pub const SCOPED_RESOURCE_SELECTOR_REQUIREMENT: TypeDef = TypeDef::new(
    core_type!("ScopedResourceSelectorRequirement"),
    "A scope name, an operator and values: which objects a quota tracks.",
    &[
        f(
            "operator",
            Type::String,
            "`In`, `NotIn`, `Exists` or `DoesNotExist`.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "scopeName",
            Type::String,
            "The scope the requirement applies to (`PriorityClass`, `Terminating`, ...).",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "values",
            STRINGS,
            "Values for `In` and `NotIn`; empty for `Exists` and `DoesNotExist`.",
        )
        .tag(3)
        .atomic(),
    ],
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::protobuf::decode;
    use crate::resources::lookup;

    /// A length-delimited protobuf field.
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    /// One `map<string, Quantity>` entry.
    fn quantity_entry(number: u8, name: &str, quantity: &str) -> Vec<u8> {
        let value = field(1, quantity.as_bytes());
        field(
            number,
            &[field(1, name.as_bytes()), field(2, &value)].concat(),
        )
    }

    /// kubectl's body: the `k8s\0` magic and a `runtime.Unknown` around the object.
    fn body(kind: &str, object: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, b"v1"), field(2, kind.as_bytes())].concat();
        let unknown = [field(1, &type_meta), field(2, object)].concat();
        [b"k8s\0".to_vec(), unknown].concat()
    }

    #[test]
    fn kubectls_protobuf_bodies_decode() {
        let spec = [
            quantity_entry(1, "pods", "2"),
            field(2, b"NotTerminating"),
            field(
                3,
                &field(
                    1,
                    &[field(1, b"PriorityClass"), field(2, b"Exists")].concat(),
                ),
            ),
        ]
        .concat();
        let quota = [field(1, &field(1, b"q")), field(2, &spec), field(3, &[])].concat();
        let decoded = decode(
            lookup("", "v1", "resourcequotas").unwrap(),
            &body("ResourceQuota", &quota),
        )
        .unwrap();
        assert_eq!(
            decoded["spec"],
            json!({"hard": {"pods": "2"}, "scopes": ["NotTerminating"],
                   "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "Exists"}]}})
        );
        let item = [
            field(1, b"Container"),
            quantity_entry(2, "cpu", "1"),
            quantity_entry(5, "memory", "64Mi"),
        ]
        .concat();
        let limits = [field(1, &field(1, b"l")), field(2, &field(1, &item))].concat();
        let decoded = decode(
            lookup("", "v1", "limitranges").unwrap(),
            &body("LimitRange", &limits),
        )
        .unwrap();
        assert_eq!(
            decoded["spec"],
            json!({"limits": [{"type": "Container", "max": {"cpu": "1"}, "defaultRequest": {"memory": "64Mi"}}]})
        );
    }
}
