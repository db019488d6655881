//! The REST handlers of resource requests: HTTP in (query options, content types, bodies),
//! a [`Registry`] call, HTTP out (the object, a `<Kind>List`, a Table, a Status), as
//! kube-apiserver's `endpoints/handlers` do. Watches are [`crate::watch`]'s.
//!
//! | verb | registry call | success |
//! |---|---|---|
//! | get | [`Registry::get`] | 200 object or Table |
//! | list | [`Registry::list`] | 200 `<Kind>List` or Table |
//! | watch | [`crate::watch::serve`] | 200, chunked events |
//! | create | [`Registry::create`] | 201 |
//! | update | [`Registry::update`] | 200 (201 when created) |
//! | patch | [`Registry::patch`] | 200 (201 when an apply created it) |
//! | delete | [`Registry::delete`] | 200 (the object, or a Status for most kinds once gone) |
//! | deletecollection | [`Registry::delete_collection`] | 200 `<Kind>List` of what was deleted |

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{HeaderMap, Response};
use kubesim_admission::Record;
use kubesim_api::patch::{self, PatchType};
use kubesim_api::resources::Resource;
use kubesim_api::selectors::{self, FieldSelector, LabelSelector};
use kubesim_api::status::FieldError;
use kubesim_api::table::{self, IncludeObject, TableVersion};
use kubesim_api::{RequestInfo, Status, schema};
use serde_json::{Value, json};

use kubesim_storage::cacher::SharedObject;

use crate::registry::delete::{DeleteOptions, Deleted};
use crate::registry::managed::Operation;
use crate::registry::read::{ListOptions, ObjectList};
use crate::registry::update::Written;
use crate::registry::{Registry, WriteOptions};
use crate::response::{self, APPLICATION_JSON, Body};

/// Media types a body may come in (besides the patch types). kubectl 1.32+ sends typed
/// creates (`kubectl create namespace`, `create configmap`, ...) as protobuf.
const BODY_TYPES: [&str; 3] = [
    "application/json",
    "application/yaml",
    kubesim_api::protobuf::MEDIA_TYPE,
];
/// `fieldManager` is at most this long (kube's validation).
const MAX_FIELD_MANAGER_LEN: usize = 128;

/// A decoded query: the first value of each key, as kube reads its options.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query {
            pairs: kubesim_api::request_info::query_pairs(raw),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean option: `true`/`1` or `false`/`0` (Go's `strconv.ParseBool`, less the
    /// rarely used spellings); anything else is a 400.
    pub fn flag(&self, key: &str) -> Result<bool, Status> {
        match self.get(key) {
            None | Some("") | Some("false") | Some("0") | Some("False") => Ok(false),
            Some("true") | Some("1") | Some("True") => Ok(true),
            Some(other) => Err(Status::bad_request(&format!(
                "invalid value for {key}: {other:?} is not a boolean"
            ))),
        }
    }

    /// An integer option, `None` when absent.
    pub fn int(&self, key: &str) -> Result<Option<i64>, Status> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                Status::bad_request(&format!(
                    "invalid value for {key}: {text:?} is not an integer"
                ))
            }),
        }
    }
}

/// One resource request, with everything its handler needs.
pub struct Call<'a> {
    pub registry: &'a Arc<Registry>,
    pub resource: &'static Resource,
    pub info: &'a RequestInfo,
    pub headers: &'a HeaderMap,
    pub query: Query,
    /// Who asks, as the chain decided; `None` in the chain's unit tests.
    pub requester: Option<Arc<kubesim_api::user::UserInfo>>,
    /// When the request's time is up (the chain's request timeout); admission webhooks get
    /// what is left of it at most.
    pub deadline: Option<tokio::time::Instant>,
    /// The request's `Audit-Id` and the trace log its admission steps go to.
    pub audit_id: Option<String>,
    pub security: Option<Arc<crate::context::Security>>,
    /// The request's audit, when it is audited (`crate::audit`).
    pub audit: Option<Arc<crate::audit::RequestAudit>>,
    /// Where admission's durations go; `None` in tests without a server.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The request's stage times, when it asked for them.
    pub timings: Option<crate::context::Timings>,
}

