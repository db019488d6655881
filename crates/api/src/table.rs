//! Server-side Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): what
//! `kubectl get` prints, computed by the server as kube-apiserver does.
//!
//! Map of the file:
//! - [`negotiate`]: which Table, if any, an `Accept` header asks for, by kube-apiserver's
//!   content negotiation (`endpoints/handlers/negotiation` over goautoneg's ordering).
//! - [`parse_include_object`]: the `?includeObject=` query parameter ([`IncludeObject`]).
//! - [`table`]: the `meta.k8s.io` Table of some objects: column definitions, one row of cells
//!   per object, and the object itself, its metadata or nothing in each row
//!   (`endpoints/handlers/response.go` `asTable`).
//! - The printers: for each kind kube-apiserver has a printer for, its columns and cells as
//!   `pkg/printers/internalversion/printers.go` (Kubernetes 1.33) computes them, including
//!   `printPod`'s status reasoning (`PodSummary`). Every other kind gets
//!   `registry/rest/table.go`'s default table, NAME and CREATED AT, as Roles and ClusterRoles
//!   do in kube-apiserver.
//! - [`human_duration`]: `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, the AGE
//!   column's `5s`, `3m2s`, `2d3h`.
//!
//! Rows follow the objects' order, except FlowSchemas: kube's `printFlowSchemaList` sorts
//! them as they are matched, by `matchingPrecedence` and then name.
//!
//! kube-apiserver always prints with `Wide: true`: every row carries the `-o wide` cells
//! (columns with priority 1) and kubectl drops them unless asked. Cells are strings except
//! where kube's printer puts a Go integer, which is a JSON number.

use serde_json::{Map, Value, json};

use crate::kind_validation::quantity::Quantity;
use crate::resources::Resource;
use crate::status::FieldError;
use crate::time::{format_rfc3339, parse_rfc3339};

// ---------------------------------------------------------------------------------------
// Content negotiation
// ---------------------------------------------------------------------------------------

/// The two versions of `meta.k8s.io` that serve Tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableVersion {
    V1,
    V1Beta1,
}

impl TableVersion {
    /// The `apiVersion` of the Table and of the PartialObjectMetadata in its rows.
    pub fn api_version(self) -> &'static str {
        match self {
            TableVersion::V1 => "meta.k8s.io/v1",
            TableVersion::V1Beta1 => "meta.k8s.io/v1beta1",
        }
    }
}

/// An `Accept` header has a handful of entries; past this many the rest are ignored, which
/// bounds the sort below.
const MAX_ACCEPT_CLAUSES: usize = 64;

/// One entry of an `Accept` header (goautoneg's `Accept`), with the parameters kube reads.
#[derive(Debug, Clone, Default, PartialEq)]
struct AcceptClause {
    media_type: String,
    sub_type: String,
    /// Parsed at `float32` precision, as goautoneg does.
    q: f32,
    /// `as=`: the kind to transform the response into.
    as_kind: Option<String>,
    /// `g=`: that kind's group.
    group: Option<String>,
    /// `v=`: that kind's version.
    version: Option<String>,
    /// `stream=`: the streaming schema.
    stream: Option<String>,
}

/// Which Table the Accept header asks for (meta.k8s.io v1 or v1beta1), if any, by kube's
/// content negotiation rules: entries in goautoneg's order (higher `q` first, then concrete
/// types before wildcards), and the first entry kubesim can answer wins. `application/json`
/// (or `application/*`, `*/*`) without `as=` means plain JSON, and so does an empty header or
/// one without any acceptable entry (kube-apiserver would answer 406 to the latter).
///
/// Acceptable: JSON media ranges that ask for no transformation or for `as=Table` in
/// `g=meta.k8s.io` `v=v1`/`v1beta1`. Entries for media types kubesim does not encode (YAML,
/// protobuf) and other transformations (`as=PartialObjectMetadata`) are passed over, so the
/// next entry decides.
pub fn negotiate(accept: &str) -> Option<TableVersion> {
    let mut clauses = parse_accept(accept);
    sort_like_goautoneg(&mut clauses);
    clauses.iter().find_map(clause_outcome).flatten()
}

/// `None`: kubesim cannot answer this entry. `Some(None)`: plain JSON. `Some(Some(v))`: a
/// Table of version `v`.
fn clause_outcome(clause: &AcceptClause) -> Option<Option<TableVersion>> {
    let json = matches!(
        (clause.media_type.as_str(), clause.sub_type.as_str()),
        ("application", "json" | "*") | ("*", "*")
    );
    if !json {
        return None;
    }
    // kube-apiserver's resource handlers allow only the `watch` streaming schema.
    if clause
        .stream
        .as_deref()
        .is_some_and(|s| !s.is_empty() && s != "watch")
    {
        return None;
    }
    match (&clause.as_kind, &clause.group, &clause.version) {
        (None, None, None) => Some(None),
        (Some(kind), Some(group), Some(version)) if kind == "Table" && group == "meta.k8s.io" => {
            match version.as_str() {
                "v1" => Some(Some(TableVersion::V1)),
                "v1beta1" => Some(Some(TableVersion::V1Beta1)),
                _ => None,
            }
        }
        // Any other `as`/`g`/`v` names a transformation kubesim does not serve.
        _ => None,
    }
}

/// goautoneg's `ParseAccept` without its sort: entries split on `,`, spaces trimmed, a
/// media range without `/` kept only when it is `*`, parameters without `=` dropped, and the
/// last of a repeated parameter winning.
fn parse_accept(header: &str) -> Vec<AcceptClause> {
    header
        .split(',')
        .take(MAX_ACCEPT_CLAUSES)
        .filter_map(parse_clause)
        .collect()
}

fn parse_clause(part: &str) -> Option<AcceptClause> {
    let mut pieces = part.trim_matches(' ').split(';');
    let media_range = pieces.next().unwrap_or("");
    let mut range = media_range.split('/');
    let media_type = range.next().unwrap_or("").trim_matches(' ').to_owned();
    let sub_type = match (range.next(), range.next()) {
        (None, _) if media_type == "*" => "*".to_owned(),
        (Some(sub), None) => sub.trim_matches(' ').to_owned(),
        _ => return None,
    };
    let mut clause = AcceptClause {
        media_type,
        sub_type,
        q: 1.0,
        ..AcceptClause::default()
    };
    for param in pieces {
        let Some((token, value)) = param.split_once('=') else {
            continue;
        };
        let value_trimmed = value.trim_matches(' ').to_owned();
        match token.trim_matches(' ') {
            // Go parses the untrimmed value and takes 0 when that fails.
            "q" => clause.q = value.parse::<f32>().unwrap_or(0.0),
            "as" => clause.as_kind = Some(value_trimmed),
            "g" => clause.group = Some(value_trimmed),
            "v" => clause.version = Some(value_trimmed),
            "stream" => clause.stream = Some(value_trimmed),
            _ => {}
        }
    }
    Some(clause)
}

/// goautoneg sorts with `sort.Sort` and a `Less` that is not a strict order (a concrete type
/// with a lower `q` still counts as "less" than a wildcard). For up to 12 entries Go's
/// `sort.Sort` is exactly this insertion sort, so the same header gives the same order here.
fn sort_like_goautoneg(clauses: &mut [AcceptClause]) {
    for i in 1..clauses.len() {
        let mut j = i;
        while j > 0 && goautoneg_less(&clauses[j], &clauses[j - 1]) {
            clauses.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn goautoneg_less(a: &AcceptClause, b: &AcceptClause) -> bool {
    a.q > b.q
        || (a.media_type != "*" && b.media_type == "*")
        || (a.sub_type != "*" && b.sub_type == "*")
}

// ---------------------------------------------------------------------------------------
// includeObject
// ---------------------------------------------------------------------------------------

/// What each row's `object` holds (`?includeObject=`, `metav1.IncludeObjectPolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// `null`.
    None,
    /// A `PartialObjectMetadata` with the object's `metadata`: what kubectl asks for.
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

/// The `includeObject` query value; empty means the default, `Metadata`. The error is the
/// message of kube-apiserver's 400 (`Status::bad_request`):
/// `Unable to convert to Table as requested: includeObject: Invalid value: "x": must be 'Metadata', 'Object', 'None', or empty`.
pub fn parse_include_object(query_value: &str) -> Result<IncludeObject, String> {
    match query_value {
        "" | "Metadata" => Ok(IncludeObject::Metadata),
        "None" => Ok(IncludeObject::None),
        "Object" => Ok(IncludeObject::Object),
        other => {
            let error = FieldError::invalid(
                "includeObject",
                Value::String(other.to_owned()),
                "must be 'Metadata', 'Object', 'None', or empty",
            );
            Err(format!("Unable to convert to Table as requested: {error}"))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Table
// ---------------------------------------------------------------------------------------

/// A meta.k8s.io Table of `objects` of `resource`'s kind: columnDefinitions (name, type,
/// format, description, priority: 0 normal, 1 for -o wide columns) and rows (cells, object per
/// include: PartialObjectMetadata {kind, apiVersion: the Table's, metadata} for Metadata).
/// `list_meta` is the list's metadata ({resourceVersion, continue, remainingItemCount}) copied
/// to the Table's metadata (for one object, pass `{resourceVersion}`). `now_unix_secs` is for
/// AGE. `no_headers` omits columnDefinitions (`null`), as kube does for watch events after the
/// first.
pub fn table(
    resource: &Resource,
    objects: &[&Value],
    list_meta: Value,
    now_unix_secs: i64,
    include: IncludeObject,
    version: TableVersion,
    no_headers: bool,
) -> Value {
    let printer = printer_for(resource);
    let objects = print_order(resource, objects);
    let columns = match (no_headers, printer) {
        (true, _) => Value::Null,
        (false, Some(printer)) => column_definitions(printer.columns),
        (false, None) => column_definitions(DEFAULT_COLUMNS),
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| row(printer, object, now_unix_secs, include, version))
        .collect();
    // The default convertor appends rows to a nil slice, so an empty list has `rows: null`;
    // the printers start from an empty slice.
    let rows = if rows.is_empty() && printer.is_none() {
        Value::Null
    } else {
        Value::Array(rows)
    };
    json!({
        "kind": "Table",
        "apiVersion": version.api_version(),
        "metadata": table_metadata(&list_meta),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The order kube prints a list's rows in: FlowSchemas by precedence, then name (the order
/// they are matched in, `FlowSchemaSequence`); every other kind as listed.
fn print_order<'a>(resource: &Resource, objects: &[&'a Value]) -> Vec<&'a Value> {
    let mut rows = objects.to_vec();
    if (resource.group, resource.kind) == (FLOWCONTROL, "FlowSchema") {
        rows.sort_by(|a, b| {
            let key = |o: &'a Value| (int(o, &["spec", "matchingPrecedence"]), name_of(o));
            key(a).cmp(&key(b))
        });
    }
    rows
}

/// `metav1.ListMeta` as Go writes it: `resourceVersion` and `continue` when not empty,
/// `remainingItemCount` when set.
fn table_metadata(list_meta: &Value) -> Value {
    let mut out = Map::new();
    for key in ["resourceVersion", "continue"] {
        if let Some(text) = list_meta.get(key).and_then(Value::as_str)
            && !text.is_empty()
        {
            out.insert(key.to_owned(), Value::String(text.to_owned()));
        }
    }
    if let Some(count) = list_meta
        .get("remainingItemCount")
        .filter(|v| v.is_number())
    {
        out.insert("remainingItemCount".to_owned(), count.clone());
    }
    Value::Object(out)
}

fn column_definitions(columns: &[Column]) -> Value {
    let definitions = columns
        .iter()
        .map(|column| {
            json!({
                "name": column.name,
                "type": column.kind,
                "format": column.format,
                "description": column.description,
                "priority": column.priority,
            })
        })
        .collect();
    Value::Array(definitions)
}

fn row(
    printer: Option<&Printer>,
    object: &Value,
    now_unix_secs: i64,
    include: IncludeObject,
    version: TableVersion,
) -> Value {
    let cells = match printer {
        Some(printer) => (printer.cells)(object, now_unix_secs),
        None => default_cells(object),
    };
    let mut row = Map::new();
    row.insert("cells".to_owned(), Value::Array(cells));
    if let Some(conditions) = printer.and_then(|p| (p.conditions)(object)) {
        row.insert("conditions".to_owned(), conditions);
    }
    row.insert("object".to_owned(), row_object(object, include, version));
    Value::Object(row)
}

fn row_object(object: &Value, include: IncludeObject, version: TableVersion) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => object.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": version.api_version(),
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Printers: columns and cells per kind
// ---------------------------------------------------------------------------------------

/// One `metav1.TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Column {
    name: &'static str,
    /// `type`: `string`, `integer`, `date` (an OpenAPI type, not the cell's JSON type).
    kind: &'static str,
    /// `format`: `name` for the column that names the object, else empty.
    format: &'static str,
    description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    priority: u8,
}

impl Column {
    const fn new(name: &'static str, kind: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind,
            format: "",
            description,
            priority: 0,
        }
    }

    const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }

    const fn named(self) -> Column {
        Column {
            format: "name",
            ..self
        }
    }
}

/// A kind's columns and how to compute one object's cells (and row conditions).
struct Printer {
    columns: &'static [Column],
    cells: fn(&Value, i64) -> Vec<Value>,
    conditions: fn(&Value) -> Option<Value>,
}

const NAME: Column = Column::new("Name", "string", doc::NAME).named();
const AGE: Column = Column::new("Age", "string", doc::CREATION_TIMESTAMP);

/// `registry/rest/table.go`'s columns for kinds without a printer.
const DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Created At", "date", doc::CREATION_TIMESTAMP),
];

const FLOWCONTROL: &str = "flowcontrol.apiserver.k8s.io";

/// What Go's `time.Time{}.UTC().Format(time.RFC3339)` writes for a missing timestamp.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn no_conditions(_: &Value) -> Option<Value> {
    None
}

/// The printer kube-apiserver uses for `resource`, or `None` for the default table.
fn printer_for(resource: &Resource) -> Option<&'static Printer> {
    match (resource.group, resource.kind) {
        ("", "Namespace") => Some(&NAMESPACE_PRINTER),
        ("", "Node") => Some(&NODE_PRINTER),
        ("", "Pod") => Some(&POD_PRINTER),
        ("", "ConfigMap") => Some(&CONFIG_MAP_PRINTER),
        ("", "Secret") => Some(&SECRET_PRINTER),
        ("", "ServiceAccount") => Some(&SERVICE_ACCOUNT_PRINTER),
        ("", "Service") => Some(&SERVICE_PRINTER),
        ("", "Event") => Some(&EVENT_PRINTER),
        ("", "LimitRange") => Some(&LIMIT_RANGE_PRINTER),
        ("", "ResourceQuota") => Some(&RESOURCE_QUOTA_PRINTER),
        ("apps", "Deployment") => Some(&DEPLOYMENT_PRINTER),
        ("rbac.authorization.k8s.io", "RoleBinding") => Some(&ROLE_BINDING_PRINTER),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Some(&CLUSTER_ROLE_BINDING_PRINTER),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => Some(&WEBHOOK_CONFIGURATION_PRINTER),
        (FLOWCONTROL, "FlowSchema") => Some(&FLOW_SCHEMA_PRINTER),
        (FLOWCONTROL, "PriorityLevelConfiguration") => Some(&PRIORITY_LEVEL_PRINTER),
        _ => None,
    }
}

