"""Charts as inline SVG, rendered on the server: no script, no CDN, readable by screen
readers (each chart has a title and a text table beside it). Pure functions of the data.
"""

from __future__ import annotations

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
    title: str, items: Sequence[tuple[str, float]], *, unit: str = "", width: int = 420
) -> Markup:
    """Horizontal bars, one per labelled value, largest scale first."""
    if not items:
        return _empty(title, width)
    row, label_w = 22, 130
    height = PAD_TOP + row * len(items) + 8
    top = nice_max(max(v for _, v in items))
    plot = width - label_w - 50
    parts = [_open(title, width, height)]
    for i, (label, value) in enumerate(items):
        y = PAD_TOP + i * row
        w = plot * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="lbl">'
            f"{escape(_short(label, 20))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{color(0)}"><title>{escape(label)}: {_fmt(value)}{unit}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" class="val">{_fmt(value)}{unit}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(
    title: str,
    buckets: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    width: int = WIDTH,
) -> Markup:
    """One column per bucket (e.g. a day), stacked by series (e.g. exception type)."""
    if not buckets or not series:
        return _empty(title, width)
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    top = nice_max(max(totals))
    plot_w, plot_h = width - PAD_LEFT - 8, HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / len(buckets)
    bar = max(2.0, slot * 0.7)
    parts = [_open(title, width, HEIGHT), _y_axis(top, plot_h, width)]
    for i, bucket in enumerate(buckets):
        x = PAD_LEFT + i * slot + (slot - bar) / 2
        base = float(PAD_TOP + plot_h)
        for s, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{color(s)}"><title>{escape(bucket)} {escape(name)}: '
                f"{_fmt(value)}</title></rect>"
            )
        if len(buckets) <= 16 or i % max(1, len(buckets) // 8) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" '
                f'text-anchor="middle" class="lbl">{escape(bucket[5:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


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
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


def _empty(title: str, width: int = WIDTH) -> Markup:
    return Markup(
        f'{_open(title, width, 60)}<text x="{width / 2}" y="34" text-anchor="middle" '
        f'class="lbl">No data in this range</text></svg>'
    )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
