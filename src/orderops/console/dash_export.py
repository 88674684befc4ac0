"""One chart of the dashboards as CSV: a header row, one row per bar.

Keys come from outside (a SKU, a customer's name, a decline code), so a cell a
spreadsheet would run as a formula is written as text, with a leading quote, as the
usage export does (``metering/usage_report.py``).
"""

from __future__ import annotations

import csv
import io

from orderops.console.dash_figures import Chart

HEADER = ["chart", "key", "value", "unit", "cases", "note"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def chart_csv(chart: Chart) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for bar in chart.bars:
        value = f"{bar.value:.0f}" if bar.value == int(bar.value) else f"{bar.value:.2f}"
        writer.writerow(
            [chart.slug, safe_cell(bar.key), value, chart.unit, len(bar.cases), safe_cell(bar.note)]
        )
    return out.getvalue()
