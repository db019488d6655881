//! The authenticating proxy (`--requestheader-*`, kube's `headerrequest` behind an x509
//! `Verifier`): a front proxy that authenticated the user itself names them in headers. The
//! headers are believed only from a connection whose client certificate verifies against the
//! request-header CA and, when `--requestheader-allowed-names` is set, whose CN is one of
//! those names; from anyone else they are ignored.
//!
//! kubesim's defaults, for header lists left empty: `X-Remote-User`, `X-Remote-Group`,
//! `X-Remote-Extra-` (what kubeadm configures; kube-apiserver itself has no defaults and then
//! never finds a user).

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderName};
use kubesim_api::user::UserInfo;
use rustls::pki_types::CertificateDer;

use crate::x509::{ClientCa, Subject};
use crate::{
    Authenticated, AuthnError, ConfigError, Method, add_authenticated_group, path_unescape,
};

// Lower-case, as `HeaderName::from_static` requires.
const DEFAULT_USERNAME_HEADER: &str = "x-remote-user";
const DEFAULT_GROUP_HEADER: &str = "x-remote-group";
const DEFAULT_EXTRA_PREFIX: &str = "x-remote-extra-";

/// The `--requestheader-*` flags.
#[derive(Debug, Clone, Default)]
pub struct RequestHeaderConfig {
    /// `--requestheader-client-ca-file`.
    pub client_ca_pem: Vec<u8>,
    /// `--requestheader-allowed-names`: the proxy's certificate CNs; empty allows any.
    pub allowed_names: Vec<String>,
    /// `--requestheader-username-headers`: the first one with a value names the user.
    pub username_headers: Vec<String>,
    /// `--requestheader-group-headers`: every value of each is a group.
    pub group_headers: Vec<String>,
    /// `--requestheader-extra-headers-prefix`: `<prefix><key>: value` is an extra.
    pub extra_headers_prefix: Vec<String>,
}

/// What the request-header authenticator made of a request. The union needs more than
/// accepted-or-not: a certificate from another CA is a presented credential it refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    NoCertificate,
    /// The certificate is not from the request-header CA (x509 may take it).
    OtherCa(String),
    /// A trusted proxy, but no username header: kube lets the next authenticator try.
    NoUser,
    Authenticated(Authenticated),
}

#[derive(Debug)]
pub struct RequestHeaderAuthenticator {
    ca: ClientCa,
    allowed_names: Vec<String>,
    username_headers: Vec<HeaderName>,
    group_headers: Vec<HeaderName>,
    /// Lower-case, as header names are.
    extra_prefixes: Vec<String>,
}

impl RequestHeaderAuthenticator {
    pub fn new(config: RequestHeaderConfig) -> Result<Self, ConfigError> {
        let ca = ClientCa::from_pem(&config.client_ca_pem, "--requestheader-client-ca-file")?;
        let username_headers = header_names(
            &config.username_headers,
            DEFAULT_USERNAME_HEADER,
            "--requestheader-username-headers",
        )?;
        let group_headers = header_names(
            &config.group_headers,
            DEFAULT_GROUP_HEADER,
            "--requestheader-group-headers",
        )?;
        let extra_prefixes = header_names(
            &config.extra_headers_prefix,
            DEFAULT_EXTRA_PREFIX,
            "--requestheader-extra-headers-prefix",
        )?
        .iter()
        .map(|name| name.as_str().to_string())
        .collect();
        Ok(RequestHeaderAuthenticator {
            ca,
            allowed_names: config.allowed_names,
            username_headers,
            group_headers,
            extra_prefixes,
        })
    }

