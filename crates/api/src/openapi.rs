//! The OpenAPI v3 documents kube-apiserver serves under `/openapi/v3`, generated from
//! [`crate::schema`]: one per served group version (`api/v1`, `apis/apps/v1`, ...), plus the
//! small ones for the discovery and version endpoints (`api`, `apis`, `apis/<group>`,
//! `version`), each laid out as kube-apiserver lays its own out.
//!
//! What kubectl (1.29 and later) reads, and so what must be right:
//! - The root, `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL":
//!   "/openapi/v3/api/v1?hash=<HASH>"}, ...}}`. client-go's openapi client GETs each
//!   `serverRelativeURL` as JSON. kube-apiserver answers a URL whose hash is current with
//!   `Cache-Control: public, immutable` and one with a stale hash with a redirect to the
//!   current one; the HASH here is a digest of the document's bytes, so it changes exactly
//!   when they do.
//! - Field validation (`cli-runtime`'s `queryParamVerifierV3`, run by create, apply, edit,
//!   replace): in the group version's document, the PATCH operation whose
//!   `x-kubernetes-group-version-kind` is the object's kind must list a parameter named
//!   `fieldValidation`, inline. kubectl stops at the first PATCH of that kind it meets, so
//!   every one (the `/status` ones too) carries it. Without it kubectl would validate on the
//!   client from `/openapi/v2` protobuf (served by [`crate::openapi_v2`] for kubectl 1.27/1.28).
//! - `kubectl explain pods.spec.containers` (`pkg/explain/v2`, a Go template): looks up the
//!   resource's collection or item path (`/api/v1/pods`, `/api/v1/namespaces/{namespace}/pods`,
//!   `.../{name}`), takes the `x-kubernetes-group-version-kind` of its get/post/put/patch/delete
//!   operation, then the component schema whose `x-kubernetes-group-version-kind` list holds
//!   exactly that `{group, kind, version}`, and walks `properties`, `allOf`, `$ref`, `items`
//!   and `additionalProperties` along the field path, printing `description`, the type it
//!   guesses and `-required-` from `required`. Object fields are therefore written
//!   `{"allOf": [{"$ref": ...}], "description": ...}` as kube writes them (a `$ref` may have no
//!   siblings in OpenAPI 3.0).
//!
//! Served verbs decide the operations: `list` (and watch, through `?watch`) is GET on a
//! collection, `create` POST, `deletecollection` DELETE on a collection, `get`, `update`,
//! `patch`, `delete` on an item; subresources (`status`, `finalize`) get their own paths.
//! The deprecated `/watch/` paths are left out. Documents are built once and cached.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::resources::{self, RESOURCES, Resource};
use crate::schema::{self, Field, Type, TypeDef, meta};

/// The `info` every document carries (kube-apiserver's own say `unversioned` too).
const INFO_TITLE: &str = "Kubernetes";
const INFO_VERSION: &str = "unversioned";

/// The `/openapi/v3` root: every served document's path and the URL to fetch it at, keyed as
/// kube-apiserver keys them (`api/v1`, `apis/apps/v1`, `api`, `apis`, `apis/apps`, `version`).
pub fn v3_root() -> Value {
    let mut paths = Map::new();
    for document in documents() {
        let url = format!("/openapi/v3/{}?hash={}", document.path, document.hash);
        paths.insert(document.path.clone(), json!({ "serverRelativeURL": url }));
    }
    json!({ "paths": paths })
}

/// The document at `path` below `/openapi/v3` (`api/v1`, `apis/apps/v1`, `api`, `apis`,
/// `apis/apps`, `version`), None if kubesim serves no such document.
pub fn v3_group_version(path: &str) -> Option<Value> {
    let path = path.trim_matches('/');
    match path {
        "api" => Some(discovery_document(&CORE_VERSIONS)),
        "apis" => Some(discovery_document(&GROUP_LIST)),
        "version" => Some(discovery_document(&VERSION)),
        _ => {
            let (group, version) = split_path(path)?;
            match version {
                Some(version) => Some(group_version_document(group, version)),
                None => Some(group_document(group)),
            }
        }
    }
}

/// The document at `path` serialized once (compact JSON) and cached for the life of the
/// process, with its hash, the `hash` of its `serverRelativeURL`.
pub fn v3_group_version_bytes(path: &str) -> Option<(&'static [u8], &'static str)> {
    let path = path.trim_matches('/');
    documents()
        .iter()
        .find(|document| document.path == path)
        .map(|document| (document.bytes.as_slice(), document.hash.as_str()))
}

/// Every document path served, sorted as the root lists them.
pub fn document_paths() -> Vec<String> {
    let mut paths: BTreeSet<String> = ["api", "apis", "version"].map(String::from).into();
    for (group, version) in resources::group_versions() {
        if group.is_empty() {
            paths.insert(format!("api/{version}"));
        } else {
            paths.insert(format!("apis/{group}"));
            paths.insert(format!("apis/{group}/{version}"));
        }
    }
    paths.into_iter().collect()
}

/// One served document, serialized.
struct Document {
    path: String,
    bytes: Vec<u8>,
    hash: String,
}

/// Every document, built on first use.
fn documents() -> &'static [Document] {
    static DOCUMENTS: OnceLock<Vec<Document>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let mut out = Vec::new();
        for path in document_paths() {
            let Some(value) = v3_group_version(&path) else {
                continue;
            };
            // A Value with string keys always serializes.
            let bytes = serde_json::to_vec(&value).unwrap_or_default();
            let hash = hash_hex(&bytes);
            out.push(Document { path, bytes, hash });
        }
        out
    })
}

/// The document's hash: 64-bit FNV-1a of its bytes, as 16 upper-case hex digits
/// (kube-apiserver uses SHA-512; clients treat the value as opaque).
pub fn hash_hex(bytes: &[u8]) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:016X}")
}

