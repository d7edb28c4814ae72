"""Feeds behind credentials (Basic auth in the URL's user info, a key in its query), against
a real HTTP server on 127.0.0.1: the fetch uses them, and nothing recorded on the log or
shown by the CLI, the API or the dashboard carries them."""

from __future__ import annotations

import base64

from feed_server import FeedServer, Route, rss
from test_poll_http import events, service, sources

from schemas import PollStatus, SourcePolled
from services.eventlog import EventLog

USER, PASSWORD, KEY = "desk", "pw-7Hq2xPL", "K3yZ9wq1v"


def test_credentials_are_used_to_fetch_and_never_recorded(
    server: FeedServer, sqlite_log: EventLog
) -> None:
    server.add("/private.xml", Route(rss([("https://news.example/p1", "Paid story")])))
    base = f"http://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
    srcs = sources(
        {"id": "paid", "url": f"{base}/private.xml?lang=en&key={KEY}"},
        {"id": "moved", "url": f"{base}/moved.xml?token={KEY}"},
    )
    svc = service(sqlite_log, srcs)
    svc.run_until_idle()
    by_id = {r.source_id: r for r in svc.reports}
    assert by_id["paid"].status is PollStatus.OK and by_id["paid"].new_articles == 1
    path, headers = next(r for r in server.requests if r[0].startswith("/private.xml"))
    assert path == f"/private.xml?lang=en&key={KEY}"
    assert headers["authorization"] == "Basic " + base64.b64encode(
        f"{USER}:{PASSWORD}".encode()
    ).decode("ascii")

    shown = f"http://127.0.0.1:{server.port}"
    polled = {p.source_id: p for p in events(sqlite_log, "sources.polled")}
    assert isinstance(polled["paid"], SourcePolled)
    assert polled["paid"].url == f"{shown}/private.xml?lang=en&key=[redacted]"
    assert by_id["moved"].http_status == 404
    assert by_id["moved"].error_message == (
        f"HTTP 404 from {shown}/moved.xml?token=[redacted]: not found: the feed moved or was "
        "removed"
    )
    assert polled["moved"].error_message == by_id["moved"].error_message
    for topic in ("sources.polled", "articles.published"):
        with sqlite_log.consumer([topic], group=None) as consumer:
            while batch := consumer.poll(5000, 0.05):
                for record in batch:
                    assert PASSWORD.encode() not in record.value
                    assert KEY.encode() not in record.value

    # A restart finds the validators recorded under the shown URL: a conditional GET.
    again = service(sqlite_log, srcs[:1])
    again.run_until_idle()
    assert again.reports[0].status is PollStatus.NOT_MODIFIED
