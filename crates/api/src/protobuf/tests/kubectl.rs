//! Bodies recorded from kubectl v1.32.4 (`kubectl create ...` against a TLS test server that
//! served discovery and wrote down each POST), with the JSON the same command prints with
//! `--dry-run=client -o json`. Decoding the protobuf must give exactly that JSON, key order
//! included: it is what kubectl would have sent had it used JSON.

use super::super::decode_reporting;
use crate::resources::RESOURCES;

/// One recorded request.
struct Fixture {
    command: &'static str,
    /// The resource the body was POSTed to.
    resource: &'static str,
    body_hex: &'static str,
    /// `--dry-run=client -o json`, compacted.
    json: &'static str,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        command: "kubectl create namespace x",
        resource: "namespaces",
        body_hex: concat!(
            "6b3873000a0f0a02763112094e616d65737061636512190a110a017812001a0022002a003200380042001200",
            "1a020a001a002200",
        ),
        json: r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x","creationTimestamp":null},"spec":{},"status":{}}"#,
    },
    Fixture {
        command: "kubectl create configmap cm --from-literal=a=1 --from-literal=b=two --from-file=bin=<bytes 00 01 02 ff>",
        resource: "configmaps",
        body_hex: concat!(
            "6b3873000a0f0a0276311209436f6e6669674d617012330a120a02636d12001a0022002a0032003800420012",
            "060a016112013112080a0162120374776f1a0b0a0362696e1204000102ff1a002200",
        ),
        json: r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","creationTimestamp":null},"data":{"a":"1","b":"two"},"binaryData":{"bin":"AAEC/w=="}}"#,
    },
    Fixture {
        command: "kubectl create secret generic s --from-literal=password=hunter2",
        resource: "secrets",
        body_hex: concat!(
            "6b3873000a0c0a0276311206536563726574122a0a110a017312001a0022002a0032003800420012130a0870",
            "617373776f7264120768756e746572321a001a002200",
        ),
        json: r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","creationTimestamp":null},"data":{"password":"aHVudGVyMg=="}}"#,
    },
    Fixture {
        command: "kubectl create secret docker-registry reg --docker-server=r.example --docker-username=u --docker-password=p",
        resource: "secrets",
        body_hex: concat!(
            "6b3873000a0c0a02763112065365637265741291010a130a0372656712001a0022002a00320038004200125a",
            "0a112e646f636b6572636f6e6669676a736f6e12457b226175746873223a7b22722e6578616d706c65223a7b",
            "22757365726e616d65223a2275222c2270617373776f7264223a2270222c2261757468223a2264547077227d",
            "7d7d1a1e6b756265726e657465732e696f2f646f636b6572636f6e6669676a736f6e1a002200",
        ),
        json: r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"reg","creationTimestamp":null},"data":{".dockerconfigjson":"eyJhdXRocyI6eyJyLmV4YW1wbGUiOnsidXNlcm5hbWUiOiJ1IiwicGFzc3dvcmQiOiJwIiwiYXV0aCI6ImRUcHcifX19"},"type":"kubernetes.io/dockerconfigjson"}"#,
    },
    Fixture {
        command: "kubectl create serviceaccount sa",
        resource: "serviceaccounts",
        body_hex: concat!(
            "6b3873000a140a027631120e536572766963654163636f756e7412140a120a02736112001a0022002a003200",
            "380042001a002200",
        ),
        json: r#"{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa","creationTimestamp":null}}"#,
    },
    Fixture {
        command: "kubectl create deployment web --image=nginx --replicas=2",
        resource: "deployments",
        body_hex: concat!(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ab010a1f0a0377656212001a0022002a",
            "003200380042005a0a0a036170701203776562127a0802120c0a0a0a0361707012037765621a600a1c0a0012",
            "001a0022002a003200380042005a0a0a036170701203776562124012220a056e67696e7812056e67696e782a",
            "0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100",
            "c2010022020a00280038001a0c0800100018002000280038001a002200",
        ),
        json: r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","creationTimestamp":null,"labels":{"app":"web"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},"status":{}}"#,
    },
    Fixture {
        command: "kubectl create deployment api --image=nginx:1.27 --port=8080 --replicas=0",
        resource: "deployments",
        body_hex: concat!(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412be010a1f0a0361706912001a0022002a",
            "003200380042005a0a0a036170701203617069128c010800120c0a0a0a0361707012036170691a720a1c0a00",
            "12001a0022002a003200380042005a0a0a036170701203617069125212340a056e67696e78120a6e67696e78",
            "3a312e32372a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a0032004200",
            "4a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010001800200028003800",
            "1a002200",
        ),
        json: r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"api","creationTimestamp":null,"labels":{"app":"api"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"api"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.27","ports":[{"containerPort":8080}],"resources":{}}]}},"strategy":{}},"status":{}}"#,
    },
    Fixture {
        command: "kubectl create service clusterip svc --tcp=80:8080",
        resource: "services",
        body_hex: concat!(
            "6b3873000a0d0a02763112075365727669636512690a1f0a0373766312001a0022002a003200380042005a0a",
            "0a03617070120373766312420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a",
            "0361707012037376631a002209436c757374657249503a00420052005a00600068001a020a001a002200",
        ),
        json: r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc","creationTimestamp":null,"labels":{"app":"svc"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"svc"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}"#,
    },
    Fixture {
        command: "kubectl create service nodeport np --tcp=80:http --node-port=30080",
        resource: "services",
        body_hex: concat!(
            "6b3873000a0d0a027631120753657276696365126a0a1d0a026e7012001a0022002a003200380042005a090a",
            "0361707012026e7012450a200a0738302d6874747012035443501850220a080110001a04687474702880eb01",
            "12090a0361707012026e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200",
        ),
        json: r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"np","creationTimestamp":null,"labels":{"app":"np"}},"spec":{"ports":[{"name":"80-http","protocol":"TCP","port":80,"targetPort":"http","nodePort":30080}],"selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}}"#,
    },
    Fixture {
        command: "kubectl create role r --verb=get,list --resource=pods",
        resource: "roles",
        body_hex: concat!(
            "6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f6c651228",
            "0a110a017212001a0022002a0032003800420012130a036765740a046c69737412001a04706f64731a002200",
        ),
        json: r#"{"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"r","creationTimestamp":null},"rules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}]}"#,
    },
    Fixture {
        command: "kubectl create rolebinding rb --clusterrole=view --user=alice --serviceaccount=default:sa",
        resource: "rolebindings",
        body_hex: concat!(
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c654269",
            "6e64696e671291010a120a02726212001a0022002a00320038004200122a0a04557365721219726261632e61",
            "7574686f72697a6174696f6e2e6b38732e696f1a05616c6963652200121f0a0e536572766963654163636f75",
            "6e7412001a027361220764656661756c741a2e0a19726261632e617574686f72697a6174696f6e2e6b38732e",
            "696f120b436c7573746572526f6c651a04766965771a002200",
        ),
        json: r#"{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"rb","creationTimestamp":null},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"},{"kind":"ServiceAccount","name":"sa","namespace":"default"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}"#,
    },
    Fixture {
        command: "kubectl create clusterrole cr --verb=get,list --resource=pods,deployments.apps",
        resource: "clusterroles",
        body_hex: concat!(
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c75737465",
            "72526f6c6512490a120a02637212001a0022002a0032003800420012130a036765740a046c69737412001a04",
            "706f6473121e0a036765740a046c6973741204617070731a0b6465706c6f796d656e74731a002200",
        ),
        json: r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"cr","creationTimestamp":null},"rules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]},{"verbs":["get","list"],"apiGroups":["apps"],"resources":["deployments"]}]}"#,
    },
    Fixture {
        command: "kubectl create clusterrolebinding crb --clusterrole=view --group=devs",
        resource: "clusterrolebindings",
        body_hex: concat!(
            "6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c75737465",
            "72526f6c6542696e64696e6712710a130a0363726212001a0022002a00320038004200122a0a0547726f7570",
            "1219726261632e617574686f72697a6174696f6e2e6b38732e696f1a046465767322001a2e0a19726261632e",
            "617574686f72697a6174696f6e2e6b38732e696f120b436c7573746572526f6c651a04766965771a002200",
        ),
        json: r#"{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"crb","creationTimestamp":null},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"devs"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}"#,
    },
];

pub(super) fn bodies() -> Vec<(&'static crate::resources::Resource, Vec<u8>)> {
    FIXTURES
        .iter()
        .map(|fixture| (resource(fixture.resource), unhex(fixture.body_hex)))
        .collect()
}

fn resource(plural: &str) -> &'static crate::resources::Resource {
    RESOURCES
        .iter()
        .find(|r| r.plural == plural)
        .unwrap_or_else(|| panic!("{plural}"))
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "{hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn kubectl_bodies_decode_to_kubectls_own_json() {
    for fixture in FIXTURES {
        let body = unhex(fixture.body_hex);
        let decoded = decode_reporting(resource(fixture.resource), &body)
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.command));
        assert_eq!(
            decoded.object.to_string(),
            fixture.json,
            "{}",
            fixture.command
        );
        assert_eq!(decoded.unknown_fields, [], "{}", fixture.command);
    }
    assert_eq!(FIXTURES.len(), 13);
}
