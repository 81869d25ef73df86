// App-wide state: where the installer is, the backend's status, and toasts.
import type { AppStatus } from "./bindings";

export type Route =
  | { name: "customers" }
  | { name: "customer"; id: string }
  | { name: "activity" }
  | { name: "settings" };

export interface Toast {
  id: number;
  text: string;
  kind: "ok" | "error";
}

export const app = $state({
  route: { name: "customers" } as Route,
  status: null as AppStatus | null,
  toasts: [] as Toast[],
  /** Bumped to ask the customers page to open the new-customer panel. */
  newCustomerRequests: 0,
  /** Bumped to ask the current page to focus its search box. */
  searchRequests: 0,
});

export function go(route: Route): void {
  app.route = route;
}

let toastId = 0;
export function toast(text: string, kind: Toast["kind"] = "ok"): void {
  const id = ++toastId;
  app.toasts.push({ id, text, kind });
  setTimeout(() => {
    app.toasts = app.toasts.filter((t) => t.id !== id);
  }, 5000);
}

export function formatTime(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
