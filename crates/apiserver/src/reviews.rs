//! The review APIs and TokenRequest: resources served by `create` alone, answered from the
//! caller's identity and the server's security parts and never stored, as kube's
//! `pkg/registry/authentication/*`, `pkg/registry/authorization/*` and the ServiceAccount
//! `token` subresource (`pkg/registry/core/serviceaccount/storage/token.go`) answer them.
//!
//! | kind | answer (201) |
//! |---|---|
//! | SelfSubjectReview (v1, v1beta1, v1alpha1) | `status.userInfo`: the caller |
//! | SubjectAccessReview, LocalSubjectAccessReview | `status`: the chain's decision for `spec`'s subject |
//! | SelfSubjectAccessReview | `status`: the chain's decision for the caller |
//! | SelfSubjectRulesReview | `status`: the caller's rules in `spec.namespace` |
//! | TokenReview | `status`: whether the server's token authenticators accept `spec.token` |
//! | TokenRequest (`serviceaccounts/<name>/token`) | `status.token`, signed by the server's issuer |
//!
//! Bodies are read as [`crate::rest`] reads a create's (JSON, YAML or kubectl 1.32+'s
//! protobuf, with `fieldValidation`). The caller and the security parts come from the
//! [`RequestContext`] the chain puts in the request's extensions; a request without one is
//! a server bug, answered 500. `?dryRun=All` is checked and changes nothing, as in kube:
//! nothing is stored either way.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::{HeaderMap, Response};
use kubesim_api::kind_validation::reviews::{self, AccessReview};
use kubesim_api::resources::{self, Resource, Scope};
use kubesim_api::status::{FieldError, GroupKind, GroupResource, reason};
use kubesim_api::user::UserInfo;
use kubesim_api::{RequestInfo, Status, time};
use kubesim_authn::BoundKind;
use kubesim_authn::service_account::{BoundObject, IssueRequest};
use kubesim_authz::{Attributes, Decision, DecisionKind, PolicyRule};
use serde_json::{Map, Value, json};

use crate::context::RequestContext;
use crate::registry::Registry;
use crate::registry::create::{check_type_meta, set_namespace};
use crate::response::{self, APPLICATION_JSON, Body};
use crate::rest::{self, Query};

const AUTHENTICATION: &str = "authentication.k8s.io";
/// A TokenRequest lives this long unless it asks otherwise (`SetDefaults_TokenRequestSpec`).
const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60;
/// The answer when the chain put no [`RequestContext`] in the request.
pub const NO_REQUEST_CONTEXT: &str =
    "no RequestContext in the request: the handler chain did not authenticate it";
/// The answer to a TokenRequest on a server that cannot sign tokens; kube serves no
/// `serviceaccounts/token` then.
pub const NO_TOKEN_ISSUER: &str =
    "serviceaccounts/token is not served: --service-account-signing-key-file is not set";

/// The body type of `serviceaccounts/token`: not a resource of its own, but what its body is
/// decoded, checked and answered as.
static TOKEN_REQUEST: Resource = Resource {
    group: AUTHENTICATION,
    version: "v1",
    kind: "TokenRequest",
    plural: "serviceaccounts",
    singular: "",
    short_names: &[],
    scope: Scope::Namespaced,
    verbs: &["create"],
    subresources: &[],
    categories: &[],
    key_prefix: "serviceaccounts",
};

/// Whether this module answers requests for `resource` (or its `subresource`).
pub fn handles(resource: &Resource, subresource: &str) -> bool {
    if subresource.is_empty() {
        !resource.is_stored()
    } else {
        resource.group.is_empty() && resource.plural == "serviceaccounts" && subresource == "token"
    }
}

/// One review request, with what its handler needs.
pub struct Review<'a> {
    pub resource: &'static Resource,
    pub info: &'a RequestInfo,
    pub headers: &'a HeaderMap,
    pub query: Query,
    /// The chain's: who asks, and the server's authorizer and token issuer.
    pub context: Option<&'a RequestContext>,
    /// For TokenRequest's lookups; `None` without `--etcd-servers`.
    pub registry: Option<&'a Arc<Registry>>,
}

