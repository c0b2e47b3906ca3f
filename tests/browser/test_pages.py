"""The customer widget and the agent workspace in a real browser against kefu."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, expect

from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    CuttableProxy,
    HostPage,
    agent_page,
    bubble,
    customer_page,
    errors_of,
    open_contact,
    pane,
    send,
    seqs,
)
from tests.e2e.test_verification import _code_for as code_for
from tests.kefu_client import Server, customer_token

XSS = "<img src=x onerror=alert(1)>"


async def test_customer_and_agent_chat_both_ways(
    server: Server, browser: Browser
) -> None:
    """A customer and an agent exchange messages with typing, sent and read states."""
    agent = await agent_page(browser, server.url, "agent-1")
    customer = await customer_page(browser, server.url, "alice")
    await open_contact(customer, "my order is 40 minutes late")
    await expect(customer.get_by_test_id("agent-name")).to_contain_text("Agent 1")

    # The agent gets the session with the contact text as message 1.
    item = agent.get_by_test_id("session-item")
    await expect(item).to_have_count(1)
    await expect(agent.locator(bubble(1))).to_have_text("my order is 40 minutes late")

    # Agent to customer.
    await send(agent, "Sorry! Let me check with the rider.")
    await expect(customer.locator(bubble(2))).to_contain_text(
        "Sorry! Let me check with the rider."
    )

    # Customer to agent: typing shows first, then the message; the agent's
    # open pane reads it and the customer sees "Read".
    await customer.get_by_test_id("composer").press_sequentially("thanks")
    await expect(agent.get_by_test_id("typing")).to_have_text("The customer is typing…")
    await customer.get_by_test_id("send").click()
    await expect(agent.locator(bubble(3))).to_contain_text("thanks")
    own = customer.locator('[data-testid=message][data-seq="3"]')
    await expect(own.get_by_test_id("delivery")).to_have_attribute("data-state", "read")
    assert await seqs(customer) == [1, 2, 3]
    assert await seqs(agent) == [1, 2, 3]

    # Closing from the agent side ends the chat for the customer.
    await agent.get_by_test_id("close-session").click()
    await expect(customer.get_by_test_id("new-contact")).to_be_visible()
    assert errors_of(agent) == errors_of(customer) == []


async def test_cut_connection_loses_and_repeats_no_message(
    server: Server, browser: Browser
) -> None:
    """Messages sent across a cut link each show once, in seq order, after resume."""
    proxy = CuttableProxy(server.port)
    await proxy.start()
    try:
        agent = await agent_page(browser, server.url, "agent-2")
        customer = await customer_page(browser, proxy.url, "bob")
        await open_contact(customer, "wrong item in my bag")
        sid = await agent.get_by_test_id("session-item").get_attribute(
            "data-session-id"
        )
        assert sid is not None
        await send(agent, "before the cut")
        await expect(customer.get_by_test_id("message")).to_have_count(2)

        # Cut the customer off; the widget says so.
        proxy.cut()
        await expect(customer.get_by_test_id("offline-notice")).to_be_visible()

        # The customer writes while offline; the agent sends three messages.
        await send(customer, "are you still there?")
        await expect(customer.get_by_test_id("message-pending")).to_have_count(1)
        for n in range(3):
            await send(agent, f"update {n}")
            await expect(agent.locator(bubble(3 + n))).to_have_text(f"update {n}")

        # Restore the link: the widget resumes silently and catches up.
        proxy.restore()
        await expect(customer.get_by_test_id("offline-notice")).to_be_hidden()
        await expect(customer.get_by_test_id("message")).to_have_count(6)
        await expect(customer.get_by_test_id("message-pending")).to_have_count(0)
        assert await seqs(customer) == [1, 2, 3, 4, 5, 6]
        texts = (
            await customer.get_by_test_id("message")
            .locator(".msg-text")
            .all_inner_texts()
        )
        assert texts == [
            "wrong item in my bag",
            "before the cut",
            "update 0",
            "update 1",
            "update 2",
            "are you still there?",
        ]
        # The message written offline reached the agent exactly once.
        await expect(agent.locator(pane(sid)).get_by_test_id("message")).to_have_count(
            6
        )
        assert await seqs(agent, pane(sid)) == [1, 2, 3, 4, 5, 6]
    finally:
        await proxy.close()


async def test_markup_in_messages_is_shown_as_text(
    server: Server, browser: Browser
) -> None:
    """Markup in a message shows as text on both pages and runs nothing."""
    dialogs: list[str] = []
    agent = await agent_page(browser, server.url, "agent-3")
    customer = await customer_page(browser, server.url, "mallory")
    for page in (agent, customer):
        page.on("dialog", lambda d: _dismiss(dialogs, d))

    await open_contact(customer, XSS)
    await send(agent, XSS)
    await send(customer, XSS)
    for page in (agent, customer):
        messages = page.get_by_test_id("message")
        await expect(messages).to_have_count(3)
        assert await messages.locator(".msg-text").all_inner_texts() == [XSS] * 3
        assert await page.locator("[data-testid=message] img").count() == 0
    assert dialogs == []


async def test_agent_handles_two_customers_at_once(
    server: Server, browser: Browser, screenshots: Path
) -> None:
    """An agent serves two customers side by side; drafts and messages stay apart."""
    agent = await agent_page(browser, server.url, "agent-4")
    carol = await customer_page(browser, server.url, "carol")
    dave = await customer_page(browser, server.url, "dave")
    await open_contact(carol, "my refund has not arrived")
    await open_contact(dave, "the rider was rude to me")
    await expect(agent.get_by_test_id("session-item")).to_have_count(2)
    await expect(agent.get_by_test_id("session-pane")).to_have_count(2)

    # Which pane is whose: each shows its customer's first message.
    by_customer = {}
    for item in await agent.get_by_test_id("session-item").all():
        sid = await item.get_attribute("data-session-id")
        assert sid is not None
        by_customer[(await item.locator(".name").inner_text()).strip()] = sid
    carol_pane, dave_pane = pane(by_customer["carol"]), pane(by_customer["dave"])

    # A draft for Carol stays put while the agent answers Dave.
    await agent.locator(carol_pane).get_by_test_id("composer").fill("draft for carol")
    await send(agent, "Sorry, Dave. I have reported the rider.", dave_pane)
    await expect(dave.locator(bubble(2))).to_contain_text("reported the rider")
    await expect(agent.locator(carol_pane).get_by_test_id("composer")).to_have_value(
        "draft for carol"
    )
    await agent.locator(carol_pane).get_by_test_id("send").click()
    await expect(carol.locator(bubble(2))).to_have_text("draft for carol")
    await send(dave, "thank you")
    await expect(agent.locator(dave_pane).get_by_test_id("message")).to_have_count(3)

    # Neither customer saw the other's conversation.
    assert await seqs(carol) == [1, 2]
    assert await seqs(dave) == [1, 2, 3]
    assert "rider" not in " ".join(
        await carol.get_by_test_id("message").all_inner_texts()
    )

    # Screenshots of both pages at phone and desktop widths.
    await agent.set_viewport_size(DESKTOP)
    await agent.screenshot(path=screenshots / "agent-desktop.png")
    await agent.set_viewport_size(PHONE)
    await agent.screenshot(path=screenshots / "agent-phone.png")
    await dave.screenshot(path=screenshots / "chat-phone.png")
    await dave.set_viewport_size(DESKTOP)
    await dave.screenshot(path=screenshots / "chat-desktop.png")


async def _dismiss(dialogs: list[str], dialog: Dialog) -> None:
    # Note the dialog and dismiss it, so a failing page cannot stall the test.
    dialogs.append(dialog.message)
    await dialog.dismiss()


async def test_queued_customer_sees_live_position_then_agent(
    server: Server, browser: Browser, screenshots: Path
) -> None:
    """With no agent online the widget shows its queue place, then its agent."""
    customer = await customer_page(browser, server.url, "erin")
    await customer.get_by_test_id("contact-text").fill("I was charged twice")
    await customer.get_by_test_id("contact-submit").click()
    await expect(customer.get_by_test_id("queue-position")).to_have_text("1")
    await customer.screenshot(path=screenshots / "chat-queued-phone.png")

    await agent_page(browser, server.url, "agent-5")
    await expect(customer.get_by_test_id("agent-name")).to_contain_text("Agent 5")
    await expect(customer.get_by_test_id("queue-position")).to_have_count(0)


async def test_embed_script_opens_the_widget_on_a_host_page(
    make_server: Callable[..., Server],
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host page on an allowed origin opens the widget with one script tag."""
    host = HostPage("")
    await host.start()
    try:
        monkeypatch.setenv("KEFU_WIDGET_ORIGINS", host.origin)
        server = make_server()
        host.body = (
            "<!doctype html><title>Shop</title><h1>Shop</h1>"
            f'<script src="{server.url}/chat/embed.js"'
            f' data-token="{customer_token("frank")}"></script>'
        ).encode()
        context = await browser.new_context(viewport=DESKTOP)
        page = await context.new_page()
        await page.goto(host.origin)

        # The launcher opens kefu's page in a frame, which gets its token.
        await page.locator("[data-kefu=launcher]").click()
        widget = page.frame_locator("[data-kefu=panel] iframe")
        await widget.get_by_test_id("contact-text").fill("where is my order?")
        await widget.get_by_test_id("contact-submit").click()
        await expect(widget.get_by_test_id("queue-position")).to_have_text("1")
    finally:
        await host.close()


async def test_customer_enters_the_verification_code(
    make_server: Callable[..., Server], fake_sms: str, browser: Browser
) -> None:
    """A sensitive contact prompts for the SMS code, and the agent sees the result."""
    server = make_server("--sms-url", fake_sms)
    agent = await agent_page(browser, server.url, "agent-6")
    customer = await customer_page(browser, server.url, "grace")
    await open_contact(customer, "I want a refund for my order")
    await expect(customer.get_by_test_id("verification-code")).to_be_visible()
    await expect(agent.get_by_test_id("ctx-verification")).to_contain_text("pending")

    # The code the provider delivered, typed into the prompt.
    code = await code_for(fake_sms, "grace")
    await customer.get_by_test_id("verification-code").fill(code)
    await customer.get_by_test_id("verification-submit").click()
    await expect(customer.get_by_test_id("verification")).to_have_text(
        "Your identity is verified."
    )
    await expect(agent.get_by_test_id("ctx-verification")).to_contain_text("verified")
