"""The enricher version: the package version plus a hash of the data it matches with.

Why the data is in the version: an enrichment depends on the gazetteer and the taxonomy as
much as on the code. A new alias must yield a new version, so that the new enrichments get
new ids (``schemas.ids.enrichment_id``) and a new consumer group re-reads history under
them, while the live version runs on (see ``runner``).

The hash covers the loaded entries, ignored phrases and tags (not the file bytes), so it
also changes when pycountry's translations change under the same YAML files, and not when
a YAML comment does.
"""

from __future__ import annotations

import hashlib
from importlib import metadata

from services.text import Gazetteer

__all__ = ["data_fingerprint", "enricher_version", "package_version"]

_HASH_CHARS = 12


def package_version() -> str:
    """The installed ``tocsin`` distribution's version ("0.0.0" when not installed)."""
    try:
        return metadata.version("tocsin")
    except metadata.PackageNotFoundError:  # running from a checkout without install
        return "0.0.0"


def data_fingerprint(gazetteer: Gazetteer) -> str:
    """A short, stable hash of everything the matcher is built from."""
    digest = hashlib.sha256()
    for part in (gazetteer.entries, gazetteer.ignore, gazetteer.tags):
        digest.update(repr(part).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()[:_HASH_CHARS]


def enricher_version(gazetteer: Gazetteer) -> str:
    """``<package version>+g<data hash>``: e.g. ``0.1.0+g3f2a9c1b7d4e``."""
    return f"{package_version()}+g{data_fingerprint(gazetteer)}"
