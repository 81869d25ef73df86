import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { insideTauri, setBackend } from "./lib/backend";
import { fakeBackend } from "./lib/fake";

// Outside the app window (a plain browser preview), use the in-memory backend.
if (!insideTauri()) setBackend(fakeBackend({ seed: true }));

mount(App, { target: document.getElementById("app")! });
