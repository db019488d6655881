//! Patch metadata of kubesim's kinds: for each field that a strategic merge patch treats
//! specially, how Kubernetes' Go types declare it. kube-apiserver reads the `patchStrategy`
//! and `patchMergeKey` struct tags (`k8s.io/api/<group>/<version>/types.go`) by reflection;
//! this is the same information as a table, one comment per field quoting the tag.
//!
//! Only fields whose own strategy or whose children's strategies matter are listed. Any other
//! field behaves as an untagged one: an object merges key by key, a list is replaced whole.
//! (kube-apiserver answers 500 for a field its struct does not have, when both the live value
//! and the patch are objects or lists; kubesim merges those as untagged, and validation
//! reports unknown fields.) Lists listed as [`Strategy::Atomic`] are untagged too; they are
//! listed to say so.
//!
//! `patchStrategy:"retainKeys"` (on `DeploymentSpec.strategy`, and with `merge` on
//! `PodSpec.volumes`) only tells clients to send a `$retainKeys` directive; the server applies
//! that directive wherever it appears, so the table records the merge part alone.

use crate::resources::Resource;

/// The fields of one Go struct that have patch metadata, or children that do.
pub type Fields = &'static [Field];

/// One field's patch metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON name.
    pub name: &'static str,
    pub strategy: Strategy,
    /// For an object, its fields; for a list, its items' fields.
    pub fields: Fields,
}

/// How a field merges: its `patchStrategy` and `patchMergeKey` tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// No `patchStrategy` tag: an object merges key by key, a list is replaced whole.
    Atomic,
    /// `patchStrategy:"merge"` on a list of scalars: the union, in order;
    /// `$deleteFromPrimitiveList/<field>` removes items.
    MergeScalars,
    /// `patchStrategy:"merge" patchMergeKey:"<key>"` on a list of objects: items with the same
    /// value of the key merge, others are added; `{"$patch": "delete", "<key>": …}` removes one.
    MergeByKey(&'static str),
}

impl Field {
    /// The merge key of a list of objects, if it merges.
    pub fn merge_key(&self) -> Option<&'static str> {
        match self.strategy {
            Strategy::MergeByKey(key) => Some(key),
            Strategy::Atomic | Strategy::MergeScalars => None,
        }
    }

    /// Whether a list merges with the live one rather than replacing it.
    pub fn merges(&self) -> bool {
        self.strategy != Strategy::Atomic
    }
}

/// An untagged field with untagged children.
pub static UNTAGGED: Field = atomic("");

/// The metadata of `name` among `fields`; [`UNTAGGED`] when it has none.
pub fn lookup(fields: Fields, name: &str) -> &'static Field {
    fields.iter().find(|f| f.name == name).unwrap_or(&UNTAGGED)
}

/// The top-level fields of a resource's objects; `None` for one kubesim has no metadata for
/// (kube-apiserver offers no strategic merge patch for custom resources).
pub fn fields_for(resource: &Resource) -> Option<Fields> {
    let fields = match (resource.group, resource.kind) {
        ("", "Pod") => POD,
        ("", "Service") => SERVICE,
        ("", "ServiceAccount") => SERVICE_ACCOUNT,
        ("", "Namespace") => NAMESPACE,
        ("", "Node") => NODE,
        ("", "ConfigMap" | "Secret" | "Event" | "LimitRange" | "ResourceQuota") => METADATA_ONLY,
        ("apps", "Deployment") => DEPLOYMENT,
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => ROLE,
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => ROLE_BINDING,
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => WEBHOOK_CONFIGURATION,
        ("flowcontrol.apiserver.k8s.io", "FlowSchema" | "PriorityLevelConfiguration") => {
            FLOWCONTROL
        }
        _ => return None,
    };
    Some(fields)
}

const fn atomic(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Atomic,
        fields: &[],
    }
}

const fn object(name: &'static str, fields: Fields) -> Field {
    Field {
        name,
        strategy: Strategy::Atomic,
        fields,
    }
}

const fn merge_scalars(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::MergeScalars,
        fields: &[],
    }
}

const fn merge_by(name: &'static str, key: &'static str, fields: Fields) -> Field {
    Field {
        name,
        strategy: Strategy::MergeByKey(key),
        fields,
    }
}

/// `metav1.ObjectMeta`.
const OBJECT_META: Fields = &[
    // Finalizers []string `patchStrategy:"merge"`
    merge_scalars("finalizers"),
    // OwnerReferences []OwnerReference `patchStrategy:"merge" patchMergeKey:"uid"`
    merge_by("ownerReferences", "uid", &[]),
    // ManagedFields []ManagedFieldsEntry: untagged.
    atomic("managedFields"),
];

