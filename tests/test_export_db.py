"""The export's database side, fast: what a batch takes and how each invoice is booked
(``plan``), which approved invoices it refuses (``vouch``), the one transaction after which a
batch counts (``record``), and the run around it (``batch``: clean-up, retry when stale,
rewrite, verify, the audit anchors in the manifests).

Invoices are inserted as rows (submission, document, invoice, lines) with their canonical model
instead of being ingested, then approved through the workflow, so each test takes a fraction of
a second; mutmut runs these on SQLite only.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from einvoice.approval import audit, workflow
from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.export import BatchInfo, LineBooking, batch, plan, vouch
from einvoice.export import record as record_mod
from einvoice.export.plan import Batch, ExportError, Original
from einvoice.export.record import Recorded, Stale
from einvoice.export.vouch import Refusal
from einvoice.model import Invoice, Item, Line, Seller, Totals, VatBreakdown
from einvoice.store import chain
from einvoice.store import tables as t

NOW = datetime(2024, 1, 30, 23, 30, 5, 987654, tzinfo=UTC)  # the 31st in Berlin
SHA_M = "m" * 64


@pytest.fixture
def ctx(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    ctx.settings.four_eyes_threshold = D("1e12")
    ctx.settings.datev_default_account = "4999"
    ctx.settings.datev_default_creditor = "79999"
    monkeypatch.setattr(plan, "utcnow", lambda: NOW)
    return ctx


def model(number: str, **kw: Any) -> Invoice:
    base: dict[str, Any] = {
        "number": number, "issue_date": date(2024, 1, 30), "type_code": "380",
        "currency": "EUR", "due_date": date(2024, 2, 29),
        "seller": Seller(name="Muster GmbH", vat_id="DE 111111111"),
        "totals": Totals(with_vat=D("119.00")),
        "vat_breakdown": [VatBreakdown(taxable_amount=D("100"), tax_amount=D("19"),
                                       category="S", rate=D("19"))],
        "lines": [Line(id="1", net_amount=D("60"), vat_category="S", vat_rate=D("19"),
                       item=Item(name="eins")),
                  Line(id="2", net_amount=D("40"), vat_category="S", vat_rate=D("19"),
                       item=Item(name="zwei"))]}
    return Invoice(**(base | kw))


def add(ctx: Context, number: str, *, status: str = "approved", pdf: bool = False,
        xml: bool = True, batch_id: int | None = None, account: str | None = None,
        cost_centre: str | None = None, pay_by: date | None = None,
        bookings: dict[int, tuple[str | None, str | None]] | None = None,
        readable: bool = True, received_at: datetime | None = None, workflow_: bool = True,
        **kw: Any) -> int:
    """An invoice case as the pipeline leaves it (lines inserted last position first), approved
    by the workflow when ``status`` is ``approved`` and it is in no batch (unless not
    ``workflow_``: then set ``approved`` behind the workflow's back)."""
    m = model(number, **kw)
    raw = (b"%PDF-1.7 " if pdf else b"<Invoice>") + number.encode()
    sha = ctx.archive.put(raw)
    xml_sha = (ctx.archive.put(b"<Invoice>" + number.encode()) if pdf else sha) if xml else None
    with Session(ctx.engine) as s:
        sub = t.Submission(sha256=sha, size=len(raw), channel="cli")
        s.add(sub)
        s.flush()
        assert sub.id is not None
        doc = t.Document(submission_id=sub.id, sha256=sha, size=len(raw),
                         kind="pdf" if pdf else "xml", xml_sha256=xml_sha)
        s.add(doc)
        s.flush()
        assert doc.id is not None
        approve = status == "approved" and batch_id is None and workflow_
        inv = t.Invoice(document_id=doc.id, status="pending" if approve else status,
                        number=m.number,
                        type_code=m.type_code, currency=m.currency, seller_name=m.seller.name,
                        seller_vat_id=m.seller.vat_id, gross_total=m.totals.with_vat,
                        model_json=m.model_dump_json() if readable else None, account=account,
                        cost_centre=cost_centre, pay_by=pay_by, export_batch_id=batch_id,
                        received_at=received_at or datetime.now(UTC))
        s.add(inv)
        s.flush()
        assert inv.id is not None
        for pos in range(len(m.lines), 0, -1):
            acc, cc = (bookings or {}).get(pos, (None, None))
            s.add(t.InvoiceLine(invoice_id=inv.id, position=pos, line_id=str(pos),
                                account=acc, cost_centre=cc))
            s.flush()
        s.commit()
        invoice_id = inv.id
    if approve:
        workflow.approve(ctx, invoice_id, "alice")
    return invoice_id


def supplier(ctx: Context, name: str, vat_id: str | None, account: str | None = None,
             creditor: str | None = None, cost_centre: str | None = None) -> None:
    with Session(ctx.engine) as s:
        s.add(t.Supplier(name=name, vat_id=vat_id, account=account, creditor_account=creditor,
                         cost_centre=cost_centre))
        s.commit()


def batch_row(ctx: Context, batch_id: int, folder: str) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(insert(t.ExportBatch), {
            "id": batch_id, "created_at": NOW, "folder": folder, "invoice_count": 0,
            "gross_total": D(0), "manifest_sha256": SHA_M, "actor": "old"})


def invoices(ctx: Context) -> dict[int, tuple[str, int | None, int]]:
    with Session(ctx.engine) as s:
        return {i.id: (i.status, i.export_batch_id, i.version)
                for i in s.exec(select(t.Invoice)).all() if i.id is not None}


def events(ctx: Context) -> list[tuple[Any, ...]]:
    """The audit events of the export, in order."""
    with Session(ctx.engine) as s:
        return [(e.invoice_id, e.actor, e.action, e.before, e.after,
                 json.loads(e.detail) if e.detail else None)
                for e in s.exec(select(t.AuditEvent).order_by(col(t.AuditEvent.id))).all()
                if e.action.startswith("export")]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


def planned(ctx: Context) -> Batch:
    b = plan.next_batch(ctx, "bob")
    assert b is not None
    return b


# ------------------------------------------------------------------ plan

def test_nothing_approved_nothing_planned(ctx: Context) -> None:
    add(ctx, "P-1", status="pending")
    assert plan.next_batch(ctx, "bob") is None and plan.preview(ctx) == []


def test_takes_the_approved_invoices_in_no_batch(ctx: Context) -> None:
    batch_row(ctx, 4, "/x/batch-000004-20240101")
    a = add(ctx, "A")
    add(ctx, "P", status="pending")
    c = add(ctx, "C")
    add(ctx, "D", batch_id=4)  # approved, but already in a batch
    add(ctx, "E", status="exported", batch_id=4)
    assert [p.invoice_id for p in plan.preview(ctx)] == [a, c]
    assert plan.refused(ctx) == []  # the one in a batch is not even looked at
    b = planned(ctx)
    assert b.invoice_ids == [a, c] and b.refused == ()
    assert b.info.batch_id == 5  # the highest recorded id + 1


def test_candidates_by_id_not_by_arrival_or_physical_order(ctx: Context) -> None:
    a = add(ctx, "A", received_at=datetime(2024, 1, 2, tzinfo=UTC))
    b = add(ctx, "B", received_at=datetime(2024, 1, 1, tzinfo=UTC))  # arrived first
    with ctx.engine.begin() as conn:  # PostgreSQL moves an updated row to the end of the table
        # (an indexed column: not a HOT update, so no index scan returns it in its old place)
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == a)
                     .values(issue_date=date(2024, 1, 31)))
    assert [p.invoice_id for p in plan.preview(ctx)] == [a, b]
    assert planned(ctx).invoice_ids == [a, b]


