//! The JSON document's shape and kube-openapi's parse rules; the protobuf read back with a
//! small decoder written from `OpenAPIv2.proto` (field numbers spelled out here again, so a
//! wrong number in the encoder shows), checked against the JSON and against what kubectl
//! 1.27/1.28's `QueryParamVerifier` looks for; Accept negotiation; the ETag.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::*;
use crate::resources::RESOURCES;

fn document() -> Value {
    serde_json::from_slice(v2_json()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// A protobuf reader for the tests: records of a message, by field number.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint too long");
}

/// Every record of a message, in order. Only the wire types gnostic's messages use here.
fn records(bytes: &[u8]) -> Vec<(u32, Wire<'_>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at);
        let field = u32::try_from(key >> 3).unwrap();
        let value = match key & 7 {
            0 => Wire::Varint(read_varint(bytes, &mut at)),
            2 => {
                let len = usize::try_from(read_varint(bytes, &mut at)).unwrap();
                let value = &bytes[at..at + len];
                at += len;
                Wire::Bytes(value)
            }
            other => panic!("wire type {other}"),
        };
        out.push((field, value));
    }
    out
}

/// The length-delimited values of `field`.
fn all(bytes: &[u8], field: u32) -> Vec<&[u8]> {
    records(bytes)
        .into_iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, value)| match value {
            Wire::Bytes(b) => b,
            Wire::Varint(_) => panic!("field {field} is a varint"),
        })
        .collect()
}

/// The one sub-message at `field`; None when absent.
fn one(bytes: &[u8], field: u32) -> Option<&[u8]> {
    let found = all(bytes, field);
    assert!(found.len() <= 1, "field {field} repeated");
    found.first().copied()
}

fn string(bytes: &[u8], field: u32) -> String {
    one(bytes, field)
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .unwrap_or_default()
}

fn strings(bytes: &[u8], field: u32) -> Vec<String> {
    all(bytes, field)
        .into_iter()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .collect()
}

fn flag(bytes: &[u8], field: u32) -> bool {
    records(bytes)
        .into_iter()
        .any(|(f, value)| f == field && value == Wire::Varint(1))
}

/// A repeated `Named*` {1: name, 2: value} as (name, value bytes).
fn named(bytes: &[u8], field: u32) -> Vec<(String, &[u8])> {
    all(bytes, field)
        .into_iter()
        .map(|pair| (string(pair, 1), one(pair, 2).unwrap_or_default()))
        .collect()
}

/// Vendor extensions (`repeated NamedAny` at `field`) as JSON: the YAML flow text is JSON.
fn extensions(bytes: &[u8], field: u32) -> Vec<(String, Value)> {
    named(bytes, field)
        .into_iter()
        .map(|(name, any)| {
            let yaml = string(any, 2);
            assert!(yaml.ends_with('\n'), "{name}: {yaml:?}");
            (name, serde_json::from_str(&yaml).unwrap())
        })
        .collect()
}

/// A gnostic `Schema` back to JSON, keys sorted as the encoder's input has them.
fn decode_schema(bytes: &[u8]) -> Value {
    let mut out: std::collections::BTreeMap<String, Value> = Default::default();
    let text = |field, key: &str, out: &mut std::collections::BTreeMap<String, Value>| {
        let value = string(bytes, field);
        if !value.is_empty() {
            out.insert(key.into(), json!(value));
        }
    };
    text(1, "$ref", &mut out);
    text(2, "format", &mut out);
    text(4, "description", &mut out);
    let required = strings(bytes, 19);
    if !required.is_empty() {
        out.insert("required".into(), json!(required));
    }
    if let Some(additional) = one(bytes, 21) {
        let schema = one(additional, 1).expect("a schema, not a bool");
        out.insert("additionalProperties".into(), decode_schema(schema));
    }
    if let Some(types) = one(bytes, 22) {
        let types = strings(types, 1);
        assert_eq!(types.len(), 1);
        out.insert("type".into(), json!(types[0]));
    }
    if let Some(items) = one(bytes, 23) {
        let schemas = all(items, 1);
        assert_eq!(schemas.len(), 1, "one items schema");
        out.insert("items".into(), decode_schema(schemas[0]));
    }
    if let Some(properties) = one(bytes, 25) {
        let properties: Map<String, Value> = named(properties, 1)
            .into_iter()
            .map(|(name, schema)| (name, decode_schema(schema)))
            .collect();
        out.insert("properties".into(), Value::Object(properties));
    }
    for (name, value) in extensions(bytes, 31) {
        out.insert(name, value);
    }
    Value::Object(out.into_iter().collect())
}

