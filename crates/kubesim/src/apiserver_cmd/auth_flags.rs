//! The authentication and authorization flags of `kubesim apiserver`, by kube-apiserver's names
//! and syntax, checked into the server's [`AuthOptions`].
//!
//! Syntax as pflag has it: booleans take `--flag=false` (a bare `--flag` is true, and
//! `--flag false` is not a value); `StringArray` flags (`--service-account-key-file`,
//! `--service-account-issuer`, `--oidc-required-claim`) repeat and never split on commas;
//! `StringSlice` flags (`--api-audiences`, `--oidc-signing-algs`, the `--requestheader-*` lists,
//! `--authorization-mode`) split on commas and also repeat. Checks follow kube-apiserver's
//! `Validate()` of its authentication and authorization options, with its messages; files are
//! read and checked when the server starts.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use kubesim_apiserver::config::{
    AuthOptions, DEFAULT_WEBHOOK_AUTHORIZED_TTL, DEFAULT_WEBHOOK_TIMEOUT,
    DEFAULT_WEBHOOK_UNAUTHORIZED_TTL,
};
use kubesim_authz::mode::{Mode, parse_modes};
use kubesim_authz::webhook::{FailurePolicy, MAX_TIMEOUT};

use crate::flags::FlagError;

/// kube's bounds on a non-zero `--service-account-max-token-expiration`.
const MIN_MAX_TOKEN_EXPIRATION: Duration = Duration::from_secs(3600);
const MAX_MAX_TOKEN_EXPIRATION: Duration = Duration::from_secs(1 << 32);
/// The JOSE algorithms kube's `--oidc-signing-algs` accepts (`oidc.AllValidSigningAlgorithms`).
const OIDC_SIGNING_ALGS: [&str; 9] = [
    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
];
/// kubesim's failure policies, as AuthorizationConfiguration spells them.
const FAILURE_POLICIES: [FailurePolicy; 2] = [FailurePolicy::Deny, FailurePolicy::NoOpinion];

