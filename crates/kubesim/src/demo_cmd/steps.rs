//! The demo's steps, in order. Each prints what it is about to do, every request and answer
//! with its stages, the server's reasons (from its decision trace), one sentence of why, and
//! returns the text of its `[ok] step N:` line, or what went wrong.
//!
//! The `[ok]` texts are fixed (no namespace, no resourceVersion), so CI can look for whole
//! lines; the details are on the lines before them.

use std::time::Duration;

use hyper::Method;
use kubesim_webhooks::samples::label_injector;
use serde_json::{Value, json};

use super::client::{self, Identity, Reply, Watch};
use super::{Demo, render};
use crate::up::{examples, identities};

/// The ServiceAccount the demo makes, and its token's lifetime.
const DEMO_SA: &str = "demo-bot";
const TOKEN_EXPIRATION_SECONDS: u64 = 600;
/// The pods the demo makes.
const POD: &str = "demo-web";
const PRIVILEGED_POD: &str = "demo-privileged";
/// The longest wait for one watch event, and how many unrelated events are skipped.
const WATCH_EVENT_TIMEOUT: Duration = Duration::from_secs(10);
const WATCH_EVENTS_SKIPPED_MAX: usize = 16;

/// Prints an explanation, wrapped to [`render::WIDTH`] columns.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", render::wrap(&format!($($arg)*)))
    };
}

/// What later steps need from earlier ones.
#[derive(Default)]
struct State {
    /// Step 4's watch, read in step 6.
    watch: Option<Watch>,
    /// The pod as step 5's create answered it.
    created: Option<Value>,
    /// The pod as step 7 read it back.
    stored: Option<Value>,
}

/// Runs every step; `Ok(steps)` when all passed, `Err(step)` at the first that failed (its
/// `[FAIL]` line printed).
pub async fn run_all(demo: &Demo) -> Result<u32, u32> {
    let mut state = State::default();
    let titles = [
        "authentication of a ServiceAccount token",
        "RBAC decisions of the seed scenario",
        "401 (bad token) vs 403 (authenticated, not allowed)",
        "a watch, opened before the create",
        "the label-injector mutation",
        "the watch event",
        "the stored object and its resourceVersion",
        "a privileged pod refused by no-privileged",
        "a 409 on a stale update",
    ];
    for (index, title) in titles.iter().enumerate() {
        let step = index as u32 + 1;
        println!("{}", render::heading(step, title));
        let outcome = match step {
            1 => service_account_token(demo).await,
            2 => seed_rbac(demo).await,
            3 => unauthorized_vs_forbidden(demo).await,
            4 => open_watch(demo, &mut state).await,
            5 => label_injection(demo, &mut state).await,
            6 => watch_event(&mut state).await,
            7 => stored_object(demo, &mut state).await,
            8 => privileged_refused(demo).await,
            _ => stale_update(demo, &state).await,
        };
        match outcome {
            Ok(text) => println!("{}", render::ok_line(step, &text)),
            Err(error) => {
                println!("{}", render::fail_line(step, title, &error));
                return Err(step);
            }
        }
    }
    Ok(titles.len() as u32)
}

