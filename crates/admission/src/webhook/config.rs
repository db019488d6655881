//! Webhook configurations compiled for the dispatchers: one stored
//! Mutating/ValidatingWebhookConfiguration becomes its [`Webhook`]s ([`compile`]), and a
//! [`WebhookSet`] keeps every configuration's webhooks from the watch cache, compiled once
//! per change of the list (kube's `mutating/validatingWebhookConfigurationManager`).
//!
//! Stored configurations are defaulted (`kubesim_api::defaults`) and validated
//! (`kind_validation::admission`); compiling applies the v1 defaults again where a field is
//! absent anyway, so an object that bypassed defaulting still compiles as kube reads it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kubesim_api::Status;
use kubesim_api::resources::{self, Resource};
use kubesim_api::selectors::{LabelSelector, label_selector_from_object};
use serde_json::{Map, Value};

use super::{
    Endpoint, FailurePolicy, MatchPolicy, ReinvocationPolicy, Rule, Scope, SideEffects,
    TRANSPORT_ANNOTATION, Transport, Webhook, WebhookKind, cel,
};
use crate::ClusterState;

/// `timeoutSeconds` when absent.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 10;
/// The bounds validation holds `timeoutSeconds` to.
const TIMEOUT_SECONDS: std::ops::RangeInclusive<i64> = 1..=30;
/// `clientConfig.service.port` when absent.
pub const DEFAULT_SERVICE_PORT: u16 = 443;

/// The webhooks of one stored configuration, in its list order (`index`), v1 defaults
/// applied. `Err` says why the configuration cannot be used; [`WebhookSet`] skips it.
pub fn compile(kind: WebhookKind, configuration: &Value) -> Result<Vec<Webhook>, String> {
    let metadata = configuration.get("metadata");
    let name = metadata
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("metadata.name: Required value")?;
    let transport = transport(metadata)?;
    let hooks = optional_array(configuration, "webhooks", "webhooks")?;
    hooks
        .iter()
        .enumerate()
        .map(|(index, hook)| {
            let at = format!("webhooks[{index}]");
            let hook = hook.as_object().ok_or(format!("{at}: must be an object"))?;
            let mut webhook = webhook(kind, hook, &at)?;
            webhook.configuration = name.to_string();
            webhook.index = index;
            webhook.transport = transport;
            Ok(webhook)
        })
        .collect()
}

/// The configuration's [`TRANSPORT_ANNOTATION`]: absent or `https`, or `grpc`.
fn transport(metadata: Option<&Value>) -> Result<Transport, String> {
    let value = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(TRANSPORT_ANNOTATION));
    match value {
        None | Some(Value::Null) => Ok(Transport::Https),
        Some(Value::String(v)) if v == "https" => Ok(Transport::Https),
        Some(Value::String(v)) if v == "grpc" => Ok(Transport::Grpc),
        Some(other) => Err(format!(
            "metadata.annotations[{TRANSPORT_ANNOTATION}]: Unsupported value: {other}: supported values: \"grpc\", \"https\""
        )),
    }
}

