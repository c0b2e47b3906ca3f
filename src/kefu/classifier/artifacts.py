"""The model directory: which files it holds and how they are read and written.

A model directory holds:

- ``model.onnx``: the network, inputs ``token_ids`` ``[batch, T]`` and
  ``ngram_ids`` ``[batch, T, K]`` (int64), output ``probs`` ``[batch, labels]``;
- ``vocabulary.json``: the token list (id 2 onwards);
- ``labels.json``: the label of each output column;
- ``config.json``: the abstention threshold, the rejection labels and the
  featurizer settings;
- ``metrics.json``: what training measured (not needed to serve).

Every JSON file is written with sorted keys and a trailing newline, so that two
identical trainings write identical bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kefu.classifier.errors import ModelLoadError
from kefu.classifier.features import Featurizer

MODEL_FILE = "model.onnx"
VOCABULARY_FILE = "vocabulary.json"
LABELS_FILE = "labels.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"

#: Version of the directory layout; ``load`` refuses any other.
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything but the network weights that serving needs.

    ``reject_labels`` are labels trained as a rejection class (for example
    ``oos``): predicting one of them is an abstention.  Below ``threshold`` the
    classifier abstains too.
    """

    labels: tuple[str, ...]
    reject_labels: tuple[str, ...]
    threshold: float
    featurizer: Featurizer


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as stable, human-readable UTF-8 JSON."""
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")


def write_spec(model_dir: Path, spec: ModelSpec) -> None:
    """Write the vocabulary, labels and config files of ``spec``."""
    featurizer = spec.featurizer
    write_json(model_dir / VOCABULARY_FILE, list(featurizer.vocabulary))
    write_json(model_dir / LABELS_FILE, list(spec.labels))
    write_json(
        model_dir / CONFIG_FILE,
        {
            "format": FORMAT_VERSION,
            "threshold": spec.threshold,
            "reject_labels": list(spec.reject_labels),
            "buckets": featurizer.buckets,
            "max_tokens": featurizer.max_tokens,
            "max_ngrams": featurizer.max_ngrams,
        },
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: file is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc}") from None


def _string_list(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelLoadError(f"{path}: expected a JSON list of strings")
    return tuple(value)


def _config_int(path: Path, config: dict[str, Any], key: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or value < 1:
        raise ModelLoadError(f"{path}: {key!r} must be a positive integer")
    return value


def _read_config(path: Path) -> dict[str, Any]:
    config = _read_json(path)
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    if config.get("format") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{path}: unsupported format {config.get('format')!r}, "
            f"expected {FORMAT_VERSION}"
        )
    threshold = config.get("threshold")
    if not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise ModelLoadError(f"{path}: 'threshold' must be a number")
    return config


def read_spec(model_dir: Path) -> ModelSpec:
    """Read and check the non-network files of a model directory."""
    # The directory itself must exist before its files are worth reading.
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: not a model directory")

    # Read labels, vocabulary and config, checking each one's shape.
    labels_path = model_dir / LABELS_FILE
    labels = _string_list(labels_path, _read_json(labels_path))
    if len(labels) < 2:
        raise ModelLoadError(f"{labels_path}: a model needs at least two labels")
    vocabulary_path = model_dir / VOCABULARY_FILE
    vocabulary = _string_list(vocabulary_path, _read_json(vocabulary_path))
    config_path = model_dir / CONFIG_FILE
    config = _read_config(config_path)
    reject = _string_list(config_path, config.get("reject_labels", []))

    # Assemble the featurizer exactly as training configured it.
    featurizer = Featurizer(
        vocabulary=vocabulary,
        buckets=_config_int(config_path, config, "buckets"),
        max_tokens=_config_int(config_path, config, "max_tokens"),
        max_ngrams=_config_int(config_path, config, "max_ngrams"),
    )
    return ModelSpec(labels, reject, float(config["threshold"]), featurizer)
