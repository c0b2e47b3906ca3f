"""The limit servers: the fastest thing Python does on the same wire.

``python -m kefu.simulator.bench.limits asgi --port P`` serves a bare ASGI
application (a plain async callable, no framework) under uvicorn with the
options kefu runs with; it reads each request's body and answers 201 with a
fixed JSON body shaped like a contact's.  ``... echo --port P`` serves a bare
``websockets`` echo: every frame received is sent straight back.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import orjson
import uvicorn
from websockets.asyncio.server import ServerConnection, serve

from kefu.config import Limits

logger = logging.getLogger(__name__)

#: What the ASGI limit answers: the size and shape of a contact's 201.
FIXED_BODY = orjson.dumps(
    {
        "session": {
            "id": "6f1c0e0b8a3d4f8e9b6e2f3a1c5d7e90",
            "state": "queued",
            "customer_id": "bench-000000",
            "agent_id": None,
            "agent_name": None,
            "issue_type": "late_delivery",
            "skill_group": "delivery",
            "channel": "app",
            "priority": 20,
            "tier": "regular",
            "order_id": "o-000000",
            "order_status": "delivering",
            "queue": {"position": 3, "estimated_wait_s": 95.0},
            "created_at": "2026-12-03T16:00:00.000Z",
            "assigned_at": None,
            "closed_at": None,
            "last_seq": 1,
            "verification": None,
        }
    }
)

_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(FIXED_BODY)).encode()),
]


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with the fixed body, after reading its own."""
    # Lifespan: accept start-up and shutdown, nothing to do.
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return

    # Read the whole body, as a real endpoint would, then answer.
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 201, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": FIXED_BODY})


def run_asgi(port: int) -> None:
    """The bare application under uvicorn, configured as ``kefu serve`` is."""
    config = uvicorn.Config(
        bare_app,
        host="127.0.0.1",
        port=port,
        loop="auto",
        http="auto",
        ws="auto",
        ws_max_size=Limits().max_frame_bytes,
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


async def _echo(ws: ServerConnection) -> None:
    # One round trip per message: each frame goes straight back.
    async for message in ws:
        await ws.send(message)


async def run_echo(port: int) -> None:
    """The bare ``websockets`` echo server, until cancelled."""
    async with serve(
        _echo, "127.0.0.1", port, max_size=Limits().max_frame_bytes
    ) as server:
        await server.serve_forever()


def main() -> None:
    """Serve the limit named on the command line until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["asgi", "echo"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.kind == "asgi":
        run_asgi(args.port)
        return
    import uvloop

    uvloop.run(run_echo(args.port))


if __name__ == "__main__":
    main()
