"""Logging for every ``tocsin`` process: one format, the level from ``TOCSIN_LOG_LEVEL``, and
no outgoing request's URL beyond its origin.

Why the last: httpx logs each request at INFO (``HTTP Request: POST <URL> "HTTP/1.1 200
OK"``), with the whole URL, and the URLs Tocsin calls carry credentials: Slack and
Mattermost hooks in their path, webhook and private feed keys in their query. Deployments
log at INFO (``deploy/``). The line stays, useful as it is, with the URL cut to
``scheme://host:port``.
"""

from __future__ import annotations

import logging
import os

from services.runtime.redact import origin

__all__ = ["OriginOnly", "configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OriginOnly(logging.Filter):
    """Cuts every URL among a record's arguments to its origin (httpx passes them as
    ``httpx.URL``), before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        import httpx  # a record of httpx's logger: imported already

        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            record.args = tuple(origin(a) if isinstance(a, httpx.URL) else a for a in args)
        return True


def configure_logging(level: str | None = None) -> None:
    """Sets up the root logger (``level``, else ``TOCSIN_LOG_LEVEL``, else WARNING) and puts
    ``OriginOnly`` on httpx's logger (once)."""
    logging.basicConfig(
        level=(level or os.environ.get("TOCSIN_LOG_LEVEL") or "WARNING").upper(), format=_FORMAT
    )
    http = logging.getLogger("httpx")
    if not any(isinstance(f, OriginOnly) for f in http.filters):
        http.addFilter(OriginOnly())
