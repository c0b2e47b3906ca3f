"""The ``kefu classifier`` commands, including their errors on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kefu.classifier.cli import classifier

from .conftest import TRAIN_ARGS, tiny_rows, train_with_cli, write_rows


def _run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(classifier, list(args))
    return result.exit_code, result.output, result.exception


def test_train_writes_every_model_file(tiny_model: Path) -> None:
    """train writes the network, vocabulary, labels, config and metrics."""
    names = sorted(p.name for p in tiny_model.iterdir())
    assert names == [
        "config.json",
        "labels.json",
        "metrics.json",
        "model.onnx",
        "vocabulary.json",
    ]
    metrics = json.loads((tiny_model / "metrics.json").read_text("utf-8"))
    assert metrics["best_epoch"] >= 1
    assert metrics["onnx_max_abs_diff"] < 1e-4


def test_evaluate_prints_and_writes_json(
    tiny_model: Path, tiny_csv: Path, tmp_path: Path
) -> None:
    """evaluate reports accuracy, macro-F1, OOS recall and latency, also as JSON."""
    rows = [*tiny_rows()[:8], ["今天天气怎么样", "weather"]]
    data = write_rows(tmp_path / "eval.csv", ["text", "label"], rows)
    out = tmp_path / "report.json"
    code, output, _ = _run(
        "evaluate", "--model", str(tiny_model), "--data", str(data), "--json", str(out)
    )
    assert code == 0, output
    assert "macro-F1" in output
    report = json.loads(out.read_text("utf-8"))
    assert report["n"] == 9
    assert report["n_oos"] == 1
    assert report["oos_recall"] in (0.0, 1.0)
    assert set(report["latency_ms"]) == {"p50", "p99"}
    assert {"accuracy", "macro_f1"} <= set(report)


def test_predict_prints_label_and_confidence(tiny_model: Path) -> None:
    """predict prints the issue type (or abstain) and a confidence."""
    code, output, _ = _run("predict", "--model", str(tiny_model), "我要退款")
    assert code == 0
    label, confidence = output.strip().split("\t")
    assert label in ("refund", "abstain")
    assert 0.0 <= float(confidence) <= 1.0


def _bad_file(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "bad.csv"
    if case == "empty":
        path.write_text("", "utf-8")
    elif case == "missing-column":
        write_rows(path, ["message", "label"], [["hi", "a"], ["yo", "b"]])
    elif case == "one-class":
        write_rows(path, ["text", "label"], [["hi", "a"], ["yo", "a"], ["ok", "a"]])
    elif case == "absent":
        return tmp_path / "absent.csv"
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "file is empty"),
        ("missing-column", "no text column 'text'"),
        ("one-class", "at least two classes"),
        ("absent", "file not found"),
    ],
)
def test_train_rejects_bad_data_cleanly(
    tmp_path: Path, case: str, message: str
) -> None:
    """Bad training data gives a one-line error and exit 1, not a traceback."""
    data = _bad_file(tmp_path, case)
    code, output, exc = _run(
        "train", "--data", str(data), "--out", str(tmp_path / "m"), *TRAIN_ARGS
    )
    assert code == 1
    assert message in output
    assert "Traceback" not in output
    assert isinstance(exc, SystemExit)


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_unreadable_model_dir_fails_cleanly(
    tiny_csv: Path, tmp_path: Path, command: str
) -> None:
    """evaluate and predict on an unusable model directory exit 1 with a message."""
    model = tmp_path / "empty-model"
    model.mkdir()
    extra = ["--data", str(tiny_csv)] if command == "evaluate" else ["hello"]
    code, output, exc = _run(command, "--model", str(model), *extra)
    assert code == 1
    assert "labels.json: file is missing" in output
    assert isinstance(exc, SystemExit)


def test_missing_required_option_is_a_usage_error() -> None:
    """Forgetting --data is a usage error (exit 2)."""
    code, output, _ = _run("train", "--out", "x")
    assert code == 2
    assert "--data" in output


def test_training_twice_gives_identical_bytes(
    tiny_csv: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Two trainings with the same seed and data write byte-identical directories."""
    again = tmp_path / "again"
    train_with_cli(tiny_csv, again)
    for path in sorted(tiny_model.iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_train_without_torch_says_how_to_install(
    tiny_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without PyTorch, train exits 1 and names the extra to install."""
    monkeypatch.setitem(sys.modules, "torch", None)
    code, output, _ = _run(
        "train", "--data", str(tiny_csv), "--out", str(tmp_path / "m"), *TRAIN_ARGS
    )
    assert code == 1
    assert "pip install 'kefu[train]'" in output