/// Every authentication and authorization flag. Flags whose absence matters (kube's
/// "was it set" checks) are `Option`s or lists, defaulted in [`AuthArgs::to_options`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthArgs {
    /// Enables anonymous requests (user system:anonymous, group system:unauthenticated).
    /// Turned off, with a warning, under --authorization-mode=AlwaysAllow, as kube does.
    #[arg(long, value_name = "BOOL", default_value = "true", num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub anonymous_auth: String,
    /// Static bearer tokens, Kubernetes' CSV: token,user,uid,"group1,group2".
    #[arg(long, value_name = "FILE")]
    pub token_auth_file: Option<PathBuf>,
    /// PEM RSA or ECDSA public or private keys that verify ServiceAccount tokens; repeatable.
    #[arg(long, value_name = "FILE")]
    pub service_account_key_file: Vec<PathBuf>,
    /// PEM private key (RSA or P-256) that signs TokenRequest tokens.
    #[arg(long, value_name = "FILE")]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// The `iss` of issued tokens (the first) and the issuers accepted (all); repeatable.
    #[arg(long, value_name = "ISSUER")]
    pub service_account_issuer: Vec<String>,
    /// Audiences a token must be bound to (comma list); default: the issuers.
    #[arg(long, value_name = "AUDIENCES", value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// Whether a ServiceAccount token's account (and bound object) must still exist.
    #[arg(long, value_name = "BOOL", default_value = "true", num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub service_account_lookup: String,
    /// Longest validity of an issued token (a Go duration, 1h to 2^32s); 0 is no maximum.
    #[arg(long, value_name = "DURATION")]
    pub service_account_max_token_expiration: Option<String>,
    /// The OpenID issuer's https URL; turns OIDC on, with --oidc-client-id.
    #[arg(long, value_name = "URL")]
    pub oidc_issuer_url: Option<String>,
    /// The audience tokens must carry.
    #[arg(long, value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// The claim that becomes the user name [default: sub].
    #[arg(long, value_name = "CLAIM")]
    pub oidc_username_claim: Option<String>,
    /// Prefix of user names; default: `<issuer>#` except for `email`; `-` for none.
    #[arg(long, value_name = "PREFIX")]
    pub oidc_username_prefix: Option<String>,
    /// The claim (string or list) that becomes the groups.
    #[arg(long, value_name = "CLAIM")]
    pub oidc_groups_claim: Option<String>,
    /// Prefix of every group from --oidc-groups-claim.
    #[arg(long, value_name = "PREFIX")]
    pub oidc_groups_prefix: Option<String>,
    /// A `key=value` claim the token must have; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub oidc_required_claim: Vec<String>,
    /// CA bundle the issuer's certificate is verified with (default: the system roots).
    #[arg(long, value_name = "FILE")]
    pub oidc_ca_file: Option<PathBuf>,
    /// Accepted JOSE signing algorithms (comma list) [default: RS256].
    #[arg(long, value_name = "ALGS", value_delimiter = ',')]
    pub oidc_signing_algs: Vec<String>,
    /// CA bundle an authenticating proxy's client certificate must chain to before its
    /// --requestheader-* headers are trusted.
    #[arg(long, value_name = "FILE")]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// Common names the proxy's certificate may have (comma list); empty allows any.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// Headers holding the user name, first present wins (e.g. X-Remote-User).
    #[arg(long, value_name = "HEADERS", value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,
    /// Headers holding groups (e.g. X-Remote-Group).
    #[arg(long, value_name = "HEADERS", value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,
    /// Header prefixes of extra user information (e.g. X-Remote-Extra-).
    #[arg(long, value_name = "PREFIXES", value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// Ordered authorizers (comma list) of AlwaysAllow, AlwaysDeny, ABAC, Webhook, RBAC,
    /// Node [default: AlwaysAllow unless --authorization-config].
    #[arg(long, value_name = "MODES", value_delimiter = ',')]
    pub authorization_mode: Vec<String>,
    /// An AuthorizationConfiguration file, instead of --authorization-mode and the
    /// --authorization-webhook-* flags.
    #[arg(long, value_name = "FILE")]
    pub authorization_config: Option<PathBuf>,
    /// ABAC's policy, JSON lines (--authorization-mode=ABAC).
    #[arg(long, value_name = "FILE")]
    pub authorization_policy_file: Option<PathBuf>,
    /// A kubeconfig whose server is the authz service, `http://host:port`
    /// (--authorization-mode=Webhook).
    #[arg(long, value_name = "FILE")]
    pub authorization_webhook_config_file: Option<PathBuf>,
    /// How long the Webhook authorizer reuses an allowed answer [default: 5m0s].
    #[arg(long, value_name = "DURATION")]
    pub authorization_webhook_cache_authorized_ttl: Option<String>,
    /// How long the Webhook authorizer reuses a denied answer [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub authorization_webhook_cache_unauthorized_ttl: Option<String>,
    /// kubesim's: bound on one call to the authz service, at most 30s [default: 3s].
    #[arg(long, value_name = "DURATION")]
    pub authorization_webhook_timeout: Option<String>,
    /// kubesim's: NoOpinion (the next authorizer decides) or Deny when the authz service
    /// fails or times out [default: NoOpinion].
    #[arg(long, value_name = "POLICY")]
    pub authorization_webhook_failure_policy: Option<String>,
}

impl AuthArgs {
    /// Checks every flag as kube-apiserver does and builds the server's options.
    pub fn to_options(&self) -> Result<AuthOptions, FlagError> {
        let mut options = AuthOptions {
            anonymous_auth: parse_go_bool("anonymous-auth", &self.anonymous_auth)?,
            token_auth_file: self.token_auth_file.clone(),
            ..AuthOptions::default()
        };
        self.service_accounts(&mut options)?;
        self.oidc(&mut options)?;
        self.request_header(&mut options)?;
        self.authorization(&mut options)?;
        if options.anonymous_auth && self.modes().iter().any(|m| m == Mode::AlwaysAllow.as_str()) {
            // kube's `ApplyAuthorization`: anyone could do anything.
            tracing::warn!(
                "AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting \
                 AnonymousAuth to false. You should use a different authorizer"
            );
            options.anonymous_auth = false;
        }
        Ok(options)
    }

    fn service_accounts(&self, options: &mut AuthOptions) -> Result<(), FlagError> {
        check_issuers(&self.service_account_issuer)?;
        options.service_account_key_files = self.service_account_key_file.clone();
        options.service_account_signing_key_file = self.service_account_signing_key_file.clone();
        options.service_account_issuers = self.service_account_issuer.clone();
        options.api_audiences = non_empty(&self.api_audiences);
        options.service_account_lookup =
            parse_go_bool("service-account-lookup", &self.service_account_lookup)?;
        options.service_account_max_token_expiration = self
            .service_account_max_token_expiration
            .as_deref()
            .map(parse_max_token_expiration)
            .transpose()?
            .flatten();
        Ok(())
    }

