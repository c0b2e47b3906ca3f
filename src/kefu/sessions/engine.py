"""The session engine: contacts, messages, assignment and delivery, together.

The engine turns requests into state changes.  The rules live elsewhere: the
router (who gets which session) and :mod:`kefu.sessions.model` (what a session
may do) are pure; the engine applies their decisions in order, makes them
durable through the store, and announces them to every device of every
participant through the fan-out.

Ordering: every change to one session happens under that session's lock, from
the seq it takes to the frames it sends, so the frames of a session reach each
connection in seq order and a message is acknowledged only once durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from opentelemetry import trace

from kefu.backends.bus import VERIFICATION_TOPIC, Bus
from kefu.backends.store import AgentRecord, Store
from kefu.errors import (
    CodeExpired,
    Conflict,
    InvalidRequest,
    NotFound,
    Overloaded,
    StoreUnavailable,
    VerificationClosed,
    WrongCode,
)
from kefu.routing.classifier import Classifier
from kefu.routing.erlang import wait_at_position_s
from kefu.routing.priority import base_priority
from kefu.routing.router import AgentStatus, Assignment, Router, Waiting
from kefu.routing.skills import skill_group_for
from kefu.sessions import frames, model, verification
from kefu.sessions.fanout import Connection, Fanout, Hub, UserKey
from kefu.sessions.model import (
    Message,
    Principal,
    QueueInfo,
    Role,
    Session,
    SessionState,
    SessionView,
)
from kefu.sessions.verification import Challenge, VerificationState

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("kefu")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    #: How long an agent whose last connection dropped keeps their sessions.
    grace_s: float = 30.0
    #: How long a newly assigned agent has to answer before another is offered
    #: the session (if one is available).
    offer_timeout_s: float = 120.0
    #: Mean handle time assumed for a group until closed sessions measure it.
    default_handle_time_s: float = 300.0
    #: Most messages one resume sends per store read.
    resume_page: int = 500
    #: Issue types whose contacts need the customer's identity confirmed.
    sensitive_issue_types: frozenset[str] = frozenset({"refund", "account"})
    #: Customers whose id starts with this are the canary's; their sessions
    #: wait in ``canary_group`` only.
    canary_prefix: str | None = None
    canary_group: str = "kefu-canary"
    #: Reproduces the replaced system's defect for replays: agents are given
    #: sessions whatever their capacity.
    ignore_capacity: bool = False


@dataclass(slots=True)
class _Live:
    """An open session as the engine keeps it in memory."""

    session: Session
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: client_msg_id -> seq, loaded from the store on first use after a start.
    client_ids: dict[str, int] | None = None
    #: Whether the current agent has written since being assigned.
    answered: bool = False
    last_queue: QueueInfo | None = None
    offer_timer: asyncio.TimerHandle | None = None


class SessionEngine:
    """One process's sessions; see the module docstring."""

    def __init__(
        self,
        store: Store,
        router: Router,
        hub: Hub,
        classifier: Classifier,
        *,
        group_of: Mapping[str, str],
        settings: EngineSettings | None = None,
        fanout: Fanout | None = None,
        bus: Bus | None = None,
        verification_key: bytes = b"",
        on_message: Callable[[Session, Message], None] | None = None,
        on_first_response: Callable[[Session, float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.router = router
        self.hub = hub
        self.fanout: Fanout = fanout or hub
        self.classifier = classifier
        self.group_of = group_of
        self.settings = settings or EngineSettings()
        self.clock = clock
        self.bus = bus
        self.verification_key = verification_key
        self._on_message = on_message or (lambda session, message: None)
        self._on_first_response = on_first_response or (lambda session, seconds: None)
        self._live: dict[str, _Live] = {}
        self._by_customer: dict[str, set[str]] = {}
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._handle_time: dict[str, float] = {}
        self._dirty_groups: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._names: dict[str, str] = {}

    # -- start-up -----------------------------------------------------------

    async def start(self) -> None:
        """Rebuild live state from the store after a (re)start."""
        for agent in await self.store.list_agents():
            await self.register_agent(agent)
        now = self.clock()
        for session in await self.store.open_sessions():
            self._remember(session)
            if session.state is SessionState.ASSIGNED and session.agent_id in set(
                self.router.agents()
            ):
                assert session.agent_id is not None
                self.router.restore_assigned(
                    session.id, session.agent_id, session.skill_group
                )
            else:
                self.router.enqueue(self._waiting(session), now)
        # Nobody is connected yet: every agent holding sessions gets the grace
        # period to come back before their sessions are queued again.
        for agent_id in self.router.agents():
            if self.router.agent_sessions(agent_id):
                self._start_grace(agent_id)
        logger.info("engine started with %d open sessions", len(self._live))

    async def register_agent(self, agent: AgentRecord) -> None:
        """Make an agent known to the router (or update their profile)."""
        if agent.disabled:
            return
        capacity = 1_000_000 if self.settings.ignore_capacity else agent.capacity
        self._names[agent.id] = agent.name
        await self._apply(
            self.router.add_agent(agent.id, capacity, agent.skills, self.clock())
        )

    async def stop(self) -> None:
        for handle in self._grace.values():
            handle.cancel()
        for live in self._live.values():
            if live.offer_timer is not None:
                live.offer_timer.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- contacts -----------------------------------------------------------

    async def open_contact(
        self,
        customer: Principal,
        text: str,
        channel: str,
        order_id: str | None = None,
        order_status: str | None = None,
    ) -> SessionView:
        """Classify, route and durably open a session for a customer's contact."""
        # Decide the group and priority from the text and the customer.
        now = self.clock()
        issue_type = self.classifier.classify(text).issue_type
        session = Session(
            id=uuid.uuid4().hex,
            state=SessionState.QUEUED,
            customer_id=customer.id,
            customer_name=customer.name,
            tier=customer.tier,
            issue_type=issue_type,
            skill_group=self._group_for(customer, issue_type),
            channel=channel,
            priority=base_priority(customer.tier, order_status),
            order_id=order_id,
            order_status=order_status,
            created_at=now,
            last_seq=1,
            verification=VerificationState.PENDING
            if issue_type in self.settings.sensitive_issue_types
            else None,
        )
        first = Message(session.id, 1, Role.CUSTOMER, customer.id, text, now)

        # Route in memory first, so the one durable write holds the outcome.
        live = self._remember(session)
        async with live.lock:
            with tracer.start_as_current_span(
                "kefu.route", attributes={"kefu.skill_group": session.skill_group}
            ):
                assignments = self.router.enqueue(self._waiting(session), now)
            mine = [a for a in assignments if a.session_id == session.id]
            if mine:
                live.session = model.assign(session, mine[0].agent_id, now)
            live.client_ids = {}
            try:
                await asyncio.shield(self.store.create_session(live.session, first))
            except StoreUnavailable:
                self.router.release(session.id, now)
                self._forget(session.id)
                raise
            view = self._view(live)
            self._deliver(live.session, frames.session_frame(view))
            if mine:
                self._after_assign(live, [first])
        logger.info(
            "contact opened",
            extra={
                "session_id": session.id,
                "skill_group": session.skill_group,
                "state": live.session.state.value,
            },
        )
        await self._apply(a for a in assignments if a.session_id != session.id)
        # A contact that joined at the tail moved nobody else in the queue.
        position = self.router.position(session.id)
        if assignments or position != self.router.queue_length(session.skill_group):
            self._mark_dirty(session.skill_group)
        if session.verification is VerificationState.PENDING:
            view = await self._request_verification(live) or view
        return view

    def _group_for(self, customer: Principal, issue_type: str | None) -> str:
        prefix = self.settings.canary_prefix
        if prefix is not None and customer.id.startswith(prefix):
            return self.settings.canary_group
        return skill_group_for(issue_type, self.group_of)

    # -- reading ------------------------------------------------------------

    async def get_session(self, who: Principal, session_id: str) -> SessionView:
        live = self._live.get(session_id)
        if live is not None:
            if not live.session.takes_part(who):
                raise NotFound("no such session")
            return self._view(live)
        session = await self.store.get_session(session_id)
        if session is None or not session.takes_part(who):
            raise NotFound("no such session")
        return SessionView(session, agent_name=self._name_of(session))

    async def history(
        self, who: Principal, session_id: str, after_seq: int, limit: int
    ) -> tuple[list[Message], bool]:
        """Messages after ``after_seq``, ascending, and whether more follow."""
        await self.get_session(who, session_id)
        found = await self.store.messages(session_id, after_seq, limit + 1)
        return list(found[:limit]), len(found) > limit

    def sessions_of_agent(self, agent_id: str) -> list[SessionView]:
        views = []
        for session_id in sorted(self.router.agent_sessions(agent_id)):
            live = self._live.get(session_id)
            if live is not None:
                views.append(self._view(live))
        return views

    def sessions_of(self, who: Principal) -> list[SessionView]:
        """Open sessions the principal takes part in."""
        if who.role is Role.AGENT:
            try:
                return self.sessions_of_agent(who.id)
            except NotFound:
                return []
        ids = sorted(self._by_customer.get(who.id, ()))
        return [self._view(self._live[i]) for i in ids if i in self._live]

    # -- messages -----------------------------------------------------------

    async def post_message(
        self, who: Principal, session_id: str, text: str, client_msg_id: str | None
    ) -> tuple[Message, bool]:
        """Durably append a message; returns it and whether it is new.

        The same ``client_msg_id`` again returns the stored message, unchanged.
        """
        live = await self._participant_live(who, session_id)
        async with live.lock:
            # A retry of a message already stored is answered from the store.
            if client_msg_id is not None:
                if live.client_ids is None:
                    live.client_ids = await self.store.client_msg_ids(session_id)
                seq = live.client_ids.get(client_msg_id)
                if seq is not None:
                    stored = await self.store.message_by_seq(session_id, seq)
                    if stored is not None:
                        return stored, False
            # Take the next seq and make it durable before anyone hears of it.
            now = self.clock()
            session, message = model.append(live.session, who, text, client_msg_id, now)
            await asyncio.shield(self.store.append_message(session, message))
            if live.session.first_response_at is None and (
                session.first_response_at is not None
            ):
                self._on_first_response(session, now - session.created_at)
            self._on_message(session, message)
            live.session = session
            if client_msg_id is not None and live.client_ids is not None:
                live.client_ids[client_msg_id] = message.seq
            if who.role is Role.AGENT:
                live.answered = True
            self._deliver(session, frames.message_frame(message))
        return message, True

    # -- state changes ------------------------------------------------------

    async def close(self, who: Principal, session_id: str) -> SessionView:
        live = await self._participant_live(who, session_id, allow_closed=True)
        async with live.lock:
            if live.session.state is SessionState.CLOSED:
                model.close(live.session, self.clock())  # raises SessionClosed
            now = self.clock()
            session = model.close(live.session, now)
            await asyncio.shield(self.store.save_session(session))
            live.session = session
            self._measure_handle_time(session)
            assignments = self.router.release(session_id, now)
            view = self._view(live)
            self._deliver(session, frames.session_frame(view))
            self._forget(session_id)
        logger.info("session closed", extra={"session_id": session_id})
        await self._apply(assignments)
        self._mark_dirty(session.skill_group)
        return view

    async def transfer(
        self,
        who: Principal,
        session_id: str,
        *,
        skill_group: str | None = None,
        agent_id: str | None = None,
    ) -> SessionView:
        """Move a session to another group's queue or straight to an agent."""
        if (skill_group is None) == (agent_id is None):
            raise InvalidRequest("give exactly one of skill_group and agent_id")
        if who.role is not Role.AGENT:
            raise NotFound("no such session")
        live = await self._participant_live(who, session_id)
        now = self.clock()
        async with live.lock:
            before = live.session
            if agent_id is not None:
                if agent_id == before.agent_id:
                    raise Conflict("the session is already assigned to this agent")
                assignments = self.router.transfer_to_agent(session_id, agent_id, now)
            else:
                assert skill_group is not None
                if skill_group not in self.router.groups():
                    raise NotFound("no such skill group")
                session = model.requeue(before, skill_group)
                await asyncio.shield(self.store.save_session(session))
                live.session = session
                self._cancel_offer(live)
                assignments = self.router.transfer_to_group(self._waiting(session), now)
                self._deliver_to(
                    before, session, frames.session_frame(self._view(live))
                )
        logger.info("session transferred", extra={"session_id": session_id})
        await self._apply(assignments, previous={session_id: before})
        self._mark_dirty(before.skill_group)
        if skill_group is not None:
            self._mark_dirty(skill_group)
        return self._view(live)

    # -- agents -------------------------------------------------------------

    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        assignments = self.router.set_status(agent_id, status, self.clock())
        logger.info("agent status", extra={"agent_id": agent_id, "status": status})
        await self._apply(assignments)
        self._mark_all_dirty()

    async def connected(self, conn: Connection) -> None:
        """A device has authenticated: register it and tell it its sessions."""
        who = conn.principal
        self.hub.add(conn)
        if who.role is Role.AGENT:
            grace = self._grace.pop(who.id, None)
            if grace is not None:
                grace.cancel()
            assignments = self.router.connect(who.id, self.clock())
        else:
            assignments = []
        for view in self.sessions_of(who):
            conn.send(frames.session_frame(view))
        await self._apply(assignments)
        if assignments:
            self._mark_all_dirty()

    async def disconnected(self, conn: Connection) -> None:
        who = conn.principal
        self.hub.remove(conn)
        if who.role is Role.AGENT and self.router.disconnect(who.id):
            self._start_grace(who.id)
            self._mark_all_dirty()

    async def resume(self, conn: Connection, session_id: str, after_seq: int) -> None:
        """Send a device every message after ``after_seq``, then ``resumed``."""
        who = conn.principal
        live = self._live.get(session_id)
        if live is None:
            await self.get_session(who, session_id)  # 404 unless a participant
            await self._replay(conn, session_id, after_seq)
            return
        if not live.session.takes_part(who):
            raise NotFound("no such session")
        async with live.lock:
            await self._replay(conn, session_id, after_seq)

    async def mark_read(self, who: Principal, session_id: str, seq: int) -> None:
        live = await self._participant_live(who, session_id)
        if seq < 1 or seq > live.session.last_seq:
            raise InvalidRequest("seq is outside the session")
        frame = frames.read_frame(session_id, seq, who.role.value, who.id)
        self._deliver(live.session, frame)

    async def typing(self, who: Principal, session_id: str) -> None:
        live = await self._participant_live(who, session_id)
        frame = frames.typing_frame(session_id, who.role.value, who.id)
        self.fanout.deliver(
            [k for k in _participants(live.session) if k != (who.role, who.id)], frame
        )

    def agent_roster(self) -> list[dict[str, Any]]:
        """Every known agent with status, connection and load."""
        router = self.router
        return [
            {
                "id": agent_id,
                "name": self._names.get(agent_id, agent_id),
                "status": router.status(agent_id).value,
                "connected": router.is_connected(agent_id),
                "load": router.load(agent_id),
                "capacity": router.capacity(agent_id),
                "skills": sorted(router.skills(agent_id)),
            }
            for agent_id in router.agents()
        ]

    # -- verification -------------------------------------------------------

    async def _request_verification(self, live: _Live) -> SessionView | None:
        """Ask the verification worker for a code; never wait for the SMS.

        Returns the session's new view when the request could not even be
        queued (the session is then marked unavailable at once).
        """
        session = live.session
        payload = orjson.dumps(
            {"session_id": session.id, "customer_id": session.customer_id}
        )
        try:
            if self.bus is None:
                raise Overloaded("no verification worker")
            await self.bus.publish(VERIFICATION_TOPIC, session.id.encode(), payload)
        except Overloaded:
            logger.warning(
                "verification not requested", extra={"session_id": session.id}
            )
            await self.set_verification(session.id, VerificationState.UNAVAILABLE)
            return self._view(live)
        return None

    async def store_challenge(self, challenge: Challenge) -> bool:
        """Keep a freshly issued code's hash; False if the session no longer
        waits for one."""
        live = self._live.get(challenge.session_id)
        if live is None or live.session.verification is not VerificationState.PENDING:
            return False
        await self.store.put_challenge(challenge)
        return True

    async def set_verification(self, session_id: str, state: VerificationState) -> None:
        """Record a verification outcome and tell both sides."""
        live = self._live.get(session_id)
        if live is None:
            return
        async with live.lock:
            if live.session.verification is not VerificationState.PENDING:
                return
            session = replace(live.session, verification=state)
            await asyncio.shield(self.store.save_session(session))
            live.session = session
            self._deliver(session, frames.session_frame(self._view(live)))
        logger.info(
            "verification", extra={"session_id": session_id, "state": state.value}
        )

    async def verify(self, who: Principal, session_id: str, code: str) -> SessionView:
        """Check a code the customer typed."""
        if who.role is not Role.CUSTOMER:
            raise NotFound("no such session")
        live = await self._participant_live(who, session_id)
        if live.session.verification is not VerificationState.PENDING:
            raise VerificationClosed("no verification code is waiting")
        challenge = await self.store.get_challenge(session_id)
        if challenge is None:
            raise VerificationClosed("the code has not been sent yet")
        outcome, counted = verification.check(
            challenge, self.verification_key, code, self.clock()
        )
        await self.store.put_challenge(counted)
        if outcome is verification.Outcome.VERIFIED:
            await self.set_verification(session_id, VerificationState.VERIFIED)
        elif outcome is verification.Outcome.WRONG:
            left = verification.attempts_left(counted)
            raise WrongCode(f"the code is wrong; {left} tries left")
        else:
            await self.set_verification(session_id, VerificationState.FAILED)
            if outcome is verification.Outcome.EXPIRED:
                raise CodeExpired("the code has expired")
            raise WrongCode("the code is wrong; no tries left")
        return self._view(live)

    # -- assignment ---------------------------------------------------------

    async def _apply(
        self,
        assignments: Iterable[Assignment],
        previous: Mapping[str, Session] | None = None,
    ) -> None:
        """Persist and announce assignments the router made."""
        pending = list(assignments)
        if pending:
            await asyncio.gather(
                *(
                    self._assigned(a, (previous or {}).get(a.session_id))
                    for a in pending
                )
            )

    async def _assigned(self, assignment: Assignment, previous: Session | None) -> None:
        live = self._live.get(assignment.session_id)
        if live is None:
            return
        async with live.lock:
            # The router may have moved on while this waited for the lock.
            if self.router.owner(assignment.session_id) != assignment.agent_id:
                return
            if live.session.state is SessionState.CLOSED:
                return
            before = previous or live.session
            session = model.assign(live.session, assignment.agent_id, self.clock())
            session = replace(session, skill_group=assignment.skill_group)
            await asyncio.shield(self.store.save_session(session))
            live.session = session
            self._deliver_to(before, session, frames.session_frame(self._view(live)))
            history = await self.store.messages(session.id, 0, session.last_seq)
            self._after_assign(live, history)
        self._mark_dirty(assignment.skill_group)

    def _after_assign(self, live: _Live, history: Iterable[Message]) -> None:
        # The new agent's devices get the session frame (sent by the caller) and
        # then every message so far, in order; then the answer clock starts.
        agent = (Role.AGENT, live.session.agent_id or "")
        for message in history:
            self.fanout.deliver([agent], frames.message_frame(message))
        live.answered = False
        self._cancel_offer(live)
        loop = asyncio.get_running_loop()
        live.offer_timer = loop.call_later(
            self.settings.offer_timeout_s,
            self._offer_due,
            live.session.id,
            live.session.agent_id,
        )

    def _offer_due(self, session_id: str, agent_id: str | None) -> None:
        self._spawn(self._offer_lapsed(session_id, agent_id))

    async def _offer_lapsed(self, session_id: str, agent_id: str | None) -> None:
        live = self._live.get(session_id)
        if live is None or live.session.agent_id != agent_id or live.answered:
            return
        async with live.lock:
            if live.session.agent_id != agent_id or live.answered:
                return
            assignments = self.router.offer_lapsed(
                self._waiting(live.session), self.clock()
            )
            if self.router.owner(session_id) is None:
                session = model.requeue(live.session)
                await asyncio.shield(self.store.save_session(session))
                before, live.session = live.session, session
                self._deliver_to(
                    before, session, frames.session_frame(self._view(live))
                )
        logger.info(
            "offer lapsed", extra={"session_id": session_id, "agent_id": agent_id}
        )
        await self._apply(assignments)
        self._mark_dirty(live.session.skill_group)

    def _cancel_offer(self, live: _Live) -> None:
        if live.offer_timer is not None:
            live.offer_timer.cancel()
            live.offer_timer = None

    # -- grace period -------------------------------------------------------

    def _start_grace(self, agent_id: str) -> None:
        loop = asyncio.get_running_loop()
        old = self._grace.pop(agent_id, None)
        if old is not None:
            old.cancel()
        self._grace[agent_id] = loop.call_later(
            self.settings.grace_s, lambda: self._spawn(self._grace_over(agent_id))
        )

    async def _grace_over(self, agent_id: str) -> None:
        """The agent did not come back: their sessions wait again, in front."""
        self._grace.pop(agent_id, None)
        if self.router.is_connected(agent_id):
            return
        held = [
            self._live[s]
            for s in self.router.agent_sessions(agent_id)
            if s in self._live
        ]
        waiting = [self._waiting(live.session) for live in held]
        assignments = self.router.requeue_agent(agent_id, waiting, self.clock())
        for live in held:
            await self._requeued(live, agent_id)
        logger.info(
            "agent grace over", extra={"agent_id": agent_id, "sessions": len(held)}
        )
        await self._apply(assignments)
        self._mark_all_dirty()

    async def _requeued(self, live: _Live, agent_id: str) -> None:
        async with live.lock:
            if live.session.agent_id != agent_id:
                return
            if self.router.owner(live.session.id) is not None:
                return  # already given to someone else; _assigned will record it
            session = model.requeue(live.session)
            await asyncio.shield(self.store.save_session(session))
            before, live.session = live.session, session
            self._cancel_offer(live)
            self._deliver_to(before, session, frames.session_frame(self._view(live)))

    # -- queue positions ----------------------------------------------------

    def _mark_dirty(self, group: str) -> None:
        """Announce the group's queue positions once this burst of changes ends."""
        if not self._dirty_groups:
            asyncio.get_running_loop().call_soon(self._announce_positions)
        self._dirty_groups.add(group)

    def _mark_all_dirty(self) -> None:
        for group in self.router.groups():
            self._mark_dirty(group)

    def _announce_positions(self) -> None:
        groups, self._dirty_groups = self._dirty_groups, set()
        for group in groups:
            # Staffing and handle time are the group's, so reckon them once.
            slots = self.router.staffed_slots(group)
            handle_time = self._handle_time_of(group)
            for position, session_id in enumerate(self.router.queue(group), 1):
                live = self._live.get(session_id)
                if live is None or live.session.state is not SessionState.QUEUED:
                    continue
                info = _queue_info(position, slots, handle_time)
                if _worth_telling(live.last_queue, info):
                    live.last_queue = info
                    self._deliver(
                        live.session,
                        frames.session_frame(SessionView(live.session, info)),
                    )

    def _queue_info(self, session_id: str, group: str) -> QueueInfo | None:
        position = self.router.position(session_id)
        if position is None:
            return None
        return _queue_info(
            position, self.router.staffed_slots(group), self._handle_time_of(group)
        )

    def _handle_time_of(self, group: str) -> float:
        return self._handle_time.get(group, self.settings.default_handle_time_s)

    def _measure_handle_time(self, session: Session) -> None:
        if session.assigned_at is None or session.closed_at is None:
            return
        sample = session.closed_at - session.assigned_at
        old = self._handle_time.get(session.skill_group)
        # An exponentially weighted mean: recent sessions count the most.
        self._handle_time[session.skill_group] = (
            sample if old is None else 0.8 * old + 0.2 * sample
        )

    # -- helpers ------------------------------------------------------------

    def _view(self, live: _Live) -> SessionView:
        session = live.session
        if session.state is not SessionState.QUEUED:
            return SessionView(session, agent_name=self._name_of(session))
        info = self._queue_info(session.id, session.skill_group)
        live.last_queue = info
        return SessionView(session, info)

    def _name_of(self, session: Session) -> str | None:
        return None if session.agent_id is None else self._names.get(session.agent_id)

    def _waiting(self, session: Session) -> Waiting:
        return Waiting(
            session.id, session.skill_group, session.priority, session.created_at
        )

    def _remember(self, session: Session) -> _Live:
        live = _Live(session)
        self._live[session.id] = live
        self._by_customer.setdefault(session.customer_id, set()).add(session.id)
        return live

    def _forget(self, session_id: str) -> None:
        live = self._live.pop(session_id, None)
        if live is None:
            return
        self._cancel_offer(live)
        ids = self._by_customer.get(live.session.customer_id)
        if ids is not None:
            ids.discard(session_id)
            if not ids:
                del self._by_customer[live.session.customer_id]

    async def _participant_live(
        self, who: Principal, session_id: str, *, allow_closed: bool = False
    ) -> _Live:
        """The live session if the principal takes part in it; 404 or 409 if not."""
        live = self._live.get(session_id)
        if live is not None and live.session.takes_part(who):
            return live
        if live is None:
            stored = await self.store.get_session(session_id)
            if stored is not None and stored.takes_part(who):
                if allow_closed:
                    return _Live(stored)
                model.close(stored, 0.0)  # raises SessionClosed for closed ones
        raise NotFound("no such session")

    async def _replay(self, conn: Connection, session_id: str, after_seq: int) -> None:
        last = after_seq
        while True:
            page = await self.store.messages(
                session_id, last, self.settings.resume_page
            )
            for message in page:
                conn.send(frames.message_frame(message))
                last = message.seq
            if len(page) < self.settings.resume_page:
                break
        live = self._live.get(session_id)
        last_seq = live.session.last_seq if live is not None else last
        conn.send(frames.resumed_frame(session_id, max(last_seq, after_seq)))

    def _deliver(self, session: Session, frame: bytes) -> None:
        self.fanout.deliver(_participants(session), frame)

    def _deliver_to(self, before: Session, after: Session, frame: bytes) -> None:
        """Deliver to everyone who took part before or takes part after a change."""
        users = dict.fromkeys([*_participants(before), *_participants(after)])
        self.fanout.deliver(users, frame)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("engine task failed", exc_info=task.exception())

    # -- introspection for metrics and readiness ----------------------------

    @property
    def open_sessions(self) -> int:
        return len(self._live)

    def queue_snapshot(self) -> dict[str, tuple[int, float | None]]:
        """Per group: (waiting sessions, seconds the oldest has waited)."""
        now = self.clock()
        snapshot = {}
        for group in self.router.groups():
            oldest = self.router.oldest_wait_since(group)
            snapshot[group] = (
                len(self.router.queue(group)),
                None if oldest is None else now - oldest,
            )
        return snapshot


def _participants(session: Session) -> list[UserKey]:
    users: list[UserKey] = [(Role.CUSTOMER, session.customer_id)]
    if session.agent_id is not None and session.state is not SessionState.QUEUED:
        users.append((Role.AGENT, session.agent_id))
    return users


def _queue_info(position: int, slots: int, handle_time_s: float) -> QueueInfo:
    wait = wait_at_position_s(position, slots, handle_time_s)
    return QueueInfo(position, None if wait is None else round(wait, 1))


def _worth_telling(old: QueueInfo | None, new: QueueInfo | None) -> bool:
    """A changed position always; a changed estimate only when it moved 10%."""
    if old is None or new is None:
        return old is not new
    if old.position != new.position:
        return True
    if old.estimated_wait_s is None or new.estimated_wait_s is None:
        return old.estimated_wait_s != new.estimated_wait_s
    return abs(new.estimated_wait_s - old.estimated_wait_s) > 0.1 * max(
        old.estimated_wait_s, 1.0
    )
