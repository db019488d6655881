//! core/v1 Node: a machine pods run on, registered (and its status kept) by its kubelet.
//! Field numbers: `k8s.io/api/core/v1/generated.proto`.

use super::{
    API_VERSION, KIND, METADATA, RESOURCE_LIST, STRINGS, Type, TypeDef, core_type, f, list, obj,
};

pub const NODE: TypeDef = TypeDef::new(
    core_type!("Node"),
    "A worker machine; each node is registered by its kubelet, which keeps its status.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(NODE_SPEC),
            "How the node is configured: pod CIDRs, taints, whether it takes new pods.",
        )
        .tag(2),
        f(
            "status",
            obj!(NODE_STATUS),
            "The most recently observed state of the node. Read-only.",
        )
        .tag(3),
    ],
);

pub const NODE_SPEC: TypeDef = TypeDef::new(
    core_type!("NodeSpec"),
    "How a node is configured.",
    &[
        f(
            "configSource",
            obj!(NODE_CONFIG_SOURCE),
            "Deprecated: where the kubelet's dynamic configuration came from.",
        )
        .tag(6),
        f("externalID", Type::String, "Deprecated, unused.").tag(2),
        f(
            "podCIDR",
            Type::String,
            "The pod IP range of the node; the first of podCIDRs.",
        )
        .tag(1),
        f(
            "podCIDRs",
            STRINGS,
            "The pod IP ranges of the node, at most one per IP family.",
        )
        .tag(7)
        .set()
        .strategy("merge"),
        f(
            "podPreemptionPolicy",
            obj!(NODE_POD_PREEMPTION_POLICY),
            "Which preemption for in-place pod resize is disabled on this node.",
        )
        .tag(8),
        f(
            "providerID",
            Type::String,
            "The node's ID at the cloud provider: `<provider>://<id>`.",
        )
        .tag(3),
        f(
            "taints",
            list!(TAINT),
            "Taints that repel pods which do not tolerate them.",
        )
        .tag(5)
        .atomic(),
        f(
            "unschedulable",
            Type::Boolean,
            "If true, no new pods are scheduled here (`kubectl cordon`).",
        )
        .tag(4),
    ],
);

pub const NODE_POD_PREEMPTION_POLICY: TypeDef = TypeDef::new(
    core_type!("NodePodPreemptionPolicy"),
    "Preemption a node opts out of.",
    &[f(
        "disableResizePreemption",
        STRINGS,
        "Owners that asked to disable preemption for in-place pod resize.",
    )
    .tag(1)
    .atomic()],
);

