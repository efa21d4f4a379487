"""The churning clients of scripts/bench --soak, run as their own process:

  /usr/bin/python3 -m benchkit.soak_churn CONFIG_JSON      (cwd: scripts/)

chat-bench keeps the steady part of the soak's load (long-lived readers and
writers); this adds what a long-lived client does not: sessions that come and go.
Each of `ws_clients` WebSocket guests (through ws-bridge) and `grpc_clients` gRPC
guests (a Connect stream straight to chat-core) repeats a cycle until stdin says
"end" (or closes):

  connect (a fresh TCP connection; for gRPC a fresh channel) -> join a room ->
  send `sends` messages and wait for their acks -> fetch a history page (on the
  stream; gRPC also by the GetHistory call) -> leave -> join a second room -> end
  the session: cleanly (close frame / half-close) on most cycles, abruptly (the
  TCP connection dropped, the call cancelled) on every `abort_every`-th

and counts what worked. Every wait has a deadline (`step_timeout_s`); a cycle that
misses one counts as a failure with its reason, and the client starts over. On
"end" it finishes, prints one JSON object of figures and exits.
"""
import asyncio
import json
import random
import sys
import time

from . import flood_wire as wire


class Figures:
    def __init__(self):
        self.cycles = 0
        self.aborted = 0  # cycles that ended the session abruptly, on purpose
        self.acks = 0
        self.histories = 0
        self.history_messages = 0
        self.failures = {}  # why -> count

    def fail(self, why):
        self.failures[why] = self.failures.get(why, 0) + 1

    def as_dict(self):
        return {"cycles": self.cycles, "aborted_on_purpose": self.aborted, "acks": self.acks,
                "histories": self.histories, "history_messages": self.history_messages,
                "failures": self.failures}


