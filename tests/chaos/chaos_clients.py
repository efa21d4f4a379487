"""Load clients for the kill -9 loops: writers and readers over gRPC (grpcio,
generated stubs) and over WebSocket (a raw socket through ws-bridge). Each
behaves as docs/protocol.md tells a real client to ("Failing over between
chat-core nodes", "Fail-over"): on a lost connection it reconnects by itself,
joins every room with since_seq = the last seq it saw, and resends every
unacknowledged send with its original client_msg_id, oldest first.

Each client keeps its own log (what it sent, what was acknowledged with which
seq, every message event it received, unfiltered) for the independent checker:
a duplicate or a gap delivered by the product must reach the log, so nothing
here drops or reorders messages."""
import base64
import json
import os
import queue
import random
import secrets
import socket
import threading
import time

import grpc
from chat_procs import queued_requests  # tests/testing, on the path (kill_loops.py)
from chat.v1 import chat_pb2 as pb, chat_pb2_grpc as rpc

from ws_stack import RawWs, text_frame

# Send errors after which a resend is the documented answer (node or database
# away, or a fail-over queue full); any other code is a refusal and is logged.
RETRYABLE = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED", "DEADLINE_EXCEEDED", "INTERNAL"}


class Client(threading.Thread):
    """What gRPC and WebSocket clients share: the log, the unacked window, the
    pacer that makes new sends, and the reconnect loop with backoff."""

    def __init__(self, name, token, rooms, writer, rate, window):
        super().__init__(daemon=True, name=name)
        self.name, self.token, self.rooms, self.writer = name, token, rooms, writer
        self.rate, self.window = rate, window
        self.lock = threading.Lock()
        self.last_seq = {r: 0 for r in rooms}  # 0: replay the room from its first message
        self.unacked = {}                      # client_msg_id -> (room, text), oldest first
        self.sent = 0
        self.acked = {}                        # client_msg_id -> [room, seq]
        self.ack_conflicts = []                # same id acknowledged with two seqs
        self.refused = []                      # sends answered by a non-retryable error
        self.received = []                     # [room, seq, client_msg_id], as delivered
        self.reconnects = 0
        self.resent = 0                        # sends written again after a reconnect or error
        self.duplicate_acks = 0                # acks saying "already stored": the kill hit between commit and ack
        self.errors = {}                       # reason -> count (why streams ended)
        self.progress = 0.0                    # monotonic time of the last ack or message
        self.ack_time = 0.0                    # ... of the last ack
        self.msg_time = 0.0                    # ... of the last message received
        self.producing = True
        self.stopping = False

    # --- shared bookkeeping -------------------------------------------------
    def note_error(self, why):
        self.errors[why] = self.errors.get(why, 0) + 1

    def on_message(self, room, seq, cmid):
        with self.lock:
            self.received.append([room, seq, cmid])
            if seq > self.last_seq.get(room, 0):
                self.last_seq[room] = seq
            self.progress = self.msg_time = time.monotonic()

    def on_ack(self, room, cmid, seq, duplicate):
        with self.lock:
            self.duplicate_acks += bool(duplicate)
            old = self.acked.get(cmid)
            if old is not None and old[1] != seq:
                self.ack_conflicts.append([cmid, old[1], seq])
            self.acked[cmid] = [room, seq]
            self.unacked.pop(cmid, None)
            self.progress = self.ack_time = time.monotonic()

    def on_send_error(self, code, cmid):
        with self.lock:
            if cmid not in self.unacked:
                return
            if code in RETRYABLE:
                threading.Timer(0.2, self.resend, (cmid,)).start()
            else:
                self.refused.append([cmid, code])
                del self.unacked[cmid]

    def resend(self, cmid):
        with self.lock:
            if cmid in self.unacked:
                room, text = self.unacked[cmid]
                self.resent += 1
                self.put_send(room, text, cmid)

    def pacer(self):
        """New sends at `rate` a second while fewer than `window` are unacked."""
        rng = random.Random(self.name)
        n = 0
        while not self.stopping:
            time.sleep(1.0 / self.rate)
            with self.lock:
                if not self.producing or len(self.unacked) >= self.window:
                    continue
                n += 1
                room = self.rooms[n % len(self.rooms)]
                cmid = "%s-%d" % (self.name, n)
                text = "%s says %d %s" % (self.name, n, "x" * rng.randrange(0, 64))
                self.unacked[cmid] = (room, text)
                self.sent += 1
                self.put_send(room, text, cmid)

    def resume_events(self):
        """What a fresh connection writes first (called under the lock)."""
        joins = [(r, self.last_seq[r]) for r in self.rooms]
        self.resent += len(self.unacked)
        return joins, [(cmid, room, text) for cmid, (room, text) in self.unacked.items()]

    def run(self):
        if self.writer:
            threading.Thread(target=self.pacer, daemon=True).start()
        backoff = 0.05
        first = True
        while not self.stopping:
            if not first:
                self.reconnects += 1
            first = False
            started = time.monotonic()
            try:
                self.session()
            except Exception as e:  # noqa: BLE001 - every end of a session is a reconnect
                self.note_error(type(e).__name__ + ": " + str(e).split("\n")[0][:80])
            if self.stopping:
                break
            # A session that delivered something resets the backoff, as the docs say.
            backoff = 0.05 if self.progress > started else min(backoff * 2, 0.5)
            time.sleep(backoff * (0.5 + random.random()))

    def moving_since(self, t):
        """Received a message after t and, a writer, had a send acknowledged after t."""
        return self.msg_time > t and (not self.writer or self.ack_time > t)

    def stop(self):
        self.stopping = True
        self.abort()

    def log(self):
        with self.lock:
            return {"name": self.name, "kind": self.kind, "writer": self.writer, "rooms": self.rooms,
                    "sent": self.sent, "acked": self.acked, "unacked": list(self.unacked),
                    "ack_conflicts": self.ack_conflicts, "refused": self.refused,
                    "received": self.received, "reconnects": self.reconnects, "errors": self.errors,
                    "resent": self.resent, "duplicate_acks": self.duplicate_acks}


