//! FlowSchemas and PriorityLevelConfigurations (`flowcontrol.apiserver.k8s.io/v1`) as the
//! controller uses them, parsed from the objects in the store, and each limited level's
//! share of the server's seats.
//!
//! Parsing applies kube's v1 defaults to fields the object leaves out (`matchingPrecedence`
//! 1000, `nominalConcurrencyShares` 30 for a limited level and 0 for exempt, `lendablePercent`
//! 0, queuing 64 queues, hand size 8, queue length 50) and refuses what kube's controller
//! would refuse to use (an unknown `type`, a level whose type does not agree with its name,
//! queuing that shuffle sharding cannot deal). [`Config::from_objects`] then does what
//! kube's `cfgMeal` does in `apf_controller.go`: it drops schemas whose level is missing
//! (kube marks them `Dangling`), sorts the rest for matching, and supplies the mandatory
//! `exempt` and `catch-all` objects the store lacks.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::bootstrap;

/// The mandatory level and schema that exempt `system:masters` (kube's
/// `PriorityLevelConfigurationNameExempt`, `FlowSchemaNameExempt`); the only level that may
/// be of type Exempt.
pub const EXEMPT: &str = "exempt";
/// The mandatory level and schema every request falls to when nothing else matches.
pub const CATCH_ALL: &str = "catch-all";

/// kube's v1 defaults (`pkg/apis/flowcontrol/v1/defaults.go`).
const DEFAULT_MATCHING_PRECEDENCE: i32 = 1000;
const DEFAULT_NOMINAL_CONCURRENCY_SHARES: u32 = 30;
const DEFAULT_QUEUES: u32 = 64;
const DEFAULT_HAND_SIZE: u32 = 8;
const DEFAULT_QUEUE_LENGTH_LIMIT: u32 = 50;
/// kube's `FlowSchemaMaxMatchingPrecedence`.
const MAX_MATCHING_PRECEDENCE: i32 = 10_000;
/// kube's shuffle sharding limits (`shufflesharding.NewDealer`): a deck of at most 2^26
/// queues, and a hand that needs at most 60 bits of the flow's hash.
const MAX_QUEUES: u32 = 1 << 26;
const MAX_HASH_BITS: f64 = 60.0;

/// One FlowSchema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSchema {
    pub name: String,
    pub uid: String,
    /// Lower matches first; ties by name. 1..=10000 (kube's validation).
    pub matching_precedence: i32,
    /// `spec.priorityLevelConfiguration.name`.
    pub priority_level: String,
    pub distinguisher: Option<Distinguisher>,
    pub rules: Vec<PolicyRulesWithSubjects>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distinguisher {
    ByUser,
    ByNamespace,
}