fn definitions_pb() -> Vec<(String, &'static [u8])> {
    let definitions = one(v2_protobuf(), 9).unwrap();
    named(definitions, 1)
}

/// The PathItem of `path` in the protobuf.
fn path_item_pb(path: &str) -> &'static [u8] {
    let paths = one(v2_protobuf(), 8).unwrap();
    named(paths, 2)
        .into_iter()
        .find(|(name, _)| name == path)
        .map(|(_, item)| item)
        .unwrap_or_else(|| panic!("{path}"))
}

/// A query parameter's name: `ParametersItem {1: Parameter {2: NonBodyParameter {3:
/// QueryParameterSubSchema {4: name}}}}`, None for any other parameter.
fn query_parameter_name(item: &[u8]) -> Option<String> {
    let parameter = one(item, 1)?;
    let non_body = one(parameter, 2)?;
    let query = one(non_body, 3)?;
    Some(string(query, 4))
}

/// What kubectl 1.27/1.28's `supportsQueryParam` does with the protobuf: the first path
/// whose PATCH carries the kind decides. None when no PATCH has the kind.
fn supports_query_param(gvk: &Value, param: &str) -> Option<bool> {
    let paths = one(v2_protobuf(), 8).unwrap();
    for (_, item) in named(paths, 2) {
        let Some(patch) = one(item, 8) else {
            continue;
        };
        let kind = extensions(patch, 13)
            .into_iter()
            .find(|(name, _)| name == "x-kubernetes-group-version-kind");
        if kind.is_none_or(|(_, value)| &value != gvk) {
            continue;
        }
        let found = all(patch, 8)
            .into_iter()
            .any(|p| query_parameter_name(p).as_deref() == Some(param));
        return Some(found);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The protobuf.

#[test]
fn protobuf_starts_with_the_swagger_version_and_info() {
    let bytes = v2_protobuf();
    // 1: "2.0", then 2: Info {1: "Kubernetes", 2: "unversioned"}.
    let mut expected = vec![0x0a, 3, b'2', b'.', b'0', 0x12, 25, 0x0a, 10];
    expected.extend_from_slice(b"Kubernetes");
    expected.extend_from_slice(&[0x12, 11]);
    expected.extend_from_slice(b"unversioned");
    assert_eq!(&bytes[..expected.len()], expected.as_slice());
    // Then 8: Paths, 9: Definitions, 13: SecurityDefinitions, 12: the security requirement.
    let fields: Vec<u32> = records(bytes).iter().map(|(f, _)| *f).collect();
    assert_eq!(fields, [1, 2, 8, 9, 13, 12]);
}

#[test]
fn the_pod_patch_operation_carries_the_kind_and_field_validation() {
    let item = path_item_pb("/api/v1/namespaces/{namespace}/pods/{name}");
    let patch = one(item, 8).expect("a patch operation");
    assert_eq!(string(patch, 5), "patchCoreV1NamespacedPod");
    assert_eq!(string(patch, 3), "partially update the specified Pod");
    assert_eq!(strings(patch, 1), ["core_v1"]);
    assert_eq!(strings(patch, 10), ["https"]);
    assert_eq!(
        strings(patch, 7),
        [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ]
    );
    let extension_texts: Vec<(String, String)> = named(patch, 13)
        .into_iter()
        .map(|(name, any)| (name, string(any, 2)))
        .collect();
    assert_eq!(
        extension_texts,
        [
            ("x-kubernetes-action".to_owned(), "\"patch\"\n".to_owned()),
            (
                "x-kubernetes-group-version-kind".to_owned(),
                "{\"group\": \"\", \"kind\": \"Pod\", \"version\": \"v1\"}\n".to_owned()
            ),
        ]
    );

    let params = all(patch, 8);
    // The body first: ParametersItem {1: Parameter {1: BodyParameter}}.
    let body = one(one(params[0], 1).unwrap(), 1).expect("a body parameter");
    assert_eq!(string(body, 2), "body");
    assert_eq!(string(body, 3), "body");
    assert!(flag(body, 4), "required");
    assert_eq!(
        string(one(body, 5).unwrap(), 1),
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    );
    let names: Vec<String> = params[1..]
        .iter()
        .map(|p| query_parameter_name(p).unwrap())
        .collect();
    assert_eq!(
        names,
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    let field_validation = one(one(one(params[3], 1).unwrap(), 2).unwrap(), 3).unwrap();
    assert_eq!(string(field_validation, 2), "query");
    assert_eq!(string(field_validation, 6), "string");
    assert!(flag(field_validation, 20), "uniqueItems");

    // The path's shared parameters: name and namespace in the path (4), pretty in the query.
    let shared = all(item, 9);
    let path_param = one(one(one(shared[0], 1).unwrap(), 2).unwrap(), 4).unwrap();
    assert_eq!(string(path_param, 4), "name");
    assert_eq!(string(path_param, 2), "path");
    assert!(flag(path_param, 1), "required");
    assert_eq!(string(path_param, 5), "string");
    assert_eq!(query_parameter_name(shared[2]).as_deref(), Some("pretty"));

    // Responses {1: NamedResponseValue {1: "200", 2: ResponseValue {1: Response}}}.
    let responses = named(one(patch, 9).unwrap(), 1);
    let codes: Vec<&str> = responses.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(codes, ["200", "201", "401"]);
    let ok = one(responses[0].1, 1).unwrap();
    assert_eq!(string(ok, 1), "OK");
    let schema = one(one(ok, 2).unwrap(), 1).unwrap();
    assert_eq!(string(schema, 1), "#/definitions/io.k8s.api.core.v1.Pod");
}

#[test]
fn kubectls_query_param_verifier_finds_field_validation_for_every_served_kind() {
    for resource in RESOURCES.iter().filter(|r| r.allows("patch")) {
        let gvk =
            json!({"group": resource.group, "kind": resource.kind, "version": resource.version});
        assert_eq!(
            supports_query_param(&gvk, "fieldValidation"),
            Some(true),
            "{}",
            resource.kind
        );
        assert_eq!(supports_query_param(&gvk, "nope"), Some(false));
    }
    let unknown = json!({"group": "batch", "kind": "Job", "version": "v1"});
    assert_eq!(supports_query_param(&unknown, "fieldValidation"), None);
}

#[test]
fn every_key_of_the_json_is_encoded() {
    let encoded = gnostic::encode(&document());
    assert_eq!(encoded.skipped, Vec::<String>::new());
    assert_eq!(encoded.bytes, v2_protobuf());
}

#[test]
fn keys_without_a_field_are_reported() {
    let odd = json!({
        "swagger": "2.0",
        "tags": [],
        "definitions": {"A": {"type": "object", "enum": ["x"], "properties": {"b": {"type": 3}}}},
        "paths": {"/p": {"get": {"parameters": [{"in": "cookie", "name": "c"}]}}},
    });
    let encoded = gnostic::encode(&odd);
    assert_eq!(
        encoded.skipped,
        [
            "/tags",
            "/definitions/A/enum",
            "/definitions/A/properties/b/type",
            "/paths//p/get/parameters/0/in",
        ]
    );
}

#[test]
fn definitions_read_back_equal_the_json() {
    let json_definitions = document()["definitions"].clone();
    let json_definitions = json_definitions.as_object().unwrap();
    let decoded = definitions_pb();
    let names: Vec<&String> = decoded.iter().map(|(name, _)| name).collect();
    let json_names: Vec<&String> = json_definitions.keys().collect();
    assert_eq!(names, json_names);
    for (name, bytes) in decoded {
        assert_eq!(decode_schema(bytes), json_definitions[&name], "{name}");
    }
}

#[test]
fn operations_read_back_equal_the_json() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    let decoded = named(one(v2_protobuf(), 8).unwrap(), 2);
    assert_eq!(decoded.len(), paths.len());
    let methods = [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("patch", 8),
    ];
    for (path, item) in decoded {
        let json_item = &paths[&path];
        for (method, field) in methods {
            let Some(op) = one(item, field) else {
                assert!(json_item.get(method).is_none(), "{path} {method}");
                continue;
            };
            let json_op = &json_item[method];
            assert_eq!(json!(string(op, 5)), json_op["operationId"], "{path}");
            assert_eq!(json!(strings(op, 6)), json_op["produces"], "{path}");
            assert_eq!(json!(strings(op, 7)), json_op["consumes"], "{path}");
            let extensions: Map<String, Value> = extensions(op, 13).into_iter().collect();
            let json_extensions: Map<String, Value> = json_op
                .as_object()
                .unwrap()
                .iter()
                .filter(|(key, _)| key.starts_with("x-"))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            assert_eq!(extensions, json_extensions, "{path} {method}");
            let params = json_op["parameters"].as_array().map_or(0, Vec::len);
            assert_eq!(all(op, 8).len(), params, "{path} {method}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON document.

#[test]
fn the_json_document_is_swagger_2_with_kubes_top_level_keys() {
    let doc = document();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "swagger",
            "info",
            "paths",
            "definitions",
            "securityDefinitions",
            "security"
        ]
    );
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(
        doc["info"],
        json!({"title": "Kubernetes", "version": "unversioned"})
    );
    assert_eq!(
        doc["securityDefinitions"],
        json!({"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}})
    );
    assert_eq!(doc["security"], json!([{"BearerToken": []}]));
    assert!(!String::from_utf8_lossy(v2_json()).contains("#/components/"));
}

#[test]
fn paths_are_every_v3_documents_paths() {
    let doc = document();
    let mut expected = BTreeSet::new();
    for name in openapi::document_paths() {
        let v3 = openapi::v3_group_version(&name).unwrap();
        expected.extend(v3["paths"].as_object().unwrap().keys().cloned());
    }
    let paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(paths, expected);
    for path in [
        "/api/",
        "/apis/",
        "/version/",
        "/apis/apps/",
        "/api/v1/",
        "/api/v1/pods",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
        "/api/v1/namespaces/{name}/finalize",
    ] {
        assert!(paths.contains(path), "{path}");
    }
}

#[test]
fn the_pod_patch_operation_in_json() {
    let doc = document();
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(
        patch["parameters"],
        json!([
            {"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
            {"description": "`All` to run every stage of the request without persisting anything.", "in": "query", "name": "dryRun", "type": "string", "uniqueItems": true},
            {"description": "Name of the actor making the change, recorded in managedFields; required for apply patches.", "in": "query", "name": "fieldManager", "type": "string", "uniqueItems": true},
            {"description": "How unknown and duplicate fields in the body are handled: `Ignore` drops them, `Warn` (the default) drops them with a warning for each, `Strict` fails the request with a BadRequest naming them all.", "in": "query", "name": "fieldValidation", "type": "string", "uniqueItems": true},
            {"description": "Take over fields other managers own; apply patches only.", "in": "query", "name": "force", "type": "boolean", "uniqueItems": true},
        ])
    );
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "", "kind": "Pod", "version": "v1"})
    );
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(
        patch["responses"],
        json!({
            "200": {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}},
            "201": {"description": "Created", "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}},
            "401": {"description": "Unauthorized"},
        })
    );
    assert_eq!(patch["produces"], json!(["application/json"]));
    let keys: Vec<&String> = patch.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "consumes",
            "description",
            "operationId",
            "parameters",
            "produces",
            "responses",
            "schemes",
            "tags",
            "x-kubernetes-action",
            "x-kubernetes-group-version-kind",
        ]
    );
}

#[test]
fn lists_produce_watch_streams_and_deletes_take_an_optional_body() {
    let doc = document();
    let collection = &doc["paths"]["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(
        collection["get"]["produces"],
        json!(["application/json", "application/json;stream=watch"])
    );
    assert_eq!(collection["get"]["consumes"], json!(["*/*"]));
    assert_eq!(collection["get"]["x-kubernetes-action"], "list");
    assert_eq!(
        collection["delete"]["parameters"][0],
        json!({"in": "body", "name": "body", "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"}})
    );
    assert_eq!(collection["post"]["parameters"][0]["required"], true);
    assert_eq!(collection["post"]["consumes"], json!(["*/*"]));
}

#[test]
fn definitions_are_kubes_v2_schemas() {
    let doc = document();
    let definitions = &doc["definitions"];
    let pod = &definitions["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    assert_eq!(
        pod["properties"]["metadata"],
        json!({
            "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "description": "Standard object metadata: name, namespace, labels, annotations, and what the server manages.",
        })
    );
    assert_eq!(
        definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        "string"
    );
    assert!(
        definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]
            .get("oneOf")
            .is_none()
    );
    let int_or_string = &definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["type"], "string");
    assert_eq!(int_or_string["format"], "int-or-string");
    assert_eq!(
        definitions["io.k8s.api.apps.v1.DeploymentList"]["properties"]["items"]["items"],
        json!({"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"})
    );
    let container = &definitions["io.k8s.api.core.v1.Container"];
    assert_eq!(container["required"], json!(["name"]));
    let ports = &container["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(ports["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(
        ports["items"],
        json!({"$ref": "#/definitions/io.k8s.api.core.v1.ContainerPort"})
    );
}

