"""Runs one conformance case against a server and judges what came back.

A case is steps (frames to send, pauses, things to wait for) and an Expect.
What the server does is reduced to observations that any WebSocket server
which answers text messages can produce, so the same table runs against
ws-bridge and against the reference server:
  - pongs: the payloads of its pong frames, in order;
  - replies: "ref:R" for an answer carrying the ref R of a JSON message we
    sent (proof that exactly that message, byte for byte, was processed),
    "error" for an error answer without a ref (a message that was processed
    but was not a JSON event, e.g. a binary one);
  - its close frame's code (None: an empty close payload), and whether it
    then closed the TCP connection (no hang) with nothing after the close."""
import collections
import json
import struct
import time

from wsclient import CLOSE, KNOWN_OPCODES, PING, PONG, TEXT, Client, close_payload, frame

# How long something the server must do may take. Generous for a loaded
# 2-core machine; a passing case never waits this long.
DEADLINE = 10.0


class Send:
    def __init__(self, *frames, chop=None, pause=0.0):
        self.data = b"".join(frames)
        self.chop, self.pause = chop, pause


class Quiet:
    """The server must keep the connection open for `secs` (Autobahn's
    "timeout A": a message that is valid so far must not be refused)."""

    def __init__(self, secs):
        self.secs = secs


class Sleep:
    def __init__(self, secs):
        self.secs = secs


class AwaitPongs:
    """The server must have answered `n` pings by now, before we go on."""

    def __init__(self, n):
        self.n = n


class RoundTrips:
    """Messages one at a time, each answered before the next goes (Autobahn
    9.7/9.8): `messages` is a list of (frame bytes, reply key)."""

    def __init__(self, messages):
        self.messages = messages


class AwaitClose:
    """The server must fail the connection now, before we send the rest."""


class Expect:
    def __init__(self, replies=(), optional=(), pongs=(), fail=None, echo=None, client_closes=False,
                 any_text=False):
        self.replies = list(replies)      # must come (as a multiset)
        self.optional = list(optional)    # may come (a server may fail first)
        self.pongs = list(pongs)          # exactly these, in order
        self.fail = set(fail) if fail else None  # the server must close with one of these
        # Codes the server may answer our close with (None: an empty close).
        self.echo = set(echo) if echo else {1000}
        self.client_closes = client_closes  # the steps send a close frame themselves
        # Text the server pushes on its own (room traffic) is allowed; it must
        # still be well-formed and come before the close frame.
        self.any_text = any_text


class Case:
    def __init__(self, cid, title, steps, expect):
        self.cid, self.title, self.steps, self.expect = cid, title, steps, expect
        self.section = int(cid.split(".")[0])


class Observation:
    def __init__(self):
        self.pongs, self.replies, self.problems = [], [], []
        self.close = None        # (code or None, reason bytes) of the server's close
        self.after_close = b""   # anything the server sent after its close frame

    def take(self, client, f):
        """Records frame f; answers a server ping as a client must."""
        if self.close is not None:
            self.problems.append("frame after the close frame: %r" % f)
            return
        if f.masked or f.rsv or f.opcode not in KNOWN_OPCODES or (f.opcode >= 8 and not f.fin):
            self.problems.append("malformed server frame %r (masked=%s)" % (f, f.masked))
        if f.opcode == PONG:
            self.pongs.append(f.payload)
        elif f.opcode == PING:
            client.send(frame(PONG, f.payload))  # a keep-alive ping: not an observation
        elif f.opcode == CLOSE:
            p = f.payload
            if len(p) == 1:
                self.problems.append("server close payload of 1 byte")
            code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
            try:
                p[2:].decode("utf-8")
            except UnicodeDecodeError:
                self.problems.append("server close reason is not UTF-8")
            self.close = (code, p[2:])
        elif f.opcode == TEXT and f.fin:
            for line in f.payload.split(b"\n"):
                self.replies.append(reply_key(line))
        else:
            # Binary, or a fragmented answer: neither target sends those to
            # a text event (the bridge writes each answer as one text frame).
            self.problems.append("unexpected server frame %r" % f)

    def closed(self, client):
        return self.close is not None or client.eof


def reply_key(line):
    try:
        event = json.loads(line)
    except ValueError:
        return "other:%r" % line[:80]
    if isinstance(event, dict) and "ref" in event and "pong" in event:
        return "ref:" + event["ref"]
    if isinstance(event, dict) and "error" in event and "ref" not in event:
        return "error"
    return "other:%r" % line[:80]


def pump(client, obs, timeout, until=None):
    """Reads frames for up to `timeout` s, or until until() holds or the
    connection ends. Returns whether until() held."""
    deadline = time.monotonic() + timeout
    while True:
        if until is not None and until():
            return True
        if obs.closed(client):
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            f = client.read_frame(left)
        except EOFError:
            return until is not None and until()
        if f is None:
            return until is not None and until()
        obs.take(client, f)


def json_ping(ref, size=None):
    """A JSON event that both servers answer with {"ref": ref, "pong": ...};
    padded with JSON whitespace to exactly `size` bytes if given."""
    body = b'{"ref":"' + (ref.encode() if isinstance(ref, str) else ref) + b'","ping":{}}'
    if size is not None:
        if size < len(body):
            raise ValueError("%d bytes cannot hold %r" % (size, body))
        body += b" " * (size - len(body))
    return body


