"""A chat-core and a ws-bridge as real processes for the abuse tests, and a
WebSocket client over a plain socket: RFC 6455 by hand, so a client that must
never read really never reads (a library client reads in the background).
Import after `sys.path.insert(0, <this folder>)`."""
import base64
import json
import os
import secrets
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from chat_procs import ALLOW_ROOT, http, start


def cookie_of(headers):
    for c in headers.get_all("Set-Cookie") or []:
        name, _, rest = c.partition("=")
        if name.endswith("chat_session"):
            return name + "=" + rest.split(";")[0]
    raise AssertionError("no session cookie in %r" % headers.get_all("Set-Cookie"))


def text_frame(payload):
    """A masked (client) text frame; the all-zero mask leaves the bytes as they are."""
    data = payload.encode()
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + b"\0\0\0\0" + data


class RawWs:
    """One WebSocket over a plain socket. `rcvbuf`: SO_RCVBUF before connecting."""

    def __init__(self, port, cookie, rcvbuf=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        req = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%d\r\n"
               "Cookie: %s\r\n\r\n" % (port, key, port, cookie))
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("the bridge closed the upgrade")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError("upgrade refused: %r" % head[:200])
        self.close_code = None
        self.close_reason = ""

    def send(self, obj):
        self.sock.sendall(text_frame(json.dumps(obj)))

    def send_binary(self, data):
        n = len(data)
        head = struct.pack("!BB", 0x82, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x82, 0x80 | 126, n)
        self.sock.sendall(head + b"\0\0\0\0" + data)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.001, deadline - time.time()))
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def frame(self, timeout):
        """The next frame as (opcode, payload bytes); a close frame sets close_code."""
        deadline = time.time() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        opcode = b0 & 0x0F
        if opcode == 8:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.close_reason = payload[2:].decode(errors="replace")
        return opcode, payload

    def events(self, timeout):
        """The events of the next text frame ([] for a control frame); raises on close."""
        opcode, payload = self.frame(timeout)
        if opcode == 8:
            raise EOFError("closed %s %s" % (self.close_code, self.close_reason))
        if opcode != 1:
            return []
        return [json.loads(line) for line in payload.decode().split("\n")]

    def wait_for(self, pred, timeout=10):
        deadline = time.time() + timeout
        while True:
            for e in self.events(max(0.001, deadline - time.time())):
                if pred(e):
                    return e

    def close(self):
        try:
            if self.sock is not None:
                self.sock.close()
        except OSError:
            pass


