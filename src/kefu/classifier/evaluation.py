"""Evaluate a served model on a labelled set and render the report as text."""

from __future__ import annotations

from typing import Any

import numpy as np

from kefu.classifier.data import LabelledSet
from kefu.classifier.metrics import measure_latency_ms, score_predictions
from kefu.classifier.model import OnnxClassifier


def evaluate_model(
    model: OnnxClassifier, data: LabelledSet, latency_rows: int = 1000
) -> dict[str, Any]:
    """Score ``model`` on ``data`` and time single-message calls."""
    # Score every row once; keep the served answer and the top label.
    scored = [model.score(text) for text in data.texts]
    served = [each.label for each in scored]
    top = [model.labels[int(np.argmax(each.probs))] for each in scored]

    # Aggregate, then time classify() one message at a time.
    report = score_predictions(data.labels, served, top, model.in_scope_labels)
    report["latency_ms"] = measure_latency_ms(model.classify, data.texts, latency_rows)
    report["threshold"] = model.threshold
    return report


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:.2f}%"


def render_report(report: dict[str, Any]) -> str:
    """Render an evaluation report as plain text for a terminal."""
    # Headline numbers first.
    lines = [
        f"rows: {report['n']} ({report['n_oos']} out of scope)",
        f"accuracy: {_percent(report['accuracy'])}",
        f"in-scope accuracy: {_percent(report['in_scope_accuracy'])}"
        f" (top-1 ignoring abstention: {_percent(report['top1_accuracy'])})",
        f"macro-F1: {_percent(report['macro_f1'])}",
        f"out-of-scope recall: {_percent(report['oos_recall'])}",
        f"abstained: {_percent(report['abstain_rate'])}",
        "latency (ms, one message): p50 {p50:.3f}, p99 {p99:.3f}".format(
            **report["latency_ms"]
        ),
        "",
        f"{'label':<28} {'precision':>9} {'recall':>9} {'support':>8}",
    ]

    # Then one row per class, and the most frequent confusions.
    for label, row in report["per_class"].items():
        lines.append(
            f"{label:<28} {row['precision']:>9.3f} {row['recall']:>9.3f}"
            f" {row['support']:>8}"
        )
    lines += ["", "top confusions (true -> predicted: count):"]
    lines += [
        f"  {c['true']} -> {c['predicted']}: {c['count']}"
        for c in report["top_confusions"]
    ]
    return "\n".join(lines)
