//! Authentication and authorization, assembled from the flags ([`crate::config::AuthOptions`])
//! at start-up: [`build`] reads every file once, and a bad file or flag fails start-up with a
//! message naming it, as kube-apiserver does.
//!
//! - this file: [`build`], which makes the [`Security`] the chain and the handlers share
//!   (`crate::context`);
//! - [`rbac_source`]: RBAC's objects from the watch caches ([`rbac_source::CachedRbac`], also
//!   used by the authz service);
//! - [`lookup`]: ServiceAccount token verification's UID lookups over the registry;
//! - [`node_graph`]: which node a pod is bound to, for the Node authorizer;
//! - [`policy`]: the bootstrap ClusterRoles and bindings, created at start-up, and the
//!   aggregation of ClusterRoles (kube's `clusterrole-aggregation-controller`), kept current;
//! - [`trace`]: the decision path of recent requests, by `Audit-Id`.

pub mod escalation;
pub mod lookup;
pub mod node_graph;
pub mod policy;
pub mod rbac_source;
pub mod trace;

use std::path::Path;
use std::sync::Arc;

use kubesim_authn::oidc::OidcConfig;
use kubesim_authn::request_header::RequestHeaderConfig;
use kubesim_authn::service_account::{TokenIssuer, VerifierConfig};
use kubesim_authn::{Authenticator, AuthnConfig, ObjectLookup};
use kubesim_authz::Authorizer;
use kubesim_authz::abac::Abac;
use kubesim_authz::always::{AlwaysAllow, AlwaysDeny};
use kubesim_authz::chain::AuthorizerChain;
use kubesim_authz::mode::{self, AuthorizerSpec, Mode};
use kubesim_authz::node::{NodeAuthorizer, NodeGraph};
use kubesim_authz::rbac::{Rbac, RbacObjects, RbacSource, StaticRbacSource};
use kubesim_authz::webhook::{FailurePolicy, WebhookAuthorizer, WebhookConfig};
use kubesim_net::Env;

use crate::config::AuthOptions;
use crate::context::Security;
use crate::registry::Registry;

/// Builds the server's authenticator and authorizer chain from `options`. `registry` is
/// `None` when the server runs without storage (the chain's unit tests): RBAC then sees
/// only the bootstrap policy, and ServiceAccount lookups fail.
pub fn build(
    options: &AuthOptions,
    client_ca_file: Option<&Path>,
    env: &Env,
    registry: Option<&Arc<Registry>>,
) -> Result<Security, String> {
    let token_issuer = token_issuer(options)?;
    let lookup: Arc<dyn ObjectLookup> = match registry {
        Some(registry) => Arc::new(lookup::RegistryLookup::new(registry)),
        None => Arc::new(lookup::NoObjects),
    };
    let authn_config = authn_config(options, client_ca_file, token_issuer.as_ref())?;
    let authenticator =
        Authenticator::new(authn_config, lookup, env.net.clone(), env.clock.clone())
            .map_err(|e| e.0)?;
    let rbac_source: Arc<dyn RbacSource> = match registry {
        Some(registry) => rbac_source::CachedRbac::from_registry(registry)?,
        None => Arc::new(StaticRbacSource::new(RbacObjects::bootstrap())),
    };
    let rbac = Arc::new(Rbac::new(rbac_source));
    let graph: Arc<dyn NodeGraph> = match registry {
        Some(registry) => Arc::new(node_graph::PodNodes::new(registry)),
        None => Arc::new(node_graph::NoPods),
    };
    let authorizers = authorizers(options, env, &rbac, graph)?;
    let api_audiences = match (options.api_audiences.is_empty(), &token_issuer) {
        (true, Some(issuer)) => vec![issuer.issuer().to_string()],
        _ => options.api_audiences.clone(),
    };
    Ok(Security {
        authenticator,
        authorizer: AuthorizerChain::new(authorizers),
        rbac,
        token_issuer,
        api_audiences,
        max_token_expiration: options.service_account_max_token_expiration,
        trace: trace::TraceLog::new(trace::DEFAULT_CAPACITY),
    })
}