impl Review<'_> {
    /// Serves the request; `body` is the whole (size-limited) request body.
    pub async fn serve(&self, body: Bytes) -> Result<Response<Body>, Status> {
        if self.info.verb != "create" {
            return Err(Status::method_not_supported(
                &crate::registry::group_resource(self.resource),
                &self.info.verb,
            ));
        }
        rest::dry_run(&self.query)?;
        let context = self
            .context
            .ok_or_else(|| Status::internal_error(NO_REQUEST_CONTEXT))?;
        if !self.info.subresource.is_empty() {
            return self.token_request(context, &body).await;
        }
        let (object, warnings) = self.decode(self.resource, &body)?;
        let answer = match self.resource.kind {
            "SelfSubjectReview" => self.self_subject_review(context, object),
            "TokenReview" => token_review(context, self.registry, object).await?,
            "SelfSubjectRulesReview" => self.self_subject_rules_review(context, &object).await?,
            kind => {
                let review = AccessReview::from_kind(kind).ok_or_else(|| {
                    Status::internal_error(&format!("{kind} has no review handler"))
                })?;
                self.access_review(context, review, object).await?
            }
        };
        Ok(created(&answer, &warnings))
    }

    /// The body as an object of `resource`'s kind, with its apiVersion and kind checked.
    fn decode(&self, resource: &Resource, body: &[u8]) -> Result<(Value, Vec<String>), Status> {
        let (mut object, warnings) =
            rest::decode_object(resource, self.headers, &self.query, body)?;
        check_type_meta(resource, &mut object)?;
        Ok((object, warnings))
    }

    /// kube's SelfSubjectReview REST: a new object holding the caller.
    fn self_subject_review(&self, context: &RequestContext, object: Value) -> Value {
        let now = self.now();
        json!({
            "kind": object["kind"],
            "apiVersion": object["apiVersion"],
            "metadata": {"creationTimestamp": now},
            "status": {"userInfo": user_info_json(&context.user)},
        })
    }

    /// SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectAccessReview: validated,
    /// then the chain's decision on the attributes of `spec`, as `status`.
    async fn access_review(
        &self,
        context: &RequestContext,
        review: AccessReview,
        mut object: Value,
    ) -> Result<Value, Status> {
        if review == AccessReview::LocalSubjectAccessReview {
            set_namespace(self.resource, &self.info.namespace, &mut object)?;
        }
        let errors = reviews::validate_access_review(review, &object);
        if !errors.is_empty() {
            return Err(invalid(
                self.resource.group,
                self.resource.kind,
                "",
                &errors,
            ));
        }
        let spec = object.get("spec").cloned().unwrap_or(Value::Null);
        if review == AccessReview::LocalSubjectAccessReview {
            let asked = spec
                .pointer("/resourceAttributes/namespace")
                .and_then(Value::as_str);
            if asked != Some(self.info.namespace.as_str()) {
                return Err(Status::bad_request(&format!(
                    "spec.resourceAttributes.namespace must match namespace: {}",
                    self.info.namespace
                )));
            }
        }
        let user = match review {
            AccessReview::SelfSubjectAccessReview => UserInfo::clone(&context.user),
            _ => subject_of(&spec),
        };
        let decision = context
            .security
            .authorizer
            .authorize(&attributes_of(user, &spec))
            .await;
        object["status"] = access_status(&decision);
        Ok(object)
    }

    /// kube's SelfSubjectRulesReview REST: the caller's rules in `spec.namespace`, in a new
    /// object (its spec left empty, as kube leaves it).
    async fn self_subject_rules_review(
        &self,
        context: &RequestContext,
        object: &Value,
    ) -> Result<Value, Status> {
        let namespace = object
            .pointer("/spec/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if namespace.is_empty() {
            return Err(Status::bad_request("no namespace on request"));
        }
        let rules = context
            .security
            .authorizer
            .rules_for(&context.user, namespace)
            .await;
        let mut status = Map::new();
        let resource_rules: Vec<Value> = rules.resource_rules.iter().map(resource_rule).collect();
        let non_resource_rules: Vec<Value> = rules
            .non_resource_rules
            .iter()
            .map(non_resource_rule)
            .collect();
        status.insert("resourceRules".into(), Value::Array(resource_rules));
        status.insert("nonResourceRules".into(), Value::Array(non_resource_rules));
        status.insert("incomplete".into(), Value::Bool(rules.incomplete));
        if !rules.evaluation_error.is_empty() {
            status.insert(
                "evaluationError".into(),
                Value::String(rules.evaluation_error),
            );
        }
        Ok(json!({
            "kind": object["kind"],
            "apiVersion": object["apiVersion"],
            "metadata": {"creationTimestamp": null},
            "spec": {},
            "status": status,
        }))
    }

    /// `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`.
    async fn token_request(
        &self,
        context: &RequestContext,
        body: &[u8],
    ) -> Result<Response<Body>, Status> {
        let issuer =
            context.security.token_issuer.as_ref().ok_or_else(|| {
                Status::failure(404, reason::NOT_FOUND, NO_TOKEN_ISSUER.to_string())
            })?;
        let registry = self
            .registry
            .ok_or_else(|| Status::service_unavailable(crate::routes::NO_STORAGE))?;
        let (mut request, mut warnings) = self.decode(&TOKEN_REQUEST, body)?;
        let (namespace, name) = (self.info.namespace.as_str(), self.info.name.as_str());
        check_request_meta(&request, namespace, name)?;
        let (account, _) = registry.read(self.resource, namespace, name).await?;
        let account_uid = meta_str(&account, "uid").to_string();
        let spec = spec_of(&mut request)?;
        let audiences = match spec.get("audiences").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => strings(list),
            _ => context.security.api_audiences.clone(),
        };
        spec.insert("audiences".into(), json!(audiences));
        let mut expiration = spec
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS);
        let bound_ref = spec.get("boundObjectRef").cloned();
        let now_secs = registry.now_secs();
        let metadata = metadata_of(&mut request)?;
        metadata
            .entry("name")
            .or_insert_with(|| Value::String(name.to_string()));
        metadata
            .entry("namespace")
            .or_insert_with(|| Value::String(namespace.to_string()));
        metadata.insert(
            "creationTimestamp".into(),
            json!(time::format_rfc3339(now_secs)),
        );
        let errors = reviews::validate_token_request(expiration);
        if !errors.is_empty() {
            return Err(invalid(AUTHENTICATION, "TokenRequest", "", &errors));
        }
        let bound = match &bound_ref {
            Some(reference) if !reference.is_null() => {
                Some(bound_object(registry, namespace, name, reference).await?)
            }
            _ => None,
        };
        if let Some(max) = context.security.max_token_expiration.map(max_seconds)
            && max > 0
            && expiration > max
        {
            warnings.push(format!(
                "requested expiration of {expiration} seconds shortened to {max} seconds"
            ));
            expiration = max;
        }
        spec_of(&mut request)?.insert("expirationSeconds".into(), json!(expiration));
        let issue = IssueRequest {
            namespace: namespace.to_string(),
            service_account_name: name.to_string(),
            service_account_uid: account_uid,
            audiences,
            issued_at: Duration::from_secs(u64::try_from(now_secs).unwrap_or(0)),
            expiration_seconds: expiration,
            bound,
            token_id: registry.new_uid(),
        };
        let token = issuer
            .issue(&issue)
            .map_err(|e| Status::internal_error(&format!("failed to generate token: {e}")))?;
        let expires = time::format_rfc3339(now_secs.saturating_add(expiration));
        request["status"] = json!({"token": token, "expirationTimestamp": expires});
        Ok(created(&request, &warnings))
    }

    /// Now from the seam's clock; `null` without storage, where no clock is at hand (the
    /// field only informs).
    fn now(&self) -> Value {
        self.registry
            .map_or(Value::Null, |registry| Value::String(registry.now()))
    }
}

