//! The request context: everything an endpoint of one workspace needs for one request, and how a
//! request's path becomes one (tenant and workspace resolved through the isolate's caches).

use crate::config::{self, WorkspaceConfig};
use crate::engine::Server;
use crate::error::OAuthError;
use crate::http::Request;
use crate::jose::keys::KeySet;
use crate::runtime::{Clock, Runtime};
use crate::store::{self, StoredClient};
use std::sync::Arc;

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
    /// The TLS client certificate the platform saw on this request (RFC 8705), if any; looked for
    /// on first use, and shared with the request.
    pub client_certificate: crate::http::CertificateSlot,
    /// The request came through the workspace's mTLS domain (its `mtls_issuer`).
    pub via_mtls: bool,
    /// When `config`'s cache entry expires (ms): a response built from it alone may be reused
    /// until then (`Response::reusable_until_ms`).
    pub(crate) config_expires_ms: u64,
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

    /// Milliseconds since the epoch, now (the replica reads' staleness bound is in ms).
    pub fn now_ms(&self) -> i64 {
        i64::try_from(self.rt.clock().now_ms()).unwrap_or(i64::MAX)
    }

    /// The workspace's keys from the isolate cache, loading them when stale.
    pub async fn keys(&self) -> Result<Arc<KeySet>, OAuthError> {
        self.server.workspace_keys(self.rt, &self.tenant, &self.workspace, false).await
    }

    /// The workspace's keys and when their cache entry expires (ms).
    pub(crate) async fn keys_with_expiry(&self) -> Result<(Arc<KeySet>, u64), OAuthError> {
        self.server.workspace_keys_with_expiry(self.rt, &self.tenant, &self.workspace, false).await
    }

    /// The keys, reloaded if `kid` is unknown to the cached copy (another isolate rotated).
    /// A reload for an unknown `kid` happens at most once per workspace per `CONFIG_CACHE_TTL_MS`
    /// (a `kid` anyone can write into a token must not cost a database read every time).
    pub async fn keys_with(&self, kid: Option<&str>) -> Result<Arc<KeySet>, OAuthError> {
        let ks = self.keys().await?;
        match kid {
            Some(kid) if !ks.has_kid(kid) => {
                let key = config::workspace_key(&self.tenant, &self.workspace);
                let now_ms = self.rt.clock().now_ms();
                if self.server.key_reloads.get(&key, now_ms).is_some() {
                    return Ok(ks);
                }
                self.server.key_reloads.put(key, (), now_ms);
                self.server.workspace_keys(self.rt, &self.tenant, &self.workspace, true).await
            }
            _ => Ok(ks),
        }
    }

    /// The workspace's identity providers, from the isolate cache.
    pub async fn identity_providers(&self) -> Result<Arc<crate::config::identity_providers::IdentityProviders>, OAuthError> {
        self.server.identity_providers(self.rt, &self.tenant, &self.workspace).await
    }

    /// The workspace's authorization details types and whether the feature is on (isolate cache).
    pub async fn rich_authorization(&self) -> Result<Arc<crate::config::authorization_details::RichAuthorization>, OAuthError> {
        self.server.rich_authorization(self.rt, &self.tenant, &self.workspace, &self.config).await
    }

    /// The workspace's branding, from the isolate cache.
    pub async fn branding(&self) -> Result<Arc<crate::config::branding::Branding>, OAuthError> {
        self.server.branding(self.rt, &self.tenant, &self.workspace).await
    }

    /// A client of this workspace from the isolate cache (bounded like the configuration), read
    /// from the database when not cached. Unknown clients are not cached.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<StoredClient>>, OAuthError> {
        let key = format!("{}/{client_id}", config::workspace_key(&self.tenant, &self.workspace));
        let now_ms = self.rt.clock().now_ms();
        if let Some(c) = self.server.clients.get(&key, now_ms) {
            return Ok(Some(c));
        }
        let Some(c) = store::get_client_nearby(self.db(), now_ms as i64, &self.tenant, &self.workspace, client_id).await? else { return Ok(None) };
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


/// With a public origin configured, a request must be addressed to it, or (for a workspace) to
/// the host of the workspace's `mtls_issuer`: the issuer is built from the request's origin, and a
/// forged `Host` must not put another issuer into a discovery document a shared cache keeps.
pub(crate) fn check_host(public_origin: Option<&str>, origin: &str, mtls_issuer: Option<&str>) -> Result<(), OAuthError> {
    let Some(public) = public_origin else { return Ok(()) };
    // The common case compares two strings; only another host costs a parse of `mtls_issuer`.
    let is_mtls_host = || mtls_issuer.filter(|m| !m.is_empty()).and_then(|m| crate::urls::web_url(m).ok()).is_some_and(|u| crate::urls::origin_of(&u) == origin);
    if origin == public || is_mtls_host() {
        Ok(())
    } else {
        Err(OAuthError::misdirected_request("this server does not answer for that host"))
    }
}

impl Server {
    /// Resolves tenant and workspace (cached), or a 404 naming which one is unknown.
    pub(crate) async fn context<'a, R: Runtime>(&'a self, rt: &'a R, req: &Request, tenant: &str, workspace: &str) -> Result<Ctx<'a, R>, OAuthError> {
        if !config::valid_identifier(tenant) || !config::valid_identifier(workspace) {
            return Err(OAuthError::not_found(format!("no endpoint at {}", req.path)));
        }
        let (config, config_expires_ms) = match self.workspace_config_with_expiry(rt, tenant, workspace).await? {
            (Some(c), expires) => (c, expires),
            (None, _) => {
                let known_tenant = config::load_tenant(rt.kv(), tenant).await?.is_some();
                return Err(OAuthError::not_found(if known_tenant { format!("unknown workspace '{workspace}'") } else { format!("unknown tenant '{tenant}'") }));
            }
        };
        check_host(rt.public_origin(), &req.origin, Some(&config.mtls_issuer))?;
        Ok(Ctx {
            rt,
            server: self,
            tenant: tenant.to_string(),
            workspace: workspace.to_string(),
            issuer: format!("{}/{tenant}/{workspace}", req.origin),
            via_mtls: !config.mtls_issuer.is_empty() && config.mtls_issuer == format!("{}/{tenant}/{workspace}", req.origin),
            config,
            config_expires_ms,
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
}

#[cfg(test)]
mod tests {
    use super::check_host;

    #[test]
    fn a_configured_public_origin_refuses_other_hosts() {
        assert!(check_host(None, "http://anything.example", None).is_ok());
        let public = Some("https://auth.example");
        assert!(check_host(public, "https://auth.example", None).is_ok());
        assert_eq!(check_host(public, "https://evil.example", None).unwrap_err().status, 421);
        assert_eq!(check_host(public, "http://auth.example", None).unwrap_err().status, 421);
        let mtls = Some("https://mtls.auth.example/t/w");
        assert!(check_host(public, "https://mtls.auth.example", mtls).is_ok());
        assert!(check_host(public, "https://mtls.auth.example", Some("")).is_err());
        assert!(check_host(public, "https://other.example", mtls).is_err());
    }
}