/// `api/v1` → ("", Some("v1")); `apis/apps/v1` → ("apps", Some("v1")); `apis/apps` →
/// ("apps", None). None unless served.
fn split_path(path: &str) -> Option<(&'static str, Option<&'static str>)> {
    let served = resources::group_versions();
    let mut parts = path.split('/');
    match (parts.next()?, parts.next(), parts.next(), parts.next()) {
        ("api", Some(version), None, None) => served
            .iter()
            .find(|(g, v)| g.is_empty() && *v == version)
            .map(|(g, v)| (*g, Some(*v))),
        ("apis", Some(group), None, None) => served
            .iter()
            .find(|(g, _)| !g.is_empty() && *g == group)
            .map(|(g, _)| (*g, None)),
        ("apis", Some(group), Some(version), None) => served
            .iter()
            .find(|(g, v)| !g.is_empty() && *g == group && *v == version)
            .map(|(g, v)| (*g, Some(*v))),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Small documents: discovery and version.

/// A document with one GET path answering a discovery or version object.
struct DiscoveryPath {
    path: &'static str,
    operation_id: &'static str,
    description: &'static str,
    tag: &'static str,
    answer: &'static TypeDef,
}

const CORE_VERSIONS: DiscoveryPath = DiscoveryPath {
    path: "/api/",
    operation_id: "getCoreAPIVersions",
    description: "get available API versions",
    tag: "core",
    answer: schema::discovery::API_VERSIONS,
};

const GROUP_LIST: DiscoveryPath = DiscoveryPath {
    path: "/apis/",
    operation_id: "getAPIVersions",
    description: "get available API versions",
    tag: "apis",
    answer: schema::discovery::API_GROUP_LIST,
};

const VERSION: DiscoveryPath = DiscoveryPath {
    path: "/version/",
    operation_id: "getCodeVersion",
    description: "get the version information for this server",
    tag: "version",
    answer: schema::discovery::VERSION_INFO,
};

fn discovery_document(endpoint: &DiscoveryPath) -> Value {
    let operation = json!({
        "description": endpoint.description,
        "operationId": endpoint.operation_id,
        "responses": responses(&[("200", "OK")], endpoint.answer.name, false),
        "tags": [endpoint.tag],
    });
    let mut paths = Map::new();
    paths.insert(endpoint.path.to_owned(), json!({ "get": operation }));
    document(paths, &[endpoint.answer], &[])
}

/// `apis/<group>`: the group's discovery object.
fn group_document(group: &str) -> Value {
    let names = GroupNames::new(group, "");
    let operation = json!({
        "description": "get information of a group",
        "operationId": format!("get{}API", names.camel),
        "responses": responses(&[("200", "OK")], schema::discovery::API_GROUP.name, false),
        "tags": [names.tag_base.clone()],
    });
    let mut paths = Map::new();
    paths.insert(format!("/apis/{group}/"), json!({ "get": operation }));
    document(paths, &[schema::discovery::API_GROUP], &[])
}

// ---------------------------------------------------------------------------------------------
// Group version documents.

/// How a group version is spelled in operation IDs and tags: `CoreV1` and `core_v1`,
/// `RbacAuthorizationV1` and `rbacAuthorization_v1`.
struct GroupNames {
    /// `RbacAuthorization`.
    camel: String,
    /// `rbacAuthorization`.
    tag_base: String,
    /// `RbacAuthorizationV1`.
    operation: String,
    /// `rbacAuthorization_v1`.
    tag: String,
}

impl GroupNames {
    fn new(group: &str, version: &str) -> GroupNames {
        let base = group.strip_suffix(".k8s.io").unwrap_or(group);
        let camel: String = if group.is_empty() {
            "Core".to_owned()
        } else {
            base.split('.').map(capitalize).collect()
        };
        let tag_base = lower_first(&camel);
        GroupNames {
            operation: format!("{camel}{}", capitalize(version)),
            tag: format!("{tag_base}_{version}"),
            camel,
            tag_base,
        }
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn lower_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The document of one served group version: paths for each resource and the schemas of its
/// kinds, their lists, and the meta types the operations use.
fn group_version_document(group: &'static str, version: &'static str) -> Value {
    let names = GroupNames::new(group, version);
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let served: Vec<&'static Resource> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();

    let mut paths: BTreeMap<String, Value> = BTreeMap::new();
    paths.insert(format!("{prefix}/"), api_resources_path(&names));
    for resource in &served {
        let Some(kind) = schema::kind_type(resource) else {
            continue;
        };
        let context = ResourcePaths {
            resource,
            kind,
            gvk: (resource.group, resource.version, resource.kind),
            names: &names,
            prefix: &prefix,
        };
        context.add_to(&mut paths);
    }

    let mut roots: Vec<&'static TypeDef> =
        served.iter().filter_map(|r| schema::kind_type(r)).collect();
    roots.extend(
        subresource_kinds(&served).filter_map(|s| schema::kind_type_of(s.group, s.version, s.kind)),
    );
    roots.extend(schema::common_types());
    let paths: Map<String, Value> = paths.into_iter().collect();
    document(paths, &roots, &served)
}

/// `GET /apis/<group>/<version>/`: the resource list.
fn api_resources_path(names: &GroupNames) -> Value {
    json!({
        "get": {
            "description": "get available resources",
            "operationId": format!("get{}APIResources", names.operation),
            "responses": responses(&[("200", "OK")], meta::API_RESOURCE_LIST.name, false),
            "tags": [names.tag.clone()],
        }
    })
}

/// The subresources of `served` whose kind is not their parent's (`serviceaccounts/token`:
/// TokenRequest), whose schemas the group version's document carries too.
fn subresource_kinds(served: &[&'static Resource]) -> impl Iterator<Item = resources::Subresource> {
    served
        .iter()
        .flat_map(|r| {
            r.subresources
                .iter()
                .filter_map(|sub| resources::subresource(r, sub))
        })
        .filter(|sub| {
            !served
                .iter()
                .any(|r| r.kind == sub.kind && r.group == sub.group)
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// Builds the paths of one resource.
struct ResourcePaths<'a> {
    resource: &'static Resource,
    /// The type of the bodies: the resource's kind, or a subresource's (TokenRequest).
    kind: &'static TypeDef,
    /// Group, version and kind of `kind`, for `x-kubernetes-group-version-kind`.
    gvk: (&'static str, &'static str, &'static str),
    names: &'a GroupNames,
    /// `/api/v1`, `/apis/apps/v1`.
    prefix: &'a str,
}

/// One kind of operation: the verb the resource must serve for it to exist, its HTTP method,
/// its `x-kubernetes-action`, and the parts of its operation ID (`delete` + `Collection` in
/// `deleteCoreV1CollectionNamespacedPod`).
struct Action {
    verb: &'static str,
    method: &'static str,
    action: &'static str,
    id_prefix: &'static str,
    id_infix: &'static str,
}

const fn action(
    verb: &'static str,
    method: &'static str,
    action: &'static str,
    id_prefix: &'static str,
    id_infix: &'static str,
) -> Action {
    Action {
        verb,
        method,
        action,
        id_prefix,
        id_infix,
    }
}

const LIST: Action = action("list", "get", "list", "list", "");
const CREATE: Action = action("create", "post", "post", "create", "");
const DELETE_COLLECTION: Action = action(
    "deletecollection",
    "delete",
    "deletecollection",
    "delete",
    "Collection",
);
const GET: Action = action("get", "get", "get", "read", "");
const UPDATE: Action = action("update", "put", "put", "replace", "");
const PATCH: Action = action("patch", "patch", "patch", "patch", "");
const DELETE: Action = action("delete", "delete", "delete", "delete", "");

impl ResourcePaths<'_> {
    fn add_to(&self, paths: &mut BTreeMap<String, Value>) {
        let plural = self.resource.plural;
        let (collection, item) = if self.resource.is_namespaced() {
            let all = format!("{}/{plural}", self.prefix);
            if self.resource.allows("list") {
                let operation = self.operation(&LIST, "ForAllNamespaces", "");
                paths.insert(all, self.path_item(vec![("get", operation)], &[]));
            }
            let base = format!("{}/namespaces/{{namespace}}/{plural}", self.prefix);
            (base.clone(), format!("{base}/{{name}}"))
        } else {
            let base = format!("{}/{plural}", self.prefix);
            (base.clone(), format!("{base}/{{name}}"))
        };
        let scope_params: &[&str] = if self.resource.is_namespaced() {
            &["namespace"]
        } else {
            &[]
        };
        let item_params: &[&str] = if self.resource.is_namespaced() {
            &["name", "namespace"]
        } else {
            &["name"]
        };
        self.insert(
            paths,
            collection,
            &[LIST, CREATE, DELETE_COLLECTION],
            scope_params,
            "",
        );
        self.insert(
            paths,
            item.clone(),
            &[GET, UPDATE, PATCH, DELETE],
            item_params,
            "",
        );
        for sub in self.resource.subresources {
            let Some(sub) = resources::subresource(self.resource, sub) else {
                continue;
            };
            let Some(kind) = schema::kind_type_of(sub.group, sub.version, sub.kind) else {
                continue;
            };
            let context = ResourcePaths {
                kind,
                gvk: (sub.group, sub.version, sub.kind),
                ..*self
            };
            let actions: Vec<Action> = [GET, CREATE, UPDATE, PATCH]
                .into_iter()
                .filter(|action| sub.verbs.contains(&action.verb))
                .collect();
            let path = format!("{item}/{}", sub.name);
            context.insert_actions(paths, path, &actions, item_params, &capitalize(sub.name));
        }
    }

    /// A subresource's path with `actions`, which its own verbs chose.
    fn insert_actions(
        &self,
        paths: &mut BTreeMap<String, Value>,
        path: String,
        actions: &[Action],
        path_params: &[&str],
        subresource: &str,
    ) {
        let operations: Vec<(&str, Value)> = actions
            .iter()
            .map(|action| (action.method, self.operation(action, "", subresource)))
            .collect();
        if !operations.is_empty() {
            paths.insert(path, self.path_item(operations, path_params));
        }
    }

    /// A path with the operations of `actions` the resource serves; none, no path.
    fn insert(
        &self,
        paths: &mut BTreeMap<String, Value>,
        path: String,
        actions: &[Action],
        path_params: &[&str],
        subresource: &str,
    ) {
        let operations: Vec<(&str, Value)> = actions
            .iter()
            .filter(|action| self.resource.allows(action.verb))
            .map(|action| (action.method, self.operation(action, "", subresource)))
            .collect();
        if !operations.is_empty() {
            paths.insert(path, self.path_item(operations, path_params));
        }
    }

    /// A path item: its operations plus the parameters all of them share.
    fn path_item(&self, operations: Vec<(&str, Value)>, path_params: &[&str]) -> Value {
        let mut item: BTreeMap<&str, Value> = operations.into_iter().collect();
        let mut params: Vec<Value> = path_params
            .iter()
            .map(|name| self.path_parameter(name))
            .collect();
        params.push(query_parameter("pretty"));
        item.insert("parameters", Value::Array(params));
        Value::Object(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn path_parameter(&self, name: &str) -> Value {
        let description = match name {
            "namespace" => "object name and auth scope, such as for teams and projects".to_owned(),
            _ => format!("name of the {}", self.resource.kind),
        };
        json!({
            "description": description,
            "in": "path",
            "name": name,
            "required": true,
            "schema": {"type": "string", "uniqueItems": true},
        })
    }

    /// One operation: `suffix` is `ForAllNamespaces` for the list across namespaces,
    /// `subresource` is `Status` or `Finalize` for a subresource's operations.
    fn operation(&self, action: &Action, suffix: &str, subresource: &str) -> Value {
        let kind = self.resource.kind;
        let scope = if self.resource.is_namespaced() && suffix.is_empty() {
            "Namespaced"
        } else {
            ""
        };
        let operation_id = format!(
            "{}{}{}{scope}{kind}{subresource}{suffix}",
            action.id_prefix, self.names.operation, action.id_infix
        );
        let mut op = Map::new();
        op.insert(
            "description".into(),
            json!(self.describe(action, subresource)),
        );
        op.insert("operationId".into(), json!(operation_id));
        let params = action_parameters(action.action);
        if !params.is_empty() {
            op.insert(
                "parameters".into(),
                Value::Array(params.iter().map(|name| query_parameter(name)).collect()),
            );
        }
        if let Some(body) = self.request_body(action.action) {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses(action.action));
        op.insert("tags".into(), json!([self.names.tag]));
        op.insert("x-kubernetes-action".into(), json!(action.action));
        op.insert("x-kubernetes-group-version-kind".into(), self.gvk());
        Value::Object(op)
    }

    fn gvk(&self) -> Value {
        let (group, version, kind) = self.gvk;
        json!({"group": group, "kind": kind, "version": version})
    }

    fn describe(&self, action: &Action, subresource: &str) -> String {
        let kind = self.resource.kind;
        let sub = subresource.to_lowercase();
        match (action.action, subresource.is_empty()) {
            ("list", _) => format!("list or watch objects of kind {kind}"),
            ("post", true) => format!("create a {kind}"),
            ("post", false) => format!("create {sub} of a {kind}"),
            ("deletecollection", _) => format!("delete collection of {kind}"),
            ("get", true) => format!("read the specified {kind}"),
            ("get", false) => format!("read {sub} of the specified {kind}"),
            ("put", true) => format!("replace the specified {kind}"),
            ("put", false) => format!("replace {sub} of the specified {kind}"),
            ("patch", true) => format!("partially update the specified {kind}"),
            ("patch", false) => format!("partially update {sub} of the specified {kind}"),
            _ => format!("delete a {kind}"),
        }
    }

    fn request_body(&self, action: &str) -> Option<Value> {
        let body = |content_types: &[&str], schema: &str| {
            let content: Map<String, Value> = content_types
                .iter()
                .map(|t| ((*t).to_owned(), json!({"schema": reference(schema)})))
                .collect();
            json!({"content": content, "required": true})
        };
        match action {
            "post" | "put" => Some(body(&["*/*"], self.kind.name)),
            "patch" => Some(body(PATCH_CONTENT_TYPES, meta::PATCH.name)),
            // A delete's body is optional: kubectl sends one, curl users often do not.
            "delete" | "deletecollection" => {
                let mut body = body(&["*/*"], meta::DELETE_OPTIONS.name);
                body["required"] = json!(false);
                Some(body)
            }
            _ => None,
        }
    }

    fn responses(&self, action: &str) -> Value {
        let status = meta::STATUS.name;
        let list_name = format!("{}List", self.kind.name);
        match action {
            "list" => responses(&[("200", "OK")], &list_name, true),
            "post" => responses(
                &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                self.kind.name,
                false,
            ),
            "put" | "patch" => {
                responses(&[("200", "OK"), ("201", "Created")], self.kind.name, false)
            }
            "delete" => responses(&[("200", "OK"), ("202", "Accepted")], status, false),
            "deletecollection" => responses(&[("200", "OK")], status, false),
            _ => responses(&[("200", "OK")], self.kind.name, false),
        }
    }
}

/// The patch types kube-apiserver accepts, each with the `Patch` body schema.
const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// `responses` with each status answering `schema` as JSON (and as a watch stream for
/// lists), plus 401.
fn responses(statuses: &[(&str, &str)], schema: &str, watch: bool) -> Value {
    let mut out = Map::new();
    for (code, description) in statuses {
        let mut content = Map::new();
        content.insert(
            "application/json".into(),
            json!({"schema": reference(schema)}),
        );
        if watch {
            content.insert(
                "application/json;stream=watch".into(),
                json!({"schema": reference(schema)}),
            );
        }
        out.insert(
            (*code).to_owned(),
            json!({"content": content, "description": description}),
        );
    }
    out.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The query parameters of each action, in kube-apiserver's (alphabetical) order.
fn action_parameters(action: &str) -> &'static [&'static str] {
    match action {
        "list" => &[
            "allowWatchBookmarks",
            "continue",
            "fieldSelector",
            "labelSelector",
            "limit",
            "resourceVersion",
            "resourceVersionMatch",
            "sendInitialEvents",
            "timeoutSeconds",
            "watch",
        ],
        "post" | "put" => &["dryRun", "fieldManager", "fieldValidation"],
        "patch" => &["dryRun", "fieldManager", "fieldValidation", "force"],
        "delete" => &[
            "dryRun",
            "gracePeriodSeconds",
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "orphanDependents",
            "propagationPolicy",
        ],
        "deletecollection" => &[
            "continue",
            "dryRun",
            "fieldSelector",
            "gracePeriodSeconds",
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "labelSelector",
            "limit",
            "orphanDependents",
            "propagationPolicy",
            "resourceVersion",
            "resourceVersionMatch",
            "sendInitialEvents",
            "timeoutSeconds",
        ],
        _ => &[],
    }
}

/// A query parameter: name, JSON type, and what it does, in this module's words.
const QUERY_PARAMETERS: &[(&str, &str, &str)] = &[
    (
        "allowWatchBookmarks",
        "boolean",
        "Ask for BOOKMARK events, which carry only a resourceVersion, during a watch.",
    ),
    (
        "continue",
        "string",
        "The continue token of the previous page of a limited list.",
    ),
    (
        "dryRun",
        "string",
        "`All` to run every stage of the request without persisting anything.",
    ),
    (
        "fieldManager",
        "string",
        "Name of the actor making the change, recorded in managedFields; required for apply patches.",
    ),
    (
        "fieldSelector",
        "string",
        "Restrict the objects by their fields (`metadata.name=web`).",
    ),
    (
        "fieldValidation",
        "string",
        "How unknown and duplicate fields in the body are handled: `Ignore` drops them, `Warn` (the default) drops them with a warning for each, `Strict` fails the request with a BadRequest naming them all.",
    ),
    (
        "force",
        "boolean",
        "Take over fields other managers own; apply patches only.",
    ),
    (
        "gracePeriodSeconds",
        "integer",
        "Seconds before the object is deleted; 0 deletes at once.",
    ),
    (
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "boolean",
        "Delete an object that cannot be decoded, skipping finalizers and admission. Dangerous.",
    ),
    (
        "labelSelector",
        "string",
        "Restrict the objects by their labels (`app=web,tier!=db`).",
    ),
    (
        "limit",
        "integer",
        "Most objects to return; the rest is fetched with the continue token.",
    ),
    (
        "orphanDependents",
        "boolean",
        "Deprecated: use propagationPolicy. Whether dependents are orphaned.",
    ),
    ("pretty", "string", "If `true`, the output is indented."),
    (
        "propagationPolicy",
        "string",
        "What happens to dependents: `Orphan`, `Background` or `Foreground`.",
    ),
    (
        "resourceVersion",
        "string",
        "Which version of the data may be served; see the API concepts on resource versions.",
    ),
    (
        "resourceVersionMatch",
        "string",
        "How resourceVersion is applied to a list: `Exact` or `NotOlderThan`.",
    ),
    (
        "sendInitialEvents",
        "boolean",
        "Start a watch with the current state as ADDED events, ending with an annotated BOOKMARK.",
    ),
    (
        "timeoutSeconds",
        "integer",
        "Time limit of the list or watch call.",
    ),
    (
        "watch",
        "boolean",
        "Stream changes (added, modified, deleted) instead of answering a list.",
    ),
];

fn query_parameter(name: &str) -> Value {
    let (kind, description) = QUERY_PARAMETERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, description)| (*kind, *description))
        .unwrap_or(("string", ""));
    json!({
        "description": description,
        "in": "query",
        "name": name,
        "schema": {"type": kind, "uniqueItems": true},
    })
}

// ---------------------------------------------------------------------------------------------
// Documents and schemas.

/// A document: `paths`, and the schemas of `roots`, everything they reach, the lists of
/// `kinds`, and the named scalar types used.
fn document(
    paths: Map<String, Value>,
    roots: &[&'static TypeDef],
    kinds: &[&'static Resource],
) -> Value {
    let mut render = Render::default();
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let subresources: Vec<resources::Subresource> = subresource_kinds(kinds).collect();
    for def in schema::reachable(roots) {
        let gvk = kinds
            .iter()
            .find(|r| schema::kind_type(r).is_some_and(|k| k.name == def.name))
            .map(|r| gvk_list(r.group, r.version, r.kind))
            .or_else(|| {
                subresources
                    .iter()
                    .find(|s| {
                        schema::kind_type_of(s.group, s.version, s.kind)
                            .is_some_and(|k| k.name == def.name)
                    })
                    .map(|s| gvk_list(s.group, s.version, s.kind))
            });
        let gvk =
            gvk.or_else(|| (def.name == meta::STATUS.name).then(|| gvk_list("", "v1", "Status")));
        schemas.insert(def.name.to_owned(), render.type_def(def, gvk));
    }
    for resource in kinds.iter().filter(|r| r.allows("list")) {
        if let Some(def) = schema::kind_type(resource) {
            schemas.insert(format!("{}List", def.name), list_schema(resource, def));
        }
    }
    for scalar in &render.scalars {
        schemas.insert(scalar.name.to_owned(), scalar.schema());
    }
    let schemas: Map<String, Value> = schemas.into_iter().collect();
    json!({
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                }
            }
        },
        "info": {"title": INFO_TITLE, "version": INFO_VERSION},
        "openapi": "3.0.0",
        "paths": paths,
    })
}

fn gvk_list(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

/// `PodList` and its kin, which kube-apiserver generates for every kind.
fn list_schema(resource: &Resource, def: &TypeDef) -> Value {
    let kind = resource.kind;
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "properties": {
            "apiVersion": {"description": schema::API_VERSION.description, "type": "string"},
            "items": {"description": format!("The {kind} objects."), "items": reference(def.name), "type": "array"},
            "kind": {"description": schema::KIND.description, "type": "string"},
            "metadata": {"allOf": [reference(meta::LIST_META.name)], "description": "Standard list metadata."},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": gvk_list(resource.group, resource.version, &format!("{kind}List")),
    })
}

/// A named scalar type: rendered as a `$ref` to a component of its own, as kube does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Scalar {
    name: &'static str,
}

const TIME: Scalar = Scalar {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
};
const MICRO_TIME: Scalar = Scalar {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
};
const QUANTITY: Scalar = Scalar {
    name: "io.k8s.apimachinery.pkg.api.resource.Quantity",
};
const INT_OR_STRING: Scalar = Scalar {
    name: "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
};

impl Scalar {
    fn schema(&self) -> Value {
        match *self {
            TIME => json!({
                "description": "A timestamp in RFC 3339 form, to the second, in UTC.",
                "format": "date-time",
                "type": "string",
            }),
            MICRO_TIME => json!({
                "description": "A timestamp in RFC 3339 form with microseconds.",
                "format": "date-time",
                "type": "string",
            }),
            QUANTITY => json!({
                "description": "A fixed-point amount: a number with an optional SI (`m`, `k`, `M`, `G`) or binary (`Ki`, `Mi`, `Gi`) suffix, or an exponent (`1e3`).",
                "oneOf": [{"type": "string"}, {"type": "number"}],
            }),
            _ => json!({
                "description": "An integer or a string: a port number or name, a count or a percentage.",
                "format": "int-or-string",
                "oneOf": [{"type": "integer"}, {"type": "string"}],
            }),
        }
    }
}

/// Renders types as schemas, noting the named scalars they use.
#[derive(Default)]
struct Render {
    scalars: BTreeSet<Scalar>,
}

impl Render {
    fn type_def(&mut self, def: &'static TypeDef, gvk: Option<Value>) -> Value {
        let mut properties: BTreeMap<&str, Value> = BTreeMap::new();
        let mut required: Vec<&str> = Vec::new();
        for field in def.all_fields() {
            properties.insert(field.name, self.field(field));
            if field.required {
                required.push(field.name);
            }
        }
        let mut out = Map::new();
        out.insert("description".into(), json!(def.description));
        if !properties.is_empty() {
            let properties: Map<String, Value> = properties
                .into_iter()
                .map(|(name, schema)| (name.to_owned(), schema))
                .collect();
            out.insert("properties".into(), Value::Object(properties));
        }
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
        out.insert("type".into(), json!("object"));
        if let Some(gvk) = gvk {
            out.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
        if def.atomic {
            out.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
        if def.open {
            out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
        }
        Value::Object(out)
    }

    /// A property: its type, description, and list and patch extensions.
    fn field(&mut self, field: &Field) -> Value {
        let mut out = match self.ty(&field.ty) {
            // A `$ref` may have no siblings in OpenAPI 3.0: wrap it.
            Value::Object(map) if map.contains_key("$ref") => {
                let mut wrapped = Map::new();
                wrapped.insert("allOf".into(), json!([Value::Object(map)]));
                wrapped
            }
            Value::Object(map) => map,
            _ => Map::new(),
        };
        out.insert("description".into(), json!(field.description));
        if !field.list_map_keys.is_empty() {
            out.insert(
                "x-kubernetes-list-map-keys".into(),
                json!(field.list_map_keys),
            );
        }
        if let Some(list_type) = field.list_type {
            out.insert("x-kubernetes-list-type".into(), json!(list_type));
        }
        if field.atomic_map {
            out.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
        if let Some(key) = field.patch_merge_key {
            out.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
        if let Some(strategy) = field.patch_strategy {
            out.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        }
        sort_keys(out)
    }

    fn ty(&mut self, ty: &Type) -> Value {
        match ty {
            Type::String => json!({"type": "string"}),
            Type::Int32 => json!({"format": "int32", "type": "integer"}),
            Type::Int64 => json!({"format": "int64", "type": "integer"}),
            Type::Number => json!({"format": "double", "type": "number"}),
            Type::Boolean => json!({"type": "boolean"}),
            Type::Bytes => json!({"format": "byte", "type": "string"}),
            Type::Time => self.scalar(TIME),
            Type::MicroTime => self.scalar(MICRO_TIME),
            Type::Quantity => self.scalar(QUANTITY),
            Type::IntOrString => self.scalar(INT_OR_STRING),
            Type::Object(def) => reference(def.name),
            Type::Array(inner) => json!({"items": self.ty(inner), "type": "array"}),
            Type::Map(inner) => json!({"additionalProperties": self.ty(inner), "type": "object"}),
        }
    }

    fn scalar(&mut self, scalar: Scalar) -> Value {
        self.scalars.insert(scalar);
        reference(scalar.name)
    }
}

/// The keys of a JSON object in alphabetical order, as kube-apiserver's documents have them.
fn sort_keys(map: Map<String, Value>) -> Value {
    let sorted: BTreeMap<String, Value> = map.into_iter().collect();
    Value::Object(sorted.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str) -> Value {
        v3_group_version(path).unwrap_or_else(|| panic!("{path}"))
    }

    /// What `queryParamVerifierV3` does: the first PATCH operation of the kind must list
    /// the parameter.
    fn supports_query_param(document: &Value, gvk: &Value, param: &str) -> bool {
        let Some(paths) = document["paths"].as_object() else {
            return false;
        };
        for path in paths.values() {
            let Some(patch) = path.get("patch") else {
                continue;
            };
            if &patch["x-kubernetes-group-version-kind"] != gvk {
                continue;
            }
            let params = patch["parameters"].as_array().cloned().unwrap_or_default();
            return params.iter().any(|p| p["name"] == param);
        }
        false
    }

    /// What `kubectl explain` does: the kind from the resource's path, the schema holding
    /// that kind, then the field path through properties, allOf, $ref and items.
    fn explain<'a>(document: &'a Value, prefix: &str, plural: &str, fields: &[&str]) -> &'a Value {
        let candidates = [
            format!("{prefix}/{plural}"),
            format!("{prefix}/namespaces/{{namespace}}/{plural}"),
        ];
        let gvk = candidates
            .iter()
            .filter_map(|p| document["paths"].get(p))
            .flat_map(|item| ["get", "post", "put", "patch", "delete"].map(|m| item.get(m)))
            .flatten()
            .find_map(|op| op.get("x-kubernetes-group-version-kind"))
            .expect("a path with the kind");
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let mut schema = schemas
            .values()
            .find(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|list| list.contains(gvk))
            })
            .expect("a schema with the kind");
        for field in fields {
            schema = resolve(document, schema);
            schema = &schema["properties"][*field];
            assert!(!schema.is_null(), "field {field} does not exist");
        }
        resolve(document, schema)
    }

    /// Follows `allOf`, `$ref` and `items` to the object schema.
    fn resolve<'a>(document: &'a Value, mut schema: &'a Value) -> &'a Value {
        for _ in 0..8 {
            if let Some(reference) = schema["$ref"].as_str() {
                let name = reference.trim_start_matches("#/components/schemas/");
                schema = &document["components"]["schemas"][name];
            } else if let Some(first) = schema["allOf"].get(0) {
                schema = first;
            } else if schema.get("items").is_some() {
                schema = &schema["items"];
            } else {
                return schema;
            }
        }
        schema
    }

    #[test]
    fn the_root_lists_every_served_document_with_its_hash() {
        let root = v3_root();
        let paths = root["paths"].as_object().unwrap();
        let names: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "api",
                "api/v1",
                "apis",
                "apis/admissionregistration.k8s.io",
                "apis/admissionregistration.k8s.io/v1",
                "apis/apps",
                "apis/apps/v1",
                "apis/authentication.k8s.io",
                "apis/authentication.k8s.io/v1",
                "apis/authentication.k8s.io/v1alpha1",
                "apis/authentication.k8s.io/v1beta1",
                "apis/authorization.k8s.io",
                "apis/authorization.k8s.io/v1",
                "apis/flowcontrol.apiserver.k8s.io",
                "apis/flowcontrol.apiserver.k8s.io/v1",
                "apis/rbac.authorization.k8s.io",
                "apis/rbac.authorization.k8s.io/v1",
                "version",
            ]
        );
        for (path, entry) in paths {
            let bytes = serde_json::to_vec(&doc(path)).unwrap();
            let hash = hash_hex(&bytes);
            assert_eq!(hash.len(), 16);
            assert_eq!(
                entry["serverRelativeURL"],
                format!("/openapi/v3/{path}?hash={hash}")
            );
            let (cached, cached_hash) = v3_group_version_bytes(path).unwrap();
            assert_eq!(cached, bytes.as_slice(), "{path}");
            assert_eq!(cached_hash, hash);
        }
        let hashes: BTreeSet<&str> = paths
            .values()
            .filter_map(|e| e["serverRelativeURL"].as_str())
            .collect();
        assert_eq!(
            hashes.len(),
            paths.len(),
            "documents differ, so must hashes"
        );
    }

    #[test]
    fn hash_is_fnv1a_64() {
        assert_eq!(hash_hex(b""), "CBF29CE484222325");
        assert_eq!(hash_hex(b"a"), "AF63DC4C8601EC8C");
        assert_eq!(hash_hex(b"foobar"), "85944171F73967E8");
    }

    #[test]
    fn unserved_documents_are_none() {
        for path in [
            "",
            "api/v2",
            "apis/batch/v1",
            "apis/batch",
            "apis/apps/v2",
            "apis/apps/v1/x",
            "apis",
            "openapi",
        ] {
            let served = path == "apis";
            assert_eq!(v3_group_version(path).is_some(), served, "{path}");
            assert_eq!(v3_group_version_bytes(path).is_some(), served, "{path}");
        }
        assert_eq!(v3_group_version("/api/v1/"), v3_group_version("api/v1"));
    }

    #[test]
    fn the_pod_patch_operation_carries_the_kind_and_field_validation() {
        let document = doc("api/v1");
        assert_eq!(document["openapi"], "3.0.0");
        let item = &document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        let patch = &item["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "", "kind": "Pod", "version": "v1"})
        );
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
        let params: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(
            params,
            ["dryRun", "fieldManager", "fieldValidation", "force"]
        );
        let content: Vec<&String> = patch["requestBody"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(content, PATCH_CONTENT_TYPES);
        let shared: Vec<&str> = item["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(shared, ["name", "namespace", "pretty"]);
    }

    #[test]
    fn kubectl_finds_field_validation_for_every_served_kind() {
        for resource in RESOURCES.iter().filter(|r| r.allows("patch")) {
            let path = if resource.group.is_empty() {
                format!("api/{}", resource.version)
            } else {
                format!("apis/{}/{}", resource.group, resource.version)
            };
            let document = doc(&path);
            let gvk = json!({"group": resource.group, "kind": resource.kind, "version": resource.version});
            assert!(
                supports_query_param(&document, &gvk, "fieldValidation"),
                "{}",
                resource.kind
            );
            let wrong =
                json!({"group": resource.group, "kind": "Nope", "version": resource.version});
            assert!(!supports_query_param(&document, &wrong, "fieldValidation"));
        }
    }

    #[test]
    fn every_operation_has_an_action_and_a_kind() {
        for path in document_paths() {
            let document = doc(&path);
            for (name, item) in document["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    if method == "parameters" {
                        continue;
                    }
                    assert!(op["operationId"].is_string(), "{name} {method}");
                    if op["operationId"]
                        .as_str()
                        .is_some_and(|id| id.starts_with("get"))
                    {
                        continue; // discovery and version: no kind, as in kube-apiserver
                    }
                    assert!(op["x-kubernetes-action"].is_string(), "{name} {method}");
                    assert!(
                        op["x-kubernetes-group-version-kind"]["kind"].is_string(),
                        "{name} {method}"
                    );
                    if method == "patch" || method == "put" || method == "post" {
                        let params = op["parameters"].as_array().unwrap();
                        assert!(
                            params.iter().any(|p| p["name"] == "fieldValidation"),
                            "{name} {method}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reviews_are_post_only_and_serviceaccount_token_creates_a_token_request() {
        let methods = |document: &Value, path: &str| -> Vec<String> {
            document["paths"][path]
                .as_object()
                .unwrap_or_else(|| panic!("{path}"))
                .keys()
                .filter(|k| *k != "parameters")
                .cloned()
                .collect()
        };
        let authz = doc("apis/authorization.k8s.io/v1");
        for path in [
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            "/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews",
        ] {
            assert_eq!(methods(&authz, path), ["post"], "{path}");
        }
        let paths: Vec<&String> = authz["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths.len(), 5, "{paths:?}");
        let post =
            &authz["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]["post"];
        assert_eq!(
            post["operationId"],
            "createAuthorizationV1SelfSubjectAccessReview"
        );
        let schemas = authz["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("io.k8s.api.authorization.v1.SubjectAccessReview"));
        assert!(!schemas.contains_key("io.k8s.api.authorization.v1.SubjectAccessReviewList"));
        assert_eq!(
            schemas["io.k8s.api.authorization.v1.SubjectAccessReviewStatus"]["required"],
            json!(["allowed"])
        );

        let whoami = doc("apis/authentication.k8s.io/v1beta1");
        assert_eq!(
            methods(
                &whoami,
                "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews"
            ),
            ["post"]
        );

        let core = doc("api/v1");
        let token = "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token";
        assert_eq!(methods(&core, token), ["post"]);
        let post = &core["paths"][token]["post"];
        assert_eq!(
            post["operationId"],
            "createCoreV1NamespacedServiceAccountToken"
        );
        assert_eq!(post["description"], "create token of a ServiceAccount");
        assert_eq!(
            post["x-kubernetes-group-version-kind"],
            json!({"group": "authentication.k8s.io", "kind": "TokenRequest", "version": "v1"})
        );
        assert_eq!(
            post["requestBody"]["content"]["*/*"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.authentication.v1.TokenRequest"
        );
        let request = &core["components"]["schemas"]["io.k8s.api.authentication.v1.TokenRequest"];
        assert_eq!(
            request["x-kubernetes-group-version-kind"],
            json!([{"group": "authentication.k8s.io", "kind": "TokenRequest", "version": "v1"}])
        );
        assert_eq!(
            methods(&core, "/api/v1/nodes/{name}/status"),
            ["get", "patch", "put"]
        );
        assert_eq!(methods(&core, "/api/v1/nodes"), ["delete", "get", "post"]);
        let node_spec = explain(&core, "/api/v1", "nodes", &["spec", "taints"]);
        assert_eq!(
            node_spec["properties"]["effect"]["description"],
            "`NoSchedule`, `PreferNoSchedule` or `NoExecute`."
        );
    }

    #[test]
    fn paths_follow_served_verbs_scope_and_subresources() {
        let document = doc("api/v1");
        let paths = &document["paths"];
        let methods = |path: &str| -> Vec<String> {
            paths[path]
                .as_object()
                .unwrap_or_else(|| panic!("{path}"))
                .keys()
                .filter(|k| *k != "parameters")
                .cloned()
                .collect()
        };
        assert_eq!(methods("/api/v1/"), ["get"]);
        assert_eq!(methods("/api/v1/pods"), ["get"]);
        assert_eq!(
            methods("/api/v1/namespaces/{namespace}/pods"),
            ["delete", "get", "post"]
        );
        assert_eq!(
            methods("/api/v1/namespaces/{namespace}/pods/{name}"),
            ["delete", "get", "patch", "put"]
        );
        assert_eq!(
            methods("/api/v1/namespaces/{namespace}/pods/{name}/status"),
            ["get", "patch", "put"]
        );
        // No deletecollection for services and namespaces.
        assert_eq!(
            methods("/api/v1/namespaces/{namespace}/services"),
            ["get", "post"]
        );
        assert_eq!(methods("/api/v1/namespaces"), ["get", "post"]);
        assert_eq!(methods("/api/v1/namespaces/{name}/finalize"), ["put"]);
        assert!(
            paths
                .get("/api/v1/namespaces/{namespace}/configmaps/{name}/status")
                .is_none()
        );

        let op = |path: &str, method: &str| paths[path][method]["operationId"].clone();
        assert_eq!(op("/api/v1/pods", "get"), "listCoreV1PodForAllNamespaces");
        assert_eq!(
            op("/api/v1/namespaces/{namespace}/pods", "delete"),
            "deleteCoreV1CollectionNamespacedPod"
        );
        assert_eq!(
            op("/api/v1/namespaces/{namespace}/pods/{name}/status", "get"),
            "readCoreV1NamespacedPodStatus"
        );
        assert_eq!(
            op("/api/v1/namespaces/{name}", "put"),
            "replaceCoreV1Namespace"
        );
        assert_eq!(
            op("/api/v1/namespaces/{name}/finalize", "put"),
            "replaceCoreV1NamespaceFinalize"
        );
        assert_eq!(
            paths["/api/v1/namespaces/{namespace}/pods"]["delete"]["x-kubernetes-action"],
            "deletecollection"
        );
        assert_eq!(
            paths["/api/v1/namespaces/{namespace}/pods"]["post"]["x-kubernetes-action"],
            "post"
        );
        assert_eq!(
            paths["/api/v1/namespaces/{namespace}/pods"]["get"]["tags"],
            json!(["core_v1"])
        );

        let rbac = doc("apis/rbac.authorization.k8s.io/v1");
        let rbac_paths = rbac["paths"].as_object().unwrap();
        assert_eq!(
            rbac_paths["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["patch"]["operationId"],
            "patchRbacAuthorizationV1ClusterRole"
        );
        assert_eq!(
            rbac_paths["/apis/rbac.authorization.k8s.io/v1/rolebindings"]["get"]["tags"],
            json!(["rbacAuthorization_v1"])
        );
        assert!(
            !rbac_paths
                .contains_key("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}/status")
        );
        let admission = doc("apis/admissionregistration.k8s.io/v1");
        assert_eq!(
            admission["paths"]["/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"]
                ["post"]["operationId"],
            "createAdmissionregistrationV1ValidatingWebhookConfiguration"
        );
    }

    #[test]
    fn flowcontrol_is_documented_as_kube_documents_it() {
        let flowcontrol = doc("apis/flowcontrol.apiserver.k8s.io/v1");
        let paths = flowcontrol["paths"].as_object().unwrap();
        let base = "/apis/flowcontrol.apiserver.k8s.io/v1";
        let status = &paths[&format!("{base}/prioritylevelconfigurations/{{name}}/status")];
        assert_eq!(
            status["patch"]["operationId"],
            "patchFlowcontrolApiserverV1PriorityLevelConfigurationStatus"
        );
        assert_eq!(
            paths[&format!("{base}/flowschemas")]["get"]["tags"],
            json!(["flowcontrolApiserver_v1"])
        );
        let gvk = json!({"group": "flowcontrol.apiserver.k8s.io", "version": "v1",
                         "kind": "FlowSchema"});
        assert!(supports_query_param(&flowcontrol, &gvk, "fieldValidation"));
        let queuing = explain(
            &flowcontrol,
            base,
            "prioritylevelconfigurations",
            &["spec", "limited", "limitResponse", "queuing"],
        );
        assert_eq!(queuing["properties"]["handSize"]["format"], "int32");
        let rule = explain(&flowcontrol, base, "flowschemas", &["spec", "rules"]);
        assert_eq!(rule["required"], json!(["subjects"]));
        assert_eq!(
            rule["properties"]["subjects"]["x-kubernetes-list-type"],
            "atomic"
        );
        assert!(
            !paths.contains_key(&format!("{base}/namespaces/{{namespace}}/flowschemas")),
            "cluster-scoped"
        );
    }

    #[test]
    fn explain_pods_spec_containers_walks_to_the_container_schema() {
        let document = doc("api/v1");
        let container = explain(&document, "/api/v1", "pods", &["spec", "containers"]);
        assert_eq!(
            container["description"],
            "A single application container that runs within a pod."
        );
        assert_eq!(container["required"], json!(["name"]));
        assert_eq!(container["properties"]["image"]["type"], "string");
        let ports = &container["properties"]["ports"];
        assert_eq!(ports["type"], "array");
        assert_eq!(
            ports["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.ContainerPort"
        );
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        assert_eq!(ports["x-kubernetes-list-type"], "map");
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(ports["x-kubernetes-patch-strategy"], "merge");

        let spec =
            &document["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"];
        assert_eq!(
            spec["allOf"],
            json!([{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}])
        );
        assert_eq!(spec["description"], "The desired behavior of the pod.");

        let probe = explain(
            &document,
            "/api/v1",
            "pods",
            &["spec", "containers", "livenessProbe", "httpGet"],
        );
        assert_eq!(
            probe["properties"]["port"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"
        );
        let meta = explain(&document, "/api/v1", "namespaces", &["metadata"]);
        assert_eq!(
            meta["properties"]["labels"]["additionalProperties"],
            json!({"type": "string"})
        );

        let apps = doc("apis/apps/v1");
        let template = explain(
            &apps,
            "/apis/apps/v1",
            "deployments",
            &["spec", "template", "spec"],
        );
        assert_eq!(template["required"], json!(["containers"]));
        let role = doc("apis/rbac.authorization.k8s.io/v1");
        let rules = explain(
            &role,
            "/apis/rbac.authorization.k8s.io/v1",
            "clusterroles",
            &["rules"],
        );
        assert_eq!(rules["required"], json!(["verbs"]));
    }

    #[test]
    fn kinds_and_lists_carry_their_group_version_kind() {
        let document = doc("apis/apps/v1");
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let list = &schemas["io.k8s.api.apps.v1.DeploymentList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "DeploymentList", "version": "v1"}])
        );
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.Deployment"
        );
        assert!(
            schemas["io.k8s.api.core.v1.PodSpec"].is_object(),
            "the template's types are included"
        );
        assert!(
            schemas["io.k8s.api.core.v1.PodSpec"]
                .get("x-kubernetes-group-version-kind")
                .is_none()
        );
        assert!(
            schemas.get("io.k8s.api.core.v1.Pod").is_none(),
            "only reachable types"
        );
        assert_eq!(
            schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Status"]["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Status", "version": "v1"}])
        );
        assert_eq!(
            schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"],
            "date-time"
        );
        assert_eq!(
            schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
            "int-or-string"
        );
        let volume_source =
            &doc("api/v1")["components"]["schemas"]["io.k8s.api.core.v1.RBDVolumeSource"];
        assert_eq!(volume_source["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(
            doc("api/v1")["components"]["schemas"]["io.k8s.api.core.v1.ObjectReference"]["x-kubernetes-map-type"],
            "atomic"
        );
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        for path in document_paths() {
            let document = doc(&path);
            let mut found = Vec::new();
            refs(&document, &mut found);
            assert!(!found.is_empty(), "{path}");
            for reference in found {
                let name = reference.strip_prefix("#/components/schemas/").unwrap();
                assert!(
                    document["components"]["schemas"].get(name).is_some(),
                    "{path}: {name}"
                );
            }
        }
    }

    #[test]
    fn discovery_documents_answer_their_endpoints() {
        let api = doc("api");
        assert_eq!(
            api["paths"]["/api/"]["get"]["operationId"],
            "getCoreAPIVersions"
        );
        assert!(
            api["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions"]
                .is_object()
        );
        let group = doc("apis/apps");
        assert_eq!(
            group["paths"]["/apis/apps/"]["get"]["operationId"],
            "getAppsAPI"
        );
        let version = doc("version");
        assert_eq!(
            version["paths"]["/version/"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.version.Info"
        );
        assert_eq!(
            doc("apis/rbac.authorization.k8s.io")["paths"]["/apis/rbac.authorization.k8s.io/"]["get"]
                ["operationId"],
            "getRbacAuthorizationAPI"
        );
    }
}