/// kube's TokenReview REST: a token is required (kube's message names its internal
/// version); it is checked by the server's token authenticators (static tokens,
/// ServiceAccount tokens, OIDC; never a client certificate, never anonymous) for
/// `spec.audiences` (the API audiences when empty).
async fn token_review(
    context: &RequestContext,
    registry: Option<&Arc<Registry>>,
    mut object: Value,
) -> Result<Value, Status> {
    let token = object
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if token.is_empty() {
        return Err(Status::bad_request(
            "token is required for TokenReview in authentication.k8s.io/__internal",
        ));
    }
    let audiences = object
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|list| strings(list))
        .unwrap_or_default();
    let authenticator = &context.security.authenticator;
    let mut outcome = None;
    // Only ServiceAccount tokens carry audiences of their own to check against others.
    if let (false, Some(accounts), Some(registry)) = (
        audiences.is_empty(),
        authenticator.service_accounts(),
        registry,
    ) {
        let now = Duration::from_secs(u64::try_from(registry.now_secs()).unwrap_or(0));
        match accounts.authenticate_for(&token, now, &audiences).await {
            Ok(Some(found)) => outcome = Some(Ok(found)),
            Ok(None) => {}
            Err(e) => outcome = Some(Err(e.detail)),
        }
    }
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => bearer(authenticator, &token).await,
    };
    let mut status = Map::new();
    match outcome {
        Ok(found) => {
            if !audiences.is_empty() && !found.audiences.iter().any(|a| audiences.contains(a)) {
                return Err(Status::internal_error("error validating audiences"));
            }
            status.insert("authenticated".into(), Value::Bool(true));
            status.insert("user".into(), user_info_json(&found.user));
            if !found.audiences.is_empty() {
                status.insert("audiences".into(), json!(found.audiences));
            }
        }
        Err(error) => {
            status.insert("user".into(), json!({}));
            status.insert("error".into(), Value::String(error));
        }
    }
    object["status"] = Value::Object(status);
    Ok(object)
}

