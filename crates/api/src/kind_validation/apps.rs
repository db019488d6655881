//! Deployments (apps' `ValidateDeployment`, `ValidateDeploymentUpdate`, and the deployment
//! strategy's rule that `spec.selector` never changes in `apps/v1`): replicas, a non-empty
//! selector that matches the template's labels, the pod template (restart policy Always),
//! the rollout strategy, and the counters.

use serde_json::Value;

use super::fields::{
    Errs, FIELD_IMMUTABLE, IntOrStr, Obj, forbidden, invalid, non_negative, not_supported,
    required, semantic_eq,
};
use super::meta::{self, MetaRules};
use super::pod;
use super::rules::is_valid_percent;
use super::selector::{self, Selector};
use crate::validation::name_is_dns_subdomain;

pub(crate) const RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: true,
};

/// `ValidateDeployment`.
pub(crate) fn validate_create(deployment: &Obj, errs: &mut Errs) {
    meta::validate_create(deployment, &RULES, errs);
    if let Some(spec) = deployment.obj("spec", errs) {
        deployment_spec(&spec, errs);
    }
}

/// `ValidateDeploymentUpdate` plus the immutable selector.
pub(crate) fn validate_update(deployment: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(deployment, old, true, errs);
    let Some(spec) = deployment.obj("spec", errs) else {
        return;
    };
    deployment_spec(&spec, errs);
    let new_selector = spec.raw("selector");
    let old_selector = old.raw("spec").and_then(|s| s.get("selector"));
    if !semantic_eq(new_selector, old_selector) {
        let value = new_selector.cloned().unwrap_or(Value::Null);
        errs.push(invalid(&spec.at_key("selector"), value, FIELD_IMMUTABLE));
    }
}

/// `ValidateDeploymentSpec`.
fn deployment_spec(spec: &Obj, errs: &mut Errs) {
    let replicas = spec.int("replicas", errs).unwrap_or_default();
    non_negative(&spec.at_key("replicas"), replicas, errs);
    let selector_obj = spec
        .obj("selector", errs)
        .unwrap_or_else(|| Obj::absent(spec.at_key("selector")));
    let selector_path = spec.at_key("selector");
    if !selector_obj.is_set() {
        errs.push(required(&selector_path, ""));
    } else {
        selector::validate(&selector_obj, errs);
        if matches!(selector::build(&selector_obj), Ok(Selector::Everything)) {
            let detail = "empty selector is invalid for deployment";
            errs.push(invalid(&selector_path, selector_obj.to_value(), detail));
        }
    }
    match selector::build(&selector_obj) {
        Err(()) => errs.push(invalid(
            &selector_path,
            selector_obj.to_value(),
            "invalid label selector",
        )),
        Ok(built) => template_for_replica_set(spec, &built, errs),
    }
    if let Some(strategy) = spec.obj("strategy", errs) {
        deployment_strategy(&strategy, errs);
    }
    let min_ready = spec.int("minReadySeconds", errs).unwrap_or_default();
    non_negative(&spec.at_key("minReadySeconds"), min_ready, errs);
    if let Some(Some(limit)) = spec.opt_int("revisionHistoryLimit", errs) {
        non_negative(&spec.at_key("revisionHistoryLimit"), limit, errs);
    }
    if let Some(Some(deadline)) = spec.opt_int("progressDeadlineSeconds", errs) {
        let path = spec.at_key("progressDeadlineSeconds");
        non_negative(&path, deadline, errs);
        if deadline <= min_ready {
            errs.push(invalid(
                &path,
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// `ValidatePodTemplateSpecForReplicaSet`: the selector picks the template's labels, the
/// template is a valid pod template whose pods always restart and run without a deadline.
fn template_for_replica_set(spec: &Obj, selector: &Selector, errs: &mut Errs) {
    let Some(template) = spec.obj("template", errs) else {
        return;
    };
    let mut quiet = Errs::new();
    let labels = template
        .obj("metadata", &mut quiet)
        .and_then(|m| m.string_map("labels", &mut quiet))
        .unwrap_or_default();
    if !selector.is_empty() && !selector.matches(&labels) {
        let value: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        errs.push(invalid(
            &template.path().child("metadata").child("labels"),
            value,
            "`selector` does not match template `labels`",
        ));
    }
    pod::validate_template(&template, errs);
    let Some(pod_spec) = template.obj("spec", &mut quiet) else {
        return;
    };
    let restart_policy = pod_spec.peek_str("restartPolicy");
    if restart_policy != "Always" {
        errs.push(not_supported(
            &pod_spec.at_key("restartPolicy"),
            restart_policy,
            &["Always"],
        ));
    }
    if pod_spec.has("activeDeadlineSeconds") {
        errs.push(forbidden(
            &pod_spec.at_key("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// `ValidateDeploymentStrategy`.
fn deployment_strategy(strategy: &Obj, errs: &mut Errs) {
    let kind = strategy.str("type", errs).unwrap_or_default();
    let rolling = strategy.at_key("rollingUpdate");
    match kind {
        "Recreate" if strategy.has("rollingUpdate") => errs.push(forbidden(
            &rolling,
            "may not be specified when strategy `type` is 'Recreate'",
        )),
        "Recreate" => {}
        "RollingUpdate" => match strategy.obj("rollingUpdate", errs).filter(Obj::is_set) {
            None if !strategy.has("rollingUpdate") => {
                errs.push(required(
                    &rolling,
                    "this should be defaulted and never be nil",
                ));
            }
            None => {}
            Some(update) => rolling_update(&update, errs),
        },
        _ => errs.push(not_supported(
            strategy.path(),
            strategy.to_value(),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// `ValidateRollingUpdateDeployment`.
fn rolling_update(update: &Obj, errs: &mut Errs) {
    let unavailable = update.int_or_str("maxUnavailable", errs).flatten();
    let surge = update.int_or_str("maxSurge", errs).flatten();
    positive_int_or_percent(update, "maxUnavailable", unavailable, errs);
    positive_int_or_percent(update, "maxSurge", surge, errs);
    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
        let value = unavailable.map_or(Value::from(0), IntOrStr::to_value);
        errs.push(invalid(
            &update.at_key("maxUnavailable"),
            value,
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    if let Some(IntOrStr::Str(s)) = unavailable
        && is_valid_percent(s).is_empty()
        && int_or_percent_value(unavailable) > 100
    {
        errs.push(invalid(
            &update.at_key("maxUnavailable"),
            s,
            "must not be greater than 100%",
        ));
    }
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(update: &Obj, key: &str, value: Option<IntOrStr>, errs: &mut Errs) {
    let path = update.at_key(key);
    match value.unwrap_or(IntOrStr::Int(0)) {
        IntOrStr::Str(s) => {
            for msg in is_valid_percent(s) {
                errs.push(invalid(&path, s, &msg));
            }
        }
        IntOrStr::Int(n) => non_negative(&path, n, errs),
    }
}

/// `getIntOrPercentValue`: a percentage's number, else the integer (a string that is not
/// a percentage reads as its integer value, 0 when it has none, as Go's `Atoi` fails).
fn int_or_percent_value(value: Option<IntOrStr>) -> i64 {
    match value.unwrap_or(IntOrStr::Int(0)) {
        IntOrStr::Int(n) => n,
        IntOrStr::Str(s) => {
            let digits = s
                .strip_suffix('%')
                .filter(|_| is_valid_percent(s).is_empty())
                .unwrap_or(s);
            digits.parse().unwrap_or_default()
        }
    }
}
