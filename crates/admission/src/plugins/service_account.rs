//! ServiceAccount (kube's `plugin/pkg/admission/serviceaccount`), mutating and validating, on
//! pods (and their `ephemeralcontainers` subresource).
//!
//! On pod CREATE, in the mutating phase:
//! 1. `spec.serviceAccountName` defaults to `default` (the deprecated `spec.serviceAccount` is
//!    its alias: kube's v1 conversion reads it when the name is empty and writes the name back
//!    into it, so both end up equal);
//! 2. the ServiceAccount must exist: else 403 `error looking up service account ns/name:
//!    serviceaccount "name" not found` (the `default` one is looked up ten times, 100–199 ms
//!    apart, as kube gives the controller that creates it time to do so);
//! 3. unless `automountServiceAccountToken` is false on the pod (or, when the pod does not say,
//!    on the ServiceAccount), the projected volume `kube-api-access-<5 chars>` (token, the
//!    cluster CA, the namespace) is added, and mounted read-only at
//!    `/var/run/secrets/kubernetes.io/serviceaccount` in every init container and container
//!    that has nothing mounted there (ephemeral containers get nothing, as in kube);
//! 4. a pod without `imagePullSecrets` gets the ServiceAccount's.
//!
//! Then, and again in the validating phase: mirror pods (annotation
//! `kubernetes.io/config.mirror`) are left unchanged but may reference no service account, no
//! secret and no token projection; other pods must name an existing ServiceAccount, and when
//! it has `kubernetes.io/enforce-mountable-secrets: "true"`, use only the secrets it lists.
//! On UPDATE the plugin checks only `ephemeralcontainers` (their secret references); that
//! `serviceAccountName` cannot change is pod validation's rule, not this plugin's.
//!
//! The volume's random suffix: kube draws it from a global RNG; kubesim must be reproducible,
//! so the 5 characters (from kube's alphabet) come from an FNV-1a hash of the request's `uid`,
//! and the retry interval from the same hash.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::resources::Resource;
use kubesim_api::status::GroupResource;
use kubesim_api::{Status, fields};
use serde_json::{Map, Value, json};

use super::forbidden_object;
use crate::pointer::JsonPointer;
use crate::{Attributes, ClusterState, Operation, Plugin, Record};

/// `DefaultServiceAccountName`.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// `EnforceMountableSecretsAnnotation`.
pub const ENFORCE_MOUNTABLE_SECRETS: &str = "kubernetes.io/enforce-mountable-secrets";
/// `ServiceAccountVolumeName`: the prefix of the token volume's name.
pub const VOLUME_NAME_PREFIX: &str = "kube-api-access";
/// `DefaultAPITokenMountPath`.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// `MirrorPodAnnotationKey`.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// `WarnOnlyBoundTokenExpirationSeconds`: one hour and 7 s, which the token issuer recognises
/// as the admission-added volume's.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// `ProjectedVolumeSourceDefaultMode` (0644), which kube sets explicitly.
const PROJECTED_DEFAULT_MODE: i64 = 0o644;
/// How often the `default` ServiceAccount is looked up before the pod is refused.
const DEFAULT_ACCOUNT_ATTEMPTS: usize = 10;
/// `names.SimpleNameGenerator`'s alphabet (`utilrand`: no vowels, no 0/1/3).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const NAME_SUFFIX_LEN: usize = 5;

pub struct ServiceAccount {
    state: Arc<dyn ClusterState>,
}

impl ServiceAccount {
    pub fn new(state: Arc<dyn ClusterState>) -> ServiceAccount {
        ServiceAccount { state }
    }

    /// The mutating phase on CREATE.
    async fn admit_pod(&self, attrs: &Attributes, pod: &mut Value) -> Result<(), Status> {
        if is_mirror_pod(pod) {
            return self.validate_create(attrs, pod).await;
        }
        let mut name = service_account_name(pod).to_string();
        if name.is_empty() {
            name = DEFAULT_SERVICE_ACCOUNT.to_string();
        }
        if let Some(spec) = spec_mut(pod) {
            spec.insert("serviceAccountName".into(), json!(name));
            spec.insert("serviceAccount".into(), json!(name));
        }
        let account = self.lookup(attrs, pod, &name).await?;
        if should_automount(&account, pod) {
            mount_token(pod, &attrs.uid);
        }
        copy_image_pull_secrets(&account, pod);
        self.validate_create(attrs, pod).await
    }

