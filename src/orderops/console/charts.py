"""Charts as inline SVG, rendered on the server: no script, no CDN, readable by screen
readers (each chart has a title and a text table beside it). Pure functions of the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#475569",
    "#ea580c",
)
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 1100, 220, 44, 36, 12
CHAR_W = 7.0
"""A generous width of one 11px character (capitals, digits), for fitting labels."""
PHONE_WIDTH = 360
"""A phone chart's own width: drawn at about the size a 390 px screen shows it, so its
11 px labels stay 11 px instead of shrinking with a desk-wide drawing."""


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def hbar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = PHONE_WIDTH,
    texts: Sequence[str] | None = None,
    links: Sequence[str] | None = None,
) -> Markup:
    """Horizontal bars, one per labelled value, largest scale first. ``texts`` replace the
    printed values (``25 min``, ``$1,204.00``); ``links`` make each bar's row a link to
    the cases behind it. All zeros is no data: an empty chart says so."""
    if not items or not any(v for _, v in items):
        return _empty(title, width)
    row, label_w = 22, 130
    height = PAD_TOP + row * len(items) + 8
    top = nice_max(max(v for _, v in items))
    shown_all = list(texts) if texts is not None else [f"{_fmt(v)}{unit}" for _, v in items]
    # the printed values sit right of their bars: the longest decides the plot's width
    plot = max(100.0, width - label_w - 12 - CHAR_W * max(len(t) for t in shown_all))
    parts = [_open(title, width, height)]
    for i, (label, value) in enumerate(items):
        y = PAD_TOP + i * row
        w = plot * value / top
        shown = shown_all[i]
        bar = (
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="lbl">'
            f"{escape(_short(label, int((label_w - 8) // CHAR_W)))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{color(0)}"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" class="val">{escape(shown)}</text>'
        )
        parts.append(_linked(bar, links[i] if links is not None else None, label))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(
    title: str,
    buckets: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    width: int = WIDTH,
    links: Sequence[str] | None = None,
) -> Markup:
    """One column per bucket (e.g. a day), stacked by series (e.g. exception type); a
    column links to its cases when ``links`` are given. Axis labels are thinned to what
    fits the column width, so they never overlap."""
    if not buckets or not series:
        return _empty(title, width)
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    if not any(totals):
        return _empty(title, width)
    top = nice_max(max(totals))
    plot_w, plot_h = width - PAD_LEFT - 8, HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / len(buckets)
    bar = max(2.0, slot * 0.7)
    every = tick_step(slot, max(len(_tick(b)) for b in buckets))
    parts = [_open(title, width, HEIGHT), _y_axis(top, plot_h, width)]
    for i, bucket in enumerate(buckets):
        x = PAD_LEFT + i * slot + (slot - bar) / 2
        base = float(PAD_TOP + plot_h)
        column = []
        for s, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            column.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{color(s)}"><title>{escape(bucket)} {escape(name)}: '
                f"{_fmt(value)}</title></rect>"
            )
        if column:
            link = links[i] if links is not None else None
            parts.append(_linked("".join(column), link, f"{bucket}: {_fmt(totals[i])}"))
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" '
                f'text-anchor="middle" class="lbl">{escape(_tick(bucket))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_rows(
    title: str,
    buckets: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    width: int = PHONE_WIDTH,
    links: Sequence[str] | None = None,
) -> Markup:
    """``stacked_columns`` turned on its side for a phone: one row per bucket, its label
    left of a horizontal stacked bar and its total right of it. Rows never share a line,
    so no label can overlap another however many buckets there are."""
    if not buckets or not series:
        return _empty(title, width)
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    if not any(totals):
        return _empty(title, width)
    row, label_w = 22, 8 + CHAR_W * max(len(_tick(b)) for b in buckets)
    top = nice_max(max(totals))
    plot = width - label_w - 12 - CHAR_W * max(len(_fmt(t)) for t in totals)
    height = PAD_TOP + row * len(buckets) + 8
    parts = [_open(title, width, height)]
    for i, bucket in enumerate(buckets):
        y = PAD_TOP + i * row
        x = label_w
        cells = []
        for s, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            w = plot * value / top
            cells.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                f'fill="{color(s)}"><title>{escape(bucket)} {escape(name)}: '
                f"{_fmt(value)}</title></rect>"
            )
            x += w
        line = (
            f'<text x="{label_w - 6:.1f}" y="{y + 15}" text-anchor="end" class="lbl">'
            f"{escape(_tick(bucket))}</text>{''.join(cells)}"
            f'<text x="{x + 4:.1f}" y="{y + 15}" class="val">{_fmt(totals[i])}</text>'
        )
        link = links[i] if links is not None and totals[i] else None
        parts.append(_linked(line, link, f"{bucket}: {_fmt(totals[i])}"))
    parts.append("</svg>")
    return Markup("".join(parts))


def for_any_width(wide: Markup, narrow: Markup) -> Markup:
    """Both drawings of one chart; the stylesheet shows the one that fits the screen
    (``.for-wide`` / ``.for-phone``), the other is ``display: none`` and so out of the
    accessibility tree too."""
    return Markup(f'<div class="for-wide">{wide}</div><div class="for-phone">{narrow}</div>')


def tick_step(slot: float, chars: int, *, char_width: float = CHAR_W, gap: float = 8.0) -> int:
    """Label every n-th column so labels of ``chars`` characters never overlap."""
    return max(1, math.ceil((chars * char_width + gap) / slot))


def legend(names: Sequence[str]) -> Markup:
    items = "".join(
        f'<li><span class="swatch" style="background:{color(i)}"></span>{escape(n)}</li>'
        for i, n in enumerate(names)
    )
    return Markup(f'<ul class="legend">{items}</ul>')


def _y_axis(top: float, plot_h: float, width: int) -> str:
    lines = []
    for step in range(5):
        value = top * step / 4
        y = PAD_TOP + plot_h - plot_h * step / 4
        lines.append(
            f'<line x1="{PAD_LEFT}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="lbl">'
            f"{_fmt(value)}</text>"
        )
    return "".join(lines)


def _open(title: str, width: int, height: int) -> str:
    # A group, not an image: its bars are drill-down links, and an image's parts are hidden
    # from assistive technology (axe-core: nested-interactive), so the links would be lost.
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="group" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


EMPTY = "No data in this period"


def _empty(title: str, width: int = WIDTH) -> Markup:
    return Markup(
        f'{_open(title, width, 60)}<text x="{width / 2}" y="34" text-anchor="middle" '
        f'class="lbl">{EMPTY}</text></svg>'
    )


def _linked(body: str, href: str | None, label: str) -> str:
    if href is None:
        return body
    return f'<a href="{escape(href)}" aria-label="{escape(label)}: list the cases">{body}</a>'


def _tick(bucket: str) -> str:
    """A day ``2026-11-20`` reads ``11-20`` under its column."""
    return bucket[5:] if len(bucket) == 10 and bucket[4] == "-" else bucket


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
