"""The charts of the overview report: matplotlib figures as inline SVG (text kept as text, no
metadata, fixed hash salt), so the page stays self-contained and the same numbers draw the same
bytes. matplotlib loads on first use: commands that draw no chart do not pay for it."""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from einvoice.views.formatting import duration, money

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLOURS = ["#1f5f99", "#e08a1e", "#3a9a5b", "#b8403a", "#7a5aa6", "#6b6b6b"]


def _figure(width: float = 8.0, height: float = 3.0) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (text kept as text: small and searchable)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "einvoice"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    # scale with the page: drop the fixed size, keep the viewBox
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="chart"', text,
                  count=1)


def _days(since: date, today: date) -> list[date]:
    last = max(today, since)
    return [since + timedelta(days=i) for i in range((last - since).days + 1)]


def _integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _date_axis(ax: Any, days: list[date]) -> None:
    step = max(1, math.ceil(len(days) / 12))
    ticks = list(range(0, len(days), step))
    ax.set_xticks(ticks, [days[i].strftime("%d.%m.") for i in ticks], fontsize=8)
    ax.set_xlim(-0.6, len(days) - 0.4)


def chart_received(since: date, today: date, per_day_channel: dict[date, Counter[str]]) -> str:
    """Invoices received per day, stacked by channel."""
    days = _days(since, today)
    channels = sorted({c for counts in per_day_channel.values() for c in counts})
    fig = _figure()
    ax = fig.add_subplot()
    bottom = [0] * len(days)
    for i, channel in enumerate(channels):
        values = [per_day_channel.get(d, Counter())[channel] for d in days]
        ax.bar(range(len(days)), values, bottom=bottom, label=channel,
               color=_COLOURS[i % len(_COLOURS)], width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _date_axis(ax, days)
    ax.set_ylabel("Rechnungen / invoices")
    ax.yaxis.set_major_locator(_integer_locator())
    _style(ax)
    if channels:
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _svg(fig)


def chart_rules(top_rules: list[tuple[str, int]]) -> str:
    """Error findings per rule id, the most frequent on top."""
    rules = list(reversed(top_rules))
    fig = _figure(8.0, max(1.6, 0.32 * len(rules) + 0.8))
    ax = fig.add_subplot()
    if rules:
        ax.barh([r for r, _ in rules], [n for _, n in rules], color=_COLOURS[3], height=0.6)
        ax.set_ylim(-0.8, len(rules) - 0.2)
        ax.xaxis.set_major_locator(_integer_locator())
        ax.tick_params(axis="y", labelsize=8)
    else:
        ax.text(0.5, 0.5, "keine / none", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("Befunde (Fehler) / error findings")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _unit(hours: list[float]) -> tuple[float, str]:
    """A readable unit for durations: (hours per unit, axis label)."""
    longest = max(hours, default=0.0)
    if longest < 2:
        return 1 / 60, "Minuten / minutes"
    if longest < 72:
        return 1.0, "Stunden / hours"
    return 24.0, "Tage / days"


def chart_approval(hours: list[float], median: float | None, p90: float | None) -> str:
    """Histogram of the hours from receipt to approval, with median and 90th percentile."""
    per, unit = _unit(hours)
    fig = _figure()
    ax = fig.add_subplot()
    if hours:
        ax.hist([h / per for h in hours], bins=min(30, max(5, len(hours) // 3)),
                color=_COLOURS[0])
        for value, label, style in ((median, "Median", "-"), (p90, "90 %", "--")):
            if value is not None:
                ax.axvline(value / per, color=_COLOURS[1], linestyle=style, linewidth=2,
                           label=f"{label}: {duration(value)}")
        ax.legend(frameon=False, fontsize=8)
        ax.yaxis.set_major_locator(_integer_locator())
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.set_xlim(left=0)
    else:
        ax.text(0.5, 0.5, "keine Freigaben / no approvals", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel(f"{unit} vom Eingang bis zur Freigabe / from receipt to approval")
    ax.set_ylabel("Rechnungen / invoices")
    _style(ax)
    return _svg(fig)


def chart_exported(since: date, today: date, exported: dict[date, Decimal]) -> str:
    """Gross amounts exported per night."""
    days = _days(since, today)
    fig = _figure()
    ax = fig.add_subplot()
    ax.bar(range(len(days)), [float(exported.get(d, 0)) for d in days], color=_COLOURS[2],
           width=0.8)
    _date_axis(ax, days)
    ax.set_ylabel("EUR brutto / gross")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: money(Decimal(int(v)), None)))
    _style(ax)
    return _svg(fig)
