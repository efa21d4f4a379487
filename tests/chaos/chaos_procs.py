"""The processes of the kill -9 loops: chat-core nodes and ws-bridges that are
killed with SIGKILL and started again on the same port (and the same SQLite
file, or the same PostgreSQL), and a throwaway PostgreSQL from scripts/pg."""
import os
import signal
import socket
import subprocess
import time

from chat_procs import ALLOW_ROOT


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """One restartable process. `ready`: the stdout line that says it serves."""

    def __init__(self, name, argv, ready, log_path):
        self.name, self.argv, self.ready = name, argv, ready
        self.log = open(log_path, "a")
        self.proc = None
        self.kills = 0
        self.start_times = []  # seconds from spawn to ready, per start

    def start(self, timeout=60):
        t0 = time.monotonic()
        self.log.write("=== start %s\n" % time.strftime("%H:%M:%S"))
        self.log.flush()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(self.ready):
                self.start_times.append(time.monotonic() - t0)
                return
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("%s did not say %r within %ds; see %s" % (self.name, self.ready, timeout, self.log.name))

    def kill9(self):
        """SIGKILL, as a crash: no shutdown code runs. Waits until it is gone."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()
        self.kills += 1

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


def core(build_dir, tmp, name, port, db, secret_file):
    argv = [os.path.join(build_dir, "chat-core/chat-core"), "--listen=127.0.0.1:%d" % port, "--db=" + db,
            "--gateway_secret_file=" + secret_file, "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1",
            "--node_id=" + name, *ALLOW_ROOT]
    return Proc(name, argv, "chat-core serving", os.path.join(tmp, name + ".log"))


def bridge(build_dir, tmp, name, port, core_addrs, secret_file):
    argv = [os.path.join(build_dir, "ws-bridge/ws-bridge"), "--listen=127.0.0.1:%d" % port,
            "--core=" + ",".join(core_addrs), "--gateway_secret_file=" + secret_file,
            "--max_connections_per_ip=0", *ALLOW_ROOT]
    return Proc(name, argv, "ws-bridge listening on ", os.path.join(tmp, name + ".log"))


class Postgres:
    """A throwaway cluster made by scripts/pg in its own folder. A guard
    (scripts/pg guard) destroys it when this process dies, however it dies."""

    def __init__(self, source_dir, folder):
        self.script, self.folder = os.path.join(source_dir, "scripts/pg"), folder
        self.kills = 0
        self.start_times = []
        self.uri = self._run("start").strip().splitlines()[-1]
        self.guard = subprocess.Popen([self.script, "guard", folder], stdin=subprocess.PIPE)

    def _run(self, *cmd):
        out = subprocess.run([self.script, cmd[0], self.folder, *cmd[1:]], capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            raise RuntimeError("scripts/pg %s: %s" % (cmd[0], out.stderr.strip()))
        return out.stdout

    def kill9(self):
        self._run("kill")
        self.kills += 1

    def start(self):
        t0 = time.monotonic()
        self._run("start")
        self.start_times.append(time.monotonic() - t0)

    def stop(self):
        self._run("destroy")
        if self.guard.stdin:
            self.guard.stdin.close()
        self.guard.wait()
