//! `kubesim`: the one binary. Map of the crate:
//! - this file: the command line (clap) and exit codes: 0 done, 1 failed while running,
//!   2 bad flags (as clap's own usage errors);
//! - [`store_cmd`]: `kubesim store`, one member of the etcd-compatible store, etcd's flags;
//! - [`up`]: `kubesim up`, the whole control plane in one process: three store members, the
//!   authz service and the API server, with example identities as kubeconfig contexts
//!   (`up/examples.rs`: the objects made through the API; `up/identities.rs`: keys,
//!   certificates and kubeconfigs under the data directory);
//! - [`bench`]: `kubesim bench kv put|range` (etcd v3 API) and `bench api` (the API server);
//! - [`certs`]: `kubesim certs --out DIR`, the CA, certificates and kubeconfig for kubectl;
//!   also client certificates, the ServiceAccount key and multi-context kubeconfigs for `up`;
//! - [`apiserver_cmd`]: `kubesim apiserver`, the API server, kube-apiserver's flags
//!   (authentication and authorization ones in `apiserver_cmd/auth_flags.rs`);
//! - [`authz_cmd`]: `kubesim authz`, the authz service (RBAC over the store, gRPC), the
//!   API server's Webhook authorizer;
//! - [`oidc_issuer_cmd`]: `kubesim oidc-issuer`, a test OpenID Connect issuer over HTTPS;
//! - [`webhook_cmd`]: `kubesim webhook <name>`, a sample admission webhook (`crates/webhooks`)
//!   over HTTPS and gRPC on one TLS port, slow or broken on purpose when asked;
//! - [`seed_cmd`]: `kubesim seed`, `up`'s example identities, webhook configurations and
//!   kubeconfigs made against a running API server (docker-compose.yml's one-shot);
//! - [`flags`]: parsing and checking of etcd-style flag values;
//! - [`signal`]: waiting for SIGINT/SIGTERM;
//! - `otel` (with the `otel` feature): the request spans exported over OTLP
//!   (`--tracing-otlp-endpoint`, docs/tracing.md).

mod apiserver_cmd;
mod authz_cmd;
mod bench;
mod certs;
mod demo_cmd;
mod flags;
mod oidc_issuer_cmd;
#[cfg(feature = "otel")]
mod otel;
mod seed_cmd;
mod signal;
mod store_cmd;
mod up;
mod webhook_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kubesim",
    version,
    about = "A Kubernetes-compatible control plane you can run, break and measure."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one member of the etcd-compatible store (etcd's flags).
    Store(store_cmd::StoreArgs),
    /// Run the control plane on loopback in this process: a three-member store, the authz
    /// service and the API server, with example users as kubeconfig contexts.
    Up(up::UpArgs),
    /// Load generators for kubesim or a real etcd.
    Bench(bench::BenchArgs),
    /// Write a CA, the API server's and an admin's certificates, and a kubeconfig.
    Certs(certs::CertsArgs),
    // Boxed: its ~30 authentication and authorization flags make it much the largest.
    /// Run the API server (kube-apiserver's flags): HTTPS, authentication, authorization,
    /// the resources over the store.
    Apiserver(Box<apiserver_cmd::ApiServerArgs>),
    /// Run the authz service: RBAC evaluated against the store, answered over gRPC to the
    /// API server's Webhook authorizer.
    Authz(authz_cmd::AuthzArgs),
    /// Run a test OpenID Connect issuer over HTTPS that mints ID tokens for anyone (for
    /// trying --oidc-* by hand; never expose it).
    OidcIssuer(oidc_issuer_cmd::OidcIssuerArgs),
    /// Run a sample admission webhook (label-injector, sidecar-injector, no-privileged,
    /// image-policy, env-guard, audit-sink) over HTTPS and gRPC, slow or broken on purpose.
    Webhook(webhook_cmd::WebhookArgs),
    /// Make `kubesim up`'s example identities, the sample webhooks' configurations and the
    /// kubeconfigs through a running API server (the compose deployment's one-shot).
    Seed(seed_cmd::SeedArgs),
    /// Walk through a request's way through a running kubesim (authentication, RBAC,
    /// admission webhooks, storage, watch, conflicts), printing each stage and why.
    Demo(demo_cmd::DemoArgs),
}

