//! Typed queries of the management API: the tenant and workspace indexes, listing and changing
//! clients and users, organization templates, workspace administrators and one-time links.

use super::{int, is_unique_violation, json, sql, stmt, text, user_from_row, StoredClient, User};
use crate::config::client::Client;
use crate::runtime::{SqlDatabase, SqlRow, Statement, StoreError};
use serde_json::Value;

/// The largest page a list returns.
pub const MAX_PAGE: i64 = 100;

// ---------------------------------------------------------------------------------------------
// Tenant and workspace indexes

pub async fn index_tenant(db: &impl SqlDatabase, id: &str, name: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::TENANT_INDEX_UPSERT, vec![id.into(), name.into(), now.into()])).await.map(|_| ())
}

pub async fn list_tenants(db: &impl SqlDatabase, after: &str, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = db.query(stmt(sql::TENANT_INDEX_LIST, vec![after.into(), limit.into()])).await?;
    rows.iter().map(|r| text(r, "id")).collect()
}

pub async fn unindex_tenant(db: &impl SqlDatabase, id: &str) -> Result<(), StoreError> {
    db.batch(vec![stmt(sql::TENANT_INDEX_DELETE, vec![id.into()]), stmt(sql::TEMPLATES_DELETE_FOR_TENANT, vec![id.into()])]).await.map(|_| ())
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceEntry {
    pub id: String,
    /// `workspace` or `organization`.
    pub kind: String,
    pub name: String,
    pub created_at: i64,
}

fn workspace_entry(r: &SqlRow) -> Result<WorkspaceEntry, StoreError> {
    Ok(WorkspaceEntry { id: text(r, "id")?, kind: text(r, "kind")?, name: text(r, "name")?, created_at: int(r, "created_at")? })
}

pub async fn index_workspace(db: &impl SqlDatabase, tenant: &str, id: &str, kind: &str, name: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::WORKSPACE_INDEX_UPSERT, vec![tenant.into(), id.into(), kind.into(), name.into(), now.into()])).await.map(|_| ())
}

/// A new workspace's rows in one batch, all or none: its index row and its first signing keys.
pub async fn insert_workspace(db: &impl SqlDatabase, tenant: &str, id: &str, kind: &str, name: &str, now: i64, keys: &[super::KeyRow]) -> Result<(), StoreError> {
    let mut stmts = vec![stmt(sql::WORKSPACE_INDEX_UPSERT, vec![tenant.into(), id.into(), kind.into(), name.into(), now.into()])];
    stmts.extend(keys.iter().map(|k| super::key_insert(tenant, id, k)));
    db.batch(stmts).await.map(|_| ())
}

pub async fn get_workspace_entry(db: &impl SqlDatabase, tenant: &str, id: &str) -> Result<Option<WorkspaceEntry>, StoreError> {
    let rows = db.query(stmt(sql::WORKSPACE_INDEX_GET, vec![tenant.into(), id.into()])).await?;
    rows.first().map(workspace_entry).transpose()
}

pub async fn list_workspaces(db: &impl SqlDatabase, tenant: &str, kind: &str, after: &str, limit: i64) -> Result<Vec<WorkspaceEntry>, StoreError> {
    let rows = db.query(stmt(sql::WORKSPACE_INDEX_LIST, vec![tenant.into(), kind.into(), after.into(), limit.into()])).await?;
    rows.iter().map(workspace_entry).collect()
}

pub async fn all_workspace_ids(db: &impl SqlDatabase, tenant: &str) -> Result<Vec<String>, StoreError> {
    let rows = db.query(stmt(sql::WORKSPACE_INDEX_ALL, vec![tenant.into()])).await?;
    rows.iter().map(|r| text(r, "id")).collect()
}

