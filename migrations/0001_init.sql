-- The one schema of every SQLite-family store (D1, Spin SQLite, the native test store).
-- Times are seconds since the Unix epoch. Secrets and tokens are stored only as SHA-256 hashes.

CREATE TABLE IF NOT EXISTS clients (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  secret_hash TEXT,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, client_id)
);

CREATE TABLE IF NOT EXISTS users (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  username TEXT NOT NULL,
  password_hash TEXT,
  claims TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, id),
  UNIQUE (tenant, workspace, username)
);

-- Private keys are AES-256-GCM ciphertexts under a key derived from the master secret.
CREATE TABLE IF NOT EXISTS signing_keys (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  kid TEXT NOT NULL,
  alg TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- NULL while the key signs; set when a newer key of the same alg replaced it.
  retired_at INTEGER,
  -- When a retired key leaves the JWKS (no token it signed is still valid).
  remove_at INTEGER,
  PRIMARY KEY (tenant, workspace, kid)
);

-- One grant per authorization (code) or per user-less client_credentials issuance is not stored:
-- client_credentials tokens are self-contained JWTs. A grant is what a replayed code or a reused
-- refresh token revokes as a whole.
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  sid TEXT,
  -- The authentication behind the grant, repeated in ID tokens issued on refresh.
  auth_time INTEGER NOT NULL,
  acr TEXT NOT NULL,
  amr TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS grants_by_user_client ON grants (tenant, workspace, user_id, client_id);

CREATE TABLE IF NOT EXISTS authorization_codes (
  code_hash TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  -- The authorization request as the token endpoint needs it (redirect_uri, PKCE, nonce, claims).
  request TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_tokens_by_grant ON refresh_tokens (grant_id);

-- Single-use values (client assertion jti, ...), kept until they could no longer be accepted.
CREATE TABLE IF NOT EXISTS used_jti (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, client_id, jti)
);

-- Access tokens revoked before their expiry (RFC 7009); kept until they expire.
CREATE TABLE IF NOT EXISTS revoked_tokens (
  jti TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);

-- What a user agreed to share with a client: the union of the scopes granted so far.
CREATE TABLE IF NOT EXISTS consents (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, user_id, client_id)
);

-- SSO sessions where no Durable Object exists (Spin, the native test store).
CREATE TABLE IF NOT EXISTS sso_sessions (
  sid TEXT PRIMARY KEY,
  session TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sso_sessions_by_expiry ON sso_sessions (expires_at);
