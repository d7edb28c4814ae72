"""The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
it loads, a new alert appears live, hostile titles stay text, acknowledging changes the
status. Needs `apt-get install -y chromium`; skipped with a reason when it is absent."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import readside_events as ev
from chromium import CHROMIUM, chromium_page, sign_in
from readside_server import WRITE_TOKEN, LiveServer, live_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path) as srv:
        first = ev.article(1)
        ev.append(srv.log, [ev.published(first), ev.enriched(first), ev.raised(first)])
        yield srv


def test_dashboard_live_alerts_escaping_and_ack(server: LiveServer, tmp_path: Path) -> None:
    with chromium_page() as (page, errors):
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # sign in: the dashboard keeps the token in an HttpOnly cookie
        page.goto(server.url + "/ui")
        page.wait_for_url("**/ui/login")
        sign_in(page, server.url, WRITE_TOKEN)

        # the dashboard loads with the alert already raised (projected meanwhile)
        page.wait_for_selector("#live[data-state=open]")
        if page.locator("#alerts tbody tr").count() == 0:
            page.reload()
            page.wait_for_selector("#live[data-state=open]")
        assert page.locator("#alerts tbody tr").count() == 1

        # a new alert with a hostile title appears live, as text
        evil = ev.article(2, title="<img src=x onerror=alert(1)>")
        alert = ev.raised(evil)
        ev.append(server.log, [ev.published(evil), ev.enriched(evil), alert])
        row = page.locator(f'tr[data-alert-id="{alert.data.alert_id}"]')
        row.wait_for(timeout=10_000)
        assert row.locator("td.title").inner_text() == "<img src=x onerror=alert(1)>"
        assert page.locator("#alerts img").count() == 0
        assert page.locator("#alerts tbody tr").count() == 2

        # acknowledge it: an event on the log, back through the SSE feed
        status = row.locator("td.status")
        assert status.inner_text() == "open"
        # the projection must know the alert before the API accepts an ack
        for _ in range(100):
            row.locator("button[data-action=ack]").click()
            try:
                page.wait_for_function(
                    "id => document.querySelector(`tr[data-alert-id='${id}'] td.status`).textContent === 'acknowledged'",
                    arg=alert.data.alert_id,
                    timeout=300,
                )
                break
            except playwright_api.TimeoutError:
                continue
        assert status.inner_text() == "acknowledged"

        # after a reload the status comes from the read model
        page.reload()
        assert (
            page.locator(f'tr[data-alert-id="{alert.data.alert_id}"] td.status').inner_text()
            == "acknowledged"
        )
        assert "<img src=x onerror=alert(1)>" in page.locator("#alerts").inner_text()

        # the alert page shows the article text, escaped, evidence highlighted
        page.click(f'tr[data-alert-id="{alert.data.alert_id}"] td.title a')
        page.wait_for_selector("pre.text mark")
        assert page.locator("pre.text mark").first.inner_text() in ("Armenia", "CSTO")
        assert page.locator("article img").count() == 0

        page.goto(server.url + "/ui/ops")
        page.wait_for_selector("svg rect.bar", state="attached")
        page.goto(server.url + "/ui")
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        if os.environ.get("TOCSIN_SCREENSHOT"):
            Path(os.environ["TOCSIN_SCREENSHOT"]).write_bytes(shot.read_bytes())
        assert dialogs == [], f"a dialog fired: {dialogs}"
        assert errors == [], f"script errors: {errors}"


def test_an_alert_raised_before_the_stream_connects_shows_without_a_reload(
    server: LiveServer,
) -> None:
    """The page is rendered, then an alert is raised before its stream connects (held back
    here): the stream starts where the page's list was read, so the alert appears."""
    with chromium_page() as (page, errors):
        page.goto(server.url + "/ui")
        page.wait_for_url("**/ui/login")
        raised: list[str] = []

        def hold(route: Any) -> None:
            if not raised:
                late = ev.article(7, title="Raised between the page and its stream")
                alert = ev.raised(late)
                ev.append(server.log, [ev.published(late), ev.enriched(late), alert])
                time.sleep(0.5)  # the API's feed has read it by now
                raised.append(alert.data.alert_id)
            route.continue_()

        page.route("**/stream/alerts*", hold)
        sign_in(page, server.url, WRITE_TOKEN)
        page.wait_for_selector("#live[data-state=open]")
        assert raised, "the stream was not requested"
        row = page.locator(f'tr[data-alert-id="{raised[0]}"]')
        row.wait_for(timeout=10_000)
        assert row.locator("td.title").inner_text() == "Raised between the page and its stream"
        assert errors == [], f"script errors: {errors}"


