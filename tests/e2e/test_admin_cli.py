"""Operators manage agents and skill groups with the kefu command."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.kefu_client import Api, Server, connect, customer_token, login


def _store(server: Server) -> list[str]:
    """The --data-dir and --store-url the server runs on."""
    found = ["--data-dir", str(server.data_dir)]
    if "--store-url" in server.args:
        at = server.args.index("--store-url")
        found += server.args[at : at + 2]
    return found


def _kefu(server: Server, *args: str, password: str | None = None) -> str:
    env = {**os.environ}
    if password is not None:
        env["KEFU_NEW_AGENT_PASSWORD"] = password
    done = subprocess.run(
        [sys.executable, "-m", "kefu", *args, *_store(server)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_agent_added_while_running_logs_in_and_is_assigned(
    server: Server,
) -> None:
    """An agent created by the CLI on a running server can log in and take work."""
    _kefu(server, "groups", "add", "vip-care")
    assert "vip-care" in _kefu(server, "groups", "list").split()
    _kefu(
        server,
        "agents",
        "add",
        "ops-1",
        "--name",
        "Ops One",
        "--capacity",
        "2",
        "--skills",
        "general,delivery",
        password="correct horse",
    )
    assert "ops-1\tOps One\tagent\tcapacity=2" in _kefu(server, "agents", "list")

    agent = await login(server, "ops-1", "correct horse")
    customer = Api(server, customer_token("served-by-ops"))
    async with connect(server, agent.token or ""):
        await agent.status("online")
        session = await customer.contact("where is my food, it is late")
        assert session["agent_id"] == "ops-1"
    await agent.close()
    await customer.close()


async def test_disabled_agent_cannot_log_in(server: Server) -> None:
    """A disabled agent's login is refused."""
    _kefu(server, "agents", "disable", "agent-8")
    assert "agent-8\tAgent 8\tagent\tcapacity=5" in _kefu(server, "agents", "list")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            "/v1/agents/login", json={"agent_id": "agent-8", "password": "demo"}
        )
        assert r.status_code == 401


def test_bad_admin_requests_fail_clearly(server: Server) -> None:
    """Unknown groups, duplicates and short passwords are refused with a reason."""
    base = [
        sys.executable,
        "-m",
        "kefu",
        "agents",
        "add",
        "x-1",
        "--name",
        "X",
        *_store(server),
    ]
    cases = [
        (["--skills", "nowhere"], "long enough pw", "no such skill groups: nowhere"),
        ([], "short", "passwords have at least 8 characters"),
    ]
    for extra, password, reason in cases:
        done = subprocess.run(
            [*base, *extra],
            capture_output=True,
            text=True,
            env={**os.environ, "KEFU_NEW_AGENT_PASSWORD": password},
            timeout=60,
        )
        assert done.returncode == 1
        assert reason in done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kefu",
            "agents",
            "disable",
            "ghost",
            *_store(server),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "no agent ghost" in done.stderr
