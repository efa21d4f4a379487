"""Running things: server processes (optionally pinned to CPUs), the CPUs the
generator and the servers get, the machine's steal time from /proc/stat, and
Runner, which runs chat-bench once against a fresh start of a contestant and
records its rows."""
import dataclasses
import json
import os
import signal
import subprocess
import tempfile
import time

from .config import log

# Scenarios whose servers keep off the generator's CPU: see docs/benchmarks.md,
# "Latency runs keep the servers off the generator's CPU". Fan-out, memory and setup
# runs keep every CPU for the servers (saturation is what they look for).
ISOLATED_SCENARIOS = ("latency",)


class Proc:
    """A server process, started and waited for until it prints `ready_prefix` and
    its address; stop() ends it (SIGTERM, then SIGKILL after 10 s)."""

    def __init__(self, argv, ready_prefix, cwd=None, cpus=None, then=None):
        """cpus: the CPUs the process (and every thread it starts) may use; None: all.
        then: a further line to wait for after the address (a node that serves later)."""
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd,
                                  preexec_fn=pin)
        deadline = time.time() + 30
        self.addr = None
        while time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            if line.startswith(ready_prefix):
                self.addr = line[len(ready_prefix):].strip()
                break
        while self.addr and then and time.time() < deadline:
            line = self.p.stdout.readline()
            if not line or line.startswith(then):
                then = None if line else then
                break
        if not self.addr or then:
            self.stop()
            raise RuntimeError("%s did not start" % argv[0])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Servers:
    """The server processes of one run of one contestant, all on the same CPUs, with a
    temporary folder for their files; stop() ends them, last started first."""

    def __init__(self, cfg, cpus=None, postgres=None):
        self.cfg = cfg
        self.cpus = cpus  # the CPUs its processes may use (None: all)
        self.postgres = postgres  # the run's postgres.Postgres (None: none)
        self.procs = []
        self.extra_pids = []  # processes it uses but did not start (the database server)
        self._tmp = tempfile.TemporaryDirectory(prefix="chat-bench-")
        self.tmp = self._tmp.name

    def launch(self, argv, ready_prefix, cwd=None, then=None):
        proc = Proc(argv, ready_prefix, cwd=cwd, cpus=self.cpus, then=then)
        self.procs.append(proc)
        return proc

    @property
    def pids(self):
        return [p.p.pid for p in self.procs] + self.extra_pids

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def cpu_list(cpus):
    """A CPU set as raw rows record it: "0,2", or "all" for None."""
    return ",".join(map(str, sorted(cpus))) if cpus else "all"


def generator_cpus():
    """The CPU the generator is pinned to: the last one this process may use (none
    when it may use only one)."""
    allowed = allowed_cpus()
    return str(allowed[-1]) if len(allowed) >= 2 else ""


def server_cpus(scenario):
    """The CPUs the servers of a run of `scenario` may use: None (every one) unless the
    scenario is isolated and there is a CPU besides the generator's."""
    gen = generator_cpus()
    if scenario not in ISOLATED_SCENARIOS or not gen:
        return None
    return set(allowed_cpus()) - {int(gen)}


def contestant_cpus(contestant, scenario):
    """server_cpus(scenario), except for a contestant that keeps every CPU (a reference row)."""
    return server_cpus(scenario) if contestant.isolated else None


