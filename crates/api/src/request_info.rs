//! What a request is about, read from its method, path and query the way kube-apiserver's
//! `RequestInfoFactory` reads them (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).
//! Authorization and audit decide on this, so every quirk is kept: a namespace's own path sets
//! `namespace` to its name, empty path segments count, `?watch=` is a watch, the legacy
//! `/watch/` and `/proxy/` prefixes set the verb, and a list with `fieldSelector=metadata.name=x`
//! is authorized as a request for `x`.
//!
//! The path is taken raw, as it arrives on the wire, and percent-decoded like Go's `URL.Path`
//! before it is split; the query is decoded like Go's `URL.Query()`.

use std::fmt;

/// The API prefixes kube-apiserver serves resources under.
const API_PREFIXES: [&str; 2] = ["api", "apis"];
/// The prefix whose paths have no group segment: the legacy core group.
const GROUPLESS_API_PREFIXES: [&str; 1] = ["api"];
/// Deprecated path prefixes that carry the verb: `/api/v1/watch/pods`.
const SPECIAL_VERBS: [&str; 2] = ["proxy", "watch"];
/// Verbs after which the third part is a proxied path, not a subresource.
const SPECIAL_VERBS_NO_SUBRESOURCES: [&str; 1] = ["proxy"];
/// Subresources of a namespace; anything else after `/namespaces/{name}/` is a resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];
/// Verbs whose selectors kube-apiserver hands to authorization.
const VERBS_WITH_SELECTORS: [&str; 3] = ["list", "watch", "deletecollection"];

/// What a request is about (`request.RequestInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// True for requests under `/api/{version}/…` or `/apis/{group}/{version}/…`; false for
    /// discovery, `/version`, health checks and everything else.
    pub is_resource_request: bool,
    /// The decoded URL path.
    pub path: String,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, …); for a non-resource request,
    /// the lower-case HTTP method.
    pub verb: String,
    /// `api` or `apis`.
    pub api_prefix: String,
    /// Empty for the core group.
    pub api_group: String,
    pub api_version: String,
    /// Empty for cluster-scoped resources and for lists across all namespaces; the
    /// namespace's own name for `/api/v1/namespaces/{name}`.
    pub namespace: String,
    /// The plural resource name (`pods`), never the kind.
    pub resource: String,
    /// `status`, `scale`, `log`, …; empty when absent.
    pub subresource: String,
    /// The object's name from the path, or from `fieldSelector=metadata.name=…` on a list or
    /// watch.
    pub name: String,
    /// The path from the resource on: `[resource, name, subresource, …]`.
    pub parts: Vec<String>,
    /// The first `fieldSelector` of a list, watch or deletecollection, for authorization
    /// with selectors (kube-apiserver 1.31+); empty otherwise.
    pub field_selector: String,
    /// The first `labelSelector`, under the same rules.
    pub label_selector: String,
}

impl RequestInfo {
    /// True for a request on a collection (`/api/v1/namespaces/ns/pods`) rather than on one
    /// object, even when a field selector supplied `name`.
    pub fn is_collection(&self) -> bool {
        self.is_resource_request && self.parts.len() == 1
    }
}

/// A request kube-apiserver refuses before it has a [`RequestInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestInfoError {
    /// A `%` in the path not followed by two hex digits. Go's HTTP server answers such a
    /// request with a plain-text `400 Bad Request` before kube-apiserver sees it.
    InvalidPathEscape { escape: String },
    /// `/api/v1/watch` or `/api/v1/proxy` with nothing after it. kube-apiserver answers 500
    /// `failed to create RequestInfo: <this error>`.
    NoResource { url: String },
}

impl fmt::Display for RequestInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestInfoError::InvalidPathEscape { escape } => {
                write!(f, "invalid URL escape {}", crate::status::go_quote(escape))
            }
            RequestInfoError::NoResource { url } => {
                write!(f, "unable to determine kind and namespace from url, {url}")
            }
        }
    }
}

impl std::error::Error for RequestInfoError {}

/// Reads a request as kube-apiserver does. `path` is the raw path, `query` the raw query
/// without the `?`. Never fails: for a request kube-apiserver would refuse (see
/// [`try_parse`]) it returns what could be read, as `NewRequestInfo` does.
pub fn parse(method: &str, path: &str, query: &str) -> RequestInfo {
    resolve(method, path, query).0
}

