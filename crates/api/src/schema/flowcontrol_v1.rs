//! flowcontrol.apiserver.k8s.io/v1: API Priority and Fairness. A FlowSchema sorts requests
//! (by subject, verb and resource) into flows and names the priority level that serves them;
//! a PriorityLevelConfiguration says how much of the server's concurrency a level gets and
//! whether requests over it queue or are rejected.
//!
//! Field numbers are those of `k8s.io/api/flowcontrol/v1/generated.proto`. `keeps_zero` marks
//! the fields Go holds by pointer (`nominalConcurrencyShares`, `lendablePercent`,
//! `borrowingLimitPercent`) or writes without `omitempty` (`matchingPrecedence`, the queuing
//! numbers, the union discriminators and subject names).

use super::{API_VERSION, KIND, METADATA, STRINGS, Type, TypeDef, f, list, obj};

/// A type name in flowcontrol/v1.
macro_rules! flowcontrol_type {
    ($name:literal) => {
        concat!("io.k8s.api.flowcontrol.v1.", $name)
    };
}

// ---------------------------------------------------------------------------------------------
// FlowSchema

pub const FLOW_SCHEMA: TypeDef = TypeDef::new(
    flowcontrol_type!("FlowSchema"),
    "Which requests form which flows, and the priority level that serves them.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(FLOW_SCHEMA_SPEC),
            "What the schema matches and where it sends it.",
        )
        .tag(2),
        f(
            "status",
            obj!(FLOW_SCHEMA_STATUS),
            "The schema's conditions, kept by the API server.",
        )
        .tag(3),
    ],
);

pub const FLOW_SCHEMA_SPEC: TypeDef = TypeDef::new(
    flowcontrol_type!("FlowSchemaSpec"),
    "The priority level, precedence, flow distinguisher and rules of a FlowSchema.",
    &[
        f(
            "distinguisherMethod",
            obj!(FLOW_DISTINGUISHER_METHOD),
            "How matching requests are split into flows; unset puts them all in one flow.",
        )
        .tag(3),
        f(
            "matchingPrecedence",
            Type::Int32,
            "1 to 10000; among matching schemas the lowest wins. Defaults to 1000.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "priorityLevelConfiguration",
            obj!(PRIORITY_LEVEL_CONFIGURATION_REFERENCE),
            "The priority level that serves matching requests.",
        )
        .tag(1)
        .req(),
        f(
            "rules",
            list!(POLICY_RULES_WITH_SUBJECTS),
            "A request matches if any rule matches it; none match when empty.",
        )
        .tag(4)
        .atomic(),
    ],
);