#[test]
fn a_type_shared_by_group_versions_converts_the_same_in_each() {
    let doc = document();
    for name in openapi::document_paths() {
        let v3 = openapi::v3_group_version(&name).unwrap();
        for (type_name, schema) in v3["components"]["schemas"].as_object().unwrap() {
            assert_eq!(
                swagger::convert_schema(schema, 0),
                doc["definitions"][type_name],
                "{name}: {type_name}"
            );
        }
    }
}

/// kube-openapi's `NewOpenAPIData` rules (`pkg/util/proto/document.go`), which kubectl 1.27
/// and 1.28 apply to every definition before create or apply.
fn check_kube_openapi_rules(schema: &Value, definitions: &Value, at: &str) {
    if let Some(reference) = schema.get("$ref") {
        assert!(
            schema.get("type").is_none(),
            "{at}: a reference has no type"
        );
        assert!(schema.get("properties").is_none(), "{at}");
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .unwrap_or_else(|| panic!("{at}: {reference}"));
        assert!(definitions.get(name).is_some(), "{at}: {name}");
        return;
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        check_kube_openapi_rules(property, definitions, &format!("{at}.{name}"));
    }
    match schema["type"].as_str() {
        Some("array") => {
            assert!(schema["items"].is_object(), "{at}: one items schema");
            check_kube_openapi_rules(&schema["items"], definitions, &format!("{at}[]"));
        }
        Some("object") => {
            if let Some(inner) = schema.get("additionalProperties") {
                check_kube_openapi_rules(inner, definitions, &format!("{at}{{}}"));
            }
        }
        Some(primitive) => assert!(
            ["string", "number", "integer", "boolean"].contains(&primitive),
            "{at}: {primitive}"
        ),
        None => assert!(
            schema.get("properties").is_some() || schema.get("description").is_some(),
            "{at}: untyped"
        ),
    }
}

