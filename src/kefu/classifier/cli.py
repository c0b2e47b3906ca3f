"""``kefu classifier``: train, evaluate and query the issue-type classifier.

Every failure the user can fix (a bad file, a missing column, an unusable model
directory, PyTorch not installed) ends in a one-line message and exit status 1
or 2, never a traceback.  Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from kefu.classifier.errors import ClassifierError

logger = logging.getLogger(__name__)

_text_column = click.option(
    "--text-column", default="text", show_default=True, help="Column of the texts."
)
_label_column = click.option(
    "--label-column", default="label", show_default=True, help="Column of the labels."
)
_data_file = click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Labelled CSV (.csv) or tab-separated (.tsv) file with a header row.",
)
_model_dir = click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Model directory written by 'train'.",
)


def _fail(error: ClassifierError) -> click.ClickException:
    return click.ClickException(str(error))


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def classifier() -> None:
    """Train, evaluate and query the issue-type classifier."""


@classifier.command()
@_data_file
@_text_column
@_label_column
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write the model to.",
)
@click.option("--seed", default=13, show_default=True, help="Seed of every draw.")
@click.option(
    "--epochs",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most epochs; early stopping on the held-out part may stop sooner.",
)
@click.option(
    "--buckets",
    default=8192,
    show_default=True,
    type=click.IntRange(min=16),
    help="Hashed n-gram buckets (the largest table of the model).",
)
@click.option(
    "--threads",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="PyTorch threads; a bit-for-bit rebuild needs the same count.",
)
@click.option(
    "--reject-label",
    "reject_labels",
    multiple=True,
    default=("oos",),
    show_default=True,
    help="Label trained as a rejection class (repeatable).",
)
def train(
    data_path: Path,
    text_column: str,
    label_column: str,
    out_dir: Path,
    seed: int,
    epochs: int,
    buckets: int,
    threads: int,
    reject_labels: tuple[str, ...],
) -> None:
    """Train a model on a labelled file and write it to a directory."""
    from kefu.classifier.data import read_labelled
    from kefu.classifier.training import TrainSettings, require_torch, train_to_dir

    settings = TrainSettings(
        seed=seed,
        max_epochs=epochs,
        buckets=buckets,
        threads=threads,
        reject_labels=reject_labels,
    )
    try:
        require_torch()
        data = read_labelled(data_path, text_column, label_column)
        _progress(f"read {len(data)} rows from {data_path}")
        train_to_dir(data, settings, out_dir, _progress)
    except ClassifierError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out_dir}: {exc}") from None


@classifier.command()
@_model_dir
@_data_file
@_text_column
@_label_column
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the full report to this JSON file.",
)
def evaluate(
    model_dir: Path,
    data_path: Path,
    text_column: str,
    label_column: str,
    json_path: Path | None,
) -> None:
    """Measure a model on a labelled file: accuracy, F1, OOS recall, latency."""
    from kefu.classifier.data import read_labelled
    from kefu.classifier.evaluation import evaluate_model, render_report
    from kefu.classifier.model import OnnxClassifier

    try:
        model = OnnxClassifier.load(model_dir)
        data = read_labelled(data_path, text_column, label_column)
    except ClassifierError as exc:
        raise _fail(exc) from None
    started = time.monotonic()
    report = evaluate_model(model, data)
    logger.info(
        "classifier evaluated rows=%d seconds=%.1f",
        len(data),
        time.monotonic() - started,
    )
    click.echo(render_report(report))
    if json_path is not None:
        text = json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True)
        json_path.write_text(text + "\n", encoding="utf-8")


@classifier.command()
@_model_dir
@click.argument("text")
def predict(model_dir: Path, text: str) -> None:
    """Print the issue type of TEXT (or 'abstain') and its confidence."""
    from kefu.classifier.model import OnnxClassifier

    try:
        model = OnnxClassifier.load(model_dir)
    except ClassifierError as exc:
        raise _fail(exc) from None
    result = model.classify(text)
    click.echo(f"{result.issue_type or 'abstain'}\t{result.confidence:.4f}")


if __name__ == "__main__":
    # Lets the commands run as ``python -m kefu.classifier.cli`` until the group
    # is registered under the main ``kefu`` command.
    classifier()
