//! [`Authenticator`]: the authenticators kube-apiserver's flags configure, tried in its order
//! (`pkg/kubeapiserver/authenticator/config.go`): the authenticating proxy, client
//! certificates, then the `Authorization: Bearer` token through the static token file,
//! ServiceAccount tokens and OIDC; the first that accepts decides.
//!
//! As kube's union does, a refusal (an error) does not stop the others: a proxy certificate
//! from another CA may still be a valid x509 user. But when nothing accepted, any refusal
//! makes the request a 401 (kube's `NewFailOnError` in front of anonymous): a presented
//! credential that failed is never anonymous.
//!
//! Two choices beyond kube: the only place a token is read is the `Authorization` header
//! (kube reads no `access_token` query parameter either; the websocket protocol header is not
//! supported), and an `Authorization` header that is not a well-formed bearer token (Basic,
//! another scheme, an empty token) is a 401 where kube would ignore it.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::AUTHORIZATION;
use kubesim_api::user::UserInfo;
use kubesim_net::{Clock, Network};

use crate::oidc::OidcAuthenticator;
use crate::request_header::{Outcome, RequestHeaderAuthenticator};
use crate::service_account::ServiceAccountAuthenticator;
use crate::token_file::StaticTokens;
use crate::x509::X509Authenticator;
use crate::{
    Authenticated, AuthnConfig, AuthnError, AuthnRequest, ConfigError, Method, ObjectLookup,
    add_authenticated_group,
};

/// The 401 message for `Authorization: Basic`.
const BASIC_NOT_SUPPORTED: &str = "basic authentication is not supported: it was removed in \
     Kubernetes 1.19; use a bearer token or a client certificate";

/// The union of the configured authenticators.
pub struct Authenticator {
    request_header: Option<RequestHeaderAuthenticator>,
    x509: Option<X509Authenticator>,
    token_file: Option<StaticTokens>,
    service_accounts: Option<ServiceAccountAuthenticator>,
    oidc: Option<OidcAuthenticator>,
    /// `--anonymous-auth`.
    anonymous: bool,
    /// The audiences every identity is valid for (`--api-audiences`, else the ServiceAccount
    /// issuers; empty without ServiceAccount tokens).
    api_audiences: Vec<String>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("request_header", &self.request_header.is_some())
            .field("x509", &self.x509.is_some())
            .field("token_file", &self.token_file.is_some())
            .field("service_accounts", &self.service_accounts.is_some())
            .field("oidc", &self.oidc.is_some())
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

/// What the `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
enum Credential<'a> {
    None,
    Bearer(&'a str),
}

impl Authenticator {
    pub fn new(
        config: AuthnConfig,
        lookup: Arc<dyn ObjectLookup>,
        net: Arc<dyn Network>,
        clock: Arc<dyn Clock>,
    ) -> Result<Authenticator, ConfigError> {
        let service_accounts = config
            .service_accounts
            .map(|c| ServiceAccountAuthenticator::new(c, lookup))
            .transpose()?;
        let api_audiences = service_accounts
            .as_ref()
            .map(|s| s.api_audiences().to_vec())
            .unwrap_or_default();
        Ok(Authenticator {
            request_header: config
                .request_header
                .map(RequestHeaderAuthenticator::new)
                .transpose()?,
            x509: config
                .client_ca_pem
                .map(|pem| X509Authenticator::new(&pem))
                .transpose()?,
            token_file: config
                .token_auth_csv
                .map(|csv| StaticTokens::parse(&csv))
                .transpose()?,
            service_accounts,
            oidc: config
                .oidc
                .map(|c| OidcAuthenticator::new(c, net, clock.clone()))
                .transpose()?,
            anonymous: config.anonymous,
            api_audiences,
            clock,
        })
    }

