// Component tests against the in-memory backend: what the installer sees and what is called.
import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import App from "../App.svelte";
import { app, go } from "../lib/app.svelte";
import { setBackend } from "../lib/backend";
import { fakeBackend, type FakeOptions } from "../lib/fake";

let target: HTMLElement;
let component: ReturnType<typeof mount> | null = null;

async function settle(times = 5) {
  for (let i = 0; i < times; i++) {
    await tick();
    await new Promise((r) => setTimeout(r, 0));
  }
  flushSync();
}

async function start(opts: FakeOptions = {}) {
  const fake = fakeBackend(opts);
  setBackend(fake);
  component = mount(App, { target });
  await settle();
  return fake;
}

const $ = (testid: string) => target.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
const $$ = (testid: string) => [...target.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`)];

function type(testid: string, value: string) {
  const el = $(testid) as HTMLInputElement;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

beforeEach(() => {
  target = document.createElement("div");
  document.body.appendChild(target);
  app.status = null;
  app.toasts = [];
  go({ name: "customers" });
});

afterEach(() => {
  if (component) unmount(component);
  component = null;
  target.remove();
  document.body.innerHTML = "";
});

describe("customers", () => {
  it("teaches when empty, lists and filters customers", async () => {
    const fake = await start();
    expect(target.textContent).toContain("No customers yet");
    await fake.addCustomer({ name: "Ada Garcia", address: "1 Oak St, Fresno", email: null, phone: null, job_number: "J-1" });
    await fake.addCustomer({ name: "Ben Okafor", address: "2 Elm St, Tucson", email: null, phone: null, job_number: "J-2" });
    type("customer-search", "tucson");
    await settle();
    expect($$("customer-row").map((r) => r.textContent)).toEqual([expect.stringContaining("Ben Okafor")]);
    type("customer-search", "");
    await settle();
    expect($$("customer-row")).toHaveLength(2);
  });

  it("requires a name before adding a customer, then opens their page", async () => {
    const fake = await start();
    $("new-customer")!.click();
    await settle();
    $("customer-save")!.click();
    await settle();
    expect(target.textContent).toContain("Enter the customer's name.");
    expect(fake.calls.some((c) => c.startsWith("addCustomer"))).toBe(false);

    type("customer-name", "Cara Diaz");
    type("customer-job", "J-9");
    $("customer-save")!.click();
    await settle();
    expect(fake.calls).toContain("addCustomer:Cara Diaz");
    expect(app.route.name).toBe("customer");
    expect($("provider-row-solaredge")!.textContent).toContain("Not connected");
  });
});

describe("connecting", () => {
  async function openCustomer(opts: FakeOptions = {}) {
    const fake = await start(opts);
    const c = await fake.addCustomer({ name: "Ada Garcia", address: null, email: null, phone: null, job_number: null });
    go({ name: "customer", id: c.id });
    await settle();
    $("connect-solaredge")!.click();
    await settle();
    return fake;
  }

  it("connects with the customer's key and lists the site", async () => {
    const fake = await openCustomer();
    $("mode-customer-key")!.click();
    await settle();
    const key = $("field-api_key") as HTMLInputElement;
    expect(key.type).toBe("password");
    type("field-api_key", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    await settle();
    $("connect-submit")!.click();
    await settle(10);
    expect(fake.calls.some((c) => c.startsWith("connectCustomerKey"))).toBe(true);
    expect($("connect-outcome")!.textContent).toContain("Garcia Residence");
    expect($$("site-row").map((r) => r.textContent).join()).toContain("Garcia Residence");
    expect($("status-solaredge")!.textContent).toContain("Connected");
    expect(target.textContent).not.toContain("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
  });

  it("shows the vendor's refusal with what to do, and keeps the form", async () => {
    await openCustomer({
      connectError: { code: "VendorRejected", message: "SolarEdge rejected this key: Unauthorized", hint: "Check the key." },
    });
    $("mode-customer-key")!.click();
    type("field-api_key", "WRONGKEY0000000000000000000000");
    await settle();
    $("connect-submit")!.click();
    await settle(10);
    const box = $("error-box")!;
    expect(box.textContent).toContain("SolarEdge rejected this key: Unauthorized");
    expect(box.textContent).toContain("Check the key.");
    expect($("connect-submit")).not.toBeNull();
    expect($("status-solaredge")!.textContent).toContain("Not connected");
  });

  it("fills a sandbox demo key", async () => {
    await openCustomer();
    const use = [...target.querySelectorAll("button")].find((b) => b.textContent === "Use")!;
    use.click();
    await settle();
    expect(($("field-api_key") as HTMLInputElement).value).toBe("SANDBOXCUSTOMERKEY0000000000001");
  });
});

describe("environment", () => {
  it("shows the sandbox badge only in the sandbox", async () => {
    await start({ environment: "sandbox" });
    expect($("sandbox-badge")).not.toBeNull();
    unmount(component!);
    component = null;
    target.innerHTML = "";
    await start({ environment: "production" });
    expect($("sandbox-badge")).toBeNull();
  });
});
