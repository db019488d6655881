//! JSON Patch (RFC 6902), as much of it as the mutating samples send: `add` operations, with
//! paths written as JSON Pointers (RFC 6901). A key is escaped before it goes into a path
//! (`~` as `~0`, `/` as `~1`), so a label such as `app.kubernetes.io/managed-by` becomes
//! `/metadata/labels/app.kubernetes.io~1managed-by`.

use serde::Serialize;
use serde_json::Value;

/// The `patchType` of every patch a sample sends.
pub const JSON_PATCH: &str = "JSONPatch";

/// One operation of a JSON Patch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operation {
    pub op: &'static str,
    pub path: String,
    pub value: Value,
}

impl Operation {
    /// `add`: sets a member of an object (replacing one that is there), or inserts into an
    /// array (`-` appends).
    pub fn add(path: String, value: Value) -> Operation {
        Operation {
            op: "add",
            path,
            value,
        }
    }
}

/// One reference token of a JSON Pointer: `~` first, so the `~` of a `~1` is not escaped again.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The patch as the bytes of `response.patch` (JSON; base64 on the wire, by the review types).
pub fn to_bytes(operations: &[Operation]) -> Vec<u8> {
    // Serializing strings and `Value`s into a Vec cannot fail.
    serde_json::to_vec(operations).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tokens_are_escaped_as_rfc_6901_says() {
        assert_eq!(escape("env"), "env");
        assert_eq!(
            escape("app.kubernetes.io/managed-by"),
            "app.kubernetes.io~1managed-by"
        );
        assert_eq!(escape("a~b"), "a~0b");
        // `~1` in a key is a tilde and a one, not a slash.
        assert_eq!(escape("~1"), "~01");
    }

    #[test]
    fn a_patch_is_a_json_array_of_operations() {
        let ops = [Operation::add("/metadata/labels/env".into(), json!("x"))];
        assert_eq!(
            String::from_utf8(to_bytes(&ops)).unwrap(),
            r#"[{"op":"add","path":"/metadata/labels/env","value":"x"}]"#
        );
    }
}
