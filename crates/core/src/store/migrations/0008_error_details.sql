-- The vendor's own answer behind a connection's or an installer account's last error, for the
-- installer's Details view (the message itself is in plain words).
ALTER TABLE connections ADD COLUMN last_error_details TEXT;
ALTER TABLE provider_apps ADD COLUMN last_error_details TEXT;
