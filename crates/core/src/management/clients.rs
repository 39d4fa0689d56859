//! Clients of a workspace: create (the secret is shown once), get, list, update, delete, rotate
//! the secret. Secrets are 256-bit random values stored as SHA-256 hashes.

use super::access::{Need, MANAGE_CLIENTS};
use super::{created, json_body, no_content, page, page_response, Call, SYSTEM_TENANT, SYSTEM_WORKSPACE};
use crate::config::client::Client;
use crate::config;
use crate::crypto;
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::runtime::{Entropy, Runtime, SqlDatabase};
use crate::engine::Server;
use crate::store::registration::{self as registrations, Registration};
use crate::store::{self, management as mstore, StoredClient};
use serde_json::{json, Value};

/// `managed_tenant` is only meaningful in the system workspace, and never names the system tenant.
fn check_managed_tenant(t: &str, w: &str, client: &Client) -> Result<(), OAuthError> {
    match &client.managed_tenant {
        None => Ok(()),
        Some(_) if (t, w) != (SYSTEM_TENANT, SYSTEM_WORKSPACE) => Err(OAuthError::invalid_client_metadata("managed_tenant is only for clients of the system workspace")),
        Some(m) if !config::valid_identifier(m) || m == SYSTEM_TENANT => Err(OAuthError::invalid_client_metadata("managed_tenant must name a tenant other than the system tenant")),
        Some(_) => Ok(()),
    }
}

fn new_secret(entropy: &impl Entropy) -> (String, String) {
    let secret = crypto::random_token(entropy);
    let hash = crypto::sha256_b64url(secret.as_bytes());
    (secret, hash)
}

/// Creates a client (a random `client_id` when none is given). Returns its metadata with
/// `client_secret` when it has one: shown this once, only its hash is stored.
pub async fn create_client(db: &impl SqlDatabase, entropy: &impl Entropy, t: &str, w: &str, client: Client, now: i64) -> Result<Value, OAuthError> {
    insert_client(db, entropy, t, w, client, now, None).await
}

/// The one way a client is created, by an administrator or (with its `registration`) by dynamic
/// registration: every rule checked, the secret made and hashed.
pub(crate) async fn insert_client(db: &impl SqlDatabase, entropy: &impl Entropy, t: &str, w: &str, mut client: Client, now: i64, registration: Option<&Registration<'_>>) -> Result<Value, OAuthError> {
    if client.client_id.is_empty() {
        client.client_id = crypto::random_id(entropy);
    }
    client.prepare()?;
    check_managed_tenant(t, w, &client)?;
    let secret = client.uses_secret().then(|| new_secret(entropy));
    let stored = StoredClient { client: client.clone(), secret_hash: secret.as_ref().map(|(_, h)| h.clone()) };
    let inserted = match registration {
        None => store::insert_client(db, t, w, &stored, now).await?,
        Some(r) => registrations::insert_registered_client(db, t, w, &stored, r, now).await?,
    };
    if !inserted {
        return Err(OAuthError::conflict(format!("client '{}' already exists", client.client_id)));
    }
    let mut out = json!(client);
    if let Some((s, _)) = secret {
        out["client_secret"] = json!(s);
    }
    Ok(out)
}

fn client_body<R: Runtime>(c: &Call<'_, R>) -> Result<Client, Problem> {
    json_body::<Client>(c.req).map_err(|p| if p.status == 400 { OAuthError::invalid_client_metadata(p.description) } else { p })
}

pub async fn create<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, false)).await?;
    let client = client_body(c)?;
    c.workspace(t, w).await?;
    super::authorization_details::check_client(c, t, w, &client).await?;
    let out = create_client(c.rt.sql(), c.rt.entropy(), t, w, client, c.now).await?;
    let id = out["client_id"].as_str().unwrap_or_default().to_string();
    Ok(created(format!("/api/tenants/{t}/workspaces/{w}/clients/{}", crate::http::percent_encode(&id)), &out))
}

pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, true)).await?;
    c.workspace(t, w).await?;
    let p = page(c.req)?;
    let rows = mstore::list_clients(c.rt.sql(), t, w, &p.after, p.limit + 1).await?;
    Ok(page_response(rows, p.limit, |cl| cl.client_id.clone(), |cl| json!(cl)))
}

