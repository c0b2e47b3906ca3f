"""Identity verification by SMS code, through the bus, never in the request path."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.kefu_client import Api, Server, connect, customer_token, free_port, login

REFUND = "I want a refund for my order"


@pytest.fixture
def fake_sms() -> Iterator[str]:
    """A ``kefu fake-sms`` process on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kefu",
            "fake-sms",
            "--port",
            str(port),
            "--latency-ms",
            "20",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/control", timeout=1).status_code == 200:
                break
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


async def _code_for(sms_url: str, customer_id: str) -> str:
    """The code the fake provider delivered to a customer (waits for it)."""
    async with httpx.AsyncClient(base_url=sms_url) as http:
        for _ in range(200):
            r = await http.get(f"/v1/messages/{customer_id}/latest")
            if r.status_code == 200:
                code: str = r.json()["code"]
                return code
            await _tick()
    raise AssertionError("no code was delivered")


async def _tick() -> None:
    await asyncio.sleep(0.05)


async def _state(api: Api, sid: str) -> str | None:
    verification: dict[str, Any] | None = (await api.session(sid))["verification"]
    return None if verification is None else str(verification["state"])


async def _wait_state(api: Api, sid: str, state: str) -> None:
    for _ in range(200):
        if await _state(api, sid) == state:
            return
        await _tick()
    raise AssertionError(f"verification never became {state}")


async def test_refund_contact_is_verified_with_the_sms_code(
    make_server: Any, fake_sms: str
) -> None:
    """A refund contact waits for the SMS code; verifying it tells the agent."""
    server: Server = make_server("--sms-url", fake_sms)
    agent = await login(server, "agent-1")
    customer = Api(server, customer_token("needs-refund"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        session = await customer.contact(REFUND)
        sid = session["id"]
        assert session["verification"] == {"state": "pending"}
        assert session["state"] == "assigned"
        code = await _code_for(fake_sms, "needs-refund")
        r = await customer.http.post(f"/v1/sessions/{sid}/verify", json={"code": code})
        assert r.status_code == 200, r.text
        assert r.json()["session"]["verification"] == {"state": "verified"}
        await agent_ws.wait_for(
            lambda f: (
                f["type"] == "session"
                and (f["session"].get("verification") or {}).get("state") == "verified"
            )
        )
    # Sessions of other issue types carry no verification at all.
    other = await customer.contact("my food is cold")
    assert other["verification"] is None
    await agent.close()
    await customer.close()


async def test_five_wrong_codes_fail_verification(
    make_server: Any, fake_sms: str
) -> None:
    """Four wrong codes say how many tries are left; the fifth fails verification."""
    server: Server = make_server("--sms-url", fake_sms)
    customer = Api(server, customer_token("forgetful"))
    sid = (await customer.contact(REFUND))["id"]
    code = await _code_for(fake_sms, "forgetful")
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        r = await customer.http.post(f"/v1/sessions/{sid}/verify", json={"code": wrong})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "wrong_code"
        assert f"{left} tries left" in r.json()["error"]["message"]
    r = await customer.http.post(f"/v1/sessions/{sid}/verify", json={"code": wrong})
    assert r.status_code == 400
    assert await _state(customer, sid) == "failed"
    # The right code no longer helps.
    r = await customer.http.post(f"/v1/sessions/{sid}/verify", json={"code": code})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "verification_closed"
    r = await customer.http.post(f"/v1/sessions/{sid}/verify", json={"code": "12ab"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    await customer.close()


async def test_slow_provider_never_holds_up_a_contact(
    make_server: Any, fake_sms: str
) -> None:
    """With the provider taking 15 s, contacts connect at once, marked unavailable."""
    async with httpx.AsyncClient(base_url=fake_sms) as http:
        await http.put("/control", json={"latency_ms": 15_000})
    server: Server = make_server("--sms-url", fake_sms)
    agent = await login(server, "agent-2")
    customer = Api(server, customer_token("in-a-hurry"))
    async with connect(server, agent.token or ""):
        await agent.status("online")
        session = await customer.contact(REFUND)
        assert session["state"] == "assigned"
        assert session["verification"] == {"state": "pending"}
        # The breaker's 1 s timeout gives up on the provider, not the contact.
        await _wait_state(customer, session["id"], "unavailable")
        r = await customer.http.post(
            f"/v1/sessions/{session['id']}/messages",
            json={"text": "still here", "client_msg_id": "x"},
        )
        assert r.status_code == 201
    await agent.close()
    await customer.close()


async def test_without_a_provider_sensitive_contacts_are_unavailable(
    server: Server,
) -> None:
    """No SMS provider configured: the session goes on, marked unavailable."""
    customer = Api(server, customer_token("no-sms"))
    sid = (await customer.contact("I cannot log in to my account"))["id"]
    await _wait_state(customer, sid, "unavailable")
    await customer.close()


async def test_code_can_be_given_over_the_websocket(
    make_server: Any, fake_sms: str
) -> None:
    """A verify frame with a wrong code gets wrong_code; the right one verifies."""
    server: Server = make_server("--sms-url", fake_sms)
    customer = Api(server, customer_token("ws-verifier"))
    sid = (await customer.contact(REFUND))["id"]
    code = await _code_for(fake_sms, "ws-verifier")
    wrong = "000000" if code != "000000" else "111111"
    async with connect(server, customer.token or "") as ws:
        await ws.send({"type": "verify", "session_id": sid, "code": wrong})
        error = await ws.wait_for(lambda f: f["type"] == "error")
        assert (error["code"], error["session_id"]) == ("wrong_code", sid)
        await ws.send({"type": "verify", "session_id": sid, "code": "12"})
        bad = await ws.wait_for(
            lambda f: f["type"] == "error" and f["code"] == "invalid_request"
        )
        assert bad["session_id"] == sid
        await ws.send({"type": "verify", "session_id": sid, "code": code})
        await ws.wait_for(
            lambda f: (
                f["type"] == "session"
                and (f["session"].get("verification") or {}).get("state") == "verified"
            )
        )
    await customer.close()
