//! The issuer's keys as the authenticator holds them: fetched lazily (discovery document, then
//! JWKS) on the first token that needs them, cached, and fetched again when a token names a
//! key the cache does not have — one fetch at a time, at most once per
//! [`KeyFetchLimits::min_refresh_interval`], each bounded in time and size, so neither a
//! down issuer nor a flood of made-up `kid`s turns every request into a fetch.

use std::sync::{Arc, RwLock};

use kubesim_net::Network;
use tokio::time::Instant;

use super::KeyFetchLimits;
use super::https;
use super::jwks::{self, VerifyingKey};

/// One published set of keys. `generation` counts successful fetches (0: never fetched), so
/// a caller that waited for a fetch in flight can tell that it has fresh keys.
#[derive(Debug, Default)]
pub(crate) struct KeySnapshot {
    pub generation: u64,
    pub keys: Vec<VerifyingKey>,
}

/// What the one fetch at a time needs to remember.
#[derive(Debug, Default)]
struct RefreshState {
    /// From the discovery document; discovery is not repeated once it succeeded (go-oidc's
    /// provider does the same).
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Why the last attempt failed, for the errors of the tokens that may not retry yet.
    last_error: Option<String>,
}

pub(crate) struct KeySource {
    issuer_url: String,
    net: Arc<dyn Network>,
    /// `None` without `--oidc-ca-file`: kubesim has no system roots, so it fails closed.
    tls: Option<Arc<rustls::ClientConfig>>,
    limits: KeyFetchLimits,
    /// Read by every token; replaced whole by a fetch.
    published: RwLock<Arc<KeySnapshot>>,
    /// Held for the length of a fetch: fetches never overlap.
    refresh: tokio::sync::Mutex<RefreshState>,
}

impl KeySource {
    pub fn new(
        issuer_url: String,
        net: Arc<dyn Network>,
        tls: Option<Arc<rustls::ClientConfig>>,
        limits: KeyFetchLimits,
    ) -> KeySource {
        KeySource {
            issuer_url,
            net,
            tls,
            limits,
            published: RwLock::new(Arc::new(KeySnapshot::default())),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        }
    }

    pub fn min_refresh_interval(&self) -> std::time::Duration {
        self.limits.min_refresh_interval
    }

    pub fn current(&self) -> Arc<KeySnapshot> {
        // A panic while the lock was held cannot leave a half-written Arc behind.
        self.published
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Keys newer than generation `seen`: fetched now, or by the fetch this call waited
    /// for. When the last attempt is too recent, the current keys (which the caller already
    /// had) or, if there never were any, the error of that attempt.
    pub async fn refresh(&self, seen: u64) -> Result<Arc<KeySnapshot>, String> {
        let mut state = self.refresh.lock().await;
        let current = self.current();
        if current.generation != seen {
            return Ok(current);
        }
        if let Some(at) = state.last_attempt
            && at.elapsed() < self.limits.min_refresh_interval
        {
            return match (&state.last_error, current.generation) {
                (Some(error), 0) => Err(format!(
                    "oidc: authenticator not initialized: {error} (retrying at most every {:?})",
                    self.limits.min_refresh_interval
                )),
                _ => Ok(current),
            };
        }
        state.last_attempt = Some(Instant::now());
        let fetched = tokio::time::timeout(self.limits.fetch_timeout, self.fetch(&mut state))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "oidc: fetching the keys of issuer {:?} timed out after {:?}",
                    self.issuer_url, self.limits.fetch_timeout
                ))
            });
        match fetched {
            Ok(keys) => {
                state.last_error = None;
                Ok(self.publish(current.generation + 1, keys))
            }
            Err(error) => {
                tracing::warn!("{error}");
                state.last_error = Some(error.clone());
                Err(match current.generation {
                    0 => format!("oidc: authenticator not initialized: {error}"),
                    _ => error,
                })
            }
        }
    }

    fn publish(&self, generation: u64, keys: Vec<VerifyingKey>) -> Arc<KeySnapshot> {
        let snapshot = Arc::new(KeySnapshot { generation, keys });
        *self
            .published
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot.clone();
        snapshot
    }

    /// Discovery (once), then the JWKS.
    async fn fetch(&self, state: &mut RefreshState) -> Result<Vec<VerifyingKey>, String> {
        let Some(tls) = &self.tls else {
            return Err(format!(
                "oidc: no CA to verify issuer {:?} with: kubesim has no system root certificates, set --oidc-ca-file",
                self.issuer_url
            ));
        };
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let discovery_url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer_url.trim_end_matches('/')
                );
                let discovery = self.get_json(tls, &discovery_url).await?;
                let uri = jwks::jwks_uri(&discovery, &self.issuer_url)?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let jwks = self.get_json(tls, &jwks_uri).await?;
        jwks::parse_jwks(&jwks, self.limits.max_keys)
    }

    async fn get_json(
        &self,
        tls: &Arc<rustls::ClientConfig>,
        url: &str,
    ) -> Result<serde_json::Value, String> {
        let body = https::get(&*self.net, tls, url, self.limits.max_body_bytes)
            .await
            .map_err(|e| format!("oidc: fetching {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("oidc: {url}: not JSON: {e}"))
    }
}
