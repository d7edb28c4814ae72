"""Where the read model lives: ``api.read_model`` (``TOCSIN_API__READ_MODEL``), unless a
command names another file."""

from __future__ import annotations

from pathlib import Path

from services.runtime.settings import Settings

DEFAULT_READ_MODEL = Path("./data/read.db")
#: The consumer group of the projections. One group per read-model file: a group splits
#: partitions between its members, and every read model needs all of them.
DEFAULT_GROUP = "projections"


def read_model_path(settings: Settings, explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    return Path(settings.api.read_model)
