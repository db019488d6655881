//! `metadata.managedFields`: who owns which field, kept on every write as kube's field
//! manager keeps it, and server-side apply (`application/apply-patch+yaml`) decided from it.
//!
//! - A create, update or patch by manager M: the fields whose value it set or changed
//!   become M's (operation `Update`), and stop being anyone else's; fields that no longer
//!   exist stop being anyone's.
//! - An apply by M of configuration C: every field C sets that another manager owns with a
//!   different value is a conflict (409 `Apply failed with N conflicts`) unless `force=true`,
//!   which takes them. Fields M applied before and C no longer sets are removed from the
//!   object unless someone else owns them. C is merged into the object as a strategic merge
//!   patch, and M's `Apply` entry becomes exactly C's fields.
//!
//! Simplifications (said, not hidden): field sets come from the strategic merge patch keys,
//! not from the OpenAPI schema's list types; a conflict compares values with JSON equality.

use kubesim_api::Status;
use kubesim_api::patch;
use kubesim_api::resources::Resource;
use kubesim_api::status::{StatusCause, StatusDetails, reason};
use serde_json::{Value, json};

use super::fieldset::{self, FieldSet};
use super::meta;

/// Which kind of write a managedFields entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operation {
    #[default]
    Update,
    Apply,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Update => "Update",
            Operation::Apply => "Apply",
        }
    }
}

/// One `managedFields` entry, its set parsed.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: Operation, subresource: &str) -> bool {
        self.manager == manager
            && self.operation == operation.as_str()
            && self.subresource == subresource
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
        });
        // Moved in, not through `json!`, which would copy it through a serializer.
        entry["fieldsV1"] = fieldset::to_fields_v1(&self.fields);
        if !self.subresource.is_empty() {
            entry["subresource"] = Value::String(self.subresource.clone());
        }
        entry
    }
}

fn entries(object: &Value) -> Vec<Entry> {
    let list = object
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array);
    let text = |entry: &Value, key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    list.into_iter()
        .flatten()
        .map(|entry| Entry {
            manager: text(entry, "manager"),
            operation: text(entry, "operation"),
            api_version: text(entry, "apiVersion"),
            time: text(entry, "time"),
            subresource: text(entry, "subresource"),
            fields: entry
                .get("fieldsV1")
                .map(fieldset::from_fields_v1)
                .unwrap_or_default(),
        })
        .collect()
}

fn store_entries(object: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    let metadata = meta::metadata_mut(object);
    if list.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(list));
    }
}

/// Who is writing, and how.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub now: &'a str,
}

/// managedFields after a create (`old` None) or a non-apply write of `object` over `old`.
pub fn record_update(
    resource: &Resource,
    object: &mut Value,
    old: Option<&Value>,
    writer: Writer<'_>,
    operation: Operation,
) {
    let status_only = writer.subresource == "status";
    let Some(old) = old else {
        return record_create(resource, object, writer, operation);
    };
    let present = fieldset::fields_of(resource, object, status_only);
    let changed: FieldSet = present
        .into_iter()
        .filter(|path| changed_at(object, old, path))
        .collect();
    let mut list = entries(old);
    for entry in &mut list {
        entry
            .fields
            .retain(|path| fieldset::value_at(object, path).is_some() && !changed.contains(path));
    }
    if !changed.is_empty() {
        match list
            .iter_mut()
            .find(|e| e.is(writer.manager, operation, writer.subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = writer.now.to_string();
                entry.api_version = writer.api_version.to_string();
            }
            None => list.push(Entry {
                manager: writer.manager.to_string(),
                operation: operation.as_str().to_string(),
                api_version: writer.api_version.to_string(),
                time: writer.now.to_string(),
                subresource: writer.subresource.to_string(),
                fields: changed,
            }),
        }
    }
    store_entries(object, list);
}

/// A create's managedFields: every field is the writer's, one entry ([`created_json`]).
fn record_create(
    resource: &Resource,
    object: &mut Value,
    writer: Writer<'_>,
    operation: Operation,
) {
    let entry = created_json(resource, object, writer, operation);
    set_created(object, entry.as_deref());
}

/// Puts a create's managedFields ([`created_json`]) into `object`; with none (the writer
/// owns nothing), the object has none.
pub fn set_created(object: &mut Value, entry: Option<&[u8]>) {
    // Invariant: `created_json` writes a JSON array.
    let list = entry.and_then(|json| serde_json::from_slice::<Value>(json).ok());
    let metadata = meta::metadata_mut(object);
    match list {
        Some(list) => {
            metadata.insert("managedFields".into(), list);
        }
        None => {
            metadata.shift_remove("managedFields");
        }
    }
}

