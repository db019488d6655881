//! Issue 6's admission end to end: the real kubectl against a real `kubesim apiserver` over a
//! real store (`KUBESIM_E2E_TARGET`), with admission webhooks as processes of their own — the
//! samples (`kubesim webhook <name>`) and a Python webhook written against Kubernetes'
//! documented AdmissionReview JSON (`tests/python/admission_webhook.py`):
//!
//! - the seed scenario: label-injector labels a pod made by `kubectl run`, over both
//!   transports and on every installed kubectl;
//! - refusals as kubectl prints them: no-privileged, image-policy, env-guard, the Python
//!   webhook, PodSecurity's enforce level; PodSecurity's warn level as kubectl's `Warning:`;
//! - the order of mutating webhooks (by configuration name) and reinvocation (`IfNeeded`
//!   called again after a later change, `Never` not), read from the request's trace
//!   (`/debug/kubesim/trace/<Audit-Id>`);
//! - managedFields recorded before mutating admission: a webhook's label on an UPDATE is
//!   owned by no manager;
//! - `--dry-run=server` against `sideEffects: Some` (refused) and `None` (allowed, nothing
//!   stored).
//!
//! Each test has its server. Without kubectl or curl a test skips with a line on stderr, and
//! the Python one without python3 too, unless `KUBESIM_E2E=1` makes it fail.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use kubesim_tests::admission::{
    Hook, Kind, ServingCa, Transport, WebhookProcess, configuration, create_configuration,
    create_pod, pod, steps_of, trace_steps, wait_for_outcome, wait_for_webhooks,
};
use kubesim_tests::apiserver::{ApiServer, Output, curl_or_skip, kubectls};
use kubesim_tests::auth::{admin, create, post};
use kubesim_tests::{bounded, grpc};
use serde_json::{Value, json};

const PAUSE: &str = "registry.k8s.io/pause:3.10";
const TRANSPORTS: [Transport; 2] = [Transport::Https, Transport::Grpc];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A server, and the kubectls to run; `None` when kubectl or curl is missing (skipped).
async fn start(test: &str) -> anyhow::Result<Option<(ApiServer, Vec<PathBuf>)>> {
    let paths = kubectls(test)?;
    if paths.is_empty() || !curl_or_skip(test)? {
        return Ok(None);
    }
    Ok(Some((ApiServer::start().await?, paths)))
}

/// One kubectl binary against the server, working in `ns`.
struct Ctl<'a> {
    server: &'a ApiServer,
    path: PathBuf,
    ns: String,
}

impl<'a> Ctl<'a> {
    fn new(server: &'a ApiServer, path: &Path, ns: &str) -> Ctl<'a> {
        Ctl {
            server,
            path: path.to_path_buf(),
            ns: ns.to_string(),
        }
    }

    /// `<prefix>-<version>`: a namespace per kubectl binary (`run-1-29`).
    fn namespace_for(prefix: &str, path: &Path) -> String {
        let version = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("kubectl."))
            .unwrap_or("default");
        format!("{prefix}-{}", version.replace('.', "-"))
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        let ns = format!("--namespace={}", self.ns);
        let mut all = vec![ns.as_str()];
        all.extend_from_slice(args);
        self.server.kubectl(&self.path, &all).await
    }

    /// kubectl must exit 0 and print exactly `stdout` and `stderr`.
    async fn expect(&self, args: &[&str], stdout: &str, stderr: &str) -> anyhow::Result<()> {
        let out = self.run(args).await?;
        let got = (out.status.code(), out.stdout.as_str(), out.stderr.as_str());
        ensure!(
            got == (Some(0), stdout, stderr),
            "{} {} in {}:\n  got    {got:?}\n  wanted {:?}",
            self.name(),
            args.join(" "),
            self.ns,
            (Some(0), stdout, stderr)
        );
        Ok(())
    }

