"""``tocsin run`` as a user starts it: it says where the dashboard is, the dashboard answers
there, and Ctrl-C stops every service cleanly."""

from __future__ import annotations

from pathlib import Path

import httpx
from cli_setup import Console, one_article_jsonl, write_config


def test_run_prints_the_dashboard_url_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    articles = one_article_jsonl(tmp_path, body="Talks in Brussels.")
    config = write_config(
        tmp_path / "tocsin.yaml",
        log=f"sqlite:///{tmp_path}/tocsin.db",
        sources=[{"id": "local", "kind": "jsonl", "url": str(articles)}],
        api={"port": 0, "read_model": str(tmp_path / "read.db")},
    )
    console = Console(config, tmp_path)
    try:
        announced, url = console.dashboard()
        assert url.startswith("http://127.0.0.1:"), announced
        assert not url.endswith(":0/")  # the port it really listens on
        assert httpx.get(url + "healthz", timeout=10).status_code == 200
        # no api.tokens: the line names the file of the token the dashboard takes
        token_file = tmp_path / "api-token"
        assert f"(sign in with the token in {token_file})" in announced
        token = token_file.read_text(encoding="utf-8").strip()
        assert httpx.get(url + "alerts", timeout=10).status_code == 401
        signed = httpx.get(url + "alerts", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert signed.status_code == 200, signed.text
        output = console.interrupt()
        assert token not in output
    finally:
        console.kill()
