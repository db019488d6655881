//! The pure half of OIDC verification: reading a compact JWT before its signature is checked,
//! the checks go-oidc's `IDTokenVerifier.Verify` makes on the claims (audience, `exp`, `nbf`,
//! algorithm), and kube's claim mapping (username, `email_verified`, groups, required claims,
//! credential id). No I/O and no clock: the caller passes `now`.
//!
//! Error texts follow kube's (`oidc: verify token: …`, `oidc: required claim … not present in
//! ID token`), so a log line reads the same as kube-apiserver's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kubesim_api::time::format_rfc3339;
use kubesim_api::user::UserInfo;
use serde_json::{Map, Value};

/// go-oidc's leeway on `nbf` (1 minute); `exp` has none and `iat` is not checked.
pub(crate) const NOT_BEFORE_LEEWAY_SECS: f64 = 60.0;

/// kube's `user.CredentialIDKey`: the `jti` of the token, as `JTI=<jti>`.
pub(crate) const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// A compact JWS split in its parts, with its payload decoded but nothing verified.
#[derive(Debug)]
pub(crate) struct UnverifiedJwt<'a> {
    /// `base64url(header) "." base64url(payload)`: what the signature covers.
    pub signing_input: &'a str,
    pub header_part: &'a str,
    pub signature: &'a str,
    /// The payload, a JSON object. Untrusted until the signature is checked.
    pub claims: Map<String, Value>,
}

impl UnverifiedJwt<'_> {
    /// The `iss` claim, when it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

/// Reads a token as kube's `untrustedIssuer` does; `None` when it is not a compact JWT with a
/// JSON object payload (another authenticator may take it).
pub(crate) fn parse_unverified(token: &str) -> Option<UnverifiedJwt<'_>> {
    // JSON serialization of a JWS is not a bearer token kube accepts.
    if token.trim_start().starts_with('{') {
        return None;
    }
    let mut parts = token.split('.');
    let (header_part, payload_part, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload = URL_SAFE_NO_PAD.decode(payload_part).ok()?;
    let claims = match serde_json::from_slice::<Value>(&payload).ok()? {
        Value::Object(claims) => claims,
        _ => return None,
    };
    let signing_input = token.get(..header_part.len() + 1 + payload_part.len())?;
    Some(UnverifiedJwt {
        signing_input,
        header_part,
        signature,
        claims,
    })
}

/// The JOSE header fields verification reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoseHeader {
    pub alg: String,
    pub kid: Option<String>,
}

/// The JOSE header of a token whose issuer is ours. Keys named in the header (`jwk`, `jku`,
/// `x5u`, `x5c`) are never used: keys come from the issuer's JWKS only.
pub(crate) fn parse_header(jwt: &UnverifiedJwt<'_>) -> Result<JoseHeader, String> {
    let malformed = |why: &str| format!("oidc: verify token: oidc: malformed jwt: {why}");
    let bytes = URL_SAFE_NO_PAD
        .decode(jwt.header_part)
        .map_err(|e| malformed(&format!("header is not base64url: {e}")))?;
    let header = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(header)) => header,
        _ => return Err(malformed("header is not a JSON object")),
    };
    // A critical extension we do not understand must make the token invalid (RFC 7515 4.1.11).
    if header.contains_key("crit") {
        return Err(malformed("unsupported \"crit\" header"));
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(malformed("no \"alg\" in the header")),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("\"kid\" is not a string")),
    };
    Ok(JoseHeader { alg, kid })
}

/// What the claim checks establish, for the identity's detail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Validity {
    pub expires_unix: f64,
}

/// go-oidc's checks before the signature: `aud` contains the client id, `exp` is present and
/// not past (no leeway), `nbf`, when present, is at most [`NOT_BEFORE_LEEWAY_SECS`] ahead.
/// `iat` is not checked, as in go-oidc. The issuer was matched by the caller.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    now_unix: f64,
) -> Result<Validity, String> {
    let audiences = audiences(claims)?;
    if !audiences.iter().any(|aud| aud == client_id) {
        return Err(format!(
            "oidc: verify token: oidc: expected audience {client_id:?} got {}",
            go_quoted_list(&audiences)
        ));
    }
    let expires_unix = match time_claim(claims, "exp")? {
        Some(exp) => exp,
        None => return Err("oidc: verify token: oidc: token has no exp claim".to_string()),
    };
    if expires_unix < now_unix {
        return Err(format!(
            "oidc: verify token: oidc: token is expired (Token Expiry: {})",
            format_rfc3339(expires_unix as i64)
        ));
    }
    if let Some(not_before) = time_claim(claims, "nbf")?
        && now_unix + NOT_BEFORE_LEEWAY_SECS < not_before
    {
        return Err(format!(
            "oidc: verify token: oidc: current time {} before the nbf (not before) time: {}",
            format_rfc3339(now_unix as i64),
            format_rfc3339(not_before as i64)
        ));
    }
    Ok(Validity { expires_unix })
}

