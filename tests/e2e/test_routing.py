"""Routing end to end: capacity, balance, queue positions, draining, grace."""

from __future__ import annotations

import contextlib
from typing import Any

from tests.kefu_client import Api, Server, connect, customer_token, login

TEXT = "where is my food, it is very late"  # one issue type: one skill group


async def _loads(agents: list[Api]) -> list[int]:
    return [len(await agent.my_sessions()) for agent in agents]


async def test_sixty_contacts_on_eight_agents_respect_capacity_and_balance(
    server: Server,
) -> None:
    """40 contacts are assigned evenly, 20 queue in order, and closes drain it."""
    async with contextlib.AsyncExitStack() as stack:
        # Eight agents online, each with a connected socket.
        agents = [await login(server, f"agent-{n}") for n in range(1, 9)]
        for agent in agents:
            await stack.enter_async_context(connect(server, agent.token or ""))
            await agent.status("online")

        # Sixty contacts, one after another; after each, loads stay within 1.
        customers: list[Api] = []
        sessions: list[dict[str, Any]] = []
        for n in range(60):
            customer = Api(server, customer_token(f"cust-{n}"))
            customers.append(customer)
            sessions.append(await customer.contact(TEXT))
            loads = await _loads(agents)
            assert max(loads) <= 5
            assert max(loads) - min(loads) <= 1, loads

        assert [s["state"] for s in sessions[:40]] == ["assigned"] * 40
        assert [s["state"] for s in sessions[40:]] == ["queued"] * 20
        assert [s["queue"]["position"] for s in sessions[40:]] == list(range(1, 21))
        assert await _loads(agents) == [5] * 8

        # Positions as each waiting customer sees them now.
        for index, customer in enumerate(customers[40:]):
            found = await customer.session(sessions[40 + index]["id"])
            assert found["queue"]["position"] == index + 1

        # Closing one assigned session hands its slot to the head of the queue.
        await customers[0].close_session(sessions[0]["id"])
        head = await customers[40].session(sessions[40]["id"])
        assert head["state"] == "assigned"
        assert head["agent_id"] == sessions[0]["agent_id"]
        for index, customer in enumerate(customers[41:]):
            found = await customer.session(sessions[41 + index]["id"])
            assert found["queue"]["position"] == index + 1

        # Closing every assigned session drains the rest, never above capacity.
        for index in range(1, 41):
            await customers[index].close_session(sessions[index]["id"])
            assert max(await _loads(agents)) <= 5
        states = [
            (await c.session(s["id"]))["state"]
            for c, s in zip(customers[41:], sessions[41:], strict=True)
        ]
        assert states == ["assigned"] * 19
        for api in [*agents, *customers]:
            await api.close()


async def test_queued_customer_is_told_position_changes_live(server: Server) -> None:
    """A waiting customer's socket gets a session frame when the queue moves."""
    agent = await login(server, "agent-1")
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        holders = [Api(server, customer_token(f"holder-{n}")) for n in range(5)]
        held = [await h.contact(TEXT) for h in holders]
        # agent-1 is the only one online and is now full; two more wait.
        first = Api(server, customer_token("waiter-1"))
        second = Api(server, customer_token("waiter-2"))
        s1 = await first.contact(TEXT)
        s2 = await second.contact(TEXT)
        assert (s1["queue"]["position"], s2["queue"]["position"]) == (1, 2)
        async with connect(server, second.token or "") as ws:
            await holders[0].close_session(held[0]["id"])
            moved = await ws.wait_for(
                lambda f: (
                    f["type"] == "session"
                    and f["session"]["id"] == s2["id"]
                    and f["session"]["queue"] is not None
                    and f["session"]["queue"]["position"] == 1
                )
            )
            assert moved["session"]["state"] == "queued"
        await agent_ws.close()
        for api in [agent, first, second, *holders]:
            await api.close()


async def test_newly_assigned_agent_gets_session_then_history_in_order(
    server: Server,
) -> None:
    """An agent coming online receives the waiting session and its messages 1..n."""
    customer = Api(server, customer_token("early-bird"))
    sid = (await customer.contact(TEXT))["id"]
    for n in range(3):
        r = await customer.http.post(
            f"/v1/sessions/{sid}/messages",
            json={"text": f"hello {n}", "client_msg_id": f"e{n}"},
        )
        assert r.status_code == 201
    agent = await login(server, "agent-7")
    async with connect(server, agent.token or "") as ws:
        await agent.status("online")
        await ws.wait_for(lambda f: f["type"] == "message" and f["message"]["seq"] == 4)
        kinds = [
            (f["type"], f.get("message", {}).get("seq"))
            for f in ws.frames
            if f["type"] in ("session", "message")
        ]
        session_at = kinds.index(("session", None))
        assert kinds[session_at + 1 :] == [
            ("message", 1),
            ("message", 2),
            ("message", 3),
            ("message", 4),
        ]
    await agent.close()
    await customer.close()


