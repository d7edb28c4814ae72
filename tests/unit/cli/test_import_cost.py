"""``tocsin serve NAME`` loads the whole CLI, then one service: the CLI must not drag in the
heavy dependencies of the other services (NumPy for the text analysis, datasketch and SciPy
for the rules engine, FastAPI for the API). Each is 10-60 MB per process and up to half a
second of start, paid by every container and every child of ``tocsin run --processes``.

Each case runs in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "scipy", "datasketch", "fastapi")

PROBE = f"""
import json, sys
import services.cli.app
from services.registry import service_factory
name = sys.argv[1]
if name:
    service_factory(name)
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def _loaded(service: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, service],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("service", "needs"),
    [
        ("", set()),  # the CLI alone: `tocsin --help`, `tocsin log tail`...
        ("notifier", set()),
        ("api", {"fastapi"}),
        ("enricher", {"numpy"}),
        ("poller", {"numpy"}),  # trafilatura's
        ("rules", {"numpy", "scipy", "datasketch"}),
    ],
)
def test_a_service_started_from_the_cli_loads_only_its_own_heavy_dependencies(
    service: str, needs: set[str]
) -> None:
    assert _loaded(service) == needs
