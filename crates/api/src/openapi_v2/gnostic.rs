//! The Swagger 2.0 JSON as gnostic's `openapi.v2.Document` message, what kube-openapi's
//! `ToProtoBinary` serves and client-go's `OpenAPISchema` unmarshals. Field numbers are those
//! of github.com/google/gnostic-models `openapiv2/OpenAPIv2.proto` (the same in the older
//! github.com/google/gnostic that kubectl 1.27 links); each function below writes one of its
//! messages, its match arms mapping the JSON key to the field.
//!
//! gnostic's shapes differ from the JSON in a few places: maps are repeated `Named*` pairs in
//! the JSON's order; a parameter is a oneof (body, or non-body by `in`); a schema's `type` and
//! `items` are wrapped (`TypeItem`, `ItemsItem`); and an `x-` key is a `NamedAny` whose
//! `Any.yaml` holds the value as YAML text, which clients parse with a YAML library. The text
//! here is YAML's flow style, JSON-like with a space after each separator
//! (`{"group": "", "kind": "Pod", "version": "v1"}`), which every YAML parser reads the same
//! as kube's block style.
//!
//! A key this module has no field for is left out and named in [`Encoded::skipped`]; the
//! document [`super::swagger`] builds has none (tested), so the two representations say the
//! same thing.

use serde_json::{Map, Value};

use super::swagger::MAX_SCHEMA_DEPTH;
use super::wire::Message;

/// An encoded document.
pub(super) struct Encoded {
    pub(super) bytes: Vec<u8>,
    /// JSON pointers of the keys that were not encoded.
    pub(super) skipped: Vec<String>,
}

/// The document as a `Document` message.
pub(super) fn encode(document: &Value) -> Encoded {
    let mut encoder = Encoder::default();
    let message = encoder.document(document);
    Encoded {
        bytes: message.into_bytes(),
        skipped: encoder.skipped,
    }
}

#[derive(Default)]
struct Encoder {
    skipped: Vec<String>,
}