/// NAME and CREATED AT (RFC 3339, UTC), all strings.
fn default_cells(object: &Value) -> Vec<Value> {
    let created = time_at(object, &["metadata", "creationTimestamp"])
        .map(format_rfc3339)
        .unwrap_or_else(|| GO_ZERO_TIME.to_owned());
    vec![name_cell(object), Value::String(created)]
}

fn name_cell(object: &Value) -> Value {
    Value::String(name_of(object).to_owned())
}

fn name_of(object: &Value) -> &str {
    text(object, &["metadata", "name"])
}

fn age_cell(object: &Value, now_unix_secs: i64) -> Value {
    Value::String(age(
        time_at(object, &["metadata", "creationTimestamp"]),
        now_unix_secs,
    ))
}

fn string_cell(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

fn count_cell(count: usize) -> Value {
    Value::from(count as u64)
}

// --- Namespaces --------------------------------------------------------------------------

static NAMESPACE_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "The status of the namespace"),
        AGE,
    ],
    cells: namespace_cells,
    conditions: no_conditions,
};

fn namespace_cells(namespace: &Value, now_unix_secs: i64) -> Vec<Value> {
    vec![
        name_cell(namespace),
        string_cell(text(namespace, &["status", "phase"])),
        age_cell(namespace, now_unix_secs),
    ]
}

// --- Nodes -------------------------------------------------------------------------------

static NODE_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "The status of the node"),
        Column::new("Roles", "string", "The roles of the node"),
        AGE,
        Column::new("Version", "string", doc::KUBELET_VERSION),
        Column::new("Internal-IP", "string", doc::NODE_ADDRESSES).wide(),
        Column::new("External-IP", "string", doc::NODE_ADDRESSES).wide(),
        Column::new("OS-Image", "string", doc::OS_IMAGE).wide(),
        Column::new("Kernel-Version", "string", doc::KERNEL_VERSION).wide(),
        Column::new(
            "Container-Runtime",
            "string",
            doc::CONTAINER_RUNTIME_VERSION,
        )
        .wide(),
    ],
    cells: node_cells,
    conditions: no_conditions,
};

fn node_cells(node: &Value, now_unix_secs: i64) -> Vec<Value> {
    let info = |field: &str| {
        let value = text(node, &["status", "nodeInfo", field]);
        string_cell(if value.is_empty() { "<unknown>" } else { value })
    };
    vec![
        name_cell(node),
        string_cell(node_status(node)),
        string_cell(node_roles(node)),
        age_cell(node, now_unix_secs),
        string_cell(text(node, &["status", "nodeInfo", "kubeletVersion"])),
        string_cell(node_address(node, "InternalIP")),
        string_cell(node_address(node, "ExternalIP")),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
}

/// `Ready` or `NotReady` from the Ready condition (`Unknown` without one), then
/// `SchedulingDisabled` for a cordoned node.
fn node_status(node: &Value) -> String {
    let ready = list(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|condition| text(condition, &["type"]) == "Ready");
    let mut status = match ready {
        Some(condition) if text(condition, &["status"]) == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Roles from `node-role.kubernetes.io/<role>` label keys and `kubernetes.io/role` values,
/// sorted and comma-separated; `<none>`.
fn node_roles(node: &Value) -> String {
    const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
    let mut roles = std::collections::BTreeSet::new();
    if let Some(labels) = at(node, &["metadata", "labels"]).and_then(Value::as_object) {
        for (key, value) in labels {
            match key.strip_prefix(ROLE_PREFIX) {
                Some(role) if !role.is_empty() => {
                    roles.insert(role.to_owned());
                }
                Some(_) => {}
                None if key == "kubernetes.io/role" => {
                    if let Some(role) = value.as_str().filter(|r| !r.is_empty()) {
                        roles.insert(role.to_owned());
                    }
                }
                None => {}
            }
        }
    }
    let roles: Vec<String> = roles.into_iter().collect();
    or_none(&roles.join(",")).to_owned()
}

/// The first address of `kind`, or `<none>`.
fn node_address(node: &Value, kind: &str) -> String {
    list(node, &["status", "addresses"])
        .iter()
        .find(|address| text(address, &["type"]) == kind)
        .map_or("<none>", |address| text(address, &["address"]))
        .to_owned()
}

// --- ConfigMaps, Secrets, ServiceAccounts, webhook configurations -------------------------

static CONFIG_MAP_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Data", "string", doc::CONFIG_MAP_DATA),
        AGE,
    ],
    cells: config_map_cells,
    conditions: no_conditions,
};

fn config_map_cells(config_map: &Value, now_unix_secs: i64) -> Vec<Value> {
    let data = entries(config_map, &["data"]) + entries(config_map, &["binaryData"]);
    vec![
        name_cell(config_map),
        count_cell(data),
        age_cell(config_map, now_unix_secs),
    ]
}

static SECRET_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", doc::SECRET_TYPE),
        Column::new("Data", "string", doc::SECRET_DATA),
        AGE,
    ],
    cells: secret_cells,
    conditions: no_conditions,
};

fn secret_cells(secret: &Value, now_unix_secs: i64) -> Vec<Value> {
    vec![
        name_cell(secret),
        string_cell(text(secret, &["type"])),
        count_cell(secret_data_keys(secret)),
        age_cell(secret, now_unix_secs),
    ]
}

/// kube's printer sees the internal Secret, into which `stringData` was merged over `data`;
/// count the keys of both, once each.
fn secret_data_keys(secret: &Value) -> usize {
    let data = at(secret, &["data"]).and_then(Value::as_object);
    let string_data = at(secret, &["stringData"]).and_then(Value::as_object);
    let only_in_string_data = string_data.map_or(0, |extra| {
        extra
            .keys()
            .filter(|key| !data.is_some_and(|d| d.contains_key(*key)))
            .count()
    });
    data.map_or(0, Map::len) + only_in_string_data
}

/// Kubernetes 1.33 still prints SECRETS (kubernetes#117160 drops it in 1.35).
static SERVICE_ACCOUNT_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Secrets", "string", doc::SERVICE_ACCOUNT_SECRETS),
        AGE,
    ],
    cells: service_account_cells,
    conditions: no_conditions,
};

fn service_account_cells(account: &Value, now_unix_secs: i64) -> Vec<Value> {
    vec![
        name_cell(account),
        count_cell(list(account, &["secrets"]).len()),
        age_cell(account, now_unix_secs),
    ]
}

static WEBHOOK_CONFIGURATION_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Webhooks",
            "integer",
            "Webhooks indicates the number of webhooks registered in this configuration",
        ),
        AGE,
    ],
    cells: webhook_configuration_cells,
    conditions: no_conditions,
};

fn webhook_configuration_cells(configuration: &Value, now_unix_secs: i64) -> Vec<Value> {
    vec![
        name_cell(configuration),
        count_cell(list(configuration, &["webhooks"]).len()),
        age_cell(configuration, now_unix_secs),
    ]
}

// --- Pods --------------------------------------------------------------------------------

static POD_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        Column::new(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        Column::new(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        AGE,
        Column::new("IP", "string", doc::POD_IP).wide(),
        Column::new("Node", "string", doc::NODE_NAME).wide(),
        Column::new("Nominated Node", "string", doc::NOMINATED_NODE_NAME).wide(),
        Column::new("Readiness Gates", "string", doc::READINESS_GATES).wide(),
    ],
    cells: pod_cells,
    conditions: pod_conditions,
};

