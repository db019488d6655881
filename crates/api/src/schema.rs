//! A hand-written description of the v1 types of every served kind and of the types they use:
//! for each field its JSON name, type, a one-line description, whether it is required, and the
//! list and patch extensions (`x-kubernetes-list-type`, `-list-map-keys`, `-patch-merge-key`,
//! `-patch-strategy`, `-map-type`) where Kubernetes sets them.
//!
//! Two things read it: [`crate::openapi`] renders it as the OpenAPI v3 documents kubectl reads
//! (`kubectl explain`, and whether the server does field validation), and [`strict`] walks a
//! request's object with it for `fieldValidation=Strict|Warn` (unknown and duplicate fields).
//!
//! Map of the module:
//! - [`Type`], [`Field`], [`TypeDef`]: the model. A type is named as Kubernetes' OpenAPI names
//!   it (`io.k8s.api.core.v1.PodSpec`), so the documents use kube-apiserver's schema names.
//! - `meta`: `meta/v1` (ObjectMeta, LabelSelector, Status, DeleteOptions, discovery types).
//! - `pod`: the Pod and everything in a PodSpec (containers, volumes, affinity, status).
//! - `core_v1`: the rest of core/v1 (Namespace, ConfigMap, Secret, ServiceAccount, Service,
//!   Event); `node`: the Node; `quota_v1`: LimitRange and ResourceQuota. `apps_v1`, `authentication_v1` (with v1beta1 and v1alpha1's
//!   SelfSubjectReview, and TokenRequest), `authorization_v1`, `rbac_v1`, `admission_v1`,
//!   `flowcontrol_v1` (FlowSchema, PriorityLevelConfiguration): one file per named group.
//! - [`kind_type`]: the top-level type of a served kind; [`kind_type_of`]: of any kind a
//!   request body may hold, subresource kinds included (TokenRequest).
//! - [`Proto`]: where each field sits in Kubernetes' protobuf encoding, for
//!   [`crate::protobuf`] to decode `application/vnd.kubernetes.protobuf` bodies with.
//! - [`strict`]: [`unknown_fields`] and [`duplicate_fields`]; [`parse`]: a body's Value
//!   and whether it repeats a key, in one pass, so the duplicate scan runs only then.
//!
//! Completeness: every field of the common types is described, so Strict validation can name
//! an unknown one. Types described only in part (the rarely used volume sources, deep corners
//! of the status) are *open* (`x-kubernetes-preserve-unknown-fields: true`): the walk does not
//! look inside them, so a valid manifest is never rejected for a field this file leaves out.
//! The field lists follow the newest Kubernetes release, alpha fields included: accepting a field
//! that an older release lacks costs nothing, rejecting a valid one breaks a manifest.

use crate::resources::Resource;

mod admission_v1;
mod apps_v1;
mod authentication_v1;
mod authorization_v1;
mod core_v1;
mod flowcontrol_v1;
pub mod meta;
mod node;
pub mod parse;
mod pod;
pub mod prune;
mod quota_v1;
mod rbac_v1;
pub mod strict;

pub use parse::parse_noting_duplicates;
pub use prune::prune;
pub use strict::{duplicate_fields, strict_decoding_error, unknown_fields, unknown_fields_in};

