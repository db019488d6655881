//! Issue 5's identities end to end: each authentication method of a real `kubesim apiserver`
//! (over a real store, `KUBESIM_E2E_TARGET`) makes the identity Kubernetes makes of it, as
//! `kubectl auth whoami` shows it on every installed kubectl version (1.27 asks
//! SelfSubjectReview v1beta1, 1.28+ v1), each kubectl with a kubeconfig of its own written
//! here: an x509 client certificate (CN the user, each O a group), a static token, a
//! ServiceAccount token from `kubectl create token` and one from the TokenRequest API, an OIDC
//! ID token from `kubesim oidc-issuer`; `kubectl auth can-i` and real requests then show each
//! identity's rights, granted through its groups. The authenticating proxy and anonymous requests are
//! made with curl: kubectl cannot send the proxy's headers, and asks for a user name on stdin
//! when its kubeconfig user has no credential.
//!
//! Also here: `--anonymous-auth=false` (a 401) with OIDC's default user names
//! (`<issuer>#<sub>`), and what a request leaves behind for whoever debugs it: the `Audit-Id`
//! header, the "request decision path" debug line naming the authenticator and the binding
//! that allowed it, and the same path from `/debug/kubesim/trace/<audit-id>`.
//!
//! Without curl or kubectl every test skips with a line on stderr, unless `KUBESIM_E2E=1`
//! makes it fail.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, ensure};
use kubesim_tests::apiserver::ApiServer;
use kubesim_tests::auth::{
    Ca, ClientCert, Credential, HttpVersion, Kubectl, OidcIssuer, SA_PUBLIC_KEY_PEM,
    SA_SIGNING_KEY_PEM, SELF_SUBJECT_REVIEWS, Validity, admin, binding, bounded_for, call,
    call_over, config_map, create, eventually, every_kubectl, expect_absent, get, group_subject,
    jwt_claims, kubeconfig, namespace, now_secs, post, rbac_path, request_token, role, rule,
    self_subject_review, service_account, service_account_subject, uid_of, user_subject, whoami,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(200);
const ISSUER: &str = "https://kubesim.test";
const NS: &str = "identity";
const ALICE_TOKEN: &str = "alice-static-token-0123456789";
const PROXY_CN: &str = "front-proxy-client";
/// What kube's 403 says to an anonymous `kubectl auth whoami` under RBAC: only
/// `system:authenticated` is bound to `system:basic-user`.
const ANONYMOUS_WHOAMI_FORBIDDEN: &str = r#"selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope"#;

/// Files the server's flags name, in a directory of the test's.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> anyhow::Result<Files> {
        Ok(Files {
            dir: tempfile::Builder::new().prefix("kubesim-auth-").tempdir()?,
        })
    }

    fn write(&self, name: &str, text: &str) -> anyhow::Result<String> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path.display().to_string())
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// One identity as a kubeconfig, and the `status.userInfo` kube makes of it.
struct Identity {
    name: &'static str,
    kubeconfig: PathBuf,
    expected: Value,
}

/// `kubectl auth whoami -o json` on `kubectl` must show `identity`, through the
/// SelfSubjectReview version that kubectl asks for.
async fn check_whoami(kubectl: &Kubectl, identity: &Identity) -> anyhow::Result<()> {
    let stdout = kubectl
        .ok(&identity.kubeconfig, &["auth", "whoami", "-o", "json"])
        .await?;
    let review: Value = serde_json::from_str(&stdout)
        .with_context(|| format!("{}: whoami printed no JSON: {stdout}", kubectl.name()))?;
    let version = match kubectl.minor() {
        Some(minor) if minor <= 27 => "authentication.k8s.io/v1beta1",
        _ => "authentication.k8s.io/v1",
    };
    ensure!(
        review["kind"] == "SelfSubjectReview" && review["apiVersion"] == version,
        "{} whoami as {}: {review}",
        kubectl.name(),
        identity.name
    );
    ensure!(
        review["status"]["userInfo"] == identity.expected,
        "{} whoami as {}:\n  got    {}\n  wanted {}",
        kubectl.name(),
        identity.name,
        review["status"]["userInfo"],
        identity.expected
    );
    Ok(())
}

