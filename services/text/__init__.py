"""Text analysis shared by the enricher, the rules' term conditions and the CLI.

What it does, with no I/O beyond its bundled data files: detects the language, splits
sentences (keeping offsets), finds countries, places, organisations and people from a
multilingual gazetteer (inflection-aware, diacritics-insensitive, one Aho-Corasick
automaton), resolves shared names by context, and sets taxonomy tags.

Public API::

    analyse(title, text="", language_hint=None) -> Analysis      # bundled gazetteer
    Analyser(load_gazetteer([user.yaml, ...])).analyse(...)       # with users' entries
    enriched_fields(analysis) -> dict for schemas.articles.ArticleEnriched(**fields)
    TermMatcher(["обстрел", "shelling", "sanction*"]).find(analysis) -> [TermHit]

Modules: ``normalise`` (folding with an offset map), ``inflection`` (alias -> keys and
allowed word endings), ``matcher`` (the automaton and whole-word checks), ``sentences``,
``language``, ``specs`` (YAML shapes), ``gazetteer`` (loading), ``analysis``, ``terms``,
``schema`` (to the event models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.runtime.lazy import exports

if TYPE_CHECKING:
    from services.text.analysis import (
        Analyser,
        Analysis,
        EntityHit,
        Mention,
        TagMatch,
        analyse,
        compose_text,
        default_analyser,
    )
    from services.text.gazetteer import (
        Alias,
        Entry,
        Gazetteer,
        Role,
        Tag,
        default_gazetteer,
        load_gazetteer,
        load_taxonomy,
    )
    from services.text.language import Language, detect_language
    from services.text.schema import EnrichedFields, enriched_fields, enriched_payload
    from services.text.sentences import split_sentences
    from services.text.specs import DataFileError
    from services.text.terms import TermHit, TermMatcher, match_terms

# Imported now, and light: the function ``normalise`` must hide the module of that name,
# which importing any of this package's modules binds here.
from services.text.normalise import Normalised, fold, normalise

#: Where each public name lives, imported on first use (PEP 562): the analysis brings in
#: NumPy and the gazetteer, which the read side (``projections``' search, the API) does not
#: need for the inflection of a searched word.
_HOME = {
    "Analyser": "analysis",
    "Analysis": "analysis",
    "EntityHit": "analysis",
    "Mention": "analysis",
    "TagMatch": "analysis",
    "analyse": "analysis",
    "compose_text": "analysis",
    "default_analyser": "analysis",
    "Alias": "gazetteer",
    "Entry": "gazetteer",
    "Gazetteer": "gazetteer",
    "Role": "gazetteer",
    "Tag": "gazetteer",
    "default_gazetteer": "gazetteer",
    "load_gazetteer": "gazetteer",
    "load_taxonomy": "gazetteer",
    "Language": "language",
    "detect_language": "language",
    "EnrichedFields": "schema",
    "enriched_fields": "schema",
    "enriched_payload": "schema",
    "split_sentences": "sentences",
    "DataFileError": "specs",
    "TermHit": "terms",
    "TermMatcher": "terms",
    "match_terms": "terms",
}


__getattr__ = exports(__name__, globals(), _HOME)


__all__ = [
    "Alias",
    "Analyser",
    "Analysis",
    "DataFileError",
    "EnrichedFields",
    "EntityHit",
    "Entry",
    "Gazetteer",
    "Language",
    "Mention",
    "Normalised",
    "Role",
    "Tag",
    "TagMatch",
    "TermHit",
    "TermMatcher",
    "analyse",
    "compose_text",
    "default_analyser",
    "default_gazetteer",
    "detect_language",
    "enriched_fields",
    "enriched_payload",
    "fold",
    "load_gazetteer",
    "load_taxonomy",
    "match_terms",
    "normalise",
    "split_sentences",
]