def run_case(case, port, cookie):
    """Runs `case` on a fresh connection; returns (problems, what was seen)."""
    ex = case.expect
    obs = Observation()
    try:
        c = Client(port, cookie)
    except Exception as e:  # noqa: BLE001 - any failure to connect is the verdict
        return ["cannot connect: %r" % e], "no connection"
    try:
        for step in case.steps:
            pump(c, obs, 0.001)  # what has come so far
            if obs.closed(c):
                break  # the server has failed the connection: send nothing more
            if isinstance(step, Send):
                if not c.send(step.data, step.chop, step.pause):
                    break
            elif isinstance(step, Sleep):
                pump(c, obs, step.secs)
            elif isinstance(step, Quiet):
                pump(c, obs, step.secs)
                if obs.closed(c):
                    obs.problems.append("closed within %.1f s of a message that is valid so far" % step.secs)
            elif isinstance(step, AwaitPongs):
                if not pump(c, obs, DEADLINE, lambda: len(obs.pongs) >= step.n):
                    obs.problems.append("no pong for ping %d before the message went on" % step.n)
            elif isinstance(step, RoundTrips):
                for data, key in step.messages:
                    if not c.send(data) or not pump(c, obs, DEADLINE, lambda: key in obs.replies):
                        obs.problems.append("round trip %s not answered" % key[:40])
                        break
                    obs.replies.remove(key)
            elif isinstance(step, AwaitClose):
                pump(c, obs, DEADLINE, lambda: obs.close is not None)
                if obs.close is None:
                    obs.problems.append("not failed at once (fail fast): no close frame")
        finish(c, obs, ex)
    finally:
        c.close()
    kinds = collections.Counter(k.split(":")[0] for k in obs.replies)
    seen = "close %s, %d pongs, replies %s" % (obs.close[0] if obs.close else "-", len(obs.pongs),
                                               ",".join("%s*%d" % kv for kv in sorted(kinds.items())) or "-")
    return obs.problems + judge(obs, ex), seen


def finish(c, obs, ex):
    if ex.fail is None and not ex.client_closes and not obs.closed(c):
        # A sentinel message: once it is answered, everything the server was
        # going to say about the earlier frames has been said.
        c.send(frame(TEXT, json_ping("sentinel")))
        want = list(ex.replies) + ["ref:sentinel"]
        if not pump(c, obs, DEADLINE, lambda: contains(obs.replies, want) and len(obs.pongs) >= len(ex.pongs)):
            obs.problems.append("timed out waiting for %s (got %s, pongs %d)"
                                % ([w[:40] for w in want], [r[:40] for r in obs.replies[:10]], len(obs.pongs)))
        if "ref:sentinel" in obs.replies:
            obs.replies.remove("ref:sentinel")
    if ex.fail is None and not ex.client_closes and not obs.closed(c):
        c.send(frame(CLOSE, close_payload(1000)))
    pump(c, obs, DEADLINE, lambda: obs.close is not None)
    if obs.close is not None and ex.fail is not None and not c.eof:
        c.send(frame(CLOSE, close_payload(obs.close[0] or 1000)))  # complete the closing handshake
    if obs.close is None:
        obs.problems.append("no close frame from the server%s" % (" (TCP closed)" if c.eof else
                                                                  " within %.0f s (hang)" % DEADLINE))
        if not c.eof:
            return  # already waited a deadline: do not wait another for the TCP close
    rest = c.wait_eof(DEADLINE)
    if rest is None:
        obs.problems.append("server kept the TCP connection open %.0f s after closing (hang)" % DEADLINE)
    elif rest:
        obs.problems.append("%d bytes after the close frame: %r" % (len(rest), rest[:40]))


def contains(have, want):
    pool = list(have)
    for w in want:
        if w not in pool:
            return False
        pool.remove(w)
    return True


def judge(obs, ex):
    problems = []
    code = obs.close[0] if obs.close else "none"
    if ex.fail is not None:
        if obs.close is not None and code not in ex.fail:
            problems.append("closed with %s, want one of %s" % (code, sorted(ex.fail)))
    elif obs.close is not None and code not in ex.echo:
        problems.append("answered our close with %s, want one of %s" % (code, sorted(ex.echo, key=str)))
    if obs.pongs != ex.pongs:
        problems.append("pongs %r, want %r" % ([p[:20] for p in obs.pongs], [p[:20] for p in ex.pongs]))
    pool = list(obs.replies)
    for w in ex.replies:
        if w in pool:
            pool.remove(w)
        else:
            problems.append("no reply %s (the message was not processed)" % w[:60])
    for w in ex.optional:
        if w in pool:
            pool.remove(w)
    if pool and not ex.any_text:
        problems.append("replies that must not come: %s" % [p[:60] for p in pool])
    return problems


def probe(port, cookie):
    """After a case: a new connection must be accepted and answered."""
    try:
        c = Client(port, cookie)
    except Exception as e:  # noqa: BLE001
        return "server refused a new connection afterwards: %r" % e
    try:
        obs = Observation()
        c.send(frame(TEXT, json_ping("probe")))
        if not pump(c, obs, DEADLINE, lambda: "ref:probe" in obs.replies):
            return "server did not answer a new connection afterwards"
        c.send(frame(CLOSE, close_payload(1000)))
        pump(c, obs, DEADLINE, lambda: obs.close is not None)
        return None if obs.close else "no close echo on the probe connection"
    finally:
        c.close()
