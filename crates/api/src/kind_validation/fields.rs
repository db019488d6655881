//! Reading client JSON the way kube-apiserver's decoder fills its typed structs, so each kind's
//! rules read as kube writes them, and the field errors they produce.
//!
//! - [`Path`]: `spec.containers[0].name`, printed as apimachinery's `field.Path` prints it.
//! - [`Obj`]: one JSON object at a path. Its getters give Go's zero value for an absent or
//!   `null` field (`""`, `0`, `false`, no items), and for a field of the wrong JSON type they
//!   record one TypeInvalid error and give `None`: the caller then skips the rules of a field
//!   it cannot read instead of piling "Required value" onto the type error. kube-apiserver's
//!   decoder rejects wrong types with a 400 before validation; kubesim validates the JSON as
//!   sent, so the same mistake is a 422 cause here.
//! - [`semantic_eq`]: apimachinery's `Semantic.DeepEqual` on JSON, for immutability checks.
//! - Constructors for the errors, with the messages kube's validators share.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::status::{FieldError, FieldErrorType};

/// The errors a validation collects, in the order kube-apiserver reports them.
pub(crate) type Errs = Vec<FieldError>;

/// A kind's name rule (apimachinery's `ValidateNameFunc`): the problems with a name, or with
/// a `generateName` prefix when `prefix` is true.
pub(crate) type NameFn = fn(&str, bool) -> Vec<String>;

/// `ValidateNonnegativeField`'s message (`IsNegativeErrorMsg`).
pub(crate) const IS_NEGATIVE: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
pub(crate) const FIELD_IMMUTABLE: &str = "field is immutable";
/// Go's `math.MaxInt32`, the upper bound of kube's int32 fields.
pub(crate) const MAX_INT32: i64 = i32::MAX as i64;
/// How deep [`semantic_eq`] follows nested JSON before it compares the rest as it is; the
/// JSON parser already stops at 128 levels.
const MAX_COMPARE_DEPTH: usize = 256;

/// A field path. The root is `""`, so `Path::new("").child("data")` is `data`.
///
/// Validation makes a path for every object and many of the fields it reads, though only
/// errors print one, so a path of up to [`INLINE_PATH`] bytes (nearly any pod's) is kept in
/// place rather than on the heap: an allocation and a free per path were most of what a
/// path cost.
#[derive(Clone)]
pub(crate) struct Path(Repr);

/// The longest path held without an allocation;
/// `spec.initContainers[10].readinessProbe.httpGet.port` is 51 bytes.
const INLINE_PATH: usize = 78;

#[derive(Clone)]
enum Repr {
    /// The path is `bytes[..len]`, whole `&str`s copied in, so always UTF-8.
    Inline {
        len: u8,
        bytes: [u8; INLINE_PATH],
    },
    Heap(String),
}

/// `n` in decimal, written into `buf`.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[start..]).unwrap_or("0")
}

impl Path {
    pub(crate) fn new(root: &str) -> Path {
        Path::concat(&[root.as_bytes()])
    }

    /// `spec` → `spec.containers`.
    pub(crate) fn child(&self, name: &str) -> Path {
        if self.bytes().is_empty() {
            Path::new(name)
        } else {
            self.joined(&[".", name])
        }
    }

    /// `spec.containers` → `spec.containers[0]`.
    pub(crate) fn index(&self, i: usize) -> Path {
        let mut digits = [0u8; 20];
        self.joined(&["[", decimal(i, &mut digits), "]"])
    }

    /// `data` → `data[app.conf]`: map keys are printed bare, as `field.Path.Key` does.
    pub(crate) fn key(&self, key: &str) -> Path {
        self.joined(&["[", key, "]"])
    }

    /// This path with `parts` appended, by concatenation rather than `format!` (whose
    /// machinery was 2% of a create's CPU).
    fn joined(&self, parts: &[&str]) -> Path {
        let base = self.bytes();
        match parts {
            [a, b] => Path::concat(&[base, a.as_bytes(), b.as_bytes()]),
            [a, b, c] => Path::concat(&[base, a.as_bytes(), b.as_bytes(), c.as_bytes()]),
            _ => {
                let mut all = vec![base];
                all.extend(parts.iter().map(|p| p.as_bytes()));
                Path::concat(&all)
            }
        }
    }

