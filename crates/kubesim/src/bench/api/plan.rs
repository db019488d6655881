//! The flags of `kubesim bench api`, checked into a [`Plan`]: every bound is enforced here,
//! before anything is dialled, so the engine never sees a value it has to doubt.

use std::path::PathBuf;
use std::time::Duration;

use crate::bench::{ApiArgs, ApiOp, check_range, parse_endpoints};
use crate::certs::{ADMIN_CERT_FILE, ADMIN_KEY_FILE, CA_CERT_FILE};
use crate::flags::{self, FlagError};

/// HTTP/2 connections to the API server (and gRPC ones to the store).
const MAX_CONNS: usize = 64;
/// Requests in flight; each holds a task and a response body.
const MAX_CLIENTS: usize = 1_000;
/// Creates, gets or updates per run: every latency is kept (16 bytes each).
const MAX_REQUESTS: u64 = 1_000_000;
/// Lists per kind of list: each may be tens of MB.
const MAX_LISTS: u64 = 10_000;
/// Writes a watch run makes; every watcher records each of them.
const MAX_WATCH_WRITES: u64 = 100_000;
/// Pods prepared for get, update and list.
const MAX_PODS: u64 = 100_000;
const MAX_WATCHERS: usize = 10_000;
/// Watchers x writes: the receive records kept in memory (24 bytes each).
const MAX_WATCH_DELIVERIES: u64 = 5_000_000;
/// A namespace is a DNS-1123 label.
const MAX_NAMESPACE_LEN: usize = 63;
/// `--user` becomes two file names: kube's longest name (a DNS-1123 subdomain).
const MAX_USER_LEN: usize = 253;

/// A checked API benchmark.
#[derive(Debug, Clone)]
pub struct Plan {
    pub server: Server,
    /// The admin's: the set-up (namespace, prepared pods), and the measured requests unless
    /// [`Plan::user`] is given.
    pub certs: CertFiles,
    /// `--user`: who sends the measured requests instead of the admin.
    pub user: Option<User>,
    /// The store's gRPC `host:port`s, for the raw puts of `create`.
    pub endpoints: Vec<String>,
    pub conns: usize,
    pub clients: usize,
    /// Requests, lists per kind, or writes watched (see [`Op`]).
    pub total: u64,
    pub namespace: String,
    pub dial_timeout: Duration,
    /// Per request, body included.
    pub request_timeout: Duration,
    pub json: bool,
    /// `--server-pid`: whose CPU time to read around each phase (none: no server figures).
    pub server_pid: Vec<u32>,
    pub op: Op,
}

/// Where the API server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `host:port`, what is dialled and sent as `:authority`.
    pub authority: String,
    /// The host alone (brackets removed), what the certificate must name.
    pub host: String,
}

impl Server {
    pub fn url(&self) -> String {
        format!("https://{}", self.authority)
    }
}

/// The PEM files a client needs: the CA that signed the server's certificate, and the
/// admin's client certificate and key (x509 authentication, group system:masters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A user whose client certificate sends the measured requests (x509 authentication: the
/// certificate's CN is the user, each O a group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `--user`, as the report names it.
    pub name: String,
    /// The cluster CA (as the admin's) and the user's certificate and key.
    pub certs: CertFiles,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create {
        dry_run: bool,
    },
    Get {
        pods: u64,
    },
    Update {
        pods: u64,
    },
    List {
        pods: u64,
    },
    Watch {
        watchers: usize,
        settle_timeout: Duration,
    },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Create { .. } => "create",
            Op::Get { .. } => "get",
            Op::Update { .. } => "update",
            Op::List { .. } => "list",
            Op::Watch { .. } => "watch",
        }
    }

    /// `--total` when not given, and its upper bound.
    fn total_default_and_max(&self) -> (u64, u64) {
        match self {
            Op::Create { .. } | Op::Get { .. } | Op::Update { .. } => (1_000, MAX_REQUESTS),
            Op::List { .. } => (10, MAX_LISTS),
            Op::Watch { .. } => (100, MAX_WATCH_WRITES),
        }
    }
}