/// One `webhooks[]` entry; the caller fills in where it came from.
fn webhook(kind: WebhookKind, hook: &Map<String, Value>, at: &str) -> Result<Webhook, String> {
    let field = |key: &str| hook.get(key).filter(|v| !v.is_null());
    let name = string(field("name"), &format!("{at}.name"))?.unwrap_or_default();
    let rules = objects(field("rules"), &format!("{at}.rules"))?
        .into_iter()
        .enumerate()
        .map(|(i, rule)| compile_rule(rule, &format!("{at}.rules[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let (endpoint, ca_bundle) =
        client_config(field("clientConfig"), &format!("{at}.clientConfig"))?;
    Ok(Webhook {
        kind,
        name: name.to_string(),
        configuration: String::new(),
        index: 0,
        rules,
        failure_policy: failure_policy(field("failurePolicy"), at)?,
        match_policy: match_policy(field("matchPolicy"), at)?,
        namespace_selector: selector(
            field("namespaceSelector"),
            &format!("{at}.namespaceSelector"),
        )?,
        object_selector: selector(field("objectSelector"), &format!("{at}.objectSelector"))?,
        side_effects: side_effects(field("sideEffects"), at)?,
        timeout: timeout(field("timeoutSeconds"), at)?,
        admission_review_versions: strings(
            field("admissionReviewVersions"),
            &format!("{at}.admissionReviewVersions"),
        )?,
        reinvocation_policy: match kind {
            WebhookKind::Mutating => reinvocation_policy(field("reinvocationPolicy"), at)?,
            WebhookKind::Validating => ReinvocationPolicy::Never,
        },
        match_conditions: match_conditions(field("matchConditions"), at)?,
        endpoint,
        ca_bundle,
        transport: Transport::Https,
    })
}

/// One `RuleWithOperations`; `scope` defaults to `*`.
fn compile_rule(rule: &Map<String, Value>, at: &str) -> Result<Rule, String> {
    let list = |key: &str| strings(rule.get(key), &format!("{at}.{key}"));
    let scope = match string(rule.get("scope"), &format!("{at}.scope"))? {
        None | Some("*") => Scope::All,
        Some("Cluster") => Scope::Cluster,
        Some("Namespaced") => Scope::Namespaced,
        Some(other) => {
            return Err(unsupported(
                &format!("{at}.scope"),
                other,
                &["*", "Cluster", "Namespaced"],
            ));
        }
    };
    Ok(Rule {
        operations: list("operations")?,
        api_groups: list("apiGroups")?,
        api_versions: list("apiVersions")?,
        resources: list("resources")?,
        scope,
    })
}

fn failure_policy(value: Option<&Value>, at: &str) -> Result<FailurePolicy, String> {
    let at = format!("{at}.failurePolicy");
    match string(value, &at)? {
        None | Some("Fail") => Ok(FailurePolicy::Fail),
        Some("Ignore") => Ok(FailurePolicy::Ignore),
        Some(other) => Err(unsupported(&at, other, &["Fail", "Ignore"])),
    }
}

fn match_policy(value: Option<&Value>, at: &str) -> Result<MatchPolicy, String> {
    let at = format!("{at}.matchPolicy");
    match string(value, &at)? {
        None | Some("Equivalent") => Ok(MatchPolicy::Equivalent),
        Some("Exact") => Ok(MatchPolicy::Exact),
        Some(other) => Err(unsupported(&at, other, &["Equivalent", "Exact"])),
    }
}

/// `sideEffects` is required in v1; one stored without it is read as v1beta1's default,
/// `Unknown`, which refuses dry runs (the cautious reading).
fn side_effects(value: Option<&Value>, at: &str) -> Result<SideEffects, String> {
    let at = format!("{at}.sideEffects");
    match string(value, &at)? {
        None | Some("Unknown") => Ok(SideEffects::Unknown),
        Some("Some") => Ok(SideEffects::Some),
        Some("None") => Ok(SideEffects::None),
        Some("NoneOnDryRun") => Ok(SideEffects::NoneOnDryRun),
        Some(other) => Err(unsupported(
            &at,
            other,
            &["None", "NoneOnDryRun", "Some", "Unknown"],
        )),
    }
}

fn reinvocation_policy(value: Option<&Value>, at: &str) -> Result<ReinvocationPolicy, String> {
    let at = format!("{at}.reinvocationPolicy");
    match string(value, &at)? {
        None | Some("Never") => Ok(ReinvocationPolicy::Never),
        Some("IfNeeded") => Ok(ReinvocationPolicy::IfNeeded),
        Some(other) => Err(unsupported(&at, other, &["IfNeeded", "Never"])),
    }
}

/// `timeoutSeconds`: 10 when absent, else 1 to 30.
fn timeout(value: Option<&Value>, at: &str) -> Result<Duration, String> {
    let Some(value) = value else {
        return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECONDS));
    };
    match value.as_i64() {
        Some(seconds) if TIMEOUT_SECONDS.contains(&seconds) => {
            Ok(Duration::from_secs(seconds.unsigned_abs()))
        }
        _ => Err(format!(
            "{at}.timeoutSeconds: Invalid value: {value}: the timeout value must be between 1 and 30 seconds"
        )),
    }
}

/// A label selector object; absent means everything (v1's default `{}`).
fn selector(value: Option<&Value>, at: &str) -> Result<LabelSelector, String> {
    match value {
        None => Ok(LabelSelector::everything()),
        Some(v) => label_selector_from_object(v).map_err(|e| format!("{at}: {e}")),
    }
}

fn match_conditions(value: Option<&Value>, at: &str) -> Result<Vec<super::MatchCondition>, String> {
    let at = format!("{at}.matchConditions");
    objects(value, &at)?
        .into_iter()
        .enumerate()
        .map(|(i, condition)| {
            let at = format!("{at}[{i}]");
            let name = string(condition.get("name"), &format!("{at}.name"))?.unwrap_or_default();
            let expression = string(condition.get("expression"), &format!("{at}.expression"))?
                .unwrap_or_default();
            Ok(cel::compile(name, expression))
        })
        .collect()
}

/// `clientConfig`: exactly one of `url` and `service`, and the `caBundle` (base64 in JSON,
/// PEM once decoded).
fn client_config(value: Option<&Value>, at: &str) -> Result<(Endpoint, Vec<u8>), String> {
    let config = match value {
        Some(Value::Object(config)) => config,
        _ => {
            return Err(format!(
                "{at}: Required value: exactly one of url or service is required"
            ));
        }
    };
    let url = string(config.get("url"), &format!("{at}.url"))?;
    let service = config.get("service").filter(|s| !s.is_null());
    let endpoint = match (url, service) {
        (Some(url), None) => Endpoint::Url(url.to_string()),
        (None, Some(service)) => service_endpoint(service, &format!("{at}.service"))?,
        _ => {
            return Err(format!(
                "{at}: Required value: exactly one of url or service is required"
            ));
        }
    };
    let ca_bundle = match string(config.get("caBundle"), &format!("{at}.caBundle"))? {
        None => Vec::new(),
        Some(text) => STANDARD
            .decode(text.as_bytes())
            .map_err(|e| format!("{at}.caBundle: not valid base64: {e}"))?,
    };
    Ok((endpoint, ca_bundle))
}

/// `clientConfig.service`: port 443 and path `/` when absent.
fn service_endpoint(service: &Value, at: &str) -> Result<Endpoint, String> {
    let service = service
        .as_object()
        .ok_or(format!("{at}: must be an object"))?;
    let namespace =
        string(service.get("namespace"), &format!("{at}.namespace"))?.unwrap_or_default();
    let name = string(service.get("name"), &format!("{at}.name"))?.unwrap_or_default();
    let port = match service.get("port").filter(|p| !p.is_null()) {
        None => DEFAULT_SERVICE_PORT,
        Some(p) => p
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or(format!("{at}.port: Invalid value: {p}: port is not valid"))?,
    };
    let path = match string(service.get("path"), &format!("{at}.path"))? {
        None | Some("") => "/",
        Some(path) => path,
    };
    Ok(Endpoint::Service {
        namespace: namespace.to_string(),
        name: name.to_string(),
        port,
        path: path.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Field readers: absent and null are the same; a wrong JSON type is an error naming the field.

fn string<'a>(value: Option<&'a Value>, at: &str) -> Result<Option<&'a str>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{at}: must be a string")),
    }
}

fn strings(value: Option<&Value>, at: &str) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or(format!("{at}[{i}]: must be a string"))
            })
            .collect(),
        Some(_) => Err(format!("{at}: must be a list of strings")),
    }
}

