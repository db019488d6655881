//! An object's protobuf message to JSON, walking the type's [`schema`](crate::schema)
//! description: each record's field number finds its [`Field`] ([`Proto`] numbers), whose
//! [`Type`] says how to read the value.
//!
//! Proto2 semantics, as gogo's generated code applies them:
//! - a repeated field appends every occurrence, a map adds every entry (the last of a
//!   repeated key wins), a scalar keeps its last occurrence, and a message field that occurs
//!   more than once is the merge of all occurrences, which is the decoding of their
//!   concatenated bytes;
//! - unknown field numbers are skipped, and reported by path for strict field validation.
//!
//! The JSON follows what Go's encoder writes for the decoded struct: fields in field-number
//! order (Go declares them in that order), map keys sorted, empty lists and maps left out
//! (`omitempty`), a present message always written (`{}` when empty, as Go writes non-pointer
//! structs), and a zero scalar written only where [`Proto::keeps_zero`] says Go would.
//! Structs that Go embeds inline (`VolumeSource`) are flattened into their parent.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::apimachinery;
use super::wire::{self, Wire};
use crate::kind_validation::base64;
#[cfg(doc)]
use crate::schema::Proto;
use crate::schema::{Field, Type, TypeDef};

/// Messages nested deeper than this are refused. The schema's types form no cycle, so their
/// nesting is bounded already (a test keeps it well below this); the limit is the explicit
/// bound on the recursion, whatever types are added later.
pub(super) const MAX_DEPTH: usize = 32;
/// Unknown fields reported per object; further ones are still skipped.
pub(super) const MAX_UNKNOWN_REPORTED: usize = 100;

/// A protobuf field the schema has no number for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Where the message holding it is, as strict validation names fields
    /// (`spec.template.spec.containers[0]`); empty for the object itself.
    pub path: String,
    /// Its field number.
    pub number: u32,
}

/// `FieldsV1` is raw JSON on the wire; the schema describes it as an open, empty type.
const FIELDS_V1: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1";

/// The JSON object of `message`, a message of type `def`, and the unknown fields met.
pub(super) fn decode(
    def: &'static TypeDef,
    message: &[u8],
) -> Result<(Map<String, Value>, Vec<UnknownField>), String> {
    let mut decoder = Decoder {
        unknown: Vec::new(),
    };
    let object = decoder.message(Layout::of(def), message, &Path::ROOT, 0)?;
    Ok((object, decoder.unknown))
}

/// The fields one protobuf message holds: a type's own message, or the struct it embeds
/// inline at field `embedded_in` (see [`Proto::embedded_in`]).
#[derive(Clone, Copy)]
struct Layout {
    def: &'static TypeDef,
    embedded_in: u32,
}

/// What a field number of a [`Layout`] holds.
enum Slot {
    Field(&'static Field),
    /// An embedded struct whose fields JSON flattens into the parent.
    Embedded(Layout),
}

impl Layout {
    fn of(def: &'static TypeDef) -> Layout {
        Layout {
            def,
            embedded_in: 0,
        }
    }

    /// `def.fields`, not `all_fields`: the base's fields are in their own embedded message.
    fn slot(&self, number: u32) -> Option<Slot> {
        if self.embedded_in == 0 {
            if let Some(base) = self.def.base
                && self.def.base_proto_tag == number
            {
                return Some(Slot::Embedded(Layout::of(base)));
            }
            if self
                .def
                .fields
                .iter()
                .any(|f| f.proto.embedded_in == number)
            {
                return Some(Slot::Embedded(Layout {
                    def: self.def,
                    embedded_in: number,
                }));
            }
        }
        self.def
            .fields
            .iter()
            .find(|f| f.proto.tag == number && f.proto.embedded_in == self.embedded_in)
            .map(Slot::Field)
    }
}

/// Where a value is, built on the stack and rendered only for an unknown field.
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    step: Step,
}

