//! Per-type policies of Rich Authorization Requests (RFC 9396; AUT-9611): a small declarative
//! rule set in JSON, evaluated on data only. A leaf: it names nothing else in the crate, so the
//! authorization endpoint (user context), the token endpoint (machine context), the management
//! API (developer context) and dynamic registration (DCR context) all call the same
//! [`evaluate`] with a [`PolicyInput`] they build.
//!
//! ```json
//! { "rules": [
//!     { "when": { "all": [ { "path": "detail.instructedAmount.amount", "op": "<=", "value": 1000 },
//!                          { "not": { "path": "context.acr", "op": "==", "value": "urn:low" } } ] },
//!       "effect": "allow" },
//!     { "when": { "path": "client.software_statement.org_id", "op": "in", "value": ["org-1", "org-2"] },
//!       "effect": "allow" } ],
//!   "otherwise": { "effect": "deny", "reason": "amount above the limit", "error": "access_denied" } }
//! ```
//!
//! The first rule whose `when` holds decides; none does: `otherwise`. A condition is `all`, `any`
//! (lists of conditions), `not` (one), or a comparison of the value at `path` with `value`:
//! `==`, `!=`, `<`, `<=`, `>`, `>=` (numbers, or strings that are numbers, as Open Finance writes
//! amounts), `in` and `not_in` (`value` a list), `exists` and `absent` (no `value`). Paths start
//! with `detail`, `client`, `request` or `context` and go down by member name (or array index).
//! A comparison with a missing value is false (so `not` of it is true): write `exists` first
//! where absence must deny. A deny's `error` is `access_denied` (the default) or
//! `invalid_authorization_details`; its `reason` reaches the client as the error description.

use serde_json::Value;

/// Where a policy applies: which of a type's four policies is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyContext {
    /// Authorization-code flows, when the user consents (with the authentication context).
    User,
    /// `client_credentials` at the token endpoint.
    Machine,
    /// A client registering with the type through dynamic client registration.
    Dcr,
    /// A client created or updated with the type through the management API.
    Developer,
}

impl PolicyContext {
    pub const ALL: [PolicyContext; 4] = [PolicyContext::User, PolicyContext::Machine, PolicyContext::Dcr, PolicyContext::Developer];

    /// The member of a type's `policies` object.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyContext::User => "user",
            PolicyContext::Machine => "machine",
            PolicyContext::Dcr => "dcr",
            PolicyContext::Developer => "developer",
        }
    }
}

/// What a policy reads: the detail (for DCR and developer contexts `{"type": name}`), the client's
/// metadata, the request, and the authentication context (`null` outside the user context).
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub detail: &'a Value,
    pub client: &'a Value,
    pub request: &'a Value,
    pub context: &'a Value,
}

/// How a deny reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyAs {
    AccessDenied,
    InvalidAuthorizationDetails,
}

impl DenyAs {
    pub fn code(self) -> &'static str {
        match self {
            DenyAs::AccessDenied => "access_denied",
            DenyAs::InvalidAuthorizationDetails => "invalid_authorization_details",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny { reason: String, error: DenyAs },
}

/// A policy refused when saved: `at` locates the fault inside the policy (`rules/0/when/all/1/op`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {why}")]
pub struct PolicyError {
    pub at: String,
    pub why: String,
}

/// Bounds on a policy an administrator writes (evaluation runs on every such request).
pub const MAX_RULES: usize = 50;
pub const MAX_CONDITIONS: usize = 200;
pub const MAX_DEPTH: usize = 16;
pub const MAX_REASON: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    rules: Vec<(Condition, Outcome)>,
    otherwise: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Allow,
    Deny { reason: String, error: DenyAs },
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Compare { path: Vec<String>, op: Op, value: Value },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Exists,
    Absent,
}

const ROOTS: [&str; 4] = ["detail", "client", "request", "context"];

fn fail(at: &str, why: impl Into<String>) -> PolicyError {
    PolicyError { at: at.to_string(), why: why.into() }
}

fn members<'a>(v: &'a Value, at: &str, allowed: &[&str]) -> Result<&'a serde_json::Map<String, Value>, PolicyError> {
    let o = v.as_object().ok_or_else(|| fail(at, "must be an object"))?;
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(fail(at, format!("unknown member '{k}' (allowed: {})", allowed.join(", "))));
    }
    Ok(o)
}

