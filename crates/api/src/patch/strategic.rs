//! Strategic merge patch (`application/strategic-merge-patch+json`): a JSON merge patch whose
//! lists merge by the rules of each field ([`meta`]), with directives, as apimachinery's
//! `strategicpatch.StrategicMergeMapPatch` applies them on the server:
//! - `null` removes a key;
//! - `{"$patch": "replace", …}` replaces an object whole, `{"$patch": "delete"}` empties it;
//!   in a merging list, `{"$patch": "delete", "<key>": v}` removes that item and
//!   `{"$patch": "replace"}` makes the patch's items the whole list;
//! - `$retainKeys: [...]` removes every key of the live object not listed;
//! - `$setElementOrder/<list>: [...]` orders a merged list (what `kubectl edit` and `apply`
//!   send), items not listed keeping their place among the others;
//! - `$deleteFromPrimitiveList/<list>: [...]` removes scalars from a merging list.
//!
//! Merged lists order their items as strategicpatch does: the patch's items in the patch's
//! order, the live object's other items in theirs, interleaved where the live order says so;
//! an item new to the list comes before live items it is not known to follow (so a merge
//! without `$setElementOrder` puts new items first). Lookups by merge key use hash maps where
//! strategicpatch scans, which is the same result in linear rather than quadratic time.
//!
//! Errors map to kube-apiserver's answers (`interpretStrategicMergePatchError`): malformed
//! directives are 400, lists of lists 422, everything else 500 with strategicpatch's message.
//! Where strategicpatch keeps directive keys or nulls inside a value it copies whole (a
//! `$patch: replace` object, a replaced list, a new list item), kube-apiserver's typed decoding
//! then drops them; kubesim stores JSON, so they are dropped here.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::meta::{self, Field, Fields};
use super::{PatchError, go_fmt, parse_patch};
use crate::resources::Resource;

type Object = Map<String, Value>;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";

/// `mergepatch.ErrBadPatchFormatForPrimitiveList` (400).
pub const ERR_BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
/// `mergepatch.ErrBadPatchFormatForRetainKeys` (400).
pub const ERR_BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
/// `mergepatch.ErrBadPatchFormatForSetElementOrderList` (400).
pub const ERR_BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
/// `mergepatch.ErrNoListOfLists` (422).
pub const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";

const MAP_TYPE: &str = "map[string]interface {}";
const LIST_TYPE: &str = "[]interface {}";

/// Applies a strategic merge patch to `original` (an object of `resource`'s kind).
pub fn apply_strategic_merge_patch(
    resource: &Resource,
    original: &Value,
    patch: &[u8],
) -> Result<Value, PatchError> {
    let fields = meta::fields_for(resource).ok_or(PatchError::StrategicMergeUnsupported)?;
    let patch = match parse_patch(patch, |e| PatchError::Malformed(e.to_string()))? {
        Value::Object(patch) => patch,
        // Go decodes null into a nil map: nothing to merge.
        Value::Null => return Ok(original.clone()),
        other => {
            return Err(PatchError::Malformed(format!(
                "json: cannot unmarshal {} into Go value of type {MAP_TYPE}",
                go_fmt::json_kind(&other)
            )));
        }
    };
    let original = original.as_object().cloned().unwrap_or_default();
    merge_map(original, patch, fields).map(Value::Object)
}

/// `mergeMap`: `patch` merged into `original`, whose fields are described by `fields`.
fn merge_map(original: Object, mut patch: Object, fields: Fields) -> Result<Object, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        let directive = directive.clone();
        return map_directive(&directive, patch);
    }
    let mut target = Target::new(original);
    apply_retain_keys(&mut target.map, &mut patch)?;
    let consumed = set_element_orders(&mut target, &mut patch, fields)?;
    for (key, value) in patch {
        if !consumed.contains(&key) {
            merge_field(&mut target, key, value, fields)?;
        }
    }
    Ok(target.finish())
}

/// `handleDirectiveInMergeMap`: `$patch` on an object.
fn map_directive(directive: &Value, mut patch: Object) -> Result<Object, PatchError> {
    match directive.as_str() {
        Some(REPLACE_DIRECTIVE) => {
            patch.shift_remove(DIRECTIVE_MARKER);
            Ok(strip_object(patch))
        }
        Some(DELETE_DIRECTIVE) => Ok(Object::new()),
        // `merge` too: strategicpatch only knows it inside lists.
        _ => Err(PatchError::Strategic(format!(
            "unknown patch type: {} in map: {}",
            go_fmt::verb_s(directive),
            go_fmt::value(&Value::Object(patch))
        ))),
    }
}