/// `extra` of a ServiceAccount token's identity: its `jti` as the credential id, as kube
/// sets it (none when the token has no `jti`).
fn token_extra(token: &str) -> anyhow::Result<Option<Value>> {
    let claims = jwt_claims(token)?;
    Ok(claims["jti"]
        .as_str()
        .filter(|jti| !jti.is_empty())
        .map(|jti| json!({"authentication.kubernetes.io/credential-id": [format!("JTI={jti}")]})))
}

/// The identity of a ServiceAccount token of `identity/builder`.
fn builder_identity(uid: &str, token: &str) -> anyhow::Result<Value> {
    let mut expected = json!({
        "username": "system:serviceaccount:identity:builder",
        "uid": uid,
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:identity",
            "system:authenticated",
        ],
    });
    if let Some(extra) = token_extra(token)? {
        expected["extra"] = extra;
    }
    Ok(expected)
}

/// A token's claims as kube's TokenRequest issues them: the server's issuer, the API
/// audience, the account's name and UID, and `lifetime` seconds of validity from about now.
fn check_token_claims(token: &str, uid: &str, lifetime: i64) -> anyhow::Result<()> {
    let claims = jwt_claims(token)?;
    let iat = claims["iat"].as_i64().context("iat")?;
    ensure!(
        claims["iss"] == ISSUER
            && claims["aud"] == json!([ISSUER])
            && claims["sub"] == "system:serviceaccount:identity:builder"
            && claims["kubernetes.io"]["namespace"] == NS
            && claims["kubernetes.io"]["serviceaccount"] == json!({"name": "builder", "uid": uid})
            && claims["exp"].as_i64() == Some(iat + lifetime)
            && claims["nbf"].as_i64() == Some(iat)
            && (iat - now_secs()).abs() < 120,
        "token claims: {claims}"
    );
    Ok(())
}

#[tokio::test]
async fn every_authenticator_yields_its_identity() -> anyhow::Result<()> {
    let scratch = std::env::temp_dir();
    if every_kubectl("every_authenticator_yields_its_identity", &scratch)?.is_empty() {
        return Ok(());
    }
    bounded_for(LIMIT, every_authenticator_yields_its_identity_steps()).await
}

