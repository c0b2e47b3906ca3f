"""kefu's settings: one object, filled from command-line options or ``KEFU_*``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kefu.routing.router import Strategy
from kefu.routing.skills import DEFAULT_GROUP_OF


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits; each breach gets a documented error."""

    max_body_bytes: int = 64 * 1024
    max_frame_bytes: int = 64 * 1024
    max_text_chars: int = 2000
    #: Frames one connection may send per second, sustained, and in a burst.
    frames_per_s: float = 50.0
    frames_burst: int = 100
    #: Frames waiting to be written to one slow client before it is cut off.
    send_buffer_frames: int = 1000
    #: Contacts one customer may open per minute (a burst of as many at once).
    contacts_per_minute: int = 10
    #: Login attempts per minute for one agent id, and from one client address.
    logins_per_agent: int = 5
    logins_per_address: int = 20
    #: A WebSocket must authenticate within this many seconds.
    auth_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./kefu-data")
    demo: bool = False
    #: SQLAlchemy URL of the store; default: SQLite in the data directory.
    store_url: str | None = None
    customer_token_secret: str | None = None
    agent_token_secret: str | None = None
    customer_token_audience: str | None = None
    strategy: Strategy = Strategy.LEAST_LOADED
    grace_s: float = 30.0
    offer_timeout_s: float = 120.0
    aging_s: float = 10.0
    classifier_model: Path | None = None
    #: Base URL of the SMS provider; without one, sensitive contacts go on
    #: marked ``unavailable``.
    sms_url: str | None = None
    sensitive_issue_types: frozenset[str] = frozenset({"refund", "account"})
    #: OTLP/HTTP endpoint for traces (e.g. http://collector:4318/v1/traces).
    otlp_endpoint: str | None = None
    #: Seconds between canary conversations; 0 switches the canary off.
    canary_interval_s: float = 0.0
    #: Defects of the replaced system, switched on for replays only; see
    #: :mod:`kefu.access.defects`.
    defects: frozenset[str] = frozenset()
    log_level: str = "info"
    access_log: bool = True
    limits: Limits = field(default_factory=Limits)
    group_of: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_GROUP_OF))