/// Removes every row stored under a workspace (clients, users, keys, grants, codes, tokens,
/// consents, administrators, links) in one transaction. Its identity pool goes with it.
pub async fn delete_workspace_data(db: &impl SqlDatabase, tenant: &str, workspace: &str) -> Result<(), StoreError> {
    let all = [
        sql::WORKSPACE_DELETE_CLIENTS,
        sql::WORKSPACE_DELETE_USERS,
        sql::WORKSPACE_DELETE_KEYS,
        sql::WORKSPACE_DELETE_GRANTS,
        sql::WORKSPACE_DELETE_CODES,
        sql::WORKSPACE_DELETE_REFRESH,
        sql::WORKSPACE_DELETE_JTI,
        sql::WORKSPACE_DELETE_CONSENTS,
        sql::WORKSPACE_DELETE_ADMINS,
        sql::WORKSPACE_DELETE_ONE_TIME,
        sql::WORKSPACE_DELETE_PAR,
        sql::WORKSPACE_DELETE_OB_CONSENT_GRANTS,
        sql::WORKSPACE_DELETE_OB_EXTENSIONS,
        sql::WORKSPACE_DELETE_OB_IDEMPOTENCY,
        sql::WORKSPACE_DELETE_OB_CONSENTS,
        sql::WORKSPACE_DELETE_LINKS,
        sql::WORKSPACE_DELETE_ACTIVITY,
        sql::WORKSPACE_DELETE_GRANT_CONTEXTS,
        sql::WORKSPACE_DELETE_DCR_REGISTRATIONS,
        sql::WORKSPACE_DELETE_DCR_IATS,
        sql::WORKSPACE_DELETE_PASSKEYS,
        sql::WORKSPACE_DELETE_TOTP,
        sql::WORKSPACE_DELETE_OTP_CODES,
        sql::WORKSPACE_DELETE_GRANT_DETAILS,
        sql::WORKSPACE_DELETE_SESSION_CUTOFFS,
        sql::WORKSPACE_DELETE_INDEX,
    ];
    db.batch(all.iter().map(|s| stmt(s, vec![tenant.into(), workspace.into()])).collect()).await.map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Clients

pub async fn list_clients(db: &impl SqlDatabase, tenant: &str, workspace: &str, after: &str, limit: i64) -> Result<Vec<Client>, StoreError> {
    let rows = db.query(stmt(sql::CLIENT_LIST, vec![tenant.into(), workspace.into(), after.into(), limit.into()])).await?;
    rows.iter().map(|r| serde_json::from_value(json(r, "metadata")?).map_err(|e| StoreError::new(format!("stored client is invalid: {e}")))).collect()
}

/// `Ok(false)` when the client does not exist.
pub async fn update_client(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: &StoredClient, now: i64) -> Result<bool, StoreError> {
    let metadata = serde_json::to_string(&c.client).map_err(|e| StoreError::new(e.to_string()))?;
    let rows = db
        .query(stmt(sql::CLIENT_UPDATE, vec![tenant.into(), workspace.into(), (&c.client.client_id).into(), metadata.into(), c.secret_hash.clone().into(), now.into()]))
        .await?;
    Ok(!rows.is_empty())
}

pub async fn set_client_secret(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, secret_hash: &str, now: i64) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::CLIENT_SET_SECRET, vec![tenant.into(), workspace.into(), client_id.into(), secret_hash.into(), now.into()])).await?;
    Ok(!rows.is_empty())
}

/// Deletes a client (and its dynamic registration, if any), revokes its grants and forgets its
/// consents, in one transaction.
pub async fn delete_client(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, now: i64) -> Result<bool, StoreError> {
    let out = db
        .batch(vec![
            stmt(sql::CLIENT_DELETE, vec![tenant.into(), workspace.into(), client_id.into()]),
            stmt(sql::GRANTS_REVOKE_FOR_CLIENT, vec![tenant.into(), workspace.into(), client_id.into(), now.into()]),
            stmt(sql::CONSENTS_DELETE_FOR_CLIENT, vec![tenant.into(), workspace.into(), client_id.into()]),
            stmt(sql::DCR_REGISTRATION_DELETE, vec![tenant.into(), workspace.into(), client_id.into()]),
        ])
        .await?;
    Ok(out.first().is_some_and(|rows| !rows.is_empty()))
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub created_at: i64,
    pub updated_at: i64,
    /// How the user came to be, pending activation, the last sign-in.
    pub activity: super::federation::Activity,
}

fn user_record(r: &SqlRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord { user: user_from_row(r)?, created_at: int(r, "created_at")?, updated_at: int(r, "updated_at")?, activity: super::federation::activity_from_row(r) })
}

pub async fn get_user_record(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str) -> Result<Option<UserRecord>, StoreError> {
    let rows = db.query(stmt(sql::USER_GET_FULL, vec![tenant.into(), workspace.into(), id.into()])).await?;
    rows.first().map(user_record).transpose()
}

/// A page of users; with `query`, only those whose username starts with it or whose email is it.
pub async fn list_users(db: &impl SqlDatabase, tenant: &str, workspace: &str, query: Option<&str>, after: &str, limit: i64) -> Result<Vec<UserRecord>, StoreError> {
    let s = match query {
        Some(q) => stmt(sql::USER_SEARCH, vec![tenant.into(), workspace.into(), after.into(), limit.into(), q.to_lowercase().into()]),
        None => stmt(sql::USER_LIST, vec![tenant.into(), workspace.into(), after.into(), limit.into()]),
    };
    db.query(s).await?.iter().map(user_record).collect()
}

