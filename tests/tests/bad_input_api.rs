//! Bad input to a real `kubesim apiserver` over a real store (kubesim's, or etcd 3.4 with
//! `KUBESIM_E2E_TARGET=etcd`): issue 4's bad-input list, sent with curl and, where a user
//! would meet it, with kubectl. Each refusal is asserted on its HTTP code, its Status reason
//! (and kube's exact message where it is fixed), and on nothing having changed: a GET
//! afterwards finds no object or the object as it was, and the store's revision (a
//! consistent list's resourceVersion) did not move.
//!
//! Map of the file: [`Reply`] and [`request`] (one curl call: code, headers, body), the
//! Status checks, then two tests, one server each: refused writes, and refused or
//! time-bounded reads. The body over 3 MiB (413 from the size limit) is in `apiserver.rs`.
//!
//! Without curl the tests skip, unless `KUBESIM_E2E=1`; the kubectl steps skip without
//! kubectl.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, ensure};
use kubesim_tests::apiserver::{ApiServer as Server, curl_or_skip, kubectls};
use kubesim_tests::bounded;
use serde_json::{Value, json};

/// Where the configmaps of these tests live.
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const PODS: &str = "/api/v1/namespaces/default/pods";
/// kube-apiserver's answer for a path nothing serves.
const NOT_FOUND_MESSAGE: &str = "the server could not find the requested resource";
/// Over the store's 1.5 MiB request limit (etcd's `--max-request-bytes` default) and under
/// its gRPC limit (2 MiB), so the store itself refuses the write.
const OVER_STORE_LIMIT_BYTES: usize = 1_700_000;
/// Over the gRPC limit too, and still under the API server's 3 MiB body limit.
const OVER_GRPC_LIMIT_BYTES: usize = 2_500_000;
/// kube's limit on a ConfigMap's data (`MaxSecretSize`).
const CONFIGMAP_DATA_LIMIT_BYTES: usize = 1024 * 1024;

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    code: u16,
    /// The raw header block, as curl dumped it.
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body).with_context(|| format!("body is not JSON: {self:?}"))
    }

    /// The values of every header named `name` (any case: HTTP/2 sends lower case).
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .lines()
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then_some(value.trim())
            })
            .collect()
    }
}

/// A body and its Content-Type.
struct Body<'a> {
    content_type: &'a str,
    bytes: &'a [u8],
}

