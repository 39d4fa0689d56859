//! The one guarded path for every request the server makes to a URL someone else chose (a
//! client's `jwks_uri`, an identity provider's discovery, JWKS, token and userinfo endpoints): the URL is parsed and
//! vetted by [`crate::urls`] each time (a stored URL may predate today's rules), the runtime's
//! fetch keeps a timeout and a size limit and follows no redirect ([`FetchLimits`]), and what is
//! fetched is cached per owner for [`DOCUMENT_LIFETIME_SECS`], so a client authentication does not
//! cost an outbound request each time.
//!
//! The cache has two levels: the isolate's memory for a few seconds, then the key-value store
//! (on Spin every request runs in a fresh instance, so memory alone would cache nothing; on
//! Workers KV also shares the document between isolates). A stale document is harmless here: a
//! key the client has since rotated in is handled by [`refetch_json`], which an unknown `kid`
//! may call at most once per [`EARLY_REFRESH_SECS`] per owner, whatever `kid`s a caller invents.

use crate::engine::{Ctx, FetchedDocument as Cached};
use crate::jose::{self, JoseError, Jws};
use crate::runtime::{Clock, FetchLimits, HttpFetch, KvStore, OutboundRequest, Runtime, StoreError};
use crate::urls::{self, UrlError};
use serde_json::Value;
use std::sync::Arc;

/// What every outbound request may take: a few seconds, a quarter megabyte.
pub const LIMITS: FetchLimits = FetchLimits { timeout_ms: 3_000, max_bytes: 256 * 1024 };
/// How long a fetched document is used before it is fetched again.
pub const DOCUMENT_LIFETIME_SECS: i64 = 300;
/// The shortest time between two early refreshes of one owner's document.
pub const EARLY_REFRESH_SECS: i64 = 10;

/// Why a document could not be had. Shown to nobody: callers answer with their own OAuth error
/// and keep this as the logged cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is refused: it {0}")]
    Refused(UrlError),
    /// A timeout, an oversized body, a network failure (the runtime's words).
    #[error("fetch failed: {0}")]
    Transport(String),
    /// Any status but 200, redirects included.
    #[error("the server answered {0}")]
    Status(u16),
    #[error("the document is not JSON")]
    NotJson,
    /// JSON, but not `{"keys": [...]}`.
    #[error("the document is not a JWK Set")]
    NotJwkSet,
    /// Our own storage failed while caching: a server error, not the client's.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key under which `owner`'s document is cached (in memory and in the key-value store).
fn cache_key(owner: &str) -> String {
    format!("cache/{owner}")
}

/// The JSON document at `url`, owned by `owner` (e.g. `jwks/{tenant}/{workspace}/{client_id}`):
/// from the cache when it holds one fetched from this URL within its lifetime, fetched otherwise.
pub async fn cached_json<R: Runtime>(ctx: &Ctx<'_, R>, owner: &str, url: &str) -> Result<Arc<Value>, FetchError> {
    if let Some(c) = cached(ctx, owner, url).await? {
        if ctx.now - c.fetched_at < DOCUMENT_LIFETIME_SECS && c.fetched_at <= ctx.now {
            return Ok(c.document);
        }
    }
    fetch_and_cache(ctx, owner, url, 0).await
}

/// Fetches `owner`'s document again before its lifetime is over (the caller met a `kid` the
/// cached one lacks), unless that was done within [`EARLY_REFRESH_SECS`]: then `None`.
pub async fn refetch_json<R: Runtime>(ctx: &Ctx<'_, R>, owner: &str, url: &str) -> Result<Option<Arc<Value>>, FetchError> {
    if let Some(c) = cached(ctx, owner, url).await? {
        if (0..EARLY_REFRESH_SECS).contains(&(ctx.now - c.early_refresh_at)) {
            return Ok(None);
        }
    }
    fetch_and_cache(ctx, owner, url, ctx.now).await.map(Some)
}

/// Drops `owner`'s cached document (its owner was deleted or changed).
pub async fn forget<R: Runtime>(rt: &R, server: &crate::Server, owner: &str) -> Result<(), StoreError> {
    let key = cache_key(owner);
    server.documents.forget(&key);
    rt.kv().delete(&key).await
}