/// mimalloc instead of glibc's malloc: the API server allocates a tree of small strings and
/// maps per object, and glibc's allocator was a quarter to a half of its CPU per request
/// (docs/benchmarks.md). The store's own benchmark also gained 5-15%.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process (Linux): with THP set to `always`, every
/// fresh region the allocator touches is faulted in and zeroed 2 MiB at a time, and memory it
/// hands back is faulted in again the same way. In the API benchmark that was 18% of the
/// server's CPU during creates and 1.7 GiB of huge pages; databases (Redis, MongoDB) advise
/// the same. Failing is harmless: the process runs as before.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(errno) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!(%errno, "could not turn transparent huge pages off");
    }
}

/// A bad flag value, as opposed to a failure while running.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match worker_threads(std::env::var_os(WORKER_THREADS_ENV), available_cpus())
        .and_then(|threads| build_runtime(scheduler(&cli.command, threads)))
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kubesim: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(run(cli))
}

/// tokio's own variable for its worker count, honoured here for every command.
const WORKER_THREADS_ENV: &str = "TOKIO_WORKER_THREADS";

/// The tokio scheduler a command runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheduler {
    /// One thread runs every task; a woken task waits its turn on a plain queue.
    CurrentThread,
    /// Worker threads that steal each other's tasks.
    MultiThread(usize),
}

/// The API server with one thread to run on (one CPU, or `TOKIO_WORKER_THREADS=1`) gets the
/// current-thread scheduler; everything else the multi-thread one. With one worker the
/// multi-thread scheduler cannot run two tasks at once either, but still pays for being able
/// to: atomic task states, a shared queue, and a worker thread that parks and unparks through
/// a condition variable. Pinned to one CPU beside the benchmark (`scripts/bench-api.sh`, the
/// split layout), the API server took 154-168 us of CPU per pod create on the current-thread
/// scheduler against 180-189 us on the multi-thread one, and the benchmark's own share fell
/// from 47-50 to 35-37 us (docs/benchmarks.md, run 22). The store stays multi-thread whatever its CPUs:
/// its Raft log writer groups fsyncs on a thread of its own only there
/// (`crates/store/src/raft/log_store.rs`), and `up` holds three store members.
fn scheduler(command: &Command, threads: usize) -> Scheduler {
    match command {
        Command::Apiserver(_) if threads == 1 => Scheduler::CurrentThread,
        _ => Scheduler::MultiThread(threads),
    }
}

/// `TOKIO_WORKER_THREADS` when set (a positive whole number, or a usage error where tokio
/// would panic), else the CPUs this process may use.
fn worker_threads(env: Option<std::ffi::OsString>, cpus: usize) -> Result<usize, String> {
    let Some(value) = env else {
        return Ok(cpus);
    };
    value
        .to_str()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|threads| *threads > 0)
        .ok_or_else(|| {
            format!("{WORKER_THREADS_ENV} must be a positive whole number, not {value:?}")
        })
}

/// The CPUs this process may run on: its affinity mask (`taskset`) and cgroup quota, as
/// std reads them; 1 if they cannot be read.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn build_runtime(scheduler: Scheduler) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = match scheduler {
        Scheduler::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Scheduler::MultiThread(threads) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        }
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| format!("starting the tokio runtime: {e}"))
}

