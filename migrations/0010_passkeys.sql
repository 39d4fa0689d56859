-- Passkeys (WebAuthn credentials, crates/core/src/webauthn and oauth/passkeys.rs), per user of a
-- workspace's identity pool. Idempotent, as every migration here: Spin applies them all at each start.
-- `credential_id` is the credential's raw id as base64url (unique per workspace: a second
-- registration of the same id is refused); `public_key` the COSE key as a JWK (verified through the
-- runtime's signer like any JWS); `sign_count` the authenticator's last counter (an assertion whose
-- counter does not grow is refused, one compare-and-set UPDATE per sign-in); `transports` a JSON
-- array of the browser's hints. Deleting the user or the workspace deletes the rows.
CREATE TABLE IF NOT EXISTS passkeys (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  alg TEXT NOT NULL,
  public_key TEXT NOT NULL,
  sign_count INTEGER NOT NULL,
  aaguid TEXT NOT NULL,
  name TEXT NOT NULL,
  transports TEXT NOT NULL,
  backup_eligible INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  PRIMARY KEY (tenant, workspace, credential_id)
);
CREATE INDEX IF NOT EXISTS passkeys_by_user ON passkeys (tenant, workspace, user_id);
