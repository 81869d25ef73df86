// Reports "ready" once the page has painted, as Onramp's UI does after its first list.
window.addEventListener("DOMContentLoaded", () => {
  requestAnimationFrame(() => window.__TAURI_INTERNALS__.invoke("ui_ready"));
});