/// Checks the flags of `kubesim bench api`.
pub fn plan(args: &ApiArgs) -> Result<Plan, FlagError> {
    let common = &args.common;
    check_range("conns", common.conns, MAX_CONNS)?;
    check_range("clients", common.clients, MAX_CLIENTS)?;
    let op = op(&args.op)?;
    let (default_total, max_total) = op.total_default_and_max();
    let total = common.total.unwrap_or(default_total);
    if total == 0 || total > max_total {
        return Err(FlagError::new(
            "total",
            format!("{total} must be from 1 to {max_total} for {}", op.name()),
        ));
    }
    check_op_against_totals(&op, common.clients, total)?;
    Ok(Plan {
        server: parse_server(&common.server)?,
        certs: cert_files(&common.certs_dir),
        user: common
            .user
            .as_deref()
            .map(|name| user(&common.certs_dir, name))
            .transpose()?,
        endpoints: parse_endpoints(&common.endpoints)?,
        conns: common.conns,
        clients: common.clients,
        total,
        namespace: check_namespace(&common.namespace)?,
        dial_timeout: flags::parse_duration("dial-timeout", &common.dial_timeout)?,
        request_timeout: flags::parse_duration("command-timeout", &common.command_timeout)?,
        json: common.json,
        server_pid: common.server_pid.clone(),
        op,
    })
}

fn op(op: &ApiOp) -> Result<Op, FlagError> {
    Ok(match op {
        ApiOp::Create(args) => Op::Create {
            dry_run: args.dry_run,
        },
        ApiOp::Get(args) => Op::Get {
            pods: check_pods(args.pods)?,
        },
        ApiOp::Update(args) => Op::Update {
            pods: check_pods(args.pods)?,
        },
        ApiOp::List(args) => Op::List {
            pods: check_pods(args.pods)?,
        },
        ApiOp::Watch(args) => {
            check_range("watchers", args.watchers, MAX_WATCHERS)?;
            Op::Watch {
                watchers: args.watchers,
                settle_timeout: flags::parse_duration("settle-timeout", &args.settle_timeout)?,
            }
        }
    })
}

fn check_pods(pods: u64) -> Result<u64, FlagError> {
    if pods == 0 || pods > MAX_PODS {
        return Err(FlagError::new(
            "pods",
            format!("{pods} must be from 1 to {MAX_PODS}"),
        ));
    }
    Ok(pods)
}

