//! The tracing flags of `kubesim apiserver` (and `kubesim up`), checked into the server's
//! `trace_slow_threshold` (docs/tracing.md):
//!
//! - `--trace-slow-threshold DURATION`: a request slower than this logs kube's "Trace[...]"
//!   line with each stage's duration and its `Audit-Id` (kube-apiserver has no flag for it:
//!   its `utiltrace` threshold for writes is a constant 500ms, the default here);
//! - `--tracing-otlp-endpoint URL`, only in a build with the `otel` feature: the request
//!   spans exported over OTLP/gRPC (`crate::otel`). kube-apiserver takes its endpoint from
//!   `--tracing-config-file`; one flag is all kubesim needs.
//!
//! Durations are Go's `DurationVar` syntax (`500ms`, `1s`, `0`).

use std::time::Duration;

use kubesim_apiserver::ApiServerConfig;
use kubesim_apiserver::trace::DEFAULT_SLOW_THRESHOLD;

use super::auth_flags::parse_duration_or_zero;
use crate::flags::FlagError;

/// The tracing flags. `Option`s, so that `Default` is "no flag given".
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TraceArgs {
    /// A request slower than this logs one line with each stage's duration and its Audit-Id
    /// (target kubesim_apiserver::trace at INFO, which the default RUST_LOG leaves off); 0
    /// logs every request [default: 500ms].
    #[arg(long, value_name = "DURATION")]
    pub trace_slow_threshold: Option<String>,
    /// Export each request's spans (the request, each stage, admission's plugins and
    /// webhook calls, the store calls) over OTLP/gRPC to this collector, e.g.
    /// http://127.0.0.1:4317.
    #[cfg(feature = "otel")]
    #[arg(long, value_name = "URL")]
    pub tracing_otlp_endpoint: Option<String>,
}

/// What the flags set in the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOptions {
    pub slow_threshold: Duration,
}

impl TraceOptions {
    pub fn apply_to(self, config: &mut ApiServerConfig) {
        config.trace_slow_threshold = self.slow_threshold;
    }
}

impl TraceArgs {
    /// Parses every flag.
    pub fn to_options(&self) -> Result<TraceOptions, FlagError> {
        let slow_threshold = match &self.trace_slow_threshold {
            Some(text) => parse_duration_or_zero("trace-slow-threshold", text)?,
            None => DEFAULT_SLOW_THRESHOLD,
        };
        #[cfg(feature = "otel")]
        self.otlp_endpoint()?;
        Ok(TraceOptions { slow_threshold })
    }

    /// `--tracing-otlp-endpoint`, checked: an `http://` URL (the exporter is built without
    /// TLS), or `None` when not given.
    #[cfg(feature = "otel")]
    pub fn otlp_endpoint(&self) -> Result<Option<&str>, FlagError> {
        let Some(endpoint) = self.tracing_otlp_endpoint.as_deref() else {
            return Ok(None);
        };
        let host = endpoint.strip_prefix("http://").unwrap_or("");
        if host.is_empty() {
            return Err(FlagError::new(
                "tracing-otlp-endpoint",
                format!("{endpoint:?} must be an http:// URL such as http://127.0.0.1:4317"),
            ));
        }
        Ok(Some(endpoint))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: TraceArgs,
    }

    fn opts(args: &[&str]) -> Result<TraceOptions, FlagError> {
        let argv = std::iter::once("apiserver").chain(args.iter().copied());
        Cmd::try_parse_from(argv).unwrap().args.to_options()
    }

    #[test]
    fn the_slow_threshold_defaults_to_kubes_500ms() {
        assert_eq!(
            opts(&[]).unwrap().slow_threshold,
            Duration::from_millis(500)
        );
    }

    #[test]
    fn the_slow_threshold_is_a_go_duration_and_0_logs_every_request() {
        let parsed = opts(&["--trace-slow-threshold=1m30s"]).unwrap();
        assert_eq!(parsed.slow_threshold, Duration::from_secs(90));
        let zero = opts(&["--trace-slow-threshold", "0"]).unwrap();
        assert_eq!(zero.slow_threshold, Duration::ZERO);
        let bad = opts(&["--trace-slow-threshold=soon"]).unwrap_err();
        assert_eq!(bad.flag, "trace-slow-threshold");
        assert_eq!(
            bad.reason,
            "\"soon\" must be a duration such as 1m0s, 30s or 500ms"
        );
    }

    #[test]
    fn the_threshold_reaches_the_servers_configuration() {
        let mut config = ApiServerConfig::new("127.0.0.1:0", "c".into(), "k".into());
        opts(&["--trace-slow-threshold=2s"])
            .unwrap()
            .apply_to(&mut config);
        assert_eq!(config.trace_slow_threshold, Duration::from_secs(2));
    }

    #[cfg(feature = "otel")]
    #[test]
    fn the_otlp_endpoint_must_be_an_http_url() {
        assert!(opts(&["--tracing-otlp-endpoint=http://127.0.0.1:4317"]).is_ok());
        for bad in ["127.0.0.1:4317", "https://collector:4317", "http://"] {
            let error = opts(&["--tracing-otlp-endpoint", bad]).unwrap_err();
            assert_eq!(error.flag, "tracing-otlp-endpoint", "{bad}");
        }
    }
}