/// `--service-account-signing-key-file` with the first `--service-account-issuer`.
fn token_issuer(options: &AuthOptions) -> Result<Option<TokenIssuer>, String> {
    let Some(path) = &options.service_account_signing_key_file else {
        return Ok(None);
    };
    let issuer = options.service_account_issuers.first().ok_or_else(|| {
        "--service-account-signing-key-file needs --service-account-issuer".to_string()
    })?;
    let pem = read(path, "--service-account-signing-key-file")?;
    TokenIssuer::from_pem(&pem, issuer)
        .map(Some)
        .map_err(|e| format!("--service-account-signing-key-file {}: {e}", path.display()))
}

fn authn_config(
    options: &AuthOptions,
    client_ca_file: Option<&Path>,
    token_issuer: Option<&TokenIssuer>,
) -> Result<AuthnConfig, String> {
    let client_ca_pem = client_ca_file
        .map(|path| read(path, "--client-ca-file"))
        .transpose()?;
    let token_auth_csv = options
        .token_auth_file
        .as_ref()
        .map(|path| {
            read(path, "--token-auth-file").and_then(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|_| format!("--token-auth-file {}: not UTF-8 text", path.display()))
            })
        })
        .transpose()?;
    Ok(AuthnConfig {
        client_ca_pem,
        token_auth_csv,
        service_accounts: service_account_verifier(options, token_issuer)?,
        oidc: oidc_config(options)?,
        request_header: request_header_config(options)?,
        anonymous: options.anonymous_auth,
    })
}

/// ServiceAccount tokens are verified when there is a key to verify them with: the
/// `--service-account-key-file`s, and the signing key's public half.
fn service_account_verifier(
    options: &AuthOptions,
    token_issuer: Option<&TokenIssuer>,
) -> Result<Option<VerifierConfig>, String> {
    let mut public_key_pems = options
        .service_account_key_files
        .iter()
        .map(|path| read(path, "--service-account-key-file"))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(issuer) = token_issuer {
        public_key_pems.push(issuer.public_key_pem().into_bytes());
    }
    if public_key_pems.is_empty() {
        return Ok(None);
    }
    if options.service_account_issuers.is_empty() {
        return Err("--service-account-key-file needs --service-account-issuer".to_string());
    }
    Ok(Some(VerifierConfig {
        public_key_pems,
        issuers: options.service_account_issuers.clone(),
        api_audiences: options.api_audiences.clone(),
        lookup: options.service_account_lookup,
    }))
}

fn oidc_config(options: &AuthOptions) -> Result<Option<OidcConfig>, String> {
    let Some(issuer_url) = &options.oidc_issuer_url else {
        return Ok(None);
    };
    if options.oidc_client_id.is_empty() {
        return Err("--oidc-client-id is required with --oidc-issuer-url".to_string());
    }
    let ca_pem = options
        .oidc_ca_file
        .as_ref()
        .map(|path| read(path, "--oidc-ca-file"))
        .transpose()?;
    Ok(Some(OidcConfig {
        issuer_url: issuer_url.clone(),
        client_id: options.oidc_client_id.clone(),
        username_claim: options.oidc_username_claim.clone(),
        username_prefix: options.oidc_username_prefix.clone(),
        groups_claim: options.oidc_groups_claim.clone(),
        groups_prefix: options.oidc_groups_prefix.clone(),
        required_claims: options.oidc_required_claims.clone(),
        ca_pem,
        signing_algs: options.oidc_signing_algs.clone(),
    }))
}

fn request_header_config(options: &AuthOptions) -> Result<Option<RequestHeaderConfig>, String> {
    let Some(path) = &options.requestheader_client_ca_file else {
        return Ok(None);
    };
    Ok(Some(RequestHeaderConfig {
        client_ca_pem: read(path, "--requestheader-client-ca-file")?,
        allowed_names: options.requestheader_allowed_names.clone(),
        username_headers: options.requestheader_username_headers.clone(),
        group_headers: options.requestheader_group_headers.clone(),
        extra_headers_prefix: options.requestheader_extra_headers_prefix.clone(),
    }))
}