const METADATA: Field = object("metadata", OBJECT_META);

/// Kinds whose other fields are all untagged (ConfigMap, Secret, Event, LimitRange,
/// ResourceQuota: `limits`, `scopes` and `matchExpressions` carry no patch strategy, so a
/// patch replaces them whole).
const METADATA_ONLY: Fields = &[METADATA];

/// `core/v1.Container`; `EphemeralContainerCommon` carries the same tags.
const CONTAINER: Fields = &[
    // Ports []ContainerPort `patchStrategy:"merge" patchMergeKey:"containerPort"`
    merge_by("ports", "containerPort", &[]),
    // EnvFrom []EnvFromSource: untagged.
    atomic("envFrom"),
    // Env []EnvVar `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("env", "name", &[]),
    // VolumeMounts []VolumeMount `patchStrategy:"merge" patchMergeKey:"mountPath"`
    merge_by("volumeMounts", "mountPath", &[]),
    // VolumeDevices []VolumeDevice `patchStrategy:"merge" patchMergeKey:"devicePath"`
    merge_by("volumeDevices", "devicePath", &[]),
    // ResizePolicy []ContainerResizePolicy: untagged (`+listType=atomic`).
    atomic("resizePolicy"),
];

/// `core/v1.PodSpec`.
const POD_SPEC: Fields = &[
    // Volumes []Volume `patchStrategy:"merge,retainKeys" patchMergeKey:"name"`
    merge_by("volumes", "name", &[]),
    // InitContainers []Container `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("initContainers", "name", CONTAINER),
    // Containers []Container `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("containers", "name", CONTAINER),
    // EphemeralContainers []EphemeralContainer `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("ephemeralContainers", "name", CONTAINER),
    // ImagePullSecrets []LocalObjectReference `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("imagePullSecrets", "name", &[]),
    // Tolerations []Toleration: untagged.
    atomic("tolerations"),
    // HostAliases []HostAlias `patchStrategy:"merge" patchMergeKey:"ip"`
    merge_by("hostAliases", "ip", &[]),
    // ReadinessGates []PodReadinessGate: untagged.
    atomic("readinessGates"),
    // TopologySpreadConstraints []TopologySpreadConstraint
    // `patchStrategy:"merge" patchMergeKey:"topologyKey"`
    merge_by("topologySpreadConstraints", "topologyKey", &[]),
    // SchedulingGates []PodSchedulingGate `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("schedulingGates", "name", &[]),
    // ResourceClaims []PodResourceClaim `patchStrategy:"merge,retainKeys" patchMergeKey:"name"`
    merge_by("resourceClaims", "name", &[]),
];

/// `core/v1.PodStatus`.
const POD_STATUS: Fields = &[
    // Conditions []PodCondition `patchStrategy:"merge" patchMergeKey:"type"`
    merge_by("conditions", "type", &[]),
    // HostIPs []HostIP `patchStrategy:"merge" patchMergeKey:"ip"`
    merge_by("hostIPs", "ip", &[]),
    // PodIPs []PodIP `patchStrategy:"merge" patchMergeKey:"ip"`
    merge_by("podIPs", "ip", &[]),
    // ContainerStatuses, InitContainerStatuses, EphemeralContainerStatuses: untagged.
    atomic("containerStatuses"),
    atomic("initContainerStatuses"),
    atomic("ephemeralContainerStatuses"),
    // ResourceClaimStatuses []PodResourceClaimStatus
    // `patchStrategy:"merge,retainKeys" patchMergeKey:"name"`
    merge_by("resourceClaimStatuses", "name", &[]),
];

const POD: Fields = &[
    METADATA,
    object("spec", POD_SPEC),
    object("status", POD_STATUS),
];

/// `core/v1.PodTemplateSpec`, in a Deployment's `spec.template`.
const POD_TEMPLATE_SPEC: Fields = &[METADATA, object("spec", POD_SPEC)];

/// `core/v1.Service`.
const SERVICE: Fields = &[
    METADATA,
    // ServiceSpec.Ports []ServicePort `patchStrategy:"merge" patchMergeKey:"port"`; the key
    // is the port alone, so a TCP and a UDP port with one number collide, as in Kubernetes.
    object("spec", &[merge_by("ports", "port", &[])]),
    // ServiceStatus.Conditions []metav1.Condition `patchStrategy:"merge" patchMergeKey:"type"`
    object("status", &[merge_by("conditions", "type", &[])]),
];

