"""``tocsin run --processes``: each service in a process of its own, under one command that
behaves like ``tocsin run`` (the pipeline works, Ctrl-C stops everything) and never leaves
a service behind: not when one dies, not when the supervisor itself is killed."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_setup import TOCSIN, Console, write_config

from services.cli.run_commands import pipeline
from services.eventlog import open_log

SAMPLE = Path(__file__).resolve().parents[3] / "services/poller/data/sample/tocsin-sample-feed.xml"
PROCESSES_LINE = re.compile(r"tocsin: \d+ processes \((.*)\) on ")


class Run:
    """A ``tocsin run --processes`` started in the background, its console read line by line."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "tocsin.db"
        config = write_config(
            tmp_path / "tocsin.yaml",
            log=f"sqlite:///{self.db}",
            sources=[{"id": "sample", "kind": "feed", "url": str(SAMPLE)}],
            api={"port": 0, "read_model": str(tmp_path / "read.db")},
        )
        self.console = Console(config, tmp_path, "--processes")
        self.proc = self.console.proc
        self.children: dict[str, int] = {}
        self.dashboard = ""

    def wait_started(self) -> None:
        found = PROCESSES_LINE.search(self.console.read_until(" processes ("))
        assert found is not None
        for part in found.group(1).split(", "):
            name, pid = part.split()
            self.children[name] = int(pid)
        _, self.dashboard = self.console.dashboard()

    def finish(self, timeout: float = 60) -> str:
        return self.console.finish(timeout)

    def kill(self) -> None:
        self.console.kill()
        for pid in self.children.values():
            if alive(pid):
                subprocess.run(["kill", "-9", str(pid)], check=False)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    started = Run(tmp_path)
    try:
        yield started
    finally:
        started.kill()


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_gone(pids: list[int], timeout: float = 45) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def alerts_on_log(db: Path) -> int:
    log = open_log(f"sqlite:///{db}")
    try:
        ends = log.end_offsets(["alerts.raised"])
        return sum(ends.values())
    finally:
        log.close()


def test_each_service_in_its_own_process_and_ctrl_c_stops_them_all(run: Run) -> None:
    run.wait_started()
    assert sorted(run.children) == sorted(pipeline())
    for name, pid in run.children.items():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert [b"serve", name.encode()] == cmdline[cmdline.index(b"serve") :][:2]
    assert len(set(run.children.values())) == len(run.children)
    assert httpx.get(run.dashboard + "healthz", timeout=10).status_code == 200
    deadline = time.monotonic() + 60
    while alerts_on_log(run.db) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert alerts_on_log(run.db) >= 3  # the sample's three alerts: the pipeline flowed
    output = run.console.interrupt()
    assert "Fatal Python error" not in output
    for name in run.children:
        assert f"tocsin: {name} stopped" in output
    assert wait_gone(list(run.children.values())) == []


def test_a_service_dying_stops_the_others_and_fails_the_run(run: Run) -> None:
    run.wait_started()
    subprocess.run(["kill", "-9", str(run.children["notifier"])], check=True)
    output = run.finish()
    assert run.proc.returncode == 1
    assert "service notifier exited with status -9; the others were stopped" in output
    assert wait_gone(list(run.children.values())) == []


def test_the_services_stop_when_the_supervisor_is_killed(run: Run) -> None:
    run.wait_started()
    run.proc.kill()  # SIGKILL: no chance to stop its children itself
    run.proc.wait()
    assert wait_gone(list(run.children.values())) == []


def test_until_idle_is_refused_with_processes(tmp_path: Path) -> None:
    done = subprocess.run(
        [TOCSIN, "run", "--processes", "--until-idle", "--log", f"sqlite:///{tmp_path}/x.db"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    message = " ".join(re.sub("[\u2500-\u257f]", " ", done.stderr).split())  # no box
    assert "--until-idle runs the services in this process, pass after pass" in message
    assert not (tmp_path / "x.db").exists()


def test_a_service_that_cannot_start_takes_the_started_ones_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.cli import supervisor

    commands = {
        "first": [sys.executable, "-c", "import time; time.sleep(60)"],
        "second": ["/nonexistent/tocsin-binary"],
    }
    monkeypatch.setattr(supervisor, "child_command", lambda name, *_: commands[name])
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        return process  # type: ignore[no-any-return]

    monkeypatch.setattr(supervisor.subprocess, "Popen", recording_popen)
    with pytest.raises(FileNotFoundError):
        supervisor.start(["first", "second"], None, None)
    (first,) = started
    assert first.poll() is not None  # stopped, not left running
