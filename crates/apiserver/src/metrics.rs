//! `/metrics`: the API server's counters and histograms in Prometheus' text format (0.0.4,
//! what kube-apiserver serves), under kube's own names and labels, kept with the
//! `prometheus` crate (TiKV's; without its protobuf feature):
//!
//! | metric | what |
//! |---|---|
//! | `apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}` | every answered request |
//! | `apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}` | from the chain's start to the response (a watch: to its first byte) |
//! | `apiserver_request_filter_duration_seconds{filter}` | each stage of the chain: authentication, audit, impersonation, priorityandfairness, authorization |
//! | `apiserver_current_inflight_requests{request_kind}` | requests being served, `readOnly` and `mutating` (watches not counted) |
//! | `apiserver_longrunning_requests{verb,group,version,resource,subresource,scope,component}` | watches open |
//! | `apiserver_admission_controller_admission_duration_seconds{name,type,operation,rejected}` | each built-in admission plugin |
//! | `apiserver_admission_webhook_admission_duration_seconds{name,type,operation,rejected}` | each admission webhook call |
//! | `etcd_request_duration_seconds{operation,type}` | each call to the store |
//! | `kubesim_apiserver_validation_duration_seconds{resource,operation,rejected}` | object validation of a create or update (kube has no such metric: the name says it is ours) |
//!
//! API Priority and Fairness (`apiserver_flowcontrol_*`) and audit (`apiserver_audit_*`)
//! counters come from their own state at each scrape and are appended in the same format.

use std::time::Duration;

use kubesim_api::RequestInfo;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// kube's `apiserver_request_duration_seconds` buckets.
const REQUEST_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];
/// kube's `apiserver_request_filter_duration_seconds` buckets.
const FILTER_BUCKETS: [f64; 11] = [
    0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 5.0, 10.0,
];
/// kube's admission controller buckets (the webhook histogram adds 10 and 25 s).
const ADMISSION_BUCKETS: [f64; 6] = [0.005, 0.025, 0.1, 0.5, 1.0, 2.5];
const WEBHOOK_BUCKETS: [f64; 8] = [0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10.0, 25.0];

const REQUEST_LABELS: [&str; 8] = [
    "verb",
    "dry_run",
    "group",
    "version",
    "resource",
    "subresource",
    "scope",
    "component",
];
const COMPONENT: &str = "apiserver";

