//! Field sets: which fields of an object a manager owns, in `managedFields[].fieldsV1`'s
//! notation (structured-merge-diff's): `f:<field>` for a field of an object, `k:{"name":"web"}`
//! for the item of a list keyed by its merge key, `v:<json>` for an item of a list of
//! scalars that merges as a set, and `.` for a list item itself.
//!
//! A set holds leaf paths; [`to_fields_v1`] and [`from_fields_v1`] convert to and from the
//! nested JSON. Which lists are keyed comes from the strategic merge patch table
//! (`kubesim_api::patch::meta`), the same Go struct tags kube's type converter reads.

use std::collections::BTreeSet;

use kubesim_api::patch::meta::{self, Fields, Strategy};
use kubesim_api::resources::Resource;
use kubesim_api::schema::{self, Type};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// One step of a path: `f:name`, `k:{...}`, `v:...` or `.`.
pub type Path = Vec<String>;
/// Leaf paths, ordered.
pub type FieldSet = BTreeSet<Path>;

/// Deep enough for any real object; deeper parts are owned as a whole.
const MAX_DEPTH: usize = 48;
/// What the server sets or what names the object: never owned by a manager.
const UNOWNED_META: [&str; 8] = [
    "name",
    "namespace",
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
];

/// `f:<key>`. Steps are made for every field of every write, so by concatenation rather
/// than `format!` (whose machinery was 3% of a create's CPU).
fn field_step(key: &str) -> String {
    let mut step = String::with_capacity(key.len() + 2);
    step.push_str("f:");
    step.push_str(key);
    step
}

/// `k:{"<key>":<id>}`: the id as compact JSON, as structured-merge-diff writes it.
fn keyed_step(key: &str, id: &Value) -> String {
    let mut step = String::with_capacity(key.len() + json_len_hint(id) + 6);
    step.push_str("k:{");
    push_json_str(&mut step, key);
    step.push(':');
    push_json(&mut step, id);
    step.push('}');
    step
}

/// `v:<item as JSON>`.
fn value_step(item: &Value) -> String {
    let mut step = String::with_capacity(json_len_hint(item) + 2);
    step.push_str("v:");
    push_json(&mut step, item);
    step
}

/// About how long `value` is as JSON, to size a step once.
fn json_len_hint(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len() + 2,
        _ => 20,
    }
}

