"""The durable store's interface: sessions, messages, agents and skill groups.

A write returns only once it is durable: a message whose write has returned
survives ``kill -9`` of the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kefu.sessions.model import Message, Session
from kefu.sessions.verification import Challenge


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: str
    name: str
    password_hash: str
    capacity: int
    skills: tuple[str, ...]
    role: str = "agent"
    disabled: bool = False
    #: Raised on logout or password change; tokens carrying an older one are void.
    token_version: int = 0


class Store(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Finish every accepted write, then release connections."""

    async def ping(self) -> bool: ...

    # -- sessions and messages
    async def create_session(self, session: Session, first: Message) -> None: ...

    async def save_session(self, session: Session) -> None: ...

    async def append_message(self, session: Session, message: Message) -> None:
        """Write the message and the session's new last_seq in one transaction."""

    async def get_session(self, session_id: str) -> Session | None: ...

    async def open_sessions(self) -> Sequence[Session]: ...

    async def messages(
        self, session_id: str, after_seq: int, limit: int
    ) -> Sequence[Message]: ...

    async def client_msg_ids(self, session_id: str) -> dict[str, int]: ...

    async def message_by_seq(self, session_id: str, seq: int) -> Message | None: ...

    # -- verification codes
    async def put_challenge(self, challenge: Challenge) -> None: ...

    async def get_challenge(self, session_id: str) -> Challenge | None: ...

    # -- agents and skill groups
    async def put_agent(self, agent: AgentRecord) -> None: ...

    async def get_agent(self, agent_id: str) -> AgentRecord | None: ...

    async def list_agents(self) -> Sequence[AgentRecord]: ...

    async def put_group(self, name: str) -> None: ...

    async def list_groups(self) -> Sequence[str]: ...

    async def get_meta(self, key: str) -> str | None: ...

    async def put_meta(self, key: str, value: str) -> None: ...
