-- An installer account whose access comes from a sign-in that must be kept alive (Enphase's
-- partner plan: the password grant gives an access token for about a day and a rotating refresh
-- token) is held like a connection's grant: a generation its sealed tokens are bound to and
-- its rotation's write is fenced by, the lease of the one holder that may spend the refresh
-- token, the in-flight mark a crash leaves behind, the tokens' expiries and what went wrong.
ALTER TABLE provider_apps ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE provider_apps ADD COLUMN lease_holder TEXT;
ALTER TABLE provider_apps ADD COLUMN lease_id TEXT;
ALTER TABLE provider_apps ADD COLUMN lease_until INTEGER;
ALTER TABLE provider_apps ADD COLUMN refresh_started_at TEXT;
ALTER TABLE provider_apps ADD COLUMN access_expires_at TEXT;
ALTER TABLE provider_apps ADD COLUMN refresh_expires_at TEXT;
-- NULL: the account's key does not lapse (SolarEdge, Solis); 'active'; 'needs_sign_in'.
ALTER TABLE provider_apps ADD COLUMN account_state TEXT;
ALTER TABLE provider_apps ADD COLUMN last_error_code TEXT;
ALTER TABLE provider_apps ADD COLUMN last_error_message TEXT;
ALTER TABLE provider_apps ADD COLUMN last_error_hint TEXT;

-- An Enphase account saved the earlier way holds a pasted partner access token, which Enphase
-- expires within a day and which nothing can renew: it must be signed in again.
UPDATE provider_apps SET account_state = 'needs_sign_in',
    last_error_code = 'ReauthRequired',
    last_error_message = 'This Enphase installer account was saved as a pasted partner access token, which Enphase expires within a day and Onramp cannot renew.',
    last_error_hint = 'Sign in again in Settings → Installer accounts with your partner application and Enlighten user; Onramp then renews it by itself.'
WHERE provider = 'enphase' AND kind = 'installer_account';
