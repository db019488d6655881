//! DELETE and deletecollection. An object without finalizers is removed at once; one with
//! finalizers gets `deletionTimestamp` and stays until an update removes the last one
//! ([`super::update`]). A namespace is marked Terminating and emptied by
//! [`super::namespaces`]. kubesim runs no garbage collector and no kubelet: a
//! `propagationPolicy` is accepted and checked but has no dependents to act on, and a pod's
//! grace period ends at once.

use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::status::GroupResource;
use kubesim_storage::StorageError;
use serde_json::{Value, json};

use super::read::{ListOptions, ObjectList};
use std::sync::Arc;

use kubesim_admission::{Operation, Record};

use super::{AdmissionWrite, MAX_CONFLICT_RETRIES, Registry, group_resource, meta, storage_status};

/// `DeleteOptions` from the body or the query, and the request behind them.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub dry_run: bool,
    /// Who asks; `None` for the API server's own deletes (namespace termination).
    pub requester: Option<Arc<kubesim_api::user::UserInfo>>,
    /// Where admission leaves the request's warnings and steps.
    pub record: Arc<Record>,
    /// When the request's time is up.
    pub deadline: Option<tokio::time::Instant>,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted {
    /// Removed from the store: its last state, resourceVersion the deletion's.
    Gone(Value),
    /// Marked for deletion, waiting for finalizers (or a namespace being emptied).
    Pending(Value),
}

const PROPAGATION_POLICIES: [&str; 3] = ["Orphan", "Background", "Foreground"];

impl DeleteOptions {
    /// kube's `ValidateDeleteOptions`.
    pub fn validate(&self) -> Result<(), Status> {
        if let Some(policy) = &self.propagation_policy
            && !PROPAGATION_POLICIES.contains(&policy.as_str())
        {
            return Err(Status::bad_request(&format!(
                "DeleteOptions.propagationPolicy: Unsupported value: \"{policy}\": supported \
                 values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            )));
        }
        if self.grace_period_seconds.is_some_and(|g| g < 0) {
            return Err(Status::bad_request(
                "DeleteOptions.gracePeriodSeconds: Invalid value: must be greater than or equal to 0",
            ));
        }
        Ok(())
    }
}

impl Registry {
    /// DELETE of one object.
    pub async fn delete(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, Status> {
        opts.validate()?;
        let gr = group_resource(resource);
        for _ in 0..MAX_CONFLICT_RETRIES {
            let (current, revision) = self.read(resource, namespace, name).await?;
            check_preconditions(resource, name, &current, opts)?;
            self.admit_delete(resource, namespace, name, &current, opts)
                .await?;
            if resource.kind == "Namespace" {
                return self.begin_termination(name, current, revision, opts).await;
            }
            let key = self.key(resource, namespace, name);
            let outcome = if has_finalizers(&current) {
                self.mark_deleting(&key, current, revision, opts).await
            } else {
                self.remove(&key, current, revision, opts).await
            };
            match outcome {
                Err(StorageError::Conflict { .. }) => continue,
                Err(error) => return Err(storage_status(error, &gr, name)),
                Ok(deleted) => return Ok(deleted),
            }
        }
        Err(Status::conflict_stale(&gr, name))
    }

    /// Both phases of admission for a DELETE of `current`: webhooks and plugins see the old
    /// object and no new one, as kube's delete handler and `deleteValidation` call them.
    async fn admit_delete(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        current: &Value,
        opts: &DeleteOptions,
    ) -> Result<(), Status> {
        let write = AdmissionWrite {
            resource,
            subresource: "",
            operation: Operation::Delete,
            namespace,
            name,
            old: Some(current),
            requester: opts.requester.as_ref(),
            dry_run: opts.dry_run,
            field_manager: "",
            propagation_policy: opts.propagation_policy.as_deref(),
            deadline: opts.deadline,
            record: &opts.record,
        };
        self.admit(write, None).await?;
        self.validate_admission(write, None).await
    }

    /// Removes the object from the store if it is still at `revision`.
    pub(crate) async fn remove(
        &self,
        key: &str,
        mut current: Value,
        revision: i64,
        opts: &DeleteOptions,
    ) -> Result<Deleted, StorageError> {
        if opts.dry_run {
            return Ok(Deleted::Gone(current));
        }
        let (_, deleted_at) = self.storage.delete(key, Some(revision)).await?;
        meta::set_resource_version(&mut current, deleted_at);
        Ok(Deleted::Gone(current))
    }

    /// Sets `deletionTimestamp` (once) on an object that has finalizers.
    async fn mark_deleting(
        &self,
        key: &str,
        mut current: Value,
        revision: i64,
        opts: &DeleteOptions,
    ) -> Result<Deleted, StorageError> {
        if !meta::meta_str(&current, "deletionTimestamp").is_empty() || opts.dry_run {
            return Ok(Deleted::Pending(current));
        }
        let metadata = meta::metadata_mut(&mut current);
        metadata.insert("deletionTimestamp".into(), Value::String(self.now()));
        metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
        let new_revision = self
            .storage
            .update(key, meta::to_stored(&current), revision)
            .await?;
        meta::set_resource_version(&mut current, new_revision);
        Ok(Deleted::Pending(current))
    }

    /// deletecollection: every object the selectors match, each deleted as by DELETE (kube
    /// does the same, object by object). Returns the list of what was deleted or marked.
    pub async fn delete_collection(
        &self,
        resource: &'static Resource,
        namespace: &str,
        list_opts: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<ObjectList, Status> {
        opts.validate()?;
        let listed = self.list(resource, namespace, list_opts).await?;
        let mut deleted = ObjectList {
            resource_version: listed.resource_version,
            ..ObjectList::default()
        };
        for object in listed.items {
            let name = meta::meta_str(&object, "name").to_string();
            let object_namespace = meta::meta_str(&object, "namespace").to_string();
            match self.delete(resource, &object_namespace, &name, opts).await {
                Ok(Deleted::Gone(last) | Deleted::Pending(last)) => {
                    let last = kubesim_storage::cacher::SharedObject::new(last);
                    deleted.items.push(std::sync::Arc::new(last));
                }
                // Deleted by someone else meanwhile: what the caller wanted.
                Err(status) if status.code == 404 => {}
                Err(status) => return Err(status),
            }
        }
        Ok(deleted)
    }
}

fn has_finalizers(object: &Value) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty())
}

/// kube's delete preconditions (`rest.BeforeDelete`): 409 Conflict on the kind, "the UID in
/// the precondition (…) does not match the UID in record (…)".
fn check_preconditions(
    resource: &Resource,
    name: &str,
    current: &Value,
    opts: &DeleteOptions,
) -> Result<(), Status> {
    // kube names the kind here, not the resource.
    let kind = GroupResource::new(resource.group, resource.kind);
    if let Some(uid) = &opts.precondition_uid {
        let actual = meta::meta_str(current, "uid");
        if uid != actual {
            return Err(Status::conflict(
                &kind,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record \
                     ({actual}). The object might have been deleted and then recreated"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version {
        let actual = meta::meta_str(current, "resourceVersion");
        if rv != actual {
            return Err(Status::conflict(
                &kind,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the \
                     ResourceVersion in record ({actual}). The object might have been modified"
                ),
            ));
        }
    }
    Ok(())
}
