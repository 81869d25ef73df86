-- How a provider's sign-in comes back, chosen in Settings: the https relay page's address.
-- (`redirect_mode` already exists on provider_apps.)
ALTER TABLE provider_apps ADD COLUMN relay_url TEXT;
