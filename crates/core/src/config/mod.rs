//! Tenant and workspace configuration: typed, versioned JSON documents in the runtime's KV store,
//! validated on write and cached in the isolate for at most [`CONFIG_CACHE_TTL_MS`]. A client's
//! registered metadata is in [`client`]; the security profile's rules in `profile.rs`.

pub mod authn_context;
pub mod authorization_details;
pub mod branding;
pub mod client;
pub mod extensions;
pub mod identity_providers;
mod profile;
pub mod registration;

pub use profile::{Profile, ACR_BR_LOA2, ACR_BR_LOA3, FAPI_BR_ACCESS_TOKEN_TTL};

use crate::crypto::PasswordParams;
use crate::error::OAuthError;
use crate::runtime::{Alg, KvStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long an isolate trusts its cached copy of a configuration document. A change made through
/// another isolate is seen within this bound plus KV's own propagation (up to ~60 s on Workers).
pub const CONFIG_CACHE_TTL_MS: u64 = 10_000;

pub const CONFIG_VERSION: u32 = 1;

/// The system tenant and workspace: they issue the management API's own tokens (`manage_*`).
pub const SYSTEM_TENANT: &str = "system";
pub const SYSTEM_WORKSPACE: &str = "system";

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const KNOWN_GRANT_TYPES: [&str; 3] = [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS];

pub fn tenant_key(tenant: &str) -> String {
    format!("tenants/{tenant}")
}

pub fn workspace_key(tenant: &str, workspace: &str) -> String {
    format!("workspaces/{tenant}/{workspace}")
}

/// A scope token (RFC 6749 §3.3: printable ASCII but space, `"` and `\\`), as scopes are named
/// here and as an identity provider's scopes are sent to it.
pub fn scope_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b > 0x20 && b < 0x7f && b != b'"' && b != b'\\')
}

/// Tenant and workspace identifiers appear in URLs, KV keys and cookie paths: keep them plain.
pub fn valid_identifier(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !matches!(id, "admin" | "api" | "well-known")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    #[serde(default = "version")]
    pub version: u32,
    #[serde(default)]
    pub name: String,
    /// Tenant-level feature flags, consulted by the features that need them.
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    #[serde(default)]
    pub created_at: i64,
    /// The tenant's license. New tenants get a one-year trial; only a system caller changes it;
    /// nothing is enforced when it expires. Tenants made before licenses existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// e.g. `trial`
    #[serde(rename = "LicenseType")]
    pub license_type: String,
    /// RFC 3339, UTC (`2023-03-01T09:02:27Z`)
    #[serde(rename = "StartDate")]
    pub start_date: String,
    #[serde(rename = "ExpirationDate")]
    pub expiration_date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    #[serde(default)]
    pub description: String,
    /// The user claims this scope releases in the ID token / userinfo.
    #[serde(default)]
    pub claims: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Argon2id cost for new password hashes (old hashes keep the cost they were made with).
    pub password_hashing: PasswordParams,
    /// The `acr` value recorded for a password login.
    pub password_acr: String,
    /// The password form of the workspace's own identity pool. Off, users sign in only through
    /// identity providers (and with exactly one, the browser goes straight to it).
    pub password_enabled: bool,
    /// Passkeys (WebAuthn): sign-in with them, and their registration from the account page.
    pub passkeys: PasskeysConfig,
    /// The workspace's NIST authenticator assurance level (`aal`): `NIST-AAL-1`, `-2`, `-3`,
    /// or `none`. With a level, tokens state the level a sign-in reached as `acr`, and a session
    /// below the level required is stepped up. Absent (a workspace stored before levels existed)
    /// reads as `none`; a new workspace is stored with `NIST-AAL-1` unless it says otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aal: Option<String>,
    /// Codes sent by email: a second factor after a password, and a first one where allowed.
    pub email_codes: EmailCodesConfig,
    /// Authenticator apps (TOTP, RFC 6238): enrolled from the account page.
    pub totp: TotpConfig,
    /// Self-service sign-up and forgotten passwords (off by default).
    pub self_service: SelfServiceConfig,
}

/// What users may do for themselves from the sign-in page. Both send codes by email, through the
/// delivery of `email_codes` (which must be enabled), and both need the password form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfServiceConfig {
    /// "Create an account": an email address (it becomes the username) and a password, confirmed
    /// by a code sent to the address.
    pub sign_up: bool,
    /// "Forgot your password?": a code sent to the account's email address, then a new password.
    pub password_reset: bool,
    /// The shortest new password sign-up, reset and the account page accept (8-128 characters).
    pub min_password_length: u32,
}

