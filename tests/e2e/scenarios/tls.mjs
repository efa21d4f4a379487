// HTTPS and WSS in a real Chromium that trusts the test CA (put in its NSS
// database, as an operator's own CA would be), with the bridge reaching
// chat-core over mTLS: a stack of its own, with certificates made by
// tests/testing/make-test-certs.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { BrowserUser, CHROMIUM, CHROMIUM_ARGS } from "../lib/browser.mjs";
import { Stack } from "../lib/stack.mjs";
import { GrpcUser } from "../lib/grpc.mjs";
import { eventually } from "../lib/harness.mjs";

export const scenarios = [
  {
    name: "https: two browsers chat over TLS on every hop (test CA trusted by chromium)",
    timeout: 60_000,
    async run(h) {
      const dir = mkdtempSync(join(tmpdir(), "chat-e2e-tls-"));
      const certs = join(dir, "certs");
      const home = join(dir, "home");
      let stack = null;
      let browser = null;
      try {
        execFileSync(join(h.repoRoot, "tests/testing/make-test-certs"), [certs]);
        // Chromium on Linux trusts the CAs of $HOME/.pki/nssdb.
        const db = `sql:${join(home, ".pki", "nssdb")}`;
        mkdirSync(join(home, ".pki", "nssdb"), { recursive: true });
        execFileSync("certutil", ["-d", db, "-N", "--empty-password"]);
        execFileSync("certutil", ["-d", db, "-A", "-t", "C,,", "-n", "chat test CA", "-i", join(certs, "ca.pem")]);

        stack = new Stack({ buildDir: h.stack.buildDir, webRoot: h.stack.webRoot, logDir: join(h.artifacts, "logs", "tls"), tls: certs });
        mkdirSync(stack.logDir, { recursive: true });
        await stack.start();
        await stack.ensureUp();
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: CHROMIUM_ARGS,
          headless: true,
          env: { ...process.env, HOME: home },
        });
        const a = await BrowserUser.open(browser, stack.baseUrl);
        const b = await BrowserUser.open(browser, stack.baseUrl);
        assert.match(a.page.url(), /^https:\/\/localhost:\d+\//);
        await a.register(h.name("tlsA"));
        await b.register(h.name("tlsB"));
        // The session cookie is Secure and HttpOnly; the page's socket is wss.
        const cookies = await a.ctx.cookies();
        const session = cookies.find((c) => c.name === "__Host-chat_session");
        assert.ok(session?.secure && session?.httpOnly, `cookie ${JSON.stringify(session)}`);
        const socketUrl = await a.page.evaluate(() => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
        assert.match(socketUrl, /^wss:/);
        const res = await a.page.evaluate(async () => {
          const r = await fetch("/healthz");
          return { status: r.status, hsts: r.headers.get("strict-transport-security") };
        });
        assert.deepEqual(res, { status: 200, hsts: "max-age=3600" });

        await a.send("sent over https");
        await eventually(async () => {
          const got = (await b.rendered()).map((m) => m.text);
          assert.ok(got.includes("sent over https"), `b sees ${JSON.stringify(got)}`);
        }, { what: "the message over TLS" });
        // npm's @grpc/grpc-js to chat-core's TLS port, with a client certificate
        // (this chat-core requires one), into the browsers' room.
        const native = new GrpcUser(h.repoRoot, `localhost:${stack.coreAddr.split(":").pop()}`, h.name("tlsG"),
          undefined, {
            ca: readFileSync(join(certs, "ca.pem")),
            key: readFileSync(join(certs, "client.key")),
            cert: readFileSync(join(certs, "client.pem")),
          });
        await native.register();
        await native.login();
        await native.send("lobby", "sent by grpc-js over mTLS");
        native.close();
        await eventually(async () => {
          const got = (await b.rendered()).map((m) => m.text);
          assert.ok(got.includes("sent by grpc-js over mTLS"), `b sees ${JSON.stringify(got)}`);
        }, { what: "the grpc-js message" });
        await h.shot(b.page, "tls-chat.png");
        await a.close();
        await b.close();

        // The control: a Chromium without the test CA refuses the same page.
        const untrusting = await chromium.launch({
          executablePath: CHROMIUM,
          args: CHROMIUM_ARGS,
          headless: true,
          env: { ...process.env, HOME: join(dir, "empty-home") },
        });
        try {
          const page = await (await untrusting.newContext()).newPage();
          await assert.rejects(page.goto(stack.baseUrl), /ERR_CERT_AUTHORITY_INVALID/);
        } finally {
          await untrusting.close().catch(() => {});
        }
      } finally {
        if (browser) await browser.close().catch(() => {});
        if (stack) await stack.stop().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
