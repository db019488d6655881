use serde_json::json;

use super::*;
use crate::Operation;
use crate::webhook::matching::tests::{attrs, resource};

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "containers": [{"name": "web", "image": "registry.example/web:1.2"}]},
    })
}

fn create() -> Attributes {
    attrs(resource("", "pods"), "", Operation::Create, "default")
}

/// One condition against a CREATE of [`pod`].
fn eval(expression: &str) -> MatchOutcome {
    evaluate(&[compile("c", expression)], &create(), Some(&pod()))
}

fn error(expression: &str, detail: &str) -> MatchOutcome {
    MatchOutcome::Error(format!(
        "expression '{expression}' resulted in error: {detail}"
    ))
}

#[test]
fn true_false_and_no_conditions() {
    assert_eq!(eval("true"), MatchOutcome::Match);
    assert_eq!(eval("false"), MatchOutcome::NoMatch);
    assert_eq!(eval("object.spec.replicas == 3"), MatchOutcome::Match);
    assert_eq!(eval("object.spec.replicas > 3"), MatchOutcome::NoMatch);
    assert_eq!(evaluate(&[], &create(), None), MatchOutcome::Match);
}

#[test]
fn a_result_that_is_not_a_bool_is_an_error() {
    assert_eq!(eval("1"), error("1", "must evaluate to bool but got int"));
    assert_eq!(
        eval("'yes'"),
        error("'yes'", "must evaluate to bool but got string")
    );
    assert_eq!(
        eval("object.metadata.labels"),
        error(
            "object.metadata.labels",
            "must evaluate to bool but got map"
        )
    );
}

#[test]
fn evaluation_errors_name_the_expression() {
    assert_eq!(
        eval("object.metadata.annotations.x == 'y'"),
        error(
            "object.metadata.annotations.x == 'y'",
            "no such key: annotations"
        )
    );
    assert!(
        matches!(eval("1 / 0 == 1"), MatchOutcome::Error(e) if e.starts_with("expression '1 / 0 == 1' resulted in error: "))
    );
}

#[test]
fn has_tests_presence() {
    assert_eq!(eval("has(object.metadata.labels)"), MatchOutcome::Match);
    assert_eq!(
        eval("has(object.metadata.annotations)"),
        MatchOutcome::NoMatch
    );
    assert_eq!(
        eval("!has(object.metadata.labels) || object.metadata.labels.app == 'web'"),
        MatchOutcome::Match
    );
}

#[test]
fn regex_matches() {
    assert_eq!(
        eval("object.spec.containers.all(c, c.image.matches('^registry\\\\.example/'))"),
        MatchOutcome::Match
    );
    assert_eq!(
        eval("object.metadata.name.matches('^db-[0-9]+$')"),
        MatchOutcome::NoMatch
    );
    assert!(matches!(eval("'x'.matches('(')"), MatchOutcome::Error(_)));
}

#[test]
fn strings_extension_as_kube_has_it() {
    assert_eq!(
        eval("object.metadata.name.upperAscii() == 'WEB'"),
        MatchOutcome::Match
    );
}

#[test]
fn old_object_and_object_are_null_when_absent() {
    assert_eq!(eval("oldObject == null"), MatchOutcome::Match);
    let mut delete = attrs(resource("", "pods"), "", Operation::Delete, "default");
    delete.old_object = Some(pod());
    let conditions = [compile(
        "c",
        "object == null && oldObject.metadata.name == 'web'",
    )];
    assert_eq!(evaluate(&conditions, &delete, None), MatchOutcome::Match);
    assert_eq!(
        evaluate(&[compile("c", "namespaceObject == null")], &delete, None),
        MatchOutcome::Match
    );
}

#[test]
fn request_fields() {
    let mut attrs = attrs(resource("", "pods"), "status", Operation::Update, "default");
    attrs.dry_run = true;
    attrs.options =
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions", "fieldManager": "kubectl"});
    Arc::make_mut(&mut attrs.user).uid = "u-1".to_string();
    Arc::make_mut(&mut attrs.user)
        .extra
        .insert("scopes".to_string(), vec!["read".to_string()]);
    let truths = [
        "request.kind == {'group': '', 'version': 'v1', 'kind': 'Pod'}",
        "request.resource.resource == 'pods' && request.resource.version == 'v1' && request.resource.group == ''",
        "request.subResource == 'status' && request.requestSubResource == 'status'",
        "request.requestKind.kind == 'Pod' && request.requestResource.resource == 'pods'",
        "request.name == 'web' && request.namespace == 'default'",
        "request.operation == 'UPDATE'",
        "request.userInfo.username == 'alice' && request.userInfo.uid == 'u-1'",
        "'devs' in request.userInfo.groups && request.userInfo.groups.exists(g, g.startsWith('system:'))",
        "request.userInfo.extra.scopes == ['read']",
        "request.dryRun",
        "request.options.fieldManager == 'kubectl'",
        "!has(request.uid) && !has(request.object) && !has(request.oldObject)",
    ];
    for expression in truths {
        let conditions = [compile("c", expression)];
        assert_eq!(
            evaluate(&conditions, &attrs, Some(&pod())),
            MatchOutcome::Match,
            "{expression}"
        );
    }
}

