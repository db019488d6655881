//! The compiled form of one generation of RBAC objects: roles by namespace and name,
//! bindings by subject (User, Group, ServiceAccount), and kube's rule resolution over them
//! (`DefaultRuleResolver.VisitRulesFor`, `GetRoleReferenceRules`, `appliesTo`).

use std::collections::HashMap;
use std::fmt;
use std::ops::ControlFlow;

use kubesim_api::status::go_quote;
use kubesim_api::user::{UserInfo, service_account_username};
use serde_json::Value;

use super::parse::{self, Binding, RoleRef, Subject};
use super::source::RbacObjects;
use crate::PolicyRule;

/// What rule resolution meets, in kube's order.
pub enum Visit<'a> {
    /// A rule granted to the user, and the binding that grants it.
    Rule(BindingSource<'a>, &'a PolicyRule),
    /// A binding applies to the user but its role cannot be resolved, or a binding of the
    /// scope cannot be read.
    Error(String),
}

/// A binding and the first of its subjects that matched the user: kube's
/// `clusterRoleBindingDescriber` / `roleBindingDescriber`.
#[derive(Debug, Clone, Copy)]
pub struct BindingSource<'a> {
    pub binding: &'a Binding,
    pub subject: &'a Subject,
}

impl fmt::Display for BindingSource<'_> {
    /// `ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group
    /// "system:masters"`, or `RoleBinding "<name>/<namespace>" of Role "deployer" to …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let binding = self.binding;
        let (kind, name) = if binding.namespace.is_empty() {
            ("ClusterRoleBinding", binding.name.clone())
        } else {
            (
                "RoleBinding",
                format!("{}/{}", binding.name, binding.namespace),
            )
        };
        write!(
            f,
            "{kind} {} of {} {} to {}",
            go_quote(&name),
            binding.role_ref.kind,
            go_quote(&binding.role_ref.name),
            describe_subject(self.subject, &binding.namespace)
        )
    }
}

/// kube's `describeSubject`: a ServiceAccount is shown as `name/namespace`.
fn describe_subject(subject: &Subject, binding_namespace: &str) -> String {
    if subject.kind == "ServiceAccount" {
        let namespace = subject_namespace(subject, binding_namespace);
        let name = format!("{}/{namespace}", subject.name);
        return format!("{} {}", subject.kind, go_quote(&name));
    }
    format!("{} {}", subject.kind, go_quote(&subject.name))
}

/// A ServiceAccount subject without a namespace means one of the binding's namespace.
fn subject_namespace<'a>(subject: &'a Subject, binding_namespace: &'a str) -> &'a str {
    if subject.namespace.is_empty() {
        binding_namespace
    } else {
        &subject.namespace
    }
}

/// The bindings of one scope: the ClusterRoleBindings, or the RoleBindings of a namespace.
#[derive(Debug, Default)]
struct Scope {
    /// Sorted by name. kube visits bindings in its cache's order, which is unspecified; a
    /// fixed order keeps the decision path the same from one request to the next.
    bindings: Vec<Binding>,
    /// Positions in `bindings` of those with a `User` subject of that name.
    by_user: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
    /// Keyed by the ServiceAccount's username, `system:serviceaccount:<ns>:<name>`.
    by_service_account: HashMap<String, Vec<usize>>,
    /// Bindings of this scope that could not be read. They are reported to every request
    /// of the scope, as kube reports a binding list it could not get.
    errors: Vec<String>,
}

impl Scope {
    fn new(mut bindings: Vec<Binding>, errors: Vec<String>) -> Scope {
        bindings.sort_by(|a, b| a.name.cmp(&b.name));
        let mut scope = Scope {
            errors,
            ..Scope::default()
        };
        for (position, binding) in bindings.iter().enumerate() {
            for subject in &binding.subjects {
                scope.index(position, subject, &binding.namespace);
            }
        }
        scope.bindings = bindings;
        scope
    }

