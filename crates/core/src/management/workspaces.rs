//! Workspaces (authorization servers) and organizations (workspaces of kind `organization`):
//! create with fresh signing keys, get, list, update, delete; configuration read, replace and
//! RFC 6902 import; key rotation; and the config clone behind the `tree_dump_tenant` flag.

use super::access::{Need, MANAGE_ORGANIZATIONS, MANAGE_WORKSPACES};
use super::{check_new_id, created, existing_tenant, identity_providers, json_body, json_object_body, json_patch, no_content, page, page_response, Call, SYSTEM_TENANT, SYSTEM_WORKSPACE};
use crate::config::{self, WorkspaceConfig};
use crate::error::Problem;
use crate::http::Response;
use crate::jose::keys;
use crate::runtime::{KvStore, Runtime};
use crate::store::{self, management as mstore};
use serde::Deserialize;
use serde_json::{json, Value};

pub const KIND_WORKSPACE: &str = "workspace";
pub const KIND_ORGANIZATION: &str = "organization";

/// The tenant feature flag that reveals `POST .../promote/config-clone`.
pub const CONFIG_CLONE_FLAG: &str = "tree_dump_tenant";

pub fn scope_for(kind: &str) -> &'static str {
    if kind == KIND_ORGANIZATION {
        MANAGE_ORGANIZATIONS
    } else {
        MANAGE_WORKSPACES
    }
}

fn collection(kind: &str) -> &'static str {
    if kind == KIND_ORGANIZATION {
        "organizations"
    } else {
        "workspaces"
    }
}

fn render<R: Runtime>(c: &Call<'_, R>, t: &str, e: &mstore::WorkspaceEntry) -> Value {
    json!({ "id": e.id, "tenant": t, "kind": e.kind, "name": e.name, "issuer": c.issuer(t, &e.id), "created_at": e.created_at })
}

/// The index entry of an existing workspace of `kind`, or 404.
async fn entry<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, kind: &str) -> Result<(mstore::WorkspaceEntry, std::sync::Arc<WorkspaceConfig>), Problem> {
    let cfg = c.workspace(t, w).await?;
    // A workspace made before the index existed has no row: it is a plain workspace.
    let e = mstore::get_workspace_entry(c.rt.sql(), t, w).await?.unwrap_or(mstore::WorkspaceEntry { id: w.into(), kind: KIND_WORKSPACE.into(), name: cfg.name.clone(), created_at: 0 });
    if e.kind != kind {
        return Err(Problem::not_found(format!("'{w}' is not {} of tenant '{t}'", if kind == KIND_ORGANIZATION { "an organization" } else { "a workspace" })));
    }
    Ok((e, cfg))
}

/// Stores a new workspace: signing keys first (a workspace is never visible without keys to sign
/// with), then its configuration and its index row.
/// Creates a workspace: signing keys and index row (SQL) first, the configuration (KV) last, as
/// the configuration is what makes the workspace answer (and it never answers without keys).
/// When the configuration cannot be written, what SQL holds for the workspace is removed again.
pub async fn insert<R: Runtime>(rt: &R, t: &str, w: &str, kind: &str, cfg: &WorkspaceConfig, now: i64) -> Result<(), Problem> {
    deployment_allows(rt, cfg)?;
    // New workspaces state assurance levels (NIST-AAL-1 unless the document says otherwise);
    // stored ones without the member keep their old `acr` (see `LoginConfig::aal`).
    let mut cfg = cfg.clone();
    cfg.login.aal.get_or_insert_with(|| crate::aal::Aal::One.as_str().to_string());
    let cfg = &cfg;
    let new_keys = if store::list_keys(rt.sql(), t, w, now).await?.is_empty() { keys::generate(rt, t, w, now).await? } else { Vec::new() };
    mstore::insert_workspace(rt.sql(), t, w, kind, &cfg.name, now, &new_keys).await?;
    keys::forget_snapshot(rt, t, w).await?;
    if let Err(e) = rt.kv().put(&config::workspace_key(t, w), &json!(cfg).to_string()).await {
        mstore::delete_workspace_data(rt.sql(), t, w).await?;
        return Err(e.into());
    }
    Ok(())
}

