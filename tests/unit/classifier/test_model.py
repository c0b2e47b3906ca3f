"""Serving with onnxruntime: agreement with PyTorch, abstention, load errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kefu.classifier.artifacts import CONFIG_FILE, LABELS_FILE, MODEL_FILE
from kefu.classifier.data import read_labelled
from kefu.classifier.errors import ModelLoadError
from kefu.classifier.model import OnnxClassifier
from kefu.classifier.training import TrainSettings, save, train

PROBES = [
    "我要退款",
    "where is my refund",
    "外卖还没到",
    "my order is late",
    "忘记密码",
    "coupon not working",
    "zzz qqq",
]


def test_onnx_and_pytorch_agree_after_round_trip(
    tiny_csv: Path, tmp_path: Path
) -> None:
    """The exported model gives PyTorch's labels and probabilities within 1e-5."""
    data = read_labelled(tiny_csv, "text", "label")
    settings = TrainSettings(max_epochs=6, buckets=512, threads=1, hidden_size=32)
    trained = train(data, settings, lambda _: None)
    save(trained, tmp_path, data.texts[:5])
    served = OnnxClassifier.load(tmp_path)
    for text in PROBES:
        ids, bags = trained.spec.featurizer.encode(text)
        with torch.no_grad():
            inputs = (torch.from_numpy(ids[None]), torch.from_numpy(bags[None]))
            logits = trained.net(*inputs)
        expected = torch.softmax(logits, dim=1).numpy()[0]
        got = served.probabilities(text)
        assert int(np.argmax(got)) == int(np.argmax(expected))
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_tiny_model_learns_the_tiny_set(tiny_model: Path) -> None:
    """A model trained on the tiny set labels its obvious cases right."""
    model = OnnxClassifier.load(tiny_model)
    assert model.top_label("我要退款") == "refund"
    assert model.top_label("my order is late") == "late_delivery"


def _with_threshold(source: Path, target: Path, threshold: float) -> Path:
    shutil.copytree(source, target)
    config = json.loads((target / CONFIG_FILE).read_text("utf-8"))
    config["threshold"] = threshold
    (target / CONFIG_FILE).write_text(json.dumps(config), "utf-8")
    return target


def test_classifier_abstains_below_threshold(tiny_model: Path, tmp_path: Path) -> None:
    """Below the threshold classify() returns issue_type None with its confidence."""
    strict = OnnxClassifier.load(_with_threshold(tiny_model, tmp_path / "m", 1.01))
    result = strict.classify("我要退款")
    assert result.issue_type is None
    assert 0.0 < result.confidence <= 1.0
    lenient = OnnxClassifier.load(_with_threshold(tiny_model, tmp_path / "n", 0.0))
    assert lenient.classify("我要退款").issue_type == "refund"


def test_blank_text_abstains(tiny_model: Path) -> None:
    """A message with no token abstains with confidence 0 instead of failing."""
    result = OnnxClassifier.load(tiny_model).classify("   ")
    assert (result.issue_type, result.confidence) == (None, 0.0)


def _broken(tiny_model: Path, tmp_path: Path, how: str) -> Path:
    target = tmp_path / how
    shutil.copytree(tiny_model, target)
    if how == "no-labels":
        (target / LABELS_FILE).unlink()
    elif how == "bad-json":
        (target / CONFIG_FILE).write_text("{not json", "utf-8")
    elif how == "bad-onnx":
        (target / MODEL_FILE).write_bytes(b"not a network")
    elif how == "no-onnx":
        (target / MODEL_FILE).unlink()
    elif how == "label-count":
        (target / LABELS_FILE).write_text('["a", "b"]', "utf-8")
    return target


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("no-labels", "labels.json: file is missing"),
        ("bad-json", "config.json: cannot read"),
        ("bad-onnx", "cannot load the network"),
        ("no-onnx", "model.onnx: file is missing"),
        ("label-count", "outputs but there are 2 labels"),
    ],
)
def test_incomplete_model_dir_raises_model_load_error(
    tiny_model: Path, tmp_path: Path, how: str, message: str
) -> None:
    """Each missing or corrupt file gives ModelLoadError naming the problem."""
    with pytest.raises(ModelLoadError, match=message):
        OnnxClassifier.load(_broken(tiny_model, tmp_path, how))


def test_missing_dir_raises_model_load_error(tmp_path: Path) -> None:
    """A directory that does not exist gives ModelLoadError."""
    with pytest.raises(ModelLoadError, match="not a model directory"):
        OnnxClassifier.load(tmp_path / "absent")


def test_serving_module_imports_neither_torch_nor_sklearn() -> None:
    """Importing and using the serving module pulls in no training dependency."""
    code = (
        "import sys\n"
        "from kefu.classifier import default_model_dir\n"
        "from kefu.classifier.model import OnnxClassifier\n"
        "OnnxClassifier.load(default_model_dir()).classify('hi')\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_oos_rows_train_a_rejection_class(tiny_csv: Path) -> None:
    """Rows labelled oos become a rejection class and switch on the balanced rule."""
    data = read_labelled(tiny_csv, "text", "label")
    off_topic = [
        "今天天气怎么样",
        "what is the capital of france",
        "讲个笑话",
        "play some music",
        "明天会下雨吗",
        "tell me a joke",
        "how tall is everest",
        "推荐一部电影",
        "what time is it",
        "你是谁",
    ]
    data = type(data)(data.texts + tuple(off_topic), data.labels + ("oos",) * 10)
    settings = TrainSettings(max_epochs=4, buckets=512, threads=1, hidden_size=16)
    trained = train(data, settings, lambda _: None)
    assert trained.spec.reject_labels == ("oos",)
    assert trained.metrics["threshold"]["rule"] == "balanced"
