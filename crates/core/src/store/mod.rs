//! Typed access to the SQLite-family store. Each function runs statements from [`sql`] and maps rows
//! to the engine's types; nothing here knows which runtime carries the statements.

pub mod consents;
pub mod counters;
pub mod federation;
pub mod management;
pub mod par;
pub mod otp;
pub mod passkeys;
pub mod registration;
pub mod replica;
pub mod sessions;
pub mod sql;

use crate::config::client::Client;
use crate::runtime::{SqlDatabase, SqlRow, SqlValue, Statement, StoreError};
use serde_json::Value;

fn stmt(sql: &'static str, params: Vec<SqlValue>) -> Statement {
    Statement::new(sql, params)
}

fn text(row: &SqlRow, col: &str) -> Result<String, StoreError> {
    row.text(col).ok_or_else(|| StoreError::new(format!("column {col} is missing")))
}

fn int(row: &SqlRow, col: &str) -> Result<i64, StoreError> {
    row.int(col).ok_or_else(|| StoreError::new(format!("column {col} is missing")))
}

fn json(row: &SqlRow, col: &str) -> Result<Value, StoreError> {
    serde_json::from_str(&text(row, col)?).map_err(|e| StoreError::new(format!("column {col} is not JSON: {e}")))
}

/// The row already existed (the adapter classified the platform's error).
pub fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::UniqueViolation(_))
}

// ---------------------------------------------------------------------------------------------
// Clients

#[derive(Debug, Clone)]
pub struct StoredClient {
    pub client: Client,
    /// base64url SHA-256 of the secret; client secrets are 256-bit random values, so a fast hash
    /// is enough (no dictionary to attack) and keeps client authentication cheap.
    pub secret_hash: Option<String>,
}

pub async fn get_client(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str) -> Result<Option<StoredClient>, StoreError> {
    let rows = db.query(stmt(sql::CLIENT_GET, vec![tenant.into(), workspace.into(), client_id.into()])).await?;
    client_from_rows(&rows)
}

/// [`get_client`] for the protocol endpoints: a read replica may answer (within
/// [`replica::STALENESS_BOUND_MS`]), except that a client it does not have is looked up on the
/// primary, as it may have been registered a moment ago.
pub async fn get_client_nearby(db: &impl SqlDatabase, now_ms: i64, tenant: &str, workspace: &str, client_id: &str) -> Result<Option<StoredClient>, StoreError> {
    let get = stmt(sql::CLIENT_GET, vec![tenant.into(), workspace.into(), client_id.into()]);
    client_from_rows(&replica::read_one(db, now_ms, replica::Freshness::Bounded, get, replica::found).await?)
}

fn client_from_rows(rows: &[SqlRow]) -> Result<Option<StoredClient>, StoreError> {
    let Some(row) = rows.first() else { return Ok(None) };
    let client: Client = serde_json::from_value(json(row, "metadata")?).map_err(|e| StoreError::new(format!("stored client is invalid: {e}")))?;
    Ok(Some(StoredClient { client, secret_hash: row.text("secret_hash") }))
}

/// Inserts a client; `Ok(false)` when the client_id is taken.
pub async fn insert_client(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: &StoredClient, now: i64) -> Result<bool, StoreError> {
    let metadata = serde_json::to_string(&c.client).map_err(|e| StoreError::new(e.to_string()))?;
    let r = db
        .query(stmt(sql::CLIENT_INSERT, vec![tenant.into(), workspace.into(), (&c.client.client_id).into(), c.secret_hash.clone().into(), metadata.into(), now.into()]))
        .await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password_hash: Option<String>,
    /// Profile claims (`name`, `email`, ...) released by scope.
    pub claims: serde_json::Map<String, Value>,
    pub disabled: bool,
}

