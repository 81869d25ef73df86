// The frame around the pages: the sandbox badge, secure storage, activity and settings.
import { describe, expect, it } from "vitest";
import { app, dismissToast, go, toast } from "../lib/app.svelte";
import { $, $$, button, click, settle, start, stop, text, type, until } from "./harness";

describe("toasts", () => {
  it("marks an error with ⚠ and keeps ✕ for dismissing it alone", async () => {
    await start();
    toast("Tesla for Ada Garcia: Tesla refused the sign-in", "error");
    await settle();
    const t = $("toast")!;
    expect(t.textContent!.match(/✕/g)).toHaveLength(1);
    expect(t.querySelector('[aria-label="Dismiss"]')!.textContent).toBe("✕");
    expect(t.textContent).toContain("⚠");
  });

  it("leaves room below the page for the toasts while they show", async () => {
    await start();
    const room = () => document.documentElement.style.getPropertyValue("--toasts-room");
    expect(room()).toBe("0px");
    toast("Backup saved to Downloads");
    await settle();
    expect(parseFloat(room())).toBeGreaterThanOrEqual(16);
    dismissToast(app.toasts[0].id);
    await settle();
    expect(room()).toBe("0px");
  });
});

describe("environment", () => {
  it("shows the sandbox badge only in the sandbox", async () => {
    await start({ environment: "sandbox" });
    expect($("sandbox-badge")!.textContent).toContain("Sandbox");
    stop();
    await start({ environment: "production" });
    expect($("sandbox-badge")).toBeNull();
  });

  it("warns when secure storage is unavailable, with what to do", async () => {
    await start({ vaultUnavailable: true });
    const w = $("vault-warning")!;
    expect(w.textContent).toContain("Secure storage unavailable");
    expect(w.textContent).toContain("No Secret Service is running.");
    expect(w.textContent).toContain("GNOME Keyring");
    stop();
    await start();
    expect($("vault-warning")).toBeNull();
  });

  it("asks the keyring again on Try again, and clears the warning once it is back", async () => {
    const fake = await start({ vaultUnavailable: true, latency: 50 });
    click("vault-retry");
    await settle();
    expect($("vault-retry")!.textContent).toContain("Checking");
    await until("vault-still-down");
    expect($("vault-warning")).not.toBeNull();
    expect(fake.calls.filter((c) => c === "recheckVault").length).toBe(1);
    fake.setVault(true);
    click("vault-retry");
    for (let i = 0; i < 100 && $("vault-warning"); i++) await settle(20);
    expect($("vault-warning")).toBeNull();
  });
});

