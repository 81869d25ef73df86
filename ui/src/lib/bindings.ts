// This file was generated from Onramp's Rust types. Do not edit it by hand.
export type AppStatus = { version: string, environment: Environment, data_dir: string, config_file: string, vault: VaultStatus, 
/**
 * Demo keys the Sandbox accepts (only in the Sandbox environment; these are not secrets).
 */
sandbox_keys: Array<SandboxDemoKey>, };
export type Code = "Validation" | "NotFound" | "Network" | "RateLimited" | "VendorRejected" | "Declined" | "ReauthRequired" | "VendorError" | "KeychainUnavailable" | "NotConfigured" | "Storage" | "Internal";
export type ConnectAccountSites = { customer_id: string, provider: ProviderId, site_ids: Array<string>, };
export type Connection = { id: string, customer_id: string, provider: ProviderId, kind: CredentialKind, state: ConnectionState, 
/**
 * A masked form of the credential ("…B1O6" ), never the secret.
 */
credential_hint: string | null, last_error: ErrorInfo | null, created_at: string, last_checked_at: string | null, sites: Array<Site>, };
export type ConnectionState = "active" | "expiring" | "needs_reauth" | "error" | "revoked" | "pending";
export type CredentialKind = "installer_account" | "customer_key" | "oauth";
export type Customer = { id: string, name: string, address: string | null, email: string | null, phone: string | null, job_number: string | null, 
/**
 * RFC 3339, UTC.
 */
created_at: string, updated_at: string, };
export type CustomerDetail = { customer: Customer, providers: Array<ProviderInfo>, connections: Array<Connection>, events: Array<Event>, };
export type CustomerSummary = { id: string, name: string, address: string | null, job_number: string | null, connected: number, needs_attention: number, sites: number, 
/**
 * RFC 3339: the newest event for this customer, or its creation.
 */
last_activity_at: string, };
export type Environment = "sandbox" | "production";
export type ErrorInfo = { code: Code, message: string, hint: string | null, };
export type Event = { id: number, at: string, customer_id: string | null, connection_id: string | null, provider: ProviderId | null, 
/**
 * `customer_created`, `connected`, `connect_failed`, `connection_removed`,
 * `installer_account_saved`, `installer_account_removed`.
 */
kind: string, summary: string, 
/**
 * `app` or `cli`.
 */
actor: string, };
export type FieldSpec = { 
/**
 * `api_key`, `key_id` or `key_secret`.
 */
name: string, label: string, secret: boolean, placeholder: string, };
export type InstallerAccount = { provider: ProviderId, provider_name: string, configured: boolean, credential_hint: string | null, updated_at: string | null, help: string, };
export type KeyInput = { provider: ProviderId, 
/**
 * SolarEdge: the API key.
 */
api_key: string | null, 
/**
 * Solis: KeyId and KeySecret.
 */
key_id: string | null, key_secret: string | null, };
export type NewCustomer = { name: string, address: string | null, email: string | null, phone: string | null, job_number: string | null, };
export type OAuthStart = { provider: ProviderId, authorize_url: string, redirect_uri: string, mode: RedirectMode, 
/**
 * Identifies this sign-in (for paste and cancel); it travels in the URL anyway.
 */
state: string, expires_at: string, };
export type ProviderId = "solaredge" | "solis" | "tesla" | "enphase" | "sma";
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
 * Set when the customer can connect by signing in at the vendor (OAuth).
 */
sign_in: SignInInfo | null, };
export type RedirectMode = "loopback" | "deep_link" | "paste";
export type RemoteSite = { external_id: string, name: string, address: string | null, peak_power_kw: number | null, status: string | null, 
/**
 * Set when this site is already connected to a customer (their name).
 */
connected_to: string | null, };
export type SandboxDemoKey = { provider: ProviderId, label: string, api_key: string | null, key_id: string | null, key_secret: string | null, };
export type SignInInfo = { 
/**
 * What the customer needs at hand.
 */
help: string, default_mode: RedirectMode, 
/**
 * The ways back this provider supports (paste only where the vendor's page shows the code).
 */
modes: Array<RedirectMode>, };
export type SignInReturn = { provider: ProviderId, mode: RedirectMode, relay_url: string | null, };
export type SignInStatus = { "status": "waiting" } | { "status": "connected", connection: Connection, } | { "status": "failed", error: ErrorInfo, };
export type Site = { id: string, connection_id: string, provider: ProviderId, 
/**
 * The vendor's id for it (SolarEdge siteId, Solis station id).
 */
external_id: string, name: string, address: string | null, peak_power_kw: number | null, status: string | null, };
export type SiteSearch = { total: number, sites: Array<RemoteSite>, };
export type VaultStatus = { available: boolean, 
/**
 * Which store holds the secrets ("Secret Service", "macOS Keychain", ...).
 */
backend: string, message: string | null, hint: string | null, };
export type VendorApp = { provider: ProviderId, provider_name: string, client_id: string | null, 
/**
 * `sandbox` (the Sandbox's demo app), `settings` (saved here) or `none`.
 */
source: string, 
/**
 * Enphase apps also carry an API key.
 */
needs_api_key: boolean, 
/**
 * How the sign-in comes back (Settings over onramp.toml over the vendor's default).
 */
redirect_mode: RedirectMode, modes: Array<RedirectMode>, 
/**
 * The company's https relay page, used with the deep link.
 */
relay_url: string | null, };
export type VendorAppInput = { provider: ProviderId, client_id: string, client_secret: string, api_key: string | null, };
