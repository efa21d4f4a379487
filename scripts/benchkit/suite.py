"""The full run: every contestant in every scenario, interleaved (A B C, B C A, ...)
in fresh processes, so every comparison is a ratio measured in one run; then
store-bench; then the report."""
import dataclasses
import json
import os
import subprocess

from .config import log
from .contestants import SHARED_SOCKETIO
from .figures import median, rates_for, runs_in, saturation, saturations
from .report import Results, Shape, render, write_report
from .runner import rotations

FANOUT_CONTESTANTS = ("socketio", "bridge", "grpc", "grpc-batch", "floor-direct", "floor-coalesce")
# floor-direct shows how low this generator can measure on this machine.
LATENCY_CONTESTANTS = ("socketio", "bridge", "grpc", "grpc-batch", "floor-direct", SHARED_SOCKETIO)
# N = 10,000 runs without socket.io: 10,000 socket.io clients joining one room cost it
# 50 million "user joined" deliveries (its join handler tells the whole room), more
# than 10 minutes here before the first step.
BIG_FANOUT_CONTESTANTS = ("bridge", "grpc", "grpc-batch", "floor-direct", "floor-coalesce")
MEMORY_CONTESTANTS = ("socketio", "bridge", "grpc")
SETUP_CONTESTANTS = ("socketio", "bridge", "grpc")
# (N subscribers, senders) of the interleaved fan-out searches.
FANOUT_CONFIGS = ((100, 1), (1000, 1), (1000, 4))
# Half-doublings (x1.41) from 25,000 to 1.6 million deliveries/s: with plain
# doublings a contestant's saturation is only known to within 2x, and the
# efficiency at its last passing step can be that far from its real one.
STEPS = tuple(round(25000 * 2 ** (k / 2)) for k in range(13))


@dataclasses.dataclass(frozen=True)
class SuiteOptions:
    reps: int = 3        # fan-out and memory repetitions
    lat_reps: int = 5    # latency repetitions
    setup_reps: int = 5  # setup repetitions
    quick: bool = False  # shorter steps and runs, fewer memory clients, no N = 10,000
    out: str = ""        # the report file
    resume: str = ""     # a raw file of an interrupted full run to take runs from ("" for none)


def _fanout(runner, opts, done_fan):
    dur = 2 if opts.quick else 3
    fan = {}  # (n, senders) -> contestant -> [saturation rows]
    for n, s in FANOUT_CONFIGS:
        if (n, s) in done_fan:
            fan[(n, s)] = saturations(done_fan[(n, s)])
            continue
        for rep, order in rotations(list(FANOUT_CONTESTANTS), opts.reps):
            for c in order:
                log("fanout n=%d senders=%d rep=%d %s" % (n, s, rep, c))
                rows = runner.run_bench(c, "fanout", subscribers=n, senders=s, rates=rates_for(n, STEPS),
                                        duration=dur, warmup=1, drain=3)
                fan.setdefault((n, s), {}).setdefault(c, []).append(saturation(rows))
    if (10000, 1) in done_fan:
        fan[(10000, 1)] = saturations(done_fan[(10000, 1)])
    elif not opts.quick:
        for c in BIG_FANOUT_CONTESTANTS:
            log("fanout n=10000 senders=1 %s" % c)
            rows = runner.run_bench(c, "fanout", timeout=600, subscribers=10000, senders=1,
                                    rates=rates_for(10000, STEPS), duration=dur, warmup=1, drain=3,
                                    connect_timeout=300)
            fan.setdefault((10000, 1), {}).setdefault(c, []).append(saturation(rows))
    return fan


def _latency(runner, opts, fan, done_lat, lat_dur):
    """Latency at one offered load for everyone: 50% of socket.io's saturation."""
    lat = {}
    for n in (100, 1000):
        sat = median([r["deliveries_per_s"] for r in fan[(n, 1)]["socketio"] if r])
        if not sat:
            continue
        rate = 0.5 * sat / n
        lat_contestants = list(LATENCY_CONTESTANTS)
        for c, runs in done_lat.get(n, {}).items():
            lat.setdefault(n, {"rate": rate})[c] = [rows[-1] for rows in runs]
        if n in done_lat:
            # Only what the interrupted run lacks; its ratios stay from one run.
            lat_contestants = [c for c in lat_contestants if c not in done_lat[n]]
        for rep, order in rotations(lat_contestants, opts.lat_reps):
            for c in order:
                log("latency n=%d rate=%.1f rep=%d %s" % (n, rate, rep, c))
                rows = runner.run_bench(c, "latency", subscribers=n, senders=1, rates="%g" % rate,
                                        duration=lat_dur, warmup=1, drain=3)
                lat.setdefault(n, {"rate": rate}).setdefault(c, []).append(rows[-1] if rows else None)
    return lat


def _memory(runner, opts, mem_n):
    """10,000 idle clients in 100 rooms of 100 (in one room, socket.io's join
    announcements alone take it more than 10 minutes; in rooms of 100 every
    contestant announces every join)."""
    mem = {}
    for rep, order in rotations(list(MEMORY_CONTESTANTS), opts.reps):
        for c in order:
            log("memory n=%d rep=%d %s" % (mem_n, rep, c))
            rows = runner.run_bench(c, "memory", timeout=600, subscribers=mem_n, senders=0, rooms=mem_n // 100,
                                    connect_timeout=300)
            mem.setdefault(c, []).append(rows[-1] if rows else None)
    return mem


def _setup(runner, opts):
    """2,000 clients, 64 in flight: in rooms of 100 (every contestant announces each
    join to the room), and in one room (socket.io announces each of the 2,000 joins to
    everyone there; chat-core stops announcing joins past --presence_limit=200 users)."""
    setup = {}
    for layout, rooms in (("rooms of 100", 20), ("one room", 1)):
        for rep, order in rotations(list(SETUP_CONTESTANTS), opts.setup_reps):
            for c in order:
                log("setup %s rep=%d %s" % (layout, rep, c))
                rows = runner.run_bench(c, "setup", subscribers=2000, inflight=64, rooms=rooms)
                setup.setdefault(layout, {}).setdefault(c, []).append(rows[-1] if rows else None)
    return setup


def _store(runner):
    log("store-bench")
    out = subprocess.run([os.path.join(runner.cfg.build, "tests/load/store-bench"), "--messages=200000"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=600,
                         env=dict(os.environ, CHAT_LOG_LEVEL="off"))
    store = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    for r in store:
        runner.record(r)
    return store


def run(runner, opts):
    """The full run; its raw rows go to runner.raw (emptied first), the report to opts.out."""
    old_rows = []
    if opts.resume:
        old_rows = [json.loads(l) for l in open(opts.resume)]
    os.makedirs(os.path.dirname(runner.raw), exist_ok=True)
    open(runner.raw, "w").close()
    for r in old_rows:
        runner.record(r)
    done_fan, done_lat = runs_in(old_rows)
    lat_dur = 4 if opts.quick else 15
    mem_n = 2000 if opts.quick else 10000
    fan = _fanout(runner, opts, done_fan)
    lat = _latency(runner, opts, fan, done_lat, lat_dur)
    mem = _memory(runner, opts, mem_n)
    setup = _setup(runner, opts)
    store = _store(runner)
    shape = Shape(reps=opts.reps, mem_n=mem_n, lat_reps=opts.lat_reps, lat_dur=lat_dur,
                  setup_reps=opts.setup_reps, steal=runner.steal.summary())
    write_report(opts.out, render(runner.cfg, Results(fan, lat, mem, setup, store, runner.rows), shape))
    return 0
