//! Dynamic client registration, administered: the workspace's settings (the `dcr` member of its
//! configuration, changed through `workspaces::change_config`, the path of a configuration
//! replace) and its initial access tokens (minted here, shown once, stored as SHA-256 hashes;
//! listed without them; deleted to revoke). The registration endpoints are `registration.rs`.

use super::access::{Need, MANAGE_CLIENTS, MANAGE_WORKSPACES};
use super::workspaces::change_config;
use super::{created, json_body, json_object_body, no_content, page, page_response, Call};
use crate::config::registration::DcrConfig;
use crate::crypto;
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::runtime::Runtime;
use crate::store::registration::{self as registrations, InitialAccessToken};
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn get_settings<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let cfg = c.workspace(t, w).await?;
    Ok(Response::json_no_store(200, &json!(cfg.dcr)))
}

/// Replaces the settings (absent members take their defaults), with the checks of a configuration write.
pub async fn replace_settings<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let dcr: DcrConfig = serde_json::from_value(json_object_body(c.req)?).map_err(OAuthError::invalid_configuration_document)?;
    let cfg = change_config(c, t, w, |cfg| {
        cfg.dcr = dcr;
        Ok(())
    })
    .await?;
    Ok(Response::json_no_store(200, &json!(cfg.dcr)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    #[serde(default)]
    description: String,
    /// Seconds it stays valid.
    #[serde(default = "default_expires_in")]
    expires_in: i64,
    /// How many registrations it allows.
    #[serde(default = "default_max_uses")]
    max_uses: i64,
}

fn default_expires_in() -> i64 {
    86400
}

fn default_max_uses() -> i64 {
    1
}

/// A new token's terms, or what is wrong with them.
fn check_new_token(n: &NewToken) -> Result<(), Problem> {
    if n.description.chars().count() > 200 {
        return Err(Problem::invalid_request("description is at most 200 characters"));
    }
    if !(60..=365 * 86400).contains(&n.expires_in) {
        return Err(Problem::invalid_request("expires_in must be between 60 seconds and 365 days"));
    }
    if !(1..=10_000).contains(&n.max_uses) {
        return Err(Problem::invalid_request("max_uses must be between 1 and 10000"));
    }
    Ok(())
}

fn render(t: &InitialAccessToken) -> Value {
    json!({ "id": t.id, "description": t.description, "max_uses": t.max_uses, "uses": t.uses, "created_at": t.created_at, "expires_at": t.expires_at })
}

fn tokens_path(t: &str, w: &str) -> String {
    format!("/api/tenants/{t}/workspaces/{w}/dcr/initial-access-tokens")
}

/// Mints an initial access token: the only answer that ever shows it.
pub async fn create_token<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, false)).await?;
    let n: NewToken = json_body(c.req)?;
    check_new_token(&n)?;
    c.workspace(t, w).await?;
    let secret = crypto::random_token(c.rt.entropy());
    let token = InitialAccessToken { id: crypto::random_id(c.rt.entropy()), description: n.description, max_uses: n.max_uses, uses: 0, created_at: c.now, expires_at: c.now + n.expires_in };
    registrations::insert_initial_access_token(c.rt.sql(), t, w, &token, &crypto::sha256_b64url(secret.as_bytes())).await?;
    let mut out = render(&token);
    out["token"] = json!(secret);
    Ok(created(format!("{}/{}", tokens_path(t, w), token.id), &out))
}

pub async fn list_tokens<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, true)).await?;
    c.workspace(t, w).await?;
    let p = page(c.req)?;
    let rows = registrations::list_initial_access_tokens(c.rt.sql(), t, w, &p.after, p.limit + 1).await?;
    Ok(page_response(rows, p.limit, |r| r.id.clone(), render))
}

/// Revokes a token at once; clients it registered stay.
pub async fn delete_token<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, false)).await?;
    c.workspace(t, w).await?;
    if !registrations::delete_initial_access_token(c.rt.sql(), t, w, id).await? {
        return Err(Problem::not_found(format!("unknown initial access token '{id}'")));
    }
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_tokens_terms_are_bounded() {
        let ok = NewToken { description: "partner".into(), expires_in: 3600, max_uses: 5 };
        assert!(check_new_token(&ok).is_ok());
        for bad in [
            NewToken { description: "x".repeat(201), ..ok },
            NewToken { description: String::new(), expires_in: 10, max_uses: 1 },
            NewToken { description: String::new(), expires_in: 366 * 86400, max_uses: 1 },
            NewToken { description: String::new(), expires_in: 3600, max_uses: 0 },
        ] {
            assert_eq!(check_new_token(&bad).unwrap_err().status, 400);
        }
    }
}
