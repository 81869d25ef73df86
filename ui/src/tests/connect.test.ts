// The connect panel: the customer's own key, the installer account pick-list, errors, removal.
import { describe, expect, it } from "vitest";
import { app, go } from "../lib/app.svelte";
import { $, $$, button, click, key, openCustomer, settle, start, text, type } from "./harness";
import { UNDO_MS, undoWindow } from "../lib/undo.svelte";

/** Fills Solis's KeyId and KeySecret (the customer's own key; SolarEdge V2 has none). */
function fillSolis(secret = "0123456789abcdef0123456789abcdef") {
  type("field-key_id", "1234567890123456789");
  type("field-key_secret", secret);
}

describe("connect with the customer's key", () => {
  it("says a key of the wrong shape at the field, in the words the backend refuses it with", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    click("mode-customer-key");
    await settle();
    type("field-key_id", "130038638167");
    await settle();
    // Nothing said while typing; said once the installer leaves the field.
    expect($("field-key_id-problem")).toBeNull();
    $("field-key_id")!.dispatchEvent(new Event("blur"));
    await settle();
    expect($("field-key_id-problem")!.textContent).toBe(
      "That Solis KeyId is too short: it has 12 characters; a KeyId has 19 characters.",
    );
    expect($("field-key_id")!.getAttribute("aria-invalid")).toBe("true");
    type("field-key_id", "13003863816764883x4");
    await settle();
    expect($("field-key_id-problem")!.textContent).toBe("A Solis KeyId is made of digits only.");
    type("field-key_id", "1300386381676488344");
    await settle();
    expect($("field-key_id-problem")).toBeNull();
    // A secret one character too long is said at once, without leaving the field.
    type("field-key_secret", "0123456789abcdef0123456789abcdef0");
    await settle();
    expect($("field-key_secret-problem")!.textContent).toContain("too long: it has 33 characters; a KeySecret has 32 characters");
  });

  it("submits the key form and shows the sites found", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    // No installer account yet: that way in is disabled, with the way to Settings.
    expect(($("mode-account") as HTMLButtonElement).disabled).toBe(true);
    expect(text()).toContain("Add it in Settings");
    click("mode-customer-key");
    await settle();
    expect(text()).toContain("API Management");
    const field = $("field-key_secret") as HTMLInputElement;
    expect(field.type).toBe("password");
    expect(($("connect-submit") as HTMLButtonElement).disabled).toBe(true);
    fillSolis("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    await settle();
    button("Show").click();
    await settle();
    expect(field.type).toBe("text");
    click("connect-submit");
    await settle(10);
    expect(fake.calls.some((c) => c.startsWith("connectCustomerKey"))).toBe(true);
    expect($("connect-outcome")!.textContent).toContain("Solis connected");
    expect($$("found-site").length).toBe(1);
    // Behind the panel, the checklist row now shows the site; the key is nowhere on screen.
    expect($$("site-row").length).toBe(1);
    expect($("status-solis")!.textContent).toContain("Connected");
    expect($("connect-solis")!.textContent).toContain("Add another");
    expect(text()).not.toContain("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    expect(app.toasts.map((t) => t.text)).toContain("Solis connected: 1 station");
    key("Escape");
    await settle();
    expect($("connect-panel")).toBeNull();
  });

  it("asks Solis for KeyId and KeySecret, masks only the secret", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    expect(($("field-key_id") as HTMLInputElement).type).toBe("text");
    expect(($("field-key_secret") as HTMLInputElement).type).toBe("password");
    fillSolis();
    await settle();
    click("connect-submit");
    await settle(10);
    expect($("status-solis")!.textContent).toContain("Connected");
    expect($("connect-outcome")!.textContent).toContain("1 station");
  });

  it("offers SolarEdge no customer key: Site Access sign-in, or the fleet key's list", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-solaredge");
    await settle();
    // No fleet key saved: straight to the homeowner's sign-in.
    expect($("sign-in-panel")).not.toBeNull();
    expect($("mode-customer-key")).toBeNull();
    expect(text()).toContain("Site Access");
    expect(text()).not.toContain("API Access");
    key("Escape");
    await settle();
    await fake.saveInstallerAccount({ provider: "solaredge", api_key: "SANDBOXACCOUNTKEY00000000000001", key_id: null, key_secret: null });
    await openCustomer(fake, "Ben Okafor");
    click("connect-solaredge");
    await settle(10);
    expect(($("mode-account") as HTMLButtonElement).disabled).toBe(false);
    expect($("mode-customer-key")).toBeNull();
    expect($("switch-to-sign-in")).not.toBeNull();
    expect($("sandbox-keys")).toBeNull();
  });

  it("shows the vendor's refusal with the hint, and keeps the form", async () => {
    const fake = await start({
      connectError: { code: "VendorRejected", message: "Solis rejected this key: wrong KeySecret", hint: "Ask the customer for a new key." },
    });
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    fillSolis();
    await settle();
    click("connect-submit");
    await settle(10);
    const box = $("error-box")!;
    expect(box.textContent).toContain("Solis rejected this key: wrong KeySecret");
    expect(box.textContent).toContain("Ask the customer for a new key.");
    expect(box.querySelector("button")).toBeNull(); // a rejected key is not retried as is
    expect($("connect-submit")).not.toBeNull();
    expect(($("field-key_id") as HTMLInputElement).value).toBe("1234567890123456789");
    expect($("status-solis")!.textContent).toContain("Not connected");
  });

  it("offers Retry when the vendor is rate limiting", async () => {
    const fake = await start({
      connectError: { code: "RateLimited", message: "Solis is limiting requests right now.", hint: "Wait a minute, then Retry." },
    });
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    fillSolis();
    await settle();
    click("connect-submit");
    await settle(10);
    expect($("error-box")!.textContent).toContain("Wait a minute");
    click("retry");
    await settle(10);
    expect(fake.calls.filter((c) => c.startsWith("connectCustomerKey"))).toHaveLength(2);
  });

  it("normalises anything else a command throws into an Internal error", async () => {
    const fake = await start();
    fake.connectCustomerKey = async () => {
      throw "the backend panicked";
    };
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    fillSolis();
    await settle();
    click("connect-submit");
    await settle(10);
    expect($("error-box")!.getAttribute("data-code")).toBe("Internal");
    expect($("error-box")!.textContent).toContain("the backend panicked");
  });

  it("fills a sandbox demo key", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    expect($("sandbox-keys")!.textContent).not.toContain("Installer account key");
    button("Use").click();
    await settle();
    expect(($("field-key_id") as HTMLInputElement).value).toBe("1234567890123456789");
  });

  it("shows no demo keys in production", async () => {
    const fake = await start({ environment: "production" });
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    expect($("sandbox-keys")).toBeNull();
  });
});

