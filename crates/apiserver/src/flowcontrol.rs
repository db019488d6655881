//! API Priority and Fairness in the API server (`kubesim_flowcontrol` holds the logic):
//!
//! - the controller, sized by `--max-requests-inflight` + `--max-mutating-requests-inflight`
//!   (kube's server concurrency limit, split among the priority levels);
//! - its configuration, read from the stored FlowSchemas and PriorityLevelConfigurations
//!   whenever their watch caches move (no restart), after kube's bootstrap objects are
//!   created at start-up where absent (kube's `priority-and-fairness-config-producer`);
//! - each request's work estimate (a list counts one seat per 100 objects of its resource);
//! - the rejection (429 with `Retry-After`) and the `X-Kubernetes-PF-*` response headers.

use std::sync::{Arc, Weak};
use std::time::Duration;

use kubesim_api::resources::{self, Resource};
use kubesim_api::{RequestInfo, Status};
use kubesim_flowcontrol::config::Config;
use kubesim_flowcontrol::{Classification, Controller, Rejection, WorkEstimate, bootstrap};
use serde_json::Value;

use crate::registry::Registry;

/// kube's response headers naming the schema and level a request was classified into.
pub const FLOW_SCHEMA_UID_HEADER: &str = "x-kubernetes-pf-flowschema-uid";
pub const PRIORITY_LEVEL_UID_HEADER: &str = "x-kubernetes-pf-prioritylevel-uid";
/// How often the config task looks for the caches to be ready and for changes.
const POLL: Duration = Duration::from_millis(200);
/// The field manager of the API server's own APF writes (kube's).
const MANAGER: &str = "api-priority-and-fairness-config-producer-v1";
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
    loop {
        let Some(registry) = registry.upgrade() else {
            return;
        };
        if !bootstrapped {
            bootstrapped = ensure_bootstrap(&registry).await;
        }
        if let Some(revisions) = revisions(&registry)
            && revisions != seen
        {
            let (schemas, levels) = stored(&registry);
            let (config, problems) = Config::from_objects(&schemas, &levels);
            log_problems(&problems);
            controller.apply(config);
            seen = revisions;
        }
        drop(registry);
        tokio::time::sleep(POLL).await;
    }
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

/// The stored objects, from the caches.
fn stored(registry: &Registry) -> (Vec<Value>, Vec<Value>) {
    let all = |resource: Option<&'static Resource>| -> Vec<Value> {
        resource
            .and_then(|r| registry.cache(r).ok())
            .map(|cache| {
                cache
                    .list("", &|_| true)
                    .0
                    .iter()
                    .map(|o| o.value().clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    (all(flow_schemas()), all(priority_levels()))
}

/// Creates each absent bootstrap object (mandatory and suggested; one a user changed or
/// deleted after it was made is left alone: kubesim does not reconcile `autoupdate-spec`).
/// Whether all are there now.
async fn ensure_bootstrap(registry: &Registry) -> bool {
    let (Some(schema_resource), Some(level_resource)) = (flow_schemas(), priority_levels()) else {
        return true;
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
    let mut complete = true;
    // Levels first, so no schema is ever dangling.
    for (resource, object) in levels.chain(schemas) {
        complete &= registry.create_if_absent(resource, object, MANAGER).await;
    }
    complete
}

fn log_problems(problems: &[String]) {
    for problem in problems {
        tracing::warn!(%problem, "priority and fairness configuration");
    }
}
