//! Open Finance Brasil data consents (the consents API, v2/v3 shapes), only on workspaces with the
//! `fapi_br` profile, under `/{tenant}/{workspace}/open-banking/consents/{v2|v3}/consents`.
//!
//! A TPP creates a consent with a client_credentials token carrying the `consents` scope; the user
//! authorises it through the authorization endpoint with the scope `consent:{consentId}`; the
//! tokens of that authorization are bound to it (the grant is linked; introspection reports it;
//! refresh works only while it is AUTHORISED; deleting it revokes them). Time-based transitions
//! (60 minutes to authorise, the expiration date) are evaluated lazily whenever a consent is read,
//! with the runtime's clock, and written back with a conditional update.

use crate::error::{Cause, OAuthError};
use crate::http::{percent_decode, Failure, Request, Response};
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store::consents::{self as cstore, ObConsent, Transition};
use crate::open_finance::fapi;
use crate::{crypto, tokens};
use serde_json::{json, Value};

pub const AWAITING: &str = "AWAITING_AUTHORISATION";
pub const AUTHORISED: &str = "AUTHORISED";
pub const REJECTED: &str = "REJECTED";
/// Payment consents only: a multi-approver consent some approvers accepted (not yet usable).
pub const PARTIALLY_ACCEPTED: &str = "PARTIALLY_ACCEPTED";
/// Payment consents only: the payment was made; no more tokens.
pub const CONSUMED: &str = "CONSUMED";
pub const KIND_DATA: &str = "data";
pub const KIND_PAYMENT: &str = "payment";
/// How long a consent may wait for the user before it is REJECTED (CONSENT_EXPIRED).
pub const AWAITING_TTL: i64 = 3600;
/// A payment consent's `expirationDateTime`: 5 minutes to authorise it (TEMPO_EXPIRADO_AUTORIZACAO).
pub const PAYMENT_AWAITING_TTL: i64 = 300;
/// An AUTHORISED payment consent must be consumed within 60 minutes (TEMPO_EXPIRADO_CONSUMO).
pub const PAYMENT_CONSUME_TTL: i64 = 3600;
/// The indefinite expirationDateTime of the consents API (`2300-01-01T00:00:00Z`).
pub const INDEFINITE: i64 = 10_413_792_000;
/// The longest expirationDateTime accepted: one year ahead.
pub const MAX_EXPIRATION: i64 = 365 * 86400;
pub const SCOPE_PREFIX: &str = "consent:";
/// The scope a TPP's client_credentials token needs for the consents API.
pub const CONSENTS_SCOPE: &str = "consents";
/// The scope of the payments API (payment consents).
pub const PAYMENTS_SCOPE: &str = "payments";

/// The permission groups of the consents API: a request must be a union of whole groups.
pub const PERMISSION_GROUPS: &[&[&str]] = &[
    &["CUSTOMERS_PERSONAL_IDENTIFICATIONS_READ", "RESOURCES_READ"],
    &["CUSTOMERS_PERSONAL_ADITTIONALINFO_READ", "RESOURCES_READ"],
    &["CUSTOMERS_BUSINESS_IDENTIFICATIONS_READ", "RESOURCES_READ"],
    &["CUSTOMERS_BUSINESS_ADITTIONALINFO_READ", "RESOURCES_READ"],
    &["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"],
    &["ACCOUNTS_READ", "ACCOUNTS_OVERDRAFT_LIMITS_READ", "RESOURCES_READ"],
    &["ACCOUNTS_READ", "ACCOUNTS_TRANSACTIONS_READ", "RESOURCES_READ"],
    &["CREDIT_CARDS_ACCOUNTS_READ", "CREDIT_CARDS_ACCOUNTS_LIMITS_READ", "RESOURCES_READ"],
    &["CREDIT_CARDS_ACCOUNTS_READ", "CREDIT_CARDS_ACCOUNTS_TRANSACTIONS_READ", "RESOURCES_READ"],
    &["CREDIT_CARDS_ACCOUNTS_READ", "CREDIT_CARDS_ACCOUNTS_BILLS_READ", "CREDIT_CARDS_ACCOUNTS_BILLS_TRANSACTIONS_READ", "RESOURCES_READ"],
    &[
        "LOANS_READ", "LOANS_WARRANTIES_READ", "LOANS_SCHEDULED_INSTALMENTS_READ", "LOANS_PAYMENTS_READ",
        "FINANCINGS_READ", "FINANCINGS_WARRANTIES_READ", "FINANCINGS_SCHEDULED_INSTALMENTS_READ", "FINANCINGS_PAYMENTS_READ",
        "UNARRANGED_ACCOUNTS_OVERDRAFT_READ", "UNARRANGED_ACCOUNTS_OVERDRAFT_WARRANTIES_READ", "UNARRANGED_ACCOUNTS_OVERDRAFT_SCHEDULED_INSTALMENTS_READ", "UNARRANGED_ACCOUNTS_OVERDRAFT_PAYMENTS_READ",
        "INVOICE_FINANCINGS_READ", "INVOICE_FINANCINGS_WARRANTIES_READ", "INVOICE_FINANCINGS_SCHEDULED_INSTALMENTS_READ", "INVOICE_FINANCINGS_PAYMENTS_READ",
        "RESOURCES_READ",
    ],
    &["BANK_FIXED_INCOMES_READ", "CREDIT_FIXED_INCOMES_READ", "FUNDS_READ", "VARIABLE_INCOMES_READ", "TREASURE_TITLES_READ", "RESOURCES_READ"],
    &["EXCHANGES_READ", "RESOURCES_READ"],
];

