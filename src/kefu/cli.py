"""The ``kefu`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kefu import __version__
from kefu.classifier.cli import classifier
from kefu.config import Limits, Settings
from kefu.routing.router import Strategy


@click.group()
@click.version_option(__version__, prog_name="kefu")
def main() -> None:
    """kefu: a customer-service contact platform."""


main.add_command(classifier)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="KEFU_HOST")
@click.option("--port", default=8080, show_default=True, type=int, envvar="KEFU_PORT")
@click.option(
    "--data-dir",
    default="./kefu-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    envvar="KEFU_DATA_DIR",
)
@click.option(
    "--demo",
    is_flag=True,
    envvar="KEFU_DEMO",
    help="Create demo agents and groups; enable demo customer tokens.",
)
@click.option(
    "--store-url",
    envvar="KEFU_STORE_URL",
    default=None,
    help="SQLAlchemy URL of the store (default: SQLite in the data dir).",
)
@click.option(
    "--strategy",
    type=click.Choice([s.value for s in Strategy]),
    default=Strategy.LEAST_LOADED.value,
    show_default=True,
    envvar="KEFU_STRATEGY",
)
@click.option(
    "--grace",
    "grace_s",
    type=float,
    default=30.0,
    show_default=True,
    envvar="KEFU_GRACE_S",
    help="Seconds a disconnected agent keeps their sessions.",
)
@click.option(
    "--offer-timeout",
    "offer_timeout_s",
    type=float,
    default=120.0,
    show_default=True,
    envvar="KEFU_OFFER_TIMEOUT_S",
    help="Seconds an assigned agent has to answer before reassignment.",
)
@click.option(
    "--classifier-model",
    help="Directory of a trained model (kefu classifier train), or 'keywords' "
    "for the built-in keyword rules; default: the shipped model.",
    type=click.Path(path_type=Path),
    default=None,
    envvar="KEFU_CLASSIFIER_MODEL",
)
@click.option(
    "--sms-url",
    envvar="KEFU_SMS_URL",
    default=None,
    help="Base URL of the SMS provider for verification codes.",
)
@click.option(
    "--logins-per-address",
    type=int,
    default=20,
    show_default=True,
    envvar="KEFU_LOGINS_PER_ADDRESS",
    help="Agent login attempts allowed per minute from one client address.",
)
@click.option(
    "--otlp-endpoint",
    envvar="KEFU_OTLP_ENDPOINT",
    default=None,
    help="OTLP/HTTP endpoint to export traces to (default: no traces).",
)
@click.option(
    "--canary",
    "canary_interval_s",
    type=float,
    default=0.0,
    show_default=True,
    envvar="KEFU_CANARY_INTERVAL_S",
    help="Seconds between synthetic canary conversations (0: off).",
)
@click.option(
    "--defects",
    default="none",
    envvar="KEFU_DEFECTS",
    hidden=True,
    help="Replays only: switch on defects of the replaced system.",
)
@click.option("--log-level", default="info", show_default=True, envvar="KEFU_LOG_LEVEL")
@click.option("--no-access-log", is_flag=True, envvar="KEFU_NO_ACCESS_LOG")
def serve(
    host: str,
    port: int,
    data_dir: Path,
    demo: bool,
    store_url: str | None,
    strategy: str,
    grace_s: float,
    offer_timeout_s: float,
    classifier_model: Path | None,
    sms_url: str | None,
    logins_per_address: int,
    otlp_endpoint: str | None,
    canary_interval_s: float,
    defects: str,
    log_level: str,
    no_access_log: bool,
) -> None:
    """Run kefu in one process (SQLite, in-process bus and state)."""
    import os

    from kefu.access.defects import parse as parse_defects
    from kefu.server import serve as run
    from kefu.service import StartupError

    settings = Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        demo=demo,
        store_url=store_url,
        customer_token_secret=os.environ.get("KEFU_CUSTOMER_TOKEN_SECRET") or None,
        agent_token_secret=os.environ.get("KEFU_AGENT_TOKEN_SECRET") or None,
        customer_token_audience=os.environ.get("KEFU_CUSTOMER_TOKEN_AUDIENCE") or None,
        strategy=Strategy(strategy),
        grace_s=grace_s,
        offer_timeout_s=offer_timeout_s,
        classifier_model=classifier_model,
        sms_url=sms_url,
        otlp_endpoint=otlp_endpoint,
        canary_interval_s=canary_interval_s,
        limits=Limits(logins_per_address=logins_per_address),
        defects=parse_defects(defects),
        log_level=log_level,
        access_log=not no_access_log,
    )
    try:
        run(settings)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("fake-sms")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9090, show_default=True, type=int)
@click.option("--latency-ms", default=200.0, show_default=True, type=float)
@click.option("--failure-rate", default=0.0, show_default=True, type=float)
def fake_sms(host: str, port: int, latency_ms: float, failure_rate: float) -> None:
    """Run a fake SMS provider (change it live with PUT /control)."""
    import uvicorn

    from kefu.simulator.fake_sms import Behaviour, FakeSms

    provider = FakeSms(Behaviour(latency_ms=latency_ms, failure_rate=failure_rate))
    uvicorn.run(
        provider.app(),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )


@main.group()
def replay() -> None:
    """Replay the outage kefu is built to survive."""


@replay.command("outage")
@click.option(
    "--defects",
    "defect_runs",
    multiple=True,
    help="all, none, or a,b,...; once per run (default: all, then none).",
)
@click.option(
    "--duration-scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Stretch (or shrink) every phase of the replay.",
)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
@click.option("--plot", "plot_out", type=click.Path(path_type=Path), default=None)
def replay_outage(
    defect_runs: tuple[str, ...],
    duration_scale: float,
    seed: int,
    json_out: Path | None,
    plot_out: Path | None,
) -> None:
    """Base load, a 3x surge with the SMS provider at 15 s, then recovery."""
    import asyncio
    import json

    from kefu.access.defects import parse
    from kefu.simulator import replay as sim

    try:
        runs = [sorted(parse(spec)) for spec in (defect_runs or ("all", "none"))]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--defects") from None
    scenario = sim.Scenario(seed=seed).scaled(duration_scale)
    click.echo(f"replaying {len(runs)} runs of {scenario.duration_s:.0f} s each")
    report = asyncio.run(sim.replay_outage(runs, scenario))
    click.echo(f"calibration: {report['calibration']}")
    click.echo(sim.table(report))
    if json_out is not None:
        public = {k: v for k, v in report.items() if not k.startswith("_")}
        json_out.write_text(json.dumps(public, indent=2))
    if plot_out is not None:
        sim.plot(report, plot_out)


@replay.command("overload")
@click.option(
    "--factor",
    default=2.0,
    show_default=True,
    type=float,
    help="Offered load as a multiple of what kefu sustains.",
)
@click.option("--duration-scale", default=1.0, show_default=True, type=float)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
def replay_overload(
    factor: float, duration_scale: float, seed: int, json_out: Path | None
) -> None:
    """Arrivals at twice what kefu sustains: shed fast, serve the rest, lose nothing."""
    import asyncio
    import json

    from kefu.simulator import replay as sim

    scenario = sim.Scenario(seed=seed).scaled(duration_scale)
    report = asyncio.run(sim.replay_overload(scenario, factor))
    click.echo(json.dumps(report, indent=2))
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2))


@main.command()
@click.argument(
    "which",
    type=click.Choice(["contacts", "messages", "connections", "routing", "all"]),
)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
@click.option(
    "--seconds",
    default=5.0,
    show_default=True,
    type=float,
    help="Length of each fixed-rate step and of each routing measurement.",
)
@click.option(
    "--connections",
    "connection_count",
    default=10_000,
    show_default=True,
    type=int,
    help="Idle WebSockets to open in the connections benchmark.",
)
@click.option(
    "--routing-agents",
    default="1000,10000,100000",
    show_default=True,
    help="Agent counts of the routing benchmark, comma-separated.",
)
def bench(
    which: str,
    json_out: Path | None,
    seconds: float,
    connection_count: int,
    routing_agents: str,
) -> None:
    """Measure kefu's hot paths against bare limits, on loopback, open loop."""
    import json
    import logging

    import uvloop

    from kefu.observability.logging import configure
    from kefu.simulator.bench import suite

    # Which benchmarks, at which sizes.
    try:
        agents = tuple(int(n) for n in routing_agents.split(",") if n.strip())
    except ValueError:
        raise click.BadParameter(
            "a comma-separated list of integers", param_hint="--routing-agents"
        ) from None
    options = suite.Options(
        names=suite.NAMES if which == "all" else (which,),
        seconds=seconds,
        connections=connection_count,
        routing_agents=agents,
        routing_main=10_000 if 10_000 in agents else agents[0],
    )

    # Run them (progress on stderr), then print the table and write the JSON.
    configure("info")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    report = uvloop.run(suite.run(options))
    click.echo(suite.table(report))
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2))