/// Sends a request, printing it, its answer and its stages.
async fn call(
    who: &Identity,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Reply, String> {
    println!(
        "{}",
        render::request_line(method.as_str(), path, &who.label)
    );
    let reply = client::send(who, method, path, body).await?;
    println!(
        "{}",
        render::answer_line(reply.code, reply.elapsed_ms, reply.audit_id.as_deref())
    );
    if let Some(line) = render::stage_line(reply.server_timing.as_deref()) {
        println!("{line}");
    }
    Ok(reply)
}

/// [`call`], failing unless the answer is `expected`.
async fn expect(
    who: &Identity,
    method: Method,
    path: &str,
    body: Option<&Value>,
    expected: u16,
) -> Result<Reply, String> {
    let reply = call(who, method.clone(), path, body).await?;
    if reply.code != expected {
        let (reason, message) = render::status(&reply.json());
        return Err(format!(
            "{method} {path}: expected {expected}, got {} {reason}: {message}",
            reply.code
        ));
    }
    Ok(reply)
}

/// The server's decision trace of the request `reply` answered, read as the admin.
pub async fn trace(demo: &Demo, reply: &Reply) -> Result<Value, String> {
    let Some(id) = &reply.audit_id else {
        return Err("the answer has no Audit-Id".into());
    };
    let path = format!("/debug/kubesim/trace/{id}");
    let trace = client::send(&demo.admin, Method::GET, &path, None).await?;
    if trace.code != 200 {
        return Err(format!("GET {path}: {}", trace.code));
    }
    Ok(trace.json())
}

/// The server's account of a request: who it authenticated, and which authorizer (and rule)
/// decided.
fn print_trace(trace: &Value) {
    for line in render::trace_lines(trace) {
        println!("{line}");
    }
}

/// A pod with one container; privileged when asked.
pub fn pod(name: &str, privileged: bool) -> Value {
    let mut container = json!({"name": "web", "image": "registry.k8s.io/pause:3.10"});
    if privileged {
        container["securityContext"] = json!({"privileged": true});
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "spec": {"containers": [container]},
    })
}

fn pods_path(demo: &Demo) -> String {
    format!("/api/v1/namespaces/{}/pods", demo.namespace)
}

// -------------------------------------------------------------------------------------------
// Step 1

async fn service_account_token(demo: &Demo) -> Result<String, String> {
    let ns = &demo.namespace;
    say!(
        "  A ServiceAccount is an identity for programs. The server signs its tokens \
         (TokenRequest) with its ServiceAccount key, and authenticates any request carrying \
         one by checking that signature. We make ServiceAccount {DEMO_SA}, ask for a token, and \
         ask the server who that token is (SelfSubjectReview)."
    );
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": DEMO_SA, "namespace": ns}});
    let path = format!("/api/v1/namespaces/{ns}/serviceaccounts");
    expect(&demo.admin, Method::POST, &path, Some(&sa), 201).await?;
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS}});
    let path = format!("{path}/{DEMO_SA}/token");
    let reply = expect(&demo.admin, Method::POST, &path, Some(&request), 201).await?;
    let token = reply.json()["status"]["token"]
        .as_str()
        .ok_or("the TokenRequest answer has no status.token")?
        .to_string();
    if let Some(claims) = render::jwt_claims(&token) {
        println!(
            "     token claims: iss={} sub={} aud={}",
            claims["iss"], claims["sub"], claims["aud"]
        );
    }
    let bearer = Identity::bearer(
        &format!("{DEMO_SA}'s token (no client certificate)"),
        &demo.admin_config,
        &token,
    )?;
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let path = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    let reply = expect(&bearer, Method::POST, path, Some(&review), 201).await?;
    let info = &reply.json()["status"]["userInfo"];
    println!("     the server says you are: {}", render::user(info));
    print_trace(&trace(demo, &reply).await?);
    let expected = format!("system:serviceaccount:{ns}:{DEMO_SA}");
    if info["username"] != expected.as_str() {
        return Err(format!(
            "expected {expected}, the server said {}",
            info["username"]
        ));
    }
    say!(
        "  Why: the token's signature checks out against the ServiceAccount key and \
         {DEMO_SA} still exists, so the token is {expected}."
    );
    Ok("a ServiceAccount token was authenticated as its ServiceAccount".into())
}

// -------------------------------------------------------------------------------------------
// Step 2

/// One request of the seed scenario and what RBAC should answer.
struct Case<'a> {
    who: &'a Identity,
    name: &'a str,
    method: Method,
    path: String,
    expected: u16,
    why: String,
}

