// chat-core + ws-bridge as real processes on free ports, in a temp dir.
//
// chat-core can be killed (SIGKILL) and started again on the same address and
// database, which keeps users, tokens and messages.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, createWriteStream, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** Starts a process and resolves with the address it prints after `prefix`. */
function startProcess(argv, prefix, logPath, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const log = createWriteStream(logPath, { flags: "a" });
    child.stderr.pipe(log, { end: false });
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${argv[0]} printed no "${prefix}" within ${timeoutMs} ms (log: ${logPath})`)), timeoutMs);
    const finish = (err, addr) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill("SIGKILL");
        reject(err);
      } else resolve({ child, addr });
    };
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      log.write(`[stdout] ${line}\n`);
      if (line.startsWith(prefix)) finish(null, line.slice(prefix.length).trim());
    });
    child.on("error", (err) => finish(err));
    child.on("exit", (code, sig) => {
      log.end(`[exit] code=${code} signal=${sig}\n`);
      finish(new Error(`${argv[0]} exited (code ${code}, signal ${sig}) before listening (log: ${logPath})`));
    });
  });
}

function waitExit(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export class Stack {
  constructor({ buildDir, webRoot, logDir }) {
    this.coreBin = join(buildDir, "chat-core", "chat-core");
    this.bridgeBin = join(buildDir, "ws-bridge", "ws-bridge");
    for (const b of [this.coreBin, this.bridgeBin]) if (!existsSync(b)) throw new Error(`missing binary ${b} (build first)`);
    this.webRoot = webRoot;
    this.logDir = logDir;
    this.dir = mkdtempSync(join(tmpdir(), "chat-e2e-"));
    this.db = join(this.dir, "chat.db");
    this.core = null;
    this.bridge = null;
    this.coreAddr = "";
    this.bridgeAddr = "";
  }

  get baseUrl() {
    return `http://${this.bridgeAddr}`;
  }

  async startCore() {
    const listen = this.coreAddr || "127.0.0.1:0";
    const argv = [
      this.coreBin,
      `--listen=${listen}`,
      `--db=${this.db}`,
      "--pwhash_memlimit_kib=64",
      "--pwhash_opslimit=1",
      "--log_level=warning",
    ];
    // A restart on the same port may race the old socket's release: retry a few times.
    let lastErr;
    for (let i = 0; i < 10; i++) {
      try {
        const { child, addr } = await startProcess(argv, "chat-core listening on ", join(this.logDir, "chat-core.log"));
        this.core = child;
        this.coreAddr = addr;
        return;
      } catch (err) {
        lastErr = err;
        if (!this.coreAddr) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw lastErr;
  }

  async startBridge() {
    const argv = [
      this.bridgeBin,
      "--listen=127.0.0.1:0",
      `--core=${this.coreAddr}`,
      `--web_root=${this.webRoot}`,
      "--log_level=warning",
    ];
    const { child, addr } = await startProcess(argv, "ws-bridge listening on ", join(this.logDir, "ws-bridge.log"));
    this.bridge = child;
    this.bridgeAddr = addr;
  }

  async start() {
    await this.startCore();
    await this.startBridge();
  }

  /** SIGKILL chat-core (no clean shutdown) and wait for it to be gone. */
  async killCore() {
    const c = this.core;
    this.core = null;
    if (!c) return;
    c.kill("SIGKILL");
    await waitExit(c);
  }

  /** Starts chat-core again if a scenario left it down, and waits until the bridge reaches it. */
  async ensureUp(timeoutMs = 15_000) {
    if (!this.core) await this.startCore();
    const until = Date.now() + timeoutMs;
    while ((await this.health()) !== 200) {
      if (Date.now() > until) throw new Error("ws-bridge /healthz did not become 200");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** GET /healthz status code. */
  async health() {
    try {
      const res = await fetch(`${this.baseUrl}/healthz`);
      return res.status;
    } catch {
      return 0;
    }
  }

  async stop() {
    for (const c of [this.bridge, this.core]) {
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill("SIGTERM");
        await waitExit(c, 3000);
        if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      }
    }
    this.bridge = this.core = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
