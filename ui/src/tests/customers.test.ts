// The customers list and the new-customer form.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { app, go } from "../lib/app.svelte";
import { fakeFiles } from "../lib/fake";
import { UNDO_MS, undoWindow } from "../lib/undo.svelte";
import { $, $$, button, click, key, settle, start, text, type } from "./harness";

describe("customers", () => {
  it("paints the first page before the Health badge reads every connection", async () => {
    // The first test of the file: the launch's first paint happens once per page load.
    const fake = await start({ seed: true });
    // The paint is told in an animation frame; the badge's read follows it.
    for (let i = 0; i < 100 && !fake.calls.includes("health"); i++) {
      await settle(1);
      await new Promise((r) => setTimeout(r, 20));
    }
    const page = fake.calls.indexOf("customersPage::0");
    const health = fake.calls.indexOf("health");
    expect(page).toBeGreaterThanOrEqual(0);
    expect(health).toBeGreaterThan(page);
    expect(fake.calls.filter((c) => c === "health")).toHaveLength(1);
    expect(fake.calls).toContain("uiReady");
    expect(fake.calls.indexOf("uiReady")).toBeLessThan(health);
  });

  it("reads ten thousand customers a page at a time, renders only the rows in view, and scrolls through all of them", async () => {
    const fake = await start({ many: 10_000 });
    expect($("customer-scroller")!.parentElement!.textContent).toContain("10,000 customers");
    // The first screen read one page, not the whole list.
    expect(fake.calls.filter((c) => c.startsWith("customersPage") || c.startsWith("listCustomers"))).toEqual(["customersPage::0"]);
    const first = $$("customer-row");
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThan(60);
    expect(first[0].textContent).toContain("Customer 9999");
    // Scrolled on to the end: each page is read as the rows in view near the end of those read.
    const scroller = $("customer-scroller")!;
    for (let i = 0; i < 60 && !$$("customer-row").some((r) => r.textContent!.includes("Customer 0")); i++) {
      scroller.scrollTop = 41 * 10_000;
      scroller.dispatchEvent(new Event("scroll"));
      await settle();
    }
    const pages = fake.calls.filter((c) => c.startsWith("customersPage"));
    expect(pages).toEqual(Array.from({ length: 50 }, (_, i) => `customersPage::${i * 200}`));
    const last = $$("customer-row");
    expect(last.length).toBeLessThan(60);
    expect(last.at(-1)!.textContent).toContain("Customer 0");
    expect(last.some((r) => r.textContent!.includes("Customer 9999"))).toBe(false);
    // Search still covers everyone, from its first page.
    type("customer-search", "J-04711");
    await settle();
    expect($$("customer-row").map((r) => r.textContent)).toEqual([expect.stringContaining("Customer 4711")]);
    expect(fake.calls.at(-1)).toBe("customersPage:J-04711:0");
    expect(text()).toContain("1 customer matches");
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
    expect(text()).toContain("1 customer matches “tucson”");
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
    type("customer-search", "a");
    await settle();
    expect(text()).toMatch(/\d customers match “a”/);
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

describe("customers: edit, remove, undo, duplicates, import", () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const names = () => $$("customer-row").map((r) => r.querySelector(".name")!.textContent);
  const toastText = () => $$("toast").map((t) => t.textContent).join(" | ");

  beforeEach(() => {
    undoWindow.ms = 150;
    fakeFiles.clear();
  });
  afterEach(() => {
    undoWindow.ms = UNDO_MS;
  });

  it("edits a customer from their page", async () => {
    const fake = await start({ seed: true });
    go({ name: "customer", id: "seed-3" });
    await settle();
    click("edit-customer");
    await settle();
    expect(($("customer-name") as HTMLInputElement).value).toBe("Ada Garcia");
    type("customer-name", "Ada Garcia-Lee");
    type("customer-phone", "");
    click("customer-save");
    await settle();
    expect(fake.calls).toContain("updateCustomer:seed-3:Ada Garcia-Lee");
    expect($("customer-header")!.textContent).toContain("Ada Garcia-Lee");
    expect($$("customer-event")[0].textContent).toContain("changed: name, phone");
    // Bad input: the error, and nothing changed.
    click("edit-customer");
    await settle();
    type("customer-email", "ada at example");
    click("customer-save");
    await settle();
    expect(text()).toContain("is not an email address");
    expect((await fake.getCustomer("seed-3")).customer.email).toBe("ada.garcia@example.com");
  });

  it("warns when a new customer has an existing one's name and address, and adds them if asked again", async () => {
    const fake = await start({ seed: true });
    click("new-customer");
    await settle();
    type("customer-name", "  ada GARCIA ");
    type("customer-address", "1234 Oak Street, Fresno CA 93701");
    click("customer-save");
    await settle();
    expect($("duplicate-warning")!.textContent).toContain("Ada Garcia, 1234 Oak St, Fresno, CA 93701");
    expect(fake.calls.some((c) => c.startsWith("addCustomer"))).toBe(false);
    expect($("customer-save")!.textContent).toContain("Add anyway");
    click("customer-save");
    await settle();
    expect(fake.calls).toContain("addCustomer:  ada GARCIA ");
  });

  it("removes a customer only when the undo window ends; Undo in it sends nothing", async () => {
    const fake = await start({ seed: true, troubled: true });
    go({ name: "customer", id: "seed-3" });
    await settle();
    click("remove-customer");
    await settle();
    const panel = $("remove-customer-panel")!;
    expect(panel.textContent).toContain("Revoking is final");
    expect(panel.textContent).toContain("2 connections (SolarEdge, Enphase)");
    click("confirm-remove-customer");
    await settle();
    expect(app.route.name).toBe("customers");
    expect(names()).not.toContain("Ada Garcia");
    expect(toastText()).toContain("Ada Garcia removed");
    click("toast-action");
    await settle();
    expect(names()).toContain("Ada Garcia");
    await wait(300);
    await settle();
    expect(fake.calls.some((c) => c.startsWith("removeCustomer"))).toBe(false);
    expect(names()).toContain("Ada Garcia");

    // Again, and let the window pass: now it is removed (and revoked).
    go({ name: "customer", id: "seed-3" });
    await settle();
    click("remove-customer");
    await settle();
    click("confirm-remove-customer");
    await settle();
    await wait(300);
    await settle();
    expect(fake.calls).toContain("removeCustomer:seed-3:revoke");
    expect(names()).not.toContain("Ada Garcia");
    const log = await fake.listEvents({ customer_id: "seed-3", provider: null, kind: null, since: null, until: null });
    expect(log[0].kind).toBe("customer_removed");
  });

  it("moves a removed customer's connections to another customer", async () => {
    const fake = await start({ seed: true });
    go({ name: "customer", id: "seed-3" });
    await settle();
    click("remove-customer");
    await settle();
    click("remove-move");
    await settle();
    expect($("remove-customer-panel")!.textContent).not.toContain("Revoking is final");
    click("confirm-remove-customer");
    await settle();
    expect(text()).toContain("Pick the customer the connections move to.");
    type("move-search", "okafor");
    // The search is the store's, a moment after the last key.
    await wait(200);
    await settle();
    expect(fake.calls).toContain("customersPage:okafor:0");
    expect(fake.calls.some((c) => c.startsWith("listCustomers"))).toBe(false);
    const select = $("move-target") as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual([expect.stringContaining("Ben Okafor")]);
    select.value = "seed-1";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    click("confirm-remove-customer");
    await settle();
    expect(toastText()).toContain("1 connection moved to Ben Okafor");
    await wait(300);
    await settle();
    expect(fake.calls).toContain("removeCustomer:seed-3:move_to");
    const ben = await fake.getCustomer("seed-1");
    expect(ben.connections.map((k) => k.provider)).toEqual(["solaredge"]);
    expect(ben.events[0].kind).toBe("connection_moved");
  });

  it("says why a removal failed at the vendor, and the customer is back", async () => {
    await start({
      seed: true,
      troubled: true,
      revokeError: { code: "Network", message: "Enphase could not be reached", hint: "Nothing was removed. Try again when the vendor answers." },
    });
    go({ name: "customer", id: "seed-3" });
    await settle();
    click("remove-customer");
    await settle();
    click("confirm-remove-customer");
    await settle();
    expect(names()).not.toContain("Ada Garcia");
    await wait(300);
    await settle();
    expect(toastText()).toContain("Ada Garcia was not removed");
    expect(toastText()).toContain("Nothing was removed");
    expect(names()).toContain("Ada Garcia");
  });

  it("undoes a connection's and a usage series' removal, and removes them after the window", async () => {
    const fake = await start({ seed: true });
    go({ name: "customer", id: "seed-3" });
    await settle();
    await fake.importUsageBytes("seed-3", "usage.xml", new TextEncoder().encode("<feed><entry/></feed>"));
    go({ name: "customers" });
    await settle();
    go({ name: "customer", id: "seed-3" });
    await settle();
    expect($$("usage-series")).toHaveLength(1);
    click("remove-usage");
    await settle();
    expect($$("usage-series")).toHaveLength(0);
    click("toast-action");
    await settle();
    expect($$("usage-series")).toHaveLength(1);

    click("remove-connection");
    await settle();
    click("confirm-remove");
    await settle();
    expect($("status-solaredge")!.textContent).toContain("Not connected");
    click("remove-usage");
    await settle();
    await wait(300);
    await settle();
    expect(fake.calls.filter((c) => c.startsWith("removeConnection"))).toHaveLength(1);
    expect(fake.calls.filter((c) => c.startsWith("removeUsageSeries"))).toHaveLength(1);
    expect($$("usage-series")).toHaveLength(0);
    const kinds = $$("customer-event").map((e) => e.textContent);
    expect(kinds.some((k) => k!.includes("removed"))).toBe(true);
  });

  it("previews a dropped CSV with per-row errors, imports nothing until it reads, then imports it all", async () => {
    const fake = await start({ seed: true });
    fakeFiles.set("/home/installer/bad.csv", "name,email\nDee Park,dee@example.com\n,nobody@example.com\nEd Moss,not-an-email\n");
    fakeFiles.set(
      "/home/installer/customers.csv",
      '\uFEFFJob #,Customer Name,Street Address,E-mail,Phone Number\r\nJ-1001,Ada Garcia,"1234 Oak St, Fresno, CA 93701",ada@example.com,555-0100\r\nJ-1002,"Okafor, Ben",1 Oak Ave,,555-0101\r\n\r\nJ-1003,Cy Ng,"7 ""The Pines"" Rd",cy@example.com,\r\nJ-1004,cy ng,"7 ""the pines"" road",,\r\n',
    );
    click("import-customers");
    await settle();
    // The webview's own drop event names paths; nothing is read from them.
    fake.emitFileDrop({ type: "drop", paths: ["/home/installer/bad.csv"] });
    await settle();
    expect(fake.calls.filter((c) => c.includes("Dropped"))).toEqual([]);
    // The shell's drop: the UI names the drop and the file, never a path.
    fake.emitFilesDropped(["/home/installer/bad.csv"]);
    await settle();
    expect(fake.calls).toContain("previewDroppedCustomerImport:1:bad.csv");
    expect($$("import-row")).toHaveLength(3);
    expect($$("import-row-error").map((e) => e.textContent)).toEqual([
      expect.stringContaining("Enter the customer's name."),
      expect.stringContaining("not an email address"),
    ]);
    expect($("import-summary")!.textContent).toContain("2 in error (lines 3, 4)");
    expect(($("import-confirm") as HTMLButtonElement).disabled).toBe(true);

    fake.emitFilesDropped(["/home/installer/notes.txt.bak", "/home/installer/customers.csv"]);
    await settle();
    const rows = $$("import-row");
    expect(rows).toHaveLength(4);
    expect(rows[0].textContent).toContain("Already a customer: Ada Garcia");
    expect(rows[3].textContent).toContain("Same as line 5");
    expect(rows[2].textContent).toContain('7 "The Pines" Rd');
    expect($("import-preview")!.querySelector("thead")!.textContent).toContain("Job number");
    expect($("import-confirm")!.textContent).toContain("Import 2 customers");
    click("import-confirm");
    await settle();
    expect(fake.calls).toContain("importDroppedCustomers:2:customers.csv");
    expect(toastText()).toContain("Imported 2 customers from customers.csv (2 duplicates left out)");
    expect(names()).toEqual(expect.arrayContaining(["Okafor, Ben", "Cy Ng"]));
    expect(names().filter((n) => n === "Ada Garcia")).toHaveLength(1);
  });
});
