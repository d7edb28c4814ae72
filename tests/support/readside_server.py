"""A real Tocsin API on 127.0.0.1 for tests: uvicorn in a thread, projections in another,
over a sqlite log in a temporary directory. Started and stopped by the test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from waiting import wait_until

from services.api.app import create_app
from services.api.settings import ApiConfig, ApiToken
from services.eventlog import EventLog, open_log
from services.projections.loop import projection_loop
from services.projections.store import ReadModel
from services.runtime.bootstrap import tocsin_topics
from services.runtime.settings import RuntimeSettings, Settings

WRITE_TOKEN = "w-token-0123456789abcdef"
READ_TOKEN = "r-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp: Path) -> Settings:
    return Settings(
        log=f"sqlite:///{tmp}/log.db", runtime=RuntimeSettings(batch_size=200, poll_timeout_s=0.05)
    )


def make_config(tmp: Path, **overrides: object) -> ApiConfig:
    values: dict[str, object] = {
        "read_model": tmp / "read.db",
        "tokens": (
            ApiToken(name="ana", token=WRITE_TOKEN, scopes=("read", "write")),  # type: ignore[arg-type]
            ApiToken(name="viewer", token=READ_TOKEN, scopes=("read",)),  # type: ignore[arg-type]
        ),
    }
    values.update(overrides)
    return ApiConfig(**values)  # type: ignore[arg-type]


def open_test_log(settings: Settings) -> EventLog:
    log = open_log(settings.log)
    log.create_topics(tocsin_topics(settings))
    return log


def project(settings: Settings, log: EventLog, path: Path) -> None:
    """Bring the read model up to date with the log, now."""
    with ReadModel(path) as store:
        loop = projection_loop(settings, log, store)
        try:
            loop.run_until_idle()
        finally:
            loop.close()


@dataclass
class LiveServer:
    url: str
    settings: Settings
    log: EventLog
    config: ApiConfig


@contextmanager
def live_server(tmp: Path, **overrides: object) -> Iterator[LiveServer]:
    settings = make_settings(tmp)
    config = make_config(tmp, **overrides)
    log = open_test_log(settings)
    stop = threading.Event()
    store = ReadModel(config.read_model)
    loop = projection_loop(settings, log, store, stop=stop)
    projector = threading.Thread(target=loop.run, daemon=True)
    projector.start()
    app = create_app(config, settings, log)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    assert app.state.feed.ready.wait(10), "the alert feed did not start"
    try:
        yield LiveServer(url, settings, log, config)
    finally:
        server.should_exit = True
        thread.join(10)
        stop.set()
        projector.join(10)
        store.close()
        log.close()


def wait_found(http: httpx.Client, path: str, what: str) -> None:
    """Until ``GET path`` stops answering 404: the live server's projection has read what
    was just appended to the log (``what`` names it in the failure)."""
    wait_until(lambda: http.get(path).status_code != 404, what, timeout_s=10, every_s=0.05)
