//! The quota plugin and controller against a fake [`ClusterState`]: usage arithmetic, kube's
//! refusals word for word, the conditional write and its retries, and the controller's
//! recomputation.

use std::sync::{Mutex, MutexGuard};

use super::*;

// ---------------------------------------------------------------------------------------------
// A fake cluster

type Key = (String, String, String);

/// Objects by (plural, namespace, name) with a revision each, as the store keeps them.
#[derive(Default)]
struct FakeState {
    objects: Mutex<BTreeMap<Key, (Value, i64)>>,
    revision: Mutex<i64>,
    /// Writes that lose a race: before an update is answered, the next of these replaces the
    /// quota (another request charged it first) and the update reports a conflict.
    interlopers: Mutex<Vec<Value>>,
    /// Successful updates.
    writes: Mutex<usize>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn key_of(plural: &str, object: &Value) -> Key {
    (
        plural.to_string(),
        object_namespace(object).to_string(),
        object_name(object).to_string(),
    )
}

impl FakeState {
    fn new(objects: &[(&str, Value)]) -> Arc<FakeState> {
        let state = FakeState::default();
        for (plural, object) in objects {
            state.put(plural, object.clone());
        }
        Arc::new(state)
    }

    fn put(&self, plural: &str, object: Value) {
        let mut revision = lock(&self.revision);
        *revision += 1;
        lock(&self.objects).insert(key_of(plural, &object), (object, *revision));
    }

    fn remove(&self, plural: &str, namespace: &str, name: &str) {
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        lock(&self.objects).remove(&key);
    }

    fn stored(&self, plural: &str, name: &str) -> Value {
        let key = (plural.to_string(), "ns".to_string(), name.to_string());
        lock(&self.objects)
            .get(&key)
            .map(|(object, _)| object.clone())
            .unwrap_or(Value::Null)
    }

    fn writes(&self) -> usize {
        *lock(&self.writes)
    }
}

impl ClusterState for FakeState {
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
        Box::pin(async move {
            let key = (
                resource.plural.to_string(),
                namespace.to_string(),
                name.to_string(),
            );
            Ok(lock(&self.objects)
                .get(&key)
                .map(|(object, _)| Arc::new(object.clone())))
        })
    }

    fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
    ) -> Result<(Vec<Arc<Value>>, i64), Status> {
        let objects = lock(&self.objects)
            .iter()
            .filter(|((plural, ns, _), _)| {
                plural == resource.plural && (namespace.is_empty() || ns == namespace)
            })
            .map(|(_, (object, _))| Arc::new(object.clone()))
            .collect();
        Ok((objects, *lock(&self.revision)))
    }

    fn read<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
        Box::pin(async move {
            let key = (
                resource.plural.to_string(),
                namespace.to_string(),
                name.to_string(),
            );
            Ok(lock(&self.objects).get(&key).cloned())
        })
    }

    fn update<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
        object: Value,
        revision: i64,
    ) -> BoxFuture<'a, Result<bool, Status>> {
        Box::pin(async move {
            let interloper = lock(&self.interlopers).pop();
            if let Some(first) = interloper {
                self.put(resource.plural, first);
                return Ok(false);
            }
            let key = (
                resource.plural.to_string(),
                namespace.to_string(),
                name.to_string(),
            );
            let current = lock(&self.objects).get(&key).map(|(_, r)| *r);
            if current != Some(revision) {
                return Ok(false);
            }
            self.put(resource.plural, object);
            *lock(&self.writes) += 1;
            Ok(true)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Objects

fn resource(group: &str, plural: &str) -> &'static Resource {
    resources::lookup(group, "v1", plural).expect("served")
}

/// A quota whose status the controller has filled in.
fn quota(name: &str, hard: Value, used: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota",
           "metadata": {"name": name, "namespace": "ns"},
           "spec": {"hard": hard.clone()},
           "status": {"hard": hard, "used": used}})
}

fn container(name: &str, requests: Value, limits: Value) -> Value {
    json!({"name": name, "image": "nginx", "resources": {"requests": requests, "limits": limits}})
}

fn pod(name: &str, containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
           "spec": {"containers": containers}})
}

fn cpu_pod(name: &str, cpu: &str) -> Value {
    pod(
        name,
        json!([container("web", json!({"cpu": cpu}), json!({}))]),
    )
}

fn named(plural: &str, name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "ns"}, "kind": plural})
}

