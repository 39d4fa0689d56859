//! The identity-provider step of an authorization: which provider (if any) the browser goes
//! straight to, the redirect out, and the one callback per workspace (`/idp/callback`) that
//! brings the user back, signed in, to consent or the code.
//!
//! The journey (the authorization request, the provider, PKCE's verifier, the nonce) travels in
//! the `ea_fed` cookie, sealed (AES-GCM under the master secret, for this workspace, for 10
//! minutes), so starting one writes nothing, and `state` is a random value whose hash the journey
//! holds (a sealed `state` would be too long for some providers, this server included). The cookie
//! is `SameSite=Lax`: the CSRF cookie is `Strict`, which browsers do not send on the provider's
//! redirect back (a cross-site navigation). A journey is used once (its id is consumed like a
//! client assertion's `jti`).

use super::{load_client, respond, AuthRequest};
use crate::authn::session::SignIn;
use crate::config::client::Client;
use crate::config::identity_providers::{IdentityProvider, IdpType};
use crate::config::valid_identifier;
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::federation::{self, provisioning::Resolved, upstream, FederationError, FEDERATED_ACR};
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::store;
use crate::web::forms::{self, Stage};
use crate::web::pages;
use serde::{Deserialize, Serialize};

const JOURNEY_COOKIE: &str = "ea_fed";
const JOURNEY_TTL: i64 = 600;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journey {
    id: String,
    idp: String,
    nonce: String,
    verifier: String,
    /// SHA-256 of the `state` sent to the provider.
    state_hash: String,
    exp: i64,
    ar: AuthRequest,
}

fn seal_context<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    format!("idp-state|{}/{}", ctx.tenant, ctx.workspace)
}

fn callback_url<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    ctx.endpoint("idp/callback")
}

/// The provider an authorization goes straight to, with no selection page: the one `idp_hint`
/// names, the one owning `login_hint`'s email domain, or the only one when there is no password
/// form (AUT-9573).
pub fn direct<'a>(providers: &[&'a IdentityProvider], ar: &AuthRequest, password_enabled: bool) -> Option<&'a IdentityProvider> {
    if let Some(hint) = &ar.idp_hint {
        if let Some(p) = providers.iter().find(|p| &p.id == hint) {
            return Some(p);
        }
    }
    if let Some(hint) = &ar.login_hint {
        if let Some(p) = providers.iter().find(|p| p.owns_email(hint)) {
            return Some(p);
        }
    }
    match providers {
        [only] if !password_enabled => Some(only),
        _ => None,
    }
}

/// POST /idp/start: the sign-in page's provider buttons.
pub async fn choose<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    super::step_response(ctx, req, choose_inner(ctx, req).await)
}

async fn choose_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let providers = ctx.identity_providers().await?;
    let idp = params.get("idp").and_then(|id| providers.get(id)).filter(|p| p.enabled).ok_or_else(|| OAuthError::invalid_request("choose one of the identity providers on the page"))?;
    Ok(start(ctx, &ar, idp).await)
}

/// Sends the browser to `idp` for this authorization.
pub async fn start<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, idp: &IdentityProvider) -> Response {
    match start_inner(ctx, ar, idp).await {
        Ok(r) => r,
        Err(e) => {
            let e = logged(idp, e);
            respond(ctx, ar, Err(e.clone())).await.with_failure(&e)
        }
    }
}

async fn start_inner<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, idp: &IdentityProvider) -> Result<Response, FederationError> {
    let ep = match idp.kind {
        IdpType::Workspace => workspace_endpoints(ctx, idp),
        _ => upstream::endpoints(ctx, idp).await?,
    };
    let e = ctx.rt.entropy();
    let state = crypto::random_token(e);
    let journey = Journey {
        id: crypto::random_id(e),
        idp: idp.id.clone(),
        nonce: crypto::random_token(e),
        verifier: crypto::random_token(e),
        state_hash: crypto::sha256_b64url(state.as_bytes()),
        exp: ctx.now + JOURNEY_TTL,
        ar: ar.clone(),
    };
    let sealed = crypto::seal(ctx.rt.master_secret(), &seal_context(ctx), e, &serde_json::to_vec(&journey).unwrap_or_default());
    // S256 (RFC 7636 §4.2): base64url of the verifier's SHA-256.
    let challenge = crypto::sha256_b64url(journey.verifier.as_bytes());
    let client_id = if idp.kind == IdpType::Workspace { workspace_client_id(ctx) } else { idp.client_id.clone() };
    let mut url = upstream::authorization_url(&ep, idp, &client_id, &callback_url(ctx), &state, &journey.nonce, &challenge, ar.login_hint.as_deref());
    // A fresh authentication the client asked for is asked of the provider too.
    if idp.kind != IdpType::Oauth2 {
        if ar.prompts("login") || ar.max_age == Some(0) {
            url.push_str("&prompt=login");
        } else if let Some(m) = ar.max_age {
            url.push_str(&format!("&max_age={m}"));
        }
    }
    let cookie = forms::cookie(ctx, JOURNEY_COOKIE, &sealed, JOURNEY_TTL, "Lax");
    Ok(Response::redirect(&url).with_header("set-cookie", cookie))
}

