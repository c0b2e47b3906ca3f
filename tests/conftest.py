from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kefu_client import Server
from tests.stores import ENGINES, fresh_store


@pytest.fixture(params=ENGINES)
def store_args(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """``kefu serve`` arguments for a fresh store of each engine in turn."""
    with fresh_store(request.param) as url:
        yield [] if url is None else ["--store-url", url]


@pytest.fixture
def server(tmp_path: Path, store_args: list[str]) -> Iterator[Server]:
    """A running ``kefu serve --demo`` on a free port, on a fresh store."""
    srv = Server(tmp_path / "data", list(store_args))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path: Path, store_args: list[str]) -> Iterator[type[Server]]:
    """Start servers with extra arguments; all are stopped after the test."""
    started: list[Server] = []

    def make(*args: str, data_dir: Path | None = None) -> Server:
        srv = Server(data_dir or tmp_path / f"data{len(started)}", [*store_args, *args])
        srv.start()
        started.append(srv)
        return srv

    yield make  # type: ignore[misc]
    for srv in started:
        srv.stop()