async fn cached<R: Runtime>(ctx: &Ctx<'_, R>, owner: &str, url: &str) -> Result<Option<Cached>, FetchError> {
    let key = cache_key(owner);
    let now_ms = ctx.rt.clock().now_ms();
    let entry = match ctx.server.documents.get(&key, now_ms) {
        Some(c) => Some(c),
        // An entry that no longer parses is as good as none: it is overwritten by the next fetch.
        None => match ctx.rt.kv().get(&key).await? {
            Some(s) => serde_json::from_str::<Cached>(&s).ok().map(Arc::new).inspect(|c| ctx.server.documents.put(key, c.clone(), now_ms)),
            None => None,
        },
    };
    Ok(entry.filter(|c| c.url == url).map(|c| (*c).clone()))
}

async fn fetch_and_cache<R: Runtime>(ctx: &Ctx<'_, R>, owner: &str, url: &str, early_refresh_at: i64) -> Result<Arc<Value>, FetchError> {
    let document = Arc::new(fetch_json(ctx.rt, url).await?);
    let entry = Arc::new(Cached { url: url.to_string(), fetched_at: ctx.now, early_refresh_at, document: document.clone() });
    let key = cache_key(owner);
    // A cache that could not be written costs a later refetch, not this request (Workers KV
    // refuses a second write to one key within a second).
    let _ = ctx.rt.kv().put(&key, &serde_json::to_string(&*entry).unwrap_or_default()).await;
    ctx.server.documents.put(key, entry, ctx.rt.clock().now_ms());
    Ok(document)
}

/// Verifies `jws` with a key owner's public keys: its inline JWK Set, or the one at its `uri`
/// through the cache above, fetched again (rate-limited there) when the JWS names a key the cached
/// set lacks, since the owner may have rotated. The outer error: the keys could not be had; the
/// inner result: the verification's.
pub async fn verify_with_keys<R: Runtime>(ctx: &Ctx<'_, R>, owner: &str, inline: Option<&Value>, uri: Option<&str>, jws: &Jws) -> Result<Result<(), JoseError>, FetchError> {
    let signer = ctx.rt.signer();
    if let Some(set) = inline {
        return Ok(jose::verify_jws(signer, jws, key_list(set)?).await);
    }
    let Some(uri) = uri else { return Err(FetchError::NotJwkSet) };
    let set = cached_json(ctx, owner, uri).await?;
    match jose::verify_jws(signer, jws, key_list(&set)?).await {
        Err(JoseError::NoMatchingKey(why)) => match refetch_json(ctx, owner, uri).await? {
            Some(set) => Ok(jose::verify_jws(signer, jws, key_list(&set)?).await),
            None => Ok(Err(JoseError::NoMatchingKey(why))),
        },
        verified => Ok(verified),
    }
}

fn key_list(set: &Value) -> Result<&[Value], FetchError> {
    set.get("keys").and_then(Value::as_array).map(Vec::as_slice).ok_or(FetchError::NotJwkSet)
}

/// One vetted GET of a JSON document: the URL rules, the limits, 200 only.
async fn fetch_json<R: Runtime>(rt: &R, url: &str) -> Result<Value, FetchError> {
    match send_json(rt, "GET", url, &[], None).await? {
        (200, Some(doc)) => Ok(doc),
        (200, None) => Err(FetchError::NotJson),
        (status, _) => Err(FetchError::Status(status)),
    }
}

/// One vetted request that is never cached (a token request, a userinfo call): the URL rules and
/// the limits, `accept: application/json` added. Returns the status and the body if it is JSON,
/// whatever the status (an OAuth error answer is JSON with a 400).
pub async fn send_json<R: Runtime>(rt: &R, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<(u16, Option<Value>), FetchError> {
    send_json_within(rt, method, url, headers, body, LIMITS).await
}

/// [`send_json`] within tighter limits (a post-authentication extension: at most 2 s).
pub async fn send_json_within<R: Runtime>(rt: &R, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>, limits: FetchLimits) -> Result<(u16, Option<Value>), FetchError> {
    let parsed = urls::web_url(url).map_err(FetchError::Refused)?;
    let mut all: Vec<(&str, &str)> = vec![("accept", "application/json")];
    all.extend(headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("accept")));
    let req = OutboundRequest { method, url: parsed.as_str(), headers: &all, body };
    let (status, body) = rt.fetch().send(req, limits).await.map_err(|e| FetchError::Transport(e.message().to_string()))?;
    if body.len() > limits.max_bytes {
        // The runtime should have stopped reading; refuse all the same.
        return Err(FetchError::Transport("the body is over the size limit".into()));
    }
    Ok((status, serde_json::from_slice(&body).ok()))
}
