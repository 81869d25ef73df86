// The UI has one door to the backend: only backend.ts talks to Tauri, and the shell's event names
// come from the generated bindings, not from literals.
import { describe, expect, it } from "vitest";
import { UI_EVENTS } from "../lib/bindings";

const sources = import.meta.glob(["../**/*.ts", "../**/*.svelte", "!../tests/**"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

describe("the one door", () => {
  it("is the only module that imports the Tauri API", () => {
    const talking = Object.entries(sources)
      .filter(([, text]) => text.includes("@tauri-apps/"))
      .map(([path]) => path);
    expect(talking).toEqual(["../lib/backend.ts"]);
  });

  it("listens under the generated event names only", () => {
    expect(Object.keys(sources).length).toBeGreaterThan(10);
    for (const name of Object.values(UI_EVENTS)) {
      const literal = Object.entries(sources)
        .filter(([path, text]) => path !== "../lib/bindings.ts" && text.includes(`"${name}"`))
        .map(([path]) => path);
      expect(literal, name).toEqual([]);
    }
  });
});