/// What a field holds, as the OpenAPI schema and the unknown-field walk need to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    /// Go `int32`.
    Int32,
    /// Go `int64`.
    Int64,
    /// Go `float64`.
    Number,
    Boolean,
    /// `[]byte`: base64 in JSON.
    Bytes,
    /// `metav1.Time`: RFC 3339 to the second.
    Time,
    /// `metav1.MicroTime`: RFC 3339 to the microsecond.
    MicroTime,
    /// `resource.Quantity`: `500m`, `1Gi`, or a number.
    Quantity,
    /// `intstr.IntOrString`: a port number or name, a count or a percentage.
    IntOrString,
    /// A struct, described by its [`TypeDef`].
    Object(&'static TypeDef),
    /// A JSON array of the inner type.
    Array(&'static Type),
    /// A JSON object from string keys to the inner type (`map[string]X`).
    Map(&'static Type),
}

/// One field of a struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON name (`restartPolicy`).
    pub name: &'static str,
    pub ty: Type,
    /// One line, for `kubectl explain`.
    pub description: &'static str,
    /// In the schema's `required` list (what `kubectl explain` marks `-required-`).
    pub required: bool,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`, for arrays whose merge rules
    /// server-side apply needs.
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys`: the keys identifying an item of a `map` list.
    pub list_map_keys: &'static [&'static str],
    /// `x-kubernetes-patch-merge-key`: what a strategic merge patch matches items on.
    pub patch_merge_key: Option<&'static str>,
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys` or `merge,retainKeys`.
    pub patch_strategy: Option<&'static str>,
    /// `x-kubernetes-map-type: atomic`: a map replaced whole by apply.
    pub atomic_map: bool,
    /// Where the field is in Kubernetes' protobuf encoding; [`Proto::NONE`] until [`Field::tag`].
    pub proto: Proto,
}

/// A field's place in Kubernetes' protobuf encoding (the `generated.proto` of its group
/// version), and how a zero value read from it shows in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proto {
    /// The protobuf field number; 0 for a field that is not on the wire (`apiVersion` and
    /// `kind`, which the `runtime.Unknown` envelope carries instead).
    pub tag: u32,
    /// 0 for a field of the message itself. For a field of a struct that Go embeds inline
    /// (`VolumeSource` in `Volume`, `LocalObjectReference` in the key selectors, `Rule` in
    /// `RuleWithOperations`): the number of that embedded message in the parent, `tag` then
    /// counting within it. JSON flattens the embedded fields into the parent; the wire does not.
    pub embedded_in: u32,
    /// A zero scalar (`""`, `0`, `false`, empty bytes) read from the wire stays in the JSON.
    /// Set where Go holds the field by pointer (it is on the wire only when it was set, so a
    /// zero was meant: `replicas: 0`) or its JSON tag lacks `omitempty` (Go's JSON writes the
    /// zero too). Otherwise a zero is what proto2 writes for every unset non-pointer field,
    /// and it is left out, as `omitempty` leaves it out of the JSON.
    pub keeps_zero: bool,
}

impl Proto {
    /// Not on the wire.
    pub const NONE: Proto = Proto {
        tag: 0,
        embedded_in: 0,
        keeps_zero: false,
    };
}

/// One struct type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeDef {
    /// Kubernetes' OpenAPI name: `io.k8s.api.core.v1.Container`.
    pub name: &'static str,
    pub description: &'static str,
    /// Fields of `base` come first: an EphemeralContainer is a Container plus one field.
    pub base: Option<&'static TypeDef>,
    /// The protobuf field number of the embedded message that holds `base`'s fields
    /// (`ephemeralContainerCommon` = 1 in EphemeralContainer); 0 without a base.
    pub base_proto_tag: u32,
    pub fields: &'static [Field],
    /// `x-kubernetes-preserve-unknown-fields`: described in part, or free-form by nature
    /// (`FieldsV1`); the unknown-field walk does not look inside.
    pub open: bool,
    /// `x-kubernetes-map-type: atomic`: a struct replaced whole by apply (object references).
    pub atomic: bool,
}

/// A field with its name, type and description; the builders below add the rest.
pub const fn f(name: &'static str, ty: Type, description: &'static str) -> Field {
    Field {
        name,
        ty,
        description,
        required: false,
        list_type: None,
        list_map_keys: &[],
        patch_merge_key: None,
        patch_strategy: None,
        atomic_map: false,
        proto: Proto::NONE,
    }
}

impl Field {
    /// Listed in the type's `required`.
    pub const fn req(self) -> Field {
        Field {
            required: true,
            ..self
        }
    }

    /// A list replaced whole (`+listType=atomic`).
    pub const fn atomic(self) -> Field {
        Field {
            list_type: Some("atomic"),
            ..self
        }
    }

    /// A list of unique scalars (`+listType=set`).
    pub const fn set(self) -> Field {
        Field {
            list_type: Some("set"),
            ..self
        }
    }

    /// A list keyed by `keys` for apply and by `keys[0]` for strategic merge patch, merged
    /// item by item: the usual pair of tags on containers, env, ports, conditions.
    pub const fn keyed(self, keys: &'static [&'static str]) -> Field {
        assert!(!keys.is_empty(), "a keyed list needs a key");
        Field {
            list_type: Some("map"),
            list_map_keys: keys,
            patch_merge_key: Some(keys[0]),
            patch_strategy: Some("merge"),
            ..self
        }
    }

    /// Only a strategic-merge patch strategy, without a list type (`finalizers`).
    pub const fn strategy(self, strategy: &'static str) -> Field {
        Field {
            patch_strategy: Some(strategy),
            ..self
        }
    }

    /// A map replaced whole (`+mapType=atomic`).
    pub const fn atomic_map(self) -> Field {
        Field {
            atomic_map: true,
            ..self
        }
    }

    /// Protobuf field number `tag` of the message.
    pub const fn tag(self, tag: u32) -> Field {
        self.tag_in(0, tag)
    }

    /// Protobuf field number `tag` of the struct embedded inline at field `embedded_in` of the
    /// message (see [`Proto::embedded_in`]).
    pub const fn tag_in(self, embedded_in: u32, tag: u32) -> Field {
        assert!(tag > 0, "protobuf field numbers start at 1");
        Field {
            proto: Proto {
                tag,
                embedded_in,
                keeps_zero: self.proto.keeps_zero,
            },
            ..self
        }
    }

    /// A zero value read from the wire is kept (see [`Proto::keeps_zero`]).
    pub const fn keeps_zero(self) -> Field {
        assert!(self.proto.tag > 0, "tag the field first");
        Field {
            proto: Proto {
                keeps_zero: true,
                ..self.proto
            },
            ..self
        }
    }
}

impl TypeDef {
    pub const fn new(
        name: &'static str,
        description: &'static str,
        fields: &'static [Field],
    ) -> TypeDef {
        TypeDef {
            name,
            description,
            base: None,
            base_proto_tag: 0,
            fields,
            open: false,
            atomic: false,
        }
    }

    /// Described in part: unknown fields inside are kept, never reported.
    pub const fn open(self) -> TypeDef {
        TypeDef { open: true, ..self }
    }

    /// Replaced whole by server-side apply (`+structType=atomic`).
    pub const fn atomic(self) -> TypeDef {
        TypeDef {
            atomic: true,
            ..self
        }
    }

    /// These fields follow those of `base`.
    pub const fn extends(self, base: &'static TypeDef) -> TypeDef {
        TypeDef {
            base: Some(base),
            ..self
        }
    }

    /// On the wire, `base`'s fields are the embedded message at field `tag`.
    pub const fn base_tag(self, tag: u32) -> TypeDef {
        assert!(tag > 0, "protobuf field numbers start at 1");
        TypeDef {
            base_proto_tag: tag,
            ..self
        }
    }

    /// Every field, the base type's first.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static Field> {
        let base: &'static [Field] = match self.base {
            Some(base) => base.fields,
            None => &[],
        };
        base.iter().chain(self.fields.iter())
    }

    /// The field named `name` (JSON names are case-sensitive, as kube-apiserver decodes them).
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.all_fields().find(|field| field.name == name)
    }

    /// The short name kubectl prints for it: `PodSpec`.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

/// `Type::Object` of a type.
macro_rules! obj {
    ($def:expr) => {
        $crate::schema::Type::Object(&$def)
    };
}

/// `Type::Array` of objects of a type.
macro_rules! list {
    ($def:expr) => {
        $crate::schema::Type::Array(&$crate::schema::Type::Object(&$def))
    };
}

/// A type name in core/v1: `core_type!("Pod")` is `io.k8s.api.core.v1.Pod`.
macro_rules! core_type {
    ($name:literal) => {
        concat!("io.k8s.api.core.v1.", $name)
    };
}

/// A type name in meta/v1: `meta_type!("Status")`.
macro_rules! meta_type {
    ($name:literal) => {
        concat!("io.k8s.apimachinery.pkg.apis.meta.v1.", $name)
    };
}

pub(crate) use {core_type, list, meta_type, obj};

/// `[]string`.
pub const STRINGS: Type = Type::Array(&Type::String);
/// `map[string]string`.
pub const STRING_MAP: Type = Type::Map(&Type::String);
/// `map[ResourceName]resource.Quantity`: requests, limits, capacities.
pub const RESOURCE_LIST: Type = Type::Map(&Type::Quantity);

/// Every top-level kind starts with these two (`TypeMeta`).
pub const API_VERSION: Field = f(
    "apiVersion",
    Type::String,
    "The versioned schema of this object: `v1`, `apps/v1`. The server converts what it knows.",
);
pub const KIND: Field = f(
    "kind",
    Type::String,
    "The REST resource this object represents, in CamelCase. Cannot be updated.",
);
/// `metadata` of a top-level kind.
/// Field 1 in every kind's message.
pub const METADATA: Field = f(
    "metadata",
    obj!(meta::OBJECT_META),
    "Standard object metadata: name, namespace, labels, annotations, and what the server manages.",
)
.tag(1);

/// The top-level type of a served kind (`io.k8s.api.core.v1.Pod` for pods), None for a
/// resource this module does not describe.
pub fn kind_type(resource: &Resource) -> Option<&'static TypeDef> {
    kind_type_of(resource.group, resource.version, resource.kind)
}

/// The top-level type of `kind` in `group`/`version`: a served resource's kind, or the kind a
/// subresource takes (`authentication.k8s.io/v1` TokenRequest for `serviceaccounts/token`).
pub fn kind_type_of(group: &str, version: &str, kind: &str) -> Option<&'static TypeDef> {
    const AUTHN: &str = "authentication.k8s.io";
    const AUTHZ: &str = "authorization.k8s.io";
    const FLOWCONTROL: &str = "flowcontrol.apiserver.k8s.io";
    let def: &'static TypeDef = match (group, version, kind) {
        ("", "v1", "Namespace") => &core_v1::NAMESPACE,
        ("", "v1", "Node") => &node::NODE,
        ("", "v1", "Pod") => &pod::POD,
        ("", "v1", "ConfigMap") => &core_v1::CONFIG_MAP,
        ("", "v1", "Secret") => &core_v1::SECRET,
        ("", "v1", "ServiceAccount") => &core_v1::SERVICE_ACCOUNT,
        ("", "v1", "Service") => &core_v1::SERVICE,
        ("", "v1", "Event") => &core_v1::EVENT,
        ("", "v1", "LimitRange") => &quota_v1::LIMIT_RANGE,
        ("", "v1", "ResourceQuota") => &quota_v1::RESOURCE_QUOTA,
        ("apps", "v1", "Deployment") => &apps_v1::DEPLOYMENT,
        (AUTHN, "v1", "SelfSubjectReview") => &authentication_v1::SELF_SUBJECT_REVIEW,
        (AUTHN, "v1beta1", "SelfSubjectReview") => &authentication_v1::SELF_SUBJECT_REVIEW_V1BETA1,
        (AUTHN, "v1alpha1", "SelfSubjectReview") => {
            &authentication_v1::SELF_SUBJECT_REVIEW_V1ALPHA1
        }
        (AUTHN, "v1", "TokenReview") => &authentication_v1::TOKEN_REVIEW,
        (AUTHN, "v1", "TokenRequest") => &authentication_v1::TOKEN_REQUEST,
        (AUTHZ, "v1", "SubjectAccessReview") => &authorization_v1::SUBJECT_ACCESS_REVIEW,
        (AUTHZ, "v1", "LocalSubjectAccessReview") => &authorization_v1::LOCAL_SUBJECT_ACCESS_REVIEW,
        (AUTHZ, "v1", "SelfSubjectAccessReview") => &authorization_v1::SELF_SUBJECT_ACCESS_REVIEW,
        (AUTHZ, "v1", "SelfSubjectRulesReview") => &authorization_v1::SELF_SUBJECT_RULES_REVIEW,
        ("rbac.authorization.k8s.io", "v1", "Role") => &rbac_v1::ROLE,
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => &rbac_v1::ROLE_BINDING,
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => &rbac_v1::CLUSTER_ROLE,
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => &rbac_v1::CLUSTER_ROLE_BINDING,
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            &admission_v1::MUTATING_WEBHOOK_CONFIGURATION
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            &admission_v1::VALIDATING_WEBHOOK_CONFIGURATION
        }
        (FLOWCONTROL, "v1", "FlowSchema") => &flowcontrol_v1::FLOW_SCHEMA,
        (FLOWCONTROL, "v1", "PriorityLevelConfiguration") => {
            &flowcontrol_v1::PRIORITY_LEVEL_CONFIGURATION
        }
        _ => return None,
    };
    Some(def)
}

/// The meta/v1 types every group version's document carries besides its kinds: list
/// metadata, the delete body, the Status every error answers with, the patch body, and the
/// resource list `/apis/<group>/<version>` answers.
pub fn common_types() -> [&'static TypeDef; 5] {
    [
        &meta::LIST_META,
        &meta::DELETE_OPTIONS,
        &meta::STATUS,
        &meta::PATCH,
        &meta::API_RESOURCE_LIST,
    ]
}

/// The discovery and version types of the `api`, `apis`, `apis/<group>` and `version`
/// documents.
pub mod discovery {
    use super::{TypeDef, meta};

    /// What `/api` answers.
    pub const API_VERSIONS: &TypeDef = &meta::API_VERSIONS;
    /// What `/apis` answers.
    pub const API_GROUP_LIST: &TypeDef = &meta::API_GROUP_LIST;
    /// What `/apis/<group>` answers.
    pub const API_GROUP: &TypeDef = &meta::API_GROUP;
    /// What `/version` answers.
    pub const VERSION_INFO: &TypeDef = &meta::VERSION_INFO;
}

/// Every type reachable from `roots`, each once, in the order first met (depth first).
/// Bounded: the types form a finite graph without cycles, and each is visited once.
pub fn reachable(roots: &[&'static TypeDef]) -> Vec<&'static TypeDef> {
    let mut out: Vec<&'static TypeDef> = Vec::new();
    let mut stack: Vec<&'static TypeDef> = roots.iter().rev().copied().collect();
    while let Some(def) = stack.pop() {
        if out.iter().any(|seen| seen.name == def.name) {
            continue;
        }
        out.push(def);
        let mut inner: Vec<&'static TypeDef> = def.all_fields().filter_map(object_of).collect();
        inner.reverse();
        stack.extend(inner);
    }
    out
}

/// The struct a field's type holds, through arrays and maps.
fn object_of(field: &'static Field) -> Option<&'static TypeDef> {
    let mut ty: &'static Type = &field.ty;
    loop {
        match ty {
            Type::Object(def) => return Some(def),
            Type::Array(inner) | Type::Map(inner) => ty = inner,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::RESOURCES;

    #[test]
    fn every_served_kind_is_described_with_type_meta_and_metadata() {
        for resource in RESOURCES {
            let def = kind_type(resource).unwrap_or_else(|| panic!("{}", resource.kind));
            assert_eq!(def.short_name(), resource.kind);
            for name in ["apiVersion", "kind", "metadata"] {
                assert!(def.field(name).is_some(), "{}.{name}", resource.kind);
            }
        }
    }

    #[test]
    fn names_are_unique_and_lists_well_formed() {
        let mut roots: Vec<&'static TypeDef> = RESOURCES.iter().filter_map(kind_type).collect();
        roots.extend(kind_type_of("authentication.k8s.io", "v1", "TokenRequest"));
        roots.extend(common_types());
        roots.extend([
            discovery::API_VERSIONS,
            discovery::API_GROUP_LIST,
            discovery::API_GROUP,
            discovery::VERSION_INFO,
        ]);
        let all = reachable(&roots);
        for def in &all {
            // One definition per name: two different structs under one name would make the
            // document depend on which was met first.
            for other in &all {
                if other.name == def.name {
                    assert_eq!(other, def, "{} defined twice", def.name);
                }
            }
            assert!(def.name.starts_with("io.k8s."), "{}", def.name);
            assert!(!def.description.is_empty(), "{}", def.name);
            let names: Vec<&str> = def.all_fields().map(|f| f.name).collect();
            for (i, name) in names.iter().enumerate() {
                assert!(!names[i + 1..].contains(name), "{}.{name} twice", def.name);
            }
            for field in def.all_fields() {
                check_field(def, field);
            }
        }
        assert!(all.len() > 150, "{} types", all.len());
    }

    fn check_field(def: &TypeDef, field: &Field) {
        let at = format!("{}.{}", def.name, field.name);
        assert!(!field.description.is_empty(), "{at}");
        if field.list_type.is_some() {
            assert!(matches!(field.ty, Type::Array(_)), "{at}");
        }
        if field.list_type == Some("map") {
            let Type::Array(Type::Object(item)) = field.ty else {
                panic!("{at}: a map list holds objects");
            };
            for key in field.list_map_keys {
                let key_field = item.field(key).unwrap_or_else(|| panic!("{at}: {key}"));
                assert!(
                    !matches!(key_field.ty, Type::Object(_) | Type::Array(_)),
                    "{at}: {key} is a scalar"
                );
            }
        }
        if let Some(key) = field.patch_merge_key {
            let Type::Array(Type::Object(item)) = field.ty else {
                panic!("{at}: a merge key needs a list of objects");
            };
            assert!(item.field(key).is_some(), "{at}: {key}");
        }
        if field.atomic_map {
            assert!(matches!(field.ty, Type::Map(_)), "{at}");
        }
    }

    #[test]
    fn lists_carry_kubes_patch_keys() {
        let spec = pod::POD_SPEC;
        let containers = spec.field("containers").unwrap();
        assert!(containers.required);
        assert_eq!(containers.list_type, Some("map"));
        assert_eq!(containers.list_map_keys, ["name"]);
        assert_eq!(containers.patch_merge_key, Some("name"));
        assert_eq!(containers.patch_strategy, Some("merge"));
        let volumes = spec.field("volumes").unwrap();
        assert_eq!(volumes.patch_strategy, Some("merge,retainKeys"));
        let ports = pod::CONTAINER.field("ports").unwrap();
        assert_eq!(ports.list_map_keys, ["containerPort", "protocol"]);
        assert_eq!(ports.patch_merge_key, Some("containerPort"));
        let finalizers = meta::OBJECT_META.field("finalizers").unwrap();
        assert_eq!(finalizers.list_type, Some("set"));
        assert_eq!(finalizers.patch_strategy, Some("merge"));
        assert_eq!(
            pod::EPHEMERAL_CONTAINER.field("image").map(|f| f.ty),
            Some(Type::String)
        );
        assert!(
            pod::EPHEMERAL_CONTAINER
                .field("targetContainerName")
                .is_some()
        );
    }

    #[test]
    fn reachable_visits_each_type_once_in_first_met_order() {
        let types = reachable(&[&rbac_v1::ROLE_BINDING]);
        let names: Vec<&str> = types.iter().map(|d| d.short_name()).collect();
        assert_eq!(names[0], "RoleBinding");
        assert_eq!(names[1], "ObjectMeta");
        assert!(names.contains(&"RoleRef") && names.contains(&"Subject"));
        assert!(names.contains(&"OwnerReference"));
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());
    }
}
