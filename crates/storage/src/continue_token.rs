//! kube-apiserver's list continue token (`k8s.io/apiserver/pkg/storage/continue.go`): base64
//! (URL alphabet, no padding) of `{"v":"meta.k8s.io/v1","rv":<rev>,"start":"<key suffix>"}`,
//! where the suffix is the next key to read with the list's key prefix removed. A token
//! minted by kube-apiserver works here and the other way round.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::StorageError;

const API_VERSION: &str = "meta.k8s.io/v1";

/// Field order is the wire order, as Go's encoding/json writes the struct.
#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

/// The token for a list that resumes at `key` (a full key under `prefix`) at `revision`.
/// `revision` -1 means "the latest" (what a compacted token is replaced with).
pub fn encode(key: &str, prefix: &str, revision: i64) -> Result<String, StorageError> {
    let start = key.strip_prefix(prefix).ok_or_else(|| {
        StorageError::Internal(format!("continue key {key:?} is not under {prefix:?}"))
    })?;
    let token = Token {
        v: API_VERSION.to_owned(),
        rv: revision,
        start: start.to_owned(),
    };
    let json = serde_json::to_vec(&token)
        .map_err(|e| StorageError::Internal(format!("encoding continue token: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The full start key and revision of `token` for a list of `prefix` (which ends in `/`).
/// Refuses, as kube-apiserver does, a start key that `path.Clean` would change, so a token
/// cannot reach above `prefix` (`../`).
pub fn decode(token: &str, prefix: &str) -> Result<(String, i64), StorageError> {
    let invalid =
        |why: String| StorageError::InvalidArgument(format!("continue key is not valid: {why}"));
    let json = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|e| invalid(e.to_string()))?;
    let token: Token = serde_json::from_slice(&json).map_err(|e| invalid(e.to_string()))?;
    if token.v != API_VERSION {
        return Err(invalid(format!(
            "server does not recognize this encoded version {:?}",
            token.v
        )));
    }
    if token.rv == 0 {
        return Err(invalid(format!(
            "incorrect encoded start resourceVersion (version {API_VERSION})"
        )));
    }
    if token.start.is_empty() {
        return Err(invalid(format!(
            "encoded start key empty (version {API_VERSION})"
        )));
    }
    let key = if token.start.starts_with('/') {
        token.start.clone()
    } else {
        format!("/{}", token.start)
    };
    if !is_clean(&key) {
        return Err(invalid(token.start));
    }
    Ok((format!("{prefix}{}", &key[1..]), token.rv))
}

/// Whether Go's `path.Clean` leaves an absolute path unchanged: no empty, `.` or `..`
/// segment, and no trailing slash (except the root).
fn is_clean(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    path[1..]
        .split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wire_format() {
        let token = encode("/registry/pods/ns/b\0", "/registry/pods/", 7).expect("encode");
        let json = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        assert_eq!(
            String::from_utf8(json).expect("utf8"),
            r#"{"v":"meta.k8s.io/v1","rv":7,"start":"ns/b\u0000"}"#
        );
        assert_eq!(
            decode(&token, "/registry/pods/").expect("decode"),
            ("/registry/pods/ns/b\0".to_owned(), 7)
        );
    }

    #[test]
    fn refuses_bad_tokens() {
        let raw = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for bad in [
            "not base64!".to_owned(),
            raw("{}"),
            raw(r#"{"v":"x","rv":1,"start":"a"}"#),
            raw(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
            raw(r#"{"v":"meta.k8s.io/v1","rv":1,"start":""}"#),
            raw(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"../secrets/x"}"#),
        ] {
            assert!(
                matches!(
                    decode(&bad, "/registry/pods/"),
                    Err(StorageError::InvalidArgument(_))
                ),
                "{bad}"
            );
        }
    }
}
