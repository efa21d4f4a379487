"""The control arm's reference server: Debian's python3-websockets (10.4), a
WebSocket implementation that shares nothing with ws-bridge. It answers the
way the conformance cases observe the bridge (runner.py): a JSON text event
with a "ref" and a "ping" gets {"ref": ..., "pong": {}}, any other message
(not JSON, binary) an error event without a ref. Prints
"reference server listening on 127.0.0.1:PORT" and serves until killed."""
import argparse
import asyncio
import json

import websockets


async def answer(ws):
    async for message in ws:
        event = None
        if isinstance(message, str):
            try:
                event = json.loads(message)
            except ValueError:
                pass
        if isinstance(event, dict) and isinstance(event.get("ref"), str) and "ping" in event:
            await ws.send(json.dumps({"ref": event["ref"], "pong": {}}, ensure_ascii=False))
        else:
            await ws.send(json.dumps({"error": {"code": "INVALID_ARGUMENT", "message": "not a JSON event"}}))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max_message_bytes", type=int, required=True)
    args = ap.parse_args()
    # No keep-alive pings, no compression: the cases' byte-level expectations
    # assume a plain RFC 6455 connection, as the bridge offers.
    async with websockets.serve(answer, "127.0.0.1", 0, max_size=args.max_message_bytes,
                                ping_interval=None, compression=None, close_timeout=2) as server:
        port = server.sockets[0].getsockname()[1]
        print("reference server listening on 127.0.0.1:%d" % port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