async fn update_user(db: &impl SqlDatabase, s: Statement) -> Result<bool, StoreError> {
    Ok(!db.query(s).await?.is_empty())
}

pub async fn set_user_claims(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, claims: &serde_json::Map<String, Value>, now: i64) -> Result<bool, StoreError> {
    let claims = Value::Object(claims.clone()).to_string();
    update_user(db, stmt(sql::USER_SET_CLAIMS, vec![tenant.into(), workspace.into(), id.into(), claims.into(), now.into()])).await
}

pub async fn set_user_password(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, hash: Option<&str>, now: i64) -> Result<bool, StoreError> {
    update_user(db, stmt(sql::USER_SET_PASSWORD, vec![tenant.into(), workspace.into(), id.into(), hash.into(), now.into()])).await
}

/// A password reset by its user: the new hash, and every grant of theirs revoked (refresh tokens
/// stop at once; whoever knew the old password keeps nothing it gave), in one transaction.
/// `false` when the user is gone.
pub async fn reset_user_password(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, hash: &str, now: i64) -> Result<bool, StoreError> {
    let out = db
        .batch(vec![
            stmt(sql::USER_SET_PASSWORD, vec![tenant.into(), workspace.into(), id.into(), hash.into(), now.into()]),
            stmt(sql::GRANTS_REVOKE_FOR_USER, vec![tenant.into(), workspace.into(), id.into(), now.into()]),
        ])
        .await?;
    Ok(out.first().is_some_and(|rows| !rows.is_empty()))
}

/// Disabling also revokes the user's grants, so refresh tokens stop at once.
pub async fn set_user_disabled(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, disabled: bool, now: i64) -> Result<bool, StoreError> {
    let mut stmts = vec![stmt(sql::USER_SET_DISABLED, vec![tenant.into(), workspace.into(), id.into(), disabled.into(), now.into()])];
    if disabled {
        stmts.push(stmt(sql::GRANTS_REVOKE_FOR_USER, vec![tenant.into(), workspace.into(), id.into(), now.into()]));
    }
    let out = db.batch(stmts).await?;
    Ok(out.first().is_some_and(|rows| !rows.is_empty()))
}

/// Deletes a user with their grants' validity, consents and administrator roles, in one transaction.
pub async fn delete_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str, now: i64) -> Result<bool, StoreError> {
    let mut stmts = vec![
        stmt(sql::USER_DELETE, vec![tenant.into(), workspace.into(), id.into()]),
        stmt(sql::GRANTS_REVOKE_FOR_USER, vec![tenant.into(), workspace.into(), id.into(), now.into()]),
        stmt(sql::CONSENTS_DELETE_FOR_USER, vec![tenant.into(), workspace.into(), id.into()]),
    ];
    stmts.extend(super::federation::delete_for_user(tenant, workspace, id));
    stmts.push(super::passkeys::delete_for_user(tenant, workspace, id));
    stmts.extend(super::otp::delete_for_user(tenant, workspace, id));
    stmts.push(stmt(sql::SESSION_CUTOFF_DELETE_FOR_USER, vec![tenant.into(), workspace.into(), id.into()]));
    if tenant == crate::config::SYSTEM_TENANT && workspace == crate::config::SYSTEM_WORKSPACE {
        stmts.push(stmt(sql::ADMIN_ROLES_DELETE_FOR_USER, vec![id.into()]));
    }
    let out = db.batch(stmts).await?;
    Ok(out.first().is_some_and(|rows| !rows.is_empty()))
}

// ---------------------------------------------------------------------------------------------
// Organization templates

#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub config: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

fn template(r: &SqlRow) -> Result<Template, StoreError> {
    Ok(Template { id: text(r, "id")?, name: text(r, "name")?, config: json(r, "config")?, created_at: int(r, "created_at")?, updated_at: int(r, "updated_at")? })
}

