//! API Priority and Fairness in the API server (`kubesim_flowcontrol` holds the logic):
//!
//! - the controller, sized by `--max-requests-inflight` + `--max-mutating-requests-inflight`
//!   (kube's server concurrency limit, split among the priority levels);
//! - its configuration, read from the stored FlowSchemas and PriorityLevelConfigurations
//!   whenever their watch caches move (no restart), after kube's bootstrap objects are
//!   created at start-up where absent, and each FlowSchema's `Dangling` condition kept (kube's
//!   `priority-and-fairness-config-producer`; `/readyz` waits for both);
//! - each request's work estimate (a list counts one seat per 100 objects of its resource);
//! - the rejection (429 with `Retry-After`) and the `X-Kubernetes-PF-*` response headers.

use std::sync::{Arc, Weak};
use std::time::Duration;

use kubesim_api::resources::{self, Resource};
use kubesim_api::{RequestInfo, Status};
use kubesim_flowcontrol::config::Config;
use kubesim_flowcontrol::{Classification, Controller, Rejection, WorkEstimate, bootstrap};
use kubesim_storage::cacher::SharedObject;
use serde_json::{Value, json};

use crate::registry::{Registry, WriteOptions};

/// kube's response headers naming the schema and level a request was classified into.
pub const FLOW_SCHEMA_UID_HEADER: &str = "x-kubernetes-pf-flowschema-uid";
pub const PRIORITY_LEVEL_UID_HEADER: &str = "x-kubernetes-pf-prioritylevel-uid";
/// How often the config task looks for the caches to be ready and for changes.
const POLL: Duration = Duration::from_millis(200);
/// The field managers of the API server's own APF writes (kube's): the bootstrap objects,
/// and the FlowSchemas' status.
const MANAGER: &str = "api-priority-and-fairness-config-producer-v1";
const STATUS_MANAGER: &str = "api-priority-and-fairness-config-consumer-v1";
const GROUP: &str = "flowcontrol.apiserver.k8s.io";

/// The controller, and the task that keeps its config current (stops with the registry).
pub fn start(server_concurrency_limit: u32, registry: Option<&Arc<Registry>>) -> Arc<Controller> {
    // Kube's mandatory levels until the stored configuration is read.
    let controller = Arc::new(Controller::new(server_concurrency_limit));
    if let Some(registry) = registry {
        tokio::spawn(keep_config(Arc::downgrade(registry), controller.clone()));
    }
    controller
}

/// kube's wait limit in a queue: a quarter of the request timeout (`RequestTimeout/4`).
pub fn wait_limit(request_timeout: Duration) -> Duration {
    request_timeout / 4
}

/// The seats a request takes: kube's list estimate from the resource's object count in the
/// watch cache (and `limit`), one seat for everything else.
pub fn work_estimate(
    info: &RequestInfo,
    registry: Option<&Arc<Registry>>,
    limit: Option<u64>,
) -> WorkEstimate {
    if info.verb != "list" || !info.is_resource_request {
        return WorkEstimate::default();
    }
    let count = registry
        .zip(resources::lookup(
            &info.api_group,
            &info.api_version,
            &info.resource,
        ))
        .and_then(|(registry, resource)| registry.cache(resource).ok().map(|cache| cache.len()))
        .unwrap_or(0);
    WorkEstimate::list(u64::try_from(count).unwrap_or(u64::MAX), limit)
}

/// The 429 kube answers a request APF rejected.
pub fn rejection_status(rejection: &Rejection) -> Status {
    tracing::debug!(
        flow_schema = %rejection.classification.flow_schema,
        priority_level = %rejection.classification.priority_level,
        reason = rejection.reason.as_str(),
        "request rejected by priority and fairness"
    );
    Status::too_many_requests("Too many requests, please try again later.", 1)
}

/// The `X-Kubernetes-PF-*` headers of a classified request.
pub fn headers(classification: &Classification) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if !classification.flow_schema_uid.is_empty() {
        headers.push((
            FLOW_SCHEMA_UID_HEADER,
            classification.flow_schema_uid.clone(),
        ));
    }
    if !classification.priority_level_uid.is_empty() {
        headers.push((
            PRIORITY_LEVEL_UID_HEADER,
            classification.priority_level_uid.clone(),
        ));
    }
    headers
}

