"""What the Python tests and load tools share: starting a chat-core or
ws-bridge binary and waiting for its "listening on" line, and one JSON HTTP
request to a bridge. Import after `sys.path.insert(0, <this folder>)`."""
import json
import os
import queue
import subprocess
import time
import urllib.error
import urllib.request

# chat-core and ws-bridge refuse to run as root unless told to; CI runs as root.
ALLOW_ROOT = ["--allow_root"] if os.geteuid() == 0 else []


def start(argv, prefix, stderr=subprocess.DEVNULL, timeout=20):
    """Starts argv and returns (process, what follows `prefix` on its first
    stdout line that starts with it). Kills it and raises if none comes."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return proc, line[len(prefix):].strip()
    proc.kill()
    raise RuntimeError("%s did not start" % argv[0])


def http(port, method, path, body=None, headers=None, scheme="http", host="127.0.0.1", context=None):
    """One JSON request; returns (status, body text, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("%s://%s:%d%s" % (scheme, host, port, path), data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def queued_requests(outbox):
    """A Connect stream's requests: what is put into `outbox`, until None."""
    while True:
        item = outbox.get()
        if item is None:
            return
        yield item


def connect_stream(chat_stub, token):
    """Opens a ChatService.Connect stream; returns (stream, outbox): put
    ClientEvents into outbox to send them, None to end the stream."""
    outbox = queue.Queue()
    return chat_stub.Connect(queued_requests(outbox), metadata=[("authorization", "Bearer " + token)]), outbox
