//! OpenID Connect ID tokens: the claims every ID token carries, those the token endpoint adds
//! (scope claims, `at_hash`), the front-channel one of `code id_token` (`c_hash`, `s_hash`), and
//! the algorithm each client gets.

use super::{sign, Authentication};
use crate::authn::context;
use crate::config::authn_context::ClaimTarget;
use crate::config::client::Client;
use crate::config::WorkspaceConfig;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::jose;
use crate::runtime::{Alg, Runtime};
use crate::store::User;
use serde_json::{json, Map, Value};

pub struct IdTokenInput<'a> {
    pub client_id: &'a str,
    pub alg: Alg,
    pub user: &'a User,
    pub scope: &'a str,
    pub auth: &'a Authentication,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
    /// User claims the `claims` parameter asked for (released when the user has them).
    pub extra_claims: &'a [String],
}

/// The algorithm of this client's ID tokens, from either endpoint: the profile's only algorithm,
/// else the client's `id_token_signed_response_alg`, else the workspace default.
pub fn id_token_alg(config: &WorkspaceConfig, client: &Client) -> Alg {
    config.only_alg().or(client.id_token_signed_response_alg).unwrap_or(config.default_signing_alg)
}

/// The algorithm of this client's JARM responses: the profile's only algorithm, else the client's
/// `authorization_signed_response_alg`, else the workspace default.
pub fn authorization_response_alg(config: &WorkspaceConfig, client: &Client) -> Alg {
    config.only_alg().or(client.authorization_signed_response_alg).unwrap_or(config.default_signing_alg)
}

/// The claims every ID token carries, wherever it is issued: issuer, audience, times and the
/// authentication event (`acr` always one of the Brazilian levels under the profile).
fn id_token_base(config: &WorkspaceConfig, issuer: &str, now: i64, client_id: &str, sub: &str, auth: &Authentication, nonce: Option<&str>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(sub));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("azp".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + config.id_token_ttl));
    claims.insert("auth_time".into(), json!(auth.auth_time));
    claims.insert("acr".into(), json!(config.id_token_acr(&auth.acr)));
    claims.insert("amr".into(), json!(auth.amr));
    if let Some(sid) = &auth.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if let Some(n) = nonce {
        claims.insert("nonce".into(), json!(n));
    }
    claims
}

pub async fn mint_id_token<R: Runtime>(ctx: &Ctx<'_, R>, i: IdTokenInput<'_>) -> Result<String, OAuthError> {
    let mut claims = context::claims_for(&ctx.config, i.user, i.scope, ClaimTarget::IdToken);
    for name in i.extra_claims {
        if let Some(v) = i.user.claims.get(name) {
            claims.insert(name.clone(), v.clone());
        }
    }
    claims.extend(id_token_base(&ctx.config, &ctx.issuer, ctx.now, i.client_id, &i.user.id, i.auth, i.nonce));
    claims.insert("at_hash".into(), json!(jose::at_hash(i.access_token)));
    sign(ctx, i.alg, Some("JWT"), &Value::Object(claims)).await
}

/// The claims of the ID token of a `code id_token` authorization response (OIDC Core 3.3.2.11,
/// FAPI 1 Advanced 5.2.2.1-5): the authentication event, `nonce`, `c_hash` of the code and, when
/// the request had a state, `s_hash` of it. No user claims beyond `sub`: this token travels
/// through the browser (FAPI 1 Advanced 5.2.2.1-6: no sensitive data in the front channel), and
/// the token endpoint's ID token carries the rest.
#[allow(clippy::too_many_arguments)]
pub fn front_channel_id_token_claims(config: &WorkspaceConfig, issuer: &str, now: i64, client_id: &str, sub: &str, auth: &Authentication, nonce: &str, code: &str, state: Option<&str>) -> Value {
    let mut claims = id_token_base(config, issuer, now, client_id, sub, auth, Some(nonce));
    // Every algorithm we sign with hashes with SHA-256: the left half, base64url (as at_hash).
    claims.insert("c_hash".into(), json!(jose::at_hash(code)));
    if let Some(s) = state {
        claims.insert("s_hash".into(), json!(jose::at_hash(s)));
    }
    Value::Object(claims)
}

