// Settings → Company (your name, the providers your company uses) and the Activity page as the
// consent record: filtered by kind and date, exported as filtered, naming who acted.
import { describe, expect, it } from "vitest";
import { go } from "../lib/app.svelte";
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
    click("activity-export-json");
    await settle(10);
    expect(fake.calls).toContain(`exportActivity:all:json:connected:${tomorrow}`);
  });
});