/// Bounds that tie two flags together.
fn check_op_against_totals(op: &Op, clients: usize, total: u64) -> Result<(), FlagError> {
    match *op {
        // Each client updates pods of its own, so no two updates race for one
        // resourceVersion: a 409 would then be the benchmark's fault, not the server's.
        Op::Update { pods } if pods < clients as u64 => Err(FlagError::new(
            "pods",
            format!(
                "{pods} is fewer than --clients {clients}: each client updates pods of its own"
            ),
        )),
        Op::Watch { watchers, .. } if watchers as u64 * total > MAX_WATCH_DELIVERIES => {
            Err(FlagError::new(
                "watchers",
                format!(
                    "{watchers} watchers x {total} writes is over {MAX_WATCH_DELIVERIES} deliveries"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// `--server`: `https://host:port`, nothing else (the benchmark builds its own paths).
pub fn parse_server(url: &str) -> Result<Server, FlagError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| FlagError::new("server", format!("{url:?} must be https://host:port")))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let authority = flags::parse_host_port(authority)
        .map_err(|reason| FlagError::new("server", format!("{url:?}: {reason}")))?;
    let host = match authority.rsplit_once(':') {
        Some((host, _port)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => {
            return Err(FlagError::new(
                "server",
                format!("{url:?}: port is missing"),
            ));
        }
    };
    Ok(Server {
        host: host.to_string(),
        authority,
    })
}

fn cert_files(dir: &std::path::Path) -> CertFiles {
    CertFiles {
        ca: dir.join(CA_CERT_FILE),
        cert: dir.join(ADMIN_CERT_FILE),
        key: dir.join(ADMIN_KEY_FILE),
    }
}

/// `--user NAME`: `<dir>/NAME.crt` and `<dir>/NAME.key`. The name goes into a path, so only
/// what a file name in the certificates' directory can be: no separators, no leading dot.
fn user(dir: &std::path::Path, name: &str) -> Result<User, FlagError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty()
        || name.len() > MAX_USER_LEN
        || name.starts_with('.')
        || !name.chars().all(allowed)
    {
        return Err(FlagError::new(
            "user",
            format!(
                "{name:?} must be 1 to {MAX_USER_LEN} of a-z, A-Z, 0-9, '-', '_' and '.', not \
                 starting with '.' (the files are <certs-dir>/<user>.crt and .key)"
            ),
        ));
    }
    Ok(User {
        name: name.to_string(),
        certs: CertFiles {
            ca: dir.join(CA_CERT_FILE),
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        },
    })
}

/// A DNS-1123 label, as kube requires of namespace names; it goes into every path.
fn check_namespace(name: &str) -> Result<String, FlagError> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = !name.is_empty()
        && name.len() <= MAX_NAMESPACE_LEN
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum);
    if !valid {
        return Err(FlagError::new(
            "namespace",
            format!(
                "{name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric \
                 characters or '-', and must start and end with an alphanumeric character"
            ),
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        api: ApiArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan, FlagError> {
        let argv = std::iter::once("api").chain(args.iter().copied());
        let cmd = Cmd::try_parse_from(argv).unwrap();
        super::plan(&cmd.api)
    }

    /// `bench` as main.rs will have it once `Api` is a `BenchCommand` variant: clap checks
    /// that the two sets of global flags live side by side.
    #[test]
    fn api_and_kv_fit_under_one_bench_command() {
        use clap::{CommandFactory, Subcommand};

        #[derive(Debug, Parser)]
        struct Bench {
            #[command(subcommand)]
            command: Both,
        }
        #[derive(Debug, Subcommand)]
        enum Both {
            Kv(crate::bench::KvArgs),
            Api(ApiArgs),
        }
        Bench::command().debug_assert();
        let bench = Bench::try_parse_from(["bench", "api", "--clients=4", "list", "--pods=5"]);
        assert!(matches!(bench.unwrap().command, Both::Api(_)));
        let bench = Bench::try_parse_from(["bench", "kv", "--clients=4", "range", "k"]);
        assert!(matches!(bench.unwrap().command, Both::Kv(_)));
        assert!(
            Bench::try_parse_from(["bench", "api"]).is_err(),
            "an op is required"
        );
    }

    #[test]
    fn defaults_point_at_kubesim_up() {
        let plan = plan(&["create"]).unwrap();
        assert_eq!(
            plan.server,
            Server {
                authority: "127.0.0.1:6443".into(),
                host: "127.0.0.1".into()
            }
        );
        assert_eq!(plan.certs.ca, PathBuf::from("kubesim-data/pki/ca.crt"));
        assert_eq!(plan.certs.cert, PathBuf::from("kubesim-data/pki/admin.crt"));
        assert_eq!(plan.certs.key, PathBuf::from("kubesim-data/pki/admin.key"));
        assert_eq!(plan.endpoints, ["127.0.0.1:2379"]);
        assert_eq!((plan.conns, plan.clients, plan.total), (1, 1, 1000));
        assert_eq!(plan.namespace, "bench");
        assert_eq!(plan.request_timeout, Duration::from_secs(10));
        assert_eq!(plan.op, Op::Create { dry_run: false });
        assert!(plan.server_pid.is_empty());
        assert_eq!(plan.user, None);
    }

    #[test]
    fn user_takes_its_certificate_from_the_certs_dir() {
        let plan = plan(&["get", "--user=jane", "--certs-dir=/d/pki"]).unwrap();
        assert_eq!(
            plan.user,
            Some(User {
                name: "jane".into(),
                certs: CertFiles {
                    ca: PathBuf::from("/d/pki/ca.crt"),
                    cert: PathBuf::from("/d/pki/jane.crt"),
                    key: PathBuf::from("/d/pki/jane.key"),
                }
            })
        );
        assert_eq!(plan.certs.cert, PathBuf::from("/d/pki/admin.crt"));
        let dotted = self::plan(&["--user=system.node-1_a", "get"]).unwrap();
        assert_eq!(
            dotted.user.unwrap().certs.key,
            PathBuf::from("kubesim-data/pki/system.node-1_a.key")
        );
    }

    #[test]
    fn user_never_leaves_the_certs_dir() {
        for name in ["", "../admin", "a/b", ".hidden", "jane smith", "j\\x"] {
            let err = plan(&["get", &format!("--user={name}")]).expect_err(name);
            assert_eq!(err.flag, "user", "{name:?}");
        }
        let err = plan(&["get", "--user=a/b"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--user: \"a/b\" must be 1 to 253 of a-z, A-Z, 0-9, '-', '_' and '.', not starting \
             with '.' (the files are <certs-dir>/<user>.crt and .key)"
        );
        let long = "u".repeat(254);
        assert_eq!(
            plan(&["get", &format!("--user={long}")]).unwrap_err().flag,
            "user"
        );
    }

    #[test]
    fn total_defaults_per_op() {
        assert_eq!(plan(&["get"]).unwrap().total, 1000);
        assert_eq!(plan(&["list"]).unwrap().total, 10);
        assert_eq!(plan(&["watch"]).unwrap().total, 100);
        assert_eq!(plan(&["--total=7", "list"]).unwrap().total, 7);
    }

    #[test]
    fn op_flags_and_common_flags_in_any_order() {
        let plan = plan(&[
            "--clients=16",
            "watch",
            "--watchers=200",
            "--server=https://localhost:16443/",
            "--settle-timeout=5s",
            "--total=50",
            "--json",
            "--server-pid=4242",
        ])
        .unwrap();
        assert_eq!(
            plan.op,
            Op::Watch {
                watchers: 200,
                settle_timeout: Duration::from_secs(5)
            }
        );
        assert_eq!(plan.server.authority, "localhost:16443");
        assert_eq!(plan.server.url(), "https://localhost:16443");
        assert_eq!((plan.clients, plan.total, plan.json), (16, 50, true));
        assert_eq!(plan.server_pid, [4242]);
        let list = self::plan(&["list", "--pods=10000"]).unwrap();
        assert_eq!(list.op, Op::List { pods: 10_000 });
        let dry = self::plan(&["create", "--dry-run"]).unwrap();
        assert_eq!(dry.op, Op::Create { dry_run: true });
        let get = self::plan(&["get"]).unwrap();
        assert_eq!(get.op, Op::Get { pods: 1000 });
    }

    #[test]
    fn ipv6_server_host_loses_its_brackets() {
        let server = parse_server("https://[::1]:6443").unwrap();
        assert_eq!(server.authority, "[::1]:6443");
        assert_eq!(server.host, "::1");
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let cases: [(&[&str], &str); 16] = [
            (&["--clients=0", "create"], "clients"),
            (&["--clients=1001", "create"], "clients"),
            (&["--conns=65", "create"], "conns"),
            (&["--total=0", "create"], "total"),
            (&["--total=1000001", "get"], "total"),
            (&["--total=10001", "list"], "total"),
            (&["--server=http://127.0.0.1:6443", "create"], "server"),
            (&["--server=https://127.0.0.1", "create"], "server"),
            (&["--server=https://127.0.0.1:6443/api", "create"], "server"),
            (&["--endpoints=https://a:1", "create"], "endpoints"),
            (&["--namespace=Bench", "create"], "namespace"),
            (&["--namespace=-x", "create"], "namespace"),
            (&["--command-timeout=10", "create"], "command-timeout"),
            (&["list", "--pods=0"], "pods"),
            (&["--clients=8", "update", "--pods=7"], "pods"),
            (&["--total=5001", "watch", "--watchers=1000"], "watchers"),
        ];
        for (args, flag) in cases {
            let err = plan(args).expect_err(&format!("{args:?}"));
            assert_eq!(err.flag, flag, "{args:?}: {err}");
        }
    }

    #[test]
    fn update_needs_a_pod_per_client_and_no_more() {
        assert!(plan(&["--clients=8", "update", "--pods=8"]).is_ok());
        assert!(plan(&["--total=5000", "watch", "--watchers=1000"]).is_ok());
    }

    #[test]
    fn namespace_message_is_kubernetes_wording() {
        let err = plan(&["--namespace=a_b", "create"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--namespace: \"a_b\": a lowercase RFC 1123 label must consist of lower case \
             alphanumeric characters or '-', and must start and end with an alphanumeric character"
        );
    }
}
