//! The management API under `/api/...`: tenants (with licenses and feature flags), workspaces and
//! their configuration (replace, RFC 6902 import, clone, key rotation), identity providers, the
//! authentication context's schema and claims lineage, clients (and dynamic registration: its
//! settings, initial access tokens, and the registration endpoints themselves), the users of a workspace's
//! identity pool (and their links to providers), organizations and their templates, and workspace
//! administrators.
//!
//! Calls carry access tokens issued by the system workspace `/system/system` (see [`access`]);
//! the first system client comes from the root secret (`POST /api/bootstrap`). Errors are
//! RFC 9457 problem documents. Lists page by key: `?limit=` (1-100, default 50) and `?after=` the
//! `next` of the previous page.
//!
//! The prefix `/api` is a reserved identifier, so it never collides with the protocol routes
//! `/{tenant}/{workspace}/...`.

pub mod access;
pub mod admin;
mod administrators;
mod authn_context;
mod extensions;
pub(crate) mod authorization_details;
mod bootstrap;
mod branding;
mod clients;
mod dcr;
pub(crate) mod identity_providers;
pub mod json_patch;
pub(crate) mod open_banking;
mod organizations;
pub(crate) mod registration;
pub(crate) mod tenants;
mod users;
pub(crate) mod workspaces;

use crate::config::{self, WorkspaceConfig};
use crate::error::Problem;
use crate::http::{Request, Response};
use crate::runtime::{Clock, Runtime};
use crate::engine::Server;
use access::Caller;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub use bootstrap::{ensure_system_workspace, system_workspace_config};
pub use clients::create_client;
pub use tenants::trial_license;
pub use users::{create_user, NewUser};

/// The tenant and workspace whose tokens administer the server.
pub use crate::config::{SYSTEM_TENANT, SYSTEM_WORKSPACE};

/// The tenant `t`, or a 404 naming it (tenants and workspaces both start here).
pub(crate) async fn existing_tenant<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<crate::config::TenantConfig, Problem> {
    if !config::valid_identifier(t) {
        return Err(Problem::not_found(format!("unknown tenant '{t}'")));
    }
    config::load_tenant(c.rt.kv(), t).await?.ok_or_else(|| Problem::not_found(format!("unknown tenant '{t}'")))
}

/// The OpenAPI 3.1 description of this API (also at `/api/openapi.json`).
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

/// One management call: who makes it, and the runtime it runs on.
pub(crate) struct Call<'a, R: Runtime> {
    pub server: &'a Server,
    pub rt: &'a R,
    pub req: &'a Request,
    pub caller: Caller,
    pub now: i64,
}

impl<R: Runtime> Call<'_, R> {
    pub async fn allow(&self, need: access::Need<'_>) -> Result<(), Problem> {
        self.caller.allow(self.rt, need).await
    }

    /// The workspace's configuration read fresh from KV (not from the isolate cache), or 404.
    pub async fn workspace(&self, tenant: &str, workspace: &str) -> Result<Arc<WorkspaceConfig>, Problem> {
        if !config::valid_identifier(tenant) || !config::valid_identifier(workspace) {
            return Err(Problem::not_found(format!("unknown workspace '{tenant}/{workspace}'")));
        }
        self.server.forget_workspace(tenant, workspace);
        self.server.workspace_config(self.rt, tenant, workspace).await?.ok_or_else(|| Problem::not_found(format!("unknown workspace '{tenant}/{workspace}'")))
    }

    pub fn issuer(&self, tenant: &str, workspace: &str) -> String {
        format!("{}/{tenant}/{workspace}", self.req.origin)
    }
}

pub async fn handle<R: Runtime>(server: &Server, rt: &R, req: &Request, path: &[&str]) -> Response {
    match route(server, rt, req, path).await {
        Ok(r) => r,
        Err(p) => p.into_problem_response(),
    }
}

fn not_allowed(m: &str) -> Result<Response, Problem> {
    Err(Problem::method_not_allowed(format!("{m} is not allowed here")))
}

