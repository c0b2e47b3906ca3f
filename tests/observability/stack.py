"""Prometheus, Alertmanager and a stand-in PagerDuty, run on loopback for tests."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.kefu_client import free_port
from tests.observability.tools import (
    ALERT_RULES,
    ALERTMANAGER_CONFIG,
    RECORDING_RULES,
    load_yaml,
)

#: Alerts' ``for:`` durations in the test copy of alerts.yml.
TEST_FOR = "2s"

#: How long Prometheus or Alertmanager may take to answer ``/-/ready``.
READY_TIMEOUT_S = 15.0


@dataclass
class Received:
    """One request the stand-in receiver got."""

    path: str
    body: Any


class Receiver:
    """An HTTP server on 127.0.0.1 that records every JSON POST it receives.

    It answers like PagerDuty's Events API v2 (202 and a JSON status), so it
    stands in for PagerDuty as well as for the warnings webhook.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver.received.append(Received(self.path, body))
                reply = b'{"status": "success", "message": "Event processed"}'
                self.send_response(202)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def bodies(self, path: str) -> list[Any]:
        """The JSON bodies posted to ``path`` so far, oldest first."""
        with self._lock:
            return [r.body for r in self.received if r.path == path]


@dataclass
class Process:
    """A tool running as a subprocess with its output in a log file."""

    name: str
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log_path.read_text(errors="replace")
        return f"--- {self.name} log ---\n{text[-chars:]}"

    def wait_ready(self, url: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Poll ``url`` until it answers 200; fail if the process exits first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout_s}s\n{self.log_tail()}")


def alertmanager_config(receiver: Receiver, key_file: Path) -> dict[str, Any]:
    """The real alertmanager.yml, with PagerDuty and the webhook on ``receiver``."""
    config: dict[str, Any] = load_yaml(ALERTMANAGER_CONFIG)
    # Send at once instead of batching for half a minute.
    config["route"].update(group_wait="1s", group_interval="1s")
    for entry in config["receivers"]:
        for pagerduty in entry.get("pagerduty_configs", []):
            pagerduty["url"] = f"{receiver.url}/v2/enqueue"
            pagerduty["routing_key_file"] = str(key_file)
        for webhook in entry.get("webhook_configs", []):
            webhook["url"] = f"{receiver.url}/warnings"
    return config


def fast_alert_rules() -> dict[str, Any]:
    """The real alerts.yml with every ``for:`` shortened to :data:`TEST_FOR`."""
    rules: dict[str, Any] = load_yaml(ALERT_RULES)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = TEST_FOR
    return rules


def prometheus_config(
    kefu_port: int, alertmanager_port: int, rule_files: list[Path]
) -> dict[str, Any]:
    """Scrape and evaluate every second; alert to the local Alertmanager."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}
            ]
        },
        "scrape_configs": [
            {
                "job_name": "kefu",
                "static_configs": [{"targets": [f"127.0.0.1:{kefu_port}"]}],
            }
        ],
    }


@contextlib.contextmanager
def alerting_stack(
    workdir: Path,
    kefu_port: int,
    prometheus_bin: str,
    alertmanager_bin: str,
    routing_key: str,
) -> Iterator[tuple[Receiver, str]]:
    """Receiver, Alertmanager and Prometheus watching kefu; all stopped on exit.

    Yields the receiver and Prometheus's base URL.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    key_file = workdir / "pagerduty_routing_key"
    key_file.write_text(routing_key)
    key_file.chmod(0o600)
    receiver = Receiver()
    processes: list[Process] = []
    try:
        receiver.start()

        # Alertmanager: the real routing tree, receivers pointed at loopback.
        am_port = free_port()
        am_config = workdir / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(alertmanager_config(receiver, key_file)))
        alertmanager = Process(
            "alertmanager",
            [
                alertmanager_bin,
                f"--config.file={am_config}",
                f"--storage.path={workdir / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            workdir / "alertmanager.log",
        )
        processes.append(alertmanager)
        alertmanager.start()
        alertmanager.wait_ready(f"http://127.0.0.1:{am_port}/-/ready")

        # Prometheus: the real recording rules, alerts with short `for:`.
        alerts = workdir / "alerts.yml"
        alerts.write_text(yaml.safe_dump(fast_alert_rules(), sort_keys=False))
        prom_port = free_port()
        prom_config = workdir / "prometheus.yml"
        prom_config.write_text(
            yaml.safe_dump(
                prometheus_config(kefu_port, am_port, [RECORDING_RULES, alerts])
            )
        )
        prometheus = Process(
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            workdir / "prometheus.log",
        )
        processes.append(prometheus)
        prometheus.start()
        prom_url = f"http://127.0.0.1:{prom_port}"
        prometheus.wait_ready(f"{prom_url}/-/ready")
        yield receiver, prom_url
    except BaseException:
        for process in processes:
            if process.log_path.exists():
                print(process.log_tail())
        raise
    finally:
        for process in reversed(processes):
            process.stop()
        receiver.stop()


def query(prom_url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    r = httpx.get(f"{prom_url}/api/v1/query", params={"query": promql}, timeout=5)
    r.raise_for_status()
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return result


def mentions(text: str, *words: str) -> bool:
    """Whether ``text`` contains every word, as a whole word."""
    return all(re.search(rf"\b{re.escape(w)}\b", text) for w in words)
