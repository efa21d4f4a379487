#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/).

The seeds are small real inputs: the JSON events of docs/protocol.md's tables
(every backtick-quoted {...} that parses as JSON), HTTP requests shaped like the
bridge tests' and the web UI's, command lines from docs/cli.md's examples, and
GatewayUp sequences as ws-bridge sends them. Run it again after the protocol
changes: `tests/fuzz/make_seeds.py --py-stubs build/tests/py`. It rewrites only
the files it makes (seed-*), so inputs a campaign added by hand stay.
"""
import argparse
import hashlib
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def protocol_json():
    text = open(os.path.join(ROOT, "docs", "protocol.md"), encoding="utf-8").read()
    out = []
    for m in re.finditer(r"`(\{[^`]*\})`", text) :
        s = m.group(1)
        try:
            json.loads(s)
        except ValueError:
            continue
        if s not in out:
            out.append(s)
    return out


def json_codec():
    events = protocol_json()
    extra = [
        '{"send":{"room":"lobby","text":"h\\u00e9llo \\ud83d\\ude00 <b>","client_msg_id":"c1"}}',
        '{"join":{"room":"lobby","since_seq":41}}',
        '{"join":{"room":"lobby","sinceSeq":"-0"}}',
        '{"ping":{"nonce":"9223372036854775807"}}',
        '{"typing":{"room":"r","active":false}}',
        '{"leave":{"room":"lobby"},"ref":"x"}',
        '{"send":{"room":"a","text":"x"},"send":{"room":"b"}}',
        '{"message":{"room":"lobby","seq":"42","author":"alice","text":"hi","sentAt":"2026-11-18T08:26:40.123Z","clientMsgId":"c-7"}}',
        ' { "ping" : { "nonce" : 5 } } ',
    ]
    for i, s in enumerate(events + extra):
        write("fuzz_json_codec", "%02d" % i, s)
    return len(events + extra)


def http_requests():
    def req(method, target, body="", headers=()):
        h = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1:8080"]
        h += list(headers)
        if body:
            h += ["Content-Type: application/json", "Content-Length: %d" % len(body.encode())]
        return "\r\n".join(h) + "\r\n\r\n" + body

    origin = "Origin: http://127.0.0.1:8080"
    seeds = [
        req("GET", "/"),
        req("GET", "/assets/app.js"),
        req("HEAD", "/favicon.svg"),
        req("GET", "/rooms/lobby"),
        req("GET", "/../etc/passwd"),
        req("GET", "/%2e%2e/secret"),
        req("GET", "/healthz"),
        req("POST", "/api/login", '{"username":"alice","password":"correct horse"}', [origin]),
        req("POST", "/api/register", '{"username":"carol","password":"correct horse","inviteCode":"x"}', [origin]),
        req("GET", "/api/me", "", ["Cookie: chat_session=$A"]),
        req("GET", "/api/info"),
        req("POST", "/api/logout", "{}", ["Cookie: chat_session=$B", origin]),
        req("POST", "/api/account/WhoAmI", "", ["Authorization: Bearer $A"]) ,
        req("POST", "/api/account/ListSessions", "{}", ["Authorization: Bearer $A"]),
        req("POST", "/api/account/CreateBot", '{"name":"cibot"}', ["Cookie: chat_session=$A", origin]),
        req("POST", "/api/account/ChangePassword", '{"oldPassword":"a","newPassword":"b"}', ["Authorization: Bearer $A"]),
        req("POST", "/api/hooks/abc123", '{"text":"build passed"}', ["X-Chat-Webhook-Secret: s3cret"]),
        req("POST", "/api/hooks/abc123/s3cret", '{"text":"deploy","blocks":[{"type":"section"}]}'),
        req("GET", "/ws"),
        req("GET", "/ws", "", ["Cookie: chat_session=$A; chat_session=$B", "Upgrade: websocket",
                               "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                               "Sec-WebSocket-Version: 13"]),
        req("GET", "/ws?user=guest1", "", ["Upgrade: websocket", "Connection: Upgrade",
                                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                           "Sec-WebSocket-Version: 13", "Origin: http://evil.example"]),
        req("GET", "/index.html") + req("GET", "/api/me", "", ["Authorization: Bearer $A"]),
    ]
    # A valid upgrade followed by one masked text frame {"ping":{"nonce":"1"}}.
    payload = b'{"ping":{"nonce":"1"}}'
    mask = b"\x01\x02\x03\x04"
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    upgrade = req("GET", "/ws", "", ["Authorization: Bearer $A", "Upgrade: websocket", "Connection: Upgrade",
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                                     origin]).encode() + frame
    for i, s in enumerate(seeds):
        write("fuzz_bridge_http", "%02d" % i, s)
    write("fuzz_bridge_http", "ws-frame", upgrade)
    return len(seeds) + 1


def ws_frames():
    seqs = [
        ['{"ref":"1","join":{"room":"lobby"}}', '{"ref":"2","send":{"room":"lobby","text":"hi","clientMsgId":"c-1"}}'],
        ['{"join":{"room":"lobby","sinceSeq":"0"}}', '{"history":{"room":"lobby","beforeSeq":"100","limit":500}}',
         '{"history":{"room":"lobby","limit":50}}'],
        ['{"createRoom":{"name":"plans","kind":"ROOM_KIND_PRIVATE","topic":"Q3"}}',
         '{"invite":{"room":"plans","user":"bob"}}', '{"setRole":{"room":"plans","user":"bob","role":"ROLE_MODERATOR"}}',
         '{"listMembers":{"room":"plans"}}', '{"deleteRoom":{"room":"plans"}}'],
        ['{"listRooms":{}}', '{"ref":"r","listRooms":{"limit":100,"cursor":"general"}}'],
        ['{"typing":{"room":"lobby","active":true}}', '{"leave":{"room":"lobby"}}'],
        ['{"openDirect":{"users":["bob"]}}', '{"searchUsers":{"prefix":"bo"}}',
         '{"getUsers":{"usernames":["bob","nobody"]}}'],
        ['not json', '{"send":{}}', '{"unknown":1}', '{}', '[]'],
        ['{"join":{"room":"lobby"}}', '{"deleteMessage":{"room":"lobby","seq":"1"}}'],
        ['{"send":{"room":"lobby","text":"\xff"}}'],
    ]
    for i, frames in enumerate(seqs):
        data = b"\0".join(f.encode("utf-8", "surrogateescape") if isinstance(f, str) else f for f in frames)
        if i == len(seqs) - 1:
            data = b'{"send":{"room":"lobby","text":"\xff\xfe"}}'  # not UTF-8: the bridge closes with 1007
        write("fuzz_ws_session_frames", "%02d" % i, data)
    for i, s in enumerate(protocol_json()):
        if '"error"' in s or '"message"' in s[:12]:
            continue
        write("fuzz_ws_session_frames", "doc-%02d" % i, s)
    return len(seqs)


def cli_args():
    text = open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8").read()
    lines = sorted(set(m.group(1) for m in re.finditer(r"^\s*(?:\$ )?chat ([^\n#|`]*)$", text, re.M)))
    import shlex
    n = 0
    for line in lines:
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        write("fuzz_cli_args", "%02d" % n, "\0".join(argv))
        n += 1
    for argv in (["--server", "a:1,[::1]:2,tls://b:3", "rooms"], ["-s", "h:50051", "send", "lobby", "hi", "there"],
                 ["--color=never", "history", "lobby", "-n", "5"], ["lobby"], ["help", "send"], ["send", "--help"],
                 ["--", "-weird-room"], ["--json", "--token", "t", "whoami"]):
        write("fuzz_cli_args", "x%02d" % n, "\0".join(argv))
        n += 1
    return n


def gateway(py_stubs):
    sys.path.insert(0, py_stubs)
    from chat.v1 import chat_pb2 as pb  # noqa: E402

    def up(session, request=0, **kw):
        m = pb.GatewayUp(session=session, request=request)
        for k, v in kw.items():
            getattr(m, k).CopyFrom(v)
        return m

    def ev(**kw):
        return pb.ClientEvent(**kw)

    J = lambda room, since=0: ev(join=pb.JoinRequest(room=room, since_seq=since))
    S = lambda room, text, cid: ev(send=pb.SendRequest(room=room, text=text, client_msg_id=cid))
    opena = pb.SessionOpen(token="$A", peer="198.51.100.7")
    openb = pb.SessionOpen(token="$B", peer="198.51.100.8")
    seqs = [
        (0, [up(1, open=opena), up(1, event=J("lobby")), up(1, event=S("lobby", "hi", "c1")), up(1, close=pb.SessionClose())]),
        (2, [up(1, open=opena), up(2, open=openb), up(1, event=J("lobby")), up(2, event=J("lobby")),
             up(2, event=S("lobby", "yo", "c2")), up(1, 7, event=ev(history=pb.GetHistoryRequest(room="lobby", limit=50)))]),
        (0, [up(5, event=J("lobby")), up(5, open=opena), up(5, open=opena), up(6, open=pb.SessionOpen(token="bad"))]),
        (1, [up(1, open=opena), up(1, event=J("lobby")), up(1, close=pb.SessionClose()), up(1, event=S("lobby", "x", "c"))]),
        (0, [up(3, open=pb.SessionOpen(guest_name="guest")), up(3, event=ev(list_rooms=pb.ListRoomsRequest()))]),
        (0, [up(0, open=opena)]),
        (0, [pb.GatewayUp(session=9)]),
    ]
    for i, (flags, items) in enumerate(seqs):
        data = bytes([flags])
        for m in items:
            b = m.SerializeToString()
            data += struct.pack("<H", len(b)) + b
        write("fuzz_gateway_up", "%02d" % i, data)
    return len(seqs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--py-stubs", default=os.path.join(ROOT, "build", "tests", "py"))
    a = ap.parse_args()
    print("json_codec", json_codec(), "http", http_requests(), "ws", ws_frames(), "cli", cli_args(),
          "gateway", gateway(a.py_stubs))


if __name__ == "__main__":
    main()
