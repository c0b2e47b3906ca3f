"""The linear baseline: TF-IDF character and word n-grams with a linear SVM.

Used by the benchmark to tell whether the LSTM earns its keep.  It needs
scikit-learn (``kefu[train]``).  Words come from the same tokenizer as the
LSTM, so Chinese characters count as words and English words stay whole.
A prediction of a rejection label (such as ``oos``) is an abstention; the
baseline has no confidence threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from kefu.classifier.features import normalize, tokenize


def _pipeline(seed: int) -> Pipeline:
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 4),
        preprocessor=normalize,
        sublinear_tf=True,
        min_df=1,
    )
    words = TfidfVectorizer(
        analyzer="word",
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        sublinear_tf=True,
    )
    union = FeatureUnion([("chars", chars), ("words", words)])
    return Pipeline([("features", union), ("svm", LinearSVC(C=0.5, random_state=seed))])


class NgramBaseline:
    """A fitted TF-IDF + LinearSVC classifier with the serving interface."""

    def __init__(self, pipeline: Pipeline, reject_labels: Sequence[str]) -> None:
        self._pipeline = pipeline
        self._reject = frozenset(reject_labels)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        reject_labels: Sequence[str] = ("oos",),
        seed: int = 13,
    ) -> NgramBaseline:
        """Fit the baseline on parallel lists of texts and labels."""
        pipeline = _pipeline(seed)
        pipeline.fit(list(texts), list(labels))
        return cls(pipeline, reject_labels)

    def top_label(self, text: str) -> str:
        """Return the label with the highest score."""
        return str(self._pipeline.predict([text])[0])

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Return the top label of each text (rejection labels included)."""
        return [str(label) for label in self._pipeline.predict(list(texts))]

    def answer(self, label: str) -> str | None:
        """Turn a top label into the served answer (``None`` for rejection)."""
        return None if label in self._reject else label
