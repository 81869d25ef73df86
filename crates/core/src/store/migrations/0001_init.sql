-- Onramp's store. Migrations only add: never rewrite a column in place.
-- No secret is ever written here: `secret_ref` names entries in the OS keyring.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    address     TEXT,
    email       TEXT,
    phone       TEXT,
    job_number  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE connections (
    id                  TEXT PRIMARY KEY,
    customer_id         TEXT NOT NULL REFERENCES customers(id),
    provider            TEXT NOT NULL,
    kind                TEXT NOT NULL,
    state               TEXT NOT NULL,
    external_account    TEXT,
    credential_hint     TEXT,
    scopes              TEXT,
    access_expires_at   TEXT,
    refresh_expires_at  TEXT,
    last_error_code     TEXT,
    last_error_message  TEXT,
    last_error_hint     TEXT,
    secret_ref          TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    last_checked_at     TEXT
);
CREATE INDEX connections_customer ON connections(customer_id);

CREATE TABLE sites (
    id             TEXT PRIMARY KEY,
    connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    provider       TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    name           TEXT NOT NULL,
    address        TEXT,
    peak_power_kw  REAL,
    status         TEXT,
    created_at     TEXT NOT NULL,
    UNIQUE (connection_id, external_id)
);
CREATE INDEX sites_provider_external ON sites(provider, external_id);

-- Vendor apps and installer accounts: ids and masked hints here, secrets in the keyring.
CREATE TABLE provider_apps (
    provider         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    client_id        TEXT,
    credential_hint  TEXT,
    redirect_mode    TEXT,
    secret_ref       TEXT,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (provider, kind)
);

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    customer_id    TEXT,
    connection_id  TEXT,
    provider       TEXT,
    kind           TEXT NOT NULL,
    summary        TEXT NOT NULL,
    actor          TEXT NOT NULL,
    scopes         TEXT
);
CREATE INDEX events_customer ON events(customer_id, id);
