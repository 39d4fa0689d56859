//! Consent introspection for resource servers (Open Finance Brasil):
//! `POST /{tenant}/{workspace}/open-banking-brasil/open-banking/payments/v3/consents/introspect`.
//!
//! RFC 7662 with the consent the token is bound to: the caller (the bank's resource server) sends
//! `token=` and authenticates as a confidential client of the workspace whose `scope` includes
//! `introspect_openbanking_tokens`; a TPP's client, lacking it, gets 403. The answer is the token's
//! claims, `consent_id`, and `consent` (id, type, status, the consent's data and dates). A token
//! bound to a consent that is not AUTHORISED (REJECTED, CONSUMED, expired) is inactive. One store
//! holds every version's consents, so v3 introspects tokens bound to data consents (v2/v3) and
//! payment consents (v3/v4) alike. The v1 and v2 paths answer the same and carry `Deprecation`
//! (RFC 9745) and a `Link` to the v3 path (`rel="successor-version"`).

use crate::open_finance::consents::{self, KIND_PAYMENT};
use crate::error::OAuthError;
use crate::http::{Request, Response};
use crate::time::format_rfc3339;
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::open_finance::fapi;
use crate::{client_auth, tokens};
use serde_json::{json, Value};

/// The scope a resource server's client needs.
pub const INTROSPECT_SCOPE: &str = "introspect_openbanking_tokens";
/// When v1 and v2 were deprecated (RFC 9745 `@` + seconds): 2025-01-01T00:00:00Z.
pub const DEPRECATED_SINCE: i64 = 1_735_689_600;

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str) -> Response {
    let mut resp = match introspect(ctx, req, version).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if version != "v3" {
        resp = resp
            .with_header("deprecation", format!("@{DEPRECATED_SINCE}"))
            .with_header("link", format!("<{}>; rel=\"successor-version\"", endpoint(ctx, "v3")));
    }
    fapi::with_interaction_id(ctx, req, resp)
}

fn endpoint<R: Runtime>(ctx: &Ctx<'_, R>, version: &str) -> String {
    format!("{}/open-banking-brasil/open-banking/payments/{version}/consents/introspect", ctx.issuer)
}

async fn introspect<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let caller = client_auth::authenticate(ctx, req, &params, &endpoint(ctx, version)).await?;
    if caller.is_public() {
        return Err(OAuthError::invalid_client("public clients cannot introspect tokens"));
    }
    if !caller.allowed_scopes().any(|s| s == INTROSPECT_SCOPE) {
        return Err(OAuthError { code: "access_denied", ..OAuthError::invalid_request(format!("the client needs the {INTROSPECT_SCOPE} scope")) }.with_status(403));
    }
    let token = params.require("token")?;
    let inactive = || Ok(Response::json_no_store(200, &json!({ "active": false })));
    let Ok(claims) = tokens::verify_access_token(ctx, token).await else { return inactive() };
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let mut out = json!({ "active": true, "token_type": "Bearer" });
    if let Some(id) = consents::consent_id_in(scope) {
        let Some(c) = consents::current(ctx, id).await?.filter(|c| c.status == consents::AUTHORISED) else { return inactive() };
        let mut consent = c.document.clone();
        consent["consentId"] = json!(c.id);
        consent["type"] = json!(if c.kind == KIND_PAYMENT { "payment" } else { "data" });
        consent["status"] = json!(c.status);
        consent["creationDateTime"] = json!(format_rfc3339(c.created_at));
        consent["statusUpdateDateTime"] = json!(format_rfc3339(c.status_updated_at));
        if let Some(e) = c.expires_at {
            consent["expirationDateTime"] = json!(format_rfc3339(e));
        }
        out["consent_id"] = json!(c.id);
        out["consent"] = consent;
    }
    for k in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "auth_time", "acr"] {
        if let Some(v) = claims.get(k) {
            out[k] = v.clone();
        }
    }
    Ok(Response::json_no_store(200, &out))
}
