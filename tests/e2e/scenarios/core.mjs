// The scenarios of the issue: ordering across browsers and gRPC, reload,
// logout, resume after a chat-core restart (ws-bridge's fail-over when
// chat-core is back in time; the browsers' own reconnect when it is not).

import assert from "node:assert/strict";
import { FAILOVER_SECONDS } from "../lib/stack.mjs";

/** The comparable part of a message: seq, author, text. */
const key = (m) => ({ seq: m.seq, author: m.author, text: m.text });

function assertStrictlyAscending(list, what) {
  for (let i = 1; i < list.length; i++) {
    assert.ok(list[i].seq > list[i - 1].seq, `${what}: seq ${list[i].seq} after ${list[i - 1].seq} at #${i}`);
  }
}

/** Opens a WebSocket to /ws from the page and reports whether it opened (and the close code). */
function probeWebSocket(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
        let opened = false;
        const t = setTimeout(() => resolve({ opened, code: -1 }), 5000);
        ws.onopen = () => {
          opened = true;
          ws.send(JSON.stringify({ ref: "probe", listRooms: {} }));
        };
        ws.onmessage = (e) => {
          clearTimeout(t);
          ws.close();
          resolve({ opened, code: 0, data: String(e.data).slice(0, 200) });
        };
        ws.onclose = (e) => {
          clearTimeout(t);
          resolve({ opened, code: e.code });
        };
      }),
  );
}

/**
 * A gRPC poster, a room and a second one (joined by the UI for its unread
 * count, not in view), and two browsers with the room in view: the opening of
 * the restart scenarios.
 */
async function twoBrowsersInARoom(h, prefix) {
  const bot = await h.grpc("poster");
  const room = h.name(prefix);
  const side = h.name("side");
  await bot.createRoom(room);
  await bot.createRoom(side);
  const [alice, bob] = await Promise.all([h.registered("alice"), h.registered("bob")]);
  await Promise.all([alice.selectRoom(room), bob.selectRoom(room)]);
  return { bot, room, side, alice, bob };
}

/**
 * After a restart: both browsers hold exactly what chat-core stored (`total`
 * messages), in order, and the rest of the state came back too: who is here,
 * and the unread count of the room not in view (2).
 */
async function expectBothCaughtUp({ bot, room, side, alice, bob }, total) {
  const [a, b] = await Promise.all([alice.settled(total, 30_000), bob.settled(total, 30_000)]);
  const stored = (await bot.allMessages(room)).map(key);
  assert.equal(stored.length, total, "chat-core stored every message once");
  assert.deepEqual(a.map(key), stored, "alice: every message exactly once, in order");
  assert.deepEqual(b.map(key), stored, "bob: every message exactly once, in order");
  assertStrictlyAscending(a, "alice");
  for (const u of [alice, bob]) {
    await u.page.locator('[data-testid="member-count"]:text-is("2")').waitFor();
    for (const who of [alice, bob]) await u.page.locator(`[data-testid="presence-member"][data-user="${who.username}"]`).waitFor();
    await u.page.locator(`[data-testid="unread-${side}"]:text-is("2")`).waitFor();
  }
}

