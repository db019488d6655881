//! `kubesim bench`: load generators in the spirit of etcd's `benchmark` tool, with its flag
//! names. They speak only the public etcd v3 API, so the same run works against a real etcd,
//! which is what makes side-by-side numbers honest.
//!
//! - this file: the flags, checked into a [`kv::Plan`];
//! - [`kv`]: connections, clients and the request loop;
//! - [`report`]: percentiles, the table and the JSON;
//! - [`api`]: `kubesim bench api`, pods through the API server (its flags are [`ApiArgs`],
//!   checked into an [`api::plan::Plan`] there).

pub mod api;
pub mod kv;
pub mod report;

use clap::{Args, Subcommand, ValueEnum};

use crate::flags::{self, FlagError};

/// Upper bounds on the flags, so a typo cannot exhaust file descriptors or memory.
const MAX_CONNS: usize = 1_000;
const MAX_CLIENTS: usize = 10_000;
const MAX_KEY_OR_VALUE_BYTES: usize = 16 << 20;
/// Every latency is kept (16 bytes each) to compute exact percentiles.
const MAX_TOTAL: u64 = 10_000_000;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// Benchmark the etcd v3 KV API (put, range) of kubesim or of a real etcd.
    Kv(KvArgs),
    /// Benchmark the API server: pods created, read, listed, updated and watched through
    /// the whole chain, beside raw store puts of the same objects.
    Api(ApiArgs),
}

#[derive(Debug, Clone, Args)]
pub struct KvArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub op: KvOp,
}

