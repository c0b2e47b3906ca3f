"""Queueing estimates for a skill group, from the M/M/N (Erlang C) model.

A skill group with ``servers`` free-or-busy chat slots, customers arriving at
``arrival_rate`` per second and sessions lasting ``handle_time_s`` on average.
"""

from __future__ import annotations


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arriving contact has to wait (Erlang C formula).

    ``offered_load`` is arrival rate times mean handle time, in erlangs.  Returns
    1.0 when the group is saturated (load at or above the number of servers).
    """
    if servers <= 0 or offered_load >= servers:
        return 1.0
    if offered_load <= 0.0:
        return 0.0
    # Erlang B by its stable recurrence, then the standard B -> C conversion.
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = offered_load * blocking / (n + offered_load * blocking)
    utilisation = offered_load / servers
    return blocking / (1.0 - utilisation * (1.0 - blocking))


def mean_wait_s(
    servers: int, arrival_rate: float, handle_time_s: float
) -> float | None:
    """Expected wait of a new contact in the group (average speed of answer).

    ``None`` when the group cannot keep up (no servers, or load >= servers): the
    queue then grows without bound and no mean exists.
    """
    offered = arrival_rate * handle_time_s
    if servers <= 0 or offered >= servers:
        return None
    service_rate = servers / handle_time_s
    return erlang_c(servers, offered) / (service_rate - arrival_rate)


def wait_at_position_s(
    position: int, servers: int, handle_time_s: float
) -> float | None:
    """Expected wait of the contact at ``position`` (1 = next) in a busy group.

    With every slot busy, slots free up as a Poisson stream of rate
    ``servers / handle_time_s``; the contact at position k waits for the k-th
    release, whose mean is ``k * handle_time_s / servers``.  ``None`` when no
    agent of the group is staffed, so there is nothing to wait for.
    """
    if servers <= 0:
        return None
    return position * handle_time_s / servers
