"""The router as a pure state machine: no sockets, no sleeps, time passed in."""

from __future__ import annotations

import random

import pytest

from kefu.errors import Conflict
from kefu.routing.router import AgentStatus, Router, Strategy, Waiting


def _router(
    strategy: Strategy = Strategy.LEAST_LOADED,
    agents: int = 3,
    capacity: int = 2,
    seed: int = 1,
) -> Router:
    router = Router(strategy, aging_s=10.0, rng=random.Random(seed))
    for n in range(1, agents + 1):
        router.add_agent(f"a{n}", capacity, ["g"])
        router.connect(f"a{n}", now=0.0)
        router.set_status(f"a{n}", AgentStatus.ONLINE, now=0.0)
    return router


def _wait(
    session_id: str, since: float = 0.0, priority: int = 0, group: str = "g"
) -> Waiting:
    return Waiting(session_id, group, priority, since)


def test_least_loaded_spreads_evenly_and_prefers_the_longest_idle() -> None:
    """Each new session goes to the least loaded agent, ties to the longest idle."""
    router = _router()
    picked = [
        router.enqueue(_wait(f"s{n}"), now=float(n))[0].agent_id for n in range(6)
    ]
    assert picked == ["a1", "a2", "a3", "a1", "a2", "a3"]
    assert [router.load(a) for a in ("a1", "a2", "a3")] == [2, 2, 2]


def test_no_strategy_exceeds_capacity() -> None:
    """Whatever the strategy, the seventh session on 3 agents of capacity 2 waits."""
    for strategy in Strategy:
        router = _router(strategy)
        for n in range(7):
            router.enqueue(_wait(f"s{n}"), now=float(n))
        assert [router.load(a) for a in ("a1", "a2", "a3")] == [2, 2, 2]
        assert router.queue("g") == ["s6"]


def test_unavailable_agents_get_nothing() -> None:
    """Away, offline or disconnected agents are never assigned."""
    router = _router(agents=4)
    router.set_status("a1", AgentStatus.AWAY, now=0.0)
    router.set_status("a2", AgentStatus.OFFLINE, now=0.0)
    router.disconnect("a3")
    got = [router.enqueue(_wait(f"s{n}"), now=1.0) for n in range(3)]
    assert [a.agent_id for batch in got for a in batch] == ["a4", "a4"]
    assert router.queue("g") == ["s2"]


def test_skill_groups_are_respected() -> None:
    """A session is only offered to agents with its skill group."""
    router = _router(agents=1)
    router.add_agent("b1", 2, ["billing"])
    router.connect("b1", 0.0)
    router.set_status("b1", AgentStatus.ONLINE, 0.0)
    assert router.enqueue(_wait("s1", group="billing"), 1.0)[0].agent_id == "b1"
    assert router.enqueue(_wait("s2"), 1.0)[0].agent_id == "a1"


def test_queue_orders_by_priority_then_arrival_and_ages() -> None:
    """Higher priority goes first, but waiting long enough overtakes it."""
    router = _router(agents=1, capacity=1)
    router.enqueue(_wait("busy"), 0.0)
    router.enqueue(_wait("old", since=0.0, priority=0), 0.0)
    router.enqueue(_wait("vip", since=100.0, priority=30), 100.0)
    router.enqueue(_wait("new", since=100.0, priority=0), 100.0)
    # old has waited 100 s = 10 points; vip has 30 points: vip first.
    assert router.queue("g") == ["vip", "old", "new"]
    assert router.position("old") == 2
    router.enqueue(_wait("older-vip", since=-400.0, priority=0), 100.0)
    # Waiting 400 s more than the others outweighs 30 points of priority.
    assert router.queue("g")[0] == "older-vip"


def test_release_drains_the_queue_in_order() -> None:
    """A closed session's slot goes at once to the head of the queue."""
    router = _router(agents=1, capacity=1)
    router.enqueue(_wait("s1"), 0.0)
    router.enqueue(_wait("s2", since=1.0), 1.0)
    router.enqueue(_wait("s3", since=2.0), 2.0)
    assignments = router.release("s1", 3.0)
    assert [(a.session_id, a.agent_id) for a in assignments] == [("s2", "a1")]
    assert router.queue("g") == ["s3"]
    assert router.position("s3") == 1


def test_agent_coming_online_takes_up_to_capacity() -> None:
    """An agent who comes online takes queued sessions until full, in order."""
    router = _router(agents=0)
    router.add_agent("a1", 2, ["g"])
    for n in range(3):
        router.enqueue(_wait(f"s{n}", since=float(n)), float(n))
    router.connect("a1", 5.0)
    assignments = router.set_status("a1", AgentStatus.ONLINE, 5.0)
    assert [a.session_id for a in assignments] == ["s0", "s1"]
    assert router.queue("g") == ["s2"]


