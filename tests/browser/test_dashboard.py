"""The supervisor dashboard in a real browser, with load running against kefu."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.browser.helpers import DESKTOP, PHONE, errors_of, watch_errors
from tests.kefu_client import Api, Server, connect, customer_token, login

#: Bounds of the background load: contacts opened, and seconds it may run.
LOAD_CONTACTS = 30
LOAD_TIME_S = 60.0


async def _load(server: Server) -> None:
    """Open contacts faster than one agent takes them, then close them."""
    async with asyncio.timeout(LOAD_TIME_S):
        open_ids: list[tuple[Api, str]] = []
        for n in range(LOAD_CONTACTS):
            # Open one contact per step; every third step closes the oldest.
            customer = Api(server, customer_token(f"dash-load-{n}"))
            session = await customer.contact("my order has not arrived yet")
            open_ids.append((customer, session["id"]))
            if n % 3 == 2:
                old, sid = open_ids.pop(0)
                await old.close_session(sid)
                await old.close()
            await asyncio.sleep(0.2)  # pacing of the load, not a wait
        for customer, _ in open_ids:
            await customer.close()


@contextlib.asynccontextmanager
async def _agent_online(server: Server, agent_id: str) -> AsyncIterator[None]:
    """An agent connected over the WebSocket and online for the block."""
    agent = await login(server, agent_id)
    try:
        async with connect(server, agent.token or ""):
            await agent.status("online")
            yield
    finally:
        await agent.close()


async def _dashboard(browser: Browser, server: Server, viewport: ViewportSize) -> Page:
    """The dashboard logged in as the demo supervisor, with figures shown."""
    context = await browser.new_context(viewport=viewport, locale="en-US")
    page = await context.new_page()
    watch_errors(page)
    await page.goto(f"{server.url}/dashboard")
    await page.get_by_test_id("dash-login-id").fill("supervisor-1")
    await page.get_by_test_id("dash-login-password").fill("demo")
    await page.get_by_test_id("dash-login-submit").click()
    await expect(page.get_by_test_id("stream-state")).to_have_attribute(
        "data-state", "live"
    )
    return page


async def test_dashboard_figures_move_under_load(
    server: Server, browser: Browser, screenshots: Path
) -> None:
    """The supervisor sees contacts, rates and a queue grow live while load runs."""
    page = await _dashboard(browser, server, DESKTOP)
    total = page.get_by_test_id("fig-contacts-total")
    await expect(total).to_have_text("0")
    await expect(page.get_by_test_id("check")).to_have_count(6)

    async with _agent_online(server, "agent-1"):
        await expect(page.get_by_test_id("fig-agents")).to_have_text("1")
        load = asyncio.create_task(_load(server))
        try:
            # The counter and the rate move, and a queue builds up.
            await expect(total).not_to_have_text("0")
            await expect(page.get_by_test_id("fig-contacts-rate")).not_to_have_text(
                "0.00"
            )
            await page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=queue-depth]')]"
                ".some(e => Number(e.textContent) > 0)"
            )
            await expect(page.get_by_test_id("fig-connect-rate")).to_have_text("100.0%")
            await page.screenshot(path=screenshots / "dashboard-desktop.png")
            phone = await _dashboard(browser, server, PHONE)
            await expect(phone.get_by_test_id("fig-contacts-total")).not_to_have_text(
                "0"
            )
            await phone.screenshot(
                path=screenshots / "dashboard-phone.png", full_page=True
            )
            await load
        finally:
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await load
    assert errors_of(page) == errors_of(phone) == []


async def test_ticket_needs_a_supervisor(server: Server) -> None:
    """An agent who is not a supervisor gets 403 forbidden from the ticket endpoint."""
    agent = await login(server, "agent-2")
    try:
        r = await agent.http.post("/v1/dashboard/ticket")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
    finally:
        await agent.close()


async def test_ticket_opens_one_stream_only(server: Server) -> None:
    """A supervisor's ticket opens the stream once, and is refused the second time."""
    boss = await login(server, "supervisor-1")
    try:
        r = await boss.http.post("/v1/dashboard/ticket")
        assert r.status_code == 200, r.text
        params = {"ticket": r.json()["ticket"]}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            # The first use streams figures.
            async with http.stream("GET", "/v1/dashboard/stream", params=params) as s:
                assert s.status_code == 200
                assert s.headers["content-type"].startswith("text/event-stream")
                async for line in s.aiter_lines():
                    if line == "event: figures":
                        break
            # The second is refused.
            again = await http.get("/v1/dashboard/stream", params=params)
            assert again.status_code == 401
    finally:
        await boss.close()
