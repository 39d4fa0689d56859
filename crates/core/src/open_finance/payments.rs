//! Open Finance Brasil payment consents (the payments API v3 and v4, consent endpoints only), on
//! workspaces with the `fapi_br` profile, under `/{tenant}/{workspace}/open-banking/payments/{v3|v4}/consents`.
//!
//! Bodies are JWS both ways (`application/jwt`, PS256). A request is verified with the TPP's keys
//! (`jwks`/`jwks_uri`, as for `private_key_jwt`): `iss` is the client_id, `aud` the issuer (or the
//! endpoint's URL), `iat` within 60 s of the server's clock, and `jti` unused by this client for
//! 24 hours (403 on reuse). Responses, errors included, are signed with the workspace's PS256 key
//! (`iss` the issuer, `aud` the client_id). `POST` needs `x-idempotency-key`: the same key with the
//! same `data` answers the consent it created (whatever the new JWS's `jti`); with other `data` 422
//! ERRO_IDEMPOTENCIA. Keys live 24 hours.
//!
//! The consent then follows the consent-bound scope (`consent:{consentId}`, client scope `payments`)
//! like a data consent: AWAITING_AUTHORISATION -> AUTHORISED (user) | REJECTED; AUTHORISED ->
//! CONSUMED through the bank-side API (`management/open_banking.rs`). A CONSUMED consent's tokens
//! are inactive and its refresh token refused.

use crate::open_finance::consents::{self, ApiError, AUTHORISED, AWAITING, KIND_PAYMENT, PAYMENTS_SCOPE, PAYMENT_AWAITING_TTL};
use crate::http::{percent_decode, Request, Response};
use crate::time::format_rfc3339;
use crate::runtime::{Alg, Runtime};
use crate::engine::Ctx;
use crate::store::consents::{self as cstore, ObConsent};
use crate::open_finance::fapi;
use crate::{client_auth, crypto, jose, store, tokens};
use serde_json::{json, Value};

/// How far `iat` may be from the server's clock.
pub const IAT_WINDOW: i64 = 60;
/// How long a request's `jti` and an idempotency key are remembered.
pub const REPLAY_WINDOW: i64 = 86400;
/// `jti`s of signed bodies share the single-use table with client assertions, under this prefix.
const JTI_PREFIX: &str = "payments-jws:";

pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, path: &[&str]) -> Response {
    let mut audience = None;
    let result = match (path, req.method.as_str()) {
        ([v, "consents"], "POST") if matches!(*v, "v3" | "v4") => create(ctx, req, v, &mut audience).await,
        ([v, "consents", id], "GET") if matches!(*v, "v3" | "v4") => read(ctx, req, v, id, &mut audience).await,
        ([v, "consents"] | [v, "consents", _], _) if matches!(*v, "v3" | "v4") => Err(ApiError::new(405, "METODO_NAO_PERMITIDO", "Método não permitido", format!("{} is not allowed here", req.method))),
        _ => Err(ApiError::new(404, "NAO_ENCONTRADO", "Não encontrado", format!("no endpoint at {}", req.path))),
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            let mut resp = signed(ctx, e.status, e.body(ctx.now), audience.as_deref()).await;
            resp.failure = resp.failure.or(Some(e.failure()));
            resp
        }
    };
    fapi::with_interaction_id(ctx, req, resp)
}

/// A signed (`application/jwt`) response; `body`'s members become claims beside iss/aud/iat/jti.
async fn signed<R: Runtime>(ctx: &Ctx<'_, R>, status: u16, body: Value, aud: Option<&str>) -> Response {
    let mut claims = json!({ "iss": ctx.issuer, "iat": ctx.now, "jti": crypto::random_id(ctx.rt.entropy()) });
    if let Some(a) = aud {
        claims["aud"] = json!(a);
    }
    if let (Some(c), Value::Object(b)) = (claims.as_object_mut(), body) {
        c.extend(b);
    }
    match tokens::sign(ctx, Alg::PS256, Some("JWT"), &claims).await {
        Ok(jwt) => Response::new(status).with_header("content-type", "application/jwt").with_header("cache-control", "no-store").with_body(jwt.into_bytes()),
        Err(e) => {
            let failed = ApiError { cause: e.cause, ..ApiError::new(500, "INTERNAL_SERVER_ERROR", "Erro interno", "the response could not be signed") };
            let mut resp = Response::json_no_store(500, &failed.body(ctx.now));
            resp.failure = Some(failed.failure());
            resp
        }
    }
}

