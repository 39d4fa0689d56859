//! Bootstrap administration under `/admin/...`, authenticated with the root secret (a Worker secret
//! / Spin variable). It creates tenants, workspaces (with fresh signing keys), clients and users,
//! replaces a workspace's identity providers, and rotates keys: enough to run the server and its tests. The management API (`/api/...`,
//! `crate::management`) does all of this and more with tokens issued by the system workspace.

use crate::config::client::Client;
use crate::config::{self, TenantConfig, WorkspaceConfig};
use crate::crypto;
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::jose::keys;
use crate::runtime::{Clock, Runtime, SqlDatabase};
use crate::store::federation;
use crate::engine::Server;
use crate::management;
use super::{tenants, workspaces};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn authorize_root<R: Runtime>(rt: &R, req: &Request) -> Result<(), OAuthError> {
    let Some(root) = rt.root_secret().filter(|r| r.len() >= 16) else {
        return Err(OAuthError::not_found("the bootstrap API is switched off (no root secret)"));
    };
    let presented = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    // Compare digests so the comparison time does not depend on where the strings differ.
    if crypto::constant_time_eq(&crypto::sha256(presented.as_bytes()), &crypto::sha256(root.as_bytes())) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized("a valid root secret is required").with_bearer_challenge())
    }
}

fn json_body<T: for<'de> Deserialize<'de>>(req: &Request) -> Result<T, OAuthError> {
    if req.content_type() != "application/json" {
        return Err(OAuthError::invalid_request("the body must be application/json"));
    }
    let body: &[u8] = if req.body.is_empty() { b"{}" } else { &req.body };
    serde_json::from_slice(body).map_err(|e| OAuthError::invalid_request(format!("invalid JSON: {e}")))
}

fn check_ids(ids: &[&str]) -> Result<(), OAuthError> {
    match ids.iter().find(|id| !config::valid_identifier(id)) {
        Some(bad) => Err(OAuthError::invalid_request(format!("'{bad}' is not a valid identifier (lower-case letters, digits, '-')"))),
        None => Ok(()),
    }
}

pub async fn handle<R: Runtime>(server: &Server, rt: &R, req: &Request, path: &[&str]) -> Result<Response, OAuthError> {
    authorize_root(rt, req)?;
    let now = rt.clock().now_secs();
    match (path, req.method.as_str()) {
        (["tenants", t], "PUT") => put_tenant(rt, req, t, now).await,
        (["tenants", t, "workspaces", w], "PUT") => put_workspace(server, rt, req, t, w, now).await,
        (["tenants", t, "workspaces", w], "GET") => {
            let cfg = config::load_workspace(rt.kv(), t, w).await?.ok_or_else(|| OAuthError::not_found("unknown workspace"))?;
            Ok(Response::json(200, &json!(cfg)))
        }
        (["tenants", t, "workspaces", w, "clients"], "POST") => create_client(server, rt, req, t, w, now).await,
        (["tenants", t, "workspaces", w, "users"], "POST") => create_user(server, rt, req, t, w, now).await,
        (["tenants", t, "workspaces", w, "identity-providers"], "PUT") => {
            check_ids(&[t, w])?;
            let doc = super::identity_providers::put_document(rt, server, t, w, json_body(req)?).await?;
            Ok(Response::json_no_store(200, &doc))
        }
        (["tenants", t, "workspaces", w, "keys", "rotate"], "POST") => {
            let cfg = existing_workspace(server, rt, t, w).await?;
            let kids = keys::rotate(rt, t, w, now, cfg.max_signed_token_ttl() + 60).await?;
            keys::forget_snapshot(rt, t, w).await?;
            server.forget_workspace(t, w);
            Ok(Response::json(200, &json!({ "active_kids": kids })))
        }
        _ => Err(OAuthError::not_found(format!("no endpoint at {}", req.path))),
    }
}

async fn put_tenant<R: Runtime>(rt: &R, req: &Request, t: &str, now: i64) -> Result<Response, OAuthError> {
    check_ids(&[t])?;
    let mut tenant: TenantConfig = json_body(req)?;
    let existing = config::load_tenant(rt.kv(), t).await?;
    tenant.created_at = existing.as_ref().map(|e| e.created_at).unwrap_or(now);
    tenant.version = config::CONFIG_VERSION;
    if tenant.license.is_none() {
        // A new tenant gets a trial; an existing one keeps what it has.
        tenant.license = match &existing {
            Some(e) => e.license.clone(),
            None => Some(crate::management::trial_license(now)),
        };
    }
    tenants::save(rt, t, &tenant, existing.is_none()).await?;
    Ok(Response::json(if existing.is_some() { 200 } else { 201 }, &json!(tenant)))
}

