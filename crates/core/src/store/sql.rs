//! Every SQL statement the engine runs, for D1, Spin SQLite and the native store alike.
//! Parameters are positional (`?1`, `?2`, ...); the schema is `migrations/`.

// Clients
pub const CLIENT_GET: &str = "SELECT secret_hash, metadata FROM clients WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3";
pub const CLIENT_INSERT: &str = "INSERT INTO clients (tenant, workspace, client_id, secret_hash, metadata, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";

// Users
pub const USER_GET: &str = "SELECT id, username, password_hash, claims, disabled FROM users WHERE tenant = ?1 AND workspace = ?2 AND id = ?3";
pub const USER_BY_USERNAME: &str = "SELECT id, username, password_hash, claims, disabled FROM users WHERE tenant = ?1 AND workspace = ?2 AND username = ?3";
pub const USER_INSERT: &str = "INSERT INTO users (tenant, workspace, id, username, password_hash, claims, disabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)";

// Identity links, users' operational attributes, grants' contexts (migrations/0007_identity_providers.sql)
pub const LINK_GET: &str = "SELECT user_id FROM identity_links WHERE tenant = ?1 AND workspace = ?2 AND idp = ?3 AND subject = ?4";
/// A new link; the one already there (for this subject, or for this user at this provider) wins.
pub const LINK_INSERT: &str = "INSERT INTO identity_links (tenant, workspace, idp, subject, user_id, created_at, last_auth_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING RETURNING user_id";
pub const LINKS_FOR_USER: &str = "SELECT idp, subject, created_at, last_auth_at FROM identity_links WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 ORDER BY idp";
pub const LINK_DELETE: &str = "DELETE FROM identity_links WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND idp = ?4 RETURNING subject";
pub const LINK_TOUCH: &str = "UPDATE identity_links SET last_auth_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND idp = ?3 AND subject = ?4";
pub const LINKS_DELETE_FOR_USER: &str = "DELETE FROM identity_links WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const LINKS_DELETE_FOR_IDP: &str = "DELETE FROM identity_links WHERE tenant = ?1 AND workspace = ?2 AND idp = ?3";
/// At most two users whose stored attribute at JSON path ?3 equals ?4 (two: the match is ambiguous).
/// ?5 (1 or NULL): the user's stored `email_verified` must be true as well.
pub const USERS_BY_ATTRIBUTE: &str = "SELECT id, username, password_hash, claims, disabled FROM users WHERE tenant = ?1 AND workspace = ?2 AND json_extract(claims, ?3) = ?4 AND (?5 IS NULL OR json_extract(claims, '$.email_verified') = 1) LIMIT 2";
/// The same, with emails compared in lower case.
pub const USERS_BY_EMAIL: &str = "SELECT id, username, password_hash, claims, disabled FROM users WHERE tenant = ?1 AND workspace = ?2 AND lower(json_extract(claims, '$.email')) = ?3 LIMIT 2";
pub const ACTIVITY_INSERT: &str = "INSERT INTO user_activity (tenant, workspace, user_id, created_by, pending, last_auth_at, last_idp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
/// The last authentication of a user (a user made before the table counts as an administrator's).
pub const ACTIVITY_TOUCH: &str = "INSERT INTO user_activity (tenant, workspace, user_id, created_by, pending, last_auth_at, last_idp) VALUES (?1, ?2, ?3, 'administrator', 0, ?4, ?5) ON CONFLICT (tenant, workspace, user_id) DO UPDATE SET last_auth_at = excluded.last_auth_at, last_idp = excluded.last_idp";
pub const ACTIVITY_GET: &str = "SELECT created_by, pending, last_auth_at, last_idp FROM user_activity WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const ACTIVITY_ACTIVATE: &str = "UPDATE user_activity SET pending = 0 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND pending = 1 RETURNING user_id";
pub const ACTIVITY_DELETE_FOR_USER: &str = "DELETE FROM user_activity WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const GRANT_CONTEXT_INSERT: &str = "INSERT INTO grant_contexts (grant_id, tenant, workspace, context) VALUES (?1, ?2, ?3, ?4)";
/// GRANT_CONTEXT_INSERT only when its grant exists (the remembered-consent batch may write none).
pub const GRANT_CONTEXT_INSERT_IF_GRANT: &str = "INSERT INTO grant_contexts (grant_id, tenant, workspace, context) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM grants WHERE id = ?1 AND tenant = ?2 AND workspace = ?3)";
pub const WORKSPACE_DELETE_LINKS: &str = "DELETE FROM identity_links WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_ACTIVITY: &str = "DELETE FROM user_activity WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_GRANT_CONTEXTS: &str = "DELETE FROM grant_contexts WHERE tenant = ?1 AND workspace = ?2";

