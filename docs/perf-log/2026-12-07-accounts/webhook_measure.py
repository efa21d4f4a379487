import json, os, sys, time, statistics, tempfile, http.client
sys.path.insert(0, "/work/main/tests/testing")
from ws_stack import Stack  # noqa
import chat_procs

def run(core_flags, n, label, bridge_flags=()):
    tmp = tempfile.mkdtemp()
    st = Stack("/work/main/build", core_flags=core_flags, bridge_flags=bridge_flags, tmp=tmp)
    try:
        cookie = st.login("olga")
        hdr = {"Origin": st.origin, "Cookie": cookie}
        s, t, _ = chat_procs.http(st.port, "POST", "/api/account/CreateBot", {"name": "ci-bot"}, hdr)
        assert s == 200, t
        s, t, _ = chat_procs.http(st.port, "POST", "/api/account/CreateWebhook", {"room": "lobby", "bot": "ci-bot", "name": "m"}, hdr)
        assert s == 200, t
        hook = json.loads(t)
        conn = http.client.HTTPConnection("127.0.0.1", st.port)
        lat, codes = [], {}
        t0 = time.time()
        for i in range(n):
            body = json.dumps({"text": "post %d" % i})
            a = time.perf_counter()
            conn.request("POST", "/api/hooks/" + hook["webhook"]["id"], body,
                         {"Content-Type": "application/json", "X-Chat-Webhook-Secret": hook["secret"]})
            r = conn.getresponse(); r.read()
            lat.append((time.perf_counter() - a) * 1000)
            codes[r.status] = codes.get(r.status, 0) + 1
        wall = time.time() - t0
        lat.sort()
        print("%s: %d posts in %.2f s; statuses %s; latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f" % (
            label, n, wall, codes, lat[len(lat)//2], lat[int(len(lat)*.9)], lat[int(len(lat)*.99)], lat[-1]))
    finally:
        st.core.kill(); st.bridge.kill()

run(["--webhook_posts_per_second=1000", "--webhook_burst=1000"], 500, "unlimited hook", ["--webhook_posts_per_10s_per_ip=0"])
run([], 30, "default limits (1/s, burst 10)")
