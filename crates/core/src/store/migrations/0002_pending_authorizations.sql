-- OAuth authorizations in flight: one row per attempt, consumed by the first valid callback.
-- The state is stored as a SHA-256 hash; the PKCE verifier lives in the keyring.
CREATE TABLE pending_authorizations (
    state_hash     TEXT PRIMARY KEY,
    provider       TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    connection_id  TEXT,
    redirect_uri   TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    consumed_at    TEXT
);
