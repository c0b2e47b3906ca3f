"""Score predictions: accuracy, macro-F1, out-of-scope recall, confusions, latency.

Pure numpy and the standard library, shared by the ``evaluate`` command, the
training report and the benchmark.  A prediction of ``None`` is an abstention.
A row whose true label is not one of the model's in-scope labels is
*out of scope*: it is right only when the model abstains.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

#: How an abstention and an out-of-scope row are shown among confusions.
ABSTAIN = "(abstain)"
OUT_OF_SCOPE = "(out of scope)"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _per_class(
    true: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    hits = Counter(t for t, p in zip(true, predicted, strict=True) if t == p)
    support = Counter(true)
    guessed = Counter(p for p in predicted if p is not None)
    table: dict[str, dict[str, float | int]] = {}
    for label in labels:
        precision = _ratio(hits[label], guessed[label]) or 0.0
        recall = _ratio(hits[label], support[label]) or 0.0
        total = precision + recall
        f1 = 2 * precision * recall / total if total else 0.0
        table[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support[label],
        }
    return table


def _top_confusions(
    true: Sequence[str], predicted: Sequence[str | None], limit: int
) -> list[dict[str, Any]]:
    pairs = Counter(
        (t, ABSTAIN if p is None else p)
        for t, p in zip(true, predicted, strict=True)
        if t != p
    )
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [{"true": t, "predicted": p, "count": n} for (t, p), n in ranked[:limit]]


def score_predictions(
    true: Sequence[str],
    predicted: Sequence[str | None],
    top: Sequence[str],
    in_scope: Collection[str],
    confusions: int = 10,
) -> dict[str, Any]:
    """Return the evaluation report of one labelled set as a JSON-ready dict.

    ``predicted`` holds the served answer (``None`` when abstaining) and ``top``
    the most probable label ignoring the threshold, for every row.
    """
    # Split rows into in-scope and out-of-scope by their true label.
    shown = [t if t in in_scope else OUT_OF_SCOPE for t in true]
    inside = [i for i, t in enumerate(true) if t in in_scope]
    outside = [i for i, t in enumerate(true) if t not in in_scope]

    # Count what is right: the label for in-scope rows, abstention otherwise.
    in_hits = sum(predicted[i] == true[i] for i in inside)
    top_hits = sum(top[i] == true[i] for i in inside)
    oos_hits = sum(predicted[i] is None for i in outside)
    abstained = sum(p is None for p in predicted)

    # Macro-F1 over the in-scope labels that occur in the data or predictions.
    answered = {p for p in predicted if p is not None and p in in_scope}
    seen = sorted({true[i] for i in inside} | answered)
    per_class = _per_class(shown, predicted, seen)
    f1s = [row["f1"] for row in per_class.values()]
    return {
        "n": len(true),
        "n_in_scope": len(inside),
        "n_oos": len(outside),
        "accuracy": (in_hits + oos_hits) / len(true) if true else None,
        "in_scope_accuracy": _ratio(in_hits, len(inside)),
        "top1_accuracy": _ratio(top_hits, len(inside)),
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "oos_recall": _ratio(oos_hits, len(outside)),
        "abstain_rate": _ratio(abstained, len(true)),
        "per_class": per_class,
        "top_confusions": _top_confusions(shown, predicted, confusions),
    }


def measure_latency_ms(
    classify: Callable[[str], object], texts: Sequence[str], limit: int = 1000
) -> dict[str, float]:
    """Time single-message calls on up to ``limit`` texts; return p50 and p99.

    The first 20 calls warm the runtime up and are not counted.
    """
    sample = list(texts[:limit])
    for text in sample[:20]:
        classify(text)
    elapsed_ms = []
    for text in sample:
        start = time.perf_counter()
        classify(text)
        elapsed_ms.append((time.perf_counter() - start) * 1000.0)
    if not elapsed_ms:
        return {"p50": 0.0, "p99": 0.0}
    p50, p99 = np.percentile(np.array(elapsed_ms), [50, 99])
    return {"p50": float(p50), "p99": float(p99)}