def test_booking_precedence(ctx: Context) -> None:
    supplier(ctx, "Muster GmbH", "DE111111111", "4711", "71234", "KS-SUP")
    supplier(ctx, "Zwei AG", None, "47x", "72222", "KS-Z")
    supplier(ctx, "Drei KG", "DE333333333", "4733", "7333x", None)
    ids = {
        "assigned": add(ctx, "A", account="3400", cost_centre="KS-A"),
        "supplier": add(ctx, "B"),
        "bad assignment": add(ctx, "C", account="34x"),
        "by name, bad account": add(ctx, "D", seller=Seller(name="Zwei AG")),
        "by VAT id, other name": add(ctx, "H",
                                     seller=Seller(name="Muster", vat_id="de 111 111111")),
        "bad creditor": add(ctx, "I", seller=Seller(name="Drei", vat_id="DE333333333")),
        "unknown": add(ctx, "E", seller=Seller(name="Fremd", vat_id="DE999"),
                       account="1234567890"),
        "unknown, own cost centre": add(ctx, "F", seller=Seller(), cost_centre="KS-F"),
        "space in the number": add(ctx, "G", account=" 3401 "),
    }
    expected = {
        "assigned": ("71234", "3400", "KS-A"),
        "supplier": ("71234", "4711", "KS-SUP"),
        "bad assignment": ("71234", "4711", "KS-SUP"),
        "by name, bad account": ("72222", "4999", "KS-Z"),
        "by VAT id, other name": ("71234", "4711", "KS-SUP"),
        "bad creditor": ("79999", "4733", None),
        "unknown": ("79999", "4999", None),
        "unknown, own cost centre": ("79999", "4999", "KS-F"),
        "space in the number": ("71234", "3401", "KS-SUP"),
    }
    shown = {p.invoice_id: (p.creditor, p.account, p.cost_centre) for p in plan.preview(ctx)}
    assert {k: shown[i] for k, i in ids.items()} == expected
    booked = {it.invoice_id: (it.creditor, it.account, it.cost_centre)
              for it in planned(ctx).items}
    assert {k: booked[i] for k, i in ids.items()} == expected


def test_preview_shows_the_case(ctx: Context) -> None:
    inv = add(ctx, "A", type_code="381", totals=Totals(with_vat=D("50.5")))
    [p] = plan.preview(ctx)
    assert (p.invoice_id, p.number, p.seller, p.type_code, p.gross_total, p.currency) == (
        inv, "A", "Muster GmbH", "381", D("50.5"), "EUR")


def test_next_batch_identity_time_settings(ctx: Context) -> None:
    batch_row(ctx, 2, "/x/batch-000002-20240101")
    ctx.settings.datev_per_line = True
    ctx.settings.datev_tax_keys = {"19": "9"}
    add(ctx, "A")
    b = planned(ctx)
    assert b.info == BatchInfo(3, NOW.replace(microsecond=987000), "bob",
                               "batch-000003-20240131")
    assert b.params == plan.params_from_settings(ctx)
    assert b.params.per_line and b.params.tax_keys == {"19": "9"}