fn forbidden(detail: &str) -> ApiError {
    ApiError::new(403, "INVALID_CLIENT", "Cliente inválido", detail)
}

fn missing(detail: impl Into<String>) -> ApiError {
    ApiError::new(422, "PARAMETRO_NAO_INFORMADO", "Parâmetro não informado", detail)
}

fn malformed(detail: impl Into<String>) -> ApiError {
    ApiError::new(422, "PARAMETRO_INVALIDO", "Parâmetro inválido", detail)
}

/// Verifies a signed request body: PS256 with the client's keys, then iss/aud/iat/jti (the jti is
/// checked by the caller, after the idempotency replay). Returns the claims.
async fn verified_body<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, client_id: &str, endpoint: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    let jws = jws_body(req)?;
    let client = ctx.client(client_id).await.map_err(ApiError::from)?.ok_or_else(|| forbidden("the client no longer exists"))?;
    client_auth::verify_with_client_keys(ctx, &client.client, &jws)
        .await
        .map_err(|e| if e.status >= 500 { ApiError::from(e) } else { bad_signature("the client has no keys to verify the body with") })?
        .map_err(|_| bad_signature("the body's signature does not verify with the client's keys"))?;
    let Value::Object(claims) = jws.claims else { return Err(bad_signature("the body is not a JSON object")) };
    check_claims(&claims, client_id, &ctx.issuer, endpoint, ctx.now)?;
    Ok(claims)
}

fn bad_signature(detail: &str) -> ApiError {
    ApiError::new(400, "BAD_SIGNATURE", "Assinatura inválida", detail.to_string())
}

/// The request body as a parsed (not yet verified) PS256 JWS: 415 for another content type, 400
/// `BAD_SIGNATURE` for anything else that is not one.
pub(crate) fn jws_body(req: &Request) -> Result<jose::Jws, ApiError> {
    if req.content_type() != "application/jwt" {
        return Err(ApiError::new(415, "FORMATO_NAO_SUPORTADO", "Formato não suportado", "the body must be a JWS (application/jwt)"));
    }
    let text = std::str::from_utf8(&req.body).map_err(|_| bad_signature("the body is not a JWS"))?.trim();
    let jws = jose::parse_jws(text).map_err(|_| bad_signature("the body is not a JWS"))?;
    if jws.alg() != Some(Alg::PS256) {
        return Err(bad_signature("the body must be signed with PS256"));
    }
    Ok(jws)
}

/// The claims of a verified body: `iss` the client, `aud` the issuer or the endpoint, `iat` within
/// [`IAT_WINDOW`] of `now`, a `jti` (whose reuse the caller checks).
pub(crate) fn check_claims(claims: &serde_json::Map<String, Value>, client_id: &str, issuer: &str, endpoint: &str, now: i64) -> Result<(), ApiError> {
    if claims.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err(forbidden("the body's iss must be the client_id"));
    }
    let aud_ok = |a: &str| a == issuer || a == endpoint;
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => aud_ok(a),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(aud_ok),
        _ => false,
    };
    if !aud {
        return Err(forbidden("the body's aud must be the issuer"));
    }
    match claims.get("iat").and_then(Value::as_i64) {
        // `abs_diff`: `iat - now` overflows for an `iat` near i64::MIN (a panic in debug builds; in
        // release, `iat = i64::MIN + now` made the difference i64::MIN, whose `abs()` is negative).
        Some(iat) if iat.abs_diff(now) <= IAT_WINDOW.unsigned_abs() => {}
        _ => return Err(forbidden("the body's iat must be within 60 seconds of now")),
    }
    match claims.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= 256 => {}
        _ => return Err(forbidden("the body needs a jti")),
    }
    Ok(())
}

fn digits(v: Option<&Value>, what: &str, lens: &[usize]) -> Result<String, ApiError> {
    let s = v.and_then(Value::as_str).ok_or_else(|| missing(format!("{what} is missing")))?;
    if !lens.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("{what} must have {} digits", lens.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(" or "))));
    }
    Ok(s.to_string())
}

/// `^\d{1,16}\.\d{2}$` and more than zero.
pub fn valid_amount(a: &str) -> bool {
    let Some((int, frac)) = a.split_once('.') else { return false };
    (1..=16).contains(&int.len()) && frac.len() == 2 && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) && a.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// A payment date `YYYY-MM-DD`, as days since the epoch.
