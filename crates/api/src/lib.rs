//! Kubernetes API types and rules as pure code: no I/O, no async, so every rule is tested
//! with plain unit tests and shared by the API server, the admission webhooks and the
//! simulation's checkers.
//!
//! Map of the crate:
//! - [`request_info`]: [`RequestInfo`], what a request is about (verb, API group and
//!   version, namespace, resource, subresource, name), parsed from method, path and query as
//!   kube-apiserver's `RequestInfoFactory` does. Authorization and audit read it.
//! - [`status`]: [`Status`], the `meta/v1` Status every error answers with, built with
//!   kube-apiserver's exact reasons, codes and messages (K8S-FACTS.md).
//! - [`resources`]: [`resources::Resource`], the table of served resources: group, version,
//!   kind, plural and singular names, short names, scope, verbs, and the store key layout.
//! - [`validation`]: names (DNS-1123 subdomain and label), label keys and values, annotation
//!   size, ports: the checks behind a 422's `details.causes`.
//! - [`kind_validation`]: each kind's own rules on create and update (immutable fields
//!   included), and which changes bump `metadata.generation`; [`defaults`]: Kubernetes' v1
//!   defaults for each kind. [`fields`]: field lookups in small objects without hashing.
//! - [`selectors`]: label selectors (query syntax and `LabelSelector` objects) and field
//!   selectors with each kind's selectable fields.
//! - [`patch`]: JSON patch, merge patch and strategic merge patch with kube's merge keys.
//! - [`schema`]: the v1 types of every served kind, written once; from it [`openapi`]
//!   (`/openapi/v3`) and [`openapi_v2`] (`/openapi/v2`, protobuf for kubectl 1.27/1.28), the
//!   strict field checks (`schema::strict`), the pruning of what kube's Go round trip drops
//!   (`schema::prune`), and [`protobuf`], the decoder of kubectl's protobuf bodies.
//! - [`table`]: the server-side Table (`kubectl get` columns) of each kind.
//! - [`time`]: RFC 3339 timestamps and Go durations.
//! - [`user`]: [`user::UserInfo`], who made a request, and kube's well-known user and group
//!   names.
//! - [`workload`]: the pod `kubesim bench api` writes, shared with the API server's cost
//!   measurement and tests.
//!
//! Objects themselves are JSON (`serde_json::Value`), as kube-apiserver's storage sees them:
//! patches, server-side apply and unknown-field checks all work on the JSON, and each kind's
//! validation reads the fields it needs. See ARCHITECTURE.md ("The API server").

pub mod defaults;
pub mod fields;
pub mod kind_validation;
pub mod openapi;
pub mod openapi_v2;
pub mod patch;
pub mod protobuf;
pub mod request_info;
pub mod resources;
pub mod schema;
pub mod selectors;
pub mod status;
pub mod table;
pub mod time;
pub mod user;
pub mod validation;
pub mod workload;

pub use request_info::RequestInfo;
pub use status::Status;
