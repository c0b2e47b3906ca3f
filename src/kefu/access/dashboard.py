"""The supervisor dashboard: ``/dashboard`` and its live figures.

A supervisor logs in like an agent, exchanges the bearer token for a ticket
(``POST /v1/dashboard/ticket``) and opens ``GET /v1/dashboard/stream?ticket=``
as server-sent events: a browser's ``EventSource`` cannot send an
``Authorization`` header, so the stream is authenticated by the ticket
instead.  A ticket is signed, lives :data:`TICKET_TTL_S` seconds and opens
one stream only, so a ticket seen in a log or a history is of no use.  A
stream ends after :data:`STREAM_MAX_S` seconds, or when kefu drains; the
page then asks for a new ticket, which checks the account again.

Every stream shares one :class:`Dashboard`, which samples kefu's metrics
at most once per :data:`TICK_S` and keeps the window that rates and the p99
are computed over (:mod:`kefu.observability.figures`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import jwt
import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kefu.access.pages import STATIC_DIR, content_security_policy
from kefu.access.schemas import ERROR_RESPONSES
from kefu.errors import Forbidden, Unauthorized
from kefu.observability.canary import CANARY_GROUP
from kefu.observability.figures import (
    FigureWindow,
    GroupRow,
    Sample,
    local_checks,
)
from kefu.routing.router import AgentStatus
from kefu.sessions.model import Role, iso

if TYPE_CHECKING:
    from kefu.service import Kefu

logger = logging.getLogger(__name__)

#: Agent-record roles that may see the dashboard.
DASHBOARD_ROLES = frozenset({"supervisor", "admin"})

#: Seconds a ticket may wait before it opens a stream.
TICKET_TTL_S = 30.0

#: Seconds one stream runs before the page must present a new ticket.
STREAM_MAX_S = 300.0

#: Seconds between two updates of a stream.
TICK_S = 1.0

#: Seconds the connect rate and the p99 are computed over.
WINDOW_S = 60.0

#: Seconds the contacts-per-second figure is computed over.
RATE_WINDOW_S = 5.0

#: Chart points kept for a page that opens (one per tick).
HISTORY_POINTS = 300

#: Seconds between two reads of Alertmanager, and the timeout of one read.
ALERTMANAGER_POLL_S = 15.0
ALERTMANAGER_TIMEOUT_S = 3.0

_TICKET_AUDIENCE = "kefu-dashboard"

_bearer = HTTPBearer(auto_error=False, description="A supervisor's agent token.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class Tickets:
    """Signed, short-lived, single-use tickets that open one stream each."""

    def __init__(self, agent_secret: str, ttl_s: float = TICKET_TTL_S) -> None:
        # A key of its own, so a ticket is never mistaken for a token.
        self._key = hmac.new(
            agent_secret.encode(), b"kefu dashboard ticket", hashlib.sha256
        ).digest()
        self.ttl_s = ttl_s
        #: ticket id -> expiry (epoch seconds) of tickets already used.
        self._used: dict[str, float] = {}

    def issue(self, agent_id: str, version: int) -> tuple[str, float]:
        """A ticket for ``agent_id`` and its expiry in seconds since the epoch."""
        expires_at = time.time() + self.ttl_s
        claims = {
            "sub": agent_id,
            "ver": version,
            "aud": _TICKET_AUDIENCE,
            "exp": math.ceil(expires_at),
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), expires_at

    def redeem(self, ticket: str) -> tuple[str, int]:
        """The (agent id, token version) a valid, unused ticket names."""
        try:
            claims = jwt.decode(
                ticket,
                self._key,
                algorithms=["HS256"],
                audience=_TICKET_AUDIENCE,
                options={"require": ["sub", "ver", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            raise Unauthorized("the ticket is invalid or has expired") from None
        # Forget used tickets once they would have expired anyway.
        now = time.time()
        self._used = {jti: exp for jti, exp in self._used.items() if exp > now}
        jti = str(claims["jti"])
        if jti in self._used:
            raise Unauthorized("the ticket has been used")
        self._used[jti] = float(claims["exp"])
        return str(claims["sub"]), int(claims["ver"])


class Alertmanager:
    """Active alerts read from Alertmanager's API, at most every poll period."""

    def __init__(self, url: str, poll_s: float = ALERTMANAGER_POLL_S) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts?active=true&silenced=false"
        self.poll_s = poll_s
        self.alerts: list[dict[str, str]] = []
        self.error: str | None = None
        self._read_at = -math.inf
        self._task: asyncio.Task[None] | None = None

    def view(self) -> dict[str, Any]:
        """What the page shows; starts a read in the background when due."""
        due = time.monotonic() - self._read_at >= self.poll_s
        if due and (self._task is None or self._task.done()):
            self._read_at = time.monotonic()
            self._task = asyncio.create_task(self._refresh())
        return {"alerts": self.alerts, "error": self.error}

    async def _refresh(self) -> None:
        # Read in a thread (the standard library's client blocks).
        try:
            raw = await asyncio.to_thread(self._read)
            self.alerts = [_alert_row(a) for a in raw if isinstance(a, dict)]
            self.error = None
        except (OSError, ValueError) as exc:
            logger.warning("alertmanager read failed: %s", type(exc).__name__)
            self.error = "Alertmanager cannot be read"

    def _read(self) -> list[Any]:
        request = urllib.request.Request(
            self.url, headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=ALERTMANAGER_TIMEOUT_S) as reply:
            body = json.loads(reply.read())
        if not isinstance(body, list):
            raise ValueError("not a list of alerts")
        return body


