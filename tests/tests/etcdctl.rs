//! The real `etcdctl` against a 3-member cluster: what it prints is what a user sees.
//!
//! Each test starts its own cluster (kubesim, or etcd with `KUBESIM_E2E_TARGET=etcd`) and
//! asserts etcdctl's actual output: `-w json` parsed, or exact simple-format lines. Without
//! etcdctl on PATH each test skips, unless `KUBESIM_E2E=1` makes it fail.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use kubesim_tests::etcdctl::{self, Etcdctl, int, text, uint};
use kubesim_tests::{Cluster, bounded, wait_for};
use serde_json::Value;

/// etcd's default `--max-request-bytes` is 1.5 MiB; the gRPC limit sits 512 KiB above it, so
/// this value reaches the server and must be refused by it.
const OVERSIZED_VALUE_BYTES: usize = 1_700_000;
/// Well under the limit: must be accepted.
const LARGE_VALUE_BYTES: usize = 1024 * 1024;

/// Starts a cluster and etcdctl for it, or returns `None` when the test is skipped.
async fn setup(test: &str) -> anyhow::Result<Option<(Cluster, Etcdctl)>> {
    if !etcdctl::available_or_skip(test)? {
        return Ok(None);
    }
    let cluster = Cluster::start().await?;
    let ctl = Etcdctl::for_cluster(&cluster);
    Ok(Some((cluster, ctl)))
}

/// `(key, value)` of every kv in a `get -w json` answer; `kvs` is absent when empty.
fn kvs(response: &Value) -> anyhow::Result<Vec<(String, String)>> {
    let Some(kvs) = response.get("kvs") else {
        return Ok(Vec::new());
    };
    let kvs = kvs.as_array().context("kvs is not an array")?;
    kvs.iter()
        .map(|kv| Ok((text(kv, "key")?, text(kv, "value")?)))
        .collect()
}

fn header_revision(response: &Value) -> anyhow::Result<i64> {
    int(response.get("header").context("no header")?, "revision")
}

fn first_kv(response: &Value) -> anyhow::Result<&Value> {
    response
        .pointer("/kvs/0")
        .with_context(|| format!("no kv in {response}"))
}