/// An error of the consents API, in the Open Finance shape `{errors: [{code, title, detail}], meta}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Our own failure's cause: logged, never rendered.
    pub cause: Option<Cause>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, title, detail: detail.into(), cause: None }
    }
    pub fn invalid(detail: impl Into<String>) -> ApiError {
        ApiError::new(400, "PARAMETRO_INVALIDO", "Parâmetro inválido", detail)
    }
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(422, code, "Requisição não processável", detail)
    }
    pub fn not_found() -> ApiError {
        ApiError::new(404, "NAO_ENCONTRADO", "Não encontrado", "no such consent")
    }
    pub fn storage(e: crate::runtime::StoreError) -> ApiError {
        ApiError::from(OAuthError::from(e))
    }
    pub fn body(&self, now: i64) -> Value {
        json!({ "errors": [{ "code": self.code, "title": self.title, "detail": self.detail }], "meta": meta(now) })
    }
    /// What the adapter logs of this error.
    pub fn failure(&self) -> Box<Failure> {
        Box::new(Failure { status: self.status, kind: self.code, description: self.detail.clone(), cause: self.cause.as_ref().map(|c| c.to_string()), ..Failure::default() })
    }
    fn into_response(self, now: i64) -> Response {
        let mut resp = Response::json_no_store(self.status, &self.body(now));
        resp.failure = Some(self.failure());
        resp
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e.status {
            401 => ApiError::new(401, "UNAUTHORIZED", "Não autorizado", e.description),
            403 => ApiError::new(403, "FORBIDDEN", "Proibido", e.description),
            s if s >= 500 => ApiError { cause: e.cause, ..ApiError::new(500, "INTERNAL_SERVER_ERROR", "Erro interno", "the server could not complete the request") },
            _ => ApiError::invalid(e.description),
        }
    }
}

pub fn meta(now: i64) -> Value {
    json!({ "totalRecords": 1, "totalPages": 1, "requestDateTime": format_rfc3339(now) })
}

/// The consent a scope string is bound to (`consent:{id}`), if any.
pub fn consent_id_in(scope: &str) -> Option<&str> {
    scope.split_whitespace().find_map(|s| s.strip_prefix(SCOPE_PREFIX))
}

