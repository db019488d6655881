//! End to end: a [`TestIssuer`] served over HTTPS on a loopback port with the real network,
//! and authenticators pointed at it. Every test starts its own issuer, shares its clock with
//! it (so expiry is tested without waiting), and runs under [`TEST_TIMEOUT`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kubesim_api::user::ALL_AUTHENTICATED;
use kubesim_net::network::Network;
use kubesim_net::{Clock, TokioNetwork};
use serde_json::{Value, json};

use super::issuer::{SigningAlg, TestIssuer, self_signed_tls};
use super::*;

const TEST_TIMEOUT: Duration = Duration::from_secs(30);
const NOW: u64 = 1_800_000_000;
const CLIENT_ID: &str = "kubesim";

/// A clock the test moves by hand.
struct ManualClock(AtomicU64);

impl ManualClock {
    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_since_epoch(&self) -> Duration {
        Duration::from_secs(self.0.load(Ordering::Relaxed))
    }
}

async fn bounded(test: impl Future<Output = ()>) {
    if tokio::time::timeout(TEST_TIMEOUT, test).await.is_err() {
        panic!("the test did not finish within {TEST_TIMEOUT:?}");
    }
}

/// A running issuer. Its server stops when the fixture is dropped.
struct Fixture {
    issuer: Arc<TestIssuer>,
    /// `https://127.0.0.1:<port>`, where it is served.
    url: String,
    ca_pem: String,
    clock: Arc<ManualClock>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An RS256 issuer whose URL is where it is served.
async fn start() -> Fixture {
    start_as(SigningAlg::Rs256, |url| url.to_string()).await
}

/// An issuer served on a fresh port, that calls itself `issuer_url(served_url)`.
async fn start_as(alg: SigningAlg, issuer_url: impl FnOnce(&str) -> String) -> Fixture {
    let listener = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("https://127.0.0.1:{port}");
    let (tls, ca_pem) = self_signed_tls("127.0.0.1").unwrap();
    let clock = Arc::new(ManualClock(AtomicU64::new(NOW)));
    let issuer =
        Arc::new(TestIssuer::with_algorithm(issuer_url(&url), alg, clock.clone()).unwrap());
    let server = tokio::spawn(issuer.clone().serve(listener, tls));
    Fixture {
        issuer,
        url,
        ca_pem,
        clock,
        server,
    }
}

impl Fixture {
    fn config(&self) -> OidcConfig {
        OidcConfig {
            issuer_url: self.url.clone(),
            client_id: CLIENT_ID.to_string(),
            ca_pem: Some(self.ca_pem.clone().into_bytes()),
            ..OidcConfig::default()
        }
    }

    fn authenticator(&self, config: OidcConfig) -> OidcAuthenticator {
        self.limited(config, KeyFetchLimits::default())
    }

    fn limited(&self, config: OidcConfig, limits: KeyFetchLimits) -> OidcAuthenticator {
        OidcAuthenticator::with_limits(config, limits, Arc::new(TokioNetwork), self.clock.clone())
            .unwrap()
    }