    /// What both phases check on CREATE.
    async fn validate_create(&self, attrs: &Attributes, pod: &Value) -> Result<(), Status> {
        if is_mirror_pod(pod) {
            return validate_mirror_pod(pod).map_err(|m| forbidden_object(attrs, Some(pod), m));
        }
        let name = service_account_name(pod);
        if name.is_empty() {
            return Err(no_service_account(attrs, pod));
        }
        let account = self.lookup(attrs, pod, name).await?;
        if enforces_mountable_secrets(&account) {
            limit_secret_references(&account, pod)
                .map_err(|m| forbidden_object(attrs, Some(pod), &m))?;
        }
        Ok(())
    }

    /// UPDATE of `ephemeralcontainers`: their secret references, when the ServiceAccount
    /// enforces mountable secrets.
    async fn validate_ephemeral(&self, attrs: &Attributes, pod: &Value) -> Result<(), Status> {
        let name = service_account_name(pod);
        if name.is_empty() {
            return Err(no_service_account(attrs, pod));
        }
        let account = self.lookup(attrs, pod, name).await?;
        if !enforces_mountable_secrets(&account) {
            return Ok(());
        }
        let mountable = names(&account, "secrets");
        for container in containers(pod, "ephemeralContainers") {
            check_container_secrets(
                container,
                "ephemeral container",
                &mountable,
                &account_name(&account),
            )
            .map_err(|m| forbidden_object(attrs, Some(pod), &m))?;
        }
        Ok(())
    }

    /// The ServiceAccount `name` of the request's namespace, or the 403 kube answers.
    async fn lookup(
        &self,
        attrs: &Attributes,
        pod: &Value,
        name: &str,
    ) -> Result<Arc<Value>, Status> {
        self.get_service_account(attrs, name)
            .await
            .map_err(|error| {
                let message = format!(
                    "error looking up service account {}/{name}: {error}",
                    attrs.namespace
                );
                forbidden_object(attrs, Some(pod), &message)
            })
    }

    /// `getServiceAccount`: the cache, then the store; the `default` account several times,
    /// since its controller may not have created it yet in a new namespace. The error text is
    /// kube's NotFound for `serviceaccount`, or the lookup's own failure.
    async fn get_service_account(
        &self,
        attrs: &Attributes,
        name: &str,
    ) -> Result<Arc<Value>, String> {
        let attempts = if name == DEFAULT_SERVICE_ACCOUNT {
            DEFAULT_ACCOUNT_ATTEMPTS
        } else {
            1
        };
        let interval = retry_interval(&attrs.uid);
        for attempt in 0..attempts {
            if attempt > 0 {
                // No retry outlives the request.
                if attrs.time_left(interval) < interval {
                    break;
                }
                tokio::time::sleep(interval).await;
            }
            match self
                .state
                .get(service_accounts(), &attrs.namespace, name)
                .await
            {
                Ok(Some(account)) => return Ok(account),
                Ok(None) => {}
                Err(status) => return Err(status.message),
            }
        }
        Err(Status::not_found(&GroupResource::new("", "serviceaccount"), name).message)
    }
}

impl Plugin for ServiceAccount {
    fn name(&self) -> &'static str {
        super::SERVICE_ACCOUNT
    }

    /// `shouldIgnore` and the handler's operations: pods and their ephemeral containers,
    /// CREATE and UPDATE.
    fn handles(&self, attrs: &Attributes) -> bool {
        is_pods(attrs.resource)
            && matches!(attrs.subresource.as_str(), "" | "ephemeralcontainers")
            && matches!(attrs.operation, Operation::Create | Operation::Update)
    }

    fn mutates(&self) -> bool {
        true
    }

    fn validates(&self) -> bool {
        true
    }

    fn admit<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a mut Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            // Pods are only changed when created.
            match object {
                Some(pod) if self.handles(attrs) && attrs.operation == Operation::Create => {
                    self.admit_pod(attrs, pod).await
                }
                _ => Ok(()),
            }
        })
    }

    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = object.filter(|_| self.handles(attrs)) else {
                return Ok(());
            };
            match (attrs.operation, attrs.subresource.as_str()) {
                (Operation::Update, "ephemeralcontainers") => {
                    self.validate_ephemeral(attrs, pod).await
                }
                (Operation::Create, _) => self.validate_create(attrs, pod).await,
                _ => Ok(()),
            }
        })
    }
}