fn objects<'a>(value: Option<&'a Value>, at: &str) -> Result<Vec<&'a Map<String, Value>>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_object()
                    .ok_or(format!("{at}[{i}]: must be an object"))
            })
            .collect(),
        Some(_) => Err(format!("{at}: must be a list")),
    }
}

fn optional_array<'a>(object: &'a Value, key: &str, at: &str) -> Result<&'a [Value], String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{at}: must be a list")),
    }
}

fn unsupported(at: &str, value: &str, supported: &[&str]) -> String {
    let supported: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "{at}: Unsupported value: \"{value}\": supported values: {}",
        supported.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// The set of webhooks in force

/// The webhooks in force, in call order; shared by every request that reads them.
pub type Webhooks = Arc<Vec<Arc<Webhook>>>;

/// Every webhook of one kind, compiled from the watch cache's configurations and kept until
/// the list changes. Shared by all requests.
pub struct WebhookSet {
    kind: WebhookKind,
    /// What the webhooks were compiled from, and the webhooks in call order.
    compiled: Mutex<Option<(Compiled, Webhooks)>>,
}

/// What a compilation was made from: the list's revision, and a fingerprint of its contents
/// (how many configurations, and the newest resourceVersion among them). The cache's revision
/// also moves with progress notifications and with every write to the resource; the
/// fingerprint moves only when a configuration is created, changed or deleted (a create or an
/// update brings a newer resourceVersion, a delete one configuration fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Compiled {
    revision: i64,
    count: usize,
    newest: i64,
}

