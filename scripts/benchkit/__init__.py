"""benchkit: the benchmark suite behind scripts/bench.

  config.py       Config: where the project, the build and the raw rows are
  runner.py       processes, CPU pinning, /proc readings; Runner runs chat-bench once
  contestants.py  the registry of contestants: which servers each starts, which flags
  suite.py        the full run: fan-out, latency, memory, setup, store
  figures.py      figures from raw rows: medians, saturation, the runs in a raw file
  report.py       the report: tables, targets, writing docs/benchmarks.md, --render
  smoke.py        the short sanity run (--smoke)
  flood.py        --flood: floods against a well-behaved client, one table
  flood_probe.py  the well-behaved client (a process of its own)
  flood_attacks.py  the attackers (a process per flood)
  flood_wire.py   raw HTTP/1.1 and WebSocket framing for the two above
  cli.py          the command line

Nothing here keeps state at module level: a Config and a Runner are passed along.
"""