impl Policy {
    /// Parses and checks a policy document; a fault names its place.
    pub fn parse(v: &Value) -> Result<Policy, PolicyError> {
        let o = members(v, "(policy)", &["rules", "otherwise"])?;
        let mut count = 0;
        let rules = match o.get("rules") {
            None => Vec::new(),
            Some(Value::Array(rs)) if rs.len() <= MAX_RULES => rs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let at = format!("rules/{i}");
                    let ro = members(r, &at, &["when", "effect", "reason", "error"])?;
                    let when = ro.get("when").ok_or_else(|| fail(&at, "needs 'when'"))?;
                    Ok((condition(when, &format!("{at}/when"), 0, &mut count)?, outcome(ro, &at)?))
                })
                .collect::<Result<_, PolicyError>>()?,
            Some(_) => return Err(fail("rules", format!("must be a list of at most {MAX_RULES} rules"))),
        };
        let otherwise = match o.get("otherwise") {
            Some(x) => outcome(members(x, "otherwise", &["effect", "reason", "error"])?, "otherwise")?,
            None => return Err(fail("otherwise", "is required: the decision when no rule matches (allow or deny)")),
        };
        Ok(Policy { rules, otherwise })
    }

    /// The decision for one input: the first rule whose condition holds, else `otherwise`.
    pub fn decide(&self, input: &PolicyInput) -> Decision {
        let outcome = self.rules.iter().find(|(c, _)| holds(c, input)).map_or(&self.otherwise, |(_, o)| o);
        match outcome {
            Outcome::Allow => Decision::Allow,
            Outcome::Deny { reason, error } => Decision::Deny { reason: reason.clone(), error: *error },
        }
    }
}

/// The plain entry point: `policy` as stored (already checked when saved; a document that no
/// longer parses denies, as a rule nobody can read must not let anything through).
pub fn evaluate(policy: &Value, input: &PolicyInput) -> Decision {
    match Policy::parse(policy) {
        Ok(p) => p.decide(input),
        Err(e) => Decision::Deny { reason: format!("the policy cannot be evaluated ({e})"), error: DenyAs::AccessDenied },
    }
}

fn outcome(o: &serde_json::Map<String, Value>, at: &str) -> Result<Outcome, PolicyError> {
    let reason = match o.get("reason") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_REASON && s.chars().all(|c| !c.is_control()) => Some(s.clone()),
        Some(_) => return Err(fail(&format!("{at}/reason"), format!("must be a text of 1 to {MAX_REASON} characters"))),
    };
    let error = match o.get("error").map(|e| e.as_str()) {
        None | Some(Some("access_denied")) => DenyAs::AccessDenied,
        Some(Some("invalid_authorization_details")) => DenyAs::InvalidAuthorizationDetails,
        Some(_) => return Err(fail(&format!("{at}/error"), "must be access_denied or invalid_authorization_details")),
    };
    match o.get("effect").and_then(Value::as_str) {
        Some("allow") if o.contains_key("error") || reason.is_some() => Err(fail(at, "an allow takes no reason or error")),
        Some("allow") => Ok(Outcome::Allow),
        Some("deny") => Ok(Outcome::Deny { reason: reason.unwrap_or_else(|| "denied by the policy of the authorization details type".into()), error }),
        _ => Err(fail(&format!("{at}/effect"), "must be allow or deny")),
    }
}

fn condition(v: &Value, at: &str, depth: usize, count: &mut usize) -> Result<Condition, PolicyError> {
    *count += 1;
    if depth > MAX_DEPTH || *count > MAX_CONDITIONS {
        return Err(fail(at, format!("the policy is too large (at most {MAX_CONDITIONS} conditions, {MAX_DEPTH} levels)")));
    }
    let o = v.as_object().ok_or_else(|| fail(at, "a condition is an object: all, any, not, or path/op/value"))?;
    if o.len() == 1 {
        if let Some(items) = o.get("all") {
            return Ok(Condition::All(list(at, "all", items, depth, count)?));
        }
        if let Some(items) = o.get("any") {
            return Ok(Condition::Any(list(at, "any", items, depth, count)?));
        }
        if let Some(c) = o.get("not") {
            return Ok(Condition::Not(Box::new(condition(c, &format!("{at}/not"), depth + 1, count)?)));
        }
    }
    let o = members(v, at, &["path", "op", "value"])?;
    let path_text = o.get("path").and_then(Value::as_str).ok_or_else(|| fail(&format!("{at}/path"), "is required (e.g. detail.instructedAmount.amount)"))?;
    let path: Vec<String> = path_text.split('.').map(str::to_string).collect();
    if !ROOTS.contains(&path[0].as_str()) || path.iter().any(String::is_empty) || path.len() > 16 {
        return Err(fail(&format!("{at}/path"), format!("'{path_text}' must start with detail, client, request or context, with member names separated by '.'")));
    }
    let op = match o.get("op").and_then(Value::as_str) {
        Some("==") => Op::Eq,
        Some("!=") => Op::Ne,
        Some("<") => Op::Lt,
        Some("<=") => Op::Le,
        Some(">") => Op::Gt,
        Some(">=") => Op::Ge,
        Some("in") => Op::In,
        Some("not_in") => Op::NotIn,
        Some("exists") => Op::Exists,
        Some("absent") => Op::Absent,
        _ => return Err(fail(&format!("{at}/op"), "must be one of ==, !=, <, <=, >, >=, in, not_in, exists, absent")),
    };
    let value = o.get("value").cloned();
    let value = match (op, value) {
        (Op::Exists | Op::Absent, None) => Value::Null,
        (Op::Exists | Op::Absent, Some(_)) => return Err(fail(&format!("{at}/value"), "exists and absent take no value")),
        (_, None) => return Err(fail(&format!("{at}/value"), "is required")),
        (Op::In | Op::NotIn, Some(v)) if !v.is_array() => return Err(fail(&format!("{at}/value"), "must be a list for in and not_in")),
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, Some(v)) if number(&v).is_none() => return Err(fail(&format!("{at}/value"), "must be a number for <, <=, > and >=")),
        (_, Some(v)) => v,
    };
    Ok(Condition::Compare { path, op, value })
}

