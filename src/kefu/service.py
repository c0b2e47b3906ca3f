"""One kefu process: its parts, wired together, and their start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from kefu import __version__
from kefu.access import defects
from kefu.access.admission import Admission
from kefu.access.auth import Authenticator, TokenSettings, hash_password
from kefu.access.body_limit import BodyLimit
from kefu.access.http import build_app
from kefu.access.protocol import LoginLimits, PerKeyLimit
from kefu.access.socket_io import SocketIoEndpoint
from kefu.access.ws import CLOSE_GOING_AWAY, WebSocketEndpoint
from kefu.backends.bus import VERIFICATION_TOPIC, InProcessBus
from kefu.backends.sql import SqlSettings, SqlStore, sqlite_url
from kefu.backends.store import AgentRecord
from kefu.classifier import default_model_dir
from kefu.classifier.errors import ModelLoadError
from kefu.classifier.model import OnnxClassifier
from kefu.config import Settings
from kefu.observability.canary import (
    CANARY_AGENT,
    CANARY_GROUP,
    CANARY_PREFIX,
    Canary,
    is_canary,
)
from kefu.observability.metrics import (
    BusLagCollector,
    Metrics,
    RoutingCollector,
    RoutingSnapshot,
)
from kefu.observability.resilience_metrics import ResilienceMetrics
from kefu.resilience import CircuitBreaker
from kefu.routing.classifier import Classifier, KeywordClassifier
from kefu.routing.router import AgentStatus, Router, Strategy
from kefu.routing.skills import DEFAULT_GROUPS
from kefu.sessions.engine import EngineSettings, SessionEngine
from kefu.sessions.fanout import Hub
from kefu.sessions.model import Message, Session
from kefu.workers.verification import SMS_BREAKER, HttpSmsProvider, VerificationWorker

logger = logging.getLogger(__name__)

DEMO_AGENTS = 8
DEMO_CAPACITY = 5
DEMO_PASSWORD = "demo"
DEMO_SUPERVISOR = "supervisor-1"


class StartupError(Exception):
    """kefu cannot start with these settings; the message says why."""


class Kefu:
    """Everything one process runs, built from :class:`kefu.config.Settings`."""

    version = __version__

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = Metrics()
        self.store = SqlStore(
            SqlSettings(settings.store_url or sqlite_url(settings.data_dir)),
            observe=lambda op, seconds: self.metrics.store_latency.labels(op).observe(
                seconds
            ),
        )
        stored = _stored_secrets(settings.data_dir)
        self.auth = Authenticator(_token_settings(settings, stored))
        old_rule = defects.QUEUE_ORDER_ASSIGNMENT in settings.defects
        self.router = Router(
            Strategy.ROUND_ROBIN if old_rule else settings.strategy,
            aging_s=settings.aging_s,
        )
        self.hub = Hub()
        self.bus = InProcessBus()
        self.engine = SessionEngine(
            self.store,
            self.router,
            self.hub,
            _classifier(settings),
            group_of=settings.group_of,
            settings=EngineSettings(
                grace_s=settings.grace_s,
                offer_timeout_s=settings.offer_timeout_s,
                sensitive_issue_types=settings.sensitive_issue_types,
                ignore_capacity=old_rule,
                canary_prefix=CANARY_PREFIX,
                canary_group=CANARY_GROUP,
            ),
            bus=self.bus,
            verification_key=stored["verification_key"].encode(),
            on_message=self._count_message,
            on_first_response=self._observe_first_response,
        )
        self.admission = (
            Admission(None)
            if defects.FIXED_WORKERS in settings.defects
            else Admission.adaptive()
        )
        self.sms_breaker = CircuitBreaker("sms", SMS_BREAKER)
        self.sms = HttpSmsProvider(settings.sms_url) if settings.sms_url else None
        self.verifier = VerificationWorker(self.engine, self.sms, self.sms_breaker)
        self.contact_path = defects.ContactPath(
            settings.defects,
            self.engine.classifier,
            settings.sensitive_issue_types,
            HttpSmsProvider(settings.sms_url, timeout_s=None).send
            if settings.sms_url and defects.SYNC_VERIFICATION in settings.defects
            else None,
        )
        self.bus.subscribe("verification", VERIFICATION_TOPIC, self.verifier.handle)
        self.login_limits = LoginLimits(
            settings.limits.logins_per_agent, settings.limits.logins_per_address
        )
        self.contact_limit = PerKeyLimit(
            settings.limits.contacts_per_minute / 60.0,
            settings.limits.contacts_per_minute,
            "too many contacts; wait before opening another",
        )
        self.websocket = WebSocketEndpoint(
            self.engine, self.auth, settings.limits, self.metrics, self.admission
        )
        self.metrics.watch(RoutingCollector(self._routing_snapshot))
        self.metrics.watch(BusLagCollector(self.bus.lag))
        self.metrics.store_pending_writes.set_function(
            lambda: self.store.pending_writes
        )
        self.resilience_metrics = ResilienceMetrics(self.metrics.registry)
        if self.admission.limiter is not None:
            self.resilience_metrics.bind_limiter(self.admission.limiter)
        self.resilience_metrics.bind_breaker(self.sms_breaker)
        self.socketio = SocketIoEndpoint(
            self.engine,
            self.auth,
            settings.limits,
            self.metrics,
            admission=self.admission,
        )
        self.fastapi = build_app(self)
        # Socket.IO's path first, then the body limit in front of the API.
        # FastAPI opens the server span of each request (its own OpenTelemetry
        # support); kefu's spans nest under it.
        self.app: ASGIApp = self.socketio.asgi_app(
            BodyLimit(self.fastapi, settings.limits.max_body_bytes)
        )
        self._started = False
        self._draining = False
        self._canary_task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        """Open the store, seed the demo if asked, rebuild live state."""
        await self.store.start()
        if self.settings.demo:
            await self._seed_demo()
        if self.settings.canary_interval_s > 0:
            await self._seed_canary()
        for agent in await self.store.list_agents():
            self.auth.set_agent_version(
                agent.id, None if agent.disabled else agent.token_version
            )
        await self.engine.start()
        await self.bus.start()
        self._started = True
        if self.settings.canary_interval_s > 0:
            self._canary_task = asyncio.create_task(self._canary().run_forever())
        logger.info("kefu started", extra={"demo": self.settings.demo})

    async def drain(self) -> None:
        """Stop taking work: not ready, and every WebSocket closed with 1001."""
        self._draining = True
        if self._canary_task is not None:
            self._canary_task.cancel()
            await asyncio.gather(self._canary_task, return_exceptions=True)
            self._canary_task = None
        await self.websocket.close_all(CLOSE_GOING_AWAY)
        await self.socketio.close_all()

    async def stop(self) -> None:
        """Drain, then finish every accepted write and close the store."""
        if not self._draining:
            await self.drain()
        await self.bus.stop()
        await self.verifier.stop()
        await self.engine.stop()
        await self.store.stop()
        if self.sms is not None:
            await self.sms.close()
        self._started = False
        logger.info("kefu stopped")

    async def ready(self) -> bool:
        return self._started and not self._draining and await self.store.ping()

    async def revoke_agent_tokens(self, agent_id: str) -> None:
        """Void every token issued to the agent so far (logout, password change)."""
        record = await self.store.get_agent(agent_id)
        if record is None:
            return
        record = replace(record, token_version=record.token_version + 1)
        await self.store.put_agent(record)
        self.auth.set_agent_version(agent_id, record.token_version)
        logger.info("agent tokens revoked", extra={"agent_id": agent_id})

    async def _seed_demo(self) -> None:
        """Skill groups, agents in every group and a supervisor, created once."""
        for group in DEFAULT_GROUPS:
            await self.store.put_group(group)
        password_hash = hash_password(DEMO_PASSWORD)
        demo = [
            AgentRecord(
                f"agent-{n}", f"Agent {n}", password_hash, DEMO_CAPACITY, DEFAULT_GROUPS
            )
            for n in range(1, DEMO_AGENTS + 1)
        ]
        # The supervisor watches; with no capacity, no session is given to them.
        demo.append(
            AgentRecord(
                DEMO_SUPERVISOR,
                "Supervisor",
                password_hash,
                0,
                DEFAULT_GROUPS,
                role="supervisor",
            )
        )
        for agent in demo:
            if await self.store.get_agent(agent.id) is None:
                await self.store.put_agent(agent)

    async def _seed_canary(self) -> None:
        """The canary's skill group and agent, who serves nobody else."""
        await self.store.put_group(CANARY_GROUP)
        if await self.store.get_agent(CANARY_AGENT) is None:
            password = hash_password(secrets.token_urlsafe(24))
            await self.store.put_agent(
                AgentRecord(
                    id=CANARY_AGENT,
                    name="Canary",
                    password_hash=password,
                    capacity=1,
                    skills=(CANARY_GROUP,),
                )
            )

    def _canary(self) -> Canary:
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return Canary(
            f"http://{host}:{self.settings.port}",
            customer_token=self.auth.customer_token,
            agent_token=lambda: self.auth.agent_token(CANARY_AGENT, 0)[0],
            record=self.metrics.record_canary,
            interval_s=self.settings.canary_interval_s,
        )

    def _count_message(self, session: Session, message: Message) -> None:
        if not is_canary(session.customer_id):
            self.metrics.messages.labels(message.sender_role.value).inc()

    def _observe_first_response(self, session: Session, seconds: float) -> None:
        if not is_canary(session.customer_id):
            self.metrics.first_response.observe(seconds)

    def _routing_snapshot(self) -> RoutingSnapshot:
        snapshot: RoutingSnapshot = {}
        for group, (depth, oldest) in self.engine.queue_snapshot().items():
            if group == CANARY_GROUP:
                continue
            members = self.router.group_members(group)
            online = [
                a
                for a in members
                if self.router.is_connected(a)
                and self.router.status(a) is AgentStatus.ONLINE
            ]
            snapshot[group] = (
                depth,
                oldest or 0.0,
                len(online),
                sum(self.router.load(a) for a in members),
                sum(self.router.capacity(a) for a in online),
            )
        return snapshot


