"""A readable German HTML page (and PDF) of an invoice, for finance staff who cannot read XML.

The page is laid out like a paper invoice (parties, header data, lines, totals, VAT, payment),
and every business term is labelled in German with its EN 16931 id taken from the model's field
metadata. Whatever the layout does not place explicitly lands in a "Weitere Angaben" section, so
no value that was read can go missing from the view.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal, get_currency_name
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel

from einvoice.errors import EinvoiceError
from einvoice.model import AllowanceCharge, Identifier, Invoice, Line
from einvoice.validation.report import VERDICT_DE

LOCALE = "de_DE"

LABELS: dict[str, str] = {
    "BT-1": "Rechnungsnummer", "BT-2": "Rechnungsdatum", "BT-3": "Code für den Rechnungstyp",
    "BT-5": "Code für die Rechnungswährung", "BT-6": "Code für die Umsatzsteuerwährung",
    "BT-7": "Datum der Steuerfälligkeit", "BT-8": "Code für das Datum der Steuerfälligkeit",
    "BT-9": "Fälligkeitsdatum der Zahlung", "BT-10": "Käuferreferenz (Leitweg-ID)",
    "BT-11": "Projektreferenz", "BT-12": "Vertragsreferenz", "BT-13": "Bestellreferenz",
    "BT-14": "Auftragsreferenz", "BT-15": "Wareneingangsreferenz",
    "BT-16": "Versandanzeigenreferenz", "BT-17": "Ausschreibungs- oder Losreferenz",
    "BT-18": "Objektkennung", "BT-19": "Buchungsreferenz des Käufers",
    "BT-20": "Zahlungsbedingungen", "BT-21": "Betreff des Kommentars (Code)",
    "BT-22": "Rechnungskommentar", "BT-23": "Geschäftsprozesstyp",
    "BT-24": "Spezifikationskennung", "BT-25": "Nummer der vorausgegangenen Rechnung",
    "BT-26": "Datum der vorausgegangenen Rechnung", "BT-27": "Name des Verkäufers",
    "BT-28": "Handelsname des Verkäufers", "BT-29": "Kennung des Verkäufers",
    "BT-30": "Registernummer des Verkäufers",
    "BT-31": "Umsatzsteuer-Identifikationsnummer des Verkäufers",
    "BT-32": "Steuernummer des Verkäufers",
    "BT-33": "Weitere rechtliche Informationen zum Verkäufer",
    "BT-34": "Elektronische Adresse des Verkäufers", "BT-41": "Kontaktstelle des Verkäufers",
    "BT-42": "Telefonnummer des Verkäufers", "BT-43": "E-Mail-Adresse des Verkäufers",
    "BT-44": "Name des Käufers", "BT-45": "Handelsname des Käufers",
    "BT-46": "Kennung des Käufers", "BT-47": "Registernummer des Käufers",
    "BT-48": "Umsatzsteuer-Identifikationsnummer des Käufers",
    "BT-49": "Elektronische Adresse des Käufers", "BT-56": "Kontaktstelle des Käufers",
    "BT-57": "Telefonnummer des Käufers", "BT-58": "E-Mail-Adresse des Käufers",
    "BT-59": "Name des Zahlungsempfängers", "BT-60": "Kennung des Zahlungsempfängers",
    "BT-61": "Registernummer des Zahlungsempfängers", "BT-62": "Name des Steuervertreters",
    "BT-63": "Umsatzsteuer-Identifikationsnummer des Steuervertreters",
    "BT-70": "Name des Empfängers der Lieferung", "BT-71": "Kennung des Lieferorts",
    "BT-72": "Tatsächliches Lieferdatum", "BT-73": "Beginn des Rechnungszeitraums",
    "BT-74": "Ende des Rechnungszeitraums", "BT-81": "Code für die Zahlungsart",
    "BT-82": "Zahlungsart (Text)", "BT-83": "Verwendungszweck",
    "BT-84": "Kennung des Zahlungskontos (IBAN)", "BT-85": "Name des Zahlungskontos",
    "BT-86": "Kennung des Zahlungsdienstleisters (BIC)",
    "BT-87": "Kartennummer (gekürzt)", "BT-88": "Name des Karteninhabers",
    "BT-89": "Mandatsreferenz", "BT-90": "Gläubiger-Identifikationsnummer",
    "BT-91": "Kennung des zu belastenden Kontos",
    "BT-92": "Betrag des Nachlasses", "BT-93": "Grundbetrag des Nachlasses",
    "BT-94": "Prozentsatz des Nachlasses", "BT-95": "Umsatzsteuerkategorie des Nachlasses",
    "BT-96": "Umsatzsteuersatz des Nachlasses", "BT-97": "Grund für den Nachlass",
    "BT-98": "Code für den Grund des Nachlasses", "BT-99": "Betrag des Zuschlags",
    "BT-100": "Grundbetrag des Zuschlags", "BT-101": "Prozentsatz des Zuschlags",
    "BT-102": "Umsatzsteuerkategorie des Zuschlags", "BT-103": "Umsatzsteuersatz des Zuschlags",
    "BT-104": "Grund für den Zuschlag", "BT-105": "Code für den Grund des Zuschlags",
    "BT-106": "Summe der Nettobeträge aller Positionen",
    "BT-107": "Summe der Nachlässe auf Dokumentenebene",
    "BT-108": "Summe der Zuschläge auf Dokumentenebene",
    "BT-109": "Rechnungsgesamtbetrag ohne Umsatzsteuer", "BT-110": "Umsatzsteuergesamtbetrag",
    "BT-111": "Umsatzsteuergesamtbetrag in Buchungswährung",
    "BT-112": "Rechnungsgesamtbetrag einschließlich Umsatzsteuer",
    "BT-113": "Vorauszahlungsbetrag", "BT-114": "Rundungsbetrag",
    "BT-115": "Fälliger Zahlungsbetrag", "BT-116": "Steuerbasisbetrag der Kategorie",
    "BT-117": "Steuerbetrag der Kategorie", "BT-118": "Code der Umsatzsteuerkategorie",
    "BT-119": "Umsatzsteuersatz der Kategorie", "BT-120": "Befreiungsgrund (Text)",
    "BT-121": "Code für den Befreiungsgrund",
    "BT-122": "Kennung der rechnungsbegründenden Unterlage",
    "BT-123": "Beschreibung der Unterlage", "BT-124": "Ort der externen Unterlage (URL)",
    "BT-125": "Anhang", "BT-125-1": "MIME-Code des Anhangs", "BT-125-2": "Dateiname des Anhangs",
    "BT-126": "Kennung der Rechnungsposition", "BT-127": "Freitext zur Position",
    "BT-128": "Objektkennung der Position", "BT-129": "Menge", "BT-130": "Maßeinheit",
    "BT-131": "Nettobetrag der Position", "BT-132": "Referenz zur Bestellposition",
    "BT-133": "Buchungsreferenz des Käufers zur Position",
    "BT-134": "Beginn des Abrechnungszeitraums der Position",
    "BT-135": "Ende des Abrechnungszeitraums der Position",
    "BT-136": "Betrag des Nachlasses zur Position", "BT-137": "Grundbetrag des Nachlasses",
    "BT-138": "Prozentsatz des Nachlasses", "BT-139": "Grund für den Nachlass",
    "BT-140": "Code für den Grund des Nachlasses", "BT-141": "Betrag des Zuschlags zur Position",
    "BT-142": "Grundbetrag des Zuschlags", "BT-143": "Prozentsatz des Zuschlags",
    "BT-144": "Grund für den Zuschlag", "BT-145": "Code für den Grund des Zuschlags",
    "BT-146": "Nettopreis", "BT-147": "Rabatt auf den Artikelpreis", "BT-148": "Bruttopreis",
    "BT-149": "Basismenge zum Artikelpreis", "BT-150": "Maßeinheit der Basismenge",
    "BT-151": "Umsatzsteuerkategorie", "BT-152": "Umsatzsteuersatz", "BT-153": "Artikelname",
    "BT-154": "Artikelbeschreibung", "BT-155": "Artikelnummer des Verkäufers",
    "BT-156": "Artikelnummer des Käufers", "BT-157": "Standardkennung des Artikels",
    "BT-158": "Klassifizierung des Artikels", "BT-158-1": "Schema der Klassifizierung",
    "BT-158-2": "Version des Klassifizierungsschemas", "BT-159": "Ursprungsland des Artikels",
    "BT-160": "Name des Artikelattributs", "BT-161": "Wert des Artikelattributs",
    "BG-4": "Verkäufer", "BG-7": "Käufer", "BG-10": "Zahlungsempfänger",
    "BG-11": "Steuervertreter des Verkäufers", "BG-13": "Lieferung",
    "BG-17": "Überweisung", "BG-18": "Zahlungskarte", "BG-19": "Lastschrift",
}
_ADDRESS = {"line1": "Adresszeile 1", "line2": "Adresszeile 2", "line3": "Adresszeile 3",
            "city": "Ort", "post_code": "Postleitzahl", "subdivision": "Region",
            "country": "Ländercode"}
_ADDRESS_TERMS = {"BG-5": (35, 36, 162, 37, 38, 39, 40), "BG-8": (50, 51, 163, 52, 53, 54, 55),
                  "BG-12": (64, 65, 164, 66, 67, 68, 69), "BG-15": (75, 76, 165, 77, 78, 79, 80)}
_ADDRESS_OF = {"BG-5": "des Verkäufers", "BG-8": "des Käufers", "BG-12": "des Steuervertreters",
               "BG-15": "der Lieferanschrift"}
for _role, _ids in _ADDRESS_TERMS.items():
    for _name, _id in zip(_ADDRESS.values(), _ids, strict=True):
        LABELS[f"BT-{_id}"] = f"{_name} {_ADDRESS_OF[_role]}"

DOCUMENT_TYPES = {"380": "Rechnung", "381": "Gutschrift", "383": "Belastungsanzeige",
                  "384": "Rechnungskorrektur", "386": "Vorauszahlungsrechnung",
                  "389": "Selbst ausgestellte Rechnung (Gutschriftsverfahren)",
                  "326": "Teilrechnung", "875": "Abschlagsrechnung (Bauleistung)",
                  "876": "Teilschlussrechnung (Bauleistung)",
                  "877": "Schlussrechnung (Bauleistung)",
                  "751": "Rechnungsinformation für Buchungszwecke"}
CODES: dict[str, dict[str, str]] = {
    "BT-3": DOCUMENT_TYPES,
    "BT-8": {"3": "Rechnungsdatum", "35": "Lieferdatum", "432": "Zahlungsdatum"},
    "BT-81": {"1": "nicht definiert", "10": "Barzahlung", "20": "Scheck", "30": "Überweisung",
              "42": "Zahlung auf Bankkonto", "48": "Bankkarte", "49": "Lastschrift",
              "57": "Dauerauftrag", "58": "SEPA-Überweisung", "59": "SEPA-Lastschrift",
              "97": "Verrechnung", "ZZZ": "gegenseitig vereinbart"},
    "VAT": {"S": "Normalsatz", "Z": "Nullsatz", "E": "steuerbefreit",
            "AE": "Steuerschuldnerschaft des Leistungsempfängers",
            "K": "innergemeinschaftliche Lieferung", "G": "Ausfuhr außerhalb der EU",
            "O": "nicht steuerbar", "L": "Kanarische Inseln", "M": "Ceuta und Melilla"},
    "UNIT": {"H87": "Stück", "C62": "Stück", "XPP": "Stück", "EA": "Stück", "HUR": "Stunde",
             "DAY": "Tag", "WEE": "Woche", "MON": "Monat", "ANN": "Jahr", "MIN": "Minute",
             "KGM": "kg", "GRM": "g", "TNE": "t", "MTR": "m", "KMT": "km", "MTK": "m²",
             "MTQ": "m³", "LTR": "l", "KWH": "kWh", "SET": "Satz", "LS": "Pauschale",
             "PR": "Paar", "P1": "Prozent"},
    "BT-21": {"AAI": "Allgemeine Informationen", "REG": "Regulatorische Informationen",
              "ABL": "Rechtliche Informationen", "TXD": "Steuerliche Informationen",
              "SUR": "Anmerkungen des Verkäufers", "PMT": "Zahlungsinformationen",
              "PMD": "Zahlungsangaben", "AAK": "Preisbedingungen", "ACY": "Einleitung"},
}
for _t in ("BT-95", "BT-102", "BT-118", "BT-151"):
    CODES[_t] = CODES["VAT"]
for _t in ("BT-130", "BT-150"):
    CODES[_t] = CODES["UNIT"]

_MONEY = {92, 93, 99, 100, *range(106, 119), 131, 136, 137, 141, 142, 146, 147, 148} - {111, 118}
_PERCENT = {94, 96, 101, 103, 119, 138, 143, 152}
_COUNTRY = {"BT-40", "BT-55", "BT-69", "BT-80", "BT-159"}
_NAME_FIRST = _COUNTRY | {"BT-130", "BT-150"}
_GERMAN = Locale.parse(LOCALE)
STATUS_DE = {"received": "eingegangen", "invalid": "ungültig", "pending": "wartet auf Freigabe",
             "approved": "freigegeben", "rejected": "abgelehnt", "exported": "exportiert",
             "duplicate": "Duplikat"}
LEVEL_DE = {"error": "Fehler", "warning": "Warnung", "information": "Hinweis"}

_env = Environment(loader=PackageLoader("einvoice", "templates"),
                   autoescape=select_autoescape(["html"]))


class RenderError(EinvoiceError):
    """The HTML page could not be turned into PDF (or a screenshot)."""


class ChromiumMissing(RenderError):
    """Headless Chromium, needed for PDF output, is not installed."""


# ---------------------------------------------------------------- formatting

def _plain(value: Decimal) -> Decimal:
    """The value without trailing zeros and without exponent notation (20.00 -> 20)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def money(value: Decimal, currency: str | None) -> str:
    """``1.234,56 €``; more decimals only where they carry value (unit price ``0,0125 €``)."""
    if not currency:
        return format_decimal(_plain(value), locale=LOCALE, decimal_quantization=False)
    return format_currency(_plain(value), currency, locale=LOCALE, decimal_quantization=False)