async fn seed_rbac(demo: &Demo) -> Result<String, String> {
    let (dev, production) = (examples::USER_NAMESPACE, examples::SA_NAMESPACE);
    let (jane, bot) = (identities::EXAMPLE_USER, examples::SA_NAME);
    say!(
        "  `kubesim up` made two example identities: user {jane} (a client certificate, group \
         {}), bound to ClusterRole edit in {dev}; and ServiceAccount {production}/{bot} (a \
         token), bound to Role deployer (get, list, watch deployments and pods) in \
         {production}. Each request below is authorized against those bindings.",
        identities::EXAMPLE_GROUP
    );
    let cases = [
        Case {
            who: &demo.jane,
            name: jane,
            method: Method::GET,
            path: format!("/api/v1/namespaces/{dev}/pods"),
            expected: 200,
            why: format!("RoleBinding {dev}/{jane}-edit gives {jane} ClusterRole edit in {dev}"),
        },
        Case {
            who: &demo.jane,
            name: jane,
            method: Method::GET,
            path: format!("/api/v1/namespaces/{production}/pods"),
            expected: 403,
            why: format!("no binding names {jane} in {production}"),
        },
        Case {
            who: &demo.deploy_bot,
            name: bot,
            method: Method::GET,
            path: format!("/apis/apps/v1/namespaces/{production}/deployments"),
            expected: 200,
            why: format!("Role {production}/deployer allows list on deployments"),
        },
        Case {
            who: &demo.deploy_bot,
            name: bot,
            method: Method::DELETE,
            path: format!("/apis/apps/v1/namespaces/{production}/deployments/web"),
            expected: 403,
            why: "Role deployer has no delete verb".to_string(),
        },
    ];
    for case in &cases {
        let reply = expect(
            case.who,
            case.method.clone(),
            &case.path,
            None,
            case.expected,
        )
        .await?;
        print_trace(&trace(demo, &reply).await?);
        let verdict = if case.expected == 403 {
            "denied"
        } else {
            "allowed"
        };
        say!("  Why: {} is {verdict}: {}.", case.name, case.why);
    }
    Ok("RBAC allowed and denied the seed identities as their bindings say".into())
}

// -------------------------------------------------------------------------------------------
// Step 3

async fn unauthorized_vs_forbidden(demo: &Demo) -> Result<String, String> {
    let production = examples::SA_NAMESPACE;
    say!(
        "  401 means the server could not tell who you are; 403 means it knows who you are \
         and no rule allows the request."
    );
    let bad = Identity::bearer("a made-up token", &demo.admin_config, "not-a-real-token")?;
    let reply = expect(&bad, Method::GET, &pods_path(demo), None, 401).await?;
    println!("     message: {}", render::status(&reply.json()).1);
    if let Ok(trace) = trace(demo, &reply).await {
        print_trace(&trace);
    }
    say!("  Why 401: no authenticator accepted the token, so the request has no user.");
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "demo-secret"}, "stringData": {"k": "v"}});
    let path = format!("/api/v1/namespaces/{production}/secrets");
    let reply = expect(&demo.jane, Method::POST, &path, Some(&secret), 403).await?;
    println!("     message: {}", render::status(&reply.json()).1);
    print_trace(&trace(demo, &reply).await?);
    say!(
        "  Why 403: {} is authenticated (x509 CN={}) but RBAC has no rule allowing create on \
         secrets in {production}.",
        identities::EXAMPLE_USER,
        identities::EXAMPLE_USER
    );
    Ok(
        "a bad token got 401 Unauthorized, an authenticated user without a rule got 403 Forbidden"
            .into(),
    )
}

// -------------------------------------------------------------------------------------------
// Steps 4 to 7

