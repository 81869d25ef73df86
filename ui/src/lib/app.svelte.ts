// App-wide state: where the installer is, the backend's status, and toasts.
import { backend } from "./backend";
import { mark, timeline } from "./timeline";
import type { AppStatus, CustomerList, FirstScreen, ProviderId, ProviderInfo } from "./bindings";

export type Route =
  | { name: "customers" }
  | { name: "customer"; id: string; reauthorize?: string }
  /** A customer's hand-off sheet (printable). */
  | { name: "handoff"; id: string }
  | { name: "health" }
  | { name: "activity" }
  /** `section`: scrolled to on arrival (the banner's "Restore a backup" leads to `data`). */
  | { name: "settings"; section?: "data" };

export interface Toast {
  id: number;
  text: string;
  kind: "ok" | "error";
  /** A button on the toast (it closes the toast too). */
  action?: { label: string; run: () => void };
  /** Stays until dismissed (news the installer must not miss). */
  sticky?: boolean;
}

export const app = $state({
  route: { name: "customers" } as Route,
  status: null as AppStatus | null,
  /** The providers this build connects (names for the activity log and filters). */
  providers: [] as ProviderInfo[],
  toasts: [] as Toast[],
  /** Connections that need the installer or a customer (the Health badge). */
  attention: 0,
  /** Bumped to ask the customers page to open the new-customer panel. */
  newCustomerRequests: 0,
  /** Bumped to ask the current page to focus its search box. */
  searchRequests: 0,
  /** Bumped when customers were removed or imported behind the list's back (it loads again). */
  customersChanged: 0,
});

/** The keyring lost this data folder's key (reset, another laptop): no connection can be said
 * to work until a backup is restored. */
export function keyLost(): boolean {
  const state = app.status?.vault.state;
  return state === "key_missing" || state === "key_mismatch";
}

/** Whether the backend has been told the first screen is ready (once per launch). */
export const startup = { told: false };

let paintedNow = () => {};
/** Resolves when the first screen has painted with its data: what can wait for it (the Health
 * badge's count) waits, so the first paint does not queue behind it. */
export const firstPaint = new Promise<void>((resolve) => (paintedNow = resolve));

/** The first screen has painted: tells the backend (once) and lets waiting work start. */
export function painted(): void {
  if (startup.told) return;
  startup.told = true;
  paintedNow();
  mark("first frame");
  void backend().uiReady(timeline()).catch(() => {});
}

/** Customers read per call: a screenful many times over, and quick to read at any size. */
export const CUSTOMERS_PAGE = 200;

let early: Promise<CustomerList> | null = null;
/** Asks for the first page of customers before the screen mounts (main.ts), so the store reads
 * it while the window builds the screen. */
export function askFirstPage(): void {
  const given = handedFirstScreen();
  if (given) {
    // The backend wrote the first screen into the page: nothing to wait for.
    app.status = given.status;
    app.providers = given.providers;
    statusGiven = true;
    early = Promise.resolve(given.customers);
    mark("first screen read from the page");
    return;
  }
  mark("customers asked");
  early = backend().customersPage(null, 0, CUSTOMERS_PAGE);
}

let statusGiven = false;
/** Whether the status and the providers came with the page (once: the shell reads them itself
 * when it mounts again). */
export function takeStatusGiven(): boolean {
  const given = statusGiven;
  statusGiven = false;
  return given;
}

/** The id of the first screen's JSON block in the page (the backend's `page.rs`). */
export const FIRST_SCREEN_ID = "first-screen";

/** The first screen the backend wrote into the page, read once (the block is removed). */
function handedFirstScreen(): FirstScreen | null {
  const block = typeof document === "undefined" ? null : document.getElementById(FIRST_SCREEN_ID);
  if (!block) return null;
  block.remove();
  try {
    return JSON.parse(block.textContent ?? "") as FirstScreen;
  } catch {
    // A page that cannot be read is asked for again by the usual calls.
    return null;
  }
}
/** The first page asked for early, once; null after (or if none was asked). */
export function takeFirstPage(): Promise<CustomerList> | null {
  const p = early;
  early = null;
  return p;
}

export function go(route: Route): void {
  app.route = route;
}

let toastId = 0;
/** A short note at the bottom right for an outcome that arrives in the background. */
export function toast(text: string, kind: Toast["kind"] = "ok", more: Pick<Toast, "action" | "sticky"> = {}): void {
  const id = ++toastId;
  app.toasts.push({ id, text, kind, ...more });
  // Errors stay longer: the installer may be talking to the customer.
  if (!more.sticky) setTimeout(() => dismissToast(id), kind === "error" ? 12000 : 5000);
}

export function dismissToast(id: number): void {
  app.toasts = app.toasts.filter((t) => t.id !== id);
}

/** "1 site", "3 stations". */
export function plural(n: number, noun: string): string {
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}

export function formatTime(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "just now", "5 min ago", "3 h ago", else the date. */
export function ago(iso: string | null, now: number = Date.now()): string {
  if (!iso) return "never";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return formatTime(iso);
}

export function providerName(id: ProviderId | null): string {
  if (!id) return "";
  return app.providers.find((p) => p.id === id)?.name ?? id;
}