    /// Who made the request, or why it is a 401.
    pub async fn authenticate(
        &self,
        request: AuthnRequest<'_>,
    ) -> Result<Authenticated, AuthnError> {
        let now = self.clock.now_since_epoch();
        let mut refusals = Vec::new();
        if let Some(found) = self.certificate(request, now, &mut refusals) {
            return Ok(self.finish(found));
        }
        match bearer(request.headers) {
            Err(e) => return Err(with_refusals(e, refusals)),
            // Boxed: the token authenticators' futures (a ServiceAccount's lookup, OIDC's
            // key fetch) are kilobytes that a certificate's request would otherwise carry.
            Ok(Credential::Bearer(token)) => match Box::pin(self.token(token, now)).await {
                Ok(found) => return Ok(self.finish(found)),
                Err(e) => refusals.push(e),
            },
            Ok(Credential::None) => {}
        }
        if !refusals.is_empty() {
            return Err(AuthnError::new(refusals.join("; ")));
        }
        if !self.anonymous {
            return Err(AuthnError::new(
                "no credentials, and anonymous requests are disabled (--anonymous-auth=false)",
            ));
        }
        Ok(Authenticated {
            user: UserInfo::anonymous(),
            method: Method::Anonymous,
            detail: "anonymous: no credentials presented".to_string(),
            audiences: self.api_audiences.clone(),
        })
    }

    /// The ServiceAccount token verifier, for TokenReview.
    pub fn service_accounts(&self) -> Option<&ServiceAccountAuthenticator> {
        self.service_accounts.as_ref()
    }

    /// The authenticating proxy, whose headers the API server removes once believed.
    pub fn request_header(&self) -> Option<&RequestHeaderAuthenticator> {
        self.request_header.as_ref()
    }

    /// The proxy, then x509; refusals are collected for the 401.
    fn certificate(
        &self,
        request: AuthnRequest<'_>,
        now: Duration,
        refusals: &mut Vec<String>,
    ) -> Option<Authenticated> {
        let chain = request.peer_certificates;
        if let Some(proxy) = &self.request_header {
            match proxy.check(chain, request.headers, now) {
                Ok(Outcome::Authenticated(found)) => return Some(found),
                Ok(Outcome::OtherCa(why)) => refusals.push(why),
                Ok(Outcome::NoCertificate | Outcome::NoUser) => {}
                Err(e) => refusals.push(e.detail),
            }
        }
        if let Some(x509) = &self.x509 {
            match x509.authenticate(chain, now) {
                Ok(found) => return found,
                Err(e) => refusals.push(e.detail),
            }
        }
        None
    }

    /// kube's token union: the first authenticator that accepts decides; when none does, the
    /// 401's detail says why each one that looked refused.
    async fn token(&self, token: &str, now: Duration) -> Result<Authenticated, String> {
        if let Some(found) = self.token_file.as_ref().and_then(|t| t.authenticate(token)) {
            return Ok(found);
        }
        let mut errors = Vec::new();
        if let Some(accounts) = &self.service_accounts {
            match accounts.authenticate(token, now).await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => errors.push(e.detail),
            }
        }
        if let Some(oidc) = &self.oidc {
            match oidc.authenticate_token(token).await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => errors.push(e.detail),
            }
        }
        if errors.is_empty() {
            return Err("invalid bearer token: no token authenticator recognised it".to_string());
        }
        Err(format!("invalid bearer token: {}", errors.join("; ")))
    }

    /// kube's `AuthenticatedGroupAdder`, and the audiences of authenticators that do not
    /// know about audiences (kube's `WrapAudienceAgnostic*`).
    fn finish(&self, mut found: Authenticated) -> Authenticated {
        found.user = add_authenticated_group(found.user);
        if found.method != Method::ServiceAccount {
            found.audiences = self.api_audiences.clone();
        }
        found
    }
}

/// The bearer token of the `Authorization` header (the first one, as Go's `Header.Get`).
fn bearer(headers: &HeaderMap) -> Result<Credential<'_>, AuthnError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(Credential::None);
    };
    let malformed = |why: &str| AuthnError::new(format!("malformed Authorization header: {why}"));
    let value = value
        .to_str()
        .map_err(|_| malformed("not visible ASCII"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthnError {
            detail: "basic authentication is not supported (removed in Kubernetes 1.19)"
                .to_string(),
            client_message: Some(BASIC_NOT_SUPPORTED.to_string()),
        });
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed("only the Bearer scheme is supported"));
    }
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(malformed(
            "Bearer needs exactly one token after a single space",
        ));
    }
    Ok(Credential::Bearer(rest))
}

