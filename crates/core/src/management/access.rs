//! Who may call the management API, and what they may do.
//!
//! Every call carries a Bearer access token issued by the system workspace (`/system/system`):
//!
//! - a **client** token (client_credentials) acts through its scopes. A system client with
//!   `managed_tenant` set is a tenant administrator: it reaches only that tenant, and never the
//!   operations kept for the system (listing, creating and deleting tenants, licenses, feature flags).
//!   The client is looked up on every call, so deleting it or narrowing its scope takes effect at once.
//! - a **user** token (authorization code, signed in to the system workspace) acts through the
//!   roles the user holds on a workspace (`admin`, `manager`, `auditor`).
//!
//! The checks look only at the path's identifiers, before anything is read, so a refusal never says
//! whether a foreign tenant or workspace exists.

use super::{SYSTEM_TENANT, SYSTEM_WORKSPACE};
use crate::error::Problem;
use crate::http::Request;
use crate::runtime::Runtime;
use crate::engine::Server;
use crate::store::{self, management as mstore};
use crate::tokens;
use serde_json::Value;

pub const MANAGE_TENANTS: &str = "manage_tenants";
pub const MANAGE_WORKSPACES: &str = "manage_workspaces";
pub const MANAGE_CLIENTS: &str = "manage_clients";
pub const MANAGE_USERS: &str = "manage_users";
pub const MANAGE_ORGANIZATIONS: &str = "manage_organizations";
pub const MANAGE_ADMINISTRATORS: &str = "manage_administrators";
/// The bank-side Open Finance Brasil consent management (`management/open_banking.rs`).
pub const MANAGE_OPENBANKING_CONSENTS: &str = "manage_openbanking_consents";
pub const ALL_SCOPES: [&str; 7] = [MANAGE_TENANTS, MANAGE_WORKSPACES, MANAGE_CLIENTS, MANAGE_USERS, MANAGE_ORGANIZATIONS, MANAGE_ADMINISTRATORS, MANAGE_OPENBANKING_CONSENTS];

/// Workspace roles an administrator can hold, from most to least powerful.
pub const ROLES: [&str; 3] = ["admin", "manager", "auditor"];

/// Scopes a role grants on its workspace; `auditor` grants them for reading only.
fn role_allows(role: &str, scope: &str, read: bool) -> bool {
    match role {
        "admin" => matches!(scope, MANAGE_WORKSPACES | MANAGE_CLIENTS | MANAGE_USERS | MANAGE_ADMINISTRATORS | MANAGE_OPENBANKING_CONSENTS),
        "manager" => matches!(scope, MANAGE_CLIENTS | MANAGE_USERS),
        "auditor" => read && matches!(scope, MANAGE_WORKSPACES | MANAGE_CLIENTS | MANAGE_USERS | MANAGE_ADMINISTRATORS | MANAGE_OPENBANKING_CONSENTS),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    Client { client_id: String, scopes: Vec<String>, tenant: Option<String> },
    Admin { user_id: String },
}

/// What one call needs: a scope, on a tenant (and workspace), possibly kept for the system.
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    pub scope: &'static str,
    pub tenant: Option<&'a str>,
    pub workspace: Option<&'a str>,
    /// Only an unrestricted system client may do this (tenants list/create/delete, licenses, flags).
    pub system_only: bool,
    /// A read (GET): enough for an `auditor`.
    pub read: bool,
}

impl<'a> Need<'a> {
    pub fn system(scope: &'static str, read: bool) -> Need<'a> {
        Need { scope, tenant: None, workspace: None, system_only: true, read }
    }
    pub fn tenant(scope: &'static str, tenant: &'a str, read: bool) -> Need<'a> {
        Need { scope, tenant: Some(tenant), workspace: None, system_only: false, read }
    }
    pub fn workspace(scope: &'static str, tenant: &'a str, workspace: &'a str, read: bool) -> Need<'a> {
        Need { scope, tenant: Some(tenant), workspace: Some(workspace), system_only: false, read }
    }
}

impl Caller {
    /// The tenant a tenant administrator is bound to (`None` for system clients and users).
    pub fn bound_tenant(&self) -> Option<&str> {
        match self {
            Caller::Client { tenant, .. } => tenant.as_deref(),
            Caller::Admin { .. } => None,
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self, Caller::Client { tenant: None, .. })
    }