/// The chain, from `--authorization-config` or from `--authorization-mode` and the webhook
/// flags.
fn authorizers(
    options: &AuthOptions,
    env: &Env,
    rbac: &Arc<Rbac>,
    graph: Arc<dyn NodeGraph>,
) -> Result<Vec<Arc<dyn Authorizer>>, String> {
    let specs = match &options.authorization_config_file {
        Some(path) => {
            let text = read_text(path, "--authorization-config")?;
            // Each webhook's kubeconfig (an absolute path, as kube requires) is read here.
            mode::parse_authorization_config(&text)
                .map_err(|e| format!("--authorization-config {}: {e}", path.display()))?
                .authorizers
        }
        None => mode_specs(options)?,
    };
    specs
        .into_iter()
        .map(|spec| authorizer(spec, options, env, rbac, graph.clone()))
        .collect()
}

/// `--authorization-mode` with the legacy webhook flags.
fn mode_specs(options: &AuthOptions) -> Result<Vec<AuthorizerSpec>, String> {
    let modes = mode::parse_modes(&options.authorization_modes)
        .map_err(|e| format!("--authorization-mode: {e}"))?;
    modes
        .into_iter()
        .map(|mode| {
            let webhook = match mode {
                Mode::Webhook => Some(legacy_webhook(options)?),
                _ => None,
            };
            Ok(AuthorizerSpec {
                mode,
                name: mode.as_str().to_string(),
                webhook,
            })
        })
        .collect()
}

fn legacy_webhook(options: &AuthOptions) -> Result<WebhookConfig, String> {
    let path = options
        .authorization_webhook_config_file
        .as_ref()
        .ok_or_else(|| {
            "--authorization-mode=Webhook needs --authorization-webhook-config-file".to_string()
        })?;
    // The kubeconfig and the CA and client certificate files it names, as client-go reads
    // an `https://` webhook's.
    let connection = mode::load_connection(path).map_err(|e| {
        format!(
            "--authorization-webhook-config-file {}: {e}",
            path.display()
        )
    })?;
    let failure_policy = match options.authorization_webhook_failure_policy.as_str() {
        "NoOpinion" => FailurePolicy::NoOpinion,
        "Deny" => FailurePolicy::Deny,
        other => {
            return Err(format!(
                "--authorization-webhook-failure-policy: {other:?} is not NoOpinion or Deny"
            ));
        }
    };
    Ok(WebhookConfig {
        endpoint: connection.endpoint,
        tls: connection.tls,
        timeout: options.authorization_webhook_timeout,
        authorized_ttl: options.authorization_webhook_authorized_ttl,
        unauthorized_ttl: options.authorization_webhook_unauthorized_ttl,
        failure_policy,
        ..WebhookConfig::default()
    })
}

fn authorizer(
    spec: AuthorizerSpec,
    options: &AuthOptions,
    env: &Env,
    rbac: &Arc<Rbac>,
    graph: Arc<dyn NodeGraph>,
) -> Result<Arc<dyn Authorizer>, String> {
    Ok(match spec.mode {
        Mode::AlwaysAllow => Arc::new(AlwaysAllow),
        Mode::AlwaysDeny => Arc::new(AlwaysDeny),
        Mode::Rbac => rbac.clone(),
        Mode::Node => Arc::new(NodeAuthorizer::new(graph)),
        Mode::Abac => {
            let path = options.authorization_policy_file.as_ref().ok_or_else(|| {
                "--authorization-mode=ABAC needs --authorization-policy-file".to_string()
            })?;
            let text = read_text(path, "--authorization-policy-file")?;
            Arc::new(
                Abac::parse(&text)
                    .map_err(|e| format!("--authorization-policy-file {}: {e}", path.display()))?,
            )
        }
        Mode::Webhook => {
            let config = spec
                .webhook
                .ok_or_else(|| format!("authorizer {:?} has no webhook settings", spec.name))?;
            Arc::new(WebhookAuthorizer::new(config, env.net.clone()))
        }
    })
}

/// A file a flag names, read whole (flags name small files: keys, CSVs, policies).
fn read(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

fn read_text(path: &Path, flag: &str) -> Result<String, String> {
    String::from_utf8(read(path, flag)?)
        .map_err(|_| format!("{flag} {}: not UTF-8 text", path.display()))
}
