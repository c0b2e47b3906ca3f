"""Session rules under random sequences of transitions and messages."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from kefu.errors import Conflict, SessionClosed
from kefu.sessions import model
from kefu.sessions.model import Principal, Role, Session, SessionState

AGENTS = ("a1", "a2")
SETTINGS = settings(
    max_examples=150, stateful_step_count=30, deadline=None, database=None
)


class SessionMachine(RuleBasedStateMachine):
    """Applies the pure session rules in any order and checks what they promise."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_700_000_000.0
        self.session = Session(
            id="s1",
            state=SessionState.QUEUED,
            customer_id="c1",
            issue_type="late_delivery",
            skill_group="delivery",
            channel="app",
            priority=0,
            created_at=self.now,
            last_seq=1,
        )
        self.seqs = [1]
        self.first_response_at: float | None = None
        self.closed_as: Session | None = None

    def _tick(self, elapsed: float) -> float:
        self.now += elapsed
        return self.now

    @property
    def closed(self) -> bool:
        return self.session.state is SessionState.CLOSED

    @rule(agent=st.sampled_from(AGENTS), elapsed=st.floats(0, 60))
    def assign(self, agent: str, elapsed: float) -> None:
        if self.closed:
            with pytest.raises(SessionClosed):
                model.assign(self.session, agent, self._tick(elapsed))
            return
        self.session = model.assign(self.session, agent, self._tick(elapsed))
        assert self.session.agent_id == agent
        assert self.session.state is SessionState.ASSIGNED

    @rule(group=st.none() | st.sampled_from(["billing", "delivery"]))
    def requeue(self, group: str | None) -> None:
        if self.closed:
            with pytest.raises(SessionClosed):
                model.requeue(self.session, group)
            return
        before = self.session.skill_group
        self.session = model.requeue(self.session, group)
        assert self.session.agent_id is None
        assert self.session.skill_group == (group or before)

    @rule(elapsed=st.floats(0, 60))
    def close(self, elapsed: float) -> None:
        before = self.session
        if self.closed:
            with pytest.raises(SessionClosed):
                model.close(before, self._tick(elapsed))
            assert self.session == before
            return
        self.session = model.close(before, self._tick(elapsed))
        assert self.session.closed_at == self.now
        self.closed_as = self.session

    @rule(
        sender=st.sampled_from(
            [Principal(Role.CUSTOMER, "c1")]
            + [Principal(Role.AGENT, a) for a in AGENTS]
        ),
        text=st.text(min_size=1, max_size=20),
        elapsed=st.floats(0, 60),
    )
    def append(self, sender: Principal, text: str, elapsed: float) -> None:
        before = self.session
        now = self._tick(elapsed)
        if self.closed:
            with pytest.raises(SessionClosed):
                model.append(before, sender, text, None, now)
            return
        if sender.role is Role.AGENT and sender.id != before.agent_id:
            with pytest.raises(Conflict):
                model.append(before, sender, text, None, now)
            return
        self.session, message = model.append(before, sender, text, None, now)
        assert message.seq == before.last_seq + 1 == self.session.last_seq
        assert (message.sender_role, message.sender_id) == (sender.role, sender.id)
        self.seqs.append(message.seq)
        if sender.role is Role.AGENT and self.first_response_at is None:
            self.first_response_at = now

    @invariant()
    def a_closed_session_stays_as_it_was_closed(self) -> None:
        if self.closed_as is not None:
            assert self.session == self.closed_as

    @invariant()
    def seq_is_gap_free(self) -> None:
        assert self.seqs == list(range(1, len(self.seqs) + 1))
        assert self.session.last_seq == self.seqs[-1]

    @invariant()
    def first_response_is_stamped_once(self) -> None:
        assert self.session.first_response_at == self.first_response_at


def test_session_rules_hold_under_random_sequences() -> None:
    """Seq stays gap-free, a closed session refuses changes, first response is kept."""
    run_state_machine_as_test(SessionMachine, settings=SETTINGS)
