#!/usr/bin/env bash
# The .deb on a stock Debian 12 under a real systemd: debootstrap a minimal
# bookworm, `apt-get install` the package there (every dependency from Debian's
# archive), boot it with systemd-nspawn, and check the services with their
# hardening as the unit files have them: both start enabled at boot, run as the
# user chat without capabilities, serve the web UI, a login, CLI messages and a
# browser's WebSocket (io_uring under the unit's seccomp filters), survive
# `systemctl restart chat-core` and `kill -9` (Restart=on-failure), reload on
# `systemctl reload ws-bridge`, and chat-backup.service copies the database.
# A second boot follows docs/deploy.md's single-VM setup as written (its certbot
# hook, flags and port-443 drop-in; self-signed certificates stand in for Let's
# Encrypt): HTTPS, HSTS, a Secure cookie, a renewal picked up by `systemctl
# reload`. Then `apt-get purge` removes /etc/chat and keeps the database.
#
#   tests/package/systemd_boot_test.sh BUILD/chat_*.deb [ROOT]
#
# Not part of ctest: it needs root, network access to deb.debian.org (the first
# run debootstraps ROOT, default /var/tmp/chat-systemd-root, about 3 minutes;
# later runs reuse it) and systemd-nspawn (Debian's systemd-container).
# docs/deploy.md says what it found.
set -euo pipefail
DEB=${1:?usage: systemd_boot_test.sh CHAT.deb [ROOT]}
ROOT=${2:-/var/tmp/chat-systemd-root}
[[ $(id -u) == 0 ]] || { echo "systemd_boot_test: needs root" >&2; exit 2; }
for tool in debootstrap systemd-nspawn openssl; do
  command -v $tool >/dev/null || { echo "systemd_boot_test: needs $tool (apt-get install debootstrap systemd-container)" >&2; exit 2; }
done
[[ -f "$DEB" ]] || { echo "systemd_boot_test: $DEB: no such file" >&2; exit 2; }

in_root() {  # command... : run in ROOT with /proc and the host's DNS
  mount -t proc proc "$ROOT/proc"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  local rc=0
  DEBIAN_FRONTEND=noninteractive chroot "$ROOT" "$@" || rc=$?
  umount "$ROOT/proc"
  return $rc
}

if [[ ! -f "$ROOT/.chat-base" ]]; then
  echo "systemd_boot_test: debootstrap bookworm into $ROOT (minbase)..." >&2
  rm -rf "$ROOT"
  debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
  in_root apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus curl python3 >/dev/null
  echo chatbox > "$ROOT/etc/hostname"
  touch "$ROOT/.chat-base"
fi

if in_root dpkg -s chat >/dev/null 2>&1; then in_root apt-get purge -y -qq chat >/dev/null; fi
rm -rf "$ROOT/var/lib/chat" "$ROOT/root/check.txt" "$ROOT/var/log/journal"
cp "$DEB" "$ROOT/tmp/chat.deb"
echo "systemd_boot_test: apt-get install ./$(basename "$DEB") on bookworm..." >&2
in_root apt-get install -y -qq --no-install-recommends /tmp/chat.deb >/dev/null

