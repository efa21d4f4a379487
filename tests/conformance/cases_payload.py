"""Autobahn|Testsuite sections 6 (UTF-8 handling), 7 (close handling) and 9
(limits, scaled to the server's message limit `limit`). See cases_framing.py."""
from runner import AwaitClose, Case, Expect, Quiet, RoundTrips, Send, json_ping
from wsclient import BINARY, CLOSE, CONT, PING, TEXT, close_payload, frame

KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # "κόσμε"
BAD = {1007}

# From Markus Kuhn's UTF-8 decoder stress test, as Autobahn's case 6.x.x uses it.
VALID = [
    ("U+0024", b"hello\x24world"), ("U+00A2", b"hello\xc2\xa2world"), ("U+20AC", b"hello\xe2\x82\xacworld"),
    ("U+24B62", b"hello\xf0\xa4\xad\xa2world"), ("kosme", KOSME),
    ("first 2-byte", b"\xc2\x80"), ("first 3-byte", b"\xe0\xa0\x80"), ("first 4-byte", b"\xf0\x90\x80\x80"),
    ("last 1-byte", b"\x7f"), ("last 2-byte", b"\xdf\xbf"), ("last 3-byte", b"\xef\xbf\xbf"),
    ("last 4-byte U+10FFFF", b"\xf4\x8f\xbf\xbf"), ("U+D7FF", b"\xed\x9f\xbf"), ("U+E000", b"\xee\x80\x80"),
    ("U+FFFD", b"\xef\xbf\xbd"), ("noncharacter U+FFFE", b"\xef\xbf\xbe"),
]
INVALID = [
    ("5-byte sequence", b"\xf8\x88\x80\x80\x80"), ("6-byte sequence", b"\xfc\x84\x80\x80\x80\x80"),
    ("past U+10FFFF (F7)", b"\xf7\xbf\xbf\xbf"), ("U+110000", b"\xf4\x90\x80\x80"),
    ("lone continuation 80", b"\x80"), ("lone continuation BF", b"\xbf"),
    ("3 continuations", b"\x80\xbf\x80"), ("6 continuations", b"\x80\xbf\x80\xbf\x80\xbf"),
    ("lonely 2-byte starts", b"\xc0\x20\xc1\x20"), ("lonely 3-byte starts", b"\xe0\x20\xe1\x20"),
    ("2-byte missing its last byte", b"\xdf"), ("3-byte missing its last byte", b"\xef\xbf"),
    ("impossible FE", b"\xfe"), ("impossible FF", b"\xff"), ("impossible FEFEFFFF", b"\xfe\xfe\xff\xff"),
    ("overlong / (2)", b"\xc0\xaf"), ("overlong / (3)", b"\xe0\x80\xaf"), ("overlong / (4)", b"\xf0\x80\x80\xaf"),
    ("max overlong 2", b"\xc1\xbf"), ("max overlong 3", b"\xe0\x9f\xbf"), ("max overlong 4", b"\xf0\x8f\xbf\xbf"),
    ("overlong NUL", b"\xc0\x80"), ("surrogate U+D800", b"\xed\xa0\x80"), ("surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("surrogate pair", b"\xed\xa0\x80\xed\xb0\x80"),
]


def r(cid):
    return "c" + cid + "-"


def carrier(cid, seq):
    """A JSON event whose ref holds `seq`: its answer proves the bytes arrived
    whole. Returns (body, offset of seq in body)."""
    head = json_ping(r(cid).encode() + seq)
    return head, len('{"ref":"') + len(r(cid))


def section6():
    c = [Case("6.1.1", "text, 0 bytes", [Send(frame(TEXT, b""))], Expect(replies=["error"])),
         Case("6.1.2", "text of 3 empty fragments",
              [Send(frame(TEXT, b"", fin=False), frame(CONT, b"", fin=False), frame(CONT, b""))],
              Expect(replies=["error"])),
         Case("6.1.3", "empty fragment, payload, empty fragment",
              [Send(frame(TEXT, b"", fin=False), frame(CONT, json_ping(r("6.1.3")), fin=False), frame(CONT, b""))],
              Expect(replies=["ref:" + r("6.1.3")]))]
    hello = "Hello-µ@ßöäüàá-UTF-8!!".encode()
    body, at = carrier("6.2.1", hello)
    c.append(Case("6.2.1", "valid UTF-8, one frame", [Send(frame(TEXT, body))], Expect(replies=[key("6.2.1", hello)])))
    body, at = carrier("6.2.2", hello)
    cut = at + hello.index("@".encode())  # a code point boundary
    c.append(Case("6.2.2", "valid UTF-8, 2 fragments at a code point boundary",
                  [Send(frame(TEXT, body[:cut], fin=False), frame(CONT, body[cut:]))],
                  Expect(replies=[key("6.2.2", hello)])))
    for cid, seq in (("6.2.3", hello), ("6.2.4", KOSME)):
        body, at = carrier(cid, seq)
        c.append(Case(cid, "valid UTF-8, 1-byte fragments (code points split)", [Send(*one_byte_fragments(body))],
                      Expect(replies=[key(cid, seq)])))
    bad = KOSME + b"\xed\xa0\x80edited"
    c.append(Case("6.3.1", "invalid UTF-8, one frame", [Send(frame(TEXT, bad))], Expect(fail=BAD)))
    c.append(Case("6.3.2", "invalid UTF-8, 1-byte fragments", [Send(*one_byte_fragments(bad))], Expect(fail=BAD)))
    # 6.4.x: valid so far must stay open; the fragment that makes it invalid
    # must fail the connection at once, before the message ends.
    for cid, parts in (("6.4.1", [KOSME, b"\xf4\x90\x80\x80", b"edited"]),
                       ("6.4.2", [KOSME + b"\xf4", b"\x90", b"\x80\x80edited"])):
        c.append(Case(cid, "fail fast: invalid fragment %s" % parts[1].hex(),
                      [Send(frame(TEXT, parts[0], fin=False)), Quiet(0.3), Send(frame(CONT, parts[1], fin=False)),
                       AwaitClose(), Send(frame(CONT, parts[2]))], Expect(fail=BAD)))
    # 6.4.3/4: one frame in chops; a server that validates whole frames
    # refuses it when the frame is complete, so only 1007 is required.
    for cid, extra in (("6.4.3", 0), ("6.4.4", 1)):
        payload = KOSME + b"\xf4\x90\x80\x80edited"
        data = frame(TEXT, payload)
        cut = len(data) - len(payload) + len(KOSME) + extra  # the chop ends before (6.4.3) or inside it
        c.append(Case(cid, "invalid UTF-8 in one frame sent in chops", [Send(data[:cut]), Quiet(0.2), Send(data[cut:])],
                      Expect(fail=BAD)))
    c.append(Case("6.4.5", "message ends inside a code point", [Send(frame(TEXT, KOSME + b"\xe0", fin=False),
                                                                     frame(CONT, b"\xa0"))], Expect(fail=BAD)))
    c.append(Case("6.5.0", "valid UTF-8 U+0000 (processed, not JSON)", [Send(frame(TEXT, b"\x00"))],
                  Expect(replies=["error"])))
    for i, (name, seq) in enumerate(VALID, 1):
        for grp, split in (("6.5", False), ("6.6", True)):
            cid = "%s.%d" % (grp, i)
            body, at = carrier(cid, seq)
            c.append(Case(cid, "valid %s%s" % (name, ", split across fragments" if split else ""),
                          [Send(*fragments(body, at, seq, split))], Expect(replies=[key(cid, seq)])))
    for i, (name, seq) in enumerate(INVALID, 1):
        for grp, split in (("6.7", False), ("6.8", True)):
            cid = "%s.%d" % (grp, i)
            body, at = carrier(cid, seq)
            c.append(Case(cid, "invalid %s%s" % (name, ", split across fragments" if split else ""),
                          [Send(*fragments(body, at, seq, split))], Expect(fail=BAD)))
    return c


def key(cid, seq):
    return "ref:" + r(cid) + seq.decode()


def one_byte_fragments(body):
    return [frame(TEXT if i == 0 else CONT, body[i:i + 1], fin=i == len(body) - 1) for i in range(len(body))]


def fragments(body, at, seq, split):
    if not split:
        return [frame(TEXT, body)]
    cut = at + (len(seq) // 2 if len(seq) > 1 else 0)  # inside the sequence where it has 2+ bytes
    return [frame(TEXT, body[:cut], fin=False), frame(CONT, body[cut:])]


def section7(limit):
    t = lambda cid: frame(TEXT, json_ping(r(cid)))  # noqa: E731
    close = lambda code=1000, reason=b"": frame(CLOSE, close_payload(code, reason))  # noqa: E731
    c = [Case("7.1.1", "text then close", [Send(t("7.1.1"), close())],
              Expect(optional=["ref:" + r("7.1.1")], client_closes=True)),
         Case("7.1.2", "two closes", [Send(close(), close())], Expect(client_closes=True)),
         Case("7.1.3", "ping after close", [Send(close(), frame(PING, b"after close"))], Expect(client_closes=True)),
         Case("7.1.4", "text after close", [Send(close(), t("7.1.4"))], Expect(client_closes=True)),
         Case("7.1.5", "fragment, close, last fragment",
              [Send(frame(TEXT, json_ping(r("7.1.5"))[:9], fin=False), close(),
                    frame(CONT, json_ping(r("7.1.5"))[9:]))], Expect(client_closes=True)),
         Case("7.1.6", "message at the limit, text, close, ping",
              [Send(frame(TEXT, json_ping(r("7.1.6a"), limit)), t("7.1.6b"), close(), frame(PING, b"late"))],
              Expect(optional=["ref:" + r("7.1.6a"), "ref:" + r("7.1.6b")], client_closes=True)),
         Case("7.3.1", "close without payload", [Send(frame(CLOSE, b""))],
              Expect(echo={None, 1000}, client_closes=True)),
         Case("7.3.2", "close payload of 1 byte", [Send(frame(CLOSE, b"\x03"))], Expect(fail={1002})),
         Case("7.3.3", "close 1000", [Send(close())], Expect(client_closes=True)),
         Case("7.3.4", "close 1000 with a reason", [Send(close(1000, b"Hello World!"))], Expect(client_closes=True)),
         Case("7.3.5", "close with a 123-byte reason", [Send(close(1000, b"*" * 123))], Expect(client_closes=True)),
         Case("7.3.6", "close with a 124-byte reason (payload 126)", [Send(close(1000, b"*" * 124))],
              Expect(fail={1002})),
         Case("7.5.1", "close reason not UTF-8", [Send(close(1000, KOSME + b"\xed\xa0\x80edited"))],
              Expect(fail={1002, 1007}))]
    valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999]
    for i, code in enumerate(valid, 1):
        c.append(Case("7.7.%d" % i, "close with valid code %d" % code, [Send(close(code))],
                      Expect(echo={1000, code}, client_closes=True)))
    invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]
    for i, code in enumerate(invalid, 1):
        c.append(Case("7.9.%d" % i, "close with invalid code %d" % code, [Send(close(code))], Expect(fail={1002})))
    # Codes past 4999 are not defined by RFC 6455: Autobahn accepts a normal
    # close, the code echoed, or 1002.
    for i, code in enumerate([5000, 65535], 1):
        c.append(Case("7.13.%d" % i, "close with code %d" % code, [Send(close(code))],
                      Expect(echo={1000, code, 1002}, client_closes=True)))
    return c


