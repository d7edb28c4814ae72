"""Bar charts as inline SVG geometry, computed here and drawn by the template (no script,
no library): a list of bars with their box, label and value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    peak: int


def bar_chart(
    title: str, points: list[tuple[str, int]], *, width: int = 600, height: int = 140
) -> Chart:
    peak = max((v for _, v in points), default=0)
    n = max(1, len(points))
    slot = width / n
    bars = []
    for i, (label, value) in enumerate(points):
        h = 0.0 if peak == 0 else (height - 4) * value / peak
        bars.append(
            Bar(
                x=round(i * slot + 1, 2),
                y=round(height - h, 2),
                width=round(max(1.0, slot - 2), 2),
                height=round(h, 2),
                label=label,
                value=value,
            )
        )
    return Chart(title, width, height, bars, peak)
