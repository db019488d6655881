//! The demo's output, as plain functions of what the server answered: the request and answer
//! lines, the stage breakdown (`Server-Timing`), a `Status`'s reason and message, a user,
//! and the key lines CI looks for.

use serde_json::Value;

/// Explanations are wrapped to this many columns.
pub const WIDTH: usize = 96;

/// `text` wrapped at word boundaries to [`WIDTH`] columns, every line indented as `text` is.
pub fn wrap(text: &str) -> String {
    let indent = &text[..text.len() - text.trim_start().len()];
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines.join("\n")
}

/// The line CI greps for at the end of step `step`.
pub fn ok_line(step: u32, text: &str) -> String {
    format!("[ok] step {step}: {text}")
}

/// The line a failed step ends with.
pub fn fail_line(step: u32, title: &str, error: &str) -> String {
    format!("[FAIL] step {step} ({title}): {error}")
}

/// `── step 3: 401 vs 403 ──`.
pub fn heading(step: u32, title: &str) -> String {
    format!("\n== step {step}: {title} ==")
}

/// `  → POST /api/v1/... as jane (context jane@kubesim)`.
pub fn request_line(method: &str, path: &str, who: &str) -> String {
    format!("  -> {method} {path}  as {who}")
}

/// `  <- 201 Created in 4.2 ms (Audit-Id 1f2e...)`.
pub fn answer_line(code: u16, elapsed_ms: f64, audit_id: Option<&str>) -> String {
    let reason = hyper::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason());
    let status = reason.map_or(code.to_string(), |reason| format!("{code} {reason}"));
    let id = audit_id.map_or(String::new(), |id| format!("  Audit-Id {id}"));
    format!("  <- {status} in {elapsed_ms:.1} ms{id}")
}

/// Each stage of `Server-Timing` (`name;dur=ms, ...`) as `(name, ms)`, in order; entries
/// without a duration are left out.
pub fn stages(server_timing: &str) -> Vec<(String, f64)> {
    server_timing
        .split(',')
        .filter_map(|entry| {
            let (name, rest) = entry.trim().split_once(';')?;
            let ms = rest.trim().strip_prefix("dur=")?.parse::<f64>().ok()?;
            Some((name.to_string(), ms))
        })
        .collect()
}

/// `     stages (ms): authentication 0.21 > audit 0.00 > ... = total 4.10`; `None` without a
/// header.
pub fn stage_line(server_timing: Option<&str>) -> Option<String> {
    let stages = stages(server_timing?);
    let (total, steps): (Vec<_>, Vec<_>) = stages.iter().partition(|(name, _)| name == "total");
    let path: Vec<String> = steps
        .iter()
        .map(|(name, ms)| format!("{name} {ms:.2}"))
        .collect();
    let total = total
        .first()
        .map_or(String::new(), |(_, ms)| format!(" = total {ms:.2}"));
    Some(format!("     stages (ms): {}{total}", path.join(" > ")))
}

/// The lines of a decision trace (`/debug/kubesim/trace/<Audit-Id>`): how the request was
/// authenticated and as whom, then how it was authorized (when it got that far).
pub fn trace_lines(trace: &Value) -> Vec<String> {
    let text = |key: &str| trace[key].as_str().unwrap_or_default();
    let mut lines = Vec::new();
    if trace["user"].is_object() {
        lines.push(format!(
            "     authenticated: {} -> {}",
            text("authentication"),
            user(&trace["user"])
        ));
    } else {
        lines.push(format!(
            "     not authenticated: {}",
            text("authentication")
        ));
        return lines;
    }
    let decided_by = text("decidedBy");
    let line = match text("decision") {
        "" => return lines,
        "Allow" => format!("     authorized: allowed by {decided_by}"),
        "NoOpinion" => "     authorized: no authorizer allowed it (each had no opinion), so it \
                        is denied"
            .to_string(),
        decision => format!(
            "     authorized: {decision} by {decided_by} {}",
            text("reason")
        ),
    };
    lines.push(line.trim_end().to_string());
    lines
}

/// A `Status` body's `reason` and `message` (empty when absent).
pub fn status(body: &Value) -> (String, String) {
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_string();
    (text("reason"), text("message"))
}

