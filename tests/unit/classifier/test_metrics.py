"""Scoring of predictions with abstentions and out-of-scope rows."""

from __future__ import annotations

import pytest

from kefu.classifier.metrics import ABSTAIN, score_predictions


def test_out_of_scope_rows_are_right_only_when_abstaining() -> None:
    """An unknown true label counts as correct only for an abstention."""
    report = score_predictions(
        true=["a", "b", "oos", "oos"],
        predicted=["a", None, None, "a"],
        top=["a", "b", "b", "a"],
        in_scope=["a", "b"],
    )
    assert report["accuracy"] == pytest.approx(0.5)
    assert report["in_scope_accuracy"] == pytest.approx(0.5)
    assert report["top1_accuracy"] == pytest.approx(1.0)
    assert report["oos_recall"] == pytest.approx(0.5)
    assert report["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert {"true": "b", "predicted": ABSTAIN, "count": 1} in report["top_confusions"]


def test_oos_recall_is_none_without_out_of_scope_rows() -> None:
    """With no out-of-scope row the OOS recall is reported as None."""
    report = score_predictions(["a", "b"], ["a", "b"], ["a", "b"], ["a", "b"])
    assert report["oos_recall"] is None
    assert report["macro_f1"] == pytest.approx(1.0)
