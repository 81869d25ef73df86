// Settings → Company (your name, the providers your company uses) and the Activity page as the
// consent record: filtered by kind and date, exported as filtered, naming who acted.
import { describe, expect, it } from "vitest";
import { go } from "../lib/app.svelte";
import { ACTIVITY_PAGE } from "../lib/bindings";
import { $, $$, click, openCustomer, settle, start, type } from "./harness";

function pick(testid: string, value: string): void {
  const el = $(testid) as HTMLInputElement | HTMLSelectElement;
  el.value = value;
  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
}

describe("company settings", () => {
  it("keeps the installer's name, which the activity then names, and lists only the company's providers", async () => {
    const fake = await start();
    go({ name: "settings" });
    await settle(10);
    type("installer-name", "Sam Ortiz");
    for (const p of ["pelm", "metry", "derapi", "sma"]) click(`company-provider-${p}`);
    await settle();

    click("save-company");
    await settle(10);
    expect(fake.calls).toContain("saveCompanySettings:Sam Ortiz:solaredge,solis,tesla,enphase,utilityapi");
    await openCustomer(fake);
    const rows = $$("provider-row-sma").length + $$("provider-row-pelm").length + $$("provider-row-derapi").length;
    expect(rows).toBe(0);
    expect($("provider-row-tesla")).not.toBeNull();
    expect($("provider-row-utilityapi")).not.toBeNull();
    go({ name: "activity" });
    await settle(10);
    const added = $$("event-row").find((r) => r.textContent!.includes("Customer Ada Garcia added"))!;
    expect(added.textContent).toContain("Sam Ortiz");
  });

  it("refuses to use no provider at all", async () => {
    await start();
    go({ name: "settings" });
    await settle(10);
    for (const b of $$("company-settings").flatMap((f) => [...f.querySelectorAll<HTMLInputElement>("input[type=checkbox]")])) b.click();
    await settle();
    expect(($("save-company") as HTMLButtonElement).disabled).toBe(true);
    expect($("company-settings")!.textContent).toContain("Choose at least one provider");
  });
});

describe("activity as the consent record", () => {
  it("filters by kind and dates, and exports what the filters show", async () => {
    const fake = await start({ seed: true });
    await fake.addCustomer({ name: "Dee Lane", address: null, email: null, phone: null, job_number: null });
    go({ name: "activity" });
    await settle(10);
    const all = $$("event-row").length;
    expect(all).toBeGreaterThan(1);
    pick("activity-kind", "connected");
    await settle();
    const connected = $$("event-row");
    expect(connected.length).toBeGreaterThan(0);
    expect(connected.length).toBeLessThan(all);
    expect(connected.every((r) => /connected/i.test(r.textContent!))).toBe(true);
    // The store filters (a year-old entry is found however much came since), not the screen.
    expect(fake.calls).toContain("listEvents:connected");
    click("activity-export-csv");
    await settle(10);
    expect(fake.calls).toContain("exportActivity:all:csv:connected");
    expect($$("toast").some((t) => t.textContent!.includes("onramp-activity-all-customers"))).toBe(true);
    // Nothing happened after tomorrow.
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    pick("activity-since", tomorrow);
    await settle();
    expect($$("event-row")).toHaveLength(0);
    expect(document.body.textContent).toContain("No activity matches the filter");
    expect(fake.calls).toContain(`listEvents:connected:${tomorrow}`);
    expect(fake.calls.some((c) => c.startsWith("listCustomers"))).toBe(false);
    click("activity-export-json");
    await settle(10);
    expect(fake.calls).toContain(`exportActivity:all:json:connected:${tomorrow}`);
  });
});

