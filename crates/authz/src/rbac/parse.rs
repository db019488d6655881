//! Reading stored RBAC objects: the fields RBAC evaluates, with Go's decoding rules (a
//! missing or `null` field is empty), and an error instead of a panic for anything of the
//! wrong JSON type.

use serde_json::{Map, Value};

use crate::PolicyRule;

/// kube's `RoleRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRef {
    pub api_group: String,
    pub kind: String,
    pub name: String,
}

/// kube's `Subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// A RoleBinding (namespace set) or a ClusterRoleBinding (namespace empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub namespace: String,
    pub role_ref: RoleRef,
    pub subjects: Vec<Subject>,
}

/// A Role or a ClusterRole: its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub namespace: String,
    pub rules: Vec<PolicyRule>,
}

/// `metadata.name` and `metadata.namespace` of a stored object.
pub fn name_and_namespace(object: &Value) -> Result<(String, String), String> {
    let object = as_object(object, "object")?;
    let empty = Map::new();
    let metadata = object_field(object, "metadata")?.unwrap_or(&empty);
    let name = string_field(metadata, "metadata.name")?;
    if name.is_empty() {
        return Err("metadata.name: must be set".to_string());
    }
    Ok((name, string_field(metadata, "metadata.namespace")?))
}

pub fn role(object: &Value) -> Result<Role, String> {
    let (name, namespace) = name_and_namespace(object)?;
    let rules = rules(as_object(object, "object")?.get("rules"))?;
    Ok(Role {
        name,
        namespace,
        rules,
    })
}

pub fn binding(object: &Value) -> Result<Binding, String> {
    let (name, namespace) = name_and_namespace(object)?;
    let fields = as_object(object, "object")?;
    let role_ref = role_ref(fields.get("roleRef").unwrap_or(&Value::Null))?;
    let subjects = array_field(fields, "subjects")?
        .iter()
        .enumerate()
        .map(|(i, subject)| self::subject(subject, i))
        .collect::<Result<_, _>>()?;
    Ok(Binding {
        name,
        namespace,
        role_ref,
        subjects,
    })
}

pub fn role_ref(value: &Value) -> Result<RoleRef, String> {
    if value.is_null() {
        return Ok(RoleRef::default());
    }
    let fields = as_object(value, "roleRef")?;
    Ok(RoleRef {
        api_group: string_field(fields, "roleRef.apiGroup")?,
        kind: string_field(fields, "roleRef.kind")?,
        name: string_field(fields, "roleRef.name")?,
    })
}

fn subject(value: &Value, index: usize) -> Result<Subject, String> {
    let path = format!("subjects[{index}]");
    let fields = as_object(value, &path)?;
    Ok(Subject {
        kind: string_field(fields, &format!("{path}.kind"))?,
        name: string_field(fields, &format!("{path}.name"))?,
        namespace: string_field(fields, &format!("{path}.namespace"))?,
    })
}

/// A role's `rules`; `null` or absent is none.
pub fn rules(value: Option<&Value>) -> Result<Vec<PolicyRule>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(items) = value.as_array() else {
        return Err("rules: must be a list".to_string());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, rule)| policy_rule(rule, &format!("rules[{i}]")))
        .collect()
}

fn policy_rule(value: &Value, path: &str) -> Result<PolicyRule, String> {
    let fields = as_object(value, path)?;
    let list = |key: &str| string_list(fields, key, path);
    Ok(PolicyRule {
        verbs: list("verbs")?,
        api_groups: list("apiGroups")?,
        resources: list("resources")?,
        resource_names: list("resourceNames")?,
        non_resource_urls: list("nonResourceURLs")?,
    })
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{path}: must be an object"))
}

fn object_field<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => as_object(value, key).map(Some),
    }
}

fn array_field<'a>(fields: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{key}: must be a list")),
    }
}

/// `path` names the field in errors; its last segment is the key.
fn string_field(fields: &Map<String, Value>, path: &str) -> Result<String, String> {
    let key = path.rsplit('.').next().unwrap_or(path);
    match fields.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(format!("{path}: must be a string")),
    }
}

fn string_list(fields: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>, String> {
    let wrong = || format!("{path}.{key}: must be a list of strings");
    match fields.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(wrong))
            .collect(),
        Some(_) => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_a_role_binding_as_go_decodes_it() {
        let object = json!({
            "metadata": {"name": "deploy-bot", "namespace": "production"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
            "subjects": [{"kind": "ServiceAccount", "name": "deploy-bot"}, {"kind": "User", "name": "jane", "namespace": null}]
        });
        assert_eq!(
            binding(&object),
            Ok(Binding {
                name: "deploy-bot".to_string(),
                namespace: "production".to_string(),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".to_string(),
                    kind: "Role".to_string(),
                    name: "deployer".to_string(),
                },
                subjects: vec![
                    Subject {
                        kind: "ServiceAccount".to_string(),
                        name: "deploy-bot".to_string(),
                        namespace: String::new(),
                    },
                    Subject {
                        kind: "User".to_string(),
                        name: "jane".to_string(),
                        namespace: String::new(),
                    },
                ],
            })
        );
    }

    #[test]
    fn null_and_absent_rules_are_none() {
        let null = json!({"metadata": {"name": "admin"}, "rules": null});
        assert_eq!(role(&null).map(|r| r.rules), Ok(Vec::new()));
        let absent = json!({"metadata": {"name": "admin"}});
        assert_eq!(role(&absent).map(|r| r.rules), Ok(Vec::new()));
    }

    #[test]
    fn wrong_types_are_errors_naming_the_field() {
        let cases = [
            (json!("role"), "object: must be an object"),
            (json!({"metadata": {}}), "metadata.name: must be set"),
            (
                json!({"metadata": {"name": 7}}),
                "metadata.name: must be a string",
            ),
            (json!({"metadata": []}), "metadata: must be an object"),
            (
                json!({"metadata": {"name": "r"}, "rules": {}}),
                "rules: must be a list",
            ),
            (
                json!({"metadata": {"name": "r"}, "rules": [{"verbs": "get"}]}),
                "rules[0].verbs: must be a list of strings",
            ),
            (
                json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}, 3]}),
                "rules[1]: must be an object",
            ),
        ];
        for (object, message) in cases {
            assert_eq!(role(&object), Err(message.to_string()), "{object}");
        }
        let bad_binding = json!({"metadata": {"name": "b"}, "roleRef": "admin"});
        assert_eq!(
            binding(&bad_binding),
            Err("roleRef: must be an object".to_string())
        );
        let bad_subject =
            json!({"metadata": {"name": "b"}, "subjects": [{"kind": "User", "name": ["jane"]}]});
        assert_eq!(
            binding(&bad_subject),
            Err("subjects[0].name: must be a string".to_string())
        );
    }
}
