//! Signing users in through identity providers: this server as a relying party of an OpenID
//! provider or a client of an OAuth 2.0 provider ([`upstream`]), the provider's attributes made
//! into the authentication context ([`mapping`]), and the local user behind them ([`provisioning`]).
//! The browser's side of it (the redirect out, the callback, the session) is a step of the
//! authorization flow: `oauth::authorize::upstream`.

pub mod mapping;
pub mod provisioning;
pub mod upstream;

use crate::authn::context::{AuthnContext, POOL};
use crate::config::identity_providers::{IdentityProvider, IdpType};
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::runtime::Runtime;
use serde_json::{json, Map, Value};

/// Why a sign-in at a provider failed. The user and the client learn only the kind; the cause is
/// logged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FederationError {
    /// The provider is down, slow, or answers what is not a protocol answer.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider (or its answer) refused the sign-in: an error response, a bad ID token.
    #[error("the identity provider's answer was refused: {0}")]
    Rejected(String),
    /// The provider's attributes do not fit the workspace's mappings or schema.
    #[error("{0}")]
    Mapping(String),
    /// Our own failure (storage, a sealed secret that does not open).
    #[error("{0}")]
    Ours(String),
}

impl FederationError {
    /// The OAuth error the client gets (RFC 6749 §4.1.2.1), with the cause kept for the log.
    pub fn to_oauth(&self) -> OAuthError {
        let cause = self.to_string();
        match self {
            FederationError::Unavailable(_) => OAuthError::temporarily_unavailable("the identity provider is not available; try again later").with_cause(cause),
            FederationError::Rejected(_) => OAuthError::access_denied("the identity provider did not sign the user in").with_cause(cause),
            FederationError::Mapping(_) => OAuthError::access_denied("the identity provider's attributes for this user cannot be used here").with_cause(cause),
            FederationError::Ours(_) => OAuthError::server_error(cause),
        }
    }
}

/// A provider's sign-in, checked: the provider's subject, the attributes mapped into the context,
/// and the provider's own `amr`/`acr` when it sent them.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSignIn {
    pub subject: String,
    pub attributes: Map<String, Value>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

/// The `acr` of a sign-in through a provider that named none.
pub const FEDERATED_ACR: &str = "urn:edgeauth:acr:federated";

/// The code exchange and everything after it, up to the mapped attributes (OpenID and OAuth 2.0
/// providers; a workspace provider's code is redeemed in-process by `oauth::authorize::upstream`,
/// which then calls [`sign_in_from`]).
pub async fn finish<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, code: &str, redirect_uri: &str, nonce: &str, verifier: &str) -> Result<ProviderSignIn, FederationError> {
    let ep = upstream::endpoints(ctx, idp).await?;
    let answer = upstream::exchange(ctx, idp, &ep, code, redirect_uri, verifier).await?;
    let (id_claims, userinfo) = match idp.kind {
        IdpType::Oidc => {
            let id_token = answer.id_token.as_deref().ok_or_else(|| FederationError::Rejected("the token answer has no id_token".into()))?;
            let claims = upstream::verify_id_token(ctx, idp, &ep, id_token, nonce).await?;
            let info = match (&ep.userinfo, idp.use_userinfo) {
                (Some(url), true) => Some(upstream::userinfo(ctx, url, &answer.access_token).await?),
                _ => None,
            };
            (Some(claims), info)
        }
        IdpType::Oauth2 => (None, Some(upstream::userinfo(ctx, &idp.userinfo_endpoint, &answer.access_token).await?)),
        IdpType::Workspace => return Err(FederationError::Ours("a workspace provider's code is redeemed in-process".into())),
    };
    let source = mapping::source_attributes(id_claims.as_ref(), userinfo.as_ref()).map_err(|e| FederationError::Rejected(e.0))?;
    sign_in_from(ctx, idp, &source)
}

/// The provider's subject, its attributes mapped into the context, and its `amr`/`acr`.
pub fn sign_in_from<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, source: &Map<String, Value>) -> Result<ProviderSignIn, FederationError> {
    let subject_key = match idp.kind {
        IdpType::Oauth2 if !idp.subject_attribute.is_empty() => idp.subject_attribute.as_str(),
        IdpType::Oauth2 => "id",
        _ => "sub",
    };
    let subject = match source.get(subject_key).or_else(|| source.get("sub")) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(FederationError::Rejected(format!("the provider named no user ({subject_key})"))),
    };
    let attributes = mapping::map_attributes(idp, &ctx.config.authn_context, source).map_err(|e| FederationError::Mapping(e.0))?;
    let amr = source.get("amr").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
    let acr = source.get("acr").and_then(Value::as_str).map(str::to_string);
    Ok(ProviderSignIn { subject, attributes, amr, acr })
}

/// The context of a sign-in through `idp` whose token subject is `sub`.
pub fn context_of(idp: &IdentityProvider, sign_in: &ProviderSignIn, sub: &str, local_user: bool, auth_time: i64, acr: &str) -> AuthnContext {
    let mut attributes = sign_in.attributes.clone();
    attributes.insert("sub".into(), json!(sub));
    attributes.insert("idp".into(), json!(idp.id));
    attributes.insert("amr".into(), json!(sign_in.amr));
    attributes.insert("acr".into(), json!(acr));
    attributes.insert("auth_time".into(), json!(auth_time));
    debug_assert_ne!(idp.id, POOL);
    AuthnContext { attributes, local_user }
}
