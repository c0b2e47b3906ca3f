"""Durability across kill -9, a clean SIGTERM drain, and unavailability as 503."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from kefu.config import Settings
from kefu.service import Kefu
from tests.kefu_client import (
    CUSTOMER_SECRET,
    Api,
    Server,
    connect,
    customer_token,
    of_type,
)


async def test_acked_message_survives_sigkill(tmp_path: Path) -> None:
    """A message acknowledged just before kill -9 is in history after a restart."""
    server = Server(tmp_path / "data")
    server.start()
    customer = Api(server, customer_token("durable"))
    sid = (await customer.contact("my order never came"))["id"]
    async with connect(server, customer.token or "") as ws:
        await ws.send(
            {
                "type": "send",
                "session_id": sid,
                "client_msg_id": "k1",
                "text": "is anyone there?",
            }
        )
        ack = await ws.wait_for(of_type("ack", client_msg_id="k1"))
        server.kill()
    await customer.close()

    restarted = Server(tmp_path / "data")
    restarted.start()
    try:
        again = Api(restarted, customer_token("durable"))
        history = await again.history(sid)
        assert [m["seq"] for m in history] == [1, ack["seq"]]
        assert history[-1]["text"] == "is anyone there?"
        assert (await again.session(sid))["state"] == "queued"
        await again.close()
    finally:
        restarted.stop()


async def test_sigterm_closes_sockets_with_1001_and_keeps_acked_writes(
    tmp_path: Path,
) -> None:
    """SIGTERM closes open sockets with 1001, and every acked message is stored."""
    server = Server(tmp_path / "data")
    server.start()
    customer = Api(server, customer_token("leaving"))
    sid = (await customer.contact("refund for my order"))["id"]
    async with connect(server, customer.token or "") as ws:
        for n in range(30):
            await ws.send(
                {
                    "type": "send",
                    "session_id": sid,
                    "client_msg_id": f"t{n}",
                    "text": f"message {n}",
                }
            )
        await ws.wait_for(of_type("ack", client_msg_id="t0"))
        assert await asyncio.to_thread(server.terminate) == 0
        assert await ws.wait_closed() == 1001
        acked = {f["seq"] for f in ws.frames if f["type"] == "ack"}
    await customer.close()

    restarted = Server(tmp_path / "data")
    restarted.start()
    try:
        again = Api(restarted, customer_token("leaving"))
        stored = [m["seq"] for m in await again.history(sid)]
        assert acked <= set(stored)
        assert stored == list(range(1, len(stored) + 1))
        await again.close()
    finally:
        restarted.stop()


async def test_store_down_answers_503_with_retry_after(tmp_path: Path) -> None:
    """With the store unavailable, a contact gets 503 and Retry-After, not a hang."""
    kefu = Kefu(
        Settings(data_dir=tmp_path, demo=True, customer_token_secret=CUSTOMER_SECRET)
    )
    async with kefu.lifespan(None):
        transport = httpx.ASGITransport(app=kefu.app)
        headers = {"authorization": f"Bearer {customer_token('unlucky')}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://kefu", headers=headers
        ) as http:
            await kefu.store.stop()
            r = await http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "store_unavailable"
            assert int(r.headers["retry-after"]) >= 1
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert kefu.engine.open_sessions == 0


async def test_readyz_and_healthz(server: Server) -> None:
    """A started server is alive and ready."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        metrics = (await http.get("/metrics")).text
        assert "kefu_contacts_total" in metrics
        openapi = (await http.get("/openapi.json")).json()
        assert "/v1/contacts" in openapi["paths"]
