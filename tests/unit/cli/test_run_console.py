"""``tocsin run`` as a user starts it: it says where the dashboard is, the dashboard answers
there, and Ctrl-C stops every service cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
from cli_setup import TOCSIN, one_article_jsonl, write_config


def test_run_prints_the_dashboard_url_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    articles = one_article_jsonl(tmp_path, body="Talks in Brussels.")
    config = write_config(
        tmp_path / "tocsin.yaml",
        log=f"sqlite:///{tmp_path}/tocsin.db",
        sources=[{"id": "local", "kind": "jsonl", "url": str(articles)}],
        api={"port": 0, "read_model": str(tmp_path / "read.db")},
    )
    proc = subprocess.Popen(
        [TOCSIN, "run", "--status-every", "0", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url, lines = None, []
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "dashboard on " in line:
                url = line.split("dashboard on ", 1)[1].split()[0]
        assert url is not None and url.startswith("http://127.0.0.1:"), "".join(lines)
        assert not url.endswith(":0/")  # the port it really listens on
        assert httpx.get(url + "healthz", timeout=10).status_code == 200
        # no api.tokens: the line names the file of the token the dashboard takes
        token_file = tmp_path / "api-token"
        assert f"(sign in with the token in {token_file})" in lines[-1]
        token = token_file.read_text(encoding="utf-8").strip()
        assert token not in "".join(lines)
        assert httpx.get(url + "alerts", timeout=10).status_code == 401
        signed = httpx.get(url + "alerts", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert signed.status_code == 200, signed.text
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest[-3000:]
        assert "Traceback" not in rest
        assert token not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
