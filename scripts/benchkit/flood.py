"""scripts/bench --flood: does a well-behaved client stay served while someone floods
the servers? (issue 27's load test; docs/benchmarks.md, "Floods").

Each flood runs on fresh processes: one chat-core (SQLite in a temporary folder)
and one ws-bridge, both with their default limits (plus --core_flag and
--bridge_flag), and one well-behaved client (flood_probe.py, a process of its own:
a WebSocket session through the bridge and a Connect stream to chat-core, each
sending a message every few tens of milliseconds and timing its own echo, plus a
login and a fresh WebSocket once a second). Its figures are taken while nothing
else runs ("quiet", --quiet_seconds), then while an attacker process of its own
(flood_attacks.py, so its CPU use shows) floods for --flood_seconds. Fresh
processes per flood, because floods leave state behind that would spoil the next
one's figures: a locked-out user, thousands of rooms, a queue of password hashes.
A flood passes when both sessions' p99 stay within 2x of their quiet p99, and the
client lost nothing, kept its sessions, and every login and fresh WebSocket of its
worked.
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from . import flood_wire as wire
from .config import log
from .runner import Proc

# Every flood, in the order they run (issue 27's list).
FLOODS = ("conn", "login", "register", "rooms", "streams", "history", "binary", "slow")
TITLES = {
    "conn": "(a) connections from one address",
    "login": "(b) wrong logins for the client's user",
    "register": "(c) registrations",
    "rooms": "(d) room creation",
    "streams": "(e) streams and WebSockets of one user",
    "history": "(f) greedy history, sockets that never read",
    "binary": "(g) binary frames",
    "slow": "(h) slowloris and idle keep-alive",
}
QUIET = "quiet"
PASSWORD = "well-behaved password"
BAR = 2.0  # a flood's p99 may be at most this many times the quiet one


def add_arguments(ap):
    """The flood mode's options on scripts/bench's parser."""
    g = ap.add_argument_group("flood mode (--flood; docs/benchmarks.md, \"Floods\")")
    g.add_argument("--flood", action="store_true",
                   help="run the floods against a well-behaved client and print the table (about 3 minutes)")
    g.add_argument("--floods", default=",".join(FLOODS),
                   help="which floods, in this order (default all: %(default)s)")
    pos, nonneg = _positive, _non_negative
    for name, kind, default, text in (
            ("flood_reps", pos, 1, "runs of every flood (a b c, a b c, ...); the table shows the median "
                                   "run of each"),
            ("flood_seconds", pos, 10.0, "how long each flood lasts (s)"),
            ("quiet_seconds", pos, 8.0, "how long the quiet measurement before each flood lasts (s)"),
            ("ws_sessions", pos, 4, "the client's WebSocket sessions"),
            ("ws_interval_ms", pos, 55.0, "each of them sends a message this often (the bridge's default "
                                          "limit is 20 events/s a socket)"),
            ("grpc_sessions", pos, 1, "the client's Connect streams"),
            ("grpc_interval_ms", pos, 10.0, "each of them sends a message this often"),
            ("conn_count", pos, 2000, "(a) connections held from 127.0.0.2"),
            ("conn_rate", nonneg, 1000.0, "(a) most connects per second (0: no limit)"),
            ("login_workers", pos, 16, "(b) concurrent wrong-login requests"),
            ("login_rate", nonneg, 200.0, "(b) most wrong logins per second (0: no limit)"),
            ("login_addrs", pos, 1, "(b) source addresses the workers spread over"),
            ("register_workers", pos, 16, "(c) concurrent registrations"),
            ("register_rate", nonneg, 200.0, "(c) most registrations per second (0: no limit)"),
            ("register_addrs", pos, 1, "(c) source addresses the workers spread over"),
            ("rooms_workers", pos, 16, "(d) concurrent CreateRoom calls"),
            ("rooms_rate", nonneg, 200.0, "(d) most rooms per second (0: no limit)"),
            ("streams_grpc", nonneg, 500, "(e) Connect streams of the one attacking user"),
            ("streams_ws", nonneg, 500, "(e) WebSockets of the same user (200 to a source address)"),
            ("history_sockets", pos, 100, "(f) greedy WebSockets (50 to a source address)"),
            ("history_users", pos, 4, "(f) users the greedy sockets are spread over"),
            ("history_rate", pos, 10.0, "(f) history requests per second per socket"),
            ("history_limit", pos, 500, "(f) messages asked for per request (chat-core allows 1-500)"),
            ("history_messages", pos, 500, "(f) messages preloaded into the room asked for"),
            ("history_bytes", pos, 4000, "(f) bytes of text per preloaded message"),
            ("binary_sockets", pos, 20, "(g) WebSockets sending binary frames"),
            ("binary_rate", pos, 2000.0, "(g) most binary frames per second over all of them"),
            ("slow_count", pos, 2000, "(h) connections, half slowloris, half idle keep-alive"),
            ("slow_per_addr", pos, 200, "(h) connections per source address"),
            ("slow_interval", pos, 2.0, "(h) a slowloris sends a header line this often (s)"),
            ("keepalive_interval", pos, 20.0, "(h) an idle keep-alive connection asks again this often (s)")):
        g.add_argument("--" + name, type=kind if isinstance(default, float) else _int_of(kind), default=default,
                       help=text + " (default %(default)s)")
    g.add_argument("--core_flag", action="append", default=[], metavar="FLAG",
                   help="one more chat-core flag for the flood run (repeatable), e.g. --core_flag=--hash_threads=1")
    g.add_argument("--bridge_flag", action="append", default=[], metavar="FLAG",
                   help="one more ws-bridge flag for the flood run (repeatable)")


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)


def _positive(text):
    v = _number(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be above 0, got %s" % text)
    return v


def _non_negative(text):
    v = _number(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, got %s" % text)
    return v


def _int_of(check):
    def parse(text):
        v = check(text)
        if v != int(v):
                raise argparse.ArgumentTypeError("%r is not a whole number" % text)
        return int(v)
    return parse


def floods_of(text):
    """The --floods list, checked: (floods, problem or None)."""
    floods = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in floods if f not in FLOODS]
    if bad or not floods:
        return [], "--floods: unknown %s (choose from %s)" % (",".join(bad) or "(none given)", ",".join(FLOODS))
    return floods, None


# --- servers and set-up --------------------------------------------------------------------
def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


class Stack:
    """chat-core and ws-bridge with their default limits (plus --core_flag and
    --bridge_flag), in a temporary folder; stop() ends them and removes it."""

    def __init__(self, cfg, args):
        allow_root = ["--allow_root"] if os.geteuid() == 0 else []
        self._tmp = tempfile.TemporaryDirectory(prefix="chat-flood-")
        self.procs = []
        try:
            self.core = self._launch([os.path.join(cfg.build, "chat-core/chat-core"), "--listen=127.0.0.1:0",
                                      "--db=" + os.path.join(self._tmp.name, "chat.db"), "--log_level=error",
                                      *allow_root, *args.core_flag], "chat-core listening on ")
            self.bridge = self._launch([os.path.join(cfg.build, "ws-bridge/ws-bridge"), "--listen=127.0.0.1:0",
                                        "--core=" + self.core.addr, "--log_level=error", *allow_root,
                                        *args.bridge_flag], "ws-bridge listening on ")
            host, port = self.bridge.addr.rsplit(":", 1)
            self.host, self.port = host, int(port)
            for _ in range(200):
                try:
                    with urllib.request.urlopen("http://%s/healthz" % self.bridge.addr, timeout=1) as r:
                        if r.status == 200:
                            return
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("ws-bridge's /healthz did not answer 200 in 10 s")
        except BaseException:
            self.stop()
            raise

    def _launch(self, argv, prefix):
        proc = Proc(argv, prefix)
        self.procs.append(proc)
        return proc

    def died(self):
        """What exited, as "chat-core exited with 139", or ""."""
        return ", ".join("%s exited with %d" % (os.path.basename(p.p.args[0]), p.p.returncode)
                         for p in self.procs if p.p.poll() is not None)

    def cpu(self):
        return {os.path.basename(p.p.args[0]): cpu_seconds(p.p.pid) for p in self.procs}

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []
        self._tmp.cleanup()


async def _account(stack, user, source):
    """Registers `user` through the bridge from `source` (or logs in if it exists);
    returns its token. Waits out a registration limit for up to 60 s."""
    deadline = time.time() + 60
    path = "/api/register"
    while True:
        reader, writer = await wire.open_tcp(stack.host, stack.port, source)
        try:
            writer.write(wire.request_bytes("POST", path, "%s:%d" % (stack.host, stack.port),
                                            {"username": user, "password": PASSWORD}))
            status, headers, body = await wire.read_response(reader)
        finally:
            wire.close_quietly(writer)
        if status == 200:
            return wire.cookie_token(headers)
        if status == 409 and path == "/api/register":
            path = "/api/login"
            continue
        if status in (429, 503) and time.time() < deadline:
            log("flood: %s %s answered %d (%s); trying again in 2 s" % (path, user, status, body[:120]))
            await asyncio.sleep(2)
            continue
        raise RuntimeError("%s %s answered %d: %s" % (path, user, status, body.decode(errors="replace")))


def accounts(stack, users):
    """{user: token}, each registered from an address of its own (127.0.1.x)."""

    async def all_of():
        return [await _account(stack, u, "127.0.1.%d" % (i + 1)) for i, u in enumerate(users)]
    return dict(zip(users, asyncio.run(all_of())))


def rooms_and_history(cfg, stack, token, floods, args):
    """Creates the probe's room and, for the history flood, a room holding
    --history_messages messages of --history_bytes each."""
    sys.path.insert(0, py_out(cfg))
    try:
        import grpc
        from chat.v1 import chat_pb2, chat_pb2_grpc
    except ImportError as e:
        raise RuntimeError("%s: build the chat_py target (the Python gRPC code in %s)" % (e, py_out(cfg)))
    md = (("authorization", "Bearer " + token),)
    with grpc.insecure_channel(stack.core.addr) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        rooms = ["probe-w%d" % k for k in range(1, args.ws_sessions + 1)]
        rooms += ["probe-g%d" % k for k in range(1, args.grpc_sessions + 1)]
        for room in rooms + ["archive"]:
            try:
                stub.CreateRoom(chat_pb2.CreateRoomRequest(name=room), metadata=md, timeout=10)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise RuntimeError("CreateRoom %s: %s %s" % (room, e.code().name, e.details()))
        if "history" not in floods:
            return
        text = ("history page filler " * (args.history_bytes // 20 + 1))[:args.history_bytes]
        pending = []
        for n in range(args.history_messages):
            pending.append(stub.SendMessage.future(chat_pb2.SendMessageRequest(
                room="archive", text=text, client_msg_id="pre%d" % n), metadata=md, timeout=60))
            if len(pending) >= 64:
                [f.result() for f in pending]
                pending = []
        [f.result() for f in pending]


def py_out(cfg):
    return os.path.abspath(os.path.join(cfg.build, "tests/py"))


# --- the run -----------------------------------------------------------------------------------
def _agent(cfg, module, *argv):
    return subprocess.Popen([sys.executable, "-m", "benchkit." + module, *argv], cwd=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def attack_config(args, stack, tokens):
    c = {"py_out": None, "host": stack.host, "port": stack.port, "core": stack.core.addr,
         "seconds": args.flood_seconds, "token": tokens["mallory"], "target_user": "alice",
         "tokens": [tokens[u] for u in tokens if u.startswith("eve")], "history_room": "archive",
         "conn_source": "127.0.0.2"}
    for k, v in vars(args).items():
        if k.split("_")[0] in ("conn", "login", "register", "rooms", "streams", "history", "binary", "slow",
                               "keepalive"):
            c[k] = v
    return c


def one_flood(cfg, args, flood, echo=True):
    """One flood on a fresh stack: the client's quiet figures, then the flood's, and
    what the attacker and the servers did. Returns a dict (see report())."""
    stack = Stack(cfg, args)
    probe = None
    try:
        users = ["alice", "bob", "mallory"] + (["eve%d" % i for i in range(1, args.history_users + 1)]
                                               if flood == "history" else [])
        tokens = accounts(stack, users)
        rooms_and_history(cfg, stack, tokens["bob"], [flood], args)
        probe_cfg = {"py_out": py_out(cfg), "bridge": stack.bridge.addr, "core": stack.core.addr,
                     "ws_token": tokens["alice"], "grpc_token": tokens["bob"], "login_user": "alice",
                     "login_password": PASSWORD, "room": "probe", "ws_interval_ms": args.ws_interval_ms,
                     "grpc_interval_ms": args.grpc_interval_ms, "ws_sessions": args.ws_sessions,
                     "grpc_sessions": args.grpc_sessions, "arrival_interval_ms": 1000, "grace_s": 5}
        probe = _agent(cfg, "flood_probe", json.dumps(probe_cfg))
        ready = probe.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError("the well-behaved client did not start: %s" % ready)

        def phase(name):
            probe.stdin.write("phase %s\n" % name)
            probe.stdin.flush()

        time.sleep(1)  # the sessions' first messages ride on fresh connections: not measured
        phase(QUIET)
        time.sleep(args.quiet_seconds)
        if echo:
            log("flood: %s for %g s" % (TITLES[flood], args.flood_seconds))
        acfg = attack_config(args, stack, tokens)
        acfg["py_out"] = py_out(cfg)
        attacker = _agent(cfg, "flood_attacks", flood, json.dumps(acfg))
        # Its start-up is not the flood's (a real attacker starts elsewhere).
        ready = attacker.stdout.readline().strip()
        if ready != "ready":
            attacker.kill()
            raise RuntimeError("the attacker did not start: %r" % ready)
        cpu0, w0 = stack.cpu(), time.time()
        phase(flood)
        attacker.stdin.write("go\n")
        attacker.stdin.flush()
        try:
            out, _ = attacker.communicate(timeout=args.flood_seconds + 60)
        except subprocess.TimeoutExpired:
            attacker.kill()
            out, _ = attacker.communicate()
        phase("gap")
        cpu1, wall = stack.cpu(), time.time() - w0
        saw = next((json.loads(l) for l in out.splitlines() if l.startswith("{")),
                   {"saw": {"attacker failed (exit %s)" % attacker.returncode: 1}, "cpu_s": None})
        died = stack.died()
        probe.stdin.write("end\n")
        probe.stdin.flush()
        out, _ = probe.communicate(timeout=60)
        figures = next((json.loads(l) for l in out.splitlines() if l.startswith("{")), {})
        if "error" in figures:
            raise RuntimeError(figures["error"])
        return {"saw": saw["saw"], "attacker_cpu_s": saw["cpu_s"], "wall_s": round(wall, 1),
                "server_cpu_s": {k: round(cpu1[k] - cpu0.get(k, 0), 2) for k in cpu1}, "died": died,
                "quiet": figures.get(QUIET), "flood": figures.get(flood)}
    finally:
        if probe and probe.poll() is None:
            probe.kill()
            probe.wait()
        stack.stop()


def run_floods(cfg, args, floods, echo=True):
    """Every flood of `floods` in turn, each on a fresh stack, all of them --flood_reps
    times (a b c, a b c, ...): {"order", "floods": {flood: [one_flood() per run]}}."""
    results = {"order": floods, "floods": {f: [] for f in floods}}
    for rep in range(args.flood_reps):
        for f in floods:
            if echo and args.flood_reps > 1:
                log("flood: run %d of %d" % (rep + 1, args.flood_reps))
            results["floods"][f].append(one_flood(cfg, args, f, echo))
    return results


# --- the table --------------------------------------------------------------------------------
def _ms(v):
    return "–" if v is None else ("%.1f" % v if v < 100 else "%.0f" % v)


def verdict(quiet, fig):
    """(ratio ws, ratio grpc, [reasons it fails on p99], [other reasons it fails]) of
    one flood against its quiet phase."""
    slow, reasons = [], []
    ratios = []
    for path in ("ws", "grpc"):
        q, f = quiet[path]["p99_ms"], fig[path]["p99_ms"]
        r = f / q if (q and f is not None) else None
        ratios.append(r)
        if r is None:
            reasons.append("%s: nothing came back" % path)
        elif r > BAR:
            slow.append("%s p99 %.1f×" % (path, r))
        if fig[path]["lost"]:
            reasons.append("%s lost %d of %d" % (path, fig[path]["lost"], fig[path]["sent"]))
        for why in fig[path]["disconnects"]:
            reasons.append("%s ended: %s" % (path, why))
    for side, name in (("logins", "logins"), ("new_sockets", "new sockets")):
        s = fig[side]
        if s["ok"] < s["tried"]:
            reasons.append("%s failed %d/%d (%s)" % (name, s["tried"] - s["ok"], s["tried"], ", ".join(
                "%s ×%d" % kv for kv in sorted(s["failures"].items()))))
    return ratios[0], ratios[1], slow, reasons


def _saw(d):
    return "; ".join("%s: %s" % (k, "{:,}".format(v)) for k, v in sorted(d.items(), key=lambda kv: -kv[1]))


def report(results, args):
    """The table (markdown) and whether every flood passed: (text, all_passed)."""
    lines = ["| flood | WS p99 ms: quiet → flood | × | gRPC p99 ms: quiet → flood | × | client's logins · "
             "new sockets ok (slowest, s) | server CPU-s core / bridge · attacker CPU-s | verdict | "
             "what the attacker saw |",
             "|---|---|---|---|---|---|---|---|---|"]
    all_passed = True
    for name in results["order"]:
        title = TITLES[name]
        runs = []  # (worse ratio, rw, rg, slow, reasons, info) of each run with figures
        broken = []
        for k, info in enumerate(results["floods"][name]):
            quiet, fig = info.get("quiet"), info.get("flood")
            if not fig or not quiet:
                broken.append("run %d: no figures" % (k + 1))
                continue
            rw, rg, slow, reasons = verdict(quiet, fig)
            if info.get("died"):
                reasons.insert(0, info["died"])
            worse = max([r if r is not None else float("inf") for r in (rw, rg)])
            runs.append((worse, rw, rg, slow, reasons, info, k))
        if not runs:
            lines.append("| %s | no figures | | | | | | FAIL | |" % title)
            all_passed = False
            continue
        # The row shows the run whose worse ratio is the median (the higher one of an
        # even count); any run's lost message, ended session or refused login fails it.
        runs.sort(key=lambda r: r[0])
        worse, rw, rg, slow, _, info, _ = runs[len(runs) // 2]
        other = broken + ["%s%s" % ("run %d: " % (k + 1) if len(runs) > 1 else "", why)
                          for _, _, _, _, reasons, _, k in sorted(runs, key=lambda r: r[6]) for why in reasons]
        quiet, fig = info["quiet"], info["flood"]
        sc = info["server_cpu_s"]
        cpu = "%.1f / %.1f · %s" % (sc.get("chat-core", 0), sc.get("ws-bridge", 0),
                                    "–" if info["attacker_cpu_s"] is None else "%.1f" % info["attacker_cpu_s"])
        fails = slow + other
        mark = "PASS" if not fails else "FAIL: " + "; ".join(fails)
        if len(runs) > 1:
            mark += " (worse ratio of each run: %s; the row is the median run)" % ", ".join(
                "%.1f×" % r[0] for r in sorted(runs, key=lambda r: r[6]))
        all_passed = all_passed and not fails
        lg, ns = fig["logins"], fig["new_sockets"]
        lines.append("| %s | %s → %s | %s | %s → %s | %s | %d/%d · %d/%d (%.1f · %.1f) | %s | %s | %s |" % (
            title, _ms(quiet["ws"]["p99_ms"]), _ms(fig["ws"]["p99_ms"]), "–" if rw is None else "%.2f" % rw,
            _ms(quiet["grpc"]["p99_ms"]), _ms(fig["grpc"]["p99_ms"]), "–" if rg is None else "%.2f" % rg,
            lg["ok"], lg["tried"], ns["ok"], ns["tried"], lg["max_ms"] / 1000.0, ns["max_ms"] / 1000.0,
            cpu, mark, _saw(info["saw"])))
    head = ("Each flood on fresh processes: the well-behaved client's quiet figures (%g s), then the flood's (%g s). "
            "A flood passes at p99 ≤ %g× quiet on both paths, nothing lost, no session ended, and every "
            "login and new socket of the client served." % (args.quiet_seconds, args.flood_seconds, BAR))
    return head + "\n\n" + "\n".join(lines) + "\n", all_passed


def _git_commit(tree):
    """The commit `tree` is at, with '+changes' if tracked files differ from it; "" if
    it is not a git work tree."""
    try:
        head = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, timeout=10)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def binaries_source(cfg):
    """Where the binaries were built from: "<source folder> at <commit>" (the source
    folder from the build's CMakeCache.txt)."""
    source = ""
    try:
        with open(os.path.join(cfg.build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:"):
                    source = line.split("=", 1)[1].strip()
    except OSError:
        pass
    if not source:
        return "an unknown source folder"
    return "%s at %s" % (source, _git_commit(source) or "an unknown commit (not a git work tree)")


def loadavg():
    """The machine's 1-minute load average ("?" where there is no /proc/loadavg): other
    work on the same CPUs moves every figure here."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def main(cfg, args):
    """scripts/bench --flood: 0 every flood passed, 1 one failed, 2 could not run."""
    floods, problem = floods_of(args.floods)
    if problem:
        log(problem)
        return 2
    for need in (os.path.join(cfg.build, "chat-core/chat-core"), os.path.join(cfg.build, "ws-bridge/ws-bridge"),
                 os.path.join(py_out(cfg), "chat/v1/chat_pb2_grpc.py")):
        if not os.path.exists(need):
            log("flood: %s is missing; build it first: scripts/build --target chat-core ws-bridge chat_py "
                "(or BUILD_DIR=<your build dir>)" % need)
            return 2
    source = binaries_source(cfg)
    load0 = loadavg()
    t0 = time.time()
    try:
        results = run_floods(cfg, args, floods)
    except (RuntimeError, OSError) as e:
        log("flood: %s" % e)
        return 2
    text, passed = report(results, args)
    raw = os.path.join(cfg.build, "bench-flood.json")
    with open(raw, "w") as f:
        json.dump(dict(results, binaries=source, args=vars(args), loadavg=[load0, loadavg()]), f, indent=1)
    print("Floods against chat-core + ws-bridge from %s, built in %s; %s, %.0f s, load average %s at the start "
          "and %s at the end (%d CPUs); raw figures in %s\n" % (
              source, cfg.build, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.time() - t0, load0,
              loadavg(), os.cpu_count() or 0, raw))
    print(text)
    return 0 if passed else 1