/// `aud`: one string or an array of strings; absent is no audience.
fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, String> {
    let malformed = || "oidc: verify token: oidc: malformed claim \"aud\"".to_string();
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(malformed))
            .collect(),
        Some(_) => Err(malformed()),
    }
}

/// A NumericDate claim (seconds, possibly fractional); `None` when absent.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("oidc: verify token: oidc: malformed claim {name:?}")),
        Some(_) => Err(format!(
            "oidc: verify token: oidc: malformed claim {name:?}: not a number"
        )),
    }
}

/// How claims become a user: the resolved flags of the authenticator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimMapping<'a> {
    pub username_claim: &'a str,
    /// Already resolved (`<issuer>#`, none for `email`, `-` → none).
    pub username_prefix: &'a str,
    pub groups_claim: Option<&'a str>,
    pub groups_prefix: &'a str,
    pub required_claims: &'a [(String, String)],
}

/// kube's `AuthenticateToken` after verification: username (with the `email_verified` rule),
/// groups, credential id from `jti`, then required claims. Without `system:authenticated`.
pub(crate) fn map_claims(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping<'_>,
) -> Result<UserInfo, String> {
    let username = username(claims, mapping)?;
    let groups = match mapping.groups_claim {
        Some(claim) => groups(claims, claim, mapping.groups_prefix)?,
        None => Vec::new(),
    };
    let mut user = UserInfo {
        username,
        groups,
        ..UserInfo::default()
    };
    if let Some(Value::String(jti)) = claims.get("jti") {
        user.extra
            .insert(CREDENTIAL_ID_KEY.to_string(), vec![format!("JTI={jti}")]);
    }
    check_required_claims(claims, mapping.required_claims)?;
    Ok(user)
}

fn username(claims: &Map<String, Value>, mapping: &ClaimMapping<'_>) -> Result<String, String> {
    let claim = mapping.username_claim;
    let value = match claims.get(claim) {
        Some(Value::String(value)) => value.clone(),
        Some(_) => {
            return Err(format!(
                "oidc: parse username claims {claim:?}: not a string"
            ));
        }
        None => {
            return Err(format!(
                "oidc: parse username claims {claim:?}: claim not present"
            ));
        }
    };
    // kube accepts an empty claim and makes a user of the bare prefix; no user is "".
    if value.is_empty() {
        return Err(format!("oidc: username claim {claim:?} is empty"));
    }
    if claim == "email" {
        check_email_verified(claims)?;
    }
    Ok(format!("{}{value}", mapping.username_prefix))
}

/// With `email` as the username, `email_verified`, when present, must be the boolean `true`
/// (OIDC Core 5.1; kube's `claims.?email_verified.orValue(true) == true`).
fn check_email_verified(claims: &Map<String, Value>) -> Result<(), String> {
    match claims.get("email_verified") {
        None => Ok(()),
        Some(Value::Bool(true)) => Ok(()),
        Some(Value::Bool(false)) => Err("oidc: email not verified".to_string()),
        Some(other) => Err(format!(
            "oidc: parse 'email_verified' claim: not a boolean: {other}"
        )),
    }
}

/// The groups claim: a string or an array of strings; absent, `null`, `""` and `[]` are no
/// groups (authentication.k8s.io's documented rule), and empty strings in an array are dropped.
fn groups(claims: &Map<String, Value>, claim: &str, prefix: &str) -> Result<Vec<String>, String> {
    let not_strings =
        || format!("oidc: parse groups claim {claim:?}: not a string or an array of strings");
    let names: Vec<&str> = match claims.get(claim) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(group)) => vec![group.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(not_strings))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(not_strings()),
    };
    Ok(names
        .into_iter()
        .filter(|name| !name.is_empty())
        .map(|name| format!("{prefix}{name}"))
        .collect())
}

/// Every required claim present, a string, and equal to its value.
fn check_required_claims(
    claims: &Map<String, Value>,
    required: &[(String, String)],
) -> Result<(), String> {
    for (claim, want) in required {
        let got = match claims.get(claim) {
            None => {
                return Err(format!(
                    "oidc: required claim {claim} not present in ID token"
                ));
            }
            Some(Value::String(got)) => got,
            Some(_) => return Err(format!("oidc: parse claim {claim}: not a string")),
        };
        if got != want {
            return Err(format!(
                "oidc: required claim {claim} value does not match. Got = {got}, want = {want}"
            ));
        }
    }
    Ok(())
}

