//! The issuer's keys, pure: the discovery document's `jwks_uri` (after checking its `issuer`),
//! the JWKS read into verifying keys (RSA, and EC on P-256 and P-384; other key types are
//! skipped), and a token's signature checked against them the way go-oidc's remote key set
//! does (a token with a `kid` only against keys with that `kid`; one without, against all).

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::token::{JoseHeader, UnverifiedJwt};

/// kube's allowed `--oidc-signing-algs`, as jsonwebtoken knows them. Never `none`, never an
/// HMAC: a public key must not become a shared secret. ES512 is in kube's list but
/// jsonwebtoken 9 cannot verify it, so it is refused at start-up.
pub(crate) fn signing_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => return None,
    })
}

/// What a key can verify. An RSA key is held as (n, e) and an EC key as its point, and
/// jsonwebtoken must only ever be handed a key of the algorithm's own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
}

impl KeyKind {
    fn verifies(self, alg: Algorithm) -> bool {
        match self {
            KeyKind::Rsa => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            KeyKind::EcP256 => alg == Algorithm::ES256,
            KeyKind::EcP384 => alg == Algorithm::ES384,
        }
    }
}

/// One usable key of the JWKS.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    kind: KeyKind,
    /// The JWK's `alg`, when it pins one: the key then verifies that algorithm only.
    alg: Option<String>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The discovery document's `jwks_uri`, once its `issuer` is exactly ours (OIDC Discovery
/// 4.3: a document for another issuer must not be used).
pub(crate) fn jwks_uri(discovery: &Value, issuer_url: &str) -> Result<String, String> {
    let issuer = discovery
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or("");
    if issuer != issuer_url {
        return Err(format!(
            "oidc: issuer did not match the issuer returned by provider, expected {issuer_url:?} got {issuer:?}"
        ));
    }
    match discovery.get("jwks_uri").and_then(Value::as_str) {
        Some(uri) if uri.starts_with("https://") => Ok(uri.to_string()),
        Some(uri) => Err(format!(
            "oidc: the provider's jwks_uri {uri:?} is not an https URL"
        )),
        None => Err("oidc: the provider's discovery document has no jwks_uri".to_string()),
    }
}

/// The usable keys of a JWKS document; a document with more than `max_keys` entries is refused
/// whole rather than cut (which keys would be dropped is arbitrary).
pub(crate) fn parse_jwks(doc: &Value, max_keys: usize) -> Result<Vec<VerifyingKey>, String> {
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Err("oidc: the JWKS has no \"keys\" array".to_string());
    };
    if keys.len() > max_keys {
        return Err(format!(
            "oidc: the JWKS has {} keys, more than the limit of {max_keys}",
            keys.len()
        ));
    }
    Ok(keys
        .iter()
        .filter_map(|jwk| match parse_jwk(jwk) {
            Ok(key) => Some(key),
            Err(why) => {
                tracing::debug!(kid = ?jwk.get("kid"), "oidc: skipping a JWK: {why}");
                None
            }
        })
        .collect())
}

/// One JWK as a verifying key, or why it is skipped.
fn parse_jwk(jwk: &Value) -> Result<VerifyingKey, String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if let Some(usage) = text("use")
        && usage != "sig"
    {
        return Err(format!("\"use\" is {usage:?}, not \"sig\""));
    }
    let part = |name: &str| text(name).ok_or_else(|| format!("no {name:?}"));
    let (kind, key) = match text("kty") {
        Some("RSA") => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(part("n")?, part("e")?),
        ),
        Some("EC") => {
            let kind = match text("crv") {
                Some("P-256") => KeyKind::EcP256,
                Some("P-384") => KeyKind::EcP384,
                other => return Err(format!("unsupported curve {other:?}")),
            };
            (
                kind,
                DecodingKey::from_ec_components(part("x")?, part("y")?),
            )
        }
        other => return Err(format!("unsupported key type {other:?}")),
    };
    let key = key.map_err(|e| format!("unreadable key: {e}"))?;
    Ok(VerifyingKey {
        kid: text("kid").map(str::to_string),
        kind,
        alg: text("alg").map(str::to_string),
        key,
    })
}