    fn oidc(&self, options: &mut AuthOptions) -> Result<(), FlagError> {
        let any_set = self.oidc_issuer_url.is_some()
            || self.oidc_client_id.is_some()
            || self.oidc_username_claim.is_some()
            || self.oidc_username_prefix.is_some()
            || self.oidc_groups_claim.is_some()
            || self.oidc_groups_prefix.is_some()
            || !self.oidc_required_claim.is_empty()
            || self.oidc_ca_file.is_some()
            || !self.oidc_signing_algs.is_empty();
        let issuer = self.oidc_issuer_url.clone().unwrap_or_default();
        let client_id = self.oidc_client_id.clone().unwrap_or_default();
        if any_set && (issuer.is_empty() || client_id.is_empty()) {
            let flag = if issuer.is_empty() {
                "oidc-issuer-url"
            } else {
                "oidc-client-id"
            };
            return Err(FlagError::new(
                flag,
                "oidc-issuer-url and oidc-client-id must be specified together when any \
                 oidc-* flags are set",
            ));
        }
        if !any_set {
            return Ok(());
        }
        if !issuer.starts_with("https://") {
            return Err(FlagError::new(
                "oidc-issuer-url",
                format!("{issuer:?}: URL scheme must be https"),
            ));
        }
        options.oidc_issuer_url = Some(issuer);
        options.oidc_client_id = client_id;
        if let Some(claim) = &self.oidc_username_claim {
            options.oidc_username_claim = claim.clone();
        }
        // An empty prefix is kube's "unset" (the default prefixing applies).
        options.oidc_username_prefix = self.oidc_username_prefix.clone().filter(|p| !p.is_empty());
        options.oidc_groups_claim = self.oidc_groups_claim.clone().filter(|c| !c.is_empty());
        options.oidc_groups_prefix = self.oidc_groups_prefix.clone().unwrap_or_default();
        options.oidc_required_claims = parse_required_claims(&self.oidc_required_claim)?;
        options.oidc_ca_file = self.oidc_ca_file.clone();
        if !self.oidc_signing_algs.is_empty() {
            options.oidc_signing_algs = parse_signing_algs(&self.oidc_signing_algs)?;
        }
        Ok(())
    }

