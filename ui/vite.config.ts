import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    // CI shares two cores with a Rust build; waits are bounded by `until`, not by the clock.
    testTimeout: 30_000,
  },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
});
