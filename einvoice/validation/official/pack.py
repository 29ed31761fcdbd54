"""The official Schematron of a release as a rule pack: the reference the native rules answer to.

A native rule whose official assertion changed in a newer release (its fingerprint no longer
matches, see ``assertions``) runs here instead, from the official source itself.
"""

from __future__ import annotations

from pathlib import Path

from einvoice.validation.document import Doc
from einvoice.validation.findings import Finding
from einvoice.validation.official.compiler import compile_schematron
from einvoice.validation.schematron import XsltPack

# the sources shipped with the product (never read from the test corpus at run time)
OFFICIAL = (Path(__file__).resolve().parents[3] / "schemas" / "releases" / "xrechnung-2.5"
            / "official")
UBL_SCH = OFFICIAL / "ubl" / "XRechnung-UBL-validation.sch"
CII_SCH = OFFICIAL / "cii" / "XRechnung-CII-validation.sch"


class OfficialPack:
    """A Schematron source compiled once (``compiler``) and run like every XSLT pack.

    With ``only``, just the assertions with these ids are compiled in, and only their findings
    are returned; their rules still take part in the first-match choice of their pattern, so an
    assertion fires on exactly the nodes it fires on in the full schema.

    Dynamic errors: an assertion whose XPath raises on a document (a type error, or a cast such
    as ``xs:decimal('12,50')`` in BR-DEX-09) makes Saxon abandon the whole transform, as with
    the official compiled XSLT: ``validate`` raises (``saxonche.PySaxonApiError``) and returns no
    findings of any assertion of the pack for that document. The engine contains it per pack
    (verdict ``undefined``, never ``accept``).
    """

    def __init__(self, name: str, sch: Path, only: frozenset[str] | None = None) -> None:
        self.name = name
        self.sch = sch
        self.only = only
        self._pack = XsltPack(name, compile_schematron(sch, only=only))

    def validate(self, doc: Doc) -> list[Finding]:
        findings = self._pack.validate(doc)
        if self.only is None:
            return findings
        return [finding for finding in findings if finding.rule_id in self.only]


def ubl(only: frozenset[str] | None = None) -> OfficialPack:
    """The official XRechnung rules for UBL Invoice and CreditNote (without Peppol BIS)."""
    return OfficialPack("xrechnung-ubl-official", UBL_SCH, only)


def cii(only: frozenset[str] | None = None) -> OfficialPack:
    """The official XRechnung rules for CII (without Peppol BIS)."""
    return OfficialPack("xrechnung-cii-official", CII_SCH, only)
