// Issue #29 in the browser: the settings screen against the real servers.
// Display names in messages, changing the password ends the other sessions,
// the session list (revoke one, all others), a bot with an API token whose
// secret is shown once and works over gRPC, a webhook whose URL and curl
// example post as the bot (with its badge), and deleting an account ("deleted
// user", the name stays taken).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { GrpcUser } from "../lib/grpc.mjs";
import { eventually } from "../lib/harness.mjs";
import {
  PASSWORD,
  authorOf,
  closeSettings,
  createBot,
  createToken,
  createWebhook,
  openSettings,
  setDisplayName,
  waitLoginScreen,
} from "../lib/accounts.mjs";

const NEW_PASSWORD = "battery-staple-42";
const GRPC = { PERMISSION_DENIED: 7, UNAUTHENTICATED: 16 };

/** Fills the login form and presses a button, without waiting for the chat (for refusals). */
async function tryAuth(u, username, password, button = "login-submit") {
  const p = u.page;
  await p.getByTestId("login-username").fill(username);
  await p.getByTestId("login-password").fill(password);
  await p.getByTestId(button).click();
  await p.getByTestId("auth-error").waitFor();
  assert.equal(await p.getByTestId("current-user").count(), 0, "still on the login screen");
  return (await p.getByTestId("auth-error").textContent()).trim();
}

/** Is the page on the login screen now? */
function onLoginScreen(u) {
  return u.page.getByTestId("login-form").isVisible();
}

