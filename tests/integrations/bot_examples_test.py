#!/usr/bin/python3
"""The examples of docs/integrations.md, run for real: the Python bot
(docs/examples/python-bot/bot.py) and the C++ chat-post, against a real
chat-core, with a bot account and an API token made through AuthService.

  /usr/bin/python3 bot_examples_test.py --build-dir BUILD --py-out BUILD/tests/py --source-dir SRC
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
import chat_procs  # noqa: E402


class BotExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.py_out)
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
        cls.pb, cls.grpc = chat_pb2, grpc
        cls.tmp = tempfile.mkdtemp(prefix="bot-examples-")
        cls.core_log = open(os.path.join(cls.tmp, "core.log"), "w+")
        cls.core, cls.addr = chat_procs.start(
            [os.path.join(ARGS.build_dir, "chat-core/chat-core"), "--listen=127.0.0.1:0",
             "--db=" + os.path.join(cls.tmp, "chat.db"), "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1",
             *chat_procs.ALLOW_ROOT], "chat-core listening on ", stderr=cls.core_log)
        channel = grpc.insecure_channel(cls.addr)
        cls.auth = chat_pb2_grpc.AuthServiceStub(channel)
        cls.chat = chat_pb2_grpc.ChatServiceStub(channel)
        cls.auth.Register(chat_pb2.RegisterRequest(username="alice", password="correct horse"))
        login = cls.auth.Login(chat_pb2.LoginRequest(username="alice", password="correct horse", client="test"))
        cls.alice = [("authorization", "Bearer " + login.token)]
        cls.chat.CreateRoom(chat_pb2.CreateRoomRequest(name="general"), metadata=cls.alice)
        cls.chat.CreateRoom(chat_pb2.CreateRoomRequest(name="elsewhere"), metadata=cls.alice)
        bot = cls.auth.CreateBot(chat_pb2.CreateBotRequest(name="helper-bot", display_name="Helper"),
                                 metadata=cls.alice)
        assert bot.kind == chat_pb2.ACCOUNT_KIND_BOT, bot
        made = cls.auth.CreateApiToken(chat_pb2.CreateApiTokenRequest(
            account="helper-bot", name="examples", rooms=["general"],
            actions=[chat_pb2.TOKEN_ACTION_READ, chat_pb2.TOKEN_ACTION_POST]), metadata=cls.alice)
        cls.token = made.secret
        assert cls.token.startswith("chat_"), made

    @classmethod
    def tearDownClass(cls):
        cls.core.send_signal(signal.SIGTERM)
        cls.core.wait(timeout=10)
        cls.core.stdout.close()
        cls.core_log.close()

    def history(self, room="general"):
        page = self.chat.GetHistory(self.pb.GetHistoryRequest(room=room, limit=500), metadata=self.alice)
        return list(page.messages)

    def say(self, text):
        return self.chat.SendMessage(self.pb.SendMessageRequest(room="general", text=text),
                                     metadata=self.alice).message.seq

    def wait_for(self, pred, what, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msgs = self.history()
            if pred(msgs):
                return msgs
            time.sleep(0.1)
        self.fail("timed out waiting for %s; history: %r" % (what, [(m.author, m.text) for m in self.history()]))

    def wait_joined(self, bot, times):
        """Waits until the bot's log says it joined its room `times` times."""
        deadline = time.time() + 15
        while True:
            with open(os.path.join(self.tmp, "bot.log")) as f:
                if f.read().count("bot: joined general") >= times:
                    return
            self.assertIsNone(bot.poll(), "the bot exited")
            self.assertLess(time.time(), deadline, "the bot never joined")
            time.sleep(0.05)

    def start_bot(self, state):
        env = dict(os.environ, CHAT_TOKEN=self.token)
        with open(os.path.join(self.tmp, "bot.log"), "a") as log:
            return subprocess.Popen(
                ["/usr/bin/python3", os.path.join(ARGS.source_dir, "docs/examples/python-bot/bot.py"),
                 "--server", self.addr, "--room", "general", "--state", state, "--py-out", ARGS.py_out],
                env=env, stdout=log, stderr=subprocess.STDOUT)

    def replies(self, msgs, text):
        return [m for m in msgs if m.author == "helper-bot" and m.text == text]

    def test_python_bot_answers_and_resumes_after_a_restart(self):
        state = os.path.join(self.tmp, "bot.state")
        # A first run that crashes before its first message: the next run
        # resumes from where the first joined, not from "now".
        bot = self.start_bot(state)
        try:
            self.wait_joined(bot, 1)
        finally:
            bot.kill()
            bot.wait()
        self.say("!ping")
        bot = self.start_bot(state)
        try:
            self.wait_joined(bot, 2)
            msgs = self.wait_for(lambda m: self.replies(m, "pong"), "the answer to !ping")
            for m in self.replies(msgs, "pong"):
                self.assertEqual(m.author_kind, self.pb.ACCOUNT_KIND_BOT)
        finally:
            bot.kill()  # a crash, not a clean stop
            bot.wait()
        # Commands sent while it is down are answered once it is back.
        self.say("!echo said while away")
        self.say("!echo and again")
        bot = self.start_bot(state)
        try:
            msgs = self.wait_for(lambda m: self.replies(m, "said while away") and self.replies(m, "and again"),
                                 "the missed commands' answers")
            time.sleep(1.0)  # anything replayed twice would be answered by now
            msgs = self.history()
            self.assertEqual(len(self.replies(msgs, "said while away")), 1)
            self.assertEqual(len(self.replies(msgs, "and again")), 1)
            self.assertEqual(len(self.replies(msgs, "pong")), 1, "the ping was answered again after the resume")
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=10)

    def chat_post(self, *args, token=None):
        env = dict(os.environ, CHAT_TOKEN=token if token is not None else self.token)
        return subprocess.run([os.path.join(ARGS.build_dir, "docs/examples/cpp/chat-post"),
                               "--server", self.addr, *args], env=env, capture_output=True, text=True, timeout=30)

    def test_cpp_example_posts_as_the_bot_within_its_scope(self):
        r = self.chat_post("--room", "general", "--text", "build 1234 passed", "--id", "build-1234")
        self.assertEqual(r.returncode, 0, r.stderr)
        again = self.chat_post("--room", "general", "--text", "build 1234 passed", "--id", "build-1234")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already posted", again.stdout)
        posted = self.replies(self.history(), "build 1234 passed")
        self.assertEqual(len(posted), 1)
        self.assertEqual(posted[0].author_kind, self.pb.ACCOUNT_KIND_BOT)
        # The token is limited to #general: another room is refused, and says why.
        r = self.chat_post("--room", "elsewhere", "--text", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("limited to rooms: general", r.stderr)
        r = self.chat_post("--room", "general", "--text", "x", token="chat_not-a-real-token")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid or revoked", r.stderr)
        r = self.chat_post("--text", "no room")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--py-out", required=True)
    p.add_argument("--source-dir", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