/// The API server's metrics; one per server, shared by the chain and the handlers.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    request_total: IntCounterVec,
    request_duration: HistogramVec,
    filter_duration: HistogramVec,
    inflight: IntGaugeVec,
    longrunning: IntGaugeVec,
    admission_controller: HistogramVec,
    admission_webhook: HistogramVec,
    etcd_request: HistogramVec,
    validation: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut total_labels = REQUEST_LABELS.to_vec();
        total_labels.push("code");
        let metrics = Metrics {
            registry: Registry::new(),
            request_total: counter(
                "apiserver_request_total",
                "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
                &total_labels,
            ),
            request_duration: histogram(
                "apiserver_request_duration_seconds",
                "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
                &REQUEST_BUCKETS,
                &REQUEST_LABELS,
            ),
            filter_duration: histogram(
                "apiserver_request_filter_duration_seconds",
                "Request filter latency distribution in seconds, for each filter type",
                &FILTER_BUCKETS,
                &["filter"],
            ),
            inflight: gauge(
                "apiserver_current_inflight_requests",
                "Maximal number of currently used inflight request limit of this apiserver per request kind in last second.",
                &["request_kind"],
            ),
            longrunning: gauge(
                "apiserver_longrunning_requests",
                "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.",
                &[
                    "verb",
                    "group",
                    "version",
                    "resource",
                    "subresource",
                    "scope",
                    "component",
                ],
            ),
            admission_controller: histogram(
                "apiserver_admission_controller_admission_duration_seconds",
                "Admission controller latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit).",
                &ADMISSION_BUCKETS,
                &["name", "type", "operation", "rejected"],
            ),
            admission_webhook: histogram(
                "apiserver_admission_webhook_admission_duration_seconds",
                "Admission webhook latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit).",
                &WEBHOOK_BUCKETS,
                &["name", "type", "operation", "rejected"],
            ),
            etcd_request: histogram(
                "etcd_request_duration_seconds",
                "Etcd request latency in seconds for each operation and object type.",
                &REQUEST_BUCKETS,
                &["operation", "type"],
            ),
            validation: histogram(
                "kubesim_apiserver_validation_duration_seconds",
                "Object validation latency in seconds (a create's or update's ValidateObject), for each resource and operation, and whether it refused the object.",
                &FILTER_BUCKETS,
                &["resource", "operation", "rejected"],
            ),
        };
        metrics.register_all();
        metrics
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 9] = [
            Box::new(self.request_total.clone()),
            Box::new(self.request_duration.clone()),
            Box::new(self.filter_duration.clone()),
            Box::new(self.inflight.clone()),
            Box::new(self.longrunning.clone()),
            Box::new(self.admission_controller.clone()),
            Box::new(self.admission_webhook.clone()),
            Box::new(self.etcd_request.clone()),
            Box::new(self.validation.clone()),
        ];
        for collector in collectors {
            // Invariant: each name is registered once, here.
            if let Err(error) = self.registry.register(collector) {
                tracing::error!(%error, "registering a metric failed");
            }
        }
    }

    /// An answered request: its count by code, and its latency.
    pub fn observe_request(&self, labels: &RequestLabels, code: u16, elapsed: Duration) {
        let values = labels.values();
        let code = code.to_string();
        let mut with_code: Vec<&str> = values.to_vec();
        with_code.push(&code);
        self.request_total.with_label_values(&with_code).inc();
        self.request_duration
            .with_label_values(&values)
            .observe(elapsed.as_secs_f64());
    }

    /// How long one stage of the chain took (`authentication`, `audit`, `impersonation`,
    /// `priorityandfairness`, `authorization`).
    pub fn observe_filter(&self, filter: &str, elapsed: Duration) {
        self.filter_duration
            .with_label_values(&[filter])
            .observe(elapsed.as_secs_f64());
    }

    /// A request being served, counted until the guard drops.
    pub fn inflight(&self, mutating: bool) -> GaugeGuard {
        let kind = if mutating { "mutating" } else { "readOnly" };
        GaugeGuard::new(self.inflight.with_label_values(&[kind]))
    }

    /// A watch open, counted until the guard drops.
    pub fn longrunning(&self, labels: &RequestLabels) -> GaugeGuard {
        let v = labels.values();
        let values = [v[0], v[2], v[3], v[4], v[5], v[6], v[7]];
        GaugeGuard::new(self.longrunning.with_label_values(&values))
    }

    /// One admission step (`kubesim_admission::Step`): a built-in plugin's or a webhook's.
    pub fn observe_admission(&self, step: &kubesim_admission::Step, operation: &str) {
        // kube's `type` label: `admit` for mutating, `validate` (plugins) or `validating`
        // (webhooks) for validating.
        let webhook = is_webhook(&step.name);
        let kind = match (step.phase, webhook) {
            ("mutating", _) => "admit",
            (_, true) => "validating",
            _ => "validate",
        };
        let rejected =
            step.outcome.starts_with("denied") || step.outcome.starts_with("failed (Fail)");
        let rejected = if rejected { "true" } else { "false" };
        let family = if webhook {
            &self.admission_webhook
        } else {
            &self.admission_controller
        };
        family
            .with_label_values(&[step.name.as_str(), kind, operation, rejected])
            .observe(step.duration.as_secs_f64());
    }

    /// One object validation (a 422 is `rejected="true"`).
    pub fn observe_validation(
        &self,
        resource: &str,
        operation: &str,
        rejected: bool,
        elapsed: Duration,
    ) {
        let rejected = if rejected { "true" } else { "false" };
        self.validation
            .with_label_values(&[resource, operation, rejected])
            .observe(elapsed.as_secs_f64());
    }

    /// One call to the store.
    pub fn observe_etcd(&self, operation: &str, resource: &str, elapsed: Duration) {
        self.etcd_request
            .with_label_values(&[operation, resource])
            .observe(elapsed.as_secs_f64());
    }

    /// Everything registered, in Prometheus' text format.
    pub fn encode(&self) -> String {
        let families = self.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_default()
    }
}

/// A webhook's name is a domain name with at least three segments (kube's validation); a
/// built-in plugin's is a CamelCase word.
fn is_webhook(name: &str) -> bool {
    name.contains('.')
}

/// Decrements its gauge when dropped.
#[derive(Debug)]
pub struct GaugeGuard(prometheus::IntGauge);

impl GaugeGuard {
    fn new(gauge: prometheus::IntGauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// kube's request labels (`verb` is kube's reported verb: `LIST`, `WATCH`, `GET`, `POST`,
/// `PUT`, `PATCH`, `APPLY`, `DELETE`; `scope` is `cluster`, `namespace` or `resource`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLabels {
    pub verb: String,
    pub dry_run: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: String,
}

impl RequestLabels {
    /// The labels of a request, from its method, info, and query (`dryRun`) and content
    /// type (server-side apply is `APPLY`).
    pub fn of(method: &str, info: &RequestInfo, query: &str, content_type: &str) -> RequestLabels {
        let verb = match info.verb.as_str() {
            "list" if info.is_resource_request => "LIST".to_string(),
            "watch" if info.is_resource_request => "WATCH".to_string(),
            "patch" if content_type.starts_with("application/apply-patch") => "APPLY".to_string(),
            _ => method.to_ascii_uppercase(),
        };
        let dry_run = kubesim_api::request_info::query_pairs(query)
            .into_iter()
            .filter(|(key, _)| key == "dryRun")
            .map(|(_, value)| value)
            .next()
            .unwrap_or_default();
        let scope = if !info.is_resource_request {
            ""
        } else if !info.name.is_empty() {
            "resource"
        } else if !info.namespace.is_empty() {
            "namespace"
        } else {
            "cluster"
        };
        RequestLabels {
            verb,
            dry_run,
            group: info.api_group.clone(),
            version: info.api_version.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone(),
            scope: scope.to_string(),
        }
    }

