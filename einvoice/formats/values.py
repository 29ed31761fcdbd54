"""Tolerant conversion of XML text into model values, shared by all readers.

Read tolerantly, validate strictly: odd whitespace, a decimal comma or a stray '+' must not make
an invoice unreadable; the validation stage reports what is wrong with the document.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from einvoice.errors import ReadError


def clean(text: str | None) -> str | None:
    """Strip surrounding whitespace; empty becomes None."""
    if text is None:
        return None
    text = text.strip()
    return text or None


def text_of(el: etree._Element | None) -> str | None:
    """The stripped text of an element (None if absent or empty).

    Whole even where a comment or processing instruction splits it: ``.text`` stops there,
    so an element with children is read as the concatenation of its text nodes.
    """
    if el is None:
        return None
    if len(el):
        return clean(etree.tostring(el, method="text", encoding="unicode", with_tail=False))
    return clean(el.text)


def to_decimal(text: str | None) -> Decimal | None:
    """A decimal from XML text; None when absent or not a number (validation reports it)."""
    text = clean(text)
    if text is None:
        return None
    for candidate in (text, text.replace(",", ".")):
        try:
            value = Decimal(candidate)
        except InvalidOperation:
            continue
        if value.is_finite():
            return value
    return None


def iso_date(text: str | None) -> date | None:
    """A date in the ISO form UBL uses (YYYY-MM-DD, time zone suffix tolerated)."""
    text = clean(text)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ReadError(f"not a date: {text!r}") from exc


def cii_date(text: str | None, fmt: str | None = "102") -> date | None:
    """A date in a UN/CEFACT date format: 102 = CCYYMMDD (610 = CCYYMM and 616 = CCYYWW
    name a month or week; they are read as its first day)."""
    text = clean(text)
    if text is None:
        return None
    try:
        if fmt in (None, "102"):
            if len(text) == 10 and text[4] == "-":
                return date.fromisoformat(text)
            _digits(text, 8)
            return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
        if fmt == "610":
            _digits(text, 6)
            return date(int(text[0:4]), int(text[4:6]), 1)
        if fmt == "616":
            _digits(text, 6)
            return date.fromisocalendar(int(text[0:4]), int(text[4:6]), 1)
    except (ValueError, IndexError) as exc:
        raise ReadError(f"not a date in format {fmt}: {text!r}") from exc
    raise ReadError(f"unknown date format {fmt!r} for {text!r}")


def _digits(text: str, count: int) -> None:
    """The date's fixed-width digits must all be there: ``2026013`` is no CCYYMMDD."""
    head = text[:count]
    if len(head) < count or not (head.isascii() and head.isdigit()):
        raise ValueError(f"expected {count} digits")


def to_bool(text: str | None) -> bool:
    """XML Schema boolean."""
    return clean(text) in ("true", "1")
