"""Generated requests against kefu's own OpenAPI document, app in-process."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kefu.config import Limits, Settings
from kefu.service import Kefu
from tests.kefu_client import CUSTOMER_SECRET, customer_token

BASE_URL = "http://kefu"
#: Generated requests per operation, per generation mode and per token.
EXAMPLES_PER_OPERATION = 50
#: How long one in-process request may take before the run is called stuck.
REQUEST_TIMEOUT_S = 30.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: The largest integer SQLite stores.
SQL_INT_MAX = 2**63 - 1

Send = Callable[[dict[str, Any]], httpx.Response]


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Requests-style keyword arguments of a generated case, as httpx takes them."""
    out = {key: kwargs[key] for key in ("method", "url", "headers", "params")}
    out["cookies"] = kwargs.get("cookies") or None
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    return out


def _fuzz_operation(
    operation: Any,
    headers: dict[str, str],
    known_ids: list[str],
    send: Send,
    statuses: Counter[int],
) -> None:
    """Send the operation's positive and negative cases and check each answer."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=2 * EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, data=st.data())
    def fuzz(case: Any, data: st.DataObject) -> None:
        # Half the session requests name a session the caller takes part in,
        # so that more than the 404 path is exercised.
        path = case.path_parameters
        if path and "session_id" in path and data.draw(st.booleans()):
            path["session_id"] = data.draw(st.sampled_from(known_ids))
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        response = send(_httpx_kwargs(kwargs))
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()


def _run_operations(
    schema: Any, fresh: Callable[[], tuple[str, list[str]]], send: Send
) -> tuple[dict[str, str], Counter[int]]:
    """Fuzz every operation as one caller; return failures and status counts."""
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        token, known_ids = fresh()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            _fuzz_operation(operation, headers, known_ids, send, statuses)
        except (Exception, BaseExceptionGroup) as exc:  # report every operation
            failures[operation.label] = str(exc)
    return failures, statuses


@pytest.mark.parametrize("role", ["customer", "agent"])
async def test_generated_requests_get_documented_answers(
    tmp_path: Path, role: str
) -> None:
    """Requests generated from the schema get no 5xx and only documented answers."""
    kefu = Kefu(
        Settings(
            data_dir=tmp_path,
            demo=True,
            customer_token_secret=CUSTOMER_SECRET,
            limits=Limits(contacts_per_minute=1_000_000),
        )
    )
    async with kefu.lifespan(None):
        transport = httpx.ASGITransport(app=kefu.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            callers = await _Callers.start(kefu, http)
            document = (await http.get("/openapi.json")).json()
            schema = schemathesis.openapi.from_dict(document)
            loop = asyncio.get_running_loop()

            # Hypothesis runs in a worker thread; the app stays on this loop.
            def send(kwargs: dict[str, Any]) -> httpx.Response:
                future = asyncio.run_coroutine_threadsafe(http.request(**kwargs), loop)
                return future.result(timeout=REQUEST_TIMEOUT_S)

            def fresh() -> tuple[str, list[str]]:
                future = asyncio.run_coroutine_threadsafe(callers.fresh(role), loop)
                return future.result(timeout=REQUEST_TIMEOUT_S)

            failures, statuses = await asyncio.to_thread(
                _run_operations, schema, fresh, send
            )

    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
    assert sum(statuses.values()) >= 1_000, statuses
    assert statuses[200] + statuses[201] > 0, statuses


class _Callers:
    """The customer and agent whose tokens the generated requests carry."""

    def __init__(self, kefu: Kefu, http: httpx.AsyncClient) -> None:
        self.kefu = kefu
        self.http = http
        self.customer = customer_token("c-fuzz")
        self.agent = ""

    @classmethod
    async def start(cls, kefu: Kefu, http: httpx.AsyncClient) -> _Callers:
        callers = cls(kefu, http)
        await callers._login()
        # agent-1 takes sessions only while connected; a WebSocket is out of
        # reach of httpx, so the connection is counted in the router directly.
        kefu.engine.router.connect("agent-1", time.time())
        return callers

    async def _login(self) -> None:
        r = await self.http.post(
            "/v1/agents/login", json={"agent_id": "agent-1", "password": "demo"}
        )
        assert r.status_code == 200, r.text
        self.agent = str(r.json()["token"])

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def fresh(self, role: str) -> tuple[str, list[str]]:
        """A valid token of the role and open sessions it takes part in."""
        # Generated requests may have logged the agent out, set them away or
        # moved their sessions: undo that before the next operation.
        status = {"status": "online"}
        r = await self.http.put(
            "/v1/agents/me/status", json=status, headers=self._auth(self.agent)
        )
        if r.status_code == 401:
            # Logged out by a generated request; logging in again could hit
            # the login rate limit the generated logins have used up.
            record = await self.kefu.store.get_agent("agent-1")
            assert record is not None
            self.agent, _ = self.kefu.auth.agent_token(record.id, record.token_version)
            r = await self.http.put(
                "/v1/agents/me/status", json=status, headers=self._auth(self.agent)
            )
        assert r.status_code == 200, r.text
        opened = []
        for text in ("my order is late", "refund please", "where is my rider"):
            r = await self.http.post(
                "/v1/contacts",
                json={"text": text, "channel": "app"},
                headers=self._auth(self.customer),
            )
            assert r.status_code == 201, r.text
            opened.append(str(r.json()["session"]["id"]))
        if role == "customer":
            return self.customer, opened
        r = await self.http.get(
            "/v1/agents/me/sessions", headers=self._auth(self.agent)
        )
        held = [str(session["id"]) for session in r.json()["sessions"]]
        assert held, "agent-1 holds no session"
        return self.agent, held


def _started(tmp_path: Path) -> Kefu:
    return Kefu(
        Settings(data_dir=tmp_path, demo=True, customer_token_secret=CUSTOMER_SECRET)
    )


async def test_history_after_a_seq_beyond_64_bits_is_not_a_store_failure(
    tmp_path: Path,
) -> None:
    """An after_seq no message can reach is answered 200 (empty) or 400, not 503."""
    kefu = _started(tmp_path)
    async with kefu.lifespan(None):
        transport = httpx.ASGITransport(app=kefu.app)
        headers = {"Authorization": f"Bearer {customer_token('c-big')}"}
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers
        ) as http:
            r = await http.post("/v1/contacts", json={"text": "hi", "channel": "app"})
            sid = r.json()["session"]["id"]
            r = await http.get(
                f"/v1/sessions/{sid}/messages", params={"after_seq": SQL_INT_MAX + 1}
            )
    assert r.status_code in (200, 400), r.text


async def _document(tmp_path: Path) -> dict[str, Any]:
    kefu = _started(tmp_path)
    async with kefu.lifespan(None):
        transport = httpx.ASGITransport(app=kefu.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            document: dict[str, Any] = (await http.get("/openapi.json")).json()
    return document


async def test_document_gives_metrics_as_prometheus_text(tmp_path: Path) -> None:
    """The document says /metrics answers text/plain, as Prometheus scrapes it."""
    paths = (await _document(tmp_path))["paths"]
    content = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"], content


async def test_document_lists_the_dashboard_errors(tmp_path: Path) -> None:
    """The dashboard's ticket and stream document the errors they answer."""
    paths = (await _document(tmp_path))["paths"]
    ticket = paths["/v1/dashboard/ticket"]["post"]["responses"]
    stream = paths["/v1/dashboard/stream"]["get"]["responses"]
    assert {"401", "403"} <= set(ticket), sorted(ticket)
    assert {"400", "401", "403"} <= set(stream), sorted(stream)
