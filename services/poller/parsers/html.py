"""HTML reduced to plain text: what goes into an article's ``summary`` and ``text``.

Scripts, styles and other non-content elements are dropped with their content; block
elements become line breaks; entities are decoded; runs of spaces collapse. The result is
plain text: it is never rendered as HTML anywhere (the dashboard escapes it).
"""

from __future__ import annotations

import html as html_lib
import re

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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def tidy(text: str) -> str:
    """Collapse spaces per line, drop empty lines and control characters."""
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(value: str | None) -> str:
    """Plain text from an HTML fragment or document (or from text that has no markup)."""
    if not value:
        return ""
    if not _MARKUP.search(value):
        return tidy(html_lib.unescape(value))
    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return tidy(html_lib.unescape(re.sub(r"<[^>]*>", " ", value)))
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
