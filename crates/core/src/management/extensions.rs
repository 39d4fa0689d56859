//! A workspace's post-authentication extensions (`config::extensions`): list, create, read,
//! replace, delete. They live in the workspace configuration; every change takes
//! `workspaces::change_config` (validated whole, with the deployment's host allow-list).

use super::access::{Need, MANAGE_WORKSPACES};
use super::workspaces::change_config;
use super::{created, json_object_body, no_content, Call};
use crate::authn::context::POOL;
use crate::config::extensions::Extension;
use crate::config::identity_providers as idps;
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::runtime::Runtime;
use serde_json::{json, Value};

fn unknown(id: &str) -> Problem {
    Problem::not_found(format!("no extension '{id}' in this workspace"))
}

pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let cfg = c.workspace(t, w).await?;
    let mut v = cfg.extensions.clone();
    v.sort_by_key(|e| e.order);
    Ok(Response::json_no_store(200, &json!({ "extensions": v })))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let cfg = c.workspace(t, w).await?;
    let e = cfg.extensions.iter().find(|e| e.id == id).ok_or_else(|| unknown(id))?;
    Ok(Response::json_no_store(200, &json!(e)))
}

/// Parses an extension and checks that the providers it names exist (`pool`: the password form).
async fn parse<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, body: Value) -> Result<Extension, Problem> {
    let e: Extension = serde_json::from_value(body).map_err(OAuthError::invalid_configuration_document)?;
    if !e.idps.is_empty() {
        let providers = idps::load(c.rt.kv(), t, w).await?;
        if let Some(missing) = e.idps.iter().find(|i| i.as_str() != POOL && providers.get(i).is_none()) {
            return Err(OAuthError::invalid_configuration(&format!("extensions.{}.idps", e.id), &format!("names '{missing}', which is not an identity provider of this workspace (nor `pool`)")));
        }
    }
    Ok(e)
}

/// Adds an extension: 409 when its id is taken; 400 (nothing stored) when it or the list breaks a rule.
pub async fn create<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let e = parse(c, t, w, json_object_body(c.req)?).await?;
    change_config(c, t, w, |cfg| {
        if cfg.extensions.iter().any(|x| x.id == e.id) {
            return Err(Problem::conflict(format!("the workspace already has an extension '{}'", e.id)));
        }
        cfg.extensions.push(e.clone());
        Ok(())
    })
    .await?;
    Ok(created(format!("/api/tenants/{t}/workspaces/{w}/extensions/{}", e.id), &json!(e)))
}

/// Replaces an extension; the body's `id` is the path's or absent.
pub async fn replace<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let mut body = json_object_body(c.req)?;
    match body.get("id") {
        None => body["id"] = json!(id),
        Some(v) if v.as_str() == Some(id) => {}
        Some(_) => return Err(OAuthError::invalid_configuration("extensions.id", "an id cannot change (add the new extension, then delete this one)")),
    }
    let e = parse(c, t, w, body).await?;
    change_config(c, t, w, |cfg| {
        let slot = cfg.extensions.iter_mut().find(|x| x.id == id).ok_or_else(|| unknown(id))?;
        *slot = e.clone();
        Ok(())
    })
    .await?;
    Ok(Response::json_no_store(200, &json!(e)))
}

pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    change_config(c, t, w, |cfg| {
        let before = cfg.extensions.len();
        cfg.extensions.retain(|x| x.id != id);
        if cfg.extensions.len() == before {
            return Err(unknown(id));
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}
