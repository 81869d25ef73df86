// Settings → Data: a backup with the passphrase typed twice, and a restore that asks before it
// replaces customers; the secure-storage banner leads there when the keyring lost the key.
import { describe, expect, it } from "vitest";
import { app, go } from "../lib/app.svelte";
import { $, click, pickFile, settle, start, text, type, until } from "./harness";

const PASS = "maple ladder seven orbit";
const NOTE = 'A refresh token rotated after the backup was taken is dead at the vendor; such connections show "needs sign-in" at their next refresh.';

describe("data", () => {
  it("backs up with the passphrase twice, showing progress and where the file went", async () => {
    const fake = await start({ seed: true, latency: 50 });
    go({ name: "settings" });
    await until("data-section");
    const create = $("backup-create") as HTMLButtonElement;
    expect(create.disabled).toBe(true);
    type("backup-passphrase", "too short");
    await settle();
    expect($("backup-rule")!.textContent).toContain("9 so far");
    expect(create.disabled).toBe(true);
    type("backup-passphrase", PASS);
    type("backup-passphrase-again", PASS + "x");
    await settle();
    expect($("backup-mismatch")!.textContent).toContain("differ");
    expect(create.disabled).toBe(true);
    type("backup-passphrase-again", PASS);
    await settle();
    expect($("backup-mismatch")).toBeNull();
    expect(create.disabled).toBe(false);
    click("backup-create");
    await settle(1);
    expect($("backup-progress")!.textContent).toContain("Encrypting");
    const done = await until("backup-done");
    expect(done.textContent).toContain("/home/installer/Downloads/onramp-backup-");
    expect(done.textContent).toContain(".onrampbackup");
    expect(done.textContent).toContain("3 customers");
    expect(fake.calls).toContain("createBackup");
    // The passphrase does not stay on screen.
    expect(($("backup-passphrase") as HTMLInputElement).value).toBe("");
  });

  it("takes a backup dropped on the window as the file to restore", async () => {
    const fake = await start({ seed: true });
    go({ name: "settings" });
    await until("data-section");
    expect(($("restore-start") as HTMLButtonElement).disabled).toBe(true);
    fake.emitFilesDropped(["/media/usb/readme.txt", "/media/usb/onramp-backup-2026-11-29-1405.onrampbackup"]);
    await settle();
    expect($("restore-file-name")!.textContent).toBe("onramp-backup-2026-11-29-1405.onrampbackup");
    type("restore-passphrase", PASS);
    await settle();
    click("restore-start");
    await until("restore-confirm");
    click("restore-confirm");
    await until("restore-done");
    // The shell restores the file it holds for that drop; the UI named only the drop and the name.
    expect(fake.calls).toContain("restoreDroppedBackup:1:onramp-backup-2026-11-29-1405.onrampbackup:true");
  });


  it("says what a backup cannot bring back, and asks before replacing customers", async () => {
    const fake = await start({ seed: true });
    go({ name: "settings" });
    await until("data-section");
    expect($("restore-cannot")!.textContent).toBe(NOTE);
    pickFile("restore-file", new File(["age-encryption.org/v1"], "onramp-backup-2026-11-29-1405.onrampbackup"));
    await settle();
    type("restore-passphrase", "wrong passphrase");
    await settle();
    click("restore-start");
    await until("restore-confirm");
    expect($("restore-confirm-text")!.textContent).toContain("already has 3 customers");
    expect(fake.calls.filter((c) => c.startsWith("restore"))).toEqual([]);
    click("restore-confirm");
    await until("error-box").catch(() => undefined);
    await settle();
    expect(text()).toContain("The passphrase does not open this backup.");
    type("restore-passphrase", PASS);
    await settle();
    click("restore-start");
    await until("restore-confirm");
    click("restore-confirm");
    const done = await until("restore-done");
    expect(done.textContent).toContain("Restored");
    expect(done.textContent).toContain(NOTE);
    // The picked file went over as its bytes, with its name.
    expect(fake.calls).toContain("restoreBackupBytes:onramp-backup-2026-11-29-1405.onrampbackup:21:true");
  });

  it("offers a restore from the banner when the keyring lost the key, and clears it after", async () => {
    const fake = await start({ keyMissing: true });
    const banner = $("vault-warning")!;
    expect(banner.textContent).toContain("not in the keyring");
    click("vault-restore");
    await until("data-section");
    expect(app.route).toEqual({ name: "settings", section: "data" });
    expect(document.activeElement?.id).toBe("restore-file");
    pickFile("restore-file", new File(["age-encryption.org/v1"], "onramp-backup-2026-11-29-1405.onrampbackup"));
    await settle();
    type("restore-passphrase", PASS);
    await settle();
    click("restore-start");
    // No customers on this laptop: nothing to confirm.
    await until("restore-done");
    expect(fake.calls).toContain("restoreBackupBytes:onramp-backup-2026-11-29-1405.onrampbackup:21:false");
    await settle();
    expect($("vault-warning")).toBeNull();
    expect(app.status?.vault.state).toBe("ready");
  });
});
