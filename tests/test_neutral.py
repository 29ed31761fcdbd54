"""The neutral export (``invoices.csv``, ``invoices.jsonl``) column by column and key by key,
built from ``ExportItem`` objects directly (no database), as ``einvoice/export/neutral.py``
documents them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

from einvoice.export import BatchInfo, ExportItem, LineBooking, neutral
from einvoice.model import Invoice, Item, Line, Seller, Totals, VatBreakdown

BATCH = BatchInfo(7, datetime(2024, 1, 30, 13, 4, 40, 439000, tzinfo=UTC), "alice",
                  "batch-000007-20240130")
COLUMNS = [
    "invoice_id", "batch_id", "status", "number", "type_code", "credit_note", "issue_date",
    "due_date", "pay_by", "currency", "seller_name", "seller_vat_id", "buyer_reference",
    "order_reference", "net_total", "vat_total", "gross_total", "payable", "creditor_account",
    "account", "cost_centre", "original_sha256", "xml_sha256", "original_file",
    "line_position", "line_id", "item_name", "quantity", "unit_code", "line_net_amount",
    "line_vat_category", "line_vat_rate", "line_accounting_reference", "line_account",
    "line_cost_centre"]


def invoice(**kw: Any) -> Invoice:
    base: dict[str, Any] = {
        "number": "RE-1", "issue_date": date(2024, 1, 30), "type_code": "380",
        "currency": "EUR", "due_date": date(2024, 2, 29),
        "seller": Seller(name="Müller; Söhne", vat_id="DE123456789"),
        "buyer_reference": "04011000-12345-06", "purchase_order_reference": "PO-9",
        "totals": Totals(without_vat=D("150.00"), vat=D("28.50"), with_vat=D("178.50"),
                         payable=D("178.50")),
        "vat_breakdown": [VatBreakdown(taxable_amount=D("150.00"), tax_amount=D("28.50"),
                                       category="S", rate=D("19"))],
        "lines": [Line(id="1", quantity=D("2.000"), unit_code="H87", net_amount=D("100.00"),
                       vat_category="S", vat_rate=D("19"), accounting_reference="AR-1",
                       item=Item(name="Papier")),
                  Line(id="2", quantity=D("1E+1"), unit_code="C62", net_amount=D("50.00"),
                       vat_category="S", vat_rate=D("19.00"), item=Item(name='Toner "XL"'))]}
    return Invoice(**(base | kw))


def item(model: Invoice | None = None, **kw: Any) -> ExportItem:
    base: dict[str, Any] = {
        "invoice_id": 42, "model": model or invoice(), "creditor": "70001", "account": "4900",
        "cost_centre": "KS-I", "assigned_account": "4900", "assigned_cost_centre": None,
        "lines": (LineBooking(1, "4500", None), LineBooking(2, None, "KS-2")),
        "original_sha256": "aa" * 32, "xml_sha256": "bb" * 32,
        "files": ("originals/000042_RE-1.pdf", "originals/000042_RE-1.xml"),
        "pay_by": date(2024, 2, 20)}
    return ExportItem(**(base | kw))


def csv_rows(items: list[ExportItem]) -> list[list[str]]:
    data = neutral.write_csv(items, BATCH)
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))


HEAD = ["42", "7", "exported", "RE-1", "380", "0", "2024-01-30", "2024-02-29", "2024-02-20",
        "EUR", "Müller; Söhne", "DE123456789", "04011000-12345-06", "PO-9", "150.00", "28.50",
        "178.50", "178.50", "70001", "4900", "KS-I", "aa" * 32, "bb" * 32,
        "originals/000042_RE-1.pdf"]


# ------------------------------------------------------------------ invoices.csv

def test_csv_columns_are_the_documented_ones() -> None:
    assert list(neutral.CSV_COLUMNS) == COLUMNS
    assert csv_rows([])[0] == COLUMNS


def test_csv_one_row_per_line_repeating_the_invoice_fields() -> None:
    [_, first, second] = csv_rows([item()])
    assert first == [*HEAD, "1", "1", "Papier", "2.000", "H87", "100.00", "S", "19",
                     "AR-1", "4500", "KS-I"]
    # a line's own cost centre, else the invoice's; its own account, else the invoice's
    assert second == [*HEAD, "2", "2", 'Toner "XL"', "10", "C62", "50.00", "S", "19.00", "",
                      "4900", "KS-2"]


def test_csv_bytes_utf8_semicolon_crlf_quoting_only_where_needed() -> None:
    data = neutral.write_csv([item()], BATCH)
    assert not data.startswith(b"\xef\xbb\xbf")  # no BOM
    assert data.startswith(b"invoice_id;batch_id;status;number;")
    assert data.count(b"\r\n") == 3 and data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b';"M\xc3\xbcller; S\xc3\xb6hne";' in data  # UTF-8, quoted for its ;
    assert b';"Toner ""XL""";' in data
    assert b";42;7;exported;RE-1;380;0;" not in data and b"\r\n42;7;exported;RE-1;380;0;" in data