fn pod_cells(pod: &Value, now_unix_secs: i64) -> Vec<Value> {
    let summary = pod_summary(pod);
    let restarts = match summary.last_restart_unix_secs {
        Some(last) if summary.restarts != 0 => format!(
            "{} ({} ago)",
            summary.restarts,
            human_duration(now_unix_secs.saturating_sub(last))
        ),
        _ => summary.restarts.to_string(),
    };
    let pod_ip = list(pod, &["status", "podIPs"])
        .first()
        .map_or("", |ip| text(ip, &["ip"]));
    vec![
        name_cell(pod),
        string_cell(format!("{}/{}", summary.ready, summary.total)),
        string_cell(summary.reason),
        string_cell(restarts),
        age_cell(pod, now_unix_secs),
        string_cell(or_none(pod_ip)),
        string_cell(or_none(text(pod, &["spec", "nodeName"]))),
        string_cell(or_none(text(pod, &["status", "nominatedNodeName"]))),
        string_cell(readiness_gates(pod)),
    ]
}

/// Completed pods carry a row condition, which clients use to tell finished pods apart.
fn pod_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{
        "type": "Completed",
        "status": "True",
        "reason": reason,
        "message": message,
    }]))
}

/// READY, STATUS and RESTARTS of a pod, reasoned as `printPod` does.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodSummary {
    /// Ready containers, started-and-ready sidecars included.
    ready: i64,
    /// Containers plus sidecars (init containers with `restartPolicy: Always`).
    total: i64,
    /// The STATUS column.
    reason: String,
    restarts: i64,
    /// When the most recently restarted container last terminated.
    last_restart_unix_secs: Option<i64>,
}

/// What the init containers' pass leaves for the main containers' pass.
#[derive(Debug, Default)]
struct InitPass {
    /// An init container is still running or failed: its reason is the pod's.
    initializing: bool,
    /// Restarts of sidecars only; they keep counting once the pod is initialized.
    sidecar_restarts: i64,
    sidecar_last_restart: Option<i64>,
}

fn pod_summary(pod: &Value) -> PodSummary {
    let mut summary = PodSummary {
        ready: 0,
        total: list(pod, &["spec", "containers"]).len() as i64,
        reason: initial_pod_reason(pod),
        restarts: 0,
        last_restart_unix_secs: None,
    };
    let init = init_containers_pass(pod, &mut summary);
    if !init.initializing || first_condition_status(pod, "Initialized") == Some("True") {
        containers_pass(pod, &mut summary, init);
    }
    if has_deletion_timestamp(pod) {
        let phase = text(pod, &["status", "phase"]);
        if text(pod, &["status", "reason"]) == "NodeLost" {
            summary.reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            summary.reason = "Terminating".to_owned();
        }
    }
    summary
}

/// The phase, or the pod's `status.reason`, or `SchedulingGated` while scheduling gates hold it.
fn initial_pod_reason(pod: &Value) -> String {
    let mut reason = text(pod, &["status", "phase"]);
    let status_reason = text(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason;
    }
    let gated = list(pod, &["status", "conditions"])
        .iter()
        .any(|condition| {
            text(condition, &["type"]) == "PodScheduled"
                && text(condition, &["reason"]) == "SchedulingGated"
        });
    if gated { "SchedulingGated" } else { reason }.to_owned()
}

/// Init containers in order: finished ones and started sidecars are passed over; the first
/// other one decides the pod's reason (`Init:Error`, `Init:CrashLoopBackOff`, `Init:1/2`).
fn init_containers_pass(pod: &Value, summary: &mut PodSummary) -> InitPass {
    let specs = list(pod, &["spec", "initContainers"]);
    summary.total += specs.iter().filter(|spec| is_sidecar(spec)).count() as i64;
    let mut pass = InitPass::default();
    for (index, status) in list(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let restarts = int(status, &["restartCount"]);
        let finished = time_at(status, &["lastState", "terminated", "finishedAt"]);
        summary.restarts = summary.restarts.saturating_add(restarts);
        summary.last_restart_unix_secs = later(summary.last_restart_unix_secs, finished);
        // kube looks the spec up in a map by name, so a repeated name finds the last one.
        let name = text(status, &["name"]);
        let sidecar = specs
            .iter()
            .rev()
            .find(|spec| text(spec, &["name"]) == name)
            .is_some_and(is_sidecar);
        if sidecar {
            pass.sidecar_restarts = pass.sidecar_restarts.saturating_add(restarts);
            pass.sidecar_last_restart = later(pass.sidecar_last_restart, finished);
        }
        if present(status, &["state", "terminated"])
            && int(status, &["state", "terminated", "exitCode"]) == 0
        {
            continue;
        }
        if sidecar && at(status, &["started"]) == Some(&Value::Bool(true)) {
            if at(status, &["ready"]) == Some(&Value::Bool(true)) {
                summary.ready += 1;
            }
            continue;
        }
        summary.reason = init_blocked_reason(status, index, specs.len());
        pass.initializing = true;
        break;
    }
    pass
}

/// Why the pod is still initializing, from the first init container that has not finished.
fn init_blocked_reason(status: &Value, index: usize, init_containers: usize) -> String {
    if present(status, &["state", "terminated"]) {
        return match text(status, &["state", "terminated", "reason"]) {
            "" => format!("Init:{}", exit_description(status)),
            reason => format!("Init:{reason}"),
        };
    }
    match text(status, &["state", "waiting", "reason"]) {
        "" | "PodInitializing" => format!("Init:{index}/{init_containers}"),
        reason => format!("Init:{reason}"),
    }
}

/// `Signal:9` or `ExitCode:1` for a container that terminated without a reason.
fn exit_description(status: &Value) -> String {
    let signal = int(status, &["state", "terminated", "signal"]);
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        let code = int(status, &["state", "terminated", "exitCode"]);
        format!("ExitCode:{code}")
    }
}

/// The main containers, last to first, so the first container's state has the last word.
fn containers_pass(pod: &Value, summary: &mut PodSummary, init: InitPass) {
    summary.restarts = init.sidecar_restarts;
    summary.last_restart_unix_secs = init.sidecar_last_restart;
    let mut has_running = false;
    for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
        summary.restarts = summary
            .restarts
            .saturating_add(int(status, &["restartCount"]));
        let finished = time_at(status, &["lastState", "terminated", "finishedAt"]);
        summary.last_restart_unix_secs = later(summary.last_restart_unix_secs, finished);
        let waiting_reason = text(status, &["state", "waiting", "reason"]);
        let terminated_reason = text(status, &["state", "terminated", "reason"]);
        if !waiting_reason.is_empty() {
            summary.reason = waiting_reason.to_owned();
        } else if !terminated_reason.is_empty() {
            summary.reason = terminated_reason.to_owned();
        } else if present(status, &["state", "terminated"]) {
            summary.reason = exit_description(status);
        } else if at(status, &["ready"]) == Some(&Value::Bool(true))
            && present(status, &["state", "running"])
        {
            has_running = true;
            summary.ready += 1;
        }
    }
    // One container completed while another still runs: the pod is not "Completed".
    if summary.reason == "Completed" && has_running {
        summary.reason = if any_condition_true(pod, "Ready") {
            "Running"
        } else {
            "NotReady"
        }
        .to_owned();
    }
}

fn is_sidecar(container: &Value) -> bool {
    text(container, &["restartPolicy"]) == "Always"
}

fn has_deletion_timestamp(object: &Value) -> bool {
    at(object, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}

/// The status of the first condition of this type (`isPodInitializedConditionTrue`).
fn first_condition_status<'a>(pod: &'a Value, condition_type: &str) -> Option<&'a str> {
    list(pod, &["status", "conditions"])
        .iter()
        .find(|condition| text(condition, &["type"]) == condition_type)
        .map(|condition| text(condition, &["status"]))
}

/// Whether any condition of this type is True (`hasPodReadyCondition`).
fn any_condition_true(pod: &Value, condition_type: &str) -> bool {
    list(pod, &["status", "conditions"])
        .iter()
        .any(|condition| {
            text(condition, &["type"]) == condition_type && text(condition, &["status"]) == "True"
        })
}

/// `2/3`: readiness gates whose condition is True, of all gates; `<none>` without gates.
fn readiness_gates(pod: &Value) -> String {
    let gates = list(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let passing = gates
        .iter()
        .filter(|gate| first_condition_status(pod, text(gate, &["conditionType"])) == Some("True"))
        .count();
    format!("{passing}/{}", gates.len())
}

// --- Services ----------------------------------------------------------------------------

static SERVICE_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", doc::SERVICE_TYPE),
        Column::new("Cluster-IP", "string", doc::CLUSTER_IP),
        Column::new("External-IP", "string", doc::EXTERNAL_IPS),
        Column::new("Port(s)", "string", doc::SERVICE_PORTS),
        AGE,
        Column::new("Selector", "string", doc::SERVICE_SELECTOR).wide(),
    ],
    cells: service_cells,
    conditions: no_conditions,
};

fn service_cells(service: &Value, now_unix_secs: i64) -> Vec<Value> {
    let cluster_ip = list(service, &["spec", "clusterIPs"])
        .first()
        .map_or("<none>", |ip| ip.as_str().unwrap_or(""));
    let ports = service_ports(service);
    vec![
        name_cell(service),
        string_cell(text(service, &["spec", "type"])),
        string_cell(cluster_ip),
        string_cell(service_external_ip(service)),
        string_cell(if ports.is_empty() {
            "<none>".to_owned()
        } else {
            ports
        }),
        age_cell(service, now_unix_secs),
        string_cell(format_labels(at(service, &["spec", "selector"]))),
    ]
}

/// `80/TCP,443:30443/TCP` (`makePortString`).
fn service_ports(service: &Value) -> String {
    let ports: Vec<String> = list(service, &["spec", "ports"])
        .iter()
        .map(|port| {
            let number = int(port, &["port"]);
            let protocol = text(port, &["protocol"]);
            match int(port, &["nodePort"]) {
                node_port if node_port > 0 => format!("{number}:{node_port}/{protocol}"),
                _ => format!("{number}/{protocol}"),
            }
        })
        .collect();
    ports.join(",")
}

/// The EXTERNAL-IP column (`getServiceExternalIP`, wide: load balancer addresses unclipped).
fn service_external_ip(service: &Value) -> String {
    let external_ips: Vec<&str> = list(service, &["spec", "externalIPs"])
        .iter()
        .map(|ip| ip.as_str().unwrap_or(""))
        .collect();
    match text(service, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let mut addresses = load_balancer_addresses(service);
            addresses.extend(external_ips.iter().map(|ip| (*ip).to_owned()));
            if addresses.is_empty() {
                "<pending>".to_owned()
            } else {
                addresses.join(",")
            }
        }
        "ExternalName" => text(service, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// The load balancer's ingress IPs (or hostnames where there is no IP), sorted and unique.
fn load_balancer_addresses(service: &Value) -> Vec<String> {
    let mut addresses: Vec<String> = list(service, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|ingress| match text(ingress, &["ip"]) {
            "" => text(ingress, &["hostname"]),
            ip => ip,
        })
        .filter(|address| !address.is_empty())
        .map(str::to_owned)
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// `labels.FormatLabels`: `a=1,b=2` sorted by key, `<none>` when empty.
fn format_labels(labels: Option<&Value>) -> String {
    let Some(labels) = labels.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".to_owned();
    };
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

// --- LimitRanges and ResourceQuotas -------------------------------------------------------

static LIMIT_RANGE_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Created At", "date", doc::CREATION_TIMESTAMP),
    ],
    cells: limit_range_cells,
    conditions: no_conditions,
};

/// `printLimitRange`: the name and the creation time itself, a `metav1.Time` cell (RFC 3339
/// in UTC, `null` when unset; the default table writes Go's zero time instead).
fn limit_range_cells(limit_range: &Value, _now_unix_secs: i64) -> Vec<Value> {
    let created = time_at(limit_range, &["metadata", "creationTimestamp"])
        .map_or(Value::Null, |secs| Value::String(format_rfc3339(secs)));
    vec![name_cell(limit_range), created]
}

static RESOURCE_QUOTA_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        Column::new(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column::new(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
    ],
    cells: resource_quota_cells,
    conditions: no_conditions,
};

/// `printResourceQuota`: each resource of `status.hard`, sorted by name, as
/// `<name>: <used>/<hard>`; `limits.*` resources in LIMIT, the others in REQUEST.
fn resource_quota_cells(quota: &Value, now_unix_secs: i64) -> Vec<Value> {
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    if let Some(hard) = at(quota, &["status", "hard"]).and_then(Value::as_object) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for name in names {
            let used = at(quota, &["status", "used", name.as_str()]);
            let entry = format!(
                "{name}: {}/{}",
                quantity_text(used),
                quantity_text(hard.get(name.as_str()))
            );
            if name.split('.').count() > 1 && name.split('.').next() == Some("limits") {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
    }
    vec![
        name_cell(quota),
        age_cell(quota, now_unix_secs),
        string_cell(requests.join(", ")),
        string_cell(limits.join(", ")),
    ]
}

/// `Quantity.String()` of a stored quantity: its canonical form, `0` when absent (Go's zero
/// Quantity); an unparsable one as it is written.
fn quantity_text(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "0".to_owned();
    };
    match Quantity::from_json(value) {
        Some(q) => q.canonical(),
        None => value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned),
    }
}

