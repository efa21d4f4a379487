// chat-core + ws-bridge as real processes on free ports, in a temp dir.
//
// chat-core can be killed (SIGKILL) and started again on the same address and
// database, which keeps users, tokens and messages. A process that exits when
// the stack did not stop it is reported (and started again by ensureUp), so a
// failure can be told apart from something outside killing the processes.

import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";

/** The username chat-core treats as a server admin (--admins); nobody has it until a scenario registers it. */
export const ADMIN = "site.admin";

/** chat-core and ws-bridge refuse to run as root unless told to; CI runs as root. */
const ALLOW_ROOT = process.getuid?.() === 0 ? ["--allow_root"] : [];

/** Starts a process and resolves with the address it prints after `prefix`. */
function startProcess(argv, prefix, logPath, onExit, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const log = createWriteStream(logPath, { flags: "a" });
    log.write(`[start] ${new Date().toISOString()} ${argv.join(" ")}\n`);
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
      log.end(`[exit] ${new Date().toISOString()} code=${code} signal=${sig}\n`);
      finish(new Error(`${argv[0]} exited (code ${code}, signal ${sig}) before listening (log: ${logPath})`));
      onExit(child, code, sig);
    });
  });
}

/** GET over HTTPS trusting `ca`: the status code, 0 on any failure. */
function httpsStatus(url, ca) {
  return new Promise((resolve) => {
    const req = httpsGet(url, { ca, timeout: 3000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

function running(child) {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

function waitExit(child, timeoutMs = 5000) {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * How long ws-bridge keeps the browsers' WebSockets open while chat-core is
 * down, waiting for it (or another node) to take over; after that it closes
 * them with 1012 and the browsers reconnect on their own.
 */
export const FAILOVER_SECONDS = 8;

export class Stack {
  /**
   * `tls`: a folder made by tests/testing/make-test-certs; the stack then
   * serves HTTPS/WSS on https://localhost:PORT and the bridge reaches
   * chat-core over mTLS (docs/security.md, "TLS").
   */
  constructor({ buildDir, webRoot, logDir, tls = "", coreArgs = [] }) {
    this.tls = tls;
    /**
     * More chat-core flags (e.g. "--registration=invite"). A scenario may
     * change them and restart chat-core (killCore, then ensureUp): the
     * database stays.
     */
    this.coreArgs = coreArgs;
    this.buildDir = buildDir;
    this.coreBin = join(buildDir, "chat-core", "chat-core");
    this.bridgeBin = join(buildDir, "ws-bridge", "ws-bridge");
    for (const b of [this.coreBin, this.bridgeBin]) if (!existsSync(b)) throw new Error(`missing binary ${b} (build first)`);
    this.webRoot = webRoot;
    this.logDir = logDir;
    this.dir = mkdtempSync(join(tmpdir(), "chat-e2e-"));
    // Run copies: a rebuild of the build dir during the run (which replaces the
    // files) must not break the restart of chat-core halfway through.
    for (const key of ["coreBin", "bridgeBin"]) {
      const copy = join(this.dir, basename(this[key]));
      copyFileSync(this[key], copy);
      chmodSync(copy, 0o755);
      this[key] = copy;
    }
    this.db = join(this.dir, "chat.db");
    this.core = null;
    this.bridge = null;
    this.coreAddr = "";
    this.bridgeAddr = "";
    /** Children we stopped on purpose. */
    this.expected = new WeakSet();
    /** Exits nobody asked for: "ws-bridge exited (code 0, signal null) at …". */
    this.unexpectedExits = [];
  }

  get baseUrl() {
    if (this.tls) return `https://localhost:${this.bridgeAddr.split(":").pop()}`;
    return `http://${this.bridgeAddr}`;
  }

  onExit(name) {
    return (child, code, sig) => {
      if (this.expected.has(child)) return;
      const what = `${name} (pid ${child.pid}) exited unexpectedly (code ${code}, signal ${sig}) at ${new Date().toISOString()}`;
      this.unexpectedExits.push(what);
      console.error(`e2e: ${what}; see its log in ${this.logDir}`);
    };
  }

  async startCore() {
    const listen = this.coreAddr || "127.0.0.1:0";
    const argv = [
      this.coreBin,
      `--listen=${listen}`,
      `--db=${this.db}`,
      "--pwhash_memlimit_kib=64",
      "--pwhash_opslimit=1",
      // Every scenario's users register from 127.0.0.1: more than the default 30 an hour.
      "--max_registrations_per_ip_per_hour=1000",
      // A server admin for the scenarios that need one (registered by the first that does).
      `--admins=${ADMIN}`,
      "--log_level=info",
      ...ALLOW_ROOT,
      ...this.coreArgs,
    ];
    if (this.tls) {
      argv.push(`--tls_cert=${this.tls}/server.pem`, `--tls_key=${this.tls}/server.key`, `--tls_client_ca=${this.tls}/ca.pem`);
    }
    // A restart on the same port may race the old socket's release: retry a few times.
    let lastErr;
    for (let i = 0; i < 10; i++) {
      try {
        const { child, addr } = await startProcess(argv, "chat-core listening on ", join(this.logDir, "chat-core.log"), this.onExit("chat-core"));
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
      `--failover_timeout=${FAILOVER_SECONDS}s`,
      "--log_level=info",
      ...ALLOW_ROOT,
    ];
    if (this.tls) {
      argv[2] = `--core=localhost:${this.coreAddr.split(":").pop()}`;
      argv.push(`--tls_cert=${this.tls}/server.pem`, `--tls_key=${this.tls}/server.key`, "--hsts_max_age=1h",
        `--core_ca=${this.tls}/ca.pem`, `--core_cert=${this.tls}/client.pem`, `--core_key=${this.tls}/client.key`);
    }
    const { child, addr } = await startProcess(argv, "ws-bridge listening on ", join(this.logDir, "ws-bridge.log"), this.onExit("ws-bridge"));
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
    this.expected.add(c);
    c.kill("SIGKILL");
    await waitExit(c);
  }

  /**
   * Starts whatever is not running (chat-core left down by a scenario, or a
   * process that died) and waits until the bridge reaches chat-core.
   */
  async ensureUp(timeoutMs = 15_000) {
    if (!running(this.core)) await this.startCore();
    if (!running(this.bridge)) await this.startBridge();
    const until = Date.now() + timeoutMs;
    while ((await this.health()) !== 200) {
      if (Date.now() > until) throw new Error("ws-bridge /healthz did not become 200");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** GET /healthz status code (0 when the bridge does not answer). */
  async health() {
    if (this.tls) return httpsStatus(`${this.baseUrl}/healthz`, readFileSync(`${this.tls}/ca.pem`));
    try {
      const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  async stop() {
    for (const c of [this.bridge, this.core]) {
      if (c) this.expected.add(c);
      if (running(c)) {
        c.kill("SIGTERM");
        await waitExit(c, 3000);
        if (running(c)) c.kill("SIGKILL");
      }
    }
    this.bridge = this.core = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