impl Default for SelfServiceConfig {
    fn default() -> Self {
        SelfServiceConfig { sign_up: false, password_reset: false, min_password_length: 10 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailCodesConfig {
    pub enabled: bool,
    /// Where codes go: an HTTPS endpoint that receives each as a JWT signed by the workspace
    /// (`application/jwt`). Empty: the deployment's email binding (Workers `send_email`).
    pub webhook_url: String,
    /// A code alone signs a user in (AAL1); otherwise codes only follow a password.
    pub first_factor: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotpConfig {
    pub enabled: bool,
    /// An authenticator app's code alone signs a user in (AAL1).
    pub first_factor: bool,
}

impl LoginConfig {
    /// The workspace's level, if it has one (`none` and absent: none).
    pub fn aal_floor(&self) -> Option<crate::aal::Aal> {
        self.aal.as_deref().and_then(crate::aal::Aal::parse)
    }

    /// Whether a code alone may sign a user in.
    pub fn code_first_factor(&self) -> bool {
        (self.email_codes.enabled && self.email_codes.first_factor) || (self.totp.enabled && self.totp.first_factor)
    }

    /// Self-service sign-up is offered (validation keeps it to workspaces that can deliver codes).
    pub fn sign_up(&self) -> bool {
        self.self_service.sign_up && self.password_enabled && self.email_codes.enabled
    }

    /// "Forgot your password?" is offered.
    pub fn password_reset(&self) -> bool {
        self.self_service.password_reset && self.password_enabled && self.email_codes.enabled
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig { password_hashing: PasswordParams::default(), password_acr: "urn:edgeauth:acr:password".into(), password_enabled: true, passkeys: PasskeysConfig::default(), aal: None, email_codes: EmailCodesConfig::default(), totp: TotpConfig::default(), self_service: SelfServiceConfig::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeysConfig {
    /// Off by default: a workspace switches passkeys on (its pages then load the passkey script).
    pub enabled: bool,
    /// The WebAuthn relying party id; empty: the host of the workspace's issuer. Passkeys are bound
    /// to it: changing it makes every registered passkey unusable. It must be that host or a
    /// registrable suffix of it (browsers refuse anything else; checked at each ceremony).
    pub rp_id: String,
    /// `preferred` or `required`: whether the authenticator must verify the user (PIN, biometrics).
    pub user_verification: String,
}

impl Default for PasskeysConfig {
    fn default() -> Self {
        PasskeysConfig { enabled: false, rp_id: String::new(), user_verification: "preferred".into() }
    }
}

impl PasskeysConfig {
    pub fn require_uv(&self) -> bool {
        self.user_verification == "required"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// Ask users to consent (clients marked `skip_consent` never ask).
    pub required: bool,
    /// Remember a consent per user, client and scope set so the next authorization skips the page.
    pub remember: bool,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig { required: true, remember: true }
    }
}

/// Limits on guessing credentials (`authn::throttle` applies them). Counts are per workspace. At
/// `*_max_failures` failures the key is locked for `base_lock_secs`, and each further failure
/// (after that lock ended) locks it for twice as long as the one before, up to `max_lock_secs`.
/// A counter forgets its failures `window_secs` after the last one; once they locked it,
/// `window_secs + max_lock_secs` after the last one. A locked request is answered 429 with
/// `Retry-After`, and its credentials are not checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    pub window_secs: i64,
    /// Failed sign-ins per login name (counted whether or not the account exists; a sign-in resets it).
    pub account_max_failures: i64,
    /// Failed sign-ins from one client address (an IPv6 address counts by its /64), and,
    /// separately, failed client authentications from one. Not reset by a success: many people
    /// may share an address.
    pub address_max_failures: i64,
    /// Failed client authentications per client_id at the token, PAR, introspection and revocation
    /// endpoints (counted whether or not the client exists).
    pub client_max_failures: i64,
    pub base_lock_secs: i64,
    pub max_lock_secs: i64,
    /// How many times one login form (one sealed page) may be posted; then it has expired.
    pub login_form_max_posts: i64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            window_secs: 900,
            account_max_failures: 5,
            address_max_failures: 20,
            client_max_failures: 10,
            base_lock_secs: 60,
            max_lock_secs: 3600,
            login_form_max_posts: 5,
        }
    }
}

impl ThrottleConfig {
    fn validate(&self) -> Result<(), OAuthError> {
        check((60..=86400).contains(&self.window_secs), "throttle.window_secs", "must be between 60 and 86400 seconds")?;
        check((1..=1000).contains(&self.account_max_failures), "throttle.account_max_failures", "must be between 1 and 1000")?;
        check((1..=100_000).contains(&self.address_max_failures), "throttle.address_max_failures", "must be between 1 and 100000")?;
        check((1..=1000).contains(&self.client_max_failures), "throttle.client_max_failures", "must be between 1 and 1000")?;
        check((1..=86400).contains(&self.base_lock_secs), "throttle.base_lock_secs", "must be between 1 and 86400 seconds")?;
        check((self.base_lock_secs..=86400).contains(&self.max_lock_secs), "throttle.max_lock_secs", "must be between base_lock_secs and 86400 seconds")?;
        check((1..=100).contains(&self.login_form_max_posts), "throttle.login_form_max_posts", "must be between 1 and 100")
    }
}

/// One workspace = one authorization server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspaceConfig {
    pub version: u32,
    pub name: String,
    /// Grant types this workspace accepts at all (a client further restricts its own).
    pub grant_types: Vec<String>,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub authorization_code_ttl: i64,
    pub session_ttl: i64,
    /// `aud` of JWT access tokens (RFC 9068); the issuer when empty.
    pub access_token_audience: String,
    pub default_signing_alg: Alg,
    pub scopes: BTreeMap<String, ScopeConfig>,
    pub login: LoginConfig,
    pub consent: ConsentConfig,
    /// Limits on password guessing and failed client authentication.
    pub throttle: ThrottleConfig,
    pub sso_enabled: bool,
    /// Introspection answers only the token's own client and clients marked `resource_server`;
    /// others get `active: false`. Off by default: resource servers are usually ordinary
    /// confidential clients, and switching it on needs them marked first.
    #[serde(skip_serializing_if = "is_false")]
    pub restrict_introspection: bool,
    pub default_locale: String,
    pub features: BTreeMap<String, bool>,
    /// A security profile that tightens the whole workspace (see [`Profile`]).
    #[serde(skip_serializing_if = "Profile::is_none")]
    pub profile: Profile,
    /// Every authorization request must come through PAR (RFC 9126); a client can also ask it for itself.
    #[serde(skip_serializing_if = "is_false")]
    pub require_pushed_authorization_requests: bool,
    /// Every authorization request must be a signed request object (RFC 9101).
    #[serde(skip_serializing_if = "is_false")]
    pub require_signed_request_object: bool,
    /// This workspace's issuer on its mutual-TLS domain (`https://mtls.bank.example/{tenant}/{workspace}`):
    /// discovery lists `mtls_endpoint_aliases` there, and discovery requested through it shows this issuer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mtls_issuer: String,
    /// Offer `response_type=code id_token` (the OIDC hybrid flow) to clients that registered it.
    /// Absent: offered, except under `fapi_br`, where the workspace switches it on with `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type_code_id_token: Option<bool>,
    /// The authentication context's custom attributes (the predefined ones are always there).
    #[serde(skip_serializing_if = "authn_context::AuthnContextConfig::is_empty")]
    pub authn_context: authn_context::AuthnContextConfig,
    /// The data lineage: claims from context attributes, per token and scope. Empty: the claims
    /// the scopes name (`scopes.*.claims`), as always.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<authn_context::ClaimRule>,
    /// Post-authentication extensions, run in `order` after every sign-in and before consent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<extensions::Extension>,
    /// Dynamic client registration (RFC 7591/7592 at `/fdx/dcr/register`); off by default.
    #[serde(skip_serializing_if = "registration::DcrConfig::is_default")]
    pub dcr: registration::DcrConfig,
    /// Rich Authorization Requests (RFC 9396) where the tenant's `rich_authorization_requests`
    /// flag enables them; `false` switches them off for this workspace (see `authorization_details`).
    #[serde(skip_serializing_if = "is_true")]
    pub rich_authorization_requests: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn version() -> u32 {
    CONFIG_VERSION
}

fn scope(description: &str, claims: &[&str]) -> ScopeConfig {
    ScopeConfig { description: description.into(), claims: claims.iter().map(|c| c.to_string()).collect() }
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        let mut scopes = BTreeMap::new();
        scopes.insert("openid".into(), scope("Sign you in", &[]));
        scopes.insert("profile".into(), scope("Your name and profile", &["name", "given_name", "family_name", "preferred_username", "locale"]));
        scopes.insert("email".into(), scope("Your email address", &["email", "email_verified"]));
        scopes.insert("phone".into(), scope("Your phone number", &["phone_number", "phone_number_verified"]));
        scopes.insert("offline_access".into(), scope("Access while you are away", &[]));
        WorkspaceConfig {
            version: CONFIG_VERSION,
            name: String::new(),
            grant_types: KNOWN_GRANT_TYPES.iter().map(|g| g.to_string()).collect(),
            access_token_ttl: 600,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 86400,
            authorization_code_ttl: 60,
            session_ttl: 8 * 3600,
            access_token_audience: String::new(),
            default_signing_alg: Alg::ES256,
            scopes,
            login: LoginConfig::default(),
            consent: ConsentConfig::default(),
            throttle: ThrottleConfig::default(),
            sso_enabled: true,
            restrict_introspection: false,
            default_locale: "en".into(),
            features: BTreeMap::new(),
            profile: Profile::None,
            require_pushed_authorization_requests: false,
            require_signed_request_object: false,
            mtls_issuer: String::new(),
            response_type_code_id_token: None,
            authn_context: Default::default(),
            claims: Vec::new(),
            extensions: Vec::new(),
            dcr: Default::default(),
            rich_authorization_requests: true,
        }
    }
}

pub(super) fn check(ok: bool, field: &str, why: &str) -> Result<(), OAuthError> {
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_configuration(field, why))
    }
}

impl WorkspaceConfig {
    /// A scope in words, as the consent page and the account page show it (the workspace's
    /// `scopes.<name>.description`; empty when it has none).
    pub fn scope_description(&self, scope: &str) -> &str {
        self.scopes.get(scope).map_or("", |c| c.description.as_str())
    }