def quantity(value: Decimal) -> str:
    """``1.234,5``: German separators, every significant decimal kept."""
    return format_decimal(_plain(value), locale=LOCALE, decimal_quantization=False)


def day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def size(n: int) -> str:
    """Byte count for people: ``812 Byte``, ``12,3 kB``, ``4,1 MB``."""
    if n < 1000:
        return f"{n}\xa0Byte"
    unit, scaled = ("kB", n / 1000) if n < 1_000_000 else ("MB", n / 1_000_000)
    return f"{format_decimal(round(scaled, 1), locale=LOCALE)}\xa0{unit}"


def code(term: str, value: str) -> str:
    """A code with its German meaning where known: ``380 – Rechnung``, ``Stück (H87)``,
    ``Deutschland (DE)``."""
    if term in _COUNTRY:
        meaning = _GERMAN.territories.get(value)
    elif term in ("BT-5", "BT-6"):
        meaning = get_currency_name(value, locale=LOCALE)
        meaning = None if meaning == value else meaning
    else:
        meaning = CODES.get(term, {}).get(value)
    if meaning and term in _NAME_FIRST:
        return f"{meaning} ({value})"
    return f"{value} – {meaning}" if meaning else value


def iban(value: str) -> str:
    """IBANs in groups of four, as printed on paper; other account ids unchanged."""
    compact = value.replace(" ", "")
    if len(compact) > 14 and compact[:2].isalpha() and compact[2:4].isdigit():
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return value


