"""The canary runs a whole conversation on its own and stays out of business figures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


def _samples(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


async def test_canary_succeeds_and_is_not_counted_as_business(make_server: Any) -> None:
    """Canary runs succeed, and no contact, queue or first response counts them."""
    server = make_server("--canary", "0.3")
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(200):
            metrics = (await http.get("/metrics")).text
            runs = _samples(metrics, "kefu_canary_runs_total")
            if runs.get('kefu_canary_runs_total{outcome="success"}', 0) >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no successful canary run:\n{runs}")
        assert runs.get('kefu_canary_runs_total{outcome="failure"}', 0) == 0
        assert _samples(metrics, "kefu_canary_success") == {"kefu_canary_success": 1.0}
        assert _samples(metrics, "kefu_contacts_total") == {}
        assert _samples(metrics, "kefu_first_response_seconds_count") in (
            {},
            {"kefu_first_response_seconds_count": 0.0},
        )
        assert "kefu-canary" not in metrics.replace("kefu_canary", "")
