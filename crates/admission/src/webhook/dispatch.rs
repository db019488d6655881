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
//! Validating webhooks finish in any order; kube returns whichever error arrived first, kubesim
//! the first in webhook order, so a run is reproducible.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::join_all;
use kubesim_api::Status;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::client::{CallError, WebhookClient};
use super::config::WebhookSet;
use super::matching::{MatchOutcome, should_call};
use super::review::{AdmissionRequest, AdmissionResponse, GroupVersionKind, GroupVersionResource};
use super::{FailurePolicy, ReinvocationPolicy, Webhook, WebhookKind};
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
        }
    }

    pub fn kind(&self) -> WebhookKind {
        self.kind
    }

    /// The mutating webhooks, in order, on `object` (`None` on DELETE: the webhooks are called
    /// and may refuse, but there is nothing to patch).
    pub async fn mutate(
        &self,
        attrs: &Attributes,
        mut object: Option<&mut Value>,
        record: &Record,
        reinvocation: &mut Reinvocation,
    ) -> Result<(), Status> {
        let webhooks = self.set.current(self.state.as_ref())?;
        if let (Some(last), Some(current)) = (&reinvocation.last_output, object.as_deref())
            && last != current
        {
            // A built-in plugin changed the object after the last webhook saw it.
            reinvocation.should_reinvoke = true;
            reinvocation.require_reinvoking_previously_invoked();
        }
        let round = usize::from(reinvocation.is_reinvoke);
        for webhook in webhooks.iter() {
            let key = webhook_key(webhook);
            if reinvocation.is_reinvoke && !reinvocation.to_reinvoke.contains(&key) {
                continue;
            }
            let current = object.as_deref();
            let Some(response) = self.call(webhook, attrs, current, record, round).await? else {
                continue;
            };
            if webhook.reinvocation_policy == ReinvocationPolicy::IfNeeded {
                reinvocation.previously_invoked.insert(key);
            }
            let Some(target) = object.as_deref_mut() else {
                continue;
            };
            if apply_patch(webhook, &response, target, record, round)? {
                reinvocation.should_reinvoke = true;
                reinvocation.require_reinvoking_previously_invoked();
            }
        }
        reinvocation.last_output = object.as_deref().cloned();
        Ok(())
    }

    /// The validating webhooks, all at once; the first refusal in webhook order wins.
    pub async fn validate(
        &self,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<(), Status> {
        let webhooks = self.set.current(self.state.as_ref())?;
        let calls = webhooks
            .iter()
            .map(|webhook| self.call(webhook, attrs, object, record, 0));
        for result in join_all(calls).await {
            result?;
        }
        Ok(())
    }

    /// One webhook: match, dry-run check, call, failure policy, denial. `Ok(None)` when the
    /// webhook was not called or its failure was ignored; `Ok(Some)` an allowing answer.
    async fn call(
        &self,
        webhook: &Webhook,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
        round: usize,
    ) -> Result<Option<AdmissionResponse>, Status> {
        let started = Instant::now();
        let step = |outcome: String| Step {
            name: webhook.name.clone(),
            phase: self.kind.as_str(),
            outcome,
            duration: started.elapsed(),
        };
        match should_call(webhook, attrs, object, self.state.as_ref()).await {
            MatchOutcome::NoMatch => return Ok(None),
            MatchOutcome::Match => {}
            MatchOutcome::Error(message) => {
                // kube's matcher: under Ignore the webhook is skipped; under Fail the request
                // is refused as forbidden (not a 500: nothing was called).
                if webhook.failure_policy == FailurePolicy::Ignore {
                    record.step(step(format!("skipped (Ignore): {message}")));
                    return Ok(None);
                }
                record.step(step(format!("refused: {message}")));
                return Err(crate::plugins::forbidden_object(attrs, object, &message));
            }
        }
        if attrs.dry_run && !webhook.side_effects.allows_dry_run() {
            record.step(step("refused: no dry run".into()));
            return Err(Status::bad_request(&format!(
                "admission webhook {:?} does not support dry run",
                webhook.name
            )));
        }
        let request = admission_request(attrs, object);
        let timeout = attrs.time_left(webhook.timeout);
        let answer = if timeout.is_zero() {
            Err(DEADLINE_PASSED.to_string())
        } else {
            self.client
                .call(webhook, &request, timeout)
                .await
                .map_err(|e: CallError| e.message)
        };
        let response = match answer {
            Ok(response) => response,
            Err(error) => return self.failed(webhook, error, record, round, step),
        };
        for warning in &response.warnings {
            record.warn(warning);
        }
        for (key, value) in &response.audit_annotations {
            record.annotate(&format!("{}/{key}", webhook.name), value);
        }
        if !response.allowed {
            let status = denial(&webhook.name, &response);
            record.step(step(format!("denied: {}", status.message)));
            return Err(status);
        }
        let patched = response.patch.as_ref().is_some_and(|p| !p.is_empty());
        record.step(step(if patched { "patched" } else { "admitted" }.into()));
        Ok(Some(response))
    }

    /// A call that failed: refused under `Fail`, skipped under `Ignore`.
    fn failed(
        &self,
        webhook: &Webhook,
        error: String,
        record: &Record,
        round: usize,
        step: impl Fn(String) -> Step,
    ) -> Result<Option<AdmissionResponse>, Status> {
        let message = format!("failed calling webhook {:?}: {error}", webhook.name);
        match webhook.failure_policy {
            FailurePolicy::Fail => {
                record.step(step(format!("failed (Fail): {error}")));
                Err(Status::internal_error(&message))
            }
            FailurePolicy::Ignore => {
                tracing::warn!(webhook = %webhook.name, "{message}; failurePolicy Ignore: skipped");
                record.step(step(format!("failed (Ignore): {error}")));
                let key = format!(
                    "failed-open.{}.webhook.admission.k8s.io/round_{round}_index_{}",
                    match self.kind {
                        WebhookKind::Mutating => "mutation",
                        WebhookKind::Validating => "validation",
                    },
                    webhook.index
                );
                record.annotate(&key, &webhook.name);
                Ok(None)
            }
        }
    }
}

/// Applies a mutating webhook's patch to `object`; `Ok(true)` when it changed the object.
fn apply_patch(
    webhook: &Webhook,
    response: &AdmissionResponse,
    object: &mut Value,
    record: &Record,
    round: usize,
) -> Result<bool, Status> {
    let Some(patch) = response.patch.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(false);
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
    let annotation = json!({
        "configuration": webhook.configuration,
        "webhook": webhook.name,
        "mutated": changed,
    });
    record.annotate(
        &format!(
            "mutation.webhook.admission.k8s.io/round_{round}_index_{}",
            webhook.index
        ),
        &annotation.to_string(),
    );
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
    let code = u16::try_from(status.code)
        .ok()
        .filter(|code| (400..600).contains(code))
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
        user_info: attrs.user.clone(),
        object: object.cloned(),
        old_object: attrs.old_object.clone(),
        dry_run: Some(attrs.dry_run),
        options: (!attrs.options.is_null()).then(|| attrs.options.clone()),
    }
}