/// How a signature check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureCheck {
    /// A key verified it; its `kid`.
    Verified { kid: Option<String> },
    /// Keys with the token's `kid` exist and none verified it: a forgery or a broken token.
    Rejected,
    /// No key fits the token (its `kid` is unknown, or no key verified a token without one):
    /// the issuer may have rotated its keys, worth a refetch.
    NoKey,
}

/// Checks the signature with the keys that fit the header: the same `kid` (any key when the
/// token names none), the algorithm's key type, and the JWK's own `alg` when it has one.
pub(crate) fn check_signature(
    keys: &[VerifyingKey],
    jwt: &UnverifiedJwt<'_>,
    header: &JoseHeader,
    alg: Algorithm,
) -> SignatureCheck {
    let candidates: Vec<&VerifyingKey> = keys
        .iter()
        .filter(|key| header.kid.is_none() || key.kid == header.kid)
        .filter(|key| key.kind.verifies(alg))
        .filter(|key| key.alg.as_deref().is_none_or(|pinned| pinned == header.alg))
        .collect();
    let verified = candidates.iter().find(|key| {
        jsonwebtoken::crypto::verify(jwt.signature, jwt.signing_input.as_bytes(), &key.key, alg)
            .unwrap_or(false)
    });
    match verified {
        Some(key) => SignatureCheck::Verified {
            kid: key.kid.clone(),
        },
        None if header.kid.is_some() && !candidates.is_empty() => SignatureCheck::Rejected,
        None => SignatureCheck::NoKey,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn discovery_must_name_our_issuer_and_an_https_jwks_uri() {
        let issuer = "https://issuer.example";
        let doc = json!({"issuer": issuer, "jwks_uri": "https://issuer.example/keys"});
        assert_eq!(
            jwks_uri(&doc, issuer),
            Ok("https://issuer.example/keys".into())
        );
        assert_eq!(
            jwks_uri(&doc, "https://issuer.example/"),
            Err(r#"oidc: issuer did not match the issuer returned by provider, expected "https://issuer.example/" got "https://issuer.example""#.into())
        );
        let plain = json!({"issuer": issuer, "jwks_uri": "http://issuer.example/keys"});
        assert_eq!(
            jwks_uri(&plain, issuer),
            Err(
                r#"oidc: the provider's jwks_uri "http://issuer.example/keys" is not an https URL"#
                    .into()
            )
        );
        assert_eq!(
            jwks_uri(&json!({"issuer": issuer}), issuer),
            Err("oidc: the provider's discovery document has no jwks_uri".into())
        );
    }

    #[test]
    fn unusable_keys_are_skipped_and_the_count_is_bounded() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "p256", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AAAA", "y": "AAAA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-e", "n": "sXch"},
            {"kty": "RSA", "kid": "bad-n", "n": "!!", "e": "AQAB"},
        ]});
        let keys = parse_jwks(&doc, 8).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
        assert_eq!(kids, ["rsa", "p256"]);
        assert_eq!(
            parse_jwks(&doc, 7).unwrap_err(),
            "oidc: the JWKS has 8 keys, more than the limit of 7"
        );
        assert_eq!(
            parse_jwks(&json!({"keys": {}}), 8).unwrap_err(),
            "oidc: the JWKS has no \"keys\" array"
        );
    }

    #[test]
    fn key_kinds_verify_only_their_algorithms() {
        assert!(KeyKind::Rsa.verifies(Algorithm::RS256));
        assert!(KeyKind::Rsa.verifies(Algorithm::PS512));
        assert!(!KeyKind::Rsa.verifies(Algorithm::ES256));
        assert!(!KeyKind::Rsa.verifies(Algorithm::HS256));
        assert!(KeyKind::EcP256.verifies(Algorithm::ES256));
        assert!(!KeyKind::EcP256.verifies(Algorithm::ES384));
        assert!(!KeyKind::EcP384.verifies(Algorithm::ES256));
        for refused in [
            "none", "HS256", "HS384", "HS512", "EdDSA", "ES512", "rs256", "",
        ] {
            assert_eq!(signing_algorithm(refused), None, "{refused}");
        }
    }
}
