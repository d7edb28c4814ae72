"""The README's two commands stay true: CI runs the test command verbatim, and the main
command's tocsin part works on a fresh folder (the install part is what CI itself does)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    main, tests = _commands()
    assert main.startswith("python3 -m venv .venv && ") and ".venv/bin/tocsin " in main
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith(".venv/bin/pytest")
    assert tests in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_main_command_runs_on_a_fresh_folder(tmp_path: Path) -> None:
    main, _ = _commands()
    tocsin_part = main.split(".venv/bin/tocsin ", 1)[1]
    tocsin = shutil.which("tocsin", path=str(Path(sys.executable).parent))
    assert tocsin is not None, "the tocsin script is installed beside this Python"
    result = subprocess.run(
        [tocsin, *shlex.split(tocsin_part)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "tocsin.db").is_file()
