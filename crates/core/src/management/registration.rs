//! Dynamic client registration: clients registering themselves at
//! `/{tenant}/{workspace}/fdx/dcr/register` (RFC 7591), then reading, replacing and deleting their
//! registration at `/fdx/dcr/register/{client_id}` with its registration access token (RFC 7592).
//!
//! A protocol endpoint (OAuth JSON errors), kept beside the management API because it is client
//! management done by the client: a registered client is made, replaced and deleted by the same
//! functions as an administrator's (`clients.rs`), after [`registered_client`] has applied the
//! rules only registrations have. Every check runs before the first write: a refused registration
//! stores nothing and uses up nothing.

use super::clients::{insert_client, remove_client, replace_client};
use crate::config::registration::{parse_request, registered_client, registration_served};
use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{percent_decode, percent_encode, Request, Response};
use crate::jose;
use crate::outbound::{self, FetchError};
use crate::runtime::Runtime;
use crate::store::registration::{self as registrations, Registration};
use crate::store::{self, StoredClient};
use crate::tokens::access_token::bearer_token as bearer;
use serde_json::{json, Map, Value};

/// Claims of a software statement that describe the JWT, not the client: never metadata.
const JWT_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];
/// What a statement's `iat` and `nbf` may be ahead of our clock.
const CLOCK_SKEW_SECS: i64 = 60;
/// Response members the server sets: a client sending them back (RFC 7592 §2.2) is not asking
/// for anything.
const SERVER_MEMBERS: [&str; 5] = ["registration_access_token", "registration_client_uri", "client_id_issued_at", "client_secret_expires_at", "client_secret"];

/// `/fdx/dcr/register[/{client_id}]`: 404 unless the workspace switched registration on. Never in
/// the system workspace, whose clients administer the whole server.
pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, rest: &[&str]) -> Result<Response, OAuthError> {
    if !registration_served(&ctx.config, &ctx.tenant, &ctx.workspace) {
        return Err(OAuthError::not_found(format!("no endpoint at {}", req.path)));
    }
    match (rest, req.method.as_str()) {
        ([], "POST") => register(ctx, req).await,
        ([id], "GET") => read(ctx, req, id).await,
        ([id], "PUT") => update(ctx, req, id).await,
        ([id], "DELETE") => delete(ctx, req, id).await,
        ([] | [_], m) => Err(OAuthError::method_not_allowed(format!("{m} is not allowed here"))),
        _ => Err(OAuthError::not_found(format!("no endpoint at {}", req.path))),
    }
}

/// The body, a JSON object (RFC 7591 §3.1).
fn metadata_body(req: &Request) -> Result<Map<String, Value>, OAuthError> {
    if req.content_type() != "application/json" {
        return Err(OAuthError::invalid_client_metadata("the client metadata must be sent as application/json"));
    }
    match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OAuthError::invalid_client_metadata("the body must be a JSON object")),
    }
}

fn configuration_uri<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str) -> String {
    format!("{}/{}", ctx.endpoint("fdx/dcr/register"), percent_encode(client_id))
}

/// What a client sent, with its software statement verified and its claims laid over the
/// request's (RFC 7591 §2.3: the statement's values take precedence), into the client to store.
async fn client_from<R: Runtime>(ctx: &Ctx<'_, R>, mut body: Map<String, Value>, client_id: &str) -> Result<crate::config::client::Client, OAuthError> {
    for m in SERVER_MEMBERS.iter().chain(&["client_id"]) {
        body.remove(*m);
    }
    let (statement, statement_claims) = match body.remove("software_statement") {
        None if ctx.config.dcr.software_statement_required => return Err(OAuthError::invalid_software_statement("a software statement is required")),
        None => (None, None),
        Some(Value::String(jwt)) => {
            let claims = verified_statement(ctx, &jwt).await?;
            body.extend(claims.clone());
            (Some(jwt), Some(claims))
        }
        Some(_) => return Err(OAuthError::invalid_software_statement("software_statement must be a JWT (a string)")),
    };
    let mut client = registered_client(parse_request(Value::Object(body))?, client_id, &ctx.config)?;
    check_detail_types(ctx, &client, statement_claims).await?;
    client.software_statement = statement;
    Ok(client)
}

/// The authorization details types a registering client subscribes to: known in the workspace,
/// the feature on, and each allowed by its type's DCR policy, which sees the client's metadata
/// with the verified software statement's claims as `client.software_statement` (e.g. its
/// `org_id`). Nothing is read for a client with no types.
async fn check_detail_types<R: Runtime>(ctx: &Ctx<'_, R>, client: &crate::config::client::Client, statement: Option<Map<String, Value>>) -> Result<(), OAuthError> {
    if client.authorization_details_types.is_empty() {
        return Ok(());
    }
    let state = super::authorization_details::fresh_state(ctx.rt, &ctx.tenant, &ctx.workspace, &ctx.config).await?;
    let mut seen = json!(client);
    if let Some(claims) = statement {
        seen["software_statement"] = Value::Object(claims);
    }
    crate::config::authorization_details::check_client_types(&state, &client.authorization_details_types, crate::policy::PolicyContext::Dcr, &seen)
}