async fn put_workspace<R: Runtime>(server: &Server, rt: &R, req: &Request, t: &str, w: &str, now: i64) -> Result<Response, OAuthError> {
    check_ids(&[t, w])?;
    if config::load_tenant(rt.kv(), t).await?.is_none() {
        return Err(OAuthError::not_found(format!("unknown tenant '{t}'")));
    }
    if req.content_type() != "application/json" {
        return Err(OAuthError::invalid_request("the body must be application/json"));
    }
    // A whole configuration or nothing: an empty body would silently become the defaults.
    let cfg: WorkspaceConfig = config::parse_workspace_config(&req.body)?;
    let existed = config::load_workspace(rt.kv(), t, w).await?.is_some();
    if existed {
        workspaces::write_config(rt, t, w, workspaces::KIND_WORKSPACE, &cfg, now).await?;
    } else {
        workspaces::insert(rt, t, w, workspaces::KIND_WORKSPACE, &cfg, now).await?;
    }
    server.forget_workspace(t, w);
    Ok(Response::json(if existed { 200 } else { 201 }, &json!(cfg)))
}

async fn existing_workspace<R: Runtime>(server: &Server, rt: &R, t: &str, w: &str) -> Result<std::sync::Arc<WorkspaceConfig>, OAuthError> {
    server.forget_workspace(t, w);
    server.workspace_config(rt, t, w).await?.ok_or_else(|| OAuthError::not_found(format!("unknown workspace '{t}/{w}'")))
}

async fn create_client<R: Runtime>(server: &Server, rt: &R, req: &Request, t: &str, w: &str, now: i64) -> Result<Response, OAuthError> {
    existing_workspace(server, rt, t, w).await?;
    let client: Client = json_body::<Client>(req).map_err(|e| OAuthError::invalid_client_metadata(e.description))?;
    let out = management::create_client(rt.sql(), rt.entropy(), t, w, client, now).await?;
    Ok(Response::json_no_store(201, &out))
}

/// A user. Two aids for tests and scripts of the federation's management, which otherwise need a
/// provider to sign in through: `"pending": true` makes the user as manual provisioning would
/// (awaiting activation), and `"identities": [{"idp", "subject"}]` links it to providers of the
/// workspace as a sign-in would.
async fn create_user<R: Runtime>(server: &Server, rt: &R, req: &Request, t: &str, w: &str, now: i64) -> Result<Response, OAuthError> {
    let cfg = existing_workspace(server, rt, t, w).await?;
    let mut body: Value = json_body(req)?;
    let (pending, identities) = match body.as_object_mut() {
        Some(o) => (o.remove("pending"), o.remove("identities")),
        None => (None, None),
    };
    let pending = match pending {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(OAuthError::invalid_request("pending must be a boolean")),
    };
    let identities: Vec<NewLink> = serde_json::from_value(identities.unwrap_or_else(|| json!([]))).map_err(|e| OAuthError::invalid_request(format!("identities: {e}")))?;
    let providers = server.identity_providers(rt, t, w).await?;
    if let Some(l) = identities.iter().find(|l| providers.get(&l.idp).is_none() || l.subject.is_empty() || l.subject.len() > 255) {
        return Err(OAuthError::invalid_request(format!("identities: '{}' is no identity provider of the workspace, or the subject is not 1-255 characters", l.idp)));
    }
    let mut u: management::NewUser = serde_json::from_value(body).map_err(|e| OAuthError::invalid_request(format!("invalid JSON: {e}")))?;
    u.pending = pending;
    let user = management::create_user(rt.sql(), rt.entropy(), &cfg, t, w, u, now).await?;
    if !identities.is_empty() {
        rt.sql().batch(identities.iter().map(|l| federation::insert_link(t, w, &l.idp, &l.subject, &user.id, now)).collect()).await?;
    }
    Ok(Response::json(201, &json!({ "id": user.id, "username": user.username, "claims": user.claims })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLink {
    idp: String,
    subject: String,
}
