"""scripts/bench --cluster: several chat-core nodes on PostgreSQL (docs/scaling.md).

On one throwaway PostgreSQL (fsync and synchronous_commit on, its CPU counted as
server CPU):
- store-bench: messages made durable per second, one and three nodes writing at
  once, in one room and in 100 rooms;
- fan-out at N = 1,000 (interleaved): one node on SQLite (`grpc`), one node on
  PostgreSQL (`grpc-pg1`), three nodes with the sender on one and the receivers on
  the other two (`grpc-pg3`);
- latency at half load (half of what `pg-same` sustains with the servers off the
  generator's CPU, as in every latency run): two nodes, the receivers on the
  sender's node (`pg-same`) or on the other one (`pg-cross`).

Its tables go into docs/benchmarks.md between their own markers (appended at the
end the first time); the rest of the file is kept."""
import json
import os
import subprocess

from .config import log
from .figures import col, fmt, median, rates_for, ratio, saturation
from .postgres import Postgres
from .runner import rotations

BEGIN = "<!-- cluster run: written by scripts/bench --cluster from here to the end marker; edit outside -->"
END = "<!-- end of the cluster run -->"
TITLE = "## Several nodes on PostgreSQL (`scripts/bench --cluster`)"

N = 1000
FANOUT_CONTESTANTS = ("grpc", "grpc-pg1", "grpc-pg3")
LATENCY_CONTESTANTS = ("pg-same", "pg-cross")
STEPS = tuple(round(25000 * 2 ** (k / 2)) for k in range(13))
STORE_TARGET = 30000  # durable messages/s, one room and 100 rooms
CROSS_P99_TARGET = 2.0  # cross-node p99 at most this times same-node p99


