"""Agent tokens can be revoked, and login attempts are rate-limited."""

from __future__ import annotations

import httpx
import websockets

from tests.kefu_client import Server, Socket, login


async def test_logout_revokes_every_token_of_the_agent(server: Server) -> None:
    """After logout, the agent's earlier tokens get 401 and a fresh login works."""
    first = await login(server, "agent-1")
    second = await login(server, "agent-1")
    r = await first.http.post("/v1/agents/logout")
    assert r.status_code == 200
    for api in (first, second):
        r = await api.http.get("/v1/agents/me/sessions")
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "the token has been revoked"
    ws = await websockets.connect(server.ws_url)
    sock = Socket(ws)
    await sock.send({"type": "auth", "token": first.token})
    assert await sock.wait_closed() == 4401
    fresh = await login(server, "agent-1")
    assert (await fresh.http.get("/v1/agents/me/sessions")).status_code == 200
    for api in (first, second, fresh):
        await api.close()


async def test_login_attempts_are_limited_per_agent(server: Server) -> None:
    """The sixth attempt in a minute for one agent is 429 with Retry-After."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        codes = []
        for _ in range(6):
            r = await http.post(
                "/v1/agents/login", json={"agent_id": "agent-2", "password": "guess"}
            )
            codes.append(r.status_code)
        assert codes == [401] * 5 + [429]
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"
        # Another agent is not locked out by it.
        r = await http.post(
            "/v1/agents/login", json={"agent_id": "agent-3", "password": "demo"}
        )
        assert r.status_code == 200
