//! matchConditions: the CEL expressions that narrow a webhook to the requests it wants
//! (kube's `k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions` over
//! `.../admission/plugin/cel`), evaluated with cel-rust.
//!
//! A condition is compiled once, with its configuration ([`compile`]), and evaluated per
//! request ([`evaluate`]) with kube's variables: `object` and `oldObject` (null when absent),
//! `request` (the AdmissionRequest as kube hands it to CEL: no `uid`, `object` or
//! `oldObject`) and `namespaceObject` (declared by kube's environment, null for webhooks).
//! The environment is CEL's standard library with kube's `ext.Strings` and optional syntax.
//!
//! kube's rules: every condition true → call the webhook; any false → skip it, even if
//! others failed; otherwise the failures, aggregated as kube words them.
//!
//! Where cel-rust cannot do what cel-go does for kube:
//! - No type checker: what kube refuses when compiling (an unknown variable, a result that is
//!   not a bool) is an evaluation error here, with the same consequence at call time.
//! - `authorizer` (and `authorizer.requestResource`) is not supported: an expression naming
//!   it keeps a compile error, so every evaluation fails with a message that says so.
//! - No cost tracking: kube stops an expression past its runtime cost budget
//!   (`PerCallLimit`, and `RuntimeCELCostBudgetMatchConditions` for all of a webhook's
//!   conditions); cel-rust cannot. What is bounded: the expression's size (cel-go's
//!   100,000 code points), the parser's nesting depth (cel-rust's 96), the depth of the
//!   objects handed in, and the inputs themselves (request bodies are capped). What is not:
//!   the work of nested comprehensions over large lists, which can be quadratic or worse
//!   in the object's size.
//! - Panics inside cel-rust are caught and reported as that condition's error.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use ::cel::objects::{Key, Map};
use ::cel::{Context, Env, ExecutionError, Program, Value as CelValue};
use kubesim_api::resources::subresource;
use serde_json::{Value, json};

use super::MatchCondition;
use super::matching::MatchOutcome;
use crate::Attributes;

/// cel-go's default `ParserExpressionSizeCodePointLimit`, which kube keeps.
pub const MAX_EXPRESSION_CODE_POINTS: usize = 100_000;
/// How deep an object handed to CEL may nest. Bodies are parsed with serde_json's limit of
/// 128; this only guards objects built in process.
const MAX_VALUE_DEPTH: usize = 512;
/// The variable kube binds to a CEL authorizer; kubesim has none to offer.
const AUTHORIZER: &str = "authorizer";

/// One environment for every condition: CEL's standard library and kube's `ext.Strings`.
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        if let Err(e) = env.add_extension(::cel::extensions::strings) {
            // Only a bug in cel-rust's own declarations can get here; the standard library
            // alone still serves.
            tracing::error!(error = %e, "CEL strings extension not available");
        }
        Arc::new(env)
    })
}

/// Compiles one `matchConditions[]` entry. A condition that does not compile keeps its
/// error: it fails each evaluation (kube's "compilation error: ...").
pub fn compile(name: &str, expression: &str) -> MatchCondition {
    MatchCondition {
        name: name.to_string(),
        expression: expression.to_string(),
        program: compile_program(expression).map(Arc::new),
    }
}

fn compile_program(expression: &str) -> Result<Program, String> {
    check_size(expression)?;
    let parsed = catch_unwind(|| env().compile(expression))
        .map_err(|_| "compilation failed: the CEL parser failed unexpectedly".to_string())?;
    let program = parsed.map_err(|e| format!("compilation failed: {e}"))?;
    if program.references().has_variable(AUTHORIZER) {
        return Err(format!(
            "compilation failed: the '{AUTHORIZER}' variable is not supported by kubesim"
        ));
    }
    Ok(program)
}

/// cel-go's parser limit, in code points. (cel-rust parses non-ASCII string literals slowly,
/// about 80µs a code point in a debug build: the limit also bounds that.)
fn check_size(expression: &str) -> Result<(), String> {
    let size = expression.chars().count();
    if size > MAX_EXPRESSION_CODE_POINTS {
        return Err(format!(
            "compilation failed: expression code point size exceeds limit: size: {size}, limit {MAX_EXPRESSION_CODE_POINTS}"
        ));
    }
    Ok(())
}

