//! Issue 5's authorization end to end, under `--authorization-mode=Node,RBAC` on a real
//! `kubesim apiserver` over a real store (`KUBESIM_E2E_TARGET`):
//!
//! - the seed scenario: ServiceAccount `deploy-bot` in `production`, bound by a RoleBinding to
//!   a Role allowing get/list/watch on deployments (apps) and pods. As deploy-bot (a kubeconfig
//!   with its `kubectl create token`): list deployments in production allowed, delete one
//!   denied with kube's 403, nodes denied, pods allowed, deployments in kube-system denied.
//!   `kubectl auth can-i` gives the same answers as deploy-bot and as the admin with
//!   `--as`/`--as-group`, with `--list` and `--subresource`, on every installed kubectl
//!   (1.32+ send the review bodies as protobuf);
//! - escalation prevention: a user who may create Roles and RoleBindings but holds no pod
//!   rights can neither create a Role granting pods nor bind `admin` (kube's "attempting to
//!   grant RBAC permissions not currently held"), can bind what the `bind` verb allows, and a
//!   RoleBinding's `roleRef` cannot change (422).
//!
//! Without curl or kubectl every test skips with a line on stderr, unless `KUBESIM_E2E=1`
//! makes it fail.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, ensure};
use kubesim_tests::apiserver::ApiServer;
use kubesim_tests::auth::{
    Ca, Credential, Kubectl, SA_PUBLIC_KEY_PEM, SA_SIGNING_KEY_PEM, Validity, admin, binding,
    bounded_for, call, create, eventually, every_kubectl, expect_absent, get, kubeconfig,
    namespace, post, rbac_path, role, rule, service_account, service_account_subject, user_subject,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(200);
const ISSUER: &str = "https://kubesim.test";
const BOT: &str = "system:serviceaccount:production:deploy-bot";

/// A `Node,RBAC` server that signs ServiceAccount tokens, with a directory for the test's
/// files.
async fn start_server(
    test: &str,
) -> anyhow::Result<Option<(ApiServer, tempfile::TempDir, Vec<Kubectl>)>> {
    let files = tempfile::Builder::new().prefix("kubesim-rbac-").tempdir()?;
    let kubectls = every_kubectl(test, files.path())?;
    if kubectls.is_empty() {
        return Ok(None);
    }
    let key = files.path().join("sa.key");
    std::fs::write(&key, SA_SIGNING_KEY_PEM)?;
    let public = files.path().join("sa.pub");
    std::fs::write(&public, SA_PUBLIC_KEY_PEM)?;
    let flags = [
        "--authorization-mode=Node,RBAC".to_string(),
        format!("--service-account-signing-key-file={}", key.display()),
        format!("--service-account-key-file={}", public.display()),
        format!("--service-account-issuer={ISSUER}"),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ApiServer::start_with(&flags).await?;
    Ok(Some((server, files, kubectls)))
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]},
            },
        },
    })
}

/// The seed scenario's objects: production, deploy-bot, its Role and RoleBinding, a second
/// Role for `pods/log` (for `--subresource`), and the deployment `web`.
async fn seed(server: &ApiServer) -> anyhow::Result<String> {
    create(server, "/api/v1/namespaces", &namespace("production")).await?;
    create(
        server,
        "/api/v1/namespaces/production/serviceaccounts",
        &service_account("deploy-bot"),
    )
    .await?;
    let reader = role(
        "Role",
        "deploy-reader",
        &[
            rule(&["apps"], &["deployments"], &["get", "list", "watch"]),
            rule(&[""], &["pods"], &["get", "list", "watch"]),
        ],
    );
    create(server, &rbac_path("production", "roles"), &reader).await?;
    let bot = [service_account_subject("production", "deploy-bot")];
    create(
        server,
        &rbac_path("production", "rolebindings"),
        &binding(
            "RoleBinding",
            "deploy-bot-reads",
            "Role",
            "deploy-reader",
            &bot,
        ),
    )
    .await?;
    let logs = role("Role", "pod-logs", &[rule(&[""], &["pods/log"], &["get"])]);
    create(server, &rbac_path("production", "roles"), &logs).await?;
    create(
        server,
        &rbac_path("production", "rolebindings"),
        &binding("RoleBinding", "deploy-bot-logs", "Role", "pod-logs", &bot),
    )
    .await?;
    let web = create(
        server,
        "/apis/apps/v1/namespaces/production/deployments",
        &deployment("web"),
    )
    .await?;
    web["metadata"]["uid"]
        .as_str()
        .map(str::to_string)
        .context("web has no uid")
}

