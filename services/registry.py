"""Every service Tocsin can run, by name: the one place that wires the process together.

Entries are import strings, resolved only when a service is started, so that starting one
service never imports the others (nor their dependencies).
"""

from __future__ import annotations

import importlib

from services.runtime.service import ServiceFactory

#: service name -> "module:function" building it from a ServiceContext
SERVICES: dict[str, str] = {
    "api": "services.api.runner:build",
    "enricher": "services.enricher.runner:build",
    "notifier": "services.notifier.runner:build",
    "poller": "services.poller.runner:build",
    "rules": "services.rules.runner:build",
}


def service_factory(name: str) -> ServiceFactory:
    try:
        target = SERVICES[name]
    except KeyError:
        known = ", ".join(sorted(SERVICES)) or "none yet"
        raise KeyError(f"unknown service {name!r}; known: {known}") from None
    module_name, _, attribute = target.partition(":")
    factory: ServiceFactory = getattr(importlib.import_module(module_name), attribute)
    return factory
