import { backend } from "./backend";

/** A picked or dropped file's bytes (FileReader works in every webview). */
export function bytesOf(f: File): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(new Uint8Array(r.result as ArrayBuffer));
    r.onerror = () => reject(r.error);
    r.readAsArrayBuffer(f);
  });
}

/** Listeners that stop together: `keep` each `on…` subscription, `stop` them all (also those
 * whose subscription resolves after `stop`). What a component's `onMount` returns. */
export function listeners(): { keep: (subscribed: Promise<() => void>) => void; stop: () => void } {
  const stops: (() => void)[] = [];
  let gone = false;
  return {
    keep: (subscribed) => void subscribed.then((u) => (gone ? u() : stops.push(u))),
    stop: () => {
      gone = true;
      stops.forEach((u) => u());
    },
  };
}

/** Files dropped on the window, for a drop zone: `over` follows the drag (true while files are
 * over the window), and `dropped` gets the drop's number (the shell keeps its paths; the UI never
 * names one) and the first file whose name `wanted` matches, else the first file. */
export function listenForDrops(
  l: ReturnType<typeof listeners>,
  over: (on: boolean) => void,
  wanted: RegExp,
  dropped: (drop: number, name: string) => void,
): void {
  l.keep(backend().onFileDrop((p) => over(p.type === "enter" || p.type === "over")));
  l.keep(
    backend().onFilesDropped((d) => {
      over(false);
      const name = d.names.find((x) => wanted.test(x)) ?? d.names[0];
      if (name) dropped(d.drop, name);
    }),
  );
}
