//! `POST /api/bootstrap`: the root secret (a Worker secret / Spin variable) makes the system
//! tenant and workspace if they do not exist yet, and a system client with the management scopes.
//! Every later call uses tokens that client gets from `/system/system/token`.

use super::access::ALL_SCOPES;
use super::{clients, json_body, tenants, workspaces, SYSTEM_TENANT, SYSTEM_WORKSPACE};
use crate::management::admin;
use crate::config::client::{Client, AUTH_SECRET_BASIC};
use crate::config::{self, ScopeConfig, TenantConfig, WorkspaceConfig, GRANT_CLIENT_CREDENTIALS};
use crate::error::Problem;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::engine::Server;
use serde::Deserialize;
use serde_json::json;

/// The system workspace: default settings, plus the management scopes.
pub fn system_workspace_config() -> WorkspaceConfig {
    let mut cfg = WorkspaceConfig { name: "System".into(), ..WorkspaceConfig::default() };
    for s in ALL_SCOPES {
        cfg.scopes.insert(s.into(), ScopeConfig { description: format!("Management API: {}", s.trim_start_matches("manage_")), claims: vec![] });
    }
    cfg
}

/// Makes the system tenant and workspace (with signing keys) unless they exist.
pub async fn ensure_system_workspace<R: Runtime>(server: &Server, rt: &R, now: i64) -> Result<(), Problem> {
    if config::load_tenant(rt.kv(), SYSTEM_TENANT).await?.is_none() {
        let t = TenantConfig { version: config::CONFIG_VERSION, name: "System".into(), features: Default::default(), created_at: now, license: None };
        tenants::save(rt, SYSTEM_TENANT, &t, true).await?;
    }
    if config::load_workspace(rt.kv(), SYSTEM_TENANT, SYSTEM_WORKSPACE).await?.is_none() {
        workspaces::insert(rt, SYSTEM_TENANT, SYSTEM_WORKSPACE, workspaces::KIND_WORKSPACE, &system_workspace_config(), now).await?;
        server.forget_workspace(SYSTEM_TENANT, SYSTEM_WORKSPACE);
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BootstrapClient {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_name: String,
    /// Defaults to every management scope.
    scope: Option<String>,
    /// Bind the client to one tenant (a tenant administrator).
    managed_tenant: Option<String>,
}

pub async fn handle<R: Runtime>(server: &Server, rt: &R, req: &Request, now: i64) -> Result<Response, Problem> {
    admin::authorize_root(rt, req).map_err(|e| if e.status == 404 { Problem::not_found(e.description) } else { Problem::unauthorized(e.description) })?;
    let b: BootstrapClient = json_body(req)?;
    ensure_system_workspace(server, rt, now).await?;
    let client = Client {
        client_id: b.client_id,
        client_name: b.client_name,
        grant_types: vec![GRANT_CLIENT_CREDENTIALS.into()],
        token_endpoint_auth_method: AUTH_SECRET_BASIC.into(),
        scope: b.scope.unwrap_or_else(|| ALL_SCOPES.join(" ")),
        managed_tenant: b.managed_tenant,
        ..Client::default()
    };
    let mut out = clients::create_client(rt.sql(), rt.entropy(), SYSTEM_TENANT, SYSTEM_WORKSPACE, client, now).await?;
    let issuer = format!("{}/{SYSTEM_TENANT}/{SYSTEM_WORKSPACE}", req.origin);
    out["token_endpoint"] = json!(format!("{issuer}/token"));
    out["issuer"] = json!(issuer);
    Ok(Response::json_no_store(201, &out))
}
