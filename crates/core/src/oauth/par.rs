//! The pushed authorization request endpoint (RFC 9126): the client authenticates, sends its
//! authorization request (plain parameters or a signed request object) over the back channel,
//! and gets a single-use `request_uri` to send the browser to the authorization endpoint with.
//! The request goes through the same checks as at the authorization endpoint
//! ([`authorize::validate`]); a failure answers here as JSON and stores nothing.

use crate::oauth::authorize::{self, Endpoint, REQUEST_URI_PREFIX};
use crate::client_auth;
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::oauth::{authorization_details, request_object};
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store::{self, par::NewPushedRequest};
use crate::tokens;
use serde_json::json;

/// How long a `request_uri` can be used (RFC 9126 §2.2: short; Open Finance Brasil: at least 60 s).
pub const REQUEST_URI_TTL: i64 = 90;

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let client = client_auth::authenticate(ctx, req, &params, &ctx.endpoint("par")).await?;
    if client.is_public() {
        // RFC 9126 allows public clients, but then nothing binds the pushed request to anyone.
        return Err(OAuthError::invalid_client("public clients cannot push authorization requests"));
    }
    let (params, signed) = request_object::resolve(ctx, &client, &params).await?;
    authorize::check_redirect_uri_registered(&client, &params)?;
    let rar = authorization_details::types_for(ctx, &params).await?;
    let ar = authorize::validate(&ctx.config, &client, &params, Endpoint::Par, signed, rar.as_deref())?;
    authorize::check_consent_awaiting(ctx, &client, &ar).await?;
    let id = crypto::random_token(ctx.rt.entropy());
    store::par::insert(
        ctx.db(),
        &ctx.tenant,
        &ctx.workspace,
        NewPushedRequest {
            uri_hash: &tokens::hash_secret_token(&id),
            client_id: &client.client_id,
            request: serde_json::to_string(&ar).map_err(|e| OAuthError::server_error(e.to_string()))?,
            now: ctx.now,
            expires_at: ctx.now + REQUEST_URI_TTL,
        },
    )
    .await?;
    Ok(Response::json_no_store(201, &json!({ "request_uri": format!("{REQUEST_URI_PREFIX}{id}"), "expires_in": REQUEST_URI_TTL })))
}
