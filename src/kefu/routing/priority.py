"""A contact's base priority, from the customer's tier and the order's status.

Waiting time is added by the router's queues (aging: one point per
``aging_s`` seconds waited), so a regular customer overtakes a fresh VIP contact
after waiting long enough, and nobody starves.
"""

from __future__ import annotations

TIER_POINTS: dict[str, int] = {"regular": 0, "vip": 30}

#: Orders that are still on their way matter most: the customer is waiting for
#: food now.  Unknown statuses count as 0.
ORDER_STATUS_POINTS: dict[str, int] = {
    "delivering": 20,
    "delayed": 25,
    "preparing": 10,
    "delivered": 5,
    "cancelled": 0,
}


def base_priority(tier: str, order_status: str | None) -> int:
    """Priority points of a new contact before any waiting time is counted."""
    points = TIER_POINTS.get(tier, 0)
    if order_status is not None:
        points += ORDER_STATUS_POINTS.get(order_status, 0)
    return points