/// `core/v1.ServiceAccount`.
const SERVICE_ACCOUNT: Fields = &[
    METADATA,
    // Secrets []ObjectReference `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("secrets", "name", &[]),
    // ImagePullSecrets []LocalObjectReference: untagged here, unlike PodSpec's.
    atomic("imagePullSecrets"),
];

/// `core/v1.Namespace`.
const NAMESPACE: Fields = &[
    METADATA,
    // NamespaceSpec.Finalizers []FinalizerName: untagged, unlike metadata.finalizers.
    object("spec", &[atomic("finalizers")]),
    // NamespaceStatus.Conditions []NamespaceCondition `patchStrategy:"merge" patchMergeKey:"type"`
    object("status", &[merge_by("conditions", "type", &[])]),
];

/// `core/v1.Node`.
const NODE: Fields = &[
    METADATA,
    object(
        "spec",
        &[
            // PodCIDRs []string `patchStrategy:"merge"`
            merge_scalars("podCIDRs"),
            // Taints []Taint: untagged.
            atomic("taints"),
        ],
    ),
    object(
        "status",
        &[
            // Conditions []NodeCondition `patchStrategy:"merge" patchMergeKey:"type"`
            merge_by("conditions", "type", &[]),
            // Addresses []NodeAddress `patchStrategy:"merge" patchMergeKey:"type"`
            merge_by("addresses", "type", &[]),
            // Images, VolumesInUse, VolumesAttached: untagged.
            atomic("images"),
            atomic("volumesInUse"),
            atomic("volumesAttached"),
        ],
    ),
];

/// `apps/v1.Deployment`.
const DEPLOYMENT: Fields = &[
    METADATA,
    object(
        "spec",
        &[
            // Template PodTemplateSpec: untagged, its fields carry the pod's tags.
            object("template", POD_TEMPLATE_SPEC),
            // Strategy DeploymentStrategy `patchStrategy:"retainKeys"`: see the module doc.
            object("strategy", &[]),
        ],
    ),
    // DeploymentStatus.Conditions []DeploymentCondition
    // `patchStrategy:"merge" patchMergeKey:"type"`
    object("status", &[merge_by("conditions", "type", &[])]),
];

/// `rbac/v1.Role` and `ClusterRole`.
const ROLE: Fields = &[
    METADATA,
    // Rules []PolicyRule: untagged.
    atomic("rules"),
    // AggregationRule.ClusterRoleSelectors []metav1.LabelSelector: untagged.
    object("aggregationRule", &[atomic("clusterRoleSelectors")]),
];

/// `rbac/v1.RoleBinding` and `ClusterRoleBinding`.
const ROLE_BINDING: Fields = &[
    METADATA,
    // Subjects []Subject: untagged.
    atomic("subjects"),
];

/// `admissionregistration/v1.MutatingWebhook` and `ValidatingWebhook`.
const WEBHOOK: Fields = &[
    // Rules []RuleWithOperations: untagged.
    atomic("rules"),
    // MatchConditions []MatchCondition `patchStrategy:"merge" patchMergeKey:"name"`
    merge_by("matchConditions", "name", &[]),
];

/// `admissionregistration/v1.MutatingWebhookConfiguration` and
/// `ValidatingWebhookConfiguration`.
const WEBHOOK_CONFIGURATION: Fields = &[
    METADATA,
    // Webhooks []MutatingWebhook `patchStrategy:"merge" patchMergeKey:"name"` (and
    // []ValidatingWebhook, likewise)
    merge_by("webhooks", "name", WEBHOOK),
];