async fn open_watch(demo: &Demo, state: &mut State) -> Result<String, String> {
    say!(
        "  A watch streams every change after a resourceVersion. We list the pods to learn the \
         current one, then watch from it, before creating anything."
    );
    let reply = expect(&demo.admin, Method::GET, &pods_path(demo), None, 200).await?;
    let list_rv = reply.json()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = format!("{}?watch=true&resourceVersion={list_rv}", pods_path(demo));
    println!("{}", render::request_line("GET", &path, &demo.admin.label));
    let watch = client::watch(&demo.admin, &path).await?;
    println!(
        "  <- 200 OK, streaming  Audit-Id {}",
        watch.audit_id.as_deref().unwrap_or("-")
    );
    println!(
        "     watching pods in {} from resourceVersion {list_rv}",
        demo.namespace
    );
    state.watch = Some(watch);
    Ok("a watch on the namespace's pods is open".into())
}

async fn label_injection(demo: &Demo, state: &mut State) -> Result<String, String> {
    say!(
        "  A create passes authentication, authorization, then admission: mutating webhooks \
         may change the object, validating ones may refuse it, then it is stored. We create pod \
         {POD} with label app=demo; {} adds its labels.",
        demo.hooks.label_injector
    );
    let sent = pod(POD, false);
    let reply = expect(
        &demo.admin,
        Method::POST,
        &pods_path(demo),
        Some(&sent),
        201,
    )
    .await?;
    let created = reply.json();
    let trace = trace(demo, &reply).await?;
    for step in trace["admission"].as_array().into_iter().flatten() {
        let text = |key: &str| step[key].as_str().unwrap_or_default().to_string();
        println!(
            "     admission: {} ({}): {} in {} ms",
            text("name"),
            text("phase"),
            text("outcome"),
            text("durationMs")
        );
    }
    let added = render::added_labels(&render::labels(&sent), &render::labels(&created));
    println!("     labels sent: {}", render::labels(&sent).join(", "));
    println!(
        "     labels stored: {}",
        render::labels(&created).join(", ")
    );
    let wanted: Vec<String> = label_injector::DEFAULT_LABELS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if wanted.iter().any(|label| !added.contains(label)) {
        return Err(format!(
            "expected {wanted:?} added, the webhook added {added:?}"
        ));
    }
    say!(
        "  Why: the MutatingWebhookConfiguration sends pod creates in {} to label-injector, \
         which answered with a JSON Patch adding the labels the pod lacked.",
        demo.namespace
    );
    state.created = Some(created);
    Ok(format!(
        "label-injector added {} to the pod",
        wanted.join(", ")
    ))
}

async fn watch_event(state: &mut State) -> Result<String, String> {
    let watch = state.watch.as_mut().ok_or("no watch from step 4")?;
    let created = state.created.as_ref().ok_or("no pod from step 5")?;
    let created_rv = created["metadata"]["resourceVersion"].clone();
    say!("  Reading the watch opened in step 4 for the pod's event.");
    for _ in 0..WATCH_EVENTS_SKIPPED_MAX {
        let event = watch.next_event(WATCH_EVENT_TIMEOUT).await?;
        let (kind, object) = (&event["type"], &event["object"]);
        println!(
            "     event: {} pod {} resourceVersion {}",
            kind.as_str().unwrap_or("?"),
            object["metadata"]["name"].as_str().unwrap_or("?"),
            object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("?")
        );
        if kind != "ADDED" || object["metadata"]["name"] != POD {
            continue;
        }
        if object["metadata"]["resourceVersion"] != created_rv {
            return Err(format!(
                "the event's resourceVersion {} is not the create's {created_rv}",
                object["metadata"]["resourceVersion"]
            ));
        }
        say!(
            "  Why: the store committed the create at resourceVersion {}, and every watch \
             from an earlier one gets it as ADDED.",
            created_rv.as_str().unwrap_or("?")
        );
        return Ok("the watch delivered ADDED for the pod at its resourceVersion".into());
    }
    Err(format!(
        "no ADDED event for {POD} in {WATCH_EVENTS_SKIPPED_MAX} events"
    ))
}