fn parse_date(s: &str) -> Option<i64> {
    if s.len() != 10 {
        return None;
    }
    crate::time::parse_rfc3339(&format!("{s}T00:00:00Z")).map(|t| t.div_euclid(86400))
}

/// The checks of the specification's POST /consents on `data` (no customer data is checked: that
/// happens at the bank when the payment is made).
pub(crate) fn check_payment(data: &Value, now: i64) -> Result<(), ApiError> {
    digits(data.pointer("/loggedUser/document/identification"), "data.loggedUser.document.identification", &[11])?;
    if data.get("businessEntity").is_some() {
        digits(data.pointer("/businessEntity/document/identification"), "data.businessEntity.document.identification", &[14])?;
    }
    let creditor = data.get("creditor").filter(|c| c.is_object()).ok_or_else(|| missing("data.creditor is missing"))?;
    let person = creditor.get("personType").and_then(Value::as_str).ok_or_else(|| missing("data.creditor.personType is missing"))?;
    let len = match person {
        "PESSOA_NATURAL" => 11,
        "PESSOA_JURIDICA" => 14,
        _ => return Err(malformed("data.creditor.personType must be PESSOA_NATURAL or PESSOA_JURIDICA")),
    };
    digits(creditor.get("cpfCnpj"), "data.creditor.cpfCnpj", &[len])?;
    match creditor.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() && n.len() <= 140 => {}
        _ => return Err(missing("data.creditor.name is missing")),
    }
    let payment = data.get("payment").filter(|p| p.is_object()).ok_or_else(|| missing("data.payment is missing"))?;
    match payment.get("type").and_then(Value::as_str) {
        Some("PIX") => {}
        Some(other) => return Err(ApiError::unprocessable("FORMA_PAGAMENTO_INVALIDA", format!("payment type '{other}' is not supported (PIX only)"))),
        None => return Err(missing("data.payment.type is missing")),
    }
    if payment.get("currency").and_then(Value::as_str) != Some("BRL") {
        return Err(malformed("data.payment.currency must be BRL"));
    }
    match payment.get("amount").and_then(Value::as_str) {
        Some(a) if valid_amount(a) => {}
        Some(_) => return Err(malformed("data.payment.amount must look like 100.00 and be more than zero")),
        None => return Err(missing("data.payment.amount is missing")),
    }
    let today = now.div_euclid(86400);
    match (payment.get("date"), payment.get("schedule")) {
        (Some(_), Some(_)) => return Err(malformed("data.payment has both date and schedule")),
        (Some(d), None) => {
            let day = d.as_str().and_then(parse_date).ok_or_else(|| malformed("data.payment.date must be YYYY-MM-DD"))?;
            // Brasília is UTC-3: one day of leeway either side of the server's UTC day.
            if day < today - 1 || day > today + 1 {
                return Err(ApiError::unprocessable("DATA_PAGAMENTO_INVALIDA", "an immediate payment's date must be today"));
            }
        }
        (None, Some(s)) => {
            let date = s.pointer("/single/date").and_then(Value::as_str).ok_or_else(|| ApiError::unprocessable("DETALHE_PAGAMENTO_INVALIDO", "only schedule.single is supported"))?;
            let day = parse_date(date).ok_or_else(|| malformed("data.payment.schedule.single.date must be YYYY-MM-DD"))?;
            if day <= today || day > today + 730 {
                return Err(ApiError::unprocessable("DATA_PAGAMENTO_INVALIDA", "a scheduled payment's date must lie between tomorrow and two years ahead"));
            }
        }
        (None, None) => return Err(missing("data.payment.date or data.payment.schedule is missing")),
    }
    let details = payment.get("details").filter(|d| d.is_object()).ok_or_else(|| missing("data.payment.details is missing"))?;
    match details.get("localInstrument").and_then(Value::as_str) {
        Some("MANU" | "DICT" | "QRDN" | "QRES" | "INIC") => {}
        Some(other) => return Err(ApiError::unprocessable("FORMA_PAGAMENTO_INVALIDA", format!("localInstrument '{other}' is not supported"))),
        None => return Err(missing("data.payment.details.localInstrument is missing")),
    }
    let account = details.get("creditorAccount").filter(|a| a.is_object()).ok_or_else(|| missing("data.payment.details.creditorAccount is missing"))?;
    digits(account.get("ispb"), "data.payment.details.creditorAccount.ispb", &[8])?;
    match account.get("accountType").and_then(Value::as_str) {
        Some("CACC" | "SVGS" | "TRAN" | "SLRY") => {}
        _ => return Err(malformed("data.payment.details.creditorAccount.accountType must be CACC, SVGS, TRAN or SLRY")),
    }
    match account.get("number").and_then(Value::as_str) {
        Some(n) if (1..=20).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => return Err(malformed("data.payment.details.creditorAccount.number must be 1 to 20 digits")),
    }
    Ok(())
}