/// `applyRetainKeysDirective`: every key the patch sets must be listed; live keys that are
/// not are removed.
fn apply_retain_keys(original: &mut Object, patch: &mut Object) -> Result<(), PatchError> {
    let Some(retained) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retained) = retained else {
        return Err(PatchError::BadDirective(ERR_BAD_RETAIN_KEYS));
    };
    let retained: HashSet<&str> = retained.iter().filter_map(Value::as_str).collect();
    let unlisted = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            && !key.starts_with(SET_ELEMENT_ORDER_PREFIX)
            && !retained.contains(key.as_str())
    });
    if unlisted {
        return Err(PatchError::BadDirective(ERR_BAD_RETAIN_KEYS));
    }
    original.retain(|key, _| retained.contains(key.as_str()));
    Ok(())
}

/// `mergePatchIntoOriginal`: each `$setElementOrder/<list>` merges `<list>` and orders it.
/// Returns the patch keys it used up.
fn set_element_orders(
    target: &mut Target,
    patch: &mut Object,
    fields: Fields,
) -> Result<HashSet<String>, PatchError> {
    let mut consumed = HashSet::new();
    let directives: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive in directives {
        let order = patch
            .get_mut(&directive)
            .map(std::mem::take)
            .unwrap_or_default();
        consumed.insert(directive.clone());
        let Value::Array(order) = order else {
            return Err(bad_arg_type(LIST_TYPE, &order));
        };
        let name = extract_key(&directive, SET_ELEMENT_ORDER_PREFIX)
            .ok_or(PatchError::BadDirective(ERR_BAD_SET_ELEMENT_ORDER))?;
        let live = take_list(target.take(name))?;
        // A list key that is itself a used-up directive is not in the patch any more.
        let patched = if consumed.contains(name) {
            None
        } else {
            take_list(patch.get_mut(name).map(std::mem::take))?
        };
        let field = meta::lookup(fields, name);
        let patch_items = patched.as_deref().unwrap_or_default();
        validate_patch_with_set_order(patch_items, &order, field.merge_key())?;
        let ordered = match (live, patched) {
            (None, None) => continue,
            (live, patched) => order_list(live, patched, &order, field)?,
        };
        target.set(name.to_string(), Value::Array(ordered));
        consumed.insert(name.to_string());
    }
    Ok(consumed)
}

/// A list found in the live object or the patch, which must be a list.
fn take_list(found: Option<Value>) -> Result<Option<Vec<Value>>, PatchError> {
    match found {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(bad_arg_type(LIST_TYPE, &other)),
    }
}

/// The rest of `mergePatchIntoOriginal` for one list: merge the live and patch lists, then
/// order the result by `order`, keeping the live order among the items `order` leaves out.
fn order_list(
    live: Option<Vec<Value>>,
    patched: Option<Vec<Value>>,
    order: &[Value],
    field: &Field,
) -> Result<Vec<Value>, PatchError> {
    let live_items = live.as_deref().unwrap_or_default();
    let kind = item_kind(live_items, patched.as_deref().unwrap_or_default())?;
    let keying = Keying::for_list(field, kind, live_items, order)?;
    let live_order = Positions::new(live_items, keying)?;
    let merged = match (live, patched) {
        (Some(live), Some(patched)) => merge_list(live, patched, field, false)?,
        (Some(live), None) => live,
        (None, patched) => patched
            .unwrap_or_default()
            .into_iter()
            .filter_map(take_new)
            .collect(),
    };
    let set_order = Positions::new(order, keying)?;
    normalize_element_order(merged, &set_order, &live_order, keying)
}

