//! A workspace's branding (`config::branding`) under `/api/tenants/{t}/workspaces/{w}/branding`:
//! read, replace (checked on save), delete; and its uploaded logo under `.../branding/logo`, whose
//! body is the image itself (`image/png`, `image/jpeg`, `image/gif` or `image/webp`, at most 48 KB,
//! its first bytes agreeing with its type). Each write drops the isolate's cached copy.

use super::access::{Need, MANAGE_WORKSPACES};
use super::{json_object_body, no_content, Call};
use crate::config::branding::{self, Branding, UploadedLogo, LOGO_TYPES, MAX_LOGO_BYTES};
use crate::crypto;
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::runtime::{KvStore, Runtime};
use base64::Engine as _;
use serde_json::json;

/// The workspace must exist; its branding, read fresh.
async fn current<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Branding, Problem> {
    c.workspace(t, w).await?;
    Ok(branding::load(c.rt.kv(), t, w).await?)
}

async fn store<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, b: &Branding) -> Result<(), Problem> {
    branding::save(c.rt.kv(), t, w, b).await?;
    c.server.forget_workspace(t, w);
    Ok(())
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    Ok(Response::json_no_store(200, &json!(current(c, t, w).await?)))
}

/// Replaces the branding; an uploaded logo stays (it is replaced and removed at `.../logo`).
pub async fn replace<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let mut new: Branding = serde_json::from_value(json_object_body(c.req)?).map_err(OAuthError::invalid_configuration_document)?;
    new.validate()?;
    new.logo = current(c, t, w).await?.logo;
    store(c, t, w, &new).await?;
    Ok(Response::json_no_store(200, &json!(new)))
}

pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    c.workspace(t, w).await?;
    branding::remove(c.rt.kv(), t, w).await?;
    c.server.forget_workspace(t, w);
    Ok(no_content())
}

/// Uploads the logo: the body is the image.
pub async fn put_logo<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let content_type = c.req.content_type();
    if !LOGO_TYPES.contains(&content_type.as_str()) {
        return Err(Problem::new(415, "unsupported-media-type", "Unsupported Media Type", "the logo must be image/png, image/jpeg, image/gif or image/webp"));
    }
    let bytes = &c.req.body;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(Problem::new(413, "payload-too-large", "Payload Too Large", "the logo must be at most 48 KB"));
    }
    if !branding::logo_matches(&content_type, bytes) {
        return Err(OAuthError::invalid_configuration("logo", "is not an image of its content type"));
    }
    let mut b = current(c, t, w).await?;
    let version: String = crypto::sha256_b64url(bytes).chars().take(16).collect();
    let stored = json!({ "content_type": content_type, "data": base64::engine::general_purpose::STANDARD.encode(bytes) });
    c.rt.kv().put(&branding::logo_key(t, w), &stored.to_string()).await?;
    b.logo = Some(UploadedLogo { content_type, bytes: bytes.len(), version });
    store(c, t, w, &b).await?;
    Ok(Response::json_no_store(200, &json!(b)))
}

pub async fn delete_logo<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let mut b = current(c, t, w).await?;
    if b.logo.take().is_none() {
        return Err(Problem::not_found("this workspace has no uploaded logo"));
    }
    store(c, t, w, &b).await?;
    c.rt.kv().delete(&branding::logo_key(t, w)).await?;
    Ok(no_content())
}
