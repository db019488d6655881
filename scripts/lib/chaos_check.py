#!/usr/bin/env python3
"""The checks of scripts/chaos.sh that read JSON or compare histories (standard library only).

  status               etcdctl `endpoint status -w json` on stdin → one line per member:
                       endpoint member_id leader_id revision raft_term (ids in hex)
  hashkv               etcdctl `endpoint hashkv -w json` on stdin → endpoint hash compact_revision
  writes LOG MARK_MS   the writer's log → key=value numbers: acked, failed, max_gap_ms (longest
                       time between two acknowledgements), pause_ms (the same, counting only
                       gaps that end after MARK_MS), acked_after_mark (writes sent after
                       MARK_MS and acknowledged); exits 1 if acknowledged revisions ever fail to
                       rise (RELIABILITY.md property 2)
  acked LOG GET_OUT    every acknowledged write of LOG is in GET_OUT (`etcdctl get --prefix`
                       output) with its value, and nothing there was never written; exits 1 if not
  webhook KIND SERVICE a list of webhook configurations on stdin → name failurePolicy
                       timeoutSeconds of the webhook whose clientConfig reaches SERVICE
  status-body FILE     a Status body → its code, reason and message on one line
  labels FILE          an object → its labels, key=value, sorted, one per line
  watch FILE NAMES     a watch stream → each name in NAMES (one per line) was delivered ADDED
                       exactly once, resourceVersions rise; exits 1 if not
  names FILE           a list → its items' names, one per line
  epoch-ms TIME        an RFC 3339 time with nanoseconds (docker's FinishedAt) → Unix milliseconds

The writer's log (scripts/lib/chaos-store.sh) has one line per put:
  ack SENT_MS DONE_MS KEY VALUE REVISION    the store acknowledged it
  err SENT_MS DONE_MS KEY VALUE MESSAGE…    no acknowledgement: outcome unknown (may be stored)
"""

import datetime
import json
import re
import sys


def status(_args):
    for entry in json.load(sys.stdin):
        st = entry["Status"]
        header = st["header"]
        print(entry["Endpoint"], format(header["member_id"], "x"), format(st["leader"], "x"),
              header["revision"], st.get("raftTerm", header.get("raft_term", 0)))


def hashkv(_args):
    for entry in json.load(sys.stdin):
        hkv = entry["HashKV"]
        print(entry["Endpoint"], hkv["hash"], hkv.get("compact_revision", 0))


def read_writes(path):
    """(acks, errs): acks as (sent_ms, done_ms, key, value, revision), errs as (sent, done, key, value)."""
    acks, errs = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[0] == "ack":
                acks.append((int(parts[1]), int(parts[2]), parts[3], parts[4], int(parts[5])))
            elif len(parts) >= 5 and parts[0] == "err":
                errs.append((int(parts[1]), int(parts[2]), parts[3], parts[4]))
    return acks, errs


def writes(args):
    acks, errs = read_writes(args[0])
    mark = int(args[1])
    done = [a[1] for a in acks]
    gaps = [b - a for a, b in zip(done, done[1:])]
    # The pause the fault caused: the longest wait between two acknowledgements, the second of
    # them after the fault (a write in flight at the fault may still be acknowledged at once).
    pauses = [b - a for a, b in zip(done, done[1:]) if b >= mark]
    after = [a for a in acks if a[0] >= mark]
    print(f"acked={len(acks)}")
    print(f"failed={len(errs)}")
    print(f"max_gap_ms={max(gaps, default=0)}")
    print(f"acked_after_mark={len(after)}")
    print(f"pause_ms={max(pauses, default=-1)}")
    # One writer, one put at a time: each acknowledged put must land at a higher revision.
    for prev, cur in zip(acks, acks[1:]):
        if cur[4] <= prev[4]:
            sys.exit(f"revision went back: {prev[2]} at {prev[4]}, then {cur[2]} at {cur[4]}")
    print(f"last_revision={acks[-1][4] if acks else 0}")


