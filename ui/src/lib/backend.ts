// The UI's one door to Onramp's backend. Every `invoke`, every event `listen` and the window's
// file drops live here, so the components run the same against the real app and against a fake
// in tests and in a plain browser preview. No other module imports `@tauri-apps/api`.
import { invoke } from "@tauri-apps/api/core";
import { UI_EVENTS } from "./bindings";
import type { Timeline } from "./timeline";
import type {
  ActivityFilter,
  CompanySettings,
  HandOff,
  AppStatus,
  BackupSummary,
  Connection,
  ConnectAccountSites,
  ConnectionsChanged,
  ConnectionsOnRemove,
  Customer,
  CustomerDetail,
  ImportOutcome,
  ImportPreview,
  SimilarCustomer,
  CustomerList,
  CustomerSummary,
  ErrorInfo,
  Event,
  HealthItem,
  InstallerAccount,
  KeyInput,
  NewCustomer,
  OAuthStart,
  RedirectMode,
  SignInOptions,
  SignInReturn,
  SignInStatus,
  FilesDropped,
  UsageImport,
  UsageImportProgress,
  UsageSeries,
  VaultStatus,
  VendorApp,
  VendorAppInput,
  ProviderId,
  ProviderInfo,
  SiteSearch,
} from "./bindings";

/** A file dragged over the app window, or dropped on it: its paths on this computer. */
export type FileDrop = { type: "enter" | "drop"; paths: string[] } | { type: "over" | "leave" };

export interface Backend {
  appStatus(): Promise<AppStatus>;
  /** Asks the keyring again (after the installer unlocked it). */
  recheckVault(): Promise<VaultStatus>;
  /** Every customer the search matches (all of them without one). */
  listCustomers(query: string | null): Promise<CustomerSummary[]>;
  /** One page of the Customers screen, and how many match in all. */
  customersPage(query: string | null, offset: number, limit: number): Promise<CustomerList>;
  /** The first screen has painted with its data (logged with the time since launch, and the
   * page's own record of its load). */
  uiReady(timeline?: Timeline): Promise<void>;
  addCustomer(input: NewCustomer): Promise<Customer>;
  getCustomer(id: string): Promise<CustomerDetail>;
  /** Existing customers with the same name and address (compared normalised): a warning. */
  similarCustomers(input: NewCustomer): Promise<SimilarCustomer[]>;
  updateCustomer(id: string, input: NewCustomer): Promise<Customer>;
  /** Removes a customer; their connections are revoked at the vendors (final) or moved. */
  removeCustomer(id: string, connections: ConnectionsOnRemove): Promise<void>;
  /** A customers CSV picked in the UI, read row by row; nothing is written. */
  previewCustomerImport(text: string): Promise<ImportPreview>;
  /** Imports every row of it, or none when any row is in error. */
  importCustomers(text: string, fileName: string, skipDuplicates: boolean): Promise<ImportOutcome>;
  /** The same for a CSV dropped on the window: the drop and the file's name
   * (`onFilesDropped`); the shell holds the path. */
  previewDroppedCustomerImport(drop: number, name: string): Promise<ImportPreview>;
  importDroppedCustomers(drop: number, name: string, skipDuplicates: boolean): Promise<ImportOutcome>;
  /** Removes one usage series (an imported file's, or one a utility brought). */
  removeUsageSeries(id: string): Promise<void>;
  listProviders(): Promise<ProviderInfo[]>;
  installerAccounts(): Promise<InstallerAccount[]>;
  saveInstallerAccount(input: KeyInput): Promise<InstallerAccount>;
  removeInstallerAccount(provider: ProviderId): Promise<void>;
  searchAccountSites(provider: ProviderId, query: string): Promise<SiteSearch>;
  connectAccountSites(input: ConnectAccountSites): Promise<Connection>;
  connectCustomerKey(customerId: string, input: KeyInput): Promise<Connection>;
  removeConnection(id: string): Promise<void>;
  /** The newest entries (at most `ACTIVITY_PAGE`) the filter lets through, newest first. */
  listEvents(filter: ActivityFilter): Promise<Event[]>;
  /** Starts the customer's sign-in at the vendor and opens it in the browser. */
  /** `reauthorize`: the connection the customer signs in again for (renewed in place). */
  beginSignIn(customerId: string, provider: ProviderId, mode: RedirectMode, options?: SignInOptions, reauthorize?: string): Promise<OAuthStart>;
  health(): Promise<HealthItem[]>;
  /** The activity the filter lets through (a customer's, or everyone's) saved to Downloads; the
   * file's path. */
  exportActivity(filter: ActivityFilter, format: "csv" | "json"): Promise<string>;
  /** Your name (written with each event) and the providers the company uses. */
  companySettings(): Promise<CompanySettings>;
  /** Keeps exactly these sites (the vendor's ids) of a connection for its customer. */
  chooseSites(connectionId: string, attached: string[]): Promise<Connection>;
  /** The customer's hand-off sheet: what is connected, what it gives, how to withdraw it. */
  handOff(customerId: string): Promise<HandOff>;
  saveCompanySettings(settings: CompanySettings): Promise<CompanySettings>;
  /** Everything backed up into Downloads, encrypted to the passphrase; what it holds and where. */
  createBackup(passphrase: string): Promise<BackupSummary>;
  /** Replaces this laptop's data with a backup's (`replace`: the installer confirmed). */
  restoreDroppedBackup(drop: number, name: string, passphrase: string, replace: boolean): Promise<BackupSummary>;
  /** The same for a backup file picked in the window: its bytes. */
  restoreBackupBytes(fileName: string, bytes: Uint8Array, passphrase: string, replace: boolean): Promise<BackupSummary>;
  signInStatus(signIn: string): Promise<SignInStatus>;
  pasteSignIn(signIn: string, pasted: string): Promise<Connection>;
  cancelSignIn(signIn: string): Promise<void>;
  vendorApps(): Promise<VendorApp[]>;
  saveVendorApp(input: VendorAppInput): Promise<VendorApp>;
  setSignInReturn(input: SignInReturn): Promise<VendorApp>;
  /** Asks the vendor again whether a connection works. */
  checkConnection(id: string): Promise<Connection>;
  /** New tokens now (signed-in connections). */
  refreshConnection(id: string): Promise<Connection>;
  /** Fetches a utility connection's usage again (UtilityAPI, Metry). */
  fetchUsage(connectionId: string): Promise<UsageSeries[]>;
  /** Imports a Green Button file dropped on the window: the drop's number and the file's name
   * (`onFilesDropped`); the shell holds the path, the UI never names one. */
  importDroppedUsage(customerId: string, drop: number, name: string): Promise<UsageImport>;
  /** Imports a Green Button file picked in the window's file chooser (its bytes, at most 128 MB). */
  importUsageBytes(customerId: string, fileName: string, bytes: Uint8Array): Promise<UsageImport>;
  /** Cancels the customer's usage import being read: it rejects with code `Cancelled` and
   * stores nothing. Resolves to whether one was running. */
  cancelUsageImport(customerId: string): Promise<boolean>;
  /** How far a usage import has read its file. */
  onUsageImportProgress(cb: (p: UsageImportProgress) => void): Promise<() => void>;
  /** Files dropped on the window, as the shell keeps them (a number and the files' names). */
  onFilesDropped(cb: (d: FilesDropped) => void): Promise<() => void>;
  /** The background refresh changed something (tokens renewed, a grant refused or lost);
   * resolves to the way to stop listening. */
  onConnectionsChanged(cb: (news: ConnectionsChanged) => void): Promise<() => void>;
  /** The keyring went away or came back. */
  onVaultChanged(cb: (vault: VaultStatus) => void): Promise<() => void>;
  /** Files dragged over or dropped on the window (the app window hands over their paths);
   * resolves to the way to stop listening. */
  onFileDrop(cb: (drop: FileDrop) => void): Promise<() => void>;
}

