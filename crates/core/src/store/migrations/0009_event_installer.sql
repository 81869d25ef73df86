-- The installer who acted (Settings: your name), with each event they caused; `scopes` (from
-- the first layout) is now written: the scopes a sign-in granted, with its event.
ALTER TABLE events ADD COLUMN installer TEXT;