async fn every_authenticator_yields_its_identity_steps() -> anyhow::Result<()> {
    let files = Files::new()?;
    let oidc = OidcIssuer::start().await?;
    let proxy_ca = Ca::new("front-proxy-ca")?;
    let flags = [
        "--authorization-mode=Node,RBAC".to_string(),
        format!(
            "--token-auth-file={}",
            files.write(
                "tokens.csv",
                &format!("{ALICE_TOKEN},alice,uid-alice,\"dev,qa\"\n")
            )?
        ),
        format!(
            "--service-account-signing-key-file={}",
            files.write("sa.key", SA_SIGNING_KEY_PEM)?
        ),
        format!(
            "--service-account-key-file={}",
            files.write("sa.pub", SA_PUBLIC_KEY_PEM)?
        ),
        format!("--service-account-issuer={ISSUER}"),
        format!("--oidc-issuer-url={}", oidc.url),
        "--oidc-client-id=kubesim".to_string(),
        format!("--oidc-ca-file={}", oidc.ca_file.display()),
        "--oidc-username-claim=email".to_string(),
        "--oidc-groups-claim=groups".to_string(),
        "--oidc-groups-prefix=oidc:".to_string(),
        format!(
            "--requestheader-client-ca-file={}",
            proxy_ca
                .write(&files.path().join("proxy-ca.crt"))?
                .display()
        ),
        format!("--requestheader-allowed-names={PROXY_CN}"),
        "--requestheader-username-headers=X-Remote-User".to_string(),
        "--requestheader-group-headers=X-Remote-Group".to_string(),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ApiServer::start_with_env(
        &flags,
        &[("RUST_LOG", "info,openraft=warn,kubesim_apiserver=debug")],
    )
    .await?;
    let kubectls = every_kubectl("identities", files.path())?;
    let result = identities(&server, &files, &oidc, &proxy_ca, &kubectls).await;
    result.with_context(|| tail(&server.log(), 60))
}

async fn identities(
    server: &ApiServer,
    files: &Files,
    oidc: &OidcIssuer,
    proxy_ca: &Ca,
    kubectls: &[Kubectl],
) -> anyhow::Result<()> {
    create(server, "/api/v1/namespaces", &namespace(NS)).await?;
    create(
        server,
        &format!("/api/v1/namespaces/{NS}/serviceaccounts"),
        &service_account("builder"),
    )
    .await?;
    let uid = uid_of(
        server,
        &format!("/api/v1/namespaces/{NS}/serviceaccounts/builder"),
    )
    .await?;
    let dir = files.path();

    let jane = Ca::kubesim(server.dir.path())?.client_cert(
        dir,
        "jane",
        "jane",
        &["dev", "ops"],
        Validity::Current,
    )?;
    let default_kubectl = kubectls.last().context("no kubectl")?;
    let created = default_kubectl
        .ok(
            &server.file("kubeconfig"),
            &["create", "token", "builder", "-n", NS],
        )
        .await?;
    let created = created.trim().to_string();
    check_token_claims(&created, &uid, 3600)?;
    let requested = request_token(server, NS, "builder", json!({"expirationSeconds": 600})).await?;
    check_token_claims(&requested, &uid, 600)?;
    let oidc_token = oidc
        .token("sub=jane-oidc&email=jane@example.com&groups=dev,qa&aud=kubesim")
        .await?;
    let tokens = Tokens {
        created,
        requested,
        oidc: oidc_token,
    };
    let identities = kubeconfig_identities(server, dir, &jane, &uid, &tokens)?;
    grant_configmaps(server).await?;
    for kubectl in kubectls {
        for identity in &identities {
            check_whoami(kubectl, identity).await?;
            check_access(kubectl, identity).await?;
        }
    }
    check_proxy(server, proxy_ca, dir).await?;
    check_anonymous(server).await?;
    check_audit_id_and_decision_path(server, &jane).await
}

/// The bearer tokens of [`kubeconfig_identities`].
struct Tokens {
    /// From `kubectl create token builder`.
    created: String,
    /// From the TokenRequest API.
    requested: String,
    oidc: String,
}

/// Every identity kubectl can present, as kubeconfigs, with what kube makes of each.
fn kubeconfig_identities(
    server: &ApiServer,
    dir: &std::path::Path,
    jane: &ClientCert,
    uid: &str,
    tokens: &Tokens,
) -> anyhow::Result<Vec<Identity>> {
    let Tokens {
        created,
        requested,
        oidc: oidc_token,
    } = tokens;
    Ok(vec![
        Identity {
            name: "x509",
            kubeconfig: kubeconfig(server, dir, "jane", &Credential::Cert(jane.clone()))?,
            expected: json!({
                "username": "jane",
                "groups": ["dev", "ops", "system:authenticated"],
                "extra": {"authentication.kubernetes.io/credential-id": [jane.credential_id()]},
            }),
        },
        Identity {
            name: "static token",
            kubeconfig: kubeconfig(
                server,
                dir,
                "alice",
                &Credential::Bearer(ALICE_TOKEN.into()),
            )?,
            expected: json!({"username": "alice", "uid": "uid-alice",
                             "groups": ["dev", "qa", "system:authenticated"]}),
        },
        Identity {
            name: "kubectl create token",
            kubeconfig: kubeconfig(
                server,
                dir,
                "builder-created",
                &Credential::Bearer(created.clone()),
            )?,
            expected: builder_identity(uid, created)?,
        },
        Identity {
            name: "TokenRequest",
            kubeconfig: kubeconfig(
                server,
                dir,
                "builder-requested",
                &Credential::Bearer(requested.clone()),
            )?,
            expected: builder_identity(uid, requested)?,
        },
        Identity {
            name: "OIDC",
            kubeconfig: kubeconfig(server, dir, "oidc", &Credential::Bearer(oidc_token.clone()))?,
            expected: json!({"username": "jane@example.com",
                             "groups": ["oidc:dev", "oidc:qa", "system:authenticated"]}),
        },
    ])
}

/// Who may read ConfigMaps in `identity`, each identity through what its authenticator made
/// of it: jane through her certificate's O `ops`, alice through her token's group `qa`, the
/// ServiceAccount by name, the OIDC user through the prefixed group claim `oidc:dev`.
async fn grant_configmaps(server: &ApiServer) -> anyhow::Result<()> {
    let reader = role(
        "Role",
        "cm-reader",
        &[rule(&[""], &["configmaps"], &["get", "list"])],
    );
    create(server, &rbac_path(NS, "roles"), &reader).await?;
    let subjects = [
        group_subject("ops"),
        group_subject("qa"),
        service_account_subject(NS, "builder"),
        group_subject("oidc:dev"),
    ];
    let bound = binding("RoleBinding", "cm-readers", "Role", "cm-reader", &subjects);
    create(server, &rbac_path(NS, "rolebindings"), &bound).await?;
    let alice = Credential::Bearer(ALICE_TOKEN.into());
    eventually("RBAC to see the cm-readers binding", || async {
        Ok(get(
            server,
            &alice,
            &format!("/api/v1/namespaces/{NS}/configmaps"),
        )
        .await?
        .code
            == 200)
    })
    .await
}

/// The identity's rights, asked with `kubectl auth can-i` and shown by real requests:
/// ConfigMaps in `identity` yes, Secrets no (kube's 403, naming the user).
async fn check_access(kubectl: &Kubectl, identity: &Identity) -> anyhow::Result<()> {
    let config = &identity.kubeconfig;
    let ns = ["-n", NS];
    let yes = kubectl
        .ok(
            config,
            &["auth", "can-i", "list", "configmaps", ns[0], ns[1]],
        )
        .await?;
    ensure!(
        yes == "yes\n",
        "{} can-i as {}: {yes:?}",
        kubectl.name(),
        identity.name
    );
    let no = kubectl
        .fails(config, &["auth", "can-i", "list", "secrets", ns[0], ns[1]])
        .await?;
    ensure!(
        no.stdout == "no\n",
        "{} can-i as {}: {no:?}",
        kubectl.name(),
        identity.name
    );
    let listed = kubectl
        .run(config, &["get", "configmaps", ns[0], ns[1]])
        .await?;
    ensure!(
        listed.status.success() && listed.stderr == "No resources found in identity namespace.\n",
        "{} get configmaps as {}: {listed:?}",
        kubectl.name(),
        identity.name
    );
    let user = identity.expected["username"].as_str().unwrap_or_default();
    let refused = kubectl
        .fails(config, &["get", "secrets", ns[0], ns[1]])
        .await?;
    let wanted = format!(
        "Error from server (Forbidden): secrets is forbidden: User \"{user}\" cannot list resource \"secrets\" in API group \"\" in the namespace \"identity\"\n"
    );
    ensure!(
        refused.stderr == wanted,
        "{} get secrets as {}:\n  stderr {:?}\n  wanted {wanted:?}",
        kubectl.name(),
        identity.name,
        refused.stderr
    );
    Ok(())
}

/// The authenticating proxy: its certificate makes the headers believed.
async fn check_proxy(
    server: &ApiServer,
    proxy_ca: &Ca,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let proxy = proxy_ca.client_cert(dir, "proxy", PROXY_CN, &[], Validity::Current)?;
    let headers = [
        ("X-Remote-User", "bob"),
        ("X-Remote-Group", "qa"),
        ("X-Remote-Group", "ops"),
        ("X-Remote-Extra-Scopes", "read"),
    ];
    let who = whoami(server, &Credential::Cert(proxy.clone()), &headers).await?;
    let expected = json!({"username": "bob", "groups": ["qa", "ops", "system:authenticated"],
                          "extra": {"scopes": ["read"]}});
    ensure!(
        who == expected,
        "proxy:\n  got    {who}\n  wanted {expected}"
    );
    // bob reads ConfigMaps through the group `qa` the proxy vouched for.
    let configmaps = format!("/api/v1/namespaces/{NS}/configmaps");
    let proxy = Credential::Cert(proxy);
    call(server, &proxy, "GET", &configmaps, None, &headers)
        .await?
        .expect_code(200, "bob lists configmaps")?;
    Ok(())
}

/// No credential: `system:anonymous` in `system:unauthenticated`. Under RBAC it may read
/// `/version` but not ask who it is, until a binding lets it.
async fn check_anonymous(server: &ApiServer) -> anyhow::Result<()> {
    let anonymous = Credential::Anonymous;
    get(server, &anonymous, "/version")
        .await?
        .expect_code(200, "anonymous /version")?;
    // HTTP/1.1: over HTTP/2 a refusal before the body is read may lose its answer
    // (auth_bad_credentials.rs shows it).
    let review = self_subject_review();
    let reply = call_over(
        HttpVersion::Http1,
        server,
        &anonymous,
        "POST",
        SELF_SUBJECT_REVIEWS,
        Some(&review),
        &[],
    )
    .await?;
    reply.expect_status(
        403,
        "Forbidden",
        ANONYMOUS_WHOAMI_FORBIDDEN,
        "anonymous whoami",
    )?;
    let secrets = format!("/api/v1/namespaces/{NS}/secrets");
    get(server, &anonymous, &secrets).await?.expect_status(
        403,
        "Forbidden",
        r#"secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in API group "" in the namespace "identity""#,
        "anonymous lists secrets",
    )?;
    let whoami_rule = rule(
        &["authentication.k8s.io"],
        &["selfsubjectreviews"],
        &["create"],
    );
    create(
        server,
        &rbac_path("", "clusterroles"),
        &role("ClusterRole", "anonymous-whoami", &[whoami_rule]),
    )
    .await?;
    let bound = binding(
        "ClusterRoleBinding",
        "anonymous-whoami",
        "ClusterRole",
        "anonymous-whoami",
        &[group_subject("system:unauthenticated")],
    );
    create(server, &rbac_path("", "clusterrolebindings"), &bound).await?;
    eventually("RBAC to let anonymous ask who it is", || async {
        let reply = post(
            server,
            &anonymous,
            SELF_SUBJECT_REVIEWS,
            &self_subject_review(),
        )
        .await?;
        Ok(reply.code == 201)
    })
    .await?;
    let who = whoami(server, &anonymous, &[]).await?;
    let expected = json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]});
    ensure!(
        who == expected,
        "anonymous:\n  got    {who}\n  wanted {expected}"
    );
    Ok(())
}