async fn stored_object(demo: &Demo, state: &mut State) -> Result<String, String> {
    let created = state.created.as_ref().ok_or("no pod from step 5")?;
    say!("  Reading the pod back: what the store holds, not what we sent.");
    let path = format!("{}/{POD}", pods_path(demo));
    let reply = expect(&demo.admin, Method::GET, &path, None, 200).await?;
    let stored = reply.json();
    let meta = &stored["metadata"];
    println!(
        "     resourceVersion {}  uid {}  created {}",
        meta["resourceVersion"].as_str().unwrap_or("?"),
        meta["uid"].as_str().unwrap_or("?"),
        meta["creationTimestamp"].as_str().unwrap_or("?")
    );
    println!("     labels: {}", render::labels(&stored).join(", "));
    println!(
        "     store key: /registry/pods/{}/{POD} (etcdctl get --prefix /registry/pods/{}/)",
        demo.namespace, demo.namespace
    );
    if meta["resourceVersion"] != created["metadata"]["resourceVersion"] {
        return Err("the stored resourceVersion is not the create's".into());
    }
    if render::labels(&stored) != render::labels(created) {
        return Err("the stored labels are not the created pod's".into());
    }
    say!(
        "  Why: the resourceVersion is the store's revision of the write; it changes on every \
         update, and nothing changed the pod since."
    );
    state.stored = Some(stored);
    Ok("the stored pod has the injected labels and the create's resourceVersion".into())
}

// -------------------------------------------------------------------------------------------
// Steps 8 and 9

async fn privileged_refused(demo: &Demo) -> Result<String, String> {
    say!(
        "  Pod {PRIVILEGED_POD} asks for a privileged container; {} refuses such pods.",
        demo.hooks.no_privileged
    );
    let privileged = pod(PRIVILEGED_POD, true);
    let reply = expect(
        &demo.admin,
        Method::POST,
        &pods_path(demo),
        Some(&privileged),
        403,
    )
    .await?;
    let (reason, message) = render::status(&reply.json());
    println!("     {reason}: {message}");
    if !message.contains(demo.hooks.no_privileged.as_str()) {
        return Err(format!(
            "the refusal does not name {}: {message}",
            demo.hooks.no_privileged
        ));
    }
    let path = format!("{}/{PRIVILEGED_POD}", pods_path(demo));
    expect(&demo.admin, Method::GET, &path, None, 404).await?;
    say!(
        "  Why: validating webhooks run after the mutating ones and before the write; one \
         refusal is enough, so nothing was stored (the GET is 404)."
    );
    Ok("no-privileged refused the privileged pod (403 Forbidden)".into())
}

async fn stale_update(demo: &Demo, state: &State) -> Result<String, String> {
    let stored = state.stored.as_ref().ok_or("no pod from step 7")?;
    let old_rv = stored["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("?");
    say!(
        "  Two writers both read the pod at resourceVersion {old_rv}. The first update wins \
         and moves the resourceVersion on; the second still carries {old_rv}."
    );
    let path = format!("{}/{POD}", pods_path(demo));
    let mut first = stored.clone();
    first["metadata"]["labels"]["tier"] = json!("frontend");
    let reply = expect(&demo.admin, Method::PUT, &path, Some(&first), 200).await?;
    let new_rv = reply.json()["metadata"]["resourceVersion"].clone();
    println!(
        "     first update: resourceVersion {old_rv} -> {}",
        new_rv.as_str().unwrap_or("?")
    );
    let mut second = stored.clone();
    second["metadata"]["labels"]["tier"] = json!("backend");
    let reply = expect(&demo.admin, Method::PUT, &path, Some(&second), 409).await?;
    let (reason, message) = render::status(&reply.json());
    println!("     {reason}: {message}");
    say!(
        "  Why: an update must name the resourceVersion it read; the store compares it with \
         the current one and refuses a stale write instead of losing the first."
    );
    Ok("an update with a stale resourceVersion got 409 Conflict".into())
}
