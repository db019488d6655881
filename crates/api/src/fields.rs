//! Looking a field up in a JSON object without hashing its name.
//!
//! `serde_json`'s map (an `IndexMap` with `preserve_order`) hashes the key with SipHash on
//! every lookup. Kubernetes objects have a handful of fields per level, and defaulting and
//! validation look up many fields, most of them absent: comparing the key with each name an
//! object has costs less than hashing it. Larger objects (labels, annotations, data) are
//! looked up by hash as before.

use serde_json::{Map, Value};

/// The most fields an object may have for a lookup to compare the key with each one.
const SCAN_FIELDS: usize = 16;

/// `map.get(key)`.
pub fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() > SCAN_FIELDS {
        return map.get(key);
    }
    map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

/// `map.get_mut(key)`.
pub fn get_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    if map.len() > SCAN_FIELDS {
        return map.get_mut(key);
    }
    map.iter_mut()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

/// `value.get(key)` for an object `value`; `None` for anything else.
pub fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_object().and_then(|m| get(m, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The same answers as the map's own lookups, for small objects and for large ones.
    #[test]
    fn finds_what_the_maps_own_lookup_finds() {
        let mut large = Map::new();
        for i in 0..40 {
            large.insert(format!("k{i}"), json!(i));
        }
        let small = json!({"a": 1, "bb": null, "": "empty"});
        let small = small.as_object().expect("an object").clone();
        for mut map in [small, large] {
            for key in ["a", "bb", "", "k0", "k39", "k40", "missing", "A"] {
                assert_eq!(get(&map, key), map.get(key), "{key}");
                let expected = map.get(key).cloned();
                assert_eq!(get_mut(&mut map, key).map(|v| v.clone()), expected, "{key}");
            }
            let key = if map.len() > SCAN_FIELDS { "k1" } else { "a" };
            *get_mut(&mut map, key).expect("present") = json!("changed");
            assert_eq!(map.get(key), Some(&json!("changed")));
        }
        assert_eq!(field(&json!({"a": 1}), "a"), Some(&json!(1)));
        assert_eq!(field(&json!([1]), "a"), None);
    }
}