/// `validatePatchWithSetOrderList`: the patch's items (less deletions and other directive
/// items) must appear in `order`, in the same relative order.
fn validate_patch_with_set_order(
    patch_items: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_items.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(patch_items.len());
    for item in patch_items {
        if merge_key.is_some() && !item.is_object() {
            return Err(bad_arg_type(MAP_TYPE, item));
        }
        if merge_key.is_none() || !is_delete_item(item) {
            kept.push(item);
        }
    }
    let (mut p, mut s) = (0, 0);
    while let (Some(item), Some(ordered)) = (kept.get(p), order.get(s)) {
        if item.get(DIRECTIVE_MARKER).is_some() {
            p += 1;
            continue;
        }
        if merge_key_value_equal(item, ordered, merge_key)? {
            p += 1;
        }
        s += 1;
    }
    if p < kept.len() {
        return Err(PatchError::Strategic(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_fmt::value(&Value::Array(patch_items.to_vec())),
            go_fmt::value(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn is_delete_item(item: &Value) -> bool {
    item.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE)
}

/// `mergeKeyValueEqual`.
fn merge_key_value_equal(
    left: &Value,
    right: &Value,
    merge_key: Option<&str>,
) -> Result<bool, PatchError> {
    let Some(merge_key) = merge_key else {
        return Ok(left == right);
    };
    let left = Keying::MergeKey(merge_key).key_value(left)?;
    let right = Keying::MergeKey(merge_key).key_value(right)?;
    Ok(left == right)
}

/// One key of the patch merged into the live object (the loop of `mergeMap`).
fn merge_field(
    target: &mut Target,
    key: String,
    value: Value,
    fields: Fields,
) -> Result<(), PatchError> {
    let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
        let list = extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            .ok_or(PatchError::BadDirective(ERR_BAD_PRIMITIVE_LIST))?;
        (list.to_string(), true)
    } else {
        (key, false)
    };
    if value.is_null() {
        target.remove(&key);
        return Ok(());
    }
    let Some(live) = target.take(&key) else {
        if !is_delete_list {
            target.set_new(key, value);
        }
        return Ok(());
    };
    let field = meta::lookup(fields, &key);
    match (live, value) {
        (Value::Object(live), Value::Object(patch)) => {
            let merged = merge_map(live, patch, field.fields)?;
            target.set(key, Value::Object(merged));
        }
        (Value::Array(live), Value::Array(patch)) => {
            let merged = merge_list(live, patch, field, is_delete_list)?;
            target.set(key, Value::Array(merged));
        }
        (live, value) if go_fmt::type_name(&live) != go_fmt::type_name(&value) => {
            if is_delete_list {
                target.set(key, live);
            } else {
                target.set_new(key, value);
            }
        }
        // Scalars of one type, even under `$deleteFromPrimitiveList`: the patch's wins.
        (_, value) => target.set(key, value),
    }
    Ok(())
}

/// `mergeSliceHandler`: lists merge when their field says so, or to delete from them;
/// otherwise the patch's list replaces the live one.
fn merge_list(
    live: Vec<Value>,
    patch: Vec<Value>,
    field: &Field,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if !(field.merges() || is_delete_list) {
        return Ok(patch.into_iter().map(strip).collect());
    }
    if live.is_empty() && patch.is_empty() {
        return Ok(live);
    }
    match item_kind(&live, &patch)? {
        ItemKind::Scalar if is_delete_list => Ok(delete_from(live, &patch)),
        ItemKind::Scalar => merge_scalars(live, patch),
        ItemKind::Object => {
            let merge_key = field.merge_key().ok_or_else(|| {
                PatchError::Strategic("cannot merge lists without merge key for struct".into())
            })?;
            let (live, patch) = list_directives(live, patch, merge_key)?;
            merge_objects_by_key(live, patch, merge_key, field.fields)
        }
    }
}

/// The union of two lists of scalars, ordered as `mergeSlice` orders it.
fn merge_scalars(live: Vec<Value>, patch: Vec<Value>) -> Result<Vec<Value>, PatchError> {
    let live_order = Positions::new(&live, Keying::Item)?;
    let patch_order = Positions::new(&patch, Keying::Item)?;
    let mut seen = HashSet::new();
    let merged: Vec<Value> = live
        .into_iter()
        .chain(patch)
        .filter(|item| seen.insert(canonical(item)))
        .collect();
    normalize_element_order(merged, &patch_order, &live_order, Keying::Item)
}

/// `deleteFromSlice`: every live scalar equal to one in `to_delete` removed.
fn delete_from(mut live: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    let to_delete: HashSet<String> = to_delete.iter().map(canonical).collect();
    live.retain(|item| !to_delete.contains(&canonical(item)));
    live
}

/// `mergeSliceWithSpecialElements`: the `$patch` items of a list of objects. Returns the live
/// list less deleted items and the patch less directive items, or, for `replace`, the
/// patch's items and nothing to merge.
fn list_directives(
    mut live: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut kept = Vec::with_capacity(patch.len());
    let mut deleted = HashSet::new();
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE_MARKER) else {
            kept.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                deleted.insert(Keying::MergeKey(merge_key).key_of(&item)?);
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::Strategic(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            _ => {
                return Err(PatchError::Strategic(format!(
                    "unknown patch type: {} in map: {}",
                    go_fmt::verb_s(directive),
                    go_fmt::value(&item)
                )));
            }
        }
    }
    if replace {
        return Ok((kept.into_iter().map(strip).collect(), Vec::new()));
    }
    if !deleted.is_empty() {
        let key = Keying::MergeKey(merge_key);
        live.retain(|item| !key.key_of(item).is_ok_and(|k| deleted.contains(&k)));
    }
    Ok((live, kept))
}

/// `mergeSliceWithoutSpecialElements` and the ordering after it: each patch item merges
/// into the first live item with its key, or is appended.
fn merge_objects_by_key(
    live: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    fields: Fields,
) -> Result<Vec<Value>, PatchError> {
    let keying = Keying::MergeKey(merge_key);
    let live_order = Positions::new(&live, keying)?;
    let patch_order = Positions::new(&patch, keying)?;
    let mut merged = live;
    let mut index: HashMap<String, usize> = HashMap::with_capacity(merged.len());
    for (i, item) in merged.iter().enumerate() {
        index.entry(keying.key_of(item)?).or_insert(i);
    }
    for item in patch {
        let key = keying.key_of(&item)?;
        let Value::Object(item) = item else {
            return Err(bad_arg_type(MAP_TYPE, &item));
        };
        match index.get(&key).and_then(|&i| merged.get_mut(i)) {
            Some(slot) => {
                let live_item = match std::mem::take(slot) {
                    Value::Object(live_item) => live_item,
                    other => return Err(bad_arg_type(MAP_TYPE, &other)),
                };
                *slot = Value::Object(merge_map(live_item, item, fields)?);
            }
            None => {
                index.insert(key, merged.len());
                merged.push(strip(Value::Object(item)));
            }
        }
    }
    normalize_element_order(merged, &patch_order, &live_order, keying)
}

/// `normalizeElementOrder` after partitioning: the items in `order_by` (the patch, or a
/// `$setElementOrder` list) sorted by it, the others by `live_order`, then interleaved as
/// `mergeSortedSlice` does.
fn normalize_element_order(
    merged: Vec<Value>,
    order_by: &Positions,
    live_order: &Positions,
    keying: Keying,
) -> Result<Vec<Value>, PatchError> {
    let mut listed = Vec::new();
    let mut unlisted = Vec::new();
    for item in merged {
        let key = keying.key_of(&item)?;
        let live_position = live_order.get(&key);
        match order_by.get(&key) {
            Some(position) => listed.push((position, live_position, item)),
            // Sorted as strategicpatch's comparator would if it could say "not found": last.
            None => unlisted.push((live_position.unwrap_or(usize::MAX), live_position, item)),
        }
    }
    // Stable sorts, as Go's sort.SliceStable.
    listed.sort_by_key(|(position, _, _)| *position);
    unlisted.sort_by_key(|(position, _, _)| *position);
    Ok(merge_sorted(unlisted, listed))
}

/// `mergeSortedSlice`: a live-only item goes first when both it and the next listed item are
/// in the live list and it came earlier there; otherwise the listed item goes first.
fn merge_sorted(
    unlisted: Vec<(usize, Option<usize>, Value)>,
    listed: Vec<(usize, Option<usize>, Value)>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(unlisted.len() + listed.len());
    let mut left = unlisted.into_iter().peekable();
    let mut right = listed.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((_, l, _)), Some((_, r, _))) => matches!((l, r), (Some(l), Some(r)) if l < r),
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some((_, _, item)) = next {
            out.push(item);
        }
    }
    out
}

