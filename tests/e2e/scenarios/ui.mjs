// What the UI promises (web/README.md): validation, rooms, unread counts,
// optimistic sends, typing, presence, safe rendering, the composer's keys,
// and paging older history.

import assert from "node:assert/strict";
import { eventually } from "../lib/harness.mjs";
import { interceptSocket } from "../lib/intercept.mjs";

const PASSWORD = "correct-horse-9";

/** Waits until the room's message list is the one in view with its newest page loaded. */
function roomLoaded(page, room) {
  return page.locator(`[data-testid="message-list"][data-room="${room}"][data-history="loaded"]`).waitFor();
}

/** Wheels up over the message list until at least n messages are shown. */
async function scrollUpUntil(page, n) {
  for (let i = 0; ; i++) {
    await page.mouse.wheel(0, -5000);
    try {
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="message"]').length >= n, n, { timeout: 2000 });
      return;
    } catch (err) {
      if (i >= 5) throw new Error(`scrolling up did not bring ${n} messages: ${err.message.split("\n")[0]}`);
    }
  }
}

export const scenarios = [
  {
    name: "register and login show validation and server errors",
    timeout: 30_000,
    async run(h) {
      const taken = await h.grpc("taken"); // exists already
      const u = await h.user();
      const p = u.page;
      const err = p.getByTestId("auth-error");
      const attempt = async (button, username, password, pattern) => {
        await p.getByTestId("login-username").fill(username);
        await p.getByTestId("login-password").fill(password);
        await p.getByTestId(button).click();
        await eventually(async () => assert.match((await err.textContent({ timeout: 1000 })) ?? "", pattern), {
          what: `${button}(${JSON.stringify(username)}) error`,
        });
        assert.equal(await err.getAttribute("role"), "alert");
        assert.equal(await p.getByTestId("current-user").count(), 0, "still on the login screen");
      };
      await attempt("register-submit", "", "", /Username must be 3-32/);
      await attempt("register-submit", "ab", PASSWORD, /Username must be 3-32/);
      await attempt("register-submit", "white space", PASSWORD, /Username must be 3-32/);
      await attempt("register-submit", h.name("fine"), "short", /at least 8 characters/);
      await attempt("register-submit", taken.username, PASSWORD, /taken|exists/i); // from the server (409)
      await attempt("register-submit", taken.username.toUpperCase(), PASSWORD, /taken|exists/i); // case-insensitive
      await attempt("login-submit", "", "", /Enter your username and password/);
      await attempt("login-submit", taken.username, "wrong-password-1", /wrong|invalid|incorrect/i);
      await attempt("login-submit", h.name("nobody"), PASSWORD, /wrong|invalid|incorrect|not found/i);
      await h.shot(p, "auth-error.png");
      // Typing a valid account in the end works, and the error goes away.
      await p.getByTestId("login-username").fill(taken.username);
      await p.getByTestId("login-password").fill(PASSWORD);
      await p.getByTestId("login-submit").click();
      await u.waitChat();
      assert.equal(await p.getByTestId("current-user").textContent(), taken.username);
    },
  },

  {
    name: "create a room and switch between rooms",
    timeout: 30_000,
    async run(h) {
      const alice = await h.registered("maker");
      const p = alice.page;
      // The client-side name check.
      await p.getByTestId("create-room-input").fill("Bad Name!");
      await p.getByTestId("create-room-submit").click();
      const cerr = p.getByTestId("create-room-error");
      await cerr.waitFor();
      assert.match(await cerr.textContent(), /Room names are/);
      await p.getByTestId("create-room-input").fill("");
      await cerr.waitFor({ state: "detached" });
      assert.equal(await p.getByTestId("create-room-submit").isDisabled(), true, "Create is disabled while empty");

      const room = h.name("proj-x.");
      await alice.createRoom(room);
      assert.equal(await p.getByTestId("room-title").textContent(), `#${room}`);
      assert.equal(await p.getByTestId(`room-${room}`).getAttribute("aria-current"), "page");
      assert.equal(await p.getByTestId("room-lobby").getAttribute("aria-current"), null);
      await p.getByTestId("empty-room").waitFor();
      assert.equal(await p.getByTestId("create-room-input").inputValue(), "", "the form is cleared");
      await alice.send("first words in the new room");
      await alice.settled(1);

      await alice.selectRoom("lobby");
      assert.equal(await p.getByTestId("room-title").textContent(), "#lobby");
      assert.equal(await p.getByTestId("room-lobby").getAttribute("aria-current"), "page");
      assert.ok(!(await alice.rendered()).some((m) => m.text === "first words in the new room"), "lobby shows its own messages");

      await alice.selectRoom(room);
      assert.deepEqual((await alice.settled(1)).map((m) => m.text), ["first words in the new room"]);

      // The composer keeps a draft per room.
      await p.getByTestId("composer").fill("half-written thought");
      await alice.selectRoom("lobby");
      assert.equal(await p.getByTestId("composer").inputValue(), "");
      assert.equal(await p.getByTestId("composer").getAttribute("placeholder"), "Message #lobby");
      await alice.selectRoom(room);
      assert.equal(await p.getByTestId("composer").inputValue(), "half-written thought");
      await p.getByTestId("composer").fill("");

      // Creating a room that exists just goes there.
      await alice.selectRoom("lobby");
      await alice.createRoom(room);
      assert.equal(await p.getByTestId("create-room-error").count(), 0);
      assert.equal(await p.getByTestId("room-title").textContent(), `#${room}`);

      // Someone who logs in later finds the room in the list and its history.
      const bob = await h.registered("visitor");
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);
      assert.deepEqual((await bob.settled(1)).map((m) => m.text), ["first words in the new room"]);
    },
  },

  {
    name: "the room list comes in pages, and a room-creating loop is told why it stops",
    timeout: 60_000,
    async run(h) {
      // 6 users x 20 rooms (chat-core's hourly limit per user): past the UI's first page of 100.
      // Named to sort after every other scenario's rooms, so theirs stay on the first page.
      const tag = `zzz.${h.name("pg", 8)}`;
      const names = [];
      let last;
      for (let u = 0; u < 6; u++) {
        last = await h.grpc("pager");
        for (let i = 0; i < 20; i++) {
          const room = `${tag}.${u}.${String(i).padStart(2, "0")}`;
          await last.createRoom(room);
          names.push(room);
        }
      }
      await assert.rejects(last.createRoom(`${tag}.one-more`), (err) => {
        assert.match(String(err.details ?? err.message), /too many rooms created: at most 20 per user every hour/);
        return true;
      });

      // A browser: the first page, then "More rooms" until every room is listed.
      const reader = await h.registered("pagereader");
      const p = reader.page;
      const listed = () => p.locator('[data-testid="room-list"] li').count();
      const more = p.getByTestId("more-rooms");
      await more.waitFor();
      const first = await listed();
      assert.ok(first < names.length, `the first page (${first}) holds fewer than our ${names.length} rooms`);
      for (let pages = 0; await more.isVisible(); pages++) {
        assert.ok(pages < 20, "more rooms than pages can hold");
        const before = await listed();
        await more.click();
        await eventually(async () => assert.ok((await listed()) > before || !(await more.isVisible())));
      }
      for (const room of [names[0], names[59], names[names.length - 1]]) {
        assert.equal(await p.getByTestId(`room-${room}`).count(), 1, `${room} is listed`);
      }

      // The same user in a browser, past the limit: the form says why.
      const again = await h.user();
      await again.login(last.username, last.password);
      await again.page.getByTestId("create-room-input").fill(`${tag}.from-the-browser`);
      await again.page.getByTestId("create-room-submit").click();
      const err = again.page.getByTestId("create-room-error");
      await err.waitFor();
      assert.match(await err.textContent(), /too many rooms created: at most 20 per user every hour/i);
    },
  },

  {
    name: "unread count on a room not in view",
    timeout: 30_000,
    async run(h) {
      const bot = await h.grpc("noisy");
      const room = h.name("busy");
      await bot.createRoom(room);
      bot.connect();
      await bot.join(room);
      const alice = await h.registered("reader");
      await alice.waitRoomListed(room);
      await bot.waitPresence(room, alice.username); // alice's client joined it for the counts
      const p = alice.page;
      const badge = p.getByTestId(`unread-${room}`);
      assert.equal(await badge.count(), 0);

      for (let i = 1; i <= 3; i++) await bot.send(room, `ping ${i}`);
      await p.locator(`[data-testid="unread-${room}"]:text-is("3")`).waitFor();
      assert.equal(await p.getByTestId(`room-${room}`).getAttribute("data-unread"), "3");
      assert.match(await p.title(), /^\(3\) /, "the tab title counts unread messages");
      // Own messages elsewhere do not count.
      await alice.send("me, in the lobby");
      await p.locator('[data-testid="message"][data-status="sent"]', { hasText: "me, in the lobby" }).waitFor();
      assert.equal(await badge.textContent(), "3");

      await alice.selectRoom(room);
      await badge.waitFor({ state: "detached" });
      assert.equal(await p.getByTestId(`room-${room}`).getAttribute("data-unread"), "0");
      assert.deepEqual((await alice.settled(3)).map((m) => m.text), ["ping 1", "ping 2", "ping 3"]);
      assert.doesNotMatch(await p.title(), /^\(/);

      // In view: no badge. Back in the lobby: counts again.
      await bot.send(room, "ping 4");
      await alice.settled(4);
      assert.equal(await badge.count(), 0);
      await alice.selectRoom("lobby");
      await bot.send(room, "ping 5");
      await p.locator(`[data-testid="unread-${room}"]:text-is("1")`).waitFor();
    },
  },

  {
    name: "optimistic send shows sending, then sent; a lost ack fails and Retry stores it once",
    timeout: 40_000,
    async run(h) {
      const alice = await h.user();
      const net = await interceptSocket(alice.page);
      await alice.register(h.name("hasty"));
      const room = h.name("optimistic");
      await alice.createRoom(room);
      const p = alice.page;
      const msg = (text) => p.getByTestId("message").filter({ hasText: text });

      net.hold = true; // nothing comes back from the server for now
      await alice.send("hello, optimistically");
      const m1 = msg("hello, optimistically");
      await m1.and(p.locator('[data-status="sending"]')).waitFor();
      assert.equal(await m1.getAttribute("data-seq"), "", "no seq while unconfirmed");
      assert.equal(await m1.getByTestId("message-status").textContent(), "Sending…");
      await h.shot(p, "message-sending.png");
      net.release();
      await m1.and(p.locator('[data-status="sent"]')).waitFor();
      assert.equal(await m1.getAttribute("data-seq"), "1");
      assert.equal(await m1.getByTestId("message-status").textContent(), "Sent");

      // The connection drops before the ack: the message is marked failed...
      net.hold = true;
      await alice.send("lost in transit");
      const m2 = msg("lost in transit");
      await m2.and(p.locator('[data-status="sending"]')).waitFor();
      net.drop();
      await m2.and(p.locator('[data-status="failed"]')).waitFor();
      assert.match(await m2.getByTestId("message-status").textContent(), /^Failed: /);
      await m2.getByTestId("message-retry").waitFor();
      await h.shot(p, "message-failed.png");
      // ...the socket comes back (its answers still held back), Retry resends with the same clientMsgId...
      await p.getByTestId("connection-banner").waitFor({ state: "detached" });
      await m2.getByTestId("message-retry").click();
      await m2.and(p.locator('[data-status="sending"]')).waitFor();
      net.release();
      // ...and the server keeps it once: one message, seq 2, sent.
      await m2.and(p.locator('[data-status="sent"]')).waitFor();
      const shown = await alice.settled(2);
      assert.deepEqual(
        shown.map((m) => [m.seq, m.text]),
        [
          [1, "hello, optimistically"],
          [2, "lost in transit"],
        ],
      );
      const g = await h.grpc("auditor");
      const stored = (await g.allMessages(room)).map((m) => m.text);
      assert.deepEqual(stored, ["hello, optimistically", "lost in transit"], "stored once despite the retry");
    },
  },

  {
    name: "typing indicator follows the other user's typing",
    timeout: 30_000,
    async run(h) {
      const alice = await h.registered("watcher");
      const room = h.name("typing");
      await alice.createRoom(room);
      const bob = await h.registered("typist"); // logs in after: the room is listed
      await bob.selectRoom(room);
      const ind = alice.page.getByTestId("typing-indicator");
      assert.equal((await ind.textContent()).trim(), "");

      const composer = bob.page.getByTestId("composer");
      await composer.pressSequentially("hel");
      await alice.page.locator(`[data-testid="typing-indicator"]:has-text("${bob.username} is typing…")`).waitFor();
      // The member list marks the typist too (wide screens show it beside the messages).
      await alice.page.locator(`[data-testid="presence-member"][data-user="${bob.username}"]:has-text("typing…")`).waitFor();
      // Bob does not see himself typing.
      assert.equal((await bob.page.getByTestId("typing-indicator").textContent()).trim(), "");
      await h.shot(alice.page, "typing.png");

      // Clearing the draft stops it at once.
      await composer.fill("");
      await alice.page.locator('[data-testid="typing-indicator"]:text-is("")').waitFor();

      // Typing again, then sending: the message ends it.
      await composer.pressSequentially("hello");
      await alice.page.locator(`[data-testid="typing-indicator"]:has-text("${bob.username} is typing…")`).waitFor();
      await composer.press("Enter");
      await alice.settled(1);
      await alice.page.locator('[data-testid="typing-indicator"]:text-is("")').waitFor();
      // Screen readers hear the new message.
      await alice.page.locator(`[data-testid="live-announcer"]:text-is("${bob.username}: hello")`).waitFor({ state: "attached" });
    },
  },

  {
    name: "presence list shows who is in the room",
    timeout: 30_000,
    async run(h) {
      const bot = await h.grpc("roomowner");
      const room = h.name("presence");
      await bot.createRoom(room);
      const alice = await h.registered("present");
      await alice.selectRoom(room);
      const p = alice.page;
      const member = (u) => p.locator(`[data-testid="presence-member"][data-user="${u}"]`);
      await member(alice.username).waitFor();
      assert.match(await member(alice.username).textContent(), /\(you\)/);
      await p.locator('[data-testid="member-count"]:text-is("1")').waitFor();

      // A browser user (whose client joins every listed room) and a gRPC client arrive.
      const bob = await h.registered("arriving");
      await member(bob.username).waitFor();
      bot.connect();
      await bot.join(room);
      await member(bot.username).waitFor();
      await p.locator('[data-testid="member-count"]:text-is("3")').waitFor();
      // The room's owner (its creator) first, with a badge; then the others by name.
      await member(bot.username).and(p.locator('[data-role="owner"][data-online="true"]')).waitFor();
      const names = await p.getByTestId("presence-member").evaluateAll((els) => els.map((e) => e.dataset.user));
      assert.equal(names[0], bot.username);
      assert.deepEqual(names.slice(1), [alice.username, bob.username].sort((a, b) => a.localeCompare(b)), "sorted by name");

      // They leave: bob logs out (gone from the list), the gRPC stream ends (the
      // owner stays listed, as a stored member of the room, but offline).
      await bob.page.getByTestId("logout-button").click();
      await member(bob.username).waitFor({ state: "detached" });
      bot.stream.cancel();
      await member(bot.username).and(p.locator('[data-online="false"]')).waitFor();
      await p.locator('[data-testid="member-count"]:text-is("1")').waitFor();

      // Narrowed below 1100 px (window resized, tablet rotated) the list becomes an
      // overlay behind the members button: closed, not covering the messages.
      await p.setViewportSize({ width: 900, height: 800 });
      await p.getByTestId("presence-list").waitFor({ state: "hidden" });
      assert.equal(await p.getByTestId("members-toggle").getAttribute("aria-expanded"), "false");
      await p.getByTestId("members-toggle").click();
      await p.getByTestId("presence-list").waitFor({ state: "visible" });
      await p.keyboard.press("Escape");
      await p.getByTestId("presence-list").waitFor({ state: "hidden" });
      // Wide again: the column is back.
      await p.setViewportSize({ width: 1280, height: 800 });
      await p.getByTestId("presence-list").waitFor({ state: "visible" });
      assert.equal(await p.getByTestId("members-toggle").getAttribute("aria-expanded"), "true");
    },
  },

  {
    name: "HTML in a message is shown as text",
    timeout: 30_000,
    async run(h) {
      const bot = await h.grpc("markup");
      const room = h.name("html");
      await bot.createRoom(room);
      const payload = `<img src=x onerror="window.__pwned=1"><b>bold</b><script>window.__pwned=2</script> &amp; &lt;i&gt;`;
      await bot.send(room, payload);
      const alice = await h.registered("careful");
      await alice.selectRoom(room);
      await alice.send(payload.replace("__pwned=1", "__pwned=3"));
      const shown = await alice.settled(2);
      assert.equal(shown[0].text, payload);
      assert.equal(shown[1].text, payload.replace("__pwned=1", "__pwned=3"));
      const texts = alice.page.getByTestId("message-text");
      assert.equal(await texts.locator("*").count(), 0, "no elements inside the message text");
      assert.equal(await alice.page.evaluate(() => window.__pwned), undefined, "no script ran");
    },
  },

  {
    name: "links are clickable, open in a new tab without opener or referrer, and only http(s)",
    timeout: 30_000,
    async run(h) {
      const bot = await h.grpc("linker");
      const room = h.name("links");
      await bot.createRoom(room);
      const text =
        "docs at https://example.com/path?q=1&r=2. see (https://en.wikipedia.org/wiki/Foo_(bar)) " +
        "not javascript:alert(1) nor data:text/html,<b>x</b> nor www.example.org nor xhttp://a.b";
      await bot.send(room, text);
      const alice = await h.registered("clicker");
      await alice.selectRoom(room);
      const [m] = await alice.settled(1);
      assert.equal(m.text, text, "the text is unchanged");
      const links = alice.page.getByTestId("message-text").locator("a");
      const attrs = await links.evaluateAll((as) => as.map((a) => ({ href: a.getAttribute("href"), text: a.textContent, target: a.target, rel: a.rel })));
      assert.deepEqual(
        attrs.map((a) => [a.href, a.text]),
        [
          ["https://example.com/path?q=1&r=2", "https://example.com/path?q=1&r=2"],
          ["https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"],
        ],
      );
      for (const a of attrs) {
        assert.equal(a.target, "_blank");
        assert.deepEqual(a.rel.split(/\s+/).sort(), ["noopener", "noreferrer"]);
      }

      // Clicking opens a new tab (served here by a route: no outside network).
      let referer = "unset";
      await alice.ctx.route("https://example.com/**", (route) => {
        referer = route.request().headers()["referer"];
        return route.fulfill({ status: 200, contentType: "text/html", body: "<title>example</title><p>ok</p>" });
      });
      const [popup] = await Promise.all([alice.ctx.waitForEvent("page"), links.first().click()]);
      // (waitForLoadState alone may see the popup's first about:blank on playwright-core 1.61)
      await popup.waitForURL((u) => u.href === "https://example.com/path?q=1&r=2", { waitUntil: "domcontentloaded" });
      assert.equal(popup.url(), "https://example.com/path?q=1&r=2");
      assert.equal(await popup.evaluate(() => window.opener), null, "no window.opener");
      assert.equal(referer, undefined, "no Referer header");
      assert.equal(new URL(alice.page.url()).origin, h.baseUrl, "the chat stays where it was");
      await popup.close();
    },
  },

  {
    name: "Enter sends, Shift+Enter adds a newline, blank text is not sent",
    timeout: 30_000,
    async run(h) {
      const alice = await h.registered("typer");
      const room = h.name("keys");
      await alice.createRoom(room);
      const p = alice.page;
      const composer = p.getByTestId("composer");
      assert.equal(await p.getByTestId("send-button").isDisabled(), true);

      await composer.focus();
      await p.keyboard.type("first line");
      await p.keyboard.press("Shift+Enter");
      await p.keyboard.type("second line");
      assert.equal(await composer.inputValue(), "first line\nsecond line");
      assert.equal(await p.getByTestId("message").count(), 0, "Shift+Enter does not send");
      assert.equal(await p.getByTestId("send-button").isDisabled(), false);
      await p.keyboard.press("Enter");
      const [m] = await alice.settled(1);
      assert.equal(m.text, "first line\nsecond line");
      assert.equal(await composer.inputValue(), "");
      assert.ok(await composer.evaluate((el) => el === document.activeElement), "the composer keeps the focus");
      // Shown on two lines.
      const lines = await p.getByTestId("message-text").first().evaluate((el) => {
        const lh = parseFloat(getComputedStyle(el).lineHeight);
        return Math.round(el.getBoundingClientRect().height / lh);
      });
      assert.equal(lines, 2);

      // Blank input is not sent.
      await p.keyboard.press("Enter");
      await p.keyboard.type("   ");
      await p.keyboard.press("Enter");
      assert.equal(await p.getByTestId("send-button").isDisabled(), true);
      // The send button works too.
      await composer.fill("via the button");
      await p.getByTestId("send-button").click();
      const all = await alice.settled(2);
      assert.deepEqual(all.map((x) => x.text), ["first line\nsecond line", "via the button"]);
    },
  },

  {
    name: "scrolling up loads older history (120 messages) and keeps the reader's place",
    timeout: 45_000,
    async run(h) {
      const bot = await h.grpc("historian");
      const room = h.name("history");
      await bot.createRoom(room);
      const TOTAL = 120;
      for (let i = 1; i <= TOTAL; i++) await bot.send(room, `history line ${i}`);
      const alice = await h.registered("scroller");
      await alice.selectRoom(room);
      const p = alice.page;
      const list = p.getByTestId("message-list");
      const shown = async () => (await alice.rendered()).map((m) => m.seq);

      // The newest page, scrolled to the bottom.
      await eventually(async () => assert.equal((await shown()).length, 50));
      assert.deepEqual(await shown(), Array.from({ length: 50 }, (_, i) => 71 + i));
      const atBottom = await list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2);
      assert.ok(atBottom, "starts at the bottom");
      await p.getByTestId("load-older").waitFor();

      // Scroll up with the mouse wheel until the next page comes.
      const box = await list.boundingBox();
      await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const seq71 = p.locator('[data-testid="message"][data-seq="71"]');
      await scrollUpUntil(p, 100);
      assert.deepEqual(await shown(), Array.from({ length: 100 }, (_, i) => 21 + i));
      // The reader's place is kept: what was at the top (seq 71) is still in view, not pushed away.
      const r = await seq71.boundingBox();
      assert.ok(r.y >= box.y - r.height && r.y <= box.y + box.height, `seq 71 still in view (y=${r.y}, list ${box.y}..${box.y + box.height})`);

      await scrollUpUntil(p, TOTAL);
      await p.getByTestId("room-start").waitFor();
      assert.equal(await p.getByTestId("load-older").count(), 0);
      assert.deepEqual(await shown(), Array.from({ length: TOTAL }, (_, i) => i + 1), "1..120, no gap, no duplicate");
      const texts = (await alice.rendered()).map((m) => m.text);
      assert.deepEqual(texts, Array.from({ length: TOTAL }, (_, i) => `history line ${i + 1}`));
    },
  },

  {
    name: "new messages while scrolled up: the list stays put and counts them; at the bottom it follows",
    timeout: 40_000,
    async run(h) {
      const bot = await h.grpc("chatty");
      const room = h.name("follow");
      await bot.createRoom(room);
      for (let i = 1; i <= 60; i++) await bot.send(room, `backlog ${i}`);
      const alice = await h.user();
      const net = await interceptSocket(alice.page);
      await alice.register(h.name("follower"));
      await alice.selectRoom(room);
      const p = alice.page;
      const list = p.getByTestId("message-list");
      const distanceFromBottom = () => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
      await eventually(async () => assert.equal(await p.getByTestId("message").count(), 50));

      // At the bottom, a new message keeps the list at the bottom.
      await bot.send(room, "live 1");
      await p.locator('[data-testid="message"][data-seq="61"]').waitFor();
      await eventually(async () => assert.ok((await distanceFromBottom()) < 2, "still at the bottom"));
      assert.equal(await p.getByTestId("jump-to-latest").count(), 0);

      // Scrolled up a bit, messages arrive: the place is kept and they are counted,
      // also when several come in one frame (the bridge batches a backlog that way).
      await list.evaluate((el) => {
        el.scrollTop = el.scrollHeight - el.clientHeight - 500;
      });
      await eventually(async () => assert.ok((await distanceFromBottom()) > 400));
      const topBefore = await list.evaluate((el) => el.scrollTop);
      net.hold = true;
      for (let i = 2; i <= 4; i++) await bot.send(room, `live ${i}`);
      // (count events, not frames: the bridge may already have put several in one frame)
      const heldMessages = () => net.current().held.flatMap((m) => String(m).split("\n")).filter((l) => l.startsWith('{"message"')).length;
      await eventually(async () => assert.equal(heldMessages(), 3));
      net.releaseAsOneFrame();
      await p.locator('[data-testid="message"][data-seq="64"]').waitFor({ state: "attached" });
      const jump = p.getByTestId("jump-to-latest");
      await jump.waitFor();
      assert.equal((await jump.textContent()).trim(), "3 new messages ↓");
      assert.equal(await list.evaluate((el) => el.scrollTop), topBefore, "the reader's place is kept");
      await bot.send(room, "live 5");
      await p.locator('[data-testid="jump-to-latest"]:has-text("4 new messages")').waitFor();
      await h.shot(p, "jump-to-latest.png");

      await jump.click();
      await jump.waitFor({ state: "detached" });
      assert.ok((await distanceFromBottom()) < 2, "jumped to the bottom");
      assert.ok(await p.locator('[data-testid="message"][data-seq="65"]').isVisible());

      // Our own send always scrolls down, even from further up.
      await list.evaluate((el) => {
        el.scrollTop = 0;
      });
      await eventually(async () => assert.ok((await distanceFromBottom()) > 400));
      await alice.send("mine, from up there");
      await p.locator('[data-testid="message"][data-seq="66"]').waitFor();
      await eventually(async () => assert.ok((await distanceFromBottom()) < 2, "scrolled down to our message"));
      assert.equal(await p.getByTestId("jump-to-latest").count(), 0);
    },
  },
];
