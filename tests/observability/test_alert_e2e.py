"""Alerting end to end: kefu, Prometheus and Alertmanager page a stand-in PagerDuty.

The Prometheus and Alertmanager binaries are real; the rules are the shipped
recording.yml and alerts.yml, except that every ``for:`` is shortened to a few
seconds in a temporary copy so that the test stays under two minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Any

import httpx

from tests.kefu_client import Server, connect, customer_token, login
from tests.observability.stack import alerting_stack, mentions, query
from tests.observability.tools import tool

TEXT = "where is my food, it is very late"  # one issue type: one skill group
ROUTING_KEY = "e2e0routing0key0000000000000000a"  # 32 characters, like PagerDuty's

#: Bounds on each wait; together (with the tools' start) under two minutes.
KEFU_START_TIMEOUT_S = 20.0
AGENT_SEEN_TIMEOUT_S = 15.0
PAGE_TIMEOUT_S = 45.0
POLL_INTERVAL_S = 0.25
CONTACT_INTERVAL_S = 0.5


async def _wait_for(check: Any, timeout_s: float, what: str) -> Any:
    """Poll ``check()`` until it returns something truthy, or fail after a while."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                # The other side is another process: polled, with a deadline.
                found = check()
                if found:
                    return found
                await asyncio.sleep(POLL_INTERVAL_S)
    except TimeoutError:
        raise AssertionError(f"{what} not seen within {timeout_s}s") from None


async def _keep_customers_arriving(server: Server, groups: set[str]) -> None:
    """Open a contact every half second, each from a new customer."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for n in itertools.count():
            token = customer_token(f"e2e-customer-{n}")
            r = await http.post(
                "/v1/contacts",
                json={"text": TEXT, "channel": "app"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201, r.text
            session = r.json()["session"]
            assert session["state"] == "queued", session
            groups.add(session["skill_group"])
            await asyncio.sleep(CONTACT_INTERVAL_S)


async def test_agents_leaving_while_customers_arrive_pages_pagerduty(
    tmp_path: Path,
) -> None:
    """When every agent leaves and customers keep coming, PagerDuty gets a trigger."""
    prometheus_bin = tool("prometheus")
    alertmanager_bin = tool("alertmanager", "prometheus-alertmanager")
    server = Server(tmp_path / "kefu")
    server.start(KEFU_START_TIMEOUT_S)
    try:
        with alerting_stack(
            tmp_path / "alerting",
            server.port,
            prometheus_bin,
            alertmanager_bin,
            ROUTING_KEY,
        ) as (receiver, prom_url):
            # An agent is online; Prometheus sees it in every group.
            agent = await login(server, "agent-1")
            async with connect(server, agent.token or ""):
                await agent.status("online")
                await _wait_for(
                    lambda: query(prom_url, "min(kefu_agents_online) == 1"),
                    AGENT_SEEN_TIMEOUT_S,
                    "the online agent in kefu_agents_online",
                )
                await agent.status("offline")
            await agent.close()

            # Fault: nobody is on duty and customers keep arriving.
            groups: set[str] = set()
            arrivals = asyncio.create_task(_keep_customers_arriving(server, groups))
            try:
                pages = await _wait_for(
                    lambda: [
                        body
                        for body in receiver.bodies("/v2/enqueue")
                        if "KefuNoAgentOnline" in body["payload"]["summary"]
                    ],
                    PAGE_TIMEOUT_S,
                    "a KefuNoAgentOnline page",
                )
            finally:
                arrivals.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await arrivals

            # The page is a PagerDuty Events API v2 trigger for the right group.
            page = pages[0]
            (group,) = groups
            assert page["routing_key"] == ROUTING_KEY
            assert page["event_action"] == "trigger"
            assert page["dedup_key"]
            summary = page["payload"]["summary"]
            assert mentions(summary, "FIRING", "KefuNoAgentOnline", group), summary
            assert page["payload"]["severity"] == "critical"
            details = page["payload"]["custom_details"]
            assert details["runbook_url"].endswith("#kefunoagentonline")
            # A page, not a warning: nothing about it went to the webhook.
            assert not [
                body
                for body in receiver.bodies("/warnings")
                if body["groupLabels"].get("alertname") == "KefuNoAgentOnline"
            ]
    finally:
        server.stop()
