//! `/metrics` of a real `kubesim apiserver` after real kubectl commands: kube's request,
//! stage, admission and etcd metrics, in Prometheus' text format.

use anyhow::ensure;
use kubesim_tests::apiserver::{ApiServer as Server, kubectls};
use kubesim_tests::bounded;

/// The value of the sample whose line starts with `series` (name and labels as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_each_request_stage_admission_step_and_store_call() -> anyhow::Result<()> {
    bounded(async {
        let kubectls = kubectls("metrics_count_each_request_stage_admission_step_and_store_call")?;
        let Some(kubectl) = kubectls.first() else {
            return Ok(());
        };
        let server = Server::start().await?;
        for args in [
            &["create", "namespace", "metrics"][..],
            &["-n", "metrics", "create", "configmap", "one", "--from-literal=a=b"],
            &["-n", "metrics", "get", "configmaps"],
            &["-n", "metrics", "get", "configmap", "absent"],
        ] {
            server.kubectl(kubectl, args).await?;
        }
        let out = server.kubectl(kubectl, &["get", "--raw", "/metrics"]).await?;
        ensure!(out.status.success(), "{out:?}\n{}", server.log());
        let text = out.stdout;
        let expected = [
            // The configmap create, its list and the 404.
            "apiserver_request_total{code=\"201\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"POST\",version=\"v1\"}",
            "apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"}",
            "apiserver_request_total{code=\"404\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\"}",
            "apiserver_request_duration_seconds_count{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"POST\",version=\"v1\"}",
            // Every stage of the chain, for each request.
            "apiserver_request_filter_duration_seconds_count{filter=\"authentication\"}",
            "apiserver_request_filter_duration_seconds_count{filter=\"authorization\"}",
            "apiserver_request_filter_duration_seconds_count{filter=\"priorityandfairness\"}",
            // Admission of the namespace and the configmap.
            "apiserver_admission_controller_admission_duration_seconds_count{name=\"NamespaceLifecycle\",operation=\"CREATE\",rejected=\"false\",type=\"admit\"}",
            // Object validation of the configmap (kubesim's own histogram).
            "kubesim_apiserver_validation_duration_seconds_count{operation=\"CREATE\",rejected=\"false\",resource=\"configmaps\"}",
            // The store.
            "etcd_request_duration_seconds_count{operation=\"create\",type=\"configmaps\"}",
            // API Priority and Fairness: the admin is exempt.
            "apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"exempt\",priority_level=\"exempt\"}",
        ];
        for series in expected {
            let value = sample(&text, series);
            ensure!(
                value.is_some_and(|v| v >= 1.0),
                "{series}: {value:?} in\n{text}"
            );
        }
        // The one configmap create was counted once.
        ensure!(sample(&text, expected[0]) == Some(1.0), "{text}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_create_that_asks_gets_each_stage_and_admission_step_in_server_timing()
-> anyhow::Result<()> {
    bounded(async {
        if !kubesim_tests::apiserver::curl_or_skip("server_timing")? {
            return Ok(());
        }
        let server = Server::start().await?;
        let url = server.url("/api/v1/namespaces");
        let body = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"timed"}}"#;
        let out = server
            .curl(&[
                "--dump-header",
                "-",
                "--output",
                "/dev/null",
                "-H",
                "Content-Type: application/json",
                "-H",
                "X-Kubesim-Trace: 1",
                "--data",
                body,
                &url,
            ])
            .await?;
        ensure!(out.status.success(), "{out:?}\n{}", server.log());
        let timing = out
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix("server-timing: "))
            .unwrap_or_default()
            .to_string();
        ensure!(out.stdout.contains(" 201"), "{}", out.stdout);
        for stage in [
            "authentication;dur=",
            "priorityandfairness;dur=",
            "authorization;dur=",
            "admission.NamespaceLifecycle;dur=",
            "validation;dur=",
            "handler;dur=",
            "total;dur=",
        ] {
            ensure!(timing.contains(stage), "{stage} missing from {timing:?}");
        }
        Ok(())
    })
    .await
}
