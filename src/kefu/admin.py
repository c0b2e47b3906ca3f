"""Operators' commands on the store: agents and skill groups.

They work on the same store a kefu process uses (``--data-dir`` or
``--store-url``), whether or not the process is running: an agent added here
can log in at once, since login reads the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from kefu.access.auth import hash_password
from kefu.backends.sql import SqlSettings, SqlStore, sqlite_url
from kefu.backends.store import AgentRecord

ROLES = ("agent", "supervisor", "admin")


class AdminError(Exception):
    """An operator's request that cannot be carried out; the message says why."""


@asynccontextmanager
async def open_store(data_dir: Path, store_url: str | None) -> AsyncIterator[SqlStore]:
    store = SqlStore(SqlSettings(store_url or sqlite_url(data_dir)))
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


async def add_agent(
    store: SqlStore,
    agent_id: str,
    name: str,
    password: str,
    capacity: int,
    skills: Sequence[str],
    role: str,
) -> AgentRecord:
    """Create an agent; the skill groups must exist."""
    if await store.get_agent(agent_id) is not None:
        raise AdminError(f"agent {agent_id} already exists")
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if capacity < 0:
        raise AdminError("capacity must not be negative")
    if len(password) < 8:
        raise AdminError("passwords have at least 8 characters")
    missing = sorted(set(skills) - set(await store.list_groups()))
    if missing:
        raise AdminError(f"no such skill groups: {', '.join(missing)}")
    record = AgentRecord(
        agent_id, name, hash_password(password), capacity, tuple(skills), role=role
    )
    await store.put_agent(record)
    return record


async def disable_agent(store: SqlStore, agent_id: str) -> None:
    """Refuse the agent's logins from now on and void their tokens."""
    record = await store.get_agent(agent_id)
    if record is None:
        raise AdminError(f"no agent {agent_id}")
    await store.put_agent(
        replace(record, disabled=True, token_version=record.token_version + 1)
    )


async def add_group(store: SqlStore, name: str) -> None:
    if not name or len(name) > 64:
        raise AdminError("a skill group name has 1 to 64 characters")
    await store.put_group(name)