impl Call<'_> {
    /// Serves the request; `body` is the whole request body (already size-limited).
    pub async fn serve(self, body: Bytes) -> Result<Response<Body>, Status> {
        if let Some(audit) = &self.audit
            && matches!(
                self.info.verb.as_str(),
                "patch" | "delete" | "deletecollection"
            )
        {
            // kube's `LogRequestPatch`: a patch (and DeleteOptions) as sent. Creates and
            // updates log the decoded object instead (`audit_request_object`).
            audit.request_body(&body);
        }
        // Each verb's future is boxed, so this future and every one around it (up to the
        // connection's task) holds a pointer, not the largest verb's future: rustc keeps an
        // awaited future twice (rust-lang/rust#62958), so inline, a few kilobytes here grow
        // at each level, and a request copies them at each (docs/benchmarks.md, run 26).
        match self.info.verb.as_str() {
            "get" => Box::pin(self.get()).await,
            "list" => Box::pin(self.list()).await,
            "watch" => Box::pin(crate::watch::serve(&self)).await,
            "create" => Box::pin(self.create(&body)).await,
            "update" => Box::pin(self.update(&body)).await,
            "patch" => Box::pin(self.patch(&body)).await,
            "delete" => Box::pin(self.delete(&body)).await,
            "deletecollection" => Box::pin(self.delete_collection(&body)).await,
            verb => Err(Status::method_not_supported(
                &crate::registry::group_resource(self.resource),
                verb,
            )),
        }
    }

    async fn get(&self) -> Result<Response<Body>, Status> {
        let object = self
            .registry
            .get(self.resource, &self.info.namespace, &self.info.name)
            .await?;
        self.object_response(200, &object, &[])
    }

    async fn list(&self) -> Result<Response<Body>, Status> {
        let opts = self.list_options()?;
        let list = self
            .registry
            .list(self.resource, &self.info.namespace, &opts)
            .await?;
        self.list_response(&list)
    }

    async fn create(&self, body: &[u8]) -> Result<Response<Body>, Status> {
        let (object, mut warnings) = self.decode_body(body)?;
        self.audit_request_object(&object);
        let opts = self.write_options()?;
        let created = self
            .registry
            .create(self.resource, &self.info.namespace, object, &opts)
            .await;
        self.trace_admission(&opts.record);
        let created = created?;
        warnings.extend(opts.record.warnings());
        self.shared_object_response(201, &created, &warnings)
    }

    async fn update(&self, body: &[u8]) -> Result<Response<Body>, Status> {
        let (object, mut warnings) = self.decode_body(body)?;
        self.audit_request_object(&object);
        let opts = self.write_options()?;
        let written = self
            .registry
            .update(
                self.resource,
                &self.info.namespace,
                &self.info.name,
                &self.info.subresource,
                object,
                &opts,
            )
            .await;
        self.trace_admission(&opts.record);
        let written = written?;
        warnings.extend(opts.record.warnings());
        self.written_response(written, &warnings)
    }

    async fn patch(&self, body: &[u8]) -> Result<Response<Body>, Status> {
        let content_type = header(self.headers, CONTENT_TYPE.as_str());
        let patch_type = patch::patch_type(content_type).ok_or_else(|| {
            Status::unsupported_media_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ])
        })?;
        let body = if patch_type == PatchType::Apply {
            yaml_or_json(body, self.resource)?
        } else {
            body.to_vec()
        };
        let mut opts = self.write_options()?;
        if patch_type == PatchType::Apply && self.query.get("fieldManager").is_none() {
            // kube: "PATCH, application/apply-patch+yaml requires fieldManager".
            return Err(Status::bad_request(
                "fieldManager is required for apply requests",
            ));
        }
        if patch_type != PatchType::Apply && self.query.get("force").is_some() {
            return Err(Status::bad_request(
                "force is not allowed for non-apply patches",
            ));
        }
        opts.field_manager = self.field_manager()?;
        if patch_type == PatchType::Apply {
            opts.operation = Operation::Apply;
        }
        let written = self
            .registry
            .patch(
                self.resource,
                &self.info.namespace,
                &self.info.name,
                &self.info.subresource,
                patch_type,
                &body,
                &opts,
            )
            .await;
        self.trace_admission(&opts.record);
        self.written_response(written?, &opts.record.warnings())
    }

    async fn delete(&self, body: &[u8]) -> Result<Response<Body>, Status> {
        let opts = self.delete_options(body)?;
        let deleted = self
            .registry
            .delete(self.resource, &self.info.namespace, &self.info.name, &opts)
            .await;
        self.trace_admission(&opts.record);
        match deleted? {
            // kube answers 200 with the object still there (202 only for the deprecated
            // `orphanDependents=false`).
            Deleted::Pending(object) => self.object_response(200, &object, &[]),
            Deleted::Gone(object) if returns_deleted_object(self.resource) => {
                self.object_response(200, &object, &[])
            }
            Deleted::Gone(object) => Ok(success_status(self.resource, &object)),
        }
    }

    async fn delete_collection(&self, body: &[u8]) -> Result<Response<Body>, Status> {
        let opts = self.delete_options(body)?;
        let list_opts = self.list_options()?;
        let deleted = self
            .registry
            .delete_collection(self.resource, &self.info.namespace, &list_opts, &opts)
            .await;
        self.trace_admission(&opts.record);
        self.list_response(&deleted?)
    }

    /// The write's object validation, when it got that far: `/metrics` and the request's
    /// timings (`validation` in `Server-Timing`).
    fn trace_validation(&self, record: &Record) {
        let Some(validation) = record.validation() else {
            return;
        };
        if let Some(metrics) = &self.metrics {
            metrics.observe_validation(
                &self.info.resource,
                admission_operation(&self.info.verb),
                validation.rejected,
                validation.duration,
            );
        }
        if let Some(timings) = &self.timings {
            timings.add("validation", validation.duration);
        }
    }

    /// Adds the admission steps of this write to the request's trace
    /// (`/debug/kubesim/trace/<Audit-Id>`) and to a debug log line.
    fn trace_admission(&self, record: &Record) {
        if let Some(audit) = &self.audit {
            audit.annotate_all(record.audit_annotations());
        }
        self.trace_validation(record);
        // Taken: nothing reads the record's steps after the write is answered.
        let steps = record.take_steps();
        if steps.is_empty() {
            return;
        }
        if let Some(metrics) = &self.metrics {
            let operation = admission_operation(&self.info.verb);
            for step in &steps {
                metrics.observe_admission(step, operation);
            }
        }
        if let Some(timings) = &self.timings {
            for step in &steps {
                timings.add(&format!("admission.{}", step.name), step.duration);
            }
        }
        tracing::debug!(
            audit_id = self.audit_id.as_deref().unwrap_or(""),
            ?steps,
            "admission"
        );
        if let (Some(security), Some(audit_id)) = (&self.security, &self.audit_id) {
            security.trace.add_admission(audit_id, steps);
        }
    }

    /// The list options of the query: selectors, paging, resourceVersion semantics.
    pub fn list_options(&self) -> Result<ListOptions, Status> {
        let label_selector = match self.query.get("labelSelector") {
            None | Some("") => LabelSelector::everything(),
            Some(text) => {
                selectors::parse_label_selector(text).map_err(|e| Status::bad_request(&e))?
            }
        };
        let field_selector = match self.query.get("fieldSelector") {
            None | Some("") => FieldSelector::everything(),
            Some(text) => {
                selectors::parse_field_selector(text).map_err(|e| Status::bad_request(&e))?
            }
        };
        field_selector
            .check_supported(self.resource)
            .map_err(|e| Status::bad_request(&e))?;
        let resource_version = match self.query.get("resourceVersion") {
            None | Some("") => None,
            Some(text) => Some(parse_resource_version(text)?),
        };
        let (match_exact, match_not_older_than) = match self.query.get("resourceVersionMatch") {
            None | Some("") => (false, false),
            Some("Exact") => (true, false),
            Some("NotOlderThan") => (false, true),
            Some(other) => {
                return Err(crate::registry::read::invalid_list_options(
                    FieldError::not_supported(
                        "resourceVersionMatch",
                        Value::String(other.to_string()),
                        &["Exact", "NotOlderThan"],
                    ),
                ));
            }
        };
        let limit = self.query.int("limit")?.unwrap_or(0).max(0);
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit,
            continue_token: self
                .query
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            resource_version,
            match_exact,
            match_not_older_than,
        })
    }

    fn write_options(&self) -> Result<WriteOptions, Status> {
        Ok(WriteOptions {
            dry_run: dry_run(&self.query)?,
            field_manager: self.field_manager()?,
            operation: Operation::Update,
            force: self.query.flag("force")?,
            requester: self.requester.clone(),
            record: Record::new(),
            deadline: self.deadline,
        })
    }

    /// `fieldManager`, or what kube derives from the user agent (`kubectl/v1.33.0 (...)` →
    /// `kubectl`).
    fn field_manager(&self) -> Result<String, Status> {
        if let Some(manager) = self.query.get("fieldManager") {
            if manager.len() > MAX_FIELD_MANAGER_LEN || manager.chars().any(|c| c.is_control()) {
                return Err(Status::bad_request(&format!(
                    "fieldManager: Invalid value: {manager:?}: must be printable and at most \
                     {MAX_FIELD_MANAGER_LEN} characters"
                )));
            }
            return Ok(manager.to_string());
        }
        let agent = header(self.headers, USER_AGENT.as_str());
        let first = agent.split('/').next().unwrap_or("").trim();
        let manager: String = first.chars().take(MAX_FIELD_MANAGER_LEN).collect();
        Ok(if manager.is_empty() {
            "unknown".to_string()
        } else {
            manager
        })
    }

    /// DeleteOptions from the body (JSON) and the query (the query's win when both are
    /// given, as kube's handler decodes the query last).
    fn delete_options(&self, body: &[u8]) -> Result<DeleteOptions, Status> {
        let mut opts = DeleteOptions {
            requester: self.requester.clone(),
            deadline: self.deadline,
            ..DeleteOptions::default()
        };
        if !body.iter().all(u8::is_ascii_whitespace) {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(&format!("error decoding DeleteOptions: {e}")))?;
            let pre = value.get("preconditions");
            opts.precondition_uid = pre
                .and_then(|p| p.get("uid"))
                .and_then(Value::as_str)
                .map(str::to_string);
            opts.precondition_resource_version = pre
                .and_then(|p| p.get("resourceVersion"))
                .and_then(Value::as_str)
                .map(str::to_string);
            opts.propagation_policy = value
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string);
            opts.grace_period_seconds = value.get("gracePeriodSeconds").and_then(Value::as_i64);
            opts.dry_run = value
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|list| list.iter().any(|v| v == "All"));
        }
        if let Some(policy) = self.query.get("propagationPolicy") {
            opts.propagation_policy = Some(policy.to_string());
        }
        if let Some(grace) = self.query.int("gracePeriodSeconds")? {
            opts.grace_period_seconds = Some(grace);
        }
        opts.dry_run |= dry_run(&self.query)?;
        Ok(opts)
    }

    /// kube's `LogRequestObject`: the decoded body (whatever the wire format, protobuf
    /// included) completes the audit event's objectRef and, at level Request, is its
    /// requestObject.
    fn audit_request_object(&self, object: &Value) {
        if let Some(audit) = &self.audit {
            audit.request_object(object);
        }
    }

    fn decode_body(&self, body: &[u8]) -> Result<(Value, Vec<String>), Status> {
        decode_object(self.resource, self.headers, &self.query, body)
    }

    fn written_response(
        &self,
        written: Written,
        warnings: &[String],
    ) -> Result<Response<Body>, Status> {
        match written {
            Written::Created(object) => self.object_response(201, &object, warnings),
            Written::Updated(object) | Written::Deleted(object) => {
                self.object_response(200, &object, warnings)
            }
        }
    }

    /// One object as the watch cache shares it: its JSON is made once for every reader (or,
    /// for a create, spliced from the stored bytes), or a one-row Table.
    pub fn shared_object_response(
        &self,
        code: u16,
        object: &SharedObject,
        warnings: &[String],
    ) -> Result<Response<Body>, Status> {
        if self.table_request()?.is_some() {
            return self.object_response(code, object.value(), warnings);
        }
        let body = response::full(object.json().to_vec());
        let mut response = response::with_body(code, APPLICATION_JSON, body);
        add_warnings(&mut response, warnings);
        Ok(response)
    }

    /// One object, as JSON or as a one-row Table.
    pub fn object_response(
        &self,
        code: u16,
        object: &Value,
        warnings: &[String],
    ) -> Result<Response<Body>, Status> {
        let mut response = match self.table_request()? {
            Some((version, include)) => {
                let table = table::table(
                    self.resource,
                    &[object],
                    json!({"resourceVersion": meta_field(object, "resourceVersion")}),
                    self.now_secs(),
                    include,
                    version,
                    false,
                );
                let mut response = response::json(table_media_type(version), &table);
                *response.status_mut() = status_code(code);
                response
            }
            None => {
                let body = serde_json::to_vec(object).unwrap_or_default();
                response::with_body(code, APPLICATION_JSON, response::full(body))
            }
        };
        add_warnings(&mut response, warnings);
        Ok(response)
    }

    /// A `<Kind>List` (items without their apiVersion and kind, as kube writes them) or a
    /// Table.
    pub fn list_response(&self, list: &ObjectList) -> Result<Response<Body>, Status> {
        let mut list_meta = serde_json::Map::new();
        list_meta.insert(
            "resourceVersion".into(),
            Value::String(list.resource_version.to_string()),
        );
        if let Some(token) = &list.continue_token {
            list_meta.insert("continue".into(), Value::String(token.clone()));
        }
        if let Some(count) = list.remaining_item_count {
            list_meta.insert("remainingItemCount".into(), json!(count));
        }
        if let Some((version, include)) = self.table_request()? {
            let refs: Vec<&Value> = list.items.iter().map(|item| item.value()).collect();
            let table = table::table(
                self.resource,
                &refs,
                Value::Object(list_meta),
                self.now_secs(),
                include,
                version,
                false,
            );
            return Ok(response::json(table_media_type(version), &table));
        }
        let body = list_body(
            &format!("{}List", self.resource.kind),
            &self.resource.api_version(),
            &Value::Object(list_meta),
            &list.items,
        );
        Ok(response::with_body(
            200,
            APPLICATION_JSON,
            response::full(body),
        ))
    }

    /// The Table the client asked for, if any; 406 when it accepts nothing kubesim writes.
    pub fn table_request(&self) -> Result<Option<(TableVersion, IncludeObject)>, Status> {
        let accept = header(self.headers, ACCEPT.as_str());
        let include = match self.query.get("includeObject") {
            None | Some("") => IncludeObject::Metadata,
            Some(text) => table::parse_include_object(text).map_err(|e| Status::bad_request(&e))?,
        };
        if let Some(version) = table::negotiate(accept) {
            return Ok(Some((version, include)));
        }
        if accepts_json(accept) {
            return Ok(None);
        }
        Err(Status::not_acceptable(&[
            APPLICATION_JSON,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        ]))
    }

    pub fn now_secs(&self) -> i64 {
        self.registry.now_secs()
    }
}

