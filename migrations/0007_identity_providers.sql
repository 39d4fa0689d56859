-- Identity providers and just-in-time provisioning (crates/core/src/federation/). Idempotent, as
-- every migration here: Spin applies them all at each start.

-- Who a local user is at each identity provider: (provider, the provider's `sub`) → user. One
-- external subject links to one user; a user may have one link per provider. `workspace` is the
-- identity pool (the workspace whose users table holds the user).
CREATE TABLE IF NOT EXISTS identity_links (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  idp TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_auth_at INTEGER,
  PRIMARY KEY (tenant, workspace, idp, subject),
  UNIQUE (tenant, workspace, user_id, idp)
);
CREATE INDEX IF NOT EXISTS identity_links_by_user ON identity_links (tenant, workspace, user_id);

-- Operational attributes of every user, wherever they sign in: how the user came to be
-- (`administrator` or `provisioned`), whether a provisioned user awaits activation, the last
-- authentication and its provider (`pool` for the password form). A user without a row was made
-- before this table, by an administrator.
CREATE TABLE IF NOT EXISTS user_activity (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0,
  last_auth_at INTEGER,
  last_idp TEXT,
  PRIMARY KEY (tenant, workspace, user_id)
);

-- The authentication context of a grant made through an identity provider: what the provider said
-- at sign-in, mapped. Tokens issued on refresh and userinfo read it; a password sign-in stores
-- none (its context is the user's stored attributes, read each time).
CREATE TABLE IF NOT EXISTS grant_contexts (
  grant_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  context TEXT NOT NULL
);