/// The TPP's client_credentials token with the `payments` scope.
async fn tpp<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<String, ApiError> {
    consents::tpp_with_scope(ctx, req, PAYMENTS_SCOPE).await
}

async fn create<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str, audience: &mut Option<String>) -> Result<Response, ApiError> {
    let client_id = tpp(ctx, req).await?;
    *audience = Some(client_id.clone());
    let endpoint = format!("{}/open-banking/payments/{version}/consents", ctx.issuer);
    let claims = verified_body(ctx, req, &client_id, &endpoint).await?;
    let key = match req.header("x-idempotency-key").map(str::trim) {
        Some(k) if !k.is_empty() && k.len() <= 40 && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_string(),
        Some(_) => return Err(malformed("x-idempotency-key must be 1 to 40 visible characters")),
        None => return Err(missing("x-idempotency-key is required")),
    };
    let data = claims.get("data").filter(|d| d.is_object()).ok_or_else(|| missing("data is missing"))?;
    let request_hash = crypto::sha256_b64url(data.to_string().as_bytes());
    // A retry with the key: the consent it made (a retry is re-signed, so its jti is new or the same).
    if let Some(r) = replay(ctx, &client_id, &key, &request_hash, version).await? {
        return Ok(r);
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    if !store::use_jti(ctx.db(), &ctx.tenant, &ctx.workspace, &client_id, &format!("{JTI_PREFIX}{jti}"), ctx.now + REPLAY_WINDOW).await.map_err(ApiError::storage)? {
        return Err(forbidden("the body's jti was already used"));
    }
    check_payment(data, ctx.now)?;
    let c = ObConsent {
        id: format!("urn:edgeauth:{}", fapi::uuid_v4(&crypto::random_bytes(ctx.rt.entropy(), 16))),
        client_id: client_id.clone(),
        kind: KIND_PAYMENT.into(),
        status: AWAITING.into(),
        document: data.clone(),
        user_id: None,
        rejection: None,
        created_at: ctx.now,
        status_updated_at: ctx.now,
        expires_at: Some(ctx.now + PAYMENT_AWAITING_TTL),
    };
    if !cstore::insert_idempotent(ctx.db(), &ctx.tenant, &ctx.workspace, &c, cstore::IdempotencyClaim { key: &key, request_hash: &request_hash, expires_at: ctx.now + REPLAY_WINDOW }, ctx.now).await.map_err(ApiError::storage)? {
        // A concurrent request with the same key won: answer as its retry.
        return match replay(ctx, &client_id, &key, &request_hash, version).await? {
            Some(r) => Ok(r),
            None => Err(ApiError::unprocessable("ERRO_IDEMPOTENCIA", "the idempotency key is in use")),
        };
    }
    Ok(signed(ctx, 201, representation(ctx, version, &c), Some(&client_id)).await)
}

async fn replay<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str, key: &str, request_hash: &str, version: &str) -> Result<Option<Response>, ApiError> {
    let Some((hash, consent_id)) = cstore::idempotent(ctx.db(), &ctx.tenant, &ctx.workspace, client_id, key, ctx.now).await.map_err(ApiError::storage)? else { return Ok(None) };
    if !crypto::constant_time_eq(hash.as_bytes(), request_hash.as_bytes()) {
        return Err(ApiError::unprocessable("ERRO_IDEMPOTENCIA", "the idempotency key was used with another payload"));
    }
    let c = consents::current(ctx, &consent_id).await.map_err(ApiError::from)?.ok_or_else(|| ApiError::unprocessable("ERRO_IDEMPOTENCIA", "the idempotency key is in use"))?;
    Ok(Some(signed(ctx, 201, representation(ctx, version, &c), Some(client_id)).await))
}

