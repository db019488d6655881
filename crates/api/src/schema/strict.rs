//! The checks behind `fieldValidation=Strict|Warn`: fields the schema does not know, and
//! fields a JSON object repeats.
//!
//! kube-apiserver finds both while decoding a body into its Go structs (`sigs.k8s.io/json`'s
//! strict mode): an unknown field is `unknown field "spec.containers[0].imagee"`, a repeated
//! one `duplicate field "metadata.name"`, the path being the field's JSON path with `.` between
//! names and `[i]` for array items. It keeps each message once and at most 100 of them. Strict
//! answers a create or update with 400 BadRequest, `Pod in version "v1" cannot be handled as a
//! Pod: ` followed by [`strict_decoding_error`]; Warn sends each message as a warning header
//! and goes on. This module words and bounds them the same way.
//!
//! Differences, both from seeing the JSON apart from the decode: [`unknown_fields`] walks the
//! parsed object, where a repeated field has only its last value (kube also looks inside the
//! earlier ones), and [`duplicate_fields`] reads the raw body without the schema, so it also
//! reports keys repeated inside unknown fields and free-form values, which kube skips.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

use super::{Type, TypeDef, kind_type};
use crate::resources::Resource;
use crate::status::go_quote;

/// kube-apiserver stops collecting strict errors at this many (`saveStrictError`).
pub const MAX_STRICT_ERRORS: usize = 100;

/// Deepest nesting walked. The described types nest about 15 deep; `serde_json` refuses
/// documents nested deeper than 128, so a body that parsed is walked whole.
const MAX_DEPTH: usize = 128;

/// Unknown fields of `object`, a whole object of `resource`'s kind, in document order, as
/// kube-apiserver words them for fieldValidation: `unknown field "spec.containers[0].imagee"`.
/// Empty for a kind this module does not describe.
pub fn unknown_fields(resource: &Resource, object: &Value) -> Vec<String> {
    match kind_type(resource) {
        Some(def) => unknown_fields_in(def, object),
        None => Vec::new(),
    }
}

/// Unknown fields of `value` read as a `def` (a DeleteOptions body, a subresource's object).
pub fn unknown_fields_in(def: &'static TypeDef, value: &Value) -> Vec<String> {
    let mut walk = UnknownWalk {
        path: String::new(),
        errors: Errors::default(),
    };
    walk.object(def, value, 0);
    walk.errors.list
}

/// Duplicate fields in a raw JSON body, which `serde_json` would silently collapse to the last
/// one: `duplicate field "metadata.name"`, in document order. Object keys are compared after
/// unescaping, as a decoder sees them. Bounded: one pass over the body, nesting deeper than
/// 128 is skipped, and at most [`MAX_STRICT_ERRORS`] messages. Stops quietly at
/// anything that is not JSON (the body is expected to have parsed already).
pub fn duplicate_fields(body: &[u8]) -> Vec<String> {
    let mut scan = Scanner {
        bytes: body,
        pos: 0,
        path: String::new(),
        errors: Errors::default(),
    };
    scan.skip_whitespace();
    // None only says the body ended early or is not JSON: what was found so far stands.
    let _ = scan.value(0);
    scan.errors.list
}

/// The text kube-apiserver's decoder reports the strict errors with (`runtime.NewStrictDecodingError`):
/// `strict decoding error: unknown field "a", duplicate field "b"`.
pub fn strict_decoding_error(errors: &[String]) -> String {
    format!("strict decoding error: {}", errors.join(", "))
}

/// Messages kept once each, at most [`MAX_STRICT_ERRORS`].
#[derive(Default)]
struct Errors {
    list: Vec<String>,
}

impl Errors {
    fn full(&self) -> bool {
        self.list.len() >= MAX_STRICT_ERRORS
    }

    fn push(&mut self, kind: &str, path: &str) {
        let message = format!("{kind} field {}", go_quote(path));
        if !self.full() && !self.list.contains(&message) {
            self.list.push(message);
        }
    }
}

/// Appends `key` to a field path: `a.b`, or `b` at the top.
fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Appends an array index: `a[3]`.
fn push_index(path: &mut String, index: usize) {
    // By hand rather than `write!`: the scanner does this for every array item of every
    // body, and the formatting machinery cost more than the digits.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = index;
    loop {
        at -= 1;
        // A digit: `rest % 10` is below 10.
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    path.push('[');
    path.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
    path.push(']');
}

/// The keys of one object so far, for [`Scanner::object`]'s duplicate check. Most objects
/// have a handful of keys: those are compared in a list (no hashing, no allocation); past
/// [`SeenKeys::LINEAR`] they go to a hash set, so a huge object stays linear.
#[derive(Default)]
struct SeenKeys<'a> {
    few: Vec<Cow<'a, str>>,
    many: HashSet<Cow<'a, str>>,
}

