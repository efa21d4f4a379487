"""The opening handshake (RFC 6455 section 4): not an Autobahn section (its
fuzzing client always sends a good one), but what a server must refuse or
must not agree to before any frame. Each case sends one upgrade request over
a plain socket and judges the HTTP answer; one that is accepted must then
work as a WebSocket."""
import base64
import os
import socket
import time

from runner import DEADLINE, Observation, json_ping, pump
from wsclient import CLOSE, TEXT, Client, close_payload, frame


class HandshakeCase:
    section = 0

    def __init__(self, cid, title, accept, headers=None, drop=(), method="GET", version="HTTP/1.1", check=None,
                 deviation=None):
        self.cid, self.title, self.accept = cid, title, accept
        # {target: why}: where a target legitimately lacks what `check` wants
        # (a documented deviation of the reference, not a client bug).
        self.deviation = deviation or {}
        self.headers, self.drop, self.method, self.version = headers or {}, drop, method, version
        self.check = check  # f(status, fields) -> problem or None, for a refused request

    def run(self, port, cookie, target):
        key = base64.b64encode(os.urandom(16)).decode()
        h = {"Host": "127.0.0.1:%d" % port, "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13", "Origin": "http://127.0.0.1:%d" % port}
        if cookie:
            h["Cookie"] = cookie
        for d in self.drop:
            h.pop(d, None)
        h.update(self.headers)
        sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        try:
            sock.sendall(("%s /ws %s\r\n%s\r\n" % (self.method, self.version,
                                                   "".join("%s: %s\r\n" % kv for kv in h.items()))).encode())
        except OSError as e:
            sock.close()
            return ["cannot send the request: %r" % e], "-"
        status, fields, rest = read_response(sock)
        problems = []
        if status is None:
            sock.close()
            return ([] if not self.accept else ["connection closed without an answer"]), "no answer"
        seen = "HTTP %d" % status
        if not self.accept:
            sock.close()
            if status == 101:
                return ["accepted a handshake it must refuse"], seen
            if not 400 <= status < 500:
                problems.append("refused with %d, want a 4xx" % status)
            if self.check and target not in self.deviation:
                p = self.check(status, fields)
                if p:
                    problems.append(p)
            return problems, seen
        if status != 101:
            sock.close()
            return ["refused (%d) a handshake it must accept" % status], seen
        for name in ("sec-websocket-extensions", "sec-websocket-protocol"):
            if name in fields:
                problems.append("agreed to %s: %s, which the client did not get to use" % (name, fields[name]))
        # Now it must work as a WebSocket, without compression: frames with RSV1 would be flagged.
        c = Client.__new__(Client)
        c.sock, c.buf, c.eof, c.send_failed = sock, rest, False, None
        obs = Observation()
        c.send(frame(TEXT, json_ping("hs")))
        if not pump(c, obs, DEADLINE, lambda: "ref:hs" in obs.replies):
            problems.append("no answer on the accepted connection")
        c.send(frame(CLOSE, close_payload(1000)))
        pump(c, obs, DEADLINE, lambda: obs.close is not None)
        if obs.close is None or obs.close[0] != 1000:
            problems.append("no close echo on the accepted connection")
        c.close()
        return problems + obs.problems, seen


def read_response(sock):
    buf = b""
    deadline = time.monotonic() + DEADLINE
    try:
        while b"\r\n\r\n" not in buf:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                return None, {}, b""
            buf += chunk
    except OSError:
        return None, {}, b""
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    try:
        return int(status_line.split()[1]), fields, rest
    except (IndexError, ValueError):
        return None, {}, b""


def lists_version_13(status, fields):
    if "13" not in [v.strip() for v in fields.get("sec-websocket-version", "").split(",")]:
        return "no Sec-WebSocket-Version: 13 in the refusal (RFC 6455 4.4)"
    return None


def cases():
    b64 = lambda n: base64.b64encode(b"\x01" * n).decode()  # noqa: E731
    return [
        HandshakeCase("0.1", "Connection: keep-alive, Upgrade and Upgrade: WebSocket (as Firefox sends)", True,
                      headers={"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"}),
        HandshakeCase("0.2", "Sec-WebSocket-Version: 8", False, headers={"Sec-WebSocket-Version": "8"},
                      check=lists_version_13,
                      deviation={"control": "python3-websockets 10.4 refuses it with 400 but names no version"}),
        HandshakeCase("0.3", "no Sec-WebSocket-Key", False, drop=("Sec-WebSocket-Key",)),
        HandshakeCase("0.4", "Sec-WebSocket-Key not base64", False, headers={"Sec-WebSocket-Key": "short"}),
        HandshakeCase("0.5", "Sec-WebSocket-Key of 15 bytes", False, headers={"Sec-WebSocket-Key": b64(15)}),
        HandshakeCase("0.6", "Sec-WebSocket-Key of 17 bytes (24 characters)", False,
                      headers={"Sec-WebSocket-Key": b64(17)}),
        HandshakeCase("0.7", "permessage-deflate offered: not agreed", True,
                      headers={"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}),
        HandshakeCase("0.8", "unknown subprotocols offered: none chosen", True,
                      headers={"Sec-WebSocket-Protocol": "chat, superchat"}),
        HandshakeCase("0.9", "POST upgrade", False, method="POST"),
        HandshakeCase("0.10", "no Upgrade header", False, drop=("Upgrade",)),
        HandshakeCase("0.11", "HTTP/1.0 upgrade", False, version="HTTP/1.0"),
    ]
