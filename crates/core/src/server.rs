//! The entry point: resolves the workspace a request is for, routes it to its endpoint, and turns
//! every error into a response. Caches that outlive a request live here (one `Server` per isolate).

use crate::config::{self, WorkspaceConfig, CONFIG_CACHE_TTL_MS};
use crate::error::OAuthError;
use crate::http::{Request, Response, MAX_BODY_BYTES};
use crate::keys::{self, KeySet};
use crate::store::{self, StoredClient};
use crate::runtime::{Clock, Runtime};
use crate::{account, admin, authorize, consent_introspection, consents, fapi, payments, management, discovery, interaction, introspection, logout, par, revocation, token, userinfo};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries an isolate keeps per cache before it starts over (bounds memory under name scanning).
const CACHE_MAX_ENTRIES: usize = 1024;

struct Cached<T> {
    at_ms: u64,
    value: T,
}

/// A small time-bounded map. Single-threaded (an isolate), so a RefCell suffices.
struct TtlCache<T: Clone> {
    entries: RefCell<HashMap<String, Cached<T>>>,
}

impl<T: Clone> Default for TtlCache<T> {
    fn default() -> Self {
        TtlCache { entries: RefCell::new(HashMap::new()) }
    }
}

impl<T: Clone> TtlCache<T> {
    fn get(&self, key: &str, now_ms: u64) -> Option<T> {
        let entries = self.entries.borrow();
        let e = entries.get(key)?;
        (now_ms.saturating_sub(e.at_ms) < CONFIG_CACHE_TTL_MS).then(|| e.value.clone())
    }

    fn put(&self, key: String, value: T, now_ms: u64) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Cached { at_ms: now_ms, value });
    }

    fn forget(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    fn forget_prefix(&self, prefix: &str) {
        self.entries.borrow_mut().retain(|k, _| !k.starts_with(prefix));
    }
}

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

/// Everything an endpoint of one workspace needs for one request.
pub struct Ctx<'a, R: Runtime> {
    pub rt: &'a R,
    pub server: &'a Server,
    pub tenant: String,
    pub workspace: String,
    /// `{origin}/{tenant}/{workspace}`
    pub issuer: String,
    pub config: Arc<WorkspaceConfig>,
    /// Seconds since the epoch, read once per request.
    pub now: i64,
    /// The TLS client certificate the platform saw on this request (RFC 8705), if any.
    pub client_certificate: Option<crate::http::ClientCertificate>,
    /// The request came through the workspace's mTLS domain (its `mtls_issuer`).
    pub via_mtls: bool,
}

