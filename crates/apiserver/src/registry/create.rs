//! POST: a new object, as kube-apiserver's `createHandler` + `Store.Create` make one.

use std::sync::Arc;

use kubesim_api::resources::Resource;
use kubesim_api::{Status, defaults, kind_validation, schema};
use kubesim_storage::StorageError;
use kubesim_storage::cacher::{OwnObject, SharedObject};
use serde_json::Value;

use kubesim_admission::Operation;

use super::{
    AdmissionWrite, Registry, WriteOptions, group_kind, group_resource, managed, meta,
    storage_status,
};

/// How many generated names are tried before a create gives up with 409 (kube 1.31+ retries
/// name collisions of `generateName` too).
const GENERATE_NAME_ATTEMPTS: usize = 8;

impl Registry {
    /// Creates `object` of `resource` in `namespace` ("" for cluster-scoped kinds). Returns
    /// the stored object with its resourceVersion (without one for a dry run): the very
    /// object the watch cache keeps, with its JSON.
    pub async fn create(
        &self,
        resource: &'static Resource,
        namespace: &str,
        mut object: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<SharedObject>, Status> {
        check_type_meta(resource, &mut object)?;
        set_namespace(resource, namespace, &mut object)?;
        if !meta::meta_str(&object, "resourceVersion").is_empty() {
            // kube-apiserver's storage refuses this with a 500 InternalError; it is the
            // client's mistake, so kubesim answers 400 with the same words.
            return Err(Status::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        schema::prune(resource, &mut object);
        defaults::apply_defaults(resource, &mut object);
        // Mutating admission sees the object before the server's metadata and before a
        // generated name, as in kube (the name is chosen in BeforeCreate, after admission).
        let name = meta::meta_str(&object, "name").to_string();
        let write = AdmissionWrite::from_write(
            resource,
            Operation::Create,
            (namespace, &name, ""),
            None,
            opts,
        );
        if self.admit(write, Some(&mut object)).await? {
            schema::prune(resource, &mut object);
            defaults::apply_defaults(resource, &mut object);
        }
        let generate_prefix = meta::meta_str(&object, "generateName").to_string();
        let generate = meta::meta_str(&object, "name").is_empty() && !generate_prefix.is_empty();
        if !generate {
            return self.create_once(resource, namespace, object, opts).await;
        }
        let mut last_error = None;
        for _ in 0..GENERATE_NAME_ATTEMPTS {
            let mut candidate = object.clone();
            let name = self.generate_name(&generate_prefix);
            meta::metadata_mut(&mut candidate).insert("name".into(), Value::String(name));
            match self.create_once(resource, namespace, candidate, opts).await {
                Err(status) if status.reason == "AlreadyExists" => last_error = Some(status),
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| Status::internal_error("no create was attempted")))
    }

    async fn create_once(
        &self,
        resource: &'static Resource,
        namespace: &str,
        mut object: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<SharedObject>, Status> {
        let name = meta::meta_str(&object, "name").to_string();
        if resource.kind == "Service" {
            self.allocate_service(&mut object);
        }
        meta::prepare_for_create(resource, &mut object, self.new_uid(), &self.now());
        let started = tokio::time::Instant::now();
        let errors = kind_validation::validate_create(resource, &object);
        opts.record.validated(started.elapsed(), !errors.is_empty());
        if !errors.is_empty() {
            return Err(Status::invalid(&group_kind(resource), &name, &errors));
        }
        let write = AdmissionWrite::from_write(
            resource,
            Operation::Create,
            (namespace, &name, ""),
            None,
            opts,
        );
        self.validate_admission(write, Some(&object)).await?;
        self.guard(resource, &object, None, opts).await?;
        let now = self.now();
        let writer = managed::Writer {
            manager: &opts.field_manager,
            api_version: &resource.api_version(),
            subresource: "",
            now: &now,
        };
        managed::record_update(resource, &mut object, None, writer, opts.operation);
        if opts.dry_run {
            return Ok(Arc::new(SharedObject::new(object)));
        }
        let key = self.key(resource, namespace, &name);
        // A create's object has no resourceVersion (`prepare_for_create`): it is stored as
        // it is, and shared with the watch cache rather than copied for it.
        let (bytes, metadata_end) = meta::stored_json(&object);
        let own = Arc::new(OwnObject::new(object, bytes, metadata_end));
        let offer = self.offer_own_write(resource, &key, &own);
        let revision = self
            .storage
            .create(&key, own.value().to_vec())
            .await
            .map_err(|e| create_error(e, resource, &name))?;
        offer.stored();
        let created = own.finish(revision);
        if resource.kind == "Namespace" {
            // kube's ServiceAccount controller makes it a moment later; made here at once, so
            // a pod created right after its namespace finds the ServiceAccount it needs.
            crate::admission::ensure_default_service_account(self, &name).await;
        }
        Ok(created)
    }
}

fn create_error(error: StorageError, resource: &Resource, name: &str) -> Status {
    storage_status(error, &group_resource(resource), name)
}

/// `apiVersion` and `kind` must be the endpoint's when present (kube's decoder refuses
/// others with 400), and are set when absent: every stored object carries them.
pub fn check_type_meta(resource: &Resource, object: &mut Value) -> Result<(), Status> {
    let Value::Object(fields) = object else {
        return Err(Status::bad_request(&format!(
            "the body of a {} must be a JSON object",
            resource.kind
        )));
    };
    let expected_version = resource.api_version();
    match fields.get("apiVersion").and_then(Value::as_str) {
        Some(version) if !version.is_empty() && version != expected_version => {
            return Err(Status::bad_request(&format!(
                "the API version in the data ({version}) does not match the expected API \
                 version ({expected_version})"
            )));
        }
        _ => {}
    }
    match fields.get("kind").and_then(Value::as_str) {
        Some(kind) if !kind.is_empty() && kind != resource.kind => {
            return Err(Status::bad_request(&format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                resource.kind
            )));
        }
        _ => {}
    }
    // Keep the client's key order, but make sure both are there.
    fields.insert("apiVersion".into(), Value::String(expected_version));
    fields.insert("kind".into(), Value::String(resource.kind.to_string()));
    Ok(())
}

/// The object's namespace must be the URL's (kube: 400 "the namespace of the provided
/// object does not match the namespace sent on the request"); it is set from the URL when
/// absent. Cluster-scoped objects get no namespace.
pub fn set_namespace(
    resource: &Resource,
    namespace: &str,
    object: &mut Value,
) -> Result<(), Status> {
    let given = meta::meta_str(object, "namespace").to_string();
    if !resource.is_namespaced() {
        if !given.is_empty() {
            meta::metadata_mut(object).shift_remove("namespace");
        }
        return Ok(());
    }
    if !given.is_empty() && given != namespace {
        return Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    meta::metadata_mut(object).insert("namespace".into(), Value::String(namespace.to_string()));
    Ok(())
}
