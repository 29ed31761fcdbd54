"""How values look, in one place: amounts and numbers for people (German, English where a notice
needs it), the exact decimal for machines, dates, durations, and stored UTC times in local time.

Amounts for people keep every significant decimal and at least the currency's own (``20 €`` is
``20,00 €``, a unit price ``0,0125 €`` stays exact): a clerk must never read a rounded figure as
the invoice's. Machines get ``f"{value:f}"``: exact, never an exponent (``1E+3``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import overload
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, format_decimal

from einvoice.config import DEFAULT_TIMEZONE

GERMAN, ENGLISH = "de_DE", "en_GB"
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # for callers that are not handed the setting yet


def _significant(value: Decimal) -> Decimal:
    """The value without trailing zeros and without exponent (20.00 → 20, 1E+3 → 1000)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _amount(value: Decimal | None, currency: str | None, locale: str) -> str:
    if value is None:
        return ""
    if not currency:
        return format_decimal(_significant(value), locale=locale, decimal_quantization=False)
    return format_currency(_significant(value), currency, locale=locale,
                           decimal_quantization=False)


def money(value: Decimal | None, currency: str | None) -> str:
    """For people: ``1.234,56 €``; without a currency the bare number; "" for no value."""
    return _amount(value, currency, GERMAN)


def money_en(value: Decimal | None, currency: str | None) -> str:
    """The English half of a notice: ``€1,234.56``."""
    return _amount(value, currency, ENGLISH)


def number(value: Decimal | None) -> str:
    """Quantities and rates: ``1.500,25``, German separators, every significant decimal."""
    return _amount(value, None, GERMAN)


@overload
def plain(value: Decimal) -> str: ...
@overload
def plain(value: None) -> None: ...
@overload
def plain(value: Decimal | None) -> str | None: ...


def plain(value: Decimal | None) -> str | None:
    """For machines (JSON, CSV): the exact decimal as stored, ``1234.50``; None stays None."""
    return None if value is None else f"{value:f}"


def percent(share: float) -> str:
    """A share of 1 as a German percentage with one decimal: 0.1425 → ``14,3 %``."""
    return f"{100 * share:.1f} %".replace(".", ",")


def size(n: int) -> str:
    """Byte count for people: ``812 Byte``, ``12,3 kB``, ``4,1 MB``."""
    if n < 1000:
        return f"{n}\xa0Byte"
    unit, scaled = ("kB", n / 1000) if n < 1_000_000 else ("MB", n / 1_000_000)
    return f"{format_decimal(round(scaled, 1), locale=GERMAN)}\xa0{unit}"


def duration(hours: float | None) -> str:
    """``45 min``, ``5,5 h``, ``3,2 Tage / days``; ``–`` for none."""
    if hours is None:
        return "–"
    if hours < 2:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h".replace(".", ",")
    return f"{hours / 24:.1f} Tage / days".replace(".", ",")


def iban(value: str) -> str:
    """IBANs in groups of four, as printed on paper; other account ids unchanged."""
    compact = value.replace(" ", "")
    if len(compact) > 14 and compact[:2].isalpha() and compact[2:4].isdigit():
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return value


def count(n: int, one: str, many: str) -> str:
    """A number of things with the right form, German digits: ``1 Rechnung``, ``0 Rechnungen``,
    ``1.234 Rechnungen`` (bilingual forms work alike: ``1 Rechnung / invoice``)."""
    return f"{format_decimal(n, locale=GERMAN)} {one if n == 1 else many}"


def day(value: date | None) -> str:
    """``24.12.2026``; "" for no date."""
    return value.strftime("%d.%m.%Y") if value else ""


def local_time(at: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """A stored (UTC) time as people read it, in the local zone: ``24.12.2026 14:05``."""
    return at.astimezone(zone).strftime("%d.%m.%Y %H:%M:%S" if seconds else "%d.%m.%Y %H:%M")
