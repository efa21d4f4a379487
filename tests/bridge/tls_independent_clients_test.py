#!/usr/bin/python3
"""TLS on every hop, checked by clients the project did not write: Python's
`ssl` + `urllib` and `websockets` against ws-bridge's HTTPS/WSS port, Python
`grpcio` against chat-core's TLS port. The real binaries, with certificates
made at test time by tests/testing/make-test-certs (the openssl CLI): chat-core
asks for client certificates from the test CA, ws-bridge reaches it over mTLS
with no gateway secret, browsers reach ws-bridge over TLS. Run by CTest:

  /usr/bin/python3 tls_independent_clients_test.py --build-dir BUILD --py-out BUILD/py --source-dir SRC
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from chat_procs import ALLOW_ROOT, start  # noqa: E402
import chat_procs  # noqa: E402


class TlsStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = os.path.join(cls.tmp.name, "certs")
        subprocess.run([os.path.join(ARGS.source_dir, "tests/testing/make-test-certs"), cls.certs], check=True)
        # The bridge serves copies, so a test can swap them and send SIGHUP.
        cls.live = os.path.join(cls.tmp.name, "live")
        os.makedirs(cls.live)
        shutil.copy(cls.cert("server.pem"), os.path.join(cls.live, "cert.pem"))
        shutil.copy(cls.cert("server.key"), os.path.join(cls.live, "key.pem"))
        cls.core, cls.core_addr = start(
            [os.path.join(ARGS.build_dir, "chat-core/chat-core"), "--listen=127.0.0.1:0",
             "--db=" + os.path.join(cls.tmp.name, "chat.db"), "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1",
             "--tls_cert=" + cls.cert("server.pem"), "--tls_key=" + cls.cert("server.key"),
             "--tls_client_ca=" + cls.cert("ca.pem"), "--tls_client_cert_optional", *ALLOW_ROOT],
            "chat-core listening on ")
        cls.core_port = int(cls.core_addr.rsplit(":", 1)[1])
        cls.bridge, addr = start(
            [os.path.join(ARGS.build_dir, "ws-bridge/ws-bridge"), "--listen=127.0.0.1:0",
             "--core=localhost:%d" % cls.core_port, "--core_ca=" + cls.cert("ca.pem"),
             "--core_cert=" + cls.cert("client.pem"), "--core_key=" + cls.cert("client.key"),
             "--tls_cert=" + os.path.join(cls.live, "cert.pem"), "--tls_key=" + os.path.join(cls.live, "key.pem"),
             "--hsts_max_age=8760h", *ALLOW_ROOT],
            "ws-bridge listening on ")
        cls.port = int(addr.rsplit(":", 1)[1])
        cls.origin = "https://localhost:%d" % cls.port
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if cls.https("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        for p in (cls.bridge, cls.core):
            if p.poll() is None:
                p.kill()
                p.wait()
        cls.tmp.cleanup()

    @classmethod
    def cert(cls, name):
        return os.path.join(cls.certs, name)

    @classmethod
    def https(cls, method, path, body=None, cafile=None):
        ctx = ssl.create_default_context(cafile=cafile or cls.cert("ca.pem"))
        return chat_procs.http(cls.port, method, path, body, {"Origin": cls.origin}, scheme="https",
                               host="localhost", context=ctx)

    def grpc_channel(self, cafile, cert=None, key=None):
        import grpc
        def read(path):
            if not path:
                return None
            with open(path, "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(read(cafile), read(key), read(cert))
        return grpc.secure_channel("localhost:%d" % self.core_port, creds)

    def probe(self, channel):
        """WhoAmI without a token: UNAUTHENTICATED means TLS worked."""
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
        try:
            chat_pb2_grpc.AuthServiceStub(channel).WhoAmI(chat_pb2.WhoAmIRequest(), timeout=5)
        except grpc.RpcError as e:
            return e.code()
        return grpc.StatusCode.OK

    def test_grpc_client_over_tls_and_refusals(self):
        import grpc
        self.assertEqual(self.probe(self.grpc_channel(self.cert("ca.pem"))), grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(self.probe(self.grpc_channel(self.cert("ca.pem"), self.cert("client.pem"),
                                                      self.cert("client.key"))),
                         grpc.StatusCode.UNAUTHENTICATED)
        # Refused: a CA that did not sign chat-core's certificate, plaintext to
        # the TLS port, an expired client certificate, one from another CA.
        self.assertEqual(self.probe(self.grpc_channel(self.cert("other-ca.pem"))), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.probe(grpc.insecure_channel(self.core_addr)), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.probe(self.grpc_channel(self.cert("ca.pem"), self.cert("expired.pem"),
                                                      self.cert("expired.key"))),
                         grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.probe(self.grpc_channel(self.cert("ca.pem"), self.cert("other.pem"),
                                                      self.cert("other.key"))),
                         grpc.StatusCode.UNAVAILABLE)

    def test_buf_curl_over_tls_with_reflection(self):
        """`buf curl` (npm's @bufbuild/buf, installed for the web UI) with no
        .proto in hand: reflection, health and a call, over TLS."""
        buf = os.path.join(ARGS.source_dir, "web/node_modules/.bin/buf")
        base = "https://localhost:%d" % self.core_port
        common = [buf, "curl", "--protocol", "grpc", "--cacert", self.cert("ca.pem")]
        health = subprocess.run(common + [base + "/grpc.health.v1.Health/Check"], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(health.returncode, 0, health.stderr)
        self.assertEqual(json.loads(health.stdout), {"status": "SERVING"})
        reg = subprocess.run(common + ["-d", '{"username":"bufcurl","password":"correct horse"}',
                                       base + "/chat.v1.AuthService/Register"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(reg.returncode, 0, reg.stderr)
        self.assertEqual(json.loads(reg.stdout), {"username": "bufcurl"})
        wrong = subprocess.run([buf, "curl", "--protocol", "grpc", "--cacert", self.cert("other-ca.pem"),
                                base + "/grpc.health.v1.Health/Check"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(wrong.returncode, 0)
        self.assertIn("failed", wrong.stderr)  # buf says so only as "failed to find service ... in schema"

    def test_https_wss_and_grpc_share_a_room(self):
        import websockets
        from chat.v1 import chat_pb2, chat_pb2_grpc
        status, body, headers = self.https("GET", "/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("Strict-Transport-Security"), "max-age=31536000")
        status, body, headers = self.https("POST", "/api/register", {"username": "pytls", "password": "correct horse"})
        self.assertEqual(status, 200, body)
        set_cookie = headers.get("Set-Cookie")
        self.assertIn("; Secure", set_cookie)
        self.assertTrue(set_cookie.startswith("__Host-chat_session="), set_cookie)
        cookie = set_cookie.split(";")[0].split("=", 1)[1]

        channel = self.grpc_channel(self.cert("ca.pem"))
        auth = chat_pb2_grpc.AuthServiceStub(channel)
        auth.Register(chat_pb2.RegisterRequest(username="pynative", password="correct horse"), timeout=10)
        token = auth.Login(chat_pb2.LoginRequest(username="pynative", password="correct horse"), timeout=10).token
        stream, outbox = chat_procs.connect_stream(chat_pb2_grpc.ChatServiceStub(channel), token)
        outbox.put(chat_pb2.ClientEvent(join=chat_pb2.JoinRequest(room="lobby")))
        for event in stream:
            if event.HasField("joined"):
                break

        async def browser():
            ctx = ssl.create_default_context(cafile=self.cert("ca.pem"))
            async with websockets.connect("wss://localhost:%d/ws" % self.port, ssl=ctx, origin=self.origin,
                                          extra_headers={"Cookie": "__Host-chat_session=" + cookie}) as ws:
                await ws.send(json.dumps({"join": {"room": "lobby"}}))
                await ws.send(json.dumps({"send": {"room": "lobby", "text": "hello over wss", "clientMsgId": "t1"}}))
                deadline = time.time() + 10
                while time.time() < deadline:
                    frame = await asyncio.wait_for(ws.recv(), 10)
                    for line in frame.split("\n"):
                        e = json.loads(line)
                        if e.get("message", {}).get("text") == "hello over wss":
                            return True
                return False

        self.assertTrue(asyncio.run(browser()))
        for event in stream:
            if event.HasField("message") and event.message.text == "hello over wss":
                self.assertEqual(event.message.author, "pytls")
                break
        outbox.put(None)

    def test_plaintext_to_the_https_port_gets_nothing(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            try:
                data = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                data = b""
        self.assertNotIn(b"HTTP/1.1 200", data)

    def test_zz_sighup_reloads_the_certificate(self):
        shutil.copy(self.cert("other.pem"), os.path.join(self.live, "cert.pem"))
        shutil.copy(self.cert("other.key"), os.path.join(self.live, "key.pem"))
        self.bridge.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        status = 0
        while time.time() < deadline:
            try:
                status = self.https("GET", "/healthz", cafile=self.cert("other-ca.pem"))[0]
                break
            except (ssl.SSLError, urllib.error.URLError):
                time.sleep(0.1)
        self.assertEqual(status, 200)
        with self.assertRaises((ssl.SSLError, urllib.error.URLError)):
            self.https("GET", "/healthz")  # the old CA no longer matches
        self.assertIsNone(self.bridge.poll(), "SIGHUP must not stop the bridge")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--py-out", required=True)
    parser.add_argument("--source-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    sys.path.insert(0, ARGS.py_out)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