#[test]
fn every_definition_passes_kube_openapis_parser_rules() {
    let doc = document();
    let definitions = &doc["definitions"];
    let all = definitions.as_object().unwrap();
    assert!(all.len() > 150, "{}", all.len());
    for (name, schema) in all {
        check_kube_openapi_rules(schema, definitions, name);
    }
    // And every reference in the paths resolves too.
    let text = String::from_utf8_lossy(v2_json()).into_owned();
    for reference in text.split("\"#/definitions/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(definitions.get(name).is_some(), "{name}");
    }
}

#[test]
fn explain_finds_pods_spec_containers_through_the_definitions() {
    let doc = document();
    let definitions = doc["definitions"].as_object().unwrap();
    let gvk = json!({"group": "", "kind": "Pod", "version": "v1"});
    let (_, pod) = definitions
        .iter()
        .find(|(_, s)| {
            s["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|l| l.contains(&gvk))
        })
        .unwrap();
    let deref = |s: &Value| -> Value {
        let name = s["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/definitions/");
        definitions[name].clone()
    };
    let spec = deref(&pod["properties"]["spec"]);
    let containers = &spec["properties"]["containers"];
    assert_eq!(containers["type"], "array");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    let container = deref(&containers["items"]);
    assert_eq!(
        container["description"],
        "A single application container that runs within a pod."
    );
    assert_eq!(container["properties"]["image"]["type"], "string");
}

#[test]
fn schemas_nested_past_the_limit_are_cut_off() {
    let mut deep = json!({"type": "string"});
    for _ in 0..swagger::MAX_SCHEMA_DEPTH + 4 {
        deep = json!({"items": deep, "type": "array"});
    }
    let converted = swagger::convert_schema(&deep, 0);
    let mut levels = 0;
    let mut at = &converted;
    while let Some(inner) = at.get("items") {
        levels += 1;
        at = inner;
    }
    assert_eq!(levels, swagger::MAX_SCHEMA_DEPTH + 1);
    assert_eq!(at, &json!({}));

    let encoded = gnostic::encode(&json!({"definitions": {"Deep": deep}}));
    assert_eq!(encoded.skipped.len(), 1);
    assert!(
        encoded.skipped[0].ends_with("(nested too deep)"),
        "{:?}",
        encoded.skipped
    );
}

// ---------------------------------------------------------------------------------------------
// Extensions' YAML, the ETag, Accept.

#[test]
fn extension_values_are_yaml_flow_text() {
    use gnostic::yaml;
    assert_eq!(yaml(&json!("merge")), "\"merge\"\n");
    assert_eq!(yaml(&json!(true)), "true\n");
    assert_eq!(
        yaml(&json!(["containerPort", "protocol"])),
        "[\"containerPort\", \"protocol\"]\n"
    );
    assert_eq!(
        yaml(&json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])),
        "[{\"group\": \"apps\", \"kind\": \"Deployment\", \"version\": \"v1\"}]\n"
    );
    assert_eq!(yaml(&json!("a\"b\n")), "\"a\\\"b\\n\"\n");
    let deep = json!([[[[[[[[[["x"]]]]]]]]]]);
    assert_eq!(yaml(&deep), "[[[[[[[[null]]]]]]]]\n");
}

