"""The faults: the five of issue #30 and a stuck gateway. Each says where it strikes, how it is made and removed,
what the stack and the clients run with, and how the test knows that the
fault really happened (so a rule that matched nothing cannot pass as a
fault survived).

`apply(run)` starts the fault and returns once it is in force; `heal(run)`
removes it. For a timed fault the runner waits `duration` seconds between
them; `until(run)` (if set) replaces that wait by a condition."""
import signal

import netns as N

# Every case: the bridge notices a dead chat-core link within about 2 s
# (gRPC keepalive, docs/operations.md: --core_keepalive_time/_timeout), and
# chat-core accepts pings that often.
CORE_FLAGS = ["--min_client_ping_interval=1s"]
BRIDGE_FLAGS = ["--core_keepalive_time=1s", "--core_keepalive_timeout=1s"]


class Drop:
    name = "drop"
    what = "packets to and from the users silently dropped (nft drop at the bridge's users link)"
    duration = 4.0
    core_flags, bridge_flags, client = [], [], {}

    def apply(self, run):
        t = run.topo
        t.nft_rule(t.bridge, "input", 'iifname "%s" drop' % N.TO_USERS)
        t.nft_rule(t.bridge, "output", 'oifname "%s" drop' % N.TO_USERS)

    def heal(self, run):
        run.facts["nft"] = run.topo.nft_counters(run.topo.bridge)
        run.topo.nft_clear(run.topo.bridge)

    def effect(self, run, r):
        # Nothing can reach anyone while every packet is dropped.
        if r["max_silence_s"] < 0.75 * self.duration:
            return "the drop had no effect: messages kept flowing (longest silence %.2f s of a %.1f s drop)" % (
                r["max_silence_s"], self.duration)
        return None


class Reset:
    name = "reset"
    what = "every TCP segment answered with a reset, on both links (nft reject with tcp reset)"
    duration = 3.0
    core_flags, bridge_flags, client = [], [], {}

    def apply(self, run):
        # Each side rejects what arrives from the other, so the reset reaches
        # both ends of every connection: browser<->bridge and bridge<->chat-core.
        # Resets themselves pass: rejecting them too would swallow every reset
        # and make this a silent drop.
        t = run.topo
        for ns, dev in ((t.bridge, N.TO_USERS), (t.users, N.TO_BRIDGE), (t.bridge, N.TO_CORE), (t.core, N.TO_BRIDGE)):
            t.nft_rule(ns, "input", 'iifname "%s" tcp flags & rst == 0 reject with tcp reset' % dev)

    def heal(self, run):
        t = run.topo
        run.facts["nft"] = t.nft_counters(t.bridge)
        t.nft_clear(t.bridge, t.users, t.core)

    def effect(self, run, r):
        resets = [why for _, why in run.clients["r0"].snapshot()["downs"] if "reset" in why.lower()]
        if not resets:
            return "no WebSocket was reset (r0's ends: %s)" % [w for _, w in run.clients["r0"].snapshot()["downs"]]
        if r["gateway_connects"] < 2:
            return "the gateway stream was not reset (%d gateway connects)" % r["gateway_connects"]
        return None


class StopReading:
    name = "stop-reading"
    what = "one browser stops reading (receive window 0); the bridge must close it at its bound"
    duration = None
    core_flags = []
    # A small bound, so it is reached in a second or two (the defaults,
    # 2048 events and 4 MiB, take minutes at this rate).
    bridge_flags = ["--max_queued_events=64", "--max_queued_bytes=65536", "--socket_send_buffer=16384"]
    client = {"text_bytes": 1000}
    stuck_rcvbuf = 4096

    def apply(self, run):
        run.stuck.paused.set()

    def until(self, run):
        return run.bridge_metric("chat_bridge_disconnects_total", reason="slow_consumer") >= 1

    def heal(self, run):
        run.stuck.paused.clear()

    def effect(self, run, r):
        closes = [why for _, why in run.stuck.snapshot()["downs"] if "1008" in why or "closed" in why
                  or "socket" in why]
        if r["slow_consumer_closes"] < 1:
            return "the bridge never closed the stuck reader"
        if not closes:
            return "the stuck reader never saw its connection end"
        # The others must not notice: none reconnected, and none waited for a
        # message much longer than before the fault.
        if r["others_reconnects"]:
            return "%d other clients reconnected" % r["others_reconnects"]
        r["bystander_p99"] = r["others_fault_p99"]
        if r["others_fault_p99"] > max(1.0, 5 * r["baseline_p99"]):
            return "others slowed down: p99 %.3f s during the fault, %.3f s before" % (
                r["others_fault_p99"], r["baseline_p99"])
        r["stuck_close"] = closes[0]
        return None