    /// The whole strings `parts` (as bytes) one after the other, in place when they fit.
    fn concat(parts: &[&[u8]]) -> Path {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > INLINE_PATH {
            let text = String::from_utf8_lossy(&parts.concat()).into_owned();
            return Path(Repr::Heap(text));
        }
        let mut bytes = [0u8; INLINE_PATH];
        let mut end = 0;
        for part in parts {
            bytes[end..end + part.len()].copy_from_slice(part);
            end += part.len();
        }
        Path(Repr::Inline {
            len: end as u8,
            bytes,
        })
    }

    /// The path's UTF-8 bytes, for building longer paths without checking them again.
    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(path) => path.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Never fails: paths are built from whole strings only.
        std::str::from_utf8(self.bytes()).unwrap_or_default()
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Path {}

impl std::fmt::Debug for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Path").field(&self.as_str()).finish()
    }
}

/// An `intstr.IntOrString` field (ports, percentages).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IntOrStr<'a> {
    Int(i64),
    Str(&'a str),
}

impl IntOrStr<'_> {
    pub(crate) fn to_value(self) -> Value {
        match self {
            IntOrStr::Int(n) => Value::from(n),
            IntOrStr::Str(s) => Value::from(s),
        }
    }
}

/// One JSON object at a path. `map` is `None` when the object is absent or `null`, which
/// reads as an object with no fields (Go's nil pointer or zero struct).
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    map: Option<&'a Map<String, Value>>,
    path: Path,
}

impl<'a> Obj<'a> {
    /// The object `value` at `path`; `None`, after recording a TypeInvalid error, when it is
    /// neither an object nor absent.
    pub(crate) fn at(value: Option<&'a Value>, path: Path, errs: &mut Errs) -> Option<Obj<'a>> {
        match value {
            None | Some(Value::Null) => Some(Obj { map: None, path }),
            Some(Value::Object(map)) => Some(Obj {
                map: Some(map),
                path,
            }),
            Some(other) => {
                errs.push(type_invalid(&path, other, "object"));
                None
            }
        }
    }

    /// An unset object at `path` (for a field whose wrong type was already reported).
    pub(crate) fn absent(path: Path) -> Obj<'a> {
        Obj { map: None, path }
    }

    /// A whole object (the root of a request body): paths start at its fields.
    pub(crate) fn root(value: &'a Value, errs: &mut Errs) -> Option<Obj<'a>> {
        Obj::at(Some(value), Path::new(""), errs)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of one of this object's fields.
    pub(crate) fn at_key(&self, key: &str) -> Path {
        self.path.child(key)
    }

    /// Whether the object was there at all (a non-nil pointer in Go).
    pub(crate) fn is_set(&self) -> bool {
        self.map.is_some()
    }

    /// The object as JSON, for an error's bad value (`null` when absent).
    pub(crate) fn to_value(&self) -> Value {
        self.map.map_or(Value::Null, |m| Value::Object(m.clone()))
    }

    /// A field's raw value; `None` for absent and `null` alike.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| get(m, key)).filter(|v| !v.is_null())
    }

    /// Whether a field is set (present and not `null`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    /// A string field read a second time: `""` when absent or of the wrong type, which the
    /// first read has reported already.
    pub(crate) fn peek_str(&self, key: &str) -> &'a str {
        match self.raw(key) {
            Some(Value::String(s)) => s,
            _ => "",
        }
    }

