"""The first schema: sessions, messages, agents, skill groups, codes, meta.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


#: MySQL/MariaDB tables hold any Unicode text (Chinese, emoji) byte for byte.
_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "kefu_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("customer_name", sa.String(200)),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(128)),
        sa.Column("issue_type", sa.String(64)),
        sa.Column("skill_group", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(128)),
        sa.Column("order_status", sa.String(64)),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("assigned_at", sa.Double),
        sa.Column("closed_at", sa.Double),
        sa.Column("first_response_at", sa.Double),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("verification", sa.String(16)),
        **_MYSQL,
    )
    op.create_index("ix_kefu_sessions_state", "kefu_sessions", ["state"])
    op.create_index("ix_kefu_sessions_customer", "kefu_sessions", ["customer_id"])
    op.create_table(
        "kefu_messages",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("client_msg_id", sa.String(128)),
        sa.Column("sender_role", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Double, nullable=False),
        sa.UniqueConstraint(
            "session_id", "client_msg_id", name="uq_kefu_messages_client"
        ),
        **_MYSQL,
    )
    op.create_table(
        "kefu_agents",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("skills", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("token_version", sa.Integer, nullable=False),
        **_MYSQL,
    )
    op.create_table(
        "kefu_skill_groups",
        sa.Column("name", sa.String(64), primary_key=True),
        **_MYSQL,
    )
    op.create_table(
        "kefu_verifications",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        **_MYSQL,
    )
    op.create_table(
        "kefu_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        **_MYSQL,
    )


def downgrade() -> None:
    for table in (
        "kefu_meta",
        "kefu_verifications",
        "kefu_skill_groups",
        "kefu_agents",
        "kefu_messages",
        "kefu_sessions",
    ):
        op.drop_table(table)