def _store(runner, pg, reps):
    rows = []
    for rep in range(reps):
        log("store-bench postgresql rep=%d" % rep)
        out = subprocess.run([os.path.join(runner.cfg.build, "tests/load/store-bench"), "--sync=",
                              "--pg=" + pg.admin, "--pg_nodes=1,3", "--messages=200000"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=600,
                             env=dict(os.environ, CHAT_LOG_LEVEL="off"))
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                r = dict(json.loads(line), scenario="store", rep=rep)
                runner.record(r)
                rows.append(r)
    return rows


def _fanout(runner, reps, dur):
    fan = {}
    for rep, order in rotations(list(FANOUT_CONTESTANTS), reps):
        for c in order:
            log("cluster fanout n=%d rep=%d %s" % (N, rep, c))
            rows = runner.run_bench(c, "fanout", subscribers=N, senders=1, rates=rates_for(N, STEPS),
                                    duration=dur, warmup=1, drain=3)
            fan.setdefault(c, []).append(saturation(rows))
    return fan


def _latency(runner, reps, lat_reps, dur, fan_dur):
    """Half load: half of what `pg-same` sustains on a latency run's CPUs (the servers
    off the generator's CPU), found by a fan-out search on those CPUs."""
    sats = []
    for rep in range(reps):
        log("cluster fanout on the latency CPUs n=%d rep=%d pg-same" % (N, rep))
        rows = runner.run_bench("pg-same", "fanout", layout="latency", subscribers=N, senders=1,
                                rates=rates_for(N, STEPS), duration=fan_dur, warmup=1, drain=3)
        sats.append(saturation(rows))
    sat = median([r["deliveries_per_s"] for r in sats if r])
    if not sat:
        return None, None, {}
    rate = 0.5 * sat / N
    lat = {}
    for rep, order in rotations(list(LATENCY_CONTESTANTS), lat_reps):
        for c in order:
            log("cluster latency n=%d rate=%.1f rep=%d %s" % (N, rate, rep, c))
            rows = runner.run_bench(c, "latency", subscribers=N, senders=1, rates="%g" % rate, duration=dur,
                                    warmup=1, drain=3)
            lat.setdefault(c, []).append(rows[-1] if rows else None)
    return sat, rate, lat


def render(store, fan, lat_sat, rate, lat, reps, lat_reps, lat_dur):
    out = []
    w = out.append
    w(TITLE + "\n")
    w("One throwaway PostgreSQL 15 on this machine (`scripts/pg`: `fsync` and `synchronous_commit` on, "
      "defaults otherwise); its processes' CPU counts as server CPU. Medians of %d repetitions, contestants "
      "interleaved; latency: %d runs of %d s each. docs/scaling.md explains the design these figures "
      "measure.\n" % (reps, lat_reps, lat_dur))
    w("### Messages made durable per second (store-bench, 64-byte messages, 4 producers per node)\n")
    w("Each node is a `PgStore` with its own connections and its own 4 producers, each keeping 256 appends "
      "in flight; with 3 nodes, the three write at once into the same rooms and the figure is their sum. "
      "A message counts once its transaction committed. (Before 2026-12-06 evening the 4 producers were "
      "shared by all nodes, so 3 nodes split one node's load: 26,302 to 32,095 messages/s into 100 rooms; "
      "docs/perf-log/2026-12-06-cluster.md.)\n")
    w("| nodes | rooms | messages | messages/s |")
    w("|---|---|---|---|")
    keys = sorted({(r["nodes"], r["rooms"]) for r in store})
    for nodes, rooms in keys:
        rs = [r for r in store if r["nodes"] == nodes and r["rooms"] == rooms]
        w("| %d | %s | %s | %s |" % (nodes, fmt(rooms), fmt(rs[0]["messages"]), fmt(col(rs, "messages_per_s"))))
    w("")
    w("### Deliveries per server CPU-second (fan-out to N = %s, one sender)\n" % fmt(N))
    w("`grpc`: one node on SQLite. `grpc-pg1`: one node on PostgreSQL. `grpc-pg3`: three nodes on "
      "PostgreSQL, the sender on the first, the receivers split over the other two, so every message "
      "crosses between nodes through PostgreSQL's `NOTIFY`. Server CPU is every chat-core node plus "
      "PostgreSQL.\n")
    w("| contestant | deliveries/s at saturation | server CPU (cores) | deliveries per server CPU-s | "
      "p99 at saturation (ms) | deliveries per server CPU-s, each run |")
    w("|---|---|---|---|---|---|")
    for c in FANOUT_CONTESTANTS:
        rows = fan.get(c, [])
        w("| %s | %s | %s | %s | %s | %s |" % (
            c, fmt(col(rows, "deliveries_per_s")), fmt(col(rows, "server_cpu_util"), 2),
            fmt(col(rows, "deliveries_per_server_cpu_s")), fmt(col(rows, "p99_ms"), 1),
            "; ".join(fmt(r.get("deliveries_per_server_cpu_s")) if r else "failed" for r in rows)))
    w("")
    w("A search ends at the first step with a loss or a p99 over 1 s; on this VM that step moves a lot from "
      "run to run, so compare the runs' spread before reading a difference into the medians.\n")
    w("### Latency: same node against another node (N = %s, %s msgs/s: half load)\n" % (fmt(N), fmt(rate, 1)))
    w("Two nodes on PostgreSQL; the sender on the first. `pg-same`: the receivers on the sender's node. "
      "`pg-cross`: the receivers on the other node. As in every latency run, the servers (both nodes and "
      "PostgreSQL) keep off the generator's CPU; *half load* is half of the %s deliveries/s that `pg-same` "
      "sustained on those CPUs (median of %d fan-out searches there). Latency counts from each message's "
      "scheduled send time to its arrival at the receiver.\n" % (fmt(lat_sat), reps))
    w("| contestant | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | lost | p99 of each run (ms) |")
    w("|---|---|---|---|---|---|---|")
    for c in LATENCY_CONTESTANTS:
        rows = lat.get(c, [])
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            c, fmt(col(rows, "p50_ms"), 2), fmt(col(rows, "p90_ms"), 2), fmt(col(rows, "p99_ms"), 2),
            fmt(col(rows, "max_ms"), 1), fmt(col(rows, "lost")),
            "; ".join(fmt(r.get("p99_ms"), 1) if r else "failed" for r in rows)))
    w("")
    w("### Targets\n")
    w("| target | measured | met |")
    w("|---|---|---|")
    for nodes in sorted({r["nodes"] for r in store}):
        for rooms in (1, 100):
            rs = [r for r in store if r["nodes"] == nodes and r["rooms"] == rooms]
            v = col(rs, "messages_per_s")
            w("| ≥ %s durable messages/s into PostgreSQL, %d room%s (%d node%s) | %s/s | %s |" % (
                fmt(STORE_TARGET), rooms, "" if rooms == 1 else "s", nodes, "" if nodes == 1 else "s", fmt(v),
                "yes" if v and v >= STORE_TARGET else "**no**"))
    same, cross = col(lat.get("pg-same", []), "p99_ms"), col(lat.get("pg-cross", []), "p99_ms")
    r = ratio(cross, same)
    w("| cross-node p99 ≤ %g× same-node p99 | %s× (%s ms vs %s ms) | %s |" % (
        CROSS_P99_TARGET, fmt(r, 2), fmt(cross, 2), fmt(same, 2),
        "yes" if r is not None and r <= CROSS_P99_TARGET else "**no**"))
    w("")
    return "\n".join(out) + "\n"


def write(path, tables):
    """Puts `tables` between the cluster markers of the file at `path` (appended with
    them the first time), keeping the rest. ValueError on one marker without the other."""
    old = open(path).read() if os.path.exists(path) else ""
    b, e = old.find(BEGIN), old.find(END)
    if 0 <= b < e:
        new = old[:b] + BEGIN + "\n" + tables + END + old[e + len(END):]
    elif b >= 0 or e >= 0:
        raise ValueError("%s has one cluster marker without the other" % path)
    else:
        new = old.rstrip("\n") + "\n\n" + BEGIN + "\n" + tables + END + "\n"
    with open(path, "w") as f:
        f.write(new)


def run(runner, out, reps=3, lat_reps=5, quick=False):
    dur, lat_dur = (2, 4) if quick else (3, 15)
    open(runner.raw, "w").close()
    pg = Postgres(runner.cfg)
    runner.postgres = pg
    try:
        store = _store(runner, pg, reps)
        fan = _fanout(runner, reps, dur)
        lat_sat, rate, lat = _latency(runner, reps, lat_reps, lat_dur, dur)
    finally:
        pg.stop()
    tables = render(store, fan, lat_sat, rate, lat, reps, lat_reps, lat_dur)
    write(out, tables)
    print(tables)
    return 0