def section9(limit):
    big = {1009}
    ok = lambda cid: ["ref:" + r(cid)]  # noqa: E731
    c = [Case("9.1.1", "text at the limit (%d bytes)" % limit, [Send(frame(TEXT, json_ping(r("9.1.1"), limit)))],
              Expect(replies=ok("9.1.1"))),
         Case("9.1.2", "text 1 byte over the limit", [Send(frame(TEXT, json_ping(r("9.1.2"), limit + 1)))],
              Expect(fail=big)),
         Case("9.1.3", "text 4x the limit", [Send(frame(TEXT, json_ping(r("9.1.3"), 4 * limit)))], Expect(fail=big)),
         Case("9.1.4", "header of a 16 MiB text, no payload", [Send(frame(TEXT, b"", length=16 << 20)), AwaitClose()],
              Expect(fail=big)),
         Case("9.2.1", "binary at the limit", [Send(frame(BINARY, b"\xfe" * limit))], Expect(replies=["error"])),
         Case("9.2.2", "binary 1 byte over the limit", [Send(frame(BINARY, b"\xfe" * (limit + 1)))], Expect(fail=big))]
    for i, size in enumerate([64, 256, 1024, 4096, 16384, limit], 1):
        cid = "9.3.%d" % i
        c.append(Case(cid, "text at the limit in fragments of %d" % size,
                      [Send(*chunked(TEXT, json_ping(r(cid), limit), size))], Expect(replies=ok(cid))))
    c.append(Case("9.3.7", "text 1 byte over the limit in fragments of 4096",
                  [Send(*chunked(TEXT, json_ping(r("9.3.7"), limit + 1), 4096))], Expect(fail=big)))
    over = chunked(TEXT, json_ping(r("9.3.8"), limit + 8192), 4096)
    n = limit // 4096
    c.append(Case("9.3.8", "fail fast: the fragment that crosses the limit",
                  [Send(*over[:n + 1]), AwaitClose(), Send(*over[n + 1:])], Expect(fail=big)))
    c.append(Case("9.4.1", "binary at the limit in fragments of 4096",
                  [Send(*chunked(BINARY, b"\xfe" * limit, 4096))], Expect(replies=["error"])))
    c.append(Case("9.4.2", "binary 1 byte over the limit in fragments of 4096",
                  [Send(*chunked(BINARY, b"\xfe" * (limit + 1), 4096))], Expect(fail=big)))
    for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], 1):
        cid = "9.5.%d" % i
        c.append(Case(cid, "text at the limit sent in chops of %d" % chop,
                      [Send(frame(TEXT, json_ping(r(cid), limit)), chop=chop)], Expect(replies=ok(cid))))
    # 9.7/9.8: round trips one at a time (100: under the bridge's per-socket
    # burst of events, which these cases are not about).
    for i, size in enumerate([32, 256, 1024, 4096], 1):
        cid = "9.7.%d" % i
        msgs = [(frame(TEXT, json_ping("%s%d" % (r(cid), k), size)), "ref:%s%d" % (r(cid), k)) for k in range(100)]
        c.append(Case(cid, "100 text round trips of %d bytes" % size, [RoundTrips(msgs)], Expect()))
    for i, size in enumerate([16, 4096], 1):
        msgs = [(frame(BINARY, b"\xfe" * size), "error") for _ in range(100)]
        c.append(Case("9.8.%d" % i, "100 binary round trips of %d bytes" % size, [RoundTrips(msgs)], Expect()))
    return c


def chunked(opcode, body, size):
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    return [frame(opcode if i == 0 else CONT, p, fin=i == len(parts) - 1) for i, p in enumerate(parts)]


def cases(limit):
    return section6() + section7(limit) + section9(limit)