def _store_options(command: Any) -> Any:
    """--data-dir and --store-url, as ``kefu serve`` takes them."""
    command = click.option("--store-url", envvar="KEFU_STORE_URL", default=None)(
        command
    )
    return click.option(
        "--data-dir",
        default="./kefu-data",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KEFU_DATA_DIR",
    )(command)


def _on_store(data_dir: Path, store_url: str | None, work: Any) -> Any:
    """Run ``work(store)`` on the store; an AdminError becomes a usage message."""
    import asyncio

    from kefu.admin import AdminError, open_store

    async def run() -> Any:
        async with open_store(data_dir, store_url) as store:
            return await work(store)

    try:
        return asyncio.run(run())
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def agents() -> None:
    """Manage agents (supervisors and admins are agents with a role)."""


@agents.command("add")
@click.argument("agent_id")
@click.option("--name", required=True)
@click.option("--capacity", default=5, show_default=True, type=int)
@click.option(
    "--skills",
    default="general",
    show_default=True,
    help="Comma-separated skill groups.",
)
@click.option(
    "--role",
    default="agent",
    show_default=True,
    type=click.Choice(["agent", "supervisor", "admin"]),
)
@click.password_option("--password", envvar="KEFU_NEW_AGENT_PASSWORD")
@_store_options
def agents_add(
    agent_id: str,
    name: str,
    capacity: int,
    skills: str,
    role: str,
    password: str,
    data_dir: Path,
    store_url: str | None,
) -> None:
    """Create an agent."""
    from kefu import admin

    groups = [s.strip() for s in skills.split(",") if s.strip()]
    _on_store(
        data_dir,
        store_url,
        lambda store: admin.add_agent(
            store, agent_id, name, password, capacity, groups, role
        ),
    )
    click.echo(f"added {agent_id}")


