//! core/v1 besides the Pod: Namespace, ConfigMap, Secret, ServiceAccount, Service and Event,
//! with the types only they use.

use super::{
    API_VERSION, KIND, METADATA, STRING_MAP, STRINGS, Type, TypeDef, core_type, f, list, meta, obj,
    pod,
};

pub const NAMESPACE: TypeDef = TypeDef::new(
    core_type!("Namespace"),
    "A scope for names; the objects in a namespace are deleted with it.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(NAMESPACE_SPEC),
            "The desired behavior of the namespace.",
        )
        .tag(2),
        f(
            "status",
            obj!(NAMESPACE_STATUS),
            "The observed state of the namespace. Read-only.",
        )
        .tag(3),
    ],
);

pub const NAMESPACE_SPEC: TypeDef = TypeDef::new(
    core_type!("NamespaceSpec"),
    "The desired state of a namespace.",
    &[f(
        "finalizers",
        STRINGS,
        "What must finish before the namespace is removed from storage (`kubernetes`).",
    )
    .tag(1)
    .atomic()],
);

pub const NAMESPACE_STATUS: TypeDef = TypeDef::new(
    core_type!("NamespaceStatus"),
    "The observed state of a namespace.",
    &[
        f(
            "conditions",
            list!(NAMESPACE_CONDITION),
            "Latest observations of the namespace's state.",
        )
        .tag(2)
        .keyed(&["type"]),
        f("phase", Type::String, "`Active` or `Terminating`.").tag(1),
    ],
);

pub const NAMESPACE_CONDITION: TypeDef = TypeDef::new(
    core_type!("NamespaceCondition"),
    "One condition of a namespace (why deletion is stuck, for instance).",
    &[
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

pub const CONFIG_MAP: TypeDef = TypeDef::new(
    core_type!("ConfigMap"),
    "Configuration data for pods to consume, as keys and values.",
    &[
        API_VERSION,
        f(
            "binaryData",
            Type::Map(&Type::Bytes),
            "Binary values, base64 in JSON; keys must not repeat those of data.",
        )
        .tag(3),
        f(
            "data",
            STRING_MAP,
            "UTF-8 values; keys are made of alphanumerics, `-`, `_` and `.`.",
        )
        .tag(2),
        f(
            "immutable",
            Type::Boolean,
            "If true, data and binaryData cannot be changed, only the object deleted.",
        )
        .tag(4)
        .keeps_zero(),
        KIND,
        METADATA,
    ],
);

pub const SECRET: TypeDef = TypeDef::new(
    core_type!("Secret"),
    "Secret data (passwords, tokens, keys) of a given type, limited to 1 MiB.",
    &[
        API_VERSION,
        f(
            "data",
            Type::Map(&Type::Bytes),
            "The secret values, base64 in JSON.",
        ).tag(2),
        f(
            "immutable",
            Type::Boolean,
            "If true, data cannot be changed, only the object deleted.",
        ).tag(5).keeps_zero(),
        KIND,
        METADATA,
        f(
            "stringData",
            STRING_MAP,
            "Write-only convenience: plain-text values merged into data on write, winning over it.",
        ).tag(4),
        f(
            "type",
            Type::String,
            "How the data is used (`Opaque`, `kubernetes.io/tls`, `kubernetes.io/dockerconfigjson`, ...).",
        ).tag(3),
    ],
);

pub const SERVICE_ACCOUNT: TypeDef = TypeDef::new(
    core_type!("ServiceAccount"),
    "An identity for processes in pods, with the secrets it may use.",
    &[
        API_VERSION,
        f(
            "automountServiceAccountToken",
            Type::Boolean,
            "Whether pods running as this account get its token mounted; the pod's setting wins.",
        )
        .tag(4)
        .keeps_zero(),
        f(
            "imagePullSecrets",
            list!(pod::LOCAL_OBJECT_REFERENCE),
            "Secrets with registry credentials added to pods that use this account.",
        )
        .tag(3)
        .atomic(),
        KIND,
        METADATA,
        f(
            "secrets",
            list!(OBJECT_REFERENCE),
            "Secrets pods running as this account may use (legacy token secrets).",
        )
        .tag(2)
        .keyed(&["name"]),
    ],
);

pub const OBJECT_REFERENCE: TypeDef = TypeDef::new(
    core_type!("ObjectReference"),
    "A reference to an object, or to a field within it.",
    &[
        f("apiVersion", Type::String, "API version of the object.").tag(5),
        f(
            "fieldPath",
            Type::String,
            "A field within the object (`spec.containers{name}`), instead of the whole.",
        )
        .tag(7),
        f("kind", Type::String, "Kind of the object.").tag(1),
        f("name", Type::String, "Name of the object.").tag(3),
        f("namespace", Type::String, "Namespace of the object.").tag(2),
        f(
            "resourceVersion",
            Type::String,
            "The version of the object referred to.",
        )
        .tag(6),
        f("uid", Type::String, "UID of the object.").tag(4),
    ],
)
.atomic();

pub const SERVICE: TypeDef = TypeDef::new(
    core_type!("Service"),
    "A named abstraction of a software service: a port the proxy listens on and the pods behind it.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(SERVICE_SPEC),
            "The desired behavior of the service.",
        )
        .tag(2),
        f(
            "status",
            obj!(SERVICE_STATUS),
            "The observed state of the service. Read-only.",
        )
        .tag(3),
    ],
);