def _alert_row(alert: dict[str, Any]) -> dict[str, str]:
    labels = alert.get("labels") or {}
    notes = alert.get("annotations") or {}
    return {
        "name": str(labels.get("alertname", "")),
        "severity": str(labels.get("severity", "")),
        "summary": str(notes.get("summary", "")),
        "since": str(alert.get("startsAt", "")),
    }


class Dashboard:
    """The figures every stream sends, sampled at most once per tick."""

    def __init__(self, kefu: Kefu, alertmanager: Alertmanager | None = None) -> None:
        self.kefu = kefu
        self.window = FigureWindow(WINDOW_S, RATE_WINDOW_S)
        self.alertmanager = alertmanager
        #: Chart points: [epoch s, contacts/s, p99 ms, queued].
        self.history: deque[list[float | None]] = deque(maxlen=HISTORY_POINTS)
        self._payload: dict[str, Any] | None = None

    def current(self) -> dict[str, Any]:
        """The latest figures; a new sample when the last is a tick old."""
        newest = self.window.newest
        stale = newest is None or time.monotonic() - newest.at_s >= TICK_S * 0.9
        if stale or self._payload is None:
            self._payload = self._build()
        return self._payload

    def _build(self) -> dict[str, Any]:
        kefu = self.kefu
        # Counters and histogram into the window, then figures over it.
        self.window.add(_sample(kefu))
        figures = self.window.figures()
        groups = [
            GroupRow(group, depth, oldest, online, load, capacity)
            for group, (depth, oldest, online, load, capacity) in sorted(
                kefu._routing_snapshot().items()
            )
        ]
        # Consumer lag, breakers and the admission limiter.
        lag_rows = kefu.bus.lag()
        lag = [
            {
                "group": r.group,
                "topic": r.topic,
                "partition": r.partition,
                "events": r.events,
            }
            for r in lag_rows
        ]
        max_lag = max((r.events for r in lag_rows), default=0)
        breakers = {kefu.sms_breaker.name: kefu.sms_breaker.state.label}
        limiter = kefu.admission.limiter
        limiter_view = None
        if limiter is not None:
            limiter_view = {
                "name": limiter.name,
                "limit": limiter.limit,
                "inflight": limiter.inflight,
                "rejections": sum(
                    limiter.rejections(p) for p in limiter.partition_names
                ),
            }
        checks = local_checks(figures, groups, max_lag, breakers)
        # One chart point per sample.
        queued = sum(g.queue_depth for g in groups)
        now = time.time()
        p99_ms = None if figures.open_p99_s is None else figures.open_p99_s * 1000
        self.history.append([round(now, 3), figures.contacts_per_s, p99_ms, queued])
        return {
            "at": now,
            "window_s": WINDOW_S,
            "rate_window_s": RATE_WINDOW_S,
            "figures": asdict(figures),
            "groups": [asdict(g) for g in groups],
            "agents": _agents(kefu),
            "lag": lag,
            "max_lag_events": max_lag,
            "breakers": [{"name": n, "state": s} for n, s in breakers.items()],
            "limiter": limiter_view,
            "checks": [asdict(c) for c in checks],
            "point": self.history[-1],
        }

    def alerts(self) -> dict[str, Any] | None:
        return None if self.alertmanager is None else self.alertmanager.view()