// --- FlowSchemas and PriorityLevelConfigurations ------------------------------------------

static FLOW_SCHEMA_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "PriorityLevel",
            "string",
            doc::PRIORITY_LEVEL_REFERENCE_NAME,
        ),
        Column::new("MatchingPrecedence", "string", doc::MATCHING_PRECEDENCE),
        Column::new("DistinguisherMethod", "string", doc::DISTINGUISHER_METHOD),
        AGE,
        Column::new(
            "MissingPL",
            "string",
            "references a broken or non-existent PriorityLevelConfiguration",
        ),
    ],
    cells: flow_schema_cells,
    conditions: no_conditions,
};

/// `printFlowSchema`: the precedence is a Go integer; MISSINGPL is the status of the first
/// `Dangling` condition (the APF controller sets it), `?` before there is one.
fn flow_schema_cells(schema: &Value, now_unix_secs: i64) -> Vec<Value> {
    let method = if present(schema, &["spec", "distinguisherMethod"]) {
        text(schema, &["spec", "distinguisherMethod", "type"])
    } else {
        "<none>"
    };
    let missing = list(schema, &["status", "conditions"])
        .iter()
        .find(|condition| text(condition, &["type"]) == "Dangling")
        .map_or("?", |condition| text(condition, &["status"]));
    vec![
        name_cell(schema),
        string_cell(text(
            schema,
            &["spec", "priorityLevelConfiguration", "name"],
        )),
        Value::from(int(schema, &["spec", "matchingPrecedence"])),
        string_cell(method),
        age_cell(schema, now_unix_secs),
        string_cell(missing),
    ]
}

static PRIORITY_LEVEL_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", doc::PRIORITY_LEVEL_TYPE),
        Column::new(
            "NominalConcurrencyShares",
            "string",
            doc::NOMINAL_CONCURRENCY_SHARES,
        ),
        Column::new("Queues", "string", doc::QUEUES),
        Column::new("HandSize", "string", doc::HAND_SIZE),
        Column::new("QueueLengthLimit", "string", doc::QUEUE_LENGTH_LIMIT),
        AGE,
    ],
    cells: priority_level_cells,
    conditions: no_conditions,
};

/// `printPriorityLevelConfiguration`: the numbers are Go integers, `<none>` where the level
/// has no `limited` part (Exempt levels) or no queues (a `Reject` response).
fn priority_level_cells(level: &Value, now_unix_secs: i64) -> Vec<Value> {
    let none = || string_cell("<none>");
    let (mut shares, mut queues, mut hand_size, mut queue_length) =
        (none(), none(), none(), none());
    if present(level, &["spec", "limited"]) {
        shares = Value::from(int(level, &["spec", "limited", "nominalConcurrencyShares"]));
        let queuing = ["spec", "limited", "limitResponse", "queuing"];
        if present(level, &queuing) {
            let number = |field: &str| {
                let mut path = queuing.to_vec();
                path.push(field);
                Value::from(int(level, &path))
            };
            (queues, hand_size, queue_length) = (
                number("queues"),
                number("handSize"),
                number("queueLengthLimit"),
            );
        }
    }
    vec![
        name_cell(level),
        string_cell(text(level, &["spec", "type"])),
        shares,
        queues,
        hand_size,
        queue_length,
        age_cell(level, now_unix_secs),
    ]
}

// --- Events ------------------------------------------------------------------------------

static EVENT_PRINTER: Printer = Printer {
    columns: &[
        Column::new("Last Seen", "string", doc::EVENT_LAST_TIMESTAMP),
        Column::new("Type", "string", doc::EVENT_TYPE),
        Column::new("Reason", "string", doc::EVENT_REASON),
        Column::new("Object", "string", doc::EVENT_INVOLVED_OBJECT),
        Column::new("Subobject", "string", doc::OBJECT_REFERENCE_FIELD_PATH).wide(),
        Column::new("Source", "string", doc::EVENT_SOURCE).wide(),
        Column::new("Message", "string", doc::EVENT_MESSAGE),
        Column::new("First Seen", "string", doc::EVENT_FIRST_TIMESTAMP).wide(),
        Column::new("Count", "string", doc::EVENT_COUNT).wide(),
        NAME.wide(),
    ],
    cells: event_cells,
    conditions: no_conditions,
};

fn event_cells(event: &Value, now_unix_secs: i64) -> Vec<Value> {
    let first_seen = match time_at(event, &["firstTimestamp"]) {
        Some(first) => age(Some(first), now_unix_secs),
        None => age(time_at(event, &["eventTime"]), now_unix_secs),
    };
    let mut last_seen = match time_at(event, &["lastTimestamp"]) {
        Some(last) => age(Some(last), now_unix_secs),
        None => first_seen.clone(),
    };
    let mut count = int(event, &["count"]);
    if present(event, &["series"]) {
        last_seen = age(
            time_at(event, &["series", "lastObservedTime"]),
            now_unix_secs,
        );
        count = int(event, &["series", "count"]);
    } else if count == 0 {
        // Events of the events.k8s.io API that happened once have no count.
        count = 1;
    }
    vec![
        string_cell(last_seen),
        string_cell(text(event, &["type"])),
        string_cell(text(event, &["reason"])),
        string_cell(event_object(event)),
        string_cell(text(event, &["involvedObject", "fieldPath"])),
        string_cell(event_source(event)),
        string_cell(text(event, &["message"]).trim()),
        string_cell(first_seen),
        Value::from(count),
        name_cell(event),
    ]
}

/// `pod/web-0`: the involved object's kind in lower case and its name.
fn event_object(event: &Value) -> String {
    let kind = text(event, &["involvedObject", "kind"]).to_lowercase();
    match text(event, &["involvedObject", "name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    }
}

/// `kubelet, node-1` (`formatEventSource`): the reporting component and host, falling back to
/// the events.k8s.io fields.
fn event_source(event: &Value) -> String {
    let component = first_non_empty(
        text(event, &["source", "component"]),
        text(event, &["reportingComponent"]),
    );
    let instance = first_non_empty(
        text(event, &["source", "host"]),
        text(event, &["reportingInstance"]),
    );
    if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    }
}

fn first_non_empty<'a>(first: &'a str, second: &'a str) -> &'a str {
    if first.is_empty() { second } else { first }
}

// --- Deployments -------------------------------------------------------------------------

static DEPLOYMENT_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", "Number of the pod with ready state"),
        Column::new("Up-to-date", "string", doc::DEPLOYMENT_UPDATED_REPLICAS),
        Column::new("Available", "string", doc::DEPLOYMENT_AVAILABLE_REPLICAS),
        AGE,
        Column::new(
            "Containers",
            "string",
            "Names of each container in the template.",
        )
        .wide(),
        Column::new(
            "Images",
            "string",
            "Images referenced by each container in the template.",
        )
        .wide(),
        Column::new("Selector", "string", doc::DEPLOYMENT_SELECTOR).wide(),
    ],
    cells: deployment_cells,
    conditions: no_conditions,
};

fn deployment_cells(deployment: &Value, now_unix_secs: i64) -> Vec<Value> {
    // apps/v1 defaults an unset `replicas` to 1 before kube's printer sees it.
    let desired = at(deployment, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = int(deployment, &["status", "readyReplicas"]);
    let containers = list(deployment, &["spec", "template", "spec", "containers"]);
    let field = |key: &str| -> String {
        let values: Vec<&str> = containers.iter().map(|c| text(c, &[key])).collect();
        values.join(",")
    };
    vec![
        name_cell(deployment),
        string_cell(format!("{ready}/{desired}")),
        Value::from(int(deployment, &["status", "updatedReplicas"])),
        Value::from(int(deployment, &["status", "availableReplicas"])),
        age_cell(deployment, now_unix_secs),
        string_cell(field("name")),
        string_cell(field("image")),
        string_cell(label_selector_string(at(deployment, &["spec", "selector"]))),
    ]
}

/// A `metav1.LabelSelector` as `labels.Selector.String()` writes it: requirements sorted by
/// key, `app=web`, `tier in (a,b)`, `tier notin (c)`, `gpu`, `!spot`; empty for a missing or
/// empty selector; `<invalid>` when kube would refuse to convert it (an unknown operator,
/// values where none belong or none where some must). Key and value syntax is not checked
/// here: admission validated it.
fn label_selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return String::new();
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            let value = value.as_str().unwrap_or("");
            requirements.push((key.clone(), format!("{key}={value}")));
        }
    }
    for expression in list(selector, &["matchExpressions"]) {
        match requirement_string(expression) {
            Some(requirement) => {
                requirements.push((text(expression, &["key"]).to_owned(), requirement))
            }
            None => return "<invalid>".to_owned(),
        }
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    let parts: Vec<String> = requirements.into_iter().map(|(_, text)| text).collect();
    parts.join(",")
}

/// One `matchExpressions` entry as a requirement string, or `None` if kube rejects it.
fn requirement_string(expression: &Value) -> Option<String> {
    let key = text(expression, &["key"]);
    let mut values: Vec<&str> = list(expression, &["values"])
        .iter()
        .map(|v| v.as_str().unwrap_or(""))
        .collect();
    values.sort_unstable();
    match (text(expression, &["operator"]), values.is_empty()) {
        ("In", false) => Some(format!("{key} in ({})", values.join(","))),
        ("NotIn", false) => Some(format!("{key} notin ({})", values.join(","))),
        ("Exists", true) => Some(key.to_owned()),
        ("DoesNotExist", true) => Some(format!("!{key}")),
        _ => None,
    }
}

// --- RoleBindings and ClusterRoleBindings ------------------------------------------------

static ROLE_BINDING_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Role", "string", doc::ROLE_BINDING_ROLE_REF),
        AGE,
        Column::new("Users", "string", "Users in the roleBinding").wide(),
        Column::new("Groups", "string", "Groups in the roleBinding").wide(),
        Column::new(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the roleBinding",
        )
        .wide(),
    ],
    cells: binding_cells,
    conditions: no_conditions,
};

static CLUSTER_ROLE_BINDING_PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Role", "string", doc::CLUSTER_ROLE_BINDING_ROLE_REF),
        AGE,
        Column::new("Users", "string", "Users in the clusterRoleBinding").wide(),
        Column::new("Groups", "string", "Groups in the clusterRoleBinding").wide(),
        Column::new(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the clusterRoleBinding",
        )
        .wide(),
    ],
    cells: binding_cells,
    conditions: no_conditions,
};

