//! Issuing: the grant and its one-time code, and the authorization response that carries a code
//! (with its front-channel ID token) or an error back to the client, in the response mode it asked
//! for (query, fragment, form post, and their JARM forms).

use super::request::AuthRequest;
use crate::authn::context::{AuthnContext, POOL};
use crate::authn::session;
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{form_encode, Response};
use crate::oauth::code::CodeRequest;
use crate::oauth::response_mode::{self, Delivery, ResponseMode};
use crate::runtime::{Runtime, SsoSession};
use crate::store::{self, Grant, NewCode};
use crate::tokens::{self, Authentication};
use crate::web::pages;

/// Creates the grant and its one-time code, and sends the code (and, for `code id_token`, the
/// front-channel ID token) to the client.
pub async fn issue_code<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession) -> Response {
    match issue(ctx, ar, session, false).await {
        Some(response) => response,
        None => OAuthError::server_error("the code was not stored").into_response(),
    }
}

/// [`issue_code`]; with `if_consented`, only when the user's remembered consent covers every
/// requested scope, checked in the same round trip as the writes: `None`, and nothing written
/// (nothing sent), when it does not.
pub(super) async fn issue<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession, if_consented: bool) -> Option<Response> {
    let code = crypto::random_token(ctx.rt.entropy());
    // Signed before anything is stored, so a signing failure leaves no code behind.
    let id_token = if ar.response_type.has_id_token() {
        match front_channel_id_token(ctx, ar, session, &code).await {
            Ok(t) => Some(t),
            Err(e) => return Some(respond(ctx, ar, Err(e)).await),
        }
    } else {
        None
    };
    let context = session::context_of(session);
    // A user of the pool: its last authentication is recorded in the grant's batch.
    let idp = context.as_ref().map_or(POOL, AuthnContext::idp).to_string();
    let activity = context.as_ref().is_none_or(|c| c.local_user).then_some((session.auth_time, idp.as_str()));
    let grant = Grant {
        id: crypto::random_id(ctx.rt.entropy()),
        client_id: ar.client_id.clone(),
        user_id: session.user_id.clone(),
        scope: ar.scope.clone(),
        sid: session::grant_sid(ctx, session),
        auth_time: session.auth_time,
        acr: session.acr.clone(),
        amr: session.amr.clone(),
        expires_at: ctx.now + ctx.config.refresh_token_ttl,
        revoked_at: None,
        context: context.as_ref().map(AuthnContext::to_json),
        authorization_details: ar.authorization_details.as_ref().and_then(|d| serde_json::to_string(d).ok()),
    };
    let request = CodeRequest { redirect_uri: ar.redirect_uri.clone(), code_challenge: ar.code_challenge.clone(), nonce: ar.nonce.clone(), id_token_claims: ar.id_token_claims.clone() };
    let code_hash = tokens::hash_secret_token(&code);
    let new = NewCode {
        code_hash: &code_hash,
        grant: &grant,
        request: serde_json::to_string(&request).unwrap_or_default(),
        now: ctx.now,
        expires_at: ctx.now + ctx.config.authorization_code_ttl,
        consent_id: ar.consent_id.as_deref(),
        activity,
    };
    let stored = if if_consented {
        let scopes: Vec<&str> = ar.scope.split_whitespace().collect();
        store::insert_grant_and_code_if_consented(ctx.db(), &ctx.tenant, &ctx.workspace, new, &scopes).await
    } else {
        store::insert_grant_and_code(ctx.db(), &ctx.tenant, &ctx.workspace, new).await.map(|()| true)
    };
    match stored {
        Ok(true) => Some(respond(ctx, ar, Ok(Issued { code, id_token })).await),
        Ok(false) => None,
        Err(e) => Some(OAuthError::from(e).into_response()),
    }
}

/// The ID token of a `code id_token` response, signed like the token endpoint's ID tokens.
async fn front_channel_id_token<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, session: &SsoSession, code: &str) -> Result<String, OAuthError> {
    let client = ctx.client(&ar.client_id).await?.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?;
    let nonce = ar.nonce.as_deref().ok_or_else(|| OAuthError::invalid_request("nonce is required with response_type 'code id_token'"))?;
    let auth = Authentication { auth_time: session.auth_time, acr: session.acr.clone(), amr: session.amr.clone(), sid: session::grant_sid(ctx, session) };
    let claims = tokens::front_channel_id_token_claims(&ctx.config, &ctx.issuer, ctx.now, &ar.client_id, &session.user_id, &auth, nonce, code, ar.state.as_deref());
    tokens::sign(ctx, tokens::id_token_alg(&ctx.config, &client.client), Some("JWT"), &claims).await
}

/// What a successful authorization sends: the code, and the ID token for `code id_token`.
#[derive(Debug, Clone)]
pub struct Issued {
    pub code: String,
    pub id_token: Option<String>,
}

/// The authorization response for a validated request.
pub async fn respond<R: Runtime>(ctx: &Ctx<'_, R>, ar: &AuthRequest, result: Result<Issued, OAuthError>) -> Response {
    authorization_response(ctx, &ar.client_id, &ar.redirect_uri, ar.response_mode, ar.state.as_deref(), result).await
}

/// Sends a code (with its ID token) or an error to the redirect URI, with `state`, in the response
/// mode: as parameters with `iss` (RFC 9207) in the query, the fragment or a form post; or (JARM)
/// as one `response` JWT signed for the client, whose `iss` claim takes the parameter's place.
pub(super) async fn authorization_response<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str, redirect_uri: &str, mode: ResponseMode, state: Option<&str>, result: Result<Issued, OAuthError>) -> Response {
    let mut fields: Vec<(&str, String)> = Vec::new();
    match result {
        Ok(issued) => {
            fields.push(("code", issued.code));
            if let Some(t) = issued.id_token {
                fields.push(("id_token", t));
            }
        }
        Err(e) => {
            // Our own failure is answered here, never sent to the client; `temporarily_unavailable`
            // (an identity provider that is down) is the client's to know.
            if e.code == "server_error" {
                return e.into_response();
            }
            fields.push(("error", e.code.to_string()));
            fields.push(("error_description", e.description));
        }
    }
    if let Some(s) = state {
        fields.push(("state", s.to_string()));
    }
    if mode.jwt {
        match jarm_response(ctx, client_id, &fields).await {
            Ok(jwt) => fields = vec![("response", jwt)],
            Err(e) => return e.into_response(),
        }
    } else {
        fields.push(("iss", ctx.issuer.clone()));
    }
    let encoded = || form_encode(fields.iter().map(|(k, v)| (*k, v.as_str())));
    match mode.delivery {
        Delivery::FormPost => pages::form_post(redirect_uri, &fields),
        Delivery::Fragment => Response::redirect(&format!("{redirect_uri}#{}", encoded())),
        Delivery::Query => {
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            Response::redirect(&format!("{redirect_uri}{sep}{}", encoded()))
        }
    }
}

/// JARM: the response parameters as a JWT signed with the client's `authorization_signed_response_alg`
/// (PS256 under `fapi_br`, else the workspace default when the client names none).
async fn jarm_response<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str, fields: &[(&str, String)]) -> Result<String, OAuthError> {
    let client = ctx.client(client_id).await?.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?;
    let alg = tokens::authorization_response_alg(&ctx.config, &client.client);
    tokens::sign(ctx, alg, Some("JWT"), &response_mode::jarm_claims(&ctx.issuer, client_id, ctx.now, fields)).await
}
