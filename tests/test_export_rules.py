"""Each business rule of the export, pinned at its boundary: how an invoice is booked in DATEV,
exactly-once, what ``export --batch ID`` reports, what is fsynced before the rename, and that
only what was approved goes (an invoice changed since its approval is refused and reported)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from einvoice.approval import audit, workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.cli import app
from einvoice.context import Context
from einvoice.errors import NotFound
from einvoice.export import batch
from einvoice.export.plan import Batch
from einvoice.export.write import Written, write_batch
from einvoice.lifecycle import Status
from einvoice.pipeline import Submission, ingest
from einvoice.scheduler.jobs import EXPORT, Service
from einvoice.store import tables as t
from tests.test_export import read_datev

STD = "valid/xrechnung-testsuite/business-cases/standard/"
TWO_LINES = STD + "01.01a-INVOICE_ubl.xml"  # lines "Zeitschrift [...]", "Porto + …", 7 %
TWO_RATES = STD + "03.01a-INVOICE_ubl.xml"  # 19 %: 578.89 + 109.99, 7 %: 108.39 + 7.59
CREDIT_NOTE = "valid/en16931-examples/ubl/ubl-tc434-creditnote1.xml"  # 0 %: 100.11
SELLER, SELLER_VAT = "[Seller name]", "DE 123456789"  # the seller of TWO_LINES
GEGENKONTO, KOST1 = "Gegenkonto (ohne BU-Schlüssel)", "KOST1 - Kostenstelle"
Rows = dict[int, list[dict[str, str]]]


@pytest.fixture(autouse=True)
def _one_approval(ctx: Context) -> None:
    ctx.settings.four_eyes_threshold = Decimal("1e12")


def _add(ctx: Context, corpus: Path, path: str, number: str, *, other_seller: bool = False,
         approve: bool = True, edit: Callable[[str], str] | None = None, **assign: Any) -> int:
    """Ingest a corpus invoice under a new number (its XML changed by ``edit``), assign
    (``account=…, cost_centre=…``) and approve it; returns its id."""
    data = (corpus / path).read_text("utf-8")
    data = re.sub(r"<cbc:ID>[^<]*</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>", data, count=1)
    data = edit(data) if edit else data
    if other_seller:
        data = data.replace(SELLER, "Andere GmbH").replace(SELLER_VAT, "DE 987654321")
    res = ingest(ctx, Submission(data.encode(), "cli", filename=f"{number}.xml"))
    [inv_id] = [o.invoice_id for o in res.outcomes if o.status == "pending" and o.invoice_id]
    if assign:
        workflow.assign(ctx, inv_id, "alice", assign.get("account"), assign.get("cost_centre"))
    if approve:
        workflow.approve(ctx, inv_id, "alice")
    return inv_id


def _rows(folder: Path) -> Rows:
    """The DATEV bookings of a batch folder by invoice id (via Beleglink and the manifest)."""
    manifest = json.loads((folder / "manifest.json").read_bytes())
    ids = {i["original_sha256"]: i["id"] for i in manifest["invoices"]}
    out: Rows = {}
    for path in sorted(folder.glob("EXTF_*.csv")):
        for row in read_datev(path)[2]:
            out.setdefault(ids[row["Beleglink"].removeprefix("sha256:")], []).append(row)
    return out


def _export(ctx: Context) -> Rows:
    result = batch.export(ctx, "bob")
    assert result.folder is not None
    return _rows(result.folder)


def _amount(row: dict[str, str]) -> Decimal:
    return Decimal(row["Umsatz (ohne Soll/Haben-Kz)"].replace(",", "."))


# ------------------------------------------------------------------ how an invoice is booked

@pytest.fixture
def booked(ctx: Context, corpus: Path) -> dict[str, Any]:
    """Three invoices: one with an assignment and a supplier in the master data, one with only
    the supplier, one with neither; the dry run and the DATEV rows of their export."""
    ctx.settings.datev_default_account = "4999"
    ctx.settings.datev_default_creditor = "79999"
    save_supplier(ctx, SupplierData(name=SELLER, vat_id=SELLER_VAT, account="4711",
                                    creditor_account="71234", cost_centre="KS-SUP"))
    ids = {"assigned": _add(ctx, corpus, TWO_LINES, "R-1", account="3400", cost_centre="KS-A"),
           "supplier": _add(ctx, corpus, TWO_LINES, "R-2"),
           "neither": _add(ctx, corpus, TWO_LINES, "R-3", other_seller=True)}
    planned = {p.invoice_id: p for p in batch.export(ctx, "bob", dry_run=True).planned}
    rows = _export(ctx)
    return {"planned": {k: planned[i] for k, i in ids.items()},
            "rows": {k: rows[i] for k, i in ids.items()}}


def _column(booked: dict[str, Any], column: str) -> dict[str, list[str]]:
    return {k: [r[column] for r in rows] for k, rows in booked["rows"].items()}


def test_gegenkonto_assignment_beats_supplier_beats_setting(booked: dict[str, Any]) -> None:
    assert _column(booked, GEGENKONTO) == {"assigned": ["3400"], "supplier": ["4711"],
                                           "neither": ["4999"]}


def test_konto_is_supplier_creditor_else_setting(booked: dict[str, Any]) -> None:
    assert _column(booked, "Konto") == {"assigned": ["71234"], "supplier": ["71234"],
                                        "neither": ["79999"]}


def test_kost1_assignment_beats_supplier(booked: dict[str, Any]) -> None:
    assert _column(booked, KOST1) == {"assigned": ["KS-A"], "supplier": ["KS-SUP"],
                                      "neither": [""]}


def test_dry_run_shows_the_booking_the_export_makes(booked: dict[str, Any]) -> None:
    shown = {k: (p.creditor, p.account, p.cost_centre or "")
             for k, p in booked["planned"].items()}
    assert shown == {k: (r["Konto"], r[GEGENKONTO], r[KOST1])
                     for k, [r] in booked["rows"].items()}


def test_invalid_assigned_account_falls_back(ctx: Context, corpus: Path) -> None:
    save_supplier(ctx, SupplierData(name=SELLER, vat_id=SELLER_VAT, account="4711"))
    ids = [_add(ctx, corpus, TWO_LINES, f"R-{i}", account=account)
           for i, account in enumerate(["34x", "1234567890", "123456789"])]
    rows = _export(ctx)
    assert [[r[GEGENKONTO] for r in rows[i]] for i in ids] == [["4711"], ["4711"],
                                                               ["123456789"]]


def test_line_assignment_books_that_line(ctx: Context, corpus: Path) -> None:
    ctx.settings.datev_per_line = True
    inv = _add(ctx, corpus, TWO_LINES, "R-LINES", approve=False, account="3400",
               cost_centre="KS-A")
    workflow.assign(ctx, inv, "alice", "4500", "KS-L1", line=1)
    workflow.assign(ctx, inv, "alice", "45x", None, line=2)  # not an account: invoice's
    workflow.approve(ctx, inv, "alice")
    rows = _export(ctx)[inv]
    assert {r["Buchungstext"]: (r[GEGENKONTO], r[KOST1]) for r in rows} == {
        "Zeitschrift [...]": ("4500", "KS-L1"), "Porto + Versandkosten": ("3400", "KS-A")}
    assert sum(map(_amount, rows)) == Decimal("336.90")  # BT-112


@pytest.mark.parametrize("keys,expected", [
    ({"19": "91", "7": "81"}, {"688,88": "91", "115,98": "81"}),
    # "<category>:<rate>" beats the category, which beats the rate
    ({"S:19": "92", "S": "93", "19": "91", "7": "81"}, {"688,88": "92", "115,98": "93"}),
])
def test_tax_key_per_vat_rate_lines_add_up(ctx: Context, corpus: Path, keys: dict[str, str],
                                           expected: dict[str, str]) -> None:
    ctx.settings.datev_tax_keys = keys
    inv = _add(ctx, corpus, TWO_RATES, "R-RATES")
    rows = _export(ctx)[inv]
    assert {r["Umsatz (ohne Soll/Haben-Kz)"]: r["BU-Schlüssel"] for r in rows} == expected
    assert len(rows) == 2 and sum(map(_amount, rows)) == Decimal("804.86")  # BT-112


def test_credit_note_booked_s_invoice_h(ctx: Context, corpus: Path) -> None:
    invoice = _add(ctx, corpus, TWO_LINES, "R-H")
    credit = _add(ctx, corpus, CREDIT_NOTE, "G-S")
    rows = _export(ctx)
    assert [(r["Soll/Haben-Kennzeichen"], r["Umsatz (ohne Soll/Haben-Kz)"])
            for r in rows[credit]] == [("S", "100,11")]
    assert [r["Soll/Haben-Kennzeichen"] for r in rows[invoice]] == ["H"]


# ------------------------------------------------------------------ exactly once

def _batches(ctx: Context) -> dict[int, list[int]]:
    """Recorded batch id → ids of its invoices, as its folder's manifest lists them."""
    with Session(ctx.engine) as s:
        folders = {b.id: Path(b.folder) for b in s.exec(select(t.ExportBatch)).all()}
    assert sorted(p.name for p in ctx.settings.export_path.iterdir()) == sorted(
        p.name for p in folders.values())  # nothing else left in the export directory
    return {bid: [i["id"] for i in json.loads((f / "manifest.json").read_bytes())["invoices"]]
            for bid, f in folders.items() if bid is not None}


