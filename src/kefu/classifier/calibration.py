"""Choose the abstention threshold from held-out probabilities.

The threshold applies to the highest probability of a message (max-softmax).
It is chosen on the held-out part of the training data, never on test data,
by one of two rules:

- *balanced*, when the held-out part contains rows of a rejection label (such
  as ``oos``): the threshold maximises the mean of in-scope accuracy (an
  abstention counts as wrong) and out-of-scope recall;
- *net-correct*, otherwise: the threshold maximises the number of accepted
  right answers minus the accepted wrong ones, so the classifier abstains where
  the held-out part says it is more often wrong than right.

Among equally good thresholds the lowest wins: abstain as little as possible.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Calibration:
    """The chosen threshold, the rule used and the held-out score it reached."""

    threshold: float
    rule: str
    score: float


def _accepted(
    probs: npt.NDArray[np.float32], reject: Collection[int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    best = probs.argmax(axis=1)
    confidence = probs.max(axis=1).astype(np.float64)
    answerable = ~np.isin(best, list(reject))
    return confidence, best, answerable


def calibrate(
    probs: npt.NDArray[np.float32],
    true: npt.NDArray[np.int64],
    reject: Collection[int],
) -> Calibration:
    """Pick the threshold for held-out ``probs`` ``[n, labels]`` and ``true`` ids.

    ``reject`` holds the column ids of rejection labels.
    """
    # Every distinct confidence (and zero) is a candidate threshold.
    confidence, best, answerable = _accepted(probs, reject)
    candidates = np.unique(np.concatenate([[0.0], confidence]))
    accepted = answerable[None, :] & (confidence[None, :] >= candidates[:, None])
    right = best == true
    is_oos = np.isin(true, list(reject))

    # Score each candidate with the rule the held-out part allows.
    if is_oos.any() and (~is_oos).any():
        in_scope = (accepted & right)[:, ~is_oos].mean(axis=1)
        oos_recall = (~accepted)[:, is_oos].mean(axis=1)
        scores, rule = (in_scope + oos_recall) / 2.0, "balanced"
    else:
        scores = (accepted & right).sum(axis=1) - (accepted & ~right).sum(axis=1)
        scores, rule = scores.astype(np.float64), "net-correct"

    # argmax returns the first (lowest) of equally good candidates.
    chosen = int(np.argmax(scores))
    return Calibration(float(candidates[chosen]), rule, float(scores[chosen]))
