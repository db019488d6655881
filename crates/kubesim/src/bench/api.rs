//! `kubesim bench api`: pods through the API server's whole chain (TLS, HTTP/2, the handler
//! chain, the registry, the store and the watch cache), measured like `bench kv` measures the
//! store, against a running `kubesim up` (or any cluster whose admin certificate it has).
//!
//! | op | what is timed | beside it |
//! |---|---|---|
//! | create | POST of a new ~1 KiB pod | the same bodies as raw store puts (gRPC KV) |
//! | create --dry-run | POST with `?dryRun=All` (no store write) | |
//! | get | GET of a prepared pod (each read once, unmeasured, first) | |
//! | update | GET, then PUT with its resourceVersion | |
//! | list | a full list, `resourceVersion=0` (watch cache) | the same, consistent (store) |
//! | watch | each event's delivery to each of W watchers | the writes |
//!
//! The requests go as the admin (`admin.crt`, group system:masters), or with `--user NAME` as
//! that user's client certificate, so authorization is measured too; the set-up (namespace,
//! prepared pods) is always the admin's.
//!
//! Map: [`plan`] checks the flags; [`client`] is the HTTPS/HTTP/2 client; [`pod`] the pod
//! body, names and keys; [`driver`] the request loop; [`ops`] the requests and the set-up;
//! [`watch`] the watch run; [`cpu`] the CPU time per request of the server and the benchmark;
//! [`render`] the table and the JSON lines.

pub mod client;
pub mod cpu;
pub mod driver;
pub mod ops;
pub mod plan;
pub mod pod;
pub mod render;
pub mod watch;

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use tokio_rustls::TlsConnector;

use self::client::ApiClient;
use self::driver::Workload;
use self::plan::{Op, Plan};
use self::pod::PodTemplate;
use self::render::{Report, Row};
use crate::bench::ApiArgs;

/// Exit code for bad flags, as clap's usage errors.
const EXIT_USAGE: u8 = 2;

