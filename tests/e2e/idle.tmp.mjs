import { Stack } from "./lib/stack.mjs";
import { launchBrowser, BrowserUser } from "./lib/browser.mjs";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
rmSync("/tmp/e2e-idle", { recursive: true, force: true });
mkdirSync("/tmp/e2e-idle", { recursive: true });
const stack = new Stack({ buildDir: "/work/main/build", webRoot: "/work/main/web/dist", logDir: "/tmp/e2e-idle" });
await stack.start();
const withBrowser = process.argv[2] === "browser";
let b;
if (withBrowser) { b = await launchBrowser(); const u = await BrowserUser.open(b, stack.baseUrl); await u.register("idler"); }
const t0 = Date.now();
const get = () => new Promise((res) => { const req = http.get(`${stack.baseUrl}/healthz`, { agent: false, timeout: 3000 }, (r) => { let d=""; r.on("data", c=>d+=c); r.on("end", () => res(`${r.statusCode} ${d.slice(0,80)}`)); }); req.on("timeout", () => { req.destroy(); res("timeout"); }); req.on("error", (e) => res(`error ${e.code||e.message}`)); });
let last = "";
while (Date.now() - t0 < 100_000) {
  const s = await get();
  const fds = readdirSync(`/proc/${stack.bridge.pid}/fd`).length;
  const cfds = readdirSync(`/proc/${stack.core.pid}/fd`).length;
  if (s !== last) { console.log(((Date.now()-t0)/1000).toFixed(1), s, "bridge fds", fds, "core fds", cfds); last = s; }
  await new Promise(r => setTimeout(r, 500));
}
if (b) await b.close(); await stack.stop();
