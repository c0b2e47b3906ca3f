"""A fake SMS provider whose latency and failure rate can be changed live.

``kefu fake-sms`` serves it for demos, tests and the outage replay:

- ``POST /v1/messages {"to", "text"}``: waits the configured latency, then
  fails with 500 at the configured rate, else accepts (202).
- ``PUT /control {"latency_ms"?, "failure_rate"?}``: change behaviour now.
- ``GET /control``: the current behaviour and counters.
- ``GET /v1/messages/{to}/latest``: the last text accepted for a recipient,
  with the code it carries, so a simulated customer can read its SMS.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Behaviour:
    latency_ms: float = 200.0
    failure_rate: float = 0.0
    accepted: int = 0
    failed: int = 0


class FakeSms:
    """The provider's state; :meth:`app` is its ASGI application."""

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        seed: int | None = None,
        keep: int = 100_000,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self._rng = random.Random(seed)
        self._latest: OrderedDict[str, str] = OrderedDict()
        self._keep = keep

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._send, methods=["POST"]),
                Route("/v1/messages/{to}/latest", self._latest_for, methods=["GET"]),
                Route("/control", self._control, methods=["GET", "PUT"]),
            ]
        )

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.json()
        to, text = str(body.get("to", "")), str(body.get("text", ""))
        await asyncio.sleep(self.behaviour.latency_ms / 1000.0)
        if self._rng.random() < self.behaviour.failure_rate:
            self.behaviour.failed += 1
            return JSONResponse({"error": "provider failure"}, 500)
        # Remember the latest text per recipient, boundedly.
        self._latest[to] = text
        self._latest.move_to_end(to)
        while len(self._latest) > self._keep:
            self._latest.popitem(last=False)
        self.behaviour.accepted += 1
        return JSONResponse({"status": "accepted"}, 202)

    async def _latest_for(self, request: Request) -> JSONResponse:
        text = self._latest.get(request.path_params["to"])
        if text is None:
            return JSONResponse({"error": "nothing sent"}, 404)
        match = _CODE.search(text)
        return JSONResponse({"text": text, "code": match.group(1) if match else None})

    async def _control(self, request: Request) -> JSONResponse:
        if request.method == "PUT":
            body = await request.json()
            if "latency_ms" in body:
                self.behaviour.latency_ms = max(0.0, float(body["latency_ms"]))
            if "failure_rate" in body:
                self.behaviour.failure_rate = min(
                    1.0, max(0.0, float(body["failure_rate"]))
                )
        return JSONResponse(asdict(self.behaviour))