pub const SERVICE_SPEC: TypeDef = TypeDef::new(
    core_type!("ServiceSpec"),
    "What a service exposes and how.",
    &[
        f(
            "allocateLoadBalancerNodePorts",
            Type::Boolean,
            "Whether a LoadBalancer service gets node ports. Default true.",
        ).tag(20).keeps_zero(),
        f(
            "clusterIP",
            Type::String,
            "The virtual IP; allocated when empty, `None` for a headless service. Mostly immutable.",
        ).tag(3),
        f(
            "clusterIPs",
            STRINGS,
            "The virtual IPs, one per family; the first equals clusterIP.",
        ).tag(18)
        .atomic(),
        f(
            "externalIPs",
            STRINGS,
            "IPs outside the cluster that nodes also accept traffic for.",
        ).tag(5)
        .atomic(),
        f(
            "externalName",
            Type::String,
            "The DNS name an ExternalName service is a CNAME for.",
        ).tag(10),
        f(
            "externalTrafficPolicy",
            Type::String,
            "`Cluster` (default) or `Local`: where external traffic may be sent.",
        ).tag(11),
        f(
            "healthCheckNodePort",
            Type::Int32,
            "Node port for the load balancer's health checks, with Local traffic policy.",
        ).tag(12),
        f(
            "internalTrafficPolicy",
            Type::String,
            "`Cluster` (default) or `Local`: where cluster-internal traffic may be sent.",
        ).tag(22).keeps_zero(),
        f(
            "ipFamilies",
            STRINGS,
            "`IPv4` and/or `IPv6`, in order of preference.",
        ).tag(19)
        .atomic(),
        f(
            "ipFamilyPolicy",
            Type::String,
            "`SingleStack`, `PreferDualStack` or `RequireDualStack`.",
        ).tag(17).keeps_zero(),
        f(
            "loadBalancerClass",
            Type::String,
            "The load balancer implementation; set once on create.",
        ).tag(21).keeps_zero(),
        f(
            "loadBalancerIP",
            Type::String,
            "Deprecated: an IP to ask the load balancer for.",
        ).tag(8),
        f(
            "loadBalancerSourceRanges",
            STRINGS,
            "Client CIDRs the cloud load balancer lets in.",
        ).tag(9)
        .atomic(),
        f(
            "ports",
            list!(SERVICE_PORT),
            "The ports the service exposes.",
        ).tag(1)
        .keyed(&["port", "protocol"]),
        f(
            "publishNotReadyAddresses",
            Type::Boolean,
            "Publish the addresses of pods that are not ready too.",
        ).tag(13),
        f(
            "selector",
            STRING_MAP,
            "Labels of the pods traffic is routed to; empty means endpoints are managed by hand.",
        ).tag(2)
        .atomic_map(),
        f(
            "sessionAffinity",
            Type::String,
            "`None` (default) or `ClientIP` for sticky sessions.",
        ).tag(7),
        f(
            "sessionAffinityConfig",
            obj!(SESSION_AFFINITY_CONFIG),
            "Settings of the session affinity.",
        ).tag(14),
        f(
            "trafficDistribution",
            Type::String,
            "A preference for how traffic is spread over endpoints (`PreferClose`).",
        ).tag(23).keeps_zero(),
        f(
            "type",
            Type::String,
            "`ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`.",
        ).tag(4),
    ],
);

pub const SERVICE_PORT: TypeDef = TypeDef::new(
    core_type!("ServicePort"),
    "One port of a service.",
    &[
        f(
            "appProtocol",
            Type::String,
            "The application protocol (`http`, `kubernetes.io/h2c`, ...).",
        )
        .tag(6)
        .keeps_zero(),
        f(
            "name",
            Type::String,
            "A DNS label, unique in the service; required when there are several ports.",
        )
        .tag(1),
        f(
            "nodePort",
            Type::Int32,
            "The port on each node for NodePort and LoadBalancer services; allocated when 0.",
        )
        .tag(5),
        f("port", Type::Int32, "The port the service listens on.")
            .tag(3)
            .keeps_zero()
            .req(),
        f(
            "protocol",
            Type::String,
            "`TCP` (default), `UDP` or `SCTP`.",
        )
        .tag(2),
        f(
            "targetPort",
            Type::IntOrString,
            "The port number or name on the pods; default the same as port.",
        )
        .tag(4),
    ],
);

pub const SESSION_AFFINITY_CONFIG: TypeDef = TypeDef::new(
    core_type!("SessionAffinityConfig"),
    "Settings of session affinity.",
    &[f(
        "clientIP",
        obj!(CLIENT_IP_CONFIG),
        "Settings of ClientIP affinity.",
    )
    .tag(1)],
);

