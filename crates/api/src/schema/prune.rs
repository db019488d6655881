//! What kube-apiserver's round trip through its Go structs does to a JSON object, done on the
//! JSON: fields the schema does not know are dropped (in every `fieldValidation` mode; Strict
//! and Warn only decide whether the client hears of them first), and so are the zero values
//! Go's `omitempty` leaves out of the JSON it writes back — an empty `labels: {}` after the
//! last label is removed, `generateName: ""`, a `null` list. Zero values of fields Go holds
//! by pointer or writes without `omitempty` (`replicas: 0`, `port`) stay, as do empty structs
//! (`securityContext: {}`), which Go always writes.

use serde_json::Value;

use super::{Field, Type, TypeDef, kind_type};
use crate::resources::Resource;

/// Deepest nesting walked; deeper values are left as they are.
const MAX_DEPTH: usize = 64;

/// Lists and maps whose Go JSON tag has no `omitempty`: an empty one stays (`containers`,
/// a role's `rules`, a rule's `verbs`, a projected volume's `sources`, a webhook's
/// `admissionReviewVersions`).
const KEPT_WHEN_EMPTY: [&str; 5] = [
    "containers",
    "rules",
    "verbs",
    "sources",
    "admissionReviewVersions",
];

/// Drops unknown fields and omitted zero values from a whole object of `resource`'s kind.
/// Nothing happens for a kind the schema does not describe.
pub fn prune(resource: &Resource, object: &mut Value) {
    if let Some(def) = kind_type(resource) {
        prune_object(def, object, 0);
    }
}

fn prune_object(def: &'static TypeDef, value: &mut Value, depth: usize) {
    let Value::Object(map) = value else { return };
    if def.open || depth > MAX_DEPTH {
        return;
    }
    map.retain(|key, item| match def.field(key) {
        None => false,
        Some(field) => {
            prune_value(&field.ty, item, depth + 1);
            !omitted(field, item)
        }
    });
}

fn prune_value(ty: &'static Type, value: &mut Value, depth: usize) {
    match (ty, value) {
        (Type::Object(def), value) => prune_object(def, value, depth),
        (Type::Array(inner), Value::Array(items)) => {
            for item in items {
                prune_value(inner, item, depth + 1);
            }
        }
        (Type::Map(inner), Value::Object(map)) => {
            for item in map.values_mut() {
                prune_value(inner, item, depth + 1);
            }
        }
        _ => {}
    }
}

/// Whether Go's JSON would leave `value` of `field` out.
fn omitted(field: &Field, value: &Value) -> bool {
    let empty_collection = match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty() && !matches!(field.ty, Type::Object(_)),
        _ => false,
    };
    if empty_collection {
        return !KEPT_WHEN_EMPTY.contains(&field.name);
    }
    let zero = match value {
        Value::String(text) => text.is_empty(),
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        _ => false,
    };
    zero && !field.proto.keeps_zero && is_scalar(&field.ty)
}

fn is_scalar(ty: &Type) -> bool {
    !matches!(ty, Type::Object(_) | Type::Array(_) | Type::Map(_))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lookup(plural: &str) -> &'static Resource {
        crate::resources::RESOURCES
            .iter()
            .find(|r| r.plural == plural)
            .unwrap()
    }

    #[test]
    fn unknown_fields_and_empty_maps_go_pointer_zeros_stay() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {}, "generateName": "", "bogus": 1},
            "data": {"a": "1"}, "bogus": 1});
        prune(lookup("configmaps"), &mut cm);
        assert_eq!(
            cm,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                "data": {"a": "1"}})
        );
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [], "securityContext": {}, "nodeSelector": {}}}}});
        prune(lookup("deployments"), &mut deploy);
        assert_eq!(deploy["spec"]["replicas"], json!(0));
        assert_eq!(
            deploy["spec"]["template"]["spec"],
            json!({"containers": [], "securityContext": {}})
        );
        let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r"}, "rules": []});
        prune(lookup("roles"), &mut role);
        assert_eq!(role["rules"], json!([]));
    }
}
