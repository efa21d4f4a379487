"""scripts/bench --soak: a long mixed load on one chat-core and one ws-bridge (not
part of the tests; 30 minutes by default), watching both processes' memory and
file descriptors.

The load, all at once for --minutes:
  - chat-bench through ws-bridge: long-lived WebSocket readers and writers in one room;
  - chat-bench straight to chat-core: long-lived gRPC readers and writers in another;
  - benchkit.soak_churn: WebSocket and gRPC guests that connect, join, send, fetch
    history, leave, join elsewhere and go (cleanly or by dropping the connection),
    over and over.
Every --interval seconds it samples VmRSS (/proc/PID/status) and the open
descriptors (/proc/PID/fd) of both servers: before the load (the baseline), during
it, and after it until the descriptors are back (or 60 s have passed).

Criteria (each printed PASS or MISS):
  - RSS drift: the median RSS of the last minute of load against the median of the
    minute after the warm-up (--warmup_minutes, default 5) grows by at most 5%, per
    process. A leak shows as growth; a fall (memory handed back) is no leak, and is
    printed but passes.
  - descriptors: within 60 s of the load's end each process has no more open
    descriptors than before the load.
  - the servers are still running at the end.
The samples go to a CSV and, with the figures, to a JSON file (--soak_out, default
build/bench-soak.{csv,json}).
"""
import json
import os
import statistics
import subprocess
import sys
import time

from .config import log
from .contestants import chat_core, chat_core_pg, ws_bridge
from .postgres import Postgres
from .runner import Servers

DRIFT_LIMIT = 0.05
FD_WAIT_S = 60
# The steady part of the load (each of the two chat-bench runs): modest, so the soak
# measures the servers over time rather than at their limit.
BENCH_SUBSCRIBERS = 40
BENCH_SENDERS = 2
BENCH_RATE = 40  # messages/s per run: 1,600 deliveries/s each
ROOMS = ["soak-r%d" % i for i in range(4)]


def add_arguments(ap):
    ap.add_argument("--soak", action="store_true",
                    help="a long mixed load (default 30 minutes): RSS drift after warm-up <= 5%% and "
                         "descriptors back to baseline, for chat-core and ws-bridge")
    ap.add_argument("--minutes", type=float, default=30, help="--soak: minutes of load")
    ap.add_argument("--warmup_minutes", type=float, default=None,
                    help="--soak: minutes of load before the RSS reference (default 5, or a sixth of "
                         "--minutes when that is under 30)")
    ap.add_argument("--interval", type=float, default=5, help="--soak: seconds between samples")
    ap.add_argument("--soak_store", choices=("sqlite", "postgres"), default="sqlite",
                    help="--soak: chat-core's store: an SQLite file (its page cache, up to 64 MiB a connection, "
                         "is chat-core memory and grows with the file) or a throwaway PostgreSQL (scripts/pg)")
    ap.add_argument("--soak_sqlite_cache_mib", type=int, default=4,
                    help="--soak on SQLite: chat-core's --sqlite_cache_mib (default 4: the three "
                         "connections' caches are full by the end of the warm-up, so what is left is "
                         "drift, not the cache filling; 64 is the product's default)")
    ap.add_argument("--soak_out", default=None,
                    help="--soak: the samples' file prefix (default build/bench-soak: .csv and .json)")


def proc_sample(pid):
    """(VmRSS kB, open descriptors) of `pid`; (None, None) once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, StopIteration):
        return None, None


def fd_kinds(pid):
    """{kind: count} of `pid`'s open descriptors: socket, pipe, anon_inode:[eventfd], a
    file's path... (sockets and pipes without their inode numbers), {} once it is gone."""
    kinds = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            t = t.split(":[")[0] if t.startswith(("socket:", "pipe:")) else t
            kinds[t] = kinds.get(t, 0) + 1
    except OSError:
        pass
    return kinds


def kinds_diff(before, after):
    """{kind: change} of the kinds whose count changed."""
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


# Descriptors a process opens once per thread and keeps for the thread's life (the
# bridge's io_uring send rings, made by a thread's first direct write): the load
# creates them, so they are set aside when comparing with the baseline, as long as
# there are no more of them than the process has threads (more would be a leak).
PER_THREAD_KINDS = ("anon_inode:[io_uring]",)