describe("activity names its customers", () => {
  it("names each entry's customer from the entry, a removed one as removed, and says when it shows only the newest page", async () => {
    const fake = await start({ seed: true });
    const dee = await fake.addCustomer({ name: "Dee Lane", address: null, email: null, phone: null, job_number: null });
    await fake.updateCustomer(dee.id, { name: "Dee Lane-Ortiz", address: null, email: null, phone: null, job_number: null });
    const gone = await fake.addCustomer({ name: "Eli Gone", address: null, email: null, phone: null, job_number: null });
    await fake.removeCustomer(gone.id, { action: "revoke" });
    go({ name: "activity" });
    await settle(10);
    const rows = $$("event-row");
    // The name is the customer's as it is now.
    const added = rows.find((r) => r.textContent!.includes("Customer Dee Lane added"))!;
    expect(added.querySelector("td:nth-child(2)")!.textContent!.trim()).toBe("Dee Lane-Ortiz");
    const removed = rows.find((r) => r.textContent!.includes("Customer Eli Gone added"))!;
    expect(removed.querySelector("td:nth-child(2)")!.textContent!.trim()).toBe("Removed customer");
    expect($("activity-more")).toBeNull();
    // The text filter reads the customer's name too.
    type("activity-filter", "ortiz");
    await settle();
    expect($$("event-row").length).toBeGreaterThan(0);
    expect($$("event-row").every((r) => r.textContent!.includes("Dee Lane-Ortiz"))).toBe(true);

    for (let i = 0; i < ACTIVITY_PAGE; i++) await fake.addCustomer({ name: `Filler ${i}`, address: null, email: null, phone: null, job_number: null });
    go({ name: "customers" });
    await settle(10);
    go({ name: "activity" });
    await settle(10);
    expect($$("event-row")).toHaveLength(ACTIVITY_PAGE);
    expect($("activity-more")!.textContent).toContain(`newest ${ACTIVITY_PAGE} entries`);
  });
});

describe("hand-off sheet", () => {
  it("lists what was connected today with how to withdraw it, ready to print", async () => {
    const fake = await start();
    await fake.saveCompanySettings({ installer_name: "Sam Ortiz", providers: [], all_providers: true });
    const id = await openCustomer(fake);
    expect($("open-hand-off")).toBeNull();
    await fake.connectCustomerKey(id, { provider: "solis", api_key: null, key_id: "1234567890123456789", key_secret: "0123456789abcdef0123456789abcdef", client_id: null, client_secret: null, username: null, password: null });
    go({ name: "customers" });
    await settle();
    go({ name: "customer", id });
    await settle(10);
    click("open-hand-off");
    await settle(10);
    expect(fake.calls).toContain(`handOff:${id}`);
    const sheet = $("hand-off")!;
    expect(sheet.textContent).toContain("Ada Garcia");
    expect(sheet.textContent).toContain("connected by Sam Ortiz");
    const items = $$("hand-off-item");
    expect(items).toHaveLength(1);
    expect(items[0].textContent).toContain("Solis");
    expect(items[0].textContent).toContain("Connected today");
    expect($("hand-off-withdraw")!.textContent).toContain("Delete the key");
    let printed = 0;
    window.print = () => void printed++;
    click("hand-off-print");
    expect(printed).toBe(1);
    click("hand-off-back");
    await settle(10);
    expect($("customer-header")).not.toBeNull();
  });
});

describe("sites that are not the customer's", () => {
  it("asks which sites a key reached are the customer's, with the other address flagged", async () => {
    const fake = await start({ keySites: 2 });
    // The key reaches the fake's first two Solis stations: 20 Vine Ave (85710) and 21 Vine Ave (85711).
    const home = await fake.addCustomer({ name: "Ada Garcia", address: "20 Vine Ave, Tucson, AZ 85710", email: null, phone: null, job_number: null });
    go({ name: "customer", id: home.id });
    await settle(10);
    click("connect-solis");
    await settle();
    click("mode-customer-key");
    await settle();
    type("field-key_id", "1234567890123456789");
    type("field-key_secret", "0123456789abcdef0123456789abcdef");
    await settle();
    click("connect-submit");
    await settle(20);
    expect($("site-chooser")!.textContent).toContain("belong to Ada Garcia");
    const rows = $$("site-row");
    expect(rows).toHaveLength(2);
    const boxes = $$("site-keep") as HTMLInputElement[];
    expect(boxes.map((b) => b.checked)).toEqual([true, false]);
    expect(rows[1].textContent).toContain("Not the customer's address");
    expect(rows[0].textContent).not.toContain("Not the customer's address");
    boxes[1].click();
    await settle();
    click("save-sites");
    await settle(10);
    expect(fake.calls.some((x) => x.startsWith("chooseSites:") && x.split(",").length === 2)).toBe(true);
    expect($("site-chooser")).toBeNull();
    // Kept though elsewhere: the page says so, and the choice can be changed.
    expect($("site-warning")!.textContent).toContain("not at the customer's address");
    expect($("choose-sites")).not.toBeNull();
  });
});

