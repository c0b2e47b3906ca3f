"""Train the issue-type network, calibrate its threshold and export it to ONNX.

Training is deterministic on CPU: seeds are fixed, batches are formed in a fixed
order from a seeded generator, PyTorch runs with deterministic algorithms and a
fixed thread count.  The same data, settings, thread count and PyTorch build
give the same weights and the same ``model.onnx`` bytes.

Steps: hold out a stratified part of the data; learn the vocabulary on the
rest; train, halving the learning rate after each epoch that does not beat
the best held-out accuracy (then loss), stop after ``patience`` such epochs and
keep the best one;
choose the abstention threshold on the held-out probabilities; export; check
that onnxruntime reproduces PyTorch's probabilities; write the directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kefu.classifier.artifacts import (
    METRICS_FILE,
    MODEL_FILE,
    ModelSpec,
    write_json,
    write_spec,
)
from kefu.classifier.calibration import Calibration, calibrate
from kefu.classifier.data import LabelledSet, require_classes, stratified_split
from kefu.classifier.errors import DataError, TrainingUnavailableError
from kefu.classifier.features import (
    PAD_ID,
    UNKNOWN_ID,
    Featurizer,
    IdArray,
    build_vocabulary,
    pad_bags,
)
from kefu.classifier.metrics import score_predictions

if TYPE_CHECKING:
    import torch

    from kefu.classifier.network import IssueNet

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
Encoded = tuple[IdArray, IdArray]


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """Every knob of one training run; all of them end up in ``metrics.json``."""

    seed: int = 13
    max_epochs: int = 30
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    decay_on_plateau: float = 0.5
    embedding_dim: int = 64
    hidden_size: int = 128
    dropout: float = 0.3
    buckets: int = 8192
    max_tokens: int = 64
    max_ngrams: int = 16
    min_count: int = 2
    max_vocabulary: int = 20000
    holdout: float = 0.1
    threads: int = 2
    reject_labels: tuple[str, ...] = ("oos",)


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """The outcome of ``train``: the network, its spec and the training report."""

    net: IssueNet
    spec: ModelSpec
    metrics: dict[str, Any]


def require_torch() -> None:
    """Raise ``TrainingUnavailableError`` unless PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise TrainingUnavailableError(
            "training needs PyTorch; install it with: pip install 'kefu[train]'"
        ) from None


def length_batches(
    encoded: Sequence[Encoded],
    indices: Sequence[int],
    batch_size: int,
    rng: random.Random | None,
) -> list[list[int]]:
    """Group rows of equal token count into batches; shuffle them if ``rng``."""
    by_length: dict[int, list[int]] = defaultdict(list)
    for index in indices:
        by_length[len(encoded[index][0])].append(index)
    batches: list[list[int]] = []
    for length in sorted(by_length):
        rows = by_length[length]
        if rng is not None:
            rng.shuffle(rows)
        batches.extend(
            rows[i : i + batch_size] for i in range(0, len(rows), batch_size)
        )
    if rng is not None:
        rng.shuffle(batches)
    return batches


def collate(
    encoded: Sequence[Encoded], batch: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack one batch (rows of equal length) into the network's two inputs."""
    import torch

    tokens = np.stack([encoded[i][0] for i in batch])
    width = max(encoded[i][1].shape[1] for i in batch)
    bags = np.zeros((len(batch), tokens.shape[1], width), dtype=np.int64)
    for row, index in enumerate(batch):
        bag = encoded[index][1]
        bags[row, :, : bag.shape[1]] = bag
    return torch.from_numpy(tokens), torch.from_numpy(bags)


def predict_probs(
    net: IssueNet, encoded: Sequence[Encoded], indices: Sequence[int]
) -> npt.NDArray[np.float32]:
    """Return softmax probabilities ``[len(indices), labels]`` in index order."""
    import torch

    position = {index: row for row, index in enumerate(indices)}
    out = np.zeros((len(indices), net.head.out_features), dtype=np.float32)
    net.eval()
    with torch.no_grad():
        for batch in length_batches(encoded, indices, 256, None):
            probs = torch.softmax(net(*collate(encoded, batch)), dim=1).numpy()
            out[[position[i] for i in batch]] = probs
    return out


def _configure_torch(settings: TrainSettings) -> None:
    import torch

    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(settings.threads)


def _encode_all(featurizer: Featurizer, texts: Sequence[str]) -> list[Encoded]:
    encoded = [featurizer.encode(text) for text in texts]
    # A text without any token gets one unknown token, so that it has a length.
    empty = (np.array([UNKNOWN_ID], dtype=np.int64), pad_bags([[PAD_ID]], 1))
    return [(ids, bags) if len(ids) else empty for ids, bags in encoded]


def _run_epoch(
    net: IssueNet,
    optimizer: torch.optim.Optimizer,
    encoded: Sequence[Encoded],
    targets: torch.Tensor,
    batches: list[list[int]],
    settings: TrainSettings,
) -> float:
    import torch

    net.train()
    total, count = 0.0, 0
    for batch in batches:
        optimizer.zero_grad()
        logits = net(*collate(encoded, batch))
        loss = torch.nn.functional.cross_entropy(
            logits, targets[batch], label_smoothing=settings.label_smoothing
        )
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        total += loss.item() * len(batch)
        count += len(batch)
    return total / count


def _holdout_loss(
    probs: npt.NDArray[np.float32], true: npt.NDArray[np.int64]
) -> tuple[float, float]:
    picked = probs[np.arange(len(true)), true]
    loss = float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
    accuracy = float((probs.argmax(axis=1) == true).mean())
    return loss, accuracy


@dataclass
class _Fit:
    """State carried through the epochs of one training run."""

    best_accuracy: float = -1.0
    best_loss: float = float("inf")
    best_epoch: int = 0
    best_state: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)

    def record(self, net: IssueNet, epoch: int, scores: dict[str, float]) -> bool:
        """Log one epoch; keep its weights if it beats the best; say if it did."""
        self.history.append({"epoch": epoch, **scores})
        accuracy, loss = scores["holdout_accuracy"], scores["holdout_loss"]
        if (accuracy, -loss) <= (self.best_accuracy, -self.best_loss):
            return False
        self.best_accuracy, self.best_loss, self.best_epoch = accuracy, loss, epoch
        self.best_state = {k: v.clone() for k, v in net.state_dict().items()}
        return True


