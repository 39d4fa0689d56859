//! Workspace administrators: people with an account in the system workspace's identity pool and a
//! role (`admin`, `manager`, `auditor`) on a workspace. An invitation is a one-time token (shown
//! once, valid 7 days) that sets up the account (`POST /api/invitations/accept`); the administrator
//! then signs in to the system workspace and calls this API with that token.

use super::access::{Need, MANAGE_ADMINISTRATORS, ROLES};
use super::{json_body, no_content, page, page_response, users, Call, SYSTEM_TENANT, SYSTEM_WORKSPACE};
use crate::crypto;
use crate::error::Problem;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::engine::Server;
use crate::store::{self, management as mstore};
use crate::tokens::hash_secret_token;
use serde::Deserialize;
use serde_json::json;

pub const INVITATION_TTL_SECS: i64 = 7 * 86400;
const KIND_INVITATION: &str = "admin_invitation";

fn check_role(role: &str) -> Result<(), Problem> {
    if ROLES.contains(&role) {
        Ok(())
    } else {
        Err(Problem::invalid_request(format!("role must be one of {}", ROLES.join(", "))))
    }
}

pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_ADMINISTRATORS, t, w, true)).await?;
    c.workspace(t, w).await?;
    let p = page(c.req)?;
    let rows = mstore::list_admins(c.rt.sql(), t, w, &p.after, p.limit + 1).await?;
    Ok(page_response(rows, p.limit, |a| a.user_id.clone(), |a| json!({ "user_id": a.user_id, "username": a.username, "role": a.role, "created_at": a.created_at })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invitation {
    username: String,
    role: String,
}

pub async fn invite<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_ADMINISTRATORS, t, w, false)).await?;
    let i: Invitation = json_body(c.req)?;
    check_role(&i.role)?;
    let username = i.username.trim().to_lowercase();
    if username.is_empty() || username.len() > 256 || username.chars().any(char::is_control) {
        return Err(Problem::invalid_request("username must be 1-256 characters, without control characters"));
    }
    if t == SYSTEM_TENANT {
        return Err(Problem::invalid_request("the system workspace is administered by system clients, not invited administrators"));
    }
    c.workspace(t, w).await?;
    let token = crypto::random_token(c.rt.entropy());
    let expires_at = c.now + INVITATION_TTL_SECS;
    let link = mstore::OneTime { token_hash: &hash_secret_token(&token), kind: KIND_INVITATION, tenant: t, workspace: w, subject: &username, payload: json!({ "role": i.role }), now: c.now, expires_at };
    mstore::insert_one_time(c.rt.sql(), link).await?;
    Ok(Response::json_no_store(
        201,
        &json!({ "username": username, "role": i.role, "invitation_token": token, "expires_at": expires_at, "accept_url": format!("{}/api/invitations/accept", c.req.origin) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acceptance {
    token: String,
    /// Required when the invited username has no account yet.
    password: Option<String>,
}

/// `POST /api/invitations/accept`: the invitation token is the only credential. Creates the
/// account in the system workspace (or reuses the existing one: its password stays) and grants the
/// role. Every unusable token reads the same.
pub async fn accept<R: Runtime>(server: &Server, rt: &R, req: &Request, now: i64) -> Result<Response, Problem> {
    let a: Acceptance = json_body(req)?;
    let invalid = || Problem::invalid_request("the invitation is invalid, expired or already used");
    let hash = hash_secret_token(&a.token);
    let Some((_, _, username, _)) = mstore::peek_one_time(rt.sql(), &hash, KIND_INVITATION, now).await? else { return Err(invalid()) };
    let existing = store::get_user_by_username(rt.sql(), SYSTEM_TENANT, SYSTEM_WORKSPACE, &username).await?;
    // Check what the account needs before consuming the link, so a mistake does not burn it.
    if existing.is_none() {
        let p = a.password.as_deref().ok_or_else(|| Problem::invalid_request("password is required to set up the account"))?;
        users::check_password(p)?;
    }
    let Some((t, w, username, payload)) = mstore::consume_one_time(rt.sql(), &hash, KIND_INVITATION, now).await? else { return Err(invalid()) };
    let role = payload.get("role").and_then(|r| r.as_str()).unwrap_or("auditor").to_string();
    if server.workspace_config(rt, &t, &w).await?.is_none() {
        return Err(invalid());
    }
    let user = match existing {
        Some(u) => u,
        None => {
            let cfg = server.workspace_config(rt, SYSTEM_TENANT, SYSTEM_WORKSPACE).await?.ok_or_else(invalid)?;
            let new = users::NewUser { username: username.clone(), password: a.password, claims: serde_json::Map::new(), pending: false };
            users::create_user(rt.sql(), rt.entropy(), &cfg, SYSTEM_TENANT, SYSTEM_WORKSPACE, new, now).await?
        }
    };
    mstore::upsert_admin_role(rt.sql(), &t, &w, &user.id, &role, now).await?;
    Ok(Response::json_no_store(200, &json!({ "user_id": user.id, "username": user.username, "tenant": t, "workspace": w, "role": role })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

pub async fn set_role<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, user_id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_ADMINISTRATORS, t, w, false)).await?;
    let b: RoleBody = json_body(c.req)?;
    check_role(&b.role)?;
    c.workspace(t, w).await?;
    if !mstore::update_admin_role(c.rt.sql(), t, w, user_id, &b.role, c.now).await? {
        return Err(Problem::not_found(format!("'{user_id}' is not an administrator of this workspace")));
    }
    Ok(Response::json_no_store(200, &json!({ "user_id": user_id, "role": b.role })))
}

pub async fn remove<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, user_id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_ADMINISTRATORS, t, w, false)).await?;
    c.workspace(t, w).await?;
    if !mstore::delete_admin_role(c.rt.sql(), t, w, user_id).await? {
        return Err(Problem::not_found(format!("'{user_id}' is not an administrator of this workspace")));
    }
    Ok(no_content())
}