def test_csv_invoice_without_lines_has_one_row_with_empty_line_fields() -> None:
    model = invoice(lines=[])
    [_, row] = csv_rows([item(model, lines=())])
    assert row == [*HEAD, *[""] * 11]


def test_csv_lines_without_assignment_take_the_invoice_booking() -> None:
    [_, first, second] = csv_rows([item(lines=(), account="3400", cost_centre=None)])
    assert first[-2:] == ["3400", ""] and second[-2:] == ["3400", ""]
    assert first[19:21] == ["3400", ""]


def test_csv_credit_note_flag_and_missing_values() -> None:
    model = invoice(type_code="381", due_date=None, currency=None, buyer_reference=None,
                    totals=Totals(with_vat=D("-5")),
                    lines=[Line(net_amount=None, item=Item(name=None))])
    [_, row] = csv_rows([item(model, xml_sha256=None, files=(), pay_by=None,
                              lines=(LineBooking(1, None, None),), cost_centre=None,
                              status="approved")])
    assert dict(zip(COLUMNS, row, strict=True)) == dict(zip(COLUMNS, [
        "42", "7", "approved", "RE-1", "381", "1", "2024-01-30", "", "", "", "Müller; Söhne",
        "DE123456789", "", "PO-9", "", "", "-5", "", "70001", "4900", "", "aa" * 32, "", "",
        "1", "", "", "", "", "", "", "", "", "4900", ""], strict=True))


def test_csv_several_invoices_in_order() -> None:
    a = item(invoice_id=1, lines=())
    b = item(invoice(lines=[]), invoice_id=2, lines=())
    rows = csv_rows([a, b])
    assert [(r[0], r[24]) for r in rows[1:]] == [("1", "1"), ("1", "2"), ("2", "")]


# ------------------------------------------------------------------ invoices.jsonl

def test_jsonl_record_keys_and_values() -> None:
    it = item()
    rec = neutral.record(it, BATCH)
    assert {k: v for k, v in rec.items() if k != "invoice"} == {
        "id": 42, "status": "exported", "batch": 7, "account": "4900", "cost_centre": "KS-I",
        "assigned_account": "4900", "assigned_cost_centre": None,
        "creditor_account": "70001", "pay_by": "2024-02-20", "original_sha256": "aa" * 32,
        "xml_sha256": "bb" * 32,
        "files": ["originals/000042_RE-1.pdf", "originals/000042_RE-1.xml"],
        "lines": [{"position": 1, "account": "4500", "cost_centre": None},
                  {"position": 2, "account": None, "cost_centre": "KS-2"}]}
    assert rec["invoice"] == it.model.model_dump(mode="json")
    assert rec["invoice"]["totals"]["with_vat"] == "178.50"  # amounts as decimal strings
    assert rec["invoice"]["issue_date"] == "2024-01-30"
    assert Invoice.model_validate(rec["invoice"]) == it.model  # the full canonical model
    assert neutral.record(item(pay_by=None, lines=()), BATCH)["pay_by"] is None


def test_jsonl_one_compact_sorted_utf8_object_per_invoice() -> None:
    a, b = item(invoice_id=1), item(invoice_id=2, status="approved")
    data = neutral.write_jsonl([a, b], BATCH)
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    for raw, it in zip(lines[:-1], (a, b), strict=True):
        expected = neutral.record(it, BATCH)
        assert json.loads(raw) == expected
        assert raw == json.dumps(expected, ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":")).encode("utf-8")
    assert lines[0].startswith(b'{"account":"4900","assigned_account":"4900",')
    assert b'"M\xc3\xbcller; S\xc3\xb6hne"' in lines[0]  # not \u escapes
    assert neutral.write_jsonl([], BATCH) == b""