/// `spec.rules[]`: a request matches when one subject and one rule match it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRulesWithSubjects {
    pub subjects: Vec<Subject>,
    pub resource_rules: Vec<ResourcePolicyRule>,
    pub non_resource_rules: Vec<NonResourcePolicyRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `kind: User`, `user.name` (`*` for all).
    User(String),
    /// `kind: Group`, `group.name` (`*` for all).
    Group(String),
    /// `kind: ServiceAccount`, `serviceAccount.{namespace,name}` (`name: *` for all of a
    /// namespace).
    ServiceAccount { namespace: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub cluster_scope: bool,
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NonResourcePolicyRule {
    pub verbs: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

/// One PriorityLevelConfiguration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityLevel {
    pub name: String,
    pub uid: String,
    pub kind: LevelKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelKind {
    /// Never queued or limited (`type: Exempt`).
    Exempt,
    /// `type: Limited`.
    Limited {
        nominal_concurrency_shares: u32,
        lendable_percent: u32,
        limit_response: LimitResponse,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitResponse {
    /// Over the limit: 429 at once.
    Reject,
    /// Over the limit: wait in one of `queues` queues (a flow's hand of `hand_size`), each
    /// at most `queue_length_limit` long.
    Queue {
        queues: u32,
        hand_size: u32,
        queue_length_limit: u32,
    },
}

/// The whole configuration: schemas in matching order (precedence, then name), levels by
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub flow_schemas: Vec<FlowSchema>,
    pub levels: BTreeMap<String, PriorityLevel>,
    /// The `exempt` level's `spec.exempt.nominalConcurrencyShares` (0 unless its object sets
    /// it). Exempt requests take no seats, but since kube 1.29 these shares still count in
    /// the sum every limited level's share is a fraction of, so raising them shrinks every
    /// limited level. Only the level named `exempt` can be of type Exempt, hence one number.
    pub exempt_nominal_concurrency_shares: u32,
}

impl Config {
    /// Parses the stored objects (as JSON). Objects that do not parse are skipped and named
    /// in the returned problems; kube's mandatory `exempt` and `catch-all` objects are
    /// added when the store lacks them, so a request always has somewhere to go.
    ///
    /// As in kube, a supplied mandatory schema goes where kube puts it rather than where its
    /// name sorts: `exempt` first, `catch-all` last. Unlike kube, a schema that names a
    /// mandatory level the store lacks is not dangling, because that level is supplied
    /// first; kube-apiserver creates the mandatory objects before it serves, so the
    /// difference never shows there.
    pub fn from_objects(flow_schemas: &[Value], levels: &[Value]) -> (Config, Vec<String>) {
        let mut problems = Vec::new();
        let mut config = Config::default();
        for level in parse_each(
            levels,
            "PriorityLevelConfiguration",
            &mut problems,
            parse_level,
        ) {
            config.insert_level(level, &mut problems);
        }
        config.supply_mandatory_levels();
        let schemas = parse_each(flow_schemas, "FlowSchema", &mut problems, parse_flow_schema);
        config.flow_schemas = config.usable_schemas(schemas, &mut problems);
        config.supply_mandatory_schemas();
        (config, problems)
    }

    /// Each limited level's nominal concurrency limit (seats) out of the server's:
    /// `ceil(server * shares / sum of all levels' shares)` (kube's `NominalCL`), at least 1
    /// so that a level with no shares still runs one request at a time (kubesim does not
    /// lend or borrow seats between levels, which is how kube feeds such a level).
    pub fn concurrency_limits(&self, server_concurrency_limit: u32) -> BTreeMap<String, u32> {
        let share_sum: u64 = self
            .levels
            .values()
            .map(|l| u64::from(self.shares(l)))
            .sum();
        self.levels
            .values()
            .filter(|level| matches!(level.kind, LevelKind::Limited { .. }))
            .map(|level| {
                let shares = u64::from(self.shares(level));
                let limit = nominal_concurrency_limit(server_concurrency_limit, shares, share_sum);
                (level.name.clone(), limit)
            })
            .collect()
    }

    /// The level's `nominalConcurrencyShares`, exempt or limited.
    fn shares(&self, level: &PriorityLevel) -> u32 {
        match level.kind {
            LevelKind::Exempt => self.exempt_nominal_concurrency_shares,
            LevelKind::Limited {
                nominal_concurrency_shares,
                ..
            } => nominal_concurrency_shares,
        }
    }

    /// Keeps the first object of a name; the store cannot hold two, a caller's list might.
    fn insert_level(&mut self, parsed: ParsedLevel, problems: &mut Vec<String>) {
        let name = parsed.level.name.clone();
        if self.levels.contains_key(&name) {
            problems.push(format!(
                "PriorityLevelConfiguration {name:?}: a second object of this name is ignored"
            ));
            return;
        }
        if parsed.level.kind == LevelKind::Exempt {
            self.exempt_nominal_concurrency_shares = parsed.exempt_shares;
        }
        self.levels.insert(name, parsed.level);
    }

    /// kube's `imaginePL`: the mandatory levels the store lacks, as kube defines them.
    fn supply_mandatory_levels(&mut self) {
        let (_, mandatory_levels) = bootstrap::mandatory();
        for object in &mandatory_levels {
            let Ok(parsed) = parse_level(object) else {
                // Only a bug in bootstrap.rs can get here; its tests parse every object.
                continue;
            };
            if !self.levels.contains_key(&parsed.level.name) {
                self.insert_level(parsed, &mut Vec::new());
            }
        }
    }

    /// The schemas matching may use, in matching order: no duplicates, none whose level is
    /// missing (kube's `Dangling` condition).
    fn usable_schemas(
        &self,
        schemas: Vec<FlowSchema>,
        problems: &mut Vec<String>,
    ) -> Vec<FlowSchema> {
        let mut seen = BTreeSet::new();
        let mut usable = Vec::with_capacity(schemas.len());
        for schema in schemas {
            if !seen.insert(schema.name.clone()) {
                problems.push(format!(
                    "FlowSchema {:?}: a second object of this name is ignored",
                    schema.name
                ));
            } else if !self.levels.contains_key(&schema.priority_level) {
                problems.push(format!(
                    "FlowSchema {:?}: Dangling: PriorityLevelConfiguration {:?} not found",
                    schema.name, schema.priority_level
                ));
            } else {
                usable.push(schema);
            }
        }
        usable.sort_by(|a, b| {
            (a.matching_precedence, &a.name).cmp(&(b.matching_precedence, &b.name))
        });
        usable
    }

    /// kube's `digestFlowSchemasLocked`: a missing `exempt` schema goes first, a missing
    /// `catch-all` last.
    fn supply_mandatory_schemas(&mut self) {
        let (mandatory_schemas, _) = bootstrap::mandatory();
        for object in &mandatory_schemas {
            let Ok(schema) = parse_flow_schema(object) else {
                continue;
            };
            if self.flow_schemas.iter().any(|fs| fs.name == schema.name) {
                continue;
            }
            if schema.name == EXEMPT {
                self.flow_schemas.insert(0, schema);
            } else {
                self.flow_schemas.push(schema);
            }
        }
    }
}

/// `ceil(server * shares / share_sum)`, in integers (kube computes it in float64, which is
/// exact at these magnitudes), clamped to `1..=u32::MAX`.
fn nominal_concurrency_limit(server: u32, shares: u64, share_sum: u64) -> u32 {
    if share_sum == 0 {
        return 1;
    }
    let limit = (u64::from(server) * shares).div_ceil(share_sum);
    u32::try_from(limit).unwrap_or(u32::MAX).max(1)
}

/// Parses each object, naming the ones that fail in `problems` by name when they have
/// one, by position otherwise.
fn parse_each<T>(
    objects: &[Value],
    kind: &str,
    problems: &mut Vec<String>,
    parse: fn(&Value) -> Result<T, String>,
) -> Vec<T> {
    let mut parsed = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        match parse(object) {
            Ok(item) => parsed.push(item),
            Err(error) => {
                let name = object.pointer("/metadata/name").and_then(Value::as_str);
                let who = name.map_or_else(|| format!("#{i}"), |n| format!("{n:?}"));
                problems.push(format!("{kind} {who}: {error}"));
            }
        }
    }
    parsed
}

// ---- The v1 wire form. Every field is optional so that a missing or `null` field decodes
// as Go's zero value would, and the defaults below can tell "absent" from "zero".

#[derive(Deserialize)]
struct ObjectWire<S> {
    metadata: Option<MetaWire>,
    spec: Option<S>,
}

#[derive(Deserialize)]
struct MetaWire {
    name: Option<String>,
    uid: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowSchemaSpecWire {
    priority_level_configuration: Option<NameWire>,
    matching_precedence: Option<i32>,
    distinguisher_method: Option<TypeWire>,
    rules: Option<Vec<RulesWire>>,
}

#[derive(Deserialize)]
struct NameWire {
    name: Option<String>,
}

#[derive(Deserialize)]
struct TypeWire {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RulesWire {
    subjects: Option<Vec<SubjectWire>>,
    resource_rules: Option<Vec<ResourceRuleWire>>,
    non_resource_rules: Option<Vec<NonResourceRuleWire>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectWire {
    kind: Option<String>,
    user: Option<NameWire>,
    group: Option<NameWire>,
    service_account: Option<ServiceAccountWire>,
}

#[derive(Deserialize)]
struct ServiceAccountWire {
    namespace: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceRuleWire {
    verbs: Option<Vec<String>>,
    api_groups: Option<Vec<String>>,
    resources: Option<Vec<String>>,
    cluster_scope: Option<bool>,
    namespaces: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct NonResourceRuleWire {
    verbs: Option<Vec<String>>,
    #[serde(rename = "nonResourceURLs")]
    non_resource_urls: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct LevelSpecWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    limited: Option<LimitedWire>,
    exempt: Option<ExemptWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LimitedWire {
    nominal_concurrency_shares: Option<i32>,
    lendable_percent: Option<i32>,
    limit_response: Option<LimitResponseWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExemptWire {
    nominal_concurrency_shares: Option<i32>,
}

#[derive(Deserialize)]
struct LimitResponseWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    queuing: Option<QueuingWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueuingWire {
    queues: Option<i32>,
    hand_size: Option<i32>,
    queue_length_limit: Option<i32>,
}

// ---- From the wire form to the types above.

/// `metadata.name` (required) and `metadata.uid`.
fn name_and_uid(metadata: Option<MetaWire>) -> Result<(String, String), String> {
    let metadata = metadata.ok_or("metadata: required")?;
    let name = metadata.name.unwrap_or_default();
    if name.is_empty() {
        return Err("metadata.name: required".to_string());
    }
    Ok((name, metadata.uid.unwrap_or_default()))
}

fn parse_flow_schema(object: &Value) -> Result<FlowSchema, String> {
    let wire = ObjectWire::<FlowSchemaSpecWire>::deserialize(object).map_err(|e| e.to_string())?;
    let (name, uid) = name_and_uid(wire.metadata)?;
    let spec = wire.spec.ok_or("spec: required")?;
    let priority_level = spec
        .priority_level_configuration
        .and_then(|r| r.name)
        .unwrap_or_default();
    if priority_level.is_empty() {
        return Err("spec.priorityLevelConfiguration.name: required".to_string());
    }
    let rules = spec.rules.unwrap_or_default().into_iter().enumerate();
    Ok(FlowSchema {
        name,
        uid,
        matching_precedence: matching_precedence(spec.matching_precedence)?,
        priority_level,
        distinguisher: distinguisher(spec.distinguisher_method)?,
        rules: rules
            .map(|(i, rule)| policy_rules(rule).map_err(|e| format!("spec.rules[{i}].{e}")))
            .collect::<Result<_, _>>()?,
    })
}

/// 0 or absent is kube's default, 1000; otherwise 1..=10000.
fn matching_precedence(wire: Option<i32>) -> Result<i32, String> {
    match wire.unwrap_or(0) {
        0 => Ok(DEFAULT_MATCHING_PRECEDENCE),
        p if (1..=MAX_MATCHING_PRECEDENCE).contains(&p) => Ok(p),
        p => Err(format!("spec.matchingPrecedence: {p} is not in 1..=10000")),
    }
}

fn distinguisher(wire: Option<TypeWire>) -> Result<Option<Distinguisher>, String> {
    let Some(method) = wire else {
        return Ok(None);
    };
    match method.kind.as_deref() {
        Some("ByUser") => Ok(Some(Distinguisher::ByUser)),
        Some("ByNamespace") => Ok(Some(Distinguisher::ByNamespace)),
        other => Err(format!(
            "spec.distinguisherMethod.type: {other:?} is not ByUser or ByNamespace"
        )),
    }
}

fn policy_rules(wire: RulesWire) -> Result<PolicyRulesWithSubjects, String> {
    let subjects = wire.subjects.unwrap_or_default().into_iter().enumerate();
    Ok(PolicyRulesWithSubjects {
        subjects: subjects
            .map(|(i, s)| subject(s).map_err(|e| format!("subjects[{i}]: {e}")))
            .collect::<Result<_, _>>()?,
        resource_rules: wire
            .resource_rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| ResourcePolicyRule {
                verbs: r.verbs.unwrap_or_default(),
                api_groups: r.api_groups.unwrap_or_default(),
                resources: r.resources.unwrap_or_default(),
                cluster_scope: r.cluster_scope.unwrap_or(false),
                namespaces: r.namespaces.unwrap_or_default(),
            })
            .collect(),
        non_resource_rules: wire
            .non_resource_rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| NonResourcePolicyRule {
                verbs: r.verbs.unwrap_or_default(),
                non_resource_urls: r.non_resource_urls.unwrap_or_default(),
            })
            .collect(),
    })
}

/// A subject whose `kind` names a member it lacks could never match (kube's
/// `matchesSubject`); kube's validation refuses it, and so does this.
fn subject(wire: SubjectWire) -> Result<Subject, String> {
    match wire.kind.as_deref() {
        Some("User") => {
            let user = wire.user.ok_or("kind User: user is required")?;
            Ok(Subject::User(user.name.unwrap_or_default()))
        }
        Some("Group") => {
            let group = wire.group.ok_or("kind Group: group is required")?;
            Ok(Subject::Group(group.name.unwrap_or_default()))
        }
        Some("ServiceAccount") => {
            let sa = wire
                .service_account
                .ok_or("kind ServiceAccount: serviceAccount is required")?;
            Ok(Subject::ServiceAccount {
                namespace: sa.namespace.unwrap_or_default(),
                name: sa.name.unwrap_or_default(),
            })
        }
        other => Err(format!(
            "kind: {other:?} is not User, Group or ServiceAccount"
        )),
    }
}

/// A parsed level, with the exempt level's shares, which [`LevelKind::Exempt`] does not
/// carry.
struct ParsedLevel {
    level: PriorityLevel,
    exempt_shares: u32,
}

fn parse_level(object: &Value) -> Result<ParsedLevel, String> {
    let wire = ObjectWire::<LevelSpecWire>::deserialize(object).map_err(|e| e.to_string())?;
    let (name, uid) = name_and_uid(wire.metadata)?;
    let spec = wire.spec.ok_or("spec: required")?;
    let exempt_type = match spec.kind.as_deref() {
        Some("Exempt") => true,
        Some("Limited") => false,
        other => return Err(format!("spec.type: {other:?} is not Exempt or Limited")),
    };
    // kube's controller keeps no queue set for a level that changes between exempt and
    // limited, so it ties the type to the name (`queueSetCompleterForPL`).
    if exempt_type != (name == EXEMPT) {
        return Err(format!(
            "spec.type: only the level named {EXEMPT:?} may be, and must be, Exempt"
        ));
    }
    let (kind, exempt_shares) = if exempt_type {
        if spec.limited.is_some() {
            return Err("spec.limited: must be absent for type Exempt".to_string());
        }
        let shares = spec.exempt.and_then(|e| e.nominal_concurrency_shares);
        (
            LevelKind::Exempt,
            non_negative(shares.unwrap_or(0), "spec.exempt.nominalConcurrencyShares")?,
        )
    } else {
        if spec.exempt.is_some() {
            return Err("spec.exempt: must be absent for type Limited".to_string());
        }
        let limited = spec
            .limited
            .ok_or("spec.limited: required for type Limited")?;
        (limited_kind(limited)?, 0)
    };
    Ok(ParsedLevel {
        level: PriorityLevel { name, uid, kind },
        exempt_shares,
    })
}

fn limited_kind(wire: LimitedWire) -> Result<LevelKind, String> {
    let shares = wire
        .nominal_concurrency_shares
        .map_or(Ok(DEFAULT_NOMINAL_CONCURRENCY_SHARES), |s| {
            non_negative(s, "spec.limited.nominalConcurrencyShares")
        })?;
    let lendable_percent = wire.lendable_percent.unwrap_or(0);
    let lendable_percent = u32::try_from(lendable_percent)
        .ok()
        .filter(|percent| *percent <= 100)
        .ok_or(format!(
            "spec.limited.lendablePercent: {lendable_percent} is not in 0..=100"
        ))?;
    Ok(LevelKind::Limited {
        nominal_concurrency_shares: shares,
        lendable_percent,
        limit_response: limit_response(wire.limit_response)?,
    })
}

/// `Reject`, or `Queue` with kube's queuing defaults for absent or zero fields (a `Queue`
/// without `queuing` is taken as all defaults rather than refused).
fn limit_response(wire: Option<LimitResponseWire>) -> Result<LimitResponse, String> {
    let wire = wire.ok_or("spec.limited.limitResponse: required")?;
    match wire.kind.as_deref() {
        Some("Reject") => Ok(LimitResponse::Reject),
        Some("Queue") => queuing(wire.queuing),
        other => Err(format!(
            "spec.limited.limitResponse.type: {other:?} is not Queue or Reject"
        )),
    }
}

fn queuing(wire: Option<QueuingWire>) -> Result<LimitResponse, String> {
    const AT: &str = "spec.limited.limitResponse.queuing";
    let wire = wire.unwrap_or(QueuingWire {
        queues: None,
        hand_size: None,
        queue_length_limit: None,
    });
    let or_default = |value: Option<i32>, default: u32, field: &str| match value.unwrap_or(0) {
        0 => Ok(default),
        v => non_negative(v, &format!("{AT}.{field}")),
    };
    let queues = or_default(wire.queues, DEFAULT_QUEUES, "queues")?;
    let hand_size = or_default(wire.hand_size, DEFAULT_HAND_SIZE, "handSize")?;
    let queue_length_limit = or_default(
        wire.queue_length_limit,
        DEFAULT_QUEUE_LENGTH_LIMIT,
        "queueLengthLimit",
    )?;
    check_dealer(queues, hand_size).map_err(|e| format!("{AT}: {e}"))?;
    Ok(LimitResponse::Queue {
        queues,
        hand_size,
        queue_length_limit,
    })
}

/// kube's `shufflesharding.NewDealer` checks: a hand no bigger than the deck, a deck of at
/// most 2^26, and at most 60 bits of hash to deal the hand (`ceil(log2(queues) * hand)`).
fn check_dealer(queues: u32, hand_size: u32) -> Result<(), String> {
    if hand_size > queues {
        return Err(format!(
            "handSize {hand_size} is greater than queues {queues}"
        ));
    }
    if queues > MAX_QUEUES {
        return Err(format!("queues {queues} is impractically large"));
    }
    let entropy_bits = (f64::from(queues).log2() * f64::from(hand_size)).ceil();
    if entropy_bits > MAX_HASH_BITS {
        return Err(format!(
            "queues {queues} and handSize {hand_size} need {entropy_bits} bits of hash, more than 60"
        ));
    }
    Ok(())
}

fn non_negative(value: i32, field: &str) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| format!("{field}: {value} is negative"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bootstrap_objects() -> (Vec<Value>, Vec<Value>) {
        let (mut schemas, mut levels) = bootstrap::mandatory();
        let (suggested_schemas, suggested_levels) = bootstrap::suggested();
        schemas.extend(suggested_schemas);
        levels.extend(suggested_levels);
        (schemas, levels)
    }

    fn names(config: &Config) -> Vec<&str> {
        config
            .flow_schemas
            .iter()
            .map(|fs| fs.name.as_str())
            .collect()
    }

    fn limited(name: &str, limited: Value) -> Value {
        json!({"metadata": {"name": name, "uid": format!("uid-{name}")},
               "spec": {"type": "Limited", "limited": limited}})
    }

    fn schema(name: &str, level: &str, precedence: Option<i32>) -> Value {
        let mut spec = json!({
            "priorityLevelConfiguration": {"name": level},
            "rules": [{
                "subjects": [{"kind": "User", "user": {"name": "jane"}}],
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/version"]}],
            }],
        });
        if let Some(precedence) = precedence {
            spec["matchingPrecedence"] = json!(precedence);
        }
        json!({"metadata": {"name": name, "uid": format!("uid-{name}")}, "spec": spec})
    }

    #[test]
    fn absent_fields_take_kubes_v1_defaults() {
        let levels = [
            limited(
                "queues",
                json!({"limitResponse": {"type": "Queue", "queuing": {}}}),
            ),
            limited(
                "sized",
                json!({"nominalConcurrencyShares": 0, "limitResponse": {
                "type": "Queue", "queuing": {"queues": 16, "handSize": 0, "queueLengthLimit": 7}}}),
            ),
        ];
        let (config, problems) = Config::from_objects(&[schema("mine", "queues", None)], &levels);
        assert_eq!(problems, Vec::<String>::new());
        let level = config.levels.get("queues");
        assert_eq!(level.map(|l| l.uid.as_str()), Some("uid-queues"));
        assert_eq!(
            level.map(|l| &l.kind),
            Some(&LevelKind::Limited {
                nominal_concurrency_shares: 30,
                lendable_percent: 0,
                limit_response: LimitResponse::Queue {
                    queues: 64,
                    hand_size: 8,
                    queue_length_limit: 50,
                },
            })
        );
        // An explicit 0 share is kept (v1 allows it); zero queuing fields default.
        assert_eq!(
            config.levels.get("sized").map(|l| &l.kind),
            Some(&LevelKind::Limited {
                nominal_concurrency_shares: 0,
                lendable_percent: 0,
                limit_response: LimitResponse::Queue {
                    queues: 16,
                    hand_size: 8,
                    queue_length_limit: 7,
                },
            })
        );
        let mine = config.flow_schemas.iter().find(|fs| fs.name == "mine");
        assert_eq!(mine.map(|fs| fs.matching_precedence), Some(1000));
        assert_eq!(mine.map(|fs| fs.uid.as_str()), Some("uid-mine"));
        assert_eq!(mine.and_then(|fs| fs.distinguisher), None);
    }

    #[test]
    fn mandatory_objects_are_supplied_when_absent() {
        let (config, problems) = Config::from_objects(&[], &[]);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(names(&config), vec![EXEMPT, CATCH_ALL]);
        let levels: Vec<&String> = config.levels.keys().collect();
        assert_eq!(levels, vec![CATCH_ALL, EXEMPT]);
        // Supplied objects have never been stored: no uid.
        assert!(config.levels.values().all(|l| l.uid.is_empty()));
    }

    #[test]
    fn stored_mandatory_objects_are_kept_and_missing_ones_go_where_kube_puts_them() {
        let (schemas, levels) = bootstrap::mandatory();
        let mut exempt_level = levels[1].clone();
        exempt_level["metadata"]["uid"] = json!("stored-exempt");
        exempt_level["spec"]["exempt"]["nominalConcurrencyShares"] = json!(7);
        // A user schema that sorts before `exempt` by name, and after `catch-all`.
        let user_schemas = [
            schema("aaa", EXEMPT, Some(1)),
            schema("zzz", CATCH_ALL, Some(10_000)),
        ];
        let (config, problems) = Config::from_objects(&user_schemas, &[exempt_level]);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(names(&config), vec![EXEMPT, "aaa", "zzz", CATCH_ALL]);
        assert_eq!(
            config.levels.get(EXEMPT).map(|l| l.uid.as_str()),
            Some("stored-exempt")
        );
        assert_eq!(config.exempt_nominal_concurrency_shares, 7);
        // Stored mandatory schemas sort like any other.
        let mut stored = schemas.clone();
        stored.push(schema("aaa", EXEMPT, Some(1)));
        let (config, _) = Config::from_objects(&stored, &[]);
        assert_eq!(names(&config), vec!["aaa", EXEMPT, CATCH_ALL]);
    }

    #[test]
    fn schemas_sort_by_precedence_then_name() {
        let level = limited("l", json!({"limitResponse": {"type": "Reject"}}));
        let schemas = [
            schema("c", "l", Some(10)),
            schema("b", "l", Some(500)),
            schema("a", "l", Some(500)),
            schema("d", "l", None),
        ];
        let (config, _) = Config::from_objects(&schemas, &[level]);
        assert_eq!(names(&config), vec![EXEMPT, "c", "a", "b", "d", CATCH_ALL]);
    }

    #[test]
    fn bad_objects_are_skipped_and_named() {
        let reject = json!({"type": "Reject"});
        let levels = [
            json!("not an object"),
            json!({"metadata": {"name": "nameless-spec"}}),
            limited(
                "negative",
                json!({"nominalConcurrencyShares": -1, "limitResponse": reject}),
            ),
            limited(
                "lender",
                json!({"lendablePercent": 101, "limitResponse": reject}),
            ),
            limited(
                "huge-hand",
                json!({"limitResponse": {"type": "Queue",
                "queuing": {"queues": 4, "handSize": 5}}}),
            ),
            limited(
                "entropy",
                json!({"limitResponse": {"type": "Queue",
                "queuing": {"queues": 1024, "handSize": 7}}}),
            ),
            limited("shrug", json!({"limitResponse": {"type": "Shrug"}})),
            json!({"metadata": {"name": "not-exempt"}, "spec": {"type": "Exempt", "exempt": {}}}),
            json!({"metadata": {"name": EXEMPT}, "spec": {"type": "Limited", "limited": {
                "limitResponse": reject}}}),
            limited("ok", json!({"limitResponse": reject})),
            limited(
                "ok",
                json!({"nominalConcurrencyShares": 99, "limitResponse": reject}),
            ),
        ];
        let schemas = [
            json!({"spec": {}}),
            json!({"metadata": {"name": "types"}, "spec": {"matchingPrecedence": "high"}}),
            json!({"metadata": {"name": "method"}, "spec": {
                "priorityLevelConfiguration": {"name": "ok"},
                "distinguisherMethod": {"type": "ByTeam"}}}),
            json!({"metadata": {"name": "kindless"}, "spec": {
                "priorityLevelConfiguration": {"name": "ok"},
                "rules": [{"subjects": [{"kind": "User"}]}]}}),
            schema("too-late", "ok", Some(10_001)),
            schema("dangling", "gone", None),
            schema("fine", "ok", None),
            schema("fine", "ok", Some(5)),
        ];
        let (config, problems) = Config::from_objects(&schemas, &levels);
        let named = |who: &str| problems.iter().filter(|p| p.starts_with(who)).count();
        for who in [
            "PriorityLevelConfiguration #0:",
            "PriorityLevelConfiguration \"nameless-spec\": spec: required",
            "PriorityLevelConfiguration \"negative\": spec.limited.nominalConcurrencyShares",
            "PriorityLevelConfiguration \"lender\": spec.limited.lendablePercent",
            "PriorityLevelConfiguration \"huge-hand\": spec.limited.limitResponse.queuing",
            "PriorityLevelConfiguration \"entropy\": spec.limited.limitResponse.queuing",
            "PriorityLevelConfiguration \"shrug\": spec.limited.limitResponse.type",
            "PriorityLevelConfiguration \"not-exempt\": spec.type",
            "PriorityLevelConfiguration \"exempt\": spec.type",
            "PriorityLevelConfiguration \"ok\": a second object",
            "FlowSchema #0: metadata: required",
            "FlowSchema \"types\":",
            "FlowSchema \"method\": spec.distinguisherMethod.type",
            "FlowSchema \"kindless\": spec.rules[0].subjects[0]",
            "FlowSchema \"too-late\": spec.matchingPrecedence",
            "FlowSchema \"dangling\": Dangling",
            "FlowSchema \"fine\": a second object",
        ] {
            assert_eq!(named(who), 1, "{who} in {problems:#?}");
        }
        assert_eq!(problems.len(), 17, "{problems:#?}");
        assert_eq!(names(&config), vec![EXEMPT, "fine", CATCH_ALL]);
        let levels: Vec<&String> = config.levels.keys().collect();
        assert_eq!(levels, vec![CATCH_ALL, EXEMPT, "ok"]);
        // The first `ok` is the one kept, and the mandatory exempt replaced the bad one.
        assert_eq!(config.concurrency_limits(100).get("ok"), Some(&86));
        assert_eq!(
            config.levels.get(EXEMPT).map(|l| &l.kind),
            Some(&LevelKind::Exempt)
        );
    }

    #[test]
    fn concurrency_limits_of_kubes_bootstrap_at_600() {
        let (schemas, levels) = bootstrap_objects();
        let (config, _) = Config::from_objects(&schemas, &levels);
        // Shares: exempt 0 + catch-all 5 + system 30 + node-high 40 + leader-election 10
        // + workload-high 40 + workload-low 100 + global-default 20 = 245, and each
        // NominalCL = ceil(600 * shares / 245):
        //   catch-all        3000 / 245 = 12.24 -> 13
        //   system          18000 / 245 = 73.47 -> 74
        //   node-high       24000 / 245 = 97.96 -> 98
        //   leader-election  6000 / 245 = 24.49 -> 25
        //   workload-high   24000 / 245 = 97.96 -> 98
        //   workload-low    60000 / 245 = 244.9 -> 245
        //   global-default  12000 / 245 = 48.98 -> 49
        // (602 in all: the ceilings overshoot a little, as kube says they do.)
        let expected: BTreeMap<String, u32> = [
            ("catch-all", 13),
            ("global-default", 49),
            ("leader-election", 25),
            ("node-high", 98),
            ("system", 74),
            ("workload-high", 98),
            ("workload-low", 245),
        ]
        .into_iter()
        .map(|(name, limit)| (name.to_string(), limit))
        .collect();
        assert_eq!(config.concurrency_limits(600), expected);
    }

    #[test]
    fn exempt_shares_count_in_the_sum() {
        let (schemas, mut levels) = bootstrap_objects();
        if let Some(exempt) = levels.iter_mut().find(|l| l["metadata"]["name"] == EXEMPT) {
            exempt["spec"]["exempt"]["nominalConcurrencyShares"] = json!(55);
        }
        let (config, _) = Config::from_objects(&schemas, &levels);
        // Sum 245 + 55 = 300: catch-all 600 * 5 / 300 = 10, global-default 40,
        // workload-low 200; the exempt level itself gets no limit.
        let limits = config.concurrency_limits(600);
        assert_eq!(limits.get(CATCH_ALL), Some(&10));
        assert_eq!(limits.get("global-default"), Some(&40));
        assert_eq!(limits.get("workload-low"), Some(&200));
        assert_eq!(limits.get(EXEMPT), None);
    }

    #[test]
    fn every_limited_level_gets_at_least_one_seat() {
        let levels = [limited(
            "idle",
            json!({"nominalConcurrencyShares": 0,
            "limitResponse": {"type": "Reject"}}),
        )];
        let (config, _) = Config::from_objects(&[], &levels);
        let limits = config.concurrency_limits(10);
        assert_eq!(limits.get("idle"), Some(&1));
        assert_eq!(limits.get(CATCH_ALL), Some(&10));
        assert_eq!(Config::default().concurrency_limits(10), BTreeMap::new());
        assert_eq!(nominal_concurrency_limit(10, 0, 0), 1);
        assert_eq!(nominal_concurrency_limit(u32::MAX, 2, 1), u32::MAX);
    }
}
