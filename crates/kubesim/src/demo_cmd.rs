//! `kubesim demo`: a guided walk through a request's way through the API server, against a
//! running kubesim (`kubesim up`, or any API server with `kubesim up`'s kubeconfig), with real
//! requests over HTTPS. Each step prints what it is about to do, each request and its answer
//! with where the server spent its time (the `Server-Timing` stages kubesim answers when
//! asked with `X-Kubesim-Trace: 1`), the server's own account of why (its decision trace,
//! `/debug/kubesim/trace/<Audit-Id>`), and ends with a stable `[ok] step N: ...` line (or
//! `[FAIL] step N ...`, and the demo exits 1).
//!
//! Map:
//! - this file: the flags, the setup (kubeconfig, identities, namespace, webhooks) and the
//!   cleanup that runs whether the steps passed or not;
//! - `demo_cmd/steps.rs`: the steps, in order: ServiceAccount token authentication, the seed
//!   scenario's RBAC decisions, 401 vs 403, a watch, the label-injector mutation, the watch
//!   event, the stored object, the no-privileged refusal, a 409 on a stale update;
//! - `demo_cmd/client.rs`: one request (or watch) over HTTPS, bounded;
//! - `demo_cmd/kubeconfig.rs`: the kubeconfig and its contexts (the workspace's reader);
//! - `demo_cmd/webhooks.rs`: the two sample webhooks, run in this process, and their
//!   configurations;
//! - `demo_cmd/render.rs`: the output lines, as plain functions.

mod client;
mod kubeconfig;
mod render;
mod steps;
mod webhooks;

use std::path::PathBuf;
use std::time::Duration;

use hyper::Method;
use kubesim_net::Entropy as _;
use serde_json::{Value, json};

use crate::up::{examples, identities};
use client::Identity;

/// How long the namespace and the webhook configurations take to reach the API server's
/// admission (it picks configurations up from a watch): polled at [`PICKUP_POLL`].
const PICKUP_TIMEOUT: Duration = Duration::from_secs(20);
const PICKUP_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The kubeconfig with `kubesim up`'s contexts [default: $KUBECONFIG, else
    /// ./kubesim-data/kubeconfig].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The admin's context (a member of system:masters) [default: the current context].
    #[arg(long)]
    pub context: Option<String>,
    /// The namespace to work in; made if missing [default: a new demo-<n>, deleted at the
    /// end].
    #[arg(long)]
    pub namespace: Option<String>,
}

/// The identities and namespace every step uses.
pub struct Demo {
    /// The admin context: sets up, cleans up, reads the traces.
    admin: Identity,
    /// `kubesim up`'s example user (a client certificate) and ServiceAccount (a token).
    jane: Identity,
    deploy_bot: Identity,
    /// The admin's server and CA, for identities made during the demo (tokens).
    admin_config: kubesim_audit::kubeconfig::RestConfig,
    namespace: String,
    /// The label-injector and no-privileged webhooks the steps meet.
    hooks: webhooks::Names,
}

/// Runs the demo; an error after the output's `[FAIL]` line makes the exit code 1.
pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let mut demo = setup(args).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created_namespace = match ensure_namespace(&demo, args.namespace.is_none()).await {
        Ok(created) => created,
        Err(e) => {
            println!("[FAIL] setup: {e}");
            anyhow::bail!("the demo could not start");
        }
    };
    let outcome = match prepare_webhooks(&mut demo).await {
        Ok(own) => {
            let outcome = steps::run_all(&demo).await;
            if let Some(webhooks) = own {
                remove_webhooks(&demo, webhooks).await;
            }
            outcome
        }
        Err(e) => {
            println!("[FAIL] setup: {e}");
            Err(0)
        }
    };
    if created_namespace {
        delete_namespace(&demo).await;
    }
    match outcome {
        Ok(steps) => {
            println!("\n[ok] demo finished: {steps} steps passed");
            Ok(())
        }
        Err(step) => anyhow::bail!("the demo failed at step {step}"),
    }
}

