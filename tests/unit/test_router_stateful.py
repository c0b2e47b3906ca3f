"""The router under random interleavings of every operation, checked after each step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kefu.errors import Conflict, NotFound
from kefu.routing.router import (
    AgentStatus,
    Assignment,
    Router,
    Strategy,
    Waiting,
)

GROUPS = ("g0", "g1", "g2")
MAX_AGENTS = 6

SETTINGS = settings(
    max_examples=150,
    stateful_step_count=50,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass
class _AgentModel:
    """What the test knows of an agent, independently of the router."""

    capacity: int
    skills: frozenset[str]
    status: AgentStatus = AgentStatus.OFFLINE
    connections: int = 0


@dataclass
class _SessionModel:
    """An open session: where it waits and which agent it must not be offered to."""

    group: str
    priority: int
    since: float
    skip: str | None = None


@dataclass
class _Model:
    agents: dict[str, _AgentModel] = field(default_factory=dict)
    sessions: dict[str, _SessionModel] = field(default_factory=dict)
    released: set[str] = field(default_factory=set)


class RouterMachine(RuleBasedStateMachine):
    """Drives one :class:`Router` and checks its invariants after every step."""

    strategy = Strategy.LEAST_LOADED

    def __init__(self) -> None:
        super().__init__()
        self.router = Router(self.strategy, aging_s=10.0, rng=random.Random(0))
        self.model = _Model()
        self.now = 1_000.0
        self.next_session = 0

    # -- helpers --------------------------------------------------------------

    def _available(self, agent_id: str) -> bool:
        agent = self.model.agents[agent_id]
        return (
            agent.status is AgentStatus.ONLINE
            and agent.connections > 0
            and self.router.load(agent_id) < agent.capacity
        )

    def _waiting(self, session_id: str) -> Waiting:
        info = self.model.sessions[session_id]
        return Waiting(session_id, info.group, info.priority, info.since)

    def _owned(self) -> list[str]:
        return sorted(
            s for s in self.model.sessions if self.router.owner(s) is not None
        )

    def _check_drained(self, assignments: list[Assignment]) -> None:
        # A queue hands sessions only to agents of its group, never to the skipped.
        for assignment in assignments:
            skills = self.model.agents[assignment.agent_id].skills
            assert assignment.skill_group in skills, assignment
            assert self.router.owner(assignment.session_id) is not None

    def _tick(self, elapsed: float) -> float:
        self.now += elapsed
        return self.now

    # -- agents ---------------------------------------------------------------

    @precondition(lambda self: len(self.model.agents) < MAX_AGENTS)
    @rule(
        capacity=st.integers(1, 3),
        skills=st.frozensets(st.sampled_from(GROUPS), min_size=1),
    )
    def add_agent(self, capacity: int, skills: frozenset[str]) -> None:
        agent_id = f"a{len(self.model.agents)}"
        self.router.add_agent(agent_id, capacity, sorted(skills))
        self.model.agents[agent_id] = _AgentModel(capacity, skills)

    @precondition(lambda self: bool(self.model.agents))
    @rule(
        data=st.data(),
        extra=st.integers(0, 2),
        skills=st.frozensets(st.sampled_from(GROUPS), min_size=1),
        elapsed=st.floats(0, 30),
    )
    def update_agent(
        self, data: st.DataObject, extra: int, skills: frozenset[str], elapsed: float
    ) -> None:
        # An operator changes an agent's profile (never below what they hold).
        agent_id = data.draw(st.sampled_from(sorted(self.model.agents)))
        model = self.model.agents[agent_id]
        capacity = max(1, self.router.load(agent_id)) + extra
        held = {self.router_group(s) for s in self.router.agent_sessions(agent_id)}
        skills = skills | held
        model.capacity, model.skills = capacity, skills
        self._check_drained(
            self.router.add_agent(
                agent_id, capacity, sorted(skills), self._tick(elapsed)
            )
        )

    def router_group(self, session_id: str) -> str:
        return self.model.sessions[session_id].group

    @precondition(lambda self: bool(self.model.agents))
    @rule(data=st.data(), elapsed=st.floats(0, 30))
    def connect(self, data: st.DataObject, elapsed: float) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.model.agents)))
        self._check_drained(self.router.connect(agent_id, self._tick(elapsed)))
        self.model.agents[agent_id].connections += 1

    @precondition(lambda self: bool(self.model.agents))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.model.agents)))
        agent = self.model.agents[agent_id]
        last = self.router.disconnect(agent_id)
        agent.connections = max(0, agent.connections - 1)
        assert last == (agent.connections == 0)

    @precondition(lambda self: bool(self.model.agents))
    @rule(
        data=st.data(),
        status=st.sampled_from(list(AgentStatus)),
        elapsed=st.floats(0, 30),
    )
    def set_status(
        self, data: st.DataObject, status: AgentStatus, elapsed: float
    ) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.model.agents)))
        self.model.agents[agent_id].status = status
        self._check_drained(
            self.router.set_status(agent_id, status, self._tick(elapsed))
        )

    # -- sessions -------------------------------------------------------------

    @rule(
        group=st.sampled_from(GROUPS),
        priority=st.integers(0, 50),
        waited=st.floats(0, 600),
        elapsed=st.floats(0, 30),
    )
    def enqueue(self, group: str, priority: int, waited: float, elapsed: float) -> None:
        now = self._tick(elapsed)
        session_id = f"s{self.next_session}"
        self.next_session += 1
        self.model.sessions[session_id] = _SessionModel(group, priority, now - waited)
        self._check_drained(self.router.enqueue(self._waiting(session_id), now))

    @precondition(lambda self: bool(self.model.sessions))
    @rule(data=st.data(), elapsed=st.floats(0, 30))
    def release(self, data: st.DataObject, elapsed: float) -> None:
        session_id = data.draw(st.sampled_from(sorted(self.model.sessions)))
        del self.model.sessions[session_id]
        self.model.released.add(session_id)
        self._check_drained(self.router.release(session_id, self._tick(elapsed)))

    @precondition(
        lambda self: any(
            a.connections == 0 and self.router.agent_sessions(agent_id)
            for agent_id, a in self.model.agents.items()
        )
    )
    @rule(data=st.data(), elapsed=st.floats(0, 30))
    def requeue_after_grace(self, data: st.DataObject, elapsed: float) -> None:
        absent = sorted(
            agent_id
            for agent_id, a in self.model.agents.items()
            if a.connections == 0 and self.router.agent_sessions(agent_id)
        )
        agent_id = data.draw(st.sampled_from(absent))
        held = sorted(self.router.agent_sessions(agent_id))
        for session_id in held:
            self.model.sessions[session_id].skip = None
        waiting = [self._waiting(s) for s in held]
        self._check_drained(
            self.router.requeue_agent(agent_id, waiting, self._tick(elapsed))
        )
        assert self.router.load(agent_id) == 0

    @precondition(lambda self: bool(self._owned()))
    @rule(data=st.data(), elapsed=st.floats(0, 30))
    def offer_lapsed(self, data: st.DataObject, elapsed: float) -> None:
        session_id = data.draw(st.sampled_from(self._owned()))
        lapsed_by = self.router.owner(session_id)
        self.model.sessions[session_id].skip = lapsed_by
        assignments = self.router.offer_lapsed(
            self._waiting(session_id), self._tick(elapsed)
        )
        self._check_drained(assignments)
        assert self.router.owner(session_id) != lapsed_by

    @precondition(lambda self: bool(self.model.sessions))
    @rule(data=st.data(), group=st.sampled_from(GROUPS), elapsed=st.floats(0, 30))
    def transfer_to_group(
        self, data: st.DataObject, group: str, elapsed: float
    ) -> None:
        session_id = data.draw(st.sampled_from(sorted(self.model.sessions)))
        previous = self.router.owner(session_id)
        info = self.model.sessions[session_id]
        info.group, info.skip = group, previous
        assignments = self.router.transfer_to_group(
            self._waiting(session_id), self._tick(elapsed)
        )
        self._check_drained(assignments)
        if previous is not None:
            assert self.router.owner(session_id) != previous

    @precondition(lambda self: bool(self.model.sessions))
    @rule(
        data=st.data(),
        to=st.sampled_from([f"a{n}" for n in range(MAX_AGENTS + 1)]),
        elapsed=st.floats(0, 30),
    )
    def transfer_to_agent(self, data: st.DataObject, to: str, elapsed: float) -> None:
        target = to
        session_id = data.draw(st.sampled_from(sorted(self.model.sessions)))
        previous = self.router.owner(session_id)
        if target == previous:
            return  # the engine refuses this before asking the router
        now = self._tick(elapsed)
        if target not in self.model.agents:
            with pytest.raises(NotFound):
                self.router.transfer_to_agent(session_id, target, now)
        elif not self._available(target):
            with pytest.raises(Conflict):
                self.router.transfer_to_agent(session_id, target, now)
            assert self.router.owner(session_id) == previous
        else:
            assignments = self.router.transfer_to_agent(session_id, target, now)
            assert assignments[0].session_id == session_id
            assert self.router.owner(session_id) == target
            self._check_drained(assignments[1:])

    # -- invariants -----------------------------------------------------------

    @invariant()
    def load_within_capacity(self) -> None:
        for agent_id, agent in self.model.agents.items():
            assert self.router.load(agent_id) <= agent.capacity, agent_id

    @invariant()
    def every_session_is_owned_or_waits_once(self) -> None:
        queued: dict[str, list[str]] = {}
        for group in self.router.groups():
            for session_id in self.router.queue(group):
                queued.setdefault(session_id, []).append(group)
        held = {
            session_id: agent_id
            for agent_id in self.model.agents
            for session_id in self.router.agent_sessions(agent_id)
        }
        for session_id, info in self.model.sessions.items():
            owner = self.router.owner(session_id)
            if owner is None:
                assert queued.get(session_id) == [info.group], session_id
                assert session_id not in held, session_id
            else:
                assert session_id not in queued, session_id
                assert held.get(session_id) == owner, session_id
        for session_id in self.model.released:
            assert self.router.owner(session_id) is None
            assert session_id not in queued and session_id not in held
        assert set(held) | set(queued) <= set(self.model.sessions)

    @invariant()
    def queue_positions_are_gap_free(self) -> None:
        for group in self.router.groups():
            queue = self.router.queue(group)
            positions = [self.router.position(s) for s in queue]
            assert positions == list(range(1, len(queue) + 1)), group

    @invariant()
    def nobody_waits_while_capacity_is_free(self) -> None:
        for group in self.router.groups():
            available = {
                agent_id
                for agent_id, agent in self.model.agents.items()
                if group in agent.skills and self._available(agent_id)
            }
            for session_id in self.router.queue(group):
                skip = self.model.sessions[session_id].skip
                assert not available - {skip}, (group, session_id, available)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_router_invariants_hold_under_random_operations(strategy: Strategy) -> None:
    """No interleaving of operations breaks capacity, queue or drain invariants."""
    machine = type(
        f"RouterMachine_{strategy.value}", (RouterMachine,), {"strategy": strategy}
    )
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_balanced_random_gives_a_lapsed_session_to_a_busier_agent() -> None:
    """A session that must skip the idle agent goes to another with room."""
    router = Router(Strategy.BALANCED_RANDOM, rng=random.Random(0))
    router.add_agent("idle", 1, ["g"])
    router.add_agent("busy", 2, ["g"])
    # busy holds one session, then steps away keeping it.
    router.connect("busy", 0.0)
    router.set_status("busy", AgentStatus.ONLINE, 0.0)
    router.enqueue(Waiting("held", "g", 0, 0.0), 0.0)
    router.set_status("busy", AgentStatus.AWAY, 1.0)
    # idle lets the offer of s1 lapse: s1 waits and must not return to idle.
    router.connect("idle", 2.0)
    router.set_status("idle", AgentStatus.ONLINE, 2.0)
    router.enqueue(Waiting("s1", "g", 0, 3.0), 3.0)
    router.offer_lapsed(Waiting("s1", "g", 0, 3.0), 4.0)
    assert router.queue("g") == ["s1"]
    # busy comes back with a free slot (load 1 of 2): s1 should go to them.
    router.set_status("busy", AgentStatus.ONLINE, 5.0)
    assert router.owner("s1") == "busy"