fn attrs(resource: &'static Resource, operation: Operation, old: Option<Value>) -> Attributes {
    Attributes {
        resource,
        subresource: String::new(),
        operation,
        namespace: "ns".into(),
        name: String::new(),
        user: Attributes::loopback_user(),
        dry_run: false,
        options: Value::Null,
        old_object: old,
        deadline: None,
        uid: "uid".into(),
    }
}

fn plugin(state: &Arc<FakeState>) -> ResourceQuota {
    let state: Arc<dyn ClusterState> = state.clone();
    ResourceQuota::new(state, None).expect("no configuration")
}

async fn create(plugin: &ResourceQuota, plural: &str, object: &Value) -> Result<(), Status> {
    let attrs = attrs(resource("", plural), Operation::Create, None);
    plugin.validate(&attrs, Some(object), &Record::new()).await
}

fn used(state: &FakeState, name: &str) -> Value {
    state.stored("resourcequotas", name)["status"]["used"].clone()
}

fn message(result: Result<(), Status>) -> (u16, String, String) {
    match result {
        Ok(()) => (200, String::new(), String::new()),
        Err(status) => (status.code, status.reason, status.message),
    }
}

fn forbidden(message: &str) -> (u16, String, String) {
    (403, "Forbidden".into(), message.into())
}

/// A quota the controller has not seen yet.
fn without_status(mut quota: Value) -> Value {
    if let Some(fields) = quota.as_object_mut() {
        fields.remove("status");
    }
    quota
}

fn as_json(list: &ResourceList) -> Value {
    list_to_json(list)
}

// ---------------------------------------------------------------------------------------------
// Usage arithmetic

