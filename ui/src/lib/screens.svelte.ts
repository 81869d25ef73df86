// The screens other than Customers, each in a chunk of its own: the first paint loads only the
// Customers screen's code, and the rest loads right after it (App.svelte), so a screen is there
// by the time the installer opens it. One that is not yet is loaded when asked for.
import type { Component } from "svelte";

const loaders = {
  customer: () => import("../components/CustomerPage.svelte"),
  handoff: () => import("../components/HandOff.svelte"),
  health: () => import("../components/Health.svelte"),
  activity: () => import("../components/Activity.svelte"),
  settings: () => import("../components/Settings.svelte"),
};

export type Screen = keyof typeof loaders;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loaded = $state<{ [K in Screen]?: Component<any> }>({});
let all: Promise<void> | null = null;

/** Loads every screen (once); resolves when all are there. */
export function loadScreens(): Promise<void> {
  all ??= Promise.all(
    (Object.keys(loaders) as Screen[]).map(async (name) => {
      loaded[name] = (await loaders[name]()).default;
    }),
  ).then(() => {});
  return all;
}

/** The screen's component, or undefined while its code loads (which this starts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function screen(name: Screen): Component<any> | undefined {
  if (!loaded[name]) void loadScreens();
  return loaded[name];
}
