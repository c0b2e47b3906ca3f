"""Turn a message into the integer arrays the network reads.

A message becomes a sequence of *tokens*: every run of Latin letters and digits
is one token (an English word), and every other visible character is a token of
its own (a Chinese character, a punctuation mark, an emoji).  Each token carries
two kinds of ids:

- a *token id* from the vocabulary learnt at training time (``1`` when unknown);
- a bag of hashed *n-gram ids*: for a word, the word itself, the word pair it
  ends (``card arrived``) and its character 3-grams (so ``refunded`` shares
  features with ``refund``, and typos keep most of them); for a single
  character, the bigrams it forms with its neighbours and the trigram centred
  on it (so ``退款`` is seen as a unit although Chinese has no spaces).

Hashing is CRC-32, which is stable across processes and machines, so training
and serving compute the same ids.  This module uses only the standard library
and numpy: it is shared by training and serving.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: Id of padding, in both the vocabulary and the n-gram buckets.
PAD_ID = 0
#: Id of a token that is not in the vocabulary.
UNKNOWN_ID = 1

_TOKEN = re.compile(r"[a-z0-9\u00c0-\u024f]+(?:'[a-z]+)?|\S")
_WORD_START = re.compile(r"[a-z0-9\u00c0-\u024f]")
_DIGIT = re.compile(r"\d")

IdArray = npt.NDArray[np.int64]


def normalize(text: str) -> str:
    """Fold width and case, and map every digit to ``0``.

    NFKC turns full-width Latin letters and digits (common in Chinese input)
    into their ASCII forms; order numbers and amounts then look alike.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    return _DIGIT.sub("0", folded)


def tokenize(text: str) -> list[str]:
    """Split a message into word tokens and single-character tokens."""
    return _TOKEN.findall(normalize(text))


def _is_word(token: str) -> bool:
    return _WORD_START.match(token) is not None


def token_ngrams(tokens: Sequence[str], index: int) -> list[str]:
    """Return the n-gram strings of the token at ``index``, namespaced by kind."""
    token = tokens[index]
    before = tokens[index - 1] if index > 0 else "^"
    if _is_word(token):
        padded = "<" + token + ">"
        grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
        return ["w:" + token, "p:" + before + " " + token, *("3:" + g for g in grams)]
    after = tokens[index + 1] if index + 1 < len(tokens) else "$"
    return ["2:" + before + token, "2:" + token + after, "c:" + before + token + after]


def bucket_of(ngram: str, buckets: int) -> int:
    """Hash an n-gram into ``1 .. buckets - 1`` (``0`` is padding)."""
    return 1 + zlib.crc32(ngram.encode("utf-8")) % (buckets - 1)


@dataclass(frozen=True, slots=True)
class Featurizer:
    """Maps text to ``(token_ids[T], ngram_ids[T, K])`` for one message.

    ``vocabulary`` lists tokens in id order starting at id 2.  ``max_tokens``
    truncates long messages; ``max_ngrams`` caps the bag of one token.
    """

    vocabulary: tuple[str, ...]
    buckets: int
    max_tokens: int
    max_ngrams: int
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {token: i + 2 for i, token in enumerate(self.vocabulary)}
        object.__setattr__(self, "_index", index)

    @property
    def vocabulary_size(self) -> int:
        """Number of token ids, padding and unknown included."""
        return len(self.vocabulary) + 2

    def encode(self, text: str) -> tuple[IdArray, IdArray]:
        """Return the id arrays of one message; both are empty for blank text."""
        # Tokenize, then look each token up and hash its n-grams.
        tokens = tokenize(text)[: self.max_tokens]
        token_ids = np.array(
            [self._index.get(token, UNKNOWN_ID) for token in tokens], dtype=np.int64
        )
        bags = [
            [bucket_of(gram, self.buckets) for gram in token_ngrams(tokens, i)]
            for i in range(len(tokens))
        ]
        return token_ids, pad_bags(bags, self.max_ngrams)


def pad_bags(bags: Sequence[Sequence[int]], max_ngrams: int) -> IdArray:
    """Stack n-gram bags into a ``[T, K]`` array padded with ``PAD_ID``."""
    width = min(max((len(bag) for bag in bags), default=1), max_ngrams)
    out = np.full((len(bags), max(width, 1)), PAD_ID, dtype=np.int64)
    for row, bag in enumerate(bags):
        kept = bag[:width]
        out[row, : len(kept)] = kept
    return out


def build_vocabulary(
    texts: Iterable[str], min_count: int, max_size: int
) -> tuple[str, ...]:
    """Tokens seen at least ``min_count`` times, most frequent first.

    Ties are broken by the token itself so that the result does not depend on
    the order of the texts.
    """
    counts = Counter(token for text in texts for token in tokenize(text))
    kept = [(n, token) for token, n in counts.items() if n >= min_count]
    kept.sort(key=lambda pair: (-pair[0], pair[1]))
    return tuple(token for _, token in kept[:max_size])