/// `jane (groups: dev-team, system:authenticated)` from a `UserInfo` or `userInfo`.
pub fn user(info: &Value) -> String {
    let name = info["username"].as_str().unwrap_or("<none>");
    let groups: Vec<&str> = info["groups"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if groups.is_empty() {
        name.to_string()
    } else {
        format!("{name} (groups: {})", groups.join(", "))
    }
}

/// The labels of `object`, `key=value` sorted.
pub fn labels(object: &Value) -> Vec<String> {
    let Some(map) = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut list: Vec<String> = map
        .iter()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
        .collect();
    list.sort();
    list
}

/// The labels in `after` that `before` did not have (or had with another value).
pub fn added_labels(before: &[String], after: &[String]) -> Vec<String> {
    after
        .iter()
        .filter(|label| !before.contains(label))
        .cloned()
        .collect()
}

/// A JWT's claims (its middle part, base64url JSON), for showing what a token says.
pub fn jwt_claims(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_timing_becomes_one_line_of_stages() {
        let header = "authentication;dur=0.213, audit;dur=0.004, authorization;dur=1.500, \
                      admission.label-injector.demo.kubesim.io;dur=2.250, handler;dur=3.000, \
                      bad, total;dur=7.100";
        assert_eq!(stages(header).len(), 6);
        assert_eq!(
            stage_line(Some(header)).unwrap(),
            "     stages (ms): authentication 0.21 > audit 0.00 > authorization 1.50 > \
             admission.label-injector.demo.kubesim.io 2.25 > handler 3.00 = total 7.10"
        );
        assert_eq!(stage_line(None), None);
    }

    #[test]
    fn answers_and_requests_read_as_one_line_each() {
        assert_eq!(
            answer_line(201, 4.25, Some("abc")),
            "  <- 201 Created in 4.2 ms  Audit-Id abc"
        );
        assert_eq!(answer_line(409, 1.0, None), "  <- 409 Conflict in 1.0 ms");
        assert_eq!(answer_line(599, 1.0, None), "  <- 599 in 1.0 ms");
        assert_eq!(
            request_line("GET", "/api", "jane"),
            "  -> GET /api  as jane"
        );
        assert_eq!(
            ok_line(
                8,
                "no-privileged refused the privileged pod (403 Forbidden)"
            ),
            "[ok] step 8: no-privileged refused the privileged pod (403 Forbidden)"
        );
    }

    #[test]
    fn users_labels_and_statuses() {
        let info = json!({"username": "jane", "groups": ["dev-team", "system:authenticated"]});
        assert_eq!(user(&info), "jane (groups: dev-team, system:authenticated)");
        assert_eq!(user(&json!({"username": "x"})), "x");
        let pod = json!({"metadata": {"labels": {"b": "2", "a": "1"}}});
        assert_eq!(labels(&pod), ["a=1", "b=2"]);
        let before = labels(&json!({"metadata": {"labels": {"a": "1"}}}));
        assert_eq!(added_labels(&before, &labels(&pod)), ["b=2"]);
        let conflict = json!({"kind": "Status", "reason": "Conflict", "message": "modified"});
        assert_eq!(status(&conflict), ("Conflict".into(), "modified".into()));
        assert_eq!(status(&Value::Null), (String::new(), String::new()));
    }

    #[test]
    fn a_trace_says_who_and_which_rule() {
        let allowed = json!({
            "authenticator": "x509", "authentication": "x509: CN=jane, O=dev-team",
            "user": {"username": "jane", "groups": ["dev-team"]},
            "decision": "Allow", "authorizer": "Webhook",
            "decidedBy": "Webhook \"Webhook\": RBAC: allowed by RoleBinding \"jane-edit/dev\""
        });
        assert_eq!(
            trace_lines(&allowed),
            [
                "     authenticated: x509: CN=jane, O=dev-team -> jane (groups: dev-team)",
                "     authorized: allowed by Webhook \"Webhook\": RBAC: allowed by RoleBinding \"jane-edit/dev\""
            ]
        );
        let denied = json!({"authentication": "x509: CN=jane", "user": {"username": "jane"},
                            "decision": "NoOpinion", "decidedBy": ""});
        assert_eq!(
            trace_lines(&denied)[1],
            "     authorized: no authorizer allowed it (each had no opinion), so it is denied"
        );
        let refused = json!({"authentication": "invalid bearer token", "user": null,
                             "decision": "Unauthorized"});
        assert_eq!(
            trace_lines(&refused),
            ["     not authenticated: invalid bearer token"]
        );
    }

    #[test]
    fn explanations_wrap_at_word_boundaries_and_keep_their_indent() {
        let text = format!("  {}", "word ".repeat(40));
        let wrapped = wrap(&text);
        assert!(wrapped.lines().count() > 1, "{wrapped}");
        for line in wrapped.lines() {
            assert!(
                line.len() <= WIDTH && line.starts_with("  word"),
                "{line:?}"
            );
        }
        assert_eq!(wrapped.split_whitespace().count(), 40);
        assert_eq!(wrap("  short"), "  short");
        assert_eq!(wrap(""), "");
    }

    #[test]
    fn a_tokens_claims_are_read_from_its_middle_part() {
        // {"sub":"system:serviceaccount:ns:bot"}
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnM6Ym90In0.c2ln";
        assert_eq!(
            jwt_claims(token).unwrap()["sub"],
            "system:serviceaccount:ns:bot"
        );
        assert_eq!(jwt_claims("no-dots"), None);
    }
}