/// A create or update body as an object of `resource`'s kind (JSON, YAML or protobuf, by
/// Content-Type), with the unknown and duplicate fields `fieldValidation` asks about: 400
/// under Strict, warnings under Warn (the default), nothing under Ignore. The review handlers
/// ([`crate::reviews`]) read their bodies with it too.
pub fn decode_object(
    resource: &Resource,
    headers: &HeaderMap,
    query: &Query,
    body: &[u8],
) -> Result<(Value, Vec<String>), Status> {
    let content_type = header(headers, CONTENT_TYPE.as_str());
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.is_empty() && !BODY_TYPES.contains(&media) {
        return Err(Status::unsupported_media_type(&BODY_TYPES));
    }
    if media == kubesim_api::protobuf::MEDIA_TYPE {
        // kube-apiserver's protobuf decoder reports no unknown or duplicate fields.
        let object = kubesim_api::protobuf::decode(resource, body).map_err(|e| {
            Status::bad_request(&format!(
                "the object provided is unrecognized (must be of type {}): {e}",
                resource.kind
            ))
        })?;
        return Ok((object, Vec::new()));
    }
    let bytes = if media == "application/yaml" {
        Cow::Owned(yaml_or_json(body, resource)?)
    } else {
        Cow::Borrowed(body)
    };
    let (object, repeated) = schema::parse_noting_duplicates(&bytes).map_err(|e| {
        Status::bad_request(&format!(
            "the object provided is unrecognized (must be of type {}): couldn't get \
             version/kind; json parse error: {e} ({})",
            resource.kind,
            summarize_data(body)
        ))
    })?;
    if !object.is_object() {
        return Err(Status::bad_request(&format!(
            "the object provided is unrecognized (must be of type {}): the body is not a \
             JSON object",
            resource.kind
        )));
    }
    let problems = match query.get("fieldValidation").unwrap_or("Warn") {
        "Ignore" => return Ok((object, Vec::new())),
        "Warn" | "" => false,
        "Strict" => true,
        other => {
            return Err(Status::bad_request(&format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \
                 \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    // Scanning the bytes for the repeated keys' paths only when the parse saw one.
    let mut found = if repeated {
        schema::duplicate_fields(&bytes)
    } else {
        Vec::new()
    };
    found.extend(schema::unknown_fields(resource, &object));
    if problems && !found.is_empty() {
        // kube's wording for a strict decoding failure of a create or update body.
        return Err(Status::bad_request(&format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {}",
            schema::strict_decoding_error(&found),
            kind = resource.kind,
            version = resource.version,
        )));
    }
    Ok((object, found))
}

/// kube's `ReturnDeletedObject`: pods answer DELETE with the pod, most kinds with a Status.
/// kube's admission `operation` label of a verb.
fn admission_operation(verb: &str) -> &'static str {
    match verb {
        "create" => "CREATE",
        "delete" | "deletecollection" => "DELETE",
        _ => "UPDATE",
    }
}

fn returns_deleted_object(resource: &Resource) -> bool {
    matches!(resource.kind, "Pod" | "Namespace" | "Service")
}

/// The Status kube answers a completed DELETE with.
fn success_status(resource: &Resource, object: &Value) -> Response<Body> {
    let mut details = json!({
        "name": meta_field(object, "name"),
        "kind": resource.plural,
        "uid": meta_field(object, "uid"),
    });
    if !resource.group.is_empty() {
        details["group"] = Value::String(resource.group.to_string());
    }
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    });
    response::json(APPLICATION_JSON, &status)
}

