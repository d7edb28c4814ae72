"""Dependencies point one way: services talk through events, never through imports.

schemas imports nothing of services; the shared libraries (eventlog, runtime, text, alerting,
projections) import no service; a service imports no other service. Only the wiring (cli,
registry) sees all. ``alerting`` is the subscription model and matching (notifier and API);
``projections`` is the read model (the API runs it, ``tocsin projections`` rebuilds it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Libraries beside the services; projections is the read side that the api serves from.
SHARED = {"alerting", "eventlog", "runtime", "text", "projections"}
WIRING = {"cli", "registry"}


def _packages() -> list[str]:
    return sorted(
        p.name
        for p in (ROOT / "services").iterdir()
        if p.is_dir() and (p / "__init__.py").is_file()
    )


SERVICES = [name for name in _packages() if name not in SHARED | WIRING]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _service_imports(package_dir: Path) -> dict[str, set[str]]:
    """file -> the services.<package> names it imports."""
    out: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        names = {
            name.split(".")[1]
            for name in _imports(path)
            if name.startswith("services.") and len(name.split(".")) > 1
        }
        if names:
            out[str(path.relative_to(ROOT))] = names
    return out


def test_there_are_services_to_check() -> None:
    assert {"poller", "rules", "notifier"} <= set(SERVICES)


def test_schemas_import_nothing_from_services() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] == "services")
        for p in (ROOT / "schemas").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("library", sorted(SHARED))
def test_shared_libraries_import_no_service(library: str) -> None:
    bad = {
        f: sorted(n for n in names if n not in SHARED)
        for f, names in _service_imports(ROOT / "services" / library).items()
    }
    assert {f: n for f, n in bad.items() if n} == {}


@pytest.mark.parametrize("service", SERVICES)
def test_services_import_only_shared_libraries(service: str) -> None:
    bad = {
        f: sorted(n for n in names if n not in SHARED | {service})
        for f, names in _service_imports(ROOT / "services" / service).items()
    }
    assert {f: n for f, n in bad.items() if n} == {}, "services talk through events, not imports"
