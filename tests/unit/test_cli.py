"""The kefu command's sub-commands are all reachable from the top."""

from __future__ import annotations

from click.testing import CliRunner

from kefu.cli import main


def test_every_command_group_is_registered() -> None:
    """serve, classifier, fake-sms and replay are sub-commands of kefu."""
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "classifier", "fake-sms", "replay"):
        assert command in result.output
    result = CliRunner().invoke(main, ["classifier", "--help"])
    assert result.exit_code == 0
    assert "train" in result.output and "evaluate" in result.output


def test_serve_refuses_to_start_without_a_customer_secret(tmp_path: object) -> None:
    """Without --demo, kefu needs the secret that signs customer tokens."""
    result = CliRunner().invoke(
        main,
        ["serve", "--data-dir", str(tmp_path)],
        env={"KEFU_CUSTOMER_TOKEN_SECRET": ""},
    )
    assert result.exit_code == 1
    assert "KEFU_CUSTOMER_TOKEN_SECRET is required" in result.output
