// Issue #29: registration by invitation (and closed registration) on a
// second stack started with --registration=invite, and screenshots of the
// settings screen at desktop (1280×800) and phone (390×844) width, light and
// dark, into tests/e2e/artifacts/accounts-*.png, with the layout checks that
// hold on each (nothing off screen, no sideways scrolling).

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BrowserUser, DESKTOP, PHONE } from "../lib/browser.mjs";
import { ADMIN, Stack } from "../lib/stack.mjs";
import { PASSWORD, authorOf, closeSettings, createBot, createToken, createWebhook, openSettings, setDisplayName } from "../lib/accounts.mjs";
import { eventually } from "../lib/harness.mjs";

const VIEWPORTS = { desktop: DESKTOP, phone: PHONE };
const SCHEMES = ["light", "dark"];

/** Layout problems of the settings page, as strings (empty when fine). */
function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    if (document.scrollingElement.scrollWidth > vw + 1) problems.push("page scrolls sideways");
    const d = document.querySelector('[data-testid="settings"]');
    if (!d) return ["no settings page"];
    const r = d.getBoundingClientRect();
    if (r.left < -1 || r.right > vw + 1 || r.top < -1 || r.bottom > vh + 1) problems.push("settings page off screen");
    const content = d.querySelector(".settings-content");
    if (content && content.scrollWidth > content.clientWidth + 1) problems.push("settings content scrolls sideways");
    for (const el of d.querySelectorAll(".settings-content button, .settings-content input, .settings-content select")) {
      const b = el.getBoundingClientRect();
      if (b.width > 0 && (b.left < r.left - 1 || b.right > r.right + 1)) problems.push(`${el.dataset.testid || el.textContent} sticks out`);
    }
    return problems;
  });
}

/** Restarts the stack's chat-core with other flags (same database). */
async function restartCore(stack, coreArgs) {
  stack.coreArgs = coreArgs;
  await stack.killCore();
  await stack.ensureUp();
}

export const scenarios = [
  {
    name: "registration: invite mode asks for a code (refused without, works once with one); closed mode offers none",
    timeout: 120_000,
    async run(h) {
      const stack = new Stack({ buildDir: h.stack.buildDir, webRoot: h.stack.webRoot, logDir: join(h.artifacts, "logs", "invite") });
      mkdirSync(stack.logDir, { recursive: true });
      const open = async (opts = {}) => {
        const u = await BrowserUser.open(h.browser, stack.baseUrl, opts);
        h.users.push(u);
        return u;
      };
      try {
        // The admin registers while registration is open, then the server goes invite-only.
        await stack.start();
        await stack.ensureUp();
        const admin = await open({ registerAs: ADMIN });
        await admin.close();
        await restartCore(stack, ["--registration=invite"]);

        const v = await open();
        const p = v.page;
        await p.getByTestId("invite-code-input").waitFor();
        const name = h.name("invitee");
        await p.getByTestId("login-username").fill(name);
        await p.getByTestId("login-password").fill(PASSWORD);
        // Without a code: the form says so before asking the server...
        await p.getByTestId("register-submit").click();
        assert.match(await p.getByTestId("auth-error").textContent(), /invite code/i);
        // ...and the server refuses too.
        const bare = await v.ctx.request.post("/api/register", { data: { username: name, password: PASSWORD } });
        assert.ok(!bare.ok(), `register without a code: ${bare.status()}`);
        assert.match((await bare.json()).message, /invitation/);
        // A made-up code: the server's refusal is shown.
        await p.getByTestId("invite-code-input").fill("not-a-real-code");
        await p.getByTestId("register-submit").click();
        await p.getByTestId("auth-error").filter({ hasNotText: /Enter the invite code/ }).waitFor();
        assert.equal(await p.getByTestId("current-user").count(), 0);

        // The admin makes a code in the settings.
        const a = await open();
        await a.login(ADMIN);
        await openSettings(a, "invites");
        await a.page.getByTestId("invite-create").click();
        const code = (await a.page.getByTestId("invite-code").textContent()).trim();
        assert.match(code, /^[A-Za-z0-9_-]{16,}$/);
        assert.match(await a.page.getByTestId("invite-code-warning").textContent(), /will not see it again/);

        await p.getByTestId("invite-code-input").fill(code);
        await p.getByTestId("register-submit").click();
        await v.waitChat();
        v.username = name;
        // Used up: a second registration with it fails.
        const twice = await a.ctx.request.post("/api/register", { data: { username: h.name("second"), password: PASSWORD, inviteCode: code } });
        assert.ok(!twice.ok(), `the code twice: ${twice.status()}`);
        // A user (no --users_may_invite) has no invite codes tab.
        await openSettings(v, "profile");
        assert.equal(await p.getByTestId("settings-tab-invites").count(), 0);
        await h.shot(a.page, "accounts-invite-code.png");

        // Closed: no registration offered, and the form says why.
        await restartCore(stack, ["--registration=closed"]);
        const w = await open();
        await w.page.getByTestId("registration-closed").waitFor();
        assert.equal(await w.page.getByTestId("register-submit").count(), 0);
        await w.login(name);
      } finally {
        await stack.stop().catch(() => {});
      }
    },
  },

  {
    name: "screenshots: settings (profile, sessions, bots, API tokens, webhooks, delete) and bot/display-name messages",
    timeout: 180_000,
    async run(h) {
      const owner = await h.registered("maria");
      const room = h.name("deploys.");
      await owner.createRoom(room);
      await setDisplayName(owner, "Maria Oliveira");
      const bot = h.name("deploy.bot");
      await createBot(owner, bot);
      await createToken(owner, { name: "github-actions", account: bot, rooms: room, actions: ["read", "post"] });
      await owner.page.getByTestId("token-secret-done").click();
      const { curl } = await createWebhook(owner, { room, bot, name: "CI alerts" });
      await owner.page.getByTestId("webhook-url-done").click();
      await closeSettings(owner);
      await owner.send("Rollout of 2.4 starts at 14:00 UTC.");
      const url = curl.match(/'(http[^']+)'$/)[1];
      const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: "✅ build 2.4.0-rc.3 passed on main" }) });
      assert.equal(res.status, 200);

      // How others see it: a display name, a bot badge.
      const viewer = await h.registered("sam");
      await viewer.waitRoomListed(room);
      await viewer.selectRoom(room);
      await viewer.settled(2);
      assert.equal((await authorOf(viewer, "✅ build 2.4.0-rc.3 passed on main")).bot, true);
      // The display name comes with the profile lookup, after the message is shown.
      await eventually(async () => {
        assert.equal((await authorOf(viewer, "Rollout of 2.4 starts at 14:00 UTC.")).name, "Maria Oliveira");
      }, { what: "the owner's display name" });
      await h.shot(viewer.page, "accounts-messages.png");

      for (const [vpName, viewport] of Object.entries(VIEWPORTS)) {
        for (const scheme of SCHEMES) {
          const tag = `accounts-${vpName}-${scheme}`;
          const u = await h.user({ viewport, colorScheme: scheme });
          await u.login(owner.username);
          for (const tab of ["profile", "sessions", "bots", "tokens", "webhooks", "delete"]) {
            await openSettings(u, tab);
            // Lists are loaded (or the section has none).
            await u.page.locator(`[data-testid="settings-section-${tab}"] [aria-busy="true"]`).waitFor({ state: "detached" });
            await h.shot(u.page, `${tag}-${tab}.png`);
            assert.deepEqual(await layoutProblems(u.page), [], `${tag} ${tab}`);
          }
          await u.close();
        }
      }
    },
  },
];
