#!/usr/bin/env node
// Browser end-to-end tests of the chat UI against the real binaries.
//
//   node tests/e2e/run.mjs --build-dir build [--only REGEX] [--list]
//
// Starts fresh chat-core + ws-bridge processes (free ports, a temp dir), runs
// every scenario in Debian's chromium (playwright-core, never a downloaded
// browser), stops the processes, writes screenshots to tests/e2e/artifacts/,
// and ends with one line: "e2e: N passed, M failed" (exit status 1 on failure).
//
// The web UI must be built first (web/dist; scripts/build-web does it).

import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Stack } from "./lib/stack.mjs";
import { launchBrowser } from "./lib/browser.mjs";
import { Harness } from "./lib/harness.mjs";
import { scenarios as coreScenarios } from "./scenarios/core.mjs";
import { scenarios as uiScenarios } from "./scenarios/ui.mjs";
import { scenarios as screenScenarios } from "./scenarios/screens.mjs";
import { scenarios as tlsScenarios } from "./scenarios/tls.mjs";
import { scenarios as memberScenarios } from "./scenarios/members.mjs";
import { scenarios as memberScreenScenarios } from "./scenarios/members-screens.mjs";
import { scenarios as accountScenarios } from "./scenarios/accounts.mjs";
import { scenarios as accountScreenScenarios } from "./scenarios/accounts-screens.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..", "..");

const { values: args } = parseArgs({
  options: {
    "build-dir": { type: "string", default: "build" },
    // The built UI to serve (default: web/dist of this checkout).
    "web-root": { type: "string" },
    // Where screenshots and logs go (default: tests/e2e/artifacts).
    artifacts: { type: "string" },
    only: { type: "string" },
    list: { type: "boolean", default: false },
  },
});

const all = [
  ...coreScenarios,
  ...uiScenarios,
  ...screenScenarios,
  ...tlsScenarios,
  ...memberScenarios,
  ...memberScreenScenarios,
  ...accountScenarios,
  ...accountScreenScenarios,
];
if (args.list) {
  for (const s of all) console.log(s.name);
  process.exit(0);
}
const only = args.only ? new RegExp(args.only) : null;
const selected = all.filter((s) => !only || only.test(s.name));

const buildDir = isAbsolute(args["build-dir"]) ? args["build-dir"] : resolve(repoRoot, args["build-dir"]);
const webRoot = args["web-root"] ? resolve(args["web-root"]) : join(repoRoot, "web", "dist");
const artifacts = args.artifacts ? resolve(args.artifacts) : join(here, "artifacts");

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

function fmtMs(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main() {
  if (!existsSync(join(webRoot, "index.html"))) {
    console.error(`e2e: ${webRoot}/index.html is missing: build the UI first (scripts/build-web)`);
    console.log(`e2e: 0 passed, ${selected.length} failed`);
    return 1;
  }
  if (!args["web-root"] && newestMtime(join(repoRoot, "web", "src")) > statSync(join(webRoot, "index.html")).mtimeMs) {
    console.error("e2e: warning: web/src is newer than web/dist: testing an old build (run scripts/build-web)");
  }
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(join(artifacts, "logs"), { recursive: true });

  const started = Date.now();
  const stack = new Stack({ buildDir, webRoot, logDir: join(artifacts, "logs") });
  let browser = null;
  let passed = 0;
  let failed = 0;
  try {
    await stack.start();
    browser = await launchBrowser();
    console.error(`e2e: chat-core ${stack.coreAddr}, ws-bridge ${stack.baseUrl}, chromium ${browser.version()}`);
    for (const s of selected) {
      const h = new Harness({ stack, browser, repoRoot, artifacts, scenario: s.name });
      const t0 = Date.now();
      const exitsBefore = stack.unexpectedExits.length;
      let error = null;
      let timer;
      try {
        const running = s.run(h);
        running.catch(() => {}); // after a timeout it may still reject: not an unhandled rejection
        await Promise.race([
          running,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${fmtMs(s.timeout ?? 30_000)}`)), s.timeout ?? 30_000);
          }),
        ]);
        h.assertNoPageErrors();
      } catch (err) {
        error = err;
      } finally {
        clearTimeout(timer);
      }
      if (error) await h.failureScreenshots();
      await h.cleanup();
      const took = fmtMs(Date.now() - t0);
      if (error) {
        failed += 1;
        console.log(`FAIL ${s.name} (${took})`);
        console.log(`     ${String(error.stack || error).split("\n").slice(0, 6).join("\n     ")}`);
        for (const e of stack.unexpectedExits.slice(exitsBefore)) console.log(`     meanwhile: ${e}`);
      } else {
        passed += 1;
        console.log(`ok   ${s.name} (${took})`);
      }
      // A scenario that broke the stack (e.g. chat-core left down) must not fail the next ones.
      await stack.ensureUp();
    }
  } catch (err) {
    console.error(`e2e: setup failed: ${err.stack || err}`);
    failed += Math.max(1, selected.length - passed - failed);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stack.stop().catch(() => {});
  }
  console.error(`e2e: ${fmtMs(Date.now() - started)} in all; screenshots in ${artifacts}`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

// A late rejection from a scenario that already failed or timed out must not end the run.
process.on("unhandledRejection", (err) => console.error(`e2e: late error (ignored): ${err?.message ?? err}`));

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    console.log("e2e: 0 passed, 1 failed");
    process.exit(1);
  },
);
