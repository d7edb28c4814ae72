"""What tests of the ``tocsin`` command start from: the installed command, a one-article
JSONL source, a config file, and ``tocsin run`` in the background with its console."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

#: The ``tocsin`` script of the interpreter running the tests (its venv's).
TOCSIN = str(Path(sys.executable).parent / "tocsin")


def one_article_jsonl(
    folder: Path, title: str = "Armenia and Azerbaijan", body: str = "Talks."
) -> Path:
    """A JSONL source holding one article, as ``articles.jsonl`` in ``folder``."""
    path = folder / "articles.jsonl"
    path.write_text(json.dumps({"id": "1", "title": title, "body": body}) + "\n", encoding="utf-8")
    return path


def write_config(path: Path, **values: Any) -> Path:
    """``values`` as a YAML config file at ``path``."""
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


class Console:
    """``tocsin run`` (with ``options``, such as ``--processes``) started in the background
    on ``config``, its console (stderr) read line by line. ``kill`` it in a ``finally``."""

    def __init__(self, config: Path, cwd: Path, *options: str) -> None:
        self.proc = subprocess.Popen(
            [TOCSIN, "run", *options, "--status-every", "0", "--config", str(config)],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def read_until(self, marker: str, timeout: float = 60) -> str:
        """The first line from here on holding ``marker``; fails with what was read."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if marker in line:
                return line
        raise AssertionError(f"no {marker!r} in:\n{''.join(self.lines)}")

    def dashboard(self) -> tuple[str, str]:
        """The line announcing the dashboard, and the dashboard's URL in it."""
        line = self.read_until("dashboard on ")
        return line, line.split("dashboard on ", 1)[1].split()[0]

    def finish(self, timeout: float = 60) -> str:
        """Waits for the end of the run; the whole console."""
        _, rest = self.proc.communicate(timeout=timeout)
        return "".join(self.lines) + rest

    def interrupt(self, timeout: float = 60) -> str:
        """Ctrl-C, as at a terminal: the run must end with status 0 and no traceback; the
        whole console."""
        self.proc.send_signal(signal.SIGINT)
        output = self.finish(timeout)
        assert self.proc.returncode == 0, output[-3000:]
        assert "Traceback" not in output
        return output

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
