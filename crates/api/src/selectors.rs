//! Label and field selectors: the `labelSelector=` and `fieldSelector=` query parameters of
//! list, watch and deletecollection, and the `metav1.LabelSelector` objects of deployments'
//! `spec.selector` and webhooks' `namespaceSelector`/`objectSelector`.
//!
//! Map of the file:
//! - Label selectors ([`LabelSelector`], [`Requirement`], [`Operator`]):
//!   [`parse_label_selector`] reads the query syntax as apimachinery's `labels.Parse` does
//!   (its lexer, its parser and its error messages, word for word);
//!   [`label_selector_from_object`] is `metav1.LabelSelectorAsSelector`; and
//!   [`validate_label_selector`] is `ValidateLabelSelector`, the 422 checks a stored selector
//!   must pass.
//! - Field selectors ([`FieldSelector`]): [`parse_field_selector`] is `fields.ParseSelector`
//!   (comma-separated `field=value`, `field==value`, `field!=value` terms with `\` escapes);
//!   [`FieldSelector::check_supported`] is the per-kind field label conversion kube-apiserver
//!   runs before serving; [`field_value`] is each kind's `ToSelectableFields`.
//!
//! kube-apiserver answers a selector it cannot parse, or a field a kind does not select on,
//! with 400 BadRequest whose message is the error text here, unchanged. kubectl prefixes it
//! with `Unable to find "/v1, Resource=pods" that match label selector …` on its side.
//!
//! Bounds: kube-apiserver takes selectors of any length the HTTP server lets through; kubesim
//! refuses a selector over [`MAX_SELECTOR_BYTES`] or with more than [`MAX_SELECTOR_TERMS`]
//! requirements or terms, so parsing and matching stay cheap per object. Selectors read from
//! objects are bounded by the object size limit instead.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::resources::Resource;
use crate::status::{FieldError, go_quote};
use crate::validation::{is_qualified_name, is_valid_label_value, validate_labels};

/// Longest `labelSelector` or `fieldSelector` accepted, in bytes (kubesim's bound).
pub const MAX_SELECTOR_BYTES: usize = 64 * 1024;
/// Most requirements in one label selector, or terms in one field selector (kubesim's bound).
pub const MAX_SELECTOR_TERMS: usize = 1024;

// =============================================================================================
// Label selectors

/// A label requirement's operator (`selection.Operator`). [`fmt::Display`] writes kube's
/// spelling (`in`, `notin`, `=`, `==`, `!=`, `exists`, `!`, `gt`, `lt`), which parse errors
/// quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The binary operators, in the order kube's "expected: …" message lists them.
const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

/// One requirement of a label selector: a key, an operator and its values (`labels.Requirement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and without duplicates (a set, as kube's `sets.String`), so matching a label
    /// against a long `in (…)` list is a binary search.
    values: Vec<String>,
}

