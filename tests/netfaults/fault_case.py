#!/usr/bin/python3
"""One network fault against a real chat-core and ws-bridge, each in its own
network namespace, with WebSocket clients in a third (netns.py). Writers keep
sending with clientMsgId, every client records what it receives; the fault
is applied and removed; the clients recover by themselves (ws_client.py);
check.py compares acks, the store and the deliveries.

  fault_case.py --case drop --build-dir BUILD [--json OUT]

Prints a summary and, with --json, writes the figures and problems. Exit 0
only if the case passed. Needs root (network namespaces): without it, it fails."""
import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "testing"))
import netns as N  # noqa: E402
from cases import BRIDGE_FLAGS, CASES, CORE_FLAGS  # noqa: E402
from chat_procs import ALLOW_ROOT, http  # noqa: E402
from check import check, stored_messages  # noqa: E402
from ws_client import Client, Options  # noqa: E402
from ws_stack import cookie_of  # noqa: E402

WRITERS, READERS, RATE = 3, 3, 8.0
CORE_PORT, BRIDGE_PORT, METRICS_PORT, CORE_METRICS_PORT, PROXY_PORT = 50051, 8080, 9102, 9101, 50052
ROOM = "lobby"


class Terminated(BaseException):
    pass


def _on_term(signum, frame):
    # ctest's timeout sends SIGTERM (then SIGKILL): leave through the
    # finally blocks, which delete the namespaces.
    raise Terminated("signal %d" % signum)


