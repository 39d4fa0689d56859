-- Open Finance Brasil data consents (the consents API, v2/v3 shapes) and the grants bound to them
-- through the `consent:{consentId}` scope.

CREATE TABLE IF NOT EXISTS ob_consents (
  -- `urn:edgeauth:{uuid}`
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  -- The TPP (client) that created it; only it reads, extends or deletes it.
  client_id TEXT NOT NULL,
  -- 'data' (payment consents come later).
  kind TEXT NOT NULL,
  -- AWAITING_AUTHORISATION, AUTHORISED, REJECTED
  status TEXT NOT NULL,
  -- JSON: permissions, loggedUser, businessEntity, expirationDateTime as the TPP sent them.
  document TEXT NOT NULL,
  -- The user who authorised it.
  user_id TEXT,
  -- JSON {rejectedBy, reason: {code, additionalInformation}} once REJECTED.
  rejection TEXT,
  created_at INTEGER NOT NULL,
  status_updated_at INTEGER NOT NULL,
  -- expirationDateTime in seconds; NULL for a consent without an end date.
  expires_at INTEGER
);

CREATE TABLE IF NOT EXISTS ob_consent_grants (
  consent_id TEXT NOT NULL,
  grant_id TEXT NOT NULL,
  PRIMARY KEY (consent_id, grant_id)
);
