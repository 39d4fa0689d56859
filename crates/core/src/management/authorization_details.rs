//! A workspace's authorization details types (`config::authorization_details`): list, create,
//! read, replace, delete under `/api/tenants/{t}/workspaces/{w}/authorization-details-types`.
//! Each write checks the type (its schema compiles and defines `type`, its policies parse) and
//! drops the isolate's cached copy. A type's name is the last path segment, percent-encoded (type
//! names are often URIs). Clients subscribe to types through their `authorization_details_types`,
//! checked here with the developer-context policies ([`check_client`]).

use super::access::{Need, MANAGE_WORKSPACES};
use super::{created, json_object_body, no_content, Call};
use crate::config::authorization_details::{self as rar, AuthorizationDetailsType, AuthorizationDetailsTypes, RichAuthorization};
use crate::config::client::Client;
use crate::config::{self, WorkspaceConfig};
use crate::error::{OAuthError, Problem};
use crate::http::{percent_decode, percent_encode, Response};
use crate::policy::PolicyContext;
use crate::runtime::Runtime;
use serde_json::{json, Value};

fn path(t: &str, w: &str, name: &str) -> String {
    format!("/api/tenants/{t}/workspaces/{w}/authorization-details-types/{}", percent_encode(name))
}

fn unknown(name: &str) -> Problem {
    Problem::not_found(format!("unknown authorization details type '{}'", rar::shorten(name)))
}

/// The workspace (404 when there is none) and its types, read fresh.
async fn current<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<(std::sync::Arc<WorkspaceConfig>, AuthorizationDetailsTypes), Problem> {
    let cfg = c.workspace(t, w).await?;
    Ok((cfg, rar::load(c.rt.kv(), t, w).await?))
}

fn type_from_json(v: Value) -> Result<AuthorizationDetailsType, Problem> {
    serde_json::from_value(v).map_err(OAuthError::invalid_configuration_document)
}

/// Checks the document and stores it; this isolate's cached copy is dropped (others wait out the TTL).
async fn store<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, doc: &AuthorizationDetailsTypes) -> Result<(), Problem> {
    doc.validate()?;
    rar::save(c.rt.kv(), t, w, doc).await?;
    c.server.forget_workspace(t, w);
    Ok(())
}

pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let (_, doc) = current(c, t, w).await?;
    Ok(Response::json_no_store(200, &json!({ "items": doc.types, "next": null })))
}

pub async fn create<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let new = type_from_json(json_object_body(c.req)?)?;
    new.validate()?;
    let (_, mut doc) = current(c, t, w).await?;
    if doc.get(&new.name).is_some() {
        return Err(Problem::conflict(format!("authorization details type '{}' already exists", rar::shorten(&new.name))));
    }
    let location = path(t, w, &new.name);
    doc.types.push(new.clone());
    store(c, t, w, &doc).await?;
    Ok(created(location, &json!(new)))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, name: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let name = percent_decode(name).unwrap_or_default();
    let (_, doc) = current(c, t, w).await?;
    Ok(Response::json_no_store(200, &json!(doc.get(&name).ok_or_else(|| unknown(&name))?)))
}

/// Replaces a type; the body's `type` is the path's or absent.
pub async fn replace<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, name: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let name = percent_decode(name).unwrap_or_default();
    let mut body = json_object_body(c.req)?;
    match body.get("type") {
        None => body["type"] = json!(name),
        Some(v) if v.as_str() == Some(name.as_str()) => {}
        Some(_) => return Err(OAuthError::invalid_configuration("type", "must be the path's type (or absent)")),
    }
    let new = type_from_json(body)?;
    new.validate()?;
    let (_, mut doc) = current(c, t, w).await?;
    let slot = doc.types.iter_mut().find(|x| x.name == name).ok_or_else(|| unknown(&name))?;
    *slot = new.clone();
    store(c, t, w, &doc).await?;
    Ok(Response::json_no_store(200, &json!(new)))
}

/// Deletes a type. Clients that subscribed to it keep the name, and their requests for it are
/// refused as an unknown type until it exists again.
pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, name: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let name = percent_decode(name).unwrap_or_default();
    let (_, mut doc) = current(c, t, w).await?;
    doc.get(&name).ok_or_else(|| unknown(&name))?;
    doc.types.retain(|x| x.name != name);
    store(c, t, w, &doc).await?;
    Ok(no_content())
}

/// The workspace's Rich Authorization Requests state read fresh (not from the isolate cache),
/// for checking a client's `authorization_details_types` (here, and in dynamic registration).
pub(crate) async fn fresh_state<R: Runtime>(rt: &R, t: &str, w: &str, cfg: &WorkspaceConfig) -> Result<RichAuthorization, Problem> {
    let tenant = config::load_tenant(rt.kv(), t).await?;
    Ok(RichAuthorization::new(rar::enabled(tenant.as_ref(), cfg), rar::load(rt.kv(), t, w).await?))
}

/// A client written through the management API: its types known, the feature on, and each
/// allowed by the type's developer policy (nothing is read for a client with no types).
pub(crate) async fn check_client<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, client: &Client) -> Result<(), Problem> {
    if client.authorization_details_types.is_empty() {
        return Ok(());
    }
    let cfg = c.workspace(t, w).await?;
    let state = fresh_state(c.rt, t, w, &cfg).await?;
    rar::check_client_types(&state, &client.authorization_details_types, PolicyContext::Developer, &json!(client))
}