def test_second_export_exports_nothing(ctx: Context, corpus: Path) -> None:
    inv = _add(ctx, corpus, TWO_LINES, "R-ONCE")
    assert batch.export(ctx, "bob").invoice_ids == [inv]
    again = batch.export(ctx, "bob")
    assert (again.batch_id, again.invoice_ids, again.folder) == (None, [], None)
    assert _batches(ctx) == {1: [inv]}
    assert _state(ctx, inv) == (Status.EXPORTED, 1)


def _state(ctx: Context, inv: int) -> tuple[str, int | None]:
    with Session(ctx.engine) as s:
        row = s.get(t.Invoice, inv)
        assert row is not None
        return row.status, row.export_batch_id


def _set_status(ctx: Context, inv: int, status: str) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.Invoice).where(col(t.Invoice.id) == inv).values(status=status))


def test_invoice_leaving_approved_before_commit_is_not_exported(
        ctx: Context, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stays, leaves = _add(ctx, corpus, TWO_LINES, "R-STAYS"), _add(ctx, corpus, TWO_LINES, "R-GO")
    written: list[list[int]] = []

    def write_then_change(c: Context, b: Batch) -> Written:
        written.append(b.invoice_ids)
        if len(written) == 1:  # after planning, before the record step
            _set_status(ctx, leaves, Status.ON_HOLD)
        return write_batch(c, b)

    monkeypatch.setattr(batch, "write_batch", write_then_change)
    result = batch.export(ctx, "bob")
    assert written == [[stays, leaves], [stays]]  # the stale folder was discarded, planned again
    assert (result.batch_id, result.invoice_ids) == (1, [stays])
    assert _batches(ctx) == {1: [stays]}
    assert batch.verify(ctx, 1) == []
    assert _state(ctx, leaves) == (Status.ON_HOLD, None)

    monkeypatch.undo()
    _set_status(ctx, leaves, Status.APPROVED)
    assert batch.export(ctx, "bob").invoice_ids == [leaves]
    assert _batches(ctx) == {1: [stays], 2: [leaves]}
    assert batch.verify(ctx, 2) == []


# ------------------------------------------------------------------ export --batch ID

def test_verify_reports_each_damage(ctx: Context, corpus: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inv = _add(ctx, corpus, TWO_LINES, "R-VERIFY")
    folder = batch.export(ctx, "bob").folder
    assert folder is not None
    original = f"originals/{inv:06d}_R-VERIFY.xml"
    manifest = folder / "manifest.json"
    kept = {p: p.read_bytes() for p in (folder / "invoices.csv", folder / original, manifest)}
    assert batch.verify(ctx, 1) == []

    (folder / "invoices.csv").write_bytes(kept[folder / "invoices.csv"].replace(b";", b",", 1))
    assert batch.verify(ctx, 1) == ["altered: invoices.csv"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EINVOICE_DATABASE_URL", str(ctx.settings.database_url))
    cli = CliRunner().invoke(app, ["export", "--batch", "1", "--json"])
    assert (cli.exit_code, json.loads(cli.stdout)) == (1, {
        "batch_id": 1, "ok": False, "problems": ["altered: invoices.csv"]})
    (folder / "invoices.csv").write_bytes(kept[folder / "invoices.csv"])

    (folder / original).unlink()
    assert batch.verify(ctx, 1) == [f"missing: {original}"]
    (folder / original).write_bytes(kept[folder / original])

    manifest.write_bytes(kept[manifest].replace(b'"actor": "bob"', b'"actor": "eve"'))
    assert batch.verify(ctx, 1) == ["manifest.json differs from the recorded SHA-256"]
    manifest.unlink()
    assert batch.verify(ctx, 1) == [f"{folder}: no manifest (the batch is lost: use --rewrite)"]
    manifest.write_bytes(kept[manifest])
    assert batch.verify(ctx, 1) == []
    assert CliRunner().invoke(app, ["export", "--batch", "1", "--json"]).exit_code == 0


# ------------------------------------------------------------------ durability

def test_every_file_and_folder_synced_before_the_rename(
        ctx: Context, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, Path]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}"))))
        real_fsync(fd)

    def rename(src: Any, dst: Any) -> None:
        events.append(("rename", Path(src).resolve()))
        real_rename(src, dst)
        events.append(("renamed", Path(dst).resolve()))

    _add(ctx, corpus, TWO_LINES, "R-SYNC")
    _add(ctx, corpus, CREDIT_NOTE, "G-SYNC")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    folder = batch.export(ctx, "bob").folder
    assert folder is not None
    [at] = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    tmp, final = events[at][1], events[at + 1][1]
    assert final == folder.resolve()
    before = {path for kind, path in events[:at] if kind == "fsync"}
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == ["EXTF_Buchungsstapel_2016.csv", "EXTF_Buchungsstapel_2019.csv",
                     "invoices.csv", "invoices.jsonl", "manifest.json",
                     "originals/000001_R-SYNC.xml", "originals/000002_G-SYNC.xml"]
    assert {tmp / name for name in names} <= before
    assert {tmp, tmp / "originals"} <= before
    assert ("fsync", final.parent) in events[at + 2:]


# ------------------------------------------------------------------ only what was approved

IBAN, FORGED = "DE79000000001234567890", "DE02120300000000202051"  # TWO_LINES pays to IBAN


def _content(ctx: Context, inv: int) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        return audit.approved_content(conn, inv)


def _set(ctx: Context, table: Any, row_id: int, **values: Any) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(table).where(col(table.id) == row_id).values(**values))


def _pay_to(ctx: Context, inv: int, iban: str) -> None:
    """Edit the IBAN inside the stored invoice data (what the neutral export writes)."""
    with Session(ctx.engine) as s:
        row = s.get(t.Invoice, inv)
        assert row is not None and row.model_json is not None
        data = json.loads(row.model_json)
        data["payment"]["credit_transfers"][0]["account_id"] = iban
    _set(ctx, t.Invoice, inv, model_json=json.dumps(data))


def _line(ctx: Context, inv: int, position: int, **values: Any) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.InvoiceLine).where(col(t.InvoiceLine.invoice_id) == inv,
                                                 col(t.InvoiceLine.position) == position)
                     .values(**values))


