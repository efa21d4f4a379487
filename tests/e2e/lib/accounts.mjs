// Page helpers for the account settings (issue #29), on the UI's
// data-testids (web/README.md, "Settings"). Each drives the UI the way a user
// would and waits for what the user would see, never for a fixed time.

import assert from "node:assert/strict";

export const PASSWORD = "correct-horse-9";

/** Opens the settings (from the account corner, in the drawer on phones) at `tab`. */
export async function openSettings(u, tab = "profile") {
  const p = u.page;
  if (!(await p.getByTestId("settings").isVisible().catch(() => false))) {
    const btn = p.getByTestId("settings-button");
    await btn.waitFor({ state: "attached" });
    if (!(await btn.isVisible())) await p.getByTestId("sidebar-toggle").click();
    await btn.click();
    await p.getByTestId("settings").waitFor();
  }
  await p.getByTestId(`settings-tab-${tab}`).click();
  await p.getByTestId(`settings-section-${tab}`).waitFor();
}

export async function closeSettings(u) {
  await u.page.getByTestId("settings-back").click();
  await u.page.getByTestId("settings").waitFor({ state: "detached" });
}

/** Sets the display name on the Profile tab and waits for "Saved". */
export async function setDisplayName(u, name) {
  const p = u.page;
  await openSettings(u, "profile");
  await p.getByTestId("profile-display-name").fill(name);
  await p.getByTestId("profile-save").click();
  await p.getByTestId("profile-saved").waitFor();
}

/** Creates a bot on the Bots tab and waits for it in the list. */
export async function createBot(u, name) {
  const p = u.page;
  await openSettings(u, "bots");
  await p.getByTestId("bot-name").fill(name);
  await p.getByTestId("bot-create").click();
  await p.locator(`[data-testid="bot-item"][data-bot="${name}"]`).waitFor();
}

/**
 * Creates an API token on the Tokens tab and returns its secret, as shown
 * once; `actions`: the ones to leave ticked (default all).
 */
export async function createToken(u, { name, account = "", rooms = "", actions = null }) {
  const p = u.page;
  await openSettings(u, "tokens");
  await p.getByTestId("token-name").fill(name);
  if (account) {
    await p.locator(`[data-testid="token-account"] option[value="${account}"]`).waitFor({ state: "attached" });
    await p.getByTestId("token-account").selectOption(account);
  }
  if (rooms) await p.getByTestId("token-rooms").fill(rooms);
  if (actions) {
    for (const a of ["read", "post", "manage"]) await p.getByTestId(`token-action-${a}`).setChecked(actions.includes(a));
  }
  await p.getByTestId("token-create").click();
  const secret = (await p.getByTestId("token-secret").textContent()).trim();
  assert.match(secret, /^chat_[A-Za-z0-9_-]{43}$/, "the token's secret");
  return secret;
}

/** Creates a webhook on the Webhooks tab; returns the URL and the curl example shown once. */
export async function createWebhook(u, { room, bot, name = "" }) {
  const p = u.page;
  await openSettings(u, "webhooks");
  await p.getByTestId("webhook-room").fill(room);
  await p.locator(`[data-testid="webhook-bot"] option[value="${bot}"]`).waitFor({ state: "attached" });
  await p.getByTestId("webhook-bot").selectOption(bot);
  if (name) await p.getByTestId("webhook-name").fill(name);
  await p.getByTestId("webhook-create").click();
  const url = (await p.getByTestId("webhook-url").textContent()).trim();
  const curl = (await p.getByTestId("webhook-curl").textContent()).trim();
  return { url, curl };
}

/** The login screen is shown (after a sign-out the app went back to it). */
export async function waitLoginScreen(u, timeout = 10_000) {
  await u.page.getByTestId("login-form").waitFor({ timeout });
}

/** The author shown for message `text` in the room in view: {name, handle, deleted, bot, title}. */
export async function authorOf(u, text) {
  const li = u.page.getByTestId("message").filter({ has: u.page.getByTestId("message-text").getByText(text, { exact: true }) });
  await li.waitFor();
  return li.evaluate((el) => {
    const a = el.querySelector('[data-testid="message-author"]');
    return {
      author: el.dataset.author,
      name: el.querySelector('[data-testid="message-author-name"]')?.textContent ?? "",
      handle: el.querySelector('[data-testid="message-author-handle"]')?.textContent ?? "",
      deleted: a?.dataset.deletedUser === "true",
      title: a?.getAttribute("title") ?? "",
      bot: el.dataset.bot === "true" && el.querySelector('[data-testid="bot-badge"]') !== null,
    };
  });
}
