//! The text of kube's `/debug/api_priority_and_fairness/dump_priority_levels`,
//! `dump_queues` and `dump_requests` (`apf_controller_debug.go`), and the
//! `apiserver_flowcontrol_*` metrics in Prometheus' text format.
//!
//! kube writes each row as cells joined by `,\t` through Go's `text/tabwriter` (minimum
//! width 8, padding 1, spaces), so the columns line up; `align` does the same. kube lists
//! the levels in map order; here they come by name, and so do the rows within a level:
//! queues by index, a queue's waiting requests oldest first, then its executing ones (index
//! `-1`), then the requests that ran without queuing (queue `-1`).
//!
//! Where kubesim has no value kube prints: `FinalSeats` is 0 and `AdditionalLatency` `0s`
//! (no final seats are modelled), and an idle queue's `NextDispatchR` is 0 (kube shows the
//! stale reading its queue kept; here idle queues are not kept).

use std::fmt::Write as _;
use std::time::Duration;

use kubesim_api::time::format_rfc3339;
use tokio::time::Instant;

use crate::controller::{Controller, RejectReason};
use crate::queueset::{LevelStats, Mode, QueueDump, QueueSetDump, RequestDump, SeatSeconds};

/// `dump_queues` prints every queue of a level up to this many, idle ones included as
/// kube does, and past it only the active ones: kube's suggested levels have at most 128
/// queues, but validation allows 2^26.
pub const MAX_DUMPED_IDLE_QUEUES: u32 = 1024;

/// `dump_priority_levels`: one row per level.
pub fn priority_levels(controller: &Controller) -> String {
    let mut rows = vec![cells(&[
        "PriorityLevelName",
        "ActiveQueues",
        "IsIdle",
        "IsQuiescing",
        "WaitingRequests",
        "ExecutingRequests",
        "DispatchedRequests",
        "RejectedRequests",
        "TimedoutRequests",
        "CancelledRequests",
    ])];
    for level in controller.dump(false) {
        let active_queues = level
            .queues
            .iter()
            .filter(|q| q.waiting_requests > 0)
            .count();
        let idle = level.waiting == 0 && level.executing == 0;
        rows.push(vec![
            level.priority_level.clone(),
            active_queues.to_string(),
            idle.to_string(),
            level.quiescing.to_string(),
            level.waiting.to_string(),
            level.executing.to_string(),
            level.dispatched.to_string(),
            level.rejected.total().to_string(),
            level.rejected.get(RejectReason::TimeOut).to_string(),
            level.rejected.get(RejectReason::Cancelled).to_string(),
        ]);
    }
    align(&rows)
}

/// `dump_queues`: one row per queue of the levels that queue.
pub fn queues(controller: &Controller) -> String {
    let mut rows = vec![cells(&[
        "PriorityLevelName",
        "Index",
        "PendingRequests",
        "ExecutingRequests",
        "SeatsInUse",
        "NextDispatchR",
        "InitialSeatsSum",
        "MaxSeatsSum",
        "TotalWorkSum",
    ])];
    for level in controller.dump(false) {
        for_each_queue(&level, |index, queue| {
            rows.push(queue_row(&level.priority_level, index, queue));
        });
    }
    align(&rows)
}

/// `dump_requests`: one row per waiting or executing request. `now_since_epoch` is the
/// wall clock (the server's clock seam), to print when each request arrived and started;
/// `include_details` adds kube's `includeRequestDetails` columns.
pub fn requests(
    controller: &Controller,
    now_since_epoch: Duration,
    include_details: bool,
) -> String {
    let mut header = cells(&[
        "PriorityLevelName",
        "FlowSchemaName",
        "QueueIndex",
        "RequestIndexInQueue",
        "FlowDistingsher",
        "ArriveTime",
        "InitialSeats",
        "FinalSeats",
        "AdditionalLatency",
        "StartTime",
    ]);
    if include_details {
        header.extend(cells(&[
            "UserName",
            "Verb",
            "APIPath",
            "Namespace",
            "Name",
            "APIVersion",
            "Resource",
            "SubResource",
        ]));
    }
    let mut rows = vec![header];
    for level in controller.dump(true) {
        let clock = WallClock {
            taken_at: level.taken_at,
            now_since_epoch,
        };
        let row = |queue: i64, index: i64, request: &RequestDump| {
            request_row(
                &level.priority_level,
                queue,
                index,
                request,
                &clock,
                include_details,
            )
        };
        for queue in &level.queues {
            let queue_index = i64::from(queue.index);
            for (index, request) in queue.waiting.iter().enumerate() {
                rows.push(row(queue_index, index as i64, request));
            }
            for request in &queue.executing {
                rows.push(row(queue_index, -1, request));
            }
        }
        for request in &level.queueless_executing {
            rows.push(row(-1, -1, request));
        }
    }
    align(&rows)
}