/// Every answer carries its own `Audit-Id`; the debug log's "request decision path" line of
/// that id names the authenticator and the binding that allowed the request.
async fn check_audit_id_and_decision_path(
    server: &ApiServer,
    jane: &ClientCert,
) -> anyhow::Result<()> {
    let reader = role(
        "Role",
        "pod-reader",
        &[rule(&[""], &["pods"], &["get", "list"])],
    );
    create(server, &rbac_path(NS, "roles"), &reader).await?;
    let bound = binding(
        "RoleBinding",
        "jane-reads-pods",
        "Role",
        "pod-reader",
        &[user_subject("jane")],
    );
    create(server, &rbac_path(NS, "rolebindings"), &bound).await?;
    let jane = Credential::Cert(jane.clone());
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    eventually("RBAC to let jane list pods", || async {
        Ok(get(server, &jane, &pods).await?.code == 200)
    })
    .await?;
    let allowed = get(server, &jane, &pods).await?;
    allowed.expect_code(200, "jane lists pods")?;
    let denied = call(server, &jane, "DELETE", &format!("{pods}/web"), None, &[]).await?;
    denied.expect_status(
        403,
        "Forbidden",
        r#"pods "web" is forbidden: User "jane" cannot delete resource "pods" in API group "" in the namespace "identity""#,
        "jane deletes a pod",
    )?;
    let unauthorized = get(server, &Credential::Bearer("no-such-token".into()), &pods).await?;
    unauthorized.expect_unauthorized("unknown token")?;
    let ids: Vec<String> = [&allowed, &denied, &unauthorized]
        .iter()
        .map(|reply| reply.header("audit-id").unwrap_or_default())
        .collect();
    ensure!(
        ids.iter().all(|id| id.len() == 36)
            && ids[0] != ids[1]
            && ids[1] != ids[2]
            && ids[0] != ids[2],
        "every answer has an Audit-Id of its own: {ids:?}"
    );
    let line = decision_line(server, &ids[0]).await?;
    for field in [
        "authenticator=x509",
        r#"user="jane""#,
        "decision=Allow",
        "authorizer=RBAC",
        r#"decided_by=RBAC: allowed by RoleBinding "jane-reads-pods/identity" of Role "pod-reader" to User "jane""#,
    ] {
        ensure!(
            line.contains(field),
            "decision path line lacks {field:?}: {line}"
        );
    }
    let line = decision_line(server, &ids[2]).await?;
    ensure!(
        line.contains("decision=Unauthorized"),
        "a 401's decision path: {line}"
    );
    // The same path, by Audit-Id, from the server itself (as the admin).
    let trace = get(
        server,
        &admin(server),
        &format!("/debug/kubesim/trace/{}", ids[1]),
    )
    .await?;
    trace.expect_code(200, "the trace of jane's delete")?;
    let trace = trace.json()?;
    ensure!(
        trace["auditId"] == ids[1].as_str()
            && trace["verb"] == "delete"
            && trace["authenticator"] == "x509"
            && trace["user"]["username"] == "jane"
            && trace["decision"] == "NoOpinion",
        "the trace of jane's delete: {trace}"
    );
    Ok(())
}