/** Anything a command rejects with, as `{code, message, hint}`. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: ErrorInfo["code"]; message: unknown; hint?: unknown; details?: unknown };
    const info: ErrorInfo = { code: o.code, message: String(o.message), hint: o.hint == null ? null : String(o.hint) };
    if (o.details != null) info.details = String(o.details);
    return info;
  }
  return { code: "Internal", message: e instanceof Error ? e.message : String(e), hint: null };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toErrorInfo(e);
  }
}

export const tauriBackend: Backend = {
  appStatus: () => call("app_status"),
  recheckVault: () => call("recheck_vault"),
  listCustomers: (query) => call("list_customers", { query }),
  customersPage: (query, offset, limit) => call("customers_page", { query, offset, limit }),
  uiReady: (timeline) => call("ui_ready", { timeline }),
  addCustomer: (input) => call("add_customer", { input }),
  getCustomer: (id) => call("get_customer", { id }),
  similarCustomers: (input) => call("similar_customers", { input }),
  updateCustomer: (id, input) => call("update_customer", { id, input }),
  removeCustomer: (id, connections) => call("remove_customer", { id, connections }),
  previewCustomerImport: (text) => call("preview_customer_import", { text }),
  importCustomers: (text, fileName, skipDuplicates) => call("import_customers", { text, fileName, skipDuplicates }),
  previewDroppedCustomerImport: (drop, name) => call("preview_dropped_customer_import", { drop, name }),
  importDroppedCustomers: (drop, name, skipDuplicates) => call("import_dropped_customers", { drop, name, skipDuplicates }),
  removeUsageSeries: (id) => call("remove_usage_series", { id }),
  listProviders: () => call("list_providers"),
  installerAccounts: () => call("installer_accounts"),
  saveInstallerAccount: (input) => call("save_installer_account", { input }),
  removeInstallerAccount: (provider) => call("remove_installer_account", { provider }),
  searchAccountSites: (provider, query) => call("search_account_sites", { provider, query }),
  connectAccountSites: (input) => call("connect_account_sites", { input }),
  connectCustomerKey: (customerId, input) => call("connect_customer_key", { customerId, input }),
  removeConnection: (id) => call("remove_connection", { id }),
  listEvents: (filter) => call("list_events", { filter }),
  beginSignIn: (customerId, provider, mode, options, reauthorize) =>
    call("begin_sign_in", { customerId, provider, mode, options: options ?? null, reauthorize: reauthorize ?? null }),
  health: () => call("health"),
  exportActivity: (filter, format) => call("export_activity", { filter, format }),
  companySettings: () => call("company_settings"),
  handOff: (customerId) => call("hand_off", { customerId }),
  chooseSites: (connectionId, attached) => call("choose_sites", { connectionId, attached }),
  saveCompanySettings: (settings) => call("save_company_settings", { settings }),
  createBackup: (passphrase) => call("create_backup", { passphrase }),
  restoreDroppedBackup: (drop, name, passphrase, replace) => call("restore_dropped_backup", { drop, name, passphrase, replace }),
  restoreBackupBytes: async (fileName, bytes, passphrase, replace) => {
    try {
      // The file travels as the raw request body; its name, the passphrase and the choice as headers.
      return await invoke<BackupSummary>("restore_backup_bytes", bytes, {
        headers: {
          "onramp-file-name": encodeURIComponent(fileName),
          "onramp-passphrase": encodeURIComponent(passphrase),
          "onramp-replace": String(replace),
        },
      });
    } catch (e) {
      throw toErrorInfo(e);
    }
  },
  signInStatus: (signIn) => call("sign_in_status", { signIn }),
  pasteSignIn: (signIn, pasted) => call("paste_sign_in", { signIn, pasted }),
  cancelSignIn: (signIn) => call("cancel_sign_in", { signIn }),
  vendorApps: () => call("vendor_apps"),
  saveVendorApp: (input) => call("save_vendor_app", { input }),
  setSignInReturn: (input) => call("set_sign_in_return", { input }),
  checkConnection: (id) => call("check_connection", { id }),
  refreshConnection: (id) => call("refresh_connection", { id }),
  fetchUsage: (id) => call("fetch_usage", { id }),
  importDroppedUsage: (customerId, drop, name) => call("import_dropped_usage", { customerId, drop, name }),
  cancelUsageImport: (customerId) => call("cancel_usage_import", { customerId }),
  importUsageBytes: async (customerId, fileName, bytes) => {
    try {
      // The file travels as the raw request body; the customer and the name as headers.
      return await invoke<UsageImport>("import_usage_bytes", bytes, {
        headers: { "onramp-customer": customerId, "onramp-file-name": encodeURIComponent(fileName) },
      });
    } catch (e) {
      throw toErrorInfo(e);
    }
  },
  onConnectionsChanged: (cb) =>
    import("@tauri-apps/api/event").then(({ listen }) =>
      listen<ConnectionsChanged>(UI_EVENTS.connectionsChanged, (e) => cb(e.payload)),
    ),
  onVaultChanged: (cb) =>
    import("@tauri-apps/api/event").then(({ listen }) => listen<VaultStatus>(UI_EVENTS.vaultChanged, (e) => cb(e.payload))),
  onUsageImportProgress: (cb) =>
    import("@tauri-apps/api/event").then(({ listen }) =>
      listen<UsageImportProgress>(UI_EVENTS.usageImportProgress, (e) => cb(e.payload)),
    ),
  onFilesDropped: (cb) =>
    import("@tauri-apps/api/event").then(({ listen }) => listen<FilesDropped>(UI_EVENTS.filesDropped, (e) => cb(e.payload))),
  onFileDrop: (cb) =>
    import("@tauri-apps/api/webview").then(({ getCurrentWebview }) =>
      getCurrentWebview().onDragDropEvent((ev) => {
        const p = ev.payload;
        if (p.type === "enter" || p.type === "drop") cb({ type: p.type, paths: p.paths });
        else cb({ type: p.type });
      }),
    ),
};

let current: Backend = tauriBackend;

/** The backend in use. */
export function backend(): Backend {
  return current;
}

/** Replaces the backend (tests, browser preview). */
export function setBackend(b: Backend): void {
  current = b;
}

export function insideTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}
