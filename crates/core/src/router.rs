//! The router: the one place that knows every endpoint. It resolves the workspace a request is
//! for (through the engine), sends the request to its handler, and turns every error into a
//! response. Nothing imports the router; it imports the handlers.

use crate::engine::{check_host, Server};
use crate::error::OAuthError;
use crate::http::{Failure, Request, Response, MAX_BODY_BYTES};
use crate::management::{self, admin};
use crate::oauth::{authorize, introspection, par, revocation, token};
use crate::oidc::{account, discovery, logout, userinfo};
use crate::open_finance::{consent_introspection, consents, fapi, payments};
use crate::runtime::Runtime;
use crate::web::brand;

impl Server {
    /// Handles one request. Never panics on bad input; storage failures become 500s without detail.
    pub async fn handle<R: Runtime>(&self, rt: &R, req: Request) -> Response {
        let cors = is_cors_endpoint(&req.path);
        let mut resp = if req.body.len() > MAX_BODY_BYTES {
            // The management API speaks problem+json, the protocol endpoints OAuth errors.
            if req.path.starts_with("/api/") {
                OAuthError::payload_too_large().into_problem_response()
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
        if let Some(f) = resp.failure.as_mut() {
            locate(f, &req.path);
            f.request_id = Failure::request_id_of(&req.headers).unwrap_or_default();
        }
        // Every answer: no MIME sniffing; over https, browsers keep to https for a year.
        resp = resp.with_header("x-content-type-options", "nosniff");
        if req.origin.starts_with("https://") {
            resp = resp.with_header("strict-transport-security", "max-age=31536000");
        }
        resp
    }

    async fn route<R: Runtime>(&self, rt: &R, req: &Request) -> Result<Response, OAuthError> {
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        // A workspace's endpoints check the host with its configuration (`Server::context`).
        if let [root @ ("admin" | "api"), ..] = segments.as_slice() {
            if let Err(e) = check_host(rt.public_origin(), &req.origin, None) {
                return Ok(if *root == "api" { e.into_problem_response() } else { e.into_response() });
            }
        }
        match segments.as_slice() {
            ["admin", rest @ ..] => admin::handle(self, rt, req, rest).await,
            ["api", rest @ ..] => Ok(management::handle(self, rt, req, rest).await),
            [".well-known", "oauth-authorization-server", t, w] => {
                let ctx = self.context(rt, req, t, w).await?;
                only(req, &["GET", "HEAD"])?;
                discovery::metadata(&ctx).await
            }
            [t, w, rest @ ..] => {
                let ctx = self.context(rt, req, t, w).await?;
                let m = req.method.as_str();
                let result = match (rest, m) {
                    ([".well-known", "openid-configuration"], "GET" | "HEAD") => discovery::metadata(&ctx).await,
                    (["jwks"], "GET" | "HEAD") => discovery::jwks(&ctx).await,
                    (["authorize"], "GET" | "POST") => Ok(authorize::handle(&ctx, req).await),
                    (["par"], "POST") => par::handle(&ctx, req).await,
                    (["open-banking", "consents", api @ ..], _) if ctx.config.open_finance_enabled() => Ok(consents::handle(&ctx, req, api).await),
                    (["open-banking", "payments", api @ ..], _) if ctx.config.open_finance_enabled() => Ok(payments::handle(&ctx, req, api).await),
                    (["open-banking-brasil", "open-banking", "payments", v, "consents", "introspect"], "POST") if ctx.config.open_finance_enabled() && matches!(*v, "v1" | "v2" | "v3") => {
                        Ok(consent_introspection::handle(&ctx, req, v).await)
                    }
                    (["login"], "POST") => Ok(authorize::login::post(&ctx, req).await),
                    (["consent"], "POST") => Ok(authorize::consent::post(&ctx, req).await),
                    (["idp", "start"], "POST") => Ok(authorize::upstream::choose(&ctx, req).await),
                    (["idp", "callback"], "GET") => Ok(authorize::upstream::callback(&ctx, req).await),
                    (["extensions", "resume"], "GET" | "POST") => Ok(authorize::extensions::resume(&ctx, req).await),
                    (["token"], "POST") => token::handle(&ctx, req).await,
                    (["userinfo"], "GET" | "POST") => userinfo::handle(&ctx, req).await,
                    (["introspect"], "POST") => introspection::handle(&ctx, req).await,
                    (["revoke"], "POST") => revocation::handle(&ctx, req).await,
                    (["logout"], "GET" | "POST") => Ok(logout::handle(&ctx, req).await),
                    (["app"], "GET") => Ok(account::page(&ctx, req).await),
                    (["app", "consents", "withdraw"], "POST") => Ok(account::withdraw_consent(&ctx, req).await),
                    (["app", "passkeys", "rename"], "POST") => Ok(account::passkey_action(&ctx, req, false).await),
                    (["app", "passkeys", "delete"], "POST") => Ok(account::passkey_action(&ctx, req, true).await),
                    (["passkeys.js"], "GET" | "HEAD") => Ok(Response::new(200)
                        .with_header("content-type", "text/javascript; charset=utf-8")
                        .with_header("cache-control", "public, max-age=3600")
                        .with_body(crate::web::PASSKEYS_JS.as_bytes().to_vec())),
                    (["passkeys", "registration-options"], "POST") => authorize::passkeys::registration_options(&ctx, req).await,
                    (["passkeys", "register"], "POST") => Ok(authorize::passkeys::register(&ctx, req).await),
                    (["passkeys", "assertion-options"], "POST") => authorize::passkeys::assertion_options(&ctx, req).await,
                    (["passkeys", "sign-in"], "POST") => Ok(authorize::passkeys::sign_in(&ctx, req).await),
                    (["passkeys", "continue"], "POST") => Ok(authorize::passkeys::decline(&ctx, req).await),
                    (["login", "code"], "POST") => Ok(authorize::codes::start(&ctx, req).await),
                    (["codes", "email"], "POST") => Ok(authorize::codes::email(&ctx, req).await),
                    (["codes", "verify"], "POST") => Ok(authorize::codes::verify(&ctx, req).await),
                    // Self-service: switched off, these endpoints do not exist (404).
                    (["signup"], "POST") if ctx.config.login.sign_up() => Ok(authorize::self_service::sign_up(&ctx, req).await),
                    (["signup", "verify"], "POST") if ctx.config.login.sign_up() => Ok(authorize::self_service::sign_up_verify(&ctx, req).await),
                    (["password", "forgot"], "POST") if ctx.config.login.password_reset() => Ok(authorize::self_service::forgot(&ctx, req).await),
                    (["password", "reset"], "POST") if ctx.config.login.password_reset() => Ok(authorize::self_service::reset(&ctx, req).await),
                    (["signup"] | ["signup", "verify"], _) if ctx.config.login.sign_up() => Err(OAuthError::method_not_allowed(format!("{m} is not allowed here"))),
                    (["password", "forgot" | "reset"], _) if ctx.config.login.password_reset() => Err(OAuthError::method_not_allowed(format!("{m} is not allowed here"))),
                    (["app", "totp", "setup"], "POST") => Ok(account::totp_setup(&ctx, req).await),
                    (["app", "totp", "confirm"], "POST") => Ok(account::totp_confirm(&ctx, req).await),
                    (["app", "totp", "delete"], "POST") => Ok(account::totp_delete(&ctx, req).await),
                    (["app", "password"], "POST") => Ok(account::change_password(&ctx, req).await),
                    (["app", "sign-out-everywhere"], "POST") => Ok(account::sign_out_everywhere(&ctx, req).await),
                    (["fdx", "dcr", "register", rest @ ..], _) => management::registration::handle(&ctx, req, rest).await,
                    (["branding.css"], "GET" | "HEAD") => brand::serve_css(&*ctx.branding().await?),
                    (["branding", "logo"], "GET" | "HEAD") => brand::serve_logo(rt.kv(), t, w).await,
                    (
                        [".well-known", "openid-configuration"] | ["jwks"] | ["authorize"] | ["par"] | ["login"] | ["consent"] | ["token"] | ["userinfo"] | ["introspect"] | ["revoke"]
                        | ["logout"] | ["app"] | ["app", "consents", "withdraw"] | ["idp", "start"] | ["idp", "callback"] | ["extensions", "resume"]
                        | ["passkeys", "registration-options" | "register" | "assertion-options" | "sign-in" | "continue"]
                        | ["app", "passkeys", "rename" | "delete"]
                        | ["login", "code"] | ["codes", "email" | "verify"] | ["app", "totp", "setup" | "confirm" | "delete"] | ["app", "password" | "sign-out-everywhere"]
                        | ["passkeys.js"] | ["branding.css"] | ["branding", "logo"],
                        _,
                    ) => Err(OAuthError::method_not_allowed(format!("{m} is not allowed here"))),
                    _ => Err(OAuthError::not_found(format!("no endpoint at {}", req.path))),
                };
                if ctx.config.fapi_interaction_id() && fapi::is_resource_style(rest) {
                    return Ok(fapi::with_interaction_id(&ctx, req, result.unwrap_or_else(|e| e.into_response())));
                }
                match result {
                    // Every page of the workspace carries its branding (read only for pages). A
                    // branding that cannot be read leaves the page plain rather than failing it.
                    Ok(page) if brand::is_page(&page) => match ctx.branding().await {
                        Ok(b) => Ok(brand::apply(page, &b, &brand::BrandUrls { logo: ctx.endpoint("branding/logo"), css: ctx.endpoint("branding.css") })),
                        Err(_) => Ok(page),
                    },
                    other => other,
                }
            }
            _ => Err(OAuthError::not_found(format!("no endpoint at {}", req.path))),
        }
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

/// Where a failed request was going, for its log line: tenant, workspace and the endpoint below
/// them, or (the management and bootstrap APIs, discovery at the root) the whole path. Each part
/// is cut to 128 characters: they come from the caller.
fn locate(f: &mut Failure, path: &str) {
    let cut = |s: &str| s.chars().take(128).collect::<String>();
    let path = path.trim_start_matches('/');
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api" | "admin" | ".well-known", ..] | [_] => f.endpoint = cut(path),
        [t, w, rest @ ..] => {
            f.tenant = cut(t);
            f.workspace = cut(w);
            f.endpoint = cut(&rest.join("/"));
        }
        [] => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_located_by_path() {
        let at = |p: &str| {
            let mut f = Failure::default();
            locate(&mut f, p);
            (f.tenant, f.workspace, f.endpoint)
        };
        assert_eq!(at("/acme/main/token"), ("acme".into(), "main".into(), "token".into()));
        assert_eq!(at("/acme/main/.well-known/openid-configuration"), ("acme".into(), "main".into(), ".well-known/openid-configuration".into()));
        assert_eq!(at("/api/tenants/acme"), (String::new(), String::new(), "api/tenants/acme".into()));
        assert_eq!(at(&format!("/{}/w/x", "t".repeat(300))).0.len(), 128);
    }
}
