"""Overload is answered at once, by priority: live sessions, contacts, history."""

from __future__ import annotations

from pathlib import Path

import httpx

from kefu.access.admission import CONTACT, HISTORY, LIVE, Admission
from kefu.config import Settings
from kefu.resilience import AdaptiveLimiter, FixedLimit, Listener
from kefu.service import Kefu
from tests.kefu_client import CUSTOMER_SECRET, customer_token


async def test_full_limiter_sheds_contacts_and_history_but_not_live_messages(
    tmp_path: Path,
) -> None:
    """At the limit, contacts and history get 503 + Retry-After; live writes pass."""
    kefu = Kefu(
        Settings(data_dir=tmp_path, demo=True, customer_token_secret=CUSTOMER_SECRET)
    )
    limiter = AdaptiveLimiter("test", FixedLimit(10))
    kefu.admission = Admission(limiter)
    async with kefu.lifespan(None):
        transport = httpx.ASGITransport(app=kefu.app)
        headers = {"authorization": f"Bearer {customer_token('busy')}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://kefu", headers=headers
        ) as http:
            r = await http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
            sid = r.json()["session"]["id"]
            # Take every slot each partition can get, borrowed or guaranteed.
            held: dict[str, list[Listener]] = {LIVE: [], CONTACT: [], HISTORY: []}
            for partition, slots in held.items():
                while (slot := limiter.try_acquire(partition)) is not None:
                    slots.append(slot)

            r = await http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "overloaded"
            assert int(r.headers["retry-after"]) >= 1
            r = await http.get(f"/v1/sessions/{sid}/messages")
            assert r.status_code == 503

            # With one slot free, a live message gets it; contacts and history
            # may not borrow the last slots of the limit.
            while limiter.inflight >= limiter.limit:
                held[LIVE].pop().on_ignore()
            r = await http.post(
                f"/v1/sessions/{sid}/messages",
                json={"text": "still there?", "client_msg_id": "l1"},
            )
            assert r.status_code == 201
            r = await http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
            assert r.status_code == 503
            r = await http.get(f"/v1/sessions/{sid}/messages")
            assert r.status_code == 503
            metrics = (await http.get("/metrics")).text
            assert 'kefu_contacts_total{channel="app",outcome="shed"} 2.0' in metrics
            assert "kefu_limiter_rejections_total" in metrics
