"""The README's two commands stay true: CI runs the test command verbatim, and the main
command's tocsin steps work on a fresh folder (the install step is what CI itself does)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import services.poller

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path(services.poller.__file__).parent / "data" / "sample" / "tocsin-sample-feed.xml"


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    main, tests = _commands()
    assert main.startswith("python3 -m venv .venv && ") and ".venv/bin/tocsin run" in main
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith(".venv/bin/pytest")
    assert tests in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_main_command_raises_the_founding_alert(tmp_path: Path) -> None:
    """Every tocsin step of the main command, on a fresh folder. The sources are the bundled
    offline sample only: tests send nothing beyond this machine (the real feeds of the bundled
    list would be tried, and fail, on a machine without internet)."""
    main, _ = _commands()
    steps = [
        part.removeprefix(".venv/bin/tocsin ")
        for part in main.split(" && ")
        if part.startswith(".venv/bin/tocsin ")
    ]
    assert [s.split()[0] for s in steps] == ["run", "alerts"]
    (tmp_path / "tocsin.yaml").write_text(
        f"sources:\n  - {{id: tocsin-sample, kind: feed, url: {SAMPLE}, every: 1h}}\n",
        encoding="utf-8",
    )
    tocsin = shutil.which("tocsin", path=str(Path(sys.executable).parent))
    assert tocsin is not None, "the tocsin script is installed beside this Python"
    outputs = []
    for step in steps:
        result = subprocess.run(
            [tocsin, *shlex.split(step)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert (tmp_path / "data" / "tocsin.db").is_file()
    assert "csto-armenia-azerbaijan" in outputs[-1], "the founding example raises its alert"


def test_the_configuration_example_is_a_valid_configuration() -> None:
    """Every section of the README's example file is what its service accepts: settings,
    sources, subscriptions (their ${ENV} references expanded as the services do)."""
    import yaml

    from services.alerting import load_subscriptions
    from services.poller.config import load_sources
    from services.runtime.settings import Settings

    text = (REPO / "README.md").read_text(encoding="utf-8")
    (example,) = [b for b in re.findall(r"```yaml\n(.+?)\n```", text, flags=re.S) if "log:" in b]
    raw = yaml.safe_load(example)
    env = {
        "KAFKA_PASSWORD": "x" * 16,
        "WEBHOOK_SECRET": "s" * 16,
        "TELEGRAM_BOT_TOKEN": "1:t",
        "WEBSUB_KEY": "k" * 32,
    }
    for name, value in env.items():
        example = example.replace("${" + name + "}", value)
    settings = Settings.model_validate(yaml.safe_load(example))
    assert settings.log == raw["log"]
    assert settings.websub.callback_url == raw["websub"]["callback_url"]
    sources = load_sources(raw["sources"])
    assert [s.kind for s in sources] == ["feed", "telegram"]
    assert sources[1].url == "https://t.me/s/border_desk"
    subscriptions = load_subscriptions(yaml.safe_load(example)["subscriptions"])
    assert [s.kind for s in subscriptions] == ["webhook", "telegram"]
