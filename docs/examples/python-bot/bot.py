#!/usr/bin/python3
"""A complete chat bot over gRPC (docs/integrations.md).

It joins one room with an API token, answers commands, and after a restart
resumes where it stopped: it keeps the seq of the last message it handled in a
state file and joins with since_seq, so chat-core replays what it missed. Its
replies carry client_msg_id "reply-<seq>", so a reply that was sent just before
a crash is not posted twice when the bot handles that message again.

Commands:  !ping -> pong    !echo TEXT -> TEXT    !help

  CHAT_TOKEN=chat_... bot.py --server 127.0.0.1:50051 --room general \\
      --state bot.state --py-out DIR

DIR holds chat/v1/chat_pb2.py and chat_pb2_grpc.py, generated with
  protoc -I proto --python_out=DIR --grpc_python_out=DIR \\
      --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin chat/v1/chat.proto
Needs Debian's python3-grpcio and python3-protobuf.
"""
import argparse
import json
import os
import queue
import sys
import time

import grpc


def load_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save_state(path, state):
    # Write-then-rename: a crash leaves the old state or the new one, never half.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def answer(text):
    """The reply to a command, or None for a message that is not one."""
    if text == "!ping":
        return "pong"
    if text.startswith("!echo "):
        return text[len("!echo "):]
    if text == "!help":
        return "commands: !ping, !echo TEXT, !help"
    return None


class Bot:
    def __init__(self, args, pb, rpc):
        self.args, self.pb, self.rpc = args, pb, rpc
        self.metadata = [("authorization", "Bearer " + os.environ["CHAT_TOKEN"])]
        self.state = load_state(args.state)
        self.channel = grpc.insecure_channel(args.server)
        self.me = rpc.AuthServiceStub(self.channel).WhoAmI(pb.WhoAmIRequest(), metadata=self.metadata).username
        print("bot: signed in as %s" % self.me, flush=True)

    def run_once(self):
        """One Connect stream, until it ends. Returns normally to reconnect."""
        pb = self.pb
        out = queue.Queue()

        def requests():
            while True:
                item = out.get()
                if item is None:
                    return
                yield item

        join = pb.JoinRequest(room=self.args.room)
        if "last_seq" in self.state:
            join.since_seq = self.state["last_seq"]  # replay everything after it
        out.put(pb.ClientEvent(ref="join", join=join))
        stream = self.rpc.ChatServiceStub(self.channel).Connect(requests(), metadata=self.metadata)
        try:
            for ev in stream:
                kind = ev.WhichOneof("event")
                if kind == "joined":
                    if "last_seq" not in self.state:
                        # The first run starts from now. Saved at once: a bot
                        # that crashed before handling its first message would
                        # otherwise come back as a first run and skip, not
                        # replay, what was said while it was down.
                        self.state["last_seq"] = ev.joined.latest_seq
                        save_state(self.args.state, self.state)
                    print("bot: joined %s at seq %d" % (ev.joined.room, ev.joined.latest_seq), flush=True)
                elif kind == "message":
                    self.handle(ev.message, out)
                elif kind == "error":
                    print("bot: error %s: %s" % (pb.Error.Code.Name(ev.error.code), ev.error.message),
                          flush=True)
                    if ev.error.event == "join":
                        raise SystemExit(2)
                elif kind == "session_renewed":
                    pass  # API tokens do not expire unless made so; nothing to do
        finally:
            out.put(None)

    def handle(self, msg, out):
        if msg.room != self.args.room or msg.seq <= self.state.get("last_seq", 0):
            return
        reply = None if msg.author == self.me or msg.deleted else answer(msg.text)
        if reply is not None:
            out.put(self.pb.ClientEvent(send=self.pb.SendRequest(
                room=msg.room, text=reply, client_msg_id="reply-%d" % msg.seq)))
        self.state["last_seq"] = msg.seq
        save_state(self.args.state, self.state)

    def run(self):
        backoff = 0.2
        while True:
            try:
                self.run_once()
                backoff = 0.2
            except grpc.RpcError as e:
                if e.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                    print("bot: %s: %s" % (e.code().name, e.details()), file=sys.stderr, flush=True)
                    return 1  # the token was revoked or lacks a scope: retrying will not help
                print("bot: stream ended (%s); reconnecting" % e.code().name, flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default="127.0.0.1:50051", help="chat-core's gRPC address")
    p.add_argument("--room", required=True)
    p.add_argument("--state", default="bot.state", help="where the last handled seq is kept")
    p.add_argument("--py-out", help="folder with the generated chat/v1/chat_pb2*.py")
    args = p.parse_args()
    if "CHAT_TOKEN" not in os.environ:
        p.error("set CHAT_TOKEN to the bot's API token (chat token create --account BOT ...)")
    if args.py_out:
        sys.path.insert(0, args.py_out)
    from chat.v1 import chat_pb2, chat_pb2_grpc
    return Bot(args, chat_pb2, chat_pb2_grpc).run()


if __name__ == "__main__":
    sys.exit(main())
