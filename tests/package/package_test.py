#!/usr/bin/python3
"""The Debian package, built and taken apart (docs/deploy.md). Run by CTest:

  /usr/bin/python3 tests/package/package_test.py --build-dir BUILD

Builds the .deb with cpack from BUILD (which holds chat-core, ws-bridge and chat
already built, and the web UI in web/dist), then:
- checks its control fields, conffiles, maintainer scripts and file list;
- `systemd-analyze verify`s both units inside the unpacked tree;
- `cmake --install` to other prefixes gives the same files, with paths to match;
- unpacks it (dpkg-deb -x) into a temporary root and, as root (CI), in a mount
  namespace of its own with a copy of /etc over /etc, runs the package's postinst
  (which makes the user `chat` and the 0600 gateway secret), then the unpacked
  chat-core and ws-bridge as `chat` without --allow_root, with the unpacked flag
  files (only ports and paths outside /etc overridden);
- registers a user through the bridge's HTTP API, sends a message over its
  WebSocket, reads it back with the unpacked `chat` CLI, and fetches the web UI's
  index.html from the unpacked share/chat/web;
- checks the database is 0600 and owned by `chat`, then prerm and postrm purge.
Not root: the same, as the current user, without the maintainer scripts.
"""
import argparse
import asyncio
import glob
import grp
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ARGS = None
FAILURES = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def run(argv, **kw):
    """Runs argv; returns its CompletedProcess (text), raising on failure unless check=False."""
    kw.setdefault("check", True)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def cache_value(name):
    with open(os.path.join(ARGS.build_dir, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    sys.exit("package_test: %s is not in %s/CMakeCache.txt" % (name, ARGS.build_dir))


def build_package(out):
    r = run([ARGS.cpack, "--config", os.path.join(ARGS.build_dir, "CPackConfig.cmake"), "-B", out], check=False)
    if r.returncode != 0:
        sys.exit("package_test: cpack failed:\n" + r.stdout + r.stderr)
    debs = glob.glob(os.path.join(out, "*.deb"))
    if len(debs) != 1:
        sys.exit("package_test: expected one .deb in %s, found %s" % (out, debs))
    return debs[0]


EXPECTED_FILES = [
    "./usr/bin/chat-core", "./usr/bin/ws-bridge", "./usr/bin/chat", "./usr/bin/chat-backup",
    "./usr/share/chat/web/index.html",
    "./etc/chat/chat-core.flags", "./etc/chat/ws-bridge.flags",
    "./lib/systemd/system/chat-core.service", "./lib/systemd/system/ws-bridge.service",
    "./lib/systemd/system/chat-backup.service", "./lib/systemd/system/chat-backup.timer",
    "./usr/share/doc/chat/deploy.md",
]
ALLOWED_ROOTS = ("./etc/chat/", "./lib/systemd/system/", "./usr/bin/", "./usr/share/chat/web/",
                 "./usr/share/doc/chat/")


def check_package(deb, version):
    fields = {f: run(["dpkg-deb", "-f", deb, f]).stdout.strip()
              for f in ("Package", "Version", "Architecture", "Depends", "Maintainer", "Description")}
    check(fields["Package"] == "chat", "control: Package is chat (%s)" % fields["Package"])
    check(fields["Version"] == version, "control: Version is the project's %s (%s)" % (version, fields["Version"]))
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    check(fields["Architecture"] == arch, "control: Architecture is %s" % arch)
    depends = [d.split()[0] for d in fields["Depends"].split(",")]
    for lib in ("adduser", "python3", "libc6", "libgrpc++1.51", "libprotobuf32", "libsqlite3-0", "libsodium23",
                "liburing2", "libpq5", "libabsl20220623"):
        check(lib in depends, "control: Depends names %s" % lib)
    check(fields["Maintainer"] != "" and fields["Description"] != "", "control: Maintainer and Description set")

    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    entries = {}
    for line in listing:
        parts = line.split(None, 5)
        entries[parts[5].split(" -> ")[0]] = (parts[0], parts[1])
    for path in EXPECTED_FILES:
        check(path in entries and entries[path][0].startswith("-"), "file list: %s" % path)
    for path in ("./usr/bin/chat-core", "./usr/bin/ws-bridge", "./usr/bin/chat", "./usr/bin/chat-backup"):
        check(entries.get(path, ("",))[0] == "-rwxr-xr-x", "file list: %s is 0755" % path)
    stray = [p for p, (mode, _) in entries.items()
             if not mode.startswith("d") and not p.startswith(ALLOWED_ROOTS)]
    check(not stray, "file list: nothing outside %s (%s)" % (", ".join(ALLOWED_ROOTS), stray[:5]))
    check(all(owner == "root/root" for _, owner in entries.values()), "file list: every entry is root/root")
    web_files = [p for p in entries if p.startswith("./usr/share/chat/web/assets/") and p.endswith(".js")]
    check(bool(web_files), "file list: the web UI's scripts (%d under share/chat/web/assets)" % len(web_files))
    return entries


def check_control(ctrl):
    with open(os.path.join(ctrl, "conffiles")) as f:
        conffiles = f.read().split()
    check(conffiles == ["/etc/chat/chat-core.flags", "/etc/chat/ws-bridge.flags"],
          "conffiles: both flag files (%s)" % conffiles)
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctrl, script)
        ok = os.path.exists(path) and os.stat(path).st_mode & 0o111 != 0
        check(ok, "control: %s is there and executable" % script)
        if ok:
            check(run(["sh", "-n", path], check=False).returncode == 0, "control: %s parses (sh -n)" % script)


def unit_settings(path):
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                settings.setdefault(k, []).append(v)
    return settings


def flag_values(path):
    flags = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("--"):
                k, _, v = line[2:].partition("=")
                flags[k] = v
    return flags


def check_units(root):
    for name in ("chat-core", "ws-bridge"):
        u = unit_settings(os.path.join(root, "lib/systemd/system/%s.service" % name))
        exec_start = u.get("ExecStart", [""])[0].split()
        check(exec_start == ["/usr/bin/" + name, "--flagfile=/etc/chat/%s.flags" % name],
              "%s.service: ExecStart runs /usr/bin/%s with its flag file (%s)" % (name, name, exec_start))
        for key, want in (("User", "chat"), ("Restart", "on-failure"), ("NoNewPrivileges", "yes"),
                          ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                          ("CapabilityBoundingSet", "")):
            check(u.get(key) == [want], "%s.service: %s=%s" % (name, key, want))
        check("SystemCallFilter" not in u, "%s.service: no SystemCallFilter (io_uring)" % name)
        limit = int(u.get("LimitNOFILE", ["0"])[0])
        if name == "ws-bridge":
            conns = int(flag_values(os.path.join(root, "etc/chat/ws-bridge.flags"))["max_connections"])
            check(limit >= 2 * conns, "ws-bridge.service: LimitNOFILE=%d is at least twice --max_connections=%d"
                  % (limit, conns))
        else:
            check(u.get("StateDirectory") == ["chat"], "chat-core.service: StateDirectory=chat")
            db = flag_values(os.path.join(root, "etc/chat/chat-core.flags"))["db"]
            check(db == "/var/lib/chat/chat.db", "chat-core.flags: --db in the StateDirectory (%s)" % db)
            check(limit >= 20000, "chat-core.service: LimitNOFILE=%d" % limit)
    bridge_flags = flag_values(os.path.join(root, "etc/chat/ws-bridge.flags"))
    check(bridge_flags.get("web_root") == "/usr/share/chat/web", "ws-bridge.flags: --web_root=/usr/share/chat/web")
    # Every flag the files name, set or commented out, is one the binary knows.
    for name in ("chat-core", "ws-bridge"):
        with open(os.path.join(root, "etc/chat/%s.flags" % name)) as f:
            named = set(re.findall(r"^#?\s*--([a-z_]+)", f.read(), re.M))
        r = run([os.path.join(root, "usr/bin", name), "--help"], check=False)
        known = set(re.findall(r"^\s+--([a-z_]+) \(", r.stdout + r.stderr, re.M))
        unknown = sorted(named - known)
        check(named and not unknown, "%s.flags: all %d flags it names are in %s --help (unknown: %s)"
              % (name, len(named), name, unknown))

    # systemd-analyze resolves the units' dependencies (sysinit.target, ...) and
    # ExecStart= inside --root: give it this system's units beside ours. It
    # reports bad settings as warnings with exit code 0, so any output fails.
    units = os.path.join(root, "lib/systemd/system")
    for path in glob.glob("/lib/systemd/system/*"):
        dest = os.path.join(units, os.path.basename(path))
        if not os.path.lexists(dest) and not os.path.isdir(path):
            shutil.copy2(path, dest, follow_symlinks=False)
    units = ["chat-core.service", "ws-bridge.service", "chat-backup.service", "chat-backup.timer"]
    # The commands the units run besides the package's own (/bin/sh, install,
    # find: Debian's essential packages) come from this system.
    for unit in units:
        for key, values in unit_settings(os.path.join(root, "lib/systemd/system", unit)).items():
            for value in values if key.startswith("Exec") else []:
                command = value.lstrip("+-@!:").split()[0]
                if not os.path.lexists(root + command) and os.path.exists(command):
                    os.makedirs(os.path.dirname(root + command), exist_ok=True)
                    shutil.copy(command, root + command)
    r = run(["systemd-analyze", "verify", "--root=" + root] + units, check=False)
    check(r.returncode == 0 and (r.stdout + r.stderr).strip() == "",
          "systemd-analyze verify %s: exit %d %s" % (" ".join(units), r.returncode, (r.stdout + r.stderr).strip()))
    backup = unit_settings(os.path.join(root, "lib/systemd/system/chat-backup.service"))
    check(backup.get("ExecStart") == ["/usr/bin/chat-backup /var/lib/chat/chat.db /var/backups/chat/"]
          and backup.get("User") == ["chat"], "chat-backup.service: chat-backup as chat into /var/backups/chat")


def check_cmake_install(tmp, entries):
    """cmake --install with DESTDIR: the prefix /usr gives the package's files;
    another prefix keeps everything under it, the flag files naming its paths."""
    for prefix in ("/usr", "/opt/chat"):
        dest = os.path.join(tmp, "install" + prefix.replace("/", "-"))
        r = run([ARGS.cmake, "--install", ARGS.build_dir, "--prefix", prefix], check=False,
                env=dict(os.environ, DESTDIR=dest))
        if not check(r.returncode == 0, "cmake --install --prefix %s" % prefix):
            print(r.stdout + r.stderr)
            continue
        files = sorted("." + os.path.join(d, f)[len(dest):] for d, _, fs in os.walk(dest) for f in fs)
        if prefix == "/usr":
            deb_files = sorted(p for p, (mode, _) in entries.items() if not mode.startswith("d"))
            check(files == deb_files, "cmake --install --prefix /usr: the package's %d files" % len(deb_files))
        else:
            check(all(f.startswith("./opt/chat/") for f in files), "cmake --install --prefix /opt/chat: all under it")
            flags = flag_values(os.path.join(dest, "opt/chat/etc/chat/ws-bridge.flags"))
            check(flags.get("web_root") == "/opt/chat/share/chat/web", "--prefix /opt/chat: --web_root follows")
            u = unit_settings(os.path.join(dest, "opt/chat/lib/systemd/system/chat-core.service"))
            check(u.get("ExecStart") == ["/opt/chat/bin/chat-core --flagfile=/opt/chat/etc/chat/chat-core.flags"],
                  "--prefix /opt/chat: the unit's ExecStart follows (%s)" % u.get("ExecStart"))


# --- running the unpacked binaries -------------------------------------------

def start(argv, prefix, procs):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(proc)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    proc.kill()
    sys.exit("package_test: %s did not start:\n%s" % (argv, proc.stderr.read()))


def http(port, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    if data:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), resp.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get_all("Set-Cookie") or []


async def send_over_websocket(port, cookie, text):
    import websockets
    ws = await websockets.connect("ws://127.0.0.1:%d/ws" % port, extra_headers={"Cookie": "chat_session=" + cookie},
                                  origin="http://127.0.0.1:%d" % port)
    got = []

    async def until(pred):
        while not any(pred(e) for e in got):
            frame = await asyncio.wait_for(ws.recv(), 10)
            got.extend(json.loads(line) for line in frame.split("\n"))
    await ws.send(json.dumps({"join": {"room": "lobby"}}))
    await until(lambda e: "joined" in e)
    await ws.send(json.dumps({"send": {"room": "lobby", "text": text, "clientMsgId": "pkg-1"}}))
    await until(lambda e: "message" in e and e["message"]["text"] == text)
    await ws.close()
    return [e for e in got if "message" in e]


def mode_owner(path):
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid


def run_stack(root, tmp, as_user, conf_dir):
    """chat-core and ws-bridge from the unpacked tree, with the flag files in
    conf_dir, as `as_user` (None: this process's user)."""
    state = os.path.join(tmp, "state")  # what StateDirectory=chat makes: /var/lib/chat, 0700
    os.mkdir(state, 0o700)
    uid = os.getuid()
    prefix = []
    if as_user:
        uid = pwd.getpwnam(as_user).pw_uid
        os.chown(state, uid, grp.getgrnam(as_user).gr_gid)
        prefix = ["setpriv", "--reuid=" + as_user, "--regid=" + as_user, "--init-groups", "--"]
    extra = []
    if conf_dir != "/etc/chat":  # the flag files' secret is /etc/chat/gateway-secret
        extra.append("--gateway_secret_file=" + os.path.join(conf_dir, "gateway-secret"))
    if not as_user and os.geteuid() == 0:  # root without a namespace: no user chat to run as
        extra.append("--allow_root")
    extra_core = extra_bridge = extra
    procs = []
    try:
        core = start(prefix + [os.path.join(root, "usr/bin/chat-core"), "--flagfile=%s/chat-core.flags" % conf_dir,
                               "--listen=127.0.0.1:0", "--db=" + os.path.join(state, "chat.db"),
                               "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1"] + extra_core,
                     "chat-core listening on ", procs)
        bridge = start(prefix + [os.path.join(root, "usr/bin/ws-bridge"), "--flagfile=%s/ws-bridge.flags" % conf_dir,
                                 "--listen=127.0.0.1:0", "--core=" + core,
                                 "--web_root=" + os.path.join(root, "usr/share/chat/web")] + extra_bridge,
                       "ws-bridge listening on ", procs)
        port = int(bridge.rsplit(":", 1)[1])
        check(True, "chat-core (%s) and ws-bridge (%s) run as %s%s"
              % (core, bridge, as_user or pwd.getpwuid(uid).pw_name,
                 " with --allow_root" if "--allow_root" in extra else " without --allow_root"))
        deadline = time.time() + 10
        status = 0
        while time.time() < deadline:
            status, body, _ = http(port, "GET", "/healthz")
            if status == 200:
                break
            time.sleep(0.05)
        check(status == 200, "ws-bridge's gateway stream is up with the shared secret (/healthz %d)" % status)

        status, body, _ = http(port, "GET", "/")
        with open(os.path.join(root, "usr/share/chat/web/index.html"), "rb") as f:
            check(status == 200 and body == f.read(), "GET / serves the unpacked share/chat/web/index.html")

        origin = {"Origin": "http://127.0.0.1:%d" % port}
        status, body, cookies = http(port, "POST", "/api/register",
                                     {"username": "alice", "password": "correct horse"}, origin)
        cookie = next((c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("chat_session=")), "")
        check(status == 200 and cookie, "POST /api/register through the bridge: %d" % status)
        text = "hello from the package test"
        messages = asyncio.run(send_over_websocket(port, cookie, text))
        check(any(m["message"]["author"] == "alice" for m in messages), "a message sent over the bridge's WebSocket")

        cli = os.path.join(root, "usr/bin/chat")
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "cli-config"))
        r = run([cli, "--server", core, "login", "alice", "--password-stdin"], input="correct horse\n", env=env,
                check=False)
        check(r.returncode == 0, "the unpacked chat CLI logs in: %s" % (r.stdout + r.stderr).strip())
        r = run([cli, "--server", core, "history", "lobby", "--json"], env=env, check=False)
        history = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        check(any(m.get("text") == text and m.get("author") == "alice" for m in history),
              "chat history reads the message back (%d messages)" % len(history))

        db = os.path.join(state, "chat.db")
        for path in (db, db + "-wal"):
            mode, owner = mode_owner(path)
            check(mode == 0o600 and owner == uid, "%s is 0600, owned by uid %d (%o, %d)"
                  % (os.path.basename(path), uid, mode, owner))
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(20) for proc in reversed(procs)]
    check(codes == [0] * len(procs), "both stop cleanly on SIGTERM (exit codes %s)" % codes)


