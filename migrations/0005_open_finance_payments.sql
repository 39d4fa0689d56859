-- Open Finance Brasil: payment consents (v3/v4, kind 'payment' in ob_consents), their idempotency
-- keys, and the extensions of data consents.

-- POST /open-banking/payments/{v3|v4}/consents with `x-idempotency-key`: the same key with the
-- same payload answers the consent it created; with another payload 422 ERRO_IDEMPOTENCIA.
CREATE TABLE IF NOT EXISTS ob_idempotency (
  tenant TEXT NOT NULL,
  workspace TEXT NOT NULL,
  client_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  -- SHA-256 (base64url) of the request's `data` claim, canonical JSON.
  request_hash TEXT NOT NULL,
  consent_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, workspace, client_id, idempotency_key)
);

-- POST /open-banking/consents/v3/consents/{consentId}/extends, listed by GET .../extensions.
CREATE TABLE IF NOT EXISTS ob_consent_extensions (
  consent_id TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  -- NULL: extended without an end date.
  expires_at INTEGER,
  previous_expires_at INTEGER,
  -- JSON: loggedUser, the customer's IP address and user agent as the TPP sent them.
  document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ob_consent_extensions_by_consent ON ob_consent_extensions (consent_id, requested_at);

-- The bank-side consent management lists a workspace's consents.
CREATE INDEX IF NOT EXISTS ob_consents_by_workspace ON ob_consents (tenant, workspace, id);