fn json_body(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// One request through curl (the admin's client certificate); the body goes through a file,
/// as large bodies must.
async fn request(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<Body<'_>>,
) -> anyhow::Result<Reply> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let headers_file = server.file(&format!("headers-{n}"));
    let headers_arg = headers_file.display().to_string();
    let url = server.url(path);
    let mut args: Vec<String> = [
        // HTTP/1.1: when the server answers before reading a body (an unknown resource),
        // hyper resets the HTTP/2 stream after the answer, and curl 7.x reports that as an
        // error (92) instead of the answer; kubectl covers HTTP/2.
        "--http1.1",
        "-X",
        method,
        "--dump-header",
        &headers_arg,
        "--write-out",
        "\n%{http_code}",
        // No `100 Continue` round (curl asks for one on large HTTP/1.1 bodies).
        "-H",
        "Expect:",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(body) = body {
        let body_file = server.file(&format!("body-{n}"));
        std::fs::write(&body_file, body.bytes)?;
        args.push("-H".into());
        args.push(format!("Content-Type: {}", body.content_type));
        args.push("--data-binary".into());
        args.push(format!("@{}", body_file.display()));
    }
    args.push(url);
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = server.curl(&arg_refs).await?;
    ensure!(out.status.success(), "curl {method} {path}: {out:?}");
    let (body, code) = out
        .stdout
        .rsplit_once('\n')
        .with_context(|| format!("curl {method} {path}: no status code in {out:?}"))?;
    Ok(Reply {
        code: code
            .trim()
            .parse()
            .with_context(|| format!("curl {method} {path}: status code {code:?}"))?,
        headers: std::fs::read_to_string(&headers_file).unwrap_or_default(),
        body: body.to_string(),
    })
}

async fn get(server: &Server, path: &str) -> anyhow::Result<Reply> {
    request(server, "GET", path, None).await
}

async fn post_json(server: &Server, path: &str, object: &Value) -> anyhow::Result<Reply> {
    let bytes = json_body(object);
    let body = Body {
        content_type: "application/json",
        bytes: &bytes,
    };
    request(server, "POST", path, Some(body)).await
}

/// Checks a refusal: the HTTP code, and a `Failure` Status with the same code and `reason`.
/// Returns the Status for further checks.
fn expect_status(what: &str, reply: &Reply, code: u16, reason: &str) -> anyhow::Result<Value> {
    ensure!(
        reply.code == code,
        "{what}: HTTP {}, expected {code}: {}",
        reply.code,
        reply.body
    );
    let status = reply.json().with_context(|| what.to_string())?;
    let fine = status["kind"] == "Status"
        && status["apiVersion"] == "v1"
        && status["status"] == "Failure"
        && status["code"] == code
        && status["reason"] == reason;
    ensure!(fine, "{what}: expected {code} {reason}, got {status}");
    Ok(status)
}

/// [`expect_status`], and the message must be exactly `message`.
fn expect_message(
    what: &str,
    reply: &Reply,
    code: u16,
    reason: &str,
    message: &str,
) -> anyhow::Result<Value> {
    let status = expect_status(what, reply, code, reason)?;
    ensure!(
        status["message"] == message,
        "{what}: message {}\n expected {message:?}",
        status["message"]
    );
    Ok(status)
}

/// The one `details.causes` entry a 422 with one field error carries.
fn expect_cause(what: &str, status: &Value, reason: &str, field: &str) -> anyhow::Result<Value> {
    let causes = status["details"]["causes"]
        .as_array()
        .with_context(|| format!("{what}: no details.causes in {status}"))?;
    let cause = causes
        .iter()
        .find(|cause| cause["field"] == field)
        .with_context(|| format!("{what}: no cause for {field} in {status}"))?;
    ensure!(
        cause["reason"] == reason,
        "{what}: cause {cause}, expected {reason}"
    );
    Ok(cause.clone())
}

/// The store's revision as the API server reports it: a consistent list's resourceVersion.
async fn store_revision(server: &Server) -> anyhow::Result<String> {
    let reply = get(server, CONFIGMAPS).await?;
    ensure!(reply.code == 200, "list: {reply:?}");
    let list = reply.json()?;
    list["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no resourceVersion in {list}"))
}

/// `GET <path>/<name>` must be 404: the refused write left nothing behind.
async fn expect_absent(server: &Server, collection: &str, name: &str) -> anyhow::Result<()> {
    let reply = get(server, &format!("{collection}/{name}")).await?;
    ensure!(
        reply.code == 404,
        "{name} exists after a refused create: {reply:?}"
    );
    Ok(())
}