    fn index(&mut self, position: usize, subject: &Subject, binding_namespace: &str) {
        let (map, key) = match subject.kind.as_str() {
            "User" => (&mut self.by_user, subject.name.clone()),
            "Group" => (&mut self.by_group, subject.name.clone()),
            "ServiceAccount" => {
                let namespace = subject_namespace(subject, binding_namespace);
                if namespace.is_empty() {
                    return;
                }
                let username = service_account_username(namespace, &subject.name);
                (&mut self.by_service_account, username)
            }
            _ => return,
        };
        map.entry(key).or_default().push(position);
    }

    /// Positions of the bindings with a subject that applies to `user`, in order.
    fn candidates(&self, user: &UserInfo) -> Vec<usize> {
        let mut found = Vec::new();
        let lists = [
            self.by_user.get(&user.username),
            self.by_service_account.get(&user.username),
        ]
        .into_iter()
        .chain(user.groups.iter().map(|group| self.by_group.get(group)));
        for positions in lists.flatten() {
            found.extend_from_slice(positions);
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// kube's `appliesToUser`.
fn applies_to_user(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.username == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let namespace = subject_namespace(subject, binding_namespace);
            !namespace.is_empty()
                && user.username == service_account_username(namespace, &subject.name)
        }
        _ => false,
    }
}

/// One generation of RBAC objects, compiled.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Roles by namespace, then name; a role that could not be read holds its error, which
    /// a binding referring to it reports.
    roles: HashMap<String, HashMap<String, RoleRules>>,
    cluster_roles: HashMap<String, RoleRules>,
    cluster: Scope,
    namespaces: HashMap<String, Scope>,
}

impl Snapshot {
    /// Compiles the objects; an object that cannot be read is skipped and its error kept
    /// where rule resolution will report it.
    pub fn compile(objects: &RbacObjects) -> Snapshot {
        let mut cluster_errors = Vec::new();
        let mut roles: HashMap<String, HashMap<String, RoleRules>> = HashMap::new();
        for (namespace, name, rules) in compile_roles(&objects.roles, true, &mut cluster_errors) {
            roles.entry(namespace).or_default().insert(name, rules);
        }
        let cluster_roles = compile_roles(&objects.cluster_roles, false, &mut cluster_errors)
            .into_iter()
            .map(|(_, name, rules)| (name, rules))
            .collect();
        let mut cluster_bindings = Vec::new();
        for object in &objects.cluster_role_bindings {
            match parse::binding(object) {
                Ok(binding) => cluster_bindings.push(Binding {
                    namespace: String::new(),
                    ..binding
                }),
                Err(error) => cluster_errors.push(malformed("ClusterRoleBinding", object, &error)),
            }
        }
        let namespaces = compile_role_bindings(&objects.role_bindings, &mut cluster_errors);
        Snapshot {
            roles,
            cluster_roles,
            cluster: Scope::new(cluster_bindings, cluster_errors),
            namespaces,
        }
    }

    /// kube's `VisitRulesFor`: the rules of every ClusterRoleBinding that applies to `user`,
    /// then, when `namespace` is set, of every RoleBinding of that namespace that does, and
    /// the errors met on the way; stops when `visitor` breaks.
    pub fn visit_rules_for<'a>(
        &'a self,
        user: &UserInfo,
        namespace: &str,
        visitor: &mut dyn FnMut(Visit<'a>) -> ControlFlow<()>,
    ) {
        if self.visit_scope(&self.cluster, user, visitor).is_break() || namespace.is_empty() {
            return;
        }
        if let Some(scope) = self.namespaces.get(namespace) {
            let _ = self.visit_scope(scope, user, visitor);
        }
    }

