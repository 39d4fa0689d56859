//! A workspace's identity providers (`config::identity_providers`): list, create, read, replace,
//! a merge patch of the few members an administrator flips often (enabled, order, name), delete;
//! and the bootstrap API's whole-document replace. Every write goes through [`store`]: the
//! document is checked against the workspace (mapping targets, the workspace a `workspace`
//! provider names), secrets are sealed (one not sent keeps the one sealed before), and the isolate's
//! cached copy is dropped. Answers show providers [`IdentityProvider::redacted`]: no secret in any form.

use super::access::{Need, MANAGE_WORKSPACES};
use super::{created, json_object_body, no_content, Call};
use crate::config::identity_providers::{self as idps, IdentityProvider, IdentityProviders, IdpType};
use crate::config::{self, WorkspaceConfig};
use crate::engine::Server;
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::outbound;
use crate::runtime::{KvStore, Runtime};
use crate::store::federation;
use serde::Deserialize;
use serde_json::{json, Value};

/// The outbound cache owners of a provider's discovery document and JWKS (the sign-in flow's names).
fn cache_owners(t: &str, w: &str, id: &str) -> [String; 2] {
    [format!("idp-meta/{t}/{w}/{id}"), format!("idp-jwks/{t}/{w}/{id}")]
}

/// What goes with a provider that is no longer there: its users' links, and its cached documents.
async fn forget_provider<R: Runtime>(rt: &R, server: &Server, t: &str, w: &str, id: &str) -> Result<(), Problem> {
    federation::delete_links_for_idp(rt.sql(), t, w, id).await?;
    for owner in cache_owners(t, w, id) {
        outbound::forget(rt, server, &owner).await?;
    }
    Ok(())
}

/// A provider as an administrator sends it. `client_secret_set` (what we show) is ignored, so a
/// provider read, edited and sent back is accepted; `client_secret_sealed` is ours alone: a caller
/// could otherwise plant a sealed value (or one copied from another provider).
pub(crate) fn provider_from_json(mut v: Value) -> Result<IdentityProvider, Problem> {
    let Some(o) = v.as_object_mut() else {
        return Err(Problem::invalid_request("an identity provider is a JSON object"));
    };
    o.remove("client_secret_set");
    if o.contains_key("client_secret_sealed") {
        return Err(OAuthError::invalid_configuration("identity_providers.client_secret_sealed", "is never accepted: send client_secret (write-only) instead"));
    }
    serde_json::from_value(v).map_err(OAuthError::invalid_configuration_document)
}

/// Checks `providers` (as sent: secrets in the clear or absent) against the workspace and seals them
/// for storage; a provider that sends no secret keeps the one sealed in `previous` under its id.
pub(crate) async fn checked<R: Runtime>(rt: &R, t: &str, w: &str, cfg: &WorkspaceConfig, providers: Vec<IdentityProvider>, previous: &IdentityProviders) -> Result<IdentityProviders, Problem> {
    let mut out = Vec::with_capacity(providers.len());
    for mut p in providers {
        let before = previous.get(&p.id);
        // Validated with the secret it will have: the one sent, else the one kept.
        p.client_secret_sealed = before.and_then(|b| b.client_secret_sealed.clone());
        p.validate(w)?;
        for m in &p.mappings {
            if !cfg.authn_context.has(&m.target) {
                return Err(OAuthError::invalid_configuration(&format!("identity_providers.{}.mappings.target", p.id), &format!("'{}' is no attribute of the authentication context (add it first)", m.target)));
            }
        }
        if p.kind == IdpType::Workspace && config::load_workspace(rt.kv(), t, &p.workspace).await?.is_none() {
            return Err(OAuthError::invalid_configuration(&format!("identity_providers.{}.workspace", p.id), &format!("names no workspace of tenant '{t}'")));
        }
        out.push(p.sealed_for_storage(before, rt.master_secret(), t, w, rt.entropy()));
    }
    let doc = IdentityProviders { version: idps::PROVIDERS_VERSION, providers: out };
    doc.validate(w)?;
    Ok(doc)
}

/// Stores a checked document and drops this isolate's cached copy (others see it within
/// `CONFIG_CACHE_TTL_MS`); the providers `previous` had and `doc` lacks are forgotten.
pub(crate) async fn store<R: Runtime>(rt: &R, server: &Server, t: &str, w: &str, doc: &IdentityProviders, previous: &IdentityProviders) -> Result<(), Problem> {
    idps::save(rt.kv(), t, w, doc).await?;
    server.forget_workspace(t, w);
    for gone in previous.providers.iter().filter(|p| doc.get(&p.id).is_none()) {
        forget_provider(rt, server, t, w, &gone.id).await?;
    }
    Ok(())
}

