// Connecting by the customer signing in at the vendor: the wait, the outcome, paste, decline.
import { describe, expect, it } from "vitest";
import { go } from "../lib/app.svelte";
import { $, $$, click, key, openCustomer, settle, start, until, text, type } from "./harness";


describe("sign-in providers", () => {
  it("opens the sign-in, waits for the customer, then lists what was found", async () => {
    const fake = await start();
    await openCustomer(fake);
    expect($("status-tesla")!.textContent).toContain("Not connected");
    click("connect-tesla");
    await settle();
    // No technical question: the way back is Tesla's own.
    expect($("sign-in-mode-deep_link")).toBeNull();
    expect($("sign-in-way")!.textContent).toContain("comes back to Onramp by itself");
    click("open-sign-in");
    await settle();
    expect(fake.calls).toContain("beginSignIn:tesla:deep_link");
    expect($("sign-in-waiting")!.textContent).toContain("Waiting for the customer to sign in at Tesla");
    expect((await until("connect-outcome")).textContent).toContain("Tesla connected");
    expect($$("found-site").map((e) => e.textContent)).toEqual([expect.stringContaining("Powerwall Home")]);
    expect($("status-tesla")!.textContent).toContain("Connected");
  });

  it("takes the code Enphase shows, pasted", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-enphase");
    await settle();
    expect($("sign-in-way")!.textContent).toContain("paste it here");
    click("open-sign-in");
    await settle();
    type("paste-input", "Q1w2E3");
    await settle();
    click("paste-submit");
    await settle(10);
    expect(fake.calls).toContain("pasteSignIn:Q1w2E3");
    expect($("connect-outcome")!.textContent).toContain("Enphase connected");
  });

  it("keeps the sign-in open when Enphase refuses a mistyped code, and takes the right one", async () => {
    const fake = await start({ refusedCode: "Q1w2E4" });
    await openCustomer(fake);
    click("connect-enphase");
    await settle();
    click("open-sign-in");
    await settle();
    type("paste-input", "Q1w2E4");
    await settle();
    click("paste-submit");
    await settle(10);
    expect($("error-box")!.textContent).toContain("Enphase did not accept that code");
    expect($("error-box")!.textContent).toContain("Copy the code again");
    // The vendor's own words are there, but only under Details.
    expect($("error-details")!.textContent).toContain("invalid_grant");
    expect(($("error-details") as HTMLDetailsElement).open).toBe(false);
    // Still the same sign-in: the paste field is back, empty, and nothing was connected.
    expect(($("paste-input") as HTMLInputElement).value).toBe("");
    expect($("connect-outcome")).toBeNull();
    type("paste-input", "Q1w2E3");
    await settle();
    click("paste-submit");
    await settle(10);
    expect(fake.calls.filter((c) => c.startsWith("beginSignIn:enphase"))).toHaveLength(1);
    expect($("connect-outcome")!.textContent).toContain("Enphase connected");
  });

  it("reads a decline as the customer's choice, with a way to start again", async () => {
    const fake = await start({ declineSignIn: true });
    await openCustomer(fake);
    click("connect-sma");
    await settle();
    click("open-sign-in");
    expect((await until("sign-in-declined")).textContent).toContain("The customer declined access at SMA");
    expect($("error-box")).toBeNull();
    click("sign-in-again");
    await settle();
    expect($("open-sign-in")).not.toBeNull();
  });

  it("offers SolarEdge's Site Access sign-in beside the fleet key's list", async () => {
    const fake = await start();
    await fake.saveInstallerAccount({ provider: "solaredge", api_key: "SANDBOXACCOUNTKEY00000000000001", key_id: null, key_secret: null });
    await openCustomer(fake);
    click("connect-solaredge");
    await settle(10);
    click("switch-to-sign-in");
    await settle();
    expect($("sign-in-panel")).not.toBeNull();
    expect(text()).toContain("mySolarEdge");
  });
});

