//! JSON patch (RFC 6902, `application/json-patch+json`) as kube-apiserver applies it with
//! `gopkg.in/evanphx/json-patch.v4`, including where v4 departs from the RFC in ways a client
//! can see:
//! - negative array indices count from the end (`/spec/containers/-1` is the last one);
//! - `replace` of a missing object key adds it, and `copy` from one copies null;
//! - `test` of a missing or null value passes when the expected value is null or absent;
//! - a missing `value` is null; `add` at the root (`""`) fails, `replace` there takes an
//!   object or a list.
//!
//! Paths are RFC 6901 pointers (`~1` is `/`, `~0` is `~`) and must start with `/` (v4 ignores
//! whatever comes before the first `/`; a path without one is an error here).
//!
//! Every failure while applying is [`PatchError::JsonPatchFailed`] with v4's words, which
//! kube-apiserver turns into one generic 422. Bounds, beyond those of the module: an insert
//! must not nest the object deeper than [`MAX_DEPTH`], which keeps every later walk of it
//! shallow.

use serde_json::{Map, Value};

use super::{
    MAX_DEPTH, MAX_JSON_PATCH_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, MAX_JSON_PATCH_WORK,
    PatchError, depth, go_fmt, into_object, parse_patch,
};

/// Applies a JSON patch to `original` (an object).
pub fn apply_json_patch(original: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let body = parse_patch(patch, |e| PatchError::Malformed(e.to_string()))?;
    let operations = decode(&body)?;
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations(operations.len()));
    }
    let mut document = original.clone();
    let mut costs = Costs::default();
    for operation in &operations {
        apply(&mut document, operation, &mut costs)?;
    }
    into_object(document)
}

/// One operation: an object of raw fields, read as each operation needs them (v4 decodes
/// `Operation` as `map[string]*json.RawMessage`, so unknown and mistyped fields pass decoding).
/// `None` for a null item, which has no kind.
struct Operation<'a>(Option<&'a Map<String, Value>>);

/// `DecodePatch`: a list of objects; null is an empty patch.
fn decode(body: &Value) -> Result<Vec<Operation<'_>>, PatchError> {
    let items = match body {
        Value::Array(items) => items,
        Value::Null => return Ok(Vec::new()),
        other => return Err(type_error(other, "jsonpatch.Patch")),
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(fields) => Ok(Operation(Some(fields))),
            Value::Null => Ok(Operation(None)),
            other => Err(type_error(other, "jsonpatch.Operation")),
        })
        .collect()
}

/// Go's `json.UnmarshalTypeError` text.
fn type_error(value: &Value, go_type: &str) -> PatchError {
    PatchError::Malformed(format!(
        "json: cannot unmarshal {} into Go value of type {go_type}",
        go_fmt::json_kind(value)
    ))
}

impl<'a> Operation<'a> {
    fn field(&self, name: &str) -> Option<&'a Value> {
        self.0.and_then(|fields| fields.get(name))
    }

    /// `op`, or `unknown` when it is missing or not a string.
    fn kind(&self) -> &'a str {
        match self.field("op") {
            Some(Value::String(kind)) => kind,
            _ => "unknown",
        }
    }

    /// `path` or `from`, which must be strings; null counts as missing.
    fn pointer(&self, name: &str) -> Result<&'a str, String> {
        match self.field(name) {
            Some(Value::String(path)) => Ok(path),
            None | Some(Value::Null) => Err(format!("operation missing {name} field")),
            Some(other) => Err(format!(
                "json: cannot unmarshal {} into Go value of type string",
                go_fmt::json_kind(other)
            )),
        }
    }

    /// `value`; missing is null, as v4 adds a nil node that marshals as `null`.
    fn value(&self) -> Value {
        self.field("value").cloned().unwrap_or(Value::Null)
    }
}

