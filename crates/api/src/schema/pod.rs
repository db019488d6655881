//! core/v1 Pod and everything a PodSpec holds: containers (probes, lifecycle, environment,
//! security), volumes, scheduling (affinity, tolerations, topology spread), and the status.
//! PodTemplateSpec lives here too: Deployments embed it.
//!
//! Open types (described in part): the rarely used in-tree volume sources, alpha additions
//! (eviction responders, scheduling groups, pod certificates) and the deeper status records.

use super::{
    API_VERSION, KIND, METADATA, RESOURCE_LIST, STRING_MAP, STRINGS, Type, TypeDef, core_type, f,
    list, meta, obj,
};

const INT32S: Type = Type::Array(&Type::Int32);
const INT64S: Type = Type::Array(&Type::Int64);

pub const POD: TypeDef = TypeDef::new(
    core_type!("Pod"),
    "A collection of containers that run together on a host; created by clients, scheduled onto nodes.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f("spec", obj!(POD_SPEC), "The desired behavior of the pod.").tag(2),
        f(
            "status",
            obj!(POD_STATUS),
            "The most recently observed state of the pod; may lag behind. Read-only.",
        )
        .tag(3),
    ],
);

pub const POD_TEMPLATE_SPEC: TypeDef = TypeDef::new(
    core_type!("PodTemplateSpec"),
    "What a pod created from a template looks like: its metadata and spec.",
    &[
        f(
            "metadata",
            obj!(meta::OBJECT_META),
            "Metadata of the pods created from this template (labels, annotations).",
        )
        .tag(1),
        f(
            "spec",
            obj!(POD_SPEC),
            "The spec of the pods created from this template.",
        )
        .tag(2),
    ],
);

pub const POD_SPEC: TypeDef = TypeDef::new(
    core_type!("PodSpec"),
    "The desired state of a pod: its containers, volumes, and how and where it runs.",
    &[
        f("activeDeadlineSeconds", Type::Int64, "Seconds a pod may be active, counted from its start, before the system kills it.").tag(5).keeps_zero(),
        f("affinity", obj!(AFFINITY), "Scheduling constraints relative to nodes and to other pods.").tag(18),
        f("automountServiceAccountToken", Type::Boolean, "Whether the service account token is mounted into the containers.").tag(21).keeps_zero(),
        f("containers", list!(CONTAINER), "The containers of the pod; at least one. Cannot be changed after creation.").tag(2)
            .req()
            .keyed(&["name"]),
        f("dnsConfig", obj!(POD_DNS_CONFIG), "DNS settings merged into those generated from dnsPolicy.").tag(26),
        f("dnsPolicy", Type::String, "How DNS is set up: `ClusterFirst` (default), `ClusterFirstWithHostNet`, `Default` or `None`.").tag(6),
        f("enableServiceLinks", Type::Boolean, "Whether services' addresses are injected as environment variables, Docker-link style. Default true.").tag(30).keeps_zero(),
        f("ephemeralContainers", list!(EPHEMERAL_CONTAINER), "Debugging containers added to a running pod through the ephemeralcontainers subresource.").tag(34)
            .keyed(&["name"]),
        f("evictionResponders", list!(EVICTION_RESPONDER), "Alpha: components to notify before the pod is evicted.").tag(44)
            .keyed(&["name"]),
        f("hostAliases", list!(HOST_ALIAS), "Extra entries for the pods' /etc/hosts.").tag(23).keyed(&["ip"]),
        f("hostIPC", Type::Boolean, "Use the host's IPC namespace. Default false.").tag(13),
        f("hostNetwork", Type::Boolean, "Use the host's network namespace; ports must then be host ports. Default false.").tag(11),
        f("hostPID", Type::Boolean, "Use the host's process ID namespace. Default false.").tag(12),
        f("hostUsers", Type::Boolean, "Use the host's user namespace (true, the default) or a new one for the pod (false).").tag(37).keeps_zero(),
        f("hostname", Type::String, "The pod's hostname; defaults to the pod's name.").tag(16),
        f("hostnameOverride", Type::String, "Alpha: the exact hostname the pod reports, overriding hostname and subdomain.").tag(41).keeps_zero(),
        f("imagePullSecrets", list!(LOCAL_OBJECT_REFERENCE), "Secrets in the pod's namespace holding credentials to pull the images.").tag(15)
            .keyed(&["name"]),
        f("initContainers", list!(CONTAINER), "Containers run one after another, each to completion, before the app containers start.").tag(20)
            .keyed(&["name"]),
        f("nodeName", Type::String, "The node the pod is bound to; set it to bypass the scheduler.").tag(10),
        f("nodeSelector", STRING_MAP, "Labels a node must have for the pod to be scheduled onto it.").tag(7).atomic_map(),
        f("os", obj!(POD_OS), "The operating system the containers need; restricts which fields are allowed.").tag(36),
        f("overhead", RESOURCE_LIST, "Resources the pod's sandbox uses on top of its containers; set by admission from the RuntimeClass.").tag(32),
        f("preemptionPolicy", Type::String, "Whether the pod may preempt lower-priority pods: `PreemptLowerPriority` (default) or `Never`.").tag(31).keeps_zero(),
        f("priority", Type::Int32, "The pod's priority, resolved by admission from priorityClassName.").tag(25).keeps_zero(),
        f("priorityClassName", Type::String, "The PriorityClass giving the pod its priority.").tag(24),
        f("readinessGates", list!(POD_READINESS_GATE), "Extra conditions that must be true for the pod to be ready.").tag(28).atomic(),
        f("resourceClaims", list!(POD_RESOURCE_CLAIM), "Dynamic resources the pod claims, for its containers to reference.").tag(39)
            .keyed(&["name"])
            .strategy("merge,retainKeys"),
        f("resources", obj!(RESOURCE_REQUIREMENTS), "Pod-level requests and limits shared by its containers.").tag(40),
        f("restartPolicy", Type::String, "When containers are restarted: `Always` (default), `OnFailure` or `Never`.").tag(3),
        f("runtimeClassName", Type::String, "The RuntimeClass that runs the pod.").tag(29).keeps_zero(),
        f("schedulerName", Type::String, "The scheduler that places the pod; default the cluster's default scheduler.").tag(19),
        f("schedulingGates", list!(POD_SCHEDULING_GATE), "Gates that hold the pod back from scheduling while any remain.").tag(38)
            .keyed(&["name"]),
        f("schedulingGroup", obj!(POD_SCHEDULING_GROUP), "Alpha: the group the pod is scheduled together with.").tag(43),
        f("securityContext", obj!(POD_SECURITY_CONTEXT), "Pod-level security attributes and defaults for the containers.").tag(14),
        f("serviceAccount", Type::String, "Deprecated alias of serviceAccountName.").tag(9),
        f("serviceAccountName", Type::String, "The ServiceAccount the pod runs as.").tag(8),
        f("setHostnameAsFQDN", Type::Boolean, "Set the kernel hostname to the pod's fully qualified domain name.").tag(35).keeps_zero(),
        f("shareProcessNamespace", Type::Boolean, "Share one process namespace between all containers of the pod.").tag(27).keeps_zero(),
        f("subdomain", Type::String, "Gives the pod the FQDN `<hostname>.<subdomain>.<namespace>.svc.<cluster domain>`.").tag(17),
        f("terminationGracePeriodSeconds", Type::Int64, "Seconds between the termination signal and the kill on deletion. Default 30.").tag(4).keeps_zero(),
        f("tolerations", list!(TOLERATION), "Taints the pod tolerates.").tag(22).atomic(),
        f("topologySpreadConstraints", list!(TOPOLOGY_SPREAD_CONSTRAINT), "How the pod's group is spread across topology domains.").tag(33)
            .keyed(&["topologyKey", "whenUnsatisfiable"]),
        f("volumes", list!(VOLUME), "Volumes the containers can mount.").tag(1)
            .keyed(&["name"])
            .strategy("merge,retainKeys"),
    ],
);

pub const AFFINITY: TypeDef = TypeDef::new(
    core_type!("Affinity"),
    "A group of affinity scheduling rules.",
    &[
        f(
            "nodeAffinity",
            obj!(NODE_AFFINITY),
            "Which nodes the pod may or prefers to run on.",
        )
        .tag(1),
        f(
            "podAffinity",
            obj!(POD_AFFINITY),
            "Pods this pod should run near (same topology domain).",
        )
        .tag(2),
        f(
            "podAntiAffinity",
            obj!(POD_ANTI_AFFINITY),
            "Pods this pod should run away from.",
        )
        .tag(3),
    ],
);

pub const NODE_AFFINITY: TypeDef = TypeDef::new(
    core_type!("NodeAffinity"),
    "Node affinity rules: required and preferred node selectors.",
    &[
        f(
            "preferredDuringSchedulingIgnoredDuringExecution",
            list!(PREFERRED_SCHEDULING_TERM),
            "Weighted preferences; nodes matching more weight are favoured.",
        )
        .tag(2)
        .atomic(),
        f(
            "requiredDuringSchedulingIgnoredDuringExecution",
            obj!(NODE_SELECTOR),
            "What a node must match for the pod to be scheduled there.",
        )
        .tag(1),
    ],
);

pub const NODE_SELECTOR: TypeDef = TypeDef::new(
    core_type!("NodeSelector"),
    "A union of node selector terms: a node matching any term matches.",
    &[f(
        "nodeSelectorTerms",
        list!(NODE_SELECTOR_TERM),
        "The terms, ORed.",
    )
    .tag(1)
    .req()
    .atomic()],
)
.atomic();

pub const NODE_SELECTOR_TERM: TypeDef = TypeDef::new(
    core_type!("NodeSelectorTerm"),
    "Requirements on node labels and fields, ANDed; an empty term matches nothing.",
    &[
        f(
            "matchExpressions",
            list!(NODE_SELECTOR_REQUIREMENT),
            "Requirements on node labels.",
        )
        .tag(1)
        .atomic(),
        f(
            "matchFields",
            list!(NODE_SELECTOR_REQUIREMENT),
            "Requirements on node fields.",
        )
        .tag(2)
        .atomic(),
    ],
)
.atomic();

pub const NODE_SELECTOR_REQUIREMENT: TypeDef = TypeDef::new(
    core_type!("NodeSelectorRequirement"),
    "A key, an operator and values that a node label or field must satisfy.",
    &[
        f("key", Type::String, "The label or field key.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "operator",
            Type::String,
            "`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "values",
            STRINGS,
            "The values; one integer for Gt and Lt, none for Exists and DoesNotExist.",
        )
        .tag(3)
        .atomic(),
    ],
);

