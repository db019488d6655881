//! One Swagger 2.0 document from the OpenAPI v3 documents of [`crate::openapi`]: every
//! document's `paths` and `components.schemas` merged, then rewritten where the two versions
//! differ, as kube-openapi writes its own v2:
//! - schemas live under `definitions`, so `#/components/schemas/X` becomes `#/definitions/X`;
//! - a field that is a reference with a description, `{"allOf": [{"$ref": R}],
//!   "description": D}` in v3 (where a `$ref` may have no siblings), is `{"$ref": R,
//!   "description": D}`, as in kube's `swagger.json` and as kube-openapi's v2 parser expects;
//! - the named scalars with two forms (`oneOf` string or number for Quantity, integer or string
//!   for IntOrString) are `type: string`, the format kept;
//! - a parameter's `schema` is flattened into it (`type`, `uniqueItems`), a request body is the
//!   first parameter (`in: body`, `name: body`) and its media types the operation's
//!   `consumes`, and a response's media types its `produces`;
//! - operations say `schemes: [https]`, the document `security: [{BearerToken: []}]`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::openapi;

const V3_REF_PREFIX: &str = "#/components/schemas/";
const V2_REF_PREFIX: &str = "#/definitions/";

/// Schemas nest only through `properties`, `items`, `additionalProperties` and `allOf` (a
/// struct is referenced by name, never inlined), a few levels at most; past this depth a
/// subschema is left empty rather than followed.
pub(super) const MAX_SCHEMA_DEPTH: usize = 16;

/// The whole document: keys in kube-openapi's order (`swagger`, `info`, `paths`,
/// `definitions`, security), paths and definitions sorted by name.
pub(super) fn document() -> Value {
    let mut info = Value::Null;
    let mut security_definitions = Value::Null;
    let mut paths: BTreeMap<String, Value> = BTreeMap::new();
    let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
    for name in openapi::document_paths() {
        let Some(v3) = openapi::v3_group_version(&name) else {
            continue;
        };
        if info.is_null() {
            info = v3["info"].clone();
        }
        if security_definitions.is_null() {
            security_definitions = v3["components"]["securitySchemes"].clone();
        }
        for (path, item) in v3["paths"].as_object().into_iter().flatten() {
            paths.insert(path.clone(), path_item(item));
        }
        // A type used by several group versions is rendered the same in each (one TypeDef,
        // one renderer), so the first is as good as any; the tests check they agree.
        for (type_name, schema) in v3["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            definitions
                .entry(type_name.clone())
                .or_insert_with(|| convert_schema(schema, 0));
        }
    }
    let paths: Map<String, Value> = paths.into_iter().collect();
    let definitions: Map<String, Value> = definitions.into_iter().collect();
    let security_names: Vec<Value> = security_definitions
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, _)| json!({ name.clone(): [] }))
        .collect();
    json!({
        "swagger": "2.0",
        "info": info,
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": security_definitions,
        "security": security_names,
    })
}