/// [`parse`], but telling apart the requests kube-apiserver refuses instead of resolving.
pub fn try_parse(method: &str, path: &str, query: &str) -> Result<RequestInfo, RequestInfoError> {
    match resolve(method, path, query) {
        (info, None) => Ok(info),
        (_, Some(error)) => Err(error),
    }
}

fn resolve(method: &str, raw_path: &str, query: &str) -> (RequestInfo, Option<RequestInfoError>) {
    let (path, mut error) = match percent_decode(raw_path, false) {
        Ok(path) => (path, None),
        // Best effort for `parse`: read the path as it came.
        Err(escape) => (
            raw_path.to_string(),
            Some(RequestInfoError::InvalidPathEscape { escape }),
        ),
    };
    let mut info = RequestInfo {
        path,
        verb: method.to_lowercase(),
        ..RequestInfo::default()
    };
    let segments: Vec<String> = split_path(&info.path);
    let Some(rest) = api_version_prefix(&mut info, &segments) else {
        return (info, error);
    };
    let query = QueryValues::parse(query);
    if let Err(no_resource) = resource_parts(&mut info, method, rest, raw_path, &query) {
        error.get_or_insert(no_resource);
    }
    (info, error)
}

/// Consumes `/{prefix}[/{group}]/{version}`; returns the segments after it, or `None` for a
/// non-resource request. Like kube-apiserver, `api_prefix` stays set on a group path too
/// short to be a resource (`/apis/apps/v1`).
fn api_version_prefix<'a>(info: &mut RequestInfo, segments: &'a [String]) -> Option<&'a [String]> {
    if segments.len() < 3 || !API_PREFIXES.contains(&segments[0].as_str()) {
        return None;
    }
    info.api_prefix = segments[0].clone();
    let mut rest = &segments[1..];
    if !GROUPLESS_API_PREFIXES.contains(&info.api_prefix.as_str()) {
        if rest.len() < 3 {
            return None;
        }
        info.api_group = rest[0].clone();
        rest = &rest[1..];
    }
    info.is_resource_request = true;
    info.api_version = rest[0].clone();
    // At least one segment is left: three or more remained before the version.
    Some(&rest[1..])
}

/// Reads verb, namespace, resource, name and subresource from the segments after the
/// version (never empty).
fn resource_parts(
    info: &mut RequestInfo,
    method: &str,
    mut rest: &[String],
    raw_path: &str,
    query: &QueryValues,
) -> Result<(), RequestInfoError> {
    let verb_via_path_prefix = SPECIAL_VERBS.contains(&rest[0].as_str());
    if verb_via_path_prefix {
        if rest.len() < 2 {
            return Err(RequestInfoError::NoResource {
                url: url_of(raw_path, query.raw),
            });
        }
        info.verb = rest[0].clone();
        rest = &rest[1..];
    } else {
        info.verb = verb_for_method(method).to_string();
    }

    if rest[0] == "namespaces" && rest.len() > 1 {
        info.namespace = rest[1].clone();
        // `/namespaces/{ns}/pods`: the resource starts after the namespace, unless the third
        // segment is a subresource of the namespace itself.
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2].as_str()) {
            rest = &rest[2..];
        }
    }
    info.parts = rest.to_vec();
    if info.parts.len() >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.contains(&info.verb.as_str()) {
        info.subresource = info.parts[2].clone();
    }
    if info.parts.len() >= 2 {
        info.name = info.parts[1].clone();
    }
    info.resource = info.parts[0].clone();

    collection_verb(info, query);
    if !verb_via_path_prefix && VERBS_WITH_SELECTORS.contains(&info.verb.as_str()) {
        info.field_selector = query.first("fieldSelector").unwrap_or_default().to_string();
        info.label_selector = query.first("labelSelector").unwrap_or_default().to_string();
    }
    Ok(())
}

/// A `get` without a name is a list or a watch, a `delete` without one a deletecollection.
fn collection_verb(info: &mut RequestInfo, query: &QueryValues) {
    if info.name.is_empty() && info.verb == "get" {
        info.verb = if is_watch(query) { "watch" } else { "list" }.to_string();
        if let Some(name) = list_options_name(query) {
            info.name = name;
        }
    }
    if info.name.is_empty() && info.verb == "delete" {
        info.verb = "deletecollection".to_string();
    }
}

