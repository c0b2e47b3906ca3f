"""Reading labelled files and splitting them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kefu.classifier.data import read_labelled, require_classes, stratified_split
from kefu.classifier.errors import DataError

from .conftest import write_rows


def test_tsv_is_read_without_quoting(tmp_path: Path) -> None:
    """A .tsv file is tab-separated and a quote inside a text is kept as is."""
    path = write_rows(tmp_path / "d.tsv", ["Sentence", "Tag"], [])
    path.write_text('Sentence\tTag\n他说"你好"\tchat\n\t\nhi\tchat\n', "utf-8")
    data = read_labelled(path, "Sentence", "Tag")
    assert data.texts == ('他说"你好"', "hi")


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("text,label\n", "no rows"), ("body,label\nhi,a\n", "no text")],
)
def test_unusable_files_raise_data_error(
    tmp_path: Path, content: str, message: str
) -> None:
    """Empty files, header-only files and missing columns raise DataError."""
    path = tmp_path / "d.csv"
    path.write_text(content, "utf-8")
    with pytest.raises(DataError, match=message):
        read_labelled(path, "text", "label")


def test_unknown_extension_raises_data_error(tmp_path: Path) -> None:
    """Only .csv and .tsv files are accepted."""
    path = tmp_path / "d.xlsx"
    path.write_text("text,label\n", "utf-8")
    with pytest.raises(DataError, match="extension"):
        read_labelled(path, "text", "label")


def test_one_class_is_refused_for_training(tmp_path: Path) -> None:
    """Training data with a single in-scope class raises DataError."""
    path = write_rows(tmp_path / "d.csv", ["text", "label"], [["a", "x"], ["b", "x"]])
    with pytest.raises(DataError, match="two classes"):
        require_classes(read_labelled(path, "text", "label"), ("oos",))


def test_stratified_split_keeps_class_proportions_and_is_seeded() -> None:
    """Every class gives its share to the held-out part, the same for one seed."""
    labels = ["a"] * 20 + ["b"] * 10 + ["c"]
    kept, held = stratified_split(labels, 0.2, seed=5)
    assert Counter(labels[i] for i in held) == {"a": 4, "b": 2}
    assert sorted(kept + held) == list(range(len(labels)))
    assert stratified_split(labels, 0.2, seed=5) == (kept, held)