/// A `<Kind>List`: the items are the cache's serialized forms (without `apiVersion` and
/// `kind`, as kube writes list items), copied, not serialized again per list.
fn list_body(
    kind: &str,
    api_version: &str,
    metadata: &Value,
    items: &[Arc<SharedObject>],
) -> Vec<u8> {
    let size: usize = items.iter().map(|item| item.item_json().len() + 1).sum();
    let mut body = Vec::with_capacity(size + 256);
    let head = json!({"kind": kind, "apiVersion": api_version, "metadata": metadata});
    // Invariant: a `serde_json::Value` always serializes; its last byte is the closing `}`.
    let head = serde_json::to_vec(&head).unwrap_or_default();
    body.extend_from_slice(&head[..head.len().saturating_sub(1)]);
    body.extend_from_slice(b",\"items\":[");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.item_json());
    }
    body.extend_from_slice(b"]}");
    body
}

/// `dryRun`: absent or `All`; anything else is a 400.
pub fn dry_run(query: &Query) -> Result<bool, Status> {
    match query.get("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(Status::bad_request(&format!(
            "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
        ))),
    }
}

/// A resourceVersion from the query: an unsigned integer (kube's `ParseResourceVersion`).
pub fn parse_resource_version(text: &str) -> Result<i64, Status> {
    text.parse::<i64>()
        .ok()
        .filter(|rv| *rv >= 0)
        .ok_or_else(|| Status::bad_request(&format!("invalid resource version: {text:?}")))
}

