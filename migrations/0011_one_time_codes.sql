-- One-time codes (crates/core/src/authn/otp.rs and codes.rs). Idempotent, as every migration here.
-- `totp_authenticators`: a user's authenticator app: the secret sealed (AES-GCM under the master
-- secret, for this workspace and user) and the last TOTP step accepted, so no step is used twice
-- (one compare-and-set UPDATE per code). One per user.
CREATE TABLE IF NOT EXISTS totp_authenticators (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  user_id TEXT NOT NULL,
  secret TEXT NOT NULL,
  last_step INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, user_id)
);
-- `otp_codes`: codes sent by email, stored only as a hash bound to their subject and purpose.
-- `id` is random and travels sealed in the code page; `subject` is the user's id (or, for a login
-- name with no account, a hash of it: the same rows, writes and limits either way); `attempts`
-- counts guesses (one compare-and-set UPDATE each); a right code is deleted as it is accepted.
CREATE TABLE IF NOT EXISTS otp_codes (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  subject TEXT NOT NULL,
  purpose TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, id)
);
CREATE INDEX IF NOT EXISTS otp_codes_by_subject ON otp_codes (tenant, workspace, subject, purpose, created_at);