impl Requirement {
    /// `labels.NewRequirement`: checks the key, the value count the operator needs, that
    /// `gt`/`lt` values are integers, and every value. The error is every problem found,
    /// aggregated (`[a, b]` when more than one), with the field paths kube gives them
    /// (`key`, `values`, `values[0][<key>]`).
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement, String> {
        let mut errors = Vec::new();
        let key_errors = is_qualified_name(key);
        if !key_errors.is_empty() {
            errors.push(invalid_message(
                "key",
                &go_quote(key),
                &key_errors.join("; "),
            ));
        }
        errors.extend(value_count_errors(operator, &values));
        for (i, value) in values.iter().enumerate() {
            let value_errors = is_valid_label_value(value);
            if !value_errors.is_empty() {
                let path = format!("values[{i}][{key}]");
                errors.push(invalid_message(
                    &path,
                    &go_quote(value),
                    &value_errors.join("; "),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(aggregate(errors));
        }
        // Sorted only now: error paths index the values as the caller gave them.
        let mut values = values;
        values.sort_unstable();
        values.dedup();
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `Requirement.Matches`: `in`/`=` need the label with one of the values; `notin`/`!=`
    /// match when the label is absent too; `gt`/`lt` need the label and both sides integers.
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let label = labels
            .and_then(|l| l.get(&self.key))
            .and_then(Value::as_str);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                label.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => !label.is_some_and(|v| self.has_value(v)),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => label.is_some_and(|v| self.compare(v)),
        }
    }

    fn has_value(&self, value: &str) -> bool {
        self.values
            .binary_search_by(|v| v.as_str().cmp(value))
            .is_ok()
    }

    /// `gt`/`lt`: a label value or requirement value that is not an i64 never matches.
    fn compare(&self, label: &str) -> bool {
        let (Ok(label), [bound]) = (label.parse::<i64>(), self.values.as_slice()) else {
            return false;
        };
        let Ok(bound) = bound.parse::<i64>() else {
            return false;
        };
        match self.operator {
            Operator::GreaterThan => label > bound,
            Operator::LessThan => label < bound,
            _ => false,
        }
    }
}

/// The value-count rules of `NewRequirement`, per operator.
fn value_count_errors(operator: Operator, values: &[String]) -> Vec<String> {
    let shown = go_string_slice(values);
    let mut errors = Vec::new();
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => errors.push(invalid_message(
            "values",
            &shown,
            "for 'in', 'notin' operators, values set can't be empty",
        )),
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            errors.push(invalid_message(
                "values",
                &shown,
                "exact-match compatibility requires one single value",
            ));
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            errors.push(invalid_message(
                "values",
                &shown,
                "values set must be empty for exists and does not exist",
            ));
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errors.push(invalid_message(
                    "values",
                    &shown,
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, value) in values.iter().enumerate() {
                if value.parse::<i64>().is_err() {
                    errors.push(invalid_message(
                        &format!("values[{i}]"),
                        &go_quote(value),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        _ => {}
    }
    errors
}

impl fmt::Display for Requirement {
    /// `Requirement.String`: `!k`, `k`, `k=v`, `k in (a,b)`, `k>1`; values sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let separator = match self.operator {
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Exists => return f.write_str(&self.key),
            Operator::In => " in (",
            Operator::NotIn => " notin (",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            other => other.as_str(),
        };
        let close = if separator.ends_with('(') { ")" } else { "" };
        write!(f, "{}{separator}{}{close}", self.key, self.values.join(","))
    }
}

/// A label selector: every requirement must match (AND). [`LabelSelector::nothing`] is the
/// selector that matches no object, which is what a `null` `metav1.LabelSelector` means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// Sorted by key, as kube sorts them, so [`fmt::Display`] is deterministic.
    requirements: Vec<Requirement>,
    /// `labels.Nothing()`: a `null` selector object. Requirements are then empty.
    nothing: bool,
}

impl LabelSelector {
    /// `labels.Everything()`: matches every object, including one without labels.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// `labels.Nothing()`: matches no object.
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Whether the selector restricts nothing (kube's `Empty()`): true for
    /// [`LabelSelector::everything`], false for [`LabelSelector::nothing`], which restricts
    /// everything away.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is [`LabelSelector::nothing`].
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object with these `metadata.labels` (None when absent) is selected. A label
    /// whose value is not a string (which validation never stores) counts as absent.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// `Selector.String`: the requirements joined by `,`; empty for everything and nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// Parses a `labelSelector` query parameter (`labels.Parse`): requirements separated by
/// commas, each `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k>1` or
/// `k<1`. Spaces (and tabs, CR, LF) separate tokens. An empty value is allowed (`k=`,
/// `k in ()` both mean the value ""). The empty string selects everything.
pub fn parse_label_selector(text: &str) -> Result<LabelSelector, String> {
    if text.len() > MAX_SELECTOR_BYTES {
        return Err(format!(
            "label selector is too long: {} bytes, at most {MAX_SELECTOR_BYTES}",
            text.len()
        ));
    }
    let mut parser = Parser {
        items: lex_all(text),
        position: 0,
    };
    Ok(LabelSelector::from_requirements(parser.parse()?))
}

// ---------------------------------------------------------------------------------------------
// The lexer: bytes to tokens, with apimachinery's quirks. Go's lexer reads a 0 byte both at
// the end and for a NUL in the text; kubesim does the same, so a NUL where a token would
// start ends the selector and a NUL inside or right after a token only separates it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A run of special symbols that is no token; unreachable, as every special symbol
    /// alone is one, but kept so the parser reports it as kube would.
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// The literal tokens (`string2token`); anything else scanned is an identifier.
fn literal_token(text: &[u8]) -> Option<Token> {
    Some(match text {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    text: &'a [u8],
    position: usize,
}

impl Lexer<'_> {
    /// The next byte, 0 at the end (without moving past it).
    fn read(&mut self) -> u8 {
        match self.text.get(self.position) {
            Some(&b) => {
                self.position += 1;
                b
            }
            None => 0,
        }
    }

    /// Steps back over a byte [`Lexer::read`] returned (never called after a 0).
    fn unread(&mut self) {
        self.position = self.position.saturating_sub(1);
    }

    fn lex(&mut self) -> (Token, String) {
        let mut b = self.read();
        while is_whitespace(b) {
            b = self.read();
        }
        if b == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(b) {
            self.scan_special_symbol()
        } else {
            self.scan_identifier_or_keyword()
        }
    }

    /// Bytes up to whitespace or a special symbol: a keyword (`in`, `notin`) or identifier.
    fn scan_identifier_or_keyword(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        loop {
            let b = self.read();
            if b == 0 {
                break;
            }
            if is_special_symbol(b) || is_whitespace(b) {
                self.unread();
                break;
            }
            buffer.push(b);
        }
        let token = literal_token(&buffer).unwrap_or(Token::Identifier);
        (token, String::from_utf8_lossy(&buffer).into_owned())
    }

    /// The longest run of special symbols that is a token: `!=` and `==` take two bytes,
    /// everything else one (`=(` is `=` then `(`).
    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        let mut last: Option<(Token, usize)> = None;
        loop {
            let b = self.read();
            if b == 0 {
                break;
            }
            if !is_special_symbol(b) {
                self.unread();
                break;
            }
            buffer.push(b);
            match literal_token(&buffer) {
                Some(token) => last = Some((token, buffer.len())),
                None if last.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        match last {
            Some((token, len)) => {
                let literal = buffer.get(..len).unwrap_or_default();
                (token, String::from_utf8_lossy(literal).into_owned())
            }
            None => {
                let found = String::from_utf8_lossy(&buffer);
                (
                    Token::Error,
                    format!("error expected: keyword found '{found}'"),
                )
            }
        }
    }
}

/// Every token of `text`, ending with one [`Token::EndOfString`]. At most one token per byte.
fn lex_all(text: &str) -> Vec<(Token, String)> {
    let mut lexer = Lexer {
        text: text.as_bytes(),
        position: 0,
    };
    let mut items = Vec::new();
    loop {
        let item = lexer.lex();
        let end = item.0 == Token::EndOfString;
        items.push(item);
        if end {
            return items;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The parser: a recursive descent over the tokens, as apimachinery's `Parser`.

/// Where the parser is: `in` and `notin` are operators after a key but plain values (and
/// keys) everywhere else, so `in in (in)` is a valid selector.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn lookahead(&self, context: Context) -> (Token, &str) {
        match self.items.get(self.position) {
            Some((token, literal)) => (in_context(*token, context), literal.as_str()),
            None => (Token::EndOfString, ""),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.items.get(self.position).cloned();
        self.position += 1;
        match item {
            Some((token, literal)) => (in_context(token, context), literal),
            None => (Token::EndOfString, String::new()),
        }
    }

    /// Requirements separated by commas, up to the end. Each turn consumes a token, so the
    /// loop ends.
    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {}
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
            if requirements.len() == MAX_SELECTOR_TERMS {
                return Err(format!(
                    "label selector has too many requirements: at most {MAX_SELECTOR_TERMS}"
                ));
            }
            let requirement = self
                .parse_requirement()
                .map_err(|e| format!("unable to parse requirement: {e}"))?;
            requirements.push(requirement);
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::EndOfString => return Ok(requirements),
                Token::Comma => {
                    let (next, literal) = self.lookahead(Context::Values);
                    if next != Token::Identifier && next != Token::DoesNotExist {
                        return Err(format!("found '{literal}', expected: identifier after ','"));
                    }
                }
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: ',' or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = unary {
            return Requirement::new(&key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, operator, values)
    }

    /// `[!]key`, checked as a label key; the operator is `exists` (or `!`) when nothing
    /// follows the key.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let mut operator = None;
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let key_errors = is_qualified_name(&literal);
        if !key_errors.is_empty() {
            // kube validates with a nil field path here, which prints as `<nil>`.
            let quoted = go_quote(&literal);
            return Err(invalid_message("<nil>", &quoted, &key_errors.join("; ")));
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{literal}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `(a,b,…)`: a set, so sorted and without duplicates; `()` is the set {""}.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let literal = literal.to_string();
                let values = self.parse_identifiers_list()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values.into_iter().collect())
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    /// Comma-separated values, any of them empty (`(,a)`, `(a,,b)`, `(a,)`), up to a `)`
    /// it leaves unconsumed. Each turn consumes a token, so the loop ends.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing before `,` or the end is "".
    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (next, _) = self.lookahead(Context::Values);
        if next == Token::EndOfString || next == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            return Ok(vec![literal]);
        }
        Err(format!("found '{literal}', expected: identifier"))
    }
}

fn in_context(token: Token, context: Context) -> Token {
    match (context, token) {
        (Context::Values, Token::In | Token::NotIn) => Token::Identifier,
        _ => token,
    }
}

// ---------------------------------------------------------------------------------------------
// metav1.LabelSelector objects

/// `metav1.LabelSelectorAsSelector` over a selector object
/// (`{matchLabels: {k: v}, matchExpressions: [{key, operator, values}]}`):
/// - `null` is [`LabelSelector::nothing`]: it matches no object. A caller whose field
///   defaults to `{}` when absent (webhooks' `namespaceSelector` and `objectSelector`) must
///   default before calling, or pass `{}`.
/// - `{}` (or both lists empty) is [`LabelSelector::everything`].
/// - Operators are `In`, `NotIn`, `Exists` and `DoesNotExist`; anything else fails with
///   `"Gt" is not a valid label selector operator`, and each requirement is checked as
///   [`Requirement::new`] does (the first failing one is the error).
///
/// A value of the wrong JSON type fails with a kubesim message; kube-apiserver rejects those
/// earlier, when decoding the body.
pub fn label_selector_from_object(value: &Value) -> Result<LabelSelector, String> {
    let selector = match value {
        Value::Null => return Ok(LabelSelector::nothing()),
        Value::Object(selector) => selector,
        _ => return Err("label selector must be an object".to_string()),
    };
    let match_labels = object_field(selector, "matchLabels")?;
    let match_expressions = array_field(selector, "matchExpressions")?;
    if match_labels.is_empty() && match_expressions.is_empty() {
        return Ok(LabelSelector::everything());
    }
    let mut requirements = Vec::with_capacity(match_labels.len() + match_expressions.len());
    for (key, value) in match_labels {
        let Some(value) = value.as_str() else {
            return Err(format!("matchLabels.{key}: must be a string"));
        };
        requirements.push(Requirement::new(
            key,
            Operator::Equals,
            vec![value.to_string()],
        )?);
    }
    for expression in match_expressions {
        requirements.push(expression_requirement(expression)?);
    }
    Ok(LabelSelector::from_requirements(requirements))
}

/// One `matchExpressions` entry as a requirement.
fn expression_requirement(expression: &Value) -> Result<Requirement, String> {
    let Some(expression) = expression.as_object() else {
        return Err("matchExpressions: each entry must be an object".to_string());
    };
    let key = string_field(expression, "key")?;
    let operator_name = string_field(expression, "operator")?;
    let operator = match operator_name {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => {
            return Err(format!(
                "{} is not a valid label selector operator",
                go_quote(other)
            ));
        }
    };
    Requirement::new(key, operator, string_list_field(expression, "values")?)
}

/// apimachinery's `ValidateLabelSelector` (with invalid label values refused, as for new
/// objects): the 422 errors of a selector object at `fld_path` (`spec.selector`). `null` has
/// none. Parts of the wrong JSON type are skipped: the schema check reports those.
pub fn validate_label_selector(value: &Value, fld_path: &str) -> Vec<FieldError> {
    let Some(selector) = value.as_object() else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    if let Some(Value::Object(labels)) = selector.get("matchLabels") {
        let pairs = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()));
        let path = format!("{fld_path}.matchLabels");
        for (field, kind, bad_value, detail) in validate_labels(pairs, &path) {
            errors.push(FieldError {
                field,
                kind,
                bad_value: bad_value.unwrap_or(Value::Null),
                detail,
            });
        }
    }
    if let Some(Value::Array(expressions)) = selector.get("matchExpressions") {
        for (i, expression) in expressions.iter().enumerate() {
            let path = format!("{fld_path}.matchExpressions[{i}]");
            errors.extend(validate_expression(expression, &path));
        }
    }
    errors
}

/// `ValidateLabelSelectorRequirement`: the operator and its values, then the key, then each
/// value.
fn validate_expression(expression: &Value, path: &str) -> Vec<FieldError> {
    let text = |name: &str| expression.get(name).and_then(Value::as_str).unwrap_or("");
    let values: Vec<&str> = match expression.get("values") {
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let values_path = format!("{path}.values");
    let mut errors = Vec::new();
    match text("operator") {
        "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
            &values_path,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
            &values_path,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errors.push(FieldError::invalid(
            &format!("{path}.operator"),
            Value::String(other.to_string()),
            "not a valid selector operator",
        )),
    }
    let key = text("key");
    for detail in is_qualified_name(key) {
        let key_path = format!("{path}.key");
        errors.push(FieldError::invalid(&key_path, key.into(), &detail));
    }
    for (i, value) in values.iter().enumerate() {
        for detail in is_valid_label_value(value) {
            let value_path = format!("{values_path}[{i}]");
            errors.push(FieldError::invalid(&value_path, (*value).into(), &detail));
        }
    }
    errors
}

/// The pairs of an object-valued field; none when absent or null.
fn object_field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Vec<(&'a String, &'a Value)>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map.iter().collect()),
        Some(_) => Err(format!("{name}: must be an object")),
    }
}

fn array_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{name}: must be an array")),
    }
}

fn string_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(format!("matchExpressions.{name}: must be a string")),
    }
}

