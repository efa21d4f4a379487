"""scripts/bench's command line."""
import argparse

from . import cluster, contestants, flood, report, slow_consumer, smoke, soak, suite
from .config import Config, log
from .runner import Runner

USAGE = """\
chat-bench suite: measures fan-out, latency, memory and connection setup of
chat-core (direct gRPC and through ws-bridge) against the classic socket.io chat
server and a minimal "floor" server, on this machine, and writes the medians and
ratios into docs/benchmarks.md (between its markers; the rest of it is kept).

  scripts/bench                    the standard suite (about an hour)
  scripts/bench --reps 1 --quick   a shorter suite
  scripts/bench --cluster          several nodes on PostgreSQL (about 15 minutes):
                                   store-bench, deliveries per CPU-s, same- against
                                   cross-node latency (docs/scaling.md)
  scripts/bench --smoke            a <60 s sanity run (part of the tests); writes nothing
  scripts/bench --flood            floods against a well-behaved client (about 3 minutes):
                                   its p99 under each flood against its quiet p99
  scripts/bench --render RAW       the report again from a finished run's raw rows
  scripts/bench --slow-consumer    50 readers, one stops reading (about 2 minutes): cut off
                                   at its bound? the other 49's p99 against the run without it
  scripts/bench --soak [--minutes 30]
                                   a long mixed load: RSS drift after warm-up and file
                                   descriptors of chat-core and ws-bridge (not in the tests)

Contestants run interleaved (A B C, B C A, ...) in fresh processes, so every
comparison is a ratio measured in one run. Every server may use the whole
machine; the load generator (build/tests/load/chat-bench) is pinned to the last
CPU (so it cannot migrate onto a single-threaded server's core) and reports its
own CPU (a step where it used more than 90% of a core is marked invalid).
docs/benchmarks.md says how to read the report.
"""


def positive_int(text):
    """argparse type: an integer of at least 1 (0 would run nothing and report empty rows)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %d" % value)
    return value


def parser(cfg):
    ap = argparse.ArgumentParser(prog="bench", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=positive_int, default=3,
                    help="repetitions of each fan-out and memory run")
    ap.add_argument("--lat_reps", type=positive_int, default=5,
                    help="repetitions of each latency run (a p99 over seconds of load moves with this VM's "
                         "hiccups; more and longer runs steady the medians)")
    ap.add_argument("--setup_reps", type=positive_int, default=5,
                    help="repetitions of each setup run (2,000 setups through the bridge take under a "
                         "second, so one hiccup moves a run's rate; more runs steady the medians)")
    ap.add_argument("--cluster", action="store_true",
                    help="only the several-nodes-on-PostgreSQL section (raw rows: build/bench-cluster.jsonl)")
    ap.add_argument("--smoke", action="store_true", help="a short sanity run that writes nothing")
    ap.add_argument("--quick", action="store_true",
                    help="shorter steps and latency runs, 2,000 memory clients, no N = 10,000 fan-out")
    ap.add_argument("--out", default=cfg.default_report,
                    help="the report file (default docs/benchmarks.md); its hand-written parts are kept")
    ap.add_argument("--raw", default=cfg.default_raw,
                    help="where the raw rows go, one JSON line per step (default build/bench-results.jsonl)")
    ap.add_argument("--render", metavar="RAW",
                    help="write the report from RAW, the raw file of a finished full run, without running "
                         "anything (after a change to how figures are chosen or shown)")
    ap.add_argument("--resume", metavar="RAW",
                    help="take the fan-out and latency runs already in RAW (a raw file of an interrupted "
                         "full run) and run only what it lacks")
    flood.add_arguments(ap)
    soak.add_arguments(ap)
    ap.add_argument("--slow-consumer", dest="slow_consumer", action="store_true",
                    help="the slow-consumer scenario through ws-bridge and over gRPC (raw rows: "
                         "build/bench-slow-consumer.jsonl)")
    ap.add_argument("--slow_reps", type=positive_int, default=3, help="--slow-consumer: runs per target")
    return ap


def main(entry, argv=None):
    """Runs scripts/bench (at `entry`) with `argv`; returns the exit code."""
    cfg = Config.from_entry(entry)
    args = parser(cfg).parse_args(argv)
    if args.flood:
        return flood.main(cfg, args)
    if args.soak:
        return soak.run(cfg, args)
    if args.slow_consumer:
        return slow_consumer.main(cfg, args)
    if args.smoke:
        return smoke.smoke(Runner(cfg, contestants.REGISTRY))
    if args.render:
        return report.render_raw(cfg, args.render, args.out, args.reps, args.quick)
    if args.cluster:
        raw = args.raw if args.raw != cfg.default_raw else cfg.default_raw.replace("results", "cluster")
        return cluster.run(Runner(cfg, contestants.REGISTRY, raw=raw), args.out, reps=args.reps,
                           lat_reps=args.lat_reps, quick=args.quick)
    problem = report.report_problem(args.out)
    if problem:  # found now, not after an hour of measuring
        log(problem)
        return 2
    opts = suite.SuiteOptions(reps=args.reps, lat_reps=args.lat_reps, setup_reps=args.setup_reps, quick=args.quick,
                              out=args.out, resume=args.resume or "")
    return suite.run(Runner(cfg, contestants.REGISTRY, raw=args.raw), opts)