/// `ClusterRole/admin`, then users, groups and `namespace/name` service accounts, each joined
/// with `, ` (`SubjectsStrings`; subjects of other kinds are not shown).
fn binding_cells(binding: &Value, now_unix_secs: i64) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        text(binding, &["roleRef", "kind"]),
        text(binding, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list(binding, &["subjects"]) {
        let name = text(subject, &["name"]);
        match text(subject, &["kind"]) {
            "User" => users.push(name.to_owned()),
            "Group" => groups.push(name.to_owned()),
            "ServiceAccount" => {
                accounts.push(format!("{}/{name}", text(subject, &["namespace"])));
            }
            _ => {}
        }
    }
    vec![
        name_cell(binding),
        string_cell(role),
        age_cell(binding, now_unix_secs),
        string_cell(users.join(", ")),
        string_cell(groups.join(", ")),
        string_cell(accounts.join(", ")),
    ]
}

// ---------------------------------------------------------------------------------------
// Durations and timestamps
// ---------------------------------------------------------------------------------------

/// kube's `duration.HumanDuration` exactly: about two significant figures, `5s`, `119s`,
/// `3m2s`, `10m`, `3h5m`, `47h`, `2d3h`, `9d`, `2y10d`, `10y`; `0s` for one second in the
/// future (clock skew) and `<invalid>` for more. A missing timestamp is `<unknown>`, which
/// the AGE cells add around this.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return with_remainder(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return with_remainder(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// `3m2s`, or `3m` when the remainder is zero.
fn with_remainder(value: i64, unit: &str, remainder: i64, remainder_unit: &str) -> String {
    if remainder == 0 {
        format!("{value}{unit}")
    } else {
        format!("{value}{unit}{remainder}{remainder_unit}")
    }
}

/// `translateTimestampSince`: the age of a timestamp, `<unknown>` when there is none.
fn age(timestamp_unix_secs: Option<i64>, now_unix_secs: i64) -> String {
    match timestamp_unix_secs {
        Some(then) => human_duration(now_unix_secs.saturating_sub(then)),
        None => "<unknown>".to_owned(),
    }
}

/// Unix seconds of Go's zero `time.Time`, which `metav1.Time.IsZero` treats as unset.
const GO_ZERO_TIME_UNIX_SECS: i64 = -62_135_596_800;

/// A timestamp field in Unix seconds; `None` when absent, null, unparsable or Go's zero time.
fn time_at(value: &Value, path: &[&str]) -> Option<i64> {
    let text = at(value, path)?.as_str()?;
    parse_rfc3339(text).filter(|&secs| secs != GO_ZERO_TIME_UNIX_SECS)
}

/// The later of two instants, either of which may be unset.
fn later(current: Option<i64>, candidate: Option<i64>) -> Option<i64> {
    match (current, candidate) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

// ---------------------------------------------------------------------------------------
// Reading objects: missing or mistyped fields read as Go's zero values
// ---------------------------------------------------------------------------------------

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).and_then(Value::as_str).unwrap_or("")
}

fn int(value: &Value, path: &[&str]) -> i64 {
    at(value, path).and_then(Value::as_i64).unwrap_or(0)
}

fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The number of keys of a map field.
fn entries(value: &Value, path: &[&str]) -> usize {
    at(value, path)
        .and_then(Value::as_object)
        .map_or(0, Map::len)
}

/// Whether a struct-pointer field is set (Go's `!= nil`): present and an object.
fn present(value: &Value, path: &[&str]) -> bool {
    at(value, path).is_some_and(Value::is_object)
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "<none>" } else { text }
}

/// Column descriptions: the OpenAPI documentation of the fields the columns show, as
/// kube-apiserver 1.33 takes them from `k8s.io/api` v0.33 and `apimachinery`'s `ObjectMeta`.
mod doc {
    pub const KUBELET_VERSION: &str = "Kubelet Version reported by the node.";
    pub const NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
    pub const OS_IMAGE: &str =
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
    pub const KERNEL_VERSION: &str =
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
    pub const CONTAINER_RUNTIME_VERSION: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
    pub const NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
    pub const CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
    pub const POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
    pub const NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
    pub const NOMINATED_NODE_NAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
    pub const READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
    pub const SERVICE_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
    pub const CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
    pub const EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
    pub const SERVICE_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
    pub const SERVICE_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
    pub const EVENT_LAST_TIMESTAMP: &str =
        "The time at which the most recent occurrence of this event was recorded.";
    pub const EVENT_TYPE: &str =
        "Type of this event (Normal, Warning), new types could be added in the future";
    pub const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
    pub const EVENT_INVOLVED_OBJECT: &str = "The object that this event is about.";
    pub const OBJECT_REFERENCE_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
    pub const EVENT_SOURCE: &str =
        "The component reporting this event. Should be a short machine understandable string.";
    pub const EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";
    pub const EVENT_FIRST_TIMESTAMP: &str =
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
    pub const EVENT_COUNT: &str = "The number of times this event has occurred.";
    pub const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
    pub const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
    pub const SERVICE_ACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
    pub const CONFIG_MAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
    // kube's printer still documents these columns from extensions/v1beta1 and rbac/v1beta1.
    pub const DEPLOYMENT_UPDATED_REPLICAS: &str = "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
    pub const DEPLOYMENT_AVAILABLE_REPLICAS: &str = "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
    pub const DEPLOYMENT_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
    pub const ROLE_BINDING_ROLE_REF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
    pub const PRIORITY_LEVEL_REFERENCE_NAME: &str =
        "`name` is the name of the priority level configuration being referenced Required.";
    pub const MATCHING_PRECEDENCE: &str = "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default.";
    pub const DISTINGUISHER_METHOD: &str = "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string.";
    pub const PRIORITY_LEVEL_TYPE: &str = "`type` indicates whether this priority level is subject to limitation on request execution.  A value of `\"Exempt\"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `\"Limited\"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server's limited capacity is made available exclusively to this priority level. Required.";
    pub const NOMINAL_CONCURRENCY_SHARES: &str = "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level. This is the number of execution seats available at this priority level. This is used both for requests dispatched from this priority level as well as requests dispatched from other priority levels borrowing seats from this level. The server's concurrency limit (ServerCL) is divided among the Limited priority levels in proportion to their NCS values:\n\nNominalCL(i)  = ceil( ServerCL * NCS(i) / sum_ncs ) sum_ncs = sum[priority level k] NCS(k)\n\nBigger numbers mean a larger nominal concurrency limit, at the expense of every other priority level.\n\nIf not specified, this field defaults to a value of 30.\n\nSetting this field to zero supports the construction of a \"jail\" for this priority level that is used to hold some request(s)";
    pub const QUEUES: &str = "`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64.";
    pub const HAND_SIZE: &str = "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.  The request is put into one of the shortest queues in that hand. `handSize` must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do not saturate most of the queues).  See the user-facing documentation for more extensive guidance on setting this field.  This field has a default value of 8.";
    pub const QUEUE_LENGTH_LIMIT: &str = "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50.";
    pub const CLUSTER_ROLE_BINDING_ROLE_REF: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{RESOURCES, Scope};

    /// 2026-11-29T06:56:58Z.
    const NOW: i64 = 1_795_935_418;

    const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    fn ago(seconds: i64) -> String {
        format_rfc3339(NOW - seconds)
    }

