"""What may be shown of a URL: no user info, no key in the query; the rest as written."""

from __future__ import annotations

import pytest

from services.runtime.redact import origin, shown_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://feeds.example.org/rss", "https://feeds.example.org/rss"),
        ("https://reader:s3cret@feeds.example.org/rss", "https://feeds.example.org/rss"),
        ("https://reader@feeds.example.org:8443/rss", "https://feeds.example.org:8443/rss"),
        (
            "https://feeds.example.org/rss?lang=en&api_key=abc&page=2",
            "https://feeds.example.org/rss?lang=en&api_key=[redacted]&page=2",
        ),
        (
            "https://x.example/f?Token=1&accessToken=2&sig=3&X-Amz-Credential=4&pass=5&q=a%20b",
            "https://x.example/f?Token=[redacted]&accessToken=[redacted]&sig=[redacted]"
            "&X-Amz-Credential=[redacted]&pass=[redacted]&q=a%20b",
        ),
        ("https://x.example/f?key", "https://x.example/f?key"),  # a flag, no value
        ("https://x.example/f?a=1&&b=2#frag", "https://x.example/f?a=1&&b=2#frag"),
        ("http://u:p@[::1]:8080/f?%6Bey=v", "http://[::1]:8080/f?%6Bey=[redacted]"),
        ("/srv/feeds/desk.xml", "/srv/feeds/desk.xml"),
        ("file:///srv/feeds/desk.xml", "file:///srv/feeds/desk.xml"),
        ("http://[::1", "http://[::1"),  # unparsable: shown as it is, never an error
    ],
)
def test_shown_url(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    assert shown_url(shown) == shown  # the same URL always shows the same


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hooks.slack.com/services/T0/B0/tok?x=1#f", "https://hooks.slack.com"),
        ("http://user:pw@127.0.0.1:8065/hooks/abc", "http://127.0.0.1:8065"),
        ("http://[::1]:9000/hook", "http://[::1]:9000"),
        ("http://[::1", "(invalid URL)"),
    ],
)
def test_origin(url: str, expected: str) -> None:
    assert origin(url) == expected