fn user_from_row(row: &SqlRow) -> Result<User, StoreError> {
    let claims = match json(row, "claims")? {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    Ok(User { id: text(row, "id")?, username: text(row, "username")?, password_hash: row.text("password_hash"), claims, disabled: int(row, "disabled")? != 0 })
}

pub async fn get_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str) -> Result<Option<User>, StoreError> {
    let rows = db.query(stmt(sql::USER_GET, vec![tenant.into(), workspace.into(), id.into()])).await?;
    rows.first().map(user_from_row).transpose()
}

/// Usernames are matched case-insensitively: they are stored lower-cased.
pub async fn get_user_by_username(db: &impl SqlDatabase, tenant: &str, workspace: &str, username: &str) -> Result<Option<User>, StoreError> {
    let rows = db.query(stmt(sql::USER_BY_USERNAME, vec![tenant.into(), workspace.into(), username.to_lowercase().into()])).await?;
    rows.first().map(user_from_row).transpose()
}

/// The insert of a user (usernames are stored lower-cased).
fn user_insert(tenant: &str, workspace: &str, u: &User, now: i64) -> Statement {
    let claims = Value::Object(u.claims.clone()).to_string();
    stmt(sql::USER_INSERT, vec![tenant.into(), workspace.into(), (&u.id).into(), u.username.to_lowercase().into(), u.password_hash.clone().into(), claims.into(), now.into()])
}

/// A user with its operational attributes (`created_by`, `pending`: see [`federation`]), in one
/// transaction. `Ok(false)` when the username is taken, and nothing was written.
pub async fn insert_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, u: &User, now: i64, created_by: &str, pending: bool) -> Result<bool, StoreError> {
    let r = db.batch(vec![user_insert(tenant, workspace, u, now), federation::insert_activity(tenant, workspace, &u.id, created_by, pending, None)]).await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Signing keys

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub public_jwk: Value,
    /// Sealed PKCS#8 (see `crypto::seal`).
    pub private_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub remove_at: Option<i64>,
}

/// Keys still published in the JWKS, newest first.
pub async fn list_keys(db: &impl SqlDatabase, tenant: &str, workspace: &str, now: i64) -> Result<Vec<KeyRow>, StoreError> {
    key_rows(&db.query(stmt(sql::KEYS_LIST, vec![tenant.into(), workspace.into(), now.into()])).await?)
}

/// [`list_keys`] for the protocol endpoints: a read replica may answer (within
/// [`replica::STALENESS_BOUND_MS`]) unless `freshness` asks for the primary; a replica that has no
/// keys for the workspace (created a moment ago) is not believed.
pub async fn list_keys_nearby(db: &impl SqlDatabase, now_ms: i64, freshness: replica::Freshness, tenant: &str, workspace: &str) -> Result<Vec<KeyRow>, StoreError> {
    let list = stmt(sql::KEYS_LIST, vec![tenant.into(), workspace.into(), (now_ms / 1000).into()]);
    key_rows(&replica::read_one(db, now_ms, freshness, list, replica::found).await?)
}

fn key_rows(rows: &[SqlRow]) -> Result<Vec<KeyRow>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                kid: text(r, "kid")?,
                alg: text(r, "alg")?,
                public_jwk: json(r, "public_jwk")?,
                private_key: text(r, "private_key")?,
                created_at: int(r, "created_at")?,
                retired_at: r.int("retired_at"),
                remove_at: r.int("remove_at"),
            })
        })
        .collect()
}

/// Retires the current keys (they stay published until `remove_at`) and inserts the new ones, in
/// one transaction so a workspace is never without a signing key.
pub async fn rotate_keys(db: &impl SqlDatabase, tenant: &str, workspace: &str, new_keys: &[KeyRow], now: i64, remove_at: i64) -> Result<(), StoreError> {
    let mut stmts = vec![stmt(sql::KEYS_RETIRE, vec![tenant.into(), workspace.into(), now.into(), remove_at.into()])];
    stmts.extend(new_keys.iter().map(|k| key_insert(tenant, workspace, k)));
    db.batch(stmts).await.map(|_| ())
}