describe("the panel", () => {
  it("keeps Tab inside the panel", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    const panel = $("connect-panel")!;
    expect(panel.contains(document.activeElement)).toBe(true);
    const items = [...panel.querySelectorAll<HTMLElement>("button:not([disabled]), input:not([disabled])")];
    items.at(-1)!.focus();
    key("Tab", items.at(-1)!);
    expect(document.activeElement).toBe(items[0]);
    key("Tab", items[0]);
    items[0].dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey: true, bubbles: true }));
    expect(document.activeElement).toBe(items.at(-1));
  });

  it("lets the check run on when closed, and tells the outcome in a toast", async () => {
    const fake = await start({
      latency: 200,
      connectError: { code: "Network", message: "Solis could not be reached.", hint: "Check the internet connection, then Retry." },
    });
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    fillSolis();
    await settle();
    click("connect-submit");
    await settle(1);
    expect($("connect-progress")!.textContent).toContain("Checking the key with Solis");
    key("Escape");
    await settle();
    expect($("connect-panel")).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(app.toasts).toEqual([expect.objectContaining({ kind: "error", text: expect.stringContaining("Solis could not be reached.") })]);
  });

  it("reports a success that arrives after the panel closed", async () => {
    const fake = await start({ latency: 200 });
    await openCustomer(fake);
    click("connect-solis");
    await settle();
    fillSolis();
    await settle();
    click("connect-submit");
    await settle(1);
    key("Escape");
    await settle();
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(app.toasts.map((t) => t.text)).toEqual(["Solis connected: 1 station"]);
    expect($("status-solis")!.textContent).toContain("Connected");
  });
});

describe("connect from the installer account", () => {
  it("searches the account's sites, skips those taken, and connects the picked one", async () => {
    const fake = await start({ seed: true });
    await fake.saveInstallerAccount({ provider: "solaredge", api_key: "SANDBOXACCOUNTKEY00000000000001", key_id: null, key_secret: null });
    go({ name: "customer", id: "seed-1" }); // Ben Okafor
    await settle();
    click("connect-solaredge");
    await settle(10);
    expect(($("mode-account") as HTMLButtonElement).disabled).toBe(false);
    expect($$("remote-site").length).toBeGreaterThan(10);
    type("site-search", "garcia residence");
    await new Promise((r) => setTimeout(r, 300));
    await settle(10);
    const rows = $$("remote-site");
    const taken = rows.find((r) => r.textContent!.includes("Ada Garcia"))!;
    expect(taken.querySelector("input")!.disabled).toBe(true);
    const free = rows.find((r) => !r.querySelector("input")!.disabled)!;
    free.querySelector("input")!.click();
    await settle();
    expect($("connect-submit")!.textContent).toContain("Connect 1 site");
    click("connect-submit");
    await settle(10);
    expect(fake.calls.some((c) => c.startsWith("connectAccountSites:"))).toBe(true);
    expect($("status-solaredge")!.textContent).toContain("Connected");
    expect($$("site-row")[0].textContent).toContain("Garcia Residence");
  });
});