async fn keep_config(registry: Weak<Registry>, controller: Arc<Controller>) {
    if !crate::registry::wait_caches_ready(&registry, POLL).await {
        return;
    }
    let mut bootstrapped = false;
    let mut seen = (-1, -1);
    // The objects the configuration was last built from: the caches' revisions move with
    // every write of any kind (progress notifications), so they only say when to look.
    let mut built_from: Option<Cached> = None;
    loop {
        let Some(registry) = registry.upgrade() else {
            return;
        };
        if !bootstrapped {
            // Done once the caches hold every object just created: this pass must judge
            // (and mark) every bootstrap schema before readiness is reported. Judged on
            // caches that had not seen the last creates yet, the rest got their Dangling
            // condition written after /readyz said ready, a write nobody asked for.
            bootstrapped = match ensure_bootstrap(&registry).await {
                Some(written) => caught_up(&registry, (written, written)).await,
                None => false,
            };
        }
        // Also once more after the bootstrap objects are in, for readiness.
        let unready = bootstrapped && !controller.config_produced();
        if let Some(revisions) = revisions(&registry)
            && (revisions != seen || unready)
            && caught_up(&registry, revisions).await
        {
            let cached = cached(&registry);
            let unchanged = built_from.as_ref().is_some_and(|b| b.same_as(&cached));
            if unchanged && !unready {
                seen = revisions;
            } else {
                let (schemas, levels) = cached.values();
                let (config, problems) = Config::from_objects(&schemas, &levels);
                log_problems(&problems);
                controller.apply(config);
                // A condition that could not be written is tried again at the next poll.
                if mark_dangling(&registry, &schemas, &levels).await {
                    seen = revisions;
                    built_from = Some(cached);
                    if bootstrapped {
                        controller.mark_config_produced();
                    }
                }
            }
        }
        drop(registry);
        tokio::time::sleep(POLL).await;
    }
}

/// Waits (bounded by the caches' freshness timeout) until both caches have seen the newer
/// of their two revisions, so a schema is never judged against a levels cache that has not
/// yet seen the level created with it (`kubectl apply -f` of both). Whether they have.
async fn caught_up(registry: &Registry, (schemas, levels): (i64, i64)) -> bool {
    let newest = schemas.max(levels);
    for resource in [flow_schemas(), priority_levels()].into_iter().flatten() {
        let Ok(cache) = registry.cache(resource) else {
            return false;
        };
        if cache.wait_fresh(newest).await.is_err() {
            return false;
        }
    }
    true
}

