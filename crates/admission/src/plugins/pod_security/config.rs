//! The PodSecurityConfiguration (`pod-security.admission.config.k8s.io/v1`, the plugin's
//! `configuration` in the AdmissionConfiguration): the policy a namespace without labels
//! gets, and who is exempt. Read, defaulted and validated as kube's `load.LoadFromData`,
//! `CompleteConfiguration` and `ValidatePodSecurityConfiguration` do.

use kubesim_api::status::FieldError;
use kubesim_api::validation::{name_is_dns_label, name_is_dns_subdomain};
use serde_json::Value;

use super::policy::{Policy, defaults_to_policy};

const GROUP: &str = "pod-security.admission.config.k8s.io";
/// The versions kube's scheme registers; they share one schema and one defaulting.
const VERSIONS: &[&str] = &["v1", "v1beta1", "v1alpha1"];
const KIND: &str = "PodSecurityConfiguration";

/// What the plugin reads from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// The policy for a mode whose label a namespace does not set.
    pub defaults: Policy,
    pub exemptions: Exemptions,
}

/// Requests PodSecurity lets through unchecked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exemptions {
    /// The requesting user's name.
    pub usernames: Vec<String>,
    /// The namespace the pod or workload is in.
    pub namespaces: Vec<String>,
    /// The pod's `spec.runtimeClassName`.
    pub runtime_classes: Vec<String>,
}

impl Configuration {
    /// No configuration: everything privileged, nobody exempt.
    pub fn privileged() -> Configuration {
        Configuration {
            defaults: Policy::PRIVILEGED,
            exemptions: Exemptions::default(),
        }
    }

    /// Reads a configuration; the error is what kube-apiserver would refuse to start with.
    pub fn parse(value: &Value) -> Result<Configuration, String> {
        check_type(value)?;
        let defaults = value.get("defaults").unwrap_or(&Value::Null);
        let fields = [
            "enforce",
            "enforce-version",
            "audit",
            "audit-version",
            "warn",
            "warn-version",
        ]
        .map(|name| defaulted(defaults, name));
        let fields = fields.each_ref().map(|field| field.as_str());
        let defaults = defaults_to_policy(fields)
            .map_err(|errors| format!("PodSecurity configuration error: {}", aggregate(&errors)))?;
        let exemptions = value.get("exemptions").unwrap_or(&Value::Null);
        let exemptions = Exemptions {
            usernames: strings(exemptions, "usernames")?,
            namespaces: strings(exemptions, "namespaces")?,
            runtime_classes: strings(exemptions, "runtimeClasses")?,
        };
        let errors = validate_exemptions(&exemptions);
        if !errors.is_empty() {
            let texts: Vec<String> = errors.iter().map(FieldError::to_string).collect();
            return Err(format!("PodSecurity invalid: {}", aggregate(&texts)));
        }
        Ok(Configuration {
            defaults,
            exemptions,
        })
    }
}

fn check_type(value: &Value) -> Result<(), String> {
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let known = api_version
        .strip_prefix(GROUP)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|version| VERSIONS.contains(&version));
    if !known || kind != KIND {
        return Err(format!(
            "PodSecurity: no kind {kind:?} is registered for version {api_version:?}: the \
             configuration must be a {KIND} of {GROUP}/v1"
        ));
    }
    Ok(())
}

/// A default as the v1 defaulting leaves it: `privileged` for a level, `latest` for a version,
/// when missing or empty.
fn defaulted(defaults: &Value, name: &str) -> String {
    let text = defaults.get(name).and_then(Value::as_str).unwrap_or("");
    match text {
        "" if name.ends_with("-version") => "latest".to_string(),
        "" => "privileged".to_string(),
        text => text.to_string(),
    }
}

fn strings(exemptions: &Value, field: &str) -> Result<Vec<String>, String> {
    match exemptions.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    format!("PodSecurity: exemptions.{field} must be a list of strings")
                })
            })
            .collect(),
        Some(_) => Err(format!(
            "PodSecurity: exemptions.{field} must be a list of strings"
        )),
    }
}

/// kube's checks: namespaces are DNS labels, runtime classes DNS subdomains, usernames not
/// empty; no value twice.
fn validate_exemptions(exemptions: &Exemptions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, values: &[String], validate: &dyn Fn(&str) -> Vec<String>| {
        let mut seen: Vec<&str> = Vec::new();
        for (i, value) in values.iter().enumerate() {
            let path = format!("exemptions.{field}[{i}]");
            let problems = validate(value);
            if !problems.is_empty() {
                errors.push(FieldError::invalid(
                    &path,
                    value.as_str().into(),
                    &problems.join(", "),
                ));
            } else if seen.contains(&value.as_str()) {
                errors.push(FieldError::duplicate(&path, value.as_str().into()));
            } else {
                seen.push(value);
            }
        }
    };
    check("namespaces", &exemptions.namespaces, &|name| {
        name_is_dns_label(name, false)
    });
    check("runtimeClasses", &exemptions.runtime_classes, &|name| {
        name_is_dns_subdomain(name, false)
    });
    check("usernames", &exemptions.usernames, &|name| {
        if name.is_empty() {
            vec!["username must not be empty".to_string()]
        } else {
            Vec::new()
        }
    });
    errors
}

/// `utilerrors.NewAggregate`'s message: one error as it is, several in brackets.
pub fn aggregate(errors: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for error in errors {
        if !distinct.contains(&error.as_str()) {
            distinct.push(error);
        }
    }
    match distinct.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}
