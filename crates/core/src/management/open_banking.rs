//! The bank's own consent management for Open Finance Brasil (data consents and v3/v4 payment
//! consents), under `/api/tenants/{t}/servers/{w}/open-banking-brasil/consents`: the seed's
//! `/servers/{wid}/...` with the tenant made explicit, like every other management path. The bank's
//! backend (its app, its internet banking, its fraud desk) calls it with a management token carrying
//! `manage_openbanking_consents`; a tenant administrator reaches its own tenant only; workspace
//! administrators with `admin` may act, `auditor` may read.
//!
//! - `POST .../consents` lists by filter (a POST because the filter is a body), `?limit=`/`?after=`.
//! - `DELETE .../consents` revokes every live consent matching a filter that names `client_id` or
//!   `user_id` (an empty filter would empty the bank).
//! - `GET`/`DELETE .../consents/{id}`: read or revoke one.
//! - `POST .../consents/{id}/consume`: an AUTHORISED payment consent becomes CONSUMED.
//!
//! Revoking, without a reason, is the customer's decision through the bank's channel: a data consent
//! becomes REJECTED by USER (CUSTOMER_MANUALLY_REJECTED if it was awaiting, CUSTOMER_MANUALLY_REVOKED
//! if authorised); a payment consent becomes REJECTED with `rejectionReason`
//! `{code: REJEITADO_USUARIO, detail}`.
//!
//! Both DELETE bodies may carry the bank's own reason instead, in the consents API's shape:
//! `"rejection": {"rejectedBy": "ASPSP", "reason": {"code": C, "additionalInformation": "…"}}` (the
//! filter's members beside it for the by-filter call; alone for one consent). `C` is
//! CONSENT_TECHNICAL_ISSUE (a technical problem) or INTERNAL_SECURITY_REASON (the bank's security
//! policy, e.g. suspected fraud); `additionalInformation` is optional, 1 to 140 characters without
//! surrounding spaces. A data consent then becomes REJECTED by ASPSP with that code (and the
//! information); a payment consent gets the payments API's code for it, FALHA_INFRAESTRUTURA or
//! NAO_INFORMADO, whose `detail` is the information or a default ([`consents::ASPSP_REASONS`]). Any
//! other `rejectedBy`, code, member or type answers 400 naming the field, before anything changes.
//!
//! The answer carries the new state. Revoking and consuming revoke the consent's grants (refresh
//! tokens stop, access tokens turn inactive).

use super::access::{Need, MANAGE_OPENBANKING_CONSENTS};
use super::{json_body, page, Call};
use crate::open_finance::consents::{self, AUTHORISED, AWAITING, CONSUMED, KIND_DATA, KIND_PAYMENT, PARTIALLY_ACCEPTED, REJECTED};
use crate::error::Problem;
use crate::http::{percent_decode, Request, Response};
use crate::time::format_rfc3339;
use crate::runtime::Runtime;
use crate::engine::Ctx;
use crate::store::consents::{self as cstore, Filter, ObConsent, Transition};
use serde::Deserialize;
use serde_json::{json, Value};

/// Consents a filtered revocation handles in one call at most (the answer says if more remain).
const REVOKE_MAX: usize = 500;
const STATUSES: [&str; 5] = [AWAITING, PARTIALLY_ACCEPTED, AUTHORISED, REJECTED, CONSUMED];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    /// `data`, `payment`
    types: Option<Vec<String>>,
    statuses: Option<Vec<String>>,
    client_id: Option<String>,
    user_id: Option<String>,
}

impl FilterBody {
    fn check(self) -> Result<Filter, Problem> {
        if let Some(t) = self.types.iter().flatten().find(|t| !matches!(t.as_str(), KIND_DATA | KIND_PAYMENT)) {
            return Err(Problem::invalid_request(format!("unknown type '{t}' (data, payment)")).with("field", json!("types")));
        }
        if let Some(s) = self.statuses.iter().flatten().find(|s| !STATUSES.contains(&s.as_str())) {
            return Err(Problem::invalid_request(format!("unknown status '{s}'")).with("field", json!("statuses")));
        }
        for v in [&self.client_id, &self.user_id].into_iter().flatten() {
            if v.is_empty() || v.len() > 256 || v.contains(',') {
                return Err(Problem::invalid_request("client_id and user_id must be 1 to 256 characters"));
            }
        }
        Ok(Filter { kinds: self.types, statuses: self.statuses, client_id: self.client_id, user_id: self.user_id })
    }
}

/// The longest `additionalInformation` (the consents API's limit).
const INFO_MAX: usize = 140;

