"""Fan-out: every open connection of every user, and delivery of frames to them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from kefu.sessions.model import Principal, Role

#: A user as the fan-out knows them: (role, id).
UserKey = tuple[Role, str]


class Connection(Protocol):
    """One device's live connection, whatever its transport."""

    @property
    def principal(self) -> Principal: ...

    def send(self, frame: bytes) -> None:
        """Queue a frame without waiting; a connection whose bounded buffer is
        full closes itself instead of growing."""


class Fanout(Protocol):
    def deliver(self, users: Iterable[UserKey], frame: bytes) -> None: ...


class Hub:
    """The connections open on this process, by user."""

    def __init__(self) -> None:
        self._by_user: dict[UserKey, set[Connection]] = {}

    def add(self, conn: Connection) -> int:
        """Register a connection; returns how many the user now has here."""
        key = (conn.principal.role, conn.principal.id)
        conns = self._by_user.setdefault(key, set())
        conns.add(conn)
        return len(conns)

    def remove(self, conn: Connection) -> int:
        """Forget a connection; returns how many the user still has here."""
        key = (conn.principal.role, conn.principal.id)
        conns = self._by_user.get(key)
        if conns is None:
            return 0
        conns.discard(conn)
        if not conns:
            del self._by_user[key]
        return len(conns)

    def deliver(self, users: Iterable[UserKey], frame: bytes) -> None:
        for key in users:
            for conn in tuple(self._by_user.get(key, ())):
                conn.send(frame)

    def all(self) -> list[Connection]:
        return [conn for conns in self._by_user.values() for conn in conns]

    def __len__(self) -> int:
        return sum(len(conns) for conns in self._by_user.values())
