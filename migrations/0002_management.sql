-- The management API (`/api/...`): what it lists, who administers what, and one-time links.
-- Configuration documents stay in KV; these tables index them so they can be listed and paged.

-- Every tenant, mirrored from KV (`tenants/{id}`) on each write through /api or /admin.
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- Every workspace (authorization server) of a tenant; `kind` is 'workspace' or 'organization'.
CREATE TABLE IF NOT EXISTS workspaces (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
);

-- Organization templates: a name and a workspace configuration document to create organizations from.
CREATE TABLE IF NOT EXISTS organization_templates (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  config TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
);

-- Workspace administrators: users of the system workspace's identity pool with a role on a workspace.
CREATE TABLE IF NOT EXISTS workspace_admins (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, user_id)
);
CREATE INDEX IF NOT EXISTS workspace_admins_by_user ON workspace_admins (user_id);

-- One-time links (administrator invitations, password resets): stored as SHA-256 hashes and
-- consumed with a single UPDATE ... RETURNING, so exactly one use wins.
CREATE TABLE IF NOT EXISTS one_time_tokens (
  token_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  subject TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
