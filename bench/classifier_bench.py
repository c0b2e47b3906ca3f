"""Measure the issue-type LSTM against the n-gram baseline on public text sets.

Usage::

    python bench/classifier_bench.py --data-root /path/to/data [--json OUT]

``--data-root`` holds ``banking77/``, ``clinc150/``, ``smp2017/`` and
``waimai_10k/`` (see docs/classifier.md).  Each set gets one fixed split: for
CLINC150 the ``train`` list (plus ``oos_train`` as the rejection class ``oos``)
trains and ``val`` plus ``oos_val`` test; the others are split 80/20, stratified,
with seed 0.  Both models train on the same rows and never see the test rows;
the LSTM's early stopping and threshold use a part held out of its training
rows.  The script prints a Markdown table and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kefu.classifier.baseline import NgramBaseline
from kefu.classifier.data import LabelledSet, read_labelled, stratified_split
from kefu.classifier.evaluation import evaluate_model
from kefu.classifier.metrics import measure_latency_ms, score_predictions
from kefu.classifier.model import OnnxClassifier
from kefu.classifier.training import TrainSettings, save, train

logger = logging.getLogger("bench.classifier")

Split = tuple[LabelledSet, LabelledSet]


def _split(data: LabelledSet, seed: int = 0) -> Split:
    kept, held = stratified_split(data.labels, 0.2, seed)
    return data.subset(kept), data.subset(held)


def _pairs(rows: list[list[str]], oos: bool = False) -> LabelledSet:
    return LabelledSet(
        tuple(text for text, _ in rows),
        tuple("oos" if oos else label for _, label in rows),
    )


def _clinc(root: Path) -> Split:
    raw = json.loads((root / "clinc150" / "train_val.json").read_text("utf-8"))
    train_rows = _pairs(raw["train"])
    train_oos = _pairs(raw["oos_train"], oos=True)
    test_rows = _pairs(raw["val"])
    test_oos = _pairs(raw["oos_val"], oos=True)
    return (
        LabelledSet(train_rows.texts + train_oos.texts,
                    train_rows.labels + train_oos.labels),
        LabelledSet(test_rows.texts + test_oos.texts,
                    test_rows.labels + test_oos.labels),
    )


LOADERS: dict[str, Callable[[Path], Split]] = {
    "banking77": lambda root: _split(
        read_labelled(root / "banking77" / "train.csv", "text", "category")
    ),
    "clinc150": _clinc,
    "smp2017": lambda root: _split(
        read_labelled(root / "smp2017" / "train.tsv", "Sentence", "Tag")
    ),
    "waimai_10k": lambda root: _split(
        read_labelled(root / "waimai_10k" / "train.csv", "review", "label")
    ),
}


def _run_lstm(train_set: LabelledSet, test_set: LabelledSet,
              settings: TrainSettings) -> dict[str, Any]:
    # Train in memory, export, and evaluate the served ONNX model.
    started = time.monotonic()
    trained = train(train_set, settings, lambda line: logger.info("%s", line))
    seconds = time.monotonic() - started
    with tempfile.TemporaryDirectory() as tmp:
        save(trained, Path(tmp), train_set.texts[:50])
        report = evaluate_model(OnnxClassifier.load(Path(tmp)), test_set)
    report["train_seconds"] = seconds
    report["best_epoch"] = trained.metrics["best_epoch"]
    return report


def _run_baseline(train_set: LabelledSet, test_set: LabelledSet) -> dict[str, Any]:
    # Fit on the same rows; the rejection class is the only way to abstain.
    started = time.monotonic()
    model = NgramBaseline.fit(train_set.texts, train_set.labels)
    seconds = time.monotonic() - started
    top = model.predict(test_set.texts)
    served = [model.answer(label) for label in top]
    in_scope = sorted({x for x in train_set.labels if model.answer(x) is not None})
    report = score_predictions(test_set.labels, served, top, in_scope)
    report["latency_ms"] = measure_latency_ms(model.top_label, test_set.texts)
    report["train_seconds"] = seconds
    return report


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}"


def _table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| set | model | train rows | test rows | accuracy | top-1 in-scope "
        "| macro-F1 | OOS recall | abstained | p99 ms | train s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, models in results.items():
        for model_name, r in models.items():
            lines.append(
                f"| {name} | {model_name} | {r['train_rows']} | {r['n']} "
                f"| {_cell(r['accuracy'])} | {_cell(r['top1_accuracy'])} "
                f"| {_cell(r['macro_f1'])} | {_cell(r['oos_recall'])} "
                f"| {_cell(r['abstain_rate'])} | {r['latency_ms']['p99']:.2f} "
                f"| {r['train_seconds']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", action="append", choices=sorted(LOADERS))
    parser.add_argument("--epochs", type=int, default=30, help="most LSTM epochs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    settings = TrainSettings(max_epochs=args.epochs, threads=args.threads)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name in args.only or list(LOADERS):
        # One fixed split per set; both models see the same training rows.
        train_set, test_set = LOADERS[name](args.data_root)
        logger.info("%s train=%d test=%d", name, len(train_set), len(test_set))
        lstm = _run_lstm(train_set, test_set, settings)
        base = _run_baseline(train_set, test_set)
        for report in (lstm, base):
            report.pop("per_class")
            report["train_rows"] = len(train_set)
        results[name] = {"LSTM": lstm, "TF-IDF + LinearSVC": base}
        print(_table({name: results[name]}), flush=True)

    print()
    print(_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