async fn load<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<StoredClient, Problem> {
    c.workspace(t, w).await?;
    let id = crate::http::percent_decode(id).unwrap_or_default();
    store::get_client(c.rt.sql(), t, w, &id).await?.ok_or_else(|| Problem::not_found(format!("unknown client '{id}'")))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, true)).await?;
    Ok(Response::json_no_store(200, &json!(load(c, t, w, id).await?.client)))
}

/// Replaces the client's metadata. A client that starts using a secret gets one (shown once);
/// one that stops using it loses it.
pub async fn update<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, false)).await?;
    let client = client_body(c)?;
    let existing = load(c, t, w, id).await?;
    if !client.client_id.is_empty() && client.client_id != existing.client.client_id {
        return Err(OAuthError::invalid_client_metadata("client_id cannot change"));
    }
    super::authorization_details::check_client(c, t, w, &client).await?;
    let out = replace_client(c.rt, c.server, t, w, existing, client, c.now).await?;
    Ok(Response::json_no_store(200, &out))
}

/// The one way a client's metadata is replaced (the management API, RFC 7592): every rule
/// checked; the secret kept while the method uses one, made (and shown this once) when it starts
/// to, dropped when it stops.
pub(crate) async fn replace_client<R: Runtime>(rt: &R, server: &Server, t: &str, w: &str, existing: StoredClient, mut client: Client, now: i64) -> Result<Value, OAuthError> {
    client.client_id = existing.client.client_id.clone();
    client.prepare()?;
    check_managed_tenant(t, w, &client)?;
    let mut new_secret_shown = None;
    let secret_hash = match (client.uses_secret(), existing.secret_hash) {
        (true, Some(h)) => Some(h),
        (true, None) => {
            let (s, h) = new_secret(rt.entropy());
            new_secret_shown = Some(s);
            Some(h)
        }
        (false, _) => None,
    };
    if !mstore::update_client(rt.sql(), t, w, &StoredClient { client: client.clone(), secret_hash }, now).await? {
        return Err(Problem::not_found(format!("unknown client '{}'", client.client_id)));
    }
    // Again after the write: a request may have cached the old metadata in the meantime.
    server.forget_workspace(t, w);
    if existing.client.jwks_uri != client.jwks_uri {
        crate::outbound::forget(rt, server, &crate::client_auth::jwks_owner(t, w, &client.client_id)).await?;
    }
    let mut out = json!(client);
    if let Some(s) = new_secret_shown {
        out["client_secret"] = json!(s);
    }
    Ok(out)
}

/// Deletes the client, revokes its grants (its refresh tokens stop at once) and forgets consents.
pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, false)).await?;
    let existing = load(c, t, w, id).await?;
    remove_client(c.rt, c.server, t, w, &existing.client.client_id, c.now).await?;
    Ok(no_content())
}

/// The one way a client is deleted (the management API, RFC 7592): its grants revoked, its
/// consents and registration gone, its cached keys forgotten.
pub(crate) async fn remove_client<R: Runtime>(rt: &R, server: &Server, t: &str, w: &str, client_id: &str, now: i64) -> Result<(), OAuthError> {
    mstore::delete_client(rt.sql(), t, w, client_id, now).await?;
    server.forget_workspace(t, w);
    crate::outbound::forget(rt, server, &crate::client_auth::jwks_owner(t, w, client_id)).await?;
    Ok(())
}

/// A new secret replaces the old one at once (no overlap); shown this once.
pub async fn rotate_secret<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_CLIENTS, t, w, false)).await?;
    let existing = load(c, t, w, id).await?;
    if !existing.client.uses_secret() {
        return Err(Problem::invalid_request(format!("client '{}' authenticates with {}, not a secret", existing.client.client_id, existing.client.token_endpoint_auth_method)));
    }
    let (secret, hash) = new_secret(c.rt.entropy());
    mstore::set_client_secret(c.rt.sql(), t, w, &existing.client.client_id, &hash, c.now).await?;
    c.server.forget_workspace(t, w);
    Ok(Response::json_no_store(200, &json!({ "client_id": existing.client.client_id, "client_secret": secret })))
}
