// Page helpers for private rooms, direct messages and moderation, on the UI's
// data-testids (web/README.md, "Test ids"). Each drives the UI the way a user
// would and waits for what the user would see, never for a fixed time.

/** Opens the room drawer on a phone when `testId` is in it and hidden. */
async function reveal(u, testId) {
  const p = u.page;
  const el = p.getByTestId(testId).first();
  await el.waitFor({ state: "attached" });
  if (!(await el.isVisible())) await p.getByTestId("sidebar-toggle").click();
  await el.waitFor({ state: "visible" });
  return el;
}

/** The room in view, once its newest page is loaded. */
export async function roomInView(u) {
  const list = u.page.locator('[data-testid="message-list"][data-history="loaded"]');
  await list.waitFor();
  return list.getAttribute("data-room");
}

/** Waits until `room` is the room in view with its history loaded. */
export function waitInRoom(u, room) {
  return u.page.locator(`[data-testid="message-list"][data-room="${room}"][data-history="loaded"]`).waitFor();
}

/** Types into a user search and waits for `user` among the results; returns that row. */
export async function findUser(u, user) {
  const p = u.page;
  await p.getByTestId("user-search-input").fill(user);
  const row = p.locator(`[data-testid="user-result"][data-user="${user}"]`);
  await row.waitFor();
  return row;
}

/** Types a prefix into a user search and waits for its results (at least one row). */
export async function searchFor(u, prefix) {
  const p = u.page;
  await p.getByTestId("user-search-input").fill(prefix);
  await p.locator(`[data-testid="user-result"][data-user^="${prefix}" i]`).first().waitFor();
  await p.locator('[data-testid="user-search-results"][aria-busy="false"]').waitFor();
}

/** "New message" with `others` (browser users or names); waits to be in the direct room and returns its name. */
export async function openDirect(u, others) {
  const p = u.page;
  await (await reveal(u, "new-dm")).click();
  await p.getByTestId("dm-dialog").waitFor();
  for (const o of others) {
    const name = typeof o === "string" ? o : o.username;
    await (await findUser(u, name)).getByTestId("user-pick").click();
    await p.locator(`[data-testid="dm-picked"][data-user="${name}"]`).waitFor();
  }
  await p.getByTestId("dm-open").click();
  await p.getByTestId("dm-dialog").waitFor({ state: "detached" });
  return roomInView(u);
}

/** Creates a room from the dialog (private unless told otherwise) and waits to be in it. */
export async function createRoomDialog(u, name, { topic = "", isPrivate = true } = {}) {
  const p = u.page;
  await (await reveal(u, "new-private-room")).click();
  await p.getByTestId("create-room-dialog").waitFor();
  await p.getByTestId("new-room-name").fill(name);
  if (topic) await p.getByTestId("new-room-topic").fill(topic);
  await p.getByTestId(isPrivate ? "new-room-private" : "new-room-public").check();
  await p.getByTestId("new-room-submit").click();
  await p.getByTestId("create-room-dialog").waitFor({ state: "detached" });
  await waitInRoom(u, name);
}

/** Invites `users` to the room in view through the invite dialog (found by search). */
export async function invite(u, ...users) {
  const p = u.page;
  await p.getByTestId("invite-button").click();
  await p.getByTestId("invite-dialog").waitFor();
  for (const who of users) {
    const name = typeof who === "string" ? who : who.username;
    const row = await findUser(u, name);
    await row.getByTestId("invite-user").click();
    await row.getByTestId("invite-sent").waitFor();
  }
  await p.getByTestId("invite-done").click();
  await p.getByTestId("invite-dialog").waitFor({ state: "detached" });
}

/** The pending invitation to `room` in the sidebar (waits for it). */
export async function invitation(u, room) {
  await reveal(u, "invite-list");
  const item = u.page.locator(`[data-testid="invite-item"][data-room="${room}"]`);
  await item.waitFor();
  return item;
}

/** Accepts the invitation to `room` and waits to be in it. */
export async function accept(u, room) {
  await (await invitation(u, room)).getByTestId("invite-accept").click();
  await waitInRoom(u, room);
}

/** Shows the member list (a column on wide screens, an overlay below) and returns it. */
export async function memberList(u) {
  const p = u.page;
  const list = p.getByTestId("presence-list");
  if (!(await list.isVisible())) await p.getByTestId("members-toggle").click();
  await list.waitFor({ state: "visible" });
  return list;
}

/** A member's row in the member list. */
export function memberRow(u, user) {
  const name = typeof user === "string" ? user : user.username;
  return u.page.locator(`[data-testid="presence-member"][data-user="${name}"]`);
}

/** Opens a member's menu (moderators) in the member list. */
export async function memberMenu(u, user) {
  await memberList(u);
  const row = memberRow(u, user);
  await row.waitFor();
  await row.getByTestId("member-menu").click();
  return row;
}

/** Kicks (or bans) `user` from the room in view with a reason, from the member list. */
export async function removeMember(u, user, { reason = "", ban = false } = {}) {
  const p = u.page;
  await memberMenu(u, user);
  await p.getByTestId(ban ? "member-ban" : "member-kick").click();
  if (reason) await p.getByTestId("moderation-reason").fill(reason);
  await p.getByTestId("moderation-confirm").click();
  await memberRow(u, user).waitFor({ state: "detached" });
}

/** Sets a member's role from their menu: "owner", "moderator" or "member". */
export async function setRole(u, user, role) {
  const p = u.page;
  const row = await memberMenu(u, user);
  await p.getByTestId(`role-${role}`).click();
  await row.and(p.locator(`[data-role="${role}"]`)).waitFor();
}

/** Opens the room settings of the room in view. */
export async function settings(u) {
  const p = u.page;
  await p.getByTestId("room-settings-button").click();
  const d = p.getByTestId("room-settings");
  await d.waitFor();
  return d;
}

export async function closeDialog(u) {
  const p = u.page;
  await p.getByTestId("dialog-close").click();
  await p.locator("dialog[open]").waitFor({ state: "detached" });
}

/** The message with this text in the room in view. */
export function messageWith(u, text) {
  return u.page.locator('[data-testid="message"]', { has: u.page.locator('[data-testid="message-text"]', { hasText: text }) });
}

/** Deletes the message with this text through its menu; waits for the tombstone. */
export async function deleteMessage(u, text) {
  const p = u.page;
  const m = messageWith(u, text);
  await m.waitFor();
  const seq = await m.getAttribute("data-seq");
  await m.hover();
  await m.getByTestId("message-menu").click();
  await p.getByTestId("message-delete").click();
  await p.getByTestId("message-delete-confirm").click();
  await p.locator(`[data-testid="message"][data-seq="${seq}"][data-deleted="true"]`).waitFor();
  return seq;
}
