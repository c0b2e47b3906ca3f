"""The router: skill-group queues and load-aware assignment, as a pure state machine.

The router holds, for one kefu process, which agents can take sessions, how
many they hold, and who is waiting in each skill group's queue.  It does no I/O
and reads no clock: every method that depends on time takes ``now`` (seconds
since the epoch), and every decision is returned to the caller as
:class:`Assignment` values for it to persist and announce.

Invariant: an agent's load never exceeds their capacity through any method of
this class, whatever the strategy.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from kefu.errors import Conflict, NotFound


class AgentStatus(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Strategy(enum.StrEnum):
    """How an agent is picked among those who can take a session."""

    #: Fewest sessions first; ties go to the agent idle the longest.
    LEAST_LOADED = "least_loaded"
    #: At random among agents whose load is within 1.5x of the minimum.
    BALANCED_RANDOM = "balanced_random"
    #: The next agent in turn with room, ignoring how loaded they are.
    ROUND_ROBIN = "round_robin"


@dataclass(frozen=True, slots=True)
class Assignment:
    """A session the router has just given to an agent."""

    session_id: str
    agent_id: str
    skill_group: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A session waiting in a skill group's queue."""

    session_id: str
    skill_group: str
    priority: int
    #: When the customer started waiting; kept across requeues.
    since: float
    #: Sessions that lost their agent wait in front of every new contact.
    front: bool = False
    #: An agent who let this session's offer lapse is not offered it again.
    skip_agent: str | None = None


@dataclass(slots=True)
class _Agent:
    agent_id: str
    capacity: int
    skills: frozenset[str]
    status: AgentStatus = AgentStatus.OFFLINE
    connections: int = 0
    sessions: set[str] = field(default_factory=set)
    #: When the agent last received a session; 0 if never (idle the longest).
    last_assigned_at: float = 0.0

    @property
    def load(self) -> int:
        return len(self.sessions)

    @property
    def available(self) -> bool:
        """Online, connected and below capacity."""
        return (
            self.status is AgentStatus.ONLINE
            and self.connections > 0
            and self.load < self.capacity
        )

    def rank(self) -> tuple[int, float, str]:
        return (self.load, self.last_assigned_at, self.agent_id)


@dataclass(slots=True)
class _Group:
    """One skill group: its queue and its available agents by rank."""

    name: str
    aging_s: float
    #: Queue order: front sessions first, then by aged priority, then arrival.
    queue: SortedList = field(default_factory=SortedList)
    #: Session id -> its queue key, and queue key -> the waiting session.
    keys: dict[str, tuple[int, float, int]] = field(default_factory=dict)
    waiting: dict[tuple[int, float, int], Waiting] = field(default_factory=dict)
    #: Available agents ordered by (load, last assigned, id).
    ranked: SortedList = field(default_factory=SortedList)
    members: list[str] = field(default_factory=list)
    turn: int = 0

    def queue_key(self, waiting: Waiting, arrival: int) -> tuple[int, float, int]:
        # Aging adds one priority point per ``aging_s`` waited.  Every entry ages
        # at the same rate, so ordering by ``since - priority * aging_s`` ranks
        # them by aged priority at any moment, and the key never changes.
        return (
            0 if waiting.front else 1,
            waiting.since - waiting.priority * self.aging_s,
            arrival,
        )