/// kube's APF controller keeps each FlowSchema's `Dangling` condition: `True` when the
/// PriorityLevelConfiguration it names does not exist (the schema is then ignored), `False`
/// when it does (`kubectl get flowschemas` shows it as MISSINGPL). Writes only the schemas
/// whose condition is missing or wrong, through the status subresource; whether all are
/// right now.
async fn mark_dangling(registry: &Registry, schemas: &[Value], levels: &[Value]) -> bool {
    let Some(resource) = flow_schemas() else {
        return true;
    };
    let level_names: Vec<&str> = levels.iter().map(name_of).collect();
    let mut complete = true;
    for schema in schemas {
        let level = schema
            .pointer("/spec/priorityLevelConfiguration/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let dangling = !level_names.contains(&level);
        if dangling_status(schema) == Some(dangling) {
            continue;
        }
        let mut object = schema.clone();
        let condition = dangling_condition(level, dangling, &registry.now());
        if let Some(fields) = object.as_object_mut() {
            fields.insert("status".into(), json!({"conditions": [condition]}));
        }
        let opts = WriteOptions {
            field_manager: STATUS_MANAGER.to_string(),
            ..WriteOptions::default()
        };
        let name = name_of(schema).to_string();
        if let Err(status) = registry
            .update(resource, "", &name, "status", object, &opts)
            .await
        {
            // A 409 (the schema changed meanwhile) or a 404 (deleted): the next poll sees it.
            tracing::debug!(%name, error = %status.message, "FlowSchema Dangling condition; retrying");
            complete = false;
        }
    }
    complete
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The schema's `Dangling` condition as a bool, if it has one.
fn dangling_status(schema: &Value) -> Option<bool> {
    let conditions = schema.pointer("/status/conditions")?.as_array()?;
    let condition = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Dangling"))?;
    match condition.get("status").and_then(Value::as_str)? {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

/// The condition kube's controller writes, in its words (`apf_controller.go`).
fn dangling_condition(level: &str, dangling: bool, now: &str) -> Value {
    let (status, reason, message) = if dangling {
        (
            "True",
            "NotFound",
            format!(
                "This FlowSchema references the PriorityLevelConfiguration object named {level:?} but there is no such object"
            ),
        )
    } else {
        (
            "False",
            "Found",
            format!(
                "This FlowSchema references the PriorityLevelConfiguration object named {level:?} and it exists"
            ),
        )
    };
    json!({
        "type": "Dangling",
        "status": status,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

fn flow_schemas() -> Option<&'static Resource> {
    resources::lookup(GROUP, "v1", "flowschemas")
}

fn priority_levels() -> Option<&'static Resource> {
    resources::lookup(GROUP, "v1", "prioritylevelconfigurations")
}

fn revisions(registry: &Registry) -> Option<(i64, i64)> {
    let schemas = registry.cache(flow_schemas()?).ok()?.revision();
    let levels = registry.cache(priority_levels()?).ok()?.revision();
    Some((schemas, levels))
}

/// The FlowSchemas and PriorityLevelConfigurations in the caches, as the cached objects: a
/// changed object is a new one, so comparing them by pointer tells whether anything changed
/// without decoding them.
struct Cached {
    schemas: Vec<Arc<SharedObject>>,
    levels: Vec<Arc<SharedObject>>,
}

impl Cached {
    fn same_as(&self, other: &Cached) -> bool {
        let same = |a: &[Arc<SharedObject>], b: &[Arc<SharedObject>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
        };
        same(&self.schemas, &other.schemas) && same(&self.levels, &other.levels)
    }

    /// The objects decoded.
    fn values(&self) -> (Vec<Value>, Vec<Value>) {
        let values = |objects: &[Arc<SharedObject>]| -> Vec<Value> {
            objects.iter().map(|o| o.value().clone()).collect()
        };
        (values(&self.schemas), values(&self.levels))
    }
}

fn cached(registry: &Registry) -> Cached {
    let all = |resource: Option<&'static Resource>| -> Vec<Arc<SharedObject>> {
        resource
            .and_then(|r| registry.cache(r).ok())
            .map(|cache| cache.list("", &|_| true).0)
            .unwrap_or_default()
    };
    Cached {
        schemas: all(flow_schemas()),
        levels: all(priority_levels()),
    }
}

/// Creates each absent bootstrap object (mandatory and suggested; one a user changed or
/// deleted after it was made is left alone: kubesim does not reconcile `autoupdate-spec`).
/// Whether all are there now.
async fn ensure_bootstrap(registry: &Registry) -> Option<i64> {
    let (Some(schema_resource), Some(level_resource)) = (flow_schemas(), priority_levels()) else {
        return Some(0);
    };
    let (mandatory_schemas, mandatory_levels) = bootstrap::mandatory();
    let (suggested_schemas, suggested_levels) = bootstrap::suggested();
    let levels = mandatory_levels
        .into_iter()
        .chain(suggested_levels)
        .map(|o| (level_resource, o));
    let schemas = mandatory_schemas
        .into_iter()
        .chain(suggested_schemas)
        .map(|o| (schema_resource, o));
    let mut newest = Some(0);
    // Levels first, so no schema is ever dangling.
    for (resource, object) in levels.chain(schemas) {
        let created = registry.create_if_absent(resource, object, MANAGER).await;
        newest = newest.zip(created).map(|(a, b)| a.max(b));
    }
    newest
}

fn log_problems(problems: &[String]) {
    for problem in problems {
        tracing::warn!(%problem, "priority and fairness configuration");
    }
}