/// kube's `matcher.Match` over a webhook's conditions, in order: any false → `NoMatch`
/// (errors or not); else any error → `Error` with kube's aggregate of them; else `Match`.
/// Evaluation has no side effects, so stopping at the first false answers as evaluating
/// them all would.
pub fn evaluate(
    conditions: &[MatchCondition],
    attrs: &Attributes,
    object: Option<&Value>,
) -> MatchOutcome {
    if conditions.is_empty() {
        return MatchOutcome::Match;
    }
    let context = match context(attrs, object) {
        Ok(context) => context,
        Err(e) => return MatchOutcome::Error(e),
    };
    let mut errors = Vec::new();
    for condition in conditions {
        match evaluate_one(condition, &context) {
            Ok(true) => {}
            Ok(false) => return MatchOutcome::NoMatch,
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        MatchOutcome::Match
    } else {
        MatchOutcome::Error(aggregate(&errors))
    }
}

/// One condition: `Ok(result)`, or the error in kube's words.
fn evaluate_one(condition: &MatchCondition, context: &Context) -> Result<bool, String> {
    let program = match &condition.program {
        Ok(program) => program,
        Err(e) => return Err(format!("compilation error: {e}")),
    };
    let failed = |detail: String| {
        format!(
            "expression '{}' resulted in error: {detail}",
            condition.expression
        )
    };
    let result = catch_unwind(AssertUnwindSafe(|| program.execute(context)))
        .map_err(|_| failed("the CEL interpreter failed unexpectedly".to_string()))?;
    match result {
        Ok(CelValue::Bool(b)) => Ok(b),
        Ok(other) => Err(failed(format!(
            "must evaluate to bool but got {}",
            type_name(&other)
        ))),
        Err(e) => Err(failed(execution_error(&e))),
    }
}

/// cel-go's words where they differ from cel-rust's.
fn execution_error(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::UndeclaredReference(name) => {
            format!("undeclared reference to '{name}' (in container '')")
        }
        other => other.to_string(),
    }
}

/// CEL's name of a value's type, as cel-go prints it.
fn type_name(value: &CelValue) -> &'static str {
    match value {
        CelValue::List(_) => "list",
        CelValue::Map(_) => "map",
        CelValue::Int(_) => "int",
        CelValue::UInt(_) => "uint",
        CelValue::Float(_) => "double",
        CelValue::String(_) => "string",
        CelValue::Bytes(_) => "bytes",
        CelValue::Bool(_) => "bool",
        CelValue::Null => "null_type",
        _ => "dyn",
    }
}

/// `utilerrors.NewAggregate(...).Error()`: one message alone, several (duplicates once) in
/// brackets, comma separated.
fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The variables every condition of one request sees.
fn context(
    attrs: &Attributes,
    object: Option<&Value>,
) -> Result<Context<'static, 'static>, String> {
    let mut context = Context::with_env(Arc::clone(env()));
    let variables = [("object", object), ("oldObject", attrs.old_object.as_ref())];
    for (name, value) in variables {
        let value = value.map_or(Ok(CelValue::Null), |v| to_cel(v, 0))?;
        context.add_variable_from_value(name, value);
    }
    context.add_variable_from_value("request", to_cel(&request(attrs), 0)?);
    context.add_variable_from_value("namespaceObject", CelValue::Null);
    Ok(context)
}

/// kube's `CreateAdmissionRequest` as CEL sees it: the request's kind and resource (and,
/// kubesim converting nothing, the same as `requestKind`/`requestResource`), empty strings
/// left out as Go's `omitempty` does, `dryRun` always set.
pub fn request(attrs: &Attributes) -> Value {
    let resource = attrs.resource;
    let (group, version, kind) = match subresource(resource, &attrs.subresource) {
        Some(sub) => (sub.group, sub.version, sub.kind),
        None => (resource.group, resource.version, resource.kind),
    };
    let kind = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({
        "group": resource.group,
        "version": resource.version,
        "resource": resource.plural,
    });
    let user = serde_json::to_value(&attrs.user).unwrap_or(Value::Null);
    let mut request = json!({
        "kind": kind.clone(),
        "resource": gvr.clone(),
        "requestKind": kind,
        "requestResource": gvr,
        "operation": attrs.operation.as_str(),
        "userInfo": user,
        "dryRun": attrs.dry_run,
    });
    let optional = [
        ("subResource", &attrs.subresource),
        ("requestSubResource", &attrs.subresource),
        ("name", &attrs.name),
        ("namespace", &attrs.namespace),
    ];
    if let Some(fields) = request.as_object_mut() {
        for (key, value) in optional {
            if !value.is_empty() {
                fields.insert(key.to_string(), Value::from(value.as_str()));
            }
        }
        if !attrs.options.is_null() {
            fields.insert("options".to_string(), attrs.options.clone());
        }
    }
    request
}

/// A JSON value as CEL sees an unstructured object: integers that fit `int` are `int`, other
/// numbers `double`.
fn to_cel(value: &Value, depth: usize) -> Result<CelValue, String> {
    if depth > MAX_VALUE_DEPTH {
        return Err(format!(
            "object nests deeper than {MAX_VALUE_DEPTH} levels: not evaluated"
        ));
    }
    Ok(match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|item| to_cel(item, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            CelValue::List(Arc::new(items))
        }
        Value::Object(fields) => {
            let mut map = HashMap::with_capacity(fields.len());
            for (key, field) in fields {
                map.insert(
                    Key::String(Arc::new(key.clone())),
                    to_cel(field, depth + 1)?,
                );
            }
            CelValue::Map(Map { map: Arc::new(map) })
        }
    })
}

#[cfg(test)]
mod tests;
