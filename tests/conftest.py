from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kefu_client import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A running ``kefu serve --demo`` on a free port with a fresh data dir."""
    srv = Server(tmp_path / "data")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[type[Server]]:
    """Start servers with extra arguments; all are stopped after the test."""
    started: list[Server] = []

    def make(*args: str, data_dir: Path | None = None) -> Server:
        srv = Server(data_dir or tmp_path / f"data{len(started)}", list(args))
        srv.start()
        started.append(srv)
        return srv

    yield make  # type: ignore[misc]
    for srv in started:
        srv.stop()
