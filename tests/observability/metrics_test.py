#!/usr/bin/python3
"""Prometheus metrics of chat-core and ws-bridge (--metrics_listen), scraped
from the real binaries with a real Prometheus text parser (Debian's
python3-prometheus-client) while browsers (Python websockets) and a gRPC
client (Python grpcio) chat: the counters must move as messages flow. Also
the refusals: a bad --metrics_listen, or one whose port is taken, stops the
process with one clear line and a non-zero exit. Run by CTest:

  /usr/bin/python3 metrics_test.py --build-dir BUILD --py-out BUILD/tests/py
"""
import argparse
import asyncio
import json
import os
import queue
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Scrape, Stack, http, root_flags  # noqa: E402

ARGS = None
PASSWORD = "correct horse battery"
MESSAGES = 25


async def read_events(ws, pred, want, timeout=10):
    """Reads frames (each may hold several events) until `want` events match."""
    got = []
    deadline = time.time() + timeout
    while len([e for e in got if pred(e)]) < want:
        frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.time()))
        got.extend(json.loads(line) for line in frame.split("\n"))
    return got


# Joins the lobby on a Connect stream, says so, and waits to be killed.
VANISHING_CLIENT = """
import sys, threading, grpc
from chat.v1 import chat_pb2, chat_pb2_grpc
channel = grpc.insecure_channel(sys.argv[1])
never = threading.Event()
def requests():
    yield chat_pb2.ClientEvent(join=chat_pb2.JoinRequest(room="lobby"))
    never.wait()
stream = chat_pb2_grpc.ChatServiceStub(channel).Connect(requests(), metadata=[("authorization", "Bearer " + sys.argv[2])])
for ev in stream:
    if ev.HasField("joined"):
        print("joined", flush=True)
        never.wait()
"""


