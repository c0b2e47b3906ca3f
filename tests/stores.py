"""Fresh databases for the suite that runs against every store engine.

The embedded SQLite store needs nothing.  PostgreSQL and MySQL/MariaDB tests
create a database of their own on the local server and drop it afterwards;
when a server is missing they skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine

from kefu.backends import migrate
from kefu.backends.sql import engine_url

ENGINES = ("sqlite", "postgresql", "mysql")
PG_ADMIN = os.environ.get("KEFU_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
MYSQL_ADMIN = os.environ.get("KEFU_TEST_MYSQL", "mysql://root@127.0.0.1:3306")


def _unavailable(what: str, exc: Exception) -> None:
    reason = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def fresh_store(kind: str) -> Iterator[str | None]:
    """A store URL for a new, migrated database (None: the embedded default)."""
    if kind == "sqlite":
        yield None
        return
    name = f"kefu_t_{uuid.uuid4().hex[:12]}"
    admin_url = f"{PG_ADMIN}/postgres" if kind == "postgresql" else MYSQL_ADMIN
    admin = create_engine(engine_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # any driver error means no usable server
        admin.dispose()
        _unavailable(kind, exc)
    url = f"{PG_ADMIN}/{name}" if kind == "postgresql" else f"{MYSQL_ADMIN}/{name}"
    engine = create_engine(engine_url(url))
    with engine.begin() as conn:
        migrate.upgrade(conn)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if kind == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()