fn string_list_field(object: &Map<String, Value>, name: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in array_field(object, name)? {
        let Some(text) = item.as_str() else {
            return Err(format!("matchExpressions.{name}: must be strings"));
        };
        out.push(text.to_string());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Error text, as apimachinery prints it

/// `field.Invalid(path, value, detail).Error()`, with the value already printed.
fn invalid_message(path: &str, shown_value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {shown_value}: {detail}")
}

/// A `[]string` as Go's `%#v` prints it. kube only reports value lists that are nil (no
/// values, from a selector object) or have values, so an empty list prints as nil.
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `utilerrors.NewAggregate(...).Error()`: distinct messages in order, bare when one.
fn aggregate(errors: Vec<String>) -> String {
    let mut distinct: Vec<String> = Vec::new();
    for error in errors {
        if !distinct.contains(&error) {
            distinct.push(error);
        }
    }
    match distinct.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", distinct.join(", ")),
    }
}

// =============================================================================================
// Field selectors

/// One `field=value` (or `!=`) term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    /// As written; never unescaped (kube supports no escapes on the left).
    field: String,
    /// Unescaped.
    value: String,
    /// `!=`.
    not_equal: bool,
}

/// A field selector: every term must hold (AND). Terms are kept in kube's order (the raw
/// terms sorted), which decides which unsupported field an error names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Parses a `fieldSelector` query parameter (`fields.ParseSelector`): terms separated by
/// commas, each `field=value`, `field==value` or `field!=value`, split at the first operator.
/// In values, `\,`, `\=` and `\\` stand for `,`, `=` and `\`; an unescaped `=` in a value or
/// any other escape is an error. Nothing is trimmed: `a = b` is field `a ` and value ` b`.
pub fn parse_field_selector(text: &str) -> Result<FieldSelector, String> {
    if text.len() > MAX_SELECTOR_BYTES {
        return Err(format!(
            "field selector is too long: {} bytes, at most {MAX_SELECTOR_BYTES}",
            text.len()
        ));
    }
    let mut parts = split_terms(text);
    parts.sort_unstable();
    let mut terms = Vec::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        if terms.len() == MAX_SELECTOR_TERMS {
            return Err(format!(
                "field selector has too many terms: at most {MAX_SELECTOR_TERMS}"
            ));
        }
        let Some((field, not_equal, raw_value)) = split_term(part) else {
            return Err(format!(
                "invalid selector: '{text}'; can't understand '{part}'"
            ));
        };
        terms.push(FieldTerm {
            field: field.to_string(),
            value: unescape_value(raw_value)?,
            not_equal,
        });
    }
    Ok(FieldSelector { terms })
}

