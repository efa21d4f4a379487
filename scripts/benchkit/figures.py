"""Figures from raw rows: medians, the saturation of a fan-out search, the runs in a
raw file, and how numbers are written in the report. Pure functions."""
import statistics

from .contestants import SHARED_SOCKETIO


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def col(rows, key):
    """The median of `key` over the rows that are there (a failed run is None)."""
    return median([r.get(key) for r in rows if r])


def ratio(a, b):
    return a / b if a and b else None


def fmt(x, digits=0):
    if x is None:
        return "—"
    if digits == 0:
        return "{:,.0f}".format(x)
    return ("{:,.%df}" % digits).format(x)


def rates_for(n, deliveries):
    """chat-bench --rates for N subscribers: the messages/s that give `deliveries`/s."""
    return ",".join("%g" % max(0.5, d / n) for d in deliveries)


def saturation(rows):
    """The last step of a fanout run that passed with a valid generator (below ~90% of its
    core). If a later step had the generator above that, the search ended at the
    generator's limit, not the server's, and the copy returned says so (generator_bound)."""
    valid = [i for i, r in enumerate(rows)
             if r.get("ok") and r.get("valid", True) and "deliveries_per_s" in r]
    if not valid:
        return None
    last = dict(rows[valid[-1]])
    last["generator_bound"] = any(not r.get("valid", True) for r in rows[valid[-1] + 1:])
    return last


def saturations(runs_by_contestant):
    """{contestant: [saturation of each fan-out run]} from {contestant: [rows of each run]}."""
    return {c: [saturation(rows) for rows in runs] for c, runs in runs_by_contestant.items()}


def runs_in(rows):
    """The fan-out and latency runs in a raw file, as lists of each run's rows:
    ({(n, senders): {contestant: [rows, ...]}}, {n: {contestant: [rows, ...]}})."""
    fan, lat = {}, {}
    for r in rows:
        sc = r.get("scenario")
        if "step" not in r or sc not in ("fanout", "latency"):
            continue
        if sc == "fanout":
            runs = fan.setdefault((r["subscribers"], r["senders"]), {}).setdefault(r["contestant"], [])
        else:
            runs = lat.setdefault(r["subscribers"], {}).setdefault(r["contestant"], [])
        if r["step"] == 0 or not runs:
            runs.append([])
        runs[-1].append(r)
    return fan, lat


def socketio_p99(lat_by_contestant):
    """(p99, row) of socket.io's better latency row: off the generator's CPU (like ours) or
    on every CPU (where its helper threads have a CPU of their own)."""
    return min(((col(lat_by_contestant.get(c, []), "p99_ms"), c) for c in ("socketio", SHARED_SOCKETIO)),
               key=lambda x: x[0] if x[0] is not None else float("inf"))
