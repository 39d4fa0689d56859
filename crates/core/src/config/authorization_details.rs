//! A workspace's authorization details types (RFC 9396; AUT-9555/9556/9557/9611): each a unique
//! `type`, the service (resource server) it belongs to, a description, the JSON Schema every
//! detail of the type must satisfy, and optional policies for the four contexts of
//! [`PolicyContext`].
//!
//! One KV document per workspace (`rar/{tenant}/{workspace}`), apart from the workspace
//! configuration: only requests that carry `authorization_details`, discovery (when the workspace
//! has not switched the feature off) and the management API read it, so the configuration every
//! request reads stays small. The feature is on where the tenant's flag
//! [`FEATURE_FLAG`] is true and the workspace has not set `rich_authorization_requests: false`.

use super::{TenantConfig, WorkspaceConfig};
use crate::error::OAuthError;
use crate::json_schema::Schema;
use crate::policy::{self, Decision, Policy, PolicyContext, PolicyInput};
use crate::runtime::{KvStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The tenant feature flag that enables Rich Authorization Requests.
pub const FEATURE_FLAG: &str = "rich_authorization_requests";
pub const TYPES_VERSION: u32 = 1;
/// At most this many types per workspace (discovery lists them all).
pub const MAX_TYPES: usize = 100;
/// A type's schema, serialized, is at most this long.
pub const MAX_SCHEMA_BYTES: usize = 32 * 1024;

pub fn types_key(tenant: &str, workspace: &str) -> String {
    format!("rar/{tenant}/{workspace}")
}

/// Whether Rich Authorization Requests are on: the tenant's flag, and the workspace's switch.
pub fn enabled(tenant: Option<&TenantConfig>, workspace: &WorkspaceConfig) -> bool {
    workspace.rich_authorization_requests && tenant.is_some_and(|t| t.features.get(FEATURE_FLAG) == Some(&true))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDetailsTypes {
    #[serde(default = "version")]
    pub version: u32,
    #[serde(default)]
    pub types: Vec<AuthorizationDetailsType>,
}

impl Default for AuthorizationDetailsTypes {
    fn default() -> Self {
        AuthorizationDetailsTypes { version: TYPES_VERSION, types: Vec::new() }
    }
}

fn version() -> u32 {
    TYPES_VERSION
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDetailsType {
    #[serde(rename = "type")]
    pub name: String,
    /// The resource server (audience) the type belongs to.
    pub service: String,
    #[serde(default)]
    pub description: String,
    /// Every detail of this type must satisfy it; it must define the `type` property.
    pub schema: Value,
    #[serde(default, skip_serializing_if = "Policies::is_empty")]
    pub policies: Policies,
}

/// A type's policies, one per context; absent: allowed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcr: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer: Option<Value>,
}

impl Policies {
    fn is_empty(&self) -> bool {
        self.get(PolicyContext::User).is_none() && self.get(PolicyContext::Machine).is_none() && self.get(PolicyContext::Dcr).is_none() && self.get(PolicyContext::Developer).is_none()
    }

    pub fn get(&self, c: PolicyContext) -> Option<&Value> {
        match c {
            PolicyContext::User => self.user.as_ref(),
            PolicyContext::Machine => self.machine.as_ref(),
            PolicyContext::Dcr => self.dcr.as_ref(),
            PolicyContext::Developer => self.developer.as_ref(),
        }
    }
}

/// A type name: printable ASCII without spaces (URIs and plain names both fit), 1-256 long.
pub fn valid_type_name(name: &str) -> bool {
    (1..=256).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

fn invalid(field: &str, why: &str) -> OAuthError {
    OAuthError::invalid_configuration(field, why)
}

impl AuthorizationDetailsType {
    /// Every rule a stored type satisfies; the error names the field and, for a schema or a
    /// policy, the place inside it. Returns the compiled schema.
    pub fn validate(&self) -> Result<Schema, OAuthError> {
        if !valid_type_name(&self.name) {
            return Err(invalid("type", "must be 1-256 printable characters without spaces"));
        }
        if self.service.trim().is_empty() || self.service.len() > 256 {
            return Err(invalid("service", "must name the resource server the type belongs to (1-256 characters)"));
        }
        if self.description.len() > 1000 {
            return Err(invalid("description", "must be at most 1000 characters"));
        }
        if serde_json::to_string(&self.schema).map_or(true, |s| s.len() > MAX_SCHEMA_BYTES) {
            return Err(invalid("schema", "must be at most 32 KB"));
        }
        let schema = Schema::compile(&self.schema).map_err(|e| invalid("schema", &format!("is not a valid JSON Schema: {e}")))?;
        // The seed's minimal schema: `{"type": "object", "properties": {"type": {...}}}`.
        let defines_type = self.schema.get("properties").and_then(|p| p.get("type")).is_some_and(|t| t.is_object() || t == &Value::Bool(true));
        if !defines_type {
            return Err(invalid("schema", "must define the 'type' property (properties.type)"));
        }
        for c in PolicyContext::ALL {
            if let Some(p) = self.policies.get(c) {
                Policy::parse(p).map_err(|e| invalid(&format!("policies.{}", c.as_str()), &format!("is not a valid policy: {e}")))?;
            }
        }
        Ok(schema)
    }
}

impl AuthorizationDetailsTypes {
    pub fn get(&self, name: &str) -> Option<&AuthorizationDetailsType> {
        self.types.iter().find(|t| t.name == name)
    }

    pub fn validate(&self) -> Result<(), OAuthError> {
        if self.types.len() > MAX_TYPES {
            return Err(invalid("type", &format!("at most {MAX_TYPES} types per workspace")));
        }
        for (i, t) in self.types.iter().enumerate() {
            t.validate()?;
            if self.types[..i].iter().any(|o| o.name == t.name) {
                return Err(invalid("type", "must be unique in the workspace"));
            }
        }
        Ok(())
    }
}

/// What a request carrying `authorization_details` needs, as the isolate caches it: whether the
/// feature is on, and each type with its compiled schema.
#[derive(Debug, Default)]
pub struct RichAuthorization {
    pub enabled: bool,
    pub types: AuthorizationDetailsTypes,
    schemas: HashMap<String, Schema>,
}

impl RichAuthorization {
    /// Builds the cached form; a stored type whose schema no longer compiles is left out (it was
    /// checked when saved, so only a change of the validator can do that; its details are then refused).
    pub fn new(enabled: bool, types: AuthorizationDetailsTypes) -> RichAuthorization {
        let schemas = types.types.iter().filter_map(|t| Schema::compile(&t.schema).ok().map(|s| (t.name.clone(), s))).collect();
        RichAuthorization { enabled, types, schemas }
    }

    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.get(name)
    }

    /// The type names discovery lists (none when the feature is off).
    pub fn supported(&self) -> Vec<&str> {
        if self.enabled {
            self.types.types.iter().map(|t| t.name.as_str()).collect()
        } else {
            Vec::new()
        }
    }
}

/// A client's `authorization_details_types` (RFC 9396 §10): each known in the workspace, the
/// feature on, and allowed by the type's policy for `context` (developer: the management API;
/// DCR: dynamic registration) evaluated on `{"type": name}` and the client's metadata. A refusal
/// is `invalid_client_metadata` naming the type and the policy's reason.
pub fn check_client_types(rar: &RichAuthorization, names: &[String], context: PolicyContext, client: &Value) -> Result<(), OAuthError> {
    if names.is_empty() {
        return Ok(());
    }
    if !rar.enabled {
        return Err(OAuthError::invalid_client_metadata("authorization_details_types: rich authorization requests are not enabled in this workspace"));
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(OAuthError::invalid_client_metadata(format!("authorization_details_types: '{}' is listed twice", shorten(name))));
        }
        let t = rar.types.get(name).ok_or_else(|| OAuthError::invalid_client_metadata(format!("authorization_details_types: '{}' is not a type of this workspace", shorten(name))))?;
        if let Some(p) = t.policies.get(context) {
            let detail = json!({ "type": name });
            let input = PolicyInput { detail: &detail, client, request: &json!({}), context: &Value::Null };
            if let Decision::Deny { reason, .. } = policy::evaluate(p, &input) {
                return Err(OAuthError::invalid_client_metadata(format!("authorization_details_types: '{}' is not allowed: {reason}", shorten(name))));
            }
        }
    }
    Ok(())
}

/// A name as quoted back in an error: at most 64 characters.
pub fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

pub async fn load(kv: &impl KvStore, tenant: &str, workspace: &str) -> Result<AuthorizationDetailsTypes, StoreError> {
    match kv.get(&types_key(tenant, workspace)).await? {
        None => Ok(AuthorizationDetailsTypes::default()),
        Some(s) => serde_json::from_str(&s).map_err(|e| StoreError::new(format!("stored authorization details types of {tenant}/{workspace} are invalid: {e}"))),
    }
}

pub async fn save(kv: &impl KvStore, tenant: &str, workspace: &str, types: &AuthorizationDetailsTypes) -> Result<(), StoreError> {
    let json = serde_json::to_string(types).map_err(|e| StoreError::new(e.to_string()))?;
    kv.put(&types_key(tenant, workspace), &json).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> AuthorizationDetailsType {
        serde_json::from_value(json!({
            "type": "payment_initiation",
            "service": "https://bank.example/payments",
            "description": "Pay someone",
            "schema": { "type": "object", "properties": { "type": { "const": "payment_initiation" }, "instructedAmount": { "type": "object" } }, "required": ["type"] },
            "policies": { "developer": { "rules": [{ "when": { "path": "client.client_name", "op": "==", "value": "Trusted" }, "effect": "allow" }], "otherwise": { "effect": "deny", "reason": "not for you" } } }
        }))
        .unwrap()
    }

    #[test]
    fn a_type_needs_a_valid_schema_that_defines_type() {
        payment().validate().unwrap();
        let field = |t: AuthorizationDetailsType| t.validate().unwrap_err().field().map(str::to_string);
        assert_eq!(field(AuthorizationDetailsType { schema: json!({"type": "object", "properties": {"amount": {}}}), ..payment() }).as_deref(), Some("schema"));
        assert_eq!(field(AuthorizationDetailsType { schema: json!({"type": "objekt", "properties": {"type": {}}}), ..payment() }).as_deref(), Some("schema"));
        assert_eq!(field(AuthorizationDetailsType { schema: json!("not a schema"), ..payment() }).as_deref(), Some("schema"));
        assert_eq!(field(AuthorizationDetailsType { name: "has space".into(), ..payment() }).as_deref(), Some("type"));
        assert_eq!(field(AuthorizationDetailsType { service: " ".into(), ..payment() }).as_deref(), Some("service"));
        let mut bad_policy = payment();
        bad_policy.policies.user = Some(json!({"rules": [{"when": {"path": "detail.a", "op": "~", "value": 1}, "effect": "allow"}], "otherwise": {"effect": "deny"}}));
        let e = bad_policy.validate().unwrap_err();
        assert_eq!(e.field(), Some("policies.user"));
        assert!(e.description.contains("rules/0/when/op"), "{}", e.description);
    }

    #[test]
    fn types_are_unique() {
        let doc = AuthorizationDetailsTypes { version: 1, types: vec![payment(), payment()] };
        assert!(doc.validate().unwrap_err().description.contains("unique"));
    }

    #[test]
    fn enabled_needs_the_tenant_flag_and_the_workspace_switch() {
        let mut tenant: TenantConfig = serde_json::from_value(json!({"name": "t"})).unwrap();
        let ws = WorkspaceConfig::default();
        assert!(!enabled(Some(&tenant), &ws));
        tenant.features.insert(FEATURE_FLAG.into(), true);
        assert!(enabled(Some(&tenant), &ws));
        assert!(!enabled(None, &ws));
        assert!(!enabled(Some(&tenant), &WorkspaceConfig { rich_authorization_requests: false, ..ws }));
    }

    #[test]
    fn client_types_are_known_and_allowed_by_the_context_policy() {
        let rar = RichAuthorization::new(true, AuthorizationDetailsTypes { version: 1, types: vec![payment()] });
        let trusted = json!({"client_name": "Trusted"});
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_client_types(&rar, &names(&["payment_initiation"]), PolicyContext::Developer, &trusted).is_ok());
        let e = check_client_types(&rar, &names(&["payment_initiation"]), PolicyContext::Developer, &json!({"client_name": "Other"})).unwrap_err();
        assert!(e.code == "invalid_client_metadata" && e.description.contains("not for you"), "{}", e.description);
        assert!(check_client_types(&rar, &names(&["payment_initiation"]), PolicyContext::Dcr, &json!({})).is_ok(), "no DCR policy: allowed");
        assert!(check_client_types(&rar, &names(&["nope"]), PolicyContext::Developer, &trusted).is_err());
        assert!(check_client_types(&rar, &names(&["payment_initiation", "payment_initiation"]), PolicyContext::Developer, &trusted).is_err());
        let off = RichAuthorization::new(false, rar.types.clone());
        assert!(check_client_types(&off, &names(&["payment_initiation"]), PolicyContext::Developer, &trusted).is_err());
        assert!(check_client_types(&off, &[], PolicyContext::Developer, &trusted).is_ok());
    }
}