/// The token as a request's bearer token, through the authenticators' union; an anonymous
/// answer (no authenticator took it) is a failure.
async fn bearer(
    authenticator: &kubesim_authn::Authenticator,
    token: &str,
) -> Result<kubesim_authn::Authenticated, String> {
    let mut headers = HeaderMap::new();
    let value = hyper::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the token is not a valid header value".to_string())?;
    headers.insert(hyper::header::AUTHORIZATION, value);
    let request = kubesim_authn::AuthnRequest {
        headers: &headers,
        peer_certificates: &[],
    };
    match authenticator.authenticate(request).await {
        Ok(found) if found.method == kubesim_authn::Method::Anonymous => {
            Err("no authenticator accepted the token".to_string())
        }
        Ok(found) => Ok(found),
        Err(e) => Err(e.detail),
    }
}

/// A TokenRequest's name and namespace, when given, are the URL's.
fn check_request_meta(request: &Value, namespace: &str, name: &str) -> Result<(), Status> {
    let given_name = meta_str(request, "name");
    if !given_name.is_empty() && given_name != name {
        let error = FieldError::invalid(
            "metadata.name",
            json!(given_name),
            "must match the service account name if specified",
        );
        return Err(invalid(AUTHENTICATION, "TokenRequest", name, &[error]));
    }
    let given_namespace = meta_str(request, "namespace");
    if !given_namespace.is_empty() && given_namespace != namespace {
        let error = FieldError::invalid(
            "metadata.namespace",
            json!(given_namespace),
            "must match the service account namespace if specified",
        );
        return Err(invalid(AUTHENTICATION, "TokenRequest", name, &[error]));
    }
    Ok(())
}