/// kubectl's line for a 403.
fn forbidden(message: &str) -> String {
    format!("Error from server (Forbidden): {message}\n")
}

/// `kubectl <args>` must fail with exactly `stderr`.
async fn fails_with(
    kubectl: &Kubectl,
    config: &Path,
    args: &[&str],
    stderr: &str,
) -> anyhow::Result<()> {
    let out = kubectl.fails(config, args).await?;
    ensure!(
        out.stderr == stderr,
        "{} {}:\n  stderr {:?}\n  wanted {stderr:?}",
        kubectl.name(),
        args.join(" "),
        out.stderr
    );
    Ok(())
}

/// `kubectl auth can-i <args>` must answer `yes` (exit 0) or `no` (exit 1).
async fn can_i(
    kubectl: &Kubectl,
    config: &Path,
    args: &[&str],
    allowed: bool,
) -> anyhow::Result<()> {
    let mut full = vec!["auth", "can-i"];
    full.extend_from_slice(args);
    let out = kubectl.run(config, &full).await?;
    let (code, answer) = if allowed { (0, "yes\n") } else { (1, "no\n") };
    ensure!(
        out.status.code() == Some(code) && out.stdout == answer,
        "{} {}: wanted {answer:?} (exit {code}), got {:?} (exit {:?}), stderr {:?}",
        kubectl.name(),
        full.join(" "),
        out.stdout,
        out.status.code(),
        out.stderr
    );
    Ok(())
}

/// The rows of `kubectl auth can-i --list`, each as its whitespace-separated columns.
fn rule_rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn deploy_bot_in_production() -> anyhow::Result<()> {
    bounded_for(LIMIT, deploy_bot_in_production_steps()).await
}

async fn deploy_bot_in_production_steps() -> anyhow::Result<()> {
    let Some((server, files, kubectls)) = start_server("deploy_bot_in_production").await? else {
        return Ok(());
    };
    let web_uid = seed(&server).await?;
    let admin_config = server.file("kubeconfig");
    let newest = kubectls.last().context("no kubectl")?;
    let token = newest
        .ok(
            &admin_config,
            &["create", "token", "deploy-bot", "-n", "production"],
        )
        .await?;
    let bot = Credential::Bearer(token.trim().to_string());
    let config = kubeconfig(&server, files.path(), "deploy-bot", &bot)?;
    eventually("RBAC to see deploy-bot's binding", || async {
        Ok(get(
            &server,
            &bot,
            "/apis/apps/v1/namespaces/production/deployments",
        )
        .await?
        .code
            == 200)
    })
    .await?;

    // The API's own answer to the delete, field by field.
    let denied = call(
        &server,
        &bot,
        "DELETE",
        "/apis/apps/v1/namespaces/production/deployments/web",
        None,
        &[],
    )
    .await?;
    let delete_message = format!(
        r#"deployments.apps "web" is forbidden: User "{BOT}" cannot delete resource "deployments" in API group "apps" in the namespace "production""#
    );
    denied.expect_status(403, "Forbidden", &delete_message, "deploy-bot deletes web")?;
    let details = denied.json()?["details"].clone();
    ensure!(
        details == json!({"name": "web", "group": "apps", "kind": "deployments"}),
        "403 details: {details}"
    );

    let nodes = format!(
        r#"nodes is forbidden: User "{BOT}" cannot list resource "nodes" in API group "" at the cluster scope"#
    );
    let kube_system = format!(
        r#"deployments.apps is forbidden: User "{BOT}" cannot list resource "deployments" in API group "apps" in the namespace "kube-system""#
    );
    for kubectl in &kubectls {
        let listed = kubectl
            .ok(
                &config,
                &["get", "deployments", "-n", "production", "-o", "name"],
            )
            .await?;
        ensure!(
            listed == "deployment.apps/web\n",
            "{}: {listed:?}",
            kubectl.name()
        );
        fails_with(
            kubectl,
            &config,
            &["delete", "deployment", "web", "-n", "production"],
            &forbidden(&delete_message),
        )
        .await?;
        fails_with(kubectl, &config, &["get", "nodes"], &forbidden(&nodes)).await?;
        let pods = kubectl
            .run(&config, &["get", "pods", "-n", "production"])
            .await?;
        ensure!(
            pods.status.success()
                && pods.stdout.is_empty()
                && pods.stderr == "No resources found in production namespace.\n",
            "{} get pods: {pods:?}",
            kubectl.name()
        );
        fails_with(
            kubectl,
            &config,
            &["get", "deployments", "-n", "kube-system"],
            &forbidden(&kube_system),
        )
        .await?;
        check_can_i(kubectl, &config, &admin_config).await?;
    }
    // Nothing the refused deletes asked for happened.
    let web = get(
        &server,
        &admin(&server),
        "/apis/apps/v1/namespaces/production/deployments/web",
    )
    .await?;
    web.expect_code(200, "web survives")?;
    ensure!(
        web.json()?["metadata"]["uid"] == web_uid.as_str(),
        "web was replaced"
    );
    Ok(())
}