/// The payment consent as the API shows it: what the TPP sent, plus id, status and dates.
pub fn representation<R: Runtime>(ctx: &Ctx<'_, R>, version: &str, c: &ObConsent) -> Value {
    let mut data = c.document.clone();
    data["consentId"] = json!(c.id);
    data["creationDateTime"] = json!(format_rfc3339(c.created_at));
    data["expirationDateTime"] = json!(format_rfc3339(c.expires_at.unwrap_or(c.created_at + PAYMENT_AWAITING_TTL)));
    data["status"] = json!(c.status);
    data["statusUpdateDateTime"] = json!(format_rfc3339(c.status_updated_at));
    if let Some(r) = &c.rejection {
        data["rejectionReason"] = r.clone();
    }
    json!({
        "data": data,
        "links": { "self": format!("{}/open-banking/payments/{version}/consents/{}", ctx.issuer, c.id) },
        "meta": consents::meta(ctx.now),
    })
}

async fn read<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str, raw_id: &str, audience: &mut Option<String>) -> Result<Response, ApiError> {
    let client_id = tpp(ctx, req).await?;
    *audience = Some(client_id.clone());
    let id = percent_decode(raw_id).unwrap_or_default();
    let c = consents::current(ctx, &id).await.map_err(ApiError::from)?.filter(|c| c.client_id == client_id && c.kind == KIND_PAYMENT).ok_or_else(ApiError::not_found)?;
    Ok(signed(ctx, 200, representation(ctx, version, &c), Some(&client_id)).await)
}

/// Whether a status is one a payment consent can still be authorised or used from.
pub fn live(status: &str) -> bool {
    matches!(status, AWAITING | consents::PARTIALLY_ACCEPTED | AUTHORISED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert!(valid_amount("100.00"));
        assert!(valid_amount("0.01"));
        assert!(!valid_amount("0.00"));
        assert!(!valid_amount("100"));
        assert!(!valid_amount("100.0"));
        assert!(!valid_amount("-1.00"));
        assert!(!valid_amount("12345678901234567.00"));
    }

    #[test]
    fn iat_far_from_now_is_refused_without_overflow() {
        // Found by review and confirmed with the payments fuzz target's check_claims (the input is
        // fuzz/seeds/payments/iat-min): `(iat - now).abs()` overflowed.
        let now = 1_750_000_000;
        let claims = |iat: i64| json!({ "iss": "tpp", "aud": "https://as.example/t/w", "iat": iat, "jti": "j" }).as_object().cloned().unwrap();
        let check = |iat: i64| check_claims(&claims(iat), "tpp", "https://as.example/t/w", "https://as.example/t/w/x", now).map_err(|e| e.code);
        assert_eq!(check(now - IAT_WINDOW), Ok(()));
        assert_eq!(check(now + IAT_WINDOW), Ok(()));
        for iat in [now + IAT_WINDOW + 1, now - IAT_WINDOW - 1, i64::MIN, i64::MIN + now, i64::MAX, 0] {
            assert_eq!(check(iat), Err("INVALID_CLIENT"), "{iat}");
        }
    }

    #[test]
    fn payment_checks() {
        let now = 1_700_000_000;
        let today = crate::time::format_rfc3339(now)[..10].to_string();
        let good = json!({
            "loggedUser": { "document": { "identification": "12345678901", "rel": "CPF" } },
            "creditor": { "personType": "PESSOA_NATURAL", "cpfCnpj": "98765432100", "name": "Loja" },
            "payment": { "type": "PIX", "date": today, "currency": "BRL", "amount": "10.00",
                "details": { "localInstrument": "DICT", "creditorAccount": { "ispb": "12345678", "number": "1234", "accountType": "CACC" } } },
        });
        assert!(check_payment(&good, now).is_ok());
        let mut bad = good.clone();
        bad["payment"]["type"] = json!("TED");
        assert_eq!(check_payment(&bad, now).unwrap_err().code, "FORMA_PAGAMENTO_INVALIDA");
        let mut bad = good.clone();
        bad["payment"]["date"] = json!("2001-01-01");
        assert_eq!(check_payment(&bad, now).unwrap_err().code, "DATA_PAGAMENTO_INVALIDA");
        let mut bad = good.clone();
        bad["creditor"]["cpfCnpj"] = json!("123");
        assert_eq!(check_payment(&bad, now).unwrap_err().code, "PARAMETRO_INVALIDO");
        let mut bad = good;
        bad.as_object_mut().unwrap().remove("creditor");
        assert_eq!(check_payment(&bad, now).unwrap_err().code, "PARAMETRO_NAO_INFORMADO");
    }
}
