//! `metav1.LabelSelector` objects (`{matchLabels, matchExpressions}`) as validation needs
//! them: apimachinery's `ValidateLabelSelector` (errors with field paths), and
//! `LabelSelectorAsSelector` (a selector that can be matched against a template's labels,
//! or the verdict that it cannot be built).
//!
//! Query-string selectors (`?labelSelector=`) are the business of [`crate::selectors`]; this
//! file only needs the object form and kube's exact validation wording.

use serde_json::Value;

use super::fields::{Errs, Obj, field_name_errors, forbidden, invalid, name_errors, required};
use crate::validation::{is_qualified_name, is_valid_label_value, validate_labels};

/// One requirement of a built selector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// The selector `LabelSelectorAsSelector` builds: `Nothing` for an absent selector (matches
/// no labels), `Everything` for `{}`, otherwise requirements that must all hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selector {
    Nothing,
    Everything,
    Requirements(Vec<Requirement>),
}

impl Selector {
    /// kube's `Selector.Empty()`: true only for the match-everything selector.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Selector::Everything)
    }

    /// Whether a set of labels (pairs as written) is selected.
    pub(crate) fn matches(&self, labels: &[(&str, &str)]) -> bool {
        let get = |key: &str| labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        match self {
            Selector::Nothing => false,
            Selector::Everything => true,
            Selector::Requirements(reqs) => reqs.iter().all(|r| match r {
                Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
                Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
                Requirement::Exists(k) => get(k).is_some(),
                Requirement::DoesNotExist(k) => get(k).is_none(),
            }),
        }
    }
}

/// `ValidateLabelSelector` with `AllowInvalidLabelValueInSelector: false`, for the selector
/// object `selector` (its path is the selector's field path).
pub(crate) fn validate(selector: &Obj, errs: &mut Errs) {
    if !selector.is_set() {
        return;
    }
    if let Some(labels) = selector.string_map("matchLabels", errs) {
        let path = selector.at_key("matchLabels");
        for (field, kind, value, detail) in validate_labels(labels, path.as_str()) {
            errs.push(crate::status::FieldError {
                field,
                kind,
                bad_value: value.unwrap_or(Value::Null),
                detail,
            });
        }
    }
    for expression in selector.objects("matchExpressions", errs) {
        validate_requirement(&expression, errs);
    }
}

fn validate_requirement(expression: &Obj, errs: &mut Errs) {
    let operator = expression.str("operator", errs).unwrap_or_default();
    let values = expression.strings("values", errs).unwrap_or_default();
    let values_path = expression.at_key("values");
    match operator {
        "In" | "NotIn" if values.is_empty() => errs.push(required(
            &values_path,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(forbidden(
            &values_path,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errs.push(invalid(
            &expression.at_key("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    let key = expression.str("key", errs).unwrap_or_default();
    field_name_errors(expression, "key", key, is_qualified_name(key), errs);
    for (i, value) in values {
        name_errors(
            &values_path.index(i),
            value,
            is_valid_label_value(value),
            errs,
        );
    }
}

/// `LabelSelectorAsSelector`: `Err` when kube could not build the selector (a bad key,
/// value or operator, values where none belong or none where some must be).
pub(crate) fn build(selector: &Obj) -> Result<Selector, ()> {
    if !selector.is_set() {
        return Ok(Selector::Nothing);
    }
    let mut ignored = Errs::new();
    let labels = selector.string_map("matchLabels", &mut ignored).ok_or(())?;
    let expressions = selector.objects("matchExpressions", &mut ignored);
    if !ignored.is_empty() {
        return Err(());
    }
    if labels.is_empty() && expressions.is_empty() {
        return Ok(Selector::Everything);
    }
    let mut reqs = Vec::with_capacity(labels.len() + expressions.len());
    for (key, value) in labels {
        check_key_and_values(key, &[value])?;
        reqs.push(Requirement::In(key.to_string(), vec![value.to_string()]));
    }
    for expression in expressions {
        reqs.push(requirement(&expression)?);
    }
    Ok(Selector::Requirements(reqs))
}

fn requirement(expression: &Obj) -> Result<Requirement, ()> {
    let mut ignored = Errs::new();
    let key = expression.str("key", &mut ignored).ok_or(())?;
    let operator = expression.str("operator", &mut ignored).ok_or(())?;
    let values: Vec<&str> = expression
        .strings("values", &mut ignored)
        .ok_or(())?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    if !ignored.is_empty() {
        return Err(());
    }
    check_key_and_values(key, &values)?;
    let owned = || values.iter().map(|v| v.to_string()).collect();
    match (operator, values.is_empty()) {
        ("In", false) => Ok(Requirement::In(key.to_string(), owned())),
        ("NotIn", false) => Ok(Requirement::NotIn(key.to_string(), owned())),
        ("Exists", true) => Ok(Requirement::Exists(key.to_string())),
        ("DoesNotExist", true) => Ok(Requirement::DoesNotExist(key.to_string())),
        _ => Err(()),
    }
}

fn check_key_and_values(key: &str, values: &[&str]) -> Result<(), ()> {
    let bad_value = values.iter().any(|v| !is_valid_label_value(v).is_empty());
    if !is_qualified_name(key).is_empty() || bad_value {
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(selector: Value) -> Vec<String> {
        let holder = json!({ "selector": selector });
        let mut errs = Errs::new();
        let root = Obj::root(&holder, &mut errs).unwrap();
        let sel = root.obj("selector", &mut errs).unwrap();
        validate(&sel, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    fn built(selector: Value) -> Result<Selector, ()> {
        let holder = json!({ "selector": selector });
        let mut errs = Errs::new();
        let root = Obj::root(&holder, &mut errs).unwrap();
        build(&root.obj("selector", &mut errs).unwrap())
    }

    #[test]
    fn validation_wording() {
        assert_eq!(
            errors(json!({"matchLabels": {"app": "web"}})),
            Vec::<String>::new()
        );
        assert_eq!(
            errors(json!({"matchExpressions": [
                {"key": "a", "operator": "In"},
                {"key": "b", "operator": "Exists", "values": ["x"]},
                {"key": "c", "operator": "Near", "values": ["bad value"]},
            ]})),
            vec![
                "selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                r#"selector.matchExpressions[2].operator: Invalid value: "Near": not a valid selector operator"#,
                r#"selector.matchExpressions[2].values[0]: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#,
            ]
        );
    }

    #[test]
    fn building_and_matching() {
        assert_eq!(built(Value::Null), Ok(Selector::Nothing));
        assert_eq!(built(json!({})), Ok(Selector::Everything));
        assert!(built(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})).is_err());
        assert!(built(json!({"matchLabels": {"a": "b c"}})).is_err());
        let sel = built(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
                {"key": "track", "operator": "Exists"},
            ]
        }))
        .unwrap();
        assert!(sel.matches(&[("app", "web"), ("track", "x")]));
        assert!(!sel.matches(&[("app", "web"), ("track", "x"), ("tier", "db")]));
        assert!(!sel.matches(&[("app", "web")]));
        assert!(!Selector::Nothing.matches(&[]));
        assert!(Selector::Everything.matches(&[]) && Selector::Everything.is_empty());
    }
}
