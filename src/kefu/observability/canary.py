"""The canary: a synthetic conversation through the whole path, every N seconds.

A canary customer opens a contact over HTTP; the classifier and router run as
for anyone, but the session waits in the reserved ``kefu-canary`` skill group,
whose only agent is the canary agent.  The agent, connected over the public
WebSocket, receives the session, answers; the customer answers back; the
customer closes.  Success and duration are exported
(``kefu_canary_success``, ``kefu_canary_seconds``); canary sessions are kept
out of business figures (contacts, queues, first response).

It catches a broken path (a store that stopped committing, a fan-out that no
longer delivers, an assignment that never happens) before customers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import websockets

logger = logging.getLogger(__name__)

#: Customer ids of canary customers start with this; the group and agent id.
CANARY_PREFIX = "kefu-canary"
CANARY_GROUP = "kefu-canary"
CANARY_AGENT = "kefu-canary"


def is_canary(customer_id: str) -> bool:
    return customer_id.startswith(CANARY_PREFIX)


class Canary:
    """Runs one synthetic conversation against ``base_url`` every ``interval_s``."""

    def __init__(
        self,
        base_url: str,
        customer_token: Callable[[str], str],
        agent_token: Callable[[], str],
        record: Callable[[bool, float], None],
        *,
        interval_s: float,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self.customer_token = customer_token
        self.agent_token = agent_token
        self.record = record
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._runs = 0

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.run_once()

    async def run_once(self) -> bool:
        """One conversation; records and returns whether it completed in time."""
        self._runs += 1
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._conversation(f"{CANARY_PREFIX}-{self._runs}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            elapsed = time.monotonic() - started
            self.record(False, elapsed)
            logger.warning(
                "canary failed: %s",
                type(exc).__name__,
                extra={"seconds": round(elapsed, 3)},
            )
            return False
        self.record(True, time.monotonic() - started)
        return True

    async def _conversation(self, customer_id: str) -> None:
        ws_url = self.base_url.replace("http", "ws", 1) + "/v1/ws"
        agent_auth = {"authorization": f"Bearer {self.agent_token()}"}
        customer_auth = {"authorization": f"Bearer {self.customer_token(customer_id)}"}
        async with (
            httpx.AsyncClient(base_url=self.base_url) as http,
            websockets.connect(ws_url) as agent,
        ):
            # The canary agent comes on duty over the public socket.
            await _send(agent, {"type": "auth", "token": self.agent_token()})
            await _expect(agent, lambda f: f["type"] == "authenticated")
            _ok(
                await http.put(
                    "/v1/agents/me/status",
                    json={"status": "online"},
                    headers=agent_auth,
                )
            )
            # A contact, assigned to the canary agent with its first message.
            r = _ok(
                await http.post(
                    "/v1/contacts",
                    headers=customer_auth,
                    json={"text": "canary: where is my order?", "channel": "web"},
                )
            )
            sid = r.json()["session"]["id"]
            await _expect(
                agent,
                lambda f: (
                    f["type"] == "message"
                    and f["message"]["session_id"] == sid
                    and f["message"]["seq"] == 1
                ),
            )
            # One message each way, then the customer closes.
            await _send(
                agent,
                {
                    "type": "send",
                    "session_id": sid,
                    "client_msg_id": "canary-agent",
                    "text": "canary reply",
                },
            )
            await _expect(agent, lambda f: f["type"] == "ack")
            _ok(
                await http.post(
                    f"/v1/sessions/{sid}/messages",
                    headers=customer_auth,
                    json={"text": "canary thanks", "client_msg_id": "canary-customer"},
                )
            )
            await _expect(
                agent, lambda f: f["type"] == "message" and f["message"]["seq"] == 3
            )
            _ok(await http.post(f"/v1/sessions/{sid}/close", headers=customer_auth))
            with contextlib.suppress(httpx.HTTPError):
                await http.put(
                    "/v1/agents/me/status",
                    json={"status": "offline"},
                    headers=agent_auth,
                )


def _ok(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


async def _send(ws: Any, frame: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(frame).decode())


async def _expect(ws: Any, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = orjson.loads(await ws.recv())
        if frame["type"] == "error":
            raise RuntimeError(f"canary got error {frame.get('code')}")
        if match(frame):
            return frame