describe("the Enphase partner account", () => {
  it("is saved once in Settings; then a customer's system is picked from the partner's list", async () => {
    const fake = await start();
    go({ name: "settings" });
    await settle();
    // Signing in needs every field: the partner application and the Enlighten user.
    type("account-field-enphase-client_id", "9f1e-partner-app");
    type("account-field-enphase-client_secret", "partner-secret-0001");
    type("account-field-enphase-api_key", "partnerkey0002");
    type("account-field-enphase-username", "office@sunny-installs.example");
    await settle();
    expect(($("account-save-enphase") as HTMLButtonElement).disabled).toBe(true);
    expect($("account-save-enphase")!.textContent).toContain("Sign in");
    type("account-field-enphase-password", "Correct Horse 1");
    await settle();
    click("account-save-enphase");
    await settle(10);
    expect(fake.calls).toContain("saveInstallerAccount:enphase");
    expect($("account-enphase")!.textContent).toContain("Signed in");
    expect($("account-renews-enphase")!.textContent).toContain("renews this sign-in by itself");
    expect(text()).toContain("office@sunny-installs.example");
    // Neither the password nor the secret stays on screen or in the form.
    expect(text()).not.toContain("partner-secret-0001");
    expect(($("account-field-enphase-password") as HTMLInputElement).value).toBe("");

    await openCustomer(fake);
    click("connect-enphase");
    await settle(10);
    // With the partner account saved, the list comes first; the customer's sign-in stays offered.
    expect($("switch-to-sign-in")).not.toBeNull();
    expect($$("remote-site").length).toBe(12);
    type("site-search", "hill farm");
    await new Promise((r) => setTimeout(r, 300));
    await settle(10);
    const rows = $$("remote-site");
    expect(rows).toHaveLength(4);
    rows.find((r) => r.textContent!.includes("Hill Farm 2"))!.querySelector("input")!.click();
    await settle();
    click("connect-submit");
    await settle(10);
    expect(fake.calls).toContain("connectAccountSites:4100067");
    expect($("status-enphase")!.textContent).toContain("Connected");
  });
});

describe("a partner sign-in that Enphase no longer accepts", () => {
  it("says so in Settings and on the health board, which leads to Settings", async () => {
    const fake = await start();
    await fake.saveInstallerAccount({
      provider: "enphase", api_key: "partnerkey0002", key_id: null, key_secret: null,
      client_id: "9f1e-partner-app", client_secret: "s", username: "office@sunny-installs.example", password: "pw",
    });
    fake.refuseAccount("enphase", {
      code: "ReauthRequired",
      message: "Enphase no longer accepts the installer account's sign-in (the Enlighten password may have changed).",
      hint: "Sign in again in Settings → Installer accounts with the partner application and your Enlighten user.",
    });
    go({ name: "health" });
    await settle(10);
    expect(text()).toContain("Your Enphase installer account");
    expect($("health-reauthorize")).toBeNull();
    click("health-open-settings");
    await settle(10);
    expect(app.route.name).toBe("settings");
    expect($("account-needs-sign-in-enphase")).not.toBeNull();
    expect($("account-problem-enphase")!.textContent).toContain("no longer accepts");
    expect($("account-save-enphase")!.textContent).toContain("Sign in again");
  });
});

describe("removing a connection", () => {
  it("asks first, then removes", async () => {
    const fake = await start({ seed: true });
    go({ name: "customer", id: "seed-3" }); // Ada Garcia, SolarEdge connected
    await settle();
    click("remove-connection");
    await settle();
    expect(fake.calls.some((c) => c.startsWith("removeConnection"))).toBe(false);
    button("Keep").click();
    await settle();
    expect($$("site-row")).toHaveLength(1);
    click("remove-connection");
    await settle();
    undoWindow.ms = 100;
    try {
      click("confirm-remove");
      await settle();
      // Hidden at once; sent only when the undo window ends.
      expect($$("site-row")).toHaveLength(0);
      expect(fake.calls.some((c) => c.startsWith("removeConnection"))).toBe(false);
      await new Promise((r) => setTimeout(r, 250));
      await settle(10);
      expect(fake.calls.some((c) => c.startsWith("removeConnection"))).toBe(true);
      expect($$("site-row")).toHaveLength(0);
      expect($("status-solaredge")!.textContent).toContain("Not connected");
    } finally {
      undoWindow.ms = UNDO_MS;
    }
  });

  it("shows a connection's last error in the checklist", async () => {
    await start({ seed: true });
    go({ name: "customer", id: "seed-2" }); // Carla Nguyen, Solis failing
    await settle();
    expect($("status-solis")!.textContent).toContain("Error");
    expect($("error-box")!.textContent).toContain("Solis rejected this key");
  });
});
