"""The report: docs/benchmarks.md's tables of the latest run, the targets, and
writing them into the report file between its markers (the hand-written rest of
the file is kept); --render writes them again from a finished run's raw rows."""
import dataclasses
import datetime
import json
import os
import platform

from .config import log
from .contestants import GRPC_BATCH, SHARED_SOCKETIO
from .figures import col, fmt, ratio, runs_in, saturations, socketio_p99
from .runner import Steal

# The generated part of the report file sits between these two lines; what is
# outside them is hand-written and kept by every run.
BEGIN = "<!-- latest run: written by scripts/bench from here to the end marker; edit outside -->"
END = "<!-- end of the latest run -->"
# Older report files: the generated part is everything before this line.
LEGACY = "<!-- analysis: kept by scripts/bench -->"

TITLE = "## The latest run"


@dataclasses.dataclass
class Results:
    """What a suite measured, as the report uses it."""
    fan: dict    # {(n, senders): {contestant: [saturation row of each search]}}
    lat: dict    # {n: {"rate": msgs/s, contestant: [last row of each run]}}
    mem: dict    # {contestant: [row of each run]}
    setup: dict  # {layout: {contestant: [row of each run]}}
    store: list  # store-bench rows
    rows: list   # every raw row of the suite


@dataclasses.dataclass
class Shape:
    """How the suite ran: repetitions, sizes, durations, steal."""
    reps: int
    mem_n: int
    lat_reps: int
    lat_dur: int
    setup_reps: int
    steal: Steal


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%d cores (%s), %.0f GiB RAM, Linux %s" % (
        os.cpu_count(), model or platform.processor(),
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, platform.release())


