"""A throwaway PostgreSQL for the cluster contestants: one server for the run
(scripts/pg, fsync and synchronous_commit on), a fresh database per contestant
start, and the server's process tree counted as server CPU (chat-bench sums a
pid's descendants, so the backends' CPU counts too)."""
import os
import subprocess
import tempfile


class Postgres:
    def __init__(self, cfg):
        self.cfg = cfg
        self._tmp = tempfile.mkdtemp(prefix="chat-bench-pg-")
        os.chmod(self._tmp, 0o755)  # the server runs as the postgres user when we are root
        self.dir = os.path.join(self._tmp, "pg")
        self.admin = self._pg("start").strip()
        self._made = 0

    def _pg(self, command):
        out = subprocess.run([os.path.join(self.cfg.root, "scripts/pg"), command, self.dir], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError("scripts/pg %s: %s" % (command, out.stderr.strip()))
        return out.stdout

    def new_database(self):
        """A fresh empty database's URI."""
        self._made += 1
        name = "bench_%d_%d" % (os.getpid(), self._made)
        subprocess.run(["psql", "-q", self.admin, "-c", "CREATE DATABASE " + name], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
        return self.admin.rsplit("/", 1)[0] + "/" + name

    @property
    def postmaster_pid(self):
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            return int(f.readline())

    def stop(self):
        try:
            self._pg("destroy")
        finally:
            subprocess.run(["rm", "-rf", self._tmp], check=False)
