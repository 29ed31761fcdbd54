"""Tolerant reading of XML text into model values (``einvoice.formats.values``): decimals with
a point or a comma, dates in the UBL and UN/CEFACT forms, XML Schema booleans, whitespace and
what becomes None or an error. Properties are checked with hypothesis over all values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.errors import ReadError
from einvoice.formats.values import cii_date, clean, iso_date, text_of, to_bool, to_decimal

# no example database in the checkout; no deadline on a shared machine
PROPERTY = settings(database=None, deadline=None)
SPACE = st.text(alphabet=" \t\r\n", max_size=3)
FINITE = st.decimals(allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(("text", "expected"), [
    (None, None), ("", None), ("   ", None), ("\n\t ", None), (" a b ", "a b"), ("x", "x"),
    ("\u00a0x\u00a0", "x")])
def test_clean(text: str | None, expected: str | None) -> None:
    assert clean(text) == expected


def element(xml: str) -> etree._Element:
    return etree.fromstring(f"<r>{xml}</r>")[0]


@pytest.mark.parametrize(("xml", "expected"), [
    ("<a> 12.50 </a>", "12.50"),
    ("<a/>", None),
    ("<a>  </a>", None),
    ("<a>12<!-- Kommentar -->.50</a>", "12.50"),            # a comment splits the text node
    ("<a>Rech<?pi x?>nung</a>", "Rechnung"),                # so does a processing instruction
    ("<a> Muster <b>GmbH</b> </a>", "Muster GmbH"),         # text of children, in order
    ("<a>x<!--c-->y</a>tail", "xy"),                        # never the element's tail
    ("<a>x</a>tail", "x"),
])
def test_text_of(xml: str, expected: str | None) -> None:
    value = text_of(element(xml))
    assert value == expected
    assert value is None or type(value) is str


def test_text_of_nothing() -> None:
    assert text_of(None) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("12.50", Decimal("12.50")), ("12,50", Decimal("12.50")), (" 12,50 ", Decimal("12.50")),
    ("+7", Decimal("7")), ("-0.01", Decimal("-0.01")), ("1E+3", Decimal("1E+3")), ("0", Decimal(0)),
    (",5", Decimal("0.5")), ("5.", Decimal("5")),
])
def test_to_decimal(text: str, expected: Decimal) -> None:
    value = to_decimal(text)
    assert value == expected and type(value) is Decimal
    assert value.as_tuple().exponent == expected.as_tuple().exponent  # scale kept


@pytest.mark.parametrize("text", [
    None, "", "  ", "abc", "12.50 EUR", "NaN", "nan", "sNaN", "Infinity", "-Infinity", "1,2,3",
    "1.2.3"])
def test_to_decimal_none_when_absent_or_not_a_finite_number(text: str | None) -> None:
    assert to_decimal(text) is None


@PROPERTY
@given(FINITE, SPACE, SPACE)
def test_to_decimal_reads_every_finite_decimal(value: Decimal, before: str, after: str) -> None:
    text = str(value)
    assert to_decimal(before + text + after) == value
    assert to_decimal(before + text.replace(".", ",") + after) == value


@PROPERTY
@given(st.dates(), SPACE, SPACE)
def test_iso_date_reads_every_date(day: date, before: str, after: str) -> None:
    assert iso_date(before + day.isoformat() + after) == day
    assert iso_date(day.isoformat() + "+01:00") == day  # a time zone suffix is tolerated
    assert iso_date(day.isoformat() + "Z") == day


@pytest.mark.parametrize("text", [None, "", "   "])
def test_iso_date_absent(text: str | None) -> None:
    assert iso_date(text) is None


@pytest.mark.parametrize("text", ["31.01.2026", "2026-02-30", "2026/01/31", "heute", "2026-1-31"])
def test_iso_date_error(text: str) -> None:
    with pytest.raises(ReadError) as error:
        iso_date(f" {text} ")
    assert str(error.value) == f"not a date: {text!r}"


def compact(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


@PROPERTY
@given(st.dates(), SPACE, SPACE)
def test_cii_date_format_102_reads_every_date(day: date, before: str, after: str) -> None:
    assert cii_date(before + compact(day) + after) == day       # the default format is 102
    assert cii_date(compact(day), "102") == day
    assert cii_date(compact(day), None) == day
    assert cii_date(day.isoformat(), "102") == day              # ISO form tolerated
    assert cii_date(compact(day) + "1030", "102") == day        # a time (203) sent as 102


@PROPERTY
@given(st.dates())
def test_cii_date_format_610_is_the_first_of_the_month(day: date) -> None:
    assert cii_date(f"{day.year:04d}{day.month:02d}", "610") == day.replace(day=1)
    assert cii_date(compact(day), "610") == day.replace(day=1)  # a full date sent as 610


@PROPERTY
@given(st.dates())
def test_cii_date_format_616_is_the_monday_of_the_week(day: date) -> None:
    year, week, _ = day.isocalendar()
    monday = date.fromisocalendar(year, week, 1)
    assert cii_date(f"{year:04d}{week:02d}", "616") == monday
    assert cii_date(f"{year:04d}{week:02d}3", "616") == monday   # a weekday appended


@pytest.mark.parametrize(("text", "fmt", "expected"), [
    ("20261231", "102", date(2026, 12, 31)),
    ("2026-12-31", "102", date(2026, 12, 31)),
    ("202612", "610", date(2026, 12, 1)),
    ("202612", "616", date(2026, 3, 16)),
    ("202653", "616", date(2026, 12, 28)),
    ("202001", "616", date(2019, 12, 30)),
])
def test_cii_date_examples(text: str, fmt: str, expected: date) -> None:
    assert cii_date(text, fmt) == expected


@pytest.mark.parametrize("fmt", ["102", "610", "616", None])
def test_cii_date_absent(fmt: str | None) -> None:
    assert cii_date(None, fmt) is None
    assert cii_date("  ", fmt) is None


@pytest.mark.parametrize(("text", "fmt"), [
    ("20260230", "102"), ("2026", "102"), ("31.01.2026", "102"),
    ("2026-02-30", "102"), ("2026-1-31", "102"), ("202613", "610"), ("2026", "610"),
    ("202654", "616"), ("2026", "616"), ("abcdefgh", "102"),
    ("2026-W05", "102"),  # an ISO week is no CCYYMMDD date
    ("2026013", "102"), ("2026O131", "102"), ("２０２６０１３１", "102"),  # short, letter O, wide
    ("20261", "610"), ("2026-1", "610"), ("20265", "616")])
def test_cii_date_error(text: str, fmt: str) -> None:
    with pytest.raises(ReadError) as error:
        cii_date(text, fmt)
    assert str(error.value) == f"not a date in format {fmt}: {text!r}"


def test_cii_date_unknown_format() -> None:
    with pytest.raises(ReadError) as error:
        cii_date("20260131", "203")
    assert str(error.value) == "unknown date format '203' for '20260131'"


@pytest.mark.parametrize(("text", "expected"), [
    ("true", True), (" true\n", True), ("1", True), (" 1 ", True),
    ("false", False), ("0", False), ("", False), (None, False), ("yes", False), ("2", False)])
def test_to_bool(text: str | None, expected: bool) -> None:
    assert to_bool(text) is expected