/// What the operations have spent so far against the patch's bounds.
#[derive(Default)]
struct Costs {
    /// JSON bytes added by `copy`, against [`MAX_JSON_PATCH_COPY_BYTES`].
    copied_bytes: usize,
    /// Elements shifted and nodes walked, against [`MAX_JSON_PATCH_WORK`].
    work: usize,
}

impl Costs {
    fn spend(&mut self, work: usize) -> Result<(), PatchError> {
        self.work = self.work.saturating_add(work);
        if self.work > MAX_JSON_PATCH_WORK {
            return Err(PatchError::TooMuchWork);
        }
        Ok(())
    }
}

fn apply(document: &mut Value, operation: &Operation, costs: &mut Costs) -> Result<(), PatchError> {
    let kind = operation.kind();
    let result = match kind {
        "add" => add(document, operation, costs),
        "remove" => remove(document, operation, costs),
        "replace" => replace(document, operation),
        "move" => move_value(document, operation, costs),
        "copy" => copy(document, operation, costs),
        "test" => test(document, operation),
        _ => Err(Failure::Failed(format!("Unexpected kind: {kind}"))),
    };
    result.map_err(|failure| match failure {
        Failure::Failed(message) => PatchError::JsonPatchFailed(message),
        Failure::Bound(error) => error,
    })
}

