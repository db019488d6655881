//! Levels, versions and the policy a namespace asks for: the `pod-security.kubernetes.io/*`
//! labels over the configuration's defaults (pod-security-admission's `api` package:
//! `ParseLevel`, `ParseVersion`, `PolicyToEvaluate`, `CompareLevels`).
//!
//! kubesim keeps the version a label names (it shows in messages, `restricted:v1.30`, and
//! namespace updates compare it), but evaluates every version with the newest checks, as
//! `latest` (see `checks.rs`).

use std::collections::BTreeMap;
use std::fmt;

use kubesim_api::status::FieldError;

/// The six labels.
pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

const LEVEL_ERROR: &str = "must be one of privileged, baseline, restricted";
const VERSION_ERROR: &str = "must be \"latest\" or \"v1.x\"";

/// A Pod Security Standard, least strict first (the derived order is kube's `CompareLevels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// kube's `ParseLevel`: an unknown level reads as `restricted`, with an error.
    pub fn parse(text: &str) -> Result<Level, Level> {
        match text {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(Level::Restricted),
        }
    }
}

/// A policy version: `latest` or `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Latest,
    /// The minor of `v1.<minor>`; kube reads it with `strconv.Atoi`, hence `i64`.
    V1(i64),
}

impl Version {
    /// kube's `ParseVersion`: `latest`, or `v1.` and a minor without leading zeros; anything
    /// else reads as `latest`, with an error.
    pub fn parse(text: &str) -> Result<Version, Version> {
        if text == "latest" {
            return Ok(Version::Latest);
        }
        let Some(minor) = text.strip_prefix("v1.") else {
            return Err(Version::Latest);
        };
        let digits = !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit());
        let leading_zero = minor.len() > 1 && minor.starts_with('0');
        if !digits || leading_zero {
            return Err(Version::Latest);
        }
        minor
            .parse::<i64>()
            .map(Version::V1)
            .map_err(|_| Version::Latest)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V1(minor) => write!(f, "v1.{minor}"),
        }
    }
}

/// A level at a version, shown as kube shows it: `restricted:latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl LevelVersion {
    pub const PRIVILEGED_LATEST: LevelVersion = LevelVersion {
        level: Level::Privileged,
        version: Version::Latest,
    };

    /// Both privileged (whatever their versions), or the same level and version.
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level.as_str(), self.version)
    }
}

/// What a namespace asks for in each mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Policy {
    /// No configuration: everything privileged at latest (the v1 defaulting).
    pub const PRIVILEGED: Policy = Policy {
        enforce: LevelVersion::PRIVILEGED_LATEST,
        audit: LevelVersion::PRIVILEGED_LATEST,
        warn: LevelVersion::PRIVILEGED_LATEST,
    };

    pub fn fully_privileged(&self) -> bool {
        self.enforce.level == Level::Privileged
            && self.audit.level == Level::Privileged
            && self.warn.level == Level::Privileged
    }

    pub fn equivalent(&self, other: &Policy) -> bool {
        self.enforce.equivalent(&other.enforce)
            && self.audit.equivalent(&other.audit)
            && self.warn.equivalent(&other.warn)
    }
}