    /// `Ok(None)` without a certificate, with one from another CA, or without a username
    /// header; an error for a certificate of this CA that does not verify (expired, not for
    /// client auth) or whose CN is not allowed.
    pub fn authenticate(
        &self,
        chain: &[CertificateDer<'static>],
        headers: &HeaderMap,
        now: Duration,
    ) -> Result<Option<Authenticated>, AuthnError> {
        match self.check(chain, headers, now)? {
            Outcome::Authenticated(authenticated) => Ok(Some(authenticated)),
            Outcome::NoCertificate | Outcome::OtherCa(_) | Outcome::NoUser => Ok(None),
        }
    }

    pub(crate) fn check(
        &self,
        chain: &[CertificateDer<'static>],
        headers: &HeaderMap,
        now: Duration,
    ) -> Result<Outcome, AuthnError> {
        let Some(leaf) = chain.first() else {
            return Ok(Outcome::NoCertificate);
        };
        let failed = |e: String| AuthnError::new(format!("requestheader: {e}"));
        match self.ca.verify(chain, now) {
            Ok(()) => {}
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
                return Ok(Outcome::OtherCa(format!(
                    "requestheader: the client certificate is not signed by {}",
                    self.ca.flag
                )));
            }
            Err(e) => {
                return Err(failed(format!(
                    "verifying the proxy's certificate failed: {e}"
                )));
            }
        }
        let subject = Subject::of(leaf).map_err(failed)?;
        if !self.allowed_names.is_empty() && !self.allowed_names.contains(&subject.common_name) {
            return Err(failed(format!(
                "the proxy's certificate CN={} is not in --requestheader-allowed-names",
                subject.common_name
            )));
        }
        let Some((header, username)) = self.username(headers).map_err(failed)? else {
            return Ok(Outcome::NoUser);
        };
        let user = UserInfo {
            username,
            groups: self.groups(headers).map_err(failed)?,
            extra: self.extra(headers).map_err(failed)?,
            ..UserInfo::default()
        };
        let detail = format!(
            "requestheader: user {} from {header}, proxy CN={} verified against {}",
            user.username, subject.common_name, self.ca.flag
        );
        Ok(Outcome::Authenticated(Authenticated {
            user: add_authenticated_group(user),
            method: Method::RequestHeader,
            detail,
            audiences: Vec::new(),
        }))
    }

    /// The first username header with a non-empty (first) value, and which header it was.
    fn username(&self, headers: &HeaderMap) -> Result<Option<(HeaderName, String)>, String> {
        for name in &self.username_headers {
            if let Some(value) = headers.get(name) {
                let value = text(name, value)?;
                if !value.is_empty() {
                    return Ok(Some((name.clone(), value)));
                }
            }
        }
        Ok(None)
    }

    /// Every non-empty value of every group header, in order; values are not split on commas.
    fn groups(&self, headers: &HeaderMap) -> Result<Vec<String>, String> {
        let mut groups = Vec::new();
        for name in &self.group_headers {
            for value in headers.get_all(name) {
                let value = text(name, value)?;
                if !value.is_empty() {
                    groups.push(value);
                }
            }
        }
        Ok(groups)
    }

    /// `<prefix><key>` headers: the key lower-cased and percent-decoded (kept as sent when it
    /// does not decode), every value appended.
    fn extra(&self, headers: &HeaderMap) -> Result<BTreeMap<String, Vec<String>>, String> {
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for prefix in &self.extra_prefixes {
            for name in headers.keys() {
                let Some(encoded) = name.as_str().strip_prefix(prefix.as_str()) else {
                    continue;
                };
                let key = path_unescape(encoded).unwrap_or_else(|| encoded.to_string());
                for value in headers.get_all(name) {
                    extra
                        .entry(key.clone())
                        .or_default()
                        .push(text(name, value)?);
                }
            }
        }
        Ok(extra)
    }

    /// Removes the headers this authenticator reads, as kube does once it believed them, so
    /// nothing behind the chain reads them again.
    pub fn clear_headers(&self, headers: &mut HeaderMap) {
        for name in self.username_headers.iter().chain(&self.group_headers) {
            headers.remove(name);
        }
        let extras: Vec<HeaderName> = headers
            .keys()
            .filter(|name| {
                self.extra_prefixes
                    .iter()
                    .any(|p| name.as_str().starts_with(p.as_str()))
            })
            .cloned()
            .collect();
        for name in extras {
            headers.remove(name);
        }
    }
}

/// The configured header names (trimmed), or the default when none is configured.
fn header_names(
    configured: &[String],
    default: &'static str,
    flag: &str,
) -> Result<Vec<HeaderName>, ConfigError> {
    if configured.is_empty() {
        return Ok(vec![HeaderName::from_static(default)]);
    }
    configured
        .iter()
        .map(|name| {
            let trimmed = name.trim();
            if trimmed.is_empty() {
                return Err(ConfigError(format!("{flag}: empty header {name:?}")));
            }
            HeaderName::from_bytes(trimmed.as_bytes())
                .map_err(|_| ConfigError(format!("{flag}: {trimmed:?} is not a header name")))
        })
        .collect()
}

/// A header value as text: any UTF-8, not only the visible ASCII `to_str` allows.
fn text(name: &HeaderName, value: &http::HeaderValue) -> Result<String, String> {
    std::str::from_utf8(value.as_bytes())
        .map(str::to_string)
        .map_err(|_| format!("header {name} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use kubesim_api::user::ALL_AUTHENTICATED;

    use super::*;
    use crate::testing::{AFTER_EXPIRY, NOW, TestCa};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn proxy(ca: &TestCa, allowed: &[&str]) -> RequestHeaderAuthenticator {
        RequestHeaderAuthenticator::new(RequestHeaderConfig {
            client_ca_pem: ca.pem.as_bytes().to_vec(),
            allowed_names: allowed.iter().map(|n| n.to_string()).collect(),
            ..RequestHeaderConfig::default()
        })
        .unwrap()
    }

    const JANE: &[(&str, &str)] = &[
        ("X-Remote-User", "jane"),
        ("X-Remote-Group", "dev"),
        ("X-Remote-Group", "ops,qa"),
        ("X-Remote-Extra-Scopes", "view"),
        ("X-Remote-Extra-Scopes", "edit"),
        ("X-Remote-Extra-Example.com%2fTeam", "blue"),
    ];

    #[test]
    fn a_trusted_proxy_names_the_user_in_headers() {
        let ca = TestCa::new("front-proxy-ca");
        let chain = ca.client(Some("front-proxy"), &[]);
        let got = proxy(&ca, &["front-proxy"])
            .authenticate(&chain, &headers(JANE), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(got.user.username, "jane");
        assert_eq!(got.user.groups, ["dev", "ops,qa", ALL_AUTHENTICATED]);
        let extra: Vec<(&str, Vec<String>)> = got
            .user
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(
            extra,
            [
                ("example.com/team", vec!["blue".to_string()]),
                ("scopes", vec!["view".to_string(), "edit".to_string()]),
            ]
        );
        assert_eq!(got.method, Method::RequestHeader);
        assert_eq!(
            got.detail,
            "requestheader: user jane from x-remote-user, proxy CN=front-proxy verified against \
             --requestheader-client-ca-file"
        );
    }

    #[test]
    fn headers_from_a_client_of_another_ca_are_ignored() {
        let proxy_ca = TestCa::new("front-proxy-ca");
        let client_ca = TestCa::new("client-ca");
        let chain = client_ca.client(Some("jane"), &[]);
        let proxy = proxy(&proxy_ca, &[]);
        assert_eq!(proxy.authenticate(&chain, &headers(JANE), NOW), Ok(None));
        assert_eq!(
            proxy.check(&chain, &headers(JANE), NOW),
            Ok(Outcome::OtherCa(
                "requestheader: the client certificate is not signed by --requestheader-client-ca-file"
                    .to_string()
            ))
        );
        assert_eq!(
            proxy.check(&[], &headers(JANE), NOW),
            Ok(Outcome::NoCertificate)
        );
    }

    #[test]
    fn a_proxy_cn_that_is_not_allowed_is_refused() {
        let ca = TestCa::new("front-proxy-ca");
        let chain = ca.client(Some("intruder"), &[]);
        let err = proxy(&ca, &["front-proxy", "aggregator"])
            .authenticate(&chain, &headers(JANE), NOW)
            .unwrap_err();
        assert_eq!(
            err.detail,
            "requestheader: the proxy's certificate CN=intruder is not in --requestheader-allowed-names"
        );
        // Without allowed names, any certificate of the CA is a proxy.
        assert!(
            proxy(&ca, &[])
                .authenticate(&chain, &headers(JANE), NOW)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn an_expired_proxy_certificate_is_refused() {
        let ca = TestCa::new("front-proxy-ca");
        let chain = ca.client(Some("front-proxy"), &[]);
        let err = proxy(&ca, &[])
            .authenticate(&chain, &headers(JANE), AFTER_EXPIRY)
            .unwrap_err();
        assert!(
            err.detail.starts_with(
                "requestheader: verifying the proxy's certificate failed: invalid peer certificate: certificate expired"
            ),
            "{}",
            err.detail
        );
    }

    #[test]
    fn without_a_username_header_the_proxy_is_no_opinion() {
        let ca = TestCa::new("front-proxy-ca");
        let chain = ca.client(Some("front-proxy"), &[]);
        let proxy = proxy(&ca, &[]);
        let no_user = headers(&[("X-Remote-User", ""), ("X-Remote-Group", "dev")]);
        assert_eq!(proxy.check(&chain, &no_user, NOW), Ok(Outcome::NoUser));
        assert_eq!(proxy.authenticate(&chain, &no_user, NOW), Ok(None));
    }

    #[test]
    fn configured_headers_replace_the_defaults_in_order() {
        let ca = TestCa::new("front-proxy-ca");
        let chain = ca.client(Some("front-proxy"), &[]);
        let proxy = RequestHeaderAuthenticator::new(RequestHeaderConfig {
            client_ca_pem: ca.pem.as_bytes().to_vec(),
            username_headers: vec![" X-User ".to_string(), "X-Remote-User".to_string()],
            group_headers: vec!["X-Groups".to_string()],
            extra_headers_prefix: vec!["X-Info-".to_string()],
            ..RequestHeaderConfig::default()
        })
        .unwrap();
        let both = headers(&[
            ("X-Remote-User", "ignored"),
            ("X-User", "jane"),
            ("X-Remote-Group", "ignored"),
            ("X-Groups", "dev"),
            ("X-Info-Shift", "night"),
        ]);
        let got = proxy.authenticate(&chain, &both, NOW).unwrap().unwrap();
        assert_eq!(got.user.username, "jane");
        assert_eq!(got.user.groups, ["dev", ALL_AUTHENTICATED]);
        assert_eq!(got.user.extra["shift"], ["night"]);
        assert_eq!(got.user.extra.len(), 1);
        let only_second = headers(&[("X-Remote-User", "bob")]);
        assert_eq!(
            proxy
                .authenticate(&chain, &only_second, NOW)
                .unwrap()
                .unwrap()
                .user
                .username,
            "bob"
        );
    }

    #[test]
    fn clear_headers_removes_what_was_believed() {
        let ca = TestCa::new("front-proxy-ca");
        let mut all = headers(JANE);
        all.append("accept", HeaderValue::from_static("application/json"));
        proxy(&ca, &[]).clear_headers(&mut all);
        let left: Vec<&str> = all.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["accept"]);
    }

    #[test]
    fn bad_configuration_is_a_config_error() {
        let ca = TestCa::new("front-proxy-ca");
        let config = |username_headers: Vec<String>| RequestHeaderConfig {
            client_ca_pem: ca.pem.as_bytes().to_vec(),
            username_headers,
            ..RequestHeaderConfig::default()
        };
        let error = |c| RequestHeaderAuthenticator::new(c).unwrap_err().0;
        assert_eq!(
            error(config(vec![" ".to_string()])),
            "--requestheader-username-headers: empty header \" \""
        );
        assert_eq!(
            error(config(vec!["X User".to_string()])),
            "--requestheader-username-headers: \"X User\" is not a header name"
        );
        assert_eq!(
            error(RequestHeaderConfig::default()),
            "--requestheader-client-ca-file: no PEM certificate in it"
        );
    }
}