/// An operation's failure: one of v4's (a 422), or one of the bounds.
enum Failure {
    Failed(String),
    Bound(PatchError),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

impl From<PatchError> for Failure {
    fn from(error: PatchError) -> Failure {
        Failure::Bound(error)
    }
}

fn add(document: &mut Value, op: &Operation, costs: &mut Costs) -> Result<(), Failure> {
    let path = op.pointer("path")?;
    let tokens = parse_pointer(path)?;
    let Some((key, parents)) = tokens.split_last() else {
        return Err(missing_path("add", path));
    };
    let value = op.value();
    check_depth(tokens.len(), &value)?;
    let parent = container_mut(document, parents).ok_or_else(|| missing_path("add", path))?;
    insert(parent, key, value, costs)
}

fn remove(document: &mut Value, op: &Operation, costs: &mut Costs) -> Result<(), Failure> {
    let path = op.pointer("path")?;
    let tokens = parse_pointer(path)?;
    let Some((key, parents)) = tokens.split_last() else {
        return Err(missing_path("remove", path));
    };
    let parent = container_mut(document, parents).ok_or_else(|| missing_path("remove", path))?;
    take(parent, key, costs).map(drop)
}

fn replace(document: &mut Value, op: &Operation) -> Result<(), Failure> {
    let path = op.pointer("path")?;
    let tokens = parse_pointer(path)?;
    let value = op.value();
    check_depth(tokens.len(), &value)?;
    let Some((key, parents)) = tokens.split_last() else {
        if !(value.is_object() || value.is_array()) {
            return Err("replace operation value must be object or array"
                .to_string()
                .into());
        }
        *document = value;
        return Ok(());
    };
    let parent = container_mut(document, parents).ok_or_else(|| missing_path("replace", path))?;
    match parent {
        // v4 never finds an object key missing: replace adds it.
        Value::Object(map) => {
            map.insert(key.clone(), value);
        }
        Value::Array(items) => {
            let index = existing_index(key, items.len())?;
            if let Some(slot) = items.get_mut(index) {
                *slot = value;
            }
        }
        _ => return Err(missing_path("replace", path)),
    }
    Ok(())
}

fn move_value(document: &mut Value, op: &Operation, costs: &mut Costs) -> Result<(), Failure> {
    let from = op.pointer("from")?;
    let from_tokens = parse_pointer(from)?;
    let Some((from_key, from_parents)) = from_tokens.split_last() else {
        return Err(missing_path("move", from));
    };
    let source = container_mut(document, from_parents).ok_or_else(|| missing_path("move", from))?;
    let value = take(source, from_key, costs)?;
    let path = op.pointer("path")?;
    let tokens = parse_pointer(path)?;
    let Some((key, parents)) = tokens.split_last() else {
        return Err(missing_path("move", path));
    };
    // Moving up or across keeps the object as deep as it was; only a deeper target can nest
    // it further, and only then is the value walked.
    if tokens.len() > from_tokens.len() {
        costs.spend(node_count(&value))?;
        check_depth(tokens.len(), &value)?;
    }
    let parent = container_mut(document, parents).ok_or_else(|| missing_path("move", path))?;
    insert(parent, key, value, costs)
}

fn copy(document: &mut Value, op: &Operation, costs: &mut Costs) -> Result<(), Failure> {
    let from = op.pointer("from")?;
    let from_tokens = parse_pointer(from)?;
    let Some((from_key, from_parents)) = from_tokens.split_last() else {
        return Err(missing_path("copy", from));
    };
    let source = container(document, from_parents).ok_or_else(|| missing_path("copy", from))?;
    let value = match source {
        // v4 copies a missing object key as null.
        Value::Object(map) => map.get(from_key).cloned().unwrap_or(Value::Null),
        Value::Array(items) => items
            .get(existing_index(from_key, items.len())?)
            .cloned()
            .unwrap_or(Value::Null),
        _ => Value::Null,
    };
    costs.copied_bytes = costs.copied_bytes.saturating_add(json_len(&value));
    if costs.copied_bytes > MAX_JSON_PATCH_COPY_BYTES {
        return Err(format!(
            "Unable to complete the copy, the accumulated size increase of copy is {}, exceeding the limit {MAX_JSON_PATCH_COPY_BYTES}",
            costs.copied_bytes
        )
        .into());
    }
    let path = op.pointer("path")?;
    let tokens = parse_pointer(path)?;
    let Some((key, parents)) = tokens.split_last() else {
        return Err(missing_path("copy", path));
    };
    check_depth(tokens.len(), &value)?;
    let parent = container_mut(document, parents).ok_or_else(|| missing_path("copy", path))?;
    insert(parent, key, value, costs)
}

fn test(document: &Value, op: &Operation) -> Result<(), Failure> {
    let path = op.pointer("path")?;
    let tokens = parse_pointer(path)?;
    let actual = match tokens.split_last() {
        None => Some(document),
        Some((key, parents)) => {
            match container(document, parents).ok_or_else(|| missing_path("test", path))? {
                Value::Object(map) => map.get(key),
                Value::Array(items) => items.get(existing_index(key, items.len())?),
                _ => None,
            }
        }
    };
    // A missing value and a null one are the same to v4: both are a nil node.
    if *actual.unwrap_or(&Value::Null) == op.value() {
        return Ok(());
    }
    Err(format!("testing value {path} failed: test failed").into())
}

fn missing_path(kind: &str, path: &str) -> Failure {
    Failure::Failed(format!(
        "{kind} operation does not apply: doc is missing path: \"{path}\": missing value"
    ))
}

/// The tokens of an RFC 6901 pointer; `""` is the whole document.
fn parse_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("JSON pointer {path:?} does not start with \"/\""));
    };
    // `~1` first: decoding it cannot make a new `~0`, the other order could turn `~01`
    // into `/`.
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// The object or list at `tokens`, if every step exists and the last is a container (v4's
/// `findObject`: null and scalars have no children).
fn container<'d>(document: &'d Value, tokens: &[String]) -> Option<&'d Value> {
    let mut node = document;
    for token in tokens {
        node = match node {
            Value::Object(map) => map.get(token)?,
            Value::Array(items) => items.get(existing_index(token, items.len()).ok()?)?,
            _ => return None,
        };
    }
    (node.is_object() || node.is_array()).then_some(node)
}

/// [`container`], for changing it.
fn container_mut<'d>(document: &'d mut Value, tokens: &[String]) -> Option<&'d mut Value> {
    let mut node = document;
    for token in tokens {
        node = match node {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => {
                let index = existing_index(token, items.len()).ok()?;
                items.get_mut(index)?
            }
            _ => return None,
        };
    }
    (node.is_object() || node.is_array()).then_some(node)
}