    fn request_header(&self, options: &mut AuthOptions) -> Result<(), FlagError> {
        let lists: [(&'static str, &Vec<String>); 4] = [
            (
                "requestheader-username-headers",
                &self.requestheader_username_headers,
            ),
            (
                "requestheader-group-headers",
                &self.requestheader_group_headers,
            ),
            (
                "requestheader-extra-headers-prefix",
                &self.requestheader_extra_headers_prefix,
            ),
            (
                "requestheader-allowed-names",
                &self.requestheader_allowed_names,
            ),
        ];
        for (flag, values) in lists {
            if values.iter().any(|v| v.trim().is_empty()) {
                return Err(FlagError::new(flag, format!("empty value in {flag:?}")));
            }
        }
        options.requestheader_client_ca_file = self.requestheader_client_ca_file.clone();
        options.requestheader_allowed_names = self.requestheader_allowed_names.clone();
        options.requestheader_username_headers = self.requestheader_username_headers.clone();
        options.requestheader_group_headers = self.requestheader_group_headers.clone();
        options.requestheader_extra_headers_prefix =
            self.requestheader_extra_headers_prefix.clone();
        Ok(())
    }

    fn authorization(&self, options: &mut AuthOptions) -> Result<(), FlagError> {
        options.authorization_policy_file = self.authorization_policy_file.clone();
        options.authorization_webhook_config_file = self.authorization_webhook_config_file.clone();
        options.authorization_webhook_authorized_ttl = cache_ttl(
            "authorization-webhook-cache-authorized-ttl",
            self.authorization_webhook_cache_authorized_ttl.as_deref(),
            DEFAULT_WEBHOOK_AUTHORIZED_TTL,
        )?;
        options.authorization_webhook_unauthorized_ttl = cache_ttl(
            "authorization-webhook-cache-unauthorized-ttl",
            self.authorization_webhook_cache_unauthorized_ttl.as_deref(),
            DEFAULT_WEBHOOK_UNAUTHORIZED_TTL,
        )?;
        options.authorization_webhook_timeout =
            webhook_timeout(self.authorization_webhook_timeout.as_deref())?;
        options.authorization_webhook_failure_policy =
            failure_policy(self.authorization_webhook_failure_policy.as_deref())?
                .as_str()
                .to_string();
        if let Some(file) = &self.authorization_config {
            if self.legacy_authorization_flags_set() {
                return Err(FlagError::new(
                    "authorization-config",
                    "--authorization-config can not be specified when --authorization-mode or \
                     --authorization-webhook-* flags are defined",
                ));
            }
            options.authorization_config_file = Some(file.clone());
            options.authorization_modes = String::new();
            return Ok(());
        }
        let modes = self.modes().join(",");
        check_authorization_modes(
            &modes,
            self.authorization_policy_file.is_some(),
            self.authorization_webhook_config_file.is_some(),
        )?;
        options.authorization_modes = modes;
        Ok(())
    }

    /// `--authorization-mode` as given, or kube's default when it was not.
    fn modes(&self) -> Vec<String> {
        if self.authorization_mode.is_empty() && self.authorization_config.is_none() {
            vec![Mode::AlwaysAllow.as_str().to_string()]
        } else {
            self.authorization_mode.clone()
        }
    }

    /// kube's `AreLegacyFlagsSet`, with kubesim's own webhook flags among them.
    fn legacy_authorization_flags_set(&self) -> bool {
        !self.authorization_mode.is_empty()
            || self.authorization_webhook_config_file.is_some()
            || self.authorization_webhook_cache_authorized_ttl.is_some()
            || self.authorization_webhook_cache_unauthorized_ttl.is_some()
            || self.authorization_webhook_timeout.is_some()
            || self.authorization_webhook_failure_policy.is_some()
    }
}

/// kube's checks of `--authorization-mode` and the files its modes need, in its order and
/// with its messages; the first failure is reported. `kubesim up` checks its own flag here too.
pub fn check_authorization_modes(
    modes: &str,
    has_policy_file: bool,
    has_webhook_config_file: bool,
) -> Result<Vec<Mode>, FlagError> {
    let parsed = parse_modes(modes).map_err(|e| FlagError::new("authorization-mode", e))?;
    if parsed.contains(&Mode::Abac) && !has_policy_file {
        return Err(FlagError::new(
            "authorization-mode",
            "authorization-mode ABAC's authorization policy file not passed",
        ));
    }
    if parsed.contains(&Mode::Webhook) && !has_webhook_config_file {
        return Err(FlagError::new(
            "authorization-mode",
            "authorization-mode Webhook's authorization config file not passed",
        ));
    }
    if has_policy_file && !parsed.contains(&Mode::Abac) {
        return Err(FlagError::new(
            "authorization-policy-file",
            "cannot specify --authorization-policy-file without mode ABAC",
        ));
    }
    if has_webhook_config_file && !parsed.contains(&Mode::Webhook) {
        return Err(FlagError::new(
            "authorization-webhook-config-file",
            "cannot specify --authorization-webhook-config-file without mode Webhook",
        ));
    }
    Ok(parsed)
}

/// `NoOpinion` or `Deny` (the default: NoOpinion), or AuthorizationConfiguration's message.
pub fn failure_policy(value: Option<&str>) -> Result<FailurePolicy, FlagError> {
    let Some(value) = value else {
        return Ok(FailurePolicy::NoOpinion);
    };
    FAILURE_POLICIES
        .into_iter()
        .find(|policy| policy.as_str() == value)
        .ok_or_else(|| {
            FlagError::new(
                "authorization-webhook-failure-policy",
                format!("Unsupported value: {value:?}: supported values: \"Deny\", \"NoOpinion\""),
            )
        })
}

/// Go's `strconv.ParseBool`, which pflag's boolean flags use.
pub fn parse_go_bool(flag: &'static str, value: &str) -> Result<bool, FlagError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(FlagError::new(
            flag,
            format!("invalid argument {value:?}: must be true or false"),
        )),
    }
}