/// Whether an id has the shape of the consent ids this server hands out.
pub fn plausible_id(id: &str) -> bool {
    id.starts_with("urn:") && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A requested permission list is valid when every permission is known and lies in some group
/// requested whole. Returns the de-duplicated list in request order.
pub fn check_permissions(requested: &[String]) -> Result<Vec<String>, ApiError> {
    let mut perms: Vec<String> = Vec::new();
    for p in requested {
        if !PERMISSION_GROUPS.iter().any(|g| g.contains(&p.as_str())) {
            return Err(ApiError::invalid(format!("unknown permission '{p}'")));
        }
        if !perms.contains(p) {
            perms.push(p.clone());
        }
    }
    if perms.is_empty() {
        return Err(ApiError::invalid("permissions must not be empty"));
    }
    let whole: Vec<&&[&str]> = PERMISSION_GROUPS.iter().filter(|g| g.iter().all(|p| perms.iter().any(|x| x == p))).collect();
    if let Some(loose) = perms.iter().find(|p| !whole.iter().any(|g| g.contains(&p.as_str()))) {
        return Err(ApiError::unprocessable("COMBINACAO_PERMISSOES_INCORRETA", format!("'{loose}' must be requested with the rest of its permission group")));
    }
    let personal = perms.iter().any(|p| p.starts_with("CUSTOMERS_PERSONAL_"));
    let business = perms.iter().any(|p| p.starts_with("CUSTOMERS_BUSINESS_"));
    if personal && business {
        return Err(ApiError::unprocessable("PERMISSAO_PF_PJ_EM_CONJUNTO", "personal and business customer permissions cannot be requested together"));
    }
    Ok(perms)
}

pub fn rejection(by: &str, code: &str) -> Value {
    json!({ "rejectedBy": by, "reason": { "code": code } })
}

/// Loads a consent with its time-based transitions applied and written back: AWAITING_AUTHORISATION
/// for 60 minutes becomes REJECTED (ASPSP, CONSENT_EXPIRED); AUTHORISED past its expirationDateTime
/// becomes REJECTED (ASPSP, CONSENT_MAX_DATE_REACHED) and its grants are revoked.
pub async fn current<R: Runtime>(ctx: &Ctx<'_, R>, id: &str) -> Result<Option<ObConsent>, OAuthError> {
    if !plausible_id(id) {
        return Ok(None);
    }
    let Some(c) = cstore::get(ctx.db(), &ctx.tenant, &ctx.workspace, id).await? else { return Ok(None) };
    settle(ctx, c).await
}

/// What a payment consent's rejection holds: the `rejectionReason` of the payments API.
pub fn payment_rejection(code: &str, detail: &str) -> Value {
    json!({ "code": code, "detail": detail })
}

/// Applies a loaded consent's due time-based transition (see [`current`]). Payment consents:
/// AWAITING_AUTHORISATION or PARTIALLY_ACCEPTED past `expirationDateTime` (5 minutes) becomes
/// REJECTED (TEMPO_EXPIRADO_AUTORIZACAO); AUTHORISED and not consumed within 60 minutes becomes
/// REJECTED (TEMPO_EXPIRADO_CONSUMO) and its grants are revoked.
pub async fn settle<R: Runtime>(ctx: &Ctx<'_, R>, mut c: ObConsent) -> Result<Option<ObConsent>, OAuthError> {
    let id = c.id.clone();
    let id = id.as_str();
    let due = if c.kind == KIND_PAYMENT {
        match c.status.as_str() {
            AWAITING | PARTIALLY_ACCEPTED => c.expires_at.filter(|e| ctx.now >= *e).map(|e| (e, payment_rejection("TEMPO_EXPIRADO_AUTORIZACAO", "O usuário não confirmou o consentimento a tempo"))),
            AUTHORISED if ctx.now >= c.status_updated_at + PAYMENT_CONSUME_TTL => {
                Some((c.status_updated_at + PAYMENT_CONSUME_TTL, payment_rejection("TEMPO_EXPIRADO_CONSUMO", "O consentimento não foi consumido a tempo")))
            }
            _ => None,
        }
    } else {
        match c.status.as_str() {
            AWAITING if ctx.now >= c.created_at + AWAITING_TTL => Some((c.created_at + AWAITING_TTL, rejection("ASPSP", "CONSENT_EXPIRED"))),
            AUTHORISED => c.expires_at.filter(|e| ctx.now >= *e).map(|e| (e, rejection("ASPSP", "CONSENT_MAX_DATE_REACHED"))),
            _ => None,
        }
    };
    if let Some((at, r)) = due {
        let from = c.status.clone();
        if cstore::transition(ctx.db(), &ctx.tenant, &ctx.workspace, id, Transition { from: &from, to: REJECTED, rejection: Some(r.clone()), user_id: None, at }).await? {
            if from == AUTHORISED {
                cstore::revoke_grants(ctx.db(), id, ctx.now).await?;
            }
            c.status = REJECTED.into();
            c.rejection = Some(r);
            c.status_updated_at = at;
        } else {
            // Another request changed it first: read what it wrote.
            return Ok(cstore::get(ctx.db(), &ctx.tenant, &ctx.workspace, id).await?);
        }
    }
    Ok(Some(c))
}

/// The detail of a payment consent the customer rejected (or revoked at the bank).
pub const USER_REJECTED_DETAIL: &str = "O usuário rejeitou a autorização do consentimento";

/// The bank's own reasons to reject or revoke a consent (`rejectedBy: ASPSP`, given to the bank-side
/// revocation in `management/open_banking.rs`): the data consent's `reason.code`, the payment
/// consent's `rejectionReason.code` for it (the payments API v3/v4 has no code of its own for a
/// security rejection: NAO_INFORMADO covers "ex. suspeita de fraude"), and the payment detail used
/// when the bank gives no `additionalInformation`.
pub const ASPSP_REASONS: &[(&str, &str, &str)] = &[
    ("CONSENT_TECHNICAL_ISSUE", "FALHA_INFRAESTRUTURA", "Uma falha de infraestrutura na detentora de conta inviabilizou o processamento"),
    ("INTERNAL_SECURITY_REASON", "NAO_INFORMADO", "Não informada pela detentora de conta"),
];

/// The CPF a consent was created for (`loggedUser.document.identification`).
pub fn logged_user_cpf(c: &ObConsent) -> Option<&str> {
    c.document.pointer("/loggedUser/document/identification").and_then(Value::as_str)
}

/// What the consent page lists: the permissions of a data consent; for a payment consent, the payment.
pub fn permissions(c: &ObConsent) -> Vec<String> {
    if c.kind == KIND_PAYMENT {
        let s = |p: &str| c.document.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        return vec![format!("PAYMENT {} {} {} → {}", s("/payment/type"), s("/payment/currency"), s("/payment/amount"), s("/creditor/name"))];
    }
    c.document.get("permissions").and_then(Value::as_array).map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// The user's decision on the consent page: AUTHORISED (bound to the user) or REJECTED by the user.
/// `Ok(false)` when the consent was no longer awaiting authorisation.
pub async fn decide<R: Runtime>(ctx: &Ctx<'_, R>, id: &str, user_id: &str, allow: bool) -> Result<bool, OAuthError> {
    let payment = cstore::get(ctx.db(), &ctx.tenant, &ctx.workspace, id).await?.is_some_and(|c| c.kind == KIND_PAYMENT);
    let refusal = if payment { payment_rejection("REJEITADO_USUARIO", USER_REJECTED_DETAIL) } else { rejection("USER", "CUSTOMER_MANUALLY_REJECTED") };
    let t = if allow {
        Transition { from: AWAITING, to: AUTHORISED, rejection: None, user_id: Some(user_id), at: ctx.now }
    } else {
        Transition { from: AWAITING, to: REJECTED, rejection: Some(refusal), user_id: Some(user_id), at: ctx.now }
    };
    Ok(cstore::transition(ctx.db(), &ctx.tenant, &ctx.workspace, id, t).await?)
}

/// Whether tokens bound to `scope`'s consent (if any) may still be issued or honoured.
pub async fn scope_usable<R: Runtime>(ctx: &Ctx<'_, R>, scope: &str) -> Result<bool, OAuthError> {
    match consent_id_in(scope) {
        None => Ok(true),
        Some(id) => Ok(current(ctx, id).await?.is_some_and(|c| c.status == AUTHORISED)),
    }
}

// ---------------------------------------------------------------------------------------------
// The consents API

/// `path` is what follows `open-banking/consents/`: `{v2|v3}/consents[/{consentId}]`.
pub async fn handle<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, path: &[&str]) -> Response {
    let result = match (path, req.method.as_str()) {
        ([v, "consents"], "POST") if matches!(*v, "v2" | "v3") => create(ctx, req, v).await,
        ([v, "consents", id], "GET") if matches!(*v, "v2" | "v3") => read(ctx, req, v, id).await,
        ([v, "consents", id], "DELETE") if matches!(*v, "v2" | "v3") => delete(ctx, req, id).await,
        ([v, "consents", id, "extends"], "POST") if matches!(*v, "v2" | "v3") => extend(ctx, req, v, id).await,
        ([v, "consents", id, "extensions"], "GET") if matches!(*v, "v2" | "v3") => extensions(ctx, req, v, id).await,
        ([v, "consents"] | [v, "consents", _] | [v, "consents", _, "extends" | "extensions"], _) if matches!(*v, "v2" | "v3") => Err(ApiError::new(405, "METODO_NAO_PERMITIDO", "Método não permitido", format!("{} is not allowed here", req.method))),
        _ => Err(ApiError::new(404, "NAO_ENCONTRADO", "Não encontrado", format!("no endpoint at {}", req.path))),
    };
    let resp = result.unwrap_or_else(|e| e.into_response(ctx.now));
    fapi::with_interaction_id(ctx, req, resp)
}

/// The TPP's client_credentials token with the `consents` scope; returns its client_id.
async fn tpp<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<String, ApiError> {
    tpp_with_scope(ctx, req, CONSENTS_SCOPE).await
}

/// A TPP's client_credentials token carrying `scope`; returns its client_id.
pub async fn tpp_with_scope<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, needed: &str) -> Result<String, ApiError> {
    let token = tokens::bearer_token(req).map_err(|_| ApiError::new(401, "UNAUTHORIZED", "Não autorizado", "a Bearer access token is required"))?;
    let claims = tokens::verify_access_token(ctx, &token).await.map_err(|e| if e.status >= 500 { ApiError::from(e) } else { ApiError::new(401, "UNAUTHORIZED", "Não autorizado", e.description) })?;
    if claims.get("gid").is_some() {
        return Err(ApiError::new(403, "FORBIDDEN", "Proibido", "the consents API takes a client_credentials token"));
    }
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if !scope.split_whitespace().any(|s| s == needed) {
        return Err(ApiError::new(403, "FORBIDDEN", "Proibido", format!("the token lacks the {needed} scope")));
    }
    Ok(claims.get("client_id").and_then(Value::as_str).unwrap_or("").to_string())
}

