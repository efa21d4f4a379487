// Screenshots of the main screens at desktop (1280×800) and phone (390×844)
// width, light and dark, into tests/e2e/artifacts/, plus layout checks that
// hold on every one of them (no sideways overflow, bubbles inside the list,
// the composer on screen).

import assert from "node:assert/strict";
import { DESKTOP, PHONE } from "../lib/browser.mjs";
import { interceptSocket } from "../lib/intercept.mjs";

const VIEWPORTS = { desktop: DESKTOP, phone: PHONE };
const SCHEMES = ["light", "dark"];

/** Layout problems on the page, as strings (empty when fine). */
function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const doc = document.scrollingElement;
    if (doc.scrollWidth > vw + 1) problems.push(`page scrolls sideways (${doc.scrollWidth} > ${vw})`);
    const list = document.querySelector('[data-testid="message-list"]');
    if (list) {
      if (list.scrollWidth > list.clientWidth + 1) problems.push(`message list scrolls sideways (${list.scrollWidth} > ${list.clientWidth})`);
      const lr = list.getBoundingClientRect();
      for (const b of list.querySelectorAll(".msg-bubble, .msg-meta, .msg-status")) {
        const r = b.getBoundingClientRect();
        if (r.width === 0) continue;
        if (r.left < lr.left - 1 || r.right > lr.right + 1) {
          problems.push(`${b.className} outside the list (${Math.round(r.left)}..${Math.round(r.right)} vs ${Math.round(lr.left)}..${Math.round(lr.right)})`);
        }
      }
    }
    for (const id of ["composer", "send-button", "room-title", "members-toggle"]) {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (!el) continue;
      const r = el.getBoundingClientRect();
      if (r.left < -1 || r.right > vw + 1 || r.top < -1 || r.bottom > vh + 1) problems.push(`${id} off screen`);
    }
    // Wide screens: the room column keeps its width whatever the names in it.
    const sidebar = document.querySelector("#sidebar");
    if (sidebar && vw >= 768) {
      const w = sidebar.getBoundingClientRect().width;
      if (w > 300) problems.push(`sidebar ${Math.round(w)} px wide`);
    }
    // Text that is cut off where it should not be.
    const title = document.querySelector('[data-testid="room-title"]');
    if (title && title.scrollWidth > title.clientWidth + 1 && title.textContent.length < 20) problems.push("short room title is cut off");
    return problems;
  });
}

