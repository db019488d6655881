//! Admission webhooks: MutatingAdmissionWebhook and ValidatingAdmissionWebhook, kube's
//! `k8s.io/apiserver/pkg/admission/plugin/webhook`.
//!
//! - this file: a webhook as the dispatchers use it ([`Webhook`]), compiled from one entry of
//!   a Mutating- or ValidatingWebhookConfiguration;
//! - `config`: the configurations from the watch cache, compiled once per change
//!   ([`config::compile`], [`config::WebhookSet`]);
//! - `matching`: rules, namespaceSelector, objectSelector; `cel`: matchConditions;
//! - `review`: the AdmissionReview v1 exchange, as JSON (and `grpc` maps it to
//!   `proto/kubesim/admission.proto`);
//! - `client`: one call over either transport: `https` (AdmissionReview JSON, kube's wire
//!   format) or `grpc` (kubesim's), with TLS from `caBundle`, bounded bodies and time, and
//!   each failure classified ([`client::CallError`]);
//! - `dispatch`: mutating webhooks one after another (sorted by configuration name, then
//!   list order), validating webhooks all at once; failure policies, dry runs, reinvocation.

pub mod cel;
pub mod client;
pub mod config;
pub mod dispatch;
pub mod grpc;
pub mod https;
pub mod matching;
pub mod review;

use std::time::Duration;

use kubesim_api::selectors::LabelSelector;

/// The annotation on a webhook configuration that makes its webhooks kubesim's gRPC
/// transport instead of AdmissionReview over HTTPS (docs/admission.md). Its value is `grpc`
/// or `https` (the default).
pub const TRANSPORT_ANNOTATION: &str = kubesim_api::kind_validation::ADMISSION_TRANSPORT_ANNOTATION;

/// Mutating or validating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookKind {
    Mutating,
    Validating,
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Mutating => "mutating",
            WebhookKind::Validating => "validating",
        }
    }

    /// `admissionregistration.k8s.io/v1` kind of its configuration.
    pub fn configuration_kind(self) -> &'static str {
        match self {
            WebhookKind::Mutating => "MutatingWebhookConfiguration",
            WebhookKind::Validating => "ValidatingWebhookConfiguration",
        }
    }
}

/// `failurePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// The v1 default: a failed call refuses the request (500).
    #[default]
    Fail,
    /// A failed call is logged and the webhook skipped.
    Ignore,
}

/// `matchPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchPolicy {
    /// The v1 default: a rule matches a request for an equivalent resource in another
    /// version or group (e.g. `extensions/v1beta1` deployments for `apps/v1`).
    #[default]
    Equivalent,
    Exact,
}

/// `sideEffects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideEffects {
    Unknown,
    Some,
    None,
    NoneOnDryRun,
}

impl SideEffects {
    /// Whether a dry-run request may call the webhook (kube refuses the request otherwise).
    pub fn allows_dry_run(self) -> bool {
        matches!(self, SideEffects::None | SideEffects::NoneOnDryRun)
    }
}

/// `reinvocationPolicy` (mutating webhooks only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReinvocationPolicy {
    #[default]
    Never,
    IfNeeded,
}

/// `scope` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    Cluster,
    Namespaced,
    /// `*`, the default.
    #[default]
    All,
}

/// One `RuleWithOperations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.
    pub operations: Vec<String>,
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    /// `pods`, `pods/status`, `pods/*`, `*/status`, `*`, `*/*`.
    pub resources: Vec<String>,
    pub scope: Scope,
}

/// The transport of a webhook's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// AdmissionReview v1 JSON POSTed over HTTPS, as kube-apiserver does.
    #[default]
    Https,
    /// kubesim's `AdmissionWebhook.Review` over gRPC with TLS.
    Grpc,
}

/// Where a webhook is reached (`clientConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `clientConfig.url`: `https://host[:port]/path`.
    Url(String),
    /// `clientConfig.service`: kube calls `https://<name>.<namespace>.svc:<port><path>`.
    /// kubesim has no cluster DNS: it dials the Service's `spec.externalName` (or, failing
    /// that, its first `spec.externalIPs`) and names `<name>.<namespace>.svc` in TLS, so the
    /// webhook's certificate is checked as kube checks it (docs/admission.md).
    Service {
        namespace: String,
        name: String,
        /// Default 443.
        port: u16,
        /// Default `/`.
        path: String,
    },
}

/// One `CEL` match condition (`matchConditions[]`), compiled once with its configuration
/// (`cel::compile`).
#[derive(Debug, Clone)]
pub struct MatchCondition {
    pub name: String,
    pub expression: String,
    /// The program, or why the expression does not compile. A condition that does not
    /// compile keeps its webhook: as in kube, it is an error each time it is evaluated, and
    /// the failure policy decides.
    pub program: Result<std::sync::Arc<::cel::Program>, String>,
}

/// One webhook, compiled from its configuration with v1 defaults applied.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub kind: WebhookKind,
    /// `webhooks[].name`, fully qualified (`label-injector.kubesim.io`).
    pub name: String,
    /// The configuration's `metadata.name`; mutating webhooks run sorted by it.
    pub configuration: String,
    /// The webhook's position in its configuration's list.
    pub index: usize,
    pub rules: Vec<Rule>,
    pub failure_policy: FailurePolicy,
    pub match_policy: MatchPolicy,
    /// `namespaceSelector`; everything when absent.
    pub namespace_selector: LabelSelector,
    /// `objectSelector`; everything when absent.
    pub object_selector: LabelSelector,
    pub side_effects: SideEffects,
    /// `timeoutSeconds` (default 10, 1 to 30).
    pub timeout: Duration,
    /// `admissionReviewVersions`; kubesim speaks `v1` only, and refuses a webhook without it
    /// at call time as kube does.
    pub admission_review_versions: Vec<String>,
    pub reinvocation_policy: ReinvocationPolicy,
    pub match_conditions: Vec<MatchCondition>,
    pub endpoint: Endpoint,
    /// `clientConfig.caBundle`, PEM. Empty means the system's roots to kube; kubesim trusts
    /// no system roots, so such a call fails with a TLS error that says so.
    pub ca_bundle: Vec<u8>,
    pub transport: Transport,
}
