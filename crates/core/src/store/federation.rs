//! Identity links (a provider's subject → a local user), users' operational attributes (how they
//! came to be, pending activation, last authentication), for `federation` and the management API.

use super::{int, sql, stmt, text, user_from_row, User};
use crate::runtime::{SqlDatabase, Statement, StoreError};
use serde_json::Value;

/// The local user linked to `subject` at provider `idp`, in pool `workspace`.
pub async fn linked_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, idp: &str, subject: &str) -> Result<Option<String>, StoreError> {
    let rows = db.query(stmt(sql::LINK_GET, vec![tenant.into(), workspace.into(), idp.into(), subject.into()])).await?;
    Ok(rows.first().and_then(|r| r.text("user_id")))
}

pub fn insert_link(tenant: &str, workspace: &str, idp: &str, subject: &str, user_id: &str, now: i64) -> Statement {
    stmt(sql::LINK_INSERT, vec![tenant.into(), workspace.into(), idp.into(), subject.into(), user_id.into(), now.into()])
}

pub fn touch_link(tenant: &str, workspace: &str, idp: &str, subject: &str, now: i64) -> Statement {
    stmt(sql::LINK_TOUCH, vec![tenant.into(), workspace.into(), idp.into(), subject.into(), now.into()])
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Link {
    pub idp: String,
    pub subject: String,
    pub created_at: i64,
    pub last_auth_at: Option<i64>,
}

pub async fn links_for_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<Vec<Link>, StoreError> {
    let rows = db.query(stmt(sql::LINKS_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    rows.iter().map(|r| Ok(Link { idp: text(r, "idp")?, subject: text(r, "subject")?, created_at: int(r, "created_at")?, last_auth_at: r.int("last_auth_at") })).collect()
}

/// Unlinks the user from `idp`; `false` when there was no such link.
pub async fn delete_link(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, idp: &str) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::LINK_DELETE, vec![tenant.into(), workspace.into(), user_id.into(), idp.into()])).await?;
    Ok(!rows.is_empty())
}

/// Forgets every link to provider `idp` (the provider was deleted).
pub async fn delete_links_for_idp(db: &impl SqlDatabase, tenant: &str, workspace: &str, idp: &str) -> Result<(), StoreError> {
    db.query(stmt(sql::LINKS_DELETE_FOR_IDP, vec![tenant.into(), workspace.into(), idp.into()])).await.map(|_| ())
}

/// Up to two users whose stored attribute `name` equals `value` (two: ambiguous). An `email` is
/// compared in lower case; `verified_email_only` also requires the stored `email_verified`.
pub async fn users_matching(db: &impl SqlDatabase, tenant: &str, workspace: &str, name: &str, value: &Value, verified_email_only: bool) -> Result<Vec<User>, StoreError> {
    let rows = if name == "email" {
        let Some(email) = value.as_str() else { return Ok(Vec::new()) };
        db.query(stmt(sql::USERS_BY_EMAIL, vec![tenant.into(), workspace.into(), email.to_lowercase().into()])).await?
    } else {
        // Attribute names are plain (letters, digits, '_', '-'): quoted into a JSON path.
        let path = format!("$.\"{name}\"");
        let v = match value {
            Value::String(s) => s.clone().into(),
            Value::Number(n) if n.is_i64() => n.as_i64().unwrap_or_default().into(),
            Value::Bool(b) => (*b).into(),
            _ => return Ok(Vec::new()),
        };
        db.query(stmt(sql::USERS_BY_ATTRIBUTE, vec![tenant.into(), workspace.into(), path.into(), v, verified_email_only.then_some(1i64).into()])).await?
    };
    let users: Vec<User> = rows.iter().map(user_from_row).collect::<Result<_, _>>()?;
    Ok(if name == "email" && verified_email_only { users.into_iter().filter(|u| u.claims.get("email_verified") == Some(&Value::Bool(true))).collect() } else { users })
}

