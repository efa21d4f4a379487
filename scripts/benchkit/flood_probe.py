"""The well-behaved client of scripts/bench --flood, run as its own process:

  /usr/bin/python3 -m benchkit.flood_probe CONFIG_JSON      (cwd: scripts/)

It keeps, for the whole run:
  - `ws_sessions` browser-like WebSocket sessions through ws-bridge (user
    `ws_token`'s cookie), each joined to a room of its own (`room`-w1, -w2, ...),
    each sending a message every `ws_interval_ms`;
  - `grpc_sessions` native Connect streams to chat-core (`grpc_token`), in rooms
    `room`-g1, ..., each sending a message every `grpc_interval_ms`;
and each measures its own send -> receive latency (its room's `message` event
carrying its own clientMsgId). Several sessions give more samples a second than
the bridge's per-socket event limit allows one, so a p99 rests on more than its
few worst samples. Once a second it also logs in through the bridge
(`login_user`, then logs that session out again) and opens a fresh WebSocket (up to
its first `pong`): what a user arriving during a flood gets.

Protocol with the driver (scripts/benchkit/flood.py): it prints "ready" once both
sessions have joined; each stdin line "phase NAME" tags what follows with NAME
(samples of phase "gap" are kept out of every figure); "end" stops the senders,
waits `grace_s` for answers, prints one JSON object of per-phase figures and
exits. A session that ends is opened again; what it had in flight counts as lost.
"""
import asyncio
import os
import http.client
import json
import sys
import time

from . import flood_wire as wire

GAP = "gap"


def percentile(values, q):
    """The q-th percentile (0-100) of `values`, nearest rank; None if empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Path:
    """One session's samples: clientMsgId -> [phase, sent, received or None]."""

    def __init__(self, name):
        self.name = name
        self.samples = {}
        self.pending = set()
        self.disconnects = []  # (phase, why)
        self.errors = {}  # "phase code" -> count of error events it got

    def sent(self, cmid, phase):
        self.samples[cmid] = [phase, time.monotonic(), None]
        self.pending.add(cmid)

    def received(self, cmid):
        s = self.samples.get(cmid)
        if s is not None and s[2] is None:
            s[2] = time.monotonic()
            self.pending.discard(cmid)

    def lost_all(self, prefix):
        """Session `prefix` ended: what it had in flight will not come back."""
        self.pending = {c for c in self.pending if not c.startswith(prefix)}

    def figures(self, phase):
        rows = [s for s in self.samples.values() if s[0] == phase]
        lat = [(s[2] - s[1]) * 1000.0 for s in rows if s[2] is not None]
        if os.environ.get("CHAT_FLOOD_SAMPLES"):  # debugging aid: every sample, with its send time
            with open(os.environ["CHAT_FLOOD_SAMPLES"], "a") as f:
                for s in rows:
                    f.write("%s %s %.4f %s\n" % (phase, self.name, s[1], "lost" if s[2] is None else
                                                  "%.3f" % ((s[2] - s[1]) * 1000.0)))
        return {"sent": len(rows), "received": len(lat), "lost": len(rows) - len(lat),
                "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "max_ms": max(lat) if lat else None,
                "disconnects": [why for p, why in self.disconnects if p == phase],
                "errors": {k.split(" ", 1)[1]: v for k, v in self.errors.items() if k.split(" ", 1)[0] == phase}}


