//! PUT and PATCH: a new state for an existing object, with Kubernetes' optimistic
//! concurrency. A write that names a resourceVersion gets 409 when it is stale; one that
//! does not (an unconditional PUT, most PATCHes) is retried against the new state when a
//! concurrent write wins, as kube's `GuaranteedUpdate` does.

use std::sync::Arc;

use kubesim_api::patch::{self, PatchType};
use kubesim_api::resources::Resource;
use kubesim_api::{Status, defaults, kind_validation, schema};
use kubesim_storage::StorageError;
use kubesim_storage::cacher::OwnObject;
use serde_json::Value;

use super::create::{check_type_meta, set_namespace};
use kubesim_admission::Operation;

use super::{
    AdmissionWrite, MAX_CONFLICT_RETRIES, Registry, WriteOptions, group_kind, group_resource,
    managed, meta, storage_status,
};

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Stored (or, for a dry run, would have been): the new state.
    Updated(Value),
    /// Created by an apply patch or an update of an absent object (201).
    Created(Value),
    /// The last finalizer was removed from an object being deleted, which deleted it.
    Deleted(Value),
}

impl Written {
    pub fn into_object(self) -> Value {
        match self {
            Written::Updated(object) | Written::Created(object) | Written::Deleted(object) => {
                object
            }
        }
    }
}

/// One attempt's outcome: done, or lost a race that a retry may win.
enum Attempt {
    Done(Written),
    Conflict(Status),
}