/// Appends `value` as compact JSON, a string without serde_json's machinery when it can.
fn push_json(out: &mut String, value: &Value) {
    match value {
        Value::String(text) => push_json_str(out, text),
        // Serializing a JSON value cannot fail.
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

/// Appends `text` as a JSON string. One that needs no escaping (names, paths: every id in
/// practice) is copied as it is; serde_json escapes only quotes, backslashes and control
/// characters.
fn push_json_str(out: &mut String, text: &str) {
    if needs_escape(text) {
        out.push_str(&serde_json::to_string(text).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

/// Every leaf path of `object` (apiVersion, kind, and the server's metadata excluded; with
/// `status_only`, just `status`; otherwise without `status`, which belongs to the status
/// subresource).
pub fn fields_of(resource: &Resource, object: &Value, status_only: bool) -> FieldSet {
    let mut set = FieldSet::new();
    for (key, value, field, ty) in owned_top_level(resource, object, status_only) {
        let path = vec![field_step(key)];
        if key == "metadata" {
            walk_metadata(value, field.fields, ty, &path, &mut set);
        } else {
            walk(value, field.strategy, field.fields, ty, path, &mut set, 1);
        }
    }
    set
}

/// The top-level fields a manager can own, with their merge strategy and schema type:
/// apiVersion and kind never; with `status_only`, just `status`; otherwise all but `status`,
/// which belongs to the status subresource.
fn owned_top_level<'a>(
    resource: &Resource,
    object: &'a Value,
    status_only: bool,
) -> impl Iterator<Item = (&'a String, &'a Value, &'static meta::Field, Option<Type>)> {
    let fields = meta::fields_for(resource).unwrap_or(&[]);
    let def = schema::kind_type(resource);
    object
        .as_object()
        .into_iter()
        .flatten()
        .filter(move |(key, _)| match key.as_str() {
            "apiVersion" | "kind" => false,
            "status" => status_only,
            _ => !status_only,
        })
        .map(move |(key, value)| {
            let ty = def.and_then(|d| d.field(key)).map(|f| f.ty);
            (key, value, meta::lookup(fields, key), ty)
        })
}

fn walk_metadata(value: &Value, fields: Fields, ty: Option<Type>, path: &Path, set: &mut FieldSet) {
    let Value::Object(map) = value else { return };
    for (key, value) in map {
        if UNOWNED_META.contains(&key.as_str()) {
            continue;
        }
        let mut child = path.clone();
        child.push(field_step(key));
        let field = meta::lookup(fields, key);
        let child_ty = child_type(ty, key);
        walk(value, field.strategy, field.fields, child_ty, child, set, 2);
    }
}

/// The schema type of field `key` of a value of type `ty` (an object's field, a map's
/// value), when the schema knows it.
fn child_type(ty: Option<Type>, key: &str) -> Option<Type> {
    match ty? {
        Type::Object(def) => def.field(key).map(|f| f.ty),
        Type::Map(inner) => Some(*inner),
        _ => None,
    }
}

/// The type of a list's items.
fn item_type(ty: Option<Type>) -> Option<Type> {
    match ty? {
        Type::Array(inner) => Some(*inner),
        _ => None,
    }
}

fn walk(
    value: &Value,
    strategy: Strategy,
    fields: Fields,
    ty: Option<Type>,
    path: Path,
    set: &mut FieldSet,
    depth: usize,
) {
    if depth >= MAX_DEPTH {
        set.insert(path);
        return;
    }
    match (value, strategy) {
        (Value::Object(map), _) if !map.is_empty() => {
            // A map (`labels`, `data`) is itself a member of the set, as structured-merge-
            // diff records it (`.`); a struct is only its fields.
            if matches!(ty, Some(Type::Map(_))) {
                let mut dot = path.clone();
                dot.push(".".to_string());
                set.insert(dot);
            }
            for (key, child) in map {
                let mut child_path = path.clone();
                child_path.push(field_step(key));
                let field = meta::lookup(fields, key);
                let child_ty = child_type(ty, key);
                walk(
                    child,
                    field.strategy,
                    field.fields,
                    child_ty,
                    child_path,
                    set,
                    depth + 1,
                );
            }
        }
        (Value::Array(items), Strategy::MergeByKey(key)) => {
            for item in items {
                let Some(id) = merge_key_of(item, key) else {
                    // An item without its key cannot be tracked alone: own the list.
                    set.insert(path.clone());
                    return;
                };
                let mut item_path = path.clone();
                item_path.push(keyed_step(key, id));
                let mut dot = item_path.clone();
                dot.push(".".to_string());
                set.insert(dot);
                walk(
                    item,
                    Strategy::Atomic,
                    fields,
                    item_type(ty),
                    item_path,
                    set,
                    depth + 1,
                );
            }
        }
        (Value::Array(items), Strategy::MergeScalars) => {
            for item in items {
                let mut item_path = path.clone();
                item_path.push(value_step(item));
                set.insert(item_path);
            }
        }
        _ => {
            set.insert(path);
        }
    }
}

/// The `fieldsV1` JSON of every leaf path of `object`, written straight into `out`: byte for
/// byte what serializing `to_fields_v1(&fields_of(..))` gives (tested), in one walk without
/// the set of paths in between (making and comparing path vectors was a third of a dry-run
/// create's CPU; docs/benchmarks.md, run 13). A create's managedFields go into the stored
/// bytes this way (a dry run's answer reads them back: `managed::set_created`), with no tree of maps to build,
/// serialize and free (that tree was a fifth of a pod create's allocations; run 20). Every
/// level is written in its final (sorted) order. Whether it owns anything (`false`: `{}`
/// was written).
pub fn write_fields_v1(
    resource: &Resource,
    object: &Value,
    status_only: bool,
    out: &mut Vec<u8>,
) -> bool {
    let mut top: Vec<_> = owned_top_level(resource, object, status_only).collect();
    top.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut writer = JsonWriter {
        out,
        fields: Vec::with_capacity(64),
    };
    writer.out.push(b'{');
    let mut any = false;
    for (key, value, field, ty) in top {
        let mark = writer.out.len();
        writer.member(any, "f:", key);
        let wrote = if key == "metadata" {
            value
                .as_object()
                .is_some_and(|map| writer.object(map, field.fields, ty, false, &UNOWNED_META, 1))
        } else {
            writer.node(value, field.strategy, field.fields, ty, false, 1)
        };
        if wrote {
            any = true;
        } else {
            writer.out.truncate(mark);
        }
    }
    writer.out.push(b'}');
    any
}

/// [`walk`]'s rules, writing each node's JSON as it goes. A node that turns out to own
/// nothing (an empty keyed or set list, a struct whose fields own nothing) is cut off
/// again (`truncate` to where its key began), as the set of paths would not have it.
struct JsonWriter<'a, 'o> {
    out: &'o mut Vec<u8>,
    /// The fields of the objects being walked, sorted in place: one buffer for the whole
    /// object, not a vector per level.
    fields: Vec<(&'a str, &'a Value)>,
}

impl<'a> JsonWriter<'a, '_> {
    /// `,` unless first, then `"<prefix><key>":`.
    fn member(&mut self, comma: bool, prefix: &str, key: &str) {
        if comma {
            self.out.push(b',');
        }
        if needs_escape(key) {
            let mut step = String::with_capacity(prefix.len() + key.len());
            step.push_str(prefix);
            step.push_str(key);
            push_escaped(self.out, &step);
        } else {
            self.out.push(b'"');
            self.out.extend_from_slice(prefix.as_bytes());
            self.out.extend_from_slice(key.as_bytes());
            self.out.push(b'"');
        }
        self.out.push(b':');
    }

    /// The node of `value`: whether one was written. With `dot` (a keyed list's item), the
    /// node has `.` whatever it holds.
    fn node(
        &mut self,
        value: &'a Value,
        strategy: Strategy,
        fields: Fields,
        ty: Option<Type>,
        dot: bool,
        depth: usize,
    ) -> bool {
        if depth >= MAX_DEPTH {
            self.leaf(dot);
            return true;
        }
        match (value, strategy) {
            (Value::Object(map), _) if !map.is_empty() => {
                self.object(map, fields, ty, dot, &[], depth)
            }
            (Value::Array(items), Strategy::MergeByKey(key)) => {
                self.keyed(items, key, fields, ty, depth)
            }
            (Value::Array(items), Strategy::MergeScalars) => self.scalar_set(items),
            _ => {
                self.leaf(dot);
                true
            }
        }
    }

    /// `{}`, or `{".":{}}` for a list item.
    fn leaf(&mut self, dot: bool) {
        self.out
            .extend_from_slice(if dot { b"{\".\":{}}" } else { b"{}" });
    }

    /// An object's node: `.` first when it is a map (`labels`, `data`: the map itself is a
    /// member, as structured-merge-diff records it) or a list item, then `f:<key>` for each
    /// field not in `skip` that owns something, in key order. Whether it owns anything.
    fn object(
        &mut self,
        map: &'a Map<String, Value>,
        fields: Fields,
        ty: Option<Type>,
        dot: bool,
        skip: &[&str],
        depth: usize,
    ) -> bool {
        let dot = dot || matches!(ty, Some(Type::Map(_)));
        let start = self.fields.len();
        self.fields.extend(
            map.iter()
                .map(|(key, value)| (key.as_str(), value))
                .filter(|(key, _)| !skip.contains(key)),
        );
        self.fields[start..].sort_unstable_by(|a, b| a.0.cmp(b.0));
        let begin = self.out.len();
        self.out.push(b'{');
        let mut any = dot;
        if dot {
            self.out.extend_from_slice(b"\".\":{}");
        }
        for index in start..self.fields.len() {
            let (key, child) = self.fields[index];
            let mark = self.out.len();
            self.member(any, "f:", key);
            let wrote = if is_compound(child) {
                let field = meta::lookup(fields, key);
                let child_ty = child_type(ty, key);
                self.node(
                    child,
                    field.strategy,
                    field.fields,
                    child_ty,
                    false,
                    depth + 1,
                )
            } else {
                self.leaf(false);
                true
            };
            if wrote {
                any = true;
            } else {
                self.out.truncate(mark);
            }
        }
        self.fields.truncate(start);
        if any {
            self.out.push(b'}');
        } else {
            self.out.truncate(begin);
        }
        any
    }

    /// A keyed list's node: `k:{"<key>":<id>}` per item, in step order. An item without its
    /// key cannot be tracked alone: the list is owned (with the items before it, as [`walk`]
    /// leaves them in the set). Items that share a key (invalid, but stored objects may hold
    /// them) make one node, their nodes merged as a tree and sorted.
    fn keyed(
        &mut self,
        items: &'a [Value],
        key: &str,
        fields: Fields,
        ty: Option<Type>,
        depth: usize,
    ) -> bool {
        let mut steps: Vec<(String, &'a Value)> = Vec::with_capacity(items.len());
        let mut whole = false;
        for item in items {
            let Some(id) = merge_key_of(item, key) else {
                whole = true;
                break;
            };
            steps.push((keyed_step(key, id), item));
        }
        if steps.is_empty() {
            if whole {
                self.leaf(false);
            }
            return whole;
        }
        steps.sort_by(|a, b| a.0.cmp(&b.0));
        let item_ty = item_type(ty);
        self.out.push(b'{');
        let mut rest = steps.iter().peekable();
        let mut first = true;
        while let Some((step, item)) = rest.next() {
            if !first {
                self.out.push(b',');
            }
            first = false;
            push_escaped(self.out, step);
            self.out.push(b':');
            if rest.peek().is_some_and(|(next, _)| next == step) {
                let mut child = self.item_map(item, fields, item_ty, depth);
                while let Some((_, same)) = rest.next_if(|(next, _)| next == step) {
                    let other = self.item_map(same, fields, item_ty, depth);
                    merge_nodes(&mut child, other);
                }
                sort_tree(&mut child);
                // Invariant: a map of JSON values always serializes into a Vec.
                serde_json::to_writer(&mut *self.out, &child).expect("JSON serializes");
            } else {
                self.item(item, fields, item_ty, depth);
            }
        }
        self.out.push(b'}');
        true
    }

    /// One keyed item's node: `.` and its fields.
    fn item(&mut self, item: &'a Value, fields: Fields, ty: Option<Type>, depth: usize) {
        let mark = self.out.len();
        if !self.node(item, Strategy::Atomic, fields, ty, true, depth + 1) {
            self.out.truncate(mark);
            self.leaf(true);
        }
    }

    /// [`Self::item`]'s node as a map, to merge with another item's of the same key.
    fn item_map(
        &mut self,
        item: &'a Value,
        fields: Fields,
        ty: Option<Type>,
        depth: usize,
    ) -> Map<String, Value> {
        let start = self.out.len();
        self.item(item, fields, ty, depth);
        let written = self.out.split_off(start);
        // Invariant: `item` writes one JSON object.
        serde_json::from_slice(&written).unwrap_or_default()
    }

    /// A set list's node: `v:<item>` per distinct item, in order. Whether it has items.
    fn scalar_set(&mut self, items: &[Value]) -> bool {
        let mut steps: Vec<String> = items.iter().map(value_step).collect();
        steps.sort_unstable();
        steps.dedup();
        if steps.is_empty() {
            return false;
        }
        self.out.push(b'{');
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            push_escaped(self.out, step);
            self.out.extend_from_slice(b":{}");
        }
        self.out.push(b'}');
        true
    }
}

/// Whether serde_json escapes anything in `text` (quotes, backslashes, control characters).
fn needs_escape(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

/// `text` as a JSON string, as serde_json writes it.
fn push_escaped(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text) {
        // Invariant: a string always serializes into a Vec.
        serde_json::to_writer(&mut *out, text).expect("a string serializes");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// The value of a keyed list item's merge key. Found by a scan rather than `get`: items have
/// few fields, and the key's SipHash cost more than comparing their names.
fn merge_key_of<'v>(item: &'v Value, key: &str) -> Option<&'v Value> {
    let fields = item.as_object()?;
    fields
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, value)| value)
}

/// Whether `value` can own more than itself: a list, or an object with fields.
fn is_compound(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(map) => !map.is_empty(),
        _ => false,
    }
}

