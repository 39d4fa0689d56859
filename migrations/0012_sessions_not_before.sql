-- "Sign out everywhere" (crates/core/src/oidc/account.rs). Idempotent, as every migration here.
-- SSO sessions cannot be listed by user (on Workers each is a Durable Object found only by its
-- sid), so a user's sessions are ended by a cut-off instead: a session that began before
-- `not_before_ms` (milliseconds since the epoch, so a sign-in right after the cut-off is not caught
-- by it) is refused by the session check (`authn::session::existing`), one primary-key read.
CREATE TABLE IF NOT EXISTS session_cutoffs (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  user_id TEXT NOT NULL,
  not_before_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, user_id)
);