    /// kubectl must exit 1 and print exactly `stderr`, and nothing on stdout.
    async fn expect_error(&self, args: &[&str], stderr: &str) -> anyhow::Result<()> {
        let out = self.run(args).await?;
        let got = (out.status.code(), out.stdout.as_str(), out.stderr.as_str());
        ensure!(
            got == (Some(1), "", stderr),
            "{} {} in {}:\n  got    {got:?}\n  wanted {:?}",
            self.name(),
            args.join(" "),
            self.ns,
            (Some(1), "", stderr)
        );
        Ok(())
    }

    /// `kubectl get pod <name>` must say it is not there.
    async fn expect_no_pod(&self, name: &str) -> anyhow::Result<()> {
        let stderr = format!("Error from server (NotFound): pods \"{name}\" not found\n");
        self.expect_error(&["get", "pod", name], &stderr).await
    }

    /// The pod's labels as kubectl's jsonpath prints a map (JSON, keys sorted).
    async fn expect_labels(&self, name: &str, labels: &str) -> anyhow::Result<()> {
        let args = ["get", "pod", name, "-o", "jsonpath={.metadata.labels}"];
        self.expect(&args, labels, "").await
    }

    /// Writes `manifest` as `<ns>-<file>` in the server's directory; its path, as kubectl
    /// will quote it.
    fn manifest(&self, file: &str, manifest: &Value) -> anyhow::Result<String> {
        let path = self.server.file(&format!("{}-{file}", self.ns));
        std::fs::write(&path, manifest.to_string())?;
        Ok(path.display().to_string())
    }
}

/// Creates the namespace `name` with `labels` as the admin.
async fn namespace(server: &ApiServer, name: &str, labels: Value) -> anyhow::Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": name, "labels": labels}});
    create(server, "/api/v1/namespaces", &body).await?;
    Ok(())
}

/// The newest installed kubectl (the last of [`kubectls`]).
fn newest(paths: &[PathBuf]) -> anyhow::Result<&Path> {
    paths
        .last()
        .map(PathBuf::as_path)
        .context("no kubectl to run")
}

/// kubectl's line for an API error on `create -f <file>`: `Error from server (<reason>):
/// error when creating "<file>": <message>`, or without the parenthesis when the Status has
/// no reason.
fn create_error(reason: &str, file: &str, message: &str) -> String {
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    };
    format!("Error from server{reason}: error when creating \"{file}\": {message}\n")
}

fn privileged_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "web", "image": PAUSE,
                                 "securityContext": {"privileged": true}}]},
    })
}

// ---------------------------------------------------------------------------------------------
// The seed scenario and the sample webhooks' refusals
// ---------------------------------------------------------------------------------------------

/// label-injector as a mutating webhook over each transport: `kubectl run` makes a pod, and
/// `kubectl get` shows the labels the webhook added beside kubectl's own `run=web`.
#[tokio::test]
async fn label_injector_labels_a_pod_made_by_kubectl_run() -> anyhow::Result<()> {
    bounded(async {
        let test = "label_injector_labels_a_pod_made_by_kubectl_run";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let ca = ServingCa::new("webhook-ca")?;
        let injector = WebhookProcess::sample("label-injector", &[], &ca).await?;
        for transport in TRANSPORTS {
            let prefix = format!("seed-{}", transport.as_str());
            let namespaces: Vec<String> = paths
                .iter()
                .map(|path| Ctl::namespace_for(&prefix, path))
                .collect();
            for ns in &namespaces {
                namespace(&server, ns, json!({})).await?;
            }
            let names: Vec<&str> = namespaces.iter().map(String::as_str).collect();
            let webhook = format!("label-injector-{}.kubesim.io", transport.as_str());
            let hook = Hook::new(&webhook, &injector.url("/mutate"), &ca.ca_bundle())
                .in_namespaces(&names);
            let name = format!("label-injector-{}", transport.as_str());
            let config = configuration(Kind::Mutating, &name, transport, &[hook]);
            create_configuration(&server, &config).await?;
            wait_for_webhooks(&server, &namespaces[0], &[&webhook]).await?;
        }
        for transport in TRANSPORTS {
            for path in &paths {
                let ns = Ctl::namespace_for(&format!("seed-{}", transport.as_str()), path);
                let ctl = Ctl::new(&server, path, &ns);
                ctl.expect(
                    &["run", "web", &format!("--image={PAUSE}")],
                    "pod/web created\n",
                    "",
                )
                .await?;
                ctl.expect_labels(
                    "web",
                    r#"{"env":"production","managed-by":"kubesim","run":"web"}"#,
                )
                .await?;
                let env = "jsonpath={.metadata.labels.env} {.metadata.labels.managed-by}";
                ctl.expect(&["get", "pod", "web", "-o", env], "production kubesim", "")
                    .await?;
            }
        }
        Ok(())
    })
    .await
}