/// What identifies a list item: its merge key's value, or, in a list of scalars, itself.
/// Either is compared as its JSON text, where strategicpatch compares Go values with `==`.
#[derive(Debug, Clone, Copy)]
enum Keying<'k> {
    Item,
    MergeKey(&'k str),
}

impl<'k> Keying<'k> {
    /// For a list of `field` whose items are of `kind`: objects without a merge key (an
    /// untagged list under `$setElementOrder`) have nothing to be ordered by.
    fn for_list(
        field: &'k Field,
        kind: ItemKind,
        live: &[Value],
        order: &[Value],
    ) -> Result<Keying<'k>, PatchError> {
        match (field.merge_key(), kind) {
            (Some(key), _) => Ok(Keying::MergeKey(key)),
            (None, ItemKind::Scalar) => Ok(Keying::Item),
            (None, ItemKind::Object) => {
                let first = live.iter().chain(order).find_map(Value::as_object);
                Err(no_merge_key(first.unwrap_or(&Object::new()), ""))
            }
        }
    }

    fn key_value<'v>(&self, item: &'v Value) -> Result<&'v Value, PatchError> {
        match self {
            Keying::Item => Ok(item),
            Keying::MergeKey(key) => match item {
                Value::Object(map) => map.get(*key).ok_or_else(|| no_merge_key(map, key)),
                other => Err(bad_arg_type(MAP_TYPE, other)),
            },
        }
    }

    fn key_of(&self, item: &Value) -> Result<String, PatchError> {
        self.key_value(item).map(canonical)
    }
}