fn verb_for_method(method: &str) -> &'static str {
    match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    }
}

/// `ListOptions.Watch`: the first `watch` value, true unless `0` or `false` in any case —
/// so `?watch` and `?watch=` are watches too.
fn is_watch(query: &QueryValues) -> bool {
    match query.first("watch") {
        None => false,
        Some(value) => value != "0" && !value.eq_ignore_ascii_case("false"),
    }
}

/// The name a list's `fieldSelector` pins down (`metadata.name=web`), which kube-apiserver
/// authorizes as a request for that object. None if the list options do not decode (a bad
/// `limit`, `timeoutSeconds` or field selector), or if the name could not be a path segment.
///
/// kube-apiserver also gives up when the label selector does not parse; label selector
/// syntax is not checked here (such a list is refused with 400 later anyway).
fn list_options_name(query: &QueryValues) -> Option<String> {
    for integer in ["limit", "timeoutSeconds"] {
        if let Some(value) = query.first(integer) {
            value.parse::<i64>().ok()?;
        }
    }
    let terms = parse_field_selector(query.first("fieldSelector").unwrap_or_default())?;
    let name = terms
        .into_iter()
        .find(|term| term.equal && term.field == "metadata.name")?
        .value;
    is_path_segment_name(&name).then_some(name)
}

/// One `field=value`, `field==value` or `field!=value` term of a field selector.
struct FieldTerm {
    field: String,
    value: String,
    /// False for `!=`.
    equal: bool,
}

/// `fields.ParseSelector`: comma-separated terms (a backslash escapes `\`, `,` and `=`),
/// sorted as kube-apiserver sorts them. None on a syntax error.
fn parse_field_selector(selector: &str) -> Option<Vec<FieldTerm>> {
    let mut parts = split_field_terms(selector);
    parts.sort();
    let mut terms = Vec::new();
    for part in parts.iter().filter(|part| !part.is_empty()) {
        let (field, operator, raw_value) = split_field_term(part)?;
        terms.push(FieldTerm {
            field: field.to_string(),
            value: unescape_field_value(raw_value)?,
            equal: operator != "!=",
        });
    }
    Some(terms)
}

