//! `/livez`, `/readyz` and `/healthz` (deprecated upstream, still served), answered as
//! kube-apiserver's `healthz` package does: `ok`, or with `?verbose` one `[+]name ok` line
//! per check and `<endpoint> check passed`; `?exclude=<check>` skips a check; a failed check
//! answers 500 with the list whether or not `verbose` was asked; `/readyz/<check>` runs one.
//!
//! The checks are pure functions of [`HealthState`], so the text is unit-tested.

/// What the checks look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthState {
    /// Set when shutdown has begun: `/readyz` fails from then on, so a load balancer stops
    /// sending new requests while the ones under way finish.
    pub shutting_down: bool,
    /// Whether the store answered a read just now; `None` when the server runs without
    /// storage (then the storage checks are not listed).
    pub etcd_ok: Option<bool>,
    /// Whether every watch cache has done its first list (kube's `informer-sync`).
    pub caches_synced: Option<bool>,
    /// Whether the bootstrap RBAC policy is in place (kube's
    /// `poststarthook/rbac/bootstrap-roles`); `None` without storage.
    pub rbac_bootstrapped: Option<bool>,
    /// Whether priority and fairness has produced and read its configuration (kube's
    /// `poststarthook/priority-and-fairness-config-producer`); `None` without storage or
    /// with `--enable-priority-and-fairness=false`.
    pub apf_config_produced: Option<bool>,
}

/// One endpoint and the checks behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Livez,
    Readyz,
    Healthz,
}

impl Endpoint {
    /// The endpoint a path's first segment names.
    pub fn from_segment(segment: &str) -> Option<Endpoint> {
        match segment {
            "livez" => Some(Endpoint::Livez),
            "readyz" => Some(Endpoint::Readyz),
            "healthz" => Some(Endpoint::Healthz),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Livez => "livez",
            Endpoint::Readyz => "readyz",
            Endpoint::Healthz => "healthz",
        }
    }

