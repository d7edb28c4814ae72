"""Package names imported on first use (PEP 562), for packages whose modules are heavy.

Why: ``tocsin serve NAME`` imports the whole CLI, and a package that imported all its
modules up front would load NumPy, SciPy or datasketch into every service's process
(``tests/unit/cli/test_import_cost.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    package: str, namespace: dict[str, Any], homes: Mapping[str, str]
) -> Callable[[str], Any]:
    """The package's ``__getattr__``: ``homes`` maps each public name to the module of the
    package that defines it; a name is imported when first asked for, then kept in the
    package's ``namespace`` (its ``globals()``)."""

    def __getattr__(name: str) -> Any:
        module = homes.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