/// How a user came to be.
pub const CREATED_BY_ADMINISTRATOR: &str = "administrator";
pub const CREATED_BY_PROVISIONING: &str = "provisioned";
/// Self-service sign-up (`oauth::authorize::self_service`).
pub const CREATED_BY_SIGN_UP: &str = "sign_up";

pub fn insert_activity(tenant: &str, workspace: &str, user_id: &str, created_by: &str, pending: bool, last_auth: Option<(i64, &str)>) -> Statement {
    stmt(
        sql::ACTIVITY_INSERT,
        vec![tenant.into(), workspace.into(), user_id.into(), created_by.into(), pending.into(), last_auth.map(|(t, _)| t).into(), last_auth.map(|(_, i)| i).into()],
    )
}

pub fn touch_activity(tenant: &str, workspace: &str, user_id: &str, auth_time: i64, idp: &str) -> Statement {
    stmt(sql::ACTIVITY_TOUCH, vec![tenant.into(), workspace.into(), user_id.into(), auth_time.into(), idp.into()])
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Activity {
    pub created_by: String,
    pub pending: bool,
    pub last_auth_at: Option<i64>,
    pub last_idp: Option<String>,
}

/// A user's operational attributes (a user older than them: made by an administrator, no sign-in known).
pub async fn activity(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<Activity, StoreError> {
    let rows = db.query(stmt(sql::ACTIVITY_GET, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    Ok(rows.first().map(activity_from_row).unwrap_or_else(|| activity_from_row(&crate::runtime::SqlRow::default())))
}

/// The operational attributes in a row (ACTIVITY_GET's, or a user record's outer join, whose
/// columns are NULL when the user has no row: made by an administrator, no sign-in known).
pub(super) fn activity_from_row(r: &crate::runtime::SqlRow) -> Activity {
    Activity {
        created_by: r.text("created_by").unwrap_or_else(|| CREATED_BY_ADMINISTRATOR.into()),
        pending: r.int("pending").unwrap_or(0) != 0,
        last_auth_at: r.int("last_auth_at"),
        last_idp: r.text("last_idp"),
    }
}

/// Activates a pending user; `false` when the user was not pending.
pub async fn activate(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::ACTIVITY_ACTIVATE, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    Ok(!rows.is_empty())
}

/// What deleting a user also removes: its links and operational attributes.
pub fn delete_for_user(tenant: &str, workspace: &str, user_id: &str) -> Vec<Statement> {
    vec![
        stmt(sql::LINKS_DELETE_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into()]),
        stmt(sql::ACTIVITY_DELETE_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into()]),
    ]
}

/// A user made by just-in-time provisioning, with what comes with it.
pub struct Provisioned<'a> {
    pub user: &'a User,
    /// The provider and its subject, linked to the user.
    pub link: (&'a str, &'a str),
    /// Manual provisioning: the user awaits an administrator.
    pub pending: bool,
    /// Administrator roles granted with it: `(tenant, workspace, role)`.
    pub roles: &'a [(String, String, String)],
}

/// The user, its link, its operational attributes and any roles, in one transaction.
/// `Ok(false)`: the username was taken meanwhile, and nothing was written.
pub async fn provision_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, p: Provisioned<'_>, now: i64) -> Result<bool, StoreError> {
    let mut stmts = vec![
        super::user_insert(tenant, workspace, p.user, now),
        insert_link(tenant, workspace, p.link.0, p.link.1, &p.user.id, now),
        insert_activity(tenant, workspace, &p.user.id, CREATED_BY_PROVISIONING, p.pending, None),
    ];
    for (t, w, role) in p.roles {
        stmts.push(stmt(sql::ADMIN_ROLE_UPSERT, vec![t.into(), w.into(), (&p.user.id).into(), role.into(), now.into()]));
    }
    match db.batch(stmts).await {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn set_claims(tenant: &str, workspace: &str, user_id: &str, claims: &serde_json::Map<String, Value>, now: i64) -> Statement {
    stmt(sql::USER_SET_CLAIMS, vec![tenant.into(), workspace.into(), user_id.into(), Value::Object(claims.clone()).to_string().into(), now.into()])
}