/// Puts `key=value` and returns the revision it was written at.
async fn put(ctl: &Etcdctl, key: &str, value: &str) -> anyhow::Result<i64> {
    header_revision(&ctl.json(&["put", key, value]).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_and_delete_by_prefix() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("put_get_and_delete_by_prefix").await? else {
        return Ok(());
    };
    bounded(async {
        assert_eq!(ctl.ok(&["put", "a/1", "one"]).await?, "OK\n");
        put(&ctl, "a/2", "two").await?;
        put(&ctl, "a/3", "three").await?;
        put(&ctl, "b/1", "other").await?;

        let response = ctl.json(&["get", "--prefix", "a/"]).await?;
        let expected = [("a/1", "one"), ("a/2", "two"), ("a/3", "three")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(kvs(&response)?, expected);
        assert_eq!(int(&response, "count")?, 3);
        assert_eq!(ctl.ok(&["get", "a/2"]).await?, "a/2\ntwo\n");

        assert_eq!(ctl.ok(&["del", "--prefix", "a/"]).await?, "3\n");
        let response = ctl.json(&["get", "--prefix", "a/"]).await?;
        assert_eq!(kvs(&response)?, Vec::new());
        assert_eq!(int(&response, "count")?, 0);
        assert_eq!(
            ctl.ok(&["get", "b/1"]).await?,
            "b/1\nother\n",
            "outside the prefix"
        );
        assert_eq!(
            ctl.ok(&["del", "a/1"]).await?,
            "0\n",
            "deleting a missing key"
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_at_an_older_revision() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("get_at_an_older_revision").await? else {
        return Ok(());
    };
    bounded(async {
        let first = put(&ctl, "k", "v1").await?;
        let second = put(&ctl, "k", "v2").await?;
        assert_eq!(second, first + 1, "one revision per write");

        let old = ctl.json(&["get", "k", &format!("--rev={first}")]).await?;
        let kv = first_kv(&old)?;
        assert_eq!(text(kv, "value")?, "v1");
        assert_eq!(int(kv, "mod_revision")?, first);
        assert_eq!(int(kv, "version")?, 1);

        let now = ctl.json(&["get", "k"]).await?;
        let kv = first_kv(&now)?;
        assert_eq!(text(kv, "value")?, "v2");
        assert_eq!(int(kv, "create_revision")?, first);
        assert_eq!(int(kv, "mod_revision")?, second);
        assert_eq!(int(kv, "version")?, 2);

        let future = format!("--rev={}", second + 100);
        let output = ctl.run(&["get", "k", &future]).await?;
        assert!(!output.status.success());
        assert!(
            output
                .stderr
                .contains("etcdserver: mvcc: required revision is a future revision"),
            "{}",
            output.stderr
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_from_stdin_takes_the_right_branch() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("txn_from_stdin_takes_the_right_branch").await? else {
        return Ok(());
    };
    bounded(async {
        put(&ctl, "t/flag", "on").await?;

        // Compares, blank line, success ops, blank line, failure ops, blank line.
        let both_hold = "value(\"t/flag\") = \"on\"\ncreate(\"t/flag\") > \"0\"\n\n\
                         put t/then yes\n\nput t/else no\n\n";
        let output = ctl.run_with_stdin(&["txn"], both_hold.into()).await?;
        ensure!(output.status.success(), "txn failed: {}", output.stderr);
        assert_eq!(output.stdout, "SUCCESS\n\nOK\n");
        assert_eq!(ctl.ok(&["get", "t/then"]).await?, "t/then\nyes\n");
        assert_eq!(
            ctl.ok(&["get", "t/else"]).await?,
            "",
            "failure branch must not run"
        );

        let fails = "version(\"t/flag\") = \"7\"\n\nput t/then again\n\n\
                     put t/else no\nget t/flag\n\n";
        let output = ctl
            .run_with_stdin(&["txn", "-w", "json"], fails.into())
            .await?;
        ensure!(output.status.success(), "txn failed: {}", output.stderr);
        let response: Value = serde_json::from_str(&output.stdout)?;
        assert_ne!(
            response.get("succeeded"),
            Some(&Value::Bool(true)),
            "{response}"
        );
        let responses = response["responses"].as_array().context("no responses")?;
        assert_eq!(responses.len(), 2, "{response}");
        assert!(
            responses[0].pointer("/Response/ResponsePut").is_some(),
            "{response}"
        );
        let range = responses[1]
            .pointer("/Response/ResponseRange")
            .context("no range")?;
        assert_eq!(kvs(range)?, vec![("t/flag".to_string(), "on".to_string())]);
        assert_eq!(
            ctl.ok(&["get", "t/then"]).await?,
            "t/then\nyes\n",
            "success branch ran"
        );
        assert_eq!(ctl.ok(&["get", "t/else"]).await?, "t/else\nno\n");
        Ok(())
    })
    .await
}

/// One event as etcdctl's `watch -w json` prints it.
#[derive(Debug, PartialEq)]
struct WatchEvent {
    kind: &'static str,
    key: String,
    value: String,
    mod_revision: i64,
}

fn watch_events(line: &str) -> anyhow::Result<Vec<WatchEvent>> {
    let response: Value =
        serde_json::from_str(line).with_context(|| format!("watch printed {line:?}"))?;
    let Some(events) = response.get("Events").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    events
        .iter()
        .map(|event| {
            let kv = event.get("kv").context("event without kv")?;
            let kind = match int(event, "type")? {
                0 => "PUT",
                1 => "DELETE",
                other => bail!("unknown event type {other}"),
            };
            Ok(WatchEvent {
                kind,
                key: text(kv, "key")?,
                value: text(kv, "value")?,
                mod_revision: int(kv, "mod_revision")?,
            })
        })
        .collect()
}

fn event(kind: &'static str, key: &str, value: &str, mod_revision: i64) -> WatchEvent {
    WatchEvent {
        kind,
        key: key.into(),
        value: value.into(),
        mod_revision,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_revision_with_prefix() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("watch_from_a_revision_with_prefix").await? else {
        return Ok(());
    };
    bounded(async {
        let put_a = put(&ctl, "w/a", "1").await?;
        let del_a = header_revision(&ctl.json(&["del", "w/a"]).await?)?;
        let put_b = put(&ctl, "w/b", "2").await?;
        put(&ctl, "x/outside", "9").await?;

        let rev = format!("--rev={put_a}");
        let mut watch = ctl.spawn(&["watch", "--prefix", "w/", &rev, "-w", "json"])?;
        let mut seen = Vec::new();
        let mut expected = vec![
            event("PUT", "w/a", "1", put_a),
            event("DELETE", "w/a", "", del_a),
            event("PUT", "w/b", "2", put_b),
        ];
        read_events(&mut watch, &mut seen, expected.len()).await?;
        assert_eq!(seen, expected, "history replayed from --rev");

        // Now caught up: the next change arrives live.
        let put_c = put(&ctl, "w/c", "3").await?;
        expected.push(event("PUT", "w/c", "3", put_c));
        read_events(&mut watch, &mut seen, expected.len()).await?;
        assert_eq!(seen, expected, "live event after the history");
        watch.stop().await;
        Ok(())
    })
    .await
}

async fn read_events(
    watch: &mut etcdctl::Background,
    seen: &mut Vec<WatchEvent>,
    count: usize,
) -> anyhow::Result<()> {
    while seen.len() < count {
        let Some(line) = watch.next_line(Duration::from_secs(15)).await? else {
            bail!("watch ended after {} events: {seen:?}", seen.len());
        };
        seen.extend(watch_events(&line)?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_grant_keep_alive_and_revoke() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("lease_grant_keep_alive_and_revoke").await? else {
        return Ok(());
    };
    bounded(async {
        let granted = ctl.json(&["lease", "grant", "60"]).await?;
        let id = int(&granted, "ID")?;
        assert!(id > 0, "{granted}");
        assert_eq!(int(&granted, "TTL")?, 60);
        // etcdctl prints lease IDs as 16 zero-padded hex digits.
        let hex = format!("{id:016x}");
        let lease = format!("--lease={hex}");
        assert_eq!(ctl.ok(&["put", "l/1", "x", &lease]).await?, "OK\n");
        assert_eq!(ctl.ok(&["put", "l/2", "y", &lease]).await?, "OK\n");
        put(&ctl, "l/free", "z").await?;

        let kept = ctl.json(&["lease", "keep-alive", "--once", &hex]).await?;
        assert_eq!(int(&kept, "ID")?, id);
        assert_eq!(int(&kept, "TTL")?, 60);
        let simple = ctl.ok(&["lease", "keep-alive", "--once", &hex]).await?;
        assert_eq!(simple, format!("lease {hex} keepalived with TTL(60)\n"));

        let alive = ctl.json(&["lease", "timetolive", &hex, "--keys"]).await?;
        assert_eq!(int(&alive, "granted-ttl")?, 60);
        let ttl = int(&alive, "ttl")?;
        assert!((50..=60).contains(&ttl), "remaining TTL {ttl}");
        let keys = alive["keys"].as_array().context("no keys")?;
        let mut keys: Vec<String> = keys
            .iter()
            .map(|key| etcdctl::base64_decode(key.as_str().unwrap_or("")))
            .map(|bytes| Ok(String::from_utf8(bytes?)?))
            .collect::<anyhow::Result<_>>()?;
        keys.sort();
        assert_eq!(keys, ["l/1", "l/2"]);

        assert_eq!(
            ctl.ok(&["lease", "revoke", &hex]).await?,
            format!("lease {hex} revoked\n")
        );
        let left = ctl.json(&["get", "--prefix", "l/"]).await?;
        assert_eq!(kvs(&left)?, vec![("l/free".to_string(), "z".to_string())]);
        let gone = ctl.json(&["lease", "timetolive", &hex]).await?;
        assert_eq!(int(&gone, "ttl")?, -1, "a revoked lease has no TTL: {gone}");

        let again = ctl.run(&["lease", "revoke", &hex]).await?;
        assert!(!again.status.success());
        assert!(
            again
                .stderr
                .contains("etcdserver: requested lease not found"),
            "{}",
            again.stderr
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_expiry_deletes_its_keys() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("lease_expiry_deletes_its_keys").await? else {
        return Ok(());
    };
    bounded(async {
        let granted = ctl.json(&["lease", "grant", "2"]).await?;
        let hex = format!("{:x}", int(&granted, "ID")?);
        assert_eq!(int(&granted, "TTL")?, 2);
        ctl.ok(&["put", "e/1", "v", &format!("--lease={hex}")])
            .await?;
        assert_eq!(
            ctl.ok(&["get", "e/1"]).await?,
            "e/1\nv\n",
            "present while the lease lives"
        );

        wait_for(
            "the key of an expired lease to go",
            Duration::from_secs(15),
            Duration::from_millis(250),
            || async { Ok(ctl.ok(&["get", "e/1"]).await?.is_empty().then_some(())) },
        )
        .await?;
        let gone = ctl.json(&["lease", "timetolive", &hex]).await?;
        assert_eq!(int(&gone, "ttl")?, -1, "{gone}");
        Ok(())
    })
    .await
}

/// `(name, peer URLs, client URLs)`: a member as `member list` shows it.
type ListedMember = (String, Vec<String>, Vec<String>);

/// Every member in `member list -w json`, sorted.
fn members(list: &Value) -> anyhow::Result<Vec<ListedMember>> {
    let strings = |member: &Value, field: &str| -> Vec<String> {
        let values = member.get(field).and_then(Value::as_array);
        values
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    };
    let members = list["members"].as_array().context("no members")?;
    let mut out: Vec<_> = members
        .iter()
        .map(|m| {
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (name, strings(m, "peerURLs"), strings(m, "clientURLs"))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn expected_member(cluster: &Cluster, index: usize) -> ListedMember {
    let member = cluster.member(index);
    (
        member.name.clone(),
        vec![member.peer_url()],
        vec![member.client_url()],
    )
}

/// The value of `NAME="value"` in `member add`'s output.
fn env_line(output: &str, name: &str) -> anyhow::Result<String> {
    let prefix = format!("{name}=\"");
    let line = output.lines().find_map(|line| line.strip_prefix(&prefix));
    let value = line.and_then(|rest| rest.strip_suffix('"'));
    value
        .map(String::from)
        .with_context(|| format!("no {name} in {output:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_list_add_and_remove() -> anyhow::Result<()> {
    let Some((mut cluster, ctl)) = setup("member_list_add_and_remove").await? else {
        return Ok(());
    };
    bounded(async {
        let founders: Vec<_> = (0..3).map(|i| expected_member(&cluster, i)).collect();
        // etcd publishes a member's name and client URLs before it serves; kubesim may do it
        // a moment later. Either way the list must settle on every founder, fully described.
        let settle = Duration::from_secs(10);
        wait_for(
            "the founders' member list",
            settle,
            Duration::from_millis(250),
            || async {
                let list = members(&ctl.json(&["member", "list"]).await?)?;
                ensure!(list.len() == founders.len(), "{list:?}");
                Ok((list == founders).then_some(()))
            },
        )
        .await?;
        put(&ctl, "before-add", "1").await?;

        let new = cluster.plan_member()?;
        let peer_url = cluster.member(new).peer_url();
        let add = ["member", "add", "m3", &format!("--peer-urls={peer_url}")];
        // etcd refuses to reconfigure until every member has been connected for 5 s
        // ("unhealthy cluster"); a real client retries, so does this one.
        let added = wait_for(
            "member add",
            Duration::from_secs(20),
            Duration::from_millis(500),
            || async {
                let output = ctl.run(&add).await?;
                if output.status.success() {
                    return Ok(Some(output.stdout));
                }
                ensure!(
                    output.stderr.contains("unhealthy cluster"),
                    "{}",
                    output.stderr
                );
                Ok(None)
            },
        )
        .await?;
        let first = added.lines().next().unwrap_or("");
        let words: Vec<&str> = first.split_whitespace().collect();
        ensure!(
            words.len() == 6 && words[0] == "Member" && words[2] == "added",
            "{added}"
        );
        let id = u64::from_str_radix(words[1], 16).with_context(|| added.clone())?;
        assert_eq!(env_line(&added, "ETCD_NAME")?, "m3");
        assert_eq!(env_line(&added, "ETCD_INITIAL_CLUSTER_STATE")?, "existing");
        assert_eq!(
            env_line(&added, "ETCD_INITIAL_ADVERTISE_PEER_URLS")?,
            peer_url
        );
        let initial_cluster = env_line(&added, "ETCD_INITIAL_CLUSTER")?;
        let mut entries: Vec<&str> = initial_cluster.split(',').collect();
        entries.sort();
        let mut expected_entries: Vec<String> = (0..4)
            .map(|i| {
                format!(
                    "{}={}",
                    cluster.member(i).name,
                    cluster.member(i).peer_url()
                )
            })
            .collect();
        expected_entries.sort();
        assert_eq!(entries, expected_entries);

        // Added but not started: listed with its peer URL, no name, no client URL.
        let mut pending = founders.clone();
        pending.push((String::new(), vec![peer_url.clone()], Vec::new()));
        pending.sort();
        assert_eq!(members(&ctl.json(&["member", "list"]).await?)?, pending);

        cluster.start_added(new, &initial_cluster)?;
        let mut joined = founders.clone();
        joined.push(expected_member(&cluster, new));
        joined.sort();
        wait_for(
            "m3 to join",
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async {
                let list = members(&ctl.json(&["member", "list"]).await?)?;
                Ok((list == joined).then_some(()))
            },
        )
        .await?;
        let on_new = Etcdctl::new(vec![cluster.endpoint(new)]);
        let read = wait_for(
            "m3 to serve reads",
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async { Ok(Some(on_new.ok(&["get", "before-add"]).await?)) },
        )
        .await?;
        assert_eq!(read, "before-add\n1\n", "the new member caught up");

        let removed = ctl.ok(&["member", "remove", &format!("{id:x}")]).await?;
        let words: Vec<&str> = removed.split_whitespace().collect();
        ensure!(words.len() == 6 && words[0] == "Member", "{removed}");
        assert_eq!(
            words[1..4],
            [format!("{id:x}").as_str(), "removed", "from"],
            "{removed}"
        );
        wait_for(
            "m3 to leave the list",
            Duration::from_secs(15),
            Duration::from_millis(250),
            || async {
                let list = members(&ctl.json(&["member", "list"]).await?)?;
                Ok((list == founders).then_some(()))
            },
        )
        .await?;
        put(&ctl, "after-remove", "1").await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_status_on_every_endpoint() -> anyhow::Result<()> {
    let Some((cluster, ctl)) = setup("endpoint_status_on_every_endpoint").await? else {
        return Ok(());
    };
    bounded(async {
        put(&ctl, "s", "1").await?;
        let list = ctl.json(&["member", "list"]).await?;
        let ids: Vec<u64> = list["members"]
            .as_array()
            .context("no members")?
            .iter()
            .map(|m| uint(m, "ID"))
            .collect::<anyhow::Result<_>>()?;

        let statuses = ctl.json(&["endpoint", "status"]).await?;
        let statuses = statuses.as_array().context("status is not a list")?;
        let mut endpoints: Vec<&str> = statuses
            .iter()
            .filter_map(|s| s["Endpoint"].as_str())
            .collect();
        endpoints.sort();
        let mut expected = cluster.endpoints();
        expected.sort();
        assert_eq!(endpoints, expected);

        let leader = uint(&statuses[0]["Status"], "leader")?;
        assert!(ids.contains(&leader), "leader {leader:x} not in {ids:x?}");
        let mut leaders_seen = 0;
        for entry in statuses {
            let status = &entry["Status"];
            let header = status.get("header").context("no header")?;
            assert_eq!(uint(status, "leader")?, leader, "{entry}");
            assert!(ids.contains(&uint(header, "member_id")?), "{entry}");
            assert!(uint(status, "raftTerm")? >= 1, "{entry}");
            assert!(uint(status, "raftIndex")? >= 1, "{entry}");
            assert!(header_revision(status)? >= 2, "the put is visible: {entry}");
            if uint(header, "member_id")? == leader {
                leaders_seen += 1;
            }
        }
        assert_eq!(leaders_seen, 1, "exactly one endpoint is the leader");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_makes_old_revisions_unreadable() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("compaction_makes_old_revisions_unreadable").await? else {
        return Ok(());
    };
    bounded(async {
        let first = put(&ctl, "c", "v1").await?;
        let second = put(&ctl, "c", "v2").await?;
        put(&ctl, "c", "v3").await?;

        let compacted = ctl.ok(&["compaction", &second.to_string()]).await?;
        assert_eq!(compacted, format!("compacted revision {second}\n"));

        let output = ctl.run(&["get", "c", &format!("--rev={first}")]).await?;
        assert!(!output.status.success(), "{output:?}");
        assert!(output.stdout.is_empty(), "{output:?}");
        assert!(
            output
                .stderr
                .contains("Error: etcdserver: mvcc: required revision has been compacted"),
            "{}",
            output.stderr
        );
        let at_compaction = ctl.ok(&["get", "c", &format!("--rev={second}")]).await?;
        assert_eq!(
            at_compaction, "c\nv2\n",
            "the compact revision itself stays readable"
        );
        assert_eq!(ctl.ok(&["get", "c"]).await?, "c\nv3\n");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_value_is_rejected() -> anyhow::Result<()> {
    let Some((_cluster, ctl)) = setup("oversized_value_is_rejected").await? else {
        return Ok(());
    };
    bounded(async {
        // Through stdin: one argv string may not exceed 128 KiB.
        let too_large = vec![b'a'; OVERSIZED_VALUE_BYTES];
        let output = ctl.run_with_stdin(&["put", "big"], too_large).await?;
        assert!(!output.status.success(), "{:?}", output.stdout);
        assert!(
            output
                .stderr
                .contains("Error: etcdserver: request is too large"),
            "{}",
            output.stderr
        );
        assert_eq!(
            ctl.ok(&["get", "big"]).await?,
            "",
            "a refused put changes nothing"
        );

        let large = vec![b'b'; LARGE_VALUE_BYTES];
        let output = ctl.run_with_stdin(&["put", "big"], large).await?;
        ensure!(
            output.status.success(),
            "a 1 MiB value is allowed: {}",
            output.stderr
        );
        let read = ctl.json(&["get", "big"]).await?;
        assert_eq!(text(first_kv(&read)?, "value")?.len(), LARGE_VALUE_BYTES);
        Ok(())
    })
    .await
}
