//! The authentication context of a sign-in (seed 004): one typed set of attributes, whatever the
//! user signed in with, from which tokens take their claims (the workspace's data lineage).
//!
//! Where it lives: a password sign-in's context is the user's stored attributes, read again each
//! time a token or userinfo needs them (an administrator's change shows at once). A sign-in
//! through an identity provider has a context of its own (what the provider said, mapped): the
//! SSO session keeps it, so a second authorization in the session needs no call to the provider,
//! and each grant records it, for refresh and userinfo.

use crate::config::authn_context::{ClaimRule, ClaimTarget};
use crate::config::WorkspaceConfig;
use crate::store::User;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `idp` of a password sign-in.
pub const POOL: &str = "pool";

/// A sign-in through an identity provider, as sessions and grants record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthnContext {
    /// The context attributes (schema-checked when made); `sub` is the token subject.
    pub attributes: Map<String, Value>,
    /// Whether `sub` is a user of the workspace's identity pool (linked or provisioned): then that
    /// user must still exist and be enabled for a token to be issued, and its stored attributes
    /// stand under these.
    #[serde(default)]
    pub local_user: bool,
}

impl AuthnContext {
    pub fn parse(json: &str) -> Option<AuthnContext> {
        serde_json::from_str(json).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn idp(&self) -> &str {
        self.attributes.get("idp").and_then(Value::as_str).unwrap_or(POOL)
    }
}

/// The subject a token speaks of: the grant's user, or the user its context describes. `None`:
/// no token (the local user is gone or disabled, or there is neither user nor context).
pub fn subject(user: Option<User>, context: Option<&AuthnContext>) -> Option<User> {
    match context {
        None => user.filter(|u| !u.disabled),
        Some(c) if c.local_user => user.filter(|u| !u.disabled).map(|mut u| {
            // The provider's statement at sign-in (or an extension's change) stands over what the
            // pool stored; an extension's `null` removes the stored attribute.
            for (k, v) in &c.attributes {
                if v.is_null() {
                    u.claims.remove(k);
                } else {
                    u.claims.insert(k.clone(), v.clone());
                }
            }
            u
        }),
        Some(c) => {
            let sub = c.attributes.get("sub").and_then(Value::as_str)?.to_string();
            let username = c.attributes.get("preferred_username").and_then(Value::as_str).unwrap_or(&sub).to_string();
            Some(User { id: sub, username, password_hash: None, claims: c.attributes.clone(), disabled: false })
        }
    }
}

/// The user with the sign-in's facts as attributes (`auth_time`, `amr`, `acr`, `idp`), so the
/// data lineage can map them into claims (AUT-6868: `auth_time` into access tokens).
pub fn with_auth_facts(mut user: User, auth_time: i64, amr: &[String], acr: &str, idp: &str) -> User {
    user.claims.insert("auth_time".into(), json!(auth_time));
    user.claims.insert("amr".into(), json!(amr));
    user.claims.insert("acr".into(), json!(acr));
    user.claims.entry("idp").or_insert_with(|| json!(idp));
    user
}

/// [`with_auth_facts`] from a verified access token's own claims (userinfo).
pub fn with_token_facts(mut user: User, token: &Value) -> User {
    for k in ["auth_time", "amr", "acr"] {
        if let Some(v) = token.get(k) {
            user.claims.insert(k.into(), v.clone());
        }
    }
    user.claims.entry("idp").or_insert_with(|| json!(POOL));
    user
}

/// The value a claim takes from the user: `preferred_username` falls back to the username.
fn attribute(user: &User, name: &str) -> Option<Value> {
    match user.claims.get(name) {
        Some(v) => Some(v.clone()),
        None if name == "preferred_username" => Some(json!(user.username)),
        None => None,
    }
}

/// The claims of `target` for `user` under `scope`: always `sub`; then those the scopes name
/// (ID token and userinfo), then the data lineage's rules for this target.
pub fn claims_for(config: &WorkspaceConfig, user: &User, scope: &str, target: ClaimTarget) -> Map<String, Value> {
    let mut out = Map::new();
    if target != ClaimTarget::AccessToken {
        out.insert("sub".into(), json!(user.id));
        for s in scope.split_whitespace() {
            let Some(sc) = config.scopes.get(s) else { continue };
            for c in &sc.claims {
                if let Some(v) = attribute(user, c) {
                    out.insert(c.clone(), v);
                }
            }
        }
    }
    out.extend(lineage(&config.claims, user, scope, target));
    out
}

fn lineage(rules: &[ClaimRule], user: &User, scope: &str, target: ClaimTarget) -> Map<String, Value> {
    let mut out = Map::new();
    for r in rules.iter().filter(|r| r.targets(target) && r.applies_to(scope)) {
        if let Some(v) = attribute(user, &r.attribute) {
            out.insert(r.claim.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let mut claims = Map::new();
        claims.insert("email".into(), json!("ada@example.com"));
        claims.insert("crm_id".into(), json!("C-7"));
        User { id: "u1".into(), username: "ada".into(), password_hash: None, claims, disabled: false }
    }

    #[test]
    fn without_rules_the_scopes_decide_as_before() {
        let cfg = WorkspaceConfig::default();
        let c = claims_for(&cfg, &user(), "openid email profile", ClaimTarget::IdToken);
        assert_eq!(c["sub"], "u1");
        assert_eq!(c["email"], "ada@example.com");
        assert_eq!(c["preferred_username"], "ada");
        assert!(c.get("crm_id").is_none());
        assert!(claims_for(&cfg, &user(), "openid email", ClaimTarget::AccessToken).is_empty(), "access tokens get no user claims by default");
    }

    #[test]
    fn rules_add_claims_per_target_and_scope() {
        let cfg = WorkspaceConfig {
            claims: vec![
                ClaimRule { claim: "crm".into(), attribute: "crm_id".into(), scopes: vec!["crm".into()], id_token: true, access_token: false, userinfo: true },
                ClaimRule { claim: "auth_at".into(), attribute: "auth_time".into(), scopes: vec![], id_token: false, access_token: true, userinfo: false },
            ],
            ..WorkspaceConfig::default()
        };
        let mut u = user();
        u.claims.insert("auth_time".into(), json!(1700));
        assert!(claims_for(&cfg, &u, "openid", ClaimTarget::IdToken).get("crm").is_none(), "not under this scope");
        assert_eq!(claims_for(&cfg, &u, "openid crm", ClaimTarget::Userinfo)["crm"], "C-7");
        assert!(claims_for(&cfg, &u, "openid crm", ClaimTarget::AccessToken).get("crm").is_none(), "not for this target");
        assert_eq!(claims_for(&cfg, &u, "openid", ClaimTarget::AccessToken)["auth_at"], 1700);
    }

    #[test]
    fn the_subject_comes_from_the_user_or_the_context() {
        let external = AuthnContext { attributes: serde_json::from_value(json!({ "sub": "ext_1", "email": "b@x.example", "idp": "corp" })).unwrap(), local_user: false };
        let s = subject(None, Some(&external)).unwrap();
        assert_eq!((s.id.as_str(), s.username.as_str(), s.claims["email"].as_str()), ("ext_1", "ext_1", Some("b@x.example")));
        let linked = AuthnContext { local_user: true, ..external.clone() };
        assert!(subject(None, Some(&linked)).is_none(), "a linked user that is gone issues nothing");
        let mut disabled = user();
        disabled.disabled = true;
        assert!(subject(Some(disabled), Some(&linked)).is_none());
        let s = subject(Some(user()), Some(&linked)).unwrap();
        assert_eq!((s.id.as_str(), s.claims["email"].as_str(), s.claims["crm_id"].as_str()), ("u1", Some("b@x.example"), Some("C-7")), "the provider's statement over the stored one");
        assert!(subject(None, None).is_none());
    }
}
