// This file was generated from Onramp's Rust types. Do not edit it by hand.
export type ActivityFilter = { customer_id: string | null, provider: ProviderId | null, kind: EventKind | null, since: string | null, until: string | null, };
export type AppSource = "sandbox" | "settings" | "none";
export type AppStatus = { version: string, environment: Environment, data_dir: string, config_file: string, vault: VaultStatus, 
/**
 * Demo keys the Sandbox accepts (only in the Sandbox environment; these are not secrets).
 */
sandbox_keys: Array<SandboxDemoKey>, };
export type BackupSummary = { 
/**
 * The backup file.
 */
path: string, 
/**
 * When the backup was made (RFC 3339).
 */
created_at: string, 
/**
 * The Onramp version that made it.
 */
onramp_version: string, customers: number, connections: number, sites: number, 
/**
 * Vendor apps, installer accounts and sign-in return settings.
 */
vendor_apps: number, usage_series: number, events: number, 
/**
 * Secrets carried (tokens, keys, client secrets), opened and encrypted to the passphrase.
 */
secrets: number, 
/**
 * What the installer should know (after a restore: what a backup cannot bring back).
 */
note: string | null, };
export type Category = "devices" | "aggregator" | "utility";
export type Code = "Validation" | "NotFound" | "Network" | "RateLimited" | "VendorRejected" | "Declined" | "ReauthRequired" | "TokenLost" | "VendorError" | "KeychainUnavailable" | "NotConfigured" | "Storage" | "Busy" | "Cancelled" | "Internal";
export type CompanySettings = { 
/**
 * Your name: every event you cause records it, so the activity export names who acted.
 */
installer_name: string | null, 
/**
 * The providers your company uses, in the customer page's order.
 */
providers: Array<ProviderId>, 
/**
 * No choice made: every provider Onramp knows (new ones included).
 */
all_providers: boolean, };
export type ConnectAccountSites = { customer_id: string, provider: ProviderId, site_ids: Array<string>, };
export type Connection = { id: string, customer_id: string, provider: ProviderId, kind: CredentialKind, state: ConnectionState, 
/**
 * A masked form of the credential ("…B1O6" ), never the secret.
 */
credential_hint: string | null, last_error: ErrorInfo | null, created_at: string, last_checked_at: string | null, sites: Array<Site>, 
/**
 * OAuth: the scope the vendor granted (the customer may have edited it).
 */
scopes: string | null, 
/**
 * Facts about the grant worth showing, never secrets.
 */
details: ConnectionDetails, 
/**
 * OAuth: when the access token expires (RFC 3339), if the vendor said.
 */
access_expires_at: string | null, 
/**
 * OAuth: when the refresh token expires unless it is used (RFC 3339), if known.
 */
refresh_expires_at: string | null, 
/**
 * OAuth: when the current tokens were issued (RFC 3339).
 */
tokens_issued_at: string | null, };
export type ConnectionDetails = { 
/**
 * UtilityAPI: the utility's id.
 */
utility?: string, 
/**
 * UtilityAPI: the utility's name.
 */
utility_name?: string, 
/**
 * UtilityAPI: the scope asked for (the customer may grant less).
 */
scope_requested?: string, 
/**
 * UtilityAPI: ESPI's `resourceURI` from the token answer.
 */
resource_uri?: string, 
/**
 * UtilityAPI: ESPI's `authorizationURI` from the token answer.
 */
authorization_uri?: string, 
/**
 * Pelm: the user the connection belongs to (the customer's id).
 */
user_id?: string, 
/**
 * Pelm Connect's mode for this sign-in: `create` or `update`.
 */
mode?: string, 
/**
 * Derapi: the device vendor.
 */
vendor?: string, 
/**
 * Derapi: the sign-in flow.
 */
flow_id?: string, 
/**
 * Derapi: the enrollment the sign-in made.
 */
enrollment_id?: string, 
/**
 * Derapi: the vendor session.
 */
session_id?: string, 
/**
 * Derapi: the site.
 */
site_id?: string, 
/**
 * The account the vendor says the grant is for.
 */
account?: string, };
export type ConnectionState = "active" | "expiring" | "needs_reauth" | "error" | "revoked" | "pending";
export type ConnectionsChanged = { 
/**
 * "3 of 40 signed-in connections: 3 refreshed".
 */
summary: string, 
/**
 * Connections whose sign-in was lost in an interrupted refresh: the customer must sign in
 * again, and the installer should hear it at once.
 */
lost: Array<LostGrant>, 
/**
 * Connections whose grant the vendor refused in this sweep (the customer withdrew it, or
 * it lapsed): the customer must sign in again, and the installer hears it by name.
 */
refused: Array<LostGrant>, };
export type ConnectionsOnRemove = { "action": "revoke" } | { "action": "move_to", customer_id: string, };
export type CredentialKind = "installer_account" | "customer_key" | "oauth";
export type Customer = { id: string, name: string, address: string | null, email: string | null, phone: string | null, job_number: string | null, 
/**
 * RFC 3339, UTC.
 */
created_at: string, updated_at: string, };
export type CustomerDetail = { customer: Customer, providers: Array<ProviderInfo>, connections: Array<Connection>, events: Array<Event>, usage: Array<UsageSeries>, };
export type CustomerList = { 
/**
 * Newest activity first.
 */
customers: Array<CustomerSummary>, 
/**
 * Every customer the search matches (every customer without a search).
 */
total: number, };
export type CustomerSummary = { id: string, name: string, address: string | null, job_number: string | null, connected: number, needs_attention: number, sites: number, 
/**
 * RFC 3339: the newest event for this customer, or its creation.
 */
last_activity_at: string, };
export type Environment = "sandbox" | "production";
export type ErrorInfo = { code: Code, 
/**
 * What happened, in the installer's words.
 */
message: string, 
/**
 * The one thing to do.
 */
hint: string | null, 
/**
 * What the vendor answered, as it said it (`invalid_grant (Unknown refresh token)`): shown
 * only under Details.
 */
details?: string, };
export type Event = { id: number, at: string, customer_id: string | null, 
/**
 * The customer's name, while the customer exists (a removed customer's entries keep only
 * its id).
 */
customer_name: string | null, connection_id: string | null, provider: ProviderId | null, kind: EventKind, summary: string, 
/**
 * `app` or `cli`.
 */
actor: string, 
/**
 * The installer who acted (Settings: your name), when one was set; none for what Onramp
 * did on its own (a background refresh).
 */
installer: string | null, 
/**
 * The scopes a sign-in granted, with its event.
 */
scopes: string | null, };
export type EventKind = "customer_created" | "customer_updated" | "customer_removed" | "connection_moved" | "connected" | "reauthorized" | "refreshed" | "check_failed" | "needs_reauth" | "revoked" | "token_lost" | "refresh_refused" | "connection_removed" | "sites_chosen" | "secrets_missing" | "usage_imported" | "usage_removed" | "app_saved" | "installer_account_saved" | "installer_account_signed_in" | "installer_account_removed" | "installer_account_renewed" | "installer_account_needs_sign_in" | "installer_account_token_lost" | "key_rotated" | "backup_created" | "backup_restored";
export type FieldSpec = { 
/**
 * `api_key`, `key_id` or `key_secret`.
 */
name: string, label: string, secret: boolean, placeholder: string, 
/**
 * What a well-formed value looks like, so the form can say so before anything is sent.
 */
shape: KeyShape, };
export type FilesDropped = { drop: number, 
/**
 * The files' names (no folders), in the order dropped.
 */
names: Array<string>, };
export type FirstScreen = { status: AppStatus, providers: Array<ProviderInfo>, customers: CustomerList, };
export type HandOff = { customer: Customer, 
/**
 * The day of the visit (YYYY-MM-DD, the installer's clock).
 */
date: string, 
/**
 * Who connected it (Settings → Company: your name), when set.
 */
installer_name: string | null, 
/**
 * Today's connections first, then the earlier ones.
 */
items: Array<HandOffItem>, };
export type HandOffItem = { provider: ProviderId, provider_name: string, kind: CredentialKind, 
/**
 * The sites (systems, meters) it reaches, by name.
 */
sites: Array<string>, 
/**
 * Connected on the day of the visit.
 */
today: boolean, 
/**
 * RFC 3339.
 */
connected_at: string, 
/**
 * What Onramp may do with it.
 */
access: string, 
/**
 * The scopes the vendor granted, as it named them.
 */
scopes: string | null, 
/**
 * Until when, in words.
 */
until: string, 
/**
 * How to withdraw it at the vendor.
 */
withdraw: string, };
export type HealthItem = { connection_id: string, customer_id: string, customer_name: string, provider: ProviderId, state: ConnectionState, 
/**
 * What is wrong or coming, in a sentence ("Enphase's refresh token expires in 2 days
 * unless Onramp runs").
 */
title: string, 
/**
 * What to do about it.
 */
action: string, 
/**
 * Who must act.
 */
who: Who, 
/**
 * How soon; the board sorts by it, most urgent first.
 */
urgency: Urgency, 
/**
 * When it lapses, if it does (RFC 3339).
 */
due_at: string | null, 
/**
 * Whether the customer signing in again fixes it (the re-authorize button).
 */
can_reauthorize: boolean, 
/**
 * Not a customer's connection but the company's installer account, fixed in Settings
 * (`connection_id` is then `installer_account/{provider}`, `customer_id` empty).
 */
in_settings: boolean, };
export type ImportDuplicate = { "kind": "existing", customer: SimilarCustomer, } | { "kind": "in_file", line: number, };
export type ImportOutcome = { imported: number, 
/**
 * Rows left out because they duplicate an existing customer or an earlier row.
 */
skipped_duplicates: number, };
export type ImportPreview = { 
/**
 * The columns recognised, in the file's order (`name`, `address`, ...).
 */
columns: Array<string>, 
/**
 * Header cells that name no column Onramp knows; they are not imported.
 */
ignored_columns: Array<string>, rows: Array<ImportRow>, 
/**
 * Errors of the file itself (nothing readable, no name column).
 */
file_errors: Array<string>, };
export type ImportRow = { line: number, customer: NewCustomer, errors: Array<string>, duplicate: ImportDuplicate | null, };
export type InstallerAccount = { provider: ProviderId, provider_name: string, configured: boolean, credential_hint: string | null, updated_at: string | null, help: string, 
/**
 * The account is a sign-in Onramp keeps alive (Enphase's partner plan), not a key that
 * lasts: its access token's and refresh token's expiries (RFC 3339).
 */
renews: boolean, access_expires_at: string | null, refresh_expires_at: string | null, 
/**
 * The account must be signed in again, and why (its refresh was refused, or it was saved
 * the earlier way, as a pasted token).
 */
needs_sign_in: ErrorInfo | null, };
export type KeyChars = "printable" | "digits" | "token";
export type KeyInput = { provider: ProviderId, 
/**
 * SolarEdge: the API key.
 */
api_key: string | null, 
/**
 * Solis: KeyId and KeySecret.
 */
key_id: string | null, key_secret: string | null, 
/**
 * Enphase partner plan: the partner application's client id and secret (its API key in
 * `api_key`) and the Enlighten user it signs in as. The password is sent once, to sign
 * in, and never kept.
 */
client_id?: string | null, client_secret?: string | null, username?: string | null, password?: string | null, };
export type KeyShape = { chars: KeyChars, min_len: number, max_len: number, };
export type LostGrant = { connection_id: string, customer_id: string, customer_name: string, provider: ProviderId, 
/**
 * What happened and when, for the installer.
 */
message: string, };
export type NewCustomer = { name: string, address: string | null, email: string | null, phone: string | null, job_number: string | null, };
export type OAuthStart = { provider: ProviderId, authorize_url: string, redirect_uri: string, mode: RedirectMode, 
/**
 * Identifies this sign-in (for paste and cancel); it travels in the URL anyway.
 */
state: string, expires_at: string, };
export type ProviderId = "solaredge" | "solis" | "tesla" | "enphase" | "sma" | "derapi" | "utilityapi" | "pelm" | "metry";
export type ProviderInfo = { id: ProviderId, name: string, 
/**
 * "Site", "Station", ...
 */
site_noun: string, fields: Array<FieldSpec>, 
/**
 * Where the customer finds their own key.
 */
customer_key_help: string, 
/**
 * Where the installer finds the account-wide key.
 */
account_key_help: string, installer_account_configured: boolean, 
/**
 * The installer account's fields, where the vendor has one (may differ from `fields`).
 */
account_fields: Array<FieldSpec>, 
/**
 * Set when the customer can connect by signing in at the vendor (OAuth).
 */
sign_in: SignInInfo | null, 
/**
 * Which list of the customer's checklist it belongs to.
 */
category: Category, 
/**
 * A sentence the UI shows with the provider (e.g. what only this provider can do).
 */
note: string | null, 
/**
 * The company uses it (Settings → Company): the customer page lists only those.
 */
in_use: boolean, };
export type RedirectMode = "loopback" | "deep_link" | "paste";
export type RemoteSite = { external_id: string, name: string, address: string | null, peak_power_kw: number | null, status: string | null, 
/**
 * Set when this site is already connected to a customer (their name).
 */
connected_to: string | null, };
export type SandboxDemoKey = { provider: ProviderId, label: string, api_key: string | null, key_id: string | null, key_secret: string | null, 
/**
 * Enphase partner plan: the partner application and the Enlighten user it signs in as.
 */
client_id: string | null, client_secret: string | null, username: string | null, password: string | null, };
export type SignInChoice = { id: string, label: string, };
export type SignInInfo = { 
/**
 * What the customer needs at hand.
 */
help: string, default_mode: RedirectMode, 
/**
 * The ways back this provider supports (paste only where the vendor's page shows the code).
 */
modes: Array<RedirectMode>, 
/**
 * UtilityAPI: the utilities to pick from; Derapi: the device vendors.
 */
choices: Array<SignInChoice>, 
/**
 * What the choice is called ("Utility", "Device vendor").
 */
choice_label: string | null, 
/**
 * UtilityAPI: the scope asked for unless the installer edits it.
 */
default_scope: string | null, };
export type SignInOptions = { 
/**
 * UtilityAPI: the utility (from the configured list).
 */
utility: string | null, 
/**
 * UtilityAPI: the scope to ask for (the customer may still edit it).
 */
scope: string | null, 
/**
 * Derapi Join: the device vendor the customer enrolls.
 */
vendor: string | null, };
export type SignInReturn = { provider: ProviderId, mode: RedirectMode, relay_url: string | null, };
export type SignInStatus = { "status": "waiting" } | { "status": "connected", connection: Connection, } | { "status": "failed", error: ErrorInfo, };
export type SimilarCustomer = { id: string, name: string, address: string | null, };
export type Site = { id: string, connection_id: string, provider: ProviderId, 
/**
 * The vendor's id for it (SolarEdge siteId, Solis station id).
 */
external_id: string, name: string, address: string | null, peak_power_kw: number | null, status: string | null, 
/**
 * The installer counts it as this customer's (one that is another household's stays on
 * the connection, unattached, so the choice can be changed).
 */
attached: boolean, 
/**
 * Whether its address is the customer's (`None`: one of them says too little to tell).
 */
address_matches: boolean | null, };
export type SiteSearch = { total: number, sites: Array<RemoteSite>, };
export type Urgency = "now" | "soon" | "waiting" | "later";
export type UsageImport = { file_name: string, bytes: number, series: Array<UsageSeries>, };
export type UsageImportProgress = { customer_id: string, file_name: string, 
/**
 * Bytes read so far.
 */
read: number, 
/**
 * The file's size in bytes.
 */
total: number, };
export type UsageMonth = { 
/**
 * `2025-01`, in the utility's local time.
 */
month: string, 
/**
 * In thousandths of the series' unit: watt-hours for kWh, millitherms for therm. An
 * integer, so 199.563 kWh is 199563 exactly, in core, the store and the UI.
 */
energy_milli: number, 
/**
 * In the series' currency, where the utility gave costs.
 */
cost: number | null, };
export type UsageSeries = { id: string, customer_id: string, 
/**
 * Set when the usage came through a connection (it stays if the connection is removed).
 */
connection_id: string | null, 
/**
 * Where it came from: "Green Button file usage.xml", "UtilityAPI (Demo Utility)", "Metry".
 */
source: string, 
/**
 * The meter: its address or name.
 */
title: string, 
/**
 * Where the utility serves this meter, as a Green Button feed names it (its UsagePoint's
 * title); `None` from sources that do not say. The customer page shows it beside the
 * customer's address when they differ.
 */
service_address: string | null, 
/**
 * `electricity`, `gas`, `water`, `heat` or `other`.
 */
commodity: string, 
/**
 * `delivered`, `received`, `net` or `unknown`.
 */
flow: string, 
/**
 * `kWh`, `therm`, `m³`, ...
 */
unit: string, currency: string | null, readings: number, first_at: string | null, last_at: string | null, months: Array<UsageMonth>, updated_at: string, };
export type VaultState = "ready" | "unavailable" | "key_missing" | "key_mismatch";
export type VaultStatus = { 
/**
 * Secrets can be sealed and opened (the state is `ready`).
 */
available: boolean, state: VaultState, 
/**
 * Which store holds the secrets ("Secret Service", "macOS Keychain", ...).
 */
backend: string, message: string | null, hint: string | null, };
export type VendorApp = { provider: ProviderId, provider_name: string, client_id: string | null, 
/**
 * Where its credentials come from.
 */
source: AppSource, 
/**
 * Enphase apps also carry an API key.
 */
needs_api_key: boolean, 
/**
 * The vendor accepts a public client (PKCE, no secret: Tesla's Open Source apps): the
 * secret may be left empty.
 */
public_client: boolean, 
/**
 * How the sign-in comes back (Settings over onramp.toml over the vendor's default).
 */
redirect_mode: RedirectMode, modes: Array<RedirectMode>, 
/**
 * The company's https relay page, used with the deep link.
 */
relay_url: string | null, };
export type VendorAppInput = { provider: ProviderId, client_id: string, client_secret: string, api_key: string | null, };
export type Who = "customer" | "installer" | "company" | "onramp";
/** The events the shell sends the UI, by name. */
export const UI_EVENTS = {
  connectionsChanged: "connections-changed",
  vaultChanged: "vault-changed",
  usageImportProgress: "usage-import-progress",
  filesDropped: "files-dropped",
} as const;
/** Every urgency, most urgent first: the health board's order. */
export const URGENCIES: readonly Urgency[] = ["now", "soon", "waiting", "later"];
/** Every kind of activity event (the Activity page's filter). */
export const EVENT_KINDS: readonly EventKind[] = ["customer_created", "customer_updated", "customer_removed", "connection_moved", "connected", "reauthorized", "refreshed", "check_failed", "needs_reauth", "revoked", "token_lost", "refresh_refused", "connection_removed", "secrets_missing", "usage_imported", "usage_removed", "app_saved", "installer_account_saved", "installer_account_signed_in", "installer_account_removed", "installer_account_renewed", "installer_account_needs_sign_in", "installer_account_token_lost", "key_rotated", "backup_created", "backup_restored", "sites_chosen"];
/** How many entries the Activity page reads at once, newest first. */
export const ACTIVITY_PAGE = 500;
