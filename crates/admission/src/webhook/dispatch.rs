//! The two webhook plugins: MutatingAdmissionWebhook calls its webhooks one after another,
//! each seeing the object as the previous one left it; ValidatingAdmissionWebhook calls its
//! webhooks all at once. kube's `mutating/dispatcher.go` and `validating/dispatcher.go`.
//!
//! For every webhook: match it (rules, selectors, matchConditions), refuse a dry run it cannot
//! take, call it within `min(timeoutSeconds, the request's time left)`, and then:
//! - a failed call (unreachable, TLS, timeout, bad answer, wrong uid) follows
//!   `failurePolicy`: `Fail` → 500 `failed calling webhook "<name>": …`, `Ignore` → skipped,
//!   logged, and noted in the audit annotations as kube does; a match condition that errored
//!   is skipped under `Ignore` and refused as forbidden (403) under `Fail`, kube's matcher;
//! - a denial → kube's `ToStatusErr`: the webhook's code (400 when it gives none below 400),
//!   `admission webhook "<name>" denied the request: <message>`;
//! - warnings → `Warning` headers; audit annotations → `<webhook name>/<key>`;
//! - a mutating webhook's JSON patch is applied with kube's JSON patch semantics (the same
//!   code as PATCH requests, `kubesim_api::patch::json_patch`: kube applies webhook patches
//!   with the same library as its PATCH handler, departures from RFC 6902 included).
//!
//! Reinvocation (kube's `webhookReinvokeContext`): a mutating webhook with
//! `reinvocationPolicy: IfNeeded` that ran before the object changed again is called once
//! more in a second pass of the mutating phase, which the chain runs ([`Reinvocation`]).
//!
//! Each call is a DEBUG span named as kube's dispatchers name theirs (`Call mutating
//! webhook`, `Call validating webhook`), inside its plugin's span (`crate::chain`).
//!
//! Validating webhooks finish in any order; kube returns whichever error arrived first, kubesim
//! the first in webhook order, so a run is reproducible.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::join_all;
use kubesim_api::Status;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use super::client::{CallErrorKind, WebhookClient};
use super::config::WebhookSet;
use super::matching::{MatchOutcome, should_call};
use super::review::{AdmissionRequest, AdmissionResponse, GroupVersionKind, GroupVersionResource};
use super::{FailurePolicy, ReinvocationPolicy, Webhook, WebhookKind};
use crate::planted::PlantedBug;
use crate::{Attributes, ClusterState, Record, Step};

/// Why a webhook is not called when the request has no time left for it.
const DEADLINE_PASSED: &str =
    "failed to call webhook: the request's deadline has passed: context deadline exceeded";

/// What the mutating phase of one request remembers between its two passes (kube's
/// `webhookReinvokeContext` and the admission `ReinvocationContext`).
#[derive(Debug, Default)]
pub struct Reinvocation {
    /// This is the second pass.
    pub is_reinvoke: bool,
    /// A second pass is needed.
    pub should_reinvoke: bool,
    /// The object as the last webhook call left it.
    last_output: Option<Value>,
    /// IfNeeded webhooks called since the object last changed.
    previously_invoked: BTreeSet<String>,
    /// The webhooks the second pass calls.
    to_reinvoke: BTreeSet<String>,
}

impl Reinvocation {
    fn require_reinvoking_previously_invoked(&mut self) {
        let invoked = std::mem::take(&mut self.previously_invoked);
        self.to_reinvoke.extend(invoked);
    }
}

/// A webhook's identity within one request (kube's webhook UID: configuration and index).
fn webhook_key(webhook: &Webhook) -> String {
    format!(
        "{}/{}/{}",
        webhook.configuration, webhook.index, webhook.name
    )
}

/// MutatingAdmissionWebhook or ValidatingAdmissionWebhook.
pub struct WebhookDispatcher {
    kind: WebhookKind,
    set: WebhookSet,
    client: Arc<WebhookClient>,
    state: Arc<dyn ClusterState>,
    /// Test-only (`crate::planted`); `None` in every real run.
    planted_bug: PlantedBug,
}

