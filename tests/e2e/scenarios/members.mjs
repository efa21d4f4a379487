// Private rooms, direct messages, membership and moderation in the browser,
// against the real chat-core and ws-bridge (the rules: the members spec of
// issue #28, docs/protocol.md). Every user is a browser user here: what one
// does in the UI, the others see live.

import assert from "node:assert/strict";
import { eventually } from "../lib/harness.mjs";
import {
  accept,
  closeDialog,
  createRoomDialog,
  deleteMessage,
  invitation,
  invite,
  memberList,
  memberMenu,
  memberRow,
  messageWith,
  openDirect,
  removeMember,
  roomInView,
  setRole,
  settings,
  waitInRoom,
} from "../lib/members.mjs";

/** Waits until a user's room list has (or no longer has) a room. */
async function listed(u, room, present = true) {
  await u.page.getByTestId(`room-${room}`).waitFor({ state: present ? "attached" : "detached" });
}

/**
 * Proves a room is NOT in a user's list: a public room made after it shows up
 * there live (RoomChanged comes in order), and still the room is not there.
 */
async function notListed(u, room, marker) {
  await listed(u, marker);
  assert.equal(await u.page.getByTestId(`room-${room}`).count(), 0, `${u.username} must not see ${room}`);
}

export const scenarios = [
  {
    name: "direct messages: two users open a DM from different browsers and land in the same room",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("dm-alice");
      const bob = await h.registered("dm-bob");
      const carol = await h.registered("dm-carol");

      const room = await openDirect(alice, [bob]);
      assert.match(room, /^dm\.[0-9a-f]{24}$/);
      assert.equal(await alice.page.getByTestId("room-title").getAttribute("data-label"), bob.username);
      assert.equal(await alice.page.getByTestId("composer").getAttribute("placeholder"), `Message ${bob.username}`);
      // Bob hears of it at once: the conversation is in his list, named after alice.
      const entry = bob.page.locator(`[data-testid="dm-list"] [data-room="${room}"]`);
      await entry.waitFor();
      assert.equal(await entry.getAttribute("data-dm-label"), alice.username);

      // Bob opens "the same" conversation from his own picker: the same room.
      assert.equal(await openDirect(bob, [alice]), room);
      await alice.send("hi bob, just us here");
      await alice.settled(1);
      assert.deepEqual((await bob.settled(1)).map((m) => m.text), ["hi bob, just us here"]);
      await bob.send("hi alice");
      await alice.settled(2);
      await h.shot(alice.page, "members-dm.png");

      // A group conversation is another room, for all three.
      const group = await openDirect(carol, [alice, bob]);
      assert.notEqual(group, room);
      const label = await carol.page.getByTestId("room-title").getAttribute("data-label");
      assert.deepEqual(label.split(", ").sort(), [alice.username, bob.username].sort());
      await alice.page.locator(`[data-testid="dm-list"] [data-room="${group}"]`).waitFor();
      // Carol is in neither list's other conversation.
      assert.equal(await carol.page.getByTestId(`room-${room}`).count(), 0);
      // Unread counts work for a conversation not in view.
      await carol.send("lunch?");
      await alice.page.locator(`[data-testid="unread-${group}"]:text-is("1")`).waitFor();

      // Nobody moderates a conversation: either of its people sets its topic.
      await settings(bob);
      assert.equal(await bob.page.getByTestId("delete-room").count(), 0);
      await bob.page.getByTestId("topic-input").fill("weekend plans");
      await bob.page.getByTestId("topic-save").click();
      await bob.page.getByTestId("topic-saved").waitFor();
      await closeDialog(bob);
      await alice.page.locator('[data-testid="room-topic"]', { hasText: "weekend plans" }).waitFor();
    },
  },

  {
    name: "private room: the owner invites a user found by search, who accepts and chats; others never see it",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("pr-owner");
      const bob = await h.registered("pr-guest");
      const carol = await h.registered("pr-outsider");
      const room = h.name("secret-plans.");
      await createRoomDialog(alice, room, { topic: "Only for the two of us" });
      assert.equal(await alice.page.getByTestId(`room-${room}`).getAttribute("data-kind"), "private");
      assert.equal(await alice.page.getByTestId("room-topic").textContent(), "Only for the two of us");
      await alice.send("the plan, in short");
      await alice.settled(1);

      // Nobody else lists it (a public room made after it does show up).
      const marker = h.name("marker.");
      await alice.createRoom(marker);
      await notListed(bob, room, marker);
      await notListed(carol, room, marker);

      await alice.selectRoom(room);
      await invite(alice, bob);
      // The pending invitation shows up at once, with who sent it.
      const inv = await invitation(bob, room);
      assert.match(await inv.textContent(), new RegExp(`${alice.username} invited you`));
      await memberList(alice);
      await alice.page.locator(`[data-testid="invited-member"][data-user="${bob.username}"]`).waitFor();

      await accept(bob, room);
      await inv.waitFor({ state: "detached" });
      assert.deepEqual((await bob.settled(1)).map((m) => m.text), ["the plan, in short"]);
      await bob.send("count me in");
      await alice.settled(2);
      // Roles in the member list: alice owns it, bob is a member (both online).
      await memberRow(alice, bob).and(alice.page.locator('[data-role="member"][data-online="true"]')).waitFor();
      const owner = memberRow(bob, alice);
      await memberList(bob);
      await owner.and(bob.page.locator('[data-role="owner"]')).waitFor();
      assert.equal(await owner.getByTestId("role-badge").textContent(), "owner");
      // A member gets no moderation menu.
      assert.equal(await bob.page.getByTestId("member-menu").count(), 0);
      assert.equal(await bob.page.getByTestId("invite-button").count(), 0);

      // Still nothing for carol, even after a reload.
      await carol.page.reload();
      await carol.waitChat();
      await notListed(carol, room, marker);

      // A declined invitation goes away, for the owner's list too.
      await invite(alice, carol);
      await (await invitation(carol, room)).getByTestId("invite-decline").click();
      await carol.page.locator(`[data-testid="invite-item"][data-room="${room}"]`).waitFor({ state: "detached" });
      await alice.page.locator(`[data-testid="invited-member"][data-user="${carol.username}"]`).waitFor({ state: "detached" });
      assert.equal(await carol.page.getByTestId(`room-${room}`).count(), 0);
    },
  },

  {
    name: "moderation: a moderator kicks a user, who sees why and loses the room; bans and leaving",
    timeout: 90_000,
    async run(h) {
      const alice = await h.registered("mod-owner");
      const bob = await h.registered("mod-bob");
      const carol = await h.registered("mod-carol");
      const dave = await h.registered("mod-dave");
      const room = h.name("moderated.");
      await createRoomDialog(alice, room);
      await invite(alice, bob, carol, dave);
      await accept(bob, room);
      await accept(carol, room);
      await accept(dave, room);

      // The owner makes bob a moderator; everyone's list shows the badge.
      await setRole(alice, bob, "moderator");
      await memberList(carol);
      await memberRow(carol, bob).and(carol.page.locator('[data-role="moderator"]')).waitFor();
      // A moderator can act on members, not on the owner.
      await memberList(bob);
      await memberRow(bob, alice).waitFor();
      // Once bob has a menu on carol (he knows he is a moderator), none on the owner.
      await memberMenu(bob, carol);
      assert.equal(await memberRow(bob, alice).getByTestId("member-menu").count(), 0, "no menu on the owner");
      assert.equal(await bob.page.getByTestId("role-moderator").count(), 0, "only the owner sets roles");
      await bob.page.keyboard.press("Escape");

      // Bob kicks carol with a reason: carol is told, and the room leaves her list.
      await removeMember(bob, carol, { reason: "spam" });
      // Waits for this text: a bare "left" would show "You are no longer in" first.
      await carol.page.locator('[data-testid="farewell"]', { hasText: `You were removed from #${room} by ${bob.username}: spam` }).waitFor();
      await listed(carol, room, false);
      assert.equal(await roomInView(carol), "lobby");
      await h.shot(carol.page, "members-kicked.png");
      await memberRow(alice, carol).waitFor({ state: "detached" });

      // A ban keeps dave out: the owner sees him in the banned list, can unban.
      await removeMember(alice, dave, { ban: true, reason: "flooding" });
      await dave.page.locator('[data-testid="farewell"]', { hasText: `You were banned from #${room} by ${alice.username}: flooding` }).waitFor();
      await listed(dave, room, false);
      const banned = alice.page.locator(`[data-testid="banned-member"][data-user="${dave.username}"]`);
      await banned.waitFor();
      await banned.getByTestId("member-unban").click();
      await banned.waitFor({ state: "detached" });

      // The owner cannot leave while others are in the room: the server says why.
      await settings(alice);
      await alice.page.getByTestId("leave-room").click();
      await alice.page.getByTestId("leave-room-confirm").click();
      const err = alice.page.getByTestId("leave-error");
      await err.waitFor();
      assert.match(await err.textContent(), /hand over ownership first/i);
      await closeDialog(alice);

      // Bob leaves on his own: the room is gone from his list, and from the member list.
      await settings(bob);
      await bob.page.getByTestId("leave-room").click();
      await bob.page.getByTestId("leave-room-confirm").click();
      await listed(bob, room, false);
      assert.equal(await roomInView(bob), "lobby");
      assert.equal(await bob.page.getByTestId("farewell").count(), 0, "no farewell for leaving yourself");
      await memberRow(alice, bob).waitFor({ state: "detached" });
    },
  },

  {
    name: "deleted messages show as tombstones for everyone; authors delete their own, moderators any",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("del-owner");
      const bob = await h.registered("del-member");
      const room = h.name("deletions.");
      await alice.createRoom(room); // public: alice is its owner
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);
      await alice.send("keep this one");
      await alice.settled(1);
      await bob.send("oops, wrong room");
      await bob.send("and this is spam");
      await bob.settled(3);
      await alice.settled(3);

      // Bob deletes his own message: a tombstone for both.
      const seq = await deleteMessage(bob, "oops, wrong room");
      const tomb = `[data-testid="message"][data-seq="${seq}"][data-deleted="true"]`;
      await alice.page.locator(tomb).waitFor();
      assert.equal(await alice.page.locator(tomb).getByTestId("message-tombstone").textContent(), "message deleted");
      assert.equal(await alice.page.locator(`${tomb} [data-testid="message-text"]`).count(), 0, "the text is gone");
      // A member has no menu on someone else's message.
      const kept = messageWith(bob, "keep this one");
      await kept.hover();
      assert.equal(await kept.getByTestId("message-menu").count(), 0);

      // The owner deletes bob's other message.
      const seq2 = await deleteMessage(alice, "and this is spam");
      await bob.page.locator(`[data-testid="message"][data-seq="${seq2}"][data-deleted="true"]`).waitFor();
      await h.shot(bob.page, "members-tombstones.png");

      // History keeps the tombstones: a reload shows them as such.
      await bob.page.reload();
      await bob.waitChat();
      await waitInRoom(bob, room);
      const after = await bob.page.locator('[data-testid="message"]').evaluateAll((els) =>
        els.map((el) => [el.dataset.seq, el.dataset.deleted === "true"]),
      );
      assert.deepEqual(after, [
        ["1", false],
        [seq, true],
        [seq2, true],
      ]);
    },
  },

  {
    name: "room settings: a topic change shows live, archiving disables the composer, deleting asks first",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("set-owner");
      const bob = await h.registered("set-member");
      const room = h.name("settings.");
      await alice.createRoom(room);
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);
      assert.equal(await bob.page.getByTestId("room-topic").count(), 0);

      // Topic: saved by the owner, shown live in everyone's header.
      await settings(alice);
      await alice.page.getByTestId("topic-input").fill("Release on Friday");
      await alice.page.getByTestId("topic-save").click();
      await alice.page.getByTestId("topic-saved").waitFor();
      await closeDialog(alice);
      await bob.page.locator('[data-testid="room-topic"]', { hasText: "Release on Friday" }).waitFor();
      // A member sees the topic in the settings, read-only, and none of the owner's controls.
      await settings(bob);
      assert.equal(await bob.page.getByTestId("topic-readonly").textContent(), "Release on Friday");
      assert.equal(await bob.page.getByTestId("archive-toggle").count(), 0);
      assert.equal(await bob.page.getByTestId("delete-room").count(), 0);
      await closeDialog(bob);

      // Archive: read-only for everyone, with a note; the history stays.
      await bob.send("before the freeze");
      await bob.settled(1);
      await settings(alice);
      await alice.page.getByTestId("archive-toggle").click();
      await alice.page.locator('[data-testid="archive-toggle"]:has-text("Unarchive room")').waitFor();
      await closeDialog(alice);
      for (const u of [alice, bob]) {
        await u.page.getByTestId("archived-note").waitFor();
        assert.equal(await u.page.getByTestId("composer").isDisabled(), true, `${u.username}'s composer is disabled`);
        assert.equal(await u.page.getByTestId("send-button").isDisabled(), true);
      }
      assert.deepEqual((await bob.settled(1)).map((m) => m.text), ["before the freeze"]);
      await h.shot(bob.page, "members-archived.png");
      // And back.
      await settings(alice);
      await alice.page.getByTestId("archive-toggle").click();
      await closeDialog(alice);
      await bob.page.getByTestId("archived-note").waitFor({ state: "detached" });
      assert.equal(await bob.page.getByTestId("composer").isDisabled(), false);

      // Delete: a confirm first; then the room is gone for both, and bob is told.
      await settings(alice);
      await alice.page.getByTestId("delete-room").click();
      await alice.page.getByTestId("delete-room-confirm").waitFor();
      await alice.page.getByRole("button", { name: "Cancel" }).first().click();
      await alice.page.getByTestId("delete-room-confirm").waitFor({ state: "detached" });
      await alice.page.getByTestId("delete-room").click();
      await alice.page.getByTestId("delete-room-confirm").click();
      await listed(alice, room, false);
      await listed(bob, room, false);
      await bob.page.locator('[data-testid="farewell"]', { hasText: `#${room} was deleted` }).waitFor();
      assert.equal(await roomInView(bob), "lobby");
      await eventually(async () => assert.equal(await alice.page.locator("dialog[open]").count(), 0), { what: "settings closed" });
    },
  },

  {
    name: "a server admin moderates a room they have no role in, once /api/me says they are an admin",
    timeout: 60_000,
    async run(h) {
      const alice = await h.registered("adm-owner");
      const bob = await h.registered("adm-member");
      const room = h.name("admin-watch.");
      await alice.createRoom(room);
      await bob.waitRoomListed(room);
      await bob.selectRoom(room);
      await bob.send("something against the rules");
      await bob.settled(1);

      // Twice: registered (the page starts from /api/me), then logged in through the form.
      for (const round of [1, 2]) {
        const admin = await h.admin();
        await admin.selectRoom(room);
        // Controls a plain visitor of a public room never gets.
        await admin.page.getByTestId("invite-button").waitFor();
        await memberList(admin);
        await memberRow(admin, alice).getByTestId("member-menu").waitFor();
        await settings(admin);
        await admin.page.getByTestId("delete-room").waitFor();
        await admin.page.getByTestId("archive-toggle").waitFor();
        await closeDialog(admin);
        if (round === 2) {
          await deleteMessage(admin, "something against the rules");
          await bob.page.locator('[data-testid="message"][data-deleted="true"]').waitFor();
        }
        await admin.close();
      }
    },
  },
];
