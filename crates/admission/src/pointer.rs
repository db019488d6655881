//! [`JsonPointer::at`]: `serde_json::Value::pointer` without its allocations. serde_json
//! makes a `String` of every token of the pointer (to undo `~0` and `~1`) on every call; the
//! plugins look up fixed pointers (`/spec/volumes`) several times per pod, which made those
//! look-ups a twentieth of a pod create's CPU. Same answers, tokens borrowed.

use serde_json::Value;

pub trait JsonPointer {
    /// What `Value::pointer(pointer)` returns.
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl JsonPointer for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        if pointer.contains('~') {
            // Escaped tokens: serde_json's own rules.
            return self.pointer(pointer);
        }
        if pointer.is_empty() {
            return Some(self);
        }
        let tokens = pointer.strip_prefix('/')?;
        tokens
            .split('/')
            .try_fold(self, |target, token| match target {
                Value::Object(map) => kubesim_api::fields::get(map, token),
                Value::Array(list) => array_index(token).and_then(|i| list.get(i)),
                _ => None,
            })
    }
}

/// serde_json's `parse_index`: no sign, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_as_serde_json_pointer_does() {
        let value = json!({
            "spec": {"volumes": [{"name": "a"}, {"name": "b"}], "": {"x": 1}},
            "a/b": 2, "m~n": 3, "0": "zero",
        });
        let pointers = [
            "",
            "/",
            "/spec",
            "/spec/volumes",
            "/spec/volumes/1/name",
            "/spec/volumes/01",
            "/spec/volumes/+1",
            "/spec/volumes/-1",
            "/spec/volumes/2",
            "/spec/volumes/x",
            "/spec//x",
            "/a~1b",
            "/m~0n",
            "/0",
            "spec",
            "/missing/deeper",
            "/spec/volumes/0/name/x",
        ];
        for pointer in pointers {
            assert_eq!(value.at(pointer), value.pointer(pointer), "{pointer:?}");
        }
        assert_eq!(value.at("/spec/volumes/1/name"), Some(&json!("b")));
    }
}