/// The bank's own reason for a revocation (`rejectedBy: ASPSP`), from a DELETE body's `rejection`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BankReason {
    /// The data consent's code; the payment consent's code; its detail without information.
    code: &'static str,
    payment_code: &'static str,
    default_detail: &'static str,
    info: Option<String>,
}

impl BankReason {
    /// A data consent's `rejection`.
    fn data(&self) -> Value {
        let mut r = consents::rejection("ASPSP", self.code);
        if let Some(i) = &self.info {
            r["reason"]["additionalInformation"] = json!(i);
        }
        r
    }

    /// A payment consent's `rejectionReason`.
    fn payment(&self) -> Value {
        consents::payment_rejection(self.payment_code, self.info.as_deref().unwrap_or(self.default_detail))
    }
}

fn bad_field(field: &str, detail: impl Into<String>) -> Problem {
    Problem::invalid_request(detail).with("field", json!(field))
}

/// `{"rejectedBy": "ASPSP", "reason": {"code": …, "additionalInformation": …}}`, strictly.
fn bank_reason(v: &Value) -> Result<BankReason, Problem> {
    let Value::Object(o) = v else { return Err(bad_field("rejection", "rejection must be an object {rejectedBy, reason}")) };
    if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "rejectedBy" | "reason")) {
        return Err(bad_field(&format!("rejection.{k}"), format!("unknown member 'rejection.{k}' (rejectedBy, reason)")));
    }
    if o.get("rejectedBy").and_then(Value::as_str) != Some("ASPSP") {
        return Err(bad_field("rejection.rejectedBy", "rejection.rejectedBy must be ASPSP (a revocation without a rejection is the customer's own)"));
    }
    let Some(Value::Object(reason)) = o.get("reason") else { return Err(bad_field("rejection.reason", "rejection.reason must be an object {code, additionalInformation}")) };
    if let Some(k) = reason.keys().find(|k| !matches!(k.as_str(), "code" | "additionalInformation")) {
        return Err(bad_field(&format!("rejection.reason.{k}"), format!("unknown member 'rejection.reason.{k}' (code, additionalInformation)")));
    }
    let given = reason.get("code").and_then(Value::as_str);
    let Some(&(code, payment_code, default_detail)) = consents::ASPSP_REASONS.iter().find(|(c, ..)| Some(*c) == given) else {
        let known: Vec<&str> = consents::ASPSP_REASONS.iter().map(|(c, ..)| *c).collect();
        return Err(bad_field("rejection.reason.code", format!("rejection.reason.code must be one of {}", known.join(", "))));
    };
    let info = match reason.get("additionalInformation") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= INFO_MAX && s.trim() == s => Some(s.clone()),
        Some(_) => return Err(bad_field("rejection.reason.additionalInformation", format!("rejection.reason.additionalInformation must be a string of 1 to {INFO_MAX} characters without leading or trailing spaces"))),
    };
    Ok(BankReason { code, payment_code, default_detail, info })
}

/// A DELETE body: the optional `rejection` and the other members (the filter, for the by-filter call).
fn revocation_body(req: &Request) -> Result<(Option<BankReason>, serde_json::Map<String, Value>), Problem> {
    let mut body: serde_json::Map<String, Value> = json_body(req)?;
    let reason = body.remove("rejection").map(|v| bank_reason(&v)).transpose()?;
    Ok((reason, body))
}

/// The body of a listing: the filter.
pub(crate) fn list_body(req: &Request) -> Result<Filter, Problem> {
    json_body::<FilterBody>(req)?.check()
}

/// The body of `DELETE .../consents/{id}`: nothing but the optional `rejection`.
pub(crate) fn revoke_body(req: &Request) -> Result<Option<BankReason>, Problem> {
    let (bank, rest) = revocation_body(req)?;
    if let Some(k) = rest.keys().next() {
        return Err(bad_field(k, format!("unknown member '{k}' (rejection)")));
    }
    Ok(bank)
}

/// The body of `DELETE .../consents`: the optional `rejection` and a filter naming `client_id` or `user_id`.
pub(crate) fn revoke_by_filter_body(req: &Request) -> Result<(Option<BankReason>, Filter), Problem> {
    let (bank, rest) = revocation_body(req)?;
    let filter = serde_json::from_value::<FilterBody>(Value::Object(rest)).map_err(|e| Problem::invalid_request(format!("invalid JSON body: {e}")))?.check()?;
    if filter.client_id.is_none() && filter.user_id.is_none() {
        return Err(Problem::invalid_request("a revocation filter must name client_id or user_id"));
    }
    Ok((bank, filter))
}