    fn visit_scope<'a>(
        &'a self,
        scope: &'a Scope,
        user: &UserInfo,
        visitor: &mut dyn FnMut(Visit<'a>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        for error in &scope.errors {
            visitor(Visit::Error(error.clone()))?;
        }
        for position in scope.candidates(user) {
            let Some(binding) = scope.bindings.get(position) else {
                continue;
            };
            let namespace = &binding.namespace;
            let subjects = &binding.subjects;
            let Some(subject) = subjects
                .iter()
                .find(|s| applies_to_user(user, s, namespace))
            else {
                continue;
            };
            match self.role_ref_rules(&binding.role_ref, namespace) {
                Ok(rules) => {
                    let source = BindingSource { binding, subject };
                    for rule in rules {
                        visitor(Visit::Rule(source, rule))?;
                    }
                }
                Err(error) => visitor(Visit::Error(error))?,
            }
        }
        ControlFlow::Continue(())
    }

    /// kube's `GetRoleReferenceRules`: a `Role` of the binding's namespace or a
    /// `ClusterRole`, with the lister's not-found messages.
    pub fn role_ref_rules(
        &self,
        role_ref: &RoleRef,
        binding_namespace: &str,
    ) -> Result<&[PolicyRule], String> {
        let found = match role_ref.kind.as_str() {
            "Role" => self
                .roles
                .get(binding_namespace)
                .and_then(|roles| roles.get(&role_ref.name)),
            "ClusterRole" => self.cluster_roles.get(&role_ref.name),
            other => {
                return Err(format!(
                    "unsupported role reference kind: {}",
                    go_quote(other)
                ));
            }
        };
        match found {
            Some(Ok(rules)) => Ok(rules),
            Some(Err(error)) => Err(error.clone()),
            None => Err(format!(
                "{}.rbac.authorization.k8s.io {} not found",
                role_ref.kind.to_lowercase(),
                go_quote(&role_ref.name)
            )),
        }
    }
}

/// A role's rules, or why it could not be read.
type RoleRules = Result<Vec<PolicyRule>, String>;

/// Roles (`namespaced`) or ClusterRoles (namespace empty), as (namespace, name, rules).
fn compile_roles(
    objects: &[Value],
    namespaced: bool,
    cluster_errors: &mut Vec<String>,
) -> Vec<(String, String, RoleRules)> {
    let kind = if namespaced { "Role" } else { "ClusterRole" };
    let mut roles = Vec::with_capacity(objects.len());
    for object in objects {
        let key = match parse::name_and_namespace(object) {
            Ok((_, namespace)) if namespaced && namespace.is_empty() => {
                Err("metadata.namespace: must be set".to_string())
            }
            Ok((name, namespace)) if namespaced => Ok((namespace, name)),
            Ok((name, _)) => Ok((String::new(), name)),
            Err(error) => Err(error),
        };
        let (namespace, name) = match key {
            Ok(key) => key,
            Err(error) => {
                cluster_errors.push(malformed(kind, object, &error));
                continue;
            }
        };
        let rules = parse::role(object)
            .map(|role| role.rules)
            .map_err(|error| malformed(kind, object, &error));
        roles.push((namespace, name, rules));
    }
    roles
}

/// RoleBindings by namespace. One that cannot be read is reported to requests in its
/// namespace, or to every request when even its namespace cannot be read.
fn compile_role_bindings(
    objects: &[Value],
    cluster_errors: &mut Vec<String>,
) -> HashMap<String, Scope> {
    let mut bindings: HashMap<String, (Vec<Binding>, Vec<String>)> = HashMap::new();
    for object in objects {
        let error = match parse::binding(object) {
            Ok(binding) if !binding.namespace.is_empty() => {
                let scope = bindings.entry(binding.namespace.clone()).or_default();
                scope.0.push(binding);
                continue;
            }
            Ok(_) => "metadata.namespace: must be set".to_string(),
            Err(error) => error,
        };
        let message = malformed("RoleBinding", object, &error);
        match parse::name_and_namespace(object) {
            Ok((_, namespace)) if !namespace.is_empty() => {
                bindings.entry(namespace).or_default().1.push(message);
            }
            _ => cluster_errors.push(message),
        }
    }
    bindings
        .into_iter()
        .map(|(namespace, (list, errors))| (namespace, Scope::new(list, errors)))
        .collect()
}

/// `RoleBinding "name" in namespace "ns" is malformed: <error>`, logged once per compile.
fn malformed(kind: &str, object: &Value, error: &str) -> String {
    let message = match parse::name_and_namespace(object) {
        Ok((name, namespace)) if !namespace.is_empty() => format!(
            "{kind} {} in namespace {} is malformed: {error}",
            go_quote(&name),
            go_quote(&namespace)
        ),
        Ok((name, _)) => format!("{kind} {} is malformed: {error}", go_quote(&name)),
        Err(_) => format!("a {kind} is malformed: {error}"),
    };
    tracing::warn!(%message, "skipping an RBAC object");
    message
}