# ---------------------------------------------------------------- walking the model

@dataclass(frozen=True)
class Entry:
    """One business term as shown: German label, term id, formatted value."""

    term: str
    label: str
    value: str


def _term_of(owner: BaseModel, attr: str, role: str | None) -> str | None:
    """The term id of ``owner.attr`` in ``role`` (allowance or charge by ``is_charge``). A
    per-role field in a role its metadata does not name (a VAT category on a line allowance)
    gets the first role's id with ``*``: shown as "sinngemäß" rather than dropped."""
    extra = type(owner).model_fields[attr].json_schema_extra
    if not isinstance(extra, dict):
        return None
    if "term" in extra:
        return str(extra["term"])
    if isinstance(owner, AllowanceCharge) and role and "/" in role:
        role = role.split("/")[owner.is_charge]
    terms = extra.get("terms")
    if not isinstance(terms, dict) or not terms:
        return None
    return str(terms[role]) if role in terms else f"{next(iter(terms.values()))}*"


def _label(term: str, attr: str) -> str:
    label = LABELS.get(term.rstrip("*"), attr)
    return f"{label} (sinngemäß)" if term.endswith("*") else label


_Leaf = tuple[BaseModel, str, str | None]


def _is_group(value: object) -> bool:
    return isinstance(value, BaseModel) and not isinstance(value, Identifier)