def wait_for(predicate, what, timeout=10):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(ARGS.build_dir)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def scrape(self):
        return Scrape(self.stack.core_metrics), Scrape(self.stack.bridge_metrics)

    def test_every_documented_family_is_there_with_its_type(self):
        core, bridge = self.scrape()
        # prometheus_client names a counter's family without "_total".
        want = {
            core: {
                "chat_core_streams_open": "gauge", "chat_core_sessions_open": "gauge", "chat_core_rooms": "gauge",
                "chat_core_room_members": "gauge", "chat_core_room_sessions": "gauge",
                "chat_core_stream_queue_events": "gauge", "chat_core_stream_queue_events_max": "gauge",
                "chat_core_serving": "gauge",
                "chat_core_messages_stored": "counter", "chat_core_duplicate_sends": "counter",
                "chat_core_room_events_queued": "counter", "chat_core_stream_events_written": "counter",
                "chat_core_streams_ended": "counter", "chat_core_logins": "counter",
                "chat_core_registrations": "counter", "chat_core_logouts": "counter",
                "chat_core_tokens_refused": "counter", "chat_core_sessions_expired": "counter",
                "chat_core_gateway_streams_refused": "counter", "chat_core_gateway_sessions_refused": "counter",
                "chat_core_event_errors": "counter",
                "chat_core_store_commit_seconds": "histogram", "chat_core_store_commit_writes": "histogram",
                "chat_core_fanout_seconds": "histogram",
            },
            bridge: {
                "chat_bridge_connections_open": "gauge", "chat_bridge_websockets_open": "gauge",
                "chat_bridge_sessions": "gauge", "chat_bridge_rooms": "gauge", "chat_bridge_room_sessions": "gauge",
                "chat_bridge_gateway_up": "gauge", "chat_bridge_gateway_node": "gauge",
                "chat_bridge_queue_events": "gauge", "chat_bridge_queue_bytes": "gauge",
                "chat_bridge_queue_events_max": "gauge",
                "chat_bridge_websockets_opened": "counter", "chat_bridge_websockets_closed": "counter",
                "chat_bridge_gateway_connects": "counter", "chat_bridge_room_events": "counter",
                "chat_bridge_deliveries": "counter", "chat_bridge_disconnects": "counter",
                "chat_bridge_events_refused": "counter", "chat_bridge_connections_refused": "counter",
                "chat_bridge_upgrades_refused": "counter",
                "chat_bridge_fanout_seconds": "histogram",
            },
        }
        for scrape, families in want.items():
            for name, kind in families.items():
                self.assertIn(name, scrape.families, name)
                self.assertEqual(scrape.type(name), kind, name)
        self.assertEqual(core.value("chat_core_serving"), 1)
        self.assertEqual(bridge.value("chat_bridge_gateway_up"), 1)
        self.assertEqual(bridge.value("chat_bridge_gateway_node", node=self.stack.core_addr), 1)
        self.assertEqual(core.value("chat_core_streams_open", kind="gateway"), 1)

    def test_the_docs_and_the_dashboard_name_only_real_metrics(self):
        import re
        core, bridge = self.scrape()
        served = set()
        for scrape in (core, bridge):
            for f in scrape.families.values():
                served.update(s.name for s in f.samples)
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")
        with open(os.path.join(root, "operations.md")) as f:
            documented = set(re.findall(r"^\| `(chat_(?:core|bridge)_[a-z_]+)` \|", f.read(), re.M))
        with open(os.path.join(root, "grafana-dashboard.json")) as f:
            exprs = [t["expr"] for p in json.load(f)["panels"] for t in p.get("targets", [])]
        used = set(re.findall(r"chat_(?:core|bridge)_[a-z_]+", " ".join(exprs)))
        self.assertGreater(len(documented), 40)
        for name in sorted(documented | used):
            self.assertTrue(name in served or name + "_count" in served, name + " is not served")
        # ...and every family served is documented.
        for name in sorted(served):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name.startswith("chat_"):
                self.assertTrue(name in documented or base in documented, name + " is not documented")

    def test_counters_move_as_messages_flow(self):
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
        core0, bridge0 = self.scrape()

        # A gRPC client on a Connect stream, in the lobby.
        channel = grpc.insecure_channel(self.stack.core_addr)
        auth = chat_pb2_grpc.AuthServiceStub(channel)
        auth.Register(chat_pb2.RegisterRequest(username="mgrpc", password=PASSWORD), timeout=10)
        token = auth.Login(chat_pb2.LoginRequest(username="mgrpc", password=PASSWORD), timeout=10).token
        with self.assertRaises(grpc.RpcError) as bad:
            auth.Login(chat_pb2.LoginRequest(username="mgrpc", password="not the password"), timeout=10)
        self.assertEqual(bad.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        outbox = queue.Queue()

        def requests():
            while True:
                item = outbox.get()
                if item is None:
                    return
                yield item

        stream = chat_pb2_grpc.ChatServiceStub(channel).Connect(
            requests(), metadata=[("authorization", "Bearer " + token)])
        outbox.put(chat_pb2.ClientEvent(join=chat_pb2.JoinRequest(room="lobby")))
        for ev in stream:
            if ev.HasField("joined"):
                break

        cookie_b = self.stack.register_and_login("mbob", PASSWORD)

        async def browsers():
            a = await self.stack.websocket(self.stack.register_and_login("malice", PASSWORD))
            b = await self.stack.websocket(cookie_b)
            for w in (a, b):
                await w.send(json.dumps({"join": {"room": "lobby"}}))
                await read_events(w, lambda e: "joined" in e, 1)
            # Open, joined: the state gauges see both processes' sessions.
            core, bridge = self.scrape()
            self.assertEqual(core.value("chat_core_streams_open", kind="connect"), 1)
            self.assertEqual(core.value("chat_core_sessions_open", kind="connect"), 1)
            self.assertEqual(core.value("chat_core_sessions_open", kind="gateway"), 2)
            self.assertGreaterEqual(core.value("chat_core_room_members"), 3)
            self.assertGreaterEqual(core.value("chat_core_room_sessions"), 3)
            self.assertGreaterEqual(core.value("chat_core_rooms"), 1)
            self.assertEqual(bridge.value("chat_bridge_websockets_open"), 2)
            self.assertEqual(bridge.value("chat_bridge_sessions"), 2)
            self.assertEqual(bridge.value("chat_bridge_rooms"), 1)
            self.assertEqual(bridge.value("chat_bridge_room_sessions"), 2)
            self.assertGreaterEqual(bridge.value("chat_bridge_connections_open"), 2)
            for i in range(MESSAGES):
                await a.send(json.dumps({"send": {"room": "lobby", "text": "m%d" % i, "clientMsgId": "c%d" % i}}))
            for w in (a, b):
                await read_events(w, lambda e: "message" in e, MESSAGES)
            # An unknown room: an error event, counted by its code.
            await a.send(json.dumps({"join": {"room": "no-such-room"}}))
            await read_events(a, lambda e: "error" in e, 1)
            return a, b

        loop = asyncio.new_event_loop()
        a, b = loop.run_until_complete(browsers())
        got = 0
        for ev in stream:
            if ev.HasField("message"):
                got += 1
            if got == MESSAGES:
                break

        def moved():
            core, bridge = self.scrape()
            return (core.value("chat_core_stream_events_written_total", kind="connect") -
                    core0.value("chat_core_stream_events_written_total", kind="connect") >= MESSAGES)
        wait_for(moved, "the Connect stream's writes to be counted")
        core, bridge = self.scrape()

        def delta(now, before, sample, **labels):
            return now.value(sample, **labels) - before.value(sample, **labels)

        self.assertEqual(delta(core, core0, "chat_core_messages_stored_total"), MESSAGES)
        self.assertGreaterEqual(delta(core, core0, "chat_core_room_events_queued_total", kind="gateway"), MESSAGES)
        self.assertGreaterEqual(delta(core, core0, "chat_core_room_events_queued_total", kind="connect"), MESSAGES)
        self.assertGreaterEqual(delta(core, core0, "chat_core_stream_events_written_total", kind="gateway"), MESSAGES)
        self.assertGreaterEqual(delta(core, core0, "chat_core_store_commit_seconds_count"), 1)
        self.assertGreaterEqual(delta(core, core0, "chat_core_store_commit_writes_sum"), MESSAGES)
        self.assertEqual(delta(core, core0, "chat_core_fanout_seconds_count"), MESSAGES)
        self.assertEqual(core.value("chat_core_fanout_seconds_count"),
                         core.value("chat_core_fanout_seconds_bucket", le="+Inf"))
        # (The bridge's /api/register logs in too.)
        self.assertGreaterEqual(delta(core, core0, "chat_core_logins_total", result="success"), 3)
        self.assertEqual(delta(core, core0, "chat_core_logins_total", result="bad_credentials"), 1)
        self.assertEqual(delta(core, core0, "chat_core_registrations_total", result="success"), 3)
        self.assertEqual(delta(core, core0, "chat_core_event_errors_total", code="not_found"), 1)
        self.assertGreaterEqual(delta(bridge, bridge0, "chat_bridge_room_events_total"), MESSAGES)
        self.assertGreaterEqual(delta(bridge, bridge0, "chat_bridge_deliveries_total"), 2 * MESSAGES)
        self.assertGreaterEqual(delta(bridge, bridge0, "chat_bridge_fanout_seconds_count"), MESSAGES)
        self.assertEqual(delta(bridge, bridge0, "chat_bridge_websockets_opened_total"), 2)
        self.assertEqual(bridge.value("chat_bridge_queue_events"), 0)

        # Logout: the token is revoked, chat-core ends the browser's session,
        # the bridge closes its WebSocket for auth; the Connect stream ends.
        status, body, _ = http(self.stack.port, "POST", "/api/logout", {},
                               {"Origin": self.stack.origin, "Cookie": "chat_session=" + cookie_b})
        self.assertEqual(status, 200, body)
        # The bridge closes b (1008) once chat-core tells it the session ended;
        # a close of our own before that would count as the browser's, not auth.
        loop.run_until_complete(asyncio.wait_for(b.wait_closed(), 10))
        self.assertEqual(b.close_code, 1008)
        outbox.put(None)
        list(stream)
        loop.run_until_complete(a.close())

        def settled():
            core, bridge = self.scrape()
            return (core.value("chat_core_streams_open", kind="connect") == 0 and
                    core.value("chat_core_sessions_open", kind="gateway") == 0 and
                    bridge.value("chat_bridge_websockets_open") == 0)
        wait_for(settled, "the streams and sockets to close")
        core, bridge = self.scrape()
        self.assertEqual(delta(core, core0, "chat_core_logouts_total"), 1)
        self.assertEqual(delta(core, core0, "chat_core_streams_ended_total", kind="connect", reason="completed"), 1)
        self.assertEqual(delta(bridge, bridge0, "chat_bridge_websockets_closed_total"), 2)
        self.assertEqual(delta(bridge, bridge0, "chat_bridge_disconnects_total", reason="auth"), 1)
        loop.close()

    def test_a_client_that_vanishes_is_counted_as_cancelled(self):
        # A gRPC client in a room, killed with SIGKILL: its kernel closes the
        # connection, and chat-core's stream ends without its status reaching
        # anyone. That is "cancelled", not "completed" (an end the client saw).
        token = self.stack.register_and_login("mgone", PASSWORD)
        client = subprocess.Popen(
            [sys.executable, "-c", VANISHING_CLIENT, self.stack.core_addr, token],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=ARGS.py_out))
        try:
            self.assertEqual(client.stdout.readline().strip(), "joined")
            core0 = Scrape(self.stack.core_metrics)
            client.kill()
        finally:
            client.wait()
            client.stdout.close()

        def ended():
            core = Scrape(self.stack.core_metrics)
            return sum(core.value("chat_core_streams_ended_total", kind="connect", reason=r) -
                       core0.value("chat_core_streams_ended_total", kind="connect", reason=r)
                       for r in ("completed", "cancelled", "other")) >= 1
        wait_for(ended, "the killed client's stream to end")
        core = Scrape(self.stack.core_metrics)
        for reason, want in (("cancelled", 1), ("completed", 0)):
            self.assertEqual(core.value("chat_core_streams_ended_total", kind="connect", reason=reason) -
                             core0.value("chat_core_streams_ended_total", kind="connect", reason=reason), want,
                             reason)

    def test_refusals_are_counted(self):
        core0, bridge0 = self.scrape()
        import websockets

        # A WebSocket with a made-up session cookie: refused at the upgrade.
        async def bad_cookie():
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
                await self.stack.websocket("not-a-token")
            return refused.exception.status_code

        loop = asyncio.new_event_loop()
        self.assertEqual(loop.run_until_complete(bad_cookie()), 401)

        # A browser sending far more events than its rate allows: the excess is
        # refused, and past the burst the socket is closed.
        async def flood():
            w = await self.stack.websocket(self.stack.register_and_login("mflood", PASSWORD))
            for _ in range(300):
                await w.send(json.dumps({"ping": {}}))
            try:
                while True:
                    await asyncio.wait_for(w.recv(), 10)
            except websockets.exceptions.ConnectionClosed:  # by the bridge (1008)
                pass
            await w.close()
            return w.close_code

        self.assertEqual(loop.run_until_complete(flood()), 1008)
        loop.close()

        def counted():
            bridge = Scrape(self.stack.bridge_metrics)
            return bridge.value("chat_bridge_disconnects_total", reason="rate_limit") > \
                bridge0.value("chat_bridge_disconnects_total", reason="rate_limit")
        wait_for(counted, "the rate-limit close to be counted")
        core, bridge = self.scrape()
        self.assertGreaterEqual(core.value("chat_core_tokens_refused_total") -
                                core0.value("chat_core_tokens_refused_total"), 1)
        self.assertGreaterEqual(core.value("chat_core_gateway_sessions_refused_total", reason="auth") -
                                core0.value("chat_core_gateway_sessions_refused_total", reason="auth"), 1)
        self.assertEqual(bridge.value("chat_bridge_upgrades_refused_total", code="unauthenticated") -
                         bridge0.value("chat_bridge_upgrades_refused_total", code="unauthenticated"), 1)
        self.assertGreaterEqual(bridge.value("chat_bridge_events_refused_total", reason="rate_limit") -
                                bridge0.value("chat_bridge_events_refused_total", reason="rate_limit"), 100)


