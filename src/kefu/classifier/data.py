"""Read labelled text files and split them, with errors a person can act on.

A labelled file is CSV (``.csv``) or tab-separated (``.tsv``, ``.tab``) with a
header row, UTF-8 with or without a byte-order mark.  Rows whose text or label
is blank are skipped and counted in the log.
"""

from __future__ import annotations

import csv
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kefu.classifier.errors import DataError

logger = logging.getLogger(__name__)

_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


@dataclass(frozen=True, slots=True)
class LabelledSet:
    """Parallel lists of texts and their labels."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> LabelledSet:
        """Return the rows at ``indices``, in that order."""
        return LabelledSet(
            tuple(self.texts[i] for i in indices),
            tuple(self.labels[i] for i in indices),
        )


def _open_reader(path: Path) -> tuple[list[str], list[list[str]]]:
    delimiter = _DELIMITERS.get(path.suffix.lower())
    if delimiter is None:
        raise DataError(f"{path}: unknown extension, use .csv or .tsv")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            # Tab-separated files are read without quoting: texts may hold quotes.
            reader = (
                csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                if delimiter == "\t"
                else csv.reader(handle)
            )
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if not rows:
        raise DataError(f"{path}: file is empty")
    return [name.strip() for name in rows[0]], rows[1:]


def _column(path: Path, header: list[str], name: str, role: str) -> int:
    if name not in header:
        raise DataError(
            f"{path}: no {role} column {name!r}; columns are {', '.join(header)}"
        )
    return header.index(name)


def read_labelled(path: Path, text_column: str, label_column: str) -> LabelledSet:
    """Read a labelled file; raise ``DataError`` when it holds no usable row."""
    # Find the two columns by name in the header.
    header, rows = _open_reader(path)
    text_at = _column(path, header, text_column, "text")
    label_at = _column(path, header, label_column, "label")

    # Keep rows with both a text and a label.
    texts: list[str] = []
    labels: list[str] = []
    width = max(text_at, label_at)
    for row in rows:
        if len(row) <= width or not row[text_at].strip() or not row[label_at].strip():
            continue
        texts.append(row[text_at].strip())
        labels.append(row[label_at].strip())
    skipped = len(rows) - len(texts)
    if skipped:
        logger.warning("labelled file skipped rows=%d reason=blank", skipped)
    if not texts:
        raise DataError(f"{path}: no rows with both a text and a label")
    return LabelledSet(tuple(texts), tuple(labels))


def require_classes(data: LabelledSet, reject_labels: Sequence[str]) -> None:
    """Raise ``DataError`` unless the set holds at least two in-scope classes."""
    in_scope = {label for label in data.labels if label not in reject_labels}
    if len(in_scope) < 2:
        found = ", ".join(sorted(in_scope)) or "none"
        raise DataError(f"training needs at least two classes; found {found}")


def stratified_split(
    labels: Sequence[str], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split row indices into (kept, held out) with each class in proportion.

    Each class with at least two rows gives ``round(fraction * n)`` of them
    (at least one, never all) to the held-out part; the choice depends only on
    ``seed`` and the labels.  Both index lists come back sorted.
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(seed)
    held: list[int] = []
    for label in sorted(by_label):
        rows = by_label[label]
        if len(rows) < 2:
            continue
        count = min(max(1, round(fraction * len(rows))), len(rows) - 1)
        held.extend(rng.sample(rows, count))
    held_set = set(held)
    kept = [i for i in range(len(labels)) if i not in held_set]
    return kept, sorted(held)