def in_private_etc(tmp):
    """A copy of /etc over /etc, in this mount namespace only (unshare -m)."""
    etc = os.path.join(tmp, "etc")
    run(["cp", "-a", "/etc", etc])
    run(["mount", "--make-rprivate", "/"])
    run(["mount", "--bind", etc, "/etc"])


def maintainer_scripts_and_stack(root, ctrl, tmp):
    """As root in a private mount namespace: the maintainer scripts on a copy of
    /etc, then the stack as the user they made."""
    in_private_etc(tmp)
    check(run(["getent", "passwd", "chat"], check=False).returncode != 0, "no user chat before postinst")
    # What dpkg does before postinst: unpack the conffiles.
    os.makedirs("/etc/chat", exist_ok=True)
    for name in ("chat-core.flags", "ws-bridge.flags"):
        shutil.copy2(os.path.join(root, "etc/chat", name), "/etc/chat/" + name)
    r = run([os.path.join(ctrl, "postinst"), "configure"], check=False)
    check(r.returncode == 0, "postinst configure: %s" % (r.stdout + r.stderr).strip())
    user = pwd.getpwnam("chat") if run(["getent", "passwd", "chat"], check=False).returncode == 0 else None
    if not check(user is not None, "postinst made the user chat"):
        return
    check(user.pw_uid < 1000 and user.pw_dir == "/var/lib/chat" and user.pw_shell.endswith("nologin"),
          "chat is a system user: uid %d, home %s, shell %s" % (user.pw_uid, user.pw_dir, user.pw_shell))
    secret = "/etc/chat/gateway-secret"
    mode, owner = mode_owner(secret)
    with open(secret) as f:
        value = f.read().strip()
    check(mode == 0o600 and owner == user.pw_uid, "gateway-secret is 0600, owned by chat (%o, uid %d)" % (mode, owner))
    check(re.fullmatch(r"[A-Za-z0-9+/]{40,}", value) is not None, "gateway-secret holds 32 random bytes, base64")
    for name in ("chat-core.flags", "ws-bridge.flags"):
        st = os.stat("/etc/chat/" + name)
        check(stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == user.pw_gid,
              "%s is 0640, group chat (a database password may go in it)" % name)
    r = run([os.path.join(ctrl, "postinst"), "configure", "0.0.9"], check=False)
    with open(secret) as f:
        check(r.returncode == 0 and f.read().strip() == value, "postinst again (an upgrade) keeps the secret")

    run_stack(root, tmp, "chat", "/etc/chat")

    r1 = run([os.path.join(ctrl, "prerm"), "remove"], check=False)
    r2 = run([os.path.join(ctrl, "postrm"), "purge"], check=False)
    check(r1.returncode == 0 and r2.returncode == 0, "prerm remove, postrm purge: exit 0")
    check(not os.path.exists(secret), "postrm purge removes the gateway secret")


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--cmake", default="cmake", help="the cmake that configured BUILD")
    p.add_argument("--cpack", default="cpack", help="its cpack")
    p.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    ARGS = p.parse_args()
    ARGS.build_dir = os.path.abspath(ARGS.build_dir)

    # As root, the whole test runs in a mount namespace of its own, so the
    # maintainer scripts' user and files land in a copy of /etc.
    namespaces = False
    if os.geteuid() == 0 and not ARGS.in_namespace:
        if run(["unshare", "-m", "true"], check=False).returncode == 0:
            os.execv("/usr/bin/unshare", ["unshare", "-m", sys.executable, os.path.abspath(__file__),
                                          "--build-dir", ARGS.build_dir, "--cmake", ARGS.cmake,
                                          "--cpack", ARGS.cpack, "--in-namespace"])
        print("note: no mount namespace (unshare -m failed); the maintainer scripts are not run")
    namespaces = ARGS.in_namespace

    started = time.time()
    tmp = tempfile.mkdtemp(prefix="chat-package-")
    os.chmod(tmp, 0o755)  # the user chat must reach the unpacked binaries
    try:
        deb = build_package(os.path.join(tmp, "out"))
        size = os.path.getsize(deb)
        print("built %s (%.1f MB) in %.1f s" % (os.path.basename(deb), size / 1e6, time.time() - started))
        entries = check_package(deb, cache_value("CMAKE_PROJECT_VERSION"))
        root, ctrl = os.path.join(tmp, "root"), os.path.join(tmp, "control")
        run(["dpkg-deb", "-x", deb, root])
        run(["dpkg-deb", "-e", deb, ctrl])
        os.chmod(root, 0o755)
        check_control(ctrl)
        check_units(root)
        check_cmake_install(tmp, entries)
        if namespaces:
            maintainer_scripts_and_stack(root, ctrl, tmp)
        else:
            conf = os.path.join(tmp, "conf")
            shutil.copytree(os.path.join(root, "etc/chat"), conf)
            with open(os.path.join(conf, "gateway-secret"), "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
                f.write(run(["sh", "-c", "head -c 32 /dev/urandom | base64"]).stdout)
            run_stack(root, tmp, None, conf)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed; %.1f s" % (len(FAILURES), time.time() - started))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