def _epoch_line(epoch: int, scores: dict[str, float], best: bool) -> str:
    return (
        f"epoch {epoch}: train loss {scores['train_loss']:.4f}, "
        f"held-out loss {scores['holdout_loss']:.4f}, "
        f"accuracy {scores['holdout_accuracy']:.4f}{' (best)' if best else ''}"
    )


def _fit(
    net: IssueNet,
    encoded: Sequence[Encoded],
    true: npt.NDArray[np.int64],
    split: tuple[list[int], list[int]],
    settings: TrainSettings,
    progress: Progress,
) -> _Fit:
    import torch

    # One seeded generator drives the batch order.
    train_rows, held_rows = split
    rng = random.Random(settings.seed)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    targets = torch.from_numpy(true)
    fit = _Fit()

    # Train until held-out accuracy (then loss) stops improving for a while;
    # each epoch without improvement also scales the learning rate down.
    for epoch in range(1, settings.max_epochs + 1):
        batches = length_batches(encoded, train_rows, settings.batch_size, rng)
        train_loss = _run_epoch(net, optimizer, encoded, targets, batches, settings)
        probs = predict_probs(net, encoded, held_rows)
        loss, accuracy = _holdout_loss(probs, true[held_rows])
        scores = {
            "train_loss": train_loss,
            "holdout_loss": loss,
            "holdout_accuracy": accuracy,
        }
        best = fit.record(net, epoch, scores)
        progress(_epoch_line(epoch, scores, best))
        if not best:
            for group in optimizer.param_groups:
                group["lr"] *= settings.decay_on_plateau
        if epoch - fit.best_epoch >= settings.patience:
            progress(f"early stop: best epoch {fit.best_epoch}")
            break
    return fit


def _data_digest(data: LabelledSet) -> str:
    digest = hashlib.sha256()
    for text, label in zip(data.texts, data.labels, strict=True):
        digest.update(f"{text}\t{label}\n".encode())
    return digest.hexdigest()


def train(
    data: LabelledSet, settings: TrainSettings, progress: Progress
) -> TrainedModel:
    """Train, pick the best epoch and calibrate; nothing is written to disk."""
    from kefu.classifier.network import IssueNet, NetworkShape

    # Check the data, fix the label order and hold out a stratified part.
    require_torch()
    require_classes(data, settings.reject_labels)
    labels = tuple(sorted(set(data.labels)))
    true = np.array([labels.index(x) for x in data.labels], dtype=np.int64)
    split = stratified_split(data.labels, settings.holdout, settings.seed)
    if not split[1]:
        raise DataError("too little data to hold out a validation part")
    progress(f"training on {len(split[0])} rows, {len(split[1])} held out")

    # Learn the vocabulary on the training part only, then encode everything.
    vocabulary = build_vocabulary(
        data.subset(split[0]).texts, settings.min_count, settings.max_vocabulary
    )
    featurizer = Featurizer(
        vocabulary, settings.buckets, settings.max_tokens, settings.max_ngrams
    )
    encoded = _encode_all(featurizer, data.texts)

    # Build the network from a fixed seed and train it.
    _configure_torch(settings)
    shape = NetworkShape(
        featurizer.vocabulary_size,
        settings.buckets,
        len(labels),
        settings.embedding_dim,
        settings.hidden_size,
        settings.dropout,
    )
    net = IssueNet(shape)
    fit = _fit(net, encoded, true, split, settings, progress)
    net.load_state_dict(fit.best_state)
    net.eval()

    # Calibrate the threshold on the held-out part with the best weights.
    reject = [i for i, label in enumerate(labels) if label in settings.reject_labels]
    held_probs = predict_probs(net, encoded, split[1])
    calibration = calibrate(held_probs, true[split[1]], reject)
    progress(
        f"threshold {calibration.threshold:.4f} ({calibration.rule} rule, "
        f"held-out score {calibration.score:.4f})"
    )
    spec = ModelSpec(
        labels, tuple(labels[i] for i in reject), calibration.threshold, featurizer
    )
    metrics = _training_report(data, settings, split, fit, calibration)
    metrics["holdout"] = _holdout_report(spec, held_probs, data.subset(split[1]).labels)
    metrics["network"] = asdict(shape)
    return TrainedModel(net, spec, metrics)


