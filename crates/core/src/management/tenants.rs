//! Tenants: create, get, list, update, delete; their license and feature flags.

use super::access::{Need, MANAGE_TENANTS};
use super::{check_new_id, created, existing_tenant, json_body, json_object_body, no_content, page, page_response, workspaces, Call, SYSTEM_TENANT};
use crate::config::{self, License, TenantConfig};
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::error::Problem;
use crate::http::Response;
use crate::runtime::{KvStore, Runtime};
use crate::store::management as mstore;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A new tenant's trial lasts a year.
pub const TRIAL_SECS: i64 = 365 * 86400;

/// Feature flags are short plain names (`tree_dump_tenant`).
fn valid_flag(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub fn render(id: &str, t: &TenantConfig) -> Value {
    json!({ "id": id, "name": t.name, "features": t.features, "license": t.license, "created_at": t.created_at })
}

pub fn trial_license(now: i64) -> License {
    License { license_type: "trial".into(), start_date: format_rfc3339(now), expiration_date: format_rfc3339(now + TRIAL_SECS) }
}

/// Validates a license from a request and writes its dates in one canonical form.
fn checked_license(l: License) -> Result<License, Problem> {
    let t = l.license_type.trim();
    if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::invalid_request("license.LicenseType must be 1-64 printable characters"));
    }
    let start = parse_rfc3339(&l.start_date).ok_or_else(|| Problem::invalid_request("license.StartDate must be an RFC 3339 date-time"))?;
    let end = parse_rfc3339(&l.expiration_date).ok_or_else(|| Problem::invalid_request("license.ExpirationDate must be an RFC 3339 date-time"))?;
    if end < start {
        return Err(Problem::invalid_request("license.ExpirationDate is before license.StartDate"));
    }
    Ok(License { license_type: t.to_string(), start_date: format_rfc3339(start), expiration_date: format_rfc3339(end) })
}

fn check_features(features: &BTreeMap<String, bool>) -> Result<(), Problem> {
    match features.keys().find(|k| !valid_flag(k)) {
        Some(bad) => Err(Problem::invalid_request(format!("'{bad}' is not a valid feature flag name (1-64 of a-z, 0-9, '_', '-')"))),
        None if features.len() > 100 => Err(Problem::invalid_request("at most 100 feature flags")),
        None => Ok(()),
    }
}

/// Writes the tenant: its index row (SQL) first and its document (KV) last, as the document is
/// what makes the tenant exist. A failure leaves nothing behind: a failed index write stops
/// before the document, and when the document cannot be written a new tenant's row is removed.
pub async fn save<R: Runtime>(rt: &R, id: &str, t: &TenantConfig, is_new: bool) -> Result<(), Problem> {
    mstore::index_tenant(rt.sql(), id, &t.name, t.created_at).await?;
    if let Err(e) = rt.kv().put(&config::tenant_key(id), &json!(t).to_string()).await {
        if is_new {
            mstore::unindex_tenant(rt.sql(), id).await?;
        }
        return Err(e.into());
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), Problem> {
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Problem::invalid_request("name must be at most 200 characters, without control characters"));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    features: BTreeMap<String, bool>,
    license: Option<License>,
}

pub async fn create<R: Runtime>(c: &Call<'_, R>) -> Result<Response, Problem> {
    c.allow(Need::system(MANAGE_TENANTS, false)).await?;
    let n: NewTenant = json_body(c.req)?;
    check_new_id("tenant", &n.id)?;
    check_name(&n.name)?;
    check_features(&n.features)?;
    if n.id == SYSTEM_TENANT {
        return Err(Problem::conflict("the system tenant is made by the bootstrap call"));
    }
    if config::load_tenant(c.rt.kv(), &n.id).await?.is_some() {
        return Err(Problem::conflict(format!("tenant '{}' already exists", n.id)));
    }
    let license = match n.license {
        Some(l) => checked_license(l)?,
        None => trial_license(c.now),
    };
    let tenant = TenantConfig { version: config::CONFIG_VERSION, name: n.name, features: n.features, created_at: c.now, license: Some(license) };
    save(c.rt, &n.id, &tenant, true).await?;
    Ok(created(format!("/api/tenants/{}", n.id), &render(&n.id, &tenant)))
}