/// Splits at commas not escaped by a backslash; escapes stay in the terms.
fn split_field_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator; `!=` and `==` are tried before `=` at each position.
fn split_field_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        for operator in ["!=", "==", "="] {
            if term[i..].starts_with(operator) {
                return Some((&term[..i], operator, &term[i + operator.len()..]));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`: `\\`, `\,` and `\=` are the only escapes; an unescaped `,` or `=`,
/// any other escape, or a trailing backslash is an error.
fn unescape_field_value(raw: &str) -> Option<String> {
    let mut value = String::with_capacity(raw.len());
    let mut in_slash = false;
    for c in raw.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return None;
            }
            value.push(c);
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' || c == '=' {
            return None;
        } else {
            value.push(c);
        }
    }
    (!in_slash).then_some(value)
}

/// `content.IsPathSegmentName`: not `.` or `..`, no `/` or `%`.
fn is_path_segment_name(name: &str) -> bool {
    name != "." && name != ".." && !name.contains('/') && !name.contains('%')
}

/// `splitPath`: every leading and trailing `/` trimmed, then split at each `/`, keeping empty
/// segments in the middle.
fn split_path(path: &str) -> Vec<String> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed.split('/').map(str::to_string).collect()
}

/// The URL as Go prints it in the "unable to determine kind" error.
fn url_of(raw_path: &str, raw_query: &str) -> String {
    if raw_query.is_empty() {
        raw_path.to_string()
    } else {
        format!("{raw_path}?{raw_query}")
    }
}

/// A raw query decoded as Go's `URL.Query()` decodes it: pairs in order, repeated keys kept,
/// malformed pairs dropped. The API server reads its options (`limit`, `watch`, ...) from it.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    QueryValues::parse(raw).pairs
}

/// A decoded query (`url.Values`): pairs in order, repeated keys kept.
struct QueryValues<'a> {
    raw: &'a str,
    pairs: Vec<(String, String)>,
}

impl<'a> QueryValues<'a> {
    /// `url.ParseQuery`, errors ignored as `URL.Query()` ignores them: pairs are separated by
    /// `&`; a pair containing `;` or a bad percent escape is dropped; `+` is a space.
    fn parse(raw: &'a str) -> QueryValues<'a> {
        let mut pairs = Vec::new();
        for pair in raw.split('&') {
            if pair.is_empty() || pair.contains(';') {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let (Ok(key), Ok(value)) = (percent_decode(key, true), percent_decode(value, true)) {
                pairs.push((key, value));
            }
        }
        QueryValues { raw, pairs }
    }

    /// The first value of `key`, which is the one kube-apiserver reads.
    fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Go's `url.PathUnescape` (`plus_is_space` false) or `url.QueryUnescape` (true). A `%` not
/// followed by two hex digits is an error carrying the bad escape (at most three bytes).
/// Decoded bytes that are not UTF-8 become U+FFFD.
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let low = bytes.get(i + 2).and_then(|b| hex_value(*b));
                let (Some(high), Some(low)) = (high, low) else {
                    let end = (i + 3).min(bytes.len());
                    return Err(String::from_utf8_lossy(&bytes[i..end]).into_owned());
                };
                out.push((high << 4) | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of kube-apiserver's own table (`TestGetAPIRequestInfo`), plus kubesim's:
    /// method, URL, then the expected verb, prefix, group, version, namespace, resource,
    /// subresource, name and parts.
    type Row = (
        &'static str,
        &'static str,
        [&'static str; 8],
        &'static [&'static str],
    );

    fn parse_url(method: &str, url: &str) -> RequestInfo {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        parse(method, path, query)
    }

    #[rustfmt::skip]
    const RESOURCE_REQUESTS: &[Row] = &[
        // Namespaced and cluster-wide collections and objects.
        ("GET", "/api/v1/namespaces", ["list", "api", "", "v1", "", "namespaces", "", ""], &["namespaces"]),
        ("GET", "/api/v1/namespaces/other/pods", ["list", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo", ["get", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("HEAD", "/api/v1/namespaces/other/pods/foo", ["get", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("GET", "/api/v1/pods", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("HEAD", "/api/v1/pods", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", ["get", "apis", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "admin"], &["clusterroles", "admin"]),
        ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", ["list", "apis", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", ""], &["clusterroles"]),
        // The namespace as a resource: its name is also the namespace.
        ("GET", "/api/v1/namespaces/other", ["get", "api", "", "v1", "other", "namespaces", "", "other"], &["namespaces", "other"]),
        ("DELETE", "/api/v1/namespaces/other", ["delete", "api", "", "v1", "other", "namespaces", "", "other"], &["namespaces", "other"]),
        ("PUT", "/api/v1/namespaces/other/finalize", ["update", "api", "", "v1", "other", "namespaces", "finalize", "other"], &["namespaces", "other", "finalize"]),
        ("PUT", "/api/v1/namespaces/other/status", ["update", "api", "", "v1", "other", "namespaces", "status", "other"], &["namespaces", "other", "status"]),
        ("GET", "/api/v1/namespaces/other/status", ["get", "api", "", "v1", "other", "namespaces", "status", "other"], &["namespaces", "other", "status"]),
        // Legacy verbs in the path.
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo", ["proxy", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", ["proxy", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo", "subpath", "not", "a", "subresource"]),
        ("GET", "/api/v1/watch/pods", ["watch", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/watch/namespaces/other/pods", ["watch", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/watch/namespaces/other/pods/foo", ["watch", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("GET", "/apis/apps/v1/watch/namespaces/other/deployments", ["watch", "apis", "apps", "v1", "other", "deployments", "", ""], &["deployments"]),
        // ?watch: any first value but 0 or false (any case) is a watch.
        ("GET", "/api/v1/pods?watch=true", ["watch", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch=false", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=1", ["watch", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=0", ["list", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch", ["watch", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch=FALSE", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch=false&watch=true", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch=%74rue", ["watch", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch=%zz", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?watch=1;x=2", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo?watch=true", ["get", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        // Subresources.
        ("GET", "/api/v1/namespaces/other/pods/foo/status", ["get", "api", "", "v1", "other", "pods", "status", "foo"], &["pods", "foo", "status"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", ["get", "api", "", "v1", "other", "pods", "proxy", "foo"], &["pods", "foo", "proxy", "subpath"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/log", ["get", "api", "", "v1", "other", "pods", "log", "foo"], &["pods", "foo", "log"]),
        ("POST", "/api/v1/namespaces/other/pods/foo/exec", ["create", "api", "", "v1", "other", "pods", "exec", "foo"], &["pods", "foo", "exec"]),
        ("PUT", "/apis/apps/v1/namespaces/other/deployments/web/scale", ["update", "apis", "apps", "v1", "other", "deployments", "scale", "web"], &["deployments", "web", "scale"]),
        ("POST", "/api/v1/namespaces/other/serviceaccounts/sa/token", ["create", "api", "", "v1", "other", "serviceaccounts", "token", "sa"], &["serviceaccounts", "sa", "token"]),
        // Every method.
        ("PATCH", "/api/v1/namespaces/other/pods/foo", ["patch", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("DELETE", "/api/v1/namespaces/other/pods/foo", ["delete", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("POST", "/api/v1/namespaces/other/pods", ["create", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("PUT", "/api/v1/namespaces/other/pods/foo", ["update", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("OPTIONS", "/api/v1/namespaces/other/pods", ["", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("get", "/api/v1/pods", ["", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("DELETE", "/api/v1/nodes", ["deletecollection", "api", "", "v1", "", "nodes", "", ""], &["nodes"]),
        ("DELETE", "/api/v1/namespaces", ["deletecollection", "api", "", "v1", "", "namespaces", "", ""], &["namespaces"]),
        ("DELETE", "/api/v1/namespaces/other/pods", ["deletecollection", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("DELETE", "/apis/extensions/v1/namespaces/other/pods", ["deletecollection", "apis", "extensions", "v1", "other", "pods", "", ""], &["pods"]),
        ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", ["create", "apis", "extensions", "v1beta3", "other", "pods", "", ""], &["pods"]),
        // fieldSelector=metadata.name names the object of a list or watch.
        ("GET", "/api/v1/namespaces/other/pods?fieldSelector=metadata.name%3Dweb", ["list", "api", "", "v1", "other", "pods", "", "web"], &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=1&fieldSelector=metadata.name==web", ["watch", "api", "", "v1", "other", "pods", "", "web"], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=status.phase=Running,metadata.name=web", ["list", "api", "", "v1", "", "pods", "", "web"], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=b,metadata.name=a", ["list", "api", "", "v1", "", "pods", "", "a"], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=a%5C,b", ["list", "api", "", "v1", "", "pods", "", "a,b"], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name!=web", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=a/b", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=..", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=web,foo", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=web&limit=abc", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api/v1/pods?fieldSelector=metadata.name=web&limit=500&timeoutSeconds=30", ["list", "api", "", "v1", "", "pods", "", "web"], &["pods"]),
        ("DELETE", "/api/v1/namespaces/other/pods?fieldSelector=metadata.name=web", ["deletecollection", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("GET", "/apis/group/version/watch/resource?fieldSelector=metadata.name=foo", ["watch", "apis", "group", "version", "", "resource", "", ""], &["resource"]),
        // Trailing slashes, empty segments and escapes, read as kube-apiserver reads them.
        ("GET", "/api/v1/namespaces/other/pods/", ["list", "api", "", "v1", "other", "pods", "", ""], &["pods"]),
        ("GET", "//api/v1/namespaces/other/pods/foo//", ["get", "api", "", "v1", "other", "pods", "", "foo"], &["pods", "foo"]),
        ("GET", "/api/v1/namespaces//pods", ["list", "api", "", "v1", "", "pods", "", ""], &["pods"]),
        ("GET", "/api//v1/pods", ["get", "api", "", "", "", "v1", "", "pods"], &["v1", "pods"]),
        ("GET", "/api/v1//pods", ["get", "api", "", "v1", "", "", "", "pods"], &["", "pods"]),
        ("GET", "/api/v1/namespaces/a%20b/pods/c%2Fd", ["get", "api", "", "v1", "a b", "pods", "d", "c"], &["pods", "c", "d"]),
        ("GET", "/api/v1/namespaces/a+b/pods", ["list", "api", "", "v1", "a+b", "pods", "", ""], &["pods"]),
    ];

    #[test]
    fn resource_requests_match_kube_apiserver_table() {
        for &(method, url, expected, parts) in RESOURCE_REQUESTS {
            let info = parse_url(method, url);
            let actual = [
                info.verb.as_str(),
                info.api_prefix.as_str(),
                info.api_group.as_str(),
                info.api_version.as_str(),
                info.namespace.as_str(),
                info.resource.as_str(),
                info.subresource.as_str(),
                info.name.as_str(),
            ];
            assert!(info.is_resource_request, "{method} {url}");
            assert_eq!(actual, expected, "{method} {url}");
            assert_eq!(info.parts, parts, "{method} {url}");
        }
        assert!(RESOURCE_REQUESTS.len() >= 30);
    }

    #[test]
    fn non_resource_requests_use_the_lower_case_method() {
        // method, URL, verb, api_prefix (which kube-apiserver sets on `/apis/{g}/{v}`).
        let cases = [
            ("GET", "/version", "get", ""),
            ("GET", "/healthz", "get", ""),
            ("GET", "/readyz/etcd", "get", ""),
            ("GET", "/openapi/v3", "get", ""),
            ("GET", "/openapi/v3/apis/apps/v1", "get", ""),
            ("GET", "/api", "get", ""),
            ("GET", "/api/", "get", ""),
            ("GET", "/api/v1", "get", ""),
            ("GET", "/apis", "get", ""),
            ("GET", "/apis/apps", "get", ""),
            ("GET", "/apis/apps/v1", "get", "apis"),
            ("POST", "/apis/apps/v1/", "post", "apis"),
            ("GET", "/apis/v1/pods", "get", "apis"),
            ("GET", "/badprefix/version/resource", "get", ""),
            ("PUT", "/livez", "put", ""),
            ("DELETE", "/", "delete", ""),
            ("GET", "", "get", ""),
            ("Patch", "/metrics", "patch", ""),
        ];
        for (method, url, verb, prefix) in cases {
            let info = parse_url(method, url);
            assert!(!info.is_resource_request, "{method} {url}");
            assert_eq!(info.verb, verb, "{method} {url}");
            assert_eq!(info.api_prefix, prefix, "{method} {url}");
            assert_eq!(info.path, url);
            assert!(info.parts.is_empty() && info.resource.is_empty() && info.name.is_empty());
            assert!(try_parse(method, url, "").is_ok());
        }
    }

    #[test]
    fn selectors_are_kept_for_list_watch_and_deletecollection_only() {
        let query = "fieldSelector=foo%3Dbar&labelSelector=baz%3Dqux&labelSelector=x%3Dy";
        for (method, path, kept) in [
            ("GET", "/apis/g/v/things", true),
            ("DELETE", "/apis/g/v/things", true),
            ("GET", "/apis/g/v/things/name", false),
            ("GET", "/apis/g/v/watch/things", false),
            ("POST", "/apis/g/v/things", false),
        ] {
            let info = parse(method, path, query);
            let expected = if kept {
                ("foo=bar", "baz=qux")
            } else {
                ("", "")
            };
            assert_eq!(
                (info.field_selector.as_str(), info.label_selector.as_str()),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn refused_requests_are_errors_for_try_parse_and_best_effort_for_parse() {
        for path in ["/api/v1/watch", "/api/v1/proxy/", "/apis/apps/v1/watch"] {
            let error = try_parse("GET", path, "a=b").expect_err(path);
            assert_eq!(
                error.to_string(),
                format!("unable to determine kind and namespace from url, {path}?a=b")
            );
            let info = parse("GET", path, "a=b");
            assert!(info.is_resource_request);
            assert_eq!(
                (info.verb.as_str(), info.api_version.as_str()),
                ("get", "v1")
            );
            assert!(info.parts.is_empty() && info.resource.is_empty());
            assert!(!info.is_collection());
        }

        let error = try_parse("GET", "/api/v1/pods/%zz", "").expect_err("bad escape");
        assert_eq!(
            error,
            RequestInfoError::InvalidPathEscape {
                escape: "%zz".into()
            }
        );
        assert_eq!(error.to_string(), r#"invalid URL escape "%zz""#);
        assert_eq!(
            try_parse("GET", "/api/v1/pods/a%4", "").expect_err("short escape"),
            RequestInfoError::InvalidPathEscape {
                escape: "%4".into()
            }
        );
        let info = parse("GET", "/api/v1/pods/%zz", "");
        assert_eq!(
            (info.resource.as_str(), info.name.as_str()),
            ("pods", "%zz")
        );
    }

    #[test]
    fn is_collection_ignores_a_name_from_the_field_selector() {
        assert!(parse("GET", "/api/v1/pods", "").is_collection());
        let by_field = parse("GET", "/api/v1/pods", "fieldSelector=metadata.name%3Dweb");
        assert_eq!(by_field.name, "web");
        assert!(by_field.is_collection());
        assert!(!parse("GET", "/api/v1/namespaces/ns", "").is_collection());
        assert!(!parse("GET", "/api/v1/namespaces/ns/pods/web/log", "").is_collection());
        assert!(!parse("GET", "/version", "").is_collection());
    }

    #[test]
    fn query_decoding_follows_go() {
        let query = QueryValues::parse("a=1+2&b=%41%2b&&c&d=x=y&e=%zz&f;=1&g=%E2%9C%93&a=second");
        assert_eq!(query.first("a"), Some("1 2"));
        assert_eq!(query.first("b"), Some("A+"));
        assert_eq!(query.first("c"), Some(""));
        assert_eq!(query.first("d"), Some("x=y"));
        assert_eq!(query.first("e"), None, "a bad escape drops the pair");
        assert_eq!(query.first("f"), None, "a pair with `;` is dropped");
        assert_eq!(query.first("g"), Some("✓"));
        assert_eq!(percent_decode("a+b%2F", false), Ok("a+b/".to_string()));
        assert_eq!(percent_decode("%", true), Err("%".to_string()));
        assert_eq!(percent_decode("%ff", true), Ok("\u{fffd}".to_string()));
    }

    #[test]
    fn field_selector_parsing_follows_fields_parse_selector() {
        let name = |selector: &str| {
            parse_field_selector(selector).map(|terms| {
                terms
                    .into_iter()
                    .find(|t| t.equal && t.field == "metadata.name")
                    .map(|t| t.value)
            })
        };
        assert_eq!(name("metadata.name=a"), Some(Some("a".into())));
        assert_eq!(name(""), Some(None));
        assert_eq!(name(",,metadata.name=a,"), Some(Some("a".into())));
        assert_eq!(name("metadata.name=a\\=b"), Some(Some("a=b".into())));
        assert_eq!(
            name("metadata.name =a"),
            Some(None),
            "the field is not trimmed"
        );
        assert_eq!(name("metadata.name=a=b").map(|_| ()), None);
        assert_eq!(name("metadata.name=a\\").map(|_| ()), None);
        assert_eq!(name("metadata.name=a\\x").map(|_| ()), None);
        assert_eq!(name("metadata.name").map(|_| ()), None);
    }

    /// Property: no input panics, and what comes back is consistent with itself. A seeded
    /// generator stitches fragments that stress every branch; a failure prints the input.
    #[test]
    fn odd_inputs_never_panic() {
        const FRAGMENTS: &[&str] = &[
            "/",
            "/",
            "//",
            "api",
            "apis",
            "v1",
            "apps",
            "namespaces",
            "ns",
            "pods",
            "watch",
            "proxy",
            "status",
            "finalize",
            "name",
            "%",
            "%2",
            "%2F",
            "%zz",
            "%E2%9C",
            "%ff",
            "+",
            "?",
            "&",
            "=",
            ";",
            ",",
            "\\",
            "!",
            "é",
            "\u{0}",
            "..",
            "watch=",
            "fieldSelector=",
            "metadata.name",
            "!=",
            "==",
            "limit=",
            "x",
        ];
        const METHODS: &[&str] = &[
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |bound: usize| {
            // xorshift64: deterministic, so a failure reproduces.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        for _ in 0..20_000 {
            let method = METHODS[next(METHODS.len())];
            let mut text = String::new();
            for _ in 0..next(12) {
                text.push_str(FRAGMENTS[next(FRAGMENTS.len())]);
            }
            let (path, query) = text.split_once('?').unwrap_or((&text, ""));
            let info = parse(method, path, query);
            let context = format!("{method} {path:?} {query:?}");
            match try_parse(method, path, query) {
                Ok(same) => {
                    assert_eq!(same, info, "{context}");
                    if info.is_resource_request {
                        assert_eq!(info.resource, info.parts[0], "{context}");
                    }
                }
                Err(_) => assert!(info.is_resource_request || path.contains('%'), "{context}"),
            }
            if !info.is_resource_request {
                assert_eq!(info.verb, method.to_lowercase(), "{context}");
                assert!(info.parts.is_empty(), "{context}");
            }
            if info.parts.len() >= 2 {
                assert_eq!(info.name, info.parts[1], "{context}");
            }
        }
    }
}
