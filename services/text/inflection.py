"""Inflection-tolerant patterns: from an alias to automaton keys and allowed word tails.

Why not a morphological analyser: the names we look for are few and known in advance, so it
is cheaper and more predictable to expand each alias once, when the gazetteer is built,
than to analyse every word of every article. An alias becomes one or more *keys* (folded
strings put in the automaton) and a set of *tails*: what may follow the key up to the end
of the word. "Армения" becomes the key "армени" with tails {"я", "и", "ю", "ей", ...}, so
"Армении", "Армению", "Арменией" all match, and "Iran" keeps the tail set {""} so that
"Iranian" does not match it (that word is an alias of its own, an adjective).

Rules by language:

- Russian, Ukrainian, Belarusian: the last word loses a final а/я/ь/й and takes any noun or
  adjective case ending; inner words (the adjective of "Южная Осетия", the noun of
  "Республика Армения") are expanded into their case forms. Stems shorter than four
  letters are matched exactly ("Чад", "Баку").
- Kazakh, Kyrgyz: the Russian endings and the case suffixes of both (Kyrgyz's four-way
  vowel harmony: "Тажикстандын", "Тажикстанга", "Тажикстандан").
- Tajik: the izofat and the object and plural endings ("Тоҷикистони", "Қирғизистонро").
- Uzbek: the Turkic suffixes and its own (-ning, -ga, -ni, -dagi: "Qirgʻizistonning").
- Georgian: the last word's case endings and postpositions, after the nominative -ი is
  dropped ("აფხაზეთი": აფხაზეთის, აფხაზეთში, აფხაზეთიდან, აფხაზეთმა) or after a final
  vowel ("საქართველო": საქართველოს, საქართველოში; "კობახიძე": კობახიძემ, კობახიძის), with
  the particle -ც ("too") after any of them. A stem whose last syllable has ა, ე or ო before
  a sonorant (ლ, რ, მ, ნ, ვ) may also drop that vowel before a vowel-initial ending
  (syncope: "საზღვარი": საზღვრის, საზღვრები; "ქვეყანა": ქვეყნის), so that form is a
  second key with those endings only. Only for words (terms, tag keywords, searches):
  names do not syncopate ("ირანი": ირანის), so an entity's aliases take no short key.
- Armenian: case and article suffixes (-ի, -ում, -ից, -ով, -ը, -ն, -յի ...).
- Azerbaijani and Turkish: case suffixes in both vowel harmonies, with and without an
  apostrophe (the apostrophe ends the word, so "Ermenistan'ın" needs nothing).
- English and the others: the plural "s" for adjectives and demonyms, nothing for names.

A term ending in ``*`` is a prefix: any tail is accepted ("sanction*").
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

from services.text.normalise import fold

__all__ = ["ANY_TAIL", "Pattern", "expand", "inflected_prefixes", "tails_for"]

ANY_TAIL: frozenset[str] | None = None

_SLAVIC = frozenset({"ru", "uk", "be"})
_KAZAKH = frozenset({"kk", "ky"})
_TAJIK = frozenset({"tg"})
_TURKIC_LATIN = frozenset({"az", "tr", "uz", "tk"})

_NOUN_ENDINGS = (
    "",
    "а",
    "я",
    "у",
    "ю",
    "ом",
    "ем",
    "ём",
    "ой",
    "ей",
    "ою",
    "ею",
    "е",
    "и",
    "ы",
    "ь",
    "ью",
    "ах",
    "ях",
    "ам",
    "ям",
    "ами",
    "ями",
    "ов",
    "ев",
    "ым",
    "им",
)
_ADJ_ENDINGS = (
    "ый",
    "ий",
    "ой",
    "ая",
    "яя",
    "ое",
    "ее",
    "ые",
    "ие",
    "ого",
    "его",
    "ому",
    "ему",
    "ым",
    "им",
    "ом",
    "ем",
    "ую",
    "юю",
    "ых",
    "их",
    "ыми",
    "ими",
    "ей",
    # Ukrainian
    "а",
    "е",
    "і",
    "ої",
    "ій",
    "у",
    "ого",
    "ому",
    "им",
    "ими",
    "их",
)
_KAZAKH_SUFFIXES = (
    "ның",
    "нің",
    "дың",
    "дің",
    "тың",
    "тің",
    "ға",
    "ге",
    "қа",
    "ке",
    "на",
    "не",
    "да",
    "де",
    "та",
    "те",
    "дан",
    "ден",
    "тан",
    "тен",
    "нан",
    "нен",
    "мен",
    "бен",
    "пен",
    "ны",
    "ні",
    "ды",
    "ді",
    "ты",
    "ті",
    "сы",
    "сі",
    "ға",
    "ына",
    "іне",
    "ында",
    "інде",
    "ынан",
    "інен",
)
#: Kyrgyz case suffixes in its four vowel harmonies (genitive, dative, accusative,
#: locative, ablative), after a voiced or a voiceless consonant or a vowel
_KYRGYZ_SUFFIXES = tuple(
    f"{consonant}{vowel}{end}"
    for vowel in ("ы", "и", "у", "ү")
    for consonant in ("д", "т", "н")
    for end in ("н", "")
) + tuple(
    f"{consonant}{vowel}{end}"
    for vowel in ("а", "е", "о", "ө")
    for consonant in ("г", "к", "д", "т", "н")
    for end in ("", "н")
)
#: Uzbek's own case endings (genitive -ning, dative -ga/-ka/-qa, accusative -ni, -dagi)
_UZBEK_SUFFIXES = (
    *("ning", "ga", "ka", "qa", "ni", "da", "ta", "dan", "tan", "dagi", "lik", "dek"),
    *("cha", "gacha"),
)
_TAJIK_SUFFIXES = ("", "и", "ӣ", "ро", "у", "ву", "ҳо", "ҳои", "ҳоро", "иро")
#: Georgian endings after a stem that dropped the nominative -ი ("რუსეთ-ი"): genitive,
#: dative, instrumental, adverbial, ergative, and the postpositions fused to a case
_GEORGIAN_AFTER_CONSONANT = (
    *("ი", "ის", "ს", "ით", "ად", "მა", "მ", "ში", "ზე", "თან", "იდან", "ისთვის"),
    *("ისკენ", "ისგან", "ისა", "ისადმი", "ივით", "ისი", "ებ", "ები", "ების", "ებში"),
    *("ებს", "ებმა", "ებით", "ებად", "ებზე", "ებთან", "ებიდან", "ებისთვის"),
)
#: after a final vowel that stays ("საქართველო", "ნატო")
_GEORGIAN_AFTER_VOWEL = (
    *("", "ს", "მ", "თი", "დ", "ში", "ზე", "სთან", "დან", "სთვის", "სკენ", "სგან"),
    *("სა", "სადმი", "ვით"),
)
_ARMENIAN_SUFFIXES = (
    "",
    "ը",
    "ն",
    "ի",
    "ին",
    "ում",
    "ից",
    "ով",
    "ու",
    "ուն",
    "ուց",
    "յի",
    "յին",
    "յում",
    "յից",
    "յով",
    "յան",
    "ներ",
    "ները",
    "ների",
    "ներին",
    "ներում",
    "ներից",
    "ներով",
    "ի՝",
    "ին՝",
    "ում՝",
)
_TURKIC_SUFFIXES = (
    "",
    "ın",
    "in",
    "un",
    "ün",
    "nın",
    "nin",
    "nun",
    "nün",
    "a",
    "e",
    "ə",
    "ya",
    "ye",
    "yə",
    "ı",
    "i",
    "u",
    "ü",
    "yı",
    "yi",
    "yu",
    "yü",
    "da",
    "de",
    "də",
    "ta",
    "te",
    "tə",
    "dan",
    "den",
    "dən",
    "tan",
    "ten",
    "tən",
    "la",
    "le",
    "lə",
    "yla",
    "yle",
    "ylə",
    "nda",
    "nde",
    "ndə",
    "ndan",
    "nden",
    "ndən",
    "na",
    "ne",
    "nə",
    "daki",
    "deki",
    "dəki",
    "lı",
    "li",
    "lu",
    "lü",
    "lar",
    "ler",
    "lər",
    "ları",
    "leri",
    "ləri",
)
_ENGLISH_PLURAL = ("", "s")

_STRIP_FINAL = ("а", "я", "ь", "й")
_PLURAL_DEMONYM = ("ане", "яне")
_NEUTER_FINALS = ("ие", "ье")
_FIXING_WORDS = frozenset(
    {"по", "в", "во", "на", "о", "об", "для", "с", "со", "при", "за", "к", "от", "из"}
)
_ADJ_FINALS = ("ая", "яя", "ый", "ий", "ой", "ое", "ее", "ые", "ие", "ій", "а")
_MIN_STEM = 4
_MAX_KEYS = 120


def _folded_set(items: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(item) for item in items)


_RU_TAILS = _folded_set(_NOUN_ENDINGS + _ADJ_ENDINGS)
_KK_TAILS = _RU_TAILS | _folded_set(_KAZAKH_SUFFIXES) | _folded_set(_KYRGYZ_SUFFIXES)
_TG_TAILS = _folded_set(_TAJIK_SUFFIXES)


def _with_particle(tails: tuple[str, ...]) -> frozenset[str]:
    """Georgian tails, each also with -ც ("too") and the copula -ა after a consonant."""
    out = set(tails)
    out.update(t + "ც" for t in tails)
    out.update(t + "ა" for t in tails if t and t[-1] not in "აეიოუ")
    return _folded_set(tuple(out))


_KA_CONSONANT_TAILS = _with_particle(_GEORGIAN_AFTER_CONSONANT)
_KA_VOWEL_TAILS = _with_particle(_GEORGIAN_AFTER_VOWEL)
#: after a final -ე or -ა dropped for the genitive and instrumental ("კობახიძე": კობახიძის)
_KA_TRUNCATED_TAILS = {
    final: _with_particle(
        (*(final + t for t in _GEORGIAN_AFTER_VOWEL), "ის", "ით", "ისთვის", "ისგან", "ისკენ")
    )
    for final in ("ე", "ა")
}
_KA_MIN_STEM = 3
#: The endings before which a Georgian stem syncopates: those that begin with a vowel
#: (genitive, instrumental, adverbial, the plural -ებ-, and what is fused to them), but
#: the nominative -ი, which keeps the vowel ("მეგობარი", "მეგობრის")
_GEORGIAN_SYNCOPATED = tuple(t for t in _GEORGIAN_AFTER_CONSONANT if t[0] in "იეა" and t != "ი")
_KA_SYNCOPE_TAILS = _with_particle(_GEORGIAN_SYNCOPATED)
_KA_VOWELS = frozenset("აეიოუ")
#: the consonants after which the vowel of a last syllable "very likely" drops
_KA_SONORANTS = frozenset("ლრმნვ")
_HY_TAILS = _folded_set(_ARMENIAN_SUFFIXES)
_TURKIC_TAILS = _folded_set(_TURKIC_SUFFIXES)
_UZ_TAILS = _TURKIC_TAILS | _folded_set(_UZBEK_SUFFIXES)
_PLURAL_TAILS = _folded_set(_ENGLISH_PLURAL)
_EXACT: frozenset[str] = frozenset({""})
_TAILS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    **dict.fromkeys(_SLAVIC, _RU_TAILS),
    **dict.fromkeys(_KAZAKH, _KK_TAILS),
    **dict.fromkeys(_TURKIC_LATIN, _TURKIC_TAILS),
    **dict.fromkeys(_TAJIK, _TG_TAILS),
    "uz": _UZ_TAILS,
    "hy": _HY_TAILS,
}


class Pattern(tuple[str, frozenset[str] | None]):
    """A folded automaton key and the word tails allowed after it (``None``: any tail)."""

    __slots__ = ()

    def __new__(cls, key: str, tails: frozenset[str] | None) -> Pattern:
        return super().__new__(cls, (key, tails))

    @property
    def key(self) -> str:
        return self[0]

    @property
    def tails(self) -> frozenset[str] | None:
        return self[1]


def tails_for(lang: str, form: str = "name") -> frozenset[str]:
    """The tail set for an alias in ``lang`` (an ISO 639-1 code) used as ``form``."""
    lang = lang.replace("_", "-").partition("-")[0].lower()
    tails = _TAILS_BY_LANGUAGE.get(lang)
    if tails is not None:
        return tails
    return _PLURAL_TAILS if form != "name" else _EXACT


#: Letters of the Azerbaijani and Turkish alphabets that French, German and English words
#: do not hold (ç, ö and ü they do: "Müller" is no Turkic name to inflect)
_TURKIC_LETTERS = frozenset("əğışƏĞİŞ")


def script_language(text: str) -> str:
    """A language whose inflection rules suit ``text``, guessed from its script.

    Used for user terms whose language is not given (a rule's, a search's): Cyrillic is
    read as Russian, Armenian script as Armenian, Georgian as Georgian, Latin with ə, ğ, ı
    or ş as Azerbaijani (Turkish takes the same endings: "Ermənistanın"), anything else as
    English.
    """
    turkic = False
    for ch in text:
        code = ord(ch)
        if 0x0400 <= code <= 0x052F:
            return "ru"
        if 0x0530 <= code <= 0x058F:
            return "hy"
        if 0x10A0 <= code <= 0x10FF or 0x1C90 <= code <= 0x1CBF:
            return "ka"
        turkic = turkic or ch in _TURKIC_LETTERS
    return "az" if turkic else "en"


def _slavic_inner_forms(word: str) -> tuple[str, ...]:
    if word.endswith(_NEUTER_FINALS) and len(word) - 1 >= _MIN_STEM:
        # "совещание" -> "совещания", "совещанию"...; "-ие" may also be a plural adjective
        # ("новые", "русские"), so both readings are kept
        stem = word[:-1]
        nouns = [stem + e for e in _folded_set(_NOUN_ENDINGS)]
        adjectives = [word[:-2] + e for e in _folded_set(_ADJ_ENDINGS)] if word[-2] == "и" else []
        return tuple(dict.fromkeys([word, *nouns, *adjectives]))
    for final in _ADJ_FINALS:
        if word.endswith(final) and len(word) - len(final) >= 3:
            stem = word[: -len(final)]
            return tuple(dict.fromkeys([word, *(stem + e for e in _folded_set(_ADJ_ENDINGS))]))
    if word.endswith(_STRIP_FINAL) and len(word) - 1 >= _MIN_STEM:
        stem = word[:-1]
        return tuple(dict.fromkeys([word, *(stem + e for e in _folded_set(_NOUN_ENDINGS))]))
    if len(word) >= _MIN_STEM and word[-1].isalpha() and word[-1] not in "оеиуыэю":
        return tuple(dict.fromkeys([word, *(word + e for e in _folded_set(_NOUN_ENDINGS))]))
    return (word,)


def _slavic(folded: str, adjective: bool) -> Iterator[Pattern]:
    words = folded.split(" ")
    last = words[-1]
    adj_final = next((f for f in _ADJ_FINALS if len(f) == 2 and last.endswith(f)), None)
    if adjective and adj_final and len(last) - 2 >= _MIN_STEM:
        last_key, tails = last[:-2], _RU_TAILS
    elif last.endswith(_STRIP_FINAL) and len(last) - 1 >= _MIN_STEM:
        last_key, tails = last[:-1], _RU_TAILS
    elif last.endswith((*_PLURAL_DEMONYM, *_NEUTER_FINALS)) and len(last) - 1 >= _MIN_STEM:
        # "россияне" -> россиян, россиянам; "соглашение" -> соглашения, соглашением
        last_key, tails = last[:-1], _RU_TAILS
    elif len(last) >= _MIN_STEM:
        last_key, tails = last, _RU_TAILS
    else:
        last_key, tails = last, _EXACT
    if len(words) == 1:
        yield Pattern(last_key, tails)
        return
    # Only the head of a name inflects: the words from the first preposition or conjunction
    # on ("... по взаимодействию и мерам доверия в Азии") keep their form.
    fixed_from = next((i for i, w in enumerate(words) if i > 0 and w in _FIXING_WORDS), len(words))
    if fixed_from < len(words):
        last_key, tails = last, _EXACT
    inner = [_slavic_inner_forms(w) if i < fixed_from else (w,) for i, w in enumerate(words[:-1])]
    for count, combo in enumerate(product(*inner), start=1):
        yield Pattern(" ".join((*combo, last_key)), tails)
        if count >= _MAX_KEYS:
            break


def _georgian(folded: str, syncope: bool) -> list[Pattern]:
    """The last word of a Georgian name inflects (the words before it keep their form:
    "სამხრეთ ოსეთის", "ირაკლი კობახიძემ"); with ``syncope``, a second pattern when its
    stem may syncopate."""
    head, _, last = folded.rpartition(" ")
    prefix = f"{head} " if head else ""
    stem = None
    if last.endswith("ი") and len(last) - 1 >= _KA_MIN_STEM:
        stem, tails = last[:-1], _KA_CONSONANT_TAILS
    elif last[-1:] in _KA_TRUNCATED_TAILS and len(last) - 1 >= _KA_MIN_STEM:
        stem, tails = last[:-1], _KA_TRUNCATED_TAILS[last[-1]]
    elif last[-1:] in ("ო", "უ") and len(last) >= _KA_MIN_STEM:
        return [Pattern(prefix + last, _KA_VOWEL_TAILS)]
    if stem is None:
        return [Pattern(folded, _EXACT)]
    patterns = [Pattern(prefix + stem, tails)]
    short = _syncopated(stem) if syncope else None
    if short is not None:
        patterns.append(Pattern(prefix + short, _KA_SYNCOPE_TAILS))
    return patterns


def _syncopated(stem: str) -> str | None:
    """The stem without the vowel of its last syllable ("საზღვარ" -> "საზღვრ", "მტერ" ->
    "მტრ"), when that vowel is ა, ე or ო between a consonant and a final sonorant, and
    three letters or more are left. Whether a word syncopates is lexical ("ქართველი" keeps
    its vowel: ქართველის), so the short form is only ever an extra key: it finds a
    syncopated case form, and the forms that keep the vowel are found as before."""
    if len(stem) < 3 or stem[-1] not in _KA_SONORANTS or stem[-2] not in "აეო":
        return None
    if stem[-3] in _KA_VOWELS or not 0x10D0 <= ord(stem[-3]) <= 0x10FF:
        return None
    short = stem[:-2] + stem[-1]
    return short if len(short) >= _KA_MIN_STEM else None


def _spellings(folded: str) -> list[str]:
    """Hyphenated and spaced spellings of the same alias ("Nagorno-Karabakh")."""
    out = [folded]
    if "-" in folded:
        out.append(folded.replace("-", " "))
    if "." in folded and " " not in folded:
        out.append(folded.replace(".", ""))
    return out


def expand(alias: str, lang: str, form: str = "name", *, syncope: bool = True) -> list[Pattern]:
    """Patterns that find ``alias`` (written in ``lang``) and its inflected forms.

    A trailing ``*`` makes a prefix pattern; a leading ``=`` an exact one (no inflection).
    ``syncope=False`` for names, which keep their vowels (Georgian: see the module).
    """
    text = " ".join(alias.split())
    exact = text.startswith("=")
    if exact:
        text = text[1:]
    prefix = text.endswith("*")
    if prefix:
        text = text[:-1]
    folded = fold(text)
    if not folded:
        return []
    patterns: list[Pattern] = []
    base = lang.replace("_", "-").partition("-")[0].lower()
    for spelling in _spellings(folded):
        if prefix:
            patterns.append(Pattern(spelling, ANY_TAIL))
        elif exact:
            patterns.append(Pattern(spelling, _EXACT))
        elif base in _SLAVIC or base in _KAZAKH:
            extra = _KK_TAILS if base in _KAZAKH else None
            for pattern in _slavic(spelling, form == "adjective"):
                tails = pattern.tails
                if extra is not None and tails is _RU_TAILS:
                    tails = extra
                patterns.append(Pattern(pattern.key, tails))
        elif base == "ka":  # names and adjectives decline alike ("რუსულმა", "რუსული")
            patterns.extend(_georgian(spelling, syncope))
        else:
            patterns.append(Pattern(spelling, tails_for(base, form)))
    return list(dict.fromkeys(patterns))


def inflected_prefixes(word: str) -> tuple[str, ...]:
    """The starts that ``word``'s inflected forms share, read as an alias is read (``expand``;
    the language from the script, ``script_language``), in the word's own letters:
    "Армения" -> "Армени", "აფხაზეთი" -> "აფხაზეთ", "Ermənistan" -> "Ermənistan"; a word
    typed in a case form loses its ending: "России" -> "Росси". A Georgian stem that may
    syncopate has its short form too, folded: "საზღვარი" -> "საზღვარ", "საზღვრ".
    Empty for a word that does not inflect here (English, a stem under four letters, a
    word with other than letters) or whose folding changes its length, so that the key
    cannot be cut from it. Searches take them as prefixes (``projections``).
    """
    if not word.isalpha():
        return ()
    lang = script_language(word)
    patterns = expand(word, lang, "name" if lang != "en" else "term")
    short = [p.key for p in patterns[1:] if p.tails is _KA_SYNCOPE_TAILS]
    if len(patterns) - len(short) != 1:
        return ()
    key, tails = patterns[0]
    if tails is None or tails <= _PLURAL_TAILS:
        return ()
    folded = fold(word)
    if len(folded) != len(word) or not folded.startswith(key):
        return ()
    # the word as typed may be a case form itself ("России", "Հայաստանի", "Ermənistanın"):
    # its longest allowed ending comes off too, when a stem of four letters or more is left
    ending = max(
        (t for t in tails if t and folded.endswith(t) and len(folded) - len(t) >= _MIN_STEM),
        key=len,
        default="",
    )
    return (word[: min(len(key), len(folded) - len(ending))], *short)