#[test]
fn the_etag_is_the_hash_of_the_json() {
    assert_eq!(v2_etag(), openapi::hash_hex(v2_json()));
    assert_eq!(v2_etag().len(), 16);
    assert!(v2_etag().chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn accept_picks_the_representation_as_kube_openapi_does() {
    let json = Some((v2_json(), JSON_MEDIA_TYPE));
    let protobuf = Some((v2_protobuf(), PROTOBUF_MEDIA_TYPE));
    // kubectl 1.27/1.28 (client-go's OpenAPISchema).
    assert_eq!(
        v2_for_accept("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
        protobuf
    );
    assert_eq!(
        v2_for_accept("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        protobuf
    );
    assert_eq!(v2_for_accept(""), json);
    assert_eq!(v2_for_accept("*/*"), json);
    assert_eq!(v2_for_accept("application/json, */*"), json);
    assert_eq!(v2_for_accept("application/*"), json);
    assert_eq!(v2_for_accept("Application/JSON"), json);
    assert_eq!(
        v2_for_accept(
            "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        ),
        protobuf
    );
    assert_eq!(
        v2_for_accept("*/*;q=0.9, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        protobuf
    );
    assert_eq!(v2_for_accept("application/json;q=0"), None);
    assert_eq!(v2_for_accept("text/html"), None);
    assert_eq!(v2_for_accept("application/yaml"), None);
    assert_eq!(v2_for_accept("garbage"), None);
}

#[test]
fn the_document_is_built_once() {
    assert!(std::ptr::eq(v2_json(), v2_json()));
    assert!(std::ptr::eq(v2_protobuf(), v2_protobuf()));
    assert!(std::ptr::eq(v2_etag(), v2_etag()));
}
