"""How kefu serves its pages: security headers and the widget origin setting."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kefu.access.pages import PageSettings, PageSettingsError, parse_origin
from tests.kefu_client import Server


async def test_pages_send_a_strict_content_security_policy(
    make_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """/chat may be framed only by the configured origins, /agent by nobody."""
    monkeypatch.setenv(
        "KEFU_WIDGET_ORIGINS", "https://shop.example, http://a.test:8080"
    )
    server = make_server()
    async with httpx.AsyncClient(base_url=server.url) as http:
        chat = await http.get("/chat")
        agent = await http.get("/agent")
        script = await http.get("/static/chat/app.js")
        embed = await http.get("/chat/embed.js")
    assert chat.status_code == agent.status_code == 200
    chat_csp = chat.headers["content-security-policy"]
    host = f"127.0.0.1:{server.port}"
    assert "script-src 'self'" in chat_csp
    assert f"connect-src 'self' ws://{host} wss://{host}" in chat_csp
    assert "frame-ancestors 'self' https://shop.example http://a.test:8080" in chat_csp
    assert "*" not in chat_csp and "unsafe-inline" not in chat_csp
    assert "frame-ancestors 'none'" in agent.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert embed.status_code == 200 and "kefu:token-request" in embed.text


def test_widget_origins_refuse_wildcards_and_paths() -> None:
    """KEFU_WIDGET_ORIGINS accepts only plain origins, never '*'."""
    env = {"KEFU_WIDGET_ORIGINS": "https://Shop.Example/, http://x.test:81"}
    settings = PageSettings.from_env(env)
    assert settings.widget_origins == ("https://shop.example", "http://x.test:81")
    for bad in ("*", "https://*.example", "https://shop.example/app", "ftp://x"):
        with pytest.raises(PageSettingsError):
            parse_origin(bad)
