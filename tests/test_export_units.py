"""The export's plain parts without a database: ``ExportItem`` / ``DatevParams`` (what a batch
keeps of the settings), the booking fallback for account numbers, ``Batch`` and ``Planned``,
batch folder names and moves (``folders``), and the folder ``write_batch`` makes with its
manifest (given a stand-in for the archive)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from einvoice.config import DEFAULT_TIMEZONE, load_settings
from einvoice.context import Context
from einvoice.export import BatchInfo, DatevParams, ExportItem, datev, folders, neutral, plan
from einvoice.export import write as write_mod
from einvoice.export.plan import Batch, Entry, Original, Planned
from einvoice.model import Invoice, Seller, Totals, VatBreakdown
from einvoice.store.chain import Head

BERLIN = ZoneInfo("Europe/Berlin")


def invoice(**kw: Any) -> Invoice:
    base: dict[str, Any] = {
        "number": "RE-1", "issue_date": date(2024, 1, 30), "type_code": "380",
        "currency": "EUR", "seller": Seller(name="Müller GmbH", vat_id="DE123456789"),
        "totals": Totals(with_vat=D("119.00")),
        "vat_breakdown": [VatBreakdown(taxable_amount=D("100"), tax_amount=D("19"),
                                       category="S", rate=D("19"))]}
    return Invoice(**(base | kw))


def item(model: Invoice | None = None, **kw: Any) -> ExportItem:
    base: dict[str, Any] = {
        "invoice_id": 1, "model": model or invoice(), "creditor": "70001", "account": "4900",
        "cost_centre": None, "assigned_account": None, "assigned_cost_centre": None,
        "lines": (), "original_sha256": "aa" * 32, "xml_sha256": "aa" * 32,
        "files": ("originals/000001_RE-1.xml",), "pay_by": None}
    return ExportItem(**(base | kw))


PARAMS = DatevParams(adviser=29098, client=55003, chart="03", account_length=4,
                     fiscal_year_start="0101", tax_keys={"7": "8", "19": "9"})


# ------------------------------------------------------------------ ExportItem, DatevParams

def test_signed_gross_is_bt112_negative_for_credit_notes() -> None:
    assert item().signed_gross == D("119.00")
    assert item(invoice(type_code="381")).signed_gross == D("-119.00")
    assert item(invoice(totals=Totals())).signed_gross == D(0)
    assert item(invoice(type_code="381", totals=Totals())).signed_gross == D(0)


def test_datev_params_json_keeps_every_setting_and_the_zone_only_when_not_default() -> None:
    data = PARAMS.to_json()
    assert data == {"adviser": 29098, "client": 55003, "chart": "03", "account_length": 4,
                    "fiscal_year_start": "0101", "tax_keys": {"19": "9", "7": "8"},
                    "per_line": False, "formula_guard": True}
    assert list(data["tax_keys"]) == ["19", "7"]  # sorted: the same bytes every time
    assert PARAMS.timezone == DEFAULT_TIMEZONE == "Europe/Berlin"
    assert PARAMS.zone == BERLIN
    other = DatevParams(1001, 1, "04", 5, "0701", {}, True, "UTC")
    assert other.to_json() == {"adviser": 1001, "client": 1, "chart": "04",
                               "account_length": 5, "fiscal_year_start": "0701",
                               "tax_keys": {}, "per_line": True, "timezone": "UTC",
                               "formula_guard": True}
    assert other.zone == ZoneInfo("UTC")


def test_datev_params_from_json() -> None:
    assert DatevParams.from_json(PARAMS.to_json()) == PARAMS
    other = DatevParams(1001, 1, "04", 5, "0701", {}, True, "UTC")
    assert DatevParams.from_json(other.to_json()) == other
    loose = DatevParams.from_json({"adviser": "1001", "client": "7", "chart": 3,
                                   "account_length": "5", "fiscal_year_start": 701,
                                   "tax_keys": {19: 9}, "per_line": 1})
    # without the key: a batch written before the formula guard (its bytes stay as they were)
    assert loose == DatevParams(1001, 7, "3", 5, "701", {"19": "9"}, True, DEFAULT_TIMEZONE,
                                formula_guard=False)
    assert type(loose.adviser) is int and type(loose.per_line) is bool


# ------------------------------------------------------------------ plan: the plain parts

@pytest.mark.parametrize("value,expected", [
    ("4711", "4711"), (" 4711 ", "4711"), ("123456789", "123456789"), ("1234567890", None),
    ("47x", None), ("", None), (None, None), ("47 11", None), ("-471", None)])
def test_account_only_datev_account_numbers(value: str | None, expected: str | None) -> None:
    assert plan._account(value) == expected


def foreign(currency: str | None = "CHF", vat_currency: str | None = "EUR",
            vat: str | None = "22.04", in_eur: str | None = "23.45") -> Invoice:
    """An invoice in ``currency`` giving BT-6, BT-110 and BT-111 as told."""
    return invoice(currency=currency, vat_currency=vat_currency, totals=Totals(
        with_vat=D("336.90"), vat=None if vat is None else D(vat),
        vat_accounting_currency=None if in_eur is None else D(in_eur)))


RATES = {"CHF": D("2"), "USD": D("0.92")}


@pytest.mark.parametrize("model,expected", [
    (foreign(), D("23.45") / D("22.04")),  # the invoice's own rate before the table
    (foreign(vat="-22.04", in_eur="-23.45"), D("23.45") / D("22.04")),  # a credit note's
    (foreign(vat_currency="GBP"), D("2")),  # VAT in another currency than EUR: the table
    (foreign(vat_currency=None), D("2")),
    (foreign(in_eur=None), D("2")),
    (foreign(vat="0", in_eur="0"), D("2")),  # no VAT (0 %): no rate from it
    (foreign(vat=None), D("2")),
    (foreign(in_eur="-23.45"), D("2")),  # a negative rate is none
    (foreign(currency="USD", vat_currency=None), D("0.92")),
    (foreign(currency="GBP", vat_currency=None), None),  # no rate anywhere
    (foreign(currency="EUR"), None), (foreign(currency=None), None),  # EUR needs none
])
def test_eur_rate_from_the_invoice_else_the_table(model: Invoice, expected: D | None) -> None:
    assert plan.eur_rate(model, RATES) == expected


def test_rate_refusal_names_the_currency_and_what_is_missing() -> None:
    for fine in (foreign(), foreign(currency="EUR", vat_currency=None),
                 foreign(currency=None, vat_currency=None),
                 foreign(currency="USD", vat_currency=None)):
        assert plan.rate_refusal(fine, RATES) is None
    assert plan.rate_refusal(foreign(currency="GBP", vat_currency=None), RATES) == (
        "in GBP without a rate to EUR (DATEV Kurs): the invoice gives no VAT total in EUR "
        "(BT-111) and `eur_rates` has none for GBP")
    idr = foreign(currency="IDR", vat_currency=None)
    assert plan.rate_refusal(idr, {"IDR": D("0.0001000001")}) is None  # Kurs 9999.990000
    assert plan.rate_refusal(idr, {"IDR": D("0.0001")}) == (
        "in IDR at 0.0001 EUR per unit: a DATEV Kurs of 10000.000000 IDR per EUR is out of "
        "the format's range")
    assert plan.rate_refusal(idr, {"IDR": D("2000000")}) is None  # Kurs 0.0000005: 0.000001
    assert plan.rate_refusal(idr, {"IDR": D("2000001")}) == (  # Kurs 0 is not allowed
        "in IDR at 2000001 EUR per unit: a DATEV Kurs of 0.000000 IDR per EUR is out of the "
        "format's range")


def test_params_from_settings(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path, datev_adviser=29098, datev_client=55003,
                      datev_chart="04", datev_account_length=6, datev_fiscal_year_start="0701",
                      datev_tax_keys={"19": "9"}, datev_per_line=True, timezone="UTC")
    p = plan.params_from_settings(cast(Context, SimpleNamespace(settings=s)))
    assert p == DatevParams(29098, 55003, "04", 6, "0701", {"19": "9"}, True, "UTC")
    assert p.tax_keys is not s.datev_tax_keys  # a copy: the batch keeps what it was written with


def test_planned_to_json() -> None:
    p = Planned(3, "RE-1", "Müller", "380", D("119.50"), "EUR", "70001", "4900", None)
    assert p.to_json() == {"invoice_id": 3, "number": "RE-1", "seller": "Müller",
                           "type_code": "380", "gross_total": "119.50", "currency": "EUR",
                           "creditor": "70001", "account": "4900", "cost_centre": None}
    empty = Planned(4, None, None, None, None, None, "70000", "4900", "KS")
    assert empty.to_json()["gross_total"] is None and empty.to_json()["cost_centre"] == "KS"


def _batch(items: list[ExportItem], created: datetime | None = None) -> Batch:
    info = BatchInfo(7, created or datetime(2024, 1, 30, 14, 4, 40, 439000, tzinfo=BERLIN),
                     "bob", "batch-000007-20240130")
    return Batch(info, PARAMS, tuple(
        Entry(i, tuple(Original(f, i.original_sha256) for f in i.files)) for i in items))


def test_batch_items_ids_and_gross_total() -> None:
    a = item(invoice_id=3)
    b = item(invoice(type_code="381", totals=Totals(with_vat=D("20.50"))), invoice_id=5)
    batch = _batch([a, b])
    assert batch.items == [a, b] and batch.invoice_ids == [3, 5]
    assert batch.gross_total == D("98.50")
    assert _batch([]).gross_total == D(0) and _batch([]).items == []


# ------------------------------------------------------------------ folders

def test_folder_name_is_the_local_date_of_the_batch() -> None:
    late = datetime(2024, 1, 30, 23, 30, tzinfo=UTC)  # already the 31st in Berlin
    assert folders.folder_name(7, late, BERLIN) == "batch-000007-20240131"
    assert folders.folder_name(1234567, late, ZoneInfo("UTC")) == "batch-1234567-20240130"


@pytest.mark.parametrize("name,expected", [
    ("RE 2024/01", "RE-2024-01"), ("..x..", "x"), ("-.a_b.c-", "a_b.c"), (None, "ohne-nummer"),
    ("///", "ohne-nummer"), ("", "ohne-nummer"), ("a" * 70, "a" * 60), ("Ä-1", "1"),
    ("X1X", "X1X")])
def test_safe_name(name: str | None, expected: str) -> None:
    assert folders.safe_name(name) == expected


def test_publish_renames_and_syncs_the_parent(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(folders, "fsync_dir", synced.append)
    tmp = tmp_path / ".tmp-x"
    tmp.mkdir()
    (tmp / "f").write_text("1")
    final = folders.publish(tmp_path, tmp, "batch-000001-20240101")
    assert final == tmp_path / "batch-000001-20240101"
    assert (final / "f").read_text() == "1" and not tmp.exists()
    assert synced == [tmp_path]
    other = tmp_path / ".tmp-y"
    other.mkdir()
    (other / "g").write_text("2")
    with pytest.raises(OSError):  # never over a batch folder that exists
        folders.publish(tmp_path, other, "batch-000001-20240101")


def test_discard_renames_to_a_temporary_name_first(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "batch-000002-20240101"
    (folder / "originals").mkdir(parents=True)
    (folder / "originals" / "a.xml").write_text("x")
    seen: list[tuple[str, Any]] = []
    real_rmtree = shutil.rmtree

    def rmtree(path: Path, ignore_errors: bool = False) -> None:
        seen.append(("rmtree", (Path(path), ignore_errors)))
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(folders, "fsync_dir", lambda p: seen.append(("fsync", p)))
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    folders.discard(tmp_path, folder)
    assert list(tmp_path.iterdir()) == []
    [(first, synced), (second, (gone, ignore))] = seen
    assert (first, second) == ("fsync", "rmtree")
    assert synced == tmp_path and gone.parent == tmp_path and ignore is True
    assert re.fullmatch(r"\.tmp-discard-batch-000002-20240101-[0-9a-f]{8}", gone.name)


# ------------------------------------------------------------------ write_batch, manifest

class Archive:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.data[digest] = data
        return digest

    def get(self, digest: str) -> bytes:
        return self.data[digest]


def _ctx(tmp_path: Path) -> tuple[Context, Archive]:
    archive = Archive()
    ns = SimpleNamespace(settings=SimpleNamespace(export_path=tmp_path / "exports"),
                         archive=archive)
    return cast(Context, ns), archive


def _entries(archive: Archive) -> list[Entry]:
    xml = archive.put(b"<Invoice>1</Invoice>")
    pdf, pdf_xml = archive.put(b"%PDF-1.7 zwei"), archive.put(b"<Invoice>2</Invoice>")
    usd = archive.put(b"<Invoice>3</Invoice>")
    none = archive.put(b"<Invoice>4</Invoice>")
    a = item(invoice(issue_date=date(2023, 12, 30)), invoice_id=1, original_sha256=xml,
             xml_sha256=xml, files=("originals/000001_RE-1.xml",))
    b = item(invoice(number="G-2", type_code="381", totals=Totals(with_vat=D("19.50"))),
             invoice_id=2, original_sha256=pdf, xml_sha256=pdf_xml,
             files=("originals/000002_G-2.pdf", "originals/000002_G-2.xml"))
    c = item(invoice(number="U-3", currency="USD", totals=Totals(with_vat=D("10"))),
             invoice_id=3, original_sha256=usd, xml_sha256=usd,
             files=("originals/000003_U-3.xml",))
    d = item(invoice(number="N-4", currency=None, totals=Totals()), invoice_id=4,
             original_sha256=none, xml_sha256=None, files=("originals/000004_N-4.xml",))
    return [Entry(a, (Original(a.files[0], xml),)),
            Entry(b, (Original(b.files[0], pdf), Original(b.files[1], pdf_xml))),
            Entry(c, (Original(c.files[0], usd),)), Entry(d, (Original(d.files[0], none),))]


def test_write_batch_folder_files_and_manifest(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(write_mod, "fsync_dir", synced.append)
    ctx, archive = _ctx(tmp_path)
    entries = _entries(archive)
    info = BatchInfo(7, datetime(2024, 1, 30, 14, 4, 40, 439000, tzinfo=BERLIN), "bob",
                     "batch-000007-20240130")
    batch = Batch(info, PARAMS, tuple(entries))
    written = write_mod.write_batch(ctx, batch)

    assert written.folder.parent == tmp_path / "exports"
    assert re.fullmatch(r"\.tmp-batch-000007-[0-9a-f]{12}", written.folder.name)
    assert synced == [written.folder / "originals", written.folder]
    on_disk = sorted(str(p.relative_to(written.folder)) for p in written.folder.rglob("*")
                     if p.is_file())
    names = ["EXTF_Buchungsstapel_2023.csv", "EXTF_Buchungsstapel_2024.csv", "invoices.csv",
             "invoices.jsonl", "manifest.json", "originals/000001_RE-1.xml",
             "originals/000002_G-2.pdf", "originals/000002_G-2.xml",
             "originals/000003_U-3.xml", "originals/000004_N-4.xml"]
    assert list(written.files) == on_disk == names

    items = [e.item for e in entries]
    expected_bytes = {**datev.write(items, PARAMS, info),
                      "invoices.csv": neutral.write_csv(items, info),
                      "invoices.jsonl": neutral.write_jsonl(items, info)}
    for e in entries:
        for o in e.originals:
            expected_bytes[o.name] = archive.get(o.sha256)
    for name, data in expected_bytes.items():
        assert (written.folder / name).read_bytes() == data, name

    raw = (written.folder / "manifest.json").read_bytes()
    assert written.manifest_sha256 == hashlib.sha256(raw).hexdigest()
    manifest = json.loads(raw)
    assert raw == (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)
                   + "\n").encode("utf-8")
    assert manifest == {
        "format": "einvoice-export/1", "batch": 7, "created_at": "2024-01-30T13:04:40.439000+00:00",
        "actor": "bob", "folder": "batch-000007-20240130", "invoice_count": 4,
        "gross_total": "109.50", "totals_by_currency": {"": "0", "EUR": "99.50", "USD": "10"},
        "datev": PARAMS.to_json(),
        "invoices": [
            {"id": 1, "number": "RE-1", "type_code": "380", "credit_note": False,
             "currency": "EUR", "gross_total": "119.00", "original_sha256": entries[0].item
             .original_sha256, "xml_sha256": entries[0].item.xml_sha256,
             "files": ["originals/000001_RE-1.xml"]},
            {"id": 2, "number": "G-2", "type_code": "381", "credit_note": True,
             "currency": "EUR", "gross_total": "19.50",
             "original_sha256": entries[1].item.original_sha256,
             "xml_sha256": entries[1].item.xml_sha256,
             "files": ["originals/000002_G-2.pdf", "originals/000002_G-2.xml"]},
            {"id": 3, "number": "U-3", "type_code": "380", "credit_note": False,
             "currency": "USD", "gross_total": "10",
             "original_sha256": entries[2].item.original_sha256,
             "xml_sha256": entries[2].item.xml_sha256, "files": ["originals/000003_U-3.xml"]},
            {"id": 4, "number": "N-4", "type_code": "380", "credit_note": False,
             "currency": None, "gross_total": None,
             "original_sha256": entries[3].item.original_sha256, "xml_sha256": None,
             "files": ["originals/000004_N-4.xml"]}],
        "files": [{"name": n, "sha256": hashlib.sha256(expected_bytes[n]).hexdigest(),
                   "size": len(expected_bytes[n])} for n in names if n != "manifest.json"]}


@pytest.fixture
def machine_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone (what ``astimezone()`` without a zone uses)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_new_york")
def test_write_batch_manifest_keeps_non_ascii_as_is(tmp_path: Path) -> None:
    ctx, archive = _ctx(tmp_path)
    sha = archive.put(b"<Invoice/>")
    it = item(invoice(number="RÄ-1"), original_sha256=sha, xml_sha256=sha,
              files=("originals/000001_R-1.xml",))
    batch = _batch([it], datetime(2024, 6, 1, 0, 30, tzinfo=BERLIN))
    written = write_mod.write_batch(ctx, batch)
    raw = (written.folder / "manifest.json").read_bytes()
    assert '"number": "RÄ-1"'.encode() in raw and raw.endswith(b"}\n")
    assert json.loads(raw)["created_at"] == "2024-05-31T22:30:00+00:00"  # UTC, not local
    assert os.listdir(tmp_path / "exports") == [written.folder.name]


def test_write_batch_manifest_anchors_the_audit_chain_head(tmp_path: Path) -> None:
    ctx, archive = _ctx(tmp_path)
    sha = archive.put(b"<Invoice/>")
    it = item(original_sha256=sha, xml_sha256=sha, files=("originals/000001_RE-1.xml",))
    head = Head(3, "c" * 64, 3, "2024-01-30T12:00:00+00:00")
    with_head = replace(_batch([it]), head=head)
    manifest = json.loads((write_mod.write_batch(ctx, with_head).folder / "manifest.json")
                          .read_bytes())
    assert manifest["audit_anchor"] == {"events": 3, "hash": "c" * 64, "event_id": 3,
                                        "at": "2024-01-30T12:00:00+00:00"}
    without = json.loads((write_mod.write_batch(ctx, _batch([it])).folder / "manifest.json")
                         .read_bytes())
    assert "audit_anchor" not in without  # batches from before anchors keep their bytes
    assert {k: v for k, v in manifest.items() if k != "audit_anchor"} == without
