//! Parsing a body into a `serde_json::Value` while noticing repeated object keys, in one pass.
//!
//! `serde_json` keeps the last of a repeated key silently; `fieldValidation` must report it
//! (`duplicate field "metadata.name"`). Scanning every body a second time for that cost a
//! create about 4% of its instructions, and nearly every body has none. So the parse notes
//! whether a key repeated (the map insert says so for free), and only then does
//! [`super::duplicate_fields`] scan the bytes for the messages.
//!
//! The Value built is the one `serde_json::from_slice` builds: the same visitor rules (a
//! repeated key keeps its first place and its last value, as `Map::insert` does), and the
//! same deserializer, so the same errors and the same nesting limit.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `bytes` as a JSON value, and whether any object in it repeats a key.
pub fn parse_noting_duplicates(bytes: &[u8]) -> Result<(Value, bool), serde_json::Error> {
    let repeated = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = ValueSeed {
        repeated: &repeated,
    }
    .deserialize(&mut deserializer)?;
    // As `from_slice`: only whitespace may follow the value.
    deserializer.end()?;
    Ok((value, repeated.get()))
}

/// Room for this many fields before an object's gathered fields reallocate: most objects
/// of a Kubernetes body have fewer.
const GATHERED: usize = 8;

/// Builds a `Value`, setting `repeated` when an object repeats a key.
#[derive(Clone, Copy)]
struct ValueSeed<'r> {
    repeated: &'r Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Gathered first and then put in a map of the right size: a map grown one insert at
        // a time reallocates its entries and rehashes its table several times over.
        let mut gathered = Vec::with_capacity(GATHERED);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            gathered.push((key, value));
        }
        let mut fields = Map::with_capacity(gathered.len());
        for (key, value) in gathered {
            if fields.insert(key, value).is_some() {
                self.repeated.set(true);
            }
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same Value (field order included) and the same errors as `serde_json::from_slice`.
    #[test]
    fn parses_as_serde_json_does() {
        let bodies: [&[u8]; 9] = [
            br#"{"kind":"Pod","metadata":{"name":"a","labels":{"x":"1"}},"spec":{"n":[1,-2,3.5,1e400,null,true,"s\u00e9"]}}"#,
            br#"{"a":1,"b":{"c":[{"d":{}}]},"a":2}"#,
            b" [1, 2] ",
            b"18446744073709551615",
            b"-9223372036854775808",
            br#"{"a":1"#,
            br#"{"a":1} x"#,
            br#"{"a":"\ud800"}"#,
            b"",
        ];
        for body in bodies {
            let ours = parse_noting_duplicates(body).map(|(value, _)| value);
            let theirs = serde_json::from_slice::<Value>(body);
            match (ours, theirs) {
                (Ok(ours), Ok(theirs)) => assert_eq!(
                    serde_json::to_string(&ours).expect("json"),
                    serde_json::to_string(&theirs).expect("json")
                ),
                (Err(ours), Err(theirs)) => assert_eq!(ours.to_string(), theirs.to_string()),
                (ours, theirs) => panic!("{body:?}: {ours:?} vs {theirs:?}"),
            }
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            parse_noting_duplicates(deep.as_bytes())
                .map_err(|e| e.to_string())
                .map(|_| ()),
            serde_json::from_str::<Value>(&deep)
                .map_err(|e| e.to_string())
                .map(|_| ())
        );
    }

    #[test]
    fn notes_a_repeated_key_at_any_depth() {
        let found = |body: &str| parse_noting_duplicates(body.as_bytes()).expect("json").1;
        assert!(!found(r#"{"a":{"b":1},"c":[{"b":1},{"b":2}]}"#));
        assert!(found(r#"{"a":1,"a":2}"#));
        assert!(found(r#"{"x":[{"y":{"b":1,"b":1}}]}"#));
        // Keys are compared unescaped, as the decoder sees them.
        assert!(found(r#"{"a":1,"\u0061":2}"#));
    }
}