/// kube's `PolicyToEvaluate`: the labels over `defaults`. A policy always comes back; a label
/// that does not parse adds an error and reads as `restricted` for enforce (fail closed),
/// `privileged` for audit and warn (fail open), `latest` for a version. An enforce level set
/// stricter than warn raises warn to it (and its version, unless warn-version is set).
pub fn policy_to_evaluate(
    labels: &BTreeMap<String, String>,
    defaults: &Policy,
) -> (Policy, Vec<FieldError>) {
    let mut policy = *defaults;
    let mut errors = Vec::new();
    let mut has_enforce_level = false;
    if let Some(text) = labels.get(ENFORCE_LEVEL_LABEL) {
        let level = level_or_error(ENFORCE_LEVEL_LABEL, text, &mut errors);
        // A bad enforce level does not raise warn.
        has_enforce_level = level.is_some();
        policy.enforce.level = level.unwrap_or(Level::Restricted);
    }
    if let Some(text) = labels.get(ENFORCE_VERSION_LABEL) {
        policy.enforce.version = version_or_error(ENFORCE_VERSION_LABEL, text, &mut errors);
    }
    if let Some(text) = labels.get(AUDIT_LEVEL_LABEL) {
        policy.audit.level =
            level_or_error(AUDIT_LEVEL_LABEL, text, &mut errors).unwrap_or(Level::Privileged);
    }
    if let Some(text) = labels.get(AUDIT_VERSION_LABEL) {
        policy.audit.version = version_or_error(AUDIT_VERSION_LABEL, text, &mut errors);
    }
    let has_warn_level = labels.contains_key(WARN_LEVEL_LABEL);
    if let Some(text) = labels.get(WARN_LEVEL_LABEL) {
        policy.warn.level =
            level_or_error(WARN_LEVEL_LABEL, text, &mut errors).unwrap_or(Level::Privileged);
    }
    let has_warn_version = labels.contains_key(WARN_VERSION_LABEL);
    if let Some(text) = labels.get(WARN_VERSION_LABEL) {
        policy.warn.version = version_or_error(WARN_VERSION_LABEL, text, &mut errors);
    }
    if !has_warn_level && has_enforce_level && policy.enforce.level > policy.warn.level {
        policy.warn.level = policy.enforce.level;
        if !has_warn_version {
            policy.warn.version = policy.enforce.version;
        }
    }
    (policy, errors)
}

fn level_or_error(label: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<Level> {
    match Level::parse(text) {
        Ok(level) => Some(level),
        Err(_) => {
            errors.push(label_error(label, text, LEVEL_ERROR));
            None
        }
    }
}

fn version_or_error(label: &str, text: &str, errors: &mut Vec<FieldError>) -> Version {
    Version::parse(text).unwrap_or_else(|latest| {
        errors.push(label_error(label, text, VERSION_ERROR));
        latest
    })
}

fn label_error(label: &str, text: &str, detail: &str) -> FieldError {
    FieldError::invalid(&format!("metadata.labels[{label}]"), text.into(), detail)
}

/// The defaults of a PodSecurityConfiguration (kube's `ToPolicy`), in the order
/// `[enforce, enforce-version, audit, audit-version, warn, warn-version]`, each already
/// defaulted to `privileged` / `latest` when empty. Errors read `enforce: must be one of ...`,
/// in that order.
pub fn defaults_to_policy(fields: [&str; 6]) -> Result<Policy, Vec<String>> {
    let [
        enforce,
        enforce_version,
        audit,
        audit_version,
        warn,
        warn_version,
    ] = fields;
    let mut errors = Vec::new();
    // Struct fields are evaluated in the order written: the errors come out in kube's order.
    let policy = Policy {
        enforce: LevelVersion {
            level: default_level("enforce", enforce, &mut errors),
            version: default_version("enforce-version", enforce_version, &mut errors),
        },
        audit: LevelVersion {
            level: default_level("audit", audit, &mut errors),
            version: default_version("audit-version", audit_version, &mut errors),
        },
        warn: LevelVersion {
            level: default_level("warn", warn, &mut errors),
            version: default_version("warn-version", warn_version, &mut errors),
        },
    };
    if errors.is_empty() {
        Ok(policy)
    } else {
        Err(errors)
    }
}

fn default_level(name: &str, text: &str, errors: &mut Vec<String>) -> Level {
    Level::parse(text).unwrap_or_else(|fallback| {
        errors.push(format!("{name}: {LEVEL_ERROR}"));
        fallback
    })
}

fn default_version(name: &str, text: &str, errors: &mut Vec<String>) -> Version {
    Version::parse(text).unwrap_or_else(|fallback| {
        errors.push(format!("{name}: {VERSION_ERROR}"));
        fallback
    })
}