describe("vendor apps", () => {
  it("saves a company's app in Settings and never shows the secret again", async () => {
    const fake = await start({ environment: "production" });
    go({ name: "settings" });
    await settle(10);
    const card = $("vendor-app-tesla")!;
    expect(card.textContent).toContain("Not set");
    const [id, secret] = [...card.querySelectorAll("input")] as HTMLInputElement[];
    id.value = "client-123";
    id.dispatchEvent(new Event("input", { bubbles: true }));
    secret.value = "very-secret";
    secret.dispatchEvent(new Event("input", { bubbles: true }));
    await settle();
    card.querySelector<HTMLButtonElement>("button[type=submit]")!.click();
    await settle(10);
    expect(fake.calls).toContain("saveVendorApp:tesla:client-123");
    expect($("vendor-app-tesla")!.textContent).toContain("Saved");
    expect(text()).not.toContain("very-secret");
    expect(($("vendor-app-enphase")!.querySelectorAll("input")).length).toBe(3);
  });

  it("saves a public app (no secret) only where the vendor allows one", async () => {
    const fake = await start({ environment: "production" });
    go({ name: "settings" });
    await settle(10);
    const fill = (provider: string) => {
      const card = $(`vendor-app-${provider}`)!;
      const id = card.querySelector("input") as HTMLInputElement;
      id.value = "open-source-app";
      id.dispatchEvent(new Event("input", { bubbles: true }));
      return card;
    };
    const tesla = fill("tesla");
    const sma = fill("sma");
    await settle();
    expect($("public-client-tesla")).not.toBeNull();
    expect($("public-client-sma")).toBeNull();
    expect(sma.querySelector<HTMLButtonElement>("button[type=submit]")!.disabled).toBe(true);
    tesla.querySelector<HTMLButtonElement>("button[type=submit]")!.click();
    await settle(10);
    expect(fake.calls).toContain("saveVendorApp:tesla:open-source-app");
    expect($("vendor-app-tesla")!.textContent).toContain("Saved");
  });
});

describe("one step style", () => {
  it("numbers a sign-in's steps as the key panels do: the current one marked, the done ones too", async () => {
    const fake = await start();
    await openCustomer(fake);
    const steps = (panel: string) =>
      [...$(panel)!.querySelectorAll(".steps > li")].map((li) => `${li.querySelector(":scope > .num")?.textContent}:${li.className.match(/current|done/)?.[0] ?? ""}`);
    click("connect-solis");
    await settle();
    const keyPanel = steps("connect-panel");
    expect(keyPanel).toEqual(["1:done", "2:current", "3:", "4:"]);
    key("Escape");
    await settle();
    click("connect-tesla");
    await settle();
    expect(steps("sign-in-panel")).toEqual(keyPanel);
  });
});

describe("the way back", () => {
  it("is chosen per provider in Settings, with the relay page for the deep link", async () => {
    const fake = await start();
    go({ name: "settings" });
    await settle(10);
    const select = $("return-mode-sma") as HTMLSelectElement;
    expect(select.value).toBe("loopback");
    expect([...select.options].map((o) => o.value)).toEqual(["loopback", "deep_link"]);
    // Labels short enough for the select; the meaning whole below it, for the mode chosen.
    expect([...select.options].every((o) => o.text.length <= 24)).toBe(true);
    expect($("return-mode-hint-sma")!.textContent).toContain("returns to Onramp on this laptop");
    select.value = "deep_link";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    await settle();
    const relay = $("vendor-app-sma")!.querySelector<HTMLInputElement>('input[placeholder^="https"]')!;
    relay.value = "https://example.com/onramp/";
    relay.dispatchEvent(new Event("input", { bubbles: true }));
    click("return-save-sma");
    await settle(10);
    expect(fake.calls).toContain("setSignInReturn:sma:deep_link");
    expect(($("return-mode-sma") as HTMLSelectElement).value).toBe("deep_link");
    expect($("return-mode-hint-sma")!.textContent).toContain("onramp:// link");
  });
});