    /// Every rule a stored configuration must satisfy; a write that breaks one changes nothing.
    pub fn validate(&self) -> Result<(), OAuthError> {
        check(self.version == CONFIG_VERSION, "version", "must be 1")?;
        for g in &self.grant_types {
            check(KNOWN_GRANT_TYPES.contains(&g.as_str()), "grant_types", "contains an unknown grant type")?;
        }
        check((30..=86400).contains(&self.access_token_ttl), "access_token_ttl", "must be between 30 and 86400 seconds")?;
        check((30..=86400).contains(&self.id_token_ttl), "id_token_ttl", "must be between 30 and 86400 seconds")?;
        check((60..=400 * 86400).contains(&self.refresh_token_ttl), "refresh_token_ttl", "must be between 60 seconds and 400 days")?;
        check((10..=600).contains(&self.authorization_code_ttl), "authorization_code_ttl", "must be between 10 and 600 seconds")?;
        check((60..=30 * 86400).contains(&self.session_ttl), "session_ttl", "must be between 60 seconds and 30 days")?;
        check(self.scopes.contains_key("openid"), "scopes", "must define 'openid'")?;
        for (name, s) in &self.scopes {
            check(scope_token(name), "scopes", "has a name that is not a valid scope token")?;
            for c in &s.claims {
                check(!c.is_empty() && c.len() <= 64, "scopes.claims", "has an empty or over-long claim name")?;
            }
        }
        let p = self.login.password_hashing;
        check((8 * 1024..=256 * 1024).contains(&p.memory_kib), "login.password_hashing.memory_kib", "must be between 8192 and 262144")?;
        check((1..=10).contains(&p.iterations), "login.password_hashing.iterations", "must be between 1 and 10")?;
        check((1..=4).contains(&p.parallelism), "login.password_hashing.parallelism", "must be between 1 and 4")?;
        self.throttle.validate()?;
        check(matches!(self.login.passkeys.user_verification.as_str(), "preferred" | "required"), "login.passkeys.user_verification", "must be 'preferred' or 'required'")?;
        let rp = &self.login.passkeys.rp_id;
        check(rp.is_empty() || (rp.len() <= 253 && !rp.starts_with('.') && !rp.ends_with('.') && rp.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')), "login.passkeys.rp_id", "must be a lower-case host name (no scheme, port or path)")?;
        check(matches!(self.default_locale.as_str(), "en" | "pt-BR"), "default_locale", "must be 'en' or 'pt-BR'")?;
        check(self.login.aal.as_deref().is_none_or(|a| a == "none" || crate::aal::Aal::parse(a).is_some()), "login.aal", "must be NIST-AAL-1, NIST-AAL-2, NIST-AAL-3 or none")?;
        let hook = &self.login.email_codes.webhook_url;
        check(hook.is_empty() || (hook.len() <= 512 && crate::urls::web_url(hook).is_ok()), "login.email_codes.webhook_url", "must be an https URL (plain http only to loopback) without userinfo")?;
        let ss = &self.login.self_service;
        check((8..=128).contains(&ss.min_password_length), "login.self_service.min_password_length", "must be between 8 and 128")?;
        // Their codes go out through the email codes' delivery, and what they set is a password.
        let needs = (ss.sign_up || ss.password_reset) && !(self.login.email_codes.enabled && self.login.password_enabled);
        check(!needs, "login.self_service", "sign_up and password_reset need login.email_codes.enabled (their codes are sent by it) and login.password_enabled")?;
        if !self.mtls_issuer.is_empty() {
            let m = &self.mtls_issuer;
            let ok = crate::urls::web_url(m).is_ok_and(|u| u.query().is_none()) && !m.ends_with('/') && !m.contains('?') && m.len() <= 512;
            check(ok, "mtls_issuer", "must be an https URL (plain http only to loopback) without userinfo, a trailing slash, query or fragment")?;
        }
        self.authn_context.validate(&self.claims)?;
        // The deployment's host allow-list is applied where the configuration is stored.
        extensions::validate_all(&self.extensions, None)?;
        self.dcr.validate()?;
        self.validate_profile()
    }

    pub fn grant_enabled(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// The longest time a token we sign stays valid: how long a retired key must stay in the JWKS.
    pub fn max_signed_token_ttl(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl)
    }
}

/// Parses and validates a configuration document as received from an administrator.
pub fn parse_workspace_config(json: &[u8]) -> Result<WorkspaceConfig, OAuthError> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(OAuthError::invalid_configuration_document)?;
    // serde reads a struct from an array too (and `[]` as every default): only an object is a configuration.
    if !doc.is_object() {
        return Err(OAuthError::invalid_configuration_document("the configuration must be a JSON object"));
    }
    let cfg: WorkspaceConfig = serde_json::from_value(doc).map_err(OAuthError::invalid_configuration_document)?;
    cfg.validate()?;
    Ok(cfg)
}

pub async fn load_tenant(kv: &impl KvStore, tenant: &str) -> Result<Option<TenantConfig>, StoreError> {
    match kv.get(&tenant_key(tenant)).await? {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| StoreError::new(format!("stored tenant {tenant} is invalid: {e}"))),
    }
}

pub async fn load_workspace(kv: &impl KvStore, tenant: &str, workspace: &str) -> Result<Option<WorkspaceConfig>, StoreError> {
    match kv.get(&workspace_key(tenant, workspace)).await? {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| StoreError::new(format!("stored workspace {tenant}/{workspace} is invalid: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_round_trips() {
        let cfg = WorkspaceConfig::default();
        cfg.validate().unwrap();
        let json = serde_json::to_vec(&cfg).unwrap();
        assert_eq!(parse_workspace_config(&json).unwrap(), cfg);
    }

    #[test]
    fn invalid_fields_are_named() {
        let e = parse_workspace_config(br#"{"access_token_ttl": 5}"#).unwrap_err();
        assert!(e.description.contains("access_token_ttl"), "{}", e.description);
        let e = parse_workspace_config(br#"{"grant_types": ["implicit"]}"#).unwrap_err();
        assert!(e.description.contains("grant_types"));
        let e = parse_workspace_config(br#"{"no_such_field": 1}"#).unwrap_err();
        assert!(e.description.contains("no_such_field"));
    }

    #[test]
    fn throttle_limits_default_and_are_validated() {
        let cfg = parse_workspace_config(br#"{"throttle": {"account_max_failures": 3}}"#).unwrap();
        assert_eq!((cfg.throttle.account_max_failures, cfg.throttle.address_max_failures, cfg.throttle.window_secs), (3, 20, 900), "unnamed limits keep their defaults");
        for (doc, field) in [
            (r#"{"throttle": {"account_max_failures": 0}}"#, "throttle.account_max_failures"),
            (r#"{"throttle": {"window_secs": 10}}"#, "throttle.window_secs"),
            (r#"{"throttle": {"base_lock_secs": 120, "max_lock_secs": 60}}"#, "throttle.max_lock_secs"),
            (r#"{"throttle": {"login_form_max_posts": 0}}"#, "throttle.login_form_max_posts"),
        ] {
            assert_eq!(parse_workspace_config(doc.as_bytes()).unwrap_err().field(), Some(field), "{doc}");
        }
        assert!(parse_workspace_config(br#"{"throttle": {"lock": true}}"#).is_err(), "unknown members are refused");
    }

    #[test]
    fn self_service_is_off_by_default_and_needs_email_codes_and_passwords() {
        let cfg = WorkspaceConfig::default();
        assert_eq!(cfg.login.self_service, SelfServiceConfig { sign_up: false, password_reset: false, min_password_length: 10 });
        assert!(!cfg.login.sign_up() && !cfg.login.password_reset());
        let on = br#"{"login": {"email_codes": {"enabled": true}, "self_service": {"sign_up": true, "password_reset": true}}}"#;
        let cfg = parse_workspace_config(on).unwrap();
        assert!(cfg.login.sign_up() && cfg.login.password_reset());
        for (doc, field) in [
            (r#"{"login": {"self_service": {"sign_up": true}}}"#, "login.self_service"),
            (r#"{"login": {"email_codes": {"enabled": true}, "password_enabled": false, "self_service": {"password_reset": true}}}"#, "login.self_service"),
            (r#"{"login": {"self_service": {"min_password_length": 7}}}"#, "login.self_service.min_password_length"),
            (r#"{"login": {"self_service": {"min_password_length": 129}}}"#, "login.self_service.min_password_length"),
        ] {
            assert_eq!(parse_workspace_config(doc.as_bytes()).unwrap_err().field(), Some(field), "{doc}");
        }
        assert!(parse_workspace_config(br#"{"login": {"self_service": {"username": true}}}"#).is_err(), "unknown members are refused");
    }

    #[test]
    fn identifiers_are_plain() {
        assert!(valid_identifier("acme-bank"));
        assert!(!valid_identifier("Acme"));
        assert!(!valid_identifier("a/b"));
        assert!(!valid_identifier("admin"));
        assert!(!valid_identifier("api"));
        assert!(!valid_identifier(""));
    }

    #[test]
    fn fapi_br_profile_is_validated_and_stays_out_of_plain_documents() {
        let plain = serde_json::to_value(WorkspaceConfig::default()).unwrap();
        assert!(plain.get("profile").is_none() && plain.get("require_pushed_authorization_requests").is_none());
        let e = parse_workspace_config(br#"{"profile": "fapi_br"}"#).unwrap_err();
        assert!(e.description.contains("default_signing_alg"), "{}", e.description);
        let e = parse_workspace_config(br#"{"profile": "fapi_br", "default_signing_alg": "PS256", "access_token_ttl": 1200}"#).unwrap_err();
        assert!(e.description.contains("access_token_ttl"), "{}", e.description);
        assert!(parse_workspace_config(br#"{"profile": "fapi_x"}"#).is_err());
        let cfg = parse_workspace_config(br#"{"profile": "fapi_br", "default_signing_alg": "PS256", "access_token_ttl": 300}"#).unwrap();
        assert!(cfg.fapi_br() && cfg.par_required() && cfg.request_object_required());
        assert_eq!(cfg.login_acr(), ACR_BR_LOA2);
        assert_eq!(serde_json::to_value(&cfg).unwrap()["profile"], "fapi_br");
    }

    #[test]
    fn code_id_token_is_off_under_fapi_br_unless_switched_on() {
        let plain = WorkspaceConfig::default();
        assert!(plain.code_id_token_enabled());
        assert!(serde_json::to_value(&plain).unwrap().get("response_type_code_id_token").is_none());
        let off = parse_workspace_config(br#"{"response_type_code_id_token": false}"#).unwrap();
        assert!(!off.code_id_token_enabled());
        let br = parse_workspace_config(br#"{"profile": "fapi_br", "default_signing_alg": "PS256", "access_token_ttl": 300}"#).unwrap();
        assert!(!br.code_id_token_enabled());
        let br_on = parse_workspace_config(br#"{"profile": "fapi_br", "default_signing_alg": "PS256", "access_token_ttl": 300, "response_type_code_id_token": true}"#).unwrap();
        assert!(br_on.code_id_token_enabled());
        assert!(parse_workspace_config(br#"{"response_type_code_id_token": "yes"}"#).is_err());
    }
}
