"""Every documented error, over real HTTP and WebSocket, and that it changes nothing."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest
import websockets

from tests.kefu_client import (
    CUSTOMER_SECRET,
    Api,
    Server,
    Socket,
    connect,
    customer_token,
    login,
    message_seq,
    of_type,
)


def _code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_bad_contact_bodies_get_400_and_open_nothing(server: Server) -> None:
    """Malformed or invalid contact bodies are refused with 400 invalid_request."""
    customer = Api(server, customer_token("picky"))
    bad_bodies: list[bytes] = [
        b'{"text": "hi", "channel":',  # not JSON
        b'["text", "channel"]',  # not an object
        b'{"channel": "app"}',  # no text
        b'{"text": "", "channel": "app"}',  # empty text
        b'{"text": "   ", "channel": "app"}',  # blank text
        b'{"text": "hi", "channel": "fax"}',  # unknown channel
        ('{"text": "%s", "channel": "app"}' % ("x" * 2001)).encode(),  # too long
        b'{"text": 5, "channel": "app"}',  # wrong type
    ]
    for body in bad_bodies:
        r = await customer.http.post(
            "/v1/contacts", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400, (body[:40], r.text)
        assert _code(r) == "invalid_request"
        assert r.json()["error"]["message"]
    # Nothing was opened by any of them.
    agent = await login(server, "agent-1")
    async with connect(server, agent.token or ""):
        await agent.status("online")
        sid = (await customer.contact("first real one"))["id"]
        assert [s["id"] for s in await agent.my_sessions()] == [sid]
    await customer.close()
    await agent.close()


async def test_missing_or_bad_tokens_get_401(server: Server) -> None:
    """No token, garbage, a forged signature, an expired token and alg none get 401."""
    now = int(time.time())
    forged = jwt.encode(
        {"sub": "x", "exp": now + 60}, "wrong-secret", algorithm="HS256"
    )
    expired = jwt.encode(
        {"sub": "x", "exp": now - 60}, CUSTOMER_SECRET, algorithm="HS256"
    )
    unsigned = jwt.encode({"sub": "x", "exp": now + 60}, None, algorithm="none")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
        assert r.status_code == 401 and _code(r) == "unauthorized"
        for token in ("garbage", forged, expired, unsigned):
            r = await http.post(
                "/v1/contacts",
                json={"text": "hi", "channel": "app"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert r.status_code == 401, token
            assert _code(r) == "unauthorized"
        r = await http.post(
            "/v1/agents/login", json={"agent_id": "agent-1", "password": "wrong"}
        )
        assert r.status_code == 401


async def test_other_customers_session_is_404_everywhere(server: Server) -> None:
    """Another customer's session looks exactly like one that does not exist."""
    owner = Api(server, customer_token("owner"))
    intruder = Api(server, customer_token("intruder"))
    sid = (await owner.contact("my refund"))["id"]
    for path in (
        f"/v1/sessions/{sid}",
        f"/v1/sessions/{sid}/messages",
        "/v1/sessions/does-not-exist",
    ):
        r = await intruder.http.get(path)
        assert r.status_code == 404 and _code(r) == "not_found"
    r = await intruder.http.post(
        f"/v1/sessions/{sid}/messages", json={"text": "hi", "client_msg_id": "x"}
    )
    assert r.status_code == 404
    r = await intruder.http.post(f"/v1/sessions/{sid}/close")
    assert r.status_code == 404
    assert (await owner.session(sid))["state"] == "queued"
    assert len(await owner.history(sid)) == 1
    async with connect(server, intruder.token or "") as ws:
        await ws.send({"type": "resume", "session_id": sid, "after_seq": 0})
        error = await ws.wait_for(of_type("error"))
        assert error["code"] == "not_found"
        assert ws.messages(sid) == []
    await owner.close()
    await intruder.close()


async def test_closed_session_gets_409(server: Server) -> None:
    """Writing to or closing a closed session is 409 session_closed."""
    customer = Api(server, customer_token("done"))
    sid = (await customer.contact("order change"))["id"]
    await customer.close_session(sid)
    r = await customer.http.post(f"/v1/sessions/{sid}/close")
    assert r.status_code == 409 and _code(r) == "session_closed"
    r = await customer.http.post(
        f"/v1/sessions/{sid}/messages", json={"text": "hi", "client_msg_id": "late"}
    )
    assert r.status_code == 409 and _code(r) == "session_closed"
    assert len(await customer.history(sid)) == 1
    await customer.close()


