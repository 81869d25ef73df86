-- The Activity page and its export read the log through a filter (a kind, a provider, a range of
-- days), newest first by time. Each filter has an index in that order, so a page of the newest
-- 500 entries is read from the index's end, and a kind or provider that is rare among a million
-- refreshes is found without reading the rest. The row id is in every index, so entries of the
-- same second keep the order they were written in.
CREATE INDEX events_at ON events(at);
CREATE INDEX events_kind ON events(kind, at);
CREATE INDEX events_provider ON events(provider, at);
