// Utility data: importing a Green Button file (Download My Data), the summary and chart, the
// utility providers' sign-in choices (utility, scope, device vendor).
import { describe, expect, it } from "vitest";
import { $, $$, click, openCustomer, settle, start, until, text } from "./harness";


function pick(file: File) {
  const input = $("usage-file") as HTMLInputElement;
  Object.defineProperty(input, "files", { value: [file], configurable: true });
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

describe("utility usage", () => {
  it("imports a picked Green Button file and shows its months as a chart", async () => {
    const fake = await start();
    await openCustomer(fake);
    expect($$("usage-series")).toHaveLength(0);
    pick(new File(['<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>'], "usage.xml", { type: "text/xml" }));
    await settle(20);
    expect(fake.calls.some((c) => c.startsWith("importUsageBytes:usage.xml:"))).toBe(true);
    const cards = $$("usage-series");
    expect(cards).toHaveLength(1);
    expect(cards[0].textContent).toContain("Green Button file usage.xml");
    expect($$("usage-bar")).toHaveLength(12);
    // The fake's year: sum of its twelve months, shown rounded.
    expect($("usage-total")!.textContent).toMatch(/^7,?200 kWh$/);
    expect($("usage-cost")!.textContent).toContain("2,016");
    expect(text()).toContain("Imported usage.xml");
  });

  it("imports a Green Button file dropped on the window, by its path", async () => {
    const fake = await start();
    await openCustomer(fake);
    fake.emitFileDrop({ type: "enter", paths: ["/home/installer/Downloads/usage.xml"] });
    fake.emitFileDrop({ type: "drop", paths: ["/home/installer/Downloads/notes.txt", "/home/installer/Downloads/usage.xml"] });
    await settle(20);
    expect(fake.calls).toContain("importUsageFile:/home/installer/Downloads/usage.xml");
    expect($$("usage-series")).toHaveLength(1);
    expect(text()).toContain("Imported usage.xml");
  });

  it("says plainly why a file is not usage, and stores nothing", async () => {
    const fake = await start();
    await openCustomer(fake);
    pick(new File(["Date,Usage\n2025-01-01,12\n"], "usage.csv", { type: "text/csv" }));
    await settle(20);
    expect($("error-box")!.textContent).toContain("not a Green Button usage file");
    expect($("error-box")!.textContent).toContain("Download My Data");
    expect($$("usage-series")).toHaveLength(0);
  });

  it("asks for the utility and shows the scope the customer granted", async () => {
    const fake = await start();
    await openCustomer(fake);
    click("connect-utilityapi");
    await settle();
    const choice = $("sign-in-choice") as HTMLSelectElement;
    expect([...choice.options].map((o) => o.value)).toEqual(["demo"]);
    expect(($("sign-in-scope") as HTMLInputElement).value).toContain("IntervalDuration=900_3600");
    click("open-sign-in");
    const scope = await until("outcome-scope");
    expect(fake.calls).toContain("beginSignIn:utilityapi:loopback:demo");
    expect(scope.textContent).toBe("FB=4_5_15_16_46;IntervalDuration=3600;HistoryLength=31536000");
    click("connect-done");
    await settle(10);
    expect($("granted-scope")!.textContent).toContain("IntervalDuration=3600");
    expect($$("usage-series")).toHaveLength(1);
    expect($$("fetch-usage")).toHaveLength(1);
  });

  it("says Enphase Grid Services goes through Derapi Join and asks for the vendor", async () => {
    const fake = await start();
    await openCustomer(fake);
    expect($("provider-row-derapi")!.textContent).toContain("Enphase Grid Services can only be enrolled this way");
    click("connect-derapi");
    await settle();
    expect($("provider-note")!.textContent).toContain("Enphase Grid Services");
    click("open-sign-in");
    await settle();
    expect(fake.calls).toContain("beginSignIn:derapi:loopback:enphasevpp");
  });
});