@dataclass
class _View:
    """Formats the terms of one invoice and remembers which were shown, for the fallback."""

    invoice: Invoice
    shown: set[tuple[int, str]] = field(default_factory=set)

    def fmt(self, term: str, value: object) -> str:
        term = term.rstrip("*")
        num = int(term[3:]) if term[3:].isdigit() else 0
        if isinstance(value, Identifier):
            return f"{value.value} (Schema {value.scheme})" if value.scheme else value.value
        if isinstance(value, bytes):
            return f"eingebettete Datei, {size(len(value))}"
        if isinstance(value, date):
            return day(value)
        if isinstance(value, Decimal):
            if num in _MONEY:
                return money(value, self.invoice.currency)
            if num == 111:
                return money(value, self.invoice.vat_currency)
            return f"{quantity(value)} %" if num in _PERCENT else quantity(value)
        if term == "BT-84":
            return iban(str(value))
        return code(term, str(value))

    def take(self, owner: BaseModel | None, attr: str, role: str | None = None) -> list[Entry]:
        """The entries of one term (several for a repeated one), marked as shown."""
        value = None if owner is None else getattr(owner, attr)
        term = None if owner is None else _term_of(owner, attr, role)
        if owner is None or term is None or value is None:
            return []
        self.shown.add((id(owner), attr))
        label = _label(term, attr)
        return [Entry(term, label, self.fmt(term, v)) for v in
                (value if isinstance(value, list) else [value])]

    def cell(self, owner: BaseModel | None, attr: str, role: str | None = None, *,
             raw: bool = False) -> str:
        """One term's value for a table cell ("" when empty; ``raw``: the bare code), marked
        as shown."""
        entries = self.take(owner, attr, role)
        if raw and entries:
            return str(getattr(owner, attr))
        return ", ".join(e.value for e in entries)

    def leaves(self, owner: BaseModel, role: str | None) -> Iterator[_Leaf]:
        """Every non-empty term below ``owner`` in model order: (holder, attribute, role)."""
        for attr in type(owner).model_fields:
            value = getattr(owner, attr)
            term = _term_of(owner, attr, role)
            if term is None or value is None or value == []:
                continue
            child = term if term.startswith("BG-") else role
            if isinstance(value, list) and _is_group(value[0]):
                for item in value:
                    yield from self.leaves(item, child)
            elif _is_group(value):
                yield from self.leaves(value, child)
            else:
                yield owner, attr, role

    def all(self, owner: BaseModel | None, role: str | None = None) -> list[Entry]:
        """Entries for every term below ``owner`` not shown elsewhere yet."""
        if owner is None:
            return []
        return [entry for holder, attr, r in list(self.leaves(owner, role))
                if (id(holder), attr) not in self.shown
                for entry in self.take(holder, attr, r)]

    def joined(self, label: str, owner: BaseModel | None, role: str | None,
               layout: Sequence[Sequence[str]]) -> list[Entry]:
        """Several terms as one entry, one output line per attribute group: an address reads
        like the address on an envelope, with all its term ids in the label."""
        terms, lines = [], []
        for attrs in layout:
            parts = [e for a in attrs for e in self.take(owner, a, role)]
            terms += [e.term for e in parts]
            if parts:
                lines.append(" ".join(e.value for e in parts))
        return [Entry(", ".join(terms), label, "\n".join(lines))] if lines else []

    def phrase(self, label: str, owner: BaseModel, role: str | None,
               parts: Sequence[tuple[str, str]]) -> list[Entry]:
        """Several terms as one line, each present value after its prefix:
        ``[("code", ""), ("scheme", ", Schema ")]`` gives ``0721-880X, Schema IB``."""
        taken = [(prefix, e) for attr, prefix in parts for e in self.take(owner, attr, role)]
        if not taken:
            return []
        text = "".join(prefix + e.value for prefix, e in taken).removeprefix(taken[0][0])
        return [Entry(", ".join(e.term for _, e in taken), label, text)]


