-- Rich Authorization Requests (RFC 9396): the authorization details a user granted, kept with
-- the grant (beside it, as grant_contexts is) so refreshed access tokens carry them again.
CREATE TABLE IF NOT EXISTS grant_authorization_details (
  grant_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  -- The JSON array the user consented to.
  details TEXT NOT NULL
);