/// The failure's log line (its cause) and what the client gets.
fn logged(idp: &IdentityProvider, e: FederationError) -> OAuthError {
    e.to_oauth().with_cause(format!("identity provider {}: {e}", idp.id))
}

/// GET /idp/callback: the provider's authorization response.
pub async fn callback<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    let locale = forms::locale(ctx, req, None);
    let journey = match open_journey(ctx, req).await {
        Ok(j) => j,
        // No journey we can trust: nowhere safe to send an error but this page.
        Err(e) if e.code == "server_error" => return e.into_response(),
        Err(e) => return e.into_page(locale),
    };
    let ar = journey.ar.clone();
    let clear = forms::cookie(ctx, JOURNEY_COOKIE, "", 0, "Lax");
    let resp = match finish(ctx, req, &journey).await {
        Ok(r) => r,
        Err(e) if e.code == "server_error" => e.into_response(),
        Err(e) => respond(ctx, &ar, Err(e.clone())).await.with_failure(&e),
    };
    resp.with_header("set-cookie", clear)
}

async fn open_journey<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Journey, OAuthError> {
    let params = req.query_params()?;
    let invalid = || OAuthError::invalid_request("this sign-in cannot be completed; start again from the application");
    let state = params.get("state").ok_or_else(invalid)?;
    let sealed = req.cookie(JOURNEY_COOKIE).filter(|c| !c.is_empty()).ok_or_else(|| OAuthError::access_denied("this sign-in was not started in this browser"))?;
    let raw = crypto::open(ctx.rt.master_secret(), &seal_context(ctx), &sealed).map_err(|_| invalid())?;
    let j: Journey = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if !crypto::constant_time_eq(crypto::sha256_b64url(state.as_bytes()).as_bytes(), j.state_hash.as_bytes()) {
        return Err(invalid());
    }
    if j.exp <= ctx.now {
        return Err(OAuthError::invalid_request("this sign-in took too long; start again from the application"));
    }
    if !store::use_jti(ctx.db(), &ctx.tenant, &ctx.workspace, &format!("idp:{}", j.idp), &format!("idp-journey:{}", j.id), j.exp).await? {
        return Err(OAuthError::invalid_request("this sign-in was already completed; start again from the application"));
    }
    Ok(j)
}

async fn finish<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, j: &Journey) -> Result<Response, OAuthError> {
    let params = req.query_params()?;
    let providers = ctx.identity_providers().await?;
    let idp = providers.get(&j.idp).filter(|p| p.enabled).ok_or_else(|| OAuthError::access_denied("the identity provider is no longer available"))?;
    let fail = |e: FederationError| logged(idp, e);
    if let Some(error) = params.get("error") {
        let e = if error == "temporarily_unavailable" { FederationError::Unavailable(format!("the provider answered {error}")) } else { FederationError::Rejected(format!("the provider answered {error}")) };
        return Err(fail(e));
    }
    let code = params.get("code").filter(|c| !c.is_empty()).ok_or_else(|| fail(FederationError::Rejected("the provider sent no code".into())))?;
    // RFC 9207: the response names its issuer when the provider says it does (mix-up defence).
    let (expected_iss, iss_required) = match idp.kind {
        IdpType::Oidc => (idp.issuer.clone(), upstream::endpoints(ctx, idp).await.map_err(fail)?.iss_parameter),
        IdpType::Workspace => (format!("{}/{}/{}", origin(ctx), ctx.tenant, idp.workspace), true),
        IdpType::Oauth2 => (String::new(), false),
    };
    match params.get("iss") {
        Some(iss) if idp.kind != IdpType::Oauth2 && iss != expected_iss => return Err(fail(FederationError::Rejected(format!("the response names issuer {iss}")))),
        None if iss_required => return Err(fail(FederationError::Rejected("the response names no issuer".into()))),
        _ => {}
    }
    let sign_in = match idp.kind {
        IdpType::Workspace => workspace_sign_in(ctx, req, idp, code, j).await.map_err(fail)?,
        _ => federation::finish(ctx, idp, code, &callback_url(ctx), &j.nonce, &j.verifier).await.map_err(fail)?,
    };
    let (sub, local) = match federation::provisioning::resolve(ctx, idp, &sign_in.subject, &sign_in.attributes).await.map_err(fail)? {
        Resolved::Local(id) => (id, true),
        Resolved::External(id) => (id, false),
        Resolved::Pending => return Ok(pages::pending_activation(forms::locale(ctx, req, j.ar.ui_locales.as_deref()))),
        Resolved::Disabled => return Err(OAuthError::access_denied("the user's account is disabled")),
        Resolved::Ambiguous(by) => return Err(fail(FederationError::Rejected(format!("several users match by {by}")))),
    };
    let acr = sign_in.acr.clone().unwrap_or_else(|| FEDERATED_ACR.to_string());
    let context = federation::context_of(idp, &sign_in, &sub, local, ctx.now, &acr);
    let client = load_client(ctx, &j.ar.client_id).await?;
    // The provider's `amr` says which factors it used, at most (`mfa` alone names none); a
    // provider that names none authenticated the user somehow: AAL1.
    let aal = crate::aal::Factors::from_amr(&sign_in.amr).level().or(Some(crate::aal::Aal::One));
    let sign_in = SignIn { user_id: sub, amr: sign_in.amr.clone(), acr, aal, context: Some(context), lifetime: idp.session_ttl };
    super::extensions::signed_in(ctx, req, &j.ar, &client, sign_in, None).await
}

