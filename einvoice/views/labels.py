"""The words for what people see, in one place: EN 16931 business terms and codes (German),
finding levels, and invoice statuses (German and English, for staff and for suppliers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from babel import Locale
from babel.numbers import get_currency_name

from einvoice.formats.detect import Kind
from einvoice.lifecycle import Status
from einvoice.views.formatting import GERMAN

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
ADDRESS_PARTS = {"line1": "Adresszeile 1", "line2": "Adresszeile 2", "line3": "Adresszeile 3",
            "city": "Ort", "post_code": "Postleitzahl", "subdivision": "Region",
            "country": "Ländercode"}
ADDRESS_TERMS = {"BG-5": (35, 36, 162, 37, 38, 39, 40), "BG-8": (50, 51, 163, 52, 53, 54, 55),
                  "BG-12": (64, 65, 164, 66, 67, 68, 69), "BG-15": (75, 76, 165, 77, 78, 79, 80)}
ADDRESS_OF = {"BG-5": "des Verkäufers", "BG-8": "des Käufers", "BG-12": "des Steuervertreters",
               "BG-15": "der Lieferanschrift"}
for _role, _ids in ADDRESS_TERMS.items():
    for _name, _id in zip(ADDRESS_PARTS.values(), _ids, strict=True):
        LABELS[f"BT-{_id}"] = f"{_name} {ADDRESS_OF[_role]}"

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
LEVEL_DE = {"error": "Fehler", "warning": "Warnung", "information": "Hinweis"}
KIND_DE: dict[str, str] = {  # keyed by formats.detect.Kind
    Kind.UBL_INVOICE: "UBL-Rechnung", Kind.UBL_CREDITNOTE: "UBL-Gutschrift",
    Kind.CII: "CII-Rechnung (UN/CEFACT)", Kind.ZUGFERD1: "ZUGFeRD 1.0",
    Kind.FACTURX_PDF: "PDF mit Rechnungs-XML (ZUGFeRD / Factur-X)",
    Kind.PDF_WITHOUT_XML: "PDF ohne Rechnungs-XML", Kind.ZIP: "ZIP-Archiv",
    Kind.NOT_AN_INVOICE: "keine erkennbare Rechnung"}
CHANNEL_DE = {"mail": "E-Mail", "upload": "Upload-Portal", "folder": "Ablageordner",
              "cli": "Kommandozeile (einvoice ingest)"}  # further drop folders: their own name

_COUNTRY = {"BT-40", "BT-55", "BT-69", "BT-80", "BT-159"}
_NAME_FIRST = _COUNTRY | {"BT-130", "BT-150"}
_GERMAN = Locale.parse(GERMAN)


def code(term: str, value: str) -> str:
    """A code with its German meaning where known: ``380 – Rechnung``, ``Stück (H87)``,
    ``Deutschland (DE)``."""
    if term in _COUNTRY:
        meaning = _GERMAN.territories.get(value)
    elif term in ("BT-5", "BT-6"):
        meaning = get_currency_name(value, locale=GERMAN)
        meaning = None if meaning == value else meaning
    else:
        meaning = CODES.get(term, {}).get(value)
    if meaning and term in _NAME_FIRST:
        return f"{meaning} ({value})"
    return f"{value} – {meaning}" if meaning else value


@dataclass(frozen=True)
class StatusWords:
    """A status in words: the short label staff read, and what a supplier is told (receipt
    mail, upload page), which keeps internal steps such as a hold to itself."""

    de: str
    en: str
    supplier_de: str
    supplier_en: str

    @property
    def both(self) -> str:
        """German and English: ``wartet auf Freigabe / awaiting approval``."""
        return self.de if self.de == self.en else f"{self.de} / {self.en}"


def status_label(status: str) -> str:
    """A status for staff, in German and English and, where that differs, as stored (what
    ``--status`` takes): ``zurückgestellt / on hold (on_hold)``, ``abgelehnt / rejected``."""
    words = status_words(status)
    return words.both if words.en == status else f"{words.both} ({status})"


_CHECKED_DE = "gültig, in Prüfung durch die Rechnungsstelle"
_CHECKED_EN = "valid, being reviewed by our accounts department"
STATUS: Mapping[str, StatusWords] = {  # by stored value (a Status compares equal to it)
    Status.RECEIVED: StatusWords("eingegangen", "received", "eingegangen, wird geprüft",
                                 "received, being checked"),
    Status.PENDING: StatusWords("wartet auf Freigabe", "awaiting approval", _CHECKED_DE,
                                _CHECKED_EN),
    Status.ON_HOLD: StatusWords("zurückgestellt", "on hold", _CHECKED_DE, _CHECKED_EN),
    Status.INVALID: StatusWords("ungültig", "invalid", "fehlerhaft, wird nicht bearbeitet",
                                "invalid, will not be processed"),
    Status.APPROVED: StatusWords("freigegeben", "approved", "freigegeben", "approved"),
    Status.REJECTED: StatusWords("abgelehnt", "rejected", "abgelehnt", "rejected"),
    Status.EXPORTED: StatusWords("exportiert", "exported", "zur Zahlung übergeben",
                                 "passed on for payment"),
    Status.PAID: StatusWords("bezahlt", "paid", "bezahlt", "paid"),
    Status.DUPLICATE: StatusWords(
        "Duplikat", "duplicate",
        "bereits früher eingegangen (Duplikat), wird nicht erneut bearbeitet",
        "received before (duplicate), will not be processed again"),
    Status.QUARANTINED: StatusWords("nicht lesbar", "unreadable",
                                    "keine lesbare elektronische Rechnung",
                                    "not a readable electronic invoice"),
    Status.CLOSED: StatusWords("erledigt", "closed", "abgeschlossen, wird nicht bearbeitet",
                               "closed, will not be processed"),
}


def status_words(status: str) -> StatusWords:
    """The words for a stored status value; a value this version does not know stands for
    itself rather than failing a page or a notice."""
    words = STATUS.get(status)
    return words if words is not None else StatusWords(status, status, status, status)


# what a supplier is told happens next, on the receipt (German, English); by stored status
_FIX_AND_RESEND = ("Bitte korrigieren Sie die Rechnung und senden Sie sie als neue Rechnung "
                   "erneut.", "Please correct the invoice and send it again as a new invoice.")
NEXT_STEP: Mapping[str, tuple[str, str]] = {
    Status.RECEIVED: (
        "Die Rechnung wird automatisch erneut geprüft, sobald die Prüfung wieder möglich ist. "
        "Sie müssen nichts tun.",
        "The invoice will be checked again automatically as soon as the check is possible "
        "again. You need not do anything."),
    Status.PENDING: (
        "Die Rechnung ist gültig. Die zuständige Stelle prüft sie jetzt sachlich und "
        "rechnerisch; nach der Freigabe wird sie zur Zahlung angewiesen. Sie müssen nichts "
        "tun.",
        "The invoice is valid. The responsible office is now reviewing it; once approved it "
        "is passed on for payment. You need not do anything."),
    Status.INVALID: (
        "Die Rechnung verstößt gegen die unten genannten Regeln und wird nicht bearbeitet. "
        + _FIX_AND_RESEND[0],
        "The invoice breaks the rules listed below and will not be processed. "
        + _FIX_AND_RESEND[1]),
    Status.DUPLICATE: (
        "Diese Rechnung ist bereits früher eingegangen; die Kopie wird nicht erneut bearbeitet. "
        "Sie müssen nichts tun.",
        "This invoice was received before; the copy will not be processed again. You need "
        "not do anything."),
    Status.QUARANTINED: (
        "Die Datei wird nicht bearbeitet. Bitte senden Sie die Rechnung als elektronische "
        "Rechnung erneut.",
        "The file will not be processed. Please send the invoice again as an electronic "
        "invoice."),
}
NEXT_STEP_OTHER = ("Wir informieren Sie über den weiteren Verlauf.",
                   "We will keep you informed.")


def next_step_words(status: str) -> tuple[str, str]:
    """What happens next, in plain German and English, for a supplier (an internal hold reads
    like pending)."""
    return NEXT_STEP.get(Status.PENDING if status == Status.ON_HOLD else status,
                         NEXT_STEP_OTHER)


ACTION_DE: Mapping[str, str] = {  # audit trail actions, as staff read them
    "ingest": "Eingang geprüft", "revalidate": "erneut geprüft", "approve": "Freigabe",
    "reject": "abgelehnt", "hold": "zurückgestellt", "release": "wieder aufgenommen",
    "reassign": "weitergeleitet", "assign": "kontiert", "close": "erledigt",
    "export": "an die Buchhaltung übergeben", "pay": "bezahlt"}
STEP_DE: Mapping[str, str] = {"approve": "Freigabe", "sachlich": "sachlich richtig",
                              "rechnerisch": "rechnerisch richtig", "anordnung": "Anordnung"}