fn render_all(doc: &IdentityProviders) -> Vec<Value> {
    doc.in_page_order().into_iter().map(IdentityProvider::redacted).collect()
}

/// The workspace's configuration (404 when there is none) and its providers, read fresh.
async fn current<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<(std::sync::Arc<WorkspaceConfig>, IdentityProviders), Problem> {
    let cfg = c.workspace(t, w).await?;
    Ok((cfg, idps::load(c.rt.kv(), t, w).await?))
}

fn unknown(id: &str) -> Problem {
    Problem::not_found(format!("unknown identity provider '{id}'"))
}

/// Replaces (or adds, `None`) one provider of the document and stores the result.
async fn write_one<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, cfg: &WorkspaceConfig, previous: &IdentityProviders, p: IdentityProvider) -> Result<Value, Problem> {
    let id = p.id.clone();
    let mut providers: Vec<IdentityProvider> = previous.providers.clone();
    match providers.iter_mut().find(|q| q.id == id) {
        Some(q) => *q = p,
        None => providers.push(p),
    }
    let doc = checked(c.rt, t, w, cfg, providers, previous).await?;
    store(c.rt, c.server, t, w, &doc, previous).await?;
    Ok(doc.get(&id).map(IdentityProvider::redacted).unwrap_or_default())
}

/// Every provider in sign-in page order (at most `MAX_PROVIDERS`: one page, `next` always null).
pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let (_, doc) = current(c, t, w).await?;
    Ok(Response::json_no_store(200, &json!({ "items": render_all(&doc), "next": null })))
}

pub async fn create<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let p = provider_from_json(json_object_body(c.req)?)?;
    let (cfg, previous) = current(c, t, w).await?;
    if previous.get(&p.id).is_some() {
        return Err(Problem::conflict(format!("identity provider '{}' already exists", p.id)));
    }
    let location = format!("/api/tenants/{t}/workspaces/{w}/identity-providers/{}", p.id);
    let shown = write_one(c, t, w, &cfg, &previous, p).await?;
    Ok(created(location, &shown))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let (_, doc) = current(c, t, w).await?;
    Ok(Response::json_no_store(200, &doc.get(id).ok_or_else(|| unknown(id))?.redacted()))
}

/// Replaces a provider; the body's `id` is the path's or absent. A `client_secret` not sent keeps
/// the stored one.
pub async fn replace<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let mut body = json_object_body(c.req)?;
    match body.get("id") {
        None => {
            body["id"] = json!(id);
        }
        Some(v) if v.as_str() == Some(id) => {}
        Some(_) => return Err(OAuthError::invalid_configuration("identity_providers.id", "must be the path's identifier (or absent)")),
    }
    let p = provider_from_json(body)?;
    let (cfg, previous) = current(c, t, w).await?;
    previous.get(id).ok_or_else(|| unknown(id))?;
    Ok(Response::json_no_store(200, &write_one(c, t, w, &cfg, &previous, p).await?))
}

/// `PATCH`: a JSON merge patch (RFC 7396) of `enabled`, `order` and `name` only; a member absent
/// is unchanged, and none of them may be removed (null).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderPatch {
    enabled: Option<bool>,
    order: Option<i64>,
    name: Option<String>,
}

pub async fn patch<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    if !matches!(c.req.content_type().as_str(), "application/merge-patch+json" | "application/json") {
        return Err(Problem::new(415, "unsupported-media-type", "Unsupported Media Type", "the body must be application/merge-patch+json"));
    }
    let body: Value = serde_json::from_slice(&c.req.body).map_err(|e| Problem::invalid_request(format!("invalid JSON body: {e}")))?;
    let Some(members) = body.as_object() else {
        return Err(Problem::invalid_request("the body must be a JSON object"));
    };
    if let Some((k, _)) = members.iter().find(|(_, v)| v.is_null()) {
        return Err(Problem::invalid_request(format!("'{k}' cannot be removed (null): send a value")));
    }
    let change: ProviderPatch = serde_json::from_value(body).map_err(|e| Problem::invalid_request(format!("invalid JSON body: {e} (only enabled, order and name)")))?;
    let (cfg, previous) = current(c, t, w).await?;
    let mut p = previous.get(id).ok_or_else(|| unknown(id))?.clone();
    if let Some(e) = change.enabled {
        p.enabled = e;
    }
    if let Some(o) = change.order {
        p.order = o;
    }
    if let Some(n) = change.name {
        p.name = n;
    }
    Ok(Response::json_no_store(200, &write_one(c, t, w, &cfg, &previous, p).await?))
}