/// Reads the kubeconfig and builds the three identities.
fn setup(args: &DemoArgs) -> Result<Demo, String> {
    let path = args
        .kubeconfig
        .clone()
        .unwrap_or_else(|| kubeconfig::default_path(std::env::var("KUBECONFIG").ok().as_deref()));
    let config = kubeconfig::Kubeconfig::load(&path)?;
    let admin_context = match (&args.context, config.current_context()) {
        (Some(context), _) => context.clone(),
        (None, Some(current)) => current.to_string(),
        (None, None) => {
            return Err(format!(
                "{}: no current-context; name the admin's with --context",
                config.path().display()
            ));
        }
    };
    let admin_config = config.rest_config(&admin_context)?;
    let seed = |user: &str| {
        let context = identities::context_name(user);
        let rest = config
            .rest_config(&context)
            .map_err(|e| format!("{e}; the demo needs `kubesim up`'s example contexts"))?;
        Identity::new(&format!("{user} (context {context})"), &rest)
    };
    let namespace = args.namespace.clone().unwrap_or_else(|| {
        format!(
            "demo-{}",
            kubesim_net::SeededEntropy::from_os().next_u64() % 100_000
        )
    });
    println!(
        "kubesim demo: {} (context {admin_context})",
        admin_config.server.url
    );
    println!("kubeconfig: {}", config.path().display());
    Ok(Demo {
        admin: Identity::new(
            &format!("the admin (context {admin_context})"),
            &admin_config,
        )?,
        jane: seed(identities::EXAMPLE_USER)?,
        deploy_bot: seed(examples::SA_NAME)?,
        admin_config,
        namespace,
        hooks: webhooks::Names::demo(),
    })
}

/// Creates the namespace (`fresh`: it must not exist yet). True when the demo made it.
async fn ensure_namespace(demo: &Demo, fresh: bool) -> Result<bool, String> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": demo.namespace}});
    let reply = client::send(&demo.admin, Method::POST, "/api/v1/namespaces", Some(&body)).await?;
    match reply.code {
        201 => {
            println!(
                "namespace: {} (made for this run, deleted at the end)",
                demo.namespace
            );
            Ok(true)
        }
        409 if !fresh => {
            println!("namespace: {} (exists; kept)", demo.namespace);
            Ok(false)
        }
        code => Err(format!(
            "creating namespace {}: {code} {}",
            demo.namespace,
            render::status(&reply.json()).1
        )),
    }
}

/// Uses the cluster's label-injector and no-privileged when it has both (docker-compose's,
/// registered by `kubesim seed`), else starts the demo's own; either way waits until the API
/// server calls both on a pod create in the namespace. `Some` when the demo runs its own.
async fn prepare_webhooks(demo: &mut Demo) -> Result<Option<webhooks::DemoWebhooks>, String> {
    if let Some(names) = cluster_webhooks(demo).await? {
        println!(
            "webhooks: the cluster's own {} (mutating) and {} (validating)",
            names.label_injector, names.no_privileged
        );
        demo.hooks = names;
        wait_for_pickup(demo).await?;
        return Ok(None);
    }
    start_webhooks(demo).await.map(Some)
}

/// The cluster's label-injector and no-privileged, when it has both.
async fn cluster_webhooks(demo: &Demo) -> Result<Option<webhooks::Names>, String> {
    let mut found = Vec::new();
    for (collection, sample) in [
        (webhooks::MUTATING, "label-injector"),
        (webhooks::VALIDATING, "no-privileged"),
    ] {
        let reply = client::send(&demo.admin, Method::GET, collection, None).await?;
        if reply.code != 200 {
            return Err(format!("GET {collection}: {}", reply.code));
        }
        found.push(webhooks::cluster_webhook(&reply.json(), sample));
    }
    Ok(match found.as_slice() {
        [Some(label_injector), Some(no_privileged)] => Some(webhooks::Names {
            label_injector: label_injector.clone(),
            no_privileged: no_privileged.clone(),
        }),
        _ => None,
    })
}

