"""The attackers of scripts/bench --flood, one process per flood so its own CPU use
shows (docs/benchmarks.md, "Floods"):

  /usr/bin/python3 -m benchkit.flood_attacks KIND CONFIG_JSON      (cwd: scripts/)

KIND is one of ATTACKS below. Once started it prints "ready" and waits for "go"
on stdin (so its start-up is not measured), attacks for `seconds`, then prints one JSON
object: {"kind", "saw": {what the attacker saw: answer -> count}, "cpu_s"} and
exits. Attacks that work per address bind their sockets to 127.0.0.2, 127.0.0.3,
... (the probe is 127.0.0.1); the gRPC ones come from 127.0.0.1 (grpcio cannot
choose its source address). Every rate is an upper bound: the attacker sends
as fast as the server answers, up to it.
"""
import asyncio
import importlib
import json
import os
import resource
import sys
import time

from . import flood_wire as wire


class Saw(dict):
    """Counts what the attacker saw, and the most sockets it held open at once."""

    def __init__(self):
        super().__init__()
        self.open = 0

    def add(self, what, n=1):
        self[what] = self.get(what, 0) + n

    def opened(self):
        self.open += 1
        self["most open at once"] = max(self.get("most open at once", 0), self.open)

    def closed(self):
        self.open -= 1


class Pace:
    """At most `rate` starts a second over all workers (0: no limit)."""

    def __init__(self, rate):
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next = time.monotonic()

    async def wait(self, deadline):
        """Waits for the next start; False if that would come after `deadline`."""
        if not self.gap:
            return left(deadline) > 0
        now = time.monotonic()
        self.next = max(self.next + self.gap, now)
        if self.next >= deadline:
            return False
        if self.next > now:
            await asyncio.sleep(self.next - now)
        return True