impl<'a> SeenKeys<'a> {
    const LINEAR: usize = 16;

    /// Adds `key`; false when it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return false;
            }
            if self.few.len() < Self::LINEAR {
                self.few.push(key);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(key)
    }
}

/// The walk of a parsed object against the schema; `path` is the field path of the value
/// being looked at.
struct UnknownWalk {
    path: String,
    errors: Errors,
}

impl UnknownWalk {
    fn object(&mut self, def: &'static TypeDef, value: &Value, depth: usize) {
        // A value of the wrong JSON type is a decode error, not an unknown field.
        let Value::Object(map) = value else {
            return;
        };
        if def.open {
            return;
        }
        for (key, item) in map {
            if self.errors.full() {
                return;
            }
            let len = self.path.len();
            push_key(&mut self.path, key);
            match def.field(key) {
                Some(field) => self.value(&field.ty, item, depth + 1),
                None => self.errors.push("unknown", &self.path),
            }
            self.path.truncate(len);
        }
    }

    fn value(&mut self, ty: &'static Type, value: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match (ty, value) {
            (Type::Object(def), _) => self.object(def, value, depth),
            (Type::Array(inner), Value::Array(items)) if holds_objects(inner) => {
                for (index, item) in items.iter().enumerate() {
                    let len = self.path.len();
                    push_index(&mut self.path, index);
                    self.value(inner, item, depth + 1);
                    self.path.truncate(len);
                }
            }
            (Type::Map(inner), Value::Object(map)) if holds_objects(inner) => {
                for (key, item) in map {
                    let len = self.path.len();
                    push_key(&mut self.path, key);
                    self.value(inner, item, depth + 1);
                    self.path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// Whether values of `ty` can hold fields to check; arrays and maps of scalars need no walk.
fn holds_objects(ty: &Type) -> bool {
    match ty {
        Type::Object(_) => true,
        Type::Array(inner) | Type::Map(inner) => holds_objects(inner),
        _ => false,
    }
}

/// A single pass over raw JSON that tracks the field path and each object's keys.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: String,
    errors: Errors,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// One value starting at `pos` (whitespace already skipped).
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' | b'[' if depth >= MAX_DEPTH => self.skip_nested(),
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.skip_string(),
            _ => self.skip_literal(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        self.pos += 1; // `{`
        let mut seen = SeenKeys::default();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            self.expect(b':')?;
            self.skip_whitespace();
            let len = self.path.len();
            push_key(&mut self.path, &key);
            if !seen.insert(key) {
                self.errors.push("duplicate", &self.path);
            }
            self.value(depth + 1)?;
            self.path.truncate(len);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.pos += 1; // `[`
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        let mut index = 0;
        loop {
            self.skip_whitespace();
            let len = self.path.len();
            push_index(&mut self.path, index);
            self.value(depth + 1)?;
            self.path.truncate(len);
            index += 1;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string's text with its escapes undone; invalid UTF-8 and lone surrogates become
    /// U+FFFD, as Go's decoder makes them. Borrowed from the body when it has no escape
    /// (nearly every key): no allocation per key.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let bytes = self.bytes;
        let rest = bytes.get(self.pos..)?;
        let end = rest.iter().position(|b| matches!(b, b'"' | b'\\'))?;
        if rest[end] == b'"' {
            self.pos += end + 1;
            return Some(String::from_utf8_lossy(&rest[..end]));
        }
        self.pos += end;
        let mut raw: Vec<u8> = rest[..end].to_vec();
        loop {
            let byte = self.peek()?;
            self.pos += 1;
            match byte {
                b'"' => return Some(Cow::Owned(String::from_utf8_lossy(&raw).into_owned())),
                b'\\' => self.escape(&mut raw)?,
                _ => raw.push(byte),
            }
        }
    }

    /// One escape after its backslash, appended to `raw` as UTF-8.
    fn escape(&mut self, raw: &mut Vec<u8>) -> Option<()> {
        let byte = self.peek()?;
        self.pos += 1;
        let c = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return None,
        };
        let mut buf = [0u8; 4];
        raw.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Some(())
    }

    /// `\uXXXX` after the `u`, joined with a following low surrogate when it is a high one.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return Some(char::from_u32(u32::from(first)).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let pair = self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u");
        if pair {
            let save = self.pos;
            self.pos += 2;
            match self.hex4() {
                Some(second) if (0xDC00..0xE000).contains(&second) => {
                    let code = 0x10000
                        + ((u32::from(first) - 0xD800) << 10)
                        + (u32::from(second) - 0xDC00);
                    return Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                // Not a low surrogate: it is read again as an escape of its own.
                _ => self.pos = save,
            }
        }
        Some(char::REPLACEMENT_CHARACTER)
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let value = u16::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(value)
    }

    fn skip_string(&mut self) -> Option<()> {
        self.pos += 1; // `"`
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
    }

    /// A number, `true`, `false` or `null`: up to the next delimiter.
    fn skip_literal(&mut self) -> Option<()> {
        let start = self.pos;
        while let Some(byte) = self.peek() {
            if matches!(byte, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }

    /// An object or array too deep to walk, skipped without recursion.
    fn skip_nested(&mut self) -> Option<()> {
        let mut open = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => open += 1,
                b'}' | b']' => {
                    open = open.checked_sub(1)?;
                    if open == 0 {
                        self.pos += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;
    use serde_json::json;

    fn unknown(group: &str, kind: &str, object: &Value) -> Vec<String> {
        let resource = by_kind(group, "v1", kind).unwrap();
        unknown_fields(resource, object)
    }

    #[test]
    fn unknown_fields_are_named_by_their_json_path() {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labelz": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "a", "image": "nginx"},
                    {"name": "b", "imagee": "nginx", "ports": [{"containerPort": 80, "hostport": 8080}]}
                ],
                "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi", "medum": "Memory"}}]
            },
            "extra": true
        });
        assert_eq!(
            unknown("", "Pod", &pod),
            [
                r#"unknown field "metadata.labelz""#,
                r#"unknown field "spec.containers[1].imagee""#,
                r#"unknown field "spec.containers[1].ports[0].hostport""#,
                r#"unknown field "spec.volumes[0].emptyDir.medum""#,
                r#"unknown field "extra""#,
            ]
        );
    }

    #[test]
    fn strict_decoding_error_joins_the_messages() {
        let errors = [
            r#"unknown field "spec.imagee""#.to_owned(),
            r#"duplicate field "metadata.name""#.to_owned(),
        ];
        assert_eq!(
            strict_decoding_error(&errors),
            r#"strict decoding error: unknown field "spec.imagee", duplicate field "metadata.name""#
        );
    }

    #[test]
    fn the_brief_example() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labelz": {}},
            "spec": {"containers": [{"name": "c", "imagee": "busybox"}]}
        });
        assert_eq!(
            unknown("", "Pod", &pod),
            [
                r#"unknown field "metadata.labelz""#,
                r#"unknown field "spec.containers[0].imagee""#
            ]
        );
    }

    #[test]
    fn names_are_case_sensitive_and_quoted_as_go_does() {
        let pod = json!({"metadata": {"Name": "x", "a\"b": 1}, "spec": {"Containers": []}});
        assert_eq!(
            unknown("", "Pod", &pod),
            [
                r#"unknown field "metadata.Name""#,
                r#"unknown field "metadata.a\"b""#,
                r#"unknown field "spec.Containers""#,
            ]
        );
    }

    #[test]
    fn free_form_and_open_values_are_not_looked_into() {
        let pod = json!({
            "metadata": {
                "name": "p",
                "labels": {"anything": "goes"},
                "annotations": {"x/y": "z"},
                "managedFields": [{"manager": "kubectl", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}]
            },
            "spec": {
                "containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": 1}}}],
                "volumes": [{"name": "v", "awsElasticBlockStore": {"volumeID": "vol", "someFutureField": 1}}]
            }
        });
        assert!(unknown("", "Pod", &pod).is_empty());
    }

    #[test]
    fn wrong_json_types_are_left_to_the_decoder() {
        let pod = json!({"metadata": "not an object", "spec": {"containers": {"name": "x"}}});
        assert!(unknown("", "Pod", &pod).is_empty());
        assert!(unknown("", "Pod", &json!([1, 2])).is_empty());
    }

    #[test]
    fn errors_are_capped_at_one_hundred() {
        let mut labels = serde_json::Map::new();
        for i in 0..150 {
            labels.insert(format!("f{i:03}"), json!(1));
        }
        let object = json!({"metadata": {"name": "x"}, "spec": Value::Object(labels)});
        let errors = unknown("", "Namespace", &object);
        assert_eq!(errors.len(), MAX_STRICT_ERRORS);
        assert_eq!(errors[0], r#"unknown field "spec.f000""#);
        assert_eq!(errors[99], r#"unknown field "spec.f099""#);
    }

    #[test]
    fn realistic_manifests_have_no_unknown_fields() {
        for (group, kind, object) in fixtures::all() {
            assert_eq!(
                unknown(group, kind, &object),
                Vec::<String>::new(),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_typo_in_each_fixture_is_found() {
        let cases: [(&str, &str, &str, &str); 5] = [
            (
                "",
                "Pod",
                "/spec/containers/0/livenessProbe/httpGet",
                "spec.containers[0].livenessProbe.httpGet.paht",
            ),
            (
                "apps",
                "Deployment",
                "/spec/template/spec/containers/0",
                "spec.template.spec.containers[0].paht",
            ),
            ("", "Service", "/spec/ports/1", "spec.ports[1].paht"),
            (
                "rbac.authorization.k8s.io",
                "ClusterRole",
                "/rules/0",
                "rules[0].paht",
            ),
            (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                "/webhooks/0/clientConfig/service",
                "webhooks[0].clientConfig.service.paht",
            ),
        ];
        for (group, kind, pointer, path) in cases {
            let mut object = fixtures::all()
                .into_iter()
                .find(|(_, k, _)| *k == kind)
                .map(|(_, _, o)| o)
                .unwrap();
            object
                .pointer_mut(pointer)
                .and_then(Value::as_object_mut)
                .unwrap()
                .insert("paht".into(), json!("/"));
            assert_eq!(
                unknown(group, kind, &object),
                [format!("unknown field {}", go_quote(path))]
            );
        }
    }

    #[test]
    fn duplicate_fields_in_objects_arrays_and_maps() {
        let body = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b",
            "labels":{"app":"x","app":"y"}},"spec":{"containers":[{"name":"c"},
            {"name":"d","image":"i","image":"j"}]},"kind":"Pod"}"#;
        assert_eq!(
            duplicate_fields(body),
            [
                r#"duplicate field "metadata.name""#,
                r#"duplicate field "metadata.labels.app""#,
                r#"duplicate field "spec.containers[1].image""#,
                r#"duplicate field "kind""#,
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_compared_unescaped_and_reported_once() {
        let body = r#"{"a":1,"\u0061":2,"a":3,"b\"c":1,"b\u0022c":2,"\ud83d\ude80":1,"🚀":2}"#;
        assert_eq!(
            duplicate_fields(body.as_bytes()),
            [
                r#"duplicate field "a""#,
                r#"duplicate field "b\"c""#,
                r#"duplicate field "🚀""#,
            ]
        );
    }

    #[test]
    fn duplicates_are_found_in_objects_with_many_keys() {
        // Past the keys compared in a list: a repeat of an early key and of a late one, and
        // a repeat among the first keys; indexes of ten and more in the path.
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let body = format!(
            r#"{{"data":{{{},"k3":0,"k39":0}},"list":[{}{{"a":1,"a":2}}]}}"#,
            keys.join(","),
            "{},".repeat(12)
        );
        assert_eq!(
            duplicate_fields(body.as_bytes()),
            [
                r#"duplicate field "data.k3""#,
                r#"duplicate field "data.k39""#,
                r#"duplicate field "list[12].a""#,
            ]
        );
        assert!(duplicate_fields(format!("{{{}}}", keys.join(",")).as_bytes()).is_empty());
    }

    #[test]
    fn no_duplicates_in_distinct_objects() {
        let body =
            br#" { "a" : { "x" : 1 } , "b" : { "x" : [ { "x" : null } , { "x" : "}\"{" } ] } } "#;
        assert!(duplicate_fields(body).is_empty());
        assert!(duplicate_fields(b"[]").is_empty());
        assert!(duplicate_fields(b"{}").is_empty());
        assert!(duplicate_fields(b"42").is_empty());
    }

    #[test]
    fn duplicate_scan_stops_quietly_on_broken_input() {
        assert_eq!(
            duplicate_fields(br#"{"a":1,"a":2,"b":"#),
            [r#"duplicate field "a""#]
        );
        for body in [
            &b""[..],
            b"{",
            b"{\"a\"",
            b"[1,",
            b"\"abc",
            b"{\"a\":\"\\u12\"}",
            b"}",
            b"]]",
        ] {
            assert!(duplicate_fields(body).is_empty(), "{body:?}");
        }
    }

    #[test]
    fn duplicate_scan_is_bounded_in_depth_and_count() {
        let mut deep = String::new();
        for _ in 0..10_000 {
            deep.push_str("{\"a\":");
        }
        deep.push('1');
        for _ in 0..10_000 {
            deep.push('}');
        }
        assert!(duplicate_fields(deep.as_bytes()).is_empty());

        let mut many = String::from("{");
        for i in 0..300 {
            many.push_str(&format!("\"k{i}\":{{\"x\":1,\"x\":2}},"));
        }
        many.push_str("\"end\":0}");
        let errors = duplicate_fields(many.as_bytes());
        assert_eq!(errors.len(), MAX_STRICT_ERRORS);
        assert_eq!(errors[0], r#"duplicate field "k0.x""#);
    }

    /// Realistic manifests, as `kubectl get -o json` shows them (status and managed fields
    /// included), for the kinds people write most.
    mod fixtures {
        use serde_json::{Value, json};

        pub fn all() -> Vec<(&'static str, &'static str, Value)> {
            vec![
                ("", "Pod", pod()),
                ("apps", "Deployment", deployment()),
                ("", "Service", service()),
                ("rbac.authorization.k8s.io", "ClusterRole", cluster_role()),
                (
                    "admissionregistration.k8s.io",
                    "ValidatingWebhookConfiguration",
                    validating_webhooks(),
                ),
                (
                    "admissionregistration.k8s.io",
                    "MutatingWebhookConfiguration",
                    mutating_webhooks(),
                ),
                (
                    "",
                    "ConfigMap",
                    json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "cfg", "namespace": "default"},
                    "data": {"app.properties": "a=b"}, "binaryData": {"blob": "AAEC"}, "immutable": false}),
                ),
                (
                    "",
                    "Secret",
                    json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "s"}, "type": "kubernetes.io/tls",
                    "data": {"tls.crt": "Y3J0", "tls.key": "a2V5"}, "stringData": {"extra": "x"}}),
                ),
            ]
        }

        fn pod_spec() -> Value {
            json!({
                "serviceAccountName": "web",
                "automountServiceAccountToken": false,
                "priorityClassName": "high",
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}},
                    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
                        "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "kubernetes.io/hostname"}}]}
                },
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": "web"}}, "matchLabelKeys": ["pod-template-hash"]}],
                "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 2000,
                    "seccompProfile": {"type": "RuntimeDefault"}, "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
                "initContainers": [{"name": "migrate", "image": "app:1", "command": ["/migrate"],
                    "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "s", "optional": true}, "prefix": "S_"}]},
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
                "containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["--port=8080"],
                    "workingDir": "/srv",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [
                        {"name": "MODE", "value": "prod"},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
                        {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {"containerName": "web", "resource": "limits.memory", "divisor": "1Mi"}}}
                    ],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                        "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                        "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1},
                    "readinessProbe": {"tcpSocket": {"port": 8080}},
                    "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "failureThreshold": 30},
                    "lifecycle": {"preStop": {"sleep": {"seconds": 5}}, "postStart": {"exec": {"command": ["true"]}}},
                    "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/app", "readOnly": true, "subPath": "app"},
                        {"name": "token", "mountPath": "/var/run/token"}],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "stdin": false, "tty": false
                }],
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420, "items": [{"key": "app.properties", "path": "app/app.properties"}]}},
                    {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                    {"name": "certs", "secret": {"secretName": "s", "optional": false}},
                    {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "token", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "vault"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": {"t": "scratch"}},
                        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                            "resources": {"requests": {"storage": "1Gi"}}}}}},
                    {"name": "nfs", "nfs": {"server": "nfs.local", "path": "/exports", "readOnly": true}},
                    {"name": "csi", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": true, "volumeAttributes": {"a": "b"}}}
                ],
                "imagePullSecrets": [{"name": "registry"}],
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db.local"]}],
                "dnsPolicy": "ClusterFirst",
                "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["svc.local"], "options": [{"name": "ndots", "value": "2"}]},
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "schedulerName": "default-scheduler",
                "enableServiceLinks": true,
                "preemptionPolicy": "PreemptLowerPriority",
                "priority": 1000,
                "readinessGates": [{"conditionType": "example.com/ready"}]
            })
        }

        fn pod() -> Value {
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "web-0", "namespace": "default", "generateName": "web-",
                    "uid": "0b3f2c1e-4a5b-4c6d-8e9f-001122334455", "resourceVersion": "1234", "generation": 1,
                    "creationTimestamp": "2024-05-01T10:00:00Z",
                    "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "now"},
                    "finalizers": ["example.com/cleanup"],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f",
                        "uid": "6f1e2d3c-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}],
                    "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                        "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
                },
                "spec": pod_spec(),
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null,
                        "lastTransitionTime": "2024-05-01T10:00:05Z"}],
                    "hostIP": "192.168.1.10", "hostIPs": [{"ip": "192.168.1.10"}],
                    "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
                    "startTime": "2024-05-01T10:00:00Z",
                    "qosClass": "Burstable",
                    "initContainerStatuses": [{"name": "migrate", "ready": false, "restartCount": 0, "image": "app:1",
                        "imageID": "docker.io/app@sha256:00", "containerID": "containerd://aa", "started": false,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                            "startedAt": "2024-05-01T10:00:01Z", "finishedAt": "2024-05-01T10:00:02Z", "containerID": "containerd://aa"}}}],
                    "containerStatuses": [{"name": "web", "ready": true, "restartCount": 1, "started": true,
                        "image": "nginx:1.27", "imageID": "docker.io/library/nginx@sha256:11", "containerID": "containerd://bb",
                        "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}},
                        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "signal": 9}},
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        "user": {"linux": {"uid": 1000, "gid": 2000, "supplementalGroups": [2000]}},
                        "resources": {"requests": {"cpu": "100m"}}}]
                }
            })
        }

        fn deployment() -> Value {
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                    "annotations": {"deployment.kubernetes.io/revision": "3"}},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                    "minReadySeconds": 5, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, "paused": false,
                    "template": {"metadata": {"labels": {"app": "web", "tier": "front"},
                        "annotations": {"prometheus.io/scrape": "true"}}, "spec": pod_spec()}
                },
                "status": {
                    "observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                    "availableReplicas": 3,
                    "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.",
                        "lastUpdateTime": "2024-05-01T10:00:00Z", "lastTransitionTime": "2024-05-01T10:00:00Z"}]
                }
            })
        }

        fn service() -> Value {
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                "spec": {
                    "type": "LoadBalancer",
                    "selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "nodePort": 30080},
                        {"name": "grpc", "port": 9090, "targetPort": 9090, "appProtocol": "kubernetes.io/h2c"}],
                    "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                    "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster", "healthCheckNodePort": 31000,
                    "allocateLoadBalancerNodePorts": true, "loadBalancerSourceRanges": ["10.0.0.0/8"],
                    "publishNotReadyAddresses": false
                },
                "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP",
                    "ports": [{"port": 80, "protocol": "TCP"}]}]}}
            })
        }

        fn cluster_role() -> Value {
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "pod-reader", "labels": {"rbac.example.com/aggregate-to-view": "true"}},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["get", "patch"]},
                    {"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}
                ],
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-reader": "true"}}]}
            })
        }

        fn webhook(mutating: bool) -> Value {
            let mut hook = json!({
                "name": "policy.example.com",
                "clientConfig": {"service": {"namespace": "policy", "name": "webhook", "path": "/validate", "port": 443},
                    "caBundle": "LS0tLS1CRUdJTg=="},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["", "apps"], "apiVersions": ["v1"],
                    "resources": ["pods", "deployments", "pods/status"], "scope": "Namespaced"}],
                "failurePolicy": "Fail", "matchPolicy": "Equivalent", "sideEffects": "None", "timeoutSeconds": 5,
                "admissionReviewVersions": ["v1", "v1beta1"],
                "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                    "values": ["kube-system"]}]},
                "objectSelector": {},
                "matchConditions": [{"name": "not-system", "expression": "!request.userInfo.username.startsWith('system:')"}]
            });
            if mutating && let Some(map) = hook.as_object_mut() {
                map.insert("reinvocationPolicy".into(), json!("IfNeeded"));
            }
            hook
        }

        fn validating_webhooks() -> Value {
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "policy"},
                "webhooks": [webhook(false), {"name": "url.example.com", "clientConfig": {"url": "https://hooks.example.com/v"},
                    "sideEffects": "NoneOnDryRun", "admissionReviewVersions": ["v1"]}]
            })
        }

        fn mutating_webhooks() -> Value {
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": "policy"},
                "webhooks": [webhook(true)]
            })
        }
    }
}
