// Utility data: importing a Green Button file (Download My Data), the summary and chart, the
// utility providers' sign-in choices (utility, scope, device vendor).
import { describe, expect, it } from "vitest";
import { go } from "../lib/app.svelte";
import { $, $$, click, openCustomer, pickFile, settle, start, until, text } from "./harness";


const pick = (file: File) => pickFile("usage-file", file);

const GB = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>';
const YEAR_2011 = "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml";
const NINE_DAYS = "TestGBDataHourlyNineDaysBinnedDaily.xml";
const kwh = (el: HTMLElement | null) => Number(el!.textContent!.replace(/[^0-9.]/g, ""));

describe("usage labels say what they show", () => {
  it("names the months an old file covers, never the last 12 months, with the year on the axis", async () => {
    const fake = await start();
    await openCustomer(fake);
    pick(new File([GB], YEAR_2011, { type: "text/xml" }));
    await settle(20);
    expect($("usage-period")!.textContent).toBe("Jan 2011 – Dec 2011");
    expect(text()).not.toMatch(/last 12 months/i);
    const axis = $$("usage-axis").map((t) => t.textContent);
    expect(axis[0]).toBe("Jan 2011");
    expect(axis).toContain("Feb");
    expect(axis.some((a) => /\b\d{2}$/.test(a!) && !/\d{4}$/.test(a!))).toBe(false);
    // Twelve whole months: the average is the total over twelve.
    const total = kwh($("usage-total"));
    expect(kwh($("usage-average"))).toBeCloseTo(total / 12, -1);
    expect($("usage-covered")).toBeNull();
  });

  it("averages a nine-day file over its nine days, not over a month", async () => {
    const fake = await start();
    await openCustomer(fake);
    pick(new File([GB], NINE_DAYS, { type: "text/xml" }));
    await settle(20);
    expect($("usage-period")!.textContent).toBe("Jan 2014");
    expect($("usage-covered")!.textContent).toBe("Per day · 9 days covered");
    expect(text()).not.toContain("Per month");
    // 9 of January's 31 days of the fake's 254 kWh January: 73.742 kWh, 8.19 kWh a day.
    expect($("usage-total")!.textContent).toBe("73.7 kWh");
    expect($("usage-average")!.textContent).toBe("8.2 kWh");
  });

  it("counts a partial month out of the monthly average", async () => {
    const fake = await start();
    await openCustomer(fake);
    pick(new File([GB], "usage.xml", { type: "text/xml" }));
    await settle(20);
    // The fake's 2025 year, whole months only: 7,200 kWh over 12.
    expect($("usage-average")!.textContent).toBe("600 kWh");
    // From January 16th: January is partial and left out, February to December average
    // (7,200 − 254) / 11 = 631 kWh; over twelve "months" it would say 590.
    pick(new File([GB], "usage-mid-month.xml", { type: "text/xml" }));
    await settle(20);
    const card = $$("usage-series").find((c) => c.textContent!.includes("usage-mid-month.xml"))!;
    expect(card.querySelector('[data-testid="usage-period"]')!.textContent).toBe("Jan 2025 – Dec 2025");
    expect(card.querySelector('[data-testid="usage-average"]')!.textContent).toBe("631 kWh");
  });

  it("shows the file's service address beside the customer's when they differ", async () => {
    const fake = await start();
    const c = await fake.addCustomer({ name: "Ben Okafor", address: "88 Vine Ave, Tucson", email: null, phone: null, job_number: null });
    go({ name: "customer", id: c.id });
    await settle();
    pick(new File([GB], "usage.xml", { type: "text/xml" }));
    await settle(20);
    const place = $("usage-address")!.textContent!;
    expect(place).toContain("Service address in the data: 1234 Oak St, Fresno");
    expect(place).toContain("the customer's: 88 Vine Ave, Tucson");
  });

  it("says nothing of the service address when it is the customer's", async () => {
    const fake = await start();
    const c = await fake.addCustomer({ name: "Ada Garcia", address: "1234 Oak St., Fresno", email: null, phone: null, job_number: null });
    go({ name: "customer", id: c.id });
    await settle();
    pick(new File([GB], "usage.xml", { type: "text/xml" }));
    await settle(20);
    expect($$("usage-series")).toHaveLength(1);
    expect($("usage-address")).toBeNull();
  });
});

describe("utility usage", () => {
  it("imports a picked Green Button file and shows its months as a chart", async () => {
    const fake = await start();
    await openCustomer(fake);
    expect($$("usage-series")).toHaveLength(0);
    pick(new File([GB], "usage.xml", { type: "text/xml" }));
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

  it("imports a Green Button file dropped on the window by the shell's drop, never by a path", async () => {
    const fake = await start();
    await openCustomer(fake);
    fake.emitFileDrop({ type: "enter", paths: ["/home/installer/Downloads/usage.xml"] });
    await settle(1);
    expect($("usage-drop")!.classList.contains("over")).toBe(true);
    // The webview's own drop event (with paths) imports nothing; the shell's does.
    fake.emitFileDrop({ type: "drop", paths: ["/home/installer/Downloads/usage.xml"] });
    await settle(5);
    expect($("usage-drop")!.classList.contains("over")).toBe(false);
    expect(fake.calls.some((c) => c.startsWith("importDroppedUsage") || c.startsWith("importUsage"))).toBe(false);
    fake.emitFilesDropped(["/home/installer/Downloads/notes.txt", "/home/installer/Downloads/usage.xml"]);
    await settle(20);
    expect(fake.calls).toContain("importDroppedUsage:1:usage.xml");
    expect(fake.calls.some((c) => c.includes("/home/installer"))).toBe(false);
    expect($$("usage-series")).toHaveLength(1);
    expect(text()).toContain("Imported usage.xml");
  });

  it("shows how far an import has read, and Cancel stops it with nothing stored", async () => {
    const fake = await start();
    await openCustomer(fake);
    const release = fake.holdImports();
    pick(new File([GB.repeat(100)], "big.xml", { type: "text/xml" }));
    await until("usage-progress");
    await settle(2);
    const bar = $("usage-progress") as HTMLProgressElement;
    expect(bar.max).toBe(GB.length * 100);
    expect(bar.value).toBe(Math.round(GB.length * 25));
    expect($("usage-percent")!.textContent).toBe("25%");
    click("usage-cancel");
    await settle(2);
    expect(fake.calls.some((c) => c.startsWith("cancelUsageImport:"))).toBe(true);
    expect(($("usage-cancel") as HTMLButtonElement).disabled).toBe(true);
    release();
    await settle(20);
    expect($("usage-progress")).toBeNull();
    expect($("error-box")).toBeNull();
    expect(text()).toContain("The import of big.xml was cancelled. Nothing was saved.");
    expect($$("usage-series")).toHaveLength(0);
    // The next import runs to its end, the bar gone with it.
    pick(new File([GB], "usage.xml", { type: "text/xml" }));
    await settle(20);
    expect($("usage-progress")).toBeNull();
    expect($$("usage-series")).toHaveLength(1);
  });

  it("words progress as a whole percentage", async () => {
    const { percent } = await import("../lib/usage");
    expect(percent(null)).toBe(0);
    expect(percent({ read: 0, total: 0 })).toBe(0);
    expect(percent({ read: 999, total: 1000 })).toBe(99);
    expect(percent({ read: 1000, total: 1000 })).toBe(100);
    expect(percent({ read: 5000, total: 1000 })).toBe(100);
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
