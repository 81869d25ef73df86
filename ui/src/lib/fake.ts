// An in-memory backend for component tests and for previewing the UI in a plain browser
// (`npm run dev` outside the app window). It follows the commands' contract, not the vendors.
import type { Backend, FileDrop } from "./backend";
import type {
  ActivityFilter,
  CompanySettings,
  HandOff,
  AppStatus,
  ConnectionsChanged,
  BackupSummary,
  Connection,
  CustomerDetail,
  HealthItem,
  CustomerSummary,
  ImportPreview,
  ImportRow,
  NewCustomer,
  ErrorInfo,
  Event,
  EventKind,
  InstallerAccount,
  KeyInput,
  ProviderId,
  ProviderInfo,
  RedirectMode,
  RemoteSite,
  SandboxDemoKey,
  Site,
  FilesDropped,
  UsageImportProgress,
  UsageSeries,
  VaultStatus,
} from "./bindings";
import { ACTIVITY_PAGE, URGENCIES } from "./bindings";
import fixture from "./providers.json";

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString().replace(/\.\d+Z$/, "Z");

/** Every provider's facts, as core gives them (`ProviderSpec::info`): generated with the bindings
 * into providers.json, so the fake cannot drift from the real list. What onramp.toml decides is
 * laid over them as the Sandbox's own configuration does: UtilityAPI's utilities. */
export const providers: ProviderInfo[] = (fixture as ProviderInfo[]).map((p) =>
  p.id === "utilityapi" && p.sign_in
    ? { ...p, sign_in: { ...p.sign_in, choices: [{ id: "demo", label: "Sandbox Utility (electric and gas)" }] } }
    : p,
);

/** The span a fake meter covers: its first and last moment (UTC), its utility's offset from UTC. */
export interface FakeSpan {
  first: string;
  last: string;
  tzHours: number;
  serviceAddress: string | null;
}

/** A year of 2025, Fresno time: what an import or a utility connection gives by default. */
export const YEAR_2025: FakeSpan = { first: "2025-01-01T08:00:00Z", last: "2026-01-01T08:00:00Z", tzHours: -8, serviceAddress: null };

/**
 * Monthly usage over `span`, as an import or a utility connection would give it: a seasonal
 * shape of 200..1000 kWh for a whole month, a partial month in proportion to its days; energy in
 * watt-hours (integers, as core keeps them).
 */
export function fakeUsage(customerId: string, source: string, title: string, span: FakeSpan = YEAR_2025): UsageSeries {
  const days = new Map<string, number>();
  const shift = span.tzHours * 3_600_000;
  for (let t = Date.parse(span.first) + shift; t < Date.parse(span.last) + shift; t += 86_400_000) {
    const key = new Date(t).toISOString().slice(0, 7);
    days.set(key, (days.get(key) ?? 0) + 1);
  }
  const months = [...days].map(([month, n]) => {
    const [y, m] = month.split("-").map(Number);
    const inMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const whole = Math.round(600 + 400 * Math.cos(((m - 1 - 7) / 12) * 2 * Math.PI));
    const energy_milli = Math.round((whole * 1000 * n) / inMonth);
    return { month, energy_milli, cost: Math.round((energy_milli / 1000) * 28) / 100 };
  });
  return {
    id: `usage-${title}`,
    customer_id: customerId,
    connection_id: null,
    source,
    title,
    service_address: span.serviceAddress,
    commodity: "electricity",
    flow: "delivered",
    unit: "kWh",
    currency: "USD",
    readings: Math.round((Date.parse(span.last) - Date.parse(span.first)) / 3_600_000),
    first_at: span.first,
    last_at: span.last,
    months,
    updated_at: now(),
  };
}

/** What the fake reads from a Green Button file: the published samples by their names. */
function importedSpan(fileName: string): { title: string; span: FakeSpan } {
  if (/NineDays/i.test(fileName))
    return { title: "Green Button Sample Data File", span: { first: "2014-01-01T05:00:00Z", last: "2014-01-10T05:00:00Z", tzHours: -5, serviceAddress: "Green Button Sample Data File" } };
  if (/2011/.test(fileName))
    return { title: "Coastal Multi-Family 12hr", span: { first: "2011-01-01T08:00:00Z", last: "2012-01-01T08:00:00Z", tzHours: -8, serviceAddress: "Coastal Multi-Family 12hr" } };
  if (/mid-month/i.test(fileName))
    return { title: "1234 Oak St, Fresno", span: { ...YEAR_2025, first: "2025-01-16T08:00:00Z", serviceAddress: "1234 Oak St, Fresno" } };
  return { title: "1234 Oak St, Fresno", span: { ...YEAR_2025, serviceAddress: "1234 Oak St, Fresno" } };
}

const demoKeys: SandboxDemoKey[] = (
  [
  { provider: "solaredge", label: "Installer account key (fleet API key)", api_key: "SANDBOXACCOUNTKEY00000000000001", key_id: null, key_secret: null },
  { provider: "solis", label: "Installer account key", api_key: null, key_id: "1300000000000000001", key_secret: "a0000000000000000000000000000001" },
  { provider: "solis", label: "Customer key 1", api_key: null, key_id: "1234567890123456789", key_secret: "0123456789abcdef0123456789abcdef" },
  { provider: "enphase", label: "Installer account (partner plan)", api_key: "partnerkey00000000000000000000002", key_id: null, key_secret: null, client_id: "0000abcd-sandbox-enphase-partner", client_secret: "partnersecret0001", username: "installer@sandbox-solar.example", password: "Pw-sandbox" },
  ] as (Omit<SandboxDemoKey, "client_id" | "client_secret" | "username" | "password"> & Partial<SandboxDemoKey>)[]
).map((k) => ({ client_id: null, client_secret: null, username: null, password: null, ...k }));

export interface FakeOptions {
  environment?: "sandbox" | "production";
  /** Makes connectCustomerKey reject with this error. */
  connectError?: ErrorInfo;
  /** Secure storage reported unavailable. */
  vaultUnavailable?: boolean;
  /** The keyring answers but lost this data folder's key (a restore brings it back). */
  keyMissing?: boolean;
  /** Delay of the slow calls (vendor checks, account search), in milliseconds. */
  latency?: number;
  /** Starts with demo customers, connections and events. */
  seed?: boolean;
  /** The customer declines every sign-in. */
  declineSignIn?: boolean;
  /** How many sites a customer's key reaches (1 unless said). */
  keySites?: number;
  /** A pasted code the vendor refuses (the sign-in stays open for another paste). */
  refusedCode?: string;
  /** With `seed`: Ben's Tesla needs the customer to sign in again; Ada's Enphase refresh token
   * lapses in two days. */
  troubled?: boolean;
  /** This many more customers, numbered (an installer's whole customer base). */
  many?: number;
  /** Revoking a signed-in connection at its vendor fails with this error. */
  revokeError?: ErrorInfo;
}

/** `setVault`: the keyring is locked (false) or unlocked again (true) behind the app's back.
 * `emitConnectionsChanged` / `emitVaultChanged`: what the background refresh tells the UI.
 * `emitFileDrop`: a file dragged onto the window.
 * `refuseAccount`: the vendor refused a signed-in installer account's renewal. */
