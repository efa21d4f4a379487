"""The smoke run (scripts/bench --smoke, about a minute, part of the test suite):
every contestant once, briefly; fails on loss, reordering, a crash, a bad trace,
servers on the wrong CPUs, a generator that does not fail at once against a dead
port, a report that --render cannot write, a flood run (--flood) that does not
work, or a slow-consumer run (--slow-consumer) whose stopped reader is not cut off
or whose other readers lose messages. It writes nothing that stays."""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from . import flood, slow_consumer
from .config import log
from .contestants import SHARED_SOCKETIO
from .figures import fmt, saturation
from .postgres import Postgres
from .report import BEGIN, END, LEGACY, render_raw
from .runner import allowed_cpus, contestant_cpus, cpu_list, generator_cpus, server_cpus

FANOUT_CONTESTANTS = ("bridge", "grpc", "grpc-batch", "socketio", "floor-coalesce")


def smoke_dead_port(runner, target, scenario, dead, failures):
    """chat-bench against an address where nothing listens: must fail in < 10 s."""
    t1 = time.time()
    try:
        p = subprocess.run([runner.cfg.bench, "--target=" + target, "--addr=" + dead, "--scenario=" + scenario,
                            "--subscribers=3"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=30)
    except subprocess.TimeoutExpired:
        failures.append((target + " against " + dead, ["no answer in 30 s"]))
        return
    err = next((json.loads(l).get("error", "") for l in p.stdout.splitlines() if l.startswith("{")), "")
    if p.returncode == 0 or "ended before joining" not in err or time.time() - t1 > 10:
        failures.append((target + " against " + dead, [p.returncode, p.stdout]))
    else:
        log("smoke %-15s nothing at %s: exit %d, %s" % (target, dead, p.returncode, err))


def isolation_problems(runner, latency_row):
    """Latency servers (every process and thread) keep off the generator's CPU, and
    fan-out servers may use every CPU; the latency row says which CPUs it had."""
    gen = generator_cpus()
    if not gen:
        return []  # one CPU: nothing to keep apart
    problems = []
    if server_cpus("fanout") is not None:
        problems.append("fan-out servers confined to %s" % server_cpus("fanout"))
    shared = contestant_cpus(runner.contestant(SHARED_SOCKETIO), "latency")
    if shared is not None:
        problems.append("%s confined to %s" % (SHARED_SOCKETIO, shared))
    # Worked out here rather than taken from server_cpus(), so the check still fails
    # when isolation is switched off there.
    want = set(allowed_cpus()) - {int(gen)}
    if latency_row.get("server_cpus") != cpu_list(want):
        problems.append("latency row server_cpus %r, want %s" % (latency_row.get("server_cpus"), sorted(want)))
    servers, _ = runner.start("bridge", "latency")
    try:
        for proc in servers.procs:
            for tid in os.listdir("/proc/%d/task" % proc.p.pid):
                got = os.sched_getaffinity(int(tid))
                if got != want:
                    problems.append("%s thread %s may use CPUs %s, want %s" % (
                        os.path.basename(proc.p.args[0]), tid, sorted(got), sorted(want)))
    finally:
        servers.stop()
    return problems


def _trace_problems(rows, trace):
    """What is wrong with a latency run's row and its per-message trace."""
    problems = []
    r = rows[-1] if rows else {}
    if not r.get("ok"):
        problems.append("run not ok: %s" % r)
    lines = [l.split() for l in open(trace)] if os.path.exists(trace) else []
    lines = [l for l in lines if l and l[0] != "#"]
    per_msg = r.get("expected", 0) // max(1, r.get("sent", 1))
    if not lines or len(lines) != r.get("messages_measured"):
        problems.append("%d trace lines for %s measured messages" % (len(lines), r.get("messages_measured")))
    bad = [l for l in lines if int(l[5]) != per_msg or int(l[3]) > int(l[4])]
    if bad:
        problems.append("%d trace lines with deliveries != %d or first > last, e.g. %s" % (len(bad), per_msg, bad[0]))
    if r and not r.get("first_p99_ms", 1e9) <= r.get("last_p99_ms", 0):
        problems.append("first_p99_ms %s > last_p99_ms %s" % (r.get("first_p99_ms"), r.get("last_p99_ms")))
    # Every read came with the kernel's receive timestamp, and no delivery reached
    # the socket after the generator read it.
    if r and r.get("stamped_reads") != 1:
        problems.append("stamped_reads %s, want 1 (every read with a receive timestamp)" % r.get("stamped_reads"))
    for q in ("p50", "p99"):
        if r and not 0 < r.get("arrival_%s_ms" % q, -1) <= r.get("%s_ms" % q, 0):
            problems.append("arrival_%s_ms %s not in (0, %s_ms %s]" % (q, r.get("arrival_%s_ms" % q), q,
                                                                      r.get("%s_ms" % q)))
    if r and not 0 < r.get("send_lag_p50_ms", -1) <= r.get("send_lag_p99_ms", 0):
        problems.append("send lag p50 %s / p99 %s" % (r.get("send_lag_p50_ms"), r.get("send_lag_p99_ms")))
    return problems, r, lines


def smoke_latency(runner, failures):
    """A short latency run with a per-message trace: every measured message is in
    the trace, reached every member, and its first delivery came no later than
    its last; chat-bench refuses a trace outside the latency scenario."""
    bench = runner.cfg.bench
    with tempfile.TemporaryDirectory(prefix="chat-bench-trace-") as d:
        trace = os.path.join(d, "trace.txt")
        rows = runner.run_bench("bridge", "latency", subscribers=20, senders=1, rates="50", duration=1, warmup=0.5,
                                drain=15, max_p99_ms=10000, latency_trace=trace)
        problems, r, lines = _trace_problems(rows, trace)
        refused = subprocess.run([bench, "--scenario=fanout", "--latency_trace=" + trace], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, timeout=30)
        if refused.returncode != 2 or "needs --scenario=latency" not in refused.stderr:
            problems.append("--latency_trace with fanout: exit %d, %r" % (refused.returncode, refused.stderr))
        t1 = time.time()
        unwritable = subprocess.run([bench, "--scenario=latency", "--addr=127.0.0.1:1",
                                     "--latency_trace=" + os.path.join(d, "no-such-dir", "trace.txt")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=30)
        if unwritable.returncode != 2 or "cannot write --latency_trace" not in unwritable.stderr or time.time() - t1 > 5:
            problems.append("unwritable --latency_trace: exit %d, %r" % (unwritable.returncode, unwritable.stderr))
        problems += isolation_problems(runner, r)
        if problems:
            failures.append(("bridge latency trace", problems))
        else:
            log("smoke %-15s latency: %d messages traced, first delivery p99 %.1f ms, last %.1f ms, "
                "at the socket %.1f ms, send lag %.2f ms" % ("bridge", len(lines), r["first_p99_ms"], r["last_p99_ms"],
                                                             r["arrival_p99_ms"], r["send_lag_p99_ms"]))


def _saturation_problems():
    """A step with the generator above 90% of its core does not count as the saturation."""
    def step(d, ok=True, valid=True):
        return {"deliveries_per_s": d, "ok": ok, "valid": valid}
    problems = []
    cases = [([step(1), step(2), step(3, valid=False)], 2, True),
             ([step(1), step(2, ok=False)], 1, False),
             ([step(1), step(2, ok=False, valid=False)], 1, True)]
    for rows, want, bound in cases:
        got = saturation(rows)
        if not got or got["deliveries_per_s"] != want or got["generator_bound"] != bound:
            problems.append(("saturation()", [rows, got]))
    if saturation([step(1, valid=False)]) is not None:
        problems.append(("saturation() of only invalid steps", ["not None"]))
    return problems


def smoke_render(runner, failures):
    """--render writes a report from the smoke's own raw rows, with every fan-out
    contestant, between the report's markers (what is outside them is kept), or
    before the analysis of an older report; a missing or garbled raw file is refused."""
    failures += _saturation_problems()
    rows = runner.rows
    with tempfile.TemporaryDirectory(prefix="chat-bench-render-") as d:
        raw, out, legacy = os.path.join(d, "raw.jsonl"), os.path.join(d, "report.md"), os.path.join(d, "old.md")
        with open(raw, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        with open(out, "w") as f:
            f.write("kept head\n%s\nold tables\n%s\nkept tail\n" % (BEGIN, END))
        with open(legacy, "w") as f:
            f.write("old tables\n%s\nkept analysis\n" % LEGACY)
        broken = os.path.join(d, "broken.md")  # a begin marker without its end: left alone
        with open(broken, "w") as f:
            f.write("kept head\n%s\nold tables and everything after them\n" % BEGIN)
        try:
            rc = render_raw(runner.cfg, raw, out, reps=1, quick=True, echo=False)
            rc_legacy = render_raw(runner.cfg, raw, legacy, reps=1, quick=True, echo=False)
            log("smoke --render into a report with one marker, to be refused:")
            rc_broken = render_raw(runner.cfg, raw, broken, reps=1, quick=True, echo=False)
            report, old_report = open(out).read(), open(legacy).read()
        except Exception as e:  # a crash in the renderer is a smoke failure, with its cause
            failures.append(("--render", [repr(e)]))
            return
        if rc_broken != 2 or open(broken).read() != "kept head\n%s\nold tables and everything after them\n" % BEGIN:
            failures.append(("--render into a report with one marker", [rc_broken, open(broken).read()[:300]]))
        # A missing or garbled raw file: a clear message and exit 2, the report untouched.
        with open(os.path.join(d, "garbled.jsonl"), "w") as f:
            f.write("{not json\n")
        for bad in (os.path.join(d, "none.jsonl"), os.path.join(d, "garbled.jsonl")):
            p = subprocess.run([sys.executable, runner.cfg.entry, "--render", bad, "--out", out],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
            if p.returncode != 2 or "cannot read raw rows from " + bad not in p.stderr + p.stdout \
                    or open(out).read() != report:
                failures.append(("--render " + bad, [p.returncode, p.stderr[-300:]]))
        # Each contestant's row shows the deliveries/s of its last valid passing step.
        missing = []
        for c in FANOUT_CONTESTANTS:
            sat = saturation([r for r in rows if r.get("scenario") == "fanout" and r.get("contestant") == c])
            if not sat or "| 50 | 2 | %s | %s" % (c, fmt(sat["deliveries_per_s"])) not in report:
                missing.append(c)
        tables = report[report.find(BEGIN):report.find(END)]
        if rc != 0 or missing or "old tables" in report or not report.startswith("kept head\n" + BEGIN + "\n") \
                or not report.endswith(END + "\nkept tail\n") or "## Targets" not in tables:
            failures.append(("--render", [rc, missing, report[:200], report[-300:]]))
        elif rc_legacy != 0 or "old tables" in old_report or not old_report.endswith(LEGACY + "\nkept analysis\n"):
            failures.append(("--render of a report with the older marker", [rc_legacy, old_report[-300:]]))
        elif "the mean of the raw rows' `steal_pct`" not in report:
            failures.append(("--render: no steal line from the raw rows", [report[:600]]))
        else:
            log("smoke --render: report of %d raw rows, hand-written parts kept" % len(rows))


def smoke_cluster(runner, failures):
    """Three nodes on a throwaway PostgreSQL, the sender on one, the receivers on the
    other two: every message crosses between nodes and must arrive once, in order."""
    try:
        runner.postgres = Postgres(runner.cfg)
    except (OSError, RuntimeError) as e:
        failures.append(("grpc-pg3: no PostgreSQL", [str(e)]))
        return
    try:
        rows = runner.run_bench("grpc-pg3", "fanout", subscribers=50, senders=2, rates="200,400", duration=1,
                                warmup=0.5, drain=15, max_p99_ms=10000)
    finally:
        runner.postgres.stop()
        runner.postgres = None
    if len(rows) != 2 or not all(r.get("ok") for r in rows):
        failures.append(("grpc-pg3", rows))
    for r in rows:
        log("smoke %-15s step %d: %s deliveries/s, %s per server CPU-s, p99 %.1f ms, lost %d" % (
            "grpc-pg3", r["step"], fmt(r["deliveries_per_s"]), fmt(r["deliveries_per_server_cpu_s"]), r["p99_ms"],
            r["lost"]))


def smoke_flood(runner, failures):
    """--flood's machinery, briefly (about 10 s): one binary-frame flood on fresh
    processes; the client's sessions and arrivals are measured in both phases, the
    attacker reports what it saw, the table has its row. Its verdict is not checked
    (a second of figures on a shared machine says nothing); the run must work."""
    ap = argparse.ArgumentParser()
    flood.add_arguments(ap)
    args = ap.parse_args(["--quiet_seconds=2", "--flood_seconds=2", "--binary_sockets=2", "--binary_rate=200",
                          "--ws_sessions=2"])
    problems = []
    if flood.floods_of("binary,nonsense")[1] is None:
        problems.append("--floods accepted an unknown flood")
    try:
        info = flood.one_flood(runner.cfg, args, "binary", echo=False)
    except (RuntimeError, OSError) as e:
        failures.append(("flood", [repr(e)]))
        return
    for phase in ("quiet", "flood"):
        fig = info.get(phase) or {}
        for path in ("ws", "grpc"):
            f = fig.get(path, {})
            if not f.get("received") or f.get("p99_ms") is None:
                problems.append("%s %s: nothing measured: %s" % (phase, path, f))
        if phase == "quiet" and not (fig.get("logins", {}).get("ok") and fig.get("new_sockets", {}).get("ok")):
            problems.append("quiet: no login or new socket worked: %s" % fig)
    if not info["saw"].get("binary frames sent") or not info["saw"].get("opened"):
        problems.append("attacker saw %s" % info["saw"])
    if info.get("died"):
        problems.append(info["died"])
    text, _ = flood.report({"order": ["binary"], "floods": {"binary": [info]}}, args)
    if "| %s |" % flood.TITLES["binary"] not in text:
        problems.append("no table row: %s" % text)
    if problems:
        failures.append(("flood", problems))
    else:
        log("smoke flood binary: ws p99 %.1f -> %.1f ms, grpc p99 %.1f -> %.1f ms, attacker sent %d frames" % (
            info["quiet"]["ws"]["p99_ms"], info["flood"]["ws"]["p99_ms"], info["quiet"]["grpc"]["p99_ms"],
            info["flood"]["grpc"]["p99_ms"], info["saw"]["binary frames sent"]))


def smoke(runner):
    """Every contestant once, briefly; fails on loss, reordering or a crash. 0 ok, 1 failed."""
    t0 = time.time()
    failures = []
    for c in FANOUT_CONTESTANTS:
        # A correctness check, not a speed one: on a loaded machine a late message
        # gets 15 s to arrive and p99 may reach 10 s before a step fails.
        rows = runner.run_bench(c, "fanout", subscribers=50, senders=2, rates="200,400", duration=1, warmup=0.5,
                                drain=15, max_p99_ms=10000)
        if len(rows) != 2 or not all(r.get("ok") for r in rows):
            failures.append((c, rows))
        if not all(0.0 <= r.get("steal_pct", -1.0) <= 100.0 for r in rows):
            failures.append((c + ": steal_pct missing or outside 0-100", rows))
        for r in rows:
            log("smoke %-15s step %d: %s deliveries/s, %s per server CPU-s, p99 %.1f ms, lost %d" % (
                c, r["step"], fmt(r["deliveries_per_s"]), fmt(r["deliveries_per_server_cpu_s"]), r["p99_ms"], r["lost"]))
    smoke_cluster(runner, failures)
    smoke_latency(runner, failures)
    for c in ["bridge", "socketio"]:
        rows = runner.run_bench(c, "setup", subscribers=200, inflight=64, rooms=2)
        if not rows or rows[-1].get("joined") != rows[-1].get("connections") or rows[-1].get("joined", 0) < 190:
            failures.append((c, rows))
        else:
            log("smoke %-15s setup: %s/s" % (c, fmt(rows[-1]["setups_per_s"])))
    # Nothing listening: every target must fail at once with a clear error. The
    # probe socket stays bound (not listening) meanwhile, so connects to its port
    # are refused and no other process can take the port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = "127.0.0.1:%d" % probe.getsockname()[1]
        for target, scenario in [("bridge", "setup"), ("grpc", "fanout"), ("socketio", "memory")]:
            smoke_dead_port(runner, target, scenario, dead, failures)
    smoke_render(runner, failures)
    smoke_flood(runner, failures)
    slow_consumer.smoke(runner, failures)
    log("smoke took %.1f s; hypervisor steal %.1f%% of the machine's CPU time" % (
        time.time() - t0, runner.steal.summary().share))
    if failures:
        for c, rows in failures:
            log("FAILED %s: %s" % (c, rows))
        return 1
    print("bench smoke: ok")
    return 0