#[test]
fn pod_usage_sums_containers_and_takes_the_init_peak() {
    let mut spec_pod = pod(
        "web",
        json!([
            container(
                "a",
                json!({"cpu": "100m", "memory": "64Mi"}),
                json!({"cpu": "200m", "memory": "128Mi"})
            ),
            container("b", json!({"cpu": "300m"}), json!({"cpu": "1"})),
        ]),
    );
    spec_pod["spec"]["initContainers"] = json!([
        container("init", json!({"cpu": "1", "memory": "32Mi"}), json!({"cpu": "2"})),
        {"name": "sidecar", "restartPolicy": "Always",
         "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "16Mi"}}},
    ]);
    spec_pod["spec"]["overhead"] = json!({"cpu": "10m", "memory": "8Mi"});
    // Requests: containers 400m + sidecar 50m, raised to the init container's 1, + 10m
    // overhead; memory 64Mi + 16Mi (over the init's 32Mi) + 8Mi. Limits: 1200m + 100m raised
    // to 2, + 10m; memory 128Mi + 16Mi, + 8Mi.
    assert_eq!(
        as_json(&pod_usage(&spec_pod)),
        json!({"count/pods": "1", "cpu": "1010m", "limits.cpu": "2010m", "limits.memory": "152Mi",
               "memory": "88Mi", "pods": "1", "requests.cpu": "1010m", "requests.memory": "88Mi"})
    );
    // An init container started after a sidecar needs the sidecar's share too.
    let mut ordered = pod(
        "w",
        json!([container("app", json!({"cpu": "100m"}), json!({}))]),
    );
    ordered["spec"]["initContainers"] = json!([
        {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
        container("setup", json!({"cpu": "500m"}), json!({})),
    ]);
    assert_eq!(
        pod_resources(&ordered, "requests")["cpu"].canonical(),
        "800m"
    );
}

#[test]
fn terminal_pods_count_only_as_objects() {
    for phase in ["Succeeded", "Failed"] {
        let mut done = cpu_pod("done", "1");
        done["status"] = json!({"phase": phase});
        assert_eq!(as_json(&pod_usage(&done)), json!({"count/pods": "1"}));
    }
    let mut running = cpu_pod("run", "1");
    running["status"] = json!({"phase": "Running"});
    assert_eq!(pod_usage(&running)["pods"].canonical(), "1");
}

#[test]
fn hugepages_extended_resources_and_resized_containers() {
    let special = pod(
        "gpu",
        json!([container(
            "train",
            json!({"cpu": "1", "hugepages-2Mi": "4Mi", "example.com/gpu": "2", "kubernetes.io/thing": "1"}),
            json!({"hugepages-2Mi": "4Mi", "example.com/gpu": "2"})
        )]),
    );
    assert_eq!(
        as_json(&pod_usage(&special)),
        json!({"count/pods": "1", "cpu": "1", "hugepages-2Mi": "4Mi", "pods": "1",
               "requests.cpu": "1", "requests.example.com/gpu": "2",
               "requests.hugepages-2Mi": "4Mi"})
    );
    // A container whose status reports more than its spec asks counts the larger.
    let mut resized = cpu_pod("r", "100m");
    resized["status"] = json!({"containerStatuses": [
        {"name": "web", "resources": {"requests": {"cpu": "300m"}}, "allocatedResources": {"cpu": "200m"}}]});
    assert_eq!(pod_usage(&resized)["requests.cpu"].canonical(), "300m");
    resized["status"]["conditions"] = json!([{"type": "PodResizePending", "reason": "Infeasible"}]);
    resized["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("2");
    assert_eq!(pod_usage(&resized)["requests.cpu"].canonical(), "300m");
}

#[test]
fn service_usage_counts_ports_and_load_balancers() {
    let service = |kind: &str, extra: Value| {
        let mut svc = json!({"metadata": {"name": "s", "namespace": "ns"},
            "spec": {"type": kind, "ports": [{"port": 80, "nodePort": 30080}, {"port": 443}]}});
        if let (Some(spec), Some(extra)) = (svc["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        as_json(&service_usage(&svc))
    };
    assert_eq!(
        service("ClusterIP", json!({})),
        json!({"count/services": "1", "services": "1", "services.loadbalancers": "0", "services.nodeports": "0"})
    );
    assert_eq!(service("NodePort", json!({}))["services.nodeports"], "2");
    let lb = service("LoadBalancer", json!({}));
    assert_eq!(
        (&lb["services.nodeports"], &lb["services.loadbalancers"]),
        (&json!("2"), &json!("1"))
    );
    let no_ports = service(
        "LoadBalancer",
        json!({"allocateLoadBalancerNodePorts": false}),
    );
    assert_eq!(no_ports["services.nodeports"], "1");
}

#[test]
fn resource_list_helpers_follow_kubes() {
    let list = |v: Value| resource_list(Some(&v));
    let a = list(json!({"cpu": "1", "memory": "1Gi"}));
    let b = list(json!({"cpu": "1500m", "pods": "1"}));
    assert_eq!(
        as_json(&add(&a, &b)),
        json!({"cpu": "2500m", "memory": "1Gi", "pods": "1"})
    );
    assert_eq!(
        as_json(&subtract_non_negative(&a, &b)),
        json!({"cpu": "0", "memory": "1Gi", "pods": "0"})
    );
    let names = ["memory".to_string(), "gone".to_string()];
    assert_eq!(as_json(&mask(&a, names.iter())), json!({"memory": "1Gi"}));
    assert_eq!(pretty(&add(&a, &b)), "cpu=2500m,memory=1Gi,pods=1");
    assert_eq!(
        as_json(&list(json!({"cpu": "lots", "memory": 5}))),
        json!({"memory": "5"})
    );
    assert_eq!(
        count_names(resource("apps", "deployments")),
        ["count/deployments.apps"]
    );
    assert_eq!(
        count_names(resource("", "secrets")),
        ["count/secrets", "secrets"]
    );
}

// ---------------------------------------------------------------------------------------------
// Admission: refusals and charges

#[tokio::test]
async fn a_write_within_quota_is_charged_before_it_is_stored() {
    let state = FakeState::new(&[
        (
            "resourcequotas",
            quota(
                "objects",
                json!({"configmaps": "3", "count/configmaps": "3"}),
                json!({"configmaps": "1", "count/configmaps": "1"}),
            ),
        ),
        (
            "resourcequotas",
            quota("pods-only", json!({"pods": "1"}), json!({"pods": "0"})),
        ),
    ]);
    let quotas = plugin(&state);
    assert_eq!(
        create(&quotas, "configmaps", &named("configmaps", "c")).await,
        Ok(())
    );
    assert_eq!(
        used(&state, "objects"),
        json!({"configmaps": "2", "count/configmaps": "2"})
    );
    assert_eq!(used(&state, "pods-only"), json!({"pods": "0"}));
    assert_eq!(state.writes(), 1);
    // A kind no quota tracks writes nothing.
    assert_eq!(
        create(&quotas, "secrets", &named("secrets", "s")).await,
        Ok(())
    );
    assert_eq!(state.writes(), 1);
}

#[tokio::test]
async fn exceeded_quota_is_refused_with_kubes_message() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota(
            "compute",
            json!({"pods": "2", "requests.cpu": "1"}),
            json!({"pods": "1", "requests.cpu": "600m"}),
        ),
    )]);
    let quotas = plugin(&state);
    assert_eq!(
        message(create(&quotas, "pods", &cpu_pod("web", "500m")).await),
        forbidden(
            r#"pods "web" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"#
        )
    );
    assert_eq!(state.writes(), 0);
    let mut generated = cpu_pod("", "2");
    generated["metadata"] = json!({"generateName": "web-", "namespace": "ns"});
    assert_eq!(
        message(create(&quotas, "pods", &generated).await).2,
        r#"pods "web-" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=600m, limited: requests.cpu=1"#
    );
    assert_eq!(
        create(&quotas, "pods", &cpu_pod("small", "400m")).await,
        Ok(())
    );
    assert_eq!(
        used(&state, "compute"),
        json!({"pods": "2", "requests.cpu": "1"})
    );
    assert_eq!(
        message(create(&quotas, "pods", &cpu_pod("third", "0")).await).2,
        r#"pods "third" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"#
    );
}

#[tokio::test]
async fn compute_quotas_require_containers_to_say_what_they_use() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota(
            "compute",
            json!({"limits.cpu": "2", "requests.memory": "1Gi"}),
            json!({"limits.cpu": "0", "requests.memory": "0"}),
        ),
    )]);
    let mut web = pod(
        "web",
        json!([
            container("web", json!({"memory": "64Mi"}), json!({})),
            container("sidecar", json!({}), json!({})),
        ]),
    );
    web["spec"]["initContainers"] = json!([container("init", json!({}), json!({"cpu": "1"}))]);
    assert_eq!(
        message(create(&plugin(&state), "pods", &web).await),
        forbidden(
            r#"pods "web" is forbidden: failed quota: compute: must specify limits.cpu for: sidecar,web; requests.memory for: init,sidecar"#
        )
    );
}