pub(crate) fn key_insert(tenant: &str, workspace: &str, k: &KeyRow) -> Statement {
    stmt(sql::KEY_INSERT, vec![tenant.into(), workspace.into(), (&k.kid).into(), (&k.alg).into(), k.public_jwk.to_string().into(), (&k.private_key).into(), k.created_at.into()])
}

// ---------------------------------------------------------------------------------------------
// Grants, codes, refresh tokens

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub sid: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The authentication context recorded for a sign-in through an identity provider (JSON;
    /// `authn::context` reads it). Read with the grant's user; `None` for password sign-ins.
    pub context: Option<String>,
    /// The authorization details (RFC 9396) the user granted, a JSON array; read with the grant's user.
    pub authorization_details: Option<String>,
}

pub async fn get_grant(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str) -> Result<Option<Grant>, StoreError> {
    let rows = db.query(stmt(sql::GRANT_GET, vec![id.into(), tenant.into(), workspace.into()])).await?;
    rows.first().map(grant_from_row).transpose()
}

/// A grant and its user (`None` when the user is gone) in one statement: the token endpoint needs
/// both, and on D1 every statement is a round trip.
pub async fn get_grant_with_user(db: &impl SqlDatabase, tenant: &str, workspace: &str, id: &str) -> Result<Option<(Grant, Option<User>)>, StoreError> {
    let rows = db.query(stmt(sql::GRANT_GET_WITH_USER, vec![id.into(), tenant.into(), workspace.into()])).await?;
    rows.first().map(grant_with_user_from_row).transpose()
}

fn grant_with_user_from_row(r: &SqlRow) -> Result<(Grant, Option<User>), StoreError> {
    let grant = grant_from_row(r)?;
    // The user's columns come prefixed with `u_`; without a user they are NULL.
    let user_row = SqlRow(r.0.iter().filter_map(|(c, v)| c.strip_prefix("u_").map(|c| (c.to_string(), v.clone()))).collect());
    let user = if user_row.text("id").is_some() { Some(user_from_row(&user_row)?) } else { None };
    Ok((grant, user))
}

/// A consume (`UPDATE ... RETURNING`) and, in the same batch, the grant and user of what it
/// consumed, then any `more` statements (which must act only on what this batch consumed): one
/// round trip. `None` when the consume took nothing; else the consumed row, the grant, and the
/// rows of each of `more`.
#[allow(clippy::type_complexity)]
async fn consume_with_grant(db: &impl SqlDatabase, consume: &'static str, grant: &'static str, params: Vec<SqlValue>, more: Vec<Statement>) -> Result<Option<(SqlRow, Option<(Grant, Option<User>)>, Vec<Vec<SqlRow>>)>, StoreError> {
    let mut stmts = vec![stmt(consume, params.clone()), stmt(grant, params)];
    stmts.extend(more);
    let mut results = db.batch(stmts).await?.into_iter();
    let (consumed, grants) = (results.next().unwrap_or_default(), results.next().unwrap_or_default());
    let Some(consumed) = consumed.into_iter().next() else { return Ok(None) };
    let grant = grants.first().map(grant_with_user_from_row).transpose()?;
    Ok(Some((consumed, grant, results.collect())))
}

fn grant_from_row(r: &SqlRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: text(r, "id")?,
        client_id: text(r, "client_id")?,
        user_id: text(r, "user_id")?,
        scope: text(r, "scope")?,
        sid: r.text("sid"),
        auth_time: int(r, "auth_time")?,
        acr: text(r, "acr")?,
        amr: serde_json::from_value(json(r, "amr")?).unwrap_or_default(),
        expires_at: int(r, "expires_at")?,
        revoked_at: r.int("revoked_at"),
        context: r.text("g_context"),
        authorization_details: r.text("g_authorization_details"),
    })
}

