#!/usr/bin/python3
"""ws-bridge and chat-core as real processes, driven by independent clients:
Python's `websockets` (not Beast) for the browser side and Python `grpcio` for
the native side. Run by CTest:

  /usr/bin/python3 independent_clients_test.py --build-dir BUILD --py-out BUILD/py
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from ws_stack import StackTestCase  # noqa: E402
import chat_procs  # noqa: E402


def http(port, method, path, body=None, headers=None):
    status, text, hdrs = chat_procs.http(port, method, path, body, headers)
    return status, text, hdrs.get_all("Set-Cookie") or []


def cookie_of(set_cookies):
    for c in set_cookies:
        if c.startswith("chat_session="):
            return c.split(";")[0][len("chat_session="):]
    return ""


class Stack(StackTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_stack(ARGS.build_dir, ())

    def login(self, user):
        status, body, cookies = http(self.port, "POST", "/api/register",
                                     {"username": user, "password": "correct horse"}, {"Origin": self.origin})
        if status == 409:
            status, body, cookies = http(self.port, "POST", "/api/login",
                                         {"username": user, "password": "correct horse"}, {"Origin": self.origin})
        self.assertEqual(status, 200, body)
        return cookie_of(cookies)

    async def ws(self, cookie, origin=None):
        import websockets
        return await websockets.connect("ws://127.0.0.1:%d/ws" % self.port,
                                        extra_headers={"Cookie": "chat_session=" + cookie},
                                        origin=origin or self.origin, max_size=None)

    @staticmethod
    async def events(ws, want, pred, timeout=10):
        """Reads frames (each may hold several events) until `want` events match."""
        got = []
        deadline = time.time() + timeout
        while len([e for e in got if pred(e)]) < want:
            frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.time()))
            assert isinstance(frame, str)
            for line in frame.split("\n"):
                got.append(json.loads(line))
        return got

    def test_browser_and_grpc_clients_share_a_room_in_seq_order(self):
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
        channel = grpc.insecure_channel(self.core_addr)
        auth = chat_pb2_grpc.AuthServiceStub(channel)
        try:
            auth.Register(chat_pb2.RegisterRequest(username="pygrpc", password="correct horse"), timeout=10)
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.ALREADY_EXISTS)
        token = auth.Login(chat_pb2.LoginRequest(username="pygrpc", password="correct horse"), timeout=10).token
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        stream, outbox = chat_procs.connect_stream(chat, token)
        outbox.put(chat_pb2.ClientEvent(join=chat_pb2.JoinRequest(room="lobby")))
        grpc_events = []
        for ev in stream:
            grpc_events.append(ev)
            if ev.HasField("joined"):
                break
        start_seq = grpc_events[-1].joined.latest_seq

        async def browsers():
            a = await self.ws(self.login("pyalice"))
            b = await self.ws(self.login("pybob"))
            for w in (a, b):
                await w.send(json.dumps({"join": {"room": "lobby"}}))
                await self.events(w, 1, lambda e: "joined" in e)
            for i in range(10):
                await a.send(json.dumps({"send": {"room": "lobby", "text": "a%d" % i, "clientMsgId": "a%d" % i}}))
                await b.send(json.dumps({"send": {"room": "lobby", "text": "b%d" % i, "clientMsgId": "b%d" % i}}))
                outbox.put(chat_pb2.ClientEvent(send=chat_pb2.SendRequest(room="lobby", text="g%d" % i,
                                                                          client_msg_id="g%d" % i)))
            ea = await self.events(a, 30, lambda e: "message" in e)
            eb = await self.events(b, 30, lambda e: "message" in e)
            await a.close()
            await b.close()
            return ea, eb

        ea, eb = asyncio.run(browsers())
        ma = [(int(e["message"]["seq"]), e["message"]["text"]) for e in ea if "message" in e]
        mb = [(int(e["message"]["seq"]), e["message"]["text"]) for e in eb if "message" in e]
        self.assertEqual(ma[:30], mb[:30])
        self.assertEqual([s for s, _ in ma[:30]], list(range(start_seq + 1, start_seq + 31)))
        mg = []
        for ev in stream:
            if ev.HasField("message"):
                mg.append((ev.message.seq, ev.message.text))
            if len(mg) == 30:
                break
        outbox.put(None)
        self.assertEqual(mg, ma[:30])

    def test_foreign_origin_and_missing_login_are_refused(self):
        import websockets
        cookie = self.login("pycarol")

        async def attempt(origin, cookie):
            try:
                ws = await websockets.connect("ws://127.0.0.1:%d/ws" % self.port,
                                              extra_headers={"Cookie": "chat_session=" + cookie} if cookie else {},
                                              origin=origin)
                await ws.close()
                return 101
            except websockets.exceptions.InvalidStatusCode as e:
                return e.status_code

        self.assertEqual(asyncio.run(attempt("http://evil.example", cookie)), 403)
        self.assertEqual(asyncio.run(attempt("null", cookie)), 403)
        self.assertEqual(asyncio.run(attempt(self.origin, "")), 401)
        self.assertEqual(asyncio.run(attempt(self.origin, "forged")), 401)
        self.assertEqual(asyncio.run(attempt(self.origin, cookie)), 101)

    def test_bad_frames_get_error_events_and_logout_closes_with_1008(self):
        cookie = self.login("pydave")

        async def run():
            ws = await self.ws(cookie)
            await ws.send("{oops")
            await ws.send(b"\x00binary")
            errs = await self.events(ws, 2, lambda e: "error" in e)
            self.assertEqual(errs[0]["error"]["code"], "INVALID_ARGUMENT")
            await ws.send(json.dumps({"ref": "p", "ping": {"nonce": "5"}}))
            pong = await self.events(ws, 1, lambda e: "pong" in e)
            self.assertEqual(pong[-1]["pong"]["nonce"], "5")
            status, _, cookies = http(self.port, "POST", "/api/logout", None,
                                      {"Origin": self.origin, "Cookie": "chat_session=" + cookie})
            self.assertEqual(status, 200)
            t0 = time.time()
            try:
                while time.time() - t0 < 5:
                    await asyncio.wait_for(ws.recv(), 5)
            except Exception:
                pass
            # Closed at once (the bound is loose for loaded machines).
            self.assertLess(time.time() - t0, 3.0)
            self.assertEqual(ws.close_code, 1008)
            self.assertIn("logged out", ws.close_reason)

        asyncio.run(run())

    def test_zz_sigterm_closes_sockets_with_1001(self):
        cookie = self.login("pyerin")

        async def run():
            ws = await self.ws(cookie)
            await ws.send(json.dumps({"join": {"room": "lobby"}}))
            await self.events(ws, 1, lambda e: "joined" in e)
            self.bridge.send_signal(signal.SIGTERM)
            deadline = time.time() + 5
            try:
                while time.time() < deadline:
                    await asyncio.wait_for(ws.recv(), 5)
            except Exception:
                pass
            self.assertEqual(ws.close_code, 1001)

        asyncio.run(run())
        self.assertEqual(self.bridge.wait(10), 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--py-out", required=True)
    ARGS, rest = parser.parse_known_args()
    sys.path.insert(0, ARGS.py_out)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