/// A create's managedFields as JSON (`[{"manager":..,"fieldsV1":{..}}]`), for the stored
/// bytes: what [`record_update`] with no old object puts into the object, serialized, but
/// written straight from the object ([`fieldset::write_fields_v1`]). `None` when the
/// writer owns nothing (then the object has no managedFields).
pub fn created_json(
    resource: &Resource,
    object: &Value,
    writer: Writer<'_>,
    operation: Operation,
) -> Option<Vec<u8>> {
    let status_only = writer.subresource == "status";
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"[{");
    let text = |name: &str, value: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(name.as_bytes());
        // Invariant: a string always serializes into a Vec.
        serde_json::to_writer(&mut *out, value).expect("a string serializes");
        out.push(b',');
    };
    text("\"manager\":", writer.manager, &mut out);
    text("\"operation\":", operation.as_str(), &mut out);
    text("\"apiVersion\":", writer.api_version, &mut out);
    text("\"time\":", writer.now, &mut out);
    out.extend_from_slice(b"\"fieldsType\":\"FieldsV1\",\"fieldsV1\":");
    if !fieldset::write_fields_v1(resource, object, status_only, &mut out) {
        return None;
    }
    if !writer.subresource.is_empty() {
        out.push(b',');
        out.extend_from_slice(b"\"subresource\":");
        serde_json::to_writer(&mut out, writer.subresource).expect("a string serializes");
    }
    out.extend_from_slice(b"}]");
    Some(out)
}

/// Whether a write changed the field at `path`. A `.` path (a map, a list item) is the
/// container's existence, which a change inside it does not change.
fn changed_at(new: &Value, old: &Value, path: &[String]) -> bool {
    match path.split_last() {
        Some((last, parent)) if last == "." => fieldset::value_at(old, parent).is_none(),
        _ => fieldset::value_at(new, path) != fieldset::value_at(old, path),
    }
}

/// Server-side apply of `config` over `live`: the new object with its managedFields, or the
/// 409 of the conflicts.
pub fn apply(
    resource: &Resource,
    name: &str,
    live: &Value,
    config: &Value,
    writer: Writer<'_>,
    force: bool,
) -> Result<Value, Status> {
    let applied = fieldset::fields_of(resource, config, false);
    let mut list = entries(live);
    let mine = |e: &Entry| e.is(writer.manager, Operation::Apply, "");
    let mut conflicts: Vec<(String, String, Vec<String>)> = Vec::new();
    for entry in list.iter().filter(|e| !mine(e)) {
        for path in entry.fields.intersection(&applied) {
            let leaf = path.last().is_some_and(|step| step != ".");
            if leaf && fieldset::value_at(live, path) != fieldset::value_at(config, path) {
                conflicts.push((
                    entry.manager.clone(),
                    entry.api_version.clone(),
                    path.clone(),
                ));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_status(&conflicts));
        }
        for entry in list.iter_mut().filter(|e| !mine(e)) {
            entry
                .fields
                .retain(|path| !conflicts.iter().any(|(_, _, p)| p == path));
        }
    }
    let body = serde_json::to_vec(config).unwrap_or_default();
    let mut merged = patch::apply_strategic_merge_patch(resource, live, &body)
        .map_err(|error| error.to_status(resource, name))?;
    let previous: FieldSet = list
        .iter()
        .filter(|e| mine(e))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    for path in previous.difference(&applied) {
        let owned_elsewhere = list
            .iter()
            .filter(|e| !mine(e))
            .any(|e| e.fields.contains(path));
        if !owned_elsewhere {
            fieldset::remove_at(&mut merged, path);
        }
    }
    list.retain(|e| !mine(e));
    list.push(Entry {
        manager: writer.manager.to_string(),
        operation: Operation::Apply.as_str().to_string(),
        api_version: writer.api_version.to_string(),
        time: writer.now.to_string(),
        subresource: String::new(),
        fields: applied,
    });
    store_entries(&mut merged, list);
    Ok(merged)
}

/// kube's 409 for apply conflicts (`NewApplyConflict`: one cause per field, no name or
/// kind), worded as structured-merge-diff words them: `Apply failed with 1 conflict: conflict
/// with "m" using v1: .data.a`, or for several, per manager `conflicts with "m" using v1:`
/// and one `- .path` line per field.
fn conflict_status(conflicts: &[(String, String, Vec<String>)]) -> Status {
    let who = |manager: &str, version: &str| {
        format!("{} using {version}", kubesim_api::status::go_quote(manager))
    };
    let causes: Vec<StatusCause> = conflicts
        .iter()
        .map(|(manager, version, path)| StatusCause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {}", who(manager, version)),
            field: fieldset::display(path),
        })
        .collect();
    let text = match conflicts {
        [(manager, version, path)] => {
            format!(
                "conflict with {}: {}",
                who(manager, version),
                fieldset::display(path)
            )
        }
        _ => {
            let mut managers: Vec<(&String, &String)> =
                conflicts.iter().map(|(m, v, _)| (m, v)).collect();
            managers.sort();
            managers.dedup();
            let mut lines = Vec::new();
            for (manager, version) in managers {
                lines.push(format!("conflicts with {}:", who(manager, version)));
                for (_, _, path) in conflicts.iter().filter(|(m, _, _)| m == manager) {
                    lines.push(format!("- {}", fieldset::display(path)));
                }
            }
            lines.join("\n")
        }
    };
    let plural = if conflicts.len() == 1 { "" } else { "s" };
    let message = format!(
        "Apply failed with {} conflict{plural}: {text}",
        conflicts.len()
    );
    let mut status = Status::failure(409, reason::CONFLICT, message);
    status.details = Some(StatusDetails {
        causes,
        ..StatusDetails::default()
    });
    status
}

