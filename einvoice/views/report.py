"""The overview for the head of finance (``einvoice report``): are suppliers paid faster?

One self-contained HTML page (inline CSS, charts as inline SVG from ``views.charts``, no external
resources): invoices received per day and channel, the share rejected / invalid and the top
rule ids behind invalid invoices, time from receipt to approval (median, 90th percentile, from
the audit trail), invoices whose Skonto or due date falls within the next 7 days, and the
amounts exported per night. Days are calendar days in the ``timezone`` setting.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.lifecycle import Action, Status
from einvoice.store.tables import AuditEvent, Document, ExportBatch, Finding, Invoice, Submission
from einvoice.validation.findings import Level
from einvoice.views.charts import chart_approval, chart_exported, chart_received, chart_rules
from einvoice.views.formatting import day, duration, local_time, money, percent
from einvoice.views.labels import status_words

CLOSED = (Status.REJECTED, Status.INVALID, Status.DUPLICATE, Status.QUARANTINED,
          Status.CLOSED, Status.PAID)  # nothing is due on these
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
    """The numbers of the page (also useful without the HTML); days are local to ``zone``."""

    since: date
    today: date
    zone: ZoneInfo
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


def gather(ctx: Context, since: date, today: date | None = None) -> Overview:
    """Read the numbers for invoices received (and events happened) since ``since``."""
    zone = ctx.settings.zone
    today = today or datetime.now(zone).date()
    start = datetime.combine(since, time(), zone).astimezone(UTC)
    ov = Overview(since=since, today=today, zone=zone)

    def local_day(at: datetime) -> date:
        return at.astimezone(zone).date()

    with Session(ctx.engine) as s:
        rows = s.exec(select(Submission.received_at, Submission.channel, Invoice.status)
                      .join(Document, col(Document.id) == col(Invoice.document_id))
                      .join(Submission, col(Submission.id) == col(Document.submission_id))
                      .where(col(Submission.received_at) >= start)).all()
        for received_at, channel, status in rows:
            ov.per_day_channel.setdefault(local_day(received_at), Counter())[channel] += 1
            ov.by_status[status] += 1
        ov.received = len(rows)
        ov.top_rules = [(r, int(n)) for r, n in s.exec(
            select(Finding.rule_id, func.count(col(Finding.id)).label("n"))
            .join(Invoice, col(Invoice.id) == col(Finding.invoice_id))
            .where(col(Invoice.received_at) >= start, col(Finding.level) == Level.ERROR)
            .group_by(col(Finding.rule_id))
            .order_by(func.count(col(Finding.id)).desc(), col(Finding.rule_id))
            .limit(TOP_RULES)).all()]
        ov.approval_hours = _approval_hours(s, start)
        ov.due_soon = _due_soon(s, today)
        for created_at, gross, count in s.exec(
                select(ExportBatch.created_at, col(ExportBatch.gross_total),
                       ExportBatch.invoice_count)
                .where(col(ExportBatch.created_at) >= start)).all():
            night = local_day(created_at)
            ov.exported[night] = ov.exported.get(night, Decimal(0)) + (gross or Decimal(0))
            ov.exported_count[night] = ov.exported_count.get(night, 0) + count
    return ov


def _approval_hours(s: Session, start: datetime) -> list[float]:
    """Hours from the ingest event to the approval that made an invoice ``approved``, for
    approvals since ``start``."""
    approved: dict[int, datetime] = {}
    for inv_id, at in s.exec(select(AuditEvent.invoice_id, AuditEvent.at)
                             .where(col(AuditEvent.action) == Action.APPROVE,
                                    col(AuditEvent.after) == Status.APPROVED,
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


def render_report(ov: Overview, generated: datetime | None = None) -> str:
    """The HTML page for the numbers; times and days in the overview's zone."""
    generated = generated or datetime.now(UTC)
    return _env.get_template("overview.html").render(
        ov=ov, generated=local_time(generated, ov.zone),
        charts={"received": chart_received(ov.since, ov.today, ov.per_day_channel),
                "rules": chart_rules(ov.top_rules),
                "approval": chart_approval(ov.approval_hours, ov.median_hours, ov.p90_hours),
                "exported": chart_exported(ov.since, ov.today, ov.exported)},
        rejected_share=percent(ov.share(Status.REJECTED)),
        invalid_share=percent(ov.share(Status.INVALID, Status.QUARANTINED)),
        median=duration(ov.median_hours), p90=duration(ov.p90_hours),
        median_hours=None if ov.median_hours is None else round(ov.median_hours, 2),
        p90_hours=None if ov.p90_hours is None else round(ov.p90_hours, 2),
        exported_total=money(sum(ov.exported.values(), Decimal(0)), "EUR"),
        exported_nights=sorted(ov.exported.items()),
        money=lambda value, currency=None: money(value, currency) or "–",
        day=lambda d: day(d) or "–", status=lambda s: status_words(s).de)


def write_report(ctx: Context, since: date, output: Path, today: date | None = None) -> Overview:
    """Gather the numbers, render the page and write it to ``output``."""
    ov = gather(ctx, since, today)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(ov), encoding="utf-8")
    return ov
