// Debian's chromium driven by playwright-core (never a downloaded browser),
// and page helpers built on the UI's data-testids (web/README.md).

import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (SETUP_BROWSER=1 scripts/setup installs Debian's chromium)`);
  // chromium.launch gives every context its own fresh profile (a temp user-data-dir).
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

const PASSWORD = "correct-horse-9";

/**
 * A logged-in browser user. Each has its own context (cookies, storage).
 * Console errors and page errors are collected so a scenario can assert none happened.
 */
export class BrowserUser {
  constructor(ctx, page, username, baseUrl) {
    this.ctx = ctx;
    this.page = page;
    this.username = username;
    this.baseUrl = baseUrl;
  }

  /**
   * A new browser context and page. With `registerAs`, the account is created
   * through the JSON API first (the cookie lands in this context), so the page
   * opens straight into the chat; without, the page shows the login screen.
   */
  static async open(browser, baseUrl, { viewport = DESKTOP, colorScheme = "light", registerAs = "" } = {}) {
    const ctx = await browser.newContext({ viewport, colorScheme, baseURL: baseUrl });
    ctx.setDefaultTimeout(10_000);
    const page = await ctx.newPage();
    const u = new BrowserUser(ctx, page, registerAs, baseUrl);
    u.pageErrors = [];
    page.on("pageerror", (err) => u.pageErrors.push(String(err)));
    if (registerAs) {
      const res = await ctx.request.post("/api/register", { data: { username: registerAs, password: PASSWORD } });
      if (!res.ok()) throw new Error(`POST /api/register ${registerAs}: ${res.status()} ${await res.text()}`);
    }
    await page.goto("/");
    if (registerAs) await u.waitChat();
    return u;
  }

  /** Registers through the auth screen (which also logs in) and waits for the chat. */
  async register(username, password = PASSWORD) {
    this.username = username;
    const p = this.page;
    await p.getByTestId("login-username").fill(username);
    await p.getByTestId("login-password").fill(password);
    await p.getByTestId("register-submit").click();
    await this.waitChat();
  }

  async login(username, password = PASSWORD) {
    this.username = username;
    const p = this.page;
    await p.getByTestId("login-username").fill(username);
    await p.getByTestId("login-password").fill(password);
    await p.getByTestId("login-submit").click();
    await this.waitChat();
  }

  /** The chat screen is shown and the socket is open (no banner). */
  async waitChat() {
    const p = this.page;
    await p.getByTestId("current-user").waitFor({ state: "attached" }); // in the closed drawer on phones
    await p.getByTestId("connection-banner").waitFor({ state: "detached" });
  }

  /** Selects a room (opening the drawer first on a phone) and waits until its history is loaded. */
  async selectRoom(room) {
    const p = this.page;
    const btn = p.getByTestId(`room-${room}`);
    await btn.waitFor({ state: "attached" }); // the room list comes after the socket opens
    if (!(await btn.isVisible())) await p.getByTestId("sidebar-toggle").click();
    await btn.click();
    await p.locator(`[data-testid="message-list"][data-room="${room}"][data-history="loaded"]`).waitFor();
  }

  /** Waits for a room to show up in the list (from listRooms, refreshed on connect). */
  async waitRoomListed(room, timeout = 10_000) {
    await this.page.getByTestId(`room-${room}`).waitFor({ state: "attached", timeout });
  }

  messages() {
    return this.page.getByTestId("message-list").getByTestId("message");
  }

  /** The rendered messages: [{seq, author, text, status}] in DOM order. */
  async rendered() {
    return this.messages().evaluateAll((els) =>
      els.map((el) => ({
        seq: el.dataset.seq === "" ? null : Number(el.dataset.seq),
        author: el.dataset.author,
        status: el.dataset.status,
        text: el.querySelector('[data-testid="message-text"]')?.textContent ?? "",
      })),
    );
  }

  /**
   * Waits until exactly n messages are rendered, every one confirmed (a seq)
   * and sent, and returns them.
   */
  async settled(n, timeout = 10_000) {
    await this.page.waitForFunction(
      (n) => {
        const els = document.querySelectorAll('[data-testid="message-list"] [data-testid="message"]');
        return els.length === n && Array.from(els).every((el) => el.dataset.seq !== "" && el.dataset.status === "sent");
      },
      n,
      { timeout, polling: 50 },
    ).catch(async (err) => {
      const got = await this.rendered().catch(() => []);
      throw new Error(`${this.username}: expected ${n} sent messages, have ${JSON.stringify(got.map((m) => [m.seq, m.status, m.text]))} (${err.message.split("\n")[0]})`);
    });
    return this.rendered();
  }

  /** Creates a room from the sidebar form and waits until it is the room in view. */
  async createRoom(name) {
    const p = this.page;
    if (!(await p.getByTestId("create-room-input").isVisible())) await p.getByTestId("sidebar-toggle").click();
    await p.getByTestId("create-room-input").fill(name);
    await p.getByTestId("create-room-submit").click();
    await p.locator(`[data-testid="message-list"][data-room="${name}"][data-history="loaded"]`).waitFor();
  }

  /** Types into the composer and presses Enter. */
  async send(text) {
    const c = this.page.getByTestId("composer");
    await c.fill(text);
    await c.press("Enter");
  }

  async close() {
    await this.ctx.close().catch(() => {});
  }
}
