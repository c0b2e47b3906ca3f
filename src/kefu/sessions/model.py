"""Sessions and messages, and the rules for changing them.

These are plain values and functions without I/O: the engine decides *when*
something happens, this module decides whether it may and what it looks like.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kefu.errors import Conflict, SessionClosed
from kefu.sessions.verification import VerificationState

#: The largest seq a session can reach (and a client may name): the store
#: keeps seqs in 32-bit integer columns.
MAX_SEQ = 2**31 - 1


class SessionState(enum.StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a customer or an agent, by id."""

    role: Role
    id: str
    name: str | None = None
    tier: str = "regular"


@dataclass(frozen=True, slots=True)
class Session:
    """One conversation between a customer and (eventually) an agent."""

    id: str
    state: SessionState
    customer_id: str
    issue_type: str | None
    skill_group: str
    channel: str
    priority: int
    created_at: float
    customer_name: str | None = None
    tier: str = "regular"
    order_id: str | None = None
    order_status: str | None = None
    agent_id: str | None = None
    assigned_at: float | None = None
    closed_at: float | None = None
    first_response_at: float | None = None
    last_seq: int = 0
    #: Identity verification, for sensitive issue types only.
    verification: VerificationState | None = None

    def takes_part(self, principal: Principal) -> bool:
        """Whether the principal is the session's customer or current agent."""
        if principal.role is Role.CUSTOMER:
            return principal.id == self.customer_id
        return principal.role is Role.AGENT and principal.id == self.agent_id


@dataclass(frozen=True, slots=True)
class Message:
    session_id: str
    seq: int
    sender_role: Role
    sender_id: str
    text: str
    sent_at: float
    client_msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    position: int
    estimated_wait_s: float | None


@dataclass(slots=True)
class SessionView:
    """What a participant sees of a session: the record plus its queue place."""

    session: Session
    queue: QueueInfo | None = field(default=None)
    agent_name: str | None = None


# -- transitions ---------------------------------------------------------------


def _check_open(session: Session) -> None:
    if session.state is SessionState.CLOSED:
        raise SessionClosed("the session is closed")


def assign(session: Session, agent_id: str, now: float) -> Session:
    """The session now belongs to ``agent_id``."""
    _check_open(session)
    return replace(
        session, state=SessionState.ASSIGNED, agent_id=agent_id, assigned_at=now
    )


def requeue(session: Session, skill_group: str | None = None) -> Session:
    """The session waits again (its agent left or it was transferred to a group)."""
    _check_open(session)
    return replace(
        session,
        state=SessionState.QUEUED,
        agent_id=None,
        assigned_at=None,
        skill_group=skill_group or session.skill_group,
    )


def close(session: Session, now: float) -> Session:
    """End the session; closing twice is an error the caller reports as 409."""
    _check_open(session)
    return replace(session, state=SessionState.CLOSED, closed_at=now)


def append(
    session: Session,
    sender: Principal,
    text: str,
    client_msg_id: str | None,
    now: float,
) -> tuple[Session, Message]:
    """The next message of the session and the session with its seq advanced."""
    _check_open(session)
    if sender.role is Role.AGENT and session.agent_id != sender.id:
        raise Conflict("the session is not assigned to this agent")
    seq = session.last_seq + 1
    message = Message(session.id, seq, sender.role, sender.id, text, now, client_msg_id)
    first_response = session.first_response_at
    if sender.role is Role.AGENT and first_response is None:
        first_response = now
    return replace(session, last_seq=seq, first_response_at=first_response), message


# -- wire shapes ---------------------------------------------------------------


def iso(ts: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds, or None."""
    if ts is None:
        return None
    return (
        datetime.fromtimestamp(ts, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def session_json(view: SessionView) -> dict[str, Any]:
    """The Session object of the API."""
    session = view.session
    queue = None
    if view.queue is not None and session.state is SessionState.QUEUED:
        queue = {
            "position": view.queue.position,
            "estimated_wait_s": view.queue.estimated_wait_s,
        }
    return {
        "id": session.id,
        "state": session.state.value,
        "customer_id": session.customer_id,
        "agent_id": session.agent_id,
        "agent_name": view.agent_name,
        "issue_type": session.issue_type,
        "skill_group": session.skill_group,
        "channel": session.channel,
        "priority": session.priority,
        "tier": session.tier,
        "order_id": session.order_id,
        "order_status": session.order_status,
        "queue": queue,
        "created_at": iso(session.created_at),
        "assigned_at": iso(session.assigned_at),
        "closed_at": iso(session.closed_at),
        "last_seq": session.last_seq,
        "verification": None
        if session.verification is None
        else {"state": session.verification.value},
    }


def message_json(message: Message) -> dict[str, Any]:
    """The Message object of the API."""
    return {
        "session_id": message.session_id,
        "seq": message.seq,
        "client_msg_id": message.client_msg_id,
        "sender": {"role": message.sender_role.value, "id": message.sender_id},
        "text": message.text,
        "sent_at": iso(message.sent_at),
    }