pub struct NewCode<'a> {
    pub code_hash: &'a str,
    pub grant: &'a Grant,
    /// JSON of what the token endpoint must check and put into tokens.
    pub request: String,
    pub now: i64,
    pub expires_at: i64,
    /// The Open Finance consent the grant is bound to (`consent:{id}` scope), linked in the same batch.
    pub consent_id: Option<&'a str>,
    /// The user's last authentication, recorded in the same batch for a local user: `(auth_time, idp)`.
    pub activity: Option<(i64, &'a str)>,
}

/// Creates the grant and its code together: a code never exists without its grant.
pub async fn insert_grant_and_code(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: NewCode<'_>) -> Result<(), StoreError> {
    let (grant, code) = grant_and_code_params(tenant, workspace, &c);
    let mut stmts = vec![stmt(sql::GRANT_INSERT, grant), stmt(sql::CODE_INSERT, code)];
    if let Some(consent_id) = c.consent_id {
        stmts.push(consents::link_grant(consent_id, &c.grant.id));
    }
    stmts.extend(grant_extras(tenant, workspace, &c, [sql::GRANT_CONTEXT_INSERT, sql::GRANT_DETAILS_INSERT]));
    db.batch(stmts).await.map(|_| ())
}

/// The grant and code of [`insert_grant_and_code`], written only when the user's remembered
/// consent covers every scope in `scopes`: `Ok(false)`, and nothing written, when it does not.
/// Never for an Open Finance consent (those always ask): `c.consent_id` is not linked here.
pub async fn insert_grant_and_code_if_consented(db: &impl SqlDatabase, tenant: &str, workspace: &str, c: NewCode<'_>, scopes: &[&str]) -> Result<bool, StoreError> {
    let (mut grant, code) = grant_and_code_params(tenant, workspace, &c);
    grant.push(serde_json::to_string(scopes).map_err(|e| StoreError::new(e.to_string()))?.into());
    let mut stmts = vec![stmt(sql::GRANT_INSERT_IF_CONSENTED, grant), stmt(sql::CODE_INSERT_IF_GRANT, code)];
    stmts.extend(grant_extras(tenant, workspace, &c, [sql::GRANT_CONTEXT_INSERT_IF_GRANT, sql::GRANT_DETAILS_INSERT_IF_GRANT]));
    let results = db.batch(stmts).await?;
    Ok(results.iter().take(2).all(|rows| !rows.is_empty()))
}

/// What a grant's batch also writes: its authentication context (a sign-in through an identity
/// provider), its authorization details, and the user's last authentication. Riding in the
/// batch, none costs a round trip. `inserts`: the context's and the details' statements.
fn grant_extras(tenant: &str, workspace: &str, c: &NewCode<'_>, inserts: [&'static str; 2]) -> Vec<Statement> {
    let g = c.grant;
    let mut out = Vec::new();
    for (value, insert) in [(&g.context, inserts[0]), (&g.authorization_details, inserts[1])] {
        if let Some(v) = value {
            out.push(stmt(insert, vec![(&g.id).into(), tenant.into(), workspace.into(), v.into()]));
        }
    }
    if let Some((auth_time, idp)) = c.activity {
        out.push(federation::touch_activity(tenant, workspace, &g.user_id, auth_time, idp));
    }
    out
}

fn grant_and_code_params(tenant: &str, workspace: &str, c: &NewCode<'_>) -> (Vec<SqlValue>, Vec<SqlValue>) {
    let g = c.grant;
    let grant = vec![
        (&g.id).into(),
        tenant.into(),
        workspace.into(),
        (&g.client_id).into(),
        (&g.user_id).into(),
        (&g.scope).into(),
        g.sid.clone().into(),
        g.auth_time.into(),
        (&g.acr).into(),
        serde_json::to_string(&g.amr).unwrap_or_else(|_| "[]".into()).into(),
        c.now.into(),
        g.expires_at.into(),
    ];
    let code = vec![c.code_hash.into(), (&g.id).into(), tenant.into(), workspace.into(), (&g.client_id).into(), c.request.as_str().into(), c.now.into(), c.expires_at.into()];
    (grant, code)
}

