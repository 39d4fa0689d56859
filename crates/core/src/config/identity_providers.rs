//! A workspace's identity providers (IdPs): OpenID Connect providers, plain OAuth 2.0 providers
//! (the GitHub style: their own authorization, token and user endpoints), and other workspaces of
//! this deployment. Beside them the workspace's own identity pool (the password form) stays.
//!
//! They are one KV document per workspace (`idps/{tenant}/{workspace}`), apart from the workspace
//! configuration: only the pages that sign users in read it, and it holds client secrets, sealed
//! (AES-256-GCM under a key derived from the master secret and the provider's place, as signing
//! keys are), which the configuration endpoints must never show. The management API writes it
//! and strips the sealed secrets from what it returns.

use super::authn_context::{AttributeDef, DataType};
use super::{check, valid_identifier};
use crate::crypto;
use crate::error::OAuthError;
use crate::runtime::{Entropy, KvStore, StoreError};
use serde::{Deserialize, Serialize};

pub const PROVIDERS_VERSION: u32 = 1;
/// At most this many providers per workspace (each is shown on the sign-in page).
pub const MAX_PROVIDERS: usize = 50;

pub fn providers_key(tenant: &str, workspace: &str) -> String {
    format!("idps/{tenant}/{workspace}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviders {
    #[serde(default = "version")]
    pub version: u32,
    #[serde(default)]
    pub providers: Vec<IdentityProvider>,
}

impl Default for IdentityProviders {
    fn default() -> Self {
        IdentityProviders { version: PROVIDERS_VERSION, providers: Vec::new() }
    }
}

fn version() -> u32 {
    PROVIDERS_VERSION
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpType {
    /// Any OpenID Connect provider: discovery, code + PKCE + nonce, the ID token checked against its JWKS.
    Oidc,
    /// An OAuth 2.0 provider with its own authorization, token and user endpoints.
    Oauth2,
    /// Another workspace of this deployment: no network hop, the user signs in there.
    Workspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
    /// A client assertion signed with this workspace's key; the provider reads our JWKS.
    PrivateKeyJwt,
}

/// One identity provider. Which fields apply depends on `type` (checked by [`IdentityProvider::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: IdpType,
    /// What the sign-in page shows ("Sign in with {name}").
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Position on the sign-in page, ascending (then by name).
    #[serde(default)]
    pub order: i64,
    /// Email domains this provider owns: `login_hint=alice@corp.example` goes straight to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,

    /// `oidc`: the issuer; its discovery document is `{issuer}/.well-known/openid-configuration`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// `oauth2`: the provider's endpoints.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authorization_endpoint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userinfo_endpoint: String,
    /// `oauth2`: the member of the user endpoint's answer that identifies the user (GitHub: `id`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject_attribute: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// Write-only: sealed into `client_secret_sealed` when stored, never stored or shown as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_sealed: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// The scopes asked of the provider (`oidc` always includes `openid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// `oidc`: also call the provider's userinfo endpoint and add its claims (same `sub` required).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_userinfo: bool,

    /// `workspace`: the workspace (of this tenant) whose users sign in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workspace: String,

    /// Source attributes beyond the predefined ones (any raw ID token, userinfo or user-endpoint
    /// member), with their types: what mappings may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeDef>,
    /// Source attribute → authentication context attribute. Empty: every predefined attribute the
    /// provider sends is copied to the context attribute of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<Mapping>,
    /// How long a session started through this provider lasts, if shorter than the workspace's;
    /// 0 stores no session at all: every authorization goes back to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<i64>,
    #[serde(default)]
    pub provisioning: Provisioning,
}

/// Just-in-time provisioning of local users from this provider's sign-ins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Provisioning {
    pub mode: ProvisioningMode,
    /// How an unlinked sign-in finds an existing local user, tried in order after the link itself:
    /// `email` (only a verified email), or the name of a context attribute stored on users.
    pub match_by: Vec<String>,
    /// What a later sign-in does to the local user's attributes.
    pub update: UpdatePolicy,
    /// The context attributes copied into a provisioned user (and kept up to date by `update`).
    pub user_attributes: Vec<String>,
    /// Roles granted to users provisioned into the administrators' pool (the system workspace):
    /// `{tenant, workspace, role}` each (AUT-9331).
    pub admin_roles: Vec<AdminRoleGrant>,
}