/// The `apiserver_flowcontrol_*` metrics of [`Controller::stats`], in Prometheus' text
/// exposition format, with kube's names and labels.
pub fn metrics(stats: &[LevelStats]) -> String {
    let mut out = String::new();
    let mut family =
        |name: &str, kind: &str, help: &str, samples: &mut dyn Iterator<Item = String>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for sample in samples {
                let _ = writeln!(out, "{name}{sample}");
            }
        };
    let per_schema = |value: fn(&crate::queueset::FlowSchemaStats) -> u64| {
        stats.iter().flat_map(move |level| {
            level.flow_schemas.iter().map(move |flow| {
                format!(
                    "{{flow_schema=\"{}\",priority_level=\"{}\"}} {}",
                    escape(&flow.flow_schema),
                    escape(&level.priority_level),
                    value(flow)
                )
            })
        })
    };
    family(
        "apiserver_flowcontrol_dispatched_requests_total",
        "counter",
        "Number of requests executed by API Priority and Fairness subsystem",
        &mut per_schema(|f| f.dispatched),
    );
    family(
        "apiserver_flowcontrol_rejected_requests_total",
        "counter",
        "Number of requests rejected by API Priority and Fairness subsystem",
        &mut stats.iter().flat_map(|level| {
            level.flow_schemas.iter().flat_map(move |flow| {
                RejectReason::ALL
                    .into_iter()
                    .filter(|&reason| flow.rejected.get(reason) > 0)
                    .map(move |reason| {
                        format!(
                            "{{flow_schema=\"{}\",priority_level=\"{}\",reason=\"{}\"}} {}",
                            escape(&flow.flow_schema),
                            escape(&level.priority_level),
                            reason.as_str(),
                            flow.rejected.get(reason)
                        )
                    })
            })
        }),
    );
    family(
        "apiserver_flowcontrol_current_inqueue_requests",
        "gauge",
        "Number of requests currently pending in queues of the API Priority and Fairness subsystem",
        &mut per_schema(|f| f.in_queue),
    );
    family(
        "apiserver_flowcontrol_current_executing_requests",
        "gauge",
        "Number of requests in initial (for a WATCH) or any (for a non-WATCH) execution stage in the API Priority and Fairness subsystem",
        &mut per_schema(|f| f.executing_requests),
    );
    family(
        "apiserver_flowcontrol_current_executing_seats",
        "gauge",
        "Concurrency (number of seats) occupied by the currently executing (initial stage for a WATCH, any stage otherwise) requests in the API Priority and Fairness subsystem",
        &mut per_schema(|f| f.executing_seats),
    );
    family(
        "apiserver_flowcontrol_nominal_limit_seats",
        "gauge",
        "Nominal number of execution seats configured for each priority level",
        &mut stats.iter().map(|level| {
            format!(
                "{{priority_level=\"{}\"}} {}",
                escape(&level.priority_level),
                level.concurrency_limit
            )
        }),
    );
    out
}

/// Prometheus label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