def wait_for(what, pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


class Run:
    def __init__(self, case, build_dir, tmp):
        self.case, self.build_dir, self.tmp = case, build_dir, tmp
        self.proxy = None
        self.topo = N.Topology(case.name)
        self.procs = []
        self.clients = {}
        self.users = {}
        self.sent_at = {}
        self.facts = {}
        self.stuck = None

    # ---- processes ----------------------------------------------------------

    def start(self, ns, argv, prefix, log_name):
        log = open(os.path.join(self.tmp, log_name), "w")
        proc = N.popen_in(ns, argv, stdout=subprocess.PIPE, stderr=log, text=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(prefix):
                # Keep reading stdout so a chatty process never blocks on a full pipe.
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                return
        raise AssertionError("%s did not start (exit %s); its log: %s" % (
            argv[0], proc.poll(), self.tail(log_name)))

    def tail(self, log_name, lines=15):
        try:
            with open(os.path.join(self.tmp, log_name)) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def start_stack(self):
        secret = os.path.join(self.tmp, "gateway.secret")
        with open(secret, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(secrets.token_hex(24))
        self.db = os.path.join(self.tmp, "chat.db")
        self.start(self.topo.core, [
            os.path.join(self.build_dir, "chat-core/chat-core"), "--listen=%s:%d" % (N.CORE_ADDR, CORE_PORT),
            "--db=" + self.db, "--gateway_secret_file=" + secret, "--pwhash_memlimit_kib=64",
            "--pwhash_opslimit=1", "--metrics_listen=%s:%d" % (N.CORE_ADDR, CORE_METRICS_PORT),
            *CORE_FLAGS, *self.case.core_flags, *ALLOW_ROOT],
            "chat-core listening on ", "core.log")
        core = "%s:%d" % (N.CORE_ADDR, CORE_PORT)
        if getattr(self.case, "via_proxy", False):
            # The bridge reaches chat-core through the stall proxy, which runs
            # in the bridge's namespace: the stalled reader is on the bridge's side.
            self.start(self.topo.bridge, [sys.executable, os.path.join(HERE, "stall_proxy.py"),
                                          "--listen=127.0.0.1:%d" % PROXY_PORT, "--upstream=" + core],
                       "stall proxy listening on ", "proxy.log")
            self.proxy = self.procs[-1]
            core = "127.0.0.1:%d" % PROXY_PORT
        self.start(self.topo.bridge, [
            os.path.join(self.build_dir, "ws-bridge/ws-bridge"), "--listen=%s:%d" % (N.BRIDGE_USER_SIDE, BRIDGE_PORT),
            "--core=" + core, "--gateway_secret_file=" + secret,
            "--max_connections_per_ip=0", "--metrics_listen=%s:%d" % (N.BRIDGE_USER_SIDE, METRICS_PORT),
            *BRIDGE_FLAGS, *self.case.bridge_flags, *ALLOW_ROOT],
            "ws-bridge listening on ", "bridge.log")
        wait_for("the bridge's /healthz", lambda: self.health() == 200, 20, 0.1)

    def health(self):
        try:
            return http(BRIDGE_PORT, "GET", "/healthz", host=N.BRIDGE_USER_SIDE)[0]
        except OSError:
            return 0

    @staticmethod
    def metric(host, port, name, **labels):
        """A counter or gauge from /metrics, summed over the label sets that
        include `labels`; 0 when absent."""
        with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            metric, _, rest = head.partition("{")
            if metric != name:
                continue
            have = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if "=" in kv)
            if all(have.get(k) == '"%s"' % v for k, v in labels.items()):
                total += float(value)
        return total

    def bridge_metric(self, name, **labels):
        return self.metric(N.BRIDGE_USER_SIDE, METRICS_PORT, name, **labels)

    def core_metric(self, name, **labels):
        # Reached through the bridge's namespace (route_users_to_core).
        return self.metric(N.CORE_ADDR, CORE_METRICS_PORT, name, **labels)

    def stop_stack(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # ---- clients ------------------------------------------------------------

    def login(self, name):
        origin = "http://%s:%d" % (N.BRIDGE_USER_SIDE, BRIDGE_PORT)
        body = {"username": name, "password": "correct horse"}
        status, text, headers = http(BRIDGE_PORT, "POST", "/api/register", body, {"Origin": origin},
                                     host=N.BRIDGE_USER_SIDE)
        if status != 200:
            raise AssertionError("cannot register %s: %s %s" % (name, status, text))
        return cookie_of(headers)

    def start_clients(self):
        tag = secrets.token_hex(2)
        specs = [("w%d" % i, {"rate": RATE}) for i in range(WRITERS)]
        specs += [("r%d" % i, {}) for i in range(READERS)]
        if hasattr(self.case, "stuck_rcvbuf"):
            specs.append(("stuck", {"rcvbuf": self.case.stuck_rcvbuf}))
        for name, extra in specs:
            user = "nf%s%s" % (tag, name)
            cookie = self.login(user)
            opts = Options(room=ROOM, **{**self.case.client, **extra})
            c = Client(name, N.BRIDGE_USER_SIDE, BRIDGE_PORT, cookie, opts, self.sent_at)
            self.clients[name], self.users[name] = c, user
        self.stuck = self.clients.get("stuck")
        if getattr(self.case, "grpc_writer", None):
            from grpc_client import GrpcClient, login
            addr = "%s:%d" % (N.CORE_ADDR, CORE_PORT)
            user = "nf%sg0" % tag
            self.clients["g0"] = GrpcClient("g0", addr, login(addr, user), ROOM, sent_at=self.sent_at,
                                            **self.case.grpc_writer)
            self.users["g0"] = user
        for c in self.clients.values():
            c.start()
        wait_for("every client to join", lambda: all(c.start_seq is not None for c in self.clients.values()), 20)

    def fatal(self):
        for c in self.clients.values():
            if c.fatal:
                raise AssertionError("client failed: " + c.fatal)

    def received_since(self, t):
        return min(sum(1 for _, _, at in c.snapshot()["received"] if at >= t) for c in self.clients.values())

    # ---- the case -----------------------------------------------------------

    def run(self):
        case = self.case
        self.start_stack()
        self.start_clients()
        times = {"warm": time.monotonic()}
        # Warm-up: a baseline of deliveries to every client before the fault.
        wait_for("deliveries before the fault", lambda: self.received_since(times["warm"]) >= 10, 20)
        self.fatal()
        times["fault"] = time.monotonic()
        case.apply(self)
        if getattr(case, "until", None):
            wait_for("the fault to take effect", lambda: case.until(self), 20, 0.1)
        else:
            time.sleep(case.duration)   # the fault's length is the experiment, not a wait
        times["heal"] = time.monotonic()
        case.heal(self)
        # Recovery: a message sent after the removal reaches every client.
        heal = times["heal"]

        def recovered():
            self.fatal()
            sent = [c for c, at in list(self.sent_at.items()) if at >= heal]
            return any(all(any(cid == c for _, c, _ in cl.snapshot()["received"]) for cl in self.clients.values())
                       for cid in sent[:20])
        late = []   # a wait that ran out: the figures below still say what went wrong
        try:
            wait_for("the clients to recover", recovered, 30, 0.05)
            time.sleep(1.0)   # a second of normal traffic after recovery
        except AssertionError as e:
            late.append(str(e))
        for c in self.clients.values():
            c.stop_sending.set()

        # Drain: every send acknowledged, every client up to the last seq.
        def drained():
            self.fatal()
            snaps = [c.snapshot() for c in self.clients.values()]
            top = max([s for snap in snaps for s in snap["acks"].values()] or [0])
            return all(s["unacked"] == 0 and (s["last_seq"] or 0) >= top for s in snaps)
        try:
            wait_for("every send acknowledged and delivered", drained, 10 if late else 20, 0.05)
        except AssertionError as e:
            late.append(str(e))
        times["end"] = time.monotonic()
        metrics = {"gateway_connects": int(self.bridge_metric("chat_bridge_gateway_connects_total")),
                   "slow_consumer_closes": int(self.bridge_metric("chat_bridge_disconnects_total",
                                                                  reason="slow_consumer")),
                   "core_gateway_ends": {r: int(v) for r in ("completed", "cancelled", "slow_consumer", "other")
                                         if (v := self.core_metric("chat_core_streams_ended_total",
                                                                   kind="gateway", reason=r))}}
        for c in self.clients.values():
            c.finish()
        for c in self.clients.values():
            c.join(5)
        self.stop_stack()

        snaps = {n: c.snapshot() for n, c in self.clients.items()}
        fig, problems = check(stored_messages(self.db, ROOM), snaps, self.users, dict(self.sent_at), times,
                              stuck="stuck" if self.stuck else None)
        problems[:0] = late
        fig.update(metrics)
        fig["fault_s"] = times["heal"] - times["fault"]
        fig["wall_s"] = times["end"] - times["warm"]
        effect = case.effect(self, fig)
        if effect:
            problems.append(effect)
        fig["downs"] = {n: [why for _, why in s["downs"]][:4] for n, s in snaps.items() if s["downs"]}
        return fig, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--json", help="write the figures and problems here")
    ap.add_argument("--py-out", help="the generated Python stubs (build/tests/py)")
    ap.add_argument("--logs", help="copy chat-core's and ws-bridge's logs into this folder")
    args = ap.parse_args()
    sys.path.insert(0, args.py_out or os.path.join(args.build_dir, "tests", "py"))
    signal.signal(signal.SIGTERM, _on_term)
    case = CASES[args.case]
    result = {"case": case.name, "what": case.what, "problems": [], "figures": {}}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netfault-%s-" % case.name) as tmp:
        run = Run(case, os.path.abspath(args.build_dir), tmp)
        try:
            N.require_root_tools()
            N.remove_stale()
            with run.topo:
                N.enter(run.topo.users)
                try:
                    result["figures"], result["problems"] = run.run()
                finally:
                    for c in run.clients.values():
                        c.finish()
                    run.stop_stack()
        except (Exception, Terminated) as e:
            result["problems"].append("%s: %s" % (type(e).__name__, e))
            if not isinstance(e, (AssertionError, N.NetnsError, Terminated)):
                result["problems"].append(traceback.format_exc())
        if args.logs:
            os.makedirs(args.logs, exist_ok=True)
            for name in ("core.log", "bridge.log", "proxy.log"):
                if os.path.exists(os.path.join(tmp, name)):
                    shutil.copy(os.path.join(tmp, name), os.path.join(args.logs, case.name + "-" + name))
        if result["problems"]:
            result["logs"] = {"core": run.tail("core.log"), "bridge": run.tail("bridge.log")}
    result["total_s"] = time.monotonic() - t0
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "logs"}, indent=1))
    if result["problems"]:
        for name, text in result.get("logs", {}).items():
            print("---- %s log (tail) ----\n%s" % (name, text))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
