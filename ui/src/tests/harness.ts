// Mounts the whole app against the in-memory backend, and small helpers to drive it like a person.
import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach } from "vitest";
import App from "../App.svelte";
import { app, go } from "../lib/app.svelte";
import { setBackend } from "../lib/backend";
import { fakeBackend, type FakeBackend, type FakeOptions } from "../lib/fake";

let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;

export async function settle(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) {
    await tick();
    await new Promise((r) => setTimeout(r, 0));
  }
  flushSync();
}

/** Waits, as a person would, until `testid` is on screen; fails plainly after `ms`. */
export async function until(testid: string, ms = 15000): Promise<HTMLElement> {
  const deadline = Date.now() + ms;
  for (;;) {
    await settle(1);
    const el = $(testid);
    if (el) return el;
    if (Date.now() > deadline) throw new Error(`[data-testid="${testid}"] did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function start(opts: FakeOptions = {}): Promise<FakeBackend> {
  const fake = fakeBackend(opts);
  setBackend(fake);
  component = mount(App, { target });
  await settle();
  return fake;
}

export function stop(): void {
  if (component) unmount(component);
  component = null;
  target.innerHTML = "";
}

export const root = () => target;
export const $ = (testid: string) => target.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
export const $$ = (testid: string) => [...target.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`)];
export const text = () => target.textContent ?? "";

export function type(testid: string, value: string): void {
  const el = $(testid) as HTMLInputElement;
  if (!el) throw new Error(`no [data-testid="${testid}"]`);
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

/** A file chosen in the file input `testid`, as the system's chooser hands it over. */
export function pickFile(testid: string, file: File): void {
  const input = $(testid) as HTMLInputElement;
  if (!input) throw new Error(`no [data-testid="${testid}"]`);
  Object.defineProperty(input, "files", { value: [file], configurable: true });
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

export function click(testid: string): void {
  const el = $(testid);
  if (!el) throw new Error(`no [data-testid="${testid}"]`);
  el.click();
}

export function button(label: string): HTMLButtonElement {
  const b = [...target.querySelectorAll("button")].find((x) => x.textContent?.trim() === label);
  if (!b) throw new Error(`no button ${label}`);
  return b;
}

export function key(k: string, on: EventTarget = document.body): void {
  on.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
}

/** A customer added through the backend, with their page open. */
export async function openCustomer(fake: FakeBackend, name = "Ada Garcia"): Promise<string> {
  const c = await fake.addCustomer({ name, address: null, email: null, phone: null, job_number: null });
  go({ name: "customer", id: c.id });
  await settle();
  return c.id;
}

beforeEach(() => {
  target = document.createElement("div");
  document.body.appendChild(target);
  app.status = null;
  app.providers = [];
  app.toasts = [];
  go({ name: "customers" });
});

afterEach(() => {
  stop();
  target.remove();
  document.body.innerHTML = "";
});
