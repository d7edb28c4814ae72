"""A deployment gives each service the secrets of its own sections only: the poller runs
without the webhook secret that a subscription names; the notifier refuses to start without
it, naming the file, the line and the variable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cli_setup import TOCSIN, one_article_jsonl


def test_the_poller_runs_without_the_notifiers_secret(tmp_path: Path) -> None:
    articles = one_article_jsonl(tmp_path)
    config = tmp_path / "tocsin.yaml"
    config.write_text(
        f"log: sqlite:///{tmp_path}/tocsin.db\n"
        f"sources:\n  - {{id: local, kind: jsonl, url: '{articles}'}}\n"
        "subscriptions:\n"
        "  - id: desk\n"
        "    channel: {kind: webhook, url: 'https://hooks.example/x', secret: '${HOOK_SECRET}'}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "HOOK_SECRET"}
    polled = subprocess.run(
        [TOCSIN, "poll", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert polled.returncode == 0, polled.stderr
    assert "local" in polled.stdout
    notifier = subprocess.run(
        [TOCSIN, "serve", "notifier", "--until-idle", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert notifier.returncode == 2
    assert (
        f"{config}:6: environment variable HOOK_SECRET is not set (needed by subscriptions)"
        in notifier.stderr
    )
