"""Network namespaces for the fault tests: three per case, joined by veth
pairs, so a fault between two processes is a real packet or link fault:

    core (10.77.1.1) --veth-- (10.77.1.2) bridge (10.77.2.1) --veth-- (10.77.2.2) users

chat-core runs in `core`, ws-bridge in `bridge`, the WebSocket clients in
`users` (the test process moves itself there with setns()). `bridge` also
routes between the two others, so the test reaches chat-core's metrics and
a gRPC client can talk to chat-core directly (nothing else uses that path). Faults are nft
rules in a table `fault` of each namespace, or a tc tbf qdisc on a veth.
Addresses repeat across cases: each case has its own namespaces, so parallel
runs never see each other.

Names are `nf<pid>-<case>-<role>`: a run that was killed (ctest timeout,
kill -9) leaves namespaces whose pid is gone, and the next run deletes them."""
import ctypes
import os
import re
import signal
import subprocess

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
CORE_ADDR, BRIDGE_CORE_SIDE, BRIDGE_USER_SIDE, USER_ADDR = "10.77.1.1", "10.77.1.2", "10.77.2.1", "10.77.2.2"
# Interface names inside each namespace: where the link leads.
TO_BRIDGE, TO_CORE, TO_USERS = "tobridge", "tocore", "tousers"

_libc = ctypes.CDLL(None, use_errno=True)
_NAME = re.compile(r"^nf(\d+)-")


class NetnsError(RuntimeError):
    pass


def run(*argv, check=True):
    """Runs a command (ip, nft, tc); a failure raises with its stderr."""
    res = subprocess.run(argv, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise NetnsError("%s failed (exit %d): %s" % (" ".join(argv), res.returncode, res.stderr.strip()))
    return res


def require_root_tools():
    """The test needs root (CAP_NET_ADMIN) and ip, nft, tc: without them it
    must fail loudly, not skip, because CI runs it as root."""
    missing = [t for t in ("ip", "nft", "tc") if run("sh", "-c", "command -v " + t, check=False).returncode]
    if missing:
        raise NetnsError("missing tools: %s (Debian packages iproute2, nftables)" % ", ".join(missing))
    if os.geteuid() != 0:
        raise NetnsError("network-fault tests need root (CAP_NET_ADMIN) to create network namespaces; "
                         "run as root (CI does)")


def remove_stale():
    """Deletes namespaces of earlier runs whose process is gone."""
    for line in run("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _NAME.match(name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            run("ip", "netns", "del", name, check=False)
        except PermissionError:
            pass


def enter(ns):
    """Moves the calling thread (call it before starting threads: they
    inherit it) into namespace `ns`; sockets made afterwards live there."""
    fd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NetnsError("setns(%s): %s" % (ns, os.strerror(err)))
    finally:
        os.close(fd)


def _die_with_parent():
    # Runs in the child before exec: if the test process dies (ctest's
    # timeout kills it), its chat-core and ws-bridge die too.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def popen_in(ns, argv, **kw):
    """Starts argv inside namespace `ns` (`ip netns exec` execs it: the pid is argv's)."""
    return subprocess.Popen(["ip", "netns", "exec", ns, *argv], preexec_fn=_die_with_parent, **kw)


class Topology:
    """The three namespaces of one case. Use as a context manager: they are
    deleted on leaving, whatever happened."""

    def __init__(self, case):
        self.prefix = "nf%d-%s" % (os.getpid(), case)
        self.core, self.bridge, self.users = (self.prefix + "-c", self.prefix + "-b", self.prefix + "-u")
        self.faults = []

    def __enter__(self):
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc):
        self.destroy()

    def _build(self):
        for ns in (self.core, self.bridge, self.users):
            res = run("ip", "netns", "add", ns, check=False)
            if res.returncode != 0:
                raise NetnsError("cannot create network namespace %s: %s (the network-fault tests need root "
                                 "with CAP_NET_ADMIN; CI runs them as root)" % (ns, res.stderr.strip()))
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", self.core, "link", "add", TO_BRIDGE, "type", "veth", "peer", "name", TO_CORE,
            "netns", self.bridge)
        run("ip", "-n", self.bridge, "link", "add", TO_USERS, "type", "veth", "peer", "name", TO_BRIDGE,
            "netns", self.users)
        for ns, dev, addr in ((self.core, TO_BRIDGE, CORE_ADDR), (self.bridge, TO_CORE, BRIDGE_CORE_SIDE),
                              (self.bridge, TO_USERS, BRIDGE_USER_SIDE), (self.users, TO_BRIDGE, USER_ADDR)):
            run("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            # An empty table whose chains the faults fill and flush.
            run("ip", "netns", "exec", ns, "nft",
                "add table inet fault; "
                "add chain inet fault input { type filter hook input priority 0; policy accept; }; "
                "add chain inet fault output { type filter hook output priority 0; policy accept; }")
        self.route_users_to_core()

    def route_users_to_core(self):
        """Lets the users namespace reach chat-core directly, routed through
        the bridge's namespace (for a gRPC client beside the browsers)."""
        run("ip", "netns", "exec", self.bridge, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        run("ip", "-n", self.users, "route", "add", CORE_ADDR.rsplit(".", 1)[0] + ".0/24", "via", BRIDGE_USER_SIDE)
        run("ip", "-n", self.core, "route", "add", USER_ADDR.rsplit(".", 1)[0] + ".0/24", "via", BRIDGE_CORE_SIDE)

    def destroy(self):
        for ns in (self.core, self.bridge, self.users):
            run("ip", "netns", "del", ns, check=False)

    # ---- faults ---------------------------------------------------------

    def nft_rule(self, ns, chain, rule):
        run("ip", "netns", "exec", ns, "nft", "add rule inet fault %s %s" % (chain, rule))

    def nft_clear(self, *namespaces):
        for ns in namespaces:
            run("ip", "netns", "exec", ns, "nft", "flush chain inet fault input; flush chain inet fault output")

    def nft_counters(self, ns):
        """The rules of `ns`'s fault table with their packet counters (for the report)."""
        return run("ip", "netns", "exec", ns, "nft", "list table inet fault").stdout

    def tbf(self, ns, dev, rate):
        # latency: how long a packet may wait in the shaper; long enough that
        # the shaper queues rather than drops most of the burst.
        run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
            "burst", "4kb", "latency", "2s")

    def tbf_clear(self, ns, dev):
        run("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root")

    def tc_show(self, ns, dev):
        return run("ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev).stdout
