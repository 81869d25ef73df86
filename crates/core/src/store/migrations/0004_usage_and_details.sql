-- Utility usage summaries (Green Button feeds and files, utility data providers), and the
-- non-secret facts of a grant (UtilityAPI's resourceURI, Pelm's user_id, Derapi's vendor).
ALTER TABLE connections ADD COLUMN details TEXT;
-- What the installer picked before the sign-in (a utility, a scope, a device vendor).
ALTER TABLE pending_authorizations ADD COLUMN details TEXT;

CREATE TABLE usage_series (
    id             TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL REFERENCES customers(id),
    connection_id  TEXT REFERENCES connections(id) ON DELETE SET NULL,
    -- Identifies the meter within its source, so importing the same data again replaces it.
    source_key     TEXT NOT NULL,
    source         TEXT NOT NULL,
    title          TEXT NOT NULL,
    commodity      TEXT NOT NULL,
    flow           TEXT NOT NULL,
    unit           TEXT NOT NULL,
    currency       TEXT,
    readings       INTEGER NOT NULL,
    first_at       TEXT,
    last_at        TEXT,
    updated_at     TEXT NOT NULL,
    UNIQUE (customer_id, source_key)
);

CREATE TABLE usage_months (
    series_id  TEXT NOT NULL REFERENCES usage_series(id) ON DELETE CASCADE,
    month      TEXT NOT NULL,
    energy     REAL NOT NULL,
    cost       REAL,
    PRIMARY KEY (series_id, month)
);
