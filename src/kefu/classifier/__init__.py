"""The learned issue-type classifier: training, evaluation and serving.

Serving (``kefu.classifier.model.OnnxClassifier``) needs only numpy and
onnxruntime.  Training (``kefu.classifier.training``) needs PyTorch, and the
n-gram baseline (``kefu.classifier.baseline``) needs scikit-learn; both come with
the ``kefu[train]`` extra and are imported only when used.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_model_dir"]


def default_model_dir() -> Path:
    """Return the directory of the model shipped inside the package."""
    return Path(__file__).resolve().parent / "default_model"