/// An ID token as this server mints them, told from the other JWTs it signs with the same keys:
/// typed `JWT` (access tokens are `at+jwt`), with a subject and the authentication's `auth_time`
/// (a JARM response has neither).
pub fn looks_like_id_token(header: &Value, claims: &Value) -> bool {
    header.get("typ").and_then(Value::as_str).is_none_or(|t| t.eq_ignore_ascii_case("JWT"))
        && claims.get("sub").is_some_and(Value::is_string)
        && claims.get("auth_time").is_some_and(Value::is_i64)
        && claims.get("aud").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Profile, ACR_BR_LOA2, ACR_BR_LOA3};

    fn auth(acr: &str) -> Authentication {
        Authentication { auth_time: 900, acr: acr.into(), amr: vec!["pwd".into()], sid: Some("sid-1".into()) }
    }

    #[test]
    fn id_tokens_are_told_from_our_other_jwts() {
        let jwt = json!({ "typ": "JWT", "alg": "ES256" });
        let id = json!({ "sub": "u", "aud": "rp", "auth_time": 1, "iss": "i" });
        assert!(looks_like_id_token(&jwt, &id));
        assert!(!looks_like_id_token(&json!({ "typ": "at+jwt" }), &id), "an access token");
        assert!(!looks_like_id_token(&jwt, &json!({ "aud": "rp", "iss": "i", "code": "c", "state": "s" })), "a JARM response");
    }

    #[test]
    fn front_channel_id_token_hashes_code_and_state() {
        let cfg = WorkspaceConfig::default();
        // OIDC Core appendix A.4: the code and its c_hash.
        let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
        let c = front_channel_id_token_claims(&cfg, "https://as.example/t/w", 1000, "rp", "user-1", &auth("urn:x"), "n-0S6_WzA2Mj", code, Some("af0ifjsldkj"));
        assert_eq!(c["c_hash"], "LDktKdoQak3Pk0cnXxCltA");
        // SHA-256 of "af0ifjsldkj", left 128 bits, base64url (computed independently with python3).
        assert_eq!(c["s_hash"], "bOhtX8F73IMjSPeVAqxyTQ");
        assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(c["sub"], "user-1");
        assert_eq!(c["aud"], "rp");
        assert_eq!(c["iss"], "https://as.example/t/w");
        assert_eq!(c["auth_time"], 900);
        assert_eq!(c["exp"], 1000 + cfg.id_token_ttl);
        assert_eq!(c["acr"], "urn:x");
        assert!(c.get("at_hash").is_none());
        let no_state = front_channel_id_token_claims(&cfg, "i", 0, "rp", "u", &auth("urn:x"), "n", "code", None);
        assert!(no_state.get("s_hash").is_none());
        assert_eq!(no_state["c_hash"], jose::at_hash("code"));
    }

    #[test]
    fn front_channel_id_token_acr_under_fapi_br() {
        let cfg = WorkspaceConfig { profile: Profile::FapiBr, default_signing_alg: Alg::PS256, access_token_ttl: 300, ..WorkspaceConfig::default() };
        let c = front_channel_id_token_claims(&cfg, "i", 0, "rp", "u", &auth("urn:edgeauth:acr:password"), "n", "code", Some("s"));
        assert_eq!(c["acr"], ACR_BR_LOA2);
        let c = front_channel_id_token_claims(&cfg, "i", 0, "rp", "u", &auth(ACR_BR_LOA3), "n", "code", Some("s"));
        assert_eq!(c["acr"], ACR_BR_LOA3);
    }

    #[test]
    fn signing_algorithms_per_client_and_profile() {
        let plain = WorkspaceConfig::default();
        let br = WorkspaceConfig { profile: Profile::FapiBr, default_signing_alg: Alg::PS256, access_token_ttl: 300, ..WorkspaceConfig::default() };
        let none = Client::default();
        let rs = Client { id_token_signed_response_alg: Some(Alg::RS256), authorization_signed_response_alg: Some(Alg::ES256), ..Client::default() };
        let rs_jarm = Client { authorization_signed_response_alg: Some(Alg::RS256), ..Client::default() };
        assert_eq!(id_token_alg(&plain, &none), plain.default_signing_alg);
        assert_eq!(id_token_alg(&plain, &rs), Alg::RS256);
        assert_eq!(id_token_alg(&br, &rs), Alg::PS256);
        assert_eq!(authorization_response_alg(&plain, &none), plain.default_signing_alg);
        assert_eq!(authorization_response_alg(&plain, &rs_jarm), Alg::RS256);
        assert_eq!(authorization_response_alg(&br, &rs_jarm), Alg::PS256);
    }
}
