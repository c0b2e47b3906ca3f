"""Applying and checking the store's schema migrations.

``kefu migrate`` brings a store to the newest schema.  At start, kefu checks
that the store is at that schema and refuses to run on an older or newer one,
except on the embedded SQLite store, which it migrates itself (there is no
one else to do it).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

_SCRIPTS = Path(__file__).parent / "migrations"


class SchemaMismatch(Exception):
    """The store's schema is not the one this kefu needs; the message says why."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this kefu knows."""
    script = ScriptDirectory.from_config(_config(None))  # type: ignore[arg-type]
    revision = script.get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    """The revision the store is at (None for an empty store)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> None:
    """Apply every migration the store has not had yet."""
    command.upgrade(_config(connection), "head")


def check(connection: Connection) -> None:
    """Raise :class:`SchemaMismatch` unless the store is at the newest schema."""
    found, wanted = current(connection), head()
    if found != wanted:
        raise SchemaMismatch(
            f"the store's schema is at {found or 'nothing'}, kefu needs {wanted}: "
            "run `kefu migrate`"
        )