/// Adds `value` at `key` of `parent`: an object key is set in place (or appended); a list
/// takes an index up to its length, `-` for the end, or a negative index counting back.
fn insert(parent: &mut Value, key: &str, value: Value, costs: &mut Costs) -> Result<(), Failure> {
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => {
            let index = insert_index(key, items.len())?;
            costs.spend(items.len() - index)?;
            items.insert(index, value);
        }
        _ => return Err(format!("cannot add to a {}", go_fmt::json_kind(parent)).into()),
    }
    Ok(())
}

/// Removes and returns `key` of `parent`, which must exist; later keys keep their order.
fn take(parent: &mut Value, key: &str, costs: &mut Costs) -> Result<Value, Failure> {
    match parent {
        Value::Object(map) => {
            // shift_remove moves every later key; count them all, an upper bound.
            costs.spend(map.len())?;
            map.shift_remove(key).ok_or_else(|| {
                Failure::Failed(format!(
                    "Unable to remove nonexistent key: {key}: missing value"
                ))
            })
        }
        Value::Array(items) => {
            let index = existing_index(key, items.len())?;
            costs.spend(items.len() - index)?;
            Ok(items.remove(index))
        }
        _ => Err(format!("cannot remove from a {}", go_fmt::json_kind(parent)).into()),
    }
}

/// An index of an existing item: `0..len`, or `-len..0` counting back from the end.
fn existing_index(token: &str, len: usize) -> Result<usize, String> {
    let index = parse_index(token)?;
    resolve_index(index, len).ok_or_else(|| invalid_index(index))
}

