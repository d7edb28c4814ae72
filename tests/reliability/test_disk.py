"""A full disk or a read-only data folder at start: ``tocsin run`` stops with one clear line
(exit 2, no traceback), the log is not damaged, and a run after the disk is fixed goes on.

A real small filesystem, not a simulation: a 32 MiB tmpfs mounted over the data folder (and
remounted read-only for the second case). That needs root with CAP_SYS_ADMIN (the CI image
runs as root); elsewhere the tests skip and say why. (``chmod`` is no test for root, who
writes through permissions.)
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability import TOCSIN, Receiver, census, clean_env, write_articles, write_config

from services.eventlog import open_log


@pytest.fixture
def data_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _run(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TOCSIN, "run", "--until-idle", "--status-every", "0", "--config", str(config)],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _setup(corpus: Path, tmp_path: Path, data: Path, rx: Receiver) -> tuple[str, Path, Path]:
    """A first run of 100 articles on the small filesystem; the config then points at 300."""
    articles = tmp_path / "articles.jsonl"
    write_articles(corpus, 300, articles)
    first = tmp_path / "first.jsonl"
    first.write_text("".join(articles.read_text().splitlines(keepends=True)[:100]))
    log = f"sqlite:///{data}/tocsin.db"
    config = write_config(tmp_path, log=log, articles=first, receiver_url=rx.url)
    config.write_text(config.read_text().replace(str(tmp_path / "read.db"), str(data / "read.db")))
    done = _run(config, tmp_path)
    assert done.returncode == 0, done.stderr
    config.write_text(config.read_text().replace(str(first), str(articles)))
    return log, config, data / "tocsin.db"


def _intact(db: Path) -> None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _clear_failure(done: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [x for x in done.stderr.splitlines() if x.startswith("tocsin: ") and "error" in x]
    assert lines, done.stderr
    assert any(all(p in line for p in phrases) for line in lines), done.stderr


def test_a_full_disk_at_start_is_a_clear_error_and_damages_nothing(
    corpus: Path, tmp_path: Path, data_fs: Path
) -> None:
    with Receiver() as rx:
        log, config, db = _setup(corpus, tmp_path, data_fs, rx)
        with open_log(log) as elog:
            before = census(elog)
        filler = data_fs / "filler"
        with filler.open("wb", buffering=0) as handle:  # fill the filesystem to the last byte
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        _clear_failure(_run(config, tmp_path), "disk", "full")
        filler.unlink()
        _intact(db)
        with open_log(log) as elog:
            after = census(elog)
        assert after.published == before.published and after.alert_events == before.alert_events
        # with space again, the same command picks up where the log stands
        done = _run(config, tmp_path)
        assert done.returncode == 0, done.stderr
        with open_log(log) as elog:
            resumed = census(elog)
    assert len(resumed.published) == 300 and set(resumed.published.values()) == {1}
    assert len(resumed.enriched) == 300 and set(resumed.alert_events.values()) == {1}


def test_a_read_only_data_folder_at_start_is_a_clear_error(
    corpus: Path, tmp_path: Path, data_fs: Path
) -> None:
    with Receiver() as rx:
        log, config, db = _setup(corpus, tmp_path, data_fs, rx)
        with open_log(log) as elog:
            before = census(elog)
        subprocess.run(["mount", "-o", "remount,ro", str(data_fs)], check=True)
        try:
            _clear_failure(_run(config, tmp_path), "cannot write the database", "permissions")
            fresh = config.read_text().replace("tocsin.db", "fresh.db")
            (tmp_path / "fresh.yaml").write_text(fresh)
            _clear_failure(_run(tmp_path / "fresh.yaml", tmp_path), "cannot write the database")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(data_fs)], check=True)
        _intact(db)
        with open_log(log) as elog:
            after = census(elog)
        assert after.published == before.published and after.alert_events == before.alert_events
        done = _run(config, tmp_path)
        assert done.returncode == 0, done.stderr
