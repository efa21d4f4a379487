// A native gRPC client of chat-core (@grpc/grpc-js + proto-loader on
// proto/chat/v1/chat.proto): accounts, unary ChatService calls, and the
// Connect live stream.

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { randomUUID } from "node:crypto";
import { join } from "node:path";

let pkgCache = null;

function loadPackage(repoRoot) {
  if (pkgCache) return pkgCache;
  const def = protoLoader.loadSync(join(repoRoot, "proto", "chat", "v1", "chat.proto"), {
    includeDirs: [join(repoRoot, "proto")],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  pkgCache = grpc.loadPackageDefinition(def).chat.v1;
  return pkgCache;
}

function unary(client, method, req, metadata, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    client[method](req, metadata ?? new grpc.Metadata(), { deadline, waitForReady: true }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export class GrpcUser {
  /**
   * @param {string} repoRoot  @param {string} addr host:port of chat-core
   * @param {{ca: Buffer, key?: Buffer, cert?: Buffer}} [tls] reach chat-core over TLS (mTLS with key/cert)
   */
  constructor(repoRoot, addr, username, password = "correct-horse-9", tls = null) {
    const pkg = loadPackage(repoRoot);
    this.addr = addr;
    this.username = username;
    this.password = password;
    const creds = () =>
      tls ? grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure();
    this.auth = new pkg.AuthService(addr, creds());
    this.chat = new pkg.ChatService(addr, creds());
    this.token = "";
    this.stream = null;
    /** room → messages received on the live stream, in arrival order */
    this.received = new Map();
    this.events = [];
    this.waiters = new Set();
    this.streamError = null;
  }

  md() {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${this.token}`);
    return m;
  }

  async register() {
    await unary(this.auth, "register", { username: this.username, password: this.password });
    return this.login();
  }

  async login() {
    const res = await unary(this.auth, "login", { username: this.username, password: this.password });
    this.token = res.token;
    return res;
  }

  createRoom(name) {
    return unary(this.chat, "createRoom", { name }, this.md());
  }

  /** SendMessage; retried with the same clientMsgId while chat-core is unavailable. */
  async send(room, text, { clientMsgId = randomUUID(), retryMs = 15_000 } = {}) {
    const until = Date.now() + retryMs;
    for (;;) {
      try {
        const res = await unary(this.chat, "sendMessage", { room, text, clientMsgId }, this.md(), 5000);
        return res.message;
      } catch (err) {
        if (err.code !== grpc.status.UNAVAILABLE || Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  history(room, { beforeSeq, afterSeq, limit = 500, order } = {}) {
    const req = { room, limit };
    if (beforeSeq !== undefined) req.beforeSeq = beforeSeq;
    if (afterSeq !== undefined) req.afterSeq = afterSeq;
    if (order) req.order = order;
    return unary(this.chat, "getHistory", req, this.md());
  }

  /** All messages of a room, oldest first. */
  async allMessages(room) {
    const out = [];
    let after = 0;
    for (;;) {
      const page = await this.history(room, { afterSeq: after, limit: 500, order: "HISTORY_ORDER_OLDEST_FIRST" });
      out.push(...page.messages);
      if (!page.hasMore || page.messages.length === 0) return out;
      after = page.messages[page.messages.length - 1].seq;
    }
  }

  // ---- the live stream -----------------------------------------------------

  connect() {
    this.stream = this.chat.connect(this.md());
    this.stream.on("data", (ev) => {
      this.events.push(ev);
      if (ev.event === "message") {
        const m = ev.message;
        if (!this.received.has(m.room)) this.received.set(m.room, []);
        this.received.get(m.room).push(m);
      }
      for (const w of Array.from(this.waiters)) w.check();
    });
    this.stream.on("error", (err) => {
      this.streamError = err;
      for (const w of Array.from(this.waiters)) w.check();
    });
    this.stream.on("end", () => {});
  }

  /** Waits until pred(events) is truthy. */
  waitFor(pred, what, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          let v;
          try {
            v = pred(this.events);
          } catch (e) {
            v = false;
          }
          if (v) {
            this.waiters.delete(w);
            clearTimeout(t);
            resolve(v);
          } else if (this.streamError) {
            this.waiters.delete(w);
            clearTimeout(t);
            reject(new Error(`gRPC stream failed while waiting for ${what}: ${this.streamError.message}`));
          }
        },
      };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`gRPC client ${this.username}: timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(w);
      w.check();
    });
  }

  async join(room, sinceSeq) {
    const ref = `j-${randomUUID()}`;
    const join = { room };
    if (sinceSeq !== undefined) join.sinceSeq = sinceSeq;
    this.stream.write({ ref, join });
    const ev = await this.waitFor((evs) => evs.find((e) => e.ref === ref && (e.event === "joined" || e.event === "error")), `joined ${room}`);
    if (ev.event === "error") throw new Error(`join ${room}: ${ev.error.code} ${ev.error.message}`);
    return ev.joined;
  }

  /** Waits until the stream has delivered at least n messages in the room. */
  waitMessages(room, n, timeoutMs = 10_000) {
    return this.waitFor(() => (this.received.get(room)?.length ?? 0) >= n, `${n} messages in ${room}`, timeoutMs);
  }

  /** Whether the stream's joined/member events say `user` is in `room` now. */
  isPresent(room, user) {
    let present = false;
    for (const e of this.events) {
      if (e.event === "joined" && e.joined.room === room) present = e.joined.members.includes(user);
      if (e.event === "member" && e.member.room === room && e.member.user === user) present = e.member.kind === "JOINED";
    }
    return present;
  }

  /** Waits until `user` is (or is no longer) in `room`, as seen on this stream (join it first). */
  waitPresence(room, user, present = true, timeoutMs = 10_000) {
    return this.waitFor(() => this.isPresent(room, user) === present, `${user} ${present ? "in" : "out of"} ${room}`, timeoutMs);
  }

  messagesIn(room) {
    return this.received.get(room) ?? [];
  }

  close() {
    if (this.stream) {
      try {
        this.stream.end();
        this.stream.cancel();
      } catch {
        /* ignore */
      }
      this.stream = null;
    }
    this.auth.close();
    this.chat.close();
  }
}