describe("lost and missing keys", () => {
  it("says the key is missing, not that storage is down, and leads to the restore", async () => {
    await start({ keyMissing: true, seed: true });
    // Nothing is said to work while its sign-in cannot be opened.
    expect($$("connections-sealed").length).toBeGreaterThan(0);
    expect(document.body.textContent).not.toMatch(/\d+ connected/);
    const w = $("vault-warning")!;
    expect($("vault-key-lost")!.textContent).toContain("Onramp's key is missing from this laptop's keyring");
    expect(w.textContent).toContain("Restore a backup");
    expect(w.textContent).not.toContain("Secure storage unavailable");
    click("vault-restore");
    await settle();
    expect($("data-section")).not.toBeNull();
  });

  it("names the customer at once when the background refresh lost a sign-in, and opens the re-authorization", async () => {
    const fake = await start({ seed: true, troubled: true });
    const ben = (await fake.listCustomers(null)).find((c) => c.name.startsWith("Ben"))!;
    const tesla = (await fake.getCustomer(ben.id)).connections.find((c) => c.provider === "tesla")!;
    fake.emitConnectionsChanged({
      summary: "1 of 4 signed-in connections: 0 refreshed, 1 need the customer to sign in again",
      lost: [
        {
          connection_id: tesla.id,
          customer_id: ben.id,
          customer_name: ben.name,
          provider: "tesla",
          message: "This Tesla connection's sign-in was lost: a refresh at 2026-12-01 20:00:00 UTC was interrupted.",
        },
      ],
      refused: [],
    });
    await settle();
    const t = $$("toast").find((x) => x.textContent!.includes(ben.name))!;
    expect(t.textContent).toContain("sign-in was lost");
    expect(t.getAttribute("role")).toBe("alert");
    click("toast-action");
    await settle(50);
    expect($$("toast").some((x) => x.textContent!.includes(ben.name))).toBe(false);
    expect(document.body.textContent).toContain(ben.name);
    expect($("reauthorize-note")).not.toBeNull();
  });

  it("names the customer when a vendor refused a grant in the background, in plain words", async () => {
    const fake = await start({ seed: true, troubled: true });
    const ben = (await fake.listCustomers(null)).find((c) => c.name.startsWith("Ben"))!;
    const tesla = (await fake.getCustomer(ben.id)).connections.find((c) => c.provider === "tesla")!;
    fake.emitConnectionsChanged({
      summary: "1 of 4 signed-in connections: 0 refreshed, 1 need the customer to sign in again",
      lost: [],
      refused: [
        {
          connection_id: tesla.id,
          customer_id: ben.id,
          customer_name: ben.name,
          provider: "tesla",
          message: "Tesla says the customer withdrew Onramp's access.",
        },
      ],
    });
    await settle();
    const t = $$("toast").find((x) => x.textContent!.includes(ben.name))!;
    expect(t.textContent).toContain("withdrew Onramp's access");
    expect(t.textContent).not.toContain("invalid_grant");
    click("toast-action");
    await settle(50);
    expect($("reauthorize-note")).not.toBeNull();
  });
});

describe("activity", () => {
  it("lists every event with customer, provider and actor, and filters them", async () => {
    await start({ seed: true });
    go({ name: "activity" });
    await settle();
    const rows = $$("event-row");
    expect(rows.length).toBe(2);
    expect(rows[0].textContent).toContain("Ada Garcia");
    expect(rows[0].textContent).toContain("SolarEdge");
    expect(rows[0].textContent).toContain("app");
    type("activity-filter", "carla");
    await settle();
    expect($$("event-row").map((r) => r.textContent)).toEqual([expect.stringContaining("Solis")]);
  });
});

describe("settings", () => {
  it("saves the installer account from the sandbox key, shows it masked, and removes it", async () => {
    const fake = await start();
    go({ name: "settings" });
    await settle();
    expect($("about")!.textContent).toContain("/home/installer/.local/share/onramp");
    expect(($("account-save-solaredge") as HTMLButtonElement).disabled).toBe(true);
    click("account-sandbox-solaredge");
    await settle();
    const field = $("account-solaredge")!.querySelector<HTMLInputElement>('[data-testid="account-field-solaredge-api_key"]')!;
    expect(field.type).toBe("password");
    expect(field.value).toBe("SANDBOXACCOUNTKEY00000000000001");
    click("account-save-solaredge");
    await settle(10);
    expect(fake.calls).toContain("saveInstallerAccount:solaredge");
    expect($("account-solaredge")!.textContent).toContain("Saved");
    expect($("account-solaredge")!.textContent).toContain("…0001");
    expect(text()).not.toContain("SANDBOXACCOUNTKEY00000000000001");
    click("account-remove-solaredge");
    await settle();
    click("account-remove-confirm-solaredge");
    await settle(10);
    expect($("account-solaredge")!.textContent).toContain("Not set");
  });

  it("shows the vendor's refusal of an account key", async () => {
    await start();
    go({ name: "settings" });
    await settle();
    const field = $("account-solaredge")!.querySelector<HTMLInputElement>('[data-testid="account-field-solaredge-api_key"]')!;
    field.value = "WRONGKEY7Q2X9V4B8N1M6C3Z5L0K2J4H";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    await settle();
    click("account-save-solaredge");
    await settle(10);
    expect($("account-solaredge")!.querySelector('[data-testid="error-box"]')!.textContent).toContain("SolarEdge rejected this key");
    expect(button("Save")).toBeTruthy();
  });
});
