//! [`Samples`] as one JSON line, the way a child process hands its run to the parent
//! (`kubesim-sim experiment`): a hand encoding, so the framework's types need no serde.
//!
//! `{"requests": [[start_ns, latency_ns, outcome, {stage: ns, ...}], ...]}` with `outcome`
//! one of `ok`, `denied:<code>`, `timeout`, `error:<code>`, `error:` (no answer), `skipped`.
//! Nanoseconds keep every duration exact, so a decoded run equals the run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::experiment::{Outcome, RequestRecord, Samples};

/// Bound on the records read back from one line: far above what a run of an hour makes.
pub const MAX_RECORDS: usize = 2_000_000;

pub fn encode(samples: &Samples) -> String {
    let requests: Vec<Value> = samples
        .requests
        .iter()
        .map(|r| {
            let stages: Map<String, Value> = r
                .stages
                .iter()
                .map(|(name, took)| (name.clone(), json!(nanos(*took))))
                .collect();
            json!([
                nanos(r.start),
                nanos(r.latency),
                outcome_text(r.outcome),
                stages
            ])
        })
        .collect();
    json!({ "requests": requests }).to_string()
}

pub fn decode(line: &str) -> Result<Samples, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("samples: {e}"))?;
    let requests = value
        .get("requests")
        .and_then(Value::as_array)
        .ok_or("samples: no `requests` array")?;
    if requests.len() > MAX_RECORDS {
        return Err(format!("samples: over {MAX_RECORDS} records"));
    }
    let requests = requests.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    Ok(Samples { requests })
}

fn record(value: &Value) -> Result<RequestRecord, String> {
    let bad = || format!("samples: a malformed record {value}");
    let [start, latency, outcome, stages] = value.as_array().map(Vec::as_slice).ok_or_else(bad)?
    else {
        return Err(bad());
    };
    let duration = |v: &Value| v.as_u64().map(Duration::from_nanos).ok_or_else(bad);
    let stages = stages
        .as_object()
        .ok_or_else(bad)?
        .iter()
        .map(|(name, took)| Ok((name.clone(), duration(took)?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(RequestRecord {
        start: duration(start)?,
        latency: duration(latency)?,
        stages,
        outcome: parse_outcome(outcome.as_str().ok_or_else(bad)?).ok_or_else(bad)?,
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn outcome_text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Ok => "ok".into(),
        Outcome::Denied { code } => format!("denied:{code}"),
        Outcome::Timeout => "timeout".into(),
        Outcome::Error { code: Some(code) } => format!("error:{code}"),
        Outcome::Error { code: None } => "error:".into(),
        Outcome::Skipped => "skipped".into(),
    }
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    Some(match text {
        "ok" => Outcome::Ok,
        "timeout" => Outcome::Timeout,
        "skipped" => Outcome::Skipped,
        "error:" => Outcome::Error { code: None },
        _ => match text.split_once(':')? {
            ("denied", code) => Outcome::Denied {
                code: code.parse().ok()?,
            },
            ("error", code) => Outcome::Error {
                code: Some(code.parse().ok()?),
            },
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip() {
        let record = |outcome, ns| RequestRecord {
            start: Duration::from_nanos(ns),
            latency: Duration::from_nanos(ns * 3 + 1),
            stages: BTreeMap::from([("storage".to_owned(), Duration::from_nanos(ns + 7))]),
            outcome,
        };
        let samples = Samples {
            requests: vec![
                record(Outcome::Ok, 1),
                record(Outcome::Denied { code: 403 }, 2),
                record(Outcome::Timeout, 3),
                record(Outcome::Error { code: Some(500) }, 4),
                record(Outcome::Error { code: None }, 5),
                record(Outcome::Skipped, 6),
            ],
        };
        assert_eq!(decode(&encode(&samples)), Ok(samples));
        assert!(decode("{\"requests\": [[1, 2, \"maybe\", {}]]}").is_err());
        assert!(decode("[]").is_err());
    }
}
