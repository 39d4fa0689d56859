//! Organizations (workspaces of kind `organization`, scope `manage_organizations`) and
//! organization templates: a named configuration an organization can start from.
//!
//! `/api/organizations[/{wid}]` is the system-level form of `/api/tenants/{tid}/organizations`:
//! the tenant is the one the calling system client is bound to (`managed_tenant`).

use super::access::{Need, MANAGE_ORGANIZATIONS};
use super::workspaces::{self, NewWorkspace, KIND_ORGANIZATION};
use super::{check_new_id, created, json_body, no_content, not_allowed, page, page_response, Call};
use crate::config;
use crate::error::Problem;
use crate::http::Response;
use crate::runtime::Runtime;
use crate::store::management::{self as mstore, Template};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn token_tenant<R: Runtime>(c: &Call<'_, R>) -> Result<String, Problem> {
    match c.caller.bound_tenant() {
        Some(t) => Ok(t.to_string()),
        None => Err(Problem::invalid_request("this token is not bound to a tenant: use /api/tenants/{tenant}/organizations")),
    }
}

pub async fn collection<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    match c.req.method.as_str() {
        "GET" => workspaces::list(c, t, KIND_ORGANIZATION).await,
        "POST" => create(c, t).await,
        m => not_allowed(m),
    }
}

pub async fn item<R: Runtime>(c: &Call<'_, R>, t: &str, o: &str) -> Result<Response, Problem> {
    match c.req.method.as_str() {
        "GET" => workspaces::get(c, t, o, KIND_ORGANIZATION).await,
        "PUT" => workspaces::update(c, t, o, KIND_ORGANIZATION).await,
        "DELETE" => workspaces::delete(c, t, o, KIND_ORGANIZATION).await,
        m => not_allowed(m),
    }
}

/// Creates an organization from a configuration, or from a template (`template_id`), never both.
async fn create<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_ORGANIZATIONS, t, false)).await?;
    let n: NewWorkspace = json_body(c.req)?;
    let doc = match (&n.template_id, &n.config) {
        (Some(_), Some(_)) => return Err(Problem::invalid_request("give config or template_id, not both")),
        (Some(tid), None) => Some(mstore::get_template(c.rt.sql(), t, tid).await?.ok_or_else(|| Problem::invalid_request(format!("unknown template '{tid}'")))?.config),
        (None, doc) => doc.clone(),
    };
    let cfg = workspaces::parse_config(doc.as_ref(), n.name)?;
    workspaces::create_from(c, t, &n.id, KIND_ORGANIZATION, cfg).await
}

fn render(t: &Template) -> Value {
    json!({ "id": t.id, "name": t.name, "config": t.config, "created_at": t.created_at, "updated_at": t.updated_at })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    config: Option<Value>,
}

/// A template's configuration is validated as a whole workspace configuration, and stored as the
/// validated document (defaults filled in).
fn checked(b: &TemplateBody) -> Result<Value, Problem> {
    if b.name.chars().count() > 200 || b.name.chars().any(char::is_control) {
        return Err(Problem::invalid_request("name must be at most 200 characters, without control characters"));
    }
    let doc = b.config.clone().unwrap_or_else(|| json!({}));
    Ok(json!(config::parse_workspace_config(doc.to_string().as_bytes())?))
}

pub async fn create_template<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_ORGANIZATIONS, t, false)).await?;
    let b: TemplateBody = json_body(c.req)?;
    let id = b.id.clone().unwrap_or_default();
    check_new_id("template", &id)?;
    let config = checked(&b)?;
    super::existing_tenant(c, t).await?;
    let tpl = Template { id: id.clone(), name: b.name, config, created_at: c.now, updated_at: c.now };
    if !mstore::insert_template(c.rt.sql(), t, &tpl).await? {
        return Err(Problem::conflict(format!("template '{id}' already exists")));
    }
    Ok(created(format!("/api/tenants/{t}/organization-templates/{id}"), &render(&tpl)))
}

pub async fn list_templates<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_ORGANIZATIONS, t, true)).await?;
    super::existing_tenant(c, t).await?;
    let p = page(c.req)?;
    let rows = mstore::list_templates(c.rt.sql(), t, &p.after, p.limit + 1).await?;
    Ok(page_response(rows, p.limit, |x| x.id.clone(), render))
}

async fn load<R: Runtime>(c: &Call<'_, R>, t: &str, id: &str) -> Result<Template, Problem> {
    mstore::get_template(c.rt.sql(), t, id).await?.ok_or_else(|| Problem::not_found(format!("unknown template '{id}'")))
}

pub async fn get_template<R: Runtime>(c: &Call<'_, R>, t: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_ORGANIZATIONS, t, true)).await?;
    Ok(Response::json_no_store(200, &render(&load(c, t, id).await?)))
}

pub async fn update_template<R: Runtime>(c: &Call<'_, R>, t: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_ORGANIZATIONS, t, false)).await?;
    let b: TemplateBody = json_body(c.req)?;
    if b.id.as_deref().is_some_and(|x| x != id) {
        return Err(Problem::invalid_request("id cannot change"));
    }
    let config = checked(&b)?;
    let mut tpl = load(c, t, id).await?;
    tpl.name = b.name;
    tpl.config = config;
    tpl.updated_at = c.now;
    mstore::update_template(c.rt.sql(), t, &tpl).await?;
    Ok(Response::json_no_store(200, &render(&tpl)))
}

/// Organizations made from a template keep their configuration when the template goes.
pub async fn delete_template<R: Runtime>(c: &Call<'_, R>, t: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_ORGANIZATIONS, t, false)).await?;
    if !mstore::delete_template(c.rt.sql(), t, id).await? {
        return Err(Problem::not_found(format!("unknown template '{id}'")));
    }
    Ok(no_content())
}
