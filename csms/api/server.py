"""uvicorn serving the HTTP API in the CSMS's own event loop (csms.app starts and stops it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import structlog
import uvicorn

if TYPE_CHECKING:
    from csms.app import Csms

log = structlog.get_logger(__name__)


class ApiServer:
    """uvicorn serving the HTTP API in this event loop; signals stay with the CSMS."""

    def __init__(self, server: _QuietServer, task: asyncio.Task[None]) -> None:
        self._server = server
        self._task = task

    @classmethod
    async def start(cls, csms: Csms) -> ApiServer:
        from csms.api.app import create_app

        s = csms.settings.api
        proxies = csms.settings.server.trusted_proxies  # csms.handlers.forwarded
        config = uvicorn.Config(create_app(csms), host=s.host, port=s.port, lifespan="off",
                                log_config=None, access_log=False, server_header=False,
                                proxy_headers=bool(proxies), forwarded_allow_ips=proxies)
        server = _QuietServer(config)
        task = asyncio.create_task(server.serve(), name="http-api")
        while not server.started:
            if task.done():
                await task  # raises the start-up error (port in use, ...)
                raise RuntimeError("the HTTP API stopped during start-up")
            await asyncio.sleep(0.01)  # uvicorn offers no start-up event to await
        log.info("api.listening", host=s.host, port=cls._bound_port(server))
        return cls(server, task)

    @property
    def port(self) -> int:
        return self._bound_port(self._server)

    @staticmethod
    def _bound_port(server: uvicorn.Server) -> int:
        return int(server.servers[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        self._server.exit_requested.set()
        await self._task


class _QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_requested = asyncio.Event()

    async def main_loop(self) -> None:
        """uvicorn's loop (date header once a second, exit checks), woken at once by
        :meth:`ApiServer.stop` instead of noticing it within 0.1 s."""
        while not await self.on_tick(0):
            with suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.exit_requested.wait()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # SIGINT/SIGTERM are the CSMS's to handle (serve_forever)