async def test_oversized_body_gets_413(server: Server) -> None:
    """A body over the limit is refused with 413, declared or streamed."""
    customer = Api(server, customer_token("big"))
    body = b'{"text": "' + b"x" * 70_000 + b'", "channel": "app"}'
    r = await customer.http.post(
        "/v1/contacts", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and _code(r) == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(8):
            yield b"x" * 10_000

    r = await customer.http.post(
        "/v1/contacts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    await customer.close()


async def test_too_many_contacts_get_429_with_retry_after(server: Server) -> None:
    """A customer opening contacts too fast gets 429 and a Retry-After header."""
    customer = Api(server, customer_token("hasty"))
    codes = []
    for _ in range(12):
        r = await customer.http.post(
            "/v1/contacts", json={"text": "hello", "channel": "app"}
        )
        codes.append(r.status_code)
        if r.status_code == 429:
            assert _code(r) == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1
    assert codes[:10] == [201] * 10
    assert codes[10:] == [429, 429]
    # Someone else is not affected.
    other = Api(server, customer_token("calm"))
    await other.contact("hello")
    await customer.close()
    await other.close()


async def test_agent_may_not_open_a_contact(server: Server) -> None:
    """Roles are enforced: an agent token on a customer endpoint is 403."""
    agent = await login(server, "agent-1")
    r = await agent.http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
    assert r.status_code == 403 and _code(r) == "forbidden"
    customer = Api(server, customer_token("c"))
    r = await customer.http.get("/v1/agents/me/sessions")
    assert r.status_code == 403
    await agent.close()
    await customer.close()


async def test_unknown_route_and_method(server: Server) -> None:
    """Unknown paths are 404 and wrong methods 405, both in the error shape."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get("/v1/nothing-here")
        assert r.status_code == 404 and _code(r) == "not_found"
        r = await http.delete("/v1/contacts")
        assert r.status_code == 405 and _code(r) == "method_not_allowed"


# -- WebSocket -----------------------------------------------------------------


async def test_ws_auth_failures_close_with_4401(server: Server) -> None:
    """A bad first frame or token gets an error frame and close code 4401."""
    for first in (
        '{"type": "auth", "token": "garbage"}',
        '{"type": "send"}',
        "not json",
    ):
        ws = await websockets.connect(server.ws_url)
        sock = Socket(ws)
        await ws.send(first)
        assert await sock.wait_closed() == 4401
        assert sock.frames[0]["type"] == "error"
        assert sock.frames[0]["code"] == "unauthorized"


async def test_ws_without_auth_is_closed_after_five_seconds(server: Server) -> None:
    """A socket that never authenticates is closed with 4408 after 5 s."""
    ws = await websockets.connect(server.ws_url)
    sock = Socket(ws)
    started = time.monotonic()
    assert await sock.wait_closed(timeout_s=15) == 4408
    assert time.monotonic() - started >= 4.5


async def test_ws_bad_frames_get_error_frames(server: Server) -> None:
    """Each kind of bad frame gets its documented error code and nothing changes."""
    customer = Api(server, customer_token("sloppy"))
    sid = (await customer.contact("hello"))["id"]
    async with connect(server, customer.token or "") as ws:
        cases = [
            ("{not json", "invalid_request"),
            ('"a string"', "invalid_request"),
            ('{"type": "dance"}', "unknown_frame_type"),
            ('{"type": "send", "session_id": "%s"}' % sid, "invalid_request"),
            (
                '{"type": "send", "session_id": "%s", "client_msg_id": "x", "text": ""}'
                % sid,
                "invalid_request",
            ),
            (
                '{"type": "resume", "session_id": "%s", "after_seq": -1}' % sid,
                "invalid_request",
            ),
            (
                '{"type": "read", "session_id": "%s", "seq": 99}' % sid,
                "invalid_request",
            ),
            (
                '{"type": "send", "session_id": "nope", "client_msg_id": "y", '
                '"text": "a"}',
                "not_found",
            ),
        ]
        for raw, code in cases:
            start = len(ws.frames)
            await ws.ws.send(raw)
            error = await ws.wait_for(of_type("error"), start=start)
            assert error["code"] == code, raw
        start = len(ws.frames)
        await ws.ws.send(b"\x00\x01binary")
        error = await ws.wait_for(of_type("error"), start=start)
        assert error["code"] == "binary_frame"
        await ws.send({"type": "ping"})
        await ws.wait_for(of_type("pong"))
    assert len(await customer.history(sid)) == 1
    await customer.close()


async def test_ws_oversized_frame_closes_with_1009(server: Server) -> None:
    """A frame over the size limit closes that connection with 1009."""
    customer = Api(server, customer_token("huge"))
    async with connect(server, customer.token or "") as ws:
        await ws.ws.send("x" * 70_000)
        assert await ws.wait_closed() == 1009
    await customer.close()


async def test_malformed_flood_does_not_disturb_other_connections(
    server: Server,
) -> None:
    """One socket flooding garbage is cut off while a chat beside it goes on."""
    agent = await login(server, "agent-1")
    customer = Api(server, customer_token("normal"))
    flooder = Api(server, customer_token("flooder"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("late food"))["id"]
        async with (
            connect(server, customer.token or "") as customer_ws,
            connect(server, flooder.token or "") as flood_ws,
        ):

            async def flood() -> None:
                for n in range(2000):
                    try:
                        await flood_ws.ws.send("{garbage %d" % n)
                    except websockets.ConnectionClosed:
                        return

            flooding = asyncio.create_task(flood())
            for n in range(20):
                await customer_ws.send(
                    {
                        "type": "send",
                        "session_id": sid,
                        "client_msg_id": f"n{n}",
                        "text": f"msg {n}",
                    }
                )
                await customer_ws.wait_for(of_type("ack", client_msg_id=f"n{n}"))
            await agent_ws.wait_for(message_seq(sid, 21))
            await flooding
            assert await flood_ws.wait_closed() == 1008
            assert [m["seq"] for m in agent_ws.messages(sid)] == list(range(1, 22))
    for api in (agent, customer, flooder):
        await api.close()


@pytest.mark.parametrize("frame", [{"type": "typing", "session_id": "x" * 200}])
async def test_ws_overlong_ids_are_refused(
    server: Server, frame: dict[str, str]
) -> None:
    """Ids longer than 128 characters are invalid input, not a lookup."""
    customer = Api(server, customer_token("long"))
    async with connect(server, customer.token or "") as ws:
        await ws.send(frame)
        error = await ws.wait_for(of_type("error"))
        assert error["code"] == "invalid_request"
    await customer.close()