impl<R: Runtime> Ctx<'_, R> {
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/{}", self.issuer, name)
    }

    /// The path prefix of this workspace, used to scope cookies.
    pub fn base_path(&self) -> String {
        format!("/{}/{}", self.tenant, self.workspace)
    }

    pub fn db(&self) -> &R::Sql {
        self.rt.sql()
    }

    /// The workspace's keys from the isolate cache, loading them when stale.
    pub async fn keys(&self) -> Result<Arc<KeySet>, OAuthError> {
        self.server.workspace_keys(self.rt, &self.tenant, &self.workspace, false).await
    }

    /// The keys, reloaded if `kid` is unknown to the cached copy (another isolate rotated).
    pub async fn keys_with(&self, kid: Option<&str>) -> Result<Arc<KeySet>, OAuthError> {
        let ks = self.keys().await?;
        match kid {
            Some(kid) if !ks.has_kid(kid) => self.server.workspace_keys(self.rt, &self.tenant, &self.workspace, true).await,
            _ => Ok(ks),
        }
    }

    /// A client of this workspace from the isolate cache (bounded like the configuration), read
    /// from the database when not cached. Unknown clients are not cached.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<StoredClient>>, OAuthError> {
        let key = format!("{}/{client_id}", config::workspace_key(&self.tenant, &self.workspace));
        let now_ms = self.rt.clock().now_ms();
        if let Some(c) = self.server.clients.get(&key, now_ms) {
            return Ok(Some(c));
        }
        let Some(c) = store::get_client(self.db(), &self.tenant, &self.workspace, client_id).await? else { return Ok(None) };
        let c = Arc::new(c);
        self.server.clients.put(key, c.clone(), now_ms);
        Ok(Some(c))
    }

    pub fn access_token_audience(&self) -> String {
        if self.config.access_token_audience.is_empty() {
            self.issuer.clone()
        } else {
            self.config.access_token_audience.clone()
        }
    }
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    /// Handles one request. Never panics on bad input; storage failures become 500s without detail.
    pub async fn handle<R: Runtime>(&self, rt: &R, req: Request) -> Response {
        let cors = is_cors_endpoint(&req.path);
        let mut resp = if req.body.len() > MAX_BODY_BYTES {
            // The management API speaks problem+json, the protocol endpoints OAuth errors.
            if req.path.starts_with("/api/") {
                crate::error::Problem::from(OAuthError::payload_too_large()).into_response()
            } else {
                OAuthError::payload_too_large().into_response()
            }
        } else if cors && req.method == "OPTIONS" {
            Response::new(204)
                .with_header("access-control-allow-methods", "GET, POST")
                .with_header("access-control-allow-headers", "authorization, content-type, dpop")
                .with_header("access-control-max-age", "600")
        } else {
            match self.route(rt, &req).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        };
        if cors {
            resp = resp.with_header("access-control-allow-origin", "*");
        }
        resp
    }

    async fn route<R: Runtime>(&self, rt: &R, req: &Request) -> Result<Response, OAuthError> {
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["admin", rest @ ..] => admin::handle(self, rt, req, rest).await,
            ["api", rest @ ..] => Ok(management::handle(self, rt, req, rest).await),
            [".well-known", "oauth-authorization-server", t, w] => {
                let ctx = self.context(rt, req, t, w).await?;
                only(req, &["GET", "HEAD"])?;
                Ok(discovery::metadata(&ctx))
            }
            [t, w, rest @ ..] => {
                let ctx = self.context(rt, req, t, w).await?;
                let m = req.method.as_str();
                let result = match (rest, m) {
                    ([".well-known", "openid-configuration"], "GET" | "HEAD") => Ok(discovery::metadata(&ctx)),
                    (["jwks"], "GET" | "HEAD") => discovery::jwks(&ctx).await,
                    (["authorize"], "GET" | "POST") => Ok(authorize::handle(&ctx, req).await),
                    (["par"], "POST") => par::handle(&ctx, req).await,
                    (["open-banking", "consents", api @ ..], _) if ctx.config.fapi_br() => Ok(consents::handle(&ctx, req, api).await),
                    (["open-banking", "payments", api @ ..], _) if ctx.config.fapi_br() => Ok(payments::handle(&ctx, req, api).await),
                    (["open-banking-brasil", "open-banking", "payments", v, "consents", "introspect"], "POST") if ctx.config.fapi_br() && matches!(*v, "v1" | "v2" | "v3") => {
                        Ok(consent_introspection::handle(&ctx, req, v).await)
                    }
                    (["login"], "POST") => Ok(interaction::login(&ctx, req).await),
                    (["consent"], "POST") => Ok(interaction::consent(&ctx, req).await),
                    (["token"], "POST") => token::handle(&ctx, req).await,
                    (["userinfo"], "GET" | "POST") => userinfo::handle(&ctx, req).await,
                    (["introspect"], "POST") => introspection::handle(&ctx, req).await,
                    (["revoke"], "POST") => revocation::handle(&ctx, req).await,
                    (["logout"], "GET" | "POST") => Ok(logout::handle(&ctx, req).await),
                    (["app"], "GET") => Ok(account::page(&ctx, req).await),
                    (["app", "consents", "withdraw"], "POST") => Ok(account::withdraw_consent(&ctx, req).await),
                    (
                        [".well-known", "openid-configuration"] | ["jwks"] | ["authorize"] | ["par"] | ["login"] | ["consent"] | ["token"] | ["userinfo"] | ["introspect"] | ["revoke"]
                        | ["logout"] | ["app"] | ["app", "consents", "withdraw"],
                        _,
                    ) => Err(OAuthError::method_not_allowed(format!("{m} is not allowed here"))),
                    _ => Err(OAuthError::not_found(format!("no endpoint at {}", req.path))),
                };
                if ctx.config.fapi_br() && fapi::is_resource_style(rest) {
                    return Ok(fapi::with_interaction_id(&ctx, req, result.unwrap_or_else(|e| e.into_response())));
                }
                result
            }
            _ => Err(OAuthError::not_found(format!("no endpoint at {}", req.path))),
        }
    }

    /// Resolves tenant and workspace (cached), or a 404 naming which one is unknown.
    async fn context<'a, R: Runtime>(&'a self, rt: &'a R, req: &Request, tenant: &str, workspace: &str) -> Result<Ctx<'a, R>, OAuthError> {
        if !config::valid_identifier(tenant) || !config::valid_identifier(workspace) {
            return Err(OAuthError::not_found(format!("no endpoint at {}", req.path)));
        }
        let config = match self.workspace_config(rt, tenant, workspace).await? {
            Some(c) => c,
            None => {
                let known_tenant = config::load_tenant(rt.kv(), tenant).await?.is_some();
                return Err(OAuthError::not_found(if known_tenant { format!("unknown workspace '{workspace}'") } else { format!("unknown tenant '{tenant}'") }));
            }
        };
        Ok(Ctx {
            rt,
            server: self,
            tenant: tenant.to_string(),
            workspace: workspace.to_string(),
            issuer: format!("{}/{tenant}/{workspace}", req.origin),
            via_mtls: !config.mtls_issuer.is_empty() && config.mtls_issuer == format!("{}/{tenant}/{workspace}", req.origin),
            config,
            now: rt.clock().now_secs(),
            client_certificate: req.client_certificate.clone(),
        })
    }

    /// The context of a workspace for a call that is not addressed to it (the management API
    /// checks tokens of the system workspace this way); `None` when it does not exist.
    pub async fn workspace_ctx<'a, R: Runtime>(&'a self, rt: &'a R, req: &Request, tenant: &str, workspace: &str) -> Result<Option<Ctx<'a, R>>, OAuthError> {
        match self.context(rt, req, tenant, workspace).await {
            Ok(ctx) => Ok(Some(ctx)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
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

pub fn only(req: &Request, methods: &[&str]) -> Result<(), OAuthError> {
    if methods.contains(&req.method.as_str()) {
        Ok(())
    } else {
        Err(OAuthError::method_not_allowed(format!("{} is not allowed here", req.method)))
    }
}

/// Endpoints a browser-based client calls cross-origin (no cookies are involved in any of them).
fn is_cors_endpoint(path: &str) -> bool {
    ["/.well-known/openid-configuration", "/jwks", "/token", "/userinfo", "/introspect", "/revoke"].iter().any(|s| path.ends_with(s))
        || path.starts_with("/.well-known/oauth-authorization-server/")
}