// ---------------------------------------------------------------------------------------------
// Another workspace of this tenant as the identity provider: the browser signs in there (its
// password form, its own providers, its SSO session), through its ordinary authorization endpoint,
// as the virtual client `workspace:{this workspace}`; the code comes back to our callback and is
// redeemed in-process, with no network hop. The other workspace asks its user's consent once
// (remembered), so a workspace cannot read another's users without them seeing it.

const WORKSPACE_CLIENT_PREFIX: &str = "workspace:";

/// This deployment's origin (the issuer without `/{tenant}/{workspace}`).
fn origin<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    let suffix = format!("/{}/{}", ctx.tenant, ctx.workspace);
    ctx.issuer.strip_suffix(&suffix).unwrap_or(&ctx.issuer).to_string()
}

fn workspace_client_id<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    format!("{WORKSPACE_CLIENT_PREFIX}{}", ctx.workspace)
}

fn workspace_endpoints<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider) -> upstream::Endpoints {
    let other = format!("{}/{}/{}", origin(ctx), ctx.tenant, idp.workspace);
    upstream::Endpoints { authorization: format!("{other}/authorize"), token: String::new(), userinfo: None, jwks_uri: None, iss_parameter: true }
}

/// The virtual client `workspace:{w}` as this workspace knows it: only while workspace `w` of the
/// same tenant has an enabled provider pointing here. Its one redirect URI is `w`'s callback; it
/// authenticates nowhere (the token endpoint does not know it), and it asks for consent.
pub async fn workspace_client<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str) -> Result<Option<Client>, OAuthError> {
    let Some(w) = client_id.strip_prefix(WORKSPACE_CLIENT_PREFIX) else { return Ok(None) };
    if !valid_identifier(w) || w == ctx.workspace {
        return Ok(None);
    }
    let Some(theirs) = ctx.server.workspace_config(ctx.rt, &ctx.tenant, w).await? else { return Ok(None) };
    let providers = ctx.server.identity_providers(ctx.rt, &ctx.tenant, w).await?;
    if !providers.providers.iter().any(|p| p.enabled && p.kind == IdpType::Workspace && p.workspace == ctx.workspace) {
        return Ok(None);
    }
    let name = if theirs.name.is_empty() { w.to_string() } else { theirs.name.clone() };
    Ok(Some(Client {
        client_id: client_id.to_string(),
        client_name: name,
        redirect_uris: vec![format!("{}/{}/{w}/idp/callback", origin(ctx), ctx.tenant)],
        grant_types: vec![crate::config::GRANT_AUTHORIZATION_CODE.to_string()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        scope: ctx.config.scopes.keys().cloned().collect::<Vec<_>>().join(" "),
        ..Client::default()
    }))
}

/// Redeems the other workspace's code in-process and reads its ID token (checked with its keys:
/// issuer, audience our virtual client, nonce).
async fn workspace_sign_in<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, idp: &IdentityProvider, code: &str, j: &Journey) -> Result<federation::ProviderSignIn, FederationError> {
    let theirs = ctx.server.workspace_ctx(ctx.rt, req, &ctx.tenant, &idp.workspace).await.map_err(|e| FederationError::Ours(e.to_string()))?.ok_or_else(|| FederationError::Unavailable(format!("workspace {} does not exist", idp.workspace)))?;
    let client_id = workspace_client_id(ctx);
    let client = workspace_client(&theirs, &client_id).await.map_err(|e| FederationError::Ours(e.to_string()))?.ok_or_else(|| FederationError::Rejected("the other workspace does not know this one".into()))?;
    let answer = crate::oauth::token::redeem_internal(&theirs, &client, code, &callback_url(ctx), &j.verifier).await.map_err(|e| FederationError::Rejected(format!("the code was refused: {}", e.description)))?;
    let id_token = answer.get("id_token").and_then(serde_json::Value::as_str).ok_or_else(|| FederationError::Rejected("no id_token".into()))?;
    let (claims, _) = crate::tokens::verify_own_jwt(&theirs, id_token, false).await.map_err(|e| FederationError::Rejected(e.description))?;
    let claims = claims.as_object().cloned().unwrap_or_default();
    upstream::check_id_token_claims(&claims, &theirs.issuer, &client_id, &j.nonce, ctx.now).map_err(|why| FederationError::Rejected(format!("the ID token {why}")))?;
    let source = federation::mapping::source_attributes(Some(&claims), None).map_err(|e| FederationError::Rejected(e.0))?;
    federation::sign_in_from(ctx, idp, &source)
}