/// A software statement's metadata claims, once it is a JWT signed by a trusted issuer's key,
/// unexpired (it must say when it expires) and already valid.
async fn verified_statement<R: Runtime>(ctx: &Ctx<'_, R>, jwt: &str) -> Result<Map<String, Value>, OAuthError> {
    let bad = |why: &str| OAuthError::invalid_software_statement(why);
    let jws = jose::parse_jws(jwt).map_err(|e| bad("the software statement is not a signed JWT").with_cause(crate::error::Cause::Internal(e.message())))?;
    if let Some(only) = ctx.config.only_alg() {
        if jws.alg() != Some(only) {
            return Err(bad(&format!("the software statement must be signed with {}", only.as_str())));
        }
    }
    // The issuer is read before the signature is checked, only to choose whose keys to check it with.
    let iss = jws.claims.get("iss").and_then(Value::as_str).ok_or_else(|| bad("the software statement has no iss"))?;
    let issuer = ctx.config.dcr.trusted_issuer(iss).ok_or_else(|| bad("the software statement's issuer is not trusted here"))?;
    let owner = format!("ssa/{}/{}/{}", ctx.tenant, ctx.workspace, crypto::sha256_b64url(iss.as_bytes()));
    match outbound::verify_with_keys(ctx, &owner, issuer.jwks.as_ref(), issuer.jwks_uri.as_deref(), &jws).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(bad("the software statement's signature does not verify with its issuer's keys").with_cause(crate::error::Cause::Internal(e.message()))),
        Err(FetchError::Store(e)) => return Err(OAuthError::server_error(e)),
        Err(e) => return Err(bad("the software statement's issuer keys could not be fetched").with_cause(crate::error::Cause::Internal(e.to_string()))),
    }
    statement_metadata(jws.claims.as_object().cloned().unwrap_or_default(), ctx.now)
}

/// A verified statement's metadata: refused when it says no expiry, has expired, or is not valid
/// yet; the claims that describe the JWT itself are dropped.
fn statement_metadata(claims: Map<String, Value>, now: i64) -> Result<Map<String, Value>, OAuthError> {
    let bad = OAuthError::invalid_software_statement;
    let time = |n: &str| claims.get(n).and_then(Value::as_i64);
    match time("exp") {
        None => return Err(bad("the software statement has no exp")),
        Some(exp) if exp <= now => return Err(bad("the software statement has expired")),
        Some(_) => {}
    }
    if time("nbf").is_some_and(|t| t > now + CLOCK_SKEW_SECS) || time("iat").is_some_and(|t| t > now + CLOCK_SKEW_SECS) {
        return Err(bad("the software statement is not valid yet"));
    }
    Ok(claims.into_iter().filter(|(k, _)| !JWT_CLAIMS.contains(&k.as_str())).collect())
}

/// RFC 7591 §3: registers a client; the answer (201) is the only place its secret and its
/// registration access token are ever shown.
async fn register<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let t = (ctx.tenant.as_str(), ctx.workspace.as_str());
    // The initial access token first (RFC 7591 §3): without it nothing else is looked at. Checked
    // here without counting a use; the use is counted once the metadata has passed.
    let initial = if ctx.config.dcr.initial_access_token_required {
        let hash = crypto::sha256_b64url(bearer(req)?.as_bytes());
        if registrations::initial_access_token(ctx.db(), t.0, t.1, &hash, ctx.now, false).await?.is_none() {
            return Err(OAuthError::invalid_token("the initial access token is unknown, expired or used up").with_bearer_challenge());
        }
        Some(hash)
    } else {
        None
    };
    let body = metadata_body(req)?;
    let client_id = crypto::random_id(ctx.rt.entropy());
    let client = client_from(ctx, body, &client_id).await?;
    let initial_id = match &initial {
        None => None,
        Some(hash) => Some(
            registrations::initial_access_token(ctx.db(), t.0, t.1, hash, ctx.now, true)
                .await?
                .ok_or_else(|| OAuthError::invalid_token("the initial access token is unknown, expired or used up").with_bearer_challenge())?,
        ),
    };
    let token = crypto::random_token(ctx.rt.entropy());
    let registration = Registration { token_hash: &crypto::sha256_b64url(token.as_bytes()), initial_access_token: initial_id.as_deref() };
    let mut out = insert_client(ctx.db(), ctx.rt.entropy(), t.0, t.1, client, ctx.now, Some(&registration)).await?;
    out["registration_access_token"] = json!(token);
    out["registration_client_uri"] = json!(configuration_uri(ctx, &client_id));
    out["client_id_issued_at"] = json!(ctx.now);
    if out.get("client_secret").is_some() {
        out["client_secret_expires_at"] = json!(0);
    }
    Ok(Response::json_no_store(201, &out).with_header("pragma", "no-cache"))
}