async def test_agent_gone_past_grace_loses_sessions_to_the_front_of_the_queue(
    make_server: Any,
) -> None:
    """After the grace period an absent agent's session goes to another agent first."""
    server: Server = make_server("--grace", "0.5")
    leaving = await login(server, "agent-1")
    staying = await login(server, "agent-2")
    customer = Api(server, customer_token("patient"))
    async with connect(server, leaving.token or ""):
        await leaving.status("online")
        sid = (await customer.contact(TEXT))["id"]
        assert (await customer.session(sid))["agent_id"] == "agent-1"
    # agent-1's only socket is closed; once the grace period is over the
    # session waits again, keeps its creation time, and agent-2 gets it.
    async with connect(server, staying.token or "") as ws:
        await staying.status("online")
        frame = await ws.wait_for(
            lambda f: (
                f["type"] == "session"
                and f["session"]["id"] == sid
                and f["session"]["agent_id"] == "agent-2"
            ),
            timeout_s=10,
        )
        assert frame["session"]["state"] == "assigned"
        assert (
            frame["session"]["created_at"]
            == (await customer.session(sid))["created_at"]
        )
    for api in (leaving, staying, customer):
        await api.close()


async def test_agent_who_reconnects_within_grace_keeps_sessions(
    make_server: Any,
) -> None:
    """A dropped agent who is back before the grace period ends keeps the session."""
    server: Server = make_server("--grace", "30")
    agent = await login(server, "agent-1")
    other = await login(server, "agent-2")
    customer = Api(server, customer_token("loyal"))
    async with connect(server, other.token or ""):
        await other.status("online")
        async with connect(server, agent.token or ""):
            await agent.status("online")
            await other.status("away")
            sid = (await customer.contact(TEXT))["id"]
        await other.status("online")
        async with connect(server, agent.token or "") as ws:
            frame = await ws.wait_for(lambda f: f["type"] == "session")
            assert frame["session"]["id"] == sid
        assert (await customer.session(sid))["agent_id"] == "agent-1"
    for api in (agent, other, customer):
        await api.close()


async def test_unanswered_offer_moves_to_another_agent(make_server: Any) -> None:
    """A session whose agent does not answer in time is offered to another agent."""
    server: Server = make_server("--offer-timeout", "0.5")
    slow = await login(server, "agent-1")
    quick = await login(server, "agent-2")
    customer = Api(server, customer_token("impatient"))
    async with (
        connect(server, slow.token or ""),
        connect(server, quick.token or "") as ws,
    ):
        await slow.status("online")
        sid = (await customer.contact(TEXT))["id"]
        assert (await customer.session(sid))["agent_id"] == "agent-1"
        await quick.status("online")
        await ws.wait_for(
            lambda f: (
                f["type"] == "session"
                and f["session"]["id"] == sid
                and f["session"]["agent_id"] == "agent-2"
            )
        )
        assert await slow.my_sessions() == []
    for api in (slow, quick, customer):
        await api.close()


async def test_transfer_to_group_and_to_agent(server: Server) -> None:
    """An agent can hand a session to a group's queue or straight to a colleague."""
    first = await login(server, "agent-1")
    second = await login(server, "agent-2")
    customer = Api(server, customer_token("moved"))
    async with connect(server, first.token or ""), connect(server, second.token or ""):
        await first.status("online")
        sid = (await customer.contact(TEXT))["id"]
        r = await first.http.post(
            f"/v1/sessions/{sid}/transfer", json={"agent_id": "agent-2"}
        )
        assert r.status_code == 409  # agent-2 is not online yet
        await second.status("online")
        r = await first.http.post(
            f"/v1/sessions/{sid}/transfer", json={"agent_id": "agent-2"}
        )
        assert r.status_code == 200, r.text
        assert (await customer.session(sid))["agent_id"] == "agent-2"
        r = await first.http.get(f"/v1/sessions/{sid}")
        assert r.status_code == 404  # no longer a participant
        await first.status("away")
        r = await second.http.post(
            f"/v1/sessions/{sid}/transfer", json={"skill_group": "billing"}
        )
        assert r.status_code == 200, r.text
        found = await customer.session(sid)
        assert found["skill_group"] == "billing"
        assert found["state"] == "queued" and found["queue"]["position"] == 1
    for api in (first, second, customer):
        await api.close()


async def test_agents_see_groups_and_colleagues_for_transfers(server: Server) -> None:
    """Agents can list skill groups and colleagues with status and load."""
    agent = await login(server, "agent-3")
    async with connect(server, agent.token or ""):
        await agent.status("online")
        groups = (await agent.http.get("/v1/skill-groups")).json()["skill_groups"]
        assert groups == ["account", "billing", "delivery", "general", "orders"]
        roster = (await agent.http.get("/v1/agents")).json()["agents"]
        me = next(a for a in roster if a["id"] == "agent-3")
        assert me == {
            "id": "agent-3",
            "name": "Agent 3",
            "status": "online",
            "connected": True,
            "load": 0,
            "capacity": 5,
            "skills": sorted(groups),
        }
        assert len(roster) == 9  # eight agents and the demo supervisor
        supervisor = next(a for a in roster if a["id"] == "supervisor-1")
        assert supervisor["capacity"] == 0
    customer = Api(server, customer_token("c"))
    assert (await customer.http.get("/v1/agents")).status_code == 403
    await agent.close()
    await customer.close()