/// Splits at commas not escaped by a backslash; escapes stay in the terms.
fn split_terms(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(text.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    terms.push(text.get(start..).unwrap_or_default());
    terms
}

/// `(field, is "!=", raw value)` split at the first `!=`, `==` or `=`, tried in that order at
/// each position.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let (field, rest) = term.split_at_checked(i)?;
        for (operator, not_equal) in [("!=", true), ("==", false), ("=", false)] {
            if let Some(value) = rest.strip_prefix(operator) {
                return Some((field, not_equal, value));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`.
fn unescape_value(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '=' {
            // Go prints the rune with %v: its code point.
            return Err(format!(
                "invalid field selector: unescaped character in value: {}",
                c as u32
            ));
        } else {
            out.push(c);
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// `fields.EscapeValue`: the inverse of [`unescape_value`].
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FieldSelector {
    /// `fields.Everything()`.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Whether the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The fields the terms name, as written, in term order.
    pub fn fields(&self) -> Vec<&str> {
        self.terms.iter().map(|t| t.field.as_str()).collect()
    }

    /// `RequiresExactMatch`: the value an `=` term on `field` demands (the first such term),
    /// so a caller can serve `metadata.name=x` as a single get.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !t.not_equal && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// Whether `object` of `resource`'s kind passes every term. A field the kind does not
    /// select on reads as "" (call [`FieldSelector::check_supported`] first, as kube does).
    pub fn matches(&self, resource: &Resource, object: &Value) -> bool {
        self.terms.iter().all(|term| {
            let actual = field_value(resource, object, &term.field).unwrap_or_default();
            (actual == term.value) != term.not_equal
        })
    }

    /// The per-kind field label conversion: an error naming the first term (in term order)
    /// whose field the kind does not select on. Kinds with their own conversion (pods,
    /// events, namespaces, secrets, services) say `field label not supported: spec.foo`;
    /// the others say `"spec.foo" is not a known field selector: only "metadata.name",
    /// "metadata.namespace"`. kube-apiserver answers either with 400 BadRequest.
    pub fn check_supported(&self, resource: &Resource) -> Result<(), String> {
        let rules = FieldRules::of(resource);
        match self
            .terms
            .iter()
            .find(|t| rules.canonical(&t.field).is_none())
        {
            Some(term) => Err(rules.unsupported_message(&term.field)),
            None => Ok(()),
        }
    }
}

impl fmt::Display for FieldSelector {
    /// `Selector.String`: `field=value` and `field!=value` terms, values escaped, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            let operator = if term.not_equal { "!=" } else { "=" };
            let separator = if i > 0 { "," } else { "" };
            write!(
                f,
                "{separator}{}{operator}{}",
                term.field,
                escape_value(&term.value)
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Selectable fields per kind

/// Which field label conversion a kind has in kube-apiserver (`AddFieldLabelConversionFunc`
/// in `pkg/apis/core/v1/conversion.go`); every other kind gets
/// `DefaultMetaV1FieldSelectorConversion` (name and namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldRules {
    Node,
    Pod,
    Event,
    Namespace,
    Secret,
    Service,
    Default,
}

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

/// Namespaces have no namespace: kube refuses `metadata.namespace` for them.
const NAMESPACE_FIELDS: &[&str] = &["status.phase", "metadata.name"];
const NODE_FIELDS: &[&str] = &["metadata.name", "spec.unschedulable"];
const SECRET_FIELDS: &[&str] = &["type", "metadata.namespace", "metadata.name"];
const SERVICE_FIELDS: &[&str] = &[
    "metadata.namespace",
    "metadata.name",
    "spec.clusterIP",
    "spec.type",
];
const DEFAULT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

impl FieldRules {
    fn of(resource: &Resource) -> FieldRules {
        if !resource.group.is_empty() {
            return FieldRules::Default;
        }
        match resource.kind {
            "Pod" => FieldRules::Pod,
            "Event" => FieldRules::Event,
            "Namespace" => FieldRules::Namespace,
            "Node" => FieldRules::Node,
            "Secret" => FieldRules::Secret,
            "Service" => FieldRules::Service,
            _ => FieldRules::Default,
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            FieldRules::Pod => POD_FIELDS,
            FieldRules::Event => EVENT_FIELDS,
            FieldRules::Namespace => NAMESPACE_FIELDS,
            FieldRules::Node => NODE_FIELDS,
            FieldRules::Secret => SECRET_FIELDS,
            FieldRules::Service => SERVICE_FIELDS,
            FieldRules::Default => DEFAULT_FIELDS,
        }
    }

    /// The field as the kind's selectable field set names it, or None when unsupported.
    /// Pods still take `spec.host`, the pre-v1 name of `spec.nodeName`.
    fn canonical(self, field: &str) -> Option<&'static str> {
        if self == FieldRules::Pod && field == "spec.host" {
            return Some("spec.nodeName");
        }
        self.fields().iter().find(|f| **f == field).copied()
    }

    fn unsupported_message(self, field: &str) -> String {
        if self == FieldRules::Default {
            return format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(field)
            );
        }
        format!("field label not supported: {field}")
    }
}

/// The value `field` has in `object` for selection (the kind's `ToSelectableFields`), or
/// None when the kind does not select on `field`. A supported field the object lacks is "",
/// as kube reads an absent field, and so are `metadata.namespace` of a cluster-scoped
/// object and a pod's `status.podIPs` (accepted by kube's conversion but never in its field
/// set).
pub fn field_value(resource: &Resource, object: &Value, field: &str) -> Option<String> {
    let field = FieldRules::of(resource).canonical(field)?;
    let value = match field {
        "metadata.namespace" if !resource.is_namespaced() => String::new(),
        "spec.hostNetwork" => {
            let host_network = object.pointer("/spec/hostNetwork").and_then(Value::as_bool);
            host_network.unwrap_or(false).to_string()
        }
        "spec.unschedulable" => {
            let cordoned = object
                .pointer("/spec/unschedulable")
                .and_then(Value::as_bool);
            cordoned.unwrap_or(false).to_string()
        }
        "spec.serviceAccountName" => {
            first_non_empty(object, &["spec.serviceAccountName", "spec.serviceAccount"])
        }
        "status.podIP" => pod_ip(object),
        "status.podIPs" => String::new(),
        "source" => first_non_empty(object, &["source.component", "reportingComponent"]),
        other => string_at(object, other),
    };
    Some(value)
}

/// The string at a dotted path, "" when absent or not a string.
fn string_at(object: &Value, dotted: &str) -> String {
    let mut current = object;
    for part in dotted.split('.') {
        match current.get(part) {
            Some(next) => current = next,
            None => return String::new(),
        }
    }
    current.as_str().unwrap_or_default().to_string()
}

/// The first of `paths` with a non-empty string: kube's v1 conversion fills a field from
/// its deprecated alias (`serviceAccount`) or its fallback (`reportingComponent` for an
/// event's `source`) when the field itself is empty.
fn first_non_empty(object: &Value, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|path| string_at(object, path))
        .find(|value| !value.is_empty())
        .unwrap_or_default()
}

