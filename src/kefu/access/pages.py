"""The web pages: the customer widget at ``/chat`` and the agent workspace.

The pages are static files under ``kefu/web/static`` (no build step); this
module serves them with a strict Content-Security-Policy.  Scripts come only
from kefu itself, connections go only to kefu's own HTTP and WebSocket
origin, and only the host origins named in ``KEFU_WIDGET_ORIGINS`` may frame
the customer widget.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

if TYPE_CHECKING:
    from kefu.service import Kefu

#: The folder of the pages' HTML, scripts, styles and vendored libraries.
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

#: Where the static files are mounted.
STATIC_PREFIX = "/static"

#: A Host header that may be written into a policy: a name or an IPv6
#: literal, and an optional port.  Anything else is left out.
_SAFE_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


class PageSettingsError(ValueError):
    """``KEFU_WIDGET_ORIGINS`` holds something that is not an origin."""


@dataclass(frozen=True, slots=True)
class PageSettings:
    """Settings of the web pages."""

    #: Host-page origins (``https://shop.example``) allowed to frame the widget.
    widget_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PageSettings:
        """Read ``KEFU_WIDGET_ORIGINS`` (comma-separated origins)."""
        raw = (os.environ if env is None else env).get("KEFU_WIDGET_ORIGINS", "")
        origins = [part.strip() for part in raw.split(",") if part.strip()]
        return cls(tuple(parse_origin(origin) for origin in origins))


def parse_origin(text: str) -> str:
    """``scheme://host[:port]`` normalised; wildcards and paths are refused."""
    if "*" in text:
        raise PageSettingsError(f"widget origin {text!r}: wildcards are not allowed")
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise PageSettingsError(
            f"widget origin {text!r}: expected scheme://host[:port]"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def content_security_policy(host: str | None, frame_ancestors: str) -> str:
    """The policy of a page served to ``host`` (the request's Host header)."""
    connect = ["'self'"]
    # Browsers differ on whether 'self' covers ws(s):, so name it explicitly.
    if host is not None and _SAFE_HOST.match(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        f"frame-ancestors {frame_ancestors}",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    return "; ".join(directives)


def _common_headers() -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


class _StaticFiles(StaticFiles):
    """Static files with ``nosniff`` and revalidation on every load."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_common_headers())
        return response


def add_page_routes(
    app: FastAPI, kefu: Kefu, settings: PageSettings | None = None
) -> None:
    """Serve ``/chat``, ``/chat/embed.js``, ``/agent`` and ``/static``."""
    del kefu  # the pages talk to kefu through its public API only
    pages = settings or PageSettings.from_env()
    widget_ancestors = " ".join(["'self'", *pages.widget_origins])

    def page(request: Request, name: str, ancestors: str) -> Response:
        headers = _common_headers()
        headers["Content-Security-Policy"] = content_security_policy(
            request.headers.get("host"), ancestors
        )
        return FileResponse(
            STATIC_DIR / name, headers=headers, media_type="text/html; charset=utf-8"
        )

    @app.get("/chat", include_in_schema=False)
    async def chat_page(request: Request) -> Response:
        """The customer widget (standalone demo, or framed by embed.js)."""
        return page(request, "chat/index.html", widget_ancestors)

    @app.get("/agent", include_in_schema=False)
    async def agent_page(request: Request) -> Response:
        """The agent workspace; never framed."""
        return page(request, "agent/index.html", "'none'")

    @app.get("/chat/embed.js", include_in_schema=False)
    async def embed_script() -> Response:
        """The one script a host page includes to open the widget."""
        headers = _common_headers()
        # Host pages on other origins load this script with a plain tag.
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return FileResponse(
            STATIC_DIR / "chat" / "embed.js",
            headers=headers,
            media_type="text/javascript; charset=utf-8",
        )

    app.mount(STATIC_PREFIX, _StaticFiles(directory=STATIC_DIR), name="static")