fn configmap(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn pod(name: &str, containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": containers}})
}

/// The failed checks of a test: every check runs even when an earlier one failed, and the
/// test fails at the end listing them all, so one run shows every wrong answer.
#[derive(Default)]
struct Failures {
    list: Vec<String>,
}

impl Failures {
    fn record(&mut self, what: &str, result: anyhow::Result<()>) {
        if let Err(error) = result {
            self.list.push(format!("{what}: {error:#}"));
        }
    }

    fn finish(self, server: &Server) -> anyhow::Result<()> {
        ensure!(
            self.list.is_empty(),
            "{} check(s) failed:\n\n{}\n\n{}",
            self.list.len(),
            self.list.join("\n\n"),
            server.log()
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Refused writes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refused_writes_change_nothing() -> anyhow::Result<()> {
    bounded(async {
        if !curl_or_skip("refused_writes_change_nothing")? {
            return Ok(());
        }
        let server = Server::start().await?;
        let existing = create_and_update_existing(&server).await?;
        let before = store_revision(&server).await?;
        let mut failures = Failures::default();

        undecodable_bodies(&server, &mut failures).await?;
        failures.record("unknown resources", unknown_resources(&server).await);
        invalid_objects(&server, &mut failures).await;
        failures.record(
            "fieldValidation=Strict",
            strict_field_validation(&server).await,
        );
        conflicts(&server, &existing, &mut failures).await;
        objects_over_the_store_limit(&server, &mut failures).await;
        kubectl_sees_the_same_refusals(&server, &mut failures).await?;

        let after = store_revision(&server).await?;
        let unchanged = async {
            ensure!(
                after == before,
                "the store's revision moved from {before} to {after} while every write was \
                 refused"
            );
            let reply = get(&server, &format!("{CONFIGMAPS}/existing")).await?;
            let now = reply.json()?;
            ensure!(
                reply.code == 200
                    && now["metadata"]["resourceVersion"]
                        == existing["metadata"]["resourceVersion"]
                    && now["data"] == json!({"v": "2"}),
                "existing changed: {now}\nwas: {existing}"
            );
            Ok(())
        };
        failures.record("nothing changed", unchanged.await);

        let warned = accepted_with_a_warning(&server).await;
        failures.record("fieldValidation=Warn", warned);
        failures.record("well-formed YAML", accepted_as_yaml(&server).await);
        failures.finish(&server)
    })
    .await
}

/// `existing`, created then updated once, so that its first resourceVersion is stale.
/// Returns the object as stored, with that first resourceVersion beside it
/// (`staleResourceVersion`).
async fn create_and_update_existing(server: &Server) -> anyhow::Result<Value> {
    let first = configmap("existing", json!({"v": "1"}));
    let reply = post_json(server, CONFIGMAPS, &first).await?;
    ensure!(reply.code == 201, "create existing: {reply:?}");
    let mut object = reply.json()?;
    object["data"]["v"] = json!("2");
    let reply = put_json(server, &format!("{CONFIGMAPS}/existing"), &object).await?;
    ensure!(reply.code == 200, "update existing: {reply:?}");
    let mut updated = reply.json()?;
    updated["staleResourceVersion"] = object["metadata"]["resourceVersion"].clone();
    Ok(updated)
}

async fn put_json(server: &Server, path: &str, object: &Value) -> anyhow::Result<Reply> {
    let bytes = json_body(object);
    let body = Body {
        content_type: "application/json",
        bytes: &bytes,
    };
    request(server, "PUT", path, Some(body)).await
}

/// Malformed JSON, YAML and protobuf: 400. Media types the server does not read: 415.
async fn undecodable_bodies(server: &Server, failures: &mut Failures) -> anyhow::Result<()> {
    let cases: [(&str, &str, &[u8], u16, &str); 5] = [
        (
            "malformed JSON",
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-json"},"data":{"#,
            400,
            "BadRequest",
        ),
        (
            "malformed YAML",
            "application/yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-yaml\n data: [unclosed\n",
            400,
            "BadRequest",
        ),
        (
            "text/plain",
            "text/plain",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"plain-text"}}"#,
            415,
            "UnsupportedMediaType",
        ),
        (
            "application/xml",
            "application/xml",
            b"<ConfigMap><metadata><name>xml</name></metadata></ConfigMap>",
            415,
            "UnsupportedMediaType",
        ),
        // Protobuf is read (kubectl 1.32+ sends it): the envelope's magic, then a truncated
        // varint where the `runtime.Unknown` message should start.
        (
            "malformed protobuf",
            "application/vnd.kubernetes.protobuf",
            b"k8s\x00\xff\xff\xff",
            400,
            "BadRequest",
        ),
    ];
    for (what, content_type, bytes, code, reason) in cases {
        let body = Body {
            content_type,
            bytes,
        };
        let reply = request(server, "POST", CONFIGMAPS, Some(body)).await?;
        let checked = expect_status(what, &reply, code, reason).and_then(|status| {
            let message = status["message"].as_str().unwrap_or("");
            let accepted = "the body of the request was in an unknown format - accepted media \
                            types include: application/json";
            ensure!(
                code != 415 || message.starts_with(accepted),
                "{what}: {message:?}"
            );
            Ok(())
        });
        failures.record(what, checked);
    }
    for name in ["bad-json", "bad-yaml", "plain-text", "xml"] {
        let absent = expect_absent(server, CONFIGMAPS, name).await;
        failures.record("undecodable bodies", absent);
    }
    Ok(())
}

/// A resource nothing serves, in the core group and in a group nothing serves: 404 with
/// kube-apiserver's message.
async fn unknown_resources(server: &Server) -> anyhow::Result<()> {
    let widget = json!({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}});
    let reply = post_json(server, "/api/v1/namespaces/default/widgets", &widget).await?;
    expect_message("POST widgets", &reply, 404, "NotFound", NOT_FOUND_MESSAGE)?;
    let reply = get(server, "/apis/example.com/v1/widgets").await?;
    expect_message(
        "GET example.com widgets",
        &reply,
        404,
        "NotFound",
        NOT_FOUND_MESSAGE,
    )?;
    Ok(())
}

/// A bad name, a container without an image, two containers with one name: 422 Invalid
/// with one cause each, in kube's words; nothing stored.
async fn invalid_objects(server: &Server, failures: &mut Failures) {
    failures.record("invalid name", invalid_name(server).await);
    let no_image = invalid_pod(
        server,
        "noimage",
        json!([{"name": "c"}]),
        (
            "spec.containers[0].image",
            "FieldValueRequired",
            "Required value",
        ),
    );
    failures.record("container without an image", no_image.await);
    let twins = json!([{"name": "c", "image": "busybox"}, {"name": "c", "image": "busybox"}]);
    let duplicate = invalid_pod(
        server,
        "dup",
        twins,
        (
            "spec.containers[1].name",
            "FieldValueDuplicate",
            "Duplicate value: \"c\"",
        ),
    );
    failures.record("duplicate container names", duplicate.await);
}

async fn invalid_name(server: &Server) -> anyhow::Result<()> {
    let reply = post_json(server, CONFIGMAPS, &configmap("Bad_Name", json!({}))).await?;
    let status = expect_status("bad name", &reply, 422, "Invalid")?;
    let message = status["message"].as_str().unwrap_or("");
    ensure!(
        message.starts_with(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a \
             lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character"
        ),
        "bad name: {message:?}"
    );
    ensure!(
        status["details"]["name"] == "Bad_Name" && status["details"]["kind"] == "ConfigMap",
        "bad name: details {}",
        status["details"]
    );
    expect_cause("bad name", &status, "FieldValueInvalid", "metadata.name")?;
    expect_absent(server, CONFIGMAPS, "Bad_Name").await
}

/// A pod refused with exactly one field error `(field, cause reason, cause message)`.
async fn invalid_pod(
    server: &Server,
    name: &str,
    containers: Value,
    (field, reason, body): (&str, &str, &str),
) -> anyhow::Result<()> {
    let reply = post_json(server, PODS, &pod(name, containers)).await?;
    let message = format!("Pod \"{name}\" is invalid: {field}: {body}");
    let status = expect_message(name, &reply, 422, "Invalid", &message)?;
    let cause = expect_cause(name, &status, reason, field)?;
    ensure!(cause["message"] == body, "{name}: cause {cause}");
    expect_absent(server, PODS, name).await
}

/// An unknown field under `fieldValidation=Strict`: 400 naming it.
async fn strict_field_validation(server: &Server) -> anyhow::Result<()> {
    let mut object = configmap("strict", json!({"a": "b"}));
    object["bogus"] = json!(1);
    let path = format!("{CONFIGMAPS}?fieldValidation=Strict");
    let reply = post_json(server, &path, &object).await?;
    let status = expect_status("strict unknown field", &reply, 400, "BadRequest")?;
    let message = status["message"].as_str().unwrap_or("");
    ensure!(
        message.contains("strict decoding error: unknown field \"bogus\""),
        "strict unknown field: {message:?}"
    );
    expect_absent(server, CONFIGMAPS, "strict").await
}

/// A create of an existing name (409 AlreadyExists), an update with a stale resourceVersion
/// and a delete with a stale uid precondition (409 Conflict).
async fn conflicts(server: &Server, existing: &Value, failures: &mut Failures) {
    failures.record("create of an existing name", create_existing(server).await);
    failures.record(
        "stale resourceVersion on PUT",
        stale_update(server, existing).await,
    );
    failures.record(
        "stale uid precondition",
        stale_uid_delete(server, existing).await,
    );
}

async fn create_existing(server: &Server) -> anyhow::Result<()> {
    let again = configmap("existing", json!({"v": "3"}));
    let reply = post_json(server, CONFIGMAPS, &again).await?;
    let message = "configmaps \"existing\" already exists";
    let status = expect_message("create existing", &reply, 409, "AlreadyExists", message)?;
    ensure!(
        status["details"] == json!({"name": "existing", "kind": "configmaps"}),
        "create existing: details {}",
        status["details"]
    );
    Ok(())
}

async fn stale_update(server: &Server, existing: &Value) -> anyhow::Result<()> {
    let mut stale = configmap("existing", json!({"v": "stale"}));
    stale["metadata"]["resourceVersion"] = existing["staleResourceVersion"].clone();
    let reply = put_json(server, &format!("{CONFIGMAPS}/existing"), &stale).await?;
    expect_message(
        "stale update",
        &reply,
        409,
        "Conflict",
        "Operation cannot be fulfilled on configmaps \"existing\": the object has been \
         modified; please apply your changes to the latest version and try again",
    )?;
    Ok(())
}

async fn stale_uid_delete(server: &Server, existing: &Value) -> anyhow::Result<()> {
    let stale_uid = "00000000-0000-0000-0000-000000000000";
    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1",
                         "preconditions": {"uid": stale_uid}});
    let bytes = json_body(&options);
    let body = Body {
        content_type: "application/json",
        bytes: &bytes,
    };
    let path = format!("{CONFIGMAPS}/existing");
    let reply = request(server, "DELETE", &path, Some(body)).await?;
    let uid = existing["metadata"]["uid"].as_str().unwrap_or("");
    // rest.BeforeDelete's wording, which names the kind, not the resource.
    let message = format!(
        "Operation cannot be fulfilled on ConfigMap \"existing\": the UID in the precondition \
         ({stale_uid}) does not match the UID in record ({uid}). The object might have been \
         deleted and then recreated"
    );
    expect_message("delete with a stale uid", &reply, 409, "Conflict", &message)?;
    Ok(())
}