def _document(ctx: Context, inv: int) -> int:
    with Session(ctx.engine) as s:
        row = s.get(t.Invoice, inv)
        assert row is not None
        return row.document_id


# what is edited in the database after approval, one per value the approval vouches for
EDITS: dict[str, Callable[[Context, int], None]] = {
    "gross_total": lambda ctx, i: _set(ctx, t.Invoice, i, gross_total=Decimal("9336.90")),
    "currency": lambda ctx, i: _set(ctx, t.Invoice, i, currency="USD"),
    "ibans": lambda ctx, i: _set(ctx, t.Invoice, i, ibans=f"{IBAN},{FORGED}"),
    "account": lambda ctx, i: _set(ctx, t.Invoice, i, account="4711"),
    "cost_centre": lambda ctx, i: _set(ctx, t.Invoice, i, cost_centre="KS-X"),
    "lines": lambda ctx, i: _line(ctx, i, 2, account="4500"),
    "data_sha256": lambda ctx, i: _pay_to(ctx, i, FORGED),
    "original_sha256": lambda ctx, i: _set(ctx, t.Document, _document(ctx, i), sha256="f" * 64),
}


def test_the_approval_event_carries_what_was_approved(ctx: Context, corpus: Path) -> None:
    inv = _add(ctx, corpus, TWO_LINES, "R-CONTENT", account="3400", cost_centre="KS-A")
    _line(ctx, inv, 1, cost_centre="KS-L")
    with Session(ctx.engine) as s:
        row, doc = s.get(t.Invoice, inv), s.get(t.Document, _document(ctx, inv))
        assert row is not None and row.model_json is not None and doc is not None
        data_sha = hashlib.sha256(row.model_json.encode()).hexdigest()
        event = s.exec(select(t.AuditEvent).where(col(t.AuditEvent.action) == "approve")).one()
    assert _content(ctx, inv) == {
        "gross_total": "336.9", "currency": "EUR", "ibans": [IBAN], "account": "3400",
        "cost_centre": "KS-A", "lines": [{"position": 1, "account": None, "cost_centre": "KS-L"}],
        "data_sha256": data_sha, "original_sha256": doc.sha256}
    assert json.loads(event.detail or "") == _content(ctx, inv) | {"lines": []}
    with ctx.engine.begin() as conn:  # an amount kept with trailing zeros reads the same
        conn.execute(text("UPDATE invoice SET gross_total = '336.90', ibans = NULL, "
                          "model_json = NULL WHERE id = :id"), {"id": inv})
    assert {k: _content(ctx, inv)[k] for k in ("gross_total", "ibans", "data_sha256")} == {
        "gross_total": "336.9", "ibans": [], "data_sha256": None}
    with pytest.raises(NotFound) as missing:
        _content(ctx, inv + 1)
    assert str(missing.value) == f"no invoice with id {inv + 1}"