pub async fn list<R: Runtime>(c: &Call<'_, R>) -> Result<Response, Problem> {
    c.allow(Need::system(MANAGE_TENANTS, true)).await?;
    let p = page(c.req)?;
    let ids = mstore::list_tenants(c.rt.sql(), &p.after, p.limit + 1).await?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        // The index can briefly name a tenant whose document is gone (a delete in flight): skip it.
        if let Some(t) = config::load_tenant(c.rt.kv(), &id).await? {
            rows.push((id, t));
        }
    }
    Ok(page_response(rows, p.limit, |(id, _)| id.clone(), |(id, t)| render(id, t)))
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_TENANTS, t, true)).await?;
    let tenant = existing_tenant(c, t).await?;
    Ok(Response::json_no_store(200, &render(t, &tenant)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantUpdate {
    name: Option<String>,
    license: Option<License>,
}

pub async fn update<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_TENANTS, t, false)).await?;
    let u: TenantUpdate = json_body(c.req)?;
    let mut tenant = existing_tenant(c, t).await?;
    if let Some(l) = u.license {
        let l = checked_license(l)?;
        if tenant.license.as_ref() != Some(&l) {
            // Only the root (system) API changes a license.
            c.allow(Need::system(MANAGE_TENANTS, false)).await.map_err(|_| Problem::forbidden("only a system client may change a tenant's license"))?;
            tenant.license = Some(l);
        }
    }
    if let Some(name) = u.name {
        check_name(&name)?;
        tenant.name = name;
    }
    save(c.rt, t, &tenant, false).await?;
    Ok(Response::json_no_store(200, &render(t, &tenant)))
}

/// Deletes the tenant with every workspace (and all stored under them) and template.
pub async fn delete<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::system(MANAGE_TENANTS, false)).await?;
    if t == SYSTEM_TENANT {
        return Err(Problem::conflict("the system tenant cannot be deleted"));
    }
    existing_tenant(c, t).await?;
    for w in mstore::all_workspace_ids(c.rt.sql(), t).await? {
        workspaces::remove(c, t, &w).await?;
    }
    c.rt.kv().delete(&config::tenant_key(t)).await?;
    mstore::unindex_tenant(c.rt.sql(), t).await?;
    Ok(no_content())
}

pub async fn get_features<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::tenant(MANAGE_TENANTS, t, true)).await?;
    Ok(Response::json_no_store(200, &json!(existing_tenant(c, t).await?.features)))
}

/// Replaces the flags (a JSON object of names to booleans). Flags gate alpha features, so only a
/// system client sets them.
pub async fn set_features<R: Runtime>(c: &Call<'_, R>, t: &str) -> Result<Response, Problem> {
    c.allow(Need::system(MANAGE_TENANTS, false)).await?;
    let features: BTreeMap<String, bool> = serde_json::from_value(json_object_body(c.req)?).map_err(|e| Problem::invalid_request(format!("invalid JSON body: {e}")))?;
    check_features(&features)?;
    let mut tenant = existing_tenant(c, t).await?;
    tenant.features = features;
    save(c.rt, t, &tenant, false).await?;
    // Flags gate features whose state the isolate caches per workspace (rich authorization).
    c.server.forget_tenant(t);
    Ok(Response::json_no_store(200, &json!(tenant.features)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_lasts_a_year() {
        let l = trial_license(1677661347);
        assert_eq!(l.license_type, "trial");
        assert_eq!(l.expiration_date, "2024-02-29T09:02:27Z");
        assert!(checked_license(License { license_type: "x".into(), start_date: "2024-01-01T00:00:00Z".into(), expiration_date: "2023-01-01T00:00:00Z".into() }).is_err());
    }
}
