#!/usr/bin/python3
"""Kill -9 loops (issue #30): under a steady load of gRPC and WebSocket writers
and readers, a process is killed with SIGKILL at random moments and started
again on the same port and store; then the independent checker (checker.py)
compares what was acknowledged, what is stored and what every client got.

  kill_loops.py --build-dir BUILD --loop core|bridge|cluster [--kills N] [--seed S]

  core:    chat-core on SQLite (same file, same port) is killed N times; the
           gRPC clients and the bridge reconnect, WebSockets ride the bridge's
           fail-over.
  bridge:  ws-bridge is killed N times; the WebSocket clients reconnect and resume.
  cluster: three chat-core nodes on one PostgreSQL (scripts/pg) behind one
           bridge: nodes are killed, and every --pg-every'th kill is
           PostgreSQL's (all its processes, scripts/pg kill), started again.

The moments are random but come from --seed (printed; pass it back to replay a
run's schedule). Exit 0 when the checker finds nothing, 1 otherwise."""
import argparse
import os
import random
import secrets
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testing"))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--py-out", help="generated Python stubs (default BUILD/tests/py)")
    ap.add_argument("--source-dir", default=os.path.normpath(os.path.join(HERE, "..", "..")))
    ap.add_argument("--loop", required=True, choices=["core", "bridge", "cluster"])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--pg-every", type=int, default=4, help="cluster: every Nth kill is PostgreSQL's")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--min-gap", type=float, default=0.3, help="seconds of load after recovery, at least")
    ap.add_argument("--max-gap", type=float, default=1.2, help="... and at most, before the next kill")
    ap.add_argument("--rapid", type=float, default=0.25,
                    help="share of kills that come 0-0.3 s after the restart, before the clients have "
                         "recovered (mid-reconnect, mid-replay, mid-resend)")
    ap.add_argument("--writers", type=int, default=2, help="writers of each kind (gRPC, WebSocket)")
    ap.add_argument("--readers", type=int, default=2, help="readers of each kind")
    ap.add_argument("--grpc-rate", type=float, default=40.0, help="sends a second per gRPC writer")
    # ws-bridge allows a socket 20 events a second (--events_per_second).
    ap.add_argument("--ws-rate", type=float, default=12.0, help="sends a second per WebSocket writer")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, db)")
    return ap.parse_args()


ARGS = parse_args()
sys.path.insert(0, ARGS.py_out or os.path.join(ARGS.build_dir, "tests", "py"))

import grpc  # noqa: E402
from chat.v1 import chat_pb2 as pb, chat_pb2_grpc as rpc  # noqa: E402

import chaos_clients  # noqa: E402
import chaos_procs  # noqa: E402
import checker  # noqa: E402

ROOMS = ["chaos-a", "chaos-b"]


def retry(fn, what, timeout=30):
    """A unary call while the server may still be coming up."""
    deadline = time.time() + timeout
    while True:
        try:
            return fn()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE or time.time() > deadline:
                raise RuntimeError("%s: %s %s" % (what, e.code().name, e.details()))
            time.sleep(0.1)


def accounts(addr, names):
    """Registers every client's user and logs it in; creates the rooms."""
    channel = grpc.insecure_channel(addr)
    auth = rpc.AuthServiceStub(channel)
    tokens = {}
    for name in names:
        user = name.replace("-", "_")
        retry(lambda: auth.Register(pb.RegisterRequest(username=user, password="correct horse"), timeout=10),
              "register " + user)
        tokens[name] = retry(lambda: auth.Login(pb.LoginRequest(username=user, password="correct horse"),
                                                timeout=10).token, "login " + user)
    chat = rpc.ChatServiceStub(channel)
    md = [("authorization", "Bearer " + tokens[names[0]])]
    for room in ROOMS:
        retry(lambda: chat.CreateRoom(pb.CreateRoomRequest(name=room), metadata=md, timeout=10), "create " + room)
    channel.close()
    return tokens


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(0.02)


