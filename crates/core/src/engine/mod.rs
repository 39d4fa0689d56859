//! The engine's request machinery, below every endpoint: the request context ([`Ctx`]) and the
//! per-isolate state ([`Server`]: configuration, keys, clients and discovery documents, each cached
//! for at most `CONFIG_CACHE_TTL_MS`). Routing lives above the endpoints, in `crate::router`.

mod cache;
mod context;

pub use context::Ctx;
pub(crate) use context::check_host;

use crate::config::authorization_details::{self as rar, RichAuthorization};
use crate::config::identity_providers::{self, IdentityProviders};
use crate::config::{self, WorkspaceConfig};
use crate::error::OAuthError;
use crate::jose::keys::{self, KeySet};
use crate::runtime::{Clock, Runtime};
use crate::store::StoredClient;
use cache::{Locks, TtlCache};
use std::sync::Arc;

/// One per isolate / instance: holds the caches that outlive a request (workspace configuration,
/// decrypted keys). Adapters keep one in a static.
#[derive(Default)]
pub struct Server {
    configs: TtlCache<Option<Arc<WorkspaceConfig>>>,
    keys: TtlCache<Arc<KeySet>>,
    /// Clients that exist (metadata parsed, secret hash), by `{workspace key}/{client_id}`.
    clients: TtlCache<Arc<StoredClient>>,
    /// Discovery documents by issuer, with the configuration each was built from.
    discovery: TtlCache<(Arc<WorkspaceConfig>, Arc<str>)>,
    /// Workspaces whose keys were reloaded for an unknown `kid` within the cache's lifetime: at
    /// most one such reload per workspace per 10 s, whatever `kid`s callers invent.
    key_reloads: TtlCache<()>,
    /// Documents fetched from URLs others chose (client JWK sets), by owner: see `crate::outbound`.
    pub(crate) documents: TtlCache<Arc<FetchedDocument>>,
    /// Throttle keys seen locked in this isolate, until their locks end.
    locks: Locks,
    /// Identity providers by workspace key (read only by the pages that sign users in).
    providers: TtlCache<Arc<IdentityProviders>>,
    /// Authorization details types (with the tenant flag) by workspace key: read only by requests
    /// that carry `authorization_details`, and by discovery.
    rich_authorization: TtlCache<Arc<RichAuthorization>>,
    /// Branding by workspace key: read only by the pages.
    branding: TtlCache<Arc<crate::config::branding::Branding>>,
}

/// A document [`crate::outbound`] fetched, as it caches it (in memory and in the key-value store).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FetchedDocument {
    pub url: String,
    pub fetched_at: i64,
    /// When an unknown `kid` last forced a refetch (0: never).
    #[serde(default)]
    pub early_refresh_at: i64,
    pub document: Arc<serde_json::Value>,
}

impl Server {
    /// The cached discovery document of `issuer`, if it was built from `config`.
    pub(crate) fn cached_discovery_document(&self, issuer: &str, config: &Arc<WorkspaceConfig>, now_ms: u64) -> Option<Arc<str>> {
        self.discovery.get(issuer, now_ms).filter(|(built_from, _)| Arc::ptr_eq(built_from, config)).map(|(_, d)| d)
    }

    /// The serialized discovery document of `issuer` built from `config`, built by `build` when
    /// not cached or cached from another configuration.
    pub(crate) fn discovery_document(&self, issuer: &str, config: &Arc<WorkspaceConfig>, now_ms: u64, build: impl FnOnce() -> String) -> Arc<str> {
        if let Some((built_from, document)) = self.discovery.get(issuer, now_ms) {
            if Arc::ptr_eq(&built_from, config) {
                return document;
            }
        }
        let document: Arc<str> = build().into();
        self.discovery.put(issuer.to_string(), (config.clone(), document.clone()), now_ms);
        document
    }
}