fn service_accounts() -> &'static Resource {
    // Invariant: the resource table serves core/v1 serviceaccounts.
    kubesim_api::resources::lookup("", "v1", "serviceaccounts").expect("serviceaccounts are served")
}

fn is_pods(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.plural == "pods"
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.at(pointer).and_then(Value::as_str).unwrap_or("")
}

fn spec_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    pod.as_object_mut()
        .and_then(|pod| fields::get_mut(pod, "spec"))
        .and_then(Value::as_object_mut)
}

/// `spec.serviceAccountName`, or the deprecated `spec.serviceAccount` when the name is empty
/// (kube's v1 → internal conversion).
fn service_account_name(pod: &Value) -> &str {
    let name = str_at(pod, "/spec/serviceAccountName");
    if name.is_empty() {
        str_at(pod, "/spec/serviceAccount")
    } else {
        name
    }
}

fn account_name(account: &Value) -> String {
    str_at(account, "/metadata/name").to_string()
}

fn is_mirror_pod(pod: &Value) -> bool {
    pod.at("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION))
}

fn no_service_account(attrs: &Attributes, pod: &Value) -> Status {
    let message = format!(
        "no service account specified for pod {}/{}",
        attrs.namespace,
        str_at(pod, "/metadata/name")
    );
    forbidden_object(attrs, Some(pod), &message)
}

/// The objects of the list at `spec.<key>`.
fn containers<'a>(pod: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    fields::field(pod, "spec")
        .and_then(|s| fields::field(s, key))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.is_object())
}

/// `.name` of each item of the list at `key` of `object`.
fn names(object: &Value, key: &str) -> Vec<String> {
    object
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| str_at(item, "/name").to_string())
        .collect()
}

/// `shouldAutomount`: the pod's choice, else the ServiceAccount's, else yes.
fn should_automount(account: &Value, pod: &Value) -> bool {
    let pod_choice = pod
        .at("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool);
    let account_choice = account
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool);
    pod_choice.or(account_choice).unwrap_or(true)
}

/// `mountServiceAccountToken`: an existing `kube-api-access-*` volume is reused; otherwise
/// the projected volume is added when some container needs it.
fn mount_token(pod: &mut Value, uid: &str) {
    let existing = fields::field(pod, "spec")
        .and_then(|spec| fields::field(spec, "volumes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| field_str(v, "name"))
        .find(|name| is_token_volume_name(name))
        .map(str::to_string);
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_NAME_PREFIX}-{}", name_suffix(uid)));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let Some(spec) = spec_mut(pod) else {
        return;
    };
    let mut needs_volume = false;
    for key in ["initContainers", "containers"] {
        let list = fields::get_mut(spec, key).and_then(Value::as_array_mut);
        for container in list.into_iter().flatten().filter_map(Value::as_object_mut) {
            needs_volume |= add_mount(container, &mount);
        }
    }
    if existing.is_none() && needs_volume {
        push(spec, "volumes", token_volume(volume_name));
    }
}

/// `kube-api-access-<anything>`: a volume the plugin (or an earlier admission) added.
fn is_token_volume_name(name: &str) -> bool {
    name.strip_prefix(VOLUME_NAME_PREFIX)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// The string at `key` of an object, or "" (absent, not a string, not an object).
fn field_str<'a>(value: &'a Value, key: &str) -> &'a str {
    fields::field(value, key)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Mounts the token in `container` unless something is mounted at its path already.
fn add_mount(container: &mut Map<String, Value>, mount: &Value) -> bool {
    let taken = container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|m| field_str(m, "mountPath") == TOKEN_MOUNT_PATH);
    if !taken {
        push(container, "volumeMounts", mount.clone());
    }
    !taken
}

/// Appends to the list at `key`, making it when absent (or null).
fn push(object: &mut Map<String, Value>, key: &str, item: Value) {
    let list = object.entry(key).or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(list) = list.as_array_mut() {
        list.push(item);
    }
}

