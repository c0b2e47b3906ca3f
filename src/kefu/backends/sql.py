"""The durable store on SQL (SQLite by default), with group commit.

Writes go through one writer thread.  Whatever writes are waiting when the
writer becomes free are committed together in one transaction (group commit),
so the cost of a durable commit (an fsync for SQLite) is shared by every
message that arrived meanwhile.  A write's awaitable resolves only after its
transaction has committed; if a batch fails, its writes are retried one by one
so that one bad write cannot fail its neighbours.

Reads run on a small pool of threads with their own connections; SQLite in WAL
mode lets them proceed while the writer commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import trace
from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.engine import Row

from kefu.backends import migrate, schema
from kefu.backends.store import AgentRecord
from kefu.errors import Overloaded, StoreUnavailable
from kefu.sessions.model import Message, Role, Session, SessionState
from kefu.sessions.verification import Challenge, VerificationState

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("kefu")

T = TypeVar("T")
WriteOp = Callable[[Connection], None]


@dataclass(frozen=True, slots=True)
class SqlSettings:
    url: str
    #: Writes accepted but not yet committed; beyond this, writes are refused.
    max_pending_writes: int = 10_000
    #: Most writes committed in one transaction.
    max_batch: int = 512
    read_threads: int = 4


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'kefu.db'}"


class SqlStore:
    """:class:`kefu.backends.store.Store` on SQLAlchemy Core."""

    def __init__(
        self,
        settings: SqlSettings,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.settings = settings
        #: Called with ("read" | "write", seconds) after every operation.
        self._observe = observe or (lambda op, seconds: None)
        self._engine = _make_engine(settings)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="kefu-store-w")
        self._readers = ThreadPoolExecutor(
            settings.read_threads, thread_name_prefix="kefu-store-r"
        )
        self._pending: asyncio.Queue[tuple[WriteOp, asyncio.Future[None]] | None] = (
            asyncio.Queue(settings.max_pending_writes)
        )
        self._writer: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        """Check (SQLite: apply) the schema, then start the writer."""
        if self._engine.dialect.name == "sqlite":
            await self._in_writer(migrate.upgrade)
        await self._in_writer(migrate.check)
        self._writer = asyncio.create_task(self._write_loop(), name="kefu-store-writer")

    async def stop(self) -> None:
        # Let the writer commit everything already accepted, then close.
        if self._writer is not None:
            await self._pending.put(None)
            await self._writer
            self._writer = None
        self._readers.shutdown(wait=True)
        self._writer_thread.shutdown(wait=True)
        self._engine.dispose()

    async def ping(self) -> bool:
        try:
            await self._read(lambda conn: conn.execute(select(1)).scalar())
        except Exception:
            return False
        return self._writer is not None and not self._writer.done()

    @property
    def pending_writes(self) -> int:
        return self._pending.qsize()

    def connections(self) -> tuple[int, int]:
        """Store connections (in use, idle in the pool)."""
        pool = self._engine.pool
        in_use = int(getattr(pool, "checkedout", lambda: 0)())
        idle = int(getattr(pool, "checkedin", lambda: 0)())
        return in_use, idle

    # -- sessions and messages ----------------------------------------------

    async def create_session(self, session: Session, first: Message) -> None:
        def op(conn: Connection) -> None:
            conn.execute(schema.sessions.insert().values(_session_row(session)))
            conn.execute(schema.messages.insert().values(_message_row(first)))

        await self._write(op)

    async def save_session(self, session: Session) -> None:
        row = _session_row(session)
        await self._write(
            lambda conn: _exec(
                conn,
                update(schema.sessions)
                .where(schema.sessions.c.id == session.id)
                .values(row),
            )
        )

    async def append_message(self, session: Session, message: Message) -> None:
        def op(conn: Connection) -> None:
            conn.execute(schema.messages.insert().values(_message_row(message)))
            conn.execute(
                update(schema.sessions)
                .where(schema.sessions.c.id == session.id)
                .values(
                    last_seq=session.last_seq,
                    first_response_at=session.first_response_at,
                )
            )

        await self._write(op)

    async def get_session(self, session_id: str) -> Session | None:
        query = select(schema.sessions).where(schema.sessions.c.id == session_id)
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _session_from(row)

    async def open_sessions(self) -> Sequence[Session]:
        query = select(schema.sessions).where(
            schema.sessions.c.state != SessionState.CLOSED.value
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_session_from(row) for row in rows]

    async def messages(
        self, session_id: str, after_seq: int, limit: int
    ) -> Sequence[Message]:
        table = schema.messages
        query = (
            select(table)
            .where(table.c.session_id == session_id, table.c.seq > after_seq)
            .order_by(table.c.seq)
            .limit(limit)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_message_from(row) for row in rows]

    async def message_by_seq(self, session_id: str, seq: int) -> Message | None:
        table = schema.messages
        query = select(table).where(
            table.c.session_id == session_id, table.c.seq == seq
        )
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _message_from(row)

    async def client_msg_ids(self, session_id: str) -> dict[str, int]:
        table = schema.messages
        query = select(table.c.client_msg_id, table.c.seq).where(
            table.c.session_id == session_id, table.c.client_msg_id.is_not(None)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return {row[0]: row[1] for row in rows}

    # -- verification codes -------------------------------------------------

    async def put_challenge(self, challenge: Challenge) -> None:
        values = {
            "session_id": challenge.session_id,
            "code_hash": challenge.code_hash,
            "expires_at": challenge.expires_at,
            "attempts": challenge.attempts,
        }
        await self._write(
            lambda conn: _upsert(conn, schema.verifications, "session_id", values)
        )

    async def get_challenge(self, session_id: str) -> Challenge | None:
        table = schema.verifications
        query = select(table).where(table.c.session_id == session_id)
        row = await self._read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        m = row._mapping
        return Challenge(
            m["session_id"], m["code_hash"], m["expires_at"], m["attempts"]
        )

    # -- agents, groups, meta -----------------------------------------------

    async def put_agent(self, agent: AgentRecord) -> None:
        values = {
            "id": agent.id,
            "name": agent.name,
            "password_hash": agent.password_hash,
            "capacity": agent.capacity,
            "skills": json.dumps(list(agent.skills)),
            "role": agent.role,
            "disabled": agent.disabled,
            "token_version": agent.token_version,
        }
        await self._write(lambda conn: _upsert(conn, schema.agents, "id", values))

    async def get_agent(self, agent_id: str) -> AgentRecord | None:
        query = select(schema.agents).where(schema.agents.c.id == agent_id)
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _agent_from(row)

    async def list_agents(self) -> Sequence[AgentRecord]:
        query = select(schema.agents).order_by(schema.agents.c.id)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_agent_from(row) for row in rows]

    async def put_group(self, name: str) -> None:
        await self._write(
            lambda conn: _upsert(conn, schema.skill_groups, "name", {"name": name})
        )

    async def list_groups(self) -> Sequence[str]:
        query = select(schema.skill_groups.c.name).order_by(schema.skill_groups.c.name)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [row[0] for row in rows]

    async def get_meta(self, key: str) -> str | None:
        query = select(schema.meta.c.value).where(schema.meta.c.key == key)
        value = await self._read(lambda conn: conn.execute(query).scalar())
        return None if value is None else str(value)

    async def put_meta(self, key: str, value: str) -> None:
        await self._write(
            lambda conn: _upsert(conn, schema.meta, "key", {"key": key, "value": value})
        )

    # -- the writer ---------------------------------------------------------

    async def _write(self, op: WriteOp) -> None:
        """Queue a write and wait until it is committed."""
        started = time.perf_counter()
        with tracer.start_as_current_span("kefu.store.write"):
            try:
                await self._write_untraced(op)
            finally:
                self._observe("write", time.perf_counter() - started)

    async def _write_untraced(self, op: WriteOp) -> None:
        if self._writer is None or self._writer.done():
            raise StoreUnavailable("the store is not running", retry_after_s=1.0)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self._pending.put_nowait((op, future))
        except asyncio.QueueFull:
            raise Overloaded("too many writes waiting", retry_after_s=1.0) from None
        await future

    async def _write_loop(self) -> None:
        while True:
            # Take everything that is waiting, up to one batch.
            item = await self._pending.get()
            batch: list[tuple[WriteOp, asyncio.Future[None]]] = []
            stopping = item is None
            if item is not None:
                batch.append(item)
            while len(batch) < self.settings.max_batch and not self._pending.empty():
                more = self._pending.get_nowait()
                if more is None:
                    stopping = True
                    continue
                batch.append(more)
            if batch:
                await self._commit_batch(batch)
            if stopping and self._pending.empty():
                return

    async def _commit_batch(
        self, batch: list[tuple[WriteOp, asyncio.Future[None]]]
    ) -> None:
        # One transaction for the whole batch; on failure, one per write.
        try:
            await self._in_writer(_run_all, [op for op, _ in batch])
        except Exception:
            logger.warning(
                "store batch failed; retrying %d writes one by one", len(batch)
            )
            for op, future in batch:
                try:
                    await self._in_writer(_run_all, [op])
                except Exception as exc:
                    logger.error("store write failed: %s", type(exc).__name__)
                    _settle(future, StoreUnavailable("the write could not be stored"))
                else:
                    _settle(future, None)
            return
        for _, future in batch:
            _settle(future, None)

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with self._engine.begin() as conn:
                return fn(conn, *args)

        return await asyncio.get_running_loop().run_in_executor(
            self._writer_thread, run
        )

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._engine.connect() as conn:
                return fn(conn)

        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._readers, run)
        except Exception as exc:
            logger.error("store read failed: %s", type(exc).__name__)
            raise StoreUnavailable(
                "the store could not be read", retry_after_s=1.0
            ) from exc
        finally:
            self._observe("read", time.perf_counter() - started)


# -- helpers -------------------------------------------------------------------


def engine_url(url: str) -> str:
    """The SQLAlchemy URL with kefu's drivers (psycopg 3, PyMySQL) filled in."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("mysql://") or url.startswith("mariadb://"):
        url = "mysql+pymysql://" + url.split("://", 1)[1]
    if url.startswith("mysql+pymysql://") and "charset=" not in url:
        url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    return url


