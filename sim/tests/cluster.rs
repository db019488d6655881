//! A three-member kubesim store under turmoil, seen by an etcd v3 client.
//!
//! - `put_on_one_member_read_linearizable_on_another`: a leader is elected; a write acked by
//!   one member is visible to a linearizable read on another (RELIABILITY.md property 1).
//! - `same_seed_same_trace`: one seed, run twice, gives the same client-visible history.
//! - `leader_crash_and_restart`, `leader_power_cut_and_restart`: the leader's process dies
//!   (peers see its connections close) or its machine loses power (peers see nothing); writes
//!   continue on the others, the revision only rises (property 2), and the restarted member
//!   catches up and still holds every acknowledged write (property 3).
//!
//! Replay a failure with `KUBESIM_SEED=<seed> cargo test -p kubesim-sim --test cluster`.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use kubesim_sim::client::{MemberClient, Read, find_leader};
use kubesim_sim::{Cluster, ClusterConfig, Fault, Trace, seed_from_env};

/// Writes `rounds` keys through `writer` and reads each back, linearizably, through
/// `reader`. Returns the revision of the last write.
async fn write_and_read_back(
    writer: &mut MemberClient,
    reader: &mut MemberClient,
    prefix: &str,
    rounds: usize,
) -> anyhow::Result<i64> {
    let mut last_revision = 0;
    for i in 0..rounds {
        let key = format!("{prefix}-{i}");
        let value = format!("value-{i}");
        let revision = writer.put(&key, &value).await?;
        ensure!(
            revision > last_revision,
            "revision went from {last_revision} to {revision}"
        );
        last_revision = revision;
        let read = reader.get(&key, false).await?;
        expect_value(&read, &key, &value, revision)?;
    }
    Ok(last_revision)
}

/// `read` holds `value`, written at `revision` or later (a retried put may apply twice).
fn expect_value(read: &Read, key: &str, value: &str, revision: i64) -> anyhow::Result<()> {
    let kv = read
        .kv
        .as_ref()
        .with_context(|| format!("{key} absent at revision {}", read.revision))?;
    ensure!(kv.value == value.as_bytes(), "{key}: stale value {kv:?}");
    ensure!(
        kv.mod_revision >= revision && read.revision >= kv.mod_revision,
        "{key}: mod_revision {} (read at {}), written at {revision}",
        kv.mod_revision,
        read.revision
    );
    Ok(())
}

/// Runs the put-here-read-there scenario and returns its trace.
fn put_and_read_run(seed: u64) -> anyhow::Result<Trace> {
    let mut config = ClusterConfig::new(seed);
    config.simulation_duration = Duration::from_secs(60);
    let mut cluster = Cluster::new(config);
    let trace = Trace::new();
    let client_trace = trace.clone();
    cluster.client("client", async move {
        let mut writer = MemberClient::new("store-1", &client_trace)?;
        let mut reader = MemberClient::new("store-2", &client_trace)?;
        write_and_read_back(&mut writer, &mut reader, "key", 5).await?;
        // And the other way round: the second member accepts writes too.
        write_and_read_back(&mut reader, &mut writer, "back", 2).await?;
        Ok(())
    });
    cluster.run()?;
    Ok(trace)
}

#[test]
fn put_on_one_member_read_linearizable_on_another() -> anyhow::Result<()> {
    let trace = put_and_read_run(seed_from_env(1))?;
    let puts = trace
        .events()
        .iter()
        .filter(|e| e.contains(" -> revision "))
        .count();
    assert_eq!(puts, 7, "trace:\n{}", trace.events().join("\n"));
    Ok(())
}

#[test]
fn same_seed_same_trace() -> anyhow::Result<()> {
    let seed = seed_from_env(2);
    let first = put_and_read_run(seed)?;
    let second = put_and_read_run(seed)?;
    println!("seed {seed}: trace hash {:016x}", first.hash());
    assert_eq!(
        first.events(),
        second.events(),
        "seed {seed} gave two different traces"
    );
    assert_eq!(first.hash(), second.hash());
    assert!(first.events().len() >= 14, "too short to mean anything");
    Ok(())
}

/// Polls until every member agrees on one leader.
async fn wait_for_leader(members: &mut [MemberClient]) -> anyhow::Result<String> {
    for _ in 0..100 {
        if let Some(leader) = find_leader(members).await {
            return Ok(leader);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no agreed leader after 100 polls")
}

/// Polls `member`'s own state (serializable reads) until it has applied `revision`.
async fn wait_caught_up(member: &mut MemberClient, key: &str, revision: i64) -> anyhow::Result<()> {
    for _ in 0..100 {
        let read = member.get(key, true).await?;
        if read.revision >= revision {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{} never reached revision {revision}", member.name)
}

#[test]
fn leader_crash_and_restart() -> anyhow::Result<()> {
    leader_fault_and_restart(seed_from_env(3), Fault::Crash)
}

#[test]
fn leader_power_cut_and_restart() -> anyhow::Result<()> {
    leader_fault_and_restart(seed_from_env(4), Fault::PowerCut)
}

/// Writes, stops the leader with `fault`, writes through the others, restarts it, and checks
/// that it catches up, kept what was acknowledged, and serves again.
fn leader_fault_and_restart(seed: u64, fault: fn(String) -> Fault) -> anyhow::Result<()> {
    let mut cluster = Cluster::new(ClusterConfig::new(seed));
    let faults = cluster.faults();
    let names = cluster.member_names();
    let trace = Trace::new();
    let client_trace = trace.clone();
    cluster.client("client", async move {
        let mut members = names
            .iter()
            .map(|name| MemberClient::new(name, &client_trace))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let before = {
            let (first, rest) = members.split_at_mut(1);
            write_and_read_back(&mut first[0], &mut rest[0], "before", 3).await?
        };
        let leader = wait_for_leader(&mut members).await?;
        let fault = fault(leader.clone());
        client_trace.record(format!("leader is {leader}; {fault:?}"));
        faults.inject(fault);
        tokio::time::sleep(Duration::from_millis(50)).await;

        let (mut down, mut up): (Vec<_>, Vec<_>) =
            members.into_iter().partition(|m| m.name == leader);
        let during = {
            let (a, b) = up.split_at_mut(1);
            write_and_read_back(&mut a[0], &mut b[0], "during", 3).await?
        };
        ensure!(during > before, "revision went back: {before} -> {during}");
        let new_leader = wait_for_leader(&mut up).await?;
        ensure!(new_leader != leader, "the crashed member still leads");

        client_trace.record(format!("restarting {leader}"));
        faults.inject(Fault::Bounce(leader.clone()));
        let restarted = &mut down[0];
        wait_caught_up(restarted, "during-2", during).await?;
        // What was acknowledged before the power cut survived it.
        for i in 0..3 {
            let read = restarted.get(&format!("before-{i}"), true).await?;
            expect_value(&read, &format!("before-{i}"), &format!("value-{i}"), 0)?;
        }
        // The restarted member serves linearizable reads and takes writes again.
        let after = write_and_read_back(restarted, &mut up[0], "after", 2).await?;
        ensure!(after > during, "revision went back: {during} -> {after}");
        Ok(())
    });
    let result = cluster.run();
    // Shown with --nocapture, and by the test harness when the test fails.
    println!("seed {seed}: trace hash {:016x}", trace.hash());
    println!("trace:\n{}", trace.events().join("\n"));
    result
}
