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
from services.text.normalise import Normalised, fold, normalise
from services.text.schema import EnrichedFields, enriched_fields, enriched_payload
from services.text.sentences import split_sentences
from services.text.specs import DataFileError
from services.text.terms import TermHit, TermMatcher, match_terms

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