def _sample(kefu: Kefu) -> Sample:
    """The contact counters and the contact-open histogram right now."""
    contacts: dict[str, float] = {}
    for family in kefu.metrics.contacts.collect():
        for s in family.samples:
            if s.name == "kefu_contacts_total":
                outcome = s.labels["outcome"]
                contacts[outcome] = contacts.get(outcome, 0.0) + s.value
    buckets: list[tuple[float, float]] = []
    for family in kefu.metrics.contact_open.collect():
        for s in family.samples:
            if s.name == "kefu_contact_open_seconds_bucket":
                buckets.append((float(s.labels["le"]), s.value))
    return Sample(time.monotonic(), contacts, tuple(sorted(buckets)))


def _agents(kefu: Kefu) -> dict[str, int]:
    """Distinct agents online and connected, with their load and capacity."""
    router = kefu.router
    members = {
        agent
        for group in router.groups()
        if group != CANARY_GROUP
        for agent in router.group_members(group)
    }
    online = [
        a
        for a in members
        if router.is_connected(a) and router.status(a) is AgentStatus.ONLINE
    ]
    return {
        "online": len(online),
        "load": sum(router.load(a) for a in online),
        "capacity": sum(router.capacity(a) for a in online),
    }


def add_dashboard_routes(app: FastAPI, kefu: Kefu) -> None:
    """Serve ``/dashboard``, its ticket and its stream of figures."""
    tickets = Tickets(kefu.auth.settings.agent_secret)
    url = os.environ.get("KEFU_ALERTMANAGER_URL", "").strip()
    alertmanager = (
        Alertmanager(url) if url.startswith(("http://", "https://")) else None
    )
    dashboard = Dashboard(kefu, alertmanager)

    async def supervisor(agent_id: str) -> int:
        """The token version of a supervisor's record; Forbidden for others."""
        record = await kefu.store.get_agent(agent_id)
        if record is None or record.disabled:
            raise Unauthorized("unknown agent")
        if record.role not in DASHBOARD_ROLES:
            raise Forbidden("only a supervisor may see the dashboard")
        return record.token_version

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard_page(request: Request) -> Response:
        """The supervisor dashboard; never framed."""
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy(
                request.headers.get("host"), "'none'"
            ),
        }
        return FileResponse(
            STATIC_DIR / "dashboard" / "index.html",
            headers=headers,
            media_type="text/html; charset=utf-8",
        )

    @app.post("/v1/dashboard/ticket", tags=["dashboard"], responses=ERROR_RESPONSES)
    async def ticket(credentials: Credentials) -> Response:
        """A single-use ticket that opens the dashboard's stream."""
        if credentials is None:
            raise Unauthorized("an Authorization: Bearer token is required")
        who = kefu.auth.authenticate(credentials.credentials)
        if who.role is not Role.AGENT:
            raise Forbidden("only a supervisor may see the dashboard")
        version = await supervisor(who.id)
        value, expires_at = tickets.issue(who.id, version)
        body = {"ticket": value, "expires_at": iso(expires_at)}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get(
        "/v1/dashboard/stream",
        tags=["dashboard"],
        response_class=Response,
        responses={
            **ERROR_RESPONSES,
            200: {
                "content": {"text/event-stream": {}},
                "description": "One `figures` event per second.",
            },
        },
    )
    async def stream(ticket: Annotated[str, Query(max_length=2048)]) -> Response:
        """Server-sent events: one ``figures`` event per second."""
        # Check the ticket and the account before the stream starts.
        agent_id, version = tickets.redeem(ticket)
        if await supervisor(agent_id) != version:
            raise Unauthorized("the token has been revoked")
        logger.info("dashboard stream opened", extra={"agent_id": agent_id})
        return StreamingResponse(
            _events(kefu, dashboard),
            media_type="text/event-stream",
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "X-Content-Type-Options": "nosniff",
            },
        )


async def _events(kefu: Kefu, dashboard: Dashboard) -> AsyncIterator[bytes]:
    """The stream's events until its time is up or kefu drains."""
    deadline = time.monotonic() + STREAM_MAX_S
    # The history first, so the charts start filled.
    yield _event("history", {"points": list(dashboard.history)})
    while time.monotonic() < deadline and await kefu.ready():
        body = dict(dashboard.current())
        body["alertmanager"] = dashboard.alerts()
        yield _event("figures", body)
        await asyncio.sleep(TICK_S)
    # Tell the page to come back with a new ticket.
    yield _event("end", {"reason": "renew"})


def _event(name: str, body: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"
