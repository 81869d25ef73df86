// What a meter's usage summary says, from what its data covers: the period's own months (never
// "last 12 months" for a file from 2011), averages over whole months only, the days a short file
// covers. Energy arrives as integer thousandths of the unit (watt-hours for kWh).
import type { UsageMonth, UsageSeries } from "./bindings";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = 86_400_000;
/** A feed's local time is at most 14 hours from UTC: a month counts as whole within a day. */
const SLACK = DAY;

/** `2011-01` as "Jan 2011". */
export function monthName(m: string, withYear = true): string {
  const [y, mm] = m.split("-");
  const name = MONTHS[Number(mm) - 1] ?? mm;
  return withYear ? `${name} ${y}` : name;
}

/** Thousandths of a unit in the unit (199563 → 199.563). */
export const units = (milli: number) => milli / 1000;

/** The months a summary adds up: the last twelve the data has, whenever they were. */
export const windowOf = (s: UsageSeries, last = 12): UsageMonth[] => s.months.slice(-last);

/** The period those months cover, in their own names: "Jan 2011 – Dec 2011". */
export function periodLabel(months: UsageMonth[]): string {
  const first = months[0]?.month;
  const last = months.at(-1)?.month;
  if (!first || !last) return "";
  return first === last ? monthName(first) : `${monthName(first)} – ${monthName(last)}`;
}

/** Whether the data covers all of `month` (a partial month is not a month). */
function isWhole(s: UsageSeries, month: string): boolean {
  if (!s.first_at || !s.last_at) return true; // the source gave monthly totals only
  const [y, m] = month.split("-").map(Number);
  const start = Date.UTC(y, m - 1, 1);
  const end = Date.UTC(y, m, 1);
  return Date.parse(s.first_at) <= start + SLACK && Date.parse(s.last_at) >= end - SLACK;
}

/** Whole days between the data's first and last moment, or null when the source does not say. */
export function daysCovered(s: UsageSeries): number | null {
  if (!s.first_at || !s.last_at) return null;
  return Math.max(0, Math.round((Date.parse(s.last_at) - Date.parse(s.first_at)) / DAY));
}

/** The total of the window, in thousandths of the unit (an exact integer). */
export const totalMilli = (months: UsageMonth[]) => months.reduce((a, m) => a + m.energy_milli, 0);

/**
 * The average the data supports: per month over the window's whole months, or, when it covers no
 * whole month, per day over the days it covers (with those days, to say so).
 */
export type Average =
  | { per: "month"; value: number; months: number }
  | { per: "day"; value: number; days: number }
  | null;

export function average(s: UsageSeries, months: UsageMonth[]): Average {
  const whole = months.filter((m) => isWhole(s, m.month));
  if (whole.length) return { per: "month", value: units(totalMilli(whole)) / whole.length, months: whole.length };
  const days = daysCovered(s);
  if (days) return { per: "day", value: units(totalMilli(months)) / days, days };
  return null;
}

/** Whether a service address names another place than the customer's address. */
export function otherPlace(service: string | null, customer: string | null): boolean {
  if (!service) return false;
  const norm = (a: string) => a.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
  return !customer || norm(service) !== norm(customer);
}

/** How far an import has read its file, as a whole percentage (0 before the first report). */
export function percent(p: { read: number; total: number } | null): number {
  return p && p.total > 0 ? Math.min(100, Math.floor((p.read * 100) / p.total)) : 0;
}
