"""``kefu bench routing``: assignments per second of the router, pure.

Every agent is online, connected and full (capacity 5), with a backlog of
waiting sessions behind them: the state of a busy contact centre.  One step
closes a random session; the freed slot takes the head of the backlog, and a
new session joins the backlog's tail, so the backlog stays the same length.

kefu's :class:`~kefu.routing.router.Router` (default strategy) is compared
with the linear scan its balanced rule implies when done naively: the lowest
load among available agents, then a random pick among the available agents
within 1.5 times it, both found by walking every agent.
"""

from __future__ import annotations

import collections
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from kefu.routing.router import AgentStatus, Router, Waiting

logger = logging.getLogger(__name__)

#: Sessions each agent holds when full.
CAPACITY = 5
#: Sessions waiting behind the full agents.
BACKLOG = 1_000
#: The skill group every agent and session belongs to.
GROUP = "delivery"
#: Steps between two looks at the clock.
CLOCK_EVERY = 64


def kefu_rate(agents: int, seconds: float, seed: int = 1) -> float:
    """Assignments per second of kefu's router with ``agents`` full agents."""
    # Agents online and connected, every slot filled, then the backlog.
    router = Router()
    for n in range(agents):
        router.add_agent(f"a{n}", CAPACITY, (GROUP,))
        router.set_status(f"a{n}", AgentStatus.ONLINE, 0.0)
        router.connect(f"a{n}", 0.0)
    held: list[str] = []
    arrivals = 0
    for arrivals in range(agents * CAPACITY + BACKLOG):
        waiting = Waiting(f"s{arrivals}", GROUP, 0, float(arrivals))
        held += [a.session_id for a in router.enqueue(waiting, float(arrivals))]

    # Close a random session; its slot takes the backlog's head; refill.
    rng = random.Random(seed)
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    now = float(arrivals)
    while True:
        for _ in range(CLOCK_EVERY):
            now += 1.0
            slot = rng.randrange(len(held))
            assignments = router.release(held[slot], now)
            held[slot] = assignments[0].session_id
            arrivals += 1
            router.enqueue(Waiting(f"s{arrivals}", GROUP, 0, now), now)
            done += len(assignments)
        if time.perf_counter() >= deadline:
            return done / (time.perf_counter() - started)


@dataclass(slots=True)
class _ScanAgent:
    agent_id: str
    load: int
    capacity: int


def scan_pick(agents: list[_ScanAgent], rng: random.Random) -> _ScanAgent:
    """The naive balanced rule: two walks over every agent, then a random pick."""
    min_load = min(a.load for a in agents if a.load < a.capacity)
    bound = min_load * 1.5
    candidates = [a for a in agents if a.load < a.capacity and a.load <= bound]
    return rng.choice(candidates)


def scan_rate(agents: int, seconds: float, seed: int = 1) -> float:
    """Assignments per second of the linear scan, on the same state and steps."""
    # The same state: every agent full, a backlog behind them.
    pool = [_ScanAgent(f"a{n}", CAPACITY, CAPACITY) for n in range(agents)]
    held = [pool[n // CAPACITY] for n in range(agents * CAPACITY)]
    backlog = collections.deque(range(BACKLOG))
    arrivals = BACKLOG

    # The same steps: free a random slot, give the backlog's head a pick.
    rng = random.Random(seed)
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(CLOCK_EVERY // 16 or 1):
            slot = rng.randrange(len(held))
            held[slot].load -= 1
            backlog.popleft()
            agent = scan_pick(pool, rng)
            agent.load += 1
            held[slot] = agent
            backlog.append(arrivals)
            arrivals += 1
            done += 1
        if time.perf_counter() >= deadline:
            return done / (time.perf_counter() - started)


def run(agent_counts: list[int], seconds: float, main: int) -> dict[str, Any]:
    """kefu's router and the scan at each size; ``main`` is the headline one."""
    rows = []
    for agents in agent_counts:
        kefu = kefu_rate(agents, seconds)
        scan = scan_rate(agents, seconds)
        logger.info("routing: %d agents: kefu %.0f/s, scan %.0f/s", agents, kefu, scan)
        rows.append(
            {
                "agents": agents,
                "kefu_per_s": round(kefu),
                "scan_per_s": round(scan, 1),
                "ratio": round(kefu / scan, 1) if scan else None,
            }
        )
    headline = next((r for r in rows if r["agents"] == main), rows[0])
    return {**headline, "by_agents": rows}
