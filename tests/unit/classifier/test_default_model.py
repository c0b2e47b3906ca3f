"""The model shipped inside the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.classifier import default_model_dir
from kefu.classifier.data import read_labelled
from kefu.classifier.model import OnnxClassifier
from kefu.routing.classifier import ISSUE_TYPES, Classifier

#: Sixty messages written apart from data/issue_types, six per issue type.
FRESH = Path(__file__).parents[2] / "fixtures" / "classifier" / "fresh_messages.csv"


@pytest.fixture(scope="module")
def shipped() -> OnnxClassifier:
    """The default model, loaded once for the module."""
    return OnnxClassifier.load(default_model_dir())


def test_default_model_covers_the_routing_issue_types(shipped: OnnxClassifier) -> None:
    """The shipped model answers with exactly the router's issue types."""
    assert sorted(shipped.in_scope_labels) == sorted(ISSUE_TYPES)
    classifier: Classifier = shipped
    assert classifier.classify("hello").confidence >= 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的外卖超时一个小时了还没送到", "late_delivery"),
        ("my order is an hour late and still not here", "late_delivery"),
        ("少送了一杯奶茶", "missing_or_wrong_item"),
        ("you sent me the wrong order", "missing_or_wrong_item"),
        ("饭菜都凉了，还有头发", "food_quality"),
        ("there was a hair in my food", "food_quality"),
        ("退款怎么还没到账", "refund"),
        ("I want a refund for this order", "refund"),
        ("付款的时候扣了两次钱", "payment"),
        ("I was charged twice", "payment"),
        ("骑手态度很差还骂人", "rider_behaviour"),
        ("the rider was rude to me", "rider_behaviour"),
        ("我想取消订单", "order_change"),
        ("can I change the delivery address?", "order_change"),
        ("收不到验证码，登录不了", "account"),
        ("I forgot my password", "account"),
        ("优惠券用不了", "coupons"),
        ("my coupon code doesn't work", "coupons"),
        ("怎么开发票", "other"),
        ("how do I get an invoice?", "other"),
    ],
)
def test_default_model_labels_obvious_messages(
    shipped: OnnxClassifier, text: str, expected: str
) -> None:
    """An obvious Chinese or English first message gets its issue type."""
    assert shipped.top_label(text) == expected
    assert shipped.classify(text).issue_type in (expected, None)


def test_default_model_generalises_to_fresh_messages(shipped: OnnxClassifier) -> None:
    """On messages written apart from the training set, top-1 accuracy stays >= 75%."""
    data = read_labelled(FRESH, "text", "label")
    pairs = zip(data.texts, data.labels, strict=True)
    hits = sum(shipped.top_label(text) == label for text, label in pairs)
    assert hits / len(data) >= 0.75
