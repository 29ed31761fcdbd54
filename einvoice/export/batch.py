"""The nightly export batch: every approved invoice goes to accounting exactly once.

Order of work (one exporter at a time: ``store.locks.named_lock``, on PostgreSQL an advisory
lock, so exporters on several machines wait for each other):

1. Clean up what a killed run left: folders named ``.tmp-*`` are deleted; a ``batch-<id>-…``
   folder whose id has no ``ExportBatch`` row (renamed, but the database commit never came) is
   first renamed to ``.tmp-…`` and then deleted; its invoices are still ``approved`` and go again.
2. Pick the approved invoices not yet in a batch (by id), the batch id (highest recorded + 1) and
   its time.
3. Write the batch into ``.tmp-batch-<id>-<random>``: the DATEV file(s), ``invoices.csv``,
   ``invoices.jsonl``, ``originals/`` (the archived bytes unchanged, named by invoice) and
   ``manifest.json`` (SHA-256 and size of every other file, the invoices, totals and the DATEV
   settings); fsync every file and folder; rename to ``batch-<id>-<YYYYMMDD>``; fsync the parent.
4. One transaction: insert the ``ExportBatch`` (with the manifest's SHA-256), set the invoices
   ``exported`` with the batch id (only where still ``approved`` and in no batch: otherwise the
   folder is discarded and the run starts again), one audit event per invoice carrying the
   accounts it was booked on, and one batch event carrying the DATEV settings used.

A kill before the rename leaves only a ``.tmp-`` folder; a kill between rename and commit leaves
a complete folder that no record claims, removed by the next run; after the commit the batch is
done. So a batch is complete or absent, and no invoice is exported twice or lost.

Everything written derives from the database (batch record, invoices, the audit events of the
export) and the archive, never from the clock or the current settings, so ``rewrite`` writes a
lost batch again byte for byte and checks that against the recorded manifest SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from einvoice.context import Context
from einvoice.errors import EinvoiceError, NotFound
from einvoice.export import BatchInfo, DatevParams, ExportItem, LineBooking, datev, neutral
from einvoice.export.folders import (
    TMP_PREFIX,
    discard,
    folder_name,
    publish,
    safe_name,
)
from einvoice.lifecycle import Status
from einvoice.model import Invoice as InvoiceModel
from einvoice.store import chain, retry
from einvoice.store import tables as t
from einvoice.store.durable import fsync_dir, write_file
from einvoice.store.types import utcnow
from einvoice.views.queries import supplier_for

APPROVED, EXPORTED = Status.APPROVED, Status.EXPORTED
MANIFEST = "manifest.json"
EXPORT_LOCK = "export-batch"  # one exporter at a time, also across machines
_BATCH_DIR = re.compile(r"^batch-(\d+)(?:-|$)")


class ExportError(EinvoiceError):
    """The batch could not be written or recorded; nothing was marked exported."""


@dataclass
class Planned:
    """One invoice that would go (``--dry-run``)."""

    invoice_id: int
    number: str | None
    seller: str | None
    type_code: str | None
    gross_total: Decimal | None
    currency: str | None
    creditor: str
    account: str
    cost_centre: str | None


@dataclass
class ExportResult:
    batch_id: int | None = None
    folder: Path | None = None
    invoice_ids: list[int] = field(default_factory=list)
    gross_total: Decimal = Decimal(0)
    files: list[str] = field(default_factory=list)
    manifest_sha256: str | None = None
    cleaned: list[str] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # recorded batches whose folder is missing
    planned: list[Planned] = field(default_factory=list)
    dry_run: bool = False
    rewritten: bool = False

    @property
    def id(self) -> int | None:
        return self.batch_id

    @property
    def invoice_count(self) -> int:
        return len(self.invoice_ids)

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "folder": str(self.folder) if self.folder else None,
                "invoice_ids": self.invoice_ids, "invoice_count": len(self.invoice_ids),
                "gross_total": f"{self.gross_total:f}", "files": self.files,
                "manifest_sha256": self.manifest_sha256, "cleaned": self.cleaned,
                "lost": self.lost, "dry_run": self.dry_run, "rewritten": self.rewritten,
                "planned": [p.__dict__ | {"gross_total": None if p.gross_total is None
                                          else f"{p.gross_total:f}"} for p in self.planned]}


def recover(ctx: Context) -> tuple[list[str], list[int]]:
    """Delete temporary and unrecorded batch folders (call under the lock); returns the
    removed folder names and the recorded batches whose folder is missing."""
    root = ctx.settings.export_path
    with Session(ctx.engine) as s:
        recorded = {b.id: Path(b.folder).name for b in s.exec(select(t.ExportBatch)).all()}
    cleaned: list[str] = []
    present: set[str] = set()
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if not entry.is_dir():
            continue
        if entry.name.startswith(TMP_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
            cleaned.append(entry.name)
            continue
        m = _BATCH_DIR.match(entry.name)
        if m is None:
            continue
        if recorded.get(int(m.group(1))) == entry.name:
            present.add(entry.name)
        else:
            discard(root, entry)
            cleaned.append(entry.name)
    lost = sorted(bid for bid, name in recorded.items() if bid is not None
                  and name not in present)
    return cleaned, lost


# ------------------------------------------------------------------ what goes

def _acct(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value.isdigit() and len(value) <= 9 else None


def params_from_settings(ctx: Context) -> DatevParams:
    s = ctx.settings
    return DatevParams(adviser=s.datev_adviser, client=s.datev_client, chart=s.datev_chart,
                       account_length=s.datev_account_length,
                       fiscal_year_start=s.datev_fiscal_year_start,
                       tax_keys=dict(s.datev_tax_keys), per_line=s.datev_per_line)


def _candidates(s: Session) -> list[t.Invoice]:
    return list(s.exec(select(t.Invoice).where(col(t.Invoice.status) == APPROVED,
                                               col(t.Invoice.export_batch_id).is_(None))
                       .order_by(col(t.Invoice.id))).all())


def _booking(ctx: Context, s: Session, inv: t.Invoice) -> dict[str, str | None]:
    supplier = supplier_for(s, inv.seller_vat_id, inv.seller_name)
    return {
        "creditor": _acct(supplier.creditor_account if supplier else None)
        or ctx.settings.datev_default_creditor,
        "account": _acct(inv.account) or _acct(supplier.account if supplier else None)
        or ctx.settings.datev_default_account,
        "cost_centre": inv.cost_centre or (supplier.cost_centre if supplier else None)}


def _items(ctx: Context, s: Session, invoices: Sequence[t.Invoice],
           bookings: dict[int, dict[str, Any]], status: str = EXPORTED,
           ) -> tuple[list[ExportItem], dict[int, list[tuple[str, str]]]]:
    """The export items and, per invoice, its originals as (file name, archive digest)."""
    ids = [inv.id for inv in invoices if inv.id is not None]
    docs = {d.id: d for d in s.exec(select(t.Document).where(col(t.Document.id).in_(
        [inv.document_id for inv in invoices]))).all()}
    lines: dict[int, list[LineBooking]] = {}
    for ln in s.exec(select(t.InvoiceLine).where(col(t.InvoiceLine.invoice_id).in_(ids))
                     .order_by(col(t.InvoiceLine.invoice_id), col(t.InvoiceLine.position))):
        lines.setdefault(ln.invoice_id, []).append(
            LineBooking(ln.position, _acct(ln.account), ln.cost_centre))
    items: list[ExportItem] = []
    originals: dict[int, list[tuple[str, str]]] = {}
    for inv in invoices:
        assert inv.id is not None
        if inv.model_json is None:
            raise ExportError(f"invoice {inv.id} has no readable invoice data")
        model = InvoiceModel.model_validate_json(inv.model_json)
        doc = docs[inv.document_id]
        base = f"{inv.id:06d}_{safe_name(model.number)}"
        head = ctx.archive.get(doc.sha256)[:5]
        files = [(f"originals/{base}{'.pdf' if head.startswith(b'%PDF') else '.xml'}",
                  doc.sha256)]
        if doc.xml_sha256 and doc.xml_sha256 != doc.sha256:
            files.append((f"originals/{base}.xml", doc.xml_sha256))
        originals[inv.id] = files
        b = bookings[inv.id]
        items.append(ExportItem(
            invoice_id=inv.id, model=model, creditor=str(b["creditor"]),
            account=str(b["account"]), cost_centre=b["cost_centre"],
            assigned_account=inv.account, assigned_cost_centre=inv.cost_centre,
            lines=tuple(lines.get(inv.id, [])), original_sha256=doc.sha256,
            xml_sha256=doc.xml_sha256, files=tuple(name for name, _ in files),
            pay_by=inv.pay_by or model.due_date, status=status))
    return items, originals


def plan(ctx: Context) -> list[Planned]:
    """What the next export would take (nothing is written)."""
    with Session(ctx.engine) as s:
        out = []
        for inv in _candidates(s):
            assert inv.id is not None
            b = _booking(ctx, s, inv)
            out.append(Planned(inv.id, inv.number, inv.seller_name, inv.type_code,
                               inv.gross_total, inv.currency, str(b["creditor"]),
                               str(b["account"]), b["cost_centre"]))
        return out


# ------------------------------------------------------------------ writing a batch

def _write_batch(ctx: Context, items: Sequence[ExportItem],
                 originals: dict[int, list[tuple[str, str]]], params: DatevParams,
                 info: BatchInfo) -> tuple[Path, str, list[str]]:
    """Write the batch into a fresh temporary folder; returns (folder, manifest SHA-256, files).
    """
    root = ctx.settings.export_path
    tmp = root / f"{TMP_PREFIX}batch-{info.batch_id:06d}-{uuid.uuid4().hex[:12]}"
    tmp.mkdir(parents=True)
    (tmp / "originals").mkdir()
    listed: dict[str, dict[str, Any]] = {}

    def put(name: str, data: bytes) -> None:
        write_file(tmp / name, data)
        listed[name] = {"name": name, "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data)}

    for name, data in datev.write(items, params, info).items():
        put(name, data)
    put("invoices.csv", neutral.write_csv(items, info))
    put("invoices.jsonl", neutral.write_jsonl(items, info))
    for item in items:
        for name, digest in originals[item.invoice_id]:
            put(name, ctx.archive.get(digest))
    fsync_dir(tmp / "originals")
    totals: dict[str, Decimal] = {}
    for item in items:
        cur = item.model.currency or ""
        totals[cur] = totals.get(cur, Decimal(0)) + item.signed_gross
    manifest = {
        "format": "einvoice-export/1", "batch": info.batch_id,
        "created_at": info.created_at.astimezone(UTC).isoformat(), "actor": info.actor,
        "folder": info.folder, "invoice_count": len(items),
        "gross_total": f"{sum((i.signed_gross for i in items), Decimal(0)):f}",
        "totals_by_currency": {k: f"{v:f}" for k, v in sorted(totals.items())},
        "datev": params.to_json(),
        "invoices": [{"id": i.invoice_id, "number": i.model.number,
                      "type_code": i.model.type_code, "credit_note": i.model.is_credit_note,
                      "currency": i.model.currency,
                      "gross_total": None if i.model.totals.with_vat is None
                      else f"{i.model.totals.with_vat:f}",
                      "original_sha256": i.original_sha256, "xml_sha256": i.xml_sha256,
                      "files": list(i.files)} for i in items],
        "files": [listed[name] for name in sorted(listed)],
    }
    data = (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    write_file(tmp / MANIFEST, data)
    fsync_dir(tmp)
    return tmp, hashlib.sha256(data).hexdigest(), sorted([*listed, MANIFEST])


class _Stale(Exception):
    """An invoice of the batch changed (or a batch with the id appeared) before the commit."""


def _record(ctx: Context, info: BatchInfo, final: Path, items: Sequence[ExportItem],
            manifest_sha: str, params: DatevParams) -> None:
    ids = [i.invoice_id for i in items]
    now = utcnow()
    for attempt in range(retry.ATTEMPTS):
        try:
            with ctx.engine.begin() as conn:
                _commit(conn, info, final, items, ids, manifest_sha, params, now)
            return
        except _Stale:
            raise
        except (IntegrityError, OperationalError):
            retry.pause(attempt)  # the audit chain head moved: try again
    raise ExportError("could not record the export batch (database busy); nothing exported")


def _commit(conn: Connection, info: BatchInfo, final: Path, items: Sequence[ExportItem],
            ids: list[int], manifest_sha: str, params: DatevParams, now: datetime) -> None:
    if conn.execute(select(t.ExportBatch.id).where(
            col(t.ExportBatch.id) == info.batch_id)).first() is not None:
        raise _Stale
    conn.execute(insert(t.ExportBatch), {
        "id": info.batch_id, "created_at": info.created_at, "folder": str(final),
        "invoice_count": len(items),
        "gross_total": sum((i.signed_gross for i in items), Decimal(0)),
        "manifest_sha256": manifest_sha, "actor": info.actor})
    changed = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        changed += conn.execute(
            update(t.Invoice)
            .where(col(t.Invoice.id).in_(chunk), col(t.Invoice.status) == APPROVED,
                   col(t.Invoice.export_batch_id).is_(None))
            .values(status=EXPORTED, export_batch_id=info.batch_id,
                    version=col(t.Invoice.version) + 1, updated_at=now)).rowcount
    if changed != len(ids):
        raise _Stale
    for item in items:
        chain.append(conn, invoice_id=item.invoice_id, actor=info.actor, action="export",
                     before=APPROVED, after=EXPORTED,
                     detail={"batch": info.batch_id, "creditor": item.creditor,
                             "account": item.account, "cost_centre": item.cost_centre})
    chain.append(conn, invoice_id=None, actor=info.actor, action="export-batch", before=None,
                 after=None, detail={"batch": info.batch_id, "folder": info.folder,
                                     "manifest_sha256": manifest_sha,
                                     "datev": params.to_json(), "invoices": len(items)})
    if conn.dialect.name == "postgresql":  # ids are chosen here: keep the sequence ahead
        conn.execute(text("SELECT setval(pg_get_serial_sequence('exportbatch', 'id'), "
                          "(SELECT max(id) FROM exportbatch))"))


def export(ctx: Context, actor: str, *, dry_run: bool = False) -> ExportResult:
    """Export every approved invoice not yet exported into one new batch (or nothing)."""
    if dry_run:
        return ExportResult(planned=plan(ctx), dry_run=True)
    root = ctx.settings.export_path
    with ctx.lock(EXPORT_LOCK):
        cleaned, lost = recover(ctx)
        for _attempt in range(5):
            result = _export_once(ctx, actor, root)
            if result is not None:
                result.cleaned, result.lost = cleaned, lost
                return result
        raise ExportError("invoices kept changing while the batch was written; try again")


def run_export(ctx: Context, actor: str) -> ExportResult | None:
    """The nightly job's entry point: the new batch, or None when nothing was approved."""
    result = export(ctx, actor)
    return result if result.batch_id is not None else None