/// Flags every KV benchmark takes; they may be written before or after `put`/`range`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// gRPC endpoints, comma list of host:port or http://host:port.
    #[arg(long, global = true, default_value = "127.0.0.1:2379")]
    pub endpoints: String,
    /// Total number of gRPC connections, spread over the endpoints.
    #[arg(long, global = true, default_value_t = 1)]
    pub conns: usize,
    /// Total number of concurrent requests in flight, spread over the connections.
    #[arg(long, global = true, default_value_t = 1)]
    pub clients: usize,
    /// Total number of requests.
    #[arg(long, global = true, default_value_t = 10_000)]
    pub total: u64,
    /// How long to wait for a connection (500ms, 2s, 1m).
    #[arg(long, global = true, default_value = "2s")]
    pub dial_timeout: String,
    /// How long one request may take before it counts as failed.
    #[arg(long, global = true, default_value = "5s")]
    pub command_timeout: String,
    /// Print one JSON object instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KvOp {
    /// Benchmark put.
    Put(PutArgs),
    /// Benchmark range: read KEY (or [KEY, END)) over and over.
    Range(RangeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PutArgs {
    /// Key size of a put request.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size of a put request.
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
    /// Maximum possible keys.
    #[arg(long, default_value_t = 1)]
    pub key_space_size: u64,
    /// Use sequential keys (request i writes key i modulo the key space) instead of random ones.
    #[arg(long)]
    pub sequential_keys: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RangeArgs {
    /// The key to read.
    pub key: String,
    /// The end of the range [KEY, END), if reading more than one key.
    pub end: Option<String>,
    /// Linearizable (l) or serializable (s).
    #[arg(long, value_enum, default_value_t = Consistency::L)]
    pub consistency: Consistency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Consistency {
    /// Linearizable: the member confirms with the leader first.
    #[value(name = "l")]
    L,
    /// Serializable: the member answers from its own state.
    #[value(name = "s")]
    S,
}

impl KvArgs {
    /// Checks the flags and turns them into a plan. `entropy` draws the put value.
    pub fn plan(&self, entropy: &dyn kubesim_net::Entropy) -> Result<kv::Plan, FlagError> {
        let common = &self.common;
        let endpoints = parse_endpoints(&common.endpoints)?;
        check_range("conns", common.conns, MAX_CONNS)?;
        check_range("clients", common.clients, MAX_CLIENTS)?;
        if common.total == 0 || common.total > MAX_TOTAL {
            return Err(FlagError::new(
                "total",
                format!("{} must be from 1 to {MAX_TOTAL}", common.total),
            ));
        }
        let channel = kubesim_net::network::ChannelConfig {
            connect_timeout: flags::parse_duration("dial-timeout", &common.dial_timeout)?,
            request_timeout: flags::parse_duration("command-timeout", &common.command_timeout)?,
            ..Default::default()
        };
        let workload = match &self.op {
            KvOp::Put(put) => kv::Workload::Put(put_workload(put, entropy)?),
            KvOp::Range(range) => kv::Workload::Range(range_workload(range)?),
        };
        Ok(kv::Plan {
            endpoints,
            conns: common.conns,
            clients: common.clients,
            total: common.total,
            channel,
            workload,
        })
    }
}

fn put_workload(
    put: &PutArgs,
    entropy: &dyn kubesim_net::Entropy,
) -> Result<kv::PutWorkload, FlagError> {
    check_range("key-size", put.key_size, MAX_KEY_OR_VALUE_BYTES)?;
    check_range("val-size", put.val_size, MAX_KEY_OR_VALUE_BYTES)?;
    if put.key_space_size == 0 {
        return Err(FlagError::new("key-space-size", "must be at least 1"));
    }
    let digits = (put.key_space_size - 1).to_string().len();
    if digits > put.key_size {
        return Err(FlagError::new(
            "key-size",
            format!(
                "{} is too small for --key-space-size {}: keys are decimal numbers of {digits} digits",
                put.key_size, put.key_space_size
            ),
        ));
    }
    Ok(kv::PutWorkload {
        key_size: put.key_size,
        value: kv::random_value(put.val_size, entropy),
        key_space_size: put.key_space_size,
        sequential_keys: put.sequential_keys,
    })
}

fn range_workload(range: &RangeArgs) -> Result<kv::RangeWorkload, FlagError> {
    if range.key.is_empty() {
        return Err(FlagError::new("key", "the key to read must not be empty"));
    }
    Ok(kv::RangeWorkload {
        key: range.key.clone().into_bytes(),
        range_end: range.end.clone().unwrap_or_default().into_bytes(),
        serializable: range.consistency == Consistency::S,
    })
}

/// `--endpoints`: `host:port` or `http://host:port`, comma separated, as etcdctl takes them.
pub fn parse_endpoints(list: &str) -> Result<Vec<String>, FlagError> {
    let mut endpoints = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.starts_with("https://") {
            return Err(FlagError::new(
                "endpoints",
                format!("{item:?}: https is not supported"),
            ));
        }
        let bare = item.strip_prefix("http://").unwrap_or(item);
        let bare = bare.strip_suffix('/').unwrap_or(bare);
        let host_port = flags::parse_host_port(bare)
            .map_err(|reason| FlagError::new("endpoints", format!("{item:?}: {reason}")))?;
        endpoints.push(host_port);
    }
    Ok(endpoints)
}

fn check_range(flag: &'static str, value: usize, max: usize) -> Result<(), FlagError> {
    if value == 0 || value > max {
        return Err(FlagError::new(
            flag,
            format!("{value} must be from 1 to {max}"),
        ));
    }
    Ok(())
}

/// `kubesim bench api`: pods through the API server's whole chain (HTTPS, HTTP/2, the
/// handler chain, the registry, the store), beside raw store puts of the same bodies.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub common: ApiCommonArgs,
    #[command(subcommand)]
    pub op: ApiOp,
}

/// Flags every API benchmark takes; they may be written before or after the op.
#[derive(Debug, Clone, Args)]
pub struct ApiCommonArgs {
    /// The API server, https://host:port.
    #[arg(long, global = true, default_value = "https://127.0.0.1:6443")]
    pub server: String,
    /// Directory with the server's CA (ca.crt) and the admin client certificate
    /// (admin.crt, admin.key), as `kubesim up` and `kubesim certs` write them.
    #[arg(long, global = true, default_value = "kubesim-data/pki")]
    pub certs_dir: std::path::PathBuf,
    /// The store's gRPC endpoints (host:port, comma list), for the raw puts `create` runs
    /// beside the API creates.
    #[arg(long, global = true, default_value = "127.0.0.1:2379")]
    pub endpoints: String,
    /// HTTP/2 connections to the API server (client-go uses one), and gRPC connections for
    /// the raw puts. Watchers get connections of their own.
    #[arg(long, global = true, default_value_t = 1)]
    pub conns: usize,
    /// Requests in flight at once, spread over the connections.
    #[arg(long, global = true, default_value_t = 1)]
    pub clients: usize,
    /// Requests (create, get, update), lists per kind of list (list), or writes watched
    /// (watch). Default: 1000, 10 and 100.
    #[arg(long, global = true)]
    pub total: Option<u64>,
    /// The namespace the pods go in; created if missing.
    #[arg(long, global = true, default_value = "bench")]
    pub namespace: String,
    /// How long to wait for a connection (500ms, 2s, 1m).
    #[arg(long, global = true, default_value = "2s")]
    pub dial_timeout: String,
    /// How long one request (a whole list included) may take before it counts as failed.
    #[arg(long, global = true, default_value = "10s")]
    pub command_timeout: String,
    /// Print one JSON object per line, one per measured row, instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
    /// The server's process id (Linux): its CPU time per request is reported beside the
    /// benchmark's own. A comma list sums several processes (store members and the API
    /// server run apart).
    #[arg(long, global = true, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Send the measured requests as this user: the client certificate and key
    /// <certs-dir>/<USER>.crt and <USER>.key (as `kubesim up` writes `jane`'s). The namespace
    /// and the prepared pods are still made as the admin. Without it everything goes as the
    /// admin, whose group system:masters every authorizer chain allows unasked.
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ApiOp {
    /// POST new pods, then put the same bodies into the store directly; compare.
    Create(CreateArgs),
    /// GET pods by name (pods created first, once).
    Get(PreparedPodsArgs),
    /// GET a pod, then PUT it back with a changed label and its resourceVersion.
    Update(PreparedPodsArgs),
    /// List every pod of the namespace, from the watch cache (resourceVersion=0) and
    /// consistently from the store (no resourceVersion).
    List(ListArgs),
    /// Open many watches on the namespace, write pods, and time each event's delivery.
    Watch(WatchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// POST with `?dryRun=All`: everything but the store write (and so no raw puts), to tell
    /// the server's own cost from the write's.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PreparedPodsArgs {
    /// Pods to create before the run (those already there are kept); requests cycle over them.
    #[arg(long, default_value_t = 1000)]
    pub pods: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Pods to create before the run (those already there are kept).
    #[arg(long, default_value_t = 10_000)]
    pub pods: u64,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Concurrent watches on the namespace.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// How long after the last write the watchers may still take to receive everything
    /// before what they lack counts as missed.
    #[arg(long, default_value = "30s")]
    pub settle_timeout: String,
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use kubesim_net::SeededEntropy;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        kv: KvArgs,
    }

    fn plan(args: &[&str]) -> Result<kv::Plan, FlagError> {
        let argv = std::iter::once("kv").chain(args.iter().copied());
        let cmd = Cmd::try_parse_from(argv).unwrap();
        cmd.kv.plan(&SeededEntropy::from_seed(1))
    }

    #[test]
    fn endpoints_take_both_forms() {
        assert_eq!(
            parse_endpoints("127.0.0.1:2379,http://localhost:22379/").unwrap(),
            ["127.0.0.1:2379", "localhost:22379"]
        );
        for bad in ["", "a", "a:1,,b:2", "https://a:1", "http://a:1/v3", "a:b"] {
            assert!(parse_endpoints(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn put_flags_before_or_after_the_op() {
        let plan = plan(&[
            "--endpoints=a:1,b:2",
            "--clients=16",
            "put",
            "--conns=4",
            "--val-size=256",
            "--key-space-size=100000",
            "--sequential-keys",
            "--total=50",
        ])
        .unwrap();
        assert_eq!(plan.endpoints, ["a:1", "b:2"]);
        assert_eq!((plan.conns, plan.clients, plan.total), (4, 16, 50));
        let kv::Workload::Put(put) = plan.workload else {
            panic!("not a put plan")
        };
        assert_eq!(put.value.len(), 256);
        assert_eq!(put.key_space_size, 100_000);
        assert!(put.sequential_keys);
    }

    #[test]
    fn range_consistency_and_end() {
        let plan = plan(&["range", "foo", "fop", "--consistency=s"]).unwrap();
        let kv::Workload::Range(range) = plan.workload else {
            panic!("not a range plan")
        };
        assert_eq!(range.key, b"foo");
        assert_eq!(range.range_end, b"fop");
        assert!(range.serializable);
        let plan = self::plan(&["range", "foo"]).unwrap();
        let kv::Workload::Range(range) = plan.workload else {
            panic!("not a range plan")
        };
        assert!(!range.serializable, "linearizable is the default");
        assert!(range.range_end.is_empty());
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let cases: [(&[&str], &str); 9] = [
            (&["--clients=0", "put"], "clients"),
            (&["--total=10000001", "put"], "total"),
            (&["--conns=1001", "put"], "conns"),
            (&["--total=0", "put"], "total"),
            (&["--endpoints=nohost", "put"], "endpoints"),
            (&["--dial-timeout=2", "put"], "dial-timeout"),
            (&["put", "--key-space-size=0"], "key-space-size"),
            (
                &["put", "--key-size=4", "--key-space-size=100000"],
                "key-size",
            ),
            (&["range", ""], "key"),
        ];
        for (args, flag) in cases {
            let err = plan(args).expect_err(&format!("{args:?}"));
            assert_eq!(err.flag, flag, "{args:?}: {err}");
        }
    }

    #[test]
    fn key_size_fits_exactly_the_key_space() {
        assert!(plan(&["put", "--key-size=5", "--key-space-size=100000"]).is_ok());
        assert!(plan(&["put", "--key-size=5", "--key-space-size=100001"]).is_err());
    }

    #[test]
    fn bad_consistency_is_a_usage_error() {
        let err = Cmd::try_parse_from(["kv", "range", "foo", "--consistency=x"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