pub enum CodeRedemption {
    /// This request won the code: the stored request, and the grant with its user
    /// (read in the same round trip; `None` if the grant is gone); whether the refresh token asked
    /// for was stored with them (not for a revoked grant).
    Redeemed { request: String, grant: Option<Box<(Grant, Option<User>)>>, refresh_stored: bool },
    /// The code was already used: the caller revokes `grant_id` (RFC 6749 §4.1.2).
    Replayed { grant_id: String },
    /// Unknown, expired, or issued to another client.
    Invalid,
}

/// Consumes a code and reads its grant and user, and with `refresh` stores a refresh token for the
/// grant (`refresh.scope` is ignored: the grant's own), all in one round trip.
pub async fn redeem_code(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, code_hash: &str, now: i64, refresh: Option<&Successor<'_>>) -> Result<CodeRedemption, StoreError> {
    let params: Vec<SqlValue> = vec![code_hash.into(), tenant.into(), workspace.into(), client_id.into(), now.into()];
    let more = refresh
        .map(|s| {
            let mut p = params.clone();
            p.extend([s.token_hash.into(), s.expires_at.into()]);
            vec![stmt(sql::REFRESH_INSERT_FOR_CODE, p)]
        })
        .unwrap_or_default();
    if let Some((r, grant, more)) = consume_with_grant(db, sql::CODE_CONSUME, sql::GRANT_GET_WITH_USER_BY_CODE, params, more).await? {
        let refresh_stored = more.first().is_some_and(|rows| !rows.is_empty());
        return Ok(CodeRedemption::Redeemed { request: text(&r, "request")?, grant: grant.map(Box::new), refresh_stored });
    }
    let rows = db.query(stmt(sql::CODE_GET, vec![code_hash.into(), tenant.into(), workspace.into()])).await?;
    Ok(match rows.first() {
        Some(r) if r.int("used_at").is_some() && r.text("client_id").as_deref() == Some(client_id) => CodeRedemption::Replayed { grant_id: text(r, "grant_id")? },
        _ => CodeRedemption::Invalid,
    })
}

pub async fn revoke_grant(db: &impl SqlDatabase, grant_id: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::GRANT_REVOKE, vec![grant_id.into(), now.into()])).await.map(|_| ())
}

pub async fn revoke_grants_for(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, client_id: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::GRANTS_REVOKE_FOR_USER_CLIENT, vec![tenant.into(), workspace.into(), user_id.into(), client_id.into(), now.into()])).await.map(|_| ())
}

#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    pub used_at: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
}

pub async fn get_refresh_token(db: &impl SqlDatabase, tenant: &str, workspace: &str, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
    let rows = db.query(stmt(sql::REFRESH_GET, vec![token_hash.into(), tenant.into(), workspace.into()])).await?;
    rows.first().map(refresh_from_row).transpose()
}

/// A refresh token and its grant (with its user), for introspection, in one round trip that a read
/// replica may answer (within [`replica::STALENESS_BOUND_MS`]); a token the replica does not have
/// (issued a moment ago) is looked up on the primary.
#[allow(clippy::type_complexity)]
pub async fn refresh_token_with_grant(db: &impl SqlDatabase, now_ms: i64, tenant: &str, workspace: &str, token_hash: &str) -> Result<Option<(RefreshRecord, Option<(Grant, Option<User>)>)>, StoreError> {
    let params: Vec<SqlValue> = vec![token_hash.into(), tenant.into(), workspace.into()];
    let token_found = |rows: &[Vec<SqlRow>]| rows.first().is_some_and(|r| replica::found(r));
    let rows = replica::read(db, now_ms, vec![stmt(sql::REFRESH_GET, params.clone()), stmt(sql::GRANT_GET_WITH_USER_OF_REFRESH, params)], token_found).await?;
    let mut rows = rows.into_iter();
    let (token, grant) = (rows.next().unwrap_or_default(), rows.next().unwrap_or_default());
    let Some(token) = token.first() else { return Ok(None) };
    Ok(Some((refresh_from_row(token)?, grant.first().map(grant_with_user_from_row).transpose()?)))
}