class Router:
    """Skill-group queues and assignment for one process; see the module docstring."""

    #: How far down a queue to look for a session whose only available agent
    #: is one it must skip.
    SKIP_SCAN_LIMIT = 16

    def __init__(
        self,
        strategy: Strategy = Strategy.LEAST_LOADED,
        *,
        aging_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.strategy = strategy
        self.aging_s = aging_s
        self._rng = rng or random.Random()
        self._agents: dict[str, _Agent] = {}
        self._groups: dict[str, _Group] = {}
        self._owner: dict[str, str] = {}  # session id -> agent id
        self._session_group: dict[str, str] = {}
        self._arrivals = 0

    # -- agents -------------------------------------------------------------

    def add_agent(
        self, agent_id: str, capacity: int, skills: Iterable[str], now: float = 0.0
    ) -> list[Assignment]:
        """Register an agent (offline and disconnected) or update their profile.

        More capacity or a new skill for an agent on duty drains queues at once.
        """
        existing = self._agents.get(agent_id)
        if existing is not None:
            self._unrank(existing)
            for name in existing.skills:
                self._group(name).members.remove(agent_id)
        agent = existing or _Agent(agent_id, capacity, frozenset())
        agent.capacity = capacity
        agent.skills = frozenset(skills)
        self._agents[agent_id] = agent
        for name in agent.skills:
            self._group(name).members.append(agent_id)
        self._rank(agent)
        return self._drain_for(agent, now)

    def set_status(
        self, agent_id: str, status: AgentStatus, now: float
    ) -> list[Assignment]:
        """Change an agent's status; going online may drain queues."""
        agent = self._agent(agent_id)
        self._unrank(agent)
        agent.status = status
        self._rank(agent)
        return self._drain_for(agent, now)

    def connect(self, agent_id: str, now: float) -> list[Assignment]:
        """Count one more open connection for the agent."""
        agent = self._agent(agent_id)
        self._unrank(agent)
        agent.connections += 1
        self._rank(agent)
        return self._drain_for(agent, now)

    def disconnect(self, agent_id: str) -> bool:
        """Count one connection fewer; True when it was the agent's last one."""
        agent = self._agent(agent_id)
        self._unrank(agent)
        agent.connections = max(0, agent.connections - 1)
        self._rank(agent)
        return agent.connections == 0

    def is_connected(self, agent_id: str) -> bool:
        agent = self._agents.get(agent_id)
        return agent is not None and agent.connections > 0

    def agent_sessions(self, agent_id: str) -> frozenset[str]:
        return frozenset(self._agent(agent_id).sessions)

    def load(self, agent_id: str) -> int:
        return self._agent(agent_id).load

    def capacity(self, agent_id: str) -> int:
        return self._agent(agent_id).capacity

    def status(self, agent_id: str) -> AgentStatus:
        return self._agent(agent_id).status

    def skills(self, agent_id: str) -> frozenset[str]:
        return self._agent(agent_id).skills

    # -- sessions -----------------------------------------------------------

    def enqueue(self, waiting: Waiting, now: float) -> list[Assignment]:
        """Put a session in its group's queue and assign whatever now fits."""
        self._push(waiting)
        return self._drain(self._group(waiting.skill_group), now)

    def restore_assigned(
        self, session_id: str, agent_id: str, skill_group: str
    ) -> None:
        """Record, at start-up, a session the store says an agent already holds."""
        agent = self._agent(agent_id)
        self._unrank(agent)
        agent.sessions.add(session_id)
        self._rank(agent)
        self._owner[session_id] = agent_id
        self._session_group[session_id] = skill_group

    def release(self, session_id: str, now: float) -> list[Assignment]:
        """Forget a closed session, freeing its slot or its place in the queue."""
        agent_id = self._owner.pop(session_id, None)
        group_name = self._session_group.pop(session_id, None)
        if group_name is not None:
            self._remove_waiting(self._group(group_name), session_id)
        if agent_id is None:
            return []
        agent = self._agents[agent_id]
        self._take_from(agent, session_id)
        return self._drain_for(agent, now)

    def requeue_agent(
        self, agent_id: str, waiting: Iterable[Waiting], now: float
    ) -> list[Assignment]:
        """Put an absent agent's sessions back at the front of their queues.

        ``waiting`` describes each of the agent's sessions (its caller knows their
        priority and waiting time); they keep their original waiting time.
        """
        agent = self._agent(agent_id)
        groups: set[str] = set()
        for item in waiting:
            if self._owner.get(item.session_id) != agent_id:
                continue
            del self._owner[item.session_id]
            self._take_from(agent, item.session_id)
            self._push(_front(item, skip_agent=None))
            groups.add(item.skill_group)
        return self._drain_groups(groups, now)

    def offer_lapsed(self, waiting: Waiting, now: float) -> list[Assignment]:
        """Offer a session its agent did not answer in time to someone else."""
        agent_id = self._owner.get(waiting.session_id)
        if agent_id is None:
            return []
        del self._owner[waiting.session_id]
        agent = self._agents[agent_id]
        self._take_from(agent, waiting.session_id)
        self._push(_front(waiting, skip_agent=agent_id))
        return self._drain(self._group(waiting.skill_group), now) + self._drain_for(
            agent, now
        )

    def transfer_to_group(self, waiting: Waiting, now: float) -> list[Assignment]:
        """Move a session to the front of another group's queue."""
        agent_id = self._owner.pop(waiting.session_id, None)
        old_group = self._session_group.get(waiting.session_id)
        if old_group is not None:
            self._remove_waiting(self._group(old_group), waiting.session_id)
        self._push(_front(waiting, skip_agent=agent_id))
        assignments = self._drain(self._group(waiting.skill_group), now)
        if agent_id is not None:
            agent = self._agents[agent_id]
            self._take_from(agent, waiting.session_id)
            assignments += self._drain_for(agent, now)
        return assignments

    def transfer_to_agent(
        self, session_id: str, agent_id: str, now: float
    ) -> list[Assignment]:
        """Give a session straight to a named agent who has room."""
        target = self._agents.get(agent_id)
        if target is None:
            raise NotFound("no such agent")
        if not target.available:
            raise Conflict("the agent is not available or has no free capacity")
        group_name = self._session_group[session_id]
        self._remove_waiting(self._group(group_name), session_id)
        previous = self._owner.get(session_id)
        assignments = [self._assign(target, session_id, group_name, now)]
        if previous is not None and previous != agent_id:
            agent = self._agents[previous]
            self._take_from(agent, session_id)
            assignments += self._drain_for(agent, now)
        return assignments

    def owner(self, session_id: str) -> str | None:
        return self._owner.get(session_id)

    # -- queues -------------------------------------------------------------

    def queue(self, skill_group: str) -> list[str]:
        """Session ids waiting in a group, in the order they will be served."""
        group = self._groups.get(skill_group)
        if group is None:
            return []
        return [group.waiting[key].session_id for key in group.queue]

    def queue_length(self, skill_group: str) -> int:
        group = self._groups.get(skill_group)
        return 0 if group is None else len(group.keys)

    def position(self, session_id: str) -> int | None:
        """1-based place of a waiting session in its queue, else None."""
        group_name = self._session_group.get(session_id)
        if group_name is None or session_id in self._owner:
            return None
        group = self._groups[group_name]
        key = group.keys.get(session_id)
        return None if key is None else group.queue.index(key) + 1

    def oldest_wait_since(self, skill_group: str) -> float | None:
        group = self._groups.get(skill_group)
        if group is None or not group.waiting:
            return None
        return min(waiting.since for waiting in group.waiting.values())

    def staffed_slots(self, skill_group: str) -> int:
        """Chat slots of the group's online, connected agents (busy or not)."""
        group = self._groups.get(skill_group)
        if group is None:
            return 0
        return sum(
            agent.capacity
            for agent in (self._agents[a] for a in group.members)
            if agent.status is AgentStatus.ONLINE and agent.connections > 0
        )

    def groups(self) -> list[str]:
        return sorted(self._groups)

    def agents(self) -> list[str]:
        return sorted(self._agents)

    def group_members(self, skill_group: str) -> list[str]:
        group = self._groups.get(skill_group)
        return [] if group is None else list(group.members)

    # -- internals ----------------------------------------------------------

    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise NotFound("no such agent")
        return agent

    def _group(self, name: str) -> _Group:
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group(name, self.aging_s)
        return group

    def _rank(self, agent: _Agent) -> None:
        if agent.available:
            for name in agent.skills:
                self._group(name).ranked.add(agent.rank())

    def _unrank(self, agent: _Agent) -> None:
        if agent.available:
            for name in agent.skills:
                self._group(name).ranked.discard(agent.rank())

    def _take_from(self, agent: _Agent, session_id: str) -> None:
        self._unrank(agent)
        agent.sessions.discard(session_id)
        self._rank(agent)

    def _push(self, waiting: Waiting) -> None:
        group = self._group(waiting.skill_group)
        self._remove_waiting(group, waiting.session_id)
        self._arrivals += 1
        key = group.queue_key(waiting, self._arrivals)
        group.queue.add(key)
        group.keys[waiting.session_id] = key
        group.waiting[key] = waiting
        self._session_group[waiting.session_id] = waiting.skill_group

    def _remove_waiting(self, group: _Group, session_id: str) -> None:
        key = group.keys.pop(session_id, None)
        if key is not None:
            group.queue.remove(key)
            del group.waiting[key]

    def _drain_for(self, agent: _Agent, now: float) -> list[Assignment]:
        return self._drain_groups(agent.skills, now)

    def _drain_groups(self, names: Iterable[str], now: float) -> list[Assignment]:
        assignments: list[Assignment] = []
        for name in sorted(names):
            assignments += self._drain(self._group(name), now)
        return assignments

    def _drain(self, group: _Group, now: float) -> list[Assignment]:
        """Assign queued sessions of a group, in order, while agents have room."""
        assignments: list[Assignment] = []
        while group.keys and group.ranked:
            picked = self._next_pair(group)
            if picked is None:
                break
            waiting, agent = picked
            self._remove_waiting(group, waiting.session_id)
            assignments.append(self._assign(agent, waiting.session_id, group.name, now))
        return assignments

    def _next_pair(self, group: _Group) -> tuple[Waiting, _Agent] | None:
        # Usually the head of the queue goes to the strategy's pick; a session
        # that must skip the only available agent lets the next one go first.
        for key in group.queue.islice(0, self.SKIP_SCAN_LIMIT):
            waiting = group.waiting[key]
            agent = self._pick(group, waiting.skip_agent)
            if agent is not None:
                return waiting, agent
        return None

    def _pick(self, group: _Group, skip: str | None) -> _Agent | None:
        if self.strategy is Strategy.ROUND_ROBIN:
            return self._next_in_turn(group, skip)
        candidates = [
            self._agents[agent_id]
            for _, _, agent_id in _ranked_candidates(group, self.strategy, skip)
        ]
        if not candidates:
            return None
        if self.strategy is Strategy.LEAST_LOADED:
            return candidates[0]
        return self._rng.choice(candidates)

    def _next_in_turn(self, group: _Group, skip: str | None) -> _Agent | None:
        # Walk the members from where the last turn ended, whatever their load.
        count = len(group.members)
        for step in range(count):
            agent = self._agents[group.members[(group.turn + step) % count]]
            if agent.available and agent.agent_id != skip:
                group.turn = (group.turn + step + 1) % count
                return agent
        return None

    def _assign(
        self, agent: _Agent, session_id: str, group: str, now: float
    ) -> Assignment:
        if not agent.available:
            raise Conflict("the agent has no free capacity")
        self._unrank(agent)
        agent.sessions.add(session_id)
        agent.last_assigned_at = now
        self._rank(agent)
        self._owner[session_id] = agent.agent_id
        self._session_group[session_id] = group
        return Assignment(session_id, agent.agent_id, group)


def _front(waiting: Waiting, *, skip_agent: str | None) -> Waiting:
    return Waiting(
        waiting.session_id,
        waiting.skill_group,
        waiting.priority,
        waiting.since,
        front=True,
        skip_agent=skip_agent,
    )


def _ranked_candidates(
    group: _Group, strategy: Strategy, skip: str | None
) -> Iterator[tuple[int, float, str]]:
    """Available agents the strategy may choose from, best first.

    An agent the session must skip is left out before anything is compared,
    so the lowest load (and the 1.5x threshold) is that of the others.
    """
    ranks = (rank for rank in group.ranked if rank[2] != skip)
    first = next(ranks, None)
    if first is None:
        return
    yield first
    if strategy is Strategy.LEAST_LOADED:
        return
    threshold = first[0] * 1.5
    for rank in ranks:
        if rank[0] > threshold:
            return
        yield rank
