-- When a connection's current tokens were issued (Onramp's clock, RFC 3339): with the expiries
-- it gives each token's lifetime, so short-lived tokens (SMA's five-minute access token) are
-- refreshed a fraction of their life ahead, not a fixed five minutes.
ALTER TABLE connections ADD COLUMN tokens_issued_at TEXT;
