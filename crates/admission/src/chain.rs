//! The admission chain: the enabled plugins in kube's order (`plugins::ALL_ORDERED`), the
//! webhook plugins in their places among them, run in two phases:
//!
//! - [`Admission::admit`], the mutating phase, before the object is validated: each plugin
//!   with a mutating phase in order, MutatingAdmissionWebhook among them. When a webhook
//!   changed the object and a webhook with `reinvocationPolicy: IfNeeded` had seen it before
//!   (or a plugin changed it after the last webhook), the whole phase runs once more, as
//!   kube's reinvoker does: the built-ins again (they are idempotent), and of the webhooks only
//!   the IfNeeded ones that need it.
//! - [`Admission::validate`], the validating phase, after the object's own validation: each
//!   plugin with a validating phase in order, ValidatingAdmissionWebhook among them.
//!
//! Each step (which plugin or webhook, what it did, how long it took) goes to the request's
//! [`Record`], and each phase, plugin and webhook call is a DEBUG span on
//! [`crate::TRACE_TARGET`]: `admission` (with its `phase`), a `plugin` in it per plugin run,
//! and the webhook calls in their plugin's (`webhook::dispatch`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kubesim_api::Status;
use kubesim_net::Network;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::plugins::{self, MUTATING_WEBHOOK, VALIDATING_WEBHOOK};
use crate::webhook::WebhookKind;
use crate::webhook::client::WebhookClient;
use crate::webhook::dispatch::{Reinvocation, WebhookDispatcher};
use crate::{Attributes, ClusterState, Plugin, Record, Step};

/// One place in the chain.
enum Slot {
    Plugin(Arc<dyn Plugin>),
    Webhooks(Arc<WebhookDispatcher>),
}

impl Slot {
    fn name(&self) -> &'static str {
        match self {
            Slot::Plugin(plugin) => plugin.name(),
            Slot::Webhooks(dispatcher) => match dispatcher.kind() {
                WebhookKind::Mutating => MUTATING_WEBHOOK,
                WebhookKind::Validating => VALIDATING_WEBHOOK,
            },
        }
    }
}

/// The flags that choose and configure the plugins (kube-apiserver's names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionOptions {
    /// `--enable-admission-plugins`: on top of the defaults.
    pub enable: Vec<String>,
    /// `--disable-admission-plugins`.
    pub disable: Vec<String>,
    /// `--admission-control-config-file`.
    pub config_file: Option<std::path::PathBuf>,
    /// A known bug to plant (the simulation only; no flag sets it): `crate::planted`.
    pub planted_bug: crate::planted::PlantedBug,
}

/// The admission chain of one API server.
pub struct Admission {
    slots: Vec<Slot>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("plugins", &self.plugin_names())
            .finish()
    }
}

impl Admission {
    /// The chain the flags ask for. Returns it with the warnings about plugins kubesim does
    /// not implement; an unknown plugin or a bad configuration file is an error.
    pub fn build(
        options: &AdmissionOptions,
        state: Arc<dyn ClusterState>,
        net: Arc<dyn Network>,
    ) -> Result<(Admission, Vec<String>), String> {
        let (names, warnings) = plugins::enabled(&options.enable, &options.disable)?;
        let configurations = match &options.config_file {
            Some(path) => plugins::read_configuration(Path::new(path))?,
            None => BTreeMap::new(),
        };
        let client = Arc::new(WebhookClient::new(net, state.clone()));
        let mut slots = Vec::with_capacity(names.len());
        for name in names {
            let slot = match name {
                MUTATING_WEBHOOK => Slot::Webhooks(Arc::new(
                    WebhookDispatcher::new(WebhookKind::Mutating, client.clone(), state.clone())
                        .with_planted_bug(options.planted_bug),
                )),
                VALIDATING_WEBHOOK => Slot::Webhooks(Arc::new(
                    WebhookDispatcher::new(WebhookKind::Validating, client.clone(), state.clone())
                        .with_planted_bug(options.planted_bug),
                )),
                _ => Slot::Plugin(plugins::build(name, &state, &configurations)?),
            };
            slots.push(slot);
        }
        Ok((Admission { slots }, warnings))
    }