def test_entries_originals_lines_and_dates(ctx: Context) -> None:
    x = add(ctx, "RE 2024/1", account="34x", cost_centre="KS-A", pay_by=date(2024, 2, 10),
            bookings={1: ("4500", "KS-1"), 2: ("45x", None)})
    p = add(ctx, "G-2", pdf=True, type_code="381")
    q = add(ctx, "G-3", pdf=True, xml=False, due_date=None, lines=[])
    b = planned(ctx)
    ex, ep, eq = b.entries
    doc = {d.id: d for d in _documents(ctx)}
    inv = {i.id: i for i in _invoices(ctx)}
    dx, dp, dq = (doc[inv[i].document_id] for i in (x, p, q))

    assert ex.originals == (Original(f"originals/{x:06d}_RE-2024-1.xml", dx.sha256),)
    assert ep.originals == (Original(f"originals/{p:06d}_G-2.pdf", dp.sha256),
                            Original(f"originals/{p:06d}_G-2.xml", dp.xml_sha256 or ""))
    assert eq.originals == (Original(f"originals/{q:06d}_G-3.pdf", dq.sha256),)
    assert [e.item.files for e in b.entries] == [tuple(o.name for o in e.originals)
                                                 for e in b.entries]
    it = ex.item
    assert (it.invoice_id, it.model, it.original_sha256, it.xml_sha256, it.status) == (
        x, model("RE 2024/1"), dx.sha256, dx.sha256, "exported")
    assert (it.account, it.cost_centre, it.assigned_account, it.assigned_cost_centre) == (
        "4999", "KS-A", "34x", "KS-A")
    assert it.lines == (LineBooking(1, "4500", "KS-1"), LineBooking(2, None, None))
    assert it.pay_by == date(2024, 2, 10)  # the case's own date
    assert ep.item.pay_by == date(2024, 2, 29)  # else the due date (BT-9)
    assert ep.item.xml_sha256 == dp.xml_sha256 != dp.sha256
    assert eq.item.pay_by is None and eq.item.xml_sha256 is None and eq.item.lines == ()
    assert ep.item.lines == (LineBooking(1, None, None), LineBooking(2, None, None))


def _documents(ctx: Context) -> list[t.Document]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.Document)).all())


def _invoices(ctx: Context) -> list[t.Invoice]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(t.Invoice)).all())


def test_an_invoice_without_model_stops_the_batch(ctx: Context) -> None:
    add(ctx, "A")
    bad = add(ctx, "B", readable=False)
    with pytest.raises(ExportError, match=f"^invoice {bad} has no readable invoice data$"):
        plan.next_batch(ctx, "bob")


# ------------------------------------------------------------------ record

def _record(ctx: Context, b: Batch, folder: Path, sha: str = SHA_M) -> None:
    record_mod.record(ctx, b, folder, sha)