/// The seed scenario's answers from `kubectl auth can-i`: as deploy-bot, and as the admin
/// impersonating it (or someone in `system:masters`).
async fn check_can_i(kubectl: &Kubectl, bot: &Path, admin: &Path) -> anyhow::Result<()> {
    let prod = ["-n", "production"];
    let cases: [(&[&str], bool); 8] = [
        (&["list", "deployments.apps"], true),
        (&["watch", "deployments.apps"], true),
        (&["delete", "deployments.apps"], false),
        (&["list", "pods"], true),
        (&["create", "pods"], false),
        (&["get", "pods", "--subresource=log"], true),
        (&["get", "deployments.apps", "--subresource=scale"], false),
        (&["list", "secrets"], false),
    ];
    let as_bot = format!("--as={BOT}");
    for (args, allowed) in cases {
        let mut in_prod: Vec<&str> = args.to_vec();
        in_prod.extend(prod);
        can_i(kubectl, bot, &in_prod, allowed).await?;
        in_prod.push(&as_bot);
        can_i(kubectl, admin, &in_prod, allowed).await?;
    }
    can_i(kubectl, bot, &["list", "nodes"], false).await?;
    can_i(
        kubectl,
        bot,
        &["list", "deployments.apps", "-n", "kube-system"],
        false,
    )
    .await?;
    can_i(kubectl, admin, &["list", "nodes", &as_bot], false).await?;
    can_i(
        kubectl,
        admin,
        &["list", "deployments.apps", "-n", "kube-system", &as_bot],
        false,
    )
    .await?;
    can_i(kubectl, admin, &["delete", "nodes", "--as=nobody"], false).await?;
    can_i(
        kubectl,
        admin,
        &[
            "delete",
            "nodes",
            "--as=nobody",
            "--as-group=system:masters",
        ],
        true,
    )
    .await?;

    let listed = kubectl
        .ok(bot, &["auth", "can-i", "--list", "-n", "production"])
        .await?;
    let rows = rule_rows(&listed);
    for wanted in [
        ["deployments.apps", "[]", "[]", "[get", "list", "watch]"].as_slice(),
        &["pods", "[]", "[]", "[get", "list", "watch]"],
        &["pods/log", "[]", "[]", "[get]"],
        &[
            "selfsubjectreviews.authentication.k8s.io",
            "[]",
            "[]",
            "[create]",
        ],
        &[
            "selfsubjectaccessreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]",
        ],
        &[
            "selfsubjectrulesreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]",
        ],
        &["[/version]", "[]", "[get]"],
    ] {
        ensure!(
            rows.iter().any(|row| row == wanted),
            "{} can-i --list lacks {wanted:?}:\n{listed}",
            kubectl.name()
        );
    }
    ensure!(
        !rows
            .iter()
            .any(|row| row.first().is_some_and(|r| r == "secrets" || r == "nodes")),
        "{} can-i --list grants too much:\n{listed}",
        kubectl.name()
    );
    let as_admin = kubectl
        .ok(
            admin,
            &["auth", "can-i", "--list", "-n", "production", &as_bot],
        )
        .await?;
    ensure!(
        rule_rows(&as_admin) == rows,
        "{}: --list --as differs:\n{as_admin}\nvs\n{listed}",
        kubectl.name()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Escalation

/// kube's escalation 403 for `ns-admin`, whose only group is `system:authenticated`.
fn escalation(resource: &str, name: &str, missing: &str) -> String {
    format!(
        "{resource}.rbac.authorization.k8s.io \"{name}\" is forbidden: user \"ns-admin\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{missing}"
    )
}

#[tokio::test]
async fn rbac_escalation_is_refused() -> anyhow::Result<()> {
    bounded_for(LIMIT, rbac_escalation_is_refused_steps()).await
}

async fn rbac_escalation_is_refused_steps() -> anyhow::Result<()> {
    let Some((server, files, kubectls)) = start_server("rbac_escalation_is_refused").await? else {
        return Ok(());
    };
    create(&server, "/api/v1/namespaces", &namespace("team")).await?;
    let editor = role(
        "Role",
        "rbac-editor",
        &[rule(
            &["rbac.authorization.k8s.io"],
            &["roles", "rolebindings"],
            &["create", "get", "list", "update", "patch", "delete"],
        )],
    );
    create(&server, &rbac_path("team", "roles"), &editor).await?;
    let mut bind_view = rule(&["rbac.authorization.k8s.io"], &["clusterroles"], &["bind"]);
    bind_view["resourceNames"] = json!(["view"]);
    create(
        &server,
        &rbac_path("team", "roles"),
        &role("Role", "bind-view", &[bind_view]),
    )
    .await?;
    for (name, role_name) in [
        ("ns-admin-edits-rbac", "rbac-editor"),
        ("ns-admin-binds-view", "bind-view"),
    ] {
        let bound = binding(
            "RoleBinding",
            name,
            "Role",
            role_name,
            &[user_subject("ns-admin")],
        );
        create(&server, &rbac_path("team", "rolebindings"), &bound).await?;
    }
    let cert = Ca::kubesim(server.dir.path())?.client_cert(
        files.path(),
        "ns-admin",
        "ns-admin",
        &[],
        Validity::Current,
    )?;
    let ns_admin = Credential::Cert(cert);
    let roles = rbac_path("team", "roles");
    let bindings = rbac_path("team", "rolebindings");
    eventually("RBAC to see ns-admin's bindings", || async {
        Ok(get(&server, &ns_admin, &roles).await?.code == 200)
    })
    .await?;

    // A Role granting pods, which ns-admin does not hold.
    let pod_reader = role(
        "Role",
        "pod-reader",
        &[rule(&[""], &["pods"], &["get", "list"])],
    );
    let message = escalation(
        "roles",
        "pod-reader",
        r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}"#,
    );
    post(&server, &ns_admin, &roles, &pod_reader)
        .await?
        .expect_status(403, "Forbidden", &message, "ns-admin creates pod-reader")?;
    expect_absent(&server, &format!("{roles}/pod-reader")).await?;
    // kubectl shows the refusal, on every version (before ns-admin may bind `view`,
    // which would hold what pod-reader grants).
    let manifest = files.path().join("pod-reader.json");
    std::fs::write(&manifest, pod_reader.to_string())?;
    let manifest = manifest.display().to_string();
    let config = kubeconfig(&server, files.path(), "ns-admin", &ns_admin)?;
    for kubectl in &kubectls {
        let out = kubectl
            .fails(&config, &["create", "-f", &manifest, "-n", "team"])
            .await?;
        let wanted = format!(
            "Error from server (Forbidden): error when creating \"{manifest}\": {message}\n"
        );
        ensure!(
            out.stderr == wanted,
            "{}:\n  stderr {:?}\n  wanted {wanted:?}",
            kubectl.name(),
            out.stderr
        );
    }
    expect_absent(&server, &format!("{roles}/pod-reader")).await?;
    // What ns-admin holds, ns-admin may grant.
    let within = role(
        "Role",
        "role-reader",
        &[rule(&["rbac.authorization.k8s.io"], &["roles"], &["get"])],
    );
    post(&server, &ns_admin, &roles, &within)
        .await?
        .expect_code(201, "ns-admin creates role-reader")?;

    // Binding admin: refused, listing admin's rules that ns-admin lacks.
    let bind_admin = binding(
        "RoleBinding",
        "bind-admin",
        "ClusterRole",
        "admin",
        &[user_subject("ns-admin")],
    );
    let reply = post(&server, &ns_admin, &bindings, &bind_admin).await?;
    reply.expect_code(403, "ns-admin binds admin")?;
    let status = reply.json()?;
    let prefix = escalation("rolebindings", "bind-admin", "");
    let text = status["message"].as_str().unwrap_or_default();
    ensure!(
        status["reason"] == "Forbidden"
            && text.starts_with(&prefix)
            && text.contains(r#"{APIGroups:[""], Resources:["pods"], Verbs:["#),
        "binding admin: {status}"
    );
    expect_absent(&server, &format!("{bindings}/bind-admin")).await?;
    // The `bind` verb on the ClusterRole view lets ns-admin bind it without holding it.
    let bind_view = binding(
        "RoleBinding",
        "view-for-ns-admin",
        "ClusterRole",
        "view",
        &[user_subject("ns-admin")],
    );
    post(&server, &ns_admin, &bindings, &bind_view)
        .await?
        .expect_code(201, "ns-admin binds view")?;
    // Holding view now, ns-admin may grant what pod-reader grants.
    eventually("pod-reader to be within ns-admin's rights", || async {
        Ok(post(&server, &ns_admin, &roles, &pod_reader).await?.code == 201)
    })
    .await?;

    check_role_ref_is_immutable(&server, &bindings).await
}

/// Changing a RoleBinding's `roleRef` is a 422, even for the admin; the binding keeps it.
async fn check_role_ref_is_immutable(server: &ApiServer, bindings: &str) -> anyhow::Result<()> {
    let original = binding(
        "RoleBinding",
        "fixed",
        "Role",
        "role-reader",
        &[user_subject("x")],
    );
    let created = create(server, bindings, &original).await?;
    let mut changed = created.clone();
    changed["roleRef"]["name"] = json!("rbac-editor");
    let path = format!("{bindings}/fixed");
    let reply = call(server, &admin(server), "PUT", &path, Some(&changed), &[]).await?;
    reply.expect_code(422, "changing roleRef")?;
    let status = reply.json()?;
    let message = status["message"].as_str().unwrap_or_default();
    // kube renders the value with Go's %#v of its internal type (`rbac.RoleRef{APIGroup:...}`);
    // the field, the reason and the detail are what a client reads.
    ensure!(
        status["reason"] == "Invalid"
            && message.starts_with(r#"RoleBinding.rbac.authorization.k8s.io "fixed" is invalid: roleRef: Invalid value: "#)
            && message.ends_with(": cannot change roleRef")
            && status["details"]["causes"][0]["field"] == "roleRef"
            && status["details"]["causes"][0]["reason"] == "FieldValueInvalid",
        "changing roleRef: {status}"
    );
    let kept = get(server, &admin(server), &path).await?.json()?;
    ensure!(
        kept["roleRef"]["name"] == "role-reader",
        "roleRef changed: {kept}"
    );
    Ok(())
}