// Grants' authorization details (migrations/0008_rich_authorization.sql)
pub const GRANT_DETAILS_INSERT: &str = "INSERT INTO grant_authorization_details (grant_id, tenant, workspace, details) VALUES (?1, ?2, ?3, ?4)";
/// GRANT_DETAILS_INSERT only when its grant exists (the remembered-consent batch may write none).
pub const GRANT_DETAILS_INSERT_IF_GRANT: &str = "INSERT INTO grant_authorization_details (grant_id, tenant, workspace, details) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM grants WHERE id = ?1 AND tenant = ?2 AND workspace = ?3)";
pub const WORKSPACE_DELETE_GRANT_DETAILS: &str = "DELETE FROM grant_authorization_details WHERE tenant = ?1 AND workspace = ?2";

// Signing keys
pub const KEYS_LIST: &str = "SELECT kid, alg, public_jwk, private_key, created_at, retired_at, remove_at FROM signing_keys WHERE tenant = ?1 AND workspace = ?2 AND (remove_at IS NULL OR remove_at > ?3) ORDER BY created_at DESC, kid";
pub const KEY_INSERT: &str = "INSERT INTO signing_keys (tenant, workspace, kid, alg, public_jwk, private_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// Retires every signing key of the workspace older than the rotation (the new keys are inserted after).
pub const KEYS_RETIRE: &str = "UPDATE signing_keys SET retired_at = ?3, remove_at = ?4 WHERE tenant = ?1 AND workspace = ?2 AND retired_at IS NULL";

/// `INSERT INTO {table} ({columns}) ` followed by the rest: one column list for a table's plain
/// insert and its conditional twin (`... SELECT ... WHERE`).
macro_rules! insert_into {
    (grants, $rest:literal) => {
        concat!("INSERT INTO grants (id, tenant, workspace, client_id, user_id, scope, sid, auth_time, acr, amr, created_at, expires_at) ", $rest)
    };
    (authorization_codes, $rest:literal) => {
        concat!("INSERT INTO authorization_codes (code_hash, grant_id, tenant, workspace, client_id, request, created_at, expires_at) ", $rest)
    };
    (refresh_tokens, $rest:literal) => {
        concat!("INSERT INTO refresh_tokens (token_hash, grant_id, tenant, workspace, client_id, scope, created_at, expires_at) ", $rest)
    };
}