impl WebhookDispatcher {
    pub fn new(
        kind: WebhookKind,
        client: Arc<WebhookClient>,
        state: Arc<dyn ClusterState>,
    ) -> WebhookDispatcher {
        WebhookDispatcher {
            kind,
            set: WebhookSet::new(kind),
            client,
            state,
            planted_bug: PlantedBug::None,
        }
    }

    /// This dispatcher with a known bug planted (the simulation only).
    pub fn with_planted_bug(mut self, bug: PlantedBug) -> WebhookDispatcher {
        self.planted_bug = bug;
        self
    }

    pub fn kind(&self) -> WebhookKind {
        self.kind
    }

    /// The mutating webhooks, in order, on `object` (`None` on DELETE: the webhooks are called
    /// and may refuse, but may not patch). kube's `mutatingDispatcher.Dispatch`.
    pub async fn mutate(
        &self,
        attrs: &Attributes,
        mut object: Option<&mut Value>,
        record: &Record,
        reinvocation: &mut Reinvocation,
    ) -> Result<(), Status> {
        let webhooks = self.set.current(self.state.as_ref())?;
        if webhooks.is_empty() {
            // Nothing to call, so nothing to reinvoke: skip keeping the last output (kube
            // keeps it always, but only a webhook ever reads it), a copy of the whole object
            // on every create and update.
            return Ok(());
        }
        if reinvocation.is_reinvoke
            && let (Some(last), Some(current)) = (&reinvocation.last_output, object.as_deref())
            && last != current
        {
            // The built-in plugins, run again, changed the object after the last webhook saw
            // it: every IfNeeded webhook called so far sees it once more.
            reinvocation.require_reinvoking_previously_invoked();
        }
        // Boxed: the calls' futures (HTTPS or gRPC, with their timeouts) are kilobytes, and
        // unboxed they would make every write's admission future that large, and so every
        // future around it, copied at each level whether or not a webhook is configured.
        let result = Box::pin(self.mutate_each(
            &webhooks,
            attrs,
            object.as_deref_mut(),
            record,
            reinvocation,
        ))
        .await;
        // kube records the last output whatever the outcome (a deferred call).
        reinvocation.last_output = object.as_deref().cloned();
        result
    }

    async fn mutate_each(
        &self,
        webhooks: &[Arc<Webhook>],
        attrs: &Attributes,
        mut object: Option<&mut Value>,
        record: &Record,
        reinvocation: &mut Reinvocation,
    ) -> Result<(), Status> {
        let round = usize::from(reinvocation.is_reinvoke);
        // kube's annotation index is the webhook's place among all of this kind, sorted.
        for (index, webhook) in webhooks.iter().enumerate() {
            if !self
                .matches(webhook, attrs, object.as_deref(), record)
                .await?
            {
                continue;
            }
            let key = webhook_key(webhook);
            // A webhook is never called for the first time in the second pass.
            if reinvocation.is_reinvoke && !reinvocation.to_reinvoke.contains(&key) {
                continue;
            }
            let place = Place { round, index };
            let (changed, result) = self
                .call_mutating(webhook, place, attrs, object.as_deref_mut(), record)
                .instrument(call_span(self.kind, webhook))
                .await;
            if changed {
                reinvocation.require_reinvoking_previously_invoked();
                reinvocation.should_reinvoke = true;
            }
            if webhook.reinvocation_policy == ReinvocationPolicy::IfNeeded {
                reinvocation.previously_invoked.insert(key);
            }
            result?;
        }
        Ok(())
    }