async fn run(cli: Cli) -> ExitCode {
    #[cfg(not(feature = "otel"))]
    init_logging();
    // Flushes the spans not yet exported when main returns.
    #[cfg(feature = "otel")]
    let _exporter = match otel::init_logging(&cli.command) {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("kubesim: error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    disable_transparent_huge_pages();
    let result = match cli.command {
        Command::Store(args) => match args.to_config() {
            Ok((config, data_dir)) => store_cmd::run(config, data_dir).await,
            Err(e) => return usage_error("store", &e),
        },
        Command::Up(args) => match up::plan(&args) {
            Ok(members) => up::run(&args, members).await,
            Err(e) => return usage_error("up", &e),
        },
        Command::Bench(args) => return bench_main(args).await,
        Command::Certs(args) => return certs_main(&args),
        Command::Apiserver(args) => match args.to_config() {
            Ok(config) => apiserver_cmd::run(config).await,
            Err(e) => return usage_error("apiserver", &e),
        },
        Command::Authz(args) => match args.to_config() {
            Ok(config) => authz_cmd::run(config).await,
            Err(e) => return usage_error("authz", &e),
        },
        Command::OidcIssuer(args) => match args.to_plan() {
            Ok(plan) => oidc_issuer_cmd::run(plan).await,
            Err(e) => return usage_error("oidc-issuer", &e),
        },
        Command::Webhook(args) => match args.to_config(webhook_cmd::seed_from_clock()) {
            Ok(config) => webhook_cmd::run(config).await,
            Err(e) => return usage_error("webhook", &e),
        },
        Command::Seed(args) => match args.to_plan() {
            Ok(plan) => seed_cmd::run(plan).await,
            Err(e) => return usage_error("seed", &e),
        },
        Command::Demo(args) => demo_cmd::run(&args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubesim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a benchmark and prints its report on stdout. Fails (1) when not one request
/// succeeded, so scripts notice a dead target.
async fn bench_main(args: bench::BenchArgs) -> ExitCode {
    let kv_args = match args.command {
        bench::BenchCommand::Kv(kv_args) => kv_args,
        bench::BenchCommand::Api(api_args) => return bench::api::main(&api_args).await,
    };
    let entropy = kubesim_net::SeededEntropy::from_os();
    let plan = match kv_args.plan(&entropy) {
        Ok(plan) => plan,
        Err(e) => return usage_error("bench kv", &e),
    };
    let outcome = match bench::kv::run(&plan, &entropy).await {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("kubesim bench kv: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let info = bench::report::RunInfo {
        op: plan.workload.op(),
        detail: plan.workload.detail(),
        endpoints: plan.endpoints.clone(),
        conns: plan.conns,
        clients: plan.clients,
    };
    if kv_args.common.json {
        println!("{}", bench::report::json(&info, &outcome));
    } else {
        print!("{}", bench::report::table(&info, &outcome));
    }
    if outcome.latencies.is_empty() {
        eprintln!("kubesim bench kv: error: no request succeeded");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Writes the certificates and prints what it wrote. Files in the way are a usage error (2).
fn certs_main(args: &certs::CertsArgs) -> ExitCode {
    use kubesim_net::Clock as _;
    // The real clock, through the seam's production clock: certificates are checked against
    // real time by kubectl, so this command has no simulated time to use.
    let now_since_epoch = kubesim_net::SystemClock.now_since_epoch();
    let opts = match args.to_options(now_since_epoch) {
        Ok(opts) => opts,
        Err(e) => return usage_error("certs", &e),
    };
    match certs::run(args, &opts) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kubesim certs: error: {e}");
            if e.is_usage() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn usage_error(command: &str, error: &flags::FlagError) -> ExitCode {
    eprintln!("kubesim {command}: error: {error}");
    ExitCode::from(EXIT_USAGE)
}

/// The log filter without `RUST_LOG`: `info`, with openraft at `warn` (at `info` it logs
/// every replication state change) and the API server's request trace at `warn`: at `info`
/// every request would build its spans and keep its stage timings for the slow-request
/// line, which `RUST_LOG=info,kubesim_apiserver::trace=debug` turns on (docs/tracing.md).
const DEFAULT_LOG_FILTER: &str = "info,openraft=warn,kubesim_apiserver::trace=warn";

/// `RUST_LOG`, or [`DEFAULT_LOG_FILTER`] without it.
fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER))
}

/// Logs go to stderr (stdout carries reports); `RUST_LOG` filters them ([`log_filter`]).
/// Colours only on a terminal, so log files stay plain text.
fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// By default nothing is logged per request: the request trace's spans and slow-request
    /// lines stay off (and so cost nothing) while the rest logs at `info`.
    #[test]
    fn the_default_log_filter_leaves_the_request_trace_off() {
        use tracing::Level;
        let filter = tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let trace = kubesim_apiserver::trace::TARGET;
            assert!(!tracing::enabled!(target: "kubesim_apiserver::trace", Level::INFO));
            assert!(!tracing::enabled!(target: "kubesim_apiserver::trace", Level::DEBUG));
            assert!(tracing::enabled!(target: "kubesim_apiserver::trace", Level::WARN));
            assert_eq!(trace, "kubesim_apiserver::trace");
            assert!(tracing::enabled!(target: "kubesim_apiserver::chain", Level::INFO));
            assert!(!tracing::enabled!(target: "openraft::core", Level::INFO));
        });
    }

    /// The process the test runs in is the one that turns THP off; the kernel reports it in
    /// `/proc/self/status` (`THP_enabled: 0`, Linux 6.x).
    #[cfg(target_os = "linux")]
    #[test]
    fn transparent_huge_pages_are_off_for_the_process() {
        disable_transparent_huge_pages();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) else {
            // Kernels before 6.x do not report it; the prctl still took effect.
            return;
        };
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }

    /// clap checks the whole command tree (conflicting names, bad defaults) only when asked.
    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_parse() {
        let cli = Cli::try_parse_from(["kubesim", "up", "--base-port", "3000"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Up(up::UpArgs {
                base_port: 3000,
                ..
            })
        ));
        let cli = Cli::try_parse_from(["kubesim", "bench", "kv", "range", "k"]).unwrap();
        assert!(matches!(cli.command, Command::Bench(_)));
        assert!(Cli::try_parse_from(["kubesim", "bench", "kv"]).is_err());
        let cli = Cli::try_parse_from(["kubesim", "certs", "--out", "d", "--force"]).unwrap();
        let Command::Certs(args) = cli.command else {
            panic!("not certs: {cli:?}");
        };
        assert!(args.force);
        assert_eq!(args.hosts, certs::DEFAULT_HOSTS);
        assert_eq!(args.server, certs::DEFAULT_SERVER);
        assert!(
            Cli::try_parse_from(["kubesim", "certs"]).is_err(),
            "--out is required"
        );
        let cli = Cli::try_parse_from(["kubesim", "authz", "--etcd-servers=http://h:1"]).unwrap();
        assert!(matches!(cli.command, Command::Authz(_)));
        let cli = Cli::try_parse_from(["kubesim", "oidc-issuer", "--out", "d"]).unwrap();
        assert!(matches!(cli.command, Command::OidcIssuer(_)));
        let cli = Cli::try_parse_from([
            "kubesim",
            "up",
            "--authorization-mode=Node,RBAC",
            "--authz-failure-policy=Deny",
        ])
        .unwrap();
        let Command::Up(args) = cli.command else {
            panic!("not up: {cli:?}");
        };
        assert_eq!(
            (
                args.authorization_mode.as_str(),
                args.authz_failure_policy.as_str()
            ),
            ("Node,RBAC", "Deny")
        );
    }

    #[test]
    fn only_the_api_server_on_one_thread_gets_the_current_thread_scheduler() {
        let command = |args: &[&str]| Cli::try_parse_from(args).unwrap().command;
        let apiserver = command(&["kubesim", "apiserver", "--etcd-servers=http://h:1"]);
        assert_eq!(scheduler(&apiserver, 1), Scheduler::CurrentThread);
        assert_eq!(scheduler(&apiserver, 2), Scheduler::MultiThread(2));
        let store = command(&["kubesim", "store"]);
        assert_eq!(scheduler(&store, 1), Scheduler::MultiThread(1));
        let up = command(&["kubesim", "up"]);
        assert_eq!(scheduler(&up, 1), Scheduler::MultiThread(1));
    }

    #[test]
    fn the_runtime_built_is_the_scheduler_chosen() {
        use tokio::runtime::RuntimeFlavor;
        let flavor = |scheduler| build_runtime(scheduler).unwrap().handle().runtime_flavor();
        assert_eq!(
            flavor(Scheduler::CurrentThread),
            RuntimeFlavor::CurrentThread
        );
        assert_eq!(
            flavor(Scheduler::MultiThread(2)),
            RuntimeFlavor::MultiThread
        );
    }

    #[test]
    fn worker_threads_come_from_tokios_variable_or_the_cpus() {
        use std::ffi::OsString;
        assert_eq!(worker_threads(None, 3), Ok(3));
        assert_eq!(worker_threads(Some(OsString::from("1")), 8), Ok(1));
        assert_eq!(worker_threads(Some(OsString::from(" 4 ")), 1), Ok(4));
        for bad in ["0", "-1", "two", ""] {
            let error = worker_threads(Some(OsString::from(bad)), 2).unwrap_err();
            assert!(error.contains("TOKIO_WORKER_THREADS"), "{error}");
        }
    }
}