#[tokio::test]
async fn a_quota_without_usage_is_refused_and_one_without_status_limits_nothing() {
    let mut unknown = quota("q", json!({"pods": "5"}), json!({}));
    unknown["status"] = json!({"hard": {"pods": "5"}});
    let state = FakeState::new(&[("resourcequotas", unknown)]);
    assert_eq!(
        message(create(&plugin(&state), "pods", &cpu_pod("web", "1")).await),
        forbidden(r#"pods "web" is forbidden: status unknown for quota: q, resources: pods"#)
    );
    let mut fresh = quota("fresh", json!({"pods": "0"}), json!({}));
    fresh = without_status(fresh);
    let state = FakeState::new(&[("resourcequotas", fresh)]);
    assert_eq!(
        create(&plugin(&state), "pods", &cpu_pod("web", "1")).await,
        Ok(())
    );
    assert_eq!(state.writes(), 0);
}

#[tokio::test]
async fn a_dry_run_is_checked_but_not_charged() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota("q", json!({"pods": "1"}), json!({"pods": "0"})),
    )]);
    let quotas = plugin(&state);
    let mut dry = attrs(resource("", "pods"), Operation::Create, None);
    dry.dry_run = true;
    let web = cpu_pod("web", "1");
    assert_eq!(
        quotas.validate(&dry, Some(&web), &Record::new()).await,
        Ok(())
    );
    assert_eq!(
        (state.writes(), used(&state, "q")),
        (0, json!({"pods": "0"}))
    );
    state.put(
        "resourcequotas",
        quota("q", json!({"pods": "1"}), json!({"pods": "1"})),
    );
    assert_eq!(
        message(quotas.validate(&dry, Some(&web), &Record::new()).await).2,
        r#"pods "web" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"#
    );
}

#[tokio::test]
async fn a_conflict_re_reads_the_quota_and_checks_again() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota("q", json!({"pods": "2"}), json!({"pods": "0"})),
    )]);
    // Another create charges the quota between our read and our write.
    lock(&state.interlopers).push(quota("q", json!({"pods": "2"}), json!({"pods": "1"})));
    let quotas = plugin(&state);
    assert_eq!(create(&quotas, "pods", &cpu_pod("a", "1")).await, Ok(()));
    assert_eq!(
        (state.writes(), used(&state, "q")),
        (1, json!({"pods": "2"}))
    );
    // Now the other request fills it first: the second check refuses.
    state.put(
        "resourcequotas",
        quota("q", json!({"pods": "2"}), json!({"pods": "1"})),
    );
    lock(&state.interlopers).push(quota("q", json!({"pods": "2"}), json!({"pods": "2"})));
    assert_eq!(
        message(create(&quotas, "pods", &cpu_pod("b", "1")).await).2,
        r#"pods "b" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"#
    );
    assert_eq!(state.writes(), 1);
}

