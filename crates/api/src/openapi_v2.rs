//! The Swagger 2.0 document kube-apiserver serves at `/openapi/v2`, as JSON and in gnostic's
//! protobuf encoding, built from the same [`crate::openapi`] documents as `/openapi/v3` so
//! the two never disagree.
//!
//! Who reads it: kubectl 1.27 and 1.28, which fetch it **only** in protobuf (client-go's
//! `OpenAPISchema`, Accept `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and
//! give up on create, apply, edit and replace when it is missing. With it they
//! - parse every definition into `k8s.io/kube-openapi/pkg/util/proto` models, which refuses a
//!   `$ref` with a `type`, an array without exactly one `items`, or an unknown primitive type:
//!   one bad definition fails the whole command;
//! - ask `QueryParamVerifier` whether the object's kind supports `fieldValidation`: the first
//!   path whose PATCH operation carries the kind's `x-kubernetes-group-version-kind` must list
//!   a query parameter of that name, and then kubectl sends `fieldValidation=Strict` and leaves
//!   validation to the server;
//! - read `x-kubernetes-patch-merge-key` and `-patch-strategy` for client-side apply's
//!   strategic merge patch, and the definitions' `x-kubernetes-group-version-kind` to find a
//!   kind's schema.
//!
//! Map of the module:
//! - [`v2_json`], [`v2_protobuf`], [`v2_etag`]: the cached bytes and their hash;
//!   [`v2_for_accept`] picks the representation for an Accept header as kube-openapi's
//!   handler does.
//! - `swagger`: the OpenAPI v3 documents merged and rewritten as one Swagger 2.0 document
//!   (`definitions`, body parameters, flat parameter types, `$ref` beside a description).
//! - `gnostic`: that JSON as gnostic's `openapi.v2.Document` message
//!   (github.com/google/gnostic-models `openapiv2/OpenAPIv2.proto`), vendor extensions as
//!   YAML text in `Any.yaml`.
//! - `wire`: the protobuf writer (keys, varints, length-delimited fields).

mod gnostic;
mod swagger;
mod wire;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::sync::OnceLock;

use crate::openapi;

/// The media type kube-openapi answers protobuf with.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
/// The older spelling kubectl 1.27 and 1.28 ask for; kube answers it with
/// [`PROTOBUF_MEDIA_TYPE`] as the Content-Type.
pub const PROTOBUF_MEDIA_TYPE_DEPRECATED: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The JSON representation.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// The Swagger 2.0 document as JSON: `paths` for every served resource and discovery
/// endpoint, `definitions` named as kube names them (`io.k8s.api.core.v1.Pod`). Built on
/// first use and kept for the life of the process.
pub fn v2_json() -> &'static [u8] {
    &cached().json
}

/// The same document in gnostic's OpenAPIv2 protobuf, what kube-apiserver answers for
/// [`PROTOBUF_MEDIA_TYPE`] and [`PROTOBUF_MEDIA_TYPE_DEPRECATED`].
pub fn v2_protobuf() -> &'static [u8] {
    &cached().protobuf
}

/// A hash of the JSON document (64-bit FNV-1a, 16 hex digits), the same for both
/// representations as in kube-openapi, which hashes the JSON with SHA-512; the `ETag` header
/// is it in double quotes.
pub fn v2_etag() -> &'static str {
    &cached().etag
}

/// The body and Content-Type to answer an Accept header with, None for 406 Not Acceptable.
/// As kube-openapi's handler: clauses by quality, specific before wildcards; the first that
/// matches JSON, the deprecated protobuf type or the protobuf type wins (`*/*` and an empty
/// header get JSON). Unlike it, a clause with `q=0` is skipped, as RFC 9110 says.
pub fn v2_for_accept(accept: &str) -> Option<(&'static [u8], &'static str)> {
    let accept = if accept.trim().is_empty() {
        "*/*"
    } else {
        accept
    };
    let mut clauses: Vec<Clause> = accept
        .split(',')
        .take(MAX_ACCEPT_CLAUSES)
        .filter_map(Clause::parse)
        .filter(|clause| clause.quality > 0.0)
        .collect();
    clauses.sort_by(|a, b| b.rank().partial_cmp(&a.rank()).unwrap_or(Ordering::Equal));
    let offers: [(&str, &'static [u8], &'static str); 3] = [
        (JSON_MEDIA_TYPE, v2_json(), JSON_MEDIA_TYPE),
        (
            PROTOBUF_MEDIA_TYPE_DEPRECATED,
            v2_protobuf(),
            PROTOBUF_MEDIA_TYPE,
        ),
        (PROTOBUF_MEDIA_TYPE, v2_protobuf(), PROTOBUF_MEDIA_TYPE),
    ];
    clauses.iter().find_map(|clause| {
        offers
            .iter()
            .find(|(offered, _, _)| clause.matches(offered))
            .map(|(_, body, content_type)| (*body, *content_type))
    })
}

/// More clauses than any client sends; the rest of a longer header is ignored.
const MAX_ACCEPT_CLAUSES: usize = 32;

/// One media range of an Accept header.
#[derive(Debug, Clone, PartialEq)]
struct Clause<'a> {
    main: &'a str,
    sub: &'a str,
    quality: f32,
}

impl<'a> Clause<'a> {
    /// `type/subtype;q=0.5`; None without a `/`. A quality that does not parse is 0, as
    /// goautoneg reads it.
    fn parse(text: &'a str) -> Option<Clause<'a>> {
        let mut parts = text.split(';');
        let (main, sub) = parts.next()?.trim().split_once('/')?;
        let mut quality = 1.0;
        for param in parts {
            if let Some((key, value)) = param.split_once('=')
                && key.trim() == "q"
            {
                quality = value.trim().parse().unwrap_or(0.0);
            }
        }
        Some(Clause {
            main: main.trim(),
            sub: sub.trim(),
            quality,
        })
    }

    /// Sort key: quality, then a specific type and subtype before wildcards.
    fn rank(&self) -> (f32, u8, u8) {
        (
            self.quality,
            u8::from(self.main != "*"),
            u8::from(self.sub != "*"),
        )
    }

    fn matches(&self, media_type: &str) -> bool {
        let Some((main, sub)) = media_type.split_once('/') else {
            return false;
        };
        (self.main == "*" || self.main.eq_ignore_ascii_case(main))
            && (self.sub == "*" || self.sub.eq_ignore_ascii_case(sub))
    }
}

/// Both representations and the hash, built once.
struct Cached {
    json: Vec<u8>,
    protobuf: Vec<u8>,
    etag: String,
}

fn cached() -> &'static Cached {
    static CACHED: OnceLock<Cached> = OnceLock::new();
    CACHED.get_or_init(|| {
        let document = swagger::document();
        // A Value with string keys always serializes.
        let json = serde_json::to_vec(&document).unwrap_or_default();
        let encoded = gnostic::encode(&document);
        // A key the encoder has no field for would be left out of the protobuf only: the
        // swagger and gnostic modules disagree, a bug the tests catch.
        debug_assert_eq!(encoded.skipped, Vec::<String>::new());
        let protobuf = encoded.bytes;
        let etag = openapi::hash_hex(&json);
        Cached {
            json,
            protobuf,
            etag,
        }
    })
}
