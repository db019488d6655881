//! Review and TokenRequest bodies recorded from kubectl v1.33 (each command against a TLS test
//! server that served discovery and wrote down each POST's body), with the JSON kubectl would
//! have sent instead (kubectl 1.27's JSON bodies of the same commands, and Go's encoding of the
//! same structs). kubectl 1.32+ sends these bodies in protobuf only and gives up on a 415.

use super::super::decode_reporting;
use crate::resources::{self, Resource};

/// One recorded request.
struct Capture {
    command: &'static str,
    /// Where kubectl POSTed it.
    path: &'static str,
    body_hex: &'static str,
    /// The same object as JSON, compact, in Go's field order.
    json: &'static str,
}

const CAPTURES: &[Capture] = &[
    Capture {
        command: "kubectl auth can-i list pods",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body_hex: concat!(
            "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374",
            "416363657373526576696577123d0a100a0012001a0022002a00320038004200121f0a1d0a0764656661756c",
            "7412046c6973741a0022002a04706f647332003a001a08080012001a0020001a002200",
        ),
        json: r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}},"status":{"allowed":false}}"#,
    },
    Capture {
        command: "kubectl auth can-i get pods --subresource=log -n kube-system",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body_hex: concat!(
            "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374",
            "41636365737352657669657712430a100a0012001a0022002a0032003800420012250a230a0b6b7562652d73",
            "797374656d12036765741a0022002a04706f647332036c6f673a001a08080012001a0020001a002200",
        ),
        json: r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"kube-system","verb":"get","resource":"pods","subresource":"log"}},"status":{"allowed":false}}"#,
    },
    Capture {
        command: "kubectl auth can-i get /healthz",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body_hex: concat!(
            "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374",
            "416363657373526576696577122f0a100a0012001a0022002a003200380042001211120f0a082f6865616c74",
            "687a12036765741a08080012001a0020001a002200",
        ),
        json: r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}},"status":{"allowed":false}}"#,
    },
    Capture {
        command: "kubectl auth can-i --list -n dev",
        path: "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        body_hex: concat!(
            "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a656374",
            "52756c6573526576696577121f0a100a0012001a0022002a0032003800420012050a036465761a0418002200",
            "1a002200",
        ),
        json: r#"{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"namespace":"dev"},"status":{"incomplete":false}}"#,
    },
    Capture {
        command: "kubectl auth whoami",
        path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body_hex: concat!(
            "6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a6563",
            "74526576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200",
        ),
        json: r#"{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}"#,
    },
    Capture {
        command: "kubectl create token default --duration=20m --audience=api --bound-object-kind=Pod --bound-object-name=web --bound-object-uid=1234",
        path: "/api/v1/namespaces/default/serviceaccounts/default/token",
        body_hex: concat!(
            "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565",
            "737412380a100a0012001a0022002a00320038004200121e0a036170691a140a03506f64120276311a037765",
            "6222043132333420b0091a040a0012001a002200",
        ),
        json: r#"{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"audiences":["api"],"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web","uid":"1234"},"expirationSeconds":1200},"status":{"token":"","expirationTimestamp":null}}"#,
    },
];

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The resource a path names (the parent's for `serviceaccounts/token`).
fn resource_of(path: &str) -> &'static Resource {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => panic!("{path}"),
    };
    let plural = match rest {
        [plural] => *plural,
        ["namespaces", _, plural, ..] => *plural,
        _ => panic!("{path}"),
    };
    resources::lookup(group, version, plural).unwrap_or_else(|| panic!("{path}"))
}

#[test]
fn kubectl_1_33_review_and_token_bodies_decode_to_their_json() {
    for capture in CAPTURES {
        let decoded = decode_reporting(resource_of(capture.path), &hex(capture.body_hex))
            .unwrap_or_else(|e| panic!("{}: {e}", capture.command));
        assert_eq!(
            decoded.object.to_string(),
            capture.json,
            "{}",
            capture.command
        );
        assert_eq!(decoded.unknown_fields, [], "{}", capture.command);
    }
}