#[tokio::test]
async fn conflicts_past_the_retries_are_a_409() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota("q", json!({"pods": "10"}), json!({"pods": "0"})),
    )]);
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        lock(&state.interlopers).push(quota("q", json!({"pods": "10"}), json!({"pods": "0"})));
    }
    assert_eq!(
        message(create(&plugin(&state), "pods", &cpu_pod("a", "1")).await),
        (409, "Conflict".into(), r#"Operation cannot be fulfilled on resourcequotas "q": the object has been modified; please apply your changes to the latest version and try again"#.into())
    );
    assert_eq!(state.writes(), 0);
}

#[tokio::test]
async fn a_service_update_is_charged_its_increase() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota(
            "q",
            json!({"services": "5", "services.nodeports": "2"}),
            json!({"services": "1", "services.nodeports": "0"}),
        ),
    )]);
    let old = json!({"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7"},
                     "spec": {"type": "ClusterIP", "ports": [{"port": 80}, {"port": 81}]}});
    let mut node_port = old.clone();
    node_port["spec"]["type"] = json!("NodePort");
    let update = attrs(
        resource("", "services"),
        Operation::Update,
        Some(old.clone()),
    );
    let quotas = plugin(&state);
    assert_eq!(
        quotas
            .validate(&update, Some(&node_port), &Record::new())
            .await,
        Ok(())
    );
    assert_eq!(
        used(&state, "q"),
        json!({"services": "1", "services.nodeports": "2"})
    );
    let mut three = node_port.clone();
    three["spec"]["ports"] = json!([{"port": 80}, {"port": 81}, {"port": 82}]);
    assert_eq!(
        message(quotas.validate(&update, Some(&three), &Record::new()).await).2,
        r#"services "web" is forbidden: exceeded quota: q, requested: services.nodeports=3, used: services.nodeports=2, limited: services.nodeports=2"#
    );
}

