// The health board: what needs someone first, the expiry calendar, and re-authorizing a
// connection in place from there.
import { describe, expect, it } from "vitest";
import { app, go } from "../lib/app.svelte";
import { $, $$, click, settle, start, until } from "./harness";

describe("health board", () => {
  it("lists what needs the customer first and the sign-ins about to lapse", async () => {
    await start({ seed: true, troubled: true });
    // The badge counts what needs someone: Ben's Tesla and Carla's Solis key. Its read waits
    // for the launch's first paint (an animation frame after the list): waited for, bounded.
    expect((await until("attention-badge")).textContent).toBe("2");
    go({ name: "health" });
    await settle(10);
    const items = $$("health-item");
    expect(items.map((i) => i.textContent)).toEqual([
      expect.stringContaining("Ben Okafor"),
      expect.stringContaining("Carla Nguyen"),
    ]);
    expect(items[0].textContent).toContain("revoked Onramp's access");
    expect(items[0].querySelector('[data-testid="health-reauthorize"]')).not.toBeNull();
    expect(items[1].querySelector('[data-testid="health-reauthorize"]')).toBeNull();
    const cal = $$("calendar-row");
    expect(cal).toHaveLength(1);
    expect(cal[0].textContent).toContain("Ada Garcia");
    expect(cal[0].textContent).toContain("expires in 2 days unless Onramp runs");
  });

  it("re-authorizes the same connection: the customer signs in again, sites kept", async () => {
    const fake = await start({ seed: true, troubled: true });
    go({ name: "health" });
    await settle(10);
    click("health-reauthorize");
    const note = await until("reauthorize-note");
    expect(note.textContent).toContain("revoked Onramp's access");
    expect(note.textContent).toContain("1 energy site kept");
    expect($("sign-in-panel")!.textContent).toContain("Re-authorize Tesla");
    click("open-sign-in");
    const outcome = await until("connect-outcome");
    expect(outcome.textContent).toContain("Tesla re-authorized");
    expect(fake.calls.some((c) => /^beginSignIn:tesla:.*:again:/.test(c))).toBe(true);
    click("connect-done");
    await settle(10);
    expect($("status-tesla")!.textContent).toContain("Connected");
    expect($$("reauthorize")).toHaveLength(0);
    go({ name: "health" });
    await settle(10);
    expect($$("health-item")).toHaveLength(1);
    expect(app.attention).toBe(1);
  });

  it("says so when nothing needs anyone", async () => {
    await start({ seed: false });
    go({ name: "health" });
    await settle(10);
    expect($("health-clear")).not.toBeNull();
    expect($("attention-badge")).toBeNull();
  });
});

describe("refresh now", () => {
  it("renews a signed-in connection's tokens on request", async () => {
    const fake = await start({ seed: true, troubled: true });
    go({ name: "customer", id: "seed-3" }); // Ada Garcia: SolarEdge key, Enphase signed in
    await settle(10);
    const buttons = $$("refresh-connection");
    expect(buttons).toHaveLength(1);
    buttons[0].click();
    await settle(10);
    expect(fake.calls.some((c) => c.startsWith("refreshConnection:"))).toBe(true);
    expect(app.toasts.at(-1)!.text).toContain("Enphase: new tokens, valid until");
  });
});

describe("activity export", () => {
  it("saves a customer's consent record and says where", async () => {
    const fake = await start({ seed: true });
    go({ name: "customer", id: "seed-3" });
    await settle(10);
    click("export-csv");
    await settle(10);
    expect(fake.calls).toContain("exportActivity:seed-3:csv");
    expect(app.toasts.at(-1)!.text).toBe("Activity saved to /home/installer/Downloads/onramp-activity-ada-garcia-2026-11-29.csv");
  });
});