    /// A token for `jane` and our client id, with `extra` claims on top.
    fn token(&self, extra: Value) -> String {
        self.issuer.mint(claims(extra)).unwrap()
    }
}

fn claims(extra: Value) -> Value {
    let mut claims = json!({"sub": "jane", "aud": CLIENT_ID});
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    claims
}

async fn user_of(authenticator: &OidcAuthenticator, token: &str) -> Authenticated {
    match authenticator.authenticate_token(token).await {
        Ok(Some(authenticated)) => authenticated,
        other => panic!("expected an identity, got {other:?}"),
    }
}

async fn refusal(authenticator: &OidcAuthenticator, token: &str) -> String {
    match authenticator.authenticate_token(token).await {
        Err(e) => {
            assert_eq!(e.client_message, None);
            e.detail
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

fn groups(list: &[&str]) -> Vec<String> {
    list.iter().map(|g| g.to_string()).collect()
}

#[tokio::test]
async fn oidc_good_token_is_the_issuer_url_and_sub_fetching_keys_once() {
    bounded(async {
        let fixture = start().await;
        let authenticator = fixture.authenticator(fixture.config());
        assert_eq!(fixture.issuer.discovery_requests(), 0, "new() fetches nothing");

        let authenticated = user_of(&authenticator, &fixture.token(json!({}))).await;
        assert_eq!(authenticated.user.username, format!("{}#jane", fixture.url));
        assert_eq!(authenticated.user.groups, groups(&[ALL_AUTHENTICATED]));
        assert_eq!(authenticated.method, Method::Oidc);
        assert_eq!(authenticated.audiences, Vec::<String>::new());
        assert_eq!(
            authenticated.detail,
            format!(
                "oidc: ID token of issuer {:?}, signed with key \"key-1\" (RS256); username from claim \"sub\"; expires 2027-01-15T09:00:00Z",
                fixture.url
            )
        );
        user_of(&authenticator, &fixture.token(json!({"sub": "joe"}))).await;
        assert_eq!(fixture.issuer.discovery_requests(), 1);
        assert_eq!(fixture.issuer.jwks_requests(), 1);
    })
    .await
}

#[tokio::test]
async fn oidc_username_prefix_follows_kubes_flag_rules() {
    bounded(async {
        let fixture = start().await;
        let token = fixture.token(json!({"email": "jane@example.com", "email_verified": true}));
        let cases = [
            ("sub", Some("-"), "jane".to_string()),
            ("sub", Some("oidc:"), "oidc:jane".to_string()),
            ("sub", Some(""), format!("{}#jane", fixture.url)),
            ("email", None, "jane@example.com".to_string()),
            ("email", Some("oidc:"), "oidc:jane@example.com".to_string()),
        ];
        for (claim, prefix, want) in cases {
            let config = OidcConfig {
                username_claim: claim.to_string(),
                username_prefix: prefix.map(str::to_string),
                ..fixture.config()
            };
            let user = user_of(&fixture.authenticator(config), &token).await.user;
            assert_eq!(user.username, want, "claim {claim}, prefix {prefix:?}");
        }
    })
    .await
}

#[tokio::test]
async fn oidc_email_username_needs_email_verified_true_when_present() {
    bounded(async {
        let fixture = start().await;
        let config = OidcConfig {
            username_claim: "email".to_string(),
            ..fixture.config()
        };
        let authenticator = fixture.authenticator(config);
        let unverified =
            fixture.token(json!({"email": "jane@example.com", "email_verified": false}));
        assert_eq!(
            refusal(&authenticator, &unverified).await,
            "oidc: email not verified"
        );
        let silent = fixture.token(json!({"email": "jane@example.com"}));
        assert_eq!(
            user_of(&authenticator, &silent).await.user.username,
            "jane@example.com"
        );
        let no_email = fixture.token(json!({}));
        assert_eq!(
            refusal(&authenticator, &no_email).await,
            "oidc: parse username claims \"email\": claim not present"
        );
    })
    .await
}

#[tokio::test]
async fn oidc_groups_come_from_an_array_or_a_string_with_their_prefix() {
    bounded(async {
        let fixture = start().await;
        let config = OidcConfig {
            groups_claim: Some("groups".to_string()),
            groups_prefix: "oidc:".to_string(),
            ..fixture.config()
        };
        let authenticator = fixture.authenticator(config);
        let array = fixture.token(json!({"groups": ["dev", "ops"]}));
        let user = user_of(&authenticator, &array).await;
        assert_eq!(
            user.user.groups,
            groups(&["oidc:dev", "oidc:ops", ALL_AUTHENTICATED])
        );
        assert!(
            user.detail.contains(", groups from claim \"groups\";"),
            "{}",
            user.detail
        );
        let string = fixture.token(json!({"groups": "admins"}));
        assert_eq!(
            user_of(&authenticator, &string).await.user.groups,
            groups(&["oidc:admins", ALL_AUTHENTICATED])
        );
        let number = fixture.token(json!({"groups": 7}));
        assert_eq!(
            refusal(&authenticator, &number).await,
            "oidc: parse groups claim \"groups\": not a string or an array of strings"
        );
    })
    .await
}

#[tokio::test]
async fn oidc_required_claims_must_be_present_with_their_value() {
    bounded(async {
        let fixture = start().await;
        let config = OidcConfig {
            required_claims: vec![("hd".to_string(), "example.com".to_string())],
            ..fixture.config()
        };
        let authenticator = fixture.authenticator(config);
        user_of(&authenticator, &fixture.token(json!({"hd": "example.com"}))).await;
        assert_eq!(
            refusal(&authenticator, &fixture.token(json!({}))).await,
            "oidc: required claim hd not present in ID token"
        );
        assert_eq!(
            refusal(&authenticator, &fixture.token(json!({"hd": "evil.com"}))).await,
            "oidc: required claim hd value does not match. Got = evil.com, want = example.com"
        );
    })
    .await
}

#[tokio::test]
async fn oidc_audience_and_validity_period_are_checked() {
    bounded(async {
        let fixture = start().await;
        let authenticator = fixture.authenticator(fixture.config());
        let other_audience = fixture.token(json!({"aud": ["kubectl", "grafana"]}));
        assert_eq!(
            refusal(&authenticator, &other_audience).await,
            r#"oidc: verify token: oidc: expected audience "kubesim" got ["kubectl" "grafana"]"#
        );
        let early = fixture.token(json!({"nbf": NOW + 120}));
        assert_eq!(
            refusal(&authenticator, &early).await,
            "oidc: verify token: oidc: current time 2027-01-15T08:00:00Z before the nbf (not before) time: 2027-01-15T08:02:00Z"
        );
        let within_leeway = fixture.token(json!({"nbf": NOW + 60}));
        user_of(&authenticator, &within_leeway).await;

        let good = fixture.token(json!({}));
        fixture.clock.advance(3600);
        user_of(&authenticator, &good).await;
        fixture.clock.advance(1);
        assert_eq!(
            refusal(&authenticator, &good).await,
            "oidc: verify token: oidc: token is expired (Token Expiry: 2027-01-15T09:00:00Z)"
        );
    })
    .await
}

#[tokio::test]
async fn oidc_tokens_of_other_issuers_and_non_jwts_are_left_to_others() {
    bounded(async {
        let fixture = start().await;
        let authenticator = fixture.authenticator(fixture.config());
        let elsewhere = fixture.token(json!({"iss": "https://accounts.example.com"}));
        let trailing_slash = fixture.token(json!({"iss": format!("{}/", fixture.url)}));
        for token in [
            elsewhere.as_str(),
            trailing_slash.as_str(),
            "31ada4fd-adec-460c-809a-9e56ceb75269",
            "a.b",
            "{\"protected\": \"x\"}",
        ] {
            assert_eq!(
                authenticator.authenticate_token(token).await,
                Ok(None),
                "{token}"
            );
        }
        assert_eq!(fixture.issuer.discovery_requests(), 0);
    })
    .await
}

#[tokio::test]
async fn oidc_a_token_signed_by_another_key_under_a_known_kid_is_refused() {
    bounded(async {
        let fixture = start().await;
        let authenticator = fixture.authenticator(fixture.config());
        user_of(&authenticator, &fixture.token(json!({}))).await;

        // Same issuer URL, different key (the second embedded one), claiming key-1.
        let impostor = TestIssuer::new(fixture.url.clone(), fixture.clock.clone()).unwrap();
        impostor.rotate_key().unwrap();
        let forged = impostor.mint_with_kid(claims(json!({})), "key-1").unwrap();
        assert_eq!(
            refusal(&authenticator, &forged).await,
            "oidc: verify token: failed to verify signature: failed to verify id token signature (kid \"key-1\")"
        );
        // A bad signature on a known kid is not a reason to fetch the keys again.
        assert_eq!(fixture.issuer.jwks_requests(), 1);
    })
    .await
}

#[tokio::test]
async fn oidc_an_unknown_kid_refetches_the_keys_at_most_once_per_interval() {
    bounded(async {
        let fixture = start().await;
        let limits = KeyFetchLimits {
            min_refresh_interval: Duration::from_millis(500),
            ..KeyFetchLimits::default()
        };
        let authenticator = fixture.limited(fixture.config(), limits);
        let before = fixture.token(json!({}));
        user_of(&authenticator, &before).await;

        assert_eq!(fixture.issuer.rotate_key().unwrap(), "key-2");
        let after = fixture.token(json!({}));
        assert_eq!(
            refusal(&authenticator, &after).await,
            "oidc: verify token: failed to verify signature: no key of the issuer fits the token (kid \"key-2\", alg \"RS256\"); keys are fetched again at most every 500ms"
        );
        assert_eq!(fixture.issuer.jwks_requests(), 1, "too soon to fetch again");

        tokio::time::sleep(Duration::from_millis(600)).await;
        let authenticated = user_of(&authenticator, &after).await;
        assert!(authenticated.detail.contains("signed with key \"key-2\""));
        assert_eq!(fixture.issuer.jwks_requests(), 2);
        assert_eq!(fixture.issuer.discovery_requests(), 1, "discovery is not repeated");
        // The previous key is still published, so tokens signed just before stay good.
        user_of(&authenticator, &before).await;
    })
    .await
}

#[tokio::test]
async fn oidc_a_flood_of_made_up_kids_does_not_hammer_the_issuer() {
    bounded(async {
        let fixture = start().await;
        let authenticator = Arc::new(fixture.authenticator(fixture.config()));
        user_of(&authenticator, &fixture.token(json!({}))).await;
        let mut attempts = tokio::task::JoinSet::new();
        for n in 0..50 {
            let token = fixture
                .issuer
                .mint_with_kid(claims(json!({})), &format!("made-up-{n}"))
                .unwrap();
            let authenticator = authenticator.clone();
            attempts.spawn(async move { authenticator.authenticate_token(&token).await });
        }
        while let Some(attempt) = attempts.join_next().await {
            let refused = attempt.unwrap().unwrap_err();
            assert!(
                refused
                    .detail
                    .contains("no key of the issuer fits the token"),
                "{refused}"
            );
        }
        assert_eq!(fixture.issuer.jwks_requests(), 1);
    })
    .await
}

#[tokio::test]
async fn oidc_a_token_without_kid_is_checked_against_every_key() {
    bounded(async {
        let fixture = start().await;
        let authenticator = fixture.authenticator(fixture.config());
        let mut body = claims(json!({}));
        if let Some(body) = body.as_object_mut() {
            body.insert("iss".into(), fixture.url.clone().into());
            body.insert("exp".into(), (NOW + 600).into());
        }
        let sign = |pem: &str| {
            let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &body, &key).unwrap()
        };
        let by_key_1 = sign(super::issuer_keys::RSA_KEYS[0].pem);
        let authenticated = user_of(&authenticator, &by_key_1).await;
        assert!(
            authenticated.detail.contains("signed with key \"key-1\" (RS256)"),
            "{}",
            authenticated.detail
        );
        // Signed by a key the issuer does not publish: no key fits, and it is too soon to
        // fetch again.
        let by_key_2 = sign(super::issuer_keys::RSA_KEYS[1].pem);
        assert_eq!(
            refusal(&authenticator, &by_key_2).await,
            "oidc: verify token: failed to verify signature: no key of the issuer fits the token (kid \"\", alg \"RS256\"); keys are fetched again at most every 10s"
        );
        assert_eq!(fixture.issuer.jwks_requests(), 1);
    })
    .await
}

/// `<header>.<payload>.<signature>` with `header` as given.
fn token_with_header(header: Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    format!("{}.{}.{signature}", part(&header), part(claims))
}

#[tokio::test]
async fn oidc_alg_none_and_hmac_are_refused() {
    bounded(async {
        let fixture = start().await;
        let authenticator = fixture.authenticator(fixture.config());
        let mut body = claims(json!({}));
        if let Some(body) = body.as_object_mut() {
            body.insert("iss".into(), fixture.url.clone().into());
            body.insert("exp".into(), (NOW + 600).into());
        }
        let unsigned = token_with_header(json!({"alg": "none", "kid": "key-1"}), &body, "");
        assert_eq!(
            refusal(&authenticator, &unsigned).await,
            r#"oidc: verify token: oidc: id token signed with unsupported algorithm, expected ["RS256"] got "none""#
        );
        // HMAC keyed with the issuer's public modulus: the classic key-confusion forgery.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("key-1".to_string());
        let jwks = fixture.issuer.jwks_json();
        let modulus = jwks["keys"][0]["n"].as_str().unwrap().to_string();
        let hmac = jsonwebtoken::encode(&header, &body, &EncodingKey::from_secret(modulus.as_bytes()))
            .unwrap();
        assert_eq!(
            refusal(&authenticator, &hmac).await,
            r#"oidc: verify token: oidc: id token signed with unsupported algorithm, expected ["RS256"] got "HS256""#
        );
        assert_eq!(fixture.issuer.discovery_requests(), 0, "refused before any fetch");
    })
    .await
}

#[tokio::test]
async fn oidc_only_the_configured_signing_algorithms_are_accepted() {
    bounded(async {
        let fixture = start_as(SigningAlg::Es256, |url| url.to_string()).await;
        let token = fixture.token(json!({}));
        let default = fixture.authenticator(fixture.config());
        assert_eq!(
            refusal(&default, &token).await,
            r#"oidc: verify token: oidc: id token signed with unsupported algorithm, expected ["RS256"] got "ES256""#
        );
        let config = OidcConfig {
            signing_algs: vec!["RS256".to_string(), "ES256".to_string()],
            ..fixture.config()
        };
        let es256 = fixture.authenticator(config);
        let authenticated = user_of(&es256, &token).await;
        assert!(authenticated.detail.contains("(ES256)"), "{}", authenticated.detail);
    })
    .await
}

#[tokio::test]
async fn oidc_an_unreachable_issuer_is_an_error_and_is_not_retried_at_once() {
    bounded(async {
        let fixture = start().await;
        // A port nobody listens on: bound, then closed.
        let closed = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = format!("https://127.0.0.1:{port}");
        let config = OidcConfig {
            issuer_url: url.clone(),
            ..fixture.config()
        };
        let authenticator = fixture.authenticator(config);
        let token = fixture.token(json!({"iss": url}));
        let started = Instant::now();
        let first = refusal(&authenticator, &token).await;
        let prefix = format!(
            "oidc: authenticator not initialized: oidc: fetching {url}/.well-known/openid-configuration: connect to 127.0.0.1:{port}: "
        );
        assert!(first.starts_with(&prefix), "{first}");
        let second = refusal(&authenticator, &token).await;
        assert_eq!(second, format!("{first} (retrying at most every 10s)"));
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await
}

#[tokio::test]
async fn oidc_an_issuer_that_never_answers_is_cut_off_by_the_fetch_timeout() {
    bounded(async {
        let fixture = start().await;
        // Connections are queued by the kernel, never accepted, never answered.
        let silent = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", silent.local_addr().unwrap().port());
        let config = OidcConfig {
            issuer_url: url.clone(),
            ..fixture.config()
        };
        let limits = KeyFetchLimits {
            fetch_timeout: Duration::from_millis(300),
            ..KeyFetchLimits::default()
        };
        let authenticator = fixture.limited(config, limits);
        let started = Instant::now();
        let refused = refusal(&authenticator, &fixture.token(json!({"iss": url.clone()}))).await;
        assert_eq!(
            refused,
            format!(
                "oidc: authenticator not initialized: oidc: fetching the keys of issuer {url:?} timed out after 300ms"
            )
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(silent);
    })
    .await
}

#[tokio::test]
async fn oidc_a_discovery_document_for_another_issuer_is_refused() {
    bounded(async {
        let fixture = start().await;
        // The same server, configured with a trailing slash the issuer does not use.
        let configured = format!("{}/", fixture.url);
        let config = OidcConfig {
            issuer_url: configured.clone(),
            ..fixture.config()
        };
        let authenticator = fixture.authenticator(config);
        let token = fixture.token(json!({"iss": configured.clone()}));
        assert_eq!(
            refusal(&authenticator, &token).await,
            format!(
                "oidc: authenticator not initialized: oidc: issuer did not match the issuer returned by provider, expected {configured:?} got {:?}",
                fixture.url
            )
        );
        assert_eq!(fixture.issuer.jwks_requests(), 0);
    })
    .await
}

#[tokio::test]
async fn oidc_without_a_trusted_ca_the_keys_are_never_fetched() {
    bounded(async {
        let fixture = start().await;
        let no_ca = OidcConfig {
            ca_pem: None,
            ..fixture.config()
        };
        let refused = refusal(&fixture.authenticator(no_ca), &fixture.token(json!({}))).await;
        assert_eq!(
            refused,
            format!(
                "oidc: authenticator not initialized: oidc: no CA to verify issuer {:?} with: kubesim has no system root certificates, set --oidc-ca-file",
                fixture.url
            )
        );
        let (_, other_ca) = self_signed_tls("127.0.0.1").unwrap();
        let wrong_ca = OidcConfig {
            ca_pem: Some(other_ca.into_bytes()),
            ..fixture.config()
        };
        let refused = refusal(&fixture.authenticator(wrong_ca), &fixture.token(json!({}))).await;
        // Both test CAs have the same name, so the chain is built and its signature fails.
        assert_eq!(
            refused,
            format!(
                "oidc: authenticator not initialized: oidc: fetching {}/.well-known/openid-configuration: TLS handshake: invalid peer certificate: BadSignature",
                fixture.url
            )
        );
        assert_eq!(fixture.issuer.discovery_requests(), 0);
    })
    .await
}

#[tokio::test]
async fn oidc_response_bodies_and_key_counts_are_bounded() {
    bounded(async {
        let fixture = start().await;
        let small_bodies = KeyFetchLimits {
            max_body_bytes: 64,
            ..KeyFetchLimits::default()
        };
        let refused = refusal(
            &fixture.limited(fixture.config(), small_bodies),
            &fixture.token(json!({})),
        )
        .await;
        assert_eq!(
            refused,
            format!(
                "oidc: authenticator not initialized: oidc: fetching {}/.well-known/openid-configuration: the response body is larger than 64 bytes",
                fixture.url
            )
        );
        fixture.issuer.rotate_key().unwrap();
        let one_key = KeyFetchLimits {
            max_keys: 1,
            ..KeyFetchLimits::default()
        };
        let refused = refusal(
            &fixture.limited(fixture.config(), one_key),
            &fixture.token(json!({})),
        )
        .await;
        assert_eq!(
            refused,
            "oidc: authenticator not initialized: oidc: the JWKS has 2 keys, more than the limit of 1"
        );
    })
    .await
}

#[tokio::test]
async fn oidc_the_issuers_token_endpoint_mints_usable_tokens() {
    bounded(async {
        let fixture = start().await;
        let tls = client_tls(fixture.ca_pem.as_bytes()).unwrap();
        let url = format!(
            "{}/token?sub=jane&email=jane%40example.com&groups=dev,ops&aud={CLIENT_ID}",
            fixture.url
        );
        let token = https::get(&TokioNetwork, &tls, &url, 64 * 1024)
            .await
            .unwrap();
        let token = String::from_utf8(token.to_vec()).unwrap();
        let config = OidcConfig {
            username_claim: "email".to_string(),
            groups_claim: Some("groups".to_string()),
            ..fixture.config()
        };
        let user = user_of(&fixture.authenticator(config), &token).await.user;
        assert_eq!(user.username, "jane@example.com");
        assert_eq!(user.groups, groups(&["dev", "ops", ALL_AUTHENTICATED]));

        let missing = format!("{}/nothing-here", fixture.url);
        assert_eq!(
            https::get(&TokioNetwork, &tls, &missing, 1024).await,
            Err(format!("{missing}: 404 Not Found"))
        );
    })
    .await
}

#[test]
fn oidc_config_is_validated_as_kube_does() {
    let valid = OidcConfig {
        issuer_url: "https://issuer.example".to_string(),
        client_id: CLIENT_ID.to_string(),
        ..OidcConfig::default()
    };
    let new = |config: OidcConfig| {
        OidcAuthenticator::new(
            config,
            Arc::new(TokioNetwork),
            Arc::new(ManualClock(AtomicU64::new(NOW))),
        )
        .map(|_| ())
        .map_err(|e| e.0)
    };
    assert_eq!(
        new(valid.clone()),
        Ok(()),
        "no CA is allowed, and fails at fetch time"
    );
    let with = |change: fn(&mut OidcConfig)| {
        let mut config = valid.clone();
        change(&mut config);
        new(config)
    };
    assert_eq!(
        with(|c| c.issuer_url = "http://issuer.example".into()),
        Err(r#"'oidc-issuer-url' ("http://issuer.example") has invalid scheme ("http"), require 'https'"#.into())
    );
    assert_eq!(
        with(|c| c.issuer_url = "https://issuer.example?x=1".into()),
        Err(r#"'oidc-issuer-url' ("https://issuer.example?x=1") must not have a query"#.into())
    );
    assert_eq!(
        with(|c| c.issuer_url = "https://u@issuer.example".into()),
        Err(r#"'oidc-issuer-url': "https://u@issuer.example" has user info"#.into())
    );
    assert_eq!(
        with(|c| c.client_id = String::new()),
        Err("oidc-issuer-url and oidc-client-id must be specified together".into())
    );
    assert_eq!(
        with(|c| c.username_claim = String::new()),
        Err("no username claim provided".into())
    );
    for alg in ["HS256", "none", "ES512", "EdDSA"] {
        let mut config = valid.clone();
        config.signing_algs = vec!["RS256".to_string(), alg.to_string()];
        assert_eq!(
            new(config),
            Err(format!("oidc: unsupported signing alg: {alg:?}"))
        );
    }
    assert_eq!(
        with(|c| c.signing_algs = Vec::new()),
        Ok(()),
        "empty is RS256"
    );
    assert_eq!(
        with(|c| c.ca_pem = Some(b"not a certificate".to_vec())),
        Err("oidc: failed to read the CA contents: no PEM certificate in it".into())
    );
    let zero = KeyFetchLimits {
        max_keys: 0,
        ..KeyFetchLimits::default()
    };
    let error = OidcAuthenticator::with_limits(
        valid,
        zero,
        Arc::new(TokioNetwork),
        Arc::new(ManualClock(AtomicU64::new(NOW))),
    )
    .unwrap_err();
    assert!(
        error
            .0
            .starts_with("oidc: key fetch limits must be positive"),
        "{error}"
    );
}

#[test]
fn oidc_username_prefix_defaults() {
    let config = |claim: &str, prefix: Option<&str>| OidcConfig {
        issuer_url: "https://issuer.example".to_string(),
        username_claim: claim.to_string(),
        username_prefix: prefix.map(str::to_string),
        ..OidcConfig::default()
    };
    assert_eq!(
        resolve_username_prefix(&config("sub", None)),
        "https://issuer.example#"
    );
    assert_eq!(
        resolve_username_prefix(&config("sub", Some(""))),
        "https://issuer.example#"
    );
    assert_eq!(resolve_username_prefix(&config("name", Some("-"))), "");
    assert_eq!(resolve_username_prefix(&config("email", None)), "");
    assert_eq!(resolve_username_prefix(&config("email", Some("x:"))), "x:");
    let default = OidcConfig::default();
    assert_eq!(default.username_claim, "sub");
    assert_eq!(default.signing_algs, ["RS256"]);
    assert_eq!(default.groups_prefix, "");
}