fn document_digits(v: Option<&Value>, rel: &str, len: usize) -> Result<Option<String>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let id = v.pointer("/document/identification").and_then(Value::as_str).ok_or_else(|| ApiError::invalid("document.identification is missing"))?;
    if v.pointer("/document/rel").and_then(Value::as_str) != Some(rel) {
        return Err(ApiError::invalid(format!("document.rel must be {rel}")));
    }
    if id.len() != len || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!("a {rel} has {len} digits")));
    }
    Ok(Some(id.to_string()))
}

fn not_informed(detail: &str) -> ApiError {
    ApiError::new(400, "PARAMETRO_NAO_INFORMADO", "Parâmetro não informado", detail)
}

/// The `data` object of a JSON request body: 415 for another content type, 400 when it is absent.
fn json_data(req: &Request) -> Result<Value, ApiError> {
    if req.content_type() != "application/json" {
        return Err(ApiError::new(415, "FORMATO_NAO_SUPORTADO", "Formato não suportado", "the body must be application/json"));
    }
    let mut body: Value = serde_json::from_slice(&req.body).map_err(|_| ApiError::invalid("the body is not JSON"))?;
    body.get_mut("data").filter(|d| d.is_object()).map(Value::take).ok_or_else(|| not_informed("data is missing"))
}

