"""The enricher's configuration: users' gazetteer and taxonomy files.

Proposed ``Settings`` section (not wired into ``services.runtime.settings`` yet; the runner
builds the defaults)::

    enricher:
      gazetteer: [./gazetteer/my-desk.yaml]   # extra entries, same shape as the bundled files
      taxonomy: ./taxonomy.yaml               # replaces the bundled taxonomy (optional)
      include_bundled: true                   # false: only the files above (tests, experiments)
      workers: 1                              # enricher processes beside the service; 0: inline
                                              # (default: under `tocsin run` one per core but
                                              # one, at most 4; `tocsin serve enricher`: 0)

Every file is validated when the service starts; a bad one stops the start with a
``DataFileError`` naming the file and the entry (``services.text.specs``), never later.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.enricher.core import Enricher
from services.enricher.version import enricher_version
from services.text import Analyser, default_analyser, load_gazetteer

__all__ = ["EnricherSettings", "build_enricher"]


class EnricherSettings(BaseModel):
    """The ``enricher:`` section of the configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gazetteer: tuple[Path, ...] = Field(
        default=(), description="users' gazetteer YAML files, added to the bundled entries"
    )
    taxonomy: Path | None = Field(
        default=None, description="a taxonomy YAML file replacing the bundled one"
    )
    include_bundled: bool = Field(
        default=True, description="load the bundled gazetteer (countries, places, ...)"
    )
    workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description=(
            "worker processes enriching beside a serving enricher (services/enricher/pool.py); "
            "0: in the service's own thread; default: under `tocsin run` one per core but one "
            "(at most 4), served alone 0"
        ),
    )

    @property
    def is_default(self) -> bool:
        return not self.gazetteer and self.taxonomy is None and self.include_bundled


def build_enricher(settings: EnricherSettings | None = None) -> Enricher:
    """The enricher these settings describe (the bundled analyser is shared per process)."""
    settings = settings or EnricherSettings()
    if settings.is_default:
        analyser = default_analyser()
    else:
        analyser = Analyser(
            load_gazetteer(
                settings.gazetteer,
                taxonomy=settings.taxonomy,
                include_bundled=settings.include_bundled,
            )
        )
    return Enricher(analyser, enricher_version(analyser.gazetteer))
