"""The flood mode's wire helpers (scripts/bench --flood): a few lines of HTTP/1.1 and
of RFC 6455 WebSocket framing over asyncio streams, written here rather than taken
from python3-websockets because an attacker needs what a library hides: a chosen
source address, a tiny receive buffer, a socket that never reads, binary frames
sent as fast as the kernel takes them, and the close code the server sent.

Threading: every function is a coroutine for one asyncio loop. Nothing here keeps
state at module level."""
import asyncio
import base64
import json
import os
import socket
import struct

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10


async def open_tcp(host, port, source="127.0.0.1", rcvbuf=0, limit=65536):
    """A TCP connection from `source` (an address of 127/8, port chosen by the kernel):
    (reader, writer). rcvbuf > 0 sets SO_RCVBUF before connecting (a receiver that
    barely reads); `limit` is the StreamReader's buffer (it stops reading the socket
    past twice that). Raises OSError as connect() does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        return await asyncio.open_connection(sock=sock, limit=limit)
    except BaseException:
        sock.close()
        raise


def close_quietly(writer):
    try:
        writer.close()
    except Exception:
        pass


def request_bytes(method, path, host, body=None, headers=None):
    """One HTTP/1.1 request (keep-alive); a dict body is sent as JSON."""
    data = json.dumps(body).encode() if body is not None else b""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host]
    if body is not None:
        lines += ["Content-Type: application/json", "Content-Length: %d" % len(data)]
    lines += ["%s: %s" % kv for kv in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def read_head(reader):
    """The status and lower-cased headers of one HTTP response: (status, {name: value})."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def read_response(reader):
    """One HTTP response with a Content-Length body: (status, headers, body bytes)."""
    status, headers = await read_head(reader)
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def cookie_token(headers):
    """The chat_session cookie's value from a response's headers ("" if none)."""
    for part in headers.get("set-cookie", "").split(";"):
        k, _, v = part.strip().partition("=")
        if k == "chat_session":
            return v
    return ""


async def ws_connect(host, port, token, source="127.0.0.1", rcvbuf=0, limit=65536, path="/ws"):
    """A WebSocket upgrade of GET `path` (/ws, or /ws?user=NAME for a guest) with
    the chat_session cookie `token` ("" for none), from `source`:
    (reader, writer, status). status is 101 when the socket is open; any
    other answer (401, 403, 429, 503...) comes with the connection already closed."""
    reader, writer = await open_tcp(host, port, source, rcvbuf, limit)
    key = base64.b64encode(os.urandom(16)).decode()
    hostport = "%s:%d" % (host, port)
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Version": "13", "Origin": "http://" + hostport}
    if token:
        headers["Cookie"] = "chat_session=" + token
    try:
        writer.write(request_bytes("GET", path, hostport, headers=headers))
        status, _ = await read_head(reader)
    except BaseException:
        close_quietly(writer)
        raise
    if status != 101:
        close_quietly(writer)
    return reader, writer, status


def frame(payload, opcode=OP_TEXT):
    """A masked client frame (RFC 6455 5.2) holding `payload` (str or bytes)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    if not payload:
        return head + mask
    # XOR with the repeated mask, as one big integer (fast enough for a flood of small frames).
    reps = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(reps, "big")).to_bytes(n, "big")
    return head + mask + masked


def event(obj):
    """A ClientEvent (a dict in the proto3 JSON mapping) as one text frame."""
    return frame(json.dumps(obj, separators=(",", ":")))


async def read_frame(reader):
    """One server frame: (opcode, payload bytes). Server frames are not masked."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    if b1 & 0x80:
        await reader.readexactly(4)  # a masked server frame is a protocol error; read past it anyway
    return b0 & 0x0F, await reader.readexactly(n)


def close_code(payload):
    """The status code of a close frame's payload (1005, "no status", if it has none)."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