/// Creates a workspace of `kind` from a configuration; 409 when the identifier is taken.
pub async fn create_from<R: Runtime>(c: &Call<'_, R>, t: &str, id: &str, kind: &str, cfg: WorkspaceConfig) -> Result<Response, Problem> {
    check_new_id(kind, id)?;
    existing_tenant(c, t).await?;
    if config::load_workspace(c.rt.kv(), t, id).await?.is_some() {
        return Err(Problem::conflict(format!("'{id}' already exists in tenant '{t}'")));
    }
    insert(c.rt, t, id, kind, &cfg, c.now).await?;
    c.server.forget_workspace(t, id);
    let e = mstore::WorkspaceEntry { id: id.into(), kind: kind.into(), name: cfg.name.clone(), created_at: c.now };
    Ok(created(format!("/api/tenants/{t}/{}/{id}", collection(kind)), &render(c, t, &e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub id: String,
    pub name: Option<String>,
    /// The whole configuration document (defaults when absent).
    pub config: Option<Value>,
    /// Organizations only: the template whose configuration the organization starts from.
    pub template_id: Option<String>,
}

pub fn parse_config(doc: Option<&Value>, name: Option<String>) -> Result<WorkspaceConfig, Problem> {
    let mut doc = doc.cloned().unwrap_or_else(|| json!({}));
    if let (Some(n), Some(obj)) = (name, doc.as_object_mut()) {
        obj.insert("name".into(), json!(n));
    }
    config::parse_workspace_config(doc.to_string().as_bytes())
}

pub async fn create<R: Runtime>(c: &Call<'_, R>, t: &str, kind: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(scope_for(kind), t, false)).await?;
    let n: NewWorkspace = json_body(c.req)?;
    if n.template_id.is_some() {
        return Err(Problem::invalid_request("template_id is for organizations"));
    }
    let cfg = parse_config(n.config.as_ref(), n.name)?;
    create_from(c, t, &n.id, kind, cfg).await
}

pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, kind: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(scope_for(kind), t, true)).await?;
    existing_tenant(c, t).await?;
    let p = page(c.req)?;
    let rows = mstore::list_workspaces(c.rt.sql(), t, kind, &p.after, p.limit + 1).await?;
    Ok(page_response(rows, p.limit, |e| e.id.clone(), |e| render(c, t, e)))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, kind: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(scope_for(kind), t, w, true)).await?;
    let (e, _) = entry(c, t, w, kind).await?;
    Ok(Response::json_no_store(200, &render(c, t, &e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceUpdate {
    name: String,
}

/// Renames a workspace (its configuration is replaced through `/config`).
pub async fn update<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, kind: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(scope_for(kind), t, w, false)).await?;
    let u: WorkspaceUpdate = json_body(c.req)?;
    let (mut e, cfg) = entry(c, t, w, kind).await?;
    let mut cfg = (*cfg).clone();
    cfg.name = u.name;
    if cfg.name.chars().count() > 200 || cfg.name.chars().any(char::is_control) {
        return Err(Problem::invalid_request("name must be at most 200 characters, without control characters"));
    }
    store_config(c, t, w, &e.kind, &cfg).await?;
    e.name = cfg.name;
    Ok(Response::json_no_store(200, &render(c, t, &e)))
}

/// Deletes a workspace with everything under it: clients, its identity pool's users, keys, grants,
/// its identity providers, its authorization details types, its branding.
pub async fn remove<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<(), Problem> {
    // Configuration first: from here on the protocol routes answer 404.
    c.rt.kv().delete(&config::workspace_key(t, w)).await?;
    c.server.forget_workspace(t, w);
    identity_providers::remove_workspace(c.rt, c.server, t, w).await?;
    c.rt.kv().delete(&crate::config::authorization_details::types_key(t, w)).await?;
    crate::config::branding::remove(c.rt.kv(), t, w).await?;
    mstore::delete_workspace_data(c.rt.sql(), t, w).await?;
    keys::forget_snapshot(c.rt, t, w).await?;
    Ok(())
}

pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, kind: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(scope_for(kind), t, w, false)).await?;
    if (t, w) == (SYSTEM_TENANT, SYSTEM_WORKSPACE) {
        return Err(Problem::conflict("the system workspace cannot be deleted"));
    }
    entry(c, t, w, kind).await?;
    remove(c, t, w).await?;
    // Its users were an identity pool: the providers that sign users in there go too (AUT-6376).
    // (A tenant's delete needs no such sweep: every workspace goes.)
    identity_providers::remove_pointing_at(c.rt, c.server, t, w).await?;
    Ok(no_content())
}

/// Writes a validated configuration and drops this isolate's cached copy; other isolates see it
/// within `CONFIG_CACHE_TTL_MS` (plus KV propagation on Workers).
async fn store_config<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, kind: &str, cfg: &WorkspaceConfig) -> Result<(), Problem> {
    write_config(c.rt, t, w, kind, cfg, c.now).await?;
    c.server.forget_workspace(t, w);
    Ok(())
}

/// Replaces an existing workspace's configuration: the index row (its name) first, the
/// configuration last, so a failed index write changes nothing.
pub async fn write_config<R: Runtime>(rt: &R, t: &str, w: &str, kind: &str, cfg: &WorkspaceConfig, now: i64) -> Result<(), Problem> {
    deployment_allows(rt, cfg)?;
    mstore::index_workspace(rt.sql(), t, w, kind, &cfg.name, now).await?;
    rt.kv().put(&config::workspace_key(t, w), &json!(cfg).to_string()).await?;
    Ok(())
}