    /// The checks of this endpoint, in the order kube-apiserver reports them; the storage
    /// checks only when the server has storage.
    fn checks(self, state: HealthState) -> &'static [Check] {
        let storage = state.etcd_ok.is_some();
        match (self, storage) {
            (Endpoint::Livez | Endpoint::Healthz, false) => &[Check::Ping],
            (Endpoint::Livez | Endpoint::Healthz, true) => &[Check::Ping, Check::Etcd],
            (Endpoint::Readyz, false) => &[Check::Ping, Check::Shutdown],
            (Endpoint::Readyz, true) => &[
                Check::Ping,
                Check::Etcd,
                Check::EtcdReadiness,
                Check::InformerSync,
                Check::BootstrapRoles,
                Check::ApfConfigProducer,
                Check::Shutdown,
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Always passes: the server answers at all.
    Ping,
    /// Fails once shutdown has begun.
    Shutdown,
    /// The store answers (kube's `etcd` and `etcd-readiness`).
    Etcd,
    EtcdReadiness,
    /// Every watch cache has its initial state.
    InformerSync,
    /// kube's bootstrap ClusterRoles and bindings exist (`security::policy`).
    BootstrapRoles,
    /// The APF bootstrap objects and FlowSchema conditions are written (`crate::flowcontrol`).
    ApfConfigProducer,
}

impl Check {
    fn name(self) -> &'static str {
        match self {
            Check::Ping => "ping",
            Check::Shutdown => "shutdown",
            Check::Etcd => "etcd",
            Check::EtcdReadiness => "etcd-readiness",
            Check::InformerSync => "informer-sync",
            Check::BootstrapRoles => "poststarthook/rbac/bootstrap-roles",
            Check::ApfConfigProducer => "poststarthook/priority-and-fairness-config-producer",
        }
    }

    fn run(self, state: HealthState) -> Result<(), String> {
        match self {
            Check::Ping => Ok(()),
            Check::Shutdown if state.shutting_down => Err("process is shutting down".to_string()),
            Check::Shutdown => Ok(()),
            // kube withholds the store's error from the probe's body.
            Check::Etcd | Check::EtcdReadiness if state.etcd_ok == Some(false) => {
                Err("etcd check failed: reason withheld".to_string())
            }
            Check::InformerSync if state.caches_synced == Some(false) => {
                Err("watch caches have not synced yet".to_string())
            }
            Check::BootstrapRoles if state.rbac_bootstrapped == Some(false) => {
                Err("not finished".to_string())
            }
            Check::ApfConfigProducer if state.apf_config_produced == Some(false) => {
                Err("not finished".to_string())
            }
            Check::Etcd
            | Check::EtcdReadiness
            | Check::InformerSync
            | Check::BootstrapRoles
            | Check::ApfConfigProducer => Ok(()),
        }
    }
}

/// The answer to `/<endpoint>` (`check` `None`) or `/<endpoint>/<check>`: `None` when no
/// such check exists (a 404), else the code and the plain-text body.
pub fn answer(
    endpoint: Endpoint,
    check: Option<&str>,
    query: &str,
    state: HealthState,
) -> Option<(u16, String)> {
    match check {
        Some(name) => {
            let check = endpoint.checks(state).iter().find(|c| c.name() == name)?;
            Some(match check.run(state) {
                Ok(()) => (200, "ok".to_string()),
                Err(error) => (500, format!("internal server error: {error}\n")),
            })
        }
        None => Some(report(endpoint, query, state)),
    }
}

/// `handleRootHealth`: every check not excluded, then the verdict.
fn report(endpoint: Endpoint, query: &str, state: HealthState) -> (u16, String) {
    let verbose = query_keys(query).any(|(key, _)| key == "verbose");
    let excluded: Vec<&str> = query_keys(query)
        .filter(|(key, _)| *key == "exclude")
        .map(|(_, value)| value)
        .collect();
    let mut lines = String::new();
    let mut failed = false;
    for check in endpoint.checks(state) {
        if excluded.contains(&check.name()) {
            lines.push_str(&format!("[+]{} excluded: ok\n", check.name()));
            continue;
        }
        match check.run(state) {
            Ok(()) => lines.push_str(&format!("[+]{} ok\n", check.name())),
            Err(_) => {
                // kube-apiserver withholds the reason from unauthenticated readers.
                lines.push_str(&format!("[-]{} failed: reason withheld\n", check.name()));
                failed = true;
            }
        }
    }
    let unknown: Vec<&str> = excluded
        .iter()
        .copied()
        .filter(|name| !endpoint.checks(state).iter().any(|c| c.name() == *name))
        .collect();
    if !unknown.is_empty() {
        lines.push_str(&format!(
            "warn: some health checks cannot be excluded: no matches for {}\n",
            unknown.join(",")
        ));
    }
    if failed {
        return (500, format!("{lines}{} check failed\n", endpoint.name()));
    }
    if verbose {
        (200, format!("{lines}{} check passed\n", endpoint.name()))
    } else {
        (200, "ok".to_string())
    }
}

/// `key=value` pairs of a raw query; a key without `=` has an empty value. Check names are
/// plain words, so no percent-decoding is needed.
fn query_keys(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: HealthState = HealthState {
        shutting_down: false,
        etcd_ok: None,
        caches_synced: None,
        rbac_bootstrapped: None,
        apf_config_produced: None,
    };
    const STOPPING: HealthState = HealthState {
        shutting_down: true,
        etcd_ok: None,
        caches_synced: None,
        rbac_bootstrapped: None,
        apf_config_produced: None,
    };

    #[test]
    fn storage_checks_are_listed_with_storage_and_fail_with_it() {
        let down = HealthState {
            shutting_down: false,
            etcd_ok: Some(false),
            caches_synced: Some(true),
            rbac_bootstrapped: Some(false),
            apf_config_produced: Some(false),
        };
        let (code, text) = answer(Endpoint::Readyz, None, "verbose", down).unwrap();
        assert_eq!(code, 500);
        assert_eq!(
            text,
            "[+]ping ok\n[-]etcd failed: reason withheld\n[-]etcd-readiness failed: reason withheld\n\
             [+]informer-sync ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n\
             [-]poststarthook/priority-and-fairness-config-producer failed: reason withheld\n\
             [+]shutdown ok\nreadyz check failed\n"
        );
        let (code, _) = answer(
            Endpoint::Readyz,
            Some("poststarthook/rbac/bootstrap-roles"),
            "",
            down,
        )
        .unwrap();
        assert_eq!(code, 500);
        let (code, _) = answer(Endpoint::Livez, Some("etcd"), "", down).unwrap();
        assert_eq!(code, 500);
    }

    #[test]
    fn plain_answer_is_ok() {
        assert_eq!(
            answer(Endpoint::Livez, None, "", UP),
            Some((200, "ok".to_string()))
        );
    }

    #[test]
    fn verbose_lists_every_check_then_the_verdict() {
        let (code, text) = answer(Endpoint::Readyz, None, "verbose", UP).unwrap();
        assert_eq!(code, 200);
        assert_eq!(text, "[+]ping ok\n[+]shutdown ok\nreadyz check passed\n");
    }

    #[test]
    fn a_failed_check_answers_500_with_the_list() {
        let (code, text) = answer(Endpoint::Readyz, None, "", STOPPING).unwrap();
        assert_eq!(code, 500);
        assert_eq!(
            text,
            "[+]ping ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"
        );
        // Liveness does not depend on shutdown: the process is still alive.
        assert_eq!(
            answer(Endpoint::Livez, None, "", STOPPING),
            Some((200, "ok".to_string()))
        );
    }

    #[test]
    fn excluded_checks_do_not_fail_the_endpoint() {
        let (code, text) =
            answer(Endpoint::Readyz, None, "verbose&exclude=shutdown", STOPPING).unwrap();
        assert_eq!(code, 200);
        assert_eq!(
            text,
            "[+]ping ok\n[+]shutdown excluded: ok\nreadyz check passed\n"
        );
        let (_, text) = answer(Endpoint::Livez, None, "verbose&exclude=nosuch", UP).unwrap();
        assert!(
            text.contains("warn: some health checks cannot be excluded: no matches for nosuch\n"),
            "{text}"
        );
    }

    #[test]
    fn one_check_by_name() {
        assert_eq!(
            answer(Endpoint::Readyz, Some("ping"), "", UP),
            Some((200, "ok".to_string()))
        );
        assert_eq!(
            answer(Endpoint::Readyz, Some("shutdown"), "", STOPPING),
            Some((
                500,
                "internal server error: process is shutting down\n".to_string()
            ))
        );
        assert_eq!(answer(Endpoint::Readyz, Some("nosuch"), "", UP), None);
    }
}
