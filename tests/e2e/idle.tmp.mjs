import { Stack } from "./lib/stack.mjs";
import { GrpcUser } from "./lib/grpc.mjs";
import { launchBrowser, BrowserUser } from "./lib/browser.mjs";
import { mkdirSync } from "node:fs";
mkdirSync("/tmp/e2e-idle", { recursive: true });
const stack = new Stack({ buildDir: "/work/main/build", webRoot: "/work/main/web/dist", logDir: "/tmp/e2e-idle" });
await stack.start();
const b = await launchBrowser();
const u = await BrowserUser.open(b, stack.baseUrl);
await u.register("idler");
const g = new GrpcUser("/work/main", stack.coreAddr, "grpcidle"); await g.register(); await g.createRoom("idle"); g.connect(); await g.join("idle");
const t0 = Date.now();
let last = 0;
while (Date.now() - t0 < 90_000) {
  const s = await stack.health();
  if (s !== last) { console.log(((Date.now()-t0)/1000).toFixed(1), "healthz", s); last = s; }
  if (Date.now() - t0 > 5000 && g.stream) { g.stream.cancel(); g.stream = null; console.log("cancelled grpc stream"); }
  await new Promise(r => setTimeout(r, 500));
}
await b.close(); g.close(); await stack.stop();