/// A pod's primary IP as kube's conversion makes it: `status.podIP` when set (it wins over
/// a different `podIPs[0]`), else `status.podIPs[0].ip`.
fn pod_ip(pod: &Value) -> String {
    let ip = string_at(pod, "status.podIP");
    if !ip.is_empty() {
        return ip;
    }
    pod.pointer("/status/podIPs/0/ip")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    fn resource(group: &str, plural: &str) -> &'static Resource {
        lookup(group, "v1", plural).unwrap()
    }

    fn labels(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn label_err(text: &str) -> String {
        parse_label_selector(text).unwrap_err()
    }

    fn field_err(text: &str) -> String {
        parse_field_selector(text).unwrap_err()
    }

    const KEY_NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    // --- label selector syntax

    #[test]
    fn parses_every_operator_and_prints_sorted_by_key() {
        let selector =
            parse_label_selector("x in (foo,,baz),y,z notin (),!w,a=b,b==c,c!=d,n>1,m<2,k=")
                .unwrap();
        assert_eq!(
            selector.to_string(),
            "a=b,b==c,c!=d,k=,m<2,n>1,!w,x in (,baz,foo),y,z notin ()"
        );
        let ops: Vec<(&str, Operator, Vec<&str>)> = selector
            .requirements()
            .iter()
            .map(|r| {
                let values = r.values().iter().map(String::as_str).collect();
                (r.key(), r.operator(), values)
            })
            .collect();
        assert_eq!(
            ops,
            [
                ("a", Operator::Equals, vec!["b"]),
                ("b", Operator::DoubleEquals, vec!["c"]),
                ("c", Operator::NotEquals, vec!["d"]),
                ("k", Operator::Equals, vec![""]),
                ("m", Operator::LessThan, vec!["2"]),
                ("n", Operator::GreaterThan, vec!["1"]),
                ("w", Operator::DoesNotExist, vec![]),
                ("x", Operator::In, vec!["", "baz", "foo"]),
                ("y", Operator::Exists, vec![]),
                ("z", Operator::NotIn, vec![""]),
            ]
        );
    }

    #[test]
    fn spaces_separate_tokens_and_in_is_a_value_or_key_after_all() {
        let selector = parse_label_selector(" env\t in ( prod , in ) ,\n tier = web ").unwrap();
        assert_eq!(selector.to_string(), "env in (in,prod),tier=web");
        assert_eq!(
            parse_label_selector("in in (notin)").unwrap().to_string(),
            "in in (notin)"
        );
        assert_eq!(
            parse_label_selector("example.com/app.name=a_b-c.d")
                .unwrap()
                .to_string(),
            "example.com/app.name=a_b-c.d"
        );
    }

    #[test]
    fn empty_selectors_select_everything() {
        for text in ["", "   ", "\t\n"] {
            let selector = parse_label_selector(text).unwrap();
            assert!(selector.is_empty(), "{text:?}");
            assert!(selector.matches(None));
            assert_eq!(selector, LabelSelector::everything());
        }
    }

    #[test]
    fn syntax_errors_have_kubes_words() {
        let cases = [
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            ("a,", "found '', expected: identifier after ','"),
            ("a,,b", "found ',', expected: identifier after ','"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a=b=c", "found '=', expected: ',' or 'end of string'"),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "a!b",
                "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "!!a",
                "unable to parse requirement: found '!', expected: identifier",
            ),
            (
                "a in b",
                "unable to parse requirement: found 'b' expected: '('",
            ),
            (
                "a in",
                "unable to parse requirement: found '' expected: '('",
            ),
            (
                "a in (b",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "a in (b c)",
                "unable to parse requirement: found 'c', expected: ',' or ')'",
            ),
            (
                "a in (=)",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            (
                "a in (b,=)",
                "unable to parse requirement: found '=', expected: ',', or identifier",
            ),
            (
                "a===b",
                "unable to parse requirement: found '=', expected: identifier",
            ),
            (
                "a=>1",
                "unable to parse requirement: found '>', expected: identifier",
            ),
            (
                "a=(b)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(label_err(text), want, "{text:?}");
        }
    }

    #[test]
    fn keys_and_values_are_validated_with_kubes_messages() {
        assert_eq!(
            label_err("*bar"),
            format!("unable to parse requirement: <nil>: Invalid value: \"*bar\": {KEY_NAME_PART}")
        );
        assert_eq!(
            label_err("a/b/c=d"),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                KEY_NAME_PART.trim_start_matches("name part ")
            )
        );
        assert_eq!(
            label_err("a=-b"),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"-b\": {LABEL_VALUE}"
            )
        );
        // Sorted set order decides the indexes; two errors aggregate in brackets.
        assert_eq!(
            label_err("a in (z_,-y)"),
            format!(
                "unable to parse requirement: [values[0][a]: Invalid value: \"-y\": {LABEL_VALUE}, values[1][a]: Invalid value: \"z_\": {LABEL_VALUE}]"
            )
        );
        let long = "v".repeat(64);
        assert_eq!(
            label_err(&format!("a={long}")),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"{long}\": must be no more than 63 characters"
            )
        );
    }

    #[test]
    fn gt_and_lt_need_integers() {
        assert_eq!(
            label_err("a>b"),
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert_eq!(
            label_err("a<"),
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        // A negative bound is no label value, so kube cannot parse it either.
        assert_eq!(
            label_err("a>-1"),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"-1\": {LABEL_VALUE}"
            )
        );
        let selector = parse_label_selector("replicas>2,replicas<10").unwrap();
        assert!(selector.matches(Some(&labels(json!({"replicas": "5"})))));
        assert!(!selector.matches(Some(&labels(json!({"replicas": "2"})))));
        assert!(!selector.matches(Some(&labels(json!({"replicas": "10"})))));
        assert!(!selector.matches(Some(&labels(json!({"replicas": "five"})))));
        assert!(!selector.matches(None));
    }

    #[test]
    fn a_nul_ends_the_selector_where_a_token_would_start() {
        // Go's lexer reads NUL as its end-of-input byte: where a token would start (here
        // after a space) it ends the selector; right after a token it is only skipped.
        assert_eq!(
            label_err("a=b, \0c"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(parse_label_selector("a=b \0c").unwrap().to_string(), "a=b");
        assert_eq!(
            parse_label_selector("a=b,\0c").unwrap().to_string(),
            "a=b,c"
        );
        assert_eq!(parse_label_selector("a=\0b").unwrap().to_string(), "a=b");
        assert_eq!(
            label_err("a\0b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
    }

    #[test]
    fn label_selectors_are_bounded() {
        let long = "a".repeat(MAX_SELECTOR_BYTES + 1);
        assert_eq!(
            label_err(&long),
            "label selector is too long: 65537 bytes, at most 65536"
        );
        let many: Vec<String> = (0..=MAX_SELECTOR_TERMS).map(|i| format!("k{i}")).collect();
        assert_eq!(
            label_err(&many.join(",")),
            "label selector has too many requirements: at most 1024"
        );
        let enough = &many[..MAX_SELECTOR_TERMS];
        assert_eq!(
            parse_label_selector(&enough.join(","))
                .unwrap()
                .requirements()
                .len(),
            1024
        );
    }

    // --- label matching

    #[test]
    fn matching_follows_kubes_rules_for_absent_labels() {
        let web = labels(json!({"app": "web", "tier": "", "n": 3}));
        let check = |text: &str| parse_label_selector(text).unwrap().matches(Some(&web));
        assert!(check("app=web"));
        assert!(check("app==web,tier="));
        assert!(!check("app=db"));
        assert!(check("app!=db"));
        assert!(check("missing!=x"), "!= matches an absent label");
        assert!(check("missing notin (x)"), "notin matches an absent label");
        assert!(!check("missing in (x)"));
        assert!(check("app in (db,web)"));
        assert!(!check("app notin (db,web)"));
        assert!(check("tier in ()"), "() is the empty value");
        assert!(!check("app in ()"));
        assert!(check("app,!missing"));
        assert!(!check("!app"));
        // A non-string label value (never stored) counts as absent.
        assert!(check("!n"));
        let none = parse_label_selector("app!=web").unwrap();
        assert!(none.matches(None));
        assert!(!parse_label_selector("app").unwrap().matches(None));
    }

    // --- metav1.LabelSelector objects

    #[test]
    fn null_selects_nothing_and_empty_selects_everything() {
        let nothing = label_selector_from_object(&Value::Null).unwrap();
        assert!(nothing.matches_nothing());
        assert!(!nothing.is_empty());
        assert!(!nothing.matches(None));
        assert!(!nothing.matches(Some(&labels(json!({"a": "b"})))));
        assert_eq!(nothing.to_string(), "");
        for empty in [
            json!({}),
            json!({"matchLabels": {}, "matchExpressions": []}),
            json!({"matchLabels": null}),
        ] {
            let everything = label_selector_from_object(&empty).unwrap();
            assert!(everything.is_empty(), "{empty}");
            assert!(everything.matches(None));
        }
    }

    #[test]
    fn selector_objects_become_requirements() {
        let selector = label_selector_from_object(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a", "b"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists", "values": null},
            ],
        }))
        .unwrap();
        assert_eq!(
            selector.to_string(),
            "app=web,!canary,env notin (dev),team,tier in (a,b)"
        );
        let tier = selector.requirements().last().unwrap();
        assert_eq!(tier.values(), ["a", "b"]);
        assert!(selector.matches(Some(&labels(
            json!({"app": "web", "tier": "a", "team": "x"})
        ))));
        assert!(!selector.matches(Some(&labels(
            json!({"app": "web", "tier": "c", "team": "x"})
        ))));
        assert!(!selector.matches(Some(&labels(
            json!({"app": "web", "tier": "a", "team": "x", "canary": ""})
        ))));
    }

    #[test]
    fn selector_object_errors_have_kubes_words() {
        let err = |value: Value| label_selector_from_object(&value).unwrap_err();
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
            "\"Gt\" is not a valid label selector operator"
        );
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err(
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]})
            ),
            "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and does not exist"
        );
        assert_eq!(
            err(json!({"matchLabels": {"a b": "-c"}})),
            format!(
                "[key: Invalid value: \"a b\": {KEY_NAME_PART}, values[0][a b]: Invalid value: \"-c\": {LABEL_VALUE}]"
            )
        );
        // Error paths index the values as written, before they are sorted.
        assert_eq!(
            err(
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["ok", "-x"]}]})
            ),
            format!("values[1][a]: Invalid value: \"-x\": {LABEL_VALUE}")
        );
        assert_eq!(err(json!("app=web")), "label selector must be an object");
        assert_eq!(
            err(json!({"matchLabels": {"a": 1}})),
            "matchLabels.a: must be a string"
        );
        assert_eq!(
            err(json!({"matchExpressions": {}})),
            "matchExpressions: must be an array"
        );
    }

    #[test]
    fn requirement_new_checks_value_counts() {
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Requirement::new("a", Operator::Equals, values(&["x", "y"])).unwrap_err(),
            "values: Invalid value: []string{\"x\", \"y\"}: exact-match compatibility requires one single value"
        );
        assert_eq!(
            Requirement::new("a", Operator::GreaterThan, values(&["1", "x"])).unwrap_err(),
            "[values: Invalid value: []string{\"1\", \"x\"}: for 'Gt', 'Lt' operators, exactly one value is required, values[1]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer]"
        );
        assert!(Requirement::new("a", Operator::NotIn, values(&[""])).is_ok());
    }

    #[test]
    fn validate_label_selector_reports_422_causes() {
        let errors = validate_label_selector(
            &json!({
                "matchLabels": {"app": "-web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In"},
                    {"key": "x", "operator": "Exists", "values": ["a"]},
                    {"key": "-y", "operator": "Gt", "values": ["-1"]},
                ],
            }),
            "spec.selector",
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                format!("spec.selector.matchLabels: Invalid value: \"-web\": {LABEL_VALUE}"),
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_string(),
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_string(),
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Gt\": not a valid selector operator".to_string(),
                format!("spec.selector.matchExpressions[2].key: Invalid value: \"-y\": {KEY_NAME_PART}"),
                format!("spec.selector.matchExpressions[2].values[0]: Invalid value: \"-1\": {LABEL_VALUE}"),
            ]
        );
        assert!(validate_label_selector(&Value::Null, "spec.selector").is_empty());
        assert!(validate_label_selector(&json!({"matchLabels": {"app": "web"}}), "s").is_empty());
    }

    // --- field selector syntax

    #[test]
    fn field_terms_parse_sorted_with_escapes() {
        let selector = parse_field_selector(
            "status.phase!=Running,metadata.name==a\\,b\\=c\\\\,spec.nodeName=",
        )
        .unwrap();
        assert_eq!(
            selector.fields(),
            ["metadata.name", "spec.nodeName", "status.phase"]
        );
        assert_eq!(
            selector.requires_exact_match("metadata.name"),
            Some("a,b=c\\")
        );
        assert_eq!(selector.requires_exact_match("status.phase"), None);
        assert_eq!(
            selector.to_string(),
            "metadata.name=a\\,b\\=c\\\\,spec.nodeName=,status.phase!=Running"
        );
        // Empty terms are skipped; nothing is trimmed; the first operator splits.
        let odd = parse_field_selector(",a = b,,c=!d,").unwrap();
        assert_eq!(odd.fields(), ["a ", "c"]);
        assert_eq!(odd.to_string(), "a = b,c=!d");
        // Non-ASCII text passes through whole.
        let unicode = parse_field_selector("metadata.name=é\\,ü,spec.nodeName!=ñ").unwrap();
        assert_eq!(unicode.requires_exact_match("metadata.name"), Some("é,ü"));
        assert_eq!(unicode.to_string(), "metadata.name=é\\,ü,spec.nodeName!=ñ");
        assert!(parse_field_selector("").unwrap().is_empty());
        assert!(parse_field_selector(",,").unwrap().is_empty());
        assert_eq!(parse_field_selector(""), Ok(FieldSelector::everything()));
    }

    #[test]
    fn field_selector_errors_have_kubes_words() {
        assert_eq!(
            field_err("metadata.name=a,spec"),
            "invalid selector: 'metadata.name=a,spec'; can't understand 'spec'"
        );
        assert_eq!(
            field_err("a=b=c"),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            field_err("a=b\\c"),
            "invalid field selector: invalid escape sequence: \\c"
        );
        assert_eq!(
            field_err("a=b\\"),
            "invalid field selector: invalid escape sequence: \\"
        );
        // An escaped comma stays in its term; an escaped backslash does not escape the comma.
        let joined = parse_field_selector("a=b\\,c").unwrap();
        assert_eq!(joined.requires_exact_match("a"), Some("b,c"));
        let split = parse_field_selector("a=\\\\,b=c").unwrap();
        assert_eq!(split.requires_exact_match("a"), Some("\\"));
        assert_eq!(split.requires_exact_match("b"), Some("c"));
    }

    #[test]
    fn field_selectors_are_bounded() {
        let long = "a=".to_string() + &"b".repeat(MAX_SELECTOR_BYTES);
        assert_eq!(
            field_err(&long),
            "field selector is too long: 65538 bytes, at most 65536"
        );
        let many: Vec<String> = (0..=MAX_SELECTOR_TERMS)
            .map(|i| format!("f{i}=x"))
            .collect();
        assert_eq!(
            field_err(&many.join(",")),
            "field selector has too many terms: at most 1024"
        );
    }

    // --- field support and values per kind

    #[test]
    fn nodes_select_on_name_and_unschedulable() {
        let nodes = resource("", "nodes");
        let cordoned = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        assert_eq!(
            field_value(nodes, &cordoned, "spec.unschedulable").as_deref(),
            Some("true")
        );
        let open = json!({"metadata": {"name": "n2"}});
        assert_eq!(
            field_value(nodes, &open, "spec.unschedulable").as_deref(),
            Some("false")
        );
        assert_eq!(
            field_value(nodes, &open, "metadata.name").as_deref(),
            Some("n2")
        );
        assert_eq!(field_value(nodes, &open, "metadata.namespace"), None);
    }

    #[test]
    fn unsupported_fields_are_named_as_kube_names_them() {
        let pods = resource("", "pods");
        let selector = parse_field_selector("spec.foo=1,metadata.name=a,spec.bar=2").unwrap();
        assert_eq!(
            selector.check_supported(pods).unwrap_err(),
            "field label not supported: spec.bar"
        );
        let configmaps = resource("", "configmaps");
        assert_eq!(
            parse_field_selector("data.x=1")
                .unwrap()
                .check_supported(configmaps)
                .unwrap_err(),
            "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let deployments = resource("apps", "deployments");
        assert_eq!(
            parse_field_selector("status.replicas=1")
                .unwrap()
                .check_supported(deployments)
                .unwrap_err(),
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let namespaces = resource("", "namespaces");
        assert_eq!(
            parse_field_selector("metadata.namespace=x")
                .unwrap()
                .check_supported(namespaces)
                .unwrap_err(),
            "field label not supported: metadata.namespace"
        );
        for (plural, text) in [
            ("pods", "spec.host=n1,status.podIPs=,spec.hostNetwork=true"),
            (
                "events",
                "involvedObject.uid=u,source=kubelet,reportingComponent=x",
            ),
            ("secrets", "type=Opaque,metadata.namespace=default"),
            ("services", "spec.clusterIP=None,spec.type=ClusterIP"),
            ("namespaces", "status.phase=Active,metadata.name=default"),
        ] {
            let selector = parse_field_selector(text).unwrap();
            assert_eq!(
                selector.check_supported(resource("", plural)),
                Ok(()),
                "{plural}"
            );
        }
        let roles = resource("rbac.authorization.k8s.io", "clusterroles");
        assert_eq!(
            parse_field_selector("metadata.namespace=")
                .unwrap()
                .check_supported(roles),
            Ok(())
        );
    }

    #[test]
    fn pod_field_values_follow_kubes_conversion() {
        let pods = resource("", "pods");
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "serviceAccount": "old"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.2"}, {"ip": "fd00::2"}]},
        });
        let value = |field: &str| field_value(pods, &pod, field);
        assert_eq!(value("metadata.name").as_deref(), Some("web"));
        assert_eq!(value("metadata.namespace").as_deref(), Some("default"));
        assert_eq!(value("spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(value("spec.host").as_deref(), Some("n1"));
        assert_eq!(value("spec.restartPolicy").as_deref(), Some("Always"));
        assert_eq!(value("spec.schedulerName").as_deref(), Some(""));
        assert_eq!(value("spec.serviceAccountName").as_deref(), Some("old"));
        assert_eq!(value("spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(value("status.phase").as_deref(), Some("Running"));
        assert_eq!(value("status.podIP").as_deref(), Some("10.0.0.2"));
        assert_eq!(value("status.podIPs").as_deref(), Some(""));
        assert_eq!(value("status.nominatedNodeName").as_deref(), Some(""));
        assert_eq!(value("spec.containers"), None);

        let mut newer = pod.clone();
        newer["spec"]["hostNetwork"] = json!(true);
        newer["spec"]["serviceAccountName"] = json!("new");
        newer["status"]["podIP"] = json!("10.9.9.9");
        assert_eq!(
            field_value(pods, &newer, "spec.hostNetwork").as_deref(),
            Some("true")
        );
        assert_eq!(
            field_value(pods, &newer, "spec.serviceAccountName").as_deref(),
            Some("new")
        );
        assert_eq!(
            field_value(pods, &newer, "status.podIP").as_deref(),
            Some("10.9.9.9")
        );
    }

    #[test]
    fn other_kinds_field_values() {
        let event = json!({
            "metadata": {"name": "e1", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "web", "uid": "u-1", "fieldPath": "spec"},
            "reason": "Started",
            "type": "Normal",
            "reportingComponent": "kubelet",
        });
        let events = resource("", "events");
        assert_eq!(
            field_value(events, &event, "involvedObject.kind").as_deref(),
            Some("Pod")
        );
        assert_eq!(
            field_value(events, &event, "involvedObject.uid").as_deref(),
            Some("u-1")
        );
        assert_eq!(
            field_value(events, &event, "involvedObject.namespace").as_deref(),
            Some("")
        );
        assert_eq!(
            field_value(events, &event, "source").as_deref(),
            Some("kubelet")
        );
        let mut sourced = event.clone();
        sourced["source"] = json!({"component": "scheduler"});
        assert_eq!(
            field_value(events, &sourced, "source").as_deref(),
            Some("scheduler")
        );
        assert_eq!(
            field_value(events, &event, "reportingComponent").as_deref(),
            Some("kubelet")
        );

        let secrets = resource("", "secrets");
        let secret = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"});
        assert_eq!(
            field_value(secrets, &secret, "type").as_deref(),
            Some("kubernetes.io/tls")
        );
        assert_eq!(field_value(secrets, &secret, "data"), None);

        let namespaces = resource("", "namespaces");
        let ns = json!({"metadata": {"name": "prod"}, "status": {"phase": "Terminating"}});
        assert_eq!(
            field_value(namespaces, &ns, "status.phase").as_deref(),
            Some("Terminating")
        );
        assert_eq!(field_value(namespaces, &ns, "metadata.namespace"), None);

        let services = resource("", "services");
        let svc =
            json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "type": "ClusterIP"}});
        assert_eq!(
            field_value(services, &svc, "spec.clusterIP").as_deref(),
            Some("None")
        );
        assert_eq!(
            field_value(services, &svc, "spec.type").as_deref(),
            Some("ClusterIP")
        );

        // A cluster-scoped kind has no namespace field: it reads "", whatever the object says.
        let roles = resource("rbac.authorization.k8s.io", "clusterroles");
        let role = json!({"metadata": {"name": "admin", "namespace": "stray"}});
        assert_eq!(
            field_value(roles, &role, "metadata.namespace").as_deref(),
            Some("")
        );
        assert_eq!(
            field_value(roles, &role, "metadata.name").as_deref(),
            Some("admin")
        );
    }

    #[test]
    fn field_matching() {
        let pods = resource("", "pods");
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running"},
        });
        let check = |text: &str| parse_field_selector(text).unwrap().matches(pods, &pod);
        assert!(check(""));
        assert!(check("spec.nodeName=n1,status.phase!=Pending"));
        assert!(check("spec.host==n1"));
        assert!(!check("spec.nodeName=n2"));
        assert!(check("spec.schedulerName="), "absent reads as \"\"");
        assert!(!check("spec.schedulerName!="));
        assert!(check("status.podIPs="));
        assert!(check("metadata.name=web,metadata.namespace=default"));
        assert!(!check("metadata.name!=web"));
        // Unchecked unsupported fields read as "".
        assert!(check("spec.bogus="));
    }
}