class GrpcClient(Client):
    """Connect streams on a list of chat-core nodes, round robin."""
    kind = "grpc"

    def __init__(self, nodes, first_node, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nodes, self.node_index = nodes, first_node
        self.outbox, self.call, self.channel = None, None, None

    def put_send(self, room, text, cmid):
        if self.outbox is not None:
            self.outbox.put(pb.ClientEvent(send=pb.SendRequest(room=room, text=text, client_msg_id=cmid)))

    def abort(self):
        call = self.call
        if call is not None:
            call.cancel()

    def session(self):
        node = self.nodes[self.node_index % len(self.nodes)]
        self.node_index += 1
        channel = grpc.insecure_channel(node)
        outbox = queue.Queue()
        with self.lock:
            joins, resends = self.resume_events()
            for room, since in joins:
                outbox.put(pb.ClientEvent(ref="j", join=pb.JoinRequest(room=room, since_seq=since)))
            for cmid, room, text in resends:
                outbox.put(pb.ClientEvent(send=pb.SendRequest(room=room, text=text, client_msg_id=cmid)))
            self.outbox = outbox

        try:
            self.call = rpc.ChatServiceStub(channel).Connect(
                queued_requests(outbox), metadata=[("authorization", "Bearer " + self.token)])
            for ev in self.call:
                kind = ev.WhichOneof("event")
                if kind == "message":
                    self.on_message(ev.message.room, ev.message.seq, ev.message.client_msg_id)
                elif kind == "batch":
                    for inner in ev.batch.events:
                        if inner.WhichOneof("event") == "message":
                            self.on_message(inner.message.room, inner.message.seq, inner.message.client_msg_id)
                elif kind == "ack":
                    self.on_ack(ev.ack.room, ev.ack.client_msg_id, ev.ack.seq, ev.ack.duplicate)
                elif kind == "error":
                    code = pb.Error.Code.Name(ev.error.code)
                    if ev.error.event == "send":
                        self.on_send_error(code, ev.error.client_msg_id)
                    elif ev.error.event == "join":
                        raise RuntimeError("join refused: %s %s" % (code, ev.error.message))
            self.note_error("stream ended OK")
        except grpc.RpcError as e:
            self.note_error("grpc " + e.code().name)
        finally:
            with self.lock:
                self.outbox = None
            outbox.put(None)
            self.call = None
            channel.close()


class WsClient(Client):
    """A WebSocket through ws-bridge, authenticated by its token (Bearer)."""
    kind = "ws"

    def __init__(self, port, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.port, self.ws, self.send_lock = port, None, threading.Lock()

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                      "Origin: http://127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n"
                      % (self.port, key, self.port, self.token)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                sock.close()
                raise ConnectionError("upgrade: connection closed")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            sock.close()
            raise ConnectionError("upgrade refused: " + head.split(b"\r\n")[0].decode(errors="replace"))
        ws = RawWs.__new__(RawWs)  # RawWs's frame reader on our own handshake
        ws.sock, ws.buf, ws.close_code, ws.close_reason = sock, rest, None, ""
        return ws

    def write(self, obj):
        ws = self.ws
        if ws is None:
            return
        try:
            with self.send_lock:
                ws.sock.sendall(text_frame(json.dumps(obj)))
        except OSError:
            pass  # the reader sees the socket end and reconnects; the send stays unacked

    def put_send(self, room, text, cmid):
        self.write({"send": {"room": room, "text": text, "clientMsgId": cmid}})

    def abort(self):
        ws = self.ws
        if ws is not None:
            try:
                ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def session(self):
        ws = self.connect()
        try:
            with self.lock:
                self.ws = ws
                joins, resends = self.resume_events()
                for room, since in joins:
                    self.write({"ref": "j", "join": {"room": room, "sinceSeq": str(since)}})
                for cmid, room, text in resends:
                    self.put_send(room, text, cmid)
            while not self.stopping:
                try:
                    op, payload = ws.frame(1.0)
                except socket.timeout:
                    continue
                if op == 8:
                    self.note_error("close %s %s" % (ws.close_code, ws.close_reason))
                    return
                if op == 9:  # ping: answer with a pong carrying the same payload
                    with self.send_lock:
                        ws.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                    continue
                if op != 1:
                    continue
                for line in payload.decode().split("\n"):
                    self.on_event(json.loads(line))
        except (EOFError, OSError) as e:
            self.note_error("ws " + type(e).__name__)
        finally:
            with self.lock:
                self.ws = None
            ws.close()

    def on_event(self, ev):
        if "message" in ev:
            m = ev["message"]
            self.on_message(m["room"], int(m["seq"]), m.get("clientMsgId", ""))
        elif "ack" in ev:
            a = ev["ack"]
            self.on_ack(a["room"], a.get("clientMsgId", ""), int(a["seq"]), a.get("duplicate", False))
        elif "error" in ev:
            e = ev["error"]
            if e.get("event") == "send":
                self.on_send_error(e.get("code", ""), e.get("clientMsgId", ""))
            elif e.get("event") == "join":
                raise EOFError("join refused: %s %s" % (e.get("code"), e.get("message")))


def make_clients(grpc_nodes, ws_port, tokens, rooms, writers=2, readers=2, rates=(40.0, 12.0), window=16):
    """`writers` writers and `readers` readers of each kind (gRPC, and WebSocket
    when ws_port is set). tokens: name -> token; names are w-grpc-0, r-ws-1, ..."""
    out = []
    n_grpc = 0  # gRPC clients start spread over the nodes, so every node's death hurts someone
    for kind in (["grpc"] + (["ws"] if ws_port else [])):
        for role, count in (("w", writers), ("r", readers)):
            for i in range(count):
                name = "%s-%s-%d" % (role, kind, i)
                rate = rates[0] if kind == "grpc" else rates[1]
                args = (name, tokens[name], rooms, role == "w", rate, window)
                if kind == "grpc":
                    out.append(GrpcClient(grpc_nodes, n_grpc % len(grpc_nodes), *args))
                    n_grpc += 1
                else:
                    out.append(WsClient(ws_port, *args))
    return out


def client_names(with_ws, writers=2, readers=2):
    return ["%s-%s-%d" % (role, kind, i) for kind in (["grpc"] + (["ws"] if with_ws else []))
            for role, count in (("w", writers), ("r", readers)) for i in range(count)]


def save_logs(clients, folder):
    os.makedirs(folder, exist_ok=True)
    for c in clients:
        with open(os.path.join(folder, c.name + ".json"), "w") as f:
            json.dump(c.log(), f)