describe("sites that are none of them the customer's", () => {
  it("says the installer chooses, not that nothing was connected", async () => {
    const fake = await start({ keySites: 2 });
    const far = await fake.addCustomer({ name: "Cy Far", address: "9 Oak Rd, Fresno, CA 93711", email: null, phone: null, job_number: null });
    go({ name: "customer", id: far.id });
    await settle(10);
    click("connect-solis");
    await settle();
    click("mode-customer-key");
    await settle();
    type("field-key_id", "1234567890123456789");
    type("field-key_secret", "0123456789abcdef0123456789abcdef");
    await settle();
    click("connect-submit");
    await settle(20);
    expect(($$("site-keep") as HTMLInputElement[]).map((b) => b.checked)).toEqual([false, false]);
    const said = $$("toast").map((t) => t.textContent!);
    expect(said.some((t) => t.includes("Solis connected: choose which of the 2 stations are this customer's"))).toBe(true);
    expect(said.some((t) => t.includes("0 stations"))).toBe(false);
  });
});

describe("a row's action follows its state", () => {
  it("offers Re-authorize where the customer must sign in again, and only the next thing stands out", async () => {
    const fake = await start({ seed: true, troubled: true });
    const ben = (await fake.listCustomers(null)).find((c) => c.name.startsWith("Ben"))!;
    go({ name: "customer", id: ben.id });
    await settle(10);
    const tesla = $("connect-tesla")!;
    expect(tesla.textContent!.trim()).toBe("Re-authorize");
    expect(tesla.dataset.action).toBe("reauthorize");
    const rowButtons = $$("provider-row-tesla").length ? [...document.querySelectorAll<HTMLButtonElement>('[data-testid^="connect-"]')] : [];
    expect(rowButtons.filter((b) => b.classList.contains("primary"))).toEqual([tesla]);
    // The other rows: Connect (not blue), or Add another where connected.
    expect(rowButtons.filter((b) => b !== tesla).every((b) => ["Connect", "Add another"].includes(b.textContent!.trim()))).toBe(true);
    click("connect-tesla");
    await settle(10);
    expect($("reauthorize-note")).not.toBeNull();
  });

  it("offers Details, not Retry, where trying again cannot help, and unfolds the vendor's answer", async () => {
    const fake = await start({ seed: true });
    const carla = (await fake.listCustomers(null)).find((c) => c.name.startsWith("Carla"))!;
    go({ name: "customer", id: carla.id });
    await settle(10);
    const solis = $("connect-solis")!;
    // A refused key: the vendor answered, so Retry would only be refused again.
    expect(solis.textContent!.trim()).toBe("Details");
    expect(solis.dataset.action).toBe("details");
    expect(solis.classList.contains("primary")).toBe(true);
    const box = $("error-box")!;
    expect(box.querySelector("details")!.open).toBe(false);
    click("connect-solis");
    await settle(5);
    expect(box.querySelector("details")!.open).toBe(true);
    expect(document.activeElement).toBe(box);
    // The box says what to do, in the same terms: a new KeySecret, then connect.
    expect(box.textContent).toContain("new KeySecret");
    expect(fake.calls.some((x) => x.startsWith("checkConnection"))).toBe(false);
  });

  it("makes the first Connect the next thing on a new customer's page", async () => {
    const fake = await start();
    await openCustomer(fake);
    const primaries = [...document.querySelectorAll<HTMLButtonElement>('[data-testid^="connect-"].primary')];
    expect(primaries).toHaveLength(1);
    expect(primaries[0].textContent!.trim()).toBe("Connect");
  });
});