async fn route<R: Runtime>(server: &Server, rt: &R, req: &Request, path: &[&str]) -> Result<Response, Problem> {
    let m = req.method.as_str();
    let now = rt.clock().now_secs();
    // Calls that carry their own authority: the root secret, or a one-time link.
    match path {
        ["openapi.json"] => return if m == "GET" { Ok(Response::new(200).with_header("content-type", "application/json").with_body(OPENAPI_JSON.as_bytes().to_vec())) } else { not_allowed(m) },
        ["bootstrap"] => return if m == "POST" { bootstrap::handle(server, rt, req, now).await } else { not_allowed(m) },
        ["invitations", "accept"] => return if m == "POST" { administrators::accept(server, rt, req, now).await } else { not_allowed(m) },
        ["password-reset"] => return if m == "POST" { users::complete_reset(server, rt, req, now).await } else { not_allowed(m) },
        _ => {}
    }
    let caller = access::authenticate(server, rt, req).await?;
    let c = Call { server, rt, req, caller, now };
    match path {
        ["tenants"] => match m {
            "GET" => tenants::list(&c).await,
            "POST" => tenants::create(&c).await,
            _ => not_allowed(m),
        },
        ["tenants", t] => match m {
            "GET" => tenants::get(&c, t).await,
            "PUT" => tenants::update(&c, t).await,
            "DELETE" => tenants::delete(&c, t).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "features"] => match m {
            "GET" => tenants::get_features(&c, t).await,
            "PUT" => tenants::set_features(&c, t).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces"] => match m {
            "GET" => workspaces::list(&c, t, workspaces::KIND_WORKSPACE).await,
            "POST" => workspaces::create(&c, t, workspaces::KIND_WORKSPACE).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w] => match m {
            "GET" => workspaces::get(&c, t, w, workspaces::KIND_WORKSPACE).await,
            "PUT" => workspaces::update(&c, t, w, workspaces::KIND_WORKSPACE).await,
            "DELETE" => workspaces::delete(&c, t, w, workspaces::KIND_WORKSPACE).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "config"] => match m {
            "GET" => workspaces::get_config(&c, t, w).await,
            "PUT" => workspaces::replace_config(&c, t, w).await,
            "PATCH" => workspaces::patch_config(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "keys"] => match m {
            "GET" => workspaces::list_keys(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "keys", "rotate"] => match m {
            "POST" => workspaces::rotate_keys(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "promote", "config-clone"] => match m {
            "POST" => workspaces::config_clone(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "identity-providers"] => match m {
            "GET" => identity_providers::list(&c, t, w).await,
            "POST" => identity_providers::create(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "identity-providers", id] => match m {
            "GET" => identity_providers::get(&c, t, w, id).await,
            "PUT" => identity_providers::replace(&c, t, w, id).await,
            "PATCH" => identity_providers::patch(&c, t, w, id).await,
            "DELETE" => identity_providers::delete(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "extensions"] => match m {
            "GET" => extensions::list(&c, t, w).await,
            "POST" => extensions::create(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "extensions", id] => match m {
            "GET" => extensions::get(&c, t, w, id).await,
            "PUT" => extensions::replace(&c, t, w, id).await,
            "DELETE" => extensions::delete(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "branding"] => match m {
            "GET" => branding::get(&c, t, w).await,
            "PUT" => branding::replace(&c, t, w).await,
            "DELETE" => branding::delete(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "branding", "logo"] => match m {
            "PUT" => branding::put_logo(&c, t, w).await,
            "DELETE" => branding::delete_logo(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "authorization-details-types"] => match m {
            "GET" => authorization_details::list(&c, t, w).await,
            "POST" => authorization_details::create(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "authorization-details-types", name] => match m {
            "GET" => authorization_details::get(&c, t, w, name).await,
            "PUT" => authorization_details::replace(&c, t, w, name).await,
            "DELETE" => authorization_details::delete(&c, t, w, name).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "authn-context"] => match m {
            "GET" => authn_context::get(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "authn-context", "attributes"] => match m {
            "POST" => authn_context::add_attribute(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "authn-context", "attributes", name] => match m {
            "PUT" => authn_context::replace_attribute(&c, t, w, name).await,
            "DELETE" => authn_context::delete_attribute(&c, t, w, name).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "claims"] => match m {
            "GET" => authn_context::get_claims(&c, t, w).await,
            "PUT" => authn_context::replace_claims(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "clients"] => match m {
            "GET" => clients::list(&c, t, w).await,
            "POST" => clients::create(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "clients", id] => match m {
            "GET" => clients::get(&c, t, w, id).await,
            "PUT" => clients::update(&c, t, w, id).await,
            "DELETE" => clients::delete(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "clients", id, "rotate-secret"] => match m {
            "POST" => clients::rotate_secret(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "dcr"] => match m {
            "GET" => dcr::get_settings(&c, t, w).await,
            "PUT" => dcr::replace_settings(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "dcr", "initial-access-tokens"] => match m {
            "GET" => dcr::list_tokens(&c, t, w).await,
            "POST" => dcr::create_token(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "dcr", "initial-access-tokens", id] => match m {
            "DELETE" => dcr::delete_token(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users"] => match m {
            "GET" => users::list(&c, t, w).await,
            "POST" => users::create(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id] => match m {
            "GET" => users::get(&c, t, w, id).await,
            "PATCH" => users::update(&c, t, w, id).await,
            "DELETE" => users::delete(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "password"] => match m {
            "PUT" => users::set_password(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "password-reset"] => match m {
            "POST" => users::start_reset(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "identities"] => match m {
            "GET" => users::identities(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "identities", idp] => match m {
            "DELETE" => users::unlink(&c, t, w, id, idp).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "passkeys"] => match m {
            "GET" => users::passkeys(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "passkeys", credential_id] => match m {
            "DELETE" => users::delete_passkey(&c, t, w, id, credential_id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "totp"] => match m {
            "GET" => users::totp(&c, t, w, id).await,
            "DELETE" => users::delete_totp(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "users", id, "activate"] => match m {
            "POST" => users::activate(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "servers", w, "open-banking-brasil", "consents"] => match m {
            "POST" => open_banking::list(&c, t, w).await,
            "DELETE" => open_banking::revoke_by_filter(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "servers", w, "open-banking-brasil", "consents", id] => match m {
            "GET" => open_banking::get(&c, t, w, id).await,
            "DELETE" => open_banking::revoke(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "servers", w, "open-banking-brasil", "consents", id, "consume"] => match m {
            "POST" => open_banking::consume(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "administrators"] => match m {
            "GET" => administrators::list(&c, t, w).await,
            "POST" => administrators::invite(&c, t, w).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "workspaces", w, "administrators", id] => match m {
            "PUT" => administrators::set_role(&c, t, w, id).await,
            "DELETE" => administrators::remove(&c, t, w, id).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "organizations"] => organizations::collection(&c, t).await,
        ["tenants", t, "organizations", o] => organizations::item(&c, t, o).await,
        // The system-level organization API: the tenant is the one the token is bound to.
        ["organizations"] => organizations::collection(&c, &organizations::token_tenant(&c)?).await,
        ["organizations", o] => organizations::item(&c, &organizations::token_tenant(&c)?, o).await,
        ["tenants", t, "organization-templates"] => match m {
            "GET" => organizations::list_templates(&c, t).await,
            "POST" => organizations::create_template(&c, t).await,
            _ => not_allowed(m),
        },
        ["tenants", t, "organization-templates", id] => match m {
            "GET" => organizations::get_template(&c, t, id).await,
            "PUT" => organizations::update_template(&c, t, id).await,
            "DELETE" => organizations::delete_template(&c, t, id).await,
            _ => not_allowed(m),
        },
        _ => Err(Problem::not_found(format!("no endpoint at {}", req.path))),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the resources

/// The JSON body of a request (`{}` when empty), refusing other media types with 415.
pub(crate) fn json_body<T: for<'de> Deserialize<'de>>(req: &Request) -> Result<T, Problem> {
    let ct = req.content_type();
    if ct != "application/json" && !(ct.is_empty() && req.body.is_empty()) {
        return Err(Problem::new(415, "unsupported-media-type", "Unsupported Media Type", "the body must be application/json"));
    }
    let body: &[u8] = if req.body.is_empty() { b"{}" } else { &req.body };
    serde_json::from_slice(body).map_err(|e| Problem::invalid_request(format!("invalid JSON body: {e}")))
}

/// A body that replaces a whole document (a configuration, the feature flags): a JSON object,
/// never empty, as a missing or wrong document would silently become the defaults.
pub(crate) fn json_object_body(req: &Request) -> Result<Value, Problem> {
    if req.body.is_empty() {
        return Err(Problem::invalid_request("the body must be a JSON object (it is empty)"));
    }
    let v: Value = json_body(req)?;
    if !v.is_object() {
        return Err(Problem::invalid_request("the body must be a JSON object"));
    }
    Ok(v)
}

/// A new resource's identifier: plain (lower-case letters, digits, '-'), 1-63 characters.
pub(crate) fn check_new_id(what: &str, id: &str) -> Result<(), Problem> {
    if config::valid_identifier(id) {
        Ok(())
    } else {
        Err(Problem::invalid_request(format!("'{id}' is not a valid {what} identifier (1-63 lower-case letters, digits and '-', not starting with '-')")))
    }
}

/// `?limit=` and `?after=` of a list call.
pub(crate) struct Page {
    pub after: String,
    pub limit: i64,
    pub query: Option<String>,
}

pub(crate) fn page(req: &Request) -> Result<Page, Problem> {
    let p = req.query_params().map_err(|e| Problem::invalid_request(e.description))?;
    let limit = match p.get("limit") {
        None => 50,
        Some(l) => l.parse::<i64>().ok().filter(|l| (1..=crate::store::management::MAX_PAGE).contains(l)).ok_or_else(|| Problem::invalid_request("limit must be a number from 1 to 100"))?,
    };
    Ok(Page { after: p.get("after").unwrap_or("").to_string(), limit, query: p.get("q").map(str::to_string) })
}

/// A page of items: `next` is the `after` of the next page, or null on the last one. Callers fetch
/// `limit + 1` rows; the extra one only says whether there is more.
pub(crate) fn page_response<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> String, render: impl Fn(&T) -> Value) -> Response {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(&key) } else { None };
    Response::json_no_store(200, &json!({ "items": rows.iter().map(render).collect::<Vec<_>>(), "next": next }))
}

pub(crate) fn no_content() -> Response {
    Response::new(204).with_header("cache-control", "no-store")
}

pub(crate) fn created(location: String, body: &Value) -> Response {
    Response::json_no_store(201, body).with_header("location", location)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_served_document_is_the_repository_one_minified() {
        let served: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).unwrap();
        let pretty: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
        assert_eq!(served, pretty);
        assert!(super::OPENAPI_JSON.len() < include_str!("openapi.json").len() * 3 / 4);
    }
}
