#!/usr/bin/python3
"""--log_format=json, and no secret in any log line. chat-core and ws-bridge
run with debug logging in JSON while real clients register, log in, chat and
log out: the `chat` CLI straight to chat-core, and a browser's way through
ws-bridge (HTTP /api, then a WebSocket). Every line both processes write must
be one JSON object with the fixed fields, and nothing either prints may hold
a password, a session token or the gateway secret. Run by CTest:

  /usr/bin/python3 logs_test.py --build-dir BUILD
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Stack, http  # noqa: E402

ARGS = None
CLI_PASSWORD = "cli-Secret-pw-4521"
WEB_PASSWORD = "web-Secret-pw-9876"
FIXED = ("time", "level", "component", "message")


class JsonLogsWithoutSecrets(unittest.TestCase):
    def test_a_whole_session_logs_json_and_no_secret(self):
        debug_json = ["--log_level=debug", "--log_format=json"]
        stack = Stack(ARGS.build_dir, core_flags=debug_json, bridge_flags=debug_json, metrics=False)
        secrets_seen = {"gateway secret": stack.secret, "CLI password": CLI_PASSWORD,
                        "browser password": WEB_PASSWORD}
        try:
            with tempfile.TemporaryDirectory() as home:
                # The CLI: register, login, send, a wrong password, logout.
                env = dict(os.environ, XDG_CONFIG_HOME=home, NO_COLOR="1")
                chat = [os.path.join(ARGS.build_dir, "cli/chat"), "--server", stack.core_addr]

                def cli(*args, stdin=None):
                    return subprocess.run(chat + list(args), input=stdin, env=env, capture_output=True, text=True,
                                          timeout=30)

                self.assertEqual(cli("register", "logcli", "--password-stdin", stdin=CLI_PASSWORD + "\n").returncode, 0)
                self.assertEqual(cli("login", "logcli", "--password-stdin", stdin=CLI_PASSWORD + "\n").returncode, 0)
                with open(os.path.join(home, "chat", "credentials")) as f:
                    tokens = [line.split()[-1] for line in f if line.startswith("token ")]
                self.assertEqual(len(tokens), 1)
                secrets_seen["CLI token"] = tokens[0]
                sent = cli("send", "lobby", "hello from the cli")
                self.assertEqual(sent.returncode, 0, sent.stderr)
                self.assertEqual(cli("login", "logcli", "--password-stdin", stdin="wrong-" + CLI_PASSWORD + "\n")
                                 .returncode, 3)
                # (The failed login kept the stored token.)
                self.assertEqual(cli("logout").returncode, 0)

            # A browser: register, login, a WebSocket that joins and sends, logout.
            cookie = stack.register_and_login("logweb", WEB_PASSWORD)
            secrets_seen["browser token"] = cookie

            async def browse():
                ws = await stack.websocket(cookie)
                await ws.send(json.dumps({"join": {"room": "lobby"}}))
                await ws.send(json.dumps({"send": {"room": "lobby", "text": "hello from a browser",
                                                   "clientMsgId": "b1"}}))
                deadline = time.time() + 10
                acked = False
                while not acked and time.time() < deadline:
                    frame = await asyncio.wait_for(ws.recv(), 10)
                    acked = any("ack" in json.loads(line) for line in frame.split("\n"))
                self.assertTrue(acked)
                status, body, _ = http(stack.port, "POST", "/api/logout", {},
                                       {"Origin": stack.origin, "Cookie": "chat_session=" + cookie})
                self.assertEqual(status, 200, body)
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except Exception:  # closed by the bridge: the session was logged out
                    pass
                await ws.close()

            loop = asyncio.new_event_loop()
            loop.run_until_complete(browse())
            loop.close()
        finally:
            stack.stop()

        logs = {"chat-core": stack.core.stderr_lines, "ws-bridge": stack.bridge.stderr_lines}
        users = set()
        peers = 0
        for process, lines in logs.items():
            self.assertTrue(lines, process + " logged nothing")
            for line in lines:
                entry = json.loads(line)  # one object a line, nothing else
                self.assertIsInstance(entry, dict, line)
                for key in FIXED:
                    self.assertIsInstance(entry.get(key), str, (key, line))
                self.assertIn(entry["level"], ("debug", "info", "warning", "error"), line)
                self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                for key, value in entry.items():
                    self.assertIsInstance(value, str, (key, line))
                users.add(entry.get("user"))
                peers += "peer" in entry
        # Debug level reached, and the fields that the calls name are there.
        self.assertTrue(any(json.loads(l)["level"] == "debug" for l in logs["ws-bridge"]))
        self.assertTrue({"logcli", "logweb"} <= users, users)
        self.assertGreater(peers, 0)

        everything = "\n".join([stack.core.output(), stack.bridge.output()])
        for what, secret in secrets_seen.items():
            self.assertGreaterEqual(len(secret), 8, what)
            self.assertNotIn(secret, everything, "%s appears in the output" % what)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
