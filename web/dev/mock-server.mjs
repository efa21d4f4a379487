#!/usr/bin/env node
// A stand-in for ws-bridge + chat-core, for developing and eyeballing the UI
// without the C++ servers. Not used by the build or the unit tests.
//
//   npm run build && node dev/mock-server.mjs [--port 8090]
//
// Serves dist/ (index.html for unknown paths), the /api JSON endpoints with an
// in-memory cookie session, and /ws speaking the chat.v1 canonical JSON
// protocol (joins with sinceSeq replay, history paging, idempotent sends,
// typing, presence, rooms; private rooms, DMs, membership and moderation in
// mock-membership.mjs). No dependencies: the WebSocket framing is written
// out below (RFC 6455, server side, text frames only).
//
// Test hooks:
//   POST /mock/drop?code=1012           close every socket with that code
//   POST /mock/say?room=lobby&user=bob&text=hi   post a message as someone
//   POST /mock/typing?room=lobby&user=bob        someone starts typing
//   POST /mock/refuse?on=1              refuse WebSocket upgrades (503) until ?on=0

import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { handleMembership, initMembership, maySee, roomView } from "./mock-membership.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const DIST = resolve(here, "..", "dist");
const argPort = process.argv.indexOf("--port");
const PORT = Number(argPort > 0 ? process.argv[argPort + 1] : process.env.PORT || 8090);

// ---------------------------------------------------------------------------
// Chat state

const users = new Map(); // lower(username) -> {username, password}
const sessions = new Map(); // token -> username
const rooms = new Map(); // name -> {name, createdAt, createdBy, messages: [], members: Map<user, count>, ids: Map}
const sockets = new Set();
let refuse = false;

function makeRoom(name, createdBy = "", kind = "PUBLIC") {
  const r = { name, createdAt: new Date().toISOString(), createdBy, messages: [], members: new Map(), ids: new Map() };
  initMembership(r, kind, createdBy);
  rooms.set(name, r);
  return r;
}
makeRoom("lobby");

function msgJson(m) {
  const o = { room: m.room, seq: String(m.seq), author: m.author, text: m.text, sentAt: m.sentAt };
  if (m.clientMsgId) o.clientMsgId = m.clientMsgId;
  if (m.deleted) o.deleted = true;
  return o;
}

function post(room, author, text, clientMsgId = "") {
  const key = `${author.toLowerCase()}\u0000${clientMsgId}`;
  if (clientMsgId && room.ids.has(key)) return { msg: room.ids.get(key), duplicate: true };
  const msg = { room: room.name, seq: room.messages.length + 1, author, text, sentAt: new Date().toISOString(), clientMsgId };
  room.messages.push(msg);
  if (clientMsgId) room.ids.set(key, msg);
  broadcast(room, { message: msgJson(msg) });
  return { msg, duplicate: false };
}

function broadcast(room, ev, except = null) {
  for (const s of sockets) if (s !== except && s.rooms.has(room.name)) s.queue(ev);
}

// ---------------------------------------------------------------------------
// WebSocket framing

