"""Tokenization and featurization shared by training and serving."""

from __future__ import annotations

from kefu.classifier.features import (
    PAD_ID,
    UNKNOWN_ID,
    Featurizer,
    bucket_of,
    build_vocabulary,
    tokenize,
)


def test_tokenize_splits_chinese_into_characters_and_keeps_english_words() -> None:
    """Chinese text becomes one token per character; Latin runs stay whole words."""
    assert tokenize("我要退款 please REFUND!") == [
        "我",
        "要",
        "退",
        "款",
        "please",
        "refund",
        "!",
    ]


def test_tokenize_folds_full_width_and_digits() -> None:
    """Full-width letters fold to ASCII and every digit becomes 0."""
    assert tokenize("ＡＢＣ订单12345") == ["abc", "订", "单", "00000"]


def test_bucket_of_is_stable_across_processes() -> None:
    """N-gram hashing is CRC-32 based, so a known n-gram has a known bucket."""
    assert bucket_of("w:refund", 1 << 20) == 658012
    assert bucket_of("2:退款", 512) == 507
    assert 1 <= bucket_of("anything", 16) < 16


def test_encode_gives_one_row_of_ngrams_per_token() -> None:
    """Encoding returns token ids [T] and n-gram ids [T, K], unknowns mapped to 1."""
    featurizer = Featurizer(("退", "款"), buckets=64, max_tokens=10, max_ngrams=4)
    token_ids, ngram_ids = featurizer.encode("退款 zebra")
    assert token_ids.tolist() == [2, 3, UNKNOWN_ID]
    assert ngram_ids.shape == (3, 4)
    assert (ngram_ids[:2, 3] == PAD_ID).all()


def test_encode_truncates_and_handles_blank_text() -> None:
    """Long texts are cut at max_tokens and blank text encodes to no tokens."""
    featurizer = Featurizer((), buckets=64, max_tokens=3, max_ngrams=4)
    assert featurizer.encode("a b c d e")[0].shape == (3,)
    assert featurizer.encode("   ")[0].shape == (0,)


def test_build_vocabulary_orders_by_count_then_token() -> None:
    """The vocabulary keeps frequent tokens, most frequent first, ties sorted."""
    vocabulary = build_vocabulary(["b a", "a b c", "a"], min_count=2, max_size=10)
    assert vocabulary == ("a", "b")
