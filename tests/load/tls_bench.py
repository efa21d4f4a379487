#!/usr/bin/python3
"""What TLS costs ws-bridge: the same load on a plain and on a TLS bridge, one
after the other in one run, with the real binaries.

  /usr/bin/python3 tests/load/tls_bench.py --build-dir build --py-out build/tests/py [--clients 200] [--messages 400]

For each mode it starts chat-core and ws-bridge (the TLS mode: HTTPS/WSS with a
test certificate from tests/testing/make-test-certs, and mTLS to chat-core),
opens --clients WebSockets (Python `websockets`) that join one room, and reads:
  - idle memory: the bridge's RSS growth per open WebSocket;
  - fan-out: a gRPC client sends --messages messages at --rate per second; every
    socket must receive every one; the bridge's CPU time (utime+stime from
    /proc) per delivered message.
Prints a table and the TLS/plain ratios. Not a CI test (it measures, it does
not assert figures); it exits 1 only if a message is lost.
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

ARGS = None
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing"))
from chat_procs import ALLOW_ROOT, start  # noqa: E402
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


async def run_mode(tls, tmp, certs):
    import ssl
    import urllib.request
    import grpc
    import websockets
    from chat.v1 import chat_pb2, chat_pb2_grpc
    core_flags = [os.path.join(ARGS.build_dir, "chat-core/chat-core"), "--listen=127.0.0.1:0",
                  "--db=" + os.path.join(tmp, "tls.db" if tls else "plain.db"), "--pwhash_memlimit_kib=64",
                  "--pwhash_opslimit=1", "--log_level=warning", *ALLOW_ROOT]
    if tls:
        core_flags += ["--tls_cert=%s/server.pem" % certs, "--tls_key=%s/server.key" % certs,
                       "--tls_client_ca=%s/ca.pem" % certs, "--tls_client_cert_optional"]
    core, core_addr = start(core_flags, "chat-core listening on ")
    core_port = int(core_addr.rsplit(":", 1)[1])
    bridge_flags = [os.path.join(ARGS.build_dir, "ws-bridge/ws-bridge"), "--listen=127.0.0.1:0",
                    "--log_level=warning", "--max_connections=100000", "--max_connections_per_ip=0",
                    "--events_per_second=1000",
                    "--event_burst=1000", *ALLOW_ROOT]
    if tls:
        bridge_flags += ["--core=localhost:%d" % core_port, "--tls_cert=%s/server.pem" % certs,
                         "--tls_key=%s/server.key" % certs, "--core_ca=%s/ca.pem" % certs,
                         "--core_cert=%s/client.pem" % certs, "--core_key=%s/client.key" % certs]
    else:
        bridge_flags += ["--core=" + core_addr]
    bridge, addr = start(bridge_flags, "ws-bridge listening on ")
    port = int(addr.rsplit(":", 1)[1])
    scheme = "https" if tls else "http"
    ctx = ssl.create_default_context(cafile="%s/ca.pem" % certs) if tls else None
    base = "%s://localhost:%d" % (scheme, port)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2, context=ctx) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        req = urllib.request.Request(base + "/api/register", method="POST",
                                     data=json.dumps({"username": "bench", "password": "correct horse"}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            cookie = r.headers.get("Set-Cookie").split(";")[0]

        rss0 = rss_bytes(bridge.pid)
        url = "%s://localhost:%d/ws" % ("wss" if tls else "ws", port)
        sockets = []
        for i in range(ARGS.clients):
            ws = await websockets.connect(url, ssl=ctx, extra_headers={"Cookie": cookie}, max_size=None)
            await ws.send(json.dumps({"join": {"room": "lobby"}}))
            sockets.append(ws)
        for ws in sockets:  # wait for every joined
            while True:
                frame = await asyncio.wait_for(ws.recv(), 20)
                if '"joined"' in frame:
                    break
        await asyncio.sleep(1.0)
        rss1 = rss_bytes(bridge.pid)

        if tls:
            with open("%s/ca.pem" % certs, "rb") as f:
                channel = grpc.secure_channel("localhost:%d" % core_port, grpc.ssl_channel_credentials(f.read()))
        else:
            channel = grpc.insecure_channel(core_addr)
        auth = chat_pb2_grpc.AuthServiceStub(channel)
        token = auth.Login(chat_pb2.LoginRequest(username="bench", password="correct horse"), timeout=10).token
        chat = chat_pb2_grpc.ChatServiceStub(channel)
        md = [("authorization", "Bearer " + token)]
        text = "x" * ARGS.size

        received = [0] * len(sockets)

        async def reader(i, ws):
            while received[i] < ARGS.messages:
                frame = await ws.recv()
                received[i] += frame.count('"message"')

        readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
        cpu0 = cpu_seconds(bridge.pid)
        t0 = time.time()
        loop = asyncio.get_running_loop()
        for n in range(ARGS.messages):
            due = t0 + n / ARGS.rate
            if due > time.time():
                await asyncio.sleep(due - time.time())
            await loop.run_in_executor(None, lambda n=n: chat.SendMessage(
                chat_pb2.SendMessageRequest(room="lobby", text=text, client_msg_id="m%d" % n), metadata=md, timeout=10))
        try:
            await asyncio.wait_for(asyncio.gather(*readers), 60)
        except asyncio.TimeoutError:
            pass
        elapsed = time.time() - t0
        cpu = cpu_seconds(bridge.pid) - cpu0
        delivered = sum(received)
        for ws in sockets:
            await ws.close()
        return {
            "rss_per_socket": (rss1 - rss0) / len(sockets),
            "delivered": delivered,
            "expected": len(sockets) * ARGS.messages,
            "cpu": cpu,
            "cpu_us_per_delivery": cpu / max(1, delivered) * 1e6,
            "elapsed": elapsed,
        }
    finally:
        for p in (bridge, core):
            p.kill()
            p.wait()


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--py-out", default="build/tests/py")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--size", type=int, default=100)
    ARGS = parser.parse_args()
    sys.path.insert(0, ARGS.py_out)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        certs = os.path.join(tmp, "certs")
        subprocess.run([os.path.join(here, "..", "testing", "make-test-certs"), certs], check=True)
        results = {}
        for mode in ("plain", "tls"):
            results[mode] = asyncio.run(run_mode(mode == "tls", tmp, certs))
    print("tls_bench: %d WebSockets in one room, %d messages of %d bytes at %g/s" %
          (ARGS.clients, ARGS.messages, ARGS.size, ARGS.rate))
    print("%-6s %18s %14s %12s %22s" % ("mode", "RSS/socket (KB)", "delivered", "bridge CPU", "CPU/delivery (us)"))
    lost = False
    for mode, r in results.items():
        print("%-6s %18.1f %8d/%-6d %11.2fs %22.2f" % (mode, r["rss_per_socket"] / 1024, r["delivered"], r["expected"],
                                                      r["cpu"], r["cpu_us_per_delivery"]))
        lost |= r["delivered"] < r["expected"]
    p, t = results["plain"], results["tls"]
    print("tls/plain: RSS per socket %.2fx, CPU per delivery %.2fx" % (
        t["rss_per_socket"] / max(1, p["rss_per_socket"]), t["cpu_us_per_delivery"] / max(1e-9, p["cpu_us_per_delivery"])))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