/// Runs two futures together on this thread (an isolate has one) and returns both outputs: two
/// store round trips that do not depend on each other (two Durable Objects, say) overlap.
pub(crate) async fn both<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::task::Poll;
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut done_a, mut done_b) = (None, None);
    std::future::poll_fn(|cx| {
        if done_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                done_a = Some(v);
            }
        }
        if done_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                done_b = Some(v);
            }
        }
        match (done_a.take(), done_b.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (done_a, done_b) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    pub async fn workspace_config<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str) -> Result<Option<Arc<WorkspaceConfig>>, OAuthError> {
        Ok(self.workspace_config_with_expiry(rt, tenant, workspace).await?.0)
    }

    /// The configuration and when its cache entry expires (ms).
    pub(crate) async fn workspace_config_with_expiry<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str) -> Result<(Option<Arc<WorkspaceConfig>>, u64), OAuthError> {
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if let Some(c) = self.configs.get_with_expiry(&key, now_ms) {
            return Ok(c);
        }
        let cfg = config::load_workspace(rt.kv(), tenant, workspace).await?.map(Arc::new);
        self.configs.put(key, cfg.clone(), now_ms);
        Ok((cfg, now_ms.saturating_add(config::CONFIG_CACHE_TTL_MS)))
    }

    async fn workspace_keys<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str, force: bool) -> Result<Arc<KeySet>, OAuthError> {
        Ok(self.workspace_keys_with_expiry(rt, tenant, workspace, force).await?.0)
    }

    /// The keys and when their cache entry expires (ms).
    pub(crate) async fn workspace_keys_with_expiry<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str, force: bool) -> Result<(Arc<KeySet>, u64), OAuthError> {
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if !force {
            if let Some(k) = self.keys.get_with_expiry(&key, now_ms) {
                return Ok(k);
            }
        }
        let ks = if rt.instance_per_request() {
            keys::load_through_kv(rt, tenant, workspace, now_ms, force).await?
        } else {
            let freshness = if force { crate::store::replica::Freshness::Latest } else { crate::store::replica::Freshness::Bounded };
            keys::load(rt.sql(), tenant, workspace, now_ms as i64, freshness).await?
        };
        let ks = Arc::new(ks);
        self.keys.put(key, ks.clone(), now_ms);
        Ok((ks, now_ms.saturating_add(config::CONFIG_CACHE_TTL_MS)))
    }

    /// The workspace's identity providers (an empty set when it has none), cached like its configuration.
    pub async fn identity_providers<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str) -> Result<Arc<IdentityProviders>, OAuthError> {
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if let Some(p) = self.providers.get(&key, now_ms) {
            return Ok(p);
        }
        let p = Arc::new(identity_providers::load(rt.kv(), tenant, workspace).await?);
        self.providers.put(key, p.clone(), now_ms);
        Ok(p)
    }

    /// The workspace's Rich Authorization Requests state: the tenant's flag and the workspace's
    /// switch, and its types with their schemas compiled; cached like its configuration. A
    /// workspace that switched the feature off reads nothing, and one whose tenant has it off reads
    /// only the tenant: nothing consults the types of a disabled feature. On Spin every discovery
    /// request pays these reads (no cache outlives a request, and its key-value calls are
    /// synchronous: two reads would not overlap there anyway); elsewhere, a workspace with the
    /// feature on pays a second round trip when its cache entry is rebuilt.
    pub async fn rich_authorization<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str, config: &WorkspaceConfig) -> Result<Arc<RichAuthorization>, OAuthError> {
        if !config.rich_authorization_requests {
            return Ok(Arc::new(RichAuthorization::default()));
        }
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if let Some(r) = self.rich_authorization.get(&key, now_ms) {
            return Ok(r);
        }
        let enabled = rar::enabled(config::load_tenant(rt.kv(), tenant).await?.as_ref(), config);
        let types = if enabled { rar::load(rt.kv(), tenant, workspace).await? } else { Default::default() };
        let r = Arc::new(RichAuthorization::new(enabled, types));
        self.rich_authorization.put(key, r.clone(), now_ms);
        Ok(r)
    }

    /// The workspace's branding (empty when it has none), cached like its configuration.
    pub async fn branding<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str) -> Result<Arc<crate::config::branding::Branding>, OAuthError> {
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if let Some(b) = self.branding.get(&key, now_ms) {
            return Ok(b);
        }
        let b = Arc::new(crate::config::branding::load(rt.kv(), tenant, workspace).await?);
        self.branding.put(key, b.clone(), now_ms);
        Ok(b)
    }

    /// Whether this isolate has seen any lock (in force or ended): when not, no key is locked.
    pub(crate) fn knows_locks(&self) -> bool {
        self.locks.any()
    }

    /// When the lock on a throttle key ends, if this isolate has seen it locked (`authn::throttle`).
    pub(crate) fn known_lock(&self, key: &str, now: i64) -> Option<i64> {
        self.locks.until(key, now)
    }

    pub(crate) fn remember_lock(&self, key: &str, until: i64, now: i64) {
        self.locks.remember(key, until, now)
    }

    pub(crate) fn forget_lock(&self, key: &str) {
        self.locks.forget(key)
    }

    /// Drops this isolate's cached state that reads the tenant's feature flags, for every workspace
    /// of the tenant: the rich authorization state, and the configurations (a reloaded one is a new
    /// `Arc`, so the discovery documents built from the old ones are rebuilt).
    pub fn forget_tenant(&self, tenant: &str) {
        let prefix = config::workspace_key(tenant, "");
        self.rich_authorization.forget_prefix(&prefix);
        self.configs.forget_prefix(&prefix);
    }

    /// Drops this isolate's cached copies after a write through it (other isolates wait out the TTL).
    pub fn forget_workspace(&self, tenant: &str, workspace: &str) {
        let key = config::workspace_key(tenant, workspace);
        self.configs.forget(&key);
        self.keys.forget(&key);
        self.providers.forget(&key);
        self.rich_authorization.forget(&key);
        self.branding.forget(&key);
        self.clients.forget_prefix(&format!("{key}/"));
    }
}