@pytest.mark.parametrize("field", list(EDITS))
def test_a_value_changed_after_approval_is_not_exported(ctx: Context, corpus: Path,
                                                        field: str) -> None:
    keep = _add(ctx, corpus, TWO_LINES, "R-KEEP")
    inv = _add(ctx, corpus, TWO_LINES, "R-EDIT", account="3400", cost_centre="KS-A")
    before = _content(ctx, inv)
    EDITS[field](ctx, inv)
    after = _content(ctx, inv)
    assert [k for k in before if before[k] != after[k]] == [field]
    old, new = (json.dumps(c[field], ensure_ascii=False, sort_keys=True) for c in (before, after))
    refusal = {"id": inv, "reason": f"changed since approval: {field} {old} → {new}"}
    dry = batch.export(ctx, "bob", dry_run=True)
    assert ([p.invoice_id for p in dry.planned], dry.to_json()["refused"]) == ([keep], [refusal])
    result = batch.export(ctx, "bob")  # the batch goes on without it
    assert (result.invoice_ids, result.to_json()["refused"]) == ([keep], [refusal])
    assert _batches(ctx) == {1: [keep]}
    assert _state(ctx, inv) == (Status.APPROVED, None)
    again = batch.export(ctx, "bob")  # refused every time, and no empty batch
    assert (again.batch_id, again.to_json()["refused"]) == (None, [refusal])
    assert batch.run_export(ctx, "bob") == batch.ExportResult(refused=again.refused)