ADDRESS_LAYOUT = (("line1",), ("line2",), ("line3",), ("post_code", "city"), ("subdivision",),
                  ("country",))
CONTACT_LAYOUT = (("name",), ("phone",), ("email",))


# ---------------------------------------------------------------- page sections

def _vat(rate: str, category: str) -> str:
    """``19 % (S)``: rate with the VAT category code."""
    return f"{rate} ({category})".strip() if category else rate


def _line(v: _View, line: Line) -> dict[str, Any]:
    item = line.item
    row: dict[str, Any] = {"id": v.cell(line, "id"), "name": v.cell(item, "name"),
           "description": v.cell(item, "description"), "quantity": v.cell(line, "quantity"),
           "unit": v.cell(line, "unit_code"), "price": v.cell(line.price, "net"),
           "per": " ".join(p for p in (v.cell(line.price, "base_quantity"),
                                      v.cell(line.price, "base_quantity_unit")) if p),
           "vat": _vat(v.cell(line, "vat_rate"), v.cell(line, "vat_category", raw=True)),
           "net": v.cell(line, "net_amount")}
    details = [e for ac in line.allowances_charges for e in _line_charge(v, ac)]
    for c in item.classifications:
        details += v.phrase("Klassifizierung des Artikels", c, None,
                            [("code", ""), ("scheme", ", Schema "), ("version", ", Version ")])
    for a in item.attributes:
        details += v.phrase("Artikelattribut", a, None, [("name", ""), ("value", ": ")])
    row["details"] = details + v.all(line, "BG-25")
    return row