async fn ctx<'a, R: Runtime>(c: &'a Call<'a, R>, t: &str, w: &str) -> Result<Ctx<'a, R>, Problem> {
    c.workspace(t, w).await?;
    c.server.workspace_ctx(c.rt, c.req, t, w).await?.ok_or_else(|| Problem::not_found(format!("unknown workspace '{t}/{w}'")))
}

/// The bank's view of a consent: who, what, which state, and the consent's data as created.
fn view(c: &ObConsent) -> Value {
    let mut v = json!({
        "id": c.id,
        "type": c.kind,
        "client_id": c.client_id,
        "user_id": c.user_id,
        "status": c.status,
        "created_at": format_rfc3339(c.created_at),
        "status_updated_at": format_rfc3339(c.status_updated_at),
        "expires_at": c.expires_at.map(format_rfc3339),
        "data": c.document,
    });
    if let Some(r) = &c.rejection {
        v[if c.kind == KIND_PAYMENT { "rejectionReason" } else { "rejection" }] = r.clone();
    }
    v
}

pub async fn list<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_OPENBANKING_CONSENTS, t, w, true)).await?;
    let filter = list_body(c.req)?;
    let p = page(c.req)?;
    let ctx = ctx(c, t, w).await?;
    let rows = cstore::list(c.rt.sql(), t, w, &filter, &p.after, p.limit + 1).await?;
    let more = rows.len() as i64 > p.limit;
    let mut items = Vec::new();
    let mut last = None;
    for row in rows.into_iter().take(p.limit as usize) {
        last = Some(row.id.clone());
        // Time-based transitions first, so a stale AWAITING one does not match a status filter.
        let Some(settled) = consents::settle(&ctx, row).await? else { continue };
        if filter.statuses.as_ref().is_none_or(|s| s.contains(&settled.status)) {
            items.push(view(&settled));
        }
    }
    Ok(Response::json_no_store(200, &json!({ "items": items, "next": if more { last } else { None } })))
}

async fn load<R: Runtime>(ctx: &Ctx<'_, R>, raw_id: &str) -> Result<ObConsent, Problem> {
    let id = percent_decode(raw_id).unwrap_or_default();
    consents::current(ctx, &id).await?.ok_or_else(|| Problem::not_found(format!("unknown consent '{id}'")))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_OPENBANKING_CONSENTS, t, w, true)).await?;
    let ctx = ctx(c, t, w).await?;
    Ok(Response::json_no_store(200, &view(&load(&ctx, id).await?)))
}

/// Rejects one live consent, as the customer's decision at the bank or, with `bank`, for the bank's
/// own reason; `Ok(None)` when it was already final (or changed meanwhile).
async fn revoke_one<R: Runtime>(ctx: &Ctx<'_, R>, c: &ObConsent, bank: Option<&BankReason>) -> Result<Option<ObConsent>, Problem> {
    let rejection = match (c.kind.as_str(), c.status.as_str(), bank) {
        (KIND_PAYMENT, AWAITING | PARTIALLY_ACCEPTED | AUTHORISED, Some(b)) => b.payment(),
        (KIND_PAYMENT, AWAITING | PARTIALLY_ACCEPTED | AUTHORISED, None) => consents::payment_rejection("REJEITADO_USUARIO", consents::USER_REJECTED_DETAIL),
        (KIND_DATA, AWAITING | AUTHORISED, Some(b)) => b.data(),
        (KIND_DATA, AWAITING, None) => consents::rejection("USER", "CUSTOMER_MANUALLY_REJECTED"),
        (KIND_DATA, AUTHORISED, None) => consents::rejection("USER", "CUSTOMER_MANUALLY_REVOKED"),
        _ => return Ok(None),
    };
    let t = Transition { from: &c.status, to: REJECTED, rejection: Some(rejection.clone()), user_id: None, at: ctx.now };
    if !cstore::transition(ctx.db(), &ctx.tenant, &ctx.workspace, &c.id, t).await? {
        return Ok(None);
    }
    cstore::revoke_grants(ctx.db(), &c.id, ctx.now).await?;
    Ok(Some(ObConsent { status: REJECTED.into(), rejection: Some(rejection), status_updated_at: ctx.now, ..c.clone() }))
}

pub async fn revoke<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_OPENBANKING_CONSENTS, t, w, false)).await?;
    let bank = revoke_body(c.req)?;
    let ctx = ctx(c, t, w).await?;
    let consent = load(&ctx, id).await?;
    match revoke_one(&ctx, &consent, bank.as_ref()).await? {
        Some(done) => Ok(Response::json_no_store(200, &view(&done))),
        None => Err(Problem::conflict(format!("the consent is {} and cannot be revoked", consent.status))),
    }
}

