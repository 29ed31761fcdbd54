"""Why a document will not be processed, and what the supplier should do instead, in plain
German and English: said on the receipt of an upload and of a mail for every document that
could not be read as an electronic invoice (status ``quarantined``), above all the plain PDF
that carries no invoice XML, which a supplier otherwise takes for a delivered invoice."""

from __future__ import annotations

from dataclasses import dataclass

from einvoice.formats.detect import Kind
from einvoice.lifecycle import Status

NO_XML = "PDF without embedded invoice XML"  # formats.reader's error for a plain PDF
_SEND_DE = ("Bitte senden Sie die Rechnung erneut als elektronische Rechnung: als XRechnung "
            "(XML-Datei) oder als ZUGFeRD- bzw. Factur-X-PDF mit eingebetteter Rechnungs-XML "
            "(Profil EN 16931 oder höher). Die meisten Buchhaltungsprogramme erzeugen diese "
            "Formate.")
_SEND_EN = ("Please send the invoice again as an electronic invoice: as XRechnung (an XML "
            "file) or as a ZUGFeRD / Factur-X PDF with the invoice XML embedded (profile "
            "EN 16931 or higher). Most accounting software produces these formats.")


@dataclass(frozen=True)
class Unprocessable:
    """Why a document is not processed and what to do, each text complete in its language."""

    de: str
    en: str


def unprocessable(status: str, kind: str, error: str | None) -> Unprocessable | None:
    """The explanation for a document that could not be read; None for every other one."""
    if status != Status.QUARANTINED:
        return None
    detail = f" ({error})" if error else ""
    if kind == Kind.PDF_WITHOUT_XML and (error is None or error.startswith(NO_XML)):
        return Unprocessable(
            "Diese Datei ist ein PDF ohne eingebettete Rechnungsdaten (XML). Ein PDF allein "
            "ist keine elektronische Rechnung: Es kann nicht bearbeitet werden und wird so "
            f"nicht bezahlt. {_SEND_DE}",
            "This file is a PDF without embedded invoice data (XML). A PDF alone is not an "
            "electronic invoice: it cannot be processed and will not be paid as it is. "
            f"{_SEND_EN}")
    if kind == Kind.PDF_WITHOUT_XML:
        return Unprocessable(
            f"Die PDF-Datei konnte nicht geöffnet werden{detail}. Sie kann nicht bearbeitet "
            f"werden. {_SEND_DE}",
            f"The PDF file could not be opened{detail}. It cannot be processed. {_SEND_EN}")
    if kind == Kind.ZIP:
        return Unprocessable(
            f"Das ZIP-Archiv konnte nicht gelesen werden{detail}. Es kann nicht bearbeitet "
            f"werden. Bitte senden Sie die Rechnungen einzeln. {_SEND_DE}",
            f"The ZIP archive could not be read{detail}. It cannot be processed. Please send "
            f"the invoices one by one. {_SEND_EN}")
    if kind == Kind.NOT_AN_INVOICE:
        return Unprocessable(
            "Diese Datei ist keine elektronische Rechnung und kann nicht bearbeitet werden"
            f"{detail}. {_SEND_DE}",
            f"This file is not an electronic invoice and cannot be processed{detail}. "
            f"{_SEND_EN}")
    return Unprocessable(  # an invoice XML (alone or in a PDF) that could not be read
        f"Die Rechnungsdaten (XML) konnten nicht gelesen werden{detail}. Die Rechnung kann "
        "nicht bearbeitet werden und wird so nicht bezahlt. Bitte prüfen Sie die Datei mit "
        "Ihrem Rechnungsprogramm und senden Sie die Rechnung berichtigt erneut.",
        f"The invoice data (XML) could not be read{detail}. The invoice cannot be processed "
        "and will not be paid as it is. Please check the file with your invoicing software "
        "and send the corrected invoice again.")