def test_the_reason_names_every_change(ctx: Context, corpus: Path) -> None:
    inv = _add(ctx, corpus, TWO_LINES, "R-TWO")
    EDITS["gross_total"](ctx, inv)
    EDITS["ibans"](ctx, inv)
    assert [r.to_json() for r in batch.export(ctx, "bob").refused] == [{"id": inv, "reason": (
        'changed since approval: gross_total "336.9" → "9336.9"; ibans ["DE79000000001234567890"]'
        ' → ["DE79000000001234567890", "DE02120300000000202051"]')}]


def test_the_approval_that_approved_counts(ctx: Context, corpus: Path) -> None:
    ctx.settings.four_eyes_threshold = Decimal("100")  # two approvals, an assignment between
    inv = _add(ctx, corpus, TWO_LINES, "R-4EYES", approve=False)
    assert workflow.approve(ctx, inv, "alice").after == Status.PENDING
    workflow.assign(ctx, inv, "alice", "4711", None)
    assert workflow.approve(ctx, inv, "bob").after == Status.APPROVED
    assert [p.invoice_id for p in batch.export(ctx, "bob", dry_run=True).planned] == [inv]
    _set(ctx, t.Invoice, inv, account=None)  # as the first approval saw it: still a change
    assert [r.to_json() for r in batch.export(ctx, "bob").refused] == [
        {"id": inv, "reason": 'changed since approval: account "4711" → null'}]


