#!/usr/bin/python3
"""A TCP fault proxy for what nft and tc cannot do: a peer that stays
connected but stops reading. It forwards LISTEN -> UPSTREAM both ways; on
SIGUSR1 it stops reading from the upstream side (what the upstream sends
piles up in its own buffers and flow control, as if the downstream
process had stalled), on SIGUSR2 it reads again.

  stall_proxy.py --listen 127.0.0.1:50052 --upstream 10.77.1.1:50051

Prints `stall proxy listening on HOST:PORT` when ready."""
import argparse
import signal
import socket
import threading

stalled = threading.Event()
resumed = threading.Condition()


def _stall(*_):
    stalled.set()


def _resume(*_):
    stalled.clear()
    with resumed:
        resumed.notify_all()


def pump(src, dst, stallable):
    try:
        while True:
            if stallable:
                with resumed:
                    while stalled.is_set():
                        resumed.wait(0.05)
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        # One direction over: end both, as a process that died would.
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--rcvbuf", type=int, default=4096,
                    help="SO_RCVBUF towards upstream: small, so a stall pushes back at once")
    args = ap.parse_args()
    signal.signal(signal.SIGUSR1, _stall)
    signal.signal(signal.SIGUSR2, _resume)
    host, port = args.listen.rsplit(":", 1)
    uhost, uport = args.upstream.rsplit(":", 1)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, int(port)))
    lsock.listen(64)
    print("stall proxy listening on %s:%d" % lsock.getsockname(), flush=True)
    while True:
        down, _ = lsock.accept()
        up = socket.socket()
        up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        try:
            up.connect((uhost, int(uport)))
        except OSError:
            down.close()
            continue
        for s in (up, down):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(down, up, False), daemon=True).start()
        threading.Thread(target=pump, args=(up, down, True), daemon=True).start()


if __name__ == "__main__":
    main()
