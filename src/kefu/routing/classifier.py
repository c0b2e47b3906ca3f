"""The classifier interface the router depends on, and a keyword classifier.

A classifier maps a contact's first message to an *issue type*.  When it is not
confident enough it abstains (``issue_type`` is ``None``) and the router sends the
contact to the general skill group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: Issue types of a food-delivery service, shared by the keyword classifier, the
#: shipped learned model and the default skill-group map.
ISSUE_TYPES: tuple[str, ...] = (
    "late_delivery",
    "missing_or_wrong_item",
    "food_quality",
    "refund",
    "payment",
    "rider_behaviour",
    "order_change",
    "account",
    "coupons",
    "other",
)


@dataclass(frozen=True, slots=True)
class Classification:
    """What a classifier says of one text.

    ``issue_type`` is ``None`` when the classifier abstains; ``confidence`` is the
    score of its best label in ``[0, 1]`` either way.
    """

    issue_type: str | None
    confidence: float


class Classifier(Protocol):
    """Anything that can label a contact's first message."""

    def classify(self, text: str) -> Classification: ...


# Keywords per issue type, English and Chinese, checked in this order; the first
# type with a hit wins.  Matching is on lowercased text by substring, which suits
# Chinese (no word boundaries) and short English phrases alike.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("refund", ("refund", "money back", "退款", "退钱", "退费")),
    (
        "late_delivery",
        (
            "late",
            "not arrived",
            "still waiting",
            "where is my",
            "超时",
            "还没到",
            "没送到",
            "迟到",
            "送达慢",
            "太慢",
        ),
    ),
    (
        "missing_or_wrong_item",
        (
            "missing",
            "wrong item",
            "wrong order",
            "forgot",
            "少送",
            "漏送",
            "送错",
            "少了",
            "缺",
        ),
    ),
    (
        "food_quality",
        (
            "cold",
            "spoiled",
            "stale",
            "raw",
            "hair in",
            "quality",
            "凉了",
            "变质",
            "不新鲜",
            "没熟",
            "头发",
            "难吃",
        ),
    ),
    (
        "rider_behaviour",
        ("rider", "courier", "driver", "rude", "骑手", "配送员", "态度差", "送餐员"),
    ),
    ("payment", ("payment", "charged", "pay ", "card", "支付", "付款", "扣款", "扣了")),
    (
        "coupons",
        ("coupon", "voucher", "promo", "discount", "优惠券", "红包", "满减", "折扣"),
    ),
    (
        "order_change",
        (
            "cancel",
            "change my order",
            "change address",
            "modify",
            "取消",
            "修改",
            "改地址",
            "换地址",
        ),
    ),
    (
        "account",
        (
            "account",
            "log in",
            "login",
            "password",
            "sign in",
            "phone number",
            "账号",
            "账户",
            "登录",
            "密码",
            "手机号",
        ),
    ),
)


class KeywordClassifier:
    """A transparent rule-based classifier: the fallback when no model is loaded.

    Every hit has confidence 1.0; text with no keyword abstains with 0.0.
    """

    def classify(self, text: str) -> Classification:
        lowered = text.lower()
        for issue_type, words in _KEYWORDS:
            if any(word in lowered for word in words):
                return Classification(issue_type, 1.0)
        return Classification(None, 0.0)