/// Where each key first appears in a list.
struct Positions(HashMap<String, usize>);

impl Positions {
    fn new(items: &[Value], keying: Keying) -> Result<Positions, PatchError> {
        let mut positions = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            positions.entry(keying.key_of(item)?).or_insert(i);
        }
        Ok(Positions(positions))
    }

    fn get(&self, key: &str) -> Option<usize> {
        self.0.get(key).copied()
    }
}

/// The kind of a list's items, `sliceElementType`: all must be of one Go type, and not lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Object,
    Scalar,
}

fn item_kind(live: &[Value], patch: &[Value]) -> Result<ItemKind, PatchError> {
    let mut first: Option<&Value> = None;
    for item in live.iter().chain(patch) {
        match first {
            None if item.is_array() => return Err(PatchError::ListOfLists),
            None => first = Some(item),
            Some(f) if go_fmt::type_name(f) != go_fmt::type_name(item) => {
                let both = Value::Array(vec![
                    Value::Array(live.to_vec()),
                    Value::Array(patch.to_vec()),
                ]);
                return Err(PatchError::Strategic(format!(
                    "list element types are not identical: {}",
                    go_fmt::value(&both)
                )));
            }
            Some(_) => {}
        }
    }
    match first {
        None => Err(PatchError::Strategic(
            "no elements in any of the given slices".into(),
        )),
        Some(Value::Object(_)) => Ok(ItemKind::Object),
        Some(_) => Ok(ItemKind::Scalar),
    }
}

/// `extractKey`: `<prefix>/<key>` to `<key>`.
fn extract_key<'a>(directive: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, key) = directive.split_once('/')?;
    (head == prefix).then_some(key)
}

/// The object being patched. Removed keys are only marked, and dropped in one pass at the end,
/// so a patch of many nulls costs one walk of the object rather than one each; a marked key
/// reads as absent.
struct Target {
    map: Object,
    removed: HashSet<String>,
}

impl Target {
    fn new(map: Object) -> Target {
        Target {
            map,
            removed: HashSet::new(),
        }
    }

    /// The value at `key`, taken out; its place is kept for [`Target::set`].
    fn take(&mut self, key: &str) -> Option<Value> {
        if self.removed.contains(key) {
            return None;
        }
        self.map.get_mut(key).map(std::mem::take)
    }

    /// Sets `key`, in its old place if it had one, else last.
    fn set(&mut self, key: String, value: Value) {
        self.removed.remove(&key);
        self.map.insert(key, value);
    }

    /// Sets `key` to a value from the patch that does not merge with anything: without
    /// directives and nulls, or removed if it was itself a directive (`removeDirectives`).
    fn set_new(&mut self, key: String, value: Value) {
        match take_new(value) {
            Some(value) => self.set(key, value),
            None => self.remove(&key),
        }
    }

    fn remove(&mut self, key: &str) {
        if self.map.contains_key(key) {
            self.removed.insert(key.to_string());
        }
    }

    fn finish(self) -> Object {
        let Target { mut map, removed } = self;
        if !removed.is_empty() {
            map.retain(|key, _| !removed.contains(key));
        }
        map
    }
}

/// A patch value placed as it is: `removeDirectives` (an object with `$patch` is dropped,
/// from lists too), then [`strip`]. `None` when the value itself is dropped.
fn take_new(value: Value) -> Option<Value> {
    remove_directives(value).map(strip)
}

fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(DIRECTIVE_MARKER) => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        scalar => Some(scalar),
    }
}

/// What kube-apiserver's typed decoding leaves of a value strategicpatch copied whole: no
/// directive keys (unknown fields to Go) and no null fields (zero values, omitted).
fn strip(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip_object(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
        scalar => scalar,
    }
}

fn strip_object(map: Object) -> Object {
    map.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .map(|(k, v)| (k, strip(v)))
        .collect()
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// A value's JSON text, to compare and hash merge keys and scalars by.
fn canonical(value: &Value) -> String {
    value.to_string()
}

/// `mergepatch.ErrBadArgType`.
fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Strategic(format!(
        "expected a {expected}, but received a {}",
        go_fmt::type_name(actual)
    ))
}

/// `mergepatch.ErrNoMergeKey`.
fn no_merge_key(map: &Object, key: &str) -> PatchError {
    PatchError::Strategic(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt::value(&Value::Object(map.clone()))
    ))
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
