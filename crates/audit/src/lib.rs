//! Audit logging as kube-apiserver does it (`k8s.io/apiserver/pkg/audit`): a Policy decides
//! at what level each request is recorded; the API server builds `audit.k8s.io/v1` Events at
//! each stage of the request and hands them to the backends, which never block a request: a
//! full buffer drops the event and counts it.
//!
//! Map of the crate:
//!
//! | module | what it holds |
//! |---|---|
//! | [`policy`] | `--audit-policy-file`: kube's Policy (levels, rules, omitStages); first matching rule wins |
//! | [`event`] | the `audit.k8s.io/v1` Event and EventList, and the stages and levels |
//! | [`backend`] | the [`backend::Backend`] trait, and fan-out to several backends |
//! | [`backend::log`] | `--audit-log-path`: JSON lines, rotated by `--audit-log-maxsize` / `--audit-log-maxbackup` |
//! | [`backend::webhook`] | `--audit-webhook-config-file`: EventLists POSTed in batches from a bounded buffer |
//! | [`kubeconfig`] | the webhook backend's kubeconfig: server, CA, client certificate |

pub mod backend;
pub mod event;
pub mod kubeconfig;
pub mod policy;

pub use event::{Event, Level, Stage};
pub use policy::Policy;
