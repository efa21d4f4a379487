"""Autobahn|Testsuite sections 1-5: framing, pings and pongs, reserved bits,
opcodes, fragmentation. Each case names the Autobahn case it follows; the
expectation is what RFC 6455 requires of any server (a text message is
answered instead of echoed: see runner.py)."""
from runner import AwaitPongs, Case, Expect, Send, Sleep, json_ping
from wsclient import BINARY, CLOSE, CONT, PING, PONG, TEXT, close_payload, frame

P_ERR = {1002}


def ref(cid, tag=""):
    return "c" + cid + tag


def section1(limit):
    cases = []
    # 1.1.x: text messages of the sizes around the length encodings (7-bit,
    # 16-bit, 64-bit): the payload is a JSON event padded to the size.
    for i, size in enumerate([0, 125, 126, 127, 128, 65535, 65536], 1):
        cid = "1.1.%d" % i
        if size == 0:
            # An empty text message is processed: it is no JSON event, so
            # the answer is an error (the connection stays open).
            cases.append(Case(cid, "text, 0 bytes", [Send(frame(TEXT, b""))], Expect(replies=["error"])))
            continue
        body = json_ping(ref(cid), min(size, limit))
        cases.append(Case(cid, "text, %d bytes" % len(body), [Send(frame(TEXT, body))],
                          Expect(replies=["ref:" + ref(cid)])))
    body = json_ping(ref("1.1.8"), min(65536, limit))
    cases.append(Case("1.1.8", "text, %d bytes in chops of 997" % len(body), [Send(frame(TEXT, body), chop=997)],
                      Expect(replies=["ref:" + ref("1.1.8")])))
    # 1.2.x: binary messages are processed too (answered; the bridge with an
    # error event: it speaks JSON text only).
    for i, size in enumerate([0, 125, 126, 127, 128, 65535, min(65536, limit)], 1):
        cases.append(Case("1.2.%d" % i, "binary, %d bytes" % size, [Send(frame(BINARY, b"\xfe" * size))],
                          Expect(replies=["error"])))
    cases.append(Case("1.2.8", "binary, %d bytes in chops of 997" % min(65536, limit),
                      [Send(frame(BINARY, b"\xfe" * min(65536, limit)), chop=997)], Expect(replies=["error"])))
    # Not in Autobahn (it cannot send these), but RFC 6455 5.1 and 5.2.
    cases.append(Case("1.3.1", "unmasked client text frame", [Send(frame(TEXT, json_ping(ref("1.3.1")), mask=False))],
                      Expect(fail=P_ERR)))
    cases.append(Case("1.3.2", "unmasked client ping", [Send(frame(PING, b"x", mask=False))], Expect(fail=P_ERR)))
    # A 64-bit length with its most significant bit set is invalid (1002);
    # a server that checks its size limit first says 1009. Either way: no wait.
    cases.append(Case("1.3.3", "64-bit length with the top bit set", [Send(frame(TEXT, b"", length=1 << 63))],
                      Expect(fail={1002, 1009})))
    return cases


def section2():
    cases = []
    pings = [("2.1", "ping, empty", b""), ("2.2", "ping, text", b"Hello, world!"),
             ("2.3", "ping, binary", b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), ("2.4", "ping, 125 bytes", b"\xfe" * 125)]
    for cid, title, p in pings:
        cases.append(Case(cid, title, [Send(frame(PING, p))], Expect(pongs=[p])))
    cases.append(Case("2.5", "ping, 126 bytes", [Send(frame(PING, b"\xfe" * 126))], Expect(fail=P_ERR)))
    cases.append(Case("2.6", "ping, 125 bytes in octet chops", [Send(frame(PING, b"\xfe" * 125), chop=1)],
                      Expect(pongs=[b"\xfe" * 125])))
    cases.append(Case("2.7", "unsolicited pong, empty", [Send(frame(PONG, b""))], Expect()))
    cases.append(Case("2.8", "unsolicited pong, payload", [Send(frame(PONG, b"unsolicited pong payload"))], Expect()))
    cases.append(Case("2.9", "unsolicited pong, then ping",
                      [Send(frame(PONG, b"unsolicited pong payload"), frame(PING, b"ping payload"))],
                      Expect(pongs=[b"ping payload"])))
    ten = [("payload-%d" % i).encode() for i in range(10)]
    cases.append(Case("2.10", "10 pings", [Send(*[frame(PING, p) for p in ten])], Expect(pongs=ten)))
    cases.append(Case("2.11", "10 pings in octet chops", [Send(*[frame(PING, p) for p in ten], chop=1)],
                      Expect(pongs=ten)))
    return cases


def section3():
    cases = [Case("3.1", "text with RSV=1", [Send(frame(TEXT, json_ping(ref("3.1")), rsv=1))], Expect(fail=P_ERR))]
    for cid, rsv, chop in [("3.2", 2, None), ("3.3", 3, "frame"), ("3.4", 4, 1)]:
        ok, bad = json_ping(ref(cid, "a")), json_ping(ref(cid, "b"))
        frames = [frame(TEXT, ok), frame(TEXT, bad, rsv=rsv), frame(PING, b"after")]
        steps = ([Send(f) for f in frames] if chop == "frame" else [Send(*frames, chop=chop)])
        # The good message may be answered before the connection fails; the
        # bad one and the ping after it must not be.
        cases.append(Case(cid, "text, then text with RSV=%d, then ping" % rsv, steps,
                          Expect(optional=["ref:" + ref(cid, "a")], fail=P_ERR)))
    cases.append(Case("3.5", "binary with RSV=5", [Send(frame(BINARY, b"\xff" * 8, rsv=5))], Expect(fail=P_ERR)))
    cases.append(Case("3.6", "ping with RSV=6", [Send(frame(PING, b"ping", rsv=6))], Expect(fail=P_ERR)))
    cases.append(Case("3.7", "close with RSV=7", [Send(frame(CLOSE, close_payload(1000), rsv=7))],
                      Expect(fail=P_ERR)))
    return cases


