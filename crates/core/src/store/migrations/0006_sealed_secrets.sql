-- Secrets move into the store, sealed (XChaCha20-Poly1305 under the data folder's key, which is
-- the only thing left in the OS keyring). Each row holds its own secrets in one `sealed` column,
-- written in the same transaction as the row's state: a rotated refresh token, its expiry and its
-- event commit together, and removing a row removes its secrets. `secret_ref` stays only to find
-- secrets of the earlier layout (one keyring entry per secret) when a data folder moves over.
ALTER TABLE connections ADD COLUMN sealed TEXT;
-- Bumped at every rotation of the connection's tokens; the sealed value is bound to it, and a
-- rotation's write is fenced by it (`WHERE generation = ?`).
ALTER TABLE connections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- The lease of the one holder that may spend the refresh token: which process, which lease
-- (a random id per taking), until when (unix milliseconds).
ALTER TABLE connections ADD COLUMN lease_holder TEXT;
ALTER TABLE connections ADD COLUMN lease_id TEXT;
ALTER TABLE connections ADD COLUMN lease_until INTEGER;
-- Set (RFC 3339) before a token request goes out, cleared when its outcome is committed or the
-- vendor's answer showed it changed nothing. Still set when a holder died mid-refresh: the
-- connection is then in doubt, and its next refresh says so if the old token was spent.
ALTER TABLE connections ADD COLUMN refresh_started_at TEXT;

ALTER TABLE provider_apps ADD COLUMN sealed TEXT;
ALTER TABLE pending_authorizations ADD COLUMN sealed TEXT;
CREATE INDEX pending_expiry ON pending_authorizations(expires_at);
