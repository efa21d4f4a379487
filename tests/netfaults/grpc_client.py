"""A direct gRPC client of chat-core (Python grpcio and the generated stubs,
not the product's code) for the stuck-gateway case: one Connect stream that
writes at a steady rate and records what it receives, in the same form as
ws_client.Client, so check.py treats both alike. It has no reconnect logic
on purpose: it is the bystander that a stuck gateway must not disturb, so
any end of its stream is recorded and fails the case."""
import queue
import threading
import time


class GrpcClient(threading.Thread):
    def __init__(self, name, addr, token, room, rate, text_bytes, sent_at, window=16):
        super().__init__(name=name, daemon=True)
        from chat.v1 import chat_pb2, chat_pb2_grpc
        import grpc
        self.pb, self.grpc = chat_pb2, grpc
        self.channel = grpc.insecure_channel(addr)
        self.stub = chat_pb2_grpc.ChatServiceStub(self.channel)
        self.token, self.room, self.rate, self.text_bytes = token, room, rate, text_bytes
        self.window = window
        self.sent_at = sent_at
        self.lock = threading.Lock()
        self.stop_sending = threading.Event()
        self.stop_all = threading.Event()
        self.outbox = queue.Queue()
        self.last_seq = self.start_seq = None
        self.received, self.dups, self.gaps = [], 0, []
        self.acks, self.unacked, self.errors, self.downs = {}, {}, [], []
        self.connects, self.joined_at = 0, []
        self.fatal = None

    def snapshot(self):
        with self.lock:
            return dict(last_seq=self.last_seq, start_seq=self.start_seq, received=list(self.received),
                        dups=self.dups, gaps=list(self.gaps), acks=dict(self.acks), unacked=len(self.unacked),
                        errors=list(self.errors), downs=list(self.downs), connects=self.connects,
                        joined=list(self.joined_at))

    def _requests(self):
        yield self.pb.ClientEvent(ref="j", join=self.pb.JoinRequest(room=self.room))
        while True:
            item = self.outbox.get()
            if item is None:
                return
            yield item

    def _writer(self):
        n, next_send = 0, time.monotonic()
        while not self.stop_all.is_set():
            now = time.monotonic()
            if self.start_seq is None or self.stop_sending.is_set() or len(self.unacked) >= self.window \
                    or now < next_send:
                self.stop_all.wait(0.01)
                continue
            cid = "%s-%d" % (self.name, n)
            n += 1
            text = cid + " " + "y" * max(0, self.text_bytes - len(cid) - 1)
            with self.lock:
                self.unacked[cid] = text
                self.sent_at[cid] = now
            self.outbox.put(self.pb.ClientEvent(send=self.pb.SendRequest(room=self.room, text=text,
                                                                          client_msg_id=cid)))
            next_send = max(next_send + 1.0 / self.rate, now)

    def run(self):
        with self.lock:
            self.connects += 1
        threading.Thread(target=self._writer, daemon=True).start()
        try:
            stream = self.stub.Connect(self._requests(), metadata=[("authorization", "Bearer " + self.token)])
            self.stream = stream
            for ev in stream:
                self._on_event(ev, time.monotonic())
            why = "stream ended"
        except self.grpc.RpcError as e:
            why = "stream ended: %s %s" % (e.code(), e.details())
        except Exception as e:  # a bug here, not a fault: fail the case with it
            self.fatal = "%s: %r" % (self.name, e)
            why = "error"
        if not self.stop_all.is_set():   # not our own finish()
            with self.lock:
                self.downs.append((time.monotonic(), why))

    def _on_event(self, ev, t):
        kind = ev.WhichOneof("event")
        with self.lock:
            if kind == "message":
                m = ev.message
                if self.last_seq is not None and m.seq <= self.last_seq:
                    self.dups += 1
                    return
                if self.last_seq is not None and m.seq != self.last_seq + 1:
                    self.gaps.append((self.last_seq + 1, m.seq))
                self.last_seq = m.seq
                self.received.append((m.seq, m.client_msg_id, t))
            elif kind == "joined":
                self.joined_at.append(t)
                if self.last_seq is None:
                    self.last_seq = self.start_seq = ev.joined.latest_seq
            elif kind == "ack":
                self.acks[ev.ack.client_msg_id] = ev.ack.seq
                self.unacked.pop(ev.ack.client_msg_id, None)
            elif kind == "error":
                self.errors.append((t, ev.error.code, ev.error.message))

    def finish(self):
        self.stop_all.set()
        self.outbox.put(None)
        try:
            self.stream.cancel()
        except Exception:
            pass
        self.channel.close()


def login(addr, username):
    """Registers `username` at chat-core and returns a login token."""
    import grpc
    from chat.v1 import chat_pb2, chat_pb2_grpc
    with grpc.insecure_channel(addr) as channel:
        auth = chat_pb2_grpc.AuthServiceStub(channel)
        auth.Register(chat_pb2.RegisterRequest(username=username, password="correct horse"), timeout=10)
        return auth.Login(chat_pb2.LoginRequest(username=username, password="correct horse"), timeout=10).token
