"""Choice of the abstention threshold on held-out probabilities."""

from __future__ import annotations

import numpy as np

from kefu.classifier.calibration import calibrate


def test_net_correct_rule_abstains_where_wrong_answers_dominate() -> None:
    """Without rejection rows the threshold drops the low-confidence wrong answers."""
    probs = np.array(
        [[0.9, 0.1], [0.8, 0.2], [0.45, 0.55], [0.4, 0.6], [0.3, 0.7]],
        dtype=np.float32,
    )
    true = np.array([0, 0, 0, 0, 1])
    result = calibrate(probs, true, reject=[])
    assert result.rule == "net-correct"
    assert np.isclose(result.threshold, 0.7)


def test_threshold_is_zero_when_every_answer_is_right() -> None:
    """A held-out part with no mistakes gives the lowest threshold: never abstain."""
    probs = np.array([[0.6, 0.4], [0.2, 0.8]], dtype=np.float32)
    result = calibrate(probs, np.array([0, 1]), reject=[])
    assert result.threshold == 0.0


def test_balanced_rule_is_used_with_rejection_rows() -> None:
    """With rejection rows the threshold balances in-scope accuracy and OOS recall."""
    probs = np.array(
        [[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]],
        dtype=np.float32,
    )
    true = np.array([0, 1, 2, 2])
    result = calibrate(probs, true, reject=[2])
    assert result.rule == "balanced"
    assert 0.5 < result.threshold <= 0.85
    assert result.score == 1.0
