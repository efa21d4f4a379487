#!/usr/bin/python3
"""The network faults of issue #30, run at once: each case has its own
namespaces, chat-core, ws-bridge and clients (fault_case.py), so they cannot
disturb each other and the whole run takes about as long as the slowest.
Prints a table of faults, recovery times and counts; exit 1 if any case
failed. Run by CTest (netfaults.Faults) as root:

  /usr/bin/python3 faults_test.py --build-dir BUILD [--case drop --case reset ...]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "testing"))
import netns as N  # noqa: E402
from cases import CASES  # noqa: E402

COLUMNS = [("fault", "case", "%-13s"), ("length s", "fault_s", "%8.1f"), ("recovery s", "recovery_s", "%10.2f"),
           ("silence s", "max_silence_s", "%9.2f"), ("p99 before", "baseline_p99", "%10.3f"),
           ("p99 during", "fault_p99", "%10.3f"), ("bystander p99", "bystander_p99", "%13.3f"), ("sent", "sent", "%5d"), ("acked", "acked", "%5d"),
           ("stored", "stored", "%6d"), ("delivered", "delivered", "%9d"), ("lost", "lost_acked", "%4d"),
           ("dups", "dups", "%4d"), ("ws reconn", "ws_reconnects", "%9d"), ("gw conn", "gateway_connects", "%7d")]


def row(result):
    f = dict(result.get("figures") or {})
    f["case"] = result["case"]
    f["dups"] = f.get("dups_stored", 0) + f.get("dups_delivered", 0) if f.get("stored") is not None else None
    cells = []
    for head, key, fmt in COLUMNS:
        v = f.get(key)
        width = len(head) if key != "case" else 13
        cells.append(fmt % v if v is not None else "-".rjust(width))
    return " | ".join(cells) + " | " + ("ok" if not result["problems"] else "FAILED")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--py-out", help="the generated Python stubs (default BUILD/tests/py)")
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="only these (default: all)")
    args = ap.parse_args()
    names = args.case or list(CASES)
    # ctest's timeout sends SIGTERM: leave through the finally below, which
    # stops the cases (they delete their namespaces on SIGTERM).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    t0 = time.monotonic()
    # Before anything else: no root, no namespaces, a clear failure (never a skip).
    try:
        N.require_root_tools()
        N.remove_stale()
        with N.Topology("probe"):
            pass
    except N.NetnsError as e:
        print("FAILED: %s" % e)
        return 1
    results = []
    with tempfile.TemporaryDirectory(prefix="netfaults-") as tmp:
        procs = []
        for name in names:
            out = os.path.join(tmp, name + ".json")
            log = open(os.path.join(tmp, name + ".out"), "w+")
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "fault_case.py"), "--case", name,
                                  "--build-dir", args.build_dir, "--json", out,
                                  *(["--py-out", args.py_out] if args.py_out else [])], stdout=log, stderr=subprocess.STDOUT)
            procs.append((name, p, out, log))
        try:
            for name, p, out, log in procs:
                p.wait()
                try:
                    with open(out) as f:
                        results.append(json.load(f))
                except (OSError, ValueError):
                    log.seek(0)
                    results.append({"case": name, "what": CASES[name].what, "figures": {},
                                    "problems": ["fault_case.py exited %d without results: %s" % (
                                        p.returncode, log.read()[-2000:])]})
        finally:
            # ctest's timeout: the cases clean up their namespaces on SIGTERM.
            for _, p, _, _ in procs:
                if p.poll() is None:
                    p.terminate()
            for _, p, _, _ in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    wall = time.monotonic() - t0

    print("Network faults (each in its own namespaces; all at once), wall %.1f s\n" % wall)
    print(" | ".join(h if k != "case" else h.ljust(13) for h, k, _ in COLUMNS) + " | result")
    for r in results:
        print(row(r))
    print()
    for r in results:
        print("%-13s %s" % (r["case"], r["what"]))
        extra = (r.get("figures") or {}).get("stuck_close")
        if extra:
            print("%-13s the stuck reader's end: %s" % ("", extra))
    failed = [r for r in results if r["problems"]]
    for r in failed:
        print("\n==== %s FAILED ====" % r["case"])
        for p in r["problems"]:
            print("  - " + p)
        downs = (r.get("figures") or {}).get("downs")
        if downs:
            print("  client connection ends: %s" % downs)
        for name, text in (r.get("logs") or {}).items():
            print("  ---- %s log (tail) ----\n%s" % (name, text))
    print("bystander p99: delivery latency, during the fault, of the clients it must not disturb "
          "(stop-reading: the other browsers; stuck-gateway: a direct gRPC client)")
    print("\n%d of %d faults passed: 0 acknowledged lost and 0 duplicates required" % (
        len(results) - len(failed), len(results)))
    return 1 if failed or len(results) != len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