# A browser's path: login over HTTP, then a WebSocket (RFC 6455 by hand).
cat > "$ROOT/usr/local/bin/chat-ws-check" <<'EOF'
#!/usr/bin/python3
import base64, json, os, socket, struct, urllib.request
port = 8080
req = urllib.request.Request("http://127.0.0.1:%d/api/login" % port, method="POST",
                             data=json.dumps({"username": "alice", "password": "correct horse"}).encode(),
                             headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:%d" % port})
cookie = urllib.request.urlopen(req, timeout=10).headers["Set-Cookie"].split(";")[0]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n\r\n"
           % (port, key, port, cookie)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
assert buf.startswith(b"HTTP/1.1 101"), buf.split(b"\r\n")[0]
buf = buf.split(b"\r\n\r\n", 1)[1]
def send(obj):
    data = json.dumps(obj).encode()
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
def frames():
    global buf
    while True:
        if len(buf) >= 2:
            n, off = buf[1] & 0x7f, 2
            if n == 126:
                n, off = struct.unpack(">H", buf[2:4])[0], 4
            if len(buf) >= off + n:
                frame, buf = buf[off:off + n], buf[off + n:]
                yield frame.decode()
                continue
        buf += s.recv(65536)
send({"join": {"room": "lobby"}})
for i in range(5):
    send({"send": {"room": "lobby", "text": "ws %d" % i, "clientMsgId": "%s-%d" % (key[:8], i)}})
seen = 0
for frame in frames():
    seen += sum(1 for line in frame.split("\n") if '"message"' in line)
    if seen >= 5:
        break
print("websocket_messages=%d" % seen)
EOF
cat > "$ROOT/usr/local/bin/chat-check" <<'EOF'
#!/bin/sh
# Runs once at boot (chat-check.service), writes key=value lines, powers off.
exec > /root/check.txt 2>&1
healthy() { for i in $(seq 1 100); do curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
healthy && echo "healthz=ok" || echo "healthz=down"
echo "active=$(systemctl is-active chat-core ws-bridge | tr '\n' ' ')"
echo "index=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/)"
echo "register=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://127.0.0.1:8080' \
  -H 'Content-Type: application/json' -d '{"username":"alice","password":"correct horse"}' \
  http://127.0.0.1:8080/api/register)"
printf 'correct horse\n' | HOME=/root chat login alice --password-stdin >/dev/null && echo "cli_login=ok"
HOME=/root chat send lobby "hello under systemd" >/dev/null && echo "cli_send=ok"
echo "cli_history=$(HOME=/root chat history lobby | grep -c 'hello under systemd')"
/usr/local/bin/chat-ws-check
pid=$(systemctl show -p MainPID --value ws-bridge)
echo "bridge_user=$(stat -c %U /proc/$pid)"
echo "bridge_$(grep -E '^CapEff' /proc/$pid/status | tr -d '\t' | tr ':' '=')"
echo "bridge_$(grep -E '^NoNewPrivs' /proc/$pid/status | tr -d '\t' | tr ':' '=')"
echo "bridge_nofile=$(grep 'Max open files' /proc/$pid/limits | awk '{print $4}')"
echo "db=$(stat -c '%a %U' /var/lib/chat/chat.db) dir=$(stat -c '%a %U' /var/lib/chat)"
echo "secret=$(stat -c '%a %U' /etc/chat/gateway-secret)"
systemctl restart chat-core; healthy && echo "after_restart=ok"
systemctl reload ws-bridge && echo "reload=ok"
kill -9 "$(systemctl show -p MainPID --value chat-core)"; sleep 2; healthy && echo "after_kill9=ok"
echo "restarts=$(systemctl show -p NRestarts --value chat-core)"
/usr/local/bin/chat-ws-check | sed 's/^/after_/'
if systemctl start chat-backup.service; then
  echo "backup_service=$(stat -c '%a %U' /var/backups/chat/chat-*.db)"
else
  journalctl -u chat-backup --no-pager | tail -5
fi
echo "backup_timer=$(systemctl is-enabled chat-backup.timer)"
echo "io_uring_refused=$(journalctl -u ws-bridge --no-pager | grep -c 'io_uring is not available')"
echo "done=1"
systemctl poweroff
EOF
chmod 755 "$ROOT/usr/local/bin/chat-check" "$ROOT/usr/local/bin/chat-ws-check"
cat > "$ROOT/etc/systemd/system/chat-check.service" <<'EOF'
[Unit]
After=chat-core.service ws-bridge.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/chat-check
[Install]
WantedBy=multi-user.target
EOF
chroot "$ROOT" systemctl enable -q chat-core ws-bridge chat-check

echo "systemd_boot_test: booting it (systemd-nspawn --boot, private network)..." >&2
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 timeout 180 systemd-nspawn -q -D "$ROOT" --private-network --register=no \
  --keep-unit --boot >"$ROOT/../chat-systemd-boot.log" 2>&1 || true
cat "$ROOT/root/check.txt"

# The units' LimitNOFILE=65536, unless the container's own hard limit (this
# shell's) is lower: systemd in a container cannot raise past it.
nofile=$(ulimit -Hn)
if [[ $nofile == unlimited || $nofile -gt 65536 ]]; then nofile=65536; fi
failed=0
expect() {  # LINE [FILE]: a key=value line that must be in FILE (default check.txt)
  if grep -qxF "$1" "${2:-$ROOT/root/check.txt}"; then echo "ok    $1"; else echo "FAIL  $1"; failed=$((failed + 1)); fi
}
for line in "healthz=ok" "active=active active " "index=200" "register=200" "cli_login=ok" "cli_send=ok" \
    "cli_history=1" "websocket_messages=5" "bridge_user=chat" "bridge_CapEff=0000000000000000" \
    "bridge_NoNewPrivs=1" "bridge_nofile=$nofile" "db=600 chat dir=700 chat" "secret=600 chat" \
    "after_restart=ok" "reload=ok" "after_kill9=ok" "restarts=1" "after_websocket_messages=5" \
    "io_uring_refused=0" "backup_service=600 chat" "backup_timer=disabled" "done=1"; do
  expect "$line"
done

# Second boot: the worked example of docs/deploy.md (steps 4, 5 and 7) as the
# guide writes it: its certbot deploy hook, its ws-bridge flags, its drop-in
# for port 443. A self-signed certificate stands in for Let's Encrypt's, and a
# second one for the renewal, which the hook installs and `systemctl reload
# ws-bridge` puts in use.
DOC="$(cd "$(dirname "$0")/../.." && pwd)/docs/deploy.md"
between() {  # FILE START: the body of the heredoc that starts on the line holding START
  sed -n "\|$2|,/^EOF\$/p" "$1" | sed '1d;$d'
}
make_cert() {  # DIR
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=chat.example.com \
    -addext subjectAltName=DNS:chat.example.com -keyout "$1/privkey.pem" -out "$1/fullchain.pem" 2>/dev/null
}
live=/etc/letsencrypt/live/chat.example.com
hook=/etc/letsencrypt/renewal-hooks/deploy/chat
make_cert "$ROOT$live"
make_cert "$ROOT/root/renewed"
mkdir -p "$ROOT$(dirname $hook)" "$ROOT/etc/systemd/system/ws-bridge.service.d"
between "$DOC" "renewal-hooks/deploy/chat >/dev/null <<'EOF'" > "$ROOT$hook"
chmod 755 "$ROOT$hook"
between "$DOC" "port-443.conf >/dev/null <<'EOF'" > "$ROOT/etc/systemd/system/ws-bridge.service.d/port-443.conf"
awk '/the package.s file, with these lines changed or/{f=1;next} f&&/^```$/{c++; if(c==2){exit}; next} f&&c==1{print}' \
  "$DOC" > "$ROOT/etc/chat/ws-bridge.flags"
in_root install -d -o root -g chat -m 0750 /etc/chat/tls
in_root env RENEWED_LINEAGE=$live $hook
cat > "$ROOT/usr/local/bin/chat-tls-check" <<'END_OF_CHECK'
#!/bin/sh
# Runs once at the second boot (chat-tls-check.service), writes key=value lines, powers off.
exec > /root/tls-check.txt 2>&1
site() {  # CA PATH [curl args]: https://chat.example.com/PATH, served on this machine
  ca=$1; path=$2; shift 2
  curl -sS --cacert "$ca" --resolve chat.example.com:443:127.0.0.1 "$@" "https://chat.example.com$path"
}
live=/etc/letsencrypt/live/chat.example.com
for i in $(seq 1 100); do site $live/fullchain.pem /healthz -f >/dev/null 2>&1 && break; sleep 0.1; done
echo "tls_healthz=$(site $live/fullchain.pem /healthz | grep -c '"status":"ok"')"
echo "tls_index=$(site $live/fullchain.pem / -o /dev/null -w '%{http_code}')"
echo "tls_hsts=$(site $live/fullchain.pem / -I | grep -ci '^strict-transport-security: max-age=31536000')"
echo "tls_cookie_secure=$(site $live/fullchain.pem /api/register -D - -o /dev/null -H 'Origin: https://chat.example.com' \
  -H 'Content-Type: application/json' -d '{"username":"tlsuser","password":"correct horse"}' |
  grep -ci '^set-cookie: __Host-chat_session=.*; Secure')"
pid=$(systemctl show -p MainPID --value ws-bridge)
echo "tls_bridge_user=$(stat -c %U /proc/$pid)"
echo "tls_bridge_$(grep -E '^CapEff' /proc/$pid/status | tr -d '\t' | tr ':' '=')"
RENEWED_LINEAGE=/root/renewed /etc/letsencrypt/renewal-hooks/deploy/chat && sleep 1
echo "tls_renewed=$(site /root/renewed/fullchain.pem /healthz | grep -c '"status":"ok"')"
if site $live/fullchain.pem /healthz >/dev/null 2>&1; then echo "tls_old_refused=no"; else echo "tls_old_refused=yes"; fi
echo "tls_files=$(stat -c '%a %U' /etc/chat/tls/fullchain.pem /etc/chat/tls/privkey.pem | tr '\n' ' ')"
echo "tls_done=1"
systemctl poweroff
END_OF_CHECK
chmod 755 "$ROOT/usr/local/bin/chat-tls-check"
sed 's|/usr/local/bin/chat-check|/usr/local/bin/chat-tls-check|' "$ROOT/etc/systemd/system/chat-check.service" \
  > "$ROOT/etc/systemd/system/chat-tls-check.service"
chroot "$ROOT" systemctl disable -q chat-check
chroot "$ROOT" systemctl enable -q chat-tls-check
rm -f "$ROOT/root/tls-check.txt"
echo "systemd_boot_test: booting it again with docs/deploy.md's TLS setup..." >&2
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 timeout 180 systemd-nspawn -q -D "$ROOT" --private-network --register=no \
  --keep-unit --boot >>"$ROOT/../chat-systemd-boot.log" 2>&1 || true
chroot "$ROOT" systemctl disable -q chat-tls-check
cat "$ROOT/root/tls-check.txt"
for line in "tls_healthz=1" "tls_index=200" "tls_hsts=1" "tls_cookie_secure=1" "tls_bridge_user=chat" \
    "tls_bridge_CapEff=0000000000000400" "tls_renewed=1" "tls_old_refused=yes" "tls_files=600 chat 600 chat " \
    "tls_done=1"; do
  expect "$line" "$ROOT/root/tls-check.txt"
done

in_root apt-get purge -y -qq chat >/dev/null
rm -rf "$ROOT/etc/letsencrypt" "$ROOT/etc/systemd/system/ws-bridge.service.d" "$ROOT/root/renewed"
# /etc/chat/tls (the operator's, from the second boot) keeps /etc/chat itself.
what="apt-get purge: the flag files and the gateway secret gone; the database and the user chat kept"
if [[ ! -e "$ROOT/etc/chat/gateway-secret" && ! -e "$ROOT/etc/chat/chat-core.flags" && ! -e "$ROOT/etc/chat/ws-bridge.flags" \
      && -f "$ROOT/var/lib/chat/chat.db" ]] && chroot "$ROOT" getent passwd chat >/dev/null; then
  echo "ok    $what"
else
  echo "FAIL  $what"; failed=$((failed + 1))
fi
rm -rf "$ROOT/etc/chat"
echo "systemd_boot_test: $failed failed"
[[ $failed == 0 ]]