impl Registry {
    /// PUT of `object` as the new state of `name` (or of its `status` subresource).
    pub async fn update(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        subresource: &str,
        mut object: Value,
        opts: &WriteOptions,
    ) -> Result<Written, Status> {
        check_type_meta(resource, &mut object)?;
        set_namespace(resource, namespace, &mut object)?;
        let body_name = meta::meta_str(&object, "name");
        if body_name != name {
            return Err(Status::bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let precondition = resource_version_of(&object)?;
        for _ in 0..MAX_CONFLICT_RETRIES {
            let (current, revision) = self.read(resource, namespace, name).await?;
            if let Some(expected) = precondition
                && expected != revision
            {
                return Err(Status::conflict_stale(&group_resource(resource), name));
            }
            let attempt = self
                .write_update(
                    resource,
                    namespace,
                    name,
                    subresource,
                    object.clone(),
                    (current, revision),
                    opts,
                )
                .await?;
            match attempt {
                Attempt::Done(written) => return Ok(written),
                Attempt::Conflict(status) if precondition.is_some() => return Err(status),
                Attempt::Conflict(_) => continue,
            }
        }
        Err(Status::conflict_stale(&group_resource(resource), name))
    }

    /// PATCH of `name` (or its `status`) with a patch of `patch_type`.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        subresource: &str,
        patch_type: PatchType,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written, Status> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let (current, revision) = match self.read(resource, namespace, name).await {
                Ok(found) => found,
                Err(status) if status.code == 404 && patch_type == PatchType::Apply => {
                    return self
                        .apply_create(resource, namespace, name, body, opts)
                        .await;
                }
                Err(status) => return Err(status),
            };
            let patched = if patch_type == PatchType::Apply {
                self.server_side_apply(resource, name, &current, body, opts)?
            } else {
                apply_patch(resource, name, patch_type, &current, body)?
            };
            // The patched object keeps the current resourceVersion unless the patch set
            // one: a different one is a stale precondition (409). A lost race is retried
            // against the new state, where a patch that named a resourceVersion then fails
            // this same check.
            if meta::meta_str(&patched, "resourceVersion")
                != meta::meta_str(&current, "resourceVersion")
            {
                return Err(Status::conflict_stale(&group_resource(resource), name));
            }
            let mut patched = patched;
            check_type_meta(resource, &mut patched)?;
            set_namespace(resource, namespace, &mut patched)?;
            if meta::meta_str(&patched, "name") != name {
                return Err(Status::bad_request(&format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta::meta_str(&patched, "name")
                )));
            }
            let attempt = self
                .write_update(
                    resource,
                    namespace,
                    name,
                    subresource,
                    patched,
                    (current, revision),
                    opts,
                )
                .await?;
            match attempt {
                Attempt::Done(written) => return Ok(written),
                Attempt::Conflict(_) => continue,
            }
        }
        Err(Status::conflict_stale(&group_resource(resource), name))
    }

    /// Server-side apply of `body` over `current` ([`managed::apply`]).
    fn server_side_apply(
        &self,
        resource: &'static Resource,
        name: &str,
        current: &Value,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Value, Status> {
        let config = apply_config(resource, name, body)?;
        let now = self.now();
        let writer = managed::Writer {
            manager: &opts.field_manager,
            api_version: &resource.api_version(),
            subresource: "",
            now: &now,
        };
        managed::apply(resource, name, current, &config, writer, opts.force)
    }

    /// Server-side apply of an absent object creates it.
    async fn apply_create(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written, Status> {
        let object = apply_config(resource, name, body)?;
        let created = self.create(resource, namespace, object, opts).await?;
        Ok(Written::Created(created.value().clone()))
    }

    /// One attempt at writing `object` over `current` (read at `revision`).
    #[allow(clippy::too_many_arguments)]
    async fn write_update(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        subresource: &str,
        object: Value,
        (current, revision): (Value, i64),
        opts: &WriteOptions,
    ) -> Result<Attempt, Status> {
        check_uid(resource, name, &object, &current)?;
        let mut object = merge_subresource(resource, subresource, object, &current);
        if resource.kind == "Service" {
            super::services::carry_over_allocations(&mut object, &current);
        }
        schema::prune(resource, &mut object);
        defaults::apply_defaults(resource, &mut object);
        // Recorded before mutating admission, as kube's FieldManager records an update: what
        // a mutating webhook adds or changes belongs to no manager, not to this writer.
        if opts.operation == managed::Operation::Update {
            self.record_updated_fields(resource, subresource, &mut object, &current, opts);
        }
        let write = AdmissionWrite::from_write(
            resource,
            Operation::Update,
            (namespace, name, subresource),
            Some(&current),
            opts,
        );
        if self.admit(write, Some(&mut object)).await? {
            schema::prune(resource, &mut object);
            defaults::apply_defaults(resource, &mut object);
        }
        if resource.kind == "Service" {
            self.allocate_service(&mut object);
        }
        let bump = meta::has_generation(resource)
            && kind_validation::generation_changed(resource, &object, &current);
        meta::prepare_for_update(&mut object, &current, bump);
        let started = tokio::time::Instant::now();
        let errors = kind_validation::validate_update(resource, &object, &current);
        opts.record.validated(started.elapsed(), !errors.is_empty());
        if !errors.is_empty() {
            return Err(Status::invalid(&group_kind(resource), name, &errors));
        }
        self.validate_admission(write, Some(&object)).await?;
        self.guard(resource, &object, Some(&current), opts).await?;
        if same_state(&object, &current) {
            // kube's no-op update: nothing written, the resourceVersion stays.
            return Ok(Attempt::Done(Written::Updated(current)));
        }
        let key = self.key(resource, namespace, name);
        if finalized(resource, &object) {
            return self
                .delete_finalized(resource, &key, name, object, revision, opts)
                .await;
        }
        if opts.dry_run {
            return Ok(Attempt::Done(Written::Updated(object)));
        }
        // The answer keeps the client's field order (its resourceVersion where the client
        // put it); the cache gets the stored bytes with the new resourceVersion spliced in
        // last, as decoding makes it.
        let (bytes, metadata_end) = meta::stored_json_without_resource_version(&mut object);
        let own = Arc::new(match metadata_end {
            Some(at) => OwnObject::from_json(bytes, at),
            // No object metadata, so no resourceVersion: stored as it is.
            None => OwnObject::new(object.clone(), bytes, None),
        });
        let offer = self.offer_own_write(resource, &key, &own);
        match self
            .storage
            .update(&key, own.value().to_vec(), revision)
            .await
        {
            Ok(new_revision) => {
                offer.stored();
                meta::set_resource_version(&mut object, new_revision);
                Ok(Attempt::Done(Written::Updated(object)))
            }
            Err(StorageError::Conflict { .. }) => Ok(Attempt::Conflict(Status::conflict_stale(
                &group_resource(resource),
                name,
            ))),
            Err(error) => Err(storage_status(error, &group_resource(resource), name)),
        }
    }

    /// managedFields after a non-apply write of `object` over `current`
    /// ([`managed::record_update`]): the writer owns the fields it changed.
    fn record_updated_fields(
        &self,
        resource: &'static Resource,
        subresource: &str,
        object: &mut Value,
        current: &Value,
        opts: &WriteOptions,
    ) {
        let now = self.now();
        let writer = managed::Writer {
            manager: &opts.field_manager,
            api_version: &resource.api_version(),
            subresource,
            now: &now,
        };
        managed::record_update(resource, object, Some(current), writer, opts.operation);
    }

    /// An object being deleted whose last finalizer an update removed is deleted, as kube's
    /// store does in `GuaranteedUpdate` + `deleteWithoutFinalizers`.
    async fn delete_finalized(
        &self,
        resource: &'static Resource,
        key: &str,
        name: &str,
        mut object: Value,
        revision: i64,
        opts: &WriteOptions,
    ) -> Result<Attempt, Status> {
        if opts.dry_run {
            return Ok(Attempt::Done(Written::Deleted(object)));
        }
        match self.storage.delete(key, Some(revision)).await {
            Ok((_, deleted_at)) => {
                meta::set_resource_version(&mut object, deleted_at);
                Ok(Attempt::Done(Written::Deleted(object)))
            }
            Err(StorageError::Conflict { .. }) => Ok(Attempt::Conflict(Status::conflict_stale(
                &group_resource(resource),
                name,
            ))),
            Err(error) => Err(storage_status(error, &group_resource(resource), name)),
        }
    }
}

/// The configuration of an apply patch: an object with the endpoint's apiVersion and kind,
/// named as the URL names it.
fn apply_config(resource: &Resource, name: &str, body: &[u8]) -> Result<Value, Status> {
    let mut config: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(&format!("error decoding the apply patch: {e}")))?;
    check_type_meta(resource, &mut config)?;
    match meta::meta_str(&config, "name") {
        "" => {
            meta::metadata_mut(&mut config).insert("name".into(), Value::String(name.into()));
        }
        given if given != name => {
            return Err(Status::bad_request(&format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    Ok(config)
}

/// The object a patch makes of `current`.
fn apply_patch(
    resource: &'static Resource,
    name: &str,
    patch_type: PatchType,
    current: &Value,
    body: &[u8],
) -> Result<Value, Status> {
    let result = match patch_type {
        PatchType::Json => patch::apply_json_patch(current, body),
        PatchType::Merge => patch::apply_merge_patch(current, body),
        PatchType::StrategicMerge | PatchType::Apply => {
            patch::apply_strategic_merge_patch(resource, current, body)
        }
    };
    result.map_err(|error| error.to_status(resource, name))
}

/// `metadata.resourceVersion` of a written object: a precondition when set.
fn resource_version_of(object: &Value) -> Result<Option<i64>, Status> {
    match meta::meta_str(object, "resourceVersion") {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .ok()
            .filter(|rv| *rv > 0)
            .map(Some)
            .ok_or_else(|| Status::bad_request(&format!("invalid resource version: {text:?}"))),
    }
}

/// A uid in the written object is a precondition (kube: 409 "Precondition failed").
fn check_uid(
    resource: &Resource,
    name: &str,
    object: &Value,
    current: &Value,
) -> Result<(), Status> {
    let given = meta::meta_str(object, "uid");
    let actual = meta::meta_str(current, "uid");
    if given.is_empty() || given == actual {
        return Ok(());
    }
    Err(Status::conflict(
        &group_resource(resource),
        name,
        &format!("Precondition failed: UID in precondition: {given}, UID in object meta: {actual}"),
    ))
}

/// The main resource cannot change `status`, and the `status` subresource can change only
/// `status` (kube's status strategies).
fn merge_subresource(
    resource: &Resource,
    subresource: &str,
    mut object: Value,
    current: &Value,
) -> Value {
    let has_status = resource.subresources.contains(&"status");
    match subresource {
        "status" => {
            let mut merged = current.clone();
            match object.get("status") {
                Some(status) => merged["status"] = status.clone(),
                None => {
                    if let Value::Object(fields) = &mut merged {
                        fields.shift_remove("status");
                    }
                }
            }
            merged
        }
        // kube's namespace finalize subresource: only spec.finalizers changes.
        "finalize" => {
            let mut merged = current.clone();
            let finalizers = object
                .get("spec")
                .and_then(|s| s.get("finalizers"))
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            if !merged.get("spec").is_some_and(Value::is_object) {
                merged["spec"] = serde_json::json!({});
            }
            merged["spec"]["finalizers"] = finalizers;
            merged
        }
        "" if has_status => {
            if let Value::Object(fields) = &mut object {
                match current.get("status") {
                    Some(status) => {
                        fields.insert("status".into(), status.clone());
                    }
                    None => {
                        fields.shift_remove("status");
                    }
                }
            }
            object
        }
        _ => object,
    }
}

/// Whether a write changes nothing but what the server recomputes.
fn same_state(new: &Value, current: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        let meta = meta::metadata_mut(&mut object);
        meta.shift_remove("resourceVersion");
        meta.shift_remove("managedFields");
        object
    };
    strip(new) == strip(current)
}

/// Being deleted and no finalizer left: `metadata.finalizers`, and for a namespace also
/// `spec.finalizers` (the namespace controller's `kubernetes`).
pub fn finalized(resource: &Resource, object: &Value) -> bool {
    let deleting = !meta::meta_str(object, "deletionTimestamp").is_empty();
    let pending = |list: Option<&Value>| {
        list.and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
    };
    let meta_finalizers = pending(object.get("metadata").and_then(|m| m.get("finalizers")));
    let spec_finalizers = resource.kind == "Namespace"
        && pending(object.get("spec").and_then(|s| s.get("finalizers")));
    deleting && !meta_finalizers && !spec_finalizers
}