def fd_excess(pid, kinds_before):
    """(descriptors of `pid` over the baseline with the per-thread kinds aside, the
    change per kind, per-thread kinds within the thread count?)."""
    now = fd_kinds(pid)
    try:
        threads = len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        threads = 0
    diff = kinds_diff(kinds_before, now)
    per_thread_ok = all(now.get(k, 0) <= threads for k in PER_THREAD_KINDS)
    excess = sum(v for k, v in diff.items() if not (k in PER_THREAD_KINDS and per_thread_ok))
    return excess, diff, per_thread_ok


class Sampler:
    def __init__(self, procs, db_files):
        self.procs = procs  # {name: pid}
        self.db_files = db_files  # the SQLite files whose size is sampled too
        self.t0 = time.monotonic()
        self.samples = []

    def take(self, phase):
        s = {"t": round(time.monotonic() - self.t0, 1), "phase": phase}
        for name, pid in self.procs.items():
            s[name + "_rss_kb"], s[name + "_fds"] = proc_sample(pid)
        if self.db_files:
            s["db_kb"] = sum(os.path.getsize(f) for f in self.db_files if os.path.exists(f)) // 1024
        self.samples.append(s)
        return s

    def now(self):
        return time.monotonic() - self.t0


def make_rooms(core_addr, py_out):
    sys.path.insert(0, py_out)
    import grpc
    from chat.v1 import chat_pb2, chat_pb2_grpc
    md = (("x-chat-user", "soak-admin"),)
    with grpc.insecure_channel(core_addr) as ch:
        stub = chat_pb2_grpc.ChatServiceStub(ch)
        for room in ROOMS + ["soak-bench-ws", "soak-bench-grpc"]:
            try:
                stub.CreateRoom(chat_pb2.CreateRoomRequest(name=room), metadata=md, timeout=10)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise RuntimeError("CreateRoom %s: %s %s" % (room, e.code().name, e.details()))