pub const FLOW_DISTINGUISHER_METHOD: TypeDef = TypeDef::new(
    flowcontrol_type!("FlowDistinguisherMethod"),
    "How a request's flow is told apart within its schema.",
    &[f("type", Type::String, "`ByUser` or `ByNamespace`.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const PRIORITY_LEVEL_CONFIGURATION_REFERENCE: TypeDef = TypeDef::new(
    flowcontrol_type!("PriorityLevelConfigurationReference"),
    "A PriorityLevelConfiguration, by name.",
    &[f("name", Type::String, "The priority level's name.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const POLICY_RULES_WITH_SUBJECTS: TypeDef = TypeDef::new(
    flowcontrol_type!("PolicyRulesWithSubjects"),
    "Matches a request when a subject and a resource or non-resource rule both match it.",
    &[
        f(
            "nonResourceRules",
            list!(NON_RESOURCE_POLICY_RULE),
            "Rules on verbs and non-resource URLs.",
        )
        .tag(3)
        .atomic(),
        f(
            "resourceRules",
            list!(RESOURCE_POLICY_RULE),
            "Rules on verbs and resources; this or `nonResourceRules` must be non-empty.",
        )
        .tag(2)
        .atomic(),
        f(
            "subjects",
            list!(SUBJECT),
            "The users, groups or service accounts the rule applies to; at least one.",
        )
        .tag(1)
        .atomic()
        .req(),
    ],
);

pub const SUBJECT: TypeDef = TypeDef::new(
    flowcontrol_type!("Subject"),
    "Who made a request: a user, a group or a service account.",
    &[
        f("group", obj!(GROUP_SUBJECT), "The group, for kind `Group`.").tag(3),
        f(
            "kind",
            Type::String,
            "`User`, `Group` or `ServiceAccount`: which of the other fields is set.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "serviceAccount",
            obj!(SERVICE_ACCOUNT_SUBJECT),
            "The service account, for kind `ServiceAccount`.",
        )
        .tag(4),
        f("user", obj!(USER_SUBJECT), "The user, for kind `User`.").tag(2),
    ],
);

pub const USER_SUBJECT: TypeDef = TypeDef::new(
    flowcontrol_type!("UserSubject"),
    "A user, by name.",
    &[f(
        "name",
        Type::String,
        "The user name, or `*` for every user.",
    )
    .tag(1)
    .keeps_zero()
    .req()],
);

pub const GROUP_SUBJECT: TypeDef = TypeDef::new(
    flowcontrol_type!("GroupSubject"),
    "A user group, by name.",
    &[f(
        "name",
        Type::String,
        "The group name (`system:authenticated`, ...), or `*` for every group.",
    )
    .tag(1)
    .keeps_zero()
    .req()],
);

pub const SERVICE_ACCOUNT_SUBJECT: TypeDef = TypeDef::new(
    flowcontrol_type!("ServiceAccountSubject"),
    "A service account, by namespace and name.",
    &[
        f(
            "name",
            Type::String,
            "The service account's name, or `*` for all in the namespace.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "namespace",
            Type::String,
            "The service account's namespace.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const RESOURCE_POLICY_RULE: TypeDef = TypeDef::new(
    flowcontrol_type!("ResourcePolicyRule"),
    "Matches resource requests by verb, API group, resource and namespace.",
    &[
        f(
            "apiGroups",
            STRINGS,
            "API groups matched; `*` alone matches all.",
        )
        .tag(2)
        .set()
        .req(),
        f(
            "clusterScope",
            Type::Boolean,
            "Whether requests without a namespace (cluster-scoped, or across namespaces) match.",
        )
        .tag(4),
        f(
            "namespaces",
            STRINGS,
            "Namespaces matched; `*` matches any. May be empty only with `clusterScope`.",
        )
        .tag(5)
        .set(),
        f(
            "resources",
            STRINGS,
            "Resources matched, with subresources (`nodes/status`); `*` alone matches all.",
        )
        .tag(3)
        .set()
        .req(),
        f("verbs", STRINGS, "Verbs matched; `*` alone matches all.")
            .tag(1)
            .set()
            .req(),
    ],
);

pub const NON_RESOURCE_POLICY_RULE: TypeDef = TypeDef::new(
    flowcontrol_type!("NonResourcePolicyRule"),
    "Matches non-resource requests by verb and URL.",
    &[
        f(
            "nonResourceURLs",
            STRINGS,
            "URL prefixes (`/healthz`, `/healthz/*`); `*` alone matches all.",
        )
        .tag(6)
        .set()
        .req(),
        f("verbs", STRINGS, "Verbs matched; `*` alone matches all.")
            .tag(1)
            .set()
            .req(),
    ],
);

pub const FLOW_SCHEMA_STATUS: TypeDef = TypeDef::new(
    flowcontrol_type!("FlowSchemaStatus"),
    "The current state of a FlowSchema.",
    &[f(
        "conditions",
        list!(FLOW_SCHEMA_CONDITION),
        "Conditions (`Dangling`: the priority level does not exist).",
    )
    .tag(1)
    .keyed(&["type"])],
);

pub const FLOW_SCHEMA_CONDITION: TypeDef = TypeDef::new(
    flowcontrol_type!("FlowSchemaCondition"),
    "One condition of a FlowSchema.",
    &[
        f(
            "lastTransitionTime",
            Type::Time,
            "When the status last changed.",
        )
        .tag(3),
        f("message", Type::String, "Details of the last transition.").tag(5),
        f(
            "reason",
            Type::String,
            "One CamelCase word for the last transition.",
        )
        .tag(4),
        f("status", Type::String, "`True`, `False` or `Unknown`.").tag(2),
        f("type", Type::String, "The condition's type.").tag(1),
    ],
);

// ---------------------------------------------------------------------------------------------
// PriorityLevelConfiguration

pub const PRIORITY_LEVEL_CONFIGURATION: TypeDef = TypeDef::new(
    flowcontrol_type!("PriorityLevelConfiguration"),
    "A priority level: its share of the server's concurrency and what happens past it.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(PRIORITY_LEVEL_CONFIGURATION_SPEC),
            "How requests of this level are limited.",
        )
        .tag(2),
        f(
            "status",
            obj!(PRIORITY_LEVEL_CONFIGURATION_STATUS),
            "The level's conditions, kept by the API server.",
        )
        .tag(3),
    ],
);

pub const PRIORITY_LEVEL_CONFIGURATION_SPEC: TypeDef = TypeDef::new(
    flowcontrol_type!("PriorityLevelConfigurationSpec"),
    "Whether a priority level is limited, and how.",
    &[
        f(
            "exempt",
            obj!(EXEMPT_PRIORITY_LEVEL_CONFIGURATION),
            "Settings of an `Exempt` level; must be unset for a `Limited` one.",
        )
        .tag(3),
        f(
            "limited",
            obj!(LIMITED_PRIORITY_LEVEL_CONFIGURATION),
            "Settings of a `Limited` level; required exactly when the type is `Limited`.",
        )
        .tag(2),
        f(
            "type",
            Type::String,
            "`Exempt` (never limited nor queued) or `Limited`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const LIMITED_PRIORITY_LEVEL_CONFIGURATION: TypeDef = TypeDef::new(
    flowcontrol_type!("LimitedPriorityLevelConfiguration"),
    "How a limited level's requests are limited and what happens to those over the limit.",
    &[
        f(
            "borrowingLimitPercent",
            Type::Int32,
            "How many seats the level may borrow, as a percentage of its nominal limit; unlimited when unset.",
        )
        .tag(4)
        .keeps_zero(),
        f(
            "lendablePercent",
            Type::Int32,
            "The percentage (0 to 100) of the level's nominal limit others may borrow. Defaults to 0.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "limitResponse",
            obj!(LIMIT_RESPONSE),
            "What to do with requests that cannot run now.",
        )
        .tag(2),
        f(
            "nominalConcurrencyShares",
            Type::Int32,
            "The level's share of the server's concurrency limit. Defaults to 30; 0 is allowed.",
        )
        .tag(1)
        .keeps_zero(),
    ],
);

pub const LIMIT_RESPONSE: TypeDef = TypeDef::new(
    flowcontrol_type!("LimitResponse"),
    "What a limited level does with a request it cannot run now.",
    &[
        f(
            "queuing",
            obj!(QUEUING_CONFIGURATION),
            "The queues, for type `Queue`; must be unset otherwise.",
        )
        .tag(2),
        f(
            "type",
            Type::String,
            "`Queue` (wait in a queue up to a limit) or `Reject`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const QUEUING_CONFIGURATION: TypeDef = TypeDef::new(
    flowcontrol_type!("QueuingConfiguration"),
    "The queues of a level and how flows are shuffle-sharded into them.",
    &[
        f(
            "handSize",
            Type::Int32,
            "How many queues a flow is dealt, at most `queues`. Defaults to 8.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "queueLengthLimit",
            Type::Int32,
            "The most requests waiting in one queue; positive. Defaults to 50.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "queues",
            Type::Int32,
            "The number of queues; positive. Defaults to 64.",
        )
        .tag(1)
        .keeps_zero(),
    ],
);

pub const EXEMPT_PRIORITY_LEVEL_CONFIGURATION: TypeDef = TypeDef::new(
    flowcontrol_type!("ExemptPriorityLevelConfiguration"),
    "The settings an exempt level has: its share of concurrency, for others to borrow.",
    &[
        f(
            "lendablePercent",
            Type::Int32,
            "The percentage (0 to 100) of the level's nominal limit others may borrow. Defaults to 0.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "nominalConcurrencyShares",
            Type::Int32,
            "The level's share of the server's concurrency limit. Defaults to 0.",
        )
        .tag(1)
        .keeps_zero(),
    ],
);

pub const PRIORITY_LEVEL_CONFIGURATION_STATUS: TypeDef = TypeDef::new(
    flowcontrol_type!("PriorityLevelConfigurationStatus"),
    "The current state of a priority level.",
    &[f(
        "conditions",
        list!(PRIORITY_LEVEL_CONFIGURATION_CONDITION),
        "The level's conditions.",
    )
    .tag(1)
    .keyed(&["type"])],
);

pub const PRIORITY_LEVEL_CONFIGURATION_CONDITION: TypeDef = TypeDef::new(
    flowcontrol_type!("PriorityLevelConfigurationCondition"),
    "One condition of a priority level.",
    &[
        f(
            "lastTransitionTime",
            Type::Time,
            "When the status last changed.",
        )
        .tag(3),
        f("message", Type::String, "Details of the last transition.").tag(5),
        f(
            "reason",
            Type::String,
            "One CamelCase word for the last transition.",
        )
        .tag(4),
        f("status", Type::String, "`True`, `False` or `Unknown`.").tag(2),
        f("type", Type::String, "The condition's type.").tag(1),
    ],
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::protobuf::decode;
    use crate::resources::lookup;
    use crate::schema::{prune, unknown_fields};

    const GROUP: &str = "flowcontrol.apiserver.k8s.io";

    /// A length-delimited protobuf field (short payloads only).
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    /// A varint protobuf field (values below 128 only).
    fn small_int(number: u8, value: u8) -> Vec<u8> {
        assert!(value < 128);
        vec![number << 3, value]
    }

    /// kubectl's body: the `k8s\0` magic and a `runtime.Unknown` around the object.
    fn body(kind: &str, object: &[u8]) -> Vec<u8> {
        let api_version = format!("{GROUP}/v1");
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        let unknown = [field(1, &type_meta), field(2, object)].concat();
        [b"k8s\0".to_vec(), unknown].concat()
    }

    #[test]
    fn protobuf_bodies_decode_with_pointer_zeros_kept() {
        let queuing = [small_int(1, 16), small_int(2, 4), small_int(3, 0)].concat();
        let limit_response = [field(1, b"Queue"), field(2, &queuing)].concat();
        let limited = [small_int(1, 0), field(2, &limit_response), small_int(3, 0)].concat();
        let spec = [field(1, b"Limited"), field(2, &limited)].concat();
        let level = [field(1, &field(1, b"jail")), field(2, &spec)].concat();
        let plcs = lookup(GROUP, "v1", "prioritylevelconfigurations").unwrap();
        let decoded = decode(plcs, &body("PriorityLevelConfiguration", &level)).unwrap();
        // `nominalConcurrencyShares: 0` is a jail, not "use the default": it must survive.
        assert_eq!(
            decoded["spec"],
            json!({"type": "Limited", "limited": {
                "nominalConcurrencyShares": 0, "lendablePercent": 0,
                "limitResponse": {"type": "Queue",
                    "queuing": {"queues": 16, "handSize": 4, "queueLengthLimit": 0}}}})
        );

        let group = [field(1, b"Group"), field(3, &field(1, b"system:nodes"))].concat();
        let rule = [field(1, b"get"), field(6, b"/healthz")].concat();
        let rules = [field(1, &group), field(3, &rule)].concat();
        let spec = [
            field(1, &field(1, b"system")),
            small_int(2, 100),
            field(3, &field(1, b"ByUser")),
            field(4, &rules),
        ]
        .concat();
        let schema = [field(1, &field(1, b"probes")), field(2, &spec)].concat();
        let schemas = lookup(GROUP, "v1", "flowschemas").unwrap();
        let decoded = decode(schemas, &body("FlowSchema", &schema)).unwrap();
        assert_eq!(
            decoded["spec"],
            json!({"priorityLevelConfiguration": {"name": "system"}, "matchingPrecedence": 100,
                   "distinguisherMethod": {"type": "ByUser"},
                   "rules": [{"subjects": [{"kind": "Group", "group": {"name": "system:nodes"}}],
                              "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}]})
        );
    }

    #[test]
    fn unknown_fields_are_named_and_pruned() {
        let schemas = lookup(GROUP, "v1", "flowschemas").unwrap();
        let mut schema = json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": "fs"},
            "spec": {"priorityLevelConfiguration": {"name": "pl", "uid": "x"},
                     "matchingPrecedence": 0,
                     "rules": [{"subjects": [{"kind": "User", "user": {"name": "a"}, "role": "b"}],
                                "resourceRules": [{"verbs": ["get"], "apiGroups": [""],
                                                   "resources": ["pods"], "clusterScope": false}]}]}});
        let found = unknown_fields(schemas, &schema);
        assert_eq!(
            found,
            [
                r#"unknown field "spec.priorityLevelConfiguration.uid""#,
                r#"unknown field "spec.rules[0].subjects[0].role""#
            ]
        );
        prune(schemas, &mut schema);
        assert_eq!(
            schema["spec"],
            json!({"priorityLevelConfiguration": {"name": "pl"}, "matchingPrecedence": 0,
                   "rules": [{"subjects": [{"kind": "User", "user": {"name": "a"}}],
                              "resourceRules": [{"verbs": ["get"], "apiGroups": [""],
                                                 "resources": ["pods"]}]}]})
        );
    }
}