/// Puts `child` under `step`, merging with what is there (two list items with one key).
/// Through `entry`: one hash of the step, not a lookup and then an insert (SipHash of the
/// steps was a tenth of a create's CPU).
fn merge_child(node: &mut Map<String, Value>, step: String, child: Map<String, Value>) {
    match node.entry(step) {
        Entry::Occupied(mut slot) => match slot.get_mut() {
            Value::Object(existing) => merge_nodes(existing, child),
            // Replaced in place, as `insert` on a present key does.
            other => *other = Value::Object(child),
        },
        Entry::Vacant(slot) => {
            slot.insert(Value::Object(child));
        }
    }
}

/// Merges `from` into `into`, level by level (two list items with one key).
fn merge_nodes(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match value {
            Value::Object(grandchild) => merge_child(into, key, grandchild),
            other => {
                into.insert(key, other);
            }
        }
    }
}

/// Sorts every level's keys, the order the set of paths gives (bounded by [`MAX_DEPTH`]:
/// the tree is built no deeper).
fn sort_tree(node: &mut Map<String, Value>) {
    node.sort_keys();
    for child in node.values_mut() {
        if let Value::Object(map) = child {
            sort_tree(map);
        }
    }
}

/// The value at `path` in `object`, if there is one.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = object;
    for step in path {
        current = step_into(current, step)?;
    }
    Some(current)
}