/// Starts the two webhooks, creates their configurations, and waits until the API server
/// calls both on a pod create in the namespace (a dry run, so nothing is stored).
async fn start_webhooks(demo: &Demo) -> Result<webhooks::DemoWebhooks, String> {
    let webhooks = webhooks::start(&demo.namespace).await?;
    println!(
        "webhooks: {} (mutating) and {} (validating) run in this process; their \
         configurations send the namespace's pod creates to them",
        demo.hooks.label_injector, demo.hooks.no_privileged
    );
    let ready = match create_configurations(demo, &webhooks).await {
        Ok(()) => wait_for_pickup(demo).await,
        Err(e) => Err(e),
    };
    match ready {
        Ok(()) => Ok(webhooks),
        Err(e) => {
            remove_webhooks(demo, webhooks).await;
            Err(e)
        }
    }
}

async fn create_configurations(
    demo: &Demo,
    webhooks: &webhooks::DemoWebhooks,
) -> Result<(), String> {
    for configuration in &webhooks.configurations {
        let body = Some(&configuration.body);
        let reply =
            client::send(&demo.admin, Method::POST, &configuration.collection, body).await?;
        if reply.code != 201 {
            let message = render::status(&reply.json()).1;
            return Err(format!(
                "creating {}: {} {message}",
                configuration.name, reply.code
            ));
        }
    }
    Ok(())
}

/// Dry-run pod creates until the trace shows both webhooks were called.
async fn wait_for_pickup(demo: &Demo) -> Result<(), String> {
    let path = format!("/api/v1/namespaces/{}/pods?dryRun=All", demo.namespace);
    let probe = steps::pod("pickup-probe", false);
    let mut last = String::from("no answer yet");
    let poll = async {
        loop {
            match probe_once(demo, &path, &probe).await {
                Ok(()) => return,
                Err(e) => last = e,
            }
            tokio::time::sleep(PICKUP_POLL).await;
        }
    };
    let waited = tokio::time::timeout(PICKUP_TIMEOUT, poll).await;
    waited.map_err(|_| {
        format!("the API server did not call the webhooks within {PICKUP_TIMEOUT:?}; last: {last}")
    })
}

async fn probe_once(demo: &Demo, path: &str, probe: &Value) -> Result<(), String> {
    let reply = client::send(&demo.admin, Method::POST, path, Some(probe)).await?;
    let trace = steps::trace(demo, &reply).await?;
    let called: Vec<&str> = trace["admission"]
        .as_array()
        .map(|steps| steps.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    if [&demo.hooks.label_injector, &demo.hooks.no_privileged]
        .iter()
        .all(|name| called.contains(&name.as_str()))
    {
        return Ok(());
    }
    Err(format!("{} and admission steps {called:?}", reply.code))
}

/// Deletes the configurations (before anything else, so a stopped webhook refuses nothing)
/// and stops the servers.
async fn remove_webhooks(demo: &Demo, webhooks: webhooks::DemoWebhooks) {
    for configuration in &webhooks.configurations {
        let path = configuration.path();
        match client::send(&demo.admin, Method::DELETE, &path, None).await {
            Ok(reply) if matches!(reply.code, 200 | 202 | 404) => {}
            Ok(reply) => println!("[warn] cleanup: DELETE {path}: {}", reply.code),
            Err(e) => println!("[warn] cleanup: {e}"),
        }
    }
    webhooks.stop().await;
    println!("\ncleanup: deleted the demo's webhook configurations");
}

async fn delete_namespace(demo: &Demo) {
    let path = format!("/api/v1/namespaces/{}", demo.namespace);
    match client::send(&demo.admin, Method::DELETE, &path, None).await {
        Ok(reply) if matches!(reply.code, 200 | 202) => {
            println!("cleanup: deleted namespace {}", demo.namespace);
        }
        Ok(reply) => println!("[warn] cleanup: DELETE {path}: {}", reply.code),
        Err(e) => println!("[warn] cleanup: {e}"),
    }
}