/// A Go duration that may be zero (`0`, `0s`), as kube's `DurationVar` flags take it.
pub fn parse_duration_or_zero(flag: &'static str, text: &str) -> Result<Duration, FlagError> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    kubesim_api::time::parse_go_duration(text).ok_or_else(|| {
        FlagError::new(
            flag,
            format!("{text:?} must be a duration such as 1m0s, 30s or 500ms"),
        )
    })
}

/// kube's checks of `--service-account-issuer`: not empty, a valid URL when it has a `:`
/// (approximated: a scheme and something after it), not repeated.
fn check_issuers(issuers: &[String]) -> Result<(), FlagError> {
    let flag = "service-account-issuer";
    let mut seen = HashSet::new();
    for issuer in issuers {
        if issuer.is_empty() {
            return Err(FlagError::new(
                flag,
                "service-account-issuer should not be an empty string",
            ));
        }
        if issuer.contains(':') && !looks_like_url(issuer) {
            return Err(FlagError::new(
                flag,
                format!(
                    "service-account-issuer {issuer:?} contained a ':' but was not a valid URL"
                ),
            ));
        }
        if !seen.insert(issuer.as_str()) {
            return Err(FlagError::new(
                flag,
                format!("service-account-issuer {issuer:?} is already specified"),
            ));
        }
    }
    Ok(())
}

/// `scheme:rest` with an RFC 3986 scheme and no spaces or control characters.
fn looks_like_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    scheme_ok && !rest.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Zero is "no maximum"; anything else must lie within kube's bounds.
fn parse_max_token_expiration(text: &str) -> Result<Option<Duration>, FlagError> {
    let flag = "service-account-max-token-expiration";
    let duration = parse_duration_or_zero(flag, text)?;
    if duration.is_zero() {
        return Ok(None);
    }
    if !(MIN_MAX_TOKEN_EXPIRATION..=MAX_MAX_TOKEN_EXPIRATION).contains(&duration) {
        return Err(FlagError::new(
            flag,
            "the service-account-max-token-expiration must be between 1 hour and 2^32 seconds",
        ));
    }
    Ok(Some(duration))
}

/// pflag's `MapStringStringNoSplit`: each value one `key=value`, both trimmed, a later key
/// replacing an earlier one; kept sorted by key, as kube builds its claim rules.
fn parse_required_claims(pairs: &[String]) -> Result<Vec<(String, String)>, FlagError> {
    let mut claims = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            FlagError::new(
                "oidc-required-claim",
                format!("invalid argument {pair:?}: malformed pair, expect string=string"),
            )
        })?;
        claims.insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok(claims.into_iter().collect())
}

fn parse_signing_algs(algs: &[String]) -> Result<Vec<String>, FlagError> {
    for alg in algs {
        if !OIDC_SIGNING_ALGS.contains(&alg.as_str()) {
            return Err(FlagError::new(
                "oidc-signing-algs",
                format!("unsupported OIDC signing algorithm {alg:?}"),
            ));
        }
    }
    Ok(algs.to_vec())
}

fn cache_ttl(
    flag: &'static str,
    value: Option<&str>,
    default: Duration,
) -> Result<Duration, FlagError> {
    value.map_or(Ok(default), |text| parse_duration_or_zero(flag, text))
}

/// Longer than zero and at most kube's 30 s, AuthorizationConfiguration's bounds.
fn webhook_timeout(value: Option<&str>) -> Result<Duration, FlagError> {
    let flag = "authorization-webhook-timeout";
    let Some(text) = value else {
        return Ok(DEFAULT_WEBHOOK_TIMEOUT);
    };
    let timeout = parse_duration_or_zero(flag, text)?;
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(FlagError::new(
            flag,
            format!("Invalid value: {text:?}: must be > 0s and <= 30s"),
        ));
    }
    Ok(timeout)
}