    /// A list field read a second time: no items when absent or of the wrong type.
    pub(crate) fn peek_list(&self, key: &str) -> &'a [Value] {
        match self.raw(key) {
            Some(Value::Array(items)) => items,
            _ => &[],
        }
    }

    /// A string field; `""` when absent.
    pub(crate) fn str(&self, key: &str, errs: &mut Errs) -> Option<&'a str> {
        self.opt_str(key, errs).map(Option::unwrap_or_default)
    }

    /// A `*string` field: `Some(None)` when absent.
    pub(crate) fn opt_str(&self, key: &str, errs: &mut Errs) -> Option<Option<&'a str>> {
        match self.raw(key) {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s)),
            Some(other) => {
                errs.push(type_invalid(&self.at_key(key), other, "string"));
                None
            }
        }
    }

    /// An integer field; `0` when absent.
    pub(crate) fn int(&self, key: &str, errs: &mut Errs) -> Option<i64> {
        self.opt_int(key, errs).map(Option::unwrap_or_default)
    }

    /// A `*int32`/`*int64` field: `Some(None)` when absent.
    pub(crate) fn opt_int(&self, key: &str, errs: &mut Errs) -> Option<Option<i64>> {
        match self.raw(key) {
            None => Some(None),
            Some(v) => match v.as_i64() {
                Some(n) => Some(Some(n)),
                None => {
                    errs.push(type_invalid(&self.at_key(key), v, "integer"));
                    None
                }
            },
        }
    }

    /// A boolean field; `false` when absent.
    pub(crate) fn bool(&self, key: &str, errs: &mut Errs) -> Option<bool> {
        self.opt_bool(key, errs).map(Option::unwrap_or_default)
    }

    /// A `*bool` field: `Some(None)` when absent.
    pub(crate) fn opt_bool(&self, key: &str, errs: &mut Errs) -> Option<Option<bool>> {
        match self.raw(key) {
            None => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(other) => {
                errs.push(type_invalid(&self.at_key(key), other, "boolean"));
                None
            }
        }
    }

    /// A list field; no items when absent.
    pub(crate) fn list(&self, key: &str, errs: &mut Errs) -> Option<&'a [Value]> {
        match self.raw(key) {
            None => Some(&[]),
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                errs.push(type_invalid(&self.at_key(key), other, "array"));
                None
            }
        }
    }

    /// A nested object field (absent reads as an unset object).
    pub(crate) fn obj(&self, key: &str, errs: &mut Errs) -> Option<Obj<'a>> {
        Obj::at(self.raw(key), self.at_key(key), errs)
    }

    /// A nested object field that is set: `None` when absent or `null` (no path is made
    /// then), as when of the wrong type (reported).
    pub(crate) fn set_obj(&self, key: &str, errs: &mut Errs) -> Option<Obj<'a>> {
        let value = self.raw(key)?;
        Obj::at(Some(value), self.at_key(key), errs)
    }

    /// Each item of a list of objects, at `key[i]`; items of the wrong type are reported and
    /// left out. An absent or mistyped list has no items.
    pub(crate) fn objects(&self, key: &str, errs: &mut Errs) -> Vec<Obj<'a>> {
        match self.list(key, errs) {
            Some(items) if !items.is_empty() => objects_of(items, &self.at_key(key), errs),
            _ => Vec::new(),
        }
    }

    /// A list of strings with each item's index; items of the wrong type are reported at
    /// `key[i]` and left out. `None` when the list itself has the wrong type.
    pub(crate) fn strings(&self, key: &str, errs: &mut Errs) -> Option<Vec<(usize, &'a str)>> {
        let items = self.list(key, errs)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push((i, s.as_str())),
                Value::Null => out.push((i, "")),
                other => errs.push(type_invalid(&self.at_key(key).index(i), other, "string")),
            }
        }
        Some(out)
    }

    /// A `map[string]string` field (labels, selectors, data) in the order the client wrote
    /// it; values of the wrong type are reported at `key[k]` and left out.
    pub(crate) fn string_map(&self, key: &str, errs: &mut Errs) -> Option<Vec<(&'a str, &'a str)>> {
        let entries = match self.raw(key) {
            None => return Some(Vec::new()),
            Some(Value::Object(entries)) => entries,
            Some(other) => {
                errs.push(type_invalid(&self.at_key(key), other, "object"));
                return None;
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match v {
                Value::String(s) => out.push((k.as_str(), s.as_str())),
                Value::Null => out.push((k.as_str(), "")),
                other => errs.push(type_invalid(&self.at_key(key).key(k), other, "string")),
            }
        }
        Some(out)
    }

    /// An `intstr.IntOrString` field: `Some(None)` when absent.
    pub(crate) fn int_or_str(&self, key: &str, errs: &mut Errs) -> Option<Option<IntOrStr<'a>>> {
        match self.raw(key) {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(IntOrStr::Str(s))),
            Some(v) => match v.as_i64() {
                Some(n) => Some(Some(IntOrStr::Int(n))),
                None => {
                    errs.push(type_invalid(&self.at_key(key), v, "integer or string"));
                    None
                }
            },
        }
    }
}

pub(crate) use crate::fields::{field, get};

/// Each item of an already-read list as an object, at `path[i]`; items of the wrong type
/// are reported and left out.
pub(crate) fn objects_of<'a>(list: &'a [Value], path: &Path, errs: &mut Errs) -> Vec<Obj<'a>> {
    list.iter()
        .enumerate()
        .filter_map(|(i, item)| Obj::at(Some(item), path.index(i), errs))
        .collect()
}