function encodeFrame(opcode, payload) {
  const len = payload.length;
  let head;
  if (len < 126) head = Buffer.from([0x80 | opcode, len]);
  else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

class Session {
  constructor(sock, user) {
    this.sock = sock;
    this.user = user;
    this.rooms = new Set();
    this.buf = Buffer.alloc(0);
    this.frag = [];
    this.out = [];
    this.closed = false;
    sock.on("data", (d) => this.onData(d));
    sock.on("close", () => this.teardown());
    sock.on("error", () => this.teardown());
  }

  /** Events queued in one tick leave in one frame, separated by \n (like the bridge). */
  queue(ev) {
    if (this.closed) return;
    this.out.push(JSON.stringify(ev));
    if (this.out.length === 1) setImmediate(() => this.flush());
  }

  flush() {
    if (this.closed || this.out.length === 0) return;
    const text = this.out.join("\n");
    this.out = [];
    this.sock.write(encodeFrame(1, Buffer.from(text)));
  }

  close(code, reason = "") {
    if (this.closed) return;
    this.flush();
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code, 0);
    p.write(reason, 2);
    this.sock.write(encodeFrame(8, p));
    this.sock.end();
    this.teardown();
  }

  teardown() {
    if (this.closed) return;
    this.closed = true;
    sockets.delete(this);
    for (const name of this.rooms) this.leaveRoom(name);
  }

  leaveRoom(name) {
    const r = rooms.get(name);
    this.rooms.delete(name);
    if (!r) return;
    const n = (r.members.get(this.user) ?? 1) - 1;
    if (n <= 0) {
      r.members.delete(this.user);
      broadcast(r, { member: { room: name, user: this.user, kind: "LEFT" } });
    } else r.members.set(this.user, n);
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const need = off + (masked ? 4 : 0) + len;
      if (this.buf.length < need) return;
      const mask = masked ? this.buf.subarray(off, off + 4) : null;
      const payload = Buffer.from(this.buf.subarray(off + (masked ? 4 : 0), need));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.buf = this.buf.subarray(need);
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      if (op === 8) {
        this.close(1000);
        return;
      }
      if (op === 9) {
        this.sock.write(encodeFrame(10, payload));
        continue;
      }
      if (op === 10) continue;
      if (op === 1 || op === 0) {
        this.frag.push(payload);
        if (fin) {
          const text = Buffer.concat(this.frag).toString("utf8");
          this.frag = [];
          this.onText(text);
        }
      }
    }
  }

  onText(text) {
    let ev;
    try {
      ev = JSON.parse(text);
    } catch {
      this.queue({ error: { code: "INVALID_ARGUMENT", message: "not JSON" } });
      return;
    }
    const ref = typeof ev.ref === "string" && ev.ref ? { ref: ev.ref } : {};
    const err = (code, message, event, extra = {}) => this.queue({ ...ref, error: { code, message, event, ...extra } });

    if (ev.join) {
      const r = rooms.get(ev.join.room);
      if (!r || !maySee(r, this.user)) return err("NOT_FOUND", `no room '${ev.join.room}'`, "join", { room: ev.join.room });
      if (r.banned.has(this.user.toLowerCase())) return err("PERMISSION_DENIED", `banned from room '${r.name}'`, "join", { room: r.name });
      if (ev.join.sinceSeq !== undefined) {
        const since = Number(ev.join.sinceSeq);
        for (const m of r.messages.slice(since)) this.queue({ message: msgJson(m) });
      }
      if (!this.rooms.has(r.name)) {
        this.rooms.add(r.name);
        const n = r.members.get(this.user) ?? 0;
        r.members.set(this.user, n + 1);
        if (n === 0) broadcast(r, { member: { room: r.name, user: this.user, kind: "JOINED" } }, this);
      }
      const j = { room: r.name, members: [...r.members.keys()], memberCount: r.members.size };
      if (r.messages.length) j.latestSeq = String(r.messages.length);
      this.queue({ ...ref, joined: j });
    } else if (ev.leave) {
      this.leaveRoom(ev.leave.room);
      this.queue({ ...ref, left: { room: ev.leave.room } });
    } else if (ev.send) {
      const { room, text: body, clientMsgId } = ev.send;
      const r = rooms.get(room);
      if (!r || !this.rooms.has(room))
        return err("FAILED_PRECONDITION", `not joined to ${room}`, "send", { clientMsgId, room });
      if (!body || body.length > 4000)
        return err("INVALID_ARGUMENT", "text must be 1-4000 characters", "send", { clientMsgId, room });
      if (body === "/fail") return err("RESOURCE_EXHAUSTED", "slow down (mock)", "send", { clientMsgId, room });
      if (r.archived) return err("FAILED_PRECONDITION", `room '${room}' is archived`, "send", { clientMsgId, room });
      const { msg, duplicate } = post(r, this.user, body, clientMsgId || "");
      const ack = { room, clientMsgId, seq: String(msg.seq) };
      if (duplicate) ack.duplicate = true;
      this.queue({ ...ref, ack });
    } else if (ev.typing) {
      const r = rooms.get(ev.typing.room);
      if (r && this.rooms.has(r.name)) {
        const t = { room: r.name, user: this.user };
        if (ev.typing.active) t.active = true;
        broadcast(r, { typing: t });
      }
    } else if (ev.ping) {
      this.queue({ ...ref, pong: { nonce: String(ev.ping.nonce ?? "0") } });
    } else if (ev.history) {
      const h = ev.history;
      const r = rooms.get(h.room);
      if (!r || !maySee(r, this.user)) return err("NOT_FOUND", `no room '${h.room}'`, "history", { room: h.room });
      const limit = Math.min(500, Number(h.limit) || 50);
      let page;
      let hasMore;
      let newestFirst;
      if (h.afterSeq !== undefined) {
        const after = Number(h.afterSeq);
        page = r.messages.slice(after, after + limit);
        hasMore = after + limit < r.messages.length;
        newestFirst = h.order === "HISTORY_ORDER_NEWEST_FIRST";
      } else {
        const before = h.beforeSeq !== undefined ? Number(h.beforeSeq) : r.messages.length + 1;
        const end = Math.max(0, before - 1);
        const start = Math.max(0, end - limit);
        page = r.messages.slice(start, end);
        hasMore = start > 0;
        newestFirst = h.order !== "HISTORY_ORDER_OLDEST_FIRST";
      }
      if (newestFirst) page = [...page].reverse();
      const out = { room: r.name };
      if (page.length) out.messages = page.map(msgJson);
      if (hasMore) out.hasMore = true;
      this.queue({ ...ref, history: out });
    } else if (ev.listRooms) {
      const visible = [...rooms.values()].filter((r) => maySee(r, this.user));
      this.queue({ ...ref, rooms: { rooms: visible.map((r) => roomView(r, this.user)) } });
    } else if (ev.createRoom) {
      const { name, kind, topic } = ev.createRoom;
      if (!/^[a-z0-9._-]{1,64}$/.test(name ?? "") || name.startsWith("dm."))
        return err("INVALID_ARGUMENT", "room name must be 1-64 of [a-z0-9._-], not starting dm.", "createRoom");
      if (rooms.has(name)) return err("ALREADY_EXISTS", `room ${name} already exists`, "createRoom");
      const r = makeRoom(name, this.user, kind === "ROOM_KIND_PRIVATE" ? "PRIVATE" : "PUBLIC");
      r.topic = topic ?? "";
      this.queue({ ...ref, room: roomView(r, this.user) });
      for (const s of sockets) if (maySee(r, s.user)) s.queue({ roomChanged: { kind: "CREATED", room: roomView(r, s.user) } });
    } else if (!handleMembership(this, ev, ref, err, { rooms, users, sockets, makeRoom, broadcast, msgJson })) {
      err("INVALID_ARGUMENT", "unknown event", "");
    }
  }
}

