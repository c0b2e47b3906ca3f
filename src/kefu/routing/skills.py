"""Which skill group handles which issue type."""

from __future__ import annotations

from collections.abc import Mapping

GENERAL_GROUP = "general"

#: The default map for a food-delivery service; operators can override it.
DEFAULT_GROUP_OF: Mapping[str, str] = {
    "late_delivery": "delivery",
    "rider_behaviour": "delivery",
    "missing_or_wrong_item": "orders",
    "food_quality": "orders",
    "order_change": "orders",
    "refund": "billing",
    "payment": "billing",
    "coupons": "billing",
    "account": "account",
    "other": GENERAL_GROUP,
}

DEFAULT_GROUPS: tuple[str, ...] = (
    "general",
    "delivery",
    "orders",
    "billing",
    "account",
)


def skill_group_for(issue_type: str | None, group_of: Mapping[str, str]) -> str:
    """The group for an issue type; abstentions and unknown types go to general."""
    if issue_type is None:
        return GENERAL_GROUP
    return group_of.get(issue_type, GENERAL_GROUP)
