//! OpenTelemetry export (the `otel` feature, off by default): with `--tracing-otlp-endpoint`
//! on `kubesim apiserver` or `kubesim up`, the API server's request spans (the target
//! `kubesim_apiserver::trace` at DEBUG: the request, each stage, admission's phases,
//! plugins and webhook calls, the store calls) go to an OTLP/gRPC collector in batches,
//! beside the usual log on stderr. tracing-opentelemetry turns each `tracing` span into an
//! OpenTelemetry span (a `plugin` span is named after its plugin through `otel.name`).
//!
//! The OpenTelemetry layer has a filter of its own, so `RUST_LOG` still decides only what
//! is printed. The batch exporter runs on a thread of its own and drops spans when its
//! queue is full: a slow collector costs spans, never requests.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::Command;

/// The service name the spans carry (`service.name`).
const SERVICE_NAME: &str = "kubesim";

/// Exports until dropped; dropping it flushes the spans not yet sent.
pub struct Exporter(opentelemetry_sdk::trace::SdkTracerProvider);

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(error) = self.0.shutdown() {
            eprintln!("kubesim: OpenTelemetry export did not shut down cleanly: {error}");
        }
    }
}

/// Starts the log, with the OpenTelemetry layer when the command was given an endpoint.
pub fn init_logging(command: &Command) -> anyhow::Result<Option<Exporter>> {
    let endpoint = match command {
        Command::Apiserver(args) => args.tracing.otlp_endpoint(),
        Command::Up(args) => args.tracing.otlp_endpoint(),
        _ => Ok(None),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(endpoint) = endpoint else {
        crate::init_logging();
        return Ok(None);
    };
    let provider = provider(endpoint)?;
    let tracer = provider.tracer(SERVICE_NAME);
    let spans = tracing_subscriber::filter::Targets::new()
        .with_target(kubesim_apiserver::trace::TARGET, tracing::Level::DEBUG);
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(spans);
    tracing_subscriber::registry()
        .with(log_layer())
        .with(otel)
        .init();
    tracing::info!(%endpoint, "exporting request spans over OTLP/gRPC");
    Ok(Some(Exporter(provider)))
}

/// The usual log ([`crate::init_logging`]) as one layer among others.
fn log_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use std::io::IsTerminal;
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(crate::log_filter())
}

/// The tracer provider: an OTLP/gRPC span exporter to `endpoint` behind a batch processor.
fn provider(endpoint: &str) -> anyhow::Result<opentelemetry_sdk::trace::SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| anyhow::anyhow!("--tracing-otlp-endpoint {endpoint}: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(SERVICE_NAME)
        .build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