fn list(at: &str, key: &str, items: &Value, depth: usize, count: &mut usize) -> Result<Vec<Condition>, PolicyError> {
    let items = items.as_array().filter(|a| !a.is_empty()).ok_or_else(|| fail(&format!("{at}/{key}"), "must be a non-empty list of conditions"))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        out.push(condition(c, &format!("{at}/{key}/{i}"), depth + 1, count)?);
    }
    Ok(out)
}

/// A number, or a string that is one (`"1000.00"`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // JSON's number syntax, through serde_json's parser (core's `f64::from_str` would add its
        // tables to the bundle for this one use).
        Value::String(s) if !s.is_empty() && s.len() <= 64 => serde_json::from_str::<serde_json::Number>(s).ok().and_then(|n| n.as_f64()),
        _ => None,
    }
}

fn lookup<'a>(input: &PolicyInput<'a>, path: &[String]) -> Option<&'a Value> {
    let mut v = match path[0].as_str() {
        "detail" => input.detail,
        "client" => input.client,
        "request" => input.request,
        _ => input.context,
    };
    for p in &path[1..] {
        v = match v {
            Value::Object(o) => o.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!v.is_null()).then_some(v)
}

/// Equality, with numbers compared by value (`1000` equals `"1000.00"`).
fn same(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) if a.is_number() || b.is_number() => x == y,
        _ => a == b,
    }
}