/// The rules of a configuration that depend on the deployment: the hosts extensions may reach.
fn deployment_allows<R: Runtime>(rt: &R, cfg: &WorkspaceConfig) -> Result<(), Problem> {
    crate::config::extensions::validate_all(&cfg.extensions, rt.extension_hosts())?;
    // The email webhook is a customer's service like an extension: the same allow-list.
    let hook = &cfg.login.email_codes.webhook_url;
    if !hook.is_empty() && !crate::urls::web_url(hook).is_ok_and(|u| crate::urls::host_allowed(rt.extension_hosts(), &u)) {
        return Err(Problem::invalid_request("login.email_codes.webhook_url names a host this deployment does not allow (EXTENSION_HOSTS)"));
    }
    Ok(())
}

/// Changes part of the configuration (the authentication context, the claims lineage) along the
/// path a replace takes: read fresh, changed, validated whole, stored with its index row, the
/// isolate's copy dropped. A change that breaks a rule answers 400 and stores nothing.
pub(crate) async fn change_config<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, change: impl FnOnce(&mut WorkspaceConfig) -> Result<(), Problem>) -> Result<WorkspaceConfig, Problem> {
    let mut cfg = (*c.workspace(t, w).await?).clone();
    change(&mut cfg)?;
    cfg.validate()?;
    store_config(c, t, w, &kind_of(c, t, w).await?, &cfg).await?;
    Ok(cfg)
}

async fn kind_of<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<String, Problem> {
    Ok(mstore::get_workspace_entry(c.rt.sql(), t, w).await?.map(|e| e.kind).unwrap_or_else(|| KIND_WORKSPACE.into()))
}

pub async fn get_config<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let cfg = c.workspace(t, w).await?;
    Ok(Response::json_no_store(200, &json!(*cfg)))
}

pub async fn replace_config<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let doc = json_object_body(c.req)?;
    c.workspace(t, w).await?;
    let cfg = config::parse_workspace_config(doc.to_string().as_bytes())?;
    store_config(c, t, w, &kind_of(c, t, w).await?, &cfg).await?;
    Ok(Response::json_no_store(200, &json!(cfg)))
}

const PATCH_FAILED: &str = "failed to apply patch: Invalid JSON Patch";

fn invalid_patch(detail: String, details: Value) -> Problem {
    Problem::new(400, "invalid-json-patch", PATCH_FAILED, detail).with("error", json!(PATCH_FAILED)).with("status_code", json!(400)).with("details", details)
}

/// Imports configuration as an RFC 6902 JSON Patch against the stored document. A malformed patch,
/// or one that yields an invalid configuration, answers 400 and stores nothing.
pub async fn patch_config<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    if !matches!(c.req.content_type().as_str(), "application/json-patch+json" | "application/json") {
        return Err(Problem::new(415, "unsupported-media-type", "Unsupported Media Type", "the body must be application/json-patch+json"));
    }
    let current = c.workspace(t, w).await?;
    let patch: Value = serde_json::from_slice(&c.req.body).map_err(|e| invalid_patch(format!("the body is not JSON: {e}"), Value::Null))?;
    let patched = json_patch::apply(&json!(*current), &patch).map_err(|e| invalid_patch(e.describe(), e.details()))?;
    let cfg = config::parse_workspace_config(patched.to_string().as_bytes())?;
    store_config(c, t, w, &kind_of(c, t, w).await?, &cfg).await?;
    Ok(Response::json_no_store(200, &json!(cfg)))
}

pub async fn list_keys<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    c.workspace(t, w).await?;
    let rows = store::list_keys(c.rt.sql(), t, w, c.now).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|k| json!({ "kid": k.kid, "alg": k.alg, "public_jwk": k.public_jwk, "created_at": k.created_at, "retired_at": k.retired_at, "remove_at": k.remove_at }))
        .collect();
    Ok(Response::json_no_store(200, &json!({ "items": items, "next": null })))
}

/// New keys sign at once; the retired ones stay in the JWKS until the tokens they signed expire.
pub async fn rotate_keys<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let cfg = c.workspace(t, w).await?;
    let kids = keys::rotate(c.rt, t, w, c.now, cfg.max_signed_token_ttl() + 60).await?;
    keys::forget_snapshot(c.rt, t, w).await?;
    c.server.forget_workspace(t, w);
    Ok(Response::json_no_store(200, &json!({ "active_kids": kids })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloneRequest {
    id: String,
    name: Option<String>,
}

/// `POST .../promote/config-clone`: a new workspace of the same tenant with this one's
/// configuration (not its clients, users or keys). Hidden (404) unless the tenant's
/// `tree_dump_tenant` flag is on.
pub async fn config_clone<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let tenant = existing_tenant(c, t).await?;
    if tenant.features.get(CONFIG_CLONE_FLAG) != Some(&true) {
        return Err(Problem::not_found(format!("no endpoint at {}", c.req.path)));
    }
    // Creating the clone is creating a workspace in the tenant.
    c.allow(Need::tenant(MANAGE_WORKSPACES, t, false)).await?;
    let r: CloneRequest = json_body(c.req)?;
    let (_, source) = entry(c, t, w, KIND_WORKSPACE).await?;
    let mut cfg = (*source).clone();
    if let Some(n) = r.name {
        cfg.name = n;
    }
    cfg.validate()?;
    create_from(c, t, &r.id, KIND_WORKSPACE, cfg).await
}