/// apimachinery's `Semantic.DeepEqual` on JSON: Go decodes an absent field, `null`, and the
/// type's zero value alike, so a missing key equals `null`, `""`, `false`, `[]` and `{}`.
/// Numbers compare as written (`0` is kept distinct from absent, since most kube integers
/// that matter here are pointers), and an object with keys is never empty (a label `x: ""`
/// is a label), so a struct of zero values reads as set here where Go would see zero.
pub(crate) fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    semantic_eq_at(a, b, 0)
}

fn semantic_eq_at(a: Option<&Value>, b: Option<&Value>, depth: usize) -> bool {
    let (a, b) = (a.filter(|v| !is_empty(v)), b.filter(|v| !is_empty(v)));
    match (a, b) {
        (None, None) => true,
        (Some(Value::Object(x)), Some(Value::Object(y))) if depth < MAX_COMPARE_DEPTH => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .all(|k| semantic_eq_at(x.get(k), y.get(k), depth + 1))
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if depth < MAX_COMPARE_DEPTH => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| semantic_eq_at(Some(p), Some(q), depth + 1))
        }
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Go's zero values as JSON: what a decoded-then-compared field cannot tell from absent.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Number(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

pub(crate) fn required(path: &Path, detail: &str) -> FieldError {
    FieldError::required(path.as_str(), detail)
}

pub(crate) fn invalid(path: &Path, value: impl Into<Value>, detail: &str) -> FieldError {
    FieldError::invalid(path.as_str(), value.into(), detail)
}

pub(crate) fn not_supported(
    path: &Path,
    value: impl Into<Value>,
    supported: &[&str],
) -> FieldError {
    FieldError::not_supported(path.as_str(), value.into(), supported)
}

pub(crate) fn forbidden(path: &Path, detail: &str) -> FieldError {
    FieldError::forbidden(path.as_str(), detail)
}

pub(crate) fn duplicate(path: &Path, value: impl Into<Value>) -> FieldError {
    FieldError::duplicate(path.as_str(), value.into())
}

pub(crate) fn too_long(path: &Path, max_bytes: usize) -> FieldError {
    FieldError::too_long(path.as_str(), max_bytes)
}

/// kube's `field.NotFound` (`spec.containers[0].volumeMounts[0].name: Not found: "data"`).
/// `FieldErrorType` has no NotFound yet, so this is an Invalid error saying "not found"
/// until status.rs gains the type; the field and the value are kube's.
pub(crate) fn not_found(path: &Path, value: impl Into<Value>) -> FieldError {
    FieldError::invalid(path.as_str(), value.into(), "not found")
}

/// kube's `field.TooMany` (`Too many: 65: must have at most 64 items`), written as an
/// Invalid error with the same detail until status.rs gains the type.
pub(crate) fn too_many(path: &Path, actual: usize, max: usize) -> FieldError {
    let detail = format!("must have at most {max} items");
    FieldError::invalid(path.as_str(), Value::from(actual), &detail)
}

/// The error for a field of the wrong JSON type; `kind` is `string`, `integer`, …
pub(crate) fn type_invalid(path: &Path, value: &Value, kind: &str) -> FieldError {
    FieldError {
        field: path.as_str().to_string(),
        kind: FieldErrorType::TypeInvalid,
        bad_value: value.clone(),
        detail: format!("must be of type {kind}"),
    }
}

/// `ValidateNonnegativeField`.
pub(crate) fn non_negative(path: &Path, value: i64, errs: &mut Errs) {
    if value < 0 {
        errs.push(invalid(path, value, IS_NEGATIVE));
    }
}

/// [`non_negative`] for the field `key` of `obj`, whose path is made only for the error.
pub(crate) fn field_non_negative(obj: &Obj, key: &str, value: i64, errs: &mut Errs) {
    if value < 0 {
        errs.push(invalid(&obj.at_key(key), value, IS_NEGATIVE));
    }
}

/// Invalid errors at `path`, one per message of a name rule.
pub(crate) fn name_errors(path: &Path, name: &str, messages: Vec<String>, errs: &mut Errs) {
    for msg in messages {
        errs.push(invalid(path, name, &msg));
    }
}

/// [`name_errors`] at the field `key` of `obj`, whose path is made only when there are any.
pub(crate) fn field_name_errors(
    obj: &Obj,
    key: &str,
    name: &str,
    messages: Vec<String>,
    errs: &mut Errs,
) {
    if !messages.is_empty() {
        name_errors(&obj.at_key(key), name, messages, errs);
    }
}