/// A YAML body (server-side apply, `application/yaml`) as JSON bytes. JSON is YAML, and
/// kubectl and client-go send JSON, so a body that starts as JSON is passed through as it is
/// (its errors are reported by the JSON decoder). YAML is read as YAML 1.2 (`yes` is a
/// string), where kube's Go decoder follows YAML 1.1.
fn yaml_or_json(body: &[u8], resource: &Resource) -> Result<Vec<u8>, Status> {
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        return Ok(body.to_vec());
    }
    let value: Value = yaml_serde::from_slice(body).map_err(|e| {
        Status::bad_request(&format!(
            "the object provided is unrecognized (must be of type {}): couldn't get \
             version/kind; yaml parse error: {e} ({})",
            resource.kind,
            summarize_data(body)
        ))
    })?;
    serde_json::to_vec(&value).map_err(|e| Status::bad_request(&e.to_string()))
}

/// kube's `summarizeData(body, 30)`, which ends a decode error: the first 30 bytes of a JSON
/// object as text, anything else in hex, `...` when cut.
fn summarize_data(body: &[u8]) -> String {
    const MAX_LENGTH: usize = 30;
    let (head, cut) = if body.len() > MAX_LENGTH {
        (&body[..MAX_LENGTH], " ...")
    } else {
        (body, "")
    };
    match body.first() {
        None => "<empty>".to_string(),
        Some(b'{') => format!("{}{cut}", String::from_utf8_lossy(head)),
        Some(_) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{cut}")
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn meta_field<'a>(object: &'a Value, field: &str) -> &'a str {
    crate::registry::meta::meta_str(object, field)
}

