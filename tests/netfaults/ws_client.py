"""A WebSocket chat client that behaves as the web UI does (web/src/connection.ts,
web/src/client.ts) when the network misbehaves: an application heartbeat
(`ping` events; nothing back within the pong timeout means the connection is
dead), reconnect with exponential backoff and equal jitter, and on every
(re)connect a `join` with `sinceSeq` = the last seq it saw. A writer keeps at
most `window` sends unacknowledged and sends them again, with the same
`clientMsgId`, after a reconnect or an `error` (the UI's "retry" button does
the same by hand). Each client is one thread that owns its socket.

Everything it sees is recorded (monotonic times) for the checker."""
import base64
import json
import random
import secrets
import socket
import threading
import time

from ws_stack import RawWs


class HostWs(RawWs):
    """ws_stack.RawWs (its frame parser) on a socket to any address."""

    def __init__(self, host, port, cookie, connect_timeout, rcvbuf=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(connect_timeout)
        self.sock.connect((host, port))
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        req = ("GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://%s:%d\r\n"
               "Cookie: %s\r\n\r\n" % (host, port, key, host, port, cookie))
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("the bridge closed the upgrade")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise EOFError("upgrade refused: %r" % head[:120])
        self.close_code = None
        self.close_reason = ""

    def send(self, obj, timeout=3.0):
        # frame() leaves short timeouts on the socket; a send gets its own, and
        # a send that times out half-written ends the connection (the caller
        # reconnects), so no torn frame is ever continued.
        self.sock.settimeout(timeout)
        super().send(obj)


class Options:
    def __init__(self, **kw):
        self.room = "lobby"
        self.ping_interval = 1.0       # the UI: 25 s (pingIntervalMs, an option of the UI's client)
        self.pong_timeout = 3.0        # the UI: 10 s
        self.backoff_base = 0.25       # the UI: 0.5 s
        self.backoff_max = 2.0         # the UI: 10 s
        self.connect_timeout = 2.0     # a browser gives up on a SYN that is never answered too
        self.rate = 0.0                # messages per second (0: a reader)
        self.window = 16               # unacknowledged sends at most
        self.text_bytes = 200
        self.rcvbuf = 0
        self.__dict__.update(kw)


class Client(threading.Thread):
    def __init__(self, name, host, port, cookie, opts, sent_at):
        super().__init__(name=name, daemon=True)
        self.host, self.port, self.cookie, self.o = host, port, cookie, opts
        self.sent_at = sent_at            # shared: clientMsgId -> first send time
        self.lock = threading.Lock()
        self.stop_sending = threading.Event()
        self.stop_all = threading.Event()
        self.paused = threading.Event()   # set: read nothing, send nothing (a stuck peer)
        self.last_seq = None              # None until the first joined
        self.start_seq = None
        self.received = []                # (seq, clientMsgId, t)
        self.dups = 0
        self.gaps = []                    # (expected, got)
        self.acks = {}                    # clientMsgId -> seq
        self.unacked = {}                 # clientMsgId -> text, oldest first
        self.resend_at = {}               # clientMsgId -> when to send again after an error
        self.errors = []                  # (t, code, message)
        self.downs = []                   # (t, why)
        self.connects = 0
        self.joined_at = []               # t of each joined
        self.next_id = 0
        self.ws = None
        self.fatal = None
        self._stayed_up = False           # the current connection lasted 5 s: backoff starts over

    # ---- what the checker reads -------------------------------------------

    def snapshot(self):
        with self.lock:
            return dict(last_seq=self.last_seq, start_seq=self.start_seq, received=list(self.received),
                        dups=self.dups, gaps=list(self.gaps), acks=dict(self.acks), unacked=len(self.unacked),
                        errors=list(self.errors), downs=list(self.downs), connects=self.connects,
                        joined=list(self.joined_at))

    def finish(self):
        self.stop_all.set()

    # ---- the loop ---------------------------------------------------------

    def run(self):
        try:
            self._loop()
        except Exception as e:  # a bug in the client, not a network fault: the test fails with it
            self.fatal = "%s: %r" % (self.name, e)

    def _loop(self):
        attempt = 0
        while not self.stop_all.is_set():
            try:
                self.ws = HostWs(self.host, self.port, self.cookie, self.o.connect_timeout, self.o.rcvbuf)
            except (OSError, EOFError) as e:
                self._down("connect: %s" % e)
                attempt = self._backoff(attempt)
                continue
            with self.lock:
                self.connects += 1
            why = self._session()
            self.ws.close()
            self._down(why)
            if why == "stopped":
                return
            # As the UI: the backoff starts over once a connection stayed up.
            attempt = 0 if self._stayed_up else attempt
            attempt = self._backoff(attempt)

    def _down(self, why):
        with self.lock:
            self.downs.append((time.monotonic(), why))

    def _backoff(self, attempt):
        ceiling = min(self.o.backoff_max, self.o.backoff_base * 2 ** attempt)
        self.stop_all.wait(ceiling / 2 + random.random() * ceiling / 2)
        return attempt + 1

    def _session(self):
        """One connection's life; returns why it ended."""
        ws = self.ws
        opened = time.monotonic()
        self._stayed_up = False
        join = {"room": self.o.room}
        if self.last_seq is not None:
            join["sinceSeq"] = str(self.last_seq)
        try:
            ws.send({"ref": "j", "join": join})
            for cid, text in list(self.unacked.items()):
                ws.send({"send": {"room": self.o.room, "text": text, "clientMsgId": cid}})
            next_ping = time.monotonic() + self.o.ping_interval
            ping_out = None        # the first ping sent since anything was heard
            nonce = 0
            next_send = time.monotonic()
            while True:
                now = time.monotonic()
                if self.stop_all.is_set():
                    return "stopped"
                if now - opened > 5:
                    self._stayed_up = True
                if self.paused.is_set():
                    self.stop_all.wait(0.05)
                    ping_out = None
                    continue
                # As the UI: nothing at all back within the pong timeout of a
                # ping means the connection is dead, whatever TCP thinks.
                if ping_out is not None and now - ping_out > self.o.pong_timeout:
                    return "heartbeat timeout"
                if now >= next_ping:
                    nonce += 1
                    ws.send({"ping": {"nonce": str(nonce)}})
                    ping_out = now if ping_out is None else ping_out
                    next_ping = now + self.o.ping_interval
                due = next_ping
                if self.o.rate and self.last_seq is not None:
                    next_send = self._maybe_send(ws, now, next_send)
                    due = min(due, next_send)
                try:
                    events = ws.events(min(max(0.005, due - now), 0.1))
                except socket.timeout:
                    continue
                ping_out = None
                heard = time.monotonic()
                for e in events:
                    self._on_event(e, heard)
        except EOFError as e:
            return "closed: %s" % e
        except OSError as e:
            return "socket: %s" % e

    def _maybe_send(self, ws, now, next_send):
        """Sends what is due; returns when to look again."""
        for cid, at in list(self.resend_at.items()):
            if now >= at and cid in self.unacked:
                del self.resend_at[cid]
                ws.send({"send": {"room": self.o.room, "text": self.unacked[cid], "clientMsgId": cid}})
        if self.stop_sending.is_set() or len(self.unacked) >= self.o.window:
            return now + 0.05
        if now < next_send:
            return next_send
        cid = "%s-%d" % (self.name, self.next_id)
        self.next_id += 1
        text = cid + " " + "x" * max(0, self.o.text_bytes - len(cid) - 1)
        with self.lock:
            self.unacked[cid] = text
            self.sent_at[cid] = now
        ws.send({"send": {"room": self.o.room, "text": text, "clientMsgId": cid}})
        # After a stall, carry on at the rate (no burst to catch up).
        return max(next_send + 1.0 / self.o.rate, now)

    def _on_event(self, e, t):
        with self.lock:
            if "message" in e:
                m = e["message"]
                seq = int(m.get("seq", 0))
                if self.last_seq is not None and seq <= self.last_seq:
                    self.dups += 1
                    return
                if self.last_seq is not None and seq != self.last_seq + 1:
                    self.gaps.append((self.last_seq + 1, seq))
                self.last_seq = seq
                self.received.append((seq, m.get("clientMsgId", ""), t))
            elif "joined" in e:
                self.joined_at.append(t)
                if self.last_seq is None:
                    self.last_seq = self.start_seq = int(e["joined"].get("latestSeq", 0))
            elif "ack" in e:
                a = e["ack"]
                cid = a.get("clientMsgId", "")
                self.acks[cid] = int(a.get("seq", 0))
                self.unacked.pop(cid, None)
                self.resend_at.pop(cid, None)
            elif "error" in e:
                err = e["error"]
                self.errors.append((t, err.get("code"), err.get("message", "")))
                cid = err.get("clientMsgId", "")
                if cid in self.unacked:
                    # Refused for now (UNAVAILABLE while no node is up, a rate
                    # limit): the same id again in a moment is stored once.
                    self.resend_at[cid] = t + 0.5
