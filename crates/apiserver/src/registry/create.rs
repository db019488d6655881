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
        let managed_fields = self.created_managed_fields(resource, &mut object, opts);
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
        let managed_fields = managed_fields.as_deref();
        if !generate {
            return self
                .create_once(resource, namespace, object, managed_fields, opts)
                .await;
        }
        let mut last_error = None;
        for _ in 0..GENERATE_NAME_ATTEMPTS {
            let mut candidate = object.clone();
            let name = self.generate_name(&generate_prefix);
            meta::metadata_mut(&mut candidate).insert("name".into(), Value::String(name));
            // Boxed, so that this rarely taken path does not hold a second create_once
            // future beside the one above in every create's future.
            match Box::pin(self.create_once(resource, namespace, candidate, managed_fields, opts))
                .await
            {
                Err(status) if status.reason == "AlreadyExists" => last_error = Some(status),
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| Status::internal_error("no create was attempted")))
    }

    /// Defaults `object` and returns its managedFields as JSON ([`managed::created_json`]),
    /// recorded as kube's FieldManager records a create: before mutating admission, so what
    /// admission adds (ServiceAccount's token volume and mounts, LimitRanger's resources,
    /// the Priority plugin's `priority` and `preemptionPolicy`, a webhook's patch) and what
    /// the server allocates belong to no manager, and applying
    /// the same manifest server-side again leaves them alone. An apply owns exactly its
    /// configuration; any other writer owns what it sent, defaulted.
    fn created_managed_fields(
        &self,
        resource: &'static Resource,
        object: &mut Value,
        opts: &WriteOptions,
    ) -> Option<Vec<u8>> {
        let now = self.now();
        let api_version = resource.api_version();
        let writer = managed::Writer {
            manager: &opts.field_manager,
            api_version: &api_version,
            subresource: "",
            now: &now,
        };
        let record =
            |object: &Value| managed::created_json(resource, object, writer, opts.operation);
        let applied = (opts.operation == managed::Operation::Apply).then(|| record(object));
        defaults::set_defaults(resource, object);
        let managed_fields = applied.unwrap_or_else(|| record(object));
        // What kube's Priority plugin sets during admission (kubesim sets it as a default).
        defaults::admission_defaults(resource, object);
        managed_fields
    }

    async fn create_once(
        &self,
        resource: &'static Resource,
        namespace: &str,
        mut object: Value,
        managed_fields: Option<&[u8]>,
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
        if opts.dry_run {
            managed::set_created(&mut object, managed_fields);
            return Ok(Arc::new(SharedObject::new(object)));
        }
        let key = self.key(resource, namespace, &name);
        // A create's object has no resourceVersion (`prepare_for_create`): it is stored as
        // it is, and shared with the watch cache rather than copied for it.
        let own = Arc::new(stored_create(object, managed_fields));
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
            // Boxed: a write of its own, too large to carry in every create's future.
            Box::pin(crate::admission::ensure_default_service_account(
                self, &name,
            ))
            .await;
        }
        Ok(created)
    }
}

