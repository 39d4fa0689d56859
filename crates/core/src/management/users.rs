//! The users of a workspace's identity pool, for administrators and backend applications: create,
//! get, list, search, update attributes, set or reset the password, disable, delete. Each
//! workspace has one identity pool; deleting the workspace deletes the pool with its users.

use super::access::{Need, MANAGE_USERS};
use super::{created, json_body, no_content, page, page_response, Call};
use crate::authn::password;
use crate::config::WorkspaceConfig;
use crate::crypto;
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::runtime::{Entropy, Runtime, SqlDatabase};
use crate::engine::Server;
use crate::store::management::{self as mstore, OneTime, UserRecord};
use crate::store::{self, federation, User};
use crate::tokens::hash_secret_token;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// How long a password-reset link stays good.
pub const RESET_TTL_SECS: i64 = 24 * 3600;
const KIND_RESET: &str = "password_reset";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: Option<String>,
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Made as if manual provisioning had made it: awaiting activation. Only the bootstrap API sets
    /// it (its callers, tests and scripts, need a pending user without a provider); the management
    /// API's body cannot carry it.
    #[serde(skip)]
    pub pending: bool,
}

/// The floor every password meets (`authn::password::check_new`, the rule sign-up and reset use too).
pub fn check_password(p: &str) -> Result<(), OAuthError> {
    password::check_new(p, &[], password::MIN_CHARS).map_err(|_| OAuthError::invalid_request("password must be 8-1024 characters"))
}

fn check_claims(claims: &Map<String, Value>) -> Result<(), OAuthError> {
    if claims.keys().any(|k| k.is_empty() || k.len() > 64) || claims.len() > 100 {
        return Err(OAuthError::invalid_request("claims: at most 100, each name 1-64 characters"));
    }
    if claims.contains_key("sub") {
        return Err(OAuthError::invalid_request("claims: 'sub' is the user's id and cannot be set"));
    }
    Ok(())
}

/// Creates a user (the username lower-cased, the password hashed with the workspace's Argon2id cost).
pub async fn create_user(db: &impl SqlDatabase, entropy: &impl Entropy, cfg: &WorkspaceConfig, t: &str, w: &str, u: NewUser, now: i64) -> Result<User, OAuthError> {
    let username = u.username.trim().to_lowercase();
    if username.is_empty() || username.len() > 256 || username.chars().any(char::is_control) {
        return Err(OAuthError::invalid_request("username must be 1-256 characters, without control characters"));
    }
    if let Some(p) = &u.password {
        check_password(p)?;
    }
    check_claims(&u.claims)?;
    let password_hash = match &u.password {
        Some(p) => Some(crypto::hash_password(entropy, &cfg.login.password_hashing, p)?),
        None => None,
    };
    let user = User { id: crypto::random_id(entropy), username: username.clone(), password_hash, claims: u.claims, disabled: false };
    let created_by = if u.pending { federation::CREATED_BY_PROVISIONING } else { federation::CREATED_BY_ADMINISTRATOR };
    if !store::insert_user(db, t, w, &user, now, created_by, u.pending).await? {
        return Err(OAuthError::conflict(format!("user '{username}' already exists")));
    }
    Ok(user)
}

fn render_record(r: &UserRecord) -> Value {
    let (u, a) = (&r.user, &r.activity);
    json!({
        "id": u.id, "username": u.username, "claims": u.claims, "disabled": u.disabled, "has_password": u.password_hash.is_some(),
        "created_at": r.created_at, "updated_at": r.updated_at,
        "created_by": a.created_by, "pending": a.pending, "last_auth_at": a.last_auth_at, "last_idp": a.last_idp,
    })
}

pub async fn create<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    let u: NewUser = json_body(c.req)?;
    let cfg = c.workspace(t, w).await?;
    let user = create_user(c.rt.sql(), c.rt.entropy(), &cfg, t, w, u, c.now).await?;
    let activity = federation::Activity { created_by: federation::CREATED_BY_ADMINISTRATOR.into(), ..Default::default() };
    let record = UserRecord { user, created_at: c.now, updated_at: c.now, activity };
    Ok(created(format!("/api/tenants/{t}/workspaces/{w}/users/{}", record.user.id), &render_record(&record)))
}

/// Lists users; `?q=` searches by username prefix or exact email.
pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, true)).await?;
    c.workspace(t, w).await?;
    let p = page(c.req)?;
    let rows = mstore::list_users(c.rt.sql(), t, w, p.query.as_deref(), &p.after, p.limit + 1).await?;
    Ok(page_response(rows, p.limit, |r| r.user.id.clone(), render_record))
}

async fn load<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<UserRecord, Problem> {
    c.workspace(t, w).await?;
    mstore::get_user_record(c.rt.sql(), t, w, id).await?.ok_or_else(|| Problem::not_found(format!("unknown user '{id}'")))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, true)).await?;
    Ok(Response::json_no_store(200, &render_record(&load(c, t, w, id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    /// Replaces every claim (attribute).
    claims: Option<Map<String, Value>>,
    /// Disabling revokes the user's grants; a disabled user cannot sign in or refresh.
    disabled: Option<bool>,
}

pub async fn update<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    let u: UserUpdate = json_body(c.req)?;
    if let Some(claims) = &u.claims {
        check_claims(claims)?;
    }
    load(c, t, w, id).await?;
    if let Some(claims) = &u.claims {
        mstore::set_user_claims(c.rt.sql(), t, w, id, claims, c.now).await?;
    }
    if let Some(d) = u.disabled {
        mstore::set_user_disabled(c.rt.sql(), t, w, id, d, c.now).await?;
    }
    Ok(Response::json_no_store(200, &render_record(&load(c, t, w, id).await?)))
}

pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    load(c, t, w, id).await?;
    mstore::delete_user(c.rt.sql(), t, w, id, c.now).await?;
    Ok(no_content())
}

/// `GET .../users/{id}/identities`: the user's links to identity providers (one page: a user has at
/// most one link per provider).
pub async fn identities<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, true)).await?;
    load(c, t, w, id).await?;
    let links = federation::links_for_user(c.rt.sql(), t, w, id).await?;
    Ok(Response::json_no_store(200, &json!({ "items": links, "next": null })))
}