def _line_charge(v: _View, ac: AllowanceCharge) -> list[Entry]:
    """A line allowance or charge in one phrase: ``10,00 € (10 % von 100,00 €) – 95: Rabatt``."""
    taken = {a: v.take(ac, a, "BG-27/BG-28")
             for a in ("amount", "percent", "base_amount", "reason_code", "reason")}
    val = {a: ", ".join(e.value for e in entries) for a, entries in taken.items()}
    terms = [e.term for entries in taken.values() for e in entries]
    basis = " von ".join(p for p in (val["percent"], val["base_amount"]) if p)
    reason = ": ".join(p for p in (val["reason_code"], val["reason"]) if p)
    text = " – ".join(p for p in (val["amount"] + (f" ({basis})" if basis else ""), reason) if p)
    label = "Zuschlag zur Position" if ac.is_charge else "Nachlass zur Position"
    return [Entry(", ".join(terms), label, text.strip())] if terms else []


def _charge(v: _View, ac: AllowanceCharge, role: str) -> dict[str, Any]:
    reason = " – ".join(p for p in (v.cell(ac, "reason_code", role), v.cell(ac, "reason", role))
                        if p)
    vat = _vat(v.cell(ac, "vat_rate", role), v.cell(ac, "vat_category", role, raw=True))
    return {"kind": "Zuschlag" if ac.is_charge else "Nachlass", "reason": reason,
            "base": v.cell(ac, "base_amount", role), "percent": v.cell(ac, "percent", role),
            "vat": vat, "amount": v.cell(ac, "amount", role)}