    fn resource(plural: &str) -> &'static Resource {
        RESOURCES
            .iter()
            .find(|r| r.plural == plural)
            .expect("a served resource")
    }

    fn table_of(plural: &str, objects: &[Value]) -> Value {
        let refs: Vec<&Value> = objects.iter().collect();
        table(
            resource(plural),
            &refs,
            json!({}),
            NOW,
            IncludeObject::None,
            TableVersion::V1,
            false,
        )
    }

    /// The cells of the one row of a Table of `object`.
    fn cells(plural: &str, object: Value) -> Value {
        table_of(plural, &[object])["rows"][0]["cells"].clone()
    }

    /// (name, type, format, priority) of each column.
    fn columns(plural: &str) -> Vec<(String, String, String, u64)> {
        let table = table_of(plural, &[]);
        let definitions = table["columnDefinitions"].as_array().expect("columns");
        definitions
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_owned(),
                    c["type"].as_str().unwrap_or("").to_owned(),
                    c["format"].as_str().unwrap_or("").to_owned(),
                    c["priority"].as_u64().unwrap_or(9),
                )
            })
            .collect()
    }

    fn column_names(plural: &str) -> Vec<String> {
        columns(plural).into_iter().map(|c| c.0).collect()
    }

    fn meta(name: &str, created_secs_ago: i64) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": ago(created_secs_ago)})
    }

    // --- human_duration ------------------------------------------------------------------

    #[test]
    fn human_duration_matches_kube() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (599, "9m59s"),
            (600, "10m"),
            (10_799, "179m"),
            (10_800, "3h"),
            (11_100, "3h5m"),
            (28_799, "7h59m"),
            (28_800, "8h"),
            (172_799, "47h"),
            (172_800, "2d"),
            (183_600, "2d3h"),
            (691_200, "8d"),
            (729 * 86_400, "729d"),
            (730 * 86_400, "2y"),
            (740 * 86_400, "2y10d"),
            (8 * 365 * 86_400, "8y"),
            (3650 * 86_400, "10y"),
        ];
        for &(seconds, expected) in cases {
            assert_eq!(human_duration(seconds), expected, "{seconds}s");
        }
        assert_eq!(age(None, NOW), "<unknown>");
        assert_eq!(age(Some(NOW - 300), NOW), "5m");
    }

    // --- negotiation ---------------------------------------------------------------------

    #[test]
    fn kubectl_get_asks_for_a_v1_table() {
        assert_eq!(negotiate(KUBECTL_ACCEPT), Some(TableVersion::V1));
        assert_eq!(
            negotiate("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            Some(TableVersion::V1Beta1)
        );
        assert_eq!(
            negotiate("application/json ; as=Table ; v=v1 ; g=meta.k8s.io"),
            Some(TableVersion::V1)
        );
        // The streaming schema of `kubectl get -w`.
        assert_eq!(
            negotiate("application/json;stream=watch;as=Table;v=v1;g=meta.k8s.io"),
            Some(TableVersion::V1)
        );
    }

    #[test]
    fn plain_json_without_as() {
        for accept in [
            "",
            "application/json",
            "*/*",
            "application/*",
            "application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5, application/json",
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json",
            "application/yaml;as=Table;v=v1;g=meta.k8s.io",
            "application/json;stream=chunks;as=Table;v=v1;g=meta.k8s.io",
            "text/html",
            "garbage",
        ] {
            assert_eq!(negotiate(accept), None, "{accept}");
        }
    }

    #[test]
    fn negotiation_skips_what_it_cannot_serve_and_orders_like_goautoneg() {
        // An unknown version or transformation is passed over; the next entry decides.
        assert_eq!(
            negotiate(
                "application/json;as=Table;v=v2;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io"
            ),
            Some(TableVersion::V1Beta1)
        );
        assert_eq!(
            negotiate(
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io"
            ),
            Some(TableVersion::V1)
        );
        assert_eq!(
            negotiate("application/json;as=Table;g=meta.k8s.io,application/json"),
            None
        );
        // Higher q first; concrete types before wildcards.
        assert_eq!(
            negotiate("application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io"),
            Some(TableVersion::V1)
        );
        assert_eq!(
            negotiate("*/*, application/json;as=Table;v=v1;g=meta.k8s.io"),
            Some(TableVersion::V1)
        );
    }

    // --- includeObject -------------------------------------------------------------------

    #[test]
    fn include_object_values() {
        assert_eq!(parse_include_object(""), Ok(IncludeObject::Metadata));
        assert_eq!(
            parse_include_object("Metadata"),
            Ok(IncludeObject::Metadata)
        );
        assert_eq!(parse_include_object("None"), Ok(IncludeObject::None));
        assert_eq!(parse_include_object("Object"), Ok(IncludeObject::Object));
        assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
        assert_eq!(
            parse_include_object("object"),
            Err("Unable to convert to Table as requested: includeObject: Invalid value: \"object\": must be 'Metadata', 'Object', 'None', or empty".to_owned())
        );
    }

    // --- the Table itself ----------------------------------------------------------------

    #[test]
    fn table_shape_metadata_and_row_objects() {
        let cm = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default", "resourceVersion": "41",
                         "creationTimestamp": ago(30)},
            "data": {"a": "1"},
        });
        let list_meta = json!({"resourceVersion": "900", "continue": "tok", "remainingItemCount": 3,
                               "selfLink": ""});
        let v1beta1 = table(
            resource("configmaps"),
            &[&cm],
            list_meta,
            NOW,
            IncludeObject::Metadata,
            TableVersion::V1Beta1,
            false,
        );
        assert_eq!(v1beta1["kind"], "Table");
        assert_eq!(v1beta1["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(
            v1beta1["metadata"],
            json!({"resourceVersion": "900", "continue": "tok", "remainingItemCount": 3})
        );
        let keys: Vec<&String> = v1beta1.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "kind",
                "apiVersion",
                "metadata",
                "columnDefinitions",
                "rows"
            ]
        );
        assert_eq!(
            v1beta1["rows"],
            json!([{
                "cells": ["settings", 1, "30s"],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1beta1",
                           "metadata": cm["metadata"].clone()},
            }])
        );
        assert_eq!(
            v1beta1["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name",
                   "description": doc::NAME, "priority": 0})
        );

        let whole = table(
            resource("configmaps"),
            &[&cm],
            json!({"resourceVersion": "", "continue": ""}),
            NOW,
            IncludeObject::Object,
            TableVersion::V1,
            true,
        );
        assert_eq!(whole["metadata"], json!({}));
        assert_eq!(whole["columnDefinitions"], Value::Null);
        assert_eq!(whole["rows"][0]["object"], cm);

        let bare = json!({"data": {}});
        let none = table(
            resource("configmaps"),
            &[&bare],
            Value::Null,
            NOW,
            IncludeObject::None,
            TableVersion::V1,
            false,
        );
        assert_eq!(none["metadata"], json!({}));
        assert_eq!(
            none["rows"],
            json!([{"cells": ["", 0, "<unknown>"], "object": null}])
        );
        let metadata_only = table(
            resource("configmaps"),
            &[&bare],
            json!({}),
            NOW,
            IncludeObject::Metadata,
            TableVersion::V1,
            false,
        );
        assert_eq!(
            metadata_only["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {}})
        );
        // A printer's empty list has `rows: []`.
        assert_eq!(table_of("configmaps", &[])["rows"], json!([]));
    }

    #[test]
    fn kinds_without_a_printer_get_name_and_created_at() {
        assert_eq!(
            columns("roles"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("Created At".into(), "date".into(), "".into(), 0),
            ]
        );
        let role = json!({"metadata": {"name": "pod-reader",
                                       "creationTimestamp": "2026-11-29T07:56:58+01:00"}});
        assert_eq!(
            cells("roles", role),
            json!(["pod-reader", "2026-11-29T06:56:58Z"])
        );
        assert_eq!(
            cells("clusterroles", json!({"metadata": {"name": "view"}})),
            json!(["view", "0001-01-01T00:00:00Z"])
        );
        // The default convertor's empty list has `rows: null`.
        assert_eq!(table_of("clusterroles", &[])["rows"], Value::Null);
        let widgets = Resource {
            group: "example.com",
            version: "v1",
            kind: "Widget",
            plural: "widgets",
            singular: "widget",
            short_names: &[],
            scope: Scope::Namespaced,
            verbs: &[],
            subresources: &[],
            categories: &[],
            key_prefix: "widgets",
        };
        let widget = json!({"metadata": {"name": "w", "creationTimestamp": ago(5)}});
        let out = table(
            &widgets,
            &[&widget],
            json!({}),
            NOW,
            IncludeObject::None,
            TableVersion::V1,
            false,
        );
        assert_eq!(out["rows"][0]["cells"], json!(["w", ago(5)]));
    }

    /// Whatever an object holds, a row has one cell per column and nothing panics.
    #[test]
    fn every_row_has_a_cell_per_column_even_for_odd_objects() {
        let odd = [
            json!(null),
            json!(7),
            json!([1, 2]),
            json!({"metadata": [], "spec": "x", "status": 3}),
            json!({"metadata": {"name": 5, "creationTimestamp": "yesterday",
                                "deletionTimestamp": 1},
                   "spec": {"containers": "no", "initContainers": [1, {"restartPolicy": 3}],
                            "replicas": "3", "selector": {"matchExpressions": [7]},
                            "ports": [{"port": "80"}], "type": 4},
                   "status": {"containerStatuses": [null, {"state": []}],
                              "initContainerStatuses": [{"state": {"terminated": {"exitCode": "1"}}}],
                              "conditions": "ready"},
                   "subjects": {}, "webhooks": 3, "series": {"count": "x"}}),
        ];
        for resource in RESOURCES {
            let empty = table(
                resource,
                &[],
                json!({}),
                NOW,
                IncludeObject::None,
                TableVersion::V1,
                false,
            );
            let width = empty["columnDefinitions"].as_array().unwrap().len();
            let refs: Vec<&Value> = odd.iter().collect();
            let out = table(
                resource,
                &refs,
                json!({}),
                NOW,
                IncludeObject::Metadata,
                TableVersion::V1,
                false,
            );
            for row in out["rows"].as_array().unwrap() {
                assert_eq!(
                    row["cells"].as_array().unwrap().len(),
                    width,
                    "{}",
                    resource.plural
                );
            }
        }
    }

    // --- pods ----------------------------------------------------------------------------

    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta("web-0", 11_520),
            "spec": {"nodeName": "node-1",
                     "containers": [{"name": "web", "image": "nginx:1.27"}]},
            "status": status,
        })
    }

    #[test]
    fn pod_columns() {
        assert_eq!(
            columns("pods"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("Ready".into(), "string".into(), "".into(), 0),
                ("Status".into(), "string".into(), "".into(), 0),
                ("Restarts".into(), "string".into(), "".into(), 0),
                ("Age".into(), "string".into(), "".into(), 0),
                ("IP".into(), "string".into(), "".into(), 1),
                ("Node".into(), "string".into(), "".into(), 1),
                ("Nominated Node".into(), "string".into(), "".into(), 1),
                ("Readiness Gates".into(), "string".into(), "".into(), 1),
            ]
        );
    }

    #[test]
    fn crash_looping_pod_with_restarts() {
        let crashing = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-7d4b9c-x2x4z", "namespace": "default",
                         "resourceVersion": "812", "creationTimestamp": ago(11_520)},
            "spec": {"nodeName": "node-1",
                     "containers": [{"name": "web", "image": "nginx:1.27"},
                                    {"name": "log", "image": "busybox"}]},
            "status": {
                "phase": "Running",
                "podIP": "10.244.1.7",
                "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {"name": "web", "ready": false, "restartCount": 5,
                     "state": {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": "back-off 5m0s restarting failed container"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                  "finishedAt": ago(300)}}},
                    {"name": "log", "ready": true, "restartCount": 1,
                     "state": {"running": {"startedAt": ago(3000)}},
                     "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                                  "finishedAt": ago(3000)}}},
                ],
            },
        });
        let out = table(
            resource("pods"),
            &[&crashing],
            json!({"resourceVersion": "900"}),
            NOW,
            IncludeObject::Metadata,
            TableVersion::V1,
            false,
        );
        assert_eq!(out["metadata"], json!({"resourceVersion": "900"}));
        assert_eq!(
            out["rows"],
            json!([{
                "cells": ["web-7d4b9c-x2x4z", "1/2", "CrashLoopBackOff", "6 (5m ago)", "3h12m",
                          "10.244.1.7", "node-1", "<none>", "<none>"],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": crashing["metadata"].clone()},
            }])
        );
    }

    #[test]
    fn running_and_pending_pods() {
        let running = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0,
                                   "state": {"running": {"startedAt": ago(60)}}}],
        }));
        assert_eq!(
            cells("pods", running),
            json!([
                "web-0", "1/1", "Running", "0", "3h12m", "<none>", "node-1", "<none>", "<none>"
            ])
        );
        let mut pending = pod(json!({"phase": "Pending", "nominatedNodeName": "node-2"}));
        pending["spec"]["nodeName"] = json!("");
        assert_eq!(
            cells("pods", pending),
            json!([
                "web-0", "0/1", "Pending", "0", "3h12m", "<none>", "<none>", "node-2", "<none>"
            ])
        );
        let gated = pod(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        }));
        assert_eq!(cells("pods", gated)[2], "SchedulingGated");
        let evicted = pod(json!({"phase": "Failed", "reason": "Evicted"}));
        assert_eq!(cells("pods", evicted)[2], "Evicted");
    }

    #[test]
    fn terminating_pods() {
        let mut terminating = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0,
                                   "state": {"running": {"startedAt": ago(60)}}}],
        }));
        terminating["metadata"]["deletionTimestamp"] = json!(ago(-30));
        terminating["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        assert_eq!(
            cells("pods", terminating.clone()),
            json!([
                "web-0",
                "1/1",
                "Terminating",
                "0",
                "3h12m",
                "<none>",
                "node-1",
                "<none>",
                "<none>"
            ])
        );
        // A finished pod keeps its status while it is deleted.
        let mut finished = pod(json!({
            "phase": "Succeeded",
            "containerStatuses": [{"name": "web", "ready": false, "restartCount": 0,
                                   "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
        }));
        finished["metadata"]["deletionTimestamp"] = json!(ago(0));
        let out = table_of("pods", &[finished]);
        assert_eq!(out["rows"][0]["cells"][2], "Completed");
        assert_eq!(
            out["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."}])
        );
        let mut lost = pod(json!({"phase": "Running", "reason": "NodeLost"}));
        lost["metadata"]["deletionTimestamp"] = json!(ago(0));
        assert_eq!(cells("pods", lost)[2], "Unknown");
        // A running pod has no row conditions at all.
        let row = &table_of("pods", &[terminating])["rows"][0];
        assert_eq!(row.get("conditions"), None);
    }

    #[test]
    fn failed_containers_without_a_reason() {
        let exited = pod(json!({
            "phase": "Failed",
            "containerStatuses": [{"name": "web", "restartCount": 0,
                                   "state": {"terminated": {"exitCode": 2}}}],
        }));
        let out = table_of("pods", &[exited]);
        assert_eq!(out["rows"][0]["cells"][2], "ExitCode:2");
        assert_eq!(out["rows"][0]["conditions"][0]["reason"], "Failed");
        assert_eq!(
            out["rows"][0]["conditions"][0]["message"],
            "The pod failed."
        );
        let killed = pod(json!({
            "phase": "Failed",
            "containerStatuses": [{"name": "web", "state": {"terminated": {"exitCode": 137, "signal": 9}}}],
        }));
        assert_eq!(cells("pods", killed)[2], "Signal:9");
    }

    #[test]
    fn one_container_completed_while_another_runs() {
        let status = |ready: &str| {
            json!({
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": ready}],
                "containerStatuses": [
                    {"name": "job", "ready": false,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "web", "ready": true, "state": {"running": {}}},
                ],
            })
        };
        assert_eq!(cells("pods", pod(status("True")))[2], "Running");
        assert_eq!(cells("pods", pod(status("False")))[2], "NotReady");
    }

    fn init_pod(init_statuses: Value, conditions: Value) -> Value {
        let mut p = pod(json!({
            "phase": "Pending",
            "conditions": conditions,
            "initContainerStatuses": init_statuses,
            "containerStatuses": [{"name": "web", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}],
        }));
        p["spec"]["initContainers"] = json!([
            {"name": "migrate", "image": "migrate:1"},
            {"name": "seed", "image": "seed:1"},
        ]);
        p
    }

    #[test]
    fn init_containers_decide_the_status_while_they_run() {
        let done = json!({"name": "migrate", "restartCount": 0,
                          "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let running = json!({"name": "seed", "restartCount": 0, "state": {"running": {}}});
        assert_eq!(
            cells("pods", init_pod(json!([done.clone(), running]), json!([]))),
            json!([
                "web-0", "0/1", "Init:1/2", "0", "3h12m", "<none>", "node-1", "<none>", "<none>"
            ])
        );
        let crashing = json!({"name": "seed", "restartCount": 3,
                              "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                              "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(130)}}});
        let out = cells("pods", init_pod(json!([done.clone(), crashing]), json!([])));
        assert_eq!(out[2], "Init:CrashLoopBackOff");
        assert_eq!(out[3], "3 (2m10s ago)");
        let failed = |terminated: Value| {
            init_pod(
                json!([{"name": "migrate", "state": {"terminated": terminated}}]),
                json!([]),
            )
        };
        assert_eq!(
            cells("pods", failed(json!({"exitCode": 1, "reason": "Error"})))[2],
            "Init:Error"
        );
        assert_eq!(
            cells("pods", failed(json!({"exitCode": 3})))[2],
            "Init:ExitCode:3"
        );
        assert_eq!(
            cells("pods", failed(json!({"exitCode": 137, "signal": 9})))[2],
            "Init:Signal:9"
        );
        let waiting =
            json!({"name": "migrate", "state": {"waiting": {"reason": "PodInitializing"}}});
        assert_eq!(
            cells("pods", init_pod(json!([waiting]), json!([])))[2],
            "Init:0/2"
        );
        // Once the pod is initialized, the main containers decide.
        let all_done = init_pod(
            json!([done.clone(), {"name": "seed", "restartCount": 2,
                                  "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
            json!([{"type": "Initialized", "status": "True"}]),
        );
        let out = cells("pods", all_done);
        assert_eq!(out[2], "PodInitializing");
        // Restarts of ordinary init containers stop counting then.
        assert_eq!(out[3], "0");
    }

    #[test]
    fn sidecars_count_as_containers() {
        let mut sidecar = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"},
                           {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true,
                                       "restartCount": 2, "state": {"running": {}},
                                       "lastState": {"terminated": {"exitCode": 1,
                                                                    "finishedAt": ago(600)}}}],
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0,
                                   "state": {"running": {}}}],
        }));
        sidecar["spec"]["initContainers"] =
            json!([{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]);
        let ready_status_restarts = |c: Value| json!([c[1], c[2], c[3]]);
        assert_eq!(
            ready_status_restarts(cells("pods", sidecar.clone())),
            json!(["2/2", "Running", "2 (10m ago)"])
        );
        // A sidecar that has not started yet holds initialization up.
        sidecar["status"]["initContainerStatuses"][0]["started"] = json!(false);
        sidecar["status"]["conditions"] = json!([]);
        assert_eq!(
            ready_status_restarts(cells("pods", sidecar)),
            json!(["0/2", "Init:0/1", "2 (10m ago)"])
        );
    }

    #[test]
    fn readiness_gates_and_pod_ips() {
        let mut gated = pod(json!({
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.9"}],
            "conditions": [{"type": "example.com/lb", "status": "True"},
                           {"type": "example.com/dns", "status": "False"}],
        }));
        gated["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]);
        let out = cells("pods", gated);
        assert_eq!(out[5], "10.0.0.9");
        assert_eq!(out[8], "1/2");
    }

    // --- services ------------------------------------------------------------------------

    fn service(spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("web", 432_000),
               "spec": spec, "status": status})
    }

    #[test]
    fn service_with_ports_and_node_ports() {
        assert_eq!(
            column_names("services"),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        let node_port = service(
            json!({"type": "NodePort", "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"],
                   "selector": {"tier": "frontend", "app": "web"},
                   "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080,
                              "nodePort": 30080},
                             {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443,
                              "nodePort": 30443}]}),
            json!({"loadBalancer": {}}),
        );
        assert_eq!(
            cells("services", node_port),
            json!([
                "web",
                "NodePort",
                "10.96.12.34",
                "<none>",
                "80:30080/TCP,443:30443/TCP",
                "5d",
                "app=web,tier=frontend"
            ])
        );
        let cluster_ip = service(
            json!({"type": "ClusterIP", "clusterIPs": ["10.96.0.10", "fd00::a"],
                   "externalIPs": ["198.51.100.1", "198.51.100.2"],
                   "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}),
            json!({}),
        );
        assert_eq!(
            cells("services", cluster_ip),
            json!([
                "web",
                "ClusterIP",
                "10.96.0.10",
                "198.51.100.1,198.51.100.2",
                "53/UDP,53/TCP",
                "5d",
                "<none>"
            ])
        );
    }

    #[test]
    fn load_balancer_and_external_name_services() {
        let pending = service(
            json!({"type": "LoadBalancer", "clusterIPs": ["10.96.1.1"],
                   "ports": [{"protocol": "TCP", "port": 5432, "nodePort": 31432}]}),
            json!({"loadBalancer": {}}),
        );
        assert_eq!(cells("services", pending)[3], "<pending>");
        let ready = service(
            json!({"type": "LoadBalancer", "clusterIPs": ["10.96.1.1"],
                   "externalIPs": ["198.51.100.1"]}),
            json!({"loadBalancer": {"ingress": [{"hostname": "b.example.com"},
                                                {"ip": "203.0.113.9"},
                                                {"ip": "203.0.113.9"}]}}),
        );
        assert_eq!(
            cells("services", ready)[3],
            "203.0.113.9,b.example.com,198.51.100.1"
        );
        let external = service(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        );
        assert_eq!(
            cells("services", external),
            json!([
                "web",
                "ExternalName",
                "<none>",
                "db.example.com",
                "<none>",
                "5d",
                "<none>"
            ])
        );
    }

    // --- deployments ---------------------------------------------------------------------

    #[test]
    fn deployment_with_status() {
        assert_eq!(
            columns("deployments"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("Ready".into(), "string".into(), "".into(), 0),
                ("Up-to-date".into(), "string".into(), "".into(), 0),
                ("Available".into(), "string".into(), "".into(), 0),
                ("Age".into(), "string".into(), "".into(), 0),
                ("Containers".into(), "string".into(), "".into(), 1),
                ("Images".into(), "string".into(), "".into(), 1),
                ("Selector".into(), "string".into(), "".into(), 1),
            ]
        );
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("web", 90_000),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"},
                             "matchExpressions": [{"key": "tier", "operator": "In",
                                                   "values": ["frontend", "canary"]},
                                                  {"key": "spot", "operator": "DoesNotExist"},
                                                  {"key": "env", "operator": "NotIn",
                                                   "values": ["dev"]},
                                                  {"key": "gpu", "operator": "Exists"}]},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [
                                 {"name": "web", "image": "nginx:1.27"},
                                 {"name": "envoy", "image": "envoyproxy/envoy:v1.30"}]}},
            },
            "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2,
                       "availableReplicas": 2, "unavailableReplicas": 1},
        });
        assert_eq!(
            cells("deployments", deployment),
            json!([
                "web",
                "2/3",
                3,
                2,
                "25h",
                "web,envoy",
                "nginx:1.27,envoyproxy/envoy:v1.30",
                "app=web,env notin (dev),gpu,!spot,tier in (canary,frontend)"
            ])
        );
        let fresh = json!({"metadata": meta("new", 5), "spec": {"template": {"spec": {}}}});
        assert_eq!(
            cells("deployments", fresh),
            json!(["new", "0/1", 0, 0, "5s", "", "", ""])
        );
        let odd = json!({"metadata": meta("odd", 5), "spec": {"replicas": 0, "selector": {
            "matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "tier", "operator": "Equals", "values": ["a"]}]}}});
        assert_eq!(cells("deployments", odd)[7], "<invalid>");
        let empty_in = json!({"key": "tier", "operator": "In", "values": []});
        assert_eq!(requirement_string(&empty_in), None);
        let exists_with_values = json!({"key": "tier", "operator": "Exists", "values": ["a"]});
        assert_eq!(requirement_string(&exists_with_values), None);
        assert_eq!(label_selector_string(Some(&json!({}))), "");
    }

    // --- events --------------------------------------------------------------------------

    #[test]
    fn core_events() {
        assert_eq!(
            columns("events"),
            [
                ("Last Seen".into(), "string".into(), "".into(), 0),
                ("Type".into(), "string".into(), "".into(), 0),
                ("Reason".into(), "string".into(), "".into(), 0),
                ("Object".into(), "string".into(), "".into(), 0),
                ("Subobject".into(), "string".into(), "".into(), 1),
                ("Source".into(), "string".into(), "".into(), 1),
                ("Message".into(), "string".into(), "".into(), 0),
                ("First Seen".into(), "string".into(), "".into(), 1),
                ("Count".into(), "string".into(), "".into(), 1),
                ("Name".into(), "string".into(), "name".into(), 1),
            ]
        );
        let back_off = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta("web-0.17a3c0f2b8e4d9c1", 3600),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0",
                               "fieldPath": "spec.containers{web}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container web in pod web-0\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(3600),
            "lastTimestamp": ago(30),
            "count": 12,
            "type": "Warning",
        });
        assert_eq!(
            cells("events", back_off),
            json!([
                "30s",
                "Warning",
                "BackOff",
                "pod/web-0",
                "spec.containers{web}",
                "kubelet, node-1",
                "Back-off restarting failed container web in pod web-0",
                "60m",
                12,
                "web-0.17a3c0f2b8e4d9c1"
            ])
        );
    }

    #[test]
    fn events_of_the_events_api() {
        let scheduled = json!({
            "metadata": meta("web-0.17a3", 10),
            "involvedObject": {"kind": "Pod", "name": "web-0"},
            "reason": "Scheduled",
            "message": "Successfully assigned default/web-0 to node-1",
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "eventTime": format!("{}.123456Z", ago(10).trim_end_matches('Z')),
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-cp-1",
            "type": "Normal",
        });
        assert_eq!(
            cells("events", scheduled.clone()),
            json!([
                "10s",
                "Normal",
                "Scheduled",
                "pod/web-0",
                "",
                "default-scheduler, default-scheduler-cp-1",
                "Successfully assigned default/web-0 to node-1",
                "10s",
                1,
                "web-0.17a3"
            ])
        );
        let mut repeated = scheduled;
        repeated["series"] = json!({"count": 4, "lastObservedTime": ago(5)});
        repeated["involvedObject"] = json!({"kind": "Node"});
        let out = cells("events", repeated);
        assert_eq!(out[0], "5s");
        assert_eq!(out[3], "node");
        assert_eq!(out[8], 4);
        let timeless = json!({"metadata": {"name": "e"}, "count": 2});
        assert_eq!(
            cells("events", timeless),
            json!(["<unknown>", "", "", "", "", "", "", "<unknown>", 2, "e"])
        );
    }

    // --- the remaining kinds -------------------------------------------------------------

    #[test]
    fn namespaces() {
        assert_eq!(column_names("namespaces"), ["Name", "Status", "Age"]);
        let default = json!({"metadata": {"name": "default", "creationTimestamp": ago(3650 * 86_400)},
                             "status": {"phase": "Active"}});
        assert_eq!(
            cells("namespaces", default),
            json!(["default", "Active", "10y"])
        );
        let going = json!({"metadata": {"name": "old", "creationTimestamp": ago(3)},
                           "status": {"phase": "Terminating"}});
        assert_eq!(
            cells("namespaces", going),
            json!(["old", "Terminating", "3s"])
        );
    }

    #[test]
    fn nodes() {
        assert_eq!(
            columns("nodes")
                .into_iter()
                .map(|c| (c.0, c.3))
                .collect::<Vec<_>>(),
            [
                ("Name".to_owned(), 0),
                ("Status".to_owned(), 0),
                ("Roles".to_owned(), 0),
                ("Age".to_owned(), 0),
                ("Version".to_owned(), 0),
                ("Internal-IP".to_owned(), 1),
                ("External-IP".to_owned(), 1),
                ("OS-Image".to_owned(), 1),
                ("Kernel-Version".to_owned(), 1),
                ("Container-Runtime".to_owned(), 1),
            ]
        );
        let node = json!({
            "metadata": {"name": "n1", "creationTimestamp": ago(120),
                         "labels": {"node-role.kubernetes.io/control-plane": "",
                                    "kubernetes.io/role": "worker", "node-role.kubernetes.io/": "x"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"},
                               {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"},
                              {"type": "InternalIP", "address": "10.0.0.5"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12",
                             "kernelVersion": "", "containerRuntimeVersion": "containerd://2.0.0"}
            }
        });
        assert_eq!(
            cells("nodes", node),
            json!([
                "n1",
                "Ready,SchedulingDisabled",
                "control-plane,worker",
                "2m",
                "v1.33.0",
                "10.0.0.5",
                "<none>",
                "Debian GNU/Linux 12",
                "<unknown>",
                "containerd://2.0.0"
            ])
        );
        let bare = json!({"metadata": {"name": "n2", "creationTimestamp": ago(5)},
                          "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(
            cells("nodes", bare),
            json!([
                "n2",
                "NotReady",
                "<none>",
                "5s",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ])
        );
        let new = json!({"metadata": {"name": "n3", "creationTimestamp": ago(5)}});
        assert_eq!(cells("nodes", new)[1], "Unknown");
    }

    #[test]
    fn config_maps_secrets_and_service_accounts() {
        assert_eq!(column_names("configmaps"), ["Name", "Data", "Age"]);
        let config = json!({"metadata": meta("settings", 700),
                            "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(cells("configmaps", config), json!(["settings", 3, "11m"]));

        assert_eq!(column_names("secrets"), ["Name", "Type", "Data", "Age"]);
        let secret = json!({"metadata": meta("tls", 40), "type": "kubernetes.io/tls",
                            "data": {"tls.crt": "AA==", "tls.key": "AA=="},
                            "stringData": {"tls.key": "x", "ca.crt": "y"}});
        assert_eq!(
            cells("secrets", secret),
            json!(["tls", "kubernetes.io/tls", 3, "40s"])
        );

        assert_eq!(column_names("serviceaccounts"), ["Name", "Secrets", "Age"]);
        let account = json!({"metadata": meta("builder", 7200),
                             "secrets": [{"name": "builder-token"}]});
        assert_eq!(
            cells("serviceaccounts", account),
            json!(["builder", 1, "120m"])
        );
        let default = json!({"metadata": meta("default", 7200)});
        assert_eq!(
            cells("serviceaccounts", default),
            json!(["default", 0, "120m"])
        );
    }

    #[test]
    fn role_bindings_and_cluster_role_bindings() {
        assert_eq!(
            columns("rolebindings"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("Role".into(), "string".into(), "".into(), 0),
                ("Age".into(), "string".into(), "".into(), 0),
                ("Users".into(), "string".into(), "".into(), 1),
                ("Groups".into(), "string".into(), "".into(), 1),
                ("ServiceAccounts".into(), "string".into(), "".into(), 1),
            ]
        );
        let binding = json!({
            "metadata": meta("dev-admins", 600),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "admin"},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                {"kind": "ServiceAccount", "namespace": "ci", "name": "builder"},
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
                {"kind": "Robot", "name": "r2"},
            ],
        });
        assert_eq!(
            cells("rolebindings", binding.clone()),
            json!([
                "dev-admins",
                "ClusterRole/admin",
                "10m",
                "alice, bob",
                "devs",
                "ci/builder"
            ])
        );
        assert_eq!(
            cells("clusterrolebindings", binding)[1],
            "ClusterRole/admin"
        );
        let crb_users = &table_of("clusterrolebindings", &[])["columnDefinitions"][3];
        assert_eq!(crb_users["description"], "Users in the clusterRoleBinding");
        let lonely =
            json!({"metadata": meta("empty", 1), "roleRef": {"kind": "Role", "name": "r"}});
        assert_eq!(
            cells("rolebindings", lonely),
            json!(["empty", "Role/r", "1s", "", "", ""])
        );
    }

    #[test]
    fn webhook_configurations() {
        for plural in [
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
        ] {
            assert_eq!(
                columns(plural),
                [
                    ("Name".into(), "string".into(), "name".into(), 0),
                    ("Webhooks".into(), "integer".into(), "".into(), 0),
                    ("Age".into(), "string".into(), "".into(), 0),
                ]
            );
            let configuration = json!({"metadata": {"name": "policy", "creationTimestamp": ago(86_400)},
                                       "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]});
            assert_eq!(cells(plural, configuration), json!(["policy", 2, "24h"]));
        }
    }
    #[test]
    fn flow_schemas_print_level_precedence_method_and_missing_level() {
        assert_eq!(
            columns("flowschemas"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("PriorityLevel".into(), "string".into(), "".into(), 0),
                ("MatchingPrecedence".into(), "string".into(), "".into(), 0),
                ("DistinguisherMethod".into(), "string".into(), "".into(), 0),
                ("Age".into(), "string".into(), "".into(), 0),
                ("MissingPL".into(), "string".into(), "".into(), 0),
            ]
        );
        let missing_pl = &table_of("flowschemas", &[])["columnDefinitions"][5];
        assert_eq!(
            missing_pl["description"],
            "references a broken or non-existent PriorityLevelConfiguration"
        );
        let schema = |name: &str, precedence: i64, extra: Value| {
            let mut object = json!({"metadata": {"name": name, "creationTimestamp": ago(120)},
                "spec": {"priorityLevelConfiguration": {"name": "workload-low"},
                         "matchingPrecedence": precedence}});
            if let (Some(target), Some(extra)) = (object.as_object_mut(), extra.as_object()) {
                for (key, value) in extra {
                    target.insert(key.clone(), value.clone());
                }
            }
            object
        };
        let by_user = schema(
            "service-accounts",
            9000,
            json!({"status": {"conditions": [{"type": "Other", "status": "True"},
                {"type": "Dangling", "status": "False"}, {"type": "Dangling", "status": "True"}]}}),
        );
        let mut by_user_spec = by_user.clone();
        by_user_spec["spec"]["distinguisherMethod"] = json!({"type": "ByUser"});
        assert_eq!(
            cells("flowschemas", by_user_spec),
            json!([
                "service-accounts",
                "workload-low",
                9000,
                "ByUser",
                "2m",
                "False"
            ])
        );
        assert_eq!(
            cells("flowschemas", schema("probes", 2, json!({}))),
            json!(["probes", "workload-low", 2, "<none>", "2m", "?"])
        );
        // Listed in the order they are matched: precedence, then name.
        let listed = table_of(
            "flowschemas",
            &[
                schema("global-default", 9900, json!({})),
                schema("b", 800, json!({})),
                schema("exempt", 1, json!({})),
                schema("a", 800, json!({})),
            ],
        );
        let names: Vec<&Value> = listed["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| &row["cells"][0])
            .collect();
        assert_eq!(
            names,
            [
                &json!("exempt"),
                &json!("a"),
                &json!("b"),
                &json!("global-default")
            ]
        );
    }

    #[test]
    fn priority_levels_print_shares_and_queues_or_none() {
        assert_eq!(
            column_names("prioritylevelconfigurations"),
            [
                "Name",
                "Type",
                "NominalConcurrencyShares",
                "Queues",
                "HandSize",
                "QueueLengthLimit",
                "Age"
            ]
        );
        let created = json!({"name": "x", "creationTimestamp": ago(3600)});
        let level = |name: &str, spec: Value| {
            let mut metadata = created.clone();
            metadata["name"] = json!(name);
            json!({"metadata": metadata, "spec": spec})
        };
        let queued = level(
            "workload-low",
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 100,
                "lendablePercent": 90, "limitResponse": {"type": "Queue",
                "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}),
        );
        assert_eq!(
            cells("prioritylevelconfigurations", queued),
            json!(["workload-low", "Limited", 100, 128, 6, 50, "60m"])
        );
        let rejecting = level(
            "catch-all",
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 5,
                "limitResponse": {"type": "Reject"}}}),
        );
        assert_eq!(
            cells("prioritylevelconfigurations", rejecting),
            json!([
                "catch-all",
                "Limited",
                5,
                "<none>",
                "<none>",
                "<none>",
                "60m"
            ])
        );
        let exempt = level(
            "exempt",
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0}}),
        );
        assert_eq!(
            cells("prioritylevelconfigurations", exempt),
            json!([
                "exempt", "Exempt", "<none>", "<none>", "<none>", "<none>", "60m"
            ])
        );
    }

    #[test]
    fn limit_ranges_print_their_creation_time() {
        assert_eq!(
            columns("limitranges"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("Created At".into(), "date".into(), "".into(), 0),
            ]
        );
        let limits = json!({"metadata": {"name": "defaults", "creationTimestamp": "2026-11-29T07:56:58+01:00"},
                            "spec": {"limits": [{"type": "Container"}]}});
        assert_eq!(
            cells("limitranges", limits),
            json!(["defaults", "2026-11-29T06:56:58Z"])
        );
        let unset = json!({"metadata": {"name": "new"}});
        assert_eq!(cells("limitranges", unset), json!(["new", null]));
    }

    #[test]
    fn resource_quotas_print_used_over_hard() {
        assert_eq!(
            columns("resourcequotas"),
            [
                ("Name".into(), "string".into(), "name".into(), 0),
                ("Age".into(), "string".into(), "".into(), 0),
                ("Request".into(), "string".into(), "".into(), 0),
                ("Limit".into(), "string".into(), "".into(), 0),
            ]
        );
        let quota = json!({"metadata": meta("compute", 300),
            "spec": {"hard": {"pods": "10"}},
            "status": {
                "hard": {"requests.cpu": "2", "pods": "10", "limits.memory": "2Gi",
                         "limits.cpu": "4000m", "count/deployments.apps": "5", "limitsx": "1"},
                "used": {"requests.cpu": "1500m", "pods": "3", "limits.memory": "1536Mi",
                         "limits.cpu": "0"}}});
        assert_eq!(
            cells("resourcequotas", quota),
            json!([
                "compute",
                "5m",
                "count/deployments.apps: 0/5, limitsx: 0/1, pods: 3/10, requests.cpu: 1500m/2",
                "limits.cpu: 0/4, limits.memory: 1536Mi/2Gi",
            ])
        );
        let fresh = json!({"metadata": meta("fresh", 5), "spec": {"hard": {"pods": "1"}}});
        assert_eq!(
            cells("resourcequotas", fresh),
            json!(["fresh", "5s", "", ""])
        );
    }
}