/// Calls `row` for each queue index `dump_queues` shows: every configured queue up to
/// [`MAX_DUMPED_IDLE_QUEUES`] (idle ones as `None`), then active ones past that (a smaller
/// `queues` leaves the old ones draining, as in kube).
fn for_each_queue(level: &QueueSetDump, mut row: impl FnMut(u32, Option<&QueueDump>)) {
    let configured = match level.config.mode {
        Mode::Queue { queues, .. } => queues.min(MAX_DUMPED_IDLE_QUEUES),
        Mode::Exempt | Mode::Reject => 0,
    };
    let mut active = level.queues.iter().peekable();
    for index in 0..configured {
        let queue = active.next_if(|q| q.index == index);
        row(index, queue);
    }
    for queue in active {
        row(queue.index, Some(queue));
    }
}

fn queue_row(priority_level: &str, index: u32, queue: Option<&QueueDump>) -> Vec<String> {
    let Some(queue) = queue else {
        let zero = SeatSeconds::ZERO.to_string();
        return vec![
            priority_level.to_owned(),
            index.to_string(),
            "0".to_owned(),
            "0".to_owned(),
            "0".to_owned(),
            zero.clone(),
            "0".to_owned(),
            "0".to_owned(),
            zero,
        ];
    };
    vec![
        priority_level.to_owned(),
        index.to_string(),
        queue.waiting_requests.to_string(),
        queue.executing_requests.to_string(),
        queue.seats_in_use.to_string(),
        queue.next_dispatch_r.to_string(),
        queue.initial_seats_sum.to_string(),
        queue.max_seats_sum.to_string(),
        queue.total_work_sum.to_string(),
    ]
}

fn request_row(
    priority_level: &str,
    queue: i64,
    index: i64,
    request: &RequestDump,
    clock: &WallClock,
    include_details: bool,
) -> Vec<String> {
    let mut row = vec![
        priority_level.to_owned(),
        request.note.flow_schema.clone(),
        queue.to_string(),
        index.to_string(),
        request.note.flow_distinguisher.clone(),
        clock.rfc3339_nano(request.arrival),
        request.seats.to_string(),
        "0".to_owned(),
        "0s".to_owned(),
        request.start.map_or_else(
            || GO_ZERO_TIME.to_owned(),
            |start| clock.rfc3339_nano(start),
        ),
    ];
    if include_details {
        let details = &request.note.details;
        row.extend([
            details.user_name.clone(),
            details.verb.clone(),
            details.path.clone(),
            details.namespace.clone(),
            details.name.clone(),
            details.api_version.clone(),
            details.resource.clone(),
            details.subresource.clone(),
        ]);
    }
    row
}

/// How Go prints its zero `time.Time` (a waiting request's `StartTime`).
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Turns the queue sets' monotonic instants into wall-clock times.
struct WallClock {
    taken_at: Instant,
    now_since_epoch: Duration,
}

impl WallClock {
    /// Go's `time.RFC3339Nano` in UTC: the fraction without trailing zeros, none if 0.
    fn rfc3339_nano(&self, at: Instant) -> String {
        let ago = self.taken_at.saturating_duration_since(at);
        let since_epoch = self.now_since_epoch.saturating_sub(ago);
        let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
        let whole = format_rfc3339(seconds);
        let nanos = since_epoch.subsec_nanos();
        if nanos == 0 {
            return whole;
        }
        let fraction = format!("{nanos:09}");
        let fraction = fraction.trim_end_matches('0');
        let date_time = whole.trim_end_matches('Z');
        format!("{date_time}.{fraction}Z")
    }
}

