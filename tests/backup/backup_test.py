#!/usr/bin/python3
"""scripts/backup against a real chat-core (docs/deploy.md, "Backups"). Run by CTest:

  /usr/bin/python3 tests/backup/backup_test.py --build-dir BUILD

chat-core runs on an SQLite file; the chat CLI registers a user and sends
messages, and keeps sending while scripts/backup copies the database. The copy
must be 0600 and hold a gap-free prefix of the room's history that includes
every message acknowledged before the backup began. scripts/backup --restore
refuses while a chat-core has the target open, then puts the copy in place as a
fresh database; a fresh chat-core on it serves the same history (read with
`chat history`), and the user logs in with the same password. Also: the clear
refusals (a missing file, a PostgreSQL URI, an existing output).
"""
import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None
FAILURES = []
HERE = os.path.dirname(os.path.abspath(__file__))
BACKUP = os.path.join(HERE, "..", "..", "scripts", "backup")
PASSWORD = "correct horse"


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def start_core(db, procs):
    argv = [os.path.join(ARGS.build_dir, "chat-core/chat-core"), "--listen=127.0.0.1:0", "--db=" + db,
            "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1"]
    if os.geteuid() == 0:
        argv.append("--allow_root")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(proc)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("chat-core listening on "):
            return proc, line.split()[-1]
    sys.exit("backup_test: chat-core did not start on " + db)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(20)


class Cli:
    def __init__(self, server, config):
        self.server = server
        self.env = dict(os.environ, XDG_CONFIG_HOME=config)

    def run(self, *args, stdin=None):
        return subprocess.run([os.path.join(ARGS.build_dir, "cli/chat"), "--server", self.server, *args],
                              input=stdin, capture_output=True, text=True, env=self.env, timeout=30)

    def history(self):
        r = self.run("history", "lobby", "-n", "500", "--json")
        if r.returncode != 0:
            return None
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def backup(*args):
    return subprocess.run([sys.executable, BACKUP, *args], capture_output=True, text=True, timeout=60)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", required=True)
    ARGS = p.parse_args()
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="chat-backup-")
    procs = []
    try:
        run_test(tmp, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed; %.1f s" % (len(FAILURES), time.time() - started))
    sys.exit(1 if FAILURES else 0)


def run_test(tmp, procs):
    live = os.path.join(tmp, "live", "chat.db")
    core, addr = start_core(live, procs)
    cli = Cli(addr, os.path.join(tmp, "config"))
    r = cli.run("register", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    check(r.returncode == 0, "chat register alice: " + (r.stdout + r.stderr).strip())
    r = cli.run("login", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    check(r.returncode == 0, "chat login alice")
    before = 30
    for i in range(before):
        r = cli.run("send", "lobby", "before %d" % i)
        if r.returncode != 0:
            sys.exit("backup_test: chat send failed: " + r.stderr)

    # A writer that keeps sending while the backup runs.
    sent_during = []
    stop_writing = threading.Event()

    def writer():
        i = 0
        while not stop_writing.is_set():
            if cli.run("send", "lobby", "during %d" % i).returncode == 0:
                sent_during.append(i)
            i += 1
    thread = threading.Thread(target=writer)
    thread.start()
    while len(sent_during) < 3:  # it is writing
        time.sleep(0.01)
    out_dir = os.path.join(tmp, "backups")
    os.mkdir(out_dir)
    r = backup(live, out_dir)
    while len(sent_during) < 6:  # and went on writing after the backup
        time.sleep(0.01)
    stop_writing.set()
    thread.join()
    check(r.returncode == 0, "backup while chat-core writes: " + (r.stdout + r.stderr).strip())
    copies = os.listdir(out_dir)
    check(len(copies) == 1 and copies[0].startswith("chat-") and copies[0].endswith(".db"),
          "one file chat-TIME.db in the backup folder (%s)" % copies)
    copy = os.path.join(out_dir, copies[0]) if copies else ""
    check(copies and stat.S_IMODE(os.stat(copy).st_mode) == 0o600, "the backup is 0600")
    original = cli.history()
    total = before + len(sent_during)
    check(original is not None and len(original) == total,
          "the live room holds all %d messages sent (%s)" % (total, None if original is None else len(original)))

    # Refusals, each with one line and nothing written.
    r = backup(os.path.join(tmp, "nope.db"), out_dir)
    check(r.returncode == 1 and "no such database file" in r.stderr and len(os.listdir(out_dir)) == 1,
          "a missing database: exit 1, " + r.stderr.strip())
    r = backup("postgresql://chat@db/chat", out_dir)
    check(r.returncode == 2 and "pg_dump" in r.stderr, "a PostgreSQL URI: exit 2, " + r.stderr.strip())
    r = backup(live, copy)
    check(r.returncode == 1 and "exists already" in r.stderr, "an existing output: exit 1, " + r.stderr.strip())
    r = backup("--restore", copy, live)
    check(r.returncode == 1 and "in use by chat-core (pid %d)" % core.pid in r.stderr,
          "restore over the running chat-core's database is refused: " + r.stderr.strip())

    check(stop(core) == 0, "the original chat-core stops cleanly")
    restored = os.path.join(tmp, "restored", "chat.db")
    os.mkdir(os.path.dirname(restored))
    r = backup("--restore", copy, restored)
    check(r.returncode == 0, "restore into a fresh place: " + (r.stdout + r.stderr).strip())
    check(stat.S_IMODE(os.stat(restored).st_mode) == 0o600, "the restored database is 0600")

    fresh, fresh_addr = start_core(restored, procs)
    cli2 = Cli(fresh_addr, os.path.join(tmp, "config2"))
    r = cli2.run("login", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    check(r.returncode == 0, "alice logs in to the restored chat-core with her password")
    history = cli2.history() or []
    seqs = [int(m["seq"]) for m in history]
    check(seqs == list(range(1, len(seqs) + 1)), "the restored room's seq is gap-free from 1 (1..%d)" % len(seqs))
    check(before + 3 <= len(history) <= total,
          "it holds the %d messages sent before the backup and the writer's first 3, at most all %d (%d)"
          % (before, total, len(history)))
    key = lambda m: (m["seq"], m["author"], m["text"], m["clientMsgId"])
    check(original is not None and [key(m) for m in history] == [key(m) for m in original[:len(history)]],
          "every restored message is the original's, same seq, author, text and id")
    r = cli2.run("send", "lobby", "after the restore")
    check(r.returncode == 0 and "#%d" % (len(history) + 1) in r.stdout,
          "a new message continues the room's seq: " + r.stdout.strip())
    check(stop(fresh) == 0, "the restored chat-core stops cleanly")

    # A restore over an existing database keeps that one aside, -wal and all.
    r = backup("--restore", copy, live)
    aside = [f for f in os.listdir(os.path.dirname(live)) if ".before-restore-" in f]
    check(r.returncode == 0 and any(f.startswith("chat.db.before-restore-") for f in aside)
          and "the previous database is now" in r.stdout,
          "restore over the stopped original moves it aside (%s)" % sorted(aside))


if __name__ == "__main__":
    main()
