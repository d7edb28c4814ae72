"""The enricher: ``article.published`` events in, ``article.enriched`` events out.

Public API::

    Enricher(analyser, version).enrich(event) -> CloudEvent   # pure core, no I/O
    enricher_version(gazetteer) -> "0.1.0+g<hash>"              # changes with code or data
    EnricherSettings(gazetteer=[...], taxonomy=...)             # users' extra YAML files
    build(context) -> Service                                   # runner (services.enricher.runner)

Modules: ``core`` (the pure step), ``version`` (version string), ``settings`` (the
``enricher:`` configuration section and the analyser it builds), ``runner``.
"""

from services.enricher.core import ENRICHER_SOURCE, Enricher, EnrichError
from services.enricher.settings import EnricherSettings
from services.enricher.version import enricher_version

__all__ = [
    "ENRICHER_SOURCE",
    "EnrichError",
    "Enricher",
    "EnricherSettings",
    "enricher_version",
]