/// `DELETE .../users/{id}/identities/{idp}`: the next sign-in through `idp` no longer finds this
/// user by the link (matching or provisioning decide again).
pub async fn unlink<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str, idp: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    load(c, t, w, id).await?;
    if !federation::delete_link(c.rt.sql(), t, w, id, idp).await? {
        return Err(Problem::not_found(format!("user '{id}' has no identity at provider '{idp}'")));
    }
    Ok(no_content())
}

/// `GET .../users/{id}/passkeys`: the user's passkeys (one page: a user has a handful), without
/// their public keys.
pub async fn passkeys<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, true)).await?;
    load(c, t, w, id).await?;
    let items: Vec<Value> = store::passkeys::for_user(c.rt.sql(), t, w, id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "credential_id": p.credential_id, "name": p.name, "alg": p.alg, "aaguid": p.aaguid, "sign_count": p.sign_count,
                "transports": p.transports, "backup_eligible": p.backup_eligible, "created_at": p.created_at, "last_used_at": p.last_used_at,
            })
        })
        .collect();
    Ok(Response::json_no_store(200, &json!({ "items": items, "next": null })))
}

/// `DELETE .../users/{id}/passkeys/{credential_id}`: the passkey signs no one in any more.
pub async fn delete_passkey<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str, credential_id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    load(c, t, w, id).await?;
    if !store::passkeys::delete(c.rt.sql(), t, w, id, credential_id).await? {
        return Err(Problem::not_found(format!("user '{id}' has no passkey '{credential_id}'")));
    }
    Ok(no_content())
}

/// `GET .../users/{id}/totp`: whether the user has an authenticator app (never its key).
pub async fn totp<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, true)).await?;
    load(c, t, w, id).await?;
    let app = store::otp::get_totp(c.rt.sql(), t, w, id).await?;
    Ok(Response::json_no_store(200, &json!({ "enrolled": app.is_some(), "created_at": app.map(|a| a.created_at) })))
}

/// `DELETE .../users/{id}/totp`: removes the user's authenticator app (a lost phone); the user
/// sets up a new one from the account page.
pub async fn delete_totp<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    load(c, t, w, id).await?;
    if !store::otp::delete_totp(c.rt.sql(), t, w, id).await? {
        return Err(Problem::not_found(format!("user '{id}' has no authenticator app")));
    }
    Ok(no_content())
}

/// `POST .../users/{id}/activate`: a user that manual provisioning made pending may sign in.
pub async fn activate<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    load(c, t, w, id).await?;
    if !federation::activate(c.rt.sql(), t, w, id).await? {
        return Err(Problem::conflict(format!("user '{id}' is not pending activation")));
    }
    Ok(Response::json_no_store(200, &render_record(&load(c, t, w, id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

pub async fn set_password<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    let b: PasswordBody = json_body(c.req)?;
    check_password(&b.password)?;
    let cfg = c.workspace(t, w).await?;
    load(c, t, w, id).await?;
    let hash = crypto::hash_password(c.rt.entropy(), &cfg.login.password_hashing, &b.password)?;
    mstore::set_user_password(c.rt.sql(), t, w, id, Some(&hash), c.now).await?;
    Ok(no_content())
}

/// Starts a password reset: a one-time token (shown once, valid 24 hours) that the backend
/// application hands to the user, who sets a new password with `POST /api/password-reset`.
/// The old password keeps working until then.
pub async fn start_reset<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_USERS, t, w, false)).await?;
    load(c, t, w, id).await?;
    let token = crypto::random_token(c.rt.entropy());
    let hash = hash_secret_token(&token);
    let expires_at = c.now + RESET_TTL_SECS;
    mstore::insert_one_time(c.rt.sql(), OneTime { token_hash: &hash, kind: KIND_RESET, tenant: t, workspace: w, subject: id, payload: json!({}), now: c.now, expires_at }).await?;
    Ok(Response::json_no_store(201, &json!({ "reset_token": token, "expires_at": expires_at, "complete_url": format!("{}/api/password-reset", c.req.origin) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteReset {
    token: String,
    password: String,
}

/// `POST /api/password-reset`: the reset token is the only credential. Every failure reads the same.
pub async fn complete_reset<R: Runtime>(server: &Server, rt: &R, req: &crate::http::Request, now: i64) -> Result<Response, Problem> {
    let b: CompleteReset = super::json_body(req)?;
    check_password(&b.password)?;
    let invalid = || Problem::invalid_request("the reset token is invalid, expired or already used");
    // Check the password rules before the token is consumed, so a weak password does not burn it.
    let Some((t, w, user_id, _)) = mstore::consume_one_time(rt.sql(), &hash_secret_token(&b.token), KIND_RESET, now).await? else {
        return Err(invalid());
    };
    server.forget_workspace(&t, &w);
    let Some(cfg) = server.workspace_config(rt, &t, &w).await? else { return Err(invalid()) };
    let hash = crypto::hash_password(rt.entropy(), &cfg.login.password_hashing, &b.password)?;
    if !mstore::set_user_password(rt.sql(), &t, &w, &user_id, Some(&hash), now).await? {
        return Err(invalid());
    }
    Ok(no_content())
}