/// no-privileged as a validating webhook over each transport: kubectl prints the webhook's
/// denial exactly, nothing is stored, and a pod that is not privileged is created.
#[tokio::test]
async fn no_privileged_refuses_a_privileged_pod() -> anyhow::Result<()> {
    bounded(async {
        let test = "no_privileged_refuses_a_privileged_pod";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let ca = ServingCa::new("webhook-ca")?;
        let guard = WebhookProcess::sample("no-privileged", &[], &ca).await?;
        for transport in TRANSPORTS {
            let prefix = format!("priv-{}", transport.as_str());
            let namespaces: Vec<String> = paths
                .iter()
                .map(|path| Ctl::namespace_for(&prefix, path))
                .collect();
            for ns in &namespaces {
                namespace(&server, ns, json!({})).await?;
            }
            let names: Vec<&str> = namespaces.iter().map(String::as_str).collect();
            let webhook = format!("no-privileged-{}.kubesim.io", transport.as_str());
            let hook =
                Hook::new(&webhook, &guard.url("/validate"), &ca.ca_bundle()).in_namespaces(&names);
            let name = format!("no-privileged-{}", transport.as_str());
            let config = configuration(Kind::Validating, &name, transport, &[hook]);
            create_configuration(&server, &config).await?;
            wait_for_webhooks(&server, &namespaces[0], &[&webhook]).await?;
            for path in &paths {
                let ctl = Ctl::new(&server, path, &Ctl::namespace_for(&prefix, path));
                let file = ctl.manifest("privileged.json", &privileged_pod("web"))?;
                let message = format!(
                    "admission webhook \"{webhook}\" denied the request: container \"web\" is \
                     privileged; privileged containers are not allowed"
                );
                ctl.expect_error(
                    &["create", "-f", &file],
                    &create_error("Forbidden", &file, &message),
                )
                .await?;
                ctl.expect_no_pod("web").await?;
                let file = ctl.manifest("plain.json", &pod("plain", PAUSE, &[]))?;
                ctl.expect(&["create", "-f", &file], "pod/plain created\n", "")
                    .await?;
            }
        }
        Ok(())
    })
    .await
}