def _approval_detail(ctx: Context, inv: int, detail: str | None) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(update(t.AuditEvent).where(col(t.AuditEvent.invoice_id) == inv,
                                                col(t.AuditEvent.action) == "approve")
                     .values(detail=detail))


def test_what_no_approval_vouches_for_is_not_exported(ctx: Context, corpus: Path) -> None:
    behind = _add(ctx, corpus, TWO_LINES, "R-BEHIND", approve=False)
    _set_status(ctx, behind, Status.APPROVED)  # approved behind the workflow
    legacy = _add(ctx, corpus, TWO_LINES, "R-LEGACY")
    _approval_detail(ctx, legacy, None)  # as approvals were before they recorded content
    partial = _add(ctx, corpus, TWO_LINES, "R-PARTIAL")
    _approval_detail(ctx, partial, json.dumps(
        {k: v for k, v in _content(ctx, partial).items() if k != "lines"}))
    more = _add(ctx, corpus, TWO_LINES, "R-STEP")  # more in the event (a step) is fine
    _approval_detail(ctx, more, json.dumps(_content(ctx, more) | {"step": "anordnung"}))
    result = batch.export(ctx, "bob")
    nothing = "its approval does not record what was approved"
    assert (result.invoice_ids, [r.to_json() for r in result.refused]) == ([more], [
        {"id": behind, "reason": "no approval in the audit trail"},
        {"id": legacy, "reason": nothing}, {"id": partial, "reason": nothing}])


