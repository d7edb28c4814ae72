"""The ``api`` service: uvicorn serving the app on ``api.host:api.port``, with the
projections running alongside in a thread, both stopped by ``context.stop``.

``run_until_idle`` only projects: it brings the read model up to date and returns.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import uvicorn

from services.api.app import create_app
from services.api.local_token import with_local_token
from services.api.settings import ApiConfig
from services.projections.loop import ProjectionLoop, projection_loop
from services.projections.store import ReadModel
from services.runtime.bootstrap import group
from services.runtime.service import Service, ServiceContext

log = logging.getLogger(__name__)


class ApiService:
    name = "api"

    def __init__(self, context: ServiceContext, config: ApiConfig) -> None:
        self.context = context
        self.config = config
        #: Set once the server listens; ``url`` is then where (the real port when 0 was asked).
        self.listening = threading.Event()
        self.url: str | None = None
        #: The file holding the dashboard's token when the config names none (``local_token``)
        self.token_file: Path | None = None

    def _loop(self, store: ReadModel) -> ProjectionLoop:
        return projection_loop(
            self.context.settings,
            self.context.log,
            store,
            group=group(self.context.settings, self.config.projections_group),
            stop=self.context.stop,
            metrics=self.context.metrics,
        )

    def run_until_idle(self) -> None:
        with ReadModel(self.config.read_model) as store:
            loop = self._loop(store)
            try:
                loop.run_until_idle()
            finally:
                loop.close()

    def run(self) -> None:
        stop = self.context.stop
        store = ReadModel(self.config.read_model)
        config, self.token_file = with_local_token(self.config)
        projector = threading.Thread(target=self._project, args=(store,), name="tocsin-projections")
        projector.start()
        app = create_app(
            config,
            self.context.settings,
            self.context.log,
            clock=self.context.clock,
            metrics=self.context.metrics,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=self.config.host,
                port=self.config.port,
                log_level="warning",
                access_log=False,
            )
        )

        # uvicorn handles SIGINT/SIGTERM itself (from the main thread) and passes them on to
        # the handlers it found, which set ``stop``; a stop from elsewhere ends the server too.
        def watch() -> None:
            while not server.started and not stop.wait(0.05):
                pass
            if server.started:
                self.url = _url(server, self.config.host)
                self.listening.set()
            stop.wait()
            server.should_exit = True

        threading.Thread(target=watch, name="tocsin-api-stop", daemon=True).start()
        try:
            server.run()
        finally:
            stop.set()
            projector.join()
            store.close()

    def _project(self, store: ReadModel) -> None:
        loop = self._loop(store)
        try:
            loop.run()
        except Exception:
            log.exception("projections stopped")
            self.context.stop.set()


def _url(server: uvicorn.Server, host: str) -> str:
    port = server.servers[0].sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def build(context: ServiceContext) -> Service:
    return ApiService(context, ApiConfig.from_settings(context.settings))
