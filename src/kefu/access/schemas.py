"""Request and response bodies of the HTTP API, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, pattern=r"\S"),
    Field(description="1 to 2000 characters, not only whitespace."),
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Channel = Literal["app", "miniprogram", "phone", "web"]


class ContactIn(BaseModel):
    text: Text
    channel: Channel
    order_id: Id | None = None
    order_status: (
        Annotated[str, StringConstraints(min_length=1, max_length=64)] | None
    ) = None


class MessageIn(BaseModel):
    text: Text
    client_msg_id: Id


class VerifyIn(BaseModel):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] = Field(
        description="The 6-digit code the customer received by SMS."
    )


class StatusIn(BaseModel):
    status: Literal["online", "away", "offline"]


class TransferIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"description": "Exactly one of the two fields."}
    )
    skill_group: Id | None = None
    agent_id: Id | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TransferIn:
        if (self.skill_group is None) == (self.agent_id is None):
            raise ValueError("give exactly one of skill_group and agent_id")
        return self


class LoginIn(BaseModel):
    agent_id: Id
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class DemoTokenIn(BaseModel):
    customer_id: Id
    tier: Literal["regular", "vip"] = "regular"
    name: Annotated[str, StringConstraints(max_length=200)] | None = None


# -- responses -----------------------------------------------------------------


class QueueOut(BaseModel):
    position: int
    estimated_wait_s: float | None = Field(
        description="Expected seconds to wait; null while no agent of the group is on."
    )


class VerificationOut(BaseModel):
    state: Literal["pending", "verified", "failed", "unavailable"]


class SessionOut(BaseModel):
    id: str
    state: Literal["queued", "assigned", "closed"]
    customer_id: str
    agent_id: str | None
    agent_name: str | None = Field(description="The assigned agent's display name.")
    issue_type: str | None
    skill_group: str
    channel: Channel
    priority: int
    tier: Literal["regular", "vip"]
    order_id: str | None
    order_status: str | None
    queue: QueueOut | None
    created_at: str
    assigned_at: str | None
    closed_at: str | None
    last_seq: int
    verification: VerificationOut | None = Field(
        description="Present for sensitive issue types (refund, account)."
    )


class SenderOut(BaseModel):
    role: Literal["customer", "agent", "system"]
    id: str


class MessageOut(BaseModel):
    session_id: str
    seq: int
    client_msg_id: str | None
    sender: SenderOut
    text: str
    sent_at: str


class SessionEnvelope(BaseModel):
    session: SessionOut


class SessionsEnvelope(BaseModel):
    sessions: list[SessionOut]


class MessageEnvelope(BaseModel):
    message: MessageOut


class MessagesPage(BaseModel):
    messages: list[MessageOut]
    has_more: bool


class TokenOut(BaseModel):
    token: str


class LoginOut(BaseModel):
    token: str
    expires_at: str


class StatusOut(BaseModel):
    status: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable snake_case code; see docs/api.md.")
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


#: The error statuses every API route documents, for ``responses=``.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 403, 404, 409, 413, 429, 503)
}


class SkillGroupsOut(BaseModel):
    skill_groups: list[str]


class AgentOut(BaseModel):
    id: str
    name: str
    status: Literal["online", "away", "offline"]
    connected: bool
    load: int
    capacity: int
    skills: list[str]


class AgentsOut(BaseModel):
    agents: list[AgentOut]
