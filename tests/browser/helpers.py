"""Helpers for the browser tests: page set-up and a proxy that can cut links."""

from __future__ import annotations

import asyncio
import contextlib
import weakref

from playwright.async_api import Browser, Page, ViewportSize, expect

PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}

#: Console errors (failed loads, policy violations, exceptions) per page.
_ERRORS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()

#: Seconds-scale waits for pages to react to the server, in milliseconds.
expect.set_options(timeout=15_000)


async def customer_page(
    browser: Browser, base_url: str, customer_id: str, viewport: ViewportSize = PHONE
) -> Page:
    """The standalone widget, signed in as a demo customer, at the contact form."""
    context = await browser.new_context(viewport=viewport, locale="en-US")
    page = await context.new_page()
    watch_errors(page)
    await page.goto(f"{base_url}/chat")
    await page.get_by_test_id("demo-customer-id").fill(customer_id)
    await page.get_by_test_id("demo-start").click()
    await expect(page.get_by_test_id("contact-text")).to_be_visible()
    return page


async def open_contact(page: Page, text: str) -> None:
    """Submit the contact form and wait until an agent has the session."""
    await page.get_by_test_id("contact-text").fill(text)
    await page.get_by_test_id("contact-submit").click()
    await expect(page.get_by_test_id("agent-name")).to_be_visible()


async def agent_page(
    browser: Browser, base_url: str, agent_id: str, viewport: ViewportSize = DESKTOP
) -> Page:
    """The agent workspace, logged in (it goes online by itself)."""
    context = await browser.new_context(viewport=viewport, locale="en-US")
    page = await context.new_page()
    watch_errors(page)
    await page.goto(f"{base_url}/agent")
    await page.get_by_test_id("agent-login-id").fill(agent_id)
    await page.get_by_test_id("agent-login-password").fill("demo")
    await page.get_by_test_id("agent-login-submit").click()
    await expect(page.get_by_test_id("agent-status")).to_have_value("online")
    return page


async def send(page: Page, text: str, scope: str = "body") -> None:
    """Type into the composer (within ``scope``) and press the send button."""
    area = page.locator(scope)
    await area.get_by_test_id("composer").fill(text)
    await area.get_by_test_id("send").click()


async def seqs(page: Page, scope: str = "body") -> list[int]:
    """The seq of every message bubble shown, top to bottom."""
    values: list[str] = (
        await page.locator(scope)
        .get_by_test_id("message")
        .evaluate_all("els => els.map(e => e.dataset.seq)")
    )
    return [int(v) for v in values]


def bubble(seq: int) -> str:
    """A selector for the text of the message bubble with ``seq``."""
    return f'[data-testid="message"][data-seq="{seq}"] .msg-text'


def watch_errors(page: Page) -> None:
    """Record the page's console errors and uncaught exceptions."""
    found = _ERRORS.setdefault(page, [])
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))


def errors_of(page: Page) -> list[str]:
    """Console errors seen so far on a page opened by these helpers."""
    return list(_ERRORS.get(page, []))


def pane(session_id: str) -> str:
    """A selector for the agent's pane of one session."""
    return f'[data-testid="session-pane"][data-session-id="{session_id}"]'


class CuttableProxy:
    """A loopback TCP proxy that can drop every connection and refuse new ones.

    Browsers keep an open WebSocket through their own offline mode, so a
    real cut has to happen on the wire: :meth:`cut` resets both sides of every
    proxied connection and resets new ones until :meth:`restore`.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.refusing = False
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Reset every open connection; refuse new ones until restore()."""
        self.refusing = True
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.refusing = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # While cut, a new connection is reset at once, like a dead link.
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        # Copy bytes one way until either side goes; then close this side.
        with contextlib.suppress(OSError, ConnectionError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        self._links.discard(dst)
        if self.refusing:
            dst.transport.abort()
        else:
            dst.close()


class HostPage:
    """A stand-in host app: one HTML page on its own loopback origin.

    It has to be a real socket: browsers let pages reach loopback addresses
    only from pages that are themselves on loopback.
    """

    def __init__(self, body: str) -> None:
        self.body = body.encode()
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Read the request head, answer with the page, close.
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + self.body)
            await writer.drain()
        writer.close()