    /// A chain of the given plugins only, in the given order (tests).
    pub fn from_plugins(plugins: Vec<Arc<dyn Plugin>>) -> Admission {
        Admission {
            slots: plugins.into_iter().map(Slot::Plugin).collect(),
        }
    }

    /// The plugins that run, in order.
    pub fn plugin_names(&self) -> Vec<&'static str> {
        self.slots.iter().map(Slot::name).collect()
    }

    /// The mutating phase on `object` (`None` on DELETE), reinvoked once when needed.
    pub async fn admit(
        &self,
        attrs: &Attributes,
        mut object: Option<&mut Value>,
        record: &Record,
    ) -> Result<(), Status> {
        let phase = async {
            let mut reinvocation = Reinvocation::default();
            self.mutating_pass(attrs, object.as_deref_mut(), record, &mut reinvocation)
                .await?;
            if reinvocation.should_reinvoke {
                reinvocation.is_reinvoke = true;
                reinvocation.should_reinvoke = false;
                self.mutating_pass(attrs, object, record, &mut reinvocation)
                    .await?;
            }
            Ok(())
        };
        phase.instrument(phase_span("mutating")).await
    }

    async fn mutating_pass(
        &self,
        attrs: &Attributes,
        mut object: Option<&mut Value>,
        record: &Record,
        reinvocation: &mut Reinvocation,
    ) -> Result<(), Status> {
        for slot in &self.slots {
            match slot {
                Slot::Plugin(plugin) if plugin.mutates() && plugin.handles(attrs) => {
                    let started = Instant::now();
                    let result = plugin
                        .admit(attrs, object.as_deref_mut(), record)
                        .instrument(plugin_span(plugin.name(), "mutating"))
                        .await;
                    record.step(plugin_step(plugin.name(), "mutating", &result, started));
                    result?;
                }
                Slot::Webhooks(dispatcher) if dispatcher.kind() == WebhookKind::Mutating => {
                    dispatcher
                        .mutate(attrs, object.as_deref_mut(), record, reinvocation)
                        .instrument(plugin_span(MUTATING_WEBHOOK, "mutating"))
                        .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The validating phase on `object` (`None` on DELETE).
    pub async fn validate(
        &self,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<(), Status> {
        let phase = async {
            for slot in &self.slots {
                match slot {
                    Slot::Plugin(plugin) if plugin.validates() && plugin.handles(attrs) => {
                        let started = Instant::now();
                        let result = plugin
                            .validate(attrs, object, record)
                            .instrument(plugin_span(plugin.name(), "validating"))
                            .await;
                        record.step(plugin_step(plugin.name(), "validating", &result, started));
                        result?;
                    }
                    Slot::Webhooks(dispatcher) if dispatcher.kind() == WebhookKind::Validating => {
                        dispatcher
                            .validate(attrs, object, record)
                            .instrument(plugin_span(VALIDATING_WEBHOOK, "validating"))
                            .await?;
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        phase.instrument(phase_span("validating")).await
    }
}

/// The span of one phase of admission (`mutating`, reinvocation included, or `validating`).
fn phase_span(phase: &'static str) -> tracing::Span {
    tracing::debug_span!(target: crate::TRACE_TARGET, "admission", phase)
}

/// The span of one plugin in a phase; OpenTelemetry names it after the plugin (`otel.name`).
fn plugin_span(name: &'static str, phase: &'static str) -> tracing::Span {
    tracing::debug_span!(
        target: crate::TRACE_TARGET,
        "plugin",
        plugin = name,
        phase,
        otel.name = name,
    )
}

fn plugin_step(
    name: &str,
    phase: &'static str,
    result: &Result<(), Status>,
    started: Instant,
) -> Step {
    Step {
        name: name.to_string(),
        phase,
        outcome: match result {
            Ok(()) => "admitted".to_string(),
            Err(status) => format!("denied: {}", status.message),
        },
        duration: started.elapsed(),
    }
}