/// Objects the store refuses for their size: 413, never 500. A ConfigMap over kube's 1 MiB
/// data limit never gets that far: 422.
async fn objects_over_the_store_limit(server: &Server, failures: &mut Failures) {
    for (name, size) in [
        ("huge-1", OVER_STORE_LIMIT_BYTES),
        ("huge-2", OVER_GRPC_LIMIT_BYTES),
    ] {
        let what = format!("a pod of {size} bytes");
        failures.record(&what, oversized_pod(server, name, size).await);
    }
    failures.record("a 2 MiB configmap", oversized_configmap(server).await);
}

async fn oversized_pod(server: &Server, name: &str, size: usize) -> anyhow::Result<()> {
    let arg = "x".repeat(size);
    let containers = json!([{"name": "c", "image": "busybox", "args": [arg]}]);
    let reply = post_json(server, PODS, &pod(name, containers)).await?;
    expect_status(name, &reply, 413, "RequestEntityTooLarge")?;
    expect_absent(server, PODS, name).await
}

async fn oversized_configmap(server: &Server) -> anyhow::Result<()> {
    let data = json!({"big": "x".repeat(2 * CONFIGMAP_DATA_LIMIT_BYTES)});
    let reply = post_json(server, CONFIGMAPS, &configmap("big", data)).await?;
    let status = expect_status("big", &reply, 422, "Invalid")?;
    let limit = format!("{CONFIGMAP_DATA_LIMIT_BYTES} bytes");
    let causes = status["details"]["causes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let too_long = causes.iter().any(|cause| {
        cause["reason"] == "FieldValueTooLong"
            && cause["message"]
                .as_str()
                .is_some_and(|m| m.contains(&limit))
    });
    ensure!(too_long, "big: {status}");
    expect_absent(server, CONFIGMAPS, "big").await
}