pub async fn revoke_by_filter<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_OPENBANKING_CONSENTS, t, w, false)).await?;
    let (bank, filter) = revoke_by_filter_body(c.req)?;
    let ctx = ctx(c, t, w).await?;
    let (mut revoked, mut after, mut more) = (Vec::new(), String::new(), false);
    loop {
        let rows = cstore::list(c.rt.sql(), t, w, &filter, &after, 100).await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        let n = rows.len();
        for row in rows {
            if revoked.len() >= REVOKE_MAX {
                more = true;
                break;
            }
            let Some(settled) = consents::settle(&ctx, row).await? else { continue };
            if let Some(done) = revoke_one(&ctx, &settled, bank.as_ref()).await? {
                revoked.push(done.id);
            }
        }
        if more || n < 100 {
            break;
        }
    }
    Ok(Response::json_no_store(200, &json!({ "revoked": revoked, "more": more })))
}

/// The payment was made: an AUTHORISED payment consent becomes CONSUMED, and its tokens stop.
pub async fn consume<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, id: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_OPENBANKING_CONSENTS, t, w, false)).await?;
    let ctx = ctx(c, t, w).await?;
    let consent = load(&ctx, id).await?;
    if consent.kind != KIND_PAYMENT || consent.status != AUTHORISED {
        return Err(Problem::conflict(format!("only an AUTHORISED payment consent can be consumed (this {} consent is {})", consent.kind, consent.status)));
    }
    let moved = Transition { from: AUTHORISED, to: CONSUMED, rejection: None, user_id: None, at: ctx.now };
    if !cstore::transition(ctx.db(), t, w, &consent.id, moved).await? {
        return Err(Problem::conflict("the consent changed state meanwhile"));
    }
    cstore::revoke_grants(ctx.db(), &consent.id, ctx.now).await?;
    Ok(Response::json_no_store(200, &view(&ObConsent { status: CONSUMED.into(), status_updated_at: ctx.now, ..consent })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: Value) -> String {
        bank_reason(&v).unwrap_err().to_problem_json()["field"].as_str().unwrap_or("").to_string()
    }

    #[test]
    fn bank_reasons() {
        let r = bank_reason(&json!({"rejectedBy": "ASPSP", "reason": {"code": "INTERNAL_SECURITY_REASON", "additionalInformation": "Suspeita de fraude"}})).unwrap();
        assert_eq!(r.data(), json!({"rejectedBy": "ASPSP", "reason": {"code": "INTERNAL_SECURITY_REASON", "additionalInformation": "Suspeita de fraude"}}));
        assert_eq!(r.payment(), json!({"code": "NAO_INFORMADO", "detail": "Suspeita de fraude"}));
        let r = bank_reason(&json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_TECHNICAL_ISSUE"}})).unwrap();
        assert_eq!(r.data(), json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_TECHNICAL_ISSUE"}}));
        assert_eq!(r.payment()["code"], "FALHA_INFRAESTRUTURA");
        assert!(!r.payment()["detail"].as_str().unwrap().is_empty());
        assert_eq!(field(json!("INTERNAL_SECURITY_REASON")), "rejection");
        assert_eq!(field(json!({"rejectedBy": "USER", "reason": {"code": "INTERNAL_SECURITY_REASON"}})), "rejection.rejectedBy");
        assert_eq!(field(json!({"reason": {"code": "INTERNAL_SECURITY_REASON"}})), "rejection.rejectedBy");
        assert_eq!(field(json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_EXPIRED"}})), "rejection.reason.code");
        assert_eq!(field(json!({"rejectedBy": "ASPSP", "reason": "INTERNAL_SECURITY_REASON"})), "rejection.reason");
        assert_eq!(field(json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_TECHNICAL_ISSUE"}, "when": 1})), "rejection.when");
        assert_eq!(field(json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_TECHNICAL_ISSUE", "detail": "x"}})), "rejection.reason.detail");
        for info in [json!(""), json!(" padded"), json!("x".repeat(INFO_MAX + 1)), json!(7)] {
            assert_eq!(field(json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_TECHNICAL_ISSUE", "additionalInformation": info}})), "rejection.reason.additionalInformation");
        }
        assert!(bank_reason(&json!({"rejectedBy": "ASPSP", "reason": {"code": "CONSENT_TECHNICAL_ISSUE", "additionalInformation": "ç".repeat(INFO_MAX)}})).is_ok());
    }
}