@agents.command("list")
@_store_options
def agents_list(data_dir: Path, store_url: str | None) -> None:
    """List agents."""
    for a in _on_store(data_dir, store_url, lambda store: store.list_agents()):
        state = "disabled" if a.disabled else "active"
        click.echo(
            f"{a.id}\t{a.name}\t{a.role}\tcapacity={a.capacity}\t"
            f"skills={','.join(a.skills)}\t{state}"
        )


@agents.command("disable")
@click.argument("agent_id")
@_store_options
def agents_disable(agent_id: str, data_dir: Path, store_url: str | None) -> None:
    """Refuse an agent's logins and void their tokens."""
    from kefu import admin

    _on_store(data_dir, store_url, lambda store: admin.disable_agent(store, agent_id))
    click.echo(f"disabled {agent_id}")


@main.group()
def groups() -> None:
    """Manage skill groups."""


@groups.command("add")
@click.argument("name")
@_store_options
def groups_add(name: str, data_dir: Path, store_url: str | None) -> None:
    """Create a skill group."""
    from kefu import admin

    _on_store(data_dir, store_url, lambda store: admin.add_group(store, name))
    click.echo(f"added {name}")


@groups.command("list")
@_store_options
def groups_list(data_dir: Path, store_url: str | None) -> None:
    """List skill groups."""
    for name in _on_store(data_dir, store_url, lambda store: store.list_groups()):
        click.echo(name)


@main.command("migrate")
@_store_options
def migrate_store(data_dir: Path, store_url: str | None) -> None:
    """Bring the store's schema to the one this kefu needs."""
    from sqlalchemy import create_engine

    from kefu.backends import migrate
    from kefu.backends.sql import engine_url, sqlite_url

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(engine_url(store_url or sqlite_url(data_dir)))
    try:
        with engine.begin() as connection:
            before = migrate.current(connection)
            migrate.upgrade(connection)
            after = migrate.current(connection)
    finally:
        engine.dispose()
    click.echo(f"schema: {before or 'empty'} -> {after}")
