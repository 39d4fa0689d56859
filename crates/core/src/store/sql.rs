//! Every SQL statement the engine runs, for D1, Spin SQLite and the native store alike.
//! Parameters are positional (`?1`, `?2`, ...); the schema is `migrations/`.

// Clients
pub const CLIENT_GET: &str = "SELECT secret_hash, metadata FROM clients WHERE tenant = ?1 AND workspace = ?2 AND client_id = ?3";
pub const CLIENT_INSERT: &str = "INSERT INTO clients (tenant, workspace, client_id, secret_hash, metadata, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";

// Users
pub const USER_GET: &str = "SELECT id, username, password_hash, claims, disabled FROM users WHERE tenant = ?1 AND workspace = ?2 AND id = ?3";
pub const USER_BY_USERNAME: &str = "SELECT id, username, password_hash, claims, disabled FROM users WHERE tenant = ?1 AND workspace = ?2 AND username = ?3";
pub const USER_INSERT: &str = "INSERT INTO users (tenant, workspace, id, username, password_hash, claims, disabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)";

// Signing keys
pub const KEYS_LIST: &str = "SELECT kid, alg, public_jwk, private_key, created_at, retired_at, remove_at FROM signing_keys WHERE tenant = ?1 AND workspace = ?2 AND (remove_at IS NULL OR remove_at > ?3) ORDER BY created_at DESC, kid";
pub const KEY_INSERT: &str = "INSERT INTO signing_keys (tenant, workspace, kid, alg, public_jwk, private_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// Retires every signing key of the workspace older than the rotation (the new keys are inserted after).
pub const KEYS_RETIRE: &str = "UPDATE signing_keys SET retired_at = ?3, remove_at = ?4 WHERE tenant = ?1 AND workspace = ?2 AND retired_at IS NULL";

// Grants
pub const GRANT_INSERT: &str = "INSERT INTO grants (id, tenant, workspace, client_id, user_id, scope, sid, auth_time, acr, amr, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
pub const GRANT_GET: &str = "SELECT id, client_id, user_id, scope, sid, auth_time, acr, amr, expires_at, revoked_at FROM grants WHERE id = ?1 AND tenant = ?2 AND workspace = ?3";
pub const GRANT_REVOKE: &str = "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";
pub const GRANTS_REVOKE_FOR_USER_CLIENT: &str = "UPDATE grants SET revoked_at = ?5 WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND client_id = ?4 AND revoked_at IS NULL";
/// Whether an access token is still good: its grant (if any) is live and its `jti` not revoked.
pub const ACCESS_TOKEN_STATUS: &str = "SELECT (SELECT revoked_at FROM grants WHERE id = ?1) AS grant_revoked_at, (SELECT count(*) FROM grants WHERE id = ?1) AS grant_exists, (SELECT count(*) FROM revoked_tokens WHERE jti = ?2) AS token_revoked";

// Authorization codes: consumed atomically, exactly one redemption wins.
pub const CODE_INSERT: &str = "INSERT INTO authorization_codes (code_hash, grant_id, tenant, workspace, client_id, request, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub const CODE_CONSUME: &str = "UPDATE authorization_codes SET used_at = ?5 WHERE code_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at IS NULL AND expires_at > ?5 RETURNING grant_id, request";
pub const CODE_GET: &str = "SELECT grant_id, client_id, used_at, expires_at FROM authorization_codes WHERE code_hash = ?1 AND tenant = ?2 AND workspace = ?3";

// Refresh tokens
pub const REFRESH_INSERT: &str = "INSERT INTO refresh_tokens (token_hash, grant_id, tenant, workspace, client_id, scope, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
/// Rotation: marks the token used; only the request that flips `used_at` gets the row back.
pub const REFRESH_CONSUME: &str = "UPDATE refresh_tokens SET used_at = ?5 WHERE token_hash = ?1 AND tenant = ?2 AND workspace = ?3 AND client_id = ?4 AND used_at IS NULL AND expires_at > ?5 RETURNING grant_id, scope, expires_at";
pub const REFRESH_GET: &str = "SELECT grant_id, client_id, scope, used_at, expires_at, created_at FROM refresh_tokens WHERE token_hash = ?1 AND tenant = ?2 AND workspace = ?3";

// Single-use client assertion identifiers: the insert that returns a row is the first use.
pub const JTI_USE: &str = "INSERT INTO used_jti (tenant, workspace, client_id, jti, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING RETURNING jti";

// Revoked access tokens
pub const TOKEN_REVOKE: &str = "INSERT INTO revoked_tokens (jti, tenant, workspace, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

// Consents
pub const CONSENT_GET: &str = "SELECT scope, granted_at FROM consents WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND client_id = ?4";
pub const CONSENT_UPSERT: &str = "INSERT INTO consents (tenant, workspace, user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant, workspace, user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";
pub const CONSENTS_FOR_USER: &str = "SELECT client_id, scope, granted_at FROM consents WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 ORDER BY client_id";
pub const CONSENT_DELETE: &str = "DELETE FROM consents WHERE tenant = ?1 AND workspace = ?2 AND user_id = ?3 AND client_id = ?4";

// SSO sessions (stores without Durable Objects)
pub const SESSION_INSERT: &str = "INSERT INTO sso_sessions (sid, session, expires_at) VALUES (?1, ?2, ?3)";
pub const SESSION_GET: &str = "SELECT session FROM sso_sessions WHERE sid = ?1";
pub const SESSIONS_PURGE_EXPIRED: &str = "DELETE FROM sso_sessions WHERE expires_at < ?1";
pub const SESSION_DELETE: &str = "DELETE FROM sso_sessions WHERE sid = ?1";