class Throttle:
    name = "throttle"
    what = "the users link throttled to 256 kbit/s both ways (tc tbf)"
    duration = 4.0
    core_flags, bridge_flags = [], []
    # The UI's own pong timeout (10 s): a slow link is not a dead one.
    client = {"pong_timeout": 10.0}

    def apply(self, run):
        t = run.topo
        t.tbf(t.bridge, N.TO_USERS, "256kbit")
        t.tbf(t.users, N.TO_BRIDGE, "256kbit")

    def heal(self, run):
        t = run.topo
        run.facts["tc"] = t.tc_show(t.bridge, N.TO_USERS)
        t.tbf_clear(t.bridge, N.TO_USERS)
        t.tbf_clear(t.users, N.TO_BRIDGE)

    def effect(self, run, r):
        if r["ws_reconnects"]:
            return "%d reconnects: a throttled link must only be slower" % r["ws_reconnects"]
        if r["fault_p99"] < max(1.0, 5 * r["baseline_p99"]):
            return "no slowdown measured (p99 %.3f s during, %.3f s before): was the link throttled?" % (
                r["fault_p99"], r["baseline_p99"])
        return None


class Partition:
    name = "partition"
    what = "bridge <-> chat-core partitioned (nft drop both ways), then healed"
    duration = 5.0
    core_flags, bridge_flags, client = [], [], {}

    def apply(self, run):
        t = run.topo
        t.nft_rule(t.bridge, "input", 'iifname "%s" drop' % N.TO_CORE)
        t.nft_rule(t.bridge, "output", 'oifname "%s" drop' % N.TO_CORE)

    def heal(self, run):
        run.facts["nft"] = run.topo.nft_counters(run.topo.bridge)
        run.topo.nft_clear(run.topo.bridge)

    def effect(self, run, r):
        # The browsers' sockets stay open through a fail-over (docs/protocol.md,
        # "Fail-over"): recovering is the bridge's job, not theirs.
        if r["ws_reconnects"]:
            return "%d WebSocket reconnects: the bridge should have kept them open" % r["ws_reconnects"]
        if r["gateway_connects"] < 2:
            return "the bridge never lost its gateway stream (%d connects)" % r["gateway_connects"]
        return None


class StuckGateway:
    name = "stuck-gateway"
    what = ("ws-bridge stops reading chat-core (a stalling TCP proxy between them): chat-core must drop the "
            "stalled gateway stream by itself, a direct gRPC client beside it unaffected")
    duration = None
    core_flags = []
    # The bridge must not give up on the stream first (with its keepalive
    # of 1 s it would: that is the partition case): here chat-core's side
    # is tested. chat-core's gRPC keepalive timeout (10 s, fixed) is also
    # the TCP user timeout of its sockets, which ends a connection whose
    # peer has shown a zero receive window for that long.
    bridge_flags = ["--core_keepalive_time=60s"]
    client = {"pong_timeout": 10.0}
    via_proxy = True
    # The bystander; it writes enough that the stalled connection's buffers
    # fill within a second or two.
    grpc_writer = {"rate": 20.0, "text_bytes": 2000}

    def apply(self, run):
        run.proxy.send_signal(signal.SIGUSR1)

    def until(self, run):
        return self.ended(run) >= 1

    @staticmethod
    def ended(run):
        return sum(run.core_metric("chat_core_streams_ended_total", kind="gateway", reason=r)
                   for r in ("completed", "cancelled", "slow_consumer", "other"))

    def heal(self, run):
        run.proxy.send_signal(signal.SIGUSR2)

    def effect(self, run, r):
        g = run.clients["g0"].snapshot()
        if len(g["downs"]) > 1 or (g["downs"] and g["downs"][0][1] != "stream ended"):
            return "the direct gRPC client's stream ended: %s" % g["downs"]
        p99 = r["bystander_p99"] = r["client_fault_p99"].get("g0", 0.0)
        if p99 > max(1.0, 5 * r["baseline_p99"]):
            return "the direct gRPC client slowed down: p99 %.3f s during the stall, %.3f s before" % (
                p99, r["baseline_p99"])
        if r["gateway_connects"] < 2:
            return "the bridge never opened a new gateway stream (%d connects)" % r["gateway_connects"]
        return None


CASES = {c.name: c for c in (Drop(), Reset(), StopReading(), Throttle(), Partition(), StuckGateway())}