/// Runs `kubesim bench api` and prints its report on stdout. Exit code 2 for bad flags, 1
/// when the run failed or not one request succeeded, so scripts notice a dead target.
pub async fn main(args: &ApiArgs) -> ExitCode {
    let plan = match plan::plan(args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("kubesim bench api: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let report = match run(&plan).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("kubesim bench api: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if plan.json {
        print!("{}", render::json_lines(&report));
    } else {
        print!("{}", render::table(&report));
    }
    if report
        .rows
        .iter()
        .any(|row| row.outcome.latencies.is_empty())
    {
        eprintln!("kubesim bench api: error: a row has no successful request");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Connects, makes the namespace, runs the op.
pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let clients = Clients::connect(plan).await?;
    let (api, tls) = (&clients.measured, &clients.measured_tls);
    ops::ensure_namespace(&clients.admin, &plan.namespace).await?;
    let (rows, notes) = match &plan.op {
        Op::Create { dry_run: false } => create(api, plan).await?,
        Op::Create { dry_run: true } => create_dry_run(api, plan).await?,
        Op::Get { pods } => get(&clients, plan, *pods).await?,
        Op::Update { pods } => update(&clients, plan, *pods).await?,
        Op::List { pods } => list(&clients, plan, *pods).await?,
        Op::Watch {
            watchers,
            settle_timeout,
        } => watch(api, tls, plan, *watchers, *settle_timeout).await?,
    };
    Ok(Report {
        op: plan.op.name(),
        server: plan.server.url(),
        namespace: plan.namespace.clone(),
        user: plan
            .user
            .as_ref()
            .map_or_else(|| ADMIN.to_string(), |user| user.name.clone()),
        conns: plan.conns,
        clients: plan.clients,
        total: plan.total,
        rows,
        notes,
    })
}

/// How the report names the admin (the `admin.crt` of `--certs-dir`).
const ADMIN: &str = "admin";

/// The admin's connections, for the set-up; and those of the user who sends the measured
/// requests (the same ones without `--user`).
struct Clients {
    admin: ApiClient,
    measured: ApiClient,
    /// For the watchers' own connections.
    measured_tls: TlsConnector,
}

impl Clients {
    async fn connect(plan: &Plan) -> anyhow::Result<Clients> {
        let admin_tls = client::tls_connector(&plan.certs)?;
        let admin = ApiClient::connect(plan, &admin_tls, plan.conns).await?;
        let Some(user) = &plan.user else {
            return Ok(Clients {
                measured: admin.clone(),
                admin,
                measured_tls: admin_tls,
            });
        };
        let measured_tls = client::tls_connector(&user.certs)
            .map_err(|e| anyhow::anyhow!("--user {}: {e:#}", user.name))?;
        let measured = ApiClient::connect(plan, &measured_tls, plan.conns)
            .await
            .map_err(|e| anyhow::anyhow!("--user {}: {e:#}", user.name))?;
        Ok(Clients {
            admin,
            measured,
            measured_tls,
        })
    }
}

type Rows = (Vec<Row>, Vec<String>);

/// The longest wait for a quiet server before a phase.
pub(crate) const MAX_IDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One measured phase of `plan.total` requests, with the CPU they cost. With
/// `--server-pid` it starts once the server is quiet.
async fn measured<W: Workload>(
    name: &'static str,
    workload: Arc<W>,
    plan: &Plan,
) -> anyhow::Result<Row> {
    cpu::wait_idle(&plan.server_pid, MAX_IDLE_WAIT).await;
    let meter = cpu::Meter::start(&plan.server_pid);
    let outcome = driver::drive(workload, plan.clients, plan.total).await?;
    let cpu = meter.stop(plan.total);
    Ok(Row::new(name, outcome, cpu))
}

/// API creates, then raw puts of the same bodies under [`pod::RAW_PREFIX`].
async fn create(api: &ApiClient, plan: &Plan) -> anyhow::Result<Rows> {
    let run = run_id();
    let template = PodTemplate::new(&plan.namespace, &run);
    let creates = Arc::new(ops::Create {
        api: api.clone(),
        template: template.clone(),
        namespace: plan.namespace.clone(),
        run: run.clone(),
        dry_run: false,
    });
    let mut api_row = measured("api-create", creates, plan).await?;
    let channels = ops::store_channels(plan).await?;
    let stored = ops::stored_value(&channels[0], &plan.namespace, &pod::created_name(&run, 0))
        .await
        .map(Arc::new)?;
    let mut rows: Vec<render::Row> = Vec::new();
    // Raw puts of the request bodies (the target's baseline), of the stored bytes, and of
    // the stored bytes in the create Txn the API server sends.
    let baselines = [
        ("store-put", "ratio_to_store_put", None, false),
        (
            "store-put-stored",
            "ratio_to_stored_put",
            Some(stored.clone()),
            false,
        ),
        (
            "store-txn-stored",
            "ratio_to_stored_txn",
            Some(stored),
            true,
        ),
    ];
    let mut notes = Vec::new();
    for (row, ratio_name, stored, create_txn) in baselines {
        let puts = Arc::new(ops::RawPuts {
            channels: channels.clone(),
            template: template.clone(),
            namespace: plan.namespace.clone(),
            run: format!("{run}-{row}"),
            stored,
            create_txn,
        });
        let mut store_row = measured(row, puts, plan).await?;
        let ratio = render::create_ratio(&api_row.outcome, &store_row.outcome);
        api_row
            .extra
            .push((ratio_name, json!(ratio.map(render::round3))));
        match rows.first() {
            None => notes.push(render::create_note(ratio)),
            // Each baseline beside the request bodies' raw puts (the target's own).
            Some(raw_puts) => {
                let to_raw = render::create_ratio(&store_row.outcome, &raw_puts.outcome);
                store_row
                    .extra
                    .push(("ratio_to_store_put", json!(to_raw.map(render::round3))));
                if create_txn {
                    notes.push(render::store_bound_note(to_raw));
                }
            }
        }
        rows.push(store_row);
    }
    rows.insert(0, api_row);
    Ok((rows, notes))
}

/// Creates with `?dryRun=All`: decoding, defaults, validation, managedFields and the answer,
/// without the store write or the watch cache's work for it.
async fn create_dry_run(api: &ApiClient, plan: &Plan) -> anyhow::Result<Rows> {
    let run = run_id();
    let creates = Arc::new(ops::Create {
        api: api.clone(),
        template: PodTemplate::new(&plan.namespace, &run),
        namespace: plan.namespace.clone(),
        run,
        dry_run: true,
    });
    let row = measured("api-create-dry-run", creates, plan).await?;
    Ok((vec![row], Vec::new()))
}

/// GETs of prepared pods, after one unmeasured GET of each: a first read fills what it
/// fills (the Webhook authorizer's decision cache keys on the pod's name), and the phase
/// measures the reads that follow.
async fn get(clients: &Clients, plan: &Plan, pods: u64) -> anyhow::Result<Rows> {
    ops::prepare_pods(&clients.admin, plan, pods).await?;
    let gets = Arc::new(ops::Get {
        api: clients.measured.clone(),
        namespace: plan.namespace.clone(),
        pods,
    });
    ops::warm_up(gets.clone(), pods).await?;
    Ok((vec![measured("api-get", gets, plan).await?], Vec::new()))
}

async fn update(clients: &Clients, plan: &Plan, pods: u64) -> anyhow::Result<Rows> {
    ops::prepare_pods(&clients.admin, plan, pods).await?;
    let updates = Arc::new(ops::Update {
        api: clients.measured.clone(),
        namespace: plan.namespace.clone(),
        clients: plan.clients,
        // The plan checked pods >= clients, so each client has at least one pod.
        pods_per_client: pods / plan.clients as u64,
    });
    Ok((
        vec![measured("api-update", updates, plan).await?],
        Vec::new(),
    ))
}

/// Lists from the watch cache, then consistent lists from the store. One unmeasured list of
/// each kind first: it counts the items and bytes, and warms what a first list would warm.
async fn list(clients: &Clients, plan: &Plan, pods: u64) -> anyhow::Result<Rows> {
    ops::prepare_pods(&clients.admin, plan, pods).await?;
    let api = &clients.measured;
    let base = pod::pods_path(&plan.namespace);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (name, path) in [
        ("list-cache", format!("{base}?resourceVersion=0")),
        ("list-store", base.clone()),
    ] {
        let first = api
            .send(0, hyper::Method::GET, &path, None)
            .await
            .and_then(|reply| reply.expect(&[200]))
            .map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
        let items = ops::list_items(&first.body);
        let lists = Arc::new(ops::List {
            api: api.clone(),
            path,
        });
        let mut row = measured(name, lists, plan).await?;
        row.extra.push(("items", json!(items)));
        row.extra.push(("bytes", json!(first.body.len())));
        notes.push(format!(
            "{name}: {} items, {} bytes per list",
            items.map_or_else(|| "?".to_string(), |n| n.to_string()),
            first.body.len()
        ));
        if name == "list-cache" {
            notes.push(render::list_note(&row.outcome, items));
        }
        rows.push(row);
    }
    Ok((rows, notes))
}

/// W watchers on connections of their own ([`watch::WATCHERS_PER_CONN`] each), the writes on
/// the usual ones.
async fn watch(
    api: &ApiClient,
    tls: &TlsConnector,
    plan: &Plan,
    watchers: usize,
    settle_timeout: std::time::Duration,
) -> anyhow::Result<Rows> {
    let watch_conns = watchers.div_ceil(watch::WATCHERS_PER_CONN);
    let watch_api = ApiClient::connect(plan, tls, watch_conns).await?;
    let outcome = watch::run(api, &watch_api, plan, watchers, settle_timeout).await?;
    let notes = render::watch_notes(
        &outcome.deliveries,
        watchers,
        outcome.watchers_opened,
        outcome.writes_acked,
        outcome.missed,
        outcome.watchers_incomplete,
    );
    let mut deliveries = outcome.deliveries;
    deliveries.errors = outcome.stream_errors;
    let mut row = Row::new("watch-delivery", deliveries, outcome.cpu_per_delivery);
    row.extra = vec![
        ("watchers", json!(watchers)),
        ("watchers_opened", json!(outcome.watchers_opened)),
        ("watch_conns", json!(watch_conns)),
        ("writes_acked", json!(outcome.writes_acked)),
        ("missed", json!(outcome.missed)),
        ("watchers_incomplete", json!(outcome.watchers_incomplete)),
        ("early", json!(outcome.early)),
        ("unexpected", json!(outcome.unexpected)),
        ("duplicates", json!(outcome.duplicates)),
    ];
    let mut notes = notes;
    notes.push(format!(
        "{} deliveries arrived before their write's answer (counted as 0 ms); {} events of \
         unacknowledged writes; {} duplicates",
        outcome.early, outcome.unexpected, outcome.duplicates
    ));
    let writes = Row::new("watch-writes", outcome.writes, outcome.cpu_per_write);
    Ok((vec![row, writes], notes))
}

/// 8 hex digits from the OS's entropy, so two runs never create the same names.
pub fn run_id() -> String {
    use kubesim_net::Entropy as _;
    let entropy = kubesim_net::SeededEntropy::from_os();
    format!("{:08x}", entropy.next_u64() as u32)
}