// Grants
pub const GRANT_INSERT: &str = insert_into!(grants, "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
pub const GRANT_GET: &str = "SELECT id, client_id, user_id, scope, sid, auth_time, acr, amr, expires_at, revoked_at FROM grants WHERE id = ?1 AND tenant = ?2 AND workspace = ?3";
/// GRANT_GET with the grant's user (USER_GET's columns prefixed `u_`, NULL when the user is gone).
/// A grant and its user (columns prefixed `u_`, NULL without one), joined from `grants g`.
macro_rules! grant_with_user {
    ($($rest:literal),+) => {
        concat!(
            "SELECT g.id, g.client_id, g.user_id, g.scope, g.sid, g.auth_time, g.acr, g.amr, g.expires_at, g.revoked_at, u.id AS u_id, u.username AS u_username, u.password_hash AS u_password_hash, u.claims AS u_claims, u.disabled AS u_disabled, gc.context AS g_context, gd.details AS g_authorization_details FROM grants g LEFT JOIN users u ON u.tenant = g.tenant AND u.workspace = g.workspace AND u.id = g.user_id LEFT JOIN grant_contexts gc ON gc.grant_id = g.id LEFT JOIN grant_authorization_details gd ON gd.grant_id = g.id ",
            $($rest),+
        )
    };
}
pub const GRANT_GET_WITH_USER: &str = grant_with_user!("WHERE g.id = ?1 AND g.tenant = ?2 AND g.workspace = ?3");
/// Run in the batch right after CODE_CONSUME (same parameters): the grant of the code this batch
/// consumed, so a redemption is one round trip. Its rows count only when the consume returned one.
pub const GRANT_GET_WITH_USER_BY_CODE: &str = grant_with_user!(
    "WHERE g.tenant = ?2 AND g.workspace = ?3 AND g.id = (SELECT grant_id FROM authorization_codes WHERE code_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at = ?5)"
);
/// Run in the batch right after REFRESH_CONSUME (same parameters): the grant of the token this
/// batch consumed. Its rows count only when the consume returned one.
pub const GRANT_GET_WITH_USER_BY_REFRESH: &str = grant_with_user!(
    "WHERE g.tenant = ?2 AND g.workspace = ?3 AND g.id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at = ?5)"
);
/// Beside REFRESH_GET (same parameters), for introspection: the grant of a refresh token.
pub const GRANT_GET_WITH_USER_OF_REFRESH: &str = grant_with_user!(
    "WHERE g.tenant = ?2 AND g.workspace = ?3 AND g.id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = ?1 AND tenant = ?2 AND workspace = ?3)"
);
pub const GRANT_REVOKE: &str = "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";
pub const GRANTS_REVOKE_FOR_USER_CLIENT: &str = "UPDATE grants SET revoked_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND client_id = ?4 AND revoked_at IS NULL";
/// Whether an access token is still good: its grant (if any) is live and its `jti` not revoked.
pub const ACCESS_TOKEN_STATUS: &str = "SELECT (SELECT revoked_at FROM grants WHERE id = ?1) AS grant_revoked_at, (SELECT count(*) FROM grants WHERE id = ?1) AS grant_exists, (SELECT count(*) FROM revoked_tokens WHERE jti = ?2) AS token_revoked";
/// The same status and the user (columns of USER_GET, NULL when there is no such user), in one
/// statement: userinfo needs both.
pub const ACCESS_TOKEN_STATUS_AND_USER: &str = "SELECT (SELECT revoked_at FROM grants WHERE id = ?4) AS grant_revoked_at, (SELECT count(*) FROM grants WHERE id = ?4) AS grant_exists, (SELECT count(*) FROM revoked_tokens WHERE jti = ?5) AS token_revoked, (SELECT context FROM grant_contexts WHERE grant_id = ?4) AS g_context, u.id, u.username, u.password_hash, u.claims, u.disabled FROM (SELECT 1) LEFT JOIN users u ON u.tenant = ?1 AND u.workspace = ?2 AND u.id = ?3";

// Authorization codes: consumed atomically, exactly one redemption wins.
pub const CODE_INSERT: &str = insert_into!(authorization_codes, "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
/// GRANT_INSERT (?1-?12 as there) only when the user's remembered consent for the client covers
/// every scope in ?13 (a JSON array of scope names); a missing consent covers nothing. With
/// CODE_INSERT_IF_GRANT after it in one batch, an authorization with a remembered consent checks
/// and issues in one round trip, and writes nothing when consent is needed.
pub const GRANT_INSERT_IF_CONSENTED: &str = insert_into!(grants, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 WHERE NOT EXISTS (SELECT 1 FROM json_each(?13) j WHERE instr(' ' || COALESCE((SELECT c.scope FROM consents c WHERE c.tenant = ?2 AND c.workspace = ?3 AND c.user_id = ?5 AND c.client_id = ?4), '') || ' ', ' ' || j.value || ' ') = 0) RETURNING id");
/// CODE_INSERT (?1-?8 as there) only when its grant (?2) exists: the one the batch just wrote.
pub const CODE_INSERT_IF_GRANT: &str = insert_into!(authorization_codes, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM grants WHERE id = ?2 AND tenant = ?3 AND workspace = ?4) RETURNING code_hash");
pub const CODE_CONSUME: &str = "UPDATE authorization_codes SET used_at = ?5 WHERE code_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at IS NULL AND expires_at > ?5 RETURNING request";
pub const CODE_GET: &str = "SELECT grant_id, client_id, used_at, expires_at FROM authorization_codes WHERE code_hash = ?1 AND tenant = ?2 AND workspace = ?3";

// Refresh tokens
/// Run in the batch after REFRESH_CONSUME (?1-?5 as there): the rotated token's successor, ?6 its
/// hash, ?7 a narrowed scope (NULL keeps the consumed token's), ?8 the latest expiry (the grant's
/// own expiry caps it). It inserts only what this batch consumed, so a rotation is one round trip.
pub const REFRESH_INSERT_ROTATED: &str = insert_into!(refresh_tokens, "SELECT ?6, r.grant_id, r.tenant, r.workspace, r.client_id, COALESCE(?7, r.scope), ?5, MIN(?8, g.expires_at) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = ?1 AND r.tenant = ?2 AND r.workspace = ?3 AND r.client_id = ?4 AND r.used_at = ?5 RETURNING token_hash");
/// Run in the batch after CODE_CONSUME (?1-?5 as there): a refresh token for the grant of the code
/// this batch consumed, ?6 its hash, ?7 the latest expiry (the grant's own expiry caps it), with the
/// grant's scope; nothing for a revoked grant. A redemption that issues a refresh token is then one
/// round trip.
pub const REFRESH_INSERT_FOR_CODE: &str = insert_into!(refresh_tokens, "SELECT ?6, c.grant_id, c.tenant, c.workspace, c.client_id, g.scope, ?5, MIN(?7, g.expires_at) FROM authorization_codes c JOIN grants g ON g.id = c.grant_id WHERE c.code_hash = ?1 AND c.tenant = ?2 AND c.workspace = ?3 AND c.client_id = ?4 AND c.used_at = ?5 AND g.revoked_at IS NULL RETURNING token_hash");
/// Rotation: marks the token used; only the request that flips `used_at` gets the row back.
/// Consumes a refresh token of a live grant in one statement: the winner of a race is decided here,
/// and a grant revoked by a concurrent reuse detection after this point does not undo its win.
pub const REFRESH_CONSUME: &str = "UPDATE refresh_tokens SET used_at = ?5 WHERE token_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at IS NULL AND expires_at > ?5 AND grant_id IN (SELECT id FROM grants WHERE revoked_at IS NULL) RETURNING scope";
pub const REFRESH_GET: &str = "SELECT grant_id, client_id, scope, used_at, expires_at, created_at FROM refresh_tokens WHERE token_hash = ?1 AND tenant = ?2 AND workspace = ?3";

// Single-use client assertion identifiers: the insert that returns a row is the first use.
pub const JTI_USE: &str = "INSERT INTO used_jti (tenant, workspace, client_id, jti, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING RETURNING jti";

// Pushed authorization requests (RFC 9126; migrations/0003_open_finance.sql)
pub const PAR_INSERT: &str = "INSERT INTO pushed_requests (uri_hash, tenant, workspace, client_id, request, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// Single use: only the request that flips `used_at` gets the row back; another client's,
/// an expired or a used request_uri returns nothing (and is not consumed).
pub const PAR_CONSUME: &str = "UPDATE pushed_requests SET used_at = ?5 WHERE uri_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at IS NULL AND expires_at > ?5 RETURNING request";
pub const WORKSPACE_DELETE_PAR: &str = "DELETE FROM pushed_requests WHERE tenant = ?1 AND workspace = ?2";

// Open Finance Brasil consents (migrations/0004_open_finance_consents.sql)
pub const OB_CONSENT_INSERT: &str = "INSERT INTO ob_consents (id, tenant, workspace, client_id, kind, status, document, created_at, status_updated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)";
pub const OB_CONSENT_GET: &str = "SELECT id, client_id, kind, status, document, user_id, rejection, created_at, status_updated_at, expires_at FROM ob_consents WHERE id = ?1 AND tenant = ?2 AND workspace = ?3";
/// A state change happens once: only from the state the caller saw (`?4`), so of two concurrent
/// decisions one wins and the other gets no row back.
pub const OB_CONSENT_SET_STATUS: &str = "UPDATE ob_consents SET status = ?5, rejection = ?6, user_id = COALESCE(?7, user_id), status_updated_at = ?8 WHERE id = ?1 AND tenant = ?2 AND workspace = ?3 AND status = ?4 RETURNING id";
pub const OB_CONSENT_GRANT_LINK: &str = "INSERT INTO ob_consent_grants (consent_id, grant_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
pub const OB_CONSENT_REVOKE_GRANTS: &str = "UPDATE grants SET revoked_at = ?2 WHERE revoked_at IS NULL AND id IN (SELECT grant_id FROM ob_consent_grants WHERE consent_id = ?1)";
pub const WORKSPACE_DELETE_OB_CONSENT_GRANTS: &str = "DELETE FROM ob_consent_grants WHERE consent_id IN (SELECT id FROM ob_consents WHERE tenant = ?1 AND workspace = ?2)";
pub const WORKSPACE_DELETE_OB_CONSENTS: &str = "DELETE FROM ob_consents WHERE tenant = ?1 AND workspace = ?2";

// Payment consents, idempotency keys, extensions, bank-side lists (migrations/0005_open_finance_payments.sql)
/// Claims an idempotency key for a new consent; an expired claim is taken over. A row comes back
/// only when this request holds the key.
pub const OB_IDEMPOTENCY_CLAIM: &str = "INSERT INTO ob_idempotency (tenant, workspace, client_id, idempotency_key, request_hash, consent_id, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (tenant, workspace, client_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash, consent_id = excluded.consent_id, expires_at = excluded.expires_at WHERE ob_idempotency.expires_at <= ?8 RETURNING consent_id";
pub const OB_IDEMPOTENCY_GET: &str = "SELECT request_hash, consent_id FROM ob_idempotency WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3 AND idempotency_key = ?4 AND expires_at > ?5";
/// OB_CONSENT_INSERT, run in the claim's batch: inserts only if the claim (`?10`) names this consent.
pub const OB_CONSENT_INSERT_IF_CLAIMED: &str = "INSERT INTO ob_consents (id, tenant, workspace, client_id, kind, status, document, created_at, status_updated_at, expires_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9 WHERE EXISTS (SELECT 1 FROM ob_idempotency WHERE tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND idempotency_key = ?10 AND consent_id = ?1)";
/// A consent's list filter: `?3` kinds and `?6` statuses as `,a,b,` (NULL: any), `?4` client, `?5` user.
pub const OB_CONSENT_LIST: &str = "SELECT id, client_id, kind, status, document, user_id, rejection, created_at, status_updated_at, expires_at FROM ob_consents WHERE tenant = ?1 AND workspace = ?2 AND (?3 IS NULL OR instr(?3, ',' || kind || ',') > 0) AND (?4 IS NULL OR client_id = ?4) AND (?5 IS NULL OR user_id = ?5) AND (?6 IS NULL OR instr(?6, ',' || status || ',') > 0) AND id > ?7 ORDER BY id LIMIT ?8";
/// Extends an AUTHORISED consent, only from the expiry the caller saw (`?4`, NULL-safe).
pub const OB_CONSENT_EXTEND: &str = "UPDATE ob_consents SET expires_at = ?5, document = ?6 WHERE id = ?1 AND tenant = ?2 AND workspace = ?3 AND status = 'AUTHORISED' AND expires_at IS ?4 RETURNING id";
pub const OB_EXTENSION_INSERT: &str = "INSERT INTO ob_consent_extensions (consent_id, requested_at, expires_at, previous_expires_at, document) VALUES (?1, ?2, ?3, ?4, ?5)";
pub const OB_EXTENSION_LIST: &str = "SELECT requested_at, expires_at, previous_expires_at, document FROM ob_consent_extensions WHERE consent_id = ?1 ORDER BY requested_at DESC, rowid DESC LIMIT 100";
pub const WORKSPACE_DELETE_OB_EXTENSIONS: &str = "DELETE FROM ob_consent_extensions WHERE consent_id IN (SELECT id FROM ob_consents WHERE tenant = ?1 AND workspace = ?2)";
pub const WORKSPACE_DELETE_OB_IDEMPOTENCY: &str = "DELETE FROM ob_idempotency WHERE tenant = ?1 AND workspace = ?2";

// Revoked access tokens
pub const TOKEN_REVOKE: &str = "INSERT INTO revoked_tokens (jti, tenant, workspace, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

// Consents
pub const CONSENT_GET: &str = "SELECT scope, granted_at FROM consents WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND client_id = ?4";
pub const CONSENT_UPSERT: &str = "INSERT INTO consents (tenant, workspace, user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant, workspace, user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";
/// A user's consents with each client's name (NULL when the client has none, or is gone).
pub const CONSENTS_FOR_USER: &str = "SELECT c.client_id, c.scope, c.granted_at, json_extract(cl.metadata, '$.client_name') AS client_name FROM consents c LEFT JOIN clients cl ON cl.tenant = c.tenant AND cl.workspace = c.workspace AND cl.client_id = c.client_id WHERE c.tenant = ?1 AND c.workspace = ?2 AND c.user_id = ?3 ORDER BY c.client_id";
pub const CONSENT_DELETE: &str = "DELETE FROM consents WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND client_id = ?4";

// SSO sessions (stores without Durable Objects)
pub const SESSION_INSERT: &str = "INSERT INTO sso_sessions (sid, session, expires_at) VALUES (?1, ?2, ?3)";
pub const SESSION_GET: &str = "SELECT session FROM sso_sessions WHERE sid = ?1";
pub const SESSIONS_PURGE_EXPIRED: &str = "DELETE FROM sso_sessions WHERE expires_at < ?1";
pub const SESSION_DELETE: &str = "DELETE FROM sso_sessions WHERE sid = ?1";

// Counters (stores without Durable Objects; migrations/0006_counters.sql). An increment is one
// batch, so one transaction: the sweep, then the upsert, then the new lifetime by the count reached.
/// Sweeps every expired counter (the one being incremented included: it then starts again at 1).
pub const COUNTERS_PURGE_EXPIRED: &str = "DELETE FROM counters WHERE expires_at <= ?1";
pub const COUNTER_UPSERT: &str = "INSERT INTO counters (id, hits, last_at, expires_at) VALUES (?1, 1, ?2, ?2) ON CONFLICT (id) DO UPDATE SET hits = hits + 1, last_at = ?2";
/// ?3 is the lifetime table (`runtime::Lifetime` as JSON `[[from_count, secs], ...]`): the last step
/// the new count has reached gives its lifetime.
pub const COUNTER_SET_LIFETIME: &str = "UPDATE counters SET expires_at = ?2 + COALESCE((SELECT json_extract(s.value, '$[1]') FROM json_each(?3) s WHERE json_extract(s.value, '$[0]') <= counters.hits ORDER BY json_extract(s.value, '$[0]') DESC LIMIT 1), 0) WHERE id = ?1 RETURNING hits, last_at, expires_at";
pub const COUNTER_GET: &str = "SELECT hits, last_at, expires_at FROM counters WHERE id = ?1 AND expires_at > ?2";
pub const COUNTER_DELETE: &str = "DELETE FROM counters WHERE id = ?1";

// ---------------------------------------------------------------------------------------------
// The management API (migrations/0002_management.sql). Lists page by key: `id > ?after ORDER BY id LIMIT ?`.

// Tenants and workspaces, indexed for listing (the documents themselves live in KV).
pub const TENANT_INDEX_UPSERT: &str = "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET name = excluded.name";
pub const TENANT_INDEX_LIST: &str = "SELECT id FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2";
pub const TENANT_INDEX_DELETE: &str = "DELETE FROM tenants WHERE id = ?1";
pub const WORKSPACE_INDEX_UPSERT: &str = "INSERT INTO workspaces (tenant, id, kind, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name";
pub const WORKSPACE_INDEX_GET: &str = "SELECT id, kind, name, created_at FROM workspaces WHERE tenant = ?1 AND id = ?2";
pub const WORKSPACE_INDEX_LIST: &str = "SELECT id, kind, name, created_at FROM workspaces WHERE tenant = ?1 AND kind = ?2 AND id > ?3 ORDER BY id LIMIT ?4";
pub const WORKSPACE_INDEX_ALL: &str = "SELECT id FROM workspaces WHERE tenant = ?1 ORDER BY id";

// Deleting a workspace removes everything stored under it, in one batch.
pub const WORKSPACE_DELETE_INDEX: &str = "DELETE FROM workspaces WHERE tenant = ?1 AND id = ?2";
pub const WORKSPACE_DELETE_CLIENTS: &str = "DELETE FROM clients WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_USERS: &str = "DELETE FROM users WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_KEYS: &str = "DELETE FROM signing_keys WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_GRANTS: &str = "DELETE FROM grants WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_CODES: &str = "DELETE FROM authorization_codes WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_REFRESH: &str = "DELETE FROM refresh_tokens WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_JTI: &str = "DELETE FROM used_jti WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_CONSENTS: &str = "DELETE FROM consents WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_ADMINS: &str = "DELETE FROM workspace_admins WHERE tenant = ?1 AND workspace = ?2";
pub const WORKSPACE_DELETE_ONE_TIME: &str = "DELETE FROM one_time_tokens WHERE tenant = ?1 AND workspace = ?2";

// Clients
pub const CLIENT_LIST: &str = "SELECT client_id, metadata FROM clients WHERE tenant = ?1 AND workspace = ?2 AND client_id > ?3 ORDER BY client_id LIMIT ?4";
pub const CLIENT_UPDATE: &str = "UPDATE clients SET metadata = ?4, secret_hash = ?5, updated_at = ?6 WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3 RETURNING client_id";
pub const CLIENT_SET_SECRET: &str = "UPDATE clients SET secret_hash = ?4, updated_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3 RETURNING client_id";
pub const CLIENT_DELETE: &str = "DELETE FROM clients WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3 RETURNING client_id";
pub const GRANTS_REVOKE_FOR_CLIENT: &str = "UPDATE grants SET revoked_at = ?4 WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3 AND revoked_at IS NULL";
pub const CONSENTS_DELETE_FOR_CLIENT: &str = "DELETE FROM consents WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3";

// Users of a workspace's identity pool
/// `SELECT` with a user's management columns and operational attributes (NULL when the user has no
/// `user_activity` row), followed by the rest.
macro_rules! user_record {
    ($rest:literal) => {
        concat!(
            "SELECT u.id, u.username, u.password_hash, u.claims, u.disabled, u.created_at, u.updated_at, a.created_by, a.pending, a.last_auth_at, a.last_idp ",
            "FROM users u LEFT JOIN user_activity a ON a.tenant = u.tenant AND a.workspace = u.workspace AND a.user_id = u.id ",
            $rest
        )
    };
}
pub const USER_LIST: &str = user_record!("WHERE u.tenant = ?1 AND u.workspace = ?2 AND u.id > ?3 ORDER BY u.id LIMIT ?4");
/// Search: a username prefix, or an exact email (claims.email), case-insensitively (usernames are lower-case).
pub const USER_SEARCH: &str = user_record!("WHERE u.tenant = ?1 AND u.workspace = ?2 AND u.id > ?3 AND (substr(u.username, 1, length(?5)) = ?5 OR lower(json_extract(u.claims, '$.email')) = ?5) ORDER BY u.id LIMIT ?4");
pub const USER_GET_FULL: &str = user_record!("WHERE u.tenant = ?1 AND u.workspace = ?2 AND u.id = ?3");
pub const USER_SET_CLAIMS: &str = "UPDATE users SET claims = ?4, updated_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 RETURNING id";
pub const USER_SET_PASSWORD: &str = "UPDATE users SET password_hash = ?4, updated_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 RETURNING id";
pub const USER_SET_DISABLED: &str = "UPDATE users SET disabled = ?4, updated_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 RETURNING id";
pub const USER_DELETE: &str = "DELETE FROM users WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 RETURNING id";
pub const GRANTS_REVOKE_FOR_USER: &str = "UPDATE grants SET revoked_at = ?4 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND revoked_at IS NULL";
pub const CONSENTS_DELETE_FOR_USER: &str = "DELETE FROM consents WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const ADMIN_ROLES_DELETE_FOR_USER: &str = "DELETE FROM workspace_admins WHERE user_id = ?1";

// Organization templates
pub const TEMPLATE_INSERT: &str = "INSERT INTO organization_templates (tenant, id, name, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
pub const TEMPLATE_GET: &str = "SELECT id, name, config, created_at, updated_at FROM organization_templates WHERE tenant = ?1 AND id = ?2";
pub const TEMPLATE_LIST: &str = "SELECT id, name, config, created_at, updated_at FROM organization_templates WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
pub const TEMPLATE_UPDATE: &str = "UPDATE organization_templates SET name = ?3, config = ?4, updated_at = ?5 WHERE tenant = ?1 AND id = ?2 RETURNING id";
pub const TEMPLATE_DELETE: &str = "DELETE FROM organization_templates WHERE tenant = ?1 AND id = ?2 RETURNING id";
pub const TEMPLATES_DELETE_FOR_TENANT: &str = "DELETE FROM organization_templates WHERE tenant = ?1";

// Workspace administrators (users of the system workspace with a role on a workspace)
pub const ADMIN_ROLE_UPSERT: &str = "INSERT INTO workspace_admins (tenant, workspace, user_id, role, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (tenant, workspace, user_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at";
pub const ADMIN_ROLE_UPDATE: &str = "UPDATE workspace_admins SET role = ?4, updated_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 RETURNING user_id";
pub const ADMIN_ROLE_GET: &str = "SELECT role FROM workspace_admins WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const ADMIN_ROLE_DELETE: &str = "DELETE FROM workspace_admins WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 RETURNING user_id";
pub const ADMIN_LIST: &str = "SELECT a.user_id AS user_id, a.role AS role, a.created_at AS created_at, u.username AS username FROM workspace_admins a LEFT JOIN users u ON u.tenant = 'system' AND u.workspace = 'system' AND u.id = a.user_id WHERE a.tenant = ?1 AND a.workspace = ?2 AND a.user_id > ?3 ORDER BY a.user_id LIMIT ?4";

// One-time links (invitations, password resets)
pub const ONE_TIME_INSERT: &str = "INSERT INTO one_time_tokens (token_hash, kind, tenant, workspace, subject, payload, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
/// Consumes a link: only the request that flips `used_at` gets the row back.
pub const ONE_TIME_CONSUME: &str = "UPDATE one_time_tokens SET used_at = ?3 WHERE token_hash = ?1 AND kind = ?2 AND used_at IS NULL AND expires_at > ?3 RETURNING tenant, workspace, subject, payload";
/// Reads a live link without consuming it (to check what accepting it will need first).
pub const ONE_TIME_PEEK: &str = "SELECT tenant, workspace, subject, payload FROM one_time_tokens WHERE token_hash = ?1 AND kind = ?2 AND used_at IS NULL AND expires_at > ?3";

// Dynamic client registration (migrations/0009_dynamic_registration.sql)
pub const DCR_REGISTRATION_INSERT: &str = "INSERT INTO dcr_registrations (tenant, workspace, client_id, token_hash, initial_access_token, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// The registration access token matches only its own client's row: another client's token finds nothing.
pub const DCR_REGISTRATION_CHECK: &str = "SELECT created_at FROM dcr_registrations WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3 AND token_hash = ?4";
pub const DCR_REGISTRATION_DELETE: &str = "DELETE FROM dcr_registrations WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3";
pub const WORKSPACE_DELETE_DCR_REGISTRATIONS: &str = "DELETE FROM dcr_registrations WHERE tenant = ?1 AND workspace = ?2";
pub const DCR_IAT_INSERT: &str = "INSERT INTO dcr_initial_access_tokens (tenant, workspace, id, token_hash, description, max_uses, uses, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)";
/// A live token with uses left, not counting a use (a registration checks it before its metadata).
pub const DCR_IAT_PEEK: &str = "SELECT id FROM dcr_initial_access_tokens WHERE tenant = ?1 AND workspace = ?2 AND token_hash = ?3 AND expires_at > ?4 AND uses < max_uses";
/// Counts one use: only a request that finds a use left gets the row back.
pub const DCR_IAT_USE: &str = "UPDATE dcr_initial_access_tokens SET uses = uses + 1 WHERE tenant = ?1 AND workspace = ?2 AND token_hash = ?3 AND expires_at > ?4 AND uses < max_uses RETURNING id";
pub const DCR_IAT_LIST: &str = "SELECT id, description, max_uses, uses, created_at, expires_at FROM dcr_initial_access_tokens WHERE tenant = ?1 AND workspace = ?2 AND id > ?3 ORDER BY id LIMIT ?4";
pub const DCR_IAT_DELETE: &str = "DELETE FROM dcr_initial_access_tokens WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 RETURNING id";
pub const WORKSPACE_DELETE_DCR_IATS: &str = "DELETE FROM dcr_initial_access_tokens WHERE tenant = ?1 AND workspace = ?2";

// Passkeys (migrations/0010_passkeys.sql)
/// A new credential; an id already registered in the workspace (to anyone) is refused.
pub const PASSKEY_INSERT: &str = "INSERT INTO passkeys (tenant, workspace, credential_id, user_id, alg, public_key, sign_count, aaguid, name, transports, backup_eligible, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING RETURNING credential_id";
pub const PASSKEY_GET: &str = "SELECT credential_id, user_id, alg, public_key, sign_count, aaguid, name, transports, backup_eligible, created_at, last_used_at FROM passkeys WHERE tenant = ?1 AND workspace = ?2 AND credential_id = ?3";
pub const PASSKEYS_FOR_USER: &str = "SELECT credential_id, user_id, alg, public_key, sign_count, aaguid, name, transports, backup_eligible, created_at, last_used_at FROM passkeys WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 ORDER BY created_at, credential_id";
/// A sign-in's counter, compare-and-set: of two concurrent uses of one counter value, one wins.
pub const PASSKEY_USE: &str = "UPDATE passkeys SET sign_count = ?5, last_used_at = ?6 WHERE tenant = ?1 AND workspace = ?2 AND credential_id = ?3 AND sign_count = ?4 RETURNING credential_id";
pub const PASSKEY_RENAME: &str = "UPDATE passkeys SET name = ?5 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND credential_id = ?4 RETURNING credential_id";
pub const PASSKEY_DELETE: &str = "DELETE FROM passkeys WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND credential_id = ?4 RETURNING credential_id";
pub const PASSKEYS_DELETE_FOR_USER: &str = "DELETE FROM passkeys WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const WORKSPACE_DELETE_PASSKEYS: &str = "DELETE FROM passkeys WHERE tenant = ?1 AND workspace = ?2";

// One-time codes (migrations/0011_one_time_codes.sql)

pub const TOTP_PUT: &str = "INSERT INTO totp_authenticators (tenant, workspace, user_id, secret, last_step, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant, workspace, user_id) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step, created_at = excluded.created_at";
pub const TOTP_GET: &str = "SELECT secret, last_step, created_at FROM totp_authenticators WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const TOTP_USE: &str = "UPDATE totp_authenticators SET last_step = ?4 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND last_step < ?4 RETURNING user_id";
pub const TOTP_DELETE: &str = "DELETE FROM totp_authenticators WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 RETURNING user_id";
pub const WORKSPACE_DELETE_TOTP: &str = "DELETE FROM totp_authenticators WHERE tenant = ?1 AND workspace = ?2";
pub const OTP_CODE_PURGE: &str = "DELETE FROM otp_codes WHERE tenant = ?1 AND workspace = ?2 AND expires_at < ?3";
pub const OTP_CODE_LAST_SENT: &str = "SELECT MAX(created_at) AS last FROM otp_codes WHERE tenant = ?1 AND workspace = ?2 AND subject = ?3 AND purpose = ?4";
pub const OTP_CODE_INSERT: &str = "INSERT INTO otp_codes (tenant, workspace, id, subject, purpose, code_hash, attempts, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)";
pub const OTP_CODE_ATTEMPT: &str = "UPDATE otp_codes SET attempts = attempts + 1 WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 AND attempts < ?4 AND expires_at > ?5 RETURNING subject, purpose";
pub const OTP_CODE_CONSUME: &str = "DELETE FROM otp_codes WHERE tenant = ?1 AND workspace = ?2 AND id = ?3 AND code_hash = ?4 RETURNING id";
pub const OTP_CODES_DELETE_FOR_SUBJECT: &str = "DELETE FROM otp_codes WHERE tenant = ?1 AND workspace = ?2 AND subject = ?3";
pub const WORKSPACE_DELETE_OTP_CODES: &str = "DELETE FROM otp_codes WHERE tenant = ?1 AND workspace = ?2";

// Sign out everywhere (migrations/0012_sessions_not_before.sql)
pub const SESSION_CUTOFF_GET: &str = "SELECT not_before_ms FROM session_cutoffs WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const SESSION_CUTOFF_SET: &str = "INSERT INTO session_cutoffs (tenant, workspace, user_id, not_before_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, workspace, user_id) DO UPDATE SET not_before_ms = MAX(not_before_ms, excluded.not_before_ms)";
pub const SESSION_CUTOFF_DELETE_FOR_USER: &str = "DELETE FROM session_cutoffs WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3";
pub const WORKSPACE_DELETE_SESSION_CUTOFFS: &str = "DELETE FROM session_cutoffs WHERE tenant = ?1 AND workspace = ?2";

// How stale a read replica may be (migrations/0013_replica_clock.sql, store/replica.rs)
pub const REPLICA_CLOCK_GET: &str = "SELECT at_ms FROM replica_clock WHERE id = 1";
pub const REPLICA_CLOCK_SET: &str = "INSERT INTO replica_clock (id, at_ms) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)";