#[derive(Clone, Copy)]
enum Step {
    Root,
    Field(&'static str),
    Index(usize),
}

impl Path<'_> {
    const ROOT: Path<'static> = Path {
        parent: None,
        step: Step::Root,
    };

    fn child(&self, step: Step) -> Path<'_> {
        Path {
            parent: Some(self),
            step,
        }
    }

    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(path) = at {
            steps.push(path.step);
            at = path.parent;
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Field(name) if out.is_empty() => out.push_str(name),
                Step::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

struct Decoder {
    unknown: Vec<UnknownField>,
}

impl Decoder {
    fn message(
        &mut self,
        layout: Layout,
        message: &[u8],
        path: &Path<'_>,
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("object nested deeper than {MAX_DEPTH} messages"));
        }
        let mut by_number: BTreeMap<u32, Vec<Wire<'_>>> = BTreeMap::new();
        for record in wire::records(message, layout.def.short_name())? {
            by_number
                .entry(record.number)
                .or_default()
                .push(record.value);
        }
        let mut out = Map::new();
        for (number, values) in by_number {
            match layout.slot(number) {
                Some(Slot::Field(field)) => {
                    let at = path.child(Step::Field(field.name));
                    if let Some(value) = self.field(field, &values, &at, depth)? {
                        out.insert(field.name.to_owned(), value);
                    }
                }
                Some(Slot::Embedded(inner)) => {
                    let bytes = merged(&values, inner.def.short_name())?;
                    out.extend(self.message(inner, &bytes, path, depth + 1)?);
                }
                None => self.skip(layout.def, path, number),
            }
        }
        Ok(out)
    }

    /// Open types are described in part: their other fields are Kubernetes' own, not
    /// mistakes, so they are skipped without a report (the JSON path keeps them; here their
    /// names are unknown).
    fn skip(&mut self, def: &TypeDef, path: &Path<'_>, number: u32) {
        if !def.open && self.unknown.len() < MAX_UNKNOWN_REPORTED {
            self.unknown.push(UnknownField {
                path: path.render(),
                number,
            });
        }
    }

    /// One field's value from all its occurrences; `None` when JSON leaves it out.
    fn field(
        &mut self,
        field: &'static Field,
        values: &[Wire<'_>],
        path: &Path<'_>,
        depth: usize,
    ) -> Result<Option<Value>, String> {
        match field.ty {
            Type::Array(item) => {
                let items = self.repeated(field, item, values, path, depth)?;
                Ok((!items.is_empty()).then_some(Value::Array(items)))
            }
            Type::Map(value_ty) => {
                let entries = self.map(field, value_ty, values, path, depth)?;
                Ok((!entries.is_empty()).then_some(Value::Object(entries)))
            }
            ty if is_scalar(&ty) => {
                // Proto2: the last occurrence of a scalar wins; each must still be readable.
                let mut last = None;
                for &value in values {
                    last = Some(scalar(&ty, value, field.name)?);
                }
                Ok(last.filter(|value| field.proto.keeps_zero || !is_zero(value)))
            }
            ty => {
                let bytes = merged(values, field.name)?;
                self.message_value(&ty, &bytes, path, depth).map(Some)
            }
        }
    }

    fn repeated(
        &mut self,
        field: &'static Field,
        item: &'static Type,
        values: &[Wire<'_>],
        path: &Path<'_>,
        depth: usize,
    ) -> Result<Vec<Value>, String> {
        let mut items = Vec::with_capacity(values.len());
        for &value in values {
            match (item, value) {
                // A packed run of varints: what a proto3 or `[packed=true]` writer sends.
                (Type::Int32 | Type::Int64 | Type::Boolean, Wire::Bytes(run)) => {
                    for v in wire::packed_varints(run)? {
                        items.push(scalar(item, Wire::Varint(v), field.name)?);
                    }
                }
                (ty, value) if is_scalar(ty) => items.push(scalar(ty, value, field.name)?),
                (Type::Array(_) | Type::Map(_), _) => {
                    return Err(format!("{}: lists of lists are not decoded", field.name));
                }
                (ty, value) => {
                    let at = path.child(Step::Index(items.len()));
                    let bytes = value.bytes(field.name)?;
                    items.push(self.message_value(ty, bytes, &at, depth)?);
                }
            }
        }
        Ok(items)
    }

    /// A map is repeated entries {1: key, 2: value}; JSON writes its keys sorted, as Go does.
    fn map(
        &mut self,
        field: &'static Field,
        value_ty: &'static Type,
        values: &[Wire<'_>],
        path: &Path<'_>,
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        let mut sorted = BTreeMap::new();
        for &entry in values {
            let entry = entry.bytes(field.name)?;
            let (key, value) = self.map_entry(field, value_ty, entry, path, depth)?;
            sorted.insert(key, value);
        }
        Ok(sorted.into_iter().collect())
    }

    fn map_entry(
        &mut self,
        field: &'static Field,
        value_ty: &'static Type,
        entry: &[u8],
        path: &Path<'_>,
        depth: usize,
    ) -> Result<(String, Value), String> {
        let mut key = String::new();
        let mut values = Vec::new();
        for record in wire::records(entry, field.name)? {
            match record.number {
                1 => key = record.value.string(field.name)?,
                2 => values.push(record.value),
                _ => {}
            }
        }
        // A missing value is the type's zero; map values are written even when zero.
        let value = if is_scalar(value_ty) {
            let mut last = zero(value_ty);
            for &value in &values {
                last = scalar(value_ty, value, field.name)?;
            }
            last
        } else if let Type::Array(item) = value_ty {
            let bytes = merged(&values, field.name)?;
            wrapped_list(item, &bytes, field.name)?
        } else {
            let bytes = merged(&values, field.name)?;
            self.message_value(value_ty, &bytes, path, depth)?
        };
        Ok((key, value))
    }

    /// A value whose wire form is a message: a struct or an apimachinery type.
    fn message_value(
        &mut self,
        ty: &Type,
        message: &[u8],
        path: &Path<'_>,
        depth: usize,
    ) -> Result<Value, String> {
        match ty {
            Type::Object(def) if def.name == FIELDS_V1 => apimachinery::fields_v1(message),
            Type::Object(def) => {
                let object = self.message(Layout::of(def), message, path, depth + 1)?;
                Ok(Value::Object(object))
            }
            Type::Time => apimachinery::time(message),
            Type::MicroTime => apimachinery::micro_time(message),
            Type::Quantity => apimachinery::quantity(message),
            Type::IntOrString => apimachinery::int_or_string(message),
            other => Err(format!("{other:?} is not a message")),
        }
    }
}

/// A map value that is a list (`map[string][]string`, `UserInfo.extra`): on the wire, a
/// message wrapping the list as its field 1 (`ExtraValue {repeated string items = 1}`).
fn wrapped_list(item: &Type, message: &[u8], field: &str) -> Result<Value, String> {
    if !is_scalar(item) {
        return Err(format!(
            "{field}: map values of lists of messages are not decoded"
        ));
    }
    let mut items = Vec::new();
    for record in wire::records(message, field)? {
        if record.number == 1 {
            items.push(scalar(item, record.value, field)?);
        }
    }
    Ok(Value::Array(items))
}

/// Types whose wire form is one record value rather than a message.
fn is_scalar(ty: &Type) -> bool {
    matches!(
        ty,
        Type::String | Type::Int32 | Type::Int64 | Type::Number | Type::Boolean | Type::Bytes
    )
}

fn scalar(ty: &Type, value: Wire<'_>, field: &str) -> Result<Value, String> {
    // Go's int32(uint64) and int64(uint64): two's complement, high bits dropped.
    match (ty, value) {
        (Type::String, value) => value.string(field).map(Value::from),
        (Type::Bytes, value) => Ok(Value::from(base64::encode(value.bytes(field)?))),
        (Type::Int32, Wire::Varint(v)) => Ok(Value::from(v as i32)),
        (Type::Int64, Wire::Varint(v)) => Ok(Value::from(v as i64)),
        (Type::Boolean, Wire::Varint(v)) => Ok(Value::from(v != 0)),
        (Type::Number, Wire::Fixed64(bits)) => {
            let number = f64::from_bits(bits);
            serde_json::Number::from_f64(number)
                .map(Value::Number)
                .ok_or_else(|| format!("json: unsupported value: {number}"))
        }
        (_, value) => Err(value.wrong_type(field)),
    }
}

/// What Go's `omitempty` leaves out: `""`, `0`, `false` (and empty bytes, already `""`).
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// The zero value of a scalar type, for a map entry without a value.
fn zero(ty: &Type) -> Value {
    match ty {
        Type::Int32 | Type::Int64 | Type::Number => Value::from(0),
        Type::Boolean => Value::from(false),
        _ => Value::from(""),
    }
}

/// All occurrences of a message field, merged (their bytes concatenated).
fn merged<'a>(values: &[Wire<'a>], field: &str) -> Result<Cow<'a, [u8]>, String> {
    match values {
        [] => Ok(Cow::Borrowed(&[])),
        [one] => one.bytes(field).map(Cow::Borrowed),
        many => {
            let mut out = Vec::new();
            for &value in many {
                out.extend_from_slice(value.bytes(field)?);
            }
            Ok(Cow::Owned(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::RESOURCES;
    use crate::schema::kind_type;

    /// How many nested `message` calls a value of `def` can take, as the decoder counts them
    /// (a struct field or an embedded struct is one more).
    fn nesting(def: &'static TypeDef) -> usize {
        let mut deepest = def.base.map_or(0, nesting);
        for field in def.fields {
            let mut ty = &field.ty;
            while let Type::Array(inner) | Type::Map(inner) = ty {
                ty = inner;
            }
            if let Type::Object(inner) = ty {
                deepest = deepest.max(nesting(inner));
            }
        }
        let embeds = def.fields.iter().any(|f| f.proto.embedded_in != 0);
        1 + deepest + usize::from(embeds)
    }

    #[test]
    fn every_kind_nests_well_within_the_depth_limit() {
        let deepest = RESOURCES
            .iter()
            .filter_map(kind_type)
            .map(nesting)
            .max()
            .unwrap();
        assert!(deepest + 8 < MAX_DEPTH, "{deepest}");
    }

    #[test]
    fn refuses_messages_nested_past_the_limit() {
        let def = kind_type(&RESOURCES[0]).unwrap();
        let mut decoder = Decoder {
            unknown: Vec::new(),
        };
        let layout = Layout::of(def);
        assert!(decoder.message(layout, &[], &Path::ROOT, MAX_DEPTH).is_ok());
        assert_eq!(
            decoder.message(layout, &[], &Path::ROOT, MAX_DEPTH + 1),
            Err("object nested deeper than 32 messages".to_owned())
        );
    }

    #[test]
    fn paths_render_as_strict_validation_names_fields() {
        let spec = Path::ROOT.child(Step::Field("spec"));
        let containers = spec.child(Step::Field("containers"));
        let first = containers.child(Step::Index(0));
        let env = first.child(Step::Field("env"));
        assert_eq!(env.render(), "spec.containers[0].env");
        assert_eq!(Path::ROOT.render(), "");
    }
}
