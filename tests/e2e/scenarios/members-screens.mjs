// Screenshots of the membership screens at desktop (1280×800) and phone
// (390×844) width, light and dark, into tests/e2e/artifacts/members-*.png:
// the DM picker, the invite dialog, the member list with roles, the room
// settings, and pending invitations. Plus the layout checks that hold on
// every one of them (nothing off screen, no sideways scrolling).

import assert from "node:assert/strict";
import { DESKTOP, PHONE } from "../lib/browser.mjs";
import { accept, closeDialog, createRoomDialog, findUser, invite, memberList, removeMember, searchFor, setRole, settings } from "../lib/members.mjs";

const VIEWPORTS = { desktop: DESKTOP, phone: PHONE };
const SCHEMES = ["light", "dark"];

/** Layout problems on the page, as strings (empty when fine). */
function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    if (document.scrollingElement.scrollWidth > vw + 1) problems.push("page scrolls sideways");
    const dialog = document.querySelector("dialog[open]");
    if (dialog) {
      const r = dialog.getBoundingClientRect();
      if (r.left < -1 || r.right > vw + 1 || r.top < -1 || r.bottom > vh + 1) problems.push("dialog off screen");
      const body = dialog.querySelector(".dialog-body");
      if (body && body.scrollWidth > body.clientWidth + 1) problems.push("dialog scrolls sideways");
      for (const b of dialog.querySelectorAll("button, input")) {
        const br = b.getBoundingClientRect();
        if (br.width > 0 && (br.left < r.left - 1 || br.right > r.right + 1)) problems.push(`${b.dataset.testid || b.textContent} sticks out`);
      }
    }
    for (const id of ["room-title", "members-toggle", "room-settings-button", "composer"]) {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (!el) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.left < -1 || r.right > vw + 1)) problems.push(`${id} off screen`);
    }
    return problems;
  });
}

export const scenarios = [
  {
    name: "screenshots: DM picker, invite dialog, member list with roles, room settings, pending invitations",
    timeout: 180_000,
    async run(h) {
      // A private room with an owner, a moderator, members (one offline), someone invited and someone banned.
      const owner = await h.registered("maria");
      const mod = await h.registered("deploy.bot");
      const member = await h.registered("sam.taylor");
      const away = await h.registered("jordan");
      const banned = await h.registered("mallory");
      const invited = await h.registered("alex.kim");
      const room = h.name("release-crew.");
      await createRoomDialog(owner, room, { topic: "Shipping 2.4 — checklist, rollout and on-call" });
      await invite(owner, mod, member, away, banned);
      for (const u of [mod, member, away, banned]) await accept(u, room);
      await setRole(owner, mod, "moderator");
      await removeMember(owner, banned, { ban: true, reason: "spam" });
      await invite(owner, invited);
      await owner.send("Rollout starts at 14:00 UTC. Checklist is pinned in the topic.");
      await mod.send("Build 2.4.0-rc.3 is green on staging.");
      await member.send("I'll watch the dashboards.");
      await member.settled(3);
      await away.close();
      // A second room with a pending invitation for the invited user, so the list has two.
      const other = h.name("design-review.");
      await createRoomDialog(mod, other, { topic: "Weekly, Thursdays" });
      await invite(mod, invited);
      await invited.page.locator(`[data-testid="invite-item"][data-room="${other}"]`).waitFor();

      for (const [vpName, viewport] of Object.entries(VIEWPORTS)) {
        for (const scheme of SCHEMES) {
          const tag = `members-${vpName}-${scheme}`;
          const u = await h.user({ viewport, colorScheme: scheme });
          await u.login(owner.username);
          await u.selectRoom(room);
          await u.settled(3);
          const p = u.page;
          const check = async (what, page = p) => assert.deepEqual(await layoutProblems(page), [], `${tag} ${what}`);

          // The member list with roles.
          await memberList(u);
          await p.locator('[data-testid="banned-member"]').waitFor();
          await p.locator('[data-testid="invited-member"]').waitFor();
          await h.shot(p, `${tag}-member-list.png`);
          await check("member list");
          if (vpName === "phone") await p.getByRole("button", { name: "Close members" }).click();

          // The invite dialog, with a search that found people in every state.
          await p.getByTestId("invite-button").click();
          await p.getByTestId("invite-dialog").waitFor();
          await searchFor(u, member.username.slice(0, 2));
          await h.shot(p, `${tag}-invite-dialog.png`);
          await check("invite dialog");
          await closeDialog(u);

          // Room settings, as the owner sees them.
          await settings(u);
          await p.getByTestId("delete-room").waitFor();
          await h.shot(p, `${tag}-room-settings.png`);
          await check("room settings");
          await closeDialog(u);

          // The DM picker with one person picked and a search going.
          if (vpName === "phone") await p.getByTestId("sidebar-toggle").click();
          await p.getByTestId("new-dm").click();
          await p.getByTestId("dm-dialog").waitFor();
          await (await findUser(u, mod.username)).getByTestId("user-pick").click();
          await searchFor(u, member.username.slice(0, 2));
          await h.shot(p, `${tag}-dm-picker.png`);
          await check("DM picker");
          await closeDialog(u);
          await u.close();

          // Pending invitations, as the invited user sees them.
          const v = await h.user({ viewport, colorScheme: scheme });
          await v.login(invited.username);
          const pv = v.page;
          if (vpName === "phone") await pv.getByTestId("sidebar-toggle").click();
          await pv.locator('[data-testid="invite-item"]').nth(1).waitFor();
          if (vpName === "phone") {
            await pv.waitForFunction(() => Math.abs(document.querySelector("#sidebar").getBoundingClientRect().left) < 1);
          }
          await h.shot(pv, `${tag}-invitations.png`);
          await check("invitations", pv);
          await v.close();
        }
      }
    },
  },
];