def cpu_ticks():
    """(steal, total) clock ticks of the machine so far, from /proc/stat's cpu line; (0, 0)
    where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    return (v[7] if len(v) > 7 else 0), sum(v[:8])


@dataclasses.dataclass
class Steal:
    """The hypervisor's share of the machine's CPU time over a suite's runs: measured
    (from /proc/stat's ticks around each run) or, for a report written again from raw
    rows, the mean of the rows' steal_pct (from_rows)."""
    share: float = 0.0
    worst: tuple = None  # (percent, "contestant scenario") of the worst single run
    from_rows: bool = False

    @classmethod
    def of_rows(cls, rows):
        steals = [(r["steal_pct"], "%s %s" % (r.get("contestant"), r.get("scenario"))) for r in rows
                  if "steal_pct" in r]
        if not steals:
            return cls()
        return cls(share=sum(p for p, _ in steals) / len(steals), worst=max(steals), from_rows=True)


class StealMeter:
    """Adds up steal and total ticks over the runs of a suite."""

    def __init__(self):
        self.steal = 0
        self.total = 0
        self.worst = None

    def add(self, steal, total, what):
        """One run's ticks; returns its steal share in percent."""
        pct = 100.0 * steal / total if total > 0 else 0.0
        self.steal += steal
        self.total += total
        if self.worst is None or pct > self.worst[0]:
            self.worst = (pct, what)
        return pct

    def summary(self):
        return Steal(share=100.0 * self.steal / self.total if self.total else 0.0, worst=self.worst)


def rotations(items, reps):
    """Each repetition's order, rotated by one each time (A B C, B C A, ...)."""
    for r in range(reps):
        k = r % len(items)
        yield r, items[k:] + items[:k]


class Runner:
    """Runs chat-bench against fresh starts of the contestants of `registry` ({name:
    Contestant}) and keeps every row: in `rows`, and appended to the file `raw` as they
    come (None: no file), so a crash keeps what was measured."""

    def __init__(self, cfg, registry, raw=None):
        self.cfg = cfg
        self.registry = registry
        self.raw = raw
        self.postgres = None  # set for the cluster contestants
        self.rows = []
        self.steal = StealMeter()

    def record(self, row):
        self.rows.append(row)
        if self.raw:
            with open(self.raw, "a") as f:
                f.write(json.dumps(row) + "\n")

    def contestant(self, name):
        try:
            return self.registry[name]
        except KeyError:
            raise ValueError(name)

    def start(self, name, scenario, layout=None):
        """Starts contestant `name`'s servers as a run of `scenario` would, on the CPUs
        that scenario `layout` (default: `scenario`) gives servers: (Servers, address)."""
        contestant = self.contestant(name)
        servers = Servers(self.cfg, contestant_cpus(contestant, layout or scenario), self.postgres)
        try:
            return servers, contestant.start(servers)
        except BaseException:
            servers.stop()
            raise

    def run_bench(self, name, scenario, timeout=900, layout=None, **kw):
        """Rows of one chat-bench run; [] (and a recorded timed_out row) if it overruns. Each
        row carries steal_pct: the share of the machine's CPU time the hypervisor took during
        the run, and server_cpus: the CPUs its servers had (those of scenario `layout`, if
        given: a fan-out search on a latency run's CPUs)."""
        contestant = self.contestant(name)
        kw = dict(kw, **contestant.bench_flags)
        servers, addr = self.start(name, scenario, layout)
        if isinstance(addr, tuple):  # (address, flags only known once started)
            addr, started_flags = addr
            kw.update(started_flags)
        steal0, total0 = cpu_ticks()
        try:
            argv = [self.cfg.bench, "--target=" + contestant.target, "--addr=" + addr, "--scenario=" + scenario,
                    "--pids=" + ",".join(map(str, servers.pids)), "--label=" + name,
                    "--cpus=" + generator_cpus()]
            for k, v in kw.items():
                argv.append("--%s=%s" % (k, v))
            try:
                out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     timeout=timeout)
            except subprocess.TimeoutExpired:
                log("  %s %s: did not finish in %d s" % (name, scenario, timeout))
                self.record(dict(kw, contestant=name, scenario=scenario, timed_out=timeout))
                return []
            rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
            steal1, total1 = cpu_ticks()
            pct = self.steal.add(steal1 - steal0, total1 - total0, "%s %s" % (name, scenario))
            for r in rows:
                r["contestant"] = name
                r["steal_pct"] = round(pct, 1)
                r["server_cpus"] = cpu_list(servers.cpus)
                self.record(r)
            return rows
        finally:
            servers.stop()
