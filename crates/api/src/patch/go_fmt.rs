//! Decoded JSON as Go's `fmt` prints the `interface{}` values apimachinery decodes it into,
//! for the messages of strategicpatch's errors, which embed them (`map: map[image:nginx] does
//! not contain declared merge key: name`).
//!
//! Go decodes an object to `map[string]interface {}`, a list to `[]interface {}`, an integral
//! number to `int64` (apimachinery keeps integers) and any other number to `float64`.

use serde_json::{Number, Value};

/// `%v`: `map[a:1 b:[x y]]` with keys sorted, lists `[x y]`, strings bare, null `<nil>`.
pub fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go's fmt sorts map keys.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

/// `%s`: a string bare; anything else as Go reports a wrong verb, `%!s(int64=1)`.
pub fn verb_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        Value::Bool(_) | Value::Number(_) => format!("%!s({}={})", type_name(v), value(v)),
        Value::Array(_) | Value::Object(_) => value(v),
    }
}

/// `reflect.TypeOf(v).String()`, as `mergepatch.ErrBadArgType` prints it; a nil has no
/// type, which `%s` prints as `%!s(<nil>)`.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if is_integer(n) => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// The JSON type `json.UnmarshalTypeError` names: `object`, `array`, `string`, `number`,
/// `bool`.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An integer, which Go keeps as `int64`.
fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64()
}

/// `%v` of an `int64` or `float64`: floats as `strconv.FormatFloat(f, 'g', -1, 64)`, in
/// exponent form below 1e-4 and from 1e6 on (`fmt.Println(1e6)` prints `1e+06`).
fn number(n: &Number) -> String {
    if is_integer(n) {
        return n.to_string();
    }
    let Some(f) = n.as_f64() else {
        return n.to_string();
    };
    // Rust's `{:e}` has the same shortest digits: `1.5e-7`; Go pads the exponent: `1.5e-07`.
    let scientific = format!("{f:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        return f.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_values_as_go_fmt_does() {
        let cases = [
            (json!(null), "<nil>"),
            (json!(true), "true"),
            (json!(80), "80"),
            (json!(-3), "-3"),
            (json!(0.5), "0.5"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(1.5e300), "1.5e+300"),
            (json!(123456.5), "123456.5"),
            (json!(1234567.5), "1.2345675e+06"),
            (json!(1.0), "1"),
            (json!("nginx"), "nginx"),
            (json!(["a", 1, null]), "[a 1 <nil>]"),
            (
                json!({"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}),
                "map[image:nginx name:web ports:[map[containerPort:80]]]",
            ),
            (json!({}), "map[]"),
        ];
        for (v, text) in cases {
            assert_eq!(value(&v), text, "{v}");
        }
    }

    #[test]
    fn names_go_types() {
        assert_eq!(type_name(&json!({})), "map[string]interface {}");
        assert_eq!(type_name(&json!([])), "[]interface {}");
        assert_eq!(type_name(&json!(1)), "int64");
        assert_eq!(type_name(&json!(1.5)), "float64");
        assert_eq!(type_name(&json!("a")), "string");
        assert_eq!(type_name(&json!(null)), "%!s(<nil>)");
        assert_eq!(verb_s(&json!("merge")), "merge");
        assert_eq!(verb_s(&json!(1)), "%!s(int64=1)");
        assert_eq!(json_kind(&json!([])), "array");
    }
}