class Churn:
    def __init__(self, cfg):
        self.cfg = cfg
        host, port = cfg["bridge"].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.running = True
        self.ws = Figures()
        self.grpc = Figures()
        self.rand = random.Random(cfg.get("seed", 1))

    async def waiting(self, coro, what):
        """`coro`, or ConnectionError("no WHAT in N s") past the step's deadline."""
        try:
            return await asyncio.wait_for(coro, self.cfg["step_timeout_s"])
        except asyncio.TimeoutError:
            raise ConnectionError("no %s in %g s" % (what, self.cfg["step_timeout_s"]))

    def rooms(self):
        a, b = self.rand.sample(self.cfg["rooms"], 2)
        return a, b

    # --- WebSocket ------------------------------------------------------------------
    async def ws_until(self, reader, writer, pending, want):
        """Reads frames (answering pings) until an event has key `want`; returns it.
        `pending`: the events of frames read but not yet looked at (a frame may carry
        several events: two acks in one frame are two answers)."""
        while True:
            while pending:
                ev = pending.pop(0)
                if want in ev:
                    return ev
                if "error" in ev:
                    raise ConnectionError("error %s" % ev["error"].get("code", "?"))
            op, payload = await wire.read_frame(reader)
            if op == wire.OP_CLOSE:
                raise ConnectionError("close %d" % wire.close_code(payload))
            if op == wire.OP_PING:
                writer.write(wire.frame(payload, wire.OP_PONG))
                continue
            if op == wire.OP_TEXT:
                pending.extend(json.loads(line) for line in payload.decode().split("\n"))

    async def ws_cycle(self, k, n):
        timeout = self.cfg["step_timeout_s"]
        first, second = self.rooms()
        reader, writer, status = await asyncio.wait_for(
            wire.ws_connect(self.host, self.port, "", path="/ws?user=soak-w%d" % k), timeout)
        if status != 101:
            raise ConnectionError("upgrade answered %d" % status)
        pending = []
        try:
            writer.write(wire.event({"ref": "j", "join": {"room": first}}))
            await self.waiting(self.ws_until(reader, writer, pending, "joined"), "joined")
            for i in range(self.cfg["sends"]):
                writer.write(wire.event({"send": {"room": first, "text": "soak churn %d" % i,
                                                  "clientMsgId": "w%d-%d-%d" % (k, n, i)}}))
            for _ in range(self.cfg["sends"]):
                await self.waiting(self.ws_until(reader, writer, pending, "ack"), "ack")
                self.ws.acks += 1
            writer.write(wire.event({"ref": "h", "history": {"room": first, "limit": self.cfg["history_limit"]}}))
            h = await self.waiting(self.ws_until(reader, writer, pending, "history"), "history")
            self.ws.histories += 1
            self.ws.history_messages += len(h["history"].get("messages", []))
            writer.write(wire.event({"ref": "l", "leave": {"room": first}}))
            await self.waiting(self.ws_until(reader, writer, pending, "left"), "left")
            writer.write(wire.event({"ref": "j2", "join": {"room": second}}))
            await self.waiting(self.ws_until(reader, writer, pending, "joined"), "joined")
            if n % self.cfg["abort_every"] == 0:
                writer.transport.abort()  # the connection just drops: no close frame, no FIN wait
                self.ws.aborted += 1
            else:
                writer.write(wire.frame(b"\x03\xe8", wire.OP_CLOSE))
                try:
                    await self.waiting(self.ws_until(reader, writer, pending, "never"), "close frame back")
                except ConnectionError as e:
                    if not str(e).startswith("close "):
                        raise
                    # the bridge's close frame answering ours: the clean end
        finally:
            wire.close_quietly(writer)

    # --- gRPC -----------------------------------------------------------------------
    async def grpc_until(self, call, want):
        import grpc
        while True:
            ev = await call.read()
            if ev is grpc.aio.EOF:
                raise ConnectionError("stream ended")
            kind = ev.WhichOneof("event")
            if kind == want:
                return ev
            if kind == "error":
                raise ConnectionError("error %d" % ev.error.code)

    async def grpc_cycle(self, k, n):
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
        timeout = self.cfg["step_timeout_s"]
        first, second = self.rooms()
        md = (("x-chat-user", "soak-g%d" % k),)
        channel = grpc.aio.insecure_channel(self.cfg["core"])
        call = None
        try:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            call = stub.Connect(metadata=md)
            await call.write(chat_pb2.ClientEvent(ref="j", join=chat_pb2.JoinRequest(room=first)))
            await self.waiting(self.grpc_until(call, "joined"), "joined")
            for i in range(self.cfg["sends"]):
                await call.write(chat_pb2.ClientEvent(send=chat_pb2.SendRequest(
                    room=first, text="soak churn %d" % i, client_msg_id="g%d-%d-%d" % (k, n, i))))
            for _ in range(self.cfg["sends"]):
                await self.waiting(self.grpc_until(call, "ack"), "ack")
                self.grpc.acks += 1
            await call.write(chat_pb2.ClientEvent(ref="h", history=chat_pb2.GetHistoryRequest(
                room=first, limit=self.cfg["history_limit"])))
            h = await self.waiting(self.grpc_until(call, "history"), "history")
            page = await stub.GetHistory(chat_pb2.GetHistoryRequest(room=second, limit=self.cfg["history_limit"]),
                                         metadata=md, timeout=timeout)
            self.grpc.histories += 2
            self.grpc.history_messages += len(h.history.messages) + len(page.messages)
            await call.write(chat_pb2.ClientEvent(ref="l", leave=chat_pb2.LeaveRequest(room=first)))
            await self.waiting(self.grpc_until(call, "left"), "left")
            await call.write(chat_pb2.ClientEvent(ref="j2", join=chat_pb2.JoinRequest(room=second)))
            await self.waiting(self.grpc_until(call, "joined"), "joined")
            if n % self.cfg["abort_every"] == 0:
                call.cancel()  # RST_STREAM, then the channel (its TCP connection) goes
                self.grpc.aborted += 1
            else:
                await call.done_writing()
                try:
                    await self.waiting(self.grpc_until(call, "never"), "stream end after half-close")
                except ConnectionError as e:
                    if str(e) != "stream ended":
                        raise
                    # chat-core ended the stream after our half-close: the clean end
        finally:
            if call is not None:
                call.cancel()
            await channel.close()

    # --- the loops ------------------------------------------------------------------
    async def client(self, cycle, figures, k):
        import grpc
        n = 0
        while self.running:
            n += 1
            try:
                await cycle(k, n)
                figures.cycles += 1
            except asyncio.TimeoutError:
                figures.fail("no connection in %g s" % self.cfg["step_timeout_s"])
            except grpc.aio.AioRpcError as e:
                figures.fail("%s %s" % (e.code().name, e.details()))
            except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError) as e:
                figures.fail(str(e) if isinstance(e, ConnectionError) else type(e).__name__)
            await asyncio.sleep(self.cfg["pause_s"] * (0.5 + self.rand.random()))

    async def commands(self):
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "end":
                return

    async def run(self):
        tasks = [asyncio.ensure_future(self.client(self.ws_cycle, self.ws, k))
                 for k in range(1, self.cfg["ws_clients"] + 1)]
        tasks += [asyncio.ensure_future(self.client(self.grpc_cycle, self.grpc, k))
                  for k in range(1, self.cfg["grpc_clients"] + 1)]
        print("ready", flush=True)
        t0 = time.monotonic()
        await self.commands()
        self.running = False
        # Cycles in progress finish (each wait has its deadline), so no session is
        # left open behind the driver's back when it counts descriptors.
        await asyncio.wait(tasks, timeout=3 * self.cfg["step_timeout_s"] + 5)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        print(json.dumps({"seconds": round(time.monotonic() - t0, 1), "ws": self.ws.as_dict(),
                          "grpc": self.grpc.as_dict()}), flush=True)
        return 0


def main():
    cfg = json.loads(sys.argv[1])
    sys.path.insert(0, cfg["py_out"])
    return asyncio.run(Churn(cfg).run())


if __name__ == "__main__":
    sys.exit(main())