fn refresh_from_row(r: &SqlRow) -> Result<RefreshRecord, StoreError> {
    Ok(RefreshRecord {
        grant_id: text(r, "grant_id")?,
        client_id: text(r, "client_id")?,
        scope: text(r, "scope")?,
        used_at: r.int("used_at"),
        expires_at: int(r, "expires_at")?,
        created_at: int(r, "created_at")?,
    })
}

/// The token that replaces a rotated one, written in the batch that consumes the old one.
pub struct Successor<'a> {
    pub token_hash: &'a str,
    /// A narrowed scope; `None` keeps the consumed token's.
    pub scope: Option<&'a str>,
    /// At most this (the grant's own expiry caps it).
    pub expires_at: i64,
}

pub struct Rotation {
    /// The consumed token's scope.
    pub scope: String,
    pub grant: Option<(Grant, Option<User>)>,
    /// Whether the successor was written (it is, whenever a successor was given and the grant exists).
    pub successor_stored: bool,
}

/// Consumes a refresh token (rotation), reads its grant and user, and writes its successor, in one
/// round trip. `None` when nothing was consumed (and then nothing was written).
pub async fn rotate_refresh_token(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, token_hash: &str, now: i64, successor: Option<&Successor<'_>>) -> Result<Option<Rotation>, StoreError> {
    let params: Vec<SqlValue> = vec![token_hash.into(), tenant.into(), workspace.into(), client_id.into(), now.into()];
    let more = successor
        .map(|s| {
            let mut p = params.clone();
            p.extend([s.token_hash.into(), s.scope.map(SqlValue::from).unwrap_or(SqlValue::Null), s.expires_at.into()]);
            vec![stmt(sql::REFRESH_INSERT_ROTATED, p)]
        })
        .unwrap_or_default();
    let Some((r, grant, more)) = consume_with_grant(db, sql::REFRESH_CONSUME, sql::GRANT_GET_WITH_USER_BY_REFRESH, params, more).await? else { return Ok(None) };
    Ok(Some(Rotation { scope: text(&r, "scope")?, grant, successor_stored: more.first().is_some_and(|rows| !rows.is_empty()) }))
}

/// Records a single-use value; `Ok(false)` when it was seen before.
pub async fn use_jti(db: &impl SqlDatabase, tenant: &str, workspace: &str, client_id: &str, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
    let rows = db.query(stmt(sql::JTI_USE, vec![tenant.into(), workspace.into(), client_id.into(), jti.into(), expires_at.into()])).await?;
    Ok(!rows.is_empty())
}

pub async fn revoke_access_token(db: &impl SqlDatabase, tenant: &str, workspace: &str, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::TOKEN_REVOKE, vec![jti.into(), tenant.into(), workspace.into(), expires_at.into()])).await.map(|_| ())
}

/// True when an access token's grant (if it has one) is live and its `jti` was not revoked. A read
/// replica may answer (within [`replica::STALENESS_BOUND_MS`]); a grant it does not have yet (issued
/// a moment ago) is looked up on the primary.
pub async fn access_token_live(db: &impl SqlDatabase, now_ms: i64, grant_id: Option<&str>, jti: &str) -> Result<bool, StoreError> {
    let status = stmt(sql::ACCESS_TOKEN_STATUS, vec![grant_id.unwrap_or("").into(), jti.into()]);
    let rows = replica::read_one(db, now_ms, replica::Freshness::Bounded, status, |rows| grant_found(rows, grant_id)).await?;
    let Some(r) = rows.first() else { return Ok(false) };
    Ok(token_status_live(r, grant_id))
}