def test_refusals_show_in_the_json_and_the_nightly_job(
        ctx: Context, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = _add(ctx, corpus, TWO_LINES, "R-JOB")
    EDITS["currency"](ctx, inv)
    reason = 'changed since approval: currency "EUR" → "USD"'
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EINVOICE_DATABASE_URL", str(ctx.settings.database_url))
    cli = CliRunner().invoke(app, ["export", "--json"])
    assert (cli.exit_code, json.loads(cli.stdout)["refused"]) == (0, [{"id": inv,
                                                                       "reason": reason}])
    keep = _add(ctx, corpus, TWO_LINES, "R-JOB-OK")
    assert Service(ctx).export()
    with Session(ctx.engine) as s:
        run = s.exec(select(t.JobRun).where(col(t.JobRun.job) == EXPORT)).one()
    assert (run.ok, run.detail) == (False, "batch id=1 invoice_count=1 gross_total=336.9; "
                                           f"invoice {inv} not exported: {reason}")
    assert _batches(ctx) == {1: [keep]}


# ------------------------------------------------------------------ foreign currencies

FX = ("Umsatz (ohne Soll/Haben-Kz)", "WKZ Umsatz", "Kurs", "Basis-Umsatz", "WKZ Basis-Umsatz")


def _in(currency: str, vat_in_eur: str | None = None) -> Callable[[str], str]:
    """An edit for ``_add``: a UBL invoice in ``currency`` (every amount), with ``vat_in_eur``
    also giving its VAT total in EUR (BT-6 = EUR and a second TaxTotal: BT-111)."""
    def edit(xml: str) -> str:
        code = "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        assert code in xml and xml.count("</cac:TaxTotal>") == 1
        xml = xml.replace('currencyID="EUR"', f'currencyID="{currency}"').replace(
            code, code.replace("EUR", currency))
        if vat_in_eur is None:
            return xml
        return xml.replace("</cbc:DocumentCurrencyCode>", "</cbc:DocumentCurrencyCode>"
                           "<cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>").replace(
            "</cac:TaxTotal>", f'</cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID="EUR">'
            f"{vat_in_eur}</cbc:TaxAmount></cac:TaxTotal>")
    return edit


def _fx(rows: list[dict[str, str]]) -> list[list[str]]:
    return [[r[c] for c in FX] for r in rows]


def _export_detail(ctx: Context, inv: int) -> dict[str, Any]:
    with Session(ctx.engine) as s:
        ev = s.exec(select(t.AuditEvent).where(col(t.AuditEvent.invoice_id) == inv,
                                               col(t.AuditEvent.action) == "export")).one()
    return dict(json.loads(ev.detail or "{}"))


def test_foreign_currency_at_the_configured_rate_kept_for_rewrite(ctx: Context,
                                                                  corpus: Path) -> None:
    ctx.settings.eur_rates = {"USD": Decimal("0.92")}
    eur = _add(ctx, corpus, TWO_LINES, "R-EUR")
    usd = _add(ctx, corpus, TWO_LINES, "R-USD", edit=_in("USD"))
    result = batch.export(ctx, "bob")
    assert result.folder is not None and result.batch_id is not None
    rows = _rows(result.folder)
    # 336.90 USD × 0.92 = 309.948 EUR; Kurs 1 / 0.92 = 1.0869565… USD per EUR
    assert _fx(rows[usd]) == [["336,90", "USD", "1,086957", "309,95", "EUR"]]
    assert _fx(rows[eur]) == [["336,90", "EUR", "", "", ""]]
    assert _export_detail(ctx, usd)["eur_rate"] == "0.92"
    assert "eur_rate" not in _export_detail(ctx, eur)
    ctx.settings.eur_rates = {"USD": Decimal("0.5")}  # the rate of the batch, not today's
    again = batch.rewrite(ctx, result.batch_id)
    assert again.manifest_sha256 == result.manifest_sha256 and again.folder is not None
    assert _fx(_rows(again.folder)[usd]) == _fx(rows[usd])


def test_foreign_currency_at_the_rate_the_invoice_gives(ctx: Context, corpus: Path) -> None:
    ctx.settings.eur_rates = {"CHF": Decimal("2")}  # the invoice's own rate comes first
    chf = _add(ctx, corpus, TWO_LINES, "R-CHF", edit=_in("CHF", vat_in_eur="23.45"))
    with Session(ctx.engine) as s:
        row = s.get(t.Invoice, chf)
        assert row is not None and row.model_json is not None
        totals = json.loads(row.model_json)["totals"]
    assert (totals["vat"], totals["vat_accounting_currency"]) == ("22.04", "23.45")
    # 23.45 EUR for 22.04 CHF of VAT: Kurs 22.04 / 23.45 = 0.9398720…, 336.90 CHF = 358.453… EUR
    assert _fx(_export(ctx)[chf]) == [["336,90", "CHF", "0,939872", "358,45", "EUR"]]
    assert Decimal(_export_detail(ctx, chf)["eur_rate"]) == Decimal("23.45") / Decimal("22.04")


def test_foreign_currency_without_a_rate_is_refused(ctx: Context, corpus: Path) -> None:
    keep = _add(ctx, corpus, TWO_LINES, "R-OK")
    gbp = _add(ctx, corpus, TWO_LINES, "R-GBP", edit=_in("GBP"), approve=False)
    edited = _add(ctx, corpus, TWO_LINES, "R-GBP-EDITED", edit=_in("GBP"), approve=False)
    for inv in (gbp, edited):  # without a rate, two people approve
        for who in ("alice", "bob"):
            workflow.approve(ctx, inv, who)
    EDITS["gross_total"](ctx, edited)  # refused once, for what changed
    no_rate = {"id": gbp, "reason": "in GBP without a rate to EUR (DATEV Kurs): the invoice "
               "gives no VAT total in EUR (BT-111) and `eur_rates` has none for GBP"}
    changed = {"id": edited,
               "reason": 'changed since approval: gross_total "336.9" → "9336.9"'}
    dry = batch.export(ctx, "bob", dry_run=True)
    assert ([p.invoice_id for p in dry.planned], dry.to_json()["refused"]) == (
        [keep], [no_rate, changed])
    result = batch.export(ctx, "bob")
    assert (result.invoice_ids, result.to_json()["refused"]) == ([keep], [no_rate, changed])
    assert _state(ctx, gbp) == (Status.APPROVED, None)
    ctx.settings.eur_rates = {"GBP": Decimal("1.17")}  # once it has a rate, it goes
    rows = _export(ctx)
    assert list(rows) == [gbp]
    assert _fx(rows[gbp]) == [["336,90", "GBP", "0,854701", "394,17", "EUR"]]