/// image-policy refuses an image from a registry not listed; env-guard refuses
/// `env=development` in namespace production and lets it be elsewhere.
#[tokio::test]
async fn image_policy_and_env_guard_refuse_pods() -> anyhow::Result<()> {
    bounded(async {
        let test = "image_policy_and_env_guard_refuse_pods";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let kubectl = newest(&paths)?;
        let ca = ServingCa::new("webhook-ca")?;
        let images = WebhookProcess::sample("image-policy", &[], &ca).await?;
        let env = WebhookProcess::sample("env-guard", &[], &ca).await?;
        for ns in ["production", "staging"] {
            namespace(&server, ns, json!({})).await?;
        }
        let image_hook = Hook::new("image-policy.kubesim.io", &images.url("/"), &ca.ca_bundle());
        let env_hook = Hook::new("env-guard.kubesim.io", &env.url("/"), &ca.ca_bundle());
        for (name, hook, transport) in [
            ("image-policy", image_hook, Transport::Https),
            ("env-guard", env_hook, Transport::Grpc),
        ] {
            let config = configuration(Kind::Validating, name, transport, &[hook]);
            create_configuration(&server, &config).await?;
        }
        wait_for_webhooks(
            &server,
            "production",
            &["image-policy.kubesim.io", "env-guard.kubesim.io"],
        )
        .await?;

        let staging = Ctl::new(&server, kubectl, "staging");
        let file = staging.manifest("quay.json", &pod("quay", "quay.io/team/app:1.0", &[]))?;
        let message = "admission webhook \"image-policy.kubesim.io\" denied the request: images \
                       from registries that are not allowed: \"quay.io/team/app:1.0\" (allowed \
                       registries: registry.k8s.io, docker.io)";
        staging
            .expect_error(
                &["create", "-f", &file],
                &create_error("Forbidden", &file, message),
            )
            .await?;
        staging.expect_no_pod("quay").await?;
        let file = staging.manifest("nginx.json", &pod("nginx", "nginx:1.27", &[]))?;
        staging
            .expect(&["create", "-f", &file], "pod/nginx created\n", "")
            .await?;

        let development = pod("dev", PAUSE, &[("env", "development")]);
        let production = Ctl::new(&server, kubectl, "production");
        let file = production.manifest("dev.json", &development)?;
        let message = "admission webhook \"env-guard.kubesim.io\" denied the request: pods \
                       labelled env=development are not allowed in namespace \"production\"";
        production
            .expect_error(
                &["create", "-f", &file],
                &create_error("Forbidden", &file, message),
            )
            .await?;
        production.expect_no_pod("dev").await?;
        let file = staging.manifest("dev.json", &development)?;
        staging
            .expect(&["create", "-f", &file], "pod/dev created\n", "")
            .await
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Order and reinvocation, from the trace
// ---------------------------------------------------------------------------------------------

/// Two mutating configurations, `zz-second` created before `aa-first`: kube calls mutating
/// webhooks sorted by configuration name, so `aa-first`'s webhook runs first.
#[tokio::test]
async fn mutating_webhooks_run_sorted_by_configuration_name() -> anyhow::Result<()> {
    bounded(async {
        let test = "mutating_webhooks_run_sorted_by_configuration_name";
        if !curl_or_skip(test)? {
            return Ok(());
        }
        let server = ApiServer::start().await?;
        let ca = ServingCa::new("webhook-ca")?;
        let first = WebhookProcess::sample("label-injector", &["--labels=first=yes"], &ca).await?;
        let second =
            WebhookProcess::sample("label-injector", &["--labels=second=yes"], &ca).await?;
        namespace(&server, "order", json!({})).await?;
        let names = ["first.order.kubesim.io", "second.order.kubesim.io"];
        // Created in the opposite order of their names, and over both transports.
        let configs = [
            ("zz-second", names[1], &second, Transport::Grpc),
            ("aa-first", names[0], &first, Transport::Https),
        ];
        for (config, webhook, process, transport) in configs {
            let hook = Hook::new(webhook, &process.url("/"), &ca.ca_bundle());
            let config = configuration(Kind::Mutating, config, transport, &[hook]);
            create_configuration(&server, &config).await?;
        }
        wait_for_webhooks(&server, "order", &names).await?;

        let reply = create_pod(&server, "order", &pod("web", PAUSE, &[]), false).await?;
        reply.expect_code(201, "create the pod")?;
        let labels = &reply.json()?["metadata"]["labels"];
        ensure!(
            *labels == json!({"first": "yes", "second": "yes"}),
            "labels {labels}"
        );
        let steps = trace_steps(&server, &reply).await?;
        let order = steps_of(&steps, &names);
        ensure!(
            order == [(names[0], "patched"), (names[1], "patched")],
            "mutating webhooks in the trace: {order:?}\nall steps: {steps:#?}"
        );
        Ok(())
    })
    .await
}

/// `reinvocationPolicy: IfNeeded`: a webhook that ran before a later webhook changed the
/// object is called once more (and finds nothing to add); a `Never` webhook that ran before a
/// change is not.
#[tokio::test]
async fn if_needed_webhooks_are_reinvoked_and_never_ones_are_not() -> anyhow::Result<()> {
    bounded(async {
        let test = "if_needed_webhooks_are_reinvoked_and_never_ones_are_not";
        if !curl_or_skip(test)? {
            return Ok(());
        }
        let server = ApiServer::start().await?;
        let ca = ServingCa::new("webhook-ca")?;
        namespace(&server, "reinvoke", json!({})).await?;
        // Sorted by configuration name: a (IfNeeded), b (Never), c (Never); b and c each add a
        // label after a ran, b before c changed the object again.
        let hooks = [
            ("a-if-needed", "a.reinvoke.kubesim.io", "a=1", "IfNeeded"),
            ("b-never", "b.reinvoke.kubesim.io", "b=1", "Never"),
            ("c-never", "c.reinvoke.kubesim.io", "c=1", "Never"),
        ];
        let mut processes = Vec::new();
        for (config, webhook, label, policy) in hooks {
            let labels = format!("--labels={label}");
            let process = WebhookProcess::sample("label-injector", &[&labels], &ca).await?;
            let hook =
                Hook::new(webhook, &process.url("/"), &ca.ca_bundle()).reinvocation_policy(policy);
            let config = configuration(Kind::Mutating, config, Transport::Https, &[hook]);
            create_configuration(&server, &config).await?;
            processes.push(process);
        }
        let names: Vec<&str> = hooks.iter().map(|hook| hook.1).collect();
        wait_for_webhooks(&server, "reinvoke", &names).await?;

        let reply = create_pod(&server, "reinvoke", &pod("web", PAUSE, &[]), false).await?;
        reply.expect_code(201, "create the pod")?;
        let labels = &reply.json()?["metadata"]["labels"];
        ensure!(
            *labels == json!({"a": "1", "b": "1", "c": "1"}),
            "labels {labels}"
        );
        let steps = trace_steps(&server, &reply).await?;
        let calls = steps_of(&steps, &names);
        let expected = [
            (names[0], "patched"),
            (names[1], "patched"),
            (names[2], "patched"),
            // The second pass: a alone, with nothing left to add.
            (names[0], "admitted"),
        ];
        ensure!(
            calls == expected,
            "webhook calls in the trace: {calls:?}\nall steps: {steps:#?}"
        );
        Ok(())
    })
    .await
}

/// kube's FieldManager records a write's managedFields before mutating admission, so what a
/// webhook adds belongs to no manager: after `kubectl label` (an UPDATE) that a webhook adds
/// `audited=yes` to, `kubectl-label` owns its own label and not the webhook's.
#[tokio::test]
async fn an_updates_managed_fields_leave_out_what_a_webhook_added() -> anyhow::Result<()> {
    bounded(async {
        let test = "an_updates_managed_fields_leave_out_what_a_webhook_added";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let ctl = Ctl::new(&server, newest(&paths)?, "owners");
        namespace(&server, "owners", json!({})).await?;
        ctl.expect(
            &["run", "web", &format!("--image={PAUSE}")],
            "pod/web created\n",
            "",
        )
        .await?;
        let ca = ServingCa::new("webhook-ca")?;
        let injector =
            WebhookProcess::sample("label-injector", &["--labels=audited=yes"], &ca).await?;
        let webhook = "audited.owners.kubesim.io";
        let hook = Hook::new(webhook, &injector.url("/"), &ca.ca_bundle())
            .operations(&["CREATE", "UPDATE"])
            .in_namespaces(&["owners"]);
        let config = configuration(Kind::Mutating, "audited", Transport::Https, &[hook]);
        create_configuration(&server, &config).await?;
        wait_for_webhooks(&server, "owners", &[webhook]).await?;

        ctl.expect(
            &["label", "pod", "web", "team=blue"],
            "pod/web labeled\n",
            "",
        )
        .await?;
        ctl.expect_labels("web", r#"{"audited":"yes","run":"web","team":"blue"}"#)
            .await?;
        let owned = r#"jsonpath={.metadata.managedFields[?(@.manager=="kubectl-label")].fieldsV1}"#;
        ctl.expect(
            &["get", "pod", "web", "--show-managed-fields", "-o", owned],
            r#"{"f:metadata":{"f:labels":{"f:team":{}}}}"#,
            "",
        )
        .await
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// PodSecurity
// ---------------------------------------------------------------------------------------------

/// A pod that runs as root (`runAsUser: 0`) and sets nothing else.
fn root_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
        "spec": {"securityContext": {"runAsUser": 0},
                 "containers": [{"name": "web", "image": PAUSE}]},
    })
}

/// What the restricted level finds wrong with [`root_pod`], as kube lists it.
const ROOT_POD_RESTRICTED: &str = "allowPrivilegeEscalation != false (container \"web\" must \
     set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \
     \"web\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or \
     container \"web\" must set securityContext.runAsNonRoot=true), runAsUser=0 (pod must not \
     set runAsUser=0), seccompProfile (pod or container \"web\" must set \
     securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")";

/// `pod-security.kubernetes.io/enforce=restricted` refuses a root pod with kube's message.
#[tokio::test]
async fn pod_security_enforce_refuses_a_root_pod() -> anyhow::Result<()> {
    bounded(async {
        let test = "pod_security_enforce_refuses_a_root_pod";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let labels = json!({"pod-security.kubernetes.io/enforce": "restricted"});
        namespace(&server, "enforced", labels).await?;
        let ctl = Ctl::new(&server, newest(&paths)?, "enforced");
        let file = ctl.manifest("root.json", &root_pod())?;
        let message = format!(
            "pods \"root\" is forbidden: violates PodSecurity \"restricted:latest\": \
             {ROOT_POD_RESTRICTED}"
        );
        ctl.expect_error(
            &["create", "-f", &file],
            &create_error("Forbidden", &file, &message),
        )
        .await?;
        ctl.expect_no_pod("root").await
    })
    .await
}

/// `pod-security.kubernetes.io/warn=restricted` admits a root pod, and kubectl prints kube's
/// warning, whole: kube cuts warnings to 256 characters only once a response's warnings pass
/// 4 KiB (`k8s.io/apiserver/pkg/endpoints/filters/warning.go`).
#[tokio::test]
async fn pod_security_warn_admits_a_root_pod_with_a_warning() -> anyhow::Result<()> {
    bounded(async {
        let test = "pod_security_warn_admits_a_root_pod_with_a_warning";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let labels = json!({"pod-security.kubernetes.io/warn": "restricted"});
        namespace(&server, "warned", labels).await?;
        let ctl = Ctl::new(&server, newest(&paths)?, "warned");
        let file = ctl.manifest("root.json", &root_pod())?;
        let warning = format!(
            "Warning: would violate PodSecurity \"restricted:latest\": {ROOT_POD_RESTRICTED}\n"
        );
        ctl.expect(&["create", "-f", &file], "pod/root created\n", &warning)
            .await
    })
    .await
}

/// `warn=restricted` with a pod that breaks one rule only (a warning short enough that no
/// truncation is involved): admitted, with kube's warning.
#[tokio::test]
async fn pod_security_warn_admits_a_pod_with_a_warning() -> anyhow::Result<()> {
    bounded(async {
        let test = "pod_security_warn_admits_a_pod_with_a_warning";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let labels = json!({"pod-security.kubernetes.io/warn": "restricted"});
        namespace(&server, "warned", labels).await?;
        let ctl = Ctl::new(&server, newest(&paths)?, "warned");
        let almost = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "almost"},
            "spec": {
                "securityContext": {"runAsNonRoot": true,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": "web", "image": PAUSE,
                                "securityContext": {"capabilities": {"drop": ["ALL"]}}}],
            },
        });
        let file = ctl.manifest("almost.json", &almost)?;
        let warning = "Warning: would violate PodSecurity \"restricted:latest\": \
                       allowPrivilegeEscalation != false (container \"web\" must set \
                       securityContext.allowPrivilegeEscalation=false)\n";
        ctl.expect(&["create", "-f", &file], "pod/almost created\n", warning)
            .await?;
        ctl.expect(
            &["get", "pod", "almost", "-o", "jsonpath={.metadata.name}"],
            "almost",
            "",
        )
        .await
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// A webhook written against kube's documented JSON
// ---------------------------------------------------------------------------------------------

/// `tests/python/admission_webhook.py` (python3's standard library, kube's AdmissionReview v1
/// JSON) as a mutating webhook (a base64 JSONPatch adding `team=python`, and a warning) and a
/// validating one (denying `tier=forbidden` with a status that has a code and no reason).
#[tokio::test]
async fn a_python_webhook_mutates_and_denies() -> anyhow::Result<()> {
    bounded(async {
        let test = "a_python_webhook_mutates_and_denies";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let ca = ServingCa::new("python-webhook-ca")?;
        let args = ["--add-label=team=python", "--deny-label=tier=forbidden"];
        let Some(python) = WebhookProcess::python(&args, &ca, test).await? else {
            return Ok(());
        };
        let namespaces: Vec<String> = paths
            .iter()
            .map(|path| Ctl::namespace_for("python", path))
            .collect();
        for ns in &namespaces {
            namespace(&server, ns, json!({})).await?;
        }
        let (mutate, validate) = ("mutate.python.kubesim.io", "validate.python.kubesim.io");
        let configs = [
            (Kind::Mutating, mutate, "/mutate"),
            (Kind::Validating, validate, "/validate"),
        ];
        for (kind, webhook, path) in configs {
            let hook = Hook::new(webhook, &python.url(path), &ca.ca_bundle());
            let config = configuration(kind, "python", Transport::Https, &[hook]);
            create_configuration(&server, &config).await?;
        }
        wait_for_webhooks(&server, &namespaces[0], &[mutate, validate]).await?;

        let added = "Warning: the python webhook added the label team=python\n";
        for path in &paths {
            let ctl = Ctl::new(&server, path, &Ctl::namespace_for("python", path));
            // Labels present: one `add /metadata/labels/team`.
            let file = ctl.manifest("web.json", &pod("web", PAUSE, &[("app", "web")]))?;
            ctl.expect(&["create", "-f", &file], "pod/web created\n", added)
                .await?;
            ctl.expect_labels("web", r#"{"app":"web","team":"python"}"#)
                .await?;
            // No labels at all: one `add /metadata/labels` with the whole map.
            let bare = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
                              "spec": {"containers": [{"name": "web", "image": PAUSE}]}});
            let file = ctl.manifest("bare.json", &bare)?;
            ctl.expect(&["create", "-f", &file], "pod/bare created\n", added)
                .await?;
            ctl.expect_labels("bare", r#"{"team":"python"}"#).await?;
            // Denied: the Status has no reason, so kubectl prints none.
            let denied = pod("denied", PAUSE, &[("tier", "forbidden")]);
            let file = ctl.manifest("denied.json", &denied)?;
            let message = format!(
                "admission webhook \"{validate}\" denied the request: objects labelled \
                 tier=forbidden are refused by the python webhook"
            );
            ctl.expect_error(&["create", "-f", &file], &create_error("", &file, &message))
                .await?;
            ctl.expect_no_pod("denied").await?;
        }
        // The same denial through the API: 403, the webhook's message, no reason.
        let reply = create_pod(
            &server,
            &namespaces[0],
            &pod("api", PAUSE, &[("tier", "forbidden")]),
            false,
        )
        .await?;
        reply.expect_code(403, "the denied create")?;
        let status = reply.json()?;
        let message = format!(
            "admission webhook \"{validate}\" denied the request: objects labelled \
             tier=forbidden are refused by the python webhook"
        );
        ensure!(
            status["kind"] == "Status"
                && status["status"] == "Failure"
                && status["code"] == 403
                && status["message"] == message.as_str()
                && status["reason"].as_str().unwrap_or("").is_empty(),
            "the denial's Status: {status}"
        );
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Dry run
// ---------------------------------------------------------------------------------------------

/// `kubectl create --dry-run=server`: a webhook with `sideEffects: None` is called (its label
/// shows in the answer) and nothing is stored; one with `sideEffects: Some` refuses the dry run
/// (400).
///
/// The v1 API refuses `Some` (422, as kube does): such a configuration survives only from the
/// v1beta1 days, stored as it was. The test makes one the same way: created with `None`, then
/// rewritten to `Some` in the store directly, where the API server's watch picks it up.
#[tokio::test]
async fn dry_run_needs_webhooks_without_side_effects() -> anyhow::Result<()> {
    bounded(async {
        let test = "dry_run_needs_webhooks_without_side_effects";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let kubectl = newest(&paths)?;
        let ca = ServingCa::new("webhook-ca")?;
        let injector = WebhookProcess::sample("label-injector", &[], &ca).await?;
        let cases = [
            ("dry-some", "some.dryrun.kubesim.io"),
            ("dry-none", "none.dryrun.kubesim.io"),
        ];
        for (ns, webhook) in cases {
            namespace(&server, ns, json!({})).await?;
            let hook = Hook::new(webhook, &injector.url("/"), &ca.ca_bundle()).in_namespaces(&[ns]);
            let config = configuration(Kind::Mutating, ns, Transport::Https, &[hook]);
            create_configuration(&server, &config).await?;
            wait_for_webhooks(&server, ns, &[webhook]).await?;
        }
        refuses_side_effects_some(&server, &ca, &injector).await?;
        set_stored_side_effects(&server, "mutatingwebhookconfigurations/dry-some", "Some").await?;
        wait_for_outcome(&server, "dry-some", cases[0].1, "refused").await?;

        let some = Ctl::new(&server, kubectl, "dry-some");
        let file = some.manifest("web.json", &pod("web", PAUSE, &[]))?;
        let message = "admission webhook \"some.dryrun.kubesim.io\" does not support dry run";
        some.expect_error(
            &["create", "-f", &file, "--dry-run=server"],
            &create_error("BadRequest", &file, message),
        )
        .await?;
        some.expect_no_pod("web").await?;

        let none = Ctl::new(&server, kubectl, "dry-none");
        let file = none.manifest("web.json", &pod("web", PAUSE, &[]))?;
        none.expect(
            &["create", "-f", &file, "--dry-run=server"],
            "pod/web created (server dry run)\n",
            "",
        )
        .await?;
        let labels = "jsonpath={.metadata.labels}";
        none.expect(
            &["create", "-f", &file, "--dry-run=server", "-o", labels],
            r#"{"env":"production","managed-by":"kubesim"}"#,
            "",
        )
        .await?;
        none.expect_no_pod("web").await
    })
    .await
}

/// The v1 API refuses `sideEffects: Some` with kube's 422.
async fn refuses_side_effects_some(
    server: &ApiServer,
    ca: &ServingCa,
    injector: &WebhookProcess,
) -> anyhow::Result<()> {
    let hook =
        Hook::new("some.kubesim.io", &injector.url("/"), &ca.ca_bundle()).side_effects("Some");
    let config = configuration(
        Kind::Mutating,
        "side-effects-some",
        Transport::Https,
        &[hook],
    );
    let reply = post(server, &admin(server), Kind::Mutating.path(), &config).await?;
    reply.expect_status(
        422,
        "Invalid",
        "MutatingWebhookConfiguration.admissionregistration.k8s.io \"side-effects-some\" is \
         invalid: webhooks[0].sideEffects: Unsupported value: \"Some\": supported values: \
         \"None\", \"NoneOnDryRun\"",
        "create a configuration with sideEffects Some",
    )
}

/// Rewrites `webhooks[0].sideEffects` of the stored object whose key ends with `suffix`, in
/// the store itself (no API, no validation).
async fn set_stored_side_effects(
    server: &ApiServer,
    suffix: &str,
    value: &str,
) -> anyhow::Result<()> {
    let store = server.store.as_ref().context("the server has no store")?;
    let endpoint = store
        .endpoints()
        .first()
        .cloned()
        .context("the store has no member")?;
    let stored = grpc::get_prefix(&endpoint, "/registry/").await?;
    let kv = stored
        .kvs
        .iter()
        .find(|kv| kv.key.ends_with(format!("/{suffix}").as_bytes()))
        .with_context(|| format!("no key ending with /{suffix} in the store"))?;
    let key = String::from_utf8(kv.key.clone())?;
    let mut object: Value = serde_json::from_slice(&kv.value)
        .with_context(|| format!("{key} is not stored as JSON"))?;
    object["webhooks"][0]["sideEffects"] = json!(value);
    grpc::put(&endpoint, &key, &object.to_string()).await?;
    Ok(())
}