/// A SubjectAccessReview with every subject field, built from k8s.io/api's field numbers:
/// `extra` is `map<string, ExtraValue>`, each value a message wrapping the list at field 1.
#[test]
fn subject_access_review_with_groups_extra_and_selectors() {
    use super::encoder::{Msg, body, object_meta};
    let extra = |key: &str, values: &[&str]| {
        let mut list = Msg::new();
        for value in values {
            list = list.str(1, value);
        }
        Msg::new().str(1, key).msg(2, list)
    };
    let field_selector = Msg::new().msg(
        2,
        Msg::new().str(1, "spec.nodeName").str(2, "In").str(3, "n1"),
    );
    let attributes = Msg::new()
        .str(1, "dev")
        .str(2, "list")
        .str(3, "")
        .str(5, "pods")
        .msg(8, field_selector)
        .msg(9, Msg::new().str(1, "app=web"));
    let spec = Msg::new()
        .msg(1, attributes)
        .str(3, "jane")
        .str(4, "dev")
        .str(4, "ops")
        .msg(5, extra("scopes", &["a", "b"]))
        .msg(5, extra("empty", &[]))
        .str(6, "u-1");
    let status = Msg::new().bool(1, true).str(2, "stale").bool(4, false);
    let object = Msg::new()
        .msg(1, object_meta(""))
        .msg(2, spec)
        .msg(3, status);
    let sar = resources::lookup("authorization.k8s.io", "v1", "subjectaccessreviews").unwrap();
    let decoded = decode_reporting(
        sar,
        &body("authorization.k8s.io/v1", "SubjectAccessReview", object),
    )
    .unwrap();
    assert_eq!(
        decoded.object.to_string(),
        r#"{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"dev","verb":"list","resource":"pods","fieldSelector":{"requirements":[{"key":"spec.nodeName","operator":"In","values":["n1"]}]},"labelSelector":{"rawSelector":"app=web"}},"user":"jane","groups":["dev","ops"],"extra":{"empty":[],"scopes":["a","b"]},"uid":"u-1"},"status":{"allowed":true,"reason":"stale"}}"#
    );
    assert_eq!(decoded.unknown_fields, []);
}

/// A Node as a kubelet registers it: taints, capacity (Quantity messages), conditions with
/// times, addresses and nodeInfo.
#[test]
fn node_with_spec_and_status() {
    use super::encoder::{Msg, body, object_meta};
    let quantity = |q: &str| Msg::new().str(1, q);
    let spec = Msg::new()
        .str(1, "10.244.1.0/24")
        .bool(4, true)
        .msg(
            5,
            Msg::new()
                .str(1, "dedicated")
                .str(2, "gpu")
                .str(3, "NoSchedule"),
        )
        .str(7, "10.244.1.0/24");
    let status = Msg::new()
        .msg(1, Msg::new().str(1, "cpu").msg(2, quantity("4")))
        .msg(
            4,
            Msg::new()
                .str(1, "Ready")
                .str(2, "True")
                .msg(3, Msg::new().int(1, 1_700_000_000))
                .str(5, "KubeletReady"),
        )
        .msg(5, Msg::new().str(1, "InternalIP").str(2, "10.0.0.5"))
        .msg(6, Msg::new().msg(1, Msg::new().int(1, 10250)))
        .msg(7, Msg::new().str(7, "v1.33.0").str(10, "amd64"));
    let object = Msg::new()
        .msg(1, object_meta("n1"))
        .msg(2, spec)
        .msg(3, status);
    let nodes = resources::lookup("", "v1", "nodes").unwrap();
    let decoded = decode_reporting(nodes, &body("v1", "Node", object)).unwrap();
    assert_eq!(
        decoded.object.to_string(),
        r#"{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","creationTimestamp":null},"spec":{"podCIDR":"10.244.1.0/24","unschedulable":true,"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}],"podCIDRs":["10.244.1.0/24"]},"status":{"capacity":{"cpu":"4"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2023-11-14T22:13:20Z","reason":"KubeletReady"}],"addresses":[{"type":"InternalIP","address":"10.0.0.5"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"kubeletVersion":"v1.33.0","architecture":"amd64"}}}"#
    );
    assert_eq!(decoded.unknown_fields, []);
}