/// A replica's status row is settled when it has the grant (a revoked grant stays revoked).
fn grant_found(rows: &[SqlRow], grant_id: Option<&str>) -> bool {
    grant_id.is_none() || rows.first().is_some_and(|r| r.int("grant_exists") == Some(1))
}

/// The token's `jti` is not revoked and its grant, if it has one, exists and is not revoked.
fn token_status_live(r: &SqlRow, grant_id: Option<&str>) -> bool {
    let token_revoked = r.int("token_revoked").unwrap_or(1) != 0;
    let grant_ok = grant_id.is_none() || (r.int("grant_exists").unwrap_or(0) == 1 && r.int("grant_revoked_at").is_none());
    grant_ok && !token_revoked
}

/// [`access_token_live`] and [`get_user`] in one statement, so one round trip (the userinfo
/// endpoint needs both), from a replica on the same terms (a user it does not have is asked of the
/// primary too).
/// Also the grant's authentication context, if it has one (see [`Grant::context`]).
pub async fn access_token_live_and_user(db: &impl SqlDatabase, now_ms: i64, tenant: &str, workspace: &str, grant_id: Option<&str>, jti: &str, user_id: &str) -> Result<(bool, Option<User>, Option<String>), StoreError> {
    let settled = |rows: &[SqlRow]| grant_found(rows, grant_id) && rows.first().is_some_and(|r| r.text("id").is_some());
    let status = stmt(sql::ACCESS_TOKEN_STATUS_AND_USER, vec![tenant.into(), workspace.into(), user_id.into(), grant_id.unwrap_or("").into(), jti.into()]);
    let rows = replica::read_one(db, now_ms, replica::Freshness::Bounded, status, settled).await?;
    let Some(r) = rows.first() else { return Ok((false, None, None)) };
    let live = token_status_live(r, grant_id);
    let user = if r.text("id").is_some() { Some(user_from_row(r)?) } else { None };
    Ok((live, user, r.text("g_context")))
}

// ---------------------------------------------------------------------------------------------
// Consents

pub async fn get_consent(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
    let rows = db.query(stmt(sql::CONSENT_GET, vec![tenant.into(), workspace.into(), user_id.into(), client_id.into()])).await?;
    Ok(rows.first().and_then(|r| r.text("scope")))
}

pub async fn save_consent(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, client_id: &str, scope: &str, now: i64) -> Result<(), StoreError> {
    db.query(stmt(sql::CONSENT_UPSERT, vec![tenant.into(), workspace.into(), user_id.into(), client_id.into(), scope.into(), now.into()])).await.map(|_| ())
}

/// A remembered consent as the account page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedConsent {
    pub client_id: String,
    /// The client's `client_name`; empty when it has none (or is gone).
    pub client_name: String,
    pub scope: String,
    pub granted_at: i64,
}

pub async fn list_consents(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str) -> Result<Vec<ListedConsent>, StoreError> {
    let rows = db.query(stmt(sql::CONSENTS_FOR_USER, vec![tenant.into(), workspace.into(), user_id.into()])).await?;
    rows.iter()
        .map(|r| Ok(ListedConsent { client_id: text(r, "client_id")?, client_name: r.text("client_name").unwrap_or_default(), scope: text(r, "scope")?, granted_at: int(r, "granted_at")? }))
        .collect()
}

/// Withdraws a consent and revokes every grant the client holds for the user, in one transaction.
pub async fn withdraw_consent(db: &impl SqlDatabase, tenant: &str, workspace: &str, user_id: &str, client_id: &str, now: i64) -> Result<(), StoreError> {
    db.batch(vec![
        stmt(sql::CONSENT_DELETE, vec![tenant.into(), workspace.into(), user_id.into(), client_id.into()]),
        stmt(sql::GRANTS_REVOKE_FOR_USER_CLIENT, vec![tenant.into(), workspace.into(), user_id.into(), client_id.into(), now.into()]),
    ])
    .await
    .map(|_| ())
}
