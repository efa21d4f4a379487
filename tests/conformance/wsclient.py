"""The conformance test's own WebSocket client: RFC 6455 over a plain socket,
written so that it can send what a correct client never would (reserved bits,
reserved opcodes, unmasked or fragmented control frames, lying lengths, invalid
UTF-8) and so that it reports exactly what the server put on the wire.

It shares no code with the servers under test, nor with tests/testing's
RawWs: a bug in one client must not hide a bug in a server."""
import base64
import hashlib
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
KNOWN_OPCODES = {CONT, TEXT, BINARY, CLOSE, PING, PONG}


def xor_mask(data, key):
    """data XOR the 4-byte key repeated: one big-integer XOR, so a 1 MiB
    payload costs milliseconds, not a Python loop per byte."""
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """One client frame. `rsv`: the three reserved bits as a number 0-7;
    `length`: the length to declare instead of the payload's (a lying header);
    `mask`: False sends it unmasked, which a server must refuse. Each masked
    frame gets a fresh random key (RFC 6455 5.3)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + xor_mask(payload, key)


def close_payload(code=None, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return b"" if code is None else struct.pack("!H", code) + reason


class ServerFrame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload")

    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    def __repr__(self):
        p = self.payload if len(self.payload) <= 60 else self.payload[:60] + b"..."
        return "Frame(op=%d fin=%d rsv=%d %r)" % (self.opcode, self.fin, self.rsv, p)


class HandshakeError(Exception):
    pass


class Client:
    """One connection. send() writes bytes (optionally in chops); read_frame()
    returns the next whole server frame, None on timeout, and raises EOFError
    once the server has closed the TCP connection (or reset it)."""

    def __init__(self, port, cookie=None, host="127.0.0.1", path="/ws", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # Every chop must leave as its own segment, as Autobahn's "sync" sends.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13",
                 "Origin: http://%s:%d" % (host, port)]
        if cookie:
            lines.append("Cookie: " + cookie)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = self.sock.recv(4096)
            if not chunk:
                raise HandshakeError("server closed during the handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, *headers = head.decode("latin-1").split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            raise HandshakeError("upgrade refused: %s" % status)
        fields = {}
        for h in headers:
            k, _, v = h.partition(":")
            fields[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if fields.get("sec-websocket-accept") != want:
            raise HandshakeError("bad Sec-WebSocket-Accept %r" % fields.get("sec-websocket-accept"))
        if fields.get("upgrade", "").lower() != "websocket":
            raise HandshakeError("bad Upgrade header %r" % fields.get("upgrade"))
        self.eof = False
        self.send_failed = None

    def send(self, data, chop=None, pause=0.0):
        """Writes `data`, in pieces of `chop` bytes if given. Returns False
        (and remembers why) if the server has already closed or reset the
        connection: expected once it has failed the connection."""
        pieces = [data] if not chop else [data[i:i + chop] for i in range(0, len(data), chop)]
        try:
            for i, piece in enumerate(pieces):
                self.sock.settimeout(10)
                self.sock.sendall(piece)
                if pause and i + 1 < len(pieces):
                    time.sleep(pause)
        except OSError as e:
            self.send_failed = repr(e)
            return False
        return True

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return False
            except OSError as e:
                self.eof = True
                raise EOFError("reset: %r" % e)
            if not chunk:
                self.eof = True
                raise EOFError("closed")
            self.buf += chunk
        return True

    def read_frame(self, timeout):
        """The next server frame, or None if none is complete within `timeout`
        (a partial frame stays buffered)."""
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        masked = bool(b1 & 0x80)
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if masked:
            off += 4
        if not self._fill(off + n, deadline):
            return None
        payload = self.buf[off:off + n]
        if masked:
            payload = xor_mask(payload, self.buf[off - 4:off])
        self.buf = self.buf[off + n:]
        return ServerFrame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload)

    def wait_eof(self, timeout):
        """Reads until the server closes the TCP connection; returns the bytes
        that came first (must be none after a close frame), or None if the
        server kept the connection open past `timeout` (a hang)."""
        deadline = time.monotonic() + timeout
        extra = self.buf
        self.buf = b""
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
            extra += chunk
        return extra

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