pub async fn insert_template(db: &impl SqlDatabase, tenant: &str, t: &Template) -> Result<bool, StoreError> {
    match db.query(stmt(sql::TEMPLATE_INSERT, vec![tenant.into(), (&t.id).into(), (&t.name).into(), t.config.to_string().into(), t.created_at.into()])).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn get_template(db: &impl SqlDatabase, tenant: &str, id: &str) -> Result<Option<Template>, StoreError> {
    db.query(stmt(sql::TEMPLATE_GET, vec![tenant.into(), id.into()])).await?.first().map(template).transpose()
}

pub async fn list_templates(db: &impl SqlDatabase, tenant: &str, after: &str, limit: i64) -> Result<Vec<Template>, StoreError> {
    db.query(stmt(sql::TEMPLATE_LIST, vec![tenant.into(), after.into(), limit.into()])).await?.iter().map(template).collect()
}

pub async fn update_template(db: &impl SqlDatabase, tenant: &str, t: &Template) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::TEMPLATE_UPDATE, vec![tenant.into(), (&t.id).into(), (&t.name).into(), t.config.to_string().into(), t.updated_at.into()])).await?;
    Ok(!rows.is_empty())
}

pub async fn delete_template(db: &impl SqlDatabase, tenant: &str, id: &str) -> Result<bool, StoreError> {
    Ok(!db.query(stmt(sql::TEMPLATE_DELETE, vec![tenant.into(), id.into()])).await?.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Workspace administrators

#[derive(Debug, Clone)]
pub struct AdminEntry {
    pub user_id: String,
    pub username: Option<String>,
    pub role: String,
    pub created_at: i64,
}

pub async fn admin_role(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<Option<String>, StoreError> {
    Ok(db.query(stmt(sql::ADMIN_ROLE_GET, vec![tenant.into(), workspace.into(), user_id.into()])).await?.first().and_then(|r| r.text("role")))
}

pub async fn upsert_admin_role(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, role: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::ADMIN_ROLE_UPSERT, vec![tenant.into(), workspace.into(), user_id.into(), role.into(), now.into()])).await.map(|_| ())
}

pub async fn update_admin_role(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, role: &str, now: i64) -> Result<bool, StoreError> {
    Ok(!db.query(stmt(sql::ADMIN_ROLE_UPDATE, vec![tenant.into(), workspace.into(), user_id.into(), role.into(), now.into()])).await?.is_empty())
}

pub async fn delete_admin_role(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<bool, StoreError> {
    Ok(!db.query(stmt(sql::ADMIN_ROLE_DELETE, vec![tenant.into(), workspace.into(), user_id.into()])).await?.is_empty())
}

pub async fn list_admins(db: &impl SqlDatabase, tenant: &str, workspace: &str, after: &str, limit: i64) -> Result<Vec<AdminEntry>, StoreError> {
    let rows = db.query(stmt(sql::ADMIN_LIST, vec![tenant.into(), workspace.into(), after.into(), limit.into()])).await?;
    rows.iter().map(|r| Ok(AdminEntry { user_id: text(r, "user_id")?, username: r.text("username"), role: text(r, "role")?, created_at: int(r, "created_at")? })).collect()
}

// ---------------------------------------------------------------------------------------------
// One-time links

pub struct OneTime<'a> {
    pub token_hash: &'a str,
    pub kind: &'a str,
    pub tenant: &'a str,
    pub workspace: &'a str,
    pub subject: &'a str,
    pub payload: Value,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert_one_time(db: &impl SqlDatabase, t: OneTime<'_>) -> Result<(), StoreError> {
    db.query(stmt(
        sql::ONE_TIME_INSERT,
        vec![t.token_hash.into(), t.kind.into(), t.tenant.into(), t.workspace.into(), t.subject.into(), t.payload.to_string().into(), t.now.into(), t.expires_at.into()],
    ))
    .await
    .map(|_| ())
}

/// What a one-time link is for: `(tenant, workspace, subject, payload)`.
pub type OneTimeUse = (String, String, String, Value);

fn one_time_use(rows: Vec<SqlRow>) -> Result<Option<OneTimeUse>, StoreError> {
    rows.first().map(|r| Ok((text(r, "tenant")?, text(r, "workspace")?, text(r, "subject")?, json(r, "payload")?))).transpose()
}

/// The link's use, for the one request that consumed it while live.
pub async fn consume_one_time(db: &impl SqlDatabase, token_hash: &str, kind: &str, now: i64) -> Result<Option<OneTimeUse>, StoreError> {
    one_time_use(db.query(stmt(sql::ONE_TIME_CONSUME, vec![token_hash.into(), kind.into(), now.into()])).await?)
}

/// The link's use if it is live, without consuming it.
pub async fn peek_one_time(db: &impl SqlDatabase, token_hash: &str, kind: &str, now: i64) -> Result<Option<OneTimeUse>, StoreError> {
    one_time_use(db.query(stmt(sql::ONE_TIME_PEEK, vec![token_hash.into(), kind.into(), now.into()])).await?)
}