impl Compiled {
    fn of(configurations: &[Arc<Value>], revision: i64) -> Compiled {
        let newest = configurations
            .iter()
            .filter_map(|c| c.pointer("/metadata/resourceVersion"))
            .filter_map(Value::as_str)
            .filter_map(|rv| rv.parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        Compiled {
            revision,
            count: configurations.len(),
            newest,
        }
    }

    /// Whether webhooks compiled from `self` serve a caller that listed `listed`: the same
    /// contents, or a list older than what was compiled (the newer set is the better answer).
    fn serves(&self, listed: &Compiled) -> bool {
        (self.count, self.newest) == (listed.count, listed.newest)
            || listed.revision < self.revision
    }
}

impl WebhookSet {
    pub fn new(kind: WebhookKind) -> WebhookSet {
        WebhookSet {
            kind,
            compiled: Mutex::new(None),
        }
    }

    /// The webhooks in force, sorted by configuration name then list order (the order kube
    /// calls mutating webhooks in). Recompiled only when the configurations changed;
    /// a configuration that does not compile is skipped, with a warning once per revision.
    pub fn current(&self, state: &dyn ClusterState) -> Result<Webhooks, Status> {
        let resource = self.resource()?;
        let (configurations, revision) = state.list(resource, "")?;
        let listed = Compiled::of(&configurations, revision);
        // A panic elsewhere while holding the lock leaves a complete value behind: keep going.
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, webhooks)) = &*compiled
            && at.serves(&listed)
        {
            return Ok(Arc::clone(webhooks));
        }
        let webhooks = Arc::new(self.compile_all(&configurations, revision));
        *compiled = Some((listed, Arc::clone(&webhooks)));
        Ok(webhooks)
    }

    fn resource(&self) -> Result<&'static Resource, Status> {
        let plural = match self.kind {
            WebhookKind::Mutating => "mutatingwebhookconfigurations",
            WebhookKind::Validating => "validatingwebhookconfigurations",
        };
        resources::lookup("admissionregistration.k8s.io", "v1", plural).ok_or_else(|| {
            Status::internal_error(&format!(
                "admissionregistration.k8s.io/v1 {plural} is not served"
            ))
        })
    }

    fn compile_all(&self, configurations: &[Arc<Value>], revision: i64) -> Vec<Arc<Webhook>> {
        let mut webhooks = Vec::new();
        for configuration in configurations {
            match compile(self.kind, configuration) {
                Ok(compiled) => webhooks.extend(compiled.into_iter().map(Arc::new)),
                Err(error) => {
                    let name = configuration
                        .pointer("/metadata/name")
                        .and_then(Value::as_str);
                    tracing::warn!(
                        kind = self.kind.configuration_kind(),
                        name = name.unwrap_or_default(),
                        revision,
                        %error,
                        "webhook configuration skipped: it does not compile"
                    );
                }
            }
        }
        webhooks.sort_by(|a, b| (&a.configuration, a.index).cmp(&(&b.configuration, b.index)));
        webhooks
    }
}

#[cfg(test)]
mod tests;
