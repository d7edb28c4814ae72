"""The container healthcheck of the Tocsin image: cheap, and about the service it runs.

``python /usr/local/bin/tocsin-healthcheck [TOCSIN ARGS...]``; without arguments it reads
what the container runs from ``/proc/1/cmdline`` (the ``tocsin`` entry point is PID 1).

- ``serve api`` and ``run`` (which includes the API): ``GET /healthz`` on the configured API
  port answers 200 within 3 s.
- every other service (poller, enricher, rules, notifier; they serve no HTTP): the event log
  they were configured with is reachable: a TCP connect to one of the ``kafka://`` bootstrap
  servers, or the ``sqlite://`` file's folder is writable.

Why not ``tocsin log stats``: it starts the whole CLI, bootstraps a Kafka admin client and
lists every group's lag, a second or more of CPU per check and per container, and it
answers "is the broker up", not "is this service up". The log check here costs one
settings load and one socket. A worker that cannot reach its log is reported unhealthy but
keeps running and retrying (which is what it should do); orchestrators should use this as
readiness, not as a reason to kill it (deploy/k8s does exactly that).

Exit 0 = healthy, 1 = unhealthy (one line on stdout says why, for ``docker inspect``).
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Options of ``tocsin run`` / ``tocsin serve`` that take a value (so it is not a positional).
_VALUE_OPTIONS = {"--config", "--log", "--status-every"}
TIMEOUT_S = 3.0


def tocsin_args(cmdline: bytes) -> list[str]:
    """The arguments after the ``tocsin`` executable in a NUL-separated command line."""
    parts = [p.decode("utf-8", "replace") for p in cmdline.split(b"\0") if p]
    for index, part in enumerate(parts):
        if Path(part).name == "tocsin":
            return parts[index + 1 :]
    return parts


def positionals(args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _VALUE_OPTIONS
        else:
            out.append(arg)
    return out


def option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def serves_api(args: list[str]) -> bool:
    words = positionals(args)
    return words[:1] == ["run"] or words[:2] == ["serve", "api"]


def check_http(port: int) -> str | None:
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            if response.status == 200:
                return None
            return f"{url} answered {response.status}"
    except (OSError, urllib.error.URLError) as exc:
        return f"{url}: {exc}"


def check_log(url: str) -> str | None:
    parts = urlsplit(url)
    checks: dict[str, Callable[[str], str | None]] = {
        "kafka": _check_kafka,
        "sqlite": _check_sqlite,
        "memory": _check_nothing,
    }
    check = checks.get(parts.scheme)
    return check(url) if check else f"unknown log URL scheme {parts.scheme!r}"


def _check_nothing(url: str) -> str | None:
    return None


def _check_kafka(url: str) -> str | None:
    errors = []
    for server in urlsplit(url).netloc.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=TIMEOUT_S):
                return None
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {exc}")
    return "no Kafka bootstrap server answers: " + "; ".join(errors)


def _check_sqlite(url: str) -> str | None:
    path = unquote(urlsplit(url).path)
    path = path[1:] if path.startswith("/") else path  # sqlite:////abs, sqlite:///relative
    folder = Path(path).parent
    problem = None
    if not folder.is_dir():
        problem = f"the log's folder {folder} does not exist"
    elif not os.access(folder, os.W_OK):
        problem = f"the log's folder {folder} is not writable"
    elif Path(path).exists() and not os.access(path, os.W_OK):
        problem = f"the log file {path} is not writable"
    return problem


def main(argv: list[str]) -> int:
    args = argv or tocsin_args(Path("/proc/1/cmdline").read_bytes())
    # The real settings resolution (config file, TOCSIN_* variables), as the service sees it.
    from services.runtime.settings import ConfigError, load_settings

    config = option(args, "--config")
    try:
        settings = load_settings(Path(config) if config else None, log=option(args, "--log"))
    except ConfigError as exc:
        print(f"unhealthy: {exc}")
        return 1
    problem = check_http(settings.api.port) if serves_api(args) else check_log(settings.log)
    if problem:
        print(f"unhealthy: {problem}")
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
