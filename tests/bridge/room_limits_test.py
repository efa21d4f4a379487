#!/usr/bin/python3
"""Room abuse through the browser path (issue #27, "Rooms and the shared
gateway stream"), against the real chat-core and ws-bridge binaries:

- one user creating rooms in a loop over a WebSocket gets `error` events with
  RESOURCE_EXHAUSTED once past --max_room_creates_per_user_per_hour, while
  another user still creates; past --max_rooms everyone is refused;
- listRooms comes in pages (limit, cursor -> nextCursor) on the WebSocket too,
  and a client that sends no limit gets the first page of 1000.

  /usr/bin/python3 room_limits_test.py --build-dir BUILD --py-out BUILD/tests/py
"""
import argparse
import asyncio
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from ws_stack import StackTestCase  # noqa: E402
import chat_procs  # noqa: E402

PER_USER = 4
MAX_ROOMS = 12


class RoomLimits(StackTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_stack(ARGS.build_dir, ["--max_rooms=%d" % MAX_ROOMS, "--max_room_creates_per_user_per_hour=%d" % PER_USER])

    def login(self, user):
        body = {"username": user, "password": "correct horse"}
        status, text, _ = chat_procs.http(self.port, "POST", "/api/register", body, {"Origin": self.origin})
        self.assertIn(status, (200, 409), text)
        status, text, headers = chat_procs.http(self.port, "POST", "/api/login", body, {"Origin": self.origin})
        self.assertEqual(status, 200, text)
        for c in headers.get_all("Set-Cookie") or []:
            name, _, rest = c.partition("=")
            if name.endswith("chat_session"):
                return name, rest.split(";")[0]
        self.fail("no session cookie")

    async def ws(self, cookie):
        import websockets
        return await websockets.connect("ws://127.0.0.1:%d/ws" % self.port,
                                        extra_headers={"Cookie": "%s=%s" % cookie},
                                        origin=self.origin, max_size=None)

    @staticmethod
    async def ask(ws, event, ref, timeout=10):
        """Sends one event with `ref` and returns the event that answers it."""
        await ws.send(json.dumps(dict(event, ref=ref)))
        deadline = time.time() + timeout
        while True:
            frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.time()))
            for line in frame.split("\n"):
                ev = json.loads(line)
                if ev.get("ref") == ref:
                    return ev

    def test_1_a_room_creating_loop_is_refused_and_others_still_create(self):
        async def run():
            alice = await self.ws(self.login("alice"))
            bob = await self.ws(self.login("bob"))
            made, errors = [], []
            for i in range(10):
                ev = await self.ask(alice, {"createRoom": {"name": "spam-%d" % i}}, "a%d" % i)
                (made if "room" in ev else errors).append(ev)
            self.assertEqual(len(made), PER_USER)
            self.assertEqual(len(errors), 10 - PER_USER)
            for ev in errors:
                self.assertEqual(ev["error"]["code"], "RESOURCE_EXHAUSTED", ev)
                self.assertEqual(ev["error"]["event"], "createRoom", ev)
                self.assertIn("too many rooms created: at most %d per user every hour" % PER_USER,
                              ev["error"]["message"])
            # Bob is not held back by alice's loop.
            ev = await self.ask(bob, {"createRoom": {"name": "bobs-room"}}, "b0")
            self.assertEqual(ev.get("room", {}).get("name"), "bobs-room", ev)
            # The global cap: lobby + 4 + 1 so far; fill it with several users.
            total = 1 + PER_USER + 1
            n = 0
            while total < MAX_ROOMS:
                user = await self.ws(self.login("filler%d" % (n // PER_USER)))
                ev = await self.ask(user, {"createRoom": {"name": "fill-%d" % n}}, "f%d" % n)
                self.assertIn("room", ev, ev)
                await user.close()
                total += 1
                n += 1
            carol = await self.ws(self.login("carol"))
            ev = await self.ask(carol, {"createRoom": {"name": "one-too-many"}}, "c0")
            self.assertEqual(ev["error"]["code"], "RESOURCE_EXHAUSTED", ev)
            self.assertIn("room limit reached: this server holds at most %d rooms" % MAX_ROOMS,
                          ev["error"]["message"])
            for ws in (alice, bob, carol):
                await ws.close()
        asyncio.run(run())

    def test_2_list_rooms_pages_on_the_websocket(self):
        async def run():
            ws = await self.ws(self.login("dave"))
            everything = await self.ask(ws, {"listRooms": {}}, "all")
            names = [r["name"] for r in everything["rooms"]["rooms"]]
            self.assertEqual(names, sorted(names))
            self.assertNotIn("nextCursor", everything["rooms"])  # the one page is the last
            self.assertGreaterEqual(len(names), 2)
            paged, cursor, pages = [], "", 0
            while True:
                req = {"limit": 2}
                if cursor:
                    req["cursor"] = cursor
                page = await self.ask(ws, {"listRooms": req}, "p%d" % pages)
                pages += 1
                rooms = page["rooms"].get("rooms", [])
                self.assertLessEqual(len(rooms), 2)
                paged += [r["name"] for r in rooms]
                cursor = page["rooms"].get("nextCursor", "")
                if not cursor:
                    break
                self.assertLess(pages, 100)
            self.assertEqual(paged, names)
            self.assertEqual(pages, (len(names) + 1) // 2)
            bad = await self.ask(ws, {"listRooms": {"limit": 5000}}, "bad")
            self.assertEqual(bad["error"]["code"], "INVALID_ARGUMENT", bad)
            self.assertEqual(bad["error"]["event"], "listRooms", bad)
            await ws.close()
        asyncio.run(run())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--py-out", required=True)
    ARGS, rest = parser.parse_known_args()
    sys.path.insert(0, ARGS.py_out)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
