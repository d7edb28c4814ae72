"""HTML reduced to plain text: what goes into an article's ``summary`` and ``text``.

Scripts, styles and other non-content elements are dropped with their content; block
elements become line breaks; entities are decoded; runs of spaces collapse. The result is
plain text: it is never rendered as HTML anywhere (the dashboard escapes it).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable

import ftfy
import lxml.etree
import lxml.html

_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head")
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "dl",
        "hr",
        "address",
        "aside",
        "main",
        "nav",
    ]
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_MARKUP = re.compile(r"<[A-Za-z!/?]")
# C0 controls and DEL, which lxml refuses; with C1 (what ftfy leaves of it has no
# Windows-1252 meaning), what no text keeps.
XML_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Only what undoes damage done before the text reached us: mojibake (UTF-8 read as
# Windows-1252, Latin-1, cp1251...; "Armeniaâ€™s" hides Armenia from the gazetteer), C1
# controls that stand for Windows-1252 punctuation, and terminal escape sequences. Quotes,
# ligatures, character widths, entities and normalisation stay as the publisher wrote them.
_REPAIR = ftfy.TextFixerConfig(
    unescape_html=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)


def repair(text: str) -> str:
    """Undo mojibake and C1 punctuation with ftfy, whose heuristics leave sound text alone."""
    return text if text.isascii() and "\x1b" not in text else ftfy.fix_text(text, _REPAIR)


def tidy(text: str) -> str:
    """Repair broken encodings, collapse spaces per line, drop empty lines and controls."""
    text = _CONTROL.sub("", repair(text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def author_names(values: Iterable[object]) -> tuple[str, ...]:
    """Author names as every parser keeps them: each tidied onto one line and cut at 200
    characters, at most 20; anything not a string, or empty, is left out. They are shown
    wherever the article is, so they get what titles get."""
    names = (" ".join(tidy(v).splitlines())[:200] for v in values if isinstance(v, str))
    return tuple(name for name in names if name)[:20]


#: Inline elements that only wrap text: dropped, their text kept.
_INLINE = frozenset(
    [
        "a",
        "b",
        "i",
        "u",
        "s",
        "em",
        "strong",
        "span",
        "small",
        "big",
        "sub",
        "sup",
        "abbr",
        "cite",
        "code",
        "q",
        "mark",
        "time",
        "font",
        "strike",
        "tt",
        "kbd",
        "var",
        "dfn",
    ]
)
#: Blocks that may hold other blocks without the parser restructuring anything.
_CONTAINERS = frozenset(["div", "section", "article", "blockquote", "aside", "main"])
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?:\s[^<>]*)?/?>")
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"'}


def _char(match: re.Match[str]) -> str:
    if match.group(1):
        return _NAMED[match.group(1)]
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    # C0/C1 controls, surrogates and beyond Unicode decode differently per parser: not here
    if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise ValueError(code)
    return chr(code)


def _nest(open_tags: list[str], tag: re.Match[str]) -> bool:
    """Track one tag on the stack of open ones; False when the fragment is not well nested
    (a stray end tag, a block inside a <p> or an inline element, a tag opened twice)."""
    closing, name = tag.group(1), tag.group(2).lower()
    if tag.group(0).endswith("/>") or (name not in _BLOCKS and name not in _INLINE):
        return False
    if closing:
        if not open_tags or open_tags[-1] != name:
            return False
        open_tags.pop()
        return True
    blocked = name in _BLOCKS and not all(t in _CONTAINERS for t in open_tags)
    if blocked or name in open_tags:
        return False
    open_tags.append(name)
    return True


def _decode_entities(text: str) -> str | None:
    if "&" not in text:
        return text
    if "&" in _ENTITY.sub("", text):
        return None
    try:
        return _ENTITY.sub(_char, text)
    except ValueError:
        return None


def _simple_markup_to_text(value: str) -> str | None:
    """The text of a fragment made only of block and inline tags, plain text and the common
    entities (the usual feed summary, ``<p>...</p>``), without building a tree: the same
    result as the lxml path (tests/unit/poller/test_html.py compares them), or None when the
    fragment holds anything else (scripts, comments, images, odd entities, stray ``<``)."""
    pieces: list[str] = []
    open_tags: list[str] = []
    pos = 0
    for match in _TAG.finditer(value):
        pieces.append(value[pos : match.start()])
        pos = match.end()
        name = match.group(2).lower()
        if name == "br" and not match.group(1):
            pieces.append("\n")
            continue
        if not _nest(open_tags, match):
            return None
        if name in _BLOCKS:
            pieces.append("\n")
    pieces.append(value[pos:])
    text = "".join(pieces)
    if open_tags or "<" in text:
        return None
    decoded = _decode_entities(text)
    return None if decoded is None else tidy(decoded)


def html_to_text(value: str | None) -> str:
    """Plain text from an HTML fragment or document (or from text that has no markup)."""
    if not value:
        return ""
    if not _MARKUP.search(value):
        return tidy(html_lib.unescape(value))
    simple = _simple_markup_to_text(value)
    if simple is not None:
        return simple
    return _tree_to_text(value)


def _tree_to_text(value: str) -> str:
    """The general path: lxml's HTML parser, whatever the fragment holds."""
    # control characters end up dropped anyway (tidy); left in, lxml refuses to set the
    # text around them (ValueError), which would lose the whole feed. C1 stays for tidy,
    # which reads it as Windows-1252 punctuation first.
    value = XML_REFUSED.sub("", value)
    # libxml2 stops at 256 levels of nesting unless told otherwise, and everything after
    # the deepest point was lost without a word (300 unclosed <b> emptied an item). With
    # huge_tree it reads 2,048; deeper still, the tags are stripped instead. One parser per
    # call: lxml parsers are not to be shared between threads.
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div", parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return _stripped(value)
    if any(e.type == lxml.etree.ErrorTypes.ERR_RESOURCE_LIMIT for e in parser.error_log):
        return _stripped(value)
    for bad in list(root.iter(*_DROP)):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
            if el.tag.lower() == "br":
                continue
            el.text = "\n" + (el.text or "")
    lxml.etree.strip_elements(
        root, lxml.etree.Comment, lxml.etree.ProcessingInstruction, with_tail=False
    )
    return tidy(root.text_content())


def _stripped(value: str) -> str:
    """The text of markup lxml cannot read whole: every tag becomes a space."""
    return tidy(html_lib.unescape(re.sub(r"<[^>]*>", " ", value)))