def read_close(ws, otherwise="reset", timeout=0.5):
    """Reads what `ws` was sent until its close frame: "<code> <reason>";
    "ended without a close frame (...)" if the connection ended first, or
    `otherwise` if nothing of the sort comes within `timeout` seconds."""
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            op, _ = ws.frame(max(0.01, deadline - time.time()))
            if op == 8:
                return "%d %s" % (ws.close_code, ws.close_reason)
    except socket.timeout:
        pass
    except (EOFError, OSError) as e:
        return "ended without a close frame (%s)" % e
    return otherwise


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def send_queue_bytes(port):
    """Bytes waiting in the kernel's send queues of the TCP sockets on local
    `port` (a server's accepted connections), from /proc/net/tcp{,6}."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        total += int(fields[4].split(":")[0], 16)
        except OSError:
            pass
    return total


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class Stack:
    """chat-core and ws-bridge from `build_dir`, their stderr in `tmp`;
    `bridge_env`: added to the bridge's environment."""

    def __init__(self, build_dir, core_flags=(), bridge_flags=(), tmp=None, bridge_env=None):
        self.tmp = tmp
        secret_file = os.path.join(tmp, "gateway.secret")
        with open(secret_file, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(secrets.token_hex(24))
        self.core_log = open(os.path.join(tmp, "core.log"), "w+")
        self.bridge_log = open(os.path.join(tmp, "bridge.log"), "w+")
        core_bin = os.path.join(build_dir, "chat-core/chat-core")
        extra = list(core_flags)
        # A per-user cap on streams (--max_streams_per_user, where this build
        # has it) must not stop one user from opening many sockets: these
        # tests are about other limits.
        helpfull = subprocess.run([core_bin, "--helpfull"], capture_output=True, text=True).stdout
        if "max_streams_per_user" in helpfull:
            extra.append("--max_streams_per_user=100000")
        self.core, self.core_addr = start(
            [core_bin, "--listen=127.0.0.1:0", "--db=" + os.path.join(tmp, "chat.db"),
             "--gateway_secret_file=" + secret_file, "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1",
             *extra, *ALLOW_ROOT], "chat-core listening on ", stderr=self.core_log)
        bridge_bin = os.path.join(build_dir, "ws-bridge/ws-bridge")
        extra = list(bridge_flags)
        helpfull = subprocess.run([bridge_bin, "--helpfull"], capture_output=True, text=True).stdout
        if "max_streams_per_user" in helpfull:
            extra.append("--max_streams_per_user=100000")
        saved = dict(os.environ)
        os.environ.update(bridge_env or {})
        try:
            self.bridge, addr = start(
                [bridge_bin, "--listen=127.0.0.1:0", "--core=" + self.core_addr,
                 "--gateway_secret_file=" + secret_file, "--max_connections_per_ip=0", *extra, *ALLOW_ROOT],
                "ws-bridge listening on ", stderr=self.bridge_log)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.port = int(addr.rsplit(":", 1)[1])
        self.origin = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 10
        while http(self.port, "GET", "/healthz")[0] != 200:
            if time.time() > deadline:
                raise AssertionError("the bridge never became healthy")
            time.sleep(0.05)

    def login(self, user):
        body = {"username": user, "password": "correct horse"}
        status, text, headers = http(self.port, "POST", "/api/register", body, {"Origin": self.origin})
        if status != 200:
            status, text, headers = http(self.port, "POST", "/api/login", body, {"Origin": self.origin})
        if status != 200:
            raise AssertionError("cannot sign in %s: %s %s" % (user, status, text))
        return cookie_of(headers)

    def logs(self):
        out = []
        for f in (self.core_log, self.bridge_log):
            f.flush()
            f.seek(0)
            out.append(f.read())
        return out

    def stop(self):
        for p in (self.bridge, self.core):
            if p.poll() is None:
                p.kill()
                p.wait()
        self.core_log.close()
        self.bridge_log.close()


def seed(stack, cookie, room, messages, size):
    """`messages` messages of `size` bytes in a new room `room`."""
    ws = RawWs(stack.port, cookie)
    ws.send({"ref": "c", "createRoom": {"name": room}})
    ws.wait_for(lambda e: e.get("ref") == "c")
    ws.send({"ref": "j", "join": {"room": room}})
    ws.wait_for(lambda e: "joined" in e)
    text = "x" * size
    sent = 0
    # Under the per-socket rate limit: bursts of 100, then a fresh socket.
    while sent < messages:
        batch = min(100, messages - sent)
        for i in range(batch):
            ws.send({"send": {"room": room, "text": text, "clientMsgId": "seed-%d" % (sent + i)}})
        last = "seed-%d" % (sent + batch - 1)
        ws.wait_for(lambda e: "message" in e and e["message"].get("clientMsgId") == last, timeout=30)
        sent += batch
        ws.close()
        if sent < messages:
            ws = RawWs(stack.port, cookie)
            ws.send({"ref": "j", "join": {"room": room}})
            ws.wait_for(lambda e: "joined" in e)
    ws.close()


class StackTestCase(unittest.TestCase):
    """Tests that share one Stack (in a temporary folder) for the whole class:
    their setUpClass calls start_stack; the stack is stopped after the last."""

    @classmethod
    def start_stack(cls, build_dir, core_flags=()):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.stack = Stack(build_dir, core_flags=core_flags, tmp=cls.tmp.name)
        cls.core, cls.core_addr = cls.stack.core, cls.stack.core_addr
        cls.bridge, cls.port, cls.origin = cls.stack.bridge, cls.stack.port, cls.stack.origin

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        cls.tmp.cleanup()