/// The customer a request names: `loggedUser` (a CPF, required) and `businessEntity` (a CNPJ).
fn customer(data: &Value) -> Result<(String, Option<String>), ApiError> {
    let cpf = document_digits(data.get("loggedUser"), "CPF", 11)?.ok_or_else(|| not_informed("data.loggedUser is missing"))?;
    Ok((cpf, document_digits(data.get("businessEntity"), "CNPJ", 14)?))
}

/// The body of a consent creation, checked: the stored document and the end date.
pub(crate) fn create_body(req: &Request, now: i64) -> Result<(Value, Option<i64>), ApiError> {
    let data = &json_data(req)?;
    let (cpf, cnpj) = customer(data)?;
    let requested: Vec<String> = match data.get("permissions") {
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
        _ => return Err(not_informed("data.permissions must be an array of strings")),
    };
    let perms = check_permissions(&requested)?;
    if cnpj.is_none() && perms.iter().any(|p| p.starts_with("CUSTOMERS_BUSINESS_")) {
        return Err(ApiError::unprocessable("INFORMACOES_PJ_NAO_INFORMADAS", "business permissions need data.businessEntity"));
    }
    let expires_at = match data.get("expirationDateTime") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let at = parse_rfc3339(s).ok_or_else(|| ApiError::invalid("expirationDateTime is not an RFC 3339 date-time"))?;
            if at <= now || at > now + MAX_EXPIRATION {
                return Err(ApiError::unprocessable("DATA_EXPIRACAO_INVALIDA", "expirationDateTime must be in the future and at most one year ahead"));
            }
            Some(at)
        }
        Some(_) => return Err(ApiError::invalid("expirationDateTime must be a string")),
    };
    let mut document = json!({ "permissions": perms, "loggedUser": { "document": { "identification": cpf, "rel": "CPF" } } });
    if let Some(cnpj) = cnpj {
        document["businessEntity"] = json!({ "document": { "identification": cnpj, "rel": "CNPJ" } });
    }
    if let Some(at) = expires_at {
        document["expirationDateTime"] = json!(format_rfc3339(at));
    }
    Ok((document, expires_at))
}