/// `TokenVolumeSource`, in the field order kube serializes it. Built once and cloned per pod:
/// a clone copies the maps' tables, where building them hashes every key again.
fn token_volume(name: String) -> Value {
    static TEMPLATE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let mut volume = TEMPLATE
        .get_or_init(|| {
            json!({
                "name": "",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]}}
                    ],
                    "defaultMode": PROJECTED_DEFAULT_MODE
                }
            })
        })
        .clone();
    // Replacing the value keeps "name" first.
    if let Some(slot) = volume.get_mut("name") {
        *slot = Value::String(name);
    }
    volume
}

/// A pod without image pull secrets gets the ServiceAccount's (their names only).
fn copy_image_pull_secrets(account: &Value, pod: &mut Value) {
    let has_own = pod
        .at("/spec/imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    let from_account = names(account, "imagePullSecrets");
    if has_own || from_account.is_empty() {
        return;
    }
    let secrets: Vec<Value> = from_account.iter().map(|n| json!({"name": n})).collect();
    if let Some(spec) = spec_mut(pod) {
        spec.insert("imagePullSecrets".into(), Value::Array(secrets));
    }
}

/// FNV-1a (64 bit) of the request's uid: the deterministic stand-in for kube's RNG.
fn uid_hash(uid: &str) -> u64 {
    uid.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `SimpleNameGenerator`'s 5 characters, drawn from the uid's hash.
fn name_suffix(uid: &str) -> String {
    let mut hash = uid_hash(uid);
    let base = NAME_ALPHABET.len() as u64;
    (0..NAME_SUFFIX_LEN)
        .map(|_| {
            let index = (hash % base) as usize;
            hash /= base;
            char::from(NAME_ALPHABET.get(index).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// kube waits 100 ms plus a random 0–99 ms between lookups of `default`.
fn retry_interval(uid: &str) -> Duration {
    Duration::from_millis(100 + uid_hash(uid).rotate_left(32) % 100)
}

/// `enforceMountableSecrets`: the annotation, read as Go's `strconv.ParseBool` reads it.
fn enforces_mountable_secrets(account: &Value) -> bool {
    let value = account
        .get("metadata")
        .and_then(|meta| meta.get("annotations"))
        .map_or("", |annotations| {
            field_str(annotations, ENFORCE_MOUNTABLE_SECRETS)
        });
    matches!(value, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// `limitSecretReferences`: secret volumes, env and envFrom of init containers and
/// containers, and image pull secrets must be the ServiceAccount's.
fn limit_secret_references(account: &Value, pod: &Value) -> Result<(), String> {
    let mountable = names(account, "secrets");
    let allowed_pull_secrets = names(account, "imagePullSecrets");
    let account = account_name(account);
    let volumes = pod.at("/spec/volumes").and_then(Value::as_array);
    for volume in volumes.into_iter().flatten() {
        let Some(secret) = volume.get("secret") else {
            continue;
        };
        let secret_name = str_at(secret, "/secretName");
        if !mountable.iter().any(|m| m == secret_name) {
            return Err(format!(
                "volume with secret.secretName=\"{secret_name}\" is not allowed because service account {account} does not reference that secret"
            ));
        }
    }
    for container in containers(pod, "initContainers") {
        check_container_secrets(container, "init container", &mountable, &account)?;
    }
    for container in containers(pod, "containers") {
        check_container_secrets(container, "container", &mountable, &account)?;
    }
    let pull_secrets = pod.at("/spec/imagePullSecrets").and_then(Value::as_array);
    for (i, reference) in pull_secrets.into_iter().flatten().enumerate() {
        let name = str_at(reference, "/name");
        if !allowed_pull_secrets.iter().any(|a| a == name) {
            return Err(format!(
                "imagePullSecrets[{i}].name=\"{name}\" is not allowed because service account {account} does not reference that imagePullSecret"
            ));
        }
    }
    Ok(())
}

/// One container's `env[].valueFrom.secretKeyRef` and `envFrom[].secretRef`.
fn check_container_secrets(
    container: &Value,
    what: &str,
    mountable: &[String],
    account: &str,
) -> Result<(), String> {
    let container_name = str_at(container, "/name");
    let env = container.get("env").and_then(Value::as_array);
    for var in env.into_iter().flatten() {
        let Some(reference) = var.at("/valueFrom/secretKeyRef") else {
            continue;
        };
        let secret = str_at(reference, "/name");
        if !mountable.iter().any(|m| m == secret) {
            return Err(format!(
                "{what} {container_name} with envVar {} referencing secret.secretName=\"{secret}\" is not allowed because service account {account} does not reference that secret",
                str_at(var, "/name")
            ));
        }
    }
    let env_from = container.get("envFrom").and_then(Value::as_array);
    for source in env_from.into_iter().flatten() {
        let Some(reference) = source.get("secretRef") else {
            continue;
        };
        let secret = str_at(reference, "/name");
        if !mountable.iter().any(|m| m == secret) {
            return Err(format!(
                "{what} {container_name} with envFrom referencing secret.secretName=\"{secret}\" is not allowed because service account {account} does not reference that secret"
            ));
        }
    }
    Ok(())
}

/// What a mirror pod may not reference.
fn validate_mirror_pod(pod: &Value) -> Result<(), &'static str> {
    if !service_account_name(pod).is_empty() {
        return Err("a mirror pod may not reference service accounts");
    }
    if references_secrets(pod) {
        return Err("a mirror pod may not reference secrets");
    }
    let volumes = pod.at("/spec/volumes").and_then(Value::as_array);
    let token_projection = volumes
        .into_iter()
        .flatten()
        .filter_map(|v| v.at("/projected/sources").and_then(Value::as_array))
        .flatten()
        .any(|source| {
            source
                .get("serviceAccountToken")
                .is_some_and(|t| !t.is_null())
        });
    if token_projection {
        return Err("a mirror pod may not use ServiceAccountToken volume projections");
    }
    Ok(())
}

/// `VisitPodSecretNames` over every container kind: whether the pod names any secret.
fn references_secrets(pod: &Value) -> bool {
    let present = |v: &Value, pointer: &str| v.at(pointer).is_some_and(|x| !x.is_null());
    let pull = pod
        .at("/spec/imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    let in_containers = ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|key| containers(pod, key))
        .any(|c| {
            let env = c.get("env").and_then(Value::as_array).into_iter().flatten();
            let env_from = c
                .get("envFrom")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            env.clone().any(|e| present(e, "/valueFrom/secretKeyRef"))
                || env_from.clone().any(|e| present(e, "/secretRef"))
        });
    let volumes = pod.at("/spec/volumes").and_then(Value::as_array);
    let in_volumes = volumes.into_iter().flatten().any(|v| {
        const REFS: [&str; 10] = [
            "/secret",
            "/cephfs/secretRef",
            "/cinder/secretRef",
            "/flexVolume/secretRef",
            "/rbd/secretRef",
            "/scaleIO/secretRef",
            "/iscsi/secretRef",
            "/storageos/secretRef",
            "/csi/nodePublishSecretRef",
            "/azureFile/secretName",
        ];
        let projected = v
            .at("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|s| present(s, "/secret"));
        projected
            || REFS.iter().any(|r| match v.at(r) {
                Some(Value::String(s)) => !s.is_empty(),
                Some(other) => !other.is_null(),
                None => false,
            })
    });
    pull || in_containers || in_volumes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::namespace_lifecycle::testing::{MemoryState, attrs, resource};
    use super::*;

    const NS: &str = "team";

    fn setup() -> (Arc<MemoryState>, ServiceAccount) {
        let state = MemoryState::new();
        state.put(
            "serviceaccounts",
            NS,
            json!({"metadata": {"name": "default", "namespace": NS}}),
        );
        let plugin = ServiceAccount::new(state.clone());
        (state, plugin)
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS}, "spec": spec})
    }

    fn create() -> Attributes {
        attrs(resource("", "pods"), Operation::Create, NS, "web")
    }

    async fn admit(p: &ServiceAccount, a: &Attributes, pod: &mut Value) -> Result<(), Status> {
        p.admit(a, Some(pod), &Record::default()).await
    }

    async fn validate(p: &ServiceAccount, a: &Attributes, pod: &Value) -> Result<(), Status> {
        p.validate(a, Some(pod), &Record::default()).await
    }

    fn volume_name(uid: &str) -> String {
        format!("kube-api-access-{}", name_suffix(uid))
    }

    #[tokio::test]
    async fn a_pod_gets_the_default_account_and_the_token_volume() {
        let (_, p) = setup();
        let a = create();
        let mut object = pod(json!({
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "emptyDir": {}}]
        }));
        admit(&p, &a, &mut object).await.unwrap();
        let name = volume_name(&a.uid);
        let mount = json!({"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"});
        assert_eq!(
            object["spec"],
            json!({
                "initContainers": [{"name": "init", "image": "busybox", "volumeMounts": [mount]}],
                "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}, mount]}],
                "volumes": [
                    {"name": "data", "emptyDir": {}},
                    {"name": name, "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                        ],
                        "defaultMode": 420
                    }}
                ],
                "serviceAccountName": "default",
                "serviceAccount": "default"
            })
        );
        // Value equality ignores order; kube serializes the volume's name first.
        let keys: Vec<&String> = object["spec"]["volumes"][1]
            .as_object()
            .map(|volume| volume.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["name", "projected"]);
    }

    #[test]
    fn the_volume_suffix_comes_from_the_request_uid() {
        let suffix = name_suffix("705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(suffix, name_suffix("705ab4f5-6393-11e8-b7cc-42010a800002"));
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix.bytes().all(|b| NAME_ALPHABET.contains(&b)),
            "{suffix}"
        );
        assert_ne!(suffix, name_suffix("another-request"));
        let interval = retry_interval("x");
        assert!(interval >= Duration::from_millis(100) && interval < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn ephemeral_containers_get_no_mount() {
        let (_, p) = setup();
        let mut object = pod(json!({
            "containers": [{"name": "app"}],
            "ephemeralContainers": [{"name": "debug"}]
        }));
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(
            object["spec"]["ephemeralContainers"],
            json!([{"name": "debug"}])
        );
    }

    #[tokio::test]
    async fn a_missing_account_is_refused() {
        let (_, p) = setup();
        let mut object =
            pod(json!({"serviceAccountName": "builder", "containers": [{"name": "app"}]}));
        let status = admit(&p, &create(), &mut object).await.unwrap_err();
        assert_eq!(status.code, 403);
        assert_eq!(status.reason, "Forbidden");
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: error looking up service account team/builder: serviceaccount "builder" not found"#
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_default_account_is_waited_for_then_refused() {
        let state = MemoryState::new();
        let p = ServiceAccount::new(state.clone());
        let mut object = pod(json!({"containers": [{"name": "app"}]}));
        let started = tokio::time::Instant::now();
        let status = admit(&p, &create(), &mut object).await.unwrap_err();
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: error looking up service account team/default: serviceaccount "default" not found"#
        );
        assert_eq!(started.elapsed(), retry_interval(&create().uid) * 9);
    }

    #[tokio::test(start_paused = true)]
    async fn the_retries_stop_at_the_request_deadline() {
        let state = MemoryState::new();
        let p = ServiceAccount::new(state.clone());
        let mut a = create();
        a.deadline = Some(tokio::time::Instant::now() + Duration::from_millis(250));
        let started = tokio::time::Instant::now();
        let mut object = pod(json!({"containers": [{"name": "app"}]}));
        assert!(admit(&p, &a, &mut object).await.is_err());
        assert!(started.elapsed() <= Duration::from_millis(250));
    }

    #[tokio::test]
    async fn the_deprecated_field_names_the_account() {
        let (state, p) = setup();
        state.put("serviceaccounts", NS, json!({"metadata": {"name": "old"}}));
        let mut object = pod(json!({"serviceAccount": "old", "containers": [{"name": "app"}]}));
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(object["spec"]["serviceAccountName"], "old");
        assert_eq!(object["spec"]["serviceAccount"], "old");
        // serviceAccountName wins over the alias, which is rewritten to match.
        let mut object = pod(
            json!({"serviceAccountName": "default", "serviceAccount": "old", "containers": []}),
        );
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(object["spec"]["serviceAccount"], "default");
    }

    #[tokio::test]
    async fn automount_false_on_the_pod_or_the_account_mounts_nothing() {
        let (state, p) = setup();
        let mut object =
            pod(json!({"automountServiceAccountToken": false, "containers": [{"name": "app"}]}));
        admit(&p, &create(), &mut object).await.unwrap();
        assert!(object["spec"].get("volumes").is_none());
        assert!(
            object["spec"]["containers"][0]
                .get("volumeMounts")
                .is_none()
        );

        state.put(
            "serviceaccounts",
            NS,
            json!({"metadata": {"name": "quiet"}, "automountServiceAccountToken": false}),
        );
        let mut object =
            pod(json!({"serviceAccountName": "quiet", "containers": [{"name": "app"}]}));
        admit(&p, &create(), &mut object).await.unwrap();
        assert!(object["spec"].get("volumes").is_none());

        // The pod's choice wins over the account's.
        let mut object = pod(
            json!({"serviceAccountName": "quiet", "automountServiceAccountToken": true, "containers": [{"name": "app"}]}),
        );
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(object["spec"]["volumes"].as_array().map(Vec::len), Some(1));
    }

    #[tokio::test]
    async fn existing_mounts_and_volumes_are_kept() {
        let (_, p) = setup();
        let own =
            json!({"name": "mine", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"});
        let mut object = pod(json!({
            "containers": [{"name": "a", "volumeMounts": [own]}, {"name": "b"}],
            "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": []}}]
        }));
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(
            object["spec"]["containers"][0]["volumeMounts"],
            json!([own])
        );
        assert_eq!(
            object["spec"]["containers"][1]["volumeMounts"],
            json!([{"name": "kube-api-access-abcde", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
        );
        assert_eq!(object["spec"]["volumes"].as_array().map(Vec::len), Some(1));

        // No container needs it: no volume.
        let mut object = pod(json!({"containers": [{"name": "a", "volumeMounts": [own]}]}));
        admit(&p, &create(), &mut object).await.unwrap();
        assert!(object["spec"].get("volumes").is_none());
    }

    #[tokio::test]
    async fn the_accounts_pull_secrets_are_copied_when_the_pod_has_none() {
        let (state, p) = setup();
        state.put(
            "serviceaccounts",
            NS,
            json!({"metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "reg1"}, {"name": "reg2"}]}),
        );
        let mut object = pod(json!({"serviceAccountName": "puller", "containers": []}));
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(
            object["spec"]["imagePullSecrets"],
            json!([{"name": "reg1"}, {"name": "reg2"}])
        );
        let mut object = pod(
            json!({"serviceAccountName": "puller", "imagePullSecrets": [{"name": "own"}], "containers": []}),
        );
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(object["spec"]["imagePullSecrets"], json!([{"name": "own"}]));
    }

    fn mirror(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "annotations": {"kubernetes.io/config.mirror": "x"}}, "spec": spec})
    }

    #[tokio::test]
    async fn mirror_pods_are_left_alone_and_may_not_reference_accounts_or_secrets() {
        let state = MemoryState::new();
        let p = ServiceAccount::new(state.clone());
        let mut object = mirror(json!({"containers": [{"name": "app"}]}));
        let before = object.clone();
        admit(&p, &create(), &mut object).await.unwrap();
        assert_eq!(object, before);

        let cases = [
            (
                json!({"serviceAccountName": "default"}),
                "a mirror pod may not reference service accounts",
            ),
            (
                json!({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}),
                "a mirror pod may not reference secrets",
            ),
            (
                json!({"containers": [{"name": "c", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}]}]}),
                "a mirror pod may not reference secrets",
            ),
            (
                json!({"volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]}),
                "a mirror pod may not use ServiceAccountToken volume projections",
            ),
        ];
        for (spec, message) in cases {
            let mut object = mirror(spec);
            let status = admit(&p, &create(), &mut object).await.unwrap_err();
            assert_eq!(
                status.message,
                format!(r#"pods "web" is forbidden: {message}"#)
            );
            let status = validate(&p, &create(), &object).await.unwrap_err();
            assert_eq!(
                status.message,
                format!(r#"pods "web" is forbidden: {message}"#)
            );
        }
    }

    #[tokio::test]
    async fn validation_wants_an_account_that_exists() {
        let (_, p) = setup();
        let object = pod(json!({"containers": []}));
        let status = validate(&p, &create(), &object).await.unwrap_err();
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: no service account specified for pod team/web"#
        );
        let object = pod(json!({"serviceAccountName": "gone", "containers": []}));
        let status = validate(&p, &create(), &object).await.unwrap_err();
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: error looking up service account team/gone: serviceaccount "gone" not found"#
        );
        let object = pod(json!({"serviceAccountName": "default", "containers": []}));
        assert!(validate(&p, &create(), &object).await.is_ok());
    }

    #[tokio::test]
    async fn enforced_mountable_secrets_limit_what_the_pod_references() {
        let (state, p) = setup();
        state.put(
            "serviceaccounts",
            NS,
            json!({
                "metadata": {"name": "strict", "annotations": {"kubernetes.io/enforce-mountable-secrets": "true"}},
                "secrets": [{"name": "ok"}],
                "imagePullSecrets": [{"name": "reg"}]
            }),
        );
        let spec = |extra: Value| {
            let mut spec = json!({"serviceAccountName": "strict", "containers": [{"name": "app"}]});
            if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
                s.extend(e.clone());
            }
            pod(spec)
        };
        let cases = [
            (
                json!({"volumes": [{"name": "v", "secret": {"secretName": "nope"}}]}),
                r#"volume with secret.secretName="nope" is not allowed because service account strict does not reference that secret"#,
            ),
            (
                json!({"initContainers": [{"name": "i", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}]}),
                r#"init container i with envVar E referencing secret.secretName="nope" is not allowed because service account strict does not reference that secret"#,
            ),
            (
                json!({"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "nope"}}]}]}),
                r#"container app with envFrom referencing secret.secretName="nope" is not allowed because service account strict does not reference that secret"#,
            ),
            (
                json!({"imagePullSecrets": [{"name": "reg"}, {"name": "other"}]}),
                r#"imagePullSecrets[1].name="other" is not allowed because service account strict does not reference that imagePullSecret"#,
            ),
        ];
        for (extra, message) in cases {
            let status = validate(&p, &create(), &spec(extra)).await.unwrap_err();
            assert_eq!(
                status.message,
                format!(r#"pods "web" is forbidden: {message}"#)
            );
        }
        let fine = spec(
            json!({"volumes": [{"name": "v", "secret": {"secretName": "ok"}}], "imagePullSecrets": [{"name": "reg"}]}),
        );
        assert!(validate(&p, &create(), &fine).await.is_ok());
    }

    #[tokio::test]
    async fn updates_check_only_ephemeral_containers() {
        let (state, p) = setup();
        state.put(
            "serviceaccounts",
            NS,
            json!({"metadata": {"name": "strict", "annotations": {"kubernetes.io/enforce-mountable-secrets": "1"}}}),
        );
        let mut update = attrs(resource("", "pods"), Operation::Update, NS, "web");
        let mut object = pod(json!({"serviceAccountName": "gone", "containers": []}));
        assert!(admit(&p, &update, &mut object).await.is_ok());
        assert_eq!(
            object["spec"]["serviceAccountName"], "gone",
            "not changed on update"
        );
        assert!(validate(&p, &update, &object).await.is_ok());

        update.subresource = "ephemeralcontainers".into();
        let object = pod(json!({
            "serviceAccountName": "strict",
            "ephemeralContainers": [{"name": "debug", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]
        }));
        let status = validate(&p, &update, &object).await.unwrap_err();
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: ephemeral container debug with envVar T referencing secret.secretName="s" is not allowed because service account strict does not reference that secret"#
        );
        let object = pod(json!({"ephemeralContainers": []}));
        let status = validate(&p, &update, &object).await.unwrap_err();
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: no service account specified for pod team/web"#
        );
    }

    #[test]
    fn handles_pods_and_their_ephemeral_containers() {
        let (_, p) = setup();
        let mut a = create();
        assert!(p.handles(&a));
        a.subresource = "status".into();
        assert!(!p.handles(&a));
        a.subresource = "ephemeralcontainers".into();
        a.operation = Operation::Update;
        assert!(p.handles(&a));
        a.operation = Operation::Delete;
        assert!(!p.handles(&a));
        let cm = attrs(resource("", "configmaps"), Operation::Create, NS, "c");
        assert!(!p.handles(&cm));
        assert!(p.mutates() && p.validates());
    }
}
