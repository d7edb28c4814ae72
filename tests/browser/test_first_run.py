"""A new user's first `tocsin run` without internet, seen in headless Chromium: the console
names the dashboard and the file of its token, the user signs in with it, the bundled
offline sample's alerts are there (the founding one among them), the operations page lists
the source that cannot be reached as failing with its error, and Ctrl-C stops it cleanly.

The source "without internet" is a closed port on 127.0.0.1 (refused, as an unreachable
publisher is); nothing here leaves this machine. Needs `apt-get install -y chromium`."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from chromium import CHROMIUM, chromium_page, sign_in
from cli_setup import Console, write_config

import services.poller

SAMPLE = Path(services.poller.__file__).parent / "data" / "sample" / "tocsin-sample-feed.xml"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium"
    ),
]
pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again once the with ends: connections refused


def test_first_run_offline_shows_alerts_and_the_failing_source(tmp_path: Path) -> None:
    offline = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    config = write_config(
        tmp_path / "tocsin.yaml",
        log=f"sqlite:///{tmp_path}/data/tocsin.db",
        sources=[
            {"id": "tocsin-sample", "kind": "feed", "url": str(SAMPLE), "every": "1h"},
            {"id": "regional-news", "kind": "feed", "url": offline, "every": "30s"},
        ],
        api={"port": 0, "read_model": str(tmp_path / "data" / "read.db")},
    )
    console = Console(config, tmp_path)
    try:
        announced, url = console.dashboard()
        token_file = tmp_path / "data" / "api-token"
        assert f"sign in with the token in {token_file}" in announced
        token = token_file.read_text(encoding="utf-8").strip()

        with chromium_page() as (page, errors):
            page.goto(url + "ui")
            page.wait_for_url("**/ui/login")
            sign_in(page, url, token)

            # the sample's alerts, projected while the user signed in
            founding = "Armenia, Azerbaijan and the CSTO named together"
            for _ in range(60):
                if founding in page.locator("#alerts").inner_text():
                    break
                time.sleep(0.5)
                page.reload()
            assert founding in page.locator("#alerts").inner_text()
            assert page.locator("#alerts tbody tr").count() >= 2
            # the alerts page says that a source fails, and links to the details
            for _ in range(60):
                if page.locator("#failing-sources").count():
                    break
                time.sleep(0.5)
                page.reload()
            banner = page.locator("#failing-sources")
            assert banner.inner_text() == "1 of 2 sources failing: regional-news"
            assert banner.locator("a").get_attribute("href") == "/ui/ops"

            # the unreachable source: listed first, as failing, with its error
            for _ in range(60):
                page.goto(url + "ui/ops")
                failing = page.locator("#sources tr.failing")
                if failing.count():
                    break
                time.sleep(0.5)
            assert failing.count() == 1
            row = failing.first.inner_text()
            assert "regional-news" in row and "ConnectError" in row, row
            first = page.locator("#sources tbody tr").first.inner_text()
            assert first.startswith("regional-news"), first
            sample = page.locator("#sources tbody tr", has_text="tocsin-sample")
            assert sample.count() == 1
            assert "failing" not in (sample.get_attribute("class") or "")
            assert errors == [], f"script errors: {errors}"

        output = console.interrupt()
        assert token not in output
    finally:
        console.kill()
