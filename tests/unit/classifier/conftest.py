"""Shared fixtures: a tiny bilingual labelled set and a model trained on it once."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from kefu.classifier.cli import classifier

#: A few messages per class, Chinese and English, enough for a model to learn.
TINY: dict[str, list[str]] = {
    "refund": [
        "我要退款",
        "退款什么时候到账",
        "申请退款",
        "请给我退款",
        "退款还没收到",
        "i want a refund",
        "refund my order please",
        "where is my refund",
        "refund not received",
        "please refund me",
        "can i get a refund",
        "退款被拒绝了",
    ],
    "late_delivery": [
        "外卖还没到",
        "超时了还没送到",
        "等了一个小时还没到",
        "怎么还没送到",
        "my order is late",
        "food still not arrived",
        "delivery is very late",
        "order not arrived yet",
        "still waiting for my food",
        "why is it so late",
        "送餐太慢了",
        "订单超时了",
    ],
    "account": [
        "登录不上账号",
        "收不到验证码",
        "忘记密码",
        "账号被封了",
        "怎么注销账号",
        "cannot log in",
        "forgot my password",
        "account locked",
        "reset password",
        "login not working",
        "delete my account",
        "账号被盗了",
    ],
    "coupons": [
        "优惠券用不了",
        "红包过期了",
        "满减没有减",
        "优惠券不见了",
        "优惠码无效",
        "coupon not working",
        "voucher expired",
        "discount not applied",
        "promo code invalid",
        "my coupon is gone",
        "coupon missing",
        "红包没到账",
    ],
}


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a CSV or TSV file (by extension) with a header row."""
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tiny_rows() -> list[list[str]]:
    """The tiny set as ``[text, label]`` rows, classes interleaved."""
    width = max(len(texts) for texts in TINY.values())
    return [
        [texts[i], label]
        for i in range(width)
        for label, texts in TINY.items()
        if i < len(texts)
    ]


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny set written as ``text,label`` CSV."""
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    return write_rows(path, ["text", "label"], tiny_rows())


#: Command-line arguments that keep training on the tiny set to a second or two.
TRAIN_ARGS = ["--epochs", "12", "--buckets", "512", "--threads", "1", "--seed", "3"]


def train_with_cli(data: Path, out: Path) -> None:
    """Train through the command line and fail the test on a non-zero exit."""
    result = CliRunner().invoke(
        classifier, ["train", "--data", str(data), "--out", str(out), *TRAIN_ARGS]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def tiny_model(tiny_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory trained once, through the CLI, on the tiny set."""
    out = tmp_path_factory.mktemp("model") / "tiny"
    train_with_cli(tiny_csv, out)
    return out