fn step_into<'a>(value: &'a Value, step: &str) -> Option<&'a Value> {
    if step == "." {
        return Some(value);
    }
    if let Some(field) = step.strip_prefix("f:") {
        return value.get(field);
    }
    let items = value.as_array()?;
    if let Some(key) = step.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        return items
            .iter()
            .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)));
    }
    let wanted: Value = serde_json::from_str(step.strip_prefix("v:")?).ok()?;
    items.iter().find(|item| **item == wanted)
}

/// Removes the field or list item at `path` from `object` (nothing when absent).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|s| s.as_str() != ".").collect();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for step in parents {
        let next = match step_mut(current, step) {
            Some(next) => next,
            None => return,
        };
        current = next;
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Value::Object(map) = current {
            map.shift_remove(field);
        }
        return;
    }
    let Value::Array(items) = current else { return };
    let Some(index) = items.iter().position(|item| step_into_matches(item, last)) else {
        return;
    };
    items.remove(index);
}

fn step_mut<'a>(value: &'a mut Value, step: &str) -> Option<&'a mut Value> {
    if let Some(field) = step.strip_prefix("f:") {
        return value.get_mut(field);
    }
    let items = value.as_array_mut()?;
    items.iter_mut().find(|item| step_into_matches(item, step))
}

/// Whether a list item is the one a `k:` or `v:` step names.
fn step_into_matches(item: &Value, step: &str) -> bool {
    if let Some(key) = step.strip_prefix("k:") {
        return serde_json::from_str::<Map<String, Value>>(key)
            .is_ok_and(|key| key.iter().all(|(k, v)| item.get(k) == Some(v)));
    }
    step.strip_prefix("v:")
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .is_some_and(|wanted| *item == wanted)
}