/// The refusals kubectl users meet, as kubectl prints them (exit code 1).
async fn kubectl_sees_the_same_refusals(
    server: &Server,
    failures: &mut Failures,
) -> anyhow::Result<()> {
    let paths = kubectls("refused_writes_change_nothing (kubectl steps)")?;
    let write = |name: &str, text: &str| -> anyhow::Result<String> {
        let path = server.file(name);
        std::fs::write(&path, text)?;
        Ok(path.display().to_string())
    };
    let no_image = write(
        "noimage.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: noimage\nspec:\n  containers:\n  \
         - name: c\n",
    )?;
    let existing = write(
        "existing.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: existing\n",
    )?;
    let unknown_field = write(
        "unknown-field.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nbogus: 1\n",
    )?;
    let cases: [(&[&str], String); 4] = [
        (
            &["create", "-f", &no_image],
            "The Pod \"noimage\" is invalid: spec.containers[0].image: Required value\n".into(),
        ),
        (
            &["create", "-f", &existing],
            format!(
                "Error from server (AlreadyExists): error when creating \"{existing}\": \
                 configmaps \"existing\" already exists\n"
            ),
        ),
        (
            &["get", "widgets"],
            "error: the server doesn't have a resource type \"widgets\"\n".into(),
        ),
        // kubectl 1.29+ validates on the server (`fieldValidation=Strict`).
        (
            &["create", "-f", &unknown_field],
            "strict decoding error: unknown field \"bogus\"".into(),
        ),
    ];
    for path in &paths {
        for (args, expected) in &cases {
            let out = server.kubectl(path, args).await?;
            let refused = out.status.code() == Some(1) && out.stderr.contains(expected.as_str());
            let checked = if refused {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{out:?}\nexpected {expected:?} on stderr"))
            };
            failures.record(&format!("{} {}", path.display(), args.join(" ")), checked);
        }
    }
    Ok(())
}

