// The customers list and the new-customer form.
import { describe, expect, it } from "vitest";
import { app } from "../lib/app.svelte";
import { $, $$, button, click, key, settle, start, text, type } from "./harness";

describe("customers", () => {
  it("renders only the rows in view of ten thousand customers, and scrolls through all of them", async () => {
    await start({ many: 10_000 });
    expect($("customer-scroller")!.parentElement!.textContent).toContain("10,000 customers");
    const first = $$("customer-row");
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThan(60);
    expect(first[0].textContent).toContain("Customer 9999");
    // Scrolled to the end: the oldest customer is there, the first ones are not in the DOM.
    const scroller = $("customer-scroller")!;
    scroller.scrollTop = 41 * 9_990;
    scroller.dispatchEvent(new Event("scroll"));
    await settle();
    const last = $$("customer-row");
    expect(last.length).toBeLessThan(60);
    expect(last.at(-1)!.textContent).toContain("Customer 0");
    expect(last.some((r) => r.textContent!.includes("Customer 9999"))).toBe(false);
    // Search still covers everyone.
    type("customer-search", "J-04711");
    await settle();
    expect($$("customer-row").map((r) => r.textContent)).toEqual([expect.stringContaining("Customer 4711")]);
  });

  it("teaches when empty", async () => {
    await start();
    expect($("customers-empty")!.textContent).toContain("No customers yet");
    expect($("customers-empty")!.textContent).toContain("Sandbox");
  });

  it("lists customers with their connections, and filters by name, address or job number", async () => {
    await start({ seed: true });
    const rows = $$("customer-row");
    expect(rows).toHaveLength(3);
    const ada = rows.find((r) => r.textContent!.includes("Ada Garcia"))!;
    expect(ada.textContent).toContain("1234 Oak St");
    expect(ada.textContent).toContain("J-2041");
    expect(ada.textContent).toContain("1 connected");
    expect(rows.find((r) => r.textContent!.includes("Carla Nguyen"))!.textContent).toContain("1 needs action");

    type("customer-search", "tucson");
    await settle();
    expect($$("customer-row").map((r) => r.textContent)).toEqual([expect.stringContaining("Ben Okafor")]);
    type("customer-search", "J-2039");
    await settle();
    expect($$("customer-row").map((r) => r.textContent)).toEqual([expect.stringContaining("Carla Nguyen")]);
    type("customer-search", "nobody here");
    await settle();
    expect($$("customer-row")).toHaveLength(0);
    expect(text()).toContain("No customer matches");
    type("customer-search", "");
    await settle();
    expect($$("customer-row")).toHaveLength(3);
  });

  it("opens a customer's page from the list", async () => {
    await start({ seed: true });
    $$("customer-row").find((r) => r.textContent!.includes("Ada Garcia"))!.click();
    await settle();
    expect(app.route.name).toBe("customer");
    expect($("status-solaredge")!.textContent).toContain("Connected");
    expect($("status-solis")!.textContent).toContain("Not connected");
    expect($$("site-row")[0].textContent).toContain("Garcia Residence");
  });

  it("requires a name before adding a customer, then adds them and opens their page", async () => {
    const fake = await start();
    click("new-customer");
    await settle();
    for (const f of ["customer-name", "customer-address", "customer-email", "customer-phone", "customer-job"]) {
      const input = $(f) as HTMLInputElement;
      expect(document.querySelector(`label[for="${input.id}"]`), f).not.toBeNull();
    }
    click("customer-save");
    await settle();
    expect(text()).toContain("Enter the customer's name.");
    expect(($("customer-name") as HTMLInputElement).getAttribute("aria-invalid")).toBe("true");
    expect(fake.calls.some((c) => c.startsWith("addCustomer"))).toBe(false);

    type("customer-name", "Cara Diaz");
    type("customer-address", "9 Birch Rd, Fresno");
    type("customer-job", "J-9");
    click("customer-save");
    await settle();
    expect(fake.calls).toContain("addCustomer:Cara Diaz");
    expect(app.route.name).toBe("customer");
    expect($("customer-header")!.textContent).toContain("9 Birch Rd, Fresno");
    expect($("provider-row-solaredge")!.textContent).toContain("Not connected");
    expect($("connect-solaredge")!.textContent).toContain("Connect");
  });

  it("has keyboard shortcuts: / focuses search, N opens the form, Esc closes it", async () => {
    await start({ seed: true });
    key("/");
    await settle();
    expect(document.activeElement).toBe($("customer-search"));
    (document.activeElement as HTMLElement).blur();
    key("n");
    await settle();
    expect($("customer-name")).not.toBeNull();
    expect(document.activeElement).toBe($("customer-name"));
    key("Escape");
    await settle();
    expect($("customer-name")).toBeNull();
    // Typing an "n" in the search box is just a letter.
    ($("customer-search") as HTMLInputElement).focus();
    key("n", $("customer-search")!);
    await settle();
    expect($("customer-name")).toBeNull();
    expect(button("+ New customer N")).toBeTruthy();
  });
});
