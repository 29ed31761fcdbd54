"""The DATEV Buchungsstapel (EXTF, format 13) byte by byte, without a database.

Each test builds the canonical model, an ``ExportItem``, ``DatevParams`` and ``BatchInfo``
directly and reads the bytes ``datev.write`` makes (or calls the booking rules), so a mutant of
``einvoice/export/datev.py`` costs milliseconds. The facts come from /work/shared/docs/DATEV.md:
header fields, 125 columns, cp1252, CRLF, decimal comma, ``TTMM`` dates, quoting, S/H, tax keys,
Belegfeld 1, Beleglink, KOST1, WKZ, one booking per VAT rate (or per line).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from einvoice.export import BatchInfo, DatevParams, ExportItem, LineBooking, datev
from einvoice.model import (
    AllowanceCharge,
    Delivery,
    Invoice,
    Item,
    Line,
    Seller,
    Totals,
    VatBreakdown,
)

SHA = "ab" * 32
PARAMS = DatevParams(adviser=29098, client=55003, chart="03", account_length=4,
                     fiscal_year_start="0101")
# 13:04:40.439 UTC is 14:04:40.439 in Berlin (winter time)
BATCH = BatchInfo(7, datetime(2024, 1, 30, 13, 4, 40, 439000, tzinfo=UTC), "alice",
                  "batch-000007-20240130")
N = len(datev.COLUMNS)


def vb(taxable: str | None, tax: str | None, category: str | None = "S",
       rate: str | None = "19") -> VatBreakdown:
    return VatBreakdown(taxable_amount=None if taxable is None else D(taxable),
                        tax_amount=None if tax is None else D(tax), category=category,
                        rate=None if rate is None else D(rate))


def line(net: str | None, rate: str | None = "19", category: str | None = "S", *,
         name: str | None = None, note: str | None = None, line_id: str | None = None) -> Line:
    return Line(id=line_id, note=note, net_amount=None if net is None else D(net),
                vat_category=category, vat_rate=None if rate is None else D(rate),
                item=Item(name=name))


def invoice(**kw: Any) -> Invoice:
    base: dict[str, Any] = {
        "number": "RE-2024-001", "issue_date": date(2024, 1, 30), "type_code": "380",
        "currency": "EUR", "seller": Seller(name="Muster GmbH", vat_id="DE123456789"),
        "totals": Totals(with_vat=D("119.00")), "vat_breakdown": [vb("100.00", "19.00")]}
    return Invoice(**(base | kw))


def item(model: Invoice | None = None, **kw: Any) -> ExportItem:
    base: dict[str, Any] = {
        "invoice_id": 42, "model": model or invoice(), "creditor": "70001", "account": "4900",
        "cost_centre": None, "assigned_account": None, "assigned_cost_centre": None,
        "lines": (), "original_sha256": SHA, "xml_sha256": SHA,
        "files": ("originals/000042_RE-2024-001.xml",), "pay_by": None}
    return ExportItem(**(base | kw))


def params(**kw: Any) -> DatevParams:
    base: dict[str, Any] = {"adviser": 29098, "client": 55003, "chart": "03",
                            "account_length": 4, "fiscal_year_start": "0101"}
    return DatevParams(**(base | kw))


def the_file(items: list[ExportItem], p: DatevParams = PARAMS, batch: BatchInfo = BATCH
             ) -> str:
    """The text of the only file ``write`` makes (after checking encoding and line ends)."""
    [data] = datev.write(items, p, batch).values()
    text = data.decode("cp1252")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text


def lines_of(items: list[ExportItem], p: DatevParams = PARAMS, batch: BatchInfo = BATCH
             ) -> list[str]:
    return the_file(items, p, batch).split("\r\n")[:-1]


def header(items: list[ExportItem], p: DatevParams = PARAMS, batch: BatchInfo = BATCH
           ) -> list[str]:
    return lines_of(items, p, batch)[0].split(";")


def rows(items: list[ExportItem], p: DatevParams = PARAMS, batch: BatchInfo = BATCH
         ) -> list[dict[str, str]]:
    """The bookings, column name → raw field (quotes kept); values here contain no ``;``."""
    out = []
    for raw in lines_of(items, p, batch)[2:]:
        fields = raw.split(";")
        assert len(fields) == N
        out.append(dict(zip(datev.COLUMNS, fields, strict=True)))
    return out


def col(items: list[ExportItem], name: str, p: DatevParams = PARAMS) -> list[str]:
    return [r[name] for r in rows(items, p)]


def amounts(bookings: list[datev.Booking]) -> list[D]:
    return [b.amount for b in bookings]


# ------------------------------------------------------------------ the file

def test_header_line_is_the_documented_31_fields() -> None:
    assert lines_of([item()])[0] == (
        '"EXTF";700;21;"Buchungsstapel";13;20240130140440439;;"RE";"alice";"";29098;55003;'
        '20240101;4;20240130;20240130;"Rechnungseingang 7";"";1;0;0;"EUR";;"";;;"03";;;"";""')


def test_header_creation_time_is_local_time_of_the_batch_zone_with_milliseconds() -> None:
    summer = BatchInfo(1, datetime(2024, 7, 1, 22, 30, 0, 5999, tzinfo=UTC), "a", "f")
    assert header([item()], batch=summer)[5] == "20240702003000005"  # UTC+2, 5 ms
    assert header([item()], params(timezone="UTC"), summer)[5] == "20240701223000005"
    assert header([item()], params(timezone="America/New_York"), BATCH)[5] == (
        "20240130080440439")


def test_header_settings_period_and_limits() -> None:
    p = params(adviser=1001, client=1, chart="04", account_length=5, fiscal_year_start="0101")
    b = BatchInfo(123456789012345, BATCH.created_at, "x" * 30, "f")
    items = [item(invoice(issue_date=date(2024, 3, 5))),
             item(invoice(issue_date=date(2024, 1, 9))),
             item(invoice(issue_date=date(2024, 2, 1)))]
    h = header(items, p, b)
    assert len(h) == 31
    assert h[8] == '"' + "x" * 25 + '"'  # exported by: at most 25 characters
    assert h[10:16] == ["1001", "1", "20240101", "5", "20240109", "20240305"]
    assert h[16] == '"Rechnungseingang 1234567890123"'  # description: at most 30
    assert h[26] == '"04"'
    assert header([item()], params(chart="033"))[26] == '"03"'  # 2 characters


def test_heading_line_lists_all_125_columns_of_format_13() -> None:
    heading = lines_of([item()])[1].split(";")
    assert len(heading) == 125 == N
    numbered = {1: "Umsatz (ohne Soll/Haben-Kz)", 2: "Soll/Haben-Kennzeichen", 3: "WKZ Umsatz",
                7: "Konto", 8: "Gegenkonto (ohne BU-Schlüssel)", 9: "BU-Schlüssel",
                10: "Belegdatum", 11: "Belegfeld 1", 12: "Belegfeld 2", 14: "Buchungstext",
                20: "Beleglink", 21: "Beleginfo - Art 1", 36: "Beleginfo - Inhalt 8",
                37: "KOST1 - Kostenstelle", 38: "KOST2 - Kostenstelle",
                115: "Leistungsdatum", 117: "Fälligkeit", 125: "Abw. Skontokonto"}
    assert {n: heading[n - 1] for n in numbered} == numbered


def test_file_is_windows_1252_crlf_and_replaces_what_it_lacks() -> None:
    model = invoice(seller=Seller(name="Łódź Bäckerei €"))
    [(name, data)] = datev.write([item(model)], PARAMS, BATCH).items()
    assert name == "EXTF_Buchungsstapel_2024.csv"
    assert b'"?\xf3d? B\xe4ckerei \x80"' in data  # cp1252 bytes, ? for what it lacks
    assert data.count(b"\r\n") == 3 and data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_booking_row_field_by_field() -> None:
    model = invoice(delivery=Delivery(actual_date=date(2024, 1, 15)))
    it = item(model, cost_centre="KS-100", pay_by=date(2024, 2, 29))
    [raw] = lines_of([it], params(tax_keys={"19": "9"}))[2:]
    expected = [""] * N
    for name, value in {
            "Umsatz (ohne Soll/Haben-Kz)": "119,00", "Soll/Haben-Kennzeichen": '"H"',
            "WKZ Umsatz": '"EUR"', "Konto": "70001", "Gegenkonto (ohne BU-Schlüssel)": "4900",
            "BU-Schlüssel": '"9"', "Belegdatum": "3001", "Belegfeld 1": '"RE-2024-001"',
            "Belegfeld 2": '"290224"', "Buchungstext": '"Muster GmbH"',
            "Beleglink": f'"sha256:{SHA}"',
            "Beleginfo - Art 1": '"Rechnungsnummer"', "Beleginfo - Inhalt 1": '"RE-2024-001"',
            "Beleginfo - Art 2": '"einvoice-ID"', "Beleginfo - Inhalt 2": '"42"',
            "Beleginfo - Art 3": '"Datei"',
            "Beleginfo - Inhalt 3": '"originals/000042_RE-2024-001.xml"',
            "Beleginfo - Art 4": '"Lieferant"', "Beleginfo - Inhalt 4": '"Muster GmbH"',
            "Beleginfo - Art 5": '"USt-IdNr."', "Beleginfo - Inhalt 5": '"DE123456789"',
            "Beleginfo - Art 6": '"Exportstapel"', "Beleginfo - Inhalt 6": '"7"',
            "KOST1 - Kostenstelle": '"KS-100"', "Leistungsdatum": "15012024",
            "Fälligkeit": "29022024"}.items():
        expected[datev.COLUMNS.index(name)] = value
    assert raw.split(";") == expected


def test_optional_fields_stay_empty_and_beleginfo_closes_ranks() -> None:
    model = invoice(seller=Seller(name=None, trading_name="Muster", vat_id="DE123456789"),
                    number=None,
                    currency=None, delivery=Delivery(actual_date=None))
    [r] = rows([item(model, files=())])
    assert r["WKZ Umsatz"] == '"EUR"'  # no currency: EUR
    assert r["Belegfeld 1"] == '""'
    for name in ("BU-Schlüssel", "Belegfeld 2", "KOST1 - Kostenstelle", "Leistungsdatum",
                 "Fälligkeit"):
        assert r[name] == "", name
    assert r["Buchungstext"] == '"Muster"'  # trading name when there is no name
    infos = [(r[f"Beleginfo - Art {n}"], r[f"Beleginfo - Inhalt {n}"]) for n in range(1, 9)]
    assert infos == [('"einvoice-ID"', '"42"'), ('"USt-IdNr."', '"DE123456789"'),
                     ('"Exportstapel"', '"7"'), ("", ""), ("", ""), ("", ""), ("", ""),
                     ("", "")]


def test_wkz_is_the_invoice_currency() -> None:
    assert col([item(invoice(currency="USD"))], "WKZ Umsatz") == ['"USD"']
    assert col([item(invoice(currency="ABCD"))], "WKZ Umsatz") == ['"ABC"']


def test_text_fields_quote_double_quotes_and_fold_line_breaks() -> None:
    model = invoice(seller=Seller(name='Müller "Bau"\r\n  GmbH\t& Co.'))
    [r] = rows([item(model)])
    assert r["Buchungstext"] == '"Müller ""Bau"" GmbH & Co."'
    assert r["Beleginfo - Inhalt 4"] == '"Müller ""Bau"" GmbH & Co."'


def test_text_limits_buchungstext_60_kost1_36_beleglink_210_beleginfo_210() -> None:
    model = invoice(seller=Seller(name="N" * 70), number="1" * 250)
    [r] = rows([item(model, cost_centre="K" * 40, original_sha256="f" * 300)])
    assert r["Buchungstext"] == '"' + "N" * 60 + '"'
    assert r["KOST1 - Kostenstelle"] == '"' + "K" * 36 + '"'
    assert r["Beleglink"] == '"sha256:' + "f" * 203 + '"'  # 210 in all
    assert r["Beleginfo - Inhalt 1"] == '"' + "1" * 210 + '"'
    assert r["Belegfeld 1"] == '"' + "1" * 36 + '"'


def test_text_helper() -> None:
    assert datev._text(None, 5) == ""
    assert datev._text("abcdefg", 3) == '"abc"'
    assert datev._text('a"b', 3) == '"a""b"'  # cut first, then quotes doubled
    assert datev._text(" a \n b ", 10) == '"a b"'


def test_tax_key_quoted_and_at_most_4_characters() -> None:
    assert col([item()], "BU-Schlüssel", params(tax_keys={"19": "12345"})) == ['"1234"']
    assert col([item()], "BU-Schlüssel", params(tax_keys={"7": "8"})) == [""]


# ------------------------------------------------------------------ amounts and sides

@pytest.mark.parametrize("value,text", [
    ("1190", "1190,00"), ("-5.5", "5,50"), ("0.125", "0,13"), ("0.135", "0,14"),
    ("1234567.891", "1234567,89"), ("1E+3", "1000,00"), ("-0.004", "0,00")])
def test_amount_always_positive_two_decimals_comma_half_up(value: str, text: str) -> None:
    assert datev._amount(D(value)) == text


@pytest.mark.parametrize("type_code,gross,side", [
    ("380", "119.00", "H"), ("381", "119.00", "S"),  # invoice H, credit note S
    ("380", "-119.00", "S"), ("381", "-119.00", "H"),  # a negative amount flips the side
])
def test_soll_haben(type_code: str, gross: str, side: str) -> None:
    model = invoice(type_code=type_code, vat_breakdown=[vb(gross, "0")])
    [r] = rows([item(model)])
    assert (r["Soll/Haben-Kennzeichen"], r["Umsatz (ohne Soll/Haben-Kz)"]) == (
        f'"{side}"', "119,00")


def test_belegdatum_is_ttmm_and_document_date_defaults_to_1970() -> None:
    assert col([item(invoice(issue_date=date(2024, 12, 5)))], "Belegdatum") == ["0512"]
    no_date = item(invoice(issue_date=None))
    assert datev.document_date(no_date) == date(1970, 1, 1)
    files = datev.write([no_date], PARAMS, BATCH)
    assert list(files) == ["EXTF_Buchungsstapel_1970.csv"]
    assert col([no_date], "Belegdatum") == ["0101"]


def test_ddmmyyyy() -> None:
    assert datev._ddmmyyyy(None) == ""
    assert datev._ddmmyyyy(date(2024, 2, 9)) == "09022024"


# ------------------------------------------------------------------ Belegfeld 1

@pytest.mark.parametrize("number,expected", [
    ("RE 2024/01_ä", "RE-2024/01"), ("x" * 40, "x" * 36), (None, ""), ("--A  B--", "A-B"),
    ("a$&%*+-/b", "a$&%*+-/b"), ("Ä1", "1"), ("R.1", "R-1"), ("XA1X", "XA1X")])
def test_belegfeld_only_datev_characters_at_most_36(number: str | None, expected: str) -> None:
    assert datev.belegfeld(number) == expected


# ------------------------------------------------------------------ tax keys

def test_rate_text() -> None:
    assert datev.rate_text(None) == ""
    assert datev.rate_text(D("19.00")) == "19"
    assert datev.rate_text(D("5.50")) == "5.5"
    assert datev.rate_text(D("10")) == "10"
    assert datev.rate_text(D("0.00")) == "0"


@pytest.mark.parametrize("keys,category,rate,expected", [
    ({"AE:19": "a", "AE": "b", "19": "c"}, "AE", "19.00", "a"),  # category:rate first
    ({"AE": "b", "19": "c"}, "AE", "19", "b"),  # then the category
    ({"19": "c", "S": "x"}, "AE", "19", "c"),  # then the rate
    ({"19": "c"}, "AE", "7", ""),  # no match: no key
    ({"19": "c"}, None, "19", "c"),
    ({"AE": "b"}, "AE", None, "b"),
    ({"": "z", ":": "y"}, None, None, ""),  # nothing to look up: no key
    ({"AE:0": "e"}, "AE", "0.00", "e"),
])
def test_tax_key_lookup_order(keys: dict[str, str], category: str | None, rate: str | None,
                              expected: str) -> None:
    p = params(tax_keys=keys)
    assert datev.tax_key(p, category, None if rate is None else D(rate)) == expected


# ------------------------------------------------------------------ one booking per VAT rate

def test_one_booking_per_vat_rate_with_its_gross_and_key() -> None:
    model = invoice(vat_breakdown=[vb("578.89", "109.99"), vb("108.39", "7.59", "S", "7"),
                                   vb("50", None, "E", "0")],
                    totals=Totals(with_vat=D("854.86")))
    it = item(model, account="3400", cost_centre="KS-A")
    p = params(tax_keys={"19": "9", "7": "8", "E": "40"})
    bs = datev.bookings(it, p)
    assert [(b.amount, b.key, b.rate, b.category, b.account, b.cost_centre, b.text)
            for b in bs] == [
        (D("688.88"), "9", D("19"), "S", "3400", "KS-A", "Muster GmbH"),
        (D("115.98"), "8", D("7"), "S", "3400", "KS-A", "Muster GmbH"),
        (D("50"), "40", D("0"), "E", "3400", "KS-A", "Muster GmbH")]
    assert all(b.item is it for b in bs)
    assert col([it], "Umsatz (ohne Soll/Haben-Kz)", p) == ["688,88", "115,98", "50,00"]
    assert col([it], "BU-Schlüssel", p) == ['"9"', '"8"', '"40"']


def test_per_rate_missing_taxable_amount_counts_as_zero() -> None:
    model = invoice(vat_breakdown=[vb(None, "19.00"), vb("10", None, "S", "7")])
    assert amounts(datev.bookings(item(model), PARAMS)) == [D("19.00"), D("10")]


def test_without_vat_breakdown_the_total_is_booked_without_key() -> None:
    model = invoice(vat_breakdown=[], totals=Totals(with_vat=D("50.00")),
                    seller=Seller(name=None, trading_name=None))
    [b] = datev.bookings(item(model, cost_centre="K"), params(tax_keys={"19": "9", "": "1"}))
    assert (b.amount, b.key, b.rate, b.account, b.cost_centre, b.text) == (
        D("50.00"), "", None, "4900", "K", "")
    [r] = rows([item(model, cost_centre="K")], params(tax_keys={"19": "9", "": "1"}))
    assert (r["Umsatz (ohne Soll/Haben-Kz)"], r["BU-Schlüssel"], r["Buchungstext"],
            r["Belegfeld 1"]) == ("50,00", "", '""', '"RE-2024-001"')
    assert datev.bookings(item(invoice(vat_breakdown=[], totals=Totals())), PARAMS) == []


def test_zero_amounts_are_not_booked_and_rounding_is_half_up() -> None:
    model = invoice(vat_breakdown=[vb("0", "0"), vb("0.004", "0", "S", "7"),
                                   vb("0.005", "0", "E", "0"), vb("-0.005", "0", "Z", "0")])
    bs = datev.bookings(item(model), PARAMS)
    assert amounts(bs) == [D("0.005"), D("-0.005")]
    assert [(r["Umsatz (ohne Soll/Haben-Kz)"], r["Soll/Haben-Kennzeichen"])
            for r in rows([item(model)])] == [("0,01", '"H"'), ("0,01", '"S"')]


def test_per_line_setting_without_lines_books_per_rate() -> None:
    model = invoice(lines=[])
    assert amounts(datev.bookings(item(model), params(per_line=True))) == [D("119.00")]


def test_lines_are_booked_per_rate_unless_per_line_is_set() -> None:
    it = item(_two_rates(), lines=(LineBooking(1, "4500", "KS-1"),))
    assert [(b.amount, b.account, b.cost_centre) for b in datev.bookings(it, PARAMS)] == [
        (D("154.70"), "4900", None), (D("53.50"), "4900", None)]


# ------------------------------------------------------------------ per line

def _two_rates() -> Invoice:
    return invoice(
        lines=[line("100.00", name="Papier", line_id="A"),
               line("50.00", "7", note="Porto", line_id="B"),
               line("10.00", line_id="C"), line("20.00")],
        vat_breakdown=[vb("130.00", "24.70"), vb("50.00", "3.50", "S", "7")],
        totals=Totals(with_vat=D("208.20")))


def test_per_line_one_booking_per_line_with_its_account_and_cost_centre() -> None:
    it = item(_two_rates(), account="4900", cost_centre="KS-I",
              lines=(LineBooking(1, "4500", "KS-1"), LineBooking(2, None, None),
                     LineBooking(3, "4600", None), LineBooking(4, None, "KS-4")))
    p = params(per_line=True, tax_keys={"S:19": "9", "7": "8"})
    bs = datev.bookings(it, p)
    assert [(b.text, b.amount, b.account, b.cost_centre, b.key, b.rate, b.category)
            for b in bs] == [
        ("Papier", D("119.00"), "4500", "KS-1", "9", D("19"), "S"),
        ("Position C", D("11.90"), "4600", "KS-I", "9", D("19"), "S"),
        ("Position 4", D("23.80"), "4900", "KS-4", "9", D("19"), "S"),
        ("Porto", D("53.50"), "4900", "KS-I", "8", D("7"), "S")]
    assert sum(amounts(bs)) == D("208.20")  # BT-112
    assert col([it], "KOST1 - Kostenstelle", p) == ['"KS-1"', '"KS-I"', '"KS-4"', '"KS-I"']
    assert col([it], "Gegenkonto (ohne BU-Schlüssel)", p) == ["4500", "4600", "4900", "4900"]
    assert col([it], "Buchungstext", p) == ['"Papier"', '"Position C"', '"Position 4"',
                                            '"Porto"']


def test_per_line_without_line_assignments_books_on_the_invoice() -> None:
    bs = datev.bookings(item(_two_rates(), account="3400", cost_centre=None),
                        params(per_line=True))
    assert [(b.account, b.cost_centre) for b in bs] == [("3400", None)] * 4


def test_per_line_rounding_difference_goes_to_the_largest_booking_of_the_rate() -> None:
    model = invoice(lines=[line("50"), line("-200"), line("100")],
                    vat_breakdown=[vb("-50", "-9.49")], totals=Totals(with_vat=D("-59.49")))
    bs = datev.bookings(item(model), params(per_line=True))
    assert amounts(bs) == [D("59.50"), D("-237.99"), D("119.00")]
    [r1, r2, r3] = rows([item(model)], params(per_line=True))
    assert [(r["Soll/Haben-Kennzeichen"], r["Umsatz (ohne Soll/Haben-Kz)"])
            for r in (r1, r2, r3)] == [('"H"', "59,50"), ('"S"', "237,99"), ('"H"', "119,00")]


def test_per_line_document_allowances_and_charges() -> None:
    model = invoice(
        lines=[line("100")],
        allowances_charges=[
            AllowanceCharge(is_charge=False, amount=D("10"), vat_category="S",
                            vat_rate=D("19")),
            AllowanceCharge(is_charge=True, amount=D("5"), vat_category="S", vat_rate=D("19"),
                            reason="Fracht"),
            AllowanceCharge(is_charge=True, amount=D("2"), vat_category="S", vat_rate=D("7")),
            AllowanceCharge(is_charge=False, amount=None, vat_category="S", vat_rate=D("19"),
                            reason="leer")],
        vat_breakdown=[vb("95", "18.05"), vb("2", "0.14", "S", "7")],
        totals=Totals(with_vat=D("115.19")))
    it = item(model, account="4900", cost_centre="KS",
              lines=(LineBooking(1, "4500", "KS-1"),))
    p = params(per_line=True, tax_keys={"S:7": "8"})
    bs = datev.bookings(it, p)
    assert [(b.text, b.amount, b.account, b.cost_centre, b.key, b.rate, b.category)
            for b in bs] == [
        ("Position 1", D("119.00"), "4500", "KS-1", "", D("19"), "S"),
        ("Nachlass", D("-11.90"), "4900", "KS", "", D("19"), "S"),
        ("Fracht", D("5.95"), "4900", "KS", "", D("19"), "S"),
        ("Zuschlag", D("2.14"), "4900", "KS", "8", D("7"), "S")]
    assert sum(amounts(bs)) == D("115.19")
    assert [(r["Buchungstext"], r["Soll/Haben-Kennzeichen"], r["Umsatz (ohne Soll/Haben-Kz)"],
             r["KOST1 - Kostenstelle"]) for r in rows([it], p)] == [
        ('"Position 1"', '"H"', "119,00", '"KS-1"'), ('"Nachlass"', '"S"', "11,90", '"KS"'),
        ('"Fracht"', '"H"', "5,95", '"KS"'), ('"Zuschlag"', '"H"', "2,14", '"KS"')]


def test_per_line_rate_without_lines_books_the_breakdown() -> None:
    model = invoice(lines=[line("100", "19", "S"), line("1", "0", "E"), line("2", "0", "Z")],
                    vat_breakdown=[vb("100", "19"), vb("30", "2.10", "S", "7"),
                                   vb("3", "0", "K", "0")],
                    totals=Totals(with_vat=D("154.10")))
    bs = datev.bookings(item(model), params(per_line=True, tax_keys={"7": "8"}))
    # S 19: its line; S 7: no line, the breakdown itself; K 0: two groups of rate 0, neither
    # matches alone, so the breakdown; the lines E and Z are booked as they are
    assert [(b.text, b.amount, b.key) for b in bs] == [
        ("Position 1", D("119.00"), ""), ("Muster GmbH", D("32.10"), "8"),
        ("Muster GmbH", D("3"), ""), ("Position 2", D("1.00"), ""),
        ("Position 3", D("2.00"), "")]


def test_per_line_a_line_without_amount_or_rate() -> None:
    model = invoice(lines=[line(None), line("100"), line("10", None, None)],
                    vat_breakdown=[vb("100", "19")], totals=Totals(with_vat=D("129")))
    bs = datev.bookings(item(model), params(per_line=True))
    assert [(b.text, b.amount, b.rate) for b in bs] == [("Position 2", D("119.00"), D("19")),
                                                        ("Position 3", D("10.00"), None)]


def test_per_line_breakdowns_of_zero_tax_or_zero_amount_add_up() -> None:
    model = invoice(lines=[line("100"), line("-100"), line("50", "0", "E")],
                    vat_breakdown=[vb("0", "0"), vb("50", "0", "E", "0")],
                    totals=Totals(with_vat=D("50")))
    bs = datev.bookings(item(model), params(per_line=True))
    assert amounts(bs) == [D("119.00"), D("-119.00"), D("50.00")]


def test_gross_of_a_net_amount() -> None:
    assert datev._gross(D("10"), D("19")) == D("11.90")
    assert datev._gross(D("0.5"), D("1")) == D("0.51")  # 0.505: half up
    assert datev._gross(D("100"), None) == D("100.00")
    assert datev._gross(D("-0.5"), D("1")) == D("-0.51")


def test_group_key() -> None:
    assert datev._group_key("S", D("19.00")) == ("S", "19")
    assert datev._group_key(None, None) == ("", "0")


@pytest.mark.parametrize("key,keys,expected", [
    (("S", "19"), [("S", "7"), ("S", "19")], ("S", "19")),  # same category and rate
    (("S", "19"), [("S", "16"), ("E", "0")], ("S", "16")),  # the only group of the category
    (("S", "19"), [("S", "16"), ("S", "7"), ("", "19")], ("", "19")),  # ... else of the rate
    (("S", "19"), [("E", "0")], ("E", "0")),  # else the only group left
    (("S", "19"), [("E", "0"), ("Z", "0")], None),
    (("S", "19"), [("S", "7"), ("S", "16"), ("", "19"), ("E", "19")], None),
    (("S", "19"), [], None),
])
def test_match_line_group_to_breakdown(key: tuple[str, str], keys: list[tuple[str, str]],
                                       expected: tuple[str, str] | None) -> None:
    assert datev._match(key, keys) == expected


# ------------------------------------------------------------------ files per year

def test_fiscal_year_start() -> None:
    assert datev._fiscal_year_start(date(2024, 3, 1), "0701") == date(2023, 7, 1)
    assert datev._fiscal_year_start(date(2024, 7, 1), "0701") == date(2024, 7, 1)
    assert datev._fiscal_year_start(date(2024, 6, 30), "0701") == date(2023, 7, 1)
    assert datev._fiscal_year_start(date(2024, 1, 1), "0101") == date(2024, 1, 1)
    assert datev._fiscal_year_start(date(2024, 10, 15), "1015") == date(2024, 10, 15)


def test_file_name() -> None:
    assert datev.file_name(2024, date(2024, 1, 1)) == "EXTF_Buchungsstapel_2024.csv"
    assert datev.file_name(2024, date(2023, 7, 1)) == "EXTF_Buchungsstapel_2024_WJ2023.csv"
    assert datev.file_name(2024, date(2024, 1, 2)) == "EXTF_Buchungsstapel_2024_WJ2024.csv"
    assert datev.file_name(2024, date(2023, 2, 1)) == "EXTF_Buchungsstapel_2024_WJ2023.csv"


def test_one_file_per_calendar_year_in_order() -> None:
    late = item(invoice(number="B", issue_date=date(2024, 1, 2)), invoice_id=2)
    early = item(invoice(number="A", issue_date=date(2023, 12, 31)), invoice_id=1)
    also = item(invoice(number="C", issue_date=date(2024, 5, 2)), invoice_id=3)
    files = datev.write([late, early, also], PARAMS, BATCH)
    assert list(files) == ["EXTF_Buchungsstapel_2023.csv", "EXTF_Buchungsstapel_2024.csv"]
    f23, f24 = (files[n].decode("cp1252").split("\r\n") for n in files)
    assert f23[0].split(";")[12:16] == ["20230101", "4", "20231231", "20231231"]
    assert f24[0].split(";")[12:16] == ["20240101", "4", "20240102", "20240502"]
    assert [r.split(";")[10] for r in f23[2:-1]] == ['"A"']
    assert [r.split(";")[10] for r in f24[2:-1]] == ['"B"', '"C"']  # items in their order


def test_one_file_per_fiscal_year_when_it_does_not_start_in_january() -> None:
    p = params(fiscal_year_start="0701")
    before = item(invoice(number="A", issue_date=date(2024, 6, 30)))
    after = item(invoice(number="B", issue_date=date(2024, 7, 1)))
    files = datev.write([after, before], p, BATCH)
    assert list(files) == ["EXTF_Buchungsstapel_2024_WJ2023.csv",
                           "EXTF_Buchungsstapel_2024_WJ2024.csv"]
    heads = [files[n].decode("cp1252").split("\r\n")[0].split(";") for n in files]
    assert [h[12:16] for h in heads] == [["20230701", "4", "20240630", "20240630"],
                                         ["20240701", "4", "20240701", "20240701"]]


def test_several_invoices_and_bookings_in_one_file() -> None:
    a = item(invoice(number="A", vat_breakdown=[vb("10", "1.90"), vb("10", "0.70", "S", "7")]))
    b = item(invoice(number="B", type_code="381"))
    lines = lines_of([a, b])
    assert len(lines) == 5
    assert [(r.split(";")[0], r.split(";")[1], r.split(";")[10]) for r in lines[2:]] == [
        ("11,90", '"H"', '"A"'), ("10,70", '"H"', '"A"'), ("119,00", '"S"', '"B"')]


def test_no_items_no_files() -> None:
    assert datev.write([], PARAMS, BATCH) == {}


# ------------------------------------------------------------------ foreign currency

FX = ("WKZ Umsatz", "Kurs", "Basis-Umsatz", "WKZ Basis-Umsatz")


def fx(items: list[ExportItem], p: DatevParams = PARAMS) -> list[list[str]]:
    """Umsatz, S/H and the four currency columns of each booking."""
    return [[r["Umsatz (ohne Soll/Haben-Kz)"], r["Soll/Haben-Kennzeichen"]] + [r[c] for c in FX]
            for r in rows(items, p)]


def test_foreign_currency_carries_kurs_basis_umsatz_and_eur() -> None:
    # 119.00 USD at 0.92 EUR per USD: Kurs 1 / 0.92 = 1.0869565… USD per EUR, 109.48 EUR
    usd = item(invoice(currency="USD"), eur_rate=D("0.92"))
    assert fx([usd]) == [["119,00", '"H"', '"USD"', "1,086957", "109,48", '"EUR"']]
    [raw] = lines_of([usd])[2:]
    assert raw.startswith('119,00;"H";"USD";1,086957;109,48;"EUR";70001;4900;')


def test_eur_invoices_leave_kurs_and_basis_umsatz_empty() -> None:
    assert fx([item()]) == [["119,00", '"H"', '"EUR"', "", "", ""]]
    # a foreign invoice of a batch written before rates were kept: its file stays as it was
    assert fx([item(invoice(currency="USD"))]) == [["119,00", '"H"', '"USD"', "", "", ""]]


@pytest.mark.parametrize("rate,kurs,text", [
    ("0.92", "1.086957", "1,086957"),  # 1.08695652…: six decimals, rounded up
    ("0.9", "1.111111", "1,111111"),  # 1.1111111…: rounded down
    ("0.5", "2.000000", "2,000000"),  # always six decimals
    ("128", "0.007813", "0,007813"),  # 0.0078125 exactly: half up (not to even)
    ("0.00625", "160.000000", "160,000000"),
])
def test_kurs_is_units_per_eur_with_six_decimals_and_a_decimal_comma(rate: str, kurs: str,
                                                                      text: str) -> None:
    assert str(datev.kurs(D(rate))) == kurs
    assert col([item(invoice(currency="XXX"), eur_rate=D(rate))], "Kurs") == [text]


@pytest.mark.parametrize("taxable,tax,rate,basis", [
    ("84.11", "15.98", "0.5", "50,05"),  # 50.045: half up, not to even
    ("84.13", "15.98", "0.5", "50,06"),  # 50.055
    ("8.41", "1.60", "0.333", "3,33"),  # 10.01 × 0.333 = 3.33333
    ("8.42", "1.60", "0.333", "3,34"),  # 10.02 × 0.333 = 3.33666
    ("100.00", "19.00", "1.0642105263", "126,64"),  # 126.641052…
    ("1000000.00", "190000.00", "0.92", "1094800,00"),  # the exact rate, not 1 / Kurs
])
def test_basis_umsatz_is_the_amount_in_eur_rounded_to_cents(taxable: str, tax: str, rate: str,
                                                            basis: str) -> None:
    model = invoice(currency="USD", vat_breakdown=[vb(taxable, tax)])
    assert col([item(model, eur_rate=D(rate))], "Basis-Umsatz") == [basis]


def test_basis_umsatz_is_positive_like_umsatz_and_follows_each_booking() -> None:
    credit = invoice(currency="GBP", type_code="381")
    negative = invoice(currency="GBP", vat_breakdown=[vb("-100.00", "-19.00")])
    assert fx([item(credit, eur_rate=D("1.2")), item(negative, eur_rate=D("1.2"))]) == [
        ["119,00", '"S"', '"GBP"', "0,833333", "142,80", '"EUR"'],
        ["119,00", '"S"', '"GBP"', "0,833333", "142,80", '"EUR"']]
    two = invoice(currency="CHF", vat_breakdown=[vb("100.00", "19.00"),
                                                 vb("50.00", "3.50", rate="7")])
    assert fx([item(two, eur_rate=D("1.05"))]) == [
        ["119,00", '"H"', '"CHF"', "0,952381", "124,95", '"EUR"'],
        ["53,50", '"H"', '"CHF"', "0,952381", "56,18", '"EUR"']]  # 56.175: half up
    per_line = item(_two_rates().model_copy(update={"currency": "CHF"}), eur_rate=D("2"))
    assert [(r["Umsatz (ohne Soll/Haben-Kz)"], r["Basis-Umsatz"])
            for r in rows([per_line], params(per_line=True))] == [
        ("119,00", "238,00"), ("11,90", "23,80"), ("23,80", "47,60"), ("53,50", "107,00")]