    /// One mutating webhook (kube's `callAttrMutatingHook` and what `Dispatch` does with its
    /// error). Returns whether it changed the object, and the request's fate.
    async fn call_mutating(
        &self,
        webhook: &Webhook,
        place: Place,
        attrs: &Attributes,
        object: Option<&mut Value>,
        record: &Record,
    ) -> (bool, Result<(), Status>) {
        let started = Instant::now();
        let response = self
            .invoke(webhook, attrs, object.as_deref(), record, started)
            .await;
        let (changed, result) = match response {
            Ok(Some(response)) => match apply_patch(webhook, &response, object) {
                Ok(changed) => {
                    let outcome = if changed { "patched" } else { "admitted" };
                    record.step(self.step(webhook, outcome.into(), started));
                    (changed, Ok(()))
                }
                Err(status) => {
                    record.step(self.step(
                        webhook,
                        format!("refused: {}", status.message),
                        started,
                    ));
                    (false, Err(status))
                }
            },
            Ok(None) => (false, Ok(())),
            Err(Failure::Refused(status)) => (false, Err(*status)),
            Err(Failure::Call(message)) => (
                false,
                self.call_failed(webhook, place, attrs, message, record, started),
            ),
        };
        record.annotate(
            &format!(
                "mutation.webhook.admission.k8s.io/round_{}_index_{}",
                place.round, place.index
            ),
            &json!({
                "configuration": webhook.configuration,
                "webhook": webhook.name,
                "mutated": changed,
            })
            .to_string(),
        );
        (changed, result)
    }

