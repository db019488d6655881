//! Issue 5's bad-credential matrix against a real `kubesim apiserver` over a real store
//! (`KUBESIM_E2E_TARGET`): every credential that fails verification is a 401 with kube's body,
//! never anonymous (anonymous requests are on), and the write it carried left nothing behind;
//! impersonation without the `impersonate` verb is a 403 in kube's words.
//!
//! Each bad credential has a control that differs from it in that one respect and succeeds:
//! tokens minted here with the server's key, claims and clock (and a TokenRequest token), a
//! client certificate from the client CA, a proxy certificate from the request-header CA. So a
//! 401 is the verification refusing that one flaw, not a setup that accepts nothing.
//!
//! Without curl or kubectl every test skips with a line on stderr, unless `KUBESIM_E2E=1`
//! makes it fail.

use std::time::Duration;

use anyhow::ensure;
use kubesim_tests::apiserver::ApiServer;
use kubesim_tests::auth::{
    Ca, Credential, HttpVersion, SA_PUBLIC_KEY_PEM, SaClaims, Signer, Validity, binding,
    bounded_for, call, call_over, config_map, create, eventually, every_kubectl, expect_absent,
    forge_alg_none, forge_hs256, get, key_id, kubeconfig, namespace, now_secs, rbac_path,
    request_token, role, rule, service_account, service_account_subject, uid_of, user_subject,
    whoami,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(150);
/// `--service-account-issuer`, and so the API audience.
const ISSUER: &str = "https://kubesim.test";
const NS: &str = "matrix";
/// A namespace where nobody but the admin may write.
const LOCKED_NS: &str = "locked";
const ALICE_TOKEN: &str = "alice-static-token-0123456789";
/// The proxy's CN, the only one `--requestheader-allowed-names` admits.
const PROXY_CN: &str = "front-proxy-client";

/// A server with every authenticator the matrix needs, and the RBAC objects it uses.
struct Matrix {
    server: ApiServer,
    files: tempfile::TempDir,
    /// The server's `--client-ca-file` CA, from `kubesim certs`.
    client_ca: Ca,
    /// `--requestheader-client-ca-file`'s CA.
    proxy_ca: Ca,
    bot_uid: String,
}

impl Matrix {
    async fn start() -> anyhow::Result<Matrix> {
        let files = tempfile::Builder::new()
            .prefix("kubesim-authn-")
            .tempdir()?;
        let file = |name: &str, text: &str| -> anyhow::Result<String> {
            let path = files.path().join(name);
            std::fs::write(&path, text)?;
            Ok(path.display().to_string())
        };
        let tokens = file(
            "tokens.csv",
            &format!("{ALICE_TOKEN},alice,uid-alice,\"dev,qa\"\n"),
        )?;
        let signing_key = file("sa.key", kubesim_tests::auth::SA_SIGNING_KEY_PEM)?;
        let public_key = file("sa.pub", SA_PUBLIC_KEY_PEM)?;
        let proxy_ca = Ca::new("front-proxy-ca")?;
        let proxy_ca_file = proxy_ca.write(&files.path().join("proxy-ca.crt"))?;
        let flags = [
            "--authorization-mode=Node,RBAC".to_string(),
            format!("--token-auth-file={tokens}"),
            format!("--service-account-signing-key-file={signing_key}"),
            format!("--service-account-key-file={public_key}"),
            format!("--service-account-issuer={ISSUER}"),
            format!("--requestheader-client-ca-file={}", proxy_ca_file.display()),
            format!("--requestheader-allowed-names={PROXY_CN}"),
            "--requestheader-username-headers=X-Remote-User".to_string(),
            "--requestheader-group-headers=X-Remote-Group".to_string(),
            "--requestheader-extra-headers-prefix=X-Remote-Extra-".to_string(),
        ];
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let server = ApiServer::start_with(&flags).await?;
        let client_ca = Ca::kubesim(server.dir.path())?;
        create_objects(&server).await?;
        let bot_uid = uid_of(
            &server,
            &format!("/api/v1/namespaces/{NS}/serviceaccounts/bot"),
        )
        .await?;
        let matrix = Matrix {
            server,
            files,
            client_ca,
            proxy_ca,
            bot_uid,
        };
        // RBAC learns of the binding through a watch: wait until it allows the bot to read.
        let bot = Credential::Bearer(Signer::server()?.sign(&matrix.claims().to_json())?);
        let configmaps = format!("/api/v1/namespaces/{NS}/configmaps");
        eventually("RBAC to allow the bot", || async {
            Ok(get(&matrix.server, &bot, &configmaps).await?.code == 200)
        })
        .await?;
        Ok(matrix)
    }

    /// A genuine token's claims for `matrix/bot`, valid from now for an hour.
    fn claims(&self) -> SaClaims {
        SaClaims {
            issuer: ISSUER.to_string(),
            audiences: vec![ISSUER.to_string()],
            namespace: NS.to_string(),
            name: "bot".to_string(),
            uid: self.bot_uid.clone(),
            issued_at: now_secs(),
            lifetime_secs: 3600,
        }
    }

    fn configmaps(namespace: &str) -> String {
        format!("/api/v1/namespaces/{namespace}/configmaps")
    }

    /// POSTs a ConfigMap named `case` into `namespace` as `credential`, over HTTP/1.1: over
    /// HTTP/2 a refusal sent before the body was read sometimes loses its answer (see
    /// [`early_refusals_over_http2_keep_their_status`]), which would hide what this file asserts.
    async fn write(
        &self,
        case: &str,
        namespace: &str,
        credential: &Credential,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<kubesim_tests::auth::Reply> {
        let path = Matrix::configmaps(namespace);
        let body = config_map(case);
        call_over(
            HttpVersion::Http1,
            &self.server,
            credential,
            "POST",
            &path,
            Some(&body),
            headers,
        )
        .await
    }

    /// The control: `credential` may write, and its ConfigMap `case` is created.
    async fn accepted(&self, case: &str, credential: &Credential) -> anyhow::Result<()> {
        let reply = self.write(case, NS, credential, &[]).await?;
        reply.expect_code(201, case)?;
        Ok(())
    }

    /// `credential` is refused with kube's 401 for a read and for a write, whose ConfigMap
    /// `case` does not exist afterwards.
    async fn unauthorized(
        &self,
        case: &str,
        credential: &Credential,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let reply = self.write(case, NS, credential, headers).await?;
        reply.expect_unauthorized(case)?;
        ensure!(
            reply.header("audit-id").is_some_and(|id| !id.is_empty()),
            "{case}: a 401 carries an Audit-Id too: {:?}",
            reply.headers
        );
        let read = call(
            &self.server,
            credential,
            "GET",
            &Matrix::configmaps(NS),
            None,
            headers,
        )
        .await?;
        read.expect_unauthorized(&format!("{case} (read)"))?;
        expect_absent(&self.server, &format!("{}/{case}", Matrix::configmaps(NS))).await
    }

    /// A write by `credential` into `namespace` is a 403 with exactly `message`, and left
    /// nothing.
    async fn forbidden(
        &self,
        case: &str,
        namespace: &str,
        credential: &Credential,
        headers: &[(&str, &str)],
        message: &str,
    ) -> anyhow::Result<()> {
        let reply = self.write(case, namespace, credential, headers).await?;
        reply.expect_status(403, "Forbidden", message, case)?;
        expect_absent(
            &self.server,
            &format!("{}/{case}", Matrix::configmaps(namespace)),
        )
        .await
    }
}

/// The namespaces, ServiceAccounts, and who may write ConfigMaps in `matrix`: the
/// ServiceAccounts, alice (static token) and jane (client certificate). alice may impersonate
/// the user `x`, and only `x`.
async fn create_objects(server: &ApiServer) -> anyhow::Result<()> {
    create(server, "/api/v1/namespaces", &namespace(NS)).await?;
    create(server, "/api/v1/namespaces", &namespace(LOCKED_NS)).await?;
    let accounts = format!("/api/v1/namespaces/{NS}/serviceaccounts");
    for name in ["bot", "doomed", "phoenix"] {
        create(server, &accounts, &service_account(name)).await?;
    }
    let writer = role(
        "Role",
        "cm-writer",
        &[rule(&[""], &["configmaps"], &["create", "get", "list"])],
    );
    create(server, &rbac_path(NS, "roles"), &writer).await?;
    let subjects = [
        service_account_subject(NS, "bot"),
        service_account_subject(NS, "doomed"),
        service_account_subject(NS, "phoenix"),
        user_subject("alice"),
        user_subject("jane"),
    ];
    let writers = binding("RoleBinding", "cm-writers", "Role", "cm-writer", &subjects);
    create(server, &rbac_path(NS, "rolebindings"), &writers).await?;
    let mut impersonate = rule(&[""], &["users"], &["impersonate"]);
    impersonate["resourceNames"] = json!(["x"]);
    create(
        server,
        &rbac_path("", "clusterroles"),
        &role("ClusterRole", "impersonate-x", &[impersonate]),
    )
    .await?;
    let alice = binding(
        "ClusterRoleBinding",
        "alice-impersonates-x",
        "ClusterRole",
        "impersonate-x",
        &[user_subject("alice")],
    );
    create(server, &rbac_path("", "clusterrolebindings"), &alice).await?;
    Ok(())
}

/// Skips (returns false) without curl and kubectl.
fn tools_or_skip(test: &str) -> anyhow::Result<bool> {
    let scratch = std::env::temp_dir();
    Ok(!every_kubectl(test, &scratch)?.is_empty())
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_401() -> anyhow::Result<()> {
    if !tools_or_skip("forged_expired_and_misdirected_tokens_are_401")? {
        return Ok(());
    }
    bounded_for(LIMIT, forged_expired_and_misdirected_tokens_are_401_steps()).await
}

async fn forged_expired_and_misdirected_tokens_are_401_steps() -> anyhow::Result<()> {
    let m = Matrix::start().await?;
    let server_key = Signer::server()?;
    let genuine = m.claims();
    m.accepted(
        "control-minted",
        &Credential::Bearer(server_key.sign(&genuine.to_json())?),
    )
    .await?;
    let kid = key_id(SA_PUBLIC_KEY_PEM)?;
    let now = now_secs();
    let cases: Vec<(&str, String)> = vec![
        ("other-key", Signer::other()?.sign(&genuine.to_json())?),
        ("alg-none", forge_alg_none(&genuine.to_json())),
        (
            "hs256-public-key",
            forge_hs256(&genuine.to_json(), SA_PUBLIC_KEY_PEM.as_bytes(), &kid),
        ),
        (
            "expired",
            server_key.sign(
                &SaClaims {
                    issued_at: now - 7200,
                    ..genuine.clone()
                }
                .to_json(),
            )?,
        ),
        (
            "not-yet-valid",
            server_key.sign(
                &SaClaims {
                    issued_at: now + 3600,
                    ..genuine.clone()
                }
                .to_json(),
            )?,
        ),
        (
            "wrong-issuer",
            server_key.sign(
                &SaClaims {
                    issuer: "https://evil.example".into(),
                    ..genuine.clone()
                }
                .to_json(),
            )?,
        ),
        (
            "wrong-audience",
            server_key.sign(
                &SaClaims {
                    audiences: vec!["https://other.example".into()],
                    ..genuine.clone()
                }
                .to_json(),
            )?,
        ),
        (
            "wrong-uid",
            server_key.sign(
                &SaClaims {
                    uid: "not-the-uid".into(),
                    ..genuine.clone()
                }
                .to_json(),
            )?,
        ),
        (
            "unknown-static-token",
            "no-such-token-0123456789".to_string(),
        ),
    ];
    for (case, token) in &cases {
        m.unauthorized(case, &Credential::Bearer(token.clone()), &[])
            .await?;
    }
    // Every kubectl sees the same 401 for a token nobody issued.
    let unknown = Credential::Bearer("no-such-token-0123456789".into());
    let config = kubeconfig(&m.server, m.files.path(), "unknown", &unknown)?;
    for kubectl in every_kubectl("tokens", m.files.path())? {
        let out = kubectl
            .fails(&config, &["get", "configmaps", "-n", NS])
            .await?;
        ensure!(
            out.stderr.contains("You must be logged in to the server"),
            "{}: {}",
            kubectl.name(),
            out.stderr
        );
    }
    Ok(())
}

#[tokio::test]
async fn basic_auth_is_401_saying_it_is_not_supported() -> anyhow::Result<()> {
    if !tools_or_skip("basic_auth_is_401_saying_it_is_not_supported")? {
        return Ok(());
    }
    bounded_for(LIMIT, basic_auth_is_401_saying_it_is_not_supported_steps()).await
}

async fn basic_auth_is_401_saying_it_is_not_supported_steps() -> anyhow::Result<()> {
    let m = Matrix::start().await?;
    let basic = Credential::Basic {
        user: "kubesim-admin".into(),
        password: "secret".into(),
    };
    let reply = m.write("basic-auth", NS, &basic, &[]).await?;
    reply.expect_code(401, "basic auth")?;
    let status = reply.json()?;
    ensure!(
        status["reason"] == "Unauthorized"
            && status["code"] == 401
            && status["message"]
                .as_str()
                .is_some_and(|m| m.contains("basic authentication is not supported")),
        "basic auth: {status}"
    );
    expect_absent(&m.server, &format!("{}/basic-auth", Matrix::configmaps(NS))).await
}

#[tokio::test]
async fn deleted_and_recreated_service_accounts_invalidate_their_tokens() -> anyhow::Result<()> {
    if !tools_or_skip("deleted_and_recreated_service_accounts_invalidate_their_tokens")? {
        return Ok(());
    }
    bounded_for(LIMIT, deleted_and_recreated_accounts_steps()).await
}

async fn deleted_and_recreated_accounts_steps() -> anyhow::Result<()> {
    let m = Matrix::start().await?;
    let spec = json!({"expirationSeconds": 3600});
    let accounts = format!("/api/v1/namespaces/{NS}/serviceaccounts");
    let admin = kubesim_tests::auth::admin(&m.server);

    // Deleted: the token worked, then stops working once the account is gone.
    let doomed = Credential::Bearer(request_token(&m.server, NS, "doomed", spec.clone()).await?);
    let who = whoami(&m.server, &doomed, &[]).await?;
    ensure!(
        who["username"] == "system:serviceaccount:matrix:doomed",
        "{who}"
    );
    call(
        &m.server,
        &admin,
        "DELETE",
        &format!("{accounts}/doomed"),
        None,
        &[],
    )
    .await?
    .expect_code(200, "deleting doomed")?;
    eventually("the deleted account's token to be refused", || async {
        Ok(get(&m.server, &doomed, &Matrix::configmaps(NS)).await?.code == 401)
    })
    .await?;
    m.unauthorized("deleted-sa", &doomed, &[]).await?;

    // Re-created: same name, new UID; the old token names the old UID.
    let old = Credential::Bearer(request_token(&m.server, NS, "phoenix", spec.clone()).await?);
    let old_uid = uid_of(&m.server, &format!("{accounts}/phoenix")).await?;
    m.accepted("control-phoenix", &old).await?;
    call(
        &m.server,
        &admin,
        "DELETE",
        &format!("{accounts}/phoenix"),
        None,
        &[],
    )
    .await?
    .expect_code(200, "deleting phoenix")?;
    let again = create(&m.server, &accounts, &service_account("phoenix")).await?;
    let new_uid = again["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        !new_uid.is_empty() && new_uid != old_uid,
        "{old_uid} -> {new_uid}"
    );
    let new = Credential::Bearer(request_token(&m.server, NS, "phoenix", spec).await?);
    // Once the new token works, the server knows the new UID: the old token must fail.
    eventually("the re-created account's token to work", || async {
        Ok(get(&m.server, &new, &Matrix::configmaps(NS)).await?.code == 200)
    })
    .await?;
    let who = whoami(&m.server, &new, &[]).await?;
    ensure!(who["uid"] == new_uid.as_str(), "{who}");
    m.unauthorized("recreated-sa", &old, &[]).await
}

#[tokio::test]
async fn bad_certificates_and_untrusted_proxies_are_refused() -> anyhow::Result<()> {
    if !tools_or_skip("bad_certificates_and_untrusted_proxies_are_refused")? {
        return Ok(());
    }
    bounded_for(
        LIMIT,
        bad_certificates_and_untrusted_proxies_are_refused_steps(),
    )
    .await
}

async fn bad_certificates_and_untrusted_proxies_are_refused_steps() -> anyhow::Result<()> {
    let m = Matrix::start().await?;
    let dir = m.files.path();
    let jane = m
        .client_ca
        .client_cert(dir, "jane", "jane", &["dev"], Validity::Current)?;
    m.accepted("control-cert", &Credential::Cert(jane.clone()))
        .await?;
    let other_ca = Ca::new("other-ca")?;
    let foreign = other_ca.client_cert(dir, "jane-foreign", "jane", &["dev"], Validity::Current)?;
    m.unauthorized("cert-other-ca", &Credential::Cert(foreign), &[])
        .await?;
    let expired =
        m.client_ca
            .client_cert(dir, "jane-expired", "jane", &["dev"], Validity::Expired)?;
    m.unauthorized("cert-expired", &Credential::Cert(expired), &[])
        .await?;

    let as_admin = [
        ("X-Remote-User", "kubesim-admin"),
        ("X-Remote-Group", "system:masters"),
    ];
    // The proxy's control: its certificate makes the headers believed.
    let proxy = m
        .proxy_ca
        .client_cert(dir, "proxy", PROXY_CN, &[], Validity::Current)?;
    let proxy = Credential::Cert(proxy);
    let who = whoami(
        &m.server,
        &proxy,
        &[("X-Remote-User", "jane"), ("X-Remote-Group", "qa")],
    )
    .await?;
    ensure!(
        who == json!({"username": "jane", "groups": ["qa", "system:authenticated"]}),
        "a trusted proxy's headers: {who}"
    );
    m.accepted_with("control-proxy", &proxy, &[("X-Remote-User", "jane")])
        .await?;
    // A proxy certificate whose CN is not in --requestheader-allowed-names, from a CA the
    // x509 authenticator does not trust either: nobody.
    let intruder = m
        .proxy_ca
        .client_cert(dir, "intruder", "intruder", &[], Validity::Current)?;
    m.unauthorized(
        "proxy-cn-not-allowed",
        &Credential::Cert(intruder),
        &as_admin,
    )
    .await?;
    // A client certificate of the client CA sending proxy headers: as in kube, the
    // request-header authenticator refuses it and the x509 authenticator takes it, so the
    // request is the certificate's own user and the headers grant nothing.
    let who = whoami(&m.server, &Credential::Cert(jane.clone()), &as_admin).await?;
    ensure!(
        who["username"] == "jane" && who["groups"] == json!(["dev", "system:authenticated"]),
        "a client certificate with proxy headers is its own user: {who}"
    );
    m.forbidden(
        "proxy-headers-from-client-cert",
        LOCKED_NS,
        &Credential::Cert(jane),
        &as_admin,
        r#"configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" in the namespace "locked""#,
    )
    .await?;
    // Proxy headers without any certificate are ignored: the request is anonymous.
    m.forbidden(
        "proxy-headers-without-cert",
        NS,
        &Credential::Anonymous,
        &as_admin,
        r#"configmaps is forbidden: User "system:anonymous" cannot create resource "configmaps" in API group "" in the namespace "matrix""#,
    )
    .await
}

#[tokio::test]
async fn impersonation_needs_the_impersonate_verb() -> anyhow::Result<()> {
    if !tools_or_skip("impersonation_needs_the_impersonate_verb")? {
        return Ok(());
    }
    bounded_for(LIMIT, impersonation_needs_the_impersonate_verb_steps()).await
}

async fn impersonation_needs_the_impersonate_verb_steps() -> anyhow::Result<()> {
    let m = Matrix::start().await?;
    let alice = Credential::Bearer(ALICE_TOKEN.into());
    let who = whoami(&m.server, &alice, &[]).await?;
    ensure!(
        who == json!({"username": "alice", "uid": "uid-alice",
                      "groups": ["dev", "qa", "system:authenticated"]}),
        "alice: {who}"
    );
    // Allowed: `x` is the one user alice may impersonate.
    let who = whoami(&m.server, &alice, &[("Impersonate-User", "x")]).await?;
    ensure!(
        who == json!({"username": "x", "groups": ["system:authenticated"]}),
        "alice as x: {who}"
    );
    m.forbidden(
        "impersonate-admin",
        NS,
        &alice,
        &[("Impersonate-User", "kubesim-admin")],
        r#"users "kubesim-admin" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope"#,
    )
    .await?;
    m.forbidden(
        "impersonate-masters",
        NS,
        &alice,
        &[("Impersonate-User", "x"), ("Impersonate-Group", "system:masters")],
        r#"groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope"#,
    )
    .await?;
    // kubectl --as shows the same refusal, on every version. Discovery is cached first,
    // as alice: kubectl 1.27 reports a 403 on discovery as "unknown" (its aggregated
    // discovery client cannot read the Status), which would hide the message.
    let config = kubeconfig(&m.server, m.files.path(), "alice", &alice)?;
    for kubectl in every_kubectl("impersonation", m.files.path())? {
        kubectl
            .ok(&config, &["get", "configmaps", "-n", NS])
            .await?;
        let out = kubectl
            .fails(
                &config,
                &["get", "configmaps", "-n", NS, "--as=kubesim-admin"],
            )
            .await?;
        ensure!(
            out.stderr
                == "Error from server (Forbidden): users \"kubesim-admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope\n",
            "{}: {:?}",
            kubectl.name(),
            out.stderr
        );
    }
    Ok(())
}

impl Matrix {
    /// [`Matrix::accepted`] with extra request headers.
    async fn accepted_with(
        &self,
        case: &str,
        credential: &Credential,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let reply = self.write(case, NS, credential, headers).await?;
        reply.expect_code(201, case)?;
        reply.json()
    }
}

/// A request refused before its body was read must still get its answer over HTTP/2: the
/// status first, then (RFC 9113 §8.1) at most a RST_STREAM(NO_ERROR). Each refusal is asked
/// 50 times, since a lost answer is a race.
#[tokio::test]
async fn early_refusals_over_http2_keep_their_status() -> anyhow::Result<()> {
    if !tools_or_skip("early_refusals_over_http2_keep_their_status")? {
        return Ok(());
    }
    bounded_for(LIMIT, early_refusals_over_http2_keep_their_status_steps()).await
}

async fn early_refusals_over_http2_keep_their_status_steps() -> anyhow::Result<()> {
    let m = Matrix::start().await?;
    let path = Matrix::configmaps(LOCKED_NS);
    let bad = Credential::Bearer("no-such-token-0123456789".into());
    let alice = Credential::Bearer(ALICE_TOKEN.into());
    let mut lost = Vec::new();
    for (credential, code) in [(&bad, 401), (&alice, 403)] {
        for attempt in 0..50 {
            let body = config_map(&format!("h2-{code}-{attempt}"));
            match call(&m.server, credential, "POST", &path, Some(&body), &[]).await {
                Ok(reply) if reply.code == code => {}
                Ok(reply) => lost.push(format!("{code} #{attempt}: HTTP {}", reply.code)),
                Err(error) => lost.push(format!("{code} #{attempt}: {error:#}")),
            }
        }
    }
    ensure!(
        lost.is_empty(),
        "{} of 100 refusals lost their answer: {lost:#?}",
        lost.len()
    );
    Ok(())
}