async fn create<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str) -> Result<Response, ApiError> {
    let client_id = tpp(ctx, req).await?;
    let (document, expires_at) = create_body(req, ctx.now)?;
    let c = ObConsent {
        id: format!("urn:edgeauth:{}", fapi::uuid_v4(&crypto::random_bytes(ctx.rt.entropy(), 16))),
        client_id,
        kind: "data".into(),
        status: AWAITING.into(),
        document,
        user_id: None,
        rejection: None,
        created_at: ctx.now,
        status_updated_at: ctx.now,
        expires_at,
    };
    cstore::insert(ctx.db(), &ctx.tenant, &ctx.workspace, &c).await.map_err(|e| ApiError::from(OAuthError::from(e)))?;
    Ok(Response::json_no_store(201, &representation(ctx, version, &c)))
}

/// The consent as the API shows it: `data`, `links.self`, `meta`.
fn representation<R: Runtime>(ctx: &Ctx<'_, R>, version: &str, c: &ObConsent) -> Value {
    let mut data = json!({
        "consentId": c.id,
        "creationDateTime": format_rfc3339(c.created_at),
        "status": c.status,
        "statusUpdateDateTime": format_rfc3339(c.status_updated_at),
        "permissions": permissions(c),
    });
    if let Some(e) = c.expires_at {
        data["expirationDateTime"] = json!(format_rfc3339(e));
    }
    if let Some(r) = &c.rejection {
        data["rejection"] = r.clone();
    }
    json!({
        "data": data,
        "links": { "self": format!("{}/open-banking/consents/{version}/consents/{}", ctx.issuer, c.id) },
        "meta": meta(ctx.now),
    })
}

/// The TPP's own consent, or 404 (another TPP's consent does not exist for it).
async fn owned<R: Runtime>(ctx: &Ctx<'_, R>, client_id: &str, raw_id: &str) -> Result<ObConsent, ApiError> {
    let id = percent_decode(raw_id).unwrap_or_default();
    let not_found = || ApiError::new(404, "NAO_ENCONTRADO", "Não encontrado", "no such consent");
    let c = current(ctx, &id).await.map_err(ApiError::from)?.ok_or_else(not_found)?;
    if c.client_id != client_id || c.kind != "data" {
        return Err(not_found());
    }
    Ok(c)
}

async fn read<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str, id: &str) -> Result<Response, ApiError> {
    let client_id = tpp(ctx, req).await?;
    let c = owned(ctx, &client_id, id).await?;
    Ok(Response::json_no_store(200, &representation(ctx, version, &c)))
}

