"""Debian's Chromium for the browser tests: where it is, how it is started headless, and
the steps every dashboard test takes (a page that records script errors; signing in)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("TOCSIN_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page() -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium, and the script errors it raises (a test asserts none).
    Callers skip first when Playwright is missing (``pytest.importorskip``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            browser.close()


def sign_in(page: Any, base_url: str, token: str) -> None:
    """On the sign-in page: the token in, then the alerts page (it keeps the token in an
    HttpOnly cookie)."""
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(base_url.rstrip("/") + "/ui")
