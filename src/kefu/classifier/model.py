"""Serve a trained issue-type model with onnxruntime.

This module imports only numpy and onnxruntime (and kefu's own light modules),
so a serving node never needs PyTorch or scikit-learn.  Load a model once with
``OnnxClassifier.load`` and call ``classify`` for each contact; one call runs
the network on one thread, in well under two milliseconds for a typical first
message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from kefu.classifier.artifacts import MODEL_FILE, ModelSpec, read_spec
from kefu.classifier.errors import ModelLoadError
from kefu.routing.classifier import Classification

logger = logging.getLogger(__name__)

#: Names of the network's inputs and output, fixed by the exporter.
TOKEN_INPUT = "token_ids"
NGRAM_INPUT = "ngram_ids"
PROBS_OUTPUT = "probs"


@dataclass(frozen=True, slots=True)
class Scored:
    """The full output for one text: the best label, its score, all scores."""

    label: str | None
    confidence: float
    probs: npt.NDArray[np.float32]


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _open_session(path: Path) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelLoadError(f"{path}: file is missing")
    try:
        return ort.InferenceSession(
            str(path), _session_options(), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises several unrelated types
        raise ModelLoadError(f"{path}: cannot load the network: {exc}") from None


def _check_session(session: ort.InferenceSession, spec: ModelSpec, path: Path) -> None:
    inputs = sorted(i.name for i in session.get_inputs())
    if inputs != sorted((TOKEN_INPUT, NGRAM_INPUT)):
        raise ModelLoadError(f"{path}: unexpected network inputs {inputs}")
    output = session.get_outputs()[0]
    width = output.shape[-1]
    if isinstance(width, int) and width != len(spec.labels):
        raise ModelLoadError(
            f"{path}: network has {width} outputs but there are "
            f"{len(spec.labels)} labels"
        )


class OnnxClassifier:
    """The learned issue-type classifier; implements the routing ``Classifier``."""

    def __init__(self, session: ort.InferenceSession, spec: ModelSpec) -> None:
        self._session = session
        self._spec = spec
        self._reject = frozenset(spec.reject_labels)

    @classmethod
    def load(cls, model_dir: Path) -> OnnxClassifier:
        """Load a model directory, raising ``ModelLoadError`` when it is unusable."""
        model_dir = Path(model_dir)
        spec = read_spec(model_dir)
        session = _open_session(model_dir / MODEL_FILE)
        _check_session(session, spec, model_dir / MODEL_FILE)
        logger.info(
            "classifier loaded labels=%d vocabulary=%d threshold=%.4f",
            len(spec.labels),
            spec.featurizer.vocabulary_size,
            spec.threshold,
        )
        return cls(session, spec)

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of the network's outputs, rejection labels included."""
        return self._spec.labels

    @property
    def in_scope_labels(self) -> tuple[str, ...]:
        """Labels the classifier may answer with (rejection labels excluded)."""
        return tuple(label for label in self._spec.labels if label not in self._reject)

    @property
    def threshold(self) -> float:
        """Confidence below which the classifier abstains."""
        return self._spec.threshold

    def probabilities(self, text: str) -> npt.NDArray[np.float32]:
        """Return the network's probability of every label for one text."""
        token_ids, ngram_ids = self._spec.featurizer.encode(text)
        if token_ids.size == 0:
            return np.zeros(len(self._spec.labels), dtype=np.float32)
        feeds = {TOKEN_INPUT: token_ids[None, :], NGRAM_INPUT: ngram_ids[None, :, :]}
        probs = self._session.run([PROBS_OUTPUT], feeds)[0]
        return np.asarray(probs[0], dtype=np.float32)

    def score(self, text: str) -> Scored:
        """Return the best label (``None`` when abstaining) with all scores."""
        probs = self.probabilities(text)
        if not probs.any():
            return Scored(None, 0.0, probs)
        best = int(np.argmax(probs))
        confidence = float(probs[best])
        label = self._spec.labels[best]
        if confidence < self._spec.threshold or label in self._reject:
            return Scored(None, confidence, probs)
        return Scored(label, confidence, probs)

    def top_label(self, text: str) -> str:
        """Return the most probable label, ignoring the threshold."""
        return self._spec.labels[int(np.argmax(self.probabilities(text)))]

    def classify(self, text: str) -> Classification:
        """Label one contact's first message, or abstain."""
        scored = self.score(text)
        return Classification(scored.label, scored.confidence)
