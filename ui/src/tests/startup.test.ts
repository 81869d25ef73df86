// The launch: the first screen the backend writes into the page is shown without a call.
import { describe, expect, it } from "vitest";
import { askFirstPage, FIRST_SCREEN_ID, takeFirstPage } from "../lib/app.svelte";
import { setBackend } from "../lib/backend";
import type { FirstScreen } from "../lib/bindings";
import { fakeBackend } from "../lib/fake";
import { $$, start, text } from "./harness";

/** The page as the backend serves it: the first screen in a JSON block. */
function servedWith(json: string): void {
  const block = document.createElement("script");
  block.id = FIRST_SCREEN_ID;
  block.type = "application/json";
  block.textContent = json;
  document.head.appendChild(block);
}

describe("start-up", () => {
  it("paints the first screen from the page, asking the backend for none of it", async () => {
    // The data comes from one backend; the app runs on another, empty one: rows on screen can
    // only have come from the page.
    const source = fakeBackend({ seed: true });
    const screen: FirstScreen = {
      status: await source.appStatus(),
      providers: await source.listProviders(),
      customers: await source.customersPage(null, 0, 200),
    };
    expect(screen.customers.customers.length).toBeGreaterThan(1);
    servedWith(JSON.stringify(screen));
    askFirstPage();
    expect(document.getElementById(FIRST_SCREEN_ID)).toBeNull();
    const fake = await start();
    const rows = $$("customer-row");
    expect(rows).toHaveLength(screen.customers.customers.length);
    expect(rows[0].textContent).toContain(screen.customers.customers[0].name);
    expect(text()).toContain(`${screen.customers.total} customers`);
    expect(fake.calls).not.toContain("appStatus");
    expect(fake.calls).not.toContain("listProviders");
    expect(fake.calls.filter((c) => c.startsWith("customersPage"))).toEqual([]);
  });

  it("asks for the first page when the page's block cannot be read", () => {
    const fake = fakeBackend({ seed: true });
    setBackend(fake);
    servedWith('{"status": '); // cut short
    askFirstPage();
    expect(document.getElementById(FIRST_SCREEN_ID)).toBeNull();
    expect(fake.calls).toEqual(["customersPage::0"]);
    expect(takeFirstPage()).not.toBeNull();
    expect(takeFirstPage()).toBeNull();
  });
});
