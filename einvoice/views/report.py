"""The overview for the head of finance (``einvoice report``): are suppliers paid faster?

One self-contained HTML page (inline CSS, charts as inline SVG made by matplotlib, no external
resources): invoices received per day and channel, the share rejected / invalid and the top
rule ids behind invalid invoices, time from receipt to approval (median, 90th percentile, from
the audit trail), invoices whose Skonto or due date falls within the next 7 days, and the
amounts exported per night. Days are calendar days in Europe/Berlin.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.store.tables import AuditEvent, Document, ExportBatch, Finding, Invoice, Submission

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BERLIN = ZoneInfo("Europe/Berlin")
CLOSED = ("rejected", "invalid", "duplicate", "quarantined")
TOP_RULES = 10
SOON_DAYS = 7

_env = Environment(loader=PackageLoader("einvoice", "templates"),
                   autoescape=select_autoescape(["html"]))


@dataclass
class Due:
    invoice_id: int
    number: str | None
    seller: str | None
    gross_total: Decimal | None
    currency: str | None
    status: str
    skonto_until: date | None
    pay_by: date | None


@dataclass
class Overview:
    """The numbers of the page (also useful without the HTML)."""

    since: date
    today: date
    received: int = 0
    per_day_channel: dict[date, Counter[str]] = field(default_factory=dict)
    by_status: Counter[str] = field(default_factory=Counter)
    top_rules: list[tuple[str, int]] = field(default_factory=list)
    approval_hours: list[float] = field(default_factory=list)
    due_soon: list[Due] = field(default_factory=list)
    exported: dict[date, Decimal] = field(default_factory=dict)
    exported_count: dict[date, int] = field(default_factory=dict)

    def share(self, *statuses: str) -> float:
        return sum(self.by_status[s] for s in statuses) / self.received if self.received else 0.0

    @property
    def median_hours(self) -> float | None:
        return percentile(self.approval_hours, 50)

    @property
    def p90_hours(self) -> float | None:
        return percentile(self.approval_hours, 90)


def percentile(values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (as numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _day(value: datetime) -> date:
    return value.astimezone(BERLIN).date()


def gather(ctx: Context, since: date, today: date | None = None) -> Overview:
    """Read the numbers for invoices received (and events happened) since ``since``."""
    today = today or datetime.now(BERLIN).date()
    start = datetime.combine(since, time(), BERLIN).astimezone(UTC)
    ov = Overview(since=since, today=today)
    with Session(ctx.engine) as s:
        rows = s.exec(select(Submission.received_at, Submission.channel, Invoice.status)
                      .join(Document, col(Document.id) == col(Invoice.document_id))
                      .join(Submission, col(Submission.id) == col(Document.submission_id))
                      .where(col(Submission.received_at) >= start)).all()
        for received_at, channel, status in rows:
            ov.per_day_channel.setdefault(_day(received_at), Counter())[channel] += 1
            ov.by_status[status] += 1
        ov.received = len(rows)
        ov.top_rules = [(r, int(n)) for r, n in s.exec(
            select(Finding.rule_id, func.count(col(Finding.id)).label("n"))
            .join(Invoice, col(Invoice.id) == col(Finding.invoice_id))
            .where(col(Invoice.received_at) >= start, col(Finding.level) == "error")
            .group_by(col(Finding.rule_id))
            .order_by(func.count(col(Finding.id)).desc(), col(Finding.rule_id))
            .limit(TOP_RULES)).all()]
        ov.approval_hours = _approval_hours(s, start)
        ov.due_soon = _due_soon(s, today)
        for created_at, gross, count in s.exec(
                select(ExportBatch.created_at, col(ExportBatch.gross_total),
                       ExportBatch.invoice_count)
                .where(col(ExportBatch.created_at) >= start)).all():
            night = _day(created_at)
            ov.exported[night] = ov.exported.get(night, Decimal(0)) + (gross or Decimal(0))
            ov.exported_count[night] = ov.exported_count.get(night, 0) + count
    return ov


def _approval_hours(s: Session, start: datetime) -> list[float]:
    """Hours from the ingest event to the approval that made an invoice ``approved``, for
    approvals since ``start``."""
    approved: dict[int, datetime] = {}
    for inv_id, at in s.exec(select(AuditEvent.invoice_id, AuditEvent.at)
                             .where(col(AuditEvent.action) == "approve",
                                    col(AuditEvent.after) == "approved",
                                    col(AuditEvent.at) >= start)).all():
        if inv_id is not None and (inv_id not in approved or at < approved[inv_id]):
            approved[inv_id] = at
    if not approved:
        return []
    received: dict[int, datetime] = {}
    ids = list(approved)
    for chunk in range(0, len(ids), 900):
        for inv_id, at in s.exec(select(AuditEvent.invoice_id, func.min(AuditEvent.at))
                                 .where(col(AuditEvent.action) == "ingest",
                                        col(AuditEvent.invoice_id).in_(ids[chunk:chunk + 900]))
                                 .group_by(col(AuditEvent.invoice_id))).all():
            if inv_id is not None:
                received[inv_id] = at
    return [(approved[i] - received[i]).total_seconds() / 3600 for i in ids if i in received]


def _due_soon(s: Session, today: date) -> list[Due]:
    until = today + timedelta(days=SOON_DAYS)
    rows = s.exec(select(Invoice).where(
        col(Invoice.status).not_in(CLOSED),
        ((col(Invoice.skonto_until) >= today) & (col(Invoice.skonto_until) <= until))
        | ((col(Invoice.pay_by) >= today) & (col(Invoice.pay_by) <= until)))).all()
    due = [Due(inv.id or 0, inv.number, inv.seller_name, inv.gross_total, inv.currency,
               inv.status, inv.skonto_until, inv.pay_by) for inv in rows]

    def first(d: Due) -> date:
        return min(x for x in (d.skonto_until, d.pay_by) if x is not None and x >= today)

    return sorted(due, key=lambda d: (first(d), d.invoice_id))


# ------------------------------------------------------------------ charts

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


def chart_received(ov: Overview) -> str:
    days = _days(ov.since, ov.today)
    channels = sorted({c for counts in ov.per_day_channel.values() for c in counts})
    fig = _figure()
    ax = fig.add_subplot()
    bottom = [0] * len(days)
    for i, channel in enumerate(channels):
        values = [ov.per_day_channel.get(d, Counter())[channel] for d in days]
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


def chart_rules(ov: Overview) -> str:
    rules = list(reversed(ov.top_rules))
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


def chart_approval(ov: Overview) -> str:
    hours = ov.approval_hours
    per, unit = _unit(hours)
    fig = _figure()
    ax = fig.add_subplot()
    if hours:
        ax.hist([h / per for h in hours], bins=min(30, max(5, len(hours) // 3)),
                color=_COLOURS[0])
        for value, label, style in ((ov.median_hours, "Median", "-"),
                                    (ov.p90_hours, "90 %", "--")):
            if value is not None:
                ax.axvline(value / per, color=_COLOURS[1], linestyle=style, linewidth=2,
                           label=f"{label}: {_duration(value)}")
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


def chart_exported(ov: Overview) -> str:
    days = _days(ov.since, ov.today)
    fig = _figure()
    ax = fig.add_subplot()
    ax.bar(range(len(days)), [float(ov.exported.get(d, 0)) for d in days], color=_COLOURS[2],
           width=0.8)
    _date_axis(ax, days)
    ax.set_ylabel("EUR brutto / gross")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _money(Decimal(int(v)), 0)))
    _style(ax)
    return _svg(fig)


# ------------------------------------------------------------------ the page

def _money(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{places}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def _duration(hours: float | None) -> str:
    if hours is None:
        return "–"
    if hours < 2:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h".replace(".", ",")
    return f"{hours / 24:.1f} Tage / days".replace(".", ",")


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %".replace(".", ",")


def render_report(ov: Overview, generated: datetime | None = None) -> str:
    """The HTML page for the numbers."""
    generated = generated or datetime.now(BERLIN)
    return _env.get_template("overview.html").render(
        ov=ov, generated=generated.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M"),
        charts={"received": chart_received(ov), "rules": chart_rules(ov),
                "approval": chart_approval(ov), "exported": chart_exported(ov)},
        rejected_share=_pct(ov.share("rejected")),
        invalid_share=_pct(ov.share("invalid", "quarantined")),
        median=_duration(ov.median_hours), p90=_duration(ov.p90_hours),
        median_hours=None if ov.median_hours is None else round(ov.median_hours, 2),
        p90_hours=None if ov.p90_hours is None else round(ov.p90_hours, 2),
        exported_total=_money(sum(ov.exported.values(), Decimal(0))),
        exported_nights=sorted(ov.exported.items()),
        money=_money, day=lambda d: d.strftime("%d.%m.%Y") if d else "–")


def write_report(ctx: Context, since: date, output: Path, today: date | None = None) -> Overview:
    """Gather the numbers, render the page and write it to ``output``."""
    ov = gather(ctx, since, today)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(ov), encoding="utf-8")
    return ov