/// An empty object, for a value that is not one (it is reported as skipped).
static NO_FIELDS: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl Encoder {
    fn skip(&mut self, at: &str, key: &str) {
        self.skipped.push(format!("{at}/{key}"));
    }

    /// The keys and values of an object; anything else is reported and has none.
    fn object<'v>(&mut self, value: &'v Value, at: &str) -> &'v Map<String, Value> {
        match value.as_object() {
            Some(map) => map,
            None => {
                self.skipped.push(format!("{at} (not an object)"));
                &NO_FIELDS
            }
        }
    }

    /// A string value; anything else is reported and reads as "".
    fn text<'v>(&mut self, value: &'v Value, at: &str, key: &str) -> &'v str {
        match value.as_str() {
            Some(text) => text,
            None => {
                self.skip(at, key);
                ""
            }
        }
    }

    /// A boolean value; anything else is reported and reads as false.
    fn flag(&mut self, value: &Value, at: &str, key: &str) -> bool {
        match value.as_bool() {
            Some(flag) => flag,
            None => {
                self.skip(at, key);
                false
            }
        }
    }

    /// A `repeated string` from a JSON array of strings.
    fn strings(&mut self, m: &mut Message, field: u32, value: &Value, at: &str, key: &str) {
        match value.as_array() {
            Some(items) => {
                for item in items {
                    let text = self.text(item, at, key);
                    m.repeated_string(field, text);
                }
            }
            None => self.skip(at, key),
        }
    }

    /// `NamedAny {1: name, 2: Any {2: yaml}}` for an `x-` key.
    fn extension(m: &mut Message, field: u32, name: &str, value: &Value) {
        let mut any = Message::new();
        any.string(2, &yaml(value));
        let mut named = Message::new();
        named.string(1, name);
        named.message(2, any);
        m.message(field, named);
    }

    /// `Document`.
    fn document(&mut self, doc: &Value) -> Message {
        let at = "";
        let mut m = Message::new();
        for (key, value) in self.object(doc, at) {
            match key.as_str() {
                "swagger" => m.string(1, self.text(value, at, key)),
                "info" => m.message(2, self.info(value)),
                "host" => m.string(3, self.text(value, at, key)),
                "basePath" => m.string(4, self.text(value, at, key)),
                "schemes" => self.strings(&mut m, 5, value, at, key),
                "consumes" => self.strings(&mut m, 6, value, at, key),
                "produces" => self.strings(&mut m, 7, value, at, key),
                "paths" => m.message(8, self.paths(value)),
                "definitions" => m.message(9, self.definitions(value)),
                "security" => self.security(&mut m, 12, value, at),
                "securityDefinitions" => m.message(13, self.security_definitions(value)),
                _ if key.starts_with("x-") => Self::extension(&mut m, 16, key, value),
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// `Info`.
    fn info(&mut self, info: &Value) -> Message {
        let at = "/info";
        let mut m = Message::new();
        for (key, value) in self.object(info, at) {
            match key.as_str() {
                "title" => m.string(1, self.text(value, at, key)),
                "version" => m.string(2, self.text(value, at, key)),
                "description" => m.string(3, self.text(value, at, key)),
                _ if key.starts_with("x-") => Self::extension(&mut m, 7, key, value),
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// `Paths {1: vendor_extension, 2: repeated NamedPathItem {1: name, 2: PathItem}}`.
    fn paths(&mut self, paths: &Value) -> Message {
        let mut m = Message::new();
        for (path, item) in self.object(paths, "/paths") {
            if path.starts_with("x-") {
                Self::extension(&mut m, 1, path, item);
                continue;
            }
            let mut named = Message::new();
            named.string(1, path);
            named.message(2, self.path_item(item, &format!("/paths/{path}")));
            m.message(2, named);
        }
        m
    }

    /// `PathItem`.
    fn path_item(&mut self, item: &Value, at: &str) -> Message {
        let mut m = Message::new();
        for (key, value) in self.object(item, at) {
            let operation_field = match key.as_str() {
                "get" => 2,
                "put" => 3,
                "post" => 4,
                "delete" => 5,
                "options" => 6,
                "head" => 7,
                "patch" => 8,
                "$ref" => {
                    m.string(1, self.text(value, at, key));
                    continue;
                }
                "parameters" => {
                    self.parameters(&mut m, 9, value, &format!("{at}/parameters"));
                    continue;
                }
                _ if key.starts_with("x-") => {
                    Self::extension(&mut m, 10, key, value);
                    continue;
                }
                _ => {
                    self.skip(at, key);
                    continue;
                }
            };
            m.message(
                operation_field,
                self.operation(value, &format!("{at}/{key}")),
            );
        }
        m
    }

    /// `Operation`.
    fn operation(&mut self, op: &Value, at: &str) -> Message {
        let mut m = Message::new();
        for (key, value) in self.object(op, at) {
            match key.as_str() {
                "tags" => self.strings(&mut m, 1, value, at, key),
                "summary" => m.string(2, self.text(value, at, key)),
                "description" => m.string(3, self.text(value, at, key)),
                "operationId" => m.string(5, self.text(value, at, key)),
                "produces" => self.strings(&mut m, 6, value, at, key),
                "consumes" => self.strings(&mut m, 7, value, at, key),
                "parameters" => self.parameters(&mut m, 8, value, &format!("{at}/parameters")),
                "responses" => m.message(9, self.responses(value, &format!("{at}/responses"))),
                "schemes" => self.strings(&mut m, 10, value, at, key),
                "deprecated" => m.bool(11, self.flag(value, at, key)),
                _ if key.starts_with("x-") => Self::extension(&mut m, 13, key, value),
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// `repeated ParametersItem`: each `{1: Parameter}`, or `{2: JsonReference}` for a `$ref`.
    fn parameters(&mut self, m: &mut Message, field: u32, params: &Value, at: &str) {
        let Some(params) = params.as_array() else {
            self.skipped.push(format!("{at} (not an array)"));
            return;
        };
        for (i, param) in params.iter().enumerate() {
            let at = format!("{at}/{i}");
            let mut item = Message::new();
            if let Some(reference) = param.get("$ref") {
                let mut json_reference = Message::new();
                json_reference.string(1, self.text(reference, &at, "$ref"));
                item.message(2, json_reference);
            } else {
                item.message(1, self.parameter(param, &at));
            }
            m.message(field, item);
        }
    }

    /// `Parameter`: `{1: BodyParameter}` or `{2: NonBodyParameter}` whose oneof is chosen by
    /// `in`: header 1, formData 2, query 3, path 4.
    fn parameter(&mut self, param: &Value, at: &str) -> Message {
        let mut m = Message::new();
        let location = param["in"].as_str().unwrap_or("");
        if location == "body" {
            m.message(1, self.body_parameter(param, at));
            return m;
        }
        let (choice, layout) = match location {
            "header" => (1, PATH_OR_HEADER),
            "formData" => (2, QUERY_OR_FORM),
            "query" => (3, QUERY_OR_FORM),
            "path" => (4, PATH_OR_HEADER),
            _ => {
                self.skip(at, "in");
                return m;
            }
        };
        let mut non_body = Message::new();
        non_body.message(choice, self.sub_schema(param, at, &layout));
        m.message(2, non_body);
        m
    }

    /// `BodyParameter`.
    fn body_parameter(&mut self, param: &Value, at: &str) -> Message {
        let mut m = Message::new();
        for (key, value) in self.object(param, at) {
            match key.as_str() {
                "description" => m.string(1, self.text(value, at, key)),
                "name" => m.string(2, self.text(value, at, key)),
                "in" => m.string(3, self.text(value, at, key)),
                "required" => m.bool(4, self.flag(value, at, key)),
                "schema" => m.message(5, self.schema(value, &format!("{at}/schema"), 0)),
                _ if key.starts_with("x-") => Self::extension(&mut m, 6, key, value),
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// A non-body parameter's `*ParameterSubSchema`; `layout` has its field numbers.
    fn sub_schema(&mut self, param: &Value, at: &str, layout: &SubSchemaLayout) -> Message {
        let mut m = Message::new();
        for (key, value) in self.object(param, at) {
            match key.as_str() {
                "required" => m.bool(1, self.flag(value, at, key)),
                "in" => m.string(2, self.text(value, at, key)),
                "description" => m.string(3, self.text(value, at, key)),
                "name" => m.string(4, self.text(value, at, key)),
                "type" => m.string(layout.type_, self.text(value, at, key)),
                "format" => m.string(layout.format, self.text(value, at, key)),
                "uniqueItems" => m.bool(layout.unique_items, self.flag(value, at, key)),
                _ if key.starts_with("x-") => {
                    Self::extension(&mut m, layout.vendor_extension, key, value)
                }
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// `Responses {1: repeated NamedResponseValue {1: name, 2: ResponseValue}}`, each value
    /// `{1: Response}`.
    fn responses(&mut self, responses: &Value, at: &str) -> Message {
        let mut m = Message::new();
        for (code, response) in self.object(responses, at) {
            if code.starts_with("x-") {
                Self::extension(&mut m, 2, code, response);
                continue;
            }
            let mut value = Message::new();
            value.message(1, self.response(response, &format!("{at}/{code}")));
            let mut named = Message::new();
            named.string(1, code);
            named.message(2, value);
            m.message(1, named);
        }
        m
    }

    /// `Response`, its schema wrapped in `SchemaItem {1: Schema}`.
    fn response(&mut self, response: &Value, at: &str) -> Message {
        let mut m = Message::new();
        for (key, value) in self.object(response, at) {
            match key.as_str() {
                "description" => m.string(1, self.text(value, at, key)),
                "schema" => {
                    let mut item = Message::new();
                    item.message(1, self.schema(value, &format!("{at}/schema"), 0));
                    m.message(2, item);
                }
                _ if key.starts_with("x-") => Self::extension(&mut m, 5, key, value),
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// `Definitions {1: repeated NamedSchema {1: name, 2: Schema}}`.
    fn definitions(&mut self, definitions: &Value) -> Message {
        let mut m = Message::new();
        for (name, schema) in self.object(definitions, "/definitions") {
            let mut named = Message::new();
            named.string(1, name);
            named.message(2, self.schema(schema, &format!("/definitions/{name}"), 0));
            m.message(1, named);
        }
        m
    }

    /// `Schema`.
    fn schema(&mut self, schema: &Value, at: &str, depth: usize) -> Message {
        let mut m = Message::new();
        if depth > MAX_SCHEMA_DEPTH {
            self.skipped.push(format!("{at} (nested too deep)"));
            return m;
        }
        for (key, value) in self.object(schema, at) {
            match key.as_str() {
                "$ref" => m.string(1, self.text(value, at, key)),
                "format" => m.string(2, self.text(value, at, key)),
                "title" => m.string(3, self.text(value, at, key)),
                "description" => m.string(4, self.text(value, at, key)),
                "uniqueItems" => m.bool(16, self.flag(value, at, key)),
                "required" => self.strings(&mut m, 19, value, at, key),
                "additionalProperties" => {
                    let item = self.additional_properties(value, &format!("{at}/{key}"), depth);
                    m.message(21, item);
                }
                "type" => m.message(22, self.type_item(value, at)),
                "items" => m.message(23, self.items(value, &format!("{at}/items"), depth)),
                "allOf" => {
                    for (i, inner) in value.as_array().into_iter().flatten().enumerate() {
                        let inner = self.schema(inner, &format!("{at}/allOf/{i}"), depth + 1);
                        m.message(24, inner);
                    }
                }
                "properties" => m.message(25, self.properties(value, at, depth)),
                "readOnly" => m.bool(27, self.flag(value, at, key)),
                _ if key.starts_with("x-") => Self::extension(&mut m, 31, key, value),
                _ => self.skip(at, key),
            }
        }
        m
    }

    /// `AdditionalPropertiesItem`: `{1: Schema}` or `{2: bool}`.
    fn additional_properties(&mut self, value: &Value, at: &str, depth: usize) -> Message {
        let mut m = Message::new();
        match value {
            // A oneof member is written even when false: it says which member is set.
            Value::Bool(allowed) => m.oneof_bool(2, *allowed),
            _ => m.message(1, self.schema(value, at, depth + 1)),
        }
        m
    }

    /// `TypeItem {1: repeated string}`: JSON's `type` is one name or a list of them.
    fn type_item(&mut self, value: &Value, at: &str) -> Message {
        let mut m = Message::new();
        match value {
            Value::String(name) => m.repeated_string(1, name),
            _ => self.strings(&mut m, 1, value, at, "type"),
        }
        m
    }

    /// `ItemsItem {1: repeated Schema}`: JSON's `items` is one schema or a list of them.
    fn items(&mut self, value: &Value, at: &str, depth: usize) -> Message {
        let mut m = Message::new();
        match value {
            Value::Array(schemas) => {
                for (i, schema) in schemas.iter().enumerate() {
                    m.message(1, self.schema(schema, &format!("{at}/{i}"), depth + 1));
                }
            }
            _ => m.message(1, self.schema(value, at, depth + 1)),
        }
        m
    }

    /// `Properties {1: repeated NamedSchema}`.
    fn properties(&mut self, value: &Value, at: &str, depth: usize) -> Message {
        let mut m = Message::new();
        let at = format!("{at}/properties");
        for (name, schema) in self.object(value, &at) {
            let mut named = Message::new();
            named.string(1, name);
            named.message(2, self.schema(schema, &format!("{at}/{name}"), depth + 1));
            m.message(1, named);
        }
        m
    }

    /// `repeated SecurityRequirement`, each `{1: repeated NamedStringArray {1: name, 2:
    /// StringArray {1: repeated string}}}`.
    fn security(&mut self, m: &mut Message, field: u32, value: &Value, at: &str) {
        let Some(requirements) = value.as_array() else {
            self.skip(at, "security");
            return;
        };
        for requirement in requirements {
            let mut message = Message::new();
            for (name, scopes) in self.object(requirement, "/security") {
                let mut array = Message::new();
                self.strings(&mut array, 1, scopes, "/security", name);
                let mut named = Message::new();
                named.string(1, name);
                named.message(2, array);
                message.message(1, named);
            }
            m.message(field, message);
        }
    }

    /// `SecurityDefinitions {1: repeated NamedSecurityDefinitionsItem {1: name, 2:
    /// SecurityDefinitionsItem}}`; only API keys (`{2: ApiKeySecurity}`), which is all kube
    /// declares (`BearerToken`).
    fn security_definitions(&mut self, value: &Value) -> Message {
        let at = "/securityDefinitions";
        let mut m = Message::new();
        for (name, definition) in self.object(value, at) {
            let at = format!("{at}/{name}");
            if definition["type"] != "apiKey" {
                self.skip(&at, "type");
                continue;
            }
            let mut api_key = Message::new();
            for (key, v) in self.object(definition, &at) {
                match key.as_str() {
                    "type" => api_key.string(1, self.text(v, &at, key)),
                    "name" => api_key.string(2, self.text(v, &at, key)),
                    "in" => api_key.string(3, self.text(v, &at, key)),
                    "description" => api_key.string(4, self.text(v, &at, key)),
                    _ if key.starts_with("x-") => Self::extension(&mut api_key, 5, key, v),
                    _ => self.skip(&at, key),
                }
            }
            let mut item = Message::new();
            item.message(2, api_key);
            let mut named = Message::new();
            named.string(1, name);
            named.message(2, item);
            m.message(1, named);
        }
        m
    }
}

/// Where a non-body parameter's fields sit: `QueryParameterSubSchema` and
/// `FormDataParameterSubSchema` have `allow_empty_value` at 5 and the rest one further on
/// than `PathParameterSubSchema` and `HeaderParameterSubSchema`. The first four fields
/// (required, in, description, name) are 1 to 4 in all of them.
struct SubSchemaLayout {
    type_: u32,
    format: u32,
    unique_items: u32,
    vendor_extension: u32,
}

const QUERY_OR_FORM: SubSchemaLayout = SubSchemaLayout {
    type_: 6,
    format: 7,
    unique_items: 20,
    vendor_extension: 23,
};

const PATH_OR_HEADER: SubSchemaLayout = SubSchemaLayout {
    type_: 5,
    format: 6,
    unique_items: 19,
    vendor_extension: 22,
};

/// An extension's value as YAML flow text, a line: strings double-quoted with JSON's escapes
/// (a subset of YAML's), `", "` and `": "` between items.
pub(super) fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, &mut out, 0);
    out.push('\n');
    out
}

/// Extension values are small literals (a kind, a list of keys); nesting stops here.
const MAX_YAML_DEPTH: usize = 8;

fn write_yaml(value: &Value, out: &mut String, depth: usize) {
    match value {
        Value::Array(items) if depth < MAX_YAML_DEPTH => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_yaml(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) if depth < MAX_YAML_DEPTH => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_yaml(item, out, depth + 1);
            }
            out.push('}');
        }
        Value::Array(_) | Value::Object(_) => out.push_str("null"),
        // JSON's scalars are YAML's: null, true, false, numbers, double-quoted strings.
        scalar => out.push_str(&scalar.to_string()),
    }
}
