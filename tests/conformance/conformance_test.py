"""WebSocket conformance (issue #30): Autobahn|Testsuite sections 1-7 and 9
as a table of cases (cases_framing.py, cases_payload.py), run by the
project's own raw-socket client (wsclient.py) against a target:
  --target bridge   ws-bridge (with a chat-core behind it) from --build-dir;
  --target control  the reference server (reference_server.py, Debian's
                    python3-websockets): the same table, so that a case that
                    fails there is a bug in the client or the case, not in
                    the bridge.
Every case runs on a fresh connection and is followed by a probe: a new
connection must still be accepted and answered. At the end the server
process must still be running. Prints a summary (cases per section, passed,
time) and exits 1 if any case failed."""
import argparse
import collections
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "testing"))

import cases_framing  # noqa: E402
import cases_handshake  # noqa: E402
import cases_payload  # noqa: E402
import cases_traffic  # noqa: E402
from chat_procs import start  # noqa: E402
from runner import RoundTrips, probe, run_case  # noqa: E402

# The message limit of both targets: ws-bridge's --max_message_bytes default,
# given explicitly to both so the section 9 cases sit just under and over it.
LIMIT = 65536
SECTIONS = {0: "handshake (RFC 4)", 1: "framing", 2: "pings/pongs", 3: "reserved bits", 4: "opcodes",
            5: "fragmentation", 6: "UTF-8", 7: "close handling", 9: "limits/performance"}


def all_cases():
    return cases_handshake.cases() + cases_framing.cases(LIMIT) + cases_payload.cases(LIMIT) + cases_traffic.cases()


class Target:
    def __init__(self, kind, build_dir, tmp):
        self.kind, self.stack, self.proc, self.cookie = kind, None, None, None
        if kind == "bridge":
            from ws_stack import Stack
            self.stack = Stack(build_dir, bridge_flags=["--max_message_bytes=%d" % LIMIT], tmp=tmp)
            self.port, self.proc = self.stack.port, self.stack.bridge
            self.cookie = self.stack.login("conformance")
        else:
            self.log = open(os.path.join(tmp, "reference.log"), "w+")
            self.proc, addr = start([sys.executable, os.path.join(HERE, "reference_server.py"),
                                     "--max_message_bytes=%d" % LIMIT], "reference server listening on ",
                                    stderr=self.log)
            self.port = int(addr.rsplit(":", 1)[1])

    def log_tail(self):
        if self.stack:
            return self.stack.logs()[1][-3000:]
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self):
        if self.stack:
            self.stack.stop()
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_one(case, target):
    t0 = time.monotonic()
    try:
        run = getattr(case, "run", None)
        if run:
            problems, seen = run(target.port, target.cookie, target.kind)
        else:
            problems, seen = run_case(case, target.port, target.cookie)
    except Exception as e:  # noqa: BLE001 - a client crash is a failed case, reported
        problems, seen = ["client error: %r" % e], "-"
    after = probe(target.port, target.cookie)
    if after:
        problems.append(after)
    return case, problems, seen, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["bridge", "control"], required=True)
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--workers", type=int, default=4, help="cases run at once, each on its own connection")
    ap.add_argument("--only", default="", help="run the cases whose id starts with this (e.g. 7.9)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per case")
    args = ap.parse_args()

    cases = [c for c in all_cases() if c.cid.startswith(args.only)]
    ids = [c.cid for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    # The long ones first, so the pool does not end on one straggler.
    cases.sort(key=lambda c: -c.section)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        target = Target(args.target, args.build_dir, tmp)
        try:
            with ThreadPoolExecutor(args.workers) as pool:
                results = list(pool.map(lambda c: run_one(c, target), cases))
            alive = target.proc.poll() is None
            tail = target.log_tail() if not alive or any(r[1] for r in results) else ""
        finally:
            target.stop()
    wall = time.monotonic() - started

    per = collections.OrderedDict((s, [0, 0]) for s in sorted(SECTIONS))
    failed = []
    for case, problems, seen, secs in sorted(results, key=lambda r: [int(x) for x in r[0].cid.split(".")]):
        per[case.section][0] += 1
        if problems:
            failed.append((case, problems))
        else:
            per[case.section][1] += 1
        if args.verbose or problems:
            print("%-8s %-4s %5.2fs %-58s [%s]%s" % (case.cid, "FAIL" if problems else "ok", secs, case.title[:58],
                                                     seen, "".join("\n           - " + p for p in problems)))
    print("\nWebSocket conformance against %s (%s): %d cases, %d passed, %d failed, %.1f s wall, %d workers"
          % (args.target, "ws-bridge" if args.target == "bridge" else "python3-websockets reference",
             len(results), len(results) - len(failed), len(failed), wall, args.workers))
    for s, (n, ok) in per.items():
        if n:
            print("  section %d %-20s %3d cases, %3d passed" % (s, SECTIONS[s], n, ok))
    trips = ["%s %.0f ms" % (c.cid, secs * 1000) for c, p, _, secs in sorted(results, key=lambda r: r[0].cid)
             if not p and any(isinstance(st, RoundTrips) for st in getattr(c, "steps", []))]
    if trips:
        print("  100 sequential round trips (with the probe after): " + ", ".join(trips))
    for case in cases:
        why = getattr(case, "deviation", {}).get(args.target)
        if why:
            print("  %s: part of its check skipped on this target: %s" % (case.cid, why))
    if not alive:
        print("FAIL: the server process died (exit %s)" % target.proc.returncode)
    if tail:
        print("--- server log tail ---\n" + tail)
    return 0 if alive and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