/// The body of an extension: the customer (CPF, CNPJ) and the new end (`None`: no end date).
pub(crate) fn extension_body(req: &Request) -> Result<(String, Option<String>, Option<i64>), ApiError> {
    let data = &json_data(req)?;
    let (cpf, cnpj) = customer(data)?;
    let new_end = match data.get("expirationDateTime") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_rfc3339(s).ok_or_else(|| ApiError::invalid("expirationDateTime is not an RFC 3339 date-time"))?).filter(|at| *at != INDEFINITE),
        Some(_) => return Err(ApiError::invalid("expirationDateTime must be a string")),
    };
    Ok((cpf, cnpj, new_end))
}

/// The customer's extension of an AUTHORISED consent, made through the TPP with the access token of
/// the consent's own authorization (authorization_code grant, scope `consent:{consentId}`).
/// `x-customer-user-agent` and `x-customer-ip-address` are required; `data.loggedUser` must be the
/// consent's customer (403 otherwise); the new `expirationDateTime` must lie after the current end
/// and at most 12 months ahead, or be absent / `2300-01-01T00:00:00Z` (no end date).
async fn extend<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str, raw_id: &str) -> Result<Response, ApiError> {
    let token = tokens::bearer_token(req).map_err(|_| ApiError::new(401, "UNAUTHORIZED", "Não autorizado", "a Bearer access token is required"))?;
    let claims = tokens::verify_access_token(ctx, &token).await.map_err(|e| if e.status >= 500 { ApiError::from(e) } else { ApiError::new(401, "UNAUTHORIZED", "Não autorizado", e.description) })?;
    let id = percent_decode(raw_id).unwrap_or_default();
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if claims.get("gid").is_none() || consent_id_in(scope) != Some(id.as_str()) {
        return Err(ApiError::new(403, "FORBIDDEN", "Proibido", "extending takes the access token of this consent's authorization"));
    }
    let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or("");
    let mut c = owned(ctx, client_id, raw_id).await?;
    let header = |n: &str| req.header(n).map(str::trim).filter(|v| !v.is_empty() && v.len() <= 512).map(str::to_string);
    let (Some(agent), Some(ip)) = (header("x-customer-user-agent"), header("x-customer-ip-address")) else {
        return Err(not_informed("x-customer-user-agent and x-customer-ip-address are required"));
    };
    let (cpf, cnpj, new_end) = extension_body(req)?;
    if logged_user_cpf(&c) != Some(cpf.as_str()) || (cnpj.is_some() && c.document.pointer("/businessEntity/document/identification").and_then(Value::as_str) != cnpj.as_deref()) {
        return Err(ApiError::new(403, "FORBIDDEN", "Proibido", "only the consent's customer may extend it"));
    }
    if c.status != AUTHORISED {
        return Err(ApiError::unprocessable("ESTADO_CONSENTIMENTO_INVALIDO", format!("the consent is {}", c.status)));
    }
    let later = match (new_end, c.expires_at) {
        (None, None) => false,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(n), Some(old)) => n > old,
    };
    if !later || new_end.is_some_and(|n| n <= ctx.now || n > ctx.now + MAX_EXPIRATION) {
        return Err(ApiError::unprocessable("DATA_EXPIRACAO_INVALIDA", "the new expirationDateTime must lie after the current one and at most 12 months ahead, or be indefinite"));
    }
    let record = json!({ "loggedUser": { "document": { "identification": cpf, "rel": "CPF" } }, "xCustomerUserAgent": agent, "xFapiCustomerIpAddress": ip });
    let previous = c.clone();
    match new_end {
        Some(at) => c.document["expirationDateTime"] = json!(format_rfc3339(at)),
        None => {
            if let Some(d) = c.document.as_object_mut() {
                d.remove("expirationDateTime");
            }
        }
    }
    let mut moved = previous.clone();
    moved.document = c.document.clone();
    if !cstore::extend(ctx.db(), &ctx.tenant, &ctx.workspace, &ObConsent { expires_at: previous.expires_at, ..moved }, new_end, ctx.now, &record).await.map_err(ApiError::storage)? {
        return Err(ApiError::unprocessable("ESTADO_CONSENTIMENTO_INVALIDO", "the consent changed meanwhile"));
    }
    c.expires_at = new_end;
    Ok(Response::json_no_store(201, &representation(ctx, version, &c)))
}