pub const PREFERRED_SCHEDULING_TERM: TypeDef = TypeDef::new(
    core_type!("PreferredSchedulingTerm"),
    "A node selector term with a weight.",
    &[
        f(
            "preference",
            obj!(NODE_SELECTOR_TERM),
            "The term nodes are matched against.",
        )
        .tag(2)
        .req(),
        f("weight", Type::Int32, "Weight of a match, 1-100.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const POD_AFFINITY: TypeDef = TypeDef::new(
    core_type!("PodAffinity"),
    "Rules placing the pod in the same domain as other pods.",
    &[
        f(
            "preferredDuringSchedulingIgnoredDuringExecution",
            list!(WEIGHTED_POD_AFFINITY_TERM),
            "Weighted preferences.",
        )
        .tag(2)
        .atomic(),
        f(
            "requiredDuringSchedulingIgnoredDuringExecution",
            list!(POD_AFFINITY_TERM),
            "Terms that must all hold at scheduling time.",
        )
        .tag(1)
        .atomic(),
    ],
);

pub const POD_ANTI_AFFINITY: TypeDef = TypeDef::new(
    core_type!("PodAntiAffinity"),
    "Rules keeping the pod out of the domains of other pods.",
    &[
        f(
            "preferredDuringSchedulingIgnoredDuringExecution",
            list!(WEIGHTED_POD_AFFINITY_TERM),
            "Weighted preferences.",
        )
        .tag(2)
        .atomic(),
        f(
            "requiredDuringSchedulingIgnoredDuringExecution",
            list!(POD_AFFINITY_TERM),
            "Terms that must all hold at scheduling time.",
        )
        .tag(1)
        .atomic(),
    ],
);

pub const WEIGHTED_POD_AFFINITY_TERM: TypeDef = TypeDef::new(
    core_type!("WeightedPodAffinityTerm"),
    "A pod affinity term with a weight.",
    &[
        f("podAffinityTerm", obj!(POD_AFFINITY_TERM), "The term.")
            .tag(2)
            .req(),
        f("weight", Type::Int32, "Weight of a match, 1-100.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const POD_AFFINITY_TERM: TypeDef = TypeDef::new(
    core_type!("PodAffinityTerm"),
    "The pods (by labels, in namespaces) whose topology domain this pod should share or avoid.",
    &[
        f("labelSelector", obj!(meta::LABEL_SELECTOR), "Which pods the term is about.").tag(1),
        f("matchLabelKeys", STRINGS, "Label keys whose values on this pod are added to labelSelector with In.").tag(5).atomic(),
        f("mismatchLabelKeys", STRINGS, "Label keys whose values on this pod are added to labelSelector with NotIn.").tag(6).atomic(),
        f("namespaceSelector", obj!(meta::LABEL_SELECTOR), "Which namespaces the pods are looked for in.").tag(4),
        f("namespaces", STRINGS, "Namespaces the pods are looked for in; with neither this nor namespaceSelector, the pod's own.").tag(2).atomic(),
        f("topologyKey", Type::String, "The node label whose value defines a domain (`kubernetes.io/hostname`).").tag(3).keeps_zero().req(),
    ],
);

pub const CONTAINER: TypeDef = TypeDef::new(
    core_type!("Container"),
    "A single application container that runs within a pod.",
    &[
        f("args", STRINGS, "Arguments to the entrypoint; `$(VAR)` expands environment variables. Default the image's CMD.").tag(4).atomic(),
        f("command", STRINGS, "The entrypoint, not run in a shell; `$(VAR)` expands. Default the image's ENTRYPOINT.").tag(3).atomic(),
        f("env", list!(ENV_VAR), "Environment variables to set in the container.").tag(7).keyed(&["name"]),
        f("envFrom", list!(ENV_FROM_SOURCE), "Sources whose keys all become environment variables; env wins on clashes.").tag(19).atomic(),
        f("image", Type::String, "The container image to run.").tag(2),
        f("imagePullPolicy", Type::String, "`Always`, `Never` or `IfNotPresent`; default Always for `:latest`, else IfNotPresent.").tag(14),
        f("lifecycle", obj!(LIFECYCLE), "Actions the system takes after start and before stop.").tag(12),
        f("livenessProbe", obj!(PROBE), "Periodic check of liveness; the container is restarted when it fails.").tag(10),
        f("name", Type::String, "Name of the container, a DNS label unique in the pod. Cannot be updated.").tag(1).keeps_zero().req(),
        f("ports", list!(CONTAINER_PORT), "Ports the container exposes; informational, except for host ports.").tag(6)
            .keyed(&["containerPort", "protocol"]),
        f("readinessProbe", obj!(PROBE), "Periodic check of readiness; the pod leaves service endpoints while it fails.").tag(11),
        f("resizePolicy", list!(CONTAINER_RESIZE_POLICY), "How each resource is resized in place.").tag(23).atomic(),
        f("resources", obj!(RESOURCE_REQUIREMENTS), "Compute resources the container requests and is limited to.").tag(8),
        f("restartPolicy", Type::String, "Per-container restart policy; `Always` on an init container makes it a sidecar.").tag(24).keeps_zero(),
        f("restartPolicyRules", list!(CONTAINER_RESTART_RULE), "Rules on exit codes that decide whether the container restarts.").tag(25).atomic(),
        f("securityContext", obj!(SECURITY_CONTEXT), "Security options of the container, overriding the pod's.").tag(15),
        f("startupProbe", obj!(PROBE), "Check that must succeed before the other probes start.").tag(22),
        f("stdin", Type::Boolean, "Allocate a stdin buffer for the container. Default false.").tag(16),
        f("stdinOnce", Type::Boolean, "Close stdin after the first attach session disconnects. Default false.").tag(17),
        f("terminationMessagePath", Type::String, "File whose content becomes the termination message. Default /dev/termination-log.").tag(13),
        f("terminationMessagePolicy", Type::String, "`File` (default) or `FallbackToLogsOnError` for the termination message.").tag(20),
        f("tty", Type::Boolean, "Allocate a TTY; needs stdin. Default false.").tag(18),
        f("volumeDevices", list!(VOLUME_DEVICE), "Block devices the container uses.").tag(21).keyed(&["devicePath"]),
        f("volumeMounts", list!(VOLUME_MOUNT), "Pod volumes mounted into the container's filesystem.").tag(9).keyed(&["mountPath"]),
        f("workingDir", Type::String, "Working directory; default the image's.").tag(5),
    ],
);

pub const EPHEMERAL_CONTAINER: TypeDef = TypeDef::new(
    core_type!("EphemeralContainer"),
    "A temporary container added to a running pod for debugging; it has no ports, probes or resources.",
    &[f("targetContainerName", Type::String, "The container whose namespaces (IPC, PID) this one joins.").tag(2)],
)
.extends(&CONTAINER)
.base_tag(1);

pub const ENV_VAR: TypeDef = TypeDef::new(
    core_type!("EnvVar"),
    "An environment variable in a container.",
    &[
        f("name", Type::String, "Name of the variable.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "value",
            Type::String,
            "Value; `$(VAR)` expands earlier variables. Default empty.",
        )
        .tag(2),
        f(
            "valueFrom",
            obj!(ENV_VAR_SOURCE),
            "Where the value comes from, instead of value.",
        )
        .tag(3),
    ],
);

pub const ENV_VAR_SOURCE: TypeDef = TypeDef::new(
    core_type!("EnvVarSource"),
    "The source of an environment variable's value; exactly one member is set.",
    &[
        f(
            "configMapKeyRef",
            obj!(CONFIG_MAP_KEY_SELECTOR),
            "A key of a ConfigMap.",
        )
        .tag(3),
        f(
            "fieldRef",
            obj!(OBJECT_FIELD_SELECTOR),
            "A field of the pod: metadata.name, metadata.namespace, status.podIP, ...",
        )
        .tag(1),
        f(
            "fileKeyRef",
            obj!(FILE_KEY_SELECTOR),
            "A key in an env file on a volume.",
        )
        .tag(5),
        f(
            "resourceFieldRef",
            obj!(RESOURCE_FIELD_SELECTOR),
            "A resource limit or request of a container.",
        )
        .tag(2),
        f(
            "secretKeyRef",
            obj!(SECRET_KEY_SELECTOR),
            "A key of a Secret.",
        )
        .tag(4),
    ],
);

pub const CONFIG_MAP_KEY_SELECTOR: TypeDef = TypeDef::new(
    core_type!("ConfigMapKeySelector"),
    "Selects a key of a ConfigMap.",
    &[
        f("key", Type::String, "The key.").tag(2).keeps_zero().req(),
        f("name", Type::String, "Name of the ConfigMap.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the ConfigMap or key may be missing.",
        )
        .tag(3)
        .keeps_zero(),
    ],
)
.atomic();

pub const SECRET_KEY_SELECTOR: TypeDef = TypeDef::new(
    core_type!("SecretKeySelector"),
    "Selects a key of a Secret.",
    &[
        f("key", Type::String, "The key.").tag(2).keeps_zero().req(),
        f("name", Type::String, "Name of the Secret.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the Secret or key may be missing.",
        )
        .tag(3)
        .keeps_zero(),
    ],
)
.atomic();

pub const OBJECT_FIELD_SELECTOR: TypeDef = TypeDef::new(
    core_type!("ObjectFieldSelector"),
    "Selects a field of the pod.",
    &[
        f(
            "apiVersion",
            Type::String,
            "Schema version the path is written in; default v1.",
        )
        .tag(1),
        f("fieldPath", Type::String, "Path of the field.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
)
.atomic();

pub const FILE_KEY_SELECTOR: TypeDef = TypeDef::new(
    core_type!("FileKeySelector"),
    "Selects a key of an env file on a volume.",
    &[
        f("key", Type::String, "The key.").tag(3).keeps_zero().req(),
        f(
            "optional",
            Type::Boolean,
            "Whether the file or key may be missing.",
        )
        .tag(4)
        .keeps_zero(),
        f("path", Type::String, "Path of the file within the volume.")
            .tag(2)
            .keeps_zero()
            .req(),
        f(
            "volumeName",
            Type::String,
            "Name of the volume holding the file.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
)
.atomic();

pub const RESOURCE_FIELD_SELECTOR: TypeDef = TypeDef::new(
    core_type!("ResourceFieldSelector"),
    "Selects a container's resource request or limit (limits.cpu, requests.memory, ...).",
    &[
        f(
            "containerName",
            Type::String,
            "The container; required for volumes, optional for env.",
        )
        .tag(1),
        f(
            "divisor",
            Type::Quantity,
            "The unit the value is expressed in; default 1.",
        )
        .tag(3),
        f("resource", Type::String, "The resource to select.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
)
.atomic();

pub const ENV_FROM_SOURCE: TypeDef = TypeDef::new(
    core_type!("EnvFromSource"),
    "A ConfigMap or Secret whose keys all become environment variables.",
    &[
        f(
            "configMapRef",
            obj!(CONFIG_MAP_ENV_SOURCE),
            "The ConfigMap.",
        )
        .tag(2),
        f("prefix", Type::String, "Prefix added to each key's name.").tag(1),
        f("secretRef", obj!(SECRET_ENV_SOURCE), "The Secret.").tag(3),
    ],
);

pub const CONFIG_MAP_ENV_SOURCE: TypeDef = TypeDef::new(
    core_type!("ConfigMapEnvSource"),
    "A ConfigMap to take environment variables from.",
    &[
        f("name", Type::String, "Name of the ConfigMap.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the ConfigMap may be missing.",
        )
        .tag(2)
        .keeps_zero(),
    ],
);

pub const SECRET_ENV_SOURCE: TypeDef = TypeDef::new(
    core_type!("SecretEnvSource"),
    "A Secret to take environment variables from.",
    &[
        f("name", Type::String, "Name of the Secret.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the Secret may be missing.",
        )
        .tag(2)
        .keeps_zero(),
    ],
);

pub const LIFECYCLE: TypeDef = TypeDef::new(
    core_type!("Lifecycle"),
    "Actions run in response to container lifecycle events.",
    &[
        f(
            "postStart",
            obj!(LIFECYCLE_HANDLER),
            "Run right after the container is created; failure restarts it.",
        )
        .tag(1),
        f(
            "preStop",
            obj!(LIFECYCLE_HANDLER),
            "Run before the container is terminated; the grace period keeps counting.",
        )
        .tag(2),
        f(
            "stopSignal",
            Type::String,
            "The signal sent to stop the container; default the image's.",
        )
        .tag(3)
        .keeps_zero(),
    ],
);

pub const LIFECYCLE_HANDLER: TypeDef = TypeDef::new(
    core_type!("LifecycleHandler"),
    "One action for a lifecycle hook; exactly one member is set.",
    &[
        f("exec", obj!(EXEC_ACTION), "Run a command in the container.").tag(1),
        f("httpGet", obj!(HTTP_GET_ACTION), "Send an HTTP GET.").tag(2),
        f("sleep", obj!(SLEEP_ACTION), "Sleep for a while.").tag(4),
        f(
            "tcpSocket",
            obj!(TCP_SOCKET_ACTION),
            "Deprecated, kept for compatibility: open a TCP connection.",
        )
        .tag(3),
    ],
);

pub const EXEC_ACTION: TypeDef = TypeDef::new(
    core_type!("ExecAction"),
    "A command run in the container.",
    &[f(
        "command",
        STRINGS,
        "The command and its arguments, not run in a shell; exit 0 is success.",
    )
    .tag(1)
    .atomic()],
);

pub const HTTP_GET_ACTION: TypeDef = TypeDef::new(
    core_type!("HTTPGetAction"),
    "An HTTP GET request; a 2xx or 3xx answer is success.",
    &[
        f(
            "host",
            Type::String,
            "Host to connect to; default the pod IP.",
        )
        .tag(3),
        f("httpHeaders", list!(HTTP_HEADER), "Headers to send.")
            .tag(5)
            .atomic(),
        f("path", Type::String, "Path to request.").tag(1),
        f(
            "port",
            Type::IntOrString,
            "Port number or name to connect to.",
        )
        .tag(2)
        .req(),
        f(
            "protocol",
            Type::String,
            "Alpha: the wire protocol of the probe; default HTTP/1.1.",
        )
        .tag(6)
        .keeps_zero(),
        f("scheme", Type::String, "`HTTP` (default) or `HTTPS`.").tag(4),
    ],
);

pub const HTTP_HEADER: TypeDef = TypeDef::new(
    core_type!("HTTPHeader"),
    "A header of an HTTP probe.",
    &[
        f("name", Type::String, "Header name.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("value", Type::String, "Header value.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
);

pub const SLEEP_ACTION: TypeDef = TypeDef::new(
    core_type!("SleepAction"),
    "A pause.",
    &[f("seconds", Type::Int64, "Seconds to sleep.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const TCP_SOCKET_ACTION: TypeDef = TypeDef::new(
    core_type!("TCPSocketAction"),
    "A TCP connection attempt; connecting is success.",
    &[
        f(
            "host",
            Type::String,
            "Host to connect to; default the pod IP.",
        )
        .tag(2),
        f(
            "port",
            Type::IntOrString,
            "Port number or name to connect to.",
        )
        .tag(1)
        .req(),
    ],
);

pub const GRPC_ACTION: TypeDef = TypeDef::new(
    core_type!("GRPCAction"),
    "A gRPC health check.",
    &[
        f(
            "mode",
            Type::String,
            "Alpha: `TLS` (without certificate checks) or `Plaintext` (the default).",
        )
        .tag(3)
        .keeps_zero(),
        f("port", Type::Int32, "Port of the gRPC service.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "service",
            Type::String,
            "Service name sent in the HealthCheckRequest; default empty.",
        )
        .tag(2)
        .keeps_zero(),
    ],
);

pub const PROBE: TypeDef = TypeDef::new(
    core_type!("Probe"),
    "A health check run against a container to find out whether it is alive, ready or started.",
    &[
        f("exec", obj!(EXEC_ACTION), "Run a command in the container.").tag_in(1, 1),
        f(
            "failureThreshold",
            Type::Int32,
            "Consecutive failures after success that count as failed. Default 3.",
        )
        .tag(6),
        f("grpc", obj!(GRPC_ACTION), "Call a gRPC health service.").tag_in(1, 4),
        f("httpGet", obj!(HTTP_GET_ACTION), "Send an HTTP GET.").tag_in(1, 2),
        f(
            "initialDelaySeconds",
            Type::Int32,
            "Seconds after start before the first probe.",
        )
        .tag(2),
        f(
            "periodSeconds",
            Type::Int32,
            "Seconds between probes. Default 10.",
        )
        .tag(4),
        f(
            "successThreshold",
            Type::Int32,
            "Consecutive successes after failure that count as success. Default 1.",
        )
        .tag(5),
        f(
            "tcpSocket",
            obj!(TCP_SOCKET_ACTION),
            "Open a TCP connection.",
        )
        .tag_in(1, 3),
        f(
            "terminationGracePeriodSeconds",
            Type::Int64,
            "Grace period when a failed probe kills the container, overriding the pod's.",
        )
        .tag(7)
        .keeps_zero(),
        f(
            "timeoutSeconds",
            Type::Int32,
            "Seconds before a probe times out. Default 1.",
        )
        .tag(3),
    ],
);

pub const CONTAINER_PORT: TypeDef = TypeDef::new(
    core_type!("ContainerPort"),
    "A network port in a single container.",
    &[
        f(
            "containerPort",
            Type::Int32,
            "The port number on the pod's IP.",
        )
        .tag(3)
        .keeps_zero()
        .req(),
        f("hostIP", Type::String, "Host IP to bind the host port to.").tag(5),
        f(
            "hostPort",
            Type::Int32,
            "Port on the host to expose it on; most pods need none.",
        )
        .tag(2),
        f(
            "name",
            Type::String,
            "An IANA service name, unique in the pod, that services can refer to.",
        )
        .tag(1),
        f(
            "protocol",
            Type::String,
            "`TCP` (default), `UDP` or `SCTP`.",
        )
        .tag(4),
    ],
);

pub const CONTAINER_RESIZE_POLICY: TypeDef = TypeDef::new(
    core_type!("ContainerResizePolicy"),
    "How one resource of a container is resized in place.",
    &[
        f("resourceName", Type::String, "`cpu` or `memory`.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "restartPolicy",
            Type::String,
            "`NotRequired` (default) or `RestartContainer`.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
    ],
);

pub const RESOURCE_REQUIREMENTS: TypeDef = TypeDef::new(
    core_type!("ResourceRequirements"),
    "Compute resource requests and limits.",
    &[
        f(
            "claims",
            list!(RESOURCE_CLAIM),
            "Names of the pod's resourceClaims this container uses.",
        )
        .tag(3)
        .keyed(&["name"]),
        f(
            "limits",
            RESOURCE_LIST,
            "The most of each resource allowed.",
        )
        .tag(1),
        f(
            "requests",
            RESOURCE_LIST,
            "The least of each resource needed; defaults to limits.",
        )
        .tag(2),
    ],
);

pub const RESOURCE_CLAIM: TypeDef = TypeDef::new(
    core_type!("ResourceClaim"),
    "A reference to one of the pod's resourceClaims.",
    &[
        f(
            "name",
            Type::String,
            "Name of the entry in the pod's resourceClaims.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "request",
            Type::String,
            "The request within the claim; empty for all of it.",
        )
        .tag(2),
    ],
);

pub const CONTAINER_RESTART_RULE: TypeDef = TypeDef::new(
    core_type!("ContainerRestartRule"),
    "What to do when a container exits in a way a rule matches.",
    &[
        f("action", Type::String, "`Restart`.").tag(1).req(),
        f(
            "exitCodes",
            obj!(CONTAINER_RESTART_RULE_ON_EXIT_CODES),
            "The exit codes the rule matches.",
        )
        .tag(2),
    ],
);

pub const CONTAINER_RESTART_RULE_ON_EXIT_CODES: TypeDef = TypeDef::new(
    core_type!("ContainerRestartRuleOnExitCodes"),
    "A set of exit codes.",
    &[
        f("operator", Type::String, "`In` or `NotIn` the values.")
            .tag(1)
            .req(),
        f("values", INT32S, "The exit codes.").tag(2).set(),
    ],
);

pub const SECURITY_CONTEXT: TypeDef = TypeDef::new(
    core_type!("SecurityContext"),
    "Security options of one container; they override the pod's.",
    &[
        f(
            "allowPrivilegeEscalation",
            Type::Boolean,
            "Whether a process may gain more privileges than its parent (no_new_privs).",
        )
        .tag(7)
        .keeps_zero(),
        f(
            "appArmorProfile",
            obj!(APP_ARMOR_PROFILE),
            "The AppArmor profile.",
        )
        .tag(12),
        f(
            "capabilities",
            obj!(CAPABILITIES),
            "Capabilities to add or drop.",
        )
        .tag(1),
        f(
            "privileged",
            Type::Boolean,
            "Run as privileged: root on the host. Default false.",
        )
        .tag(2)
        .keeps_zero(),
        f("procMount", Type::String, "`Default` or `Unmasked` /proc.")
            .tag(9)
            .keeps_zero(),
        f(
            "readOnlyRootFilesystem",
            Type::Boolean,
            "Mount the root filesystem read-only. Default false.",
        )
        .tag(6)
        .keeps_zero(),
        f("runAsGroup", Type::Int64, "GID of the entrypoint process.")
            .tag(8)
            .keeps_zero(),
        f(
            "runAsNonRoot",
            Type::Boolean,
            "Refuse to start the container if it would run as UID 0.",
        )
        .tag(5)
        .keeps_zero(),
        f("runAsUser", Type::Int64, "UID of the entrypoint process.")
            .tag(4)
            .keeps_zero(),
        f(
            "seLinuxOptions",
            obj!(SE_LINUX_OPTIONS),
            "The SELinux context.",
        )
        .tag(3),
        f(
            "seccompProfile",
            obj!(SECCOMP_PROFILE),
            "The seccomp profile.",
        )
        .tag(11),
        f(
            "windowsOptions",
            obj!(WINDOWS_SECURITY_CONTEXT_OPTIONS),
            "Windows-specific settings.",
        )
        .tag(10),
    ],
);

pub const APP_ARMOR_PROFILE: TypeDef = TypeDef::new(
    core_type!("AppArmorProfile"),
    "An AppArmor profile.",
    &[
        f(
            "localhostProfile",
            Type::String,
            "Name of a profile loaded on the node; for type Localhost.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "type",
            Type::String,
            "`RuntimeDefault`, `Localhost` or `Unconfined`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const CAPABILITIES: TypeDef = TypeDef::new(
    core_type!("Capabilities"),
    "POSIX capabilities added to or dropped from a running container.",
    &[
        f("add", STRINGS, "Capabilities to add.").tag(1).atomic(),
        f("drop", STRINGS, "Capabilities to drop.").tag(2).atomic(),
    ],
);

pub const SE_LINUX_OPTIONS: TypeDef = TypeDef::new(
    core_type!("SELinuxOptions"),
    "An SELinux label.",
    &[
        f("level", Type::String, "The SELinux level.").tag(4),
        f("role", Type::String, "The SELinux role.").tag(2),
        f("type", Type::String, "The SELinux type.").tag(3),
        f("user", Type::String, "The SELinux user.").tag(1),
    ],
);

pub const SECCOMP_PROFILE: TypeDef = TypeDef::new(
    core_type!("SeccompProfile"),
    "A seccomp profile; exactly one source is set.",
    &[
        f(
            "localhostProfile",
            Type::String,
            "Path of a profile on the node; for type Localhost.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "type",
            Type::String,
            "`RuntimeDefault`, `Localhost` or `Unconfined`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const WINDOWS_SECURITY_CONTEXT_OPTIONS: TypeDef = TypeDef::new(
    core_type!("WindowsSecurityContextOptions"),
    "Windows-specific security options.",
    &[
        f(
            "gmsaCredentialSpec",
            Type::String,
            "The GMSA credential spec content.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "gmsaCredentialSpecName",
            Type::String,
            "Name of the GMSA credential spec.",
        )
        .tag(1)
        .keeps_zero(),
        f(
            "hostProcess",
            Type::Boolean,
            "Run as a Windows host process.",
        )
        .tag(4)
        .keeps_zero(),
        f(
            "runAsUserName",
            Type::String,
            "User name of the entrypoint process.",
        )
        .tag(3)
        .keeps_zero(),
    ],
);

pub const VOLUME_DEVICE: TypeDef = TypeDef::new(
    core_type!("VolumeDevice"),
    "A raw block device mapped into a container.",
    &[
        f(
            "devicePath",
            Type::String,
            "Path in the container the device is mapped to.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "name",
            Type::String,
            "Name of a persistentVolumeClaim volume of the pod.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
    ],
);

pub const VOLUME_MOUNT: TypeDef = TypeDef::new(
    core_type!("VolumeMount"),
    "A volume mounted into a container.",
    &[
        f(
            "bindMountOptions",
            STRINGS,
            "Alpha: extra bind mount options: `noexec`, `nodev`, `nosuid`.",
        )
        .tag(8)
        .atomic(),
        f(
            "mountPath",
            Type::String,
            "Path in the container to mount at; must not contain `:`.",
        )
        .tag(3)
        .keeps_zero()
        .req(),
        f(
            "mountPropagation",
            Type::String,
            "`None` (default), `HostToContainer` or `Bidirectional`.",
        )
        .tag(5)
        .keeps_zero(),
        f("name", Type::String, "Name of a volume of the pod.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("readOnly", Type::Boolean, "Mount read-only. Default false.").tag(2),
        f(
            "recursiveReadOnly",
            Type::String,
            "`Disabled` (default), `IfPossible` or `Enabled` for submounts.",
        )
        .tag(7)
        .keeps_zero(),
        f(
            "subPath",
            Type::String,
            "Path within the volume to mount instead of its root.",
        )
        .tag(4),
        f(
            "subPathExpr",
            Type::String,
            "Like subPath, with `$(VAR)` expanded from the environment.",
        )
        .tag(6),
    ],
);

pub const POD_DNS_CONFIG: TypeDef = TypeDef::new(
    core_type!("PodDNSConfig"),
    "DNS settings of a pod, on top of dnsPolicy.",
    &[
        f("nameservers", STRINGS, "Name server IPs.")
            .tag(1)
            .atomic(),
        f("options", list!(POD_DNS_CONFIG_OPTION), "Resolver options.")
            .tag(3)
            .atomic(),
        f("searches", STRINGS, "Search domains for host-name lookup.")
            .tag(2)
            .atomic(),
    ],
);

pub const POD_DNS_CONFIG_OPTION: TypeDef = TypeDef::new(
    core_type!("PodDNSConfigOption"),
    "One resolver option.",
    &[
        f("name", Type::String, "Option name (`ndots`).").tag(1),
        f("value", Type::String, "Option value.")
            .tag(2)
            .keeps_zero(),
    ],
);

pub const EVICTION_RESPONDER: TypeDef = TypeDef::new(
    core_type!("EvictionResponder"),
    "Alpha: a component told before the pod is evicted.",
    &[f("name", Type::String, "Name of the responder.")
        .tag(1)
        .keeps_zero()
        .req()],
)
.open();

pub const HOST_ALIAS: TypeDef = TypeDef::new(
    core_type!("HostAlias"),
    "An IP and host names to put in the pod's /etc/hosts.",
    &[
        f("hostnames", STRINGS, "Host names for the IP.")
            .tag(2)
            .atomic(),
        f("ip", Type::String, "The IP address.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const LOCAL_OBJECT_REFERENCE: TypeDef = TypeDef::new(
    core_type!("LocalObjectReference"),
    "Names an object in the same namespace.",
    &[f("name", Type::String, "Name of the object.").tag(1)],
)
.atomic();

pub const POD_OS: TypeDef = TypeDef::new(
    core_type!("PodOS"),
    "The operating system of a pod.",
    &[f("name", Type::String, "`linux` or `windows`.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const POD_READINESS_GATE: TypeDef = TypeDef::new(
    core_type!("PodReadinessGate"),
    "A pod condition that must be true for the pod to be ready.",
    &[f("conditionType", Type::String, "The condition's type.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const POD_RESOURCE_CLAIM: TypeDef = TypeDef::new(
    core_type!("PodResourceClaim"),
    "A dynamic resource claim of the pod: an existing ResourceClaim or one made from a template.",
    &[
        f("name", Type::String, "Name of the claim within the pod.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "resourceClaimName",
            Type::String,
            "An existing ResourceClaim in the pod's namespace.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "resourceClaimTemplateName",
            Type::String,
            "A ResourceClaimTemplate to create the pod's own claim from.",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const POD_SCHEDULING_GATE: TypeDef = TypeDef::new(
    core_type!("PodSchedulingGate"),
    "A gate holding the pod back from scheduling.",
    &[f("name", Type::String, "Name of the gate.")
        .tag(1)
        .keeps_zero()
        .req()],
);

pub const POD_SCHEDULING_GROUP: TypeDef = TypeDef::new(
    core_type!("PodSchedulingGroup"),
    "Alpha: the group a pod is scheduled with.",
    &[f("podGroupName", Type::String, "Name of the pod group.")
        .tag(1)
        .keeps_zero()],
)
.open();

pub const POD_SECURITY_CONTEXT: TypeDef = TypeDef::new(
    core_type!("PodSecurityContext"),
    "Pod-level security attributes, and defaults for the containers' security contexts.",
    &[
        f(
            "appArmorProfile",
            obj!(APP_ARMOR_PROFILE),
            "The AppArmor profile of the containers.",
        )
        .tag(11),
        f(
            "fsGroup",
            Type::Int64,
            "A supplemental group that owns the volumes and is added to every container.",
        )
        .tag(5)
        .keeps_zero(),
        f(
            "fsGroupChangePolicy",
            Type::String,
            "`OnRootMismatch` or `Always`: when volume ownership is changed.",
        )
        .tag(9)
        .keeps_zero(),
        f(
            "runAsGroup",
            Type::Int64,
            "GID of the containers' entrypoints.",
        )
        .tag(6)
        .keeps_zero(),
        f(
            "runAsNonRoot",
            Type::Boolean,
            "Refuse to start containers that would run as UID 0.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "runAsUser",
            Type::Int64,
            "UID of the containers' entrypoints.",
        )
        .tag(2)
        .keeps_zero(),
        f(
            "seLinuxChangePolicy",
            Type::String,
            "`MountOption` or `Recursive`: how SELinux labels are applied to volumes.",
        )
        .tag(13)
        .keeps_zero(),
        f(
            "seLinuxOptions",
            obj!(SE_LINUX_OPTIONS),
            "The SELinux context of the containers.",
        )
        .tag(1),
        f(
            "seccompProfile",
            obj!(SECCOMP_PROFILE),
            "The seccomp profile of the containers.",
        )
        .tag(10),
        f(
            "supplementalGroups",
            INT64S,
            "Groups added to each container's first process.",
        )
        .tag(4)
        .atomic(),
        f(
            "supplementalGroupsPolicy",
            Type::String,
            "`Merge` (default) or `Strict`: how supplemental groups are computed.",
        )
        .tag(12)
        .keeps_zero(),
        f(
            "sysctls",
            list!(SYSCTL),
            "Namespaced sysctls set for the pod.",
        )
        .tag(7)
        .atomic(),
        f(
            "windowsOptions",
            obj!(WINDOWS_SECURITY_CONTEXT_OPTIONS),
            "Windows-specific settings of the containers.",
        )
        .tag(8),
    ],
);

pub const SYSCTL: TypeDef = TypeDef::new(
    core_type!("Sysctl"),
    "A kernel parameter to set.",
    &[
        f("name", Type::String, "Name of the parameter.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("value", Type::String, "Value to set.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
);

pub const TOLERATION: TypeDef = TypeDef::new(
    core_type!("Toleration"),
    "Lets the pod tolerate taints matching key, value and effect with the operator.",
    &[
        f(
            "effect",
            Type::String,
            "Taint effect to match: `NoSchedule`, `PreferNoSchedule`, `NoExecute`; empty matches all.",
        ).tag(4),
        f(
            "key",
            Type::String,
            "Taint key to match; empty with Exists matches all keys.",
        ).tag(1),
        f("operator", Type::String, "`Equal` (default) or `Exists`.").tag(2),
        f(
            "tolerationSeconds",
            Type::Int64,
            "For NoExecute: how long the pod stays bound after the taint appears.",
        ).tag(5).keeps_zero(),
        f(
            "value",
            Type::String,
            "Taint value to match; empty with Exists.",
        ).tag(3),
    ],
);

pub const TOPOLOGY_SPREAD_CONSTRAINT: TypeDef = TypeDef::new(
    core_type!("TopologySpreadConstraint"),
    "How matching pods are spread across the domains of a topology.",
    &[
        f(
            "labelSelector",
            obj!(meta::LABEL_SELECTOR),
            "Which pods are counted in each domain.",
        )
        .tag(4),
        f(
            "matchLabelKeys",
            STRINGS,
            "Label keys whose values on this pod narrow the selector.",
        )
        .tag(8)
        .atomic(),
        f(
            "maxSkew",
            Type::Int32,
            "Greatest allowed difference between the busiest and the emptiest domain.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "minDomains",
            Type::Int32,
            "Fewest eligible domains; below it the global minimum counts as 0.",
        )
        .tag(5)
        .keeps_zero(),
        f(
            "nodeAffinityPolicy",
            Type::String,
            "`Honor` (default) or `Ignore` the pod's node affinity when counting.",
        )
        .tag(6)
        .keeps_zero(),
        f(
            "nodeTaintsPolicy",
            Type::String,
            "`Honor` or `Ignore` (default) node taints when counting.",
        )
        .tag(7)
        .keeps_zero(),
        f(
            "topologyKey",
            Type::String,
            "Node label whose values are the domains.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f(
            "whenUnsatisfiable",
            Type::String,
            "`DoNotSchedule` (default) or `ScheduleAnyway`.",
        )
        .tag(3)
        .keeps_zero()
        .req(),
    ],
);

pub const VOLUME: TypeDef = TypeDef::new(
    core_type!("Volume"),
    "A named volume in a pod that its containers can mount; exactly one source is set.",
    &[
        f(
            "awsElasticBlockStore",
            obj!(AWS_ELASTIC_BLOCK_STORE),
            "Deprecated: an AWS EBS disk (use the CSI driver).",
        )
        .tag_in(2, 4),
        f(
            "azureDisk",
            obj!(AZURE_DISK),
            "Deprecated: an Azure data disk (use the CSI driver).",
        )
        .tag_in(2, 22),
        f(
            "azureFile",
            obj!(AZURE_FILE),
            "Deprecated: an Azure file share (use the CSI driver).",
        )
        .tag_in(2, 18),
        f("cephfs", obj!(CEPHFS), "Deprecated: a CephFS mount.").tag_in(2, 14),
        f(
            "cinder",
            obj!(CINDER),
            "Deprecated: an OpenStack Cinder volume (use the CSI driver).",
        )
        .tag_in(2, 13),
        f(
            "configMap",
            obj!(CONFIG_MAP_VOLUME_SOURCE),
            "A ConfigMap's keys as files.",
        )
        .tag_in(2, 19),
        f(
            "csi",
            obj!(CSI_VOLUME_SOURCE),
            "An ephemeral volume from a CSI driver.",
        )
        .tag_in(2, 28),
        f(
            "downwardAPI",
            obj!(DOWNWARD_API_VOLUME_SOURCE),
            "Pod metadata and resources as files.",
        )
        .tag_in(2, 16),
        f(
            "emptyDir",
            obj!(EMPTY_DIR_VOLUME_SOURCE),
            "An empty directory that lives as long as the pod.",
        )
        .tag_in(2, 2),
        f(
            "ephemeral",
            obj!(EPHEMERAL_VOLUME_SOURCE),
            "A volume from a PersistentVolumeClaim created and deleted with the pod.",
        )
        .tag_in(2, 29),
        f("fc", obj!(FC), "A Fibre Channel disk.").tag_in(2, 17),
        f(
            "flexVolume",
            obj!(FLEX_VOLUME),
            "Deprecated: a FlexVolume driver's volume.",
        )
        .tag_in(2, 12),
        f("flocker", obj!(FLOCKER), "Deprecated: a Flocker dataset.").tag_in(2, 15),
        f(
            "gcePersistentDisk",
            obj!(GCE_PERSISTENT_DISK),
            "Deprecated: a GCE persistent disk (use the CSI driver).",
        )
        .tag_in(2, 3),
        f(
            "gitRepo",
            obj!(GIT_REPO),
            "Deprecated: a git repository cloned into an empty directory.",
        )
        .tag_in(2, 5),
        f(
            "glusterfs",
            obj!(GLUSTERFS),
            "Deprecated: a GlusterFS mount.",
        )
        .tag_in(2, 9),
        f(
            "hostPath",
            obj!(HOST_PATH_VOLUME_SOURCE),
            "A file or directory of the host.",
        )
        .tag_in(2, 1),
        f(
            "image",
            obj!(IMAGE_VOLUME_SOURCE),
            "The content of an OCI image or artifact, read-only.",
        )
        .tag_in(2, 30),
        f("iscsi", obj!(ISCSI), "An iSCSI disk.").tag_in(2, 8),
        f(
            "name",
            Type::String,
            "Name of the volume, a DNS label unique in the pod.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f("nfs", obj!(NFS_VOLUME_SOURCE), "An NFS export.").tag_in(2, 7),
        f(
            "persistentVolumeClaim",
            obj!(PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
            "A PersistentVolumeClaim in the pod's namespace.",
        )
        .tag_in(2, 10),
        f(
            "photonPersistentDisk",
            obj!(PHOTON_PERSISTENT_DISK),
            "Deprecated: a Photon Controller disk.",
        )
        .tag_in(2, 23),
        f(
            "portworxVolume",
            obj!(PORTWORX_VOLUME),
            "Deprecated: a Portworx volume.",
        )
        .tag_in(2, 24),
        f(
            "projected",
            obj!(PROJECTED_VOLUME_SOURCE),
            "Several sources (secrets, config maps, downward API, tokens) in one directory.",
        )
        .tag_in(2, 26),
        f("quobyte", obj!(QUOBYTE), "Deprecated: a Quobyte mount.").tag_in(2, 21),
        f("rbd", obj!(RBD), "Deprecated: a Rados block device.").tag_in(2, 11),
        f("scaleIO", obj!(SCALE_IO), "Deprecated: a ScaleIO volume.").tag_in(2, 25),
        f(
            "secret",
            obj!(SECRET_VOLUME_SOURCE),
            "A Secret's keys as files.",
        )
        .tag_in(2, 6),
        f(
            "storageos",
            obj!(STORAGEOS),
            "Deprecated: a StorageOS volume.",
        )
        .tag_in(2, 27),
        f(
            "vsphereVolume",
            obj!(VSPHERE_VOLUME),
            "Deprecated: a vSphere disk (use the CSI driver).",
        )
        .tag_in(2, 20),
    ],
);

pub const KEY_TO_PATH: TypeDef = TypeDef::new(
    core_type!("KeyToPath"),
    "Maps a key to a file path within a volume.",
    &[
        f("key", Type::String, "The key to project.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "mode",
            Type::Int32,
            "Permission bits of the file, 0000-0777; default the volume's defaultMode.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "path",
            Type::String,
            "Relative path of the file; must not contain `..`.",
        )
        .tag(2)
        .keeps_zero()
        .req(),
        f("user", Type::Int64, "Alpha: owner UID of the file.")
            .tag(4)
            .keeps_zero(),
    ],
);

pub const CONFIG_MAP_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("ConfigMapVolumeSource"),
    "A ConfigMap's data as files, one per key unless items chooses.",
    &[
        f(
            "defaultMode",
            Type::Int32,
            "Permission bits of the files, 0000-0777. Default 0644.",
        )
        .tag(3)
        .keeps_zero(),
        f("defaultUser", Type::Int64, "Alpha: owner UID of the files.")
            .tag(5)
            .keeps_zero(),
        f(
            "items",
            list!(KEY_TO_PATH),
            "Which keys to project and where; default all, each at its key.",
        )
        .tag(2)
        .atomic(),
        f("name", Type::String, "Name of the ConfigMap.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the ConfigMap or its keys may be missing.",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const SECRET_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("SecretVolumeSource"),
    "A Secret's data as files, one per key unless items chooses.",
    &[
        f(
            "defaultMode",
            Type::Int32,
            "Permission bits of the files, 0000-0777. Default 0644.",
        )
        .tag(3)
        .keeps_zero(),
        f("defaultUser", Type::Int64, "Alpha: owner UID of the files.")
            .tag(5)
            .keeps_zero(),
        f(
            "items",
            list!(KEY_TO_PATH),
            "Which keys to project and where; default all, each at its key.",
        )
        .tag(2)
        .atomic(),
        f(
            "optional",
            Type::Boolean,
            "Whether the Secret or its keys may be missing.",
        )
        .tag(4)
        .keeps_zero(),
        f(
            "secretName",
            Type::String,
            "Name of the Secret in the pod's namespace.",
        )
        .tag(1),
    ],
);

pub const EMPTY_DIR_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("EmptyDirVolumeSource"),
    "An empty directory for the pod's lifetime.",
    &[
        f(
            "medium",
            Type::String,
            "Storage medium: empty for the node's default, `Memory` for tmpfs.",
        )
        .tag(1),
        f(
            "mode",
            Type::Int32,
            "Alpha: permission bits of the directory.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "sizeLimit",
            Type::Quantity,
            "Most storage the directory may use.",
        )
        .tag(2),
    ],
);

pub const HOST_PATH_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("HostPathVolumeSource"),
    "A path on the host; a privileged source that most pods should not use.",
    &[
        f(
            "path",
            Type::String,
            "The path on the host; a symlink is followed.",
        ).tag(1).keeps_zero()
        .req(),
        f(
            "type",
            Type::String,
            "What must be at the path: `Directory`, `DirectoryOrCreate`, `File`, `Socket`, ...; default no check.",
        ).tag(2).keeps_zero(),
    ],
);

pub const PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("PersistentVolumeClaimVolumeSource"),
    "A PersistentVolumeClaim in the pod's namespace.",
    &[
        f("claimName", Type::String, "Name of the claim.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("readOnly", Type::Boolean, "Mount read-only. Default false.").tag(2),
    ],
);

pub const NFS_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("NFSVolumeSource"),
    "An NFS export, which need not be owned by the pod.",
    &[
        f("path", Type::String, "Path exported by the server.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("readOnly", Type::Boolean, "Mount read-only. Default false.").tag(3),
        f("server", Type::String, "Host name or IP of the NFS server.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const CSI_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("CSIVolumeSource"),
    "An ephemeral volume provided by a CSI driver.",
    &[
        f("driver", Type::String, "Name of the CSI driver.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "fsType",
            Type::String,
            "Filesystem type to mount (`ext4`); default left to the driver.",
        )
        .tag(3)
        .keeps_zero(),
        f(
            "nodePublishSecretRef",
            obj!(LOCAL_OBJECT_REFERENCE),
            "A Secret passed to the driver's publish calls.",
        )
        .tag(5),
        f("readOnly", Type::Boolean, "Mount read-only. Default false.")
            .tag(2)
            .keeps_zero(),
        f(
            "volumeAttributes",
            STRING_MAP,
            "Driver-specific properties.",
        )
        .tag(4),
    ],
);

pub const IMAGE_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("ImageVolumeSource"),
    "An OCI image or artifact mounted read-only.",
    &[
        f(
            "pullPolicy",
            Type::String,
            "`Always`, `Never` or `IfNotPresent`, as for container images.",
        )
        .tag(2),
        f(
            "reference",
            Type::String,
            "The image or artifact reference.",
        )
        .tag(1),
    ],
);

pub const DOWNWARD_API_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("DownwardAPIVolumeSource"),
    "Pod information as files.",
    &[
        f(
            "defaultMode",
            Type::Int32,
            "Permission bits of the files, 0000-0777. Default 0644.",
        )
        .tag(2)
        .keeps_zero(),
        f("defaultUser", Type::Int64, "Alpha: owner UID of the files.")
            .tag(3)
            .keeps_zero(),
        f("items", list!(DOWNWARD_API_VOLUME_FILE), "The files.")
            .tag(1)
            .atomic(),
    ],
);

pub const DOWNWARD_API_VOLUME_FILE: TypeDef = TypeDef::new(
    core_type!("DownwardAPIVolumeFile"),
    "One file holding a pod field or a container resource.",
    &[
        f(
            "fieldRef",
            obj!(OBJECT_FIELD_SELECTOR),
            "A pod field: metadata.name, metadata.labels, ...",
        )
        .tag(2),
        f(
            "mode",
            Type::Int32,
            "Permission bits of the file, 0000-0777.",
        )
        .tag(4)
        .keeps_zero(),
        f(
            "path",
            Type::String,
            "Relative path of the file; must not contain `..`.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "resourceFieldRef",
            obj!(RESOURCE_FIELD_SELECTOR),
            "A container's resource limit or request.",
        )
        .tag(3),
        f("user", Type::Int64, "Alpha: owner UID of the file.")
            .tag(5)
            .keeps_zero(),
    ],
);

pub const PROJECTED_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("ProjectedVolumeSource"),
    "Several volume sources projected into one directory.",
    &[
        f(
            "defaultMode",
            Type::Int32,
            "Permission bits of the files, 0000-0777. Default 0644.",
        )
        .tag(2)
        .keeps_zero(),
        f("defaultUser", Type::Int64, "Alpha: owner UID of the files.")
            .tag(3)
            .keeps_zero(),
        f("sources", list!(VOLUME_PROJECTION), "The sources.")
            .tag(1)
            .atomic(),
    ],
);

pub const VOLUME_PROJECTION: TypeDef = TypeDef::new(
    core_type!("VolumeProjection"),
    "One source of a projected volume; exactly one member is set.",
    &[
        f(
            "clusterTrustBundle",
            obj!(CLUSTER_TRUST_BUNDLE_PROJECTION),
            "Certificates of ClusterTrustBundles in one file.",
        )
        .tag(5),
        f(
            "configMap",
            obj!(CONFIG_MAP_PROJECTION),
            "A ConfigMap's keys.",
        )
        .tag(3),
        f(
            "downwardAPI",
            obj!(DOWNWARD_API_PROJECTION),
            "Pod information.",
        )
        .tag(2),
        f(
            "podCertificate",
            obj!(POD_CERTIFICATE_PROJECTION),
            "A key and a certificate issued for the pod.",
        )
        .tag(6),
        f("secret", obj!(SECRET_PROJECTION), "A Secret's keys.").tag(1),
        f(
            "serviceAccountToken",
            obj!(SERVICE_ACCOUNT_TOKEN_PROJECTION),
            "A bound service account token, refreshed before it expires.",
        )
        .tag(4),
    ],
);

pub const CONFIG_MAP_PROJECTION: TypeDef = TypeDef::new(
    core_type!("ConfigMapProjection"),
    "A ConfigMap's keys in a projected volume.",
    &[
        f(
            "items",
            list!(KEY_TO_PATH),
            "Which keys to project and where; default all.",
        )
        .tag(2)
        .atomic(),
        f("name", Type::String, "Name of the ConfigMap.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the ConfigMap or its keys may be missing.",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const SECRET_PROJECTION: TypeDef = TypeDef::new(
    core_type!("SecretProjection"),
    "A Secret's keys in a projected volume.",
    &[
        f(
            "items",
            list!(KEY_TO_PATH),
            "Which keys to project and where; default all.",
        )
        .tag(2)
        .atomic(),
        f("name", Type::String, "Name of the Secret.").tag_in(1, 1),
        f(
            "optional",
            Type::Boolean,
            "Whether the Secret or its keys may be missing.",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const DOWNWARD_API_PROJECTION: TypeDef = TypeDef::new(
    core_type!("DownwardAPIProjection"),
    "Pod information in a projected volume.",
    &[f("items", list!(DOWNWARD_API_VOLUME_FILE), "The files.")
        .tag(1)
        .atomic()],
);

pub const SERVICE_ACCOUNT_TOKEN_PROJECTION: TypeDef = TypeDef::new(
    core_type!("ServiceAccountTokenProjection"),
    "A token of the pod's service account, bound to the pod, in a projected volume.",
    &[
        f(
            "audience",
            Type::String,
            "Audience the token is for; default the API server's.",
        )
        .tag(1),
        f(
            "expirationSeconds",
            Type::Int64,
            "Requested lifetime, at least 600; the kubelet renews at 80%. Default 3600.",
        )
        .tag(2)
        .keeps_zero(),
        f("path", Type::String, "Relative path of the token file.")
            .tag(3)
            .keeps_zero()
            .req(),
        f("user", Type::Int64, "Alpha: owner UID of the file.")
            .tag(4)
            .keeps_zero(),
    ],
);

pub const CLUSTER_TRUST_BUNDLE_PROJECTION: TypeDef = TypeDef::new(
    core_type!("ClusterTrustBundleProjection"),
    "The certificates of one or more ClusterTrustBundles, in one file.",
    &[
        f(
            "labelSelector",
            obj!(meta::LABEL_SELECTOR),
            "Selects bundles of signerName by label.",
        )
        .tag(3),
        f("name", Type::String, "One bundle by name.")
            .tag(1)
            .keeps_zero(),
        f(
            "optional",
            Type::Boolean,
            "Whether missing bundles are allowed.",
        )
        .tag(5)
        .keeps_zero(),
        f("path", Type::String, "Relative path of the file.")
            .tag(4)
            .keeps_zero()
            .req(),
        f(
            "signerName",
            Type::String,
            "Selects the bundles of this signer.",
        )
        .tag(2)
        .keeps_zero(),
        f("user", Type::Int64, "Alpha: owner UID of the file.")
            .tag(6)
            .keeps_zero(),
    ],
);

pub const POD_CERTIFICATE_PROJECTION: TypeDef = TypeDef::new(
    core_type!("PodCertificateProjection"),
    "Beta: a private key and a certificate from a PodCertificateRequest signer.",
    &[
        f(
            "certificateChainPath",
            Type::String,
            "Where to write the certificate chain.",
        )
        .tag(6),
        f(
            "credentialBundlePath",
            Type::String,
            "Where to write the key and chain together.",
        )
        .tag(4),
        f("keyPath", Type::String, "Where to write the private key.").tag(5),
        f(
            "keyType",
            Type::String,
            "The key algorithm (`ED25519`, `ECDSAP256`, `RSA3072`, ...).",
        )
        .tag(2)
        .req(),
        f(
            "maxExpirationSeconds",
            Type::Int32,
            "Longest certificate lifetime to ask for.",
        )
        .tag(3)
        .keeps_zero(),
        f("signerName", Type::String, "The signer to ask.")
            .tag(1)
            .req(),
        f(
            "userAnnotations",
            STRING_MAP,
            "Annotations passed on to the signer.",
        )
        .tag(7),
    ],
)
.open();

pub const EPHEMERAL_VOLUME_SOURCE: TypeDef = TypeDef::new(
    core_type!("EphemeralVolumeSource"),
    "A volume from a PersistentVolumeClaim that lives and dies with the pod.",
    &[f(
        "volumeClaimTemplate",
        obj!(PERSISTENT_VOLUME_CLAIM_TEMPLATE),
        "The claim to create, named `<pod>-<volume>`.",
    )
    .tag(1)],
);

pub const PERSISTENT_VOLUME_CLAIM_TEMPLATE: TypeDef = TypeDef::new(
    core_type!("PersistentVolumeClaimTemplate"),
    "What a PersistentVolumeClaim made for an ephemeral volume looks like.",
    &[
        f(
            "metadata",
            obj!(meta::OBJECT_META),
            "Labels and annotations copied onto the claim.",
        )
        .tag(1),
        f(
            "spec",
            obj!(PERSISTENT_VOLUME_CLAIM_SPEC),
            "The claim's spec, copied unchanged.",
        )
        .tag(2)
        .req(),
    ],
);

pub const PERSISTENT_VOLUME_CLAIM_SPEC: TypeDef = TypeDef::new(
    core_type!("PersistentVolumeClaimSpec"),
    "The storage a PersistentVolumeClaim asks for.",
    &[
        f(
            "accessModes",
            STRINGS,
            "`ReadWriteOnce`, `ReadOnlyMany`, `ReadWriteMany`, `ReadWriteOncePod`.",
        )
        .tag(1)
        .atomic(),
        f(
            "dataSource",
            obj!(TYPED_LOCAL_OBJECT_REFERENCE),
            "A snapshot or claim to populate the volume from.",
        )
        .tag(7),
        f(
            "dataSourceRef",
            obj!(TYPED_OBJECT_REFERENCE),
            "Any object to populate the volume from, through a volume populator.",
        )
        .tag(8),
        f(
            "resources",
            obj!(VOLUME_RESOURCE_REQUIREMENTS),
            "The least (and most) storage the volume should have.",
        )
        .tag(2),
        f(
            "selector",
            obj!(meta::LABEL_SELECTOR),
            "Which PersistentVolumes may bind.",
        )
        .tag(4),
        f(
            "storageClassName",
            Type::String,
            "The StorageClass to provision from.",
        )
        .tag(5)
        .keeps_zero(),
        f(
            "volumeAttributesClassName",
            Type::String,
            "The VolumeAttributesClass of the volume.",
        )
        .tag(9)
        .keeps_zero(),
        f(
            "volumeMode",
            Type::String,
            "`Filesystem` (default) or `Block`.",
        )
        .tag(6)
        .keeps_zero(),
        f(
            "volumeName",
            Type::String,
            "The PersistentVolume to bind to.",
        )
        .tag(3),
    ],
);

pub const TYPED_LOCAL_OBJECT_REFERENCE: TypeDef = TypeDef::new(
    core_type!("TypedLocalObjectReference"),
    "Names an object of a given kind in the same namespace.",
    &[
        f(
            "apiGroup",
            Type::String,
            "API group of the kind; empty for core.",
        )
        .tag(1)
        .keeps_zero(),
        f("kind", Type::String, "Kind of the object.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("name", Type::String, "Name of the object.")
            .tag(3)
            .keeps_zero()
            .req(),
    ],
)
.atomic();

pub const TYPED_OBJECT_REFERENCE: TypeDef = TypeDef::new(
    core_type!("TypedObjectReference"),
    "Names an object of a given kind, possibly in another namespace.",
    &[
        f(
            "apiGroup",
            Type::String,
            "API group of the kind; empty for core.",
        )
        .tag(1)
        .keeps_zero(),
        f("kind", Type::String, "Kind of the object.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("name", Type::String, "Name of the object.")
            .tag(3)
            .keeps_zero()
            .req(),
        f(
            "namespace",
            Type::String,
            "Namespace of the object; needs a ReferenceGrant when it differs.",
        )
        .tag(4)
        .keeps_zero(),
    ],
);

pub const VOLUME_RESOURCE_REQUIREMENTS: TypeDef = TypeDef::new(
    core_type!("VolumeResourceRequirements"),
    "Storage requests and limits of a volume.",
    &[
        f("limits", RESOURCE_LIST, "The most storage allowed.").tag(1),
        f("requests", RESOURCE_LIST, "The least storage needed.").tag(2),
    ],
);

/// A rarely used in-tree volume source, described by its main fields only and kept open.
const fn rare(
    name: &'static str,
    description: &'static str,
    fields: &'static [super::Field],
) -> TypeDef {
    TypeDef::new(name, description, fields).open()
}

const FS_TYPE: super::Field = f(
    "fsType",
    Type::String,
    "Filesystem type to mount (`ext4`, `xfs`).",
);
const READ_ONLY: super::Field = f("readOnly", Type::Boolean, "Mount read-only. Default false.");
const SECRET_REF: super::Field = f(
    "secretRef",
    obj!(LOCAL_OBJECT_REFERENCE),
    "A Secret with the credentials.",
);

pub const AWS_ELASTIC_BLOCK_STORE: TypeDef = rare(
    core_type!("AWSElasticBlockStoreVolumeSource"),
    "An AWS EBS disk.",
    &[
        FS_TYPE.tag(2),
        f(
            "partition",
            Type::Int32,
            "Partition to mount; 0 for the whole disk.",
        )
        .tag(3),
        READ_ONLY.tag(4),
        f("volumeID", Type::String, "ID of the EBS volume.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);
pub const AZURE_DISK: TypeDef = rare(
    core_type!("AzureDiskVolumeSource"),
    "An Azure data disk.",
    &[
        f(
            "cachingMode",
            Type::String,
            "Host caching: `None`, `ReadOnly` or `ReadWrite`.",
        )
        .tag(3)
        .keeps_zero(),
        f("diskName", Type::String, "Name of the disk.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("diskURI", Type::String, "URI of the disk.")
            .tag(2)
            .keeps_zero()
            .req(),
        FS_TYPE.tag(4).keeps_zero(),
        f("kind", Type::String, "`Shared`, `Dedicated` or `Managed`.")
            .tag(6)
            .keeps_zero(),
        READ_ONLY.tag(5).keeps_zero(),
    ],
);
pub const AZURE_FILE: TypeDef = rare(
    core_type!("AzureFileVolumeSource"),
    "An Azure file share.",
    &[
        READ_ONLY.tag(3),
        f(
            "secretName",
            Type::String,
            "Secret with the storage account name and key.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f("shareName", Type::String, "Name of the share.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
);
pub const CEPHFS: TypeDef = rare(
    core_type!("CephFSVolumeSource"),
    "A CephFS mount.",
    &[
        f("monitors", STRINGS, "Ceph monitors.")
            .tag(1)
            .req()
            .atomic(),
        f("path", Type::String, "Path to mount; default /.").tag(2),
        READ_ONLY.tag(6),
        f(
            "secretFile",
            Type::String,
            "Path to the key ring of the user.",
        )
        .tag(4),
        SECRET_REF.tag(5),
        f("user", Type::String, "The RADOS user; default admin.").tag(3),
    ],
);
pub const CINDER: TypeDef = rare(
    core_type!("CinderVolumeSource"),
    "An OpenStack Cinder volume.",
    &[
        FS_TYPE.tag(2),
        READ_ONLY.tag(3),
        SECRET_REF.tag(4),
        f("volumeID", Type::String, "ID of the volume.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);
pub const FC: TypeDef = rare(
    core_type!("FCVolumeSource"),
    "A Fibre Channel disk.",
    &[
        FS_TYPE.tag(3),
        f("lun", Type::Int32, "The target LUN.").tag(2).keeps_zero(),
        READ_ONLY.tag(4),
        f("targetWWNs", STRINGS, "Target world wide names.")
            .tag(1)
            .atomic(),
        f(
            "wwids",
            STRINGS,
            "Volume world wide identifiers, instead of targetWWNs and lun.",
        )
        .tag(5)
        .atomic(),
    ],
);
pub const FLEX_VOLUME: TypeDef = rare(
    core_type!("FlexVolumeSource"),
    "A volume of a FlexVolume driver.",
    &[
        f("driver", Type::String, "Name of the driver.")
            .tag(1)
            .keeps_zero()
            .req(),
        FS_TYPE.tag(2),
        f("options", STRING_MAP, "Driver options.").tag(5),
        READ_ONLY.tag(4),
        SECRET_REF.tag(3),
    ],
);
pub const FLOCKER: TypeDef = rare(
    core_type!("FlockerVolumeSource"),
    "A Flocker dataset.",
    &[
        f("datasetName", Type::String, "Name of the dataset.").tag(1),
        f("datasetUUID", Type::String, "UUID of the dataset.").tag(2),
    ],
);
pub const GCE_PERSISTENT_DISK: TypeDef = rare(
    core_type!("GCEPersistentDiskVolumeSource"),
    "A GCE persistent disk.",
    &[
        FS_TYPE.tag(2),
        f(
            "partition",
            Type::Int32,
            "Partition to mount; 0 for the whole disk.",
        )
        .tag(3),
        f("pdName", Type::String, "Name of the disk.")
            .tag(1)
            .keeps_zero()
            .req(),
        READ_ONLY.tag(4),
    ],
);
pub const GIT_REPO: TypeDef = rare(
    core_type!("GitRepoVolumeSource"),
    "A git repository cloned into an empty directory.",
    &[
        f("directory", Type::String, "Target directory name.").tag(3),
        f("repository", Type::String, "URL of the repository.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("revision", Type::String, "Commit to check out.").tag(2),
    ],
);
pub const GLUSTERFS: TypeDef = rare(
    core_type!("GlusterfsVolumeSource"),
    "A GlusterFS mount.",
    &[
        f(
            "endpoints",
            Type::String,
            "Endpoints object naming the Glusterfs servers.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f("path", Type::String, "Volume path.")
            .tag(2)
            .keeps_zero()
            .req(),
        READ_ONLY.tag(3),
    ],
);
pub const ISCSI: TypeDef = rare(
    core_type!("ISCSIVolumeSource"),
    "An iSCSI disk.",
    &[
        f(
            "chapAuthDiscovery",
            Type::Boolean,
            "Use CHAP for discovery.",
        )
        .tag(8),
        f(
            "chapAuthSession",
            Type::Boolean,
            "Use CHAP for the session.",
        )
        .tag(11),
        FS_TYPE.tag(5),
        f("initiatorName", Type::String, "Custom initiator name.")
            .tag(12)
            .keeps_zero(),
        f("iqn", Type::String, "Target iSCSI qualified name.")
            .tag(2)
            .keeps_zero()
            .req(),
        f(
            "iscsiInterface",
            Type::String,
            "Interface name; default `default` (tcp).",
        )
        .tag(4),
        f("lun", Type::Int32, "Target LUN.")
            .tag(3)
            .keeps_zero()
            .req(),
        f("portals", STRINGS, "More target portals.")
            .tag(7)
            .atomic(),
        READ_ONLY.tag(6),
        SECRET_REF.tag(10),
        f("targetPortal", Type::String, "Target portal, `IP[:port]`.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);
pub const PHOTON_PERSISTENT_DISK: TypeDef = rare(
    core_type!("PhotonPersistentDiskVolumeSource"),
    "A Photon Controller disk.",
    &[
        FS_TYPE.tag(2),
        f("pdID", Type::String, "ID of the disk.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);
pub const PORTWORX_VOLUME: TypeDef = rare(
    core_type!("PortworxVolumeSource"),
    "A Portworx volume.",
    &[
        FS_TYPE.tag(2),
        READ_ONLY.tag(3),
        f("volumeID", Type::String, "ID of the volume.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);
pub const QUOBYTE: TypeDef = rare(
    core_type!("QuobyteVolumeSource"),
    "A Quobyte mount.",
    &[
        f("group", Type::String, "Group to map access to.").tag(5),
        READ_ONLY.tag(3),
        f(
            "registry",
            Type::String,
            "Registry services, `host:port` comma-separated.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f("tenant", Type::String, "Tenant owning the volume.").tag(6),
        f("user", Type::String, "User to map access to.").tag(4),
        f("volume", Type::String, "Name of the volume.")
            .tag(2)
            .keeps_zero()
            .req(),
    ],
);
pub const RBD: TypeDef = rare(
    core_type!("RBDVolumeSource"),
    "A Rados block device.",
    &[
        FS_TYPE.tag(3),
        f("image", Type::String, "The RADOS image.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("keyring", Type::String, "Path to the key ring.").tag(6),
        f("monitors", STRINGS, "Ceph monitors.")
            .tag(1)
            .req()
            .atomic(),
        f("pool", Type::String, "The RADOS pool; default rbd.").tag(4),
        READ_ONLY.tag(8),
        SECRET_REF.tag(7),
        f("user", Type::String, "The RADOS user; default admin.").tag(5),
    ],
);
pub const SCALE_IO: TypeDef = rare(
    core_type!("ScaleIOVolumeSource"),
    "A ScaleIO volume.",
    &[
        FS_TYPE.tag(9),
        f("gateway", Type::String, "Host of the ScaleIO API gateway.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("protectionDomain", Type::String, "The protection domain.").tag(5),
        READ_ONLY.tag(10),
        f(
            "secretRef",
            obj!(LOCAL_OBJECT_REFERENCE),
            "A Secret with the ScaleIO user's credentials.",
        )
        .tag(3)
        .req(),
        f("sslEnabled", Type::Boolean, "Use TLS with the gateway.").tag(4),
        f(
            "storageMode",
            Type::String,
            "`ThickProvisioned` or `ThinProvisioned`.",
        )
        .tag(7),
        f("storagePool", Type::String, "The storage pool.").tag(6),
        f("system", Type::String, "Name of the storage system.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("volumeName", Type::String, "Name of an existing volume.").tag(8),
    ],
);
pub const STORAGEOS: TypeDef = rare(
    core_type!("StorageOSVolumeSource"),
    "A StorageOS volume.",
    &[
        FS_TYPE.tag(3),
        READ_ONLY.tag(4),
        SECRET_REF.tag(5),
        f("volumeName", Type::String, "Name of the volume.").tag(1),
        f(
            "volumeNamespace",
            Type::String,
            "StorageOS namespace of the volume.",
        )
        .tag(2),
    ],
);
pub const VSPHERE_VOLUME: TypeDef = rare(
    core_type!("VsphereVirtualDiskVolumeSource"),
    "A vSphere virtual disk.",
    &[
        FS_TYPE.tag(2),
        f("storagePolicyID", Type::String, "ID of the storage policy.").tag(4),
        f(
            "storagePolicyName",
            Type::String,
            "Name of the storage policy.",
        )
        .tag(3),
        f("volumePath", Type::String, "Path of the disk.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
);

pub const POD_STATUS: TypeDef = TypeDef::new(
    core_type!("PodStatus"),
    "The most recently observed state of a pod, which may lag behind the real one.",
    &[
        f(
            "allocatedResources",
            RESOURCE_LIST,
            "Resources allocated to the pod as a whole.",
        )
        .tag(19),
        f(
            "conditions",
            list!(POD_CONDITION),
            "Current service state of the pod.",
        )
        .tag(2)
        .keyed(&["type"]),
        f(
            "containerStatuses",
            list!(CONTAINER_STATUS),
            "One status per app container.",
        )
        .tag(8)
        .atomic(),
        f(
            "ephemeralContainerStatuses",
            list!(CONTAINER_STATUS),
            "One status per ephemeral container.",
        )
        .tag(13)
        .atomic(),
        f(
            "extendedResourceClaimStatus",
            obj!(POD_EXTENDED_RESOURCE_CLAIM_STATUS),
            "Alpha: the claim made for extended resources.",
        )
        .tag(18),
        f(
            "hostIP",
            Type::String,
            "Primary IP of the node the pod runs on.",
        )
        .tag(5),
        f(
            "hostIPs",
            list!(HOST_IP),
            "IPs of the node, one per family.",
        )
        .tag(16)
        .keyed(&["ip"]),
        f(
            "initContainerStatuses",
            list!(CONTAINER_STATUS),
            "One status per init container.",
        )
        .tag(10)
        .atomic(),
        f(
            "message",
            Type::String,
            "Why the pod is in its current phase, for people.",
        )
        .tag(3),
        f(
            "nodeAllocatableResourceClaimStatuses",
            list!(NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS),
            "Alpha: node-allocatable resources bound through claims.",
        )
        .tag(21)
        .atomic(),
        f(
            "nominatedNodeName",
            Type::String,
            "Node the scheduler preempted pods on for this pod.",
        )
        .tag(11),
        f(
            "observedGeneration",
            Type::Int64,
            "The metadata.generation this status was written for.",
        )
        .tag(17),
        f(
            "phase",
            Type::String,
            "`Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.",
        )
        .tag(1),
        f("podIP", Type::String, "Primary IP of the pod.").tag(6),
        f("podIPs", list!(POD_IP), "IPs of the pod, one per family.")
            .tag(12)
            .keyed(&["ip"]),
        f(
            "qosClass",
            Type::String,
            "`Guaranteed`, `Burstable` or `BestEffort`, from the resource requirements.",
        )
        .tag(9),
        f(
            "reason",
            Type::String,
            "Why the pod is in its current phase, CamelCase (`Evicted`).",
        )
        .tag(4),
        f(
            "resize",
            Type::String,
            "Deprecated: state of an in-place resize.",
        )
        .tag(14),
        f(
            "resourceClaimStatuses",
            list!(POD_RESOURCE_CLAIM_STATUS),
            "The ResourceClaims made for the pod's claims.",
        )
        .tag(15)
        .keyed(&["name"])
        .strategy("merge,retainKeys"),
        f(
            "resources",
            obj!(RESOURCE_REQUIREMENTS),
            "Pod-level resources in effect.",
        )
        .tag(20),
        f(
            "startTime",
            Type::Time,
            "When the kubelet acknowledged the pod, before pulling images.",
        )
        .tag(7),
        f(
            "volumeHealth",
            list!(POD_VOLUME_HEALTH),
            "Alpha: health of the pod's volumes.",
        )
        .tag(22)
        .atomic(),
    ],
);

// Deeper status records, written by the kubelet and controllers: described by their main
// fields and kept open.

pub const RESOURCE_STATUS: TypeDef = TypeDef::new(
    core_type!("ResourceStatus"),
    "Health of the devices behind one resource of a container.",
    &[
        f(
            "name",
            Type::String,
            "The resource name, as in the container's resources.",
        )
        .tag(1)
        .keeps_zero()
        .req(),
        f(
            "resources",
            list!(RESOURCE_HEALTH),
            "Health of each device.",
        )
        .tag(2)
        .keyed(&["resourceID"]),
    ],
)
.open();

pub const CONTAINER_USER: TypeDef = TypeDef::new(
    core_type!("ContainerUser"),
    "The identity a container's first process runs as.",
    &[f(
        "linux",
        obj!(LINUX_CONTAINER_USER),
        "UID, GID and supplemental groups on Linux.",
    )
    .tag(1)],
)
.open();

pub const RESOURCE_HEALTH: TypeDef = TypeDef::new(
    core_type!("ResourceHealth"),
    "Health of one device.",
    &[
        f(
            "health",
            Type::String,
            "`Healthy`, `Unhealthy` or `Unknown`.",
        )
        .tag(2),
        f("message", Type::String, "Details, for people.")
            .tag(6)
            .keeps_zero(),
        f("resourceID", Type::String, "The device's ID.")
            .tag(1)
            .keeps_zero()
            .req(),
    ],
)
.open();

pub const LINUX_CONTAINER_USER: TypeDef = TypeDef::new(
    core_type!("LinuxContainerUser"),
    "The Linux identity of a container's first process.",
    &[
        f("gid", Type::Int64, "Primary GID.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("supplementalGroups", INT64S, "Supplemental GIDs.")
            .tag(3)
            .atomic(),
        f("uid", Type::Int64, "UID.").tag(1).keeps_zero().req(),
    ],
)
.open();

pub const VOLUME_STATUS: TypeDef = TypeDef::new(
    core_type!("VolumeStatus"),
    "Status specific to a volume's source.",
    &[f(
        "image",
        obj!(IMAGE_VOLUME_STATUS),
        "Status of an image volume.",
    )
    .tag(1)],
)
.open();

pub const IMAGE_VOLUME_STATUS: TypeDef = TypeDef::new(
    core_type!("ImageVolumeStatus"),
    "Status of an image volume.",
    &[f("imageRef", Type::String, "Digest of the mounted image.")
        .tag(1)
        .req()],
)
.open();

pub const VOLUME_MOUNT_STATUS: TypeDef = TypeDef::new(
    core_type!("VolumeMountStatus"),
    "The state of one volume mount of a container.",
    &[
        f("mountPath", Type::String, "Where the volume is mounted.")
            .tag(2)
            .keeps_zero()
            .req(),
        f("name", Type::String, "Name of the volume.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "readOnly",
            Type::Boolean,
            "Whether it is mounted read-only.",
        )
        .tag(3),
        f(
            "recursiveReadOnly",
            Type::String,
            "Whether submounts are read-only too.",
        )
        .tag(4)
        .keeps_zero(),
        f(
            "volumeStatus",
            obj!(VOLUME_STATUS),
            "Source-specific status (the image of an image volume).",
        )
        .tag(5),
    ],
)
.open();

pub const POD_EXTENDED_RESOURCE_CLAIM_STATUS: TypeDef = TypeDef::new(
    core_type!("PodExtendedResourceClaimStatus"),
    "Alpha: the ResourceClaim made for a pod's extended resources.",
    &[f("resourceClaimName", Type::String, "Name of the claim.")
        .tag(2)
        .keeps_zero()
        .req()],
)
.open();

pub const NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS: TypeDef = TypeDef::new(
    core_type!("NodeAllocatableResourceClaimStatus"),
    "Alpha: node-allocatable resources bound to the pod through a claim.",
    &[f("resourceClaimName", Type::String, "Name of the claim.")
        .tag(1)
        .keeps_zero()
        .req()],
)
.open();

pub const POD_VOLUME_HEALTH: TypeDef = TypeDef::new(
    core_type!("PodVolumeHealth"),
    "Alpha: the health of one volume of the pod.",
    &[f("name", Type::String, "Name of the volume.")
        .tag(1)
        .keeps_zero()
        .req()],
)
.open();

pub const POD_CONDITION: TypeDef = TypeDef::new(
    core_type!("PodCondition"),
    "One condition of a pod: PodScheduled, Initialized, ContainersReady, Ready, ...",
    &[
        f(
            "lastProbeTime",
            Type::Time,
            "When the condition was last probed.",
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
            "observedGeneration",
            Type::Int64,
            "The metadata.generation the condition was set for.",
        )
        .tag(7),
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

pub const CONTAINER_STATUS: TypeDef = TypeDef::new(
    core_type!("ContainerStatus"),
    "The observed state of one container of a pod.",
    &[
        f(
            "allocatedResources",
            RESOURCE_LIST,
            "Resources the node allocated to the container.",
        )
        .tag(10),
        f(
            "allocatedResourcesStatus",
            list!(RESOURCE_STATUS),
            "Health of the devices allocated to the container.",
        )
        .tag(14)
        .keyed(&["name"]),
        f(
            "containerID",
            Type::String,
            "`<runtime>://<id>` of the container.",
        )
        .tag(8),
        f("image", Type::String, "The image the container runs.")
            .tag(6)
            .keeps_zero(),
        f("imageID", Type::String, "Digest of the image.")
            .tag(7)
            .keeps_zero(),
        f(
            "lastState",
            obj!(CONTAINER_STATE),
            "The state of the previous run, if it terminated.",
        )
        .tag(3),
        f("name", Type::String, "Name of the container.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "ready",
            Type::Boolean,
            "Whether the container passes its readiness probe.",
        )
        .tag(4)
        .keeps_zero()
        .req(),
        f(
            "resources",
            obj!(RESOURCE_REQUIREMENTS),
            "Requests and limits in effect after resizes.",
        )
        .tag(11),
        f(
            "restartCount",
            Type::Int32,
            "Times the container was restarted.",
        )
        .tag(5)
        .keeps_zero()
        .req(),
        f(
            "started",
            Type::Boolean,
            "Whether the container passed its startup probe.",
        )
        .tag(9)
        .keeps_zero(),
        f("state", obj!(CONTAINER_STATE), "The current state.").tag(2),
        f(
            "stopSignal",
            Type::String,
            "The signal that stops the container.",
        )
        .tag(15)
        .keeps_zero(),
        f(
            "user",
            obj!(CONTAINER_USER),
            "The identity the first process runs as.",
        )
        .tag(13),
        f(
            "volumeMounts",
            list!(VOLUME_MOUNT_STATUS),
            "Status of the volume mounts.",
        )
        .tag(12)
        .atomic(),
    ],
);

pub const CONTAINER_STATE: TypeDef = TypeDef::new(
    core_type!("ContainerState"),
    "Where a container is: waiting, running or terminated (one member is set).",
    &[
        f(
            "running",
            obj!(CONTAINER_STATE_RUNNING),
            "The container is running.",
        )
        .tag(2),
        f(
            "terminated",
            obj!(CONTAINER_STATE_TERMINATED),
            "The container has exited.",
        )
        .tag(3),
        f(
            "waiting",
            obj!(CONTAINER_STATE_WAITING),
            "The container has not started yet.",
        )
        .tag(1),
    ],
);

pub const CONTAINER_STATE_RUNNING: TypeDef = TypeDef::new(
    core_type!("ContainerStateRunning"),
    "A running container.",
    &[f("startedAt", Type::Time, "When it started.").tag(1)],
);

pub const CONTAINER_STATE_TERMINATED: TypeDef = TypeDef::new(
    core_type!("ContainerStateTerminated"),
    "An exited container.",
    &[
        f(
            "containerID",
            Type::String,
            "`<runtime>://<id>` of the container.",
        )
        .tag(7),
        f("exitCode", Type::Int32, "Its exit status.")
            .tag(1)
            .keeps_zero()
            .req(),
        f("finishedAt", Type::Time, "When it exited.").tag(6),
        f("message", Type::String, "Details of the exit.").tag(4),
        f(
            "reason",
            Type::String,
            "Short reason (`Completed`, `OOMKilled`).",
        )
        .tag(3),
        f("signal", Type::Int32, "The signal that ended it.").tag(2),
        f("startedAt", Type::Time, "When it started.").tag(5),
    ],
);

pub const CONTAINER_STATE_WAITING: TypeDef = TypeDef::new(
    core_type!("ContainerStateWaiting"),
    "A container not running yet.",
    &[
        f("message", Type::String, "Why it is not running yet.").tag(2),
        f(
            "reason",
            Type::String,
            "Short reason (`ContainerCreating`, `ImagePullBackOff`).",
        )
        .tag(1),
    ],
);

pub const HOST_IP: TypeDef = TypeDef::new(
    core_type!("HostIP"),
    "One IP of the node a pod runs on.",
    &[f("ip", Type::String, "The IP.").tag(1).keeps_zero().req()],
);

pub const POD_IP: TypeDef = TypeDef::new(
    core_type!("PodIP"),
    "One IP of a pod.",
    &[f("ip", Type::String, "The IP.").tag(1).keeps_zero().req()],
);

pub const POD_RESOURCE_CLAIM_STATUS: TypeDef = TypeDef::new(
    core_type!("PodResourceClaimStatus"),
    "The ResourceClaim made for one of the pod's claims.",
    &[
        f("name", Type::String, "Name of the pod's claim.")
            .tag(1)
            .keeps_zero()
            .req(),
        f(
            "resourceClaimName",
            Type::String,
            "Name of the ResourceClaim made; empty if none was needed.",
        )
        .tag(2)
        .keeps_zero(),
    ],
);