    /// In `REQUEST_LABELS` order.
    fn values(&self) -> [&str; 8] {
        [
            &self.verb,
            &self.dry_run,
            &self.group,
            &self.version,
            &self.resource,
            &self.subresource,
            &self.scope,
            COMPONENT,
        ]
    }
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    // Invariant: the names and labels here are constants Prometheus accepts.
    IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter definition")
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    // Invariant: as for `counter`.
    IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge definition")
}

fn histogram(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    // Invariant: as for `counter` (and the buckets increase).
    HistogramVec::new(opts, labels).expect("a valid histogram definition")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: &str, path: &str, query: &str) -> RequestInfo {
        kubesim_api::request_info::try_parse(method, path, query).expect("a request path")
    }

    #[test]
    fn requests_are_labelled_as_kube_labels_them() {
        let list = info("GET", "/api/v1/namespaces/default/pods", "");
        let labels = RequestLabels::of("GET", &list, "", "");
        assert_eq!(
            (
                labels.verb.as_str(),
                labels.scope.as_str(),
                labels.resource.as_str()
            ),
            ("LIST", "namespace", "pods")
        );
        let get = info(
            "GET",
            "/apis/apps/v1/namespaces/a/deployments/web/status",
            "",
        );
        let labels = RequestLabels::of("GET", &get, "", "");
        assert_eq!(
            (
                labels.verb.as_str(),
                labels.scope.as_str(),
                labels.group.as_str(),
                labels.subresource.as_str()
            ),
            ("GET", "resource", "apps", "status")
        );
        let create = info("POST", "/api/v1/namespaces", "dryRun=All");
        let labels = RequestLabels::of("POST", &create, "dryRun=All", "application/json");
        assert_eq!(
            (
                labels.verb.as_str(),
                labels.scope.as_str(),
                labels.dry_run.as_str()
            ),
            ("POST", "cluster", "All")
        );
        let apply = info("PATCH", "/api/v1/namespaces/a/configmaps/c", "");
        let labels = RequestLabels::of("PATCH", &apply, "", "application/apply-patch+yaml");
        assert_eq!(labels.verb, "APPLY");
        let watch = info("GET", "/api/v1/pods", "watch=1");
        assert_eq!(
            RequestLabels::of("GET", &watch, "watch=1", "").verb,
            "WATCH"
        );
        let version = info("GET", "/version", "");
        let labels = RequestLabels::of("GET", &version, "", "");
        assert_eq!((labels.verb.as_str(), labels.scope.as_str()), ("GET", ""));
    }

    #[test]
    fn the_text_has_kubes_names_and_counts() {
        let metrics = Metrics::new();
        let create = info("POST", "/api/v1/namespaces/a/pods", "");
        let labels = RequestLabels::of("POST", &create, "", "application/json");
        metrics.observe_request(&labels, 201, Duration::from_millis(30));
        metrics.observe_request(&labels, 201, Duration::from_millis(70));
        metrics.observe_filter("authentication", Duration::from_micros(200));
        {
            let _busy = metrics.inflight(true);
            assert!(
                metrics
                    .encode()
                    .contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 1")
            );
        }
        let step = kubesim_admission::Step {
            name: "no-privileged.kubesim.io".into(),
            phase: "validating",
            outcome: "denied: privileged".into(),
            duration: Duration::from_millis(3),
        };
        metrics.observe_admission(&step, "CREATE");
        metrics.observe_etcd("create", "pods", Duration::from_millis(2));
        let text = metrics.encode();
        let expected = [
            "apiserver_request_total{code=\"201\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"POST\",version=\"v1\"} 2",
            "apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"POST\",version=\"v1\",le=\"0.05\"} 1",
            "apiserver_request_duration_seconds_count{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"POST\",version=\"v1\"} 2",
            "apiserver_request_filter_duration_seconds_bucket{filter=\"authentication\",le=\"0.0003\"} 1",
            "apiserver_current_inflight_requests{request_kind=\"mutating\"} 0",
            "apiserver_admission_webhook_admission_duration_seconds_count{name=\"no-privileged.kubesim.io\",operation=\"CREATE\",rejected=\"true\",type=\"validating\"} 1",
            "etcd_request_duration_seconds_count{operation=\"create\",type=\"pods\"} 1",
            "# TYPE apiserver_request_total counter",
        ];
        for line in expected {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }
}
