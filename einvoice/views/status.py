"""What ``einvoice status`` shows: is the service alive and is work piling up?

Last run of each scheduled job, queue sizes by invoice status, invoices awaiting a decision that
no office's inbox shows (their Leitweg-ID matches no route), documents waiting for the
validation engine (received, undecided: how many, and the oldest with its attempts and next
attempt), the last export batch, unsent notices and the most recent errors (failed job runs,
notices that could not be sent).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import RenderableType
from rich.text import Text
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from einvoice.config import DEFAULT_TIMEZONE
from einvoice.context import Context
from einvoice.pipeline.revalidate import Waiting, waiting
from einvoice.store.tables import ExportBatch, Invoice, JobRun, Notice
from einvoice.views.formatting import count, local_time, number, plain
from einvoice.views.labels import status_label
from einvoice.views.queries import INBOX_STATUSES, UNASSIGNED
from einvoice.views.tables import fixed, table, text
from einvoice.views.terminal import compose

JOBS = ("intake", "notify", "export")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _run(row: JobRun) -> dict[str, Any]:
    return {"job": row.job, "started_at": _iso(row.started_at),
            "finished_at": _iso(row.finished_at), "ok": row.ok, "detail": row.detail}


def service_status(ctx: Context, errors: int = 10) -> dict[str, Any]:
    """Everything ``einvoice status`` shows, as plain JSON-ready data."""
    with Session(ctx.engine) as s:
        latest = (select(JobRun.job, func.max(JobRun.id).label("id"))
                  .group_by(col(JobRun.job)).subquery())
        last_runs = s.exec(select(JobRun).join(latest, col(JobRun.id) == latest.c.id)).all()
        jobs: dict[str, Any] = {job: None for job in JOBS}
        for row in sorted(last_runs, key=lambda r: r.job):
            jobs[row.job] = _run(row)
        last_ok = dict(s.exec(select(JobRun.job, func.max(JobRun.started_at))
                              .where(col(JobRun.ok).is_(True))
                              .group_by(col(JobRun.job))).all())
        for job, run in jobs.items():
            if run is not None:
                run["last_ok_at"] = _iso(last_ok.get(job))
        queues = dict(s.exec(select(Invoice.status, func.count())
                             .group_by(col(Invoice.status))).all())
        unassigned = s.exec(select(func.count()).select_from(Invoice).where(
            col(Invoice.status).in_(INBOX_STATUSES),
            or_(col(Invoice.office).is_(None), col(Invoice.office) == UNASSIGNED))).one()
        batch = s.exec(select(ExportBatch).order_by(col(ExportBatch.id).desc()).limit(1)).first()
        failed = s.exec(select(JobRun).where(col(JobRun.ok).is_(False))
                        .order_by(col(JobRun.id).desc()).limit(errors)).all()
        unsent = s.exec(select(func.count()).select_from(Notice)
                        .where(col(Notice.sent_at).is_(None))).one()
        notice_errors = s.exec(select(Notice).where(col(Notice.sent_at).is_(None),
                                                    col(Notice.error).is_not(None))
                               .order_by(col(Notice.id).desc()).limit(errors)).all()
    recent: list[dict[str, Any]] = [
        {"source": f"job:{r.job}", "at": _iso(r.finished_at or r.started_at), "error": r.detail}
        for r in failed]
    recent += [{"source": f"notice:{n.id}", "at": _iso(n.created_at), "error": n.error}
               for n in notice_errors]
    recent.sort(key=lambda e: e["at"] or "", reverse=True)
    undecided = waiting(ctx.engine)
    return {
        "jobs": jobs,
        "queues": {k: int(v) for k, v in sorted(queues.items())},
        "unassigned": int(unassigned),
        "last_export": None if batch is None else {
            "id": batch.id, "created_at": _iso(batch.created_at), "folder": batch.folder,
            "invoice_count": batch.invoice_count,
            "gross_total": plain(batch.gross_total)},
        "notices_unsent": int(unsent),
        "errors": recent[:errors],
        "waiting": _waiting(undecided),
        "timezone": ctx.settings.timezone,  # of the times people read; the JSON's are UTC
    }


def _waiting(found: Waiting) -> dict[str, Any]:
    oldest = None if found.oldest_id is None else {
        "invoice_id": found.oldest_id, "received_at": _iso(found.oldest_received_at),
        "attempts": found.oldest_attempts, "next_attempt_at": _iso(found.oldest_next_at),
        "error": found.oldest_error}
    return {"count": found.count, "oldest": oldest}


def status_view(data: dict[str, Any]) -> list[RenderableType]:
    """The terminal view of ``service_status``: jobs, queues, unassigned, last export, errors;
    times in the local zone (``data["timezone"]``). Job details and errors may quote what
    arrived (a file name, an invoice number): shown as text, never markup."""
    zone = ZoneInfo(data.get("timezone") or DEFAULT_TIMEZONE)

    def when(value: str | None) -> str:
        return local_time(datetime.fromisoformat(value), zone) if value else "–"

    jobs = table("Aufträge / jobs", text("job"), fixed("letzter Lauf / last run", 16),
                 text("ok"), text("Einzelheiten / detail"))
    for job, r in data["jobs"].items():
        if r is None:
            jobs.add_row(job, "nie / never", "", "")
        else:
            ok = compose("läuft / running" if r["finished_at"] is None else (
                "ja / yes" if r["ok"] else ("NEIN / NO", "red")))
            jobs.add_row(job, when(r["started_at"]), ok, r["detail"] or "")
    queues = table("Warteschlangen / queues", text("Status"), fixed("Rechnungen / invoices",
                                                                   right=True))
    for name, n in data["queues"].items():
        queues.add_row(status_label(name), number(Decimal(n)))
    b: dict[str, Any] | None = data["last_export"]
    unassigned = compose(f"awaiting a decision in no office's inbox: {data['unassigned']}")
    if data["unassigned"]:
        unassigned.append(f" (einvoice inbox --office {UNASSIGNED})")
        unassigned.stylize("yellow")
    out: list[RenderableType] = [jobs, queues, unassigned, "last export: " + (
        "none" if b is None else f"batch {b['id']} at {when(b['created_at'])}, "
        f"{count(b['invoice_count'], 'invoice', 'invoices')}, "
        f"{number(None if b['gross_total'] is None else Decimal(b['gross_total']))} gross, "
        f"{b['folder']}"),
        f"notices not yet sent: {data['notices_unsent']}"]
    w: dict[str, Any] = data["waiting"]
    if w["count"]:
        o = w["oldest"]
        out.insert(3, Text(  # lines under 80 columns: a time is never broken
            f"waiting for the validation engine: {w['count']} (tried again, less often each "
            f"time)\n  oldest: invoice {o['invoice_id']}, received {when(o['received_at'])}"
            f"\n  {count(o['attempts'], 'attempt', 'attempts')}, next "
            f"{when(o['next_attempt_at'])} (einvoice show {o['invoice_id']})", style="yellow"))
    out += [compose((f"{when(e['at'])} {e['source']}", "red"), f": {e['error']}")
            for e in data["errors"]]
    return out