class Probe:
    def __init__(self, cfg):
        self.cfg = cfg
        host, port = cfg["bridge"].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.phase = GAP
        self.running = True
        self.ws = Path("ws")
        self.grpc = Path("grpc")
        self.joined = asyncio.Semaphore(0)  # released by each join of a session
        self.logins = []   # (phase, ok, what, ms)
        self.sockets = []  # (phase, ok, what, ms)

    # --- the WebSocket session -------------------------------------------------
    async def ws_session(self, k):
        n = 0
        room, prefix = "%s-w%d" % (self.cfg["room"], k), "w%d-" % k
        while self.running:
            why = "?"
            try:
                reader, writer, status = await wire.ws_connect(self.host, self.port, self.cfg["ws_token"])
                if status != 101:
                    why = "upgrade answered %d" % status
                    raise ConnectionError(why)
                writer.write(wire.event({"ref": "j", "join": {"room": room}}))
                sender = None
                try:
                    while True:
                        op, payload = await wire.read_frame(reader)
                        if op == wire.OP_CLOSE:
                            why = "close %d %s" % (wire.close_code(payload), payload[2:].decode(errors="replace"))
                            break
                        if op == wire.OP_PING:
                            writer.write(wire.frame(payload, wire.OP_PONG))
                            continue
                        if op != wire.OP_TEXT:
                            continue
                        for line in payload.decode().split("\n"):
                            ev = json.loads(line)
                            if "message" in ev:
                                self.ws.received(ev["message"].get("clientMsgId", ""))
                            elif "joined" in ev and sender is None:
                                self.joined.release()
                                sender = asyncio.ensure_future(self.ws_sender(writer, n, room, prefix))
                            elif "error" in ev:
                                key = "%s %s" % (self.phase, ev["error"].get("code", "?"))
                                self.ws.errors[key] = self.ws.errors.get(key, 0) + 1
                finally:
                    if sender:
                        sender.cancel()
                        got = await asyncio.gather(sender, return_exceptions=True)
                        n = got[0] if isinstance(got[0], int) else n
                    wire.close_quietly(writer)
            except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError) as e:
                why = why if why != "?" else type(e).__name__
            if not self.running:
                return
            self.ws.disconnects.append((self.phase, why))
            self.ws.lost_all(prefix)
            await asyncio.sleep(0.2)

    async def ws_sender(self, writer, n, room, prefix):
        interval = self.cfg["ws_interval_ms"] / 1000.0
        try:
            while self.running:
                n += 1
                cmid = "%s%d" % (prefix, n)
                self.ws.sent(cmid, self.phase)
                writer.write(wire.event({"send": {"room": room, "text": "probe", "clientMsgId": cmid}}))
                await asyncio.sleep(interval)
        except asyncio.CancelledError:
            pass
        return n

    # --- the Connect stream ------------------------------------------------------
    async def grpc_session(self, k):
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
        n = 0
        room, prefix = "%s-g%d" % (self.cfg["room"], k), "g%d-" % k
        while self.running:
            why = "?"
            channel = grpc.aio.insecure_channel(self.cfg["core"])
            call = None
            sender = None
            try:
                stub = chat_pb2_grpc.ChatServiceStub(channel)
                call = stub.Connect(metadata=(("authorization", "Bearer " + self.cfg["grpc_token"]),))
                await call.write(chat_pb2.ClientEvent(ref="j", join=chat_pb2.JoinRequest(room=room)))
                while True:
                    ev = await call.read()
                    if ev is grpc.aio.EOF:
                        why = "stream ended"
                        break
                    kind = ev.WhichOneof("event")
                    if kind == "message":
                        self.grpc.received(ev.message.client_msg_id)
                    elif kind == "joined" and sender is None:
                        self.joined.release()
                        sender = asyncio.ensure_future(self.grpc_sender(call, chat_pb2, n, room, prefix))
                    elif kind == "error":
                        key = "%s %s" % (self.phase, chat_pb2.Error.Code.Name(ev.error.code))
                        self.grpc.errors[key] = self.grpc.errors.get(key, 0) + 1
            except grpc.aio.AioRpcError as e:
                why = "%s %s" % (e.code().name, e.details())
            except (grpc.aio.UsageError, asyncio.InvalidStateError) as e:
                why = type(e).__name__
            finally:
                if sender:
                    sender.cancel()
                    got = await asyncio.gather(sender, return_exceptions=True)
                    n = got[0] if isinstance(got[0], int) else n
                if call:
                    call.cancel()
                await channel.close()
            if not self.running:
                return
            self.grpc.disconnects.append((self.phase, why))
            self.grpc.lost_all(prefix)
            await asyncio.sleep(0.2)

    async def grpc_sender(self, call, chat_pb2, n, room, prefix):
        interval = self.cfg["grpc_interval_ms"] / 1000.0
        try:
            while self.running:
                n += 1
                cmid = "%s%d" % (prefix, n)
                self.grpc.sent(cmid, self.phase)
                await call.write(chat_pb2.ClientEvent(send=chat_pb2.SendRequest(
                    room=room, text="probe", client_msg_id=cmid)))
                await asyncio.sleep(interval)
        except (asyncio.CancelledError, Exception):  # the stream ended under it: the reader says why
            pass
        return n

    # --- arriving users ------------------------------------------------------------
    def login_once(self):
        """Log in as login_user through the bridge, then log that session out: (ok, what)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            body = json.dumps({"username": self.cfg["login_user"], "password": self.cfg["login_password"]})
            conn.request("POST", "/api/login", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            text = r.read().decode(errors="replace")
            if r.status != 200:
                code = json.loads(text).get("code", "") if text.startswith("{") else ""
                return False, "%d %s" % (r.status, code)
            cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
            conn.request("POST", "/api/logout", "{}", {"Content-Type": "application/json", "Cookie": cookie})
            r = conn.getresponse()
            r.read()
            return True, "ok" if r.status == 200 else "logout %d" % r.status
        except (OSError, http.client.HTTPException) as e:
            return False, type(e).__name__
        finally:
            conn.close()

    async def new_socket_once(self):
        """A fresh WebSocket up to its first pong: (ok, what)."""
        writer = None
        try:
            reader, writer, status = await wire.ws_connect(self.host, self.port, self.cfg["ws_token"])
            if status != 101:
                return False, "upgrade %d" % status
            writer.write(wire.event({"ref": "c", "ping": {"nonce": "1"}}))
            while True:
                op, payload = await wire.read_frame(reader)
                if op == wire.OP_CLOSE:
                    return False, "close %d" % wire.close_code(payload)
                if op == wire.OP_TEXT and any('"pong"' in l for l in payload.decode().split("\n")):
                    writer.write(wire.frame(b"\x03\xe8", wire.OP_CLOSE))
                    return True, "ok"
        except (OSError, asyncio.IncompleteReadError) as e:
            return False, type(e).__name__
        finally:
            if writer:
                wire.close_quietly(writer)

    async def arrivals(self):
        loop = asyncio.get_running_loop()
        period = self.cfg["arrival_interval_ms"] / 1000.0
        while self.running:
            t0 = time.monotonic()
            phase = self.phase
            ok, what = await loop.run_in_executor(None, self.login_once)
            self.logins.append((phase, ok, what, (time.monotonic() - t0) * 1000.0))
            t1 = time.monotonic()
            try:
                ok, what = await asyncio.wait_for(self.new_socket_once(), 5)
            except asyncio.TimeoutError:
                ok, what = False, "no pong in 5 s"
            self.sockets.append((phase, ok, what, (time.monotonic() - t1) * 1000.0))
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))

    # --- the driver's commands -------------------------------------------------------
    async def commands(self):
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "end":
                return
            if line.startswith("phase "):
                self.phase = line.split(" ", 1)[1].strip()

    def figures(self):
        phases = []
        for p in [s[0] for s in self.ws.samples.values()] + [s[0] for s in self.grpc.samples.values()] + \
                [l[0] for l in self.logins]:
            if p != GAP and p not in phases:
                phases.append(p)
        out = {}
        for p in phases:
            def side(items):
                mine = [i for i in items if i[0] == p]
                fails = {}
                for i in mine:
                    if not i[1]:
                        fails[i[2]] = fails.get(i[2], 0) + 1
                return {"tried": len(mine), "ok": sum(1 for i in mine if i[1]), "failures": fails,
                        "max_ms": max([i[3] for i in mine] or [0.0])}
            out[p] = {"ws": self.ws.figures(p), "grpc": self.grpc.figures(p), "logins": side(self.logins),
                      "new_sockets": side(self.sockets)}
        return out

    async def run(self):
        tasks = [asyncio.ensure_future(self.ws_session(k)) for k in range(1, self.cfg["ws_sessions"] + 1)]
        tasks += [asyncio.ensure_future(self.grpc_session(k)) for k in range(1, self.cfg["grpc_sessions"] + 1)]

        async def all_joined():
            for _ in tasks:
                await self.joined.acquire()
        try:
            await asyncio.wait_for(all_joined(), 20)
        except asyncio.TimeoutError:
            print(json.dumps({"error": "the probe's sessions did not join in 20 s: ws %s, grpc %s" % (
                self.ws.disconnects[-3:], self.grpc.disconnects[-3:])}), flush=True)
            return 1
        print("ready", flush=True)
        tasks.append(asyncio.ensure_future(self.arrivals()))
        await self.commands()
        self.phase = GAP
        deadline = time.monotonic() + self.cfg["grace_s"]
        while (self.ws.pending or self.grpc.pending) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.running = False
        print(json.dumps(self.figures()), flush=True)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return 0


def main():
    cfg = json.loads(sys.argv[1])
    sys.path.insert(0, cfg["py_out"])
    return asyncio.run(Probe(cfg).run())


if __name__ == "__main__":
    sys.exit(main())