def section4():
    cases = []
    for group, ops in (("4.1", [3, 4, 5, 6, 7]), ("4.2", [11, 12, 13, 14, 15])):
        for i, op in enumerate(ops, 1):
            cid = "%s.%d" % (group, i)
            payload = b"" if i in (1, 3) else b"reserved opcode payload"
            if i <= 2:
                steps, opt = [Send(frame(op, payload))], []
            else:
                steps = [Send(frame(TEXT, json_ping(ref(cid))), frame(op, payload), frame(PING, b"after"))]
                opt = ["ref:" + ref(cid)]
            cases.append(Case(cid, "reserved opcode %d%s" % (op, ", after a text" if i > 2 else ""), steps,
                              Expect(optional=opt, fail=P_ERR)))
    return cases


def section5():
    cases = [
        Case("5.1", "ping in 2 fragments", [Send(frame(PING, b"ping ", fin=False), frame(CONT, b"payload"))],
             Expect(fail=P_ERR)),
        Case("5.2", "pong in 2 fragments", [Send(frame(PONG, b"pong ", fin=False), frame(CONT, b"payload"))],
             Expect(fail=P_ERR)),
    ]
    for cid, chop, tag in [("5.3", None, ""), ("5.4", "frame", ", frame chops"), ("5.5", 1, ", octet chops")]:
        a, b = split(json_ping(ref(cid)), 9)
        frames = [frame(TEXT, a, fin=False), frame(CONT, b)]
        cases.append(Case(cid, "text in 2 fragments" + tag, sends(frames, chop), Expect(replies=["ref:" + ref(cid)])))
    for cid, chop, tag in [("5.6", None, ""), ("5.7", "frame", ", frame chops"), ("5.8", 1, ", octet chops")]:
        a, b = split(json_ping(ref(cid)), 9)
        frames = [frame(TEXT, a, fin=False), frame(PING, b"ping payload"), frame(CONT, b)]
        cases.append(Case(cid, "text in 2 fragments, ping between" + tag, sends(frames, chop),
                          Expect(replies=["ref:" + ref(cid)], pongs=[b"ping payload"])))
    # A continuation with nothing to continue: failed; nothing after it processed.
    n = 9
    for fin in (True, False):
        for chop, tag in [(None, ""), ("frame", ", frame chops"), (1, ", octet chops")]:
            cid = "5.%d" % n
            frames = [frame(CONT, b"non-continuation payload", fin=fin), frame(TEXT, json_ping(ref(cid)))]
            cases.append(Case(cid, "continuation (FIN=%d) with nothing to continue%s" % (fin, tag),
                              sends(frames, chop), Expect(fail=P_ERR)))
            n += 1
    a, b = split(json_ping(ref("5.15")), 9)
    cases.append(Case("5.15", "text in 2 fragments, then a stray continuation",
                      [Send(frame(TEXT, a, fin=False), frame(CONT, b), frame(CONT, b"fragment3", fin=False),
                            frame(TEXT, json_ping(ref("5.15", "b"))))],
                      Expect(optional=["ref:" + ref("5.15")], fail=P_ERR)))
    for cid, fin in (("5.16", False), ("5.17", True)):
        a, b = split(json_ping(ref(cid)), 9)
        group = [frame(CONT, b"fragment1", fin=fin), frame(TEXT, a, fin=False), frame(CONT, b)]
        cases.append(Case(cid, "2x: stray continuation (FIN=%d), then a 2-fragment text" % fin,
                          [Send(*(group + group))], Expect(fail=P_ERR)))
    a, b = split(json_ping(ref("5.18")), 9)
    cases.append(Case("5.18", "text fragment followed by a text frame (not a continuation)",
                      [Send(frame(TEXT, a, fin=False), frame(TEXT, b))], Expect(fail=P_ERR)))
    for cid, chop in (("5.19", None), ("5.20", "frame")):
        body = json_ping(ref(cid))
        parts = [body[i * 8:(i + 1) * 8] for i in range(4)] + [body[32:]]
        first = sends([frame(TEXT, parts[0], fin=False), frame(CONT, parts[1], fin=False), frame(PING, b"pongme 1!")],
                      chop)
        second = sends([frame(CONT, parts[2], fin=False), frame(CONT, parts[3], fin=False), frame(PING, b"pongme 2!"),
                        frame(CONT, parts[4])], chop)
        # The first ping must be answered while the message is still open.
        cases.append(Case(cid, "5 text fragments, 2 pings, a pause" + (", frame chops" if chop else ""),
                          first + [AwaitPongs(1), Sleep(0.3)] + second,
                          Expect(replies=["ref:" + ref(cid)], pongs=[b"pongme 1!", b"pongme 2!"])))
    return cases


def split(body, at):
    return body[:at], body[at:]


def sends(frames, chop):
    """Frames as one write, one write per frame ("frame"), or in chops of n bytes."""
    if chop == "frame":
        return [Send(f) for f in frames]
    return [Send(*frames, chop=chop)]


def cases(limit):
    return section1(limit) + section2() + section3() + section4() + section5()