impl Default for Provisioning {
    fn default() -> Self {
        Provisioning {
            mode: ProvisioningMode::Off,
            match_by: Vec::new(),
            update: UpdatePolicy::FillEmpty,
            user_attributes: ["email", "email_verified", "name", "given_name", "family_name", "phone_number", "preferred_username"].iter().map(|s| s.to_string()).collect(),
            admin_roles: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningMode {
    /// Users exist only in the provider; the authentication context is all there is.
    #[default]
    Off,
    /// A local user is created at the first sign-in.
    Auto,
    /// A local user is created pending, and signs in once an administrator activates it.
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdatePolicy {
    Overwrite,
    #[default]
    FillEmpty,
    Never,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminRoleGrant {
    pub tenant: String,
    pub workspace: String,
    pub role: String,
}

/// One mapping: a value from the provider (or a constant) into a context attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The source attribute (a claim name; `address.country` reads a member of an object).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Transform::is_copy")]
    pub transform: Transform,
}

/// What a mapping does to the source value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    #[default]
    Copy,
    Lowercase,
    /// A string into an array of strings.
    Split { separator: String },
    /// An array of strings into one string.
    Join { separator: String },
    /// The first match of `pattern` (capture group `group`, 0 for the whole match) in a string.
    RegexExtract { pattern: String, #[serde(default)] group: usize },
    /// Always this value; `source` is not read.
    Constant { value: serde_json::Value },
    /// The source value, or this one when the provider sent none.
    Default { value: serde_json::Value },
}

impl Transform {
    fn is_copy(&self) -> bool {
        matches!(self, Transform::Copy)
    }

    /// A transform's own rules (a provider's mapping, an extension's): the pattern compiles and
    /// has the group; a separator is 1-8 characters. `field` prefixes the names in errors.
    pub fn validate(&self, field: &str) -> Result<(), OAuthError> {
        match self {
            Transform::RegexExtract { pattern, group } => {
                let re = compile_pattern(pattern).map_err(|_| OAuthError::invalid_configuration(&format!("{field}.pattern"), "is not a valid regular expression (at most 256 characters)"))?;
                check(*group < re.captures_len(), &format!("{field}.group"), "names a capture group the pattern does not have")
            }
            Transform::Split { separator } | Transform::Join { separator } => check(!separator.is_empty() && separator.len() <= 8, &format!("{field}.separator"), "must be 1-8 characters"),
            _ => Ok(()),
        }
    }
}

/// Role names a provisioned administrator may be granted (management::access's roles).
pub const ADMIN_ROLES: [&str; 3] = ["admin", "manager", "auditor"];

fn plain_url(u: &str) -> bool {
    crate::urls::web_url(u).is_ok_and(|p| p.query().is_none()) && u.len() <= 512
}

impl IdentityProvider {
    /// Every rule a stored provider satisfies; `field` names are prefixed `providers[{id}]`.
    pub fn validate(&self, own_workspace: &str) -> Result<(), OAuthError> {
        let f = |name: &str| format!("identity_providers.{}.{name}", self.id);
        check(valid_identifier(&self.id) && self.id != "pool", "identity_providers.id", "must be 1-63 lower-case letters, digits or '-' (and not `pool`, the password form)")?;
        check(!self.name.trim().is_empty() && self.name.chars().count() <= 100, &f("name"), "must be 1-100 characters")?;
        check(self.domains.len() <= 20 && self.domains.iter().all(|d| valid_domain(d)), &f("domains"), "must be at most 20 lower-case DNS names")?;
        check((-1000..=1000).contains(&self.order), &f("order"), "must be between -1000 and 1000")?;
        if let Some(t) = self.session_ttl {
            check((0..=30 * 86400).contains(&t), &f("session_ttl"), "must be between 0 and 30 days")?;
        }
        match self.kind {
            IdpType::Oidc => {
                check(plain_url(&self.issuer) && !self.issuer.ends_with('/'), &f("issuer"), "must be an https URL (plain http only to loopback) without query, fragment or trailing slash")?;
            }
            IdpType::Oauth2 => {
                for (name, u) in [("authorization_endpoint", &self.authorization_endpoint), ("token_endpoint", &self.token_endpoint), ("userinfo_endpoint", &self.userinfo_endpoint)] {
                    check(crate::urls::web_url(u).is_ok() && u.len() <= 512, &f(name), "must be an https URL (plain http only to loopback)")?;
                }
                check(self.subject_attribute.is_empty() || attribute_name(&self.subject_attribute), &f("subject_attribute"), "must be an attribute name")?;
                check(self.token_endpoint_auth_method != ClientAuthMethod::PrivateKeyJwt, &f("token_endpoint_auth_method"), "private_key_jwt needs an OpenID provider")?;
            }
            IdpType::Workspace => {
                check(valid_identifier(&self.workspace) && self.workspace != own_workspace, &f("workspace"), "must name another workspace of this tenant")?;
            }
        }
        if self.kind != IdpType::Workspace {
            check(!self.client_id.is_empty() && self.client_id.len() <= 255, &f("client_id"), "is required (at most 255 characters)")?;
            let has_secret = self.client_secret.is_some() || self.client_secret_sealed.is_some();
            check(has_secret || self.token_endpoint_auth_method == ClientAuthMethod::PrivateKeyJwt, &f("client_secret"), "is required unless token_endpoint_auth_method is private_key_jwt")?;
            check(self.client_secret.as_ref().is_none_or(|s| !s.is_empty() && s.len() <= 512), &f("client_secret"), "must be 1-512 characters")?;
        }
        check(self.scopes.len() <= 20 && self.scopes.iter().all(|s| s.len() <= 128 && super::scope_token(s)), &f("scopes"), "must be at most 20 scope tokens")?;
        check(self.attributes.len() <= 50, &f("attributes"), "must be at most 50")?;
        for a in &self.attributes {
            a.validate(&f("attributes"))?;
        }
        check(self.mappings.len() <= 100, &f("mappings"), "must be at most 100")?;
        for m in &self.mappings {
            let source_needed = !matches!(m.transform, Transform::Constant { .. });
            check(!source_needed || attribute_path(&m.source), &f("mappings.source"), "must be an attribute name (a.b for a member)")?;
            let top = m.source.split('.').next().unwrap_or("");
            check(!source_needed || self.source_type(top).is_some(), &f("mappings.source"), "must be a predefined source attribute of the provider's type or one declared in its attributes")?;
            check(attribute_name(&m.target), &f("mappings.target"), "must be an attribute name")?;
            m.transform.validate(&f("mappings.transform"))?;
        }
        let p = &self.provisioning;
        check(p.match_by.len() <= 5 && p.match_by.iter().all(|a| attribute_name(a) && a != "sub"), &f("provisioning.match_by"), "must be at most 5 attribute names (not sub: the link is tried first)")?;
        check(p.user_attributes.len() <= 50 && p.user_attributes.iter().all(|a| attribute_name(a)), &f("provisioning.user_attributes"), "must be at most 50 attribute names")?;
        check(p.admin_roles.len() <= 20, &f("provisioning.admin_roles"), "must be at most 20")?;
        for r in &p.admin_roles {
            check(valid_identifier(&r.tenant) && valid_identifier(&r.workspace) && ADMIN_ROLES.contains(&r.role.as_str()), &f("provisioning.admin_roles"), "each needs a tenant, a workspace and a role (admin, manager or auditor)")?;
        }
        Ok(())
    }

    /// The scopes asked of the provider: the configured ones (`openid email profile` by default
    /// for OpenID providers and workspaces), with `openid` always there for them.
    pub fn requested_scopes(&self) -> String {
        let openid = self.kind != IdpType::Oauth2;
        let mut s: Vec<&str> = if self.scopes.is_empty() && openid { vec!["openid", "email", "profile"] } else { self.scopes.iter().map(String::as_str).collect() };
        if openid && !s.contains(&"openid") {
            s.insert(0, "openid");
        }
        s.join(" ")
    }

    /// The type of source attribute `name`: declared in `attributes`, or predefined for the type.
    pub fn source_type(&self, name: &str) -> Option<DataType> {
        self.attributes.iter().find(|a| a.name == name).map(|a| a.data_type).or_else(|| predefined_source_attributes(self.kind).iter().find(|(n, _)| *n == name).map(|(_, t)| *t))
    }

    /// Whether `email`'s domain is one of this provider's.
    pub fn owns_email(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else { return false };
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The client secret, unsealed.
    pub fn secret(&self, master_secret: &[u8], tenant: &str, workspace: &str) -> Result<Option<String>, StoreError> {
        let Some(sealed) = &self.client_secret_sealed else { return Ok(None) };
        let raw = crypto::open(master_secret, &secret_context(tenant, workspace, &self.id), sealed)?;
        String::from_utf8(raw).map(Some).map_err(|_| StoreError::new("a sealed client secret is not UTF-8"))
    }

    /// The provider as stored: a secret sent in the clear is sealed, and the one sealed before is
    /// kept when none is sent.
    pub fn sealed_for_storage(mut self, previous: Option<&IdentityProvider>, master_secret: &[u8], tenant: &str, workspace: &str, e: &impl Entropy) -> IdentityProvider {
        match self.client_secret.take() {
            Some(s) => self.client_secret_sealed = Some(crypto::seal(master_secret, &secret_context(tenant, workspace, &self.id), e, s.as_bytes())),
            None => self.client_secret_sealed = previous.and_then(|p| p.client_secret_sealed.clone()),
        }
        self
    }

    /// The provider as the management API shows it: no secret in any form, only whether one is set.
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("client_secret");
            let set = o.remove("client_secret_sealed").is_some();
            o.insert("client_secret_set".into(), set.into());
        }
        v
    }
}

/// Sealing context of a provider's secret: bound to its tenant, workspace and id, so a sealed
/// secret copied to another provider does not open.
fn secret_context(tenant: &str, workspace: &str, id: &str) -> String {
    format!("idp-secret|{tenant}/{workspace}/{id}")
}

/// Administrator-written regular expressions: the small engine, bounded in size.
pub fn compile_pattern(pattern: &str) -> Result<regex_lite::Regex, regex_lite::Error> {
    if pattern.len() > 256 {
        // regex_lite has no error constructor: let it fail on an impossible pattern.
        return regex_lite::Regex::new("(");
    }
    regex_lite::RegexBuilder::new(pattern).size_limit(64 * 1024).nest_limit(20).build()
}

pub fn attribute_name(n: &str) -> bool {
    (1..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') && !n.starts_with('-')
}

pub(crate) fn attribute_path(p: &str) -> bool {
    p.len() <= 128 && p.split('.').count() <= 4 && p.split('.').all(attribute_name)
}

fn valid_domain(d: &str) -> bool {
    (1..=253).contains(&d.len()) && d.contains('.') && d.split('.').all(|l| (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

impl IdentityProviders {
    pub fn validate(&self, own_workspace: &str) -> Result<(), OAuthError> {
        check(self.version == PROVIDERS_VERSION, "identity_providers.version", "must be 1")?;
        check(self.providers.len() <= MAX_PROVIDERS, "identity_providers", "at most 50 per workspace")?;
        for (i, p) in self.providers.iter().enumerate() {
            p.validate(own_workspace)?;
            check(!self.providers[..i].iter().any(|q| q.id == p.id), "identity_providers.id", "ids must be unique")?;
            for d in &p.domains {
                check(!self.providers[..i].iter().any(|q| q.domains.contains(d)), &format!("identity_providers.{}.domains", p.id), "a domain belongs to one provider")?;
            }
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&IdentityProvider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Every provider in sign-in page order: `order` ascending, then by name.
    pub fn in_page_order(&self) -> Vec<&IdentityProvider> {
        let mut v: Vec<&IdentityProvider> = self.providers.iter().collect();
        v.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        v
    }

    /// The enabled providers in page order.
    pub fn enabled(&self) -> Vec<&IdentityProvider> {
        self.in_page_order().into_iter().filter(|p| p.enabled).collect()
    }
}

/// The source attributes every provider of a type may send (standard claims), with their types.
pub fn predefined_source_attributes(kind: IdpType) -> &'static [(&'static str, DataType)] {
    use DataType::*;
    match kind {
        IdpType::Oidc | IdpType::Workspace => &[
            ("sub", String),
            ("email", String),
            ("email_verified", Boolean),
            ("name", String),
            ("given_name", String),
            ("family_name", String),
            ("preferred_username", String),
            ("phone_number", String),
            ("phone_number_verified", Boolean),
            ("address", Object),
            ("groups", Array),
            ("locale", String),
            ("picture", String),
            ("amr", Array),
            ("acr", String),
        ],
        IdpType::Oauth2 => &[("id", String), ("sub", String), ("login", String), ("email", String), ("email_verified", Boolean), ("name", String)],
    }
}

pub async fn load(kv: &impl KvStore, tenant: &str, workspace: &str) -> Result<IdentityProviders, StoreError> {
    match kv.get(&providers_key(tenant, workspace)).await? {
        None => Ok(IdentityProviders::default()),
        Some(s) => serde_json::from_str(&s).map_err(|e| StoreError::new(format!("stored identity providers of {tenant}/{workspace} are invalid: {e}"))),
    }
}

pub async fn save(kv: &impl KvStore, tenant: &str, workspace: &str, providers: &IdentityProviders) -> Result<(), StoreError> {
    let json = serde_json::to_string(providers).map_err(|e| StoreError::new(e.to_string()))?;
    kv.put(&providers_key(tenant, workspace), &json).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oidc() -> serde_json::Value {
        json!({ "id": "corp", "type": "oidc", "name": "Corp", "issuer": "https://idp.corp.example", "client_id": "edge", "client_secret": "s3cret" })
    }

    fn parse(v: serde_json::Value) -> Result<IdentityProvider, String> {
        let p: IdentityProvider = serde_json::from_value(v).map_err(|e| e.to_string())?;
        p.validate("main").map_err(|e| e.description)?;
        Ok(p)
    }

    #[test]
    fn an_oidc_provider_needs_a_plain_issuer_and_a_client() {
        let p = parse(oidc()).unwrap();
        assert_eq!(p.requested_scopes(), "openid email profile");
        for (patch, why) in [
            (json!({ "issuer": "http://idp.corp.example" }), "plain http to a public host"),
            (json!({ "issuer": "https://u@idp.corp.example" }), "userinfo"),
            (json!({ "issuer": "https://idp.corp.example/" }), "trailing slash"),
            (json!({ "client_id": "" }), "no client"),
            (json!({ "id": "Corp" }), "id not plain"),
            (json!({ "domains": ["Corp.example"] }), "upper-case domain"),
            (json!({ "session_ttl": -1 }), "negative lifetime"),
            (json!({ "mappings": [{ "source": "email", "target": "email", "transform": { "type": "regex_extract", "pattern": "(" } }] }), "bad regex"),
            (json!({ "mappings": [{ "source": "email", "target": "e", "transform": { "type": "regex_extract", "pattern": "a", "group": 1 } }] }), "no such group"),
            (json!({ "provisioning": { "admin_roles": [{ "tenant": "t", "workspace": "w", "role": "owner" }] } }), "unknown role"),
            (json!({ "mappings": [{ "source": "crm_id", "target": "crm_id" }] }), "a source attribute nobody declared"),
        ] {
            let mut v = oidc();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            assert!(parse(v).is_err(), "{why}");
        }
        let mut v = oidc();
        v.as_object_mut().unwrap().remove("client_secret");
        assert!(parse(v.clone()).is_err(), "a secret is needed for client_secret_basic");
        v["token_endpoint_auth_method"] = json!("private_key_jwt");
        assert!(parse(v).is_ok(), "but not for private_key_jwt");
    }

    #[test]
    fn secrets_are_sealed_bound_to_the_provider_and_never_shown() {
        let master = [7u8; 32];
        let e = crate::crypto::test_support::TestEntropy::new(1);
        let p = parse(oidc()).unwrap().sealed_for_storage(None, &master, "acme", "main", &e);
        assert!(p.client_secret.is_none());
        assert_eq!(p.secret(&master, "acme", "main").unwrap().as_deref(), Some("s3cret"));
        assert!(p.secret(&master, "acme", "other").is_err(), "bound to its workspace");
        let shown = p.redacted();
        assert!(!shown.to_string().contains("s3cret") && shown.get("client_secret_sealed").is_none());
        assert_eq!(shown["client_secret_set"], true);
        // An update without a secret keeps the sealed one.
        let mut update = parse(oidc()).unwrap();
        update.client_secret = None;
        let kept = update.sealed_for_storage(Some(&p), &master, "acme", "main", &e);
        assert_eq!(kept.secret(&master, "acme", "main").unwrap().as_deref(), Some("s3cret"));
    }

    #[test]
    fn domains_belong_to_one_provider_and_route_emails() {
        let mut a = parse(oidc()).unwrap();
        a.domains = vec!["corp.example".into()];
        assert!(a.owns_email("alice@corp.example") && a.owns_email("alice@CORP.example") && !a.owns_email("alice@corp.example.evil") && !a.owns_email("corp.example"));
        let mut b = a.clone();
        b.id = "corp2".into();
        let both = IdentityProviders { version: 1, providers: vec![a.clone(), b] };
        assert!(both.validate("main").is_err());
    }

    #[test]
    fn a_workspace_provider_names_another_workspace() {
        let v = json!({ "id": "staff", "type": "workspace", "name": "Staff", "workspace": "staff" });
        assert!(parse(v.clone()).is_ok());
        let mut same = v;
        same["workspace"] = json!("main");
        assert!(parse(same).unwrap_err().contains("another workspace"));
    }
}