/// The Pod or Secret a token is bound to: it must exist, the Pod must run as the
/// ServiceAccount, and a given uid must be the object's.
async fn bound_object(
    registry: &Registry,
    namespace: &str,
    account: &str,
    reference: &Value,
) -> Result<BoundObject, Status> {
    let text = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind, name) = (text("apiVersion"), text("kind"), text("name"));
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let (plural, bound_kind) = match (group, kind) {
        ("", "Pod") => ("pods", BoundKind::Pod),
        ("", "Secret") => ("secrets", BoundKind::Secret),
        _ => {
            // Go's GroupVersionKind.String().
            return Err(Status::bad_request(&format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    let resource = resources::lookup("", "v1", plural)
        .ok_or_else(|| Status::internal_error(&format!("{plural} are not served")))?;
    let (object, _) = registry.read(resource, namespace, name).await?;
    if bound_kind == BoundKind::Pod {
        // The ServiceAccount admission plugin would have set `default`; kubesim has none yet.
        let runs_as = object
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default");
        if runs_as != account {
            return Err(Status::bad_request(&format!(
                "cannot bind token for serviceaccount {account:?} to pod running with different \
                 serviceaccount name."
            )));
        }
    }
    let uid = meta_str(&object, "uid").to_string();
    let wanted = text("uid");
    if !wanted.is_empty() && wanted != uid {
        return Err(Status::conflict(
            &GroupResource::new(group, kind),
            name,
            &format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in \
                 record. The object might have been deleted and then recreated"
            ),
        ));
    }
    Ok(BoundObject {
        kind: bound_kind,
        name: name.to_string(),
        uid,
    })
}

/// kube's `AuthorizationAttributesFrom`'s user: the spec's, as given (no groups added).
fn subject_of(spec: &Value) -> UserInfo {
    let text = |key: &str| {
        spec.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let groups = spec
        .get("groups")
        .and_then(Value::as_array)
        .map(|list| strings(list))
        .unwrap_or_default();
    let extra = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(key, values)| {
                    let values = values.as_array().map(|l| strings(l)).unwrap_or_default();
                    (key.clone(), values)
                })
                .collect()
        })
        .unwrap_or_default();
    UserInfo {
        username: text("user"),
        uid: text("uid"),
        groups,
        extra,
    }
}

/// `ResourceAttributesFrom` (an empty version is every version, `*`) or
/// `NonResourceAttributesFrom`.
fn attributes_of(user: UserInfo, spec: &Value) -> Attributes {
    let text = |attributes: &Value, key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match spec.get("resourceAttributes").filter(|a| a.is_object()) {
        Some(resource) => {
            let version = text(resource, "version");
            Attributes {
                user,
                verb: text(resource, "verb"),
                resource_request: true,
                namespace: text(resource, "namespace"),
                api_group: text(resource, "group"),
                api_version: if version.is_empty() {
                    "*".into()
                } else {
                    version
                },
                resource: text(resource, "resource"),
                subresource: text(resource, "subresource"),
                name: text(resource, "name"),
                path: String::new(),
            }
        }
        None => {
            let empty = Value::Null;
            let non_resource = spec.get("nonResourceAttributes").unwrap_or(&empty);
            Attributes {
                user,
                verb: text(non_resource, "verb"),
                path: text(non_resource, "path"),
                ..Attributes::default()
            }
        }
    }
}

/// `status` of an access review: `allowed` only for Allow, `denied` only for Deny.
fn access_status(decision: &Decision) -> Value {
    let mut status = Map::new();
    status.insert(
        "allowed".into(),
        Value::Bool(decision.kind == DecisionKind::Allow),
    );
    if decision.kind == DecisionKind::Deny {
        status.insert("denied".into(), Value::Bool(true));
    }
    if !decision.reason.is_empty() {
        status.insert("reason".into(), Value::String(decision.reason.clone()));
    }
    Value::Object(status)
}

/// authorization/v1 `ResourceRule`: verbs always, the rest when set.
fn resource_rule(rule: &PolicyRule) -> Value {
    let mut out = Map::new();
    out.insert("verbs".into(), json!(rule.verbs));
    for (key, values) in [
        ("apiGroups", &rule.api_groups),
        ("resources", &rule.resources),
        ("resourceNames", &rule.resource_names),
    ] {
        if !values.is_empty() {
            out.insert(key.into(), json!(values));
        }
    }
    Value::Object(out)
}