export const scenarios = [
  {
    name: "order: two browsers and a gRPC client see the same messages in the same order",
    timeout: 45_000,
    async run(h) {
      const bot = await h.grpc("grpc");
      const room = h.name("order");
      await bot.createRoom(room);
      bot.connect();
      await bot.join(room);
      // One registers through the login screen, the other through the API.
      const [alice, bob] = await Promise.all([h.registeredViaForm("alice"), h.registered("bob")]);
      await Promise.all([alice.selectRoom(room), bob.selectRoom(room)]);

      // All three post at the same time, interleaving.
      const N = 6;
      await Promise.all([
        (async () => {
          for (let i = 0; i < N; i++) await alice.send(`from alice #${i}`);
        })(),
        (async () => {
          for (let i = 0; i < N; i++) await bob.send(`from bob #${i}`);
        })(),
        (async () => {
          for (let i = 0; i < N; i++) await bot.send(room, `from grpc #${i}`);
        })(),
      ]);
      const total = 3 * N;
      await bot.waitMessages(room, total);
      const viaGrpc = bot.messagesIn(room).map(key);
      assert.equal(viaGrpc.length, total, "the gRPC stream got every message once");
      assertStrictlyAscending(viaGrpc, "gRPC stream");
      assert.deepEqual(
        viaGrpc.map((m) => m.seq),
        Array.from({ length: total }, (_, i) => i + 1),
        "seqs 1..N without gaps",
      );
      const [a, b] = await Promise.all([alice.settled(total), bob.settled(total)]);
      assert.deepEqual(a.map(key), viaGrpc, "alice's browser shows the gRPC client's sequence");
      assert.deepEqual(b.map(key), viaGrpc, "bob's browser shows the gRPC client's sequence");
      // Each sender's own messages keep the order they were typed in.
      for (const who of [alice.username, bob.username, bot.username]) {
        const mine = viaGrpc.filter((m) => m.author === who).map((m) => m.text.replace(/^from \w+ /, ""));
        assert.deepEqual(mine, Array.from({ length: N }, (_, i) => `#${i}`), `${who}'s messages in typing order`);
      }
    },
  },

  {
    name: "reload keeps the login, the room in view and its history",
    timeout: 30_000,
    async run(h) {
      const alice = await h.registeredViaForm("reload");
      const room = h.name("keep");
      await alice.createRoom(room);
      for (const t of ["one", "two", "three"]) await alice.send(t);
      const before = await alice.settled(3);

      // The session cookie is HttpOnly (not readable by scripts) and SameSite=Strict.
      const cookie = (await alice.ctx.cookies()).find((c) => c.name === "chat_session");
      assert.ok(cookie, "chat_session cookie set");
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, "Strict");
      assert.ok(!(await alice.page.evaluate(() => document.cookie)).includes("chat_session"));

      await alice.page.reload();
      await alice.waitChat();
      assert.equal(await alice.page.getByTestId("login-form").count(), 0, "no login screen after a reload");
      assert.equal(await alice.page.getByTestId("current-user").textContent(), alice.username);
      assert.equal(await alice.page.getByTestId("room-title").textContent(), `#${room}`, "the room in view is kept");
      const after = await alice.settled(3);
      assert.deepEqual(after.map(key), before.map(key), "history after the reload");

      // A new tab of the same browser is logged in too.
      const tab = await alice.ctx.newPage();
      await tab.goto("/");
      await tab.getByTestId("current-user").waitFor();
      await tab.locator(`[data-testid="message-list"][data-room="${room}"][data-history="loaded"]`).waitFor();
      assert.equal(await tab.getByTestId("message").count(), 3);

      // A remembered room that does not exist (any more) falls back to the lobby.
      await tab.evaluate(() => localStorage.setItem("chat.lastRoom", "no-such-room"));
      await tab.reload();
      await tab.locator('[data-testid="message-list"][data-room="lobby"][data-history="loaded"]').waitFor();
      assert.equal(await tab.getByTestId("room-title").textContent(), "#lobby");
      await tab.getByTestId("room-no-such-room").waitFor({ state: "detached" });
      assert.equal(await tab.getByTestId("notice").count(), 0, "no error shown for it");
    },
  },

  {
    name: "logged-out users cannot reach the chat (login screen, no WebSocket)",
    timeout: 30_000,
    async run(h) {
      const alice = await h.registered("leaver");
      const session = (await alice.ctx.cookies()).find((c) => c.name === "chat_session");
      assert.ok(session, "logged in with a cookie");
      const control = await probeWebSocket(alice.page);
      assert.ok(control.opened, `a logged-in page can open /ws (${JSON.stringify(control)})`);

      // A second tab of the same login.
      const tab2 = await alice.ctx.newPage();
      await tab2.goto("/");
      await tab2.getByTestId("current-user").waitFor();
      await tab2.getByTestId("connection-banner").waitFor({ state: "detached" });

      await alice.page.getByTestId("logout-button").click();
      await alice.page.getByTestId("login-form").waitFor();
      assert.equal(await alice.page.getByTestId("current-user").count(), 0);
      // The other tab's socket is closed by the bridge (1008): it goes to the login screen too.
      await tab2.getByTestId("login-form").waitFor();
      await tab2.getByTestId("auth-notice").waitFor();

      // Reloading does not bring the chat back; the cookie is gone.
      await alice.page.reload();
      await alice.page.getByTestId("login-form").waitFor();
      assert.equal(await alice.page.getByTestId("current-user").count(), 0);
      assert.ok(!(await alice.ctx.cookies()).some((c) => c.name === "chat_session" && c.value !== ""), "cookie cleared");
      const afterLogout = await probeWebSocket(alice.page);
      assert.equal(afterLogout.opened, false, `WebSocket refused after logout (${JSON.stringify(afterLogout)})`);

      // A fresh browser without a cookie.
      const fresh = await (await h.context()).newPage();
      await fresh.goto("/");
      await fresh.getByTestId("login-form").waitFor();
      const noCookie = await probeWebSocket(fresh);
      assert.equal(noCookie.opened, false, `WebSocket refused without a cookie (${JSON.stringify(noCookie)})`);
      assert.equal(await fresh.evaluate(async () => (await fetch("/api/me")).status), 401);

      // The old (revoked) cookie copied into a fresh browser does not work either.
      const ctx = await h.context();
      await ctx.addCookies([{ name: session.name, value: session.value, domain: session.domain, path: session.path }]);
      const stolen = await ctx.newPage();
      await stolen.goto("/");
      await stolen.getByTestId("login-form").waitFor();
      const revoked = await probeWebSocket(stolen);
      assert.equal(revoked.opened, false, `WebSocket refused with a revoked token (${JSON.stringify(revoked)})`);
    },
  },

  {
    name: "fail-over: chat-core back in time, the WebSockets stay open and nothing is lost or doubled",
    timeout: 60_000,
    async run(h) {
      const stage = await twoBrowsersInARoom(h, "failover");
      const { bot, room, side, alice, bob } = stage;
      // A browser that lost its WebSocket opens a new one: count them.
      let reconnects = 0;
      for (const u of [alice, bob]) u.page.on("websocket", () => (reconnects += 1));
      for (let i = 0; i < 3; i++) await bot.send(room, `before #${i}`);
      await alice.send("alice before");
      await Promise.all([alice.settled(4), bob.settled(4)]);

      await h.stack.killCore(); // SIGKILL: no goodbye to anyone
      // Typed while no chat-core is up: ws-bridge keeps it and sends it once one is.
      await alice.send("alice while chat-core was down");
      await h.stack.startCore();
      for (let i = 0; i < 5; i++) await bot.send(room, `after #${i}`);
      await bob.send("bob after");
      for (let i = 5; i < 7; i++) await bot.send(room, `after #${i}`);
      await bot.send(side, "elsewhere 1");
      await bot.send(side, "elsewhere 2");

      // Every message in both browsers (their own sends included) as stored;
      // the rejoin's fresh `joined` kept the member list right; no WebSocket
      // was replaced.
      await expectBothCaughtUp(stage, 3 + 2 + 7 + 1);
      for (const u of [alice, bob]) {
        assert.equal(await u.page.getByTestId("connection-banner").count(), 0, `${u.username}: no reconnect banner`);
      }
      assert.equal(reconnects, 0, "the browsers kept their WebSockets");
    },
  },

  {
    name: "reconnect after chat-core stays down past the fail-over time resumes without gaps or duplicates",
    timeout: 60_000,
    async run(h) {
      const stage = await twoBrowsersInARoom(h, "restart");
      const { bot, room, side, alice, bob } = stage;
      for (let i = 0; i < 3; i++) await bot.send(room, `before restart #${i}`);
      await alice.send("alice before the restart");
      await Promise.all([alice.settled(4), bob.settled(4)]);

      await h.stack.killCore(); // SIGKILL: no goodbye to anyone
      // ws-bridge waits FAILOVER_SECONDS for a node, then closes with 1012.
      for (const u of [alice, bob]) {
        const banner = u.page.locator('[data-testid="connection-banner"][data-state="reconnecting"]');
        await banner.waitFor({ timeout: (FAILOVER_SECONDS + 15) * 1000 });
        assert.match(await banner.textContent(), /Reconnecting/);
      }
      await h.shot(alice.page, "restart-banner.png");

      await h.stack.startCore();
      // Posted as soon as chat-core is back: the browsers are most likely still
      // waiting to reconnect, so these come back through the resume (sinceSeq).
      for (let i = 0; i < 5; i++) await bot.send(room, `after restart #${i}`);
      for (const u of [alice, bob]) await u.page.getByTestId("connection-banner").waitFor({ state: "detached", timeout: 20_000 });
      await bob.send("bob after the restart");
      for (let i = 5; i < 7; i++) await bot.send(room, `after restart #${i}`);

      await bot.send(side, "elsewhere 1");
      await bot.send(side, "elsewhere 2");

      const total = 3 + 1 + 7 + 1;
      await expectBothCaughtUp(stage, total);
      // Sending works again.
      await alice.send("alice after the restart");
      await Promise.all([alice.settled(total + 1), bob.settled(total + 1)]);
    },
  },
];