/// The client whose registration access token the request carries. Anything else (no token, a
/// wrong one, another client's, an unknown client) is the same 401 (RFC 7592 §3), so the
/// endpoint tells nobody which clients exist.
async fn registered<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, id: &str) -> Result<(StoredClient, String, i64), OAuthError> {
    let token = bearer(req)?;
    let id = percent_decode(id).unwrap_or_default();
    let refused = || OAuthError::invalid_token("the registration access token is not valid for this client").with_bearer_challenge();
    let hash = crypto::sha256_b64url(token.as_bytes());
    let issued_at = registrations::registered_at(ctx.db(), &ctx.tenant, &ctx.workspace, &id, &hash).await?.ok_or_else(refused)?;
    let client = store::get_client(ctx.db(), &ctx.tenant, &ctx.workspace, &id).await?.ok_or_else(refused)?;
    Ok((client, token, issued_at))
}

/// The client information response (RFC 7592 §3): the metadata, and the endpoint and token to
/// manage it (the token the client presented: we keep only its hash).
fn information<R: Runtime>(ctx: &Ctx<'_, R>, mut out: Value, token: &str, issued_at: i64) -> Value {
    let id = out["client_id"].as_str().unwrap_or_default().to_string();
    out["registration_access_token"] = json!(token);
    out["registration_client_uri"] = json!(configuration_uri(ctx, &id));
    out["client_id_issued_at"] = json!(issued_at);
    out
}

async fn read<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, id: &str) -> Result<Response, OAuthError> {
    let (client, token, issued_at) = registered(ctx, req, id).await?;
    Ok(Response::json_no_store(200, &information(ctx, json!(client.client), &token, issued_at)).with_header("pragma", "no-cache"))
}

/// RFC 7592 §2.2: the body replaces the registered metadata, with the same rules as a
/// registration (a software statement again where one is required). It must name the client; a
/// `client_secret` it carries must be the current one (a client never chooses its secret). The
/// secret is kept while the method uses one; a client that switches to a secret method gets one,
/// shown in this answer only.
async fn update<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, id: &str) -> Result<Response, OAuthError> {
    let (existing, token, issued_at) = registered(ctx, req, id).await?;
    let body = metadata_body(req)?;
    if body.get("client_id").and_then(Value::as_str) != Some(existing.client.client_id.as_str()) {
        return Err(OAuthError::invalid_client_metadata("the body's client_id must be this client's"));
    }
    if let Some(secret) = body.get("client_secret") {
        let matches = secret.as_str().zip(existing.secret_hash.as_deref()).is_some_and(|(s, h)| crypto::constant_time_eq(crypto::sha256_b64url(s.as_bytes()).as_bytes(), h.as_bytes()));
        if !matches {
            return Err(OAuthError::invalid_client_metadata("client_secret is not this client's secret (a client cannot choose its secret)"));
        }
    }
    let client = client_from(ctx, body, &existing.client.client_id).await?;
    let out = replace_client(ctx.rt, ctx.server, &ctx.tenant, &ctx.workspace, existing, client, ctx.now).await?;
    Ok(Response::json_no_store(200, &information(ctx, out, &token, issued_at)).with_header("pragma", "no-cache"))
}

/// RFC 7592 §2.3: deletes the client as the management API does (grants revoked, consents gone).
async fn delete<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, id: &str) -> Result<Response, OAuthError> {
    let (existing, _, _) = registered(ctx, req, id).await?;
    remove_client(ctx.rt, ctx.server, &ctx.tenant, &ctx.workspace, &existing.client.client_id, ctx.now).await?;
    Ok(Response::new(204).with_header("cache-control", "no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_statement_must_be_current_and_gives_only_metadata() {
        let now = 1_000_000;
        let ok = statement_metadata(claims(json!({"iss": "d", "exp": now + 60, "iat": now, "jti": "j", "client_name": "Shop", "software_id": "s"})), now).unwrap();
        assert_eq!(Value::Object(ok), json!({"client_name": "Shop", "software_id": "s"}));
        for bad in [json!({"client_name": "x"}), json!({"exp": now}), json!({"exp": "soon"}), json!({"exp": now + 60, "nbf": now + 61 + CLOCK_SKEW_SECS}), json!({"exp": now + 60, "iat": now + 3600})] {
            assert_eq!(statement_metadata(claims(bad.clone()), now).unwrap_err().code, "invalid_software_statement", "{bad}");
        }
        assert!(statement_metadata(claims(json!({"exp": now + 60, "nbf": now + CLOCK_SKEW_SECS})), now).is_ok(), "a little clock skew is tolerated");
    }
}