def _skonto(inv: Invoice) -> list[str]:
    """Skonto terms in words, with the last day to pay when the invoice date is known."""
    texts = []
    for s in inv.skonto:
        text = f"{quantity(s.percent)} % Skonto bei Zahlung innerhalb von {s.days} Tagen"
        if inv.issue_date:
            text += f" ab Rechnungsdatum, also bis {day(inv.issue_date + timedelta(days=s.days))}"
        if s.base_amount is not None:
            text += f"; Basisbetrag {money(s.base_amount, inv.currency)}"
        texts.append(text)
    return texts


def _party(v: _View, party: BaseModel | None, role: str) -> list[Entry]:
    """A party block: names first, then postal address and contact as on a letter, then the
    rest (identifiers, tax numbers) term by term."""
    if party is None:
        return []
    names = [e for a in ("name", "trading_name", "party_name") if a in type(party).model_fields
             for e in v.take(party, a)]
    address = getattr(party, "address", None)
    contact = getattr(party, "contact", None)
    sub = {"BG-4": ("BG-5", "BG-6"), "BG-7": ("BG-8", "BG-9"), "BG-11": ("BG-12", None),
           "BG-13": ("BG-15", None)}[role]
    return (names + v.joined("Anschrift", address, sub[0], ADDRESS_LAYOUT)
            + v.joined("Kontakt", contact, sub[1], CONTACT_LAYOUT) + v.all(party, role))