/// A list as Go's `%q` prints a `[]string`: `["a" "b"]`.
pub(crate) fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    const NOW: f64 = 1_800_000_000.0;

    #[test]
    fn only_compact_jwts_with_an_object_payload_are_read() {
        let header = b64(&json!({"alg": "RS256"}));
        let payload = b64(&json!({"iss": "https://issuer"}));
        let token = format!("{header}.{payload}.c2ln");
        let jwt = parse_unverified(&token).unwrap();
        assert_eq!(jwt.issuer(), Some("https://issuer"));
        assert_eq!(jwt.signing_input, format!("{header}.{payload}"));
        assert_eq!(jwt.signature, "c2ln");

        assert!(parse_unverified("not-a-jwt").is_none());
        assert!(parse_unverified(&format!("{header}.{payload}")).is_none());
        assert!(parse_unverified(&format!("{header}.{payload}.s.extra")).is_none());
        assert!(parse_unverified(&format!("{header}.%%%.s")).is_none());
        assert!(parse_unverified(&format!("{header}.{}.s", b64(&json!(["iss"])))).is_none());
        assert!(parse_unverified(" {\"payload\": \"x\"}").is_none());
        // Padding is not base64url as JWS writes it.
        assert!(parse_unverified(&format!("{header}.{payload}=.s")).is_none());
        let no_iss = format!("{header}.{}.s", b64(&json!({"sub": "a"})));
        assert_eq!(parse_unverified(&no_iss).unwrap().issuer(), None);
    }

    #[test]
    fn header_needs_a_string_alg_and_no_crit() {
        let token = |header: Value| format!("{}.{}.s", b64(&header), b64(&json!({})));
        let parse = |header: Value| {
            let token = token(header);
            parse_header(&parse_unverified(&token).unwrap())
        };
        assert_eq!(
            parse(json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})),
            Ok(JoseHeader {
                alg: "ES256".into(),
                kid: Some("k1".into())
            })
        );
        assert_eq!(
            parse(json!({"alg": "RS256"})).unwrap().kid,
            None,
            "kid is optional"
        );
        assert_eq!(
            parse(json!({"kid": "k1"})),
            Err("oidc: verify token: oidc: malformed jwt: no \"alg\" in the header".into())
        );
        assert_eq!(
            parse(json!({"alg": "RS256", "crit": ["exp"]})),
            Err("oidc: verify token: oidc: malformed jwt: unsupported \"crit\" header".into())
        );
        assert_eq!(
            parse(json!({"alg": "RS256", "kid": 7})),
            Err("oidc: verify token: oidc: malformed jwt: \"kid\" is not a string".into())
        );
    }

    #[test]
    fn audience_must_contain_the_client_id() {
        let check = |claims: Value| check_claims(&object(claims), "kubesim", NOW);
        let exp = NOW + 60.0;
        assert!(check(json!({"aud": "kubesim", "exp": exp})).is_ok());
        assert!(check(json!({"aud": ["other", "kubesim"], "exp": exp})).is_ok());
        assert_eq!(
            check(json!({"aud": ["a", "b"], "exp": exp})),
            Err(r#"oidc: verify token: oidc: expected audience "kubesim" got ["a" "b"]"#.into())
        );
        assert_eq!(
            check(json!({"exp": exp})),
            Err(r#"oidc: verify token: oidc: expected audience "kubesim" got []"#.into())
        );
        assert_eq!(
            check(json!({"aud": 3, "exp": exp})),
            Err(r#"oidc: verify token: oidc: malformed claim "aud""#.into())
        );
    }

    #[test]
    fn exp_is_required_without_leeway_and_nbf_has_one_minute() {
        let check = |claims: Value| check_claims(&object(claims), "c", NOW);
        assert_eq!(
            check(json!({"aud": "c", "exp": NOW})),
            Ok(Validity { expires_unix: NOW }),
            "expiring this very second is still valid"
        );
        assert_eq!(
            check(json!({"aud": "c", "exp": NOW - 1.0})),
            Err(
                "oidc: verify token: oidc: token is expired (Token Expiry: 2027-01-15T07:59:59Z)"
                    .into()
            )
        );
        assert_eq!(
            check(json!({"aud": "c"})),
            Err("oidc: verify token: oidc: token has no exp claim".into())
        );
        assert_eq!(
            check(json!({"aud": "c", "exp": "soon"})),
            Err(r#"oidc: verify token: oidc: malformed claim "exp": not a number"#.into())
        );
        let exp = NOW + 600.0;
        assert!(check(json!({"aud": "c", "exp": exp, "nbf": NOW + 60.0})).is_ok());
        assert_eq!(
            check(json!({"aud": "c", "exp": exp, "nbf": NOW + 61.0})),
            Err("oidc: verify token: oidc: current time 2027-01-15T08:00:00Z before the nbf (not before) time: 2027-01-15T08:01:01Z".into())
        );
        // iat is not checked (go-oidc does not), even far in the future.
        assert!(check(json!({"aud": "c", "exp": exp, "iat": NOW + 10_000.0})).is_ok());
    }

    fn mapping<'a>(required: &'a [(String, String)]) -> ClaimMapping<'a> {
        ClaimMapping {
            username_claim: "sub",
            username_prefix: "https://issuer#",
            groups_claim: Some("groups"),
            groups_prefix: "oidc:",
            required_claims: required,
        }
    }

    #[test]
    fn username_is_prefixed_and_email_must_be_verified_when_said() {
        let user = map_claims(&object(json!({"sub": "jane"})), &mapping(&[])).unwrap();
        assert_eq!(user, UserInfo::new("https://issuer#jane", &[]));

        let email = ClaimMapping {
            username_claim: "email",
            username_prefix: "",
            ..mapping(&[])
        };
        let map = |claims: Value| map_claims(&object(claims), &email).map(|u| u.username);
        assert_eq!(map(json!({"email": "j@x.io"})), Ok("j@x.io".into()));
        assert_eq!(
            map(json!({"email": "j@x.io", "email_verified": true})),
            Ok("j@x.io".into())
        );
        assert_eq!(
            map(json!({"email": "j@x.io", "email_verified": false})),
            Err("oidc: email not verified".into())
        );
        assert_eq!(
            map(json!({"email": "j@x.io", "email_verified": "true"})),
            Err("oidc: parse 'email_verified' claim: not a boolean: \"true\"".into())
        );
        assert_eq!(
            map(json!({"sub": "jane"})),
            Err("oidc: parse username claims \"email\": claim not present".into())
        );
        assert_eq!(
            map(json!({"email": 5})),
            Err("oidc: parse username claims \"email\": not a string".into())
        );
        assert_eq!(
            map(json!({"email": ""})),
            Err("oidc: username claim \"email\" is empty".into())
        );
    }

    #[test]
    fn groups_are_a_string_or_strings() {
        let groups = |claims: Value| map_claims(&object(claims), &mapping(&[])).map(|u| u.groups);
        assert_eq!(
            groups(json!({"sub": "j", "groups": ["dev", "", "ops"]})),
            Ok(vec!["oidc:dev".to_string(), "oidc:ops".to_string()])
        );
        assert_eq!(
            groups(json!({"sub": "j", "groups": "admins"})),
            Ok(vec!["oidc:admins".to_string()])
        );
        for none in [
            json!({"sub": "j"}),
            json!({"sub": "j", "groups": null}),
            json!({"sub": "j", "groups": ""}),
            json!({"sub": "j", "groups": []}),
        ] {
            assert_eq!(groups(none), Ok(Vec::new()));
        }
        let wrong = r#"oidc: parse groups claim "groups": not a string or an array of strings"#;
        assert_eq!(groups(json!({"sub": "j", "groups": 1})), Err(wrong.into()));
        assert_eq!(
            groups(json!({"sub": "j", "groups": ["a", 1]})),
            Err(wrong.into())
        );
    }

    #[test]
    fn required_claims_must_match_exactly_and_jti_is_the_credential_id() {
        let required = vec![("hd".to_string(), "example.com".to_string())];
        let map = |claims: Value| map_claims(&object(claims), &mapping(&required));
        let user = map(json!({"sub": "j", "hd": "example.com", "jti": "abc"})).unwrap();
        assert_eq!(user.extra[CREDENTIAL_ID_KEY], ["JTI=abc"]);
        assert_eq!(
            map(json!({"sub": "j"})),
            Err("oidc: required claim hd not present in ID token".into())
        );
        assert_eq!(
            map(json!({"sub": "j", "hd": "evil.com"})),
            Err(
                "oidc: required claim hd value does not match. Got = evil.com, want = example.com"
                    .into()
            )
        );
        assert_eq!(
            map(json!({"sub": "j", "hd": ["example.com"]})),
            Err("oidc: parse claim hd: not a string".into())
        );
    }
}
