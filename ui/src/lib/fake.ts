// An in-memory backend for component tests and for previewing the UI in a plain browser.
import type { Backend } from "./backend";
import type {
  AppStatus,
  Connection,
  CustomerDetail,
  CustomerSummary,
  ErrorInfo,
  Event,
  InstallerAccount,
  ProviderId,
  ProviderInfo,
  RemoteSite,
  Site,
} from "./bindings";

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export const providers: ProviderInfo[] = [
  {
    id: "solaredge",
    name: "SolarEdge",
    site_noun: "site",
    fields: [{ name: "api_key", label: "API key", secret: true, placeholder: "32 letters and digits" }],
    customer_key_help: "Monitoring portal → Admin → Site Access → API Access.",
    account_key_help: "My Account → Company Details → API Access.",
    installer_account_configured: false,
  },
  {
    id: "solis",
    name: "Solis",
    site_noun: "station",
    fields: [
      { name: "key_id", label: "KeyId", secret: false, placeholder: "19 digits" },
      { name: "key_secret", label: "KeySecret", secret: true, placeholder: "32 characters" },
    ],
    customer_key_help: "soliscloud.com → Account → Basic Settings → API Management.",
    account_key_help: "soliscloud.com → Account → Basic Settings → API Management.",
    installer_account_configured: false,
  },
];

export interface FakeOptions {
  environment?: "sandbox" | "production";
  /** Makes connectCustomerKey reject with this error. */
  connectError?: ErrorInfo;
  seed?: boolean;
}