#[tokio::test]
async fn scopes_choose_the_pods_a_quota_limits() {
    let mut best_effort = quota("best-effort", json!({"pods": "1"}), json!({"pods": "1"}));
    best_effort["spec"]["scopes"] = json!(["BestEffort"]);
    let mut high = quota("high", json!({"pods": "1"}), json!({"pods": "1"}));
    high["spec"]["scopeSelector"] = json!({"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]});
    let state = FakeState::new(&[("resourcequotas", best_effort), ("resourcequotas", high)]);
    let quotas = plugin(&state);
    assert_eq!(
        create(&quotas, "pods", &cpu_pod("burstable", "1")).await,
        Ok(())
    );
    assert_eq!(
        message(create(&quotas, "pods", &pod("idle", json!([{"name": "idle"}]))).await).2,
        r#"pods "idle" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1"#
    );
    let mut important = cpu_pod("important", "1");
    important["spec"]["priorityClassName"] = json!("high");
    assert_eq!(
        message(create(&quotas, "pods", &important).await).2,
        r#"pods "important" is forbidden: exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1"#
    );
    important["status"] = json!({"qosClass": "BestEffort"});
    important["spec"]["priorityClassName"] = json!("low");
    assert!(
        create(&quotas, "pods", &important).await.is_err(),
        "the status QoS class decides"
    );
}

#[tokio::test]
async fn limited_resources_need_a_covering_quota() {
    let configuration = json!({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
        "limitedResources": [{"resource": "pods", "matchContains": ["requests.cpu"]}]});
    let state = FakeState::new(&[]);
    let dyn_state: Arc<dyn ClusterState> = state.clone();
    let quotas = ResourceQuota::new(dyn_state.clone(), Some(&configuration)).expect("valid");
    assert_eq!(
        message(create(&quotas, "pods", &cpu_pod("web", "1")).await),
        forbidden(r#"pods "web" is forbidden: insufficient quota to consume: requests.cpu"#)
    );
    assert_eq!(
        create(&quotas, "pods", &pod("idle", json!([{"name": "idle"}]))).await,
        Ok(())
    );
    state.put(
        "resourcequotas",
        quota(
            "cpu",
            json!({"requests.cpu": "4"}),
            json!({"requests.cpu": "0"}),
        ),
    );
    assert_eq!(create(&quotas, "pods", &cpu_pod("web", "1")).await, Ok(()));
    assert_eq!(used(&state, "cpu"), json!({"requests.cpu": "1"}));

    let missing = json!({"kind": "ResourceQuotaConfiguration", "limitedResources": [{"matchContains": ["x"]}]});
    assert_eq!(
        ResourceQuota::new(dyn_state.clone(), Some(&missing)).err(),
        Some("limitedResources[0].resource: Required value".to_string())
    );
    let wrong = json!({"kind": "PodSecurityConfiguration", "apiVersion": "pod-security.admission.config.k8s.io/v1"});
    assert!(ResourceQuota::new(dyn_state, Some(&wrong)).is_err());
}

#[tokio::test]
async fn limited_scopes_need_a_quota_in_that_scope() {
    let configuration = json!({"limitedResources": [{"resource": "pods", "matchScopes": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["cluster-services"]}]}]});
    let state = FakeState::new(&[]);
    let dyn_state: Arc<dyn ClusterState> = state.clone();
    let quotas = ResourceQuota::new(dyn_state, Some(&configuration)).expect("valid");
    let mut critical = cpu_pod("critical", "1");
    critical["spec"]["priorityClassName"] = json!("cluster-services");
    assert_eq!(
        message(create(&quotas, "pods", &critical).await),
        (
            500,
            String::new(),
            "insufficient quota to match these scopes: [{PriorityClass In [cluster-services]}]"
                .into()
        )
    );
    assert_eq!(
        create(&quotas, "pods", &cpu_pod("ordinary", "1")).await,
        Ok(())
    );
    let mut covering = quota("critical", json!({"pods": "10"}), json!({"pods": "0"}));
    covering["spec"]["scopeSelector"] = json!({"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["cluster-services"]}]});
    state.put("resourcequotas", covering);
    assert_eq!(create(&quotas, "pods", &critical).await, Ok(()));
    assert_eq!(used(&state, "critical"), json!({"pods": "1"}));
}

#[tokio::test]
async fn negative_usage_is_refused() {
    let state = FakeState::new(&[(
        "resourcequotas",
        quota("q", json!({"pods": "5"}), json!({"pods": "0"})),
    )]);
    assert_eq!(
        message(create(&plugin(&state), "pods", &cpu_pod("web", "-1")).await),
        forbidden(
            r#"pods "web" is forbidden: quota usage is negative for resource(s): cpu,requests.cpu"#
        )
    );
}

#[test]
fn which_writes_are_handled() {
    let state: Arc<dyn ClusterState> = FakeState::new(&[]);
    let quotas = ResourceQuota::new(state, None).expect("plugin");
    let handles = |group: &str, plural: &str, operation: Operation, subresource: &str| {
        let mut a = attrs(resource(group, plural), operation, None);
        a.subresource = subresource.to_string();
        quotas.handles(&a)
    };
    assert!(handles("", "pods", Operation::Create, ""));
    assert!(!handles("", "pods", Operation::Update, ""));
    assert!(!handles("", "pods", Operation::Create, "status"));
    assert!(handles("", "services", Operation::Update, ""));
    assert!(handles("apps", "deployments", Operation::Create, ""));
    assert!(!handles("apps", "deployments", Operation::Delete, ""));
    assert!(!handles("", "events", Operation::Create, ""));
    let mut cluster_scoped = attrs(resource("", "namespaces"), Operation::Create, None);
    cluster_scoped.namespace = String::new();
    assert!(!quotas.handles(&cluster_scoped));
}

// ---------------------------------------------------------------------------------------------
// The controller

fn deployment(name: &str, namespace: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": namespace}})
}

#[tokio::test]
async fn the_controller_recomputes_status_from_the_namespace() {
    let mut fresh = quota("q", json!({}), json!({}));
    fresh["spec"]["hard"] = json!({"pods": "3", "requests.cpu": "2000m", "configmaps": "5",
                                   "count/deployments.apps": "2", "secrets": "1"});
    fresh = without_status(fresh);
    let mut done = cpu_pod("done", "250m");
    done["status"] = json!({"phase": "Succeeded"});
    let mut elsewhere = cpu_pod("elsewhere", "1");
    elsewhere["metadata"]["namespace"] = json!("other");
    let state = FakeState::new(&[
        ("resourcequotas", fresh),
        ("pods", cpu_pod("p1", "500m")),
        ("pods", done),
        ("pods", elsewhere),
        ("configmaps", named("configmaps", "c1")),
        ("configmaps", named("configmaps", "c2")),
        ("deployments", deployment("d1", "ns")),
    ]);
    let (next, report) = sync_some(&*state, 0, MAX_QUOTAS_PER_PASS).await;
    assert_eq!((next, report.written, report.failed), (0, 1, 0));
    assert_eq!(
        state.stored("resourcequotas", "q")["status"],
        json!({"hard": {"configmaps": "5", "count/deployments.apps": "2", "pods": "3",
                        "requests.cpu": "2", "secrets": "1"},
               "used": {"configmaps": "2", "count/deployments.apps": "1", "pods": "1",
                        "requests.cpu": "500m", "secrets": "0"}})
    );
    let (_, again) = sync_some(&*state, 0, MAX_QUOTAS_PER_PASS).await;
    assert_eq!((again.written, again.unchanged), (0, 1));
    // Deletes lower the usage; a spec change reaches status.hard.
    state.remove("configmaps", "ns", "c1");
    state.remove("pods", "ns", "p1");
    let mut edited = state.stored("resourcequotas", "q");
    edited["spec"]["hard"] = json!({"pods": "4", "configmaps": "5"});
    state.put("resourcequotas", edited);
    let (_, after) = sync_some(&*state, 0, MAX_QUOTAS_PER_PASS).await;
    assert_eq!(after.written, 1);
    assert_eq!(
        state.stored("resourcequotas", "q")["status"],
        json!({"hard": {"configmaps": "5", "pods": "4"}, "used": {"configmaps": "1", "pods": "0"}})
    );
}

#[tokio::test]
async fn the_controller_counts_only_pods_in_scope_and_bounds_each_pass() {
    let mut best_effort = quota(
        "a-best-effort",
        json!({"pods": "5", "count/pods": "5"}),
        json!({}),
    );
    best_effort["spec"]["scopes"] = json!(["BestEffort"]);
    best_effort = without_status(best_effort);
    let mut plain = quota("b-plain", json!({"pods": "5"}), json!({}));
    plain = without_status(plain);
    let state = FakeState::new(&[
        ("resourcequotas", best_effort),
        ("resourcequotas", plain),
        ("pods", cpu_pod("burstable", "1")),
        ("pods", pod("idle", json!([{"name": "idle"}]))),
    ]);
    let (next, first) = sync_some(&*state, 0, 1).await;
    assert_eq!((next, first.written), (1, 1));
    assert_eq!(
        used(&state, "a-best-effort"),
        json!({"count/pods": "1", "pods": "1"})
    );
    assert_eq!(
        state.stored("resourcequotas", "b-plain")["status"],
        Value::Null
    );
    let (next, second) = sync_some(&*state, next, 1).await;
    assert_eq!((next, second.written), (0, 1));
    assert_eq!(used(&state, "b-plain"), json!({"pods": "2"}));
}

#[tokio::test]
async fn a_controller_write_that_loses_a_race_is_retried() {
    let mut fresh = quota("q", json!({"pods": "5"}), json!({}));
    fresh = without_status(fresh);
    let state = FakeState::new(&[
        ("resourcequotas", fresh.clone()),
        ("pods", cpu_pod("p", "1")),
    ]);
    lock(&state.interlopers).push(fresh);
    let (_, report) = sync_some(&*state, 0, MAX_QUOTAS_PER_PASS).await;
    assert_eq!((report.written, report.failed), (1, 0));
    assert_eq!(used(&state, "q"), json!({"pods": "1"}));
}

#[tokio::test(start_paused = true)]
async fn run_controller_passes_every_interval() {
    let mut fresh = quota("q", json!({"pods": "5"}), json!({}));
    fresh = without_status(fresh);
    let state = FakeState::new(&[("resourcequotas", fresh)]);
    let dyn_state: Arc<dyn ClusterState> = state.clone();
    let controller = tokio::spawn(run_controller(dyn_state, Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(used(&state, "q"), json!({"pods": "0"}));
    state.put("pods", cpu_pod("p", "1"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(used(&state, "q"), json!({"pods": "1"}));
    controller.abort();
}