/// The server log's "request decision path" line of `audit_id` (the log is written as the
/// request is answered, so it is waited for).
async fn decision_line(server: &ApiServer, audit_id: &str) -> anyhow::Result<String> {
    let wanted = format!("audit_id={audit_id}");
    let mut found = String::new();
    eventually("the decision path line in the server log", || {
        let log = std::fs::read_to_string(server.file("apiserver.log")).unwrap_or_default();
        let line = log
            .lines()
            .find(|line| line.contains("request decision path") && line.contains(&wanted))
            .map(str::to_string);
        let done = line.is_some();
        found = line.unwrap_or_default();
        async move { Ok(done) }
    })
    .await?;
    Ok(found)
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[tokio::test]
async fn without_anonymous_auth_no_credential_is_401() -> anyhow::Result<()> {
    let scratch = std::env::temp_dir();
    if every_kubectl("without_anonymous_auth_no_credential_is_401", &scratch)?.is_empty() {
        return Ok(());
    }
    bounded_for(LIMIT, without_anonymous_auth_no_credential_is_401_steps()).await
}

async fn without_anonymous_auth_no_credential_is_401_steps() -> anyhow::Result<()> {
    let files = Files::new()?;
    let oidc = OidcIssuer::start().await?;
    let flags = [
        "--anonymous-auth=false".to_string(),
        "--authorization-mode=RBAC".to_string(),
        format!("--oidc-issuer-url={}", oidc.url),
        "--oidc-client-id=kubesim".to_string(),
        format!("--oidc-ca-file={}", oidc.ca_file.display()),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ApiServer::start_with(&flags).await?;
    let anonymous = Credential::Anonymous;
    for path in ["/version", "/api/v1/namespaces", "/readyz"] {
        get(&server, &anonymous, path)
            .await?
            .expect_unauthorized(path)?;
    }
    let configmaps = "/api/v1/namespaces/default/configmaps";
    // HTTP/1.1: over HTTP/2 an early 401 may lose its answer (auth_bad_credentials.rs).
    let body = config_map("anonymous");
    call_over(
        HttpVersion::Http1,
        &server,
        &anonymous,
        "POST",
        configmaps,
        Some(&body),
        &[],
    )
    .await?
    .expect_unauthorized("anonymous create")?;
    expect_absent(&server, &format!("{configmaps}/anonymous")).await?;
    // OIDC's default user name claim is `sub`, prefixed with the issuer and `#`.
    let token = oidc.token("sub=jane&aud=kubesim").await?;
    let oidc_config = kubeconfig(&server, files.path(), "oidc", &Credential::Bearer(token))?;
    let identity = Identity {
        name: "OIDC sub",
        kubeconfig: oidc_config,
        expected: json!({
            "username": format!("{}#jane", oidc.url),
            "groups": ["system:authenticated"],
        }),
    };
    for kubectl in every_kubectl("anonymous-off", files.path())? {
        check_whoami(&kubectl, &identity).await?;
    }
    Ok(())
}
