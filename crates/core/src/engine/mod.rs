//! The engine's request machinery, below every endpoint: the request context ([`Ctx`]) and the
//! per-isolate state ([`Server`]: configuration, keys, clients and discovery documents, each cached
//! for at most `CONFIG_CACHE_TTL_MS`). Routing lives above the endpoints, in `crate::router`.

mod cache;
mod context;

pub use context::Ctx;
pub(crate) use context::check_host;

use crate::config::{self, WorkspaceConfig};
use crate::error::OAuthError;
use crate::jose::keys::{self, KeySet};
use crate::runtime::{Clock, Runtime};
use crate::store::StoredClient;
use cache::TtlCache;
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

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    pub async fn workspace_config<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str) -> Result<Option<Arc<WorkspaceConfig>>, OAuthError> {
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if let Some(c) = self.configs.get(&key, now_ms) {
            return Ok(c);
        }
        let cfg = config::load_workspace(rt.kv(), tenant, workspace).await?.map(Arc::new);
        self.configs.put(key, cfg.clone(), now_ms);
        Ok(cfg)
    }

    async fn workspace_keys<R: Runtime>(&self, rt: &R, tenant: &str, workspace: &str, force: bool) -> Result<Arc<KeySet>, OAuthError> {
        let key = config::workspace_key(tenant, workspace);
        let now_ms = rt.clock().now_ms();
        if !force {
            if let Some(k) = self.keys.get(&key, now_ms) {
                return Ok(k);
            }
        }
        let ks = Arc::new(keys::load(rt.sql(), rt.master_secret(), tenant, workspace, (now_ms / 1000) as i64).await?);
        self.keys.put(key, ks.clone(), now_ms);
        Ok(ks)
    }

    /// Drops this isolate's cached copies after a write through it (other isolates wait out the TTL).
    pub fn forget_workspace(&self, tenant: &str, workspace: &str) {
        let key = config::workspace_key(tenant, workspace);
        self.configs.forget(&key);
        self.keys.forget(&key);
        self.clients.forget_prefix(&format!("{key}/"));
    }
}