export const scenarios = [
  {
    name: "settings: a display name shows beside the username in others' messages",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("alice");
      const bob = await h.registered("bob");
      const room = h.name("names");
      await alice.createRoom(room);
      await setDisplayName(alice, "Alice Wonderland");
      await closeSettings(alice);
      // Her own corner shows it at once (the answer of UpdateProfile).
      await alice.page.getByTestId("current-display-name").filter({ hasText: "Alice Wonderland" }).waitFor({ state: "attached" });
      await alice.send("hello from alice");
      await alice.settled(1);
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);
      await eventually(async () => {
        const a = await authorOf(bob, "hello from alice");
        assert.deepEqual([a.author, a.name, a.handle, a.bot], [alice.username, "Alice Wonderland", `@${alice.username}`, false]);
      }, { what: "display name beside the username" });

      // Cleared: the username alone again (a reload starts bob's cache afresh).
      await setDisplayName(alice, "");
      await bob.page.reload();
      await bob.waitChat();
      await bob.selectRoom(room);
      await eventually(async () => {
        const a = await authorOf(bob, "hello from alice");
        assert.deepEqual([a.name, a.handle], [alice.username, ""]);
      }, { what: "username alone" });
    },
  },

  {
    name: "settings: changing the password signs out the other session, not this one",
    timeout: 60_000,
    async run(h) {
      const a1 = await h.registered("pw");
      const a2 = await h.user();
      await a2.login(a1.username);
      await openSettings(a1, "password");
      const p = a1.page;
      // The form's own checks first.
      await p.getByTestId("password-old").fill(PASSWORD);
      await p.getByTestId("password-new").fill(NEW_PASSWORD);
      await p.getByTestId("password-confirm").fill(`${NEW_PASSWORD}x`);
      await p.getByTestId("password-save").click();
      assert.match(await p.getByTestId("password-error").textContent(), /do not match/);
      // A wrong current password: the server says no.
      await p.getByTestId("password-old").fill("not-my-password");
      await p.getByTestId("password-confirm").fill(NEW_PASSWORD);
      await p.getByTestId("password-save").click();
      await p.getByTestId("password-error").filter({ hasNotText: /do not match/ }).waitFor();
      assert.equal(await onLoginScreen(a2), false, "a refused change ends nothing");

      await p.getByTestId("password-old").fill(PASSWORD);
      await p.getByTestId("password-save").click();
      assert.match(await p.getByTestId("password-result").textContent(), /Password changed\. 1 other session was signed out\./);
      await waitLoginScreen(a2, 15_000);
      // This one goes on.
      await closeSettings(a1);
      await a1.createRoom(h.name("pw-room"));
      await a1.send("still here");
      await a1.settled(1);
      // The old password no longer works, the new one does.
      const a3 = await h.user();
      assert.ok((await tryAuth(a3, a1.username, PASSWORD)).length > 0);
      await a3.login(a1.username, NEW_PASSWORD);
    },
  },

  {
    name: "settings: the session list; revoke one session, then all others",
    timeout: 60_000,
    async run(h) {
      const a1 = await h.registered("sess");
      const a2 = await h.user();
      await a2.login(a1.username);
      const a3 = await h.user();
      await a3.login(a1.username);
      await openSettings(a1, "sessions");
      const p = a1.page;
      const items = p.getByTestId("session-item");
      await eventually(async () => assert.equal(await items.count(), 3), { what: "three sessions listed" });
      const current = p.locator('[data-testid="session-item"][data-current="true"]');
      assert.equal(await current.count(), 1);
      assert.match(await current.textContent(), /This browser/);
      // Logged in through the form: the browser named itself (User-Agent).
      const others = p.locator('[data-testid="session-item"]:not([data-current])');
      assert.match(await others.first().locator(".settings-item-title").getAttribute("title"), /Chrome/);
      assert.match(await others.first().textContent(), /From 127\.0\.0\.1/);

      await others.first().getByTestId("session-revoke").click();
      await p.getByTestId("sessions-result").waitFor();
      await eventually(async () => {
        const out = [await onLoginScreen(a2), await onLoginScreen(a3)];
        assert.equal(out.filter(Boolean).length, 1, `signed out: ${out}`);
      }, { timeout: 15_000, what: "exactly one other browser signed out" });
      await eventually(async () => assert.equal(await items.count(), 2), { what: "two sessions left" });

      await p.getByTestId("sessions-revoke-others").click();
      await p.getByTestId("sessions-revoke-others-confirm").click();
      await p.getByTestId("sessions-result").filter({ hasText: "1 other session was signed out." }).waitFor();
      await waitLoginScreen(a2, 15_000);
      await waitLoginScreen(a3, 15_000);
      await eventually(async () => assert.equal(await items.count(), 1), { what: "only this session left" });
      await closeSettings(a1);
      await a1.createRoom(h.name("sess-room"));
      await a1.send("still signed in");
      await a1.settled(1);
    },
  },

  {
    name: "settings: a bot and its API token (secret shown once) post over gRPC with a bot badge; revoked, refused",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("tok");
      const room = h.name("botroom");
      await alice.createRoom(room);
      const bot = h.name("ci.bot");
      await createBot(alice, bot);
      const secret = await createToken(alice, { name: "ci", account: bot, rooms: room, actions: ["read", "post"] });
      const p = alice.page;
      assert.match(await p.getByTestId("token-secret-warning").textContent(), /will not see it again/);
      await p.getByTestId("token-secret-done").click();
      await p.getByTestId("token-secret").waitFor({ state: "detached" });
      assert.ok(!(await p.content()).includes(secret), "the secret is not on the page any more");
      const item = p.locator(`[data-testid="token-item"][data-name="ci"][data-account="${bot}"]`);
      await item.waitFor();
      assert.match(await item.textContent(), new RegExp(`May read, post in #${room.replace(/\./g, "\\.")}`));

      // The token works over gRPC, as the bot; its message carries the badge.
      const g = new GrpcUser(h.repoRoot, h.stack.coreAddr, bot);
      h.grpcs.push(g);
      g.token = secret;
      await g.send(room, "deployed build 42");
      await closeSettings(alice);
      await eventually(async () => {
        const a = await authorOf(alice, "deployed build 42");
        assert.deepEqual([a.author, a.bot], [bot, true]);
      }, { what: "the bot's message with its badge" });
      // Outside its rooms: refused, saying why.
      await assert.rejects(g.send("lobby", "not here", { retryMs: 0 }), (e) => e.code === GRPC.PERMISSION_DENIED && /limited to rooms/.test(e.details));

      // Revoked in the UI: refused.
      await openSettings(alice, "tokens");
      await item.getByTestId("token-revoke").click();
      await item.getByTestId("token-revoke-confirm").click();
      await item.waitFor({ state: "detached" });
      await eventually(
        () => assert.rejects(g.send(room, "after the revocation", { retryMs: 0 }), (e) => e.code === GRPC.UNAUTHENTICATED),
        { what: "a revoked token refused" },
      );
    },
  },

  {
    name: "settings: a webhook's URL and curl example post into the room as the bot, with its badge",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("hook");
      const bob = await h.registered("watch");
      const room = h.name("alerts");
      await alice.createRoom(room);
      const bot = h.name("hook.bot");
      await createBot(alice, bot);
      const { url, curl } = await createWebhook(alice, { room, bot, name: "CI" });
      assert.ok(url.startsWith(`${h.baseUrl}/api/hooks/`), url);
      assert.ok(curl.includes(url), "the curl example posts to the URL");
      const [id, secret] = url.slice(`${h.baseUrl}/api/hooks/`.length).split("/");
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);

      // The curl example exactly as shown.
      const out = JSON.parse(execFileSync("sh", ["-c", `${curl} --silent --show-error --fail`], { encoding: "utf8" }));
      assert.equal(out.ok, true);
      assert.equal(out.room, room);
      // The secret in a header works too; a wrong one does not.
      const post = (path, headers, text) =>
        fetch(`${h.baseUrl}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify({ text }) });
      assert.equal((await post(`/api/hooks/${id}`, { "X-Chat-Webhook-Secret": secret }, "build 7 failed")).status, 200);
      assert.equal((await post(`/api/hooks/${id}/not-the-secret`, {}, "nope")).status, 403);

      for (const text of ["Hello from a webhook", "build 7 failed"]) {
        await eventually(async () => {
          const a = await authorOf(bob, text);
          assert.deepEqual([a.author, a.bot], [bot, true]);
        }, { what: `"${text}" from the bot` });
      }

      // Revoked: the URL is gone.
      const p = alice.page;
      await p.getByTestId("webhook-url-done").click();
      const item = p.locator(`[data-testid="webhook-item"][data-id="${id}"]`);
      await item.getByTestId("webhook-revoke").click();
      await item.getByTestId("webhook-revoke-confirm").click();
      await item.waitFor({ state: "detached" });
      assert.equal((await post(`/api/hooks/${id}/${secret}`, {}, "after")).status, 404);
    },
  },

  {
    name: 'settings: delete account; its messages show "deleted user" and its name cannot be registered again',
    timeout: 60_000,
    async run(h) {
      const carol = await h.registered("carol");
      const bob = await h.registered("bobdel");
      const room = h.name("gone");
      await carol.createRoom(room);
      await carol.send("carol was here");
      await carol.settled(1);
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);
      await eventually(async () => {
        assert.equal((await authorOf(bob, "carol was here")).name, carol.username);
      }, { what: "carol's name" });

      await openSettings(carol, "delete");
      const p = carol.page;
      await p.getByTestId("delete-password").fill(PASSWORD);
      await p.getByTestId("delete-account").click();
      assert.match(await p.getByTestId("delete-error").textContent(), /Type your username/);
      await p.getByTestId("delete-confirm-name").fill(carol.username);
      await p.getByTestId("delete-account").click();
      await waitLoginScreen(carol);
      assert.match(await p.getByTestId("auth-notice").textContent(), /account was deleted/);

      await bob.page.reload();
      await bob.waitChat();
      await bob.selectRoom(room);
      await eventually(async () => {
        const a = await authorOf(bob, "carol was here");
        assert.deepEqual([a.author, a.name, a.deleted], [carol.username, "deleted user", true]);
        assert.ok(a.title.includes(carol.username), a.title);
      }, { what: '"deleted user"' });

      // The name stays taken, and the account cannot log in.
      assert.match(await tryAuth(await h.user(), carol.username, PASSWORD, "register-submit"), /taken|exists/i);
      assert.ok((await tryAuth(await h.user(), carol.username, PASSWORD)).length > 0);
    },
  },
];