def read_get_output(path):
    """`etcdctl get --prefix` output: key and value on alternate lines."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return dict(zip(lines[0::2], lines[1::2]))


def acked(args):
    acks, errs = read_writes(args[0])
    stored = read_get_output(args[1])
    missing = [(k, v) for _, _, k, v, _ in acks if stored.get(k) != v]
    attempted = {a[2] for a in acks} | {e[2] for e in errs}
    unknown = sorted(k for k in stored if k not in attempted)
    unacked_present = sum(1 for e in errs if e[2] in stored)
    print(f"{len(acks) - len(missing)}/{len(acks)} acknowledged writes present, "
          f"{unacked_present}/{len(errs)} unacknowledged ones present, {len(stored)} keys")
    for k, v in missing[:10]:
        print(f"  LOST: {k} (acknowledged with {v}, read {stored.get(k)!r})")
    for k in unknown[:10]:
        print(f"  NEVER WRITTEN: {k}")
    sys.exit(1 if missing or unknown else 0)


def reaches(hook, service):
    cfg = hook.get("clientConfig", {})
    svc = cfg.get("service") or {}
    url = cfg.get("url") or ""
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return svc.get("name") == service or host == service


def webhook(args):
    doc = json.load(sys.stdin)
    for cfg in doc.get("items", []):
        for hook in cfg.get("webhooks") or []:
            if reaches(hook, args[1]):
                print(hook["name"], hook.get("failurePolicy", "Fail"), hook.get("timeoutSeconds", 10))
                return
    sys.exit(f"no {args[0]} webhook reaches the service {args[1]}")


def status_body(args):
    try:
        with open(args[0], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        print("- - (not a Status)")
        return
    print(doc.get("code", "-"), doc.get("reason", "-"), doc.get("message", ""))


def labels(args):
    with open(args[0], encoding="utf-8") as f:
        doc = json.load(f)
    for k, v in sorted((doc.get("metadata", {}).get("labels") or {}).items()):
        print(f"{k}={v}")


def watch(args):
    counts, last_rv, events = {}, 0, 0
    with open(args[0], encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue  # the last line of a stream cut by --max-time
            events += 1
            meta = ev.get("object", {}).get("metadata", {})
            rv = int(meta.get("resourceVersion", "0") or 0)
            if ev.get("type") == "ERROR":
                sys.exit(f"the watch delivered an ERROR event: {line[:300]}")
            if rv and rv <= last_rv and ev.get("type") != "BOOKMARK":
                sys.exit(f"resourceVersion went back in the watch: {last_rv} then {rv}")
            last_rv = max(last_rv, rv)
            if ev.get("type") == "ADDED":
                counts[meta.get("name")] = counts.get(meta.get("name"), 0) + 1
    with open(args[1], encoding="utf-8") as f:
        names = [n.strip() for n in f if n.strip()]
    missing = [n for n in names if counts.get(n, 0) == 0]
    twice = [n for n in names if counts.get(n, 0) > 1]
    print(f"{len(names) - len(missing)}/{len(names)} creates delivered, {len(twice)} twice, "
          f"{events} events, last resourceVersion {last_rv}")
    if missing:
        print("  missing: " + " ".join(missing[:10]))
    if twice:
        print("  delivered twice: " + " ".join(twice[:10]))
    sys.exit(1 if missing or twice else 0)


def names(args):
    with open(args[0], encoding="utf-8") as f:
        doc = json.load(f)
    for item in doc.get("items", []):
        print(item.get("metadata", {}).get("name", ""))


def epoch_ms(args):
    # Python's fromisoformat takes at most microseconds: cut the nanoseconds' last digits.
    text = re.sub(r"(\.\d{6})\d*", r"\1", args[0]).replace("Z", "+00:00")
    print(int(datetime.datetime.fromisoformat(text).timestamp() * 1000))


COMMANDS = {"status": status, "hashkv": hashkv, "writes": writes, "acked": acked,
            "webhook": webhook, "status-body": status_body, "labels": labels, "watch": watch,
            "names": names, "epoch-ms": epoch_ms}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
