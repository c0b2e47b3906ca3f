"""The HTTP API (FastAPI) and the ASGI application that carries it.

Handlers validate input with the models of :mod:`kefu.access.schemas` and call
the session engine; every error leaves as ``{"error": {"code", "message"}}``
with the status of its :class:`kefu.errors.KefuError` class.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.access import schemas
from kefu.access.admission import CONTACT, HISTORY, LIVE
from kefu.access.auth import verify_password
from kefu.access.dashboard import add_dashboard_routes
from kefu.access.pages import add_page_routes
from kefu.errors import (
    Forbidden,
    InvalidRequest,
    KefuError,
    NotFound,
    Overloaded,
    Unauthorized,
)
from kefu.observability.canary import is_canary
from kefu.routing.router import AgentStatus
from kefu.sessions.model import (
    MAX_SEQ,
    Principal,
    Role,
    iso,
    message_json,
    session_json,
)

if TYPE_CHECKING:
    from kefu.service import Kefu

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A customer or agent token.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_ERRORS = schemas.ERROR_RESPONSES


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(exc: KefuError) -> Response:
    headers = None
    if exc.retry_after_s is not None:
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    body = {"error": {"code": exc.code, "message": exc.message}}
    return json_response(body, exc.status, headers)


def build_app(kefu: "Kefu") -> FastAPI:
    """The ASGI application: API routes, the WebSocket, error handling."""
    app = FastAPI(
        title="kefu",
        version=kefu.version,
        summary="Customer-service contacts, routing and live sessions.",
        lifespan=kefu.lifespan,
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(app, kefu)
    _add_customer_routes(app, kefu)
    _add_session_routes(app, kefu)
    _add_agent_routes(app, kefu)
    _add_ops_routes(app, kefu)
    if kefu.settings.demo:
        _add_demo_routes(app, kefu)
    add_page_routes(app, kefu)
    add_dashboard_routes(app, kefu)
    app.add_api_websocket_route("/v1/ws", kefu.websocket)
    return app


# -- authentication ------------------------------------------------------------


def _principal_dependency(kefu: "Kefu") -> Callable[[Credentials], Principal]:
    def principal(credentials: Credentials) -> Principal:
        if credentials is None:
            raise Unauthorized("an Authorization: Bearer token is required")
        return kefu.auth.authenticate(credentials.credentials)

    return principal


def _role_dependency(kefu: "Kefu", role: Role) -> Callable[[Principal], Principal]:
    any_principal = _principal_dependency(kefu)

    def only(who: Annotated[Principal, Depends(any_principal)]) -> Principal:
        if who.role is not role:
            raise Forbidden(f"only a {role.value} may do this")
        return who

    return only


# -- routes --------------------------------------------------------------------


def _add_customer_routes(app: FastAPI, kefu: "Kefu") -> None:
    customer = _role_dependency(kefu, Role.CUSTOMER)

    @app.post(
        "/v1/contacts",
        status_code=201,
        response_model=schemas.SessionEnvelope,
        responses=_ERRORS,
        tags=["customers"],
    )
    async def open_contact(
        body: schemas.ContactIn, who: Annotated[Principal, Depends(customer)]
    ) -> Response:
        """Open a contact: classify, route and return the new session."""
        started = time.perf_counter()
        kefu.contact_limit.check(who.id)
        try:
            async with kefu.admission.admit(CONTACT):
                view = await kefu.contact_path.open(
                    who.id,
                    body.text,
                    lambda: kefu.engine.open_contact(
                        who, body.text, body.channel, body.order_id, body.order_status
                    ),
                )
        except Overloaded:
            _count_contact(kefu, who, "shed", body.channel)
            raise
        except KefuError:
            _count_contact(kefu, who, "failed", body.channel)
            raise
        outcome = "connected" if view.session.state.value == "assigned" else "queued"
        _count_contact(kefu, who, outcome, body.channel, time.perf_counter() - started)
        return json_response({"session": session_json(view)}, 201)


def _count_contact(
    kefu: "Kefu",
    who: Principal,
    outcome: str,
    channel: str,
    seconds: float | None = None,
) -> None:
    """Business figures, which leave the canary's synthetic contacts out."""
    if is_canary(who.id):
        return
    kefu.metrics.contacts.labels(outcome, channel).inc()
    if seconds is not None:
        kefu.metrics.contact_open.observe(seconds)


