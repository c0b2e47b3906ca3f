"""Server-to-client frames, encoded once and sent as they are to every device.

The same frames travel over the plain WebSocket and any other transport; see
``docs/api.md`` for each frame's fields.
"""

from __future__ import annotations

from typing import Any

import orjson

from kefu.sessions.model import Message, SessionView, message_json, session_json


def encode(frame: dict[str, Any]) -> bytes:
    return orjson.dumps(frame)


def message_frame(message: Message) -> bytes:
    return encode({"type": "message", "message": message_json(message)})


def session_frame(view: SessionView) -> bytes:
    return encode({"type": "session", "session": session_json(view)})


def ack_frame(client_msg_id: str, session_id: str, seq: int) -> bytes:
    return encode(
        {
            "type": "ack",
            "client_msg_id": client_msg_id,
            "session_id": session_id,
            "seq": seq,
        }
    )


def resumed_frame(session_id: str, last_seq: int) -> bytes:
    return encode({"type": "resumed", "session_id": session_id, "last_seq": last_seq})


def read_frame(session_id: str, seq: int, role: str, reader_id: str) -> bytes:
    return encode(
        {
            "type": "read",
            "session_id": session_id,
            "seq": seq,
            "reader": {"role": role, "id": reader_id},
        }
    )


def typing_frame(session_id: str, role: str, sender_id: str) -> bytes:
    return encode(
        {
            "type": "typing",
            "session_id": session_id,
            "sender": {"role": role, "id": sender_id},
        }
    )


def error_frame(code: str, message: str, ref: str | None = None) -> bytes:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    return encode(frame)