/// `validation.InclusiveRangeError`.
pub(crate) fn inclusive_range(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

// `MaxLenError` and `RegexError` are apimachinery's, shared with the name checks.
pub(crate) use crate::validation::{max_len_error, regex_error};

/// Go's `%#v` of a `[]string`, which some of kube's messages embed.
pub(crate) fn go_string_slice(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| crate::status::go_quote(s)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn texts(errs: &Errs) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn paths_print_as_field_path_does() {
        let spec = Path::new("spec");
        assert_eq!(
            spec.child("containers").index(0).child("name").as_str(),
            "spec.containers[0].name"
        );
        assert_eq!(Path::new("").child("data").key("a b").as_str(), "data[a b]");
        assert_eq!(spec.index(10).index(305).as_str(), "spec[10][305]");
        assert_eq!(
            spec.index(usize::MAX).as_str(),
            format!("spec[{}]", usize::MAX)
        );
        // Past what is held in place, and back: the same text, equal paths.
        let long = "x".repeat(INLINE_PATH);
        let spilled = spec.child(&long).key("é");
        assert_eq!(spilled.as_str(), format!("spec.{long}[é]"));
        assert_eq!(spilled.child("y").as_str(), format!("spec.{long}[é].y"));
        assert_eq!(Path::new(&long), Path::new("").child(&long));
        assert_eq!(Path::new("").child("ü").index(1).as_str(), "ü[1]");
    }

    #[test]
    fn fields_are_found_by_scan_and_by_hash_alike() {
        let small = json!({"a": 1, "b": 2});
        let wide: Map<String, Value> = (0..40).map(|i| (format!("k{i}"), json!(i))).collect();
        let wide = Value::Object(wide);
        assert_eq!(field(&small, "b"), Some(&json!(2)));
        assert_eq!(field(&small, "c"), None);
        assert_eq!(field(&wide, "k39"), Some(&json!(39)));
        assert_eq!(field(&wide, "k40"), None);
        assert_eq!(field(&json!([1]), "a"), None);
    }

    #[test]
    fn getters_give_zero_values_and_report_wrong_types_once() {
        let value = json!({"s": "x", "n": 3, "b": true, "nul": null, "bad": [1], "l": ["a", 2]});
        let mut errs = Vec::new();
        let obj = Obj::root(&value, &mut errs).unwrap();
        assert_eq!(obj.str("s", &mut errs), Some("x"));
        assert_eq!(obj.str("missing", &mut errs), Some(""));
        assert_eq!(obj.str("nul", &mut errs), Some(""));
        assert_eq!(obj.int("n", &mut errs), Some(3));
        assert_eq!(obj.opt_int("missing", &mut errs), Some(None));
        assert_eq!(obj.bool("b", &mut errs), Some(true));
        assert_eq!(obj.str("bad", &mut errs), None);
        assert_eq!(obj.strings("l", &mut errs), Some(vec![(0, "a")]));
        assert_eq!(
            texts(&errs),
            vec![
                "bad: Invalid value: [1]: must be of type string",
                "l[1]: Invalid value: 2: must be of type string",
            ]
        );
    }

    #[test]
    fn semantic_equality_treats_zero_values_as_absent() {
        let a = json!({"x": [], "y": {}, "z": "", "w": false, "v": null, "n": 1});
        let b = json!({"n": 1});
        assert!(semantic_eq(Some(&a), Some(&b)));
        assert!(!semantic_eq(Some(&json!({"n": 0})), Some(&json!({}))));
        assert!(!semantic_eq(Some(&json!([1, 2])), Some(&json!([2, 1]))));
        assert!(semantic_eq(None, Some(&json!({}))));
        // A key makes a map non-empty, even with an empty value (a label `x: ""`).
        assert!(!semantic_eq(None, Some(&json!({"x": ""}))));
    }

    #[test]
    fn regex_errors_are_worded_as_apimachinery_words_them() {
        assert_eq!(
            regex_error("bad", "[a-z]+", &["a", "b"]),
            "bad (e.g. 'a',  or 'b', regex used for validation is '[a-z]+')"
        );
        assert_eq!(
            regex_error("bad", "x", &[]),
            "bad (regex used for validation is 'x')"
        );
        assert_eq!(go_string_slice(&["a", "b"]), r#"[]string{"a", "b"}"#);
    }
}
