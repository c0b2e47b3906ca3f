"""Session transitions, message sequencing and wire shapes, without I/O."""

from __future__ import annotations

import pytest

from kefu.errors import Conflict, SessionClosed
from kefu.routing.erlang import erlang_c, mean_wait_s, wait_at_position_s
from kefu.routing.priority import base_priority
from kefu.sessions import model
from kefu.sessions.model import Principal, Role, Session, SessionState, SessionView

CUSTOMER = Principal(Role.CUSTOMER, "c1")
AGENT = Principal(Role.AGENT, "a1")


def _session() -> Session:
    return Session(
        id="s1",
        state=SessionState.QUEUED,
        customer_id="c1",
        issue_type="refund",
        skill_group="billing",
        channel="app",
        priority=0,
        created_at=1_700_000_000.0,
        last_seq=1,
    )


def test_seq_is_gap_free_and_first_response_is_the_first_agent_message() -> None:
    """Each append takes the next seq; the first agent message stamps first response."""
    session = model.assign(_session(), "a1", 10.0)
    session, m2 = model.append(session, CUSTOMER, "hi", "c-1", 11.0)
    session, m3 = model.append(session, AGENT, "hello", None, 12.0)
    session, m4 = model.append(session, AGENT, "how can I help", None, 13.0)
    assert [m2.seq, m3.seq, m4.seq] == [2, 3, 4]
    assert session.last_seq == 4
    assert session.first_response_at == 12.0


def test_only_the_assigned_agent_may_write() -> None:
    """An agent who does not hold the session cannot append to it."""
    with pytest.raises(Conflict):
        model.append(_session(), AGENT, "hi", None, 1.0)


def test_closed_sessions_refuse_every_change() -> None:
    """After close, append, assign, requeue and close again raise SessionClosed."""
    closed = model.close(_session(), 5.0)
    assert closed.state is SessionState.CLOSED and closed.closed_at == 5.0
    for change in (
        lambda: model.append(closed, CUSTOMER, "x", None, 6.0),
        lambda: model.assign(closed, "a1", 6.0),
        lambda: model.requeue(closed),
        lambda: model.close(closed, 6.0),
    ):
        with pytest.raises(SessionClosed):
            change()


def test_requeue_clears_the_agent_and_can_change_group() -> None:
    """A requeued session has no agent and may wait in another group."""
    session = model.requeue(model.assign(_session(), "a1", 1.0), "general")
    assert (session.state, session.agent_id, session.skill_group) == (
        SessionState.QUEUED,
        None,
        "general",
    )


def test_participants() -> None:
    """Only the session's customer and its current agent take part."""
    session = model.assign(_session(), "a1", 1.0)
    assert session.takes_part(CUSTOMER) and session.takes_part(AGENT)
    assert not session.takes_part(Principal(Role.CUSTOMER, "c2"))
    assert not session.takes_part(Principal(Role.AGENT, "a2"))


def test_wire_shape_uses_iso_times_and_hides_queue_once_assigned() -> None:
    """The Session object has ISO 8601 UTC times and a queue only while queued."""
    queued = model.session_json(SessionView(_session(), model.QueueInfo(3, 42.0)))
    assert queued["created_at"] == "2023-11-14T22:13:20.000Z"
    assert queued["queue"] == {"position": 3, "estimated_wait_s": 42.0}
    assigned = model.session_json(
        SessionView(
            model.assign(_session(), "a1", 1_700_000_001.5), model.QueueInfo(3, 1)
        )
    )
    assert assigned["queue"] is None
    assert assigned["assigned_at"] == "2023-11-14T22:13:21.500Z"


def test_erlang_c_matches_a_known_value() -> None:
    """Erlang C for 10 servers at 8 erlangs is about 0.409 (textbook value)."""
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-3)
    assert erlang_c(2, 3.0) == 1.0  # overloaded group: everyone waits
    assert erlang_c(5, 0.0) == 0.0


def test_mean_and_positional_waits() -> None:
    """Mean wait follows Erlang C; a queued place waits k/(servers/handle time)."""
    # 10 servers, 8 erlangs, 300 s handle time: ASA = C / (N*mu - lambda).
    wait = mean_wait_s(10, 8.0 / 300.0, 300.0)
    assert wait == pytest.approx(0.4092 / (10 / 300 - 8 / 300), rel=1e-3)
    assert mean_wait_s(2, 1.0, 300.0) is None
    assert wait_at_position_s(4, 8, 200.0) == 100.0
    assert wait_at_position_s(1, 0, 200.0) is None


def test_priority_from_tier_and_order_status() -> None:
    """VIPs and orders on their way rank higher; unknown statuses add nothing."""
    assert base_priority("regular", None) == 0
    assert base_priority("vip", "delivering") == 50
    assert base_priority("regular", "teleported") == 0