export type FakeBackend = Backend & {
  calls: string[];
  setVault(available: boolean): void;
  refuseAccount(provider: ProviderId, why: ErrorInfo): void;
  emitConnectionsChanged(news: ConnectionsChanged): void;
  emitVaultChanged(vault: VaultStatus): void;
  /** Files dragged over or dropped on the window, as the app window reports them. */
  emitFileDrop(drop: FileDrop): void;
  /** Files dropped on the window as the shell keeps them: `paths` stand for what it holds. */
  emitFilesDropped(paths: string[]): void;
  /** Usage imports stop after their first progress report until the returned function runs. */
  holdImports(): () => void;
};

/** Name and address as core compares them for duplicates (`model::normalise`). */
export function normalise(s: string | null): string {
  const short: Record<string, string> = { street: "st", avenue: "ave", road: "rd", drive: "dr", boulevard: "blvd", lane: "ln", court: "ct", place: "pl", apartment: "#", apt: "#", unit: "#", suite: "#", ste: "#", north: "n", south: "s", east: "e", west: "w" };
  return (s ?? "").toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean).map((w) => short[w] ?? w).join(" ");
}
const identity = (c: { name: string; address: string | null }) => `${normalise(c.name)}|${normalise(c.address)}`;

/** A customer's problems as core words them (`NewCustomer::problems`). */
function problems(c: NewCustomer): string[] {
  const out: string[] = [];
  if (!c.name.trim()) out.push("Enter the customer's name.");
  else if (c.name.trim().length > 200) out.push("The name is too long (200 characters at most).");
  const email = c.email?.trim();
  if (email && !/^[^@\s]+@[^@\s.][^@\s]*\.[^@\s]*[^@\s.]$/.test(email)) out.push(`"${email}" is not an email address.`);
  return out;
}

const COLUMNS: Record<string, keyof NewCustomer> = {
  name: "name", customer: "name", customername: "name", fullname: "name", client: "name", clientname: "name", homeowner: "name", contact: "name", contactname: "name",
  address: "address", streetaddress: "address", siteaddress: "address", serviceaddress: "address", street: "address", location: "address", installaddress: "address", installationaddress: "address",
  email: "email", emailaddress: "email", mail: "email", customeremail: "email",
  phone: "phone", phonenumber: "phone", telephone: "phone", tel: "phone", mobile: "phone", cell: "phone", cellphone: "phone", mobilephone: "phone",
  jobnumber: "job_number", job: "job_number", jobno: "job_number", "job#": "job_number", jobid: "job_number", projectnumber: "job_number", project: "job_number", projectid: "job_number", projectno: "job_number", ordernumber: "job_number", reference: "job_number", ref: "job_number",
};
const ORDER: (keyof NewCustomer)[] = ["name", "address", "email", "phone", "job_number"];

/** The rows of a CSV text with the line each starts on (quotes, doubled quotes, CRLF). */
function csvRows(text: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else { if (ch === "\n") line++; cell += ch; }
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { cells.push(cell.trim()); cell = ""; }
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      cells.push(cell.trim());
      rows.push({ line: start, cells });
      cells = []; cell = ""; line++; start = line;
    } else cell += ch;
  }
  if (cell || cells.length) { cells.push(cell.trim()); rows.push({ line: start, cells }); }
  return rows.filter((r) => r.cells.some((c) => c !== ""));
}

