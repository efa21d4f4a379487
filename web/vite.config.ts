import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API and the WebSocket to a running ws-bridge
// (CHAT_BRIDGE, default http://127.0.0.1:8080), so the page stays same-origin.
declare const process: { env: Record<string, string | undefined> };
const bridge = process.env.CHAT_BRIDGE ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the bundle works wherever the bridge mounts it.
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // No inlined data: URLs and nothing fetched from elsewhere: one JS, one CSS file.
    assetsInlineLimit: 0,
    // The browsers the UI is built for: Baseline Widely Available as Vite 8 defaults to it,
    // spelled out because Vite 6 (the last Vite that runs on Debian 12's Node 18) defaults
    // to older ones (es2020).
    target: ["chrome111", "edge111", "firefox114", "safari16.4", "ios16.4"],
  },
  server: {
    proxy: {
      "/api": { target: bridge, changeOrigin: false },
      "/ws": { target: bridge.replace(/^http/, "ws"), ws: true },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
