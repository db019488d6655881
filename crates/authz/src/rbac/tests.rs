//! The RBAC authorizer end to end over stored objects: bindings of each kind, subjects of
//! each kind, the bootstrap policy, escalation, snapshot rebuilds, malformed objects.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use kubesim_api::user::UserInfo;
use serde_json::{Value, json};

use super::*;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn rbac(objects: RbacObjects) -> Rbac {
    Rbac::new(Arc::new(StaticRbacSource::new(objects)))
}

fn role(namespace: &str, name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
           "metadata": {"name": name, "namespace": namespace}, "rules": rules})
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": {"name": name}, "rules": rules})
}

fn role_binding(namespace: &str, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
           "metadata": {"name": name, "namespace": namespace},
           "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role},
           "subjects": subjects})
}

fn cluster_role_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": name},
           "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
           "subjects": subjects})
}

fn user(name: &str) -> Value {
    json!({"apiGroup": RBAC_GROUP, "kind": "User", "name": name})
}

fn group(name: &str) -> Value {
    json!({"apiGroup": RBAC_GROUP, "kind": "Group", "name": name})
}

fn service_account(namespace: &str, name: &str) -> Value {
    if namespace.is_empty() {
        return json!({"kind": "ServiceAccount", "name": name});
    }
    json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
}

fn pod_reader() -> Value {
    json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
}

fn request(who: &UserInfo, verb: &str, namespace: &str, group: &str, resource: &str) -> Attributes {
    Attributes {
        user: who.clone(),
        verb: verb.to_string(),
        resource_request: true,
        namespace: namespace.to_string(),
        api_group: group.to_string(),
        api_version: "v1".to_string(),
        resource: resource.to_string(),
        ..Attributes::default()
    }
}

fn path_request(who: &UserInfo, verb: &str, path: &str) -> Attributes {
    Attributes {
        user: who.clone(),
        verb: verb.to_string(),
        path: path.to_string(),
        ..Attributes::default()
    }
}

fn allowed(path: &str) -> Decision {
    Decision::new(DecisionKind::Allow, path, path)
}

fn jane() -> UserInfo {
    UserInfo::new("jane", &["dev", "system:authenticated"])
}

#[test]
fn role_binding_to_role_allows_in_its_namespace_only() {
    let rbac = rbac(RbacObjects {
        roles: vec![role("team-a", "pod-reader", pod_reader())],
        role_bindings: vec![role_binding(
            "team-a",
            "read-pods",
            "Role",
            "pod-reader",
            json!([user("jane")]),
        )],
        ..RbacObjects::default()
    });
    assert_eq!(
        rbac.decide(&request(&jane(), "list", "team-a", "", "pods")),
        allowed(
            r#"RBAC: allowed by RoleBinding "read-pods/team-a" of Role "pod-reader" to User "jane""#
        )
    );
    assert_eq!(
        rbac.decide(&request(&jane(), "list", "team-b", "", "pods")),
        Decision::no_opinion("")
    );
    assert_eq!(
        rbac.decide(&request(&jane(), "list", "", "", "pods")),
        Decision::no_opinion("")
    );
    assert_eq!(
        rbac.decide(&request(&jane(), "delete", "team-a", "", "pods")),
        Decision::no_opinion("")
    );
}

#[test]
fn role_binding_to_cluster_role_grants_only_in_that_namespace() {
    let rbac = rbac(RbacObjects {
        cluster_roles: vec![cluster_role("pod-reader", pod_reader())],
        role_bindings: vec![role_binding(
            "team-a",
            "read-pods",
            "ClusterRole",
            "pod-reader",
            json!([group("dev")]),
        )],
        ..RbacObjects::default()
    });
    assert_eq!(
        rbac.decide(&request(&jane(), "get", "team-a", "", "pods")),
        allowed(
            r#"RBAC: allowed by RoleBinding "read-pods/team-a" of ClusterRole "pod-reader" to Group "dev""#
        )
    );
    assert!(
        !rbac
            .decide(&request(&jane(), "get", "team-b", "", "pods"))
            .is_allowed()
    );
    // A cluster-wide list is not a list in team-a.
    assert!(
        !rbac
            .decide(&request(&jane(), "list", "", "", "pods"))
            .is_allowed()
    );
}