def _page(inv: Invoice) -> dict[str, Any]:
    """Everything the template shows, formatted; ``rest`` collects what no section placed."""
    v = _View(inv)
    take = v.take
    header = [e for a in ("number", "issue_date", "type_code", "due_date", "buyer_reference",
                          "currency", "vat_currency", "tax_point_date", "tax_point_date_code")
              for e in take(inv, a)]
    header += v.all(inv.invoicing_period, "BG-14")
    header += take(inv, "business_process") + take(inv, "specification_id")
    references = [e for a in ("purchase_order_reference", "sales_order_reference",
                              "contract_reference", "project_reference", "tender_reference",
                              "receiving_advice_reference", "despatch_advice_reference",
                              "invoiced_object_id", "buyer_accounting_reference")
                  for e in take(inv, a)]
    for preceding in inv.preceding_invoices:
        references += v.phrase("Vorausgegangene Rechnung", preceding, "BG-3",
                               [("number", ""), ("issue_date", " vom ")])
    notes = [{"subject": take(note, "subject_code"), "text": take(note, "text")}
             for note in inv.notes]
    lines = [_line(v, line) for line in inv.lines]
    charges = [_charge(v, ac, "BG-20/BG-21") for ac in inv.allowances_charges]
    vat = [{"category": v.cell(b, "category"), "rate": v.cell(b, "rate"),
            "taxable": v.cell(b, "taxable_amount"), "tax": v.cell(b, "tax_amount"),
            "exemption": " – ".join(p for p in (v.cell(b, "exemption_reason_code"),
                                                v.cell(b, "exemption_reason")) if p)}
           for b in inv.vat_breakdown]
    attachments = [{"reference": v.cell(d, "reference"), "description": v.cell(d, "description"),
                    "uri": v.cell(d, "external_uri"),
                    "filename": v.cell(d.attachment, "filename"),
                    "mime": v.cell(d.attachment, "mime_code"),
                    "size": size(len(d.attachment.content))
                    if d.attachment and take(d.attachment, "content") else ""}
                   for d in inv.supporting_documents]
    return {
        "title": f"{DOCUMENT_TYPES.get(inv.type_code or '', 'Rechnung')} {inv.number or ''}",
        "seller": _party(v, inv.seller, "BG-4"), "buyer": _party(v, inv.buyer, "BG-7"),
        "header": header, "references": references, "notes": notes, "lines": lines,
        "charges": charges, "totals": v.all(inv.totals, "BG-22"), "vat": vat,
        "payment_terms": take(inv, "payment_terms"), "skonto": _skonto(inv),
        "payment": [e for a in ("means_code", "means_text", "remittance_information")
                    for e in take(inv.payment, a)],
        "accounts": [{"name": v.cell(t, "account_name"), "iban": v.cell(t, "account_id"),
                      "bic": v.cell(t, "service_provider_id")}
                     for t in (inv.payment.credit_transfers if inv.payment else [])],
        "payment_other": v.all(inv.payment, "BG-16"), "payee": v.all(inv.payee, "BG-10"),
        "tax_representative": _party(v, inv.tax_representative, "BG-11"),
        "delivery": _party(v, inv.delivery, "BG-13"), "attachments": attachments,
        "rest": v.all(inv),
    }


def render_invoice_html(model: Invoice, *, status: str | None = None,
                        verdict: str | None = None,
                        findings: Sequence[tuple[str, str, str]] = (),
                        source: str | None = None) -> str:
    """The invoice as a self-contained German HTML page, with optional case data: the source
    file name, workflow status, validation verdict and findings as (level, rule id, message)."""
    case = {"source": source,
            "status": f"{STATUS_DE.get(status, status)} ({status})" if status else None,
            "verdict": f"{VERDICT_DE.get(verdict, verdict)} ({verdict})" if verdict else None,
            "findings": [{"level": level, "level_de": LEVEL_DE.get(level, level), "rule": rule,
                          "message": message} for level, rule, message in findings]}
    return _env.get_template("invoice.html").render(p=_page(model), case=case)


# ---------------------------------------------------------------- PDF via headless Chromium

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def run_chromium(html_file: Path, *output_flags: str, timeout: float = 60.0) -> None:
    """Open a local HTML file in headless Chromium with a fresh profile, e.g. with
    ``--print-to-pdf=out.pdf`` or ``--screenshot=out.png``; killed after ``timeout`` seconds."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise ChromiumMissing("PDF output needs headless Chromium; install it with "
                              "`apt-get install -y chromium`")
    with tempfile.TemporaryDirectory(prefix="einvoice-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *output_flags,
               html_file.resolve().as_uri()]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RenderError(f"Chromium did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise RenderError(f"Chromium failed (exit {proc.returncode}): {' '.join(tail)}")


def html_to_pdf(html_file: Path, pdf_file: Path, *, timeout: float = 60.0) -> None:
    """Print an HTML page to PDF (A4, as the page's print CSS lays it out)."""
    pdf_file.unlink(missing_ok=True)
    run_chromium(html_file, f"--print-to-pdf={pdf_file.resolve()}", "--no-pdf-header-footer",
                 timeout=timeout)
    if not pdf_file.is_file() or pdf_file.stat().st_size == 0:
        raise RenderError(f"Chromium wrote no PDF to {pdf_file}")
