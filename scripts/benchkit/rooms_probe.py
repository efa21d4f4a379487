#!/usr/bin/python3
"""Measures what many rooms cost a chat-core binary (issue #27, "Room creation
has no limit"): the size of the first ListRooms reply, and the process's RSS
with ROOMS rooms holding MESSAGES messages each, live and after a restart.

  /usr/bin/python3 scripts/benchkit/rooms_probe.py --core BUILD/chat-core/chat-core \\
      --py-out BUILD/tests/py [--rooms 30000] [--messages 3] [--bytes 100] [--name-len 11]
      [--user prober] [--flags=...]

Runs the binary on a fresh SQLite file in a temp dir with the room limits off
(unless --flags says otherwise; a binary without those flags gets none). Not a
unit test: it takes about a minute for 30,000 rooms on two cores.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "testing"))
from chat_procs import ALLOW_ROOT, start  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def has_flag(core, flag):
    out = subprocess.run([core, "--helpfull"], capture_output=True, text=True).stdout
    return ("--" + flag) in out


def windowed(calls, window=256):
    """Runs the future-returning calls, at most `window` in flight; returns the failures."""
    failures = []
    pending = []
    for call in calls:
        pending.append(call())
        if len(pending) >= window:
            for f in pending:
                try:
                    f.result(timeout=60)
                except Exception as e:  # noqa: BLE001 - counted and shown
                    failures.append(e)
            pending = []
    for f in pending:
        try:
            f.result(timeout=60)
        except Exception as e:  # noqa: BLE001
            failures.append(e)
    return failures


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--core", required=True)
    p.add_argument("--py-out", required=True)
    p.add_argument("--rooms", type=int, default=30000)
    p.add_argument("--messages", type=int, default=3)
    p.add_argument("--bytes", type=int, default=100)
    p.add_argument("--name-len", type=int, default=11, help="room name length (11-64)")
    p.add_argument("--user", default="prober", help="the creating user (3-32 characters)")
    p.add_argument("--flags", action="append", default=[])
    a = p.parse_args()
    sys.path.insert(0, a.py_out)
    import grpc
    from chat.v1 import chat_pb2, chat_pb2_grpc

    flags = list(a.flags)
    if has_flag(a.core, "max_rooms") and not any(f.startswith("--max_rooms") for f in flags):
        flags += ["--max_rooms=0", "--max_room_creates_per_user_per_hour=0"]
    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.core, "--listen=127.0.0.1:0", "--db=" + os.path.join(tmp, "chat.db"),
                "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1", "--log_level=warning", *flags, *ALLOW_ROOT]
        core, addr = start(argv, "chat-core listening on ")
        try:
            idle = rss_kib(core.pid)
            channel = grpc.insecure_channel(addr, options=[("grpc.max_receive_message_length", 1 << 30)])
            auth = chat_pb2_grpc.AuthServiceStub(channel)
            auth.Register(chat_pb2.RegisterRequest(username=a.user, password="correct horse"), timeout=10)
            token = auth.Login(chat_pb2.LoginRequest(username=a.user, password="correct horse"), timeout=10).token
            md = [("authorization", "Bearer " + token)]
            chat = chat_pb2_grpc.ChatServiceStub(channel)
            t0 = time.time()
            names = [("room-%06d" % i).rjust(a.name_len, "x") for i in range(a.rooms)]
            fails = windowed(lambda n=n: chat.CreateRoom.future(chat_pb2.CreateRoomRequest(name=n), metadata=md,
                                                                 timeout=60) for n in names)
            if fails:
                print("create failures: %d (first: %s)" % (len(fails), fails[0]))
            print("created %d rooms in %.1f s" % (a.rooms - len(fails), time.time() - t0))
            text = "x" * a.bytes
            t0 = time.time()
            sends = (lambda n=n, k=k: chat.SendMessage.future(
                chat_pb2.SendMessageRequest(room=n, text=text, client_msg_id="m%d" % k), metadata=md, timeout=60)
                for k in range(a.messages) for n in names)
            fails = windowed(sends)
            if fails:
                print("send failures: %d (first: %s)" % (len(fails), fails[0]))
            print("sent %d messages in %.1f s" % (a.rooms * a.messages - len(fails), time.time() - t0))
            from google.protobuf import json_format

            def json_bytes(msg):
                # The WebSocket form: proto3 JSON, compact (as ws-bridge writes it).
                return len(json.dumps(json_format.MessageToDict(msg), separators=(",", ":")).encode())

            reply = chat.ListRooms(chat_pb2.ListRoomsRequest(), metadata=md, timeout=60)
            print("first ListRooms reply (no limit set): %d rooms, %d bytes (%d bytes as JSON)%s" % (
                len(reply.rooms), reply.ByteSize(), json_bytes(reply),
                ", next_cursor set" if getattr(reply, "next_cursor", "") else ""))
            if hasattr(reply, "next_cursor"):
                page = chat.ListRooms(chat_pb2.ListRoomsRequest(limit=100), metadata=md, timeout=60)
                print("the web UI's first page (limit 100): %d bytes (%d bytes as JSON)" % (
                    page.ByteSize(), json_bytes(page)))
            time.sleep(1)
            live = rss_kib(core.pid)
            print("RSS: %d KiB idle, %d KiB with %d rooms x %d messages of %d bytes (%.0f bytes per room)" % (
                idle, live, a.rooms, a.messages, a.bytes, (live - idle) * 1024.0 / a.rooms))
            channel.close()
        finally:
            core.terminate()
            core.wait(10)
        core, addr = start(argv, "chat-core listening on ")
        try:
            time.sleep(1)
            print("RSS after a restart on that database: %d KiB" % rss_kib(core.pid))
        finally:
            core.terminate()
            core.wait(10)


if __name__ == "__main__":
    main()
