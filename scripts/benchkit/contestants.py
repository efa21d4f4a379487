"""The contestants: what each starts and which chat-bench flags it needs.

A contestant is a name (what the report and the raw rows call it), the protocol
chat-bench speaks to it (--target), a function that starts its servers on a
Servers (runner.py) and returns the address chat-bench connects to, and any
extra chat-bench flags. Adding one is a few lines in CONTESTANTS below, e.g. a
bridge in front of three chat-core nodes on the run's PostgreSQL:

    Contestant("bridge-pg3", "bridge", lambda s: ws_bridge(s, _pg_nodes(s, 3)).addr),

A start function may also return (address, {chat-bench flag: value}) for flags
only known once its servers run (receivers on other nodes, say). A server that
is not here yet gets a function like chat_core() below: start it with
servers.launch(), return the runner.Proc.

The suite (suite.py) and the smoke (smoke.py) say which contestants they run.
"""
import dataclasses
import os
import time
import types
import typing
import urllib.request

# grpc-batch: the same direct gRPC clients, asking chat-core for up to this many
# queued events per message (x-chat-batch, docs/protocol.md).
GRPC_BATCH = 64

# A reference row in the latency runs: socket.io on every CPU, the generator's
# included, to show what keeping the servers off the generator's CPU does to it
# (docs/benchmarks.md, "Latency runs keep the servers off the generator's CPU").
SHARED_SOCKETIO = "socketio-allcpus"


@dataclasses.dataclass(frozen=True)
class Contestant:
    name: str
    target: str  # chat-bench --target: grpc, bridge, socketio or floor
    # Starts the servers on a runner.Servers; returns the address for chat-bench.
    start: typing.Callable
    # Extra chat-bench flags ({"grpc_batch": 64} is --grpc_batch=64).
    bench_flags: typing.Mapping = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    # Whether its servers keep off the generator's CPU in isolated scenarios; False
    # for a reference row that shows what the isolation does.
    isolated: bool = True


# How each server is started. Each returns the runner.Proc it started.

# chat-core and ws-bridge refuse to run as root unless told to (a bench run as root
# is a test machine's, not a service's).
ALLOW_ROOT = ("--allow_root",) if os.geteuid() == 0 else ()

def chat_core(servers, *extra):
    """chat-core on an SQLite file in the run's folder, with guests allowed (the
    generator's clients are guests, as socket.io has no accounts) and a larger
    per-stream queue."""
    return servers.launch([os.path.join(servers.cfg.build, "chat-core/chat-core"), "--listen=127.0.0.1:0",
                           "--db=" + os.path.join(servers.tmp, "chat.db"), "--allow_guests",
                           "--log_level=warning", "--stream_queue_events=65536", *ALLOW_ROOT, *extra],
                          "chat-core listening on ")


def chat_core_pg(servers, db, node, *extra):
    """A chat-core node on the PostgreSQL database `db`, returned once it serves."""
    return servers.launch([os.path.join(servers.cfg.build, "chat-core/chat-core"), "--listen=127.0.0.1:0",
                           "--db=" + db, "--node_id=" + node, "--allow_guests", "--log_level=warning",
                           "--stream_queue_events=65536", *ALLOW_ROOT, *extra],
                          "chat-core listening on ", then="chat-core serving")


def _pg_nodes(s, count):
    """`count` nodes on a fresh database of the run's PostgreSQL, whose CPU counts too."""
    db = s.postgres.new_database()
    s.extra_pids.append(s.postgres.postmaster_pid)
    return [chat_core_pg(s, db, "n%d" % i).addr for i in range(count)]


def _grpc_pg1(s):
    return _pg_nodes(s, 1)[0]


def _grpc_pg3(s):
    """Senders on the first node, receivers on the other two."""
    nodes = _pg_nodes(s, 3)
    return nodes[0], {"receiver_addrs": ",".join(nodes[1:])}


def _pg_same(s):
    """Two nodes; senders and receivers on the first."""
    return _pg_nodes(s, 2)[0]


def _pg_cross(s):
    """Two nodes; senders on the first, receivers on the second."""
    nodes = _pg_nodes(s, 2)
    return nodes[0], {"receiver_addrs": nodes[1]}


def ws_bridge(servers, cores, *extra):
    """ws-bridge in front of `cores` (chat-core addresses), with the per-socket rate
    limit and the connection and queue limits lifted; returns once its gateway stream
    answers /healthz (or after about 10 s of trying)."""
    bridge = servers.launch([os.path.join(servers.cfg.build, "ws-bridge/ws-bridge"), "--listen=127.0.0.1:0",
                             "--core=" + ",".join(cores), "--log_level=warning", "--events_per_second=1000000",
                             "--event_burst=1000000", "--max_connections=100000", "--max_connections_per_ip=0",
                             "--max_queued_events=65536",
                             "--max_queued_bytes=67108864", *ALLOW_ROOT, *extra],
                            "ws-bridge listening on ")
    for _ in range(200):  # wait for the gateway stream
        try:
            with urllib.request.urlopen("http://%s/healthz" % bridge.addr, timeout=1) as r:
                if r.status == 200:
                    break
        except Exception:
            time.sleep(0.05)
    return bridge


def socketio(servers):
    """The classic socket.io chat server (tests/load/peers/socketio/server.js)."""
    return servers.launch(["node", "server.js", "0"], "socket.io listening on ",
                          cwd=os.path.join(servers.cfg.root, "tests/load/peers/socketio"))


def floor(servers, mode):
    """The floor reference server: mode "direct" (a write per delivery) or "coalesce"."""
    return servers.launch([os.path.join(servers.cfg.build, "tests/load/floor-server"), "--port=0",
                           "--mode=" + mode], "floor listening on ")


def _bridge(s):
    return ws_bridge(s, [chat_core(s).addr]).addr


def _grpc(s):
    return chat_core(s).addr


CONTESTANTS = (
    Contestant("socketio", "socketio", lambda s: socketio(s).addr),
    Contestant("bridge", "bridge", _bridge),
    Contestant("grpc", "grpc", _grpc),
    Contestant("grpc-batch", "grpc", _grpc, bench_flags=types.MappingProxyType({"grpc_batch": GRPC_BATCH})),
    Contestant("floor-direct", "floor", lambda s: floor(s, "direct").addr),
    Contestant("floor-coalesce", "floor", lambda s: floor(s, "coalesce").addr),
    Contestant(SHARED_SOCKETIO, "socketio", lambda s: socketio(s).addr, isolated=False),
    # Several nodes on PostgreSQL (docs/scaling.md): need the run's Postgres.
    Contestant("grpc-pg1", "grpc", _grpc_pg1),
    Contestant("grpc-pg3", "grpc", _grpc_pg3),
    Contestant("pg-same", "grpc", _pg_same),
    Contestant("pg-cross", "grpc", _pg_cross),
)

# {name: Contestant}, read-only.
REGISTRY = types.MappingProxyType({c.name: c for c in CONTESTANTS})