/// Whether an Accept header takes JSON: absent, `*/*`, `application/*` or `application/json`
/// (with parameters other than `as=`).
fn accepts_json(accept: &str) -> bool {
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let plain = parts.all(|p| !p.starts_with("as="));
        plain && matches!(media, "*/*" | "application/*" | "application/json")
    })
}

fn table_media_type(version: TableVersion) -> &'static str {
    match version {
        TableVersion::V1 => "application/json;as=Table;v=v1;g=meta.k8s.io",
        TableVersion::V1Beta1 => "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
    }
}

fn status_code(code: u16) -> hyper::StatusCode {
    hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::OK)
}

/// kube's warning filter (`endpoints/filters/warning.go`): once a response's warnings pass
/// this many characters, each is cut to [`TRUNCATE_ITEM_CHARS`], and no more are added after
/// the total reaches it again.
const TRUNCATE_AT_TOTAL_CHARS: usize = 4 * 1024;
const TRUNCATE_ITEM_CHARS: usize = 256;

/// `Warning: 299 - "<text>"` headers, as kube-apiserver sends them (duplicates once).
pub fn add_warnings(response: &mut Response<Body>, warnings: &[String]) {
    for warning in truncate_warnings(warnings) {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append("warning", value);
        }
    }
}

/// kube's recorder: whole warnings while they fit in [`TRUNCATE_AT_TOTAL_CHARS`]; from the
/// first that does not, every warning so far cut to [`TRUNCATE_ITEM_CHARS`], and later ones
/// (cut too) only while the total is under the limit.
fn truncate_warnings(warnings: &[String]) -> Vec<String> {
    let mut unique: Vec<&String> = Vec::new();
    for warning in warnings {
        if !warning.is_empty() && !unique.contains(&warning) {
            unique.push(warning);
        }
    }
    let whole: usize = unique.iter().map(|w| w.chars().count()).sum();
    if whole <= TRUNCATE_AT_TOTAL_CHARS {
        return unique.into_iter().cloned().collect();
    }
    let mut out = Vec::new();
    let mut written = 0;
    let mut seen = 0;
    let mut truncating = false;
    for warning in unique {
        let length = warning.chars().count();
        if !truncating && seen + length > TRUNCATE_AT_TOTAL_CHARS {
            truncating = true;
        } else if truncating && written >= TRUNCATE_AT_TOTAL_CHARS {
            break;
        }
        seen += length;
        let cut: String = warning.chars().take(TRUNCATE_ITEM_CHARS).collect();
        written += cut.chars().count();
        out.push(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::truncate_warnings;

    #[test]
    fn warnings_stay_whole_while_they_fit_in_4_kib() {
        let long = "w".repeat(505);
        let warnings = vec![long.clone(), "short".to_string(), long.clone()];
        assert_eq!(
            truncate_warnings(&warnings),
            vec![long, "short".to_string()]
        );
    }

    #[test]
    fn past_4_kib_every_warning_is_cut_to_256_and_the_total_bounded() {
        let warnings: Vec<String> = (0..30)
            .map(|i| format!("{i:02}{}", "x".repeat(998)))
            .collect();
        let out = truncate_warnings(&warnings);
        assert!(out.iter().all(|w| w.chars().count() == 256));
        // 16 cut warnings reach 4096 characters; kube adds none after that.
        assert_eq!(out.len(), 16);
        assert!(out[15].starts_with("15"));
    }
}