/// The nested `fieldsV1` JSON of a set.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for step in path {
            let entry = node
                .entry(step.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(next) = entry else {
                unreachable!("every node is made an object")
            };
            node = next;
        }
    }
    Value::Object(root)
}

/// The set a `fieldsV1` JSON describes (its leaves; bounded in depth).
pub fn from_fields_v1(value: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    collect(value, &mut Vec::new(), &mut set);
    set
}

fn collect(value: &Value, path: &mut Path, set: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() && path.len() < MAX_DEPTH => {
            for (step, child) in map {
                path.push(step.clone());
                collect(child, path, set);
                path.pop();
            }
        }
        _ if !path.is_empty() => {
            set.insert(path.clone());
        }
        _ => {}
    }
}

/// A path as kube prints it in a conflict: `.spec.containers[name="web"].image`.
pub fn display(path: &[String]) -> String {
    let mut text = String::new();
    for step in path {
        if let Some(field) = step.strip_prefix("f:") {
            text.push('.');
            text.push_str(field);
        } else if let Some(key) = step.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(value) = step.strip_prefix("v:") {
            text.push_str(&format!("[={value}]"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> &'static Resource {
        kubesim_api::resources::lookup("", "v1", "pods").unwrap()
    }

    /// [`write_fields_v1`]'s JSON read back as a tree.
    fn fields_v1_of(resource: &Resource, object: &Value, status_only: bool) -> Value {
        let mut out = Vec::new();
        write_fields_v1(resource, object, status_only, &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn written_fields_v1_are_the_set_made_nested() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "uid": "u", "labels": {"app": "web", "tier": "x"},
                "annotations": {}, "finalizers": ["a", "b"], "ownerReferences": [{"kind": "X"}]},
            "spec": {"containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
                     "volumeMounts": [], "args": ["x"]},
                    {"name": "side", "resources": {"limits": {"cpu": "1"}}}],
                "initContainers": [],
                "volumes": [{"name": "v", "projected": {"sources": [{"configMap": {"name": "c"}}]}}],
                "nodeSelector": {"a": "b"}, "restartPolicy": "Always"},
            "status": {"phase": "Pending", "conditions": [{"type": "Ready"}]}});
        for status_only in [false, true] {
            let set = fields_of(pods(), &pod, status_only);
            assert_eq!(fields_v1_of(pods(), &pod, status_only), to_fields_v1(&set));
            assert_eq!(
                serde_json::to_string(&fields_v1_of(pods(), &pod, status_only)).unwrap(),
                serde_json::to_string(&to_fields_v1(&set)).unwrap(),
                "the same key order too"
            );
        }
        let only_server_meta = json!({"metadata": {"name": "p"}, "spec": {"containers": []}});
        assert_eq!(fields_v1_of(pods(), &only_server_meta, false), json!({}));
        assert_eq!(
            to_fields_v1(&fields_of(pods(), &only_server_meta, false)),
            json!({})
        );
    }

    /// [`write_fields_v1`] (and `fields_v1_of`, its tree) against the set of paths made
    /// nested and serialized (so in the same key order too), for every object and both
    /// halves of it; what `out` held before stays, and whether it owns anything is told.
    fn assert_same_as_the_set(object: &Value) {
        for status_only in [false, true] {
            let nested = to_fields_v1(&fields_of(pods(), object, status_only));
            let mut out = b"before".to_vec();
            let owns = write_fields_v1(pods(), object, status_only, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("before{}", serde_json::to_string(&nested).unwrap()),
                "{object} (status only: {status_only})"
            );
            assert_eq!(owns, nested.as_object().is_some_and(|m| !m.is_empty()));
            assert_eq!(fields_v1_of(pods(), object, status_only), nested);
        }
    }

    #[test]
    fn written_fields_v1_escape_keys_as_serde_json_does() {
        let odd_keys = json!({"metadata": {"name": "p",
                "labels": {"a\"b": "x", "tab\there": "", "back\\slash": "", "é/ü": "",
                    "\u{1}ctl": ""},
                "annotations": {"q\"": {"nested\"key": [1, "v\"w", {"o": 1}]}}},
            "spec": {"containers": [{"name": "a\"b", "image": "i"}, {"name": "c\nd"}],
                "volumes": [{"name": 7}, {"name": null}, {"name": {"x": "y"}}],
                "x\"y": {"z\\": "w"}}});
        assert_same_as_the_set(&odd_keys);
        let bench = kubesim_api::workload::bench_pod("ns", "p", "run");
        assert_same_as_the_set(&bench);
    }

    /// `{"a": {"a": ... value}}`, `depth` levels.
    fn nested(depth: usize, value: Value) -> Value {
        (0..depth).fold(value, |inner, _| json!({"a": inner}))
    }

    #[test]
    fn written_fields_v1_match_the_set_at_the_edges() {
        let duplicates = json!({"metadata": {"name": "p", "finalizers": ["b", "a", "b"],
                "labels": {}, "annotations": {"z": "", "a": ""}},
            "spec": {"nodeSelector": {},
                "containers": [
                    {"name": "w", "ports": [{"containerPort": 80}, {"containerPort": 443}],
                        "env": [{"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
                    {"name": "a", "image": "i"},
                    {"name": "w", "image": "j", "ports": [{"containerPort": 80, "name": "h"}],
                        "env": [{"name": "B", "valueFrom": {"secretKeyRef": {"key": "k"}}},
                            {"name": "A", "value": "1"}]}],
                "volumes": [{"name": "v"}, {"secret": {}}, {"name": "u"}],
                "initContainers": [{"image": "no name"}]},
            "status": {"conditions": [{"type": "B"}, {"type": "A"}, {"type": "B", "x": 1}],
                "phase": "P"}});
        assert_same_as_the_set(&duplicates);
        for depth in [MAX_DEPTH - 4, MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH + 5] {
            let keyed = json!([{"name": "c", "image": "i"}]);
            let deep = json!({"metadata": {"labels": nested(depth, json!("x"))},
                "spec": {"x": nested(depth, json!({"b": 1, "a": [1]})),
                    "containers": keyed.clone()},
                "status": nested(depth, keyed)});
            assert_same_as_the_set(&deep);
        }
        for odd in [
            json!({}),
            json!([]),
            json!({"metadata": "m", "spec": 1}),
            json!({"metadata": {}, "spec": {}, "status": {}}),
            json!({"metadata": {"name": "n"}, "spec": {"containers": []}}),
        ] {
            assert_same_as_the_set(&odd);
        }
    }

    #[test]
    fn steps_write_ids_as_serde_json_does() {
        let ids = [
            json!("web"),
            json!("/var/run/x"),
            json!("q\"b\\n\n\t\u{1}\u{7f}é/"),
            json!(8080),
            json!(-1),
            json!(1.5),
            json!(true),
            json!(null),
            json!({"a": [1]}),
        ];
        for id in ids {
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(keyed_step("name", &id), format!("k:{{\"name\":{json}}}"));
            assert_eq!(value_step(&id), format!("v:{json}"));
        }
    }

    #[test]
    fn keyed_lists_and_metadata_make_kubes_paths() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            "status": {"phase": "Pending"}});
        let set = fields_of(pods(), &pod, false);
        assert_eq!(
            to_fields_v1(&set),
            json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}}, "f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
        );
        assert_eq!(from_fields_v1(&to_fields_v1(&set)), set);
        let image = vec![
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"web\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(value_at(&pod, &image), Some(&json!("nginx")));
        assert_eq!(display(&image), ".spec.containers[name=\"web\"].image");
        let mut pod = pod;
        remove_at(&mut pod, &image);
        assert_eq!(pod["spec"]["containers"][0], json!({"name": "web"}));
        let finalizer = vec!["f:metadata".into(), "f:finalizers".into(), "v:\"a\"".into()];
        remove_at(&mut pod, &finalizer);
        assert_eq!(pod["metadata"]["finalizers"], json!([]));
    }
}