export function fakeBackend(opts: FakeOptions = {}): Backend & { calls: string[] } {
  const calls: string[] = [];
  let n = 0;
  const id = () => `id-${++n}`;
  const customers = new Map<string, CustomerDetail>();
  const events: Event[] = [];
  const accounts = new Map<ProviderId, InstallerAccount>();
  const fleet: RemoteSite[] = Array.from({ length: 40 }, (_, i) => ({
    external_id: String(4012345 + i * 7),
    name: ["Garcia Residence", "Nguyen Home", "Sunrise Bakery", "Patel House"][i % 4] + (i > 3 ? ` ${i}` : ""),
    address: `${100 + i} Oak St, Fresno, CA 937${10 + (i % 80)}`,
    peak_power_kw: 4 + (i % 12),
    status: "Active",
    connected_to: null,
  }));

  const log = (customer_id: string | null, kind: string, summary: string, provider: ProviderId | null = null) => {
    events.unshift({ id: events.length + 1, at: now(), customer_id, connection_id: null, provider, kind, summary, actor: "app" });
  };
  const summary = (d: CustomerDetail): CustomerSummary => ({
    id: d.customer.id,
    name: d.customer.name,
    address: d.customer.address,
    job_number: d.customer.job_number,
    connected: d.connections.filter((c) => c.state === "active").length,
    needs_attention: d.connections.filter((c) => c.state === "error").length,
    sites: d.connections.reduce((a, c) => a + c.sites.length, 0),
    last_activity_at: d.customer.updated_at,
  });
  const detail = (cid: string) => {
    const d = customers.get(cid);
    if (!d) throw { code: "NotFound", message: "No such customer.", hint: null } satisfies ErrorInfo;
    return d;
  };
  const provInfo = () => providers.map((p) => ({ ...p, installer_account_configured: accounts.has(p.id) }));

  const b: Backend & { calls: string[] } = {
    calls,
    async appStatus(): Promise<AppStatus> {
      calls.push("appStatus");
      return {
        version: "0.1.0",
        environment: opts.environment ?? "sandbox",
        data_dir: "/home/installer/.local/share/onramp",
        config_file: "/home/installer/.config/onramp/onramp.toml",
        vault: { available: true, backend: "Secret Service", message: null, hint: null },
        sandbox_keys:
          (opts.environment ?? "sandbox") === "sandbox"
            ? [
                { provider: "solaredge", label: "Installer account key", api_key: "SANDBOXACCOUNTKEY000000000000001", key_id: null, key_secret: null },
                { provider: "solaredge", label: "Customer key: Garcia Residence", api_key: "SANDBOXCUSTOMERKEY0000000000001", key_id: null, key_secret: null },
                { provider: "solis", label: "Customer key 1", api_key: null, key_id: "1234567890123456789", key_secret: "0123456789abcdef0123456789abcdef" },
              ]
            : [],
      };
    },
    async listCustomers(query) {
      calls.push(`listCustomers:${query ?? ""}`);
      const q = (query ?? "").toLowerCase();
      return [...customers.values()]
        .filter((d) => !q || [d.customer.name, d.customer.address, d.customer.job_number].some((v) => v?.toLowerCase().includes(q)))
        .map(summary);
    },
    async addCustomer(input) {
      calls.push(`addCustomer:${input.name}`);
      if (!input.name.trim()) throw { code: "Validation", message: "Enter the customer's name.", hint: null } satisfies ErrorInfo;
      const c = { id: id(), ...input, name: input.name.trim(), created_at: now(), updated_at: now() };
      customers.set(c.id, { customer: c, providers: provInfo(), connections: [], events: [] });
      log(c.id, "customer_created", `Customer ${c.name} added`);
      return c;
    },
    async getCustomer(cid) {
      calls.push(`getCustomer:${cid}`);
      const d = detail(cid);
      return { ...d, providers: provInfo(), events: events.filter((e) => e.customer_id === cid) };
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
          },
      );
    },
    async saveInstallerAccount(input) {
      calls.push(`saveInstallerAccount:${input.provider}`);
      const p = providers.find((x) => x.id === input.provider)!;
      const key = input.api_key ?? input.key_secret ?? "";
      const a: InstallerAccount = {
        provider: p.id,
        provider_name: p.name,
        configured: true,
        credential_hint: "…" + key.slice(-4),
        updated_at: now(),
        help: p.account_key_help,
      };
      accounts.set(p.id, a);
      return a;
    },
    async removeInstallerAccount(provider) {
      accounts.delete(provider);
    },
    async searchAccountSites(provider, query) {
      calls.push(`searchAccountSites:${provider}:${query}`);
      const words = query.toLowerCase().split(/\s+/).filter(Boolean);
      const hits = fleet.filter((s) => words.every((w) => `${s.name} ${s.address} ${s.external_id}`.toLowerCase().includes(w)));
      return { total: hits.length, sites: hits };
    },
    async connectAccountSites(input) {
      calls.push(`connectAccountSites:${input.site_ids.join(",")}`);
      const d = detail(input.customer_id);
      const connId = id();
      const sites: Site[] = fleet
        .filter((s) => input.site_ids.includes(s.external_id))
        .map((s) => ({ id: id(), connection_id: connId, provider: input.provider, external_id: s.external_id, name: s.name, address: s.address, peak_power_kw: s.peak_power_kw, status: s.status }));
      const conn: Connection = { id: connId, customer_id: d.customer.id, provider: input.provider, kind: "installer_account", state: "active", credential_hint: "…0001", last_error: null, created_at: now(), last_checked_at: now(), sites };
      d.connections.push(conn);
      log(d.customer.id, "connected", `connected: ${sites.length}`, input.provider);
      return conn;
    },
    async connectCustomerKey(customerId, input) {
      calls.push(`connectCustomerKey:${customerId}:${input.provider}`);
      if (opts.connectError) throw opts.connectError;
      const d = detail(customerId);
      const connId = id();
      const conn: Connection = {
        id: connId,
        customer_id: customerId,
        provider: input.provider,
        kind: "customer_key",
        state: "active",
        credential_hint: "…" + (input.api_key ?? input.key_secret ?? "").slice(-4),
        last_error: null,
        created_at: now(),
        last_checked_at: now(),
        sites: [{ id: id(), connection_id: connId, provider: input.provider, external_id: "5100001", name: "Garcia Residence", address: "1234 Oak St, Fresno, CA 93701", peak_power_kw: 7.6, status: "Active" }],
      };
      d.connections.push(conn);
      log(customerId, "connected", "connected: 1 site", input.provider);
      return conn;
    },
    async removeConnection(cid) {
      for (const d of customers.values()) d.connections = d.connections.filter((c) => c.id !== cid);
    },
    async listEvents(customerId) {
      return events.filter((e) => !customerId || e.customer_id === customerId);
    },
  };
  if (opts.seed) {
    void b.addCustomer({ name: "Ada Garcia", address: "1234 Oak St, Fresno, CA", email: "ada@example.com", phone: null, job_number: "J-2041" });
    void b.addCustomer({ name: "Ben Okafor", address: "88 Elm St, Tucson, AZ", email: null, phone: "555-0102", job_number: "J-2042" });
  }
  return b;
}
