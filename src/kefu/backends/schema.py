"""Tables of the durable store, shared by every SQL engine.

Changing a table here needs a migration in ``migrations/versions/`` too.

Times are seconds since the epoch (double precision), converted to ISO 8601
only at the API's edge.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

sessions = Table(
    "kefu_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("customer_name", String(200)),
    Column("tier", String(16), nullable=False),
    Column("agent_id", String(128)),
    Column("issue_type", String(64)),
    Column("skill_group", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("order_id", String(128)),
    Column("order_status", String(64)),
    Column("created_at", Double, nullable=False),
    Column("assigned_at", Double),
    Column("closed_at", Double),
    Column("first_response_at", Double),
    Column("last_seq", Integer, nullable=False),
    Column("verification", String(16)),
    Index("ix_kefu_sessions_state", "state"),
    Index("ix_kefu_sessions_customer", "customer_id"),
)

messages = Table(
    "kefu_messages",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("client_msg_id", String(128)),
    Column("sender_role", String(16), nullable=False),
    Column("sender_id", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", Double, nullable=False),
    UniqueConstraint("session_id", "client_msg_id", name="uq_kefu_messages_client"),
)

agents = Table(
    "kefu_agents",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("skills", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("token_version", Integer, nullable=False),
)

skill_groups = Table(
    "kefu_skill_groups",
    metadata,
    Column("name", String(64), primary_key=True),
)

verifications = Table(
    "kefu_verifications",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("attempts", Integer, nullable=False),
)

meta = Table(
    "kefu_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