def main():
    seed = ARGS.seed if ARGS.seed is not None else secrets.randbelow(1 << 31)
    rng = random.Random(seed)
    print("chaos.%s: seed %d (replay the schedule with --seed %d)" % (ARGS.loop, seed, seed), flush=True)
    tmp_obj = tempfile.TemporaryDirectory(prefix="chaos-%s-" % ARGS.loop)
    tmp = tmp_obj.name
    secret_file = os.path.join(tmp, "gateway.secret")
    with open(secret_file, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
        f.write(secrets.token_hex(24))
    pg = None
    procs = []
    t_start = time.monotonic()
    try:
        n_cores = 3 if ARGS.loop == "cluster" else 1
        if ARGS.loop == "cluster":
            # Beside tmp, not in it: the server's user (postgres, when we are
            # root) must be able to reach it, and tmp is ours alone.
            pg = chaos_procs.Postgres(ARGS.source_dir,
                                      os.path.join(tempfile.gettempdir(), "chaos-pg-" + secrets.token_hex(4)))
            db = pg.uri
        else:
            db = os.path.join(tmp, "chat.db")
        core_ports = [chaos_procs.free_port() for _ in range(n_cores)]
        core_addrs = ["127.0.0.1:%d" % p for p in core_ports]
        cores = [chaos_procs.core(ARGS.build_dir, tmp, "core-%d" % i, p, db, secret_file)
                 for i, p in enumerate(core_ports)]
        for c in cores:
            c.start()
            procs.append(c)
        bridge_port = chaos_procs.free_port()
        br = chaos_procs.bridge(ARGS.build_dir, tmp, "bridge", bridge_port, core_addrs, secret_file)
        br.start()
        procs.append(br)
        names = chaos_clients.client_names(True, ARGS.writers, ARGS.readers)
        tokens = accounts(core_addrs[0], names)
        clients = chaos_clients.make_clients(core_addrs, bridge_port, tokens, ROOMS, ARGS.writers, ARGS.readers,
                                             (ARGS.grpc_rate, ARGS.ws_rate))
        for c in clients:
            c.start()
        wait_until(lambda: all(c.progress > 0 for c in clients), 30, "every client to get going")
        t_load = time.monotonic()
        print("chaos.%s: %d clients under load after %.1f s of set-up" % (ARGS.loop, len(clients), t_load - t_start),
              flush=True)

        recoveries = []
        rapid = 0
        time.sleep(rng.uniform(ARGS.min_gap, ARGS.max_gap))
        for k in range(ARGS.kills):
            if ARGS.loop == "core":
                victim = cores[0]
            elif ARGS.loop == "bridge":
                victim = br
            elif (k + 1) % ARGS.pg_every == 0:
                victim = pg
            else:
                victim = rng.choice(cores)
            t_kill = time.monotonic()
            victim.kill9()
            victim.start()  # at once, on the same port and store, as systemd's Restart=always would
            if k + 1 < ARGS.kills and rng.random() < ARGS.rapid:
                # The next kill lands while clients reconnect, replay and resend.
                rapid += 1
                time.sleep(rng.uniform(0, 0.3))
                continue
            # Recovered: every client received a message after the kill, every
            # writer also an ack.
            wait_until(lambda: all(c.moving_since(t_kill) for c in clients), 60,
                       "recovery from kill %d (%s)" % (k + 1, getattr(victim, "name", "postgres")))
            recoveries.append(time.monotonic() - t_kill)
            time.sleep(rng.uniform(ARGS.min_gap, ARGS.max_gap))  # steady load until the next kill

        t_kills_done = time.monotonic()
        # Drain: no new sends; every writer gets its acks, every client the last message.
        for c in clients:
            c.producing = False
        wait_until(lambda: all(not c.unacked for c in clients), 60, "the writers' last acks")
        last = {r: max([seq for c in clients for room, seq in c.acked.values() if room == r] or [0]) for r in ROOMS}
        wait_until(lambda: all(c.last_seq[r] >= last[r] for c in clients for r in ROOMS), 60,
                   "every client to receive the last message of each room")
        t_drained = time.monotonic()
        for c in clients:
            c.stop()
        logs_dir = os.path.join(tmp, "clients")
        chaos_clients.save_logs(clients, logs_dir)
        kills = ", ".join("%s %d" % (p.name, p.kills) for p in cores + [br] if p.kills)
        if pg and pg.kills:
            kills += ", postgres %d" % pg.kills
        for p in procs:
            p.kill9()  # the checker reads the store as a crash left it
        procs = []
        rows = checker.read_pg(db) if pg else checker.read_sqlite(db)
        failures, figures = checker.check(rows, checker.load_logs(logs_dir), ROOMS)

        recoveries.sort()
        print("chaos.%s: kills: %s (%d in all, %d of them before the clients had recovered); set-up %.1f s, kills %.1f s, drain %.1f s, total %.1f s"
              % (ARGS.loop, kills, ARGS.kills, rapid, t_load - t_start, t_kills_done - t_load,
                 t_drained - t_kills_done, time.monotonic() - t_start))
        if recoveries:
            print("chaos.%s: recovery after a kill (all %d clients moving again; %d kills): median %.2f s, "
                  "max %.2f s" % (ARGS.loop, len(clients), len(recoveries), recoveries[len(recoveries) // 2],
                                  recoveries[-1]))
        starts = [t for p in cores + [br] for t in p.start_times[1:]] + (pg.start_times if pg else [])
        if starts:
            print("chaos.%s: restart to ready: max %.2f s" % (ARGS.loop, max(starts)))
        by_kind = {}
        for c in clients:
            by_kind.setdefault(c.kind, 0)
            by_kind[c.kind] += c.reconnects
        print("chaos.%s: reconnects: %s" % (ARGS.loop, ", ".join("%s %d" % kv for kv in sorted(by_kind.items()))))
        # A loop whose kills hurt nobody would pass vacuously: every kill of
        # chat-core ends every gRPC stream, every kill of the bridge every
        # WebSocket. In the cluster only the clients of the killed node move
        # (a client on a node never killed may not), so some must have.
        hit = {"core": "grpc", "bridge": "ws", "cluster": "grpc"}[ARGS.loop]
        moved = [c.reconnects for c in clients if c.kind == hit]
        least, want = (min(moved), len(recoveries)) if ARGS.loop != "cluster" else (sum(moved), 1)
        if least < want:
            failures.append(("no-effect", "%s clients reconnected only %d times for %d kills" % (hit, least, want)))
        if figures["acked"] < 10 * ARGS.kills:
            failures.append(("thin-load", "only %d messages acked over %d kills" % (figures["acked"], ARGS.kills)))
        ok = checker.report(failures, figures)
        print("chaos.%s: %s (seed %d)" % (ARGS.loop, "PASS" if ok else "FAIL", seed), flush=True)
        if not ok:
            ARGS.keep = True
        return 0 if ok else 1
    except BaseException:
        ARGS.keep = True  # the logs and the store say what happened
        raise
    finally:
        for p in procs:
            p.stop()
        if pg:
            pg.stop()
        if ARGS.keep:
            print("chaos.%s: kept %s" % (ARGS.loop, tmp))
            tmp_obj._finalizer.detach()
        else:
            tmp_obj.cleanup()


if __name__ == "__main__":
    sys.exit(main())