/// The stored form of a created `object` with its managedFields (`entry`, from
/// [`managed::created_json`]): the object serialized without managedFields, the entry
/// written into the bytes as metadata's last field, where serializing the object with the
/// entry recorded puts it (kube's ObjectMeta ends with managedFields too). Nothing after
/// this needs the decoded object, so it is not kept (the watch cache decodes the bytes if a
/// reader ever needs them).
fn stored_create(mut object: Value, entry: Option<&[u8]>) -> OwnObject {
    meta::metadata_mut(&mut object).shift_remove("managedFields");
    let (bytes, metadata_end) = meta::stored_json(&object);
    let Some(at) = metadata_end.filter(|&at| bytes.get(at) == Some(&b'}')) else {
        // Only for an object that is not a JSON object: prepare_for_create gives every
        // object metadata.
        return OwnObject::new(object, bytes, metadata_end);
    };
    let Some(entry) = entry else {
        return OwnObject::from_json(bytes, at);
    };
    let empty = bytes.get(at - 1) == Some(&b'{');
    let mut stored = Vec::with_capacity(bytes.len() + entry.len() + 18);
    stored.extend_from_slice(&bytes[..at]);
    if !empty {
        stored.push(b',');
    }
    stored.extend_from_slice(b"\"managedFields\":");
    stored.extend_from_slice(entry);
    let metadata_end = stored.len();
    stored.extend_from_slice(&bytes[at..]);
    OwnObject::from_json(stored, metadata_end)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(plural: &str) -> &'static Resource {
        kubesim_api::resources::lookup("", "v1", plural)
            .or_else(|| kubesim_api::resources::lookup("apps", "v1", plural))
            .unwrap()
    }

    /// What a create stored before [`stored_create`]: managedFields recorded into the object,
    /// then the object serialized, finished at `revision`.
    fn recorded_then_serialized(
        resource: &'static Resource,
        mut object: Value,
        writer: managed::Writer<'_>,
        operation: managed::Operation,
    ) -> Vec<u8> {
        managed::record_update(resource, &mut object, None, writer, operation);
        let (bytes, end) = meta::stored_json(&object);
        OwnObject::new(object, bytes, end)
            .finish(42)
            .json()
            .to_vec()
    }

    #[test]
    fn a_creates_stored_bytes_are_the_recorded_object_serialized() {
        let now = "2026-11-30T14:00:00Z";
        let mut pod = kubesim_api::workload::bench_pod("ns", "web", "run");
        defaults::apply_defaults(resource("pods"), &mut pod);
        let objects = [
            ("pods", pod),
            (
                "configmaps",
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "ns", "labels": {"a\"b": "x"}},
                "data": {"k": "v"}}),
            ),
            // Owns nothing: no managedFields at all.
            (
                "configmaps",
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "empty", "namespace": "ns"}}),
            ),
            (
                "deployments",
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "ns"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            ),
        ];
        for (plural, mut object) in objects {
            let resource = resource(plural);
            meta::prepare_for_create(resource, &mut object, "uid-1".into(), now);
            for (manager, subresource, operation) in [
                ("kubectl-create", "", managed::Operation::Update),
                ("who \"quoted\"", "", managed::Operation::Apply),
                ("kubectl", "status", managed::Operation::Update),
            ] {
                let writer = managed::Writer {
                    manager,
                    api_version: "v1",
                    subresource,
                    now,
                };
                let expected =
                    recorded_then_serialized(resource, object.clone(), writer, operation);
                let entry = managed::created_json(resource, &object, writer, operation);
                let stored = stored_create(object.clone(), entry.as_deref());
                assert_eq!(
                    String::from_utf8(stored.finish(42).json().to_vec()).unwrap(),
                    String::from_utf8(expected).unwrap(),
                    "{plural} by {manager}"
                );
            }
        }
    }

    #[test]
    fn a_clients_managed_fields_are_replaced_by_the_creates_own_last_in_metadata() {
        let pods = resource("pods");
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns",
                "managedFields": [{"manager": "someone-else"}], "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        meta::prepare_for_create(pods, &mut pod, "uid-1".into(), "2026-11-30T14:00:00Z");
        let writer = managed::Writer {
            manager: "me",
            api_version: "v1",
            subresource: "",
            now: "2026-11-30T14:00:00Z",
        };
        let entry = managed::created_json(pods, &pod, writer, managed::Operation::Update);
        let stored = stored_create(pod.clone(), entry.as_deref());
        let stored: Value = serde_json::from_slice(stored.finish(3).json()).unwrap();
        let keys: Vec<&str> = stored["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[keys.len() - 2..], ["managedFields", "resourceVersion"]);
        let mut recorded = pod;
        managed::record_update(
            pods,
            &mut recorded,
            None,
            writer,
            managed::Operation::Update,
        );
        assert_eq!(
            stored["metadata"]["managedFields"],
            recorded["metadata"]["managedFields"]
        );
        assert_eq!(stored["metadata"]["managedFields"][0]["manager"], "me");
    }
}
