"""What the observability tests share: chat-core and ws-bridge as real
processes on port 0 (their metrics endpoints too), a Prometheus text parser
(Debian's python3-prometheus-client) for /metrics, and small HTTP helpers.
"""
import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

_FLAG_CACHE = {}


def supports_flag(binary, flag):
    """Whether `binary --help` lists --flag (flags other changes add)."""
    key = (binary, flag)
    if key not in _FLAG_CACHE:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=20)
        _FLAG_CACHE[key] = ("--" + flag) in (out.stdout + out.stderr)
    return _FLAG_CACHE[key]


def root_flags(binary):
    """chat-core and ws-bridge refuse to run as root unless told to; CI runs as root."""
    return ["--allow_root"] if os.geteuid() == 0 and supports_flag(binary, "allow_root") else []


class Process:
    """A server binary whose stdout lines are read as they come and whose
    stderr (the log) is kept whole."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdout_lines = []
        self.stderr_lines = []
        self._cv = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout_lines), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr_lines), daemon=True)]
        for r in self._readers:
            r.start()

    def _read(self, stream, into):
        for line in stream:
            with self._cv:
                into.append(line.rstrip("\n"))
                self._cv.notify_all()

    def wait_line(self, prefix, timeout=20):
        """The rest of the first stdout line that starts with `prefix`."""
        deadline = time.time() + timeout
        with self._cv:
            while True:
                for line in self.stdout_lines:
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
                left = deadline - time.time()
                if left <= 0 or self.proc.poll() is not None:
                    raise RuntimeError("%s: no line %r; stderr: %s" % (self.argv[0], prefix,
                                                                     "\n".join(self.stderr_lines[-20:])))
                self._cv.wait(min(left, 0.1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for r in self._readers:
            r.join(5)
        for stream, r in zip((self.proc.stdout, self.proc.stderr), self._readers):
            if not r.is_alive():
                stream.close()

    def output(self):
        with self._cv:
            return "\n".join(self.stdout_lines + self.stderr_lines)


class Stack:
    """chat-core (SQLite in a temporary directory) and one ws-bridge."""

    def __init__(self, build_dir, core_flags=(), bridge_flags=(), metrics=True):
        self.tmp = tempfile.TemporaryDirectory()
        self.secret = secrets.token_hex(24)
        self.secret_file = os.path.join(self.tmp.name, "gateway.secret")
        with open(self.secret_file, "w") as f:
            f.write(self.secret)
        os.chmod(self.secret_file, 0o600)
        core_bin = os.path.join(build_dir, "chat-core/chat-core")
        bridge_bin = os.path.join(build_dir, "ws-bridge/ws-bridge")
        metrics_flag = ["--metrics_listen=127.0.0.1:0"] if metrics else []
        self.core = Process([core_bin, "--listen=127.0.0.1:0", "--db=" + os.path.join(self.tmp.name, "chat.db"),
                             "--gateway_secret_file=" + self.secret_file, "--pwhash_memlimit_kib=64",
                             "--pwhash_opslimit=1", *metrics_flag, *root_flags(core_bin), *core_flags])
        self.bridge = None
        try:
            self.core_metrics = self.core.wait_line("chat-core metrics on ") if metrics else None
            self.core_addr = self.core.wait_line("chat-core listening on ")
            self.core.wait_line("chat-core serving")
            self.bridge = Process([bridge_bin, "--listen=127.0.0.1:0", "--core=" + self.core_addr,
                                   "--gateway_secret_file=" + self.secret_file, *metrics_flag,
                                   *root_flags(bridge_bin), *bridge_flags])
            self.bridge_metrics = self.bridge.wait_line("ws-bridge metrics on ") if metrics else None
            self.port = int(self.bridge.wait_line("ws-bridge listening on ").rsplit(":", 1)[1])
            self.origin = "http://127.0.0.1:%d" % self.port
            deadline = time.time() + 10
            while http(self.port, "GET", "/healthz")[0] != 200:
                if time.time() > deadline:
                    raise RuntimeError("ws-bridge never reached chat-core")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for p in (self.bridge, self.core):
            if p is not None:
                p.stop()
        self.tmp.cleanup()

    def register_and_login(self, user, password):
        """The browser's way in: /api/register then /api/login; the session cookie."""
        status, body, _ = http(self.port, "POST", "/api/register", {"username": user, "password": password},
                               {"Origin": self.origin})
        assert status in (200, 409), body
        status, body, cookies = http(self.port, "POST", "/api/login", {"username": user, "password": password},
                                     {"Origin": self.origin})
        assert status == 200, body
        for c in cookies:
            if c.startswith("chat_session="):
                return c.split(";")[0][len("chat_session="):]
        raise AssertionError("no session cookie in %r" % cookies)

    async def websocket(self, cookie):
        import websockets
        return await websockets.connect("ws://127.0.0.1:%d/ws" % self.port,
                                        extra_headers={"Cookie": "chat_session=" + cookie},
                                        origin=self.origin, max_size=None)


def http(port, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), resp.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get_all("Set-Cookie") or []


class Scrape:
    """One scrape of /metrics, parsed by prometheus_client's text parser."""

    def __init__(self, address):
        with urllib.request.urlopen("http://%s/metrics" % address, timeout=10) as resp:
            assert resp.status == 200
            self.text = resp.read().decode()
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}

    def type(self, family):
        return self.families[family].type

    def value(self, sample, **labels):
        """The value of the sample named `sample` (e.g. "x_total", "h_count")
        with exactly these labels (besides "le" for buckets); 0 if absent."""
        for f in self.families.values():
            for s in f.samples:
                if s.name == sample and s.labels == labels:
                    return s.value
        return 0.0

    def has(self, sample, **labels):
        return any(s.name == sample and s.labels == labels for f in self.families.values() for s in f.samples)