def test_requeued_sessions_go_to_the_front_keeping_their_wait() -> None:
    """An absent agent's sessions wait in front of every new contact."""
    router = _router(agents=2, capacity=1)
    router.enqueue(_wait("held", since=0.0), 0.0)  # to a1
    router.enqueue(_wait("other", since=0.0), 0.0)  # to a2
    router.enqueue(_wait("vip-new", since=50.0, priority=100), 50.0)
    router.disconnect("a1")
    router.requeue_agent("a1", [_wait("held", since=0.0)], 60.0)
    assert router.queue("g") == ["held", "vip-new"]
    assert router.load("a1") == 0


def test_lapsed_offer_skips_the_agent_who_let_it_lapse() -> None:
    """A session whose offer lapsed goes to someone else, never back to them."""
    router = _router(agents=2, capacity=2)
    first = router.enqueue(_wait("s1"), 0.0)[0]
    assert first.agent_id == "a1"
    again = router.offer_lapsed(_wait("s1"), 60.0)
    assert [(a.session_id, a.agent_id) for a in again] == [("s1", "a2")]
    # With only the skipped agent left, the session waits rather than return.
    solo = _router(agents=1, capacity=2)
    solo.enqueue(_wait("s1"), 0.0)
    assert solo.offer_lapsed(_wait("s1"), 60.0) == []
    assert solo.queue("g") == ["s1"]


def test_balanced_random_only_picks_within_one_and_a_half_of_min() -> None:
    """The analysis' rule picks at random among agents near the lowest load."""
    router = _router(Strategy.BALANCED_RANDOM, agents=3, capacity=10, seed=7)
    # Load a1 with 4 sessions by making it the only one available.
    router.set_status("a2", AgentStatus.AWAY, 0.0)
    router.set_status("a3", AgentStatus.AWAY, 0.0)
    for n in range(4):
        router.enqueue(_wait(f"x{n}"), 0.0)
    router.set_status("a2", AgentStatus.ONLINE, 0.0)
    router.set_status("a3", AgentStatus.ONLINE, 0.0)
    # a2 and a3 have load 0, so a1 (4 > 1.5 * 0) must never be picked.
    for n in range(6):
        got = router.enqueue(_wait(f"y{n}"), 1.0)[0].agent_id
        assert got != "a1"
        if min(router.load("a2"), router.load("a3")) > 0:
            break


def test_round_robin_ignores_load() -> None:
    """The old rule gives the next agent in turn, whatever their load."""
    router = _router(Strategy.ROUND_ROBIN, agents=3, capacity=5)
    picked = [router.enqueue(_wait(f"s{n}"), 0.0)[0].agent_id for n in range(3)]
    assert picked == ["a1", "a2", "a3"]
    router.release("s2", 1.0)  # a2 now has the lowest load
    picked = [router.enqueue(_wait(f"t{n}"), 2.0)[0].agent_id for n in range(2)]
    assert picked == ["a1", "a2"]  # still in turn, not least loaded


def test_transfer_to_agent_needs_room() -> None:
    """A direct transfer to a full or absent agent is refused and changes nothing."""
    router = _router(agents=2, capacity=1)
    router.enqueue(_wait("s1"), 0.0)  # a1
    router.enqueue(_wait("s2"), 0.0)  # a2, now both full
    with pytest.raises(Conflict):
        router.transfer_to_agent("s1", "a2", 1.0)
    assert router.owner("s1") == "a1"
    router.release("s2", 2.0)
    router.transfer_to_agent("s1", "a2", 3.0)
    assert (router.owner("s1"), router.load("a1"), router.load("a2")) == ("a2", 0, 1)


def test_transfer_to_group_waits_in_front_of_the_new_group() -> None:
    """A session moved to another group is queued first there."""
    router = _router(agents=1, capacity=1)
    router.add_agent("b1", 1, ["billing"])
    router.enqueue(_wait("s1"), 0.0)
    router.enqueue(_wait("waiting", since=0.0, group="billing"), 0.0)
    router.transfer_to_group(_wait("s1", group="billing"), 5.0)
    assert router.queue("billing") == ["s1", "waiting"]
    assert router.load("a1") == 0


def test_staffed_slots_count_online_connected_capacity() -> None:
    """Estimated waits divide by the capacity of agents actually on duty."""
    router = _router(agents=3, capacity=4)
    router.set_status("a3", AgentStatus.AWAY, 0.0)
    assert router.staffed_slots("g") == 8
