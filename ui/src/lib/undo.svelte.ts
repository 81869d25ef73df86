// Undo for removals. A removal is staged here, not sent: what it removes is hidden at once, a
// toast offers Undo for UNDO_MS, and only when that window ends is the backend asked to remove
// it (a customer's revoke at the vendors included, which no one can take back). Undo in the
// window sends nothing. Closing the app in the window removes nothing.
import { app, dismissToast, toast } from "./app.svelte";
import { toErrorInfo } from "./backend";

/** How long a removal can be taken back. */
export const UNDO_MS = 8000;

/** The window in use (tests shorten it). */
export const undoWindow = { ms: UNDO_MS };

/** The ids (customers, connections, usage series) whose removal waits for its undo window. */
export const staged = $state({ ids: [] as string[] });

export const isStaged = (id: string) => staged.ids.includes(id);

interface Removal {
  /** What is removed: a customer's, a connection's or a usage series' id. */
  id: string;
  /** "Ada Garcia removed". */
  text: string;
  /** Sends the removal to the backend, once the window ended. */
  commit: () => Promise<void>;
  /** After the commit (reload lists); or after a failed one, with the error shown. */
  settled?: (ok: boolean) => void;
}

const timers = new Map<string, ReturnType<typeof setTimeout>>();

/** Stages a removal with its Undo toast. */
export function stageRemoval(r: Removal): void {
  staged.ids.push(r.id);
  let toastId = 0;
  const before = new Set(app.toasts.map((t) => t.id));
  toast(r.text, "ok", {
    sticky: true,
    action: {
      label: "Undo",
      run: () => {
        const t = timers.get(r.id);
        if (t) clearTimeout(t);
        timers.delete(r.id);
        staged.ids = staged.ids.filter((x) => x !== r.id);
        toast("Undone: nothing was removed");
      },
    },
  });
  toastId = app.toasts.find((t) => !before.has(t.id))?.id ?? 0;
  timers.set(
    r.id,
    setTimeout(async () => {
      timers.delete(r.id);
      dismissToast(toastId);
      let ok = true;
      try {
        await r.commit();
      } catch (e) {
        ok = false;
        const err = toErrorInfo(e);
        toast(err.hint ? `${err.message} ${err.hint}` : err.message, "error");
      } finally {
        staged.ids = staged.ids.filter((x) => x !== r.id);
        r.settled?.(ok);
      }
    }, undoWindow.ms),
  );
}