export const scenarios = [
  {
    name: "screenshots: login, chat, drawer at desktop and phone width, light and dark",
    timeout: 90_000,
    async run(h) {
      // A room with a conversation: several authors, long text, a link, lines, and our own messages.
      const maria = await h.grpc("maria");
      const ops = await h.grpc("deploy.bot");
      const me = await h.grpc("alice");
      const room = h.name("release-planning");
      const other = h.name("random");
      await maria.createRoom(room);
      await maria.createRoom(other);
      await maria.send(room, "Morning! Did anyone look at the release notes yet?");
      await me.send(room, "Yes, reading them now.");
      await ops.send(
        room,
        "Build 2.4.0-rc.3 passed all checks on staging (412 tests, 0 failures). Rollout to production is scheduled for 14:00 UTC unless someone objects in this channel before then.",
      );
      await maria.send(room, "Draft is here: https://example.com/releases/2.4/notes?draft=1#highlights");
      await maria.send(room, "Two things left:\n1. the changelog for the CLI\n2. screenshots for the web UI");
      await me.send(room, "I'll take the screenshots 📸");
      await ops.send(room, "artifact sha256:9f2c4e1b7a0d3c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7");
      await me.send(room, "Looks good to me. <b>Ship it</b> when ready → https://example.com/deploy");
      const count = 8;
      // Others in the room, for the member list.
      maria.connect();
      await maria.join(room);
      await maria.join(other);
      ops.connect();
      await ops.join(room);

      for (const [vpName, viewport] of Object.entries(VIEWPORTS)) {
        for (const scheme of SCHEMES) {
          const tag = `${vpName}-${scheme}`;
          const u = await h.user({ viewport, colorScheme: scheme });
          const p = u.page;
          await p.getByTestId("login-form").waitFor();
          await h.shot(p, `${tag}-login.png`);
          assert.deepEqual(await layoutProblems(p), [], `${tag} login layout`);

          await u.login(me.username);
          await u.selectRoom(room);
          await u.settled(count);
          // Something unread elsewhere (once our client is in that room too), and someone typing.
          await maria.waitPresence(other, me.username);
          await maria.send(other, "psst, lunch?");
          await p.locator(`[data-testid="unread-${other}"]`).waitFor({ state: "attached" });
          maria.stream.write({ typing: { room, active: true } });
          await p.locator(`[data-testid="typing-indicator"]:has-text("${maria.username} is typing")`).waitFor();
          await p.getByTestId("composer").fill("Draft reply…");
          await h.shot(p, `${tag}-chat.png`);
          assert.deepEqual(await layoutProblems(p), [], `${tag} chat layout`);

          if (vpName === "phone") {
            await p.getByTestId("sidebar-toggle").click();
            await p.getByTestId("room-list").waitFor({ state: "visible" });
            await p.getByTestId("logout-button").waitFor({ state: "visible" });
            // Wait for the slide-in to finish before the picture.
            await p.waitForFunction(() => {
              const s = document.querySelector("#sidebar");
              return s && Math.abs(s.getBoundingClientRect().left) < 1;
            });
            await h.shot(p, `${tag}-drawer.png`);
            assert.deepEqual(await layoutProblems(p), [], `${tag} drawer layout`);
            await p.keyboard.press("Escape");
            await p.getByTestId("room-list").waitFor({ state: "hidden" });

            await p.getByTestId("members-toggle").click();
            await p.getByTestId("presence-list").waitFor({ state: "visible" });
            await h.shot(p, `${tag}-members.png`);
            await p.keyboard.press("Escape");
          }
          maria.stream.write({ typing: { room, active: false } });
          await u.close();
          await maria.waitPresence(other, me.username, false);
        }
      }
    },
  },

  {
    name: "screenshots: long names, long URLs, empty room, failed send, on a phone and a desktop",
    timeout: 60_000,
    async run(h) {
      const long = h.name("maximilian-alexander-wolfgang-von-");
      const bot = await h.grpc("zed"); // posts as a short name
      const room = h.name("quarterly-planning-and-roadmap-discussion-for-the-platform-team-", 64);
      const empty = h.name("empty-room-");
      await bot.createRoom(room);
      await bot.createRoom(empty);
      await bot.send(
        room,
        "https://example.com/a/really/long/path/that/does/not/stop/anywhere/near/the/edge/of/the/screen?with=query&and=more&params=1234567890",
      );
      await bot.send(room, "Supercalifragilisticexpialidocious".repeat(4));
      await bot.send(room, "ok");

      for (const [tag, viewport, colorScheme] of [
        ["phone-light", PHONE, "light"],
        ["desktop-dark", DESKTOP, "dark"],
      ]) {
        const u = await h.user({ viewport, colorScheme });
        const net = await interceptSocket(u.page);
        const name = tag === "phone-light" ? long : h.name("maximilian-alexander-wolfgang-von-");
        await u.register(name);
        const p = u.page;
        await u.selectRoom(empty);
        await p.getByTestId("empty-room").waitFor();
        await h.shot(p, `${tag}-empty-room.png`);
        assert.deepEqual(await layoutProblems(p), [], `${tag} empty room layout`);

        await u.selectRoom(room);
        await u.settled((await bot.allMessages(room)).length);
        net.hold = true;
        await u.send("This one will fail: the connection drops before the server confirms it.");
        await p.locator('[data-testid="message"][data-status="sending"]').waitFor();
        net.drop();
        await p.locator('[data-testid="message"][data-status="failed"]').waitFor();
        await h.shot(p, `${tag}-long-and-failed.png`);
        assert.deepEqual(await layoutProblems(p), [], `${tag} long content layout`);
        if (tag === "phone-light") {
          await p.getByTestId("sidebar-toggle").click();
          await p.waitForFunction(() => Math.abs(document.querySelector("#sidebar").getBoundingClientRect().left) < 1);
          await h.shot(p, `${tag}-long-drawer.png`);
          assert.deepEqual(await layoutProblems(p), [], `${tag} drawer layout`);
        }
        net.release();
        await u.close();
      }
    },
  },
];