def test_record_commits_batch_invoices_and_audit_events(
        ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    supplier(ctx, "Muster GmbH", "DE111111111", "4711", "71234", "KS-SUP")
    a = add(ctx, "A")
    c = add(ctx, "C", type_code="381", totals=Totals(with_vat=D("20.50")), account="3400")
    stamp = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(record_mod, "utcnow", lambda: stamp)
    b = planned(ctx)
    folder = tmp_path / b.info.folder
    _record(ctx, b, folder)

    with Session(ctx.engine) as s:
        [row] = s.exec(select(t.ExportBatch)).all()
        updated = {i.id: i.updated_at for i in s.exec(select(t.Invoice)).all()}
    assert (row.id, row.created_at, row.folder, row.invoice_count, row.gross_total,
            row.manifest_sha256, row.actor) == (
        1, NOW.replace(microsecond=987000), str(folder), 2, D("98.50"), SHA_M, "bob")
    assert invoices(ctx) == {a: ("exported", 1, 2), c: ("exported", 1, 2)}
    assert updated == {a: stamp, c: stamp}
    assert events(ctx) == [
        (a, "bob", "export", "approved", "exported",
         {"batch": 1, "creditor": "71234", "account": "4711", "cost_centre": "KS-SUP"}),
        (c, "bob", "export", "approved", "exported",
         {"batch": 1, "creditor": "71234", "account": "3400", "cost_centre": "KS-SUP"}),
        (None, "bob", "export-batch", None, None,
         {"batch": 1, "folder": "batch-000001-20240131", "manifest_sha256": SHA_M,
          "datev": b.params.to_json(), "invoices": 2, "head": b.head.to_json()})]
    assert audit.verify(ctx.engine).ok


def _batch_ids(ctx: Context) -> list[int | None]:
    with Session(ctx.engine) as s:
        return [r.id for r in s.exec(select(t.ExportBatch)).all()]
    assert [e for e in events(ctx) if e[2].startswith("export")] == []


@pytest.mark.parametrize("change", ["status", "batch", "batch id taken"])
def test_record_is_stale_when_an_invoice_changed(ctx: Context, tmp_path: Path,
                                                 change: str) -> None:
    a, c = add(ctx, "A"), add(ctx, "C")
    b = planned(ctx)
    with ctx.engine.begin() as conn:
        if change == "status":
            conn.execute(update(t.Invoice).where(col(t.Invoice.id) == c)
                         .values(status="on_hold"))
        elif change == "batch":
            conn.execute(insert(t.ExportBatch), {
                "id": 9, "created_at": NOW, "folder": "f", "invoice_count": 1,
                "gross_total": D(0), "manifest_sha256": SHA_M, "actor": "x"})
            conn.execute(update(t.Invoice).where(col(t.Invoice.id) == c)
                         .values(export_batch_id=9))
        else:
            conn.execute(insert(t.ExportBatch), {
                "id": 1, "created_at": NOW, "folder": "f", "invoice_count": 0,
                "gross_total": D(0), "manifest_sha256": SHA_M, "actor": "x"})
    before, rows = invoices(ctx), _batch_ids(ctx)
    with pytest.raises(Stale):
        _record(ctx, b, tmp_path / "f")
    assert (invoices(ctx), _batch_ids(ctx), events(ctx)) == (before, rows, [])
    assert before[a] == ("approved", None, 1)


def test_record_takes_only_the_planned_invoices(ctx: Context, tmp_path: Path) -> None:
    a = add(ctx, "A")
    b = planned(ctx)
    late = add(ctx, "L")  # approved after the batch was planned: the next batch's
    _record(ctx, b, tmp_path / "f")
    assert invoices(ctx) == {a: ("exported", 1, 2), late: ("approved", None, 1)}


def test_record_updates_in_chunks(ctx: Context, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_mod, "_CHUNK", 2)
    ids = [add(ctx, f"R-{i}") for i in range(5)]
    b = planned(ctx)
    updates: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE INVOICE "):
            updates.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        _record(ctx, b, tmp_path / "f")
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    assert invoices(ctx) == {i: ("exported", 1, 2) for i in ids}
    assert len(updates) == 3  # 2 + 2 + 1 ids: one statement per chunk


@pytest.mark.parametrize("error,message", [
    (IntegrityError, "UNIQUE constraint failed: auditevent.prev_hash"),  # the chain head moved
    (OperationalError, "database is locked")])
def test_record_retries_a_conflict(ctx: Context, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, error: type[Any],
                                   message: str) -> None:
    a = add(ctx, "A")
    b = planned(ctx)
    real = record_mod._commit
    pauses: list[int] = []
    calls: list[int] = []

    def flaky(conn: Connection, *args: Any) -> None:
        calls.append(len(calls))
        if len(calls) < 3:
            raise error("INSERT", {}, Exception(message))
        real(conn, *args)

    monkeypatch.setattr(record_mod, "_commit", flaky)
    monkeypatch.setattr(record_mod.retry, "pause", pauses.append)
    _record(ctx, b, tmp_path / "f")
    assert pauses == [0, 1] and calls == [0, 1, 2]
    assert invoices(ctx) == {a: ("exported", 1, 2)}


def test_record_gives_up_after_the_retries(ctx: Context, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    add(ctx, "A")
    b = planned(ctx)
    pauses: list[int] = []

    def busy(*args: Any) -> None:
        raise OperationalError("UPDATE", {}, Exception("locked"))

    monkeypatch.setattr(record_mod, "_commit", busy)
    monkeypatch.setattr(record_mod.retry, "pause", pauses.append)
    with pytest.raises(ExportError, match=r"^could not record the export batch \(database "
                                          r"busy\); nothing exported$"):
        _record(ctx, b, tmp_path / "f")
    assert pauses == list(range(40))


def test_record_keeps_the_batch_id_sequence_ahead(ctx: Context, tmp_path: Path) -> None:
    add(ctx, "A")
    batch_row(ctx, 1, "f1")
    b = planned(ctx)
    _record(ctx, b, tmp_path / "f")
    with ctx.engine.begin() as conn:  # a row without an id takes the next one
        conn.execute(insert(t.ExportBatch), {
            "created_at": NOW, "folder": "f3", "invoice_count": 0, "gross_total": D(0),
            "manifest_sha256": SHA_M, "actor": "x"})
    with Session(ctx.engine) as s:
        assert sorted(r.id or 0 for r in s.exec(select(t.ExportBatch)).all()) == [1, 2, 3]


def test_recorded_rebuilds_the_batch_from_what_was_recorded(ctx: Context,
                                                            tmp_path: Path) -> None:
    supplier(ctx, "Muster GmbH", "DE111111111", "4711", "71234", "KS-SUP")
    add(ctx, "A", bookings={1: ("4500", "KS-1")})
    add(ctx, "B", pdf=True)
    first = planned(ctx)
    _record(ctx, first, tmp_path / first.info.folder)
    add(ctx, "C")
    ctx.settings.datev_per_line = True  # a second batch with other settings and master data
    ctx.settings.datev_default_creditor = "70000"
    with Session(ctx.engine) as s:
        for sup in s.exec(select(t.Supplier)).all():
            sup.creditor_account, sup.account, sup.cost_centre = "75555", "4000", "KS-NEU"
            s.add(sup)
        s.commit()
    second = planned(ctx)
    _record(ctx, second, tmp_path / second.info.folder, "n" * 64)

    assert record_mod.recorded(ctx, 1) == Recorded(first, SHA_M)
    assert record_mod.recorded(ctx, 2) == Recorded(second, "n" * 64)
    assert [i.creditor for i in record_mod.recorded(ctx, 1).batch.items] == ["71234"] * 2
    assert record_mod.recorded(ctx, 2).batch.params.per_line


def test_recorded_lists_invoices_by_id_not_by_physical_order(ctx: Context,
                                                             tmp_path: Path) -> None:
    a, c = add(ctx, "A"), add(ctx, "C")
    b = planned(ctx)
    _record(ctx, b, tmp_path / b.info.folder)
    with ctx.engine.begin() as conn:  # moves the row to the end of the table on PostgreSQL
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == a)
                     .values(issue_date=date(2024, 2, 1)))
    assert record_mod.recorded(ctx, 1).batch.invoice_ids == [a, c]


