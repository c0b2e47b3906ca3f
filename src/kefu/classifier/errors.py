"""The classifier's exceptions, written down once.

``ClassifierError`` is the root; the command line turns any of them into a short
message and a non-zero exit status, never a traceback.

- ``ModelLoadError``: a model directory is missing, incomplete or unreadable.
- ``DataError``: a labelled file cannot be used (empty, missing column, one class).
- ``TrainingUnavailableError``: the training extra (PyTorch) is not installed.
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Base class of every error raised by ``kefu.classifier``."""


class ModelLoadError(ClassifierError):
    """A model directory cannot be loaded; the message names the file and why."""


class DataError(ClassifierError):
    """A labelled data file cannot be used for training or evaluation."""


class TrainingUnavailableError(ClassifierError):
    """Training was requested but PyTorch is not installed."""