/** What core's `customers_csv::preview` makes of a CSV (the same rules, for the UI tests). */
export function fakePreview(text: string, existing: { id: string; name: string; address: string | null }[]): ImportPreview {
  const out: ImportPreview = { columns: [], ignored_columns: [], rows: [], file_errors: [] };
  const rows = csvRows(text.replace(/^\uFEFF/, ""));
  let layout: (keyof NewCustomer | null)[] = ORDER;
  if (rows.length) {
    const header = rows[0].cells.map((c) => COLUMNS[c.toLowerCase().replace(/[^\p{L}\p{N}#]/gu, "")] ?? null);
    if (header.includes("name")) {
      layout = header;
      header.forEach((h, i) => (h ? out.columns.push(h) : out.ignored_columns.push(rows[0].cells[i])));
      rows.shift();
    } else if (header.some((h) => h)) {
      out.file_errors.push("The header has no name column (name, customer, full name, …).");
      return out;
    } else out.columns = [...ORDER];
  }
  const seen = new Map<string, number>();
  for (const r of rows) {
    const customer: NewCustomer = { name: "", address: null, email: null, phone: null, job_number: null };
    const errors: string[] = [];
    r.cells.forEach((v, i) => {
      const col = layout[i];
      if (i >= layout.length) {
        if (v && !errors.length) errors.push(`This row has ${r.cells.length} cells; the header has ${layout.length}.`);
      } else if (col === "name") customer.name = v;
      else if (col) customer[col] = v || null;
    });
    errors.push(...problems(customer));
    const key = identity(customer);
    const twin = existing.find((c) => identity(c) === key);
    const first = seen.get(key);
    const row: ImportRow = {
      line: r.line,
      customer,
      errors,
      duplicate: twin ? { kind: "existing", customer: { id: twin.id, name: twin.name, address: twin.address } } : first ? { kind: "in_file", line: first } : null,
    };
    if (!errors.length && !seen.has(key)) seen.set(key, r.line);
    out.rows.push(row);
  }
  if (!out.rows.length && !out.file_errors.length) out.file_errors.push("The file has no customers (only a header, or nothing).");
  return out;
}

/** Files the fake's "disk" holds, for drops (path → text). */
export const fakeFiles = new Map<string, string>();

export function fakeBackend(opts: FakeOptions = {}): FakeBackend {
  const environment = opts.environment ?? "sandbox";
  const calls: string[] = [];
  const slow = () => new Promise((r) => setTimeout(r, opts.latency ?? 0));
  let n = 0;
  const id = () => `id-${++n}`;
  let eventId = 0;
  const customers = new Map<string, CustomerDetail>();
  const events: Event[] = [];
  const accounts = new Map<ProviderId, InstallerAccount>();
  let company: CompanySettings = { installer_name: null, providers: providers.map((p) => p.id), all_providers: true };
  const signIns = new Map<string, { customerId: string; provider: ProviderId; polls: number; again?: string; paste?: boolean }>();
  const apps = new Map<ProviderId, string>();
  const returns = new Map<ProviderId, { mode: RedirectMode; relay_url: string | null }>();
  const fleet: Record<ProviderId, RemoteSite[]> = {
    solaredge: Array.from({ length: 60 }, (_, i) => ({
      external_id: String(4012345 + i * 7),
      name: ["Garcia Residence", "Nguyen Home", "Sunrise Bakery", "Patel House", "Okafor Ranch"][i % 5] + (i > 4 ? ` ${Math.floor(i / 5) + 1}` : ""),
      address: `${100 + i} ${["Oak", "Elm", "Pine", "Cedar"][i % 4]} St, Fresno, CA 937${10 + (i % 80)}`,
      peak_power_kw: 4 + (i % 12) + 0.4,
      status: i % 9 === 8 ? "Pending communication" : "Active",
      connected_to: null,
    })),
    solis: Array.from({ length: 25 }, (_, i) => ({
      external_id: `12984919194480${String(10000 + i * 13)}`,
      name: ["Garcia Station", "Lopez Station", "Valley Winery", "Kim Residence"][i % 4] + (i > 3 ? ` ${Math.floor(i / 4) + 1}` : ""),
      address: `${20 + i} Vine Ave, Tucson, AZ 857${10 + (i % 80)}`,
      peak_power_kw: 5 + (i % 8),
      status: "Online",
      connected_to: null,
    })),
    // The Enphase partner account's systems (the only sign-in provider with a list).
    enphase: Array.from({ length: 12 }, (_, i) => ({
      external_id: String(4100012 + i * 11),
      name: ["Garcia Home", "Lopez Residence", "Hill Farm"][i % 3] + (i > 2 ? ` ${Math.floor(i / 3) + 1}` : ""),
      address: `${300 + i} Olive Ave, Fresno, CA 937${20 + i}`,
      peak_power_kw: 6 + (i % 5),
      status: "normal",
      connected_to: null,
    })),
    // Providers that sign in (OAuth) have no installer-account list.
    tesla: [],
    sma: [],
    derapi: [],
    utilityapi: [],
    pelm: [],
    metry: [],
  };

  const reject = (e: ErrorInfo): never => {
    throw e;
  };
  const info = (p: ProviderId) => providers.find((x) => x.id === p)!;
  const log = (customer_id: string | null, kind: EventKind, summary: string, provider: ProviderId | null = null, connection_id: string | null = null) => {
    events.unshift({ id: ++eventId, at: now(), customer_id, customer_name: null, connection_id, provider, kind, summary, actor: "app", installer: company.installer_name, scopes: null });
    const d = customer_id ? customers.get(customer_id) : undefined;
    if (d) d.customer.updated_at = now();
  };
  /** Entries with their customer's name, while the customer exists (the store's join). */
  const named = (list: Event[]) => list.map((e) => ({ ...e, customer_name: (e.customer_id && customers.get(e.customer_id)?.customer.name) || null }));
  const summary = (d: CustomerDetail): CustomerSummary => ({
    id: d.customer.id,
    name: d.customer.name,
    address: d.customer.address,
    job_number: d.customer.job_number,
    connected: d.connections.filter((c) => c.state === "active").length,
    needs_attention: d.connections.filter((c) => c.state === "error" || c.state === "needs_reauth").length,
    sites: d.connections.reduce((a, c) => a + c.sites.length, 0),
    last_activity_at: d.customer.updated_at,
  });
  /** The customers a search matches, newest activity first (as the store lists them). */
  const matching = (query: string | null) => {
    const q = (query ?? "").trim().toLowerCase();
    return [...customers.values()]
      .filter((d) => !q || [d.customer.name, d.customer.address, d.customer.job_number].some((v) => v?.toLowerCase().includes(q)))
      .map(summary)
      .sort((x, y) => y.last_activity_at.localeCompare(x.last_activity_at));
  };
  const detail = (cid: string) =>
    customers.get(cid) ?? reject({ code: "NotFound", message: "This customer no longer exists.", hint: "Go back to the customer list." });
  const provInfo = () =>
    providers.map((p) => ({ ...p, installer_account_configured: accounts.has(p.id), in_use: company.all_providers || company.providers.includes(p.id) }));
  const secretOf = (k: KeyInput) => (k.provider === "solaredge" ? k.api_key : (k.client_id ?? k.key_secret)) ?? "";
  const hint = (s: string) => "…" + s.slice(-4);

  function checkKey(input: KeyInput) {
    const p = info(input.provider);
    for (const f of p.fields) {
      const v = input[f.name as keyof KeyInput];
      if (!v) reject({ code: "Validation", message: `Enter the ${p.name} ${f.label}.`, hint: null });
    }
    // Anything that says it is wrong, is.
    if (/wrong|bad/i.test(`${input.api_key ?? ""}${input.key_secret ?? ""}`)) {
      reject({
        code: "VendorRejected",
        message: `${p.name} rejected this key: 403 Forbidden.`,
        hint: `Check that the customer copied the whole key, or ask them to generate a new one in the ${p.name} portal, then Connect again.`,
      });
    }
  }

  function addConnection(d: CustomerDetail, provider: ProviderId, kind: Connection["kind"], credential: string, remote: RemoteSite[]) {
    const connId = id();
    // As core does: a site at another ZIP code (or, without one, in another town) than the
    // customer's starts unattached, unless the installer picked it from their account.
    const zip = (a: string | null) => a?.match(/\b(\d{5})(-\d{4})?\s*$/)?.[1] ?? null;
    const town = (a: string | null) => a?.split(",").map((x) => x.trim().toLowerCase()).find((x) => x && !/^\d/.test(x)) ?? null;
    const same = (a: string | null, b: string | null): boolean | null =>
      !a || !b ? null : zip(a) && zip(b) ? zip(a) === zip(b) : town(a) && town(b) ? town(a) === town(b) : null;
    const sites: Site[] = remote.map((s) => {
      const matches = same(d.customer.address, s.address);
      return {
        id: id(),
        connection_id: connId,
        provider,
        external_id: s.external_id,
        name: s.name,
        address: s.address,
        peak_power_kw: s.peak_power_kw,
        status: s.status,
        attached: kind === "installer_account" || remote.length === 1 || matches !== false,
        address_matches: matches,
      };
    });
    for (const s of remote) s.connected_to = d.customer.name;
    const conn: Connection = {
      id: connId,
      customer_id: d.customer.id,
      provider,
      kind,
      state: "active",
      credential_hint: hint(credential),
      last_error: null,
      created_at: now(),
      last_checked_at: now(),
      sites,
      scopes: null,
      details: {},
      // Signed-in connections: an eight-hour access token, a three-month refresh token.
      access_expires_at: kind === "oauth" ? new Date(Date.now() + 8 * 3600e3).toISOString() : null,
      refresh_expires_at: kind === "oauth" ? new Date(Date.now() + 90 * 86400e3).toISOString() : null,
      tokens_issued_at: kind === "oauth" ? now() : null,
    };
    d.connections.push(conn);
    const p = info(provider);
    log(d.customer.id, "connected", `${p.name} connected: ${sites.length} ${p.site_noun}${sites.length === 1 ? "" : "s"}`, provider, connId);
    return conn;
  }

  let vaultUp = !opts.vaultUnavailable;
  let keyMissing = opts.keyMissing ?? false;
  const vault = (): VaultStatus =>
    keyMissing
      ? {
          available: false,
          state: "key_missing",
          backend: "Secret Service",
          message: "Onramp's key for this data folder is not in the keyring, so its saved connections cannot be opened.",
          hint: "The keyring was reset, or this data folder came from another laptop. Restore a backup (Settings → Data → Restore, or `onramp backup restore FILE`); without one, each customer signs in again.",
        }
      : vaultUp
        ? { available: true, state: "ready", backend: "Secret Service", message: null, hint: null }
        : { available: false, state: "unavailable", backend: "Secret Service", message: "No Secret Service is running.", hint: "Install and unlock GNOME Keyring (or KWallet), then try again." };

  /** The passphrase of the backups this fake made (and of the one it pretends is on disk). */
  let backupPassphrase = "maple ladder seven orbit";
  const backupSummary = (path: string, note: string | null): BackupSummary => {
    const all = [...customers.values()];
    return {
      path,
      created_at: now(),
      onramp_version: "0.1.0",
      customers: all.length,
      connections: all.reduce((a, d) => a + d.connections.length, 0),
      sites: all.reduce((a, d) => a + d.connections.reduce((x, c) => x + c.sites.length, 0), 0),
      vendor_apps: accounts.size,
      usage_series: all.reduce((a, d) => a + d.usage.length, 0),
      events: events.length,
      secrets: all.reduce((a, d) => a + d.connections.filter((c) => c.kind !== "installer_account").length, 0) + accounts.size,
      note,
    };
  };

  const changed = new Set<(news: ConnectionsChanged) => void>();
  const vaultChanged = new Set<(vault: VaultStatus) => void>();
  const drops = new Set<(d: FileDrop) => void>();
  const filesDropped = new Set<(d: FilesDropped) => void>();
  const progress = new Set<(p: UsageImportProgress) => void>();
  // The shell's drops: number → paths.
  const kept = new Map<number, string[]>();
  let dropNo = 0;
  /** The path of a file in a kept drop, as the shell looks it up. */
  const dropped = (drop: number, name: string) => (kept.get(drop) ?? []).find((p) => (p.split(/[\\/]/).pop() ?? p) === name);
  const noLongerDropped = (name: string): ErrorInfo => ({ code: "Validation", message: `${name} is no longer among the files dropped on the window.`, hint: "Drop the file on the window again." });
  /** A dropped file's text (`fakeFiles`), or the rejection the shell would answer. */
  function droppedText(drop: number, name: string): string | Promise<never> {
    const path = dropped(drop, name);
    if (!path) return Promise.reject(noLongerDropped(name));
    const t = fakeFiles.get(path);
    if (t === undefined) return Promise.reject({ code: "Validation", message: `Cannot read ${name}: no such file.`, hint: null } satisfies ErrorInfo);
    return t;
  }
  async function restoreFake(path: string, passphrase: string, replace: boolean): Promise<BackupSummary> {
    if (!replace && customers.size > 0) {
      throw {
        code: "Validation",
        message: `This laptop already has ${customers.size} customer${customers.size === 1 ? "" : "s"}; restoring replaces them. Use --replace / confirm.`,
        hint: null,
      } satisfies ErrorInfo;
    }
    await slow();
    if (!/\.onrampbackup$/.test(path)) {
      throw { code: "Validation", message: `${path} is not an Onramp backup.`, hint: "Pick the .onrampbackup file Onramp made." } satisfies ErrorInfo;
    }
    if (passphrase !== backupPassphrase) {
      throw { code: "Validation", message: "The passphrase does not open this backup.", hint: "Type the passphrase chosen when the backup was made (capitals count)." } satisfies ErrorInfo;
    }
    keyMissing = false;
    vaultUp = true;
    return backupSummary(
      path,
      'A refresh token rotated after the backup was taken is dead at the vendor; such connections show "needs sign-in" at their next refresh.',
    );
  }
  const running = new Set<string>();
  const cancelled = new Set<string>();
  let gate: Promise<void> | null = null;
  /** A usage import reading its file: four reports, a pause on hold, and Cancel. */
  async function reading(customerId: string, fileName: string, total: number) {
    if (running.has(customerId)) reject({ code: "Busy", message: "A usage import for this customer is already running.", hint: "Wait for it to finish, or cancel it." });
    running.add(customerId);
    try {
      for (const step of [0.25, 0.5, 0.75, 1]) {
        const read = Math.round(total * step);
        progress.forEach((cb) => cb({ customer_id: customerId, file_name: fileName, read, total }));
        if (gate) await gate;
        await slow();
        if (cancelled.delete(customerId)) {
          reject({ code: "Cancelled", message: `The import of ${fileName} was cancelled. Nothing was saved.`, hint: null });
        }
      }
    } finally {
      running.delete(customerId);
      cancelled.delete(customerId);
    }
  }
  const b: FakeBackend = {
    calls,
    setVault(available) {
      vaultUp = available;
    },
    emitConnectionsChanged(news) {
      changed.forEach((cb) => cb(news));
    },
    refuseAccount(provider, why) {
      const a = accounts.get(provider);
      if (a) a.needs_sign_in = why;
    },
    emitVaultChanged(v) {
      vaultChanged.forEach((cb) => cb(v));
    },
    async onConnectionsChanged(cb) {
      changed.add(cb);
      return () => changed.delete(cb);
    },
    async onVaultChanged(cb) {
      vaultChanged.add(cb);
      return () => vaultChanged.delete(cb);
    },
    emitFileDrop(d) {
      drops.forEach((cb) => cb(d));
    },
    async onFileDrop(cb) {
      drops.add(cb);
      return () => drops.delete(cb);
    },
    emitFilesDropped(paths) {
      const drop = ++dropNo;
      kept.set(drop, paths);
      filesDropped.forEach((cb) => cb({ drop, names: paths.map((p) => p.split(/[\\/]/).pop() ?? p) }));
    },
    async onFilesDropped(cb) {
      filesDropped.add(cb);
      return () => filesDropped.delete(cb);
    },
    async onUsageImportProgress(cb) {
      progress.add(cb);
      return () => progress.delete(cb);
    },
    holdImports() {
      let release = () => {};
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    async cancelUsageImport(customerId) {
      calls.push(`cancelUsageImport:${customerId}`);
      if (!running.has(customerId)) return false;
      cancelled.add(customerId);
      return true;
    },
    async appStatus(): Promise<AppStatus> {
      calls.push("appStatus");
      return {
        version: "0.1.0",
        environment,
        data_dir: "/home/installer/.local/share/onramp",
        config_file: "/home/installer/.config/onramp/onramp.toml",
        vault: vault(),
        sandbox_keys: environment === "sandbox" ? demoKeys : [],
      };
    },
    async recheckVault() {
      calls.push("recheckVault");
      await slow();
      return vault();
    },
    async uiReady() {
      calls.push("uiReady");
    },
    async listCustomers(query) {
      calls.push(`listCustomers:${query ?? ""}`);
      return matching(query);
    },
    async customersPage(query, offset, limit) {
      calls.push(`customersPage:${query ?? ""}:${offset}`);
      const all = matching(query);
      return { customers: all.slice(offset, offset + limit), total: all.length };
    },
    async addCustomer(input) {
      calls.push(`addCustomer:${input.name}`);
      if (!input.name.trim()) reject({ code: "Validation", message: "Enter the customer's name.", hint: null });
      const c = { id: id(), ...input, name: input.name.trim(), created_at: now(), updated_at: now() };
      customers.set(c.id, { customer: c, providers: [], connections: [], events: [], usage: [] });
      log(c.id, "customer_created", `Customer ${c.name} added`);
      return structuredClone(c);
    },
    async similarCustomers(input) {
      calls.push(`similarCustomers:${input.name}`);
      const key = identity(input);
      return [...customers.values()]
        .map((d) => d.customer)
        .filter((c) => identity(c) === key)
        .map((c) => ({ id: c.id, name: c.name, address: c.address }));
    },
    async updateCustomer(cid, input) {
      calls.push(`updateCustomer:${cid}:${input.name}`);
      const d = detail(cid);
      const problem = problems(input)[0];
      if (problem) reject({ code: "Validation", message: problem, hint: null });
      const t = (v: string | null) => (v?.trim() ? v.trim() : null);
      const before = d.customer;
      const after = { ...before, name: input.name.trim(), address: t(input.address), email: t(input.email), phone: t(input.phone), job_number: t(input.job_number) };
      const changed = (["name", "address", "email", "phone", "job_number"] as const).filter((k) => after[k] !== before[k]).map((k) => k.replace("_", " "));
      if (changed.length) {
        d.customer = { ...after, updated_at: now() };
        log(cid, "customer_updated", `Customer ${before.name} changed: ${changed.join(", ")}`);
      }
      return structuredClone(d.customer);
    },
    async removeCustomer(cid, how) {
      calls.push(`removeCustomer:${cid}:${how.action}`);
      await slow();
      const d = detail(cid);
      const n = d.connections.length;
      if (how.action === "move_to") {
        if (how.customer_id === cid) reject({ code: "Validation", message: "Pick another customer to move the connections to.", hint: null });
        const to = detail(how.customer_id);
        for (const k of d.connections) {
          to.connections.push({ ...k, customer_id: to.customer.id });
          log(to.customer.id, "connection_moved", `${info(k.provider).name} connection moved here from ${d.customer.name} (removed)`, k.provider, k.id);
        }
        to.usage.push(...d.usage.filter((u) => u.connection_id).map((u) => ({ ...u, customer_id: to.customer.id })));
        log(cid, "customer_removed", `Customer ${d.customer.name} removed; ${n} connection${n === 1 ? "" : "s"} moved to ${to.customer.name}`);
      } else {
        const refusing = d.connections.find((k) => k.kind === "oauth" && opts.revokeError);
        if (refusing && opts.revokeError) reject({ ...opts.revokeError, message: `${d.customer.name} was not removed: ${info(refusing.provider).name} did not revoke its connection (${opts.revokeError.message}).` });
        for (const k of d.connections) {
          for (const s of fleet[k.provider]) if (k.sites.some((x) => x.external_id === s.external_id)) s.connected_to = null;
          log(cid, "connection_removed", `${info(k.provider).name} connection removed`, k.provider, k.id);
        }
        log(cid, "customer_removed", `Customer ${d.customer.name} removed; ${n} connection${n === 1 ? "" : "s"} removed (signed-in grants revoked at the vendors)`);
      }
      customers.delete(cid);
    },
    async previewCustomerImport(text) {
      calls.push(`previewCustomerImport:${text.length}`);
      return fakePreview(text, [...customers.values()].map((d) => d.customer));
    },
    async importCustomers(text, fileName, skipDuplicates) {
      calls.push(`importCustomers:${fileName}:${skipDuplicates}`);
      await slow();
      const p = fakePreview(text, [...customers.values()].map((d) => d.customer));
      if (p.file_errors.length) reject({ code: "Validation", message: `${fileName}: ${p.file_errors[0]} Nothing was imported.`, hint: null });
      const bad = p.rows.filter((r) => r.errors.length);
      if (bad.length) {
        reject({
          code: "Validation",
          message: `${bad.length} row${bad.length === 1 ? "" : "s"} of ${fileName} cannot be imported (line${bad.length === 1 ? "" : "s"} ${bad.map((r) => r.line).join(", ")}). Nothing was imported.`,
          hint: `Line ${bad[0].line}: ${bad[0].errors.join(" ")} Fix the file and import it again.`,
        });
      }
      let imported = 0;
      let skipped = 0;
      for (const r of p.rows) {
        if (skipDuplicates && r.duplicate) { skipped++; continue; }
        const c = { id: id(), ...r.customer, created_at: now(), updated_at: now() };
        customers.set(c.id, { customer: c, providers: [], connections: [], events: [], usage: [] });
        log(c.id, "customer_created", `Customer ${c.name} imported from ${fileName}`);
        imported++;
      }
      return { imported, skipped_duplicates: skipped };
    },
    async previewDroppedCustomerImport(drop, name) {
      calls.push(`previewDroppedCustomerImport:${drop}:${name}`);
      const t = droppedText(drop, name);
      return t instanceof Promise ? t : b.previewCustomerImport(t);
    },
    async importDroppedCustomers(drop, name, skipDuplicates) {
      calls.push(`importDroppedCustomers:${drop}:${name}`);
      const t = droppedText(drop, name);
      return t instanceof Promise ? t : b.importCustomers(t, name, skipDuplicates);
    },
    async removeUsageSeries(sid) {
      calls.push(`removeUsageSeries:${sid}`);
      for (const d of customers.values()) {
        const s = d.usage.find((u) => u.id === sid);
        if (!s) continue;
        d.usage = d.usage.filter((u) => u.id !== sid);
        log(d.customer.id, "usage_removed", `Usage series \u201c${s.title}\u201d removed`);
        return;
      }
      reject({ code: "NotFound", message: "No such usage series.", hint: null });
    },
    async getCustomer(cid) {
      calls.push(`getCustomer:${cid}`);
      const d = detail(cid);
      return structuredClone({ ...d, providers: provInfo(), events: named(events.filter((e) => e.customer_id === cid)) });
    },
    async listProviders() {
      return provInfo();
    },
    async installerAccounts() {
      return providers.map(
        (p) =>
          accounts.get(p.id) ?? {
            provider: p.id,
            provider_name: p.name,
            configured: false,
            credential_hint: null,
            updated_at: null,
            help: p.account_key_help,
            renews: p.id === "enphase",
            access_expires_at: null,
            refresh_expires_at: null,
            needs_sign_in: null,
          },
      );
    },
    async saveInstallerAccount(input) {
      calls.push(`saveInstallerAccount:${input.provider}`);
      await slow();
      checkKey(input);
      const p = info(input.provider);
      for (const f of p.account_fields) {
        if (!input[f.name as keyof KeyInput]) reject({ code: "Validation", message: `Enter the ${p.name} ${f.label}.`, hint: null });
      }
      const renews = p.id === "enphase";
      if (renews && /wrong|bad/i.test(input.password ?? "")) {
        reject({ code: "VendorRejected", message: "Enphase did not accept the Enlighten user or password. Nothing was saved.", hint: "Check the Enlighten email and password (capitals count), then sign in again." });
      }
      const a: InstallerAccount = {
        provider: p.id,
        provider_name: p.name,
        configured: true,
        credential_hint: renews ? `${input.username} · partner app ${(input.client_id ?? "").slice(0, 4)}…` : hint(secretOf(input)),
        updated_at: now(),
        help: p.account_key_help,
        renews,
        access_expires_at: renews ? new Date(Date.now() + 86393e3).toISOString() : null,
        refresh_expires_at: renews ? new Date(Date.now() + 7 * 86400e3).toISOString() : null,
        needs_sign_in: null,
      };
      accounts.set(p.id, a);
      log(null, "installer_account_saved", `${p.name} installer account saved`, p.id);
      return a;
    },
    async removeInstallerAccount(provider) {
      calls.push(`removeInstallerAccount:${provider}`);
      accounts.delete(provider);
      log(null, "installer_account_removed", `${info(provider).name} installer account removed`, provider);
    },
    async searchAccountSites(provider, query) {
      calls.push(`searchAccountSites:${provider}:${query}`);
      if (!accounts.has(provider)) {
        reject({ code: "NotConfigured", message: `No ${info(provider).name} installer account is saved.`, hint: "Add it in Settings → Installer accounts." });
      }
      await slow();
      const words = query.toLowerCase().split(/\s+/).filter(Boolean);
      const hits = fleet[provider].filter((s) => words.every((w) => `${s.name} ${s.address} ${s.external_id}`.toLowerCase().includes(w)));
      return structuredClone({ total: hits.length, sites: hits.slice(0, 50) });
    },
    async connectAccountSites(input) {
      calls.push(`connectAccountSites:${input.site_ids.join(",")}`);
      await slow();
      const d = detail(input.customer_id);
      if (input.site_ids.length === 0) reject({ code: "Validation", message: "Pick at least one site.", hint: null });
      const remote = fleet[input.provider].filter((s) => input.site_ids.includes(s.external_id));
      return structuredClone(addConnection(d, input.provider, "installer_account", accounts.get(input.provider)?.credential_hint ?? "", remote));
    },
    async connectCustomerKey(customerId, input) {
      calls.push(`connectCustomerKey:${customerId}:${input.provider}`);
      await slow();
      if (opts.connectError) {
        // Onramp logs no event for a key the vendor refused: nothing was saved.
        throw opts.connectError;
      }
      const d = detail(customerId);
      if (info(input.provider).fields.length === 0)
        reject({ code: "Validation", message: `${info(input.provider).name} has no customer key; the customer signs in, or pick the system from your installer account.`, hint: null });
      checkKey(input);
      const at = (d.connections.length * 3 + d.customer.name.length) % 5;
      const remote = fleet[input.provider].slice(at, at + (opts.keySites ?? 1));
      return structuredClone(addConnection(d, input.provider, "customer_key", secretOf(input), remote));
    },
    async removeConnection(cid) {
      calls.push(`removeConnection:${cid}`);
      for (const d of customers.values()) {
        const c = d.connections.find((k) => k.id === cid);
        if (!c) continue;
        d.connections = d.connections.filter((k) => k.id !== cid);
        for (const s of fleet[c.provider]) if (c.sites.some((x) => x.external_id === s.external_id)) s.connected_to = null;
        log(d.customer.id, "connection_removed", `${info(c.provider).name} connection removed`, c.provider, cid);
        return;
      }
      reject({ code: "NotFound", message: "This connection no longer exists.", hint: null });
    },
    async listEvents(filter) {
      const narrowed = [filter.customer_id, filter.provider, filter.kind, filter.since, filter.until].filter((x) => x != null).join(":");
      calls.push(`listEvents${narrowed ? `:${narrowed}` : ""}`);
      // As the store reads it: the filter in the query, newest first, a page of at most 500.
      const day = (e: Event) => e.at.slice(0, 10);
      const hit = events.filter(
        (e) =>
          (!filter.customer_id || e.customer_id === filter.customer_id) &&
          (!filter.provider || e.provider === filter.provider) &&
          (!filter.kind || e.kind === filter.kind) &&
          (!filter.since || day(e) >= filter.since) &&
          (!filter.until || day(e) <= filter.until),
      );
      return structuredClone(named(hit.slice(0, ACTIVITY_PAGE)));
    },
    async beginSignIn(customerId, provider, mode, options, reauthorize) {
      calls.push(
        `beginSignIn:${provider}:${mode}${options?.utility ? `:${options.utility}` : ""}${options?.vendor ? `:${options.vendor}` : ""}${reauthorize ? `:again:${reauthorize}` : ""}`,
      );
      const state = `state-${id()}`;
      signIns.set(state, { customerId, provider, polls: 0, again: reauthorize, paste: mode === "paste" });
      return {
        provider,
        authorize_url: `https://sign-in.example/${provider}?state=${state}`,
        redirect_uri: mode === "loopback" ? "http://127.0.0.1:49152/callback" : "onramp://oauth/callback",
        mode,
        state,
        expires_at: now(),
      };
    },
    async signInStatus(signIn) {
      const s = signIns.get(signIn);
      if (!s) reject({ code: "NotFound", message: "Onramp is not waiting for this sign-in any more.", hint: null });
      // A paste sign-in waits for its paste.
      if (s!.paste) return { status: "waiting" };
      // The customer finishes on the second poll, or declines when told to.
      if (++s!.polls < 2) return { status: "waiting" };
      if (opts.declineSignIn) {
        return { status: "failed", error: { code: "Declined", message: `The customer declined access at ${info(s!.provider).name}.`, hint: "Ask the customer whether they want to connect, then start again." } };
      }
      const d = detail(s!.customerId);
      const renewed = s!.again && d.connections.find((c) => c.id === s!.again);
      if (renewed) {
        renewed.state = "active";
        renewed.last_error = null;
        log(d.customer.id, "reauthorized", `${info(s!.provider).name} re-authorized by the customer`, s!.provider, renewed.id);
        return structuredClone({ status: "connected" as const, connection: renewed });
      }
      const remote = [{ external_id: "2252718", name: "Powerwall Home", address: null, peak_power_kw: null, status: "battery", connected_to: null }];
      const conn = addConnection(d, s!.provider, "oauth", "", remote);
      if (s!.provider === "utilityapi") {
        conn.scopes = "FB=4_5_15_16_46;IntervalDuration=3600;HistoryLength=31536000";
        d.usage.unshift({ ...fakeUsage(d.customer.id, "UtilityAPI (Sandbox Utility)", "1 Main St electric"), connection_id: conn.id });
      }
      return structuredClone({ status: "connected" as const, connection: conn });
    },
    async exportActivity(filter: ActivityFilter, format) {
      const customerId = filter.customer_id;
      const narrowed = [filter.provider, filter.kind, filter.since, filter.until].filter((x) => x != null).join(":");
      calls.push(`exportActivity:${customerId ?? "all"}:${format}${narrowed ? `:${narrowed}` : ""}`);
      const who = customerId ? detail(customerId).customer.name.toLowerCase().replace(/[^a-z0-9]+/g, "-") : "all-customers";
      return `/home/installer/Downloads/onramp-activity-${who}-2026-11-29.${format}`;
    },
    async chooseSites(cid, attached) {
      calls.push(`chooseSites:${attached.join(",")}`);
      const d = [...customers.values()].find((x) => x.connections.some((c) => c.id === cid));
      const c = d?.connections.find((k) => k.id === cid);
      if (!d || !c) reject({ code: "NotFound", message: "No such connection.", hint: null });
      if (attached.length === 0) reject({ code: "Validation", message: `Keep at least one ${info(c!.provider).site_noun} for this customer.`, hint: "If none of them is the customer's, remove the connection instead." });
      for (const s of c!.sites) s.attached = attached.includes(s.external_id);
      log(d!.customer.id, "sites_chosen", `${info(c!.provider).name}: ${attached.length} of ${c!.sites.length} kept for this customer`, c!.provider, c!.id);
      return structuredClone(c!);
    },
    async handOff(cid) {
      calls.push(`handOff:${cid}`);
      const d = detail(cid);
      const today = now().slice(0, 10);
      const items = d.connections
        .filter((c) => c.state !== "revoked" && c.state !== "pending")
        .map((c) => {
          const p = info(c.provider);
          return {
            provider: c.provider,
            provider_name: p.name,
            kind: c.kind,
            sites: c.sites.map((s) => s.name),
            today: c.created_at.slice(0, 10) === today,
            connected_at: c.created_at,
            access: p.category === "utility" ? "Read your utility usage and bills; nothing can be changed." : `Read your ${p.site_noun}'s production, consumption and status; nothing can be changed.`,
            scopes: c.scopes,
            until: c.kind === "oauth" ? "Until you withdraw it: Onramp keeps the sign-in alive." : c.kind === "customer_key" ? "Until you delete the key." : "Until your installer removes it.",
            withdraw: c.kind === "oauth" ? `Sign in to your ${p.name} account and remove the app you approved today from the apps that may use your account. Your installer can also disconnect it in Onramp.` : `Delete the key you created in your ${p.name} account; Onramp can no longer read anything with it.`,
          };
        })
        .sort((a, b) => Number(b.today) - Number(a.today));
      return structuredClone({ customer: d.customer, date: today, installer_name: company.installer_name, items });
    },
    async companySettings() {
      return structuredClone(company);
    },
    async saveCompanySettings(s) {
      calls.push(`saveCompanySettings:${s.installer_name ?? ""}:${s.all_providers ? "all" : s.providers.join(",")}`);
      const name = s.installer_name?.trim() || null;
      if (!s.all_providers && s.providers.length === 0) {
        reject({ code: "Validation", message: "Choose at least one provider your installers use.", hint: "Or choose All providers." });
      }
      const all = s.all_providers || s.providers.length === providers.length;
      company = { installer_name: name, providers: all ? providers.map((p) => p.id) : [...s.providers], all_providers: all };
      return structuredClone(company);
    },
    async createBackup(passphrase) {
      calls.push("createBackup");
      if ([...passphrase].length < 12) {
        throw { code: "Validation", message: `The passphrase needs at least 12 characters (this one has ${[...passphrase].length}).`, hint: null } satisfies ErrorInfo;
      }
      await slow();
      backupPassphrase = passphrase;
      return backupSummary("/home/installer/Downloads/onramp-backup-2026-11-29-1405.onrampbackup", null);
    },
    async restoreDroppedBackup(drop, name, passphrase, replace) {
      calls.push(`restoreDroppedBackup:${drop}:${name}:${replace}`);
      if (!dropped(drop, name)) return reject(noLongerDropped(name));
      return restoreFake(name, passphrase, replace);
    },
    async restoreBackupBytes(fileName, bytes, passphrase, replace) {
      calls.push(`restoreBackupBytes:${fileName}:${bytes.length}:${replace}`);
      return restoreFake(fileName, passphrase, replace);
    },
    async health() {
      calls.push("health");
      const items: HealthItem[] = [];
      const soon = Date.now() + 14 * 86400e3;
      for (const d of customers.values()) {
        for (const c of d.connections) {
          const name = info(c.provider).name;
          const base = { connection_id: c.id, customer_id: d.customer.id, customer_name: d.customer.name, provider: c.provider, state: c.state };
          if (c.state === "needs_reauth" || c.state === "revoked") {
            items.push({ ...base, title: c.last_error?.message ?? `${name} no longer accepts Onramp's access.`, action: `Re-authorize with the customer: they sign in at ${name} again.`, who: c.kind === "oauth" ? "customer" : "installer", urgency: "now", due_at: null, can_reauthorize: c.kind === "oauth", in_settings: false });
          } else if (c.state === "error") {
            items.push({ ...base, title: c.last_error?.message ?? `${name} failed the last check.`, action: c.last_error?.hint ?? "Check the connection again.", who: "installer", urgency: "soon", due_at: null, can_reauthorize: false, in_settings: false });
          } else if (c.refresh_expires_at && new Date(c.refresh_expires_at).getTime() < soon) {
            const days = Math.round((new Date(c.refresh_expires_at).getTime() - Date.now()) / 86400e3);
            items.push({ ...base, title: `${name}'s refresh token expires in ${days} days unless Onramp runs.`, action: "Nothing to do while Onramp is open.", who: "onramp", urgency: "later", due_at: c.refresh_expires_at, can_reauthorize: false, in_settings: false });
          }
        }
      }
      for (const a of accounts.values()) {
        const base = { connection_id: `${a.provider}/installer_account`, customer_id: "", customer_name: `Your ${a.provider_name} installer account`, provider: a.provider, due_at: null, can_reauthorize: false, in_settings: true };
        if (a.needs_sign_in) {
          items.push({ ...base, state: "needs_reauth", title: a.needs_sign_in.message, action: a.needs_sign_in.hint ?? "Sign in again in Settings → Installer accounts.", who: "installer", urgency: "now" });
        } else if (a.refresh_expires_at) {
          items.push({ ...base, state: "active", title: `The ${a.provider_name} installer account's sign-in lapses unless Onramp renews it first.`, action: "Nothing to do while Onramp runs: it renews the sign-in every day.", who: "onramp", urgency: "later", due_at: a.refresh_expires_at });
        }
      }
      return structuredClone(items.sort((a, b) => URGENCIES.indexOf(a.urgency) - URGENCIES.indexOf(b.urgency)));
    },
    async pasteSignIn(signIn, pasted) {
      calls.push(`pasteSignIn:${pasted}`);
      const s = signIns.get(signIn);
      if (!s) reject({ code: "NotFound", message: "Onramp is not waiting for this sign-in any more.", hint: null });
      const name = info(s!.provider).name;
      // As the vendor does: a code it did not issue is refused, and the sign-in stays open.
      if (pasted.trim() === opts.refusedCode) {
        reject({
          code: "Validation",
          message: `${name} did not accept that code. The sign-in is still open: nothing was saved and the customer does not need to sign in again.`,
          hint: `Copy the code again from ${name}'s page, all of it, and paste it here. If ${name}'s page is closed, start the connection again.`,
          details: "invalid_grant (The authorization code is invalid)",
        });
      }
      signIns.delete(signIn);
      const d = detail(s!.customerId);
      const remote = [{ external_id: "4412", name: "Enphase system", address: null, peak_power_kw: null, status: "normal", connected_to: null }];
      return structuredClone(addConnection(d, s!.provider, "oauth", "", remote));
    },
    async cancelSignIn(signIn) {
      signIns.delete(signIn);
    },
    async vendorApps() {
      return providers
        .filter((p) => p.sign_in)
        .map((p) => ({
          provider: p.id,
          provider_name: p.name,
          client_id: apps.get(p.id) ?? ((opts.environment ?? "sandbox") === "sandbox" ? `sandbox-${p.id}` : null),
          source: apps.has(p.id) ? "settings" : (opts.environment ?? "sandbox") === "sandbox" ? "sandbox" : "none",
          needs_api_key: p.id === "enphase",
          public_client: p.id === "tesla",
          redirect_mode: returns.get(p.id)?.mode ?? p.sign_in!.default_mode,
          modes: p.sign_in!.modes,
          relay_url: returns.get(p.id)?.relay_url ?? null,
        }));
    },
    async setSignInReturn(input) {
      calls.push(`setSignInReturn:${input.provider}:${input.mode}`);
      returns.set(input.provider, input);
      return (await b.vendorApps()).find((a) => a.provider === input.provider)!;
    },
    async checkConnection(cid) {
      calls.push(`checkConnection:${cid}`);
      await slow();
      for (const d of customers.values()) {
        const c = d.connections.find((k) => k.id === cid);
        if (c) {
          c.last_checked_at = now();
          return structuredClone(c);
        }
      }
      return reject({ code: "NotFound", message: "This connection no longer exists.", hint: null });
    },
    async refreshConnection(cid) {
      calls.push(`refreshConnection:${cid}`);
      await slow();
      for (const d of customers.values()) {
        const c = d.connections.find((k) => k.id === cid);
        if (c && c.kind === "oauth") {
          c.tokens_issued_at = now();
          c.access_expires_at = new Date(Date.now() + 8 * 3600e3).toISOString();
          log(d.customer.id, "refreshed", `${info(c.provider).name} tokens refreshed`, c.provider, c.id);
          return structuredClone(c);
        }
      }
      return reject({ code: "Validation", message: "This connection has no tokens to refresh.", hint: null });
    },
    async fetchUsage(cid) {
      calls.push(`fetchUsage:${cid}`);
      await slow();
      for (const d of customers.values()) {
        if (d.connections.some((k) => k.id === cid)) return structuredClone(d.usage.filter((u) => u.connection_id === cid));
      }
      return reject({ code: "NotFound", message: "This connection no longer exists.", hint: null });
    },
    async importDroppedUsage(customerId, drop, name) {
      calls.push(`importDroppedUsage:${drop}:${name}`);
      if (!dropped(drop, name)) reject(noLongerDropped(name));
      return b.importUsageBytes(customerId, name, new TextEncoder().encode("<feed><entry/></feed>"));
    },
    async importUsageBytes(customerId, fileName, bytes) {
      calls.push(`importUsageBytes:${fileName}:${bytes.length}`);
      const d = detail(customerId);
      await reading(customerId, fileName, bytes.length);
      const text = new TextDecoder().decode(bytes.slice(0, 4096));
      if (!/<feed|<entry/.test(text)) {
        reject({
          code: "Validation",
          message: `${fileName} could not be imported: this file is not a Green Button usage file. Nothing was saved.`,
          hint: "Download the Green Button file (XML, not CSV or PDF) from the utility's website: Green Button → Download My Data.",
        });
      }
      const { title, span } = importedSpan(fileName);
      const s = fakeUsage(customerId, `Green Button file ${fileName}`, title, span);
      d.usage = [s, ...d.usage.filter((u) => u.id !== s.id)];
      log(customerId, "usage_imported", `Usage from Green Button file ${fileName}: 1 meter reading series, ${s.months.length} months`);
      return structuredClone({ file_name: fileName, bytes: bytes.length, series: [s] });
    },
    async saveVendorApp(input) {
      calls.push(`saveVendorApp:${input.provider}:${input.client_id}`);
      if (!input.client_id.trim()) reject({ code: "Validation", message: "Enter the app's client id.", hint: null });
      if (!input.client_secret.trim() && input.provider !== "tesla") reject({ code: "Validation", message: "Enter the client secret: apps of this vendor always have one.", hint: null });
      apps.set(input.provider, input.client_id.trim());
      return (await b.vendorApps()).find((a) => a.provider === input.provider)!;
    },
  };

  if (opts.seed) seed(customers, events, fleet, addConnection, !!opts.troubled);
  for (let i = 0; i < (opts.many ?? 0); i++) {
    const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString().replace(/\.\d+Z$/, "Z");
    const c = { id: `many-${i}`, name: `Customer ${i}`, address: `${i + 1} Solar Way`, email: null, phone: null, job_number: `J-${String(i).padStart(5, "0")}`, created_at: at, updated_at: at };
    customers.set(c.id, { customer: c, providers: [], connections: [], events: [], usage: [] });
  }
  return b;
}

function seed(
  customers: Map<string, CustomerDetail>,
  events: Event[],
  fleet: Record<ProviderId, RemoteSite[]>,
  addConnection: (d: CustomerDetail, p: ProviderId, k: Connection["kind"], cred: string, remote: RemoteSite[]) => Connection,
  troubled: boolean,
) {
  const add = (name: string, address: string | null, email: string | null, phone: string | null, job: string | null) => {
    const c = { id: `seed-${customers.size + 1}`, name, address, email, phone, job_number: job, created_at: minutesAgo(600), updated_at: minutesAgo(600) };
    const d: CustomerDetail = { customer: c, providers: [], connections: [], events: [], usage: [] };
    customers.set(c.id, d);
    return d;
  };
  add("Ben Okafor", "88 Elm St, Tucson, AZ 85701", null, "(520) 555-0102", "J-2042");
  const nguyen = add("Carla Nguyen", "17 Pine St, Fresno, CA 93711", "carla.nguyen@example.com", null, "J-2039");
  const conn = addConnection(nguyen, "solis", "customer_key", "0000a1f3", [fleet.solis[1]]);
  conn.state = "error";
  conn.last_error = {
    code: "VendorRejected",
    message: "Solis rejected this key: the KeySecret no longer matches.",
    hint: "The customer may have regenerated it. Ask for the new KeySecret, then connect again.",
    details: "HTTP 403: wrong sign",
  };
  const garcia = add("Ada Garcia", "1234 Oak St, Fresno, CA 93701", "ada.garcia@example.com", "(559) 555-0147", "J-2041");
  addConnection(garcia, "solaredge", "installer_account", "…0001", [fleet.solaredge[0]]);
  if (troubled) {
    const ben = customers.get("seed-1")!;
    const tesla = addConnection(ben, "tesla", "oauth", "", [
      { external_id: "2252718", name: "Okafor Powerwall", address: null, peak_power_kw: null, status: "battery", connected_to: null },
    ]);
    tesla.state = "needs_reauth";
    tesla.last_error = {
      code: "ReauthRequired",
      message: "Tesla no longer accepts this sign-in: the customer revoked Onramp's access.",
      hint: "Re-authorize with the customer.",
    };
    const enphase = addConnection(garcia, "enphase", "oauth", "", [
      { external_id: "7233008", name: "Garcia Home", address: null, peak_power_kw: null, status: "normal", connected_to: null },
    ]);
    enphase.refresh_expires_at = new Date(Date.now() + 2 * 86400e3).toISOString();
  }
  // Spread the seeded history over the last hours so the preview reads like a real day.
  const ds = [...customers.values()];
  ds.forEach((d, i) => {
    d.customer.updated_at = minutesAgo(200 - i * 90);
    for (const c of d.connections) c.created_at = c.last_checked_at = d.customer.updated_at;
  });
  events.forEach((e) => {
    const d = e.customer_id ? customers.get(e.customer_id) : undefined;
    if (d) e.at = d.customer.updated_at;
  });
}
