//! `meta/v1` (`k8s.io/apimachinery/pkg/apis/meta/v1`): the metadata every object carries, label
//! selectors and conditions that many kinds share, the bodies of list, delete, patch and error
//! answers, and the discovery and version documents.

use super::{
    API_VERSION, Field, KIND, STRING_MAP, STRINGS, Type, TypeDef, f, list, meta_type, obj,
};

pub const OBJECT_META: TypeDef = TypeDef::new(
    meta_type!("ObjectMeta"),
    "Metadata every persisted object has: its identity, labels and annotations, and what the server manages.",
    &[
        f("annotations", STRING_MAP, "Unstructured key/value data that tools and controllers attach; not used for selection.").tag(12),
        f("creationTimestamp", Type::Time, "When the server created the object (UTC). Set by the server, read-only.").tag(8),
        f("deletionGracePeriodSeconds", Type::Int64, "Seconds the object has left to terminate gracefully once deletion was requested. Read-only.").tag(10).keeps_zero(),
        f("deletionTimestamp", Type::Time, "When the object will be deleted, set by the server once a graceful deletion is requested. Read-only.").tag(9),
        f("finalizers", STRINGS, "Conditions that must be cleared before the object is removed from storage; each is a qualified name.").tag(14)
            .set()
            .strategy("merge"),
        f("generateName", Type::String, "Prefix the server uses to make a unique name when `name` is empty.").tag(2),
        f("generation", Type::Int64, "Sequence number of the desired state, bumped by the server on spec changes. Read-only.").tag(7),
        f("labels", STRING_MAP, "Key/value pairs that label selectors match, to organize and select objects.").tag(11),
        f("managedFields", list!(MANAGED_FIELDS_ENTRY), "Which manager owns which fields, for server-side apply. Set by the server.").tag(17),
        f("name", Type::String, "Unique name within the namespace; required on create unless generateName is set. Cannot be updated.").tag(1),
        f("namespace", Type::String, "The namespace the object lives in; empty for cluster-scoped kinds. Must be a DNS label.").tag(3),
        f("ownerReferences", list!(OWNER_REFERENCE), "Objects this one depends on; when all owners are deleted, the garbage collector deletes it.").tag(13)
            .keyed(&["uid"]),
        f("resourceVersion", Type::String, "Opaque version of the object, for optimistic concurrency and watches. Set by the server.").tag(6),
        f("selfLink", Type::String, "Deprecated, never set: a URL for the object.").tag(4),
        f("uid", Type::String, "Unique identity in time and space, set by the server on create. Read-only.").tag(5),
    ],
);

pub const MANAGED_FIELDS_ENTRY: TypeDef = TypeDef::new(
    meta_type!("ManagedFieldsEntry"),
    "The fields one manager owns and the operation that set them.",
    &[
        f(
            "apiVersion",
            Type::String,
            "The version of the resource the fields are written in.",
        )
        .tag(3),
        f(
            "fieldsType",
            Type::String,
            "The format of fieldsV1; only `FieldsV1`.",
        )
        .tag(6),
        f(
            "fieldsV1",
            obj!(FIELDS_V1),
            "The owned fields, as a trie of field paths.",
        )
        .tag(7),
        f(
            "manager",
            Type::String,
            "Who manages these fields (the fieldManager of the request).",
        )
        .tag(1),
        f(
            "operation",
            Type::String,
            "The operation that set the fields: `Apply` or `Update`.",
        )
        .tag(2),
        f(
            "subresource",
            Type::String,
            "The subresource the fields were written through, empty for the main resource.",
        )
        .tag(8),
        f(
            "time",
            Type::Time,
            "When the fields were last changed by this manager.",
        )
        .tag(4),
    ],
);

pub const FIELDS_V1: TypeDef = TypeDef::new(
    meta_type!("FieldsV1"),
    "A set of field paths encoded as a JSON trie (`f:<name>`, `k:<keys>`, `v:<value>`, `i:<index>`).",
    &[],
)
.open();