#[test]
fn empty_request_fields_are_left_out() {
    let mut attrs = attrs(resource("", "nodes"), "", Operation::Create, "");
    attrs.name = String::new();
    let conditions = [compile(
        "c",
        "!has(request.subResource) && !has(request.namespace) && !has(request.name) && !has(request.options) && request.dryRun == false",
    )];
    assert_eq!(
        evaluate(&conditions, &attrs, Some(&pod())),
        MatchOutcome::Match
    );
}

#[test]
fn a_subresource_of_another_kind_is_named_by_its_kind() {
    let attrs = attrs(
        resource("", "serviceaccounts"),
        "token",
        Operation::Create,
        "default",
    );
    let request = request(&attrs);
    assert_eq!(
        request["kind"],
        json!({"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"})
    );
    assert_eq!(
        request["resource"],
        json!({"group": "", "version": "v1", "resource": "serviceaccounts"})
    );
}

#[test]
fn false_beats_errors_in_any_order() {
    let attrs = create();
    let broken = compile("broken", "object.nope == 1");
    let no = compile("no", "false");
    let yes = compile("yes", "true");
    for conditions in [
        vec![broken.clone(), no.clone()],
        vec![no.clone(), broken.clone()],
        vec![yes.clone(), broken.clone(), no.clone()],
    ] {
        assert_eq!(
            evaluate(&conditions, &attrs, Some(&pod())),
            MatchOutcome::NoMatch
        );
    }
    assert_eq!(
        evaluate(&[yes.clone(), broken.clone()], &attrs, Some(&pod())),
        error("object.nope == 1", "no such key: nope")
    );
}

#[test]
fn several_errors_are_aggregated_as_kube_does() {
    let one = compile("one", "object.a == 1");
    let two = compile("two", "object.b == 1");
    let outcome = evaluate(&[one.clone(), two, one], &create(), Some(&pod()));
    assert_eq!(
        outcome,
        MatchOutcome::Error(
            "[expression 'object.a == 1' resulted in error: no such key: a, expression 'object.b == 1' resulted in error: no such key: b]"
                .to_string()
        )
    );
}

#[test]
fn a_condition_that_does_not_compile_fails_each_evaluation() {
    let condition = compile("bad", "object.metadata.name ==");
    let Err(compile_error) = &condition.program else {
        panic!("compiled: {condition:?}");
    };
    assert!(
        compile_error.starts_with("compilation failed: "),
        "{compile_error}"
    );
    assert_eq!(
        evaluate(std::slice::from_ref(&condition), &create(), Some(&pod())),
        MatchOutcome::Error(format!("compilation error: {compile_error}"))
    );
    // A false condition still skips the webhook.
    assert_eq!(
        evaluate(
            &[condition, compile("no", "false")],
            &create(),
            Some(&pod())
        ),
        MatchOutcome::NoMatch
    );
}

#[test]
fn authorizer_is_not_supported() {
    for expression in [
        "authorizer.group('').resource('pods').check('get').allowed()",
        "authorizer.requestResource.check('get').allowed()",
    ] {
        let condition = compile("authz", expression);
        assert_eq!(
            condition.program.as_ref().err().map(String::as_str),
            Some("compilation failed: the 'authorizer' variable is not supported by kubesim"),
            "{expression}"
        );
        assert!(matches!(
            evaluate(&[condition], &create(), Some(&pod())),
            MatchOutcome::Error(e) if e.contains("not supported by kubesim")
        ));
    }
}

#[test]
fn expressions_are_bounded_in_size() {
    // Code points, not bytes: 'é' is two bytes, one code point.
    let at_limit = "é".repeat(MAX_EXPRESSION_CODE_POINTS);
    assert_eq!(check_size(&at_limit), Ok(()));
    let long = format!("'{}' == ''", "a".repeat(MAX_EXPRESSION_CODE_POINTS));
    let condition = compile("long", &long);
    assert_eq!(
        condition.program.err(),
        Some(format!(
            "compilation failed: expression code point size exceeds limit: size: {}, limit {MAX_EXPRESSION_CODE_POINTS}",
            MAX_EXPRESSION_CODE_POINTS + 8
        ))
    );
}

#[test]
fn numbers_are_ints_when_they_fit() {
    assert_eq!(to_cel(&json!(3), 0), Ok(CelValue::Int(3)));
    assert_eq!(to_cel(&json!(1.5), 0), Ok(CelValue::Float(1.5)));
    assert_eq!(
        to_cel(&json!(u64::MAX), 0),
        Ok(CelValue::Float(u64::MAX as f64))
    );
    assert_eq!(eval("object.spec.replicas + 1 == 4"), MatchOutcome::Match);
}

#[test]
fn objects_nested_too_deep_are_refused() {
    let mut deep = json!(1);
    for _ in 0..=MAX_VALUE_DEPTH {
        deep = json!([deep]);
    }
    assert!(to_cel(&deep, 0).is_err());
    assert!(matches!(
        evaluate(&[compile("c", "true")], &create(), Some(&deep)),
        MatchOutcome::Error(e) if e.contains("nests deeper")
    ));
}