/// What the Strict refusal is not: an unknown field under `fieldValidation=Warn` is
/// dropped, the object stored, and a `Warning` header names the field.
async fn accepted_with_a_warning(server: &Server) -> anyhow::Result<()> {
    let mut object = configmap("warned", json!({"a": "b"}));
    object["bogus"] = json!(1);
    let path = format!("{CONFIGMAPS}?fieldValidation=Warn");
    let reply = post_json(server, &path, &object).await?;
    ensure!(reply.code == 201, "warn unknown field: {reply:?}");
    let warnings = reply.header_values("warning");
    ensure!(
        warnings == [r#"299 - "unknown field \"bogus\"""#],
        "warn unknown field: warnings {warnings:?} in\n{}",
        reply.headers
    );
    let stored = reply.json()?;
    ensure!(
        stored.get("bogus").is_none(),
        "the unknown field was stored: {stored}"
    );
    Ok(())
}

/// What the malformed-YAML refusal is not: well-formed YAML is read and stored.
async fn accepted_as_yaml(server: &Server) -> anyhow::Result<()> {
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n";
    let body = Body {
        content_type: "application/yaml",
        bytes: yaml,
    };
    let reply = request(server, "POST", CONFIGMAPS, Some(body)).await?;
    ensure!(reply.code == 201, "well-formed YAML: {reply:?}");
    let reply = get(server, &format!("{CONFIGMAPS}/from-yaml")).await?;
    ensure!(
        reply.code == 200 && reply.json()?["data"] == json!({"a": "b"}),
        "from-yaml: {reply:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Refused and time-bounded reads
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_list_options_are_refused() -> anyhow::Result<()> {
    bounded(async {
        if !curl_or_skip("bad_list_options_are_refused")? {
            return Ok(());
        }
        let server = Server::start().await?;
        for i in 0..3 {
            let object = configmap(&format!("c{i}"), json!({}));
            let reply = post_json(&server, CONFIGMAPS, &object).await?;
            ensure!(reply.code == 201, "create c{i}: {reply:?}");
        }
        let before = store_revision(&server).await?;
        let mut failures = Failures::default();

        let garbage = async {
            let reply = get(&server, &format!("{CONFIGMAPS}?limit=1&continue=garbage")).await?;
            expect_status("continue=garbage", &reply, 400, "BadRequest").map(|_| ())
        };
        failures.record("a garbage continue token", garbage.await);
        let unmatched = resource_version_match_without_resource_version(&server).await;
        failures.record("resourceVersionMatch without resourceVersion", unmatched);
        failures.record("timeout=1ms", list_with_a_1ms_timeout(&server).await);
        let unparsable = async {
            // A timeout that cannot be parsed is the client's mistake.
            let reply = get(&server, &format!("{CONFIGMAPS}?timeout=soon")).await?;
            expect_status("timeout=soon", &reply, 400, "BadRequest").map(|_| ())
        };
        failures.record("timeout=soon", unparsable.await);

        let after = store_revision(&server).await?;
        let unchanged = if after == before {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "the revision moved from {before} to {after} on reads"
            ))
        };
        failures.record("nothing changed", unchanged);
        failures.finish(&server)
    })
    .await
}

/// kube validates ListOptions first and answers 422 on `ListOptions.meta.k8s.io`
/// (`handlers.ListResource`), not 400.
async fn resource_version_match_without_resource_version(server: &Server) -> anyhow::Result<()> {
    let what = "resourceVersionMatch without resourceVersion";
    let path = format!("{CONFIGMAPS}?resourceVersionMatch=NotOlderThan");
    let reply = get(server, &path).await?;
    let status = expect_message(
        what,
        &reply,
        422,
        "Invalid",
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: \
         resourceVersionMatch is forbidden unless resourceVersion is provided",
    )?;
    expect_cause(what, &status, "FieldValueForbidden", "resourceVersionMatch")?;
    Ok(())
}

/// `?timeout=1ms` bounds the request, not the answer's correctness: a list that finishes
/// within 1 ms is answered (200, complete), one that does not is cut off with kube's 504.
/// Which one happens depends on the machine (a list of three objects from the watch cache
/// usually wins the race), so both are accepted, each only in its exact form.
async fn list_with_a_1ms_timeout(server: &Server) -> anyhow::Result<()> {
    let reply = get(server, &format!("{CONFIGMAPS}?timeout=1ms")).await?;
    if reply.code != 200 {
        expect_message(
            "timeout=1ms",
            &reply,
            504,
            "Timeout",
            "Timeout: request did not complete within requested timeout - context deadline \
             exceeded",
        )?;
        eprintln!("timeout=1ms: the list was cut off (504)");
        return Ok(());
    }
    let list = reply.json()?;
    let names: Vec<&str> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        list["kind"] == "ConfigMapList" && names == ["c0", "c1", "c2"],
        "timeout=1ms: {list}"
    );
    eprintln!("timeout=1ms: the list finished in time (200)");
    Ok(())
}