/// A path item: its operations, and the parameters they share.
fn path_item(v3: &Value) -> Value {
    let mut out = Map::new();
    for (key, value) in v3.as_object().into_iter().flatten() {
        let converted = if key == "parameters" {
            Value::Array(parameters(value))
        } else {
            operation(value)
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

/// An operation, keys sorted as in kube's `swagger.json`. Without a request body it
/// consumes `*/*`, as kube says of every operation.
fn operation(v3: &Value) -> Value {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut body = None;
    let mut params = Vec::new();
    for (key, value) in v3.as_object().into_iter().flatten() {
        match key.as_str() {
            "parameters" => params = parameters(value),
            "requestBody" => {
                out.insert("consumes".into(), media_types(&value["content"]));
                body = Some(body_parameter(value));
            }
            "responses" => {
                out.insert("produces".into(), produced(value));
                out.insert("responses".into(), responses(value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out.entry("consumes".into())
        .or_insert_with(|| json!(["*/*"]));
    // The body comes first, as kube lists it.
    let params: Vec<Value> = body.into_iter().chain(params).collect();
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    out.insert("schemes".into(), json!(["https"]));
    Value::Object(out.into_iter().collect())
}

/// Query and path parameters: v3's `schema` (`type`, `uniqueItems`) flattened into the
/// parameter, as Swagger 2.0 writes non-body parameters.
fn parameters(v3: &Value) -> Vec<Value> {
    let flatten = |param: &Value| {
        let mut out: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in param.as_object().into_iter().flatten() {
            if key == "schema" {
                for (inner, v) in value.as_object().into_iter().flatten() {
                    out.insert(inner.clone(), v.clone());
                }
            } else {
                out.insert(key.clone(), value.clone());
            }
        }
        Value::Object(out.into_iter().collect())
    };
    v3.as_array().into_iter().flatten().map(flatten).collect()
}

/// The request body as the `body` parameter; `required` only when it is, as kube omits it
/// for the optional DeleteOptions body.
fn body_parameter(request_body: &Value) -> Value {
    let mut out = Map::new();
    out.insert("in".into(), json!("body"));
    out.insert("name".into(), json!("body"));
    if request_body["required"] == json!(true) {
        out.insert("required".into(), json!(true));
    }
    if let Some(schema) = first_schema(&request_body["content"]) {
        out.insert("schema".into(), convert_schema(schema, 0));
    }
    Value::Object(out)
}

/// The media types of a v3 `content` map, in its order.
fn media_types(content: &Value) -> Value {
    let types: Vec<Value> = content
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media_type, _)| json!(media_type))
        .collect();
    Value::Array(types)
}

/// The media types of every response, each once, in the order first met.
fn produced(responses: &Value) -> Value {
    let mut types: Vec<Value> = Vec::new();
    for (_, response) in responses.as_object().into_iter().flatten() {
        for (media_type, _) in response["content"].as_object().into_iter().flatten() {
            let media_type = json!(media_type);
            if !types.contains(&media_type) {
                types.push(media_type);
            }
        }
    }
    Value::Array(types)
}

/// Each status code with its description and the schema of its (first) content.
fn responses(v3: &Value) -> Value {
    let mut out = Map::new();
    for (code, response) in v3.as_object().into_iter().flatten() {
        let mut converted = Map::new();
        converted.insert("description".into(), response["description"].clone());
        if let Some(schema) = first_schema(&response["content"]) {
            converted.insert("schema".into(), convert_schema(schema, 0));
        }
        out.insert(code.clone(), Value::Object(converted));
    }
    Value::Object(out)
}

/// The schema of the first media type of a v3 `content` map.
fn first_schema(content: &Value) -> Option<&Value> {
    content
        .as_object()?
        .values()
        .next()
        .and_then(|media| media.get("schema"))
}

/// A v3 schema as Swagger 2.0 writes it (see the module comment), keys sorted.
pub(super) fn convert_schema(v3: &Value, depth: usize) -> Value {
    let Some(map) = v3.as_object() else {
        return v3.clone();
    };
    if depth > MAX_SCHEMA_DEPTH {
        return json!({});
    }
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for (key, value) in map {
        match key.as_str() {
            "$ref" => {
                out.insert(key.clone(), reference(value));
            }
            "allOf" => match value.as_array().map(Vec::as_slice) {
                Some([only]) if only.get("$ref").is_some() => {
                    out.insert("$ref".into(), reference(&only["$ref"]));
                }
                _ => {
                    out.insert(key.clone(), convert_each(value, depth));
                }
            },
            // Quantity and IntOrString: kube's v2 says string, the format tells the rest.
            "oneOf" => {
                out.entry("type".into()).or_insert_with(|| json!("string"));
            }
            "properties" => {
                let properties: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), convert_schema(s, depth + 1)))
                    .collect();
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "additionalProperties" => {
                out.insert(key.clone(), convert_schema(value, depth + 1));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out.into_iter().collect())
}

fn convert_each(schemas: &Value, depth: usize) -> Value {
    let converted: Vec<Value> = schemas
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| convert_schema(s, depth + 1))
        .collect();
    Value::Array(converted)
}

/// `#/components/schemas/X` → `#/definitions/X`.
fn reference(v3: &Value) -> Value {
    match v3.as_str() {
        Some(r) => json!(format!(
            "{V2_REF_PREFIX}{}",
            r.strip_prefix(V3_REF_PREFIX).unwrap_or(r)
        )),
        None => v3.clone(),
    }
}
