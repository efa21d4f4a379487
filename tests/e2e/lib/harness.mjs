// What a scenario gets: the running stack, the browser, factories for
// browser users and gRPC clients (closed after the scenario), unique names,
// screenshots and small assertion helpers.

import assert from "node:assert/strict";
import { join } from "node:path";
import { BrowserUser, DESKTOP } from "./browser.mjs";
import { GrpcUser } from "./grpc.mjs";
import { ADMIN } from "./stack.mjs";

let counter = 0;
/** The server admin's account (Stack's --admins) exists: later scenarios log in. */
let adminRegistered = false;

export class Harness {
  constructor({ stack, browser, repoRoot, artifacts, scenario }) {
    this.stack = stack;
    this.browser = browser;
    this.repoRoot = repoRoot;
    this.artifacts = artifacts;
    this.scenario = scenario;
    this.users = [];
    this.grpcs = [];
    this.contexts = [];
  }

  get baseUrl() {
    return this.stack.baseUrl;
  }

  /** A unique name: prefix + a counter, at most max long (usernames: 3-32 of [a-zA-Z0-9_.-]; rooms: 1-64 of [a-z0-9._-]). */
  name(prefix, max = 32) {
    counter += 1;
    const n = String(counter);
    return `${prefix.toLowerCase().slice(0, max - n.length)}${n}`;
  }

  /** A browser user on the login screen (own context: cookies, storage). */
  async user({ viewport = DESKTOP, colorScheme = "light" } = {}) {
    const u = await BrowserUser.open(this.browser, this.baseUrl, { viewport, colorScheme });
    this.users.push(u);
    return u;
  }

  /** A browser user with a new account, logged in, on the chat screen (the account made through /api/register). */
  async registered(prefix, { viewport = DESKTOP, colorScheme = "light" } = {}) {
    const u = await BrowserUser.open(this.browser, this.baseUrl, { viewport, colorScheme, registerAs: this.name(prefix) });
    this.users.push(u);
    return u;
  }

  /**
   * The server admin (chat-core --admins, lib/stack.mjs ADMIN) in the browser:
   * registered through the API by the first scenario that asks, logged in
   * through the login form after that (whose answer does not say "admin": the
   * UI must ask /api/me).
   */
  async admin({ viewport = DESKTOP, colorScheme = "light" } = {}) {
    if (!adminRegistered) {
      const u = await BrowserUser.open(this.browser, this.baseUrl, { viewport, colorScheme, registerAs: ADMIN });
      this.users.push(u);
      adminRegistered = true;
      return u;
    }
    const u = await this.user({ viewport, colorScheme });
    await u.login(ADMIN);
    return u;
  }

  /** A browser user registered by typing into the login screen. */
  async registeredViaForm(prefix, opts = {}) {
    const u = await this.user(opts);
    await u.register(this.name(prefix));
    return u;
  }

  /** A bare browser context (for checks without the helper), closed after the scenario. */
  async context(opts = {}) {
    const ctx = await this.browser.newContext({ viewport: DESKTOP, baseURL: this.baseUrl, ...opts });
    ctx.setDefaultTimeout(10_000);
    this.contexts.push(ctx);
    return ctx;
  }

  /** A registered, logged-in gRPC client of chat-core. */
  async grpc(prefix) {
    const g = new GrpcUser(this.repoRoot, this.stack.coreAddr, this.name(prefix));
    this.grpcs.push(g);
    await g.register();
    return g;
  }

  async shot(page, file, opts = {}) {
    await page.screenshot({ path: join(this.artifacts, file), ...opts });
  }

  assertNoPageErrors() {
    const errors = this.users.flatMap((u) => u.pageErrors.map((e) => `${u.username}: ${e}`));
    assert.deepEqual(errors, [], "uncaught errors in the page");
  }

  async failureScreenshots() {
    let i = 0;
    for (const u of this.users) {
      i += 1;
      try {
        await u.page.screenshot({ path: join(this.artifacts, `FAILED-${this.scenario}-${i}-${u.username || "anon"}.png`), timeout: 3000 });
      } catch {
        /* page gone */
      }
    }
  }

  async cleanup() {
    for (const u of this.users) await u.close();
    for (const c of this.contexts) await c.close().catch(() => {});
    for (const g of this.grpcs) g.close();
    this.users = [];
    this.contexts = [];
    this.grpcs = [];
  }
}

/**
 * Retries an async assertion until it passes (like expect.toPass): for
 * conditions no locator expresses. Polls; never a fixed sleep.
 */
export async function eventually(fn, { timeout = 10_000, interval = 50, what = "condition" } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) {
        err.message = `${what} still failing after ${timeout} ms: ${err.message}`;
        throw err;
      }
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