pub const OWNER_REFERENCE: TypeDef = TypeDef::new(
    meta_type!("OwnerReference"),
    "Names an owner of this object; the owner must be in the same namespace or be cluster-scoped.",
    &[
        f("apiVersion", Type::String, "API version of the owner.")
            .tag(5)
            .keeps_zero()
            .req(),
        f(
            "blockOwnerDeletion",
            Type::Boolean,
            "If true, foreground deletion of the owner waits until this object is gone.",
        )
        .tag(7)
        .keeps_zero(),
        f(
            "controller",
            Type::Boolean,
            "If true, this owner is the managing controller; at most one owner may be.",
        )
        .tag(6)
        .keeps_zero(),
        f("kind", Type::String, "Kind of the owner.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("name", Type::String, "Name of the owner.")
            .tag(3)
            .keeps_zero()
            .req(),
        f("uid", Type::String, "UID of the owner.")
            .tag(4)
            .keeps_zero()
            .req(),
    ],
)
.atomic();

pub const LABEL_SELECTOR: TypeDef = TypeDef::new(
    meta_type!("LabelSelector"),
    "A label query: all of matchLabels and matchExpressions must hold. Empty matches everything, null nothing.",
    &[
        f("matchExpressions", list!(LABEL_SELECTOR_REQUIREMENT), "Requirements on label keys, ANDed.").tag(2)
            .atomic(),
        f("matchLabels", STRING_MAP, "Labels that must be present with exactly these values.").tag(1),
    ],
)
.atomic();

pub const LABEL_SELECTOR_REQUIREMENT: TypeDef = TypeDef::new(
    meta_type!("LabelSelectorRequirement"),
    "A key, an operator and values that a label must satisfy.",
    &[
        f(
            "key",
            Type::String,
            "The label key the requirement applies to.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "operator",
            Type::String,
            "How key and values relate: `In`, `NotIn`, `Exists` or `DoesNotExist`.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "values",
            STRINGS,
            "Values for In and NotIn (non-empty); empty for Exists and DoesNotExist.",
        )
        .tag(3)
        .atomic(),
    ],
);

pub const FIELD_SELECTOR_REQUIREMENT: TypeDef = TypeDef::new(
    meta_type!("FieldSelectorRequirement"),
    "A key, an operator and values that a field must satisfy.",
    &[
        f(
            "key",
            Type::String,
            "The field selector key the requirement applies to.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "operator",
            Type::String,
            "How key and values relate: `In`, `NotIn`, `Exists` or `DoesNotExist`.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "values",
            STRINGS,
            "Values for In and NotIn (non-empty); empty for Exists and DoesNotExist.",
        )
        .tag(3)
        .atomic(),
    ],
);

pub const CONDITION: TypeDef = TypeDef::new(
    meta_type!("Condition"),
    "One aspect of an object's current state, in the standard condition shape.",
    &[
        f(
            "lastTransitionTime",
            Type::Time,
            "When the status last changed.",
        )
        .tag(4)
        .req(),
        f(
            "message",
            Type::String,
            "Human-readable details of the transition.",
        )
        .tag(6)
        .keeps_zero()
        .req(),
        f(
            "observedGeneration",
            Type::Int64,
            "The metadata.generation the condition was set for.",
        )
        .tag(3),
        f(
            "reason",
            Type::String,
            "Programmatic CamelCase reason for the last transition.",
        )
        .tag(5)
        .keeps_zero()
        .req(),
        f("status", Type::String, "`True`, `False` or `Unknown`.")
            .tag(2)
            .keeps_zero()
            .req(),
        f(
            "type",
            Type::String,
            "The condition's type, in CamelCase or as `domain/Type`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const LIST_META: TypeDef = TypeDef::new(
    meta_type!("ListMeta"),
    "Metadata of a list: its resourceVersion and how to get the next page.",
    &[
        f(
            "continue",
            Type::String,
            "Token for the next page of a limited list; empty on the last page.",
        ),
        f(
            "remainingItemCount",
            Type::Int64,
            "Items left after this page, when the server can count them.",
        ),
        f(
            "resourceVersion",
            Type::String,
            "The store's revision this list was read at; start a watch from it.",
        ),
        f(
            "selfLink",
            Type::String,
            "Deprecated, never set: a URL for the list.",
        ),
        f(
            "shardInfo",
            obj!(SHARD_INFO),
            "Alpha: which shard of the collection this list holds.",
        ),
    ],
);

pub const SHARD_INFO: TypeDef = TypeDef::new(
    meta_type!("ShardInfo"),
    "Alpha: the shard of a collection a list holds.",
    &[f(
        "selector",
        Type::String,
        "The shard selector the list was served for.",
    )],
)
.open();

pub const DELETE_OPTIONS: TypeDef = TypeDef::new(
    meta_type!("DeleteOptions"),
    "Options of a delete: grace period, preconditions and what happens to dependents.",
    &[
        API_VERSION,
        f(
            "dryRun",
            STRINGS,
            "`All` to run every stage without persisting the deletion.",
        )
        .atomic(),
        f(
            "gracePeriodSeconds",
            Type::Int64,
            "Seconds before the object is deleted; 0 deletes at once, unset uses the kind's default.",
        ),
        f(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            Type::Boolean,
            "Delete an object the server cannot decode (it skips finalizers and admission); dangerous.",
        ),
        KIND,
        f(
            "orphanDependents",
            Type::Boolean,
            "Deprecated: use propagationPolicy. True orphans the dependents.",
        ),
        f(
            "preconditions",
            obj!(PRECONDITIONS),
            "Conditions the object must meet to be deleted.",
        ),
        f(
            "propagationPolicy",
            Type::String,
            "What happens to dependents: `Orphan`, `Background` or `Foreground`.",
        ),
    ],
);

pub const PRECONDITIONS: TypeDef = TypeDef::new(
    meta_type!("Preconditions"),
    "What must hold before an operation is carried out.",
    &[
        f(
            "resourceVersion",
            Type::String,
            "The object's resourceVersion must equal this.",
        ),
        f("uid", Type::String, "The object's UID must equal this."),
    ],
);

pub const STATUS: TypeDef = TypeDef::new(
    meta_type!("Status"),
    "The result of an operation that returns no object, and the body of every error.",
    &[
        API_VERSION,
        f(
            "code",
            Type::Int32,
            "The HTTP status code, repeated in the body.",
        ),
        f(
            "details",
            obj!(STATUS_DETAILS),
            "More about the failure: which object, which fields; depends on reason.",
        ),
        KIND,
        f(
            "message",
            Type::String,
            "Human-readable description of the status.",
        ),
        f("metadata", obj!(LIST_META), "Standard list metadata."),
        f(
            "reason",
            Type::String,
            "Machine-readable CamelCase reason for a failure (`NotFound`, `Conflict`, ...).",
        ),
        f("status", Type::String, "`Success` or `Failure`."),
    ],
);

pub const STATUS_DETAILS: TypeDef = TypeDef::new(
    meta_type!("StatusDetails"),
    "The object a Status is about and the causes of the failure.",
    &[
        f(
            "causes",
            list!(STATUS_CAUSE),
            "Each cause of the failure, for a 422 one per invalid field.",
        )
        .atomic(),
        f("group", Type::String, "API group of the resource."),
        f("kind", Type::String, "Kind or resource of the object."),
        f("name", Type::String, "Name of the object."),
        f(
            "retryAfterSeconds",
            Type::Int32,
            "Seconds to wait before retrying, when the operation may succeed later.",
        ),
        f("uid", Type::String, "UID of the object."),
    ],
);

pub const STATUS_CAUSE: TypeDef = TypeDef::new(
    meta_type!("StatusCause"),
    "One reason an operation failed, for a validation error one field.",
    &[
        f(
            "field",
            Type::String,
            "Path of the field at fault, like `spec.containers[0].name`.",
        ),
        f(
            "message",
            Type::String,
            "Human-readable description of the cause.",
        ),
        f(
            "reason",
            Type::String,
            "Machine-readable cause (`FieldValueRequired`, ...).",
        ),
    ],
);

pub const PATCH: TypeDef = TypeDef::new(
    meta_type!("Patch"),
    "A patch body: JSON patch, merge patch, strategic merge patch or an apply configuration.",
    &[],
)
.open();

pub const API_RESOURCE_LIST: TypeDef = TypeDef::new(
    meta_type!("APIResourceList"),
    "The resources of one group version, as discovery lists them.",
    &[
        API_VERSION,
        f(
            "groupVersion",
            Type::String,
            "The group version listed: `v1`, `apps/v1`.",
        )
        .req(),
        KIND,
        f(
            "resources",
            list!(API_RESOURCE),
            "The resources served in this group version.",
        )
        .req()
        .atomic(),
    ],
);

pub const API_RESOURCE: TypeDef = TypeDef::new(
    meta_type!("APIResource"),
    "One resource in discovery: names, scope and verbs.",
    &[
        f(
            "categories",
            STRINGS,
            "Groups of resources this one belongs to (`all`).",
        )
        .atomic(),
        f(
            "group",
            Type::String,
            "Preferred group of the resource, if it differs from the list's.",
        ),
        f("kind", Type::String, "The kind of the resource's objects.").req(),
        f(
            "name",
            Type::String,
            "The plural resource name, with `/subresource` for a subresource.",
        )
        .req(),
        f(
            "namespaced",
            Type::Boolean,
            "Whether the objects live in namespaces.",
        )
        .req(),
        f(
            "shortNames",
            STRINGS,
            "Short aliases kubectl accepts (`po`).",
        )
        .atomic(),
        f(
            "singularName",
            Type::String,
            "The singular name, for kubectl.",
        )
        .req(),
        f(
            "storageVersionHash",
            Type::String,
            "Hash of the version the objects are stored in; changes when it changes.",
        ),
        f("verbs", STRINGS, "The verbs the resource supports.").req(),
        f(
            "version",
            Type::String,
            "Preferred version of the resource, if it differs from the list's.",
        ),
    ],
);

pub const API_VERSIONS: TypeDef = TypeDef::new(
    meta_type!("APIVersions"),
    "The versions of the legacy core API served at /api.",
    &[
        API_VERSION,
        KIND,
        f(
            "serverAddressByClientCIDRs",
            list!(SERVER_ADDRESS_BY_CLIENT_CIDR),
            "Addresses to reach the server at, by client network.",
        )
        .req()
        .atomic(),
        f("versions", STRINGS, "The versions served.")
            .req()
            .atomic(),
    ],
);

pub const SERVER_ADDRESS_BY_CLIENT_CIDR: TypeDef = TypeDef::new(
    meta_type!("ServerAddressByClientCIDR"),
    "The server address clients in a network should use.",
    &[
        f("clientCIDR", Type::String, "The client network.").req(),
        f(
            "serverAddress",
            Type::String,
            "The address: host, host:port, IP or IP:port.",
        )
        .req(),
    ],
);

pub const API_GROUP_LIST: TypeDef = TypeDef::new(
    meta_type!("APIGroupList"),
    "The API groups served at /apis.",
    &[
        API_VERSION,
        f("groups", list!(API_GROUP), "The groups served.")
            .req()
            .atomic(),
        KIND,
    ],
);

pub const API_GROUP: TypeDef = TypeDef::new(
    meta_type!("APIGroup"),
    "One API group: its name and versions.",
    &[
        API_VERSION,
        KIND,
        f("name", Type::String, "The group's name.").req(),
        f(
            "preferredVersion",
            obj!(GROUP_VERSION_FOR_DISCOVERY),
            "The version clients should use.",
        ),
        f(
            "serverAddressByClientCIDRs",
            list!(SERVER_ADDRESS_BY_CLIENT_CIDR),
            "Addresses to reach the server at, by client network.",
        )
        .atomic(),
        f(
            "versions",
            list!(GROUP_VERSION_FOR_DISCOVERY),
            "The versions served.",
        )
        .req()
        .atomic(),
    ],
);

pub const GROUP_VERSION_FOR_DISCOVERY: TypeDef = TypeDef::new(
    meta_type!("GroupVersionForDiscovery"),
    "One version of a group, named both ways.",
    &[
        f("groupVersion", Type::String, "`group/version`.").req(),
        f("version", Type::String, "The version alone.").req(),
    ],
);

pub const VERSION_INFO: TypeDef = TypeDef::new(
    "io.k8s.apimachinery.pkg.version.Info",
    "The version of the server, as /version answers.",
    &VERSION_FIELDS,
);

const VERSION_FIELDS: [Field; 13] = [
    f("buildDate", Type::String, "When the binary was built.").req(),
    f("compiler", Type::String, "The compiler that built it.").req(),
    f(
        "emulationMajor",
        Type::String,
        "Major version of the emulated Kubernetes version.",
    ),
    f(
        "emulationMinor",
        Type::String,
        "Minor version of the emulated Kubernetes version.",
    ),
    f("gitCommit", Type::String, "The source commit.").req(),
    f("gitTreeState", Type::String, "`clean` or `dirty`.").req(),
    f("gitVersion", Type::String, "The full version: `v1.33.0`.").req(),
    f("goVersion", Type::String, "The toolchain that built it.").req(),
    f("major", Type::String, "Major version of the binary.").req(),
    f(
        "minCompatibilityMajor",
        Type::String,
        "Major version of the oldest compatible version.",
    ),
    f(
        "minCompatibilityMinor",
        Type::String,
        "Minor version of the oldest compatible version.",
    ),
    f("minor", Type::String, "Minor version of the binary.").req(),
    f(
        "platform",
        Type::String,
        "Operating system and architecture: `linux/amd64`.",
    )
    .req(),
];
