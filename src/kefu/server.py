"""Running kefu under uvicorn, with a drain that closes WebSockets with 1001."""

from __future__ import annotations

import asyncio
import logging
from types import FrameType

import uvicorn

from kefu.config import Settings
from kefu.observability import tracing
from kefu.observability.logging import configure
from kefu.service import Kefu

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, but a stop signal first drains kefu's own sockets.

    uvicorn would close open WebSockets with 1012; kefu closes them with 1001
    (going away) and only then lets uvicorn finish in-flight requests and run
    the shutdown that flushes the store.
    """

    def __init__(self, config: uvicorn.Config, kefu: Kefu) -> None:
        super().__init__(config)
        self.kefu = kefu
        self._stopping = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._stopping:
            super().handle_exit(sig, frame)
            return
        self._stopping = True
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(self._drain_then_exit, sig, frame)

    def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        async def run() -> None:
            logger.info("stop signal: draining")
            await self.kefu.drain()
            super(_Server, self).handle_exit(sig, frame)
            # uvicorn would re-raise the signal once stopped, so that the
            # process dies of it; kefu's drain is complete, so it exits 0.
            self._captured_signals.clear()

        self._drain_task = asyncio.ensure_future(run())

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)  # type: ignore[arg-type]
        if self.started:
            logger.info(
                "listening",
                extra={"url": f"http://{self.config.host}:{self.config.port}"},
            )


def serve(settings: Settings) -> None:
    """Run kefu in this process until SIGINT or SIGTERM."""
    configure(settings.log_level)
    tracing.configure(settings.otlp_endpoint)
    kefu = Kefu(settings)
    config = uvicorn.Config(
        kefu.app,
        host=settings.host,
        port=settings.port,
        loop="auto",
        http="auto",
        ws="auto",
        ws_max_size=settings.limits.max_frame_bytes,
        lifespan="on",
        access_log=settings.access_log,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    _Server(config, kefu).run()