def source(i, per_addr):
    """The source address of the i-th socket: 127.0.0.2 onwards, `per_addr` sockets each."""
    return "127.0.0.%d" % (2 + min(250, i // max(1, per_addr)))


def after(seconds):
    """A lifetime as a coarse bucket, for "closed by the server after ..." counts."""
    for limit, name in ((0.1, "<0.1 s"), (1, "<1 s"), (5.5, "<5.5 s"), (30, "<30 s")):
        if seconds < limit:
            return name
    return ">=30 s"


def left(deadline):
    return max(0.0, deadline - time.monotonic())


def error_code(body):
    try:
        return json.loads(body).get("code", "")
    except ValueError:
        return ""


# --- (a) connections from one address ------------------------------------------------
async def attack_conn(cfg, deadline, saw):
    """`conn_count` TCP connections from one address, held silent; each one the server
    closes is opened again at once (at most `conn_rate` connects a second)."""
    pace = Pace(cfg["conn_rate"])

    async def worker():
        while await pace.wait(deadline):
            try:
                reader, writer = await asyncio.wait_for(
                    wire.open_tcp(cfg["host"], cfg["port"], cfg["conn_source"], limit=1024), left(deadline) + 0.01)
            except asyncio.TimeoutError:  # its SYN unanswered until the end (the server's backlog full)
                saw.add("connect still pending at the end")
                return
            except OSError as e:
                saw.add("connect failed: " + (os.strerror(e.errno) if e.errno else type(e).__name__))
                await asyncio.sleep(0.05)
                continue
            saw.add("connected")
            saw.opened()
            t0 = time.monotonic()
            try:
                data = await asyncio.wait_for(reader.read(4096), left(deadline))
                saw.add("closed by the server after %s" % after(time.monotonic() - t0) if not data else
                        "answered before any request")
            except asyncio.TimeoutError:
                saw.add("still open at the end")
            except OSError:
                saw.add("reset by the server after %s" % after(time.monotonic() - t0))
            saw.closed()
            wire.close_quietly(writer)

    await asyncio.gather(*(worker() for _ in range(cfg["conn_count"])))


# --- (b) wrong logins, (c) registrations: HTTP POSTs on keep-alive connections ----------
async def post_flood(cfg, deadline, saw, workers, rate, per_addr, make_body, path):
    pace = Pace(rate)
    hostport = "%s:%d" % (cfg["host"], cfg["port"])
    counter = [0]

    async def worker(i):
        writer = None
        while left(deadline) > 0:
            try:
                if writer is None:
                    reader, writer = await wire.open_tcp(cfg["host"], cfg["port"], source(i, per_addr))
                if not await pace.wait(deadline):
                    break
                counter[0] += 1
                writer.write(wire.request_bytes("POST", path, hostport, make_body(counter[0])))
                status, headers, body = await asyncio.wait_for(wire.read_response(reader), left(deadline) + 5)
                saw.add(("%d %s" % (status, error_code(body))).strip())
                if headers.get("connection", "").lower() == "close":
                    wire.close_quietly(writer)
                    writer = None
            except asyncio.TimeoutError:
                saw.add("no answer")
                break
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                saw.add("connection: " + type(e).__name__)
                if writer:
                    wire.close_quietly(writer)
                writer = None
                await asyncio.sleep(0.05)
        if writer:
            wire.close_quietly(writer)

    await asyncio.gather(*(worker(i) for i in range(workers)))


async def attack_login(cfg, deadline, saw):
    """Wrong passwords for the probe's own user, from `login_addrs` addresses."""
    per_addr = -(-cfg["login_workers"] // max(1, cfg["login_addrs"]))
    await post_flood(cfg, deadline, saw, cfg["login_workers"], cfg["login_rate"], per_addr,
                     lambda n: {"username": cfg["target_user"], "password": "wrong-guess-%d" % n}, "/api/login")


async def attack_register(cfg, deadline, saw):
    """New accounts, each a fresh name, from `register_addrs` addresses."""
    per_addr = -(-cfg["register_workers"] // max(1, cfg["register_addrs"]))
    tag = "%x" % os.getpid()
    await post_flood(cfg, deadline, saw, cfg["register_workers"], cfg["register_rate"], per_addr,
                     lambda n: {"username": "r%s-%d" % (tag, n), "password": "flood password %d" % n},
                     "/api/register")


# --- (d) rooms and (e) streams over gRPC -------------------------------------------------
async def attack_rooms(cfg, deadline, saw):
    """CreateRoom with fresh names as one signed-in user, straight to chat-core."""
    import grpc
    from chat.v1 import chat_pb2, chat_pb2_grpc
    pace = Pace(cfg["rooms_rate"])
    tag = "%x" % os.getpid()
    md = (("authorization", "Bearer " + cfg["token"]),)
    counter = [0]
    async with grpc.aio.insecure_channel(cfg["core"]) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)

        async def worker():
            while await pace.wait(deadline):
                counter[0] += 1
                try:
                    await stub.CreateRoom(chat_pb2.CreateRoomRequest(name="f-%s-%d" % (tag, counter[0])),
                                          metadata=md, timeout=left(deadline) + 5)
                    saw.add("created")
                except grpc.aio.AioRpcError as e:
                    saw.add(e.code().name)

        await asyncio.gather(*(worker() for _ in range(cfg["rooms_workers"])))


async def attack_streams(cfg, deadline, saw):
    """As many live sessions as one user can hold: `streams_grpc` Connect streams (100 to
    a channel) and `streams_ws` WebSockets (200 to a source address), each opened
    once, checked with a ping, then held."""
    import grpc
    from chat.v1 import chat_pb2, chat_pb2_grpc
    md = (("authorization", "Bearer " + cfg["token"]),)
    # A connection of its own for each 100 streams (grpcio would share one between
    # channels to the same address).
    channels = [grpc.aio.insecure_channel(cfg["core"], options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(-(-cfg["streams_grpc"] // 100))]

    async def grpc_stream(i):
        call = chat_pb2_grpc.ChatServiceStub(channels[i // 100]).Connect(metadata=md)
        state = ["refused"]

        async def session():
            await call.write(chat_pb2.ClientEvent(ref="p", ping=chat_pb2.PingRequest(nonce=1)))
            while True:
                ev = await call.read()
                if ev is grpc.aio.EOF:
                    return "ended"
                if ev.WhichOneof("event") == "pong" and state[0] == "refused":
                    state[0] = "opened"
                    saw.add("Connect stream opened")
                    saw.opened()

        # Cancelling a pending grpc.aio read can wedge the call; the call is
        # cancelled instead, which ends the read.
        task = asyncio.ensure_future(session())
        await asyncio.wait([task], timeout=left(deadline))
        if not task.done():
            if state[0] == "opened":
                saw.add("Connect stream held to the end")
            call.cancel()
            await asyncio.wait([task], timeout=2)
            return
        try:
            saw.add("Connect stream %s: %s" % (state[0], task.result()))
        except grpc.aio.AioRpcError as e:
            saw.add("Connect stream %s: %s" % (state[0], e.code().name))
        except (grpc.aio.UsageError, asyncio.InvalidStateError) as e:
            saw.add("Connect stream %s: %s" % (state[0], type(e).__name__))

    async def websocket(i):
        writer = None
        try:
            reader, writer, status = await wire.ws_connect(cfg["host"], cfg["port"], cfg["token"], source(i, 200))
            if status != 101:
                saw.add("WebSocket upgrade answered %d" % status)
                return
            writer.write(wire.event({"ref": "p", "ping": {"nonce": "1"}}))
            state = "refused"
            while True:
                op, payload = await asyncio.wait_for(wire.read_frame(reader), left(deadline))
                if op == wire.OP_CLOSE:
                    saw.add("WebSocket %s: close %d" % (state, wire.close_code(payload)))
                    return
                if op == wire.OP_PING:
                    writer.write(wire.frame(payload, wire.OP_PONG))
                elif op == wire.OP_TEXT and b'"pong"' in payload and state == "refused":
                    state = "opened"
                    saw.add("WebSocket opened")
                    saw.opened()
        except asyncio.TimeoutError:
            saw.add("WebSocket held to the end")
        except (OSError, asyncio.IncompleteReadError) as e:
            saw.add("WebSocket: " + type(e).__name__)
        finally:
            if writer:
                wire.close_quietly(writer)

    try:
        await asyncio.gather(*[grpc_stream(i) for i in range(cfg["streams_grpc"])],
                             *[websocket(i) for i in range(cfg["streams_ws"])])
    finally:
        for c in channels:
            await c.close()


# --- (f) greedy history readers ----------------------------------------------------------
async def attack_history(cfg, deadline, saw):
    """`history_sockets` WebSockets (over the users of `tokens`, 50 to a source address)
    that never read, each asking `history_rate` times a second for a page of
    `history_limit` messages of room `history_room`; one that the server ends is
    opened again after half a second."""
    tokens = cfg["tokens"]
    req = wire.event({"ref": "h", "history": {"room": cfg["history_room"], "limit": cfg["history_limit"]}})

    async def worker(i):
        while left(deadline) > 0:
            try:
                reader, writer, status = await wire.ws_connect(cfg["host"], cfg["port"], tokens[i % len(tokens)],
                                                               source(i, 50), rcvbuf=4096, limit=4096)
            except OSError as e:
                saw.add("connect: " + type(e).__name__)
                await asyncio.sleep(0.5)
                continue
            if status != 101:
                saw.add("upgrade answered %d" % status)
                await asyncio.sleep(0.5)
                continue
            saw.add("opened")
            saw.opened()
            t0 = time.monotonic()
            try:
                while left(deadline) > 0:
                    if writer.is_closing() or reader.at_eof():
                        raise ConnectionResetError()
                    writer.write(req)
                    saw.add("history requests sent")
                    await asyncio.wait_for(writer.drain(), left(deadline) + 0.01)
                    await asyncio.sleep(min(left(deadline), 1.0 / cfg["history_rate"]))
                saw.add("held to the end")
            except asyncio.TimeoutError:
                saw.add("held to the end (the server stopped reading)")
            except OSError:
                saw.add("ended by the server after %s" % after(time.monotonic() - t0))
                await asyncio.sleep(0.5)
            finally:
                saw.closed()
                wire.close_quietly(writer)

    await asyncio.gather(*(worker(i) for i in range(cfg["history_sockets"])))


# --- (g) binary frames --------------------------------------------------------------------
async def attack_binary(cfg, deadline, saw):
    """`binary_sockets` WebSockets of one user sending 64-byte binary frames, together at
    most `binary_rate` a second; answers and close codes are read and counted; a socket
    the server closes is opened again after 0.2 s."""
    per_socket = cfg["binary_rate"] / max(1, cfg["binary_sockets"])
    blob = wire.frame(os.urandom(64), wire.OP_BINARY)

    async def reader_task(reader):
        while True:
            op, payload = await wire.read_frame(reader)
            if op == wire.OP_CLOSE:
                saw.add("close %d" % wire.close_code(payload))
                return
            if op == wire.OP_TEXT:
                for line in payload.decode().split("\n"):
                    ev = json.loads(line)
                    saw.add("error %s" % ev["error"].get("code") if "error" in ev else "other answer")

    async def worker(i):
        while left(deadline) > 0:
            try:
                reader, writer, status = await wire.ws_connect(cfg["host"], cfg["port"], cfg["token"],
                                                               source(i, 200))
            except OSError as e:
                saw.add("connect: " + type(e).__name__)
                await asyncio.sleep(0.2)
                continue
            if status != 101:
                saw.add("upgrade answered %d" % status)
                await asyncio.sleep(0.2)
                continue
            saw.add("opened")
            rt = asyncio.ensure_future(reader_task(reader))
            try:
                t0, sent = time.monotonic(), 0
                while left(deadline) > 0 and not rt.done():
                    due = int((time.monotonic() - t0) * per_socket) + 1 - sent
                    if due > 0:
                        writer.write(blob * due)
                        sent += due
                        saw.add("binary frames sent", due)
                        await asyncio.wait_for(writer.drain(), left(deadline) + 0.01)
                    await asyncio.sleep(0.01)
            except (OSError, asyncio.TimeoutError):
                pass
            finally:
                rt.cancel()
                await asyncio.gather(rt, return_exceptions=True)
                wire.close_quietly(writer)
            if left(deadline) > 0:
                await asyncio.sleep(0.2)

    await asyncio.gather(*(worker(i) for i in range(cfg["binary_sockets"])))


# --- (h) slowloris and idle keep-alive ------------------------------------------------------
async def attack_slow(cfg, deadline, saw):
    """`slow_count` connections, `slow_per_addr` to a source address: half trickle a
    request's headers (a line every `slow_interval` s, never ending them), half send
    GET /healthz every `keepalive_interval` s on one keep-alive connection. A closed
    one is opened again after 0.1 s."""
    hostport = "%s:%d" % (cfg["host"], cfg["port"])

    async def hold(reader, writer, slowloris):
        """Works one connection until the deadline (True) or until the server ends it."""
        next_send = time.monotonic()
        if slowloris:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: " + hostport.encode() + b"\r\n")
            next_send += cfg["slow_interval"]
        while left(deadline) > 0:
            if time.monotonic() >= next_send:
                if slowloris:
                    writer.write(b"X-Slow: 1\r\n")
                else:
                    writer.write(wire.request_bytes("GET", "/healthz", hostport))
                    try:
                        await asyncio.wait_for(wire.read_response(reader), left(deadline) + 1)
                    except asyncio.TimeoutError:
                        return True
                    saw.add("keep-alive requests answered")
                next_send = time.monotonic() + (cfg["slow_interval"] if slowloris else cfg["keepalive_interval"])
            try:
                data = await asyncio.wait_for(reader.read(4096),
                                              max(0.0, min(left(deadline), next_send - time.monotonic())))
            except asyncio.TimeoutError:
                continue
            if not data:
                return False
            saw.add("slowloris answered before the close" if slowloris else "keep-alive: unasked data")
        return True

    async def worker(i):
        slowloris = i % 2 == 0
        kind = "slowloris" if slowloris else "keep-alive"
        while left(deadline) > 0:
            try:
                reader, writer = await wire.open_tcp(cfg["host"], cfg["port"], source(i, cfg["slow_per_addr"]),
                                                     limit=4096)
            except OSError as e:
                saw.add("connect: " + (os.strerror(e.errno) if e.errno else type(e).__name__))
                await asyncio.sleep(0.1)
                continue
            saw.opened()
            t0 = time.monotonic()
            try:
                held = await hold(reader, writer, slowloris)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                held = False
            finally:
                saw.closed()
                wire.close_quietly(writer)
            if held:
                saw.add("%s held to the end" % kind)
                return
            saw.add("%s closed by the server after %s" % (kind, after(time.monotonic() - t0)))
            await asyncio.sleep(0.1)

    await asyncio.gather(*(worker(i) for i in range(cfg["slow_count"])))


ATTACKS = {"conn": attack_conn, "login": attack_login, "register": attack_register, "rooms": attack_rooms,
           "streams": attack_streams, "history": attack_history, "binary": attack_binary, "slow": attack_slow}


async def run(kind, cfg):
    saw = Saw()
    deadline = time.monotonic() + cfg["seconds"]
    try:
        await asyncio.wait_for(ATTACKS[kind](cfg, deadline, saw), cfg["seconds"] + 10)
    except asyncio.TimeoutError:
        saw.add("attacker overran its time")
    return saw


def main():
    kind, cfg = sys.argv[1], json.loads(sys.argv[2])
    sys.path.insert(0, cfg["py_out"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Start-up (the interpreter, grpc's import) happens before the flood is
    # measured: a real attacker starts on a machine of its own.
    for module in ("grpc", "chat.v1.chat_pb2", "chat.v1.chat_pb2_grpc"):
        importlib.import_module(module)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    saw = asyncio.run(run(kind, cfg))
    t = os.times()
    print(json.dumps({"kind": kind, "saw": dict(saw), "cpu_s": round(t.user + t.system, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