/// `flowcontrol/v1.FlowSchema` and `PriorityLevelConfiguration`: the spec's lists (`rules`,
/// `subjects`, the rule lists, `verbs`, ...) are untagged (`+listType=atomic` or `set`, no
/// patch strategy), so a patch replaces them whole; only the status conditions merge.
const FLOWCONTROL: Fields = &[
    METADATA,
    // Status.Conditions []FlowSchemaCondition `patchStrategy:"merge" patchMergeKey:"type"`
    // (and []PriorityLevelConfigurationCondition, likewise)
    object("status", &[merge_by("conditions", "type", &[])]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{RESOURCES, by_kind};

    /// Follows a path of field names from a kind's top level.
    fn field_at(group: &str, kind: &str, path: &[&str]) -> Field {
        let resource = by_kind(group, "v1", kind).expect("served kind");
        let mut fields = fields_for(resource).expect("has metadata");
        let mut field = UNTAGGED;
        for name in path {
            field = *lookup(fields, name);
            fields = field.fields;
        }
        field
    }

    #[test]
    fn every_served_kind_has_patch_metadata() {
        for resource in RESOURCES.iter().filter(|r| r.allows("patch")) {
            let fields = fields_for(resource).unwrap_or_else(|| panic!("{}", resource.kind));
            assert_eq!(lookup(fields, "metadata").fields, OBJECT_META);
        }
    }

    #[test]
    fn the_table_says_what_kubernetes_struct_tags_say() {
        let by = Strategy::MergeByKey;
        let cases: &[(&str, &str, &[&str], Strategy)] = &[
            ("", "Pod", &["spec", "containers"], by("name")),
            ("", "Pod", &["spec", "initContainers"], by("name")),
            ("", "Pod", &["spec", "ephemeralContainers"], by("name")),
            (
                "",
                "Pod",
                &["spec", "containers", "ports"],
                by("containerPort"),
            ),
            ("", "Pod", &["spec", "containers", "env"], by("name")),
            (
                "",
                "Pod",
                &["spec", "containers", "envFrom"],
                Strategy::Atomic,
            ),
            (
                "",
                "Pod",
                &["spec", "containers", "volumeMounts"],
                by("mountPath"),
            ),
            (
                "",
                "Pod",
                &["spec", "ephemeralContainers", "volumeDevices"],
                by("devicePath"),
            ),
            ("", "Pod", &["spec", "volumes"], by("name")),
            ("", "Pod", &["spec", "imagePullSecrets"], by("name")),
            ("", "Pod", &["spec", "tolerations"], Strategy::Atomic),
            ("", "Pod", &["spec", "hostAliases"], by("ip")),
            ("", "Pod", &["spec", "readinessGates"], Strategy::Atomic),
            ("", "Pod", &["spec", "nodeSelector"], Strategy::Atomic),
            ("", "Pod", &["status", "conditions"], by("type")),
            ("", "Node", &["status", "conditions"], by("type")),
            ("", "Node", &["status", "addresses"], by("type")),
            ("", "Node", &["spec", "podCIDRs"], Strategy::MergeScalars),
            ("", "Node", &["spec", "taints"], Strategy::Atomic),
            (
                "",
                "Pod",
                &["metadata", "finalizers"],
                Strategy::MergeScalars,
            ),
            ("", "Pod", &["metadata", "ownerReferences"], by("uid")),
            ("", "Service", &["spec", "ports"], by("port")),
            ("", "ServiceAccount", &["secrets"], by("name")),
            (
                "",
                "ServiceAccount",
                &["imagePullSecrets"],
                Strategy::Atomic,
            ),
            ("", "Namespace", &["spec", "finalizers"], Strategy::Atomic),
            (
                "apps",
                "Deployment",
                &["spec", "template", "spec", "containers", "env"],
                by("name"),
            ),
            (
                "apps",
                "Deployment",
                &["spec", "template", "metadata", "finalizers"],
                Strategy::MergeScalars,
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRole",
                &["rules"],
                Strategy::Atomic,
            ),
            (
                "rbac.authorization.k8s.io",
                "RoleBinding",
                &["subjects"],
                Strategy::Atomic,
            ),
            (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                &["webhooks"],
                by("name"),
            ),
            (
                "admissionregistration.k8s.io",
                "MutatingWebhookConfiguration",
                &["webhooks", "matchConditions"],
                by("name"),
            ),
            (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema",
                &["status", "conditions"],
                by("type"),
            ),
            (
                "flowcontrol.apiserver.k8s.io",
                "PriorityLevelConfiguration",
                &["status", "conditions"],
                by("type"),
            ),
            (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema",
                &["spec", "rules"],
                Strategy::Atomic,
            ),
        ];
        for (group, kind, path, strategy) in cases {
            assert_eq!(
                field_at(group, kind, path).strategy,
                *strategy,
                "{kind} {path:?}"
            );
        }
    }

    #[test]
    fn merge_keys_and_merging() {
        let containers = lookup(POD_SPEC, "containers");
        assert_eq!(containers.merge_key(), Some("name"));
        assert!(containers.merges());
        let finalizers = lookup(OBJECT_META, "finalizers");
        assert_eq!(finalizers.merge_key(), None);
        assert!(finalizers.merges());
        assert!(!lookup(POD_SPEC, "tolerations").merges());
        assert_eq!(lookup(POD_SPEC, "noSuchField"), &UNTAGGED);
    }
}