#[test]
fn cluster_role_binding_grants_in_every_namespace_and_cluster_wide() {
    let rbac = rbac(RbacObjects {
        cluster_roles: vec![cluster_role("pod-reader", pod_reader())],
        cluster_role_bindings: vec![cluster_role_binding(
            "readers",
            "pod-reader",
            json!([user("jane")]),
        )],
        ..RbacObjects::default()
    });
    let path = r#"RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "jane""#;
    for namespace in ["team-a", "kube-system", ""] {
        assert_eq!(
            rbac.decide(&request(&jane(), "list", namespace, "", "pods")),
            allowed(path)
        );
    }
}

#[test]
fn subjects_of_each_kind() {
    let rbac = rbac(RbacObjects {
        cluster_roles: vec![cluster_role("pod-reader", pod_reader())],
        role_bindings: vec![
            role_binding(
                "ns",
                "by-user",
                "ClusterRole",
                "pod-reader",
                json!([user("jane")]),
            ),
            role_binding(
                "ns",
                "by-group",
                "ClusterRole",
                "pod-reader",
                json!([group("ops")]),
            ),
            role_binding(
                "ns",
                "by-sa",
                "ClusterRole",
                "pod-reader",
                json!([service_account("", "builder")]),
            ),
            role_binding(
                "ns",
                "by-other-sa",
                "ClusterRole",
                "pod-reader",
                json!([service_account("ci", "runner")]),
            ),
            role_binding(
                "ns",
                "by-other-kind",
                "ClusterRole",
                "pod-reader",
                json!([{"kind": "Robot", "name": "r2"}]),
            ),
        ],
        cluster_role_bindings: vec![cluster_role_binding(
            "sa-without-namespace",
            "pod-reader",
            json!([service_account("", "builder")]),
        )],
        ..RbacObjects::default()
    });
    let decide =
        |who: UserInfo, namespace: &str| rbac.decide(&request(&who, "get", namespace, "", "pods"));
    let path = |binding: &str, subject: &str| {
        allowed(&format!(
            r#"RBAC: allowed by RoleBinding "{binding}/ns" of ClusterRole "pod-reader" to {subject}"#
        ))
    };
    assert_eq!(
        decide(UserInfo::new("jane", &[]), "ns"),
        path("by-user", r#"User "jane""#)
    );
    assert!(!decide(UserInfo::new("Jane", &[]), "ns").is_allowed());
    assert!(!decide(UserInfo::new("jane2", &[]), "ns").is_allowed());
    assert_eq!(
        decide(UserInfo::new("bob", &["ops"]), "ns"),
        path("by-group", r#"Group "ops""#)
    );
    // A ServiceAccount subject without a namespace is one of the RoleBinding's namespace.
    assert_eq!(
        decide(UserInfo::new("system:serviceaccount:ns:builder", &[]), "ns"),
        path("by-sa", r#"ServiceAccount "builder/ns""#)
    );
    assert_eq!(
        decide(UserInfo::new("system:serviceaccount:ci:runner", &[]), "ns"),
        path("by-other-sa", r#"ServiceAccount "runner/ci""#)
    );
    // Not the ServiceAccount of another namespace, nor a User of the same name; and in a
    // ClusterRoleBinding, a ServiceAccount without a namespace matches nobody.
    assert!(
        !decide(
            UserInfo::new("system:serviceaccount:other:builder", &[]),
            "other"
        )
        .is_allowed()
    );
    assert!(!decide(UserInfo::new("builder", &[]), "ns").is_allowed());
    assert!(!decide(UserInfo::new("r2", &[]), "ns").is_allowed());
}

#[test]
fn the_first_matching_subject_names_the_binding() {
    let rbac = rbac(RbacObjects {
        cluster_roles: vec![cluster_role("pod-reader", pod_reader())],
        cluster_role_bindings: vec![cluster_role_binding(
            "readers",
            "pod-reader",
            json!([user("bob"), group("dev"), user("jane")]),
        )],
        ..RbacObjects::default()
    });
    assert_eq!(
        rbac.decide(&request(&jane(), "get", "x", "", "pods")),
        allowed(
            r#"RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "dev""#
        )
    );
}

fn seed_scenario() -> Rbac {
    rbac(RbacObjects {
        roles: vec![role(
            "production",
            "deployer",
            json!([
                {"verbs": ["get", "list", "watch"], "apiGroups": ["apps"], "resources": ["deployments"]},
                {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}
            ]),
        )],
        role_bindings: vec![role_binding(
            "production",
            "deploy-bot",
            "Role",
            "deployer",
            json!([service_account("production", "deploy-bot")]),
        )],
        ..RbacObjects::default()
    })
}

#[test]
fn seed_scenario_deploy_bot_in_production() {
    let rbac = seed_scenario();
    let bot = UserInfo::new(
        "system:serviceaccount:production:deploy-bot",
        &[
            "system:serviceaccounts",
            "system:serviceaccounts:production",
            "system:authenticated",
        ],
    );
    let path = r#"RBAC: allowed by RoleBinding "deploy-bot/production" of Role "deployer" to ServiceAccount "deploy-bot/production""#;
    assert_eq!(
        rbac.decide(&request(&bot, "list", "production", "apps", "deployments")),
        allowed(path)
    );
    assert_eq!(
        rbac.decide(&request(&bot, "list", "production", "", "pods")),
        allowed(path)
    );
    let denied = [
        request(&bot, "delete", "production", "apps", "deployments"),
        request(&bot, "list", "", "", "nodes"),
        request(&bot, "list", "kube-system", "apps", "deployments"),
        request(&bot, "list", "production", "", "deployments"),
    ];
    for attributes in denied {
        assert_eq!(
            rbac.decide(&attributes),
            Decision::no_opinion(""),
            "{attributes:?}"
        );
    }
}

#[test]
fn non_resource_urls_are_granted_only_cluster_wide() {
    let urls = json!([{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}]);
    let via_role_binding = rbac(RbacObjects {
        cluster_roles: vec![cluster_role("metrics", urls.clone())],
        role_bindings: vec![role_binding(
            "ns",
            "metrics",
            "ClusterRole",
            "metrics",
            json!([user("jane")]),
        )],
        ..RbacObjects::default()
    });
    assert!(
        !via_role_binding
            .decide(&path_request(&jane(), "get", "/metrics"))
            .is_allowed()
    );
    let via_cluster_role_binding = rbac(RbacObjects {
        cluster_roles: vec![cluster_role("metrics", urls)],
        cluster_role_bindings: vec![cluster_role_binding(
            "metrics",
            "metrics",
            json!([user("jane")]),
        )],
        ..RbacObjects::default()
    });
    assert!(
        via_cluster_role_binding
            .decide(&path_request(&jane(), "get", "/metrics"))
            .is_allowed()
    );
    assert!(
        !via_cluster_role_binding
            .decide(&path_request(&jane(), "post", "/metrics"))
            .is_allowed()
    );
}

#[test]
fn unresolvable_roles_give_kubes_reason_and_do_not_block_other_bindings() {
    let objects = RbacObjects {
        cluster_roles: vec![cluster_role("pod-reader", pod_reader())],
        role_bindings: vec![
            role_binding(
                "ns",
                "a-missing-role",
                "Role",
                "gone",
                json!([user("jane")]),
            ),
            role_binding(
                "ns",
                "b-missing-cluster-role",
                "ClusterRole",
                "gone",
                json!([user("jane")]),
            ),
            role_binding("ns", "c-bad-kind", "Group", "x", json!([user("jane")])),
        ],
        ..RbacObjects::default()
    };
    let authorizer = rbac(objects.clone());
    assert_eq!(
        authorizer.decide(&request(&jane(), "get", "ns", "", "pods")),
        Decision::no_opinion(
            r#"RBAC: [role.rbac.authorization.k8s.io "gone" not found, clusterrole.rbac.authorization.k8s.io "gone" not found, unsupported role reference kind: "Group"]"#
        )
    );
    // Bindings that do not apply to the user are never resolved.
    assert_eq!(
        authorizer.decide(&request(
            &UserInfo::new("bob", &[]),
            "get",
            "ns",
            "",
            "pods"
        )),
        Decision::no_opinion("")
    );
    let mut with_grant = objects;
    with_grant.role_bindings.push(role_binding(
        "ns",
        "d-ok",
        "ClusterRole",
        "pod-reader",
        json!([user("jane")]),
    ));
    assert!(
        rbac(with_grant)
            .decide(&request(&jane(), "get", "ns", "", "pods"))
            .is_allowed()
    );
}

#[test]
fn rule_set_splits_resource_and_non_resource_rules() {
    let rbac = rbac(RbacObjects {
        cluster_roles: vec![cluster_role(
            "mixed",
            json!([
                {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/version"]}
            ]),
        )],
        cluster_role_bindings: vec![cluster_role_binding(
            "mixed",
            "mixed",
            json!([user("jane")]),
        )],
        role_bindings: vec![role_binding(
            "ns",
            "gone",
            "Role",
            "gone",
            json!([user("jane")]),
        )],
        ..RbacObjects::default()
    });
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        rbac.rule_set(&jane(), "ns"),
        RuleSet {
            resource_rules: vec![PolicyRule {
                verbs: strings(&["get"]),
                api_groups: strings(&[""]),
                resources: strings(&["pods"]),
                resource_names: strings(&["web"]),
                non_resource_urls: vec![],
            }],
            non_resource_rules: vec![PolicyRule {
                verbs: strings(&["get"]),
                non_resource_urls: strings(&["/healthz", "/version"]),
                ..PolicyRule::default()
            }],
            incomplete: false,
            evaluation_error: r#"role.rbac.authorization.k8s.io "gone" not found"#.to_string(),
        }
    );
    let (rules, errors) = rbac.rules_for_user(&jane(), "");
    assert_eq!((rules.len(), errors.len()), (2, 0));
}

#[tokio::test]
async fn implements_the_authorizer_trait() {
    let rbac = seed_scenario();
    assert_eq!(rbac.name(), "RBAC");
    let bot = UserInfo::new("system:serviceaccount:production:deploy-bot", &[]);
    let decision = rbac
        .authorize(&request(&bot, "watch", "production", "apps", "deployments"))
        .await;
    assert!(decision.is_allowed());
    let rules = rbac
        .rules_for(&bot, "production")
        .await
        .map(|set| set.resource_rules.len());
    assert_eq!(rules, Some(2));
}

fn bootstrap_with(role_bindings: Vec<Value>) -> Rbac {
    rbac(RbacObjects {
        role_bindings,
        ..RbacObjects::bootstrap()
    })
}

#[test]
fn bootstrap_masters_may_do_everything() {
    let rbac = bootstrap_with(vec![]);
    let admin = UserInfo::new(
        "kubernetes-admin",
        &["system:masters", "system:authenticated"],
    );
    let path = r#"RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters""#;
    assert_eq!(
        rbac.decide(&request(&admin, "delete", "", "", "nodes")),
        allowed(path)
    );
    assert_eq!(
        rbac.decide(&request(&admin, "escalate", "x", RBAC_GROUP, "roles")),
        allowed(path)
    );
    assert_eq!(
        rbac.decide(&path_request(&admin, "get", "/anything/at/all")),
        allowed(path)
    );
}

#[test]
fn bootstrap_authenticated_users_discover_and_review_themselves() {
    let rbac = bootstrap_with(vec![]);
    let who = UserInfo::new("jane", &["system:authenticated"]);
    assert_eq!(
        rbac.decide(&path_request(&who, "get", "/version")),
        allowed(
            r#"RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated""#
        )
    );
    assert!(
        rbac.decide(&path_request(&who, "get", "/apis/apps/v1"))
            .is_allowed()
    );
    assert_eq!(
        rbac.decide(&request(
            &who,
            "create",
            "",
            "authorization.k8s.io",
            "selfsubjectaccessreviews"
        )),
        allowed(
            r#"RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated""#
        )
    );
    assert!(
        rbac.decide(&request(
            &who,
            "create",
            "",
            "authorization.k8s.io",
            "selfsubjectrulesreviews"
        ))
        .is_allowed()
    );
    assert!(
        rbac.decide(&request(
            &who,
            "create",
            "",
            "authentication.k8s.io",
            "selfsubjectreviews"
        ))
        .is_allowed()
    );
    assert!(
        !rbac
            .decide(&request(&who, "list", "default", "", "pods"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&path_request(&who, "post", "/version"))
            .is_allowed()
    );
}

#[test]
fn bootstrap_anonymous_sees_only_public_info() {
    let rbac = bootstrap_with(vec![]);
    let anonymous = UserInfo::anonymous();
    for path in ["/healthz", "/version", "/livez", "/readyz"] {
        assert_eq!(
            rbac.decide(&path_request(&anonymous, "get", path)),
            allowed(
                r#"RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated""#
            ),
            "{path}"
        );
    }
    assert!(
        !rbac
            .decide(&path_request(&anonymous, "get", "/api"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&path_request(&anonymous, "get", "/healthz/etcd"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&request(
                &anonymous,
                "create",
                "",
                "authorization.k8s.io",
                "selfsubjectaccessreviews"
            ))
            .is_allowed()
    );
}

#[test]
fn bootstrap_view_cannot_read_secrets_and_edit_can() {
    let rbac = bootstrap_with(vec![
        role_binding(
            "dev",
            "viewers",
            "ClusterRole",
            "view",
            json!([user("viv")]),
        ),
        role_binding("dev", "editors", "ClusterRole", "edit", json!([user("ed")])),
        role_binding(
            "dev",
            "admins",
            "ClusterRole",
            "admin",
            json!([user("ada")]),
        ),
    ]);
    let viv = UserInfo::new("viv", &["system:authenticated"]);
    let ed = UserInfo::new("ed", &["system:authenticated"]);
    let ada = UserInfo::new("ada", &["system:authenticated"]);
    assert_eq!(
        rbac.decide(&request(&viv, "list", "dev", "", "pods")),
        allowed(
            r#"RBAC: allowed by RoleBinding "viewers/dev" of ClusterRole "view" to User "viv""#
        )
    );
    assert!(
        rbac.decide(&request(&viv, "watch", "dev", "apps", "deployments"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&request(&viv, "get", "dev", "", "secrets"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&request(&viv, "create", "dev", "", "pods"))
            .is_allowed()
    );
    assert!(
        rbac.decide(&request(&ed, "get", "dev", "", "secrets"))
            .is_allowed()
    );
    assert!(
        rbac.decide(&request(&ed, "create", "dev", "apps", "deployments"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&request(&ed, "create", "dev", RBAC_GROUP, "rolebindings"))
            .is_allowed()
    );
    assert!(
        rbac.decide(&request(&ada, "create", "dev", RBAC_GROUP, "rolebindings"))
            .is_allowed()
    );
    assert!(
        rbac.decide(&request(&ada, "delete", "dev", "", "configmaps"))
            .is_allowed()
    );
    assert!(
        !rbac
            .decide(&request(&ada, "get", "prod", "", "configmaps"))
            .is_allowed()
    );
}

fn get_pods() -> PolicyRule {
    PolicyRule {
        verbs: vec!["get".into()],
        api_groups: vec![String::new()],
        resources: vec!["pods".into()],
        ..PolicyRule::default()
    }
}

#[test]
fn confirm_no_escalation_checks_the_users_rules_in_the_namespace() {
    let rbac = bootstrap_with(vec![
        role_binding("dev", "editors", "ClusterRole", "edit", json!([user("ed")])),
        role_binding("dev", "broken", "Role", "gone", json!([user("ed")])),
    ]);
    let ed = UserInfo::new("ed", &["system:authenticated"]);
    assert_eq!(
        rbac.confirm_no_escalation(&ed, "dev", &[get_pods()]),
        Ok(())
    );
    let list_nodes = PolicyRule {
        verbs: vec!["list".into()],
        resources: vec!["nodes".into()],
        ..get_pods()
    };
    assert_eq!(
        rbac.confirm_no_escalation(&ed, "dev", &[get_pods(), list_nodes.clone()]),
        Err("user \"ed\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"list\"]}; \
             resolution errors: [role.rbac.authorization.k8s.io \"gone\" not found]"
            .to_string())
    );
    assert_eq!(
        rbac.confirm_no_escalation(&ed, "prod", &[get_pods()]),
        Err("user \"ed\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}"
            .to_string())
    );
}

#[test]
fn role_rules_resolve_a_role_ref() {
    let rbac = seed_scenario();
    let rules = rbac.role_rules(
        "production",
        &json!({"apiGroup": RBAC_GROUP, "kind": "Role", "name": "deployer"}),
    );
    assert_eq!(rules.map(|r| r.len()), Ok(2));
    assert_eq!(
        rbac.role_rules("staging", &json!({"kind": "Role", "name": "deployer"})),
        Err(r#"role.rbac.authorization.k8s.io "deployer" not found"#.to_string())
    );
    assert_eq!(
        rbac.role_rules("", &json!({"kind": "ClusterRole", "name": "view"})),
        Err(r#"clusterrole.rbac.authorization.k8s.io "view" not found"#.to_string())
    );
    assert_eq!(
        rbac.role_rules("", &json!("view")),
        Err("roleRef: must be an object".to_string())
    );
}

/// Counts how often the authorizer reads the objects.
#[derive(Default)]
struct CountingSource {
    generation: AtomicU64,
    reads: AtomicUsize,
}

impl RbacSource for CountingSource {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn objects(&self) -> RbacObjects {
        self.reads.fetch_add(1, Ordering::SeqCst);
        seed_objects()
    }
}

fn seed_objects() -> RbacObjects {
    RbacObjects {
        cluster_roles: vec![cluster_role("pod-reader", pod_reader())],
        cluster_role_bindings: vec![cluster_role_binding(
            "readers",
            "pod-reader",
            json!([user("jane")]),
        )],
        ..RbacObjects::default()
    }
}

#[test]
fn snapshot_is_rebuilt_when_the_generation_changes_and_only_then() {
    let source = Arc::new(CountingSource::default());
    let rbac = Rbac::new(source.clone());
    let get = request(&jane(), "get", "x", "", "pods");
    for _ in 0..3 {
        assert!(rbac.decide(&get).is_allowed());
    }
    let _ = rbac.rules_for_user(&jane(), "x");
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    source.generation.store(7, Ordering::SeqCst);
    assert!(rbac.decide(&get).is_allowed());
    assert!(rbac.decide(&get).is_allowed());
    assert_eq!(source.reads.load(Ordering::SeqCst), 2);
}

#[test]
fn static_source_set_changes_what_is_allowed() {
    let source = Arc::new(StaticRbacSource::new(RbacObjects::default()));
    let rbac = Rbac::new(source.clone());
    let get = request(&jane(), "get", "x", "", "pods");
    assert!(!rbac.decide(&get).is_allowed());
    let before = source.generation();
    source.set(seed_objects());
    assert_eq!(source.generation(), before + 1);
    assert!(rbac.decide(&get).is_allowed());
    source.set(RbacObjects::default());
    assert!(!rbac.decide(&get).is_allowed());
}

#[test]
fn malformed_objects_are_skipped_with_errors() {
    let mut objects = seed_objects();
    objects
        .cluster_roles
        .push(json!({"metadata": {"name": "bad-rules"}, "rules": [{"verbs": "get"}]}));
    objects.cluster_role_bindings.push(cluster_role_binding(
        "uses-bad",
        "bad-rules",
        json!([user("bob")]),
    ));
    objects
        .role_bindings
        .push(json!({"metadata": {"name": "bad-subjects", "namespace": "ns"}, "subjects": 5}));
    objects.roles.push(json!(["not", "an", "object"]));
    let rbac = rbac(objects);
    // Good bindings still work.
    assert!(
        rbac.decide(&request(&jane(), "get", "ns", "", "pods"))
            .is_allowed()
    );
    let bob = UserInfo::new("bob", &[]);
    assert_eq!(
        rbac.decide(&request(&bob, "get", "", "", "pods")),
        Decision::no_opinion(
            r#"RBAC: [a Role is malformed: object: must be an object, ClusterRole "bad-rules" is malformed: rules[0].verbs: must be a list of strings]"#
        )
    );
    assert_eq!(
        rbac.decide(&request(&bob, "get", "ns", "", "pods")),
        Decision::no_opinion(
            r#"RBAC: [a Role is malformed: object: must be an object, ClusterRole "bad-rules" is malformed: rules[0].verbs: must be a list of strings, RoleBinding "bad-subjects" in namespace "ns" is malformed: subjects: must be a list]"#
        )
    );
}

#[test]
fn aggregate_message_is_apimachinerys() {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(aggregate_message(&[]), "");
    assert_eq!(aggregate_message(&strings(&["a"])), "a");
    assert_eq!(aggregate_message(&strings(&["a", "a"])), "a");
    assert_eq!(aggregate_message(&strings(&["a", "b", "a"])), "[a, b]");
}