/// The extensions of the TPP's own consent, newest first (client_credentials, `consents` scope).
async fn extensions<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, version: &str, raw_id: &str) -> Result<Response, ApiError> {
    let client_id = tpp(ctx, req).await?;
    let c = owned(ctx, &client_id, raw_id).await?;
    let list = cstore::extensions(ctx.db(), &c.id).await.map_err(ApiError::storage)?;
    let data: Vec<Value> = list
        .iter()
        .map(|e| {
            let mut d = e.document.clone();
            d["requestDateTime"] = json!(format_rfc3339(e.requested_at));
            d["expirationDateTime"] = json!(format_rfc3339(e.expires_at.unwrap_or(INDEFINITE)));
            if let Some(p) = e.previous_expires_at {
                d["previousExpirationDateTime"] = json!(format_rfc3339(p));
            }
            d
        })
        .collect();
    let n = data.len();
    Ok(Response::json_no_store(
        200,
        &json!({
            "data": data,
            "links": { "self": format!("{}/open-banking/consents/{version}/consents/{}/extensions", ctx.issuer, c.id) },
            "meta": { "totalRecords": n, "totalPages": 1, "requestDateTime": format_rfc3339(ctx.now) },
        }),
    ))
}

/// DELETE: the customer withdrew it at the TPP. AWAITING -> REJECTED (USER, CUSTOMER_MANUALLY_REJECTED);
/// AUTHORISED -> REJECTED (USER, CUSTOMER_MANUALLY_REVOKED) and every bound token is revoked.
async fn delete<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, id: &str) -> Result<Response, ApiError> {
    let client_id = tpp(ctx, req).await?;
    let c = owned(ctx, &client_id, id).await?;
    let code = match c.status.as_str() {
        AWAITING => "CUSTOMER_MANUALLY_REJECTED",
        AUTHORISED => "CUSTOMER_MANUALLY_REVOKED",
        _ => return Err(ApiError::unprocessable("CONSENTIMENTO_EM_STATUS_REJEITADO", "the consent is already REJECTED")),
    };
    let moved = cstore::transition(ctx.db(), &ctx.tenant, &ctx.workspace, &c.id, Transition { from: &c.status, to: REJECTED, rejection: Some(rejection("USER", code)), user_id: None, at: ctx.now })
        .await
        .map_err(|e| ApiError::from(OAuthError::from(e)))?;
    if !moved {
        return Err(ApiError::unprocessable("CONSENTIMENTO_EM_STATUS_REJEITADO", "the consent changed state meanwhile"));
    }
    cstore::revoke_grants(ctx.db(), &c.id, ctx.now).await.map_err(|e| ApiError::from(OAuthError::from(e)))?;
    Ok(Response::new(204).with_header("cache-control", "no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn permission_groups_are_requested_whole() {
        assert!(check_permissions(&p(&["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "RESOURCES_READ"])).is_ok());
        assert!(check_permissions(&p(&["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "ACCOUNTS_TRANSACTIONS_READ", "RESOURCES_READ", "RESOURCES_READ"])).is_ok());
        assert_eq!(check_permissions(&p(&["ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ"])).unwrap_err().code, "COMBINACAO_PERMISSOES_INCORRETA");
        assert_eq!(check_permissions(&p(&["LOANS_READ", "RESOURCES_READ"])).unwrap_err().code, "COMBINACAO_PERMISSOES_INCORRETA");
        assert_eq!(check_permissions(&p(&["ACCOUNTS_WRITE"])).unwrap_err().status, 400);
        assert_eq!(check_permissions(&[]).unwrap_err().status, 400);
        assert_eq!(
            check_permissions(&p(&["CUSTOMERS_PERSONAL_IDENTIFICATIONS_READ", "CUSTOMERS_BUSINESS_IDENTIFICATIONS_READ", "RESOURCES_READ"])).unwrap_err().code,
            "PERMISSAO_PF_PJ_EM_CONJUNTO"
        );
    }

    #[test]
    fn consent_scope() {
        assert_eq!(consent_id_in("openid consent:urn:edgeauth:1 accounts"), Some("urn:edgeauth:1"));
        assert_eq!(consent_id_in("openid accounts"), None);
    }
}
