"""Evidence highlighting without trusting the text: spans are computed on the original
text, each piece is escaped, and only our own ``<mark>`` tags are added around them."""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    """``text`` escaped, with ``<mark>`` around the (merged, clamped) spans."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out.append(str(escape(text[pos:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))  # noqa: S704 - every piece of text above is escaped