/// A comma list with empty entries dropped (`--api-audiences=` is no audience).
fn non_empty(values: &[String]) -> Vec<String> {
    values.iter().filter(|v| !v.is_empty()).cloned().collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: AuthArgs,
    }

    fn parse(args: &[&str]) -> AuthArgs {
        let argv = std::iter::once("apiserver").chain(args.iter().copied());
        Cmd::try_parse_from(argv).unwrap().args
    }

    fn opts(args: &[&str]) -> Result<AuthOptions, FlagError> {
        parse(args).to_options()
    }

    fn error(args: &[&str]) -> (String, String) {
        let e = opts(args).unwrap_err();
        (e.flag.to_string(), e.reason)
    }

    #[test]
    fn defaults_are_kube_apiservers_with_anonymous_reset_under_always_allow() {
        let options = opts(&[]).unwrap();
        let expected = AuthOptions {
            anonymous_auth: false,
            ..AuthOptions::default()
        };
        assert_eq!(options, expected);
        assert_eq!(options.authorization_modes, "AlwaysAllow");
        let rbac = opts(&["--authorization-mode=RBAC"]).unwrap();
        assert!(rbac.anonymous_auth);
        assert_eq!(rbac.authorization_modes, "RBAC");
    }

    #[test]
    fn booleans_take_go_syntax() {
        let off = |v: &str| {
            let flag = format!("--anonymous-auth={v}");
            opts(&["--authorization-mode=RBAC", &flag])
                .unwrap()
                .anonymous_auth
        };
        for v in ["false", "0", "f", "F", "FALSE", "False"] {
            assert!(!off(v), "{v}");
        }
        for v in ["true", "1", "t", "TRUE"] {
            assert!(off(v), "{v}");
        }
        let bare = opts(&["--authorization-mode=RBAC", "--anonymous-auth"]).unwrap();
        assert!(bare.anonymous_auth);
        assert_eq!(
            error(&["--service-account-lookup=no"]),
            (
                "service-account-lookup".into(),
                "invalid argument \"no\": must be true or false".into()
            )
        );
        // As in Go, a boolean's value must follow `=`.
        let argv = ["apiserver", "--anonymous-auth", "false"];
        assert!(Cmd::try_parse_from(argv).is_err());
    }

    #[test]
    fn service_account_flags_reach_the_options() {
        let options = opts(&[
            "--service-account-key-file=a.pub",
            "--service-account-key-file=b,c.pub",
            "--service-account-signing-key-file=sa.key",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-issuer=kubesim",
            "--api-audiences=a,b",
            "--api-audiences=c",
            "--service-account-lookup=false",
            "--service-account-max-token-expiration=48h",
        ])
        .unwrap();
        assert_eq!(
            options.service_account_key_files,
            [PathBuf::from("a.pub"), PathBuf::from("b,c.pub")]
        );
        assert_eq!(
            options.service_account_signing_key_file,
            Some(PathBuf::from("sa.key"))
        );
        assert_eq!(
            options.service_account_issuers,
            ["https://kubernetes.default.svc.cluster.local", "kubesim"]
        );
        assert_eq!(options.api_audiences, ["a", "b", "c"]);
        assert!(!options.service_account_lookup);
        assert_eq!(
            options.service_account_max_token_expiration,
            Some(Duration::from_secs(48 * 3600))
        );
        let zero = opts(&["--service-account-max-token-expiration=0"]).unwrap();
        assert_eq!(zero.service_account_max_token_expiration, None);
    }

    #[test]
    fn bad_service_account_flags() {
        let bounds =
            "the service-account-max-token-expiration must be between 1 hour and 2^32 seconds";
        let cases: [(&[&str], &str, &str); 6] = [
            (
                &["--service-account-max-token-expiration=59m"],
                "service-account-max-token-expiration",
                bounds,
            ),
            (
                &["--service-account-max-token-expiration=1193047h"],
                "service-account-max-token-expiration",
                bounds,
            ),
            (
                &["--service-account-max-token-expiration=1d"],
                "service-account-max-token-expiration",
                "\"1d\" must be a duration such as 1m0s, 30s or 500ms",
            ),
            (
                &["--service-account-issuer="],
                "service-account-issuer",
                "service-account-issuer should not be an empty string",
            ),
            (
                &[
                    "--service-account-issuer=https://a",
                    "--service-account-issuer=https://a",
                ],
                "service-account-issuer",
                "service-account-issuer \"https://a\" is already specified",
            ),
            (
                &["--service-account-issuer=:foo"],
                "service-account-issuer",
                "service-account-issuer \":foo\" contained a ':' but was not a valid URL",
            ),
        ];
        for (args, flag, reason) in cases {
            assert_eq!(error(args), (flag.into(), reason.into()), "{args:?}");
        }
    }

    #[test]
    fn oidc_flags_reach_the_options() {
        let options = opts(&[
            "--oidc-issuer-url=https://127.0.0.1:5556",
            "--oidc-client-id=kubesim",
            "--oidc-username-claim=email",
            "--oidc-username-prefix=oidc:",
            "--oidc-groups-claim=groups",
            "--oidc-groups-prefix=oidc:",
            "--oidc-required-claim=tier=gold",
            "--oidc-required-claim= env = prod,eu ",
            "--oidc-required-claim=tier=silver",
            "--oidc-ca-file=oidc-ca.crt",
            "--oidc-signing-algs=ES256,RS256",
        ])
        .unwrap();
        assert_eq!(
            options.oidc_issuer_url.as_deref(),
            Some("https://127.0.0.1:5556")
        );
        assert_eq!(options.oidc_client_id, "kubesim");
        assert_eq!(options.oidc_username_claim, "email");
        assert_eq!(options.oidc_username_prefix.as_deref(), Some("oidc:"));
        assert_eq!(options.oidc_groups_claim.as_deref(), Some("groups"));
        assert_eq!(options.oidc_groups_prefix, "oidc:");
        assert_eq!(
            options.oidc_required_claims,
            [
                ("env".to_string(), "prod,eu".to_string()),
                ("tier".to_string(), "silver".to_string())
            ]
        );
        assert_eq!(options.oidc_ca_file, Some(PathBuf::from("oidc-ca.crt")));
        assert_eq!(options.oidc_signing_algs, ["ES256", "RS256"]);

        let minimal = opts(&[
            "--oidc-issuer-url=https://issuer",
            "--oidc-client-id=k",
            "--oidc-username-prefix=",
        ])
        .unwrap();
        assert_eq!(minimal.oidc_username_claim, "sub");
        assert_eq!(minimal.oidc_username_prefix, None);
        assert_eq!(minimal.oidc_signing_algs, ["RS256"]);
    }

    #[test]
    fn bad_oidc_flags() {
        let together = "oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set";
        let cases: [(&[&str], &str, &str); 5] = [
            (&["--oidc-issuer-url=https://i"], "oidc-client-id", together),
            (&["--oidc-groups-claim=groups"], "oidc-issuer-url", together),
            (
                &["--oidc-issuer-url=http://i", "--oidc-client-id=k"],
                "oidc-issuer-url",
                "\"http://i\": URL scheme must be https",
            ),
            (
                &[
                    "--oidc-issuer-url=https://i",
                    "--oidc-client-id=k",
                    "--oidc-required-claim=tier",
                ],
                "oidc-required-claim",
                "invalid argument \"tier\": malformed pair, expect string=string",
            ),
            (
                &[
                    "--oidc-issuer-url=https://i",
                    "--oidc-client-id=k",
                    "--oidc-signing-algs=HS256",
                ],
                "oidc-signing-algs",
                "unsupported OIDC signing algorithm \"HS256\"",
            ),
        ];
        for (args, flag, reason) in cases {
            assert_eq!(error(args), (flag.into(), reason.into()), "{args:?}");
        }
    }

    #[test]
    fn request_header_flags() {
        let options = opts(&[
            "--requestheader-client-ca-file=proxy-ca.crt",
            "--requestheader-allowed-names=front-proxy",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group,X-Groups",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        ])
        .unwrap();
        assert_eq!(
            options.requestheader_client_ca_file,
            Some(PathBuf::from("proxy-ca.crt"))
        );
        assert_eq!(options.requestheader_allowed_names, ["front-proxy"]);
        assert_eq!(options.requestheader_username_headers, ["X-Remote-User"]);
        assert_eq!(
            options.requestheader_group_headers,
            ["X-Remote-Group", "X-Groups"]
        );
        assert_eq!(
            options.requestheader_extra_headers_prefix,
            ["X-Remote-Extra-"]
        );
        assert_eq!(
            error(&["--requestheader-username-headers=X-Remote-User, "]),
            (
                "requestheader-username-headers".into(),
                "empty value in \"requestheader-username-headers\"".into()
            )
        );
    }

    #[test]
    fn authorization_flags_reach_the_options() {
        let options = opts(&[
            "--authorization-mode=Node,Webhook",
            "--authorization-mode=RBAC",
            "--authorization-webhook-config-file=authz.kubeconfig",
            "--authorization-webhook-cache-authorized-ttl=0",
            "--authorization-webhook-cache-unauthorized-ttl=1m",
            "--authorization-webhook-timeout=500ms",
            "--authorization-webhook-failure-policy=Deny",
        ])
        .unwrap();
        assert_eq!(options.authorization_modes, "Node,Webhook,RBAC");
        assert_eq!(
            options.authorization_webhook_config_file,
            Some(PathBuf::from("authz.kubeconfig"))
        );
        assert_eq!(options.authorization_webhook_authorized_ttl, Duration::ZERO);
        assert_eq!(
            options.authorization_webhook_unauthorized_ttl,
            Duration::from_secs(60)
        );
        assert_eq!(
            options.authorization_webhook_timeout,
            Duration::from_millis(500)
        );
        assert_eq!(options.authorization_webhook_failure_policy, "Deny");

        let abac = opts(&[
            "--authorization-mode=ABAC",
            "--authorization-policy-file=policy.jsonl",
        ])
        .unwrap();
        assert_eq!(
            abac.authorization_policy_file,
            Some(PathBuf::from("policy.jsonl"))
        );

        let file = opts(&["--authorization-config=authz.yaml"]).unwrap();
        assert_eq!(
            file.authorization_config_file,
            Some(PathBuf::from("authz.yaml"))
        );
        assert_eq!(file.authorization_modes, "");
        assert!(file.anonymous_auth, "no AlwaysAllow mode to reset it");
    }

    #[test]
    fn bad_authorization_flags_have_kubes_messages() {
        let exclusive = "--authorization-config can not be specified when --authorization-mode or --authorization-webhook-* flags are defined";
        let cases: [(&[&str], &str, &str); 11] = [
            (
                &["--authorization-mode="],
                "authorization-mode",
                "at least one authorization-mode must be passed",
            ),
            (
                &["--authorization-mode=rbac"],
                "authorization-mode",
                "authorization-mode \"rbac\" is not a valid mode",
            ),
            (
                &["--authorization-mode=RBAC,RBAC"],
                "authorization-mode",
                "authorization-mode [\"RBAC\" \"RBAC\"] has mode specified more than once",
            ),
            (
                &["--authorization-mode=ABAC"],
                "authorization-mode",
                "authorization-mode ABAC's authorization policy file not passed",
            ),
            (
                &["--authorization-mode=Webhook"],
                "authorization-mode",
                "authorization-mode Webhook's authorization config file not passed",
            ),
            (
                &["--authorization-policy-file=p"],
                "authorization-policy-file",
                "cannot specify --authorization-policy-file without mode ABAC",
            ),
            (
                &[
                    "--authorization-mode=RBAC",
                    "--authorization-webhook-config-file=k",
                ],
                "authorization-webhook-config-file",
                "cannot specify --authorization-webhook-config-file without mode Webhook",
            ),
            (
                &[
                    "--authorization-config=a.yaml",
                    "--authorization-webhook-timeout=1s",
                ],
                "authorization-config",
                exclusive,
            ),
            (
                &["--authorization-webhook-timeout=31s"],
                "authorization-webhook-timeout",
                "Invalid value: \"31s\": must be > 0s and <= 30s",
            ),
            (
                &["--authorization-webhook-failure-policy=Fail"],
                "authorization-webhook-failure-policy",
                "Unsupported value: \"Fail\": supported values: \"Deny\", \"NoOpinion\"",
            ),
            (
                &["--authorization-webhook-cache-authorized-ttl=5x"],
                "authorization-webhook-cache-authorized-ttl",
                "\"5x\" must be a duration such as 1m0s, 30s or 500ms",
            ),
        ];
        for (args, flag, reason) in cases {
            assert_eq!(error(args), (flag.into(), reason.into()), "{args:?}");
        }
        let (flag, _) = error(&["--authorization-config=a.yaml", "--authorization-mode=RBAC"]);
        assert_eq!(flag, "authorization-config");
    }

    #[test]
    fn check_authorization_modes_returns_the_modes_in_order() {
        assert_eq!(
            check_authorization_modes("Node,Webhook", false, true),
            Ok(vec![Mode::Node, Mode::Webhook])
        );
        assert_eq!(failure_policy(None), Ok(FailurePolicy::NoOpinion));
        assert_eq!(failure_policy(Some("Deny")), Ok(FailurePolicy::Deny));
    }
}