    /// The validating webhooks, all at once; the first refusal in webhook order wins (kube:
    /// the first to arrive). kube's `validatingDispatcher.Dispatch`.
    pub async fn validate(
        &self,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<(), Status> {
        let webhooks = self.set.current(self.state.as_ref())?;
        let mut relevant = Vec::new();
        for webhook in webhooks.iter() {
            if self.matches(webhook, attrs, object, record).await? {
                relevant.push(webhook);
            }
        }
        if relevant.is_empty() {
            return Ok(());
        }
        if deadline_passed(attrs) {
            // kube checks before it spawns the calls: no point in starting them.
            return Err(request_timed_out());
        }
        // kube's annotation index is the webhook's place among those that matched.
        let calls = relevant.iter().enumerate().map(|(index, webhook)| {
            self.call_validating(webhook, Place { round: 0, index }, attrs, object, record)
                .instrument(call_span(self.kind, webhook))
        });
        for result in join_all(calls).await {
            result?;
        }
        Ok(())
    }

    async fn call_validating(
        &self,
        webhook: &Webhook,
        place: Place,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<(), Status> {
        let started = Instant::now();
        match self.invoke(webhook, attrs, object, record, started).await {
            Ok(Some(_)) => {
                record.step(self.step(webhook, "admitted".into(), started));
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(Failure::Refused(status)) => Err(*status),
            Err(Failure::Call(message)) => {
                self.call_failed(webhook, place, attrs, message, record, started)
            }
        }
    }

    /// Whether `webhook` is to be called: rules, selectors, matchConditions. A condition that
    /// errors skips the webhook under Ignore and refuses the request (403) under Fail, as
    /// kube's matcher does.
    async fn matches(
        &self,
        webhook: &Webhook,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<bool, Status> {
        let started = Instant::now();
        match should_call(webhook, attrs, object, self.state.as_ref()).await {
            MatchOutcome::NoMatch => Ok(false),
            MatchOutcome::Match => Ok(true),
            MatchOutcome::Error(message) => {
                if webhook.failure_policy == FailurePolicy::Ignore {
                    record.step(self.step(
                        webhook,
                        format!("skipped (Ignore): {message}"),
                        started,
                    ));
                    return Ok(false);
                }
                record.step(self.step(webhook, format!("refused: {message}"), started));
                Err(crate::plugins::forbidden_object(attrs, object, &message))
            }
        }
    }

    /// Calls a webhook that matched: the dry-run check, the call within the time left, the
    /// warnings and audit annotations it sends, and its denial. `Ok(Some)` is an allowing
    /// answer; the caller records that step.
    async fn invoke(
        &self,
        webhook: &Webhook,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
        started: Instant,
    ) -> Result<Option<AdmissionResponse>, Failure> {
        if attrs.dry_run && !webhook.side_effects.allows_dry_run() {
            record.step(self.step(webhook, "refused: no dry run".into(), started));
            return Err(Failure::Refused(Box::new(Status::bad_request(&format!(
                "admission webhook {:?} does not support dry run",
                webhook.name
            )))));
        }
        let request = admission_request(attrs, object);
        let timeout = attrs.time_left(webhook.timeout);
        if timeout.is_zero() {
            return Err(Failure::Call(DEADLINE_PASSED.to_string()));
        }
        let response = match self.client.call(webhook, &request, timeout).await {
            Ok(response) => response,
            // Planted (test-only): a timed-out call is skipped whatever the failurePolicy.
            Err(e)
                if e.kind == CallErrorKind::Timeout
                    && self.planted_bug.is(PlantedBug::FailOpenOnTimeout) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Failure::Call(e.message)),
        };
        for warning in &response.warnings {
            record.warn(warning);
        }
        for (key, value) in &response.audit_annotations {
            record.annotate(&format!("{}/{key}", webhook.name), value);
        }
        if !response.allowed {
            let status = denial(&webhook.name, &response);
            record.step(self.step(webhook, format!("denied: {}", status.message), started));
            return Err(Failure::Refused(Box::new(status)));
        }
        Ok(Some(response))
    }

    /// A call that failed: refused (500) under `Fail`; under `Ignore` skipped with kube's
    /// fail-open annotation, unless the request's own time is up (504, as kube answers).
    fn call_failed(
        &self,
        webhook: &Webhook,
        place: Place,
        attrs: &Attributes,
        error: String,
        record: &Record,
        started: Instant,
    ) -> Result<(), Status> {
        let message = format!("failed calling webhook {:?}: {error}", webhook.name);
        match webhook.failure_policy {
            FailurePolicy::Fail => {
                record.step(self.step(webhook, format!("failed (Fail): {error}"), started));
                Err(Status::internal_error(&message))
            }
            FailurePolicy::Ignore => {
                tracing::warn!(webhook = %webhook.name, "{message}; failurePolicy Ignore: skipped");
                record.step(self.step(webhook, format!("failed (Ignore): {error}"), started));
                let prefix = match self.kind {
                    WebhookKind::Mutating => "failed-open.mutation.webhook.admission.k8s.io",
                    WebhookKind::Validating => "failed-open.validating.webhook.admission.k8s.io",
                };
                let key = format!("{prefix}/round_{}_index_{}", place.round, place.index);
                record.annotate(&key, &webhook.name);
                if self.kind == WebhookKind::Mutating && deadline_passed(attrs) {
                    return Err(request_timed_out());
                }
                Ok(())
            }
        }
    }

    fn step(&self, webhook: &Webhook, outcome: String, started: Instant) -> Step {
        Step {
            name: webhook.name.clone(),
            phase: self.kind.as_str(),
            outcome,
            duration: started.elapsed(),
        }
    }
}

/// The span of one webhook call, by kube's names for it (its dispatchers' `utiltrace`
/// spans): the configuration and the webhook it calls.
fn call_span(kind: WebhookKind, webhook: &Webhook) -> tracing::Span {
    match kind {
        WebhookKind::Mutating => tracing::debug_span!(
            target: crate::TRACE_TARGET,
            "Call mutating webhook",
            configuration = %webhook.configuration,
            webhook = %webhook.name,
        ),
        WebhookKind::Validating => tracing::debug_span!(
            target: crate::TRACE_TARGET,
            "Call validating webhook",
            configuration = %webhook.configuration,
            webhook = %webhook.name,
        ),
    }
}

/// Where a call stands in the request, for kube's audit annotation keys.
#[derive(Debug, Clone, Copy)]
struct Place {
    round: usize,
    index: usize,
}

/// Why a matched webhook did not allow the request.
enum Failure {
    /// The call failed: its failure policy decides.
    Call(String),
    /// The request is refused whatever the policy (a denial, a dry run it cannot take).
    Refused(Box<Status>),
}

fn deadline_passed(attrs: &Attributes) -> bool {
    attrs
        .deadline
        .is_some_and(|deadline| Instant::now() >= deadline)
}

/// kube's `NewTimeoutError("request did not complete within requested timeout", 0)`.
fn request_timed_out() -> Status {
    Status::timeout("request did not complete within requested timeout", 0)
}

/// Applies a mutating webhook's patch to `object`; `Ok(true)` when it changed the object. A
/// patch with no object to apply it to (DELETE) is refused, as kube refuses it.
fn apply_patch(
    webhook: &Webhook,
    response: &AdmissionResponse,
    object: Option<&mut Value>,
) -> Result<bool, Status> {
    let Some(patch) = response.patch.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let Some(object) = object else {
        return Err(Status::internal_error(&format!(
            "admission webhook {:?} attempted to modify the object, which is not supported for \
             this operation",
            webhook.name
        )));
    };
    let patched = kubesim_api::patch::apply_json_patch(object, patch).map_err(|e| {
        Status::internal_error(&format!(
            "failed calling webhook {:?}: the JSON patch it returned does not apply: {e}",
            webhook.name
        ))
    })?;
    check_type_unchanged(webhook, object, &patched)?;
    let changed = patched != *object;
    *object = patched;
    Ok(changed)
}

/// A patch may change the object, not what it is: kube decodes the patched object into the
/// request's kind and fails the call when it cannot.
fn check_type_unchanged(webhook: &Webhook, before: &Value, after: &Value) -> Result<(), Status> {
    for field in ["apiVersion", "kind"] {
        if before.get(field) != after.get(field) {
            return Err(Status::internal_error(&format!(
                "failed calling webhook {:?}: its patch changed the object's {field}",
                webhook.name
            )));
        }
    }
    for field in ["name", "namespace"] {
        let old = before.pointer(&format!("/metadata/{field}"));
        let new = after.pointer(&format!("/metadata/{field}"));
        if old != new && old.is_some_and(|v| v.as_str() != Some("")) {
            return Err(Status::internal_error(&format!(
                "failed calling webhook {:?}: its patch changed metadata.{field}",
                webhook.name
            )));
        }
    }
    Ok(())
}

/// kube's `webhookerrors.ToStatusErr`.
fn denial(webhook: &str, response: &AdmissionResponse) -> Status {
    let status = response.status.clone().unwrap_or_default();
    // kube raises a code under 400 to 400 and keeps the rest (HTTP stops at 999).
    let code = u16::try_from(status.code)
        .ok()
        .filter(|code| (400..=999).contains(code))
        .unwrap_or(400);
    let denied_by = format!("admission webhook {webhook:?} denied the request");
    let message = if !status.message.is_empty() {
        format!("{denied_by}: {}", status.message)
    } else if !status.reason.is_empty() {
        format!("{denied_by}: {}", status.reason)
    } else {
        format!("{denied_by} without explanation")
    };
    Status::failure(code, &status.reason, message)
}

/// The AdmissionRequest kube sends for this write.
pub fn admission_request(attrs: &Attributes, object: Option<&Value>) -> AdmissionRequest {
    let resource = attrs.resource;
    let kind = GroupVersionKind {
        group: resource.group.to_string(),
        version: resource.version.to_string(),
        kind: resource.kind.to_string(),
    };
    let gvr = GroupVersionResource {
        group: resource.group.to_string(),
        version: resource.version.to_string(),
        resource: resource.plural.to_string(),
    };
    AdmissionRequest {
        uid: attrs.uid.clone(),
        kind: kind.clone(),
        resource: gvr.clone(),
        sub_resource: attrs.subresource.clone(),
        request_kind: Some(kind),
        request_resource: Some(gvr),
        request_sub_resource: attrs.subresource.clone(),
        name: attrs.name.clone(),
        namespace: attrs.namespace.clone(),
        operation: attrs.operation.as_str().to_string(),
        user_info: (*attrs.user).clone(),
        object: object.cloned(),
        old_object: attrs.old_object.clone(),
        dry_run: Some(attrs.dry_run),
        options: (!attrs.options.is_null()).then(|| attrs.options.clone()),
    }
}