// ---------------------------------------------------------------------------
// HTTP

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

function userOf(req) {
  return sessions.get(cookies(req).chat_session ?? "") ?? null;
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req) {
  return new Promise((ok) => {
    let s = "";
    req.on("data", (d) => (s += d));
    req.on("end", () => {
      try {
        ok(JSON.parse(s || "{}"));
      } catch {
        ok(null);
      }
    });
  });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

function serveStatic(req, res, pathname) {
  let file = normalize(join(DIST, decodeURIComponent(pathname)));
  if (!file.startsWith(DIST)) return json(res, 403, {});
  if (!existsSync(file) || statSync(file).isDirectory()) file = join(DIST, "index.html");
  if (!existsSync(file)) return json(res, 404, { code: "NOT_FOUND", message: "run npm run build first" });
  const hashed = file.includes(`${join(DIST, "assets")}`);
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Cache-Control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
  });
  createReadStream(file).pipe(res);
}

const session = (username) => {
  const token = randomBytes(24).toString("base64url");
  sessions.set(token, username);
  return token;
};
const expires = () => new Date(Date.now() + 7 * 864e5).toISOString().replace(/\.\d+Z$/, "Z");
const setCookie = (token) => `chat_session=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800`;

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const p = url.pathname;
  if (p === "/api/register" && req.method === "POST") {
    const b = await readBody(req);
    const u = String(b?.username ?? "");
    if (!/^[a-zA-Z0-9_.-]{3,32}$/.test(u))
      return json(res, 400, { code: "INVALID_ARGUMENT", message: "username must be 3-32 characters of [a-zA-Z0-9_.-]" });
    if (String(b?.password ?? "").length < 8)
      return json(res, 400, { code: "INVALID_ARGUMENT", message: "password must be at least 8 characters" });
    if (users.has(u.toLowerCase())) return json(res, 409, { code: "ALREADY_EXISTS", message: `username ${u} is taken` });
    users.set(u.toLowerCase(), { username: u, password: b.password });
    return json(res, 200, { username: u, expiresAt: expires() }, { "Set-Cookie": setCookie(session(u)) });
  }
  if (p === "/api/login" && req.method === "POST") {
    const b = await readBody(req);
    const rec = users.get(String(b?.username ?? "").toLowerCase());
    if (!rec || rec.password !== b.password)
      return json(res, 401, { code: "UNAUTHENTICATED", message: "wrong username or password" });
    return json(res, 200, { username: rec.username, expiresAt: expires() }, { "Set-Cookie": setCookie(session(rec.username)) });
  }
  if (p === "/api/logout" && req.method === "POST") {
    const token = cookies(req).chat_session;
    const user = sessions.get(token ?? "");
    sessions.delete(token ?? "");
    for (const s of [...sockets]) if (s.user === user && s.token === token) s.close(1008, "logged out");
    return json(res, 200, {}, { "Set-Cookie": "chat_session=; Path=/; HttpOnly; Max-Age=0" });
  }
  if (p === "/api/me") {
    const u = userOf(req);
    if (!u) return json(res, 401, { code: "UNAUTHENTICATED", message: "not logged in" });
    return json(res, 200, { username: u, expiresAt: expires() });
  }
  if (p.startsWith("/mock/") && req.method === "POST") {
    const q = url.searchParams;
    if (p === "/mock/drop") for (const s of [...sockets]) s.close(Number(q.get("code") ?? 1012), q.get("reason") ?? "");
    if (p === "/mock/refuse") refuse = q.get("on") === "1";
    if (p === "/mock/say") {
      const r = rooms.get(q.get("room") ?? "lobby");
      if (!r) return json(res, 404, {});
      post(r, q.get("user") ?? "bot", q.get("text") ?? "hello");
    }
    if (p === "/mock/typing") {
      const r = rooms.get(q.get("room") ?? "lobby");
      if (r) broadcast(r, { typing: { room: r.name, user: q.get("user") ?? "bot", active: true } });
    }
    return json(res, 200, {});
  }
  if (p.startsWith("/api/")) return json(res, 404, { code: "NOT_FOUND", message: "no such endpoint" });
  serveStatic(req, res, p);
});

server.on("upgrade", (req, sock) => {
  const url = new URL(req.url ?? "/", "http://x");
  const token = cookies(req).chat_session ?? "";
  const user = sessions.get(token);
  if (url.pathname !== "/ws" || !user || refuse) {
    sock.end(`HTTP/1.1 ${refuse ? "503 Service Unavailable" : "401 Unauthorized"}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    return;
  }
  const accept = createHash("sha1")
    .update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest("base64");
  sock.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  sock.setNoDelay(true);
  const s = new Session(sock, user);
  s.token = token;
  sockets.add(s);
});

server.listen(PORT, "127.0.0.1", () => {
  console.log(`mock chat server on http://127.0.0.1:${PORT} (serving ${DIST})`);
});