/// An object's `metadata.managedFields` as a map from manager to its entries' fields, for
/// tests and debugging.
#[cfg(test)]
fn owners(object: &Value) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for entry in entries(object) {
        map.insert(
            format!("{}/{}", entry.manager, entry.operation),
            fieldset::to_fields_v1(&entry.fields),
        );
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configmaps() -> &'static Resource {
        kubesim_api::resources::lookup("", "v1", "configmaps").unwrap()
    }

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "v1",
            subresource: "",
            now: "t",
        }
    }

    /// `kubesim bench api`'s pod as a create records it: defaulted, with the ServiceAccount
    /// plugin's token volume and mount, plus a finalizer and an owner as a ReplicaSet's pods
    /// have. (Field order does not matter: FieldsV1 is sorted.)
    fn bench_pod() -> Value {
        let mut pod =
            kubesim_api::workload::bench_pod("bench", "bench-a1b2c3d4-0000042", "a1b2c3d4");
        let metadata = &mut pod["metadata"];
        metadata["uid"] = json!("u-1");
        metadata["creationTimestamp"] = json!("t");
        metadata["finalizers"] = json!(["example.com/keep"]);
        metadata["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "bench-web-7d9c5b8f6d", "uid": "rs-1", "controller": true,
            "blockOwnerDeletion": true}]);
        let spec = &mut pod["spec"];
        spec["serviceAccountName"] = json!("default");
        spec["serviceAccount"] = json!("default");
        push(
            &mut spec["containers"][0]["volumeMounts"],
            json!({"name": "kube-api-access-x2b4c",
            "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}),
        );
        push(
            &mut spec["volumes"],
            json!({"name": "kube-api-access-x2b4c",
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef":
                    {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]}}),
        );
        kubesim_api::defaults::apply_defaults(resource("pods"), &mut pod);
        pod
    }

    fn push(list: &mut Value, item: Value) {
        list.as_array_mut().expect("a list").push(item);
    }

    fn resource(plural: &str) -> &'static Resource {
        kubesim_api::resources::lookup("", "v1", plural)
            .or_else(|| kubesim_api::resources::lookup("apps", "v1", plural))
            .unwrap()
    }

    fn deployment() -> Value {
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "bench", "generation": 1,
                "labels": {"app": "web"}},
            "spec": {"replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "web", "image": "nginx:1.25",
                            "ports": [{"containerPort": 80}, {"containerPort": 443}],
                            "args": ["--a", "--b"]},
                        {"name": "log", "image": "busybox", "command": ["tail", "-f"]}],
                        "initContainers": [{"name": "init", "image": "busybox"}]}}}});
        kubesim_api::defaults::apply_defaults(resource("deployments"), &mut deployment);
        deployment
    }

    fn config_map() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "bench", "labels": {"b": "2", "a": "1"},
                "annotations": {"z": "", "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"zeta": "1", "alpha": "2", "m.n": "3"}, "binaryData": {"k": "AA=="}})
    }

    /// Pins, byte for byte, what a create records (computed with the code of run 17, before
    /// fieldsV1 were built in their final order and later written as JSON): the managedFields entry, at the end of
    /// metadata, and the object otherwise unchanged.
    #[test]
    fn a_create_records_exactly_these_managed_fields() {
        let cases = [
            (bench_pod(), "pods", POD_FIELDS),
            (deployment(), "deployments", DEPLOYMENT_FIELDS),
            (config_map(), "configmaps", CONFIG_MAP_FIELDS),
        ];
        for (object, plural, expected) in cases {
            let mut created = object.clone();
            record_update(
                resource(plural),
                &mut created,
                None,
                writer("kubectl-create"),
                Operation::Update,
            );
            let fields = serde_json::to_string(&created["metadata"]["managedFields"]).unwrap();
            assert_eq!(fields, expected, "{plural}");
            let mut without = created.clone();
            meta::metadata_mut(&mut without).shift_remove("managedFields");
            assert_eq!(
                serde_json::to_string(&without).unwrap(),
                serde_json::to_string(&object).unwrap()
            );
            let keys: Vec<&String> = created["metadata"].as_object().unwrap().keys().collect();
            assert_eq!(keys.last().unwrap().as_str(), "managedFields");
        }
    }

    #[test]
    fn updates_take_the_fields_they_change() {
        let mut created = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        record_update(
            configmaps(),
            &mut created,
            None,
            writer("kubectl-create"),
            Operation::Update,
        );
        let mut labeled = created.clone();
        labeled["metadata"]["labels"] = json!({"x": "y"});
        labeled["data"]["a"] = json!("9");
        record_update(
            configmaps(),
            &mut labeled,
            Some(&created),
            writer("kubectl-edit"),
            Operation::Update,
        );
        assert_eq!(
            Value::Object(owners(&labeled)),
            json!({"kubectl-create/Update": {"f:data": {".": {}, "f:b": {}}},
                "kubectl-edit/Update": {"f:data": {"f:a": {}},
                    "f:metadata": {"f:labels": {".": {}, "f:x": {}}}}})
        );
    }

    #[test]
    fn apply_conflicts_unless_forced_and_removes_what_it_stopped_applying() {
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"a": "1", "b": "2"}});
        let live = apply(
            configmaps(),
            "c",
            &json!({}),
            &config,
            writer("kubectl"),
            false,
        )
        .unwrap();
        assert_eq!(live["data"], json!({"a": "1", "b": "2"}));
        let mut edited = live.clone();
        edited["data"]["a"] = json!("edited");
        record_update(
            configmaps(),
            &mut edited,
            Some(&live),
            writer("kubectl-edit"),
            Operation::Update,
        );
        let error = apply(
            configmaps(),
            "c",
            &edited,
            &config,
            writer("kubectl"),
            false,
        )
        .unwrap_err();
        assert_eq!(error.code, 409);
        assert_eq!(
            error.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.a"
        );
        let smaller = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"a": "1"}});
        let forced = apply(
            configmaps(),
            "c",
            &edited,
            &smaller,
            writer("kubectl"),
            true,
        )
        .unwrap();
        assert_eq!(forced["data"], json!({"a": "1"}));
        assert_eq!(
            Value::Object(owners(&forced)),
            json!({"kubectl/Apply": {"f:data": {".": {}, "f:a": {}}}})
        );
    }

    const POD_FIELDS: &str = r#"[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"t","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:kubesim.io/bench-run":{}},"f:finalizers":{"v:\"example.com/keep\"":{}},"f:labels":{".":{},"f:app.kubernetes.io/component":{},"f:app.kubernetes.io/name":{},"f:pod-template-hash":{}},"f:ownerReferences":{"k:{\"uid\":\"rs-1\"}":{".":{},"f:apiVersion":{},"f:blockOwnerDeletion":{},"f:controller":{},"f:kind":{},"f:name":{},"f:uid":{}}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:env":{"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_NAME\"}":{".":{},"f:name":{},"f:valueFrom":{"f:fieldRef":{"f:apiVersion":{},"f:fieldPath":{}}}}},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8080}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{"f:failureThreshold":{},"f:httpGet":{"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:resources":{"f:limits":{".":{},"f:cpu":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{},"f:volumeMounts":{"k:{\"mountPath\":\"/etc/bench-web\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}},"k:{\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}}}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:nodeSelector":{".":{},"f:kubernetes.io/os":{}},"f:preemptionPolicy":{},"f:priority":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:serviceAccount":{},"f:serviceAccountName":{},"f:terminationGracePeriodSeconds":{},"f:tolerations":{},"f:volumes":{"k:{\"name\":\"config\"}":{".":{},"f:configMap":{"f:defaultMode":{},"f:name":{}},"f:name":{}},"k:{\"name\":\"kube-api-access-x2b4c\"}":{".":{},"f:name":{},"f:projected":{"f:defaultMode":{},"f:sources":{}}}}}}}]"#;
    const DEPLOYMENT_FIELDS: &str = r#"[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"t","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{"f:matchLabels":{".":{},"f:app":{}}},"f:strategy":{"f:rollingUpdate":{"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"log\"}":{".":{},"f:command":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}},"k:{\"name\":\"web\"}":{".":{},"f:args":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{"k:{\"containerPort\":443}":{".":{},"f:containerPort":{},"f:protocol":{}},"k:{\"containerPort\":80}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:initContainers":{"k:{\"name\":\"init\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}}]"#;
    const CONFIG_MAP_FIELDS: &str = r#"[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"t","fieldsType":"FieldsV1","fieldsV1":{"f:binaryData":{".":{},"f:k":{}},"f:data":{".":{},"f:alpha":{},"f:m.n":{},"f:zeta":{}},"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{},"f:z":{}},"f:labels":{".":{},"f:a":{},"f:b":{}}}}}]"#;
}