def test_recorded_unknown_batch(ctx: Context) -> None:
    with pytest.raises(NotFound, match=r"^no export batch 3$"):
        record_mod.recorded(ctx, 3)


@pytest.mark.parametrize("damage", ["invoice without event", "no batch event"])
def test_recorded_needs_the_export_events(ctx: Context, tmp_path: Path, damage: str) -> None:
    add(ctx, "A")
    _record(ctx, planned(ctx), tmp_path / "f")
    if damage == "invoice without event":
        add(ctx, "B", status="exported", batch_id=1)
    else:
        with ctx.engine.begin() as conn:
            conn.execute(update(t.AuditEvent).where(col(t.AuditEvent.action) == "export-batch")
                         .values(action="export-other"))
    with pytest.raises(ExportError, match=r"^batch 1: the audit trail lacks its export events$"):
        record_mod.recorded(ctx, 1)


# ------------------------------------------------------------------ batch: the run

def test_export_writes_publishes_and_records_once(ctx: Context) -> None:
    a = add(ctx, "A")
    c = add(ctx, "C", type_code="381", totals=Totals(with_vat=D("20.50")))
    result = batch.export(ctx, "bob")
    root = ctx.settings.export_path
    folder = root / "batch-000001-20240131"
    assert (result.batch_id, result.id, result.folder, result.invoice_ids,
            result.invoice_count, result.gross_total) == (1, 1, folder, [a, c], 2, D("98.50"))
    assert result.files == sorted(files_of(folder)) and "manifest.json" in result.files
    manifest = (folder / "manifest.json").read_bytes()
    assert result.manifest_sha256 == hashlib.sha256(manifest).hexdigest()
    assert (result.cleaned, result.lost, result.dry_run, result.rewritten) == (
        [], [], False, False)
    assert [p.name for p in root.iterdir()] == [folder.name]
    with Session(ctx.engine) as s:
        [row] = s.exec(select(t.ExportBatch)).all()
    assert (row.folder, row.manifest_sha256) == (str(folder), result.manifest_sha256)
    assert invoices(ctx) == {a: ("exported", 1, 2), c: ("exported", 1, 2)}
    assert batch.verify(ctx, 1) == []
    assert audit.verify(ctx.engine).ok

    again = batch.export(ctx, "bob")  # nothing twice
    assert (again.batch_id, again.folder, again.invoice_ids, again.files) == (None, None, [], [])
    assert batch.run_export(ctx, "bob") is None
    assert [p.name for p in root.iterdir()] == [folder.name]


def test_run_export_returns_the_batch(ctx: Context) -> None:
    a = add(ctx, "A")
    result = batch.run_export(ctx, "bob")
    assert result is not None and result.invoice_ids == [a] and result.batch_id == 1


def test_dry_run_writes_nothing(ctx: Context) -> None:
    a = add(ctx, "A", account="3400")
    result = batch.export(ctx, "bob", dry_run=True)
    assert result.dry_run and result.batch_id is None
    assert [(p.invoice_id, p.account) for p in result.planned] == [(a, "3400")]
    assert not ctx.settings.export_path.exists()
    assert invoices(ctx) == {a: ("approved", None, 1)}
    assert result.to_json()["planned"] == [p.to_json() for p in result.planned]


def test_export_result_json() -> None:
    r = batch.ExportResult(3, Path("/e/batch-000003-20240101"), [1, 2], D("10.50"),
                           ["manifest.json"], "s" * 64, [".tmp-x"], [1], [], False, True,
                           [Refusal(4, "no approval in the audit trail")])
    assert r.to_json() == {
        "batch_id": 3, "folder": "/e/batch-000003-20240101", "invoice_ids": [1, 2],
        "invoice_count": 2, "gross_total": "10.50", "files": ["manifest.json"],
        "manifest_sha256": "s" * 64, "cleaned": [".tmp-x"], "lost": [1], "dry_run": False,
        "rewritten": True, "planned": [],
        "refused": [{"id": 4, "reason": "no approval in the audit trail"}]}
    assert batch.ExportResult().to_json()["refused"] == []
    assert batch.ExportResult().to_json()["folder"] is None
    assert batch.ExportResult().to_json()["gross_total"] == "0"


