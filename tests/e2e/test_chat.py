"""A customer reaches an agent and they chat, over real HTTP and WebSocket."""

from __future__ import annotations

from tests.kefu_client import (
    Api,
    Server,
    connect,
    customer_token,
    login,
    message_seq,
    of_type,
)


async def test_contact_is_assigned_and_both_sides_chat(server: Server) -> None:
    """An online agent gets a new contact and its first message; both sides chat."""
    agent = await login(server, "agent-1")
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        customer = Api(server, customer_token("alice"))
        session = await customer.contact("my order is late")
        assert session["state"] == "assigned"
        assert session["agent_id"] == "agent-1"
        sid = session["id"]

        # The agent hears of the session, then gets message 1.
        await agent_ws.wait_for(
            lambda f: f["type"] == "session" and f["session"]["id"] == sid
        )
        first = await agent_ws.wait_for(message_seq(sid, 1))
        assert first["message"]["text"] == "my order is late"

        async with connect(server, customer.token or "") as customer_ws:
            await agent_ws.send(
                {
                    "type": "send",
                    "session_id": sid,
                    "client_msg_id": "a1",
                    "text": "Sorry! Checking.",
                }
            )
            ack = await agent_ws.wait_for(of_type("ack", client_msg_id="a1"))
            assert ack == {
                "type": "ack",
                "client_msg_id": "a1",
                "session_id": sid,
                "seq": 2,
            }
            got = await customer_ws.wait_for(message_seq(sid, 2))
            assert got["message"]["sender"] == {"role": "agent", "id": "agent-1"}

            await customer_ws.send(
                {
                    "type": "send",
                    "session_id": sid,
                    "client_msg_id": "c1",
                    "text": "thanks",
                }
            )
            await customer_ws.wait_for(of_type("ack", client_msg_id="c1"))
            await agent_ws.wait_for(message_seq(sid, 3))

        history = await customer.history(sid)
        assert [m["seq"] for m in history] == [1, 2, 3]
        await customer.close()
    await agent.close()


async def test_customer_with_two_devices_sees_every_message_on_both(
    server: Server,
) -> None:
    """Every message of a session reaches both of a customer's connected devices."""
    agent = await login(server, "agent-2")
    customer = Api(server, customer_token("bob"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("wrong item in my bag"))["id"]
        async with (
            connect(server, customer.token or "") as phone,
            connect(server, customer.token or "") as laptop,
        ):
            for n in range(5):
                await agent_ws.send(
                    {
                        "type": "send",
                        "session_id": sid,
                        "client_msg_id": f"a{n}",
                        "text": f"reply {n}",
                    }
                )
            await phone.send(
                {
                    "type": "send",
                    "session_id": sid,
                    "client_msg_id": "p1",
                    "text": "from my phone",
                }
            )
            for device in (phone, laptop):
                await device.wait_for(message_seq(sid, 7))
                seqs = [m["seq"] for m in device.messages(sid)]
                assert sorted(set(seqs)) == [2, 3, 4, 5, 6, 7]
                assert seqs == sorted(seqs)
    await agent.close()
    await customer.close()


async def test_offline_customer_resumes_all_missed_messages_in_order(
    server: Server,
) -> None:
    """A customer away during 5 agent messages gets exactly those 5 on resume."""
    agent = await login(server, "agent-3")
    customer = Api(server, customer_token("carol"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("refund please"))["id"]
        async with connect(server, customer.token or "") as ws:
            await ws.send({"type": "resume", "session_id": sid, "after_seq": 0})
            await ws.wait_for(of_type("resumed", session_id=sid))
        # The customer is offline now.
        for n in range(5):
            await agent_ws.send(
                {
                    "type": "send",
                    "session_id": sid,
                    "client_msg_id": f"m{n}",
                    "text": f"update {n}",
                }
            )
            await agent_ws.wait_for(of_type("ack", client_msg_id=f"m{n}"))
        async with connect(server, customer.token or "") as ws:
            await ws.send({"type": "resume", "session_id": sid, "after_seq": 1})
            resumed = await ws.wait_for(of_type("resumed", session_id=sid))
            assert resumed["last_seq"] == 6
            got = ws.messages(sid)
            assert [m["seq"] for m in got] == [2, 3, 4, 5, 6]
            assert [m["text"] for m in got] == [f"update {n}" for n in range(5)]
    await agent.close()
    await customer.close()


async def test_http_message_is_idempotent_by_client_msg_id(server: Server) -> None:
    """The same client_msg_id twice gives 201 then 200 with the same message."""
    customer = Api(server, customer_token("dave"))
    sid = (await customer.contact("coupon did not apply"))["id"]
    body = {"text": "hello?", "client_msg_id": "same-1"}
    first = await customer.http.post(f"/v1/sessions/{sid}/messages", json=body)
    again = await customer.http.post(f"/v1/sessions/{sid}/messages", json=body)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert [m["seq"] for m in await customer.history(sid)] == [1, 2]
    await customer.close()


async def test_typing_and_read_reach_the_other_side(server: Server) -> None:
    """typing and read frames from the agent reach the customer's device."""
    agent = await login(server, "agent-4")
    customer = Api(server, customer_token("erin"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("payment failed"))["id"]
        async with connect(server, customer.token or "") as ws:
            await agent_ws.send({"type": "typing", "session_id": sid})
            typing = await ws.wait_for(of_type("typing", session_id=sid))
            assert typing["sender"] == {"role": "agent", "id": "agent-4"}
            await agent_ws.send({"type": "read", "session_id": sid, "seq": 1})
            read = await ws.wait_for(of_type("read", session_id=sid))
            assert read["seq"] == 1
            await ws.send({"type": "ping"})
            await ws.wait_for(of_type("pong"))
    await agent.close()
    await customer.close()


async def test_closing_notifies_both_and_frees_the_agent(server: Server) -> None:
    """A closed session is announced to both sides and later writes get 409."""
    agent = await login(server, "agent-5")
    customer = Api(server, customer_token("frank"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("account locked"))["id"]
        closed = await customer.close_session(sid)
        assert closed["state"] == "closed" and closed["closed_at"] is not None
        await agent_ws.wait_for(
            lambda f: f["type"] == "session" and f["session"]["state"] == "closed"
        )
        assert await agent.my_sessions() == []
        r = await customer.http.post(
            f"/v1/sessions/{sid}/messages", json={"text": "x", "client_msg_id": "late"}
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "session_closed"
        await agent_ws.send(
            {"type": "send", "session_id": sid, "client_msg_id": "z", "text": "x"}
        )
        error = await agent_ws.wait_for(of_type("error", client_msg_id="z"))
        assert error["code"] == "session_closed"
    await agent.close()
    await customer.close()


async def test_agent_connect_lists_their_open_sessions(server: Server) -> None:
    """A newly connected agent device receives a session frame per open session."""
    agent = await login(server, "agent-6")
    async with connect(server, agent.token or "") as ws:
        await agent.status("online")
        customer = Api(server, customer_token("gina"))
        sid = (await customer.contact("rider was rude"))["id"]
        await ws.wait_for(
            lambda f: f["type"] == "session" and f["session"]["id"] == sid
        )
        async with connect(server, agent.token or "") as second:
            frame = await second.wait_for(of_type("session"))
            assert frame["session"]["id"] == sid
        await customer.close()
    await agent.close()