def socketio_version(cfg):
    try:
        with open(os.path.join(cfg.root, "tests/load/peers/socketio/node_modules/socket.io/package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return "?"


def _header(w, cfg, shape):
    steal = shape.steal
    w("Measured by `scripts/bench` (the load generator is `build/tests/load/chat-bench`; the reference "
      "servers are `tests/load/peers/socketio/server.js` — socket.io %s, the classic tutorial's "
      "`io.to(room).emit`, defaults untouched — and `build/tests/load/floor-server`, a single-threaded "
      "epoll WebSocket fan-out that encodes each message once, writing once per delivery (`floor-direct`) "
      "or coalescing each connection's frames into one write per loop pass (`floor-coalesce`)).\n"
      % socketio_version(cfg))
    w("- Machine: %s. Date: %s." % (machine(), datetime.date.today().isoformat()))
    if steal.worst is not None:
        w("- CPU time taken by the hypervisor (steal, from `/proc/stat`) during this suite's runs: %.1f%% of "
          "the machine's%s; the worst single run %.1f%% (%s). Each raw row has its run's `steal_pct`; a busy host "
          "slows the contestants unevenly, so compare runs with little steal." % (
              steal.share, " (the mean of the raw rows' `steal_pct`)" if steal.from_rows else "",
              steal.worst[0], steal.worst[1]))
    w("- Each figure is the median of %d repetitions; contestants ran interleaved (A B C, B C A, …) in fresh "
      "processes, so every ratio comes from one run of the suite. The N = 10,000 fan-out runs once and "
      "without socket.io (10,000 socket.io clients joining one room cost it 50 million \"user joined\" "
      "deliveries, more than 10 minutes here, before the first step)." % shape.reps)
    w("- Latency runs: %d repetitions of %d s each per contestant (a p99 over a few seconds moves with this "
      "VM's hiccups and socket.io's garbage collections; more and longer runs steady the medians)."
      % (shape.lat_reps, shape.lat_dur))
    w("- Setup runs: %d repetitions (2,000 setups through the bridge take under a second, so one hiccup of "
      "this VM moves a run's rate)." % shape.setup_reps)
    w("- CPUs: the generator is pinned to the last CPU it may use (if pinning fails, chat-bench warns and runs "
      "unpinned). In fan-out, memory and setup runs the servers may use every CPU; in latency runs they may "
      "use every CPU but the generator's (each raw row has its `server_cpus`). Unpinned, the scheduler moves "
      "the generator's threads onto the core of a single-threaded server (socket.io, floor), and a server "
      "thread woken on the generator's CPU waits behind it for up to a scheduler tick (4 ms): the latency "
      "figures would measure that contention more than the server.")
    w("- Clients: WebSocket clients speak raw RFC 6455 on epoll; gRPC clients are the generator's own HTTP/2 "
      "client (one connection and one Connect stream each, on epoll; `tests/load/h2_client.h`), because the gRPC "
      "C++ library needs most of a core to receive 25,000 messages a second over 1,000 channels. Senders run "
      "on their own loop and wake on a timerfd at each message's scheduled time. `grpc` clients connect as any "
      "client does; `grpc-batch` clients are the same but send `x-chat-batch: %d`, so that what queues up for "
      "them while chat-core is busy leaves in batches of up to %d events per gRPC message (docs/protocol.md)."
      % (GRPC_BATCH, GRPC_BATCH))
    w("- Messages are 64-byte texts; one room; every subscriber must get every message. A fan-out step passes "
      "with zero loss, zero out-of-order, zero disconnects and p99 < 1 s; *saturation* is the highest passing "
      "step with the generator below 90% of its core (a step above that measures the generator). Rates go "
      "up in half-doublings (×1.41) of deliveries/s, from 25,000 to 1.6 million.")
    w("- Server CPU is read from `/proc/<pid>/stat` of every server process (bridge **plus** chat-core for the "
      "bridge path). Latency is measured from each message's scheduled send time (no coordinated omission).")
    w("- Benchmark settings: chat-core runs with `--allow_guests` (the generator uses guest identities, as the "
      "socket.io server has no accounts) and a larger per-stream queue; ws-bridge with the per-socket rate limit "
      "lifted (`--events_per_second=1000000`), since one sender sends thousands of messages per second.\n")


def _fanout(w, fan):
    w("## Fan-out: saturation and efficiency\n")
    w("| N subscribers | senders | contestant | deliveries/s at saturation | server CPU (cores) | "
      "deliveries per server CPU-s | p99 at saturation (ms) | generator CPU |")
    w("|---|---|---|---|---|---|---|---|")
    bound_any = False
    for (n, s), by in fan.items():
        for c, rows in by.items():
            bound = sum(1 for r in rows if r and r.get("generator_bound"))
            bound_any = bound_any or bound > 0
            w("| %s | %d | %s | %s%s | %s | %s | %s | %s |" % (
                fmt(n), s, c, fmt(col(rows, "deliveries_per_s")),
                " (generator-bound in %d of %d)" % (bound, len(rows)) if bound else "",
                fmt(col(rows, "server_cpu_util"), 2),
                fmt(col(rows, "deliveries_per_server_cpu_s")), fmt(col(rows, "p99_ms"), 1),
                fmt(col(rows, "gen_cpu_util"), 2)))
    w("")
    if bound_any:
        w("*Generator-bound*: in that many searches, the steps above the one shown had the generator above "
          "90% of its core, so they do not count; the figure is this generator's limit on this machine, and "
          "the server's saturation is at least that.\n")


def _latency(w, lat):
    w("## Latency at the same offered load (50% of socket.io's saturation)\n")
    w("Every delivery counts in p50–max. *First delivery* is, per message, the latency of the receiver it "
      "reached soonest: the server's own path, without the time to write and read N sockets. *At the socket* "
      "ends each delivery at the kernel's receive timestamp (`SO_TIMESTAMPNS`) instead of the generator's "
      "read: the difference is the generator's own delay. *Send lag* is how late the sender's write returned "
      "against the schedule (it is in every figure, as latency counts from the scheduled time).\n")
    w("| N | offered msgs/s | contestant | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | first delivery p50 / p99 (ms) "
      "| p50 / p99 at the socket (ms) | send lag p50 / p99 (ms) | deliveries per server CPU-s | lost |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, by in lat.items():
        for c, rows in by.items():
            if c == "rate":
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s |" % (
                fmt(n), fmt(by["rate"], 1), c, fmt(col(rows, "p50_ms"), 2), fmt(col(rows, "p90_ms"), 2),
                fmt(col(rows, "p99_ms"), 2), fmt(col(rows, "max_ms"), 1),
                fmt(col(rows, "first_p50_ms"), 2), fmt(col(rows, "first_p99_ms"), 2),
                fmt(col(rows, "arrival_p50_ms"), 2), fmt(col(rows, "arrival_p99_ms"), 2),
                fmt(col(rows, "send_lag_p50_ms"), 2), fmt(col(rows, "send_lag_p99_ms"), 2),
                fmt(col(rows, "deliveries_per_server_cpu_s")), fmt(col(rows, "lost"))))
    w("")


def _memory_setup_store(w, res, shape):
    w("## Memory per idle connection (%s clients joined in rooms of 100, fresh processes)\n" % fmt(shape.mem_n))
    w("Server RSS and PSS after all clients joined and idled 5 s, minus before, divided by the clients "
      "(bridge **plus** chat-core for the bridge path).\n")
    w("| contestant | RSS delta per connection (KB) | PSS delta per connection (KB) |")
    w("|---|---|---|")
    for c, rows in res.mem.items():
        w("| %s | %s | %s |" % (c, fmt(col(rows, "rss_per_conn_kb"), 2), fmt(col(rows, "pss_per_conn_kb"), 2)))
    w("")

    w("## Connection setup (connect → joined, 64 in flight, 2,000 clients)\n")
    w("In rooms of 100, every contestant announces each join to the room. In one room, socket.io announces "
      "each of the 2,000 joins to everyone present, while chat-core stops announcing joins past "
      "`--presence_limit` (200 users), so that row mostly measures that difference.\n")
    w("| layout | contestant | setups/s | p50 (ms) | p99 (ms) |")
    w("|---|---|---|---|---|")
    for layout, by in res.setup.items():
        for c, rows in by.items():
            w("| %s | %s | %s | %s | %s |" % (layout, c, fmt(col(rows, "setups_per_s")),
                                             fmt(col(rows, "setup_p50_ms"), 2), fmt(col(rows, "setup_p99_ms"), 2)))
    w("")

    if res.store:
        w("## Store: messages made durable per second (store-bench, 64-byte messages, 4 producers)\n")
        w("| synchronous | rooms | messages | messages/s |")
        w("|---|---|---|---|")
        for r in res.store:
            w("| %s | %s | %s | %s |" % (r["synchronous"], fmt(r["rooms"]), fmt(r["messages"]), fmt(r["messages_per_s"])))
        w("")


def _targets(w, res, shape):
    """The issue's targets, each with what was measured and whether it is met."""
    fan, lat, mem, setup = res.fan, res.lat, res.mem, res.setup
    w("## Targets\n")
    w("| target | measured | met |")
    w("|---|---|---|")

    def row(name, value, ok):
        w("| %s | %s | %s |" % (name, value, "yes" if ok else "**no**"))

    f1000 = fan.get((1000, 1), {})
    so = col(f1000.get("socketio", []), "deliveries_per_server_cpu_s")
    br = col(f1000.get("bridge", []), "deliveries_per_server_cpu_s")
    r = ratio(br, so)
    row("bridge deliveries per (bridge+core) CPU-s ≥ 3× socket.io (N=1,000)", "%s× (%s vs %s)" % (
        fmt(r, 2), fmt(br), fmt(so)), r is not None and r >= 3)
    for c, how in (("grpc-batch", "clients asking for batches"), ("grpc", "plain clients")):
        if c not in f1000:
            continue
        gr = col(f1000[c], "deliveries_per_server_cpu_s")
        r = ratio(gr, so)
        row("direct gRPC deliveries per core CPU-s ≥ socket.io (N=1,000, %s)" % how, "%s× (%s vs %s)" % (
            fmt(r, 2), fmt(gr), fmt(so)), r is not None and r >= 1)
    for n, by in lat.items():
        sp, which = socketio_p99(by)
        for c in ("bridge", "grpc", "grpc-batch"):
            if c not in by:
                continue
            cp = col(by.get(c, []), "p99_ms")
            r = ratio(cp, sp)
            row("p99 latency %s ≤ 0.5× socket.io (N=%s)" % (c, fmt(n)), "%s× (%s ms vs %s ms, %s)" % (
                fmt(r, 2), fmt(cp, 2), fmt(sp, 2), which), r is not None and r <= 0.5)
    mb = col(mem.get("bridge", []), "rss_per_conn_kb")
    ms = col(mem.get("socketio", []), "rss_per_conn_kb")
    mg = col(mem.get("grpc", []), "rss_per_conn_kb")
    row("memory per idle browser connection ≤ 8 KB and ≤ ½ socket.io (%s clients)" % fmt(shape.mem_n),
        "%s KB vs %s KB (%s×)" % (fmt(mb, 2), fmt(ms, 2), fmt(ratio(mb, ms), 2)),
        mb is not None and ms is not None and mb <= 8 and mb <= ms / 2)
    row("memory per idle gRPC client ≤ 25 KB (%s clients)" % fmt(shape.mem_n), "%s KB" % fmt(mg, 2),
        mg is not None and mg <= 25)
    for layout, by in setup.items():
        sb = col(by.get("bridge", []), "setups_per_s")
        ss = col(by.get("socketio", []), "setups_per_s")
        r = ratio(sb, ss)
        row("connection setup through the bridge ≥ 5× socket.io (%s)" % layout,
            "%s× (%s/s vs %s/s)" % (fmt(r, 2), fmt(sb), fmt(ss)), r is not None and r >= 5)
    losses = sum(1 for x in res.rows if x.get("lost", 0) and x.get("ok"))
    ooo = sum(x.get("out_of_order", 0) for x in res.rows)
    row("zero lost and zero out-of-order deliveries in every passing step", "%d lossy passing steps, %d out-of-order" % (
        losses, ooo), losses == 0 and ooo == 0)
    w("")


def _references(w, lat):
    """The floor server's and socket.io-on-every-CPU's p99, for scale."""
    floor_refs = []
    for n, by in lat.items():
        sp, _ = socketio_p99(by)
        fp = col(by.get("floor-direct", []), "p99_ms")
        if sp and fp:
            floor_refs.append("%s× at N = %s (%s ms)" % (fmt(fp / sp, 2), fmt(n), fmt(fp, 2)))
    shared_refs = []
    for n, by in lat.items():
        sh = col(by.get(SHARED_SOCKETIO, []), "p99_ms")
        if not sh:
            continue
        ours = ", ".join("%s %s×" % (c, fmt(ratio(col(by[c], "p99_ms"), sh), 2))
                         for c in ("bridge", "grpc", "grpc-batch") if c in by)
        shared_refs.append("N = %s: %s ms (ours against it: %s)" % (fmt(n), fmt(sh, 2), ours))
    if floor_refs:
        w("For reference, the floor server's p99 latency (one thread, no storage, no hops) against socket.io's on "
          "the same run: %s." % "; ".join(floor_refs))
        w("")
    if shared_refs:
        w("socket.io allowed every CPU, the generator's too (`%s`, a reference row; the latency targets compare "
          "against the lower p99 of socket.io's two rows): p99 %s." % (SHARED_SOCKETIO, "; ".join(shared_refs)))
        w("")


def render(cfg, res, shape, title=TITLE):
    """The generated part of the report: the method, every table, the targets."""
    out = []
    w = out.append
    w(title + "\n")
    _header(w, cfg, shape)
    _fanout(w, res.fan)
    _latency(w, res.lat)
    _memory_setup_store(w, res, shape)
    _targets(w, res, shape)
    _references(w, res.lat)
    w("Raw results (one JSON line per step): `%s`." % os.path.relpath(cfg.default_raw, cfg.root))
    return "\n".join(out) + "\n"


def merge(old, tables):
    """The report file with `tables` as its generated part. In a file with both
    markers, what is outside them stays; in an older file with only LEGACY, what
    follows LEGACY stays, after the tables; otherwise the tables are the file.
    ValueError if the file has one marker without the other (or END first), rather
    than overwrite its hand-written parts."""
    b, e = old.find(BEGIN), old.find(END)
    if 0 <= b < e:
        return old[:b] + BEGIN + "\n" + tables + END + old[e + len(END):]
    if b >= 0 or e >= 0:
        raise ValueError("it has a begin marker without an end marker after it" if b >= 0
                         else "it has an end marker without a begin marker before it")
    if LEGACY in old:
        return tables + "\n" + LEGACY + old.split(LEGACY, 1)[1]
    return tables


def report_problem(path):
    """Why the tables cannot be written into the report file at `path` (None: they can)."""
    try:
        with open(path) as f:
            merge(f.read(), "")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        return "cannot write the report into %s: %s" % (path, e)
    return None


def write_report(path, tables, echo=True):
    """Writes the tables into the report file at `path`, keeping its hand-written parts
    (ValueError, and nothing written, if its markers are broken: see merge)."""
    report = tables
    if os.path.exists(path):
        with open(path) as f:
            report = merge(f.read(), tables)
    with open(path, "w") as f:
        f.write(report)
    if echo:
        print(report)


def render_raw(cfg, raw, out, reps, quick, echo=True):
    """--render: the report of a finished full run, from its raw rows alone. 0 done; 1 not
    a full run's rows; 2 unreadable (the report is untouched then)."""
    try:
        with open(raw) as f:
            rows = [json.loads(l) for l in f if l.strip()]
    except (OSError, ValueError) as e:
        log("cannot read raw rows from %s: %s" % (raw, e))
        return 2
    problem = report_problem(out)
    if problem:
        log(problem)
        return 2
    done_fan, done_lat = runs_in(rows)
    if not done_fan or not done_lat:
        log("%s has no fan-out or no latency runs: not the raw file of a full run" % raw)
        return 1
    fan = {k: saturations(by) for k, by in done_fan.items()}
    lat = {}
    for n, by in done_lat.items():
        lat[n] = {"rate": by[next(iter(by))][0][-1]["offered_msgs_per_s"]}
        for c, runs in by.items():
            lat[n][c] = [r[-1] for r in runs]
    mem, setup = {}, {}
    for r in rows:
        if r.get("scenario") == "memory":
            mem.setdefault(r["contestant"], []).append(r)
        elif r.get("scenario") == "setup":
            layout = "one room" if r.get("rooms") == 1 else "rooms of 100"
            setup.setdefault(layout, {}).setdefault(r["contestant"], []).append(r)
    store = [r for r in rows if r.get("bench") == "store"]
    shape = Shape(reps=reps,
                  mem_n=max((r.get("connections", 0) for rs in mem.values() for r in rs), default=0),
                  lat_reps=max(len(runs) for by in done_lat.values() for runs in by.values()),
                  lat_dur=4 if quick else 15,
                  setup_reps=max((len(rs) for by in setup.values() for rs in by.values()), default=0),
                  # The header's steal line, from the rows (the suite's own tick counts are not in them).
                  steal=Steal.of_rows(rows))
    write_report(out, render(cfg, Results(fan, lat, mem, setup, store, rows), shape), echo)
    return 0
