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
//! Revoking: a data consent becomes REJECTED by USER (CUSTOMER_MANUALLY_REJECTED if it was awaiting,
//! CUSTOMER_MANUALLY_REVOKED if authorised); a payment consent becomes REJECTED with
//! `rejectionReason` `{code: REJEITADO_USUARIO, detail}`, returned in the answer. Revoking and
//! consuming revoke the consent's grants (refresh tokens stop, access tokens turn inactive).

use super::access::{Need, MANAGE_OPENBANKING_CONSENTS};
use super::{json_body, page, Call};
use crate::consents::{self, AUTHORISED, AWAITING, CONSUMED, KIND_DATA, KIND_PAYMENT, PARTIALLY_ACCEPTED, REJECTED};
use crate::error::Problem;
use crate::http::{percent_decode, Response};
use crate::management::tenants::format_rfc3339;
use crate::runtime::Runtime;
use crate::server::Ctx;
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
    let filter = json_body::<FilterBody>(c.req)?.check()?;
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

/// Rejects one live consent as the customer's decision at the bank; `Ok(None)` when it was already
/// final (or changed meanwhile).
async fn revoke_one<R: Runtime>(ctx: &Ctx<'_, R>, c: &ObConsent) -> Result<Option<ObConsent>, Problem> {
    let rejection = match (c.kind.as_str(), c.status.as_str()) {
        (KIND_PAYMENT, AWAITING | PARTIALLY_ACCEPTED | AUTHORISED) => consents::payment_rejection("REJEITADO_USUARIO", consents::USER_REJECTED_DETAIL),
        (KIND_DATA, AWAITING) => consents::rejection("USER", "CUSTOMER_MANUALLY_REJECTED"),
        (KIND_DATA, AUTHORISED) => consents::rejection("USER", "CUSTOMER_MANUALLY_REVOKED"),
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
    let ctx = ctx(c, t, w).await?;
    let consent = load(&ctx, id).await?;
    match revoke_one(&ctx, &consent).await? {
        Some(done) => Ok(Response::json_no_store(200, &view(&done))),
        None => Err(Problem::conflict(format!("the consent is {} and cannot be revoked", consent.status))),
    }
}

pub async fn revoke_by_filter<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_OPENBANKING_CONSENTS, t, w, false)).await?;
    let filter = json_body::<FilterBody>(c.req)?.check()?;
    if filter.client_id.is_none() && filter.user_id.is_none() {
        return Err(Problem::invalid_request("a revocation filter must name client_id or user_id"));
    }
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
            if let Some(done) = revoke_one(&ctx, &settled).await? {
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