/// Deletes a provider with its users' links to it and its cached documents.
pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let (_, previous) = current(c, t, w).await?;
    previous.get(id).ok_or_else(|| unknown(id))?;
    let doc = IdentityProviders { providers: previous.providers.iter().filter(|p| p.id != id).cloned().collect(), ..previous.clone() };
    store(c.rt, c.server, t, w, &doc, &previous).await?;
    Ok(no_content())
}

/// A deleted workspace's own providers: their document and cached upstream documents (its links
/// went with the workspace's rows).
pub(crate) async fn remove_workspace<R: Runtime>(rt: &R, server: &Server, t: &str, w: &str) -> Result<(), Problem> {
    // A document that no longer parses must not keep its workspace from being deleted.
    let doc = idps::load(rt.kv(), t, w).await.unwrap_or_default();
    rt.kv().delete(&idps::providers_key(t, w)).await?;
    for p in &doc.providers {
        for owner in cache_owners(t, w, &p.id) {
            outbound::forget(rt, server, &owner).await?;
        }
    }
    Ok(())
}

/// AUT-6376: deleting an identity pool (workspace `gone`) removes the `workspace` providers of the
/// tenant's other workspaces that sign users in there.
pub(crate) async fn remove_pointing_at<R: Runtime>(rt: &R, server: &Server, t: &str, gone: &str) -> Result<(), Problem> {
    for w in crate::store::management::all_workspace_ids(rt.sql(), t).await? {
        let previous = idps::load(rt.kv(), t, &w).await?;
        let points = |p: &IdentityProvider| p.kind == IdpType::Workspace && p.workspace == gone;
        if w == gone || !previous.providers.iter().any(points) {
            continue;
        }
        let doc = IdentityProviders { providers: previous.providers.iter().filter(|p| !points(p)).cloned().collect(), ..previous.clone() };
        store(rt, server, t, &w, &doc, &previous).await?;
    }
    Ok(())
}

/// The bootstrap API's whole document: `{"version": 1, "providers": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default = "document_version")]
    version: u32,
    providers: Vec<Value>,
}

fn document_version() -> u32 {
    idps::PROVIDERS_VERSION
}

/// The bootstrap API's `PUT /admin/tenants/{t}/workspaces/{w}/identity-providers`: the whole
/// document, checked and sealed like the management API's writes (a provider sending no secret
/// keeps the one stored under its id; providers left out are deleted with their links).
pub(crate) async fn put_document<R: Runtime>(rt: &R, server: &Server, t: &str, w: &str, body: Value) -> Result<Value, Problem> {
    let d: Document = serde_json::from_value(body).map_err(OAuthError::invalid_configuration_document)?;
    if d.version != idps::PROVIDERS_VERSION {
        return Err(OAuthError::invalid_configuration("identity_providers.version", "must be 1"));
    }
    let providers = d.providers.into_iter().map(provider_from_json).collect::<Result<Vec<_>, _>>()?;
    server.forget_workspace(t, w);
    let cfg = server.workspace_config(rt, t, w).await?.ok_or_else(|| Problem::not_found(format!("unknown workspace '{t}/{w}'")))?;
    let previous = idps::load(rt.kv(), t, w).await?;
    let doc = checked(rt, t, w, &cfg, providers, &previous).await?;
    store(rt, server, t, w, &doc, &previous).await?;
    Ok(json!({ "version": doc.version, "providers": render_all(&doc) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_we_show_may_be_sent_back_but_a_sealed_secret_never_comes_in() {
        let shown = json!({ "id": "corp", "type": "oidc", "name": "Corp", "issuer": "https://idp.corp.example", "client_id": "edge", "client_secret_set": true });
        let p = provider_from_json(shown.clone()).unwrap();
        assert!(p.client_secret.is_none() && p.client_secret_sealed.is_none());
        let mut planted = shown;
        planted["client_secret_sealed"] = json!("v1.forged");
        let e = provider_from_json(planted).unwrap_err();
        assert_eq!((e.status, e.field()), (400, Some("identity_providers.client_secret_sealed")));
        let e = provider_from_json(json!({ "id": "x", "type": "saml", "name": "X" })).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(provider_from_json(json!([1])).is_err());
    }
}
