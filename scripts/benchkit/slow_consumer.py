"""scripts/bench --slow-consumer: among 50 readers of a room, one stops reading.

chat-bench --scenario=slow-consumer runs two arms on the same connections: all
50 read; then one of them (SO_RCVBUF 4 KiB, so the kernel holds little) stops
calling recv while the senders go on. The server must cut it off at its
per-connection bound and the other 49 must not notice: their p99 with the
stopped reader at most 2x their p99 without it, nothing lost. It runs through
ws-bridge (the bound: --max_queued_events / --max_queued_bytes at their
defaults, 2,048 events / 4 MiB; close 1008) and straight to chat-core over gRPC
(--stream_queue_events at its default, 4,096 events). chat-bench reads the
server's /metrics every 50 ms meanwhile, for when the server counted the close
and how long the queue got. The smoke (smoke.py) runs a short bridge arm with
smaller bounds.
"""
import json
import os
import socket
import time
import types

from .config import log
from .contestants import chat_core, ws_bridge, Contestant
from .runner import Runner

READERS = 50
SENDERS = 2
RATE = 500  # messages/s into the room: the bridge's 2,048-event bound fills in about 4 s
MAX_RATIO = 2.0
# ws-bridge's and chat-core's own defaults (docs/operations.md), written out so a
# change of default does not silently change what this measures.
BRIDGE_BOUND = ("--max_queued_events=2048", "--max_queued_bytes=4194304", "--socket_send_buffer=65536")
CORE_BOUND = ("--stream_queue_events=4096",)


def free_port():
    """A port nothing listens on now (for --metrics_listen: the servers print their
    metrics address on a line the runner does not wait for)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics_flag():
    addr = "127.0.0.1:%d" % free_port()
    return addr, "--metrics_listen=" + addr


def start_bridge(servers, bound=BRIDGE_BOUND):
    """chat-core behind ws-bridge with its slow-consumer bound and metrics; senders'
    rate limit lifted (they send hundreds of messages a second)."""
    addr, flag = _metrics_flag()
    bridge = ws_bridge(servers, [chat_core(servers).addr], *bound, flag)
    return bridge.addr, {"metrics_addr": addr}


def start_core(servers, bound=CORE_BOUND):
    addr, flag = _metrics_flag()
    return chat_core(servers, *bound, flag).addr, {"metrics_addr": addr}


REGISTRY = types.MappingProxyType({
    "slow-bridge": Contestant("slow-bridge", "bridge", start_bridge),
    "slow-grpc": Contestant("slow-grpc", "grpc", start_core),
    # The smoke's: a small bridge bound, so the cut-off comes within a second.
    "slow-bridge-small": Contestant(
        "slow-bridge-small", "bridge",
        lambda s: start_bridge(s, ("--max_queued_events=256", "--socket_send_buffer=65536"))),
})


def run_one(runner, name, duration=15, warmup=2, drain=10, rate=RATE, readers=READERS):
    """One chat-bench slow-consumer run of contestant `name`: its row, or None."""
    rows = runner.run_bench(name, "slow-consumer", timeout=300, layout="latency", subscribers=readers,
                            senders=SENDERS, rates="%g" % rate, duration=duration, warmup=warmup, drain=drain,
                            max_ratio=MAX_RATIO, close_wait=10)
    return rows[-1] if rows else None


def summary(row):
    """The row as the lines chat-bench prints on stderr."""
    if not row or "verdict" not in row:
        return "no result: %s" % row
    n = row["readers_measured"]
    lines = ["%s, %d readers, %g msg/s, one stops reading:" % (row["label"], n + 1, row["rate"]),
             "  the other %d, all reading:     p50 %.2f ms, p99 %.2f ms (lost %d)" % (
                 n, row["base_p50_ms"], row["base_p99_ms"], row["base_lost"]),
             "  the other %d, one not reading: p50 %.2f ms, p99 %.2f ms (lost %d, disconnects %d)" % (
                 n, row["slow_p50_ms"], row["slow_p99_ms"], row["slow_lost"], row["slow_disconnects"]),
             "  p99 ratio %.2f (target <= %g)" % (row["p99_ratio"], row["max_ratio"])]
    if row["server_closed_after_s"] >= 0:
        lines.append("  cut off by the server %.2f s after it stopped reading (longest queue seen %d events)" % (
            row["server_closed_after_s"], row["queue_max_seen"]))
    else:
        lines.append("  the server's metrics showed no slow-consumer close (longest queue seen %d events)" %
                     row["queue_max_seen"])
    lines.append("  reading again, its connection showed: %s" % (row["slow_end"] if row["slow_ended"] else
                                                                 "still open"))
    lines.append("%s %s" % (row["verdict"], row["label"]))
    return "\n".join(lines)


def main(cfg, args):
    """Both targets, --slow_reps times each, alternating; 0 if every run passes."""
    raw = os.path.join(cfg.build, "bench-slow-consumer.jsonl")
    runner = Runner(cfg, REGISTRY, raw=raw)
    open(raw, "w").close()
    verdicts = []
    for rep in range(args.slow_reps):
        for name in ("slow-bridge", "slow-grpc"):
            log("slow-consumer rep=%d %s" % (rep, name))
            row = run_one(runner, name)
            print(summary(row), flush=True)
            verdicts.append(bool(row) and row.get("verdict") == "PASS")
    print("slow-consumer: %d of %d runs PASS; raw rows in %s" % (sum(verdicts), len(verdicts), raw))
    return 0 if all(verdicts) else 1


def smoke(runner, failures):
    """A short run through the bridge with a 256-event bound (about 10 s): the stopped
    reader is cut off and seen to end, and the other 49 lose nothing. Its p99 ratio is
    printed but not checked (a few seconds of figures on a shared machine say little)."""
    smoke_runner = Runner(runner.cfg, REGISTRY)
    t0 = time.time()
    row = run_one(smoke_runner, "slow-bridge-small", duration=3, warmup=0.5, drain=5, rate=400)
    problems = []
    if not row or "verdict" not in row:
        failures.append(("slow-consumer", [row]))
        return
    if not row["cut_off"] or row["server_closed_after_s"] < 0:
        problems.append("the stopped reader was not cut off: %s" % json.dumps(row))
    if not row["slow_end"].startswith(("close 1008", "EOF")):
        problems.append("its connection ended with %r" % row["slow_end"])
    for arm in ("base", "slow"):
        if row["%s_lost" % arm] or row["%s_disconnects" % arm] or row["%s_sent" % arm] == 0:
            problems.append("%s arm: sent %d, lost %d, disconnects %d" % (
                arm, row["%s_sent" % arm], row["%s_lost" % arm], row["%s_disconnects" % arm]))
    if problems:
        failures.append(("slow-consumer", problems))
    else:
        log("smoke slow-consumer: p99 %.1f -> %.1f ms (x%.2f), cut off after %.2f s at a queue of %d, ended: %s "
            "(%.1f s)" % (row["base_p99_ms"], row["slow_p99_ms"], row["p99_ratio"], row["server_closed_after_s"],
                          row["queue_max_seen"], row["slow_end"], time.time() - t0))