def _make_engine(settings: SqlSettings) -> Engine:
    engine = create_engine(
        engine_url(settings.url),
        pool_size=settings.read_threads + 1,
        # A server restarted under kefu leaves dead connections in the pool.
        pool_pre_ping=True,
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; FULL makes every commit durable
    # even across a power cut, not only across a process crash.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _run_all(conn: Connection, ops: list[WriteOp]) -> None:
    for op in ops:
        op(conn)


def _exec(conn: Connection, statement: Any) -> None:
    conn.execute(statement)


def _upsert(conn: Connection, table: Any, key: str, values: dict[str, Any]) -> None:
    """Update the row with this key, or insert it; portable across engines."""
    result = conn.execute(
        update(table).where(table.c[key] == values[key]).values(values)
    )
    if result.rowcount == 0:
        conn.execute(table.insert().values(values))


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():  # the caller was cancelled; the write stands regardless
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _session_row(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "state": session.state.value,
        "customer_id": session.customer_id,
        "customer_name": session.customer_name,
        "tier": session.tier,
        "agent_id": session.agent_id,
        "issue_type": session.issue_type,
        "skill_group": session.skill_group,
        "channel": session.channel,
        "priority": session.priority,
        "order_id": session.order_id,
        "order_status": session.order_status,
        "created_at": session.created_at,
        "assigned_at": session.assigned_at,
        "closed_at": session.closed_at,
        "first_response_at": session.first_response_at,
        "last_seq": session.last_seq,
        "verification": None
        if session.verification is None
        else session.verification.value,
    }


def _session_from(row: Row[Any]) -> Session:
    m = row._mapping
    return Session(
        id=m["id"],
        state=SessionState(m["state"]),
        customer_id=m["customer_id"],
        customer_name=m["customer_name"],
        tier=m["tier"],
        agent_id=m["agent_id"],
        issue_type=m["issue_type"],
        skill_group=m["skill_group"],
        channel=m["channel"],
        priority=m["priority"],
        order_id=m["order_id"],
        order_status=m["order_status"],
        created_at=m["created_at"],
        assigned_at=m["assigned_at"],
        closed_at=m["closed_at"],
        first_response_at=m["first_response_at"],
        last_seq=m["last_seq"],
        verification=None
        if m["verification"] is None
        else VerificationState(m["verification"]),
    )


def _message_row(message: Message) -> dict[str, Any]:
    return {
        "session_id": message.session_id,
        "seq": message.seq,
        "client_msg_id": message.client_msg_id,
        "sender_role": message.sender_role.value,
        "sender_id": message.sender_id,
        "text": message.text,
        "sent_at": message.sent_at,
    }


def _message_from(row: Row[Any]) -> Message:
    m = row._mapping
    return Message(
        session_id=m["session_id"],
        seq=m["seq"],
        sender_role=Role(m["sender_role"]),
        sender_id=m["sender_id"],
        text=m["text"],
        sent_at=m["sent_at"],
        client_msg_id=m["client_msg_id"],
    )


def _agent_from(row: Row[Any]) -> AgentRecord:
    m = row._mapping
    return AgentRecord(
        id=m["id"],
        name=m["name"],
        password_hash=m["password_hash"],
        capacity=m["capacity"],
        skills=tuple(json.loads(m["skills"])),
        role=m["role"],
        disabled=bool(m["disabled"]),
        token_version=m["token_version"],
    )
