// The page's record of its own load, sent to the backend with `ui_ready` (logged at debug
// level): where the start-up time goes inside the window.

export interface Timeline {
  /** When the page's clock started, in Unix milliseconds. */
  origin: number;
  /** Named moments on that clock, in milliseconds. */
  marks: [string, number][];
}

/** Marks a moment of the start-up (shown in the timeline). */
export function mark(name: string): void {
  if (typeof performance !== "undefined" && performance.mark) performance.mark(name);
}

/** The load so far: the document's own steps, each file's request and arrival, the paints the
 * engine records, and the marks made with `mark`. */
export function timeline(): Timeline {
  const marks: [string, number][] = [];
  const entries = (type: string) => (performance.getEntriesByType ? performance.getEntriesByType(type) : []);
  for (const e of entries("navigation") as PerformanceNavigationTiming[]) {
    marks.push(["document asked", e.fetchStart], ["document arrived", e.responseEnd], ["document parsed", e.domInteractive], ["DOMContentLoaded", e.domContentLoadedEventStart]);
  }
  for (const e of entries("resource") as PerformanceResourceTiming[]) {
    const file = e.name.split("/").pop() ?? e.name;
    marks.push([`${file} asked`, e.startTime], [`${file} arrived`, e.responseEnd]);
  }
  for (const e of [...entries("paint"), ...entries("mark")]) marks.push([e.name, e.startTime]);
  marks.sort((a, b) => a[1] - b[1]);
  return { origin: performance.timeOrigin, marks };
}