def _training_report(
    data: LabelledSet,
    settings: TrainSettings,
    split: tuple[list[int], list[int]],
    fit: _Fit,
    calibration: Calibration,
) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for label in data.labels:
        counts[label] += 1
    return {
        "settings": asdict(settings),
        "data": {"rows": len(data), "sha256": _data_digest(data), "labels": counts},
        "split": {"train": len(split[0]), "holdout": len(split[1])},
        "epochs": fit.history,
        "best_epoch": fit.best_epoch,
        "threshold": asdict(calibration),
    }


def _holdout_report(
    spec: ModelSpec, probs: npt.NDArray[np.float32], true: Sequence[str]
) -> dict[str, Any]:
    best = probs.argmax(axis=1)
    top = [spec.labels[i] for i in best]
    served: list[str | None] = [
        None if (p < spec.threshold or label in spec.reject_labels) else label
        for p, label in zip(probs.max(axis=1), top, strict=True)
    ]
    in_scope = [label for label in spec.labels if label not in spec.reject_labels]
    report = score_predictions(true, served, top, in_scope)
    report.pop("per_class")
    return report


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Raise the given loggers to WARNING for the duration of the block."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)


def export_onnx(net: IssueNet, path: Path) -> None:
    """Export ``net`` with softmax to ONNX, with dynamic batch, length and bag.

    This uses the TorchScript-based exporter (``dynamo=False``): it maps the
    LSTM to one ONNX ``LSTM`` node, is deterministic, and keeps the length axis
    dynamic on every call, whereas in PyTorch 2.13 the ``torch.export`` path
    fixed that axis on the second export made in one process.
    """
    import torch

    from kefu.classifier.network import ProbabilityNet

    # Trace one message of three tokens; every axis is then declared dynamic.
    model = ProbabilityNet(net).eval()
    tokens = torch.ones((1, 3), dtype=torch.int64)
    bags = torch.ones((1, 3, 2), dtype=torch.int64)
    axes = {
        "token_ids": {0: "batch", 1: "length"},
        "ngram_ids": {0: "batch", 1: "length", 2: "bag"},
        "probs": {0: "batch"},
    }

    # The exporter warns about its own deprecation; keep that out of the output.
    with warnings.catch_warnings(), _quiet_loggers("torch"):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (tokens, bags),
            str(path),
            input_names=["token_ids", "ngram_ids"],
            output_names=["probs"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _onnx_difference(
    net: IssueNet, spec: ModelSpec, path: Path, texts: Sequence[str]
) -> float:
    """Largest absolute gap between PyTorch and onnxruntime probabilities."""
    import torch

    from kefu.classifier.model import OnnxClassifier

    served = OnnxClassifier.load(path.parent)
    gap = 0.0
    with torch.no_grad():
        for text in texts:
            ids, bags = spec.featurizer.encode(text)
            if not len(ids):
                continue
            inputs = (torch.from_numpy(ids[None]), torch.from_numpy(bags[None]))
            expected = torch.softmax(net(*inputs), dim=1).numpy()[0]
            gap = max(gap, float(np.abs(expected - served.probabilities(text)).max()))
    return gap


def save(trained: TrainedModel, out_dir: Path, check_texts: Sequence[str]) -> None:
    """Write the model directory and check the export against PyTorch."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_spec(out_dir, trained.spec)
    export_onnx(trained.net, out_dir / MODEL_FILE)
    gap = _onnx_difference(trained.net, trained.spec, out_dir / MODEL_FILE, check_texts)
    logger.info("onnx export checked texts=%d max_abs_diff=%.3g", len(check_texts), gap)
    metrics = dict(trained.metrics, onnx_max_abs_diff=gap)
    write_json(out_dir / METRICS_FILE, metrics)


def train_to_dir(
    data: LabelledSet, settings: TrainSettings, out_dir: Path, progress: Progress
) -> TrainedModel:
    """Train on ``data`` and write the model directory ``out_dir``."""
    started = time.monotonic()
    trained = train(data, settings, progress)
    save(trained, out_dir, data.texts[:200])
    progress(f"wrote {out_dir} in {time.monotonic() - started:.1f}s")
    return trained