/// A malformed header's error, with what the certificate authenticators refused before it.
fn with_refusals(mut error: AuthnError, refusals: Vec<String>) -> AuthnError {
    if !refusals.is_empty() {
        error.detail = format!("{}; {}", refusals.join("; "), error.detail);
    }
    error
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};
    use kubesim_api::user::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED};
    use rustls::pki_types::CertificateDer;

    use super::*;
    use crate::BoundKind;
    use crate::request_header::RequestHeaderConfig;
    use crate::service_account::{IssueRequest, TokenIssuer, VerifierConfig};
    use crate::testing::{AFTER_EXPIRY, NOW, Objects, RSA_A_PKCS1, TestCa};

    const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

    struct FixedClock(Duration);

    impl Clock for FixedClock {
        fn now_since_epoch(&self) -> Duration {
            self.0
        }
    }

    /// Every authenticator but OIDC, and the credentials to present to it.
    struct Setup {
        client_ca: TestCa,
        proxy_ca: TestCa,
        issuer: TokenIssuer,
        config: AuthnConfig,
    }

    impl Setup {
        fn new() -> Setup {
            let client_ca = TestCa::new("client-ca");
            let proxy_ca = TestCa::new("front-proxy-ca");
            let issuer = TokenIssuer::from_pem(RSA_A_PKCS1.as_bytes(), ISSUER).unwrap();
            let config = AuthnConfig {
                client_ca_pem: Some(client_ca.pem.as_bytes().to_vec()),
                token_auth_csv: Some("static-token,alice,1001,\"dev,ops\"\n".to_string()),
                service_accounts: Some(VerifierConfig {
                    public_key_pems: vec![issuer.public_key_pem().into_bytes()],
                    issuers: vec![ISSUER.to_string()],
                    api_audiences: vec![],
                    lookup: true,
                }),
                oidc: None,
                request_header: Some(RequestHeaderConfig {
                    client_ca_pem: proxy_ca.pem.as_bytes().to_vec(),
                    allowed_names: vec!["front-proxy".to_string()],
                    ..RequestHeaderConfig::default()
                }),
                anonymous: true,
            };
            Setup {
                client_ca,
                proxy_ca,
                issuer,
                config,
            }
        }

        fn authenticator_at(&self, now: Duration) -> Authenticator {
            let objects = Arc::new(Objects::default());
            objects.put(BoundKind::ServiceAccount, "prod", "deploy-bot", "sa-uid-1");
            Authenticator::new(
                self.config.clone(),
                objects,
                Arc::new(kubesim_net::TokioNetwork),
                Arc::new(FixedClock(now)),
            )
            .unwrap()
        }

        fn token(&self) -> String {
            let request = IssueRequest {
                namespace: "prod".to_string(),
                service_account_name: "deploy-bot".to_string(),
                service_account_uid: "sa-uid-1".to_string(),
                audiences: vec![ISSUER.to_string()],
                issued_at: NOW,
                expiration_seconds: 3600,
                bound: None,
                token_id: "jti-1".to_string(),
            };
            self.issuer.issue(&request).unwrap()
        }
    }

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

    fn run(
        authenticator: &Authenticator,
        headers: &HeaderMap,
        chain: &[CertificateDer<'static>],
    ) -> Result<Authenticated, AuthnError> {
        let request = AuthnRequest {
            headers,
            peer_certificates: chain,
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(authenticator.authenticate(request))
    }

    fn bearer_header(token: &str) -> HeaderMap {
        headers(&[("Authorization", &format!("Bearer {token}"))])
    }

    #[test]
    fn no_credentials_is_anonymous_when_allowed() {
        let setup = Setup::new();
        let got = run(&setup.authenticator_at(NOW), &HeaderMap::new(), &[]).unwrap();
        assert_eq!(got.user.username, "system:anonymous");
        assert_eq!(got.user.groups, [ALL_UNAUTHENTICATED]);
        assert_eq!(got.method, Method::Anonymous);
        assert_eq!(got.audiences, [ISSUER]);
    }

    #[test]
    fn no_credentials_is_401_when_anonymous_is_off() {
        let mut setup = Setup::new();
        setup.config.anonymous = false;
        let err = run(&setup.authenticator_at(NOW), &HeaderMap::new(), &[]).unwrap_err();
        assert_eq!(
            err.detail,
            "no credentials, and anonymous requests are disabled (--anonymous-auth=false)"
        );
    }

    #[test]
    fn each_method_authenticates() {
        let setup = Setup::new();
        let authenticator = setup.authenticator_at(NOW);

        let jane = setup.client_ca.client(Some("jane"), &["dev"]);
        let got = run(&authenticator, &HeaderMap::new(), &jane).unwrap();
        assert_eq!(
            (got.method, got.user.username.as_str()),
            (Method::X509, "jane")
        );
        assert_eq!(got.user.groups, ["dev", ALL_AUTHENTICATED]);
        assert_eq!(got.audiences, [ISSUER]);

        let got = run(&authenticator, &bearer_header("static-token"), &[]).unwrap();
        assert_eq!(
            (got.method, got.user.username.as_str()),
            (Method::StaticToken, "alice")
        );
        assert_eq!(got.user.groups, ["dev", "ops", ALL_AUTHENTICATED]);

        let got = run(&authenticator, &bearer_header(&setup.token()), &[]).unwrap();
        assert_eq!(got.method, Method::ServiceAccount);
        assert_eq!(got.user.username, "system:serviceaccount:prod:deploy-bot");
        assert_eq!(got.audiences, [ISSUER]);

        let proxy = setup.proxy_ca.client(Some("front-proxy"), &[]);
        let remote = headers(&[("X-Remote-User", "bob"), ("X-Remote-Group", "qa")]);
        let got = run(&authenticator, &remote, &proxy).unwrap();
        assert_eq!(
            (got.method, got.user.username.as_str()),
            (Method::RequestHeader, "bob")
        );
        assert_eq!(got.user.groups, ["qa", ALL_AUTHENTICATED]);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let setup = Setup::new();
        let lower = headers(&[("Authorization", "bearer static-token")]);
        let got = run(&setup.authenticator_at(NOW), &lower, &[]).unwrap();
        assert_eq!(got.user.username, "alice");
    }

    #[test]
    fn an_unknown_token_is_401_never_anonymous() {
        let setup = Setup::new();
        let err = run(&setup.authenticator_at(NOW), &bearer_header("nope"), &[]).unwrap_err();
        assert_eq!(
            err.detail,
            "invalid bearer token: no token authenticator recognised it"
        );
        assert_eq!(err.client_message, None);
    }

    #[test]
    fn an_expired_service_account_token_is_401_with_the_reason() {
        let setup = Setup::new();
        let late = setup.authenticator_at(NOW + Duration::from_secs(3600) + LATE);
        let err = run(&late, &bearer_header(&setup.token()), &[]).unwrap_err();
        assert_eq!(
            err.detail,
            "invalid bearer token: serviceaccount: service account token has expired"
        );
    }

    const LATE: Duration = Duration::from_secs(61);

    #[test]
    fn basic_auth_is_401_saying_it_is_not_supported() {
        let setup = Setup::new();
        let basic = headers(&[("Authorization", "Basic YWRtaW46YWRtaW4=")]);
        let err = run(&setup.authenticator_at(NOW), &basic, &[]).unwrap_err();
        assert_eq!(
            err.client_message.as_deref(),
            Some(
                "basic authentication is not supported: it was removed in Kubernetes 1.19; use a \
                 bearer token or a client certificate"
            )
        );
        assert_eq!(
            err.detail,
            "basic authentication is not supported (removed in Kubernetes 1.19)"
        );
    }

    #[test]
    fn malformed_authorization_headers_are_401() {
        let setup = Setup::new();
        let authenticator = setup.authenticator_at(NOW);
        let cases = [
            (
                "Bearer",
                "malformed Authorization header: Bearer needs exactly one token after a single space",
            ),
            (
                "Bearer  static-token",
                "malformed Authorization header: Bearer needs exactly one token after a single space",
            ),
            (
                "Bearer static-token extra",
                "malformed Authorization header: Bearer needs exactly one token after a single space",
            ),
            (
                "",
                "malformed Authorization header: only the Bearer scheme is supported",
            ),
            (
                "Token static-token",
                "malformed Authorization header: only the Bearer scheme is supported",
            ),
        ];
        for (value, detail) in cases {
            let err = run(&authenticator, &headers(&[("Authorization", value)]), &[]).unwrap_err();
            assert_eq!(err.detail, detail, "{value:?}");
        }
    }

    #[test]
    fn a_client_certificate_from_another_ca_is_401_never_anonymous() {
        let setup = Setup::new();
        let other = TestCa::new("other-ca").client(Some("mallory"), &["system:masters"]);
        let err = run(&setup.authenticator_at(NOW), &HeaderMap::new(), &other).unwrap_err();
        assert!(
            err.detail.starts_with(
                "requestheader: the client certificate is not signed by --requestheader-client-ca-file; \
                 x509: verifying certificate CN=mallory"
            ),
            "{}",
            err.detail
        );
        assert!(
            err.detail
                .ends_with("failed: invalid peer certificate: UnknownIssuer"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn an_expired_client_certificate_is_401() {
        let setup = Setup::new();
        let jane = setup.client_ca.client(Some("jane"), &[]);
        let err = run(
            &setup.authenticator_at(AFTER_EXPIRY),
            &HeaderMap::new(),
            &jane,
        )
        .unwrap_err();
        assert!(err.detail.contains("certificate expired"), "{}", err.detail);
    }

    #[test]
    fn proxy_headers_from_an_untrusted_client_do_not_count() {
        let setup = Setup::new();
        // A client certificate of --client-ca-file: the user is its CN, not X-Remote-User.
        let jane = setup.client_ca.client(Some("jane"), &[]);
        let claims_admin = headers(&[
            ("X-Remote-User", "admin"),
            ("X-Remote-Group", "system:masters"),
        ]);
        let got = run(&setup.authenticator_at(NOW), &claims_admin, &jane).unwrap();
        assert_eq!(
            (got.method, got.user.username.as_str()),
            (Method::X509, "jane")
        );
        assert_eq!(got.user.groups, [ALL_AUTHENTICATED]);
        // Without x509, the same request is a 401.
        let mut setup = setup;
        setup.config.client_ca_pem = None;
        let err = run(&setup.authenticator_at(NOW), &claims_admin, &jane).unwrap_err();
        assert_eq!(
            err.detail,
            "requestheader: the client certificate is not signed by --requestheader-client-ca-file"
        );
    }

    #[test]
    fn a_proxy_whose_cn_is_not_allowed_is_401() {
        let setup = Setup::new();
        let intruder = setup.proxy_ca.client(Some("intruder"), &[]);
        let remote = headers(&[("X-Remote-User", "admin")]);
        let err = run(&setup.authenticator_at(NOW), &remote, &intruder).unwrap_err();
        assert!(
            err.detail.starts_with(
                "requestheader: the proxy's certificate CN=intruder is not in --requestheader-allowed-names; x509: "
            ),
            "{}",
            err.detail
        );
    }

    #[test]
    fn the_first_authenticator_that_accepts_decides() {
        let setup = Setup::new();
        let authenticator = setup.authenticator_at(NOW);
        // A valid certificate wins before the token is read, as in kube.
        let jane = setup.client_ca.client(Some("jane"), &[]);
        let got = run(&authenticator, &bearer_header("nope"), &jane).unwrap();
        assert_eq!(got.user.username, "jane");
        // A refused certificate does not stop a valid token.
        let other = TestCa::new("other-ca").client(Some("mallory"), &[]);
        let got = run(&authenticator, &bearer_header("static-token"), &other).unwrap();
        assert_eq!(got.user.username, "alice");
    }

    #[test]
    fn a_bad_configuration_fails_start_up() {
        let mut setup = Setup::new();
        setup.config.token_auth_csv = Some("only,two\n".to_string());
        let err = Authenticator::new(
            setup.config.clone(),
            Arc::new(Objects::default()),
            Arc::new(kubesim_net::TokioNetwork),
            Arc::new(FixedClock(NOW)),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "--token-auth-file line 1: needs at least 3 columns (token, user name, user uid)"
        );
    }
}