/// authorization/v1 `NonResourceRule`.
fn non_resource_rule(rule: &PolicyRule) -> Value {
    let mut out = Map::new();
    out.insert("verbs".into(), json!(rule.verbs));
    if !rule.non_resource_urls.is_empty() {
        out.insert("nonResourceURLs".into(), json!(rule.non_resource_urls));
    }
    Value::Object(out)
}

/// authentication/v1 `UserInfo` as JSON.
fn user_info_json(user: &UserInfo) -> Value {
    serde_json::to_value(user).unwrap_or_else(|_| json!({"username": user.username}))
}

/// kube's `NewInvalid` for a review: `<Kind>.<group> "<name>" is invalid: ...`.
fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Status {
    Status::invalid(&GroupKind::new(group, kind), name, errors)
}

/// 201 Created with the object, and any warnings.
fn created(object: &Value, warnings: &[String]) -> Response<Body> {
    // A Value with string keys always serializes.
    let bytes = serde_json::to_vec(object).unwrap_or_default();
    let mut response = response::with_body(201, APPLICATION_JSON, response::full(bytes));
    rest::add_warnings(&mut response, warnings);
    response
}

fn max_seconds(max: Duration) -> i64 {
    i64::try_from(max.as_secs()).unwrap_or(i64::MAX)
}

fn strings(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    crate::registry::meta::meta_str(object, field)
}

/// `spec` of a decoded body (always an object), made a map if absent or not one.
fn spec_of(object: &mut Value) -> Result<&mut Map<String, Value>, Status> {
    child_map(object, "spec")
}

fn metadata_of(object: &mut Value) -> Result<&mut Map<String, Value>, Status> {
    child_map(object, "metadata")
}

