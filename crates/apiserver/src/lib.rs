//! kubesim's API server front: HTTPS on one port (HTTP/1.1 and HTTP/2), the handler chain
//! every request passes, and the endpoints that need no storage: `/version`, health and
//! discovery, and the resources over the store (`kubesim-storage`) with their watch caches.
//! Authentication (`kubesim-authn`), audit (`kubesim-audit`), impersonation, API Priority
//! and Fairness (`kubesim-flowcontrol`) and authorization (`kubesim-authz`) are stages of the
//! chain; admission (`kubesim-admission`) runs inside the registry's writes.
//!
//! Map of the crate, in the order a request meets it:
//! - [`server`]: [`ApiServer`], the accept loop (listeners come from `Env.net`, the network
//!   seam, so the same code runs under turmoil), the TLS handshake, hyper's HTTP/1.1 + HTTP/2
//!   server per connection, connection bounds, graceful shutdown.
//! - [`tls`]: the rustls configuration: certificate and key from PEM, ALPN, optional client
//!   certificates.
//! - [`chain`]: the handler chain, one function per stage, in BRIEF.md's order: panic guard,
//!   request info, size limit, in-flight limit, authentication, audit, impersonation,
//!   priority and fairness, authorization, request timeout, dispatch.
//! - [`audit`]: the audit stage's events over `kubesim-audit`'s policy and backends;
//!   [`flowcontrol`]: API Priority and Fairness' controller, its config from the stored
//!   FlowSchemas and PriorityLevelConfigurations, and kube's bootstrap objects.
//! - [`security`]: authentication and authorization built from the flags, RBAC over the
//!   watch caches, the bootstrap policy and aggregated ClusterRoles, escalation prevention,
//!   and the decision-path trace; [`context`]: what the chain hands the handlers (the user,
//!   the Audit-Id, the security parts).
//! - [`held_body`]: the request body kept alive until the response is sent (HTTP/2 resets).
//! - [`routes`]: dispatch, which handler answers a path; [`reviews`]: the review APIs
//!   (SelfSubjectReview, SubjectAccessReview and kin) and TokenRequest.
//! - [`rest`]: resource requests: query options, content types, bodies, responses (objects,
//!   lists, Tables, Status); [`watch`]: the chunked event stream from the watch cache.
//! - [`registry`]: Kubernetes' REST semantics over the store, one file per verb family.
//! - [`version`], [`health`], [`discovery`]: the documents those endpoints answer, as pure
//!   functions.
//! - [`response`]: the one conversion to the wire: a `Status` to a response.
//! - [`metrics`]: `/metrics`, kube's request, stage, admission and etcd metrics;
//!   [`trace`]: the request's `tracing` spans (one per stage) and kube's slow-request line.
//! - [`config`]: [`ApiServerConfig`], every bound with kube-apiserver's defaults.
//!
//! Errors are `kubesim_api::Status` from the first stage that refuses a request to the
//! response; nothing in between invents its own error type.

// Every stage refuses with the wire `Status` itself (kube-rs's habit: the wire Status is the
// error payload). It is 200-odd bytes and built at most once per request, on refusal, so
// boxing it would add noise at every `?` for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod admission;
pub mod audit;
pub mod chain;
pub mod config;
pub mod context;
pub mod discovery;
pub mod flowcontrol;
pub mod health;
pub mod held_body;
pub mod metrics;
pub mod registry;
pub mod response;
pub mod rest;
pub mod reviews;
pub mod routes;
pub mod security;
pub mod server;
pub mod tls;
pub mod trace;
pub mod version;
pub mod watch;

pub use config::ApiServerConfig;
pub use server::ApiServer;