/// Go's `text/tabwriter` as kube sets it up (`NewWriter(w, 8, 0, 1, ' ', 0)`): each row's
/// cells joined by `,\t`, each column as wide as its widest cell plus one space and at
/// least 8; a row's last cell is not padded.
fn align(rows: &[Vec<String>]) -> String {
    const MIN_WIDTH: usize = 8;
    const PADDING: usize = 1;
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        let padded = row.len().saturating_sub(1);
        for (column, cell) in row.iter().take(padded).enumerate() {
            // The cell's text includes the `,` kube writes before the tab.
            let width = (cell.chars().count() + 1 + PADDING).max(MIN_WIDTH);
            match widths.get_mut(column) {
                Some(widest) => *widest = (*widest).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let padded = row.len().saturating_sub(1);
        for (column, cell) in row.iter().enumerate() {
            if column < padded {
                let text = format!("{cell},");
                let width = widths.get(column).copied().unwrap_or(MIN_WIDTH);
                let _ = write!(out, "{text:<width$}");
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::tests::{digest, runs_now, user, waits, workload_controller};
    use crate::shuffle::{Dealer, flow_hash};

    /// 2023-11-14T22:13:20Z.
    const EPOCH_NOW: Duration = Duration::from_secs(1_700_000_000);

    /// The rows' cells, as a reader of kube's dump splits them.
    fn table(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .map(|line| line.split(',').map(|cell| cell.trim().to_owned()).collect())
            .collect()
    }

    fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
        rows.iter()
            .find(|row| row[0] == first)
            .unwrap_or_else(|| panic!("no row for {first}"))
    }

    #[test]
    fn align_pads_columns_like_gos_tabwriter() {
        let rows = vec![cells(&["a", "bbb", "c"]), cells(&["aaaaaaaaaa", "b", "cc"])];
        // Column 1 is as wide as "aaaaaaaaaa," plus one; column 2 the minimum of 8; the
        // last cell of a row is not padded.
        assert_eq!(
            align(&rows),
            "a,          bbb,    c\naaaaaaaaaa, b,      cc\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dump_priority_levels_counts_each_level() {
        let controller = workload_controller();
        let _alice = runs_now(&controller, &user("alice"));
        let _bob = waits(&controller, &user("bob"));
        let _admin = runs_now(&controller, &digest("admin", &["system:masters"]));
        let text = priority_levels(&controller);
        // kube's header widths: each column is its header's width plus one.
        let line = |cells: [&str; 10]| {
            format!(
                "{:<19}{:<14}{:<8}{:<13}{:<17}{:<19}{:<20}{:<18}{:<18}{}\n",
                format!("{},", cells[0]),
                format!("{},", cells[1]),
                format!("{},", cells[2]),
                format!("{},", cells[3]),
                format!("{},", cells[4]),
                format!("{},", cells[5]),
                format!("{},", cells[6]),
                format!("{},", cells[7]),
                format!("{},", cells[8]),
                cells[9],
            )
        };
        let expected = [
            line([
                "PriorityLevelName",
                "ActiveQueues",
                "IsIdle",
                "IsQuiescing",
                "WaitingRequests",
                "ExecutingRequests",
                "DispatchedRequests",
                "RejectedRequests",
                "TimedoutRequests",
                "CancelledRequests",
            ]),
            line([
                "catch-all",
                "0",
                "true",
                "false",
                "0",
                "0",
                "0",
                "0",
                "0",
                "0",
            ]),
            line([
                "exempt", "0", "false", "false", "0", "1", "1", "0", "0", "0",
            ]),
            line([
                "workload", "1", "false", "false", "1", "1", "1", "0", "0", "0",
            ]),
        ]
        .concat();
        assert_eq!(text, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn dump_queues_lists_every_queue_of_the_levels_that_queue() {
        let controller = workload_controller();
        let _alice = runs_now(&controller, &user("alice"));
        let _bob = waits(&controller, &user("bob"));
        let rows = table(&queues(&controller));
        assert_eq!(
            rows[0],
            [
                "PriorityLevelName",
                "Index",
                "PendingRequests",
                "ExecutingRequests",
                "SeatsInUse",
                "NextDispatchR",
                "InitialSeatsSum",
                "MaxSeatsSum",
                "TotalWorkSum"
            ]
        );
        // workload's 2 queues; catch-all rejects and exempt never queues: no rows.
        assert_eq!(rows.len(), 3);
        let dealer = Dealer::new(2, 1).unwrap();
        let queue_of = |user: &str| dealer.deal(flow_hash("workload", user)).as_slice()[0];
        let (alice, bob) = (queue_of("alice"), queue_of("bob"));
        let mut expected = vec![vec!["0"; 9], vec!["0"; 9]];
        for (index, cells) in expected.iter_mut().enumerate() {
            cells[0] = "workload";
            cells[1] = if index == 0 { "0" } else { "1" };
            cells[5] = "0.00000000ss";
            cells[8] = "0.00000000ss";
        }
        let alice_row = &mut expected[alice as usize];
        alice_row[3] = "1";
        alice_row[4] = "1";
        // One dispatch of 1 seat for G = 3 ms.
        alice_row[5] = "0.00300000ss";
        let bob_row = &mut expected[bob as usize];
        bob_row[2] = "1";
        bob_row[6] = "1";
        bob_row[7] = "1";
        bob_row[8] = "0.00300000ss";
        assert_eq!(rows[1..], expected);
    }

    #[tokio::test(start_paused = true)]
    async fn dump_requests_lists_waiting_then_executing_then_unqueued_requests() {
        let controller = workload_controller();
        let _alice = runs_now(&controller, &user("alice"));
        tokio::time::advance(Duration::from_millis(500)).await;
        let _bob = waits(&controller, &user("bob"));
        let _admin = runs_now(&controller, &digest("admin", &["system:masters"]));
        tokio::time::advance(Duration::from_millis(1500)).await;
        let rows = table(&requests(&controller, EPOCH_NOW, true));
        assert_eq!(rows[0].len(), 18);
        assert_eq!(rows.len(), 4);
        let dealer = Dealer::new(2, 1).unwrap();
        let queue_of = |user: &str| dealer.deal(flow_hash("workload", user)).as_slice()[0];
        let admin = row(&rows, "exempt");
        assert_eq!(
            admin,
            [
                "exempt",
                "exempt",
                "-1",
                "-1",
                "",
                "2023-11-14T22:13:18.5Z",
                "1",
                "0",
                "0s",
                "2023-11-14T22:13:18.5Z",
                "admin",
                "list",
                "/api/v1/namespaces/default/pods",
                "default",
                "",
                "v1",
                "pods",
                ""
            ]
        );
        let workload: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "workload").collect();
        let waiting = workload.iter().find(|r| r[4] == "bob").unwrap();
        assert_eq!(waiting[2], queue_of("bob").to_string());
        assert_eq!(waiting[3], "0");
        assert_eq!(waiting[5], "2023-11-14T22:13:18.5Z");
        assert_eq!(waiting[9], "0001-01-01T00:00:00Z");
        let executing = workload.iter().find(|r| r[4] == "alice").unwrap();
        assert_eq!(executing[2], queue_of("alice").to_string());
        assert_eq!(executing[3], "-1");
        assert_eq!(executing[5], "2023-11-14T22:13:18Z");
        assert_eq!(executing[9], "2023-11-14T22:13:18Z");
        // Without details, the first ten columns only.
        let rows = table(&requests(&controller, EPOCH_NOW, false));
        assert!(rows.iter().all(|row| row.len() == 10));
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_use_kubes_names_and_labels() {
        let controller = workload_controller();
        let _alice = runs_now(&controller, &user("alice"));
        let _bob = waits(&controller, &user("bob"));
        let text = metrics(&controller.stats());
        for line in [
            "# TYPE apiserver_flowcontrol_dispatched_requests_total counter",
            "apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"workload\",priority_level=\"workload\"} 1",
            "apiserver_flowcontrol_current_inqueue_requests{flow_schema=\"workload\",priority_level=\"workload\"} 1",
            "apiserver_flowcontrol_current_executing_requests{flow_schema=\"workload\",priority_level=\"workload\"} 1",
            "apiserver_flowcontrol_current_executing_seats{flow_schema=\"workload\",priority_level=\"workload\"} 1",
            "apiserver_flowcontrol_nominal_limit_seats{priority_level=\"workload\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let _carol = runs_now(&controller, &user("carol"));
        let rejected = controller
            .admit(
                &user("dave"),
                crate::WorkEstimate::default(),
                Duration::ZERO,
            )
            .await;
        assert_eq!(rejected.unwrap_err().reason, RejectReason::ConcurrencyLimit);
        let text = metrics(&controller.stats());
        let line = "apiserver_flowcontrol_rejected_requests_total{flow_schema=\"catch-all\",priority_level=\"catch-all\",reason=\"concurrency-limit\"} 1";
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