def _add_session_routes(app: FastAPI, kefu: "Kefu") -> None:
    anyone = _principal_dependency(kefu)
    Who = Annotated[Principal, Depends(anyone)]

    @app.get(
        "/v1/sessions/{session_id}",
        response_model=schemas.SessionEnvelope,
        responses=_ERRORS,
        tags=["sessions"],
    )
    async def get_session(session_id: str, who: Who) -> Response:
        """A session the caller takes part in."""
        async with kefu.admission.admit(HISTORY):
            view = await kefu.engine.get_session(who, session_id)
        return json_response({"session": session_json(view)})

    @app.get(
        "/v1/sessions/{session_id}/messages",
        response_model=schemas.MessagesPage,
        responses=_ERRORS,
        tags=["sessions"],
    )
    async def list_messages(
        session_id: str,
        who: Who,
        after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        """Messages after ``after_seq`` in ascending seq order."""
        async with kefu.admission.admit(HISTORY):
            found, more = await kefu.engine.history(who, session_id, after_seq, limit)
        return json_response(
            {"messages": [message_json(m) for m in found], "has_more": more}
        )

    @app.post(
        "/v1/sessions/{session_id}/messages",
        status_code=201,
        response_model=schemas.MessageEnvelope,
        responses={
            **_ERRORS,
            200: {
                "model": schemas.MessageEnvelope,
                "description": "A repeated client_msg_id.",
            },
        },
        tags=["sessions"],
    )
    async def post_message(
        session_id: str, body: schemas.MessageIn, who: Who
    ) -> Response:
        """Send a message; the same client_msg_id again returns the stored one."""
        async with kefu.admission.admit(LIVE):
            message, created = await kefu.engine.post_message(
                who, session_id, body.text, body.client_msg_id
            )
        return json_response(
            {"message": message_json(message)}, 201 if created else 200
        )

    @app.post(
        "/v1/sessions/{session_id}/close",
        response_model=schemas.SessionEnvelope,
        responses=_ERRORS,
        tags=["sessions"],
    )
    async def close_session(session_id: str, who: Who) -> Response:
        """Close a session (customer or its agent)."""
        async with kefu.admission.admit(LIVE):
            view = await kefu.engine.close(who, session_id)
        return json_response({"session": session_json(view)})

    @app.post(
        "/v1/sessions/{session_id}/transfer",
        response_model=schemas.SessionEnvelope,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def transfer(session_id: str, body: schemas.TransferIn, who: Who) -> Response:
        """Move a session to a skill group's queue or to a named agent."""
        async with kefu.admission.admit(LIVE):
            view = await kefu.engine.transfer(
                who, session_id, skill_group=body.skill_group, agent_id=body.agent_id
            )
        return json_response({"session": session_json(view)})

    @app.post(
        "/v1/sessions/{session_id}/verify",
        response_model=schemas.SessionEnvelope,
        responses=_ERRORS,
        tags=["sessions"],
    )
    async def verify(session_id: str, body: schemas.VerifyIn, who: Who) -> Response:
        """The customer confirms their identity with the code sent by SMS."""
        async with kefu.admission.admit(LIVE):
            view = await kefu.engine.verify(who, session_id, body.code)
        return json_response({"session": session_json(view)})


def _add_agent_routes(app: FastAPI, kefu: "Kefu") -> None:
    agent = _role_dependency(kefu, Role.AGENT)
    Agent = Annotated[Principal, Depends(agent)]

    @app.post(
        "/v1/agents/login",
        response_model=schemas.LoginOut,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def login(body: schemas.LoginIn, request: Request) -> Response:
        """Exchange an agent's id and password for a token.

        Attempts are limited per agent id and per client address (429)."""
        address = request.client.host if request.client else "unknown"
        kefu.login_limits.check(body.agent_id, address)
        record = await kefu.store.get_agent(body.agent_id)
        ok = (
            record is not None
            and not record.disabled
            and await verify_password(record.password_hash, body.password)
        )
        if not ok or record is None:
            raise Unauthorized("unknown agent or wrong password")
        # An agent added by an operator since start-up becomes known here.
        kefu.auth.set_agent_version(record.id, record.token_version)
        await kefu.engine.register_agent(record)
        token, expires_at = kefu.auth.agent_token(record.id, record.token_version)
        logger.info("agent logged in", extra={"agent_id": record.id})
        return json_response({"token": token, "expires_at": iso(expires_at)})

    @app.post(
        "/v1/agents/logout",
        response_model=schemas.StatusOut,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def logout(who: Agent) -> Response:
        """Revoke every token of the calling agent, on every device."""
        await kefu.revoke_agent_tokens(who.id)
        return json_response({"status": "logged_out"})

    @app.put(
        "/v1/agents/me/status",
        response_model=schemas.StatusOut,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def set_status(body: schemas.StatusIn, who: Agent) -> Response:
        """Go online, away or offline."""
        await kefu.engine.set_status(who.id, AgentStatus(body.status))
        return json_response({"status": body.status})

    @app.get(
        "/v1/skill-groups",
        response_model=schemas.SkillGroupsOut,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def skill_groups(who: Agent) -> Response:
        """Skill groups a session can be transferred to."""
        return json_response({"skill_groups": list(await kefu.store.list_groups())})

    @app.get(
        "/v1/agents",
        response_model=schemas.AgentsOut,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def list_agents(who: Agent) -> Response:
        """Agents with their status and load, for transfers."""
        return json_response({"agents": kefu.engine.agent_roster()})

    @app.get(
        "/v1/agents/me/sessions",
        response_model=schemas.SessionsEnvelope,
        responses=_ERRORS,
        tags=["agents"],
    )
    async def my_sessions(who: Agent) -> Response:
        """The open sessions assigned to the calling agent."""
        views = kefu.engine.sessions_of_agent(who.id)
        return json_response({"sessions": [session_json(v) for v in views]})


def _add_ops_routes(app: FastAPI, kefu: "Kefu") -> None:
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Response:
        """The process is alive."""
        return json_response({"status": "ok"})

    @app.get(
        "/readyz", tags=["operations"], responses={503: {"model": schemas.ErrorOut}}
    )
    async def readyz() -> Response:
        """Ready for traffic: started, store reachable, not draining."""
        if await kefu.ready():
            return json_response({"status": "ready"})
        return json_response(
            {"error": {"code": "not_ready", "message": "kefu is not ready"}}, 503
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={
            200: {
                "content": {"text/plain": {}},
                "description": "Prometheus text exposition format.",
            }
        },
    )
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(
            generate_latest(kefu.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )


def _add_demo_routes(app: FastAPI, kefu: "Kefu") -> None:
    @app.post(
        "/v1/demo/customer-token",
        response_model=schemas.TokenOut,
        responses=_ERRORS,
        tags=["demo"],
    )
    async def demo_token(body: schemas.DemoTokenIn) -> Response:
        """Demo mode only: a customer token, as a host app would mint it."""
        token = kefu.auth.customer_token(body.customer_id, body.tier, body.name)
        return json_response({"token": token})


# -- errors --------------------------------------------------------------------


def _install_error_handlers(app: FastAPI, kefu: "Kefu") -> None:
    def counted(response: Response, code: str) -> Response:
        kefu.metrics.http_errors.labels(code).inc()
        return response

    async def on_kefu_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, KefuError)
        return counted(error_response(exc), exc.code)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return counted(
            error_response(InvalidRequest(_describe(exc))), "invalid_request"
        )

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return counted(error_response(NotFound("no such resource")), "not_found")
        code = "method_not_allowed" if exc.status_code == 405 else "http_error"
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return counted(
            json_response(body, exc.status_code, dict(exc.headers or {})), code
        )

    async def on_crash(_: Request, exc: Exception) -> Response:
        logger.error("request failed", exc_info=exc)
        body = {"error": {"code": "internal_error", "message": "internal error"}}
        return counted(json_response(body, 500), "internal_error")

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        KefuError: on_kefu_error,
        RequestValidationError: on_validation,
        StarletteHTTPException: on_http,
        Exception: on_crash,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


def _describe(exc: RequestValidationError) -> str:
    """One readable sentence for the first validation problem."""
    errors = exc.errors()
    if not errors:
        return "the request is invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return f"{where or 'body'}: {first.get('msg', 'is invalid')}"
