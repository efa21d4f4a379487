"""Control frames and closing while the server is itself sending (not in
Autobahn, whose echo server only ever answers). In ws-bridge this is where
its own code meets Beast's: room messages are written straight to the socket
by the gateway's thread (gated_socket.h) beside Beast's pongs and close
frame. The case joins the lobby and sends messages, so the bridge pushes
message events back while pings, a close or a protocol error arrive; the
reference server answers each event with an error event instead, which is
the same to the observation: server text frames in flight. What must hold:
every frame well-formed, pongs exact and in order, the close frame last."""
import json

from runner import Case, Expect, Send, Sleep
from wsclient import CLOSE, PING, TEXT, close_payload, frame


def join():
    return frame(TEXT, b'{"ref":"join","join":{"room":"lobby"}}')


def sends(tag, n):
    return [frame(TEXT, json.dumps({"send": {"room": "lobby", "text": "conformance %s %d" % (tag, i),
                                             "clientMsgId": "%s-%d" % (tag, i)}}).encode()) for i in range(n)]


def cases():
    c = []
    steps, pongs = [Send(join())], []
    msgs = sends("2.12", 40)
    for k in range(10):
        pair = [("traffic ping %d-%d" % (k, j)).encode() for j in range(2)]
        pongs += pair
        steps += [Send(*msgs[4 * k:4 * k + 2], frame(PING, pair[0]), *msgs[4 * k + 2:4 * k + 4], frame(PING, pair[1])),
                  Sleep(0.005)]
    c.append(Case("2.12", "20 pings among 40 room messages the server pushes", steps,
                  Expect(pongs=pongs, any_text=True)))
    c.append(Case("7.2.1", "close right after 60 room messages", [Send(join(), *sends("7.2.1", 60),
                                                                       frame(CLOSE, close_payload(1000)))],
                  Expect(any_text=True, client_closes=True)))
    c.append(Case("7.2.2", "close while 60 room messages come back", [Send(join(), *sends("7.2.2", 60)), Sleep(0.02),
                                                                      Send(frame(CLOSE, close_payload(1000)))],
                  Expect(any_text=True, client_closes=True)))
    c.append(Case("7.2.3", "protocol error while room messages come back",
                  [Send(join(), *sends("7.2.3", 60)), Sleep(0.02), Send(frame(TEXT, b"{}", rsv=1))],
                  Expect(any_text=True, fail={1002})))
    c.append(Case("7.2.4", "invalid UTF-8 while room messages come back",
                  [Send(join(), *sends("7.2.4", 60)), Sleep(0.02), Send(frame(TEXT, b"\xed\xa0\x80"))],
                  Expect(any_text=True, fail={1007})))
    c.append(Case("7.2.5", "ping after close while room messages come back",
                  [Send(join(), *sends("7.2.5", 60)), Sleep(0.02), Send(frame(CLOSE, close_payload(1001)),
                                                                        frame(PING, b"late"))],
                  Expect(any_text=True, client_closes=True, echo={1000, 1001})))
    return c