fn child_map<'a>(object: &'a mut Value, key: &str) -> Result<&'a mut Map<String, Value>, Status> {
    let not_an_object = || Status::bad_request("the body is not a JSON object");
    let fields = object.as_object_mut().ok_or_else(not_an_object)?;
    let child = fields
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    child.as_object_mut().ok_or_else(not_an_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_follow_kubes_conversion() {
        let spec = json!({"resourceAttributes": {"namespace": "dev", "verb": "get",
            "group": "apps", "resource": "deployments", "subresource": "scale", "name": "web"},
            "user": "jane", "groups": ["dev"], "uid": "1", "extra": {"scopes": ["a"]}});
        let user = subject_of(&spec);
        assert_eq!(user.username, "jane");
        assert_eq!(user.groups, ["dev"]);
        assert_eq!(user.extra["scopes"], ["a"]);
        let attributes = attributes_of(user.clone(), &spec);
        assert_eq!(
            attributes,
            Attributes {
                user: user.clone(),
                verb: "get".into(),
                resource_request: true,
                namespace: "dev".into(),
                api_group: "apps".into(),
                api_version: "*".into(),
                resource: "deployments".into(),
                subresource: "scale".into(),
                name: "web".into(),
                path: String::new(),
            }
        );
        let path = json!({"nonResourceAttributes": {"path": "/healthz", "verb": "get"}});
        let attributes = attributes_of(user.clone(), &path);
        assert!(!attributes.resource_request);
        assert_eq!(
            (attributes.path.as_str(), attributes.verb.as_str()),
            ("/healthz", "get")
        );
    }

    #[test]
    fn status_says_allowed_only_for_allow_and_denied_only_for_deny() {
        assert_eq!(
            access_status(&Decision::allow("rbac")),
            json!({"allowed": true})
        );
        assert_eq!(
            access_status(&Decision::deny("nope", "webhook")),
            json!({"allowed": false, "denied": true, "reason": "nope"})
        );
        assert_eq!(
            access_status(&Decision::no_opinion("")),
            json!({"allowed": false})
        );
    }

    #[test]
    fn rules_are_written_as_authorization_v1_rules() {
        let rule = PolicyRule {
            verbs: vec!["get".into()],
            api_groups: vec!["".into()],
            resources: vec!["pods".into()],
            ..PolicyRule::default()
        };
        assert_eq!(
            resource_rule(&rule),
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
        );
        let path = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz".into()],
            ..PolicyRule::default()
        };
        assert_eq!(
            non_resource_rule(&path),
            json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]})
        );
    }

    /// A RequestContext as the chain makes it, with kube-apiserver's default security (no
    /// signing key, AlwaysAllow) built by `crate::security::build`.
    fn context(user: UserInfo) -> RequestContext {
        let env = kubesim_net::Env::production(std::env::temp_dir());
        let options = crate::config::AuthOptions::default();
        let security = crate::security::build(&options, None, &env, None).expect("security");
        RequestContext {
            user: Arc::new(user),
            audit_id: "test".into(),
            security: Arc::new(security),
            audit: None,
            timings: None,
        }
    }

    /// POSTs `body` (JSON) to `path` as `context`'s user, without storage.
    async fn post(context: Option<&RequestContext>, path: &str, body: Value) -> (u16, Value) {
        let info = kubesim_api::request_info::parse("POST", path, "");
        let (group, version) = (info.api_group.as_str(), info.api_version.as_str());
        let resource = resources::lookup(group, version, &info.resource).expect("served");
        let mut headers = HeaderMap::new();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        let review = Review {
            resource,
            info: &info,
            headers: &headers,
            query: Query::parse(""),
            context,
            registry: None,
        };
        match review.serve(Bytes::from(body.to_string())).await {
            Ok(response) => {
                use http_body_util::BodyExt;
                let code = response.status().as_u16();
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                (code, serde_json::from_slice(&bytes).unwrap())
            }
            Err(status) => (
                status.code,
                serde_json::from_str(&status.to_json()).unwrap(),
            ),
        }
    }

    fn jane() -> UserInfo {
        UserInfo::new("jane", &["dev", "system:authenticated"])
    }

    const SSAR: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

    #[tokio::test]
    async fn without_a_request_context_the_answer_is_500() {
        let (code, body) = post(None, SSAR, json!({"spec": {}})).await;
        assert_eq!(code, 500);
        assert_eq!(body["reason"], "InternalError");
        assert_eq!(
            body["message"],
            format!("Internal error occurred: {NO_REQUEST_CONTEXT}")
        );
    }

    #[tokio::test]
    async fn self_subject_review_answers_the_caller_in_the_version_asked() {
        let ctx = context(jane());
        for version in ["v1", "v1beta1", "v1alpha1"] {
            let path = format!("/apis/authentication.k8s.io/{version}/selfsubjectreviews");
            let (code, body) = post(Some(&ctx), &path, json!({})).await;
            assert_eq!(code, 201, "{body}");
            assert_eq!(
                body,
                json!({"kind": "SelfSubjectReview",
                       "apiVersion": format!("authentication.k8s.io/{version}"),
                       "metadata": {"creationTimestamp": null},
                       "status": {"userInfo": {"username": "jane",
                                               "groups": ["dev", "system:authenticated"]}}})
            );
        }
        let wrong = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
        let (code, body) = post(
            Some(&ctx),
            "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews",
            wrong,
        )
        .await;
        assert_eq!(code, 400);
        assert_eq!(
            body["message"],
            "the API version in the data (authentication.k8s.io/v1) does not match the expected \
             API version (authentication.k8s.io/v1beta1)"
        );
    }

    #[tokio::test]
    async fn access_reviews_ask_the_chain_for_the_subject() {
        let ctx = context(jane());
        let masters = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "root", "groups": ["system:masters"],
                     "resourceAttributes": {"verb": "delete", "resource": "nodes"}}});
        let (code, body) = post(
            Some(&ctx),
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            masters.clone(),
        )
        .await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["spec"], masters["spec"]);
        assert_eq!(body["status"], json!({"allowed": true}));

        let ask = json!({"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}});
        let (code, body) = post(Some(&ctx), SSAR, ask).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["kind"], "SelfSubjectAccessReview");
        assert_eq!(body["status"]["allowed"], true, "AlwaysAllow: {body}");
    }

    #[tokio::test]
    async fn access_reviews_are_validated_with_kubes_words() {
        let ctx = context(jane());
        let (code, body) = post(
            Some(&ctx),
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            json!({"spec": {"resourceAttributes": {"verb": "get"}}}),
        )
        .await;
        assert_eq!(code, 422);
        assert_eq!(
            body["message"],
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \
             \"\": at least one of user or group must be specified"
        );
        let (code, body) = post(
            Some(&ctx),
            "/apis/authorization.k8s.io/v1/namespaces/dev/localsubjectaccessreviews",
            json!({"spec": {"user": "u", "resourceAttributes": {"namespace": "prod"}}}),
        )
        .await;
        assert_eq!(code, 422);
        assert_eq!(
            body["details"]["causes"],
            json!([{"reason": "FieldValueInvalid",
                    "message": "Invalid value: \"prod\": must match metadata.namespace",
                    "field": "spec.resourceAttributes.namespace"}])
        );
        let (code, body) = post(
            Some(&ctx),
            "/apis/authorization.k8s.io/v1/namespaces/dev/localsubjectaccessreviews",
            json!({"metadata": {"namespace": "prod"},
                   "spec": {"user": "u", "resourceAttributes": {"namespace": "prod"}}}),
        )
        .await;
        assert_eq!(code, 400);
        assert_eq!(
            body["message"],
            "the namespace of the provided object does not match the namespace sent on the request"
        );
    }

    #[tokio::test]
    async fn rules_reviews_need_a_namespace() {
        let ctx = context(jane());
        let path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";
        let (code, body) = post(Some(&ctx), path, json!({"spec": {}})).await;
        assert_eq!(
            (code, body["message"].clone()),
            (400, json!("no namespace on request"))
        );
        let (code, body) = post(Some(&ctx), path, json!({"spec": {"namespace": "dev"}})).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["spec"], json!({}));
        assert_eq!(
            body["status"],
            json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                   "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                   "incomplete": false}),
            "AlwaysAllow allows everything, as kube's says"
        );
    }

    #[tokio::test]
    async fn token_reviews_need_a_token_and_refuse_unknown_ones() {
        let ctx = context(jane());
        let path = "/apis/authentication.k8s.io/v1/tokenreviews";
        let (code, body) = post(Some(&ctx), path, json!({"spec": {}})).await;
        assert_eq!(code, 400);
        assert_eq!(
            body["message"],
            "token is required for TokenReview in authentication.k8s.io/__internal"
        );
        let (code, body) = post(Some(&ctx), path, json!({"spec": {"token": "nope"}})).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["status"]["user"], json!({}));
        assert!(body["status"].get("authenticated").is_none(), "{body}");
        assert!(body["status"]["error"].is_string(), "{body}");
    }

    #[tokio::test]
    async fn token_requests_need_a_signing_key() {
        let ctx = context(jane());
        let (code, body) = post(
            Some(&ctx),
            "/api/v1/namespaces/dev/serviceaccounts/default/token",
            json!({"spec": {}}),
        )
        .await;
        assert_eq!(code, 404);
        assert_eq!(body["message"], NO_TOKEN_ISSUER);
    }

    #[test]
    fn only_reviews_and_the_token_subresource_are_handled_here() {
        let lookup = |g: &str, v: &str, p: &str| resources::lookup(g, v, p).unwrap();
        assert!(handles(
            lookup("authorization.k8s.io", "v1", "subjectaccessreviews"),
            ""
        ));
        assert!(handles(
            lookup("authentication.k8s.io", "v1beta1", "selfsubjectreviews"),
            ""
        ));
        assert!(handles(lookup("", "v1", "serviceaccounts"), "token"));
        assert!(!handles(lookup("", "v1", "serviceaccounts"), ""));
        assert!(!handles(lookup("", "v1", "pods"), "status"));
        assert!(!handles(lookup("", "v1", "nodes"), ""));
    }
}
