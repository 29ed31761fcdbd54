"""Recording a batch: the one transaction after which it counts, and reading it back.

The transaction inserts the ``ExportBatch`` row (with the manifest's SHA-256), sets the
invoices ``exported`` with the batch id, appends one audit event per invoice carrying the
accounts it was booked on (and the rate to EUR of a foreign currency) and one batch event
carrying the DATEV settings used and the audit chain's head its manifest anchors. The update
takes only invoices still ``approved`` and in no batch: if any of the batch's invoices changed
since it was planned (or a batch with its id appeared), :class:`Stale` is raised and nothing is
recorded, so the folder written from the old state must be discarded.

``recorded`` rebuilds a batch from exactly what this transaction kept (record, invoices, audit
events), never from the current settings or supplier data, so ``rewrite`` reproduces the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.export import BatchInfo, DatevParams
from einvoice.export.plan import Batch, Booking, ExportError, entries
from einvoice.lifecycle import Status
from einvoice.store import chain, retry
from einvoice.store import tables as t
from einvoice.store.types import utcnow
from einvoice.views.formatting import plain

_CHUNK = 500  # invoice ids per UPDATE (bound parameters are limited)


class Stale(Exception):
    """An invoice of the batch changed (or a batch with the id appeared) before the commit."""


@dataclass(frozen=True)
class Recorded:
    """A batch as recorded: enough to write its folder again, and the digest it must match."""

    batch: Batch
    manifest_sha256: str


def record(ctx: Context, batch: Batch, folder: Path, manifest_sha256: str) -> None:
    """Commit ``batch`` (published at ``folder``); raises :class:`Stale` as described above."""
    now = utcnow()
    for attempt in range(retry.ATTEMPTS):
        try:
            with ctx.engine.begin() as conn:
                _commit(conn, batch, folder, manifest_sha256, now)
            return
        except (IntegrityError, OperationalError):
            retry.pause(attempt)  # the audit chain head moved: try again
    raise ExportError("could not record the export batch (database busy); nothing exported")


def _commit(conn: Connection, batch: Batch, folder: Path, manifest_sha256: str,
            now: datetime) -> None:
    info = batch.info
    if conn.execute(select(t.ExportBatch.id).where(
            col(t.ExportBatch.id) == info.batch_id)).first() is not None:
        raise Stale
    conn.execute(insert(t.ExportBatch), {
        "id": info.batch_id, "created_at": info.created_at, "folder": str(folder),
        "invoice_count": len(batch.entries), "gross_total": batch.gross_total,
        "manifest_sha256": manifest_sha256, "actor": info.actor})
    ids = batch.invoice_ids
    changed = 0
    for start in range(0, len(ids), _CHUNK):
        changed += conn.execute(
            update(t.Invoice)
            .where(col(t.Invoice.id).in_(ids[start:start + _CHUNK]),
                   col(t.Invoice.status) == Status.APPROVED,
                   col(t.Invoice.export_batch_id).is_(None))
            .values(status=Status.EXPORTED, export_batch_id=info.batch_id,
                    version=col(t.Invoice.version) + 1, updated_at=now)).rowcount
    if changed != len(ids):
        raise Stale
    for item in batch.items:
        rate = {} if item.eur_rate is None else {"eur_rate": plain(item.eur_rate)}
        chain.append(conn, invoice_id=item.invoice_id, actor=info.actor, action="export",
                     before=Status.APPROVED, after=Status.EXPORTED,
                     detail={"batch": info.batch_id, "creditor": item.creditor,
                             "account": item.account, "cost_centre": item.cost_centre} | rate)
    chain.append(conn, invoice_id=None, actor=info.actor, action="export-batch", before=None,
                 after=None, detail={"batch": info.batch_id, "folder": info.folder,
                                     "manifest_sha256": manifest_sha256,
                                     "datev": batch.params.to_json(),
                                     "invoices": len(batch.entries)} | _head(batch))
    if conn.dialect.name == "postgresql":  # ids are chosen here: keep the sequence ahead
        conn.execute(text("SELECT setval(pg_get_serial_sequence('exportbatch', 'id'), "
                          "(SELECT max(id) FROM exportbatch))"))


def _head(batch: Batch) -> dict[str, Any]:
    """The chain head the manifest anchors, kept for ``rewrite`` (older batches have none)."""
    return {} if batch.head is None else {"head": batch.head.to_json()}


def recorded(ctx: Context, batch_id: int) -> Recorded:
    """The recorded batch ``batch_id``, rebuilt from its record and audit events."""
    with Session(ctx.engine) as s:
        row = s.get(t.ExportBatch, batch_id)
        if row is None:
            raise NotFound(f"no export batch {batch_id}")
        invoices = list(s.exec(select(t.Invoice).where(col(t.Invoice.export_batch_id) == batch_id)
                               .order_by(col(t.Invoice.id))).all())
        events = s.exec(select(t.AuditEvent).where(
            col(t.AuditEvent.action).in_(["export", "export-batch"]))
            .order_by(col(t.AuditEvent.id))).all()
        bookings: dict[int, Booking] = {}
        params: DatevParams | None = None
        head: chain.Head | None = None
        for ev in events:
            detail = json.loads(ev.detail) if ev.detail else {}
            if detail.get("batch") != batch_id:
                continue
            if ev.action == "export" and ev.invoice_id is not None:
                rate = detail.get("eur_rate")  # only foreign currencies, since they have one
                bookings[ev.invoice_id] = Booking(detail["creditor"], detail["account"],
                                                  detail["cost_centre"],
                                                  None if rate is None else Decimal(rate))
            elif ev.action == "export-batch":
                params = DatevParams.from_json(detail["datev"])
                head = chain.Head.from_json(detail["head"]) if "head" in detail else None
        if params is None or any(inv.id not in bookings for inv in invoices):
            raise ExportError(f"batch {batch_id}: the audit trail lacks its export events")
        info = BatchInfo(batch_id, row.created_at, row.actor, Path(row.folder).name)
        return Recorded(Batch(info, params, entries(ctx, s, invoices, bookings), head),
                        row.manifest_sha256)