def test_a_refused_stream_is_said_and_tried_again(tmp_path: Path) -> None:
    """The API serves as many streams as ``api.max_streams`` and refuses the next with a
    429, after which EventSource never retries by itself: the page says so, tries again
    30 s later (its clock is driven here), and then shows alerts live."""
    with (
        live_server(tmp_path, max_streams=1) as srv,
        chromium_page() as (page, errors),
    ):
        headers = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        page.clock.install()
        page.goto(srv.url + "/ui")
        page.wait_for_url("**/ui/login")
        with httpx.stream("GET", srv.url + "/stream/alerts", headers=headers, timeout=10) as held:
            lines = held.iter_lines()  # kept: a line iterator let go closes its connection
            assert next(lines) == "event: ready"
            sign_in(page, srv.url, WRITE_TOKEN)
            page.wait_for_selector("#live[data-state=refused]")
            assert "busy" in page.locator("#live").inner_text()
        for _ in range(10):  # the API frees the slot once it sees the client gone
            page.clock.fast_forward(31_000)
            try:
                page.wait_for_selector("#live[data-state=open]", timeout=2_000)
                break
            except playwright_api.TimeoutError:
                continue
        else:
            pytest.fail("the page did not connect again")
        later = ev.article(8, title="Raised once the stream is back")
        alert = ev.raised(later)
        ev.append(srv.log, [ev.published(later), ev.enriched(later), alert])
        page.locator(f'tr[data-alert-id="{alert.data.alert_id}"]').wait_for(timeout=10_000)
        assert errors == [], f"script errors: {errors}"


RULES = """\
rules:
  - id: am-az-together
    title: Armenia and Azerbaijan named together
    when: {all: [{entity: country:am}, {entity: country:az}]}
"""


def test_a_backtest_from_the_dashboard(server: LiveServer) -> None:
    """A rule file typed into the backtests page runs over the stored history; its page
    shows the job until it is done, then what each rule would have raised; a broken file
    shows its error, escaped."""
    for n in (2, 3):
        a = ev.article(n)
        ev.append(server.log, [ev.published(a), ev.enriched(a)])
    day = ev.T0.date()
    with chromium_page() as (page, errors):
        page.goto(server.url + "/ui/login")
        sign_in(page, server.url, WRITE_TOKEN)
        page.click("nav a[href='/ui/backtests']")
        page.wait_for_url(server.url + "/ui/backtests")

        run_backtest(page, RULES, day, "succeeded")
        row = page.locator("#backtest-rules tr[data-rule=am-az-together]")
        # one alert: articles 2 and 3 join the first one's (the rule's default suppression)
        assert row.locator("td.would-fire").inner_text() == "1"
        assert "Armenia" in row.locator("ul.examples").inner_text()

        page.goto(server.url + "/ui/backtests")
        run_backtest(page, "rules: [<b>oops", day, "failed")
        assert "rules.yaml" in page.locator("pre.error").inner_text()
        assert page.locator("article b").count() == 0  # the file's text stays text

        page.goto(server.url + "/ui/backtests")
        assert page.locator("#backtests tbody tr").count() == 2
        assert errors == [], f"script errors: {errors}"


def run_backtest(page: Any, rules: str, day: date, ends: str) -> None:
    """On the backtests page: the rule file and one day, run, until the job's page shows
    it ``ends`` (succeeded or failed)."""
    page.fill("textarea[name=rules]", rules)
    page.fill("input[name=since]", day.isoformat())
    page.fill("input[name=until]", (day + timedelta(days=1)).isoformat())
    page.click("#backtest button[type=submit]")
    page.wait_for_url("**/ui/backtests/*")
    page.wait_for_selector(f"article.backtest-job[data-status={ends}]", timeout=60_000)