/// An index to insert at: `0..=len`, `-` for `len`, or `-(len+1)..0` counting back.
fn insert_index(token: &str, len: usize) -> Result<usize, String> {
    if token == "-" {
        return Ok(len);
    }
    let index = parse_index(token)?;
    resolve_index(index, len + 1).ok_or_else(|| invalid_index(index))
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
fn parse_index(token: &str) -> Result<i64, String> {
    token
        .parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {token:?}: invalid syntax"))
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { index + len } else { index };
    if (0..len).contains(&index) {
        usize::try_from(index).ok()
    } else {
        None
    }
}

fn invalid_index(index: i64) -> String {
    format!("Unable to access invalid index: {index}: invalid index referenced")
}

/// Refuses an insert at `level` (the number of path tokens) that would nest deeper than
/// [`MAX_DEPTH`].
fn check_depth(level: usize, value: &Value) -> Result<(), PatchError> {
    if level + depth(value) > MAX_DEPTH {
        return Err(PatchError::ResultTooDeep);
    }
    Ok(())
}

/// Objects, lists and scalars in `value`, counting itself.
fn node_count(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// The length of `value`'s compact JSON, which v4 counts a copy by.
fn json_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to a sink that never fails cannot fail.
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(original: Value, operations: Value) -> Result<Value, PatchError> {
        apply_json_patch(&original, operations.to_string().as_bytes())
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
        })
    }

    #[test]
    fn adds_removes_and_replaces_keeping_key_order() {
        let patched = patch(
            pod(),
            json!([
                {"op": "add", "path": "/metadata/labels/env", "value": "prod"},
                {"op": "remove", "path": "/metadata/labels/app"},
                {"op": "replace", "path": "/metadata/name", "value": "web-2"},
                {"op": "add", "path": "/metadata/annotations", "value": {"a/b": "1"}},
                {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
                {"op": "add", "path": "/spec/containers/1", "value": {"name": "x"}},
                {"op": "remove", "path": "/spec/containers/0"}
            ]),
        )
        .expect("patched");
        assert_eq!(
            patched.to_string(),
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "web-2",
                    "labels": {"tier": "front", "env": "prod"},
                    "annotations": {"a/b": "2"}
                },
                "spec": {"containers": [{"name": "x"}, {"name": "b"}, {"name": "c"}]}
            })
            .to_string()
        );
    }

    #[test]
    fn negative_indices_and_dash_count_from_the_end() {
        let patched = patch(
            json!({"l": [1, 2, 3]}),
            json!([
                {"op": "remove", "path": "/l/-1"},
                {"op": "add", "path": "/l/-", "value": 9},
                {"op": "add", "path": "/l/-1", "value": 8},
                {"op": "replace", "path": "/l/-3", "value": 0}
            ]),
        );
        assert_eq!(patched, Ok(json!({"l": [1, 0, 9, 8]})));
    }

    #[test]
    fn follows_v4_where_it_departs_from_the_rfc() {
        // replace adds a missing key; copy from a missing key copies null; add without a
        // value adds null.
        let patched = patch(
            json!({"a": 1}),
            json!([
                {"op": "replace", "path": "/b", "value": 2},
                {"op": "copy", "from": "/missing", "path": "/c"},
                {"op": "add", "path": "/d"},
                {"op": "test", "path": "/c", "value": null},
                {"op": "test", "path": "/nothing"},
                {"op": "replace", "path": "", "value": {"z": true}}
            ]),
        );
        assert_eq!(patched, Ok(json!({"z": true})));
    }

    #[test]
    fn moves_and_copies() {
        let patched = patch(
            json!({"a": {"b": [1, 2]}, "c": 3}),
            json!([
                {"op": "copy", "from": "/a/b", "path": "/a/d"},
                {"op": "move", "from": "/c", "path": "/a/b/0"},
                {"op": "move", "from": "/a/d", "path": "/e"}
            ]),
        );
        assert_eq!(patched, Ok(json!({"a": {"b": [3, 1, 2]}, "e": [1, 2]})));
    }

    #[test]
    fn a_failed_test_fails_the_patch() {
        let result = patch(
            pod(),
            json!([
                {"op": "test", "path": "/metadata/name", "value": "other"},
                {"op": "remove", "path": "/spec"}
            ]),
        );
        assert_eq!(
            result,
            Err(PatchError::JsonPatchFailed(
                "testing value /metadata/name failed: test failed".into()
            ))
        );
        let passed = patch(
            pod(),
            json!([{"op": "test", "path": "/spec/containers/0", "value": {"name": "a"}}]),
        );
        assert_eq!(passed, Ok(pod()));
    }

    #[test]
    fn operations_that_do_not_apply_fail() {
        let cases = [
            (
                json!([{"op": "remove", "path": "/metadata/nope"}]),
                "Unable to remove nonexistent key: nope: missing value",
            ),
            (
                json!([{"op": "add", "path": "/nope/x", "value": 1}]),
                "add operation does not apply: doc is missing path: \"/nope/x\": missing value",
            ),
            (
                json!([{"op": "add", "path": "", "value": {}}]),
                "add operation does not apply: doc is missing path: \"\": missing value",
            ),
            (
                json!([{"op": "add", "path": "/spec/containers/4", "value": 1}]),
                "Unable to access invalid index: 4: invalid index referenced",
            ),
            (
                json!([{"op": "remove", "path": "/spec/containers/-4"}]),
                "Unable to access invalid index: -4: invalid index referenced",
            ),
            (
                json!([{"op": "replace", "path": "/spec/containers/x", "value": 1}]),
                "strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                json!([{"op": "replace", "path": "", "value": 1}]),
                "replace operation value must be object or array",
            ),
            (
                json!([{"op": "move", "from": "/metadata/nope", "path": "/x"}]),
                "Unable to remove nonexistent key: nope: missing value",
            ),
            (
                json!([{"op": "add", "value": 1}]),
                "operation missing path field",
            ),
            (
                json!([{"op": "add", "path": 5, "value": 1}]),
                "json: cannot unmarshal number into Go value of type string",
            ),
            (
                json!([{"op": "add", "path": "metadata", "value": 1}]),
                "JSON pointer \"metadata\" does not start with \"/\"",
            ),
            (json!([{"op": "frobnicate"}]), "Unexpected kind: frobnicate"),
            (json!([{"path": "/a"}]), "Unexpected kind: unknown"),
            (json!([null]), "Unexpected kind: unknown"),
        ];
        for (operations, message) in cases {
            assert_eq!(
                patch(pod(), operations.clone()),
                Err(PatchError::JsonPatchFailed(message.into())),
                "{operations}"
            );
        }
    }

    #[test]
    fn malformed_patches_are_bad_requests() {
        let cases: [(&str, &str); 4] = [
            (
                r#"{"op": "add"}"#,
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            ),
            (
                r#"["add"]"#,
                "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
            ),
            (
                r#"[{"op": "add""#,
                "EOF while parsing an object at line 1 column 13",
            ),
            ("", "EOF while parsing a value at line 1 column 0"),
        ];
        for (body, message) in cases {
            assert_eq!(
                apply_json_patch(&pod(), body.as_bytes()),
                Err(PatchError::Malformed(message.into())),
                "{body}"
            );
        }
        assert_eq!(apply_json_patch(&pod(), b"null"), Ok(pod()));
    }

    #[test]
    fn a_root_that_is_not_an_object_is_refused() {
        assert_eq!(
            patch(pod(), json!([{"op": "replace", "path": "", "value": [1]}])),
            Err(PatchError::NotAnObject("[1]".into()))
        );
    }

    #[test]
    fn too_many_operations_is_413() {
        let operations: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/kind", "value": "Pod"}))
            .collect();
        assert_eq!(
            patch(pod(), Value::Array(operations)),
            Err(PatchError::TooManyOperations(10_001))
        );
    }

    #[test]
    fn copies_are_bounded() {
        // Each copy of /a into itself doubles it: 1 KiB passes 3 MiB of copies in 12 steps.
        let operations: Vec<Value> = (0..20)
            .map(|_| json!({"op": "copy", "from": "/a", "path": "/a/-"}))
            .collect();
        let original = json!({"a": ["x".repeat(1024)]});
        let result = patch(original, Value::Array(operations));
        let Err(PatchError::JsonPatchFailed(message)) = result else {
            panic!("expected a failed copy, got {result:?}");
        };
        assert!(
            message.starts_with(
                "Unable to complete the copy, the accumulated size increase of copy is"
            ),
            "{message}"
        );
        assert!(
            message.ends_with("exceeding the limit 3145728"),
            "{message}"
        );
    }

    #[test]
    fn shifting_is_bounded() {
        let original = json!({"l": vec![0; 20_000]});
        let operations: Vec<Value> = (0..1_000)
            .map(|_| json!({"op": "add", "path": "/l/0", "value": 1}))
            .collect();
        assert_eq!(
            patch(original, Value::Array(operations)),
            Err(PatchError::TooMuchWork)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        // A chain of 99 objects, then one more level is allowed and the next is not.
        let mut deep = json!({});
        for _ in 0..MAX_DEPTH - 2 {
            deep = json!({ "a": deep });
        }
        let original = json!({ "a": deep });
        let path = format!("{}/b", "/a".repeat(MAX_DEPTH - 1));
        let ok = patch(
            original.clone(),
            json!([{"op": "add", "path": path, "value": 1}]),
        );
        assert!(ok.is_ok(), "{ok:?}");
        let too_deep = patch(
            original.clone(),
            json!([{"op": "add", "path": path, "value": {}}]),
        );
        assert_eq!(too_deep, Err(PatchError::ResultTooDeep));
        // Moving the chain under a sibling nests it one level further.
        let moved = patch(
            json!({"a": original["a"].clone(), "s": {}}),
            json!([{"op": "move", "from": "/a", "path": "/s/a"}]),
        );
        assert_eq!(moved, Err(PatchError::ResultTooDeep));
    }
}
