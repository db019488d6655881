//! apps/v1: the Deployment and the types only it uses. Its pod template is core/v1's
//! PodTemplateSpec.

use super::{API_VERSION, KIND, METADATA, Type, TypeDef, f, list, meta, obj, pod};

/// A type name in apps/v1.
macro_rules! apps_type {
    ($name:literal) => {
        concat!("io.k8s.api.apps.v1.", $name)
    };
}

pub const DEPLOYMENT: TypeDef = TypeDef::new(
    apps_type!("Deployment"),
    "Declarative updates for pods and their ReplicaSets.",
    &[
        API_VERSION,
        KIND,
        METADATA,
        f(
            "spec",
            obj!(DEPLOYMENT_SPEC),
            "The desired behavior of the deployment.",
        )
        .tag(2),
        f(
            "status",
            obj!(DEPLOYMENT_STATUS),
            "The most recently observed state of the deployment. Read-only.",
        )
        .tag(3),
    ],
);

pub const DEPLOYMENT_SPEC: TypeDef = TypeDef::new(
    apps_type!("DeploymentSpec"),
    "The desired state of a deployment: how many pods of which template, and how to roll out changes.",
    &[
        f(
            "minReadySeconds",
            Type::Int32,
            "Seconds a new pod must be ready, without crashing, to count as available. Default 0.",
        )
        .tag(5),
        f("paused", Type::Boolean, "Whether the rollout is paused.").tag(7),
        f(
            "progressDeadlineSeconds",
            Type::Int32,
            "Seconds without progress before the rollout is reported as failed. Default 600.",
        )
        .tag(9)
        .keeps_zero(),
        f(
            "replicas",
            Type::Int32,
            "Number of desired pods. Default 1.",
        )
        .tag(1)
        .keeps_zero(),
        f(
            "revisionHistoryLimit",
            Type::Int32,
            "Old ReplicaSets kept for rollback. Default 10.",
        )
        .tag(6)
        .keeps_zero(),
        f(
            "selector",
            obj!(meta::LABEL_SELECTOR),
            "Which pods the deployment manages; must match the template's labels. Immutable.",
        )
        .tag(2)
        .req(),
        f(
            "strategy",
            obj!(DEPLOYMENT_STRATEGY),
            "How existing pods are replaced by new ones.",
        )
        .tag(4),
        f(
            "template",
            obj!(pod::POD_TEMPLATE_SPEC),
            "The pods to create; its restartPolicy must be Always.",
        )
        .tag(3)
        .req(),
    ],
);

pub const DEPLOYMENT_STRATEGY: TypeDef = TypeDef::new(
    apps_type!("DeploymentStrategy"),
    "How a deployment replaces its pods.",
    &[
        f(
            "rollingUpdate",
            obj!(ROLLING_UPDATE_DEPLOYMENT),
            "Parameters of a RollingUpdate; only with that type.",
        )
        .tag(2),
        f(
            "type",
            Type::String,
            "`RollingUpdate` (default) or `Recreate`.",
        )
        .tag(1),
    ],
);

pub const ROLLING_UPDATE_DEPLOYMENT: TypeDef = TypeDef::new(
    apps_type!("RollingUpdateDeployment"),
    "The pace of a rolling update.",
    &[
        f(
            "maxSurge",
            Type::IntOrString,
            "Pods (or percent of desired) allowed above the desired count. Default 25%.",
        )
        .tag(2),
        f(
            "maxUnavailable",
            Type::IntOrString,
            "Pods (or percent of desired) that may be unavailable. Default 25%.",
        )
        .tag(1),
    ],
);

pub const DEPLOYMENT_STATUS: TypeDef = TypeDef::new(
    apps_type!("DeploymentStatus"),
    "The observed state of a deployment.",
    &[
        f(
            "availableReplicas",
            Type::Int32,
            "Pods ready for at least minReadySeconds.",
        )
        .tag(4),
        f(
            "collisionCount",
            Type::Int32,
            "Hash collisions met when naming ReplicaSets.",
        )
        .tag(8)
        .keeps_zero(),
        f(
            "conditions",
            list!(DEPLOYMENT_CONDITION),
            "Latest observations of the deployment's state.",
        )
        .tag(6)
        .keyed(&["type"]),
        f(
            "observedGeneration",
            Type::Int64,
            "The generation the controller last acted on.",
        )
        .tag(1),
        f("readyReplicas", Type::Int32, "Pods with a Ready condition.").tag(7),
        f(
            "replicas",
            Type::Int32,
            "Pods targeted by the deployment, not terminating.",
        )
        .tag(2),
        f("terminatingReplicas", Type::Int32, "Pods being terminated.")
            .tag(9)
            .keeps_zero(),
        f(
            "unavailableReplicas",
            Type::Int32,
            "Pods still needed for 100% availability.",
        )
        .tag(5),
        f(
            "updatedReplicas",
            Type::Int32,
            "Pods with the desired template.",
        )
        .tag(3),
    ],
);

pub const DEPLOYMENT_CONDITION: TypeDef = TypeDef::new(
    apps_type!("DeploymentCondition"),
    "One condition of a deployment: Available, Progressing, ReplicaFailure.",
    &[
        f(
            "lastTransitionTime",
            Type::Time,
            "When the status last changed.",
        )
        .tag(7),
        f(
            "lastUpdateTime",
            Type::Time,
            "When the condition was last updated.",
        )
        .tag(6),
        f(
            "message",
            Type::String,
            "Details of the last transition, for people.",
        )
        .tag(5),
        f(
            "reason",
            Type::String,
            "CamelCase reason for the last transition.",
        )
        .tag(4),
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