pub const CLIENT_IP_CONFIG: TypeDef = TypeDef::new(
    core_type!("ClientIPConfig"),
    "Settings of ClientIP session affinity.",
    &[f(
        "timeoutSeconds",
        Type::Int32,
        "How long a session sticks, 1-86400. Default 10800.",
    )
    .tag(1)
    .keeps_zero()],
);

pub const SERVICE_STATUS: TypeDef = TypeDef::new(
    core_type!("ServiceStatus"),
    "The observed state of a service.",
    &[
        f(
            "conditions",
            list!(meta::CONDITION),
            "Current state of the service.",
        )
        .tag(2)
        .keyed(&["type"]),
        f(
            "loadBalancer",
            obj!(LOAD_BALANCER_STATUS),
            "The load balancer, if there is one.",
        )
        .tag(1),
    ],
);

pub const LOAD_BALANCER_STATUS: TypeDef = TypeDef::new(
    core_type!("LoadBalancerStatus"),
    "The state of a load balancer.",
    &[f(
        "ingress",
        list!(LOAD_BALANCER_INGRESS),
        "Its ingress points.",
    )
    .tag(1)
    .atomic()],
);

pub const LOAD_BALANCER_INGRESS: TypeDef = TypeDef::new(
    core_type!("LoadBalancerIngress"),
    "Where traffic for a load balancer enters.",
    &[
        f(
            "hostname",
            Type::String,
            "A DNS name, for load balancers addressed by name.",
        )
        .tag(2),
        f(
            "ip",
            Type::String,
            "An IP, for load balancers addressed by IP.",
        )
        .tag(1),
        f(
            "ipMode",
            Type::String,
            "`VIP` or `Proxy`: how traffic reaches the nodes.",
        )
        .tag(3)
        .keeps_zero(),
        f("ports", list!(PORT_STATUS), "State of the service's ports.")
            .tag(4)
            .atomic(),
    ],
);

pub const PORT_STATUS: TypeDef = TypeDef::new(
    core_type!("PortStatus"),
    "The state of one port of a load balancer.",
    &[
        f(
            "error",
            Type::String,
            "Why the port failed, CamelCase; empty when it works.",
        )
        .tag(3)
        .keeps_zero(),
        f("port", Type::Int32, "The port number.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("protocol", Type::String, "`TCP`, `UDP` or `SCTP`.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
);

pub const EVENT: TypeDef = TypeDef::new(
    core_type!("Event"),
    "A report of something that happened in the cluster, about an object.",
    &[
        f(
            "action",
            Type::String,
            "What was done, or failed, to the object.",
        )
        .tag(12),
        API_VERSION,
        f("count", Type::Int32, "How many times the event happened.").tag(8),
        f(
            "eventTime",
            Type::MicroTime,
            "When the event first happened.",
        )
        .tag(10),
        f(
            "firstTimestamp",
            Type::Time,
            "When the event was first recorded.",
        )
        .tag(6),
        f(
            "involvedObject",
            obj!(OBJECT_REFERENCE),
            "The object the event is about.",
        )
        .tag(2)
        .req(),
        KIND,
        f(
            "lastTimestamp",
            Type::Time,
            "When the event was last recorded.",
        )
        .tag(7),
        f("message", Type::String, "What happened, for people.").tag(4),
        f(
            "metadata",
            obj!(meta::OBJECT_META),
            "Standard object metadata.",
        )
        .tag(1)
        .req(),
        f(
            "reason",
            Type::String,
            "Short CamelCase reason for the object's transition.",
        )
        .tag(3),
        f(
            "related",
            obj!(OBJECT_REFERENCE),
            "A second object involved, if any.",
        )
        .tag(13),
        f(
            "reportingComponent",
            Type::String,
            "The controller that emitted the event (`kubernetes.io/kubelet`).",
        )
        .tag(14)
        .keeps_zero(),
        f(
            "reportingInstance",
            Type::String,
            "The instance of that controller (`kubelet-xyzf`).",
        )
        .tag(15)
        .keeps_zero(),
        f(
            "series",
            obj!(EVENT_SERIES),
            "Data on the series this event belongs to, if it repeats.",
        )
        .tag(11),
        f(
            "source",
            obj!(EVENT_SOURCE),
            "The component that reported the event.",
        )
        .tag(5),
        f("type", Type::String, "`Normal` or `Warning`.").tag(9),
    ],
);

pub const EVENT_SERIES: TypeDef = TypeDef::new(
    core_type!("EventSeries"),
    "A series of repeated events.",
    &[
        f("count", Type::Int32, "Occurrences so far.").tag(1),
        f(
            "lastObservedTime",
            Type::MicroTime,
            "When the last occurrence was seen.",
        )
        .tag(2),
    ],
);

pub const EVENT_SOURCE: TypeDef = TypeDef::new(
    core_type!("EventSource"),
    "The component that reported an event.",
    &[
        f("component", Type::String, "The component.").tag(1),
        f("host", Type::String, "The node it runs on.").tag(2),
    ],
);