pub const TAINT: TypeDef = TypeDef::new(
    core_type!("Taint"),
    "A mark on a node that pods must tolerate to be scheduled or to stay there.",
    &[
        f(
            "effect",
            Type::String,
            "`NoSchedule`, `PreferNoSchedule` or `NoExecute`.",
        )
        .tag(3)
        .keeps_zero()
        .req(),
        f("key", Type::String, "The taint key.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("timeAdded", Type::Time, "When a NoExecute taint was added.").tag(4),
        f("value", Type::String, "The taint value.").tag(2),
    ],
);

pub const NODE_CONFIG_SOURCE: TypeDef = TypeDef::new(
    core_type!("NodeConfigSource"),
    "Deprecated: the source of a kubelet's dynamic configuration.",
    &[f(
        "configMap",
        obj!(CONFIG_MAP_NODE_CONFIG_SOURCE),
        "A ConfigMap holding the configuration.",
    )
    .tag(2)],
);

pub const CONFIG_MAP_NODE_CONFIG_SOURCE: TypeDef = TypeDef::new(
    core_type!("ConfigMapNodeConfigSource"),
    "Deprecated: a ConfigMap holding a kubelet's configuration.",
    &[
        f(
            "kubeletConfigKey",
            Type::String,
            "The key of the configuration in the ConfigMap.",
        )
        .tag(5)
        .keeps_zero()
        .req(),
        f("name", Type::String, "The ConfigMap's name.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("namespace", Type::String, "The ConfigMap's namespace.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "resourceVersion",
            Type::String,
            "The ConfigMap's resourceVersion.",
        )
        .tag(4),
        f("uid", Type::String, "The ConfigMap's uid.").tag(3),
    ],
);

pub const NODE_STATUS: TypeDef = TypeDef::new(
    core_type!("NodeStatus"),
    "The observed state of a node, reported by its kubelet.",
    &[
        f("addresses", list!(NODE_ADDRESS), "The node's addresses.")
            .tag(5)
            .keyed(&["type"]),
        f(
            "allocatable",
            RESOURCE_LIST,
            "What is available to pods; defaults to capacity.",
        )
        .tag(2),
        f(
            "capacity",
            RESOURCE_LIST,
            "The node's total resources (`cpu`, `memory`, `pods`, ...).",
        )
        .tag(1),
        f(
            "conditions",
            list!(NODE_CONDITION),
            "Current service state of the node (`Ready`, `MemoryPressure`, ...).",
        )
        .tag(4)
        .keyed(&["type"]),
        f(
            "config",
            obj!(NODE_CONFIG_STATUS),
            "Deprecated: the status of dynamic kubelet configuration.",
        )
        .tag(11),
        f(
            "daemonEndpoints",
            obj!(NODE_DAEMON_ENDPOINTS),
            "Ports of the daemons on the node.",
        )
        .tag(6),
        f(
            "declaredFeatures",
            STRINGS,
            "Features the node declares it supports.",
        )
        .tag(14)
        .atomic(),
        f(
            "features",
            obj!(NODE_FEATURES),
            "Features the node's runtime implements.",
        )
        .tag(13),
        f(
            "images",
            list!(CONTAINER_IMAGE),
            "Container images on the node.",
        )
        .tag(8)
        .atomic(),
        f(
            "nodeInfo",
            obj!(NODE_SYSTEM_INFO),
            "IDs and versions of the machine, OS and kubelet.",
        )
        .tag(7),
        f("phase", Type::String, "Deprecated, never set.").tag(3),
        f(
            "runtimeHandlers",
            list!(NODE_RUNTIME_HANDLER),
            "The container runtime's handlers.",
        )
        .tag(12)
        .atomic(),
        f(
            "volumesAttached",
            list!(ATTACHED_VOLUME),
            "Volumes attached to the node.",
        )
        .tag(10)
        .atomic(),
        f(
            "volumesInUse",
            STRINGS,
            "Volumes in use (mounted) on the node.",
        )
        .tag(9)
        .atomic(),
    ],
);

pub const NODE_ADDRESS: TypeDef = TypeDef::new(
    core_type!("NodeAddress"),
    "One address of a node.",
    &[
        f("address", Type::String, "The address.")
            .tag(2)
            .keeps_zero()
            .req(),
        f(
            "type",
            Type::String,
            "`Hostname`, `InternalIP`, `ExternalIP`, `InternalDNS` or `ExternalDNS`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const NODE_CONDITION: TypeDef = TypeDef::new(
    core_type!("NodeCondition"),
    "One condition of a node.",
    &[
        f(
            "lastHeartbeatTime",
            Type::Time,
            "When the condition was last reported.",
        )
        .tag(3),
        f(
            "lastTransitionTime",
            Type::Time,
            "When the status last changed.",
        )
        .tag(4),
        f(
            "message",
            Type::String,
            "Details of the last transition, for people.",
        )
        .tag(6),
        f(
            "reason",
            Type::String,
            "CamelCase reason for the last transition.",
        )
        .tag(5),
        f("status", Type::String, "`True`, `False` or `Unknown`.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("type", Type::String, "The condition's type.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const NODE_CONFIG_STATUS: TypeDef = TypeDef::new(
    core_type!("NodeConfigStatus"),
    "Deprecated: the status of a kubelet's dynamic configuration.",
    &[
        f(
            "active",
            obj!(NODE_CONFIG_SOURCE),
            "The configuration the kubelet runs.",
        )
        .tag(2),
        f(
            "assigned",
            obj!(NODE_CONFIG_SOURCE),
            "The configuration the node should run.",
        )
        .tag(1),
        f("error", Type::String, "What went wrong reconciling.").tag(4),
        f(
            "lastKnownGood",
            obj!(NODE_CONFIG_SOURCE),
            "The configuration the kubelet falls back to.",
        )
        .tag(3),
    ],
);

pub const NODE_DAEMON_ENDPOINTS: TypeDef = TypeDef::new(
    core_type!("NodeDaemonEndpoints"),
    "Ports of the daemons on a node.",
    &[f(
        "kubeletEndpoint",
        obj!(DAEMON_ENDPOINT),
        "The kubelet's port.",
    )
    .tag(1)],
);

pub const DAEMON_ENDPOINT: TypeDef = TypeDef::new(
    core_type!("DaemonEndpoint"),
    "A daemon's port.",
    &[f("Port", Type::Int32, "The port number.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const NODE_FEATURES: TypeDef = TypeDef::new(
    core_type!("NodeFeatures"),
    "Features the node's runtime implements.",
    &[f(
        "supplementalGroupsPolicy",
        Type::Boolean,
        "Whether the runtime supports SupplementalGroupsPolicy.",
    )
    .tag(1)
    .keeps_zero()],
);

pub const CONTAINER_IMAGE: TypeDef = TypeDef::new(
    core_type!("ContainerImage"),
    "A container image on a node.",
    &[
        f("names", STRINGS, "Names the image is known by.")
            .tag(1)
            .atomic(),
        f("sizeBytes", Type::Int64, "The image's size in bytes.").tag(2),
    ],
);

pub const NODE_SYSTEM_INFO: TypeDef = TypeDef::new(
    core_type!("NodeSystemInfo"),
    "IDs and versions of a node's machine, OS, runtime and kubelet.",
    &[
        f("architecture", Type::String, "The architecture (`amd64`).")
            .tag(10)
            .keeps_zero()
            .req(),
        f("bootID", Type::String, "The boot ID.")
            .tag(3)
            .keeps_zero()
            .req(),
        f(
            "containerRuntimeVersion",
            Type::String,
            "The container runtime and its version (`containerd://1.7.0`).",
        )
        .tag(6)
        .keeps_zero()
        .req(),
        f(
            "kernelVersion",
            Type::String,
            "The kernel version (`uname -r`).",
        )
        .tag(4)
        .keeps_zero()
        .req(),
        f(
            "kubeProxyVersion",
            Type::String,
            "Deprecated: the kube-proxy version.",
        )
        .tag(8)
        .keeps_zero()
        .req(),
        f("kubeletVersion", Type::String, "The kubelet version.")
            .tag(7)
            .keeps_zero()
            .req(),
        f(
            "machineID",
            Type::String,
            "The machine ID (`/etc/machine-id`).",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "operatingSystem",
            Type::String,
            "The operating system (`linux`).",
        )
        .tag(9)
        .keeps_zero()
        .req(),
        f(
            "osImage",
            Type::String,
            "The OS image (`Debian GNU/Linux 12`).",
        )
        .tag(5)
        .keeps_zero()
        .req(),
        f("swap", obj!(NODE_SWAP_STATUS), "The node's swap memory.").tag(11),
        f("systemUUID", Type::String, "The system UUID.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
);

pub const NODE_SWAP_STATUS: TypeDef = TypeDef::new(
    core_type!("NodeSwapStatus"),
    "A node's swap memory.",
    &[f("capacity", Type::Int64, "Total swap in bytes.")
        .tag(1)
        .keeps_zero()],
);

pub const NODE_RUNTIME_HANDLER: TypeDef = TypeDef::new(
    core_type!("NodeRuntimeHandler"),
    "One handler of the container runtime.",
    &[
        f(
            "features",
            obj!(NODE_RUNTIME_HANDLER_FEATURES),
            "What the handler supports.",
        )
        .tag(2),
        f(
            "name",
            Type::String,
            "The handler's name; empty for the default.",
        )
        .tag(1)
        .keeps_zero(),
    ],
);

pub const NODE_RUNTIME_HANDLER_FEATURES: TypeDef = TypeDef::new(
    core_type!("NodeRuntimeHandlerFeatures"),
    "What a runtime handler supports.",
    &[
        f(
            "recursiveReadOnlyMounts",
            Type::Boolean,
            "Whether recursive read-only mounts are supported.",
        )
        .tag(1)
        .keeps_zero(),
        f(
            "userNamespaces",
            Type::Boolean,
            "Whether user namespaces are supported.",
        )
        .tag(2)
        .keeps_zero(),
    ],
);

pub const ATTACHED_VOLUME: TypeDef = TypeDef::new(
    core_type!("AttachedVolume"),
    "A volume attached to a node.",
    &[
        f(
            "devicePath",
            Type::String,
            "Where the volume should be available.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f("name", Type::String, "The volume's name.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);
