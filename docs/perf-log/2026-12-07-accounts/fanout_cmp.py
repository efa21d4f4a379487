import json, os, subprocess, sys, tempfile, time
sys.path.insert(0, "/work/main/tests/testing")
from ws_stack import Stack

BUILDS = {"OLD": "/work/wt-old/build", "NEW": "/work/main/build"}
BENCH = "/work/main/build/tests/load/chat-bench"
rows = []
for slot, b in enumerate(["OLD", "NEW", "NEW", "OLD", "OLD", "NEW"]):
    tmp = tempfile.mkdtemp()
    st = Stack(BUILDS[b], tmp=tmp, core_flags=["--allow_guests", "--log_level=warning", "--stream_queue_events=65536"],
               bridge_flags=["--log_level=warning", "--events_per_second=1000000", "--event_burst=1000000",
                             "--max_connections=100000", "--max_queued_events=65536", "--max_queued_bytes=67108864"])
    try:
        pids = "%d,%d" % (st.core.pid, st.bridge.pid)
        out = subprocess.run([BENCH, "--target=bridge", "--addr=127.0.0.1:%d" % st.port, "--scenario=fanout",
                              "--subscribers=1000", "--senders=1", "--rates=100,200,300", "--duration=4",
                              "--pids=" + pids, "--cpus=1", "--label=%s" % b],
                             capture_output=True, text=True, timeout=300)
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line); r["build"] = b; r["slot"] = slot; rows.append(r)
                print(b, slot, json.dumps({k: r.get(k) for k in ("offered_msgs_per_s", "ok", "deliveries_per_s", "p50_ms", "p99_ms", "deliveries_per_server_cpu_s", "lost")}), flush=True)
        if out.returncode != 0:
            print(b, slot, "exit", out.returncode, out.stderr[-500:], flush=True)
    finally:
        st.core.kill(); st.bridge.kill(); st.core.wait(); st.bridge.wait()
json.dump(rows, open("/tmp/m29/fanout_rows.json", "w"))