def test_export_cleans_up_leftovers_first(ctx: Context) -> None:
    add(ctx, "A")
    first = batch.export(ctx, "bob")
    assert first.folder is not None
    root = ctx.settings.export_path
    batch_row(ctx, 2, str(root / "batch-000002-20240101"))  # recorded, folder lost
    for name in (".tmp-batch-000003-abc", "batch-000004-20240101", "batch-000001-20991231",
                 "batch-7", "other", "batchX-1", "archive"):
        (root / name / "originals").mkdir(parents=True)
        (root / name / "originals" / "x.xml").write_bytes(b"x")
    (root / "0notes.txt").write_text("keep")
    found = batch.recover(ctx)
    assert found == batch.Recovered(
        [".tmp-batch-000003-abc", "batch-000001-20991231", "batch-000004-20240101", "batch-7"],
        [2])
    assert sorted(p.name for p in root.iterdir()) == [
        "0notes.txt", "archive", "batch-000001-20240131", "batchX-1", "other"]

    (root / ".tmp-batch-000009-x").mkdir()
    c = add(ctx, "C")
    result = batch.export(ctx, "bob")
    assert (result.batch_id, result.invoice_ids) == (3, [c])
    assert (result.cleaned, result.lost) == ([".tmp-batch-000009-x"], [2])
    assert sorted(p.name for p in root.iterdir()) == [
        "0notes.txt", "archive", "batch-000001-20240131", "batch-000003-20240131", "batchX-1",
        "other"]


def test_recover_without_export_directory(ctx: Context) -> None:
    batch_row(ctx, 1, "/gone/batch-000001-20240101")
    assert batch.recover(ctx) == batch.Recovered([], [1])