def _export_once(ctx: Context, actor: str, root: Path) -> ExportResult | None:
    params = params_from_settings(ctx)
    with Session(ctx.engine) as s:
        invoices = _candidates(s)
        if not invoices:
            return ExportResult()
        batch_id = (s.exec(select(func.max(t.ExportBatch.id))).one() or 0) + 1
        created = utcnow()
        created = created.replace(microsecond=created.microsecond // 1000 * 1000)
        info = BatchInfo(batch_id, created, actor, folder_name(batch_id, created))
        bookings = {inv.id: _booking(ctx, s, inv) for inv in invoices if inv.id is not None}
        items, originals = _items(ctx, s, invoices, bookings)
    tmp, manifest_sha, files = _write_batch(ctx, items, originals, params, info)
    try:
        final = publish(root, tmp, info.folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _record(ctx, info, final, items, manifest_sha, params)
    except _Stale:
        discard(root, final)
        return None
    except BaseException:
        discard(root, final)
        raise
    return ExportResult(batch_id, final, [i.invoice_id for i in items],
                        sum((i.signed_gross for i in items), Decimal(0)), files, manifest_sha)


# ------------------------------------------------------------------ a lost batch again

def _recorded(ctx: Context, s: Session, batch_id: int
              ) -> tuple[t.ExportBatch, list[t.Invoice], dict[int, dict[str, Any]], DatevParams]:
    batch = s.get(t.ExportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no export batch {batch_id}")
    invoices = list(s.exec(select(t.Invoice).where(col(t.Invoice.export_batch_id) == batch_id)
                           .order_by(col(t.Invoice.id))).all())
    events = s.exec(select(t.AuditEvent).where(
        col(t.AuditEvent.action).in_(["export", "export-batch"]))
        .order_by(col(t.AuditEvent.id))).all()
    bookings: dict[int, dict[str, Any]] = {}
    params: DatevParams | None = None
    for ev in events:
        detail = json.loads(ev.detail) if ev.detail else {}
        if detail.get("batch") != batch_id:
            continue
        if ev.action == "export" and ev.invoice_id is not None:
            bookings[ev.invoice_id] = detail
        elif ev.action == "export-batch":
            params = DatevParams.from_json(detail["datev"])
    missing = [inv.id for inv in invoices if inv.id not in bookings]
    if params is None or missing:
        raise ExportError(f"batch {batch_id}: the audit trail lacks its export events")
    return batch, invoices, bookings, params


def rewrite(ctx: Context, batch_id: int) -> ExportResult:
    """Write a recorded batch again, byte for byte as the first time (checked against the
    recorded manifest SHA-256 before it replaces anything)."""
    root = ctx.settings.export_path
    with ctx.lock(EXPORT_LOCK):
        with Session(ctx.engine) as s:
            batch, invoices, bookings, params = _recorded(ctx, s, batch_id)
            created = batch.created_at
            info = BatchInfo(batch_id, created, batch.actor, Path(batch.folder).name)
            items, originals = _items(ctx, s, invoices, bookings)
        tmp, manifest_sha, files = _write_batch(ctx, items, originals, params, info)
        if manifest_sha != batch.manifest_sha256:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ExportError(f"batch {batch_id} cannot be reproduced: its manifest would "
                              f"differ from the recorded one ({batch.manifest_sha256})")
        final = root / info.folder
        if final.exists():
            discard(root, final)
        final = publish(root, tmp, info.folder)
    return ExportResult(batch_id, final, [i.invoice_id for i in items],
                        sum((i.signed_gross for i in items), Decimal(0)), files, manifest_sha,
                        rewritten=True)


def verify(ctx: Context, batch_id: int) -> list[str]:
    """Problems of a recorded batch folder: missing or altered files (empty: all good)."""
    with Session(ctx.engine) as s:
        batch = s.get(t.ExportBatch, batch_id)
        if batch is None:
            raise NotFound(f"no export batch {batch_id}")
    folder = ctx.settings.export_path / Path(batch.folder).name
    try:
        data = (folder / MANIFEST).read_bytes()
    except OSError:
        return [f"{folder}: no manifest (the batch is lost: use --rewrite)"]
    problems = []
    if hashlib.sha256(data).hexdigest() != batch.manifest_sha256:
        problems.append("manifest.json differs from the recorded SHA-256")
    for entry in json.loads(data)["files"]:
        path = folder / entry["name"]
        if not path.is_file():
            problems.append(f"missing: {entry['name']}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            problems.append(f"altered: {entry['name']}")
    return problems