fn holds(c: &Condition, input: &PolicyInput) -> bool {
    match c {
        Condition::All(cs) => cs.iter().all(|c| holds(c, input)),
        Condition::Any(cs) => cs.iter().any(|c| holds(c, input)),
        Condition::Not(c) => !holds(c, input),
        Condition::Compare { path, op, value } => {
            let found = lookup(input, path);
            match op {
                Op::Exists => found.is_some(),
                Op::Absent => found.is_none(),
                _ => {
                    let Some(found) = found else { return false };
                    let order = || number(found).zip(number(value)).and_then(|(a, b)| a.partial_cmp(&b));
                    let listed = || value.as_array().is_some_and(|l| l.iter().any(|x| same(found, x)));
                    match op {
                        Op::Eq => same(found, value),
                        Op::Ne => !same(found, value),
                        Op::Lt => order().is_some_and(|o| o.is_lt()),
                        Op::Le => order().is_some_and(|o| o.is_le()),
                        Op::Gt => order().is_some_and(|o| o.is_gt()),
                        Op::Ge => order().is_some_and(|o| o.is_ge()),
                        Op::In => listed(),
                        Op::NotIn => !listed(),
                        Op::Exists | Op::Absent => unreachable!("handled above"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decide(policy: Value, detail: Value, client: Value, context: Value) -> Decision {
        let p = Policy::parse(&policy).unwrap();
        p.decide(&PolicyInput { detail: &detail, client: &client, request: &json!({}), context: &context })
    }

    #[test]
    fn the_first_matching_rule_decides_else_otherwise() {
        let policy = json!({
            "rules": [{ "when": { "all": [
                { "path": "detail.instructedAmount.amount", "op": "<=", "value": 1000 },
                { "not": { "path": "context.acr", "op": "==", "value": "low" } }
            ] }, "effect": "allow" }],
            "otherwise": { "effect": "deny", "reason": "over the limit", "error": "invalid_authorization_details" }
        });
        let deny = Decision::Deny { reason: "over the limit".into(), error: DenyAs::InvalidAuthorizationDetails };
        assert_eq!(decide(policy.clone(), json!({"instructedAmount": {"amount": "999.99"}}), json!({}), json!({"acr": "high"})), Decision::Allow);
        assert_eq!(decide(policy.clone(), json!({"instructedAmount": {"amount": "1000.01"}}), json!({}), json!({})), deny);
        assert_eq!(decide(policy.clone(), json!({"instructedAmount": {"amount": 10}}), json!({}), json!({"acr": "low"})), deny);
        assert_eq!(decide(policy, json!({}), json!({}), json!({})), deny, "a missing amount is no comparison that holds");
    }

    #[test]
    fn in_lists_reach_into_the_client() {
        let policy = json!({
            "rules": [{ "when": { "path": "client.software_statement.org_id", "op": "in", "value": ["org-1", "org-2"] }, "effect": "allow" }],
            "otherwise": { "effect": "deny", "reason": "unknown organisation" }
        });
        assert_eq!(decide(policy.clone(), json!({}), json!({"software_statement": {"org_id": "org-2"}}), Value::Null), Decision::Allow);
        assert_eq!(decide(policy, json!({}), json!({"software_statement": {"org_id": "org-3"}}), Value::Null), Decision::Deny { reason: "unknown organisation".into(), error: DenyAs::AccessDenied });
    }

    #[test]
    fn exists_absent_any_and_array_indexes() {
        let policy = json!({
            "rules": [
                { "when": { "path": "detail.locations", "op": "absent" }, "effect": "deny", "reason": "locations needed" },
                { "when": { "any": [{ "path": "detail.locations.0", "op": "==", "value": "https://a.example" }, { "path": "detail.actions.1", "op": "exists" }] }, "effect": "allow" }
            ],
            "otherwise": { "effect": "deny" }
        });
        assert!(matches!(decide(policy.clone(), json!({}), json!({}), json!({})), Decision::Deny { ref reason, .. } if reason == "locations needed"));
        assert_eq!(decide(policy.clone(), json!({"locations": ["https://a.example"]}), json!({}), json!({})), Decision::Allow);
        assert_eq!(decide(policy.clone(), json!({"locations": ["x"], "actions": ["r", "w"]}), json!({}), json!({})), Decision::Allow);
        assert!(matches!(decide(policy, json!({"locations": ["x"]}), json!({}), json!({})), Decision::Deny { .. }));
    }

    #[test]
    fn bad_policies_are_refused_with_their_location() {
        for (p, at) in [
            (json!({"rules": []}), "otherwise"),
            (json!({"rules": [], "otherwise": {"effect": "maybe"}}), "otherwise/effect"),
            (json!({"rules": [{"when": {"path": "detail.a", "op": "=>", "value": 1}, "effect": "allow"}], "otherwise": {"effect": "deny"}}), "rules/0/when/op"),
            (json!({"rules": [{"when": {"all": [{"path": "x.a", "op": "==", "value": 1}]}, "effect": "allow"}], "otherwise": {"effect": "deny"}}), "rules/0/when/all/0/path"),
            (json!({"rules": [{"when": {"path": "detail.a", "op": "<", "value": "abc"}, "effect": "allow"}], "otherwise": {"effect": "deny"}}), "rules/0/when/value"),
            (json!({"rules": [{"when": {"any": []}, "effect": "allow"}], "otherwise": {"effect": "deny"}}), "rules/0/when/any"),
            (json!({"rules": [], "otherwise": {"effect": "deny", "error": "server_error"}}), "otherwise/error"),
            (json!({"rules": [], "otherwise": {"effect": "allow", "reason": "x"}}), "otherwise"),
            (json!({"rule": []}), "(policy)"),
        ] {
            assert_eq!(Policy::parse(&p).unwrap_err().at, at, "{p}");
        }
        let mut deep = json!({"path": "detail.a", "op": "exists"});
        for _ in 0..20 {
            deep = json!({ "not": deep });
        }
        assert!(Policy::parse(&json!({"rules": [{"when": deep, "effect": "allow"}], "otherwise": {"effect": "deny"}})).unwrap_err().why.contains("too large"));
    }

    #[test]
    fn evaluate_denies_on_a_policy_it_cannot_read() {
        let input = PolicyInput { detail: &Value::Null, client: &Value::Null, request: &Value::Null, context: &Value::Null };
        assert!(matches!(evaluate(&json!({"nonsense": 1}), &input), Decision::Deny { error: DenyAs::AccessDenied, .. }));
        assert_eq!(evaluate(&json!({"otherwise": {"effect": "allow"}}), &input), Decision::Allow);
    }
}
