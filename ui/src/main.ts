import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { askFirstPage } from "./lib/app.svelte";
import { insideTauri, setBackend } from "./lib/backend";
import { mark } from "./lib/timeline";

mark("script runs");

// The system's own font (app.css): named only on the systems that have it.
const os = /Mac OS X|Macintosh/.test(navigator.userAgent) ? "mac" : /Windows/.test(navigator.userAgent) ? "windows" : "other";
document.documentElement.dataset.os = os;

// Outside the app window (`npm run dev` in a plain browser), run on the in-memory backend with a
// few demo customers; it is loaded only then, so the app itself never carries it.
if (!insideTauri()) {
  const { fakeBackend } = await import("./lib/fake");
  setBackend(fakeBackend({ seed: true, latency: 1200 }));
}

// The first screen's data, asked for before the screen is built.
askFirstPage();
mount(App, { target: document.getElementById("app")! });
mark("mounted");
requestAnimationFrame(() => mark("shell frame"));