def _token_settings(settings: Settings, stored: dict[str, str]) -> TokenSettings:
    """Secrets from the settings, else those kept in the data dir."""
    customer = settings.customer_token_secret
    if customer is None:
        if not settings.demo:
            raise StartupError(
                "KEFU_CUSTOMER_TOKEN_SECRET is required: the secret the host app "
                "signs customer tokens with (or run with --demo)"
            )
        customer = stored["demo_customer_secret"]
    return TokenSettings(
        customer_secret=customer,
        agent_secret=settings.agent_token_secret or stored["agent_secret"],
        customer_audience=settings.customer_token_audience,
    )


_SECRET_NAMES = ("agent_secret", "demo_customer_secret", "verification_key")


def _stored_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets generated on first use and kept (mode 0600) in the data dir."""
    path = data_dir / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in _SECRET_NAMES if name not in values]
    if not missing:
        return values
    for name in missing:
        values[name] = secrets.token_urlsafe(32)
    # Write a new file beside the old one, then swap, so no reader sees half.
    fresh = path.with_suffix(".tmp")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    os.replace(fresh, path)
    return values


def _classifier(settings: Settings) -> Classifier:
    """The shipped model, another trained model, or the keyword rules."""
    if settings.classifier_model == Path("keywords"):
        return KeywordClassifier()
    model_dir = settings.classifier_model or default_model_dir()
    try:
        return OnnxClassifier.load(model_dir)
    except ModelLoadError as exc:
        raise StartupError(f"cannot load the classifier model: {exc}") from None
