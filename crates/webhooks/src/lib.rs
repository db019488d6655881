//! kubesim's sample admission webhooks: small services that kube-apiserver (or kubesim's API
//! server) calls, each its own actor, run as `kubesim webhook <name>` or in-process with
//! [`serve`]. Each speaks both transports on one TLS port: AdmissionReview v1 JSON POSTed over
//! HTTPS (kube's) and `kubesim.admission.v1.AdmissionWebhook/Review` over gRPC (kubesim's,
//! proto/kubesim/admission.proto), and each can be made slow or broken on purpose.
//!
//! # Map of the crate
//!
//! - [`samples`]: the samples, each `review(&AdmissionRequest) -> AdmissionResponse` as pure
//!   code, and [`Sample`], which picks one; [`patch`]: the JSON Patches they send;
//! - [`faults`]: the knobs ([`Knobs`]) and the seeded draw of each call's delay and failure;
//!   [`latency`]: the delay distributions;
//! - [`server`]: the TLS listener (through the seam's [`kubesim_net::network::Listener`], so
//!   the simulation can run a sample under turmoil), connections, shutdown, [`Limits`];
//! - [`routes`]: one request: gRPC by `content-type`, `GET /healthz`, `GET /records`, or an
//!   AdmissionReview; [`https`] and [`grpc`]: the two transports, which both end in the
//!   sample's `review`;
//! - [`tls`]: the rustls server configuration (ALPN `h2`, `http/1.1`) from PEM files.
//!
//! # The samples
//!
//! Denials are `allowed: false` with `status: {code: 403, reason: "Forbidden", message}`,
//! which the API server reports as `admission webhook "<name>" denied the request:
//! <message>`. The exact messages:
//!
//! | sample | kind | what it does |
//! |---|---|---|
//! | `label-injector` | mutating | adds the labels of `--labels` (default `env=production,managed-by=kubesim`) that the object lacks; an object that has them all gets no patch |
//! | `sidecar-injector` | mutating | adds the container `{"name": "kubesim-proxy", "image": <--sidecar-image, default registry.k8s.io/pause:3.10>}` to a pod without a container or init container of that name; idempotent |
//! | `no-privileged` | validating | denies pods with a privileged container: `container "web" is privileged; privileged containers are not allowed` (offenders in spec order, `init container "x" is privileged` and `ephemeral container "y" is privileged` for the other lists, joined by `, `) |
//! | `image-policy` | validating | denies pods with an image outside `--allowed-registries` (default `registry.k8s.io,docker.io`): `images from registries that are not allowed: "quay.io/a:1", "ghcr.io/b" (allowed registries: registry.k8s.io, docker.io)` |
//! | `env-guard` | validating | denies pods labelled `--label` (default `env=development`) in namespace `--namespace` (default `production`): `pods labelled env=development are not allowed in namespace "production"` |
//! | `audit-sink` | either | allows everything; records each pod CREATE (namespace, name, uid, request uid, user, time) in a ring of the latest 1024, logs a line for each, and answers them at `GET /records`; also an audit webhook: records the events of each `audit.k8s.io/v1` EventList POSTed to `POST /audit` in the same ring |
//!
//! An image's registry is read as Docker reads a reference: the part before the first `/` is
//! the registry when it contains `.` or `:`, is `localhost`, or has an upper-case letter;
//! otherwise the registry is `docker.io` (`nginx` is `docker.io/library/nginx`).
//! `index.docker.io` counts as `docker.io`; registries compare case-insensitively, port
//! included. The validating samples and `sidecar-injector` look at core/v1 Pods only and allow
//! anything else; `label-injector` labels whatever it is sent.
//!
//! # The knobs (common to every sample)
//!
//! - `--latency DIST`: a delay before each review's answer: `0`, `150ms`,
//!   `uniform:50ms..200ms`, `exp:100ms` (mean), `lognormal:p50=100ms,p99=800ms`; at most 5m
//!   ([`latency`]).
//! - `--fail-rate P`: the fraction of review calls that fail, 0 to 1 (default 0).
//! - `--timeout-behaviour MODE`: how they fail: `error` (HTTP 500 / gRPC `Internal`; the
//!   default), `hang` (no answer until the client gives up), `close` (the connection is
//!   dropped), `garbage` (200 with a body that is not an AdmissionReview / not an
//!   AdmissionResponse), `wrong-uid` (a valid answer with another uid) ([`faults`]).
//! - `--seed N`: seeds every delay, failure and wrong uid; the same seed and sequence of calls
//!   give the same fates. `kubesim webhook` takes one from the clock when not given.
//!
//! The knobs apply to review calls only: `GET /healthz` answers `ok`, and `GET /records` and
//! `POST /audit` answer at once, always.
//!
//! # Bounds
//!
//! [`Limits`]: request bodies and gRPC messages up to 3 MiB (413 / `OutOfRange` past it), 1024
//! connections, a 10 s TLS handshake, 250 streams per HTTP/2 connection, a hang of at most
//! 10 minutes, 5 s of grace at shutdown.

pub mod faults;
pub mod grpc;
pub mod https;
pub mod latency;
pub mod patch;
pub mod routes;
pub mod samples;
pub mod server;
pub mod tls;

pub use faults::{FailureMode, Knobs};
pub use latency::Latency;
pub use samples::Sample;
pub use server::{Limits, serve, serve_with_limits};