    /// Refuses with 403 unless the caller may do what `need` describes.
    pub async fn allow<R: Runtime>(&self, rt: &R, need: Need<'_>) -> Result<(), Problem> {
        match self {
            Caller::Client { scopes, tenant, .. } => {
                if !scopes.iter().any(|s| s == need.scope) {
                    return Err(Problem::forbidden(format!("the token lacks the '{}' scope", need.scope)).with("required_scope", need.scope.into()));
                }
                match tenant {
                    None => Ok(()),
                    Some(_) if need.system_only => Err(Problem::forbidden("only a system client (not bound to a tenant) may do this")),
                    Some(own) => match need.tenant {
                        Some(t) if t == own => Ok(()),
                        _ => Err(Problem::forbidden("the token is limited to another tenant")),
                    },
                }
            }
            Caller::Admin { user_id } => {
                let (Some(t), Some(w), false) = (need.tenant, need.workspace, need.system_only) else {
                    return Err(Problem::forbidden("workspace administrators manage workspaces only"));
                };
                let role = mstore::admin_role(rt.sql(), t, w, user_id).await?;
                match role {
                    Some(r) if role_allows(&r, need.scope, need.read) => Ok(()),
                    Some(r) => Err(Problem::forbidden(format!("the '{r}' role does not allow this"))),
                    None => Err(Problem::forbidden("you hold no role on this workspace")),
                }
            }
        }
    }
}

/// Checks the Bearer token of a management call. 401 for anything that is not a live access token
/// of the system workspace; the detail says which.
pub async fn authenticate<R: Runtime>(server: &Server, rt: &R, req: &Request) -> Result<Caller, Problem> {
    let header = req.header("authorization").unwrap_or("");
    let token = match header.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => t.trim(),
        _ => return Err(Problem::unauthorized("a Bearer access token from the system workspace is required")),
    };
    let Some(ctx) = server.workspace_ctx(rt, req, SYSTEM_TENANT, SYSTEM_WORKSPACE).await? else {
        return Err(Problem::unauthorized("the server has no system workspace yet: bootstrap it with the root secret"));
    };
    let claims = tokens::verify_access_token(&ctx, token).await.map_err(|e| match e.status {
        500.. => Problem::from(e),
        _ => Problem::unauthorized(format!("the token is not a valid access token of the system workspace: {}", e.description)),
    })?;
    let audience = ctx.access_token_audience();
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == audience,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(Problem::unauthorized("the token is meant for another audience"));
    }
    let str_claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or("").to_string();
    let (client_id, sub) = (str_claim("client_id"), str_claim("sub"));
    if claims.get("gid").is_some() {
        // A person signed in to the system workspace: their roles decide, per workspace.
        let user = store::get_user(rt.sql(), SYSTEM_TENANT, SYSTEM_WORKSPACE, &sub).await?;
        return match user {
            Some(u) if !u.disabled => Ok(Caller::Admin { user_id: u.id }),
            _ => Err(Problem::unauthorized("the token's user no longer exists or is disabled")),
        };
    }
    let Some(stored) = store::get_client(rt.sql(), SYSTEM_TENANT, SYSTEM_WORKSPACE, &client_id).await? else {
        return Err(Problem::unauthorized("the token's client no longer exists"));
    };
    // The token's scopes, narrowed to what the client may still have.
    let allowed: Vec<&str> = stored.client.allowed_scopes().collect();
    let scopes = str_claim("scope").split_whitespace().filter(|s| allowed.contains(s)).map(str::to_string).collect();
    Ok(Caller::Client { client_id, scopes, tenant: stored.client.managed_tenant.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_scopes_on_their_workspace() {
        assert!(role_allows("admin", MANAGE_CLIENTS, false));
        assert!(role_allows("manager", MANAGE_USERS, false));
        assert!(!role_allows("manager", MANAGE_WORKSPACES, true));
        assert!(role_allows("auditor", MANAGE_CLIENTS, true));
        assert!(!role_allows("auditor", MANAGE_CLIENTS, false));
        assert!(!role_allows("admin", MANAGE_TENANTS, true));
        assert!(!role_allows("owner", MANAGE_CLIENTS, true));
    }
}