def bench_proc(cfg, target, addr, room, seconds):
    argv = [cfg.bench, "--target=" + target, "--addr=" + addr, "--scenario=fanout", "--label=soak-" + target,
            "--subscribers=%d" % BENCH_SUBSCRIBERS, "--senders=%d" % BENCH_SENDERS, "--rates=%d" % BENCH_RATE,
            "--room=" + room, "--warmup=1", "--duration=%g" % seconds, "--drain=10", "--max_p99_ms=60000",
            "--connect_timeout=60"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def window_median(samples, key, start, end):
    v = [s[key] for s in samples if start <= s["t"] <= end and s.get(key) is not None]
    return statistics.median(v) if v else None


def verdicts(sampler, names, load_start, load_end, warmup_s, fds_before, fds_after, alive):
    """[(criterion, figure text, passed)] and the RSS figures per process."""
    span = min(60.0, (load_end - load_start - warmup_s) / 3)
    out, rss = [], {}
    for n in names:
        ref = window_median(sampler.samples, n + "_rss_kb", load_start + warmup_s, load_start + warmup_s + span)
        end = window_median(sampler.samples, n + "_rss_kb", load_end - span, load_end)
        drift = (end - ref) / ref if ref and end else None
        rss[n] = {"ref_kb": ref, "end_kb": end, "drift": drift, "window_s": round(span, 1)}
        out.append(("%s RSS drift after warm-up <= 5%%" % n,
                    "%s -> %s kB (%s)" % (ref, end, "n/a" if drift is None else "%+.2f%%" % (100 * drift)),
                    drift is not None and drift <= DRIFT_LIMIT))
        excess, diff, per_thread_ok = fds_after[n]
        out.append(("%s descriptors back to baseline" % n,
                    "%s before, %s over it after (change per kind %s; per-thread io_uring rings set aside: %s)" % (
                        fds_before[n], excess, diff, "yes, at most one per thread" if per_thread_ok else "no, "
                        "more than threads"), excess <= 0))
    out.append(("servers alive at the end", ", ".join("%s %s" % kv for kv in alive.items()), all(alive.values())))
    return out, rss


def table(sampler, names, phases):
    """Markdown table: per process, baseline / peak / end RSS and descriptors."""
    lines = ["| process | RSS before load | RSS peak | RSS at load end | fds before | fds peak | fds after |",
             "|---|---|---|---|---|---|---|"]
    for n in names:
        def pick(phase, key, f):
            v = [s[n + key] for s in sampler.samples if s["phase"] in phase and s[n + key] is not None]
            return f(v) if v else None
        lines.append("| %s | %s MB | %s MB | %s MB | %s | %s | %s |" % (
            n, _mb(pick(("before",), "_rss_kb", lambda v: v[-1])), _mb(pick(("load",), "_rss_kb", max)),
            _mb(pick(("load",), "_rss_kb", lambda v: v[-1])), pick(("before",), "_fds", lambda v: v[-1]),
            pick(("load",), "_fds", max), pick(("after",), "_fds", lambda v: v[-1])))
    return "\n".join(lines)


def _mb(kb):
    return "%.1f" % (kb / 1024.0) if kb is not None else "-"


def run(cfg, args):
    minutes = args.minutes
    warmup_min = args.warmup_minutes if args.warmup_minutes is not None else (5 if minutes >= 30 else minutes / 6)
    if minutes <= 0 or warmup_min < 0 or warmup_min >= minutes or args.interval <= 0:
        log("bench --soak: need --minutes > 0, 0 <= --warmup_minutes < --minutes and --interval > 0")
        return 2
    load_s, warmup_s = minutes * 60, warmup_min * 60
    prefix = args.soak_out or os.path.join(cfg.build, "bench-soak")
    py_out = os.path.abspath(os.path.join(cfg.build, "tests/py"))
    servers = Servers(cfg)
    benches, churn, pg = [], None, None
    try:
        if args.soak_store == "postgres":
            pg = Postgres(cfg)
            core = chat_core_pg(servers, pg.new_database(), "n0")
            db_files = []
        else:
            core = chat_core(servers, "--sqlite_cache_mib=%d" % args.soak_sqlite_cache_mib)
            db_files = [os.path.join(servers.tmp, "chat.db" + x) for x in ("", "-wal")]
        bridge = ws_bridge(servers, [core.addr])
        names = ["chat-core", "ws-bridge"]
        sampler = Sampler({"chat-core": core.p.pid, "ws-bridge": bridge.p.pid}, db_files)
        make_rooms(core.addr, py_out)
        for _ in range(3):  # idle, rooms made: the baseline
            sampler.take("before")
            time.sleep(1)
        before = sampler.take("before")
        fds_before = {n: before[n + "_fds"] for n in names}
        kinds_before = {n: fd_kinds(pid) for n, pid in sampler.procs.items()}
        log("soak: %g min of load (warm-up %g min), sampling every %g s; baseline %s" % (
            minutes, warmup_min, args.interval, fds_before))
        load_start = sampler.now()
        benches = [bench_proc(cfg, "bridge", bridge.addr, "soak-bench-ws", load_s - 1),
                   bench_proc(cfg, "grpc", core.addr, "soak-bench-grpc", load_s - 1)]
        churn_cfg = {"py_out": py_out, "bridge": bridge.addr, "core": core.addr, "rooms": ROOMS, "ws_clients": 8,
                     "grpc_clients": 4, "sends": 3, "history_limit": 50, "abort_every": 3, "step_timeout_s": 10,
                     "pause_s": 1.0}
        churn = subprocess.Popen([sys.executable, "-m", "benchkit.soak_churn", json.dumps(churn_cfg)],
                                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        next_log = load_start
        while sampler.now() < load_start + load_s:
            s = sampler.take("load")
            if sampler.now() >= next_log:
                log("soak %5.0f s: %s" % (s["t"] - load_start, ", ".join(
                    "%s %s MB %s fds" % (n, _mb(s[n + "_rss_kb"]), s[n + "_fds"]) for n in names)))
                next_log += 60
            if any(p.p.poll() is not None for p in servers.procs):
                log("soak: a server exited during the load")
                break
            time.sleep(max(0.0, min(args.interval, load_start + load_s - sampler.now())))
        load_end = sampler.now()
        sampler.take("load")
        churn_out, _ = churn.communicate("end\n", timeout=120)
        bench_rows = []
        for b in benches:
            out, _ = b.communicate(timeout=120)
            bench_rows += [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        # After the load: descriptors back to where they were?
        back_after = None
        t_end = sampler.now()
        while True:
            sampler.take("after")
            fds_after = {n: fd_excess(pid, kinds_before[n]) for n, pid in sampler.procs.items()}
            if all(fds_after[n][0] <= 0 for n in names):
                back_after = round(sampler.now() - t_end, 1)
                break
            if sampler.now() >= t_end + FD_WAIT_S:
                break
            time.sleep(1)
        alive = {os.path.basename(p.p.args[0]): p.p.poll() is None for p in servers.procs}
    finally:
        for b in benches:
            if b.poll() is None:
                b.kill()
        if churn is not None and churn.poll() is None:
            churn.kill()
        servers.stop()
        if pg is not None:
            pg.stop()
    churn_fig = next((json.loads(l) for l in (churn_out or "").splitlines() if l.startswith("{")), {})
    checks, rss = verdicts(sampler, names, load_start, load_end, warmup_s, fds_before, fds_after, alive)
    steady = [{k: r.get(k) for k in ("label", "sent", "lost", "disconnects", "errors", "deliveries_per_s",
                                     "p50_ms", "p99_ms", "max_ms")} for r in bench_rows]
    db = [x["db_kb"] for x in sampler.samples if x.get("db_kb") is not None and x["phase"] != "after"]
    result = {"minutes": minutes, "store": args.soak_store,
              "db_kb_first_last": [db[0], db[-1]] if db else None, "warmup_minutes": warmup_min, "interval_s": args.interval,
              "load_start_s": round(load_start, 1), "load_end_s": round(load_end, 1), "rss": rss,
              "fds_before": fds_before,
              "fds_after": {n: {"over_baseline": e, "change_per_kind": d, "per_thread_within_threads": ok}
                            for n, (e, d, ok) in fds_after.items()},
              "fds_back_after_s": back_after,
              "steady_load": steady, "churn": churn_fig, "loadavg": os.getloadavg(),
              "checks": [{"criterion": c, "figures": f, "pass": p} for c, f, p in checks],
              "samples": sampler.samples}
    with open(prefix + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(prefix + ".csv", "w") as f:
        keys = ["t", "phase"] + ["%s_%s" % (n, k) for n in names for k in ("rss_kb", "fds")] + ["db_kb"]
        f.write(",".join(keys) + "\n")
        for s in sampler.samples:
            f.write(",".join("" if s.get(k) is None else str(s[k]) for k in keys) + "\n")
    print(table(sampler, names, None))
    print()
    for r in steady:
        print("steady %-12s sent %s, lost %s, disconnects %s, %s deliveries/s, p50 %s ms, p99 %s ms" % (
            r["label"], r["sent"], r["lost"], r["disconnects"], r["deliveries_per_s"], r["p50_ms"], r["p99_ms"]))
    for side in ("ws", "grpc"):
        c = churn_fig.get(side, {})
        print("churn  %-12s %s cycles (%s dropped on purpose), %s acks, %s history pages (%s messages), "
              "failures %s" % (side, c.get("cycles"), c.get("aborted_on_purpose"), c.get("acks"),
                               c.get("histories"), c.get("history_messages"), c.get("failures")))
    print("descriptors back to baseline %s s after the load" % back_after)
    if db:
        print("store %s: the database files grew from %.1f to %.1f MB" % (args.soak_store, db[0] / 1024.0,
                                                                         db[-1] / 1024.0))
    else:
        print("store %s" % args.soak_store)
    for c, fig, ok in checks:
        print("%-4s %s: %s" % ("PASS" if ok else "MISS", c, fig))
    print("samples: %s.csv, %s.json; load average at the end %.2f %.2f %.2f" % ((prefix, prefix) + os.getloadavg()))
    return 0 if all(ok for _, _, ok in checks) else 1