class GatewayEnds(unittest.TestCase):
    """How chat-core counts the end of a bridge's gateway stream."""

    def ends(self, stack, before):
        core = Scrape(stack.core_metrics)
        return {r: core.value("chat_core_streams_ended_total", kind="gateway", reason=r) -
                before.value("chat_core_streams_ended_total", kind="gateway", reason=r)
                for r in ("completed", "cancelled", "shutdown", "other")}

    def test_a_killed_bridge_is_counted_as_cancelled(self):
        stack = Stack(ARGS.build_dir)
        try:
            before = Scrape(stack.core_metrics)
            # SIGKILL: the kernel closes the bridge's connection; no end of
            # stream reaches chat-core and chat-core's status reaches no one.
            stack.bridge.proc.kill()
            stack.bridge.stop()
            wait_for(lambda: sum(self.ends(stack, before).values()) >= 1, "the killed bridge's stream to end")
            self.assertEqual(self.ends(stack, before), {"completed": 0, "cancelled": 1, "shutdown": 0, "other": 0})
        finally:
            stack.stop()


class BadMetricsListen(unittest.TestCase):
    """A --metrics_listen that cannot work stops the process at start with one
    line naming the flag and the reason, and a non-zero exit."""

    def run_binary(self, name, *flags):
        binary = os.path.join(ARGS.build_dir, name)
        argv = [binary, "--listen=127.0.0.1:0", *root_flags(binary), *flags]
        if name.startswith("chat-core"):
            argv.append("--db=:memory:")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return out.returncode, out.stdout, out.stderr.strip()

    def test_bad_address(self):
        for name, prog in (("chat-core/chat-core", "chat-core"), ("ws-bridge/ws-bridge", "ws-bridge")):
            for bad in ("nonsense", "127.0.0.1:99999", "no-such-host.invalid:9100"):
                code, stdout, stderr = self.run_binary(name, "--metrics_listen=" + bad)
                self.assertEqual(code, 2, (name, bad, stderr))
                self.assertEqual(len(stderr.splitlines()), 1, (name, bad, stderr))
                self.assertTrue(stderr.startswith(prog + ": --metrics_listen: cannot serve metrics on '%s'" % bad),
                                stderr)
                self.assertNotIn("listening on", stdout)

    def test_port_in_use(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = "127.0.0.1:%d" % taken.getsockname()[1]
        try:
            for name, prog in (("chat-core/chat-core", "chat-core"), ("ws-bridge/ws-bridge", "ws-bridge")):
                code, stdout, stderr = self.run_binary(name, "--metrics_listen=" + address)
                self.assertEqual(code, 1, (name, stderr))
                self.assertEqual(stderr, "%s: --metrics_listen: cannot serve metrics on %s: Address already in use"
                                 % (prog, address))
                self.assertNotIn("listening on", stdout)
        finally:
            taken.close()

    def test_bad_log_format(self):
        for name, prog in (("chat-core/chat-core", "chat-core"), ("ws-bridge/ws-bridge", "ws-bridge")):
            code, _, stderr = self.run_binary(name, "--log_format=xml")
            self.assertEqual(code, 2)
            self.assertEqual(stderr, prog + ": --log_format must be text or json")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--py-out", required=True)
    ARGS, rest = parser.parse_known_args()
    sys.path.insert(0, ARGS.py_out)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