def test_a_stale_batch_is_discarded_and_planned_again(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    stays, leaves = add(ctx, "S"), add(ctx, "L")
    real = batch.record
    seen: list[tuple[list[int], list[str]]] = []

    def change_then_record(c: Context, b: Batch, folder: Path, sha: str) -> None:
        seen.append((b.invoice_ids, sorted(p.name for p in folder.parent.iterdir())))
        if len(seen) == 1:
            with ctx.engine.begin() as conn:
                conn.execute(update(t.Invoice).where(col(t.Invoice.id) == leaves)
                             .values(status="on_hold"))
        real(c, b, folder, sha)

    monkeypatch.setattr(batch, "record", change_then_record)
    result = batch.export(ctx, "bob")
    assert seen == [([stays, leaves], ["batch-000001-20240131"]),
                    ([stays], ["batch-000001-20240131"])]
    assert (result.batch_id, result.invoice_ids) == (1, [stays])
    assert batch.verify(ctx, 1) == []
    root = ctx.settings.export_path
    assert [p.name for p in root.iterdir()] == ["batch-000001-20240131"]
    manifest = json.loads((root / "batch-000001-20240131" / "manifest.json").read_bytes())
    assert [i["id"] for i in manifest["invoices"]] == [stays]


def test_export_gives_up_when_invoices_keep_changing(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    rounds: list[str] = []

    def stale(c: Context, actor: str) -> None:
        rounds.append(actor)

    monkeypatch.setattr(batch, "_export_once", stale)
    with pytest.raises(ExportError, match=r"^invoices kept changing while the batch was "
                                          r"written; try again$"):
        batch.export(ctx, "bob")
    assert rounds == ["bob"] * 5


@pytest.fixture
def stubborn_rmtree(monkeypatch: pytest.MonkeyPatch) -> None:
    """``shutil.rmtree`` as on a file system that refuses a deletion: only
    ``ignore_errors=True`` gets past it (and deletes what it can)."""
    real = shutil.rmtree

    def rmtree(path: Any, ignore_errors: bool = False, **kw: Any) -> None:
        if not ignore_errors:
            raise PermissionError(f"cannot delete {path}")
        real(path, ignore_errors=True)

    monkeypatch.setattr(shutil, "rmtree", rmtree)


@pytest.mark.usefixtures("stubborn_rmtree")
def test_leftovers_that_resist_deletion_do_not_stop_the_export(ctx: Context) -> None:
    root = ctx.settings.export_path
    (root / ".tmp-batch-000001-abc").mkdir(parents=True)
    (root / "batch-000001-20240101").mkdir()
    a = add(ctx, "A")
    result = batch.export(ctx, "bob")
    assert result.invoice_ids == [a]
    assert result.cleaned == [".tmp-batch-000001-abc", "batch-000001-20240101"]


def _fail(exc: BaseException) -> Callable[..., Any]:
    def fail(*args: Any) -> Any:
        raise exc
    return fail


@pytest.mark.usefixtures("stubborn_rmtree")  # the clean-up does not hide the failure
@pytest.mark.parametrize("step", ["publish", "record"])
def test_a_failure_leaves_no_folder_and_nothing_exported(
        ctx: Context, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    a = add(ctx, "A")
    monkeypatch.setattr(batch, step, _fail(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        batch.export(ctx, "bob")
    assert list(ctx.settings.export_path.iterdir()) == []
    assert invoices(ctx) == {a: ("approved", None, 1)}
    monkeypatch.undo()
    assert batch.export(ctx, "bob").invoice_ids == [a]


def test_rewrite_byte_for_byte_whatever_changed_since(ctx: Context) -> None:
    supplier(ctx, "Muster GmbH", "DE111111111", "4711", "71234", "KS-SUP")
    add(ctx, "A", bookings={1: ("4500", None)})
    add(ctx, "B", pdf=True, type_code="381")
    ctx.settings.datev_per_line = True
    first = batch.export(ctx, "bob")
    assert first.folder is not None
    before = files_of(first.folder)
    ctx.settings.datev_per_line = False
    ctx.settings.datev_default_creditor = "70000"
    with Session(ctx.engine) as s:
        for sup in s.exec(select(t.Supplier)).all():
            sup.creditor_account = "75555"
            s.add(sup)
        s.commit()

    (first.folder / "invoices.csv").write_bytes(b"damaged")
    (first.folder / "EXTF_Buchungsstapel_2024.csv").unlink()
    again = batch.rewrite(ctx, 1)
    assert (again.batch_id, again.folder, again.rewritten, again.invoice_ids) == (
        1, first.folder, True, first.invoice_ids)
    assert (again.files, again.manifest_sha256) == (first.files, first.manifest_sha256)
    assert files_of(first.folder) == before
    assert [p.name for p in ctx.settings.export_path.iterdir()] == [first.folder.name]

    shutil.rmtree(first.folder)
    assert batch.verify(ctx, 1) == [f"{first.folder}: no manifest (the batch is lost: use "
                                    "--rewrite)"]
    batch.rewrite(ctx, 1)
    assert files_of(first.folder) == before
    assert batch.verify(ctx, 1) == []


@pytest.mark.usefixtures("stubborn_rmtree")
def test_rewrite_refuses_what_it_cannot_reproduce(ctx: Context) -> None:
    add(ctx, "A")
    first = batch.export(ctx, "bob")
    assert first.folder is not None
    before = files_of(first.folder)
    with ctx.engine.begin() as conn:
        conn.execute(update(t.ExportBatch).values(manifest_sha256="0" * 64))
    with pytest.raises(ExportError, match=r"^batch 1 cannot be reproduced: its manifest would "
                                          r"differ from the recorded one \(0{64}\)$"):
        batch.rewrite(ctx, 1)
    assert files_of(first.folder) == before
    assert [p.name for p in ctx.settings.export_path.iterdir()] == [first.folder.name]


def test_verify_reports_each_damage(ctx: Context) -> None:
    with pytest.raises(NotFound, match=r"^no export batch 1$"):
        batch.verify(ctx, 1)
    inv = add(ctx, "A")
    folder = batch.export(ctx, "bob").folder
    assert folder is not None
    original = f"originals/{inv:06d}_A.xml"
    kept = files_of(folder)
    (folder / "invoices.csv").write_bytes(kept["invoices.csv"] + b"x")
    (folder / original).unlink()
    assert batch.verify(ctx, 1) == ["altered: invoices.csv", f"missing: {original}"]
    (folder / "invoices.csv").write_bytes(kept["invoices.csv"])
    (folder / original).write_bytes(kept[original])
    (folder / "manifest.json").write_bytes(kept["manifest.json"].replace(b"bob", b"eve"))
    assert batch.verify(ctx, 1) == ["manifest.json differs from the recorded SHA-256"]
    (folder / "manifest.json").write_bytes(kept["manifest.json"])
    assert batch.verify(ctx, 1) == []


# ------------------------------------------------------------------ only what was approved goes

def _set(ctx: Context, inv: int, **values: Any) -> None:
    """Change an invoice behind the workflow's back."""
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == inv).values(**values))


def _approval_event(ctx: Context, inv: int, detail: dict[str, Any] | None) -> None:
    with ctx.engine.begin() as conn:
        chain.append(conn, invoice_id=inv, actor="alice", action="approve", before="pending",
                     after="approved", detail=detail)


def _content(ctx: Context, inv: int) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        return audit.approved_content(conn, inv)


def test_invoices_changed_since_approval_are_refused_and_reported(ctx: Context) -> None:
    a = add(ctx, "A")
    b = add(ctx, "B", cost_centre="KS-1", bookings={1: ("4500", None)})
    c = add(ctx, "C")
    _set(ctx, a, account="3400")
    _set(ctx, b, cost_centre="KS-Ä")
    with ctx.engine.begin() as conn:
        conn.execute(update(t.InvoiceLine).where(col(t.InvoiceLine.invoice_id) == b,
                                                 col(t.InvoiceLine.position) == 1)
                     .values(account="4600", cost_centre="KS-L"))
    expected = [
        Refusal(a, 'changed since approval: account null → "3400"'),
        Refusal(b, 'changed since approval: cost_centre "KS-1" → "KS-Ä"; '
                   'lines [{"account": "4500", "cost_centre": null, "position": 1}] → '
                   '[{"account": "4600", "cost_centre": "KS-L", "position": 1}]')]
    assert plan.refused(ctx) == expected
    assert [p.invoice_id for p in plan.preview(ctx)] == [c]
    dry = batch.export(ctx, "bob", dry_run=True)
    assert dry.refused == expected and [p.invoice_id for p in dry.planned] == [c]
    b_ = planned(ctx)
    assert (b_.invoice_ids, b_.refused) == ([c], tuple(expected))

    result = batch.export(ctx, "bob")
    assert (result.invoice_ids, result.refused) == ([c], expected)
    assert result.to_json()["refused"] == [{"id": r.invoice_id, "reason": r.reason}
                                           for r in expected]
    manifest = json.loads((ctx.settings.export_path / "batch-000001-20240131" / "manifest.json")
                          .read_bytes())
    assert [i["id"] for i in manifest["invoices"]] == [c]
    assert invoices(ctx) == {a: ("approved", None, 1), b: ("approved", None, 1),
                             c: ("exported", 1, 2)}


def test_an_invoice_no_approval_vouches_for_is_refused(ctx: Context) -> None:
    x = add(ctx, "X", workflow_=False)  # approved behind the workflow's back
    y = add(ctx, "Y")
    z = add(ctx, "Z", workflow_=False)
    assert plan.refused(ctx) == [Refusal(x, "no approval in the audit trail"),
                                 Refusal(z, "no approval in the audit trail")]
    assert [p.invoice_id for p in plan.preview(ctx)] == [y]


@pytest.mark.parametrize("detail", [None, {"gross_total": "119.00", "currency": "EUR"}])
def test_an_approval_that_does_not_record_its_content_vouches_for_nothing(
        ctx: Context, detail: dict[str, Any] | None) -> None:
    old = add(ctx, "OLD", workflow_=False)
    _approval_event(ctx, old, detail)  # as approvals were written before they kept content
    assert plan.refused(ctx) == [Refusal(old, "its approval does not record what was approved")]


def test_the_newest_approval_counts(ctx: Context) -> None:
    inv = add(ctx, "A")
    _set(ctx, inv, account="3400")
    _approval_event(ctx, inv, _content(ctx, inv))  # approved again as it is now
    assert plan.refused(ctx) == []
    _set(ctx, inv, account=None)  # back to what the first approval saw: not the newest
    assert plan.refused(ctx) == [Refusal(inv, 'changed since approval: account "3400" → null')]


def test_refusal_texts() -> None:
    assert vouch._text("KS-Ä") == '"KS-Ä"'
    assert vouch._text({"b": 1, "a": None}) == '{"a": null, "b": 1}'
    assert vouch._changed({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2}) is None  # more is fine
    assert vouch._changed({"a": 1}, {"a": 1, "b": 2}) == (
        "its approval does not record what was approved")
    assert vouch._changed({"a": 1, "b": 2}, {"a": 1, "b": 3}) == (
        "changed since approval: b 2 → 3")
    assert Refusal(3, "r").to_json() == {"id": 3, "reason": "r"}


def test_when_every_invoice_is_refused_nothing_is_written_but_it_is_reported(
        ctx: Context) -> None:
    x = add(ctx, "X", workflow_=False)
    b = planned(ctx)  # a batch without entries: the refusals still need telling
    assert (b.entries, b.refused) == ((), (Refusal(x, "no approval in the audit trail"),))
    result = batch.export(ctx, "bob")
    assert (result.batch_id, result.folder, result.invoice_ids) == (None, None, [])
    assert result.refused == [Refusal(x, "no approval in the audit trail")]
    assert not ctx.settings.export_path.exists() or not any(
        ctx.settings.export_path.iterdir())
    assert _batch_ids(ctx) == [] and invoices(ctx) == {x: ("approved", None, 0)}
    nightly = batch.run_export(ctx, "bob")
    assert nightly is not None and nightly.refused == result.refused  # a person must look


# ------------------------------------------------------------------ the audit anchor

def test_the_batch_anchors_the_audit_chain_head_before_it(ctx: Context) -> None:
    add(ctx, "A")
    add(ctx, "B")
    with ctx.engine.connect() as conn:
        head = chain.head(conn)
    assert head.events == 2
    b = planned(ctx)
    assert b.head == head
    result = batch.export(ctx, "bob")
    assert result.folder is not None
    manifest_path = result.folder / "manifest.json"
    assert json.loads(manifest_path.read_bytes())["audit_anchor"] == head.to_json()
    [detail] = [e[5] for e in events(ctx) if e[2] == "export-batch"]
    assert detail["head"] == head.to_json()
    assert record_mod.recorded(ctx, 1).batch.head == head
    assert batch.manifest_anchors(ctx) == [(str(manifest_path), head)]


def test_a_batch_without_head_records_none(ctx: Context, tmp_path: Path) -> None:
    add(ctx, "A")
    old = replace(planned(ctx), head=None)  # as batches were written before anchors
    _record(ctx, old, tmp_path / old.info.folder)
    [detail] = [e[5] for e in events(ctx) if e[2] == "export-batch"]
    assert "head" not in detail
    assert record_mod._head(old) == {}
    assert record_mod.recorded(ctx, 1) == Recorded(old, SHA_M)


def test_manifest_anchors_of_the_export_folder(ctx: Context) -> None:
    assert batch.manifest_anchors(ctx) == []  # no export folder yet
    add(ctx, "A")
    first = batch.export(ctx, "bob")
    add(ctx, "B")
    second = batch.export(ctx, "bob")
    assert first.folder is not None and second.folder is not None
    root = ctx.settings.export_path
    heads = [record_mod.recorded(ctx, i).batch.head for i in (1, 2)]
    old = root / "batch-000000-20230101"  # written before anchors: none
    old.mkdir()
    (old / "manifest.json").write_text('{"batch": 0}')
    (root / "batch-000009-20240101").mkdir()  # no manifest
    (root / "aaa").mkdir()  # no batch folder
    (root / "aaa" / "manifest.json").write_text("broken")
    (root / "0file").write_text("x")
    assert batch.manifest_anchors(ctx) == [
        (str(first.folder / "manifest.json"), heads[0]),
        (str(second.folder / "manifest.json"), heads[1])]

    bad = root / "batch-000010-20240101"
    bad.mkdir()
    (bad / "manifest.json").write_text("{broken")
    with pytest.raises(ExportError, match="^" + re.escape(str(bad / "manifest.json")) +
                       r": not a readable manifest \(Expecting property name"):
        batch.manifest_anchors(ctx)
    (bad / "manifest.json").write_text('{"audit_anchor": {"events": -1}}')
    with pytest.raises(ExportError, match=r": not a readable manifest \(events must be a"):
        batch.manifest_anchors(ctx)
